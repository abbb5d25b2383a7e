/*
 * metrics: a small process-wide Prometheus registry (counters, gauges, histograms) and
 * its text exposition format (version 0.0.4).
 *
 * A series is a metric name plus a label set written as Prometheus writes it
 * (`controller="observer",result="success"`); the caller builds the label text (values are
 * escaped by metrics_label_escape). Families are declared once with their type and help;
 * observing an undeclared family is a no-op, which keeps a typo from inventing metrics.
 * Thread-safe (one mutex). Bounded: at most METRICS_MAX_SERIES series.
 */
#ifndef PORTICO_CONTROLLER_METRICS_H
#define PORTICO_CONTROLLER_METRICS_H

#include "base/buf.h"

#define METRICS_MAX_SERIES 10000

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type;

/* Declares a family (idempotent). Histograms use the default buckets
 * (0.005 .. 60 seconds). */
int metrics_declare(const char *name, metric_type type, const char *help);

void metrics_counter_add(const char *name, const char *labels, double v);
void metrics_gauge_set(const char *name, const char *labels, double v);
void metrics_histogram_observe(const char *name, const char *labels, double v);

/* The current value of a counter or gauge series (0 when absent); for tests. */
double metrics_value(const char *name, const char *labels);

/* Appends the whole registry in the text format. */
int metrics_render(buf *out);

/* Appends `v` escaped for a label value (backslash, quote, newline). */
int metrics_label_escape(buf *out, const char *v);

/* Forgets everything (tests). */
void metrics_reset(void);

#endif
