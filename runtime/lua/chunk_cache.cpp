#include "runtime/lua/chunk_cache.hpp"

#include <lua.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace perdiem::lua {
namespace {

struct Cache {
  std::mutex mu;
  // Keyed by the chunk's name, a NUL, then its text: a hit is the same text byte for byte.
  std::unordered_map<std::string, std::shared_ptr<const std::string>> bytecode;
  std::size_t bytes = 0;
};

Cache& cache() {
  static Cache* const instance = new Cache();  // never destroyed: agents may outlive main
  return *instance;
}

std::string key_of(std::string_view source, const char* chunk_name) {
  std::string key(chunk_name);
  key += '\0';
  key.append(source.data(), source.size());
  return key;
}

// lua_dump's writer: appends to the string. Out of host memory it stops the dump (a
// non-zero return), and the chunk is simply not kept.
int append_bytecode(lua_State*, const void* bytes, std::size_t size, void* out) {
  try {
    static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
    return 0;
  } catch (...) {
    return 1;
  }
}

void keep(std::string key, std::string dumped) {
  Cache& c = cache();
  const std::size_t size = key.size() + dumped.size();
  if (size > kChunkCacheBytes / 4) return;  // one huge plan must not evict every other
  auto kept = std::make_shared<const std::string>(std::move(dumped));
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.bytes + size > kChunkCacheBytes) {
    c.bytecode.clear();
    c.bytes = 0;
  }
  if (c.bytecode.emplace(std::move(key), std::move(kept)).second) c.bytes += size;
}

}  // namespace

int load_text_chunk(lua_State* L, std::string_view source, const char* chunk_name) {
  std::string key;
  std::shared_ptr<const std::string> kept;
  try {
    key = key_of(source, chunk_name);
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    const auto found = c.bytecode.find(key);
    if (found != c.bytecode.end()) kept = found->second;
  } catch (const std::bad_alloc&) {
    key.clear();  // compile without the cache
  }
  if (kept) return luaL_loadbufferx(L, kept->data(), kept->size(), chunk_name, "b");

  const int status = luaL_loadbufferx(L, source.data(), source.size(), chunk_name, "t");
  if (status != LUA_OK || key.empty()) return status;
  try {
    std::string dumped;
    if (lua_dump(L, append_bytecode, &dumped, /*strip=*/0) == 0) {
      keep(std::move(key), std::move(dumped));
    }
  } catch (const std::bad_alloc&) {
    // Not kept; the chunk itself is loaded.
  }
  return status;
}

ChunkCacheSize chunk_cache_size() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.bytecode.size(), c.bytes};
}

}  // namespace perdiem::lua
