/*
 * schema: structural OpenAPI v3 schemas (as in CustomResourceDefinitions) applied to an
 * object the way kube-apiserver does on every write: unknown fields are pruned (and their
 * paths recorded for fieldValidation=Strict|Warn), `default`s are filled in, then the
 * value is validated (type, enum, pattern, minimum/maximum and exclusive forms,
 * min/maxLength, min/maxItems, min/maxProperties, format, nullable, required,
 * additionalProperties, x-kubernetes-preserve-unknown-fields,
 * x-kubernetes-int-or-string, x-kubernetes-embedded-resource).
 *
 * At the root, apiVersion and kind are kept and metadata is checked against ObjectMeta's
 * fields (unknown metadata fields are pruned and reported too).
 *
 * `pattern` uses POSIX extended regular expressions (<regex.h>), not RE2/ECMA: \d, \w,
 * \s and non-greedy or look-around constructs are not understood (\d, \w and \s are
 * rewritten to bracket expressions first; a pattern that still fails to compile is
 * ignored rather than rejecting every object).
 */
#ifndef PORTICO_APISERVER_SCHEMA_H
#define PORTICO_APISERVER_SCHEMA_H

#include "apiserver/validate.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SCHEMA_MAX_UNKNOWN 64

typedef struct schema_result {
  validate_errors errors;
  char *unknown[SCHEMA_MAX_UNKNOWN]; /* paths of pruned fields ("spec.foo") */
  size_t unknown_count;
} schema_result;

/* Prunes, defaults and validates `obj` (modified in place) against `schema` (borrowed;
 * NULL: only metadata is checked and nothing else is pruned). Results accumulate in
 * `res` (zero it first; release with schema_result_free). Returns 0, or ERR_NOMEM. */
int schema_apply(json_t *obj, const json_t *schema, schema_result *res);

void schema_result_free(schema_result *res);

/* "strict decoding error: unknown field \"a\", unknown field \"b\"" for res->unknown.
 * Caller frees. */
char *schema_unknown_message(const schema_result *res);

#endif
