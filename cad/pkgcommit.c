/* pkgcommit: see pkgcommit.h. */
#include "cad/pkgcommit.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAGIC "portico-journal 1\n"
#define TRAILER_LEN 32      /* "end " + 10 digits + ' ' + 16 hex digits + '\n' */
#define RECORD_HEAD_MAX 64  /* "K mode pathlen datalen\n" */
#define MAX_NEW_DIRS 4096   /* directories one commit may create */

static long crash_after = -1;

void pkgcommit_test_crash_after(long steps) { crash_after = steps; }

/* ---- snapshot ---- */

void pkgcommit_snapshot_free(pkgcommit_snapshot *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->paths[i]);
    buf_free(&s->text[i]);
  }
  free(s->paths);
  free(s->text);
  memset(s, 0, sizeof(*s));
}

int pkgcommit_snapshot_take(pkgcommit_snapshot *out, const krm_pkg *pkg) {
  memset(out, 0, sizeof(*out));
  out->paths = calloc(pkg->nfiles ? pkg->nfiles : 1, sizeof(char *));
  out->text = calloc(pkg->nfiles ? pkg->nfiles : 1, sizeof(buf));
  if (!out->paths || !out->text) {
    pkgcommit_snapshot_free(out);
    return error_set(ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < pkg->nfiles; i++) {
    out->n++; /* counted first: a half-made entry is freed with the others */
    buf_init(&out->text[i], KRM_MAX_FILE);
    out->paths[i] = str_dup(pkg->files[i].path);
    int rc = out->paths[i] ? yml_file_write(pkg->files[i].yaml, &out->text[i]) : ERR_NOMEM;
    if (rc) {
      pkgcommit_snapshot_free(out);
      return rc;
    }
  }
  return 0;
}

static int cmp_path(const void *key, const void *elem) {
  return strcmp((const char *)key, *(char *const *)elem);
}

const buf *pkgcommit_snapshot_find(const pkgcommit_snapshot *s, const char *path) {
  char *const *hit = s->n ? bsearch(path, s->paths, s->n, sizeof(char *), cmp_path) : NULL;
  return hit ? &s->text[hit - s->paths] : NULL;
}

/* ---- journal encoding ---- */

/* FNV-1a, 64 bits: tells a complete journal from a torn one (not a defence against
 * anyone: whoever can write the journal can write the package). */
static uint64_t checksum(const char *p, size_t n) {
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ull;
  }
  return h;
}

void pkgcommit_journal_free(pkgcommit_journal *j) {
  for (size_t i = 0; i < j->n; i++) {
    free(j->entries[i].path);
    buf_free(&j->entries[i].data);
  }
  free(j->entries);
  memset(j, 0, sizeof(*j));
}

int pkgcommit_journal_seal(buf *out, size_t start, size_t count) {
  if (start > out->len)
    return error_set(ERR_INVALID, "journal starts past the buffer's end");
  return buf_printf(out, "end %010zu %016llx\n", count,
                    (unsigned long long)checksum(out->data ? out->data + start : "", out->len - start));
}

int pkgcommit_journal_encode(const pkgcommit_journal *j, buf *out) {
  size_t start = out->len;
  int rc = buf_puts(out, JOURNAL_MAGIC);
  for (size_t i = 0; i < j->n && !rc; i++) {
    const pkgcommit_entry *e = &j->entries[i];
    size_t pl = strlen(e->path);
    rc = buf_printf(out, "%c %o %zu %zu\n", e->kind, e->mode, pl, e->data.len);
    if (!rc)
      rc = buf_append(out, e->path, pl);
    if (!rc && e->data.len)
      rc = buf_append(out, e->data.data, e->data.len);
    if (!rc)
      rc = buf_putc(out, '\n');
  }
  if (!rc)
    rc = pkgcommit_journal_seal(out, start, j->n);
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = 0;
  }
  return rc;
}

/* Reads an unsigned number (no sign, at most 20 digits; no leading zero but "0" itself
 * unless `padded`, so that a record has one spelling) in `base` (8, 10 or 16) from *p up
 * to `end`, at most `max`. Advances *p. */
static bool read_number(const char **p, const char *end, unsigned base, uint64_t max, uint64_t *out,
                        bool padded) {
  const char *s = *p;
  uint64_t v = 0;
  size_t digits = 0;
  for (; s < end && digits <= 20; s++, digits++) {
    unsigned d;
    if (*s >= '0' && *s <= '9')
      d = (unsigned)(*s - '0');
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      d = (unsigned)(*s - 'a' + 10);
    else
      break;
    if (d >= base || v > (UINT64_MAX - d) / base)
      return false;
    v = v * base + d;
  }
  if (!digits || digits > 20 || v > max || (!padded && digits > 1 && **p == '0'))
    return false;
  *p = s;
  *out = v;
  return true;
}

static bool names_journal(const char *path) {
  size_t n = strlen(PKGCOMMIT_JOURNAL);
  return !strncmp(path, PKGCOMMIT_JOURNAL, n) && (path[n] == 0 || path[n] == '/');
}

/* Parses one record at *p (before `end`) into `e`. */
static int parse_record(const char **p, const char *end, pkgcommit_entry *e) {
  memset(e, 0, sizeof(*e));
  const char *s = *p;
  size_t room = (size_t)(end - s);
  const char *nl = memchr(s, '\n', room < RECORD_HEAD_MAX ? room : RECORD_HEAD_MAX);
  if (!nl || nl - s < 2)
    return error_set(ERR_INVALID, "bad record header");
  char kind = s[0];
  if ((kind != PKGCOMMIT_ORIGINAL && kind != PKGCOMMIT_LINK && kind != PKGCOMMIT_CREATED &&
       kind != PKGCOMMIT_MADE_DIR) || s[1] != ' ')
    return error_set(ERR_INVALID, "bad record kind");
  s += 2;
  uint64_t mode, plen, dlen;
  uint64_t dmax = kind == PKGCOMMIT_ORIGINAL ? KRM_MAX_FILE : kind == PKGCOMMIT_LINK ? PATH_MAX - 1 : 0;
  if (!read_number(&s, nl, 8, kind == PKGCOMMIT_ORIGINAL ? 0777 : 0, &mode, false) || s >= nl || *s++ != ' ' ||
      !read_number(&s, nl, 10, PATH_MAX - 1, &plen, false) || s >= nl || *s++ != ' ' ||
      !read_number(&s, nl, 10, dmax, &dlen, false) || s != nl || plen == 0 ||
      (kind == PKGCOMMIT_LINK && dlen == 0))
    return error_set(ERR_INVALID, "bad record header");
  s = nl + 1;
  if ((uint64_t)(end - s) < plen + dlen + 1 || s[plen + dlen] != '\n')
    return error_set(ERR_INVALID, "record runs past the journal");
  if (memchr(s, 0, plen) || (kind == PKGCOMMIT_LINK && memchr(s + plen, 0, dlen)))
    return error_set(ERR_INVALID, "NUL in a record");
  e->kind = kind;
  e->mode = (unsigned)mode;
  buf_init(&e->data, dmax);
  if (!(e->path = str_ndup(s, plen)) || buf_append(&e->data, s + plen, dlen)) {
    free(e->path);
    buf_free(&e->data);
    e->path = NULL;
    return error_set(ERR_NOMEM, "out of memory");
  }
  if (!fs_path_is_safe(e->path) || names_journal(e->path)) {
    int rc = error_set(ERR_INVALID, "unsafe path '%s' in a record", e->path);
    free(e->path);
    buf_free(&e->data);
    e->path = NULL;
    return rc;
  }
  *p = s + plen + dlen + 1;
  return 0;
}

int pkgcommit_journal_parse(pkgcommit_journal *out, const char *data, size_t len) {
  memset(out, 0, sizeof(*out));
  size_t ml = strlen(JOURNAL_MAGIC);
  if (len < ml + TRAILER_LEN || memcmp(data, JOURNAL_MAGIC, ml))
    return error_set(ERR_EOF, "torn journal (no header or trailer)");
  const char *tr = data + len - TRAILER_LEN, *q = tr + 4;
  uint64_t count, sum;
  if (memcmp(tr, "end ", 4) || !read_number(&q, tr + 14, 10, UINT64_MAX, &count, true) ||
      q != tr + 14 || *q++ != ' ' || !read_number(&q, tr + 31, 16, UINT64_MAX, &sum, true) || q != tr + 31 ||
      *q != '\n')
    return error_set(ERR_EOF, "torn journal (no trailer)");
  if (sum != checksum(data, len - TRAILER_LEN))
    return error_set(ERR_EOF, "torn journal (checksum mismatch)");
  /* From here on the journal is complete: what is wrong with it was written so. */
  if (count > PKGCOMMIT_MAX_ENTRIES)
    return error_set(ERR_INVALID, "journal lists %llu records (at most %d)", (unsigned long long)count,
                     PKGCOMMIT_MAX_ENTRIES);
  /* the count field is fixed-width: "0000000001" is its canonical form */
  char width[16];
  snprintf(width, sizeof(width), "%010llu", (unsigned long long)count);
  if (memcmp(width, tr + 4, 10))
    return error_set(ERR_INVALID, "bad journal trailer");
  const char *p = data + ml;
  int rc = 0;
  while (p < tr && !rc) {
    if (out->n >= count) {
      rc = error_set(ERR_INVALID, "journal holds more records than its trailer says");
      break;
    }
    if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 16;
      pkgcommit_entry *grown = realloc(out->entries, cap * sizeof(*grown));
      if (!grown) {
        rc = error_set(ERR_NOMEM, "out of memory");
        break;
      }
      out->entries = grown;
      out->cap = cap;
    }
    rc = parse_record(&p, tr, &out->entries[out->n]);
    if (!rc)
      out->n++;
  }
  if (!rc && out->n != count)
    rc = error_set(ERR_INVALID, "journal holds fewer records than its trailer says");
  if (rc)
    pkgcommit_journal_free(out);
  return rc;
}

/* ---- file operations ---- */

/* Is the nearest existing directory above package path `rel` inside the package? The
 * directory of a file to write may not exist yet: then its nearest existing ancestor is
 * checked (the rest is created below it by this commit). `cache` holds the last parent
 * found inside (owned; a sorted list of paths mostly repeats it). ERR_INVALID, ERR_NOMEM. */
static int parent_inside(const char *dir, const char *root_real, const char *rel, char **cache) {
  const char *slash = strrchr(rel, '/');
  if (!slash)
    return 0; /* the package directory itself */
  char *parent = str_printf("%s/%.*s", dir, (int)(slash - rel), rel);
  char *probe = parent ? str_dup(parent) : NULL;
  if (!probe) {
    free(parent);
    return error_set(ERR_NOMEM, "out of memory");
  }
  int rc = 0;
  if (!*cache || strcmp(*cache, parent)) {
    size_t floor = strlen(dir);
    struct stat st;
    for (;;) { /* up to the nearest ancestor that exists (it cannot go above `dir`) */
      char *up = strrchr(probe, '/');
      if (lstat(probe, &st) == 0 || (errno != ENOENT && errno != ENOTDIR) || !up ||
          (size_t)(up - probe) < floor)
        break;
      *up = 0;
    }
    if (!krm_path_inside(root_real, probe))
      rc = error_set(ERR_INVALID, "%s: its directory is outside the package", rel);
  }
  free(probe);
  if (!rc) {
    free(*cache);
    *cache = parent;
  } else {
    free(parent);
  }
  return rc;
}

/* Writes `len` bytes to `fd`, just opened (offset 0), then fsyncs it when syncing is on
 * and `sync`. */
static int fill_fd(int fd, const char *rel, const char *data, size_t len, bool sync) {
  int rc = fs_write_all(fd, rel, data, len);
  if (rc)
    return rc;
  if (sync && fs_sync_enabled() && fsync(fd) < 0)
    return error_set_errno(ERR_IO, "cannot sync %s", rel);
  return 0;
}

/* Rewrites the regular file `full` in place (same inode): `data` at offset 0, then, when
 * `shrink` (the file was longer than `len` bytes), truncated to `len`; `mode` >= 0 also
 * sets its permission bits. ERR_IO naming `rel` (EACCES on a read-only file, ELOOP when
 * `full` became a symbolic link). */
static int write_in_place(const char *full, const char *rel, const char *data, size_t len, int mode,
                          bool shrink) {
  int fd = open(full, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return error_set_errno(ERR_IO, "cannot open %s for writing", rel);
  int rc = 0;
  if (mode >= 0 && fchmod(fd, (mode_t)mode) < 0)
    rc = error_set_errno(ERR_IO, "cannot set the mode of %s", rel);
  if (!rc)
    rc = fill_fd(fd, rel, data, len, !shrink);
  if (!rc && shrink && ftruncate(fd, (off_t)len) < 0)
    rc = error_set_errno(ERR_IO, "cannot truncate %s", rel);
  if (!rc && shrink && fs_sync_enabled() && fsync(fd) < 0)
    rc = error_set_errno(ERR_IO, "cannot sync %s", rel);
  if (close(fd) < 0 && !rc)
    rc = error_set_errno(ERR_IO, "cannot write %s", rel);
  return rc;
}

/* Creates `full` (O_EXCL: never over something that appeared since the plan) holding
 * `data`, with exactly `mode`. On failure nothing is left behind. ERR_IO naming `rel`. */
static int create_file(const char *full, const char *rel, const char *data, size_t len, mode_t mode) {
  int fd = open(full, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return error_set_errno(ERR_IO, "cannot create %s", rel);
  int rc = fchmod(fd, mode) < 0 ? error_set_errno(ERR_IO, "cannot set the mode of %s", rel) : 0;
  if (!rc)
    rc = fill_fd(fd, rel, data, len, true);
  if (close(fd) < 0 && !rc)
    rc = error_set_errno(ERR_IO, "cannot write %s", rel);
  if (rc)
    unlink(full);
  return rc;
}

static const char *data_of(const buf *b) { return b->data ? b->data : ""; }

/* Puts one journal record back (see pkgcommit_recover); counts the files it changed. */
static int undo_entry(const char *dir, const char *root_real, const pkgcommit_entry *e, int *restored) {
  char *cache = NULL;
  int rc = parent_inside(dir, root_real, e->path, &cache);
  free(cache);
  char *full = rc ? NULL : fs_join(dir, e->path);
  if (rc || !full) {
    free(full);
    return rc ? rc : error_set(ERR_NOMEM, "out of memory");
  }
  struct stat st;
  bool have = lstat(full, &st) == 0;
  if (!have && errno != ENOENT && errno != ENOTDIR) {
    rc = error_set_errno(ERR_IO, "cannot stat %s", e->path);
    goto done;
  }
  if (e->kind == PKGCOMMIT_CREATED) {
    if (have && S_ISREG(st.st_mode)) {
      if (unlink(full) < 0)
        rc = error_set_errno(ERR_IO, "cannot remove %s", e->path);
      else
        ++*restored;
    }
  } else if (e->kind == PKGCOMMIT_MADE_DIR) {
    if (have && S_ISDIR(st.st_mode))
      (void)rmdir(full); /* not empty: someone else's files went there; keep them */
  } else if (have && S_ISDIR(st.st_mode)) {
    rc = error_set(ERR_IO, "cannot put %s back: a directory is in its place", e->path);
  } else if (e->kind == PKGCOMMIT_LINK) {
    char target[PATH_MAX];
    ssize_t tl = have && S_ISLNK(st.st_mode) ? readlink(full, target, sizeof(target)) : -1;
    if (tl >= 0 && (size_t)tl == e->data.len && !memcmp(target, e->data.data, e->data.len))
      goto done;
    if ((have && unlink(full) < 0) || symlink(e->data.data, full) < 0)
      rc = error_set_errno(ERR_IO, "cannot put the link %s back", e->path);
    else
      ++*restored;
  } else if (have && S_ISREG(st.st_mode)) {
    buf cur = BUF_INIT;
    buf_init(&cur, KRM_MAX_FILE);
    bool read = fs_read_file(full, KRM_MAX_FILE, &cur) == 0;
    bool same = read && cur.len == e->data.len && !memcmp(data_of(&cur), data_of(&e->data), cur.len) &&
                (st.st_mode & 0777) == e->mode;
    bool shrink = !read || cur.len > e->data.len;
    buf_free(&cur);
    if (!same) {
      rc = write_in_place(full, e->path, data_of(&e->data), e->data.len, (int)e->mode, shrink);
      if (!rc)
        ++*restored;
    }
  } else {
    if (have && unlink(full) < 0) /* a link (or anything but a directory) where a file was */
      rc = error_set_errno(ERR_IO, "cannot put %s back", e->path);
    if (!rc)
      rc = create_file(full, e->path, data_of(&e->data), e->data.len, e->mode);
    if (!rc)
      ++*restored;
  }
done:
  free(full);
  return rc;
}

/* Undoes the records of `j` (all of them, or those whose `applied` flag is set): created
 * files removed (last first), created directories removed when empty (deepest first),
 * then every original put back. Keeps going past a failure; returns the first error. */
static int undo_all(const char *dir, const char *root_real, const pkgcommit_journal *j,
                    const bool *applied, int *restored) {
  int first = 0;
  static const char order[] = {PKGCOMMIT_CREATED, PKGCOMMIT_MADE_DIR, 0};
  for (const char *k = order; *k; k++)
    for (size_t i = j->n; i-- > 0;)
      if (j->entries[i].kind == *k && (!applied || applied[i])) {
        int rc = undo_entry(dir, root_real, &j->entries[i], restored);
        first = first ? first : rc;
      }
  for (size_t i = 0; i < j->n; i++) {
    char k = j->entries[i].kind;
    if ((k == PKGCOMMIT_ORIGINAL || k == PKGCOMMIT_LINK) && (!applied || applied[i])) {
      int rc = undo_entry(dir, root_real, &j->entries[i], restored);
      first = first ? first : rc;
    }
  }
  return first;
}

/* The package's lock: an open descriptor of `dir` holding flock(LOCK_EX), or -1 with
 * ERR_CONFLICT (another process holds it) or ERR_IO set. */
static int lock_package(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open package %s", dir);
    return -1;
  }
  while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EINTR)
      continue;
    if (errno == EWOULDBLOCK)
      error_set(ERR_CONFLICT, "another render is writing %s", dir);
    else
      error_set_errno(ERR_IO, "cannot lock %s", dir);
    close(fd);
    return -1;
  }
  return fd;
}

static int sync_dir_fd(int fd, const char *dir) {
  if (fs_sync_enabled() && fsync(fd) < 0)
    return error_set_errno(ERR_IO, "cannot sync %s", dir);
  return 0;
}

/* Removes the journal (after a commit or an undo). */
static int drop_journal(const char *jpath, int dirfd, const char *dir) {
  if (unlink(jpath) < 0 && errno != ENOENT)
    return error_set_errno(ERR_IO, "cannot remove %s", jpath);
  return sync_dir_fd(dirfd, dir);
}

/* pkgcommit_recover with the lock held (`dirfd`). */
static int recover_locked(const char *dir, const char *root_real, int dirfd, int *restored) {
  char *jpath = fs_join(dir, PKGCOMMIT_JOURNAL);
  if (!jpath)
    return error_set(ERR_NOMEM, "out of memory");
  struct stat st;
  int rc = 0;
  buf text = BUF_INIT;
  pkgcommit_journal j;
  memset(&j, 0, sizeof(j));
  if (lstat(jpath, &st) < 0) {
    if (errno != ENOENT)
      rc = error_set_errno(ERR_IO, "cannot stat %s", jpath);
    goto done; /* no journal: nothing was interrupted */
  }
  if (!S_ISREG(st.st_mode)) {
    rc = error_set(ERR_INVALID, "%s is not a regular file: remove it", jpath);
    goto done;
  }
  buf_init(&text, PKGCOMMIT_MAX_JOURNAL);
  if ((rc = fs_read_file(jpath, PKGCOMMIT_MAX_JOURNAL, &text)))
    goto done;
  rc = pkgcommit_journal_parse(&j, data_of(&text), text.len);
  if (rc == ERR_EOF) { /* torn: the crash came before any file changed */
    rc = drop_journal(jpath, dirfd, dir);
    goto done;
  }
  if (rc) {
    error_prefix("%s: not a journal Portico wrote; look at it and remove it", jpath);
    goto done;
  }
  if ((rc = undo_all(dir, root_real, &j, NULL, restored)))
    error_prefix("recovering %s (journal kept, the next render retries)", dir);
  else
    rc = drop_journal(jpath, dirfd, dir);
done:
  pkgcommit_journal_free(&j);
  buf_free(&text);
  free(jpath);
  return rc;
}

int pkgcommit_recover(const char *dir, int *restored) {
  int none = 0;
  if (!restored)
    restored = &none;
  *restored = 0;
  char *jpath = fs_join(dir, PKGCOMMIT_JOURNAL);
  if (!jpath)
    return error_set(ERR_NOMEM, "out of memory");
  bool present = fs_exists(jpath);
  free(jpath);
  if (!present)
    return 0; /* the common case: no lock taken */
  char root_real[PATH_MAX];
  if (!realpath(dir, root_real))
    return error_set_errno(ERR_NOTFOUND, "cannot open package %s", dir);
  int fd = lock_package(dir);
  if (fd < 0)
    return error_code();
  int rc = recover_locked(dir, root_real, fd, restored);
  close(fd); /* releases the lock */
  return rc;
}

/* ---- commit ---- */

enum { STEP_DELETE, STEP_OVERWRITE, STEP_MKDIR, STEP_CREATE }; /* the order steps apply in */

/* One change: its journal record and, for a write, the new bytes. */
typedef struct step {
  int rank;   /* STEP_* */
  size_t seq; /* planning order, kept within a rank */
  pkgcommit_entry e;
  buf text;   /* new bytes (OVERWRITE, CREATE) */
} step;

typedef struct plan {
  const char *dir;
  const char *root_real;
  step *steps;
  size_t n, cap;
  size_t journal_bytes; /* the originals' bytes so far (bounded by PKGCOMMIT_MAX_JOURNAL) */
  size_t new_dirs;
  char *parent_ok;      /* parent_inside's cache */
} plan;

static void plan_free(plan *pl) {
  for (size_t i = 0; i < pl->n; i++) {
    free(pl->steps[i].e.path);
    buf_free(&pl->steps[i].e.data);
    buf_free(&pl->steps[i].text);
  }
  free(pl->steps);
  free(pl->parent_ok);
}

/* Adds a step for `rel` (copied); its data and text empty. NULL with the error set. */
static step *plan_add(plan *pl, int rank, char kind, const char *rel) {
  if (pl->n >= PKGCOMMIT_MAX_ENTRIES) {
    error_set(ERR_LIMIT, "more than %d changes in one package write", PKGCOMMIT_MAX_ENTRIES);
    return NULL;
  }
  if (pl->n == pl->cap) {
    size_t cap = pl->cap ? pl->cap * 2 : 64;
    step *grown = realloc(pl->steps, cap * sizeof(*grown));
    if (!grown) {
      error_set(ERR_NOMEM, "out of memory");
      return NULL;
    }
    pl->steps = grown;
    pl->cap = cap;
  }
  step *s = &pl->steps[pl->n];
  memset(s, 0, sizeof(*s));
  if (!(s->e.path = str_dup(rel))) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  s->rank = rank;
  s->seq = pl->n++;
  s->e.kind = kind;
  buf_init(&s->e.data, kind == PKGCOMMIT_LINK ? PATH_MAX : KRM_MAX_FILE);
  buf_init(&s->text, KRM_MAX_FILE);
  return s;
}

static bool plan_has(const plan *pl, int rank, const char *rel) {
  for (size_t i = pl->n; i-- > 0;)
    if (pl->steps[i].rank == rank && !strcmp(pl->steps[i].e.path, rel))
      return true;
  return false;
}

/* Records what is at `full` now (a regular file's mode and bytes, or a link's target)
 * in a new step for `rel`. */
static int plan_original(plan *pl, int rank, const char *rel, const char *full, const struct stat *st) {
  bool link = S_ISLNK(st->st_mode);
  step *s = plan_add(pl, rank, link ? PKGCOMMIT_LINK : PKGCOMMIT_ORIGINAL, rel);
  if (!s)
    return error_code();
  if (link) {
    char target[PATH_MAX];
    ssize_t n = readlink(full, target, sizeof(target));
    if (n <= 0 || (size_t)n >= sizeof(target))
      return error_set_errno(ERR_IO, "cannot read the link %s", rel);
    return buf_append(&s->e.data, target, (size_t)n);
  }
  s->e.mode = st->st_mode & 0777;
  int rc = fs_read_file(full, KRM_MAX_FILE, &s->e.data);
  if (rc)
    return error_prefix("%s", rel);
  pl->journal_bytes += s->e.data.len;
  if (pl->journal_bytes > PKGCOMMIT_MAX_JOURNAL)
    return error_set(ERR_LIMIT, "the files to change hold more than %zu bytes", PKGCOMMIT_MAX_JOURNAL);
  return 0;
}

static int check_path(const char *rel) {
  if (!fs_path_is_safe(rel))
    return error_set(ERR_INVALID, "%s: path escapes the package", rel);
  if (names_journal(rel))
    return error_set(ERR_INVALID, "%s: this name is reserved for Portico's journal", rel);
  return 0;
}

/* The directories above new file `rel` that do not exist yet (or are files this commit
 * deletes), parents first. A component that exists and is not a directory is left for
 * the apply step to fail on (and roll back). */
static int plan_dirs(plan *pl, const char *rel) {
  char *path = str_dup(rel);
  if (!path)
    return error_set(ERR_NOMEM, "out of memory");
  int rc = 0;
  for (char *sl = strchr(path, '/'); sl && !rc; sl = strchr(sl + 1, '/')) {
    *sl = 0;
    char *full = fs_join(pl->dir, path);
    struct stat st;
    if (!full) {
      rc = error_set(ERR_NOMEM, "out of memory");
    } else if (plan_has(pl, STEP_MKDIR, path)) {
      /* planned by an earlier file */
    } else if (lstat(full, &st) < 0 ? errno == ENOENT : plan_has(pl, STEP_DELETE, path)) {
      if (++pl->new_dirs > MAX_NEW_DIRS)
        rc = error_set(ERR_LIMIT, "more than %d new directories in one package write", MAX_NEW_DIRS);
      else if (!plan_add(pl, STEP_MKDIR, PKGCOMMIT_MADE_DIR, path))
        rc = error_code();
    } else if (!S_ISDIR(st.st_mode)) {
      *sl = '/';
      free(full);
      break;
    }
    *sl = '/';
    free(full);
  }
  free(path);
  return rc;
}

/* Checks `rel` and looks at what is there now: *full is its path (owned), *have says
 * whether something is there (*st describes it: a regular file or a link). ERR_INVALID
 * for an unsafe path, one whose directory is outside the package, or a directory or
 * special file in its place; ERR_IO, ERR_NOMEM. *full is NULL on failure. */
static int plan_look(plan *pl, const char *rel, char **full, struct stat *st, bool *have) {
  *full = NULL;
  *have = false;
  int rc = check_path(rel);
  if (!rc)
    rc = parent_inside(pl->dir, pl->root_real, rel, &pl->parent_ok);
  if (!rc && !(*full = fs_join(pl->dir, rel)))
    rc = error_set(ERR_NOMEM, "out of memory");
  if (!rc && lstat(*full, st) == 0)
    *have = true;
  else if (!rc && errno != ENOENT && errno != ENOTDIR)
    rc = error_set_errno(ERR_IO, "cannot stat %s", rel);
  if (!rc && *have && !S_ISREG(st->st_mode) && !S_ISLNK(st->st_mode))
    rc = error_set(ERR_INVALID, "%s: %s in the package where a file is expected", rel,
                   S_ISDIR(st->st_mode) ? "a directory" : "not a regular file");
  if (rc) {
    free(*full);
    *full = NULL;
  }
  return rc;
}

/* Plans writing `text` to `rel`: an overwrite of what is there, or a creation (with the
 * directories it needs). */
static int plan_write(plan *pl, const char *rel, const buf *text) {
  char *full;
  struct stat st;
  bool have;
  int rc = plan_look(pl, rel, &full, &st, &have);
  if (rc)
    return rc;
  step *s = NULL;
  if (!have && !(rc = plan_dirs(pl, rel)) && !(s = plan_add(pl, STEP_CREATE, PKGCOMMIT_CREATED, rel)))
    rc = error_code();
  if (have && !(rc = plan_original(pl, STEP_OVERWRITE, rel, full, &st)))
    s = &pl->steps[pl->n - 1];
  if (s)
    rc = buf_append(&s->text, data_of(text), text->len);
  free(full);
  return rc;
}

/* Plans deleting `rel` (gone from the package). Already missing: nothing to do. */
static int plan_delete(plan *pl, const char *rel) {
  char *full;
  struct stat st;
  bool have;
  int rc = plan_look(pl, rel, &full, &st, &have);
  if (!rc && have)
    rc = plan_original(pl, STEP_DELETE, rel, full, &st);
  free(full);
  return rc;
}

/* Compares `after` with `before` (both sorted by path) and plans every change. */
static int plan_changes(plan *pl, const pkgcommit_snapshot *before, const krm_pkg *after) {
  buf text = BUF_INIT;
  buf_init(&text, KRM_MAX_FILE);
  int rc = 0;
  size_t i = 0, k = 0;
  while (!rc && (i < after->nfiles || k < before->n)) {
    int c = i == after->nfiles ? 1 : k == before->n ? -1 : strcmp(after->files[i].path, before->paths[k]);
    if (c > 0) {
      rc = plan_delete(pl, before->paths[k++]);
      continue;
    }
    const krm_file *f = &after->files[i++];
    const buf *old = c == 0 ? &before->text[k++] : NULL;
    buf_reset(&text);
    if ((rc = yml_file_write(f->yaml, &text)))
      break;
    if (!old || old->len != text.len || memcmp(data_of(old), data_of(&text), text.len))
      rc = plan_write(pl, f->path, &text);
  }
  buf_free(&text);
  return rc;
}

static int cmp_step(const void *a, const void *b) {
  const step *x = a, *y = b;
  if (x->rank != y->rank)
    return x->rank < y->rank ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void maybe_crash(size_t done) {
  if (crash_after >= 0 && (size_t)crash_after == done)
    _exit(9);
}

/* Applies step `s` (path `full`); sets *applied once something on disk changed. */
static int apply_step(const step *s, const char *full, bool *applied) {
  const char *rel = s->e.path;
  switch (s->rank) {
  case STEP_DELETE:
    if (unlink(full) < 0)
      return errno == ENOENT ? 0 : error_set_errno(ERR_IO, "cannot delete %s", rel);
    *applied = true;
    return 0;
  case STEP_OVERWRITE:
    if (s->e.kind == PKGCOMMIT_LINK) { /* never write through a link: replace it */
      int rc = fs_write_atomic(full, data_of(&s->text), s->text.len, 0644);
      *applied = !rc;
      return rc;
    }
    *applied = true; /* a partial write is undone like a whole one */
    return write_in_place(full, rel, data_of(&s->text), s->text.len, -1, s->text.len < s->e.data.len);
  case STEP_MKDIR:
    if (mkdir(full, 0755) < 0)
      return errno == EEXIST && fs_is_dir(full) ? 0 : error_set_errno(ERR_IO, "cannot create directory %s", rel);
    *applied = true;
    return 0;
  default: {
    int rc = create_file(full, rel, data_of(&s->text), s->text.len, 0644);
    *applied = !rc;
    return rc;
  }
  }
}

/* fsyncs the directories whose entries changed (when syncing is on): the package's own
 * (`dirfd`) and those of every created, deleted or replaced file. */
static int sync_parents(const plan *pl, int dirfd) {
  if (!fs_sync_enabled())
    return 0;
  int rc = sync_dir_fd(dirfd, pl->dir);
  for (size_t i = 0; i < pl->n && !rc; i++) {
    const step *s = &pl->steps[i];
    const char *slash = strrchr(s->e.path, '/');
    if (!slash || (s->rank == STEP_OVERWRITE && s->e.kind == PKGCOMMIT_ORIGINAL))
      continue;
    char *parent = str_printf("%s/%.*s", pl->dir, (int)(slash - s->e.path), s->e.path);
    int fd = parent ? open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd < 0 || fsync(fd) < 0)
      rc = error_set_errno(ERR_IO, "cannot sync %s", parent ? parent : pl->dir);
    if (fd >= 0)
      close(fd);
    free(parent);
  }
  return rc;
}

/* The plan's records as a journal (in apply order): a shallow view, the plan keeps
 * owning the records; free `view->entries` only. */
static int plan_view(const plan *pl, pkgcommit_journal *view) {
  view->n = view->cap = pl->n;
  if (!(view->entries = malloc((pl->n ? pl->n : 1) * sizeof(pkgcommit_entry))))
    return error_set(ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < pl->n; i++)
    view->entries[i] = pl->steps[i].e;
  return 0;
}

/* Writes the journal `j` of `pl` (created exclusively, 0600). */
static int write_journal(const plan *pl, const pkgcommit_journal *j, const char *jpath, int dirfd) {
  buf out = BUF_INIT;
  buf_init(&out, PKGCOMMIT_MAX_JOURNAL);
  int rc = pkgcommit_journal_encode(j, &out);
  int fd = rc ? -1 : open(jpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (!rc && fd < 0)
    rc = error_set_errno(ERR_IO, "cannot create the journal %s", jpath);
  if (!rc)
    rc = fill_fd(fd, PKGCOMMIT_JOURNAL, data_of(&out), out.len, true);
  if (fd >= 0 && close(fd) < 0 && !rc)
    rc = error_set_errno(ERR_IO, "cannot write %s", jpath);
  if (!rc)
    rc = sync_dir_fd(dirfd, pl->dir);
  if (rc && fd >= 0)
    unlink(jpath);
  buf_free(&out);
  return rc;
}

int pkgcommit_write(const char *dir, const pkgcommit_snapshot *before, const krm_pkg *after) {
  char root_real[PATH_MAX];
  if (!realpath(dir, root_real))
    return error_set_errno(ERR_NOTFOUND, "cannot open package %s", dir);
  int dirfd = lock_package(dir);
  if (dirfd < 0)
    return error_code();
  plan pl = {.dir = dir, .root_real = root_real};
  pkgcommit_journal view = {0};
  char *jpath = fs_join(dir, PKGCOMMIT_JOURNAL);
  bool *applied = NULL;
  int restored = 0;
  int rc = jpath ? recover_locked(dir, root_real, dirfd, &restored) : error_set(ERR_NOMEM, "out of memory");
  if (!rc)
    rc = plan_changes(&pl, before, after);
  if (rc || pl.n == 0)
    goto done; /* nothing on disk changed */
  qsort(pl.steps, pl.n, sizeof(step), cmp_step);
  if (!(applied = calloc(pl.n, sizeof(bool))))
    rc = error_set(ERR_NOMEM, "out of memory");
  if (!rc)
    rc = plan_view(&pl, &view);
  if (!rc)
    rc = write_journal(&pl, &view, jpath, dirfd);
  if (rc)
    goto done; /* nothing on disk changed */
  for (size_t i = 0; i < pl.n && !rc; i++) {
    maybe_crash(i);
    char *full = fs_join(dir, pl.steps[i].e.path);
    rc = full ? apply_step(&pl.steps[i], full, &applied[i]) : error_set(ERR_NOMEM, "out of memory");
    free(full);
  }
  maybe_crash(pl.n);
  if (!rc)
    rc = sync_parents(&pl, dirfd);
  if (!rc) {
    rc = drop_journal(jpath, dirfd, dir);
    goto done;
  }
  /* put back what was applied, from memory */
  char *why = str_dup(error_message());
  int urc = undo_all(dir, root_real, &view, applied, &restored);
  if (!urc)
    urc = drop_journal(jpath, dirfd, dir);
  char *undo_why = urc ? str_dup(error_message()) : NULL;
  if (urc)
    error_set(rc, "%s (undoing it failed too: %s; %s kept for the next render)", why ? why : "write failed",
              undo_why ? undo_why : "out of memory", jpath);
  else
    error_set(rc, "%s (the package is unchanged)", why ? why : "write failed");
  free(undo_why);
  free(why);
done:
  free(view.entries);
  free(applied);
  free(jpath);
  plan_free(&pl);
  close(dirfd);
  return rc;
}
