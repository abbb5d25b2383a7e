/* Watch streams: initial state, resumption from a resourceVersion, selectors, 410 after
 * compaction, bookmarks and timeouts. Driven with a fake stream (registry_fixture.h). */
#include "registry_fixture.h"

#define CMS "/api/v1/namespaces/default/configmaps"
#define CMB(name, labels) \
  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name "\"" labels "}}"

static char *current_rv(fixture *f) {
  reply r = fixture_req(f, "GET", CMS, NULL, NULL);
  char *rv = str_dup(reply_str(&r, "metadata.resourceVersion"));
  reply_free(&r);
  return rv;
}

static void expect_events(api_stream *s, const char *want) {
  json_t *evs = stream_events(s);
  buf got = BUF_INIT;
  size_t i;
  json_t *e;
  json_array_foreach(evs, i, e) {
    const char *name = jpath_str(e, "object.metadata.name");
    buf_printf(&got, "%s%s:%s", i ? " " : "", jpath_str(e, "type"), name ? name : "-");
  }
  ck_assert_msg(!strcmp(buf_cstr(&got), want), "events: want '%s', got '%s'", want, buf_cstr(&got));
  buf_free(&got);
  json_decref(evs);
}

START_TEST(test_watch_from_rv_and_live) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("before", ""));
  char *rv = current_rv(&f);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("a", ""));
  char q[128];
  snprintf(q, sizeof(q), "watch=true&resourceVersion=%s", rv);
  reply w = fixture_req(&f, "GET", CMS, q, NULL);
  ck_assert_int_eq(w.status, 200);
  ck_assert_ptr_nonnull(w.stream);
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/a", NULL, "{\"data\":{\"x\":\"1\"}}");
  EXPECT_STATUS(&f, 200, "DELETE", CMS "/a", NULL, NULL);
  EXPECT_STATUS(&f, 201, "POST", "/api/v1/namespaces/default/secrets", NULL,
                "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"other-kind\"}}");
  expect_events(w.stream, "ADDED:a MODIFIED:a DELETED:a");
  /* every event carries the object's new resourceVersion, increasing */
  json_t *evs = stream_events(w.stream);
  long long prev = 0;
  size_t i;
  json_t *e;
  json_array_foreach(evs, i, e) {
    long long v = strtoll(jpath_str(e, "object.metadata.resourceVersion"), NULL, 10);
    ck_assert_int_gt(v, prev);
    prev = v;
  }
  json_decref(evs);
  fixture_stream_drop(w.stream);
  /* after the client left, writes still work */
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("b", ""));
  reply_free(&w);
  free(rv);
  fixture_close(&f);
}
END_TEST

START_TEST(test_watch_initial_state_and_selectors) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("web", ",\"labels\":{\"app\":\"web\"}"));
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("db", ",\"labels\":{\"app\":\"db\"}"));
  reply w = fixture_req(&f, "GET", CMS, "watch=1&labelSelector=app=web", NULL);
  reply byname = fixture_req(&f, "GET", "/api/v1/watch/namespaces/default/configmaps/db", NULL, NULL);
  reply all_ns = fixture_req(&f, "GET", "/api/v1/configmaps", "watch=true&fieldSelector=metadata.name=web", NULL);
  /* db starts matching, web stops matching */
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/db", NULL, "{\"metadata\":{\"labels\":{\"app\":\"web\"}}}");
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/web", NULL, "{\"metadata\":{\"labels\":{\"app\":\"none\"}}}");
  expect_events(w.stream, "ADDED:web ADDED:db DELETED:web");
  expect_events(byname.stream, "ADDED:db MODIFIED:db");
  expect_events(all_ns.stream, "ADDED:web MODIFIED:web");
  reply bad = fixture_req(&f, "GET", CMS, "watch=1&labelSelector=in in", NULL);
  ck_assert_int_eq(bad.status, 400);
  reply_free(&bad);
  reply_free(&w);
  reply_free(&byname);
  reply_free(&all_ns);
  fixture_close(&f); /* ends the open streams */
}
END_TEST

START_TEST(test_watch_gone_after_compaction) {
  fixture f;
  registry_options o = {.watch_history = 4};
  fixture_open(&f, &o);
  char *rv = current_rv(&f);
  for (int i = 0; i < 6; i++) {
    char body[256];
    snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"n%d\"}}", i);
    EXPECT_STATUS(&f, 201, "POST", CMS, NULL, body);
  }
  char q[128];
  snprintf(q, sizeof(q), "watch=true&resourceVersion=%s", rv);
  reply w = fixture_req(&f, "GET", CMS, q, NULL);
  ck_assert_int_eq(w.status, 200);
  json_t *evs = stream_events(w.stream);
  ck_assert_uint_eq(json_array_size(evs), 1);
  ck_assert_str_eq(jpath_str(evs, "0.type"), "ERROR");
  ck_assert_int_eq(jpath_int(evs, "0.object.code", 0), 410);
  ck_assert_str_eq(jpath_str(evs, "0.object.reason"), "Expired");
  ck_assert(str_has_prefix(jpath_str(evs, "0.object.message"), "too old resource version: "));
  ck_assert(w.stream->ended);
  json_decref(evs);
  reply_free(&w);
  /* a recent rv still resumes */
  char *recent = current_rv(&f);
  snprintf(q, sizeof(q), "watch=true&resourceVersion=%lld", strtoll(recent, NULL, 10) - 2);
  w = fixture_req(&f, "GET", CMS, q, NULL);
  expect_events(w.stream, "ADDED:n4 ADDED:n5");
  reply_free(&w);
  free(rv);
  free(recent);
  fixture_close(&f);
}
END_TEST

START_TEST(test_watch_bookmarks_and_timeout) {
  fixture f;
  registry_options o = {.bookmark_interval_ms = 20};
  fixture_open(&f, &o);
  char *rv = current_rv(&f);
  char q[160];
  snprintf(q, sizeof(q), "watch=true&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=1", rv);
  reply w = fixture_req(&f, "GET", CMS, q, NULL);
  uv_run(&f.loop, UV_RUN_DEFAULT); /* runs until the timeout ends the stream */
  ck_assert(w.stream->ended);
  json_t *evs = stream_events(w.stream);
  ck_assert_uint_ge(json_array_size(evs), 3);
  ck_assert_str_eq(jpath_str(evs, "0.type"), "BOOKMARK");
  ck_assert_str_eq(jpath_str(evs, "0.object.kind"), "ConfigMap");
  ck_assert_str_eq(jpath_str(evs, "0.object.metadata.resourceVersion"), rv);
  json_decref(evs);
  reply_free(&w);
  /* sendInitialEvents ends the initial list with a marked bookmark */
  w = fixture_req(&f, "GET", CMS, "watch=true&sendInitialEvents=true&allowWatchBookmarks=true", NULL);
  evs = stream_events(w.stream);
  ck_assert_str_eq(jpath_str(evs, "0.type"), "BOOKMARK");
  ck_assert_str_eq(jpath_str(evs, "0.object.metadata.annotations.k8s\\.io/initial-events-end"), "true");
  json_decref(evs);
  reply_free(&w);
  free(rv);
  fixture_close(&f);
}
END_TEST

START_TEST(test_watch_table) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("t1", ""));
  reply w = fixture_req_full(&f, "GET", CMS, "watch=true", NULL, NULL,
                             "application/json;as=Table;v=v1;g=meta.k8s.io");
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CMB("t2", ""));
  json_t *evs = stream_events(w.stream);
  ck_assert_uint_eq(json_array_size(evs), 2);
  ck_assert_str_eq(jpath_str(evs, "0.object.kind"), "Table");
  ck_assert_str_eq(jpath_str(evs, "0.object.rows.0.cells.0"), "t1");
  ck_assert_uint_gt(json_array_size(jpath_get(evs, "0.object.columnDefinitions")), 0);
  ck_assert_str_eq(jpath_str(evs, "1.object.rows.0.cells.0"), "t2");
  json_decref(evs);
  reply_free(&w);
  fixture_close(&f);
}
END_TEST

Suite *watch_suite(void) {
  Suite *s = suite_create("registry_watch");
  TCase *tc = tcase_create("watch");
  tcase_add_test(tc, test_watch_from_rv_and_live);
  tcase_add_test(tc, test_watch_initial_state_and_selectors);
  tcase_add_test(tc, test_watch_gone_after_compaction);
  tcase_add_test(tc, test_watch_bookmarks_and_timeout);
  tcase_add_test(tc, test_watch_table);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(watch_suite)
