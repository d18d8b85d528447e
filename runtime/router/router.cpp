#include "runtime/router/router.hpp"

#include <cassert>

namespace perdiem::router {
namespace {

std::string name_of(const Candidate& c) {
  return c.provider + "/" + c.model;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::string describe(const Plan& plan, Policy policy) {
  std::vector<std::string> rejected;
  for (const Rejected& r : plan.rejected)
    rejected.push_back(name_of(r.candidate) + " (" + r.reason + ")");
  if (plan.attempts.empty() && plan.local_fallback.empty()) {
    if (rejected.empty()) return "no candidates to route to";
    return "no candidate can take this call: " + join(rejected, "; ");
  }
  std::vector<std::string> order;
  for (std::size_t i = 0; i < plan.attempts.size(); ++i)
    order.push_back(std::to_string(i + 1) + ". " + name_of(plan.attempts[i].candidate) + " (" +
                    plan.attempts[i].reason + ")");
  std::string text = "by " + std::string(to_string(policy)) + ": " + join(order, "; ");
  if (!plan.local_fallback.empty()) {
    std::vector<std::string> local;
    for (const Ranked& r : plan.local_fallback) local.push_back(name_of(r.candidate));
    text += "; local fallback if every remote is unreachable: " + join(local, ", ");
  }
  if (!rejected.empty()) text += "; rejected: " + join(rejected, "; ");
  return text;
}

}  // namespace

std::string_view to_string(TraceOutcome outcome) {
  switch (outcome) {
    case TraceOutcome::ok:
      return "ok";
    case TraceOutcome::retry:
      return "retry";
    case TraceOutcome::next_candidate:
      return "next candidate";
    case TraceOutcome::stop:
      return "stop";
    case TraceOutcome::skipped:
      return "skipped";
  }
  return "?";
}

Plan plan_route(std::span<const Candidate> candidates, const RouteRequest& request,
                const HealthBook& health, const AllowanceOracle& allowance, std::int64_t now_ms) {
  Ranking ranking = rank_candidates(candidates, request, health, allowance, now_ms);
  Plan plan{std::move(ranking.ranked),
            std::move(ranking.local_fallback),
            std::move(ranking.rejected),
            {}};
  plan.reason = describe(plan, request.policy);
  return plan;
}

RouteSession::RouteSession(const Plan& plan, HealthBook& health, base::Random& random,
                           RetryOptions options)
    : plan_(plan), health_(health), random_(random), options_(options) {
  // A remote the breaker kept out of the plan is as unreachable as one that failed.
  for (const Rejected& r : plan.rejected) {
    if (r.unreachable && !r.candidate.tags.local) ++unreachable_remotes_;
  }
}

const std::vector<Ranked>& RouteSession::current_list() const {
  return in_fallback_ ? plan_.local_fallback : plan_.attempts;
}

bool RouteSession::may_fall_back_to_local() const {
  return !plan_.local_fallback.empty() && !reachable_remote_ && unreachable_remotes_ > 0;
}

void RouteSession::advance(bool unreachable) {
  const Candidate& c = current_list()[index_].candidate;
  if (!in_fallback_ && !c.tags.local) {
    if (unreachable) {
      ++unreachable_remotes_;
    } else {
      reachable_remote_ = true;
    }
  }
  ++index_;
  tries_ = 0;
  delay_ = std::chrono::milliseconds(0);
}

void RouteSession::trace(const Ranked& c, int attempt, TraceOutcome outcome,
                         std::int64_t latency_us, std::string reason) {
  trace_.push_back({c.candidate.provider, c.candidate.model, attempt, outcome,
                    std::chrono::microseconds(latency_us), waited_, std::move(reason)});
}

std::optional<RouteSession::Step> RouteSession::next(std::int64_t now_ms) {
  while (!done_) {
    const std::vector<Ranked>& list = current_list();
    if (index_ >= list.size()) {
      if (!in_fallback_ && may_fall_back_to_local()) {
        in_fallback_ = true;
        index_ = 0;
        continue;
      }
      done_ = true;
      break;
    }
    const Ranked& c = list[index_];
    if (health_.admit(c.candidate.provider, now_ms) == Admission::refused) {
      waited_ = std::chrono::milliseconds(0);
      const ProviderStats s = health_.stats(c.candidate.provider, now_ms);
      const std::string why = "circuit " + std::string(to_string(s.breaker)) +
                              (s.probe_in_flight ? " with its probe out" : "") + ": not sent";
      trace(c, 0, TraceOutcome::skipped, 0, why);
      failures_.push_back(c.candidate.provider + ": " + why);
      advance(/*unreachable=*/true);
      continue;
    }
    ++tries_;
    ++attempts_;
    waited_ = delay_;
    delay_ = std::chrono::milliseconds(0);
    in_attempt_ = true;
    return Step{&c, attempts_, waited_};
  }
  return std::nullopt;
}

void RouteSession::record(AttemptResult result, std::int64_t latency_us,
                          std::int64_t now_ms) {
  assert(in_attempt_ && "record() follows a step from next()");
  if (!in_attempt_) return;  // misuse in a release build: ignore rather than misattribute
  in_attempt_ = false;
  const Ranked& c = current_list()[index_];
  const std::string& provider = c.candidate.provider;
  // The first attempt at a candidate says why it was chosen; a retry says which it is.
  std::string head;
  if (tries_ > 1) {
    head = "retry " + std::to_string(tries_ - 1);
  } else {
    head = (in_fallback_ ? std::string() : "rank " + std::to_string(index_ + 1) + ", ") + c.reason;
  }
  head += " -> ";
  if (result.response.ok()) {
    health_.record_success(provider, Latency{result.ttft_us, latency_us});
    trace(c, attempts_, TraceOutcome::ok, latency_us, head + "answered");
    answer_ = std::move(result.response).value();
    done_ = true;
    return;
  }
  const Error& error = result.response.error();
  Failure failure = failure_from(error);
  failure.http_status = result.http_status;
  failure.retry_after = result.retry_after;
  failure.partial_output = result.partial_output;
  const Verdict verdict = classify(failure, options_);
  if (verdict.health_failure) {
    health_.record_failure(provider, now_ms);
  } else {
    health_.record_neutral(provider);
    all_health_failures_ = false;
  }
  last_kind_ = error.kind;
  last_needed_nanos_ = error.needed_nanos;
  last_available_nanos_ = error.available_nanos;
  failures_.push_back(provider + ": " + error.message);
  std::string reason = head + verdict.reason + ": " + error.message;
  Next next = verdict.next;
  if (next == Next::retry && tries_ > options_.retries_per_candidate) {
    next = Next::next_candidate;
    reason += "; gave up after " + std::to_string(tries_) + " attempts";
  }
  switch (next) {
    case Next::retry:
      delay_ = backoff_delay(options_, tries_, failure.retry_after, random_);
      trace(c, attempts_, TraceOutcome::retry, latency_us,
            reason + "; retrying in " + std::to_string(delay_.count()) + " ms");
      break;
    case Next::next_candidate:
      trace(c, attempts_, TraceOutcome::next_candidate, latency_us, std::move(reason));
      advance(verdict.health_failure);
      break;
    case Next::stop:
      trace(c, attempts_, TraceOutcome::stop, latency_us, std::move(reason));
      final_error_ = error;
      done_ = true;
      break;
  }
}

RouteResult RouteSession::finish() {
  if (answer_) return {std::move(*answer_), std::move(trace_)};
  if (final_error_) return {std::move(*final_error_), std::move(trace_)};
  if (failures_.empty()) {
    // Nothing was tried: the breakers, or the call's own constraints, left no candidate.
    if (unreachable_remotes_ > 0)
      return {make_error(ErrorKind::provider, plan_.reason, "router", /*retryable=*/true),
              std::move(trace_)};
    return {make_error(ErrorKind::config, plan_.reason, "router"), std::move(trace_)};
  }
  std::string message = "every candidate failed: " + join(failures_, "; ");
  if (!plan_.local_fallback.empty() && !in_fallback_ && reachable_remote_)
    message += " (local fallback not used: a remote provider was reachable)";
  const ErrorKind kind = attempts_ == 0 ? ErrorKind::provider : last_kind_;
  Error error = make_error(kind, std::move(message), "router", all_health_failures_);
  if (attempts_ > 0) {
    error.needed_nanos = last_needed_nanos_;
    error.available_nanos = last_available_nanos_;
  }
  return {std::move(error), std::move(trace_)};
}

RouteResult route_call(const Plan& plan, const AttemptFn& attempt, RouterEnv& env) {
  RouteSession session(plan, env.health, env.random, env.retry);
  while (std::optional<RouteSession::Step> step = session.next(env.clock.now_unix_ms())) {
    if (step->delay.count() > 0 && env.sleep) env.sleep(step->delay);
    const std::int64_t start_us = env.clock.monotonic_us();
    AttemptResult result = attempt(step->candidate->candidate, step->attempt);
    session.record(std::move(result), env.clock.monotonic_us() - start_us,
                   env.clock.now_unix_ms());
  }
  return session.finish();
}

}  // namespace perdiem::router
