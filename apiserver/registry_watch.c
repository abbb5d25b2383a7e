/*
 * registry_watch: the event history and the watch streams.
 *
 * Every write appends an event (rv, type, object after and before) to a bounded ring
 * (registry_options.watch_history). A watch from resourceVersion N replays the events
 * after N from the ring and then follows live writes; when N is older than the ring
 * (compacted away) the stream carries one ERROR event with a 410 Expired Status, as
 * kube-apiserver sends "too old resource version". A watch without a resourceVersion (or
 * "0") starts with a synthetic ADDED event per existing object.
 *
 * Framing: one JSON object per line, {"type":"ADDED","object":{...}}. A label selector is
 * applied to the object before and after a write, so an object that stops matching is
 * reported DELETED and one that starts matching ADDED, as the watch cache does.
 *
 * Each watch owns one uv timer that sends BOOKMARK events (allowWatchBookmarks) and ends
 * the stream at timeoutSeconds. A watcher is freed only from its stream's on_close
 * callback (after its timer is closed), so nothing dangles whoever ends the stream.
 */
#include "apiserver/registry_internal.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/jpath.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

#define WATCH_DEFAULT_TIMEOUT_S 1800
#define WATCH_MAX_TIMEOUT_S 86400

struct watcher {
  registry *reg; /* NULL once the registry let go of it */
  api_stream *stream;
  char *resource, *group, *version, *plural;
  char *ns;   /* NULL: every namespace */
  char *name; /* NULL: every object */
  selector *labels, *fields;
  bool bookmarks, table, table_columns_sent;
  uv_timer_t timer;
  uint64_t deadline_ms, interval_ms;
  watcher *next;
};

/* --- history --------------------------------------------------------------------------- */

static void event_free(event *e) {
  free(e->resource);
  free(e->key);
  free(e->json);
  free(e->prev);
  json_decref(e->labels);
  json_decref(e->prev_labels);
  memset(e, 0, sizeof(*e));
}

void registry_history_free(registry *r) {
  for (size_t i = 0; i < r->ring_count; i++)
    event_free(&r->ring[(r->ring_start + i) % r->ring_cap]);
  free(r->ring);
  r->ring = NULL;
  r->ring_count = r->ring_start = 0;
}

const event *registry_history_at(const registry *r, size_t i) {
  return &r->ring[(r->ring_start + i) % r->ring_cap];
}

int registry_history_since(const registry *r, long long rv, size_t *first, size_t *count) {
  if (rv < r->compacted_rv)
    return error_set(ERR_GONE, "too old resource version: %lld (%lld)", rv, r->compacted_rv + 1);
  size_t lo = 0, hi = r->ring_count; /* first event with rv > given */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (registry_history_at(r, mid)->rv <= rv)
      lo = mid + 1;
    else
      hi = mid;
  }
  *first = lo;
  *count = r->ring_count - lo;
  return 0;
}

char *registry_object_for_version(const type_info *ti, const char *version, const char *json) {
  if (!version || !strcmp(version, ti->storage_version))
    return NULL;
  json_t *obj = json_loads(json, 0, NULL);
  if (!obj)
    return NULL;
  char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  json_object_set_new(obj, "apiVersion", json_string(av ? av : version));
  free(av);
  char *out = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  return out;
}

/* --- sending --------------------------------------------------------------------------- */

static const char *event_name(event_type t) {
  return t == EV_ADDED ? "ADDED" : t == EV_MODIFIED ? "MODIFIED" : "DELETED";
}

/* Writes one event line; the stream may close under us (ERR_LIMIT/ERR_IO): then the
 * transport calls on_close and we stop. */
static int watcher_write(watcher *w, const char *type, const char *json) {
  const type_info *ti = w->reg ? registry_find_type(w->reg, w->group, w->version, w->plural) : NULL;
  buf line = BUF_INIT;
  char *rewritten = NULL;
  if (ti && w->table && strcmp(type, "BOOKMARK") && strcmp(type, "ERROR")) {
    json_t *obj = json_loads(json, 0, NULL);
    json_t *rows = json_array();
    if (obj)
      json_array_append_new(rows, registry_table_row(ti, obj));
    json_t *table = json_pack("{s:s, s:s, s:{s:s?}, s:o, s:o}", "kind", "Table", "apiVersion",
                              "meta.k8s.io/v1", "metadata", "resourceVersion",
                              jpath_str(obj, "metadata.resourceVersion"), "columnDefinitions",
                              w->table_columns_sent ? json_array() : registry_table_columns(ti),
                              "rows", rows);
    w->table_columns_sent = true;
    rewritten = json_dumps(table, JSON_COMPACT);
    json_decref(table);
    json_decref(obj);
  } else if (ti && strcmp(type, "ERROR")) {
    rewritten = registry_object_for_version(ti, w->version, json);
  }
  buf_printf(&line, "{\"type\":\"%s\",\"object\":%s}\n", type, rewritten ? rewritten : json);
  free(rewritten);
  int rc = api_stream_write(w->stream, line.data, line.len);
  buf_free(&line);
  return rc;
}

static bool key_matches(const watcher *w, const char *key) {
  const char *slash = strchr(key, '/');
  const char *name = slash ? slash + 1 : key;
  if (w->ns) {
    size_t n = strlen(w->ns);
    if (!slash || (size_t)(slash - key) != n || strncmp(key, w->ns, n))
      return false;
  }
  return !w->name || !strcmp(name, w->name);
}

static bool fields_match(const watcher *w, const char *json) {
  if (selector_is_empty(w->fields))
    return true;
  json_t *obj = json_loads(json, 0, NULL);
  bool ok = obj && selector_matches_fields(w->fields, obj);
  json_decref(obj);
  return ok;
}

/* Sends `e` to `w` if it concerns it. Returns the stream's write result. */
static int watcher_offer(watcher *w, const event *e) {
  if (strcmp(e->resource, w->resource) || !key_matches(w, e->key))
    return 0;
  bool now = selector_matches_labels(w->labels, e->labels) && fields_match(w, e->json);
  bool before = e->prev && selector_matches_labels(w->labels, e->prev_labels) &&
                fields_match(w, e->prev);
  const char *type = NULL;
  if (e->type == EV_ADDED)
    type = now ? "ADDED" : NULL;
  else if (e->type == EV_DELETED)
    type = before || now ? "DELETED" : NULL;
  else if (now && before)
    type = "MODIFIED";
  else if (now)
    type = "ADDED";
  else if (before)
    type = "DELETED";
  (void)event_name;
  return type ? watcher_write(w, type, e->json) : 0;
}

static void watcher_unlink(watcher *w) {
  if (!w->reg)
    return;
  for (watcher **pp = &w->reg->watchers; *pp; pp = &(*pp)->next)
    if (*pp == w) {
      *pp = w->next;
      w->reg->watcher_count--;
      break;
    }
  w->reg = NULL;
}

static void watcher_free_cb(uv_handle_t *h) {
  watcher *w = h->data;
  free(w->resource);
  free(w->group);
  free(w->version);
  free(w->plural);
  free(w->ns);
  free(w->name);
  selector_free(w->labels);
  selector_free(w->fields);
  free(w);
}

static void watcher_on_close(api_stream *stream, void *ctx) {
  (void)stream;
  watcher *w = ctx;
  watcher_unlink(w);
  w->stream = NULL;
  uv_timer_stop(&w->timer);
  uv_close((uv_handle_t *)&w->timer, watcher_free_cb);
}

/* Ends a stream from our side; the watcher goes when on_close comes back. */
static void watcher_end(watcher *w) {
  watcher_unlink(w);
  if (w->stream) {
    api_stream *s = w->stream;
    api_stream_end(s);
  }
}

void registry_watchers_end(registry *r, const char *resource) {
  watcher *w = r->watchers;
  while (w) {
    watcher *next = w->next;
    if (!resource || !strcmp(w->resource, resource))
      watcher_end(w);
    w = next;
  }
}

void registry_record_event(registry *r, event_type type, const char *resource, const char *key,
                           const char *json, const char *prev, const json_t *labels,
                           const json_t *prev_labels, long long rv) {
  size_t cap = r->options.watch_history ? r->options.watch_history : 10000;
  if (!r->ring) {
    r->ring = calloc(cap, sizeof(event));
    if (!r->ring)
      return;
    r->ring_cap = cap;
  }
  if (r->ring_count == r->ring_cap) {
    event *old = &r->ring[r->ring_start];
    r->compacted_rv = old->rv;
    event_free(old);
    r->ring_start = (r->ring_start + 1) % r->ring_cap;
    r->ring_count--;
  }
  event *e = &r->ring[(r->ring_start + r->ring_count) % r->ring_cap];
  e->rv = rv;
  e->type = type;
  e->resource = str_dup(resource);
  e->key = str_dup(key);
  e->json = str_dup(json);
  e->prev = prev ? str_dup(prev) : NULL;
  e->labels = labels ? json_deep_copy(labels) : NULL;
  e->prev_labels = prev_labels ? json_deep_copy(prev_labels) : NULL;
  r->ring_count++;
  watcher *w = r->watchers;
  while (w) {
    watcher *next = w->next; /* a failed write closes (and unlinks) w */
    watcher_offer(w, e);
    w = next;
  }
}

/* --- serving a watch ----------------------------------------------------------------- */

static void send_bookmark(watcher *w, bool initial_end) {
  if (!w->reg)
    return;
  const type_info *ti = registry_find_type(w->reg, w->group, w->version, w->plural);
  char *av = ti && *ti->t.group ? str_printf("%s/%s", ti->t.group, w->version) : str_dup(w->version);
  json_t *meta = json_pack("{s:s}", "resourceVersion", "");
  char rv[32];
  snprintf(rv, sizeof(rv), "%lld", w->reg->rv);
  json_object_set_new(meta, "resourceVersion", json_string(rv));
  if (initial_end)
    json_object_set_new(meta, "annotations",
                        json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
  json_t *obj = json_pack("{s:s, s:s, s:o}", "kind", ti ? ti->t.kind : "", "apiVersion",
                          av ? av : "", "metadata", meta);
  char *text = json_dumps(obj, JSON_COMPACT);
  bool table = w->table;
  w->table = false;
  watcher_write(w, "BOOKMARK", text);
  w->table = table;
  free(text);
  json_decref(obj);
  free(av);
}

static void watcher_tick(uv_timer_t *t) {
  watcher *w = t->data;
  if (!w->reg || !w->stream)
    return;
  uint64_t now = uv_now(t->loop);
  if (now >= w->deadline_ms) {
    watcher_end(w);
    return;
  }
  if (w->bookmarks)
    send_bookmark(w, false);
  if (!w->reg) /* the write failed and closed the stream */
    return;
  uint64_t next = w->interval_ms;
  if (w->deadline_ms - now < next)
    next = w->deadline_ms - now;
  uv_timer_start(&w->timer, watcher_tick, next, 0);
}

static void send_error(watcher *w, int code, const char *reason, const char *message) {
  json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion",
                         "v1", "metadata", "status", "Failure", "message", message, "reason",
                         reason, "code", code);
  char *text = json_dumps(st, JSON_COMPACT);
  watcher_write(w, "ERROR", text);
  free(text);
  json_decref(st);
}

int registry_serve_watch(registry *r, const type_info *ti, const char *version, const char *ns,
                         const char *name, const api_request *req, api_response *resp) {
  selector *labels = NULL, *fields = NULL;
  const char *ls = api_request_query(req, "labelSelector");
  const char *fs = api_request_query(req, "fieldSelector");
  if (r->watcher_count >= REGISTRY_MAX_WATCHERS) {
    api_respond_status(resp, 429, "TooManyRequests",
                       "too many open watches; try again later", NULL);
    return 0;
  }
  if ((ls && selector_parse_labels(ls, &labels)) ||
      (fs && selector_parse_fields(fs, registry_field_labels(ti), &fields))) {
    api_respond_status(resp, 400, "BadRequest", error_message(), NULL);
    selector_free(labels);
    return 0;
  }
  long long from = -1; /* -1: start with the current state */
  const char *rvq = api_request_query(req, "resourceVersion");
  if (rvq && *rvq && strcmp(rvq, "0")) {
    int64_t v;
    if (str_to_int64(rvq, 0, INT64_MAX, &v)) {
      char *msg = str_printf("Invalid value: \"%s\": strconv.ParseUint: parsing \"%s\": invalid "
                             "syntax", rvq, rvq);
      api_respond_status(resp, 400, "BadRequest", msg, NULL);
      free(msg);
      selector_free(labels);
      selector_free(fields);
      return 0;
    }
    from = v;
  }
  int64_t timeout = WATCH_DEFAULT_TIMEOUT_S;
  const char *tq = api_request_query(req, "timeoutSeconds");
  if (tq && *tq && str_to_int64(tq, 0, INT64_MAX, &timeout)) {
    api_respond_status(resp, 400, "BadRequest", "invalid timeoutSeconds", NULL);
    selector_free(labels);
    selector_free(fields);
    return 0;
  }
  if (timeout <= 0 || timeout > WATCH_MAX_TIMEOUT_S)
    timeout = timeout <= 0 ? WATCH_DEFAULT_TIMEOUT_S : WATCH_MAX_TIMEOUT_S;
  const char *fname = selector_field_equals(fields, "metadata.name");
  const char *fns = selector_field_equals(fields, "metadata.namespace");
  watcher *w = calloc(1, sizeof(*w));
  if (!w) {
    selector_free(labels);
    selector_free(fields);
    return error_set(ERR_NOMEM, "out of memory");
  }
  w->reg = r;
  w->resource = str_dup(ti->resource);
  w->group = str_dup(ti->t.group);
  w->version = str_dup(version);
  w->plural = str_dup(ti->t.plural);
  w->ns = ns ? str_dup(ns) : fns ? str_dup(fns) : NULL;
  w->name = name ? str_dup(name) : fname ? str_dup(fname) : NULL;
  w->labels = labels;
  w->fields = fields;
  const char *bq = api_request_query(req, "allowWatchBookmarks");
  w->bookmarks = bq && (!strcmp(bq, "true") || !strcmp(bq, "1"));
  w->table = registry_wants_table(req);
  w->interval_ms = r->options.bookmark_interval_ms ? r->options.bookmark_interval_ms : 10000;
  uv_timer_init(r->loop, &w->timer);
  w->timer.data = w;
  w->deadline_ms = uv_now(r->loop) + (uint64_t)timeout * 1000;
  resp->status = 200;
  str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  w->stream = api_response_start_stream(resp, watcher_on_close, w);
  if (!w->stream) {
    uv_close((uv_handle_t *)&w->timer, watcher_free_cb);
    return error_set(ERR_NOMEM, "cannot start the watch stream");
  }
  w->next = r->watchers;
  r->watchers = w;
  r->watcher_count++;
  uint64_t first = w->interval_ms < (uint64_t)timeout * 1000 ? w->interval_ms : (uint64_t)timeout * 1000;
  uv_timer_start(&w->timer, watcher_tick, first, 0);

  if (from < 0) {
    collection *c = registry_collection(r, ti->resource, false);
    for (size_t i = 0; c && i < c->count && w->reg; i++) {
      entry *e = c->items[i];
      if (!key_matches(w, e->key) || !selector_matches_labels(w->labels, e->labels) ||
          !fields_match(w, e->json))
        continue;
      watcher_write(w, "ADDED", e->json);
    }
    const char *si = api_request_query(req, "sendInitialEvents");
    if (w->reg && si && !strcmp(si, "true"))
      send_bookmark(w, true);
    return 0;
  }
  size_t start, count;
  if (registry_history_since(r, from, &start, &count)) {
    send_error(w, 410, "Expired", error_message());
    if (w->reg)
      watcher_end(w);
    return 0;
  }
  for (size_t i = 0; i < count && w->reg; i++)
    watcher_offer(w, registry_history_at(r, start + i));
  return 0;
}
