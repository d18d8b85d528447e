// The `perdiem` command, end to end: real processes, a real HTTP mock provider.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/process.hpp"

using perdiem::testing::BackgroundProcess;
using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;
const std::string kSource = PERDIEM_SOURCE_DIR;
const std::string kHello = kSource + "/examples/agents/hello.lua";

std::string plan(const std::string& name) {
  return kSource + "/tests/integration/plans/" + name;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Starts `perdiem mock-provider` on a free port; its first line names the URL.
std::string base_url_of(const BackgroundProcess& server) {
  const std::string prefix = "perdiem mock-provider listening on ";
  REQUIRE(server.first_line().rfind(prefix, 0) == 0);
  return server.first_line().substr(prefix.size());
}

}  // namespace

TEST_CASE("perdiem version prints the version and exits 0") {
  auto r = run_process(kCli, {"version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "perdiem 0.1.0\n");
}

TEST_CASE("perdiem --help documents the commands on stdout") {
  auto r = run_process(kCli, {"--help"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "perdiem run [OPTIONS] SCRIPT"));
  CHECK(contains(r.out, "mock-provider"));
  CHECK(r.err.empty());
}

// `perdiem COMMAND --help` (or -h) shows that command's help on stdout and exits 0, as
// `perdiem wallet --help` always has; `run --help` used to be "--help needs a value".
TEST_CASE("every command's --help shows its usage on stdout and exits 0") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--help"}, "Options for `run`"},
      {{"run", "--json", "-h"}, "Options for `run`"},
      {{"mock-provider", "--help"}, "Options for `mock-provider`"},
      {{"tools", "--help"}, "perdiem tools list"},
      {{"tools", "list", "-h"}, "perdiem tools list"},
      {{"runs", "--help"}, "usage: perdiem runs list"},
      {{"runs", "show", "--help"}, "usage: perdiem runs list"},
      {{"memory", "help"}, "usage: perdiem memory stats"},
      {{"replay", "--help"}, "usage: perdiem replay RUN_ID"},
      {{"providers", "-h"}, "usage: perdiem providers list"},
      {{"wallet", "--help"}, "perdiem wallet init"},
  };
  for (const auto& [args, expected] : cases) {
    CAPTURE(args.front());
    CAPTURE(args.back());
    auto r = run_process(kCli, args);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, expected));
    CHECK(r.err.empty());
  }
  // After SCRIPT, --help is the plan's argument, not a request for help.
  auto r = run_process(kCli, {"run", "--quiet", plan("echo_args.lua"), "--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "[\"--help\"]\n");
}

TEST_CASE("usage errors exit 2 with a message on stderr") {
  SUBCASE("no command") {
    auto r = run_process(kCli, {});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "no command given"));
  }
  SUBCASE("unknown command") {
    auto r = run_process(kCli, {"fly"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "unknown command 'fly'"));
  }
  SUBCASE("run without a script") {
    auto r = run_process(kCli, {"run"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "needs a SCRIPT"));
  }
  SUBCASE("unknown option") {
    auto r = run_process(kCli, {"run", "--frobnicate", kHello});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "unknown option '--frobnicate'"));
  }
  SUBCASE("unknown option as the last word: unknown, not missing its value") {
    auto r = run_process(kCli, {"run", "--frobnicate"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "unknown option '--frobnicate'"));
  }
  SUBCASE("a known option without its value") {
    auto r = run_process(kCli, {"run", "--budget"});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--budget needs a value"));
  }
  SUBCASE("bad number") {
    auto r = run_process(kCli, {"run", "--seed", "abc", kHello});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "--seed"));
  }
}

TEST_CASE("hello.lua runs offline on the sim provider: answer on stdout only") {
  auto r = run_process(kCli, {"run", kHello});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "(served by sim, model sim-1)"));
  CHECK_FALSE(contains(r.out, "perdiem:"));  // diagnostics stay on stderr
  CHECK(contains(r.err, "provider sim"));
  CHECK(contains(r.err, "1 model call"));
  CHECK(contains(r.err, "[info] tokens:"));
}

TEST_CASE("--quiet leaves only the answer, warnings and errors") {
  auto r = run_process(kCli, {"run", "--quiet", kHello, "Hi"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "served by sim"));
  CHECK(r.err.empty());  // hello.lua logs its tokens at info: dropped too

  auto logged = run_process(kCli, {"run", "--quiet", plan("log_levels.lua")});
  CHECK(logged.exit_code == 0);
  CHECK(logged.out == "answered\n");
  CHECK(logged.err == "[warn] a warning line\n[error] an error line\n");
  auto loud = run_process(kCli, {"run", plan("log_levels.lua")});
  CHECK(contains(loud.err, "[info] an info line\n[warn] a warning line\n"));
}

TEST_CASE("hello.lua runs against `perdiem mock-provider` over HTTP") {
  BackgroundProcess server(kCli, {"mock-provider", "--port", "0"});
  std::string url = base_url_of(server);
  CHECK(url.rfind("http://127.0.0.1:", 0) == 0);

  auto r = run_process(kCli, {"run", "--base-url", url, kHello, "What is DIEM?"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "What is DIEM?"));  // the sim echoes the question it received
  CHECK(contains(r.out, "served by custom"));
  CHECK(contains(r.err, "provider custom"));

  CHECK(server.stop() == 0);
  CHECK(contains(server.err(), "after 1 requests"));
}

TEST_CASE("the environment selects the provider when no flag does") {
  BackgroundProcess server(kCli, {"mock-provider", "--port", "0"});
  std::string url = base_url_of(server);
  auto r = run_process(kCli, {"run", kHello}, {{"PERDIEM_BASE_URL", url}});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "served by custom"));
  CHECK(contains(r.err, "(environment)"));
}

TEST_CASE("a rejected API key fails the run without printing the key") {
  const std::string secret = "sk-perdiem-test-5ecret-do-not-print";
  BackgroundProcess server(kCli, {"mock-provider", "--port", "0", "--require-key-env", "MOCK_KEY"},
                           {{"MOCK_KEY", "the-right-key"}});
  std::string url = base_url_of(server);
  auto r = run_process(kCli, {"run", "--base-url", url, kHello}, {{"PERDIEM_API_KEY", secret}});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "auth"));
  CHECK_FALSE(contains(r.err, secret));
  CHECK_FALSE(contains(r.out, secret));

  auto ok =
      run_process(kCli, {"run", "--base-url", url, kHello}, {{"PERDIEM_API_KEY", "the-right-key"}});
  CHECK(ok.exit_code == 0);
}

TEST_CASE("a plan calling os.execute fails with exit 1 and names os.execute") {
  auto r = run_process(kCli, {"run", plan("forbidden_execute.lua")});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "os.execute"));
  CHECK(contains(r.err, "sandbox"));
  CHECK_FALSE(contains(r.out, "pwned"));
}

TEST_CASE("arguments after the script reach agent.args") {
  auto r = run_process(kCli, {"run", "--quiet", plan("echo_args.lua"), "a b", "--not-an-option"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "[\"a b\",\"--not-an-option\"]\n");
}

TEST_CASE("a missing script is a failed run, exit 1, with the path") {
  auto r = run_process(kCli, {"run", "/nonexistent/plan.lua"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "/nonexistent/plan.lua"));
}

TEST_CASE("an unknown provider is a config error that lists the known ones") {
  auto r = run_process(kCli, {"run", "--provider", "nosuch", kHello});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "nosuch"));
  CHECK(contains(r.err, "openrouter"));
}

TEST_CASE("a hosted provider without its key says which variable to set") {
  auto r = run_process(kCli, {"run", "--provider", "openrouter", kHello});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "OPENROUTER_API_KEY"));
}

TEST_CASE("--timeout ends a runaway plan with a limit error naming the deadline") {
  auto r = run_process(kCli, {"run", "--timeout", "1", plan("spin.lua")});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "limit"));
  CHECK(contains(r.err, "deadline of 1 s passed"));
}

TEST_CASE("--memory-limit caps the plan's heap, given with a unit") {
  auto r = run_process(kCli, {"run", "--memory-limit", "8M", plan("hoard.lua")});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "limit: memory limit of 8 MiB reached ("));
  CHECK(contains(r.err, "hoard.lua:3)"));
  auto mib = run_process(kCli, {"run", "--memory-limit-mb", "8", plan("hoard.lua")});
  CHECK(contains(mib.err, "memory limit of 8 MiB reached"));
  auto gib = run_process(kCli, {"run", "--memory-limit", "1GiB", plan("two_calls.lua")});
  CHECK(gib.exit_code == 0);
  // A bare number, an unknown unit and a size below 1M are usage errors, not guesses.
  for (const char* bad : {"8", "8X", "8MB2", "512K", "65G", "-1M"}) {
    auto refused = run_process(kCli, {"run", "--memory-limit", bad, plan("two_calls.lua")});
    CHECK_MESSAGE(refused.exit_code == 2, bad);
    CHECK_MESSAGE(contains(refused.err, "expects a size with a unit"), bad);
  }
}

TEST_CASE("Ctrl-C and SIGTERM cancel the run cleanly: exit 130, the run named") {
  for (int signal : {2 /* SIGINT */, 15 /* SIGTERM */}) {
    CAPTURE(signal);
    // Ready once the run has started: the provider and wallet lines come just before it.
    BackgroundProcess run(kCli, {"run", plan("spin.lua")}, {}, "perdiem: wallet ");
    const int exit_code = run.stop(signal);
    CHECK(exit_code == 130);
    CHECK(contains(run.err(), signal == 2 ? "interrupted; cancelling run run-"
                                          : "terminated; cancelling run run-"));
    CHECK(contains(run.err(), "cancelled"));
  }
}

TEST_CASE("--json prints the result and its figures as one JSON object") {
  auto r = run_process(kCli, {"run", "--json", "--quiet", plan("two_calls.lua")});
  REQUIRE(r.exit_code == 0);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["ok"] == true);
  CHECK(doc["result"] == "one two");
  CHECK(doc["run_id"].get<std::string>().rfind("run-", 0) == 0);
  CHECK(doc["providers"] == nlohmann::json::array({"sim"}));
  CHECK(doc["usage"]["model_calls"] == 2);
  CHECK(doc["usage"]["cost_nanos"] == 0);
  CHECK(doc["usage"]["cost_usd"] == "0");
}

TEST_CASE("--max-steps ends the run at the call past the limit") {
  auto r = run_process(kCli, {"run", "--max-steps", "1", plan("two_calls.lua")});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "step limit of 1 model calls"));
  CHECK(r.out.empty());

  auto json = run_process(kCli, {"run", "--json", "--max-steps", "1", plan("two_calls.lua")});
  CHECK(json.exit_code == 1);
  auto doc = nlohmann::json::parse(json.out);
  CHECK(doc["ok"] == false);
  CHECK(doc["error"]["kind"] == "limit");
  CHECK(doc["usage"]["model_calls"] == 1);

  CHECK(run_process(kCli, {"run", "--max-steps", "2", plan("two_calls.lua")}).exit_code == 0);
  CHECK(run_process(kCli, {"run", "--max-steps", "0", plan("two_calls.lua")}).exit_code == 2);
}
