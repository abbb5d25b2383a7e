/*
 * registry: routing and the verbs of the standalone API server (see registry.h).
 *
 * Flow of a write: decode the body -> check kind/apiVersion/name/namespace against the
 * URL -> prune, default and validate (schema.c, validate.c) -> apply the verb's rules
 * (generateName, resourceVersion preconditions, status subresource, generation,
 * finalizers) -> take rv + 1 -> commit to SQLite -> update the cache -> record the event
 * (which feeds the watches) -> answer. Nothing is answered before the commit returned.
 *
 * Reads (get, list) are served from the in-memory cache, where each object is kept as
 * the compact JSON text that was stored, so a list is mostly a concatenation. A list's
 * continue token carries the list's resourceVersion and the last key; a later page is
 * computed as of that resourceVersion by undoing newer events from the history, so pages
 * are consistent; once the history no longer reaches back, the token is 410 Expired.
 */
#include "apiserver/registry_internal.h"

#include "apiserver/discovery.h"
#include "apiserver/openapi.h"
#include "apiserver/patch.h"
#include "apiserver/schema.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/jpath.h"
#include "base/log.h"
#include "base/str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define REGISTRY_MAX_COLLECTIONS 4096
#define CRD_RESOURCE "customresourcedefinitions.apiextensions.k8s.io"

/* --- small helpers ------------------------------------------------------------------- */

char *registry_now_rfc3339(void) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char out[32];
  strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return str_dup(out);
}

static void random_bytes(unsigned char *out, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out + got, n - got, 0);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  for (; got < n; got++) /* getrandom cannot fail on Linux >= 3.17; never leave zeros */
    out[got] = (unsigned char)rand();
}

static void uuid_v4(char out[37]) {
  unsigned char b[16];
  random_bytes(b, sizeof(b));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

/* generateName suffix: 5 characters from the alphabet Kubernetes uses (no vowels). */
static void random_suffix(char out[6]) {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  random_bytes(b, sizeof(b));
  for (int i = 0; i < 5; i++)
    out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
  out[5] = 0;
}

static char *make_key(const char *ns, const char *name) {
  return ns ? str_printf("%s/%s", ns, name) : str_dup(name);
}

/* "configmaps" or "widgets.example.com": how messages name a resource. */
static char *qualified_resource(const type_info *ti) { return str_dup(ti->resource); }

/* "ConfigMap" or "Widget.example.com": how Invalid messages name a kind. */
static char *qualified_kind(const type_info *ti) {
  return *ti->t.group ? str_printf("%s.%s", ti->t.kind, ti->t.group) : str_dup(ti->t.kind);
}

static json_t *details(const type_info *ti, const char *name, const char *kind) {
  json_t *d = json_object();
  if (name)
    json_object_set_new(d, "name", json_string(name));
  if (*ti->t.group)
    json_object_set_new(d, "group", json_string(ti->t.group));
  json_object_set_new(d, "kind", json_string(kind ? kind : ti->t.plural));
  return d;
}

static void respond_not_found(api_response *resp, const type_info *ti, const char *name) {
  char *res = qualified_resource(ti);
  char *msg = str_printf("%s \"%s\" not found", res, name);
  api_respond_status(resp, 404, "NotFound", msg, details(ti, name, NULL));
  free(msg);
  free(res);
}

static void respond_conflict(api_response *resp, const type_info *ti, const char *name,
                             const char *why) {
  char *res = qualified_resource(ti);
  char *msg = str_printf("Operation cannot be fulfilled on %s \"%s\": %s", res, name, why);
  api_respond_status(resp, 409, "Conflict", msg, details(ti, name, NULL));
  free(msg);
  free(res);
}

static void respond_invalid(api_response *resp, const type_info *ti, const char *name,
                            const validate_errors *errs) {
  char *kg = qualified_kind(ti);
  json_t *d = NULL;
  char *msg = validate_errors_message(errs, kg, name, ti->t.group, ti->t.kind, &d);
  api_respond_status(resp, 422, "Invalid", msg, d);
  free(msg);
  free(kg);
}

static void respond_text_status(api_response *resp, int code, const char *reason,
                                const char *message) {
  api_respond_status(resp, code, reason, message, NULL);
}

static void respond_method_not_allowed(api_response *resp) {
  respond_text_status(resp, 405, "MethodNotAllowed",
                      "the server does not allow this method on the requested resource");
}

static void respond_raw_json(api_response *resp, int code, const char *json, size_t len) {
  resp->status = code;
  str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  buf_reset(&resp->body);
  buf_append(&resp->body, json, len);
}

static bool query_true(const api_request *req, const char *name) {
  const char *v = api_request_query(req, name);
  return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static bool dry_run(const api_request *req) {
  const char *v = api_request_query(req, "dryRun");
  return v && !strcmp(v, "All");
}

/* --- collections and the cache ------------------------------------------------------- */

collection *registry_collection(registry *r, const char *resource, bool create) {
  for (size_t i = 0; i < r->coll_count; i++)
    if (!strcmp(r->colls[i]->resource, resource))
      return r->colls[i];
  if (!create || r->coll_count >= REGISTRY_MAX_COLLECTIONS)
    return NULL;
  collection **bigger = realloc(r->colls, (r->coll_count + 1) * sizeof(*bigger));
  if (!bigger)
    return NULL;
  r->colls = bigger;
  collection *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  c->resource = str_dup(resource);
  r->colls[r->coll_count++] = c;
  return c;
}

entry *collection_find(const collection *c, const char *key, size_t *pos) {
  size_t lo = 0, hi = c ? c->count : 0;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int cmp = strcmp(c->items[mid]->key, key);
    if (cmp == 0) {
      if (pos)
        *pos = mid;
      return c->items[mid];
    }
    if (cmp < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (pos)
    *pos = lo;
  return NULL;
}

static void entry_free(entry *e) {
  if (!e)
    return;
  free(e->key);
  free(e->json);
  json_decref(e->labels);
  free(e);
}

/* Inserts or replaces (takes ownership of json). */
static int collection_put(collection *c, const char *key, char *json, size_t len, long long rv,
                          const json_t *labels) {
  size_t pos;
  entry *e = collection_find(c, key, &pos);
  if (e) {
    free(e->json);
    json_decref(e->labels);
  } else {
    if (c->count == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 16;
      entry **bigger = realloc(c->items, cap * sizeof(*bigger));
      if (!bigger)
        return error_set(ERR_NOMEM, "out of memory");
      c->items = bigger;
      c->cap = cap;
    }
    e = calloc(1, sizeof(*e));
    if (!e)
      return error_set(ERR_NOMEM, "out of memory");
    e->key = str_dup(key);
    memmove(&c->items[pos + 1], &c->items[pos], (c->count - pos) * sizeof(entry *));
    c->items[pos] = e;
    c->count++;
  }
  e->json = json;
  e->len = len;
  e->rv = rv;
  e->labels = json_object_size(labels) ? json_deep_copy(labels) : NULL;
  return 0;
}

static void collection_remove(collection *c, const char *key) {
  size_t pos;
  entry *e = collection_find(c, key, &pos);
  if (!e)
    return;
  memmove(&c->items[pos], &c->items[pos + 1], (c->count - pos - 1) * sizeof(entry *));
  c->count--;
  entry_free(e);
}

static void collection_free(collection *c) {
  for (size_t i = 0; i < c->count; i++)
    entry_free(c->items[i]);
  free(c->items);
  free(c->resource);
  free(c);
}

/* --- committing writes ------------------------------------------------------------------ */

/* Stores `obj` (its resourceVersion set to rv + 1 here), updates the cache and records
 * the event. `prev` is the cached entry's JSON before (NULL for a create). */
static int commit_put(registry *r, const type_info *ti, const char *key, json_t *obj,
                      event_type type) {
  long long rv = r->rv + 1;
  char rvs[32];
  snprintf(rvs, sizeof(rvs), "%lld", rv);
  jpath_set(obj, "metadata.resourceVersion", json_string(rvs));
  char *text = json_dumps(obj, JSON_COMPACT);
  if (!text)
    return error_set(ERR_NOMEM, "out of memory");
  size_t len = strlen(text);
  int rc = store_put(r->store, ti->resource, key, text, len, rv);
  if (rc) {
    free(text);
    return rc;
  }
  r->rv = rv;
  collection *c = registry_collection(r, ti->resource, true);
  entry *old = collection_find(c, key, NULL);
  char *prev = old ? old->json : NULL;
  json_t *prev_labels = old && old->labels ? json_incref(old->labels) : NULL;
  if (old)
    old->json = NULL; /* keep the previous text for the event */
  const json_t *labels = jpath_get(obj, "metadata.labels");
  rc = collection_put(c, key, text, len, rv, labels);
  if (rc) {
    free(text);
    free(prev);
    json_decref(prev_labels);
    return rc;
  }
  registry_record_event(r, type, ti->resource, key, text, prev, labels, prev_labels, rv);
  free(prev);
  json_decref(prev_labels);
  return 0;
}

/* Removes the object at key; `last` is its final state (its rv becomes the deletion's). */
static int commit_delete(registry *r, const type_info *ti, const char *key, json_t *last) {
  long long rv = r->rv + 1;
  int rc = store_delete(r->store, ti->resource, key, rv);
  if (rc)
    return rc;
  r->rv = rv;
  char rvs[32];
  snprintf(rvs, sizeof(rvs), "%lld", rv);
  jpath_set(last, "metadata.resourceVersion", json_string(rvs));
  collection *c = registry_collection(r, ti->resource, true);
  entry *old = collection_find(c, key, NULL);
  char *text = json_dumps(last, JSON_COMPACT);
  char *prev = old ? str_dup(old->json) : NULL;
  json_t *prev_labels = old && old->labels ? json_incref(old->labels) : NULL;
  collection_remove(c, key);
  registry_record_event(r, EV_DELETED, ti->resource, key, text ? text : "{}", prev,
                        jpath_get(last, "metadata.labels"), prev_labels, rv);
  free(text);
  free(prev);
  json_decref(prev_labels);
  return 0;
}

/* --- namespaces ------------------------------------------------------------------------- */

static json_t *load_entry(const entry *e) { return e ? json_loads(e->json, 0, NULL) : NULL; }

static entry *namespace_entry(registry *r, const char *ns) {
  return collection_find(registry_collection(r, "namespaces", true), ns, NULL);
}

static int ensure_default_namespace(registry *r) {
  if (namespace_entry(r, "default"))
    return 0;
  const type_info *ti = registry_find_type(r, "", "v1", "namespaces");
  char uid[37];
  uuid_v4(uid);
  char *now = registry_now_rfc3339();
  json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "kind",
                         "Namespace", "apiVersion", "v1", "metadata", "name", "default", "uid",
                         uid, "creationTimestamp", now, "labels", "kubernetes.io/metadata.name",
                         "default", "spec", "finalizers", "kubernetes", "status", "phase",
                         "Active");
  free(now);
  int rc = commit_put(r, ti, "default", ns, EV_ADDED);
  json_decref(ns);
  return rc;
}

/* --- open and close ------------------------------------------------------------------- */

static int load_one(void *ctx, const char *resource, const char *key, const char *json,
                    size_t len, long long rv) {
  registry *r = ctx;
  collection *c = registry_collection(r, resource, true);
  if (!c)
    return error_set(ERR_NOMEM, "out of memory");
  json_t *obj = json_loadb(json, len, 0, NULL);
  char *copy = str_ndup(json, len);
  int rc = copy ? collection_put(c, key, copy, len, rv, jpath_get(obj, "metadata.labels"))
                : ERR_NOMEM;
  if (rc)
    free(copy);
  json_decref(obj);
  return rc;
}

int registry_open_with(registry **out, const char *data_dir, uv_loop_t *loop,
                       const registry_options *options) {
  registry *r = calloc(1, sizeof(*r));
  if (!r)
    return error_set(ERR_NOMEM, "registry: out of memory");
  r->loop = loop;
  r->data_dir = str_dup(data_dir);
  if (options)
    r->options = *options;
  int rc = store_open(&r->store, data_dir);
  if (rc)
    goto fail;
  r->rv = store_revision(r->store);
  r->compacted_rv = r->rv; /* history starts empty: nothing older can be replayed */
  if ((rc = store_load(r->store, load_one, r)) || (rc = registry_types_rebuild(r)) ||
      (rc = ensure_default_namespace(r)))
    goto fail;
  *out = r;
  return 0;
fail:
  registry_close(r);
  return rc;
}

int registry_open(registry **out, const char *data_dir, uv_loop_t *loop) {
  return registry_open_with(out, data_dir, loop, NULL);
}

const api_resource_type *registry_types(const registry *r, size_t *count) {
  *count = r->type_count;
  return r->types;
}

long long registry_resource_version(const registry *r) { return r->rv; }

void registry_close(registry *r) {
  if (!r)
    return;
  registry_watchers_end(r, NULL);
  registry_history_free(r);
  registry_types_free(r);
  for (size_t i = 0; i < r->coll_count; i++)
    collection_free(r->colls[i]);
  free(r->colls);
  store_close(r->store);
  free(r->data_dir);
  free(r);
}

/* --- routing ------------------------------------------------------------------------- */

#define SEG_MAX 10

typedef struct route {
  char group[256], version[64];
  const char *ns, *resource, *name, *sub;
  bool watch;
  char *segs[SEG_MAX];
  size_t nseg;
} route;

static void route_free(route *rt) {
  for (size_t i = 0; i < rt->nseg; i++)
    free(rt->segs[i]);
}

/* Splits the path; returns false for anything that is not a resource URL. */
static bool route_parse(const char *path, route *rt) {
  memset(rt, 0, sizeof(*rt));
  const char *p = path;
  while (*p) {
    while (*p == '/')
      p++;
    if (!*p)
      break;
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (rt->nseg >= SEG_MAX)
      return false;
    rt->segs[rt->nseg++] = str_ndup(p, n);
    p += n;
  }
  size_t i = 0;
  if (rt->nseg >= 2 && !strcmp(rt->segs[0], "api")) {
    str_copy(rt->version, rt->segs[1], sizeof(rt->version));
    i = 2;
  } else if (rt->nseg >= 3 && !strcmp(rt->segs[0], "apis")) {
    str_copy(rt->group, rt->segs[1], sizeof(rt->group));
    str_copy(rt->version, rt->segs[2], sizeof(rt->version));
    i = 3;
  } else {
    return false;
  }
  if (i < rt->nseg && !strcmp(rt->segs[i], "watch")) {
    rt->watch = true;
    i++;
  }
  size_t left = rt->nseg - i;
  char **s = &rt->segs[i];
  if (left == 0)
    return false;
  if (!strcmp(s[0], "namespaces") && left >= 3 &&
      !(left == 3 && (!strcmp(s[2], "status") || !strcmp(s[2], "finalize")))) {
    rt->ns = s[1];
    rt->resource = s[2];
    rt->name = left > 3 ? s[3] : NULL;
    rt->sub = left > 4 ? s[4] : NULL;
    return left <= 5;
  }
  rt->resource = s[0];
  rt->name = left > 1 ? s[1] : NULL;
  rt->sub = left > 2 ? s[2] : NULL;
  return left <= 3;
}

/* --- reading -------------------------------------------------------------------------- */

static void respond_object(api_response *resp, int code, const type_info *ti, const char *version,
                           const api_request *req, const char *json, size_t len) {
  if (registry_wants_table(req)) {
    json_t *obj = json_loads(json, 0, NULL);
    json_t *rows = json_array();
    if (obj)
      json_array_append_new(rows, registry_table_row(ti, obj));
    json_t *t = json_pack("{s:s, s:s, s:{s:s?}, s:o, s:o}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", "resourceVersion",
                          jpath_str(obj, "metadata.resourceVersion"), "columnDefinitions",
                          registry_table_columns(ti), "rows", rows);
    api_respond_json(resp, code, t);
    json_decref(t);
    json_decref(obj);
    return;
  }
  char *rewritten = registry_object_for_version(ti, version, json);
  if (rewritten) {
    respond_raw_json(resp, code, rewritten, strlen(rewritten));
    free(rewritten);
  } else {
    respond_raw_json(resp, code, json, len);
  }
}

static void respond_json_object(api_response *resp, int code, const type_info *ti,
                                const char *version, const api_request *req, const json_t *obj) {
  char *text = json_dumps(obj, JSON_COMPACT);
  if (text)
    respond_object(resp, code, ti, version, req, text, strlen(text));
  free(text);
}

static const char *const field_labels[] = {
    "type", "reason", "involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.fieldPath", "source",
    "status.phase", "spec.holderIdentity", NULL};

/* One item of a list: what the page shows. */
typedef struct list_item {
  const char *key;
  const char *json;
  const json_t *labels;
} list_item;

typedef struct snapshot {
  list_item *items;
  size_t count, cap;
  char **owned; /* JSON texts parsed out of history */
  size_t owned_count;
} snapshot;

static int item_cmp(const void *a, const void *b) {
  return strcmp(((const list_item *)a)->key, ((const list_item *)b)->key);
}

static void snapshot_add(snapshot *s, const char *key, const char *json, const json_t *labels) {
  if (s->count == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    list_item *bigger = realloc(s->items, cap * sizeof(*bigger));
    if (!bigger)
      return;
    s->items = bigger;
    s->cap = cap;
  }
  s->items[s->count++] = (list_item){key, json, labels};
}

/* The collection as of `rv` (>= compacted), restricted to keys after `after`. Items
 * borrow from the cache and the history; valid until the next write. */
static int snapshot_at(registry *r, const collection *c, const char *resource, long long rv,
                       const char *after, snapshot *s) {
  size_t start = 0;
  if (c && after) {
    collection_find(c, after, &start);
    if (start < c->count && !strcmp(c->items[start]->key, after))
      start++;
  }
  for (size_t i = start; c && i < c->count; i++)
    snapshot_add(s, c->items[i]->key, c->items[i]->json, c->items[i]->labels);
  if (rv >= r->rv)
    return 0;
  size_t first, count;
  int rc = registry_history_since(r, rv, &first, &count);
  if (rc)
    return rc;
  /* undo newer events, newest first */
  for (size_t k = count; k-- > 0;) {
    const event *e = registry_history_at(r, first + k);
    if (strcmp(e->resource, resource) || (after && strcmp(e->key, after) <= 0))
      continue;
    size_t idx = (size_t)-1;
    for (size_t i = 0; i < s->count; i++)
      if (!strcmp(s->items[i].key, e->key)) {
        idx = i;
        break;
      }
    if (e->type == EV_ADDED) {
      if (idx != (size_t)-1)
        s->items[idx] = s->items[--s->count];
    } else if (idx != (size_t)-1) {
      s->items[idx].json = e->prev;
      s->items[idx].labels = e->prev_labels;
    } else {
      snapshot_add(s, e->key, e->prev, e->prev_labels);
    }
  }
  qsort(s->items, s->count, sizeof(list_item), item_cmp);
  return 0;
}

static char *b64_encode(const char *in, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  buf b = BUF_INIT;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)in[i] << 16;
    if (i + 1 < n)
      v |= (unsigned char)in[i + 1] << 8;
    if (i + 2 < n)
      v |= (unsigned char)in[i + 2];
    buf_putc(&b, tbl[(v >> 18) & 63]);
    buf_putc(&b, tbl[(v >> 12) & 63]);
    buf_putc(&b, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
    buf_putc(&b, i + 2 < n ? tbl[v & 63] : '=');
  }
  return buf_detach(&b, NULL);
}

static int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

/* Decodes standard or URL base64 (padding optional). NULL when malformed. */
static char *b64_decode(const char *in, size_t *out_len) {
  buf b = BUF_INIT;
  unsigned acc = 0;
  int bits = 0;
  for (const char *p = in; *p && *p != '='; p++) {
    int v = b64_value(*p);
    if (v < 0) {
      buf_free(&b);
      return NULL;
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      buf_putc(&b, (char)((acc >> bits) & 0xff));
    }
  }
  return buf_detach(&b, out_len);
}

static char *continue_token(long long rv, const char *last_key) {
  json_t *t = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start",
                        last_key);
  char *text = json_dumps(t, JSON_COMPACT);
  json_decref(t);
  char *out = text ? b64_encode(text, strlen(text)) : NULL;
  free(text);
  return out;
}

static int continue_parse(const char *token, long long *rv, char **start) {
  size_t len = 0;
  char *raw = b64_decode(token, &len);
  json_t *t = raw ? json_loadb(raw, len, 0, NULL) : NULL;
  free(raw);
  const char *s = json_string_value(json_object_get(t, "start"));
  json_t *v = json_object_get(t, "rv");
  if (!s || !json_is_integer(v) || !str_eq(jpath_str(t, "v"), "meta.k8s.io/v1")) {
    json_decref(t);
    return error_set(ERR_INVALID, "continue key is not valid: incorrect encoded start "
                                  "resourceVersion (version meta.k8s.io/v1)");
  }
  *rv = (long long)json_integer_value(v);
  *start = str_dup(s);
  json_decref(t);
  return 0;
}

static bool item_matches(const list_item *it, const char *ns, const selector *labels,
                         const selector *fields) {
  if (ns) {
    size_t n = strlen(ns);
    if (strncmp(it->key, ns, n) || it->key[n] != '/')
      return false;
  }
  if (!selector_matches_labels(labels, it->labels))
    return false;
  if (selector_is_empty(fields))
    return true;
  json_t *obj = json_loads(it->json, 0, NULL);
  bool ok = obj && selector_matches_fields(fields, obj);
  json_decref(obj);
  return ok;
}

static int handle_list(registry *r, const type_info *ti, const char *version, const char *ns,
                       const api_request *req, api_response *resp) {
  selector *labels = NULL, *fields = NULL;
  const char *ls = api_request_query(req, "labelSelector");
  const char *fs = api_request_query(req, "fieldSelector");
  if ((ls && selector_parse_labels(ls, &labels)) ||
      (fs && selector_parse_fields(fs, field_labels, &fields))) {
    respond_text_status(resp, 400, "BadRequest", error_message());
    selector_free(labels);
    return 0;
  }
  int64_t limit = 0;
  const char *lq = api_request_query(req, "limit");
  if (lq && *lq && str_to_int64(lq, INT64_MIN, INT64_MAX, &limit))
    limit = 0;
  if (limit < 0)
    limit = 0;
  long long list_rv = r->rv;
  char *after = NULL;
  const char *cont = api_request_query(req, "continue");
  if (cont && *cont) {
    if (continue_parse(cont, &list_rv, &after)) {
      respond_text_status(resp, 400, "BadRequest", error_message());
      selector_free(labels);
      selector_free(fields);
      return 0;
    }
  }
  const char *fns = selector_field_equals(fields, "metadata.namespace");
  if (!ns && fns && ti->t.namespaced)
    ns = fns;
  collection *c = registry_collection(r, ti->resource, false);
  snapshot snap = {0};
  if (snapshot_at(r, c, ti->resource, list_rv, after, &snap)) {
    respond_text_status(resp, 410, "Expired",
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue "
                        "parameter.");
    free(snap.items);
    free(after);
    selector_free(labels);
    selector_free(fields);
    return 0;
  }
  bool table = registry_wants_table(req);
  bool rewrite = strcmp(version, ti->storage_version) != 0;
  buf items = BUF_INIT;
  json_t *rows = table ? json_array() : NULL;
  size_t shown = 0, i = 0;
  const char *last_key = NULL;
  bool more = false;
  for (i = 0; i < snap.count; i++) {
    const list_item *it = &snap.items[i];
    if (!item_matches(it, ns, labels, fields))
      continue;
    if (limit > 0 && shown == (size_t)limit) {
      more = true;
      break;
    }
    if (table) {
      json_t *obj = json_loads(it->json, 0, NULL);
      if (obj)
        json_array_append_new(rows, registry_table_row(ti, obj));
      json_decref(obj);
    } else {
      if (shown)
        buf_putc(&items, ',');
      char *rw = rewrite ? registry_object_for_version(ti, version, it->json) : NULL;
      buf_puts(&items, rw ? rw : it->json);
      free(rw);
    }
    last_key = it->key;
    shown++;
  }
  char *token = more && last_key ? continue_token(list_rv, last_key) : NULL;
  if (table) {
    char rvs[32];
    snprintf(rvs, sizeof(rvs), "%lld", list_rv);
    json_t *meta = json_pack("{s:s}", "resourceVersion", rvs);
    if (token)
      json_object_set_new(meta, "continue", json_string(token));
    json_t *t = json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", meta, "columnDefinitions",
                          registry_table_columns(ti), "rows", rows);
    api_respond_json(resp, 200, t);
    json_decref(t);
  } else {
    buf *out = &resp->body;
    buf_reset(out);
    buf_reserve(out, items.len + 256);
    char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
    buf_printf(out, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"",
               ti->t.list_kind, av ? av : "", list_rv);
    free(av);
    if (token)
      buf_printf(out, ",\"continue\":\"%s\"", token);
    if (token && selector_is_empty(labels) && selector_is_empty(fields)) {
      size_t remaining = 0;
      for (size_t k = i; k < snap.count; k++)
        remaining += item_matches(&snap.items[k], ns, NULL, NULL);
      buf_printf(out, ",\"remainingItemCount\":%zu", remaining);
    }
    buf_puts(out, "},\"items\":[");
    buf_append(out, items.data ? items.data : "", items.len);
    buf_puts(out, "]}");
    resp->status = 200;
    str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  }
  free(token);
  buf_free(&items);
  free(snap.items);
  free(after);
  selector_free(labels);
  selector_free(fields);
  return 0;
}

/* --- preparing writes ------------------------------------------------------------------ */

typedef enum { FV_WARN, FV_STRICT, FV_IGNORE } field_validation;

static field_validation field_validation_mode(const api_request *req) {
  const char *v = api_request_query(req, "fieldValidation");
  if (v && !strcmp(v, "Strict"))
    return FV_STRICT;
  if (v && !strcmp(v, "Ignore"))
    return FV_IGNORE;
  return FV_WARN;
}

/* Built-in checks beyond the schema. */
static void builtin_validate(const type_info *ti, json_t *obj, validate_errors *errs) {
  const char *kind = ti->t.kind;
  if (!ti->builtin)
    return;
  if (!strcmp(kind, "ConfigMap") || !strcmp(kind, "Secret")) {
    const char *fields[] = {"data", "binaryData", "stringData"};
    for (size_t f = 0; f < 3; f++) {
      const char *k;
      json_t *v;
      json_object_foreach(json_object_get(obj, fields[f]), k, v) {
        bool ok = *k && strlen(k) <= 253 && strcmp(k, ".") && strcmp(k, "..");
        for (const char *p = k; ok && *p; p++)
          ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
        if (!ok) {
          char *path = str_printf("%s[%s]", fields[f], k);
          json_t *kv = json_string(k);
          validate_errors_add(errs, FIELD_INVALID, path, kv,
                              "a valid config key must consist of alphanumeric characters, '-', "
                              "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
                              "used for validation is '[-._a-zA-Z0-9]+')");
          json_decref(kv);
          free(path);
        }
      }
    }
  }
  if (!strcmp(kind, "CustomResourceDefinition"))
    registry_crd_validate(obj, errs);
}

/* Secret: stringData is merged into data (base64) and dropped, as the API server does. */
static void secret_merge_string_data(json_t *obj) {
  json_t *sd = json_object_get(obj, "stringData");
  if (!json_is_object(sd)) {
    json_object_del(obj, "stringData");
    return;
  }
  json_t *data = json_object_get(obj, "data");
  if (!json_is_object(data)) {
    data = json_object();
    json_object_set_new(obj, "data", data);
  }
  const char *k;
  json_t *v;
  json_object_foreach(sd, k, v) {
    const char *s = json_string_value(v);
    if (!s)
      continue;
    char *enc = b64_encode(s, strlen(s));
    json_object_set_new(data, k, json_string(enc ? enc : ""));
    free(enc);
  }
  json_object_del(obj, "stringData");
  if (!json_object_get(obj, "type"))
    json_object_set_new(obj, "type", json_string("Opaque"));
}

/* Checks apiVersion/kind of the body against the URL (filling them in when absent).
 * Returns 0 or writes a 400 and returns 1. */
static int check_type_meta(const type_info *ti, const char *version, json_t *obj,
                           api_response *resp) {
  char *want_av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  const char *av = jpath_str(obj, "apiVersion");
  const char *kind = jpath_str(obj, "kind");
  int bad = 0;
  if (av && strcmp(av, want_av)) {
    char *msg = str_printf("the API version in the data (%s) does not match the expected API "
                           "version (%s)", av, want_av);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    bad = 1;
  } else if (kind && strcmp(kind, ti->t.kind)) {
    char *msg = str_printf("the kind in the data (%s) does not match the expected kind (%s)",
                           kind, ti->t.kind);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    bad = 1;
  } else {
    json_object_set_new(obj, "apiVersion", json_string(want_av));
    json_object_set_new(obj, "kind", json_string(ti->t.kind));
  }
  free(want_av);
  return bad;
}

/* Prunes, defaults and validates. On a problem writes the response and returns 1. */
/* Where standard base64 `s` first goes wrong (Go's "illegal base64 data at input byte
 * N"), or -1 when it is valid. */
static long base64_error_at(const char *s) {
  size_t n = strlen(s), i;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '=')
      break;
    if (!(isalnum((unsigned char)c) || c == '+' || c == '/'))
      return (long)i;
  }
  size_t pad = 0;
  for (; i < n; i++, pad++)
    if (s[i] != '=' || pad >= 2)
      return (long)i;
  if (n % 4)
    return (long)(n - n % 4 > 0 ? n - n % 4 : 0);
  return -1;
}

/* Secret data and ConfigMap binaryData are bytes: a value that is not base64 fails to
 * decode, which kube-apiserver reports as a 400. Returns 1 after answering. */
static int check_bytes_fields(const type_info *ti, const json_t *obj, api_response *resp) {
  if (!ti->builtin)
    return 0;
  const char *field = !strcmp(ti->t.kind, "Secret")      ? "data"
                      : !strcmp(ti->t.kind, "ConfigMap") ? "binaryData"
                                                         : NULL;
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(obj, field ? field : ""), k, v) {
    long at = json_is_string(v) ? base64_error_at(json_string_value(v)) : 0;
    if (at < 0)
      continue;
    char *msg = str_printf("%s in version \"%s\" cannot be handled as a %s: illegal base64 data "
                           "at input byte %ld", ti->t.kind, ti->t.version, ti->t.kind, at);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    return 1;
  }
  return 0;
}

static int prepare_object(const type_info *ti, json_t *obj, const api_request *req,
                          api_response *resp, const char *name, validate_errors *errs) {
  if (check_bytes_fields(ti, obj, resp))
    return 1;
  schema_result res = {0};
  schema_apply(obj, ti->t.schema, &res);
  field_validation fv = field_validation_mode(req);
  if (res.unknown_count && fv == FV_STRICT) {
    char *um = schema_unknown_message(&res);
    char *msg = str_printf("%s in version \"%s\" cannot be handled as a %s: %s", ti->t.kind,
                           ti->t.version, ti->t.kind, um);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    free(um);
    schema_result_free(&res);
    return 1;
  }
  if (res.unknown_count && fv == FV_WARN)
    for (size_t i = 0; i < res.unknown_count; i++)
      buf_printf(&resp->warnings, "unknown field \"%s\"\n", res.unknown[i]);
  for (size_t i = 0; i < res.errors.count; i++) {
    field_error *fe = &res.errors.items[i];
    validate_errors_add_raw(errs, fe->type, fe->field, fe->value, fe->detail);
  }
  schema_result_free(&res);
  (void)name;
  return 0;
}

/* The fields that make up "spec" for generation purposes: all but metadata and status. */
static bool spec_changed(const json_t *a, const json_t *b) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)a, k, v) {
    if (!strcmp(k, "metadata") || !strcmp(k, "status") || !strcmp(k, "apiVersion") ||
        !strcmp(k, "kind"))
      continue;
    if (!json_equal(v, json_object_get(b, k)))
      return true;
  }
  json_object_foreach((json_t *)b, k, v) {
    if (!strcmp(k, "metadata") || !strcmp(k, "status") || !strcmp(k, "apiVersion") ||
        !strcmp(k, "kind"))
      continue;
    if (!json_object_get(a, k))
      return true;
  }
  return false;
}

static void ns_not_found(api_response *resp, const char *ns) {
  char *msg = str_printf("namespaces \"%s\" not found", ns);
  api_respond_status(resp, 404, "NotFound", msg,
                     json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"));
  free(msg);
}

/* Namespaced writes need a live namespace. Returns 1 after answering when not. */
static int check_namespace(registry *r, const char *ns, api_response *resp, bool creating) {
  entry *e = namespace_entry(r, ns);
  if (!e) {
    ns_not_found(resp, ns);
    return 1;
  }
  if (creating && strstr(e->json, "\"deletionTimestamp\"")) {
    char *msg = str_printf("unable to create new content in namespace %s because it is being "
                           "terminated", ns);
    api_respond_status(resp, 403, "Forbidden", msg,
                       json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"));
    free(msg);
    return 1;
  }
  return 0;
}

static bool has_finalizers(const json_t *obj) {
  return json_array_size(jpath_get(obj, "metadata.finalizers")) > 0;
}

static int after_crd_change(registry *r);
static int namespace_maybe_finalize(registry *r, const char *ns);

/* --- create ------------------------------------------------------------------------------ */

/* Creates `obj` (owned; released here). Answers in every case. */
static int create_object(registry *r, const type_info *ti, const char *version, const char *ns,
                         json_t *obj, const api_request *req, api_response *resp) {
  int rc = 0;
  validate_errors errs = {0};
  char *key = NULL;
  if (check_type_meta(ti, version, obj, resp))
    goto done;
  if (!json_is_object(json_object_get(obj, "metadata")))
    json_object_set_new(obj, "metadata", json_object());
  json_t *meta = json_object_get(obj, "metadata");
  const char *body_ns = jpath_str(obj, "metadata.namespace");
  if (ti->t.namespaced) {
    if (body_ns && *body_ns && strcmp(body_ns, ns)) {
      respond_text_status(resp, 400, "BadRequest",
                          "the namespace of the provided object does not match the namespace "
                          "sent on the request");
      goto done;
    }
    json_object_set_new(meta, "namespace", json_string(ns));
  } else {
    json_object_del(meta, "namespace");
  }
  const char *gen = jpath_str(obj, "metadata.generateName");
  const char *name0 = jpath_str(obj, "metadata.name");
  if ((!name0 || !*name0) && gen && *gen) {
    char suffix[6];
    random_suffix(suffix);
    char *nm = str_printf("%s%s", gen, suffix);
    json_object_set_new(meta, "name", json_string(nm ? nm : ""));
    free(nm);
  }
  const char *name = jpath_str(obj, "metadata.name");
  if (prepare_object(ti, obj, req, resp, name, &errs))
    goto done;
  meta = json_object_get(obj, "metadata");
  validate_object_meta(obj, ti->t.namespaced, !strcmp(ti->t.kind, "Namespace") && ti->builtin,
                       &errs);
  builtin_validate(ti, obj, &errs);
  name = jpath_str(obj, "metadata.name");
  if (errs.count) {
    respond_invalid(resp, ti, name, &errs);
    goto done;
  }
  if (ti->t.namespaced && check_namespace(r, ns, resp, true))
    goto done;
  key = make_key(ti->t.namespaced ? ns : NULL, name);
  if (collection_find(registry_collection(r, ti->resource, true), key, NULL)) {
    char *res = qualified_resource(ti);
    char *m = str_printf("%s \"%s\" already exists", res, name);
    api_respond_status(resp, 409, "AlreadyExists", m, details(ti, name, NULL));
    free(m);
    free(res);
    goto done;
  }
  char uid[37];
  uuid_v4(uid);
  char *now = registry_now_rfc3339();
  json_object_set_new(meta, "uid", json_string(uid));
  json_object_set_new(meta, "creationTimestamp", json_string(now ? now : ""));
  free(now);
  json_object_del(meta, "deletionTimestamp");
  json_object_del(meta, "deletionGracePeriodSeconds");
  json_object_del(meta, "resourceVersion");
  json_object_del(meta, "selfLink");
  if (ti->generation)
    json_object_set_new(meta, "generation", json_integer(1));
  else
    json_object_del(meta, "generation");
  if (ti->t.has_status && ti->is_crd_served)
    json_object_del(obj, "status");
  if (ti->builtin && !strcmp(ti->t.kind, "Namespace")) {
    json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
    if (!jpath_get(obj, "spec.finalizers"))
      jpath_set(obj, "spec.finalizers", json_pack("[s]", "kubernetes"));
    jpath_set(obj, "metadata.labels.kubernetes\\.io/metadata\\.name", json_string(name));
  }
  if (ti->builtin && !strcmp(ti->t.kind, "Secret"))
    secret_merge_string_data(obj);
  if (ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition"))
    registry_crd_set_status(obj, NULL);
  if (dry_run(req)) {
    respond_json_object(resp, 201, ti, version, req, obj);
    goto done;
  }
  bool is_crd = ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition");
  if ((rc = commit_put(r, ti, key, obj, EV_ADDED)))
    goto done;
  respond_json_object(resp, 201, ti, version, req, obj);
  if (is_crd)
    rc = after_crd_change(r); /* ti is invalid from here on */
done:
  validate_errors_free(&errs);
  free(key);
  json_decref(obj);
  return rc;
}

static int handle_create(registry *r, const type_info *ti, const char *version, const char *ns,
                         const api_request *req, api_response *resp) {
  json_t *obj = NULL;
  char *msg = NULL;
  int st = registry_decode_body(req, &obj, &msg);
  if (st) {
    respond_text_status(resp, st,
                        st == 415   ? "UnsupportedMediaType"
                        : st == 413 ? "RequestEntityTooLarge"
                                    : "BadRequest",
                        msg);
    free(msg);
    return 0;
  }
  return create_object(r, ti, version, ns, obj, req, resp);
}

/* --- update and patch ----------------------------------------------------------------- */

/* Applies an update of `obj` (owned by the caller) over the stored `cur` entry.
 * `status_only`: the status subresource. Answers in every case. */
static int apply_update(registry *r, const type_info *ti, const char *version, const char *ns,
                        const char *name, const char *key, json_t *obj, const json_t *old,
                        bool status_only, const api_request *req, api_response *resp) {
  int rc = 0;
  validate_errors errs = {0};
  bool is_crd = ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition");
  bool is_ns = ti->builtin && !strcmp(ti->t.kind, "Namespace");
  if (check_type_meta(ti, version, obj, resp))
    goto done;
  if (!json_is_object(json_object_get(obj, "metadata")))
    json_object_set_new(obj, "metadata", json_object());
  const char *body_name = jpath_str(obj, "metadata.name");
  if (body_name && strcmp(body_name, name)) {
    char *msg = str_printf("the name of the object (%s) does not match the name on the URL (%s)",
                           body_name, name);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    goto done;
  }
  const char *body_ns = jpath_str(obj, "metadata.namespace");
  if (ti->t.namespaced && body_ns && *body_ns && strcmp(body_ns, ns)) {
    respond_text_status(resp, 400, "BadRequest",
                        "the namespace of the provided object does not match the namespace sent "
                        "on the request");
    goto done;
  }
  const char *want_rv = jpath_str(obj, "metadata.resourceVersion");
  if (want_rv && *want_rv && !str_eq(want_rv, jpath_str(old, "metadata.resourceVersion"))) {
    respond_conflict(resp, ti, name,
                     "the object has been modified; please apply your changes to the latest "
                     "version and try again");
    goto done;
  }
  if (prepare_object(ti, obj, req, resp, name, &errs))
    goto done;
  json_t *meta = json_object_get(obj, "metadata");
  if (status_only) {
    /* only status moves; everything else stays as stored */
    json_t *next = json_deep_copy(old);
    json_t *status = json_object_get(obj, "status");
    if (status)
      json_object_set(next, "status", status);
    else
      json_object_del(next, "status");
    json_decref(obj);
    obj = next;
    meta = json_object_get(obj, "metadata");
  } else if (ti->t.has_status) {
    json_t *old_status = json_object_get(old, "status");
    if (old_status)
      json_object_set(obj, "status", old_status);
    else
      json_object_del(obj, "status");
  }
  /* metadata the server owns */
  const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "namespace", "name"};
  const json_t *old_meta = json_object_get(old, "metadata");
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    json_t *v = json_object_get(old_meta, keep[i]);
    if (v)
      json_object_set(meta, keep[i], v);
    else
      json_object_del(meta, keep[i]);
  }
  if (json_object_get(old_meta, "deletionTimestamp")) {
    /* while deleting, finalizers may only go away */
    const json_t *nf = json_object_get(meta, "finalizers");
    size_t i;
    json_t *f;
    json_array_foreach(nf, i, f) {
      bool had = false;
      size_t j;
      json_t *of;
      json_array_foreach(json_object_get(old_meta, "finalizers"), j, of) had =
          had || json_equal(of, f);
      if (!had) {
        validate_errors_add(&errs, FIELD_FORBIDDEN, "metadata.finalizers", NULL,
                            "no new finalizers can be added if the object is being deleted, "
                            "found new finalizers %s",
                            json_string_value(f) ? json_string_value(f) : "");
        break;
      }
    }
  }
  if (ti->builtin && !strcmp(ti->t.kind, "Secret"))
    secret_merge_string_data(obj);
  if (ti->builtin && json_is_true(json_object_get(old, "immutable"))) {
    const char *fields[] = {"data", "binaryData", "immutable"};
    for (size_t i = 0; i < 3; i++)
      if (!json_equal(json_object_get(old, fields[i]), json_object_get(obj, fields[i])) &&
          (json_object_get(old, fields[i]) || json_object_get(obj, fields[i])))
        validate_errors_add(&errs, FIELD_FORBIDDEN, fields[i], NULL,
                            "field is immutable when `immutable` is set");
  }
  validate_object_meta(obj, ti->t.namespaced, is_ns, &errs);
  builtin_validate(ti, obj, &errs);
  if (errs.count) {
    respond_invalid(resp, ti, name, &errs);
    goto done;
  }
  if (is_crd && !status_only)
    registry_crd_set_status(obj, old);
  if (ti->generation && spec_changed(obj, old))
    json_object_set_new(meta, "generation",
                        json_integer(jpath_int(old, "metadata.generation", 1) + 1));
  json_object_set(meta, "resourceVersion", json_object_get(old_meta, "resourceVersion"));
  bool removing = json_object_get(old_meta, "deletionTimestamp") && !has_finalizers(obj);
  if (json_equal(obj, old) && !removing) { /* no-op: nothing written, rv unchanged */
    respond_json_object(resp, 200, ti, version, req, obj);
    goto done;
  }
  if (dry_run(req)) {
    respond_json_object(resp, 200, ti, version, req, obj);
    goto done;
  }
  if (removing) {
    if ((rc = commit_delete(r, ti, key, obj)))
      goto done;
    respond_json_object(resp, 200, ti, version, req, obj);
    if (is_crd)
      rc = after_crd_change(r);
    else if (ti->t.namespaced)
      rc = namespace_maybe_finalize(r, ns);
    else if (is_ns)
      rc = 0;
    goto done;
  }
  if ((rc = commit_put(r, ti, key, obj, EV_MODIFIED)))
    goto done;
  respond_json_object(resp, 200, ti, version, req, obj);
  if (is_crd)
    rc = after_crd_change(r);
done:
  validate_errors_free(&errs);
  json_decref(obj);
  return rc;
}

static int handle_update(registry *r, const type_info *ti, const char *version, const char *ns,
                         const char *name, bool status_only, const api_request *req,
                         api_response *resp) {
  json_t *obj = NULL;
  char *msg = NULL;
  int st = registry_decode_body(req, &obj, &msg);
  if (st) {
    respond_text_status(resp, st, st == 415 ? "UnsupportedMediaType" : st == 413 ? "RequestEntityTooLarge" : "BadRequest", msg);
    free(msg);
    return 0;
  }
  const char *body_name = jpath_str(obj, "metadata.name");
  if (body_name && strcmp(body_name, name)) {
    msg = str_printf("the name of the object (%s) does not match the name on the URL (%s)",
                     body_name, name);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    json_decref(obj);
    return 0;
  }
  char *key = make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  if (!e) {
    respond_not_found(resp, ti, name);
    json_decref(obj);
    free(key);
    return 0;
  }
  json_t *old = load_entry(e);
  int rc = apply_update(r, ti, version, ns, name, key, obj, old, status_only, req, resp);
  json_decref(old);
  free(key);
  return rc;
}

static bool media_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return ct && !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';');
}

/* The managedFields entry of `manager` for Apply in `obj`, or NULL. Borrowed. */
static json_t *applied_fields_of(const json_t *obj, const char *manager) {
  size_t i;
  json_t *mf;
  json_array_foreach(jpath_get(obj, "metadata.managedFields"), i, mf) {
    if (str_eq(jpath_str(mf, "manager"), manager) && str_eq(jpath_str(mf, "operation"), "Apply"))
      return mf;
  }
  return NULL;
}

/* Records `set` as what `manager` applies, replacing its previous entry. */
static void set_applied_fields(json_t *obj, const char *manager, const char *api_version,
                               json_t *set /* stolen */) {
  json_t *meta = json_object_get(obj, "metadata");
  json_t *list = json_object_get(meta, "managedFields");
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(meta, "managedFields", list);
  }
  for (size_t i = json_array_size(list); i-- > 0;) {
    json_t *mf = json_array_get(list, i);
    if (str_eq(jpath_str(mf, "manager"), manager) && str_eq(jpath_str(mf, "operation"), "Apply"))
      json_array_remove(list, i);
  }
  char *now = registry_now_rfc3339();
  json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "manager", manager,
                                        "operation", "Apply", "apiVersion", api_version, "time",
                                        now ? now : "", "fieldsType", "FieldsV1", "fieldsV1", set));
  free(now);
}

/* Server-side apply (application/apply-patch+yaml), simplified: creates the object when
 * missing; otherwise removes the fields this field manager applied before and no longer
 * does, then merges the applied configuration (maps merge, lists as in a strategic merge
 * patch). Ownership conflicts between managers are not detected: every apply acts as
 * with force=true. */
static int handle_apply(registry *r, const type_info *ti, const char *version, const char *ns,
                        const char *name, bool status_only, const api_request *req,
                        api_response *resp) {
  const char *manager = api_request_query(req, "fieldManager");
  if (!manager || !*manager) {
    validate_errors errs = {0};
    validate_errors_add(&errs, FIELD_REQUIRED, "fieldManager", NULL, "is required for apply patch");
    json_t *d = NULL;
    char *msg = validate_errors_message(&errs, "PatchOptions.meta.k8s.io", "", "meta.k8s.io",
                                        "PatchOptions", &d);
    api_respond_status(resp, 422, "Invalid", msg, d);
    free(msg);
    validate_errors_free(&errs);
    return 0;
  }
  json_t *applied = NULL;
  char *msg = NULL;
  if (req->body_len > API_MAX_BODY) {
    respond_text_status(resp, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
    return 0;
  }
  if (registry_yaml_to_json(req->body ? req->body : "", req->body_len, &applied, &msg) ||
      !json_is_object(applied)) {
    respond_text_status(resp, 400, "BadRequest", msg ? msg : "apply patch must be an object");
    free(msg);
    json_decref(applied);
    return 0;
  }
  const char *body_name = jpath_str(applied, "metadata.name");
  if (body_name && strcmp(body_name, name)) {
    msg = str_printf("the name of the object (%s) does not match the name on the URL (%s)",
                     body_name, name);
    respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    json_decref(applied);
    return 0;
  }
  char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  json_t *set = patch_apply_fieldset(applied);
  char *key = make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  int rc = 0;
  if (!e) {
    if (status_only) {
      respond_not_found(resp, ti, name);
      json_decref(applied);
      json_decref(set);
    } else {
      jpath_set(applied, "metadata.name", json_string(name));
      set_applied_fields(applied, manager, av ? av : version, set);
      rc = create_object(r, ti, version, ns, applied, req, resp);
    }
  } else {
    json_t *old = load_entry(e);
    json_t *doc = json_deep_copy(old);
    json_t *prev = applied_fields_of(old, manager);
    if (prev)
      patch_apply_prune(doc, json_object_get(prev, "fieldsV1"), set);
    json_object_del(applied, "apiVersion");
    json_object_del(applied, "kind");
    json_t *meta = json_object_get(applied, "metadata");
    const char *drop[] = {"resourceVersion", "managedFields", "uid", "creationTimestamp"};
    for (size_t i = 0; meta && i < sizeof(drop) / sizeof(drop[0]); i++)
      json_object_del(meta, drop[i]);
    patch_strategic(&doc, applied);
    set_applied_fields(doc, manager, av ? av : version, set);
    rc = apply_update(r, ti, version, ns, name, key, doc, old, status_only, req, resp);
    json_decref(old);
    json_decref(applied);
  }
  free(key);
  free(av);
  return rc;
}

static int handle_patch(registry *r, const type_info *ti, const char *version, const char *ns,
                        const char *name, bool status_only, const api_request *req,
                        api_response *resp) {
  const char *ct = req->content_type;
  int kind = media_is(ct, "application/merge-patch+json")          ? 1
             : media_is(ct, "application/json-patch+json")         ? 2
             : media_is(ct, "application/strategic-merge-patch+json") ? 3
             : media_is(ct, "application/apply-patch+yaml")        ? 4
                                                                    : 0;
  if (kind == 4)
    return handle_apply(r, ti, version, ns, name, status_only, req, resp);
  if (kind == 0 || (kind == 3 && ti->is_crd_served)) {
    respond_text_status(resp, 415, "UnsupportedMediaType",
                        ti->is_crd_served
                            ? "the body of the request was in an unknown format - accepted media "
                              "types include: application/json-patch+json, "
                              "application/merge-patch+json, application/apply-patch+yaml"
                            : "the body of the request was in an unknown format - accepted media "
                              "types include: application/json-patch+json, "
                              "application/merge-patch+json, application/apply-patch+yaml, "
                              "application/strategic-merge-patch+json");
    return 0;
  }
  if (req->body_len > API_MAX_BODY) {
    respond_text_status(resp, 413, "RequestEntityTooLarge",
                        "Request entity too large: limit is 3145728");
    return 0;
  }
  json_error_t jerr;
  json_t *patch = json_loadb(req->body ? req->body : "", req->body_len, JSON_DECODE_ANY, &jerr);
  if (!patch) {
    char *m = str_printf("error decoding patch: %s", jerr.text);
    respond_text_status(resp, 400, "BadRequest", m);
    free(m);
    return 0;
  }
  char *key = make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  if (!e) {
    respond_not_found(resp, ti, name);
    json_decref(patch);
    free(key);
    return 0;
  }
  json_t *old = load_entry(e);
  json_t *doc = json_deep_copy(old);
  int prc = kind == 1 ? (json_is_object(patch) ? patch_merge(&doc, patch)
                                               : error_set(ERR_INVALID, "merge patch must be a "
                                                                        "JSON object"))
            : kind == 2 ? patch_json(&doc, patch)
                        : patch_strategic(&doc, patch);
  int rc = 0;
  if (prc == ERR_CONFLICT) {
    char *m = str_printf("the server rejected our request due to an error in our request: %s",
                         error_message());
    respond_text_status(resp, 422, "Invalid", m);
    free(m);
    json_decref(doc);
  } else if (prc) {
    respond_text_status(resp, 400, "BadRequest", error_message());
    json_decref(doc);
  } else if (!json_is_object(doc)) {
    respond_text_status(resp, 400, "BadRequest", "the patched object is not a JSON object");
    json_decref(doc);
  } else {
    rc = apply_update(r, ti, version, ns, name, key, doc, old, status_only, req, resp);
  }
  json_decref(old);
  json_decref(patch);
  free(key);
  return rc;
}

/* --- delete ------------------------------------------------------------------------------ */

/* Deletes every namespaced object in a terminating namespace; removes the namespace when
 * nothing is left (objects with finalizers keep it until they go). */
static int namespace_maybe_finalize(registry *r, const char *ns) {
  entry *ne = namespace_entry(r, ns);
  if (!ne || !strstr(ne->json, "\"deletionTimestamp\""))
    return 0;
  size_t n = strlen(ns);
  for (size_t i = 0; i < r->coll_count; i++) {
    collection *c = r->colls[i];
    size_t pos;
    char *prefix = str_printf("%s/", ns);
    collection_find(c, prefix, &pos);
    free(prefix);
    if (pos < c->count && !strncmp(c->items[pos]->key, ns, n) && c->items[pos]->key[n] == '/')
      return 0;
  }
  const type_info *ti = registry_find_type(r, "", "v1", "namespaces");
  json_t *obj = load_entry(ne);
  int rc = obj ? commit_delete(r, ti, ns, obj) : 0;
  json_decref(obj);
  return rc;
}

/* Marks or removes one object. Sets *removed. `obj` is its current state (modified). */
static int delete_object(registry *r, const type_info *ti, const char *key, json_t *obj,
                         bool *removed) {
  *removed = false;
  if (has_finalizers(obj) || (ti->builtin && !strcmp(ti->t.kind, "Namespace"))) {
    if (jpath_get(obj, "metadata.deletionTimestamp"))
      return 0;
    char *now = registry_now_rfc3339();
    jpath_set(obj, "metadata.deletionTimestamp", json_string(now ? now : ""));
    jpath_set(obj, "metadata.deletionGracePeriodSeconds", json_integer(0));
    free(now);
    if (ti->builtin && !strcmp(ti->t.kind, "Namespace"))
      jpath_set(obj, "status.phase", json_string("Terminating"));
    return commit_put(r, ti, key, obj, EV_MODIFIED);
  }
  *removed = true;
  return commit_delete(r, ti, key, obj);
}

/* Deletes the contents of a namespace that started terminating. */
static int namespace_delete_contents(registry *r, const char *ns) {
  size_t n = strlen(ns);
  for (size_t i = 0; i < r->coll_count; i++) {
    collection *c = r->colls[i];
    const type_info *ti = registry_find_type_by_resource(r, c->resource);
    if (!ti || !ti->t.namespaced)
      continue;
    char *prefix = str_printf("%s/", ns);
    size_t pos;
    collection_find(c, prefix, &pos);
    free(prefix);
    while (pos < c->count && !strncmp(c->items[pos]->key, ns, n) && c->items[pos]->key[n] == '/') {
      entry *e = c->items[pos];
      char *key = str_dup(e->key);
      json_t *obj = load_entry(e);
      bool removed = false;
      int rc = obj ? delete_object(r, ti, key, obj, &removed) : 0;
      json_decref(obj);
      free(key);
      if (rc)
        return rc;
      if (!removed)
        pos++;
    }
  }
  return namespace_maybe_finalize(r, ns);
}

static int check_preconditions(const type_info *ti, const char *name, const json_t *opts,
                               const json_t *obj, api_response *resp) {
  const char *uid = jpath_str(opts, "preconditions.uid");
  const char *rv = jpath_str(opts, "preconditions.resourceVersion");
  const char *have_uid = jpath_str(obj, "metadata.uid");
  const char *have_rv = jpath_str(obj, "metadata.resourceVersion");
  char *why = NULL;
  if (uid && !str_eq(uid, have_uid))
    why = str_printf("Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
                     have_uid ? have_uid : "");
  else if (rv && !str_eq(rv, have_rv))
    why = str_printf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion "
                     "in object meta: %s", rv, have_rv ? have_rv : "");
  if (!why)
    return 0;
  respond_conflict(resp, ti, name, why);
  free(why);
  return 1;
}

static int handle_delete(registry *r, const type_info *ti, const char *version, const char *ns,
                         const char *name, const api_request *req, api_response *resp) {
  json_t *opts = NULL;
  if (req->body_len) {
    char *msg = NULL;
    if (registry_decode_body(req, &opts, &msg)) {
      respond_text_status(resp, 400, "BadRequest", msg);
      free(msg);
      return 0;
    }
  }
  char *key = make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  int rc = 0;
  json_t *obj = load_entry(e);
  bool is_crd = ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition");
  bool is_ns = ti->builtin && !strcmp(ti->t.kind, "Namespace");
  if (!obj) {
    respond_not_found(resp, ti, name);
    goto done;
  }
  if (check_preconditions(ti, name, opts, obj, resp))
    goto done;
  if (is_ns && !strcmp(name, "default")) {
    api_respond_status(resp, 403, "Forbidden",
                       "namespaces \"default\" is forbidden: this namespace may not be deleted",
                       json_pack("{s:s, s:s}", "name", "default", "kind", "namespaces"));
    goto done;
  }
  const char *pp = jpath_str(opts, "propagationPolicy");
  if (!pp)
    pp = api_request_query(req, "propagationPolicy");
  if (pp && strcmp(pp, "Foreground") && strcmp(pp, "Background") && strcmp(pp, "Orphan")) {
    validate_errors errs = {0};
    json_t *pv = json_string(pp);
    validate_errors_add(&errs, FIELD_NOT_SUPPORTED, "propagationPolicy", pv,
                        "supported values: \"Foreground\", \"Background\", \"Orphan\"");
    json_decref(pv);
    respond_invalid(resp, ti, name, &errs);
    validate_errors_free(&errs);
    goto done;
  }
  if (dry_run(req) || (opts && str_eq(jpath_str(opts, "dryRun.0"), "All"))) {
    respond_json_object(resp, 200, ti, version, req, obj);
    goto done;
  }
  if (is_crd) {
    /* remove every object of every version of this CRD, then the CRD */
    const char *group = jpath_str(obj, "spec.group");
    const char *plural = jpath_str(obj, "spec.names.plural");
    char *resource = group && plural ? str_printf("%s.%s", plural, group) : NULL;
    collection *c = resource ? registry_collection(r, resource, false) : NULL;
    const type_info *cti = resource ? registry_find_type_by_resource(r, resource) : NULL;
    if (c && cti) {
      while (c->count && !rc) {
        entry *ce = c->items[c->count - 1];
        char *ckey = str_dup(ce->key);
        json_t *cobj = load_entry(ce);
        rc = cobj ? commit_delete(r, cti, ckey, cobj) : ERR_NOMEM;
        json_decref(cobj);
        free(ckey);
      }
    }
    if (resource) {
      store_delete_resource(r->store, resource, r->rv);
      registry_watchers_end(r, resource);
    }
    free(resource);
    if (rc)
      goto done;
  }
  bool removed = false;
  if ((rc = delete_object(r, ti, key, obj, &removed)))
    goto done;
  if (ti->is_crd_served || is_crd || is_ns || !removed) {
    respond_json_object(resp, 200, ti, version, req, obj);
  } else {
    json_t *d = details(ti, name, ti->t.plural);
    json_object_set_new(d, "uid", json_string(jpath_str(obj, "metadata.uid") ? jpath_str(obj, "metadata.uid") : ""));
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Success", "details", d);
    api_respond_json(resp, 200, st);
    json_decref(st);
  }
  if (is_ns && !removed)
    rc = namespace_delete_contents(r, name);
  else if (removed && ti->t.namespaced)
    rc = namespace_maybe_finalize(r, ns);
  if (!rc && is_crd)
    rc = after_crd_change(r);
done:
  json_decref(obj);
  json_decref(opts);
  free(key);
  return rc;
}

static int handle_delete_collection(registry *r, const type_info *ti, const char *version,
                                    const char *ns, const api_request *req, api_response *resp) {
  selector *labels = NULL, *fields = NULL;
  const char *ls = api_request_query(req, "labelSelector");
  const char *fs = api_request_query(req, "fieldSelector");
  if ((ls && selector_parse_labels(ls, &labels)) ||
      (fs && selector_parse_fields(fs, field_labels, &fields))) {
    respond_text_status(resp, 400, "BadRequest", error_message());
    selector_free(labels);
    return 0;
  }
  collection *c = registry_collection(r, ti->resource, true);
  char **keys = calloc(c->count + 1, sizeof(char *));
  size_t nk = 0;
  for (size_t i = 0; keys && i < c->count; i++) {
    list_item it = {c->items[i]->key, c->items[i]->json, c->items[i]->labels};
    if (item_matches(&it, ns, labels, fields))
      keys[nk++] = str_dup(c->items[i]->key);
  }
  int rc = 0;
  buf items = BUF_INIT;
  for (size_t i = 0; i < nk; i++) {
    entry *e = collection_find(c, keys[i], NULL);
    json_t *obj = load_entry(e);
    bool removed;
    if (obj && !dry_run(req) && !rc)
      rc = delete_object(r, ti, keys[i], obj, &removed);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (text) {
      buf_printf(&items, "%s%s", items.len ? "," : "", text);
      free(text);
    }
    json_decref(obj);
    free(keys[i]);
  }
  free(keys);
  char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  buf_reset(&resp->body);
  buf_printf(&resp->body, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"},\"items\":[%s]}",
             ti->t.list_kind, av ? av : "", r->rv, buf_cstr(&items));
  resp->status = 200;
  str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  free(av);
  buf_free(&items);
  if (!rc && ns)
    rc = namespace_maybe_finalize(r, ns);
  selector_free(labels);
  selector_free(fields);
  return rc;
}

/* After a CRD was written or removed: rebuild the served types; end watches on
 * resources that went away. */
static int after_crd_change(registry *r) {
  int rc = registry_types_rebuild(r);
  for (size_t i = 0; i < r->coll_count; i++) {
    collection *c = r->colls[i];
    if (!registry_find_type_by_resource(r, c->resource))
      registry_watchers_end(r, c->resource);
  }
  return rc;
}

/* --- the handler ------------------------------------------------------------------------ */

static bool is_health(const char *path) {
  return !strcmp(path, "/healthz") || !strcmp(path, "/readyz") || !strcmp(path, "/livez") ||
         str_has_prefix(path, "/healthz/") || str_has_prefix(path, "/readyz/") ||
         str_has_prefix(path, "/livez/");
}

static int dispatch(registry *r, const api_request *req, api_response *resp) {
  const char *method = req->method ? req->method : "GET";
  if (is_health(req->path)) {
    resp->status = 200;
    str_copy(resp->content_type, "text/plain; charset=utf-8", sizeof(resp->content_type));
    buf_reset(&resp->body);
    buf_puts(&resp->body, "ok");
    return 0;
  }
  if (discovery_serve(req, resp, r->types, r->type_count))
    return 0;
  if (openapi_serve(req, resp, r->types, r->type_count))
    return 0;
  route rt;
  bool ok = route_parse(req->path, &rt);
  const type_info *ti = ok ? registry_find_type(r, rt.group, rt.version, rt.resource) : NULL;
  int rc = 0;
  if (!ti || (rt.ns && !ti->t.namespaced)) {
    respond_text_status(resp, 404, "NotFound", "the server could not find the requested resource");
    goto done;
  }
  const char *ns = ti->t.namespaced ? rt.ns : NULL;
  if (rt.sub && strcmp(rt.sub, "status") &&
      !(ti->builtin && !strcmp(ti->t.kind, "Namespace") && !strcmp(rt.sub, "finalize"))) {
    respond_text_status(resp, 404, "NotFound", "the server could not find the requested resource");
    goto done;
  }
  if (rt.sub && !ti->t.has_status && !strcmp(rt.sub, "status")) {
    respond_text_status(resp, 404, "NotFound", "the server could not find the requested resource");
    goto done;
  }
  bool status_only = rt.sub != NULL;
  bool watch = rt.watch || query_true(req, "watch");
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
    if (watch) {
      rc = registry_serve_watch(r, ti, rt.version, ns, rt.name, req, resp);
    } else if (rt.name) {
      char *key = make_key(ns, rt.name);
      entry *e = ti->t.namespaced && !ns ? NULL
                                         : collection_find(registry_collection(r, ti->resource, true), key, NULL);
      if (e)
        respond_object(resp, 200, ti, rt.version, req, e->json, e->len);
      else
        respond_not_found(resp, ti, rt.name);
      free(key);
    } else {
      rc = handle_list(r, ti, rt.version, ns, req, resp);
    }
  } else if (!strcmp(method, "POST")) {
    if (rt.name || watch || (ti->t.namespaced && !ns))
      respond_method_not_allowed(resp);
    else
      rc = handle_create(r, ti, rt.version, ns, req, resp);
  } else if (!strcmp(method, "PUT")) {
    if (!rt.name || (ti->t.namespaced && !ns))
      respond_method_not_allowed(resp);
    else
      rc = handle_update(r, ti, rt.version, ns, rt.name, status_only && strcmp(rt.sub, "finalize"), req, resp);
  } else if (!strcmp(method, "PATCH")) {
    if (!rt.name || (ti->t.namespaced && !ns))
      respond_method_not_allowed(resp);
    else
      rc = handle_patch(r, ti, rt.version, ns, rt.name, status_only, req, resp);
  } else if (!strcmp(method, "DELETE")) {
    if (rt.sub || (ti->t.namespaced && !ns && rt.name))
      respond_method_not_allowed(resp);
    else if (rt.name)
      rc = handle_delete(r, ti, rt.version, ns, rt.name, req, resp);
    else
      rc = handle_delete_collection(r, ti, rt.version, ns, req, resp);
  } else {
    respond_method_not_allowed(resp);
  }
done:
  route_free(&rt);
  return rc;
}

int registry_handle(void *ctx, const api_request *req, api_response *resp) {
  registry *r = ctx;
  int rc = dispatch(r, req, resp);
  if (rc)
    log_error(NULL, "registry: %s %s: %s", req->method, req->path, error_message());
  return rc;
}
