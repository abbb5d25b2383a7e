/*
 * commands: the entry point of each `portico` subcommand. Each takes the arguments after
 * its own name (argv[0] is the subcommand name) and returns the process exit code:
 * 0 success, 1 failure of the operation, 2 bad usage.
 */
#ifndef PORTICO_CMD_COMMANDS_H
#define PORTICO_CMD_COMMANDS_H

int cmd_standalone_main(int argc, char **argv); /* cmd/standalone.c  */
int cmd_controller_main(int argc, char **argv); /* cmd/controller.c  */
int cmd_pkg_main(int argc, char **argv);        /* cmd/pkg.c: init|get|update|diff */
int cmd_fn_io_main(int argc, char **argv);      /* cmd/fn_io.c: fn source|sink */
int cmd_fn_run_main(int argc, char **argv);     /* cmd/fn_run.c: fn eval|render|run */

#endif
