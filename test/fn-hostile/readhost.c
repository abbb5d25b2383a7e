/* Tries to read host files and the controller's secrets (extra paths in argv), and to
 * look at other processes. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void try_read(const char *path) {
  int fd = open(path, O_RDONLY);
  char b[64];
  if (fd >= 0 && read(fd, b, sizeof(b)) > 0)
    fprintf(stderr, "ESCAPED: read %s\n", path);
  else
    fprintf(stderr, "cannot read %s\n", path);
  if (fd >= 0)
    close(fd);
}
int main(int argc, char **argv) {
  const char *paths[] = {"/etc/shadow", "/etc/passwd", "/etc/hostname", "/root/.bashrc",
                         "/root/.kube/config", "/var/run/secrets/kubernetes.io/serviceaccount/token",
                         "/work", "/home", "/sys/kernel/notes", "/proc/kcore"};
  for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
    try_read(paths[i]);
  for (int i = 1; i < argc; i++)
    try_read(argv[i]);
  /* Other processes: only the sandbox's own should be visible. */
  DIR *d = opendir("/proc");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
      n++;
  if (d)
    closedir(d);
  if (n > 2)
    fprintf(stderr, "ESCAPED: sees %d processes\n", n);
  return 1;
}
