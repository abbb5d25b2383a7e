/* Label and field selector parsing and matching. */
#include "apiserver/selector.h"
#include "base/error.h"
#include "common/testutil.h"

#include <string.h>

static bool matches(const char *sel, const char *labels_json) {
  selector *s = NULL;
  ck_assert_msg(selector_parse_labels(sel, &s) == 0, "%s: %s", sel, error_message());
  json_t *labels = json_loads(labels_json, 0, NULL);
  bool m = selector_matches_labels(s, labels);
  json_decref(labels);
  selector_free(s);
  return m;
}

START_TEST(test_label_operators) {
  const char *l = "{\"app\":\"web\",\"tier\":\"front\",\"n\":\"5\"}";
  ck_assert(matches("", l));
  ck_assert(matches("app=web", l));
  ck_assert(matches("app==web", l));
  ck_assert(!matches("app=db", l));
  ck_assert(matches("app!=db", l));
  ck_assert(matches("missing!=x", l));
  ck_assert(matches("app in (db, web)", l));
  ck_assert(!matches("app notin (web)", l));
  ck_assert(matches("missing notin (web)", l));
  ck_assert(matches("app", l));
  ck_assert(!matches("!app", l));
  ck_assert(matches("!missing", l));
  ck_assert(matches("app=web,tier=front", l));
  ck_assert(!matches("app=web,tier=back", l));
  ck_assert(matches("n>3", l));
  ck_assert(!matches("n<3", l));
  ck_assert(matches("example.com/key!=v", l));
  ck_assert(matches(" app = web ", l));
  ck_assert(matches("app=web", l) && !matches("app=web", "{}"));
}
END_TEST

START_TEST(test_label_errors) {
  const char *bad[] = {"app=(", "in", "app in web", "app in (a", "=x", "app=web,", "a b",
                       "app=has space", "Bad Key=x", "n>x", "app=" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    selector *s = NULL;
    int rc = selector_parse_labels(bad[i], &s);
    ck_assert_msg(rc == ERR_INVALID, "'%s' should fail", bad[i]);
    ck_assert_ptr_null(s);
    ck_assert(strlen(error_message()) > 0);
  }
  selector *s = NULL;
  ck_assert_int_eq(selector_parse_labels("app in (web", &s), ERR_INVALID);
  ck_assert(strstr(error_message(), "unable to parse requirement") != NULL);
}
END_TEST

START_TEST(test_fields) {
  selector *s = NULL;
  ck_assert_int_eq(selector_parse_fields("metadata.name=a,metadata.namespace!=b", NULL, &s), 0);
  json_t *obj = json_loads("{\"metadata\":{\"name\":\"a\",\"namespace\":\"c\"}}", 0, NULL);
  ck_assert(selector_matches_fields(s, obj));
  ck_assert_str_eq(selector_field_equals(s, "metadata.name"), "a");
  ck_assert_ptr_null(selector_field_equals(s, "metadata.namespace"));
  selector_free(s);
  ck_assert_int_eq(selector_parse_fields("metadata.name=b", NULL, &s), 0);
  ck_assert(!selector_matches_fields(s, obj));
  selector_free(s);
  ck_assert_int_eq(selector_parse_fields("spec.x=1", NULL, &s), ERR_INVALID);
  ck_assert_str_eq(error_message(), "field label not supported: spec.x");
  const char *extra[] = {"type", NULL};
  ck_assert_int_eq(selector_parse_fields("type=Opaque", extra, &s), 0);
  selector_free(s);
  ck_assert_int_eq(selector_parse_fields("metadata.name in (a)", NULL, &s), ERR_INVALID);
  json_decref(obj);
}
END_TEST

Suite *selector_suite(void) {
  Suite *s = suite_create("selector");
  TCase *tc = tcase_create("selector");
  tcase_add_test(tc, test_label_operators);
  tcase_add_test(tc, test_label_errors);
  tcase_add_test(tc, test_fields);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(selector_suite)
