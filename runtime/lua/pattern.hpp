// Lua 5.4 pattern matching, metered.
//
// Stock Lua matches patterns in one C call that no hook interrupts, and backtracking
// makes some patterns take time polynomial (or worse) in the subject's length:
// string.find(("a"):rep(1e5), ".-.-.-b") would hold the thread for hours. This matcher
// implements the same language with the same results and error messages, but reports
// its steps to a meter every so often; the meter may throw to abandon the match (the
// sandbox raises its instruction-limit error from there).
//
// Pure: bytes in, offsets out. Nothing here knows Lua's API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace perdiem::lua::pattern {

constexpr int kMaxCaptures = 32;            // as LUA_MAXCAPTURES
constexpr int kMaxRecursion = 200;          // as lstrlib's MAXCCALLS: "pattern too complex"
constexpr std::ptrdiff_t kUnfinished = -1;  // a capture opened and not yet closed
constexpr std::ptrdiff_t kPosition = -2;    // a position capture, "()"

// A malformed pattern; what() is Lua's own message ("malformed pattern (missing ']')").
class PatternError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Capture {
  const char* init = nullptr;  // where it starts in the subject
  std::ptrdiff_t length = 0;   // bytes, or kUnfinished / kPosition
};

// One subject and one pattern; match() may be called many times (find tries each start,
// gsub and gmatch walk the subject). Holds pointers into both: they must outlive it.
class Matcher {
 public:
  // `meter` receives the number of steps taken since its last call, at least every
  // kMeterEvery steps and from flush(). It may throw; the Matcher is then unusable.
  using Meter = std::function<void(std::uint64_t)>;
  static constexpr std::uint64_t kMeterEvery = 1024;

  Matcher(const char* subject, std::size_t subject_length, const char* pattern,
          std::size_t pattern_length, Meter meter);

  // Matches the pattern from `p` (a position in the pattern, after any '^' the caller
  // strips) against the subject from `s`. Returns the end of the match, or nullptr.
  // Resets the captures first. Throws PatternError for a malformed pattern.
  const char* match(const char* s, const char* p);

  int capture_count() const { return level_; }
  const Capture& capture(int i) const { return captures_[i]; }
  const char* subject() const { return subject_; }
  const char* subject_end() const { return subject_end_; }

  // Reports the steps not yet metered.
  void flush();

 private:
  const char* do_match(const char* s, const char* p);
  const char* class_end(const char* p) const;
  bool single_match(const char* s, const char* p, const char* ep);
  bool match_bracket_class(int c, const char* p, const char* ec) const;
  const char* match_balance(const char* s, const char* p);
  const char* max_expand(const char* s, const char* p, const char* ep);
  const char* min_expand(const char* s, const char* p, const char* ep);
  const char* start_capture(const char* s, const char* p, std::ptrdiff_t what);
  const char* end_capture(const char* s, const char* p);
  const char* match_capture(const char* s, int c);
  // The pattern byte at p, or '\0' past its end (as Lua reads its terminator).
  char at(const char* p) const { return p < pattern_end_ ? *p : '\0'; }
  void step(std::uint64_t n = 1) {
    unmetered_ += n;
    if (unmetered_ >= kMeterEvery) flush();
  }

  const char* subject_;
  const char* subject_end_;
  const char* pattern_end_;
  Meter meter_;
  std::uint64_t unmetered_ = 0;
  int depth_left_ = kMaxRecursion;
  int level_ = 0;
  Capture captures_[kMaxCaptures];
};

// True when `pattern` has none of Lua's special characters, so string.find may search
// for it as plain text.
bool has_no_specials(const char* pattern, std::size_t length);

}  // namespace perdiem::lua::pattern
