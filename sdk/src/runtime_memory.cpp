#include "sdk/src/runtime_memory.hpp"

#include <stdlib.h>

#include <filesystem>

#include "runtime/memory/redactor.hpp"

namespace perdiem::sdk {

Result<std::unique_ptr<RuntimeMemory>> RuntimeMemory::open(
    const std::string& path, const std::vector<std::string_view>& secrets) {
  std::unique_ptr<RuntimeMemory> memory(new RuntimeMemory());
  std::string where = path;
  if (where.empty()) {
    std::string dir = (std::filesystem::temp_directory_path() / "perdiem-memory-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) {
      return make_error(ErrorKind::storage,
                        "cannot create a temporary directory for the memory store in " +
                            std::filesystem::temp_directory_path().string());
    }
    memory->temp_dir_ = dir;  // removed by the destructor from here on
    where = dir + "/memory.db";
  }
  memory::MemoryStore::Options options;
  std::vector<std::string_view> kept;
  for (std::string_view secret : secrets) {
    if (secret.size() >= memory::Redactor::kMinSecretBytes) kept.push_back(secret);
  }
  options.secrets = kept;
  Result<std::unique_ptr<memory::MemoryStore>> store = memory::MemoryStore::open(where, options);
  if (!store) return store.error();
  memory->store_ = std::move(*store);
  return memory;
}

RuntimeMemory::~RuntimeMemory() {
  store_.reset();  // flushes and closes before the directory goes
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
}

}  // namespace perdiem::sdk
