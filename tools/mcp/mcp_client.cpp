#include "tools/mcp/mcp_client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "tools/mcp/jsonrpc.hpp"
#include "tools/text.hpp"

namespace perdiem::tools::mcp {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

std::string duration_text(milliseconds ms) {
  return std::to_string(ms.count()) + " ms";
}

}  // namespace

const std::vector<std::string>& supported_protocol_versions() {
  static const std::vector<std::string> versions = {"2025-06-18", "2025-03-26", "2024-11-05"};
  return versions;
}

McpClient::McpClient(McpServerConfig config, McpClientOptions options)
    : config_(std::move(config)), options_(std::move(options)) {}

Result<std::shared_ptr<McpClient>> McpClient::start(const McpServerConfig& config,
                                                    McpClientOptions options) {
  std::shared_ptr<McpClient> client(new McpClient(config, std::move(options)));
  if (Status s = client->launch(); !s.ok()) return s.error();
  if (Status s = client->handshake(); !s.ok()) return s.error();
  return client;
}

Status McpClient::launch() {
  SpawnSpec spec;
  spec.program = config_.command;
  spec.args = config_.args;
  spec.cwd = config_.cwd;
  spec.want_stdin = true;
  for (const std::string& entry : inherit_environment(config_.inherit_env)) {
    std::string name = entry.substr(0, entry.find('='));
    if (config_.env.count(name) == 0) spec.env.push_back(entry);
  }
  for (const auto& [name, value] : config_.env) spec.env.push_back(name + "=" + value);
  Result<ChildProcess> child = spawn_process(spec);
  if (!child.ok()) {
    return server_error(ErrorKind::config, "cannot be started: " + child.error().message +
                                               " (check its command in the config file)");
  }
  child_ = std::move(child).value();
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    return server_error(ErrorKind::internal, "cannot be watched: pipe failed");
  }
  wake_read_ = UniqueFd(wake[0]);
  wake_write_ = UniqueFd(wake[1]);
  try {
    reader_ = std::thread([this] { read_loop(); });
  } catch (const std::system_error&) {
    return server_error(ErrorKind::internal, "cannot be watched: no thread available");
  }
  return {};
}

Status McpClient::handshake() {
  json params = {
      {"protocolVersion", options_.protocol_version},
      {"capabilities", json::object()},
      {"clientInfo", {{"name", options_.client_name}, {"version", options_.client_version}}}};
  Result<json> result = request("initialize", params, options_.startup_timeout);
  if (!result.ok()) return result.error();
  if (!result->is_object() || !result->contains("protocolVersion") ||
      !(*result)["protocolVersion"].is_string()) {
    return server_error(ErrorKind::bad_response,
                        "answered initialize without a protocolVersion; it may not be an "
                        "MCP server");
  }
  protocol_version_ = (*result)["protocolVersion"].get<std::string>();
  const auto& versions = supported_protocol_versions();
  if (std::find(versions.begin(), versions.end(), protocol_version_) == versions.end()) {
    return server_error(ErrorKind::bad_response,
                        "speaks MCP version " + protocol_version_ +
                            ", which perdiem does not support (it speaks " + versions.front() +
                            ", " + versions[1] + " and " + versions[2] + ")");
  }
  if (auto info = result->find("serverInfo"); info != result->end()) server_info_ = *info;
  if (auto caps = result->find("capabilities"); caps != result->end()) capabilities_ = *caps;
  return notify("notifications/initialized", nullptr);
}

McpClient::~McpClient() {
  if (child_.stdin_fd.valid()) {
    std::lock_guard write_lock(write_mutex_);
    ::shutdown(child_.stdin_fd.get(), SHUT_WR);  // EOF: a polite server exits now
  }
  if (child_.pid > 0) {
    {
      std::unique_lock lock(mutex_);
      answered_.wait_for(lock, options_.shutdown_grace, [this] { return exited_; });
    }
    std::lock_guard reap_lock(reap_mutex_);
    if (!reaped_) {
      terminate_child(child_.pid, milliseconds(500));
      reaped_ = true;
    }
  }
  if (wake_write_.valid()) {
    char byte = 1;
    while (::write(wake_write_.get(), &byte, 1) < 0 && errno == EINTR) {
    }
  }
  if (reader_.joinable()) reader_.join();
}

Error McpClient::server_error(ErrorKind kind, const std::string& what) const {
  return make_error(kind, "MCP server '" + config_.name + "' " + what, config_.name);
}

std::string McpClient::stderr_tail() const {
  std::lock_guard lock(mutex_);
  std::string tail = stderr_;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail.empty() ? "" : "; its stderr ends with: " + sanitize_utf8(tail);
}

bool McpClient::alive() const {
  std::lock_guard lock(mutex_);
  return !broken_.has_value();
}

bool McpClient::tools_changed() const {
  std::lock_guard lock(mutex_);
  return tools_changed_;
}

Status McpClient::send_line(const std::string& line) {
  std::lock_guard lock(write_mutex_);
  if (!child_.stdin_fd.valid()) return server_error(ErrorKind::transport, "is shut down");
  return write_to_child(child_.stdin_fd.get(), line + "\n");
}

Status McpClient::notify(const std::string& method, const json& params) {
  {
    std::lock_guard lock(mutex_);
    if (broken_) return *broken_;
  }
  return send_line(notification_line(method, params));
}

Result<json> McpClient::request(const std::string& method, const json& params,
                                std::optional<milliseconds> timeout) {
  milliseconds limit = timeout.value_or(options_.request_timeout);
  auto pending = std::make_shared<Pending>();
  std::int64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (broken_) return *broken_;
    id = next_id_++;
    pending_[id] = pending;
  }
  if (Status sent = send_line(request_line(id, method, params)); !sent.ok()) {
    // The server probably died: give the reader a moment to learn how, for a better error.
    std::unique_lock lock(mutex_);
    answered_.wait_for(lock, milliseconds(1000), [&] { return pending->done; });
    pending_.erase(id);
    if (pending->done) return *pending->outcome;
    return server_error(ErrorKind::transport, "cannot be written to: " + sent.error().message);
  }
  std::unique_lock lock(mutex_);
  if (!answered_.wait_for(lock, limit, [&] { return pending->done; })) {
    pending_.erase(id);
    abandoned_.insert(id);
    lock.unlock();
    (void)send_line(notification_line(
        "notifications/cancelled",
        {{"requestId", id}, {"reason", "timed out after " + duration_text(limit)}}));
    return server_error(ErrorKind::timeout,
                        "did not answer " + method + " within " + duration_text(limit));
  }
  pending_.erase(id);
  return *pending->outcome;
}

Result<std::vector<McpToolInfo>> McpClient::list_tools() {
  std::vector<McpToolInfo> tools;
  std::set<std::string> cursors;
  json params = json::object();
  for (int page = 0; page < 1000; ++page) {
    Result<json> result = request("tools/list", params);
    if (!result.ok()) return result.error();
    auto list = result->find("tools");
    if (!result->is_object() || list == result->end() || !list->is_array()) {
      return server_error(ErrorKind::bad_response, "answered tools/list without a tools array");
    }
    for (const json& item : *list) {
      if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) {
        return server_error(ErrorKind::bad_response, "listed a tool without a name");
      }
      McpToolInfo info;
      info.name = item["name"].get<std::string>();
      if (auto d = item.find("description"); d != item.end() && d->is_string()) {
        info.description = d->get<std::string>();
      }
      if (auto s = item.find("inputSchema"); s != item.end() && s->is_object()) {
        info.input_schema = *s;
      }
      tools.push_back(std::move(info));
    }
    auto next = result->find("nextCursor");
    if (next == result->end() || !next->is_string() || next->get<std::string>().empty()) {
      return tools;
    }
    if (!cursors.insert(next->get<std::string>()).second) {
      return server_error(ErrorKind::bad_response, "repeated a tools/list cursor");
    }
    params = {{"cursor", *next}};
  }
  return server_error(ErrorKind::bad_response, "listed more than 1000 pages of tools");
}

Result<json> McpClient::call_tool(const std::string& tool, const json& arguments,
                                  std::optional<milliseconds> timeout) {
  json params = {{"name", tool}, {"arguments", arguments.is_null() ? json::object() : arguments}};
  return request("tools/call", params, timeout);
}

}  // namespace perdiem::tools::mcp
