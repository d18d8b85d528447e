// `perdiem runs ...`, `perdiem replay ...` and `perdiem memory ...`: the traces and the
// memory store in PERDIEM_HOME/memory.db, through the public SDK only (perdiem/memory.hpp).
#pragma once

#include <string>
#include <vector>

namespace perdiem::cli {

// Each takes the words after its command word and returns the exit status: 0 success,
// 1 failure (for replay: a divergence or a different result), 2 usage error.
int runs_main(const std::vector<std::string>& args);
int replay_main(const std::vector<std::string>& args);
int memory_main(const std::vector<std::string>& args);

// PERDIEM_HOME/memory.db, where `perdiem run` records; "" when the home cannot hold one
// (its parent directory does not exist): the run then uses a temporary store.
std::string run_memory_path();

}  // namespace perdiem::cli
