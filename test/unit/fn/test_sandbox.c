/* Unit tests for fn/sandbox: the container a function sees (identity, root, network,
 * environment, capabilities) and each limit. The hostile programs are in the e2e suite
 * (test/e2e/fn-hostile.bats); these use /bin/sh so they need nothing built. */
#include "common/testutil.h"

#include "base/error.h"
#include "fn/sandbox.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The tests of the strict sandbox need a kernel that lets Portico create namespaces; on one
 * that refuses them Portico refuses untrusted functions (strict_mode_refused_without_
 * namespaces checks that on every kernel), and these tests skip, loudly. */
#define NEED_STRICT_SANDBOX()                                                                \
  do {                                                                                       \
    char why_[256];                                                                          \
    if (!sandbox_available(why_, sizeof(why_))) {                                            \
      fprintf(stderr,                                                                        \
              "\n*** SKIPPED %s: THIS KERNEL REFUSES THE NAMESPACES THE STRICT SANDBOX "      \
              "NEEDS (%s) ***\n",                                                            \
              __func__, why_);                                                               \
      return;                                                                                \
    }                                                                                        \
  } while (0)

static int run_sh(const char *script, sandbox_limits *limits, sandbox_result *r) {
  char *const argv[] = {"sh", "-c", (char *)script, NULL};
  sandbox_spec spec = {.exe = "/bin/sh", .argv = argv, .mode = SANDBOX_STRICT};
  if (limits)
    spec.limits = *limits;
  else
    sandbox_limits_default(&spec.limits);
  memset(r, 0, sizeof(*r));
  return sandbox_run(&spec, r);
}

START_TEST(function_sees_a_minimal_world) {
  NEED_STRICT_SANDBOX();
  sandbox_result r;
  ck_assert_int_eq(
      run_sh("id -u; id -g; echo env=$(env | grep -v '^PWD=' | wc -l); ls /; "
             "grep -c . /proc/self/mounts >/dev/null && echo proc; "
             "grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; "
             "grep Seccomp: /proc/self/status; ls /proc | grep -c '^[0-9]'; "
             "touch /usr/x 2>/dev/null || echo ro; echo w > /tmp/t && cat /tmp/t; "
             "cat /etc/passwd 2>/dev/null || echo nopasswd; hostname",
             NULL, &r),
      0);
  ck_assert_int_eq(r.outcome, SANDBOX_OK);
  ck_assert_int_eq(r.exit_code, 0);
  const char *out = buf_cstr(&r.out);
  ck_assert_msg(strstr(out, "65534\n65534\nenv=0\n") == out, "got: %s", out);
  ck_assert(strstr(out, "CapEff:\t0000000000000000"));
  ck_assert(strstr(out, "NoNewPrivs:\t1"));
  ck_assert(strstr(out, "Seccomp:\t2"));
  ck_assert(strstr(out, "\nro\n"));
  ck_assert(strstr(out, "\nw\n"));
  ck_assert(strstr(out, "nopasswd"));
  ck_assert(strstr(out, "portico-fn"));
  ck_assert(!strstr(out, "home\n") && !strstr(out, "root\n") && !strstr(out, "work\n"));
  sandbox_result_free(&r);
}
END_TEST

START_TEST(stdin_reaches_the_function) {
  NEED_STRICT_SANDBOX();
  char *const argv[] = {"cat", NULL};
  sandbox_spec spec = {.exe = "/bin/cat", .argv = argv, .stdin_data = "items: []\n",
                       .stdin_len = 10};
  sandbox_limits_default(&spec.limits);
  sandbox_result r;
  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(sandbox_run(&spec, &r), 0);
  ck_assert_int_eq(r.outcome, SANDBOX_OK);
  ck_assert_str_eq(buf_cstr(&r.out), "items: []\n");
  sandbox_result_free(&r);
}
END_TEST

START_TEST(wall_time_kills_the_tree) {
  NEED_STRICT_SANDBOX();
  sandbox_limits l;
  sandbox_limits_default(&l);
  l.wall_ms = 300;
  sandbox_result r;
  ck_assert_int_eq(run_sh("(sleep 100 &) ; sleep 100", &l, &r), 0);
  ck_assert_int_eq(r.outcome, SANDBOX_WALL_TIME);
  ck_assert_int_lt(r.wall_ms, 3000);
  sandbox_result_free(&r);
}
END_TEST

START_TEST(cpu_time_limit) {
  NEED_STRICT_SANDBOX();
  sandbox_limits l;
  sandbox_limits_default(&l);
  l.cpu_seconds = 1;
  l.wall_ms = 8000;
  sandbox_result r;
  ck_assert_int_eq(run_sh("while :; do :; done", &l, &r), 0);
  ck_assert_int_eq(r.outcome, SANDBOX_CPU_TIME);
  char d[256];
  sandbox_describe(&r, d, sizeof(d));
  ck_assert(strstr(d, "CPU"));
  sandbox_result_free(&r);
}
END_TEST

START_TEST(output_limit) {
  NEED_STRICT_SANDBOX();
  sandbox_limits l;
  sandbox_limits_default(&l);
  l.output_bytes = 100000;
  sandbox_result r;
  ck_assert_int_eq(run_sh("while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done", &l, &r), 0);
  ck_assert_int_eq(r.outcome, SANDBOX_OUTPUT_LIMIT);
  ck_assert_int_le(r.out.len, 100000);
  sandbox_result_free(&r);
}
END_TEST

START_TEST(process_limit_and_no_network) {
  NEED_STRICT_SANDBOX();
  sandbox_limits l;
  sandbox_limits_default(&l);
  l.processes = 8;
  sandbox_result r;
  /* Builtins only (no fork) after the burst: the shell must still be able to report. */
  ck_assert_int_eq(run_sh("( for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done ) 2>/dev/null; "
                          "echo /proc/[0-9]*; while read l; do echo \"$l\"; done </proc/net/dev; "
                          "kill -9 -1; echo alive",
                          &l, &r),
                   0);
  const char *out = buf_cstr(&r.out);
  int procs = 0;
  for (const char *p = strstr(out, "/proc/"); p; p = strstr(p + 1, "/proc/"))
    procs++;
  ck_assert_msg(procs >= 2 && procs <= 8, "%d processes: %s", procs, out);
  ck_assert(strstr(out, "lo:"));
  ck_assert(!strstr(out, "eth") && !strstr(out, "ens"));
  ck_assert(strstr(out, "alive\n")); /* kill(-1) reached only the sandbox's own processes */
  ck_assert_int_lt(r.wall_ms, 4000);  /* and the sleepers died with it */
  sandbox_result_free(&r);
}
END_TEST

START_TEST(setup_errors_are_reported) {
  sandbox_spec spec = {.exe = "relative/path"};
  sandbox_limits_default(&spec.limits);
  sandbox_result r;
  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(sandbox_run(&spec, &r), ERR_INVALID);
  sandbox_result_free(&r);
  memset(&r, 0, sizeof(r));
  spec.exe = "/no/such/fn";
  ck_assert_int_eq(sandbox_run(&spec, &r), ERR_NOTFOUND);
  sandbox_result_free(&r);
}
END_TEST

static void *block_on_pipe(void *arg) {
  char c;
  ssize_t n = read(*(int *)arg, &c, 1);
  (void)n;
  return NULL;
}

/* A multi-threaded caller (the controller is one; render runs a thread of its own): the
 * function's process is cloned from it and must not wait for threads it does not have
 * (glibc's set*id wrappers would). */
START_TEST(runs_from_a_multithreaded_caller) {
  NEED_STRICT_SANDBOX();
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, block_on_pipe, &p[0]), 0);
  sandbox_limits l;
  sandbox_limits_default(&l);
  l.wall_ms = 5000;
  for (int i = 0; i < 3; i++) {
    sandbox_result r;
    ck_assert_int_eq(run_sh("id -u", &l, &r), 0);
    ck_assert_msg(r.outcome == SANDBOX_OK && r.exit_code == 0, "outcome %d: %s", r.outcome, r.detail);
    ck_assert_str_eq(buf_cstr(&r.out), "65534\n");
    sandbox_result_free(&r);
  }
  ck_assert_int_eq(write(p[1], "x", 1), 1);
  pthread_join(t, NULL);
  close(p[0]);
  close(p[1]);
}
END_TEST

/* Where the kernel refuses namespaces (made so here, in this test's own forked process,
 * with a seccomp filter on unshare and namespace-creating clones), strict mode refuses to
 * run the function and says how to opt into weak mode. Runs on every kernel. */
START_TEST(strict_mode_refused_without_namespaces) {
  const char *fork_mode = getenv("CK_FORK");
  if (fork_mode && !strcmp(fork_mode, "no")) {
    fprintf(stderr, "\n*** SKIPPED %s: needs CK_FORK (it filters its own process) ***\n", __func__);
    return;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  ck_assert_ptr_nonnull(ctx);
  ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 0), 0);
  ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), 0);
  static const unsigned long ns_flags[] = {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID,
                                           CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};
  for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++)
    ck_assert_int_eq(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                      SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i])),
                     0);
  ck_assert_int_eq(seccomp_load(ctx), 0);
  seccomp_release(ctx);
  char why[256];
  ck_assert(!sandbox_available(why, sizeof(why)));
  ck_assert_msg(strstr(why, "refuses the namespaces"), "why: %s", why);
  sandbox_result r;
  ck_assert_int_eq(run_sh("echo ran", NULL, &r), ERR_UNAVAILABLE);
  ck_assert(strstr(error_message(), "--sandbox=weak"));
  ck_assert_uint_eq(r.out.len, 0); /* the function never ran */
  sandbox_result_free(&r);
}
END_TEST

START_TEST(weak_mode_still_limits) {
  char *const argv[] = {"sh", "-c", "id -u; grep CapEff /proc/self/status; env | wc -l", NULL};
  sandbox_spec spec = {.exe = "/bin/sh", .argv = argv, .mode = SANDBOX_WEAK};
  sandbox_limits_default(&spec.limits);
  sandbox_result r;
  memset(&r, 0, sizeof(r));
  ck_assert_int_eq(sandbox_run(&spec, &r), 0);
  ck_assert_int_eq(r.outcome, SANDBOX_OK);
  const char *out = buf_cstr(&r.out);
  if (geteuid() == 0)
    ck_assert(strstr(out, "65534\n") == out);
  ck_assert(strstr(out, "CapEff:\t0000000000000000"));
  sandbox_result_free(&r);
}
END_TEST

START_TEST(parse_flags) {
  int64_t v;
  ck_assert_int_eq(sandbox_parse_size("1Gi", &v), 0);
  ck_assert_int_eq(v, (int64_t)1 << 30);
  ck_assert_int_eq(sandbox_parse_size("64M", &v), 0);
  ck_assert_int_eq(v, 64000000);
  ck_assert_int_eq(sandbox_parse_size("12", &v), 0);
  ck_assert_int_eq(v, 12);
  ck_assert_int_eq(sandbox_parse_size("x", &v), ERR_INVALID);
  ck_assert_int_eq(sandbox_parse_duration_ms("10s", &v), 0);
  ck_assert_int_eq(v, 10000);
  ck_assert_int_eq(sandbox_parse_duration_ms("250ms", &v), 0);
  ck_assert_int_eq(v, 250);
  ck_assert_int_eq(sandbox_parse_duration_ms("2m", &v), 0);
  ck_assert_int_eq(v, 120000);
  ck_assert_int_eq(sandbox_parse_duration_ms("-1s", &v), ERR_INVALID);
  sandbox_mode m;
  ck_assert_int_eq(sandbox_parse_mode("weak", &m), 0);
  ck_assert_int_eq(m, SANDBOX_WEAK);
  ck_assert_int_eq(sandbox_parse_mode("none", &m), ERR_INVALID);
}
END_TEST

static Suite *sandbox_suite(void) {
  Suite *s = suite_create("fn_sandbox");
  TCase *tc = tcase_create("sandbox");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, function_sees_a_minimal_world);
  tcase_add_test(tc, stdin_reaches_the_function);
  tcase_add_test(tc, wall_time_kills_the_tree);
  tcase_add_test(tc, cpu_time_limit);
  tcase_add_test(tc, output_limit);
  tcase_add_test(tc, process_limit_and_no_network);
  tcase_add_test(tc, setup_errors_are_reported);
  tcase_add_test(tc, runs_from_a_multithreaded_caller);
  tcase_add_test(tc, strict_mode_refused_without_namespaces);
  tcase_add_test(tc, weak_mode_still_limits);
  tcase_add_test(tc, parse_flags);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(sandbox_suite)
