// Provider health across runs: the router's HealthBook (latency averages, success rates,
// circuit breakers) read from and written to a JSON file, so a provider that failed a
// minute ago in another run is not the first one tried again. Internal to sdk/src.
//
// The file is rewritten whole (temporary file, then rename) after a run, at most once a
// second (kSaveInterval): a run ending within a second of the last write defers it to the
// next run ending a second or more later, or to the store's destruction. Ten thousand
// short runs ending together write it a handful of times, not ten thousand. A crash
// loses what was learned since the last write. Processes sharing the file race
// harmlessly: the last writer wins, and health is advice, not money.
// Thread-safety: save() may be called from several runs at once.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "perdiem/perdiem.hpp"
#include "runtime/router/health.hpp"

namespace perdiem::sdk {

using LogSink = std::function<void(LogLevel, std::string_view)>;

class HealthStore {
 public:
  static constexpr std::chrono::seconds kSaveInterval{1};

  // `book` is what save() writes; it must outlive the store.
  HealthStore(std::string path, const router::HealthBook& book, LogSink log)
      : path_(std::move(path)), book_(book), log_(std::move(log)) {}
  ~HealthStore();  // writes the book if a save() since the last write was deferred
  HealthStore(const HealthStore&) = delete;
  HealthStore& operator=(const HealthStore&) = delete;

  // Loads the file into `book`. A missing file is a fresh start; an unreadable or
  // malformed one is reported through the log and ignored (then overwritten by save()).
  void load(router::HealthBook& book) const;
  // A run ended: writes the book to the file, now if the last write is older than
  // kSaveInterval, else at the next save() after that or at destruction. A failure is
  // reported through the log, never fatal.
  void save();

 private:
  void write();  // save_mutex_ held

  std::string path_;  // "" = nothing persists
  const router::HealthBook& book_;
  LogSink log_;
  std::mutex save_mutex_;  // guards the two below and the file
  std::optional<std::chrono::steady_clock::time_point> last_write_;
  bool deferred_ = false;  // a save() came within kSaveInterval of the last write
};

}  // namespace perdiem::sdk
