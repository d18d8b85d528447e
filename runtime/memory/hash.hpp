// Content and request hashes: SHA-256 (libsodium), as 64 lowercase hex digits.
#pragma once

#include <string>
#include <string_view>

namespace perdiem::memory {

std::string sha256_hex(std::string_view bytes);

}  // namespace perdiem::memory
