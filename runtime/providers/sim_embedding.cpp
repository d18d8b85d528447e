// The sim provider's embeddings: feature hashing of words, so that offline search ranks
// by shared words without a model.
#include <cmath>

#include "runtime/providers/sim_provider.hpp"

namespace perdiem::providers {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// FNV-1a over the lowercased word: stable across platforms and runs.
std::uint64_t word_hash(std::string_view word) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : word) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

std::vector<float> sim_embedding(std::string_view text) {
  std::vector<double> sums(kSimEmbeddingDimensions, 0.0);
  std::size_t start = 0;
  bool any_word = false;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && is_word_byte(static_cast<unsigned char>(text[i]))) continue;
    if (i > start) {
      const std::uint64_t hash = word_hash(text.substr(start, i - start));
      // The top bit picks the sign, so colliding words cancel instead of piling up.
      sums[hash % kSimEmbeddingDimensions] += (hash >> 63) != 0 ? -1.0 : 1.0;
      any_word = true;
    }
    start = i + 1;
  }
  double norm = 0;
  for (double v : sums) norm += v * v;
  std::vector<float> vector(kSimEmbeddingDimensions, 0.0f);
  if (!any_word || norm == 0) {
    vector[0] = 1.0f;
    return vector;
  }
  norm = std::sqrt(norm);
  for (std::size_t i = 0; i < vector.size(); ++i) vector[i] = static_cast<float>(sums[i] / norm);
  return vector;
}

EmbedResponse sim_embed(const EmbedRequest& request) {
  EmbedResponse response;
  response.provider = "sim";
  response.model = request.model.empty() ? "sim-embed" : request.model;
  response.vectors.reserve(request.inputs.size());
  for (const std::string& input : request.inputs) {
    response.vectors.push_back(sim_embedding(input));
    response.usage.input_tokens += sim_token_estimate(input);
  }
  return response;
}

}  // namespace perdiem::providers
