/* Burns CPU forever (and ignores SIGXCPU): the CPU rlimit's hard limit kills it. */
#include <signal.h>
int main(void) {
  signal(SIGXCPU, SIG_IGN);
  volatile unsigned long n = 0;
  for (;;)
    n++;
}
