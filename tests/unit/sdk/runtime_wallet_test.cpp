// The Runtime pays for every call from the owner's wallet: a paid provider over real HTTP
// on loopback, a funded wallet, run budgets, receipts, the empty wallet's refusal, and
// runs cancelled or out of time with a call out.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "perdiem/memory.hpp"
#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"
#include "perdiem/wallet.hpp"

using namespace perdiem;

namespace {

struct TempHome {
  TempHome() {
    char tmpl[] = "/tmp/perdiem-runtime-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempHome() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

const Secret& passphrase() {
  static const Secret secret = Secret::copy_of("correct horse battery staple");
  return secret;
}

std::string create_wallet(const std::string& home) {
  CreateWalletOptions options;
  options.kdf = KdfLevel::min;
  auto address = WalletHandle::create(home, passphrase(), options);
  REQUIRE_MESSAGE(address.ok(), (address.ok() ? "" : address.error().describe()));
  return *address;
}

// An agent wallet trusting `issuer`, priced for venice at $1/M input, $2/M output and
// $0.001 per request, funded with `usd` by the issuer.
std::shared_ptr<WalletHandle> funded_agent(const TempHome& agent_home, const TempHome& issuer_home,
                                           const char* usd) {
  std::string issuer = create_wallet(issuer_home.path);
  std::string agent = create_wallet(agent_home.path);
  nlohmann::json config = {{"wallet", {{"trusted_issuers", {issuer}}}},
                           {"prices",
                            {{{"provider", "venice"},
                              {"model", "*"},
                              {"input", "1"},
                              {"output", "2"},
                              {"request", "0.001"}}}}};
  std::ofstream(home_layout(agent_home.path).config) << config.dump(2);

  auto issuer_wallet = WalletHandle::open(issuer_home.path, passphrase());
  REQUIRE(issuer_wallet.ok());
  GrantRequest grant;
  grant.holder = agent;
  grant.kind = GrantKind::usd;
  grant.amount = parse_usd(usd).value();
  grant.not_before = 0;
  auto signed_grant = (*issuer_wallet)->issue_grant(grant);
  REQUIRE(signed_grant.ok());

  auto opened = WalletHandle::open(agent_home.path, passphrase());
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().describe()));
  std::shared_ptr<WalletHandle> wallet = std::move(*opened);
  auto imported = wallet->import(*signed_grant);
  REQUIRE_MESSAGE(imported.ok(), (imported.ok() ? "" : imported.error().describe()));
  return wallet;
}

std::unique_ptr<MockProvider> start_mock() {
  MockProviderOptions options;
  options.required_key = "venice-test-key";
  auto server = MockProvider::start(options);
  REQUIRE(server.ok());
  return std::move(*server);
}

std::unique_ptr<Runtime> venice_runtime(const MockProvider& server,
                                        std::shared_ptr<WalletHandle> wallet) {
  ::setenv("VENICE_API_KEY", "venice-test-key", 1);
  RuntimeOptions options;
  options.provider.provider = "venice";
  options.provider.base_url = server.base_url();
  options.provider.model = "llama-3.3-70b";
  options.wallet = std::move(wallet);
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), (runtime.ok() ? "" : runtime.error().describe()));
  return std::move(*runtime);
}

// Calls the model until the wallet refuses; returns how many calls went through and why
// the last one was refused.
constexpr const char* kSpendUntilRefused = R"(
  local calls = 0
  while true do
    local ok, reply = pcall(model.chat, {messages = {{role = "user", content = "hi"}},
                                         max_tokens = 100})
    if not ok then
      local spent_usd, spent = wallet.spent()
      return {calls = calls, refused = reply.kind, spent = spent, needed = reply.needed_nanos,
              available = reply.available_nanos, needed_usd = reply.needed, message = reply.message}
    end
    calls = calls + 1
    assert(reply.cost_nanos > 0 and reply.receipt ~= "", "a paid call has a cost and a receipt")
    if calls > 50 then error("the budget never stopped the plan") end
  end
)";

}  // namespace

TEST_CASE("a run budget stops a paying plan, and every call it made has a receipt") {
  TempHome agent_home, issuer_home;
  auto wallet = funded_agent(agent_home, issuer_home, "1");
  auto server = start_mock();
  auto runtime = venice_runtime(*server, wallet);

  RunOptions options;
  options.budget = parse_usd("0.005").value();
  RunResult result = runtime->run_script(kSpendUntilRefused, "spend.lua", options);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  auto j = nlohmann::json::parse(result.json);
  CHECK(j["refused"] == "budget_exceeded");
  // The refusal says what the call needed and what the budget had left, in numbers.
  INFO(j.dump());
  REQUIRE(j["needed"].is_number_integer());
  REQUIRE(j["available"].is_number_integer());
  CHECK(j["needed"].get<Nanos>() > j["available"].get<Nanos>());
  CHECK(j["available"].get<Nanos>() >= 0);
  CHECK(j["available"].get<Nanos>() + j["spent"].get<Nanos>() <= *options.budget);
  CHECK(j["needed_usd"].get<double>() == doctest::Approx(j["needed"].get<Nanos>() / 1e9));
  CHECK(j["calls"].get<int>() >= 2);
  CHECK(j["spent"].get<Nanos>() == result.usage.cost);
  CHECK(result.usage.cost <= *options.budget);
  CHECK(result.usage.model_calls == j["calls"].get<int>());
  CHECK(server->requests_served() == static_cast<std::uint64_t>(result.usage.model_calls));

  auto receipts = wallet->receipts(result.run_id);
  REQUIRE(receipts.ok());
  CHECK(receipts->size() == static_cast<std::size_t>(result.usage.model_calls));
  Nanos receipted = 0;
  for (const auto& r : *receipts) receipted += r.cost;
  CHECK(receipted == result.usage.cost);
  auto verified = WalletHandle::verify_receipts(to_json(*receipts), wallet->address());
  CHECK(verified.ok());

  auto balance = wallet->balance();
  REQUIRE(balance.ok());
  CHECK(balance->usd == parse_usd("1").value() - result.usage.cost);
  CHECK(balance->reserved == 0);
  auto check = wallet->verify();
  REQUIRE(check.ok());
  CHECK_MESSAGE(check->ok, check->problem);
}

TEST_CASE("an unfunded wallet refuses a paid call before anything is sent") {
  TempHome agent_home, issuer_home;
  auto wallet = funded_agent(agent_home, issuer_home, "0.000001");
  auto server = start_mock();
  auto runtime = venice_runtime(*server, wallet);
  RunResult result = runtime->run_script(
      "return model.chat{messages={{role='user', content='hi'}}}.content", "poor.lua", {});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error->kind == ErrorKind::insufficient_credits);
  // Uncaught, the error table still carries its amounts back to the host.
  REQUIRE(result.error->available_nanos.has_value());
  REQUIRE(result.error->needed_nanos.has_value());
  CHECK(*result.error->available_nanos == parse_usd("0.000001").value());
  CHECK(*result.error->needed_nanos > *result.error->available_nanos);
  CHECK(server->requests_served() == 0);
}

TEST_CASE(
    "runs cancelled or out of time mid-call leave nothing reserved, and say so in the trace") {
  TempHome agent_home, issuer_home, memory_home;
  auto wallet = funded_agent(agent_home, issuer_home, "1");
  MockProviderOptions slow;
  slow.required_key = "venice-test-key";
  slow.latency = std::chrono::milliseconds(2'000);  // every call is still out when it ends
  auto server = MockProvider::start(slow);
  REQUIRE(server.ok());
  ::setenv("VENICE_API_KEY", "venice-test-key", 1);
  RuntimeOptions options;
  options.provider.provider = "venice";
  options.provider.base_url = (*server)->base_url();
  options.provider.model = "llama-3.3-70b";
  options.wallet = wallet;
  options.memory_path = memory_home.path + "/memory.db";
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), (runtime.ok() ? "" : runtime.error().describe()));
  const char* plan = "return model.chat{messages={{role='user', content='hi'}}}.content";

  // Cancelled while its call is out: once the call holds money, cancel.
  auto cancelled = (*runtime)->start_script(plan, "cancelled.lua", {});
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (wallet->balance()->reserved == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(wallet->balance()->reserved > 0);
  cancelled->cancel();
  const RunResult& stopped = cancelled->wait();
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error->kind == ErrorKind::cancelled);

  // Out of time while its call is out.
  RunOptions short_lived;
  short_lived.timeout = std::chrono::milliseconds(300);
  RunResult late = (*runtime)->run_script(plan, "late.lua", short_lived);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error->kind == ErrorKind::limit);

  // Nothing is left held, and the books balance.
  auto balance = wallet->balance();
  REQUIRE(balance.ok());
  CHECK(balance->reserved == 0);
  CHECK(balance->usd == parse_usd("1").value() - stopped.usage.cost - late.usage.cost);
  auto audit = wallet->verify();
  REQUIRE(audit.ok());
  CHECK_MESSAGE(audit->ok, audit->problem);

  // Both traces are closed with how their runs ended.
  auto memory = MemoryFile::open(memory_home.path + "/memory.db");
  REQUIRE(memory.ok());
  auto runs = (*memory)->runs(10);
  REQUIRE(runs.ok());
  std::map<std::string, std::string> status_by_run;
  for (const RunInfo& run : *runs) status_by_run[run.id] = run.status;
  CHECK(status_by_run[stopped.run_id] == "cancelled");
  CHECK(status_by_run[late.run_id] == "error");
}

TEST_CASE("without a wallet the runtime's own empty one pays only for free providers") {
  auto server = start_mock();
  auto runtime = venice_runtime(*server, nullptr);
  CHECK(runtime->wallet_is_ephemeral());
  RunResult paid = runtime->run_script(
      "return model.chat{messages={{role='user', content='hi'}}}.content", "paid.lua", {});
  REQUIRE_FALSE(paid.ok());
  CHECK(paid.error->kind == ErrorKind::insufficient_credits);
  CHECK(paid.error->message.find("perdiem wallet init") != std::string::npos);
  CHECK(server->requests_served() == 0);

  RuntimeOptions sim;
  sim.provider.provider = "sim";
  auto free_runtime = Runtime::create(sim);
  REQUIRE(free_runtime.ok());
  RunResult free_run = (*free_runtime)
                           ->run_script(
                               "local r = model.chat{messages={{role='user', content='hi'}}}\n"
                               "return {cost = r.cost_nanos, address = wallet.address()}",
                               "free.lua", {});
  REQUIRE(free_run.ok());
  auto j = nlohmann::json::parse(free_run.json);
  CHECK(j["cost"] == 0);
  CHECK(j["address"] == (*free_runtime)->wallet_address());
}

TEST_CASE("a priced host tool is reserved and settled like a call, and budgets stop it") {
  TempHome agent_home, issuer_home;
  auto wallet = funded_agent(agent_home, issuer_home, "1");
  std::atomic<int> handled{0};
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.wallet = wallet;
  HostTool lookup;
  lookup.name = "orders.lookup";
  lookup.description = "Looks up an order by number.";
  lookup.parameters_json =
      R"({"type":"object","properties":{"order":{"type":"integer"}},"required":["order"]})";
  lookup.handler = [&handled](const std::string& arguments) -> Result<std::string> {
    handled.fetch_add(1);
    auto args = nlohmann::json::parse(arguments);
    return nlohmann::json{{"order", args["order"]}, {"status", "shipped"}}.dump();
  };
  lookup.price_nanos = 10'000'000;  // $0.01 a call
  options.tools.push_back(lookup);
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());

  RunOptions run_options;
  run_options.budget = 25'000'000;  // room for two calls, not three
  RunResult result = (*runtime)->run_script(R"(
    local first = tool.call("orders.lookup", {order = 7})
    local second = tool.call("orders.lookup", {order = 8})
    local ok, err = pcall(tool.call, "orders.lookup", {order = 9})
    local bad_ok, bad = pcall(tool.call, "orders.lookup", {order = "nine"})
    return first.status .. " " .. second.order .. " " .. err.kind .. " " .. bad.kind
  )",
                                            "orders.lua", run_options);
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "shipped 8 budget_exceeded tool");
  CHECK(handled == 2);  // neither the refused nor the invalid call reached the handler
  CHECK(result.usage.cost == 20'000'000);
  auto receipts = wallet->receipts(result.run_id);
  REQUIRE(receipts.ok());
  REQUIRE(receipts->size() == 2);
  CHECK(receipts->front().model == "orders.lookup");
  CHECK(receipts->front().cost == 10'000'000);
}

TEST_CASE("tools are built when a run first uses one; their mistakes are still caught early") {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  HostTool clock;
  clock.name = "clock.now";  // a built-in's name
  clock.parameters_json = R"({"type":"object"})";
  clock.handler = [](const std::string&) -> Result<std::string> { return std::string("{}"); };
  SUBCASE("a host tool named like a built-in is refused when the runtime is created") {
    options.tools.push_back(clock);
    auto runtime = Runtime::create(options);
    REQUIRE_FALSE(runtime.ok());
    CHECK(runtime.error().message.find("'clock.now' is already registered") != std::string::npos);
  }
  SUBCASE("a workspace that cannot be opened is refused when the run starts") {
    auto runtime = Runtime::create(options);
    REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
    RunOptions run_options;
    run_options.workspace = "/nonexistent/perdiem-workspace";
    RunResult refused = (*runtime)->run_script("return 'ran'", "w.lua", run_options);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.text.empty());  // the plan never ran
    // The same runtime builds a run's tools on demand: listed, then called.
    RunOptions granted;
    granted.allowed_tools = {"clock.now"};
    RunResult used = (*runtime)->run_script(
        "local names = {}\n"
        "for _, t in ipairs(tool.list()) do names[t.name] = true end\n"
        "return tostring(names['clock.now']) .. ' ' .. type(tool.call('clock.now', {}))",
        "t.lua", granted);
    REQUIRE_MESSAGE(used.ok(), used.error->describe());
    CHECK(used.text == "true table");
  }
}

TEST_CASE("prices set in code price a host provider; a bad price is refused") {
  TempHome agent_home, issuer_home;
  auto wallet = funded_agent(agent_home, issuer_home, "1");
  class Fixed final : public HostProvider {
   public:
    Result<HostChatReply> chat(const HostChatRequest&) override {
      HostChatReply reply;
      reply.content = "priced";
      return reply;
    }
  };
  RuntimeOptions options;
  options.wallet = wallet;
  options.host_provider = std::make_shared<Fixed>();
  options.host_provider_name = "my-gpu";
  options.prices.push_back(PriceEntry{"my-gpu", "*", 0, 0, 0, 5'000'000});  // $0.005 a call
  auto runtime = Runtime::create(options);
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
  RunResult result = (*runtime)->run_script(
      "return model.chat{messages = {{role = 'user', content = 'x'}}}.cost_nanos", "p.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "5000000");
  CHECK(result.usage.cost == 5'000'000);
  REQUIRE(wallet->receipts(result.run_id)->size() == 1);

  options.prices = {PriceEntry{"my-gpu", "*", -1, 0, 0, 0}};
  auto refused = Runtime::create(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::invalid_argument);
}
