// The command line of `perdiem`, parsed into one value per subcommand. Parsing is pure
// (no I/O) so it is tested without running anything.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"
#include "perdiem/wallet.hpp"

namespace perdiem::cli {

struct HelpCommand {};
struct VersionCommand {};

struct RunCommand {
  ProviderSettings provider;
  std::string script;
  std::vector<std::string> args;  // everything after SCRIPT, passed to the plan as is
  std::size_t memory_limit_bytes = 64u << 20;
  std::uint64_t timeout_ms = 0;           // --timeout SECONDS; 0: none
  std::optional<Nanos> budget;            // --budget USD
  std::optional<Nanos> max_call_cost;     // --max-call-cost USD
  std::string agent;                      // --agent NAME
  std::optional<Nanos> agent_day_budget;  // --agent-day-budget USD
  bool use_wallet = true;                 // --no-wallet: the runtime's own empty wallet
  bool quiet = false;                     // stderr: only warnings and errors
  bool json = false;            // --json: the result and its figures as one JSON object on stdout
  std::uint64_t max_steps = 0;  // --max-steps N: model calls the run may make; 0: no limit
  std::vector<std::string> allowed_tools;   // --allow-tool NAME (repeatable)
  std::vector<std::string> allowed_hosts;   // --allow-host HOST (repeatable)
  std::string workspace;                    // --workspace DIR
  std::vector<std::string> shell_commands;  // --allow-command PROGRAM (repeatable)
  std::vector<std::string> mcp_servers;     // --mcp NAME: servers from config.json
};

// `perdiem tools list [--mcp NAME]...`
struct ToolsListCommand {
  std::vector<std::string> mcp_servers;
};

struct MockProviderCommand {
  MockProviderOptions options;
  std::string required_key_env;  // the variable holding the key clients must send
};

using Command =
    std::variant<HelpCommand, VersionCommand, RunCommand, MockProviderCommand, ToolsListCommand>;

// Fails with kind `usage`; the message says what was wrong and points at --help.
Result<Command> parse_args(const std::vector<std::string>& argv);

// The text `perdiem --help` prints.
std::string help_text();

}  // namespace perdiem::cli
