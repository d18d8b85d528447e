// docs/embedding.md shows code from examples/embed-cpp and examples/embed-c, which the
// install test builds and runs. Each ```cpp / ```c block of the guide must be a verbatim
// part of that example, so the guide cannot drift from code that is tested.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The blocks fenced with exactly ```<language>, each without its fences.
std::vector<std::string> blocks(const std::string& markdown, const std::string& language) {
  std::vector<std::string> found;
  std::istringstream lines(markdown);
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (!inside && line == "```" + language) {
      inside = true;
      block.clear();
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
      found.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return found;
}

}  // namespace

TEST_CASE("every C++ and C excerpt in docs/embedding.md is part of its example") {
  const std::string guide = read(PERDIEM_SOURCE_DIR "/docs/embedding.md");
  const std::vector<std::pair<std::string, std::string>> languages = {
      {"cpp", PERDIEM_SOURCE_DIR "/examples/embed-cpp/main.cpp"},
      {"c", PERDIEM_SOURCE_DIR "/examples/embed-c/main.c"}};
  for (const auto& [language, example] : languages) {
    const std::string source = read(example);
    const std::vector<std::string> excerpts = blocks(guide, language);
    CHECK_MESSAGE(!excerpts.empty(), "the guide shows no ```" << language << " code");
    for (const std::string& excerpt : excerpts) {
      CHECK_MESSAGE(source.find(excerpt) != std::string::npos, "not in " << example << ":\n"
                                                                         << excerpt);
    }
  }
}
