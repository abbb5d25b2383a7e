/*
 * fs: file system helpers with the safety rules Portico needs.
 *
 * - Reads are bounded: fs_read_file refuses files larger than the caller's limit.
 * - Writes are atomic: fs_write_atomic writes a temporary file in the same directory,
 *   fsyncs it and renames it into place, so a reader sees the old or the new content.
 * - User-supplied relative paths are checked with fs_path_is_safe before they are joined
 *   to a package directory: never absolute, never "..", never empty segments.
 */
#ifndef PORTICO_BASE_FS_H
#define PORTICO_BASE_FS_H

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Appends the whole file to `out`. ERR_NOTFOUND, ERR_LIMIT (bigger than `limit`), ERR_IO. */
int fs_read_file(const char *path, size_t limit, buf *out);

/* fs_read_file for a path that was a regular file when its directory was listed (readdir's
 * d_type), in the fewest system calls: open (never through a symbolic link: ERR_IO; never
 * blocking), read until the first short read (a regular file's end), close. */
int fs_read_regular(const char *path, size_t limit, buf *out);

/* Replaces `path` with `data` atomically (temp file + fsync + rename). `mode` for a new
 * file. On failure the old file is untouched and no temporary is left behind. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Writes all `len` bytes to `fd` (from its current offset; retried on EINTR and short
 * writes). ERR_IO naming `name` (a write that returns 0 counts as an error). */
int fs_write_all(int fd, const char *name, const void *data, size_t len);

/* Process-wide: whether fs_write_atomic fsyncs before the rename (default true). A local
 * CLI command that writes many files and does not promise durability (kpt does not sync
 * either) may turn it off; the rename keeps every write atomic all the same. */
void fs_set_sync(bool on);

/* The current fs_set_sync setting (for writers with their own write path, cad/pkgcommit). */
bool fs_sync_enabled(void);

/* mkdir -p. Existing directories are fine. */
int fs_mkdir_p(const char *path, mode_t mode);

/* rm -rf that never follows symbolic links out of the tree. Missing path is fine. */
int fs_remove_tree(const char *path);

/* Is `rel` a safe relative path: not empty, not absolute, no "." or ".." segment, no
 * empty segment, no NUL, no backslash? */
bool fs_path_is_safe(const char *rel);

/* "a" + "b" -> "a/b" (no doubled slash). Caller frees; NULL on ERR_NOMEM. */
char *fs_join(const char *a, const char *b);

bool fs_exists(const char *path);
bool fs_is_dir(const char *path);

#endif
