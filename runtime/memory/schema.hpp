// memory.db's schema and its versioned migrations, tracked in PRAGMA user_version.
//
// Migration N takes a file at version N-1 to version N inside one transaction, so a
// crash mid-upgrade leaves the old version intact. A file newer than this binary is
// refused (ErrorKind::storage, naming both versions); it is never modified.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "perdiem/error.hpp"
#include "runtime/memory/sql.hpp"

namespace perdiem::memory {

struct Migration {
  int to_version;   // the user_version this step produces (1, 2, ...)
  const char* sql;  // statements run inside the upgrade transaction
};

// The migrations this binary knows, in order; the last one's to_version is current.
std::span<const Migration> migrations();
int current_schema_version();

// WAL, synchronous level and the per-connection settings every memory.db connection
// uses. `full_sync`: synchronous=FULL instead of NORMAL (see MemoryStore::Options).
[[nodiscard]] Status configure_connection(sql::Db& db, bool full_sync);

// Checks the file's version, switches it to WAL (configure_connection) and brings it up
// to the newest version in `steps` (the real list, or a test's). Errors: storage when the
// file is not a database or is corrupt, or is newer than `steps`; the file is then left
// untouched.
[[nodiscard]] Status prepare_schema(sql::Db& db, const std::string& path, bool full_sync,
                                    std::span<const Migration> steps);

}  // namespace perdiem::memory
