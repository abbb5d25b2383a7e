/*
 * schema: pruning, defaulting and validation against structural schemas (see schema.h).
 * Messages are kube-openapi's ("<path> in body must be of type integer: \"string\"")
 * wrapped in the field errors apiextensions-apiserver turns them into.
 */
#include "apiserver/schema.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_MAX_DEPTH 64

static const char *const object_meta_fields[] = {
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields", NULL};

void schema_result_free(schema_result *res) {
  validate_errors_free(&res->errors);
  for (size_t i = 0; i < res->unknown_count; i++)
    free(res->unknown[i]);
  res->unknown_count = 0;
}

char *schema_unknown_message(const schema_result *res) {
  buf b = BUF_INIT;
  buf_puts(&b, "strict decoding error: ");
  for (size_t i = 0; i < res->unknown_count; i++)
    buf_printf(&b, "%sunknown field \"%s\"", i ? ", " : "", res->unknown[i]);
  return buf_detach(&b, NULL);
}

static void add_unknown(schema_result *res, const char *path, const char *key) {
  if (res->unknown_count >= SCHEMA_MAX_UNKNOWN)
    return;
  res->unknown[res->unknown_count++] = *path ? str_printf("%s.%s", path, key) : str_dup(key);
}

static const char *json_type_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "object";
  case JSON_ARRAY: return "array";
  case JSON_STRING: return "string";
  case JSON_INTEGER: return "integer";
  case JSON_REAL: return "number";
  case JSON_TRUE:
  case JSON_FALSE: return "boolean";
  case JSON_NULL: return "null";
  }
  return "unknown";
}

static bool type_ok(const json_t *v, const char *type) {
  if (!strcmp(type, "object")) return json_is_object(v);
  if (!strcmp(type, "array")) return json_is_array(v);
  if (!strcmp(type, "string")) return json_is_string(v);
  if (!strcmp(type, "integer"))
    return json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
  if (!strcmp(type, "number")) return json_is_number(v);
  if (!strcmp(type, "boolean")) return json_is_boolean(v);
  return true;
}

static void type_error(schema_result *res, const char *path, const char *want, const json_t *v) {
  const char *have = json_type_name(v);
  json_t *tv = json_string(have);
  validate_errors_add(&res->errors, FIELD_TYPE_INVALID, path, tv,
                      "%s in body must be of type %s: \"%s\"", path, want, have);
  json_decref(tv);
}

/* Rewrites \d \w \s (common in CRD patterns, absent from POSIX ERE). */
static char *posix_pattern(const char *p) {
  buf b = BUF_INIT;
  for (; *p; p++) {
    if (p[0] == '\\' && p[1]) {
      switch (p[1]) {
      case 'd': buf_puts(&b, "[0-9]"); p++; continue;
      case 'w': buf_puts(&b, "[A-Za-z0-9_]"); p++; continue;
      case 's': buf_puts(&b, "[[:space:]]"); p++; continue;
      default: break;
      }
    }
    buf_putc(&b, *p);
  }
  return buf_detach(&b, NULL);
}

static bool pattern_matches(const char *pattern, const char *s) {
  char *px = posix_pattern(pattern);
  regex_t re;
  bool ok = true;
  if (px && regcomp(&re, px, REG_EXTENDED | REG_NOSUB) == 0) {
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
  }
  free(px);
  return ok;
}

static bool all_digits(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]))
      return false;
  return true;
}

static bool is_date(const char *s) {
  return strlen(s) >= 10 && all_digits(s, 4) && s[4] == '-' && all_digits(s + 5, 2) &&
         s[7] == '-' && all_digits(s + 8, 2);
}

static bool is_date_time(const char *s) {
  if (!is_date(s) || (s[10] != 'T' && s[10] != 't' && s[10] != ' '))
    return false;
  const char *t = s + 11;
  if (!(all_digits(t, 2) && t[2] == ':' && all_digits(t + 3, 2) && t[5] == ':' &&
        all_digits(t + 6, 2)))
    return false;
  t += 8;
  if (*t == '.') {
    t++;
    while (isdigit((unsigned char)*t))
      t++;
  }
  if (*t == 'Z' || *t == 'z')
    return t[1] == 0;
  return (*t == '+' || *t == '-') && all_digits(t + 1, 2) && t[3] == ':' &&
         all_digits(t + 4, 2) && t[6] == 0;
}

static bool is_base64(const char *s) {
  size_t n = strlen(s), pad = 0;
  if (n % 4)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '=') {
      pad++;
      continue;
    }
    if (pad || !(isalnum((unsigned char)c) || c == '+' || c == '/'))
      return false;
  }
  return pad <= 2;
}

static bool is_uuid(const char *s) {
  if (strlen(s) != 36)
    return false;
  for (int i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-')
        return false;
    } else if (!isxdigit((unsigned char)s[i])) {
      return false;
    }
  }
  return true;
}

static bool is_ipv4(const char *s) {
  int parts = 0;
  const char *p = s;
  while (*p) {
    int64_t n = 0;
    size_t len = 0;
    while (len < 4 && isdigit((unsigned char)p[len]))
      n = n * 10 + (p[len++] - '0');
    if (!len || len > 3 || n > 255)
      return false;
    parts++;
    p += len;
    if (*p == '.')
      p++;
    else if (*p)
      return false;
  }
  return parts == 4 && s[strlen(s) - 1] != '.';
}

/* Returns false when `s` is not in `format` (unknown formats pass, as in Kubernetes). */
static bool format_ok(const char *format, const char *s) {
  if (!strcmp(format, "date-time")) return is_date_time(s);
  if (!strcmp(format, "date")) return is_date(s) && strlen(s) == 10;
  if (!strcmp(format, "byte")) return is_base64(s);
  if (!strcmp(format, "uuid")) return is_uuid(s);
  if (!strcmp(format, "ipv4")) return is_ipv4(s);
  if (!strcmp(format, "email")) {
    const char *at = strchr(s, '@');
    return at && at != s && strchr(at + 1, '.') && !strchr(at + 1, '@');
  }
  if (!strcmp(format, "hostname")) return validate_dns1123_subdomain(s) == NULL;
  return true;
}

static void value_process(json_t *v, const json_t *schema, const char *path, schema_result *res,
                          int depth);

static void path_child(buf *b, const char *path, const char *key) {
  buf_reset(b);
  if (*path)
    buf_printf(b, "%s.%s", path, key);
  else
    buf_puts(b, key);
}

/* Prunes and defaults the properties of object `v`, then processes each child. */
static void object_process(json_t *v, const json_t *schema, const char *path,
                           schema_result *res, int depth, bool root) {
  const json_t *props = json_object_get(schema, "properties");
  const json_t *addl = json_object_get(schema, "additionalProperties");
  bool preserve = json_is_true(json_object_get(schema, "x-kubernetes-preserve-unknown-fields"));
  bool embedded = json_is_true(json_object_get(schema, "x-kubernetes-embedded-resource"));
  buf child = BUF_INIT;
  const char *k;
  json_t *ps;
  /* null in a field that is not nullable is dropped (then defaulted), as kube-apiserver
   * does since 1.20, rather than refused */
  json_object_foreach((json_t *)props, k, ps) {
    json_t *cur = json_object_get(v, k);
    if (json_is_null(cur) && !json_is_true(json_object_get(ps, "nullable")))
      json_object_del(v, k);
  }
  /* defaults for missing properties */
  json_object_foreach((json_t *)props, k, ps) {
    const json_t *def = json_object_get(ps, "default");
    if (def && !json_object_get(v, k))
      json_object_set_new(v, k, json_deep_copy(def));
  }
  void *tmp;
  json_t *cv;
  json_object_foreach_safe(v, tmp, k, cv) {
    path_child(&child, path, k);
    const json_t *cs = json_object_get(props, k);
    if ((root || embedded) && (!strcmp(k, "apiVersion") || !strcmp(k, "kind")) && !cs)
      continue;
    if ((root || embedded) && !strcmp(k, "metadata")) {
      if (!json_is_object(cv)) {
        type_error(res, buf_cstr(&child), "object", cv);
        continue;
      }
      void *t2;
      const char *mk;
      json_t *mv;
      json_object_foreach_safe(cv, t2, mk, mv) {
        bool known = false;
        for (size_t i = 0; object_meta_fields[i] && !known; i++)
          known = !strcmp(object_meta_fields[i], mk);
        if (!known) {
          add_unknown(res, buf_cstr(&child), mk);
          json_object_del(cv, mk);
        }
      }
      continue;
    }
    if (cs) {
      value_process(cv, cs, buf_cstr(&child), res, depth + 1);
    } else if (json_is_object(addl)) {
      value_process(cv, addl, buf_cstr(&child), res, depth + 1);
    } else if (json_is_true(addl) || preserve) {
      continue;
    } else {
      add_unknown(res, path, k);
      json_object_del(v, k);
    }
  }
  const json_t *req = json_object_get(schema, "required");
  size_t i;
  json_t *r;
  json_array_foreach(req, i, r) {
    const char *name = json_string_value(r);
    if (name && !json_object_get(v, name)) {
      path_child(&child, path, name);
      validate_errors_add_raw(&res->errors, FIELD_REQUIRED, buf_cstr(&child), NULL, "");
    }
  }
  size_t n = json_object_size(v);
  const json_t *maxp = json_object_get(schema, "maxProperties");
  const json_t *minp = json_object_get(schema, "minProperties");
  if (json_is_integer(maxp) && (json_int_t)n > json_integer_value(maxp)) {
    char have[32];
    snprintf(have, sizeof(have), "%zu", n);
    char detail[64];
    snprintf(detail, sizeof(detail), "must have at most %lld items",
             (long long)json_integer_value(maxp));
    validate_errors_add_raw(&res->errors, FIELD_TOO_MANY, path, have, detail);
  }
  if (json_is_integer(minp) && (json_int_t)n < json_integer_value(minp))
    validate_errors_add(&res->errors, FIELD_INVALID, path, v,
                        "%s in body should have at least %lld properties", path,
                        (long long)json_integer_value(minp));
  buf_free(&child);
}

static void enum_check(const json_t *v, const json_t *en, const char *path, schema_result *res) {
  if (!json_is_array(en))
    return;
  size_t i;
  json_t *e;
  json_array_foreach(en, i, e) {
    if (json_equal(e, v)) return;
  }
  buf b = BUF_INIT;
  buf_puts(&b, "supported values: ");
  json_array_foreach(en, i, e) {
    char *s = validate_render_value(e);
    buf_printf(&b, "%s%s", i ? ", " : "", s ? s : "");
    free(s);
  }
  char *val = validate_render_value(v);
  validate_errors_add_raw(&res->errors, FIELD_NOT_SUPPORTED, path, val, buf_cstr(&b));
  free(val);
  buf_free(&b);
}

static void number_checks(const json_t *v, const json_t *schema, const char *path,
                          schema_result *res) {
  double x = json_number_value(v);
  const json_t *mn = json_object_get(schema, "minimum");
  const json_t *mx = json_object_get(schema, "maximum");
  bool emin = json_is_true(json_object_get(schema, "exclusiveMinimum"));
  bool emax = json_is_true(json_object_get(schema, "exclusiveMaximum"));
  if (json_is_number(mn)) {
    double m = json_number_value(mn);
    if (emin ? x <= m : x < m)
      validate_errors_add(&res->errors, FIELD_INVALID, path, v, "%s in body should be %s %g",
                          path, emin ? "greater than" : "greater than or equal to", m);
  }
  if (json_is_number(mx)) {
    double m = json_number_value(mx);
    if (emax ? x >= m : x > m)
      validate_errors_add(&res->errors, FIELD_INVALID, path, v, "%s in body should be %s %g",
                          path, emax ? "less than" : "less than or equal to", m);
  }
  const json_t *mult = json_object_get(schema, "multipleOf");
  if (json_is_number(mult) && json_number_value(mult) > 0) {
    double q = x / json_number_value(mult);
    if (q != floor(q))
      validate_errors_add(&res->errors, FIELD_INVALID, path, v,
                          "%s in body should be a multiple of %g", path, json_number_value(mult));
  }
}

static void string_checks(const json_t *v, const json_t *schema, const char *path,
                          schema_result *res) {
  const char *s = json_string_value(v);
  size_t len = 0; /* characters (UTF-8 code points), as Go's utf8.RuneCountInString */
  for (const char *p = s; *p; p++)
    len += ((unsigned char)*p & 0xC0) != 0x80;
  const json_t *maxl = json_object_get(schema, "maxLength");
  const json_t *minl = json_object_get(schema, "minLength");
  if (json_is_integer(maxl) && (json_int_t)len > json_integer_value(maxl)) {
    char detail[64];
    snprintf(detail, sizeof(detail), "may not be more than %lld bytes",
             (long long)json_integer_value(maxl));
    validate_errors_add_raw(&res->errors, FIELD_TOO_LONG, path, NULL, detail);
  }
  if (json_is_integer(minl) && (json_int_t)len < json_integer_value(minl))
    validate_errors_add(&res->errors, FIELD_INVALID, path, v,
                        "%s in body should be at least %lld chars long", path,
                        (long long)json_integer_value(minl));
  const char *pattern = json_string_value(json_object_get(schema, "pattern"));
  if (pattern && !pattern_matches(pattern, s))
    validate_errors_add(&res->errors, FIELD_INVALID, path, v, "%s in body should match '%s'",
                        path, pattern);
  const char *format = json_string_value(json_object_get(schema, "format"));
  if (format && !format_ok(format, s))
    validate_errors_add(&res->errors, FIELD_INVALID, path, v, "%s in body must be of type %s: \"%s\"",
                        path, format, s);
}

static void array_process(json_t *v, const json_t *schema, const char *path, schema_result *res,
                          int depth) {
  size_t n = json_array_size(v);
  const json_t *maxi = json_object_get(schema, "maxItems");
  const json_t *mini = json_object_get(schema, "minItems");
  if (json_is_integer(maxi) && (json_int_t)n > json_integer_value(maxi)) {
    char have[32], detail[64];
    snprintf(have, sizeof(have), "%zu", n);
    snprintf(detail, sizeof(detail), "must have at most %lld items",
             (long long)json_integer_value(maxi));
    validate_errors_add_raw(&res->errors, FIELD_TOO_MANY, path, have, detail);
  }
  if (json_is_integer(mini) && (json_int_t)n < json_integer_value(mini))
    validate_errors_add(&res->errors, FIELD_INVALID, path, v,
                        "%s in body should have at least %lld items", path,
                        (long long)json_integer_value(mini));
  const json_t *items = json_object_get(schema, "items");
  if (!json_is_object(items))
    return;
  buf child = BUF_INIT;
  for (size_t i = 0; i < n; i++) {
    buf_reset(&child);
    buf_printf(&child, "%s[%zu]", path, i);
    value_process(json_array_get(v, i), items, buf_cstr(&child), res, depth + 1);
  }
  if (json_is_true(json_object_get(schema, "uniqueItems")))
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++)
        if (json_equal(json_array_get(v, i), json_array_get(v, j))) {
          validate_errors_add_raw(&res->errors, FIELD_DUPLICATE, path, NULL, "");
          i = j = n;
        }
  buf_free(&child);
}

static void value_process(json_t *v, const json_t *schema, const char *path, schema_result *res,
                          int depth) {
  if (!json_is_object(schema) || depth > SCHEMA_MAX_DEPTH)
    return;
  if (json_is_null(v)) {
    if (json_is_true(json_object_get(schema, "nullable")))
      return;
    const char *type = json_string_value(json_object_get(schema, "type"));
    if (type)
      type_error(res, path, type, v);
    return;
  }
  bool int_or_string = json_is_true(json_object_get(schema, "x-kubernetes-int-or-string"));
  const char *type = json_string_value(json_object_get(schema, "type"));
  if (int_or_string) {
    if (!json_is_integer(v) && !json_is_string(v)) {
      json_t *tv = json_string(json_type_name(v));
      validate_errors_add(&res->errors, FIELD_TYPE_INVALID, path, tv,
                          "%s in body must be of type integer,string: \"%s\"", path,
                          json_type_name(v));
      json_decref(tv);
      return;
    }
  } else if (type && !type_ok(v, type)) {
    type_error(res, path, type, v);
    return;
  }
  enum_check(v, json_object_get(schema, "enum"), path, res);
  if (json_is_object(v))
    object_process(v, schema, path, res, depth, false);
  else if (json_is_array(v))
    array_process(v, schema, path, res, depth);
  else if (json_is_string(v))
    string_checks(v, schema, path, res);
  else if (json_is_number(v))
    number_checks(v, schema, path, res);
}

int schema_apply(json_t *obj, const json_t *schema, schema_result *res) {
  static const char *const empty = "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}";
  json_t *fallback = NULL;
  if (!schema) {
    fallback = json_loads(empty, 0, NULL);
    if (!fallback)
      return error_set(ERR_NOMEM, "out of memory");
    schema = fallback;
  }
  object_process(obj, schema, "", res, 0, true);
  json_decref(fallback);
  return 0;
}
