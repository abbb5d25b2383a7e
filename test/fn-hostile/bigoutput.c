/* Writes gigabytes to stdout: the output limit stops it. */
#include <string.h>
#include <unistd.h>
int main(void) {
  static char block[1 << 16];
  memset(block, 'x', sizeof(block));
  for (long i = 0; i < (4L << 30) / (long)sizeof(block); i++)
    if (write(1, block, sizeof(block)) < 0)
      return 1;
  return 0;
}
