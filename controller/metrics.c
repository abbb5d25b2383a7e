/*
 * metrics: see metrics.h. Families are a small array (few dozen); each family's series
 * are a jansson object labels -> array of reals (counter/gauge: [v]; histogram:
 * [sum, count, bucket...] with cumulative buckets). Rendering sorts series by labels so
 * the output is stable.
 */
#include "controller/metrics.h"

#include "base/error.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const double BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NBUCKETS (sizeof BUCKETS / sizeof *BUCKETS)

typedef struct family {
  char *name;
  char *help;
  metric_type type;
  json_t *series; /* labels -> JSON array: counter/gauge [v]; histogram [sum, count, b0..bn] */
} family;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static family *families;
static size_t nfamilies, capfamilies, nseries;

static family *find(const char *name) {
  for (size_t i = 0; i < nfamilies; i++)
    if (!strcmp(families[i].name, name))
      return &families[i];
  return NULL;
}

int metrics_declare(const char *name, metric_type type, const char *help) {
  int rc = 0;
  pthread_mutex_lock(&mu);
  if (!find(name)) {
    if (nfamilies == capfamilies) {
      size_t cap = capfamilies ? capfamilies * 2 : 32;
      family *n = realloc(families, cap * sizeof *n);
      if (!n) {
        pthread_mutex_unlock(&mu);
        return error_set(ERR_NOMEM, "metrics: out of memory");
      }
      families = n;
      capfamilies = cap;
    }
    family *f = &families[nfamilies];
    f->name = strdup(name);
    f->help = strdup(help);
    f->type = type;
    f->series = json_object();
    if (!f->name || !f->help || !f->series) {
      free(f->name);
      free(f->help);
      json_decref(f->series);
      rc = error_set(ERR_NOMEM, "metrics: out of memory");
    } else {
      nfamilies++;
    }
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

/* The series array for labels, created with `len` zeros when absent. Lock held. */
static json_t *series(family *f, const char *labels, size_t len) {
  json_t *s = json_object_get(f->series, labels ? labels : "");
  if (s)
    return s;
  if (nseries >= METRICS_MAX_SERIES)
    return NULL;
  s = json_array();
  for (size_t i = 0; s && i < len; i++)
    json_array_append_new(s, json_real(0));
  if (!s || json_object_set_new(f->series, labels ? labels : "", s))
    return NULL;
  nseries++;
  return s;
}

static void add(const char *name, const char *labels, double v, bool set) {
  pthread_mutex_lock(&mu);
  family *f = find(name);
  json_t *s = f && f->type != METRIC_HISTOGRAM ? series(f, labels, 1) : NULL;
  if (s) {
    json_t *x = json_array_get(s, 0);
    json_real_set(x, set ? v : json_real_value(x) + v);
  }
  pthread_mutex_unlock(&mu);
}

void metrics_counter_add(const char *name, const char *labels, double v) { add(name, labels, v, false); }
void metrics_gauge_set(const char *name, const char *labels, double v) { add(name, labels, v, true); }

void metrics_histogram_observe(const char *name, const char *labels, double v) {
  pthread_mutex_lock(&mu);
  family *f = find(name);
  json_t *s = f && f->type == METRIC_HISTOGRAM ? series(f, labels, 2 + NBUCKETS) : NULL;
  if (s) {
    json_real_set(json_array_get(s, 0), json_real_value(json_array_get(s, 0)) + v);
    json_real_set(json_array_get(s, 1), json_real_value(json_array_get(s, 1)) + 1);
    for (size_t i = 0; i < NBUCKETS; i++)
      if (v <= BUCKETS[i]) {
        json_t *b = json_array_get(s, 2 + i);
        json_real_set(b, json_real_value(b) + 1);
      }
  }
  pthread_mutex_unlock(&mu);
}

double metrics_value(const char *name, const char *labels) {
  pthread_mutex_lock(&mu);
  family *f = find(name);
  json_t *s = f ? json_object_get(f->series, labels ? labels : "") : NULL;
  double v = s ? json_real_value(json_array_get(s, f->type == METRIC_HISTOGRAM ? 1 : 0)) : 0;
  pthread_mutex_unlock(&mu);
  return v;
}

int metrics_label_escape(buf *out, const char *v) {
  for (; *v; v++) {
    int rc = *v == '\\' ? buf_puts(out, "\\\\")
             : *v == '"' ? buf_puts(out, "\\\"")
             : *v == '\n' ? buf_puts(out, "\\n")
                          : buf_putc(out, *v);
    if (rc)
      return rc;
  }
  return 0;
}

static int fmt_num(buf *out, double v) {
  if (v == floor(v) && fabs(v) < 1e15)
    return buf_printf(out, "%.0f", v);
  return buf_printf(out, "%.9g", v);
}

static int cmp_keys(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int metrics_render(buf *out) {
  static const char *types[] = {"counter", "gauge", "histogram"};
  int rc = 0;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; !rc && i < nfamilies; i++) {
    family *f = &families[i];
    rc = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->type]);
    size_t n = json_object_size(f->series), k = 0;
    const char **keys = n ? malloc(n * sizeof *keys) : NULL;
    const char *key;
    json_t *s;
    json_object_foreach(f->series, key, s) {
      if (keys)
        keys[k++] = key;
    }
    if (keys)
      qsort(keys, k, sizeof *keys, cmp_keys);
    for (size_t j = 0; !rc && j < k; j++) {
      key = keys[j];
      s = json_object_get(f->series, key);
      const char *sep = *key ? "," : "";
      if (f->type != METRIC_HISTOGRAM) {
        rc = *key ? buf_printf(out, "%s{%s} ", f->name, key) : buf_printf(out, "%s ", f->name);
        if (!rc)
          rc = fmt_num(out, json_real_value(json_array_get(s, 0)));
        if (!rc)
          rc = buf_putc(out, '\n');
        continue;
      }
      for (size_t b = 0; !rc && b < NBUCKETS; b++) {
        rc = buf_printf(out, "%s_bucket{%s%sle=\"%g\"} ", f->name, key, sep, BUCKETS[b]);
        if (!rc)
          rc = fmt_num(out, json_real_value(json_array_get(s, 2 + b)));
        if (!rc)
          rc = buf_putc(out, '\n');
      }
      if (!rc)
        rc = buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} ", f->name, key, sep);
      if (!rc)
        rc = fmt_num(out, json_real_value(json_array_get(s, 1)));
      if (!rc)
        rc = *key ? buf_printf(out, "\n%s_sum{%s} ", f->name, key) : buf_printf(out, "\n%s_sum ", f->name);
      if (!rc)
        rc = fmt_num(out, json_real_value(json_array_get(s, 0)));
      if (!rc)
        rc = *key ? buf_printf(out, "\n%s_count{%s} ", f->name, key) : buf_printf(out, "\n%s_count ", f->name);
      if (!rc)
        rc = fmt_num(out, json_real_value(json_array_get(s, 1)));
      if (!rc)
        rc = buf_putc(out, '\n');
    }
    free(keys);
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

void metrics_reset(void) {
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nfamilies; i++) {
    free(families[i].name);
    free(families[i].help);
    json_decref(families[i].series);
  }
  free(families);
  families = NULL;
  nfamilies = capfamilies = nseries = 0;
  pthread_mutex_unlock(&mu);
}
