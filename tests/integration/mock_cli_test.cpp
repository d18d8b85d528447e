// `perdiem mock-provider`'s fault flags and scenario files, end to end: a faulty server
// process and a `perdiem run` against it.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "support/process.hpp"

using perdiem::testing::BackgroundProcess;
using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;
const std::string kHello = std::string(PERDIEM_SOURCE_DIR) + "/examples/agents/hello.lua";

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string url_of(const BackgroundProcess& server) {
  const std::string prefix = "perdiem mock-provider listening on ";
  REQUIRE(server.first_line().rfind(prefix, 0) == 0);
  return server.first_line().substr(prefix.size());
}

// A scenario file in /tmp, removed with the object.
struct ScenarioFile {
  explicit ScenarioFile(const std::string& json) {
    char name[] = "/tmp/perdiem-scenario-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path) << json;
  }
  ~ScenarioFile() { std::remove(path.c_str()); }
  std::string path;
};

}  // namespace

TEST_CASE("mock-provider --fail-first: the run retries through the failures") {
  BackgroundProcess server(
      kCli, {"mock-provider", "--port", "0", "--fail-first", "2", "--fail-status", "503"});
  auto r = run_process(kCli, {"run", "--base-url", url_of(server), kHello});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(server.stop() == 0);
  CHECK(has(server.err(), "after 3 requests"));  // two failures and the answer
}

TEST_CASE("mock-provider --scenario: the file's faults, overridden by later flags") {
  ScenarioFile always_failing(R"({"fail_first": 100, "fail_status": 500})");
  {
    BackgroundProcess server(kCli,
                             {"mock-provider", "--port", "0", "--scenario", always_failing.path});
    auto r = run_process(kCli, {"run", "--base-url", url_of(server), kHello});
    CHECK(r.exit_code == 1);
    CHECK(has(r.err, "500"));
    CHECK(server.stop() == 0);
    CHECK(has(server.err(), "after 3 requests"));  // the first attempt and two retries
  }
  BackgroundProcess server(kCli, {"mock-provider", "--port", "0", "--scenario", always_failing.path,
                                  "--fail-first", "0"});
  auto r = run_process(kCli, {"run", "--base-url", url_of(server), kHello});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
}

TEST_CASE("mock-provider refuses bad fault flags and scenarios with a usage error") {
  auto rate = run_process(kCli, {"mock-provider", "--error-rate", "1.5"});
  CHECK(rate.exit_code == 2);
  CHECK(has(rate.err, "--error-rate expects a number from 0 to 1"));

  auto status = run_process(kCli, {"mock-provider", "--fail-status", "200"});
  CHECK(status.exit_code == 2);
  CHECK(has(status.err, "--fail-status"));

  auto missing = run_process(kCli, {"mock-provider", "--scenario", "/nonexistent/scenario.json"});
  CHECK(missing.exit_code == 2);
  CHECK(has(missing.err, "cannot read '/nonexistent/scenario.json'"));

  ScenarioFile typo(R"({"fail_frist": 2})");
  auto unknown = run_process(kCli, {"mock-provider", "--scenario", typo.path});
  CHECK(unknown.exit_code == 2);
  CHECK(has(unknown.err, "unknown member 'fail_frist'"));
}
