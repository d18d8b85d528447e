// time.now() and sleep(seconds).
//
// sleep yields to run_plan's driver loop, as model.chat does, so that a scheduler can
// make it a timer instead of a blocked thread; where the plan cannot yield (a coroutine
// it created, a C boundary) the sleep happens inline.
#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

using std::chrono::nanoseconds;

// The longest sleep a plan may ask for, about 31 years: keeps the conversion to
// nanoseconds far from overflow. The deadline usually cuts sooner.
constexpr double kMaxSleepSeconds = 1e9;
// How long the default sleep waits before looking at the cancellation flag again.
constexpr auto kCancelPoll = std::chrono::milliseconds(10);

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

int time_now(lua_State* L) {
  const PlanHost& host = *context_of(L).host;
  double now = 0;
  if (!host.unix_time) {
    now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  } else {
    std::string failure;
    try {
      now = host.unix_time();
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (!failure.empty()) {
      raise_error_table(L, make_error(ErrorKind::internal, "the clock host failed: " + failure));
    }
  }
  lua_pushnumber(L, now);
  return 1;
}

// After the sleep: its error, the deadline it ran into, or a cancellation raise here.
int finish_sleep(lua_State* L, PlanContext& context, const SleepResult& slept) {
  if (!slept.status.ok()) raise_error_table(L, slept.status.error());
  if (slept.deadline_reached) context.sandbox->stop(L, StopReason::deadline);
  context.sandbox->check(L);
  return 0;
}

int sleep_continue(lua_State* L, int, lua_KContext raw_context) {
  auto& context = *reinterpret_cast<PlanContext*>(raw_context);
  if (!context.slept) {
    return luaL_error(L, "sleep: the plan was resumed without sleeping (a perdiem bug)");
  }
  const SleepResult slept = std::move(*context.slept);
  context.slept.reset();
  return finish_sleep(L, context, slept);
}

int plan_sleep(lua_State* L) {
  PlanContext& context = context_of(L);
  const lua_Number seconds = luaL_checknumber(L, 1);
  if (!std::isfinite(seconds) || seconds < 0) {
    return luaL_error(L, "sleep: seconds must be a finite number of 0 or more");
  }
  const nanoseconds duration(std::llround(std::min(seconds, kMaxSleepSeconds) * 1e9));
  context.sandbox->check(L);  // already past the deadline or cancelled: do not wait
  if (L == context.plan_thread && lua_isyieldable(L)) {
    context.pending_sleep = duration;
    context.slept.reset();
    return lua_yieldk(L, 0, reinterpret_cast<lua_KContext>(&context), sleep_continue);
  }
  return finish_sleep(L, context, sleep_for_plan(context, duration));
}

}  // namespace

SleepCut cut_at_deadline(const PlanContext& context, nanoseconds duration) {
  SleepCut cut{duration, false};
  if (const std::optional<nanoseconds> left = context.sandbox->time_left();
      left && duration >= *left) {
    cut.duration = *left;
    cut.deadline_reached = true;
  }
  return cut;
}

Status wait_for_plan(const PlanContext& context, nanoseconds duration) {
  const PlanHost& host = *context.host;
  if (host.sleep) {
    try {
      return host.sleep(duration);
    } catch (const std::exception& e) {
      return make_error(ErrorKind::internal, std::string("the sleep host failed: ") + e.what());
    } catch (...) {
      return make_error(ErrorKind::internal, "the sleep host failed with an unknown exception");
    }
  }
  const auto until = std::chrono::steady_clock::now() + duration;
  for (auto now = std::chrono::steady_clock::now(); now < until;
       now = std::chrono::steady_clock::now()) {
    if (host.cancel != nullptr && host.cancel->load(std::memory_order_relaxed)) break;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now, kCancelPoll));
  }
  return {};
}

SleepResult sleep_for_plan(PlanContext& context, nanoseconds duration) {
  const SleepCut cut = cut_at_deadline(context, duration);
  return SleepResult{wait_for_plan(context, cut.duration), cut.deadline_reached};
}

void push_time_module(lua_State* L, PlanContext& context) {
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, time_now, 1);
  lua_setfield(L, -2, "now");
}

void push_sleep(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, plan_sleep, 1);
}

}  // namespace perdiem::lua
