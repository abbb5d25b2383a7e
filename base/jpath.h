/*
 * jpath: the one JSON path helper, over jansson.
 *
 * Paths are dot-separated object keys ("metadata.labels.app"); a segment of digits indexes
 * an array ("status.conditions.0.type"). A key containing a dot is written with a
 * backslash ("metadata.annotations.portico\.dev/latest").
 * Getters return borrowed references (valid while `root` is unchanged) or NULL.
 */
#ifndef PORTICO_BASE_JPATH_H
#define PORTICO_BASE_JPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

json_t *jpath_get(const json_t *root, const char *path);

/* The string at path, or NULL when missing or not a string. Borrowed. */
const char *jpath_str(const json_t *root, const char *path);

/* The integer at path, or `fallback`. */
int64_t jpath_int(const json_t *root, const char *path, int64_t fallback);

/* The boolean at path, or `fallback`. */
bool jpath_bool(const json_t *root, const char *path, bool fallback);

/* Sets path to `value` (reference stolen, even on failure), creating missing objects on
 * the way. ERR_INVALID when a segment crosses a non-object. */
int jpath_set(json_t *root, const char *path, json_t *value);

/* Removes the value at path; missing is fine. */
int jpath_del(json_t *root, const char *path);

#endif
