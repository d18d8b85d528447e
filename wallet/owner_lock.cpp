#include "wallet/owner_lock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/random.hpp"
#include "wallet/hex.hpp"

namespace perdiem::wallet {
namespace {

std::string lock_path(const std::string& dir, const std::string& id) {
  return dir + "/" + id + ".lock";
}

std::string random_id() {
  std::uint8_t bytes[12];
  base::secure_random().fill(bytes);
  return hex_encode(bytes);
}

Error io_error(const std::string& what) {
  return make_error(ErrorKind::storage, what + ": " + std::strerror(errno));
}

}  // namespace

Result<OwnerLock> OwnerLock::acquire(const std::string& db_path) {
  std::string dir = db_path + ".owners";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return io_error("cannot create " + dir);
  std::string id = random_id();
  std::string tmp = dir + "/" + id + ".tmp";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create " + tmp);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || ::rename(tmp.c_str(), lock_path(dir, id).c_str()) != 0) {
    Error error = io_error("cannot lock " + tmp);
    ::unlink(tmp.c_str());
    ::close(fd);
    return error;
  }
  return OwnerLock(std::move(dir), std::move(id), fd);
}

OwnerLock::OwnerLock(OwnerLock&& other) noexcept
    : dir_(std::move(other.dir_)), id_(std::move(other.id_)), fd_(other.fd_) {
  other.fd_ = -1;
}

OwnerLock::~OwnerLock() {
  if (fd_ < 0) return;
  ::unlink(lock_path(dir_, id_).c_str());
  ::close(fd_);
}

bool owner_alive(const std::string& dir, const std::string& id) {
  int fd = ::open(lock_path(dir, id).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;  // closed or reaped: nobody holds it
  bool alive = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return alive;
}

void reap_owner(const std::string& dir, const std::string& id) {
  ::unlink(lock_path(dir, id).c_str());
}

void reap_stale_owners(const std::string& dir, const std::vector<std::string>& keep) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> dead;
  while (dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name.size() <= 5 || name.compare(name.size() - 5, 5, ".lock") != 0) continue;
    std::string id = name.substr(0, name.size() - 5);
    if (std::find(keep.begin(), keep.end(), id) != keep.end()) continue;
    if (!owner_alive(dir, id)) dead.push_back(id);
  }
  ::closedir(d);
  for (const auto& id : dead) reap_owner(dir, id);
}

}  // namespace perdiem::wallet
