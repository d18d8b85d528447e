// The live progress line `perdiem run` keeps on stderr while a run works, when stderr is
// a terminal: agents, calls in flight, steps, tokens, spend, elapsed. Redrawn in place a
// few times a second and erased before anything else is printed, so it never ends up in
// a log or a pipe (where it is not drawn at all).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "perdiem/events.hpp"

namespace perdiem::cli {

class ProgressLine {
 public:
  // Draws on file descriptor `fd` every `period` from start() to stop().
  explicit ProgressLine(int fd, std::chrono::milliseconds period = std::chrono::milliseconds(250));
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Counts one step event; called on the runs' threads (RuntimeOptions::on_step).
  void record(const StepEvent& event);
  // Counts a run starting or ending (RuntimeOptions::on_run): the agents running.
  void record(const RunEvent& event);
  void start();
  // Erases the line and stops drawing. Idempotent.
  void stop();

  // The line as it would be drawn now, without the terminal controls.
  std::string text() const;

  // Writes `line` (newline included) where the progress line is; the next redraw puts
  // the progress line back under it. Serialised with the drawing, so the two never
  // interleave. Thread-safe.
  void print_above(std::string_view line);

 private:
  void draw_loop();
  std::string text_locked() const;  // mutex_ held
  void write_all(std::string_view bytes) const;

  const int fd_;
  const std::chrono::milliseconds period_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> running_{0};  // the run and its sub-agents still going
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::int64_t> steps_{0};
  std::atomic<std::int64_t> tokens_{0};
  std::atomic<std::int64_t> spent_nanos_{0};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread drawer_;
};

}  // namespace perdiem::cli
