// The Provider interface: one place that answers model calls, and the request and
// response types every adapter maps its wire format to and from.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/providers/models_codec.hpp"

namespace perdiem::http {
class EventLoop;
}

namespace perdiem::providers {

// A model's request to run a tool.
struct ToolCall {
  std::string id;         // the provider's id for this call; a "tool" message answers it
  std::string name;       // the tool's name
  std::string arguments;  // JSON text as the model wrote it: may be invalid JSON
};

// A tool the model may call.
struct ToolDefinition {
  std::string name;
  std::string description{};
  std::string parameters{};  // a JSON Schema as JSON text; "" means no parameters
};

// Structured output: the reply must be JSON matching `schema`.
struct ResponseFormat {
  std::string name;    // names the schema for the provider ("weather_report")
  std::string schema;  // a JSON Schema as JSON text
  bool strict = true;  // ask the provider to enforce the schema exactly
};

// Members added to these types after the first release carry `{}` initializers, so the
// aggregate initializations written before them (Message{"user", "hi"}) stay valid and
// free of -Wmissing-field-initializers.
struct Message {
  std::string role;  // "system", "user", "assistant", "tool"
  std::string content;
  std::vector<ToolCall> tool_calls{};  // role "assistant": the tools it called
  std::string tool_call_id{};          // role "tool": the ToolCall::id this answers
};

// How the runtime's router should choose a provider for one call (model.chat's route=).
// Like OpenRouter's per-request `provider` preferences; adapters never send it.
struct RoutePreferences {
  std::string prefer{};  // "price", "latency", "reliability"; "" = the runtime's default
  std::optional<std::int64_t> max_price_nanos{};  // cap on the call's worst case
  std::string privacy{};                          // "local", "no-log", "tee": a tag required
  std::vector<std::string> providers{};           // only these; empty = any
  std::vector<std::string> exclude{};             // never these
  std::optional<bool> fallback{};                 // to a local provider when every remote is down
};

struct ChatRequest {
  std::string model;  // the provider's model id
  std::vector<Message> messages;
  std::optional<int> max_tokens;
  std::optional<double> temperature;
  std::vector<ToolDefinition> tools{};
  // "" (the provider's default), "auto", "none", "required" (some tool), or a tool name.
  std::string tool_choice{};
  std::optional<ResponseFormat> response_format{};
  // For the router, not the provider: which provider may serve the call.
  std::optional<RoutePreferences> route{};
};

// Token counts as the provider reports them. input_tokens counts every prompt token;
// the cached counts are parts of it, never added on top (the wallet's Usage contract).
struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cached_input_tokens = 0;       // read from the provider's prompt cache
  std::int64_t cache_write_input_tokens = 0;  // written to it (Anthropic bills these higher)
};

struct ChatResponse {
  std::string content;
  std::string model;          // the model that answered, as the provider reports it
  std::string provider;       // the provider's name in perdiem ("sim", "openrouter")
  std::string finish_reason;  // "stop", "length", "tool_calls", "content_filter", ...
  Usage usage;
  std::vector<ToolCall> tool_calls{};  // in the order the model made them
  // What the provider says it charged (OpenRouter's usage.cost), in nano-USD rounded up;
  // for reconciliation only: the wallet charges by tokens and the price sheet.
  std::optional<std::int64_t> provider_cost_nanos{};
  // Response headers worth keeping with the step (Venice's balance headers, OpenRouter's
  // generation id): lowercase names, see kept_response_headers().
  std::vector<std::pair<std::string, std::string>> provider_headers{};
  // Filled by the meter (runtime/metering), not by adapters: what the wallet charged for
  // this call in nano-USD, and the id of its signed receipt.
  std::int64_t cost_nanos = 0;
  std::string receipt_id;
};

// Embeddings of one or more texts (POST /embeddings), in input order.
struct EmbedRequest {
  std::string model;  // the provider's embedding model id; "" = the provider's default
  std::vector<std::string> inputs;
};

struct EmbedResponse {
  std::vector<std::vector<float>> vectors;  // one per input, all of one dimension
  std::string model;
  std::string provider;
  Usage usage;  // input_tokens only
  // Filled by the meter, as for ChatResponse.
  std::int64_t cost_nanos = 0;
  std::string receipt_id{};
};

// Receives the answer's text as it arrives, on the thread that called chat_call().
using TextSink = std::function<void(std::string_view delta)>;

// One chat call's extras beyond the request: whether the caller wants the answer
// streamed, and what the adapter learned on the way that the router needs to decide
// about a retry (the status, Retry-After, whether output had started).
struct ChatCall {
  // Set: stream the answer and call on_text with each piece of text, in order; the
  // pieces concatenate to ChatResponse::content. Empty: one answer at the end.
  TextSink on_text{};

  // Filled by the adapter, on success or failure:
  std::optional<int> http_status{};
  std::optional<std::chrono::milliseconds> retry_after{};  // the server's Retry-After
  // Part of the answer had arrived when the call failed: the provider bills what it
  // generated, so the call must not be retried blindly.
  bool partial_output = false;
  // For a failed call with partial output: the usage the provider reported before the
  // stream ended, when it did (else the meter estimates from the text received).
  std::optional<Usage> partial_usage{};
  std::string partial_text{};             // the text received before the failure
  std::optional<std::int64_t> ttft_us{};  // time to the first token, when streamed

  // Filled by the meter, not adapters: what a failed call was charged anyway (its output
  // had started, or the provider may have billed it) and that charge's receipt; 0 and ""
  // when its hold was released.
  std::int64_t charged_nanos = 0;
  std::string charged_receipt{};

  // Set by the caller, from inside on_text (same thread), to end the stream early: an
  // adapter that streams then stops reading and fails the call with kind `cancelled`,
  // partial_output set and the partial fields filled, as for a broken stream. An adapter
  // that cannot stop early may finish the answer (on_text is then called no more).
  bool stop_requested = false;
  // Set by the caller (a run's cancel flag): once it reads true, an HTTP adapter abandons
  // the call within about a second and fails it with kind `cancelled`. The provider may
  // already have billed it, so the meter charges such a call its hold, as an estimate
  // for reconcile(). Must outlive the call.
  const std::atomic<bool>* abandon = nullptr;
};

// How an asynchronous call ends: exactly once, on the loop's thread.
using ChatDone = std::function<void(Result<ChatResponse>)>;

// Thread-safety: implementations must allow concurrent chat() and embed() calls, and
// start_chat() calls from any thread.
class Provider {
 public:
  virtual ~Provider() = default;
  // The name plans and traces see: "sim", "openrouter", "custom".
  virtual const std::string& name() const = 0;
  virtual Result<ChatResponse> chat(const ChatRequest& request) = 0;
  // chat() with streaming and retry details. The default calls chat() and, when
  // call.on_text is set, delivers the whole answer as one piece: adapters that can
  // stream, or know an HTTP status, override it.
  virtual Result<ChatResponse> chat_call(const ChatRequest& request, ChatCall& call);
  // Starts `request` and returns at once; `done` runs exactly once on `loop`'s thread,
  // never inside start_chat itself. `call` must stay alive and untouched by the caller
  // until then; the adapter fills it as chat_call() does (status, Retry-After, partial
  // output, ttft) and calls call.on_text on the loop thread; call.stop_requested may be
  // set from that callback. If the loop is shutting down, done still runs once with a
  // `cancelled` error. `request` is copied or encoded before start_chat returns. The
  // provider must outlive the call (for the default below: until its worker returns).
  // May be called from any thread, the loop thread included.
  // Default implementation: runs chat_call() on a small shared pool of blocking worker
  // threads (blocking_pool.hpp) and posts `done` to the loop (for providers with no
  // asynchronous path, e.g. host-app models); streamed text reaches on_text on the loop
  // thread in one burst once the answer is complete, and a loop shut down meanwhile
  // gets `cancelled` at once while the worker's late answer is dropped.
  virtual void start_chat(const ChatRequest& request, ChatCall& call, http::EventLoop& loop,
                          ChatDone done);
  // Providers without an embeddings endpoint keep this default: a `provider` error.
  virtual Result<EmbedResponse> embed(const EmbedRequest& request);
  // The models the provider lists (GET /models), with the prices it publishes there.
  // Default: a not_found error (the provider lists none).
  virtual Result<std::vector<ListedModel>> list_models();
};

}  // namespace perdiem::providers
