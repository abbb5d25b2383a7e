/* Unit tests for cad/krm and cad/kptfile. */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "cad/kptfile.h"
#include "cad/krm.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static yml_file *parse_ok(const char *text) {
  yml_file *f = NULL;
  ck_assert_msg(yml_file_parse(&f, "t.yaml", text, strlen(text)) == 0, "%s", error_message());
  return f;
}

START_TEST(identity_and_annotations) {
  yml_file *f = parse_ok("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n---\n"
                         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns1\n"
                         "  annotations:\n    config.kubernetes.io/local-config: \"true\"\n");
  krm_id a, b;
  ck_assert_int_eq(krm_id_of(yml_file_doc(f, 0), &a), 0);
  ck_assert_int_eq(krm_id_of(yml_file_doc(f, 1), &b), 0);
  char *s = krm_id_upstream_string(&a);
  ck_assert_str_eq(s, "apps|Deployment|default|app");
  free(s);
  s = krm_id_upstream_string(&b);
  ck_assert_str_eq(s, "|ConfigMap|ns1|cm");
  free(s);
  s = krm_id_merge_comment(&a);
  ck_assert_str_eq(s, "/app");
  free(s);
  ck_assert(!krm_id_equal(&a, &b));
  ck_assert(krm_id_equal(&a, &a));
  krm_id_free(&a);
  krm_id_free(&b);
  ck_assert(!krm_is_local_config(yml_file_doc(f, 0)));
  ck_assert(krm_is_local_config(yml_file_doc(f, 1)));
  ck_assert_int_eq(krm_set_annotation(yml_file_doc(f, 0), "a/b", "x|y"), 0);
  ck_assert_str_eq(krm_annotation(yml_file_doc(f, 0), "a/b"), "x|y");
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(f, &out), 0);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "  name: app\n  annotations:\n    a/b: 'x|y'\n---\n"));
  buf_free(&out);
  ck_assert_int_eq(krm_remove_annotation(yml_file_doc(f, 0), "a/b"), 0);
  ck_assert_int_eq(yml_file_write(f, &out), 0);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "  name: app\n---\n"));
  buf_free(&out);
  yml_file_free(f);
}
END_TEST

START_TEST(seq_indent_detection) {
  const char *compact = "a:\n- x\n";
  const char *wide = "spec:\n  list:\n    - x\n";
  ck_assert_str_eq(krm_seq_indent_of(compact, strlen(compact)), "compact");
  ck_assert_str_eq(krm_seq_indent_of(wide, strlen(wide)), "wide");
  ck_assert_str_eq(krm_seq_indent_of("a: b\n", 5), "compact");
}
END_TEST

static void write_file(const char *dir, const char *rel, const char *text) {
  char *p = fs_join(dir, rel);
  char *slash = strrchr(p, '/');
  *slash = 0;
  fs_mkdir_p(p, 0755);
  *slash = '/';
  ck_assert_int_eq(fs_write_atomic(p, text, strlen(text), 0644), 0);
  free(p);
}

START_TEST(resource_list_round_trip) {
  char *dir = testutil_tmpdir();
  const char *deploy = "# head\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app # c\n"
                       "spec:\n  replicas: 1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n";
  write_file(dir, "deploy.yaml", deploy);
  write_file(dir, "sub/x.yml", "a: b\n");
  write_file(dir, "README.md", "not yaml: [\n");
  krm_pkg *p = NULL;
  ck_assert_msg(krm_pkg_read(&p, dir, 0) == 0, "%s", error_message());
  ck_assert_int_eq(p->nfiles, 2);
  yml_file *rl = NULL;
  ck_assert_int_eq(krm_rl_from_pkg(&rl, p, NULL), 0);
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(rl, &out), 0);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "items:\n- # head\n  apiVersion: apps/v1\n"));
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "      config.kubernetes.io/index: '1'\n"
                                               "      config.kubernetes.io/path: 'deploy.yaml'\n"));
  /* parse the text back, as a function's output would be */
  yml_file *back = NULL;
  ck_assert_int_eq(yml_file_parse(&back, "stdin", out.data, out.len), 0);
  krm_pkg *q = NULL;
  ck_assert_msg(krm_rl_to_pkg(&q, yml_file_doc(back, 0)) == 0, "%s", error_message());
  ck_assert_int_eq(q->nfiles, 2);
  buf d = BUF_INIT;
  ck_assert_int_eq(yml_file_write(krm_pkg_file(q, "deploy.yaml")->yaml, &d), 0);
  ck_assert_str_eq(buf_cstr(&d), deploy);
  buf_reset(&d);
  ck_assert_int_eq(yml_file_write(krm_pkg_file(q, "sub/x.yml")->yaml, &d), 0);
  ck_assert_str_eq(buf_cstr(&d), "a: b\n");
  buf_free(&d);
  buf_free(&out);
  krm_pkg_free(q);
  yml_file_free(back);
  yml_file_free(rl);
  krm_pkg_free(p);
  /* a symlink out of the package is refused */
  char *link = fs_join(dir, "evil.yaml");
  ck_assert_int_eq(symlink("/etc/hostname", link), 0);
  ck_assert_int_eq(krm_pkg_read(&p, dir, 0), ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "evil.yaml"));
  free(link);
  testutil_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(resource_list_rejects_escaping_paths) {
  const char *text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- a: b\n"
                     "  metadata:\n    annotations:\n      config.kubernetes.io/path: '../x.yaml'\n";
  yml_file *f = parse_ok(text);
  krm_pkg *p = NULL;
  ck_assert_int_eq(krm_rl_to_pkg(&p, yml_file_doc(f, 0)), ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "escapes"));
  yml_file_free(f);
  f = parse_ok("apiVersion: v1\nkind: List\n");
  ck_assert_int_eq(krm_rl_to_pkg(&p, yml_file_doc(f, 0)), ERR_INVALID);
  yml_file_free(f);
}
END_TEST

START_TEST(resource_list_items_written_back_parse) {
  /* a top-level key reading like a document marker is quoted at column 0 */
  const char *text = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n"
                     "- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: m\n  ... x: 1\n";
  yml_file *f = parse_ok(text);
  krm_pkg *p = NULL;
  ck_assert_int_eq(krm_rl_to_pkg(&p, yml_file_doc(f, 0)), 0);
  ck_assert_int_eq(p->nfiles, 1);
  buf out = BUF_INIT;
  ck_assert_int_eq(yml_file_write(p->files[0].yaml, &out), 0);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&out), "\"... x\": 1"));
  yml_file *g = parse_ok(buf_cstr(&out));
  yml_file_free(g);
  buf_free(&out);
  krm_pkg_free(p);
  yml_file_free(f);
  /* a non-string mapping key is not KRM */
  f = parse_ok("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n- ? {a: b}\n  : c\n");
  ck_assert_int_eq(krm_rl_to_pkg(&p, yml_file_doc(f, 0)), ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "not a string"));
  yml_file_free(f);
}
END_TEST

START_TEST(place_order) {
  krm_place v[] = {{"b.yaml", 0, 0}, {"a.yaml", 2, 1}, {"a.yaml", 1, 3}, {"a.yaml", 1, 2}};
  qsort(v, 4, sizeof(*v), krm_place_cmp);
  ck_assert_str_eq(v[0].path, "a.yaml");
  ck_assert_int_eq(v[0].index, 1);
  ck_assert_uint_eq(v[0].order, 2);
  ck_assert_uint_eq(v[1].order, 3);
  ck_assert_int_eq(v[2].index, 2);
  ck_assert_str_eq(v[3].path, "b.yaml");
}
END_TEST

static int kf_parse(const char *text) {
  kptfile *k = NULL;
  int rc = kptfile_parse(&k, "Kptfile", text, strlen(text));
  kptfile_free(k);
  return rc;
}

START_TEST(kptfile_validation) {
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: x\n"
                            "info:\n  description: d\n  keywords: [a]\n  readinessGates:\n"
                            "  - conditionType: Ready\npipeline:\n  mutators:\n"
                            "  - image: gcr.io/kpt-fn/set-labels:v0.1\n    configMap:\n      a: b\n"
                            "    selectors:\n    - kind: Deployment\n"
                            "inventory:\n  name: inv\nstatus:\n  conditions:\n  - type: Ready\n    status: \"True\"\n"),
                   0);
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1alpha2\nkind: Kptfile\n"), ERR_INVALID);
  ck_assert_ptr_nonnull(strstr(error_message(), "Kptfile:1:"));
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1\nkind: Other\n"), ERR_INVALID);
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  nmae: x\n"), ERR_INVALID);
  ck_assert_msg(strstr(error_message(), "Kptfile:4:3: field \"nmae\""), "%s", error_message());
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1\nkind: Kptfile\nupstream:\n  type: git\n"
                            "  git:\n    repo: r\n  updateStrategy: yolo\n"),
                   ERR_INVALID);
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1\nkind: Kptfile\npipeline:\n  mutators:\n"
                            "  - image: a\n    exec: b\n"),
                   ERR_INVALID);
  ck_assert_int_eq(kf_parse("apiVersion: kpt.dev/v1\nkind: Kptfile\ninfo:\n  keywords: x\n"), ERR_INVALID);
}
END_TEST

START_TEST(kptfile_upstream_in_kpt_order) {
  const char *text = "# keep me\napiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: up # n\n"
                     "info:\n  description: d\n";
  kptfile *k = NULL;
  ck_assert_int_eq(kptfile_parse(&k, "Kptfile", text, strlen(text)), 0);
  ck_assert_int_eq(kptfile_set_name(k, "down"), 0);
  kptfile_git g = {"file:///r", "/pkg", "main", NULL};
  ck_assert_int_eq(kptfile_set_upstream(k, &g, "resource-merge"), 0);
  g.commit = "abc";
  ck_assert_int_eq(kptfile_set_upstream_lock(k, &g), 0);
  buf out = BUF_INIT;
  ck_assert_int_eq(kptfile_write_buf(k, &out), 0);
  ck_assert_str_eq(buf_cstr(&out),
                   "# keep me\napiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: down # n\n"
                   "upstream:\n  type: git\n  git:\n    repo: file:///r\n    directory: /pkg\n"
                   "    ref: main\n  updateStrategy: resource-merge\nupstreamLock:\n  type: git\n"
                   "  git:\n    repo: file:///r\n    directory: /pkg\n    ref: main\n    commit: abc\n"
                   "info:\n  description: d\n");
  buf_free(&out);
  kptfile_git r;
  const char *st;
  ck_assert_int_eq(kptfile_upstream(k, &r, &st), 0);
  ck_assert_str_eq(r.repo, "file:///r");
  ck_assert_str_eq(st, "resource-merge");
  ck_assert_int_eq(kptfile_upstream_lock(k, &r), 0);
  ck_assert_str_eq(r.commit, "abc");
  kptfile_free(k);
  const char *kw[] = {"a", "b"};
  ck_assert_int_eq(kptfile_new_init(&k, "i2", "my desc", kw, 2, "https://x.y"), 0);
  ck_assert_int_eq(kptfile_write_buf(k, &out), 0);
  ck_assert_str_eq(buf_cstr(&out), "apiVersion: kpt.dev/v1\nkind: Kptfile\nmetadata:\n  name: i2\n"
                                   "  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"
                                   "info:\n  site: https://x.y\n  description: my desc\n  keywords:\n"
                                   "  - a\n  - b\n");
  buf_free(&out);
  kptfile_free(k);
}
END_TEST

static Suite *krm_suite(void) {
  Suite *s = suite_create("cad_krm");
  TCase *tc = tcase_create("krm");
  tcase_add_test(tc, identity_and_annotations);
  tcase_add_test(tc, seq_indent_detection);
  tcase_add_test(tc, resource_list_round_trip);
  tcase_add_test(tc, resource_list_rejects_escaping_paths);
  tcase_add_test(tc, resource_list_items_written_back_parse);
  tcase_add_test(tc, place_order);
  tcase_add_test(tc, kptfile_validation);
  tcase_add_test(tc, kptfile_upstream_in_kpt_order);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(krm_suite)
