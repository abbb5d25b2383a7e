/*
 * buf: growable buffer with a ceiling. Growth doubles capacity (bounded by the limit plus
 * the NUL) so appends are amortised O(1).
 */
#include "buf.h"

#include "error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t effective_limit(const buf *b) { return b->limit ? b->limit : BUF_LIMIT_DEFAULT; }

void buf_init(buf *b, size_t limit) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit;
}

int buf_reserve(buf *b, size_t extra) {
  size_t limit = effective_limit(b);
  if (extra > limit || b->len > limit - extra)
    return error_set(ERR_LIMIT, "buffer limit of %zu bytes reached", limit);
  size_t need = b->len + extra + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > limit + 1)
    cap = limit + 1;
  char *data = realloc(b->data, cap);
  if (!data)
    return error_set(ERR_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
  b->data = data;
  b->cap = cap;
  return 0;
}

int buf_append(buf *b, const void *data, size_t len) {
  int rc = buf_reserve(b, len);
  if (rc)
    return rc;
  if (len)
    memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_putc(buf *b, char c) { return buf_append(b, &c, 1); }

int buf_vprintf(buf *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (n < 0)
    return error_set(ERR_INVALID, "bad format string");
  int rc = buf_reserve(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void buf_reset(buf *b) {
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void buf_consume(buf *b, size_t n) {
  if (n >= b->len) {
    buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = '\0';
}

char *buf_detach(buf *b, size_t *len_out) {
  char *out = b->data;
  size_t len = b->len;
  if (!out) {
    out = calloc(1, 1);
    if (!out) {
      error_set(ERR_NOMEM, "out of memory");
      return NULL;
    }
  }
  if (len_out)
    *len_out = len;
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  return out;
}

const char *buf_cstr(const buf *b) { return b->data ? b->data : ""; }

void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}
