/* Unit tests for fn/builtin (ResourceList framing, results, each built-in) and fn/runner
 * (the protocol checks around a function, in process and sandboxed). */
#include "common/testutil.h"

#include "base/error.h"
#include "fn/builtin.h"
#include "fn/runner.h"

#include <string.h>

static const char *rl_head = "apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n";

/* Runs built-in `name` on items + config text; returns the output (caller frees). */
static char *run_builtin(const char *name, const char *items, const char *config, bool *failed) {
  buf in = BUF_INIT;
  buf_printf(&in, "%s%sfunctionConfig:\n%s", rl_head, items, config);
  buf out = BUF_INIT;
  int rc = builtin_run_text(name, in.data, in.len, &out, failed);
  ck_assert_msg(rc == 0, "builtin_run_text: %s", error_message());
  buf_free(&in);
  return buf_detach(&out, NULL);
}

static const char *deployment =
    "- apiVersion: apps/v1\n"
    "  kind: Deployment\n"
    "  metadata:\n"
    "    name: web # the web tier\n"
    "    namespace: old\n"
    "  spec:\n"
    "    selector:\n"
    "      matchLabels:\n"
    "        app: web\n"
    "    template:\n"
    "      metadata:\n"
    "        labels:\n"
    "          app: web\n"
    "      spec:\n"
    "        containers:\n"
    "        - name: main\n"
    "          image: nginx:1.14 # pinned\n";

static const char *cm_config(const char *data) {
  static char text[512];
  snprintf(text, sizeof(text),
           "  apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: conf\n  data:\n%s", data);
  return text;
}

START_TEST(rlist_rejects_what_is_not_a_resource_list) {
  fn_rlist rl;
  ck_assert_int_eq(fn_rlist_parse(&rl, "kind: ConfigMap\n", 16), ERR_INVALID);
  ck_assert_int_eq(fn_rlist_parse(&rl, "kind: ResourceList\nitems: 3\n", 28), ERR_INVALID);
  ck_assert_int_eq(fn_rlist_parse(&rl, "kind: ResourceList\nitems: [1]\n", 30), ERR_INVALID);
  ck_assert_int_ne(fn_rlist_parse(&rl, "{[", 2), 0);
  ck_assert_int_eq(fn_rlist_parse(&rl, "kind: ResourceList\n", 19), 0);
  ck_assert_uint_eq(yml_node_size(rl.items), 0);
  fn_rlist_free(&rl);
}
END_TEST

START_TEST(set_namespace_keeps_comments_and_reports) {
  bool failed;
  char *out = run_builtin("set-namespace", deployment, cm_config("    namespace: prod\n"), &failed);
  ck_assert(!failed);
  ck_assert_msg(strstr(out, "namespace: prod\n"), "%s", out);
  ck_assert(strstr(out, "name: web # the web tier"));
  ck_assert(strstr(out, "image: nginx:1.14 # pinned"));
  ck_assert(strstr(out, "results:"));
  ck_assert(strstr(out, "updated to \"prod\""));
  free(out);
  out = run_builtin("set-namespace", deployment, cm_config("    other: x\n"), &failed);
  ck_assert(failed);
  ck_assert(strstr(out, "severity: error"));
  free(out);
}
END_TEST

START_TEST(set_labels_reaches_selectors_and_templates) {
  bool failed;
  char *out = run_builtin("set-labels", deployment, cm_config("    env: prod\n"), &failed);
  ck_assert(!failed);
  *strstr(out, "functionConfig:") = 0; /* count in the items only */
  int n = 0;
  for (const char *p = strstr(out, "env: prod"); p; p = strstr(p + 1, "env: prod"))
    n++;
  ck_assert_int_eq(n, 3);
  free(out);
}
END_TEST

START_TEST(set_image_changes_only_the_named_image) {
  bool failed;
  char *out = run_builtin("set-image", deployment,
                          cm_config("    name: nginx\n    newTag: \"1.25\"\n"), &failed);
  ck_assert(!failed);
  ck_assert_msg(strstr(out, "image: nginx:1.25 # pinned"), "%s", out);
  free(out);
  out = run_builtin("set-image", deployment, cm_config("    name: redis\n    newTag: \"7\"\n"), &failed);
  ck_assert(strstr(out, "image: nginx:1.14 # pinned"));
  free(out);
  out = run_builtin("set-image", deployment, cm_config("    name: nginx\n"), &failed);
  ck_assert(failed);
  free(out);
}
END_TEST

START_TEST(ensure_name_substring_is_idempotent) {
  bool failed;
  char *out = run_builtin("ensure-name-substring", deployment, cm_config("    prepend: prod-\n"), &failed);
  ck_assert(strstr(out, "name: prod-web # the web tier"));
  buf again = BUF_INIT;
  ck_assert_int_eq(builtin_run_text("ensure-name-substring", out, strlen(out), &again, &failed), 0);
  ck_assert(!strstr(again.data, "prod-prod-"));
  buf_free(&again);
  free(out);
}
END_TEST

START_TEST(apply_setters_substitutes_patterns) {
  const char *items = "- apiVersion: v1\n"
                      "  kind: ConfigMap\n"
                      "  metadata:\n"
                      "    name: app # kpt-set: ${name}-config\n"
                      "  data:\n"
                      "    unset: x # kpt-set: ${nope}\n";
  bool failed;
  char *out = run_builtin("apply-setters", items, cm_config("    name: shop\n"), &failed);
  ck_assert(!failed);
  ck_assert_msg(strstr(out, "name: shop-config # kpt-set: ${name}-config"), "%s", out);
  ck_assert(strstr(out, "unset: x # kpt-set: ${nope}"));
  ck_assert(strstr(out, "field:"));
  free(out);
}
END_TEST

START_TEST(search_replace_by_path_patterns) {
  bool failed;
  char *out = run_builtin("search-replace", deployment,
                          cm_config("    by-path: spec.**.image\n    by-value-regex: nginx:(.*)\n"
                                    "    put-value: mirror/nginx:${1}\n"),
                          &failed);
  ck_assert(!failed);
  ck_assert_msg(strstr(out, "image: mirror/nginx:1.14"), "%s", out);
  free(out);
  /* Results name the file, so they come only for items that have one (as the catalog). */
  const char *with_file = "- apiVersion: v1\n"
                          "  kind: ConfigMap\n"
                          "  metadata:\n"
                          "    name: web\n"
                          "    annotations:\n"
                          "      config.kubernetes.io/path: 'cm.yaml'\n"
                          "  data:\n"
                          "    list:\n"
                          "    - name: web\n";
  out = run_builtin("search-replace", with_file, cm_config("    by-path: metadata.*\n    by-value: web\n"),
                    &failed);
  ck_assert_msg(strstr(out, "Matched field value \"web\""), "%s", out);
  ck_assert(strstr(out, "path: metadata.name"));
  free(out);
  out = run_builtin("search-replace", with_file, cm_config("    by-path: data.list[*].name\n"), &failed);
  ck_assert_msg(strstr(out, "path: data.list[0].name"), "%s", out);
  free(out);
  out = run_builtin("search-replace", with_file, cm_config("    by-path: spec.replicas\n    put-value: \"3\"\n"),
                    &failed);
  ck_assert_msg(strstr(out, "replicas: 3"), "%s", out);
  free(out);
  out = run_builtin("search-replace", with_file, cm_config("    by-value: nothing\n"), &failed);
  ck_assert(strstr(out, "message: no matches"));
  free(out);
  out = run_builtin("search-replace", deployment, cm_config("    bogus: x\n"), &failed);
  ck_assert(failed);
  ck_assert(strstr(out, "invalid matcher"));
  free(out);
  out = run_builtin("search-replace", deployment, cm_config("    by-value: a\n    by-value-regex: b\n"), &failed);
  ck_assert(failed);
  free(out);
}
END_TEST

START_TEST(apply_replacements_with_delimiter) {
  const char *items = "- apiVersion: v1\n"
                      "  kind: ConfigMap\n"
                      "  metadata:\n"
                      "    name: src\n"
                      "  data:\n"
                      "    version: \"2.0\"\n"
                      "- apiVersion: v1\n"
                      "  kind: ConfigMap\n"
                      "  metadata:\n"
                      "    name: dst\n"
                      "  data:\n"
                      "    image: app:1.0\n";
  const char *config = "  apiVersion: fn.kpt.dev/v1alpha1\n"
                       "  kind: ApplyReplacements\n"
                       "  metadata:\n"
                       "    name: r\n"
                       "  replacements:\n"
                       "  - source:\n"
                       "      kind: ConfigMap\n"
                       "      name: src\n"
                       "      fieldPath: data.version\n"
                       "    targets:\n"
                       "    - select:\n"
                       "        name: dst\n"
                       "      fieldPaths:\n"
                       "      - data.image\n"
                       "      options:\n"
                       "        delimiter: ':'\n"
                       "        index: 1\n";
  bool failed;
  char *out = run_builtin("apply-replacements", items, config, &failed);
  ck_assert(!failed);
  ck_assert_msg(strstr(out, "image: app:2.0"), "%s", out);
  free(out);
}
END_TEST

START_TEST(unknown_builtin) {
  buf out = BUF_INIT;
  bool failed;
  ck_assert_int_eq(builtin_run_text("nope", "", 0, &out, &failed), ERR_NOTFOUND);
  buf_free(&out);
}
END_TEST

/* The runner: a built-in in process and /bin/cat in the sandbox both pass; garbage fails. */
START_TEST(runner_protocol_checks) {
  buf text = BUF_INIT;
  buf_printf(&text, "%s%s", rl_head, deployment);
  yml_file *in = NULL;
  ck_assert_int_eq(yml_file_parse(&in, "in", text.data, text.len), 0);
  fn_env env;
  fn_env_default(&env);
  fn_outcome o;
  memset(&o, 0, sizeof(o));
  fn_step cat = {.exec = "/bin/cat"};
  ck_assert_int_eq(fn_run_step(&env, &cat, in, &o), 0);
  ck_assert_msg(o.ok, "%s", o.message);
  buf w = BUF_INIT;
  ck_assert_int_eq(yml_file_write(o.output, &w), 0);
  ck_assert_str_eq(w.data, text.data);
  buf_free(&w);
  fn_outcome_free(&o);
  fn_step garbage = {.exec = "/bin/echo not-a-resource-list"};
  ck_assert_int_eq(fn_run_step(&env, &garbage, in, &o), 0);
  ck_assert(!o.ok);
  ck_assert_int_eq(o.exit_code, 1);
  ck_assert(strstr(o.message, "not a valid ResourceList"));
  fn_outcome_free(&o);
  fn_step failing = {.exec = "/bin/sh -c 'echo bad >&2; exit 3'"};
  ck_assert_int_eq(fn_run_step(&env, &failing, in, &o), 0);
  ck_assert(!o.ok);
  ck_assert_int_eq(o.exit_code, 3);
  ck_assert_str_eq(buf_cstr(&o.stderr_text), "bad\n");
  fn_outcome_free(&o);
  fn_step missing = {.image = "gcr.io/x/unknown:v1"};
  ck_assert_int_eq(fn_run_step(&env, &missing, in, &o), ERR_NOTFOUND);
  fn_outcome_free(&o);
  yml_file_free(in);
  buf_free(&text);
}
END_TEST

static Suite *builtin_suite(void) {
  Suite *s = suite_create("fn_builtin");
  TCase *tc = tcase_create("builtin");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rlist_rejects_what_is_not_a_resource_list);
  tcase_add_test(tc, set_namespace_keeps_comments_and_reports);
  tcase_add_test(tc, set_labels_reaches_selectors_and_templates);
  tcase_add_test(tc, set_image_changes_only_the_named_image);
  tcase_add_test(tc, ensure_name_substring_is_idempotent);
  tcase_add_test(tc, apply_setters_substitutes_patterns);
  tcase_add_test(tc, search_replace_by_path_patterns);
  tcase_add_test(tc, apply_replacements_with_delimiter);
  tcase_add_test(tc, unknown_builtin);
  tcase_add_test(tc, runner_protocol_checks);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(builtin_suite)
