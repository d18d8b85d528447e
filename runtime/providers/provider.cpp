#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

Result<ChatResponse> Provider::chat_call(const ChatRequest& request, ChatCall& call) {
  Result<ChatResponse> response = chat(request);
  if (response && call.on_text && !response->content.empty()) call.on_text(response->content);
  return response;
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
