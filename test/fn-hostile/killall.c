/* kill(-1, SIGKILL): everything it may signal. Only the sandbox's own processes exist. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
  if (fork() == 0) {
    for (;;)
      pause();
  }
  int rc = kill(-1, SIGKILL);
  fprintf(stderr, "kill(-1) returned %d and I am still here\n", rc);
  return 1;
}
