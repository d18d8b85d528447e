// The matcher follows lstrlib.c's algorithm (backtracking, tail calls turned into loops)
// so that results and error messages are Lua's; what it adds is the step count.
#include "runtime/lua/pattern.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace perdiem::lua::pattern {
namespace {

constexpr char kEscape = '%';

int uchar(char c) {
  return static_cast<unsigned char>(c);
}

// Character classes of the C locale, as bits, for all 256 byte values. A table rather
// than <cctype>: those are out-of-line calls in C++ (half the matcher's time), and a
// table keeps patterns independent of whatever locale the host process set.
enum ClassBit : std::uint16_t {
  kAlpha = 1,
  kControl = 2,
  kDigit = 4,
  kGraph = 8,
  kLower = 16,
  kPunct = 32,
  kSpace = 64,
  kUpper = 128,
  kAlnum = 256,
  kHexDigit = 512,
};

constexpr std::array<std::uint16_t, 256> make_class_table() {
  std::array<std::uint16_t, 256> table{};
  for (int c = 0; c < 256; ++c) {
    std::uint16_t bits = 0;
    const bool upper = c >= 'A' && c <= 'Z', lower = c >= 'a' && c <= 'z';
    const bool digit = c >= '0' && c <= '9', graph = c >= 33 && c <= 126;
    if (upper) bits |= kUpper | kAlpha | kAlnum;
    if (lower) bits |= kLower | kAlpha | kAlnum;
    if (digit) bits |= kDigit | kAlnum | kHexDigit;
    if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) bits |= kHexDigit;
    if (c < 32 || c == 127) bits |= kControl;
    if ((c >= 9 && c <= 13) || c == ' ') bits |= kSpace;
    if (graph) bits |= kGraph;
    if (graph && !upper && !lower && !digit) bits |= kPunct;
    table[static_cast<std::size_t>(c)] = bits;
  }
  return table;
}

constexpr std::array<std::uint16_t, 256> kClasses = make_class_table();

// %a, %d, ... as Lua defines them; an upper-case class letter is the complement. Any
// other character after '%' stands for itself. This and the other per-character helpers
// are forced inline: left out of line they made matching several times slower.
[[gnu::always_inline]] inline bool match_class(int c, int cl) {
  const bool complement = cl >= 'A' && cl <= 'Z';
  std::uint16_t bit = 0;
  switch (complement ? cl + ('a' - 'A') : cl) {
    case 'a':
      bit = kAlpha;
      break;
    case 'c':
      bit = kControl;
      break;
    case 'd':
      bit = kDigit;
      break;
    case 'g':
      bit = kGraph;
      break;
    case 'l':
      bit = kLower;
      break;
    case 'p':
      bit = kPunct;
      break;
    case 's':
      bit = kSpace;
      break;
    case 'u':
      bit = kUpper;
      break;
    case 'w':
      bit = kAlnum;
      break;
    case 'x':
      bit = kHexDigit;
      break;
    case 'z':
      return (c == 0) != complement;  // deprecated in Lua, still accepted
    default:
      return cl == c;
  }
  const bool in_class = (kClasses[static_cast<std::size_t>(c)] & bit) != 0;
  return in_class != complement;
}

// Restores the recursion budget however do_match leaves.
struct DepthGuard {
  int& depth_left;
  ~DepthGuard() { ++depth_left; }
};

}  // namespace

bool has_no_specials(const char* pattern, std::size_t length) {
  return std::string_view(pattern, length).find_first_of(std::string_view("^$*+?.([%-")) ==
         std::string_view::npos;
}

Matcher::Matcher(const char* subject, std::size_t subject_length, const char* pattern,
                 std::size_t pattern_length, Meter meter)
    : subject_(subject),
      subject_end_(subject + subject_length),
      pattern_end_(pattern + pattern_length),
      meter_(std::move(meter)) {}

void Matcher::flush() {
  if (unmetered_ == 0) return;
  const std::uint64_t steps = unmetered_;
  unmetered_ = 0;
  if (meter_) meter_(steps);
}

const char* Matcher::match(const char* s, const char* p) {
  level_ = 0;
  depth_left_ = kMaxRecursion;
  return do_match(s, p);
}

// p is at a class's first character (never the pattern's end); returns just past it.
[[gnu::always_inline]] inline const char* Matcher::class_end(const char* p) const {
  const char first = *p++;
  if (first == kEscape) {
    if (p >= pattern_end_) throw PatternError("malformed pattern (ends with '%')");
    return p + 1;
  }
  if (first == '[') {
    if (at(p) == '^') ++p;
    do {  // the set's first character may be ']' itself
      if (p >= pattern_end_) throw PatternError("malformed pattern (missing ']')");
      if (*p++ == kEscape && p < pattern_end_) ++p;  // skip an escaped character
    } while (at(p) != ']');
    return p + 1;
  }
  return p;
}

// p is at the '[' of a set and ec at its closing ']'.
bool Matcher::match_bracket_class(int c, const char* p, const char* ec) const {
  bool found = true;
  if (*(p + 1) == '^') {
    found = false;
    ++p;
  }
  while (++p < ec) {
    if (*p == kEscape) {
      ++p;
      if (match_class(c, uchar(*p))) return found;
    } else if (*(p + 1) == '-' && p + 2 < ec) {
      p += 2;
      if (uchar(*(p - 2)) <= c && c <= uchar(*p)) return found;
    } else if (uchar(*p) == c) {
      return found;
    }
  }
  return !found;
}

[[gnu::always_inline]] inline bool Matcher::single_match(const char* s, const char* p,
                                                         const char* ep) {
  if (s >= subject_end_) return false;
  step();
  const int c = uchar(*s);
  switch (*p) {
    case '.':
      return true;
    case kEscape:
      return match_class(c, uchar(*(p + 1)));
    case '[':
      return match_bracket_class(c, p, ep - 1);
    default:
      return uchar(*p) == c;
  }
}

// %bxy: p is at x.
const char* Matcher::match_balance(const char* s, const char* p) {
  if (p + 1 >= pattern_end_) {
    throw PatternError("malformed pattern (missing arguments to '%b')");
  }
  if (s >= subject_end_ || *s != *p) return nullptr;
  const char open = *p;
  const char close = *(p + 1);
  std::int64_t depth = 1;
  while (++s < subject_end_) {
    step();
    if (*s == close) {
      if (--depth == 0) return s + 1;
    } else if (*s == open) {
      ++depth;
    }
  }
  return nullptr;  // the subject ends out of balance
}

// x* and x+: the longest run first, then shorter ones.
const char* Matcher::max_expand(const char* s, const char* p, const char* ep) {
  std::ptrdiff_t count = 0;
  while (single_match(s + count, p, ep)) ++count;
  for (; count >= 0; --count) {
    if (const char* end = do_match(s + count, ep + 1)) return end;
  }
  return nullptr;
}

// x-: the shortest run first.
const char* Matcher::min_expand(const char* s, const char* p, const char* ep) {
  for (;;) {
    if (const char* end = do_match(s, ep + 1)) return end;
    if (!single_match(s, p, ep)) return nullptr;
    ++s;
  }
}

const char* Matcher::start_capture(const char* s, const char* p, std::ptrdiff_t what) {
  if (level_ >= kMaxCaptures) throw PatternError("too many captures");
  captures_[level_] = Capture{s, what};
  ++level_;
  const char* end = do_match(s, p);
  if (end == nullptr) --level_;  // undo the capture
  return end;
}

const char* Matcher::end_capture(const char* s, const char* p) {
  int open = level_ - 1;
  while (open >= 0 && captures_[open].length != kUnfinished) --open;
  if (open < 0) throw PatternError("invalid pattern capture");
  captures_[open].length = s - captures_[open].init;
  const char* end = do_match(s, p);
  if (end == nullptr) captures_[open].length = kUnfinished;  // undo the close
  return end;
}

// %1 .. %9: the text an earlier capture matched, again. c is the digit.
const char* Matcher::match_capture(const char* s, int c) {
  const int index = c - '1';
  if (index < 0 || index >= level_ || captures_[index].length == kUnfinished) {
    throw PatternError("invalid capture index %" + std::to_string(index + 1));
  }
  const Capture& capture = captures_[index];
  if (capture.length < 0) return nullptr;  // a position capture matches no text
  const auto length = static_cast<std::size_t>(capture.length);
  step(length / 16);  // comparing long captures again and again is work too
  if (static_cast<std::size_t>(subject_end_ - s) >= length &&
      std::memcmp(capture.init, s, length) == 0) {
    return s + length;
  }
  return nullptr;
}

const char* Matcher::do_match(const char* s, const char* p) {
  if (depth_left_-- == 0) {
    ++depth_left_;
    throw PatternError("pattern too complex");
  }
  DepthGuard guard{depth_left_};
  for (;;) {  // each `continue` is a tail call: match(s, p) again
    if (p == pattern_end_) return s;
    step();
    switch (*p) {
      case '(':
        if (at(p + 1) == ')') return start_capture(s, p + 2, kPosition);
        return start_capture(s, p + 1, kUnfinished);
      case ')':
        return end_capture(s, p + 1);
      case '$':
        if (p + 1 == pattern_end_) return s == subject_end_ ? s : nullptr;
        break;  // a '$' elsewhere is an ordinary character
      case kEscape:
        switch (at(p + 1)) {
          case 'b':
            s = match_balance(s, p + 2);
            if (s == nullptr) return nullptr;
            p += 4;
            continue;
          case 'f': {
            p += 2;
            if (at(p) != '[') throw PatternError("missing '[' after '%f' in pattern");
            const char* ep = class_end(p);
            const int previous = s == subject_ ? 0 : uchar(*(s - 1));
            const int current = s < subject_end_ ? uchar(*s) : 0;
            if (!match_bracket_class(previous, p, ep - 1) &&
                match_bracket_class(current, p, ep - 1)) {
              p = ep;
              continue;
            }
            return nullptr;
          }
          case '0':
          case '1':
          case '2':
          case '3':
          case '4':
          case '5':
          case '6':
          case '7':
          case '8':
          case '9':
            s = match_capture(s, uchar(*(p + 1)));
            if (s == nullptr) return nullptr;
            p += 2;
            continue;
          default:
            break;  // %a and friends: a single character class
        }
        break;
      default:
        break;
    }
    // A single character class with an optional suffix (*, +, -, ?).
    const char* ep = class_end(p);
    const char suffix = at(ep);
    if (!single_match(s, p, ep)) {
      if (suffix == '*' || suffix == '?' || suffix == '-') {  // may match nothing
        p = ep + 1;
        continue;
      }
      return nullptr;
    }
    switch (suffix) {
      case '?':
        if (const char* end = do_match(s + 1, ep + 1)) return end;
        p = ep + 1;
        continue;
      case '+':
        return max_expand(s + 1, p, ep);
      case '*':
        return max_expand(s, p, ep);
      case '-':
        return min_expand(s, p, ep);
      default:
        ++s;
        p = ep;
        continue;
    }
  }
}

}  // namespace perdiem::lua::pattern
