// How a step's request and answer are written into a trace, and read back by replay.
// The request is the OpenAI wire body (what replay matches by hash); the answer keeps
// every field a plan can see, so a replayed run gets exactly what the recorded one got.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::sdk {

nlohmann::json request_document(const providers::ChatRequest& request);
nlohmann::json request_document(const providers::EmbedRequest& request);

// The same documents as the JSON text the trace stores (dump() of the above: compact,
// keys sorted), written directly. request_text(r) == request_document(r).dump().
std::string request_text(const providers::ChatRequest& request);
// response_document(r) with, when `route_json` is not empty, "route" set to that JSON.
std::string response_text(const providers::ChatResponse& response, std::string_view route_json);

nlohmann::json response_document(const providers::ChatResponse& response);
nlohmann::json response_document(const providers::EmbedResponse& response);

// bad_response when the document is not one response_document() wrote.
Result<providers::ChatResponse> chat_response_from(const nlohmann::json& document);
Result<providers::EmbedResponse> embed_response_from(const nlohmann::json& document);

}  // namespace perdiem::sdk
