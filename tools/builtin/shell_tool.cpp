#include "tools/builtin/shell_tool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "tools/subprocess.hpp"
#include "tools/text.hpp"

namespace perdiem::tools {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Captured {
  std::string text;
  bool truncated = false;
};

// Keeps reading past the cap (discarding) so a chatty child never blocks on a full pipe.
void append_capped(Captured& sink, const char* data, std::size_t size, std::size_t cap) {
  std::size_t room = cap > sink.text.size() ? cap - sink.text.size() : 0;
  sink.text.append(data, std::min(room, size));
  if (size > room) sink.truncated = true;
}

Result<std::string> resolve_command(const ShellToolOptions& options, const std::string& command) {
  auto allowed =
      std::find(options.allowed_commands.begin(), options.allowed_commands.end(), command);
  if (allowed == options.allowed_commands.end()) {
    return make_error(ErrorKind::tool,
                      "command '" + command +
                          "' is not on shell.run's allow-list; an operator can add it to "
                          "the allowed commands",
                      "shell.run");
  }
  std::string path = find_program(command, options.search_path);
  if (path.empty()) {
    return make_error(ErrorKind::tool, "command '" + command + "' is allowed but not installed",
                      "shell.run");
  }
  return path;
}

Result<json> run_command(const ShellToolOptions& options, const json& args,
                         const ToolContext& context) {
  std::string command = args["command"];
  Result<std::string> program = resolve_command(options, command);
  if (!program.ok()) return program.error();
  std::string input = args.value("stdin", "");
  if (input.size() > options.max_stdin_bytes) {
    return make_error(
        ErrorKind::tool,
        "stdin is larger than the allowed " + std::to_string(options.max_stdin_bytes) + " bytes",
        "shell.run");
  }
  auto timeout = options.timeout;
  if (args.contains("timeout_ms")) {
    timeout = std::min(options.max_timeout,
                       std::chrono::milliseconds(args["timeout_ms"].get<std::int64_t>()));
  }

  SpawnSpec spec;
  spec.program = *program;
  spec.args = args.value("args", std::vector<std::string>{});
  spec.env = options.environment;
  spec.cwd = options.working_directory;
  spec.want_stdin = true;
  Result<ChildProcess> spawned = spawn_process(spec);
  if (!spawned.ok()) return spawned.error();
  ChildProcess& child = *spawned;
  ::fcntl(child.stdin_fd.get(), F_SETFL, O_NONBLOCK);
  if (input.empty()) child.stdin_fd.reset();

  Captured out, err;
  std::size_t written = 0;
  bool timed_out = false;
  bool cancelled = false;
  auto deadline = Clock::now() + timeout;
  char buffer[8192];
  while (child.stdout_fd.valid() || child.stderr_fd.valid()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (context.is_cancelled()) {
      cancelled = true;
      break;
    }
    pollfd fds[3] = {{child.stdout_fd.get(), POLLIN, 0},
                     {child.stderr_fd.get(), POLLIN, 0},
                     {child.stdin_fd.get(), POLLOUT, 0}};
    // Wake at least every 100 ms to notice a cancelled run.
    int rc = ::poll(fds, 3, static_cast<int>(std::min<std::int64_t>(left.count(), 100)));
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    if (fds[2].revents != 0) {
      ssize_t n = ::send(child.stdin_fd.get(), input.data() + written, input.size() - written,
                         MSG_NOSIGNAL);
      if (n > 0) written += static_cast<std::size_t>(n);
      // Done, or the child stopped reading: either way close its stdin.
      if (written == input.size() || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        child.stdin_fd.reset();
      }
    }
    UniqueFd* streams[2] = {&child.stdout_fd, &child.stderr_fd};
    Captured* sinks[2] = {&out, &err};
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = ::read(streams[i]->get(), buffer, sizeof buffer);
      if (n > 0) {
        append_capped(*sinks[i], buffer, static_cast<std::size_t>(n), options.max_output_bytes);
      } else if (n == 0 || errno != EINTR) {
        streams[i]->reset();
      }
    }
  }
  child.stdin_fd.reset();
  int status = 0;
  if (timed_out || cancelled) {
    signal_group(child.pid, SIGKILL);
    status = terminate_child(child.pid, std::chrono::milliseconds(0));
  } else {
    // Output closed; the child may still be running (it closed stdout): wait the rest.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    auto exited = wait_for_exit(child.pid, std::max(left, std::chrono::milliseconds(0)));
    if (!exited) {
      timed_out = true;
      status = terminate_child(child.pid, std::chrono::milliseconds(0));
    } else {
      status = *exited;
    }
  }
  if (timed_out) {
    return make_error(ErrorKind::timeout,
                      "command '" + command + "' ran past its " + std::to_string(timeout.count()) +
                          " ms limit and was killed",
                      "shell.run");
  }
  if (cancelled) {
    return make_error(ErrorKind::cancelled, "the run was cancelled", "shell.run");
  }
  json result = {{"stdout", sanitize_utf8(out.text)},
                 {"stderr", sanitize_utf8(err.text)},
                 {"stdout_truncated", out.truncated},
                 {"stderr_truncated", err.truncated}};
  if (WIFEXITED(status)) {
    result["exit_code"] = WEXITSTATUS(status);
  } else {
    result["exit_code"] = nullptr;
    result["signal"] = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return result;
}

}  // namespace

Tool make_shell_run_tool(ShellToolOptions options) {
  Tool tool;
  tool.name = "shell.run";
  std::string list;
  for (const std::string& command : options.allowed_commands) {
    list += (list.empty() ? "" : ", ") + command;
  }
  tool.description =
      "Run one program with arguments (no shell: no pipes, globs or variables). Allowed "
      "commands: " +
      (list.empty() ? std::string("none") : list) + ".";
  tool.parameters = {
      {"type", "object"},
      {"properties",
       {{"command", {{"type", "string"}, {"description", "one of the allowed commands"}}},
        {"args", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"stdin", {{"type", "string"}}},
        {"timeout_ms", {{"type", "integer"}, {"minimum", 1}}}}},
      {"required", {"command"}},
      {"additionalProperties", false}};
  tool.builtin = true;
  tool.handler = [options = std::move(options)](const json& args, const ToolContext& context) {
    return run_command(options, args, context);
  };
  return tool;
}

}  // namespace perdiem::tools
