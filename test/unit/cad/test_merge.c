/* Unit tests for cad/merge: kyaml merge3 rules, in-place edits, conflict reports. */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/error.h"
#include "cad/merge.h"
#include "cad/yaml.h"

#include <string.h>

typedef struct three {
  yml_file *d, *o, *u;
} three;

static yml_file *parse(const char *t) {
  yml_file *f = NULL;
  ck_assert_msg(yml_file_parse(&f, "t", t, strlen(t)) == 0, "%s", error_message());
  return f;
}

/* Merges and compares dest's text with want. */
static void check(const char *d, const char *o, const char *u, const char *want, size_t conflicts) {
  yml_file *fd = parse(d), *fo = o ? parse(o) : NULL, *fu = parse(u);
  merge_report rep = {0};
  ck_assert_msg(merge_resource(yml_file_doc(fd, 0), fo ? yml_file_doc(fo, 0) : NULL,
                               yml_file_doc(fu, 0), &rep, "f.yaml", "r") == 0,
                "%s", error_message());
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(fd, &out), 0);
  ck_assert_str_eq(buf_cstr(&out), want);
  ck_assert_int_eq(rep.n, conflicts);
  buf_free(&out);
  merge_report_free(&rep);
  yml_file_free(fd);
  yml_file_free(fo);
  yml_file_free(fu);
}

START_TEST(scalars) {
  /* upstream change taken, local change kept, untouched bytes stay */
  check("a: 1 # one\nb: 'x' # bee\nc: 3\n", "a: 1\nb: x\nc: 3\n", "a: 2\nb: x\nc: 3\n",
        "a: 2\nb: 'x' # bee\nc: 3\n", 0); /* a replaced value takes its comment along, as kpt */
  check("a: 5\n", "a: 1\n", "a: 1\n", "a: 5\n", 0);
  /* both changed: upstream wins, conflict recorded */
  check("a: 5\n", "a: 1\n", "a: 2\n", "a: 2\n", 1);
  /* both made the same change: no conflict */
  check("a: 2\n", "a: 1\n", "a: 2\n", "a: 2\n", 0);
}
END_TEST

START_TEST(fields_added_and_removed) {
  check("a: 1\nlocal: x\n", "a: 1\nold: y\n", "a: 1\nz: 2\nnew: 1\n",
        "a: 1\nlocal: x\nnew: 1\nz: 2\n", 0);
  check("a: 1\nold: y\n", "a: 1\nold: y\n", "a: 1\n", "a: 1\n", 0);
  /* an explicit null upstream clears the field */
  check("a: 1\nb: 2\n", "a: 1\nb: 2\n", "a: 1\nb: null\n", "a: 1\n", 0);
  /* a map new upstream */
  check("a: 1\n", "a: 1\n", "a: 1\nm:\n  k: v\n", "a: 1\nm:\n  k: v\n", 0);
}
END_TEST

START_TEST(associative_lists) {
  const char *o = "c:\n- name: a\n  image: a:1\n- name: b\n  image: b:1\n";
  const char *u = "c:\n- name: a\n  image: a:2\n- name: b\n  image: b:1\n- name: n\n  image: n:1\n";
  const char *d =
      "c:\n- name: a # first\n  image: a:1\n- name: b\n  image: b:9\n- name: l\n  image: l:1\n";
  check(d, o, u,
        "c:\n- name: a # first\n  image: a:2\n- name: b\n  image: b:9\n- name: l\n  image: l:1\n"
        "- image: n:1\n  name: n\n", /* kyaml builds new items field by field, sorted */
        0);
  /* an item deleted upstream goes */
  check("c:\n- name: a\n- name: b\n", "c:\n- name: a\n- name: b\n", "c:\n- name: a\n",
        "c:\n- name: a\n", 0);
}
END_TEST

START_TEST(duplicate_merge_keys_all_take_the_merged_item) {
  /* kyaml's ElementSetter sets every element matching the key: both "a" items become the
   * merge of the first ones (kpt 1.0.0-beta.56 writes x2 twice) */
  check("l:\n- name: a\n  v: x\n- name: a\n  v: y\n- name: b\n  v: z\n",
        "l:\n- name: a\n  v: x\n- name: a\n  v: y\n- name: b\n  v: z\n",
        "l:\n- name: a\n  v: x2\n- name: a\n  v: y2\n- name: b\n  v: z\n",
        "l:\n- name: a\n  v: x2\n- name: a\n  v: x2\n- name: b\n  v: z\n", 0);
  /* deleted upstream: every duplicate goes */
  check("l:\n- name: a\n  v: x\n- name: b\n- name: a\n  v: y\n",
        "l:\n- name: a\n  v: x\n- name: b\n- name: a\n  v: y\n", "l:\n- name: b\n",
        "l:\n- name: b\n", 0);
  /* and a second merge changes nothing (the fuzz target's idempotence) */
  const char *once = "l:\n- name: a\n  v: x2\n- name: a\n  v: x2\n";
  check(once, once, once, once, 0);
}
END_TEST

START_TEST(plain_lists_replace) {
  check("l: [a, b]\n", "l: [a, b]\n", "l: [a, b, c]\n", "l: [a, b, c]\n", 0);
  check("l: [a, x]\n", "l: [a, b]\n", "l: [a, b]\n", "l: [a, x]\n", 0);
  check("l:\n- x\n", "l:\n- a\n", "l:\n- b\n", "l:\n- b\n", 1);
}
END_TEST

START_TEST(report_file) {
  yml_file *d = parse("spec:\n  replicas: 5\n"), *o = parse("spec:\n  replicas: 3\n"),
           *u = parse("spec:\n  replicas: 4\n");
  merge_report rep = {0};
  ck_assert_int_eq(merge_resource(yml_file_doc(d, 0), yml_file_doc(o, 0), yml_file_doc(u, 0), &rep,
                                  "deploy.yaml", "apps|Deployment|default|web"),
                   0);
  ck_assert_int_eq(rep.n, 1);
  ck_assert_str_eq(rep.items[0].field, "spec.replicas");
  ck_assert_str_eq(rep.items[0].local, "5");
  ck_assert_str_eq(rep.items[0].upstream, "4");
  ck_assert_str_eq(rep.items[0].original, "3");
  buf out = BUF_INIT;
  ck_assert_int_eq(merge_report_write(&rep, &out), 0);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "kind: FunctionResultList"));
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "path: spec.replicas"));
  yml_file *back = NULL;
  ck_assert_int_eq(yml_file_parse(&back, "r", out.data, out.len), 0);
  yml_file_free(back);
  buf_free(&out);
  merge_report_free(&rep);
  yml_file_free(d);
  yml_file_free(o);
  yml_file_free(u);
}
END_TEST

START_TEST(shape_mismatch_is_an_error) {
  yml_file *d = parse("a: [1]\n"), *o = parse("a: [1]\n"), *u = parse("a: {x: 1}\n");
  ck_assert_int_eq(
      merge_resource(yml_file_doc(d, 0), yml_file_doc(o, 0), yml_file_doc(u, 0), NULL, "f", "r"),
      ERR_INVALID);
  yml_file_free(d);
  yml_file_free(o);
  yml_file_free(u);
  /* a mapping key that is not a string is not KRM: refused, dest untouched */
  const char *text = "a: 1\nm:\n  ? {k: v}\n  : x\n";
  d = parse(text);
  u = parse("a: 2\n");
  ck_assert_int_eq(merge_resource(yml_file_doc(d, 0), NULL, yml_file_doc(u, 0), NULL, "f", "r"),
                   ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "not a string"));
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(d, &out), 0);
  ck_assert_str_eq(buf_cstr(&out), text);
  buf_free(&out);
  yml_file_free(d);
  yml_file_free(u);
}
END_TEST

/* The write guard (cad/yaml.c): after a merge, the file is written only if its text parses
 * again into the same documents; otherwise yml_file_write refuses with ERR_INVALID naming
 * the file. Inputs: libFuzzer's merge3 findings with explicit `?` keys, which the splicing
 * emitter misjudged (before the guard they were written as YAML that did not parse). */
START_TEST(write_guard_refuses_broken_edits) {
  static const char *const inputs[] = {
      "spec:-c:\n ?\n---\ns    ana    anamesp::-c:\n ?\n-mesp::-c:\n ?\n---\n?\n-mesp::-c:\n ?\n"
      "---\ns    s    acc",
      "spespe  as:\n  rpe~icas: >\n  c:\n  - ?   s:--\n\nsseNup: y\n               ",
      "spec:\n  repliplic    ac:\nc:\n  - ?\n-Arep    ac:\n  9.NULcas: 40",
      "?\n  u",
  };
  int refused = 0;
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    yml_file *f = parse(inputs[i]);
    size_t n = yml_file_doc_count(f);
    yml_node *d = yml_file_doc(f, 0);
    const yml_node *o = n > 1 ? yml_file_doc(f, 1) : NULL, *u = n > 2 ? yml_file_doc(f, 2) : d;
    merge_report rep = {0};
    if (d && yml_node_kind(d) == YML_MAP && merge_resource(d, o, u, &rep, "f", "r") == 0) {
      buf out = BUF_INIT;
      int rc = yml_file_write(f, &out);
      if (rc == 0) { /* written: it must read back as the merged tree */
        yml_file *g = parse(buf_cstr(&out));
        ck_assert_int_eq(yml_file_doc_count(g), n);
        for (size_t k = 0; k < n; k++)
          ck_assert(yml_node_equal(yml_file_doc(f, k), yml_file_doc(g, k)));
        yml_file_free(g);
      } else {
        ck_assert_int_eq(rc, ERR_INVALID);
        ck_assert_msg(strstr(error_message(), "cannot write t:") != NULL, "%s", error_message());
        refused++;
      }
      buf_free(&out);
    }
    merge_report_free(&rep);
    yml_file_free(f);
  }
  ck_assert_int_gt(refused, 0); /* the guard is exercised, not only the happy path */
}
END_TEST

static Suite *merge_suite(void) {
  Suite *s = suite_create("cad_merge");
  TCase *tc = tcase_create("merge");
  tcase_add_test(tc, scalars);
  tcase_add_test(tc, fields_added_and_removed);
  tcase_add_test(tc, associative_lists);
  tcase_add_test(tc, duplicate_merge_keys_all_take_the_merged_item);
  tcase_add_test(tc, plain_lists_replace);
  tcase_add_test(tc, report_file);
  tcase_add_test(tc, shape_mismatch_is_an_error);
  tcase_add_test(tc, write_guard_refuses_broken_edits);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(merge_suite)
