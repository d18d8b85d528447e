// A SQLite VFS that coalesces a commit's writes to the WAL into one write(2).
//
// Why: SQLite writes each WAL frame as two pwrite(2) calls (a 24-byte header, then the
// 4 KiB page, which straddles two pages of the OS cache), so a commit of 60 pages costs
// 120 system calls and 180 page-cache updates on the writer thread, the wallet's one
// serial resource. Buffered, it is one call and 61 pages.
//
// What changes on disk: nothing. Writes to the WAL that append to what is buffered are
// held in memory; anything else on that file (a write elsewhere, a read, a size query, a
// truncate, a sync, a file control, close) first writes the buffer out, in order. A crash
// before that loses only writes of a transaction that had not yet been synced, which
// SQLite already treats as never committed.
//
// WARNING: correct only on connections with synchronous=FULL (or EXTRA): then SQLite
// syncs the WAL, which writes the buffer, before it publishes a commit to other
// connections through the wal-index. With synchronous=NORMAL a commit would be visible to
// readers before its frames were in the file. Book::create checks this.
//
// Other files (the database itself, its -shm) pass straight through to the default VFS.
#pragma once

namespace perdiem::wallet {

// The VFS's name for sqlite3_open_v2; registers it (not as the default) on first use.
// Thread-safe. Returns nullptr if SQLite has no default VFS to wrap.
const char* wal_buffering_vfs();

}  // namespace perdiem::wallet
