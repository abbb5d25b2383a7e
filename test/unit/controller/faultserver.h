/*
 * faultserver.h: starts test/support/faultserver.py for a Check test (header-only, static
 * functions, shared by the controller tests that talk to an API server). Tests run from
 * the repository root (hack/run-tests.sh cds there).
 */
#ifndef PORTICO_TEST_CONTROLLER_FAULTSERVER_H
#define PORTICO_TEST_CONTROLLER_FAULTSERVER_H

#include "base/fs.h"
#include "base/str.h"
#include "common/testutil.h"
#include "controller/kubeconfig.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts the server on a free port; fills *tmp_out (a fresh directory, caller frees via
 * faultserver_stop) and *kc (a kubeconfig pointing at it). Returns the server's pid. */
static pid_t faultserver_start(char **tmp_out, kubeconfig *kc) {
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    execlp("python3", "python3", "test/support/faultserver.py", (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[64] = {0};
  ssize_t n = 0;
  while (n < (ssize_t)sizeof line - 1 && !strchr(line, '\n')) {
    ssize_t k = read(fds[0], line + n, sizeof line - 1 - (size_t)n);
    if (k <= 0)
      break;
    n += k;
  }
  close(fds[0]);
  ck_assert_msg(n > 5, "fault server did not start (python3 missing?)");
  int port = (int)strtol(line + 5, NULL, 10);
  char *tmp = testutil_tmpdir();
  char *path = str_printf("%s/kc", tmp);
  char *text = str_printf("current-context: c\nclusters:\n- name: c\n  cluster: {server: "
                          "'http://127.0.0.1:%d'}\nusers:\n- name: u\n  user: {token: t}\n"
                          "contexts:\n- name: c\n  context: {cluster: c, user: u}\n",
                          port);
  ck_assert_int_eq(fs_write_atomic(path, text, strlen(text), 0600), 0);
  ck_assert_int_eq(kubeconfig_load_files(kc, path), 0);
  free(path);
  free(text);
  *tmp_out = tmp;
  return pid;
}

static void faultserver_stop(pid_t pid, char *tmp, kubeconfig *kc) {
  kubeconfig_free(kc);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  testutil_rmtree(tmp);
  free(tmp);
}

#endif
