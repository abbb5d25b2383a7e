/*
 * leader: see leader.h. One timer drives the cycle: tick -> GET the Lease -> (create or
 * update) -> schedule the next tick one retry period later. At most one request is in
 * flight; the observed record and the time it was observed are kept between ticks.
 */
#include "controller/leader.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const kube_resource LEASES = {"coordination.k8s.io", "v1", "leases", "Lease", true};

struct leader_elector {
  kube_client *client;
  leader_options opt;
  char *ns, *name, *identity;
  uv_timer_t timer;
  kube_request *inflight;
  atomic_bool leading;
  bool closing, released;
  /* observed record */
  char *obs_holder, *obs_renew, *obs_rv;
  uint64_t obs_at_ms;
  uint64_t last_renew_ms;
  atomic_uint_fast64_t transitions;
  unsigned failures; /* consecutive failed attempts, to warn without flooding */
  void (*on_closed)(void *);
  void *on_closed_ctx;
};

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void leader_micro_time(char *out, size_t size) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char base[32];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, size, "%s.%06ldZ", base, (long)tv.tv_usec);
}

bool leader_is_leader(leader_elector *le) { return le && atomic_load(&le->leading); }
const char *leader_identity(leader_elector *le) { return le->identity; }
uint64_t leader_transitions(leader_elector *le) { return atomic_load(&le->transitions); }

static void schedule(leader_elector *le, uint64_t ms);
static void tick(uv_timer_t *t);

static void stop_leading(leader_elector *le, const char *why) {
  if (!atomic_exchange(&le->leading, false))
    return;
  log_write(le->closing ? LOG_INFO : LOG_WARN, NULL, "leader election: %s lease %s/%s (%s)",
            le->closing ? "giving up" : "lost", le->ns, le->name, why);
  atomic_fetch_add(&le->transitions, 1);
  if (le->opt.on_stop)
    le->opt.on_stop(le->opt.ctx);
}

static void start_leading(leader_elector *le) {
  le->last_renew_ms = mono_ms();
  if (atomic_exchange(&le->leading, true))
    return;
  log_info(NULL, "leader election: acquired lease %s/%s as %s", le->ns, le->name, le->identity);
  atomic_fetch_add(&le->transitions, 1);
  if (le->opt.on_start)
    le->opt.on_start(le->opt.ctx);
}

static void set_str(char **dst, const char *v) {
  free(*dst);
  *dst = v ? str_dup(v) : NULL;
}

/* Logs a failed attempt: a warning the first time and every 30th, debug otherwise. */
static void note_failure(leader_elector *le, const char *what, const char *msg) {
  log_write(le->failures++ % 30 == 0 ? LOG_WARN : LOG_DEBUG, NULL,
            "leader election: cannot %s lease %s/%s: %s", what, le->ns, le->name, msg);
}

static void check_deadline(leader_elector *le) {
  if (atomic_load(&le->leading) && mono_ms() - le->last_renew_ms > le->opt.renew_deadline_ms)
    stop_leading(le, "renew deadline passed");
}

static void on_write_done(void *ctx, kube_response *resp) {
  leader_elector *le = ctx;
  le->inflight = NULL;
  if (resp->code == ERR_CANCELLED)
    return;
  if (resp->code == 0) {
    const char *rv = json_string_value(json_object_get(json_object_get(resp->body, "metadata"),
                                                       "resourceVersion"));
    set_str(&le->obs_rv, rv);
    set_str(&le->obs_holder, le->identity);
    le->obs_at_ms = mono_ms();
    le->failures = 0;
    start_leading(le);
  } else {
    if (resp->code == ERR_CONFLICT)
      log_debug(NULL, "leader election: lost the race for lease %s/%s", le->ns, le->name);
    else
      note_failure(le, "write", resp->message);
    check_deadline(le);
  }
  schedule(le, le->opt.retry_period_ms);
}

static int lease_write(leader_elector *le, json_t *lease, bool create) {
  char now[40];
  leader_micro_time(now, sizeof now);
  json_t *spec = json_object_get(lease, "spec");
  if (!json_is_object(spec)) {
    spec = json_object();
    json_object_set_new(lease, "spec", spec);
  }
  const char *prev = json_string_value(json_object_get(spec, "holderIdentity"));
  bool mine = str_eq(prev, le->identity);
  if (!mine) {
    json_object_set_new(spec, "acquireTime", json_string(now));
    if (prev && *prev)
      json_object_set_new(spec, "leaseTransitions",
                          json_integer(json_integer_value(json_object_get(spec, "leaseTransitions")) + 1));
    else if (!json_object_get(spec, "leaseTransitions"))
      json_object_set_new(spec, "leaseTransitions", json_integer(0));
  }
  json_object_set_new(spec, "holderIdentity", json_string(le->identity));
  json_object_set_new(spec, "leaseDurationSeconds",
                      json_integer((json_int_t)((le->opt.lease_duration_ms + 999) / 1000)));
  json_object_set_new(spec, "renewTime", json_string(now));
  char *body = json_dumps(lease, JSON_COMPACT);
  buf p = BUF_INIT;
  int rc = body ? kube_path(&p, &LEASES, le->ns, create ? NULL : le->name, NULL) : ERR_NOMEM;
  if (!rc)
    rc = kube_client_request(le->client, create ? "POST" : "PUT", buf_cstr(&p), body, NULL,
                             le->opt.retry_period_ms > 1000 ? le->opt.retry_period_ms : 1000,
                             on_write_done, le, &le->inflight);
  free(body);
  buf_free(&p);
  return rc;
}

static void on_get_done(void *ctx, kube_response *resp) {
  leader_elector *le = ctx;
  le->inflight = NULL;
  if (resp->code == ERR_CANCELLED)
    return;
  if (le->closing)
    return;
  if (resp->code == ERR_NOTFOUND) {
    json_t *lease = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "coordination.k8s.io/v1",
                              "kind", "Lease", "metadata", "name", le->name, "namespace", le->ns);
    int rc = lease ? lease_write(le, lease, true) : ERR_NOMEM;
    json_decref(lease);
    if (rc)
      schedule(le, le->opt.retry_period_ms);
    return;
  }
  if (resp->code) {
    note_failure(le, "read", resp->message);
    check_deadline(le);
    schedule(le, le->opt.retry_period_ms);
    return;
  }
  json_t *spec = json_object_get(resp->body, "spec");
  const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
  const char *renew = json_string_value(json_object_get(spec, "renewTime"));
  const char *rv = json_string_value(json_object_get(json_object_get(resp->body, "metadata"),
                                                     "resourceVersion"));
  json_int_t dur_s = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
  uint64_t dur_ms = dur_s > 0 ? (uint64_t)dur_s * 1000u : le->opt.lease_duration_ms;
  if (!str_eq(holder, le->obs_holder) || !str_eq(renew, le->obs_renew) || !str_eq(rv, le->obs_rv)) {
    set_str(&le->obs_holder, holder);
    set_str(&le->obs_renew, renew);
    set_str(&le->obs_rv, rv);
    le->obs_at_ms = mono_ms();
  }
  bool held_by_other = holder && *holder && !str_eq(holder, le->identity);
  if (held_by_other && mono_ms() < le->obs_at_ms + dur_ms) {
    stop_leading(le, "held by another replica");
    schedule(le, le->opt.retry_period_ms);
    return;
  }
  json_t *lease = json_deep_copy(resp->body);
  int rc = lease ? lease_write(le, lease, false) : ERR_NOMEM;
  json_decref(lease);
  if (rc)
    schedule(le, le->opt.retry_period_ms);
}

static void tick(uv_timer_t *t) {
  leader_elector *le = t->data;
  if (le->closing || le->inflight)
    return;
  buf p = BUF_INIT;
  int rc = kube_path(&p, &LEASES, le->ns, le->name, NULL);
  if (!rc)
    rc = kube_client_request(le->client, "GET", buf_cstr(&p), NULL, NULL,
                             le->opt.retry_period_ms > 1000 ? le->opt.retry_period_ms : 1000,
                             on_get_done, le, &le->inflight);
  buf_free(&p);
  if (rc) {
    check_deadline(le);
    schedule(le, le->opt.retry_period_ms);
  }
}

static void schedule(leader_elector *le, uint64_t ms) {
  if (!le->closing)
    uv_timer_start(&le->timer, tick, ms, 0);
}

int leader_start(leader_elector **out, kube_client *client, const leader_options *opts) {
  leader_elector *le = calloc(1, sizeof *le);
  if (!le)
    return error_set(ERR_NOMEM, "leader: out of memory");
  le->client = client;
  le->opt = *opts;
  if (!le->opt.lease_duration_ms)
    le->opt.lease_duration_ms = 15000;
  if (!le->opt.renew_deadline_ms)
    le->opt.renew_deadline_ms = 10000;
  if (!le->opt.retry_period_ms)
    le->opt.retry_period_ms = 2000;
  le->ns = str_dup(opts->namespace);
  le->name = str_dup(opts->name);
  if (opts->identity) {
    le->identity = str_dup(opts->identity);
  } else {
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    unsigned r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
      if (fread(&r, sizeof r, 1, f) != 1)
        r = (unsigned)mono_ms();
      fclose(f);
    }
    le->identity = str_printf("%s_%ld_%08x", host, (long)getpid(), r);
  }
  if (!le->ns || !le->name || !le->identity) {
    free(le->ns);
    free(le->name);
    free(le->identity);
    free(le);
    return error_set(ERR_NOMEM, "leader: out of memory");
  }
  uv_timer_init(kube_client_loop(client), &le->timer);
  le->timer.data = le;
  uv_timer_start(&le->timer, tick, 0, 0);
  *out = le;
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  leader_elector *le = h->data;
  void (*cb)(void *) = le->on_closed;
  void *ctx = le->on_closed_ctx;
  free(le->ns);
  free(le->name);
  free(le->identity);
  free(le->obs_holder);
  free(le->obs_renew);
  free(le->obs_rv);
  free(le);
  if (cb)
    cb(ctx);
}

static void finish_close(leader_elector *le) {
  uv_timer_stop(&le->timer);
  uv_close((uv_handle_t *)&le->timer, on_timer_closed);
}

static void on_release_done(void *ctx, kube_response *resp) {
  leader_elector *le = ctx;
  le->inflight = NULL;
  if (resp->code && resp->code != ERR_CANCELLED)
    log_warn(NULL, "leader election: could not release lease %s/%s: %s", le->ns, le->name,
             resp->message);
  else if (!resp->code)
    log_info(NULL, "leader election: released lease %s/%s", le->ns, le->name);
  finish_close(le);
}

static void on_release_get(void *ctx, kube_response *resp) {
  leader_elector *le = ctx;
  le->inflight = NULL;
  json_t *spec = json_object_get(resp->body, "spec");
  if (resp->code || !str_eq(json_string_value(json_object_get(spec, "holderIdentity")), le->identity)) {
    finish_close(le);
    return;
  }
  json_t *lease = json_deep_copy(resp->body);
  spec = json_object_get(lease, "spec");
  char now[40];
  leader_micro_time(now, sizeof now);
  json_object_set_new(spec, "holderIdentity", json_string(""));
  json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
  json_object_set_new(spec, "renewTime", json_string(now));
  char *body = json_dumps(lease, JSON_COMPACT);
  json_decref(lease);
  buf p = BUF_INIT;
  int rc = body ? kube_path(&p, &LEASES, le->ns, le->name, NULL) : ERR_NOMEM;
  if (!rc)
    rc = kube_client_request(le->client, "PUT", buf_cstr(&p), body, NULL, 2000, on_release_done,
                             le, &le->inflight);
  free(body);
  buf_free(&p);
  if (rc)
    finish_close(le);
}

void leader_close(leader_elector *le, void (*on_closed)(void *ctx), void *ctx) {
  le->on_closed = on_closed;
  le->on_closed_ctx = ctx;
  le->closing = true;
  uv_timer_stop(&le->timer);
  if (le->inflight) {
    kube_request_cancel(le->inflight);
    le->inflight = NULL;
  }
  bool was = atomic_load(&le->leading);
  stop_leading(le, "shutting down");
  if (!was) {
    finish_close(le);
    return;
  }
  buf p = BUF_INIT;
  int rc = kube_path(&p, &LEASES, le->ns, le->name, NULL);
  if (!rc)
    rc = kube_client_request(le->client, "GET", buf_cstr(&p), NULL, NULL, 2000, on_release_get,
                             le, &le->inflight);
  buf_free(&p);
  if (rc)
    finish_close(le);
}
