/* Unit tests for controller/kubeconfig: parsing, merging of a KUBECONFIG list, data and
 * file credentials, relative paths, in-cluster config with token rotation, and that the
 * description never contains credentials. Also the API error mapping of controller/client. */
#include "controller/client.h"
#include "controller/kubeconfig.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"

#include "common/testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *text) {
  char *p = str_printf("%s/%s", dir, name);
  ck_assert_int_eq(fs_write_atomic(p, text, strlen(text), 0600), 0);
  free(p);
}

START_TEST(parse_current_context) {
  char *d = testutil_tmpdir();
  write_file(d, "ca.pem", "CA-PEM");
  /* "Q0VSVA==" = "CERT", "S0VZ" = "KEY" */
  write_file(d, "config",
             "apiVersion: v1\nkind: Config\ncurrent-context: two\n"
             "clusters:\n- name: c1\n  cluster:\n    server: https://one:6443\n"
             "- name: c2\n  cluster:\n    server: https://two:6443/\n    certificate-authority: ca.pem\n"
             "users:\n- name: u2\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n"
             "contexts:\n- name: one\n  context: {cluster: c1, user: u2}\n"
             "- name: two\n  context:\n    cluster: c2\n    user: u2\n    namespace: team\n");
  char *p = str_printf("%s/config", d);
  kubeconfig kc;
  ck_assert_int_eq(kubeconfig_load_files(&kc, p), 0);
  ck_assert_str_eq(kc.server, "https://two:6443");
  ck_assert_str_eq(kc.namespace, "team");
  ck_assert_str_eq(kc.context, "two");
  ck_assert_uint_eq(kc.ca_len, 6);
  ck_assert(memcmp(kc.ca_pem, "CA-PEM", 6) == 0);
  ck_assert_uint_eq(kc.cert_len, 4);
  ck_assert(memcmp(kc.cert_pem, "CERT", 4) == 0);
  ck_assert(memcmp(kc.key_pem, "KEY", 3) == 0);
  ck_assert(!kc.insecure);
  kubeconfig_free(&kc);
  free(p);
  testutil_rmtree(d);
  free(d);
}
END_TEST

START_TEST(merge_list_first_wins) {
  char *d = testutil_tmpdir();
  write_file(d, "a", "current-context: ctx\n"
                     "contexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
                     "users:\n- name: u\n  user: {token: first-token}\n");
  write_file(d, "b", "current-context: other\n"
                     "clusters:\n- name: c\n  cluster:\n    server: http://b:1\n    insecure-skip-tls-verify: true\n"
                     "users:\n- name: u\n  user: {token: second-token}\n");
  char *list = str_printf("%s/a:%s/missing:%s/b", d, d, d);
  kubeconfig kc;
  ck_assert_int_eq(kubeconfig_load_files(&kc, list), 0);
  ck_assert_str_eq(kc.server, "http://b:1");
  ck_assert(kc.insecure);
  char *tok = kubeconfig_token(&kc);
  ck_assert_str_eq(tok, "first-token");
  free(tok);
  ck_assert_str_eq(kc.namespace, "default");
  char desc[512];
  kubeconfig_describe(&kc, desc, sizeof desc);
  ck_assert_ptr_null(strstr(desc, "first-token"));
  ck_assert_ptr_nonnull(strstr(desc, "auth=token"));
  kubeconfig_free(&kc);
  free(list);
  testutil_rmtree(d);
  free(d);
}
END_TEST

START_TEST(errors) {
  char *d = testutil_tmpdir();
  write_file(d, "noctx", "clusters: []\n");
  write_file(d, "badctx", "current-context: nope\ncontexts: []\n");
  write_file(d, "bad", "a: [unclosed\n");
  kubeconfig kc;
  char *p = str_printf("%s/noctx", d);
  ck_assert_int_eq(kubeconfig_load_files(&kc, p), ERR_INVALID);
  free(p);
  p = str_printf("%s/badctx", d);
  ck_assert_int_eq(kubeconfig_load_files(&kc, p), ERR_INVALID);
  free(p);
  p = str_printf("%s/bad", d);
  ck_assert_int_eq(kubeconfig_load_files(&kc, p), ERR_INVALID);
  free(p);
  p = str_printf("%s/absent", d);
  ck_assert_int_eq(kubeconfig_load_files(&kc, p), ERR_NOTFOUND);
  free(p);
  testutil_rmtree(d);
  free(d);
}
END_TEST

START_TEST(in_cluster_token_rotation) {
  char *d = testutil_tmpdir();
  write_file(d, "token", "tok-1\n");
  write_file(d, "ca.crt", "CA");
  write_file(d, "namespace", "portico-system\n");
  kubeconfig kc;
  unsetenv("KUBERNETES_SERVICE_HOST");
  ck_assert_int_eq(kubeconfig_in_cluster(&kc, d), ERR_NOTFOUND);
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  ck_assert_int_eq(kubeconfig_in_cluster(&kc, d), 0);
  ck_assert_str_eq(kc.server, "https://10.0.0.1:443");
  ck_assert_str_eq(kc.namespace, "portico-system");
  char *t = kubeconfig_token(&kc);
  ck_assert_str_eq(t, "tok-1");
  free(t);
  usleep(20000); /* a distinct mtime */
  write_file(d, "token", "tok-2");
  t = kubeconfig_token(&kc);
  ck_assert_str_eq(t, "tok-2");
  free(t);
  kubeconfig_free(&kc);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  testutil_rmtree(d);
  free(d);
}
END_TEST

START_TEST(yaml_scalars) {
  json_t *j = NULL;
  const char *y = "a: true\nb: '1'\nc: 2\nd: null\ne: [x, 'y']\n";
  ck_assert_int_eq(kubeconfig_yaml_to_json(y, strlen(y), &j), 0);
  ck_assert(json_is_true(json_object_get(j, "a")));
  ck_assert_str_eq(json_string_value(json_object_get(j, "b")), "1");
  ck_assert_int_eq(json_integer_value(json_object_get(j, "c")), 2);
  ck_assert(json_is_null(json_object_get(j, "d")));
  ck_assert_uint_eq(json_array_size(json_object_get(j, "e")), 2);
  json_decref(j);
}
END_TEST

START_TEST(error_mapping) {
  json_t *st = json_pack("{s:s,s:i}", "reason", "AlreadyExists", "code", 409);
  ck_assert_int_eq(kube_error_from_status(409, st), ERR_EXISTS);
  json_object_set_new(st, "reason", json_string("Conflict"));
  ck_assert_int_eq(kube_error_from_status(409, st), ERR_CONFLICT);
  json_object_set_new(st, "reason", json_string("Expired"));
  ck_assert_int_eq(kube_error_from_status(410, st), ERR_GONE);
  json_decref(st);
  ck_assert_int_eq(kube_error_from_status(404, NULL), ERR_NOTFOUND);
  ck_assert_int_eq(kube_error_from_status(422, NULL), ERR_INVALID);
  ck_assert_int_eq(kube_error_from_status(403, NULL), ERR_FORBIDDEN);
  ck_assert_int_eq(kube_error_from_status(401, NULL), ERR_AUTH);
  ck_assert_int_eq(kube_error_from_status(429, NULL), ERR_LIMIT);
  ck_assert_int_eq(kube_error_from_status(503, NULL), ERR_UNAVAILABLE);
  ck_assert_int_eq(kube_error_from_status(504, NULL), ERR_TIMEOUT);
  ck_assert_int_eq(kube_error_from_status(200, NULL), 0);
}
END_TEST

START_TEST(paths) {
  kube_resource cm = {"", "v1", "configmaps", "ConfigMap", true};
  kube_resource lease = {"coordination.k8s.io", "v1", "leases", "Lease", true};
  kube_resource ns = {"", "v1", "namespaces", "Namespace", false};
  buf b = BUF_INIT;
  kube_path(&b, &cm, "default", "x", NULL);
  ck_assert_str_eq(buf_cstr(&b), "/api/v1/namespaces/default/configmaps/x");
  buf_reset(&b);
  kube_path(&b, &cm, NULL, NULL, NULL);
  ck_assert_str_eq(buf_cstr(&b), "/api/v1/configmaps");
  buf_reset(&b);
  kube_path(&b, &lease, "kube-system", "l", "status");
  ck_assert_str_eq(buf_cstr(&b), "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l/status");
  buf_reset(&b);
  kube_path(&b, &ns, "ignored", "team", NULL);
  ck_assert_str_eq(buf_cstr(&b), "/api/v1/namespaces/team");
  buf_reset(&b);
  kube_query_escape(&b, "a=b,c!=d");
  ck_assert_str_eq(buf_cstr(&b), "a%3Db%2Cc%21%3Dd");
  buf_free(&b);
}
END_TEST

static Suite *kubeconfig_suite(void) {
  Suite *s = suite_create("kubeconfig");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, parse_current_context);
  tcase_add_test(tc, merge_list_first_wins);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, in_cluster_token_rotation);
  tcase_add_test(tc, yaml_scalars);
  tcase_add_test(tc, error_mapping);
  tcase_add_test(tc, paths);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(kubeconfig_suite)
