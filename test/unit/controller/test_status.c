/* Unit tests for controller/status (conditions, finalizers, status writes with conflict
 * retry and no-op skipping, aggregated events) and for the informer's indexes and label
 * selectors, the API-facing parts against test/support/faultserver.py. */
#include "controller/manager.h"
#include "controller/metrics.h"
#include "controller/status.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"

#include "common/testutil.h"
#include "controller/faultserver.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const kube_resource CM = {"", "v1", "configmaps", "ConfigMap", true};
static const kube_resource EV = {"", "v1", "events", "Event", true};

START_TEST(condition_transitions) {
  json_t *o = json_pack("{s:{s:s}}", "metadata", "name", "x");
  bool ch = false;
  ck_assert_int_eq(condition_set(o, "Ready", "False", "Pending", "waiting", 1, "T1", &ch), 0);
  ck_assert(ch);
  json_t *c = condition_find(o, "Ready");
  ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "T1");
  /* same status, new message: changed, but the transition time stays */
  ck_assert_int_eq(condition_set(o, "Ready", "False", "Pending", "still waiting", 2, "T2", &ch), 0);
  ck_assert(ch);
  ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "T1");
  ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 2);
  /* identical: no change */
  ck_assert_int_eq(condition_set(o, "Ready", "False", "Pending", "still waiting", 2, "T3", &ch), 0);
  ck_assert(!ch);
  /* flip: time moves */
  ck_assert_int_eq(condition_set(o, "Ready", "True", "Synced", "", 2, "T4", &ch), 0);
  ck_assert(ch);
  ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")), "T4");
  ck_assert(condition_is_true(o, "Ready"));
  ck_assert_int_eq(condition_set(o, "Ready", "Maybe", "X", "", 2, NULL, &ch), ERR_INVALID);
  condition_set(o, "Other", "Unknown", "X", "", 2, NULL, &ch);
  ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(o, "status"), "conditions")), 2);
  condition_remove(o, "Other", &ch);
  ck_assert(ch);
  ck_assert_ptr_null(condition_find(o, "Other"));
  json_decref(o);
}
END_TEST

START_TEST(finalizers) {
  json_t *o = json_pack("{s:{s:s}}", "metadata", "name", "x");
  bool ch;
  ck_assert(!finalizer_has(o, "portico.dev/f"));
  finalizer_add(o, "a/b", &ch);
  ck_assert(ch);
  finalizer_add(o, "a/b", &ch);
  ck_assert(!ch);
  finalizer_add(o, "c/d", &ch);
  ck_assert(finalizer_has(o, "a/b") && finalizer_has(o, "c/d"));
  finalizer_remove(o, "a/b", &ch);
  ck_assert(ch);
  ck_assert(!finalizer_has(o, "a/b"));
  ck_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(json_object_get(o, "metadata"), "finalizers"), 0)),
                   "c/d");
  json_decref(o);
}
END_TEST

/* --- against the fault server ------------------------------------------------------- */

static pid_t server_pid;
static char *tmp;
static kubeconfig kc;
static controller_manager *mgr;
static informer *cms;

static void by_app(void *ctx, const json_t *obj, json_t *values) {
  (void)ctx;
  const char *app = json_string_value(
      json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), "app"));
  if (app)
    json_array_append_new(values, json_string(app));
}

static void api_setup(void) {
  server_pid = faultserver_start(&tmp, &kc);
  controller_manager_options o = {0};
  o.config = &kc;
  ck_assert_int_eq(controller_manager_new(&mgr, &o), 0);
  ck_assert_int_eq(controller_manager_informer(mgr, &CM, &cms), 0);
  ck_assert_int_eq(informer_add_index(cms, "app", by_app, NULL), 0);
  ck_assert_int_eq(controller_manager_start(mgr), 0);
}

static void api_teardown(void) {
  controller_manager_free(mgr);
  faultserver_stop(server_pid, tmp, &kc);
  metrics_reset();
}

static double stat_of(const char *name) {
  kube_response r;
  kube_call(controller_manager_client(mgr), "GET", "/_stats", NULL, NULL, 0, &r);
  double v = json_number_value(json_object_get(r.body, name));
  kube_response_free(&r);
  return v;
}

static void fault(const char *json) {
  json_t *body = json_loads(json, 0, NULL);
  kube_response r;
  ck_assert_int_eq(kube_call(controller_manager_client(mgr), "POST", "/_fault", body, NULL, 0, &r), 0);
  kube_response_free(&r);
  json_decref(body);
}

static int set_ready(void *ctx, json_t *obj) {
  return condition_set(obj, "Ready", ctx, "Test", "", 1, "2026-01-01T00:00:00Z", NULL);
}

START_TEST(status_update_conflicts_and_noop) {
  kube_client *c = controller_manager_client(mgr);
  json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", "s1"), *created = NULL;
  int crc = kube_create(c, &CM, "default", obj, &created);
  ck_assert_msg(crc == 0, "create: %s", error_message());
  ck_assert_int_eq(kube_create(c, &CM, "default", obj, NULL), ERR_EXISTS);
  json_decref(obj);
  /* two injected conflicts: re-read and retried, then written */
  fault("{\"conflicts\": 2}");
  double puts0 = stat_of("PUT");
  json_t *stored = NULL;
  bool written = false;
  ck_assert_int_eq(status_update(c, &CM, created, set_ready, "True", &stored, &written), 0);
  ck_assert(written);
  ck_assert_double_eq(stat_of("PUT") - puts0, 3);
  ck_assert(condition_is_true(stored, "Ready"));
  /* same status again: no write at all */
  double puts1 = stat_of("PUT");
  json_t *again = NULL;
  ck_assert_int_eq(status_update(c, &CM, stored, set_ready, "True", &again, &written), 0);
  ck_assert(!written);
  ck_assert_double_eq(stat_of("PUT"), puts1);
  /* a stale copy (old resourceVersion) conflicts for real and is retried on fresh data */
  ck_assert_int_eq(status_update(c, &CM, created, set_ready, "False", NULL, &written), 0);
  ck_assert(written);
  /* conflicts forever: bounded */
  fault("{\"conflicts\": 100}");
  ck_assert_int_eq(status_update(c, &CM, again, set_ready, "Unknown", NULL, &written), ERR_CONFLICT);
  fault("{\"conflicts\": 0}");
  json_t *missing = NULL;
  ck_assert_int_eq(kube_get(c, &CM, "default", "nope", &missing), ERR_NOTFOUND);
  kube_response r;
  kube_call(c, "GET", "/api/v1/namespaces/default/configmaps/nope", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.http_status, 404);
  ck_assert_str_eq(r.reason, "NotFound");
  kube_response_free(&r);
  json_decref(created);
  json_decref(stored);
  json_decref(again);
}
END_TEST

START_TEST(events_aggregate) {
  kube_client *c = controller_manager_client(mgr);
  event_recorder *rec;
  ck_assert_int_eq(event_recorder_new(&rec, c, "portico-test"), 0);
  json_t *inv = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                          "metadata", "name", "e1", "namespace", "default", "uid", "u-1");
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(event_record(rec, inv, "Warning", "Failed", "it failed: %d", 7), 0);
  ck_assert_int_eq(event_record(rec, inv, "Normal", "Synced", "ok"), 0);
  json_t *list = NULL;
  ck_assert_int_eq(kube_list(c, &EV, "default", NULL, 0, NULL, &list), 0);
  json_t *items = json_object_get(list, "items");
  ck_assert_uint_eq(json_array_size(items), 2);
  size_t i;
  json_t *ev;
  int seen = 0;
  json_array_foreach(items, i, ev) {
    if (str_eq(json_string_value(json_object_get(ev, "reason")), "Failed")) {
      ck_assert_int_eq(json_integer_value(json_object_get(ev, "count")), 3);
      ck_assert_str_eq(json_string_value(json_object_get(ev, "message")), "it failed: 7");
      ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "involvedObject"), "name")), "e1");
      ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "source"), "component")), "portico-test");
      ck_assert_ptr_nonnull(json_object_get(ev, "firstTimestamp"));
      seen++;
    }
  }
  ck_assert_int_eq(seen, 1);
  json_decref(list);
  json_decref(inv);
  event_recorder_free(rec);
}
END_TEST

START_TEST(informer_indexes_and_selectors) {
  kube_client *c = controller_manager_client(mgr);
  const char *objs[][3] = {{"default", "i1", "web"}, {"default", "i2", "db"}, {"other", "i3", "web"}};
  for (size_t i = 0; i < 3; i++) {
    json_t *o = json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", objs[i][1], "labels", "app", objs[i][2]);
    ck_assert_int_eq(kube_create(c, &CM, objs[i][0], o, NULL), 0);
    json_decref(o);
  }
  for (int i = 0; i < 100 && informer_count(cms) < 3; i++)
    usleep(50000);
  ck_assert(informer_synced(cms));
  json_t *web = informer_by_index(cms, "app", "web");
  ck_assert_uint_eq(json_array_size(web), 2);
  json_decref(web);
  json_t *sel = informer_select(cms, "default", "app=web");
  ck_assert_uint_eq(json_array_size(sel), 1);
  json_decref(sel);
  sel = informer_select(cms, NULL, "app!=web");
  ck_assert_uint_eq(json_array_size(sel), 1);
  json_decref(sel);
  json_t *ns = informer_list(cms, "other");
  ck_assert_uint_eq(json_array_size(ns), 1);
  json_decref(ns);
  /* an update moves the object between index values */
  json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "db");
  ck_assert_int_eq(kube_patch(c, &CM, "other", "i3", NULL, "merge", patch, NULL), 0);
  json_decref(patch);
  for (int i = 0; i < 100; i++) {
    web = informer_by_index(cms, "app", "web");
    size_t n = json_array_size(web);
    json_decref(web);
    if (n == 1)
      break;
    usleep(50000);
  }
  json_t *db = informer_by_index(cms, "app", "db");
  ck_assert_uint_eq(json_array_size(db), 2);
  json_decref(db);
  json_t *got = informer_get(cms, "default", "i1");
  ck_assert_ptr_nonnull(got);
  ck_assert_str_eq(json_string_value(json_object_get(got, "kind")), "ConfigMap");
  json_decref(got);
  bool m;
  ck_assert_int_eq(informer_labels_match(NULL, "x in (a)", &m), ERR_INVALID);
}
END_TEST

static Suite *status_suite(void) {
  Suite *s = suite_create("status");
  TCase *tc = tcase_create("pure");
  tcase_add_test(tc, condition_transitions);
  tcase_add_test(tc, finalizers);
  suite_add_tcase(s, tc);
  TCase *api = tcase_create("api");
  tcase_add_checked_fixture(api, api_setup, api_teardown);
  tcase_set_timeout(api, 60);
  tcase_add_test(api, status_update_conflicts_and_noop);
  tcase_add_test(api, events_aggregate);
  tcase_add_test(api, informer_indexes_and_selectors);
  suite_add_tcase(s, api);
  return s;
}

TEST_MAIN(status_suite)
