// Where the Lua plan library (scripts/, so that require "perdiem.react" works) lives at
// run time, for an installed library, a build tree, or an app that bundles its own copy.
//
// Looked up in this order; the first rule that applies decides:
//   1. $PERDIEM_SCRIPTS, when set and not empty: that directory, which must exist (an
//      explicit setting that is wrong is an error, never silently ignored).
//   2. The binary holding this code (libperdiem.so, or the app that linked libperdiem.a)
//      lies inside the build tree it was built in: the source tree's scripts/.
//   3. Beside the install: <directory of that binary>/<relative path>, with one relative
//      path from the install's lib/ and one from its bin/ (an app that linked the static
//      library), fixed at build time ("../share/perdiem/scripts"), so a prefix moved as a
//      whole (a .deb, a tarball, cmake --install --prefix) still works.
// Thread-safety: pure functions plus getenv and dladdr; call from any thread.
#pragma once

#include <string>
#include <vector>

#include "perdiem/error.hpp"

namespace perdiem::sdk {

// Everything the lookup depends on, so a test can pose any situation.
struct PlanLibraryInputs {
  std::string env_override;    // the value of PERDIEM_SCRIPTS ("" when unset)
  std::string binary_path;     // absolute path of the file holding this code
  std::string build_dir;       // absolute build tree the library was compiled in
  std::string source_scripts;  // absolute scripts/ of the source tree it came from
  // From the binary's directory to the installed scripts/, tried in order.
  std::vector<std::string> relative_datadirs;
};

// Pure except for checking which directories exist. Returns the plan library's
// directory (absolute, normalised), or not_found naming every place it looked and
// PERDIEM_SCRIPTS; config when PERDIEM_SCRIPTS names something that is not a directory.
Result<std::string> find_plan_library(const PlanLibraryInputs& inputs);

// The inputs of this process: PERDIEM_SCRIPTS, the binary located with dladdr, and the
// paths compiled in. binary_path is "" if dladdr fails (then only rules 1 and 2 apply).
PlanLibraryInputs current_plan_library_inputs();

// find_plan_library(current_plan_library_inputs()).
Result<std::string> plan_library_directory();

}  // namespace perdiem::sdk
