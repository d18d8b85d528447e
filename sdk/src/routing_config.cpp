// routing_from_config: the "providers", "models" and "routing" sections of
// PERDIEM_HOME/config.json (perdiem/routing.hpp).
#include <nlohmann/json.hpp>

#include "perdiem/routing.hpp"
#include "sdk/src/home_config.hpp"

namespace perdiem {
namespace {

using Json = nlohmann::json;

constexpr int kMaxRetries = 10;

// Reads one config file's routing sections; every error names the file and the field.
class RoutingReader {
 public:
  explicit RoutingReader(std::string path) : path_(std::move(path)) {}

  Result<RoutingOptions> read(const Json& doc) {
    RoutingOptions options;
    if (auto section = doc.find("providers"); section != doc.end()) {
      if (!section->is_object()) return error("providers", "must map names to provider objects");
      for (const auto& [name, entry] : section->items()) {
        Result<ProviderEndpoint> endpoint = read_endpoint(name, entry);
        if (!endpoint) return endpoint.error();
        options.providers.push_back(std::move(*endpoint));
      }
    }
    if (auto section = doc.find("models"); section != doc.end()) {
      if (!section->is_object()) return error("models", "must map model names to target lists");
      for (const auto& [name, targets] : section->items()) {
        Result<ModelRoute> route = read_route(name, targets);
        if (!route) return route.error();
        options.models.push_back(std::move(*route));
      }
    }
    if (auto section = doc.find("routing"); section != doc.end()) {
      if (Status read = read_settings(*section, options); !read.ok()) return read.error();
    }
    return options;
  }

 private:
  Error error(const std::string& field, const std::string& what) const {
    return make_error(ErrorKind::config, path_ + ": " + field + " " + what +
                                             " (see docs/providers.md)");
  }

  Result<std::string> string_field(const Json& entry, const std::string& where,
                                   const char* key) const {
    auto it = entry.find(key);
    if (it == entry.end()) return std::string();
    if (!it->is_string()) return error(where + "." + key, "must be a string");
    return it->get<std::string>();
  }

  Result<ProviderEndpoint> read_endpoint(const std::string& name, const Json& entry) const {
    const std::string where = "providers." + name;
    if (name.empty()) return error("providers", "has a provider with an empty name");
    if (!entry.is_object()) return error(where, "must be an object");
    ProviderEndpoint endpoint;
    endpoint.name = name;
    Result<std::string> base_url = string_field(entry, where, "base_url");
    Result<std::string> api = string_field(entry, where, "api");
    Result<std::string> key_env = string_field(entry, where, "key_env");
    for (const auto* field : {&base_url, &api, &key_env}) {
      if (!*field) return field->error();
    }
    endpoint.base_url = std::move(*base_url);
    endpoint.api = std::move(*api);
    endpoint.key_env = std::move(*key_env);
    if (!endpoint.api.empty() && endpoint.api != "openai" && endpoint.api != "anthropic") {
      return error(where + ".api", "must be \"openai\" or \"anthropic\"");
    }
    if (auto privacy = entry.find("privacy"); privacy != entry.end()) {
      if (!privacy->is_array()) return error(where + ".privacy", "must be a list of tags");
      for (const auto& tag : *privacy) {
        if (!tag.is_string() || (tag != "no-log" && tag != "tee" && tag != "local")) {
          return error(where + ".privacy", "takes only \"local\", \"no-log\" and \"tee\"");
        }
        endpoint.privacy.push_back(tag.get<std::string>());
      }
    }
    if (auto tools = entry.find("tools"); tools != entry.end()) {
      if (!tools->is_boolean()) return error(where + ".tools", "must be true or false");
      endpoint.tools = tools->get<bool>();
    }
    return endpoint;
  }

  Result<ModelRoute> read_route(const std::string& name, const Json& targets) const {
    const std::string where = "models." + name;
    if (name.empty()) return error("models", "has a model with an empty name");
    if (!targets.is_array() || targets.empty()) {
      return error(where, "must be a non-empty list of {\"provider\": ..., \"model\": ...}");
    }
    ModelRoute route;
    route.name = name;
    for (const auto& target : targets) {
      if (!target.is_object()) return error(where, "has an entry that is not an object");
      Result<std::string> provider = string_field(target, where, "provider");
      Result<std::string> model = string_field(target, where, "model");
      if (!provider) return provider.error();
      if (!model) return model.error();
      if (provider->empty() || model->empty()) {
        return error(where, "has an entry without a provider or a model");
      }
      route.targets.push_back({std::move(*provider), std::move(*model)});
    }
    return route;
  }

  Status read_settings(const Json& section, RoutingOptions& options) const {
    if (!section.is_object()) return error("routing", "must be an object");
    if (auto prefer = section.find("prefer"); prefer != section.end()) {
      if (!prefer->is_string() ||
          (*prefer != "price" && *prefer != "latency" && *prefer != "reliability")) {
        return error("routing.prefer", "must be \"price\", \"latency\" or \"reliability\"");
      }
      options.prefer = prefer->get<std::string>();
    }
    if (auto fallback = section.find("local_fallback"); fallback != section.end()) {
      if (!fallback->is_boolean()) return error("routing.local_fallback", "must be true or false");
      options.local_fallback = fallback->get<bool>();
    }
    if (auto retries = section.find("retries"); retries != section.end()) {
      if (!retries->is_number_integer() || *retries < 0 || *retries > kMaxRetries) {
        return error("routing.retries", "must be a whole number from 0 to 10");
      }
      options.retries = retries->get<int>();
    }
    return Status::success();
  }

  std::string path_;
};

}  // namespace

Result<RoutingOptions> routing_from_config(const std::string& home) {
  const std::string path = home + "/config.json";
  Result<std::string> text = sdk::read_small_file(path, sdk::kMaxConfigBytes, "config.json");
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) return RoutingOptions{};
    return text.error();
  }
  Json doc = Json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorKind::config, path + " is not a JSON object");
  }
  return RoutingReader(path).read(doc);
}

}  // namespace perdiem
