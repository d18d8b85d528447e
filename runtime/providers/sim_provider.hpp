// The offline provider "sim": answers instantly (or after a simulated latency), costs
// nothing, and is deterministic, so plans, demos and tests run without a network or a key.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

// The sim's answer to `request`. Pure: the same seed and request give the same reply.
//  - The last user message saying "reply with exactly: X" (also "respond with exactly:",
//    "say exactly:"; case-insensitive; X runs to the end of its line, surrounding quotes
//    dropped) gets X back: scripted replies for demos and tests.
//  - Any other gets "sim: I received your message: " and its first 200 characters.
//  - Tokens are estimated at one per 4 characters (code points), rounded up, plus 4 per
//    input message for its framing. A max_tokens cap truncates the reply to 4 characters
//    per token and reports finish_reason "length".
//  - model echoes request.model, or "sim-1" when empty; provider is "sim".
//  - Tools (so tool loops run offline): when the request offers tools and the last
//    message is the user's, each of its lines "call tool NAME with {json}" (NAME an
//    offered tool) becomes a tool call (ids "call_1", ...; finish_reason "tool_calls").
//    When the last messages are tool results, the reply is "sim: tool results: " and
//    their contents joined by " | ".
// The seed is part of the contract so replies may vary by seed later (simulated
// latency or failures); today's replies do not depend on it.
ChatResponse sim_reply(const ChatRequest& request, std::uint64_t seed);

// The tool part of sim_reply (sim_tools.cpp): fills `response` and returns true when the
// request scripts a tool call or answers tool results.
bool apply_sim_tool_turn(const ChatRequest& request, ChatResponse& response);

// How long the sim takes to answer, as a remote model would: each call waits `latency`
// plus a uniform [0, jitter] extra drawn from the seed and the call's number (sim_delay).
struct SimOptions {
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds jitter{0};
};

// The wait of the sim's `call_number`-th call (0, 1, ...) with `seed`: latency plus
// jitter * u, u uniform in [0, 1] and a pure function of (seed, call_number), so a seed
// gives the same waits in the same order on every run.
std::chrono::milliseconds sim_delay(const SimOptions& options, std::uint64_t seed,
                                    std::uint64_t call_number);

// A Provider named "sim" answering with sim_reply. Thread-safe; never fails, except that
// chat_call() streams the answer to call.on_text in sim_pieces() and, when the reader
// sets call.stop_requested before the last piece, fails with kind `cancelled` and the
// partial fields filled (partial_usage: the input, and the output sent so far) as a real
// provider whose stream is cut would. ttft_us is the time to the first piece.
// With a latency, chat() and chat_call() sleep sim_delay() first, while start_chat()
// answers from a loop timer (EventLoop::post_after_or_cancel) and blocks no thread: its
// pieces reach on_text on the loop thread all at once when the delay is over.
std::unique_ptr<Provider> make_sim_provider(std::uint64_t seed, SimOptions options = {});

// How the sim streams `text`: word-sized pieces, each a run of non-blank bytes with the
// blanks that follow it (a leading run of blanks is a piece of its own). They concatenate
// to `text` exactly and never split a UTF-8 character. Empty text: no pieces.
std::vector<std::string_view> sim_pieces(std::string_view text);

// The sim's embedding of `text`: words (runs of ASCII letters and digits, lowercased;
// every other byte separates) hashed into kSimEmbeddingDimensions signed buckets, then
// scaled to unit length. Texts sharing words point the same way, so search over sim
// embeddings ranks like keyword overlap: enough for offline tests and demos. A text
// without words embeds as the first unit vector. The seed does not change it.
inline constexpr std::size_t kSimEmbeddingDimensions = 384;
std::vector<float> sim_embedding(std::string_view text);
// The sim's answer to an embeddings request: sim_embedding of each input, model
// "sim-embed" unless the request names one, usage by sim_token_estimate.
EmbedResponse sim_embed(const EmbedRequest& request);

// The sim's token estimate for `text`: ceil(code points / 4).
std::int64_t sim_token_estimate(std::string_view text);

}  // namespace perdiem::providers
