/*
 * error: the one error convention of Portico.
 *
 * Every fallible function returns an int: 0 on success, or one of the negative ERR_*
 * codes below. The human-readable detail lives in a thread-local "last error", set with
 * error_set() at the place the failure is first understood and read with
 * error_message() by whoever reports it. Callers may add context with error_prefix().
 * The last error is per thread: copy it (error_message() returns a borrowed pointer)
 * before handing work to another thread.
 */
#ifndef PORTICO_BASE_ERROR_H
#define PORTICO_BASE_ERROR_H

#include <stdarg.h>

enum {
  ERR_OK = 0,
  ERR_GENERIC = -1,     /* anything without a better code */
  ERR_NOMEM = -2,       /* allocation failed */
  ERR_INVALID = -3,     /* bad input from a user or a peer */
  ERR_NOTFOUND = -4,    /* the thing asked for does not exist */
  ERR_EXISTS = -5,      /* it already exists */
  ERR_CONFLICT = -6,    /* optimistic concurrency lost (stale version) */
  ERR_IO = -7,          /* the operating system said no */
  ERR_LIMIT = -8,       /* a size, count or time ceiling was reached */
  ERR_TIMEOUT = -9,     /* a deadline passed */
  ERR_AUTH = -10,       /* missing or wrong credentials */
  ERR_UNSUPPORTED = -11,/* valid but not supported */
  ERR_GONE = -12,       /* it existed but is no longer available (e.g. compacted) */
  ERR_FORBIDDEN = -13,  /* credentials fine, permission denied */
  ERR_UNAVAILABLE = -14,/* try again later */
  ERR_EOF = -15,        /* end of input */
  ERR_CANCELLED = -16   /* stopped on request */
};

/* Sets the thread's last error to `code` and a printf-style message; returns `code` so
 * that `return error_set(ERR_INVALID, "bad name %s", n);` reads naturally. */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* As error_set, with ": <strerror(errno)>" appended (errno read on entry). */
int error_set_errno(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "<context>: " to the current message; returns the current code. */
int error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The last error's message: borrowed, valid until the next error_* call on this thread.
 * Never NULL ("" when none). */
const char *error_message(void);

/* The last error's code (ERR_OK when none). */
int error_code(void);

/* Forgets the last error. */
void error_clear(void);

/* A short stable name for a code ("not found", "conflict", ...). */
const char *error_code_name(int code);

#endif
