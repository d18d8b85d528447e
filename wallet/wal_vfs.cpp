#include "wallet/wal_vfs.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <vector>

namespace perdiem::wallet {
namespace {

constexpr const char* kName = "perdiem-wal";
// The unix VFS writes at most 128 KiB - 1 per call (it masks larger sizes), so a larger
// commit is written in pieces of up to 124 KiB (31 frames of 4 KiB pages, 7 of 16 KiB):
// still 1 call where there were 60.
constexpr std::size_t kMaxBuffer = 31 * 4096;

// Our file object; SQLite allocates szOsFile bytes for it and the real file follows it.
struct File {
  sqlite3_file base;  // first, so a sqlite3_file* is a File*
  sqlite3_file* real;
  bool wal;
  sqlite3_int64 start;  // file offset of pending[0]
  std::vector<unsigned char> pending;
};

constexpr std::size_t kFileBytes = (sizeof(File) + 7) & ~std::size_t{7};

File* self(sqlite3_file* f) { return reinterpret_cast<File*>(f); }
sqlite3_file* real(sqlite3_file* f) { return self(f)->real; }
sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

// Writes out what is buffered. Emptied either way: on error SQLite fails the transaction,
// and its frames, never synced, were never committed.
int flush(File* f) {
  if (f->pending.empty()) return SQLITE_OK;
  int rc = f->real->pMethods->xWrite(f->real, f->pending.data(), static_cast<int>(f->pending.size()),
                                     f->start);
  f->pending.clear();
  return rc;
}

int x_close(sqlite3_file* file) {
  File* f = self(file);
  int rc = flush(f);
  int closed = f->real->pMethods->xClose(f->real);
  f->pending.~vector();
  return rc != SQLITE_OK ? rc : closed;
}

int x_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  int rc = flush(self(file));
  if (rc != SQLITE_OK) return rc;
  return real(file)->pMethods->xRead(real(file), out, amount, offset);
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = self(file);
  if (!f->wal) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  const auto size = static_cast<std::size_t>(amount);
  const bool appends = !f->pending.empty() &&
                       offset == f->start + static_cast<sqlite3_int64>(f->pending.size());
  if (!appends || f->pending.size() + size > kMaxBuffer) {
    int rc = flush(f);
    if (rc != SQLITE_OK) return rc;
    if (size > kMaxBuffer) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    f->start = offset;
  }
  const auto* bytes = static_cast<const unsigned char*>(data);
  f->pending.insert(f->pending.end(), bytes, bytes + size);
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  int rc = flush(self(file));
  return rc != SQLITE_OK ? rc : real(file)->pMethods->xTruncate(real(file), size);
}

int x_sync(sqlite3_file* file, int flags) {
  int rc = flush(self(file));
  return rc != SQLITE_OK ? rc : real(file)->pMethods->xSync(real(file), flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  int rc = flush(self(file));
  return rc != SQLITE_OK ? rc : real(file)->pMethods->xFileSize(real(file), size);
}

int x_lock(sqlite3_file* file, int level) {
  return real(file)->pMethods->xLock(real(file), level);
}
int x_unlock(sqlite3_file* file, int level) {
  return real(file)->pMethods->xUnlock(real(file), level);
}
int x_check_reserved(sqlite3_file* file, int* out) {
  return real(file)->pMethods->xCheckReservedLock(real(file), out);
}
int x_file_control(sqlite3_file* file, int op, void* arg) {
  int rc = flush(self(file));  // some controls read or resize the file
  return rc != SQLITE_OK ? rc : real(file)->pMethods->xFileControl(real(file), op, arg);
}
int x_sector_size(sqlite3_file* file) { return real(file)->pMethods->xSectorSize(real(file)); }
int x_device(sqlite3_file* file) {
  return real(file)->pMethods->xDeviceCharacteristics(real(file));
}
int x_shm_map(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  return real(file)->pMethods->xShmMap(real(file), page, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real(file)->pMethods->xShmLock(real(file), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real(file)->pMethods->xShmBarrier(real(file)); }
int x_shm_unmap(sqlite3_file* file, int remove) {
  return real(file)->pMethods->xShmUnmap(real(file), remove);
}
int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return real(file)->pMethods->xFetch(real(file), offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  return real(file)->pMethods->xUnfetch(real(file), offset, p);
}

const sqlite3_io_methods kMethods = {
    3,           x_close,         x_read,      x_write,       x_truncate,   x_sync,
    x_file_size, x_lock,          x_unlock,    x_check_reserved, x_file_control,
    x_sector_size, x_device,      x_shm_map,   x_shm_lock,    x_shm_barrier, x_shm_unmap,
    x_fetch,     x_unfetch,
};

int x_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = self(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kFileBytes);
  int rc = real_vfs(vfs)->xOpen(real_vfs(vfs), name, f->real, flags, out_flags);
  // SQLite closes a file after a failed open only if pMethods is set; so do we.
  if (f->real->pMethods == nullptr) return rc;
  // kMethods forwards every version-3 method; a file lacking some (not the unix VFS) is
  // refused rather than wrapped with calls into null pointers.
  if (f->real->pMethods->iVersion < 3) {
    f->real->pMethods->xClose(f->real);
    return SQLITE_CANTOPEN;
  }
  f->wal = (flags & SQLITE_OPEN_WAL) != 0;
  f->start = 0;
  new (&f->pending) std::vector<unsigned char>();
  f->base.pMethods = &kMethods;
  return rc;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return real_vfs(vfs)->xDelete(real_vfs(vfs), name, sync_dir);
}
int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return real_vfs(vfs)->xAccess(real_vfs(vfs), name, flags, out);
}
int x_full_pathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return real_vfs(vfs)->xFullPathname(real_vfs(vfs), name, n, out);
}
void* x_dl_open(sqlite3_vfs* vfs, const char* name) {
  return real_vfs(vfs)->xDlOpen(real_vfs(vfs), name);
}
void x_dl_error(sqlite3_vfs* vfs, int n, char* out) {
  real_vfs(vfs)->xDlError(real_vfs(vfs), n, out);
}
void (*x_dl_sym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) {
  return real_vfs(vfs)->xDlSym(real_vfs(vfs), lib, sym);
}
void x_dl_close(sqlite3_vfs* vfs, void* lib) { real_vfs(vfs)->xDlClose(real_vfs(vfs), lib); }
int x_randomness(sqlite3_vfs* vfs, int n, char* out) {
  return real_vfs(vfs)->xRandomness(real_vfs(vfs), n, out);
}
int x_sleep(sqlite3_vfs* vfs, int us) { return real_vfs(vfs)->xSleep(real_vfs(vfs), us); }
int x_current_time(sqlite3_vfs* vfs, double* out) {
  return real_vfs(vfs)->xCurrentTime(real_vfs(vfs), out);
}
int x_last_error(sqlite3_vfs* vfs, int n, char* out) {
  return real_vfs(vfs)->xGetLastError(real_vfs(vfs), n, out);
}
int x_current_time64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return real_vfs(vfs)->xCurrentTimeInt64(real_vfs(vfs), out);
}

sqlite3_vfs* make_vfs() {
  sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
  if (base == nullptr || base->iVersion < 2) return nullptr;
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;  // system-call overrides (version 3) are for tests of the real VFS
  vfs.szOsFile = static_cast<int>(kFileBytes) + base->szOsFile;
  vfs.mxPathname = base->mxPathname;
  vfs.zName = kName;
  vfs.pAppData = base;
  vfs.xOpen = x_open;
  vfs.xDelete = x_delete;
  vfs.xAccess = x_access;
  vfs.xFullPathname = x_full_pathname;
  vfs.xDlOpen = x_dl_open;
  vfs.xDlError = x_dl_error;
  vfs.xDlSym = x_dl_sym;
  vfs.xDlClose = x_dl_close;
  vfs.xRandomness = x_randomness;
  vfs.xSleep = x_sleep;
  vfs.xCurrentTime = x_current_time;
  vfs.xGetLastError = x_last_error;
  vfs.xCurrentTimeInt64 = x_current_time64;
  if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK) return nullptr;
  return &vfs;
}

}  // namespace

const char* wal_buffering_vfs() {
  static sqlite3_vfs* const vfs = make_vfs();
  return vfs ? kName : nullptr;
}

}  // namespace perdiem::wallet
