// shell.run: runs one allow-listed program with an argument vector, never through a
// shell, under a timeout and output caps. Built-in, and doubly off: it needs a grant
// and a non-empty command allow-list.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "tools/tool.hpp"

namespace perdiem::tools {

struct ShellToolOptions {
  // The commands the model may run, exactly as it must name them: bare names ("ls",
  // "git"), looked up in search_path at each call, or absolute paths. Empty: nothing runs.
  std::vector<std::string> allowed_commands;
  std::string search_path = "/usr/local/bin:/usr/bin:/bin";
  // The working directory (usually the run's workspace); "" keeps the process's own.
  std::string working_directory;
  // The child's whole environment; nothing else leaks in (no API keys).
  std::vector<std::string> environment = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"};
  std::chrono::milliseconds timeout{10'000};      // default per call
  std::chrono::milliseconds max_timeout{60'000};  // a call may ask for up to this
  std::size_t max_output_bytes = 64 * 1024;       // each of stdout and stderr
  std::size_t max_stdin_bytes = 1 << 20;
};

// {command, args?: [string], stdin?: string, timeout_ms?}
//   -> {exit_code, signal?, stdout, stderr, stdout_truncated, stderr_truncated}
// A non-zero exit is a result, not an error. Past the timeout the whole process group is
// killed and the call fails with a `timeout` error.
Tool make_shell_run_tool(ShellToolOptions options);

}  // namespace perdiem::tools
