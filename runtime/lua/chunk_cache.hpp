// Compiling a plan and the modules it requires was a large part of an agent's start (more
// than half of it for a plan requiring the plan library), and 10,000 agents running one
// plan compiled the same text 10,000 times. The process keeps each
// chunk it compiled as Lua bytecode (lua_dump, with its debug information, so messages
// and tracebacks still name file and line), keyed by its name and its whole text, and
// later loads of the same text read that instead of parsing it again.
//
// Scripts still load text only: the sandbox's `load` never sees this. The bytecode comes
// from this process's own compiler, a moment earlier, and is kept in host memory no
// script can reach, which is what makes loading it as safe as compiling the text.
#pragma once

#include <cstddef>
#include <string_view>

struct lua_State;

namespace perdiem::lua {

// As luaL_loadbufferx(L, source, size, chunk_name, "t"): pushes the compiled chunk, or
// the compiler's message, and returns Lua's status. L is a sandbox's (Sandbox::of).
// Compiles `source` the first time this process sees it under `chunk_name`; reads the
// kept bytecode after that, unless the sandbox's heap has less room than compiling took
// (then it compiles, and fails or succeeds as it would have without the cache: whether a
// plan fits its memory limit never depends on what ran before it).
int load_text_chunk(lua_State* L, std::string_view source, const char* chunk_name);

// What the cache holds (chunks, and bytes of their names, texts and bytecode together)
// and has done: loads answered from it, and compiles. It is emptied when it would pass
// kChunkCacheBytes; a chunk whose name and text alone pass a quarter of that is never kept.
struct ChunkCacheStats {
  std::size_t chunks = 0;
  std::size_t bytes = 0;
  std::size_t hits = 0;
  std::size_t compiles = 0;
};
ChunkCacheStats chunk_cache_stats();
inline constexpr std::size_t kChunkCacheBytes = 32 * 1024 * 1024;

}  // namespace perdiem::lua
