// `perdiem`: the command line, a thin client of the public SDK.
// The agent's answer goes to stdout; everything else (diagnostics, logs, errors) to
// stderr, so `perdiem run plan.lua > answer.txt` captures only the answer.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"
#include "wallet_command.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

const char* level_name(perdiem::LogLevel level) {
  switch (level) {
    case perdiem::LogLevel::info: return "info";
    case perdiem::LogLevel::warn: return "warn";
    case perdiem::LogLevel::error: return "error";
  }
  return "info";
}

void print_error(const perdiem::Error& error) {
  std::cerr << "perdiem: " << error.describe() << "\n";
}

int run(const perdiem::cli::RunCommand& command) {
  perdiem::RuntimeOptions options;
  options.provider = command.provider;
  options.on_log = [](perdiem::LogLevel level, std::string_view line) {
    std::cerr << "[" << level_name(level) << "] " << line << "\n";
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
  }

  perdiem::RunOptions run_options;
  run_options.args = command.args;
  run_options.memory_limit_bytes = command.memory_limit_bytes;
  perdiem::RunResult result = (*runtime)->run_file(command.script, run_options);
  if (!result.ok()) {
    print_error(*result.error);
    return kExitFailed;
  }
  std::cout << result.text;
  if (result.text.empty() || result.text.back() != '\n') std::cout << "\n";
  std::cout.flush();
  if (!command.quiet) {
    std::string served_by;
    for (const std::string& name : result.providers) {
      served_by += (served_by.empty() ? "" : ", ") + name;
    }
    std::cerr << "perdiem: " << result.usage.model_calls << " model call"
              << (result.usage.model_calls == 1 ? "" : "s") << ", "
              << result.usage.input_tokens << " input + " << result.usage.output_tokens
              << " output tokens" << (served_by.empty() ? "" : ", served by " + served_by)
              << "\n";
  }
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
  if (!words.empty() && words[0] == "wallet") {
    return perdiem::cli::wallet_main(std::vector<std::string>(words.begin() + 1, words.end()));
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
  return mock_provider(std::get<perdiem::cli::MockProviderCommand>(*command));
}
