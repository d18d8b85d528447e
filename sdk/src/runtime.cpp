// perdiem::Runtime: resolves the provider once, then runs each plan in its own sandboxed
// Lua state. Every model call a plan makes goes through the meter: reserved in the
// wallet at its worst case, sent, then settled at its real cost with a signed receipt.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <span>
#include <sstream>
#include <thread>

#include "base/random.hpp"
#include "perdiem/perdiem.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/http/url.hpp"
#include "runtime/lua/plan.hpp"
#include "runtime/memory/hash.hpp"
#include "runtime/metering/meter.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/provider_config.hpp"
#include "runtime/providers/sim_provider.hpp"
#include "runtime/router/router.hpp"
#include "sdk/src/host_provider_adapter.hpp"
#include "sdk/src/install_paths.hpp"
#include "sdk/src/runtime_factory.hpp"
#include "sdk/src/runtime_impl.hpp"
#include "sdk/src/runtime_memory.hpp"
#include "sdk/src/runtime_tools.hpp"
#include "sdk/src/runtime_wallet.hpp"
#include "sdk/src/step_report.hpp"
#include "tools/schema.hpp"
#include "wallet/hex.hpp"

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
  if (in.bad()) return make_error(ErrorKind::storage, "cannot read plan '" + path + "'");
  return text.str();
}

}  // namespace

namespace sdk {

std::string new_run_id() {
  // Time first (milliseconds since the epoch, 12 hex digits), then 64 random bits: ids
  // sort by when their run started, so memory.db's and wallet.db's indexes on the run
  // take new runs near their end rather than at random pages (as UUIDv7 does).
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::array<std::uint8_t, 14> bytes{};
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<std::uint8_t>(now >> (8 * (5 - i)));
  base::secure_random().fill(std::span(bytes).subspan(6));
  return "run-" + wallet::hex_encode(bytes);
}

std::shared_ptr<RunHandle> RuntimeImpl::start_file(const std::string& path,
                                                   const RunOptions& options) {
  return start_file_as(new_run_id(), path, options, {});
}

std::shared_ptr<BackgroundRun> RuntimeImpl::start_file_as(std::string run_id,
                                                          const std::string& path,
                                                          const RunOptions& options,
                                                          const Lineage& lineage) {
  auto handle = std::make_shared<BackgroundRun>(std::move(run_id));
  Result<std::string> source = read_plan(path);
  if (!source) {
    RunResult result;
    result.run_id = handle->run_id();
    result.error = source.error();
    handle->finish(std::move(result));
    return handle;
  }
  scheduled_.start(handle, make_scheduled_run(handle, std::move(*source), path,
                                              plan_directory(path), options, lineage));
  return handle;
}

std::shared_ptr<RunHandle> RuntimeImpl::start_script(std::string source, std::string chunk_name,
                                                     const RunOptions& options) {
  auto handle = std::make_shared<BackgroundRun>(new_run_id());
  scheduled_.start(handle, make_scheduled_run(handle, std::move(source), std::move(chunk_name), {},
                                              options, {}));
  return handle;
}

std::string RuntimeImpl::plan_directory(const std::string& path) {
  // require() finds modules beside the plan file.
  std::string directory = std::filesystem::path(path).parent_path().string();
  return directory.empty() ? "." : directory;
}

RunResult RuntimeImpl::run_file(const std::string& path, const RunOptions& options) {
  std::string run_id = new_run_id();
  Result<std::string> source = read_plan(path);
  if (!source) {
    RunResult result;
    result.run_id = std::move(run_id);
    result.error = source.error();
    return result;
  }
  return run(std::move(run_id), *source, path, plan_directory(path), options);
}

RunResult RuntimeImpl::run(std::string run_id, std::string_view source, std::string_view chunk_name,
                           const std::string& script_directory, const RunOptions& options) {
  RunFrame frame;
  frame.options = options;
  std::optional<lua::PlanOutcome> outcome;
  if (open_run(frame, std::move(run_id), /*cancel=*/nullptr, source, chunk_name, script_directory,
               Lineage{})) {
    outcome = lua::run_plan(source, chunk_name, frame.options.args, frame.limits, frame.host);
  }
  close_run(frame, std::move(outcome));
  return std::move(frame.result);
}

bool RuntimeImpl::open_run(RunFrame& frame, std::string run_id, const std::atomic<bool>* cancel,
                           std::string_view source, std::string_view chunk_name,
                           const std::string& script_directory, const Lineage& lineage) {
  RunResult& result = frame.result;
  const RunOptions& options = frame.options;
  result.run_id = std::move(run_id);
  if (options.agent_day_budget && options.agent.empty()) {
    result.error = make_error(ErrorKind::invalid_argument,
                              "agent_day_budget needs an agent name (RunOptions::agent, "
                              "--agent) to count the day's spending against");
    return false;
  }
  try {
    Run& run = frame.run.emplace(result, budgets_for(result.run_id, options), frame.settlements);
    run.max_steps = options.max_steps;
    run.cancel = cancel;
    run.options = &options;
    run.depth = lineage.depth;
    run.parent_run_id = lineage.parent_run_id;
    if (options.timeout.count() > 0) {
      run.deadline = std::chrono::steady_clock::now() + options.timeout;
    }
    // The run's tools are built at their first use (run_tools); options they would
    // refuse, such as a workspace that cannot be opened, are refused now.
    if (Status usable = tools_->check(options); !usable.ok()) {
      result.error = usable.error();
      return false;
    }
    frame.host = host_for(run);
    lua::PlanHost& host = frame.host;
    host.script_directory = script_directory;
    host.module_paths = module_paths_;
    host.cancel = cancel;
    host.agent_id = options.agent;
    host.run_id = result.run_id;
    RunEvent started;  // made first: nothing may throw between the trace and the report
    started.run_id = result.run_id;
    started.depth = lineage.depth;
    started.parent_run_id = lineage.parent_run_id;
    // A plan file is recorded by its absolute path, so replay finds it from anywhere.
    begin_trace(
        result.run_id,
        script_directory.empty()
            ? std::string(chunk_name)
            : std::filesystem::absolute(std::string(chunk_name)).lexically_normal().string(),
        source, options);
    frame.traced = true;  // from here on, close_run ends the trace and reports `finished`
    report_run(started);
    frame.limits.memory_limit_bytes = options.memory_limit_bytes;
    frame.limits.instruction_limit = options.instruction_limit;
    frame.limits.deadline = options.timeout;
    return true;
  } catch (const std::exception& e) {
    // Errors are values here; reaching this is a bug, but the host survives.
    result.error = make_error(ErrorKind::internal, std::string("unexpected failure: ") + e.what());
    return false;
  }
}

void RuntimeImpl::close_run(RunFrame& frame, std::optional<lua::PlanOutcome> outcome) {
  if (!begin_close(frame, std::move(outcome))) return;
  end_close(frame);
  flush_closed();
}

bool RuntimeImpl::begin_close(RunFrame& frame, std::optional<lua::PlanOutcome> outcome) {
  RunResult& result = frame.result;
  try {
    // No sub-agent outlives this run (they use this runtime).
    if (frame.run) end_children(*frame.run);
    if (outcome && outcome->error) {
      result.error = std::move(outcome->error);
    } else if (outcome) {
      result.text = std::move(outcome->text);
      result.json = std::move(outcome->json);
    }
  } catch (const std::exception& e) {
    result.error = make_error(ErrorKind::internal, std::string("unexpected failure: ") + e.what());
  }
  if (!frame.traced) return false;  // refused before anything was traced or spent
  try {
    finish_settlements(frame.settlements);
    // The run's metering tabs: detached now, waited for in end_close().
    meter_.begin_close_run(result.run_id);
  } catch (const std::exception& e) {
    // Reaching this is a bug; end_close() must still run, to report the run's end.
    if (!result.error) {
      result.error =
          make_error(ErrorKind::internal, std::string("unexpected failure: ") + e.what());
    }
  }
  return true;
}

void RuntimeImpl::end_close(RunFrame& frame) {
  RunResult& result = frame.result;
  try {
    // The run's tabs are durable after this, so its cost and receipts are exact.
    Status tabs_closed = meter_.end_close_run(result.run_id);
    if (!tabs_closed.ok() && options_.on_log) {
      options_.on_log(LogLevel::warn, tabs_closed.error().describe());
    }
    // Sub-agents are runs of their own; what they spent is part of this run's cost.
    const Nanos children_cost = frame.run ? frame.run->children_cost : 0;
    if (auto spent = wallet_->ledger().spent(result.run_id)) {
      result.usage.cost = *spent + children_cost;
    } else if (options_.on_log) {
      options_.on_log(LogLevel::warn, "the run's cost could not be read from the wallet (" +
                                          spent.error().describe() + "); its receipts are exact");
    }
    end_trace(result);
  } catch (const std::exception& e) {
    // An app's on_log may throw, and a bug may: the run's end is reported all the same, so
    // a listener counting runs never keeps one that has ended.
    if (!result.error) {
      result.error =
          make_error(ErrorKind::internal, std::string("unexpected failure: ") + e.what());
    }
  }
  RunEvent finished;
  finished.run_id = result.run_id;
  finished.phase = RunPhase::finished;
  if (frame.run) {
    finished.depth = frame.run->depth;
    finished.parent_run_id = frame.run->parent_run_id;
  }
  finished.error = result.error;
  finished.cost_nanos = result.usage.cost;
  report_run(finished);
}

void RuntimeImpl::report_run(const RunEvent& event) const {
  if (!options_.on_run) return;
  try {
    options_.on_run(event);
  } catch (...) {
    // A listener's failure is its own; the run goes on (see perdiem.hpp).
  }
}

void RuntimeImpl::flush_closed() {
  Status flushed = memory_->store().flush();
  if (!flushed.ok() && options_.on_log) {
    options_.on_log(LogLevel::warn, "a run's trace could not be written to memory.db: " +
                                        flushed.error().describe());
  }
  health_store_.save();
}

void RuntimeImpl::begin_trace(const std::string& run_id, std::string_view chunk_name,
                              std::string_view source, const RunOptions& options) {
  memory::RunRecord record;
  record.id = run_id;
  record.agent = options.agent;
  record.script_path = std::string(chunk_name);
  record.script_hash = memory::sha256_hex(source);
  record.args = {{"args", options.args}, {"provider", provider_name_}, {"model", model_}};
  (void)memory_->store().begin_run(record);
}

void RuntimeImpl::end_trace(const RunResult& result) {
  memory::RunEnd end;
  end.cost_nanos = result.usage.cost;
  if (result.ok()) {
    end.status = "ok";
    end.result = nlohmann::json::parse(result.json, nullptr, /*allow_exceptions=*/false);
  } else {
    end.status = result.error->kind == ErrorKind::cancelled ? "cancelled" : "error";
    end.error = result.error->describe();
  }
  Status ended = memory_->store().end_run(result.run_id, end);
  if (!ended.ok() && options_.on_log) {
    options_.on_log(LogLevel::warn, "the run's trace could not be written to memory.db: " +
                                        ended.error().describe());
  }
}

metering::MeterOptions RuntimeImpl::meter_options() const {
  metering::MeterOptions options;
  options.default_max_tokens = options_.default_max_tokens;
  // A call waits for its reservation to be durable, not its settlement; run() syncs.
  options.pipelined_settle = true;
  options.tabs = true;  // metering in memory: calls reserve and settle inside tabs
  // pool_ is built before meter_ (member order), and never changes.
  options.is_free = [this](std::string_view provider) {
    const sdk::PoolMember* member = pool_.find(provider);
    return member != nullptr && member->tags.local;
  };
  return options;
}

wallet::Budgets RuntimeImpl::budgets_for(const std::string& run_id, const RunOptions& options) {
  wallet::Budgets budgets;
  budgets.run = run_id;
  budgets.run_limit = options.budget;
  budgets.per_call_limit = options.max_call_cost;
  budgets.agent = options.agent;
  budgets.agent_day_limit = options.agent_day_budget;
  return budgets;
}

lua::PlanHost RuntimeImpl::host_for(Run& run) {
  lua::PlanHost host;
  host.chat = [this, &run](const providers::ChatRequest& request) { return chat(request, run); };
  host.chat_stream = [this, &run](const providers::ChatRequest& request,
                                  const lua::DeltaSink& on_delta) {
    return chat(request, run, &on_delta);
  };
  host.tool_definitions =
      [this, &run](
          const std::vector<std::string>& names) -> Result<std::vector<providers::ToolDefinition>> {
    Result<sdk::RunTools*> tools = run_tools(run);
    if (!tools) return tools.error();
    std::vector<providers::ToolDefinition> definitions;
    for (const std::string& name : names) {
      auto tool = (*tools)->find(name);
      if (!tool) return tool.error();
      definitions.push_back(tools::to_definition(**tool));
    }
    return definitions;
  };
  host.call_tool = [this, &run](const std::string& name, const std::string& arguments) {
    return call_tool(name, arguments, run);
  };
  host.call_tools = [this, &run](const std::vector<std::pair<std::string, std::string>>& calls) {
    return call_tools(calls, run);
  };
  host.list_tools = [this, &run] {
    std::vector<providers::ToolDefinition> listed;
    Result<sdk::RunTools*> tools = run_tools(run);
    if (!tools && options_.on_log) {
      options_.on_log(LogLevel::warn, "tool.list(): " + tools.error().describe());
    }
    if (!tools) return listed;
    for (const auto& tool : (*tools)->allowed()) listed.push_back({tool->name, tool->description});
    return listed;
  };
  host.chat_many = [this, &run](const std::vector<providers::ChatRequest>& requests) {
    return chat_many(requests, run);
  };
  host.embed = [this, &run](const providers::EmbedRequest& request) { return embed(request, run); };
  host.log = options_.on_log;
  host.memory = &memory_->store();
  host.embedding_model = [this, &run](const std::string& name) {
    return embedding_model(name, run);
  };
  host.wallet_address = wallet_->address();
  host.wallet_balance = [this]() -> Result<lua::WalletSnapshot> {
    auto balance = wallet_->ledger().balance();
    if (!balance) return balance.error();
    return lua::WalletSnapshot{balance->allowance, balance->usd, balance->reserved};
  };
  host.list_providers = [this] { return providers(); };
  host.spawn = [this, &run](const lua::SpawnRequest& request) { return spawn(run, request); };
  host.await_spawn = [this, &run](const std::string& id) { return await_child(run, id); };
  host.wallet_quote = [this](const providers::ChatRequest& request) -> Result<wallet::Nanos> {
    providers::ChatRequest routed = request;
    if (routed.model.empty()) routed.model = model_;
    // What the call would hold first: the worst case at the provider ranked first.
    Result<router::Plan> plan = plan_for(routed);
    if (!plan) return plan.error();
    const auto& first = !plan->attempts.empty() ? plan->attempts : plan->local_fallback;
    if (first.empty()) return make_error(ErrorKind::config, plan->reason, "router");
    routed.model = first.front().candidate.model;
    return meter_.quote(first.front().candidate.provider, routed);
  };
  host.wallet_spent = [this, &run]() -> Result<wallet::Nanos> {
    // Pipelined settlements and open metering tabs count at their hold; close and wait.
    Status synced = meter_.flush_run(run.result.run_id);
    if (synced.ok()) synced = wallet_->ledger().sync();
    if (!synced.ok()) return synced.error();
    return wallet_->ledger().spent(run.result.run_id);
  };
  return host;
}

}  // namespace sdk

namespace {

using sdk::RuntimeImpl;

// A runtime whose calls all go to `provider`, free like a local server.
Result<std::unique_ptr<Runtime>> with_provider(RuntimeOptions options,
                                               std::unique_ptr<providers::Provider> provider,
                                               std::string default_model, std::string reason,
                                               std::string api,
                                               std::unique_ptr<sdk::RuntimeWallet> wallet) {
  Result<std::unique_ptr<sdk::RuntimeMemory>> memory =
      sdk::RuntimeMemory::open(options.memory_path, {});
  if (!memory) return memory.error();
  Result<std::unique_ptr<sdk::RuntimeTools>> tools =
      sdk::RuntimeTools::create(options.tools, options.mcp_servers);
  if (!tools) return tools.error();
  sdk::PoolMember primary;
  primary.name = provider->name();
  primary.api = std::move(api);
  primary.tags.local = true;
  primary.default_model = default_model;
  primary.provider = std::move(provider);
  Result<sdk::ProviderPool> pool =
      sdk::ProviderPool::create(std::move(primary), {}, providers::process_environment(), {});
  if (!pool) return pool.error();
  return std::unique_ptr<Runtime>(new RuntimeImpl(std::move(options), std::move(reason),
                                                  std::move(default_model), std::move(*pool),
                                                  std::move(wallet), std::move(*memory),
                                                  std::move(*tools)));
}

Result<std::unique_ptr<Runtime>> create_runtime(RuntimeOptions options) {
  Result<std::unique_ptr<sdk::RuntimeWallet>> wallet =
      options.wallet ? sdk::RuntimeWallet::from_handle(options.wallet)
                     : sdk::RuntimeWallet::ephemeral();
  if (!wallet) return wallet.error();
  if (Status priced = (*wallet)->add_prices(options.prices); !priced.ok()) return priced.error();

  if (options.host_provider) {
    // The app's own model: free unless the price sheet names it, like a local server.
    std::unique_ptr<providers::Provider> provider =
        sdk::adapt_host_provider(options.host_provider, options.host_provider_name);
    std::string model = options.provider.model;
    return with_provider(std::move(options), std::move(provider), std::move(model), "host app",
                         "host", std::move(*wallet));
  }

  Result<providers::ProviderChoice> choice =
      providers::resolve_provider(options.provider, providers::process_environment());
  if (!choice) return choice.error();

  const providers::Preset* preset = providers::find_preset(choice->name);
  sdk::PoolMember primary;
  primary.name = choice->name;
  primary.base_url = choice->base_url;
  primary.api = choice->name == "sim"                                              ? "sim"
                : preset != nullptr && preset->api == providers::ApiStyle::anthropic ? "anthropic"
                                                                                     : "openai";
  primary.default_model = choice->model;
  // Free: the sim, a local preset, or an unnamed server on this machine. A hosted preset
  // pointed at another URL (a proxy, a test server) is still priced as that provider.
  // A local preset counts only while it points at this machine: `--provider ollama
  // --base-url https://remote/...` is a remote server and is priced like one.
  primary.tags.local =
      choice->name == "sim" ||
      (preset != nullptr && preset->local && http::is_loopback_url(choice->base_url)) ||
      (preset == nullptr && http::is_loopback_url(choice->base_url));
  std::vector<std::string_view> secrets;
  if (!choice->api_key.empty()) secrets.push_back(choice->api_key.view());
  const std::string reason = choice->reason;
  std::shared_ptr<http::Transport> transport = http::make_curl_transport();
  primary.provider = providers::make_provider(std::move(*choice), transport);

  Result<sdk::ProviderPool> pool = sdk::ProviderPool::create(
      std::move(primary), options.routing, providers::process_environment(), transport);
  if (!pool) return pool.error();
  for (std::string_view key : pool->secrets()) secrets.push_back(key);
  // Keys are redacted from everything memory.db stores, should a server echo one.
  Result<std::unique_ptr<sdk::RuntimeMemory>> memory =
      sdk::RuntimeMemory::open(options.memory_path, secrets);
  if (!memory) return memory.error();
  Result<std::unique_ptr<sdk::RuntimeTools>> tools =
      sdk::RuntimeTools::create(options.tools, options.mcp_servers);
  if (!tools) return tools.error();

  std::string model = pool->primary().default_model;
  return std::unique_ptr<Runtime>(new RuntimeImpl(std::move(options), reason, std::move(model),
                                                  std::move(*pool), std::move(*wallet),
                                                  std::move(*memory), std::move(*tools)));
}

}  // namespace

namespace sdk {

Result<std::unique_ptr<Runtime>> runtime_with_provider(
    RuntimeOptions options, std::unique_ptr<providers::Provider> provider,
    std::string default_model) {
  try {
    Result<std::unique_ptr<sdk::RuntimeWallet>> wallet =
        options.wallet ? sdk::RuntimeWallet::from_handle(options.wallet)
                       : sdk::RuntimeWallet::ephemeral();
    if (!wallet) return wallet.error();
    return with_provider(std::move(options), std::move(provider), std::move(default_model),
                         "replay", "replay", std::move(*wallet));
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("cannot create the runtime: ") + e.what());
  }
}

}  // namespace sdk

std::string_view version() {
  return PERDIEM_VERSION;
}

Runtime::~Runtime() = default;

Result<std::unique_ptr<Runtime>> Runtime::create(RuntimeOptions options) {
  if (options.default_max_tokens < 1) {
    return make_error(ErrorKind::invalid_argument, "default_max_tokens must be at least 1");
  }
  // A PERDIEM_SCRIPTS that names no directory is a mistake to report, not to skip.
  if (Result<std::string> scripts = sdk::plan_library_directory();
      !scripts && scripts.error().kind == ErrorKind::config) {
    return scripts.error();
  }
  if (options.host_provider && options.host_provider_name.empty()) {
    return make_error(ErrorKind::invalid_argument,
                      "host_provider_name must name the host provider (traces, receipts and "
                      "prices use it)");
  }
  try {
    return create_runtime(std::move(options));
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("cannot create the runtime: ") + e.what());
  }
}

}  // namespace perdiem
