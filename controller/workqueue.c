/*
 * workqueue: see workqueue.h for the contract.
 *
 * Layout: `ready` is a FIFO ring of owned key strings; `dirty`, `processing`, `waiting`
 * (key -> deadline) and `failures` (key -> count) are jansson objects used as string hash
 * maps (never shared outside the mutex). Delayed keys sit in a binary min-heap of
 * (deadline, key) with lazy deletion: a heap entry whose deadline no longer matches
 * waiting[key] is stale and skipped when it surfaces.
 */
#include "controller/workqueue.h"

#include "base/error.h"
#include "base/str.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct heap_entry {
  uint64_t when;
  char *key;
} heap_entry;

struct workqueue {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  workqueue_options opt;
  char **ready;
  size_t ready_head, ready_len, ready_cap;
  json_t *dirty, *processing, *waiting, *failures;
  heap_entry *heap;
  size_t heap_len, heap_cap;
  bool shutting_down, drain;
  double tokens;
  uint64_t tokens_at;
  uint64_t adds, retries;
};

static uint64_t monotonic_ms(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t now_ms(workqueue *q) { return q->opt.clock(q->opt.clock_ctx); }

int workqueue_new(workqueue **out, const workqueue_options *opts) {
  workqueue *q = calloc(1, sizeof *q);
  if (!q)
    return error_set(ERR_NOMEM, "workqueue: out of memory");
  if (opts)
    q->opt = *opts;
  if (!q->opt.base_delay_ms)
    q->opt.base_delay_ms = 5;
  if (!q->opt.max_delay_ms)
    q->opt.max_delay_ms = 1000000;
  if (q->opt.bucket_qps <= 0)
    q->opt.bucket_qps = 10;
  if (q->opt.bucket_burst <= 0)
    q->opt.bucket_burst = 100;
  if (!q->opt.clock)
    q->opt.clock = monotonic_ms;
  q->dirty = json_object();
  q->processing = json_object();
  q->waiting = json_object();
  q->failures = json_object();
  if (!q->dirty || !q->processing || !q->waiting || !q->failures) {
    workqueue_free(q);
    return error_set(ERR_NOMEM, "workqueue: out of memory");
  }
  pthread_mutex_init(&q->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&q->cond, &ca);
  pthread_condattr_destroy(&ca);
  q->tokens = q->opt.bucket_burst;
  q->tokens_at = now_ms(q);
  *out = q;
  return 0;
}

void workqueue_free(workqueue *q) {
  if (!q)
    return;
  for (size_t i = 0; i < q->ready_len; i++)
    free(q->ready[(q->ready_head + i) % q->ready_cap]);
  free(q->ready);
  for (size_t i = 0; i < q->heap_len; i++)
    free(q->heap[i].key);
  free(q->heap);
  json_decref(q->dirty);
  json_decref(q->processing);
  json_decref(q->waiting);
  json_decref(q->failures);
  if (q->opt.clock) {
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cond);
  }
  free(q);
}

/* --- ready FIFO ---------------------------------------------------------------------- */

static int ready_push(workqueue *q, const char *key) {
  if (q->ready_len == q->ready_cap) {
    size_t cap = q->ready_cap ? q->ready_cap * 2 : 64;
    char **n = malloc(cap * sizeof *n);
    if (!n)
      return error_set(ERR_NOMEM, "workqueue: out of memory");
    for (size_t i = 0; i < q->ready_len; i++)
      n[i] = q->ready[(q->ready_head + i) % q->ready_cap];
    free(q->ready);
    q->ready = n;
    q->ready_cap = cap;
    q->ready_head = 0;
  }
  char *k = str_dup(key);
  if (!k)
    return ERR_NOMEM;
  q->ready[(q->ready_head + q->ready_len) % q->ready_cap] = k;
  q->ready_len++;
  return 0;
}

static char *ready_pop(workqueue *q) {
  char *k = q->ready[q->ready_head];
  q->ready_head = (q->ready_head + 1) % q->ready_cap;
  q->ready_len--;
  return k;
}

/* --- delayed heap -------------------------------------------------------------------- */

static void heap_swap(workqueue *q, size_t a, size_t b) {
  heap_entry t = q->heap[a];
  q->heap[a] = q->heap[b];
  q->heap[b] = t;
}

static int heap_push(workqueue *q, uint64_t when, const char *key) {
  if (q->heap_len == q->heap_cap) {
    size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
    heap_entry *n = realloc(q->heap, cap * sizeof *n);
    if (!n)
      return error_set(ERR_NOMEM, "workqueue: out of memory");
    q->heap = n;
    q->heap_cap = cap;
  }
  char *k = str_dup(key);
  if (!k)
    return ERR_NOMEM;
  size_t i = q->heap_len++;
  q->heap[i].when = when;
  q->heap[i].key = k;
  while (i > 0 && q->heap[(i - 1) / 2].when > q->heap[i].when) {
    heap_swap(q, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  return 0;
}

static heap_entry heap_pop(workqueue *q) {
  heap_entry top = q->heap[0];
  q->heap[0] = q->heap[--q->heap_len];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < q->heap_len && q->heap[l].when < q->heap[m].when)
      m = l;
    if (r < q->heap_len && q->heap[r].when < q->heap[m].when)
      m = r;
    if (m == i)
      break;
    heap_swap(q, i, m);
    i = m;
  }
  return top;
}

/* --- core ---------------------------------------------------------------------------- */

static size_t total_keys(workqueue *q) {
  return json_object_size(q->dirty) + json_object_size(q->processing) +
         json_object_size(q->waiting);
}

/* Adds under the lock. Caller checked shutdown. */
static int add_locked(workqueue *q, const char *key) {
  if (json_object_get(q->dirty, key))
    return 0;
  if (total_keys(q) >= WORKQUEUE_MAX_KEYS)
    return error_set(ERR_LIMIT, "workqueue: more than %d keys", WORKQUEUE_MAX_KEYS);
  if (json_object_set_new(q->dirty, key, json_true()))
    return error_set(ERR_NOMEM, "workqueue: out of memory");
  q->adds++;
  if (json_object_get(q->processing, key))
    return 0; /* queued again by workqueue_done */
  int rc = ready_push(q, key);
  if (rc) {
    json_object_del(q->dirty, key);
    return rc;
  }
  pthread_cond_signal(&q->cond);
  return 0;
}

/* Moves due delayed keys to the ready queue. */
static void promote_due_locked(workqueue *q) {
  uint64_t now = now_ms(q);
  while (q->heap_len && q->heap[0].when <= now) {
    heap_entry e = heap_pop(q);
    json_t *w = json_object_get(q->waiting, e.key);
    if (w && (uint64_t)json_integer_value(w) == e.when) {
      json_object_del(q->waiting, e.key);
      if (!q->shutting_down)
        (void)add_locked(q, e.key); /* failure (limit) drops the key, as a full queue must */
    }
    free(e.key);
  }
}

static int check_key(const char *key) {
  if (!key || !*key || strlen(key) > WORKQUEUE_KEY_MAX)
    return error_set(ERR_INVALID, "workqueue: bad key");
  return 0;
}

int workqueue_add(workqueue *q, const char *key) {
  int rc = check_key(key);
  if (rc)
    return rc;
  pthread_mutex_lock(&q->mu);
  if (q->shutting_down)
    rc = error_set(ERR_CANCELLED, "workqueue: shut down");
  else
    rc = add_locked(q, key);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int add_after_locked(workqueue *q, const char *key, uint64_t delay_ms) {
  if (q->shutting_down)
    return error_set(ERR_CANCELLED, "workqueue: shut down");
  if (delay_ms == 0)
    return add_locked(q, key);
  uint64_t when = now_ms(q) + delay_ms;
  json_t *w = json_object_get(q->waiting, key);
  if (w && (uint64_t)json_integer_value(w) <= when)
    return 0; /* an earlier deadline is pending: it wins */
  if (!w && total_keys(q) >= WORKQUEUE_MAX_KEYS)
    return error_set(ERR_LIMIT, "workqueue: more than %d keys", WORKQUEUE_MAX_KEYS);
  if (q->heap_len >= 2 * (size_t)WORKQUEUE_MAX_KEYS)
    return error_set(ERR_LIMIT, "workqueue: too many delayed adds");
  int rc = heap_push(q, when, key);
  if (rc)
    return rc;
  if (json_object_set_new(q->waiting, key, json_integer((json_int_t)when)))
    return error_set(ERR_NOMEM, "workqueue: out of memory");
  pthread_cond_broadcast(&q->cond); /* a sleeping getter may need an earlier wake-up */
  return 0;
}

int workqueue_add_after(workqueue *q, const char *key, uint64_t delay_ms) {
  int rc = check_key(key);
  if (rc)
    return rc;
  pthread_mutex_lock(&q->mu);
  rc = add_after_locked(q, key, delay_ms);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* client-go's MaxOf(ItemExponentialFailureRateLimiter, BucketRateLimiter). */
static uint64_t rate_limit_delay_locked(workqueue *q, const char *key) {
  json_t *f = json_object_get(q->failures, key);
  int64_t n = f ? json_integer_value(f) : 0;
  uint64_t item = q->opt.max_delay_ms;
  if (n < 40) {
    long double d = (long double)q->opt.base_delay_ms * (long double)((uint64_t)1 << n);
    if (d < (long double)q->opt.max_delay_ms)
      item = (uint64_t)d;
  }
  (void)json_object_set_new(q->failures, key, json_integer(n + 1));

  /* Token bucket with reservations: a token is always taken; when the bucket is empty the
   * reservation is in the future and its wait is the delay. */
  uint64_t now = now_ms(q);
  if (now > q->tokens_at) {
    q->tokens += (double)(now - q->tokens_at) * q->opt.bucket_qps / 1000.0;
    if (q->tokens > q->opt.bucket_burst)
      q->tokens = q->opt.bucket_burst;
    q->tokens_at = now;
  }
  q->tokens -= 1.0;
  uint64_t bucket = 0;
  if (q->tokens < 0)
    bucket = (uint64_t)(-q->tokens * 1000.0 / q->opt.bucket_qps + 0.5);
  return item > bucket ? item : bucket;
}

int workqueue_add_rate_limited(workqueue *q, const char *key, uint64_t *delay_out) {
  int rc = check_key(key);
  if (rc)
    return rc;
  pthread_mutex_lock(&q->mu);
  if (q->shutting_down) {
    rc = error_set(ERR_CANCELLED, "workqueue: shut down");
  } else {
    uint64_t d = rate_limit_delay_locked(q, key);
    q->retries++;
    if (delay_out)
      *delay_out = d;
    rc = add_after_locked(q, key, d);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void workqueue_forget(workqueue *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  json_object_del(q->failures, key);
  pthread_mutex_unlock(&q->mu);
}

int workqueue_num_requeues(workqueue *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  json_t *f = json_object_get(q->failures, key);
  int n = f ? (int)json_integer_value(f) : 0;
  pthread_mutex_unlock(&q->mu);
  return n;
}

int workqueue_get(workqueue *q, bool wait, char **key_out) {
  int rc = 0;
  pthread_mutex_lock(&q->mu);
  for (;;) {
    if (q->shutting_down && !q->drain) {
      rc = error_set(ERR_CANCELLED, "workqueue: shut down");
      break;
    }
    if (!q->shutting_down)
      promote_due_locked(q);
    if (q->ready_len) {
      char *k = ready_pop(q);
      json_object_del(q->dirty, k);
      if (json_object_set_new(q->processing, k, json_true())) {
        free(k);
        rc = error_set(ERR_NOMEM, "workqueue: out of memory");
        break;
      }
      *key_out = k;
      break;
    }
    if (q->shutting_down) {
      rc = error_set(ERR_CANCELLED, "workqueue: shut down");
      break;
    }
    if (!wait) {
      rc = ERR_EOF;
      break;
    }
    if (q->heap_len && q->opt.clock == monotonic_ms) {
      uint64_t when = q->heap[0].when;
      struct timespec ts = {(time_t)(when / 1000), (long)(when % 1000) * 1000000L};
      pthread_cond_timedwait(&q->cond, &q->mu, &ts);
    } else {
      pthread_cond_wait(&q->cond, &q->mu);
    }
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void workqueue_done(workqueue *q, const char *key) {
  pthread_mutex_lock(&q->mu);
  json_object_del(q->processing, key);
  if (json_object_get(q->dirty, key)) {
    if (ready_push(q, key))
      json_object_del(q->dirty, key); /* out of memory: the key is lost, as a full queue */
    else
      pthread_cond_signal(&q->cond);
  }
  pthread_cond_broadcast(&q->cond); /* wake workqueue_wait_idle */
  pthread_mutex_unlock(&q->mu);
}

void workqueue_shutdown(workqueue *q, bool drain) {
  pthread_mutex_lock(&q->mu);
  q->shutting_down = true;
  q->drain = drain;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->mu);
}

int workqueue_wait_idle(workqueue *q, uint64_t timeout_ms) {
  int rc = 0;
  pthread_mutex_lock(&q->mu);
  uint64_t deadline = monotonic_ms(NULL) + timeout_ms;
  while (json_object_size(q->processing) || (q->drain && q->ready_len)) {
    uint64_t now = monotonic_ms(NULL);
    if (now >= deadline) {
      rc = error_set(ERR_TIMEOUT, "workqueue: %zu keys still in flight",
                     json_object_size(q->processing));
      break;
    }
    uint64_t until = now + 50 < deadline ? now + 50 : deadline;
    struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
    pthread_cond_timedwait(&q->cond, &q->mu, &ts);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void workqueue_get_stats(workqueue *q, workqueue_stats *out) {
  pthread_mutex_lock(&q->mu);
  out->depth = q->ready_len;
  out->waiting = json_object_size(q->waiting);
  out->processing = json_object_size(q->processing);
  out->adds = q->adds;
  out->retries = q->retries;
  pthread_mutex_unlock(&q->mu);
}

uint64_t workqueue_next_deadline_in(workqueue *q) {
  uint64_t r = UINT64_MAX;
  pthread_mutex_lock(&q->mu);
  /* Skip stale heap tops cheaply: the top is only an upper bound on earliness anyway. */
  if (q->heap_len) {
    uint64_t now = now_ms(q);
    r = q->heap[0].when > now ? q->heap[0].when - now : 0;
  }
  pthread_mutex_unlock(&q->mu);
  return r;
}
