// memory.* from plans and the trace of every run: what persists across runs in one
// memory.db, what a trace holds, and that an API key never reaches the file.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <optional>
#include <mutex>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "perdiem/perdiem.hpp"
#include "runtime/memory/memory_store.hpp"
#include "tests/support/threads.hpp"

using namespace perdiem;
using perdiem::testing::thread_count;
using namespace std::chrono_literals;

namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/perdiem-memory-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

std::unique_ptr<Runtime> sim_runtime(const std::string& memory_path) {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.memory_path = memory_path;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
  return std::move(runtime).value();
}

RunResult run(Runtime& runtime, const char* source) {
  return runtime.run_script(source, "memory.lua", {});
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace

TEST_CASE("facts, threads and remembered text persist across runs and runtimes") {
  TempDir dir;
  const std::string db = dir.path + "/memory.db";
  {
    auto runtime = sim_runtime(db);
    RunResult first = run(*runtime, R"(
      memory.set("profile", "name", "Ada")
      memory.thread("chat"):append("user", "hello")
      memory.remember("The vault code is kept in the blue folder.", {ns = "notes"})
      return "stored")");
    REQUIRE_MESSAGE(first.ok(), first.error->describe());
  }
  auto runtime = sim_runtime(db);
  RunResult second = run(*runtime, R"(
    local history = memory.thread("chat"):history{}
    local hits = memory.recall("vault code", {ns = "notes"})
    return memory.get("profile", "name") .. "|" .. history[1].content .. "|" .. hits[1].text)");
  REQUIRE_MESSAGE(second.ok(), second.error->describe());
  CHECK(second.text == "Ada|hello|The vault code is kept in the blue folder.");
}

TEST_CASE("vector recall embeds through the metered model.embed path") {
  auto runtime = sim_runtime("");
  RunResult result = run(*runtime, R"(
    local r = memory.remember("Cats purr. Dogs bark.", {embed = true})
    local hits = memory.recall("do cats purr", {mode = "vector", k = 1})
    return r.embedded .. ":" .. #hits)");
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "1:1");
  CHECK(result.usage.model_calls == 2);  // the chunk, then the query
}

TEST_CASE("memory errors are catchable error tables or clear argument errors") {
  auto runtime = sim_runtime("");
  RunResult bad_mode = run(*runtime, R"(
    local ok, err = pcall(memory.recall, "x", {mode = "psychic"})
    return tostring(ok) .. ":" .. err.kind)");
  REQUIRE_MESSAGE(bad_mode.ok(), bad_mode.error->describe());
  CHECK(bad_mode.text == "false:invalid_argument");
  RunResult bad_value = run(*runtime, R"(memory.set("ns", "key", function() end))");
  REQUIRE_FALSE(bad_value.ok());
  RunResult no_name = run(*runtime, R"(memory.thread(42))");
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.error->message.find("memory.thread: name must be a string") != std::string::npos);
}

TEST_CASE("every run and model call is traced in memory.db") {
  TempDir dir;
  const std::string db = dir.path + "/memory.db";
  std::string run_id;
  {
    auto runtime = sim_runtime(db);
    RunOptions options;
    options.args = {"first-arg"};
    options.agent = "tracer";
    RunResult result = runtime->run_script(R"(
      local a = model.chat{messages = {{role = "user", content = "reply with exactly: A"}}}
      model.embed("vectors too")
      return a.content)",
                                           "traced.lua", options);
    REQUIRE(result.ok());
    run_id = result.run_id;
  }
  auto store = memory::MemoryStore::open(db);
  REQUIRE(store.ok());
  auto detail = (*store)->get_run(run_id);
  REQUIRE_MESSAGE(detail.ok(), detail.error().describe());
  CHECK(detail->run.status == "ok");
  CHECK(detail->run.agent == "tracer");
  CHECK(detail->run.script_path == "traced.lua");
  CHECK(detail->run.args["args"] == nlohmann::json::array({"first-arg"}));
  CHECK(detail->run.result == "A");
  REQUIRE(detail->steps.size() == 2);
  CHECK(detail->steps[0].kind == "model");
  CHECK(detail->steps[0].request["messages"][0]["content"] == "reply with exactly: A");
  CHECK(detail->steps[0].response["content"] == "A");
  CHECK(detail->steps[0].provider == "sim");
  CHECK_FALSE(detail->steps[0].receipt_id.empty());
  // The row holds the request as sent (hashed as replay hashes it), the answer with its
  // usage, and how the router served it.
  const memory::StepRecord& chat = detail->steps[0];
  CHECK(chat.request["model"].is_string());
  CHECK(chat.request["max_tokens"].is_number_integer());
  CHECK(chat.request_hash == (*store)->request_hash(chat.request));
  CHECK(chat.response["usage"]["input_tokens"] == chat.input_tokens);
  CHECK(chat.response["usage"]["output_tokens"] == chat.output_tokens);
  CHECK(chat.response["tool_calls"].is_array());
  const nlohmann::json& route = chat.response["route"];
  REQUIRE(route["attempts"].size() == 1);
  CHECK(route["attempts"][0]["provider"] == "sim");
  CHECK(route["attempts"][0]["outcome"] == "ok");
  CHECK(route["attempts"][0]["attempt"] == 1);
  CHECK(route["decision"].is_string());
  CHECK(route["policy"].is_string());
  CHECK_FALSE(route.contains("charged_failures"));
  CHECK(detail->steps[1].kind == "embed");
  CHECK(detail->steps[1].response["vectors"][0].size() == 384);
}

TEST_CASE("an API key never reaches memory.db or an export, even when a server echoes it") {
  const std::string key = "sk-live-5e1f0c9a8b7d6e5f4a3b2c1d0e9f8a7b";
  // A server that quotes the Authorization header back in its answer.
  httplib::Server server;
  server.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
    nlohmann::json body = {{"choices",
                            {{{"message",
                               {{"role", "assistant"},
                                {"content", "you sent " + req.get_header_value("Authorization")}}},
                              {"finish_reason", "stop"}}}},
                           {"model", "echo"},
                           {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 4}}}};
    res.set_content(body.dump(), "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  TempDir dir;
  const std::string db = dir.path + "/memory.db";
  ::setenv("PERDIEM_API_KEY", key.c_str(), 1);
  RuntimeOptions options;
  options.provider.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  options.memory_path = db;
  auto runtime = Runtime::create(std::move(options));
  ::unsetenv("PERDIEM_API_KEY");
  REQUIRE(runtime.ok());
  RunResult result = (*runtime)->run_script(R"(
    local reply = model.chat{messages = {{role = "user", content = "hi"}}}
    memory.set("log", "last", reply.content)
    return reply.content)",
                                            "echo.lua", {});
  server.stop();
  serving.join();
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text.find(key) == std::string::npos);
  runtime->reset();

  for (const char* suffix : {"", "-wal", "-shm"}) {
    CHECK(file_bytes(db + suffix).find(key) == std::string::npos);
  }
  auto store = memory::MemoryStore::open(db);
  REQUIRE(store.ok());
  auto exported = (*store)->export_run_jsonl(result.run_id);
  REQUIRE(exported.ok());
  CHECK(exported->find("you sent") != std::string::npos);
  CHECK(exported->find(key) == std::string::npos);
}

TEST_CASE("memory.* as tools for the model, behind the memory.* grant") {
  auto runtime = sim_runtime("");
  const char* plan = R"(
    tool.call("memory.set", {ns = "prefs", key = "tz", value = {zone = "UTC"}})
    tool.call("memory.remember", {text = "The launch is on Friday.", ns = "plans"})
    local hits = tool.call("memory.recall", {query = "launch", ns = "plans"})
    return tool.call("memory.get", {ns = "prefs", key = "tz"}).zone .. " " .. hits[1].text)";
  RunOptions granted;
  granted.allowed_tools = {"memory.*"};
  RunResult result = runtime->run_script(plan, "memory_tools.lua", granted);
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "UTC The launch is on Friday.");

  RunResult refused = runtime->run_script(plan, "memory_tools.lua", {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error->kind == ErrorKind::tool);
  CHECK(refused.error->message.find("--allow-tool memory.set") != std::string::npos);
}

TEST_CASE("runs that end together are closed in batches: few threads, and each is durable "
          "when its handle says it finished") {
  TempDir dir;
  auto runtime = sim_runtime(dir.path + "/memory.db");
  const int before = thread_count();
  std::atomic<bool> sampling{true};
  std::atomic<int> most{0};
  std::thread sampler([&] {
    while (sampling) {
      most = std::max(most.load(), thread_count());
      std::this_thread::sleep_for(1ms);
    }
  });
  std::vector<std::shared_ptr<RunHandle>> runs;
  for (int i = 0; i < 600; ++i) {
    runs.push_back(runtime->start_script(
        "return model.chat{messages = {{role = 'user', content = 'hi'}}}.content", "end.lua", {}));
  }
  auto store = memory::MemoryStore::open(dir.path + "/memory.db");
  REQUIRE(store.ok());
  for (auto& run : runs) {
    const RunResult& result = run->wait();
    REQUIRE_MESSAGE(result.ok(), result.error->describe());
    // Another connection sees the run's end as soon as its handle has finished.
    auto detail = (*store)->get_run(result.run_id);
    REQUIRE_MESSAGE(detail.ok(), detail.error().describe());
    CHECK(detail->run.status == "ok");
    CHECK(detail->run.cost_nanos == result.usage.cost);
    CHECK(detail->steps.size() == 1);
  }
  sampling = false;
  sampler.join();
  // Closing blocks on the disk, but in batches on one pool thread, not a thread per run.
  CHECK(most.load() - before < 30);
}

TEST_CASE("cancelling a run abandons its model call in flight: it ends in seconds, not at the "
          "provider's pace") {
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  httplib::Server server;
  server.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock lock(mutex);
    released_cv.wait_for(lock, 30s, [&] { return released; });
    res.set_content("{}", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::sleep_for(1ms);

  TempDir dir;
  RuntimeOptions options;
  options.provider.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  options.provider.use_environment = false;
  options.memory_path = dir.path + "/memory.db";
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
  auto run = (*runtime)->start_script(
      "return model.chat{messages = {{role = 'user', content = 'hi'}}}.content", "slow.lua", {});
  std::this_thread::sleep_for(300ms);  // the request is at the server
  const auto cancelled_at = std::chrono::steady_clock::now();
  run->cancel();
  std::optional<RunResult> result = run->wait_for(15s);
  const auto took = std::chrono::steady_clock::now() - cancelled_at;
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  released_cv.notify_all();
  REQUIRE(result.has_value());
  REQUIRE_FALSE(result->ok());
  CHECK(result->error->kind == ErrorKind::cancelled);
  CHECK(took < 10s);  // the server would have held it 30 s
  runtime->reset();
  server.stop();
  serving.join();
}
