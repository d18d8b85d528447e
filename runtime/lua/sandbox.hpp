// A lua_State that scripts cannot escape: a capped heap, a budget of instructions and
// time, and only the safe libraries.
//
// What a sandboxed state offers: base (without dofile, loadfile, print and require; load
// limited to text chunks, collectgarbage to "count", setmetatable refusing __gc, xpcall
// skipping its handler once a limit is hit),
// coroutine, table, string (without string.dump), math, utf8, and an `os` table holding
// only time, clock, date and difftime. Reaching for a forbidden name (io, os.execute,
// string.dump, ...) raises a sandbox error table naming it (see error_table.hpp);
// unknown names are still nil.
//
// Limits. The instruction hook counts VM instructions and watches the deadline, the
// cancellation flag and the heap. C functions that loop without running Lua code
// (pattern matching, table.insert/remove/move) count their steps as instructions, and
// string.rep and table.concat refuse results larger than the heap. Once a limit is hit
// the sandbox is *stopped*: every later instruction raises the same limit error again,
// so pcall, xpcall, coroutine.resume or load cannot swallow it. A stopped sandbox stays
// stopped; throw it away.
//
// Finalizers (__gc) are refused because Lua runs them with hooks disabled: a finalizer
// could loop forever where no limit reaches it.
//
// Thread-safety: a Sandbox and its state belong to one thread at a time; only the
// cancellation flag may be set from another thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <lua.hpp>

#include "perdiem/error.hpp"

namespace perdiem::lua {

struct SandboxLimits {
  // Every byte the state allocates counts, the state's own structures included.
  std::size_t memory_limit_bytes = 64u << 20;
  // VM instructions the state may run, plus the steps of long C loops; 0: no limit.
  // Counted in blocks of up to 1000, so a script may overshoot by less than a block.
  // Counting costs: Lua 5.4 checks every instruction once a count hook is set, about
  // 2.5x on tight loops. With no instruction limit, no deadline and no cancel flag the
  // state runs without a hook (a full heap still stops it).
  std::uint64_t instruction_limit = 100'000'000;
  // Wall-clock time the state may run, from create(); 0: no deadline.
  std::chrono::nanoseconds deadline{0};
  // Set to true (from any thread) to stop the script with kind `cancelled`. Null: none.
  // Must outlive the Sandbox.
  const std::atomic<bool>* cancel = nullptr;
  // The clock the deadline is measured on. Empty: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> monotonic_time;
  // How long the watched thread may run between begin_slice() and a yield before the
  // hook yields it (preemption, so one busy plan cannot hold a scheduler thread that
  // other plans share); 0: never. Needs a yieldable watched thread; coroutines the
  // script makes are not preempted (their instructions still count).
  std::chrono::nanoseconds time_slice{0};
};

// What stopped a sandbox.
enum class StopReason { memory, instructions, deadline, cancelled };

class Sandbox {
 public:
  // Returns a kind `limit` error when the cap is too small to even open the libraries.
  static Result<std::unique_ptr<Sandbox>> create(SandboxLimits limits);

  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // The Sandbox owning L, which may be any thread of the sandbox's state.
  static Sandbox& of(lua_State* L);

  lua_State* state() const { return state_; }

  std::size_t memory_used() const { return heap_.used; }
  // The heap's high-water mark since reset_memory_peak(): what a piece of work needed at
  // most, for the chunk cache, whose reads must need no more than compiling would have.
  std::size_t memory_peak() const { return heap_.peak; }
  void reset_memory_peak() { heap_.peak = heap_.used; }
  // Bytes the heap may still grow by before its cap.
  std::size_t memory_headroom() const {
    return heap_.limit > heap_.used ? heap_.limit - heap_.used : 0;
  }
  std::size_t memory_limit_bytes() const { return heap_.configured_limit; }
  // True once an allocation was refused for good: the cap was reached even after a full
  // collection. A refusal that a collection resolved does not count.
  bool memory_limit_reached() const { return heap_.exhausted; }
  // "memory limit of 64 MiB reached", naming the configured cap.
  std::string memory_limit_message() const;

  // What builds on the coroutine library when a script first uses it: called with the
  // library's table on top of the stack (a plan replaces resume and wrap there,
  // coroutine_binding.cpp). Kept here, not in the Lua state, so an agent that never
  // touches coroutines pays nothing for it.
  using CoroutinePatch = void (*)(lua_State* L, void* data);
  void set_coroutine_patch(CoroutinePatch patch, void* data) {
    coroutine_patch_ = patch;
    coroutine_patch_data_ = data;
  }
  void patch_coroutine_library(lua_State* L) const {
    if (coroutine_patch_ != nullptr) coroutine_patch_(L, coroutine_patch_data_);
  }

  // Raises the cap by `bytes` so the host can still build a traceback or convert a
  // result after a script exhausted its heap. Call only once the script has stopped.
  void grant_reserve(std::size_t bytes) { heap_.limit += bytes; }

  // The limit error that stopped the script (kind limit or cancelled, its source the
  // script line that was running), or nullopt while no limit was hit.
  const std::optional<Error>& stopped() const { return stop_; }

  // Counts `work` steps a C function did as instructions, then checks every limit; if
  // one is hit (or was hit before), raises its error table. For C functions the script
  // calls, on the calling thread L; raising needs one free stack slot and never
  // allocates.
  void charge(lua_State* L, std::uint64_t work);
  void check(lua_State* L) { charge(L, 0); }

  // Stops the script for `reason` (unless already stopped) and raises the stop's error.
  [[noreturn]] void stop(lua_State* L, StopReason reason);

  // Time left before the deadline (zero once passed); nullopt when there is none.
  std::optional<std::chrono::nanoseconds> time_left() const;
  bool cancel_requested() const;

  // Makes `thread` raise at its very next instruction once the sandbox stops, as the
  // state's main thread and the thread that hit the limit do. For the thread that
  // resumes all the others (run_plan's plan coroutine): without it, a coroutine that hit
  // a limit could hand control back to code that finishes before its next check.
  void watch_thread(lua_State* thread) { watched_thread_ = thread; }

  // Starts the watched thread's time slice (before resuming it).
  void begin_slice() {
    if (limits_.time_slice.count() > 0) slice_started_ = now();
  }
  // Whether the hook yielded the watched thread since the last call (and clears it).
  bool take_preempted() {
    const bool preempted = preempted_;
    preempted_ = false;
    return preempted;
  }

 private:
  struct Heap {
    Sandbox* owner = nullptr;  // told once the heap is exhausted
    std::size_t used = 0;
    std::size_t peak = 0;  // the most `used` has been since the last reset
    std::size_t limit = 0;
    std::size_t configured_limit = 0;
    bool exhausted = false;
    // The last refused request: Lua collects garbage and repeats a refused request
    // once, and only a repeated refusal is an exhausted heap.
    bool refusal_pending = false;
    const void* refused_block = nullptr;
    std::size_t refused_old_size = 0;
    std::size_t refused_new_size = 0;
  };
  static void* allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size);
  static void count_hook(lua_State* L, lua_Debug* event);

  Sandbox() = default;
  std::chrono::steady_clock::time_point now() const;
  void arm();             // makes the stop errors, installs the hook
  void heap_exhausted();  // from the allocator: stop at the next hook
  std::optional<StopReason> limit_passed() const;
  [[noreturn]] void raise_stop(lua_State* L);
  Error stop_error(StopReason reason) const;

  Heap heap_;
  SandboxLimits limits_;
  lua_State* state_ = nullptr;
  lua_State* watched_thread_ = nullptr;
  CoroutinePatch coroutine_patch_ = nullptr;
  void* coroutine_patch_data_ = nullptr;
  bool armed_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point slice_started_;
  bool preempted_ = false;
  std::uint64_t instructions_ = 0;  // counted so far, by blocks of hook_interval_
  int hook_interval_ = 1000;
  std::optional<Error> stop_;
  std::optional<StopReason> stop_reason_;
};

// "2.5 s", "50 ms": how a limit message names a duration ("deadline of 2.5 s passed").
std::string describe_duration(std::chrono::nanoseconds duration);

// Raises a sandbox error naming what the script reached for:
// "<what> is not available in the perdiem sandbox". Never returns.
[[noreturn]] void raise_sandbox_violation(lua_State* L, std::string_view what);

// Makes `name` a global built on its first use: `loader`, closed over the `upvalues`
// values on top of the stack (popped), returns its value, which then stays a plain
// global. A plan uses few of the globals the sandbox offers, and building every one for
// every agent was a third of what starting one cost. Not seen by pairs(_G) until used.
void add_lazy_global(lua_State* L, const char* name, lua_CFunction loader, int upvalues = 0);

// "chunk:line" of the Lua function `level` frames up (1: whoever called the running C
// function), or "" when that frame is not Lua code.
std::string where(lua_State* L, int level);

// "chunk:line" of the innermost Lua frame of L (running or stopped), or "".
std::string innermost_lua_line(lua_State* L);

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
