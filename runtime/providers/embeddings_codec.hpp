// The OpenAI embeddings wire format (POST /embeddings), both directions. Pure functions:
// bytes in, values or an Error out. OpenRouter, Together, Fireworks, DeepInfra, OpenAI,
// Ollama and llama.cpp's server all speak it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

// The most texts one request may embed, and the largest vector accepted: a reply beyond
// them is a broken or hostile server, not an embedding.
inline constexpr std::size_t kMaxEmbedInputs = 2048;
inline constexpr std::size_t kMaxEmbedDimensions = 16384;

// ---- client side ----
// {"model":..,"input":[..],"encoding_format":"float"}; model omitted when "".
std::string encode_embed_request(const EmbedRequest& request);

// Maps one HTTP answer to vectors in input order (data[].index places each one), or an
// Error with source `provider_name`. bad_response when the body is not JSON, a vector is
// missing, duplicated, empty, of another dimension than the rest, longer than
// kMaxEmbedDimensions or holds a non-finite or non-number value, or when the count of
// vectors is not `expected_count`. Statuses map as for chat (wire::http_error).
Result<EmbedResponse> decode_embed_response(long http_status, std::string_view body,
                                            std::size_t expected_count,
                                            const std::string& provider_name);

// ---- server side (the mock provider) ----
// "input" as one string or an array of strings; invalid_argument otherwise.
Result<EmbedRequest> decode_embed_request(std::string_view body);
std::string encode_embed_response(const EmbedResponse& response);

}  // namespace perdiem::providers
