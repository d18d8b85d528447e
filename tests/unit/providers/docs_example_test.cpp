// The start_chat example in docs/providers.md is this test's code: the test runs it and
// checks the document still shows it word for word.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/http/event_loop.hpp"
#include "runtime/providers/sim_provider.hpp"

using namespace perdiem;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The lines between "// docs: begin" and "// docs: end" in `text`, without the two
// spaces of indentation they have in the test's body.
std::string marked_block(const std::string& text) {
  const std::string begin_mark = "// docs: begin\n";
  const auto begin = text.find(begin_mark);
  const auto end = text.find("// docs: end", begin);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  std::string region = text.substr(begin + begin_mark.size(), end - begin - begin_mark.size());
  while (!region.empty() && region.back() == ' ') region.pop_back();  // the end mark's indent
  std::string block;
  std::size_t at = 0;
  while (at < region.size()) {
    const std::size_t eol = region.find('\n', at);
    std::string line = region.substr(at, eol - at);
    if (line.starts_with("  ")) line.erase(0, 2);
    block += line + "\n";
    at = eol + 1;
  }
  return block;
}

}  // namespace

TEST_CASE("docs/providers.md: the start_chat example runs and is shown as written") {
  const auto started = std::chrono::steady_clock::now();
  // docs: begin
  // One loop thread, 1,000 calls in flight on it, no thread waiting on any of them.
  http::EventLoop loop;
  auto sim = providers::make_sim_provider(/*seed=*/1, providers::SimOptions{50ms, 10ms});
  std::vector<providers::ChatCall> calls(1000);  // each lives until its done has run
  std::atomic<int> answered{0};
  std::promise<void> all_done;
  for (providers::ChatCall& call : calls) {
    providers::ChatRequest request;
    request.messages = {{"user", "reply with exactly: pong"}};
    sim->start_chat(request, call, loop, [&](Result<providers::ChatResponse> answer) {
      // On the loop thread, exactly once: the answer, an error, or `cancelled` if the
      // loop shuts down first. Must not block.
      if (answer.ok() && answer.value().content == "pong" && ++answered == 1000) {
        all_done.set_value();
      }
    });
  }
  all_done.get_future().wait();  // about 60 ms in all, not 1,000 x 50 ms
  // docs: end
  const auto wall = std::chrono::steady_clock::now() - started;
  CHECK(answered == 1000);
  CHECK(wall >= 50ms);
  CHECK(wall < 3s);

  const std::string example = marked_block(read_file(__FILE__));
  const std::string doc = read_file(std::string(PERDIEM_SOURCE_DIR) + "/docs/providers.md");
  CHECK_MESSAGE(doc.find("```cpp\n" + example + "```") != std::string::npos,
                "docs/providers.md must show this example exactly:\n"
                    << example);
}
