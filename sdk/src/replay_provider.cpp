#include "sdk/src/replay_provider.hpp"

#include "sdk/src/trace_format.hpp"

namespace perdiem::sdk {
namespace {

// At most this much of each request goes into a divergence message.
constexpr std::size_t kShownRequestBytes = 600;

std::string shown(const nlohmann::json& request) {
  std::string text = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kShownRequestBytes) text = text.substr(0, kShownRequestBytes) + "...";
  return text;
}

}  // namespace

ReplayProvider::ReplayProvider(std::string name, std::vector<memory::StepRecord> steps,
                               RequestHash hash)
    : name_(std::move(name)),
      hash_(std::move(hash)),
      steps_(std::move(steps)),
      used_(steps_.size(), false) {}

Result<nlohmann::json> ReplayProvider::answer(const char* kind, const nlohmann::json& request) {
  const std::string hash = hash_(request);
  std::lock_guard lock(mutex_);
  const int step = ++asked_;
  std::optional<std::size_t> next_unused;
  for (std::size_t i = 0; i < steps_.size(); ++i) {
    if (used_[i] || steps_[i].kind != kind) continue;
    if (!next_unused) next_unused = i;
    if (steps_[i].request_hash != hash) continue;
    if (!steps_[i].error.empty()) {
      // The recorded call failed: fail the same way (the plan may have handled it).
      used_[i] = true;
      replayed_.fetch_add(1);
      return make_error(ErrorKind::provider, "recorded failure: " + steps_[i].error, name_);
    }
    used_[i] = true;
    replayed_.fetch_add(1);
    return steps_[i].response;
  }
  std::string message =
      "replay diverged at step " + std::to_string(step) +
      ": the plan's request is not in the recording.\n  the plan asked:     " + shown(request);
  message += next_unused ? "\n  the recording has:  " + shown(steps_[*next_unused].request)
                         : std::string("\n  the recording has no further ") + kind + " steps";
  Error error = make_error(ErrorKind::invalid_argument, std::move(message), "replay");
  if (!divergence_) divergence_ = error;
  return error;
}

Result<providers::ChatResponse> ReplayProvider::chat(const providers::ChatRequest& request) {
  Result<nlohmann::json> recorded = answer("model", request_document(request));
  if (!recorded) return recorded.error();
  return chat_response_from(*recorded);
}

Result<providers::EmbedResponse> ReplayProvider::embed(const providers::EmbedRequest& request) {
  Result<nlohmann::json> recorded = answer("embed", request_document(request));
  if (!recorded) return recorded.error();
  return embed_response_from(*recorded);
}

std::optional<Error> ReplayProvider::divergence() const {
  std::lock_guard lock(mutex_);
  return divergence_;
}

}  // namespace perdiem::sdk
