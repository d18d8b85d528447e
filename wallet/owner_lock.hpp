// Which process owns an open reservation, and is it still alive?
//
// Each open Wallet is a session with a random id. The session holds an exclusive flock(2)
// on "<wallet.db>.owners/<id>.lock" for as long as it is open; the kernel drops the lock
// when the process dies, however it dies (SIGKILL included). Open reservations are stamped
// with the session id, so another session finds a dead owner by taking its lock: if it
// can (or the file is gone), the owner is dead. Unlike a pid, a session id is never
// reused, and unlike a pid plus start time it needs no /proc.
// The lock file is created under a temporary name, locked, then renamed into place, so no
// other session ever sees an unlocked live lock file.
// Thread-safety: OwnerLock is immutable after acquire(); owner_alive() is thread-safe.
#pragma once

#include <string>
#include <vector>

#include "perdiem/error.hpp"

namespace perdiem::wallet {

class OwnerLock {
 public:
  // Creates the owners directory if needed and locks a fresh session file.
  static Result<OwnerLock> acquire(const std::string& db_path);
  OwnerLock(OwnerLock&& other) noexcept;
  OwnerLock& operator=(OwnerLock&&) = delete;
  OwnerLock(const OwnerLock&) = delete;
  ~OwnerLock();  // removes the file, then unlocks

  const std::string& id() const { return id_; }
  const std::string& directory() const { return dir_; }

 private:
  OwnerLock(std::string dir, std::string id, int fd) : dir_(std::move(dir)), id_(std::move(id)), fd_(fd) {}
  std::string dir_;
  std::string id_;
  int fd_ = -1;
};

// False when no process holds the session's lock (it died, or closed without settling).
// When dead, `reap` removes its lock file (the caller recovers its reservations first).
bool owner_alive(const std::string& owners_dir, const std::string& owner_id);
void reap_owner(const std::string& owners_dir, const std::string& owner_id);
// Removes lock files of dead sessions that no reservation names anymore.
void reap_stale_owners(const std::string& owners_dir, const std::vector<std::string>& keep);

}  // namespace perdiem::wallet
