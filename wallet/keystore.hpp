// The keystore: one private key sealed under a passphrase in a small JSON file.
//
//   {"version": 1, "address": "0x…",
//    "kdf": {"alg": "argon2id13", "opslimit": N, "memlimit": N, "salt": hex},
//    "cipher": {"alg": "xchacha20poly1305-ietf", "nonce": hex, "ciphertext": hex}}
//
// Argon2id (libsodium crypto_pwhash) turns the passphrase into a 32-byte key that seals
// the 32 secret bytes with XChaCha20-Poly1305. The version and the address are the
// associated data, so editing either makes the file fail to open. The file is written
// once, mode 0600, atomically, and never overwritten.
//
// Errors: a missing file is not_found; a wrong passphrase (or an altered file: the two
// cannot be told apart) is auth; a malformed, truncated or unsupported file is storage;
// a caller mistake (existing path, empty passphrase, KDF cost out of bounds) is
// invalid_argument. No error names or contains a secret. A failed open changes nothing.
// Thread-safety: all functions may be called concurrently (on different paths).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"
#include "wallet/keys.hpp"

namespace perdiem::wallet {

// Argon2id cost: passes over memory, and memory in bytes.
struct KdfParams {
  std::uint64_t opslimit = 0;
  std::uint64_t memlimit = 0;

  // libsodium's named levels. moderate (3 passes, 256 MiB, about a second) is the
  // default for new keystores; interactive (64 MiB) and min (8 KiB) are for tests.
  static KdfParams min();
  static KdfParams interactive();
  static KdfParams moderate();
  static KdfParams sensitive();
  friend bool operator==(const KdfParams&, const KdfParams&) = default;
};

// The KDF costs a keystore file may ask for. A file is untrusted input: without a
// ceiling, a crafted one could demand minutes of CPU or gigabytes of memory.
struct KdfBounds {
  KdfParams lowest = KdfParams::min();
  KdfParams highest = KdfParams::sensitive();  // also the ceiling libsodium's levels name
};

// A keystore as parsed from its file: everything needed to try a passphrase.
struct KeystoreFile {
  static constexpr int kVersion = 1;
  int version = kVersion;
  Address address;
  KdfParams kdf;
  std::array<std::uint8_t, 16> salt{};        // crypto_pwhash_SALTBYTES
  std::array<std::uint8_t, 24> nonce{};       // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
  std::array<std::uint8_t, 48> ciphertext{};  // 32 secret bytes + 16-byte tag
  friend bool operator==(const KeystoreFile&, const KeystoreFile&) = default;
};

// Largest keystore file read, in bytes (a real one is about 400).
inline constexpr std::size_t kMaxKeystoreBytes = 64 * 1024;

// Pure: parses the text of a keystore file. Checks syntax, field sizes, the version and
// that the KDF costs lie within `bounds`; does not check the passphrase. Fails with
// kind storage and a message that names the offending field.
Result<KeystoreFile> parse_keystore(std::string_view text, const KdfBounds& bounds = {});
// The file text for `file`: pretty-printed JSON with a trailing newline.
std::string serialize_keystore(const KeystoreFile& file);

// Seals `key` under `passphrase` with fresh random salt and nonce. Fails with
// invalid_argument for an empty passphrase or `kdf` outside the default KdfBounds, and
// with internal if Argon2id cannot get its memory.
Result<KeystoreFile> seal_key(const PrivateKey& key, const base::SecureBuffer& passphrase,
                              const KdfParams& kdf = KdfParams::moderate());
// Opens a parsed keystore. Fails with auth when the passphrase is wrong or the sealed
// fields were altered, with storage if the key inside does not match the address.
Result<PrivateKey> unseal_key(const KeystoreFile& file, const base::SecureBuffer& passphrase);

// Writes a new keystore at `path`: a temporary file created 0600 in the same directory,
// written, fsynced, then moved into place without replacing anything, and the directory
// fsynced. The directory must exist. Fails with invalid_argument if `path` exists (the
// existing keystore is left untouched), storage on an I/O error.
[[nodiscard]] Status write_keystore(const std::string& path, const PrivateKey& key,
                                    const base::SecureBuffer& passphrase,
                                    const KdfParams& kdf = KdfParams::moderate());
// Reads, parses and unseals the keystore at `path`. Never writes.
Result<PrivateKey> open_keystore(const std::string& path, const base::SecureBuffer& passphrase,
                                 const KdfBounds& bounds = {});

// Where a passphrase comes from: the environment variable if set, else a prompt on the
// terminal device with echo off.
struct PassphraseSource {
  std::string env_var = "PERDIEM_PASSPHRASE";
  std::string tty_path = "/dev/tty";
  std::size_t max_bytes = 1024;  // longer input is refused, not truncated
};

// Reads a passphrase (without the trailing newline) into locked memory, printing
// `prompt` on the terminal when it asks. Fails with invalid_argument if the variable is
// set but empty or the typed line is empty or too long, and with config when there is
// neither the variable nor a terminal (the message says to set the variable).
// WARNING: the environment copy of the passphrase stays in the process environment;
// prefer the prompt where one is available.
Result<base::SecureBuffer> read_passphrase(std::string_view prompt,
                                           const PassphraseSource& source = {});

}  // namespace perdiem::wallet
