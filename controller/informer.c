/*
 * informer: see informer.h.
 *
 * State: `objects` maps key -> object; `index[i].map` maps value -> {key: true};
 * `index_values` maps key -> [[values of index 0], [values of index 1], ...] so an update
 * can unlink the old values. All three are only written on the loop thread under the
 * write lock; readers take the read lock and leave with their own references.
 */
#include "controller/informer.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct index_def {
  char *name;
  informer_index_fn fn;
  void *ctx;
  json_t *map;
} index_def;

typedef enum { ST_IDLE, ST_LISTING, ST_WATCHING, ST_BACKOFF, ST_CLOSED } reflector_state;

struct informer {
  kube_client *client;
  kube_resource res;
  char *group, *version, *resource, *kind;
  char *ns, *selector;
  uint64_t resync_ms;
  unsigned watch_timeout_s;
  informer_handler handlers[INFORMER_MAX_HANDLERS];
  int nhandlers;
  index_def indexes[INFORMER_MAX_INDEXES];
  int nindexes;
  pthread_rwlock_t lock;
  json_t *objects;
  json_t *index_values;
  /* reflector (loop thread only) */
  reflector_state state;
  kube_request *inflight;
  json_t *list_items; /* key -> object, while paging */
  char *list_rv;
  char *rv;
  bool need_relist;
  bool watch_error; /* the server sent an ERROR event other than 410 */
  uint64_t watch_events; /* events delivered by the current watch */
  unsigned failures;
  uv_timer_t backoff_timer, resync_timer;
  int open_timers;
  void (*on_freed)(void *);
  void *on_freed_ctx;
  atomic_bool synced;
  atomic_uint_fast64_t watch_restarts, relists;
};

static void start_list(informer *inf, const char *cont);
static void start_watch(informer *inf);

char *informer_key_of(const json_t *obj) {
  json_t *md = json_object_get(obj, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *name = json_string_value(json_object_get(md, "name"));
  if (!name)
    return NULL;
  return ns && *ns ? str_printf("%s/%s", ns, name) : str_dup(name);
}

static const char *rv_of(const json_t *obj) {
  return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

int informer_new(informer **out, kube_client *client, const kube_resource *res,
                 const informer_options *opts) {
  informer *inf = calloc(1, sizeof *inf);
  if (!inf)
    return error_set(ERR_NOMEM, "informer: out of memory");
  inf->client = client;
  inf->group = str_dup(res->group ? res->group : "");
  inf->version = str_dup(res->version);
  inf->resource = str_dup(res->resource);
  inf->kind = str_dup(res->kind ? res->kind : "");
  inf->res = (kube_resource){inf->group, inf->version, inf->resource, inf->kind, res->namespaced};
  if (opts) {
    inf->ns = opts->namespace ? str_dup(opts->namespace) : NULL;
    inf->selector = opts->label_selector ? str_dup(opts->label_selector) : NULL;
    inf->resync_ms = opts->resync_ms;
    inf->watch_timeout_s = opts->watch_timeout_s;
  }
  inf->objects = json_object();
  inf->index_values = json_object();
  if (!inf->group || !inf->version || !inf->resource || !inf->kind || !inf->objects ||
      !inf->index_values) {
    json_decref(inf->objects);
    json_decref(inf->index_values);
    free(inf->group);
    free(inf->version);
    free(inf->resource);
    free(inf->kind);
    free(inf->ns);
    free(inf->selector);
    free(inf);
    return error_set(ERR_NOMEM, "informer: out of memory");
  }
  pthread_rwlock_init(&inf->lock, NULL);
  *out = inf;
  return 0;
}

int informer_add_handler(informer *inf, const informer_handler *h) {
  if (inf->nhandlers >= INFORMER_MAX_HANDLERS)
    return error_set(ERR_LIMIT, "informer: too many handlers");
  inf->handlers[inf->nhandlers++] = *h;
  return 0;
}

int informer_add_index(informer *inf, const char *name, informer_index_fn fn, void *ctx) {
  for (int i = 0; i < inf->nindexes; i++)
    if (!strcmp(inf->indexes[i].name, name))
      return error_set(ERR_EXISTS, "informer: index %s exists", name);
  if (inf->nindexes >= INFORMER_MAX_INDEXES)
    return error_set(ERR_LIMIT, "informer: too many indexes");
  index_def *d = &inf->indexes[inf->nindexes];
  d->name = str_dup(name);
  d->map = json_object();
  if (!d->name || !d->map) {
    free(d->name);
    json_decref(d->map);
    return error_set(ERR_NOMEM, "informer: out of memory");
  }
  d->fn = fn;
  d->ctx = ctx;
  inf->nindexes++;
  return 0;
}

bool informer_synced(informer *inf) { return atomic_load(&inf->synced); }
const kube_resource *informer_resource(informer *inf) { return &inf->res; }
uint64_t informer_watch_restarts(informer *inf) { return atomic_load(&inf->watch_restarts); }
uint64_t informer_relists(informer *inf) { return atomic_load(&inf->relists); }

/* --- store (write side: loop thread, caller holds the write lock) -------------------- */

static void unindex(informer *inf, const char *key) {
  json_t *vals = json_object_get(inf->index_values, key);
  if (!vals)
    return;
  for (int i = 0; i < inf->nindexes; i++) {
    json_t *list = json_array_get(vals, (size_t)i);
    size_t j;
    json_t *v;
    json_array_foreach(list, j, v) {
      json_t *set = json_object_get(inf->indexes[i].map, json_string_value(v));
      if (set) {
        json_object_del(set, key);
        if (!json_object_size(set))
          json_object_del(inf->indexes[i].map, json_string_value(v));
      }
    }
  }
  json_object_del(inf->index_values, key);
}

static void reindex(informer *inf, const char *key, json_t *obj) {
  unindex(inf, key);
  if (!inf->nindexes)
    return;
  json_t *vals = json_array();
  for (int i = 0; vals && i < inf->nindexes; i++) {
    json_t *list = json_array();
    if (!list)
      break;
    inf->indexes[i].fn(inf->indexes[i].ctx, obj, list);
    size_t j;
    json_t *v;
    json_array_foreach(list, j, v) {
      const char *s = json_string_value(v);
      if (!s)
        continue;
      json_t *set = json_object_get(inf->indexes[i].map, s);
      if (!set) {
        set = json_object();
        if (!set || json_object_set_new(inf->indexes[i].map, s, set))
          continue;
      }
      json_object_set_new(set, key, json_true());
    }
    json_array_append_new(vals, list);
  }
  if (vals)
    json_object_set_new(inf->index_values, key, vals);
}

/* Stores obj (new reference taken) and returns the previous object (caller's ref). */
static json_t *store_put(informer *inf, const char *key, json_t *obj) {
  pthread_rwlock_wrlock(&inf->lock);
  json_t *old = json_incref(json_object_get(inf->objects, key));
  json_object_set(inf->objects, key, obj);
  reindex(inf, key, obj);
  pthread_rwlock_unlock(&inf->lock);
  return old;
}

static json_t *store_del(informer *inf, const char *key) {
  pthread_rwlock_wrlock(&inf->lock);
  json_t *old = json_incref(json_object_get(inf->objects, key));
  json_object_del(inf->objects, key);
  unindex(inf, key);
  pthread_rwlock_unlock(&inf->lock);
  return old;
}

static void emit_add(informer *inf, json_t *obj) {
  for (int i = 0; i < inf->nhandlers; i++)
    if (inf->handlers[i].on_add)
      inf->handlers[i].on_add(inf->handlers[i].ctx, obj);
}
static void emit_update(informer *inf, json_t *old, json_t *obj) {
  for (int i = 0; i < inf->nhandlers; i++)
    if (inf->handlers[i].on_update)
      inf->handlers[i].on_update(inf->handlers[i].ctx, old, obj);
}
static void emit_delete(informer *inf, json_t *obj) {
  for (int i = 0; i < inf->nhandlers; i++)
    if (inf->handlers[i].on_delete)
      inf->handlers[i].on_delete(inf->handlers[i].ctx, obj);
}

static void apply_upsert(informer *inf, json_t *obj) {
  char *key = informer_key_of(obj);
  if (!key)
    return;
  if (json_object_size(inf->objects) >= INFORMER_MAX_OBJECTS &&
      !json_object_get(inf->objects, key)) {
    log_error(key, "informer %s: cache full (%d objects); dropping", inf->resource,
              INFORMER_MAX_OBJECTS);
    free(key);
    return;
  }
  json_t *old = store_put(inf, key, obj);
  if (old)
    emit_update(inf, old, obj);
  else
    emit_add(inf, obj);
  json_decref(old);
  free(key);
}

static void apply_delete(informer *inf, json_t *obj) {
  char *key = informer_key_of(obj);
  if (!key)
    return;
  json_t *old = store_del(inf, key);
  if (old)
    emit_delete(inf, obj); /* the final state as the server reported it */
  json_decref(old);
  free(key);
}

/* Replaces the cache with `items` (key -> object) after a list. */
static void apply_replace(informer *inf, json_t *items) {
  /* deletes first: objects that vanished while we were not watching */
  json_t *gone = json_array();
  const char *key;
  json_t *obj;
  json_object_foreach(inf->objects, key, obj) {
    if (!json_object_get(items, key))
      json_array_append(gone, obj);
  }
  size_t i;
  json_array_foreach(gone, i, obj) {
    char *k = informer_key_of(obj);
    if (k) {
      json_t *old = store_del(inf, k);
      if (old)
        emit_delete(inf, old);
      json_decref(old);
      free(k);
    }
  }
  json_decref(gone);
  json_object_foreach(items, key, obj) {
    json_t *cur = json_object_get(inf->objects, key);
    if (cur && str_eq(rv_of(cur), rv_of(obj)))
      continue; /* unchanged: no phantom event */
    apply_upsert(inf, obj);
  }
}

/* --- reflector ----------------------------------------------------------------------- */

/* List items carry no kind (and some servers omit it in events): add it so handlers and
 * readers see a complete object. Only called on objects nobody else holds yet. */
static void ensure_kind(informer *inf, json_t *obj) {
  if (json_object_get(obj, "kind") || !inf->kind[0])
    return;
  char *av = inf->group[0] ? str_printf("%s/%s", inf->group, inf->version) : str_dup(inf->version);
  json_object_set_new(obj, "kind", json_string(inf->kind));
  if (av)
    json_object_set_new(obj, "apiVersion", json_string(av));
  free(av);
}

static void on_backoff_timer(uv_timer_t *t) {
  informer *inf = t->data;
  if (inf->state != ST_BACKOFF)
    return;
  if (inf->need_relist || !inf->rv)
    start_list(inf, NULL);
  else
    start_watch(inf);
}

static void schedule_backoff(informer *inf, uint64_t retry_after_ms) {
  unsigned n = inf->failures < 6 ? inf->failures : 6;
  uint64_t d = 800u << n;
  if (d > 30000)
    d = 30000;
  d += (uint64_t)((double)d * ((double)rand() / RAND_MAX)); /* jitter 1.0 */
  if (d > 30000)
    d = 30000;
  if (retry_after_ms > d)
    d = retry_after_ms;
  inf->failures++;
  inf->state = ST_BACKOFF;
  uv_timer_start(&inf->backoff_timer, on_backoff_timer, d, 0);
}

static void on_list_done(void *ctx, kube_response *resp) {
  informer *inf = ctx;
  inf->inflight = NULL;
  if (resp->code == ERR_CANCELLED || inf->state == ST_CLOSED)
    return;
  if (resp->code) {
    log_warn(NULL, "informer %s: list failed (%s, HTTP %ld): %s", inf->resource,
             error_code_name(resp->code), resp->http_status, resp->message);
    json_decref(inf->list_items);
    inf->list_items = NULL;
    inf->need_relist = true;
    schedule_backoff(inf, resp->retry_after_ms);
    return;
  }
  json_t *items = json_object_get(resp->body, "items");
  size_t i;
  json_t *obj;
  json_array_foreach(items, i, obj) {
    char *key = informer_key_of(obj);
    if (!key)
      continue;
    ensure_kind(inf, obj);
    json_object_set(inf->list_items, key, obj);
    free(key);
  }
  const char *rv = json_string_value(json_object_get(json_object_get(resp->body, "metadata"),
                                                     "resourceVersion"));
  const char *cont = json_string_value(json_object_get(json_object_get(resp->body, "metadata"),
                                                       "continue"));
  if (rv && !inf->list_rv)
    inf->list_rv = str_dup(rv);
  if (cont && *cont) {
    start_list(inf, cont);
    return;
  }
  apply_replace(inf, inf->list_items);
  json_decref(inf->list_items);
  inf->list_items = NULL;
  free(inf->rv);
  inf->rv = inf->list_rv;
  inf->list_rv = NULL;
  inf->need_relist = false;
  inf->failures = 0;
  atomic_store(&inf->synced, true);
  log_debug(NULL, "informer %s: listed %zu objects at resourceVersion %s", inf->resource,
            json_object_size(inf->objects), inf->rv ? inf->rv : "");
  start_watch(inf);
}

static void start_list(informer *inf, const char *cont) {
  if (!cont) {
    json_decref(inf->list_items);
    inf->list_items = json_object();
    free(inf->list_rv);
    inf->list_rv = NULL;
    atomic_fetch_add(&inf->relists, 1);
  }
  buf p = BUF_INIT;
  int rc = kube_path(&p, &inf->res, inf->ns, NULL, NULL);
  if (!rc)
    rc = buf_printf(&p, "?limit=%d", INFORMER_PAGE_SIZE);
  if (!rc && cont) {
    rc = buf_puts(&p, "&continue=");
    if (!rc)
      rc = kube_query_escape(&p, cont);
  }
  if (!rc && inf->selector) {
    rc = buf_puts(&p, "&labelSelector=");
    if (!rc)
      rc = kube_query_escape(&p, inf->selector);
  }
  inf->state = ST_LISTING;
  if (!rc && inf->list_items)
    rc = kube_client_request(inf->client, "GET", buf_cstr(&p), NULL, NULL, 60000, on_list_done,
                             inf, &inf->inflight);
  else if (!rc)
    rc = ERR_NOMEM;
  buf_free(&p);
  if (rc && rc != ERR_CANCELLED) {
    inf->need_relist = true;
    schedule_backoff(inf, 0);
  }
}

static void on_watch_event(void *ctx, const char *type, json_t *obj) {
  informer *inf = ctx;
  if (inf->state != ST_WATCHING)
    return;
  if (!strcmp(type, "ERROR")) {
    json_int_t code = json_integer_value(json_object_get(obj, "code"));
    const char *msg = json_string_value(json_object_get(obj, "message"));
    log_info(NULL, "informer %s: watch error %lld: %s", inf->resource, (long long)code,
             msg ? msg : "");
    if (code == 410)
      inf->need_relist = true;
    else
      inf->watch_error = true;
    kube_request_cancel(inf->inflight);
    return;
  }
  inf->watch_events++;
  const char *rv = rv_of(obj);
  if (!strcmp(type, "BOOKMARK")) {
    if (rv) {
      free(inf->rv);
      inf->rv = str_dup(rv);
    }
    return;
  }
  ensure_kind(inf, obj);
  if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
    apply_upsert(inf, obj);
  else if (!strcmp(type, "DELETED"))
    apply_delete(inf, obj);
  else
    return;
  if (rv) {
    free(inf->rv);
    inf->rv = str_dup(rv);
  }
}

static void on_watch_done(void *ctx, kube_response *resp) {
  informer *inf = ctx;
  inf->inflight = NULL;
  if (inf->state == ST_CLOSED)
    return;
  atomic_fetch_add(&inf->watch_restarts, 1);
  if (inf->need_relist || resp->code == ERR_GONE) {
    log_info(NULL, "informer %s: resourceVersion %s is gone; relisting", inf->resource,
             inf->rv ? inf->rv : "");
    inf->need_relist = true;
    start_list(inf, NULL);
    return;
  }
  if (inf->watch_error) {
    inf->watch_error = false;
    schedule_backoff(inf, 0); /* the server reported a problem: do not hammer it */
    return;
  }
  if (resp->code == 0 || resp->code == ERR_TIMEOUT ||
      (resp->code == ERR_CANCELLED && inf->state == ST_WATCHING)) {
    inf->failures = 0;
    start_watch(inf); /* normal end of a watch: continue from the last resourceVersion */
    return;
  }
  if (resp->code == ERR_CANCELLED)
    return;
  if (resp->code == ERR_UNAVAILABLE && resp->http_status == 200 && inf->watch_events > 0) {
    /* The stream broke after making progress (the server dropped a slow or idle client):
     * like client-go, continue at once from the last resourceVersion. A watch that breaks
     * before delivering anything backs off below. */
    log_info(NULL, "informer %s: watch interrupted after %llu events (%s); resuming",
             inf->resource, (unsigned long long)inf->watch_events, resp->message);
    inf->failures = 0;
    start_watch(inf);
    return;
  }
  log_warn(NULL, "informer %s: watch failed (%s, HTTP %ld): %s; backing off", inf->resource,
           error_code_name(resp->code), resp->http_status, resp->message);
  /* client-go: anything but connection refused / 429 / 5xx makes the reflector relist */
  if (resp->code != ERR_UNAVAILABLE && resp->code != ERR_LIMIT && resp->code != ERR_TIMEOUT)
    inf->need_relist = true;
  schedule_backoff(inf, resp->retry_after_ms);
}

static void start_watch(informer *inf) {
  buf p = BUF_INIT;
  unsigned timeout = inf->watch_timeout_s ? inf->watch_timeout_s
                                          : 300u + (unsigned)(rand() % 300);
  int rc = kube_path(&p, &inf->res, inf->ns, NULL, NULL);
  if (!rc)
    rc = buf_printf(&p, "?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u", timeout);
  if (!rc && inf->rv) {
    rc = buf_puts(&p, "&resourceVersion=");
    if (!rc)
      rc = kube_query_escape(&p, inf->rv);
  }
  if (!rc && inf->selector) {
    rc = buf_puts(&p, "&labelSelector=");
    if (!rc)
      rc = kube_query_escape(&p, inf->selector);
  }
  inf->state = ST_WATCHING;
  inf->watch_events = 0;
  if (!rc)
    rc = kube_client_watch(inf->client, buf_cstr(&p), (uint64_t)(timeout + 30) * 1000,
                           on_watch_event, on_watch_done, inf, &inf->inflight);
  buf_free(&p);
  if (rc && rc != ERR_CANCELLED)
    schedule_backoff(inf, 0);
}

static void on_resync(uv_timer_t *t) {
  informer *inf = t->data;
  if (!atomic_load(&inf->synced))
    return;
  const char *key;
  json_t *obj;
  json_t *snapshot = json_object();
  json_object_update(snapshot, inf->objects);
  json_object_foreach(snapshot, key, obj) {
    emit_update(inf, obj, obj);
  }
  json_decref(snapshot);
}

int informer_start(informer *inf) {
  if (inf->open_timers)
    return error_set(ERR_EXISTS, "informer %s: already started", inf->resource);
  uv_loop_t *loop = kube_client_loop(inf->client);
  uv_timer_init(loop, &inf->backoff_timer);
  uv_timer_init(loop, &inf->resync_timer);
  inf->backoff_timer.data = inf;
  inf->resync_timer.data = inf;
  inf->open_timers = 2;
  if (inf->resync_ms)
    uv_timer_start(&inf->resync_timer, on_resync, inf->resync_ms, inf->resync_ms);
  start_list(inf, NULL);
  return 0;
}

/* --- lifecycle ----------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) {
  informer *inf = h->data;
  if (--inf->open_timers > 0)
    return;
  void (*cb)(void *) = inf->on_freed;
  void *ctx = inf->on_freed_ctx;
  json_decref(inf->objects);
  json_decref(inf->index_values);
  json_decref(inf->list_items);
  for (int i = 0; i < inf->nindexes; i++) {
    free(inf->indexes[i].name);
    json_decref(inf->indexes[i].map);
  }
  free(inf->list_rv);
  free(inf->rv);
  free(inf->group);
  free(inf->version);
  free(inf->resource);
  free(inf->kind);
  free(inf->ns);
  free(inf->selector);
  pthread_rwlock_destroy(&inf->lock);
  free(inf);
  if (cb)
    cb(ctx);
}

void informer_close(informer *inf, void (*on_freed)(void *ctx), void *ctx) {
  inf->on_freed = on_freed;
  inf->on_freed_ctx = ctx;
  inf->state = ST_CLOSED;
  if (inf->inflight)
    kube_request_cancel(inf->inflight);
  inf->inflight = NULL;
  if (inf->open_timers == 0) {
    inf->open_timers = 1;
    on_timer_closed((uv_handle_t *)&(uv_handle_t){.data = inf});
    return;
  }
  uv_timer_stop(&inf->backoff_timer);
  uv_timer_stop(&inf->resync_timer);
  uv_close((uv_handle_t *)&inf->backoff_timer, on_timer_closed);
  uv_close((uv_handle_t *)&inf->resync_timer, on_timer_closed);
}

/* --- reads --------------------------------------------------------------------------- */

json_t *informer_get(informer *inf, const char *ns, const char *name) {
  char *key = ns && *ns ? str_printf("%s/%s", ns, name) : str_dup(name);
  if (!key)
    return NULL;
  pthread_rwlock_rdlock(&inf->lock);
  json_t *o = json_incref(json_object_get(inf->objects, key));
  pthread_rwlock_unlock(&inf->lock);
  free(key);
  return o;
}

json_t *informer_list(informer *inf, const char *ns) {
  json_t *arr = json_array();
  if (!arr)
    return NULL;
  size_t nslen = ns ? strlen(ns) : 0;
  pthread_rwlock_rdlock(&inf->lock);
  const char *key;
  json_t *obj;
  json_object_foreach(inf->objects, key, obj) {
    if (ns && (strncmp(key, ns, nslen) || key[nslen] != '/'))
      continue;
    json_array_append(arr, obj);
  }
  pthread_rwlock_unlock(&inf->lock);
  return arr;
}

json_t *informer_by_index(informer *inf, const char *index, const char *value) {
  json_t *arr = json_array();
  if (!arr)
    return NULL;
  pthread_rwlock_rdlock(&inf->lock);
  for (int i = 0; i < inf->nindexes; i++) {
    if (strcmp(inf->indexes[i].name, index))
      continue;
    json_t *set = json_object_get(inf->indexes[i].map, value);
    const char *key;
    json_t *v;
    json_object_foreach(set, key, v) {
      json_t *obj = json_object_get(inf->objects, key);
      if (obj)
        json_array_append(arr, obj);
    }
  }
  pthread_rwlock_unlock(&inf->lock);
  return arr;
}

int informer_labels_match(const json_t *labels, const char *selector, bool *match) {
  *match = true;
  if (!selector || !*selector)
    return 0;
  char *sel = str_dup(selector);
  if (!sel)
    return ERR_NOMEM;
  int rc = 0;
  for (char *save = NULL, *term = strtok_r(sel, ",", &save); term;
       term = strtok_r(NULL, ",", &save)) {
    while (*term == ' ')
      term++;
    if (strstr(term, " in ") || strstr(term, " notin ") || strchr(term, '(')) {
      rc = error_set(ERR_INVALID, "label selector: set-based terms are not supported");
      break;
    }
    char *ne = strstr(term, "!=");
    char *eq = ne ? NULL : strchr(term, '=');
    const char *val = NULL;
    if (ne) {
      *ne = 0;
      val = ne + 2;
    } else if (eq) {
      *eq = 0;
      val = eq + 1;
      if (*val == '=')
        val++;
    }
    bool negate_exists = !ne && !eq && term[0] == '!';
    const char *k = negate_exists ? term + 1 : term;
    const char *have = json_string_value(json_object_get(labels, k));
    bool ok = ne ? !str_eq(have, val) : eq ? str_eq(have, val) : negate_exists ? !have : !!have;
    if (!ok) {
      *match = false;
      break;
    }
  }
  free(sel);
  return rc;
}

json_t *informer_select(informer *inf, const char *ns, const char *selector) {
  json_t *all = informer_list(inf, ns);
  json_t *out = json_array();
  size_t i;
  json_t *obj;
  json_array_foreach(all, i, obj) {
    bool m = false;
    if (informer_labels_match(json_object_get(json_object_get(obj, "metadata"), "labels"),
                              selector, &m) == 0 &&
        m)
      json_array_append(out, obj);
  }
  json_decref(all);
  return out;
}

size_t informer_count(informer *inf) {
  pthread_rwlock_rdlock(&inf->lock);
  size_t n = json_object_size(inf->objects);
  pthread_rwlock_unlock(&inf->lock);
  return n;
}
