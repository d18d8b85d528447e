#include "runtime/memory/chunker.hpp"

#include <algorithm>

namespace perdiem::memory {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Paragraphs: runs of text separated by a line that is empty or only whitespace.
std::vector<std::string_view> paragraphs(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) break;
    // Is the next line blank?
    std::size_t next = nl + 1;
    std::size_t end = next;
    while (end < text.size() && text[end] != '\n' && is_space(text[end])) ++end;
    if (end < text.size() && text[end] == '\n') {
      auto para = trim(text.substr(start, nl - start));
      if (!para.empty()) out.push_back(para);
      start = end + 1;
      pos = start;
    } else {
      pos = next;
    }
  }
  auto last = trim(text.substr(std::min(start, text.size())));
  if (!last.empty()) out.push_back(last);
  return out;
}

std::vector<std::string_view> sentences(std::string_view para) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < para.size(); ++i) {
    char c = para[i];
    bool end = c == '\n' ||
               ((c == '.' || c == '!' || c == '?') && i + 1 < para.size() && is_space(para[i + 1]));
    if (end) {
      auto s = trim(para.substr(start, i + 1 - start));
      if (!s.empty()) out.push_back(s);
      start = i + 1;
    }
  }
  auto s = trim(para.substr(std::min(start, para.size())));
  if (!s.empty()) out.push_back(s);
  return out;
}

// Cuts `s` (longer than max) at whitespace, or inside a word at a UTF-8 boundary.
void cut_long(std::string_view s, std::size_t max, std::vector<std::string_view>& out) {
  while (s.size() > max) {
    std::size_t cut = s.rfind(' ', max);
    if (cut == std::string_view::npos || cut == 0) {
      cut = max;
      // Never split a multi-byte character: back up over continuation bytes.
      while (cut > 1 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    }
    auto head = trim(s.substr(0, cut));
    if (!head.empty()) out.push_back(head);
    s = trim(s.substr(cut));
  }
  if (!s.empty()) out.push_back(s);
}

}  // namespace

std::vector<std::string> chunk_text(std::string_view text, const ChunkOptions& options) {
  const std::size_t max = std::max<std::size_t>(options.max_bytes, 16);
  // Units with the separator that joins each to the one before it when packed.
  struct Unit {
    std::string_view text;
    std::string_view joiner;
  };
  std::vector<Unit> units;
  for (auto para : paragraphs(text)) {
    if (para.size() <= max) {
      units.push_back({para, "\n\n"});
      continue;
    }
    bool first = true;
    for (auto sentence : sentences(para)) {
      std::vector<std::string_view> pieces;
      cut_long(sentence, max, pieces);
      for (auto piece : pieces) {
        units.push_back({piece, first ? "\n\n" : " "});
        first = false;
      }
    }
  }

  std::vector<std::string> chunks;
  std::string current;
  for (const Unit& unit : units) {
    if (!current.empty() && current.size() + unit.joiner.size() + unit.text.size() > max) {
      chunks.push_back(std::move(current));
      current.clear();
    }
    if (!current.empty()) current += unit.joiner;
    current += unit.text;
  }
  if (!current.empty()) chunks.push_back(std::move(current));
  return chunks;
}

}  // namespace perdiem::memory
