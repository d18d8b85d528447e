#include "runtime/http/sse.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace perdiem;
using namespace perdiem::http;

namespace {

std::vector<SseEvent> parse_all(std::string_view bytes, SseLimits limits = {}) {
  SseParser parser(limits);
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(bytes, events).ok());
  return events;
}

// Parses `bytes` fed in pieces cut at `cuts` (ascending offsets).
std::vector<SseEvent> parse_split(std::string_view bytes, const std::vector<std::size_t>& cuts) {
  SseParser parser;
  std::vector<SseEvent> events;
  std::size_t from = 0;
  for (std::size_t cut : cuts) {
    REQUIRE(parser.feed(bytes.substr(from, cut - from), events).ok());
    from = cut;
  }
  REQUIRE(parser.feed(bytes.substr(from), events).ok());
  return events;
}

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].event != b[i].event || a[i].data != b[i].data || a[i].id != b[i].id) return false;
  }
  return true;
}

// Every feature at once: BOM, all three line endings, comments, names, ids, multi-line
// data, retry, an event without data, and a field with no colon.
const std::string kTricky =
    "\xEF\xBB\xBF: OPENROUTER PROCESSING\r\n"
    "\r\n"
    "event: message_start\r\n"
    "id: 7\r\n"
    "data: {\"a\":1}\r\n\r\n"
    "data: line one\rdata: line two\r\r"
    "retry: 3000\n"
    "event: lonely\n\n"
    "data\n\n"
    ":comment without space\n"
    "data:no-space\ndata:  two spaces\n\n"
    "id: 8\ndata: x\r\n\r\n"
    "data: [DONE]\n\n";

}  // namespace

TEST_CASE("sse: a single event with the default name") {
  auto events = parse_all("data: hello\n\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].event == "message");
  CHECK(events[0].data == "hello");
  CHECK(events[0].id.empty());
}

TEST_CASE("sse: the tricky stream decodes as the spec says") {
  auto events = parse_all(kTricky);
  REQUIRE(events.size() == 6);
  CHECK(events[0].event == "message_start");
  CHECK(events[0].data == "{\"a\":1}");
  CHECK(events[0].id == "7");
  CHECK(events[1].event == "message");
  CHECK(events[1].data == "line one\nline two");
  CHECK(events[1].id == "7");                        // the last id carries over
  CHECK(events[2].data.empty());                     // "data" alone is an empty data line
  CHECK(events[3].data == "no-space\n two spaces");  // only one space is dropped
  CHECK(events[4].id == "8");
  CHECK(events[5].data == "[DONE]");
}

TEST_CASE("sse: an event with no data is dropped and does not leak its name") {
  auto events = parse_all("event: ping\n\ndata: after\n\n");
  REQUIRE(events.size() == 1);
  CHECK(events[0].event == "message");
  CHECK(events[0].data == "after");
}

TEST_CASE("sse: a BOM is dropped only at the very start") {
  CHECK(parse_all("\xEF\xBB\xBF"
                  "data: a\n\n")
            .at(0)
            .data == "a");
  // Later, the same bytes make the field name "\xEF\xBB\xBFdata": unknown, ignored.
  auto events = parse_all(
      "data: a\n\n\xEF\xBB\xBF"
      "data: b\n\n");
  REQUIRE(events.size() == 1);
  // A stream that merely starts with the BOM's first byte keeps it.
  auto partial = parse_all(
      "\xEF"
      "data: c\n\n");
  CHECK(partial.empty());  // the field is "\xEF" "data", unknown
}

TEST_CASE("sse: an id containing NUL is ignored") {
  static constexpr char kStream[] = "id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n";
  auto events = parse_all(std::string_view(kStream, sizeof kStream - 1));
  REQUIRE(events.size() == 2);
  CHECK(events[1].id == "1");
}

TEST_CASE("sse: every split point gives the same events") {
  const auto whole = parse_all(kTricky);
  for (std::size_t cut = 0; cut <= kTricky.size(); ++cut) {
    CAPTURE(cut);
    CHECK(same(parse_split(kTricky, {cut}), whole));
  }
  // Every pair of cuts, on a shorter stream with each kind of line ending.
  const std::string small = "\xEF\xBB\xBF:c\r\nevent: e\rdata: a\r\ndata: b\n\r\n";
  const auto small_whole = parse_all(small);
  REQUIRE(small_whole.size() == 1);
  for (std::size_t a = 0; a <= small.size(); ++a) {
    for (std::size_t b = a; b <= small.size(); ++b) {
      CAPTURE(a);
      CAPTURE(b);
      CHECK(same(parse_split(small, {a, b}), small_whole));
    }
  }
  // One byte at a time.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < kTricky.size(); ++i) every.push_back(i);
  CHECK(same(parse_split(kTricky, every), whole));
}

TEST_CASE("sse: a stream cut mid-event reports the partial event and emits nothing") {
  SseParser parser;
  std::vector<SseEvent> events;
  REQUIRE(parser.feed("data: complete\n\ndata: half", events).ok());
  CHECK(events.size() == 1);
  CHECK(parser.has_partial_event());
  SseParser clean;
  REQUIRE(clean.feed("data: complete\n\n", events).ok());
  CHECK_FALSE(clean.has_partial_event());
  SseParser cut_after_line;
  REQUIRE(cut_after_line.feed("data: x\n", events).ok());
  CHECK(cut_after_line.has_partial_event());  // no blank line yet
}

TEST_CASE("sse: an oversized event fails clearly, keeps earlier events, and stays failed") {
  SseParser parser(SseLimits{64});
  std::vector<SseEvent> events;
  const std::string big = "data: " + std::string(100, 'x') + "\n\n";
  Status status = parser.feed("data: small\n\n" + big, events);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().kind == ErrorKind::bad_response);
  CHECK(status.error().message.find("64 bytes") != std::string::npos);
  CHECK(events.size() == 1);
  CHECK_FALSE(parser.feed("data: ok\n\n", events).ok());
  CHECK(events.size() == 1);
}

TEST_CASE("sse: many data lines add up against the limit") {
  SseParser parser(SseLimits{64});
  std::vector<SseEvent> events;
  std::string many;
  for (int i = 0; i < 20; ++i) many += "data: 0123456789\n";
  CHECK_FALSE(parser.feed(many, events).ok());
}

TEST_CASE("sse: comments are not buffered, so long keep-alives pass any limit") {
  SseParser parser(SseLimits{64});
  std::vector<SseEvent> events;
  REQUIRE(parser.feed(":" + std::string(10000, 'k') + "\ndata: a\n\n", events).ok());
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == "a");
}

TEST_CASE("sse_encode writes events the parser reads back") {
  const std::string wire = sse_encode("one\r\ntwo\rthree\nfour", "named") + sse_encode("");
  CHECK(wire.starts_with("event: named\ndata: one\ndata: two\n"));
  auto events = parse_all(wire);
  REQUIRE(events.size() == 2);
  CHECK(events[0].event == "named");
  CHECK(events[0].data == "one\ntwo\nthree\nfour");
  CHECK(events[1].data.empty());
}
