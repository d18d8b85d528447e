// perdiem: an embeddable agent runtime whose agents pay for their own inference.
//
// The public C++ API. Include this header (and nothing under runtime/, wallet/ or tools/).
// The smallest complete program:
//
//   auto runtime = perdiem::Runtime::create({});          // sim provider unless configured
//   if (!runtime) { std::cerr << runtime.error().describe(); return 1; }
//   perdiem::RunResult r = (*runtime)->run_file("hello.lua", {});
//   std::cout << (r.ok() ? r.text : r.error->describe()) << "\n";
//
// Thread-safety: a Runtime may be shared; run_file/run_script may be called from several
// threads at once, each run having its own Lua state; start_file/start_script run in the
// background on the runtime's scheduler (RunHandle). RuntimeOptions, RunOptions and
// RunResult are plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/events.hpp"
#include "perdiem/export.h"
#include "perdiem/host_provider.hpp"
#include "perdiem/routing.hpp"
#include "perdiem/tools.hpp"
#include "perdiem/wallet.hpp"

namespace perdiem {

// "0.1.0"
PERDIEM_API std::string_view version();

// Which provider serves a run's model calls. Each empty field falls back to the
// environment (PERDIEM_PROVIDER, PERDIEM_BASE_URL, PERDIEM_MODEL; OPENROUTER_API_KEY alone
// selects OpenRouter) when `use_environment` is set, and then to the built-in default:
// the offline `sim` provider.
struct ProviderSettings {
  std::string provider;  // a preset name ("openrouter", "ollama", ...) or "sim"
  std::string base_url;  // any OpenAI-compatible server; its key from PERDIEM_API_KEY
  std::string model;     // the model for calls that name none
  bool use_environment = true;
  std::uint64_t sim_seed = 1;  // the sim provider is deterministic for a given seed
  // The sim answers after this latency plus a uniform [0, jitter] drawn from sim_seed, as a
  // remote model would; 0 falls back to PERDIEM_SIM_LATENCY_MS / PERDIEM_SIM_JITTER_MS.
  std::int64_t sim_latency_ms = 0;
  std::int64_t sim_jitter_ms = 0;
};

enum class LogLevel { info, warn, error };

struct RuntimeOptions {
  ProviderSettings provider;
  // A model the app answers itself (perdiem/host_provider.hpp). When set, every call
  // goes to it under `host_provider_name` and `provider` is ignored except for its
  // model, the default for calls that name none.
  std::shared_ptr<HostProvider> host_provider;
  std::string host_provider_name = "host";
  // More providers, and logical models routed between them (perdiem/routing.hpp); the
  // command line reads them from config.json (routing_from_config). Calls to a model
  // no route names go to `provider`.
  RoutingOptions routing;
  // The wallet that pays for every model call, opened with its key (perdiem/wallet.hpp).
  // Null: an empty wallet that lives as long as the runtime; it pays only for free
  // providers (sim, local servers), and a paid call fails with insufficient_credits.
  std::shared_ptr<WalletHandle> wallet;
  // Prices set in code (nano-USD per million tokens, and per request), added to the
  // wallet's config.json prices and replacing them for the same provider and model
  // ("*" = every model of the provider). A priced host provider is listed here under
  // host_provider_name.
  std::vector<PriceEntry> prices;
  // Sent as max_tokens when a call names none, so the reserved worst case bounds the bill.
  int default_max_tokens = 1024;
  // Receives the plans' log lines and the runtime's diagnostics. Called on the thread
  // that runs the plan (the caller's for run_file/run_script, a scheduler thread for
  // start_file/start_script), or for a scheduled run's tool calls and its end, on a
  // worker thread of the runtime's; from several threads at once when several runs are
  // going. Default: nothing is printed.
  std::function<void(LogLevel, std::string_view)> on_log;
  // Receives every run's steps as they start and finish (perdiem/events.hpp): progress,
  // spend and an audit trail. Called on the thread that runs the plan, as on_log. May be
  // empty.
  std::function<void(const StepEvent&)> on_step;
  // Receives every run's start and end, sub-agents' included (perdiem/events.hpp): a
  // run's `started` on the thread that runs it, its `finished` there or on a worker
  // thread of the runtime's. Synchronise what it touches; exceptions are dropped. May be
  // empty.
  std::function<void(const RunEvent&)> on_run;
  // Also stream plain model.chat (and model.chat_many) answers to on_step as `delta`
  // events, as model.stream's always are. Off by default: a delta costs a callback per
  // piece, and apps that only log steps do not want them.
  bool stream_chat = false;
  // memory.db: what plans remember (memory.*) and the trace of every run and step, which
  // `perdiem runs` shows and `perdiem replay` re-executes. "" = a temporary store that
  // lasts as long as the runtime. The command line uses PERDIEM_HOME/memory.db.
  std::string memory_path;
  // The embedding model memory.remember{embed=true} and vector/hybrid memory.recall use
  // when a plan names none, and its dimensions. Empty: "sim-embed" (384) on the sim
  // provider; other providers then need the plan to name a model with its dimensions.
  std::string embedding_model;
  std::size_t embedding_dimensions = 0;
  // Tools every run's plan and model may call (perdiem/tools.hpp), and MCP servers to
  // start now, whose tools join them. A server that does not start fails create().
  std::vector<HostTool> tools;
  std::vector<McpServer> mcp_servers;
  // Event-loop threads that runs started with start_file/start_script share (the
  // scheduler): each agent is a coroutine on one of them, and a model call in flight or
  // a sleep holds no thread. 0: one per core.
  unsigned scheduler_threads = 0;
};

// Limits of one run. Every limit has a safe default; money limits are nano-USD (see
// parse_usd) and are enforced by the wallet's reservation, atomically, before each call.
struct RunOptions {
  std::vector<std::string> args;                  // the plan sees them as agent.args
  std::size_t memory_limit_bytes = 64u << 20;     // the Lua state's heap cap
  std::uint64_t instruction_limit = 100'000'000;  // Lua VM instructions; 0: no limit
  std::chrono::milliseconds timeout{0};           // wall-clock deadline; 0: none
  std::uint64_t max_steps = 0;                    // model calls the run may make; 0: none
  std::optional<Nanos> budget;                    // the most this run may spend
  std::optional<Nanos> max_call_cost;             // the most one call may reserve
  std::string agent;                              // names the agent for agent_day_budget
  std::optional<Nanos> agent_day_budget;          // per agent per UTC day, across runs
  // Built-in tools act on the world, so each is off unless granted here by name
  // ("fs.read", "http.fetch") or family ("fs.*"). Host, plan and MCP tools need no grant.
  std::vector<std::string> allowed_tools;
  std::vector<std::string> allowed_hosts;   // http.fetch may reach these ("api.example.com")
  std::string workspace;                    // fs.* work inside this folder, and only it
  std::vector<std::string> shell_commands;  // shell.run may run these programs
};

// Totals over one run's model calls.
struct RunUsage {
  int model_calls = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  Nanos cost = 0;  // what the wallet charged for the run, in nano-USD
};

struct RunResult {
  // Set when the agent failed; then `text` and `json` are empty.
  std::optional<Error> error;
  // The plan's return value: `text` is a string result as is (anything else as JSON),
  // `json` is always JSON ("null" when the plan returned nothing).
  std::string text;
  std::string json;
  // Which provider(s) served the run, in order of first use.
  std::vector<std::string> providers;
  RunUsage usage;
  // Names the run in the wallet's receipts and ledger ("run-" + 16 hex digits).
  std::string run_id;

  bool ok() const { return !error.has_value(); }
};

// A run started in the background by Runtime::start_file or start_script.
// Thread-safety: every method may be called from any thread, concurrently. Dropping the
// handle does not stop the run; destroying the Runtime cancels and waits for its runs.
class PERDIEM_API RunHandle {
 public:
  virtual ~RunHandle();
  RunHandle(const RunHandle&) = delete;
  RunHandle& operator=(const RunHandle&) = delete;

  // The id the run's receipts, ledger entries and step events carry; known at once.
  virtual const std::string& run_id() const = 0;
  virtual bool done() const = 0;
  // Blocks until the run has finished; returns its result (the same one every time).
  virtual const RunResult& wait() = 0;
  // Waits at most `timeout`: the result, or nullopt while the run goes on.
  virtual std::optional<RunResult> wait_for(std::chrono::milliseconds timeout) = 0;
  // Asks the run to stop at its next instruction, model call or sleep; it then ends with
  // kind `cancelled`. A call in flight is settled or released as usual, so the wallet
  // stays exact. Cancelling a finished run does nothing.
  virtual void cancel() = 0;

 protected:
  RunHandle() = default;
};

class PERDIEM_API Runtime {
 public:
  // Resolves the provider settings and prepares the runtime. Fails with kind `config`
  // when the settings name an unknown provider or a provider whose key is missing.
  static Result<std::unique_ptr<Runtime>> create(RuntimeOptions options);

  virtual ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs the Lua plan in `path` to completion. Never throws: failures are in the result.
  virtual RunResult run_file(const std::string& path, const RunOptions& options) = 0;
  // Runs `source` (Lua text) as a plan; `chunk_name` appears in its tracebacks.
  virtual RunResult run_script(std::string_view source, std::string_view chunk_name,
                               const RunOptions& options) = 0;

  // The same, in the background: returns at once. The run is an agent on the
  // runtime's scheduler (RuntimeOptions::scheduler_threads): thousands may run at once,
  // each waiting on its model calls and sleeps without holding a thread.
  virtual std::shared_ptr<RunHandle> start_file(const std::string& path,
                                                const RunOptions& options) = 0;
  virtual std::shared_ptr<RunHandle> start_script(std::string source, std::string chunk_name,
                                                  const RunOptions& options) = 0;

  // The tools a run could call: host and MCP tools, and the built-ins (which need a
  // grant). Plans' own tool.define tools are not listed.
  virtual std::vector<ToolInfo> tools() const = 0;

  // The provider calls go to when a call names none, e.g. "sim" or "openrouter",
  // and why it was chosen ("flag", "environment", "default").
  virtual std::string provider_name() const = 0;
  virtual std::string provider_reason() const = 0;
  virtual std::string default_model() const = 0;
  // Every provider calls can go to (the one above first, then RoutingOptions'), with the
  // routes each serves and its health as the router sees it now.
  virtual std::vector<ProviderStatus> providers() const = 0;
  // The prices `provider` publishes for its models (GET /models), as entries for
  // RuntimeOptions::prices or save_refreshed_prices. not_found when it publishes none.
  virtual Result<std::vector<PriceEntry>> published_prices(const std::string& provider) = 0;
  // The address of the wallet that pays, and whether it is the runtime's own empty one.
  virtual std::string wallet_address() const = 0;
  virtual bool wallet_is_ephemeral() const = 0;

 protected:
  Runtime() = default;
};

}  // namespace perdiem
