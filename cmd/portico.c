/*
 * portico: the one binary. Dispatches to a subcommand; see commands.h.
 */
#include "cmd/commands.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PORTICO_VERSION "0.1.0"

static void usage(FILE *out) {
  fprintf(out,
          "Usage: portico COMMAND [ARGS]\n"
          "\n"
          "Package orchestration for Configuration as Data.\n"
          "\n"
          "Commands:\n"
          "  standalone --data DIR       run an embedded Kubernetes-compatible API and the controller\n"
          "  controller                  run the operator against a cluster (kubeconfig or in-cluster)\n"
          "  pkg init|get|update|diff    kpt-compatible package commands\n"
          "  fn source|sink|eval|render|run\n"
          "                              kpt-compatible function commands\n"
          "  version                     print the version\n"
          "\n"
          "Run 'portico COMMAND --help' for a command's flags.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("portico %s\n", PORTICO_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "standalone"))
    return cmd_standalone_main(argc - 1, argv + 1);
  if (!strcmp(cmd, "controller"))
    return cmd_controller_main(argc - 1, argv + 1);
  if (!strcmp(cmd, "pkg"))
    return cmd_pkg_main(argc - 1, argv + 1);
  if (!strcmp(cmd, "fn")) {
    const char *sub = argc > 2 ? argv[2] : "";
    if (!strcmp(sub, "source") || !strcmp(sub, "sink"))
      return cmd_fn_io_main(argc - 2, argv + 2);
    if (!strcmp(sub, "eval") || !strcmp(sub, "render") || !strcmp(sub, "run"))
      return cmd_fn_run_main(argc - 2, argv + 2);
    bool help = !strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help");
    if (!help)
      fprintf(stderr, "portico fn: unknown subcommand '%s'\n", sub);
    fprintf(help ? stdout : stderr,
            "Usage: portico fn source|sink|eval|render|run [ARGS]\n"
            "  source [DIR]       write the package's resources as a ResourceList (kpt fn source)\n"
            "  sink DIR           write a ResourceList from stdin into DIR (kpt fn sink)\n"
            "  eval DIR ...       run one function on a package (kpt fn eval)\n"
            "  render [DIR] ...   run the Kptfile pipelines of a package (kpt fn render)\n"
            "  run NAME           run a built-in as a KRM function (ResourceList on stdin)\n"
            "Run 'portico fn eval --help' for the function and sandbox flags.\n");
    return help ? 0 : 2;
  }
  fprintf(stderr, "portico: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
