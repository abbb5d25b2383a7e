/*
 * render: functions applied to packages on disk, with kpt's semantics.
 *
 *   fn_eval_package    one function over every resource below DIR (subpackages and
 *                      Kptfiles included, as `kpt fn eval`).
 *   fn_render_package  the Kptfile pipelines of DIR and of every subpackage: subpackages
 *                      first (depth first, in name order), each package's mutators in
 *                      order over its own resources plus its already rendered subpackages,
 *                      then its validators (whose output is discarded); `selectors` and
 *                      `exclude` pick the resources a function sees, the others pass
 *                      through unchanged. `exec:` functions are refused unless allowed,
 *                      and even then run in the sandbox.
 *
 * Both work in memory on a cad/krm package and write only when every function passed:
 * a failed function leaves the package untouched. Files a function did not change are not
 * rewritten (cad keeps their bytes); files whose last resource was removed are deleted.
 * The write is cad/pkgcommit's: changed files rewritten in place behind an undo journal
 * (DIR/.portico-journal), which both functions first replay when an earlier write was
 * interrupted (pkgcommit_recover; the CLI says "recovered N file(s) ...").
 *
 * Progress goes to `log` in kpt's words ("[RUNNING] ...", "[PASS] ... in 12ms", "[FAIL]");
 * every function's outcome is collected in an fn_report that can be written as kpt's
 * `results.yaml` (kind FunctionResultList).
 */
#ifndef PORTICO_FN_RENDER_H
#define PORTICO_FN_RENDER_H

#include "fn/runner.h"

#include <jansson.h>
#include <stdio.h>

typedef struct fn_report {
  json_t *items;   /* [{image|exec, exitCode, stderr?, results?}] owned */
  int exit_code;   /* 0, or 1 when a function failed */
  int functions;   /* how many ran */
  int packages;    /* how many packages were rendered */
} fn_report;

void fn_report_init(fn_report *rep);
void fn_report_free(fn_report *rep);

/* Writes `results.yaml` in `dir` (created), as kpt's --results-dir does. */
int fn_report_write(const fn_report *rep, const char *dir);

/* Runs `step` over the package at `dir` (only over the resources matching one of the
 * kpt-style `selectors`, a list of {apiVersion, kind, name, namespace, labels,
 * annotations}, when given; may be NULL). Returns 0 when the function passed and the
 * package was written; ERR_GENERIC when the function failed (the package untouched; the
 * report says why); other codes for resolution, sandbox or I/O problems. */
int fn_eval_package(const fn_env *env, const char *dir, const fn_step *step,
                    const yml_node *selectors, fn_report *rep, FILE *log);

/* Renders the package at `dir` (see the design note). Same return convention. */
int fn_render_package(const fn_env *env, const char *dir, bool allow_exec, fn_report *rep,
                      FILE *log);

#endif
