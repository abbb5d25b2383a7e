/* Not a function: a launcher that makes the kernel look like one that refuses namespaces
 * (unshare fails with EPERM, as under a strict container
 * runtime), then runs its arguments. The tests use it to check that Portico refuses to run
 * functions there unless --sandbox=weak is given. */
#define _GNU_SOURCE
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: deny-namespaces PROGRAM [ARGS]\n");
    return 2;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0) ||
      seccomp_load(ctx)) {
    fprintf(stderr, "deny-namespaces: cannot install the filter\n");
    return 2;
  }
  execvp(argv[1], argv + 1);
  perror("deny-namespaces: exec");
  return 127;
}
