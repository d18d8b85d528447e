// Splits text into chunks for remember(): paragraph-aware, then sentence-aware, with a
// hard bound on chunk size. Pure: text in, chunks out.
//
// Algorithm: paragraphs (separated by blank lines) are the units. A paragraph longer
// than max_bytes is cut into sentences (ending in . ! ? followed by whitespace, or at a
// line break); a sentence still too long is cut at the last whitespace before the bound,
// and a single word longer than the bound at a UTF-8 character boundary. Consecutive
// units are then packed greedily into chunks of at most max_bytes, so short paragraphs
// share a chunk and no chunk starts or ends mid-word unless one word exceeds the bound.
//
// No overlap between chunks: cuts fall on paragraph or sentence boundaries, which is
// what overlap exists to soften; and overlapping text would be indexed twice, inflating
// bm25 term counts and storage for every document.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace perdiem::memory {

struct ChunkOptions {
  // Upper bound of one chunk, in bytes of UTF-8 (about 300 tokens of English).
  std::size_t max_bytes = 1200;
};

// Chunks of `text`, trimmed, none empty, each at most options.max_bytes bytes.
// Empty or all-whitespace text gives no chunks. max_bytes below 16 is treated as 16.
std::vector<std::string> chunk_text(std::string_view text, const ChunkOptions& options = {});

}  // namespace perdiem::memory
