#include "sdk/src/provider_pool.hpp"

#include <algorithm>
#include <set>

#include "runtime/http/url.hpp"
#include "runtime/providers/presets.hpp"

namespace perdiem::sdk {
namespace {

Error config_error(const std::string& message) {
  return make_error(ErrorKind::config, message + " (see docs/providers.md)", "config.json");
}

void apply_privacy(const std::vector<std::string>& claims, router::Tags& tags) {
  for (const std::string& claim : claims) {
    if (claim == "no-log") tags.no_log = true;
    if (claim == "tee") tags.tee = true;
  }
}

// Builds a member for a preset or an endpoint. The key comes from the endpoint's variable,
// else the preset's; a hosted provider without one is kept, unavailable, so routes that
// list it still work on machines that lack its key.
Result<std::unique_ptr<PoolMember>> build_member(const ProviderEndpoint& endpoint,
                                                 const providers::GetEnv& env,
                                                 const std::shared_ptr<http::Transport>& transport,
                                                 std::vector<std::string_view>& secrets) {
  const providers::Preset* preset = providers::find_preset(endpoint.name);
  auto member = std::make_unique<PoolMember>();
  member->name = endpoint.name;
  member->tools = endpoint.tools;
  member->base_url = !endpoint.base_url.empty() ? endpoint.base_url
                     : preset != nullptr        ? std::string(preset->base_url)
                                                : std::string();
  if (member->base_url.empty()) {
    return config_error("provider \"" + endpoint.name +
                        "\" is not a preset, so it needs a \"base_url\"");
  }
  if (!member->base_url.starts_with("http://") && !member->base_url.starts_with("https://")) {
    return config_error("provider \"" + endpoint.name + "\": base_url must start with http(s)://");
  }
  while (member->base_url.ends_with('/')) member->base_url.pop_back();
  const providers::ApiStyle api =
      endpoint.api == "anthropic" ? providers::ApiStyle::anthropic
      : endpoint.api == "openai"  ? providers::ApiStyle::openai
      : preset != nullptr         ? preset->api
                                  : providers::ApiStyle::openai;
  member->api = api == providers::ApiStyle::anthropic ? "anthropic" : "openai";
  // Local only while it points at this machine: a claim of "local" for a remote URL is
  // not believed (it would make a paid provider look free and private).
  member->tags.local = http::is_loopback_url(member->base_url);
  apply_privacy(endpoint.privacy, member->tags);

  providers::ProviderChoice choice;
  choice.name = endpoint.name;
  choice.reason = "config";
  choice.api = api;
  choice.base_url = member->base_url;
  choice.model = preset != nullptr ? std::string(preset->default_model) : std::string();
  member->default_model = choice.model;
  choice.key_env = !endpoint.key_env.empty() ? endpoint.key_env
                   : preset != nullptr       ? std::string(preset->key_env)
                                             : std::string();
  if (!choice.key_env.empty()) {
    std::optional<std::string> key = env ? env(choice.key_env) : std::nullopt;
    if (key && !key->empty()) {
      choice.api_key = base::SecureBuffer::from_string(*key);
      std::fill(key->begin(), key->end(), '\0');
    }
  }
  const bool needs_key = !member->tags.local && !choice.key_env.empty();
  if (needs_key && choice.api_key.empty()) {
    member->unavailable = choice.key_env + " is not set";
    return member;
  }
  if (!choice.api_key.empty()) secrets.push_back(choice.api_key.view());
  member->provider = providers::make_provider(std::move(choice), transport);
  return member;
}

}  // namespace

Result<ProviderPool> ProviderPool::create(PoolMember primary, const RoutingOptions& routing,
                                          const providers::GetEnv& env,
                                          std::shared_ptr<http::Transport> transport) {
  ProviderPool pool;
  pool.members_.push_back(std::make_unique<PoolMember>(std::move(primary)));
  std::set<std::string, std::less<>> listed;
  for (const ProviderEndpoint& endpoint : routing.providers) {
    if (endpoint.name == pool.primary().name) {
      // The primary is configured by ProviderSettings; the config may add claims.
      apply_privacy(endpoint.privacy, pool.members_.front()->tags);
      pool.members_.front()->tools = endpoint.tools;
      continue;
    }
    if (!listed.insert(endpoint.name).second) {
      return config_error("provider \"" + endpoint.name + "\" is listed twice");
    }
    Result<std::unique_ptr<PoolMember>> member =
        build_member(endpoint, env, transport, pool.secrets_);
    if (!member) return member.error();
    pool.members_.push_back(std::move(*member));
  }
  for (const ModelRoute& route : routing.models) {
    if (pool.routes_.count(route.name) != 0) {
      return config_error("model \"" + route.name + "\" is routed twice");
    }
    for (const RouteTarget& target : route.targets) {
      if (pool.find(target.provider) != nullptr) continue;
      if (providers::find_preset(target.provider) == nullptr) {
        return config_error("model \"" + route.name + "\" names provider \"" + target.provider +
                            "\", which is neither a preset nor listed under \"providers\"");
      }
      ProviderEndpoint preset;
      preset.name = target.provider;
      Result<std::unique_ptr<PoolMember>> member =
          build_member(preset, env, transport, pool.secrets_);
      if (!member) return member.error();
      pool.members_.push_back(std::move(*member));
    }
    pool.routes_[route.name] = route.targets;
  }
  return pool;
}

const PoolMember* ProviderPool::find(std::string_view name) const {
  for (const auto& member : members_) {
    if (member->name == name) return member.get();
  }
  return nullptr;
}

std::vector<PoolTarget> ProviderPool::targets_for(const std::string& model) const {
  auto route = routes_.find(model);
  if (route == routes_.end()) return {PoolTarget{&primary(), model}};
  std::vector<PoolTarget> targets;
  for (const RouteTarget& target : route->second) {
    targets.push_back(PoolTarget{find(target.provider), target.model});
  }
  return targets;
}

std::vector<std::string> ProviderPool::routes_of(std::string_view provider) const {
  std::vector<std::string> names;
  for (const auto& [name, targets] : routes_) {
    for (const RouteTarget& target : targets) {
      if (target.provider == provider) {
        names.push_back(name);
        break;
      }
    }
  }
  return names;
}

}  // namespace perdiem::sdk
