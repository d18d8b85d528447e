#include "tools/builtin/builtins.hpp"

#include <memory>

namespace perdiem::tools {

Status register_builtin_tools(ToolRegistry& registry, BuiltinToolOptions options) {
  if (options.workspace) {
    Result<Workspace> workspace = Workspace::open(*options.workspace);
    if (!workspace.ok()) return workspace.error();
    auto shared = std::make_shared<const Workspace>(std::move(workspace).value());
    for (Tool tool : {make_fs_read_tool(shared, options.fs), make_fs_write_tool(shared, options.fs),
                      make_fs_list_tool(shared, options.fs)}) {
      if (Status s = registry.add(std::move(tool)); !s.ok()) return s;
    }
    if (options.shell.working_directory.empty()) {
      options.shell.working_directory = *options.workspace;
    }
  }
  const base::Clock& clock = options.clock ? *options.clock : base::system_clock();
  if (Status s = registry.add(make_clock_now_tool(clock)); !s.ok()) return s;
  if (Status s = registry.add(make_http_fetch_tool(std::move(options.http))); !s.ok()) return s;
  return registry.add(make_shell_run_tool(std::move(options.shell)));
}

}  // namespace perdiem::tools
