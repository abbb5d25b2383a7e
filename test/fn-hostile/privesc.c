/* setuid(0), mount, chroot, unshare, module loading, sethostname: all refused. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  if (setuid(0) == 0 && getuid() == 0)
    fprintf(stderr, "ESCAPED: setuid(0)\n");
  if (mount("none", "/tmp", "tmpfs", 0, NULL) == 0)
    fprintf(stderr, "ESCAPED: mount\n");
  if (chroot("/tmp") == 0)
    fprintf(stderr, "ESCAPED: chroot\n");
  if (unshare(CLONE_NEWUSER) == 0)
    fprintf(stderr, "ESCAPED: unshare(CLONE_NEWUSER)\n");
  if (unshare(CLONE_NEWNS) == 0)
    fprintf(stderr, "ESCAPED: unshare(CLONE_NEWNS)\n");
  if (syscall(SYS_init_module, NULL, 0, "") == 0)
    fprintf(stderr, "ESCAPED: init_module\n");
  if (sethostname("pwned", 5) == 0)
    fprintf(stderr, "ESCAPED: sethostname\n");
  fprintf(stderr, "uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
  return 1;
}
