/* Unit tests for controller/metrics (Prometheus text format) and the health server's
 * address parsing. */
#include "controller/health.h"
#include "controller/metrics.h"
#include "base/error.h"

#include "common/testutil.h"

#include <string.h>

START_TEST(render_text_format) {
  metrics_reset();
  metrics_declare("t_requests_total", METRIC_COUNTER, "Requests.");
  metrics_declare("t_depth", METRIC_GAUGE, "Depth.");
  metrics_declare("t_seconds", METRIC_HISTOGRAM, "Latency.");
  metrics_counter_add("t_requests_total", "code=\"200\"", 2);
  metrics_counter_add("t_requests_total", "code=\"200\"", 1);
  metrics_counter_add("t_undeclared_total", NULL, 1); /* ignored */
  metrics_gauge_set("t_depth", NULL, 7);
  metrics_gauge_set("t_depth", NULL, 4);
  metrics_histogram_observe("t_seconds", "verb=\"GET\"", 0.02);
  metrics_histogram_observe("t_seconds", "verb=\"GET\"", 3);
  buf b = BUF_INIT;
  ck_assert_int_eq(metrics_render(&b), 0);
  const char *t = buf_cstr(&b);
  ck_assert_ptr_nonnull(strstr(t, "# HELP t_requests_total Requests.\n# TYPE t_requests_total counter\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_requests_total{code=\"200\"} 3\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_depth 4\n"));
  ck_assert_ptr_nonnull(strstr(t, "# TYPE t_seconds histogram\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_seconds_bucket{verb=\"GET\",le=\"0.01\"} 0\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_seconds_bucket{verb=\"GET\",le=\"0.025\"} 1\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_seconds_bucket{verb=\"GET\",le=\"5\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 2\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_seconds_sum{verb=\"GET\"} 3.02\n"));
  ck_assert_ptr_nonnull(strstr(t, "t_seconds_count{verb=\"GET\"} 2\n"));
  ck_assert_ptr_null(strstr(t, "t_undeclared_total"));
  ck_assert_double_eq(metrics_value("t_requests_total", "code=\"200\""), 3);
  buf_free(&b);
  buf e = BUF_INIT;
  metrics_label_escape(&e, "a\"b\\c\nd");
  ck_assert_str_eq(buf_cstr(&e), "a\\\"b\\\\c\\nd");
  buf_free(&e);
  metrics_reset();
}
END_TEST

START_TEST(health_addr) {
  char host[64];
  int port;
  ck_assert_int_eq(health_parse_addr("127.0.0.1:8081", host, sizeof host, &port), 0);
  ck_assert_str_eq(host, "127.0.0.1");
  ck_assert_int_eq(port, 8081);
  ck_assert_int_eq(health_parse_addr(":9090", host, sizeof host, &port), 0);
  ck_assert_str_eq(host, "0.0.0.0");
  ck_assert_int_eq(health_parse_addr("[::1]:0", host, sizeof host, &port), 0);
  ck_assert_str_eq(host, "::1");
  ck_assert_int_eq(health_parse_addr("nohost", host, sizeof host, &port), ERR_INVALID);
  ck_assert_int_eq(health_parse_addr("h:99999", host, sizeof host, &port), ERR_INVALID);
}
END_TEST

static Suite *metrics_suite(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, render_text_format);
  tcase_add_test(tc, health_addr);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(metrics_suite)
