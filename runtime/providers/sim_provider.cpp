#include "runtime/providers/sim_provider.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "runtime/http/event_loop.hpp"

#include "runtime/providers/text.hpp"

namespace perdiem::providers {

namespace {

constexpr std::size_t kEchoChars = 200;
constexpr std::size_t kCharsPerToken = 4;
constexpr std::int64_t kMessageOverheadTokens = 4;

std::string lowercase_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && is_space(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && is_space(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// X from "... reply with exactly: X", or nullopt when the message scripts no reply.
std::optional<std::string> scripted_reply(std::string_view message) {
  static constexpr std::array<std::string_view, 3> kCues{
      "reply with exactly:", "respond with exactly:", "say exactly:"};
  // Lowercasing ASCII keeps byte offsets, so a match indexes the original text.
  const std::string lower = lowercase_ascii(message);
  for (std::string_view cue : kCues) {
    const auto at = lower.find(cue);
    if (at == std::string::npos) continue;
    std::string_view rest = message.substr(at + cue.size());
    rest = trim(rest.substr(0, rest.find('\n')));
    if (rest.size() >= 2 && (rest.front() == '"' || rest.front() == '\'') &&
        rest.back() == rest.front()) {
      rest = rest.substr(1, rest.size() - 2);
    }
    if (!rest.empty()) return std::string(rest);
  }
  return std::nullopt;
}

const Message* last_user_message(const ChatRequest& request) {
  for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it) {
    if (it->role == "user") return &*it;
  }
  return nullptr;
}

// splitmix64's finalizer: a well-mixed 64-bit value from any input.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class SimProvider final : public Provider {
 public:
  SimProvider(std::uint64_t seed, SimOptions options) : seed_(seed), options_(options) {}
  const std::string& name() const override { return name_; }
  Result<ChatResponse> chat(const ChatRequest& request) override {
    std::this_thread::sleep_for(next_delay());
    return sim_reply(request, seed_);
  }
  Result<ChatResponse> chat_call(const ChatRequest& request, ChatCall& call) override {
    const auto started = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(next_delay());
    return answer(sim_reply(request, seed_), call, started);
  }
  void start_chat(const ChatRequest& request, ChatCall& call, http::EventLoop& loop,
                  ChatDone done) override {
    const auto started = std::chrono::steady_clock::now();
    loop.post_after_or_cancel(
        next_delay(), [this, response = sim_reply(request, seed_), &call, started,
                       done = std::move(done)](bool cancelled) mutable {
          if (cancelled) {
            done(make_error(ErrorKind::cancelled,
                            "the call to sim was cancelled: its event loop shut down", name_));
            return;
          }
          done(answer(std::move(response), call, started));
        });
  }
  Result<EmbedResponse> embed(const EmbedRequest& request) override { return sim_embed(request); }

 private:
  std::chrono::milliseconds next_delay() {
    if (options_.latency.count() == 0 && options_.jitter.count() == 0) return {};
    return sim_delay(options_, seed_, calls_.fetch_add(1, std::memory_order_relaxed));
  }

  // Streams `response` to call.on_text, when set, as chat_call() documents.
  Result<ChatResponse> answer(ChatResponse response, ChatCall& call,
                              std::chrono::steady_clock::time_point started) const {
    if (!call.on_text) return response;
    std::size_t sent = 0;
    for (std::string_view piece : sim_pieces(response.content)) {
      if (!call.ttft_us) {
        call.ttft_us = std::chrono::duration_cast<std::chrono::microseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
      }
      call.on_text(piece);
      sent += piece.size();
      if (call.stop_requested && sent < response.content.size()) {
        // As a provider whose stream is cut: what was generated so far is billed.
        call.partial_output = true;
        call.partial_text = response.content.substr(0, sent);
        Usage usage;
        usage.input_tokens = response.usage.input_tokens;
        usage.output_tokens = sim_token_estimate(call.partial_text);
        call.partial_usage = usage;
        return make_error(ErrorKind::cancelled,
                          "the stream was stopped by its reader after " + std::to_string(sent) +
                              " of " + std::to_string(response.content.size()) + " bytes",
                          name_);
      }
    }
    return response;
  }

  const std::string name_ = "sim";
  const std::uint64_t seed_;
  const SimOptions options_;
  std::atomic<std::uint64_t> calls_{0};  // numbers the calls for sim_delay
};

}  // namespace

std::vector<std::string_view> sim_pieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = begin;
    while (end < text.size() && !is_space(text[end])) ++end;
    while (end < text.size() && is_space(text[end])) ++end;
    pieces.push_back(text.substr(begin, end - begin));
    begin = end;
  }
  return pieces;
}

std::int64_t sim_token_estimate(std::string_view s) {
  return static_cast<std::int64_t>((text::length(s) + kCharsPerToken - 1) / kCharsPerToken);
}

ChatResponse sim_reply(const ChatRequest& request, std::uint64_t /*seed*/) {
  ChatResponse response;
  response.provider = "sim";
  response.model = request.model.empty() ? "sim-1" : request.model;
  response.finish_reason = "stop";

  const Message* user = last_user_message(request);
  if (apply_sim_tool_turn(request, response)) {
    // A scripted tool call, or the answer to tool results: see sim_provider.hpp.
  } else if (user == nullptr) {
    response.content = "sim: there was no user message to answer";
  } else if (auto scripted = scripted_reply(user->content)) {
    response.content = std::move(*scripted);
  } else {
    response.content = "sim: I received your message: " + text::excerpt(user->content, kEchoChars);
  }

  for (const Message& m : request.messages) {
    response.usage.input_tokens += sim_token_estimate(m.content) + kMessageOverheadTokens;
  }
  response.usage.output_tokens = sim_token_estimate(response.content);
  if (request.max_tokens && response.usage.output_tokens > *request.max_tokens) {
    const auto cap = static_cast<std::size_t>(std::max(*request.max_tokens, 0));
    response.content = std::string(text::prefix(response.content, cap * kCharsPerToken));
    response.usage.output_tokens = sim_token_estimate(response.content);
    response.finish_reason = "length";
  }
  return response;
}

std::chrono::milliseconds sim_delay(const SimOptions& options, std::uint64_t seed,
                                    std::uint64_t call_number) {
  const auto jitter = std::max<std::int64_t>(options.jitter.count(), 0);
  const auto latency = std::max<std::int64_t>(options.latency.count(), 0);
  if (jitter == 0) return std::chrono::milliseconds(latency);
  const std::uint64_t draw = mix(mix(seed) ^ call_number);
  return std::chrono::milliseconds(
      latency + static_cast<std::int64_t>(draw % static_cast<std::uint64_t>(jitter + 1)));
}

std::unique_ptr<Provider> make_sim_provider(std::uint64_t seed, SimOptions options) {
  return std::make_unique<SimProvider>(seed, options);
}

}  // namespace perdiem::providers
