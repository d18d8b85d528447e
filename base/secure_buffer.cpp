#include "base/secure_buffer.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace perdiem::base {
namespace {

std::uint8_t* allocate(std::size_t size) {
  if (sodium_init() < 0) std::abort();
  // sodium_malloc(0) is legal but returns a distinct pointer; keep empty buffers null.
  if (size == 0) return nullptr;
  auto* p = static_cast<std::uint8_t*>(sodium_malloc(size));
  if (p == nullptr) std::abort();
  return p;
}

}  // namespace

SecureBuffer::SecureBuffer(std::span<const std::uint8_t> bytes)
    : data_(allocate(bytes.size())), size_(bytes.size()) {
  if (size_ != 0) std::memcpy(data_, bytes.data(), size_);
}

SecureBuffer SecureBuffer::from_string(std::string_view text) {
  return SecureBuffer(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

SecureBuffer SecureBuffer::zeroed(std::size_t size) {
  SecureBuffer buffer;
  buffer.data_ = allocate(size);
  buffer.size_ = size;
  if (size != 0) sodium_memzero(buffer.data_, size);
  return buffer;
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

// sodium_free wipes the memory before releasing it.
SecureBuffer::~SecureBuffer() {
  if (data_ != nullptr) sodium_free(data_);
}

}  // namespace perdiem::base
