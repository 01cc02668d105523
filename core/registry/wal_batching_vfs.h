#pragma once
// A SQLite VFS that writes each transaction's WAL frames with one write(2)
// (one per 128 KiB) instead of two per page.
//
// Why: SQLite appends every frame of a commit to the WAL as two writes (its
// 24-byte header, then the page). A provisioned device's two transactions
// dirty about 17 pages each, so the worker made about 35 pwrite(2) calls per
// device; on a virtual machine each costs several microseconds of system
// time, about a tenth of provisiond's CPU.
//
// How: writes to a WAL file are gathered in memory while they are
// contiguous, and written out when the commit frame is complete (its page
// follows a frame header whose "database size after commit" field is set),
// before anything reads, syncs, truncates or sizes the file, when the
// gathered bytes pass 1 MiB, and at close. The commit's write happens inside
// SQLite's own write call for that frame, before SQLite publishes the commit
// in the WAL index: readers (the broker plugin, other connections) never
// see a commit whose frames are not in the file, and a failed write fails
// the commit exactly as it would without this layer. Database files and
// everything else pass straight through to the default VFS.
namespace provision::registry {

// Registers the VFS with SQLite (once; thread-safe) and returns its name, for
// sqlite3_open_v2.
const char* wal_batching_vfs();

// Calls the underlying write function has made on WAL files through this
// VFS, process-wide (tests use it to see that batching happens).
long long wal_batching_vfs_writes();

}  // namespace provision::registry
