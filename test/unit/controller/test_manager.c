/* Unit tests for controller/manager: the reconciler contract (done, retry with backoff,
 * requeue-after, terminal), owner and label mappings, and the reconcile metrics, with
 * real informers and workers against test/support/faultserver.py. */
#include "controller/manager.h"
#include "controller/metrics.h"
#include "base/error.h"

#include "common/testutil.h"
#include "controller/faultserver.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static const kube_resource CM = {"", "v1", "configmaps", "ConfigMap", true};
static const kube_resource SECRETS = {"", "v1", "secrets", "Secret", true};
static const kube_resource SERVICES = {"", "v1", "services", "Service", true};

static pid_t server_pid;
static char *tmp;
static kubeconfig kc;
static controller_manager *mgr;
static controller *ctl;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int calls_retry, calls_requeue, calls_terminal, calls_parent, calls_p2, concurrent, max_concurrent;
static double requeue_gap_ms;
static struct timespec first_requeue;

static double ms_since(const struct timespec *t) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t->tv_sec) * 1000 + (double)(now.tv_nsec - t->tv_nsec) / 1e6;
}

static reconcile_result reconcile(const reconcile_request *req) {
  pthread_mutex_lock(&mu);
  if (++concurrent > max_concurrent)
    max_concurrent = concurrent;
  reconcile_result r = reconcile_done();
  if (!strcmp(req->name, "retry")) {
    if (++calls_retry < 4)
      r = reconcile_retry(ERR_UNAVAILABLE, "try %d", calls_retry);
  } else if (!strcmp(req->name, "requeue")) {
    if (++calls_requeue == 1) {
      clock_gettime(CLOCK_MONOTONIC, &first_requeue);
      r = reconcile_requeue_after(300);
    } else if (calls_requeue == 2) {
      requeue_gap_ms = ms_since(&first_requeue);
    }
  } else if (!strcmp(req->name, "terminal")) {
    calls_terminal++;
    r = reconcile_terminal(ERR_INVALID, "bad spec");
  } else if (!strcmp(req->name, "parent")) {
    calls_parent++;
  } else if (!strcmp(req->name, "p2")) {
    calls_p2++;
  }
  ck_assert_ptr_eq(req->user, &kc);
  ck_assert_str_eq(req->namespace, "default");
  pthread_mutex_unlock(&mu);
  struct timespec d = {0, 2000000};
  nanosleep(&d, NULL);
  pthread_mutex_lock(&mu);
  concurrent--;
  pthread_mutex_unlock(&mu);
  return r;
}

static int get(int *v) {
  pthread_mutex_lock(&mu);
  int x = *v;
  pthread_mutex_unlock(&mu);
  return x;
}

static void wait_until(int *v, int want, int timeout_ms) {
  for (int i = 0; i < timeout_ms / 20 && get(v) < want; i++) {
    struct timespec d = {0, 20000000};
    nanosleep(&d, NULL);
  }
}

static void create(const kube_resource *res, const char *name, json_t *extra_md) {
  json_t *o = json_pack("{s:{s:s}}", "metadata", "name", name);
  if (extra_md)
    json_object_update(json_object_get(o, "metadata"), extra_md);
  ck_assert_int_eq(kube_create(controller_manager_client(mgr), res, "default", o, NULL), 0);
  json_decref(o);
  json_decref(extra_md);
}

static void setup(void) {
  server_pid = faultserver_start(&tmp, &kc);
  controller_manager_options o = {0};
  o.config = &kc;
  o.workers = 3;
  ck_assert_int_eq(controller_manager_new(&mgr, &o), 0);
  ck_assert_int_eq(controller_manager_add(mgr, "test", &CM, reconcile, &kc, &ctl), 0);
  ck_assert_int_eq(controller_watch_owned(ctl, &SECRETS), 0);
  ck_assert_int_eq(controller_watch_labeled(ctl, &SERVICES, "test.portico/parent"), 0);
  ck_assert_int_eq(controller_manager_start(mgr), 0);
}

static void teardown(void) {
  controller_manager_free(mgr);
  faultserver_stop(server_pid, tmp, &kc);
  metrics_reset();
}

START_TEST(results) {
  create(&CM, "retry", NULL);
  create(&CM, "requeue", NULL);
  create(&CM, "terminal", NULL);
  wait_until(&calls_retry, 4, 5000);
  wait_until(&calls_requeue, 2, 5000);
  ck_assert_int_eq(get(&calls_retry), 4); /* 3 failures backed off 5, 10, 20 ms, then done */
  ck_assert_int_eq(get(&calls_requeue), 2);
  ck_assert(requeue_gap_ms >= 290 && requeue_gap_ms < 2000);
  struct timespec d = {0, 300000000};
  nanosleep(&d, NULL);
  ck_assert_int_eq(get(&calls_terminal), 1); /* terminal: never retried */
  ck_assert_int_eq(get(&calls_retry), 4);
  ck_assert_int_eq(workqueue_num_requeues(controller_queue(ctl), "default/retry"), 0); /* forgotten */
  ck_assert_double_eq(metrics_value("portico_reconcile_total", "controller=\"test\",result=\"error\""), 3);
  ck_assert_double_eq(metrics_value("portico_reconcile_total", "controller=\"test\",result=\"terminal\""), 1);
  ck_assert_double_eq(metrics_value("portico_reconcile_errors_total", "controller=\"test\""), 4);
  ck_assert_double_ge(metrics_value("portico_reconcile_time_seconds", "controller=\"test\""), 6);
  ck_assert_int_le(get(&max_concurrent), 3);
}
END_TEST

START_TEST(mappings) {
  create(&CM, "parent", NULL);
  create(&CM, "p2", NULL);
  wait_until(&calls_parent, 1, 5000);
  wait_until(&calls_p2, 1, 5000);
  /* a child owned (controller=true) by the parent ConfigMap enqueues the parent */
  create(&SECRETS, "child",
         json_pack("{s:[{s:s,s:s,s:s,s:s,s:b}]}", "ownerReferences", "apiVersion", "v1", "kind",
                   "ConfigMap", "name", "parent", "uid", "x", "controller", 1));
  wait_until(&calls_parent, 2, 5000);
  ck_assert_int_eq(get(&calls_parent), 2);
  /* not the controller owner, or another kind: ignored */
  create(&SECRETS, "other",
         json_pack("{s:[{s:s,s:s,s:s,s:s}]}", "ownerReferences", "apiVersion", "v1", "kind",
                   "ConfigMap", "name", "parent", "uid", "x"));
  /* a labelled object enqueues the parent it names */
  create(&SERVICES, "svc", json_pack("{s:{s:s}}", "labels", "test.portico/parent", "p2"));
  wait_until(&calls_p2, 2, 5000);
  ck_assert_int_eq(get(&calls_p2), 2);
  ck_assert_int_eq(get(&calls_parent), 2);
  ck_assert(controller_manager_synced(mgr));
  ck_assert(controller_manager_is_leader(mgr)); /* no election: always leading */
}
END_TEST

/* Periodic resync: an unchanged object is reconciled again every resync period. */
static int calls_resync;
static reconcile_result count_resync(const reconcile_request *req) {
  (void)req;
  pthread_mutex_lock(&mu);
  calls_resync++;
  pthread_mutex_unlock(&mu);
  return reconcile_done();
}

START_TEST(resync) {
  pid_t pid = faultserver_start(&tmp, &kc);
  controller_manager_options o = {0};
  o.config = &kc;
  o.resync_ms = 150;
  ck_assert_int_eq(controller_manager_new(&mgr, &o), 0);
  ck_assert_int_eq(controller_manager_add(mgr, "resync", &CM, count_resync, NULL, &ctl), 0);
  ck_assert_int_eq(controller_manager_start(mgr), 0);
  create(&CM, "still", NULL);
  wait_until(&calls_resync, 4, 5000);
  ck_assert_int_ge(get(&calls_resync), 4);
  controller_manager_free(mgr);
  faultserver_stop(pid, tmp, &kc);
  metrics_reset();
}
END_TEST

static Suite *manager_suite(void) {
  Suite *s = suite_create("manager");
  TCase *tc = tcase_create("api");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, results);
  tcase_add_test(tc, mappings);
  suite_add_tcase(s, tc);
  TCase *rs = tcase_create("resync");
  tcase_set_timeout(rs, 60);
  tcase_add_test(rs, resync);
  suite_add_tcase(s, rs);
  return s;
}

TEST_MAIN(manager_suite)
