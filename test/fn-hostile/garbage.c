/* Exits 0 with output that is not a ResourceList. */
#include <stdio.h>
int main(void) {
  fputs("this: is: not [valid yaml\n\x01\x02", stdout);
  return 0;
}
