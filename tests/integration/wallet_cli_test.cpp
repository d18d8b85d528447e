// `perdiem wallet`, end to end: the built command in a clean environment, one temporary
// PERDIEM_HOME per wallet. The wallet library is linked here only to make what the command
// cannot (a settled call with its receipt), never to check the command's work.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "support/process.hpp"
#include "wallet/keys.hpp"
#include "wallet/money.hpp"
#include "wallet/wallet.hpp"

using perdiem::testing::Environment;
using perdiem::testing::ProcessResult;
using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;

// The published test vector key (web3.js, ethers): never a real wallet's.
const std::string kKeyHex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const std::string kKeyAddress = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
const std::string kSomeDataSig =
    "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
    "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c";
const std::string kPassphrase = "correct horse battery staple 42";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

unsigned mode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode & 0777;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/perdiem-wallet-cli-XXXXXX";
    char* made = ::mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

// One wallet home. Every run checks that neither the passphrase nor the test key's secret
// reaches stdout or stderr.
struct Home {
  explicit Home(const TempDir& dir, const std::string& name) : path(dir.path + "/" + name) {}

  ProcessResult run(const std::vector<std::string>& args, Environment extra = {}) const {
    Environment env{{"PERDIEM_HOME", path},
                    {"PERDIEM_PASSPHRASE", kPassphrase},
                    {"PERDIEM_KDF_LEVEL", "min"}};
    for (auto& [name, value] : extra) env[name] = value;
    std::vector<std::string> words{"wallet"};
    words.insert(words.end(), args.begin(), args.end());
    ProcessResult r = run_process(kCli, words, env);
    for (const std::string* stream : {&r.out, &r.err}) {
      CHECK_FALSE(contains(*stream, kKeyHex));
      CHECK_FALSE(contains(*stream, kPassphrase));
    }
    return r;
  }

  std::string init() const {
    ProcessResult r = run({"init"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return address();
  }
  std::string init_from_test_key(const TempDir& dir) const {
    const std::string key_file = dir.path + "/test.key";
    write_file(key_file, "0x" + kKeyHex + "\n");
    ProcessResult r = run({"init", "--from-key", key_file});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return address();
  }
  std::string address() const {
    ProcessResult r = run({"address"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    REQUIRE(r.out.size() == 43);
    return r.out.substr(0, 42);
  }
  void trust(const std::string& issuer, const std::string& extra_json = "") const {
    write_file(path + "/config.json",
               R"({"wallet": {"trusted_issuers": [")" + issuer + R"("]})" + extra_json + "}\n");
  }
  std::string file(const std::string& name) const { return path + "/" + name; }

  std::string path;
};

// An operator funding an agent: the agent holds the test key and trusts the operator.
struct Fleet {
  Fleet() : op(dir, "operator"), agent(dir, "agent") {
    op_address = op.init();
    agent_address = agent.init_from_test_key(dir);
    agent.trust(op_address);
  }
  // Issues a grant from the operator into a file; returns the file.
  std::string issue(const std::vector<std::string>& options, const std::string& name) {
    std::string out = dir.path + "/" + name;
    std::vector<std::string> args{"issue", "--to", agent_address, "--out", out};
    args.insert(args.end(), options.begin(), options.end());
    ProcessResult r = op.run(args);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    return out;
  }

  TempDir dir;
  Home op;
  Home agent;
  std::string op_address;
  std::string agent_address;
};

}  // namespace

TEST_CASE("wallet init creates a sealed keystore in a private home and never overwrites it") {
  TempDir dir;
  Home home(dir, "nested/home");
  ProcessResult r = home.run({"init"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "address   0x"));
  CHECK(contains(r.out, "keystore  " + home.file("keystore.json")));
  CHECK(contains(r.err, "for tests only"));  // PERDIEM_KDF_LEVEL=min is announced
  CHECK(mode_of(home.path) == 0700);
  CHECK(mode_of(home.file("keystore.json")) == 0600);
  const std::string before = read_file(home.file("keystore.json"));
  CHECK(contains(r.out, home.address()));

  ProcessResult again = home.run({"init"});
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "perdiem: invalid_argument: a wallet already exists"));
  CHECK(again.out.empty());
  CHECK(read_file(home.file("keystore.json")) == before);
}

TEST_CASE("wallet init --from-key imports the published vector key") {
  TempDir dir;
  Home home(dir, "home");
  CHECK(home.init_from_test_key(dir) == kKeyAddress);
}

TEST_CASE("wallet init without PERDIEM_KDF_LEVEL uses Argon2id moderate") {
  TempDir dir;
  Home home(dir, "home");
  ProcessResult r = home.run({"init"}, {{"PERDIEM_KDF_LEVEL", ""}});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK_FALSE(contains(r.err, "for tests only"));
  const std::string keystore = read_file(home.file("keystore.json"));
  CHECK(contains(keystore, "268435456"));  // crypto_pwhash_MEMLIMIT_MODERATE
}

TEST_CASE("wallet init refuses a key file that holds no key, and creates nothing") {
  TempDir dir;
  Home home(dir, "home");
  write_file(dir.path + "/bad.key", "not a key\n");
  ProcessResult r = home.run({"init", "--from-key", dir.path + "/bad.key"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "does not hold a secp256k1 private key"));
  CHECK_FALSE(std::filesystem::exists(home.file("keystore.json")));
  r = home.run({"init", "--from-key", dir.path + "/missing.key"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "perdiem: not_found: no key file at"));
}

TEST_CASE("wallet sign gives the signature standard EVM tooling gives") {
  TempDir dir;
  Home home(dir, "home");
  home.init_from_test_key(dir);
  ProcessResult r = home.run({"sign", "Some data"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(r.out == kSomeDataSig + "\n");
  // A message that looks like an option goes after "--".
  r = home.run({"sign", "--", "--not-an-option"});
  CHECK(r.exit_code == 0);
}

TEST_CASE("wallet verify-message exits 0 for a valid signature and 1 otherwise") {
  TempDir dir;
  Home home(dir, "home");  // needs no wallet
  ProcessResult r = home.run({"verify-message", kKeyAddress, "Some data", kSomeDataSig});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "valid: signed by " + kKeyAddress));

  r = home.run({"verify-message", kKeyAddress, "Some other data", kSomeDataSig});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "invalid"));
  r = home.run({"verify-message", "0x0000000000000000000000000000000000000001", "Some data",
                kSomeDataSig});
  CHECK(r.exit_code == 1);
  r = home.run({"verify-message", kKeyAddress, "Some data", "0x1234"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "invalid: signature"));
  r = home.run({"verify-message", kKeyAddress, "Some data"});
  CHECK(r.exit_code == 2);
}

TEST_CASE("a wrong passphrase is a clear auth error") {
  TempDir dir;
  Home home(dir, "home");
  home.init_from_test_key(dir);
  ProcessResult r = home.run({"sign", "Some data"}, {{"PERDIEM_PASSPHRASE", "not it"}});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "perdiem: auth: wrong passphrase for keystore"));
  CHECK_FALSE(contains(r.err, "not it"));
}

TEST_CASE("commands that need a wallet say how to make one") {
  TempDir dir;
  Home home(dir, "empty");
  for (const char* command : {"address", "balance", "history", "verify", "receipts"}) {
    ProcessResult r = home.run({command});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "perdiem: not_found: no wallet in " + home.path));
    CHECK(contains(r.err, "perdiem wallet init"));
  }
}

TEST_CASE("an operator funds an agent: issue, import, balance, history, verify") {
  Fleet fleet;
  const std::string stake = fleet.issue({"--kind", "stake", "--amount", "2.5"}, "stake.json");
  CHECK(contains(read_file(stake), "\"holder\": \"" + kKeyAddress + "\""));

  ProcessResult r = fleet.agent.run({"import", stake});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "accepted grant 1 from " + fleet.op_address));
  CHECK(contains(r.out, "2.5 credits ($2.50 a day), for any provider"));

  r = fleet.agent.run({"balance"});
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "$2.50 left today"));
  CHECK(contains(r.out, "staked     2.5 credits"));
  r = fleet.agent.run({"balance", "--json"});
  CHECK(contains(r.out, "\"allowance\": \"2.5\""));
  CHECK(contains(r.out, "\"address\": \"" + kKeyAddress + "\""));

  SUBCASE("a grant is accepted once") {
    r = fleet.agent.run({"import", stake});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "perdiem: invalid_argument: grant"));
    CHECK(contains(r.err, "already accepted"));
    CHECK(contains(fleet.agent.run({"balance"}).out, "$2.50 left today"));
  }
  SUBCASE("a USD grant, printed on stdout and imported from stdin-like file") {
    ProcessResult issued = fleet.op.run({"issue", "--to", fleet.agent_address, "--kind", "usd",
                                         "--amount", "10", "--providers", "venice,groq",
                                         "--nonce", "fleet-usd-1"});
    REQUIRE_MESSAGE(issued.exit_code == 0, issued.err);
    CHECK(contains(issued.out, "\"nonce\": \"fleet-usd-1\""));
    write_file(fleet.dir.path + "/usd.json", issued.out);
    r = fleet.agent.run({"import", fleet.dir.path + "/usd.json", "--json"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(contains(r.out, "\"kind\": \"usd\""));
    CHECK(contains(r.out, "\"amount\": \"10\""));
    CHECK(contains(fleet.agent.run({"balance"}).out, "usd        $10.00"));
  }
  SUBCASE("a revoked stake") {
    ProcessResult issued = fleet.op.run(
        {"issue", "--to", fleet.agent_address, "--kind", "stake", "--amount", "1", "--nonce", "s-2"});
    REQUIRE(issued.exit_code == 0);
    write_file(fleet.dir.path + "/s2.json", issued.out);
    REQUIRE(fleet.agent.run({"import", fleet.dir.path + "/s2.json"}).exit_code == 0);
    const std::string revocation = fleet.dir.path + "/revoke.json";
    r = fleet.op.run({"revoke", "--to", fleet.agent_address, "--nonce", "s-2", "--out", revocation});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    r = fleet.agent.run({"import", revocation});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(contains(r.out, "revoked grant 's-2' from " + fleet.op_address));
    CHECK(contains(fleet.agent.run({"history"}).out, "revoke"));
  }

  r = fleet.agent.run({"history"});
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "SEQ"));
  CHECK(contains(r.out, "stake:1"));
  CHECK(contains(r.out, "+2.5 credits"));
  r = fleet.agent.run({"history", "--json"});
  CHECK(contains(r.out, "\"kind\": \"stake\""));
  CHECK(contains(r.out, "\"unit\": \"credits\""));
  r = fleet.agent.run({"verify"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "ok: "));
  r = fleet.agent.run({"verify", "--json"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "\"ok\": true"));
}

TEST_CASE("wallet verify exits 1 and names the entry when a ledger row was altered") {
  Fleet fleet;
  REQUIRE(fleet.agent.run({"import", fleet.issue({"--kind", "usd", "--amount", "3"}, "g.json")})
              .exit_code == 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(fleet.agent.file("wallet.db").c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "DROP TRIGGER ledger_no_update; UPDATE ledger SET amount = amount * 10",
                     nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  ProcessResult r = fleet.agent.run({"verify"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "inconsistent at entry 1: "));
  r = fleet.agent.run({"verify", "--json"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "\"first_bad_seq\": 1"));
}

TEST_CASE("grants the agent must refuse change nothing") {
  Fleet fleet;
  SUBCASE("untrusted issuer") {
    Home stranger(fleet.dir, "stranger");
    stranger.init();
    ProcessResult issued = stranger.run(
        {"issue", "--to", fleet.agent_address, "--kind", "usd", "--amount", "5"});
    REQUIRE(issued.exit_code == 0);
    write_file(fleet.dir.path + "/g.json", issued.out);
    ProcessResult r = fleet.agent.run({"import", fleet.dir.path + "/g.json"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "perdiem: auth: grant issuer"));
    CHECK(contains(r.err, "not a trusted issuer"));
  }
  SUBCASE("a grant for another wallet") {
    ProcessResult issued = fleet.op.run(
        {"issue", "--to", fleet.op_address, "--kind", "usd", "--amount", "5"});
    REQUIRE(issued.exit_code == 0);
    write_file(fleet.dir.path + "/g.json", issued.out);
    ProcessResult r = fleet.agent.run({"import", fleet.dir.path + "/g.json"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "not this wallet"));
  }
  SUBCASE("an expired grant") {
    const std::string g = fleet.issue({"--kind", "stake", "--amount", "1", "--not-before",
                                       "2020-01-01", "--expires", "2020-02-01T00:00:00Z"},
                                      "old.json");
    ProcessResult r = fleet.agent.run({"import", g});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "grant expired at 2020-02-01T00:00:00Z"));
  }
  SUBCASE("a tampered grant") {
    const std::string g = fleet.issue({"--kind", "usd", "--amount", "1"}, "g.json");
    std::string text = read_file(g);
    auto at = text.find("\"amount\": \"1\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, 13, "\"amount\": \"1000\"");
    write_file(g, text);
    ProcessResult r = fleet.agent.run({"import", g});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "perdiem: auth: grant signature does not match"));
  }
  ProcessResult r = fleet.agent.run({"history"});
  CHECK(contains(r.out, "no ledger entries yet"));
  CHECK(contains(fleet.agent.run({"balance"}).out, "allowance  $0.00 left today"));
}

TEST_CASE("wallet prices shows the sheet from config.json") {
  TempDir dir;
  Home home(dir, "home");
  ProcessResult r = home.run({"prices"});  // no wallet and no config needed
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "no prices configured"));

  std::filesystem::create_directories(home.path);
  home.trust(kKeyAddress, R"(, "prices": [
      {"provider": "venice", "model": "llama-3.3-70b", "input": "0.70", "output": "2.80",
       "cached_input": "0.35"},
      {"provider": "groq", "model": "*", "input": "0.05", "output": "0.08", "request": "0.0001"}])");
  r = home.run({"prices"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "PROVIDER"));
  CHECK(contains(r.out, "venice    llama-3.3-70b  0.7    2.8     0.35"));
  CHECK(r.out.find("groq") < r.out.find("venice"));  // sorted
  r = home.run({"prices", "--json"});
  CHECK(contains(r.out, "\"cached_input\": \"0.35\""));
  CHECK(contains(r.out, "\"request\": \"0.0001\""));

  SUBCASE("a malformed config names the file and the field") {
    write_file(home.file("config.json"), R"({"wallet": {"min_stake": 0.1}})");
    r = home.run({"prices"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "perdiem: config: " + home.file("config.json") + ": "));
    CHECK(contains(r.err, "\"wallet.min_stake\""));
    write_file(home.file("config.json"), R"({"prices": [{"provider": "x", "model": "y",
                                             "input": 1}]})");
    r = home.run({"prices"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "\"prices\""));
    CHECK(contains(r.err, "x/y"));
    write_file(home.file("config.json"), R"({"wallet": {"trusted_issuer": []}})");
    r = home.run({"prices"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "wallet.trusted_issuer"));
  }
}

TEST_CASE("wallet receipts exports signed receipts that verify-receipt checks") {
  Fleet fleet;
  const std::string stake = fleet.issue({"--kind", "stake", "--amount", "1"}, "stake.json");
  REQUIRE(fleet.agent.run({"import", stake}).exit_code == 0);
  {  // The runtime's part: one model call, reserved and settled by the agent's key.
    namespace w = perdiem::wallet;
    w::WalletOptions options;
    options.signer = std::make_shared<const w::PrivateKey>(w::PrivateKey::from_hex(kKeyHex).value());
    auto wallet = w::Wallet::open(fleet.agent.file("wallet.db"), perdiem::base::system_clock(),
                                  options);
    REQUIRE(wallet.ok());
    w::ReserveRequest request;
    request.idempotency_key = "call-1";
    request.provider = "venice";
    request.worst_case = 1'000'000;
    request.budgets.run = "run-7";
    auto hold = (*wallet)->reserve(request);
    REQUIRE(hold.ok());
    w::CallRecord call;
    call.model = "llama-3.3-70b";
    call.step = 1;
    call.usage = {1200, 300, 0};
    REQUIRE((*wallet)->settle(*hold, 420'000, call).ok());
  }
  ProcessResult r = fleet.agent.run({"receipts"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(contains(r.out, "venice"));
  CHECK(contains(r.out, "run-7"));
  CHECK(contains(r.out, "$0.00042"));
  CHECK(contains(fleet.agent.run({"receipts", "--run", "other"}).out, "no receipts for run other"));

  r = fleet.agent.run({"receipts", "--run", "run-7", "--json"});
  REQUIRE(r.exit_code == 0);
  const std::string exported = fleet.dir.path + "/receipts.json";
  write_file(exported, r.out);

  r = fleet.agent.run({"verify-receipt", exported});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "valid: 1 receipt signed by " + kKeyAddress));
  r = fleet.agent.run({"verify-receipt", exported, "--address", kKeyAddress});
  CHECK(r.exit_code == 0);
  r = fleet.agent.run({"verify-receipt", exported, "--address", fleet.op_address});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "invalid: receipt 1 of 1: signed by " + kKeyAddress));

  std::string text = read_file(exported);
  auto at = text.find("\"cost\": \"0.00042\"");
  REQUIRE(at != std::string::npos);
  text.replace(at, 17, "\"cost\": \"0.00001\"");
  write_file(exported, text);
  r = fleet.agent.run({"verify-receipt", exported});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "invalid: receipt 1 of 1: "));
  CHECK(contains(r.out, "(altered or forged)"));

  write_file(exported, "{not json");
  r = fleet.agent.run({"verify-receipt", exported});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "invalid: "));
  CHECK(fleet.agent.run({"verify"}).exit_code == 0);
}

TEST_CASE("wallet usage errors exit 2") {
  TempDir dir;
  Home home(dir, "home");
  CHECK(home.run({}).exit_code == 2);
  ProcessResult r = home.run({"fly"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "perdiem: usage: unknown wallet command 'fly'"));
  r = home.run({"balance", "--frobnicate"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "--frobnicate"));
  r = home.run({"issue", "--kind", "usd"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "needs --to, --kind and --amount"));
  r = home.run({"issue", "--to", kKeyAddress, "--kind", "usd", "--amount", "1.5e3"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "--amount"));
  r = home.run({"issue", "--to", kKeyAddress, "--kind", "usd", "--amount", "1", "--expires",
                "tomorrow"});
  CHECK(r.exit_code == 2);
  r = home.run({"init"}, {{"PERDIEM_KDF_LEVEL", "none"}});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(home.file("keystore.json")));

  r = home.run({"--help"});
  CHECK(r.exit_code == 0);
  CHECK(contains(r.out, "perdiem wallet verify-receipt FILE"));
  CHECK(contains(run_process(kCli, {"--help"}).out, "perdiem wallet COMMAND"));
}

TEST_CASE("perdiem run pays from the agent's wallet over HTTP and stops at --budget") {
  Fleet fleet;
  fleet.agent.trust(fleet.op_address,
                    R"(, "prices": [{"provider": "venice", "model": "*", "input": "1",
                        "output": "2", "request": "0.001"}])");
  REQUIRE(fleet.agent.run({"import", fleet.issue({"--kind", "usd", "--amount", "1"}, "g.json")})
              .exit_code == 0);

  perdiem::testing::BackgroundProcess server(
      kCli, {"mock-provider", "--port", "0", "--require-key-env", "MOCK_KEY"},
      {{"MOCK_KEY", "venice-key"}});
  const std::string prefix = "perdiem mock-provider listening on ";
  REQUIRE(server.first_line().rfind(prefix, 0) == 0);
  const std::string url = server.first_line().substr(prefix.size());

  ProcessResult r = run_process(
      kCli,
      {"run", "--provider", "venice", "--base-url", url, "--budget", "0.004",
       std::string(PERDIEM_SOURCE_DIR) + "/tests/integration/plans/spend_until_refused.lua"},
      {{"PERDIEM_HOME", fleet.agent.path},
       {"PERDIEM_PASSPHRASE", kPassphrase},
       {"VENICE_API_KEY", "venice-key"}});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "budget_exceeded"));
  CHECK(contains(r.err, "wallet " + kKeyAddress));
  CHECK(contains(r.err, "[info] call 2 cost"));
  CHECK(contains(r.err, " of $0.004"));
  CHECK_FALSE(contains(r.err, "venice-key"));
  CHECK_FALSE(contains(r.err, kPassphrase));

  // Each call that went through has a receipt; together they are what the run spent.
  r = fleet.agent.run({"receipts", "--json"});
  REQUIRE(r.exit_code == 0);
  const std::string exported = fleet.dir.path + "/run-receipts.json";
  write_file(exported, r.out);
  CHECK(fleet.agent.run({"verify-receipt", exported, "--address", kKeyAddress}).exit_code == 0);
  CHECK(server.stop() == 0);

  r = fleet.agent.run({"balance", "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.out, "\"reserved\": \"0\""));
  CHECK(fleet.agent.run({"verify"}).exit_code == 0);
}
