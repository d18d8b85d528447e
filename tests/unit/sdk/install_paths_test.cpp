// Finding the Lua plan library: PERDIEM_SCRIPTS, the build tree, an installed prefix (from
// lib/ and from an app's bin/), and the errors when none applies.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>

#include "sdk/src/install_paths.hpp"

using namespace perdiem;
namespace fs = std::filesystem;

namespace {

// A scratch tree: /tmp/perdiem-paths-XXXXXX, removed afterwards.
struct Scratch {
  Scratch() {
    char tmpl[] = "/tmp/perdiem-paths-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    root = tmpl;
  }
  ~Scratch() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  std::string dir(const std::string& relative) const {
    fs::create_directories(root / relative);
    return (root / relative).string();
  }
  std::string path(const std::string& relative) const { return (root / relative).string(); }
  fs::path root;
};

constexpr const char* kFromLib = "../share/perdiem/scripts";

}  // namespace

TEST_CASE("PERDIEM_SCRIPTS wins, and a wrong one is an error, not a fallback") {
  Scratch s;
  const std::string mine = s.dir("my-scripts");
  sdk::PlanLibraryInputs in;
  in.binary_path = s.path("prefix/lib/libperdiem.so");
  s.dir("prefix/share/perdiem/scripts");
  in.relative_datadirs = {kFromLib};

  in.env_override = mine + "/./";
  auto found = sdk::find_plan_library(in);
  REQUIRE(found.ok());
  CHECK(*found == mine);

  in.env_override = s.path("missing");
  auto wrong = sdk::find_plan_library(in);
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().kind == ErrorKind::config);
  CHECK(wrong.error().message.find(s.path("missing")) != std::string::npos);
}

TEST_CASE("an installed library finds share/perdiem/scripts beside its lib/") {
  Scratch s;
  const std::string scripts = s.dir("prefix/share/perdiem/scripts");
  sdk::PlanLibraryInputs in;
  // "lib/.." is resolved by the file system (lib may be a symbolic link), so lib/ exists.
  in.binary_path = s.dir("prefix/lib") + "/libperdiem.so.0";
  in.relative_datadirs = {kFromLib};
  auto found = sdk::find_plan_library(in);
  REQUIRE(found.ok());
  CHECK(*found == scripts);
}

TEST_CASE("an app that linked the static library finds it from bin/ on a multiarch prefix") {
  Scratch s;
  const std::string scripts = s.dir("usr/share/perdiem/scripts");
  sdk::PlanLibraryInputs in;
  in.binary_path = s.dir("usr/bin") + "/app";
  in.relative_datadirs = {"../../share/perdiem/scripts", kFromLib};
  auto found = sdk::find_plan_library(in);
  REQUIRE(found.ok());
  CHECK(*found == scripts);
}

TEST_CASE("a binary inside its build tree uses the source tree's scripts") {
  Scratch s;
  const std::string source_scripts = s.dir("src/scripts");
  sdk::PlanLibraryInputs in;
  in.build_dir = s.dir("src/build");
  in.source_scripts = source_scripts;
  in.relative_datadirs = {kFromLib};
  in.binary_path = s.path("src/build/sdk/libperdiem.so");
  auto found = sdk::find_plan_library(in);
  REQUIRE(found.ok());
  CHECK(*found == source_scripts);

  // A sibling whose name merely starts the same is not inside the build tree.
  in.binary_path = s.dir("src/build-other/lib") + "/libperdiem.so";
  auto outside = sdk::find_plan_library(in);
  REQUIRE_FALSE(outside.ok());
  CHECK(outside.error().kind == ErrorKind::not_found);
}

TEST_CASE("nothing found: not_found names the places tried and PERDIEM_SCRIPTS") {
  Scratch s;
  sdk::PlanLibraryInputs in;
  in.binary_path = s.dir("prefix/lib") + "/libperdiem.so";
  in.relative_datadirs = {kFromLib};
  auto missing = sdk::find_plan_library(in);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == ErrorKind::not_found);
  CHECK(missing.error().message.find(s.path("prefix/share/perdiem/scripts")) != std::string::npos);
  CHECK(missing.error().message.find("PERDIEM_SCRIPTS") != std::string::npos);

  in.binary_path.clear();  // dladdr failed
  auto unlocated = sdk::find_plan_library(in);
  REQUIRE_FALSE(unlocated.ok());
  CHECK(unlocated.error().message.find("could not locate") != std::string::npos);
}

TEST_CASE("this test binary, built in the build tree, finds the source tree's scripts/") {
  ::unsetenv("PERDIEM_SCRIPTS");
  const sdk::PlanLibraryInputs in = sdk::current_plan_library_inputs();
  CHECK(in.binary_path == fs::read_symlink("/proc/self/exe").string());
  auto found = sdk::plan_library_directory();
  REQUIRE(found.ok());
  CHECK(*found == fs::canonical(PERDIEM_SOURCE_DIR "/scripts").string());
}
