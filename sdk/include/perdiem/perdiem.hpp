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
// threads at once, each run having its own Lua state. RuntimeOptions, RunOptions and
// RunResult are plain values.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/export.h"

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
};

enum class LogLevel { info, warn, error };

struct RuntimeOptions {
  ProviderSettings provider;
  // Receives the plans' log lines and the runtime's diagnostics. Called on the thread
  // that runs the plan. Default: nothing is printed.
  std::function<void(LogLevel, std::string_view)> on_log;
};

// Limits of one run. Every limit has a safe default.
struct RunOptions {
  std::vector<std::string> args;                  // the plan sees them as agent.args
  std::size_t memory_limit_bytes = 64u << 20;     // the Lua state's heap cap
};

// Totals over one run's model calls.
struct RunUsage {
  int model_calls = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
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

  bool ok() const { return !error.has_value(); }
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

  // The provider calls go to when a call names none, e.g. "sim" or "openrouter",
  // and why it was chosen ("flag", "environment", "default").
  virtual std::string provider_name() const = 0;
  virtual std::string provider_reason() const = 0;
  virtual std::string default_model() const = 0;

 protected:
  Runtime() = default;
};

}  // namespace perdiem
