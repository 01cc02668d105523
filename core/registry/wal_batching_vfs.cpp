#include "registry/wal_batching_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

namespace provision::registry {
namespace {

constexpr int kFrameHeaderBytes = 24;          // a WAL frame's header (wal.c: WAL_FRAME_HDRSIZE)
constexpr size_t kMaxGatheredBytes = 1 << 20;  // a transaction larger than this is written in parts
// The default (unix) VFS writes at most 128 KiB - 1 bytes per call (it masks
// the length with 0x1ffff, and reports a short write as SQLITE_FULL).
constexpr size_t kMaxWriteBytes = 0x1ffff;

std::atomic<long long> g_wal_writes{0};

// The bytes waiting to be written to one WAL file: contiguous, from `offset`.
struct Gathered {
  std::string bytes;
  sqlite3_int64 offset = 0;
  bool commit_frame_started = false;  // a commit frame's header is gathered: its page comes next
};

// Our file: SQLite allocates vfs.szOsFile bytes for it, the default VFS's
// file right after this struct.
struct File {
  sqlite3_file base;   // first member: SQLite reads pMethods from here
  sqlite3_file* real;  // the default VFS's file
  Gathered* gathered;  // WAL files only; nullptr otherwise
};
static_assert(sizeof(File) % 8 == 0, "the default VFS's file, right after ours, must stay aligned");

File* as_file(sqlite3_file* file) { return reinterpret_cast<File*>(file); }
sqlite3_file* real_file(sqlite3_file* file) { return as_file(file)->real; }
sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

// Writes what is gathered; the gathered bytes are gone either way (a failed
// write fails SQLite's transaction, which writes its frames again).
int write_gathered(File* f) {
  Gathered* g = f->gathered;
  if (!g || g->bytes.empty()) return SQLITE_OK;
  int rc = SQLITE_OK;
  for (size_t done = 0; done < g->bytes.size() && rc == SQLITE_OK;) {
    const size_t part = std::min(g->bytes.size() - done, kMaxWriteBytes);
    ++g_wal_writes;
    rc = f->real->pMethods->xWrite(f->real, g->bytes.data() + done, static_cast<int>(part),
                                   g->offset + static_cast<sqlite3_int64>(done));
    done += part;
  }
  g->bytes.clear();
  g->commit_frame_started = false;
  return rc;
}

// A frame header whose "database size after commit" (bytes 4-7) is not zero
// starts a commit frame.
bool is_commit_frame_header(const char* bytes, int amount) {
  return amount == kFrameHeaderBytes && (bytes[4] | bytes[5] | bytes[6] | bytes[7]) != 0;
}

int gather(File* f, const char* bytes, int amount, sqlite3_int64 offset) {
  Gathered& g = *f->gathered;
  const sqlite3_int64 end = g.offset + static_cast<sqlite3_int64>(g.bytes.size());
  if (!g.bytes.empty() && offset >= g.offset && offset + amount <= end) {
    // SQLite rewrites frames of the transaction in progress (their checksums).
    std::memcpy(g.bytes.data() + (offset - g.offset), bytes, static_cast<size_t>(amount));
  } else {
    if (!g.bytes.empty() && offset != end) {
      if (int rc = write_gathered(f); rc != SQLITE_OK) return rc;
    }
    if (g.bytes.empty()) g.offset = offset;
    g.bytes.append(bytes, static_cast<size_t>(amount));
  }
  if (is_commit_frame_header(bytes, amount)) {
    g.commit_frame_started = true;
    return SQLITE_OK;
  }
  // The commit frame's page: the whole commit goes to the file now, inside
  // the write SQLite makes before it publishes the commit.
  if (g.commit_frame_started || g.bytes.size() >= kMaxGatheredBytes) return write_gathered(f);
  return SQLITE_OK;
}

// ---------------------------------------------------------------- io methods

int x_close(sqlite3_file* file) {
  File* f = as_file(file);
  const int written = write_gathered(f);
  delete f->gathered;
  f->gathered = nullptr;
  const int closed = f->real->pMethods->xClose(f->real);
  return written != SQLITE_OK ? written : closed;
}

int x_read(sqlite3_file* file, void* data, int amount, sqlite3_int64 offset) {
  if (int rc = write_gathered(as_file(file)); rc != SQLITE_OK) return rc;
  return real_file(file)->pMethods->xRead(real_file(file), data, amount, offset);
}

int x_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  File* f = as_file(file);
  if (!f->gathered) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  try {
    return gather(f, static_cast<const char*>(data), amount, offset);
  } catch (const std::bad_alloc&) {
    // Nothing was gathered from this call: write what was, then this directly.
    if (int rc = write_gathered(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xWrite(f->real, data, amount, offset);
  }
}

int x_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (int rc = write_gathered(as_file(file)); rc != SQLITE_OK) return rc;
  return real_file(file)->pMethods->xTruncate(real_file(file), size);
}

int x_sync(sqlite3_file* file, int flags) {
  if (int rc = write_gathered(as_file(file)); rc != SQLITE_OK) return rc;
  return real_file(file)->pMethods->xSync(real_file(file), flags);
}

int x_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (int rc = write_gathered(as_file(file)); rc != SQLITE_OK) return rc;
  return real_file(file)->pMethods->xFileSize(real_file(file), size);
}

int x_lock(sqlite3_file* file, int level) { return real_file(file)->pMethods->xLock(real_file(file), level); }
int x_unlock(sqlite3_file* file, int level) { return real_file(file)->pMethods->xUnlock(real_file(file), level); }
int x_check_reserved_lock(sqlite3_file* file, int* out) {
  return real_file(file)->pMethods->xCheckReservedLock(real_file(file), out);
}

int x_file_control(sqlite3_file* file, int op, void* arg) {
  if (int rc = write_gathered(as_file(file)); rc != SQLITE_OK) return rc;
  return real_file(file)->pMethods->xFileControl(real_file(file), op, arg);
}

int x_sector_size(sqlite3_file* file) { return real_file(file)->pMethods->xSectorSize(real_file(file)); }
int x_device_characteristics(sqlite3_file* file) {
  return real_file(file)->pMethods->xDeviceCharacteristics(real_file(file));
}

int x_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  return real_file(file)->pMethods->xShmMap(real_file(file), region, size, extend, out);
}
int x_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return real_file(file)->pMethods->xShmLock(real_file(file), offset, n, flags);
}
void x_shm_barrier(sqlite3_file* file) { real_file(file)->pMethods->xShmBarrier(real_file(file)); }
int x_shm_unmap(sqlite3_file* file, int delete_flag) {
  return real_file(file)->pMethods->xShmUnmap(real_file(file), delete_flag);
}

int x_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  return real_file(file)->pMethods->xFetch(real_file(file), offset, amount, out);
}
int x_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  return real_file(file)->pMethods->xUnfetch(real_file(file), offset, p);
}

// Ours claims no more than the default VFS's file offers (iVersion 1: no
// shared memory, 2: no memory mapping).
const sqlite3_io_methods* methods_for(int version) {
  static const sqlite3_io_methods v3 = {3,           x_close,       x_read,      x_write,      x_truncate,
                                        x_sync,      x_file_size,   x_lock,      x_unlock,     x_check_reserved_lock,
                                        x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock,
                                        x_shm_barrier, x_shm_unmap,  x_fetch,     x_unfetch};
  static const sqlite3_io_methods v2 = [] {
    sqlite3_io_methods m = v3;
    m.iVersion = 2;
    m.xFetch = nullptr;
    m.xUnfetch = nullptr;
    return m;
  }();
  static const sqlite3_io_methods v1 = [] {
    sqlite3_io_methods m = v2;
    m.iVersion = 1;
    m.xShmMap = nullptr;
    m.xShmLock = nullptr;
    m.xShmBarrier = nullptr;
    m.xShmUnmap = nullptr;
    return m;
  }();
  return version >= 3 ? &v3 : version == 2 ? &v2 : &v1;
}

// ------------------------------------------------------------------- the vfs

int x_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  File* f = as_file(file);
  f->base.pMethods = nullptr;  // until open: SQLite calls no method of a file that failed to open
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->gathered = nullptr;
  f->real->pMethods = nullptr;
  sqlite3_vfs* real = real_vfs(vfs);
  int rc = real->xOpen(real, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    return rc;
  }
  if (flags & SQLITE_OPEN_WAL) {
    f->gathered = new (std::nothrow) Gathered;
    if (!f->gathered) {
      f->real->pMethods->xClose(f->real);
      return SQLITE_NOMEM;
    }
  }
  f->base.pMethods = methods_for(f->real->pMethods->iVersion);
  return SQLITE_OK;
}

int x_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return real_vfs(vfs)->xDelete(real_vfs(vfs), name, sync_dir);
}
int x_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return real_vfs(vfs)->xAccess(real_vfs(vfs), name, flags, out);
}
int x_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return real_vfs(vfs)->xFullPathname(real_vfs(vfs), name, size, out);
}
void* x_dl_open(sqlite3_vfs* vfs, const char* name) { return real_vfs(vfs)->xDlOpen(real_vfs(vfs), name); }
void x_dl_error(sqlite3_vfs* vfs, int size, char* out) { real_vfs(vfs)->xDlError(real_vfs(vfs), size, out); }
void (*x_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return real_vfs(vfs)->xDlSym(real_vfs(vfs), handle, symbol);
}
void x_dl_close(sqlite3_vfs* vfs, void* handle) { real_vfs(vfs)->xDlClose(real_vfs(vfs), handle); }
int x_randomness(sqlite3_vfs* vfs, int size, char* out) { return real_vfs(vfs)->xRandomness(real_vfs(vfs), size, out); }
int x_sleep(sqlite3_vfs* vfs, int microseconds) { return real_vfs(vfs)->xSleep(real_vfs(vfs), microseconds); }
int x_current_time(sqlite3_vfs* vfs, double* out) { return real_vfs(vfs)->xCurrentTime(real_vfs(vfs), out); }
int x_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  return real_vfs(vfs)->xGetLastError(real_vfs(vfs), size, out);
}
int x_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return real_vfs(vfs)->xCurrentTimeInt64(real_vfs(vfs), out);
}

}  // namespace

const char* wal_batching_vfs() {
  static sqlite3_vfs vfs{};
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    vfs.iVersion = real->iVersion >= 2 ? 2 : 1;  // no system-call overrides through this layer
    vfs.szOsFile = static_cast<int>(sizeof(File)) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = "provision-wal-batching";
    vfs.pAppData = real;
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
    vfs.xGetLastError = x_get_last_error;
    vfs.xCurrentTimeInt64 = real->iVersion >= 2 && real->xCurrentTimeInt64 ? x_current_time_int64 : nullptr;
    sqlite3_vfs_register(&vfs, 0);
  });
  return vfs.zName;
}

long long wal_batching_vfs_writes() { return g_wal_writes.load(); }

}  // namespace provision::registry
