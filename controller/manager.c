/*
 * manager: see manager.h.
 *
 * Threads: the caller's thread (start/wait), the loop thread (everything uv and curl),
 * and per controller `workers` worker threads. Cross-thread state is either atomic
 * (leading, synced, workers_running) or behind `mu` (stop_requested). The loop is asked
 * to close through `wake` (uv_async), the only uv call made off the loop thread.
 *
 * Close chain on the loop: leader_close (releases the Lease) -> informer_close for each
 * -> health_server_close + kube_client_close -> close own handles -> uv_run returns.
 */
#include "controller/manager.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"
#include "controller/health.h"
#include "controller/leader.h"
#include "controller/metrics.h"
#include "controller/status.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef enum { BIND_SELF, BIND_OWNER, BIND_MAPPED, BIND_LABEL } bind_kind;

typedef struct binding {
  controller *c;
  bind_kind kind;
  controller_map_fn map;
  void *ctx;
  char *label;
} binding;

struct controller {
  controller_manager *m;
  char *name;
  kube_resource primary;
  informer *inf;
  reconcile_fn fn;
  void *user;
  workqueue *q;
  pthread_t workers[MANAGER_MAX_WORKERS];
  int nworkers;
};

struct controller_manager {
  controller_manager_options opt;
  char *lease_ns, *lease_name, *health_addr, *identity;
  uv_loop_t loop;
  kube_client *client;
  informer *informers[MANAGER_MAX_INFORMERS];
  const kube_resource *informer_res[MANAGER_MAX_INFORMERS];
  int ninformers;
  controller *controllers[MANAGER_MAX_CONTROLLERS];
  int ncontrollers;
  binding *bindings[MANAGER_MAX_CONTROLLERS * 8];
  int nbindings;
  leader_elector *le;
  health_server *health;
  event_recorder *events;
  int health_port;
  uv_async_t wake;
  uv_timer_t sync_timer;
  uv_signal_t sigint, sigterm;
  bool signals;
  int close_pending;
  pthread_t loop_thread;
  bool loop_started;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  bool running, stop_requested, closing, close_started, start_failed;
  int start_rc;
  char start_msg[512]; /* the loop thread's error message (errors are per thread) */
  atomic_bool leading, synced, workers_running, regained;
};

/* --- results ------------------------------------------------------------------------- */

reconcile_result reconcile_done(void) { return (reconcile_result){RECONCILE_DONE, 0, 0, ""}; }

reconcile_result reconcile_requeue_after(uint64_t ms) {
  return (reconcile_result){RECONCILE_REQUEUE_AFTER, ms, 0, ""};
}

static reconcile_result failed(reconcile_outcome o, int code, const char *fmt, va_list ap) {
  reconcile_result r = {o, 0, code ? code : ERR_GENERIC, ""};
  vsnprintf(r.message, sizeof r.message, fmt, ap);
  return r;
}

reconcile_result reconcile_retry(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reconcile_result r = failed(RECONCILE_RETRY, code, fmt, ap);
  va_end(ap);
  return r;
}

reconcile_result reconcile_terminal(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reconcile_result r = failed(RECONCILE_TERMINAL, code, fmt, ap);
  va_end(ap);
  return r;
}

/* --- metrics ------------------------------------------------------------------------- */

static void declare_metrics(void) {
  metrics_declare("portico_workqueue_depth", METRIC_GAUGE, "Keys ready in the work queue.");
  metrics_declare("portico_workqueue_waiting", METRIC_GAUGE, "Keys waiting for a delayed add.");
  metrics_declare("portico_workqueue_unfinished", METRIC_GAUGE, "Keys being reconciled.");
  metrics_declare("portico_workqueue_adds_total", METRIC_COUNTER, "Keys added to the work queue.");
  metrics_declare("portico_workqueue_retries_total", METRIC_COUNTER, "Rate-limited requeues.");
  metrics_declare("portico_reconcile_total", METRIC_COUNTER, "Reconciles by result.");
  metrics_declare("portico_reconcile_errors_total", METRIC_COUNTER, "Reconciles that failed.");
  metrics_declare("portico_reconcile_time_seconds", METRIC_HISTOGRAM, "Reconcile duration.");
  metrics_declare("portico_rest_client_requests_total", METRIC_COUNTER,
                  "API requests by verb and HTTP code.");
  metrics_declare("portico_rest_client_request_duration_seconds", METRIC_HISTOGRAM,
                  "API request latency by verb and HTTP code.");
  metrics_declare("portico_informer_watch_restarts_total", METRIC_COUNTER,
                  "Watches restarted (ended, dropped or failed).");
  metrics_declare("portico_informer_relists_total", METRIC_COUNTER, "Full lists made.");
  metrics_declare("portico_informer_objects", METRIC_GAUGE, "Objects in the cache.");
  metrics_declare("portico_cache_synced", METRIC_GAUGE, "1 once every informer has synced.");
  metrics_declare("portico_leader_is_leader", METRIC_GAUGE, "1 while this replica leads.");
}

static void labels_for(char *out, size_t size, const char *name, const char *v) {
  buf b = BUF_INIT;
  buf_init(&b, size);
  buf_printf(&b, "%s=\"", name);
  metrics_label_escape(&b, v);
  buf_putc(&b, '"');
  str_copy(out, buf_cstr(&b), size);
  buf_free(&b);
}

static void observe_request(void *ctx, const char *verb, long http_status, double seconds) {
  (void)ctx;
  char labels[96];
  snprintf(labels, sizeof labels, "verb=\"%s\",code=\"%ld\"", verb, http_status);
  metrics_counter_add("portico_rest_client_requests_total", labels, 1);
  metrics_histogram_observe("portico_rest_client_request_duration_seconds", labels, seconds);
}

static void collect(void *ctx) {
  controller_manager *m = ctx;
  char labels[160];
  for (int i = 0; i < m->ncontrollers; i++) {
    controller *c = m->controllers[i];
    workqueue_stats st;
    workqueue_get_stats(c->q, &st);
    labels_for(labels, sizeof labels, "name", c->name);
    metrics_gauge_set("portico_workqueue_depth", labels, (double)st.depth);
    metrics_gauge_set("portico_workqueue_waiting", labels, (double)st.waiting);
    metrics_gauge_set("portico_workqueue_unfinished", labels, (double)st.processing);
    metrics_gauge_set("portico_workqueue_adds_total", labels, (double)st.adds);
    metrics_gauge_set("portico_workqueue_retries_total", labels, (double)st.retries);
  }
  for (int i = 0; i < m->ninformers; i++) {
    informer *inf = m->informers[i];
    labels_for(labels, sizeof labels, "resource", informer_resource(inf)->resource);
    metrics_gauge_set("portico_informer_watch_restarts_total", labels,
                      (double)informer_watch_restarts(inf));
    metrics_gauge_set("portico_informer_relists_total", labels, (double)informer_relists(inf));
    metrics_gauge_set("portico_informer_objects", labels, (double)informer_count(inf));
  }
  metrics_gauge_set("portico_cache_synced", NULL, atomic_load(&m->synced) ? 1 : 0);
  metrics_gauge_set("portico_leader_is_leader", NULL, atomic_load(&m->leading) ? 1 : 0);
}

static bool ready(void *ctx, char *why, size_t size) {
  controller_manager *m = ctx;
  if (atomic_load(&m->synced))
    return true;
  for (int i = 0; i < m->ninformers; i++)
    if (!informer_synced(m->informers[i])) {
      snprintf(why, size, "cache for %s not synced", informer_resource(m->informers[i])->resource);
      return false;
    }
  return false;
}

/* --- registration -------------------------------------------------------------------- */

int controller_manager_new(controller_manager **out, const controller_manager_options *opts) {
  if (!opts || !opts->config)
    return error_set(ERR_INVALID, "manager: a kubeconfig is required");
  controller_manager *m = calloc(1, sizeof *m);
  if (!m)
    return error_set(ERR_NOMEM, "manager: out of memory");
  m->opt = *opts;
  if (m->opt.workers <= 0)
    m->opt.workers = 2;
  if (m->opt.workers > MANAGER_MAX_WORKERS)
    m->opt.workers = MANAGER_MAX_WORKERS;
  m->lease_ns = str_dup(opts->lease_namespace ? opts->lease_namespace : opts->config->namespace);
  m->lease_name = str_dup(opts->lease_name ? opts->lease_name : "portico-controller");
  m->health_addr = opts->health_addr ? str_dup(opts->health_addr) : NULL;
  m->identity = opts->identity ? str_dup(opts->identity) : NULL;
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cond, NULL);
  int rc = uv_loop_init(&m->loop);
  if (rc || !m->lease_ns || !m->lease_name) {
    free(m->lease_ns);
    free(m->lease_name);
    free(m->health_addr);
    free(m->identity);
    free(m);
    return error_set(ERR_NOMEM, "manager: cannot initialise");
  }
  rc = kube_client_new(&m->client, &m->loop, opts->config);
  if (rc) {
    uv_loop_close(&m->loop);
    free(m->lease_ns);
    free(m->lease_name);
    free(m->health_addr);
    free(m->identity);
    free(m);
    return rc;
  }
  kube_client_set_observer(m->client, observe_request, m);
  if (event_recorder_new(&m->events, m->client, "portico-controller"))
    m->events = NULL; /* events are best effort; reconcilers check for NULL */
  declare_metrics();
  *out = m;
  return 0;
}

static bool same_res(const kube_resource *a, const kube_resource *b) {
  return str_eq(a->group ? a->group : "", b->group ? b->group : "") && str_eq(a->version, b->version) &&
         str_eq(a->resource, b->resource);
}

int controller_manager_informer(controller_manager *m, const kube_resource *res, informer **out) {
  for (int i = 0; i < m->ninformers; i++)
    if (same_res(m->informer_res[i], res)) {
      *out = m->informers[i];
      return 0;
    }
  if (m->loop_started)
    return error_set(ERR_INVALID, "manager: informers must be registered before start");
  if (m->ninformers >= MANAGER_MAX_INFORMERS)
    return error_set(ERR_LIMIT, "manager: too many informers");
  informer_options io = {0};
  io.resync_ms = m->opt.resync_ms;
  io.watch_timeout_s = m->opt.watch_timeout_s;
  informer *inf;
  int rc = informer_new(&inf, m->client, res, &io);
  if (rc)
    return rc;
  m->informers[m->ninformers] = inf;
  m->informer_res[m->ninformers] = res;
  m->ninformers++;
  *out = inf;
  return 0;
}

static void split_key(const char *key, char *ns, size_t ns_size, const char **name) {
  const char *slash = strchr(key, '/');
  if (slash) {
    size_t n = (size_t)(slash - key) < ns_size - 1 ? (size_t)(slash - key) : ns_size - 1;
    memcpy(ns, key, n);
    ns[n] = 0;
    *name = slash + 1;
  } else {
    ns[0] = 0;
    *name = key;
  }
}

int controller_enqueue(controller *c, const char *key) {
  int rc = workqueue_add(c->q, key);
  if (rc && rc != ERR_CANCELLED)
    log_error(key, "controller %s: cannot enqueue: %s", c->name, error_message());
  return rc;
}

static void enqueue_obj_key(controller *c, const json_t *obj) {
  char *key = informer_key_of(obj);
  if (key)
    controller_enqueue(c, key);
  free(key);
}

static const char *group_of(const char *api_version) {
  const char *slash = strchr(api_version, '/');
  return slash ? api_version : "";
}

static void enqueue_owner(controller *c, const json_t *obj) {
  json_t *md = json_object_get(obj, "metadata");
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  size_t i;
  json_t *ref;
  json_array_foreach(json_object_get(md, "ownerReferences"), i, ref) {
    if (!json_is_true(json_object_get(ref, "controller")))
      continue;
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *av = json_string_value(json_object_get(ref, "apiVersion"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !av || !name || !str_eq(kind, c->primary.kind))
      continue;
    const char *g = group_of(av);
    size_t glen = *g ? (size_t)(strchr(av, '/') - av) : 0;
    const char *pg = c->primary.group ? c->primary.group : "";
    if (strlen(pg) != glen || strncmp(av, pg, glen))
      continue;
    char *key = c->primary.namespaced && ns && *ns ? str_printf("%s/%s", ns, name) : str_dup(name);
    if (key)
      controller_enqueue(c, key);
    free(key);
  }
}

static void enqueue_bound(binding *b, const json_t *obj) {
  switch (b->kind) {
  case BIND_SELF:
    enqueue_obj_key(b->c, obj);
    break;
  case BIND_OWNER:
    enqueue_owner(b->c, obj);
    break;
  case BIND_MAPPED: {
    json_t *keys = json_array();
    if (!keys)
      break;
    b->map(b->ctx, obj, keys);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
      if (json_string_value(k))
        controller_enqueue(b->c, json_string_value(k));
    }
    json_decref(keys);
    break;
  }
  case BIND_LABEL: {
    json_t *md = json_object_get(obj, "metadata");
    const char *v = json_string_value(json_object_get(json_object_get(md, "labels"), b->label));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    if (!v || !*v)
      break;
    char *key = ns && *ns && b->c->primary.namespaced ? str_printf("%s/%s", ns, v) : str_dup(v);
    if (key)
      controller_enqueue(b->c, key);
    free(key);
    break;
  }
  }
}

static void h_add(void *ctx, json_t *obj) { enqueue_bound(ctx, obj); }
static void h_update(void *ctx, json_t *old_obj, json_t *new_obj) {
  binding *b = ctx;
  if (b->kind != BIND_SELF && old_obj != new_obj)
    enqueue_bound(b, old_obj); /* a child that moved to another parent: both look */
  enqueue_bound(b, new_obj);
}
static void h_delete(void *ctx, json_t *obj) { enqueue_bound(ctx, obj); }

static int bind_watch(controller *c, const kube_resource *res, bind_kind kind, controller_map_fn map,
                void *ctx, const char *label) {
  controller_manager *m = c->m;
  if (m->nbindings >= (int)(sizeof m->bindings / sizeof *m->bindings))
    return error_set(ERR_LIMIT, "manager: too many watches");
  informer *inf;
  int rc = controller_manager_informer(m, res, &inf);
  if (rc)
    return rc;
  binding *b = calloc(1, sizeof *b);
  if (!b)
    return error_set(ERR_NOMEM, "manager: out of memory");
  b->c = c;
  b->kind = kind;
  b->map = map;
  b->ctx = ctx;
  b->label = label ? str_dup(label) : NULL;
  informer_handler h = {h_add, h_update, h_delete, b};
  rc = informer_add_handler(inf, &h);
  if (rc) {
    free(b->label);
    free(b);
    return rc;
  }
  m->bindings[m->nbindings++] = b;
  if (kind == BIND_SELF)
    c->inf = inf;
  return 0;
}

int controller_manager_add(controller_manager *m, const char *name, const kube_resource *primary,
                           reconcile_fn fn, void *user, controller **out) {
  if (m->loop_started)
    return error_set(ERR_INVALID, "manager: controllers must be added before start");
  if (m->ncontrollers >= MANAGER_MAX_CONTROLLERS)
    return error_set(ERR_LIMIT, "manager: too many controllers");
  controller *c = calloc(1, sizeof *c);
  if (!c)
    return error_set(ERR_NOMEM, "manager: out of memory");
  c->m = m;
  c->name = str_dup(name);
  c->primary = *primary;
  c->fn = fn;
  c->user = user;
  int rc = c->name ? workqueue_new(&c->q, &m->opt.queue) : ERR_NOMEM;
  if (!rc)
    rc = bind_watch(c, primary, BIND_SELF, NULL, NULL, NULL);
  if (rc) {
    if (c->q)
      workqueue_free(c->q);
    free(c->name);
    free(c);
    return rc;
  }
  m->controllers[m->ncontrollers++] = c;
  if (out)
    *out = c;
  return 0;
}

int controller_watch_owned(controller *c, const kube_resource *child) {
  return bind_watch(c, child, BIND_OWNER, NULL, NULL, NULL);
}

int controller_watch_mapped(controller *c, const kube_resource *res, controller_map_fn map, void *ctx) {
  return bind_watch(c, res, BIND_MAPPED, map, ctx, NULL);
}

int controller_watch_labeled(controller *c, const kube_resource *res, const char *label) {
  return bind_watch(c, res, BIND_LABEL, NULL, NULL, label);
}

/* --- workers ------------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reconcile_one(controller *c, const char *key) {
  char ns[256];
  const char *name;
  split_key(key, ns, sizeof ns, &name);
  reconcile_request req = {c->m, c, ns, name, key, c->user};
  double t0 = now_s();
  error_clear();
  reconcile_result r = c->fn(&req);
  double dt = now_s() - t0;
  char labels[200], rlabels[240];
  labels_for(labels, sizeof labels, "controller", c->name);
  metrics_histogram_observe("portico_reconcile_time_seconds", labels, dt);
  const char *result = "success";
  switch (r.outcome) {
  case RECONCILE_DONE:
    workqueue_forget(c->q, key);
    break;
  case RECONCILE_REQUEUE_AFTER:
    result = "requeue_after";
    workqueue_forget(c->q, key);
    workqueue_add_after(c->q, key, r.requeue_after_ms);
    break;
  case RECONCILE_RETRY: {
    result = "error";
    uint64_t delay = 0;
    workqueue_add_rate_limited(c->q, key, &delay);
    metrics_counter_add("portico_reconcile_errors_total", labels, 1);
    log_warn(key, "controller %s: reconcile failed (%s), retrying in %llu ms: %s", c->name,
             error_code_name(r.error_code), (unsigned long long)delay, r.message);
    break;
  }
  case RECONCILE_TERMINAL:
    result = "terminal";
    workqueue_forget(c->q, key);
    metrics_counter_add("portico_reconcile_errors_total", labels, 1);
    log_error(key, "controller %s: reconcile failed for good (%s): %s", c->name,
              error_code_name(r.error_code), r.message);
    break;
  }
  snprintf(rlabels, sizeof rlabels, "%s,result=\"%s\"", labels, result);
  metrics_counter_add("portico_reconcile_total", rlabels, 1);
}

static void *worker_main(void *arg) {
  controller *c = arg;
  char *key;
  while (workqueue_get(c->q, true, &key) == 0) {
    if (atomic_load(&c->m->leading))
      reconcile_one(c, key);
    /* else: not the leader; the key is dropped and every primary object is enqueued again
     * when leadership comes back */
    workqueue_done(c->q, key);
    free(key);
  }
  return NULL;
}

static void enqueue_all(controller *c) {
  json_t *all = informer_list(c->inf, NULL);
  size_t i;
  json_t *obj;
  json_array_foreach(all, i, obj) {
    enqueue_obj_key(c, obj);
  }
  json_decref(all);
}

static void start_workers(controller_manager *m) {
  for (int i = 0; i < m->ncontrollers; i++) {
    controller *c = m->controllers[i];
    for (int w = 0; w < m->opt.workers; w++) {
      if (pthread_create(&c->workers[c->nworkers], NULL, worker_main, c) == 0)
        c->nworkers++;
      else
        log_error(NULL, "controller %s: cannot start a worker thread", c->name);
    }
    log_info(NULL, "controller %s: started %d workers", c->name, c->nworkers);
  }
  atomic_store(&m->workers_running, true);
}

/* --- loop side ----------------------------------------------------------------------- */

static void on_sync_timer(uv_timer_t *t) {
  controller_manager *m = t->data;
  if (m->closing)
    return;
  if (!atomic_load(&m->synced)) {
    for (int i = 0; i < m->ninformers; i++)
      if (!informer_synced(m->informers[i]))
        return;
    atomic_store(&m->synced, true);
    log_info(NULL, "caches synced (%d informers)", m->ninformers);
    uv_timer_stop(&m->sync_timer); /* from now on leadership callbacks drive the rest: an
                                    * idle controller has no timer of its own */
  }
  if (atomic_load(&m->leading) && !atomic_load(&m->workers_running))
    start_workers(m);
  if (atomic_exchange(&m->regained, false) && atomic_load(&m->workers_running))
    for (int i = 0; i < m->ncontrollers; i++)
      enqueue_all(m->controllers[i]);
}

static void on_start_leading(void *ctx) {
  controller_manager *m = ctx;
  atomic_store(&m->leading, true);
  atomic_store(&m->regained, true);
  on_sync_timer(&m->sync_timer);
}

static void on_stop_leading(void *ctx) {
  controller_manager *m = ctx;
  atomic_store(&m->leading, false);
  pthread_mutex_lock(&m->mu);
  bool closing = m->closing;
  pthread_mutex_unlock(&m->mu);
  log_write(closing ? LOG_INFO : LOG_WARN, NULL, "not the leader: reconciling stopped");
}

static void on_signal(uv_signal_t *s, int signum) {
  controller_manager *m = s->data;
  log_info(NULL, "received signal %d: shutting down", signum);
  controller_manager_stop(m);
}

static void close_step(controller_manager *m);

static void on_own_handle_closed(uv_handle_t *h) {
  controller_manager *m = h->data;
  m->close_pending--;
}

static void on_client_closed(void *ctx) {
  controller_manager *m = ctx;
  m->client = NULL;
  uv_close((uv_handle_t *)&m->wake, on_own_handle_closed);
  uv_close((uv_handle_t *)&m->sync_timer, on_own_handle_closed);
  m->close_pending += 2;
  if (m->signals) {
    uv_close((uv_handle_t *)&m->sigint, on_own_handle_closed);
    uv_close((uv_handle_t *)&m->sigterm, on_own_handle_closed);
    m->close_pending += 2;
  }
}

static void on_informer_freed(void *ctx) {
  controller_manager *m = ctx;
  if (--m->close_pending == 0)
    close_step(m);
}

static void on_leader_closed(void *ctx) {
  controller_manager *m = ctx;
  m->le = NULL;
  close_step(m);
}

/* Advances the close chain; each step calls back into it once its part has closed. */
static void close_step(controller_manager *m) {
  if (m->le) {
    leader_close(m->le, on_leader_closed, m);
    return;
  }
  if (m->ninformers) {
    int n = m->ninformers;
    m->ninformers = 0;
    m->close_pending = n;
    for (int i = 0; i < n; i++)
      informer_close(m->informers[i], on_informer_freed, m);
    return;
  }
  if (m->health) {
    health_server_close(m->health);
    m->health = NULL;
  }
  if (m->client)
    kube_client_close(m->client, on_client_closed, m);
}

static void on_wake(uv_async_t *a) {
  controller_manager *m = a->data;
  pthread_mutex_lock(&m->mu);
  bool close = m->closing && !m->close_started;
  m->close_started = m->closing;
  pthread_mutex_unlock(&m->mu);
  if (close) {
    uv_timer_stop(&m->sync_timer);
    if (m->signals) {
      uv_signal_stop(&m->sigint);
      uv_signal_stop(&m->sigterm);
    }
    close_step(m);
  }
}

static int loop_setup(controller_manager *m) {
  kube_client_bind_thread(m->client);
  uv_async_init(&m->loop, &m->wake, on_wake);
  m->wake.data = m;
  uv_timer_init(&m->loop, &m->sync_timer);
  m->sync_timer.data = m;
  uv_timer_start(&m->sync_timer, on_sync_timer, 50, 100);
  if (m->signals) {
    uv_signal_init(&m->loop, &m->sigint);
    uv_signal_init(&m->loop, &m->sigterm);
    m->sigint.data = m->sigterm.data = m;
    uv_signal_start(&m->sigint, on_signal, SIGINT);
    uv_signal_start(&m->sigterm, on_signal, SIGTERM);
  }
  int rc = 0;
  if (m->health_addr) {
    health_callbacks cb = {ready, collect, m};
    rc = health_server_start(&m->health, &m->loop, m->health_addr, &cb);
    if (rc && !m->opt.health_optional)
      return rc;
    if (rc) {
      log_warn(NULL, "no health server: %s (pass --health-addr to choose another address)",
               error_message());
      m->health = NULL;
      rc = 0;
    } else {
      m->health_port = health_server_port(m->health);
      log_info(NULL, "health server listening on port %d (/healthz /readyz /metrics)",
               m->health_port);
    }
  }
  for (int i = 0; i < m->ninformers; i++)
    if ((rc = informer_start(m->informers[i])))
      return rc;
  if (m->opt.leader_elect) {
    leader_options lo = {m->lease_ns, m->lease_name, m->identity, m->opt.lease_duration_ms,
                         m->opt.renew_deadline_ms, m->opt.retry_period_ms, on_start_leading,
                         on_stop_leading, m};
    rc = leader_start(&m->le, m->client, &lo);
    if (rc)
      return rc;
    log_info(NULL, "leader election: campaigning for lease %s/%s as %s", m->lease_ns,
             m->lease_name, leader_identity(m->le));
  } else {
    atomic_store(&m->leading, true);
  }
  return 0;
}

static void *loop_main(void *arg) {
  controller_manager *m = arg;
  int rc = loop_setup(m);
  pthread_mutex_lock(&m->mu);
  m->start_rc = rc;
  if (rc)
    str_copy(m->start_msg, error_message(), sizeof m->start_msg);
  m->running = true;
  if (rc) {
    m->closing = true;
    m->stop_requested = true;
  }
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->mu);
  if (rc) {
    uv_timer_stop(&m->sync_timer);
    if (m->signals) {
      uv_signal_stop(&m->sigint);
      uv_signal_stop(&m->sigterm);
    }
    close_step(m);
  }
  uv_run(&m->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* --- public lifecycle ---------------------------------------------------------------- */

int controller_manager_start(controller_manager *m) {
  if (m->loop_started)
    return error_set(ERR_INVALID, "manager: already started");
  m->signals = m->opt.handle_signals;
  m->loop_started = true;
  if (pthread_create(&m->loop_thread, NULL, loop_main, m)) {
    m->loop_started = false;
    return error_set(ERR_IO, "manager: cannot start the loop thread");
  }
  pthread_mutex_lock(&m->mu);
  while (!m->running)
    pthread_cond_wait(&m->cond, &m->mu);
  int rc = m->start_rc;
  pthread_mutex_unlock(&m->mu);
  if (rc) {
    error_set(rc, "%s", m->start_msg);
    pthread_join(m->loop_thread, NULL);
    m->loop_started = false;
    m->start_failed = true;
  }
  return rc;
}


void controller_manager_stop(controller_manager *m) {
  pthread_mutex_lock(&m->mu);
  m->stop_requested = true;
  pthread_cond_broadcast(&m->cond);
  pthread_mutex_unlock(&m->mu);
}

int controller_manager_wait(controller_manager *m) {
  if (!m->loop_started)
    return m->start_failed ? error_set(m->start_rc, "%s", m->start_msg) : 0;
  pthread_mutex_lock(&m->mu);
  while (!m->stop_requested)
    pthread_cond_wait(&m->cond, &m->mu);
  pthread_mutex_unlock(&m->mu);
  /* Drain: no new keys, let workers finish what is queued and in flight (bounded). */
  for (int i = 0; i < m->ncontrollers; i++)
    workqueue_shutdown(m->controllers[i]->q, true);
  for (int i = 0; i < m->ncontrollers; i++) {
    controller *c = m->controllers[i];
    if (c->nworkers && workqueue_wait_idle(c->q, MANAGER_DRAIN_TIMEOUT_MS))
      log_warn(NULL, "controller %s: drain timed out; abandoning queued keys", c->name);
    workqueue_shutdown(c->q, false);
    for (int w = 0; w < c->nworkers; w++)
      pthread_join(c->workers[w], NULL);
    c->nworkers = 0;
  }
  pthread_mutex_lock(&m->mu);
  m->closing = true;
  pthread_mutex_unlock(&m->mu);
  uv_async_send(&m->wake);
  pthread_join(m->loop_thread, NULL);
  m->loop_started = false;
  log_info(NULL, "controller manager stopped");
  return 0;
}

void controller_manager_free(controller_manager *m) {
  if (!m)
    return;
  if (m->loop_started) {
    controller_manager_stop(m);
    controller_manager_wait(m);
  }
  if (m->client) { /* never started: close the client and informers on this thread */
    for (int i = 0; i < m->ninformers; i++)
      informer_close(m->informers[i], NULL, NULL);
    m->ninformers = 0;
    kube_client_close(m->client, NULL, NULL);
    m->client = NULL;
    uv_run(&m->loop, UV_RUN_DEFAULT);
  }
  uv_loop_close(&m->loop);
  event_recorder_free(m->events);
  for (int i = 0; i < m->ncontrollers; i++) {
    workqueue_free(m->controllers[i]->q);
    free(m->controllers[i]->name);
    free(m->controllers[i]);
  }
  for (int i = 0; i < m->nbindings; i++) {
    free(m->bindings[i]->label);
    free(m->bindings[i]);
  }
  free(m->lease_ns);
  free(m->lease_name);
  free(m->health_addr);
  free(m->identity);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cond);
  free(m);
}

kube_client *controller_manager_client(controller_manager *m) { return m->client; }
event_recorder *controller_manager_events(controller_manager *m) { return m->events; }
bool controller_manager_is_leader(controller_manager *m) { return atomic_load(&m->leading); }
bool controller_manager_synced(controller_manager *m) { return atomic_load(&m->synced); }
int controller_manager_health_port(controller_manager *m) { return m->health_port; }
const char *controller_manager_identity(controller_manager *m) {
  return m->le ? leader_identity(m->le) : m->identity;
}
informer *controller_primary_informer(controller *c) { return c->inf; }
workqueue *controller_queue(controller *c) { return c->q; }
const char *controller_name(controller *c) { return c->name; }
