/* Prints its environment: it must be empty (the caller's secrets never reach it). */
#include <stdio.h>
extern char **environ;
int main(void) {
  int n = 0;
  for (char **e = environ; *e; e++, n++)
    fprintf(stderr, "ESCAPED: env %s\n", *e);
  fprintf(stderr, "environment has %d entries\n", n);
  return 1;
}
