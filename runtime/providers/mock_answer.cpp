#include "runtime/providers/mock_answer.hpp"

#include <memory>

#include "runtime/providers/openai_stream.hpp"

namespace perdiem::providers::mock {
namespace {

constexpr std::string_view kHtmlPage =
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><h1>Bad Gateway</h1><p>The upstream server is unavailable.</p></body></html>\n";
constexpr const char* kHtml = "text/html; charset=utf-8";

// The first half of `text`, at least one byte short of it: never valid JSON when `text`
// is a JSON object.
std::string cut_in_half(std::string_view text) {
  return std::string(text.substr(0, text.size() / 2));
}

// An SSE event "data: {...}\n\n" with its JSON cut in half, still ending the event.
std::string cut_event(std::string_view event) {
  const std::size_t data = event.find("data: ");
  if (data == std::string_view::npos) return std::string(event);
  const std::string_view json = event.substr(data + 6);
  return std::string(event.substr(0, data + 6)) + cut_in_half(json) + "\n\n";
}

}  // namespace

void answer(httplib::Response& res, std::string body, std::string_view content_type,
            const MockProviderOptions& options) {
  res.status = 200;
  if (options.wrong_content_type) {
    res.set_content(std::string(kHtmlPage), kHtml);
    return;
  }
  if (options.malformed_json) body = cut_in_half(body);
  if (body.size() < options.oversized_body_bytes) body.resize(options.oversized_body_bytes, ' ');
  res.set_content(std::move(body), std::string(content_type));
}

void stream(httplib::Response& res, std::vector<std::string> events,
            const MockProviderOptions& options, Pause pause) {
  res.status = 200;
  if (options.wrong_content_type) {
    res.set_content(std::string(kHtmlPage), kHtml);
    return;
  }
  if (options.malformed_json && !events.empty()) events.front() = cut_event(events.front());
  res.set_header("Cache-Control", "no-cache");
  auto shared = std::make_shared<std::vector<std::string>>(std::move(events));
  auto next = std::make_shared<std::size_t>(0);
  const std::optional<std::size_t> cut = options.cut_after_chunks;
  const std::chrono::milliseconds delay = options.chunk_delay;
  res.set_chunked_content_provider(
      "text/event-stream",
      [shared, next, cut, delay, pause = std::move(pause)](std::size_t, httplib::DataSink& sink) {
        // Returning false makes httplib drop the connection without the last chunk: the
        // client sees a transfer cut short, as when a provider's connection breaks.
        if (cut && *next >= *cut) return false;
        if (*next >= shared->size()) {
          sink.done();
          return true;
        }
        if (delay.count() > 0 && !pause(delay)) return false;
        const std::string& event = (*shared)[(*next)++];
        return sink.write(event.data(), event.size());
      });
}

std::vector<std::string> openai_events(const ChatResponse& response, std::string_view id,
                                       std::int64_t created, bool include_usage) {
  std::vector<std::string> events = encode_chat_stream(response, id, created);
  // encode_chat_stream ends with the usage chunk, then [DONE].
  if (!include_usage && events.size() >= 2) events.erase(events.end() - 2);
  return events;
}

std::string_view anthropic_error_type(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace perdiem::providers::mock
