// The reading half of McpClient: one thread per server that reads its stdout (split into
// lines, each a JSON-RPC message) and stderr (kept for error messages), answers server
// requests, and completes or fails the requests in flight.
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include "tools/mcp/jsonrpc.hpp"
#include "tools/mcp/mcp_client.hpp"  // the class whose reader half this is
#include "tools/text.hpp"

namespace perdiem::tools::mcp {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string excerpt(std::string_view line) {
  std::string text = sanitize_utf8(line.substr(0, utf8_prefix_length(line, 120)));
  return "'" + text + (line.size() > 120 ? "...'" : "'");
}

}  // namespace

void McpClient::fail_all(Error error) {
  std::lock_guard lock(mutex_);
  if (!broken_) broken_ = error;
  for (auto& [id, pending] : pending_) {
    if (pending->done) continue;
    pending->done = true;
    pending->outcome = *broken_;
  }
  answered_.notify_all();
}

void McpClient::handle_line(const std::string& line) {
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  {
    std::lock_guard lock(mutex_);
    if (broken_) return;  // nothing it says now can be trusted
  }
  Result<Incoming> parsed = parse_message(line, options_.max_json_depth);
  if (!parsed.ok()) {
    fail_all(server_error(ErrorKind::bad_response,
                          "broke the protocol: " + parsed.error().message + ": " + excerpt(line)));
    return;
  }
  Incoming& in = *parsed;
  switch (in.kind) {
    case Incoming::Kind::request:
      // Ping must be answered; perdiem offers the server nothing else.
      (void)send_line(in.method == "ping" ? result_line(in.id, json::object())
                                          : error_line(in.id, kMethodNotFound,
                                                       "perdiem does not offer " + in.method));
      return;
    case Incoming::Kind::notification:
      if (in.method == "notifications/tools/list_changed") {
        std::lock_guard lock(mutex_);
        tools_changed_ = true;
      }
      return;
    case Incoming::Kind::result:
    case Incoming::Kind::error:
      break;
  }
  std::unique_lock lock(mutex_);
  auto it = in.id.is_number_integer() ? pending_.find(in.id.get<std::int64_t>()) : pending_.end();
  if (it == pending_.end()) {
    if (in.id.is_number_integer() && abandoned_.erase(in.id.get<std::int64_t>()) != 0) return;
    lock.unlock();
    fail_all(server_error(
        ErrorKind::bad_response,
        "broke the protocol: it answered id " + in.id.dump() + ", which no request in flight has"));
    return;
  }
  Pending& pending = *it->second;
  pending.done = true;
  if (in.kind == Incoming::Kind::result) {
    pending.outcome = in.result;
  } else {
    ErrorKind kind =
        in.error_code == kInvalidParams ? ErrorKind::invalid_argument : ErrorKind::tool;
    pending.outcome = Result<json>(server_error(kind, "refused the request: " + in.error_message +
                                                          " (JSON-RPC error " +
                                                          std::to_string(in.error_code) + ")"));
  }
  answered_.notify_all();
}

void McpClient::read_loop() {
  std::string buffer;
  bool discarding = false;  // inside a line longer than max_line_bytes
  char chunk[65536];
  int out_fd = child_.stdout_fd.get();
  int err_fd = child_.stderr_fd.get();
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd fds[3] = {{out_open ? out_fd : -1, POLLIN, 0},
                     {err_open ? err_fd : -1, POLLIN, 0},
                     {wake_read_.get(), POLLIN, 0}};
    // Once stdout closed, stderr gets a short while to deliver the server's last words.
    int wait = out_open ? -1 : 200;
    int rc = ::poll(fds, 3, wait);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || fds[2].revents != 0) return;  // told to stop
    if (rc == 0) break;                         // stderr quiet after stdout closed
    if (fds[1].revents != 0) {
      ssize_t n = ::read(err_fd, chunk, sizeof chunk);
      if (n > 0) {
        std::lock_guard lock(mutex_);
        stderr_.append(chunk, static_cast<std::size_t>(n));
        if (stderr_.size() > options_.stderr_tail_bytes) {
          stderr_.erase(0, stderr_.size() - options_.stderr_tail_bytes);
        }
      } else if (n == 0 || errno != EINTR) {
        err_open = false;
      }
    }
    if (fds[0].revents == 0) continue;
    ssize_t n = ::read(out_fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out_open = false;
      continue;
    }
    buffer.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
      if (discarding) {
        discarding = false;
        continue;
      }
      handle_line(buffer.substr(start, end - start));
    }
    buffer.erase(0, start);
    if (buffer.size() > options_.max_line_bytes) {
      fail_all(server_error(ErrorKind::bad_response,
                            "broke the protocol: it wrote a message longer than " +
                                std::to_string(options_.max_line_bytes) + " bytes"));
      buffer.clear();
      discarding = true;
    }
  }
  // The server closed its output: it exited, or soon will. Learn how, for the error.
  std::optional<int> status;
  {
    std::lock_guard reap_lock(reap_mutex_);
    if (!reaped_) {
      status = wait_for_exit(child_.pid, milliseconds(2000));
      reaped_ = status.has_value();
    }
  }
  std::string how = status ? describe_wait_status(*status) : "closed its output";
  fail_all(server_error(ErrorKind::tool, how + stderr_tail()));
  std::lock_guard lock(mutex_);
  exited_ = true;
  exit_status_ = status;
  answered_.notify_all();
}
}  // namespace perdiem::tools::mcp
