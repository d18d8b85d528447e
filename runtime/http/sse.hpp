// An incremental parser for Server-Sent Events (the WHATWG "text/event-stream" format),
// the framing both OpenAI-style and Anthropic streaming answers arrive in.
//
// Pure: bytes in, events or an Error out. Feed the body in chunks of any size as they
// arrive; the events are the same however the bytes are split, which is what lets a
// test cut a stream at every byte.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"

namespace perdiem::http {

struct SseEvent {
  std::string event = "message";  // the "event:" field; "message" when the stream names none
  std::string data;               // "data:" lines joined by '\n' (no trailing newline)
  std::string id;                 // the last "id:" seen so far in the stream, "" if none
};

struct SseLimits {
  // The most bytes one event may hold: its data, its event name and the line being read.
  // Larger means a broken or hostile server; no real stream chunk comes close.
  std::size_t max_event_bytes = 2u << 20;
};

// Follows the spec: lines end in "\r\n", "\n" or "\r"; one leading UTF-8 BOM is
// dropped; lines starting with ':' are comments (keep-alives such as
// ": OPENROUTER PROCESSING"); a blank line dispatches the event; an event without data
// is not dispatched; "retry:" and unknown fields are ignored; one space after the colon
// is dropped. Unlike a browser, nothing is ever reconnected: that is the caller's call.
//
// Thread-safety: one parser per stream, used from one thread at a time.
class SseParser {
 public:
  explicit SseParser(SseLimits limits = {}) : limits_(limits) {}

  // Parses `bytes`, appending each event it completes to `events` in order. Fails with
  // kind bad_response when an event outgrows limits.max_event_bytes; events completed
  // before that point are still appended. After a failure every call fails the same way.
  Status feed(std::string_view bytes, std::vector<SseEvent>& events);

  // True when bytes of an event that was never completed are pending: the stream was
  // cut mid-event. The spec discards such an event, and so does this parser.
  bool has_partial_event() const;

 private:
  Status fail(std::string message);
  void process_line(std::vector<SseEvent>& events);
  void dispatch(std::vector<SseEvent>& events);
  std::size_t pending_bytes() const { return line_.size() + data_.size() + event_.size(); }

  SseLimits limits_;
  std::string line_;   // the line being read, without its terminator
  std::string data_;   // data lines of the current event, each followed by '\n'
  std::string event_;  // the current event's name, "" when none was given
  std::string last_id_;
  std::size_t bom_matched_ = 0;  // leading bytes that matched the BOM so far
  bool bom_done_ = false;
  bool after_cr_ = false;    // the last byte was '\r': a following '\n' belongs to it
  bool in_comment_ = false;  // the current line is a comment: not buffered
  std::optional<Error> failure_;
};

// One event in wire form: "event: NAME\n" when `event` is not empty, one "data: " line
// per line of `data`, and the blank line. For servers (the mock provider) and tests.
std::string sse_encode(std::string_view data, std::string_view event = {});

}  // namespace perdiem::http
