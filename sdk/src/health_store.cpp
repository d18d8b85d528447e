#include "sdk/src/health_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>

#include "sdk/src/home_config.hpp"

namespace perdiem::sdk {
namespace {

constexpr std::size_t kMaxHealthBytes = 1 << 20;

void report(const LogSink& log, const std::string& line) {
  if (log) log(LogLevel::warn, line);
}

}  // namespace

void HealthStore::load(router::HealthBook& book) const {
  const LogSink& log = log_;
  if (path_.empty()) return;
  Result<std::string> text = read_small_file(path_, kMaxHealthBytes, "health.json");
  if (!text) {
    if (text.error().kind != ErrorKind::not_found) {
      report(log, "provider health not loaded: " + text.error().describe());
    }
    return;
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  Status loaded = doc.is_discarded()
                      ? Status(make_error(ErrorKind::invalid_argument, "not JSON"))
                      : book.load_json(doc);
  if (!loaded.ok()) {
    report(log, "provider health in " + path_ + " ignored (" + loaded.error().message +
                    "); it will be rewritten after this run");
  }
}

HealthStore::~HealthStore() {
  std::lock_guard lock(save_mutex_);
  if (deferred_) write();
}

void HealthStore::save() {
  if (path_.empty()) return;
  std::lock_guard lock(save_mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (last_write_ && now - *last_write_ < kSaveInterval) {
    deferred_ = true;
    return;
  }
  write();
}

void HealthStore::write() {
  const LogSink& log = log_;
  last_write_ = std::chrono::steady_clock::now();
  deferred_ = false;
  const std::string text = book_.to_json().dump(1) + "\n";
  const std::string temporary = path_ + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    report(log, "provider health not saved to " + path_ + ": " + std::strerror(errno));
    return;
  }
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  written = ::close(fd) == 0 && written;
  if (!written || std::rename(temporary.c_str(), path_.c_str()) != 0) {
    report(log, "provider health not saved to " + path_ + ": " + std::strerror(errno));
    ::unlink(temporary.c_str());
  }
}

}  // namespace perdiem::sdk
