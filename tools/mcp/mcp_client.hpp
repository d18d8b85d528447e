// An MCP client over the stdio transport: starts the server process, speaks JSON-RPC
// 2.0 to it one line at a time, performs the initialize handshake, lists and calls its
// tools.
//
// One reader thread per server reads its stdout (responses, notifications, requests)
// and stderr (kept, last few KiB, for error messages). Server requests get an answer:
// "ping" an empty result, anything else "method not found" (perdiem offers no sampling,
// roots or elicitation). Notifications are read and dropped, except that
// tools/list_changed is remembered (tools_changed()).
//
// Failure is always an Error, never a hang: each request has a timeout (then the server
// is told notifications/cancelled); a server that exits fails every request in flight
// and every later one with its exit status and the tail of its stderr; a server that
// writes something that is not JSON-RPC, or answers an id no request has, is treated as
// broken the same way, since its later answers cannot be trusted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "tools/subprocess.hpp"

namespace perdiem::tools::mcp {

// A server as the config file declares it ("mcpServers": {"name": {...}}).
struct McpServerConfig {
  std::string name;     // its tools register as "name.tool"
  std::string command;  // "node", "npx", "/usr/bin/my-server"
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // added to the inherited variables below
  std::string cwd;                         // "" keeps this process's directory
  // Variables passed through from this process. Anything else (API keys above all)
  // reaches the server only when named in `env`.
  std::vector<std::string> inherit_env = {"HOME", "LOGNAME", "PATH", "SHELL",
                                          "TERM", "USER",    "LANG", "TMPDIR"};
};

struct McpClientOptions {
  std::chrono::milliseconds startup_timeout{30'000};  // process start + initialize
  std::chrono::milliseconds request_timeout{60'000};  // default for every request
  std::size_t max_line_bytes = 8 << 20;               // a longer message breaks the server
  std::size_t max_json_depth = 64;
  std::chrono::milliseconds shutdown_grace{2'000};  // after closing stdin, before SIGTERM
  std::size_t stderr_tail_bytes = 4096;
  std::string protocol_version = "2025-06-18";  // what we ask for
  std::string client_name = "perdiem";
  std::string client_version = "0.1.0";
};

// A tool as the server lists it.
struct McpToolInfo {
  std::string name;
  std::string description;
  nlohmann::json input_schema = nlohmann::json::object();
};

// The protocol versions this client speaks; the server may answer with any of them.
const std::vector<std::string>& supported_protocol_versions();

// Thread-safety: every method may be called from any thread; requests run concurrently.
// Hold it in a shared_ptr: registered tools keep their server alive.
class McpClient {
 public:
  // Starts the server and completes the handshake (initialize, then
  // notifications/initialized). Fails with a message naming the server when it cannot be
  // started, exits, times out, answers nonsense, or speaks an unsupported version.
  static Result<std::shared_ptr<McpClient>> start(const McpServerConfig& config,
                                                  McpClientOptions options = {});
  // Closes the server's stdin, gives it shutdown_grace to exit, then SIGTERM and SIGKILL
  // to its process group.
  ~McpClient();
  McpClient(const McpClient&) = delete;
  McpClient& operator=(const McpClient&) = delete;

  const std::string& name() const { return config_.name; }
  const std::string& protocol_version() const { return protocol_version_; }
  const nlohmann::json& server_info() const { return server_info_; }
  const nlohmann::json& server_capabilities() const { return capabilities_; }

  // Every tool, following nextCursor through all pages (at most 1000 pages).
  Result<std::vector<McpToolInfo>> list_tools();
  // tools/call. A result with isError is returned as is (mcp_tools.hpp maps it).
  Result<nlohmann::json> call_tool(const std::string& tool, const nlohmann::json& arguments,
                                   std::optional<std::chrono::milliseconds> timeout = {});
  // Any request; the "result" member, or an error (JSON-RPC errors become kind `tool`,
  // or invalid_argument for -32602).
  Result<nlohmann::json> request(const std::string& method, const nlohmann::json& params,
                                 std::optional<std::chrono::milliseconds> timeout = {});
  Status notify(const std::string& method, const nlohmann::json& params);

  // False once the server exited or broke the protocol; then every call fails.
  bool alive() const;
  // True once the server sent notifications/tools/list_changed (list again to refresh).
  bool tools_changed() const;

 private:
  struct Pending {
    bool done = false;
    std::optional<Result<nlohmann::json>> outcome;
  };

  McpClient(McpServerConfig config, McpClientOptions options);
  Status launch();
  Status handshake();
  Status send_line(const std::string& line);
  void read_loop();
  void handle_line(const std::string& line);
  // Marks the connection dead with `error` and fails every request in flight.
  void fail_all(Error error);
  Error server_error(ErrorKind kind, const std::string& what) const;
  std::string stderr_tail() const;

  McpServerConfig config_;
  McpClientOptions options_;
  ChildProcess child_;
  UniqueFd wake_read_;  // written to stop the reader thread
  UniqueFd wake_write_;
  std::thread reader_;

  std::string protocol_version_;
  nlohmann::json server_info_ = nlohmann::json::object();
  nlohmann::json capabilities_ = nlohmann::json::object();

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable answered_;
  std::int64_t next_id_ = 1;
  std::map<std::int64_t, std::shared_ptr<Pending>> pending_;
  std::set<std::int64_t> abandoned_;  // timed out: a late answer is not a protocol error
  std::optional<Error> broken_;
  bool tools_changed_ = false;
  bool exited_ = false;
  std::optional<int> exit_status_;
  std::string stderr_;

  std::mutex write_mutex_;  // one line at a time on the server's stdin
  std::mutex reap_mutex_;   // the child is reaped once, by whoever gets there first
  bool reaped_ = false;
};

}  // namespace perdiem::tools::mcp
