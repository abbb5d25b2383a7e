/*
 * error: thread-local last error. See error.h for the convention.
 * Messages are bounded (ERROR_MESSAGE_MAX); longer ones are truncated, never overflow.
 */
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ERROR_MESSAGE_MAX 2048

static _Thread_local int last_code;
static _Thread_local char last_message[ERROR_MESSAGE_MAX];

static void set_message(const char *fmt, va_list ap) {
  vsnprintf(last_message, sizeof(last_message), fmt, ap);
}

int error_set(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_message(fmt, ap);
  va_end(ap);
  last_code = code;
  return code;
}

int error_set_errno(int code, const char *fmt, ...) {
  int saved = errno;
  char reason[256];
  va_list ap;
  va_start(ap, fmt);
  set_message(fmt, ap);
  va_end(ap);
  /* strerror_r's GNU form may return a static string rather than fill the buffer. */
  const char *text = strerror_r(saved, reason, sizeof(reason));
  size_t len = strlen(last_message);
  snprintf(last_message + len, sizeof(last_message) - len, ": %s", text);
  last_code = code;
  return code;
}

int error_prefix(const char *fmt, ...) {
  char old[ERROR_MESSAGE_MAX];
  memcpy(old, last_message, sizeof(old));
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(last_message, sizeof(last_message), fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  size_t used = (size_t)n < sizeof(last_message) ? (size_t)n : sizeof(last_message) - 1;
  size_t room = sizeof(last_message) - used;
  size_t old_len = strnlen(old, sizeof(old) - 1);
  if (room > 2) {
    memcpy(last_message + used, ": ", 2);
    used += 2;
    room -= 2;
    size_t copy = old_len < room - 1 ? old_len : room - 1;
    memcpy(last_message + used, old, copy);
    used += copy;
  }
  last_message[used] = '\0';
  return last_code;
}

const char *error_message(void) { return last_message; }

int error_code(void) { return last_code; }

void error_clear(void) {
  last_code = ERR_OK;
  last_message[0] = '\0';
}

const char *error_code_name(int code) {
  switch (code) {
  case ERR_OK: return "ok";
  case ERR_NOMEM: return "out of memory";
  case ERR_INVALID: return "invalid";
  case ERR_NOTFOUND: return "not found";
  case ERR_EXISTS: return "already exists";
  case ERR_CONFLICT: return "conflict";
  case ERR_IO: return "i/o error";
  case ERR_LIMIT: return "limit exceeded";
  case ERR_TIMEOUT: return "timeout";
  case ERR_AUTH: return "unauthorized";
  case ERR_UNSUPPORTED: return "unsupported";
  case ERR_GONE: return "gone";
  case ERR_FORBIDDEN: return "forbidden";
  case ERR_UNAVAILABLE: return "unavailable";
  case ERR_EOF: return "end of input";
  case ERR_CANCELLED: return "cancelled";
  default: return "error";
  }
}
