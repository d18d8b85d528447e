// How a step's request and answer are written into a trace, and read back by replay.
// The request is the OpenAI wire body (what replay matches by hash); the answer keeps
// every field a plan can see, so a replayed run gets exactly what the recorded one got.
#pragma once

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::sdk {

nlohmann::json request_document(const providers::ChatRequest& request);
nlohmann::json request_document(const providers::EmbedRequest& request);

nlohmann::json response_document(const providers::ChatResponse& response);
nlohmann::json response_document(const providers::EmbedResponse& response);

// bad_response when the document is not one response_document() wrote.
Result<providers::ChatResponse> chat_response_from(const nlohmann::json& document);
Result<providers::EmbedResponse> embed_response_from(const nlohmann::json& document);

}  // namespace perdiem::sdk
