// `perdiem`: the command line, a thin client of the public SDK.
// The agent's answer goes to stdout; everything else (diagnostics, logs, errors) to
// stderr, so `perdiem run plan.lua > answer.txt` captures only the answer.
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "args.hpp"
#include "home_runtime.hpp"
#include "memory_commands.hpp"
#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"
#include "progress_line.hpp"
#include "provider_commands.hpp"
#include "wallet_command.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitInterrupted = 130;
constexpr int kExitUsage = 2;

const char* level_name(perdiem::LogLevel level) {
  switch (level) {
    case perdiem::LogLevel::info:
      return "info";
    case perdiem::LogLevel::warn:
      return "warn";
    case perdiem::LogLevel::error:
      return "error";
  }
  return "info";
}

void print_error(const perdiem::Error& error) {
  std::cerr << "perdiem: " << error.describe() << "\n";
}

// One line on stderr: calls, tokens, spend, providers, run id.
void print_summary(const perdiem::cli::RunCommand& command, const perdiem::RunResult& result) {
  std::string served_by;
  for (const std::string& name : result.providers) {
    served_by += (served_by.empty() ? "" : ", ") + name;
  }
  std::cerr << "perdiem: " << result.usage.model_calls << " model call"
            << (result.usage.model_calls == 1 ? "" : "s") << ", " << result.usage.input_tokens
            << " input + " << result.usage.output_tokens << " output tokens, spent "
            << perdiem::format_usd_display(result.usage.cost)
            << (command.budget ? " of " + perdiem::format_usd_display(*command.budget) : "")
            << (served_by.empty() ? "" : ", served by " + served_by) << ", run " << result.run_id
            << "\n";
}

// --json: {"ok", "result" (the plan's value as JSON) or "error" {kind, message, source,
// and for a refusal for money needed_nanos, available_nanos}, "run_id", "providers", "usage"
// {model_calls, input_tokens, output_tokens, cost_nanos, cost_usd}}: one line a program can parse.
std::string result_json(const perdiem::RunResult& result) {
  nlohmann::json doc;
  doc["ok"] = result.ok();
  if (result.ok()) {
    doc["result"] = nlohmann::json::parse(result.json, nullptr, /*allow_exceptions=*/false);
  } else {
    const perdiem::Error& error = *result.error;
    doc["error"] = {{"kind", std::string(perdiem::to_string(error.kind))},
                    {"message", error.message},
                    {"source", error.source}};
    if (error.needed_nanos) doc["error"]["needed_nanos"] = *error.needed_nanos;
    if (error.available_nanos) doc["error"]["available_nanos"] = *error.available_nanos;
  }
  doc["run_id"] = result.run_id;
  doc["providers"] = result.providers;
  doc["usage"] = {{"model_calls", result.usage.model_calls},
                  {"input_tokens", result.usage.input_tokens},
                  {"output_tokens", result.usage.output_tokens},
                  {"cost_nanos", result.usage.cost},
                  {"cost_usd", perdiem::format_usd(result.usage.cost)}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Waits for the run; SIGINT (Ctrl-C) or SIGTERM cancels it, which stops the plan at its
// next instruction, call or sleep with the wallet exact (calls in flight are settled or
// released), and the result says it was cancelled. The signals must be blocked in every
// thread (block_stop_signals) so that this thread alone receives them.
perdiem::RunResult run_until_done_or_interrupted(std::shared_ptr<perdiem::RunHandle> handle) {
  sigset_t watched;
  sigemptyset(&watched);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGUSR1);  // "the run is over": wakes the watcher to leave
  std::thread watcher([&] {
    for (;;) {
      int received = 0;
      if (sigwait(&watched, &received) != 0 || received == SIGUSR1) return;
      std::cerr << "perdiem: " << (received == SIGINT ? "interrupted" : "terminated")
                << "; cancelling run " << handle->run_id() << "\n";
      handle->cancel();
    }
  });
  perdiem::RunResult result = handle->wait();
  pthread_kill(watcher.native_handle(), SIGUSR1);
  watcher.join();
  return result;
}

// Blocks SIGINT, SIGTERM and SIGUSR1 in this thread and every thread started after it, so
// that run_until_done_or_interrupted's watcher receives them with sigwait.
void block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
}

// The MCP servers `names` (--mcp) from config.json in PERDIEM_HOME.
perdiem::Result<std::vector<perdiem::McpServer>> mcp_servers_named(
    const std::vector<std::string>& names) {
  std::vector<perdiem::McpServer> chosen;
  if (names.empty()) return chosen;
  auto home = perdiem::home_directory();
  if (!home) return home.error();
  auto declared = perdiem::mcp_servers_from_config(*home);
  if (!declared) return declared.error();
  for (const std::string& name : names) {
    auto found = std::find_if(declared->begin(), declared->end(),
                              [&](const perdiem::McpServer& s) { return s.name == name; });
    if (found == declared->end()) {
      return perdiem::make_error(perdiem::ErrorKind::config,
                                 "no MCP server '" + name + "' in " + *home +
                                     "/config.json (declare it under \"mcp_servers\")");
    }
    chosen.push_back(*found);
  }
  return chosen;
}

// `perdiem tools list`: every tool a run can be given, built-ins marked.
int tools_list(const perdiem::cli::ToolsListCommand& command) {
  perdiem::RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  auto servers = mcp_servers_named(command.mcp_servers);
  if (!servers) {
    print_error(servers.error());
    return kExitFailed;
  }
  options.mcp_servers = std::move(*servers);
  auto runtime = perdiem::Runtime::create(std::move(options));
  if (!runtime) {
    print_error(runtime.error());
    return kExitFailed;
  }
  for (const perdiem::ToolInfo& tool : (*runtime)->tools()) {
    std::string description = tool.description.substr(0, tool.description.find('\n'));
    std::cout << tool.name << (tool.builtin ? "  (built-in: needs --allow-tool)" : "")
              << (tool.price_nanos ? "  " + perdiem::format_usd_display(*tool.price_nanos) + "/call"
                                   : "")
              << "\n    " << description << "\n";
  }
  return kExitOk;
}

int run(const perdiem::cli::RunCommand& command) {
  block_stop_signals();
  perdiem::RuntimeOptions options;
  options.provider = command.provider;
  if (command.use_wallet) {
    auto wallet = perdiem::cli::open_home_wallet();
    if (!wallet) {
      print_error(wallet.error());
      return kExitFailed;
    }
    options.wallet = std::move(*wallet);
  }
  // Traces and memory.* persist in PERDIEM_HOME/memory.db (temporary without a home).
  options.memory_path = perdiem::cli::run_memory_path();
  auto routing = perdiem::cli::home_routing();
  if (!routing) {
    print_error(routing.error());
    return kExitFailed;
  }
  options.routing = std::move(*routing);
  auto refreshed = perdiem::cli::home_refreshed_prices();
  if (!refreshed) {
    print_error(refreshed.error());
    return kExitFailed;
  }
  options.prices = std::move(*refreshed);
  auto servers = mcp_servers_named(command.mcp_servers);
  if (!servers) {
    print_error(servers.error());
    return kExitFailed;
  }
  options.mcp_servers = std::move(*servers);
  // A live progress line on stderr, only when a person watches it (a terminal).
  const bool show_progress = !command.quiet && ::isatty(STDERR_FILENO) == 1;
  auto progress = std::make_shared<perdiem::cli::ProgressLine>(STDERR_FILENO);
  if (show_progress) {
    options.on_step = [progress](const perdiem::StepEvent& event) { progress->record(event); };
    options.on_run = [progress](const perdiem::RunEvent& event) { progress->record(event); };
  }
  // --quiet keeps warnings and errors (the plan's and perdiem's), as `curl -s` keeps its
  // errors: a headless operator still learns what went wrong.
  const bool quiet = command.quiet;
  options.on_log = [show_progress, progress, quiet](perdiem::LogLevel level,
                                                    std::string_view line) {
    if (quiet && level == perdiem::LogLevel::info) return;
    const std::string text =
        "[" + std::string(level_name(level)) + "] " + std::string(line) + "\n";
    if (show_progress) {
      progress->print_above(text);  // erased first, redrawn below it: never interleaved
    } else {
      std::cerr << text;
    }
  };
  auto runtime = perdiem::Runtime::create(std::move(options));
  if (!runtime) {
    print_error(runtime.error());
    return kExitFailed;
  }
  if (!command.quiet) {
    std::cerr << "perdiem: provider " << (*runtime)->provider_name() << ", model "
              << (*runtime)->default_model() << " (" << (*runtime)->provider_reason() << ")";
    if ((*runtime)->provider_name() == "sim") {
      std::cerr << "; offline sim answers. Set --provider or PERDIEM_PROVIDER for a real "
                   "model";
    }
    std::cerr << "\n";
    std::cerr << "perdiem: wallet " << (*runtime)->wallet_address()
              << ((*runtime)->wallet_is_ephemeral()
                      ? " (this run's own, empty: free providers only; see `perdiem wallet init`)"
                      : "")
              << "\n";
  }

  perdiem::RunOptions run_options;
  run_options.args = command.args;
  run_options.memory_limit_bytes = command.memory_limit_bytes;
  run_options.timeout = std::chrono::milliseconds(command.timeout_ms);
  run_options.budget = command.budget;
  run_options.max_call_cost = command.max_call_cost;
  run_options.agent = command.agent;
  run_options.agent_day_budget = command.agent_day_budget;
  run_options.max_steps = command.max_steps;
  run_options.allowed_tools = command.allowed_tools;
  run_options.allowed_hosts = command.allowed_hosts;
  run_options.workspace = command.workspace;
  run_options.shell_commands = command.shell_commands;
  if (show_progress) progress->start();
  perdiem::RunResult result =
      run_until_done_or_interrupted((*runtime)->start_file(command.script, run_options));
  progress->stop();
  if (command.json) {
    std::cout << result_json(result) << std::endl;
    if (!command.quiet) print_summary(command, result);
    if (result.ok()) return kExitOk;
    return result.error->kind == perdiem::ErrorKind::cancelled ? kExitInterrupted : kExitFailed;
  }
  if (!result.ok()) {
    if (!command.quiet) print_summary(command, result);
    print_error(*result.error);
    // 128 + SIGINT, as shells report an interrupted command.
    return result.error->kind == perdiem::ErrorKind::cancelled ? kExitInterrupted : kExitFailed;
  }
  std::cout << result.text;
  if (result.text.empty() || result.text.back() != '\n') std::cout << "\n";
  std::cout.flush();
  if (!command.quiet) print_summary(command, result);
  return kExitOk;
}

int mock_provider(perdiem::cli::MockProviderCommand command) {
  if (!command.required_key_env.empty()) {
    const char* key = std::getenv(command.required_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      std::cerr << "perdiem: usage: " << command.required_key_env << " is not set\n";
      return kExitUsage;
    }
    command.options.required_key = key;
  }
  // Block the stop signals before the server starts its threads (they inherit the
  // mask), then wait for one here: a clean stop without async-signal-unsafe handlers.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto server = perdiem::MockProvider::start(command.options);
  if (!server) {
    print_error(server.error());
    return kExitFailed;
  }
  std::cout << "perdiem mock-provider listening on " << (*server)->base_url() << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  (*server)->stop();
  std::cerr << "perdiem: mock-provider stopped after " << (*server)->requests_served()
            << " requests\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (!words.empty() && words[0] == "providers") {
    return perdiem::cli::providers_main(std::vector<std::string>(words.begin() + 1, words.end()));
  }
  if (!words.empty() && words[0] == "wallet") {
    return perdiem::cli::wallet_main(std::vector<std::string>(words.begin() + 1, words.end()));
  }
  if (!words.empty() && (words[0] == "runs" || words[0] == "replay" || words[0] == "memory")) {
    const std::vector<std::string> rest(words.begin() + 1, words.end());
    if (words[0] == "runs") return perdiem::cli::runs_main(rest);
    if (words[0] == "replay") return perdiem::cli::replay_main(rest);
    return perdiem::cli::memory_main(rest);
  }
  auto command = perdiem::cli::parse_args(words);
  if (!command) {
    std::cerr << "perdiem: " << command.error().message << "\n";
    return kExitUsage;
  }
  if (std::holds_alternative<perdiem::cli::HelpCommand>(*command)) {
    std::cout << perdiem::cli::help_text();
    return kExitOk;
  }
  if (std::holds_alternative<perdiem::cli::VersionCommand>(*command)) {
    std::cout << "perdiem " << perdiem::version() << "\n";
    return kExitOk;
  }
  if (auto* run_command = std::get_if<perdiem::cli::RunCommand>(&*command)) {
    return run(*run_command);
  }
  if (auto* tools_command = std::get_if<perdiem::cli::ToolsListCommand>(&*command)) {
    return tools_list(*tools_command);
  }
  return mock_provider(std::get<perdiem::cli::MockProviderCommand>(*command));
}
