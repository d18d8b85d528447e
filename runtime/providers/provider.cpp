#include "runtime/providers/provider.hpp"

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/http/event_loop.hpp"
#include "runtime/providers/blocking_pool.hpp"

namespace perdiem::providers {

namespace {

// One call start_chat's default runs on a worker: the worker fills `scratch`, `pieces`
// and `result`; the loop thread reads them once the Handoff completes (the loop's mutex
// orders the two), and only then touches the caller's ChatCall.
struct BlockingCall {
  ChatRequest request;
  ChatCall scratch;
  std::vector<std::string> pieces;  // the streamed text, kept for the loop thread
  std::optional<Result<ChatResponse>> result;
};

// What chat_call() learned, moved to the caller's ChatCall on the loop thread.
void copy_findings(ChatCall& from, ChatCall& to) {
  to.http_status = from.http_status;
  to.retry_after = from.retry_after;
  to.partial_output = from.partial_output;
  to.partial_usage = std::move(from.partial_usage);
  to.partial_text = std::move(from.partial_text);
  to.ttft_us = from.ttft_us;
}

}  // namespace

Result<ChatResponse> Provider::chat_call(const ChatRequest& request, ChatCall& call) {
  Result<ChatResponse> response = chat(request);
  if (response && call.on_text && !response->content.empty()) call.on_text(response->content);
  return response;
}

void Provider::start_chat(const ChatRequest& request, ChatCall& call, http::EventLoop& loop,
                          ChatDone done) {
  auto job = std::make_shared<BlockingCall>();
  job->request = request;
  if (call.on_text) {
    BlockingCall* raw = job.get();  // not the shared_ptr: the job would own itself
    job->scratch.on_text = [raw](std::string_view text) { raw->pieces.emplace_back(text); };
  }
  const std::string provider = name();
  http::Handoff handoff =
      loop.expect([job, &call, provider, done = std::move(done)](bool cancelled) {
        if (cancelled || !job->result) {
          done(make_error(ErrorKind::cancelled,
                          "the call to " + provider + " was cancelled: its event loop shut down",
                          provider));
          return;
        }
        copy_findings(job->scratch, call);
        for (const std::string& piece : job->pieces) {
          // The answer is complete already: a reader that stops it just hears no more.
          if (call.stop_requested) break;
          call.on_text(piece);
        }
        done(std::move(*job->result));
      });
  run_blocking([this, job, handoff = std::move(handoff), provider]() mutable {
    try {
      job->result.emplace(chat_call(job->request, job->scratch));
    } catch (const std::exception& e) {
      job->result.emplace(make_error(ErrorKind::internal,
                                     "provider " + provider + " threw: " + std::string(e.what()),
                                     provider));
    } catch (...) {
      job->result.emplace(
          make_error(ErrorKind::internal, "provider " + provider + " threw", provider));
    }
    handoff.complete();
  });
}

Result<std::vector<ListedModel>> Provider::list_models() {
  return make_error(ErrorKind::not_found, "provider '" + name() + "' does not list its models",
                    name());
}

Result<EmbedResponse> Provider::embed(const EmbedRequest&) {
  return make_error(ErrorKind::provider,
                    "provider '" + name() +
                        "' offers no embeddings: choose one that does (openai, openrouter, "
                        "together, ollama, ...) or the sim provider offline",
                    name());
}

}  // namespace perdiem::providers
