// Runs the built `perdiem` command (or any program) the way a user's shell would, for
// integration tests: a clean environment, captured stdout and stderr, the exit code.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace perdiem::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Environment for a child: PATH and HOME from the parent, PERDIEM_HOME pointing nowhere,
// plus `extra`; nothing else, so a developer's own wallet, PERDIEM_* settings or provider
// keys never leak into a test.
using Environment = std::map<std::string, std::string>;

ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                          const Environment& extra = {});

// A long-running child (a server): started, its first stdout line read, then stopped.
class BackgroundProcess {
 public:
  // With `ready_on_stderr` set, waits until the child has written that text to stderr
  // (kept in err()) instead of reading its first stdout line.
  BackgroundProcess(const std::string& program, const std::vector<std::string>& args,
                    const Environment& extra = {}, const std::string& ready_on_stderr = {});
  ~BackgroundProcess();  // SIGTERM, then reap
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  // The first line the child printed on stdout ("" if it exited first).
  const std::string& first_line() const { return first_line_; }
  // Sends `signal` and returns the exit code; then err() holds what it wrote to stderr.
  int stop(int signal = 15 /* SIGTERM */);
  const std::string& err() const { return err_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::string err_;
  std::string first_line_;
};

}  // namespace perdiem::testing
