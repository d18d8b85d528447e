// Traces and replay from the command line: a run recorded against `perdiem mock-provider`
// over HTTP, replayed with the server stopped; `perdiem runs` and `perdiem memory`.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/process.hpp"

using perdiem::testing::BackgroundProcess;
using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;
const std::string kPlans = std::string(PERDIEM_SOURCE_DIR) + "/tests/integration/plans/";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Home {
  Home() {
    char tmpl[] = "/tmp/perdiem-replay-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Home() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  perdiem::testing::Environment env() const { return {{"PERDIEM_HOME", path}}; }
  std::string path;
};

}  // namespace

TEST_CASE("a run recorded over HTTP replays offline to the same result; a changed plan diverges") {
  Home home;
  std::string run_id;
  std::string answer;
  {
    BackgroundProcess server(kCli, {"mock-provider"});
    const std::string prefix = "perdiem mock-provider listening on ";
    REQUIRE(server.first_line().rfind(prefix, 0) == 0);
    const std::string url = server.first_line().substr(prefix.size());
    auto run = run_process(
        kCli, {"run", "--base-url", url, "--json", "--quiet", kPlans + "recorded.lua", "DIEM"},
        home.env());
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    auto doc = nlohmann::json::parse(run.out);
    run_id = doc["run_id"];
    answer = doc["result"];
    CHECK(answer == "noted (384 dims, custom)");
  }  // the mock provider stops here

  auto replay = run_process(kCli, {"replay", run_id}, home.env());
  CHECK_MESSAGE(replay.exit_code == 0, replay.err);
  CHECK(replay.out == answer + "\n");
  CHECK(contains(replay.err, "replayed 3 recorded steps"));
  CHECK(contains(replay.err, "no network and no spend"));
  CHECK(contains(replay.err, "the result matches the recording"));

  // The same plan asking something else: the first request no longer matches.
  const std::string changed = home.path + "/changed.lua";
  {
    std::ifstream in(kPlans + "recorded.lua");
    std::stringstream text;
    text << in.rdbuf();
    std::string source = text.str();
    source.replace(source.find("Name one fact about"), 19, "Name two facts about");
    std::ofstream(changed) << source;
  }
  auto diverged = run_process(kCli, {"replay", run_id, "--script", changed}, home.env());
  CHECK(diverged.exit_code == 1);
  CHECK(contains(diverged.err, "replay diverged at step 1"));
  CHECK(contains(diverged.err, "the plan asked:"));
  CHECK(contains(diverged.err, "Name two facts about DIEM"));
  CHECK(contains(diverged.err, "the recording has:"));
  CHECK(contains(diverged.err, "Name one fact about DIEM"));
}

TEST_CASE("perdiem runs lists, shows and exports the recorded runs") {
  Home home;
  auto run =
      run_process(kCli, {"run", "--json", "--quiet", "--agent", "lister", kPlans + "two_calls.lua"},
                  home.env());
  REQUIRE(run.exit_code == 0);
  const std::string run_id = nlohmann::json::parse(run.out)["run_id"];

  auto list = run_process(kCli, {"runs", "list"}, home.env());
  CHECK(list.exit_code == 0);
  CHECK(contains(list.out, run_id));
  CHECK(contains(list.out, "lister"));
  CHECK(contains(list.out, "two_calls.lua"));

  auto show = run_process(kCli, {"runs", "show", run_id, "--json"}, home.env());
  REQUIRE(show.exit_code == 0);
  auto doc = nlohmann::json::parse(show.out);
  CHECK(doc["status"] == "ok");
  CHECK(doc["result"] == "one two");
  REQUIRE(doc["steps"].size() == 2);
  CHECK(doc["steps"][1]["response"]["content"] == "two");

  auto human = run_process(kCli, {"runs", "show", run_id}, home.env());
  CHECK(contains(human.out, "status   ok"));
  CHECK(contains(human.out, "sim"));

  auto exported = run_process(kCli, {"runs", "export", run_id}, home.env());
  REQUIRE(exported.exit_code == 0);
  std::istringstream lines(exported.out);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    auto record = nlohmann::json::parse(line);
    CHECK(record["type"] == (count == 0 ? "run" : "step"));
    ++count;
  }
  CHECK(count == 3);

  auto missing = run_process(kCli, {"runs", "show", "run-0000000000000000"}, home.env());
  CHECK(missing.exit_code == 1);
  CHECK(contains(missing.err, "not_found"));

  // A usage error points at the help of the command it was made with.
  auto no_id = run_process(kCli, {"runs", "show"}, home.env());
  CHECK(no_id.exit_code == 2);
  CHECK(contains(no_id.err, "`perdiem runs show` takes RUN_ID (see `perdiem runs --help`)"));
  auto bad_option = run_process(kCli, {"memory", "stats", "--json"}, home.env());
  CHECK(bad_option.exit_code == 2);
  CHECK(contains(bad_option.err, "for `perdiem memory stats` (see `perdiem memory --help`)"));
}

TEST_CASE("perdiem memory: stats, search, prune and vacuum") {
  Home home;
  REQUIRE(run_process(kCli, {"run", "--quiet", kPlans + "recorded.lua", "lighthouses"}, home.env())
              .exit_code == 0);
  auto stats = run_process(kCli, {"memory", "stats"}, home.env());
  CHECK(stats.exit_code == 0);
  CHECK(contains(stats.out, "runs"));
  CHECK(contains(stats.out, "documents"));

  auto search = run_process(kCli, {"memory", "search", "lighthouses", "--ns", "facts"}, home.env());
  CHECK(search.exit_code == 0);
  CHECK(contains(search.out, "facts lighthouses"));

  CHECK(run_process(kCli, {"memory", "prune", "--older-than", "30d"}, home.env()).out ==
        "pruned 0 runs\n");
  CHECK(run_process(kCli, {"memory", "prune", "--older-than", "0s"}, home.env()).out ==
        "pruned 1 run\n");
  CHECK(run_process(kCli, {"memory", "prune", "--older-than", "soon"}, home.env()).exit_code == 2);
  CHECK(run_process(kCli, {"memory", "vacuum"}, home.env()).exit_code == 0);
  CHECK(run_process(kCli, {"runs", "list"}, {{"PERDIEM_HOME", home.path + "/none"}}).exit_code ==
        1);
}
