// perdiem::Secret: a passphrase in sodium_malloc'd memory, wiped when freed.
#include <sodium.h>

#include <cstdlib>

#include "wallet/keystore.hpp"
#include "wallet_secret.hpp"

namespace perdiem {

struct Secret::Impl {
  base::SecureBuffer buffer;
};

Secret::Secret(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Secret::Secret(Secret&& other) noexcept = default;
Secret& Secret::operator=(Secret&& other) noexcept = default;
Secret::~Secret() = default;

bool Secret::empty() const { return !impl_ || impl_->buffer.empty(); }

Secret Secret::copy_of(std::string_view text) {
  return detail::SecretAccess::make(base::SecureBuffer::from_string(text));
}

Result<Secret> Secret::read_passphrase(std::string_view prompt) {
  auto buffer = wallet::read_passphrase(prompt);
  if (!buffer) return buffer.error();
  return detail::SecretAccess::make(std::move(*buffer));
}

Result<Secret> Secret::read_new_passphrase(std::string_view prompt,
                                           std::string_view repeat_prompt) {
  const wallet::PassphraseSource source;
  const char* env = std::getenv(source.env_var.c_str());
  auto first = wallet::read_passphrase(prompt, source);
  if (!first) return first.error();
  if (env == nullptr) {  // typed: a typo would lock the key away for good, so ask again
    auto second = wallet::read_passphrase(repeat_prompt, source);
    if (!second) return second.error();
    if (first->size() != second->size() ||
        sodium_memcmp(first->data(), second->data(), first->size()) != 0)
      return make_error(ErrorKind::invalid_argument, "the passphrases do not match");
  }
  return detail::SecretAccess::make(std::move(*first));
}

namespace detail {

const base::SecureBuffer& SecretAccess::buffer(const Secret& secret) {
  static const base::SecureBuffer kEmpty;
  return secret.impl_ ? secret.impl_->buffer : kEmpty;
}

Secret SecretAccess::make(base::SecureBuffer buffer) {
  auto impl = std::make_unique<Secret::Impl>();
  impl->buffer = std::move(buffer);
  return Secret(std::move(impl));
}

}  // namespace detail
}  // namespace perdiem
