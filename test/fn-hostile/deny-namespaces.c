/* Not a function: a launcher that makes the kernel look like one that refuses namespaces
 * (unshare and namespace-creating clones fail with EPERM, as under a strict container
 * runtime), then runs its arguments. The tests use it to check that Portico refuses to run
 * functions there unless --sandbox=weak is given. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: deny-namespaces PROGRAM [ARGS]\n");
    return 2;
  }
  /* unshare, and clone/clone3 asking for a new namespace (clone3's flags are in memory: it
   * gets ENOSYS, and libc falls back to clone). */
  static const unsigned long ns_flags[] = {CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,
                                           CLONE_NEWNET, CLONE_NEWIPC,  CLONE_NEWUTS,
                                           CLONE_NEWCGROUP};
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  int bad = !ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0) ||
            seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  for (size_t i = 0; !bad && i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
    bad = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
  if (bad || seccomp_load(ctx)) {
    fprintf(stderr, "deny-namespaces: cannot install the filter\n");
    return 2;
  }
  execvp(argv[1], argv + 1);
  perror("deny-namespaces: exec");
  return 127;
}
