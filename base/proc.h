/*
 * proc: the one way to run a child process and collect its output.
 *
 * proc_run forks and execs argv[0] (looked up in PATH when it has no slash), feeds it
 * `stdin_data`, collects stdout and stderr into bounded buffers, and waits with a wall
 * time limit. On timeout or an output ceiling the child's whole process group is killed
 * (SIGKILL) and the result says why. The child gets the given environment (NULL: an
 * empty one, never the parent's by accident; pass `environ` explicitly to inherit).
 * The sandbox for untrusted functions (fn/) builds its own child set-up on top of the
 * same hooks: `setup` runs in the child after fork, before exec.
 */
#ifndef PORTICO_BASE_PROC_H
#define PORTICO_BASE_PROC_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct proc_spec {
  char *const *argv;       /* required, NULL-terminated */
  char *const *envp;       /* NULL: empty environment */
  const char *cwd;         /* NULL: inherit */
  const void *stdin_data;  /* may be NULL */
  size_t stdin_len;
  size_t stdout_limit;     /* 0: BUF_LIMIT_DEFAULT */
  size_t stderr_limit;     /* 0: BUF_LIMIT_DEFAULT */
  int64_t timeout_ms;      /* wall time; 0: none (avoid) */
  /* Runs in the child after fork and the fd set-up, before exec. Non-zero aborts the child
   * with exit code 127. Must be async-signal-safe. */
  int (*setup)(void *arg);
  void *setup_arg;
  /* 0: the child is made by fork(). Otherwise by clone() with these CLONE_NEW* flags (the
   * sandbox: the child starts in its new namespaces); the child then must not call into
   * anything but system calls (no atfork handlers ran), as `setup` already must not. */
  unsigned long clone_flags;
  /* proc_finish only, optional: called once, as soon as the child has closed its stdout
   * and stderr (all of its output is in `out`), before waiting for its exit (which can
   * take a while more: a sandbox's namespaces are torn down first), so that the caller can
   * start on the output early. Not called when the child was killed for a limit. `out`
   * is borrowed for the call only. */
  void (*on_output)(void *arg, const buf *out);
  void *on_output_arg;
} proc_spec;

typedef enum {
  PROC_EXITED = 0,      /* normal exit: see exit_code */
  PROC_SIGNALED,        /* killed by a signal it did not get from us */
  PROC_TIMED_OUT,       /* we killed it at timeout_ms */
  PROC_OUTPUT_LIMIT,    /* we killed it: stdout or stderr passed its limit */
  PROC_SPAWN_FAILED     /* could not start (exit code 127 from exec failure) */
} proc_outcome;

typedef struct proc_result {
  proc_outcome outcome;
  int exit_code;   /* for PROC_EXITED */
  int signal;      /* for PROC_SIGNALED */
  int64_t wall_ms;
  int64_t cpu_ms;  /* user + system CPU time of the child itself (from wait4) */
  buf out;         /* owned by the result; free with proc_result_free */
  buf err;
} proc_result;

/* Runs the process to completion. Returns 0 when it ran (whatever its outcome; look at
 * result->outcome) or ERR_IO when it could not be started at all. `result` must be
 * zeroed by the caller; free with proc_result_free in every case. */
int proc_run(const proc_spec *spec, proc_result *result);

/* proc_run in two halves, for a caller that starts a child ahead of time (the sandbox
 * builds the next function's container while the current one runs): proc_start forks and
 * runs the child side (setup hook, exec) and keeps the parent's pipe ends; nothing is
 * written to the child's stdin yet. proc_finish feeds `spec->stdin_data`, collects the
 * output and waits, with `spec->timeout_ms` counted from its own start, not from the
 * fork. proc_abort kills the child's process group and reaps it instead. Every started
 * child ends in exactly one of proc_finish or proc_abort, which release `child`. */
typedef struct proc_child {
  int pid;            /* > 0 while started */
  int in, out, err;   /* the parent's ends of the child's stdin, stdout and stderr */
} proc_child;

/* ERR_IO when no process could be started (nothing to release then; errno is the fork's or
 * clone's). */
int proc_start(const proc_spec *spec, proc_child *child);
/* Same contract as proc_run (spec->argv, setup and cwd are not used again). */
int proc_finish(const proc_spec *spec, proc_child *child, proc_result *result);
void proc_abort(proc_child *child);

void proc_result_free(proc_result *result);

/* Human text for the outcome ("exited with code 2", "killed after 10000 ms", ...), written
 * into out (always terminated). */
void proc_describe(const proc_result *result, char *out, size_t size);

#endif
