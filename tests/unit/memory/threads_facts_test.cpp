// Conversation threads (token-budgeted history) and structured facts.
#include <doctest/doctest.h>

#include "memory_fixture.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

std::vector<std::string> contents(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.content);
  return out;
}

}  // namespace

TEST_CASE("token estimate: 4 of framing plus one per 4 bytes, rounded up") {
  CHECK(estimate_tokens("") == 4);
  CHECK(estimate_tokens("abcd") == 5);
  CHECK(estimate_tokens("abcde") == 6);
}

TEST_CASE("history returns the newest messages that fit, oldest first") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  // Each 8-byte message costs 4 + 2 = 6 tokens.
  for (int i = 0; i < 10; ++i)
    REQUIRE(
        store->append_message("chat", i % 2 ? "assistant" : "user", "message" + std::to_string(i))
            .ok());
  auto all = store->history("chat", 1000);
  REQUIRE(all.ok());
  CHECK(all->size() == 10);
  CHECK(all->front().content == "message0");

  auto three = store->history("chat", 6 * 3 + 5);  // room for 3, not 4
  REQUIRE(three.ok());
  CHECK(contents(*three) == std::vector<std::string>{"message7", "message8", "message9"});
  CHECK(three->front().role == "assistant");

  CHECK(store->history("chat", 5).value().empty());
  CHECK(store->history("no-such-thread", 1000).value().empty());
  CHECK(store->history("chat", -1).error().kind == ErrorKind::invalid_argument);
}

TEST_CASE("system messages are kept whatever the budget, in their place") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  REQUIRE(store->append_message("chat", "system", "You are terse.").ok());  // 4 + 4 = 8
  for (int i = 0; i < 5; ++i)
    REQUIRE(store->append_message("chat", "user", "message" + std::to_string(i)).ok());
  REQUIRE(store->append_message("chat", "system", "Now answer in French.").ok());  // 4 + 6
  REQUIRE(store->append_message("chat", "user", "message5").ok());

  auto some = store->history("chat", 8 + 10 + 6 * 2);  // both system messages and 2 more
  REQUIRE(some.ok());
  CHECK(contents(*some) == std::vector<std::string>{"You are terse.", "message4",
                                                    "Now answer in French.", "message5"});
  auto none = store->history("chat", 0);  // over budget: the system messages still come
  REQUIRE(none.ok());
  CHECK(contents(*none) == std::vector<std::string>{"You are terse.", "Now answer in French."});
}

TEST_CASE("threads are separate, and messages survive reopening") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  {
    auto store = open_store(path);
    auto m = store->append_message("a", "user", "in a");
    REQUIRE(m.ok());
    CHECK(m->id > 0);
    CHECK(m->tokens == estimate_tokens("in a"));
    REQUIRE(store->append_message("b", "user", "in b").ok());
  }
  auto store = open_store(path);
  CHECK(contents(store->history("a", 100).value()) == std::vector<std::string>{"in a"});
  CHECK(contents(store->history("b", 100).value()) == std::vector<std::string>{"in b"});
  CHECK(store->append_message("", "user", "x").error().kind == ErrorKind::invalid_argument);
  CHECK(store->append_message("a", "", "x").error().kind == ErrorKind::invalid_argument);
}

TEST_CASE("facts: set, get, overwrite, delete, any JSON value") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  CHECK(!store->get_fact("user", "name").value().has_value());
  REQUIRE(store->set_fact("user", "name", "Ada").ok());
  REQUIRE(store->set_fact("user", "prefs", {{"units", "metric"}, {"langs", {"en", "fr"}}}).ok());
  REQUIRE(store->set_fact("other", "name", 42).ok());
  CHECK(*store->get_fact("user", "name").value() == "Ada");
  CHECK((*store->get_fact("user", "prefs").value())["langs"][1] == "fr");
  CHECK(*store->get_fact("other", "name").value() == 42);

  REQUIRE(store->set_fact("user", "name", nullptr).ok());  // null is a value
  auto null_fact = store->get_fact("user", "name").value();
  REQUIRE(null_fact.has_value());
  CHECK(null_fact->is_null());

  CHECK(store->delete_fact("user", "name").value());
  CHECK(!store->delete_fact("user", "name").value());
  CHECK(!store->get_fact("user", "name").value().has_value());
  CHECK(*store->get_fact("other", "name").value() == 42);
  CHECK(store->set_fact("", "k", 1).error().kind == ErrorKind::invalid_argument);
}
