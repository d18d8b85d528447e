#include "runtime/providers/sim_provider.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace perdiem;
using namespace perdiem::providers;

namespace {

ChatRequest ask(std::string text) {
  ChatRequest request;
  request.messages = {{"user", std::move(text)}};
  return request;
}

}  // namespace

TEST_CASE("sim_reply echoes the last user message") {
  ChatRequest request = ask("first");
  request.messages.push_back({"assistant", "ignored"});
  request.messages.push_back({"user", "What is 2+2?"});
  const ChatResponse reply = sim_reply(request, 1);
  CHECK(reply.content == "sim: I received your message: What is 2+2?");
  CHECK(reply.finish_reason == "stop");
  CHECK(reply.provider == "sim");
  CHECK(reply.model == "sim-1");
}

TEST_CASE("sim_reply is deterministic for a seed and request") {
  const ChatRequest request = ask("same question");
  const ChatResponse a = sim_reply(request, 42);
  const ChatResponse b = sim_reply(request, 42);
  CHECK(a.content == b.content);
  CHECK(a.usage.input_tokens == b.usage.input_tokens);
  CHECK(a.usage.output_tokens == b.usage.output_tokens);
  CHECK(a.finish_reason == b.finish_reason);
}

TEST_CASE("sim_reply echoes the request's model") {
  ChatRequest request = ask("x");
  request.model = "meta-llama/llama-3.3-70b-instruct";
  CHECK(sim_reply(request, 1).model == "meta-llama/llama-3.3-70b-instruct");
}

TEST_CASE("sim_reply quotes at most 200 characters, on one line") {
  const std::string long_text = std::string(150, 'a') + "\n" + std::string(150, 'b');
  const ChatResponse reply = sim_reply(ask(long_text), 1);
  const std::string prefix = "sim: I received your message: ";
  REQUIRE(reply.content.starts_with(prefix));
  CHECK(reply.content.size() == prefix.size() + 200 + 3);
  CHECK(reply.content.ends_with("..."));
  CHECK(reply.content.find('\n') == std::string::npos);
}

TEST_CASE("sim_reply answers a scripted request exactly") {
  CHECK(sim_reply(ask("Please reply with exactly: PONG"), 1).content == "PONG");
  CHECK(sim_reply(ask("RESPOND WITH EXACTLY: \"two words\"\nmore"), 1).content == "two words");
  CHECK(sim_reply(ask("say exactly: 'ok'"), 1).content == "ok");
  // Nothing after the cue: fall back to the echo.
  CHECK(sim_reply(ask("reply with exactly:   "), 1).content.starts_with("sim: "));
}

TEST_CASE("sim_reply without a user message still answers") {
  ChatRequest request;
  request.messages = {{"system", "you are a test"}};
  CHECK(sim_reply(request, 1).content == "sim: there was no user message to answer");
  CHECK(sim_reply(ChatRequest{}, 1).usage.input_tokens == 0);
}

TEST_CASE("sim token counts: ceil(chars/4) per message plus 4, ceil(chars/4) out") {
  ChatRequest request;
  request.messages = {{"system", "12345678"},                  // 2 + 4
                      {"user", "reply with exactly: abcde"}};  // 25 chars: 7 + 4
  const ChatResponse reply = sim_reply(request, 1);
  CHECK(reply.content == "abcde");
  CHECK(reply.usage.input_tokens == 6 + 11);
  CHECK(reply.usage.output_tokens == 2);
  CHECK(sim_token_estimate("") == 0);
  CHECK(sim_token_estimate("abcd") == 1);
  CHECK(sim_token_estimate("abcde") == 2);
  CHECK(sim_token_estimate("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9") == 2);  // 5 x é
}

TEST_CASE("sim_reply respects max_tokens by truncating") {
  ChatRequest request = ask("reply with exactly: " + std::string(100, 'z'));
  request.max_tokens = 5;
  const ChatResponse reply = sim_reply(request, 1);
  CHECK(reply.content == std::string(20, 'z'));
  CHECK(reply.usage.output_tokens == 5);
  CHECK(reply.finish_reason == "length");

  request.max_tokens = 0;
  const ChatResponse none = sim_reply(request, 1);
  CHECK(none.content.empty());
  CHECK(none.usage.output_tokens == 0);
  CHECK(none.finish_reason == "length");

  request.max_tokens = 1000;
  CHECK(sim_reply(request, 1).finish_reason == "stop");
}

TEST_CASE("sim_reply truncation never splits a UTF-8 character") {
  std::string accents;
  for (int i = 0; i < 20; ++i) accents += "\xC3\xA9";
  ChatRequest request = ask("reply with exactly: " + accents);
  request.max_tokens = 1;
  const ChatResponse reply = sim_reply(request, 1);
  CHECK(reply.content.size() == 8);  // 4 characters of 2 bytes
}

TEST_CASE("make_sim_provider is named sim and answers like sim_reply") {
  auto provider = make_sim_provider(7);
  CHECK(provider->name() == "sim");
  const ChatRequest request = ask("hi");
  auto reply = provider->chat(request);
  REQUIRE(reply.ok());
  CHECK(reply->content == sim_reply(request, 7).content);
  CHECK(reply->provider == "sim");
}

TEST_CASE("the sim streams word-sized pieces that concatenate to its answer") {
  auto sim = make_sim_provider(7);
  for (const std::string text : {"what is the weather in Paris?", "reply with exactly: un  deux\ttrois",
                                 "reply with exactly: é ü ñ"}) {
    std::vector<std::string> pieces;
    ChatCall call;
    call.on_text = [&](std::string_view piece) { pieces.emplace_back(piece); };
    Result<ChatResponse> streamed = sim->chat_call(ask(text), call);
    REQUIRE(streamed.ok());
    CHECK(streamed.value().content == sim_reply(ask(text), 7).content);
    std::string joined;
    for (const std::string& piece : pieces) {
      CHECK_FALSE(piece.empty());
      joined += piece;
    }
    CHECK(joined == streamed.value().content);
    CHECK(pieces.size() > 1);  // every answer above has several words
    CHECK(call.ttft_us.has_value());
    CHECK_FALSE(call.partial_output);
  }
  CHECK(sim_pieces("").empty());
  CHECK(sim_pieces("  a b").size() == 3);  // "  ", "a ", "b"
}

TEST_CASE("the sim without a text sink answers in one piece and records no ttft") {
  auto sim = make_sim_provider(7);
  ChatCall call;
  Result<ChatResponse> answer = sim->chat_call(ask("hello there"), call);
  REQUIRE(answer.ok());
  CHECK_FALSE(call.ttft_us.has_value());
}

TEST_CASE("a reader that stops the sim's stream gets a cancelled call with the partial text") {
  auto sim = make_sim_provider(7);
  ChatCall call;
  std::string received;
  call.on_text = [&](std::string_view piece) {
    received += piece;
    call.stop_requested = true;  // after the first piece
  };
  const ChatRequest request = ask("reply with exactly: one two three");
  Result<ChatResponse> answer = sim->chat_call(request, call);
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().kind == ErrorKind::cancelled);
  CHECK(received == "one ");
  CHECK(call.partial_output);
  CHECK(call.partial_text == received);
  REQUIRE(call.partial_usage.has_value());
  CHECK(call.partial_usage->output_tokens == sim_token_estimate(received));
  CHECK(call.partial_usage->input_tokens == sim_reply(request, 7).usage.input_tokens);
}
