// Provider health across runs: the router's HealthBook (latency averages, success rates,
// circuit breakers) read from and written to a JSON file, so a provider that failed a
// minute ago in another run is not the first one tried again. Internal to sdk/src.
//
// The file is rewritten whole (temporary file, then rename) after each run; processes
// sharing it race harmlessly: the last writer wins, and health is advice, not money.
// Thread-safety: save() may be called from several runs at once.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "perdiem/perdiem.hpp"
#include "runtime/router/health.hpp"

namespace perdiem::sdk {

using LogSink = std::function<void(LogLevel, std::string_view)>;

class HealthStore {
 public:
  explicit HealthStore(std::string path) : path_(std::move(path)) {}

  // Loads the file into `book`. A missing file is a fresh start; an unreadable or
  // malformed one is reported through `log` and ignored (then overwritten by save()).
  void load(router::HealthBook& book, const LogSink& log) const;
  // Writes `book` to the file; a failure is reported through `log`, never fatal.
  void save(const router::HealthBook& book, const LogSink& log);

 private:
  std::string path_;  // "" = nothing persists
  std::mutex save_mutex_;
};

}  // namespace perdiem::sdk
