/* Tries to write outside its sandbox: the paths in argv (the package, a host file), /etc,
 * /usr, its own executable, and /tmp (private: allowed, but invisible to the host). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void try_write(const char *path, int expect_private) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd >= 0 && write(fd, "pwned\n", 6) == 6)
    fprintf(stderr, "%s %s\n", expect_private ? "wrote private" : "ESCAPED: wrote", path);
  else
    fprintf(stderr, "cannot write %s\n", path);
  if (fd >= 0)
    close(fd);
}
int main(int argc, char **argv) {
  try_write("/etc/pwned", 0);
  try_write("/usr/pwned", 0);
  try_write(argv[0], 0);
  try_write("/tmp/portico-hostile-marker", 1);
  for (int i = 1; i < argc; i++)
    try_write(argv[i], 0);
  return 1;
}
