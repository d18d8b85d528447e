#include "tools/builtin/fs_tools.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tools/text.hpp"

namespace perdiem::tools {
namespace {

using nlohmann::json;

Error io_error(const std::string& what, const std::string& path) {
  return make_error(ErrorKind::tool, what + " '" + path + "': " + std::strerror(errno), "fs");
}

json path_schema(const char* description) {
  return {{"type", "string"}, {"description", description}};
}

std::string entry_type(mode_t mode) {
  if (S_ISREG(mode)) return "file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symlink";
  return "other";
}

Result<json> read_file(const Workspace& workspace, const FsToolOptions& options, const json& args) {
  std::string path = args["path"];
  std::size_t limit = options.max_read_bytes;
  if (args.contains("max_bytes")) {
    limit = std::min<std::size_t>(limit, args["max_bytes"].get<std::size_t>());
  }
  // O_NONBLOCK: opening a FIFO must not hang the tool; non-regular files are refused.
  Result<UniqueFd> fd = workspace.open_at(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (!fd.ok()) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return io_error("cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::tool, "'" + path + "' is not a regular file", "fs");
  }
  std::string content;
  char buffer[16384];
  while (content.size() < limit) {
    std::size_t want = std::min(sizeof buffer, limit - content.size());
    ssize_t n = ::read(fd->get(), buffer, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot read", path);
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  bool truncated = static_cast<std::size_t>(st.st_size) > content.size();
  return json{{"path", path},
              {"content", sanitize_utf8(content)},
              {"size", static_cast<std::int64_t>(st.st_size)},
              {"truncated", truncated}};
}

Result<json> write_file(const Workspace& workspace, const FsToolOptions& options,
                        const json& args) {
  std::string path = args["path"];
  const std::string& content = args["content"].get_ref<const std::string&>();
  if (content.size() > options.max_write_bytes) {
    return make_error(ErrorKind::tool,
                      "the content is " + std::to_string(content.size()) +
                          " bytes; fs.write accepts at most " +
                          std::to_string(options.max_write_bytes),
                      "fs");
  }
  std::string mode = args.value("mode", "overwrite");
  int flags = O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY;
  if (mode == "append") {
    flags |= O_APPEND;
  } else if (mode == "create") {
    flags |= O_EXCL;
  } else {
    flags |= O_TRUNC;
  }
  if (args.value("make_dirs", false)) {
    std::size_t slash = path.rfind('/');
    if (slash != std::string::npos) {
      if (Status s = workspace.make_dirs(path.substr(0, slash)); !s.ok()) return s.error();
    }
  }
  Result<UniqueFd> fd = workspace.open_at(path, flags, 0644);
  if (!fd.ok()) return fd.error();
  struct stat st {};
  if (::fstat(fd->get(), &st) != 0) return io_error("cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorKind::tool, "'" + path + "' is not a regular file", "fs");
  }
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::write(fd->get(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("cannot write", path);
    written += static_cast<std::size_t>(n);
  }
  return json{{"path", path}, {"bytes_written", written}};
}

Result<json> list_dir(const Workspace& workspace, const FsToolOptions& options, const json& args) {
  std::string path = args.value("path", ".");
  Result<UniqueFd> fd = workspace.open_at(path, O_RDONLY | O_DIRECTORY);
  if (!fd.ok()) return fd.error();
  int dir_fd = fd->get();
  DIR* dir = ::fdopendir(fd->release());
  if (dir == nullptr) {
    ::close(dir_fd);
    return io_error("cannot list", path);
  }
  json entries = json::array();
  bool truncated = false;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (entries.size() >= options.max_list_entries) {
      truncated = true;
      break;
    }
    struct stat st {};
    // Describe links themselves: following one could reveal what lies outside.
    if (::fstatat(dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    json item = {{"name", sanitize_utf8(name)}, {"type", entry_type(st.st_mode)}};
    if (S_ISREG(st.st_mode)) item["size"] = static_cast<std::int64_t>(st.st_size);
    entries.push_back(std::move(item));
  }
  ::closedir(dir);
  std::sort(entries.begin(), entries.end(),
            [](const json& a, const json& b) { return a["name"] < b["name"]; });
  return json{{"path", path}, {"entries", std::move(entries)}, {"truncated", truncated}};
}

}  // namespace

Tool make_fs_read_tool(std::shared_ptr<const Workspace> workspace, FsToolOptions options) {
  Tool tool;
  tool.name = "fs.read";
  tool.description = "Read a text file inside the workspace. Paths are relative to it.";
  tool.parameters = {{"type", "object"},
                     {"properties",
                      {{"path", path_schema("file path relative to the workspace")},
                       {"max_bytes", {{"type", "integer"}, {"minimum", 0}}}}},
                     {"required", {"path"}},
                     {"additionalProperties", false}};
  tool.builtin = true;
  tool.handler = [workspace, options](const json& args, const ToolContext&) {
    return read_file(*workspace, options, args);
  };
  return tool;
}

Tool make_fs_write_tool(std::shared_ptr<const Workspace> workspace, FsToolOptions options) {
  Tool tool;
  tool.name = "fs.write";
  tool.description =
      "Write a text file inside the workspace (overwrite, append, or create a new file).";
  tool.parameters = {{"type", "object"},
                     {"properties",
                      {{"path", path_schema("file path relative to the workspace")},
                       {"content", {{"type", "string"}}},
                       {"mode", {{"enum", {"overwrite", "append", "create"}}}},
                       {"make_dirs", {{"type", "boolean"}}}}},
                     {"required", {"path", "content"}},
                     {"additionalProperties", false}};
  tool.builtin = true;
  tool.handler = [workspace, options](const json& args, const ToolContext&) {
    return write_file(*workspace, options, args);
  };
  return tool;
}

Tool make_fs_list_tool(std::shared_ptr<const Workspace> workspace, FsToolOptions options) {
  Tool tool;
  tool.name = "fs.list";
  tool.description = "List a folder inside the workspace (default: its root).";
  tool.parameters = {
      {"type", "object"},
      {"properties",
       {{"path", path_schema("folder relative to the workspace; \".\" is the root")}}},
      {"additionalProperties", false}};
  tool.builtin = true;
  tool.handler = [workspace, options](const json& args, const ToolContext&) {
    return list_dir(*workspace, options, args);
  };
  return tool;
}

}  // namespace perdiem::tools
