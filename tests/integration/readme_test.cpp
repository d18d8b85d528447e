// Every ```lua block in README.md and docs/lua-api.md is a plan a reader may paste: each
// must run on the offline sim provider and succeed. Keeps the docs honest as the API
// moves.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace {

std::vector<std::string> lua_blocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream lines(markdown);
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (!inside && line.rfind("```lua", 0) == 0) {
      inside = true;
      block.clear();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

}  // namespace

void run_every_block(const std::string& document, std::size_t at_least) {
  std::ifstream in(std::string(PERDIEM_SOURCE_DIR) + "/" + document);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<std::string> blocks = lua_blocks(text.str());
  REQUIRE(blocks.size() >= at_least);

  char dir_template[] = "/tmp/perdiem-docs-XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    CAPTURE(document);
    CAPTURE(blocks[i]);
    std::string path = std::string(dir_template) + "/example" + std::to_string(i) + ".lua";
    std::ofstream(path) << blocks[i];
    auto r = perdiem::testing::run_process(PERDIEM_CLI_PATH, {"run", "--quiet", path, "arg1"});
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK_FALSE(r.out.empty());
    std::remove(path.c_str());
  }
  rmdir(dir_template);
}

TEST_CASE("every Lua example in the README runs") { run_every_block("README.md", 2); }

TEST_CASE("every Lua example in the Lua API reference runs") {
  run_every_block("docs/lua-api.md", 5);
}

TEST_CASE("every Lua example in the providers guide runs") {
  run_every_block("docs/providers.md", 3);
}
