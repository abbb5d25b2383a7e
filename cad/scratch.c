/* scratch: see scratch.h. */
#include "cad/scratch.h"

#include "base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int scratch_write(const char *path, const void *data, size_t len, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0)
    return error_set_errno(ERR_IO, "cannot create %s", path);
  const char *p = data;
  size_t left = len;
  while (left > 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int rc = error_set_errno(ERR_IO, "cannot write %s", path);
      close(fd);
      return rc;
    }
    p += n;
    left -= (size_t)n;
  }
  if (fchmod(fd, mode) != 0 || close(fd) != 0)
    return error_set_errno(ERR_IO, "cannot finish %s", path);
  return 0;
}
