/* Unit tests for cad/pkgcommit: real files in a temporary directory. */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "cad/krm.h"
#include "cad/pkgcommit.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OLD_TIME 1000000000 /* 2001: an mtime no write of this test can produce */

static void put(const char *dir, const char *rel, const char *text) {
  char *full = fs_join(dir, rel);
  char *slash = strrchr(full, '/');
  *slash = 0;
  ck_assert_int_eq(fs_mkdir_p(full, 0755), 0);
  *slash = '/';
  FILE *f = fopen(full, "w");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  struct timespec ts[2] = {{OLD_TIME, 0}, {OLD_TIME, 0}};
  ck_assert_int_eq(utimensat(AT_FDCWD, full, ts, 0), 0);
  free(full);
}

static struct stat stat_of(const char *dir, const char *rel) {
  char *full = fs_join(dir, rel);
  struct stat st;
  ck_assert_msg(lstat(full, &st) == 0, "%s missing", rel);
  free(full);
  return st;
}

static bool exists(const char *dir, const char *rel) {
  char *full = fs_join(dir, rel);
  bool e = fs_exists(full);
  free(full);
  return e;
}

static char *content(const char *dir, const char *rel) {
  char *full = fs_join(dir, rel);
  buf b = BUF_INIT;
  ck_assert_msg(fs_read_file(full, 1 << 20, &b) == 0, "%s", error_message());
  free(full);
  char *s = str_dup(buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* Every entry below `dir` (hidden ones included), sorted: type, mode, path and content
 * (a link's target), so two trees compare as strings. */
static void dump_into(const char *dir, const char *rel, buf *out) {
  char *here = rel[0] ? fs_join(dir, rel) : str_dup(dir);
  struct dirent **names = NULL;
  int n = scandir(here, &names, NULL, alphasort);
  ck_assert_int_ge(n, 0);
  for (int i = 0; i < n; i++) {
    const char *name = names[i]->d_name;
    if (strcmp(name, ".") && strcmp(name, "..")) {
      char *r = rel[0] ? str_printf("%s/%s", rel, name) : str_dup(name);
      char *full = fs_join(dir, r);
      struct stat st;
      ck_assert_int_eq(lstat(full, &st), 0);
      if (S_ISDIR(st.st_mode)) {
        buf_printf(out, "d %s\n", r);
        dump_into(dir, r, out);
      } else if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t tl = readlink(full, target, sizeof(target) - 1);
        ck_assert_int_ge(tl, 0);
        target[tl] = 0;
        buf_printf(out, "l %s -> %s\n", r, target);
      } else {
        char *c = content(dir, r);
        buf_printf(out, "f %o %s\n%s\n", (unsigned)(st.st_mode & 0777), r, c);
        free(c);
      }
      free(r);
      free(full);
    }
    free(names[i]);
  }
  free(names);
  free(here);
}

static char *dump(const char *dir) {
  buf b = BUF_INIT;
  dump_into(dir, "", &b);
  char *s = str_dup(buf_cstr(&b));
  buf_free(&b);
  return s;
}

static const char *A = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"1\"\n";
static const char *A2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"2\"\n  grown: \"yes\"\n";
static const char *B = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b # kept as written\n";
static const char *C = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
static const char *D = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n";
static const char *LONG = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long\ndata:\n"
                          "  a: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                          "  b: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n";
static const char *SHORT = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long\n";

static void add(krm_pkg *p, const char *rel, const char *text) {
  ck_assert_msg(krm_pkg_add_text(p, rel, text, strlen(text)) == 0, "%s", error_message());
}

/* The package of most tests: a.yaml (changed), b.yaml (unchanged), c.yaml (deleted),
 * long.yaml (shortened) and a Kptfile; `link` adds real.yaml and link.yaml -> real.yaml
 * (link.yaml changed). */
static char *changes_tree(bool link) {
  char *dir = testutil_tmpdir();
  put(dir, "Kptfile", "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: p\n");
  put(dir, "a.yaml", A);
  put(dir, "b.yaml", B);
  put(dir, "c.yaml", C);
  put(dir, "long.yaml", LONG);
  if (link) {
    put(dir, "real.yaml", C);
    char *ln = fs_join(dir, "link.yaml");
    ck_assert_int_eq(symlink("real.yaml", ln), 0);
    free(ln);
  }
  return dir;
}

/* `before`'s files as they are, except: a.yaml changed, long.yaml shortened, link.yaml
 * (when there) changed, c.yaml gone, sub/new/d.yaml new. */
static krm_pkg *changes_after(const krm_pkg *before) {
  krm_pkg *out = krm_pkg_new();
  for (size_t i = 0; i < before->nfiles; i++) {
    const char *p = before->files[i].path;
    if (!strcmp(p, "c.yaml"))
      continue;
    buf t = BUF_INIT;
    ck_assert_int_eq(yml_file_write(before->files[i].yaml, &t), 0);
    add(out, p, !strcmp(p, "a.yaml") || !strcmp(p, "link.yaml") ? A2 : !strcmp(p, "long.yaml") ? SHORT : buf_cstr(&t));
    buf_free(&t);
  }
  add(out, "sub/new/d.yaml", D);
  return out;
}

/* A package on disk, read: `before` and its snapshot, `after` (changes_after), and the
 * dump of the tree as it was read. */
typedef struct fixture {
  char *dir;
  krm_pkg *before, *after;
  pkgcommit_snapshot snap;
  char *orig;
} fixture;

static void fixture_read(fixture *f) {
  ck_assert_msg(krm_pkg_read(&f->before, f->dir, KRM_READ_SUBPACKAGES) == 0, "%s", error_message());
  ck_assert_int_eq(pkgcommit_snapshot_take(&f->snap, f->before), 0);
  f->after = changes_after(f->before);
  f->orig = dump(f->dir);
}

static void fixture_free(fixture *f) {
  pkgcommit_snapshot_free(&f->snap);
  krm_pkg_free(f->before);
  krm_pkg_free(f->after);
  free(f->orig);
  testutil_rmtree(f->dir);
  free(f->dir);
}

/* The tree is the one that was read, byte for byte. */
static void check_unchanged(const fixture *f) {
  char *now = dump(f->dir);
  ck_assert_str_eq(now, f->orig);
  free(now);
}

static void check_content(const char *dir, const char *rel, const char *want) {
  char *c = content(dir, rel);
  ck_assert_str_eq(c, want);
  free(c);
}

static void check_changes(bool sync) {
  fs_set_sync(sync);
  fixture f = {.dir = changes_tree(false)};
  fixture_read(&f);
  ck_assert_uint_eq(f.snap.n, 5); /* sorted, bytes as read */
  ck_assert_str_eq(buf_cstr(pkgcommit_snapshot_find(&f.snap, "b.yaml")), B);
  ck_assert_str_eq(buf_cstr(pkgcommit_snapshot_find(&f.snap, "long.yaml")), LONG);
  ck_assert_ptr_null(pkgcommit_snapshot_find(&f.snap, "sub/new/d.yaml"));
  struct stat a0 = stat_of(f.dir, "a.yaml"), b0 = stat_of(f.dir, "b.yaml"), l0 = stat_of(f.dir, "long.yaml");
  ck_assert_msg(pkgcommit_write(f.dir, &f.snap, f.after) == 0, "%s", error_message());
  struct stat a1 = stat_of(f.dir, "a.yaml"), b1 = stat_of(f.dir, "b.yaml"), l1 = stat_of(f.dir, "long.yaml");
  /* changed: same inode, new bytes, new mtime */
  ck_assert_uint_eq(a0.st_ino, a1.st_ino);
  ck_assert_int_ne(a1.st_mtim.tv_sec, OLD_TIME);
  check_content(f.dir, "a.yaml", A2);
  /* shortened in place: no old bytes left past the new end */
  ck_assert_uint_eq(l0.st_ino, l1.st_ino);
  check_content(f.dir, "long.yaml", SHORT);
  /* unchanged: not touched at all */
  ck_assert_uint_eq(b0.st_ino, b1.st_ino);
  ck_assert_int_eq(b1.st_mtim.tv_sec, OLD_TIME);
  ck_assert_int_eq(b1.st_mtim.tv_nsec, 0);
  check_content(f.dir, "b.yaml", B);
  ck_assert_int_eq(stat_of(f.dir, "Kptfile").st_mtim.tv_sec, OLD_TIME);
  /* deleted and created */
  ck_assert(!exists(f.dir, "c.yaml"));
  check_content(f.dir, "sub/new/d.yaml", D);
  ck_assert_uint_eq(stat_of(f.dir, "sub/new/d.yaml").st_mode & 0777, 0644);
  ck_assert(!exists(f.dir, PKGCOMMIT_JOURNAL));
  /* the same commit again, from a fresh read: nothing left to change, nothing touched */
  pkgcommit_snapshot_free(&f.snap);
  krm_pkg_free(f.before);
  ck_assert_int_eq(krm_pkg_read(&f.before, f.dir, KRM_READ_SUBPACKAGES), 0);
  ck_assert_int_eq(pkgcommit_snapshot_take(&f.snap, f.before), 0);
  struct timespec old[2] = {{OLD_TIME, 0}, {OLD_TIME, 0}};
  char *af = fs_join(f.dir, "a.yaml");
  ck_assert_int_eq(utimensat(AT_FDCWD, af, old, 0), 0);
  free(af);
  ck_assert_int_eq(pkgcommit_write(f.dir, &f.snap, f.after), 0);
  ck_assert_int_eq(stat_of(f.dir, "a.yaml").st_mtim.tv_sec, OLD_TIME);
  ck_assert(!exists(f.dir, PKGCOMMIT_JOURNAL));
  fixture_free(&f);
  fs_set_sync(true);
}

START_TEST(changed_new_deleted_unchanged) { check_changes(false); }
END_TEST

START_TEST(changed_new_deleted_unchanged_synced) { check_changes(true); }
END_TEST

/* A failure in the middle of the apply step: a new file whose directory would be a
 * regular file (fails for root too). Everything applied before it is undone. */
START_TEST(failure_rolls_back_everything) {
  fixture f = {.dir = changes_tree(true)};
  put(f.dir, "x.yaml", D);
  fixture_read(&f);                   /* a, link, long changed; c deleted; sub/new/d created */
  add(f.after, "x.yaml/y.yaml", D);   /* created last (sorted), fails: x.yaml is a file */
  ck_assert_int_eq(pkgcommit_write(f.dir, &f.snap, f.after), ERR_IO);
  ck_assert_msg(strstr(error_message(), "x.yaml/y.yaml") && strstr(error_message(), "unchanged"), "%s",
                error_message());
  check_unchanged(&f); /* byte for byte; the link is a link again; no sub/, no journal */
  ck_assert(S_ISLNK(stat_of(f.dir, "link.yaml").st_mode));
  ck_assert_int_eq(stat_of(f.dir, "b.yaml").st_mtim.tv_sec, OLD_TIME);
  fixture_free(&f);
}
END_TEST

/* A link as the final component is replaced by a regular file, never written through. */
START_TEST(symlink_replaced_not_written_through) {
  fixture f = {.dir = changes_tree(true)};
  fixture_read(&f);
  ck_assert_msg(pkgcommit_write(f.dir, &f.snap, f.after) == 0, "%s", error_message());
  ck_assert(S_ISREG(stat_of(f.dir, "link.yaml").st_mode));
  check_content(f.dir, "link.yaml", A2);
  check_content(f.dir, "real.yaml", C);
  fixture_free(&f);
}
END_TEST

/* Runs the commit of `f` in a child killed (by the test hook) after `steps` changes. */
static void commit_and_crash(const fixture *f, long steps) {
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    pkgcommit_test_crash_after(steps);
    pkgcommit_write(f->dir, &f->snap, f->after);
    _exit(0); /* not reached: the hook exits with 9 */
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 9);
  ck_assert(exists(f->dir, PKGCOMMIT_JOURNAL));
}

/* A commit killed after `steps` changes leaves a complete journal; recovery puts the
 * original tree back byte for byte, and a commit afterwards works. */
START_TEST(crash_then_recover) {
  /* the plan: delete c; overwrite a, link, long; mkdir sub, sub/new; create d */
  static const int restored_after[] = {0, 1, 2, 3, 4, 4, 4, 5};
  for (long steps = 0; steps <= 7; steps++) {
    fixture f = {.dir = changes_tree(true)};
    fixture_read(&f);
    commit_and_crash(&f, steps);
    if (steps > 0) {
      char *mid = dump(f.dir);
      ck_assert_str_ne(mid, f.orig); /* something did change before the "crash" */
      free(mid);
    }
    int restored = -1;
    ck_assert_msg(pkgcommit_recover(f.dir, &restored) == 0, "%s", error_message());
    ck_assert_int_eq(restored, restored_after[steps]); /* directories are not files */
    check_unchanged(&f);
    ck_assert_int_eq(pkgcommit_recover(f.dir, &restored), 0); /* nothing left to do */
    ck_assert_int_eq(restored, 0);
    ck_assert_msg(pkgcommit_write(f.dir, &f.snap, f.after) == 0, "%s", error_message());
    check_content(f.dir, "sub/new/d.yaml", D);
    fixture_free(&f);
  }
}
END_TEST

/* A crashed journal found by the next commit is replayed under its lock first. */
START_TEST(commit_recovers_a_crashed_journal_first) {
  fixture f = {.dir = changes_tree(false)};
  fixture_read(&f);
  commit_and_crash(&f, 2);
  /* nothing to change (an empty package over an empty snapshot): only the recovery */
  krm_pkg *empty = krm_pkg_new();
  pkgcommit_snapshot none;
  memset(&none, 0, sizeof(none));
  ck_assert_int_eq(pkgcommit_write(f.dir, &none, empty), 0);
  check_unchanged(&f);
  krm_pkg_free(empty);
  fixture_free(&f);
}
END_TEST

static void write_journal_text(const char *dir, const char *data, size_t len) {
  char *j = fs_join(dir, PKGCOMMIT_JOURNAL);
  int fd = open(j, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
  close(fd);
  free(j);
}

static void journal_add_bytes(pkgcommit_journal *j, char kind, unsigned mode, const char *path,
                              const char *data, size_t len) {
  if (j->n == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 4;
    j->entries = realloc(j->entries, j->cap * sizeof(*j->entries));
  }
  pkgcommit_entry *e = &j->entries[j->n++];
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->mode = mode;
  e->path = str_dup(path);
  if (len)
    ck_assert_int_eq(buf_append(&e->data, data, len), 0);
}

static void journal_add(pkgcommit_journal *j, char kind, unsigned mode, const char *path, const char *data) {
  journal_add_bytes(j, kind, mode, path, data, data ? strlen(data) : 0);
}

/* Encodes `j` into the journal file of `dir` (then frees `j`). */
static void leave_journal(const char *dir, pkgcommit_journal *j) {
  buf enc = BUF_INIT;
  ck_assert_int_eq(pkgcommit_journal_encode(j, &enc), 0);
  write_journal_text(dir, enc.data, enc.len);
  buf_free(&enc);
  pkgcommit_journal_free(j);
}

START_TEST(torn_journal_is_discarded) {
  fixture f = {.dir = changes_tree(false)};
  fixture_read(&f);
  pkgcommit_journal j = {0};
  journal_add(&j, PKGCOMMIT_ORIGINAL, 0644, "a.yaml", "garbage that must not be written\n");
  journal_add(&j, PKGCOMMIT_CREATED, 0, "b.yaml", NULL);
  buf enc = BUF_INIT;
  ck_assert_int_eq(pkgcommit_journal_encode(&j, &enc), 0);
  /* cut anywhere before its end, or one byte changed: torn */
  size_t cuts[] = {0, 5, enc.len / 2, enc.len - 1};
  for (size_t i = 0; i < sizeof(cuts) / sizeof(*cuts); i++) {
    write_journal_text(f.dir, enc.data, cuts[i]);
    int restored = -1;
    ck_assert_msg(pkgcommit_recover(f.dir, &restored) == 0, "%s", error_message());
    ck_assert_int_eq(restored, 0);
    ck_assert(!exists(f.dir, PKGCOMMIT_JOURNAL));
  }
  enc.data[20] ^= 1;
  write_journal_text(f.dir, enc.data, enc.len);
  ck_assert_int_eq(pkgcommit_recover(f.dir, NULL), 0);
  check_unchanged(&f);
  ck_assert_int_eq(stat_of(f.dir, "a.yaml").st_mtim.tv_sec, OLD_TIME);
  buf_free(&enc);
  pkgcommit_journal_free(&j);
  fixture_free(&f);
}
END_TEST

/* A complete journal naming a path outside the package is refused and kept. */
START_TEST(hostile_journal_is_refused) {
  char *dir = changes_tree(false);
  const char *bad[] = {"../escape.yaml", "/etc/passwd", PKGCOMMIT_JOURNAL, "a//b.yaml"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    pkgcommit_journal j = {0};
    journal_add(&j, PKGCOMMIT_ORIGINAL, 0644, bad[i], "x: 1\n");
    leave_journal(dir, &j);
    ck_assert_int_eq(pkgcommit_recover(dir, NULL), ERR_INVALID);
    ck_assert_msg(strstr(error_message(), "not a journal Portico wrote"), "%s", error_message());
    ck_assert(exists(dir, PKGCOMMIT_JOURNAL));
  }
  /* a directory inside the package reached through a link to outside */
  char *outside = testutil_tmpdir();
  char *ln = fs_join(dir, "out");
  ck_assert_int_eq(symlink(outside, ln), 0);
  pkgcommit_journal j = {0};
  journal_add(&j, PKGCOMMIT_ORIGINAL, 0644, "out/x.yaml", "x: 1\n");
  leave_journal(dir, &j);
  ck_assert_int_eq(pkgcommit_recover(dir, NULL), ERR_INVALID);
  char *px = fs_join(outside, "x.yaml");
  ck_assert(!fs_exists(px));
  free(px);
  free(ln);
  testutil_rmtree(outside);
  free(outside);
  testutil_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(held_lock_is_a_clear_error) {
  fixture f = {.dir = changes_tree(false)};
  fixture_read(&f);
  int fd = open(f.dir, O_RDONLY | O_DIRECTORY);
  ck_assert_int_eq(flock(fd, LOCK_EX), 0); /* another writer */
  ck_assert_int_eq(pkgcommit_write(f.dir, &f.snap, f.after), ERR_CONFLICT);
  ck_assert_msg(strstr(error_message(), "another render is writing"), "%s", error_message());
  write_journal_text(f.dir, "torn", 4);
  ck_assert_int_eq(pkgcommit_recover(f.dir, NULL), ERR_CONFLICT);
  ck_assert(exists(f.dir, PKGCOMMIT_JOURNAL)); /* a running commit's journal is left alone */
  close(fd);
  ck_assert_int_eq(pkgcommit_recover(f.dir, NULL), 0);
  check_unchanged(&f);
  fixture_free(&f);
}
END_TEST

START_TEST(bad_paths_change_nothing) {
  fixture f = {.dir = changes_tree(false)};
  fixture_read(&f);
  char *outside = testutil_tmpdir();
  char *ln = fs_join(f.dir, "out"); /* made after the read, which refuses such a link */
  ck_assert_int_eq(symlink(outside, ln), 0);
  free(f.orig);
  f.orig = dump(f.dir);
  const char *bad[] = {"out/x.yaml", "out/new/x.yaml", PKGCOMMIT_JOURNAL, PKGCOMMIT_JOURNAL "/x.yaml",
                       "../x.yaml"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    krm_pkg *after = changes_after(f.before);
    add(after, bad[i], D); /* krm_pkg_add_text takes any path: the commit must refuse it */
    ck_assert_int_eq(pkgcommit_write(f.dir, &f.snap, after), ERR_INVALID);
    check_unchanged(&f);
    krm_pkg_free(after);
  }
  char *px = fs_join(outside, "x.yaml");
  ck_assert(!fs_exists(px));
  free(px);
  free(ln);
  testutil_rmtree(outside);
  free(outside);
  fixture_free(&f);
}
END_TEST

/* A read-only file is an error (as in kpt), rolled back. Root writes read-only files, so
 * as root the commit runs in a child that became nobody (65534). */
START_TEST(read_only_file_fails_and_rolls_back) {
  fixture f = {.dir = changes_tree(false)};
  put(f.dir, "0.yaml", C); /* sorted first: changed before the failure */
  char *a = fs_join(f.dir, "a.yaml");
  ck_assert_int_eq(chmod(a, 0444), 0);
  free(a);
  fixture_read(&f);
  add(f.after, "0.yaml", D);
  const char *dir = f.dir;
  if (geteuid() == 0) {
    const char *names[] = {"", "Kptfile", "0.yaml", "a.yaml", "b.yaml", "c.yaml", "long.yaml"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
      char *p = names[i][0] ? fs_join(dir, names[i]) : str_dup(dir);
      ck_assert_int_eq(lchown(p, 65534, 65534), 0);
      free(p);
    }
  }
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
      _exit(3);
    int rc = pkgcommit_write(dir, &f.snap, f.after);
    bool named = strstr(error_message(), "a.yaml") != NULL;
    _exit(rc == ERR_IO && named ? 0 : 4);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
  check_unchanged(&f);
  fixture_free(&f);
}
END_TEST

START_TEST(journal_round_trip_and_bounds) {
  pkgcommit_journal j = {0};
  journal_add_bytes(&j, PKGCOMMIT_ORIGINAL, 0640, "a b/c\nd.yaml", "bytes\0with nul", 14);
  journal_add(&j, PKGCOMMIT_LINK, 0, "l.yaml", "target.yaml");
  journal_add(&j, PKGCOMMIT_MADE_DIR, 0, "sub", NULL);
  journal_add(&j, PKGCOMMIT_CREATED, 0, "sub/n.yaml", NULL);
  journal_add(&j, PKGCOMMIT_ORIGINAL, 0, "empty.yaml", NULL);
  buf enc = BUF_INIT, again = BUF_INIT;
  ck_assert_int_eq(pkgcommit_journal_encode(&j, &enc), 0);
  pkgcommit_journal back;
  ck_assert_msg(pkgcommit_journal_parse(&back, enc.data, enc.len) == 0, "%s", error_message());
  ck_assert_uint_eq(back.n, 5);
  ck_assert_str_eq(back.entries[0].path, "a b/c\nd.yaml");
  ck_assert_uint_eq(back.entries[0].mode, 0640);
  ck_assert_uint_eq(back.entries[0].data.len, 14);
  ck_assert_mem_eq(back.entries[0].data.data, "bytes\0with nul", 14);
  ck_assert_str_eq(back.entries[1].data.data, "target.yaml");
  ck_assert_int_eq(back.entries[2].kind, PKGCOMMIT_MADE_DIR);
  ck_assert_int_eq(pkgcommit_journal_encode(&back, &again), 0);
  ck_assert_uint_eq(again.len, enc.len);
  ck_assert_mem_eq(again.data, enc.data, enc.len);
  pkgcommit_journal_free(&back);
  /* every proper prefix is torn */
  for (size_t cut = 0; cut < enc.len; cut++)
    ck_assert_int_eq(pkgcommit_journal_parse(&back, enc.data, cut), ERR_EOF);
  buf_free(&enc);
  buf_free(&again);
  pkgcommit_journal_free(&j);
  /* complete (valid checksum) but out of bounds: refused */
  pkgcommit_journal k = {0};
  journal_add(&k, PKGCOMMIT_CREATED, 0, "n.yaml", "a created file has no data");
  ck_assert_int_eq(pkgcommit_journal_encode(&k, &enc), 0);
  ck_assert_int_eq(pkgcommit_journal_parse(&back, enc.data, enc.len), ERR_INVALID);
  buf_free(&enc);
  k.entries[0].data.len = 0;
  k.entries[0].kind = PKGCOMMIT_ORIGINAL;
  k.entries[0].mode = 04755; /* not permission bits only */
  ck_assert_int_eq(pkgcommit_journal_encode(&k, &enc), 0);
  ck_assert_int_eq(pkgcommit_journal_parse(&back, enc.data, enc.len), ERR_INVALID);
  buf_free(&enc);
  pkgcommit_journal_free(&k);
}
END_TEST

static Suite *pkgcommit_suite(void) {
  Suite *s = suite_create("pkgcommit");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, changed_new_deleted_unchanged);
  tcase_add_test(tc, changed_new_deleted_unchanged_synced);
  tcase_add_test(tc, failure_rolls_back_everything);
  tcase_add_test(tc, symlink_replaced_not_written_through);
  tcase_add_test(tc, crash_then_recover);
  tcase_add_test(tc, commit_recovers_a_crashed_journal_first);
  tcase_add_test(tc, torn_journal_is_discarded);
  tcase_add_test(tc, hostile_journal_is_refused);
  tcase_add_test(tc, held_lock_is_a_clear_error);
  tcase_add_test(tc, bad_paths_change_nothing);
  tcase_add_test(tc, read_only_file_fails_and_rolls_back);
  tcase_add_test(tc, journal_round_trip_and_bounds);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(pkgcommit_suite)
