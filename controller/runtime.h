/*
 * runtime: the whole operator in one call, for `portico controller` and for `portico
 * standalone` (which runs it in-process against its own API server).
 *
 * controller_runtime_start loads the kubeconfig, makes a manager, registers the built-in
 * observer controller (below) and every setup function registered with
 * controller_runtime_register (the package reconcilers call it from their own code), and
 * starts it. controller_runtime_stop drains and frees it.
 *
 * The built-in "observer" controller is generic: it reconciles ConfigMaps in all
 * namespaces by reading them from the cache and logging one line per reconcile
 * (`observed key=ns/name resourceVersion=N` or `observed absent`), which makes the
 * machinery (informer, queue, workers, leader election) visible and testable before any
 * package reconciler exists. It never writes to the API.
 */
#ifndef PORTICO_CONTROLLER_RUNTIME_H
#define PORTICO_CONTROLLER_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#define CONTROLLER_RUNTIME_MAX_SETUPS 32

typedef struct controller_runtime_options {
  const char *kubeconfig;      /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
  bool leader_elect;
  const char *lease_namespace; /* NULL: the kubeconfig's namespace */
  const char *lease_name;      /* NULL: "portico-controller" */
  uint64_t lease_duration_ms, renew_deadline_ms, retry_period_ms; /* 0: 15 s / 10 s / 2 s */
  const char *health_addr;     /* NULL: none */
  bool health_optional;        /* the default address: busy is a warning, not a failure */
  int workers;                 /* 0: 2 */
  bool observer;               /* run the built-in observer controller */
  bool observer_quiet;         /* its per-object lines at debug level (embedded use) */
  bool handle_signals;         /* stop on SIGINT/SIGTERM */
} controller_runtime_options;

typedef struct controller_runtime controller_runtime;
/* Kept opaque here so that embedders (cmd/standalone.c) need no client headers; see
 * controller/manager.h. */
typedef struct controller_manager controller_manager;

/* A setup function adds controllers/informers to the manager before it starts. */
typedef int (*controller_setup_fn)(controller_manager *m, void *ctx);

/* Registers a setup function for every runtime started afterwards (process-wide). */
int controller_runtime_register(controller_setup_fn fn, void *ctx);

/* Loads config, builds and starts everything. *out owned: controller_runtime_stop. */
int controller_runtime_start(controller_runtime **out, const controller_runtime_options *opts);

/* Blocks until SIGINT/SIGTERM (or controller_manager_stop), then shuts down. */
int controller_runtime_wait(controller_runtime *r);

/* Asks the runtime to stop; does not block (safe from any thread or uv callback). */
void controller_runtime_request_stop(controller_runtime *r);

/* Stops (drains: in-flight reconciles finish, the Lease is released) and frees. Blocks
 * until done, and reconcilers may still call the API while draining, so an embedding
 * process must keep its API server serving meanwhile: never call this from the API
 * server's own loop thread. `portico standalone` does: after writing its kubeconfig,
 * controller_runtime_start({.kubeconfig = DIR/kubeconfig, .leader_elect = false,
 * .observer = true}); on SIGINT/SIGTERM, run controller_runtime_stop on another thread
 * (uv_queue_work) and close the server in its completion callback. */
void controller_runtime_stop(controller_runtime *r);

controller_manager *controller_runtime_manager(controller_runtime *r);

#endif
