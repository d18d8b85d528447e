// Drives a stream accumulator the way an adapter will: body bytes -> SseParser -> the
// data of each event -> accumulator, then finish().
#pragma once

#include <string_view>
#include <vector>

#include "runtime/http/sse.hpp"
#include "runtime/providers/stream.hpp"

namespace perdiem::providers::testing {

inline StreamOutcome run_stream(StreamAccumulator& accumulator, std::string_view body) {
  http::SseParser parser;
  std::vector<http::SseEvent> events;
  (void)parser.feed(body, events);  // an SSE failure simply ends the stream early
  for (const http::SseEvent& event : events) {
    if (!accumulator.feed(event.data).ok()) break;
  }
  return accumulator.finish();
}

}  // namespace perdiem::providers::testing
