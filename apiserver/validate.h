/*
 * validate: field errors as Kubernetes reports them, and the naming rules of object
 * names, label keys and values and annotations.
 *
 * A validate_errors list collects field.Error-like entries (type, field path, rendered
 * value, detail). validate_errors_status() turns a non-empty list into the 422 Invalid
 * Status kube-apiserver sends:
 *   <Kind> "<name>" is invalid: <field>: <Type>: <value>: <detail>
 * with several errors joined as "[e1, e2]" and details.causes[] holding each one.
 * The list is bounded (VALIDATE_MAX_ERRORS); later errors are dropped.
 */
#ifndef PORTICO_APISERVER_VALIDATE_H
#define PORTICO_APISERVER_VALIDATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define VALIDATE_MAX_ERRORS 64

typedef enum {
  FIELD_INVALID,       /* "Invalid value" */
  FIELD_REQUIRED,      /* "Required value" */
  FIELD_NOT_SUPPORTED, /* "Unsupported value" */
  FIELD_TOO_LONG,      /* "Too long" */
  FIELD_TOO_MANY,      /* "Too many" */
  FIELD_FORBIDDEN,     /* "Forbidden" */
  FIELD_TYPE_INVALID,  /* "Invalid value" with reason FieldValueTypeInvalid */
  FIELD_DUPLICATE      /* "Duplicate value" */
} field_error_type;

typedef struct field_error {
  field_error_type type;
  char *field;  /* "spec.replicas" */
  char *value;  /* rendered value ("\"abc\"", "3") or NULL when the type shows none */
  char *detail; /* may be "" */
} field_error;

typedef struct validate_errors {
  field_error items[VALIDATE_MAX_ERRORS];
  size_t count;
} validate_errors;

/* Adds an error. `value` is rendered from JSON (borrowed, may be NULL for none). */
void validate_errors_add(validate_errors *e, field_error_type type, const char *field,
                         const json_t *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* As validate_errors_add with an already-rendered value text (copied; NULL for none). */
void validate_errors_add_raw(validate_errors *e, field_error_type type, const char *field,
                             const char *value_text, const char *detail);

void validate_errors_free(validate_errors *e);

/* "spec.x: Invalid value: 3: detail" for one error. Caller frees. */
char *validate_error_string(const field_error *fe);

/* The Status details and message for a 422 Invalid of `kind_group` ("ConfigMap",
 * "Widget.example.com") named `name`. Returns the message (caller frees) and sets
 * *details (caller owns). */
char *validate_errors_message(const validate_errors *e, const char *kind_group,
                              const char *name, const char *group, const char *kind,
                              json_t **details);

/* Renders a JSON value the way field errors print it: strings quoted, numbers and
 * booleans plain, null "null", containers compact JSON. Caller frees. */
char *validate_render_value(const json_t *v);

/* --- naming rules (k8s.io/apimachinery/pkg/util/validation) -------------------------- */

/* Each returns NULL when valid, else a detail message (static or caller-freed? static:
 * borrowed, valid until the next call on this thread). */
const char *validate_dns1123_subdomain(const char *s);
const char *validate_dns1123_label(const char *s);
const char *validate_label_value(const char *s);
/* Qualified name: [prefix/]name, as label and annotation keys; NULL when valid. */
const char *validate_qualified_name(const char *s);

/* Checks metadata (name per rule, labels, annotations size, generateName) of `obj`,
 * adding errors. `label_name` chooses DNS-1123 label rules for the name (namespaces)
 * instead of subdomain rules. `require_name`: name must be present after generateName. */
void validate_object_meta(const json_t *obj, bool namespaced, bool label_name,
                          validate_errors *errs);

#endif
