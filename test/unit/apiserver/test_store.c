/* The SQLite store: round trip, revision counter, resource deletion, reopen. */
#include "apiserver/store.h"
#include "base/error.h"
#include "common/testutil.h"

#include <stdio.h>
#include <string.h>

typedef struct seen {
  char text[1024];
  long long max_rv;
  int count;
} seen;

static int collect(void *ctx, const char *resource, const char *key, const char *json, size_t len,
                   long long rv) {
  seen *s = ctx;
  size_t used = strlen(s->text);
  snprintf(s->text + used, sizeof(s->text) - used, "%s|%s|%.*s;", resource, key, (int)len, json);
  if (rv > s->max_rv)
    s->max_rv = rv;
  s->count++;
  return 0;
}

START_TEST(test_store_round_trip) {
  char *dir = testutil_tmpdir();
  store *s = NULL;
  ck_assert_int_eq(store_open(&s, dir), 0);
  ck_assert_int_eq(store_revision(s), 0);
  ck_assert_int_eq(store_put(s, "configmaps", "default/a", "{\"a\":1}", 7, 1), 0);
  ck_assert_int_eq(store_put(s, "configmaps", "default/b", "{\"b\":1}", 7, 2), 0);
  ck_assert_int_eq(store_put(s, "widgets.example.com", "ns/w", "{}", 2, 3), 0);
  ck_assert_int_eq(store_put(s, "configmaps", "default/a", "{\"a\":2}", 7, 4), 0);
  ck_assert_int_eq(store_delete(s, "configmaps", "default/b", 5), 0);
  ck_assert_int_eq(store_revision(s), 5);
  ck_assert_int_eq(store_begin(s), 0);
  ck_assert_int_eq(store_put(s, "configmaps", "default/c", "{}", 2, 6), 0);
  ck_assert_int_eq(store_delete_resource(s, "widgets.example.com", 7), 0);
  ck_assert_int_eq(store_commit(s), 0);
  store_close(s);
  ck_assert_int_eq(store_open(&s, dir), 0);
  ck_assert_int_eq(store_revision(s), 7); /* the counter survives deletions */
  seen got = {0};
  ck_assert_int_eq(store_load(s, collect, &got), 0);
  ck_assert_str_eq(got.text, "configmaps|default/a|{\"a\":2};configmaps|default/c|{};");
  ck_assert_int_eq(got.max_rv, 6);
  store_close(s);
  testutil_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(test_store_bad_dir) {
  store *s = NULL;
  ck_assert_int_ne(store_open(&s, "/proc/version/nope"), 0);
  ck_assert_ptr_null(s);
}
END_TEST

Suite *store_suite(void) {
  Suite *s = suite_create("store");
  TCase *tc = tcase_create("store");
  tcase_add_test(tc, test_store_round_trip);
  tcase_add_test(tc, test_store_bad_dir);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(store_suite)
