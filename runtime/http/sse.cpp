#include "runtime/http/sse.hpp"

#include <utility>

namespace perdiem::http {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

Status SseParser::fail(std::string message) {
  failure_ = make_error(ErrorKind::bad_response, std::move(message));
  return *failure_;
}

Status SseParser::feed(std::string_view bytes, std::vector<SseEvent>& events) {
  if (failure_) return *failure_;

  // The BOM may itself arrive split across chunks: match it byte by byte, and if the
  // stream turns out not to start with one, the bytes matched so far are content.
  while (!bom_done_ && !bytes.empty()) {
    if (bytes.front() == kBom[bom_matched_]) {
      bytes.remove_prefix(1);
      if (++bom_matched_ == kBom.size()) bom_done_ = true;
      continue;
    }
    bom_done_ = true;
    if (bom_matched_ > 0) {
      const std::size_t matched = bom_matched_;
      bom_matched_ = 0;
      if (Status s = feed(kBom.substr(0, matched), events); !s.ok()) return s;
    }
  }

  while (!bytes.empty()) {
    if (after_cr_) {
      after_cr_ = false;
      if (bytes.front() == '\n') {  // the second half of a "\r\n" split across chunks
        bytes.remove_prefix(1);
        continue;
      }
    }
    const std::size_t end = bytes.find_first_of("\r\n");
    const std::string_view segment = bytes.substr(0, end);
    if (line_.empty() && !in_comment_ && !segment.empty() && segment.front() == ':') {
      in_comment_ = true;  // comments can be long keep-alive text: never buffered
    }
    if (!in_comment_) {
      line_.append(segment);
      // Checked here only: processing a line never makes the event bigger than the line
      // and the event were together before ("data: x" becomes "x\n").
      if (pending_bytes() > limits_.max_event_bytes) {
        return fail("a server-sent event is larger than " +
                    std::to_string(limits_.max_event_bytes) + " bytes");
      }
    }
    if (end == std::string_view::npos) return Status::success();

    after_cr_ = bytes[end] == '\r';
    bytes.remove_prefix(end + 1);
    process_line(events);
  }
  return Status::success();
}

void SseParser::process_line(std::vector<SseEvent>& events) {
  if (in_comment_) {
    in_comment_ = false;
    return;
  }
  if (line_.empty()) {
    dispatch(events);
    return;
  }
  const std::string_view line = line_;
  const std::size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    data_.append(value);
    data_.push_back('\n');
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  }
  // "retry" (a reconnection delay for browsers) and unknown fields are ignored.
  line_.clear();
}

void SseParser::dispatch(std::vector<SseEvent>& events) {
  if (data_.empty()) {  // the spec drops an event that carried no data
    event_.clear();
    return;
  }
  data_.pop_back();  // the '\n' after the last data line
  SseEvent event;
  event.event = event_.empty() ? std::string("message") : std::move(event_);
  event.data = std::move(data_);
  event.id = last_id_;
  events.push_back(std::move(event));
  data_.clear();
  event_.clear();
}

bool SseParser::has_partial_event() const {
  return !line_.empty() || !data_.empty() || !event_.empty() || (!bom_done_ && bom_matched_ > 0);
}

std::string sse_encode(std::string_view data, std::string_view event) {
  std::string out;
  out.reserve(data.size() + event.size() + 16);
  if (!event.empty()) {
    out.append("event: ").append(event).push_back('\n');
  }
  // Each line of the payload needs its own "data:" field; a bare '\r' is a line break
  // to the reader too.
  while (true) {
    const std::size_t end = data.find_first_of("\r\n");
    out.append("data: ").append(data.substr(0, end)).push_back('\n');
    if (end == std::string_view::npos) break;
    const std::size_t skip = data.compare(end, 2, "\r\n") == 0 ? 2 : 1;
    data.remove_prefix(end + skip);
  }
  out.push_back('\n');
  return out;
}

}  // namespace perdiem::http
