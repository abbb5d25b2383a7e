/*
 * registry: the store-backed cache, commits and routing of the standalone API server (see
 * registry.h). Reads live in registry_list.c, writes in registry_write.c, watches in
 * registry_watch.c, served types in registry_types.c.
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

void registry_uuid_v4(char out[37]) {
  unsigned char b[16];
  random_bytes(b, sizeof(b));
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
           b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
           b[15]);
}

/* generateName suffix: 5 characters from the alphabet Kubernetes uses (no vowels). */
void registry_random_suffix(char out[6]) {
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  unsigned char b[5];
  random_bytes(b, sizeof(b));
  for (int i = 0; i < 5; i++)
    out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
  out[5] = 0;
}

char *registry_make_key(const char *ns, const char *name) {
  return ns ? str_printf("%s/%s", ns, name) : str_dup(name);
}

/* "configmaps" or "widgets.example.com": how messages name a resource. */
char *registry_qualified_resource(const type_info *ti) { return str_dup(ti->resource); }

/* "ConfigMap" or "Widget.example.com": how Invalid messages name a kind. */
char *registry_qualified_kind(const type_info *ti) {
  return *ti->t.group ? str_printf("%s.%s", ti->t.kind, ti->t.group) : str_dup(ti->t.kind);
}

json_t *registry_details(const type_info *ti, const char *name, const char *kind) {
  json_t *d = json_object();
  if (name)
    json_object_set_new(d, "name", json_string(name));
  if (*ti->t.group)
    json_object_set_new(d, "group", json_string(ti->t.group));
  json_object_set_new(d, "kind", json_string(kind ? kind : ti->t.plural));
  return d;
}

void registry_respond_not_found(api_response *resp, const type_info *ti, const char *name) {
  char *res = registry_qualified_resource(ti);
  char *msg = str_printf("%s \"%s\" not found", res, name);
  api_respond_status(resp, 404, "NotFound", msg, registry_details(ti, name, NULL));
  free(msg);
  free(res);
}

void registry_respond_conflict(api_response *resp, const type_info *ti, const char *name,
                             const char *why) {
  char *res = registry_qualified_resource(ti);
  char *msg = str_printf("Operation cannot be fulfilled on %s \"%s\": %s", res, name, why);
  api_respond_status(resp, 409, "Conflict", msg, registry_details(ti, name, NULL));
  free(msg);
  free(res);
}

void registry_respond_invalid(api_response *resp, const type_info *ti, const char *name,
                            const validate_errors *errs) {
  char *kg = registry_qualified_kind(ti);
  json_t *d = NULL;
  char *msg = validate_errors_message(errs, kg, name, ti->t.group, ti->t.kind, &d);
  api_respond_status(resp, 422, "Invalid", msg, d);
  free(msg);
  free(kg);
}

void registry_respond_text_status(api_response *resp, int code, const char *reason,
                                const char *message) {
  api_respond_status(resp, code, reason, message, NULL);
}

static void respond_method_not_allowed(api_response *resp) {
  registry_respond_text_status(resp, 405, "MethodNotAllowed",
                      "the server does not allow this method on the requested resource");
}

void registry_respond_raw_json(api_response *resp, int code, const char *json, size_t len) {
  resp->status = code;
  str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  buf_reset(&resp->body);
  buf_append(&resp->body, json, len);
}

static bool query_true(const api_request *req, const char *name) {
  const char *v = api_request_query(req, name);
  return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

bool registry_dry_run(const api_request *req) {
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
int registry_commit_put(registry *r, const type_info *ti, const char *key, json_t *obj,
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
int registry_commit_delete(registry *r, const type_info *ti, const char *key, json_t *last) {
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

json_t *registry_load_entry(const entry *e) { return e ? json_loads(e->json, 0, NULL) : NULL; }

entry *registry_namespace_entry(registry *r, const char *ns) {
  return collection_find(registry_collection(r, "namespaces", true), ns, NULL);
}

static int ensure_default_namespace(registry *r) {
  if (registry_namespace_entry(r, "default"))
    return 0;
  const type_info *ti = registry_find_type(r, "", "v1", "namespaces");
  char uid[37];
  registry_uuid_v4(uid);
  char *now = registry_now_rfc3339();
  json_t *ns = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}}, s:{s:[s]}, s:{s:s}}", "kind",
                         "Namespace", "apiVersion", "v1", "metadata", "name", "default", "uid",
                         uid, "creationTimestamp", now, "labels", "kubernetes.io/metadata.name",
                         "default", "spec", "finalizers", "kubernetes", "status", "phase",
                         "Active");
  free(now);
  int rc = registry_commit_put(r, ti, "default", ns, EV_ADDED);
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
  /* PORTICO_WATCH_HISTORY overrides the default history window (tests of 410 Gone) */
  const char *env = getenv("PORTICO_WATCH_HISTORY");
  int64_t n;
  if (!r->options.watch_history && env && !str_to_int64(env, 1, 10000000, &n))
    r->options.watch_history = (size_t)n;
  int rc = store_open(&r->store, data_dir);
  if (rc)
    goto fail;
  r->rv = store_revision(r->store);
  r->compacted_rv = r->rv; /* history starts empty: nothing older can be replayed */
  if ((rc = store_load(r->store, load_one, r)) || (rc = registry_types_rebuild(r)) ||
      (rc = ensure_default_namespace(r)))
    goto fail;
  registry_namespace_sweep_schedule(r); /* a namespace may have been terminating at the stop */
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
  registry_namespace_sweep_close(r);
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
    registry_respond_text_status(resp, 404, "NotFound", "the server could not find the requested resource");
    goto done;
  }
  const char *ns = ti->t.namespaced ? rt.ns : NULL;
  if (rt.sub && strcmp(rt.sub, "status") &&
      !(ti->builtin && !strcmp(ti->t.kind, "Namespace") && !strcmp(rt.sub, "finalize"))) {
    registry_respond_text_status(resp, 404, "NotFound", "the server could not find the requested resource");
    goto done;
  }
  if (rt.sub && !ti->t.has_status && !strcmp(rt.sub, "status")) {
    registry_respond_text_status(resp, 404, "NotFound", "the server could not find the requested resource");
    goto done;
  }
  bool status_only = rt.sub != NULL;
  bool watch = rt.watch || query_true(req, "watch");
  if (!strcmp(method, "GET") || !strcmp(method, "HEAD")) {
    if (watch) {
      rc = registry_serve_watch(r, ti, rt.version, ns, rt.name, req, resp);
    } else if (rt.name) {
      char *key = registry_make_key(ns, rt.name);
      entry *e = ti->t.namespaced && !ns ? NULL
                                         : collection_find(registry_collection(r, ti->resource, true), key, NULL);
      if (e)
        registry_respond_object(resp, 200, ti, rt.version, req, e->json, e->len);
      else
        registry_respond_not_found(resp, ti, rt.name);
      free(key);
    } else {
      rc = registry_handle_list(r, ti, rt.version, ns, req, resp);
    }
  } else if (!strcmp(method, "POST")) {
    if (rt.name || watch || (ti->t.namespaced && !ns))
      respond_method_not_allowed(resp);
    else
      rc = registry_handle_create(r, ti, rt.version, ns, req, resp);
  } else if (!strcmp(method, "PUT")) {
    if (!rt.name || (ti->t.namespaced && !ns))
      respond_method_not_allowed(resp);
    else
      rc = registry_handle_update(r, ti, rt.version, ns, rt.name, status_only && strcmp(rt.sub, "finalize"), req, resp);
  } else if (!strcmp(method, "PATCH")) {
    if (!rt.name || (ti->t.namespaced && !ns))
      respond_method_not_allowed(resp);
    else
      rc = registry_handle_patch(r, ti, rt.version, ns, rt.name, status_only, req, resp);
  } else if (!strcmp(method, "DELETE")) {
    if (rt.sub || (ti->t.namespaced && !ns && rt.name))
      respond_method_not_allowed(resp);
    else if (rt.name)
      rc = registry_handle_delete(r, ti, rt.version, ns, rt.name, req, resp);
    else
      rc = registry_handle_delete_collection(r, ti, rt.version, ns, req, resp);
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
