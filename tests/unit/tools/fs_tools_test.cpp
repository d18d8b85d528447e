// fs.* confinement: traversal, absolute paths, symlink escapes (both resolvers), and the
// read, write and list tools themselves.
#include "tools/builtin/fs_tools.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "tools/executor.hpp"
#include "unit/tools/temp_dir.hpp"

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;
using perdiem::testing::TempDir;

namespace {

struct Fixture {
  TempDir dir;
  std::string root = dir / "ws";
  ToolRegistry registry;
  std::unique_ptr<ToolExecutor> executor;

  explicit Fixture(Workspace::Resolver resolver = Workspace::Resolver::automatic,
                   FsToolOptions options = {}) {
    dir.write("ws/notes.txt", "hello");
    dir.write("ws/sub/inner.txt", "inner");
    dir.write("secret.txt", "top secret");
    std::filesystem::create_directory(dir / "outside");
    // Links inside the workspace: one staying inside, three leading out.
    REQUIRE(::symlink("notes.txt", (root + "/inside-link").c_str()) == 0);
    REQUIRE(::symlink("../secret.txt", (root + "/up-link").c_str()) == 0);
    REQUIRE(::symlink((dir / "secret.txt").c_str(), (root + "/abs-link").c_str()) == 0);
    REQUIRE(::symlink((dir / "outside").c_str(), (root + "/out-dir").c_str()) == 0);
    auto workspace = Workspace::open(root, resolver);
    REQUIRE(workspace.ok());
    auto shared = std::make_shared<const Workspace>(std::move(workspace).value());
    REQUIRE(registry.add(make_fs_read_tool(shared, options)).ok());
    REQUIRE(registry.add(make_fs_write_tool(shared, options)).ok());
    REQUIRE(registry.add(make_fs_list_tool(shared, options)).ok());
    ToolGrants grants;
    grants.allow("fs.*");
    executor = std::make_unique<ToolExecutor>(registry, grants);
  }

  Result<json> call(const std::string& tool, const json& args) {
    return executor->invoke(tool, args, {});
  }
  std::string error_of(const std::string& tool, const json& args) {
    auto result = call(tool, args);
    return result.ok() ? "(no error)" : result.error().message;
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("fs.read reads inside the workspace, through inner symlinks") {
  Fixture f;
  auto read = f.call("fs.read", {{"path", "notes.txt"}});
  REQUIRE(read.ok());
  CHECK((*read)["content"] == "hello");
  CHECK((*read)["truncated"] == false);
  CHECK(f.call("fs.read", {{"path", "sub/inner.txt"}}).value()["content"] == "inner");
  CHECK(f.call("fs.read", {{"path", "./sub//inner.txt"}}).value()["content"] == "inner");
  CHECK(f.call("fs.read", {{"path", "inside-link"}}).value()["content"] == "hello");
}

TEST_CASE("fs refuses traversal, absolute paths and symlinks that lead out") {
  for (auto resolver : {Workspace::Resolver::automatic, Workspace::Resolver::component_walk}) {
    CAPTURE(static_cast<int>(resolver));
    Fixture f(resolver);
    std::string up = f.error_of("fs.read", {{"path", "../secret.txt"}});
    CHECK(contains(up, "path '../secret.txt' is refused: it contains '..'"));
    CHECK(contains(up, "--workspace"));
    CHECK(contains(f.error_of("fs.read", {{"path", "sub/../../secret.txt"}}), "contains '..'"));
    CHECK(contains(f.error_of("fs.read", {{"path", f.dir / "secret.txt"}}),
                   "it is an absolute path"));
    CHECK(contains(f.error_of("fs.read", {{"path", "up-link"}}), "is refused"));
    CHECK(contains(f.error_of("fs.read", {{"path", "abs-link"}}), "is refused"));
    CHECK(contains(f.error_of("fs.read", {{"path", "out-dir/x.txt"}}), "is refused"));
    CHECK(contains(f.error_of("fs.list", {{"path", "out-dir"}}), "is refused"));
    CHECK(contains(f.error_of("fs.write", {{"path", "out-dir/new.txt"}, {"content", "x"}}),
                   "is refused"));
    CHECK(contains(f.error_of("fs.write", {{"path", "up-link"}, {"content", "pwned"}}),
                   "is refused"));
    CHECK(f.dir.read("secret.txt") == "top secret");
    CHECK_FALSE(std::filesystem::exists(f.dir / "outside/new.txt"));
  }
}

TEST_CASE("the fallback resolver refuses even symlinks that stay inside") {
  Fixture f(Workspace::Resolver::component_walk);
  CHECK(contains(f.error_of("fs.read", {{"path", "inside-link"}}), "goes through a symlink"));
}

TEST_CASE("fs.write creates, overwrites, appends and refuses to clobber in create mode") {
  Fixture f;
  REQUIRE(f.call("fs.write", {{"path", "out.txt"}, {"content", "one"}}).ok());
  CHECK(f.dir.read("ws/out.txt") == "one");
  REQUIRE(f.call("fs.write", {{"path", "out.txt"}, {"content", "+two"}, {"mode", "append"}}).ok());
  CHECK(f.dir.read("ws/out.txt") == "one+two");
  REQUIRE(f.call("fs.write", {{"path", "out.txt"}, {"content", "new"}}).ok());
  CHECK(f.dir.read("ws/out.txt") == "new");
  CHECK(
      contains(f.error_of("fs.write", {{"path", "out.txt"}, {"content", "x"}, {"mode", "create"}}),
               "already exists"));
  CHECK(contains(f.error_of("fs.write", {{"path", "a/b/c.txt"}, {"content", "x"}}),
                 "does not exist"));
  REQUIRE(
      f.call("fs.write", {{"path", "a/b/c.txt"}, {"content", "deep"}, {"make_dirs", true}}).ok());
  CHECK(f.dir.read("ws/a/b/c.txt") == "deep");
  CHECK(contains(
      f.error_of("fs.write", {{"path", "out-dir/x/y.txt"}, {"content", "x"}, {"make_dirs", true}}),
      "is refused"));
  CHECK_FALSE(std::filesystem::exists(f.dir / "outside/x"));
}

TEST_CASE("fs caps: reads are truncated, large writes refused") {
  FsToolOptions options;
  options.max_read_bytes = 3;
  options.max_write_bytes = 4;
  Fixture f(Workspace::Resolver::automatic, options);
  auto read = f.call("fs.read", {{"path", "notes.txt"}});
  REQUIRE(read.ok());
  CHECK((*read)["content"] == "hel");
  CHECK((*read)["truncated"] == true);
  CHECK((*read)["size"] == 5);
  CHECK(contains(f.error_of("fs.write", {{"path", "x"}, {"content", "12345"}}), "at most 4"));
}

TEST_CASE("fs.list lists a folder without following links") {
  Fixture f;
  auto list = f.call("fs.list", json::object());
  REQUIRE(list.ok());
  json names = json::array();
  for (const json& entry : (*list)["entries"]) names.push_back(entry["name"]);
  CHECK(names == json{"abs-link", "inside-link", "notes.txt", "out-dir", "sub", "up-link"});
  CHECK((*list)["entries"][2] == json{{"name", "notes.txt"}, {"type", "file"}, {"size", 5}});
  CHECK((*list)["entries"][3]["type"] == "symlink");
  auto sub = f.call("fs.list", {{"path", "sub"}});
  REQUIRE(sub.ok());
  CHECK((*sub)["entries"].size() == 1);
  CHECK(contains(f.error_of("fs.list", {{"path", "notes.txt"}}), "not a directory"));
}

TEST_CASE("fs.read refuses what is not a regular file, without blocking on a FIFO") {
  Fixture f;
  REQUIRE(::mkfifo((f.root + "/pipe").c_str(), 0600) == 0);
  CHECK(contains(f.error_of("fs.read", {{"path", "pipe"}}), "not a regular file"));
  CHECK(contains(f.error_of("fs.read", {{"path", "sub"}}), "not a regular file"));
  CHECK(contains(f.error_of("fs.read", {{"path", "missing.txt"}}), "does not exist"));
}

TEST_CASE("a workspace that does not exist is a config error naming the flag") {
  auto workspace = Workspace::open("/nonexistent/perdiem-ws");
  REQUIRE_FALSE(workspace.ok());
  CHECK(workspace.error().kind == ErrorKind::config);
  CHECK(contains(workspace.error().message, "--workspace"));
}
