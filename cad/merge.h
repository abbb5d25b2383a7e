/*
 * merge: the three-way merge of one resource, field by field, with kpt's (kyaml merge3)
 * rules, done in place on the local copy so that untouched fields keep their bytes.
 *
 * Sources: dest (the local resource, edited in place), origin (upstream at the old
 * upstreamLock commit) and updated (upstream at the new ref). Rules, as kyaml's merge3:
 * - maps: every field of any source is visited (sorted by name); a field present only in
 *   dest stays; a new field is appended after dest's fields.
 * - scalars and lists without a merge key: an explicit null in dest or updated clears the
 *   field; if updated differs from origin (added, removed, changed) updated wins, else dest
 *   stays.
 * - lists of maps that all carry one of kyaml's merge keys (mountPath, devicePath, ip,
 *   type, topologyKey, name, containerPort): items are paired by that key and merged
 *   recursively; dest's order is kept, new items are appended; an item deleted upstream
 *   loses the fields it had in origin.
 *
 * Beyond kpt: when dest and updated both changed a value differently from origin, kpt
 * silently takes updated. merge takes updated too (same output) but records a conflict
 * (field path, local, upstream and original values) in the caller's merge_report.
 */
#ifndef PORTICO_CAD_MERGE_H
#define PORTICO_CAD_MERGE_H

#include "cad/yaml.h"

#include <stddef.h>

#define MERGE_MAX_CONFLICTS 10000

typedef struct merge_conflict {
  char *file;     /* package-relative path of the local file */
  char *resource; /* "group|Kind|namespace|name" */
  char *field;    /* "spec.replicas", "spec.template.spec.containers[name=app].image" */
  char *local;    /* values as compact text (JSON); "<absent>" when missing */
  char *upstream;
  char *original;
} merge_conflict;

typedef struct merge_report {
  merge_conflict *items;
  size_t n, cap;
  size_t dropped; /* conflicts beyond MERGE_MAX_CONFLICTS */
} merge_report;

void merge_report_free(merge_report *r);

/* Merges origin -> updated changes into `dest` (a resource map, edited in place).
 * `origin` may be NULL (resource new on both sides). `file` and `resource` label the
 * conflicts recorded in `report` (may be NULL). ERR_NOMEM; ERR_INVALID for sources of
 * incompatible shapes (a map against a list) or with a mapping key that is not a string
 * (krm_has_complex_key), dest unchanged then. */
int merge_resource(yml_node *dest, const yml_node *origin, const yml_node *updated,
                   merge_report *report, const char *file, const char *resource);

/* Writes the report as a kpt-style results file (a ResourceList-like YAML with one result
 * per conflict) to `out`. */
int merge_report_write(const merge_report *r, buf *out);

#endif
