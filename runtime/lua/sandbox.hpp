// A lua_State that scripts cannot escape: a capped heap and only the safe libraries.
//
// What a sandboxed state offers: base (without dofile, loadfile, print and with load
// limited to text chunks and collectgarbage to "count"), coroutine, table, string
// (without string.dump), math, utf8, and an `os` table holding only time, clock, date
// and difftime. Reaching for a forbidden name (io, os.execute, string.dump, ...) raises
// a sandbox error table naming it (see error_table.hpp); unknown names are still nil.
//
// Thread-safety: a Sandbox and its state belong to one thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <lua.hpp>

#include "perdiem/error.hpp"

namespace perdiem::lua {

struct SandboxLimits {
  // Every byte the state allocates counts, the state's own structures included.
  std::size_t memory_limit_bytes = 64u << 20;
};

class Sandbox {
 public:
  // Returns a kind `limit` error when the cap is too small to even open the libraries.
  static Result<std::unique_ptr<Sandbox>> create(const SandboxLimits& limits);

  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  lua_State* state() const { return state_; }

  std::size_t memory_used() const { return heap_.used; }
  // True once an allocation was refused because of the cap, even if the script caught
  // the resulting error and went on.
  bool memory_limit_reached() const { return heap_.limit_reached; }
  // "memory limit of 64 MiB reached", naming the configured cap.
  std::string memory_limit_message() const;

  // Raises the cap by `bytes` so the host can still build a traceback or convert a
  // result after a script exhausted its heap. Call only once the script has stopped.
  void grant_reserve(std::size_t bytes) { heap_.limit += bytes; }

 private:
  struct Heap {
    std::size_t used = 0;
    std::size_t limit = 0;
    std::size_t configured_limit = 0;
    bool limit_reached = false;
  };
  static void* allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size);

  Sandbox() = default;
  Heap heap_;
  lua_State* state_ = nullptr;
};

// Raises a sandbox error naming what the script reached for:
// "<what> is not available in the perdiem sandbox". Never returns.
[[noreturn]] void raise_sandbox_violation(lua_State* L, std::string_view what);

// "chunk:line" of the Lua function `level` frames up (1: whoever called the running C
// function), or "" when that frame is not Lua code.
std::string where(lua_State* L, int level);

// Runs `body` on L under lua_pcall, so a Lua error raised inside (out of memory, most
// often) becomes a returned error instead of a panic that aborts the process. The top
// `nargs` values are popped and handed to `body` as its stack 1..nargs; `body` runs in
// a fresh C frame, so whatever it pushes is discarded on return. C++ exceptions thrown
// by `body` become errors too. The error's kind is `limit` for LUA_ERRMEM (the message
// is Lua's), `script` otherwise. L must have 2 free stack slots (the host's stack
// always has LUA_MINSTACK).
Status run_protected(lua_State* L, int nargs, const std::function<void(lua_State*)>& body);
inline Status run_protected(lua_State* L, const std::function<void(lua_State*)>& body) {
  return run_protected(L, 0, body);
}

}  // namespace perdiem::lua
