#include "progress_line.hpp"

#include <unistd.h>

#include <cstdio>

#include "perdiem/wallet.hpp"

namespace perdiem::cli {

ProgressLine::ProgressLine(int fd, std::chrono::milliseconds period) : fd_(fd), period_(period) {}

ProgressLine::~ProgressLine() { stop(); }

void ProgressLine::record(const RunEvent& event) {
  running_ += event.phase == RunPhase::started ? 1 : -1;
}

void ProgressLine::record(const StepEvent& event) {
  if (event.phase == StepPhase::started) {
    in_flight_ += 1;
    return;
  }
  if (event.phase != StepPhase::finished) return;
  in_flight_ -= 1;
  steps_ += 1;
  tokens_ += event.input_tokens + event.output_tokens;
  spent_nanos_ += event.cost_nanos;
}

std::string ProgressLine::text() const {
  std::lock_guard lock(mutex_);
  return text_locked();
}

std::string ProgressLine::text_locked() const {
  // The line is drawn while the run goes, so at least that one is running (its start
  // may not have been counted yet when the line is first drawn).
  const std::int64_t agents = std::max<std::int64_t>(1, running_.load());
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_);
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1fs", static_cast<double>(elapsed.count()) / 1000);
  return "perdiem: " + std::to_string(agents) + (agents == 1 ? " agent, " : " agents, ") +
         std::to_string(in_flight_.load()) + " in flight, " + std::to_string(steps_.load()) +
         " steps, " + std::to_string(tokens_.load()) + " tokens, " +
         format_usd_display(spent_nanos_.load()) + ", " + seconds;
}

void ProgressLine::print_above(std::string_view line) {
  std::lock_guard lock(mutex_);
  write_all("\r\033[K" + std::string(line));
}

void ProgressLine::write_all(std::string_view bytes) const {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

void ProgressLine::start() {
  std::lock_guard lock(mutex_);
  if (drawer_.joinable() || stopping_) return;
  drawer_ = std::thread([this] { draw_loop(); });
}

void ProgressLine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (drawer_.joinable()) drawer_.join();
}

void ProgressLine::draw_loop() {
  // "\r" returns to the start of the line, "\033[K" erases to its end. Drawn under the
  // lock, so print_above's lines never land in the middle of it.
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    write_all("\r\033[K" + text_locked());
  }
  write_all("\r\033[K");
}

}  // namespace perdiem::cli
