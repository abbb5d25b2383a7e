/*
 * resolve: from what a user wrote (an image reference or an exec path) to what runs.
 *
 * An image reference `[REGISTRY/]PATH[:TAG][@DIGEST]` (gcr.io/kpt-fn/set-namespace:v0.4.1,
 * ghcr.io/kptdev/krm-functions-catalog/set-labels@sha256:..., set-image) names a function
 * by the last segment of PATH. Resolution order: an executable of that name in one of the
 * configured function directories (the operator's own functions and overrides), then a
 * built-in of the catalog (fn/catalog.h). Anything else is ERR_NOTFOUND with a message
 * naming the image and where Portico looked.
 *
 * An exec path (`--exec`, a Kptfile `exec:`) may carry arguments ("portico fn run
 * set-labels"); the program is looked up in PATH when it has no slash, made absolute and
 * resolved through symbolic links, and must then lie inside one of the allowed exec
 * directories when any are configured (a controller always configures them; the local
 * CLI allows any path unless told otherwise, as kpt does).
 *
 * Nothing here runs anything; results are plain strings owned by the caller.
 */
#ifndef PORTICO_FN_RESOLVE_H
#define PORTICO_FN_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

#define RESOLVE_MAX_DIRS 16
#define RESOLVE_MAX_ARGS 32

typedef struct resolve_config {
  const char *fn_dirs[RESOLVE_MAX_DIRS];   /* function directories, in order */
  size_t n_fn_dirs;
  const char *exec_dirs[RESOLVE_MAX_DIRS]; /* allowed exec directories; none: any */
  size_t n_exec_dirs;
  bool exec_dirs_required;                 /* true: refuse every exec when n_exec_dirs == 0 */
} resolve_config;

/* Adds the directories of a colon-separated list (e.g. $PORTICO_FN_PATH) to fn_dirs or
 * exec_dirs. The strings are borrowed from `list` split in place (list is modified).
 * ERR_LIMIT past RESOLVE_MAX_DIRS. */
int resolve_add_dirs(resolve_config *cfg, char *list, bool exec_dirs);

/* A parsed image reference. Every field is a fresh string (NULL when absent); free with
 * resolve_image_ref_free. */
typedef struct image_ref {
  char *registry; /* "gcr.io", NULL when the reference has none */
  char *path;     /* "kpt-fn/set-namespace" */
  char *name;     /* "set-namespace" (last segment of path) */
  char *tag;      /* "v0.4.1" */
  char *digest;   /* "sha256:..." */
} image_ref;

/* Parses `image`. ERR_INVALID for an empty or malformed reference (bad characters,
 * empty segments, a digest without an algorithm). `out` is unchanged on failure. */
int resolve_parse_image(const char *image, image_ref *out);
void resolve_image_ref_free(image_ref *ref);

typedef enum { RESOLVED_BUILTIN = 1, RESOLVED_EXEC } resolved_kind;

typedef struct resolved_fn {
  resolved_kind kind;
  char *builtin;                    /* catalog name, for RESOLVED_BUILTIN */
  char *exe;                        /* RESOLVED_EXEC: absolute, symlink-free (= argv[0]) */
  char *argv[RESOLVE_MAX_ARGS + 1]; /* RESOLVED_EXEC: argv[0] = exe, then the arguments */
  int argc;
} resolved_fn;

/* Resolves an image reference (see the design note). ERR_INVALID (bad reference),
 * ERR_NOTFOUND (no such function; the message names the image). */
int resolve_image(const resolve_config *cfg, const char *image, resolved_fn *out);

/* Resolves an exec command line: the program and up to RESOLVE_MAX_ARGS arguments
 * separated by blanks (single or double quotes group words). A program that is Portico's
 * own `fn run NAME` is left as an exec (it runs in the sandbox like any other).
 * `base_dir` (may be NULL: the working directory) anchors a relative path. ERR_NOTFOUND,
 * ERR_FORBIDDEN (outside the allowed directories), ERR_INVALID (empty, bad quoting). */
int resolve_exec(const resolve_config *cfg, const char *command, const char *base_dir,
                 resolved_fn *out);

void resolved_fn_free(resolved_fn *fn);

#endif
