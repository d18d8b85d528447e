// memory.* as tools the model may call (built-in: a run grants them with "memory.*"):
// memory.remember, memory.recall (text search), memory.set and memory.get.
#pragma once

#include "runtime/memory/memory_store.hpp"
#include "tools/tool.hpp"

namespace perdiem::sdk {

// `store` must outlive the registry's use of the tools; null registers them for listing
// only (calling one then fails).
[[nodiscard]] Status register_memory_tools(tools::ToolRegistry& registry,
                                           memory::MemoryStore* store);

}  // namespace perdiem::sdk
