// Routing from the command line: the config.json example of docs/providers.md as
// `perdiem providers list` shows it, `perdiem providers test`, and a routed run that
// falls back from a dead server to `perdiem mock-provider` over HTTP, traced and with
// health kept in PERDIEM_HOME/health.json.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "support/process.hpp"

using perdiem::testing::BackgroundProcess;
using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;
const std::string kSource = PERDIEM_SOURCE_DIR;

struct TempHome {
  TempHome() {
    char tmpl[] = "/tmp/perdiem-providers-cli-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempHome() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(path + "/" + name) << text;
  }
  std::string path;
};

// The first ```json block of `document` (relative to the source tree).
std::string first_json_block(const std::string& document) {
  std::ifstream in(kSource + "/" + document);
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```json") {
      inside = true;
    } else if (inside && line == "```") {
      return block;
    } else if (inside) {
      block += line + "\n";
    }
  }
  return block;
}

const nlohmann::json* find_named(const nlohmann::json& list, const std::string& name) {
  for (const auto& entry : list) {
    if (entry["name"] == name) return &entry;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the config example in docs/providers.md is what `providers list` shows") {
  TempHome home;
  const std::string config = first_json_block("docs/providers.md");
  REQUIRE_FALSE(config.empty());
  home.write("config.json", config);
  auto listed = run_process(kCli, {"providers", "list", "--json"}, {{"PERDIEM_HOME", home.path}});
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const auto doc = nlohmann::json::parse(listed.out);
  REQUIRE(doc.size() == 4);
  CHECK(doc[0]["name"] == "sim");
  const auto* venice = find_named(doc, "venice");
  const auto* groq = find_named(doc, "groq");
  const auto* vllm = find_named(doc, "my-vllm");
  REQUIRE((venice && groq && vllm));
  // No keys in this environment: the hosted ones are listed, unavailable, with the reason.
  CHECK((*venice)["available"] == false);
  CHECK((*venice)["unavailable"].get<std::string>().find("VENICE_API_KEY") != std::string::npos);
  CHECK((*venice)["privacy"] == nlohmann::json::array({"no-log"}));
  CHECK((*groq)["available"] == false);
  CHECK((*vllm)["available"] == true);
  CHECK((*vllm)["local"] == true);
  CHECK((*vllm)["tools"] == false);
  for (const auto* member : {venice, groq, vllm}) {
    CHECK((*member)["models"] == nlohmann::json::array({"llama-3.3-70b"}));
  }

  auto human = run_process(kCli, {"providers", "list"}, {{"PERDIEM_HOME", home.path}});
  REQUIRE(human.exit_code == 0);
  CHECK(human.out.find("unavailable: VENICE_API_KEY is not set") != std::string::npos);
}

TEST_CASE("a malformed routing section is a clear error naming the field") {
  TempHome home;
  home.write("config.json", R"({"routing": {"prefer": "vibes"}})");
  auto listed = run_process(kCli, {"providers", "list"}, {{"PERDIEM_HOME", home.path}});
  CHECK(listed.exit_code == 1);
  CHECK(listed.err.find("routing.prefer") != std::string::npos);
  auto ran = run_process(kCli, {"run", kSource + "/examples/agents/hello.lua"},
                         {{"PERDIEM_HOME", home.path}});
  CHECK(ran.exit_code == 1);
  CHECK(ran.err.find("routing.prefer") != std::string::npos);
}

TEST_CASE("`providers test` makes one short call to the named provider") {
  TempHome home;
  auto tested = run_process(kCli, {"providers", "test", "sim", "--no-wallet"},
                            {{"PERDIEM_HOME", home.path}});
  REQUIRE_MESSAGE(tested.exit_code == 0, tested.err);
  CHECK(tested.out.rfind("sim answered in ", 0) == 0);
  CHECK(tested.out.find("output tokens, cost $0") != std::string::npos);

  auto unknown = run_process(kCli, {"providers", "test", "nobody", "--no-wallet"},
                             {{"PERDIEM_HOME", home.path}});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err.find("no provider 'nobody'") != std::string::npos);
  auto bare = run_process(kCli, {"providers", "test"}, {{"PERDIEM_HOME", home.path}});
  CHECK(bare.exit_code == 2);
}

TEST_CASE("a routed run falls back from a dead server to the mock provider over HTTP") {
  BackgroundProcess server(kCli, {"mock-provider"});
  const std::string prefix = "perdiem mock-provider listening on ";
  REQUIRE(server.first_line().rfind(prefix, 0) == 0);
  const std::string url = server.first_line().substr(prefix.size());

  TempHome home;
  nlohmann::json config = {
      {"providers",
       {{"dead", {{"base_url", "http://127.0.0.1:9/v1"}}}, {"mock", {{"base_url", url}}}}},
      {"models", {{"m", {{{"provider", "dead"}, {"model", "sim-1"}},
                         {{"provider", "mock"}, {"model", "sim-1"}}}}}},
      {"routing", {{"retries", 1}}}};
  home.write("config.json", config.dump());
  home.write("plan.lua",
             "return model.chat{model='m', messages={{role='user', content='hi'}}}.provider");
  auto ran = run_process(kCli, {"run", "--json", "--quiet", home.path + "/plan.lua"},
                         {{"PERDIEM_HOME", home.path}});
  REQUIRE_MESSAGE(ran.exit_code == 0, ran.err);
  const auto result = nlohmann::json::parse(ran.out);
  CHECK(result["result"] == "mock");
  CHECK(result["usage"]["model_calls"] == 1);

  auto shown = run_process(kCli, {"runs", "show", "--json", result["run_id"]},
                           {{"PERDIEM_HOME", home.path}});
  REQUIRE_MESSAGE(shown.exit_code == 0, shown.err);
  const auto route = nlohmann::json::parse(shown.out)["steps"][0]["response"]["route"];
  CHECK(route["model"] == "m");
  CHECK(route["policy"] == "cheapest");
  const auto& attempts = route["attempts"];
  // "dead" ranks first (free, ties by name), is retried once, then the call moves on.
  REQUIRE(attempts.size() == 3);
  CHECK(attempts[0]["provider"] == "dead");
  CHECK(attempts[0]["outcome"] == "retry");
  CHECK(attempts[1]["provider"] == "dead");
  CHECK(attempts[1]["outcome"] == "next candidate");
  CHECK(attempts[2]["provider"] == "mock");
  CHECK(attempts[2]["outcome"] == "ok");

  std::ifstream health_file(home.path + "/health.json");
  REQUIRE(health_file.good());
  const auto health = nlohmann::json::parse(health_file);
  CHECK(health["providers"]["dead"]["consecutive_failures"] == 2);
  CHECK(health["providers"]["mock"]["recent"] == "1");
}

TEST_CASE("`providers prices --refresh` keeps published prices, below config.json's own") {
  httplib::Server server;
  std::atomic<int> chats{0};
  server.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"data": [{"id": "m1", "pricing": {"prompt": "0.000001",
                        "completion": "0.000002", "request": "0"}}, {"id": "free-form"}]})",
                    "application/json");
  });
  server.Post("/v1/chat/completions", [&chats](const httplib::Request&, httplib::Response& res) {
    ++chats;
    res.status = 500;
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread listener([&server] { server.listen_after_bind(); });
  // Stops and joins however the test ends (a failed REQUIRE throws past the end).
  struct Stopper {
    httplib::Server& server;
    std::thread& listener;
    ~Stopper() {
      server.stop();
      listener.join();
    }
  } stopper{server, listener};
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";

  TempHome home;
  nlohmann::json config = {
      {"providers", {{"pub", {{"base_url", url}}}, {"mine", {{"base_url", url}}}}},
      {"prices", {{{"provider", "mine"}, {"model", "*"}, {"input", "9"}, {"output", "9"}}}}};
  home.write("config.json", config.dump());
  const perdiem::testing::Environment env{{"PERDIEM_HOME", home.path}};

  auto refreshed = run_process(kCli, {"providers", "prices", "--refresh", "pub", "mine"}, env);
  CHECK_MESSAGE(refreshed.exit_code == 0, refreshed.err);
  CHECK(refreshed.out.find("pub: 1 prices") != std::string::npos);

  auto listed = run_process(kCli, {"providers", "prices", "--json"}, env);
  REQUIRE_MESSAGE(listed.exit_code == 0, listed.err);
  const auto prices = nlohmann::json::parse(listed.out);
  REQUIRE(prices.size() == 2);  // mine's published price is hidden by its config price
  CHECK(prices[0]["provider"] == "mine");
  CHECK(prices[0]["source"] == "config");
  CHECK(prices[1]["provider"] == "pub");
  CHECK(prices[1]["model"] == "m1");
  CHECK(prices[1]["input"] == "1");   // $0.000001 a token is $1 per million
  CHECK(prices[1]["output"] == "2");
  CHECK(prices[1]["source"] == "published");

  // A run uses the refreshed price: the server is on loopback, free until priced, and
  // now the runtime's own empty wallet cannot pay for it, so nothing is sent.
  home.write("plan.lua",
             "return model.chat{model='m1', route={providers={'pub'}},"
             " messages={{role='user', content='hi'}}}.content");
  auto ran = run_process(kCli, {"run", "--no-wallet", home.path + "/plan.lua"}, env);
  CHECK(ran.exit_code == 1);
  CHECK(ran.err.find("insufficient_credits") != std::string::npos);
  // --json gives the refusal's amounts as numbers: the empty wallet has nothing.
  auto as_json = run_process(kCli, {"run", "--no-wallet", "--json", home.path + "/plan.lua"}, env);
  CHECK(as_json.exit_code == 1);
  const auto doc = nlohmann::json::parse(as_json.out);
  CHECK(doc["error"]["kind"] == "insufficient_credits");
  CHECK(doc["error"]["available_nanos"] == 0);
  CHECK(doc["error"]["needed_nanos"].get<std::int64_t>() > 0);
  CHECK(chats.load() == 0);
}
