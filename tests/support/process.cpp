#include "support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace perdiem::testing {
namespace {

std::vector<std::string> environment_for(const Environment& extra) {
  Environment env;
  for (const char* name : {"PATH", "HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  // No test may find a developer's own wallet: a home that does not exist, unless the
  // test gives one.
  env["PERDIEM_HOME"] = "/nonexistent/perdiem-test-home";
  for (const auto& [name, value] : extra) env[name] = value;
  std::vector<std::string> entries;
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  return entries;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
  std::vector<char*> result;
  for (std::string& word : words) result.push_back(word.data());
  result.push_back(nullptr);
  return result;
}

// Spawns `program` with stdout/stderr on new pipes; returns the child's pid.
pid_t spawn(const std::string& program, const std::vector<std::string>& args,
            const Environment& extra, int* out_fd, int* err_fd) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);

  std::vector<std::string> argv_words{program};
  argv_words.insert(argv_words.end(), args.begin(), args.end());
  std::vector<std::string> env_words = environment_for(extra);
  std::vector<char*> argv = pointers(argv_words);
  std::vector<char*> envp = pointers(env_words);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) throw std::runtime_error("cannot start " + program);
  *out_fd = out_pipe[0];
  *err_fd = err_pipe[0];
  return pid;
}

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Reads both pipes to EOF without deadlocking on a full pipe.
void drain(int out_fd, int err_fd, std::string& out, std::string& err) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open_count = 2;
  char buffer[4096];
  while (open_count > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_count;
      }
    }
  }
}

}  // namespace

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const Environment& extra) {
  int out_fd = -1;
  int err_fd = -1;
  pid_t pid = spawn(program, args, extra, &out_fd, &err_fd);
  ProcessResult result;
  drain(out_fd, err_fd, result.out, result.err);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = exit_code_of(status);
  return result;
}

BackgroundProcess::BackgroundProcess(const std::string& program,
                                     const std::vector<std::string>& args, const Environment& extra,
                                     const std::string& ready_on_stderr) {
  pid_ = spawn(program, args, extra, &stdout_fd_, &stderr_fd_);
  char c = 0;
  if (!ready_on_stderr.empty()) {
    while (err_.find(ready_on_stderr) == std::string::npos && read(stderr_fd_, &c, 1) == 1) {
      err_ += c;
    }
    return;
  }
  while (read(stdout_fd_, &c, 1) == 1 && c != '\n') first_line_ += c;
}

int BackgroundProcess::stop(int signal) {
  if (pid_ < 0) return -1;
  kill(pid_, signal);
  std::string out;
  drain(stdout_fd_, stderr_fd_, out, err_);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return exit_code_of(status);
}

BackgroundProcess::~BackgroundProcess() {
  stop();
}

}  // namespace perdiem::testing
