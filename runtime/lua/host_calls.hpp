// The host's answers to what a plan waits for, asked without touching the plan: what a
// driver calls (run_plan on its own thread, the scheduler on a pool thread) to answer a
// PlanTask's wait. Each turns a missing callback or a C++ exception into an Error, so
// nothing thrown by the host reaches Lua. Knows no Lua.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/lua/plan.hpp"

namespace perdiem::lua {

// Calls a host callback for `what` ("model.chat"): a missing callback is a config error
// and a C++ exception an internal one.
template <typename Response, typename Callback, typename Request>
Result<Response> call_host(const Callback& callback, const Request& request, const char* what) {
  if (!callback) {
    return make_error(ErrorKind::config,
                      std::string("this runtime has no model to answer ") + what);
  }
  try {
    return callback(request);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("the model host failed: ") + e.what());
  } catch (...) {
    return make_error(ErrorKind::internal, "the model host failed with an unknown exception");
  }
}

// host.chat(request).
Result<providers::ChatResponse> ask_host(PlanHost& host, const providers::ChatRequest& request);

// host.chat_stream(request, on_delta); without chat_stream, host.chat and on_delta gets
// the whole text at once.
Result<providers::ChatResponse> ask_host_streaming(PlanHost& host,
                                                   const providers::ChatRequest& request,
                                                   const DeltaSink& on_delta);

// host.chat_many(requests), or host.chat for each in turn when the host has none; an
// Error per request.
std::vector<Result<providers::ChatResponse>> ask_host_many(
    PlanHost& host, const std::vector<providers::ChatRequest>& requests);

// host.embed(request).
Result<providers::EmbedResponse> ask_host_embed(PlanHost& host,
                                                const providers::EmbedRequest& request);

// host.call_tools(calls), or host.call_tool for each in turn when the host has none; a
// result or an Error per call, in call order.
std::vector<Result<std::string>> ask_host_tools(
    PlanHost& host, const std::vector<std::pair<std::string, std::string>>& calls);

// host.await_spawn(run_id).
Result<SpawnResult> ask_host_child(PlanHost& host, const std::string& run_id);

}  // namespace perdiem::lua
