// fs.read, fs.write and fs.list: files inside one workspace folder (see workspace.hpp
// for what is refused and why it is race-free). Built-in: each needs a grant.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "tools/builtin/workspace.hpp"
#include "tools/tool.hpp"

namespace perdiem::tools {

struct FsToolOptions {
  std::size_t max_read_bytes = 1 << 20;   // fs.read returns at most this, flagged truncated
  std::size_t max_write_bytes = 1 << 20;  // fs.write refuses larger content
  std::size_t max_list_entries = 1000;    // fs.list returns at most this many, flagged
};

// The tools share the workspace (its root descriptor stays open while any tool lives).
//   fs.read  {path, max_bytes?}            -> {path, content, size, truncated}
//   fs.write {path, content, mode?, make_dirs?} mode: "overwrite" (default), "append",
//            "create" (fails if the file exists)   -> {path, bytes_written}
//   fs.list  {path?}                       -> {path, entries: [{name, type, size}], truncated}
// Content is text: bytes that are not UTF-8 come back as U+FFFD.
Tool make_fs_read_tool(std::shared_ptr<const Workspace> workspace, FsToolOptions options = {});
Tool make_fs_write_tool(std::shared_ptr<const Workspace> workspace, FsToolOptions options = {});
Tool make_fs_list_tool(std::shared_ptr<const Workspace> workspace, FsToolOptions options = {});

}  // namespace perdiem::tools
