// Secrets (API keys, private keys, passphrases) live in SecureBuffer: memory from
// sodium_malloc (guard pages, locked against swapping), wiped when freed, never copied
// implicitly, and never printable. Obtain a view only at the point of use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace perdiem::base {

class SecureBuffer {
 public:
  SecureBuffer() = default;
  // Copies `bytes` into locked memory. Aborts if libsodium cannot allocate (as new does).
  explicit SecureBuffer(std::span<const std::uint8_t> bytes);
  static SecureBuffer from_string(std::string_view text);
  // Zero-filled buffer of `size` bytes, for a secret to be written into.
  static SecureBuffer zeroed(std::size_t size);

  SecureBuffer(SecureBuffer&& other) noexcept;
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;
  ~SecureBuffer();

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  std::uint8_t* data() { return data_; }
  const std::uint8_t* data() const { return data_; }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }
  // WARNING: the view points into locked memory; do not copy it into a std::string that
  // outlives the call it is passed to.
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace perdiem::base
