/*
 * selector: Kubernetes label selectors and field selectors, parsed from their query-string
 * form and matched against objects.
 *
 * Label selectors: comma-separated requirements, each `key`, `!key`, `key=value`,
 * `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key>N`, `key<N`, as
 * k8s.io/apimachinery/pkg/labels parses them (keys and values are validated). Field
 * selectors: `field=value`, `field==value`, `field!=value`, comma-separated, for the
 * fields the resource supports (metadata.name and metadata.namespace for every kind).
 * An empty selector matches everything. Bounded: at most SELECTOR_MAX_REQUIREMENTS
 * requirements of SELECTOR_MAX_VALUES values each.
 */
#ifndef PORTICO_APISERVER_SELECTOR_H
#define PORTICO_APISERVER_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>

#define SELECTOR_MAX_REQUIREMENTS 64
#define SELECTOR_MAX_VALUES 64

typedef struct selector selector;

/* Parses a label selector. *out (caller frees with selector_free) on success; ERR_INVALID
 * with the parser's message ("unable to parse requirement: ...") otherwise. */
int selector_parse_labels(const char *text, selector **out);

/* Parses a field selector; `supported` is a NULL-terminated list of the extra field
 * labels allowed beyond metadata.name and metadata.namespace (may be NULL). ERR_INVALID
 * with "field label not supported: X" or a parse message. */
int selector_parse_fields(const char *text, const char *const *supported, selector **out);

/* Does `labels` (a JSON object of strings, or NULL for none) satisfy the selector? */
bool selector_matches_labels(const selector *s, const json_t *labels);

/* Does the object satisfy the field selector? Fields are looked up in `obj` by their
 * dotted path (metadata.name, type, involvedObject.kind, ...). */
bool selector_matches_fields(const selector *s, const json_t *obj);

/* The field selector's required value for `field` with = or ==, or NULL. Borrowed. */
const char *selector_field_equals(const selector *s, const char *field);

bool selector_is_empty(const selector *s);

void selector_free(selector *s);

#endif
