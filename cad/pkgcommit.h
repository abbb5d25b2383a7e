/*
 * pkgcommit: the one way Portico writes a rendered package back over the package it was
 * read from (fn render, fn eval), fast and never leaving a half-written package.
 *
 * Why not a temporary file + rename per file: creating an inode is the costly part of a
 * small write on ext4 (~140 us each), so 50 renames cost ~10 ms where rewriting the same
 * 50 files in place costs ~1.2 ms. kpt rewrites in place with no protection at all;
 * pkgcommit rewrites in place behind an undo journal:
 *
 *   1. plan in memory: every file of `after` is serialized and compared with the snapshot
 *      taken when the package was read; only files whose bytes differ are written, files
 *      of the snapshot missing from `after` are deleted, unchanged files are not touched
 *      (not even their mtime). A serializing error changes nothing on disk.
 *   2. lock the package directory (flock on the directory itself, held for the whole
 *      commit: another writer gets ERR_CONFLICT "another render is writing DIR"). The lock
 *      is on the directory rather than on the journal so that there is no window between
 *      creating the journal and locking it in which a second process could take it for
 *      the journal of a crashed commit.
 *   3. write DIR/.portico-journal (O_CREAT|O_EXCL|O_NOFOLLOW, 0600): for every file about
 *      to be overwritten or deleted its path, mode and original bytes as they are on disk
 *      now (a symbolic link: its target), for every file about to be created its path, for
 *      every directory about to be created its path; then a fixed-size trailer (entry
 *      count and an FNV-1a 64 checksum of everything before it) that tells a complete
 *      journal from a torn one. fsync'ed (with the directory) only when fs_set_sync is on.
 *   4. apply: deletions (unlink), then overwrites (open O_WRONLY|O_NOFOLLOW, pwrite at 0,
 *      ftruncate when shorter, close: same inode, mode kept), then new directories and new files
 *      (O_CREAT|O_EXCL, 0644). A path whose final component is a symbolic link is not
 *      written through: a temporary + rename replaces the link by a regular file. A file
 *      that cannot be opened for writing (read-only to this user: EACCES) is an error, as
 *      in kpt, and is rolled back like any other.
 *   5. any error in 4: everything already applied is undone from memory (originals put
 *      back in place, created files and directories removed), the journal is removed and
 *      the error returned naming the file. Success: the journal is unlinked.
 *
 * A crash between 3 and the end of 4 leaves a complete journal: pkgcommit_recover (which
 * render runs before reading a package, and pkgcommit_write runs under its lock) puts
 * every original back, removes the created files and directories and unlinks the
 * journal. A crash during 3 leaves a torn journal (no valid trailer): nothing had changed
 * yet, so it is just removed.
 *
 * Invariants: every path is package-relative and checked with fs_path_is_safe; the
 * directory holding each written file resolves (realpath) inside the package; no path
 * may name the journal; every size is bounded (KRM_MAX_FILE per file, PATH_MAX per path,
 * PKGCOMMIT_MAX_JOURNAL for the journal, PKGCOMMIT_MAX_ENTRIES entries).
 */
#ifndef PORTICO_CAD_PKGCOMMIT_H
#define PORTICO_CAD_PKGCOMMIT_H

#include "base/buf.h"
#include "cad/krm.h"

#include <stdbool.h>
#include <stddef.h>

#define PKGCOMMIT_JOURNAL ".portico-journal"
#define PKGCOMMIT_MAX_JOURNAL ((size_t)256 << 20)          /* bytes */
#define PKGCOMMIT_MAX_ENTRIES (2 * KRM_MAX_FILES + 4096)  /* files plus new directories */

/* ---- snapshot: what every file of a package serialized to when it was read ---- */

typedef struct pkgcommit_snapshot {
  char **paths; /* sorted by path (bytes), as krm_pkg's files */
  buf *text;    /* text[i]: the serialized bytes of paths[i] */
  size_t n;
} pkgcommit_snapshot;

/* Serializes every file of `pkg` into `out` (overwritten). ERR_NOMEM or a yml write
 * error; `out` is empty (and needs no free) on failure. Free with pkgcommit_snapshot_free. */
int pkgcommit_snapshot_take(pkgcommit_snapshot *out, const krm_pkg *pkg);

/* Frees and empties; an emptied (zeroed) snapshot is fine. */
void pkgcommit_snapshot_free(pkgcommit_snapshot *s);

/* The bytes recorded for `path`, or NULL. Borrowed from `s`. */
const buf *pkgcommit_snapshot_find(const pkgcommit_snapshot *s, const char *path);

/* ---- commit and recovery ---- */

/* Writes `after` over the package at `dir`, whose files when read are `before` (see the
 * design note for the protocol). 0 when every change is on disk (or there was none);
 * ERR_CONFLICT when another process is writing `dir`; ERR_INVALID for a path that escapes
 * the package, names the journal or is a directory; ERR_LIMIT when the journal would
 * pass PKGCOMMIT_MAX_JOURNAL; ERR_IO naming the file otherwise. On any error the package
 * is as it was (byte for byte) and no journal remains, except when undoing itself failed:
 * then the journal is kept (the message says so) and the next pkgcommit_recover finishes
 * the undo. */
int pkgcommit_write(const char *dir, const pkgcommit_snapshot *before, const krm_pkg *after);

/* Repairs the package at `dir` after an interrupted pkgcommit_write. *restored (may be
 * NULL) is the number of files put back or removed (0 when there was no journal or only a
 * torn one, which is deleted). ERR_CONFLICT when another process holds the package's lock
 * (a commit is running); ERR_INVALID when the journal is complete but not one Portico
 * wrote (an unsafe path, a bad record: it is left in place for a human); ERR_IO when a
 * file cannot be put back (the journal is kept, a later call retries). */
int pkgcommit_recover(const char *dir, int *restored);

/* ---- the journal's records (exposed for the fuzz target and the tests) ---- */

enum {
  PKGCOMMIT_ORIGINAL = 'O', /* a regular file overwritten or deleted: mode + bytes */
  PKGCOMMIT_LINK = 'L',     /* a symbolic link replaced or deleted: its target */
  PKGCOMMIT_CREATED = 'N',  /* a file created */
  PKGCOMMIT_MADE_DIR = 'D'  /* a directory created */
};

typedef struct pkgcommit_entry {
  char kind;      /* PKGCOMMIT_* */
  unsigned mode;  /* permission bits (0777) of an ORIGINAL, else 0 */
  char *path;     /* package-relative, fs_path_is_safe; owned */
  buf data;       /* ORIGINAL: the bytes; LINK: the target; else empty */
} pkgcommit_entry;

typedef struct pkgcommit_journal {
  pkgcommit_entry *entries; /* owned */
  size_t n, cap;
} pkgcommit_journal;

/* Parses a journal's bytes into `out` (overwritten). 0; ERR_EOF when there is no valid
 * trailer (torn: the write was interrupted); ERR_INVALID when the trailer is valid but a
 * record is not (bad kind, size past its bound, unsafe path, a path naming the journal,
 * count mismatch); ERR_NOMEM. `out` is empty on failure. */
int pkgcommit_journal_parse(pkgcommit_journal *out, const char *data, size_t len);

/* Appends the encoding of `j` (header, records, trailer) to `out`. ERR_LIMIT past out's
 * ceiling, ERR_NOMEM. */
int pkgcommit_journal_encode(const pkgcommit_journal *j, buf *out);

/* Appends the trailer that makes the journal text from out->data[start] on complete:
 * `count` records and the checksum of that text (pkgcommit_journal_encode ends with it; the
 * fuzz target seals arbitrary record text with it to reach the record parser). ERR_LIMIT,
 * ERR_NOMEM, ERR_INVALID when `start` is past the end. */
int pkgcommit_journal_seal(buf *out, size_t start, size_t count);

void pkgcommit_journal_free(pkgcommit_journal *j);

/* TEST ONLY: makes the next pkgcommit_write of this process _exit(9) right after it has
 * applied `steps` changes (deletions, overwrites, directories, creations, in that order),
 * as a crash would. Negative: off (the default). Not thread-safe; never call it outside
 * tests. */
void pkgcommit_test_crash_after(long steps);

#endif
