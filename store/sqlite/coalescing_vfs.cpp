#include "store/sqlite/coalescing_vfs.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

#include <sqlite3.h>

#include "store/sqlite/memory_accounting.hpp"

namespace store::sqlite {
namespace {

// The WAL file format (https://www.sqlite.org/fileformat2.html#walformat).
constexpr int wal_header_size = 32;
constexpr int wal_frame_header_size = 24;

// Flush when the buffer holds this much even without a sync: bounds memory on huge transactions.
constexpr std::size_t flush_threshold = 4 * 1024 * 1024;

sqlite3_vfs* base_vfs = nullptr;

std::atomic<std::uint64_t> wal_writes{0};  // coalescing_vfs_wal_writes()

int write_to_wal(sqlite3_file* real, const void* data, int amount, sqlite3_int64 offset) {
  wal_writes.fetch_add(1, std::memory_order_relaxed);
  return real->pMethods->xWrite(real, data, amount, offset);
}

// SQLite allocates szOsFile bytes for every file: this header, then the base VFS's own file object.
struct wrapped_file {
  sqlite3_file header;      // pMethods: our methods
  sqlite3_file* real;       // the base VFS's file, right after this struct
  bool buffering;           // a WAL file opened for writing
  std::string* pending;     // frames not yet written (buffering only)
  sqlite3_int64 pending_at;  // file offset of pending's first byte
  bool commit_page_next;     // the last write was the header of a transaction's commit frame
  sqlite3_int64 written_end; // the end of what was written to the file so far (rewrites lie before it)
};

wrapped_file* self(sqlite3_file* f) { return reinterpret_cast<wrapped_file*>(f); }
sqlite3_file* real(sqlite3_file* f) { return self(f)->real; }

// The unix VFS writes at most 128 KiB - 1 per call (it masks larger sizes), so a flush is written in chunks.
constexpr std::size_t largest_write = 124 * 1024;

int flush(sqlite3_file* f) {
  wrapped_file* w = self(f);
  if (!w->buffering || w->pending->empty()) return SQLITE_OK;
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < w->pending->size() && rc == SQLITE_OK; done += largest_write) {
    std::size_t n = std::min(largest_write, w->pending->size() - done);
    rc = write_to_wal(w->real, w->pending->data() + done, static_cast<int>(n), w->pending_at + static_cast<sqlite3_int64>(done));
  }
  w->written_end = std::max(w->written_end, w->pending_at + static_cast<sqlite3_int64>(w->pending->size()));
  w->pending->clear();
  return rc;
}

int x_close(sqlite3_file* f) {
  wrapped_file* w = self(f);
  int rc = flush(f);
  int closed = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
  delete w->pending;
  w->pending = nullptr;
  return rc != SQLITE_OK ? rc : closed;
}

int x_read(sqlite3_file* f, void* buffer, int amount, sqlite3_int64 offset) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;  // the writer reads back its own frames (checkpoints)
  return real(f)->pMethods->xRead(real(f), buffer, amount, offset);
}

int x_write(sqlite3_file* f, const void* data, int amount, sqlite3_int64 offset) {
  wrapped_file* w = self(f);
  if (!w->buffering) return w->real->pMethods->xWrite(w->real, data, amount, offset);
  std::string& pending = *w->pending;
  if (offset == 0) {  // a new WAL header: the log restarts from the beginning
    if (int rc = flush(f); rc != SQLITE_OK) return rc;  // what is pending belongs to the old log
    w->written_end = 0;
  }
  // The end of what is written or pending. pending_at is only meaningful while something is pending:
  // after a restart it still points past the old log's end, and every write would look like a rewrite.
  sqlite3_int64 end =
      pending.empty() ? w->written_end : std::max(w->written_end, w->pending_at + static_cast<sqlite3_int64>(pending.size()));
  if (offset < end) {
    // A rewrite of frames already written (SQLite rewrites checksums after a commit whose pages were
    // spilled earlier): after what is pending, straight to the file, so no commit is left half in a buffer.
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    w->written_end = std::max(w->written_end, offset + amount);
    return write_to_wal(w->real, data, amount, offset);
  }
  if (!pending.empty() && offset != w->pending_at + static_cast<sqlite3_int64>(pending.size()))
    if (int rc = flush(f); rc != SQLITE_OK) return rc;  // a gap: keep the order of writes
  if (pending.empty()) w->pending_at = offset;
  pending.append(static_cast<const char*>(data), static_cast<std::size_t>(amount));
  // A commit frame (its 24-byte header carries the database size in bytes 4-7; other frames carry 0)
  // ends a transaction: its frames go to the file now, before SQLite publishes the commit in the
  // wal-index, whether or not a sync follows (synchronous = NORMAL commits have none).
  if (w->commit_page_next) {
    w->commit_page_next = false;
    return flush(f);
  }
  if (amount == wal_frame_header_size && offset >= wal_header_size) {
    const auto* header = static_cast<const unsigned char*>(data);
    w->commit_page_next = (header[4] | header[5] | header[6] | header[7]) != 0;
  }
  return pending.size() >= flush_threshold ? flush(f) : SQLITE_OK;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  if (self(f)->buffering) self(f)->written_end = std::min(self(f)->written_end, size);
  return real(f)->pMethods->xTruncate(real(f), size);
}

int x_sync(sqlite3_file* f, int flags) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xSync(real(f), flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFileSize(real(f), size);
}

int x_lock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
int x_unlock(sqlite3_file* f, int level) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xUnlock(real(f), level);
}
int x_check_reserved_lock(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
int x_file_control(sqlite3_file* f, int op, void* arg) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFileControl(real(f), op, arg);
}
int x_sector_size(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int x_device_characteristics(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) { return real(f)->pMethods->xShmLock(real(f), offset, n, flags); }
void x_shm_barrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int x_shm_unmap(sqlite3_file* f, int delete_flag) { return real(f)->pMethods->xShmUnmap(real(f), delete_flag); }
int x_fetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  if (int rc = flush(f); rc != SQLITE_OK) return rc;
  return real(f)->pMethods->xFetch(real(f), offset, amount, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 offset, void* page) { return real(f)->pMethods->xUnfetch(real(f), offset, page); }

// Version 3 methods; the shm and fetch methods exist on every file of the unix VFS that SQLite asks for them.
const sqlite3_io_methods methods = {
    3,           x_close,     x_read,        x_write,     x_truncate, x_sync,    x_file_size,
    x_lock,      x_unlock,    x_check_reserved_lock, x_file_control, x_sector_size, x_device_characteristics,
    x_shm_map,   x_shm_lock,  x_shm_barrier, x_shm_unmap, x_fetch,    x_unfetch,
};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
  wrapped_file* w = self(f);
  w->real = reinterpret_cast<sqlite3_file*>(w + 1);
  w->buffering = (flags & SQLITE_OPEN_WAL) && (flags & SQLITE_OPEN_READWRITE);
  w->pending = nullptr;
  w->pending_at = 0;
  w->commit_page_next = false;
  w->written_end = 0;
  int rc = base_vfs->xOpen(base_vfs, name, w->real, flags, out_flags);
  if (w->real->pMethods == nullptr) {  // nothing to close: SQLite must not call our xClose either
    f->pMethods = nullptr;
    return rc;
  }
  // Only the writable WAL is buffered, and only with a base file that has version 3 methods (mirrored above).
  if (w->real->pMethods->iVersion < 3) w->buffering = false;
  if (w->buffering) w->pending = new (std::nothrow) std::string;
  if (w->buffering && !w->pending) w->buffering = false;
  f->pMethods = &methods;
  return rc;
}

// Everything else goes to the base VFS, called with its own sqlite3_vfs.
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) { return base_vfs->xDelete(base_vfs, name, sync_dir); }
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) { return base_vfs->xAccess(base_vfs, name, flags, out); }
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return base_vfs->xFullPathname(base_vfs, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return base_vfs->xDlOpen(base_vfs, name); }
void x_dl_error(sqlite3_vfs*, int n, char* out) { base_vfs->xDlError(base_vfs, n, out); }
void (*x_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) { return base_vfs->xDlSym(base_vfs, handle, symbol); }
void x_dl_close(sqlite3_vfs*, void* handle) { base_vfs->xDlClose(base_vfs, handle); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return base_vfs->xRandomness(base_vfs, n, out); }
int x_sleep(sqlite3_vfs*, int microseconds) { return base_vfs->xSleep(base_vfs, microseconds); }
int x_current_time(sqlite3_vfs*, double* out) { return base_vfs->xCurrentTime(base_vfs, out); }
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  return base_vfs->xGetLastError ? base_vfs->xGetLastError(base_vfs, n, out) : 0;
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return base_vfs->xCurrentTimeInt64(base_vfs, out); }

sqlite3_vfs vfs;

void register_vfs() {
  configure_sqlite_library();  // before sqlite3_vfs_find initialises SQLite
  base_vfs = sqlite3_vfs_find(nullptr);
  if (!base_vfs || base_vfs->iVersion < 2) throw std::runtime_error("the default SQLite VFS is too old to wrap");
  vfs = sqlite3_vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(sizeof(wrapped_file)) + base_vfs->szOsFile;
  vfs.mxPathname = base_vfs->mxPathname;
  vfs.zName = "shcr-coalescing";
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
  vfs.xCurrentTimeInt64 = x_current_time_int64;
  if (int rc = sqlite3_vfs_register(&vfs, 0); rc != SQLITE_OK)
    throw std::runtime_error(std::string("cannot register the SQLite VFS: ") + sqlite3_errstr(rc));
}

}  // namespace

std::uint64_t coalescing_vfs_wal_writes() { return wal_writes.load(std::memory_order_relaxed); }

const char* coalescing_vfs_name() {
  static std::once_flag once;
  std::call_once(once, register_vfs);
  return vfs.zName;
}

}  // namespace store::sqlite
