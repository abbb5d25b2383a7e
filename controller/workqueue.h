/*
 * workqueue: the rate-limited, deduplicating work queue reconcilers consume (client-go's
 * util/workqueue in C).
 *
 * Keys are strings ("namespace/name"). Invariants, as client-go's:
 *  - a key is queued at most once (adding a queued key is a no-op);
 *  - a key is never handed to two workers at once: a key added while a worker holds it is
 *    marked dirty and queued again when that worker calls workqueue_done();
 *  - delayed adds (workqueue_add_after) keep the earliest deadline of a key;
 *  - workqueue_add_rate_limited delays by the larger of a per-item exponential backoff
 *    (base * 2^failures, 5 ms .. 1000 s by default) and a global token bucket
 *    (10 tokens/s, burst 100), until workqueue_forget() resets the item's failures;
 *  - shutdown refuses new adds; with drain, workqueue_get keeps returning queued keys until
 *    none is queued or in flight, then returns ERR_CANCELLED.
 * Every size is bounded (WORKQUEUE_MAX_KEYS): an add past it fails with ERR_LIMIT.
 * Thread-safe (one mutex); the clock is injectable so that tests can drive time.
 */
#ifndef PORTICO_CONTROLLER_WORKQUEUE_H
#define PORTICO_CONTROLLER_WORKQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKQUEUE_MAX_KEYS 1000000
#define WORKQUEUE_KEY_MAX 512

/* Milliseconds on a monotonic clock. */
typedef uint64_t (*workqueue_clock_fn)(void *ctx);

typedef struct workqueue_options {
  uint64_t base_delay_ms;  /* per-item backoff start; 0: 5 */
  uint64_t max_delay_ms;   /* per-item backoff ceiling; 0: 1000000 (1000 s) */
  double bucket_qps;       /* global token bucket rate; 0: 10 */
  int bucket_burst;        /* bucket size; 0: 100 */
  workqueue_clock_fn clock;/* NULL: CLOCK_MONOTONIC */
  void *clock_ctx;
  /* When a clock is injected, workqueue_get never sleeps past a deadline on its own
   * (the test advances time and calls workqueue_get again). */
} workqueue_options;

typedef struct workqueue_stats {
  size_t depth;       /* keys ready to be handed out */
  size_t waiting;     /* keys with a pending delayed add */
  size_t processing;  /* keys held by workers */
  uint64_t adds;      /* total accepted adds (queued or marked dirty) */
  uint64_t retries;   /* total workqueue_add_rate_limited calls */
} workqueue_stats;

typedef struct workqueue workqueue;

/* Makes a queue. `opts` may be NULL for the defaults. *out owned: workqueue_free. */
int workqueue_new(workqueue **out, const workqueue_options *opts);
void workqueue_free(workqueue *q);

/* Queues `key` now. ERR_CANCELLED after shutdown, ERR_LIMIT when full, ERR_INVALID for a
 * key longer than WORKQUEUE_KEY_MAX. */
int workqueue_add(workqueue *q, const char *key);

/* Queues `key` after `delay_ms`; an earlier pending deadline for the key wins. delay 0 is
 * workqueue_add. */
int workqueue_add_after(workqueue *q, const char *key, uint64_t delay_ms);

/* Queues `key` after the rate limiter's delay (see above) and counts a failure for it.
 * *delay_out (may be NULL) receives the delay used. */
int workqueue_add_rate_limited(workqueue *q, const char *key, uint64_t *delay_out);

/* Resets the failure count of `key` (call after a successful reconcile). */
void workqueue_forget(workqueue *q, const char *key);

/* Failures recorded for `key`. */
int workqueue_num_requeues(workqueue *q, const char *key);

/* Takes the next key. Blocks while nothing is ready when `wait` (waking for delayed keys
 * as they come due), else returns ERR_EOF at once when nothing is ready. ERR_CANCELLED
 * once shut down (after draining, with drain). *key_out is owned by the caller (free()),
 * and the caller must call workqueue_done(key) when finished with it. */
int workqueue_get(workqueue *q, bool wait, char **key_out);

/* Marks the key as processed; requeues it if it was added meanwhile. */
void workqueue_done(workqueue *q, const char *key);

/* Stops accepting adds and wakes all waiters. drain: let workers finish the queued and
 * in-flight keys first (delayed keys are dropped). Does not block. */
void workqueue_shutdown(workqueue *q, bool drain);

/* Blocks until no key is in flight or `timeout_ms` passes (ERR_TIMEOUT). */
int workqueue_wait_idle(workqueue *q, uint64_t timeout_ms);

void workqueue_get_stats(workqueue *q, workqueue_stats *out);

/* Milliseconds until the earliest delayed key is due (UINT64_MAX when none). */
uint64_t workqueue_next_deadline_in(workqueue *q);

#endif
