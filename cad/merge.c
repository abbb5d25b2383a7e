/* merge: see merge.h. */
#include "cad/merge.h"

#include "base/error.h"
#include "base/str.h"
#include "cad/krm.h"

#include <stdlib.h>
#include <string.h>

#define MERGE_MAX_DEPTH 128

typedef enum { ACT_KEEP, ACT_SET, ACT_CLEAR } merge_act;

typedef struct mctx {
  merge_report *rep;
  const char *file;
  const char *res;
  buf path;
} mctx;

static const char *const ASSOCIATIVE_KEYS[] = {"mountPath", "devicePath", "ip", "type",
                                               "topologyKey", "name", "containerPort"};

static bool is_null(const yml_node *n) {
  return !n || yml_scalar_is_null(n);
}

static bool tagged_null(const yml_node *n) { return n && yml_scalar_is_null(n); }

static yml_kind kind_of(const yml_node *d, const yml_node *o, const yml_node *u) {
  const yml_node *s[3] = {d, o, u};
  for (int i = 0; i < 3; i++)
    if (!is_null(s[i]))
      return yml_node_kind(yml_node_resolve(s[i]));
  return YML_SCALAR;
}

/* ---- conflicts ----------------------------------------------------------------------- */

void merge_report_free(merge_report *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++) {
    merge_conflict *c = &r->items[i];
    free(c->file);
    free(c->resource);
    free(c->field);
    free(c->local);
    free(c->upstream);
    free(c->original);
  }
  free(r->items);
  memset(r, 0, sizeof(*r));
}

static char *value_text(const yml_node *n) {
  if (!n)
    return str_dup("<absent>");
  json_t *j = yml_to_json(n);
  char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  return s ? s : str_dup("?");
}

static int record_conflict(mctx *c, const yml_node *d, const yml_node *o, const yml_node *u) {
  merge_report *r = c->rep;
  if (!r)
    return 0;
  if (r->n >= MERGE_MAX_CONFLICTS) {
    r->dropped++;
    return 0;
  }
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 8;
    merge_conflict *n = realloc(r->items, cap * sizeof(*n));
    if (!n)
      return error_set(ERR_NOMEM, "out of memory");
    r->items = n;
    r->cap = cap;
  }
  merge_conflict *x = &r->items[r->n];
  x->file = str_dup(c->file ? c->file : "");
  x->resource = str_dup(c->res ? c->res : "");
  x->field = str_dup(buf_cstr(&c->path));
  x->local = value_text(d);
  x->upstream = value_text(u);
  x->original = value_text(o);
  if (!x->file || !x->resource || !x->field || !x->local || !x->upstream || !x->original) {
    free(x->file);
    free(x->resource);
    free(x->field);
    free(x->local);
    free(x->upstream);
    free(x->original);
    return error_set(ERR_NOMEM, "out of memory");
  }
  r->n++;
  return 0;
}

/* Value equality as kyaml compares scalars: the value and whether it is a string. */
static bool same(const yml_node *a, const yml_node *b) {
  if (is_null(a) || is_null(b))
    return is_null(a) == is_null(b);
  return yml_node_equal(a, b);
}

/* ---- the walk ------------------------------------------------------------------------ */

static int merge_field(mctx *c, yml_node *d, const yml_node *o, const yml_node *u, merge_act *act,
                       yml_node **set, int depth);

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const yml_node *as_map(const yml_node *n) {
  n = n ? yml_node_resolve(n) : NULL;
  return n && yml_node_kind(n) == YML_MAP ? n : NULL;
}

static const yml_node *as_seq(const yml_node *n) {
  n = n ? yml_node_resolve(n) : NULL;
  return n && yml_node_kind(n) == YML_SEQ ? n : NULL;
}

static int push_path(mctx *c, const char *fmt, const char *a, const char *b, size_t *mark) {
  *mark = c->path.len;
  if (!strcmp(fmt, "key"))
    return c->path.len ? buf_printf(&c->path, ".%s", a) : buf_puts(&c->path, a);
  return buf_printf(&c->path, "[%s=%s]", a, b);
}

static void pop_path(mctx *c, size_t mark) {
  c->path.len = mark;
  if (c->path.data)
    c->path.data[mark] = 0;
}

static int merge_map(mctx *c, yml_node *dm, const yml_node *om, const yml_node *um, int depth) {
  if (depth > MERGE_MAX_DEPTH)
    return error_set(ERR_LIMIT, "resources nested deeper than %d", MERGE_MAX_DEPTH);
  om = as_map(om);
  um = as_map(um);
  size_t cap = yml_node_size(dm) + yml_node_size(om) + yml_node_size(um);
  const char **keys = malloc((cap ? cap : 1) * sizeof(*keys));
  if (!keys)
    return error_set(ERR_NOMEM, "out of memory");
  size_t n = 0;
  const yml_node *srcs[3] = {dm, om, um};
  for (int s = 0; s < 3; s++)
    for (size_t i = 0; srcs[s] && i < yml_node_size(srcs[s]); i++) {
      const char *k = yml_scalar_value(yml_map_key_at(srcs[s], i), NULL);
      if (k)
        keys[n++] = k;
    }
  qsort(keys, n, sizeof(*keys), cmp_cstr);
  /* keys point into the sources; dest keys may be freed while we go, so copy them */
  char **owned = calloc(n ? n : 1, sizeof(*owned));
  size_t m = 0;
  int rc = owned ? 0 : error_set(ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n && !rc; i++) {
    if (m && !strcmp(owned[m - 1], keys[i]))
      continue;
    if (!(owned[m++] = str_dup(keys[i])))
      rc = ERR_NOMEM;
  }
  free(keys);
  for (size_t i = 0; i < m && !rc; i++) {
    const char *k = owned[i];
    yml_node *d = yml_map_get(dm, k);
    const yml_node *o = om ? yml_map_get(om, k) : NULL;
    const yml_node *u = um ? yml_map_get(um, k) : NULL;
    size_t mark;
    if ((rc = push_path(c, "key", k, NULL, &mark)))
      break;
    merge_act act = ACT_KEEP;
    yml_node *set = NULL;
    rc = merge_field(c, d, o, u, &act, &set, depth + 1);
    pop_path(c, mark);
    if (rc)
      break;
    if (act == ACT_CLEAR && yml_map_index(dm, k) >= 0)
      rc = yml_map_remove(dm, k);
    else if (act == ACT_SET)
      rc = yml_map_set(dm, k, set);
  }
  for (size_t i = 0; i < m; i++)
    free(owned[i]);
  free(owned);
  return rc;
}

/* The merge key of a sequence: the first associative key every item (all maps) has. */
static const char *seq_key(const yml_node *s) {
  s = as_seq(s);
  if (!s || yml_node_size(s) == 0)
    return NULL;
  for (size_t k = 0; k < sizeof(ASSOCIATIVE_KEYS) / sizeof(*ASSOCIATIVE_KEYS); k++) {
    bool all = true;
    for (size_t i = 0; i < yml_node_size(s) && all; i++) {
      const yml_node *it = as_map(yml_seq_at(s, i));
      all = it && yml_map_get(it, ASSOCIATIVE_KEYS[k]) != NULL;
    }
    if (all)
      return ASSOCIATIVE_KEYS[k];
  }
  return NULL;
}

static const char *item_key_value(const yml_node *item, const char *key) {
  const yml_node *m = as_map(item);
  const yml_node *v = m ? yml_map_get(m, key) : NULL;
  return v ? yml_scalar_value(v, NULL) : NULL;
}

static long find_item(const yml_node *s, const char *key, const char *value) {
  for (size_t i = 0; s && i < yml_node_size(s); i++) {
    const char *v = item_key_value(yml_seq_at(s, i), key);
    if (v && !strcmp(v, value))
      return (long)i;
  }
  return -1;
}

/* Later dest items that repeat a merge-key value (from index `from` on) become copies of
 * the merged first item `merged`, or go when it went (NULL), as kyaml's ElementSetter sets
 * every matching element: merging is then idempotent on such lists. */
static int settle_duplicates(yml_node *ds, const char *key, const char *value, size_t from,
                             const yml_node *merged) {
  for (size_t j = from; j < yml_node_size(ds);) {
    const char *v = item_key_value(yml_seq_at(ds, j), key);
    if (!v || strcmp(v, value)) {
      j++;
      continue;
    }
    if (!merged) {
      int rc = yml_seq_remove_at(ds, j);
      if (rc)
        return rc;
      continue;
    }
    if (!yml_node_equal(yml_seq_at(ds, j), merged)) {
      int rc = yml_seq_set(ds, j, yml_node_copy(merged)); /* takes the copy, also on failure */
      if (rc)
        return rc;
    }
    j++;
  }
  return 0;
}

static int merge_alist(mctx *c, yml_node *ds, const yml_node *os, const yml_node *us, const char *key,
                       int depth) {
  os = as_seq(os);
  us = as_seq(us);
  /* the key values in order: dest's, then origin's, then updated's */
  size_t cap = yml_node_size(ds) + yml_node_size(os) + yml_node_size(us);
  char **values = calloc(cap ? cap : 1, sizeof(*values));
  if (!values)
    return error_set(ERR_NOMEM, "out of memory");
  size_t n = 0;
  int rc = 0;
  const yml_node *srcs[3] = {ds, os, us};
  for (int s = 0; s < 3 && !rc; s++)
    for (size_t i = 0; srcs[s] && i < yml_node_size(srcs[s]) && !rc; i++) {
      const char *v = item_key_value(yml_seq_at(srcs[s], i), key);
      if (!v)
        continue;
      bool seen = false;
      for (size_t j = 0; j < n && !seen; j++)
        seen = !strcmp(values[j], v);
      if (!seen && !(values[n++] = str_dup(v)))
        rc = ERR_NOMEM;
    }
  for (size_t i = 0; i < n && !rc; i++) {
    long di = find_item(ds, key, values[i]);
    long oi = find_item(os, key, values[i]);
    long ui = find_item(us, key, values[i]);
    yml_node *de = di >= 0 ? yml_seq_at(ds, (size_t)di) : NULL;
    const yml_node *oe = oi >= 0 ? yml_seq_at(os, (size_t)oi) : NULL;
    const yml_node *ue = ui >= 0 ? yml_seq_at(us, (size_t)ui) : NULL;
    size_t mark;
    if ((rc = push_path(c, "item", key, values[i], &mark)))
      break;
    bool removed = false;
    if (tagged_null(ue) || tagged_null(de) || (!de && !ue)) {
      if (di >= 0)
        rc = yml_seq_remove_at(ds, (size_t)di);
      removed = true;
    } else if (!de) {
      yml_node *ne = yml_map_new(YML_BLOCK);
      rc = ne ? merge_map(c, ne, oe, ue, depth + 1) : ERR_NOMEM;
      if (!rc && yml_node_size(ne) > 0) {
        if (!yml_map_get(ne, key))
          rc = yml_map_set(ne, key, yml_str_new(values[i]));
        if (!rc) {
          rc = yml_seq_append(ds, ne);
          ne = NULL;
        }
      }
      yml_node_free(ne);
    } else if (yml_node_kind(de) == YML_MAP) {
      rc = merge_map(c, de, oe, ue, depth + 1);
      if (!rc && yml_node_size(de) == 0) {
        rc = yml_seq_remove_at(ds, (size_t)di);
        removed = true;
      } else if (!rc && !yml_map_get(de, key)) {
        rc = yml_map_set(de, key, yml_str_new(values[i]));
      }
    }
    if (!rc && di >= 0)
      rc = settle_duplicates(ds, key, values[i], removed ? (size_t)di : (size_t)di + 1,
                             removed ? NULL : yml_seq_at(ds, (size_t)di));
    pop_path(c, mark);
  }
  for (size_t i = 0; i < n; i++)
    free(values[i]);
  free(values);
  return rc;
}

/* Takes `u` (a copy) or clears, recording a conflict when dest changed differently. */
static int take_updated(mctx *c, const yml_node *d, const yml_node *o, const yml_node *u,
                        merge_act *act, yml_node **set) {
  if (!is_null(d) && !same(d, o) && !same(d, u)) {
    int rc = record_conflict(c, d, o, u);
    if (rc)
      return rc;
  }
  if (is_null(u)) {
    *act = ACT_CLEAR;
    return 0;
  }
  *set = yml_node_copy(u);
  if (!*set)
    return ERR_NOMEM;
  *act = ACT_SET;
  return 0;
}

static int merge_field(mctx *c, yml_node *d, const yml_node *o, const yml_node *u, merge_act *act,
                       yml_node **set, int depth) {
  *act = ACT_KEEP;
  *set = NULL;
  if (depth > MERGE_MAX_DEPTH)
    return error_set(ERR_LIMIT, "resources nested deeper than %d", MERGE_MAX_DEPTH);
  yml_kind kind = kind_of(d, o, u);
  /* shapes must agree where present */
  const yml_node *srcs[3] = {d, o, u};
  for (int i = 0; i < 3; i++)
    if (!is_null(srcs[i]) && yml_node_kind(yml_node_resolve(srcs[i])) != kind)
      return error_set(ERR_INVALID, "field %s has different shapes in local and upstream",
                       buf_cstr(&c->path));
  if (kind == YML_MAP) {
    if (tagged_null(u) || tagged_null(d) || (!d && !u)) {
      *act = ACT_CLEAR;
      return 0;
    }
    if (!d) {
      yml_node *nd = yml_map_new(YML_BLOCK);
      int rc = nd ? merge_map(c, nd, o, u, depth) : ERR_NOMEM;
      if (rc) {
        yml_node_free(nd);
        return rc;
      }
      if (yml_node_size(nd) == 0) {
        yml_node_free(nd);
        *act = ACT_CLEAR;
        return 0;
      }
      *set = nd;
      *act = ACT_SET;
      return 0;
    }
    return merge_map(c, (yml_node *)yml_node_resolve(d), o, u, depth);
  }
  if (kind == YML_SEQ) {
    const char *key = NULL;
    for (int i = 0; i < 3 && !key; i++)
      key = seq_key(srcs[i]);
    if (key) {
      if (is_null(u) && !is_null(o)) {
        *act = ACT_CLEAR;
        return 0;
      }
      if (is_null(d)) {
        yml_node *nd = yml_seq_new(YML_BLOCK);
        int rc = nd ? merge_alist(c, nd, o, u, key, depth) : ERR_NOMEM;
        if (rc) {
          yml_node_free(nd);
          return rc;
        }
        *set = nd;
        *act = ACT_SET;
        return 0;
      }
      return merge_alist(c, (yml_node *)yml_node_resolve(d), o, u, key, depth);
    }
  }
  /* scalars and lists without a merge key */
  if (tagged_null(u) || tagged_null(d)) {
    *act = ACT_CLEAR;
    return 0;
  }
  if (is_null(u) != is_null(o))
    return take_updated(c, d, o, u, act, set);
  if (is_null(u) && is_null(o))
    return 0;
  if (!same(u, o) ||
      (yml_node_kind(u) == YML_SCALAR && yml_node_kind(o) == YML_SCALAR &&
       yml_node_style(u) != yml_node_style(o)))
    return take_updated(c, d, o, u, act, set);
  return 0;
}

int merge_resource(yml_node *dest, const yml_node *origin, const yml_node *updated,
                   merge_report *report, const char *file, const char *resource) {
  if (!dest || yml_node_kind(dest) != YML_MAP)
    return error_set(ERR_INVALID, "%s: resource is not a mapping", file ? file : "");
  if (krm_has_complex_key(dest) || krm_has_complex_key(origin) || krm_has_complex_key(updated))
    return error_set(ERR_INVALID, "%s: %s: a mapping key that is not a string (not KRM)",
                     file ? file : "", resource ? resource : "resource");
  mctx c = {report, file, resource, BUF_INIT};
  int rc = merge_map(&c, dest, origin, updated, 0);
  buf_free(&c.path);
  if (rc)
    error_prefix("%s: merging %s", file ? file : "", resource ? resource : "resource");
  return rc;
}

/* ---- report -------------------------------------------------------------------------- */

int merge_report_write(const merge_report *r, buf *out) {
  json_t *items = json_array();
  for (size_t i = 0; items && i < r->n; i++) {
    const merge_conflict *x = &r->items[i];
    char *msg = str_printf("local and upstream both changed %s (local %s, upstream %s, original %s); "
                           "upstream's value was taken",
                           x->field, x->local, x->upstream, x->original);
    json_t *res = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:{s:s}}", "message", msg ? msg : "",
                            "severity", "warning", "resourceRef", "id", x->resource, "field", "path",
                            x->field, "currentValue", x->local, "proposedValue", x->upstream, "file",
                            "path", x->file);
    free(msg);
    if (res && x->original)
      json_object_set_new(json_object_get(res, "field"), "originalValue", json_string(x->original));
    if (!res || json_array_append_new(items, res)) {
      json_decref(items);
      return error_set(ERR_NOMEM, "out of memory");
    }
  }
  json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:i, s:[{s:s, s:i, s:o}]}", "apiVersion", "kpt.dev/v1",
                          "kind", "FunctionResultList", "metadata", "name", "update-conflicts",
                          "exitCode", 0, "items", "image", "portico/pkg-update", "exitCode", 0,
                          "results", items);
  if (!doc)
    return error_set(ERR_NOMEM, "out of memory");
  yml_node *y = yml_from_json(doc);
  json_decref(doc);
  if (!y)
    return ERR_NOMEM;
  int rc = yml_node_write(y, out);
  yml_node_free(y);
  return rc;
}
