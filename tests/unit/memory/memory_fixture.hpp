// Shared helpers for the memory store's tests: a temporary directory, a deterministic
// embedder, raw file reads.
#pragma once

#include <stdlib.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "runtime/memory/memory_store.hpp"

namespace perdiem::memory::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "perdiem-memory-XXXXXX");
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<MemoryStore> open_store(const std::string& path,
                                               const MemoryStore::Options& options = {}) {
  auto opened = MemoryStore::open(path, options);
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().describe()));
  return std::move(opened).value();
}

// Builders for the option structs (g++ 12 warns on designated initializers that skip a
// member, and warnings are errors).
inline RunRecord run_record(std::string agent, nlohmann::json args = nlohmann::json::object(),
                            std::string id = {}, std::string script_path = {}) {
  RunRecord r;
  r.agent = std::move(agent);
  r.args = std::move(args);
  r.id = std::move(id);
  r.script_path = std::move(script_path);
  return r;
}

inline RunEnd run_end(std::string status, nlohmann::json result = nullptr, std::string error = {},
                      std::int64_t cost_nanos = 0) {
  RunEnd e;
  e.status = std::move(status);
  e.result = std::move(result);
  e.error = std::move(error);
  e.cost_nanos = cost_nanos;
  return e;
}

inline RememberOptions remember_options(const EmbeddingModel* model = nullptr,
                                        std::size_t max_bytes = 1200, std::string ns = "default",
                                        std::string source = {}) {
  RememberOptions o;
  o.embedding = model;
  o.chunking.max_bytes = max_bytes;
  o.ns = std::move(ns);
  o.source = std::move(source);
  return o;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Bag of words hashed into `dim` buckets (FNV-1a, lowercased, words of 3+ letters): texts
// sharing words point the same way. Deterministic, so tests can assert exact rankings.
// Counts its calls and the texts it embedded.
class HashedBagOfWords {
 public:
  explicit HashedBagOfWords(std::size_t dim = 384) {
    model.name = "test/hashed-bow";
    model.dim = dim;
    model.embed =
        [this,
         dim](const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
      ++calls;
      texts_embedded += texts.size();
      std::vector<std::vector<float>> out;
      for (const auto& text : texts) out.push_back(embed_one(text, dim));
      return out;
    };
  }
  static std::vector<float> embed_one(const std::string& text, std::size_t dim) {
    std::vector<float> v(dim, 0.0f);
    std::string word;
    auto flush = [&] {
      if (word.size() >= 3) {
        std::uint64_t h = 1469598103934665603ull;
        for (char c : word) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        v[h % dim] += (h >> 63) ? 1.0f : -1.0f;
      }
      word.clear();
    };
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c)))
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      else
        flush();
    }
    flush();
    return v;
  }
  EmbeddingModel model;
  std::atomic<int> calls{0};
  std::atomic<std::size_t> texts_embedded{0};
};

}  // namespace perdiem::memory::testing
