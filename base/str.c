/* str: see str.h. */
#include "str.h"

#include "buf.h"
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

char *str_dup(const char *s) {
  if (!s)
    return NULL;
  char *d = strdup(s);
  if (!d)
    error_set(ERR_NOMEM, "out of memory");
  return d;
}

char *str_ndup(const char *s, size_t n) {
  if (!s)
    return NULL;
  char *d = strndup(s, n);
  if (!d)
    error_set(ERR_NOMEM, "out of memory");
  return d;
}

char *str_printf(const char *fmt, ...) {
  buf b = BUF_INIT;
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vprintf(&b, fmt, ap);
  va_end(ap);
  if (rc) {
    buf_free(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

bool str_has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool str_eq(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

int str_to_int64(const char *s, int64_t min, int64_t max, int64_t *out) {
  if (!s || !*s)
    return error_set(ERR_INVALID, "empty number");
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return error_set(ERR_INVALID, "%s is not an integer between %lld and %lld", s,
                     (long long)min, (long long)max);
  *out = v;
  return 0;
}

size_t str_copy(char *dst, const char *src, size_t size) {
  size_t n = strlen(src);
  if (size) {
    size_t c = n < size - 1 ? n : size - 1;
    memcpy(dst, src, c);
    dst[c] = '\0';
  }
  return n;
}
