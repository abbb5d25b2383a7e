/* Unit tests for cad/yaml: byte-identical round trips, in-place edits, JSON. */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/error.h"
#include "cad/yaml.h"

#include <stdio.h>
#include <string.h>

static yml_file *parse_ok(const char *text) {
  yml_file *f = NULL;
  int rc = yml_file_parse(&f, "t.yaml", text, strlen(text));
  ck_assert_msg(rc == 0, "parse failed: %s", error_message());
  return f;
}

/* Writes the file and compares with `want`. */
static void expect_write(yml_file *f, const char *want) {
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(f, &out), 0);
  ck_assert_str_eq(buf_cstr(&out), want);
  buf_free(&out);
}

static void roundtrip(const char *text) {
  yml_file *f = parse_ok(text);
  ck_assert(!yml_file_touched(f));
  expect_write(f, text);
  yml_file_free(f);
}

static const char *const ROUNDTRIPS[] = {
    "",
    "# only a comment\n",
    "a: 1\n",
    "a: 1",
    "---\na: 1\n---\nb: 2\n...\n",
    "# head\napiVersion: v1   # trailing\nkind: ConfigMap\n\n\nmetadata:\n    name: x\n",
    "list:\n- a\n-   b\n- {x: 1, y: [1, 2 ,3]}\n-\n  - nested\n",
    "anchors:\n  base: &b {x: 1}\n  use: *b\n  merged:\n    <<: *b\n    y: 2\n",
    "s: 'single ''q'''\nd: \"dq\\n\\t\\u00e9\"\nlit: |-\n  one\n\n  two\nfold: >\n  folded\n  text\n\n",
    "unicode: \"h\xc3\xa9llo\" # \xc3\xa9t\xc3\xa9\nk\xc3\xa9y: v\xc3\xa9\n",
    "%YAML 1.1\n---\n!!map {? a : b}\n",
    "tagged: !!str 123\nempty:\nnull_: ~\n",
    "long: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
    "\xEF\xBB\xBF" "bom: \xc3\xa9\n",
    "plain multi\n  line scalar\n",
    "a:\n  b:\n    c: 1 # deep\n  # trailing comment in a\n# top comment\nd: 2\n",
};

START_TEST(untouched_files_are_byte_identical) {
  for (size_t i = 0; i < sizeof(ROUNDTRIPS) / sizeof(*ROUNDTRIPS); i++)
    roundtrip(ROUNDTRIPS[i]);
}
END_TEST

START_TEST(parse_errors_name_file_and_line) {
  yml_file *f = NULL;
  const char *bad = "a: 1\nb: [1, 2\nc: 3\n";
  ck_assert_int_eq(yml_file_parse(&f, "pkg/x.yaml", bad, strlen(bad)), ERR_INVALID);
  ck_assert_ptr_null(f);
  ck_assert_msg(strstr(error_message(), "pkg/x.yaml:") == error_message(), "%s", error_message());
  const char *dup = "a: 1\nb: 2\na: 3\n";
  ck_assert_int_eq(yml_file_parse(&f, "d.yaml", dup, strlen(dup)), ERR_INVALID);
  ck_assert_msg(strstr(error_message(), "d.yaml:3:1: duplicate key \"a\""), "%s", error_message());
  const char *alias = "a: *nope\n";
  ck_assert_int_eq(yml_file_parse(&f, "x", alias, strlen(alias)), ERR_INVALID);
  const char *utf16 = "\xFF\xFE" "a\0:\0";
  ck_assert_int_eq(yml_file_parse(&f, "u", utf16, 6), ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "only UTF-8"));
  const char *stray = "a: 1\nb: \xEF\xBB\xBF" "x\n";
  ck_assert_int_eq(yml_file_parse(&f, "s", stray, strlen(stray)), ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "s:2: byte-order mark"));
}
END_TEST

START_TEST(navigation_and_values) {
  yml_file *f = parse_ok("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels: {a: b}\n"
                         "data:\n  x: 'quoted'\n  n: 12\n  t: true\n  s: \"12\"\n");
  yml_node *r = yml_file_doc(f, 0);
  ck_assert_str_eq(yml_lookup_str(r, "metadata", "name", NULL), "cm");
  ck_assert_str_eq(yml_lookup_str(r, "metadata", "labels", "a", NULL), "b");
  ck_assert_ptr_null(yml_lookup(r, "metadata", "nope", NULL));
  ck_assert_int_eq(yml_node_size(yml_lookup(r, "data", NULL)), 4);
  ck_assert(yml_scalar_is_string(yml_lookup(r, "data", "s", NULL)));
  ck_assert(!yml_scalar_is_string(yml_lookup(r, "data", "n", NULL)));
  ck_assert_int_eq(yml_node_line(yml_lookup(r, "metadata", "name", NULL)), 4);
  ck_assert_int_eq(yml_node_column(yml_lookup(r, "metadata", "name", NULL)), 9);
  yml_file_free(f);
}
END_TEST

START_TEST(edit_keeps_everything_else) {
  const char *in = "# head\napiVersion: v1 # api\nkind: ConfigMap\nmetadata:\n  name: cm # the name\n"
                   "  # about labels\n  labels:\n    a: b\ndata:\n  x: 'quoted'\n  y: \"dq\"\n";
  yml_file *f = parse_ok(in);
  yml_node *r = yml_file_doc(f, 0);
  ck_assert_int_eq(yml_map_set_str(yml_lookup(r, "data", NULL), "x", "new value"), 0);
  ck_assert_int_eq(yml_map_set_str(yml_lookup(r, "metadata", "labels", NULL), "c", "d"), 0);
  ck_assert(yml_file_touched(f));
  expect_write(f, "# head\napiVersion: v1 # api\nkind: ConfigMap\nmetadata:\n  name: cm # the name\n"
                  "  # about labels\n  labels:\n    a: b\n    c: d\ndata:\n  x: 'new value'\n  y: \"dq\"\n");
  yml_file_free(f);
}
END_TEST

START_TEST(remove_entries_and_items) {
  yml_file *f = parse_ok("a: 1\n# about b\nb: 2 # bee\nc: 3\nl:\n- x\n# about y\n- y\n- z\n");
  yml_node *r = yml_file_doc(f, 0);
  ck_assert_int_eq(yml_map_remove(r, "b"), 0);
  ck_assert_int_eq(yml_seq_remove_at(yml_map_get(r, "l"), 1), 0);
  expect_write(f, "a: 1\nc: 3\nl:\n- x\n- z\n");
  ck_assert_int_eq(yml_map_remove(r, "nope"), ERR_NOTFOUND);
  ck_assert_int_eq(yml_map_remove(r, "a"), 0);
  ck_assert_int_eq(yml_seq_remove_at(yml_map_get(r, "l"), 1), 0);
  expect_write(f, "c: 3\nl:\n- x\n");
  ck_assert_int_eq(yml_seq_remove_at(yml_map_get(r, "l"), 0), 0);
  expect_write(f, "c: 3\nl: []\n");
  yml_file_free(f);
}
END_TEST

START_TEST(new_nodes_in_kpt_layout) {
  yml_file *f = parse_ok("metadata:\n  name: x\nspec: {}\n");
  yml_node *r = yml_file_doc(f, 0);
  yml_node *ann = yml_map_ensure_map(yml_map_get(r, "metadata"), "annotations");
  ck_assert_ptr_nonnull(ann);
  ck_assert_int_eq(yml_map_set(ann, "id", yml_scalar_new("a|b", 3, YML_SINGLE_QUOTED)), 0);
  ck_assert_int_eq(yml_node_set_line_comment(yml_map_get(r, "metadata"), "kpt-merge: /x"), 0);
  yml_node *spec = yml_map_new(YML_BLOCK);
  yml_node *cs = yml_seq_new(YML_BLOCK);
  yml_node *c = yml_map_new(YML_BLOCK);
  yml_map_set(c, "name", yml_str_new("app"));
  yml_map_set(c, "args", yml_seq_new(YML_BLOCK));
  yml_map_set(c, "on", yml_str_new("yes"));
  yml_map_set(c, "num", yml_str_new("1"));
  yml_map_set(c, "text", yml_str_new("a\nb\n"));
  yml_seq_append(cs, c);
  yml_map_set(spec, "containers", cs);
  ck_assert_int_eq(yml_map_set(r, "spec", spec), 0);
  expect_write(f, "metadata: # kpt-merge: /x\n  name: x\n  annotations:\n    id: 'a|b'\nspec:\n"
                  "  containers:\n  - name: app\n    args: []\n    \"on\": \"yes\"\n    num: \"1\"\n"
                  "    text: |\n      a\n      b\n");
  char *cm = yml_node_line_comment(yml_map_get(r, "metadata"));
  ck_assert_str_eq(cm, "kpt-merge: /x");
  free(cm);
  yml_file_free(f);
}
END_TEST

START_TEST(copy_between_files_reindents) {
  yml_file *a = parse_ok("top:\n      deep:\n        k: v # keep\n        l:\n        - 1\n");
  yml_file *b = parse_ok("x:\n  y: 1\n");
  yml_node *deep = yml_lookup(yml_file_doc(a, 0), "top", "deep", NULL);
  ck_assert_int_eq(yml_map_set(yml_map_get(yml_file_doc(b, 0), "x"), "deep", yml_node_copy(deep)), 0);
  yml_file_free(a); /* the copy keeps its source alive */
  expect_write(b, "x:\n  y: 1\n  deep:\n    k: v # keep\n    l:\n    - 1\n");
  yml_file_free(b);
}
END_TEST

START_TEST(documents_add_remove) {
  yml_file *f = parse_ok("# first\na: 1\n---\n# second\nb: 2\n---\nc: 3\n");
  ck_assert_int_eq(yml_file_doc_count(f), 3);
  ck_assert_int_eq(yml_file_remove_doc(f, 1), 0);
  yml_node *m = yml_map_new(YML_BLOCK);
  yml_map_set(m, "d", yml_plain_new("4"));
  ck_assert_int_eq(yml_file_add_doc(f, m), 0);
  expect_write(f, "# first\na: 1\n---\nc: 3\n---\nd: 4\n");
  yml_file_free(f);
  yml_file *n = yml_file_new();
  yml_node *s = yml_map_new(YML_BLOCK);
  yml_map_set(s, "k", yml_str_new("v"));
  yml_file_add_doc(n, s);
  expect_write(n, "k: v\n");
  yml_file_free(n);
}
END_TEST

START_TEST(json_round_trip_and_equality) {
  yml_file *f = parse_ok("a: 1\nb: [x, 'y', \"2\"]\nc: {d: true, e: null, f: 1.5}\n");
  json_t *j = yml_to_json(yml_file_doc(f, 0));
  char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(s, "{\"a\":1,\"b\":[\"x\",\"y\",\"2\"],\"c\":{\"d\":true,\"e\":null,\"f\":1.5}}");
  free(s);
  yml_node *back = yml_from_json(j);
  ck_assert(yml_node_equal(back, yml_file_doc(f, 0)));
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_node_write(back, &out), 0);
  ck_assert_str_eq(buf_cstr(&out), "a: 1\nb:\n- x\n- \"y\"\n- \"2\"\nc:\n  d: true\n  e: null\n  f: 1.5\n");
  buf_free(&out);
  yml_node_free(back);
  json_decref(j);
  yml_file *g = parse_ok("c: {f: 1.5, e: ~, d: true}\nb: [x, y, '2']\na: 1\n");
  ck_assert(yml_node_equal(yml_file_doc(f, 0), yml_file_doc(g, 0)));
  yml_scalar_set(yml_lookup(yml_file_doc(g, 0), "a", NULL), "2", 1);
  ck_assert(!yml_node_equal(yml_file_doc(f, 0), yml_file_doc(g, 0)));
  yml_file_free(g);
  yml_file_free(f);
}
END_TEST

START_TEST(scalar_set_keeps_style) {
  yml_file *f = parse_ok("a: plain\nb: 'sq'\nc: \"dq\"\nd: 3\n");
  yml_node *r = yml_file_doc(f, 0);
  yml_scalar_set(yml_map_get(r, "a"), "true", 4); /* would change type: quoted */
  yml_scalar_set(yml_map_get(r, "b"), "it's", 4);
  yml_scalar_set(yml_map_get(r, "c"), "x", 1);
  yml_scalar_set(yml_map_get(r, "d"), "4", 1);
  expect_write(f, "a: \"true\"\nb: 'it''s'\nc: \"x\"\nd: 4\n");
  yml_file_free(f);
}
END_TEST

START_TEST(moved_collection_keeps_properties_on_the_key_line) {
  /* a tag or anchor of a block collection placed under a key is written after the key:
   * on a line of its own it could sit at the key's column and not parse */
  static const char *const cases[][2] = {
      {"a: !--\n-\ni: {}\n", "z: 1\na: !--\n-\n"},
      {"a: &x\n- 1\n- 2\n", "z: 1\na: &x\n- 1\n- 2\n"},
      {"a: !t # note\n  b: 1\n", "z: 1\na: !t\n  b: 1\n"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    yml_file *f = parse_ok(cases[i][0]), *g = parse_ok("z: 1\n");
    yml_node *v = yml_node_copy(yml_lookup(yml_file_doc(f, 0), "a", NULL));
    ck_assert_int_eq(yml_map_set(yml_file_doc(g, 0), "a", v), 0);
    expect_write(g, cases[i][1]);
    yml_file_free(parse_ok(cases[i][1]));
    yml_file_free(f);
    yml_file_free(g);
  }
}
END_TEST

START_TEST(moved_multiline_scalar_stays_inside_its_key) {
  /* continuation lines of a multi-line plain scalar at varying indentation: moved under a
   * key elsewhere, the least indented one still lands right of the key */
  yml_file *f = parse_ok("x:\n  spec:\n    one\n      two\n    three\n");
  yml_file *g = parse_ok("z: 1\n");
  yml_node *v = yml_node_copy(yml_lookup(yml_file_doc(f, 0), "x", "spec", NULL));
  ck_assert_int_eq(yml_map_set(yml_file_doc(g, 0), "spec", v), 0);
  expect_write(g, "z: 1\nspec: one\n    two\n  three\n");
  yml_file *h = parse_ok("z: 1\nspec: one\n    two\n  three\n");
  ck_assert_str_eq(yml_lookup_str(yml_file_doc(h, 0), "spec", NULL), "one two three");
  yml_file_free(h);
  yml_file_free(f);
  yml_file_free(g);
}
END_TEST

static Suite *yaml_suite(void) {
  Suite *s = suite_create("cad_yaml");
  TCase *tc = tcase_create("yaml");
  tcase_add_test(tc, untouched_files_are_byte_identical);
  tcase_add_test(tc, parse_errors_name_file_and_line);
  tcase_add_test(tc, navigation_and_values);
  tcase_add_test(tc, edit_keeps_everything_else);
  tcase_add_test(tc, remove_entries_and_items);
  tcase_add_test(tc, new_nodes_in_kpt_layout);
  tcase_add_test(tc, copy_between_files_reindents);
  tcase_add_test(tc, documents_add_remove);
  tcase_add_test(tc, json_round_trip_and_equality);
  tcase_add_test(tc, scalar_set_keeps_style);
  tcase_add_test(tc, moved_collection_keeps_properties_on_the_key_line);
  tcase_add_test(tc, moved_multiline_scalar_stays_inside_its_key);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(yaml_suite)
