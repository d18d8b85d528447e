// The plan library's example agents (examples/agents/{map_reduce,cascade,refine,
// plan_execute}.lua) run from the command line on the offline sim provider and do what
// their module promises.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/process.hpp"

using perdiem::testing::run_process;

namespace {

// `perdiem run --quiet examples/agents/<name>.lua args...`, its answer as JSON.
nlohmann::json run_example(const std::string& name, const std::vector<std::string>& args = {}) {
  std::vector<std::string> command = {
      "run", "--quiet", std::string(PERDIEM_SOURCE_DIR) + "/examples/agents/" + name + ".lua"};
  command.insert(command.end(), args.begin(), args.end());
  const auto r = run_process(PERDIEM_CLI_PATH, command);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  return nlohmann::json::parse(r.out);
}

}  // namespace

TEST_CASE("examples/agents/map_reduce.lua: one call per argument, merged in argument order") {
  const nlohmann::json answer = run_example("map_reduce", {"a", "b", "c", "d"});
  CHECK(answer["failed"] == 0);
  CHECK(answer["merged"] ==
        "a is colour number 1; b is colour number 2; c is colour number 3; d is colour number 4");
}

TEST_CASE("examples/agents/cascade.lua: escalates only when the small model's answer fails") {
  const nlohmann::json passing = run_example("cascade");
  CHECK(passing["answer"] == "391");
  CHECK(passing["model"] == "small-model");
  CHECK(passing["escalations"] == 0);
  CHECK(passing["accepted"] == true);

  // The sim echoes an unscripted task: not a bare number, so the large model is asked.
  const nlohmann::json failing = run_example("cascade", {"What is 17 * 23?"});
  CHECK(failing["model"] == "large-model");
  CHECK(failing["escalations"] == 1);
  CHECK(failing["accepted"] == false);
}

TEST_CASE("examples/agents/refine.lua: approved at once, or revised until the rounds run out") {
  const nlohmann::json approved = run_example("refine");
  CHECK(approved["approved"] == true);
  CHECK(approved["revisions"] == 0);
  CHECK(approved["text"] == "Credits that pay for your agent's thinking");

  const nlohmann::json rejected = run_example("refine", {"Write a tagline"});
  CHECK(rejected["approved"] == false);
  CHECK(rejected["revisions"] == 2);
}

TEST_CASE("examples/agents/plan_execute.lua: the scripted plan's steps, each carried out") {
  const nlohmann::json answer = run_example("plan_execute");
  CHECK(answer["steps"] ==
        nlohmann::json::array({"SQLite is embedded", "it needs no server", "pick SQLite"}));
  CHECK(answer["dropped"] == 0);

  // A goal the sim cannot turn into numbered steps is a clear error, not a guess.
  const auto r = run_process(
      PERDIEM_CLI_PATH,
      {"run", "--quiet", std::string(PERDIEM_SOURCE_DIR) + "/examples/agents/plan_execute.lua",
       "just do it"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("bad_response: plan_execute: the planner's answer has no numbered steps") !=
        std::string::npos);
}
