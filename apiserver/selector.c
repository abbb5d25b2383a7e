/*
 * selector: parser and matcher for label and field selectors (see selector.h). The
 * grammar and error texts follow k8s.io/apimachinery/pkg/labels (lexer: identifiers,
 * `(`, `)`, `,`, `=`, `==`, `!=`, `!`, `in`, `notin`, `<`, `>`).
 */
#include "apiserver/selector.h"

#include "apiserver/validate.h"
#include "base/error.h"
#include "base/jpath.h"
#include "base/str.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef enum { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_NEQ, OP_IN, OP_NOTIN, OP_GT, OP_LT } sel_op;

typedef struct requirement {
  char *key;
  sel_op op;
  char *values[SELECTOR_MAX_VALUES];
  size_t value_count;
} requirement;

struct selector {
  requirement reqs[SELECTOR_MAX_REQUIREMENTS];
  size_t count;
};

void selector_free(selector *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->count; i++) {
    free(s->reqs[i].key);
    for (size_t j = 0; j < s->reqs[i].value_count; j++)
      free(s->reqs[i].values[j]);
  }
  free(s);
}

bool selector_is_empty(const selector *s) { return !s || s->count == 0; }

/* --- lexer ------------------------------------------------------------------------- */

typedef enum {
  TOK_END, TOK_IDENT, TOK_OPEN, TOK_CLOSE, TOK_COMMA, TOK_EQ, TOK_DEQ, TOK_NEQ, TOK_NOT,
  TOK_IN, TOK_NOTIN, TOK_GT, TOK_LT, TOK_ERROR
} tok_type;

typedef struct lexer {
  const char *p;
  tok_type type;
  char text[320];
} lexer;

static bool ident_char(char c) {
  return c && !isspace((unsigned char)c) && !strchr("(),=!<>", c);
}

static void lex_next(lexer *lx) {
  while (isspace((unsigned char)*lx->p))
    lx->p++;
  const char *p = lx->p;
  lx->text[0] = 0;
  if (!*p) {
    lx->type = TOK_END;
    return;
  }
  char c = *p;
  if (c == '(' || c == ')' || c == ',') {
    lx->type = c == '(' ? TOK_OPEN : c == ')' ? TOK_CLOSE : TOK_COMMA;
    lx->text[0] = c;
    lx->text[1] = 0;
    lx->p++;
    return;
  }
  if (c == '=') {
    lx->type = p[1] == '=' ? TOK_DEQ : TOK_EQ;
    lx->p += p[1] == '=' ? 2 : 1;
    str_copy(lx->text, lx->type == TOK_DEQ ? "==" : "=", sizeof(lx->text));
    return;
  }
  if (c == '!') {
    lx->type = p[1] == '=' ? TOK_NEQ : TOK_NOT;
    lx->p += p[1] == '=' ? 2 : 1;
    str_copy(lx->text, lx->type == TOK_NEQ ? "!=" : "!", sizeof(lx->text));
    return;
  }
  if (c == '<' || c == '>') {
    lx->type = c == '<' ? TOK_LT : TOK_GT;
    lx->text[0] = c;
    lx->text[1] = 0;
    lx->p++;
    return;
  }
  size_t n = 0;
  while (ident_char(p[n]))
    n++;
  if (n >= sizeof(lx->text)) {
    lx->type = TOK_ERROR;
    str_copy(lx->text, "identifier too long", sizeof(lx->text));
    return;
  }
  memcpy(lx->text, p, n);
  lx->text[n] = 0;
  lx->p += n;
  if (!strcmp(lx->text, "in"))
    lx->type = TOK_IN;
  else if (!strcmp(lx->text, "notin"))
    lx->type = TOK_NOTIN;
  else
    lx->type = TOK_IDENT;
}

static const char *tok_shown(const lexer *lx) { return lx->type == TOK_END ? "" : lx->text; }

static int parse_fail(const char *fmt, const char *a, const char *b) {
  return error_set(ERR_INVALID, fmt, a, b);
}

/* Keys follow the qualified-name rules; values the label-value rules. */
static int check_key(const char *key) {
  const char *m = validate_qualified_name(key);
  if (m)
    return error_set(ERR_INVALID, "unable to parse requirement: <nil>: Invalid value: \"%s\": %s",
                     key, m);
  return 0;
}

static int check_value(const char *v) {
  const char *m = validate_label_value(v);
  if (m)
    return error_set(ERR_INVALID,
                     "unable to parse requirement: values[0]: Invalid value: \"%s\": %s", v, m);
  return 0;
}

static int add_value(requirement *r, const char *v) {
  if (r->value_count >= SELECTOR_MAX_VALUES)
    return error_set(ERR_INVALID, "unable to parse requirement: too many values");
  r->values[r->value_count] = str_dup(v);
  if (!r->values[r->value_count])
    return ERR_NOMEM;
  r->value_count++;
  return 0;
}

static int parse_requirement(lexer *lx, requirement *r, bool fields) {
  bool negate = false;
  if (lx->type == TOK_NOT) {
    negate = true;
    lex_next(lx);
  }
  if (lx->type != TOK_IDENT)
    return parse_fail("unable to parse requirement: found '%s', expected: %s", tok_shown(lx),
                      "identifier");
  if (!fields && check_key(lx->text))
    return ERR_INVALID;
  r->key = str_dup(lx->text);
  if (!r->key)
    return ERR_NOMEM;
  lex_next(lx);
  if (negate) {
    if (fields)
      return error_set(ERR_INVALID, "invalid selector: '!%s'; can't understand '!%s'", r->key,
                       r->key);
    r->op = OP_NOT_EXISTS;
    return 0;
  }
  if (lx->type == TOK_END || lx->type == TOK_COMMA) {
    if (fields)
      return error_set(ERR_INVALID, "invalid selector: '%s'; can't understand '%s'", r->key,
                       r->key);
    r->op = OP_EXISTS;
    return 0;
  }
  switch (lx->type) {
  case TOK_EQ:
  case TOK_DEQ: r->op = OP_EQ; break;
  case TOK_NEQ: r->op = OP_NEQ; break;
  case TOK_IN: r->op = OP_IN; break;
  case TOK_NOTIN: r->op = OP_NOTIN; break;
  case TOK_GT: r->op = OP_GT; break;
  case TOK_LT: r->op = OP_LT; break;
  default:
    return parse_fail("unable to parse requirement: found '%s', expected: %s", tok_shown(lx),
                      "in, notin, =, ==, !=, gt, lt");
  }
  if (fields && (r->op == OP_IN || r->op == OP_NOTIN || r->op == OP_GT || r->op == OP_LT))
    return error_set(ERR_INVALID, "invalid selector: unsupported operator in field selector");
  lex_next(lx);
  if (r->op == OP_IN || r->op == OP_NOTIN) {
    if (lx->type != TOK_OPEN)
      return parse_fail("unable to parse requirement: found '%s', expected: %s", tok_shown(lx),
                        "'('");
    lex_next(lx);
    for (;;) {
      if (lx->type == TOK_IDENT) {
        if (check_value(lx->text) || add_value(r, lx->text))
          return error_code();
        lex_next(lx);
      } else if (lx->type == TOK_COMMA || lx->type == TOK_CLOSE) {
        if (add_value(r, "")) /* "a in (,b)" has an empty value, as in Kubernetes */
          return error_code();
      } else {
        return parse_fail("unable to parse requirement: found '%s', expected: %s",
                          tok_shown(lx), "',', ')' or identifier");
      }
      if (lx->type == TOK_CLOSE)
        break;
      if (lx->type != TOK_COMMA)
        return parse_fail("unable to parse requirement: found '%s', expected: %s",
                          tok_shown(lx), "',' or ')'");
      lex_next(lx);
    }
    lex_next(lx);
    return 0;
  }
  /* single value: may be empty ("a=") */
  if (lx->type == TOK_IDENT || lx->type == TOK_IN || lx->type == TOK_NOTIN) {
    if (!fields && check_value(lx->text))
      return ERR_INVALID;
    if (add_value(r, lx->text))
      return error_code();
    lex_next(lx);
  } else if (lx->type == TOK_END || lx->type == TOK_COMMA) {
    if (add_value(r, ""))
      return error_code();
  } else {
    return parse_fail("unable to parse requirement: found '%s', expected: %s", tok_shown(lx),
                      "identifier");
  }
  if (r->op == OP_GT || r->op == OP_LT) {
    int64_t n;
    if (str_to_int64(r->values[0], INT64_MIN, INT64_MAX, &n))
      return error_set(ERR_INVALID,
                       "unable to parse requirement: for 'Gt', 'Lt' operators, the value must "
                       "be an integer");
  }
  return 0;
}

static int parse(const char *text, bool fields, const char *const *supported, selector **out) {
  selector *s = calloc(1, sizeof(*s));
  if (!s)
    return error_set(ERR_NOMEM, "out of memory");
  lexer lx = {.p = text ? text : ""};
  lex_next(&lx);
  int rc = 0;
  while (lx.type != TOK_END) {
    if (s->count >= SELECTOR_MAX_REQUIREMENTS) {
      rc = error_set(ERR_INVALID, "unable to parse requirement: too many requirements");
      goto done;
    }
    requirement *r = &s->reqs[s->count++];
    rc = parse_requirement(&lx, r, fields);
    if (rc)
      goto done;
    if (fields) {
      bool ok = !strcmp(r->key, "metadata.name") || !strcmp(r->key, "metadata.namespace");
      for (size_t i = 0; !ok && supported && supported[i]; i++)
        ok = !strcmp(r->key, supported[i]);
      if (!ok) {
        rc = error_set(ERR_INVALID, "field label not supported: %s", r->key);
        goto done;
      }
    }
    if (lx.type == TOK_END)
      break;
    if (lx.type != TOK_COMMA) {
      rc = parse_fail("found '%s', expected: %s", tok_shown(&lx), "',' or 'end of string'");
      goto done;
    }
    lex_next(&lx);
    if (lx.type == TOK_END) {
      rc = parse_fail("found '%s', expected: %s", "", "identifier after ','");
      goto done;
    }
  }
done:
  if (lx.type == TOK_ERROR && !rc)
    rc = error_set(ERR_INVALID, "unable to parse requirement: %s", lx.text);
  if (rc) {
    selector_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

int selector_parse_labels(const char *text, selector **out) {
  return parse(text, false, NULL, out);
}

int selector_parse_fields(const char *text, const char *const *supported, selector **out) {
  return parse(text, true, supported, out);
}

static bool has_value(const requirement *r, const char *v) {
  for (size_t i = 0; i < r->value_count; i++)
    if (!strcmp(r->values[i], v))
      return true;
  return false;
}

static bool requirement_matches(const requirement *r, const char *v /* NULL: absent */) {
  switch (r->op) {
  case OP_EXISTS: return v != NULL;
  case OP_NOT_EXISTS: return v == NULL;
  case OP_EQ:
  case OP_IN: return v && has_value(r, v);
  case OP_NEQ:
  case OP_NOTIN: return !v || !has_value(r, v);
  case OP_GT:
  case OP_LT: {
    int64_t have, want;
    if (!v || str_to_int64(v, INT64_MIN, INT64_MAX, &have) ||
        str_to_int64(r->values[0], INT64_MIN, INT64_MAX, &want))
      return false;
    return r->op == OP_GT ? have > want : have < want;
  }
  }
  return false;
}

bool selector_matches_labels(const selector *s, const json_t *labels) {
  if (!s)
    return true;
  for (size_t i = 0; i < s->count; i++) {
    const char *v = json_string_value(json_object_get(labels, s->reqs[i].key));
    if (!requirement_matches(&s->reqs[i], v))
      return false;
  }
  return true;
}

bool selector_matches_fields(const selector *s, const json_t *obj) {
  if (!s)
    return true;
  for (size_t i = 0; i < s->count; i++) {
    const json_t *j = NULL;
    /* field paths have no escaped dots; jpath reads them as they are */
    j = jpath_get(obj, s->reqs[i].key);
    const char *v = json_string_value(j);
    if (!v && json_is_boolean(j))
      v = json_is_true(j) ? "true" : "false";
    if (!v)
      v = ""; /* an absent field compares as the empty string, as in Kubernetes */
    if (!requirement_matches(&s->reqs[i], v))
      return false;
  }
  return true;
}

const char *selector_field_equals(const selector *s, const char *field) {
  if (!s)
    return NULL;
  for (size_t i = 0; i < s->count; i++)
    if (s->reqs[i].op == OP_EQ && !strcmp(s->reqs[i].key, field))
      return s->reqs[i].values[0];
  return NULL;
}
