/*
 * log: see log.h. Lines are bounded (LOG_LINE_MAX) and JSON-escaped in JSON mode.
 */
#include "log.h"

#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 8192

static log_format current_format = LOG_FORMAT_TEXT;
static log_level current_level = LOG_INFO;

void log_configure(log_format format, log_level min_level) {
  current_format = format;
  current_level = min_level;
}

int log_parse_format(const char *s, log_format *out) {
  if (!strcmp(s, "text")) *out = LOG_FORMAT_TEXT;
  else if (!strcmp(s, "json")) *out = LOG_FORMAT_JSON;
  else return error_set(ERR_INVALID, "unknown log format %s (want text or json)", s);
  return 0;
}

int log_parse_level(const char *s, log_level *out) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, names[i])) {
      *out = (log_level)i;
      return 0;
    }
  return error_set(ERR_INVALID, "unknown log level %s (want debug, info, warn or error)", s);
}

int log_enabled(log_level level) { return level >= current_level; }

static void json_escape(buf *b, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') buf_printf(b, "\\%c", c);
    else if (c == '\n') buf_puts(b, "\\n");
    else if (c == '\t') buf_puts(b, "\\t");
    else if (c < 0x20) buf_printf(b, "\\u%04x", c);
    else buf_putc(b, (char)c);
  }
}

void log_write(log_level level, const char *key, const char *fmt, ...) {
  static const char *upper[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
  static const char *lower[] = {"debug", "info", "warn", "error"};
  if (!log_enabled(level))
    return;
  char msg[LOG_LINE_MAX / 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);

  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[64];
  snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));

  buf line;
  buf_init(&line, LOG_LINE_MAX);
  if (current_format == LOG_FORMAT_JSON) {
    buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, lower[level]);
    json_escape(&line, msg);
    buf_puts(&line, "\"");
    if (key) {
      buf_puts(&line, ",\"key\":\"");
      json_escape(&line, key);
      buf_puts(&line, "\"");
    }
    buf_puts(&line, "}\n");
  } else {
    buf_printf(&line, "%s %s %s", ts, upper[level], msg);
    if (key)
      buf_printf(&line, " key=%s", key);
    buf_puts(&line, "\n");
  }
  if (line.len) {
    ssize_t n = write(STDERR_FILENO, line.data, line.len);
    (void)n;
  }
  buf_free(&line);
}

void log_redact_url(const char *url, char *out, size_t size) {
  if (!size)
    return;
  const char *scheme = strstr(url, "://");
  const char *host = scheme ? scheme + 3 : url;
  const char *at = strchr(host, '@');
  const char *slash = strchr(host, '/');
  if (at && (!slash || at < slash))
    snprintf(out, size, "%.*s%s", (int)(host - url), url, at + 1);
  else
    snprintf(out, size, "%s", url);
}
