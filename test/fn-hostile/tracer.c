/* ptrace: attach to its parent, to PID 1, and let a child trace it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <unistd.h>
int main(void) {
  if (ptrace(PTRACE_ATTACH, getppid(), 0, 0) == 0)
    fprintf(stderr, "ESCAPED: attached to parent\n");
  if (ptrace(PTRACE_ATTACH, 1, 0, 0) == 0)
    fprintf(stderr, "ESCAPED: attached to pid 1\n");
  if (ptrace(PTRACE_TRACEME, 0, 0, 0) == 0)
    fprintf(stderr, "ESCAPED: traceme\n");
  fprintf(stderr, "ptrace: %s\n", strerror(errno));
  return 1;
}
