/* fs: see fs.h. */
#include "fs.h"

#include "error.h"
#include "str.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends what `fd` holds to `out` and closes it. With `short_is_eof` (a regular file: it
 * gives fewer bytes than asked only at its end), the first short read ends it, which
 * spares the read that would return 0. */
static int read_fd(int fd, const char *path, size_t limit, buf *out, bool short_is_eof) {
  int rc = 0;
  size_t start = out->len;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = error_set_errno(ERR_IO, "cannot read %s", path);
      break;
    }
    if (n == 0)
      break;
    if (out->len - start + (size_t)n > limit) {
      rc = error_set(ERR_LIMIT, "%s is larger than %zu bytes", path, limit);
      break;
    }
    if ((rc = buf_append(out, chunk, (size_t)n)))
      break;
    if (short_is_eof && (size_t)n < sizeof(chunk))
      break;
  }
  close(fd);
  if (rc) {
    out->len = start;
    if (out->data)
      out->data[start] = '\0';
  }
  return rc;
}

int fs_read_file(const char *path, size_t limit, buf *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return error_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open %s", path);
  return read_fd(fd, path, limit, out, false);
}

int fs_read_regular(const char *path, size_t limit, buf *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    return error_set_errno(errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open %s", path);
  return read_fd(fd, path, limit, out, true);
}

static _Atomic bool fs_sync_writes = true;

void fs_set_sync(bool on) { fs_sync_writes = on; }

bool fs_sync_enabled(void) { return fs_sync_writes; }

/* An empty temporary file beside `path` ("PATH.tmp.XXXXXX", close-on-exec): its
 * descriptor and *tmp (caller frees), or -1 with the error set and *tmp NULL. */
static int temp_beside(const char *path, char **tmp) {
  *tmp = str_printf("%s.tmp.XXXXXX", path);
  if (!*tmp)
    return error_set(ERR_NOMEM, "out of memory");
  int fd = mkostemp(*tmp, O_CLOEXEC);
  if (fd < 0) {
    error_set_errno(ERR_IO, "cannot create a temporary file beside %s", path);
    free(*tmp);
    *tmp = NULL;
    return -1;
  }
  return fd;
}

int fs_write_all(int fd, const char *name, const void *data, size_t len) {
  const char *p = data ? data : "";
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return error_set_errno(ERR_IO, "cannot write %s", name);
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Writes `data` to the temporary `fd`, sets `mode`, fsyncs when syncing is on, closes `fd`
 * whatever happens. 0 or ERR_IO naming `path`. */
static int fill_temp(int fd, const char *path, const void *data, size_t len, mode_t mode) {
  int rc = fs_write_all(fd, path, data, len);
  if (!rc && fchmod(fd, mode) < 0)
    rc = error_set_errno(ERR_IO, "cannot set the mode of %s", path);
  if (!rc && fs_sync_writes && fsync(fd) < 0)
    rc = error_set_errno(ERR_IO, "cannot sync %s", path);
  if (close(fd) < 0 && !rc)
    rc = error_set_errno(ERR_IO, "cannot write %s", path);
  return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode) {
  char *tmp = NULL;
  int fd = temp_beside(path, &tmp);
  if (fd < 0)
    return error_code();
  int rc = fill_temp(fd, path, data, len, mode);
  if (!rc && rename(tmp, path) < 0)
    rc = error_set_errno(ERR_IO, "cannot move %s into place", path);
  if (rc)
    unlink(tmp);
  free(tmp);
  return rc;
}

int fs_mkdir_p(const char *path, mode_t mode) {
  char *copy = str_dup(path);
  if (!copy)
    return ERR_NOMEM;
  int rc = 0;
  for (char *p = copy + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(copy, mode) < 0 && errno != EEXIST) {
        rc = error_set_errno(ERR_IO, "cannot create directory %s", copy);
        break;
      }
      *p = saved;
      if (!saved)
        break;
    }
  }
  if (!rc && !fs_is_dir(path))
    rc = error_set(ERR_IO, "%s exists and is not a directory", path);
  free(copy);
  return rc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fs_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0)
    return errno == ENOENT ? 0 : error_set_errno(ERR_IO, "cannot stat %s", path);
  if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS) < 0)
    return error_set_errno(ERR_IO, "cannot remove %s", path);
  return 0;
}

bool fs_path_is_safe(const char *rel) {
  if (!rel || !*rel || rel[0] == '/' || strchr(rel, '\\'))
    return false;
  const char *seg = rel;
  for (;;) {
    const char *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
      return false;
    if (!end)
      return true;
    seg = end + 1;
  }
}

char *fs_join(const char *a, const char *b) {
  size_t la = strlen(a);
  while (*b == '/')
    b++;
  if (la && a[la - 1] == '/')
    return str_printf("%s%s", a, b);
  return str_printf("%s/%s", a, b);
}

bool fs_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

bool fs_is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
