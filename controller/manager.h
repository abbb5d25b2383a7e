/*
 * manager: the operator runtime that reconcilers register with (controller-runtime's
 * Manager + Builder + Controller in C).
 *
 * A manager owns one libuv loop thread (the API client, shared informers, leader election
 * and the health server live there) and, per controller, a work queue and `workers`
 * worker threads that run the reconcile function. Reconcilers never run on the loop
 * thread; they read the caches (read-only shared objects) and call the API through the
 * blocking kube_* helpers, which hop to the loop and back.
 *
 * Flow: informer event -> handler maps the object to keys (the object itself, its
 * controller owner, or any mapping function) -> workqueue -> worker -> reconcile(ns, name)
 * -> result: done (forget backoff), retry (rate-limited requeue), requeue-after (delayed
 * requeue, earliest wins), terminal (no retry; reported in a log line and metrics, and a
 * reconciler reports it in a condition).
 *
 * Workers start once every informer has synced and, with leader election, only while
 * this replica holds the Lease; a replica that loses it stops handing out keys at once
 * (a reconcile already running finishes) and campaigns again; when it wins again every
 * primary object is enqueued. Shutdown drains: queues stop accepting keys, in-flight
 * reconciles finish (bounded), the Lease is released, then the loop stops.
 *
 * Registration (controller_manager_informer, controller_manager_add, controller_watch_*,
 * informer_add_index) happens before controller_manager_start.
 *
 * A reconciler package plugs in like this (see controller/runtime.h):
 *
 *   static reconcile_result reconcile_draft(const reconcile_request *req) {
 *     informer *inf = controller_primary_informer(req->controller);
 *     json_t *draft = informer_get(inf, req->namespace, req->name); // shared, read-only
 *     if (!draft)
 *       return reconcile_done();                                   // deleted meanwhile
 *     ... do the work; status_update(...) to report; event_record(...) on transitions ...
 *     json_decref(draft);
 *     return reconcile_done();       // or reconcile_retry(code, ...), reconcile_requeue_after(ms),
 *   }                                // reconcile_terminal(code, ...)
 *
 *   static int drafts_setup(controller_manager *m, void *ctx) {
 *     controller *c;
 *     informer *inf;
 *     int rc = controller_manager_add(m, "packagedraft", &DRAFTS, reconcile_draft, ctx, &c);
 *     if (!rc) rc = controller_manager_informer(m, &DRAFTS, &inf);
 *     if (!rc) rc = informer_add_index(inf, "repository", draft_repository_index, NULL);
 *     if (!rc) rc = controller_watch_owned(c, &CONFIGMAPS);
 *     return rc;
 *   }
 *   ... controller_runtime_register(drafts_setup, ctx);  // before the runtime starts
 */
#ifndef PORTICO_CONTROLLER_MANAGER_H
#define PORTICO_CONTROLLER_MANAGER_H

#include "controller/client.h"
#include "controller/informer.h"
#include "controller/kubeconfig.h"
#include "controller/workqueue.h"

#include <stdbool.h>
#include <stdint.h>

#define MANAGER_MAX_CONTROLLERS 32
#define MANAGER_MAX_INFORMERS 32
#define MANAGER_MAX_WORKERS 64
#define MANAGER_DRAIN_TIMEOUT_MS 30000

typedef struct controller_manager controller_manager;
typedef struct controller controller;

typedef enum {
  RECONCILE_DONE = 0,          /* success; backoff of the key forgotten */
  RECONCILE_RETRY = 1,         /* failed; requeue with per-item backoff + token bucket */
  RECONCILE_REQUEUE_AFTER = 2, /* success, look again after requeue_after_ms */
  RECONCILE_TERMINAL = 3       /* failed for good: no retry until the object changes */
} reconcile_outcome;

typedef struct reconcile_result {
  reconcile_outcome outcome;
  uint64_t requeue_after_ms;
  int error_code;     /* ERR_* for RETRY/TERMINAL, 0 otherwise */
  char message[256];  /* why, for logs */
} reconcile_result;

typedef struct reconcile_request {
  controller_manager *manager;
  controller *controller;
  const char *namespace; /* "" for cluster-scoped objects */
  const char *name;
  const char *key;       /* "ns/name" or "name" */
  void *user;            /* the controller's user pointer */
} reconcile_request;

/* A reconciler: level-triggered and idempotent. Runs on a worker thread. */
typedef reconcile_result (*reconcile_fn)(const reconcile_request *req);

reconcile_result reconcile_done(void);
reconcile_result reconcile_requeue_after(uint64_t ms);
reconcile_result reconcile_retry(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
reconcile_result reconcile_terminal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct controller_manager_options {
  kubeconfig *config;          /* borrowed; must outlive the manager */
  int workers;                 /* per controller; 0: 2 */
  bool leader_elect;
  const char *lease_namespace; /* default: the config's namespace */
  const char *lease_name;      /* default: "portico-controller" */
  const char *identity;        /* default: hostname_pid_random */
  uint64_t lease_duration_ms, renew_deadline_ms, retry_period_ms; /* 0: 15 s/10 s/2 s */
  const char *health_addr;     /* NULL: no health server */
  bool health_optional;        /* a busy health_addr is a warning, not a failure */
  uint64_t resync_ms;          /* informer resync; 0: none */
  unsigned watch_timeout_s;    /* 0: random 5-10 min */
  workqueue_options queue;     /* rate limiter settings (zero: client-go defaults) */
  bool handle_signals;         /* stop on SIGINT/SIGTERM (a process that owns signals) */
} controller_manager_options;

/* Makes a manager (not started). *out owned: controller_manager_free. */
int controller_manager_new(controller_manager **out, const controller_manager_options *opts);

/* The shared informer for `res` (created on first use, started with the manager). The
 * resource strings must outlive the manager (string literals). Before start only. */
int controller_manager_informer(controller_manager *m, const kube_resource *res, informer **out);

/* Registers a controller reconciling `primary` objects with `fn`. `name` labels metrics
 * and logs. Before start only. */
int controller_manager_add(controller_manager *m, const char *name, const kube_resource *primary,
                           reconcile_fn fn, void *user, controller **out);

/* Enqueue the controller owner (ownerReferences[controller=true] of the primary kind) of
 * every `child` object that changes. */
int controller_watch_owned(controller *c, const kube_resource *child);

/* Enqueue the keys `map` appends (JSON strings "ns/name") for every changed `res` object. */
typedef void (*controller_map_fn)(void *ctx, const json_t *obj, json_t *keys_out);
int controller_watch_mapped(controller *c, const kube_resource *res, controller_map_fn map, void *ctx);

/* Enqueue "ns/<value of label `label`>" for every changed `res` object carrying the label. */
int controller_watch_labeled(controller *c, const kube_resource *res, const char *label);

/* Starts the loop thread (client, informers, leader election, health) and the workers
 * when ready. Returns once the loop is running (the health port is known). */
int controller_manager_start(controller_manager *m);

/* Asks the manager to stop (thread-safe and safe from a uv callback). */
void controller_manager_stop(controller_manager *m);

/* Blocks until stop is asked (by controller_manager_stop, or SIGINT/SIGTERM with
 * handle_signals), then drains and shuts everything down. */
int controller_manager_wait(controller_manager *m);

void controller_manager_free(controller_manager *m);

/* Accessors (any thread). */
kube_client *controller_manager_client(controller_manager *m);
/* The process's Event recorder (source.component "portico-controller"); thread-safe,
 * blocking calls (worker threads). NULL only if it could not be made. */
struct event_recorder *controller_manager_events(controller_manager *m);
bool controller_manager_is_leader(controller_manager *m);
bool controller_manager_synced(controller_manager *m);
int controller_manager_health_port(controller_manager *m);
const char *controller_manager_identity(controller_manager *m);
informer *controller_primary_informer(controller *c);
workqueue *controller_queue(controller *c);
const char *controller_name(controller *c);
/* Adds a key to the controller's queue (any thread). */
int controller_enqueue(controller *c, const char *key);

#endif
