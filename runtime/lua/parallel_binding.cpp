// parallel(f1, f2, ...): runs the functions as coroutines, their model calls in flight at
// once, and returns each one's first result in argument order.
//
// parallel is a driver for its branches, as run_plan's loop is for the plan: while it
// resumes a branch it makes that branch the context's plan_thread, so a model.chat (or
// model.chat_many, or an inner parallel) in the branch parks its request in the context
// and yields back here. Once every branch has finished or parked, parallel hands all the
// parked requests to its own driver as one model.chat_many batch (yielding when it may,
// asking the host inline when it may not) and resumes each branch with its answers. A
// nested parallel is a branch that parked a batch; its answers come back as a slice.
//
// A sleep parks its branch too, until its wake time: the round's chat batch goes out with
// it, and when no branch waits on a call parallel sleeps until the earliest wake (a timer
// on the scheduler, not a held thread), so branches sleep at the same time. A sleeper
// wakes at the first round after its time: a batch of calls that takes longer delays it.
// An embedding, a stream (model.stream, whose on_delta runs as the text comes) or a host
// tool call (tool.call, tool.run) parks its branch as well: its
// request waits in a userdata beside the branches, and once no branch waits on a chat,
// parallel passes one such wait at a time to its driver (which runs it off the loop
// thread) and keeps the answer until the branch's turn. These go one after another, not
// at once. memory.* runs inline as it does anywhere.
//
// Errors: every branch runs to its end; then the error of the first branch (by position)
// that failed is raised as it was raised. A sandbox limit ends the plan at once.
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

using providers::ChatRequest;
using providers::ChatResponse;

// What starting a branch costs against the instruction limit: the count hook's interval,
// which bounds the instructions a coroutine can run without the hook seeing them.
constexpr std::uint64_t kInstructionsPerBranch = 1000;

using Clock = std::chrono::steady_clock;

// One branch's state, kept in a userdata on parallel's stack across yields.
enum BranchState : int {
  kRunnable,
  kParkedChat,
  kParkedMany,
  kParkedSleep,
  kParkedHost,    // an embedding, stream, tool calls or await in its HostWait, not asked
  kHostAnswered,  // its HostWait holds the answer, for its next turn
  kDone,
  kFailed
};

// An embedding, a stream or host tool calls a branch waits on: the request until
// parallel hands it to the driver, then the answer until the branch takes it. A stream
// keeps its on_delta target with it both ways.
using ToolCalls = std::vector<std::pair<std::string, std::string>>;
struct StreamWait {
  ChatRequest request;
  StreamTarget target;
};
struct StreamAnswer {
  Result<ChatResponse> answer;
  StreamTarget target;
};
struct ChildWait {
  std::string run_id;  // child:await()'s sub-agent
};
using HostWait = std::variant<std::monostate, providers::EmbedRequest, ToolCalls, StreamWait,
                              ChildWait, Result<providers::EmbedResponse>,
                              std::vector<Result<std::string>>, StreamAnswer, Result<SpawnResult>>;

// The branches' HostWaits, in a userdata whose __gc destroys them (a plan that ends,
// or errors, mid-parallel frees them with the state).
struct HostWaits {
  std::vector<HostWait> by_branch;
  std::size_t bytes = 0;  // the text of the requests parked, bounded as a chat batch's
};
constexpr const char* kHostWaitsMetatable = "perdiem.parallel.host_waits";

int host_waits_gc(lua_State* L) {
  static_cast<HostWaits*>(lua_touserdata(L, 1))->~HostWaits();
  return 0;
}

struct Branch {
  int state;
  int parked;  // requests parked in the current batch (kParkedChat: 1)
  // kParkedSleep: when the branch's sleep ends, as Clock's count since its epoch.
  Clock::rep wake_at;
};

Clock::rep clock_now() {
  return Clock::now().time_since_epoch().count();
}

// Stack slots of parallel's frame, after the n functions: the branch states, the branch
// threads, their results, their errors and their host waits.
int states_slot(int n) {
  return n + 1;
}
int threads_slot(int n) {
  return n + 2;
}
int results_slot(int n) {
  return n + 3;
}
int errors_slot(int n) {
  return n + 4;
}
int host_waits_slot(int n) {
  return n + 5;
}

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

Branch* branches_of(lua_State* L, int n) {
  return static_cast<Branch*>(lua_touserdata(L, states_slot(n)));
}

HostWaits& host_waits_of(lua_State* L, int n) {
  return *static_cast<HostWaits*>(lua_touserdata(L, host_waits_slot(n)));
}

HostWait& host_wait_of(lua_State* L, int n, int i) {
  return host_waits_of(L, n).by_branch[static_cast<std::size_t>(i - 1)];
}

std::size_t request_bytes(const providers::EmbedRequest& request) {
  std::size_t bytes = sizeof(request) + request.model.size();
  for (const std::string& input : request.inputs) bytes += sizeof(input) + input.size();
  return bytes;
}

std::size_t request_bytes(const ToolCalls& calls) {
  std::size_t bytes = sizeof(calls);
  for (const auto& [name, arguments] : calls) bytes += name.size() + arguments.size();
  return bytes;
}

// What one request holds, roughly, in host memory: the batch of a thousand branches must
// not copy more than the plan's heap.
std::size_t request_bytes(const ChatRequest& request) {
  std::size_t bytes = sizeof(ChatRequest) + request.model.size();
  for (const providers::Message& message : request.messages) {
    bytes += sizeof(providers::Message) + message.role.size() + message.content.size();
    for (const providers::ToolCall& call : message.tool_calls) {
      bytes += call.id.size() + call.name.size() + call.arguments.size();
    }
  }
  for (const providers::ToolDefinition& tool : request.tools) {
    bytes += tool.name.size() + tool.description.size() + tool.parameters.size();
  }
  return bytes;
}

// The answer to a call that would take the batch past the plan's memory limit: it fails
// in its branch, nothing sent.
Error batch_too_big(const PlanContext& context) {
  return make_error(ErrorKind::invalid_argument,
                    "parallel: the branches' waiting calls together take more than the plan's "
                    "memory limit of " +
                        std::to_string(context.limits.memory_limit_bytes) + " bytes");
}

// The requests every parked branch is waiting on, in branch order.
struct Batch {
  std::vector<ChatRequest> requests;
  std::size_t bytes = 0;
};

// While a branch runs it is the thread model.chat parks from; restored on the way out.
class DrivenThread {
 public:
  DrivenThread(PlanContext& context, lua_State* branch)
      : context_(context), saved_(context.plan_thread) {
    context_.plan_thread = branch;
    ++context_.parallel_branches;
  }
  ~DrivenThread() {
    context_.plan_thread = saved_;
    --context_.parallel_branches;
  }
  DrivenThread(const DrivenThread&) = delete;
  DrivenThread& operator=(const DrivenThread&) = delete;

 private:
  PlanContext& context_;
  lua_State* saved_;
};

void kill_thread(lua_State* L, lua_State* thread) {
#if LUA_VERSION_RELEASE_NUM >= 50406
  lua_closethread(thread, L);
#else
  (void)L;
  lua_resetthread(thread);
#endif
}

// Records branch i's failure: the error value on top of `from` moves to the errors table.
void fail(lua_State* L, int n, int i, lua_State* from) {
  lua_xmove(from, L, 1);
  lua_rawseti(L, errors_slot(n), i);
  branches_of(L, n)[i - 1].state = kFailed;
}

void fail_with(lua_State* L, int n, int i, const char* message) {
  lua_pushstring(L, message);
  lua_rawseti(L, errors_slot(n), i);
  branches_of(L, n)[i - 1].state = kFailed;
}

// Resumes branch i (its answer, if any, already parked in the context) until it finishes,
// fails, parks a chat request, sleeps, or parks another wait (a HostWait).
void run_branch(lua_State* L, PlanContext& context, int n, int i, Batch& batch) {
  lua_rawgeti(L, threads_slot(n), i);
  lua_State* thread = lua_tothread(L, -1);
  lua_pop(L, 1);  // the threads table keeps it alive
  // A suspended branch is resumed only here: one that another coroutine resumed or
  // closed meanwhile cannot take its answer.
  const bool fresh = branches_of(L, n)[i - 1].state == kRunnable;
  const bool resumable = fresh ? lua_status(thread) == LUA_OK && lua_gettop(thread) == 1
                               : lua_status(thread) == LUA_YIELD;
  if (!resumable) {
    context.answer.reset();
    context.many_answers.reset();
    fail_with(L, n, i, "parallel: a branch was resumed or closed by another coroutine");
    return;
  }
  for (;;) {
    int results = 0;
    int status = 0;
    {
      DrivenThread driven(context, thread);
      status = lua_resume(thread, L, 0, &results);
    }
    context.answer.reset();  // an answer the branch did not take goes nowhere
    context.many_answers.reset();
    context.embed_answer.reset();
    context.slept.reset();
    if (context.sandbox->stopped()) context.sandbox->check(L);  // a limit ends the plan
    Branch& branch = branches_of(L, n)[i - 1];
    if (status == LUA_OK) {
      if (results > 0) {
        lua_settop(thread, lua_gettop(thread) - results + 1);
        lua_xmove(thread, L, 1);
        lua_rawseti(L, results_slot(n), i);
      }
      lua_settop(thread, 0);
      branch.state = kDone;
      return;
    }
    if (status != LUA_YIELD) {
      fail(L, n, i, thread);
      return;
    }
    lua_pop(thread, results);
    if (context.pending && context.stream) {
      // A stream: its own wait, as an embedding's (one on_delta at a time).
      HostWaits& waits = host_waits_of(L, n);
      const std::size_t bytes = request_bytes(*context.pending);
      if (waits.bytes + bytes > context.limits.memory_limit_bytes) {
        context.answer = batch_too_big(context);
        context.pending.reset();
        continue;  // the branch's stream fails; its target stays in the context
      }
      waits.bytes += bytes;
      host_wait_of(L, n, i) = StreamWait{std::move(*context.pending), *context.stream};
      context.pending.reset();
      context.stream.reset();
      branch.state = kParkedHost;
      return;
    }
    if (context.pending) {
      ChatRequest request = std::move(*context.pending);
      context.pending.reset();
      batch.bytes += request_bytes(request);
      if (batch.bytes > context.limits.memory_limit_bytes) {
        batch.bytes -= request_bytes(request);
        context.answer = batch_too_big(context);
        branch.state = kParkedChat;
        continue;  // the branch gets the error as its call's answer
      }
      batch.requests.push_back(std::move(request));
      branch.state = kParkedChat;
      branch.parked = 1;
      return;
    }
    if (context.pending_many) {
      std::vector<ChatRequest> requests = std::move(*context.pending_many);
      context.pending_many.reset();
      std::size_t bytes = 0;
      for (const ChatRequest& request : requests) bytes += request_bytes(request);
      branch.state = kParkedMany;
      if (batch.bytes + bytes > context.limits.memory_limit_bytes) {
        context.many_answers.emplace(requests.size(), batch_too_big(context));
        continue;
      }
      batch.bytes += bytes;
      branch.parked = static_cast<int>(requests.size());
      for (ChatRequest& request : requests) batch.requests.push_back(std::move(request));
      return;
    }
    if (context.pending_child) {  // child:await(): a few bytes, never over the limit
      host_wait_of(L, n, i) = ChildWait{std::move(*context.pending_child)};
      context.pending_child.reset();
      branch.state = kParkedHost;
      return;
    }
    if (context.pending_embed || context.pending_tools) {
      HostWaits& waits = host_waits_of(L, n);
      const std::size_t bytes = context.pending_embed ? request_bytes(*context.pending_embed)
                                                      : request_bytes(*context.pending_tools);
      if (waits.bytes + bytes > context.limits.memory_limit_bytes) {
        // Parked together they would copy more than the plan's heap: this one fails.
        if (context.pending_embed) {
          context.embed_answer = batch_too_big(context);
        } else {
          context.tool_answers.emplace(context.pending_tools->size(), batch_too_big(context));
        }
        context.pending_embed.reset();
        context.pending_tools.reset();
        continue;
      }
      waits.bytes += bytes;
      if (context.pending_embed) {
        host_wait_of(L, n, i) = std::move(*context.pending_embed);
      } else {
        host_wait_of(L, n, i) = std::move(*context.pending_tools);
      }
      context.pending_embed.reset();
      context.pending_tools.reset();
      branch.state = kParkedHost;
      return;
    }
    if (context.pending_sleep) {
      // sleep caps its seconds far below what would overflow here (about 31 years).
      const auto duration = std::chrono::duration_cast<Clock::duration>(*context.pending_sleep);
      context.pending_sleep.reset();
      branch.state = kParkedSleep;
      branch.wake_at = clock_now() + duration.count();
      return;
    }
    lua_pushstring(thread,
                   "parallel: a branch called coroutine.yield outside any coroutine it "
                   "created; a branch cannot yield to parallel");
    fail(L, n, i, thread);
    kill_thread(L, thread);
    return;
  }
}

int parallel_step(lua_State* L, int n, const std::vector<Result<ChatResponse>>* answers);

// The earliest wake time of a sleeping branch, if any sleeps.
std::optional<Clock::rep> earliest_wake(lua_State* L, int n) {
  std::optional<Clock::rep> earliest;
  const Branch* branches = branches_of(L, n);
  for (int i = 0; i < n; ++i) {
    if (branches[i].state == kParkedSleep && (!earliest || branches[i].wake_at < *earliest)) {
      earliest = branches[i].wake_at;
    }
  }
  return earliest;
}

// Branches whose sleeps end this close to the earliest wake with it: the same sleep(1)
// in several branches ends microseconds apart, and one timer serves them all.
constexpr auto kWakeTogether = std::chrono::milliseconds(1);

// After parallel's own sleep, as sleep ends anywhere: the host's error, the deadline the
// sleep was cut at (a limit, so the plan ends), or a cancellation. Otherwise the branches
// it slept for are due: the host's word is taken over the clock, so a host that keeps
// time of its own (a test's, a simulation's) wakes them too.
void finish_parallel_sleep(lua_State* L, int n, PlanContext& context, const SleepResult& slept) {
  if (!slept.status.ok()) raise_error_table(L, slept.status.error());
  if (slept.deadline_reached) context.sandbox->stop(L, StopReason::deadline);
  context.sandbox->check(L);
  const std::optional<Clock::rep> earliest = earliest_wake(L, n);
  if (!earliest) return;
  const Clock::rep woken =
      *earliest + std::chrono::duration_cast<Clock::duration>(kWakeTogether).count();
  Branch* branches = branches_of(L, n);
  for (int i = 0; i < n; ++i) {
    if (branches[i].state == kParkedSleep && branches[i].wake_at <= woken) {
      branches[i].wake_at = 0;
    }
  }
}

// Every branch has finished: the first results, or the first failure raised.
int finish(lua_State* L, int n) {
  const Branch* branches = branches_of(L, n);
  for (int i = 1; i <= n; ++i) {
    if (branches[i - 1].state == kFailed) {
      lua_rawgeti(L, errors_slot(n), i);
      return lua_error(L);
    }
  }
  if (!lua_checkstack(L, n)) return luaL_error(L, "parallel: too many results");
  for (int i = 1; i <= n; ++i) lua_rawgeti(L, results_slot(n), i);
  return n;
}

int parallel_sleep_continue(lua_State* L, int, lua_KContext raw_n) {
  PlanContext& context = context_of(L);
  if (!context.slept) {
    return luaL_error(L, "parallel: resumed without sleeping (a perdiem bug)");
  }
  const SleepResult slept = std::move(*context.slept);
  context.slept.reset();
  const int n = static_cast<int>(raw_n);
  finish_parallel_sleep(L, n, context, slept);
  return parallel_step(L, n, nullptr);
}

// Host waits are passed to the driver one at a time; the context says which branch.
lua_KContext host_wait_context(int n, int i) {
  return static_cast<lua_KContext>(n) | (static_cast<lua_KContext>(i) << 16);
}

// The driver's answer to branch i's HostWait, kept for its turn.
void keep_host_answer(lua_State* L, PlanContext& context, int n, int i) {
  HostWait& wait = host_wait_of(L, n, i);
  if (context.answer && context.stream) {
    wait = StreamAnswer{std::move(*context.answer), *context.stream};
    context.answer.reset();
    context.stream.reset();
  } else if (context.child_answer) {
    wait = std::move(*context.child_answer);
  } else if (context.embed_answer) {
    wait = std::move(*context.embed_answer);
  } else if (context.tool_answers) {
    wait = std::move(*context.tool_answers);
  } else {
    luaL_error(L, "parallel: resumed without the branch's answer (a perdiem bug)");
  }
  context.child_answer.reset();
  context.embed_answer.reset();
  context.tool_answers.reset();
  branches_of(L, n)[i - 1].state = kHostAnswered;
}

int parallel_host_continue(lua_State* L, int, lua_KContext raw) {
  const int n = static_cast<int>(raw & 0xffff);
  const int i = static_cast<int>(raw >> 16);
  PlanContext& context = context_of(L);
  context.sandbox->check(L);  // cancelled, or the deadline passed, meanwhile
  keep_host_answer(L, context, n, i);
  return parallel_step(L, n, nullptr);
}

// Hands branch i's parked HostWait to the context, for the driver.
void send_host_wait(lua_State* L, PlanContext& context, int n, int i) {
  HostWaits& waits = host_waits_of(L, n);
  HostWait& wait = waits.by_branch[static_cast<std::size_t>(i - 1)];
  if (auto* embed = std::get_if<providers::EmbedRequest>(&wait)) {
    waits.bytes -= request_bytes(*embed);
    context.pending_embed = std::move(*embed);
  } else if (auto* stream = std::get_if<StreamWait>(&wait)) {
    waits.bytes -= request_bytes(stream->request);
    context.pending = std::move(stream->request);
    context.stream = stream->target;
  } else if (auto* child = std::get_if<ChildWait>(&wait)) {
    context.pending_child = std::move(child->run_id);
  } else {
    auto& calls = std::get<ToolCalls>(wait);
    waits.bytes -= request_bytes(calls);
    context.pending_tools = std::move(calls);
  }
  wait = std::monostate{};
}

int parallel_continue(lua_State* L, int, lua_KContext raw_n) {
  const int n = static_cast<int>(raw_n);
  PlanContext& context = context_of(L);
  context.sandbox->check(L);  // cancelled, or the deadline passed, during the calls
  if (!context.many_answers) {
    return luaL_error(L, "parallel: resumed without answers (a perdiem bug)");
  }
  const std::vector<Result<ChatResponse>> answers = std::move(*context.many_answers);
  context.many_answers.reset();
  return parallel_step(L, n, &answers);
}

// Hands each parked branch its answers (when there are any), runs every branch until it
// finishes or parks again, and sends the new batch: to the driver when parallel may
// yield, to the host inline when it may not.
int parallel_step(lua_State* L, int n, const std::vector<Result<ChatResponse>>* answers) {
  PlanContext& context = context_of(L);
  lua_State* const driver = context.plan_thread;
  std::vector<Result<ChatResponse>> inline_answers;
  for (;;) {
    Batch batch;
    std::size_t next = 0;
    for (int i = 1; i <= n; ++i) {
      Branch& branch = branches_of(L, n)[i - 1];
      if (branch.state == kParkedChat || branch.state == kParkedMany) {
        const auto count = static_cast<std::size_t>(branch.parked);
        if (answers == nullptr || next + count > answers->size()) {
          return luaL_error(L, "parallel: answers do not match the requests (a perdiem bug)");
        }
        if (branch.state == kParkedChat) {
          context.answer = (*answers)[next];
        } else {
          context.many_answers.emplace(
              answers->begin() + static_cast<std::ptrdiff_t>(next),
              answers->begin() + static_cast<std::ptrdiff_t>(next + count));
        }
        next += count;
      } else if (branch.state == kParkedSleep) {
        if (branch.wake_at > clock_now()) continue;  // sleeps on
        context.slept = SleepResult{};
      } else if (branch.state == kHostAnswered) {
        HostWait& wait = host_wait_of(L, n, i);
        if (auto* embedded = std::get_if<Result<providers::EmbedResponse>>(&wait)) {
          context.embed_answer = std::move(*embedded);
        } else if (auto* streamed = std::get_if<StreamAnswer>(&wait)) {
          context.answer = std::move(streamed->answer);
          context.stream = streamed->target;
        } else if (auto* awaited = std::get_if<Result<SpawnResult>>(&wait)) {
          context.child_answer = std::move(*awaited);
        } else {
          context.tool_answers = std::move(std::get<std::vector<Result<std::string>>>(wait));
        }
        wait = std::monostate{};
      } else if (branch.state != kRunnable) {
        continue;
      }
      run_branch(L, context, n, i, batch);
    }
    answers = nullptr;  // every parked branch has taken its answer
    if (batch.requests.empty()) {
      // No chat waits: the first other wait a branch parked (a HostWait), if any.
      int host = 0;
      for (int i = 1; i <= n && host == 0; ++i) {
        if (branches_of(L, n)[i - 1].state == kParkedHost) host = i;
      }
      if (host != 0) {
        send_host_wait(L, context, n, host);
        if (L == driver && lua_isyieldable(L)) {
          context.answer.reset();
          context.child_answer.reset();
          context.embed_answer.reset();
          context.tool_answers.reset();
          return lua_yieldk(L, 0, host_wait_context(n, host), parallel_host_continue);
        }
        // Inside a callback (a C boundary): asked inline, but a sub-agent is not awaited
        // there: it may need the very thread the wait would hold.
        if (context.pending_child) {
          context.child_answer = Result<SpawnResult>(make_error(
              ErrorKind::script,
              "child:await() cannot wait inside parallel() called from a callback: await "
              "it in the plan's body"));
          context.pending_child.reset();
        } else if (context.pending) {
          context.answer = ask_host_stream(L, context, *context.pending, *context.stream);
          context.pending.reset();
        } else if (context.pending_embed) {
          context.embed_answer = ask_host_embed(*context.host, *context.pending_embed);
          context.pending_embed.reset();
        } else {
          context.tool_answers = ask_host_tools(*context.host, *context.pending_tools);
          context.pending_tools.reset();
        }
        context.sandbox->check(L);
        keep_host_answer(L, context, n, host);
        continue;
      }
      const std::optional<Clock::rep> wake = earliest_wake(L, n);
      if (!wake) return finish(L, n);
      const std::chrono::nanoseconds duration =
          Clock::duration(std::max<Clock::rep>(*wake - clock_now(), 0));
      if (L == driver && lua_isyieldable(L)) {
        context.pending_sleep = duration;
        context.slept.reset();
        return lua_yieldk(L, 0, static_cast<lua_KContext>(n), parallel_sleep_continue);
      }
      finish_parallel_sleep(L, n, context, sleep_for_plan(context, duration));
      continue;
    }
    if (L == driver && lua_isyieldable(L)) {
      context.pending_many = std::move(batch.requests);
      context.many_answers.reset();
      return lua_yieldk(L, 0, static_cast<lua_KContext>(n), parallel_continue);
    }
    // Inside a coroutine the plan made (or a C boundary): still at once, but inline.
    inline_answers = ask_host_many(*context.host, batch.requests);
    context.sandbox->check(L);
    answers = &inline_answers;
  }
}

int parallel(lua_State* L) {
  PlanContext& context = context_of(L);
  if (context.finished) return luaL_error(L, "parallel: the plan has already finished");
  const int n = lua_gettop(L);
  if (n == 0) return 0;
  if (n > kMaxParallelBranches) {
    return luaL_error(L, "parallel: give at most %d functions (got %d)", kMaxParallelBranches, n);
  }
  for (int i = 1; i <= n; ++i) {
    if (lua_type(L, i) != LUA_TFUNCTION) {
      return luaL_error(L, "parallel: argument %d is a %s, not a function", i, luaL_typename(L, i));
    }
  }
  // A coroutine's last instructions (fewer than the hook's interval) escape the counter;
  // charged up front, so a thousand short branches cannot run uncounted.
  context.sandbox->charge(L, static_cast<std::uint64_t>(n) * kInstructionsPerBranch);
  if (!lua_checkstack(L, 9)) return luaL_error(L, "parallel: out of stack");
  auto* branches =
      static_cast<Branch*>(lua_newuserdatauv(L, sizeof(Branch) * static_cast<std::size_t>(n), 0));
  for (int i = 0; i < n; ++i) branches[i] = Branch{kRunnable, 0, 0};
  lua_createtable(L, n, 0);  // threads
  lua_createtable(L, n, 0);  // results
  lua_createtable(L, 0, 0);  // errors
  // The host waits: constructed empty (it cannot throw), its destructor set, then sized.
  auto* waits = new (lua_newuserdatauv(L, sizeof(HostWaits), 0)) HostWaits();
  if (luaL_newmetatable(L, kHostWaitsMetatable)) {
    lua_pushcfunction(L, host_waits_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_setmetatable(L, -2);
  waits->by_branch.resize(static_cast<std::size_t>(n));
  for (int i = 1; i <= n; ++i) {
    lua_State* thread = lua_newthread(L);
    lua_pushvalue(L, i);
    lua_xmove(L, thread, 1);
    lua_rawseti(L, threads_slot(n), i);
  }
  return parallel_step(L, n, nullptr);
}

}  // namespace

void push_parallel(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, parallel, 1);
}

}  // namespace perdiem::lua
