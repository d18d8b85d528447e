#include "sdk/src/host_provider_adapter.hpp"

#include <exception>

namespace perdiem {

HostProvider::~HostProvider() = default;

namespace sdk {
namespace {

class HostProviderAdapter final : public providers::Provider {
 public:
  HostProviderAdapter(std::shared_ptr<HostProvider> host, std::string name)
      : host_(std::move(host)), name_(std::move(name)) {}

  const std::string& name() const override { return name_; }

  Result<providers::ChatResponse> chat(const providers::ChatRequest& request) override {
    HostChatRequest asked;
    asked.model = request.model;
    asked.max_tokens = request.max_tokens.value_or(0);
    asked.temperature = request.temperature;
    asked.messages.reserve(request.messages.size());
    for (const auto& message : request.messages) {
      asked.messages.push_back({message.role, message.content});
    }
    Result<HostChatReply> reply = ask(asked);
    if (!reply) {
      Error error = reply.error();
      if (error.source.empty()) error.source = name_;
      return error;
    }
    if (reply->input_tokens < 0 || reply->output_tokens < 0) {
      return make_error(ErrorKind::bad_response, "the host provider reported negative token counts",
                        name_);
    }
    providers::ChatResponse response;
    response.content = std::move(reply->content);
    response.model = reply->model.empty() ? request.model : std::move(reply->model);
    response.provider = name_;
    response.finish_reason = std::move(reply->finish_reason);
    response.usage.input_tokens = reply->input_tokens;
    response.usage.output_tokens = reply->output_tokens;
    return response;
  }

 private:
  Result<HostChatReply> ask(const HostChatRequest& request) {
    try {
      return host_->chat(request);
    } catch (const std::exception& e) {
      return make_error(ErrorKind::internal, std::string("the host provider threw: ") + e.what(),
                        name_);
    } catch (...) {
      return make_error(ErrorKind::internal, "the host provider threw an unknown exception", name_);
    }
  }

  const std::shared_ptr<HostProvider> host_;
  const std::string name_;
};

}  // namespace

std::unique_ptr<providers::Provider> adapt_host_provider(std::shared_ptr<HostProvider> host,
                                                         std::string name) {
  return std::make_unique<HostProviderAdapter>(std::move(host), std::move(name));
}

}  // namespace sdk
}  // namespace perdiem
