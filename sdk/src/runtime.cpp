// perdiem::Runtime: resolves the provider once, then runs each plan in its own sandboxed
// Lua state, answering its model calls from that provider and totalling their usage.
#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>

#include "perdiem/perdiem.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/lua/plan.hpp"
#include "runtime/providers/provider_config.hpp"

namespace perdiem {
namespace {

// The bytes of a plan file, or a not_found/storage error a user can act on.
Result<std::string> read_plan(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorKind::not_found,
                      "cannot open plan '" + path + "': check the path and permissions");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return make_error(ErrorKind::storage, "cannot read plan '" + path + "'");
  }
  return text.str();
}

class RuntimeImpl final : public Runtime {
 public:
  RuntimeImpl(RuntimeOptions options, std::string provider_name, std::string reason,
              std::string model, std::unique_ptr<providers::Provider> provider)
      : options_(std::move(options)),
        provider_name_(std::move(provider_name)),
        reason_(std::move(reason)),
        model_(std::move(model)),
        provider_(std::move(provider)) {}

  RunResult run_file(const std::string& path, const RunOptions& options) override {
    Result<std::string> source = read_plan(path);
    if (!source) {
      RunResult result;
      result.error = source.error();
      result.json = "";
      return result;
    }
    return run_script(*source, path, options);
  }

  RunResult run_script(std::string_view source, std::string_view chunk_name,
                       const RunOptions& options) override {
    RunResult result;
    lua::PlanHost host;
    host.chat = [&](const providers::ChatRequest& request) {
      return chat(request, result);
    };
    host.log = options_.on_log;
    lua::PlanLimits limits;
    limits.memory_limit_bytes = options.memory_limit_bytes;
    try {
      lua::PlanOutcome outcome = lua::run_plan(source, chunk_name, options.args, limits, host);
      if (outcome.error) {
        result.error = std::move(outcome.error);
      } else {
        result.text = std::move(outcome.text);
        result.json = std::move(outcome.json);
      }
    } catch (const std::exception& e) {
      // run_plan reports errors as values; reaching here is a bug, but the host survives.
      result.error = make_error(ErrorKind::internal, std::string("unexpected failure: ") +
                                                         e.what());
    }
    return result;
  }

  std::string provider_name() const override { return provider_name_; }
  std::string provider_reason() const override { return reason_; }
  std::string default_model() const override { return model_; }

 private:
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request,
                                       RunResult& run) {
    providers::ChatRequest routed = request;
    if (routed.model.empty()) routed.model = model_;
    Result<providers::ChatResponse> response = provider_->chat(routed);
    if (!response) return response;
    run.usage.model_calls += 1;
    run.usage.input_tokens += response->usage.input_tokens;
    run.usage.output_tokens += response->usage.output_tokens;
    const std::string& served_by = response->provider;
    if (std::find(run.providers.begin(), run.providers.end(), served_by) ==
        run.providers.end()) {
      run.providers.push_back(served_by);
    }
    return response;
  }

  RuntimeOptions options_;
  std::string provider_name_;
  std::string reason_;
  std::string model_;
  std::unique_ptr<providers::Provider> provider_;
};

}  // namespace

std::string_view version() { return PERDIEM_VERSION; }

Runtime::~Runtime() = default;

Result<std::unique_ptr<Runtime>> Runtime::create(RuntimeOptions options) {
  Result<providers::ProviderChoice> choice =
      providers::resolve_provider(options.provider, providers::process_environment());
  if (!choice) return choice.error();
  std::string name = choice->name;
  std::string reason = choice->reason;
  std::string model = choice->model;
  std::shared_ptr<http::Transport> transport = http::make_curl_transport();
  std::unique_ptr<providers::Provider> provider =
      providers::make_provider(std::move(*choice), std::move(transport));
  return std::unique_ptr<Runtime>(new RuntimeImpl(std::move(options), std::move(name),
                                                  std::move(reason), std::move(model),
                                                  std::move(provider)));
}

}  // namespace perdiem
