#include "runtime/memory/redactor.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace perdiem::memory {

Status Redactor::add(std::string_view secret) {
  if (secret.size() < kMinSecretBytes) {
    return make_error(
        ErrorKind::invalid_argument,
        "a secret to redact must be at least " + std::to_string(kMinSecretBytes) + " bytes long");
  }
  auto push = [this](std::string_view form) {
    for (const auto& have : secrets_)
      if (have.view() == form) return;
    secrets_.push_back(base::SecureBuffer::from_string(form));
  };
  push(secret);
  // The JSON string body of the secret (without the surrounding quotes).
  std::string escaped = nlohmann::json(std::string(secret)).dump();
  std::string_view body(escaped);
  body = body.substr(1, body.size() - 2);
  if (body != secret) push(body);
  std::fill(escaped.begin(), escaped.end(), '\0');
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return {};
}

void Redactor::apply_in_place(std::string& text) const {
  // Each secret's first byte is searched with memchr-speed find; texts without secrets
  // (the common case) cost one scan per secret.
  for (const auto& secret : secrets_) {
    std::string_view needle = secret.view();
    std::size_t at = text.find(needle);
    while (at != std::string::npos) {
      text.replace(at, needle.size(), kRedacted);
      at = text.find(needle, at + kRedacted.size());
    }
  }
}

std::string Redactor::apply(std::string_view text) const {
  std::string out(text);
  apply_in_place(out);
  return out;
}

}  // namespace perdiem::memory
