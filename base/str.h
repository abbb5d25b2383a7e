/*
 * str: small string helpers that the C library lacks or gets wrong. Use these instead of
 * atoi/strtok/sprintf/strcpy/strcat (banned: see `make lint`).
 */
#ifndef PORTICO_BASE_STR_H
#define PORTICO_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* strdup/strndup that set ERR_NOMEM on failure. Caller frees. NULL in gives NULL out. */
char *str_dup(const char *s);
char *str_ndup(const char *s, size_t n);

/* printf into a fresh allocation. Caller frees; NULL on failure (last error set). */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
bool str_eq(const char *a, const char *b); /* NULL-safe equality */

/* Parses a whole string as a base-10 integer within [min, max]. ERR_INVALID otherwise
 * (empty, trailing junk, out of range); *out unchanged on failure. */
int str_to_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Copies at most size-1 bytes and always terminates (size > 0). Returns strlen(src) so
 * truncation can be detected (result >= size). */
size_t str_copy(char *dst, const char *src, size_t size);

#endif
