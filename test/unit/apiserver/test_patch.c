/* Merge patch (RFC 7386 examples), JSON patch (RFC 6902) and strategic merge patch. */
#include "apiserver/patch.h"
#include "base/error.h"
#include "common/testutil.h"

#include <string.h>

static void expect(int (*fn)(json_t **, const json_t *), const char *doc, const char *patch,
                   const char *want) {
  json_t *d = json_loads(doc, JSON_DECODE_ANY, NULL);
  json_t *p = json_loads(patch, JSON_DECODE_ANY, NULL);
  json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
  ck_assert_ptr_nonnull(d);
  ck_assert_ptr_nonnull(p);
  ck_assert_ptr_nonnull(w);
  int rc = fn(&d, p);
  ck_assert_msg(rc == 0, "%s + %s: %s", doc, patch, error_message());
  char *got = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  ck_assert_msg(json_equal(d, w), "%s + %s: got %s, want %s", doc, patch, got, want);
  free(got);
  json_decref(d);
  json_decref(p);
  json_decref(w);
}

static void expect_fail(int (*fn)(json_t **, const json_t *), const char *doc, const char *patch,
                        int code) {
  json_t *d = json_loads(doc, 0, NULL);
  json_t *p = json_loads(patch, JSON_DECODE_ANY, NULL);
  json_t *before = json_deep_copy(d);
  ck_assert_int_eq(fn(&d, p), code);
  ck_assert(json_equal(d, before)); /* unchanged on failure */
  json_decref(d);
  json_decref(p);
  json_decref(before);
}

START_TEST(test_merge_patch_rfc7386) {
  expect(patch_merge, "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
  expect(patch_merge, "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
  expect(patch_merge, "{\"a\":\"b\"}", "{\"a\":null}", "{}");
  expect(patch_merge, "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
  expect(patch_merge, "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}");
  expect(patch_merge, "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
  expect(patch_merge, "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}
END_TEST

START_TEST(test_json_patch) {
  expect(patch_json, "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":9}]", "{\"a\":[1,9,2]}");
  expect(patch_json, "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":3}]", "{\"a\":[1,2,3]}");
  expect(patch_json, "{\"a\":1,\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":2}");
  expect(patch_json, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":[]}]", "{\"a\":[]}");
  expect(patch_json, "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/c\"}]", "{\"a\":{},\"c\":1}");
  expect(patch_json, "{\"a\":{\"b\":1}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"}]", "{\"a\":{\"b\":1},\"c\":{\"b\":1}}");
  expect(patch_json, "{\"a/b\":1,\"m~n\":2}", "[{\"op\":\"remove\",\"path\":\"/a~1b\"},{\"op\":\"test\",\"path\":\"/m~0n\",\"value\":2}]", "{\"m~n\":2}");
  expect_fail(patch_json, "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", ERR_CONFLICT);
  expect_fail(patch_json, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":2}]", ERR_INVALID);
  expect_fail(patch_json, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/x/y\"}]", ERR_INVALID);
  expect_fail(patch_json, "{\"a\":1}", "[{\"op\":\"jump\",\"path\":\"/a\"}]", ERR_INVALID);
  expect_fail(patch_json, "{\"a\":1}", "{\"op\":\"add\"}", ERR_INVALID);
  /* all or nothing */
  expect_fail(patch_json, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},{\"op\":\"remove\",\"path\":\"/zz\"}]", ERR_INVALID);
}
END_TEST

START_TEST(test_strategic_merge_patch) {
  /* finalizers merge as a set, ownerReferences by uid, conditions by type */
  expect(patch_strategic, "{\"metadata\":{\"finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":[\"b\",\"a\"]}}",
         "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}");
  expect(patch_strategic, "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"x\"}]}}",
         "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"y\"},{\"uid\":\"2\",\"name\":\"z\"}]}}",
         "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"y\"},{\"uid\":\"2\",\"name\":\"z\"}]}}");
  expect(patch_strategic, "{\"status\":{\"conditions\":[{\"type\":\"A\",\"status\":\"False\"},{\"type\":\"B\"}]}}",
         "{\"status\":{\"conditions\":[{\"type\":\"A\",\"status\":\"True\"},{\"type\":\"B\",\"$patch\":\"delete\"}]}}",
         "{\"status\":{\"conditions\":[{\"type\":\"A\",\"status\":\"True\"}]}}");
  /* directives */
  expect(patch_strategic, "{\"data\":{\"a\":\"1\",\"b\":\"2\"}}", "{\"data\":{\"$patch\":\"replace\",\"c\":\"3\"}}",
         "{\"data\":{\"c\":\"3\"}}");
  expect(patch_strategic, "{\"data\":{\"a\":\"1\"},\"x\":1}", "{\"data\":{\"$patch\":\"delete\"}}", "{\"x\":1}");
  expect(patch_strategic, "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
         "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":[\"b\"]}}");
  expect(patch_strategic, "{\"spec\":{\"a\":1,\"b\":2}}", "{\"spec\":{\"$retainKeys\":[\"a\",\"c\"],\"c\":3}}",
         "{\"spec\":{\"a\":1,\"c\":3}}");
  expect(patch_strategic, "{\"l\":[1,2]}", "{\"$setElementOrder/l\":[3],\"l\":[3]}", "{\"l\":[3]}");
  expect(patch_strategic, "{\"data\":{\"a\":\"1\"}}", "{\"data\":{\"a\":null}}", "{\"data\":{}}");
  expect_fail(patch_strategic, "{\"a\":1}", "[1]", ERR_INVALID);
}
END_TEST

Suite *patch_suite(void) {
  Suite *s = suite_create("patch");
  TCase *tc = tcase_create("patch");
  tcase_add_test(tc, test_merge_patch_rfc7386);
  tcase_add_test(tc, test_json_patch);
  tcase_add_test(tc, test_strategic_merge_patch);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(patch_suite)
