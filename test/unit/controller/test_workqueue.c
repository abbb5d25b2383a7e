/* Unit tests for controller/workqueue: dedup, no concurrent same key, dirty re-add,
 * delayed adds, per-item backoff and token bucket timings (on an injected clock), drain. */
#include "controller/workqueue.h"
#include "base/error.h"

#include "common/testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t fake_now;
static uint64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now;
}

static workqueue *fake_queue(void) {
  workqueue_options o = {0};
  o.clock = fake_clock;
  fake_now = 1000000;
  workqueue *q = NULL;
  ck_assert_int_eq(workqueue_new(&q, &o), 0);
  return q;
}

static char *get_now(workqueue *q) {
  char *k = NULL;
  int rc = workqueue_get(q, false, &k);
  return rc == 0 ? k : NULL;
}

START_TEST(dedup_and_fifo) {
  workqueue *q = fake_queue();
  ck_assert_int_eq(workqueue_add(q, "a"), 0);
  ck_assert_int_eq(workqueue_add(q, "b"), 0);
  ck_assert_int_eq(workqueue_add(q, "a"), 0);
  workqueue_stats st;
  workqueue_get_stats(q, &st);
  ck_assert_uint_eq(st.depth, 2);
  char *k = get_now(q);
  ck_assert_str_eq(k, "a");
  workqueue_done(q, k);
  free(k);
  k = get_now(q);
  ck_assert_str_eq(k, "b");
  workqueue_done(q, k);
  free(k);
  ck_assert_ptr_null(get_now(q));
  workqueue_free(q);
}
END_TEST

START_TEST(dirty_while_processing) {
  workqueue *q = fake_queue();
  workqueue_add(q, "a");
  char *k = get_now(q);
  ck_assert_str_eq(k, "a");
  /* Added again while held: not handed to a second worker ... */
  ck_assert_int_eq(workqueue_add(q, "a"), 0);
  ck_assert_int_eq(workqueue_add(q, "a"), 0);
  ck_assert_ptr_null(get_now(q));
  /* ... but processed once more after done. */
  workqueue_done(q, k);
  free(k);
  k = get_now(q);
  ck_assert_str_eq(k, "a");
  workqueue_done(q, k);
  free(k);
  ck_assert_ptr_null(get_now(q));
  workqueue_free(q);
}
END_TEST

START_TEST(add_after_earliest_wins) {
  workqueue *q = fake_queue();
  workqueue_add_after(q, "a", 500);
  workqueue_add_after(q, "a", 100);
  workqueue_add_after(q, "a", 800);
  ck_assert_uint_eq(workqueue_next_deadline_in(q), 100);
  fake_now += 99;
  ck_assert_ptr_null(get_now(q));
  fake_now += 1;
  char *k = get_now(q);
  ck_assert_str_eq(k, "a");
  workqueue_done(q, k);
  free(k);
  /* the later (stale) deadlines do not fire again */
  fake_now += 1000;
  ck_assert_ptr_null(get_now(q));
  workqueue_free(q);
}
END_TEST

START_TEST(item_exponential_backoff) {
  workqueue *q = fake_queue();
  uint64_t d = 0;
  uint64_t want[] = {5, 10, 20, 40, 80, 160, 320};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    ck_assert_int_eq(workqueue_add_rate_limited(q, "x", &d), 0);
    ck_assert_uint_eq(d, want[i]);
  }
  ck_assert_int_eq(workqueue_num_requeues(q, "x"), 7);
  for (int i = 0; i < 30; i++)
    workqueue_add_rate_limited(q, "x", &d);
  ck_assert_uint_eq(d, 1000000); /* capped at 1000 s */
  workqueue_forget(q, "x");
  ck_assert_int_eq(workqueue_num_requeues(q, "x"), 0);
  workqueue_add_rate_limited(q, "y", &d);
  ck_assert_uint_eq(d, 5);
  workqueue_free(q);
}
END_TEST

START_TEST(token_bucket) {
  workqueue *q = fake_queue();
  uint64_t d = 0;
  char key[32];
  /* burst of 100 distinct keys: per-item 5 ms each */
  for (int i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "k%d", i);
    workqueue_add_rate_limited(q, key, &d);
    ck_assert_uint_eq(d, 5);
  }
  /* then 10/s: the 101st waits 100 ms, the 102nd 200 ms */
  workqueue_add_rate_limited(q, "k100", &d);
  ck_assert_uint_eq(d, 100);
  workqueue_add_rate_limited(q, "k101", &d);
  ck_assert_uint_eq(d, 200);
  /* one second later ten tokens came back: the debt of two is repaid, eight left */
  fake_now += 1000;
  for (int i = 0; i < 8; i++) {
    snprintf(key, sizeof key, "m%d", i);
    workqueue_add_rate_limited(q, key, &d);
    ck_assert_uint_eq(d, 5);
  }
  workqueue_add_rate_limited(q, "m8", &d);
  ck_assert_uint_eq(d, 100);
  workqueue_free(q);
}
END_TEST

START_TEST(shutdown_drain) {
  workqueue *q = fake_queue();
  workqueue_add(q, "a");
  workqueue_add(q, "b");
  char *k = get_now(q);
  workqueue_shutdown(q, true);
  ck_assert_int_eq(workqueue_add(q, "c"), ERR_CANCELLED);
  char *k2 = get_now(q);
  ck_assert_str_eq(k2, "b");
  workqueue_done(q, k);
  workqueue_done(q, k2);
  free(k);
  free(k2);
  ck_assert_ptr_null(get_now(q));
  ck_assert_int_eq(workqueue_wait_idle(q, 100), 0);
  workqueue_free(q);
}
END_TEST

START_TEST(shutdown_no_drain) {
  workqueue *q = fake_queue();
  workqueue_add(q, "a");
  workqueue_shutdown(q, false);
  char *k = NULL;
  ck_assert_int_eq(workqueue_get(q, true, &k), ERR_CANCELLED);
  workqueue_free(q);
}
END_TEST

/* Real threads: no key is ever held by two workers at once, and every add after the
 * last processing start is seen. */
typedef struct {
  workqueue *q;
  int holding[16];
  int violations;
  int processed;
  pthread_mutex_t mu;
} conc_state;

static void *worker(void *arg) {
  conc_state *s = arg;
  char *k;
  while (workqueue_get(s->q, true, &k) == 0) {
    int i = k[0] - 'a';
    pthread_mutex_lock(&s->mu);
    if (s->holding[i])
      s->violations++;
    s->holding[i] = 1;
    pthread_mutex_unlock(&s->mu);
    usleep(200);
    pthread_mutex_lock(&s->mu);
    s->holding[i] = 0;
    s->processed++;
    pthread_mutex_unlock(&s->mu);
    workqueue_done(s->q, k);
    free(k);
  }
  return NULL;
}

START_TEST(concurrent_workers) {
  conc_state s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  ck_assert_int_eq(workqueue_new(&s.q, NULL), 0);
  pthread_t th[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&th[i], NULL, worker, &s);
  char key[2] = {0, 0};
  for (int n = 0; n < 2000; n++) {
    key[0] = (char)('a' + n % 16);
    workqueue_add(s.q, key);
    if (n % 100 == 0)
      usleep(500);
  }
  workqueue_shutdown(s.q, true);
  for (int i = 0; i < 4; i++)
    pthread_join(th[i], NULL);
  ck_assert_int_eq(s.violations, 0);
  ck_assert_int_ge(s.processed, 16);
  workqueue_free(s.q);
  pthread_mutex_destroy(&s.mu);
}
END_TEST

START_TEST(real_clock_delay) {
  workqueue *q = NULL;
  ck_assert_int_eq(workqueue_new(&q, NULL), 0);
  workqueue_add_after(q, "a", 30);
  char *k = NULL;
  ck_assert_int_eq(workqueue_get(q, true, &k), 0); /* blocks ~30 ms, wakes by itself */
  ck_assert_str_eq(k, "a");
  workqueue_done(q, k);
  free(k);
  workqueue_free(q);
}
END_TEST

static Suite *workqueue_suite(void) {
  Suite *s = suite_create("workqueue");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, dedup_and_fifo);
  tcase_add_test(tc, dirty_while_processing);
  tcase_add_test(tc, add_after_earliest_wins);
  tcase_add_test(tc, item_exponential_backoff);
  tcase_add_test(tc, token_bucket);
  tcase_add_test(tc, shutdown_drain);
  tcase_add_test(tc, shutdown_no_drain);
  tcase_add_test(tc, concurrent_workers);
  tcase_add_test(tc, real_clock_delay);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(workqueue_suite)
