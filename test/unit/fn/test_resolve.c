/* Unit tests for fn/resolve and fn/catalog: image references, function directories,
 * exec paths and the allowed-directory rule. */
#include "common/testutil.h"

#include "base/error.h"
#include "base/str.h"
#include "fn/catalog.h"
#include "fn/resolve.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

START_TEST(parse_full_reference) {
  image_ref r;
  ck_assert_int_eq(resolve_parse_image("gcr.io/kpt-fn/set-namespace:v0.4.1", &r), 0);
  ck_assert_str_eq(r.registry, "gcr.io");
  ck_assert_str_eq(r.path, "kpt-fn/set-namespace");
  ck_assert_str_eq(r.name, "set-namespace");
  ck_assert_str_eq(r.tag, "v0.4.1");
  ck_assert_ptr_null(r.digest);
  resolve_image_ref_free(&r);
  ck_assert_int_eq(resolve_parse_image("localhost:5000/fns/set-labels@sha256:0123abcd", &r), 0);
  ck_assert_str_eq(r.registry, "localhost:5000");
  ck_assert_str_eq(r.name, "set-labels");
  ck_assert_ptr_null(r.tag);
  ck_assert_str_eq(r.digest, "sha256:0123abcd");
  resolve_image_ref_free(&r);
  ck_assert_int_eq(resolve_parse_image("set-image", &r), 0);
  ck_assert_ptr_null(r.registry);
  ck_assert_str_eq(r.name, "set-image");
  resolve_image_ref_free(&r);
  ck_assert_int_eq(
      resolve_parse_image("ghcr.io/kptdev/krm-functions-catalog/apply-setters:v0.2@sha256:ff", &r),
      0);
  ck_assert_str_eq(r.name, "apply-setters");
  ck_assert_str_eq(r.tag, "v0.2");
  resolve_image_ref_free(&r);
}
END_TEST

START_TEST(parse_rejects_bad_references) {
  image_ref r;
  const char *bad[] = {"", "gcr.io/", "gcr.io//x", "UPPER/case", "x:", "x@sha256", "x@:ab",
                       "a/b:t@sha256:zz", "a b", "../x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    ck_assert_msg(resolve_parse_image(bad[i], &r) == ERR_INVALID, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(builtins_resolve_from_any_registry) {
  resolve_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  resolved_fn fn;
  const char *images[] = {"gcr.io/kpt-fn/set-namespace:v0.4.1", "set-namespace",
                          "ghcr.io/kptdev/krm-functions-catalog/set-namespace:latest",
                          "example.com:8443/mirror/set-namespace@sha256:abcdef"};
  for (size_t i = 0; i < 4; i++) {
    ck_assert_int_eq(resolve_image(&cfg, images[i], &fn), 0);
    ck_assert_int_eq(fn.kind, RESOLVED_BUILTIN);
    ck_assert_str_eq(fn.builtin, "set-namespace");
    resolved_fn_free(&fn);
  }
  for (size_t i = 0; catalog_at(i); i++)
    ck_assert_ptr_eq(catalog_find(catalog_at(i)->name), catalog_at(i));
}
END_TEST

START_TEST(unknown_image_names_it) {
  resolve_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  resolved_fn fn;
  ck_assert_int_eq(resolve_image(&cfg, "gcr.io/kpt-fn/no-such-fn:v1", &fn), ERR_NOTFOUND);
  ck_assert(strstr(error_message(), "gcr.io/kpt-fn/no-such-fn:v1") != NULL);
}
END_TEST

static char *make_exe(const char *dir, const char *name) {
  char *p = str_printf("%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  ck_assert_ptr_nonnull(f);
  fputs("#!/bin/sh\ncat\n", f);
  fclose(f);
  chmod(p, 0755);
  return p;
}

START_TEST(function_dir_wins_over_builtin) {
  char *dir = testutil_tmpdir();
  char *exe = make_exe(dir, "set-labels");
  char *other = make_exe(dir, "my-fn");
  resolve_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  char *list = str_printf("/nonexistent:%s", dir);
  ck_assert_int_eq(resolve_add_dirs(&cfg, list, false), 0);
  ck_assert_uint_eq(cfg.n_fn_dirs, 2);
  resolved_fn fn;
  ck_assert_int_eq(resolve_image(&cfg, "gcr.io/kpt-fn/set-labels:v0.2.0", &fn), 0);
  ck_assert_int_eq(fn.kind, RESOLVED_EXEC);
  ck_assert(str_has_suffix(fn.exe, "/set-labels"));
  resolved_fn_free(&fn);
  ck_assert_int_eq(resolve_image(&cfg, "registry.local/team/my-fn:1.0", &fn), 0);
  ck_assert_int_eq(fn.kind, RESOLVED_EXEC);
  resolved_fn_free(&fn);
  free(list);
  free(exe);
  free(other);
  testutil_rmtree(dir);
  free(dir);
}
END_TEST

START_TEST(exec_paths_and_allowed_dirs) {
  char *dir = testutil_tmpdir();
  char *exe = make_exe(dir, "fn.sh");
  resolve_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  resolved_fn fn;
  char *cmd = str_printf("%s --flag 'two words'", exe);
  ck_assert_int_eq(resolve_exec(&cfg, cmd, NULL, &fn), 0);
  ck_assert_int_eq(fn.argc, 3);
  ck_assert_str_eq(fn.argv[2], "two words");
  resolved_fn_free(&fn);
  ck_assert_int_eq(resolve_exec(&cfg, "./fn.sh", dir, &fn), 0);
  resolved_fn_free(&fn);
  /* Allowed directories configured: inside is fine, outside is refused. */
  cfg.exec_dirs[cfg.n_exec_dirs++] = dir;
  ck_assert_int_eq(resolve_exec(&cfg, cmd, NULL, &fn), 0);
  resolved_fn_free(&fn);
  ck_assert_int_eq(resolve_exec(&cfg, "/bin/sh -c true", NULL, &fn), ERR_FORBIDDEN);
  /* A symbolic link inside pointing outside is judged by its target. */
  char *link = str_printf("%s/escape", dir);
  ck_assert_int_eq(symlink("/bin/sh", link), 0);
  ck_assert_int_eq(resolve_exec(&cfg, link, NULL, &fn), ERR_FORBIDDEN);
  ck_assert_int_eq(resolve_exec(&cfg, "", NULL, &fn), ERR_INVALID);
  ck_assert_int_eq(resolve_exec(&cfg, "'unterminated", NULL, &fn), ERR_INVALID);
  ck_assert_int_eq(resolve_exec(&cfg, "/no/such/file", NULL, &fn), ERR_NOTFOUND);
  free(link);
  free(cmd);
  free(exe);
  testutil_rmtree(dir);
  free(dir);
}
END_TEST

static Suite *resolve_suite(void) {
  Suite *s = suite_create("fn_resolve");
  TCase *tc = tcase_create("resolve");
  tcase_add_test(tc, parse_full_reference);
  tcase_add_test(tc, parse_rejects_bad_references);
  tcase_add_test(tc, builtins_resolve_from_any_registry);
  tcase_add_test(tc, unknown_image_names_it);
  tcase_add_test(tc, function_dir_wins_over_builtin);
  tcase_add_test(tc, exec_paths_and_allowed_dirs);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(resolve_suite)
