#include "wallet/keystore.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "base/json_depth.hpp"
#include "wallet/hex.hpp"

namespace perdiem::wallet {
namespace {

using Json = nlohmann::json;

constexpr std::size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kSecretBytes = 32;
constexpr int kMaxJsonDepth = 4;  // a keystore nests two deep

static_assert(sizeof(KeystoreFile::salt) == crypto_pwhash_SALTBYTES);
static_assert(sizeof(KeystoreFile::nonce) == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(sizeof(KeystoreFile::ciphertext) ==
              kSecretBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES);

Error corrupt(std::string message) {
  return make_error(ErrorKind::storage, std::move(message));
}

Error io_error(const std::string& what, const std::string& path) {
  return make_error(ErrorKind::storage, what + " " + path + ": " + std::strerror(errno));
}

// The member `name` of object `obj` if it has type `type`, else nullptr.
const Json* member(const Json& obj, const char* name, Json::value_t type) {
  const auto it = obj.find(name);
  if (it == obj.end() || it->type() != type) return nullptr;
  return &*it;
}

Error bad_field(const std::string& field, const std::string& expected) {
  return corrupt("has a missing or malformed field \"" + field + "\" (expected " + expected + ")");
}

std::optional<Error> read_hex(const Json& obj, const char* section, const char* name,
                              std::span<std::uint8_t> out) {
  const Json* value = member(obj, name, Json::value_t::string);
  if (value == nullptr || !hex_decode_into(value->get_ref<const std::string&>(), out)) {
    return bad_field(std::string(section) + "." + name,
                     std::to_string(out.size() * 2) + " hex digits");
  }
  return std::nullopt;
}

std::optional<Error> read_cost(const Json& kdf, const char* name, std::uint64_t lowest,
                               std::uint64_t highest, std::uint64_t& out) {
  const Json* value = member(kdf, name, Json::value_t::number_unsigned);
  if (value == nullptr) return bad_field(std::string("kdf.") + name, "an unsigned integer");
  out = value->get<std::uint64_t>();
  if (out < lowest || out > highest) {
    return corrupt("has kdf." + std::string(name) + " " + std::to_string(out) +
                   " outside the accepted range [" + std::to_string(lowest) + ", " +
                   std::to_string(highest) + "]");
  }
  return std::nullopt;
}

bool within(const KdfParams& kdf, const KdfBounds& bounds) {
  return kdf.opslimit >= bounds.lowest.opslimit && kdf.opslimit <= bounds.highest.opslimit &&
         kdf.memlimit >= bounds.lowest.memlimit && kdf.memlimit <= bounds.highest.memlimit;
}

// What the AEAD tag also covers: editing the version or the address breaks it.
std::string associated_data(const KeystoreFile& file) {
  return "perdiem-keystore:v" + std::to_string(file.version) + ":0x" +
         hex_encode(file.address.bytes);
}

Result<base::SecureBuffer> derive_key(const base::SecureBuffer& passphrase,
                                      const KeystoreFile& file) {
  base::SecureBuffer key = base::SecureBuffer::zeroed(kKeyBytes);
  if (crypto_pwhash(key.data(), key.size(), reinterpret_cast<const char*>(passphrase.data()),
                    passphrase.size(), file.salt.data(), file.kdf.opslimit,
                    static_cast<std::size_t>(file.kdf.memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(ErrorKind::internal, "Argon2id could not allocate " +
                                               std::to_string(file.kdf.memlimit / (1024 * 1024)) +
                                               " MiB");
  }
  return key;
}

Error empty_passphrase() {
  return make_error(ErrorKind::invalid_argument, "the passphrase is empty");
}

}  // namespace

KdfParams KdfParams::min() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}
KdfParams KdfParams::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
KdfParams KdfParams::moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}
KdfParams KdfParams::sensitive() {
  return {crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
}

Result<KeystoreFile> parse_keystore(std::string_view text, const KdfBounds& bounds) {
  if (text.size() > kMaxKeystoreBytes) {
    return corrupt("is larger than " + std::to_string(kMaxKeystoreBytes) +
                   " bytes, so it is not a keystore");
  }
  if (base::json_nests_deeper_than(text, kMaxJsonDepth))
    return corrupt("is nested too deep to be a keystore");
  const Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return corrupt("is not valid JSON (is the file truncated?)");
  if (!doc.is_object()) return corrupt("is not a JSON object");

  KeystoreFile file;
  // The version first: a newer format may differ in every other field.
  const Json* version = member(doc, "version", Json::value_t::number_unsigned);
  if (version == nullptr) return bad_field("version", "an unsigned integer");
  if (version->get<std::uint64_t>() != KeystoreFile::kVersion) {
    return corrupt("has unsupported version " + std::to_string(version->get<std::uint64_t>()) +
                   " (this perdiem reads version " + std::to_string(KeystoreFile::kVersion) +
                   "; a newer perdiem may open it)");
  }

  const Json* address = member(doc, "address", Json::value_t::string);
  if (address == nullptr) return bad_field("address", "a string");
  auto parsed_address = Address::parse(address->get_ref<const std::string&>());
  if (!parsed_address.ok())
    return corrupt("has an invalid address: " + parsed_address.error().message);
  file.address = parsed_address.value();

  const Json* kdf = member(doc, "kdf", Json::value_t::object);
  if (kdf == nullptr) return bad_field("kdf", "an object");
  const Json* kdf_alg = member(*kdf, "alg", Json::value_t::string);
  if (kdf_alg == nullptr || *kdf_alg != "argon2id13") return bad_field("kdf.alg", "\"argon2id13\"");
  if (auto e = read_cost(*kdf, "opslimit", bounds.lowest.opslimit, bounds.highest.opslimit,
                         file.kdf.opslimit)) {
    return *e;
  }
  if (auto e = read_cost(*kdf, "memlimit", bounds.lowest.memlimit, bounds.highest.memlimit,
                         file.kdf.memlimit)) {
    return *e;
  }
  if (auto e = read_hex(*kdf, "kdf", "salt", file.salt)) return *e;

  const Json* cipher = member(doc, "cipher", Json::value_t::object);
  if (cipher == nullptr) return bad_field("cipher", "an object");
  const Json* cipher_alg = member(*cipher, "alg", Json::value_t::string);
  if (cipher_alg == nullptr || *cipher_alg != "xchacha20poly1305-ietf") {
    return bad_field("cipher.alg", "\"xchacha20poly1305-ietf\"");
  }
  if (auto e = read_hex(*cipher, "cipher", "nonce", file.nonce)) return *e;
  if (auto e = read_hex(*cipher, "cipher", "ciphertext", file.ciphertext)) return *e;
  return file;
}

std::string serialize_keystore(const KeystoreFile& file) {
  nlohmann::ordered_json doc;
  doc["version"] = file.version;
  doc["address"] = file.address.to_string();
  doc["kdf"] = {{"alg", "argon2id13"},
                {"opslimit", file.kdf.opslimit},
                {"memlimit", file.kdf.memlimit},
                {"salt", hex_encode(file.salt)}};
  doc["cipher"] = {{"alg", "xchacha20poly1305-ietf"},
                   {"nonce", hex_encode(file.nonce)},
                   {"ciphertext", hex_encode(file.ciphertext)}};
  return doc.dump(2) + "\n";
}

Result<KeystoreFile> seal_key(const PrivateKey& key, const base::SecureBuffer& passphrase,
                              const KdfParams& kdf) {
  if (passphrase.empty()) return empty_passphrase();
  if (!within(kdf, KdfBounds{})) {
    return make_error(ErrorKind::invalid_argument,
                      "KDF cost is outside the range a keystore may be opened with");
  }
  KeystoreFile file;
  file.address = key.address();
  file.kdf = kdf;
  randombytes_buf(file.salt.data(), file.salt.size());
  randombytes_buf(file.nonce.data(), file.nonce.size());
  auto sealing_key = derive_key(passphrase, file);
  if (!sealing_key.ok()) return sealing_key.error();
  const std::string ad = associated_data(file);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      file.ciphertext.data(), &written, key.secret().data(), key.secret().size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, file.nonce.data(),
      sealing_key->data());
  if (written != file.ciphertext.size()) std::abort();  // sizes are fixed at compile time
  return file;
}

Result<PrivateKey> unseal_key(const KeystoreFile& file, const base::SecureBuffer& passphrase) {
  if (passphrase.empty()) return empty_passphrase();
  auto sealing_key = derive_key(passphrase, file);
  if (!sealing_key.ok()) return sealing_key.error();
  const std::string ad = associated_data(file);
  base::SecureBuffer secret = base::SecureBuffer::zeroed(kSecretBytes);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          secret.data(), nullptr, nullptr, file.ciphertext.data(), file.ciphertext.size(),
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), file.nonce.data(),
          sealing_key->data()) != 0) {
    return make_error(ErrorKind::auth, "wrong passphrase (or the keystore was altered)");
  }
  auto key = PrivateKey::from_bytes(secret.bytes());
  // Both only happen if whoever sealed the file (not us) sealed something else.
  if (!key.ok()) return corrupt("sealed bytes are not a valid private key");
  if (!(key->address() == file.address)) {
    return corrupt("sealed key does not match the address " + file.address.to_string());
  }
  return key;
}

// ---- Files ----------------------------------------------------------------------------

namespace {

Error already_exists(const std::string& path) {
  return make_error(ErrorKind::invalid_argument,
                    "keystore " + path +
                        " already exists; refusing to overwrite it (move it aside first, or "
                        "choose another path)");
}

// False, with errno set, on failure.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) {
      errno = EIO;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Moves `from` to `to` atomically unless `to` exists. Falls back to link + unlink where
// the file system lacks RENAME_NOREPLACE.
int rename_no_replace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
  if (::link(from.c_str(), to.c_str()) != 0) return -1;
  ::unlink(from.c_str());
  return 0;
}

Status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open directory", dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return io_error("cannot sync directory", dir);
  return {};
}

// Writes `text` to a new file `path`, durably, or leaves nothing behind.
Status write_new_file(const std::string& path, std::string_view text) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::uint8_t suffix[8];
  randombytes_buf(suffix, sizeof suffix);
  const std::string temp = path + ".tmp-" + hex_encode(suffix);
  // 0600 from creation, so the sealed key is never readable by others, even briefly.
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", temp);
  Status status;
  if (!write_all(fd, text)) status = io_error("cannot write", temp);
  if (status.ok() && ::fchmod(fd, 0600) != 0) status = io_error("cannot chmod", temp);
  if (status.ok() && ::fsync(fd) != 0) status = io_error("cannot sync", temp);
  if (::close(fd) != 0 && status.ok()) status = io_error("cannot close", temp);
  if (status.ok() && rename_no_replace(temp, path) != 0) {
    status = errno == EEXIST ? Status(already_exists(path)) : io_error("cannot create", path);
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return sync_directory(dir);
}

Result<std::string> read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return make_error(ErrorKind::not_found, "no keystore at " + path);
    }
    return io_error("cannot open keystore", path);
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error error = io_error("cannot read keystore", path);
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxKeystoreBytes) break;  // parse_keystore reports it
  }
  ::close(fd);
  return text;
}

}  // namespace

Status write_keystore(const std::string& path, const PrivateKey& key,
                      const base::SecureBuffer& passphrase, const KdfParams& kdf) {
  // Checked first to fail before a second of Argon2id; the final move re-checks atomically.
  struct stat info;
  if (::lstat(path.c_str(), &info) == 0) return already_exists(path);
  if (errno != ENOENT) return io_error("cannot inspect", path);
  auto sealed = seal_key(key, passphrase, kdf);
  if (!sealed.ok()) return sealed.error();
  return write_new_file(path, serialize_keystore(sealed.value()));
}

Result<PrivateKey> open_keystore(const std::string& path, const base::SecureBuffer& passphrase,
                                 const KdfBounds& bounds) {
  auto text = read_small_file(path);
  if (!text.ok()) return text.error();
  auto file = parse_keystore(text.value(), bounds);
  if (!file.ok()) return corrupt("keystore " + path + " " + file.error().message);
  auto key = unseal_key(file.value(), passphrase);
  if (!key.ok() && key.error().kind == ErrorKind::auth) {
    return make_error(ErrorKind::auth,
                      "wrong passphrase for keystore " + path + " (or the file was altered)");
  }
  if (!key.ok() && key.error().kind == ErrorKind::storage) {
    return corrupt("keystore " + path + ": " + key.error().message);
  }
  return key;
}

// ---- Passphrase -----------------------------------------------------------------------

namespace {

// Reads one line from `fd` into locked memory; false if it does not fit in `max` bytes.
Result<base::SecureBuffer> read_line(int fd, std::size_t max) {
  base::SecureBuffer line = base::SecureBuffer::zeroed(max);
  std::size_t size = 0;
  bool too_long = false;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    if (size == max) {
      too_long = true;  // keep reading to consume the rest of the line
      continue;
    }
    line.data()[size++] = static_cast<std::uint8_t>(c);
  }
  if (size > 0 && line.data()[size - 1] == '\r') --size;
  if (too_long) {
    return make_error(ErrorKind::invalid_argument,
                      "the passphrase is longer than " + std::to_string(max) + " bytes");
  }
  return base::SecureBuffer(std::span<const std::uint8_t>(line.data(), size));
}

}  // namespace

Result<base::SecureBuffer> read_passphrase(std::string_view prompt,
                                           const PassphraseSource& source) {
  if (const char* env = std::getenv(source.env_var.c_str()); env != nullptr) {
    const std::size_t size = std::strlen(env);
    if (size == 0) {
      return make_error(ErrorKind::invalid_argument, source.env_var + " is set but empty");
    }
    if (size > source.max_bytes) {
      return make_error(
          ErrorKind::invalid_argument,
          source.env_var + " is longer than " + std::to_string(source.max_bytes) + " bytes");
    }
    return base::SecureBuffer::from_string(std::string_view(env, size));
  }
  const Error no_terminal =
      make_error(ErrorKind::config,
                 "no passphrase: set " + source.env_var + " or run from a terminal to be prompted");
  const int fd = ::open(source.tty_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return no_terminal;
  termios saved;
  if (::tcgetattr(fd, &saved) != 0) {
    ::close(fd);
    return no_terminal;
  }
  termios quiet = saved;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;  // the Enter key still moves to the next line
  // TCSAFLUSH drops anything typed before echo went off: it was visible.
  if (::tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
    ::close(fd);
    return no_terminal;
  }
  const bool prompted = write_all(fd, prompt);
  auto line = read_line(fd, source.max_bytes);
  ::tcsetattr(fd, TCSAFLUSH, &saved);
  ::close(fd);
  if (!prompted) return no_terminal;
  if (line.ok() && line->empty()) return empty_passphrase();
  return line;
}

}  // namespace perdiem::wallet
