// A run on the scheduler: the plan is a PlanTask on one event-loop thread; what it waits
// for is answered without holding that thread.
//
// Today's answers: sleeps are the scheduler's timers. Model calls, embeddings and a
// sub-agent's await run on the runtime's blocking pool (BlockingPool) and post their
// answer back to the loop; the plan's on_delta for model.stream runs on the loop thread,
// each piece handed over from the pool thread. Closing the run (durable settlements,
// the trace's end) happens on the pool too, so a loop thread never waits on a disk.
#include <future>

#include "runtime/lua/host_calls.hpp"
#include "sdk/src/runtime_impl.hpp"

namespace perdiem::sdk {

class RuntimeImpl::ScheduledRun final : public scheduler::Agent,
                                        public std::enable_shared_from_this<ScheduledRun> {
 public:
  ScheduledRun(RuntimeImpl& runtime, std::shared_ptr<BackgroundRun> handle, std::string source,
               std::string chunk_name, std::string script_directory, const RunOptions& options,
               int depth)
      : runtime_(runtime),
        handle_(std::move(handle)),
        source_(std::move(source)),
        chunk_name_(std::move(chunk_name)),
        script_directory_(std::move(script_directory)),
        depth_(depth) {
    frame_.options = options;
  }

  lua::PlanTask* start(http::EventLoop&) override {
    if (!runtime_.open_run(frame_, handle_->run_id(), handle_->cancel_flag(), source_,
                           chunk_name_, script_directory_, depth_)) {
      return nullptr;
    }
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
        offload<Result<providers::ChatResponse>>(
            loop, std::move(resume),
            [&host, request = task.chat_request()] { return lua::ask_host(host, request); },
            [&task](Result<providers::ChatResponse> answer) {
              task.answer_chat(std::move(answer));
            });
        return;
      case lua::PlanWait::stream:
        serve_stream(task, loop, std::move(resume));
        return;
      case lua::PlanWait::chat_many:
        offload<std::vector<Result<providers::ChatResponse>>>(
            loop, std::move(resume),
            [&host, requests = task.many_requests()] { return lua::ask_host_many(host, requests); },
            [&task](std::vector<Result<providers::ChatResponse>> answers) {
              task.answer_many(std::move(answers));
            });
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
        offload<Result<lua::SpawnResult>>(
            loop, std::move(resume),
            [&host, run_id = task.child_run_id()] { return lua::ask_host_child(host, run_id); },
            [&task](Result<lua::SpawnResult> answer) { task.answer_child(std::move(answer)); });
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
    runtime_.scheduled_.blocking().run([self, outcome = std::move(outcome)]() mutable {
      self->runtime_.close_run(self->frame_, std::move(outcome));
      self->handle_->finish(std::move(self->frame_.result));
    });
  }

  bool cancelled() const override { return handle_->cancel_flag()->load(); }

 private:
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

  // model.stream: the call runs on the pool; each piece of text is handed to the plan's
  // on_delta on the loop thread, and the pool thread waits for its verdict (go on or
  // stop), as a blocking stream would.
  void serve_stream(lua::PlanTask& task, http::EventLoop& loop, std::function<void()> resume) {
    lua::DeltaSink on_loop = task.delta_sink();
    lua::PlanHost& host = frame_.host;
    offload<Result<providers::ChatResponse>>(
        loop, std::move(resume),
        [&host, &loop, on_loop = std::move(on_loop),
         request = task.chat_request()]() -> Result<providers::ChatResponse> {
          const lua::DeltaSink handed_over = [&loop, &on_loop](std::string_view text) {
            std::promise<bool> verdict;
            std::future<bool> answered = verdict.get_future();
            loop.post([&verdict, &on_loop, text] { verdict.set_value(on_loop(text)); });
            return answered.get();
          };
          return lua::ask_host_streaming(host, request, handed_over);
        },
        [&task](Result<providers::ChatResponse> answer) { task.answer_chat(std::move(answer)); });
  }

  RuntimeImpl& runtime_;
  std::shared_ptr<BackgroundRun> handle_;
  const std::string source_;
  const std::string chunk_name_;
  const std::string script_directory_;
  const int depth_;
  RunFrame frame_;
  std::unique_ptr<lua::PlanTask> task_;
};

std::shared_ptr<scheduler::Agent> RuntimeImpl::make_scheduled_run(
    std::shared_ptr<BackgroundRun> handle, std::string source, std::string chunk_name,
    std::string script_directory, const RunOptions& options, int depth) {
  return std::make_shared<ScheduledRun>(*this, std::move(handle), std::move(source),
                                        std::move(chunk_name), std::move(script_directory),
                                        options, depth);
}

}  // namespace perdiem::sdk
