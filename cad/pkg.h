/*
 * pkg: the package operations of kpt (init, get, update, diff) over cad/yaml, cad/krm,
 * cad/kptfile, cad/merge and cad/gitfetch. cmd/pkg.c is the CLI; reconcilers call the same
 * functions.
 *
 * Every operation builds its result in a temporary directory next to the destination and
 * moves it into place with rename(2) at the end, so a failure at any point leaves the
 * package as it was (and no temporary behind).
 *
 * Output files are what kpt 1.0.0-beta.56 writes for packages in kpt's own layout; where
 * kpt reformats a file it did not need to change (indentation, Kptfile comments), Portico
 * keeps the author's bytes.
 */
#ifndef PORTICO_CAD_PKG_H
#define PORTICO_CAD_PKG_H

#include "base/buf.h"
#include "cad/merge.h"

#include <stdbool.h>
#include <stdio.h>

#define PKG_MERGE_COMMENT_PREFIX "kpt-merge:"

typedef struct pkg_init_opts {
  const char *description; /* NULL: kpt's default "sample description" */
  const char **keywords;
  size_t nkeywords;
  const char *site;
} pkg_init_opts;

/* `kpt pkg init DIR`: writes Kptfile, README.md and package-context.yaml where missing.
 * `log` (may be NULL) receives kpt's "writing <file>" lines. */
int pkg_init(const char *dir, const pkg_init_opts *o, FILE *log);

/* `kpt pkg get REPO.git/DIR@REF [DEST]`. `dest` NULL: the package directory's base name
 * in the current directory; an existing directory: the package goes inside it.
 * `strategy` NULL: resource-merge. *created_out (may be NULL) receives the directory made
 * (caller frees). */
int pkg_get(const char *arg, const char *dest, const char *strategy, FILE *log, char **created_out);

typedef struct pkg_update_opts {
  const char *ref;      /* NULL: the Kptfile's upstream ref */
  const char *strategy; /* NULL: the Kptfile's updateStrategy, else resource-merge */
  bool fail_on_conflict;
} pkg_update_opts;

/* `kpt pkg update DIR[@REF]`. Conflicts (both sides changed a field) are appended to
 * `report` (may be NULL); with fail_on_conflict any conflict makes it ERR_CONFLICT and
 * the package is left untouched. */
int pkg_update(const char *dir, const pkg_update_opts *o, merge_report *report, FILE *log);

/* `kpt pkg diff DIR`: a unified diff (diff -ruN) between the upstream at the lock commit
 * and the local package, appended to `out`. Returns 0 whether or not there are
 * differences; *differs tells. */
int pkg_diff(const char *dir, buf *out, bool *differs);

/* Adds kpt's "# kpt-merge: ns/name" comment and internal.kpt.dev/upstream-identifier
 * annotation to every resource in the files of `dir` (subpackages included, Kptfiles not),
 * as `kpt pkg get` does. Writes only the files it changed, without fsync: `dir` must be a
 * scratch tree (see cad/scratch.h). */
int pkg_add_merge_comments(const char *dir);

#endif
