/*
 * log: structured logs, one line per event, on stderr.
 *
 * Text:  2026-11-25T18:00:00.123Z INFO  reconciled key=ns/name msg="..."
 * JSON:  {"ts":"...","level":"info","msg":"...","key":"ns/name"}
 * The format and minimum level are process-wide (log_configure). Thread-safe: each line is
 * written with a single write(2). Never pass credentials to a log call; log_redact_url()
 * strips user:password from URLs for messages that must name one.
 */
#ifndef PORTICO_BASE_LOG_H
#define PORTICO_BASE_LOG_H

#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level;
typedef enum { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 } log_format;

void log_configure(log_format format, log_level min_level);

/* Parses "text"/"json" and "debug"/"info"/"warn"/"error"; ERR_INVALID otherwise. */
int log_parse_format(const char *s, log_format *out);
int log_parse_level(const char *s, log_level *out);

/* Is `level` enabled? Cheap; use it to skip building expensive messages. */
int log_enabled(log_level level);

/* Writes one event. `key` (an object key such as "ns/name", or NULL) becomes a field. */
void log_write(log_level level, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(key, ...) log_write(LOG_DEBUG, key, __VA_ARGS__)
#define log_info(key, ...) log_write(LOG_INFO, key, __VA_ARGS__)
#define log_warn(key, ...) log_write(LOG_WARN, key, __VA_ARGS__)
#define log_error(key, ...) log_write(LOG_ERROR, key, __VA_ARGS__)

/* Copies `url` into `out` (size `size`, always terminated) without any userinfo part. */
void log_redact_url(const char *url, char *out, size_t size);

#endif
