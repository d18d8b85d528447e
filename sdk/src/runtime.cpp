// perdiem::Runtime: resolves the provider once, then runs each plan in its own sandboxed
// Lua state. Every model call a plan makes goes through the meter: reserved in the
// wallet at its worst case, sent, then settled at its real cost with a signed receipt.
#include <algorithm>
#include <array>
#include <filesystem>
#include <atomic>
#include <future>
#include <mutex>
#include <fstream>
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
#include "sdk/src/background_runs.hpp"
#include "sdk/src/host_provider_adapter.hpp"
#include "sdk/src/install_paths.hpp"
#include "sdk/src/runtime_factory.hpp"
#include "sdk/src/runtime_memory.hpp"
#include "sdk/src/runtime_tools.hpp"
#include "tools/schema.hpp"
#include "sdk/src/runtime_wallet.hpp"
#include "sdk/src/step_report.hpp"
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

// 16 hex digits from the CSPRNG: unique across runs sharing one wallet.db.
std::string new_run_id() {
  std::array<std::uint8_t, 8> bytes{};
  base::secure_random().fill(bytes);
  return "run-" + wallet::hex_encode(bytes);
}

// model.chat_many sends at most this many calls of one run at once.
constexpr std::size_t kMaxConcurrentCalls = 16;

class RuntimeImpl final : public Runtime {
 public:
  RuntimeImpl(RuntimeOptions options, providers::ProviderChoice choice, bool local,
              std::unique_ptr<providers::Provider> provider,
              std::unique_ptr<sdk::RuntimeWallet> wallet,
              std::unique_ptr<sdk::RuntimeMemory> memory, std::unique_ptr<sdk::RuntimeTools> tools)
      : memory_(std::move(memory)),
        tools_(std::move(tools)),
        options_(std::move(options)),
        provider_name_(choice.name),
        reason_(choice.reason),
        model_(choice.model),
        local_(local),
        provider_(std::move(provider)),
        wallet_(std::move(wallet)),
        meter_(wallet_->ledger(), wallet_->prices(), meter_options(local)) {
    // require "perdiem.react" finds the plan library (installed, or this source tree's).
    if (Result<std::string> scripts = sdk::plan_library_directory()) module_paths_ = {*scripts};
  }

  RunResult run_file(const std::string& path, const RunOptions& options) override {
    return run_file_as(new_run_id(), nullptr, path, options);
  }

  RunResult run_script(std::string_view source, std::string_view chunk_name,
                       const RunOptions& options) override {
    return run(new_run_id(), nullptr, source, chunk_name, {}, options);
  }

  std::shared_ptr<RunHandle> start_file(const std::string& path,
                                        const RunOptions& options) override {
    return background_.start(new_run_id(), [this, path, options](const std::string& run_id,
                                                                 const std::atomic<bool>* cancel) {
      return run_file_as(run_id, cancel, path, options);
    });
  }

  std::shared_ptr<RunHandle> start_script(std::string source, std::string chunk_name,
                                          const RunOptions& options) override {
    return background_.start(
        new_run_id(), [this, source = std::move(source), chunk_name = std::move(chunk_name),
                       options](const std::string& run_id, const std::atomic<bool>* cancel) {
          return run(run_id, cancel, source, chunk_name, {}, options);
        });
  }

  std::vector<ToolInfo> tools() const override { return tools_->list(); }
  std::string provider_name() const override { return provider_name_; }
  std::string provider_reason() const override { return reason_; }
  std::string default_model() const override { return model_; }
  std::string wallet_address() const override { return wallet_->address(); }
  bool wallet_is_ephemeral() const override { return wallet_->is_ephemeral(); }

 private:
  RunResult run_file_as(std::string run_id, const std::atomic<bool>* cancel,
                        const std::string& path, const RunOptions& options) {
    Result<std::string> source = read_plan(path);
    if (!source) {
      RunResult result;
      result.run_id = std::move(run_id);
      result.error = source.error();
      return result;
    }
    // require() finds modules beside the plan file.
    std::string directory = std::filesystem::path(path).parent_path().string();
    return run(std::move(run_id), cancel, *source, path, directory.empty() ? "." : directory,
               options);
  }

  RunResult run(std::string run_id, const std::atomic<bool>* cancel, std::string_view source,
                std::string_view chunk_name, const std::string& script_directory,
                const RunOptions& options) {
    RunResult result;
    result.run_id = std::move(run_id);
    std::vector<std::shared_future<Result<wallet::Settlement>>> run_settlements;
    if (options.agent_day_budget && options.agent.empty()) {
      result.error = make_error(ErrorKind::invalid_argument,
                                "agent_day_budget needs an agent name (RunOptions::agent, "
                                "--agent) to count the day's spending against");
      return result;
    }
    try {
      Run run{result, budgets_for(result.run_id, options), run_settlements};
      run.max_steps = options.max_steps;
      run.cancel = cancel;
      Result<std::unique_ptr<sdk::RunTools>> run_tools = tools_->for_run(options, memory_->store());
      if (!run_tools) {
        result.error = run_tools.error();
        return result;
      }
      run.tools = std::move(*run_tools);
      lua::PlanHost host = host_for(run);
      host.script_directory = script_directory;
      host.module_paths = module_paths_;
      host.cancel = cancel;
      host.agent_id = options.agent;
      host.run_id = result.run_id;
      // A plan file is recorded by its absolute path, so replay finds it from anywhere.
      begin_trace(result.run_id,
                  script_directory.empty()
                      ? std::string(chunk_name)
                      : std::filesystem::absolute(std::string(chunk_name)).lexically_normal().string(),
                  source, options);
      lua::PlanLimits limits;
      limits.memory_limit_bytes = options.memory_limit_bytes;
      limits.instruction_limit = options.instruction_limit;
      limits.deadline = options.timeout;
      lua::PlanOutcome outcome = lua::run_plan(source, chunk_name, options.args, limits, host);
      if (outcome.error) {
        result.error = std::move(outcome.error);
      } else {
        result.text = std::move(outcome.text);
        result.json = std::move(outcome.json);
      }
    } catch (const std::exception& e) {
      // run_plan reports errors as values; reaching here is a bug, but the host survives.
      result.error =
          make_error(ErrorKind::internal, std::string("unexpected failure: ") + e.what());
    }
    finish_settlements(run_settlements);
    if (auto spent = wallet_->ledger().spent(result.run_id)) result.usage.cost = *spent;
    end_trace(result);
    return result;
  }

  // The run's record in memory.db: its script, arguments and the provider and default
  // model it ran with (what `perdiem replay` needs to run it again).
  void begin_trace(const std::string& run_id, std::string_view chunk_name,
                   std::string_view source, const RunOptions& options) {
    memory::RunRecord record;
    record.id = run_id;
    record.agent = options.agent;
    record.script_path = std::string(chunk_name);
    record.script_hash = memory::sha256_hex(source);
    record.args = {{"args", options.args}, {"provider", provider_name_}, {"model", model_}};
    (void)memory_->store().begin_run(record);
  }

  void end_trace(const RunResult& result) {
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
    if (ended.ok()) ended = memory_->store().flush();
    if (!ended.ok() && options_.on_log) {
      options_.on_log(LogLevel::warn, "the run's trace could not be written to memory.db: " +
                                          ended.error().describe());
    }
  }

  // Keeps the pending settlement; a long run drops the ones already committed, so it
  // holds at most a few hundred (a settlement commits with the next call's reserve).
  static void track_settlement(
      std::vector<std::shared_future<Result<wallet::Settlement>>>& pending,
      std::shared_future<Result<wallet::Settlement>> settlement) {
    if (pending.size() >= 256) {
      auto committed = [](const std::shared_future<Result<wallet::Settlement>>& f) {
        return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready && f.get().ok();
      };
      pending.erase(std::remove_if(pending.begin(), pending.end(), committed), pending.end());
    }
    pending.push_back(std::move(settlement));
  }

  // Waits until the run's pipelined settlements are durable, so the cost the result
  // reports (and the receipts it names) are on disk when run() returns. A settlement that
  // failed to commit leaves its reservation open; the wallet charges its hold when next
  // opened, so nothing is lost, but the owner should know.
  void finish_settlements(
      std::vector<std::shared_future<Result<wallet::Settlement>>>& settlements) {
    if (settlements.empty()) return;
    Status synced = wallet_->ledger().sync();
    for (auto& pending : settlements) {
      const Result<wallet::Settlement>& settled = pending.get();
      if (settled.ok() || !options_.on_log) continue;
      options_.on_log(LogLevel::warn, "a settlement did not commit (" +
                                          settled.error().describe() +
                                          "); the wallet will charge its hold when next opened");
    }
    if (!synced.ok() && options_.on_log) {
      options_.on_log(LogLevel::warn, "the wallet could not sync: " + synced.error().describe());
    }
    settlements.clear();
  }

  // One run's state, shared by the callbacks the plan reaches.
  struct Run {
    RunResult& result;
    wallet::Budgets budgets;
    // Settlements queued but perhaps not yet durable (MeterOptions::pipelined_settle).
    std::vector<std::shared_future<Result<wallet::Settlement>>>& settlements;
    std::int64_t steps = 0;
    std::uint64_t max_steps = 0;  // RunOptions::max_steps
    std::mutex mutex{};           // guards the above and result's figures
    std::unique_ptr<sdk::RunTools> tools{};  // this run's tools and grants
    const std::atomic<bool>* cancel = nullptr;
  };

  metering::MeterOptions meter_options(bool local) const {
    metering::MeterOptions options;
    options.default_max_tokens = options_.default_max_tokens;
    // A call waits for its reservation to be durable, not its settlement; run() syncs.
    options.pipelined_settle = true;
    options.is_free = [name = provider_name_, local](std::string_view provider) {
      return local && provider == name;
    };
    return options;
  }

  static wallet::Budgets budgets_for(const std::string& run_id, const RunOptions& options) {
    wallet::Budgets budgets;
    budgets.run = run_id;
    budgets.run_limit = options.budget;
    budgets.per_call_limit = options.max_call_cost;
    budgets.agent = options.agent;
    budgets.agent_day_limit = options.agent_day_budget;
    return budgets;
  }

  lua::PlanHost host_for(Run& run) {
    lua::PlanHost host;
    host.chat = [this, &run](const providers::ChatRequest& request) { return chat(request, run); };
    host.tool_definitions = [&run](const std::vector<std::string>& names)
        -> Result<std::vector<providers::ToolDefinition>> {
      std::vector<providers::ToolDefinition> definitions;
      for (const std::string& name : names) {
        auto tool = run.tools->find(name);
        if (!tool) return tool.error();
        definitions.push_back(tools::to_definition(**tool));
      }
      return definitions;
    };
    host.call_tool = [this, &run](const std::string& name, const std::string& arguments) {
      return call_tool(name, arguments, run);
    };
    host.list_tools = [&run] {
      std::vector<providers::ToolDefinition> listed;
      for (const auto& tool : run.tools->allowed()) listed.push_back({tool->name, tool->description});
      return listed;
    };
    host.chat_many = [this, &run](const std::vector<providers::ChatRequest>& requests) {
      return chat_many(requests, run);
    };
    host.embed = [this, &run](const providers::EmbedRequest& request) {
      return embed(request, run);
    };
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
    host.wallet_quote = [this](const providers::ChatRequest& request) {
      providers::ChatRequest routed = request;
      if (routed.model.empty()) routed.model = model_;
      return meter_.quote(provider_->name(), routed);
    };
    host.wallet_spent = [this, &run]() -> Result<wallet::Nanos> {
      // Pipelined settlements count at their hold until they commit; wait for them.
      Status synced = wallet_->ledger().sync();
      if (!synced.ok()) return synced.error();
      return wallet_->ledger().spent(run.result.run_id);
    };
    return host;
  }

  // One tool call from the plan (tool.call, tool.run): grant and schema checked, paid
  // like a model call when the tool has a price, traced as a step.
  Result<std::string> call_tool(const std::string& name, const std::string& arguments_json,
                                Run& run) {
    nlohmann::json arguments = nlohmann::json::parse(arguments_json, nullptr, false);
    if (arguments.is_discarded()) {
      return make_error(ErrorKind::tool, "the arguments are not valid JSON", name);
    }
    Result<std::shared_ptr<const tools::Tool>> tool = run.tools->find(name);
    if (!tool) return tool.error();
    // An invalid call is refused before anything is reserved: it costs nothing.
    if (Status valid = tools::validate_against_schema((*tool)->parameters, arguments); !valid.ok()) {
      return make_error(ErrorKind::tool, valid.error().message, (*tool)->name);
    }
    Result<std::int64_t> step = next_step(run);
    if (!step) return step.error();
    sdk::StepReport report(options_.on_step, &memory_->store(), run.result.run_id, *step,
                           (*tool)->name, arguments);
    std::optional<wallet::Reservation> hold;
    if ((*tool)->price_nanos) {
      wallet::ReserveRequest request;
      request.idempotency_key = run.result.run_id + ":" + std::to_string(*step) + ":1";
      request.provider = "tools";
      request.worst_case = *(*tool)->price_nanos;
      request.budgets = run.budgets;
      Result<wallet::Reservation> reserved = wallet_->ledger().reserve(request);
      if (!reserved) {
        report.finished(Result<std::string>(reserved.error()), 0, {});
        return reserved.error();
      }
      hold = *reserved;
    }
    tools::ToolContext context;
    context.run_id = run.result.run_id;
    context.cancelled = run.cancel;
    Result<nlohmann::json> result = run.tools->invoke((*tool)->name, arguments, context);
    Result<std::string> text =
        result ? Result<std::string>(sdk::tool_result_text(*result)) : Result<std::string>(result.error());
    std::int64_t cost = 0;
    std::string receipt;
    if (hold) {
      if (!result) {
        (void)wallet_->ledger().release(hold->id);  // a failed tool call costs nothing
      } else {
        wallet::CallRecord record;
        record.model = (*tool)->name;
        record.step = *step;
        record.prices.per_request = *(*tool)->price_nanos;
        auto settled = wallet_->ledger().settle(*hold, *(*tool)->price_nanos, record);
        if (!settled) {
          report.finished(Result<std::string>(settled.error()), 0, {});
          return settled.error();
        }
        cost = settled->cost;
        if (settled->receipt) receipt = settled->receipt->id;
      }
    }
    report.finished(text, cost, receipt);
    return text;
  }

  // The model memory.* embeds with: named by the plan, else the runtime's default. Its
  // embedder goes through embed(), so every embedding is metered and traced.
  Result<memory::EmbeddingModel> embedding_model(const std::string& name, Run& run) {
    memory::EmbeddingModel model;
    model.name = name.empty() ? options_.embedding_model : name;
    model.dim = options_.embedding_dimensions;
    if (model.name.empty() && provider_name_ == "sim") {
      model.name = "sim-embed";
      model.dim = providers::kSimEmbeddingDimensions;
    }
    if (model.name == "sim-embed" && provider_name_ == "sim") model.dim = providers::kSimEmbeddingDimensions;
    if (model.name.empty() || model.dim == 0) {
      return make_error(ErrorKind::config,
                        "memory needs an embedding model and its dimensions for vector search: "
                        "set RuntimeOptions::embedding_model and embedding_dimensions",
                        provider_name_);
    }
    model.embed = [this, &run, name = model.name](const std::vector<std::string>& texts)
        -> Result<std::vector<std::vector<float>>> {
      Result<providers::EmbedResponse> response = embed(providers::EmbedRequest{name, texts}, run);
      if (!response) return response.error();
      return std::move(response->vectors);
    };
    return model;
  }

  // A paid provider with the runtime's own empty wallet: say how to get a real one
  // instead of reporting an empty balance.
  std::optional<Error> needs_a_wallet() const {
    if (!wallet_->is_ephemeral() || local_) return std::nullopt;
    return make_error(ErrorKind::insufficient_credits,
                      "no wallet is configured, so only free providers (sim, local servers) "
                      "can be used and '" + provider_name_ + "' is paid: create a wallet with "
                      "`perdiem wallet init` and import a grant (docs/wallet.md)",
                      provider_name_);
  }

  // The call that would pass RunOptions::max_steps fails instead, before anything is
  // reserved or sent.
  static std::optional<Error> step_limit_reached(const Run& run) {
    if (run.max_steps == 0 || static_cast<std::uint64_t>(run.steps) < run.max_steps) {
      return std::nullopt;
    }
    return make_error(ErrorKind::limit, "the run reached its step limit of " +
                                            std::to_string(run.max_steps) +
                                            " model calls (--max-steps, RunOptions::max_steps)");
  }

  Result<providers::EmbedResponse> embed(const providers::EmbedRequest& request, Run& run) {
    Result<std::int64_t> step = next_step(run);
    if (!step) return step.error();
    metering::CallContext context{run.result.run_id, *step, run.budgets};
    sdk::StepReport report(options_.on_step, &memory_->store(), run.result.run_id, context.step, provider_name_,
                           request);
    Result<providers::EmbedResponse> outcome = metered_embed(request, context, run);
    report.finished(outcome);
    return outcome;
  }

  Result<providers::EmbedResponse> metered_embed(const providers::EmbedRequest& request,
                                                 const metering::CallContext& context, Run& run) {
    if (auto refused = needs_a_wallet()) return *refused;
    Result<metering::MeteredEmbedding> metered = meter_.embed(*provider_, request, context);
    if (!metered) return metered.error();
    record_call(run, std::move(metered->settlement), metered->response.provider,
                metered->response.usage);
    providers::EmbedResponse response = std::move(metered->response);
    response.cost_nanos = metered->cost;
    response.receipt_id = metered->receipt_id;
    return response;
  }

  // Adds a finished call to the run's figures and keeps its pending settlement.
  // Thread-safe (model.chat_many finishes calls on several threads).
  static void record_call(Run& run, std::shared_future<Result<wallet::Settlement>> settlement,
                          const std::string& provider, const providers::Usage& usage) {
    std::lock_guard lock(run.mutex);
    if (settlement.valid()) track_settlement(run.settlements, std::move(settlement));
    count_call(run.result, provider, usage);
  }

  static void count_call(RunResult& result, const std::string& provider,
                         const providers::Usage& usage) {
    result.usage.model_calls += 1;
    result.usage.input_tokens += usage.input_tokens;
    result.usage.output_tokens += usage.output_tokens;
    if (std::find(result.providers.begin(), result.providers.end(), provider) ==
        result.providers.end()) {
      result.providers.push_back(provider);
    }
  }

  Result<providers::ChatResponse> chat(const providers::ChatRequest& request, Run& run) {
    Result<std::int64_t> step = next_step(run);
    if (!step) return step.error();
    return chat_step(request, *step, run);
  }

  // model.chat_many: steps numbered in request order, then every call at once (at most
  // kMaxConcurrentCalls in flight), each metered and traced like model.chat.
  std::vector<Result<providers::ChatResponse>> chat_many(
      const std::vector<providers::ChatRequest>& requests, Run& run) {
    std::vector<Result<std::int64_t>> steps;
    for (std::size_t i = 0; i < requests.size(); ++i) steps.push_back(next_step(run));
    std::vector<Result<providers::ChatResponse>> answers(
        requests.size(), make_error(ErrorKind::internal, "not sent"));
    for (std::size_t first = 0; first < requests.size(); first += kMaxConcurrentCalls) {
      const std::size_t last = std::min(requests.size(), first + kMaxConcurrentCalls);
      std::vector<std::future<Result<providers::ChatResponse>>> calls;
      for (std::size_t i = first; i < last; ++i) {
        if (!steps[i]) continue;
        calls.push_back(std::async(std::launch::async, [this, &requests, &run, i, step = *steps[i]] {
          return chat_step(requests[i], step, run);
        }));
      }
      std::size_t next = 0;
      for (std::size_t i = first; i < last; ++i) {
        answers[i] = steps[i] ? calls[next++].get() : Result<providers::ChatResponse>(steps[i].error());
      }
    }
    return answers;
  }

  // The run's next step number, or the step limit's error. Thread-safe.
  Result<std::int64_t> next_step(Run& run) {
    std::lock_guard lock(run.mutex);
    if (auto limit = step_limit_reached(run)) return *limit;
    return ++run.steps;
  }

  Result<providers::ChatResponse> chat_step(const providers::ChatRequest& request,
                                            std::int64_t step, Run& run) {
    providers::ChatRequest routed = request;
    if (routed.model.empty()) routed.model = model_;
    // As the meter sends it, so the trace holds the request as sent (replay matches it).
    if (!routed.max_tokens) routed.max_tokens = options_.default_max_tokens;
    metering::CallContext context{run.result.run_id, step, run.budgets};
    sdk::StepReport report(options_.on_step, &memory_->store(), run.result.run_id, context.step,
                           provider_name_, routed);
    Result<providers::ChatResponse> outcome = metered_chat(routed, context, run);
    report.finished(outcome);
    return outcome;
  }

  Result<providers::ChatResponse> metered_chat(const providers::ChatRequest& routed,
                                               const metering::CallContext& context, Run& run) {
    if (auto refused = needs_a_wallet()) return *refused;
    Result<metering::MeteredResponse> metered = routed_call(routed, context);
    if (!metered) return metered.error();
    record_call(run, std::move(metered->settlement), metered->response.provider,
                metered->response.usage);
    providers::ChatResponse response = std::move(metered->response);
    response.cost_nanos = metered->cost;
    response.receipt_id = metered->receipt_id;

    return response;
  }

  // The call through the router: retries with backoff (honouring the error kind), the
  // provider's circuit breaker and health. Every attempt is metered with the same
  // idempotency key, so a failed attempt is released and only the answer is charged.
  Result<metering::MeteredResponse> routed_call(const providers::ChatRequest& request,
                                                const metering::CallContext& context) {
    Result<wallet::Price> price = meter_.price_for(provider_->name(), request.model);
    if (!price) return price.error();
    router::Candidate candidate;
    candidate.provider = provider_->name();
    candidate.model = request.model;
    candidate.price = {price->input_per_mtok, price->output_per_mtok, price->per_request};
    candidate.tags.local = local_;
    router::RouteRequest route;
    route.input_tokens = metering::max_input_tokens(request);
    route.max_output_tokens = request.max_tokens.value_or(options_.default_max_tokens);
    const base::Clock& clock = base::system_clock();
    router::Plan plan = router::plan_route({&candidate, 1}, route, health_, {},
                                           clock.now_unix_ms());

    std::optional<metering::MeteredResponse> metered;
    router::AttemptFn attempt = [&](const router::Candidate&,
                                    int number) -> router::AttemptResult {
      metering::CallContext this_attempt = context;
      this_attempt.attempt = number;
      Result<metering::MeteredResponse> result = meter_.chat(*provider_, request, this_attempt);
      if (!result) return result.error();
      metered = std::move(*result);
      return metered->response;
    };
    base::SeededRandom jitter(base::secure_random().next_u64());
    router::RouterEnv env{health_, clock, jitter,
                          [this](std::chrono::milliseconds delay) {
                            if (options_.on_log) {
                              options_.on_log(LogLevel::warn,
                                              "retrying " + provider_name_ + " in " +
                                                  std::to_string(delay.count()) + " ms");
                            }
                            std::this_thread::sleep_for(delay);
                          },
                          router::RetryOptions{}};
    router::RouteResult routed = router::route_call(plan, attempt, env);
    if (!routed.response) return routed.response.error();
    return std::move(*metered);
  }

  // First, so they are destroyed last: runs use them until they are joined.
  std::unique_ptr<sdk::RuntimeMemory> memory_;
  std::unique_ptr<sdk::RuntimeTools> tools_;
  RuntimeOptions options_;
  std::string provider_name_;
  std::string reason_;
  std::string model_;
  bool local_;  // the provider is free: sim, a local server
  std::unique_ptr<providers::Provider> provider_;
  std::unique_ptr<sdk::RuntimeWallet> wallet_;
  metering::Meter meter_;
  router::HealthBook health_;  // shared by every run of this runtime; thread-safe
  std::vector<std::string> module_paths_;  // the plan library, when found
  // Last, so it is destroyed first: its runs are cancelled and joined while everything
  // they use still exists.
  sdk::BackgroundRuns background_;
};

// A runtime whose calls all go to `provider`, free like a local server.
Result<std::unique_ptr<Runtime>> with_provider(RuntimeOptions options,
                                               std::unique_ptr<providers::Provider> provider,
                                               std::string default_model, std::string reason,
                                               std::unique_ptr<sdk::RuntimeWallet> wallet) {
  Result<std::unique_ptr<sdk::RuntimeMemory>> memory =
      sdk::RuntimeMemory::open(options.memory_path, {});
  if (!memory) return memory.error();
  Result<std::unique_ptr<sdk::RuntimeTools>> tools =
      sdk::RuntimeTools::create(options.tools, options.mcp_servers);
  if (!tools) return tools.error();
  providers::ProviderChoice described;
  described.name = provider->name();
  described.reason = std::move(reason);
  described.model = std::move(default_model);
  return std::unique_ptr<Runtime>(new RuntimeImpl(std::move(options), std::move(described),
                                                  /*local=*/true, std::move(provider),
                                                  std::move(wallet), std::move(*memory),
                                                  std::move(*tools)));
}

Result<std::unique_ptr<Runtime>> create_runtime(RuntimeOptions options) {
  Result<std::unique_ptr<sdk::RuntimeWallet>> wallet =
      options.wallet ? sdk::RuntimeWallet::from_handle(options.wallet)
                     : sdk::RuntimeWallet::ephemeral();
  if (!wallet) return wallet.error();

  if (options.host_provider) {
    // The app's own model: free unless the price sheet names it, like a local server.
    std::unique_ptr<providers::Provider> provider =
        sdk::adapt_host_provider(options.host_provider, options.host_provider_name);
    std::string model = options.provider.model;
    return with_provider(std::move(options), std::move(provider), std::move(model), "host app",
                         std::move(*wallet));
  }

  Result<providers::ProviderChoice> choice =
      providers::resolve_provider(options.provider, providers::process_environment());
  if (!choice) return choice.error();

  const providers::Preset* preset = providers::find_preset(choice->name);
  // Free: the sim, a local preset, or an unnamed server on this machine. A hosted preset
  // pointed at another URL (a proxy, a test server) is still priced as that provider.
  // A local preset counts only while it points at this machine: `--provider ollama
  // --base-url https://remote/...` is a remote server and is priced like one.
  bool local = choice->name == "sim" ||
               (preset != nullptr && preset->local && http::is_loopback_url(choice->base_url)) ||
               (preset == nullptr && http::is_loopback_url(choice->base_url));
  // The key is redacted from everything memory.db stores, should a server echo it.
  Result<std::unique_ptr<sdk::RuntimeMemory>> memory =
      sdk::RuntimeMemory::open(options.memory_path, {choice->api_key.view()});
  if (!memory) return memory.error();
  Result<std::unique_ptr<sdk::RuntimeTools>> tools =
      sdk::RuntimeTools::create(options.tools, options.mcp_servers);
  if (!tools) return tools.error();

  providers::ProviderChoice described;
  described.name = choice->name;
  described.reason = choice->reason;
  described.model = choice->model;
  std::unique_ptr<providers::Provider> provider =
      providers::make_provider(std::move(*choice), http::make_curl_transport());
  return std::unique_ptr<Runtime>(new RuntimeImpl(std::move(options), std::move(described), local,
                                                  std::move(provider), std::move(*wallet),
                                                  std::move(*memory), std::move(*tools)));
}

}  // namespace

namespace sdk {

Result<std::unique_ptr<Runtime>> runtime_with_provider(RuntimeOptions options,
                                                       std::unique_ptr<providers::Provider> provider,
                                                       std::string default_model) {
  try {
    Result<std::unique_ptr<sdk::RuntimeWallet>> wallet =
        options.wallet ? sdk::RuntimeWallet::from_handle(options.wallet)
                       : sdk::RuntimeWallet::ephemeral();
    if (!wallet) return wallet.error();
    return with_provider(std::move(options), std::move(provider), std::move(default_model),
                         "replay", std::move(*wallet));
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
