/* scratch: see scratch.h. */
#include "cad/scratch.h"

#include "base/error.h"
#include "base/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int scratch_write(const char *path, const void *data, size_t len, mode_t mode) {
  /* the tree may hold hard links to the user's files (see scratch_link): never write
   * through an existing inode */
  if (unlink(path) != 0 && errno != ENOENT)
    return error_set_errno(ERR_IO, "cannot replace %s", path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return error_set_errno(ERR_IO, "cannot create %s", path);
  int rc = fs_write_all(fd, path, data, len);
  if (rc) {
    close(fd);
    return rc;
  }
  if (fchmod(fd, mode) != 0 || close(fd) != 0)
    return error_set_errno(ERR_IO, "cannot finish %s", path);
  return 0;
}

int scratch_link(const char *src, const char *dst) {
  if (link(src, dst) == 0)
    return 0;
  return error_set_errno(ERR_IO, "cannot link %s", dst);
}
