/*
 * runtime: see runtime.h.
 */
#include "controller/runtime.h"

#include "base/error.h"
#include "base/log.h"
#include "controller/manager.h"
#include "controller/metrics.h"

#include <pthread.h>
#include <stdlib.h>

static const kube_resource CONTROLLER_OBSERVER_RESOURCE = {"", "v1", "configmaps", "ConfigMap", true};

struct controller_runtime {
  kubeconfig config;
  controller_manager *manager;
};

static struct {
  controller_setup_fn fn;
  void *ctx;
} setups[CONTROLLER_RUNTIME_MAX_SETUPS];
static int nsetups;
static pthread_mutex_t setups_mu = PTHREAD_MUTEX_INITIALIZER;

int controller_runtime_register(controller_setup_fn fn, void *ctx) {
  int rc = 0;
  pthread_mutex_lock(&setups_mu);
  if (nsetups >= CONTROLLER_RUNTIME_MAX_SETUPS)
    rc = error_set(ERR_LIMIT, "runtime: too many setup functions");
  else {
    setups[nsetups].fn = fn;
    setups[nsetups].ctx = ctx;
    nsetups++;
  }
  pthread_mutex_unlock(&setups_mu);
  return rc;
}

static reconcile_result observe(const reconcile_request *req) {
  informer *inf = controller_primary_informer(req->controller);
  json_t *obj = informer_get(inf, req->namespace, req->name);
  log_level lvl = req->user ? LOG_DEBUG : LOG_INFO;
  if (!obj) {
    log_write(lvl, req->key, "observed absent");
    metrics_counter_add("portico_observer_observations_total", "state=\"absent\"", 1);
    return reconcile_done();
  }
  json_t *md = json_object_get(obj, "metadata");
  const char *rv = json_string_value(json_object_get(md, "resourceVersion"));
  log_write(lvl, req->key, "observed resourceVersion=%s keys=%zu", rv ? rv : "",
           json_object_size(json_object_get(obj, "data")));
  metrics_counter_add("portico_observer_observations_total", "state=\"present\"", 1);
  json_decref(obj);
  return reconcile_done();
}

int controller_runtime_start(controller_runtime **out, const controller_runtime_options *o) {
  controller_runtime *r = calloc(1, sizeof *r);
  if (!r)
    return error_set(ERR_NOMEM, "runtime: out of memory");
  int rc = kubeconfig_resolve(&r->config, o->kubeconfig);
  if (rc) {
    free(r);
    return rc;
  }
  char desc[512];
  kubeconfig_describe(&r->config, desc, sizeof desc);
  log_info(NULL, "API server: %s", desc);
  controller_manager_options mo = {0};
  mo.config = &r->config;
  mo.workers = o->workers;
  mo.leader_elect = o->leader_elect;
  mo.lease_namespace = o->lease_namespace;
  mo.lease_name = o->lease_name;
  mo.lease_duration_ms = o->lease_duration_ms;
  mo.renew_deadline_ms = o->renew_deadline_ms;
  mo.retry_period_ms = o->retry_period_ms;
  mo.health_addr = o->health_addr;
  mo.health_optional = o->health_optional;
  mo.handle_signals = o->handle_signals;
  rc = controller_manager_new(&r->manager, &mo);
  if (rc) {
    kubeconfig_free(&r->config);
    free(r);
    return rc;
  }
  metrics_declare("portico_observer_observations_total", METRIC_COUNTER,
                  "Reconciles of the built-in observer controller by what it found.");
  if (o->observer)
    rc = controller_manager_add(r->manager, "observer", &CONTROLLER_OBSERVER_RESOURCE, observe,
                                o->observer_quiet ? (void *)r : NULL, NULL);
  pthread_mutex_lock(&setups_mu);
  for (int i = 0; !rc && i < nsetups; i++)
    rc = setups[i].fn(r->manager, setups[i].ctx);
  pthread_mutex_unlock(&setups_mu);
  if (!rc)
    rc = controller_manager_start(r->manager);
  if (rc) {
    int code = rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", error_message());
    controller_runtime_stop(r);
    return error_set(code, "%s", msg);
  }
  *out = r;
  return 0;
}

int controller_runtime_wait(controller_runtime *r) { return controller_manager_wait(r->manager); }

void controller_runtime_request_stop(controller_runtime *r) {
  if (r)
    controller_manager_stop(r->manager);
}

void controller_runtime_stop(controller_runtime *r) {
  if (!r)
    return;
  controller_manager_free(r->manager); /* stops and drains when running */
  kubeconfig_free(&r->config);
  free(r);
}

controller_manager *controller_runtime_manager(controller_runtime *r) { return r->manager; }
