/* Fork bomb: every process forks forever. Contained by RLIMIT_NPROC in the user namespace
 * and the wall time; the PID namespace takes every child down with it. */
#include <unistd.h>
int main(void) {
  for (;;)
    fork();
}
