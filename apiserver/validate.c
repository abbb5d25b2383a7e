/*
 * validate: field errors and Kubernetes naming rules (see validate.h). Messages follow
 * k8s.io/apimachinery/pkg/util/validation and .../validation/field word for word, so that
 * clients matching on them (and people used to them) see the same text.
 */
#include "apiserver/validate.h"

#include "base/buf.h"
#include "base/str.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *validate_render_value(const json_t *v) {
  if (!v)
    return str_dup("null");
  if (json_is_string(v)) {
    buf b = BUF_INIT;
    buf_putc(&b, '"');
    for (const char *p = json_string_value(v); *p; p++) {
      if (*p == '"' || *p == '\\')
        buf_putc(&b, '\\');
      buf_putc(&b, *p);
    }
    buf_putc(&b, '"');
    return buf_detach(&b, NULL);
  }
  if (json_is_integer(v))
    return str_printf("%lld", (long long)json_integer_value(v));
  if (json_is_real(v))
    return str_printf("%g", json_real_value(v));
  if (json_is_true(v))
    return str_dup("true");
  if (json_is_false(v))
    return str_dup("false");
  if (json_is_null(v))
    return str_dup("null");
  return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

void validate_errors_add_raw(validate_errors *e, field_error_type type, const char *field,
                             const char *value_text, const char *detail) {
  if (e->count >= VALIDATE_MAX_ERRORS)
    return;
  field_error *fe = &e->items[e->count++];
  fe->type = type;
  fe->field = str_dup(field ? field : "");
  fe->value = value_text ? str_dup(value_text) : NULL;
  fe->detail = str_dup(detail ? detail : "");
}

void validate_errors_add(validate_errors *e, field_error_type type, const char *field,
                         const json_t *value, const char *fmt, ...) {
  char detail[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  char *rendered = value ? validate_render_value(value) : NULL;
  validate_errors_add_raw(e, type, field, rendered, detail);
  free(rendered);
}

void validate_errors_free(validate_errors *e) {
  for (size_t i = 0; i < e->count; i++) {
    free(e->items[i].field);
    free(e->items[i].value);
    free(e->items[i].detail);
  }
  e->count = 0;
}

static const char *type_text(field_error_type t) {
  switch (t) {
  case FIELD_REQUIRED: return "Required value";
  case FIELD_NOT_SUPPORTED: return "Unsupported value";
  case FIELD_TOO_LONG: return "Too long";
  case FIELD_TOO_MANY: return "Too many";
  case FIELD_FORBIDDEN: return "Forbidden";
  case FIELD_DUPLICATE: return "Duplicate value";
  case FIELD_INVALID:
  case FIELD_TYPE_INVALID: break;
  }
  return "Invalid value";
}

static const char *type_reason(field_error_type t) {
  switch (t) {
  case FIELD_REQUIRED: return "FieldValueRequired";
  case FIELD_NOT_SUPPORTED: return "FieldValueNotSupported";
  case FIELD_TOO_LONG: return "FieldValueTooLong";
  case FIELD_TOO_MANY: return "FieldValueTooMany";
  case FIELD_FORBIDDEN: return "FieldValueForbidden";
  case FIELD_DUPLICATE: return "FieldValueDuplicate";
  case FIELD_TYPE_INVALID: return "FieldValueTypeInvalid";
  case FIELD_INVALID: break;
  }
  return "FieldValueInvalid";
}

/* The body without the field: "Invalid value: 3: detail". */
static void error_body(buf *b, const field_error *fe) {
  buf_puts(b, type_text(fe->type));
  if (fe->value) {
    buf_puts(b, ": ");
    buf_puts(b, fe->value);
  }
  if (fe->detail && *fe->detail) {
    buf_puts(b, ": ");
    buf_puts(b, fe->detail);
  }
}

char *validate_error_string(const field_error *fe) {
  buf b = BUF_INIT;
  if (fe->field && *fe->field) {
    buf_puts(&b, fe->field);
    buf_puts(&b, ": ");
  }
  error_body(&b, fe);
  return buf_detach(&b, NULL);
}

char *validate_errors_message(const validate_errors *e, const char *kind_group,
                              const char *name, const char *group, const char *kind,
                              json_t **details) {
  buf b = BUF_INIT;
  buf_printf(&b, "%s \"%s\" is invalid: ", kind_group, name ? name : "");
  if (e->count > 1)
    buf_putc(&b, '[');
  json_t *causes = json_array();
  for (size_t i = 0; i < e->count; i++) {
    char *s = validate_error_string(&e->items[i]);
    if (i)
      buf_puts(&b, ", ");
    buf_puts(&b, s);
    free(s);
    buf body = BUF_INIT;
    error_body(&body, &e->items[i]);
    json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason",
                                            type_reason(e->items[i].type), "message",
                                            buf_cstr(&body), "field", e->items[i].field));
    buf_free(&body);
  }
  if (e->count > 1)
    buf_putc(&b, ']');
  json_t *d = json_object();
  if (name && *name)
    json_object_set_new(d, "name", json_string(name));
  if (group && *group)
    json_object_set_new(d, "group", json_string(group));
  json_object_set_new(d, "kind", json_string(kind ? kind : ""));
  json_object_set_new(d, "causes", causes);
  *details = d;
  return buf_detach(&b, NULL);
}

/* --- naming rules ---------------------------------------------------------------------- */

static _Thread_local char rule_message[512];

static bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return isalnum((unsigned char)c) != 0; }

static bool dns_label_ok(const char *s, size_t n) {
  if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-')
      return false;
  return true;
}

static bool dns_subdomain_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0)
    return false;
  const char *start = s;
  for (const char *p = s;; p++) {
    if (*p == '.' || *p == 0) {
      if (!dns_label_ok(start, (size_t)(p - start)))
        return false;
      if (*p == 0)
        break;
      start = p + 1;
    }
  }
  return true;
}

#define SUBDOMAIN_MSG                                                                      \
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "   \
  "'-' or '.', and must start and end with an alphanumeric character (e.g. "             \
  "'example.com', regex used for validation is "                                           \
  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define LABEL_MSG                                                                          \
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "     \
  "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "      \
  "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define LABEL_VALUE_MSG                                                                    \
  "a valid label must be an empty string or consist of alphanumeric characters, '-', "    \
  "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "  \
  "or 'my_value',  or '12345', regex used for validation is "                              \
  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define QUALIFIED_MSG                                                                      \
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "   \
  "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "            \
  "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

const char *validate_dns1123_subdomain(const char *s) {
  if (strlen(s) > 253)
    return "must be no more than 253 characters";
  return dns_subdomain_ok(s) ? NULL : SUBDOMAIN_MSG;
}

const char *validate_dns1123_label(const char *s) {
  if (strlen(s) > 63)
    return "must be no more than 63 characters";
  return dns_label_ok(s, strlen(s)) ? NULL : LABEL_MSG;
}

static bool label_chars_ok(const char *s, size_t n) {
  if (n == 0)
    return true;
  if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return false;
  return true;
}

const char *validate_label_value(const char *s) {
  if (strlen(s) > 63)
    return "must be no more than 63 characters";
  return label_chars_ok(s, strlen(s)) ? NULL : LABEL_VALUE_MSG;
}

const char *validate_qualified_name(const char *s) {
  const char *slash = strchr(s, '/');
  const char *name = s;
  if (slash) {
    if (strchr(slash + 1, '/'))
      return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
             "must start and end with an alphanumeric character (e.g. 'MyName',  or "
             "'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
             "prefix and '/' (e.g. 'example.com/MyName')";
    char prefix[300];
    size_t plen = (size_t)(slash - s);
    if (plen == 0)
      return "prefix part must be non-empty";
    if (plen >= sizeof(prefix))
      return "prefix part must be no more than 253 characters";
    memcpy(prefix, s, plen);
    prefix[plen] = 0;
    const char *m = validate_dns1123_subdomain(prefix);
    if (m) {
      snprintf(rule_message, sizeof(rule_message), "prefix part %s", m);
      return rule_message;
    }
    name = slash + 1;
  }
  size_t n = strlen(name);
  if (n == 0)
    return "name part must be non-empty";
  if (n > 63)
    return "name part must be no more than 63 characters";
  return label_chars_ok(name, n) ? NULL : QUALIFIED_MSG;
}

#define ANNOTATIONS_MAX 262144

void validate_object_meta(const json_t *obj, bool namespaced, bool label_name,
                          validate_errors *errs) {
  (void)namespaced;
  const json_t *meta = json_object_get(obj, "metadata");
  const char *name = json_string_value(json_object_get(meta, "name"));
  const char *gen = json_string_value(json_object_get(meta, "generateName"));
  if (!name || !*name) {
    if (!gen || !*gen)
      validate_errors_add(errs, FIELD_REQUIRED, "metadata.name", NULL,
                          "name or generateName is required");
  } else {
    const char *m = label_name ? validate_dns1123_label(name) : validate_dns1123_subdomain(name);
    if (m)
      validate_errors_add(errs, FIELD_INVALID, "metadata.name", json_object_get(meta, "name"),
                          "%s", m);
  }
  const json_t *labels = json_object_get(meta, "labels");
  const char *k;
  const json_t *v;
  if (json_is_object(labels)) {
    json_object_foreach((json_t *)labels, k, v) {
      const char *m = validate_qualified_name(k);
      if (m) {
        json_t *kv = json_string(k);
        validate_errors_add(errs, FIELD_INVALID, "metadata.labels", kv, "%s", m);
        json_decref(kv);
      }
      if (!json_is_string(v)) {
        validate_errors_add(errs, FIELD_INVALID, "metadata.labels", v, "must be a string");
        continue;
      }
      m = validate_label_value(json_string_value(v));
      if (m)
        validate_errors_add(errs, FIELD_INVALID, "metadata.labels", v, "%s", m);
    }
  }
  const json_t *ann = json_object_get(meta, "annotations");
  if (json_is_object(ann)) {
    size_t total = 0;
    json_object_foreach((json_t *)ann, k, v) {
      const char *m = validate_qualified_name(k);
      if (m) {
        json_t *kv = json_string(k);
        validate_errors_add(errs, FIELD_INVALID, "metadata.annotations", kv, "%s", m);
        json_decref(kv);
      }
      total += strlen(k) + (json_is_string(v) ? strlen(json_string_value(v)) : 0);
    }
    if (total > ANNOTATIONS_MAX)
      validate_errors_add_raw(errs, FIELD_TOO_LONG, "metadata.annotations", NULL,
                              "may not be more than 262144 bytes");
  }
}
