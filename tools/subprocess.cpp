#include "tools/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace perdiem::tools {
namespace {

std::string path_of(const std::vector<std::string>& env) {
  for (const std::string& entry : env) {
    if (entry.rfind("PATH=", 0) == 0) return entry.substr(5);
  }
  const char* parent = std::getenv("PATH");
  return parent != nullptr ? parent : "/usr/local/bin:/usr/bin:/bin";
}

std::vector<char*> pointers(std::vector<std::string>& words) {
  std::vector<char*> result;
  for (std::string& word : words) result.push_back(word.data());
  result.push_back(nullptr);
  return result;
}

struct SpawnAttributes {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnAttributes() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

}  // namespace

std::string find_program(const std::string& name, std::string_view search_path) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return name;
  std::size_t start = 0;
  while (start <= search_path.size()) {
    std::size_t end = search_path.find(':', start);
    if (end == std::string_view::npos) end = search_path.size();
    std::string dir(search_path.substr(start, end - start));
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return "";
}

Result<ChildProcess> spawn_process(const SpawnSpec& spec) {
  std::string program = find_program(spec.program, path_of(spec.env));
  if (program.empty()) {
    return make_error(ErrorKind::tool, "program '" + spec.program + "' was not found on the PATH",
                      spec.program);
  }
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  int in_pair[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return make_error(ErrorKind::internal, std::string("pipe: ") + std::strerror(errno));
  }
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return make_error(ErrorKind::internal, std::string("pipe: ") + std::strerror(errno));
  }
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
  UniqueFd in_parent, in_child;
  if (spec.want_stdin) {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
      return make_error(ErrorKind::internal, std::string("socketpair: ") + std::strerror(errno));
    }
    in_parent = UniqueFd(in_pair[0]);
    in_child = UniqueFd(in_pair[1]);
  }

  SpawnAttributes sa;
  if (spec.want_stdin) {
    posix_spawn_file_actions_adddup2(&sa.actions, in_child.get(), STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&sa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&sa.actions, out_write.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, err_write.get(), STDERR_FILENO);
  if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&sa.actions, spec.cwd.c_str());
  // Its own process group; default signal handling and an empty mask, whatever the host
  // application set (an ignored SIGPIPE would otherwise be inherited).
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, sig);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&sa.attr, &defaults);
  posix_spawnattr_setsigmask(&sa.attr, &empty);
  posix_spawnattr_setpgroup(&sa.attr, 0);
  posix_spawnattr_setflags(&sa.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv_words{spec.program};
  argv_words.insert(argv_words.end(), spec.args.begin(), spec.args.end());
  std::vector<std::string> env_words = spec.env;
  std::vector<char*> argv = pointers(argv_words);
  std::vector<char*> envp = pointers(env_words);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &sa.actions, &sa.attr, argv.data(), envp.data());
  if (rc != 0) {
    return make_error(ErrorKind::tool, "cannot start '" + spec.program + "': " + std::strerror(rc),
                      spec.program);
  }
  ChildProcess child;
  child.pid = pid;
  child.stdin_fd = std::move(in_parent);
  child.stdout_fd = std::move(out_read);
  child.stderr_fd = std::move(err_read);
  return child;
}

Status write_to_child(int stdin_fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(stdin_fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return make_error(ErrorKind::tool,
                        std::string("cannot write to the process: ") + std::strerror(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

void signal_group(pid_t pid, int signal) {
  if (pid <= 0) return;
  if (::kill(-pid, signal) != 0) ::kill(pid, signal);
}

std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return 0;  // already reaped elsewhere: nothing to wait for
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

int terminate_child(pid_t pid, std::chrono::milliseconds grace) {
  if (auto status = wait_for_exit(pid, std::chrono::milliseconds(0))) return *status;
  signal_group(pid, SIGTERM);
  if (auto status = wait_for_exit(pid, grace)) return *status;
  signal_group(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "stopped";
}

std::vector<std::string> inherit_environment(const std::vector<std::string>& names) {
  std::vector<std::string> entries;
  for (const std::string& name : names) {
    if (const char* value = std::getenv(name.c_str())) entries.push_back(name + "=" + value);
  }
  return entries;
}

}  // namespace perdiem::tools
