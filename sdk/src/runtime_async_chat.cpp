// A model call on the event loop: the step and its trace as chat_step() keeps them, the
// router's walk as routed_call() does it (router::RouteSession), but each attempt is sent
// with Provider::start_chat and each backoff is a loop timer, so nothing waits on a
// thread. The meter's open() and close() run on the loop thread around the send; with
// tabs (metering in memory) neither waits on the disk.
#include "base/clock.hpp"
#include "base/random.hpp"
#include "sdk/src/route_trace.hpp"
#include "sdk/src/runtime_impl.hpp"
#include "sdk/src/step_report.hpp"

namespace perdiem::sdk {

class RuntimeImpl::AsyncChat final : public std::enable_shared_from_this<AsyncChat> {
 public:
  AsyncChat(RuntimeImpl& runtime, Run& run, http::EventLoop& loop, providers::ChatRequest routed,
            std::int64_t step, lua::DeltaSink on_delta, providers::ChatDone done)
      : runtime_(runtime),
        run_(run),
        loop_(loop),
        request_(std::move(routed)),
        context_{run.result.run_id, step, run.budgets},
        report_(runtime.options_.on_step, &runtime.memory_->store(), run.result.run_id, step,
                runtime.provider_name_, request_),
        on_delta_(std::move(on_delta)),
        // The step's deltas go to on_step for a stream, or for every call with stream_chat.
        stream_(on_delta_ || (runtime.options_.stream_chat && runtime.options_.on_step)),
        done_(std::move(done)) {}

  // Plans the route and sends the first attempt.
  void begin() {
    Result<router::Plan> plan = runtime_.plan_for(request_);
    if (!plan) {
      end(plan.error());
      return;
    }
    plan_ = std::move(*plan);
    router::RetryOptions retry;
    retry.retries_per_candidate = runtime_.options_.routing.retries;
    // Backoffs run on this loop thread, as the session does.
    session_.emplace(plan_, runtime_.health_, base::thread_jitter(), retry);
    next();
  }

 private:
  const base::Clock& clock() const { return base::system_clock(); }

  bool stopped() const {
    return (run_.cancel != nullptr && run_.cancel->load()) ||
           (run_.deadline && std::chrono::steady_clock::now() >= *run_.deadline);
  }

  // The router's next attempt, after its backoff; the end once there is none.
  void next() {
    std::optional<router::RouteSession::Step> step = session_->next(clock().now_unix_ms());
    if (!step) {
      finish();
      return;
    }
    step_ = *step;
    if (step->delay.count() <= 0) {
      send();
      return;
    }
    if (runtime_.options_.on_log) {
      runtime_.options_.on_log(LogLevel::warn,
                               "retrying in " + std::to_string(step->delay.count()) + " ms");
    }
    // In slices, so Ctrl-C or the deadline ends a long Retry-After.
    wait_until(std::chrono::steady_clock::now() + step->delay);
  }

  void wait_until(std::chrono::steady_clock::time_point until) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= until || stopped()) {
      send();
      return;
    }
    const auto slice =
        std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(20));
    std::shared_ptr<AsyncChat> self = shared_from_this();
    loop_.post_after(std::chrono::ceil<std::chrono::milliseconds>(slice),
                     [self, until] { self->wait_until(until); });
  }

  void send() {
    const router::Candidate& candidate = step_.candidate->candidate;
    sent_at_us_ = clock().monotonic_us();
    if (stopped()) {
      record(make_error(ErrorKind::cancelled, "the run was cancelled or ran out of time",
                        candidate.provider));
      return;
    }
    const sdk::PoolMember* member = runtime_.pool_.find(candidate.provider);
    providers::ChatRequest sent = request_;
    sent.model = candidate.model;
    metering::CallContext attempt = context_;
    attempt.attempt = step_.attempt;
    call_ = std::make_unique<providers::ChatCall>();
    call_->abandon = run_.cancel;  // Ctrl-C does not wait for a slow provider
    if (stream_) {
      providers::ChatCall* call = call_.get();
      call->on_text = [this, call](std::string_view text) {
        report_.delta(text);
        if (on_delta_ && !on_delta_(text)) call->stop_requested = true;
      };
    }
    Result<metering::Meter::OpenCall> opened =
        runtime_.meter_.open(*member->provider, std::move(sent), attempt, *call_);
    if (!opened) {
      record(opened.error());
      return;
    }
    open_ = std::move(*opened);
    std::shared_ptr<AsyncChat> self = shared_from_this();
    member->provider->start_chat(
        open_->request, *call_, loop_,
        [self](Result<providers::ChatResponse> answer) { self->answered(std::move(answer)); });
  }

  void answered(Result<providers::ChatResponse> answer) {
    Result<metering::MeteredResponse> metered =
        runtime_.meter_.close(*open_, std::move(answer), *call_);
    open_.reset();
    if (!metered && call_->charged_nanos > 0) {
      charged_failures_.push_back(
          charged_failure(step_.candidate->candidate.provider, step_.attempt, *call_));
    }
    // The answer goes to the router and comes back in finish()'s routed.response.
    if (metered) metered_ = std::move(*metered);
    router::AttemptResult outcome =
        metered ? attempt_outcome(std::move(metered_->response), *call_)
                : attempt_outcome(metered.error(), *call_);
    session_->record(std::move(outcome), clock().monotonic_us() - sent_at_us_,
                     clock().now_unix_ms());
    next();
  }

  // An attempt that was never sent (refused by the meter, or the run stopped).
  void record(const Error& error) {
    session_->record(router::AttemptResult(error), clock().monotonic_us() - sent_at_us_,
                     clock().now_unix_ms());
    next();
  }

  void finish() {
    router::RouteResult routed = session_->finish();
    RouteTrace trace = describe_route(
        request_.model,
        route_request(request_, runtime_.options_.routing, runtime_.options_.default_max_tokens),
        plan_.reason, std::move(routed.trace));
    trace.charged_failures = std::move(charged_failures_);
    report_.route(std::move(trace));
    if (!routed.response) {
      end(routed.response.error());
      return;
    }
    metered_->response = std::move(*routed.response);
    record_call(run_, std::move(metered_->settlement), metered_->response.provider,
                metered_->response.usage);
    providers::ChatResponse response = std::move(metered_->response);
    response.cost_nanos = metered_->cost;
    response.receipt_id = metered_->receipt_id;
    end(std::move(response));
  }

  void end(Result<providers::ChatResponse> outcome) {
    report_.finished(outcome);
    providers::ChatDone done = std::move(done_);
    done(std::move(outcome));
  }

  RuntimeImpl& runtime_;
  Run& run_;
  http::EventLoop& loop_;
  const providers::ChatRequest request_;
  const metering::CallContext context_;
  sdk::StepReport report_;
  const lua::DeltaSink on_delta_;  // the plan's (model.stream); may be empty
  const bool stream_;
  providers::ChatDone done_;
  router::Plan plan_;
  std::optional<router::RouteSession> session_;
  router::RouteSession::Step step_{};
  std::int64_t sent_at_us_ = 0;
  std::unique_ptr<providers::ChatCall> call_;  // the attempt in flight's
  std::optional<metering::Meter::OpenCall> open_;
  std::optional<metering::MeteredResponse> metered_;
  std::vector<ChargedFailure> charged_failures_;
};

void RuntimeImpl::start_chat(const providers::ChatRequest& request, Run& run, http::EventLoop& loop,
                             lua::DeltaSink on_delta, providers::ChatDone done) {
  Result<std::int64_t> step = next_step(run);
  if (!step) {
    done(step.error());
    return;
  }
  providers::ChatRequest routed = request;
  if (routed.model.empty()) routed.model = model_;
  // As the meter sends it, so the trace holds the request as sent (replay matches it).
  if (!routed.max_tokens) routed.max_tokens = options_.default_max_tokens;
  auto chat = std::make_shared<AsyncChat>(*this, run, loop, std::move(routed), *step,
                                          std::move(on_delta), std::move(done));
  chat->begin();
}

}  // namespace perdiem::sdk
