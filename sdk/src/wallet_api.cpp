// perdiem::WalletHandle: a wallet home (keystore, config, wallet.db) behind the public API.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "home_config.hpp"
#include "perdiem/wallet.hpp"
#include "sdk/src/wallet_access.hpp"
#include "wallet/grants.hpp"
#include "wallet/keystore.hpp"
#include "wallet/wallet.hpp"
#include "wallet_convert.hpp"
#include "wallet_secret.hpp"

namespace perdiem {
namespace {

// A key file holds 64 hex digits, perhaps "0x" and a newline; anything longer is not one.
constexpr std::size_t kMaxKeyFileBytes = 1024;

Error no_wallet(const std::string& home) {
  return make_error(ErrorKind::not_found, "no wallet in " + home +
                                              " (create one with `perdiem wallet init`, or set "
                                              "PERDIEM_HOME to the wallet's directory)");
}

wallet::KdfParams kdf_params(KdfLevel level) {
  switch (level) {
    case KdfLevel::min: return wallet::KdfParams::min();
    case KdfLevel::interactive: return wallet::KdfParams::interactive();
    case KdfLevel::moderate: break;
  }
  return wallet::KdfParams::moderate();
}

// Reads a hex private key from `path` straight into locked memory.
Result<wallet::PrivateKey> read_key_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return make_error(ErrorKind::not_found, "no key file at " + path);
    return make_error(ErrorKind::storage,
                      "cannot open key file " + path + ": " + std::strerror(errno));
  }
  base::SecureBuffer text = base::SecureBuffer::zeroed(kMaxKeyFileBytes);
  std::size_t size = 0;
  for (;;) {
    if (size == text.size()) {
      ::close(fd);
      return make_error(ErrorKind::invalid_argument,
                        "key file " + path + " is too long to hold a private key");
    }
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      return make_error(ErrorKind::storage,
                        "cannot read key file " + path + ": " + std::strerror(saved));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  auto key = wallet::PrivateKey::from_hex(text.view().substr(0, size));
  if (!key)
    return make_error(ErrorKind::invalid_argument,
                      "key file " + path +
                          " does not hold a secp256k1 private key as 64 hex digits");
  return key;
}

Result<wallet::Address> parse_address(std::string_view text, std::string_view what) {
  auto address = wallet::Address::parse(text);
  if (!address)
    return make_error(ErrorKind::invalid_argument,
                      std::string(what) + ": " + address.error().message);
  return address;
}

Error needs_key() {
  return make_error(ErrorKind::auth,
                    "the wallet was opened without its passphrase; signing needs the key");
}

// A fresh grant nonce: 16 random hex digits, unique for all practical purposes.
std::string random_nonce() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::array<std::uint8_t, 8> bytes{};
  base::secure_random().fill(bytes);
  std::string nonce = "g-";
  for (std::uint8_t b : bytes) {
    nonce += kHex[b >> 4];
    nonce += kHex[b & 15];
  }
  return nonce;
}

// Revocations say "kind": "revoke"; grants say "stake" or "usd". The wallet parses either
// strictly; this only picks which parser's errors the caller sees.
bool is_revocation(std::string_view json) {
  if (json.size() > wallet::kMaxGrantBytes) return false;
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return false;
  auto kind = doc.find("kind");
  return kind != doc.end() && kind->is_string() && kind->get_ref<const std::string&>() == "revoke";
}

}  // namespace

struct WalletHandle::Impl {
  HomeLayout layout;
  WalletConfig config;
  wallet::Address address;
  std::string address_text;
  std::shared_ptr<const wallet::PrivateKey> key;  // null when opened without the key

  std::mutex ledger_mu;  // guards opening `ledger`; the Wallet itself is thread-safe
  std::unique_ptr<wallet::Wallet> ledger;

  Result<wallet::Wallet*> open_ledger() {
    std::lock_guard<std::mutex> guard(ledger_mu);
    if (ledger) return ledger.get();
    wallet::WalletOptions options;
    options.signer = key;
    options.address = address;
    options.trusted_issuers = sdk::trusted_addresses(config);
    options.min_stake = config.min_stake;
    auto opened = wallet::Wallet::open(layout.wallet_db, base::system_clock(), options);
    if (!opened) return opened.error();
    ledger = std::move(*opened);
    return ledger.get();
  }
};

WalletHandle::WalletHandle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WalletHandle::~WalletHandle() = default;

const std::string& WalletHandle::address() const { return impl_->address_text; }
const std::string& WalletHandle::home() const { return impl_->layout.home; }
const WalletConfig& WalletHandle::config() const { return impl_->config; }
bool WalletHandle::has_key() const { return impl_->key != nullptr; }

Result<std::string> WalletHandle::create(const std::string& home, const Secret& passphrase,
                                         const CreateWalletOptions& options) {
  const HomeLayout layout = home_layout(home);
  struct stat info;
  if (::lstat(layout.keystore.c_str(), &info) == 0)
    return make_error(ErrorKind::invalid_argument,
                      "a wallet already exists at " + layout.keystore +
                          "; it is never overwritten (move it away or use another PERDIEM_HOME)");
  const base::SecureBuffer& pass = detail::SecretAccess::buffer(passphrase);
  if (pass.empty()) return make_error(ErrorKind::invalid_argument, "the passphrase is empty");
  std::optional<wallet::PrivateKey> key;
  if (options.import_key_file.empty()) {
    key.emplace(wallet::PrivateKey::generate());
  } else {
    auto imported = read_key_file(options.import_key_file);
    if (!imported) return imported.error();
    key.emplace(std::move(*imported));
  }
  Status st = sdk::ensure_home(home);
  if (!st.ok()) return st.error();
  st = wallet::write_keystore(layout.keystore, *key, pass, kdf_params(options.kdf));
  if (!st.ok()) return st.error();
  return key->address().to_string();
}

Result<std::string> WalletHandle::keystore_address(const std::string& home) {
  const HomeLayout layout = home_layout(home);
  auto text = sdk::read_small_file(layout.keystore, wallet::kMaxKeystoreBytes, "keystore");
  if (!text && text.error().kind == ErrorKind::not_found) return no_wallet(home);
  if (!text) return text.error();
  auto file = wallet::parse_keystore(*text);
  if (!file)
    return make_error(ErrorKind::storage,
                      "keystore " + layout.keystore + " " + file.error().message);
  return file->address.to_string();
}

Result<std::unique_ptr<WalletHandle>> WalletHandle::open(const std::string& home,
                                                         const Secret& passphrase) {
  auto impl = std::make_unique<Impl>();
  impl->layout = home_layout(home);
  const base::SecureBuffer& pass = detail::SecretAccess::buffer(passphrase);
  if (pass.empty()) return make_error(ErrorKind::invalid_argument, "the passphrase is empty");
  auto key = wallet::open_keystore(impl->layout.keystore, pass);
  if (!key && key.error().kind == ErrorKind::not_found) return no_wallet(home);
  if (!key) return key.error();
  auto config = load_wallet_config(home);
  if (!config) return config.error();
  impl->config = std::move(*config);
  impl->address = key->address();
  impl->address_text = impl->address.to_string();
  impl->key = std::make_shared<const wallet::PrivateKey>(std::move(*key));
  return std::unique_ptr<WalletHandle>(new WalletHandle(std::move(impl)));
}

Result<std::unique_ptr<WalletHandle>> WalletHandle::open_without_key(const std::string& home) {
  auto address = keystore_address(home);
  if (!address) return address.error();
  auto config = load_wallet_config(home);
  if (!config) return config.error();
  auto impl = std::make_unique<Impl>();
  impl->layout = home_layout(home);
  impl->config = std::move(*config);
  impl->address = wallet::Address::parse(*address).value();
  impl->address_text = *address;
  return std::unique_ptr<WalletHandle>(new WalletHandle(std::move(impl)));
}

Result<std::string> WalletHandle::sign_message(std::string_view message) const {
  if (!impl_->key) return needs_key();
  return wallet::signature_to_hex(impl_->key->sign_message(message));
}

Result<bool> WalletHandle::verify_message(std::string_view address, std::string_view message,
                                          std::string_view signature) {
  auto signer = parse_address(address, "address");
  if (!signer) return signer.error();
  auto sig = wallet::signature_from_hex(signature);
  if (!sig)
    return make_error(ErrorKind::invalid_argument,
                      "signature: expected \"0x\" and 130 hex digits (65 bytes r, s, v)");
  return wallet::verify_message(*signer, message, *sig);
}

Result<std::string> WalletHandle::issue_grant(const GrantRequest& request) const {
  if (!impl_->key) return needs_key();
  wallet::Grant grant;
  auto holder = parse_address(request.holder, "holder");
  if (!holder) return holder.error();
  grant.holder = *holder;
  grant.kind = request.kind == GrantKind::stake ? wallet::GrantKind::stake : wallet::GrantKind::usd;
  grant.amount = request.amount;
  grant.providers = request.providers;
  grant.not_before = request.not_before;
  grant.expires = request.expires;
  grant.nonce = request.nonce.empty() ? random_nonce() : request.nonce;
  grant = wallet::sign_grant(std::move(grant), *impl_->key);
  std::string json = wallet::grant_to_json(grant);
  // The holder will parse it: refuse here anything it would refuse (amount, scope, times).
  auto check = wallet::parse_grant(json);
  if (!check) return check.error();
  return json;
}

Result<std::string> WalletHandle::issue_revocation(std::string_view holder,
                                                   std::string_view nonce) const {
  if (!impl_->key) return needs_key();
  wallet::Revocation revocation;
  auto address = parse_address(holder, "holder");
  if (!address) return address.error();
  revocation.holder = *address;
  if (!wallet::valid_identifier(nonce))
    return make_error(ErrorKind::invalid_argument,
                      "nonce: 1-128 characters of [A-Za-z0-9._:/@+-] expected");
  revocation.nonce = std::string(nonce);
  return wallet::revocation_to_json(wallet::sign_revocation(std::move(revocation), *impl_->key));
}

Result<ImportResult> WalletHandle::import(std::string_view json) {
  auto ledger = impl_->open_ledger();
  if (!ledger) return ledger.error();
  ImportResult out;
  if (is_revocation(json)) {
    auto revocation = wallet::parse_revocation(json);
    if (!revocation) return revocation.error();
    Status st = (*ledger)->revoke(json);
    if (!st.ok()) return st.error();
    out.revocation = true;
    out.grant.issuer = revocation->issuer.to_string();
    out.grant.holder = revocation->holder.to_string();
    out.grant.nonce = revocation->nonce;
    return out;
  }
  auto id = (*ledger)->accept_grant(json);
  if (!id) return id.error();
  out.grant = sdk::to_public(wallet::parse_grant(json).value(), *id);
  return out;
}

Result<WalletBalance> WalletHandle::balance() {
  auto ledger = impl_->open_ledger();
  if (!ledger) return ledger.error();
  auto balance = (*ledger)->balance();
  if (!balance) return balance.error();
  WalletBalance out = sdk::to_public(*balance);
  out.address = impl_->address_text;
  out.min_stake = impl_->config.min_stake;
  return out;
}

Result<std::vector<LedgerRow>> WalletHandle::history(std::int64_t after_seq, std::int64_t limit) {
  auto ledger = impl_->open_ledger();
  if (!ledger) return ledger.error();
  auto entries = (*ledger)->history(after_seq, limit);
  if (!entries) return entries.error();
  std::vector<LedgerRow> out;
  out.reserve(entries->size());
  for (const auto& entry : *entries) out.push_back(sdk::to_public(entry));
  return out;
}

Result<WalletCheck> WalletHandle::verify() {
  auto ledger = impl_->open_ledger();
  if (!ledger) return ledger.error();
  auto report = (*ledger)->verify();
  if (!report) return report.error();
  return sdk::to_public(*report);
}

Result<std::vector<ReceiptInfo>> WalletHandle::receipts(std::string_view run) {
  auto ledger = impl_->open_ledger();
  if (!ledger) return ledger.error();
  auto receipts = (*ledger)->receipts(run);
  if (!receipts) return receipts.error();
  std::vector<ReceiptInfo> out;
  out.reserve(receipts->size());
  for (const auto& receipt : *receipts) out.push_back(sdk::to_public(receipt));
  return out;
}

}  // namespace perdiem

// ---- SDK-internal access for the Runtime (sdk/src/wallet_access.hpp) -------------------

namespace perdiem::detail {

Result<wallet::Wallet*> WalletAccess::ledger(WalletHandle& handle) {
  return handle.impl_->open_ledger();
}

Result<wallet::PriceSheet> WalletAccess::prices(const WalletHandle& handle) {
  wallet::PriceSheet sheet;
  for (const PriceEntry& entry : handle.config().prices) {
    sheet.set(entry.provider, entry.model,
              wallet::Price{entry.input_per_mtok, entry.output_per_mtok,
                            entry.cached_input_per_mtok, entry.per_request});
  }
  return sheet;
}

}  // namespace perdiem::detail
