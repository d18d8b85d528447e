#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

Result<EmbedResponse> Provider::embed(const EmbedRequest&) {
  return make_error(ErrorKind::provider,
                    "provider '" + name() +
                        "' offers no embeddings: choose one that does (openai, openrouter, "
                        "together, ollama, ...) or the sim provider offline",
                    name());
}

}  // namespace perdiem::providers
