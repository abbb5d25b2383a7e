/* Unit tests for cad/yaml_fast: the fast scanner takes kpt-style files, builds exactly the
 * tree libyaml builds, and gives up on everything outside its subset. */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/error.h"
#include "cad/yaml.h"
#include "cad/yaml_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses `text` with both parsers; the fast one must succeed and dump identically, and
 * both must write the text back unchanged. */
static void expect_same(const char *text, size_t len) {
  yml_file *fast = NULL, *ref = NULL;
  ck_assert_msg(yml_file_parse_mode(&fast, "t.yaml", text, len, YML_PARSE_FAST) == 0,
                "fast path gave up (yaml_fast.c:%d) on:\n%s", yml_fast_last_bail(), text);
  ck_assert_msg(yml_file_parse_mode(&ref, "t.yaml", text, len, YML_PARSE_LIBYAML) == 0, "%s",
                error_message());
  buf a = BUF_INIT, b = BUF_INIT;
  ck_assert_int_eq(yml_debug_dump(ref, &a), 0);
  ck_assert_int_eq(yml_debug_dump(fast, &b), 0);
  ck_assert_msg(!strcmp(buf_cstr(&a), buf_cstr(&b)), "trees differ for:\n%s\nlibyaml:\n%s\nfast:\n%s",
                text, buf_cstr(&a), buf_cstr(&b));
  buf_reset(&b);
  ck_assert_int_eq(yml_file_write(fast, &b), 0);
  ck_assert_uint_eq(b.len, len);
  ck_assert(len == 0 || !memcmp(b.data, text, len));
  buf_free(&a);
  buf_free(&b);
  yml_file_free(fast);
  yml_file_free(ref);
}

static void expect_same_str(const char *text) { expect_same(text, strlen(text)); }

/* The fast scanner must give up on `text`; yml_file_parse (libyaml then) gives the same
 * result, error or tree, as libyaml alone. */
static void expect_bail(const char *text) {
  size_t len = strlen(text);
  yml_file *f = NULL, *ref = NULL, *dflt = NULL;
  int rc = yml_file_parse_mode(&f, "t.yaml", text, len, YML_PARSE_FAST);
  ck_assert_msg(rc != 0, "fast path took:\n%s", text);
  int lrc = yml_file_parse_mode(&ref, "t.yaml", text, len, YML_PARSE_LIBYAML);
  char lmsg[512];
  snprintf(lmsg, sizeof(lmsg), "%s", lrc ? error_message() : "");
  if (rc != ERR_UNSUPPORTED) /* a check before both parsers */
    ck_assert_int_eq(rc, lrc);
  size_t taken0, bailed0, taken1, bailed1;
  yml_fast_stats(&taken0, &bailed0);
  int drc = yml_file_parse(&dflt, "t.yaml", text, len);
  yml_fast_stats(&taken1, &bailed1);
  ck_assert_int_eq(drc, lrc);
  ck_assert_uint_eq(taken1, taken0);
  if (lrc) {
    ck_assert_str_eq(error_message(), lmsg);
  } else {
    buf a = BUF_INIT, b = BUF_INIT;
    yml_debug_dump(ref, &a);
    yml_debug_dump(dflt, &b);
    ck_assert_str_eq(buf_cstr(&a), buf_cstr(&b));
    buf_free(&a);
    buf_free(&b);
  }
  yml_file_free(ref);
  yml_file_free(dflt);
}

/* n Deployments shaped like bench/pkg.sh's. */
static char *deployments(int n) {
  buf b = BUF_INIT;
  for (int r = 1; r <= n; r++)
    buf_printf(&b,
               "%s# resource %d\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%d\n"
               "  namespace: ns\n  labels:\n    app: app-%d\nspec:\n  replicas: %d\n  template:\n"
               "    spec:\n      containers:\n      - name: main\n"
               "        image: \"registry.example.com/app:%d\"\n        args: [--verbose, --port=8080]\n"
               "        env:\n        - name: MODE\n          value: production\n",
               r > 1 ? "---\n" : "", r, r, r, r, r);
  return buf_detach(&b, NULL);
}

START_TEST(bench_shaped_input_takes_the_fast_path) {
  char *text = deployments(40);
  size_t taken0, bailed0, taken1, bailed1;
  yml_fast_stats(&taken0, &bailed0);
  yml_file *f = NULL;
  ck_assert_int_eq(yml_file_parse(&f, "d.yaml", text, strlen(text)), 0);
  yml_fast_stats(&taken1, &bailed1);
  ck_assert_uint_eq(taken1, taken0 + 1);
  ck_assert_uint_eq(bailed1, bailed0);
  ck_assert_uint_eq(yml_file_doc_count(f), 40);
  ck_assert_str_eq(yml_lookup_str(yml_file_doc(f, 39), "metadata", "name", NULL), "app-40");
  yml_file_free(f);
  expect_same_str(text);
  free(text);
}
END_TEST

START_TEST(kill_switch_forces_libyaml) {
  const char *text = "a: 1\n";
  size_t taken0, taken1;
  setenv("PORTICO_YAML_FAST", "0", 1);
  yml_fast_stats(&taken0, NULL);
  yml_file *f = NULL;
  ck_assert_int_eq(yml_file_parse(&f, "k.yaml", text, strlen(text)), 0);
  yml_fast_stats(&taken1, NULL);
  ck_assert_uint_eq(taken1, taken0);
  yml_file_free(f);
  unsetenv("PORTICO_YAML_FAST");
  ck_assert_int_eq(yml_file_parse(&f, "k.yaml", text, strlen(text)), 0);
  yml_fast_stats(&taken1, NULL);
  ck_assert_uint_eq(taken1, taken0 + 1);
  yml_file_free(f);
}
END_TEST

static const char *const SUPPORTED[] = {
    "",
    "# only a comment\n\n   # another\n",
    "a: 1\n",
    "a: 1",
    "a:",
    "a:\nb: ~\nc:\n  d:\ne: null\nf:\n-\n- \n-   # c\n",
    "a: 1   \nb:   \n  c: x  \n",
    "a: 1 # one\nb: \"two\" # two\nc: [x, y] # three\nd: # four\n  - e # five\n",
    "- - a\n  - b\n- - - c\n    - d\n  - e\n-\n  - f\n",
    "- a: 1\n  b: 2\n- c: 3\n-   d: 4\n    e: 5\n",
    "spec:\n  containers:\n  - name: a\n    args:\n    - x\n    - y\n    image: b\n  - name: c\nafter: 1\n",
    "  a: 1\n  b:\n    c: 2\n",
    "# head\n---\na: 1\n# tail\n---   # c\n- b\n---\nc:\n",
    "a: 1\r\nb:\r\n  - x\r\n  - \"y\"\r\n# c\r\n---\r\nc: [1, 2]\r\n",
    "\"a b\": 1\n'c: d': 2\n\"e\\\"f\": 3\n'it''s': 4\na  : 5\n\"g\"   : 6\n",
    "image: registry.example.com:5000/app:v1\nurl: http://x.y/z?a=b\nk: a:b\nt: 12:30:00\n",
    "a: \"x # not a comment\"\nb: '# y'\nc: z#notcomment\nd: \"#\"\n",
    "name: \"h\xc3\xa9llo\"\nk\xc3\xa9y: v\xc3\xa9 # \xc3\xa9t\xc3\xa9\nemoji: \"\xf0\x9f\x98\x80\"\n",
    "a: \"t\\tn\\n \\\\ \\\" \\/ \\0 \\x41 \\u00e9 \\U0001F600 \\e \\N \\_ \\L \\P\"\n",
    "a: []\nb: [ ]\nc: [x]\nd: [ \"q\" , 'r' ,s t ]\n",
    "a: ?x\nb: :y\nc: x?\nd: ..z\ne: ---\nf: a - b\ng: x,y\nh: \"]\"\ni: -1\nj: --x\n",
    "\n\na: 1\n\n\n  \nb:\n\n  - x\n\n  - y\n\n",
    "a:\n- # c\n  b: 1\n-\n  # d\n  c: 2\n",
    "key:\n  value on its own line\nq:\n  'quoted'\nf:\n  [a, b]\n",
    "- #- -  \n -",
    "a: ''\nb: \"\"\nc: ['', \"\"]\n",
};

START_TEST(supported_constructs_match_libyaml) {
  for (size_t i = 0; i < sizeof(SUPPORTED) / sizeof(*SUPPORTED); i++)
    expect_same_str(SUPPORTED[i]);
}
END_TEST

static const char *const UNSUPPORTED[] = {
    "a: &x 1\nb: 2\n",              /* anchor */
    "a: 1\nb: *x\n",                /* alias (an error, too) */
    "a: !!str 1\n",                 /* tag */
    "%YAML 1.2\n---\na: 1\n",       /* directive */
    "a: {b: 1}\n",                  /* flow mapping */
    "? a\n: b\n",                   /* complex key */
    "a: one\n  two\nb: c\n",        /* multi-line plain */
    "a: \"one\n  two\"\n",          /* multi-line double-quoted */
    "a: 'one\n  two'\n",            /* multi-line single-quoted */
    "a: |\n  x\n  y\n",             /* literal block scalar */
    "a: >-\n  z\n",                 /* folded block scalar */
    "a:\t1\n",                      /* tab */
    "# c\ta\nb: 1\n",               /* a tab even in a comment */
    "\xef\xbb\xbf" "a: 1\n",        /* byte-order mark */
    "a: \"\\q\"\n",                 /* unknown escape (an error) */
    "a: 1\n...\n---\nb: 2\n",       /* document end marker */
    "---\n---\na: 1\n",             /* empty document */
    "--- a\n",                      /* content on the --- line */
    "just a scalar\n",              /* scalar root */
    "[a, b]\n",                     /* flow root */
    "a: [a, [b]]\n",                /* nested flow */
    "a: [a, ]\n",                   /* trailing comma */
    "a: [x,\n  y]\n",               /* multi-line flow */
    "a: 1\nb: 2\na: 3\n",           /* duplicate key (the error comes from libyaml's run) */
    "a: b: c\n",                    /* error: mapping value in a plain scalar */
    "a: 1\n - b\n",                 /* error: bad indentation */
    "- a\nb: c\n",                  /* error: key after a root sequence */
    "a: -\n",                       /* error: block entry as a value */
    "a: 1\nb: \x01\n",              /* control character */
    "a: \xff\n",                    /* invalid UTF-8 */
    "a: 'x'#c\n",                   /* '#' glued to a value */
};

START_TEST(unsupported_constructs_bail_to_libyaml) {
  for (size_t i = 0; i < sizeof(UNSUPPORTED) / sizeof(*UNSUPPORTED); i++)
    expect_bail(UNSUPPORTED[i]);
  /* a key over 1000 bytes */
  buf b = BUF_INIT;
  for (int i = 0; i < 1100; i++)
    buf_putc(&b, 'k');
  buf_puts(&b, ": v\n");
  expect_bail(buf_cstr(&b));
  buf_free(&b);
}
END_TEST

START_TEST(errors_are_libyamls_with_file_and_line) {
  yml_file *f = NULL;
  const char *dup = "a: 1\nb: 2\na: 3\n";
  ck_assert_int_eq(yml_file_parse(&f, "d.yaml", dup, strlen(dup)), ERR_INVALID);
  ck_assert_msg(strstr(error_message(), "d.yaml:3:1: duplicate key \"a\""), "%s", error_message());
  const char *bad = "a:\n  b: 1\n c: 2\n";
  ck_assert_int_eq(yml_file_parse(&f, "pkg/x.yaml", bad, strlen(bad)), ERR_INVALID);
  ck_assert_msg(strstr(error_message(), "pkg/x.yaml:3:") == error_message(), "%s", error_message());
}
END_TEST

START_TEST(parsed_trees_edit_and_free_alike) {
  /* arena-allocated nodes: detach, move between files, edit, free in any order */
  char *text = deployments(3);
  yml_file *f = NULL, *g = NULL;
  ck_assert_int_eq(yml_file_parse(&f, "a.yaml", text, strlen(text)), 0);
  ck_assert_int_eq(yml_file_parse(&g, "b.yaml", "x: 1\n", 5), 0);
  yml_node *spec = yml_lookup(yml_file_doc(f, 1), "spec", NULL);
  yml_node *moved = yml_map_take_at(yml_file_doc(f, 1), (size_t)yml_map_index(yml_file_doc(f, 1), "spec"));
  ck_assert_ptr_eq(moved, spec);
  ck_assert_int_eq(yml_map_set(yml_file_doc(g, 0), "spec", moved), 0);
  yml_node *copy = yml_node_copy(yml_file_doc(f, 2));
  ck_assert_int_eq(yml_scalar_set(yml_lookup(yml_file_doc(f, 0), "kind", NULL), "Job", 3), 0);
  ck_assert_int_eq(yml_node_set_head_comment(yml_lookup(yml_file_doc(f, 0), "metadata", NULL), "# h"), 0);
  yml_file_free(f); /* g still holds nodes parsed from f's text */
  free(text);
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(g, &out), 0);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "x: 1\nspec:\n  replicas: 2\n"));
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "        args: [--verbose, --port=8080]\n"));
  buf_free(&out);
  ck_assert_str_eq(yml_lookup_str(copy, "metadata", "name", NULL), "app-3");
  yml_node_free(copy);
  yml_file_free(g);
}
END_TEST

static Suite *yaml_fast_suite(void) {
  Suite *s = suite_create("cad_yaml_fast");
  TCase *tc = tcase_create("fast");
  tcase_add_test(tc, bench_shaped_input_takes_the_fast_path);
  tcase_add_test(tc, kill_switch_forces_libyaml);
  tcase_add_test(tc, supported_constructs_match_libyaml);
  tcase_add_test(tc, unsupported_constructs_bail_to_libyaml);
  tcase_add_test(tc, errors_are_libyamls_with_file_and_line);
  tcase_add_test(tc, parsed_trees_edit_and_free_alike);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(yaml_fast_suite)
