/*
 * buf: the one growable byte buffer of Portico.
 *
 * Always NUL-terminated (data[len] == 0 once anything was appended), so text can be used
 * as a C string. Every buffer has a ceiling (`limit`, in bytes of content): an append that
 * would pass it fails with ERR_LIMIT and leaves the buffer unchanged. Use BUF_LIMIT_DEFAULT
 * when nothing better is known. A zeroed buf (BUF_INIT) is valid and empty with the default
 * limit.
 */
#ifndef PORTICO_BASE_BUF_H
#define PORTICO_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#define BUF_LIMIT_DEFAULT ((size_t)64 << 20) /* 64 MiB */

typedef struct buf {
  char *data;   /* owned; NULL until the first append */
  size_t len;   /* bytes of content, excluding the terminating NUL */
  size_t cap;   /* bytes allocated */
  size_t limit; /* ceiling on len; 0 means BUF_LIMIT_DEFAULT */
} buf;

#define BUF_INIT {0, 0, 0, 0}

/* Makes an empty buffer with the given ceiling (0: the default). Allocates nothing. */
void buf_init(buf *b, size_t limit);

/* Appends bytes. ERR_LIMIT past the ceiling, ERR_NOMEM; unchanged on failure. */
int buf_append(buf *b, const void *data, size_t len);
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);

/* Makes sure `extra` more bytes fit without reallocating. */
int buf_reserve(buf *b, size_t extra);

/* Empties the buffer, keeping its memory. */
void buf_reset(buf *b);

/* Drops `n` bytes from the front (n > len empties it). */
void buf_consume(buf *b, size_t n);

/* Gives the content to the caller (free with free()); the buffer becomes empty. Returns
 * an empty allocated string for an empty buffer; NULL only on allocation failure. */
char *buf_detach(buf *b, size_t *len_out);

/* Content as a C string: borrowed, never NULL ("" when empty). */
const char *buf_cstr(const buf *b);

/* Frees the memory; the buffer is empty and reusable afterwards. */
void buf_free(buf *b);

#endif
