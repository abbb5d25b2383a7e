/* Unit tests for base/: error, buf, str, fs, jpath, proc (run, start/finish/abort). */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/jpath.h"
#include "base/log.h"
#include "base/proc.h"
#include "base/str.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

START_TEST(error_set_and_prefix) {
  ck_assert_int_eq(error_set(ERR_NOTFOUND, "no %s", "thing"), ERR_NOTFOUND);
  ck_assert_str_eq(error_message(), "no thing");
  error_prefix("loading %s", "x");
  ck_assert_str_eq(error_message(), "loading x: no thing");
  ck_assert_int_eq(error_code(), ERR_NOTFOUND);
  error_clear();
  ck_assert_int_eq(error_code(), ERR_OK);
  ck_assert_str_eq(error_message(), "");
}
END_TEST

START_TEST(buf_limit_leaves_buffer_unchanged) {
  buf b;
  buf_init(&b, 8);
  ck_assert_int_eq(buf_puts(&b, "12345"), 0);
  ck_assert_int_eq(buf_puts(&b, "6789"), ERR_LIMIT);
  ck_assert_str_eq(buf_cstr(&b), "12345");
  ck_assert_int_eq(buf_printf(&b, "%d", 678), 0);
  ck_assert_str_eq(buf_cstr(&b), "12345678");
  ck_assert_int_eq(buf_putc(&b, 'x'), ERR_LIMIT);
  buf_consume(&b, 3);
  ck_assert_str_eq(buf_cstr(&b), "45678");
  size_t n;
  char *s = buf_detach(&b, &n);
  ck_assert_str_eq(s, "45678");
  ck_assert_uint_eq(n, 5);
  free(s);
  ck_assert_str_eq(buf_cstr(&b), "");
  buf_free(&b);
}
END_TEST

START_TEST(buf_grows_past_many_doublings) {
  buf b = BUF_INIT;
  for (int i = 0; i < 10000; i++)
    ck_assert_int_eq(buf_printf(&b, "%04d", i % 10000), 0);
  ck_assert_uint_eq(b.len, 40000);
  ck_assert(memcmp(b.data + 39996, "9999", 4) == 0);
  buf_free(&b);
}
END_TEST

START_TEST(str_parsing) {
  int64_t v = 7;
  ck_assert_int_eq(str_to_int64("42", 0, 100, &v), 0);
  ck_assert_int_eq(v, 42);
  ck_assert_int_eq(str_to_int64("42x", 0, 100, &v), ERR_INVALID);
  ck_assert_int_eq(str_to_int64("", 0, 100, &v), ERR_INVALID);
  ck_assert_int_eq(str_to_int64("101", 0, 100, &v), ERR_INVALID);
  ck_assert_int_eq(v, 42);
  char small[4];
  ck_assert_uint_eq(str_copy(small, "abcdef", sizeof(small)), 6);
  ck_assert_str_eq(small, "abc");
  ck_assert(str_has_prefix("drafts/a/b", "drafts/"));
  ck_assert(str_has_suffix("a.yaml", ".yaml"));
  ck_assert(!str_has_suffix("a", ".yaml"));
}
END_TEST

START_TEST(fs_safe_paths) {
  ck_assert(fs_path_is_safe("a/b.yaml"));
  ck_assert(fs_path_is_safe("Kptfile"));
  ck_assert(!fs_path_is_safe("../x"));
  ck_assert(!fs_path_is_safe("a/../../x"));
  ck_assert(!fs_path_is_safe("/etc/passwd"));
  ck_assert(!fs_path_is_safe("a//b"));
  ck_assert(!fs_path_is_safe("./a"));
  ck_assert(!fs_path_is_safe(""));
  ck_assert(!fs_path_is_safe("a\\b"));
}
END_TEST

START_TEST(fs_atomic_write_and_bounded_read) {
  char *dir = testutil_tmpdir();
  char *sub = fs_join(dir, "x/y");
  ck_assert_int_eq(fs_mkdir_p(sub, 0755), 0);
  char *file = fs_join(sub, "f.txt");
  ck_assert_int_eq(fs_write_atomic(file, "hello", 5, 0644), 0);
  buf b = BUF_INIT;
  ck_assert_int_eq(fs_read_file(file, 100, &b), 0);
  ck_assert_str_eq(buf_cstr(&b), "hello");
  buf_reset(&b);
  ck_assert_int_eq(fs_read_file(file, 4, &b), ERR_LIMIT);
  ck_assert_uint_eq(b.len, 0);
  char *missing = fs_join(dir, "nope");
  ck_assert_int_eq(fs_read_file(missing, 4, &b), ERR_NOTFOUND);
  ck_assert_int_eq(fs_remove_tree(dir), 0);
  ck_assert(!fs_exists(dir));
  buf_free(&b);
  free(missing);
  free(file);
  free(sub);
  free(dir);
}
END_TEST

START_TEST(fs_read_regular_reads_to_the_end_and_never_through_a_link) {
  char *dir = testutil_tmpdir();
  char *small = fs_join(dir, "small"), *big = fs_join(dir, "big"), *link = fs_join(dir, "link");
  /* A file of several read chunks plus a tail, and one exactly a chunk long. */
  size_t sizes[] = {200000, 65536, 5};
  for (size_t k = 0; k < 3; k++) {
    buf data = BUF_INIT;
    for (size_t i = 0; i < sizes[k]; i++)
      ck_assert_int_eq(buf_append(&data, &"abcdefg"[i % 7], 1), 0);
    ck_assert_int_eq(fs_write_atomic(k == 2 ? small : big, data.data, data.len, 0644), 0);
    buf got = BUF_INIT;
    ck_assert_int_eq(fs_read_regular(k == 2 ? small : big, 1 << 20, &got), 0);
    ck_assert_uint_eq(got.len, sizes[k]);
    ck_assert(!memcmp(got.data, data.data, data.len));
    buf_free(&got);
    buf_free(&data);
  }
  buf got = BUF_INIT;
  ck_assert_int_eq(fs_read_regular(big, 1000, &got), ERR_LIMIT);
  ck_assert_uint_eq(got.len, 0);
  ck_assert_int_eq(symlink(small, link), 0);
  ck_assert_int_eq(fs_read_regular(link, 1000, &got), ERR_IO);
  ck_assert_int_eq(fs_read_file(link, 1000, &got), 0); /* the general reader follows it */
  ck_assert_str_eq(buf_cstr(&got), "abcde");
  buf_free(&got);
  testutil_rmtree(dir);
  free(small);
  free(big);
  free(link);
  free(dir);
}
END_TEST

START_TEST(jpath_get_set_del) {
  json_error_t jerr;
  json_t *root = json_loads("{\"metadata\":{\"name\":\"a\",\"labels\":{\"x.y/z\":\"1\"}},"
                            "\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}",
                            0, &jerr);
  ck_assert_ptr_nonnull(root);
  ck_assert_str_eq(jpath_str(root, "metadata.name"), "a");
  ck_assert_str_eq(jpath_str(root, "metadata.labels.x\\.y/z"), "1");
  ck_assert_str_eq(jpath_str(root, "status.conditions.0.type"), "Ready");
  ck_assert_ptr_null(jpath_get(root, "status.conditions.1.type"));
  ck_assert_int_eq(jpath_set(root, "spec.replicas", json_integer(3)), 0);
  ck_assert_int_eq(jpath_int(root, "spec.replicas", 0), 3);
  ck_assert_int_eq(jpath_set(root, "metadata.name.x", json_true()), ERR_INVALID);
  ck_assert_int_eq(jpath_del(root, "metadata.labels"), 0);
  ck_assert_ptr_null(jpath_get(root, "metadata.labels"));
  json_decref(root);
}
END_TEST

START_TEST(proc_runs_and_collects) {
  char *argv[] = {"sh", "-c", "cat; echo err >&2; exit 3", NULL};
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  proc_spec spec = {.argv = argv, .envp = envp, .stdin_data = "in", .stdin_len = 2, .timeout_ms = 5000};
  proc_result r = {0};
  ck_assert_int_eq(proc_run(&spec, &r), 0);
  ck_assert_int_eq(r.outcome, PROC_EXITED);
  ck_assert_int_eq(r.exit_code, 3);
  ck_assert_str_eq(buf_cstr(&r.out), "in");
  ck_assert_str_eq(buf_cstr(&r.err), "err\n");
  proc_result_free(&r);
}
END_TEST

START_TEST(proc_timeout_and_output_limit) {
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  char *sleeper[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
  proc_spec spec = {.argv = sleeper, .envp = envp, .timeout_ms = 200};
  proc_result r = {0};
  ck_assert_int_eq(proc_run(&spec, &r), 0);
  ck_assert_int_eq(r.outcome, PROC_TIMED_OUT);
  ck_assert_int_lt(r.wall_ms, 5000);
  proc_result_free(&r);

  char *yes[] = {"yes", NULL};
  proc_spec spam = {.argv = yes, .envp = envp, .timeout_ms = 5000, .stdout_limit = 1 << 16};
  proc_result r2 = {0};
  ck_assert_int_eq(proc_run(&spam, &r2), 0);
  ck_assert_int_eq(r2.outcome, PROC_OUTPUT_LIMIT);
  ck_assert_uint_le(r2.out.len, 1 << 16);
  proc_result_free(&r2);

  char *env_probe[] = {"/usr/bin/env", NULL};
  proc_spec e = {.argv = env_probe, .timeout_ms = 5000};
  proc_result r3 = {0};
  ck_assert_int_eq(proc_run(&e, &r3), 0);
  ck_assert_uint_eq(r3.out.len, 0); /* empty environment by default */
  proc_result_free(&r3);
}
END_TEST

START_TEST(proc_start_then_finish_or_abort) {
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  /* Started ahead: it waits for its input, and the wall time counts from proc_finish. */
  char *argv[] = {"sh", "-c", "read line; echo \"got $line\"", NULL};
  proc_spec spec = {.argv = argv, .envp = envp, .timeout_ms = 300};
  proc_child child;
  ck_assert_int_eq(proc_start(&spec, &child), 0);
  ck_assert_int_gt(child.pid, 0);
  struct timespec pause = {0, 400 * 1000000L}; /* longer than the timeout */
  nanosleep(&pause, NULL);
  proc_spec feed = {.stdin_data = "x\n", .stdin_len = 2, .timeout_ms = 300};
  proc_result r = {0};
  ck_assert_int_eq(proc_finish(&feed, &child, &r), 0);
  ck_assert_int_eq(r.outcome, PROC_EXITED);
  ck_assert_str_eq(buf_cstr(&r.out), "got x\n");
  ck_assert_int_eq(child.pid, 0);
  proc_result_free(&r);

  char *sleeper[] = {"sleep", "30", NULL};
  proc_spec s2 = {.argv = sleeper, .envp = envp};
  ck_assert_int_eq(proc_start(&s2, &child), 0);
  int pid = child.pid;
  proc_abort(&child);
  ck_assert_int_eq(child.pid, 0);
  ck_assert_int_eq(kill(pid, 0), -1); /* killed and reaped */
}
END_TEST

typedef struct hook_seen {
  int calls;
  int pid;
  bool child_running; /* not yet reaped when the hook ran */
  char out[64];
} hook_seen;

static void record_output(void *arg, const buf *out) {
  hook_seen *h = arg;
  h->calls++;
  siginfo_t si;
  memset(&si, 0, sizeof(si)); /* WNOWAIT: looks without reaping */
  h->child_running = waitid(P_PID, (id_t)h->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
  snprintf(h->out, sizeof(h->out), "%s", buf_cstr(out));
}

START_TEST(proc_output_hook_runs_before_the_exit) {
  char *envp[] = {"PATH=/usr/bin:/bin", NULL};
  /* Closes its output, then lives on a while: the hook sees all of the output while the
   * child still runs, and the exit status still comes through. */
  char *argv[] = {"sh", "-c", "echo out; exec >&- 2>&-; sleep 0.3; exit 3", NULL};
  hook_seen h = {0};
  proc_spec spec = {.argv = argv, .envp = envp, .timeout_ms = 10000};
  proc_child child;
  ck_assert_int_eq(proc_start(&spec, &child), 0);
  h.pid = child.pid;
  proc_spec fin = {.timeout_ms = 10000, .on_output = record_output, .on_output_arg = &h};
  proc_result r = {0};
  ck_assert_int_eq(proc_finish(&fin, &child, &r), 0);
  ck_assert_int_eq(h.calls, 1);
  ck_assert(h.child_running);
  ck_assert_str_eq(h.out, "out\n");
  ck_assert_int_eq(r.outcome, PROC_EXITED);
  ck_assert_int_eq(r.exit_code, 3);
  proc_result_free(&r);

  /* Killed for a limit: no hook. */
  char *yes[] = {"yes", NULL};
  hook_seen h2 = {0};
  proc_spec spam = {.argv = yes, .envp = envp, .timeout_ms = 5000, .stdout_limit = 1 << 16,
                    .on_output = record_output, .on_output_arg = &h2};
  proc_result r2 = {0};
  ck_assert_int_eq(proc_run(&spam, &r2), 0);
  ck_assert_int_eq(r2.outcome, PROC_OUTPUT_LIMIT);
  ck_assert_int_eq(h2.calls, 0);
  proc_result_free(&r2);
}
END_TEST

START_TEST(log_redacts_userinfo) {
  char out[128];
  log_redact_url("https://user:secret@example.com/repo.git", out, sizeof(out));
  ck_assert_str_eq(out, "https://example.com/repo.git");
  log_redact_url("file:///tmp/x@y", out, sizeof(out));
  ck_assert_str_eq(out, "file:///tmp/x@y");
}
END_TEST

static Suite *base_suite(void) {
  Suite *s = suite_create("base");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, error_set_and_prefix);
  tcase_add_test(tc, buf_limit_leaves_buffer_unchanged);
  tcase_add_test(tc, buf_grows_past_many_doublings);
  tcase_add_test(tc, str_parsing);
  tcase_add_test(tc, fs_safe_paths);
  tcase_add_test(tc, fs_atomic_write_and_bounded_read);
  tcase_add_test(tc, fs_read_regular_reads_to_the_end_and_never_through_a_link);
  tcase_add_test(tc, jpath_get_set_del);
  tcase_add_test(tc, proc_runs_and_collects);
  tcase_add_test(tc, proc_timeout_and_output_limit);
  tcase_add_test(tc, proc_start_then_finish_or_abort);
  tcase_add_test(tc, proc_output_hook_runs_before_the_exit);
  tcase_add_test(tc, log_redacts_userinfo);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(base_suite)
