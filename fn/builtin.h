/*
 * builtin: the catalog functions compiled into Portico, and the ResourceList framing they
 * (and `portico fn run NAME`) share.
 *
 * A built-in is a plain C function over a parsed ResourceList: it edits `items` in place
 * (through cad/yaml.h, so comments and layout of what it does not touch survive) and
 * appends KRM results. The same code serves two callers that must agree byte for byte:
 *   - `portico fn run NAME`: ResourceList text on stdin -> text on stdout (the standalone
 *     KRM function that `kpt fn eval --exec` runs);
 *   - the in-process fast path of eval/render for trusted built-ins, which hands the
 *     built-in the very ResourceList text it would have written to a subprocess and reads
 *     back its text output: one code path, identical results by construction.
 *
 * Results follow the KRM functions specification: {message, severity (error|warning|info),
 * resourceRef {apiVersion, kind, name, namespace}, field {path, currentValue,
 * proposedValue}, file {path, index}, tags}. A function "fails" (exit code 1) when it
 * returns an error or adds a result of severity error.
 */
#ifndef PORTICO_FN_BUILTIN_H
#define PORTICO_FN_BUILTIN_H

#include "base/buf.h"
#include "cad/yaml.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct fn_rlist {
  yml_file *file;   /* owned: the parsed ResourceList (document 0) */
  yml_node *root;   /* borrowed: the ResourceList map */
  yml_node *items;  /* borrowed: the items sequence (created when absent) */
  yml_node *config; /* borrowed: functionConfig, or NULL */
  json_t *results;  /* owned: results added by the function (array) */
} fn_rlist;

/* Parses ResourceList text. ERR_INVALID (not YAML, not a ResourceList, items not a list)
 * with a message; `out` is only filled on success. Free with fn_rlist_free. */
int fn_rlist_parse(fn_rlist *out, const char *text, size_t len);

/* Writes the ResourceList with `results` (when any) to `out`. */
int fn_rlist_write(fn_rlist *rl, buf *out);

void fn_rlist_free(fn_rlist *rl);

/* Appends a result. `resource` (an item, may be NULL) gives resourceRef and file (from
 * the config.kubernetes.io/path and index annotations); `field` (may be NULL) a field path.
 * Returns 0 or ERR_NOMEM. */
int fn_result_add(fn_rlist *rl, const char *severity, const char *message,
                  const yml_node *resource, const char *field);

/* As fn_result_add with a file but no resourceRef (the shape set-annotations reports);
 * `severity` may be NULL (omitted, as the catalog function writes it). */
int fn_result_add_file(fn_rlist *rl, const char *severity, const char *message,
                       const char *file_path, const char *file_index, const char *field);

/* "<prefix>\"value\"" with quotes and backslashes escaped, as Go's %q writes a plain
 * string (the catalog functions' messages). Caller frees; NULL on ERR_NOMEM. */
char *fn_go_quote(const char *prefix, const char *value);

/* Did the function report an error result? */
bool fn_results_have_error(const json_t *results);

/* The value of `key` in the function config: a ConfigMap's data.key, or a top-level key
 * of any other kind of config (SetNamespace's `namespace`, ...). Borrowed; NULL when
 * absent or not a scalar. */
const char *fn_config_get(const fn_rlist *rl, const char *key);

/* The key/value map of the config: ConfigMap data, or `field` of a typed config (e.g.
 * SetLabels' `labels`). Borrowed; NULL when absent. */
yml_node *fn_config_map(const fn_rlist *rl, const char *field);

/* Runs built-in `name` on a parsed ResourceList. 0 on success (which may still carry error
 * results); ERR_NOTFOUND for an unknown name; other codes when the function failed, with
 * the reason also added as an error result. */
int builtin_run(const char *name, fn_rlist *rl);

/* Text in, text out (see the design note): the whole KRM function. `out` receives the
 * output ResourceList (also on function failure, with the error results in it), `*failed`
 * is set when the function failed (exit code 1). Returns 0, or an error when the input was
 * not a ResourceList (out then holds nothing; the message says why). */
int builtin_run_text(const char *name, const char *in, size_t in_len, buf *out, bool *failed);

/* ---- helpers shared by the built-ins (builtin_*.c) ---- */

/* Strings of an item: kind, apiVersion, metadata.name, metadata.namespace (borrowed or
 * NULL). */
const char *item_kind(const yml_node *item);
const char *item_api_version(const yml_node *item);
const char *item_name(const yml_node *item);
const char *item_namespace(const yml_node *item);

/* Is the item marked config.kubernetes.io/local-config: "true"? Is it a Kptfile? */
bool item_is_local_config(const yml_node *item);
bool item_is_kptfile(const yml_node *item);

/* Sets map[key] = value (a string) unless it already holds exactly that; returns 1 when
 * it changed, 0 when unchanged, negative on error. */
int yml_set_str_if_changed(yml_node *map, const char *key, const char *value);

/* The built-ins, each over a parsed ResourceList (builtin_*.c). */
int builtin_set_namespace(fn_rlist *rl);
int builtin_set_labels(fn_rlist *rl);
int builtin_set_annotations(fn_rlist *rl);
int builtin_ensure_name_substring(fn_rlist *rl);
int builtin_set_image(fn_rlist *rl);
int builtin_apply_setters(fn_rlist *rl);
int builtin_search_replace(fn_rlist *rl);
int builtin_apply_replacements(fn_rlist *rl);

#endif
