// The SDK's view into perdiem::Secret: the locked buffer behind it.
#pragma once

#include "base/secure_buffer.hpp"
#include "perdiem/wallet.hpp"

namespace perdiem::detail {

struct SecretAccess {
  // The secret's bytes; an empty buffer for a moved-from Secret.
  static const base::SecureBuffer& buffer(const Secret& secret);
  static Secret make(base::SecureBuffer buffer);
};

}  // namespace perdiem::detail
