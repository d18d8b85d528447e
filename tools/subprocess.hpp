// Child processes without a shell, for shell.run and MCP stdio servers.
//
// The child gets exactly the argv and environment given (no shell, no inherited
// environment unless the caller copies it in), its own process group (so a timeout can
// kill its children too), default signal dispositions, and pipes for stdout and stderr.
// Its stdin is a Unix socket rather than a pipe, so writes to a child that died fail
// with EPIPE instead of raising SIGPIPE in the host process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "tools/unique_fd.hpp"

namespace perdiem::tools {

struct SpawnSpec {
  // An absolute path, a path with a '/', or a name looked up in the PATH of `env`
  // (or, if `env` has none, of this process).
  std::string program;
  std::vector<std::string> args;  // argv[1...]
  std::vector<std::string> env;   // the child's whole environment, "NAME=value" entries
  std::string cwd;                // "" keeps this process's working directory
  bool want_stdin = false;        // false: stdin is /dev/null
};

struct ChildProcess {
  pid_t pid = -1;
  UniqueFd stdin_fd;  // only with want_stdin; write with write_to_child()
  UniqueFd stdout_fd;
  UniqueFd stderr_fd;
};

// Starts the child; errors (program not found, not executable) name the program.
Result<ChildProcess> spawn_process(const SpawnSpec& spec);

// The absolute path of `name` in the ':'-separated `search_path`, or "" if no directory
// has an executable of that name. A name with a '/' is returned as is.
std::string find_program(const std::string& name, std::string_view search_path);

// Writes all of `data`; fails (never raises SIGPIPE) when the child closed its stdin.
Status write_to_child(int stdin_fd, std::string_view data);

// Sends `signal` to the child's whole process group.
void signal_group(pid_t pid, int signal);

// Waits up to `timeout` for the child to exit; its wait status, or nullopt if it is
// still running. Reaps the child when it returns a status. A child some other code
// already reaped reads as status 0: reap each child in one place (see McpClient).
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout);

// Ends a child for good: SIGTERM to its group, `grace` to exit, then SIGKILL; reaps it.
// Returns the wait status.
int terminate_child(pid_t pid, std::chrono::milliseconds grace);

// "exited with status 3", "was killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

// The entries of this process's environment named in `names` ("PATH", "HOME"), as
// "NAME=value": to pass a child only what it needs, never the API keys around them.
std::vector<std::string> inherit_environment(const std::vector<std::string>& names);

}  // namespace perdiem::tools
