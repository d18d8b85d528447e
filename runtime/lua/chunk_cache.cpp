#include "runtime/lua/chunk_cache.hpp"

#include <lua.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

struct Kept {
  std::string bytecode;
  std::size_t compile_bytes = 0;  // the most compiling the text grew the heap by
};

struct Cache {
  std::mutex mu;
  // Keyed by the chunk's name, a NUL, then its text: a hit is the same text byte for byte.
  std::unordered_map<std::string, std::shared_ptr<const Kept>> chunks;
  std::size_t bytes = 0;
  std::size_t hits = 0;
  std::size_t compiles = 0;
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

void keep(std::string key, std::shared_ptr<const Kept> kept) {
  const std::size_t size = key.size() + kept->bytecode.size();
  if (size > kChunkCacheBytes / 4) return;  // one huge plan must not evict every other
  Cache& c = cache();
  std::unordered_map<std::string, std::shared_ptr<const Kept>> evicted;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + size > kChunkCacheBytes) {
      evicted.swap(c.chunks);  // freed below, outside the lock every agent's start takes
      c.bytes = 0;
    }
    if (c.chunks.emplace(std::move(key), std::move(kept)).second) c.bytes += size;
  }
}

}  // namespace

int load_text_chunk(lua_State* L, std::string_view source, const char* chunk_name) {
  Sandbox& sandbox = Sandbox::of(L);
  Cache& c = cache();
  std::string key;
  std::shared_ptr<const Kept> kept;
  try {
    // A text too big to keep is not worth a key, a lookup or a dump.
    if (source.size() + std::char_traits<char>::length(chunk_name) <= kChunkCacheBytes / 4) {
      key = key_of(source, chunk_name);
      std::lock_guard<std::mutex> lock(c.mu);
      const auto found = c.chunks.find(key);
      if (found != c.chunks.end() && found->second->compile_bytes <= sandbox.memory_headroom()) {
        kept = found->second;
        ++c.hits;
      }
    }
  } catch (const std::bad_alloc&) {
    key.clear();  // compile without the cache
  }
  if (kept) {
    return luaL_loadbufferx(L, kept->bytecode.data(), kept->bytecode.size(), chunk_name, "b");
  }

  const std::size_t used_before = sandbox.memory_used();
  sandbox.reset_memory_peak();
  const int status = luaL_loadbufferx(L, source.data(), source.size(), chunk_name, "t");
  {
    std::lock_guard<std::mutex> lock(c.mu);
    ++c.compiles;
  }
  if (status != LUA_OK || key.empty()) return status;
  try {
    auto compiled = std::make_shared<Kept>();
    compiled->compile_bytes = sandbox.memory_peak() - used_before;  // peak starts at used_before
    if (lua_dump(L, append_bytecode, &compiled->bytecode, /*strip=*/0) == 0) {
      keep(std::move(key), std::move(compiled));
    }
  } catch (const std::bad_alloc&) {
    // Not kept; the chunk itself is loaded.
  }
  return status;
}

ChunkCacheStats chunk_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return {c.chunks.size(), c.bytes, c.hits, c.compiles};
}

}  // namespace perdiem::lua
