// The model list (GET /models) and the prices providers publish in it, converted exactly.
#include <doctest/doctest.h>

#include "runtime/providers/models_codec.hpp"

using namespace perdiem;
using namespace perdiem::providers;

TEST_CASE("USD per token becomes nano-USD per million tokens, exactly, rounded up") {
  CHECK(usd_per_token_to_nanos_per_mtok("0.00000059") == 590'000'000);  // $0.59/M
  CHECK(usd_per_token_to_nanos_per_mtok("0.00003") == 30'000'000'000);  // $30/M
  CHECK(usd_per_token_to_nanos_per_mtok("0") == 0);
  CHECK(usd_per_token_to_nanos_per_mtok("1") == 1'000'000'000'000'000);
  CHECK(usd_per_token_to_nanos_per_mtok("5.9e-07") == 590'000'000);
  CHECK(usd_per_token_to_nanos_per_mtok("0.0000000000000001") == 1);  // below a unit: up
  CHECK(usd_per_token_to_nanos_per_mtok("0.0000000000000010") == 1);
  for (const char* bad : {"-1", "", ".", "abc", "1e", "0.5x", "1000", " 1", "1e999"}) {
    CAPTURE(bad);
    CHECK_FALSE(usd_per_token_to_nanos_per_mtok(bad).has_value());
  }
}

TEST_CASE("an OpenRouter-style model list gives each model its published price") {
  const std::string body = R"({"data": [
    {"id": "meta-llama/llama-3.3-70b-instruct", "name": "Llama 3.3 70B", "context_length": 131072,
     "pricing": {"prompt": "0.00000013", "completion": "0.0000004", "request": "0",
                 "image": "0", "input_cache_read": "0.00000001"}},
    {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}},
    {"id": "plain-model"},
    {"id": "half-priced", "pricing": {"prompt": "0.000001"}},
    {"id": "per-request", "pricing": {"prompt": "0", "completion": "0", "request": "0.005"}}
  ]})";
  auto models = decode_models_response(200, body, "openrouter");
  REQUIRE(models.ok());
  REQUIRE(models->size() == 5);
  const ListedModel& llama = (*models)[0];
  CHECK(llama.id == "meta-llama/llama-3.3-70b-instruct");
  REQUIRE(llama.price);
  CHECK(llama.price->input_per_mtok == 130'000'000);
  CHECK(llama.price->output_per_mtok == 400'000'000);
  CHECK(llama.price->per_request == 0);
  CHECK(llama.price->cached_input_per_mtok == 10'000'000);
  CHECK_FALSE((*models)[1].price);  // a variable price is no price
  CHECK_FALSE((*models)[2].price);
  CHECK_FALSE((*models)[3].price);  // no output price: unpriced, never free output
  REQUIRE((*models)[4].price);
  CHECK((*models)[4].price->per_request == 5'000'000);  // $0.005
}

TEST_CASE("a model list that is not one is a clear error") {
  for (const char* body : {R"({"models": []})", R"({"data": [{"name": "x"}]})", "[]", "nope"}) {
    auto models = decode_models_response(200, body, "venice");
    REQUIRE_FALSE(models.ok());
    CHECK(models.error().kind == ErrorKind::bad_response);
    CHECK(models.error().source == "venice");
  }
  auto refused = decode_models_response(401, R"({"error": {"message": "bad key"}})", "venice");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::auth);
}
