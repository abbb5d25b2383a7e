/*
 * krm: the Kubernetes Resource Model over cad/yaml: resource identity, kpt's annotations,
 * packages as sets of YAML files, and the ResourceList (config.kubernetes.io/v1) that KRM
 * functions read and write.
 *
 * A package on disk is read into a krm_pkg: every *.yaml, *.yml and Kptfile below the
 * directory (hidden entries skipped; subpackages, i.e. directories with their own Kptfile,
 * included or not on request), each parsed with cad/yaml so that writing it back keeps
 * the author's bytes. Resources stay inside their files' documents; a krm_pkg lists them
 * with their path and document index, which are kpt's config.kubernetes.io/path and
 * config.kubernetes.io/index annotations.
 *
 * ResourceList conversion follows kpt 1.0: krm_rl_from_pkg adds to each item the
 * annotations config.kubernetes.io/{path,index} and internal.config.kubernetes.io/{path,
 * index,seqindent} (values single-quoted, as kyaml writes them); krm_rl_to_pkg groups items
 * by path, orders them by index, strips those annotations (and an annotations or metadata
 * map left empty) and rebuilds the files.
 *
 * Paths are always package-relative, '/'-separated and checked with fs_path_is_safe: an
 * item whose path escapes the package is refused (ERR_INVALID).
 */
#ifndef PORTICO_CAD_KRM_H
#define PORTICO_CAD_KRM_H

#include "cad/yaml.h"

#include <stdbool.h>
#include <stddef.h>

#define KRM_ANN_PATH "config.kubernetes.io/path"
#define KRM_ANN_INDEX "config.kubernetes.io/index"
#define KRM_ANN_INTERNAL_PATH "internal.config.kubernetes.io/path"
#define KRM_ANN_INTERNAL_INDEX "internal.config.kubernetes.io/index"
#define KRM_ANN_SEQINDENT "internal.config.kubernetes.io/seqindent"
#define KRM_ANN_ID "internal.config.kubernetes.io/id"
#define KRM_ANN_MIGRATION_ID "internal.config.kubernetes.io/annotations-migration-resource-id"
#define KRM_ANN_LOCAL_CONFIG "config.kubernetes.io/local-config"
#define KRM_ANN_UPSTREAM_ID "internal.kpt.dev/upstream-identifier"

#define KRM_MAX_FILES 20000            /* files per package */
#define KRM_MAX_FILE ((size_t)16 << 20) /* bytes per file */

/* Identity of a resource. Strings are owned ("" when absent, never NULL). */
typedef struct krm_id {
  char *group;     /* from apiVersion: "apps" for apps/v1, "" for v1 */
  char *version;   /* "v1" */
  char *kind;
  char *namespace; /* as written ("" when absent) */
  char *name;
} krm_id;

/* Reads the identity of a resource node. ERR_NOMEM; ERR_INVALID when `res` is not a map. */
int krm_id_of(const yml_node *res, krm_id *out);
void krm_id_free(krm_id *id);

/* Same group, kind, namespace and name (version ignored, as kpt's merge does; an empty
 * namespace equals "default"). */
bool krm_id_equal(const krm_id *a, const krm_id *b);

/* "group|Kind|namespace|name" with an empty namespace written "default" (the value of
 * internal.kpt.dev/upstream-identifier). Caller frees. */
char *krm_id_upstream_string(const krm_id *id);

/* "namespace/name" as in kpt's "# kpt-merge: ns/name" comment. Caller frees. */
char *krm_id_merge_comment(const krm_id *id);

/* Annotation value (borrowed) or NULL. */
const char *krm_annotation(const yml_node *res, const char *key);

/* Sets an annotation, creating metadata.annotations as needed; new values single-quoted
 * as kyaml writes them; an existing value keeps its quoting. */
int krm_set_annotation(yml_node *res, const char *key, const char *value);

/* Removes an annotation; drops an annotations map left empty. Missing is fine. */
int krm_remove_annotation(yml_node *res, const char *key);

/* config.kubernetes.io/local-config: "true" (any case of true). */
bool krm_is_local_config(const yml_node *res);

/* Does `n` hold, at any depth, a mapping key that is not a scalar ("? {a: b}: x")? KRM
 * is JSON, whose keys are strings: such YAML is refused by the ResourceList reader and
 * the merge. Depth is bounded by the parser (YML_MAX_DEPTH). */
bool krm_has_complex_key(const yml_node *n);

/* Does the node look like a KRM resource (a map with apiVersion and kind)? */
bool krm_is_resource(const yml_node *res);

/* kyaml's sequence-indent detection on a file's text: "wide" when a block sequence is
 * indented two columns under its key, else "compact". Returns a static string. */
const char *krm_seq_indent_of(const char *text, size_t len);

/* ---- packages ------------------------------------------------------------------------ */

/* Where a document goes in a package: its file's path, then its kpt index annotation
 * (document position in the file), then the order it was met in. Arrays whose element
 * struct begins with a krm_place are sorted with krm_place_cmp. */
typedef struct krm_place {
  char *path;
  long index;
  size_t order;
} krm_place;

/* qsort comparator: by path (bytes), then index, then order. `a` and `b` point at
 * structs whose first member is a krm_place. */
int krm_place_cmp(const void *a, const void *b);

typedef struct krm_file {
  char *path;      /* package-relative */
  yml_file *yaml;  /* owned */
  const char *seqindent; /* "compact" or "wide" (static) */
} krm_file;

typedef struct krm_pkg {
  krm_file *files; /* sorted by path */
  size_t nfiles;
  size_t cap;
} krm_pkg;

enum {
  KRM_READ_SUBPACKAGES = 1, /* include directories that have their own Kptfile */
  KRM_READ_NO_KPTFILE = 2   /* skip Kptfile files */
};

/* Reads every YAML file of the package at `dir`. Malformed YAML is ERR_INVALID naming the
 * file and line; symbolic links are refused when they point outside `dir`; hidden files
 * and directories are skipped. Caller frees with krm_pkg_free. */
int krm_pkg_read(krm_pkg **out, const char *dir, unsigned flags);

/* Is `name` (a file's base name) one krm_pkg_read parses: *.yaml, *.yml or Kptfile? */
bool krm_is_yaml_name(const char *name);

/* Parses `text` (len bytes, the file's content) as the package file `path` and adds it,
 * with its sequence indentation noted, as krm_pkg_read does for a file on disk.
 * ERR_INVALID for malformed YAML (message naming `path` and the line); ERR_NOMEM. The
 * package is unchanged on failure. */
int krm_pkg_add_text(krm_pkg *p, const char *path, const char *text, size_t len);

krm_pkg *krm_pkg_new(void);
void krm_pkg_free(krm_pkg *p);

/* The file at `path`, or NULL. Borrowed. */
krm_file *krm_pkg_file(const krm_pkg *p, const char *path);

/* Adds (or replaces) a file; ownership of `yaml` taken, also on failure. */
int krm_pkg_put(krm_pkg *p, const char *path, yml_file *yaml);

/* Writes into a private scratch tree `dir` (see cad/scratch.h: no temporary file, no
 * fsync per file) every file whose content differs from what is there (all of them in a
 * fresh directory); directories created. A package the user can see is written with
 * cad/pkgcommit instead (in place behind an undo journal). */
int krm_pkg_write_scratch(const krm_pkg *p, const char *dir);

/* Does `path` resolve (realpath: every link followed) to `root_real` or below it?
 * `root_real` must itself be a real path. False when `path` does not resolve (missing,
 * a dangling link) or resolves outside. */
bool krm_path_inside(const char *root_real, const char *path);

/* ---- ResourceList -------------------------------------------------------------------- */

/* Builds a ResourceList document (a new file) from a package, items in path order then
 * document order, annotated as kpt does. `function_config` (may be NULL) is copied into
 * functionConfig. */
int krm_rl_from_pkg(yml_file **out, const krm_pkg *p, const yml_node *function_config);

/* Checks that `root` is a ResourceList (config.kubernetes.io/v1, kind ResourceList, items
 * a sequence). ERR_INVALID with a message otherwise. */
int krm_rl_check(const yml_node *root);

/* Rebuilds package files from a ResourceList's items: grouped by path annotation (items
 * without one go to "<kind>_<name>.yaml", lower-cased, as kpt does), ordered by index,
 * kpt's annotations stripped. Caller frees the package. */
int krm_rl_to_pkg(krm_pkg **out, const yml_node *rl_root);

#endif
