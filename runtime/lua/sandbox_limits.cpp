// The sandbox's limits once the state runs: the instruction hook, charges from long C
// loops, and the stop that no pcall can swallow.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

// One registry slot per StopReason, holding that limit's error table. They are made
// before the script runs so that raising one never allocates: the heap may be full.
const char kStopErrorKeys[4] = {};

const void* stop_error_key(StopReason reason) {
  return &kStopErrorKeys[static_cast<int>(reason)];
}

// How often, in instructions, the hook looks at the limits. Small enough that the
// deadline and a cancellation are noticed within microseconds, large enough that the
// hook costs a few percent.
constexpr int kHookInterval = 1000;

// "2.5", "30", "0.125": at most three decimals, no trailing zeros.
std::string trimmed_decimal(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.3f", value);
  std::string text = buffer;
  while (!text.empty() && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// Sets the stop error table's source. 1: the table, 2: the std::string.
int write_stop_source(lua_State* L) {
  const auto* source = static_cast<const std::string*>(lua_touserdata(L, 2));
  lua_pushlstring(L, source->data(), source->size());
  lua_setfield(L, 1, "source");
  return 0;
}

}  // namespace

std::string describe_duration(std::chrono::nanoseconds duration) {
  const double nanos = static_cast<double>(duration.count());
  if (duration >= std::chrono::seconds(1)) return trimmed_decimal(nanos / 1e9) + " s";
  if (duration >= std::chrono::milliseconds(1)) return trimmed_decimal(nanos / 1e6) + " ms";
  return trimmed_decimal(nanos / 1e3) + " µs";
}

Sandbox& Sandbox::of(lua_State* L) {
  return **static_cast<Sandbox**>(lua_getextraspace(L));
}

std::chrono::steady_clock::time_point Sandbox::now() const {
  return limits_.monotonic_time ? limits_.monotonic_time() : std::chrono::steady_clock::now();
}

std::optional<std::chrono::nanoseconds> Sandbox::time_left() const {
  if (limits_.deadline <= std::chrono::nanoseconds::zero()) return std::nullopt;
  const auto elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(now() - started_);
  return std::max(limits_.deadline - elapsed, std::chrono::nanoseconds::zero());
}

bool Sandbox::cancel_requested() const {
  return limits_.cancel != nullptr && limits_.cancel->load(std::memory_order_relaxed);
}

Error Sandbox::stop_error(StopReason reason) const {
  switch (reason) {
    case StopReason::memory:
      return make_error(ErrorKind::limit, memory_limit_message());
    case StopReason::instructions:
      return make_error(
          ErrorKind::limit,
          "instruction limit of " + std::to_string(limits_.instruction_limit) + " reached");
    case StopReason::deadline:
      return make_error(ErrorKind::limit,
                        "deadline of " + describe_duration(limits_.deadline) + " passed");
    case StopReason::cancelled:
      break;
  }
  return make_error(ErrorKind::cancelled, "the run was cancelled");
}

void Sandbox::arm() {
  lua_State* L = state_;
  for (StopReason reason : {StopReason::memory, StopReason::instructions, StopReason::deadline,
                            StopReason::cancelled}) {
    push_error_table(L, stop_error(reason));
    lua_pushliteral(L, "");  // the slot stop() fills in, made now so filling never grows it
    lua_setfield(L, -2, "source");
    lua_rawsetp(L, LUA_REGISTRYINDEX, stop_error_key(reason));
  }
  hook_interval_ = kHookInterval;
  if (limits_.instruction_limit > 0 &&
      limits_.instruction_limit < static_cast<std::uint64_t>(kHookInterval)) {
    hook_interval_ = static_cast<int>(limits_.instruction_limit);
  }
  // With a count hook set, Lua 5.4 sends every instruction through its hook check, which
  // makes tight loops about 2.5 times slower. A host that asks for no instruction limit,
  // no deadline and no cancellation gets no hook until a limit (the heap) is hit.
  const bool watched = limits_.instruction_limit > 0 ||
                       limits_.deadline > std::chrono::nanoseconds::zero() ||
                       limits_.cancel != nullptr ||
                       limits_.time_slice > std::chrono::nanoseconds::zero();
  if (watched) lua_sethook(L, count_hook, LUA_MASKCOUNT, hook_interval_);  // threads inherit it
  armed_ = true;
}

// Called from the allocator, in the middle of whatever Lua was doing: only records the
// stop and asks for the hook at every instruction, both safe anywhere (lua.c does the
// same from a signal handler). The running thread raises at its next hook at the latest.
void Sandbox::heap_exhausted() {
  if (!armed_) return;  // still opening the libraries: create() reports it
  if (!stop_reason_) {
    stop_reason_ = StopReason::memory;
    stop_ = stop_error(StopReason::memory);
  }
  lua_sethook(state_, count_hook, LUA_MASKCOUNT, 1);
  if (watched_thread_ != nullptr) lua_sethook(watched_thread_, count_hook, LUA_MASKCOUNT, 1);
}

std::optional<StopReason> Sandbox::limit_passed() const {
  if (heap_.exhausted) return StopReason::memory;
  if (limits_.instruction_limit > 0 && instructions_ >= limits_.instruction_limit) {
    return StopReason::instructions;
  }
  if (cancel_requested()) return StopReason::cancelled;
  if (limits_.deadline > std::chrono::nanoseconds::zero() && now() - started_ >= limits_.deadline) {
    return StopReason::deadline;
  }
  return std::nullopt;
}

void Sandbox::count_hook(lua_State* L, lua_Debug*) {
  Sandbox& sandbox = of(L);
  if (sandbox.stop_reason_) sandbox.raise_stop(L);
  // The hook fires on a thread's every hook_interval_-th instruction; a coroutine that
  // dies sooner is not counted, which a script cannot exploit for long: its parent's
  // instructions are.
  sandbox.instructions_ += static_cast<std::uint64_t>(sandbox.hook_interval_);
  if (std::optional<StopReason> reason = sandbox.limit_passed()) sandbox.stop(L, *reason);
  // Preemption: a hook may yield (lua_yield with no results, then return); the driver
  // resumes the thread later, where it left off.
  if (sandbox.limits_.time_slice > std::chrono::nanoseconds::zero() &&
      L == sandbox.watched_thread_ && lua_isyieldable(L) &&
      sandbox.now() - sandbox.slice_started_ >= sandbox.limits_.time_slice) {
    sandbox.preempted_ = true;
    lua_yield(L, 0);
  }
}

void Sandbox::charge(lua_State* L, std::uint64_t work) {
  if (stop_reason_) raise_stop(L);
  instructions_ += work;
  if (std::optional<StopReason> reason = limit_passed()) stop(L, *reason);
}

void Sandbox::stop(lua_State* L, StopReason reason) {
  if (!stop_reason_) {
    stop_reason_ = reason;
    stop_ = stop_error(reason);
    stop_->source = innermost_lua_line(L);
    // Tell the script where too. Interning the text may allocate: protected, and skipped
    // when the heap is what ran out.
    if (reason != StopReason::memory && !stop_->source.empty()) {
      lua_pushcfunction(L, write_stop_source);
      lua_rawgetp(L, LUA_REGISTRYINDEX, stop_error_key(reason));
      lua_pushlightuserdata(L, &stop_->source);
      if (lua_pcall(L, 2, 0, 0) != LUA_OK) lua_pop(L, 1);
    }
  }
  // From now on every instruction raises, on this thread and on those it returns to.
  lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  lua_sethook(state_, count_hook, LUA_MASKCOUNT, 1);
  if (watched_thread_ != nullptr) lua_sethook(watched_thread_, count_hook, LUA_MASKCOUNT, 1);
  raise_stop(L);
}

void Sandbox::raise_stop(lua_State* L) {
  if (stop_->source.empty()) stop_->source = innermost_lua_line(L);
  lua_rawgetp(L, LUA_REGISTRYINDEX, stop_error_key(*stop_reason_));
  lua_error(L);
  std::abort();  // unreachable: lua_error unwinds (a C++ exception in this build)
}

}  // namespace perdiem::lua
