// Routing through the Runtime: routes from config.json, providers over real HTTP on
// loopback (perdiem::MockProvider), fallback past a dead server, model.chat's route=
// preferences and constraints, providers.list(), health that persists between runtimes.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"
#include "perdiem/routing.hpp"

using namespace perdiem;

namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/perdiem-routing-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  void write_config(const nlohmann::json& config) const {
    std::ofstream(path + "/config.json") << config.dump(2);
  }
  std::string path;
};

std::unique_ptr<MockProvider> start_mock() {
  auto server = MockProvider::start({});
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().describe()));
  return std::move(*server);
}

// Nothing listens on the discard port of loopback: connections are refused at once.
constexpr const char* kDeadUrl = "http://127.0.0.1:9/v1";

ProviderEndpoint endpoint(std::string name, std::string base_url,
                          std::vector<std::string> privacy = {}) {
  ProviderEndpoint e;
  e.name = std::move(name);
  e.base_url = std::move(base_url);
  e.privacy = std::move(privacy);
  return e;
}

// Two live servers ("live", "vault") and a dead one ("dead"), all serving route "m". With
// equal (free) prices, ties break by name, so "dead" is tried first.
struct Fleet {
  std::unique_ptr<MockProvider> live = start_mock();
  std::unique_ptr<MockProvider> vault = start_mock();

  RuntimeOptions options(std::vector<std::string> order = {"dead", "live", "vault"}) const {
    RuntimeOptions options;
    options.provider.provider = "sim";
    options.provider.use_environment = false;
    options.routing.providers = {endpoint("live", live->base_url()),
                                 endpoint("vault", vault->base_url(), {"no-log"}),
                                 endpoint("dead", kDeadUrl)};
    ModelRoute route;
    route.name = "m";
    for (const std::string& name : order) route.targets.push_back({name, "sim-1"});
    options.routing.models = {route};
    options.routing.retries = 0;
    return options;
  }
};

std::unique_ptr<Runtime> make_runtime(RuntimeOptions options) {
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), (runtime.ok() ? "" : runtime.error().describe()));
  return std::move(*runtime);
}

RunResult run(Runtime& runtime, const std::string& source) {
  return runtime.run_script(source, "routing-test", {});
}

std::string must_run(Runtime& runtime, const std::string& source) {
  RunResult result = run(runtime, source);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  return result.text;
}

const char* kWhoAnswers =
    "return model.chat{model='m', messages={{role='user', content='hi'}}}.provider";

}  // namespace

TEST_CASE("routing_from_config reads providers, models and routing, and names bad fields") {
  TempDir home;
  SUBCASE("absent file and absent sections are empty options") {
    auto none = routing_from_config(home.path);
    REQUIRE(none.ok());
    CHECK(none->providers.empty());
    home.write_config({{"prices", nlohmann::json::array()}});
    auto empty = routing_from_config(home.path);
    REQUIRE(empty.ok());
    CHECK(empty->models.empty());
    CHECK(empty->prefer == "price");
  }
  SUBCASE("a full configuration") {
    home.write_config(
        {{"providers",
          {{"venice", {{"privacy", {"no-log"}}}},
           {"mine", {{"base_url", "http://10.0.0.5:8000/v1"}, {"key_env", "MINE_KEY"},
                     {"tools", false}, {"api", "openai"}}}}},
         {"models",
          {{"llama", {{{"provider", "venice"}, {"model", "llama-3.3-70b"}},
                      {{"provider", "mine"}, {"model", "meta/llama"}}}}}},
         {"routing", {{"prefer", "latency"}, {"local_fallback", true}, {"retries", 3}}}});
    auto options = routing_from_config(home.path);
    REQUIRE_MESSAGE(options.ok(), (options.ok() ? "" : options.error().describe()));
    REQUIRE(options->providers.size() == 2);
    const ProviderEndpoint& mine =
        options->providers[0].name == "mine" ? options->providers[0] : options->providers[1];
    CHECK(mine.base_url == "http://10.0.0.5:8000/v1");
    CHECK(mine.key_env == "MINE_KEY");
    CHECK_FALSE(mine.tools);
    REQUIRE(options->models.size() == 1);
    CHECK(options->models[0].targets.size() == 2);
    CHECK(options->models[0].targets[1].model == "meta/llama");
    CHECK(options->prefer == "latency");
    CHECK(options->local_fallback);
    CHECK(options->retries == 3);
  }
  SUBCASE("malformed sections name the field") {
    const std::pair<nlohmann::json, const char*> cases[] = {
        {{{"providers", {{"x", {{"privacy", {"secret"}}}}}}}, "providers.x.privacy"},
        {{{"providers", {{"x", {{"api", "soap"}}}}}}, "providers.x.api"},
        {{{"models", {{"m", nlohmann::json::array()}}}}, "models.m"},
        {{{"models", {{"m", {{{"provider", "venice"}}}}}}}, "models.m"},
        {{{"routing", {{"prefer", "cheapest-ever"}}}}, "routing.prefer"},
        {{{"routing", {{"retries", 99}}}}, "routing.retries"},
    };
    for (const auto& [config, field] : cases) {
      home.write_config(config);
      auto options = routing_from_config(home.path);
      REQUIRE_FALSE(options.ok());
      CHECK(options.error().kind == ErrorKind::config);
      CHECK_MESSAGE(options.error().message.find(field) != std::string::npos,
                    options.error().message);
    }
  }
}

TEST_CASE("a routed call falls back past a dead provider and is served once") {
  Fleet fleet;
  auto runtime = make_runtime(fleet.options());
  CHECK(must_run(*runtime, kWhoAnswers) == "live");
  CHECK(fleet.live->requests_served() == 1);
  CHECK(fleet.vault->requests_served() == 0);
}

TEST_CASE("route= chooses among the candidates: providers, exclude, privacy") {
  Fleet fleet;
  auto runtime = make_runtime(fleet.options());
  CHECK(must_run(*runtime,
                 "return model.chat{model='m', route={providers={'vault'}},"
                 " messages={{role='user', content='hi'}}}.provider") == "vault");
  CHECK(must_run(*runtime,
                 "return model.chat{model='m', route={exclude={'dead', 'live'}},"
                 " messages={{role='user', content='hi'}}}.provider") == "vault");
  CHECK(must_run(*runtime,
                 "return model.chat{model='m', route={privacy='no-log'},"
                 " messages={{role='user', content='hi'}}}.provider") == "vault");
  CHECK(fleet.live->requests_served() == 0);
  CHECK(fleet.vault->requests_served() == 3);

  SUBCASE("a constraint nothing meets is a clear error, and nothing is sent") {
    RunResult refused = run(*runtime,
                            "return model.chat{model='m', route={privacy='tee'},"
                            " messages={{role='user', content='hi'}}}");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error->message.find("tee") != std::string::npos);
    CHECK(fleet.vault->requests_served() == 3);
  }
  SUBCASE("malformed route tables are script errors") {
    for (const char* bad : {"route={prefer='cheap'}", "route={max_price=-1}",
                            "route={privacy='secret'}", "route={providers={1}}",
                            "route={fallback='yes'}", "route={speed=1}", "route=1"}) {
      RunResult result = run(*runtime, std::string("return model.chat{model='m', ") + bad +
                                           ", messages={{role='user', content='hi'}}}");
      REQUIRE_FALSE(result.ok());
      CHECK_MESSAGE(result.error->message.find("route") != std::string::npos,
                    result.error->message);
    }
  }
}

TEST_CASE("a model no route names goes to the default provider, or to one the call names") {
  Fleet fleet;
  auto runtime = make_runtime(fleet.options());
  CHECK(must_run(*runtime, "return model.chat{messages={{role='user', content='hi'}}}.provider") ==
        "sim");
  CHECK(must_run(*runtime,
                 "return model.chat{model='sim-1', route={providers={'live'}},"
                 " messages={{role='user', content='hi'}}}.provider") == "live");
  RunResult unknown = run(*runtime,
                          "return model.chat{model='sim-1', route={providers={'nobody'}},"
                          " messages={{role='user', content='hi'}}}");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error->message.find("nobody") != std::string::npos);
}

TEST_CASE("price-aware routing picks the cheaper provider; max_price leaves out dearer ones") {
  Fleet fleet;
  RuntimeOptions options = fleet.options({"live", "vault"});
  SUBCASE("the cheaper one wins whatever the route's order") {
    options.prices = {PriceEntry{"live", "*", 1'000'000'000, 1'000'000'000, 0, 0},
                      PriceEntry{"vault", "*", 0, 0, 0, 0}};
    auto runtime = make_runtime(options);
    CHECK(must_run(*runtime, kWhoAnswers) == "vault");
    CHECK(fleet.live->requests_served() == 0);
  }
  SUBCASE("equal prices break ties by name, deterministically") {
    options.prices = {PriceEntry{"live", "*", 0, 0, 0, 0}, PriceEntry{"vault", "*", 0, 0, 0, 0}};
    auto runtime = make_runtime(options);
    CHECK(must_run(*runtime, kWhoAnswers) == "live");
  }
  SUBCASE("max_price below every worst case refuses before sending") {
    options.prices = {PriceEntry{"live", "*", 5'000'000'000, 0, 0, 0},
                      PriceEntry{"vault", "*", 5'000'000'000, 0, 0, 0}};
    auto runtime = make_runtime(options);
    RunResult refused = run(*runtime,
                            "return model.chat{model='m', route={max_price=0.000001},"
                            " messages={{role='user', content='hi'}}}");
    REQUIRE_FALSE(refused.ok());
    CHECK(fleet.live->requests_served() + fleet.vault->requests_served() == 0);
  }
}

TEST_CASE("providers.list() and Runtime::providers() report the pool, routes and health") {
  Fleet fleet;
  RuntimeOptions options = fleet.options();
  ProviderEndpoint keyless = endpoint("venice", "");
  keyless.key_env = "PERDIEM_ROUTING_TEST_UNSET_KEY";
  options.routing.providers.push_back(keyless);
  options.routing.models[0].targets.push_back({"venice", "llama-3.3-70b"});
  auto runtime = make_runtime(options);
  CHECK(must_run(*runtime, kWhoAnswers) == "live");

  const std::vector<ProviderStatus> statuses = runtime->providers();
  REQUIRE(statuses.size() == 5);
  CHECK(statuses[0].name == "sim");
  for (const ProviderStatus& status : statuses) {
    if (status.name == "venice") {
      CHECK_FALSE(status.available);
      CHECK(status.unavailable.find("PERDIEM_ROUTING_TEST_UNSET_KEY") != std::string::npos);
    }
    if (status.name == "dead") CHECK(status.success_permille < 500);
    if (status.name == "live") {
      CHECK(status.success_permille > 500);
      CHECK(status.routes == std::vector<std::string>{"m"});
      CHECK(status.local);
    }
  }
  CHECK(must_run(*runtime,
                 "local names = {}\n"
                 "for _, p in ipairs(providers.list()) do\n"
                 "  names[#names + 1] = p.name .. (p.available and '' or '!')\n"
                 "end\n"
                 "return table.concat(names, ' ')") == "sim live vault dead venice!");
  RunResult quoted = run(*runtime,
                         "return wallet.quote{model='m', messages={{role='user', content='hi'}}}");
  REQUIRE_MESSAGE(quoted.ok(), (quoted.ok() ? "" : quoted.error->describe()));
}

TEST_CASE("provider health persists between runtimes sharing a health file") {
  Fleet fleet;
  TempDir dir;
  RuntimeOptions options = fleet.options();
  options.routing.health_path = dir.path + "/health.json";
  {
    auto runtime = make_runtime(options);
    CHECK(must_run(*runtime, kWhoAnswers) == "live");
  }
  REQUIRE(std::filesystem::exists(options.routing.health_path));
  auto saved = nlohmann::json::parse(std::ifstream(options.routing.health_path));
  CHECK(saved["providers"]["dead"]["consecutive_failures"] == 1);

  auto reopened = make_runtime(options);
  for (const ProviderStatus& status : reopened->providers()) {
    if (status.name == "dead") CHECK(status.success_permille < 500);
    if (status.name == "live") CHECK(status.success_permille > 500);
  }
  SUBCASE("a corrupt health file is ignored with a warning, then rewritten") {
    std::ofstream(options.routing.health_path) << "{not json";
    std::vector<std::string> warnings;
    options.on_log = [&warnings](LogLevel, std::string_view line) {
      warnings.emplace_back(line);
    };
    auto runtime = make_runtime(options);
    REQUIRE_FALSE(warnings.empty());
    CHECK(warnings[0].find("health") != std::string::npos);
    CHECK(must_run(*runtime, kWhoAnswers) == "live");
    auto rewritten = nlohmann::json::parse(std::ifstream(options.routing.health_path));
    CHECK(rewritten["version"] == 1);
  }
}

TEST_CASE("runs ending within a second write the health file once, and the runtime's end once more") {
  Fleet fleet;
  TempDir dir;
  RuntimeOptions options = fleet.options();
  options.routing.health_path = dir.path + "/health.json";
  {
    auto runtime = make_runtime(options);
    CHECK(must_run(*runtime, kWhoAnswers) == "live");
    REQUIRE(std::filesystem::exists(options.routing.health_path));  // the first run writes
    std::filesystem::remove(options.routing.health_path);
    CHECK(must_run(*runtime, kWhoAnswers) == "live");
    // Within a second of the last write: deferred, not written.
    CHECK_FALSE(std::filesystem::exists(options.routing.health_path));
  }
  // The deferred write happens when the runtime ends, with what both runs learned.
  REQUIRE(std::filesystem::exists(options.routing.health_path));
  auto saved = nlohmann::json::parse(std::ifstream(options.routing.health_path));
  CHECK(saved["providers"]["live"]["recent"] == "11");  // two answers, one per run
}

TEST_CASE("ProviderPool refuses configurations that cannot work") {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  SUBCASE("an endpoint that is not a preset needs a base URL") {
    options.routing.providers = {endpoint("mystery", "")};
  }
  SUBCASE("a route naming an unknown provider") {
    options.routing.models = {ModelRoute{"m", {{"nobody", "x"}}}};
  }
  SUBCASE("a provider listed twice") {
    options.routing.providers = {endpoint("a", kDeadUrl), endpoint("a", kDeadUrl)};
  }
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_FALSE(runtime.ok());
  CHECK(runtime.error().kind == ErrorKind::config);
}
