// Embeddings: the OpenAI wire format both ways, the sim's hashed embeddings, and the
// OpenAI-compatible adapter against the mock server over loopback HTTP.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "runtime/http/curl_transport.hpp"
#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/mock_server.hpp"
#include "runtime/providers/openai_provider.hpp"
#include "runtime/providers/sim_provider.hpp"

using namespace perdiem;
using namespace perdiem::providers;

namespace {

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

Result<EmbedResponse> decode(std::string_view body, std::size_t count, long status = 200) {
  return decode_embed_response(status, body, count, "p");
}

}  // namespace

TEST_CASE("the embeddings request names the model and sends every input as floats") {
  EmbedRequest request{"text-embedding-3-small", {"a", "b"}};
  auto body = nlohmann::json::parse(encode_embed_request(request));
  CHECK(body["model"] == "text-embedding-3-small");
  CHECK(body["input"] == nlohmann::json::array({"a", "b"}));
  CHECK(body["encoding_format"] == "float");
  CHECK_FALSE(nlohmann::json::parse(encode_embed_request({"", {"x"}})).contains("model"));
}

TEST_CASE("embeddings are placed by their index, with the usage") {
  auto response = decode(R"({"data":[{"index":1,"embedding":[3,4]},{"index":0,"embedding":[1,2]}],
                            "model":"m","usage":{"prompt_tokens":7,"total_tokens":7}})",
                         2);
  REQUIRE(response.ok());
  CHECK(response->vectors[0] == std::vector<float>{1, 2});
  CHECK(response->vectors[1] == std::vector<float>{3, 4});
  CHECK(response->model == "m");
  CHECK(response->usage.input_tokens == 7);
}

TEST_CASE("a malformed embeddings answer is a bad_response naming the fault") {
  struct Case {
    const char* body;
    const char* says;
  } cases[] = {
      {R"({"data":[{"embedding":[1,2]}]})", "1 embeddings for 2 inputs"},
      {R"({"data":[{"embedding":[1,2]},{"embedding":[1]}]})", "differ in dimension"},
      {R"({"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]})", "claim index 0"},
      {R"({"data":[{"index":5,"embedding":[1]},{"embedding":[2]}]})", "out of range"},
      {R"({"data":[{"embedding":[1,"x"]},{"embedding":[1,2]}]})", "non-number"},
      {R"({"data":[{"embedding":[]},{"embedding":[1]}]})", "missing or empty"},
      {R"({"object":"list"})", "no \"data\" array"},
      {R"({"data":[{"embedding":[1]},{"embedding":[2]}],"usage":{"prompt_tokens":-3}})",
       "not token counts"},
      {"not json", "not valid JSON"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.body);
    auto response = decode(c.body, 2);
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::bad_response);
    CHECK(response.error().message.find(c.says) != std::string::npos);
  }
  std::string huge = R"({"data":[{"embedding":[)";
  for (std::size_t i = 0; i <= kMaxEmbedDimensions; ++i) huge += i ? ",0" : "0";
  huge += "]}]}";
  CHECK(decode(huge, 1).error().message.find("dimensions") != std::string::npos);
}

TEST_CASE("embeddings errors map like chat errors") {
  CHECK(decode(R"({"error":{"message":"bad key"}})", 1, 401).error().kind == ErrorKind::auth);
  auto limited = decode(R"({"error":{"message":"slow down"}})", 1, 429);
  CHECK(limited.error().kind == ErrorKind::rate_limited);
  CHECK(limited.error().retryable);
}

TEST_CASE("the server side reads a string or an array and refuses anything else") {
  CHECK(decode_embed_request(R"({"input":"hi"})")->inputs == std::vector<std::string>{"hi"});
  CHECK(decode_embed_request(R"({"model":"m","input":["a","b"]})")->inputs.size() == 2);
  for (const char* bad : {R"({"input":[]})", R"({"input":[1]})", R"({"input":["a",2]})",
                          R"({"input":5})", R"({})", "[]"}) {
    CAPTURE(bad);
    CHECK(decode_embed_request(bad).error().kind == ErrorKind::invalid_argument);
  }
}

TEST_CASE("sim embeddings are unit vectors that point alike for texts sharing words") {
  auto cats = sim_embedding("Cats purr and sleep all day");
  auto cats_again = sim_embedding("cats, PURR; and sleep all day!");
  auto rockets = sim_embedding("rocket engines burn kerosene");
  REQUIRE(cats.size() == kSimEmbeddingDimensions);
  double norm = 0;
  for (float v : cats) norm += double(v) * v;
  CHECK(norm == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(cosine(cats, cats_again) == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(cosine(cats, sim_embedding("do cats sleep")) > cosine(cats, rockets) + 0.3);
  auto empty = sim_embedding("  !! ");
  CHECK(empty[0] == 1.0f);

  EmbedResponse response = sim_embed({"", {"one two", "three"}});
  CHECK(response.model == "sim-embed");
  CHECK(response.provider == "sim");
  CHECK(response.vectors.size() == 2);
  CHECK(response.usage.input_tokens == sim_token_estimate("one two") + sim_token_estimate("three"));
}

TEST_CASE("the OpenAI-compatible adapter embeds through the mock server over HTTP") {
  auto server = MockServer::start(MockProviderOptions{});
  REQUIRE(server.ok());
  OpenAiProviderConfig config;
  config.name = "loopback";
  config.base_url = (*server)->base_url();
  config.default_model = "sim-embed";
  auto provider = make_openai_provider(std::move(config), http::make_curl_transport());

  auto response = provider->embed({"", {"cats purr", "rockets burn"}});
  REQUIRE_MESSAGE(response.ok(), response.error().describe());
  CHECK(response->provider == "loopback");
  CHECK(response->model == "sim-embed");
  REQUIRE(response->vectors.size() == 2);
  CHECK(response->vectors[0] == sim_embedding("cats purr"));
  CHECK(response->vectors[1] == sim_embedding("rockets burn"));
  CHECK(response->usage.input_tokens > 0);

  auto empty = provider->embed({"", {}});
  CHECK(empty.error().kind == ErrorKind::invalid_argument);
}

TEST_CASE("a provider without embeddings says so") {
  class ChatOnly final : public Provider {
   public:
    const std::string& name() const override { return name_; }
    Result<ChatResponse> chat(const ChatRequest&) override { return ChatResponse{}; }

   private:
    std::string name_ = "chatty";
  } provider;
  auto response = provider.embed({"", {"x"}});
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::provider);
  CHECK(response.error().message.find("offers no embeddings") != std::string::npos);
}
