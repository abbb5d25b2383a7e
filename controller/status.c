/*
 * status: see status.h.
 */
#include "controller/status.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const kube_resource EVENTS = {"", "v1", "events", "Event", true};

void status_now(char *out, size_t size) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- conditions ---------------------------------------------------------------------- */

static json_t *conditions_of(const json_t *obj) {
  return json_object_get(json_object_get(obj, "status"), "conditions");
}

json_t *condition_find(const json_t *obj, const char *type) {
  size_t i;
  json_t *c;
  json_array_foreach(conditions_of(obj), i, c) {
    if (str_eq(json_string_value(json_object_get(c, "type")), type))
      return c;
  }
  return NULL;
}

bool condition_is_true(const json_t *obj, const char *type) {
  return str_eq(json_string_value(json_object_get(condition_find(obj, type), "status")), "True");
}

static bool set_str_field(json_t *o, const char *k, const char *v) {
  if (str_eq(json_string_value(json_object_get(o, k)), v))
    return false;
  json_object_set_new(o, k, json_string(v));
  return true;
}

int condition_set(json_t *obj, const char *type, const char *status, const char *reason,
                  const char *message, int64_t observed_generation, const char *now,
                  bool *changed) {
  if (changed)
    *changed = false;
  if (!type || !*type || !reason || !*reason)
    return error_set(ERR_INVALID, "condition: type and reason are required");
  if (!str_eq(status, "True") && !str_eq(status, "False") && !str_eq(status, "Unknown"))
    return error_set(ERR_INVALID, "condition %s: status must be True, False or Unknown", type);
  char ts[32];
  if (!now) {
    status_now(ts, sizeof ts);
    now = ts;
  }
  json_t *st = json_object_get(obj, "status");
  if (!json_is_object(st)) {
    st = json_object();
    if (!st || json_object_set_new(obj, "status", st))
      return error_set(ERR_NOMEM, "condition: out of memory");
  }
  json_t *conds = json_object_get(st, "conditions");
  if (!json_is_array(conds)) {
    conds = json_array();
    if (!conds || json_object_set_new(st, "conditions", conds))
      return error_set(ERR_NOMEM, "condition: out of memory");
  }
  json_t *c = condition_find(obj, type);
  bool ch = false;
  if (!c) {
    c = json_object();
    if (!c || json_array_append_new(conds, c))
      return error_set(ERR_NOMEM, "condition: out of memory");
    json_object_set_new(c, "type", json_string(type));
    ch = true;
  }
  if (set_str_field(c, "status", status)) {
    json_object_set_new(c, "lastTransitionTime", json_string(now)); /* only on a flip */
    ch = true;
  }
  if (!json_object_get(c, "lastTransitionTime")) {
    json_object_set_new(c, "lastTransitionTime", json_string(now));
    ch = true;
  }
  ch |= set_str_field(c, "reason", reason);
  ch |= set_str_field(c, "message", message ? message : "");
  if (json_integer_value(json_object_get(c, "observedGeneration")) != observed_generation ||
      !json_object_get(c, "observedGeneration")) {
    json_object_set_new(c, "observedGeneration", json_integer(observed_generation));
    ch = true;
  }
  if (changed)
    *changed = ch;
  return 0;
}

int condition_remove(json_t *obj, const char *type, bool *changed) {
  if (changed)
    *changed = false;
  json_t *conds = conditions_of(obj);
  for (size_t i = 0; i < json_array_size(conds); i++) {
    if (str_eq(json_string_value(json_object_get(json_array_get(conds, i), "type")), type)) {
      json_array_remove(conds, i);
      if (changed)
        *changed = true;
      return 0;
    }
  }
  return 0;
}

/* --- finalizers ---------------------------------------------------------------------- */

bool finalizer_has(const json_t *obj, const char *name) {
  size_t i;
  json_t *f;
  json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), i, f) {
    if (str_eq(json_string_value(f), name))
      return true;
  }
  return false;
}

int finalizer_add(json_t *obj, const char *name, bool *changed) {
  if (changed)
    *changed = false;
  if (finalizer_has(obj, name))
    return 0;
  json_t *md = json_object_get(obj, "metadata");
  if (!json_is_object(md))
    return error_set(ERR_INVALID, "finalizer: object has no metadata");
  json_t *fs = json_object_get(md, "finalizers");
  if (!json_is_array(fs)) {
    fs = json_array();
    if (!fs || json_object_set_new(md, "finalizers", fs))
      return error_set(ERR_NOMEM, "finalizer: out of memory");
  }
  if (json_array_append_new(fs, json_string(name)))
    return error_set(ERR_NOMEM, "finalizer: out of memory");
  if (changed)
    *changed = true;
  return 0;
}

int finalizer_remove(json_t *obj, const char *name, bool *changed) {
  if (changed)
    *changed = false;
  json_t *fs = json_object_get(json_object_get(obj, "metadata"), "finalizers");
  for (size_t i = 0; i < json_array_size(fs);) {
    if (str_eq(json_string_value(json_array_get(fs, i)), name)) {
      json_array_remove(fs, i);
      if (changed)
        *changed = true;
    } else {
      i++;
    }
  }
  return 0;
}

/* --- status writes ------------------------------------------------------------------- */

int status_update(kube_client *c, const kube_resource *res, const json_t *current,
                  status_mutate_fn mutate, void *ctx, json_t **out, bool *written) {
  if (written)
    *written = false;
  json_t *base = json_incref((json_t *)current);
  int rc = 0;
  for (int attempt = 0;; attempt++) {
    json_t *copy = json_deep_copy(base);
    if (!copy) {
      rc = error_set(ERR_NOMEM, "status: out of memory");
      break;
    }
    rc = mutate(ctx, copy);
    if (rc) {
      json_decref(copy);
      break;
    }
    json_t *before = json_object_get(base, "status");
    json_t *after = json_object_get(copy, "status");
    if ((!before && !after) || (before && after && json_equal(before, after))) {
      if (out)
        *out = json_incref(base);
      json_decref(copy);
      break; /* nothing changed: no write at all */
    }
    json_t *stored = NULL;
    rc = kube_update_status(c, res, copy, &stored);
    json_decref(copy);
    if (rc == 0) {
      if (written)
        *written = true;
      if (out)
        *out = stored;
      else
        json_decref(stored);
      break;
    }
    if (rc != ERR_CONFLICT)
      break;
    if (attempt + 1 >= STATUS_MAX_CONFLICT_RETRIES) {
      rc = error_set(ERR_CONFLICT, "status: still conflicting after %d attempts",
                     STATUS_MAX_CONFLICT_RETRIES);
      break;
    }
    /* Lost the race: re-read, re-apply. */
    json_t *md = json_object_get(base, "metadata");
    json_t *fresh = NULL;
    rc = kube_get(c, res, json_string_value(json_object_get(md, "namespace")),
                  json_string_value(json_object_get(md, "name")), &fresh);
    if (rc)
      break;
    json_decref(base);
    base = fresh;
    usleep((useconds_t)(5000u << attempt));
  }
  json_decref(base);
  return rc;
}

/* --- events -------------------------------------------------------------------------- */

struct event_recorder {
  kube_client *client;
  char *component;
  char host[128];
  pthread_mutex_t mu;
  json_t *seen; /* correlation key -> {"ns", "name", "count"} */
};

int event_recorder_new(event_recorder **out, kube_client *client, const char *component) {
  event_recorder *r = calloc(1, sizeof *r);
  if (!r)
    return error_set(ERR_NOMEM, "events: out of memory");
  r->client = client;
  r->component = str_dup(component);
  r->seen = json_object();
  if (!r->component || !r->seen) {
    event_recorder_free(r);
    return error_set(ERR_NOMEM, "events: out of memory");
  }
  gethostname(r->host, sizeof r->host - 1);
  pthread_mutex_init(&r->mu, NULL);
  *out = r;
  return 0;
}

void event_recorder_free(event_recorder *r) {
  if (!r)
    return;
  if (r->seen)
    pthread_mutex_destroy(&r->mu);
  free(r->component);
  json_decref(r->seen);
  free(r);
}

int event_record(event_recorder *r, const json_t *involved, const char *type, const char *reason,
                 const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  json_t *md = json_object_get(involved, "metadata");
  const char *name = json_string_value(json_object_get(md, "name"));
  const char *ns = json_string_value(json_object_get(md, "namespace"));
  const char *uid = json_string_value(json_object_get(md, "uid"));
  const char *kind = json_string_value(json_object_get(involved, "kind"));
  const char *av = json_string_value(json_object_get(involved, "apiVersion"));
  if (!name)
    return error_set(ERR_INVALID, "event: involved object has no name");
  const char *event_ns = ns && *ns ? ns : "default";
  char *key = str_printf("%s|%s|%s|%s|%s|%s|%s", uid ? uid : "", kind ? kind : "", event_ns, name,
                         type, reason, message);
  if (!key)
    return ERR_NOMEM;
  char now[32];
  status_now(now, sizeof now);
  int rc = 0;
  pthread_mutex_lock(&r->mu);
  json_t *prev = json_incref(json_object_get(r->seen, key));
  pthread_mutex_unlock(&r->mu);
  if (prev) {
    json_int_t count = json_integer_value(json_object_get(prev, "count")) + 1;
    json_t *patch = json_pack("{s:I,s:s}", "count", (json_int_t)count, "lastTimestamp", now);
    rc = kube_patch(r->client, &EVENTS, event_ns, json_string_value(json_object_get(prev, "name")),
                    NULL, "merge", patch, NULL);
    json_decref(patch);
    if (rc == 0) {
      pthread_mutex_lock(&r->mu);
      json_object_set_new(prev, "count", json_integer(count));
      pthread_mutex_unlock(&r->mu);
    }
    json_decref(prev);
    if (rc != ERR_NOTFOUND) {
      free(key);
      return rc;
    }
    /* the Event expired on the server: start a new one */
  }
  unsigned long long rnd = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (f) {
    if (fread(&rnd, sizeof rnd, 1, f) != 1)
      rnd = (unsigned long long)time(NULL);
    fclose(f);
  }
  char ev_name[300];
  snprintf(ev_name, sizeof ev_name, "%.240s.%016llx", name, rnd);
  json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s?,s:s?,s:s,s:s?,s:s?},s:s,s:s,s:s,s:I,"
                         "s:s,s:s,s:{s:s,s:s}}",
                         "apiVersion", "v1", "kind", "Event", "metadata", "name", ev_name,
                         "namespace", event_ns, "involvedObject", "apiVersion", av, "kind", kind,
                         "name", name, "namespace", ns, "uid", uid, "reason", reason, "message",
                         message, "type", type, "count", (json_int_t)1, "firstTimestamp", now,
                         "lastTimestamp", now, "source", "component", r->component, "host",
                         r->host);
  if (!ev) {
    free(key);
    return error_set(ERR_NOMEM, "event: out of memory");
  }
  rc = kube_create(r->client, &EVENTS, event_ns, ev, NULL);
  json_decref(ev);
  if (rc == 0) {
    pthread_mutex_lock(&r->mu);
    if (json_object_size(r->seen) >= EVENTS_CACHE_MAX)
      json_object_clear(r->seen); /* bounded: forget old correlations */
    json_object_set_new(r->seen, key, json_pack("{s:s,s:I}", "name", ev_name, "count", (json_int_t)1));
    pthread_mutex_unlock(&r->mu);
  }
  free(key);
  return rc;
}
