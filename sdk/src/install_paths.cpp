#include "sdk/src/install_paths.hpp"

#include <dlfcn.h>
#include <link.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

// Set by sdk/CMakeLists.txt; the fallbacks keep the file compilable on its own.
#ifndef PERDIEM_BUILD_DIR
#define PERDIEM_BUILD_DIR ""
#endif
#ifndef PERDIEM_SOURCE_SCRIPTS_DIR
#define PERDIEM_SOURCE_SCRIPTS_DIR ""
#endif
#ifndef PERDIEM_SCRIPTS_FROM_LIBDIR
#define PERDIEM_SCRIPTS_FROM_LIBDIR "../share/perdiem/scripts"
#endif
#ifndef PERDIEM_SCRIPTS_FROM_BINDIR
#define PERDIEM_SCRIPTS_FROM_BINDIR "../share/perdiem/scripts"
#endif

namespace perdiem::sdk {
namespace {

namespace fs = std::filesystem;

bool directory_exists(const fs::path& path) {
  std::error_code ignored;
  return fs::is_directory(path, ignored);
}

// Whether `path` is `root` or lies below it, compared lexically after normalising.
bool is_within(const fs::path& path, const fs::path& root) {
  const fs::path p = path.lexically_normal();
  const fs::path r = root.lexically_normal();
  auto pi = p.begin();
  for (auto ri = r.begin(); ri != r.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // the "" a trailing slash leaves
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}

// A directory's absolute form without "." and ".." and without a trailing slash.
std::string normal(const fs::path& path) {
  std::error_code ignored;
  fs::path result = fs::weakly_canonical(path, ignored);
  if (result.empty()) result = path.lexically_normal();
  std::string text = result.string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

// Any function of this library will do: dladdr maps its address to the file it is in.
void locate_me() {}

std::string binary_holding_this_code() {
  Dl_info info{};
  link_map* map = nullptr;
  if (::dladdr1(reinterpret_cast<void*>(&locate_me), &info, reinterpret_cast<void**>(&map),
                RTLD_DL_LINKMAP) == 0) {
    return {};
  }
  // The main program (an app that linked libperdiem.a) has an empty name in its link map;
  // dli_fname would then be argv[0], which may be relative to a directory since left.
  if (map != nullptr && map->l_name != nullptr && map->l_name[0] == '\0') {
    std::error_code error;
    fs::path exe = fs::read_symlink("/proc/self/exe", error);
    return error ? std::string() : exe.string();
  }
  if (info.dli_fname == nullptr || info.dli_fname[0] == '\0') return {};
  std::error_code error;
  fs::path file = fs::absolute(info.dli_fname, error);
  return error ? std::string() : file.string();
}

}  // namespace

Result<std::string> find_plan_library(const PlanLibraryInputs& inputs) {
  if (!inputs.env_override.empty()) {
    if (!directory_exists(inputs.env_override)) {
      return make_error(ErrorKind::config,
                        "PERDIEM_SCRIPTS is set to '" + inputs.env_override +
                            "', which is not a directory; point it at the plan library "
                            "(the directory that holds perdiem/) or unset it",
                        "PERDIEM_SCRIPTS");
    }
    return normal(inputs.env_override);
  }

  std::vector<std::string> tried;
  if (!inputs.binary_path.empty()) {
    const fs::path binary_dir = fs::path(inputs.binary_path).parent_path();
    if (!inputs.build_dir.empty() && !inputs.source_scripts.empty() &&
        is_within(binary_dir, inputs.build_dir)) {
      if (directory_exists(inputs.source_scripts)) return normal(inputs.source_scripts);
      tried.push_back(inputs.source_scripts);
    }
    for (const std::string& relative : inputs.relative_datadirs) {
      const fs::path installed = binary_dir / relative;
      if (directory_exists(installed)) return normal(installed);
      tried.push_back(installed.lexically_normal().string());
    }
  }

  std::string message = "cannot find perdiem's Lua plan library";
  if (tried.empty()) {
    message += " (the library could not locate its own file)";
  } else {
    message += "; looked in";
    for (const std::string& place : tried) message += " '" + place + "'";
  }
  message += "; set PERDIEM_SCRIPTS to the installed share/perdiem/scripts directory";
  return make_error(ErrorKind::not_found, std::move(message), "PERDIEM_SCRIPTS");
}

PlanLibraryInputs current_plan_library_inputs() {
  PlanLibraryInputs inputs;
  if (const char* value = std::getenv("PERDIEM_SCRIPTS")) inputs.env_override = value;
  inputs.binary_path = binary_holding_this_code();
  inputs.build_dir = PERDIEM_BUILD_DIR;
  inputs.source_scripts = PERDIEM_SOURCE_SCRIPTS_DIR;
  inputs.relative_datadirs = {PERDIEM_SCRIPTS_FROM_LIBDIR};
  if (inputs.relative_datadirs.front() != PERDIEM_SCRIPTS_FROM_BINDIR) {
    inputs.relative_datadirs.push_back(PERDIEM_SCRIPTS_FROM_BINDIR);
  }
  return inputs;
}

Result<std::string> plan_library_directory() {
  return find_plan_library(current_plan_library_inputs());
}

}  // namespace perdiem::sdk
