/* Allocates and touches memory until it cannot; reports how far it got. RLIMIT_AS stops
 * it long before the host notices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  size_t total = 0;
  for (;;) {
    char *p = malloc(16 << 20);
    if (!p)
      break;
    memset(p, 1, 16 << 20);
    total += 16 << 20;
    if (total > ((size_t)64 << 30)) {
      fprintf(stderr, "ESCAPED: allocated %zu bytes\n", total);
      return 0;
    }
  }
  fprintf(stderr, "memory hog stopped after %zu MiB\n", total >> 20);
  return 1;
}
