/*
 * runner: run one KRM function on a ResourceList, whatever it resolves to.
 *
 * A step names a function by image or exec command plus its functionConfig. The runner
 * resolves it (fn/resolve.h), writes the input ResourceList as text, and either runs a
 * trusted built-in in-process (builtin_run_text: the same code `portico fn run NAME`
 * runs, so the bytes are the same either way) or runs the executable in the sandbox
 * (fn/sandbox.h) with the environment's limits. Then it checks the protocol: exit code 0
 * and a ResourceList on stdout; results are collected in both the success and the failure
 * case. Any breach (limit, signal, garbage output) becomes a failed outcome with a message
 * a person can act on; the runner never lets a function's failure escape as a crash.
 *
 * Ownership: an fn_outcome owns its output file, results and stderr; free it with
 * fn_outcome_free.
 */
#ifndef PORTICO_FN_RUNNER_H
#define PORTICO_FN_RUNNER_H

#include "base/buf.h"
#include "cad/yaml.h"
#include "fn/resolve.h"
#include "fn/sandbox.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fn_env {
  resolve_config resolve;
  sandbox_mode mode;
  sandbox_limits limits;
  bool builtins_in_process; /* trusted fast path (default true) */
} fn_env;

/* Defaults: strict sandbox, default limits, built-ins in process, no directories. */
void fn_env_default(fn_env *env);

typedef struct fn_step {
  const char *image;         /* one of image / exec */
  const char *exec;
  const char *exec_base_dir; /* anchors a relative exec path; NULL: working directory */
  const yml_node *config;    /* functionConfig (borrowed), or NULL */
  char *const *envp;         /* environment the user asked for (`--env`); NULL: empty */
} fn_step;

typedef struct fn_outcome {
  bool ok;             /* exit code 0 and a valid ResourceList came back */
  int exit_code;       /* the function's, or 1 when it was killed / set-up failed */
  char message[512];   /* why it failed ("" when ok) */
  buf stderr_text;     /* what it wrote on stderr (bounded) */
  json_t *results;     /* the output's results (array; may be empty); owned */
  yml_file *output;    /* the output ResourceList when ok; owned */
  int64_t ms;          /* wall time */
} fn_outcome;

/* Runs `step` on `input` (a ResourceList document). Returns 0 when the function was run,
 * whatever its outcome (see out->ok), or an error when it could not be resolved or the
 * sandbox is unavailable (ERR_NOTFOUND, ERR_FORBIDDEN, ERR_UNAVAILABLE, ...; message set).
 * `out` must be zeroed; free with fn_outcome_free in every case. */
int fn_run_step(const fn_env *env, const fn_step *step, const yml_file *input, fn_outcome *out);

/* A step's sandbox built ahead of its turn, so that its set-up (processes, namespaces,
 * root, limits) overlaps the previous function's run: render prepares the next step while
 * the current one runs. fn_prepare_step resolves the step and starts its sandbox
 * (sandbox_start); it returns NULL, and leaves the error state as it was, when the step
 * runs in process or anything failed (the failure then shows, with its message, when the
 * step runs). fn_run_step_prepared is fn_run_step using `prep` when it was made for the
 * same step (image, exec and base directory), and always consumes it (NULL is fine).
 * `next` (borrowed, may be NULL) is the following step's prepared sandbox when its input
 * will most likely be this step's output as it is (a mutator without selectors or config
 * followed by a step without them): when this function exits 0, `next` is started on its
 * raw output at once, so that it runs while this output is parsed. When `next` then runs,
 * it keeps that start only if its real input is the same to the byte, else it is killed
 * and run again on the right input: the result is the same either way. */
typedef struct fn_prepared fn_prepared;
fn_prepared *fn_prepare_step(const fn_env *env, const fn_step *step);
int fn_run_step_prepared(const fn_env *env, const fn_step *step, const yml_file *input,
                         fn_prepared *prep, fn_prepared *next, fn_outcome *out);
/* Cancels (kills) a prepared sandbox that will not run. NULL is fine. */
void fn_prepared_free(fn_prepared *p);

void fn_outcome_free(fn_outcome *out);

/* The display name kpt prints for a step: the image, or the exec command. */
const char *fn_step_display(const fn_step *step);

#endif
