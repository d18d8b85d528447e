// coroutine.resume and coroutine.wrap for plans: a wait made inside a coroutine the plan
// created (model.chat, sleep, tool.call, model.embed, parallel, ...) passes up to the
// plan's driver, as if the plan had made it, instead of holding the loop thread.
//
// While resume runs a coroutine for a thread that may yield to the driver (the plan's
// thread, a parallel branch, or a coroutine itself being driven so), the coroutine is
// the context's plan_thread: a binding in it parks its request and yields back to resume,
// which sees the parked request and yields its own thread in turn, up to the driver.
// When the driver resumes that thread with the answer, resume resumes the coroutine,
// whose binding picks the answer up. The plan sees an ordinary coroutine: its own
// coroutine.yield values come back from resume as usual. Where the thread cannot yield
// (a table.sort comparator, a metamethod called from C), the coroutine runs as stock
// Lua's would and its waits are answered in place.
//
// Errors, results and messages follow lcorolib.c, as safe_base.cpp's wrap does; a
// coroutine that dies is closed (wrap) under the same guard.
#include "runtime/lua/plan_bindings.hpp"
#include "runtime/lua/safe_libs.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

bool parked(const PlanContext& c) {
  return c.pending || c.pending_many || c.pending_embed || c.pending_sleep || c.pending_child ||
         c.pending_tools;
}

// While the coroutine runs it is the thread bindings park from; restored on the way out.
class DrivenCoroutine {
 public:
  DrivenCoroutine(PlanContext& context, lua_State* co)
      : context_(context), saved_(context.plan_thread) {
    context_.plan_thread = co;
  }
  ~DrivenCoroutine() { context_.plan_thread = saved_; }
  DrivenCoroutine(const DrivenCoroutine&) = delete;
  DrivenCoroutine& operator=(const DrivenCoroutine&) = delete;

 private:
  PlanContext& context_;
  lua_State* saved_;
};

// How a resume ended, for resume and wrap to report in their own ways.
enum class Ended { yielded_or_returned, failed };

// Resumes co with `narg` values on top of L until it yields a value of its own, returns or
// fails. A wait it parks on the way is passed up: L yields with `k` as its continuation
// (which calls this again with narg 0). Leaves co's results (or its error) on top of L.
int drive(lua_State* L, lua_State* co, int narg, lua_KContext ctx, lua_KFunction k, Ended& ended,
          int& nresults) {
  PlanContext& context = context_of(L);
  const bool may_pass_up = L == context.plan_thread && lua_isyieldable(L);
  if (lua_status(co) == LUA_OK && lua_gettop(co) == 0) {
    lua_pushliteral(L, "cannot resume dead coroutine");
    ended = Ended::failed;
    return 0;
  }
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    ended = Ended::failed;
    return 0;
  }
  lua_xmove(L, co, narg);
  int results = 0;
  int status = 0;
  if (may_pass_up) {
    DrivenCoroutine driven(context, co);
    status = lua_resume(co, L, narg, &results);
  } else {
    status = lua_resume(co, L, narg, &results);
  }
  if (status == LUA_YIELD && may_pass_up && parked(context)) {
    lua_pop(co, results);  // a binding's yield carries no values
    return lua_yieldk(L, 0, ctx, k);
  }
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, results + 1)) {
      lua_pop(co, results);
      lua_pushliteral(L, "too many results to resume");
      ended = Ended::failed;
      return 0;
    }
    lua_xmove(co, L, results);
    ended = Ended::yielded_or_returned;
    nresults = results;
    return 0;
  }
  lua_xmove(co, L, 1);  // the error
  ended = Ended::failed;
  return 0;
}

// coroutine.resume(co, ...): true and co's values, or false and its error.
int resume_finish(lua_State* L, Ended ended, int nresults) {
  if (ended == Ended::failed) {
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
  }
  lua_pushboolean(L, 1);
  lua_insert(L, -(nresults + 1));
  return nresults + 1;
}

int plan_resume_continue(lua_State* L, int, lua_KContext ctx) {
  Sandbox::of(L).check(L);  // cancelled, or a limit, while the wait was out
  lua_State* co = lua_tothread(L, 1);
  Ended ended = Ended::failed;
  int nresults = 0;
  drive(L, co, 0, ctx, plan_resume_continue, ended, nresults);
  return resume_finish(L, ended, nresults);
}

int plan_resume(lua_State* L) {
  lua_State* co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  Ended ended = Ended::failed;
  int nresults = 0;
  drive(L, co, lua_gettop(L) - 1, 0, plan_resume_continue, ended, nresults);
  return resume_finish(L, ended, nresults);
}

// The function coroutine.wrap returns: co's values, or its error raised (with where it
// was called, for a string). Upvalue 1: the context; upvalue 2: the coroutine.
int wrapped_finish(lua_State* L, lua_State* co, Ended ended, int nresults) {
  if (ended == Ended::yielded_or_returned) return nresults;
  int status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD) {  // the coroutine died: close it
    Sandbox& sandbox = Sandbox::of(L);
    if (sandbox.stopped()) sandbox.check(L);
    status = lua_resetthread(co);
    lua_xmove(co, L, 1);
  }
  if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

int plan_wrapped_continue(lua_State* L, int, lua_KContext ctx) {
  Sandbox::of(L).check(L);
  lua_State* co = lua_tothread(L, lua_upvalueindex(2));
  Ended ended = Ended::failed;
  int nresults = 0;
  drive(L, co, 0, ctx, plan_wrapped_continue, ended, nresults);
  return wrapped_finish(L, co, ended, nresults);
}

int plan_wrapped(lua_State* L) {
  lua_State* co = lua_tothread(L, lua_upvalueindex(2));
  Ended ended = Ended::failed;
  int nresults = 0;
  drive(L, co, lua_gettop(L), 0, plan_wrapped_continue, ended, nresults);
  return wrapped_finish(L, co, ended, nresults);
}

// coroutine.wrap(f) for plans. Upvalue 1: the context.
int plan_wrap(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_State* co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, plan_wrapped, 2);
  return 1;
}

}  // namespace

namespace {

// Sandbox::CoroutinePatch: the plan's resume and wrap in the library table on top.
void patch_plan_coroutine(lua_State* L, void* context) {
  lua_pushlightuserdata(L, context);
  lua_pushcclosure(L, plan_resume, 1);
  lua_setfield(L, -2, "resume");
  lua_pushlightuserdata(L, context);
  lua_pushcclosure(L, plan_wrap, 1);
  lua_setfield(L, -2, "wrap");
}

}  // namespace

void install_plan_coroutine(lua_State*, PlanContext& context) {
  context.sandbox->set_coroutine_patch(patch_plan_coroutine, &context);
}

}  // namespace perdiem::lua
