/*
 * catalog: the names of the built-in KRM functions Portico ships, with what a user sees
 * about each (the Function resources of SPEC §2 are made from this table). The code of
 * each function is in fn/builtin_*.c behind fn/builtin.h; this table knows nothing of
 * YAML so that resolution does not depend on it.
 */
#ifndef PORTICO_FN_CATALOG_H
#define PORTICO_FN_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct catalog_entry {
  const char *name;        /* "set-namespace": the image's last path segment */
  const char *image;       /* canonical image, "gcr.io/kpt-fn/set-namespace:v0.4.1" */
  const char *description;
  bool validator;          /* false: mutator */
} catalog_entry;

/* The entry called `name`, or NULL. Borrowed, static. */
const catalog_entry *catalog_find(const char *name);

/* Entry i (0-based) or NULL past the end. */
const catalog_entry *catalog_at(size_t i);

/* "set-namespace, set-labels, ..." for messages. Static. */
const char *catalog_names(void);

#endif
