#include "args.hpp"

#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string_view>

namespace perdiem::cli {
namespace {

Error usage_error(const std::string& message) {
  return make_error(ErrorKind::usage, message + " (see `perdiem --help`)");
}

// `perdiem COMMAND --help` shows the help, as `perdiem --help` does.
bool is_help(const std::string& word) {
  return word == "--help" || word == "-h";
}

// Walks argv; options take their value from the next word or after '='.
class Words {
 public:
  explicit Words(const std::vector<std::string>& words) : words_(words) {}
  bool done() const { return next_ >= words_.size(); }
  const std::string& peek() const { return words_[next_]; }
  std::string take() { return words_[next_++]; }
  std::vector<std::string> rest() {
    std::vector<std::string> remaining(words_.begin() + static_cast<long>(next_), words_.end());
    next_ = words_.size();
    return remaining;
  }

  // For "--name VALUE" or "--name=VALUE": the value, or a usage error.
  Result<std::string> value_of(const std::string& option, const std::string& inline_value,
                               bool has_inline) {
    if (has_inline) return inline_value;
    if (done()) return usage_error(option + " needs a value");
    return take();
  }

 private:
  const std::vector<std::string>& words_;
  std::size_t next_ = 0;
};

template <typename Int>
Result<Int> parse_integer(const std::string& option, const std::string& text, Int min, Int max) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return usage_error(option + " expects a whole number from " + std::to_string(min) + " to " +
                       std::to_string(max) + ", got '" + text + "'");
  }
  return value;
}

// Applies one `perdiem run` option's value; `option` is its name, for messages.
using RunOption = Status (*)(RunCommand& run, const std::string& option, const std::string& value);

Status set_usd(std::optional<Nanos>& target, const std::string& option, const std::string& value) {
  Result<Nanos> amount = parse_usd(value);
  if (!amount) return usage_error(option + " expects an amount of USD such as 0.25");
  target = *amount;
  return {};
}

template <typename Int>
Status set_integer(Int& target, const std::string& option, const std::string& value, Int min,
                   Int max, Int scale = 1) {
  auto parsed = parse_integer<Int>(option, value, min, max);
  if (!parsed) return parsed.error();
  target = *parsed * scale;
  return {};
}

// A size with a binary unit, as `--memory-limit` takes it: "64M", "64MiB", "512K", "1G"
// (K, M and G are 1024, 1024^2 and 1024^3 bytes; "B" and "iB" may follow). A bare number
// is refused rather than guessed at: bytes to one tool, MiB to another.
Status set_size(std::size_t& target, const std::string& option, const std::string& value,
                std::size_t min, std::size_t max) {
  std::size_t number = 0;
  const char* const begin = value.data();
  const char* const end = begin + value.size();
  auto [unit, ec] = std::from_chars(begin, end, number);
  std::string_view suffix(unit, static_cast<std::size_t>(end - unit));
  std::size_t scale = 0;
  if (!suffix.empty()) {
    const char letter = static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0])));
    scale = letter == 'K'   ? std::size_t{1} << 10
            : letter == 'M' ? std::size_t{1} << 20
            : letter == 'G' ? std::size_t{1} << 30
                            : 0;
    suffix.remove_prefix(1);
    if (suffix != "" && suffix != "B" && suffix != "iB") scale = 0;
  }
  const bool ok = ec == std::errc() && unit != begin && scale != 0 && number <= max / scale &&
                  number * scale >= min && number * scale <= max;
  if (!ok) {
    return usage_error(option + " expects a size with a unit from " + std::to_string(min >> 20) +
                       "M to " + std::to_string(max >> 30) + "G, such as 64M or 512MiB, got '" +
                       value + "'");
  }
  target = number * scale;
  return {};
}

// The options of `perdiem run` that take a value. One table, so an unknown option is
// refused before its value is looked for (`perdiem run --bogus` is "unknown option", not
// "--bogus needs a value").
const std::map<std::string_view, RunOption>& run_options() {
  using R = RunCommand;
  using S = const std::string&;
  static const std::map<std::string_view, RunOption> options = {
      {"--provider",
       [](R& r, S, S v) {
         r.provider.provider = v;
         return Status();
       }},
      {"--base-url",
       [](R& r, S, S v) {
         r.provider.base_url = v;
         return Status();
       }},
      {"--model",
       [](R& r, S, S v) {
         r.provider.model = v;
         return Status();
       }},
      {"--seed",
       [](R& r, S o, S v) {
         return set_integer<std::uint64_t>(r.provider.sim_seed, o, v, 0,
                                           std::numeric_limits<std::uint64_t>::max());
       }},
      {"--memory-limit",
       [](R& r, S o, S v) {
         return set_size(r.memory_limit_bytes, o, v, std::size_t{1} << 20, std::size_t{64} << 30);
       }},
      {"--memory-limit-mb",  // the same in MiB, as a bare number
       [](R& r, S o, S v) {
         return set_integer<std::size_t>(r.memory_limit_bytes, o, v, 1, 65536, 1u << 20);
       }},
      {"--budget", [](R& r, S o, S v) { return set_usd(r.budget, o, v); }},
      {"--max-call-cost", [](R& r, S o, S v) { return set_usd(r.max_call_cost, o, v); }},
      {"--agent-day-budget", [](R& r, S o, S v) { return set_usd(r.agent_day_budget, o, v); }},
      {"--timeout",
       [](R& r, S o, S v) {
         return set_integer<std::uint64_t>(r.timeout_ms, o, v, 1, 7 * 24 * 3600, 1000);
       }},
      {"--allow-tool",
       [](R& r, S, S v) {
         r.allowed_tools.push_back(v);
         return Status();
       }},
      {"--allow-host",
       [](R& r, S, S v) {
         r.allowed_hosts.push_back(v);
         return Status();
       }},
      {"--workspace",
       [](R& r, S, S v) {
         r.workspace = v;
         return Status();
       }},
      {"--allow-command",
       [](R& r, S, S v) {
         r.shell_commands.push_back(v);
         return Status();
       }},
      {"--mcp",
       [](R& r, S, S v) {
         r.mcp_servers.push_back(v);
         return Status();
       }},
      {"--max-steps",
       [](R& r, S o, S v) {
         return set_integer<std::uint64_t>(r.max_steps, o, v, 1, 1'000'000'000);
       }},
      {"--agent",
       [](R& r, S, S v) {
         r.agent = v;
         return Status();
       }},
  };
  return options;
}

Result<Command> parse_run(Words& words) {
  RunCommand run;
  while (!words.done()) {
    std::string word = words.peek();
    if (word == "--") {
      words.take();
      break;
    }
    if (is_help(word)) return Command(HelpCommand{});  // only before SCRIPT: after, the plan's
    if (word.size() < 2 || word.compare(0, 2, "--") != 0) break;  // the script
    words.take();
    std::size_t eq = word.find('=');
    bool has_inline = eq != std::string::npos;
    std::string option = has_inline ? word.substr(0, eq) : word;
    std::string inline_value = has_inline ? word.substr(eq + 1) : std::string();
    if (option == "--quiet") {
      run.quiet = true;
      continue;
    }
    if (option == "--json") {
      run.json = true;
      continue;
    }
    if (option == "--no-wallet") {
      run.use_wallet = false;
      continue;
    }
    const auto known = run_options().find(option);
    if (known == run_options().end()) {
      return usage_error("unknown option '" + option + "' for `perdiem run`");
    }
    Result<std::string> value = words.value_of(option, inline_value, has_inline);
    if (!value) return value.error();
    if (Status applied = known->second(run, option, *value); !applied.ok()) return applied.error();
  }
  if (run.agent_day_budget && run.agent.empty()) {
    return usage_error("--agent-day-budget needs --agent NAME to count the day's spending");
  }
  if (words.done()) return usage_error("`perdiem run` needs a SCRIPT");
  run.script = words.take();
  run.args = words.rest();
  return Command(std::move(run));
}

Result<double> parse_rate(const std::string& option, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !(value >= 0.0 && value <= 1.0)) {
    return usage_error(option + " expects a number from 0 to 1, got '" + text + "'");
  }
  return value;
}

// A scenario file (see perdiem::mock_scenario_from_json) over the options so far; flags
// after --scenario override it.
Status apply_scenario(const std::string& path, MockProviderOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error("--scenario: cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  Result<MockProviderOptions> read = mock_scenario_from_json(text.str(), options);
  if (!read) return usage_error("--scenario " + path + ": " + read.error().message);
  options = std::move(read).value();
  return Status::success();
}

Result<Command> parse_mock_provider(Words& words) {
  MockProviderCommand mock;
  MockProviderOptions& o = mock.options;
  constexpr int kIntMax = std::numeric_limits<int>::max();
  while (!words.done()) {
    std::string word = words.take();
    if (is_help(word)) return Command(HelpCommand{});
    std::size_t eq = word.find('=');
    bool has_inline = eq != std::string::npos;
    std::string option = has_inline ? word.substr(0, eq) : word;
    if (option == "--malformed-json" && !has_inline) {
      o.malformed_json = true;
      continue;
    }
    if (option == "--wrong-content-type" && !has_inline) {
      o.wrong_content_type = true;
      continue;
    }
    std::string inline_value = has_inline ? word.substr(eq + 1) : std::string();
    Result<std::string> value = words.value_of(option, inline_value, has_inline);
    if (!value) return value.error();
    // The millisecond options share one parser and range.
    auto milliseconds = [&](std::chrono::milliseconds& out) -> Status {
      auto ms = parse_integer<std::int64_t>(option, *value, 0, 3'600'000);
      if (!ms) return ms.error();
      out = std::chrono::milliseconds(*ms);
      return Status::success();
    };
    Status status = Status::success();
    if (option == "--port") {
      auto port = parse_integer<std::uint16_t>(option, *value, 0, 65535);
      if (!port) return port.error();
      o.port = *port;
    } else if (option == "--host") {
      o.host = *value;
    } else if (option == "--seed") {
      auto seed = parse_integer<std::uint64_t>(option, *value, 0,
                                               std::numeric_limits<std::uint64_t>::max());
      if (!seed) return seed.error();
      o.seed = *seed;
    } else if (option == "--require-key-env") {
      mock.required_key_env = *value;
    } else if (option == "--scenario") {
      status = apply_scenario(*value, o);
    } else if (option == "--latency-ms") {
      status = milliseconds(o.latency);
    } else if (option == "--latency-jitter-ms") {
      status = milliseconds(o.latency_jitter);
    } else if (option == "--chunk-delay-ms") {
      status = milliseconds(o.chunk_delay);
    } else if (option == "--fail-first") {
      auto n = parse_integer<int>(option, *value, 0, kIntMax);
      if (!n) return n.error();
      o.fail_first = *n;
    } else if (option == "--fail-status") {
      auto code = parse_integer<int>(option, *value, 400, 599);
      if (!code) return code.error();
      o.fail_status = *code;
    } else if (option == "--retry-after") {
      auto seconds = parse_integer<int>(option, *value, 0, 86'400);
      if (!seconds) return seconds.error();
      o.retry_after_seconds = *seconds;
    } else if (option == "--error-rate") {
      auto rate = parse_rate(option, *value);
      if (!rate) return rate.error();
      o.error_rate = *rate;
    } else if (option == "--oversized-body") {
      auto bytes = parse_integer<std::size_t>(option, *value, 0, std::size_t{1} << 30);
      if (!bytes) return bytes.error();
      o.oversized_body_bytes = *bytes;
    } else if (option == "--cut-after-chunks") {
      auto chunks = parse_integer<std::size_t>(option, *value, 0, std::size_t{kIntMax});
      if (!chunks) return chunks.error();
      o.cut_after_chunks = *chunks;
    } else {
      return usage_error("unknown option '" + option + "' for `perdiem mock-provider`");
    }
    if (!status.ok()) return status.error();
  }
  return Command(std::move(mock));
}

Result<Command> parse_tools(Words& words) {
  if (!words.done() && is_help(words.peek())) return Command(HelpCommand{});
  if (words.done() || words.take() != "list") {
    return usage_error("usage: perdiem tools list [--mcp NAME]...");
  }
  ToolsListCommand list;
  while (!words.done()) {
    std::string word = words.take();
    if (is_help(word)) return Command(HelpCommand{});
    std::size_t eq = word.find('=');
    bool has_inline = eq != std::string::npos;
    std::string option = has_inline ? word.substr(0, eq) : word;
    if (option != "--mcp")
      return usage_error("unknown option '" + option + "' for `perdiem tools list`");
    Result<std::string> value =
        words.value_of(option, has_inline ? word.substr(eq + 1) : std::string(), has_inline);
    if (!value) return value.error();
    list.mcp_servers.push_back(*value);
  }
  return Command(std::move(list));
}

}  // namespace

Result<Command> parse_args(const std::vector<std::string>& argv) {
  Words words(argv);
  if (words.done()) return usage_error("no command given");
  std::string command = words.take();
  if (command == "--help" || command == "-h" || command == "help") return Command(HelpCommand{});
  if (command == "version" || command == "--version") {
    if (!words.done()) return usage_error("`perdiem version` takes no arguments");
    return Command(VersionCommand{});
  }
  if (command == "run") return parse_run(words);
  if (command == "mock-provider") return parse_mock_provider(words);
  if (command == "tools") return parse_tools(words);
  return usage_error("unknown command '" + command + "'");
}

std::string help_text() {
  return R"(perdiem: run Lua agents that pay for their own inference.

Usage:
  perdiem run [OPTIONS] SCRIPT [ARGS...]   run a plan; its answer goes to stdout
  perdiem mock-provider [OPTIONS]          serve an OpenAI-compatible API on loopback
  perdiem wallet COMMAND [ARGS...]         the agent's wallet: init, address, sign,
                                           verify-message, issue, revoke, import, balance,
                                           history, verify, prices, receipts,
                                           verify-receipt (see `perdiem wallet --help`)
  perdiem tools list [--mcp NAME]...       the tools a run can be given
  perdiem providers list | test NAME | prices [--refresh]
                                           the providers and routes of config.json, their
                                           health, one test call, published prices
  perdiem runs | replay | memory ...       traces, replay and the memory store
  perdiem version                          print the version
  perdiem --help                           print this help

Options for `run` (before SCRIPT; everything after SCRIPT goes to the plan):
  --provider NAME       a preset: openrouter, venice, chutes, together, fireworks, groq,
                        deepinfra, openai, anthropic, ollama, llamacpp, or sim (offline)
  --base-url URL        any OpenAI-compatible server (key from PERDIEM_API_KEY)
  --model MODEL         the model for calls that name none
  --seed N              the sim provider's seed (default 1)
  --memory-limit SIZE   the plan's Lua heap cap, such as 512M or 1G (default 64M;
                        --memory-limit-mb N gives it in MiB)
  --timeout SECONDS     end the run with a limit error after this long
  --budget USD          the most this run may spend, e.g. 0.25
  --max-call-cost USD   the most one model call may reserve
  --agent NAME          names the agent, for --agent-day-budget
  --agent-day-budget USD  the most this agent may spend per UTC day
  --no-wallet           do not open the wallet in PERDIEM_HOME: free providers only
  --allow-tool NAME     grant a built-in tool (fs.read, http.fetch, shell.run, fs.*)
  --allow-host HOST     let http.fetch reach HOST (repeatable)
  --workspace DIR       the folder fs.* tools work in (and only it)
  --allow-command PROG  let shell.run run PROG (repeatable; needs --allow-tool shell.run)
  --mcp NAME            start the MCP server NAME from config.json; its tools join the run
  --max-steps N         end the run with a limit error at its (N+1)th model call
  --json                print the result and its figures as one JSON object on stdout
  --quiet               print only the answer, warnings and errors

Options for `mock-provider`:
  --port P              port to listen on; 0 picks a free one (default 0)
  --host H              address to bind (default 127.0.0.1)
  --seed N              the sim provider's seed (default 1)
  --require-key-env VAR clients must send the key held in environment variable VAR
  Faults, for testing retries and fallbacks (model requests only; seeded by --seed):
  --latency-ms N        wait N ms before answering each request
  --latency-jitter-ms N plus a random 0..N ms
  --fail-first N        fail the first N requests with --fail-status, then succeed
  --error-rate R        fail later requests with probability R (0 to 1)
  --fail-status S       the failure status: 429, 500, 503, ... (default 500)
  --retry-after S       send "Retry-After: S" with each failure
  --malformed-json      answer 200 with the JSON body cut in half
  --wrong-content-type  answer 200 with an HTML page (text/html)
  --oversized-body N    pad each answer with spaces to N bytes
  --cut-after-chunks K  close a stream's connection after K events
  --chunk-delay-ms N    wait N ms before each event of a stream
  --scenario FILE       read these as JSON ({"fail_first": 2, "latency_ms": 50, ...});
                        flags after it override it

Environment:
  PERDIEM_PROVIDER, PERDIEM_BASE_URL, PERDIEM_MODEL, PERDIEM_API_KEY, and each
  provider's own key variable (OPENROUTER_API_KEY, VENICE_API_KEY, ...). With none set,
  perdiem uses the offline sim provider.

Exit status: 0 success, 1 the agent failed, 2 usage error, 130 cancelled (Ctrl-C,
SIGTERM).
)";
}

}  // namespace perdiem::cli
