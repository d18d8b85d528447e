// The trace's JSON text, written directly on every model call (request_text,
// response_text, route_json), must be exactly what the documents (request_document,
// response_document, the route as a document) dump to: replay matches requests by the
// hash of that text, and `perdiem trace` reads the rows back as documents.
#include <doctest/doctest.h>

#include "sdk/src/route_trace.hpp"
#include "sdk/src/trace_format.hpp"

using namespace perdiem;
using nlohmann::json;

namespace {

providers::ChatRequest plain_request(std::string content) {
  providers::ChatRequest request;
  request.model = "sim-1";
  request.messages = {{"system", "be brief"}, {"user", std::move(content)}};
  return request;
}

// The route as a document, as the trace held it before it was written as text.
json route_document(const sdk::RouteTrace& route) {
  json attempts = json::array();
  for (const router::TraceEntry& entry : route.attempts) {
    attempts.push_back({{"provider", entry.provider},
                        {"model", entry.model},
                        {"attempt", entry.attempt},
                        {"outcome", router::to_string(entry.outcome)},
                        {"latency_ms", entry.latency.count() / 1000},
                        {"waited_ms", entry.waited.count()},
                        {"reason", entry.reason}});
  }
  json out = {{"model", route.model},
              {"policy", router::to_string(route.policy)},
              {"decision", route.decision},
              {"attempts", std::move(attempts)}};
  if (!route.charged_failures.empty()) {
    json failures = json::array();
    for (const sdk::ChargedFailure& failure : route.charged_failures) {
      failures.push_back({{"provider", failure.provider},
                          {"attempt", failure.attempt},
                          {"cost_nanos", failure.cost_nanos},
                          {"receipt", failure.receipt}});
    }
    out["charged_failures"] = std::move(failures);
  }
  return out;
}

}  // namespace

TEST_CASE("a request's trace text is its document's dump, whatever it holds") {
  std::vector<providers::ChatRequest> requests;
  requests.push_back(plain_request("hi"));
  requests.push_back(plain_request("quotes \" and \\ and /, tabs\t, newlines\n, \r \b \f"));
  requests.push_back(plain_request(std::string("control \x01\x1f and DEL \x7f and NUL ") +
                                   std::string(1, '\0') + " inside"));
  requests.push_back(plain_request("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80"));  // UTF-8
  requests.push_back(plain_request("broken \xff\xfe UTF-8 \xc3"));                 // replaced
  requests.push_back(plain_request(""));
  // Long runs between the specials, and UTF-8 only after text already escaped (the
  // writer starts over through the library's serializer).
  requests.push_back(plain_request(std::string(40, 'a') + "\"" + std::string(17, 'b') + "\n" +
                                   std::string(9, 'c') + "\xc3\xa9" + std::string(30, 'd')));
  requests.push_back(plain_request(std::string(64, 'e') + "\\" + std::string(7, 'f') + "\x7f"));
  {
    providers::ChatRequest r = plain_request("x");
    r.max_tokens = 8;
    r.temperature = 0.7;
    r.tool_choice = "auto";
    requests.push_back(r);
    r.temperature = 1e-7;
    r.tool_choice = "search";  // a tool's name: {"type":"function",...}
    requests.push_back(r);
  }
  {
    providers::ChatRequest r = plain_request("look it up");
    providers::Message called{"assistant", ""};
    called.tool_calls = {{"call-1", "search", "{\"q\": \"perdiem\"}"}, {"call-2", "read", "bad"}};
    r.messages.push_back(called);
    providers::Message with_text{"assistant", "let me see"};
    with_text.tool_calls = {{"call-3", "search", "{}"}};
    r.messages.push_back(with_text);
    providers::Message answer{"tool", "found it"};
    answer.tool_call_id = "call-1";
    r.messages.push_back(answer);
    requests.push_back(r);
  }
  {
    // Schemas are arbitrary JSON: these take the document's way, and must agree too.
    providers::ChatRequest r = plain_request("tools");
    r.tools = {{"search", "finds things", R"({"type":"object","properties":{"q":{}}})"}};
    requests.push_back(r);
    r.tools.clear();
    r.response_format = providers::ResponseFormat{"report", R"({"type":"object"})", true};
    requests.push_back(r);
  }
  for (const providers::ChatRequest& request : requests) {
    const std::string expected = sdk::request_document(request).dump();
    CHECK(sdk::request_text(request) == expected);
    CHECK(json::parse(sdk::request_text(request)) == sdk::request_document(request));
  }
}

TEST_CASE("an answer's trace text is its document's dump, with the route beside it") {
  providers::ChatResponse response;
  response.content = "the \"answer\"\n\xe2\x98\x83";
  response.model = "sim-1";
  response.provider = "sim";
  response.finish_reason = "stop";
  response.usage.input_tokens = 12;
  response.usage.output_tokens = 5;
  response.usage.cached_input_tokens = 3;
  CHECK(sdk::response_text(response, "") == sdk::response_document(response).dump());
  response.tool_calls = {{"call-1", "search", "{\"q\":1}"}, {"call-2", "read", ""}};
  CHECK(sdk::response_text(response, "") == sdk::response_document(response).dump());

  sdk::RouteTrace route;
  route.model = "m";
  route.policy = router::Policy::fastest;
  route.decision = "venice then groq; left out \"dead\"";
  router::TraceEntry failed;
  failed.provider = "venice";
  failed.model = "v-1";
  failed.attempt = 1;
  failed.outcome = router::TraceOutcome::next_candidate;
  failed.latency = std::chrono::microseconds(12'345);
  failed.reason = "503";
  router::TraceEntry served = failed;
  served.provider = "groq";
  served.attempt = 2;
  served.outcome = router::TraceOutcome::ok;
  served.waited = std::chrono::milliseconds(250);
  served.reason.clear();
  route.attempts = {failed, served};
  const std::string text = sdk::route_json(route);
  CHECK(text == route_document(route).dump());
  route.charged_failures = {{"venice", 1, 1200, "41"}};
  CHECK(sdk::route_json(route) == route_document(route).dump());

  json expected = sdk::response_document(response);
  expected["route"] = route_document(route);
  CHECK(sdk::response_text(response, sdk::route_json(route)) == expected.dump());

  sdk::RouteTrace empty;
  CHECK(sdk::route_json(empty) == route_document(empty).dump());
}
