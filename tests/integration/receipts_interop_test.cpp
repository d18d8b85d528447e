// Receipts checked by someone else's code: tests/interop/receipts/verify_receipts.mjs, a
// verifier written from docs/wallet.md alone with noble's keccak and secp256k1 (npm,
// installed into the build tree by the receipts_npm fixture), run on receipts the
// `perdiem` command signed, a batch of seven and a batch of one. So the documented
// layout, fold and signed message are the ones the wallet uses, and a receipt can be
// checked without perdiem.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "support/process.hpp"

using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;
const std::string kSource = PERDIEM_SOURCE_DIR;
const std::string kNpmDir = PERDIEM_RECEIPTS_NPM_DIR;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// node, found on PATH as a shell would (run_process does not search it).
std::string node_program() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  for (std::size_t start = 0; start <= dirs.size();) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::filesystem::path candidate =
        std::filesystem::path(dirs.substr(start, end - start)) / "node";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    start = end + 1;
  }
  return {};
}

}  // namespace

TEST_SUITE("receipts_js" * doctest::skip()) {
  TEST_CASE("receipts perdiem signs verify by the documented rules, in JavaScript") {
    char tmpl[] = "/tmp/perdiem-receipts-interop-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    const std::string home = tmpl;
    const perdiem::testing::Environment env = {
        {"PERDIEM_HOME", home}, {"PERDIEM_PASSPHRASE", "interop"}, {"PERDIEM_KDF_LEVEL", "min"}};
    REQUIRE(run_process(kCli, {"wallet", "init"}, env).exit_code == 0);
    {
      std::ofstream plan(home + "/seven_calls.lua");
      plan << "for i = 1, 7 do model.chat{messages = {{role = 'user', content = 'call ' .. i}}} "
              "end\nreturn 'done'\n";
    }
    auto run = run_process(kCli, {"run", "--quiet", home + "/seven_calls.lua"}, env);
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    // And a batch of one: a receipt alone in its tree, whose proof is empty.
    {
      std::ofstream plan(home + "/one_call.lua");
      plan << "return model.chat{messages = {{role = 'user', content = 'once'}}}.content\n";
    }
    run = run_process(kCli, {"run", "--quiet", home + "/one_call.lua"}, env);
    REQUIRE_MESSAGE(run.exit_code == 0, run.err);
    auto receipts = run_process(kCli, {"wallet", "receipts", "--json"}, env);
    REQUIRE_MESSAGE(receipts.exit_code == 0, receipts.err);
    CHECK(contains(receipts.out, "\"version\": 2"));
    { std::ofstream(home + "/receipts.json") << receipts.out; }
    // ES modules find their packages next to the script, so it runs from the npm folder.
    const std::string script = kNpmDir + "/verify_receipts.mjs";
    std::filesystem::copy_file(kSource + "/tests/interop/receipts/verify_receipts.mjs", script,
                               std::filesystem::copy_options::overwrite_existing);
    const std::string node = node_program();
    REQUIRE_MESSAGE(!node.empty(), "node is not on PATH (make test installs nodejs)");
    auto verified = run_process(node, {script, home + "/receipts.json",
                                       kSource + "/tests/fuzz/corpus/receipt/batched-v2.json"});
    CHECK_MESSAGE(verified.exit_code == 0, (verified.out + verified.err));
    CHECK(contains(verified.out, "receipts.json: 8 receipts verify, and none survives a change"));
    CHECK(contains(receipts.out, "\"size\": 1"));
    CHECK(contains(verified.out, "batched-v2.json: 1 receipts verify"));

    // And it is not a verifier that accepts anything: a version 1 receipt is not its kind.
    auto refused =
        run_process(node, {script, kSource + "/tests/fuzz/corpus/receipt/batched-v1.json"});
    CHECK(refused.exit_code == 1);
    CHECK(contains(refused.out, "not a version 2 batched receipt"));

    std::error_code ignored;
    std::filesystem::remove_all(home, ignored);
  }
}
