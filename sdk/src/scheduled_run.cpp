// A run on the scheduler: the plan is a PlanTask on one event-loop thread; what it waits
// for is answered without holding that thread.
//
// Sleeps are the scheduler's timers. Model calls (chat, stream, chat_many and parallel's
// batches) run on the loop itself (RuntimeImpl::start_chat: Provider::start_chat, the
// meter around it, backoffs as timers); the plan's on_delta runs on the loop thread as
// text arrives. A sub-agent's await is answered on the loop when the sub-agent ends
// (RuntimeImpl::await_child_on). What can only block (an embedding, a host/built-in/MCP
// tool) runs on the runtime's blocking pool and posts its answer back.
// Closing the run (durable settlements, the trace's end) happens on the pool too, batched
// with the runs that end meanwhile (ScheduledRuns::close), so a loop thread never waits
// on a disk.
#include "runtime/lua/host_calls.hpp"
#include "sdk/src/runtime_impl.hpp"

namespace perdiem::sdk {

class RuntimeImpl::ScheduledRun final : public scheduler::Agent,
                                        public std::enable_shared_from_this<ScheduledRun> {
 public:
  ScheduledRun(RuntimeImpl& runtime, std::shared_ptr<BackgroundRun> handle, std::string source,
               std::string chunk_name, std::string script_directory, const RunOptions& options,
               Lineage lineage)
      : runtime_(runtime),
        handle_(std::move(handle)),
        source_(std::move(source)),
        chunk_name_(std::move(chunk_name)),
        script_directory_(std::move(script_directory)),
        lineage_(std::move(lineage)) {
    frame_.options = options;
  }

  lua::PlanTask* start(http::EventLoop&) override {
    if (!runtime_.open_run(frame_, handle_->run_id(), handle_->cancel_flag(), source_, chunk_name_,
                           script_directory_, lineage_)) {
      return nullptr;
    }
    frame_.run->handle = handle_.get();  // its sub-agents are cancelled with it
    frame_.limits.time_slice = scheduler::kTimeSlice;
    try {
      task_ = std::make_unique<lua::PlanTask>(source_, chunk_name_, frame_.options.args,
                                              frame_.limits, frame_.host);
    } catch (const std::exception& e) {
      frame_.result.error =
          make_error(ErrorKind::internal, std::string("cannot start the plan: ") + e.what());
      return nullptr;
    }
    return task_.get();
  }

  void serve(lua::PlanTask& task, http::EventLoop& loop, std::function<void()> resume) override {
    lua::PlanHost& host = frame_.host;
    switch (task.waiting()) {
      case lua::PlanWait::chat:
      case lua::PlanWait::stream: {
        // model.stream's on_delta runs on this loop thread as the text arrives.
        lua::DeltaSink on_delta;
        if (task.waiting() == lua::PlanWait::stream) on_delta = task.delta_sink();
        runtime_.start_chat(
            task.chat_request(), *frame_.run, loop, std::move(on_delta),
            [&task, resume = std::move(resume)](Result<providers::ChatResponse> answer) {
              task.answer_chat(std::move(answer));
              resume();
            });
        return;
      }
      case lua::PlanWait::chat_many:
        serve_many(task, loop, std::move(resume));
        return;
      case lua::PlanWait::embed:
        offload<Result<providers::EmbedResponse>>(
            loop, std::move(resume),
            [&host, request = task.embed_request()] { return lua::ask_host_embed(host, request); },
            [&task](Result<providers::EmbedResponse> answer) {
              task.answer_embed(std::move(answer));
            });
        return;
      case lua::PlanWait::child:
        // No thread waits: the child's end answers on this loop.
        runtime_.await_child_on(*frame_.run, task.child_run_id(), loop,
                                [&task, resume = std::move(resume)](
                                    Result<lua::SpawnResult> answer) {
                                  task.answer_child(std::move(answer));
                                  resume();
                                });
        return;
      case lua::PlanWait::tools:
        // A tool may take seconds (http.fetch, an MCP server): never on the loop thread.
        offload<std::vector<Result<std::string>>>(
            loop, std::move(resume),
            [&host, calls = task.tool_calls()] { return lua::ask_host_tools(host, calls); },
            [&task](std::vector<Result<std::string>> answers) {
              task.answer_tools(std::move(answers));
            });
        return;
      case lua::PlanWait::sleep:
      case lua::PlanWait::preempted:
      case lua::PlanWait::finished:
        break;  // the scheduler's own
    }
    task.answer_chat(make_error(ErrorKind::internal, "the scheduler served an unknown wait"));
    resume();
  }

  void finished(std::optional<lua::PlanOutcome> outcome) override {
    task_.reset();  // the plan's Lua state closes here, on its loop thread
    std::shared_ptr<ScheduledRun> self = shared_from_this();
    auto plan_outcome = std::make_shared<std::optional<lua::PlanOutcome>>(std::move(outcome));
    ScheduledRuns::Closing closing{
        [self, plan_outcome] {
          return self->runtime_.begin_close(self->frame_, std::move(*plan_outcome));
        },
        [self] { self->runtime_.end_close(self->frame_); },
        [self] { self->handle_->finish(std::move(self->frame_.result)); }};
    if (!has_running_children()) {
      runtime_.scheduled_.close(std::move(closing));
      return;
    }
    // Sub-agents it did not await are stopped first, on a pool thread of their own: that
    // can take a model call's time, and the batch closing other runs must not wait.
    runtime_.scheduled_.blocking().run([self, closing = std::move(closing)]() mutable {
      RuntimeImpl::end_children(*self->frame_.run);
      self->runtime_.scheduled_.close(std::move(closing));
    });
  }

  bool cancelled() const override { return handle_->cancel_flag()->load(); }

 private:
  bool has_running_children() {
    return frame_.run && RuntimeImpl::has_unawaited_children(*frame_.run);
  }

  // Runs `work` on the blocking pool; its answer is delivered on the loop thread, then
  // the plan resumes. The run (and so the task and host) outlives the wait: the
  // scheduler holds this agent until finished().
  template <typename Answer, typename Work, typename Deliver>
  void offload(http::EventLoop& loop, std::function<void()> resume, Work work, Deliver deliver) {
    std::shared_ptr<ScheduledRun> self = shared_from_this();
    runtime_.scheduled_.blocking().run([self, &loop, resume = std::move(resume),
                                        work = std::move(work),
                                        deliver = std::move(deliver)]() mutable {
      auto answer = std::make_shared<Answer>(work());
      loop.post([answer, resume = std::move(resume), deliver = std::move(deliver)]() mutable {
        deliver(std::move(*answer));
        resume();
      });
    });
  }

  // model.chat_many (and parallel's batches): every call in flight at once, the answers
  // in request order once the last is in. Steps are numbered in request order, as each
  // call takes its number when it starts.
  void serve_many(lua::PlanTask& task, http::EventLoop& loop, std::function<void()> resume) {
    struct Gather {
      std::vector<std::optional<Result<providers::ChatResponse>>> answers;
      std::size_t left = 0;
      std::function<void()> resume;
    };
    const std::vector<providers::ChatRequest>& requests = task.many_requests();
    auto gather = std::make_shared<Gather>();
    gather->answers.resize(requests.size());
    gather->left = requests.size();
    gather->resume = std::move(resume);
    const auto deliver = [&task, gather] {
      std::vector<Result<providers::ChatResponse>> answers;
      answers.reserve(gather->answers.size());
      for (auto& answer : gather->answers) answers.push_back(std::move(*answer));
      task.answer_many(std::move(answers));
      gather->resume();
    };
    if (requests.empty()) {
      deliver();
      return;
    }
    // A copy: the task's requests go when it is answered, which may be inside this loop.
    const std::vector<providers::ChatRequest> sending = requests;
    for (std::size_t i = 0; i < sending.size(); ++i) {
      runtime_.start_chat(sending[i], *frame_.run, loop, {},
                          [gather, deliver, i](Result<providers::ChatResponse> answer) {
                            gather->answers[i] = std::move(answer);
                            if (--gather->left == 0) deliver();
                          });
    }
  }

  RuntimeImpl& runtime_;
  std::shared_ptr<BackgroundRun> handle_;
  const std::string source_;
  const std::string chunk_name_;
  const std::string script_directory_;
  const Lineage lineage_;
  RunFrame frame_;
  std::unique_ptr<lua::PlanTask> task_;
};

std::shared_ptr<scheduler::Agent> RuntimeImpl::make_scheduled_run(
    std::shared_ptr<BackgroundRun> handle, std::string source, std::string chunk_name,
    std::string script_directory, const RunOptions& options, const Lineage& lineage) {
  return std::make_shared<ScheduledRun>(*this, std::move(handle), std::move(source),
                                        std::move(chunk_name), std::move(script_directory), options,
                                        lineage);
}

}  // namespace perdiem::sdk
