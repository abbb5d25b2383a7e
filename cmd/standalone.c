/* Placeholder until this command lands. */
#include "cmd/commands.h"

#include <stdio.h>

int cmd_standalone_main(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "portico %s: not implemented yet\n", argv[0]);
  return 1;
}
