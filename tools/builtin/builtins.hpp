// Every built-in tool in one call, for a run or for `perdiem tools list`.
#pragma once

#include <optional>
#include <string>

#include "base/clock.hpp"
#include "tools/builtin/clock_tool.hpp"
#include "tools/builtin/fs_tools.hpp"
#include "tools/builtin/http_fetch.hpp"
#include "tools/builtin/shell_tool.hpp"
#include "tools/tool.hpp"

namespace perdiem::tools {

struct BuiltinToolOptions {
  HttpFetchOptions http{};                 // --allow-host fills allowed_hosts
  std::optional<std::string> workspace{};  // --workspace DIR; without it no fs.* tools
  FsToolOptions fs{};
  ShellToolOptions shell{};            // working_directory defaults to the workspace
  const base::Clock* clock = nullptr;  // nullptr: the system clock
};

// Registers http.fetch, clock.now, shell.run and, when a workspace is given, fs.read,
// fs.write and fs.list. They are all `builtin`: registered is not granted, a run's
// ToolGrants still decide. Fails when the workspace cannot be opened or a name is taken.
Status register_builtin_tools(ToolRegistry& registry, BuiltinToolOptions options);

}  // namespace perdiem::tools
