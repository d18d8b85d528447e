// `perdiem run`'s live progress line: drawn on stderr when stderr is a terminal (here a
// pseudo-terminal), never when it is a pipe.
#include <doctest/doctest.h>

#include <pty.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "support/process.hpp"

using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;

// Long enough for the line to be drawn a few times (every 250 ms).
constexpr const char* kPlan =
    "model.chat{messages={{role='user', content='hi'}}}\n"
    "sleep(0.8)\n"
    "return 'done'\n";

std::string write_plan() {
  char tmpl[] = "/tmp/perdiem-progress-XXXXXX.lua";
  const int fd = ::mkstemps(tmpl, 4);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, kPlan, std::char_traits<char>::length(kPlan)) > 0);
  ::close(fd);
  return tmpl;
}

// Runs `perdiem run PLAN` with its stdout and stderr on a pseudo-terminal; what it wrote.
std::string run_on_terminal(const std::string& plan) {
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setenv("PERDIEM_HOME", "/nonexistent/perdiem-progress-test", 1);
    ::execl(kCli.c_str(), kCli.c_str(), "run", "--no-wallet", plan.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  std::string output;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n > 0) {
      output.append(buffer, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO once the child has exited and closed the terminal
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(master);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return output;
}

}  // namespace

TEST_CASE("the progress line is drawn on a terminal and erased before the summary") {
  const std::string plan = write_plan();
  const std::string output = run_on_terminal(plan);
  std::filesystem::remove(plan);
  CAPTURE(output);
  const std::size_t drawn = output.find("\r\033[Kperdiem: 1 agent, 0 in flight, 1 steps,");
  REQUIRE(drawn != std::string::npos);
  // The rest of the line: the call's tokens (more than none), what it cost (the sim is
  // free) and the time so far, which grows while the plan sleeps.
  const std::regex rest(R"(1 steps, ([1-9][0-9]*) tokens, \$0\.00, ([0-9]+\.[0-9])s)");
  std::vector<double> elapsed;
  for (std::sregex_iterator it(output.begin(), output.end(), rest), end; it != end; ++it) {
    elapsed.push_back(std::stod((*it)[2].str()));
  }
  REQUIRE(elapsed.size() >= 2);  // drawn every 250 ms through a 0.8 s sleep
  CHECK(elapsed.back() > elapsed.front());
  CHECK(output.find("done") != std::string::npos);
  // The last thing the line does is erase itself; the summary follows on a clean line.
  const std::size_t summary = output.find("perdiem: 1 model call");
  REQUIRE(summary != std::string::npos);
  CHECK(output.rfind("\r\033[K", summary) > drawn);
}

TEST_CASE("no progress line when stderr is not a terminal") {
  const std::string plan = write_plan();
  auto result = run_process(kCli, {"run", "--no-wallet", plan});
  std::filesystem::remove(plan);
  REQUIRE(result.exit_code == 0);
  CHECK(result.err.find("\033[K") == std::string::npos);
  CHECK(result.err.find("in flight") == std::string::npos);
}

// "agents" is the run and its sub-agents still going: it rises while a sub-agent works
// and falls back when it ends (it used to count every agent seen).
TEST_CASE("the progress line counts the agents running, not the agents seen") {
  char tmpl[] = "/tmp/perdiem-progress-agents-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/helper.lua") << "sleep(0.8)\nreturn 'helped'\n";
  const std::string plan = dir + "/plan.lua";
  std::ofstream(plan) << "local helper = agent.spawn('helper')\n"
                         "local said = helper:await()\n"
                         "sleep(0.8)\n"
                         "return said\n";
  const std::string output = run_on_terminal(plan);
  std::filesystem::remove_all(dir);
  CAPTURE(output);
  const std::size_t two = output.find("\r\033[Kperdiem: 2 agents, ");
  REQUIRE(two != std::string::npos);
  CHECK(output.find("\r\033[Kperdiem: 1 agent, ", two) != std::string::npos);
  CHECK(output.find("helped") != std::string::npos);
}
