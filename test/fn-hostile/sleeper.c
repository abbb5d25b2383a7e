/* Sleeps forever, in a child too, after detaching it from its process group: only the
 * wall time and the PID namespace stop it. */
#include <unistd.h>
int main(void) {
  if (fork() == 0) {
    setsid();
    for (;;)
      pause();
  }
  for (;;)
    pause();
}
