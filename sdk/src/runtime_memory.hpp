// The memory store a Runtime uses: memory.db at the path the app gave, or a temporary
// one that lives as long as the runtime (memory.* still works; nothing outlives it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/memory/memory_store.hpp"

namespace perdiem::sdk {

class RuntimeMemory {
 public:
  // `path` "" = temporary. `secrets` (API keys) are redacted from everything stored;
  // secrets too short to redact safely are skipped (they never reach the store anyway:
  // keys travel in headers, which are not recorded).
  static Result<std::unique_ptr<RuntimeMemory>> open(const std::string& path,
                                                     const std::vector<std::string_view>& secrets);
  ~RuntimeMemory();
  RuntimeMemory(const RuntimeMemory&) = delete;
  RuntimeMemory& operator=(const RuntimeMemory&) = delete;

  memory::MemoryStore& store() { return *store_; }
  bool is_temporary() const { return !temp_dir_.empty(); }

 private:
  RuntimeMemory() = default;
  std::unique_ptr<memory::MemoryStore> store_;
  std::string temp_dir_;
};

}  // namespace perdiem::sdk
