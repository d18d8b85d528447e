// The keystore file: round trip, permissions, and a clear error with nothing changed for
// every way opening can fail. Uses KdfParams::min() so Argon2id costs microseconds.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "wallet/hex.hpp"
#include "wallet/keystore.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kKey =
    "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
constexpr std::string_view kPassphrase = "correct horse battery staple";

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "perdiem-keystore-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

base::SecureBuffer pass(std::string_view text = kPassphrase) {
  return base::SecureBuffer::from_string(text);
}

PrivateKey test_key() {
  auto key = PrivateKey::from_hex(kKey);
  REQUIRE(key.ok());
  return std::move(key).value();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Every file in the directory and its contents, to prove a failed call changed nothing.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    files[entry.path().filename().string()] = read_text(entry.path().string());
  }
  return files;
}

// A keystore written with the test key, returned as JSON to be edited.
nlohmann::json written_keystore(const TempDir& dir) {
  const std::string path = dir.file("source.json");
  REQUIRE(write_keystore(path, test_key(), pass(), KdfParams::min()).ok());
  return nlohmann::json::parse(read_text(path));
}

// Opens `text` as a keystore file and checks the failure kind, message and that the
// directory is as it was.
Error open_fails(const TempDir& dir, const std::string& text, ErrorKind kind,
                 std::string_view passphrase = kPassphrase) {
  const std::string path = dir.file("edited.json");
  write_text(path, text);
  const auto before = snapshot(dir.path);
  auto key = open_keystore(path, pass(passphrase));
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().kind == kind);
  CHECK(key.error().message.find(path) != std::string::npos);
  // No secret in an error: not the passphrase, not the key.
  CHECK(key.error().message.find(kPassphrase) == std::string::npos);
  CHECK(key.error().message.find(kKey.substr(0, 12)) == std::string::npos);
  CHECK(snapshot(dir.path) == before);
  return key.error();
}

}  // namespace

TEST_CASE("write then open returns the same key, in a 0600 file") {
  TempDir dir;
  const std::string path = dir.file("wallet.keystore");
  const PrivateKey key = test_key();
  REQUIRE(write_keystore(path, key, pass(), KdfParams::min()).ok());

  struct stat info;
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  CHECK(fs::is_regular_file(path));
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator{}) == 1);

  const std::string text = read_text(path);
  CHECK(text.find(kKey.substr(0, 12)) == std::string::npos);  // the secret is sealed
  auto parsed = nlohmann::json::parse(text);
  CHECK(parsed["version"] == 1);
  CHECK(parsed["address"] == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
  CHECK(parsed["kdf"]["alg"] == "argon2id13");
  CHECK(parsed["cipher"]["alg"] == "xchacha20poly1305-ietf");

  auto opened = open_keystore(path, pass());
  REQUIRE(opened.ok());
  CHECK(opened->address() == key.address());
  CHECK((opened->secret().view() == key.secret().view()));  // not printed on failure
  CHECK(opened->sign_message("x") == key.sign_message("x"));
}

TEST_CASE("the file is 0600 even under a permissive umask") {
  TempDir dir;
  const mode_t old = ::umask(0);
  const Status status = write_keystore(dir.file("k.json"), test_key(), pass(), KdfParams::min());
  ::umask(old);
  REQUIRE(status.ok());
  struct stat info;
  REQUIRE(::stat(dir.file("k.json").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("parse and serialize are inverse; sealing uses fresh salt and nonce") {
  auto a = seal_key(test_key(), pass(), KdfParams::min());
  auto b = seal_key(test_key(), pass(), KdfParams::min());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->salt != b->salt);
  CHECK(a->nonce != b->nonce);
  auto parsed = parse_keystore(serialize_keystore(a.value()));
  REQUIRE(parsed.ok());
  CHECK(parsed.value() == a.value());
  auto key = unseal_key(parsed.value(), pass());
  REQUIRE(key.ok());
  CHECK(key->address() == test_key().address());
}

TEST_CASE("an existing keystore is never overwritten") {
  TempDir dir;
  const std::string path = dir.file("wallet.keystore");
  REQUIRE(write_keystore(path, test_key(), pass(), KdfParams::min()).ok());
  const auto before = snapshot(dir.path);
  const Status again = write_keystore(path, PrivateKey::generate(), pass(), KdfParams::min());
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == ErrorKind::invalid_argument);
  CHECK(again.error().message.find("already exists") != std::string::npos);
  CHECK(again.error().message.find(path) != std::string::npos);
  CHECK(snapshot(dir.path) == before);

  // Nor is any other file in the way, and a dangling symlink counts as in the way.
  fs::create_symlink(dir.file("nowhere"), dir.file("link"));
  CHECK_FALSE(write_keystore(dir.file("link"), test_key(), pass(), KdfParams::min()).ok());
  CHECK_FALSE(fs::exists(dir.file("nowhere")));
}

TEST_CASE("write errors: missing directory, empty passphrase, KDF cost out of range") {
  TempDir dir;
  const Status no_dir =
      write_keystore(dir.file("missing/k.json"), test_key(), pass(), KdfParams::min());
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().kind == ErrorKind::storage);

  const Status empty =
      write_keystore(dir.file("k.json"), test_key(), base::SecureBuffer(), KdfParams::min());
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().kind == ErrorKind::invalid_argument);

  KdfParams huge = KdfParams::sensitive();
  huge.opslimit += 1;
  const Status costly = write_keystore(dir.file("k.json"), test_key(), pass(), huge);
  REQUIRE_FALSE(costly.ok());
  CHECK(costly.error().kind == ErrorKind::invalid_argument);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("open: missing file") {
  TempDir dir;
  auto key = open_keystore(dir.file("absent.json"), pass());
  REQUIRE_FALSE(key.ok());
  CHECK(key.error().kind == ErrorKind::not_found);
  CHECK(key.error().message.find(dir.file("absent.json")) != std::string::npos);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("open: wrong passphrase") {
  TempDir dir;
  const Error error = open_fails(dir, written_keystore(dir).dump(), ErrorKind::auth, "Tr0ub4dor&3");
  CHECK(error.message.rfind("wrong passphrase for keystore " + dir.file("edited.json"), 0) == 0);
  auto empty = open_keystore(dir.file("edited.json"), base::SecureBuffer());
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().kind == ErrorKind::invalid_argument);
}

TEST_CASE("open: truncated file") {
  TempDir dir;
  const std::string text = written_keystore(dir).dump(2);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, text.size() / 2, text.size() - 1}) {
    CAPTURE(size);
    const Error error = open_fails(dir, text.substr(0, size), ErrorKind::storage);
    CHECK(error.message.find("not valid JSON") != std::string::npos);
  }
}

TEST_CASE("open: tampered ciphertext, nonce, salt or address") {
  TempDir dir;
  const nlohmann::json original = written_keystore(dir);
  auto flip_hex = [](std::string hex) {
    hex[0] = hex[0] == '0' ? '1' : '0';
    return hex;
  };
  nlohmann::json edited = original;
  edited["cipher"]["ciphertext"] = flip_hex(original["cipher"]["ciphertext"]);
  open_fails(dir, edited.dump(), ErrorKind::auth);

  edited = original;
  edited["cipher"]["nonce"] = flip_hex(original["cipher"]["nonce"]);
  open_fails(dir, edited.dump(), ErrorKind::auth);

  edited = original;
  edited["kdf"]["salt"] = flip_hex(original["kdf"]["salt"]);
  open_fails(dir, edited.dump(), ErrorKind::auth);

  // Another valid address: caught by the associated data.
  edited = original;
  edited["address"] = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
  open_fails(dir, edited.dump(), ErrorKind::auth);

  // A broken address: caught by the parser.
  edited = original;
  edited["address"] = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c2";
  CHECK(open_fails(dir, edited.dump(), ErrorKind::storage).message.find("address") !=
        std::string::npos);

  // Letter case alone is not tampering: it is the same address.
  edited = original;
  edited["address"] = "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23";
  write_text(dir.file("lower.json"), edited.dump());
  CHECK(open_keystore(dir.file("lower.json"), pass()).ok());
}

TEST_CASE("open: unknown version") {
  TempDir dir;
  nlohmann::json edited = written_keystore(dir);
  edited["version"] = 2;
  const Error error = open_fails(dir, edited.dump(), ErrorKind::storage);
  CHECK(error.message.find("unsupported version 2") != std::string::npos);
  edited["version"] = "1";
  open_fails(dir, edited.dump(), ErrorKind::storage);
  edited.erase("version");
  open_fails(dir, edited.dump(), ErrorKind::storage);
}

TEST_CASE("open: KDF costs out of bounds are refused before any work") {
  TempDir dir;
  const nlohmann::json original = written_keystore(dir);
  const KdfParams lo = KdfParams::min();
  const KdfParams hi = KdfParams::sensitive();
  const std::pair<const char*, std::uint64_t> cases[] = {{"opslimit", hi.opslimit + 1},
                                                         {"opslimit", lo.opslimit - 1},
                                                         {"memlimit", hi.memlimit + 1},
                                                         {"memlimit", lo.memlimit - 1},
                                                         {"memlimit", std::uint64_t{1} << 62}};
  for (const auto& [field, value] : cases) {
    CAPTURE(field);
    CAPTURE(value);
    nlohmann::json edited = original;
    edited["kdf"][field] = value;
    const auto start = std::chrono::steady_clock::now();
    const Error error = open_fails(dir, edited.dump(), ErrorKind::storage);
    CHECK(error.message.find("outside the accepted range") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  }
  nlohmann::json negative = original;
  negative["kdf"]["opslimit"] = -1;
  open_fails(dir, negative.dump(), ErrorKind::storage);
  nlohmann::json fractional = original;
  fractional["kdf"]["memlimit"] = 8192.5;
  open_fails(dir, fractional.dump(), ErrorKind::storage);

  // The bounds are a parameter: a caller may accept less.
  const std::string path = dir.file("source.json");
  KdfBounds strict;
  strict.highest = KdfParams::min();
  CHECK(open_keystore(path, pass(), strict).ok());
  strict.lowest = strict.highest = KdfParams::interactive();
  auto refused = open_keystore(path, pass(), strict);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::storage);
}

TEST_CASE("parse_keystore names the malformed field") {
  const KdfParams lo = KdfParams::min();
  nlohmann::json good = {{"version", 1},
                         {"address", "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"},
                         {"kdf",
                          {{"alg", "argon2id13"},
                           {"opslimit", lo.opslimit},
                           {"memlimit", lo.memlimit},
                           {"salt", std::string(32, 'a')}}},
                         {"cipher",
                          {{"alg", "xchacha20poly1305-ietf"},
                           {"nonce", std::string(48, 'b')},
                           {"ciphertext", std::string(96, 'c')}}}};
  REQUIRE(parse_keystore(good.dump()).ok());
  const std::pair<nlohmann::json::json_pointer, nlohmann::json> edits[] = {
      {nlohmann::json::json_pointer("/kdf/alg"), "scrypt"},
      {nlohmann::json::json_pointer("/kdf/salt"), std::string(30, 'a')},
      {nlohmann::json::json_pointer("/kdf/salt"), std::string(31, 'a') + "g"},
      {nlohmann::json::json_pointer("/cipher/alg"), "aes-256-gcm"},
      {nlohmann::json::json_pointer("/cipher/nonce"), 7},
      {nlohmann::json::json_pointer("/cipher/ciphertext"), std::string(94, 'c')},
      {nlohmann::json::json_pointer("/kdf"), "argon2id13"},
      {nlohmann::json::json_pointer("/cipher"), nlohmann::json::array()},
      {nlohmann::json::json_pointer("/address"), 42},
  };
  for (const auto& [pointer, value] : edits) {
    CAPTURE(pointer.to_string());
    nlohmann::json edited = good;
    edited[pointer] = value;
    auto parsed = parse_keystore(edited.dump());
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().kind == ErrorKind::storage);
    std::string field = pointer.to_string().substr(1);  // "kdf/salt" -> "kdf.salt"
    if (const auto slash = field.find('/'); slash != std::string::npos) field[slash] = '.';
    CHECK(parsed.error().message.find(field) != std::string::npos);
  }
  CHECK_FALSE(parse_keystore("[]").ok());
  CHECK_FALSE(parse_keystore(std::string(100, '[') + std::string(100, ']')).ok());
  CHECK_FALSE(parse_keystore(std::string(kMaxKeystoreBytes + 1, ' ')).ok());
}

TEST_CASE("read_passphrase from the environment") {
  PassphraseSource source;
  source.env_var = "PERDIEM_TEST_PASSPHRASE_READ";
  source.tty_path = "/nonexistent/tty";
  ::setenv(source.env_var.c_str(), "from env", 1);
  auto got = read_passphrase("Passphrase: ", source);
  REQUIRE(got.ok());
  CHECK(got->view() == "from env");

  ::setenv(source.env_var.c_str(), "", 1);
  auto empty = read_passphrase("Passphrase: ", source);
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().kind == ErrorKind::invalid_argument);

  ::unsetenv(source.env_var.c_str());
  auto none = read_passphrase("Passphrase: ", source);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().kind == ErrorKind::config);
  CHECK(none.error().message.find("set " + source.env_var) != std::string::npos);

  source.tty_path = "/dev/null";  // exists, but is not a terminal
  CHECK(read_passphrase("Passphrase: ", source).error().kind == ErrorKind::config);
}

TEST_CASE("read_passphrase prompts on a terminal without echo") {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    MESSAGE("no pseudo-terminal available; skipped");
    if (master >= 0) ::close(master);
    return;
  }
  PassphraseSource source;
  source.env_var = "PERDIEM_TEST_PASSPHRASE_UNSET";
  source.tty_path = ::ptsname(master);
  ::unsetenv(source.env_var.c_str());

  // The "user": waits for the prompt (written after echo is off), then types. Every
  // read has a timeout, so a failing read_passphrase cannot hang the test.
  std::string screen;
  auto read_screen = [&] {
    pollfd ready{master, POLLIN, 0};
    char buffer[256];
    if (::poll(&ready, 1, 5000) != 1) return false;
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    if (n <= 0) return false;
    screen.append(buffer, static_cast<std::size_t>(n));
    return true;
  };
  std::thread user([&] {
    while (screen.find("Passphrase: ") == std::string::npos) {
      if (!read_screen()) return;
    }
    const std::string typed = "s3cret words\n";
    if (::write(master, typed.data(), typed.size()) != static_cast<ssize_t>(typed.size())) return;
    read_screen();  // what the terminal shows after Enter
  });
  auto got = read_passphrase("Passphrase: ", source);
  user.join();
  ::close(master);
  REQUIRE(got.ok());
  CHECK(got->view() == "s3cret words");
  CHECK(screen.find("Passphrase: ") != std::string::npos);
  CHECK(screen.find("s3cret") == std::string::npos);  // not echoed
}
