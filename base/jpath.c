/* jpath: see jpath.h. Segments are bounded by JPATH_SEGMENT_MAX bytes. */
#include "jpath.h"

#include "error.h"

#include <stdlib.h>
#include <string.h>

#define JPATH_SEGMENT_MAX 512

/* Copies the next segment of *path into seg, unescaping "\."; advances *path past it.
 * Returns 1 when a segment was read, 0 at the end, negative on error. */
static int next_segment(const char **path, char *seg) {
  const char *p = *path;
  if (!*p)
    return 0;
  size_t n = 0;
  while (*p && *p != '.') {
    if (*p == '\\' && p[1] == '.')
      p++;
    if (n + 1 >= JPATH_SEGMENT_MAX)
      return error_set(ERR_LIMIT, "path segment too long");
    seg[n++] = *p++;
  }
  seg[n] = '\0';
  if (*p == '.')
    p++;
  *path = p;
  return 1;
}

static bool is_index(const char *seg, size_t *out) {
  if (!*seg)
    return false;
  size_t v = 0;
  for (const char *c = seg; *c; c++) {
    if (*c < '0' || *c > '9' || v > 100000000)
      return false;
    v = v * 10 + (size_t)(*c - '0');
  }
  *out = v;
  return true;
}

static json_t *child(const json_t *node, const char *seg) {
  size_t idx;
  if (json_is_object(node))
    return json_object_get(node, seg);
  if (json_is_array(node) && is_index(seg, &idx))
    return json_array_get(node, idx);
  return NULL;
}

json_t *jpath_get(const json_t *root, const char *path) {
  char seg[JPATH_SEGMENT_MAX];
  const json_t *node = root;
  int rc;
  while (node && (rc = next_segment(&path, seg)) > 0)
    node = child(node, seg);
  return (json_t *)node;
}

const char *jpath_str(const json_t *root, const char *path) {
  return json_string_value(jpath_get(root, path));
}

int64_t jpath_int(const json_t *root, const char *path, int64_t fallback) {
  json_t *v = jpath_get(root, path);
  return json_is_integer(v) ? (int64_t)json_integer_value(v) : fallback;
}

bool jpath_bool(const json_t *root, const char *path, bool fallback) {
  json_t *v = jpath_get(root, path);
  return json_is_boolean(v) ? json_is_true(v) : fallback;
}

int jpath_set(json_t *root, const char *path, json_t *value) {
  char seg[JPATH_SEGMENT_MAX];
  json_t *node = root;
  int rc;
  if (!value)
    return error_set(ERR_NOMEM, "out of memory");
  while ((rc = next_segment(&path, seg)) > 0) {
    if (!*path) {
      size_t idx;
      if (json_is_object(node))
        return json_object_set_new(node, seg, value) ? error_set(ERR_NOMEM, "out of memory") : 0;
      if (json_is_array(node) && is_index(seg, &idx) && idx < json_array_size(node))
        return json_array_set_new(node, idx, value) ? error_set(ERR_NOMEM, "out of memory") : 0;
      json_decref(value);
      return error_set(ERR_INVALID, "cannot set %s: parent is not an object", seg);
    }
    json_t *next = child(node, seg);
    if (!next) {
      if (!json_is_object(node)) {
        json_decref(value);
        return error_set(ERR_INVALID, "cannot set below %s: not an object", seg);
      }
      next = json_object();
      if (!next || json_object_set_new(node, seg, next)) {
        json_decref(value);
        return error_set(ERR_NOMEM, "out of memory");
      }
    }
    node = next;
  }
  json_decref(value);
  return rc < 0 ? rc : error_set(ERR_INVALID, "empty path");
}

int jpath_del(json_t *root, const char *path) {
  char seg[JPATH_SEGMENT_MAX];
  json_t *node = root;
  int rc;
  while ((rc = next_segment(&path, seg)) > 0) {
    if (!*path) {
      size_t idx;
      if (json_is_object(node))
        json_object_del(node, seg);
      else if (json_is_array(node) && is_index(seg, &idx))
        json_array_remove(node, idx);
      return 0;
    }
    node = child(node, seg);
    if (!node)
      return 0;
  }
  return rc;
}
