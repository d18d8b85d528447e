// A folder the fs.* tools are confined to.
//
// Paths are relative to the workspace root. Refused before touching the disk: absolute
// paths, any ".." component, NUL bytes. Symlinks that resolve outside the root are
// refused by the kernel while opening.
//
// TOCTOU: nothing is checked by name and then opened by name. The root is opened once
// (an O_PATH descriptor), and every open resolves relative to it in one step with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the kernel refuses any resolution
// (a "..", an absolute or outward symlink, a /proc magic link) that would leave the root,
// atomically, so swapping a directory for a symlink between a check and a use cannot
// escape. Symlinks that stay inside the root work. Where openat2 is unavailable
// (kernels before 5.6, or a seccomp filter that blocks it) the fallback walks the path
// one component at a time with openat(O_NOFOLLOW) from the descriptor of the previous
// component: also race-free, but stricter, because it refuses every symlink.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "perdiem/error.hpp"
#include "tools/unique_fd.hpp"

namespace perdiem::tools {

class Workspace {
 public:
  enum class Resolver { automatic, component_walk };

  // Opens `root`, which must be an existing directory. `resolver` exists for tests of
  // the fallback; leave it automatic.
  static Result<Workspace> open(const std::string& root, Resolver resolver = Resolver::automatic);

  // Opens `path` beneath the root with open(2) `flags` (O_CLOEXEC is added). Errors name
  // the path and say why it was refused.
  Result<UniqueFd> open_at(std::string_view path, int flags, mode_t mode = 0644) const;
  // Creates the missing directories of `path` (like mkdir -p), each beneath the root.
  Status make_dirs(std::string_view path) const;

  const std::string& root() const { return root_; }

 private:
  Workspace(std::string root, UniqueFd fd, Resolver resolver)
      : root_(std::move(root)), root_fd_(std::move(fd)), resolver_(resolver) {}
  Result<UniqueFd> walk(std::string_view path, int flags, mode_t mode) const;

  std::string root_;
  UniqueFd root_fd_;
  Resolver resolver_;
};

// ok when `path` is a relative path without "..", NUL or an empty name; otherwise a
// `tool` error saying which rule it broke.
Status check_workspace_path(std::string_view path);

}  // namespace perdiem::tools
