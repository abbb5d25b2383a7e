/*
 * sandbox: run one untrusted KRM function as a contained subprocess.
 *
 * A function is code from a package author or a function repository; Portico runs it on
 * the controller's machine, so the sandbox assumes it is hostile. It builds the container
 * itself, without a container engine, on base/proc.h's child hooks:
 *
 *   portico ──clone(NEWPID) (proc_start)──> P, PID 1 of its new PID namespace:
 *          unshare(NS|NET|IPC|UTS), build a read-only root on a tmpfs (read-only binds of /usr
 *          /lib /lib64 /bin /sbin /etc/ld.so.cache, the function's executable,
 *          /dev/{null,zero,full,random,urandom}; a private writable tmpfs /tmp; /proc of
 *          the new PID namespace), pivot_root, then unshare(USER) and, once Portico has
 *          written its uid/gid maps (65534 inside -> the unprivileged host uid 65534; a
 *          Portico thread does it as soon as P asks), become uid/gid 65534 there, drop
 *          every capability, set rlimits, no_new_privs, a seccomp filter, close every
 *          inherited descriptor and exec with an empty environment. A sandbox built
 *          ahead (sandbox_start) thus starts its function at once; the function then
 *          waits for its input on stdin.
 *
 * The namespaces other than the user namespace are created while still host root and so
 * are owned by the initial user namespace: the function, inside its own user namespace,
 * holds no capability over its mounts, network or PID namespace at all. RLIMIT_NPROC is
 * counted per user namespace, so concurrent sandboxes do not share a process budget.
 *
 * Limits: CPU time (RLIMIT_CPU, per process), memory (RLIMIT_AS), processes (RLIMIT_NPROC),
 * open files (RLIMIT_NOFILE), /tmp size; wall time and stdout/stderr size are enforced by
 * the parent (proc_finish), which kills P's process group. P has PR_SET_PDEATHSIG(SIGKILL)
 * on Portico (and a lifeline pipe for the race before it is set), and every other process
 * of the function lives in P's PID namespace, so when P dies for any reason the kernel kills
 * the whole tree: nothing outlives a run.
 *
 * Modes: SANDBOX_STRICT (the default) refuses to run when the kernel refuses any
 * namespace. SANDBOX_WEAK is the documented opt-in for such kernels: no namespaces, but
 * the rlimits, seccomp, no_new_privs, an unprivileged uid when started as root, closed
 * descriptors and the empty environment still apply. It prints a warning every time.
 * When Portico runs as a non-root user, the user namespace is created first, in the
 * clone (the only way an unprivileged process gets to build the others), and P maps uid
 * 65534 inside to the caller itself; capabilities are still dropped and locked away before
 * exec.
 *
 * Invariants: nothing in the child path allocates (the parent prepares every string and
 * the seccomp program), so it is safe from a multi-threaded controller; a setup failure
 * never runs the function and is reported as a message naming the failed step.
 */
#ifndef PORTICO_FN_SANDBOX_H
#define PORTICO_FN_SANDBOX_H

#include "base/proc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  SANDBOX_STRICT = 0, /* every namespace, or refuse */
  SANDBOX_WEAK = 1    /* documented weaker mode for kernels without namespaces */
} sandbox_mode;

typedef struct sandbox_limits {
  int64_t wall_ms;        /* default 10000 */
  int64_t cpu_seconds;    /* default 10 */
  int64_t memory_bytes;   /* default 1 GiB (address space) */
  int64_t processes;      /* default 64 */
  int64_t open_files;     /* default 256 */
  int64_t output_bytes;   /* stdout and stderr each; default 64 MiB */
  int64_t tmp_bytes;      /* size of the private /tmp; default 64 MiB */
} sandbox_limits;

/* Fills the defaults above. */
void sandbox_limits_default(sandbox_limits *limits);

typedef struct sandbox_spec {
  const char *exe;            /* absolute path of the executable (required) */
  char *const *argv;          /* argv[0] is what the function sees; NULL: {exe} */
  const void *stdin_data;     /* the ResourceList */
  size_t stdin_len;
  sandbox_limits limits;
  sandbox_mode mode;
  char *const *envp;          /* explicit environment; NULL: empty (never the caller's) */
} sandbox_spec;

typedef enum {
  SANDBOX_OK = 0,           /* exited; see exit_code */
  SANDBOX_WALL_TIME,        /* killed at the wall time limit */
  SANDBOX_CPU_TIME,         /* killed at the CPU time limit (SIGXCPU/SIGKILL by rlimit) */
  SANDBOX_OUTPUT_LIMIT,     /* killed: stdout or stderr too large */
  SANDBOX_SIGNALED,         /* died of another signal */
  SANDBOX_SETUP_FAILED      /* the sandbox could not be built; the function never ran */
} sandbox_outcome;

typedef struct sandbox_result {
  sandbox_outcome outcome;
  int exit_code;        /* SANDBOX_OK */
  int signal;           /* SANDBOX_SIGNALED / SANDBOX_CPU_TIME */
  int64_t wall_ms;
  buf out;              /* the function's stdout; owned, free with sandbox_result_free */
  buf err;              /* its stderr */
  char detail[256];     /* setup failure reason, "" otherwise */
  sandbox_limits limits; /* the limits it ran under (for messages) */
} sandbox_result;

/* Can this process build the strict sandbox (every namespace)? Probes once per process
 * by running the real set-up on /bin/true-like nothing; cached. On false, `why` (if not
 * NULL) receives the reason. */
bool sandbox_available(char *why, size_t why_size);

/* Runs the function. Returns 0 when it ran or was refused by the sandbox set-up (look at
 * result->outcome), ERR_UNAVAILABLE when strict mode is asked for and the kernel refuses
 * namespaces (message says how to opt into SANDBOX_WEAK), ERR_INVALID for a bad spec,
 * ERR_IO when no process could be started. `result` must be zeroed by the caller; free it
 * with sandbox_result_free in every case. */
int sandbox_run(const sandbox_spec *spec, sandbox_result *result);

/* sandbox_run in two halves, so that a caller can build the next function's sandbox while
 * the current function runs (render does): sandbox_start builds the whole sandbox
 * (processes, namespaces, root, uid map, limits, seccomp) and starts the function in it,
 * which then waits for its input on stdin, so its own start-up overlaps the caller's work;
 * spec->stdin_data is not used. sandbox_finish hands it the input
 * (its wall time counts from here), waits for the function and fills `result` (zeroed by
 * the caller; free with sandbox_result_free) with sandbox_run's return convention.
 * sandbox_cancel kills a started sandbox that will not run. Every started sandbox ends in
 * exactly one of sandbox_finish or sandbox_cancel, which free it. sandbox_start returns
 * ERR_INVALID / ERR_NOTFOUND for a bad executable, ERR_IO when no process could start. */
typedef struct sandbox_proc sandbox_proc;
int sandbox_start(const sandbox_spec *spec, sandbox_proc **out);
/* Lets a started sandbox's function run before sandbox_finish, on `data` (len bytes) as its
 * input: as much as the pipe takes now is written (the function starts), and the wall
 * time counts from here. sandbox_finish must then be given the same input (it writes only
 * the rest); a caller that finds the input was not the right one cancels instead.
 * ERR_INVALID when already released. */
int sandbox_release(sandbox_proc *sp, const void *data, size_t len);
/* `on_output` (may be NULL) is proc_spec's: called with the function's whole stdout as
 * soon as the function closed its output, before its exit status is known (the
 * namespaces' tear-down comes first), e.g. to release the next function on it. */
int sandbox_finish(sandbox_proc *sp, const void *stdin_data, size_t stdin_len,
                   void (*on_output)(void *arg, const buf *out), void *on_output_arg,
                   sandbox_result *result);
void sandbox_cancel(sandbox_proc *sp);

void sandbox_result_free(sandbox_result *result);

/* One line for a person: "exited with code 1", "killed: wall time limit of 10000 ms", ... */
void sandbox_describe(const sandbox_result *result, char *out, size_t size);

/* Parses "strict"/"weak". ERR_INVALID otherwise. */
int sandbox_parse_mode(const char *s, sandbox_mode *out);

/* Parses a size such as "1Gi", "512Mi", "64M", "100k", "123" into bytes. ERR_INVALID. */
int sandbox_parse_size(const char *s, int64_t *out);

/* Parses a duration such as "10s", "500ms", "2m", "10" (seconds) into ms. ERR_INVALID. */
int sandbox_parse_duration_ms(const char *s, int64_t *out);

#endif
