#include "tools/builtin/workspace.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

namespace perdiem::tools {
namespace {

constexpr const char* kSource = "fs";

Error refused(std::string_view path, const std::string& why) {
  return make_error(ErrorKind::tool,
                    "path '" + std::string(path) + "' is refused: " + why +
                        "; fs tools reach only files inside the workspace (--workspace DIR)",
                    kSource);
}

Error os_error(std::string_view path, int error) {
  switch (error) {
    case EXDEV:
      return refused(path, "it leads outside the workspace (through a symlink)");
    case ELOOP:
      return refused(path, "it goes through a symlink");
    case ENOENT:
      return make_error(ErrorKind::not_found,
                        "'" + std::string(path) + "' does not exist in the workspace", kSource);
    case EEXIST:
      return make_error(ErrorKind::tool, "'" + std::string(path) + "' already exists", kSource);
    case ENOTDIR:
      return make_error(ErrorKind::tool, "a part of '" + std::string(path) + "' is not a directory",
                        kSource);
    default:
      return make_error(ErrorKind::tool,
                        "cannot open '" + std::string(path) + "': " + std::strerror(error),
                        kSource);
  }
}

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

// openat2 is tried once per process; ENOSYS (old kernel) or EPERM (a seccomp filter)
// switch every later open to the component walk.
std::atomic<bool> g_openat2_missing{false};

long call_openat2(int dirfd, const char* path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
  // openat2 refuses a mode without O_CREAT or O_TMPFILE (whose bits include O_DIRECTORY,
  // hence the exact comparison).
  bool creates = (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE;
  how.mode = creates ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  return fd;
}

// A symlink opened with O_NOFOLLOW | O_DIRECTORY fails with ENOTDIR, which would blame
// the wrong thing: report it as the symlink it is.
int symlink_aware(int dir_fd, const std::string& name, int error) {
  struct stat st {};
  if (error == ENOTDIR && ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISLNK(st.st_mode)) {
    return ELOOP;
  }
  return error;
}

}  // namespace

Status check_workspace_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) return refused("(binary)", "it contains NUL");
  if (!path.empty() && path.front() == '/') return refused(path, "it is an absolute path");
  for (const std::string& part : components(path)) {
    if (part == "..") return refused(path, "it contains '..'");
  }
  return {};
}

Result<Workspace> Workspace::open(const std::string& root, Resolver resolver) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(ErrorKind::config,
                      "the workspace '" + root + "' cannot be opened: " + std::strerror(errno) +
                          "; give an existing folder with --workspace DIR",
                      kSource);
  }
  return Workspace(root, UniqueFd(fd), resolver);
}

Result<UniqueFd> Workspace::open_at(std::string_view path, int flags, mode_t mode) const {
  if (Status s = check_workspace_path(path); !s.ok()) return s.error();
  std::vector<std::string> parts = components(path);
  if (resolver_ == Resolver::component_walk || g_openat2_missing.load()) {
    return walk(path, flags, mode);
  }
  std::string relative = ".";
  for (const std::string& part : parts) relative += "/" + part;
  long fd = call_openat2(root_fd_.get(), relative.c_str(), flags, mode);
  if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
    int saved = errno;
    // EPERM may also be a real permission error; only the walk can tell, so use it for
    // this call, and keep using it if it succeeds where openat2 failed.
    Result<UniqueFd> walked = walk(path, flags, mode);
    if (saved == ENOSYS || walked.ok()) g_openat2_missing = true;
    return walked;
  }
  if (fd < 0) return os_error(path, errno);
  return UniqueFd(static_cast<int>(fd));
}

Result<UniqueFd> Workspace::walk(std::string_view path, int flags, mode_t mode) const {
  std::vector<std::string> parts = components(path);
  if (parts.empty()) {
    int fd = ::openat(root_fd_.get(), ".", flags | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) return os_error(path, errno);
    return UniqueFd(fd);
  }
  UniqueFd dir(::fcntl(root_fd_.get(), F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return os_error(path, errno);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    int next = ::openat(dir.get(), parts[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) return os_error(path, symlink_aware(dir.get(), parts[i], errno));
    dir = UniqueFd(next);
  }
  int fd = ::openat(dir.get(), parts.back().c_str(), flags | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return os_error(path, symlink_aware(dir.get(), parts.back(), errno));
  return UniqueFd(fd);
}

Status Workspace::make_dirs(std::string_view path) const {
  if (Status s = check_workspace_path(path); !s.ok()) return s;
  std::string prefix;
  for (const std::string& part : components(path)) {
    std::string parent = prefix.empty() ? "." : prefix;
    prefix = prefix.empty() ? part : prefix + "/" + part;
    Result<UniqueFd> exists = open_at(prefix, O_PATH | O_DIRECTORY);
    if (exists.ok()) continue;
    if (exists.error().kind != ErrorKind::not_found) return exists.error();
    Result<UniqueFd> parent_fd = open_at(parent, O_PATH | O_DIRECTORY);
    if (!parent_fd.ok()) return parent_fd.error();
    if (::mkdirat(parent_fd->get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
      return os_error(prefix, errno);
    }
  }
  return {};
}

}  // namespace perdiem::tools
