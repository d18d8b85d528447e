// The host provider for C: a perdiem_host_chat_fn seen as a perdiem::HostProvider. The
// request and reply are stack objects of the calling run's thread, so concurrent runs
// share nothing here but the function and its user_data.
#include <optional>
#include <string>

#include "sdk/src/c_api_internal.hpp"

struct perdiem_host_request {
  const perdiem::HostChatRequest* request;
};

struct perdiem_host_reply {
  perdiem::HostChatReply reply;
  std::optional<perdiem::Error> error;  // set by perdiem_host_reply_set_error
  bool retryable = false;
};

namespace {

class CHostProvider final : public perdiem::HostProvider {
 public:
  CHostProvider(perdiem_host_chat_fn callback, void* user_data)
      : callback_(callback), user_data_(user_data) {}

  perdiem::Result<perdiem::HostChatReply> chat(const perdiem::HostChatRequest& request) override {
    perdiem_host_request asked{&request};
    perdiem_host_reply answer;
    perdiem_code code = callback_(&asked, &answer, user_data_);
    if (code == PERDIEM_CODE_OK && !answer.error) return std::move(answer.reply);

    perdiem::Error error = answer.error.value_or(perdiem::Error{});
    if (code != PERDIEM_CODE_OK) {
      error.kind = perdiem::capi::is_error_code(code) ? perdiem::capi::kind_of(code)
                                                      : perdiem::ErrorKind::internal;
    }
    if (error.message.empty()) {
      error.message = std::string("the host provider's callback failed with ") +
                      perdiem_code_name(perdiem::capi::code_of(error.kind));
    }
    error.retryable = answer.retryable;
    return error;
  }

 private:
  const perdiem_host_chat_fn callback_;
  void* const user_data_;
};

const perdiem::HostChatRequest* of(const perdiem_host_request* request) {
  return request == nullptr ? nullptr : request->request;
}

template <typename Set>
perdiem_code update(perdiem_host_reply* reply, const char* text, Set&& set) noexcept {
  if (reply == nullptr || text == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    set(reply->reply, text);
    return PERDIEM_CODE_OK;
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

}  // namespace

namespace perdiem::capi {

std::shared_ptr<HostProvider> host_provider(perdiem_host_chat_fn chat, void* user_data) {
  return std::make_shared<CHostProvider>(chat, user_data);
}

}  // namespace perdiem::capi

extern "C" {

const char* perdiem_host_request_model(const perdiem_host_request* request) {
  const perdiem::HostChatRequest* r = of(request);
  return r == nullptr ? "" : r->model.c_str();
}
int perdiem_host_request_max_tokens(const perdiem_host_request* request) {
  const perdiem::HostChatRequest* r = of(request);
  return r == nullptr ? 0 : r->max_tokens;
}
size_t perdiem_host_request_message_count(const perdiem_host_request* request) {
  const perdiem::HostChatRequest* r = of(request);
  return r == nullptr ? 0 : r->messages.size();
}
const char* perdiem_host_request_message_role(const perdiem_host_request* request, size_t index) {
  const perdiem::HostChatRequest* r = of(request);
  return r == nullptr || index >= r->messages.size() ? "" : r->messages[index].role.c_str();
}
const char* perdiem_host_request_message_content(const perdiem_host_request* request,
                                                 size_t index) {
  const perdiem::HostChatRequest* r = of(request);
  return r == nullptr || index >= r->messages.size() ? "" : r->messages[index].content.c_str();
}
int perdiem_host_request_temperature(const perdiem_host_request* request, double* temperature) {
  const perdiem::HostChatRequest* r = of(request);
  if (r == nullptr || !r->temperature) return 0;
  if (temperature != nullptr) *temperature = *r->temperature;
  return 1;
}

perdiem_code perdiem_host_reply_set_content(perdiem_host_reply* reply, const char* content) {
  return update(reply, content, [](perdiem::HostChatReply& r, const char* t) { r.content = t; });
}
perdiem_code perdiem_host_reply_set_model(perdiem_host_reply* reply, const char* model) {
  return update(reply, model, [](perdiem::HostChatReply& r, const char* t) { r.model = t; });
}
perdiem_code perdiem_host_reply_set_finish_reason(perdiem_host_reply* reply,
                                                  const char* finish_reason) {
  return update(reply, finish_reason,
                [](perdiem::HostChatReply& r, const char* t) { r.finish_reason = t; });
}
perdiem_code perdiem_host_reply_set_tokens(perdiem_host_reply* reply, int64_t input_tokens,
                                           int64_t output_tokens) {
  if (reply == nullptr || input_tokens < 0 || output_tokens < 0) {
    return PERDIEM_CODE_INVALID_ARGUMENT;
  }
  reply->reply.input_tokens = input_tokens;
  reply->reply.output_tokens = output_tokens;
  return PERDIEM_CODE_OK;
}
perdiem_code perdiem_host_reply_set_error(perdiem_host_reply* reply, perdiem_code code,
                                          const char* message) {
  if (!perdiem::capi::is_error_code(code)) code = PERDIEM_CODE_INTERNAL;
  if (reply == nullptr) return code;
  perdiem::Error error;
  error.kind = perdiem::capi::kind_of(code);
  try {
    if (message != nullptr) error.message = message;
  } catch (...) {
    // Out of memory: the generic message is used; the code still fails the call.
  }
  reply->error = std::move(error);
  return code;
}
perdiem_code perdiem_host_reply_set_retryable(perdiem_host_reply* reply, int retryable) {
  if (reply == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  reply->retryable = retryable != 0;
  return PERDIEM_CODE_OK;
}

}  // extern "C"
