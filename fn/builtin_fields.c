/*
 * builtin_fields: the built-ins that address fields by path or by marker.
 *
 *   apply-setters       fields whose line comment is `# kpt-set: <pattern>`, the pattern
 *                       holding ${setter} references, get the pattern with the config's
 *                       values substituted; a list field marked on its key gets the setter's
 *                       value read as a YAML flow list ("[a, b]").
 *   search-replace      scalar fields selected by `by-path` (dot separated; `*` one segment,
 *                       `**` any depth; list items are transparent or addressed as [N]),
 *                       `by-value` or `by-value-regex` (POSIX extended, whole value), get
 *                       `put-value` (with ${N} capture groups) or `put-comment`, or are only
 *                       reported.
 *   apply-replacements  kustomize replacements: a source field's value copied into target
 *                       field paths (`a.b[name=x].c`, `[key.with.dots]`, `*`), with the
 *                       delimiter/index and create options.
 *
 * Every change is reported as an info result with the field path and file, as the
 * catalog functions do.
 */
#include "builtin.h"

#include "base/error.h"
#include "base/str.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_SEGMENTS 64

/* ---- shared: walking scalars with their path ---- */

typedef int (*scalar_visit)(fn_rlist *rl, yml_node *item, yml_node *parent, size_t index,
                            yml_node *value, const char *path, void *arg);

/* Calls `visit` for every map value and sequence item below `n` (collections included),
 * with its dotted path ("spec.containers[0].image"). Stops at the first negative return. */
static int walk(fn_rlist *rl, yml_node *item, yml_node *n, buf *path, int depth, scalar_visit visit,
                void *arg) {
  if (depth > MAX_DEPTH)
    return 0;
  size_t mark = path->len;
  int rc = 0;
  if (yml_node_kind(n) == YML_MAP) {
    for (size_t i = 0; i < yml_node_size(n) && rc >= 0; i++) {
      const char *key = yml_scalar_value(yml_map_key_at(n, i), NULL);
      if (!key)
        continue;
      yml_node *v = yml_map_value_at(n, i);
      buf_printf(path, "%s%s", mark ? "." : "", key);
      rc = visit(rl, item, n, i, v, buf_cstr(path), arg);
      if (rc >= 0) /* the visit may have replaced the value: fetch it again */
        rc = walk(rl, item, yml_map_value_at(n, i), path, depth + 1, visit, arg);
      path->len = mark;
      if (path->data)
        path->data[mark] = 0;
    }
  } else if (yml_node_kind(n) == YML_SEQ) {
    for (size_t i = 0; i < yml_node_size(n) && rc >= 0; i++) {
      yml_node *v = yml_seq_at(n, i);
      buf_printf(path, "[%zu]", i);
      rc = visit(rl, item, n, i, v, buf_cstr(path), arg);
      if (rc >= 0)
        rc = walk(rl, item, yml_seq_at(n, i), path, depth + 1, visit, arg);
      path->len = mark;
      if (path->data)
        path->data[mark] = 0;
    }
  }
  return rc;
}

/* ---- apply-setters ---- */

typedef struct setters_ctx {
  const yml_node *setters; /* name -> value (the config's data) */
  const char *file;        /* current item's config.kubernetes.io/path */
  int changes;
} setters_ctx;

/* Does the pattern reference at least one provided setter? */
static bool pattern_wanted(const char *pattern, const yml_node *setters) {
  for (size_t i = 0; i < yml_node_size(setters); i++) {
    const char *name = yml_scalar_value(yml_map_key_at(setters, i), NULL);
    char *ref = name ? str_printf("${%s}", name) : NULL;
    bool hit = ref && strstr(pattern, ref);
    free(ref);
    if (hit)
      return true;
  }
  return false;
}

/* Appends `s` to `out` with POSIX ERE metacharacters escaped. */
static void regex_escape(buf *out, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (strchr(".[]()*+?{}|^$\\", s[i]))
      buf_putc(out, '\\');
    buf_putc(out, s[i]);
  }
}

/* The catalog's substitution: provided setters by name, the others recovered from the
 * current value by matching the pattern. Returns a new string, or NULL with an error set
 * ("values for setters [${x}] must be provided"). */
static char *resolve_pattern(const char *pattern, const yml_node *setters, const char *current) {
  /* Names referenced, in order, and the regular expression that recovers them. */
  const char *refs[16];
  size_t ref_len[16];
  int nrefs = 0;
  buf re = BUF_INIT;
  const char *p = pattern;
  for (const char *q; (q = strstr(p, "${")) && nrefs < 16;) {
    const char *e = strchr(q, '}');
    if (!e)
      break;
    regex_escape(&re, p, (size_t)(q - p));
    buf_puts(&re, "(.*)");
    refs[nrefs] = q;
    ref_len[nrefs++] = (size_t)(e - q + 1);
    p = e + 1;
  }
  regex_escape(&re, p, strlen(p));
  char *derived[16] = {0};
  regex_t rx;
  regmatch_t m[17];
  if (nrefs && !regcomp(&rx, buf_cstr(&re), REG_EXTENDED)) {
    if (!regexec(&rx, current ? current : "", 17, m, 0)) {
      bool all = true;
      for (int i = 0; i < nrefs && all; i++)
        all = m[i + 1].rm_so >= 0 && m[i + 1].rm_eo > m[i + 1].rm_so;
      for (int i = 0; i < nrefs && all; i++)
        derived[i] = str_ndup(current + m[i + 1].rm_so, (size_t)(m[i + 1].rm_eo - m[i + 1].rm_so));
    }
    regfree(&rx);
  }
  buf_free(&re);
  buf out = BUF_INIT, missing = BUF_INIT;
  p = pattern;
  for (int i = 0; i < nrefs; i++) {
    buf_append(&out, p, (size_t)(refs[i] - p));
    char *name = str_ndup(refs[i] + 2, ref_len[i] - 3);
    const yml_node *v = name ? yml_map_get(setters, name) : NULL;
    const char *val = v ? yml_scalar_value(v, NULL) : NULL;
    if (!val)
      val = derived[i];
    if (val)
      buf_puts(&out, val);
    else
      buf_printf(&missing, "%s%.*s", missing.len ? " " : "", (int)ref_len[i], refs[i]);
    free(name);
    p = refs[i] + ref_len[i];
  }
  buf_puts(&out, p);
  for (int i = 0; i < nrefs; i++)
    free(derived[i]);
  if (missing.len) {
    error_set(ERR_INVALID, "values for setters [%s] must be provided", buf_cstr(&missing));
    buf_free(&missing);
    buf_free(&out);
    return NULL;
  }
  buf_free(&missing);
  return buf_detach(&out, NULL);
}

static int setter_result(fn_rlist *rl, setters_ctx *c, const char *path, const char *value) {
  char *msg = fn_go_quote("set field value to ", value);
  int rc = msg ? fn_result_add_file(rl, NULL, msg, c->file, NULL, path) : ERR_NOMEM;
  free(msg);
  c->changes++;
  return rc;
}

static int setter_visit(fn_rlist *rl, yml_node *item, yml_node *parent, size_t index,
                        yml_node *value, const char *path, void *arg) {
  setters_ctx *c = arg;
  (void)item;
  (void)index;
  if (yml_node_kind(parent) != YML_MAP)
    return 0;
  char *comment = yml_node_line_comment(value);
  if (!comment)
    return 0;
  int rc = 0;
  char *nv = NULL;
  if (!str_has_prefix(comment, "kpt-set: "))
    goto done;
  char *pattern = comment + strlen("kpt-set: ");
  while (*pattern == ' ')
    pattern++;
  for (size_t n = strlen(pattern); n && pattern[n - 1] == ' '; n--)
    pattern[n - 1] = 0;
  if (!pattern_wanted(pattern, c->setters))
    goto done;
  if (yml_node_kind(value) == YML_SCALAR) {
    nv = resolve_pattern(pattern, c->setters, yml_scalar_value(value, NULL));
    if (!nv) {
      rc = ERR_INVALID;
      goto done;
    }
    rc = yml_scalar_set(value, nv, strlen(nv));
    if (!rc)
      rc = setter_result(rl, c, path, nv);
  } else if (yml_node_kind(value) == YML_SEQ) {
    size_t pl = strlen(pattern);
    const char *second = pl > 2 ? strstr(pattern + 2, "${") : NULL;
    if (pl < 4 || strncmp(pattern, "${", 2) || pattern[pl - 1] != '}' || second) {
      rc = error_set(ERR_INVALID, "invalid setter pattern for array node: \"%s\"", pattern);
      goto done;
    }
    char *name = str_ndup(pattern + 2, pl - 3);
    const yml_node *v = name ? yml_map_get(c->setters, name) : NULL;
    free(name);
    const char *sv = v ? yml_scalar_value(v, NULL) : "";
    yml_node *list = NULL;
    if (sv && *sv) {
      yml_file *f = NULL;
      yml_node *doc = yml_file_parse(&f, "setter", sv, strlen(sv)) ? NULL : yml_file_doc(f, 0);
      if (!doc || yml_node_kind(doc) != YML_SEQ) {
        yml_file_free(f);
        rc = error_set(ERR_INVALID, "input to array setter must be an array of values, but found \"%s\"", sv);
        goto done;
      }
      list = yml_seq_new(YML_BLOCK);
      for (size_t i = 0; list && i < yml_node_size(doc) && !rc; i++) {
        const char *s = yml_scalar_value(yml_seq_at(doc, i), NULL);
        rc = yml_seq_append(list, s ? yml_str_new(s) : yml_node_copy(yml_seq_at(doc, i)));
      }
      yml_file_free(f);
    } else {
      list = yml_seq_new(YML_FLOW);
    }
    if (!list)
      rc = ERR_NOMEM;
    if (!rc && !yml_node_equal(list, value)) {
      char *text = str_printf("kpt-set: %s", pattern);
      rc = yml_node_replace(value, list);
      list = NULL;
      yml_node *now = yml_map_value_at(parent, index);
      if (!rc && now && text)
        rc = yml_node_set_line_comment(now, text);
      free(text);
    }
    yml_node_free(list);
    if (!rc)
      rc = setter_result(rl, c, path, sv ? sv : "");
  }
done:
  free(nv);
  free(comment);
  return rc;
}

int builtin_apply_setters(fn_rlist *rl) {
  setters_ctx c = {.setters = rl->config ? yml_map_get(rl->config, "data") : NULL};
  if (c.setters && yml_node_kind(c.setters) != YML_MAP)
    c.setters = NULL;
  int rc = 0;
  buf path = BUF_INIT;
  for (size_t i = 0; c.setters && i < yml_node_size(rl->items) && !rc; i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    c.file = yml_lookup_str(item, "metadata", "annotations", "config.kubernetes.io/path", NULL);
    buf_reset(&path);
    rc = walk(rl, item, item, &path, 0, setter_visit, &c);
  }
  buf_free(&path);
  if (rc < 0) {
    error_prefix("failed to apply setters");
    return rc;
  }
  if (!c.changes)
    return fn_result_add_file(rl, NULL, "no matches for input setter(s)", NULL, NULL, NULL);
  return 0;
}

/* ---- search-replace ---- */

typedef struct search {
  const char *by_path, *by_value, *by_regex, *put_value, *put_comment, *by_file;
  regex_t re;
  bool have_re;
  const char *file; /* current item's path annotation */
  int results;
} search;

#define MAX_PATH_ELEMS 64

static int split_dots(const char *s, char elems[][128], int max) {
  int n = 0;
  for (const char *p = s;; n++) {
    if (n >= max)
      return -1;
    const char *dot = strchr(p, '.');
    size_t len = dot ? (size_t)(dot - p) : strlen(p);
    if (len >= 128)
      return -1;
    memcpy(elems[n], p, len);
    elems[n][len] = 0;
    if (!dot)
      return n + 1;
    p = dot + 1;
  }
}

/* One element against one pattern element: equal, or for list elements "a[*]", "*[*]",
 * "*[b]" matching "a[b]". */
static bool element_match(const char *elem, const char *pat) {
  if (!strcmp(elem, pat))
    return true;
  const char *eb = strchr(elem, '[');
  if (!eb)
    return false;
  const char *pb = strchr(pat, '[');
  if (!pb)
    return false;
  size_t el = (size_t)(eb - elem);
  if (!(pb - pat == 1 && pat[0] == '*') && !((size_t)(pb - pat) == el && !strncmp(elem, pat, el)))
    return false;
  return !strcmp(pb + 1, "*]") || !strcmp(eb + 1, pb + 1);
}

/* The catalog's path match: `*` one element, `**` zero or more (dynamic programming). */
static bool path_matches(const char *pattern, const char *path) {
  if (!pattern || !*pattern)
    return false;
  static __thread char pe[MAX_PATH_ELEMS][128], ye[MAX_PATH_ELEMS][128];
  int np = split_dots(pattern, pe, MAX_PATH_ELEMS);
  int ny = split_dots(path, ye, MAX_PATH_ELEMS);
  if (np < 0 || ny < 0)
    return false;
  bool dp[MAX_PATH_ELEMS + 1][MAX_PATH_ELEMS + 1];
  memset(dp, 0, sizeof(dp));
  dp[0][0] = true;
  for (int j = 1; j <= np; j++)
    if (!strcmp(pe[j - 1], "**"))
      dp[0][j] = dp[0][j - 1];
  for (int i = 1; i <= ny; i++)
    for (int j = 1; j <= np; j++) {
      if (!strcmp(pe[j - 1], "**"))
        dp[i][j] = dp[i][j - 1] || dp[i - 1][j];
      else if (!strcmp(pe[j - 1], "*") || element_match(ye[i - 1], pe[j - 1]))
        dp[i][j] = dp[i - 1][j - 1];
    }
  return dp[ny][np];
}

/* ${N} capture groups of the first match of the regex in `value`, substituted into
 * `tmpl`. NULL with an error when a group stays unresolved. */
static char *expand_captures(search *s, const char *tmpl, const char *value) {
  if (!s->have_re)
    return str_dup(tmpl);
  regmatch_t m[10];
  bool matched = !regexec(&s->re, value, 10, m, 0);
  buf out = BUF_INIT;
  for (const char *p = tmpl; *p;) {
    if (p[0] == '$' && p[1] == '{' && p[2] >= '1' && p[2] <= '9' && p[3] == '}') {
      size_t g = (size_t)(p[2] - '0');
      if (!matched || m[g].rm_so < 0) {
        buf_free(&out);
        error_set(ERR_INVALID, "unable to resolve capture groups");
        return NULL;
      }
      buf_append(&out, value + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
      p += 4;
    } else {
      buf_putc(&out, *p++);
    }
  }
  return buf_detach(&out, NULL);
}

static int search_result(fn_rlist *rl, search *s, const char *path, const char *value) {
  if (!s->file)
    return 0; /* as the catalog function: results only for items with a file */
  char *msg = fn_go_quote(s->put_value || s->put_comment ? "Mutated field value to "
                                                          : "Matched field value ",
                          value);
  int rc = msg ? fn_result_add_file(rl, NULL, msg, s->file, NULL, path) : ERR_NOMEM;
  free(msg);
  s->results++;
  return rc;
}

static int search_visit(fn_rlist *rl, yml_node *item, yml_node *parent, size_t index,
                        yml_node *value, const char *path, void *arg) {
  (void)index;
  (void)item;
  search *s = arg;
  if (yml_node_kind(value) != YML_SCALAR)
    return 0;
  const char *v = yml_scalar_value(value, NULL);
  if (!v)
    return 0;
  bool path_ok = path_matches(s->by_path, path);
  bool value_ok = (s->by_value && *s->by_value && !strcmp(s->by_value, v)) ||
                  (s->have_re && !regexec(&s->re, v, 0, NULL, 0));
  if (!((value_ok && path_ok) || (value_ok && !s->by_path) ||
        (path_ok && !s->by_value && !s->by_regex)))
    return 0;
  int rc = 0;
  if (s->put_comment && yml_node_kind(parent) == YML_MAP) {
    char *c = expand_captures(s, s->put_comment, v);
    rc = c ? yml_node_set_line_comment(value, c) : ERR_INVALID;
    free(c);
  }
  char *nv = NULL;
  if (!rc && s->put_value) {
    nv = expand_captures(s, s->put_value, v);
    rc = nv ? (strcmp(nv, v) ? yml_scalar_set(value, nv, strlen(nv)) : 0) : ERR_INVALID;
  }
  if (!rc)
    rc = search_result(rl, s, path, nv ? nv : yml_scalar_value(value, NULL));
  free(nv);
  return rc;
}

/* A new scalar for a value put at a path that did not exist: plain, typed as YAML reads it
 * (kyaml writes the value with an empty tag). */
static yml_node *put_scalar(const char *v) {
  if (yml_plain_safe(v, strlen(v)))
    return yml_str_new(v);
  /* Not a plain string: a number, bool or null stays plain (it is one); anything else is
   * quoted by the writer. */
  regex_t typed;
  bool plain = false;
  if (!regcomp(&typed, "^([-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|true|false|True|False|null|~)$",
               REG_EXTENDED | REG_NOSUB)) {
    plain = !regexec(&typed, v, 0, NULL, 0);
    regfree(&typed);
  }
  return plain ? yml_plain_new(v) : yml_scalar_new(v, strlen(v), YML_STYLE_ANY);
}

int builtin_search_replace(fn_rlist *rl) {
  search s;
  memset(&s, 0, sizeof(s));
  static const char *const names[] = {"by-value", "by-file-path", "by-value-regex", "by-path",
                                      "put-value", "put-comment"};
  const yml_node *data = rl->config ? yml_map_get(rl->config, "data") : NULL;
  for (size_t i = 0; data && yml_node_kind(data) == YML_MAP && i < yml_node_size(data); i++) {
    const char *k = yml_scalar_value(yml_map_key_at(data, i), NULL);
    bool known = false;
    for (size_t n = 0; n < 6 && k; n++)
      known = known || !strcmp(k, names[n]);
    if (!known)
      return error_set(ERR_INVALID,
                       "failed to perform search-replace operation: \"invalid matcher \\\"%s\\\", must "
                       "be one of [\\\"by-value\\\" \\\"by-file-path\\\" \\\"by-value-regex\\\" "
                       "\\\"by-path\\\" \\\"put-value\\\" \\\"put-comment\\\"]\"",
                       k ? k : "");
  }
#define CFG(field, key)                                                                          \
  do {                                                                                           \
    const char *v_ = data && yml_node_kind(data) == YML_MAP ? yml_lookup_str(data, key, NULL) : NULL; \
    s.field = v_ && *v_ ? v_ : NULL;                                                             \
  } while (0)
  CFG(by_path, "by-path");
  CFG(by_value, "by-value");
  CFG(by_regex, "by-value-regex");
  CFG(put_value, "put-value");
  CFG(put_comment, "put-comment");
  CFG(by_file, "by-file-path");
#undef CFG
  if (s.by_value && s.by_regex)
    return error_set(ERR_INVALID, "failed to perform search-replace operation: \"only one of "
                                  "[\\\"by-value\\\", \\\"by-value-regex\\\"] can be provided\"");
  if (s.by_regex) {
    if (regcomp(&s.re, s.by_regex, REG_EXTENDED))
      return error_set(ERR_INVALID, "failed to perform search-replace operation: \"error parsing "
                                    "regexp: %s\"",
                       s.by_regex);
    s.have_re = true;
  }
  /* An absolute path and a value to put: set it, creating what is missing. */
  bool put_by_path = s.by_path && s.put_value && !s.by_value && !s.by_regex &&
                     !strchr(s.by_path, '*') && !strchr(s.by_path, '[') && !strstr(s.by_path, "..") &&
                     s.by_path[0] != '.' && s.by_path[strlen(s.by_path) - 1] != '.';
  int rc = 0;
  buf path = BUF_INIT;
  for (size_t i = 0; i < yml_node_size(rl->items) && !rc; i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    s.file = yml_lookup_str(item, "metadata", "annotations", "config.kubernetes.io/path", NULL);
    if (s.by_file && (!s.file || fnmatch(s.by_file, s.file, 0)))
      continue;
    if (put_by_path) {
      char elems[MAX_PATH_ELEMS][128];
      int n = split_dots(s.by_path, elems, MAX_PATH_ELEMS);
      yml_node *m = item;
      for (int e = 0; e < n - 1 && m; e++)
        m = yml_map_ensure_map(m, elems[e]);
      if (!m || n < 1) {
        error_clear();
        continue;
      }
      yml_node *cur = yml_map_get(m, elems[n - 1]);
      if (cur && yml_node_kind(cur) == YML_SCALAR)
        rc = yml_scalar_set(cur, s.put_value, strlen(s.put_value));
      else
        rc = yml_map_set(m, elems[n - 1], put_scalar(s.put_value));
      if (!rc)
        rc = search_result(rl, &s, s.by_path, s.put_value);
      continue;
    }
    buf_reset(&path);
    rc = walk(rl, item, item, &path, 0, search_visit, &s);
  }
  buf_free(&path);
  if (s.have_re)
    regfree(&s.re);
  if (rc < 0) {
    char *msg = str_printf("failed to perform search-replace operation: \"%s\"", error_message());
    error_set(rc, "%s", msg ? msg : "search-replace failed");
    free(msg);
    return rc;
  }
  if (!s.results)
    return fn_result_add_file(rl, NULL, "no matches", NULL, NULL, NULL);
  return 0;
}

/* ---- apply-replacements ---- */

/* Splits a kustomize field path at dots outside brackets. Returns the count or < 0. */
static int split_field_path(const char *fp, char segs[][128], int max) {
  int n = 0;
  size_t len = 0;
  int depth = 0;
  for (const char *p = fp;; p++) {
    if (*p == '[')
      depth++;
    if (*p == ']')
      depth--;
    if ((*p == '.' && depth == 0) || !*p) {
      if (len) {
        if (n >= max)
          return ERR_LIMIT;
        segs[n][len] = 0;
        n++;
      }
      len = 0;
      if (!*p)
        break;
      continue;
    }
    if (len + 1 >= 128 || n >= max)
      return ERR_LIMIT;
    segs[n][len++] = *p;
  }
  return n;
}

/* The value of `key` in map `n`; with `create`, a missing key is added (an empty string
 * when `last`, else an empty map). NULL when absent or `n` is not a map. */
static yml_node *map_child(yml_node *n, const char *key, bool create, bool last) {
  if (yml_node_kind(n) != YML_MAP)
    return NULL;
  yml_node *v = yml_map_get(n, key);
  if (!v && create)
    v = last ? (yml_map_set(n, key, yml_str_new("")) ? NULL : yml_map_get(n, key))
             : yml_map_ensure_map(n, key);
  return v;
}

/* One step of a path: a map key, "[k=v]" list selector, "[N]" index, "[key.with.dots]",
 * or "*". Returns the matching children in `out` (up to max). With `create`, a missing map
 * key is created (as a map, or as the leaf when `last`). */
static int step(yml_node *n, const char *seg, bool create, bool last, yml_node **out, int max) {
  int count = 0;
  if (!strcmp(seg, "*")) {
    size_t sz = yml_node_size(n);
    for (size_t i = 0; i < sz && count < max; i++)
      out[count++] = yml_node_kind(n) == YML_MAP ? yml_map_value_at(n, i) : yml_seq_at(n, i);
    return count;
  }
  if (seg[0] == '[') {
    size_t sl = strlen(seg);
    char inner[128];
    str_copy(inner, seg + 1, sizeof(inner));
    if (sl >= 2)
      inner[sl - 2] = 0;
    char *eq = strchr(inner, '=');
    if (yml_node_kind(n) == YML_SEQ && eq) {
      *eq = 0;
      for (size_t i = 0; i < yml_node_size(n) && count < max; i++) {
        yml_node *it = yml_seq_at(n, i);
        if (yml_node_kind(it) == YML_MAP && str_eq(yml_lookup_str(it, inner, NULL), eq + 1))
          out[count++] = it;
      }
      return count;
    }
    int64_t idx;
    if (yml_node_kind(n) == YML_SEQ && !str_to_int64(inner, 0, INT32_MAX, &idx)) {
      yml_node *it = yml_seq_at(n, (size_t)idx);
      if (it)
        out[count++] = it;
      return count;
    }
    /* [key.with.dots]: a map key */
    yml_node *v = map_child(n, inner, create, last);
    if (v)
      out[count++] = v;
    return count;
  }
  yml_node *v = map_child(n, seg, create, last);
  if (v)
    out[count++] = v;
  return count;
}

#define MAX_MATCHES 256

/* All nodes at field path `fp` below `root`. */
static int lookup_all(yml_node *root, const char *fp, bool create, yml_node **out, int max) {
  char segs[MAX_SEGMENTS][128];
  int ns = split_field_path(fp, segs, MAX_SEGMENTS);
  if (ns < 0)
    return error_set(ERR_INVALID, "field path too long: %s", fp);
  static __thread yml_node *cur[MAX_MATCHES], *next[MAX_MATCHES];
  int ncur = 1;
  cur[0] = root;
  for (int s = 0; s < ns && ncur; s++) {
    int nnext = 0;
    for (int i = 0; i < ncur && nnext < MAX_MATCHES; i++)
      nnext += step(cur[i], segs[s], create, s == ns - 1, next + nnext, MAX_MATCHES - nnext);
    memcpy(cur, next, sizeof(yml_node *) * (size_t)nnext);
    ncur = nnext;
  }
  int n = ncur < max ? ncur : max;
  memcpy(out, cur, sizeof(yml_node *) * (size_t)n);
  return n;
}

static bool selector_matches(const yml_node *sel, const yml_node *item) {
  if (!sel || yml_node_kind(sel) != YML_MAP)
    return false;
  const char *kind = yml_lookup_str(sel, "kind", NULL);
  const char *name = yml_lookup_str(sel, "name", NULL);
  const char *ns = yml_lookup_str(sel, "namespace", NULL);
  const char *group = yml_lookup_str(sel, "group", NULL);
  const char *version = yml_lookup_str(sel, "version", NULL);
  const char *av = item_api_version(item);
  const char *slash = av ? strchr(av, '/') : NULL;
  if (kind && !str_eq(kind, item_kind(item)))
    return false;
  if (name && !str_eq(name, item_name(item)))
    return false;
  if (ns && !str_eq(ns, item_namespace(item)))
    return false;
  if (group && (!slash || strlen(group) != (size_t)(slash - av) || strncmp(group, av, strlen(group))))
    return false;
  if (version && !str_eq(version, slash ? slash + 1 : av))
    return false;
  return true;
}

/* The value of the source, possibly one part of a delimited string. */
static yml_node *source_value(fn_rlist *rl, const yml_node *src) {
  const char *fp = yml_lookup_str(src, "fieldPath", NULL);
  if (!fp)
    fp = "metadata.name";
  yml_node *found = NULL;
  for (size_t i = 0; i < yml_node_size(rl->items); i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    if (!selector_matches(src, item))
      continue;
    if (found) {
      error_set(ERR_INVALID, "more than one source resource matches the replacement's source");
      return NULL;
    }
    yml_node *hits[1];
    if (lookup_all(item, fp, false, hits, 1) != 1) {
      error_set(ERR_INVALID, "fieldPath `%s` is missing from the replacement source %s/%s", fp,
                item_kind(item) ? item_kind(item) : "", item_name(item) ? item_name(item) : "");
      return NULL;
    }
    found = hits[0];
  }
  if (!found)
    error_set(ERR_INVALID, "no source resource matches the replacement's source");
  return found;
}

/* Picks or replaces the `index`-th part of a delimited string. */
static char *delimited(const char *value, const char *delim, long index, const char *put) {
  buf out = BUF_INIT;
  size_t dl = strlen(delim);
  long i = 0;
  bool done = false;
  for (const char *p = value;; i++) {
    const char *e = dl ? strstr(p, delim) : NULL;
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (put) {
      if (i)
        buf_puts(&out, delim);
      if (i == index) {
        buf_puts(&out, put);
        done = true;
      } else {
        buf_append(&out, p, n);
      }
    } else if (i == index) {
      buf_append(&out, p, n);
      done = true;
      break;
    }
    if (!e)
      break;
    p = e + dl;
  }
  if (put && !done) {
    buf_free(&out);
    return str_dup(value);
  }
  if (!done)
    buf_puts(&out, "");
  return buf_detach(&out, NULL);
}

/* JSON with every object's keys in sorted order (kustomize hands replacement values
 * through a map, so a copied collection comes out sorted). New reference. */
static json_t *json_sorted(const json_t *j, int depth) {
  if (depth > 64)
    return json_null();
  if (json_is_array(j)) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < json_array_size(j); i++)
      json_array_append_new(a, json_sorted(json_array_get(j, i), depth + 1));
    return a;
  }
  if (!json_is_object(j))
    return json_deep_copy(j);
  size_t n = json_object_size(j), k = 0;
  const char **keys = calloc(n ? n : 1, sizeof(char *));
  json_t *o = json_object();
  const char *key;
  json_t *v;
  if (!keys || !o) {
    free(keys);
    json_decref(o);
    return NULL;
  }
  json_object_foreach((json_t *)j, key, v) keys[k++] = key;
  for (size_t a = 1; a < k; a++)
    for (size_t b = a; b > 0 && strcmp(keys[b - 1], keys[b]) > 0; b--) {
      const char *t = keys[b];
      keys[b] = keys[b - 1];
      keys[b - 1] = t;
    }
  for (size_t i = 0; i < k; i++)
    json_object_set_new(o, keys[i], json_sorted(json_object_get(j, keys[i]), depth + 1));
  free(keys);
  return o;
}

/* The value written at a target: scalars keep their source, collections are rebuilt with
 * sorted keys as kustomize writes them. */
static yml_node *replacement_copy(const yml_node *value) {
  if (yml_node_kind(value) == YML_SCALAR)
    return yml_node_copy(value);
  json_t *j = yml_to_json(value);
  json_t *sorted = j ? json_sorted(j, 0) : NULL;
  yml_node *n = sorted ? yml_from_json(sorted) : NULL;
  json_decref(j);
  json_decref(sorted);
  return n;
}

static int apply_one(fn_rlist *rl, const yml_node *rep) {
  const yml_node *src = yml_map_get(rep, "source");
  const yml_node *targets = yml_map_get(rep, "targets");
  if (!src || yml_node_kind(src) != YML_MAP)
    return error_set(ERR_INVALID, "replacement has no source");
  yml_node *value = source_value(rl, src);
  if (!value)
    return ERR_INVALID;
  const char *sdelim = yml_lookup_str(src, "options", "delimiter", NULL);
  const char *sindex = yml_lookup_str(src, "options", "index", NULL);
  char *sval = NULL;
  if (sdelim && yml_node_kind(value) == YML_SCALAR) {
    int64_t idx = 0;
    if (sindex)
      str_to_int64(sindex, 0, INT32_MAX, &idx);
    sval = delimited(yml_scalar_value(value, NULL), sdelim, (long)idx, NULL);
  }
  int rc = 0;
  for (size_t t = 0; targets && t < yml_node_size(targets) && !rc; t++) {
    const yml_node *target = yml_seq_at(targets, t);
    const yml_node *select = yml_map_get(target, "select");
    const yml_node *reject = yml_map_get(target, "reject");
    const yml_node *paths = yml_map_get(target, "fieldPaths");
    const char *delim = yml_lookup_str(target, "options", "delimiter", NULL);
    const char *index = yml_lookup_str(target, "options", "index", NULL);
    const char *create = yml_lookup_str(target, "options", "create", NULL);
    for (size_t i = 0; i < yml_node_size(rl->items) && !rc; i++) {
      yml_node *item = yml_seq_at(rl->items, i);
      if (item_is_kptfile(item) || !selector_matches(select, item))
        continue;
      bool rejected = false;
      for (size_t r = 0; reject && r < yml_node_size(reject); r++)
        rejected = rejected || selector_matches(yml_seq_at(reject, r), item);
      if (rejected)
        continue;
      for (size_t p = 0; paths && p < yml_node_size(paths) && !rc; p++) {
        const char *fp = yml_scalar_value(yml_seq_at(paths, p), NULL);
        yml_node *hits[MAX_MATCHES];
        int nh = fp ? lookup_all(item, fp, str_eq(create, "true"), hits, MAX_MATCHES) : 0;
        if (nh < 0) {
          rc = nh;
          break;
        }
        for (int h = 0; h < nh && !rc; h++) {
          if (hits[h] == value)
            continue;
          if (delim && yml_node_kind(hits[h]) == YML_SCALAR) {
            int64_t idx = 0;
            if (index)
              str_to_int64(index, 0, INT32_MAX, &idx);
            const char *put = sval ? sval : yml_scalar_value(value, NULL);
            char *nv = put ? delimited(yml_scalar_value(hits[h], NULL), delim, (long)idx, put) : NULL;
            if (nv && strcmp(nv, yml_scalar_value(hits[h], NULL)))
              rc = yml_scalar_set(hits[h], nv, strlen(nv));
            free(nv);
          } else if (sval) {
            if (yml_node_kind(hits[h]) == YML_SCALAR)
              rc = yml_scalar_set(hits[h], sval, strlen(sval));
          } else if (!yml_node_equal(hits[h], value)) {
            yml_node *copy = replacement_copy(value);
            rc = copy ? yml_node_replace(hits[h], copy) : ERR_NOMEM;
          }
        }
      }
    }
  }
  free(sval);
  return rc;
}

int builtin_apply_replacements(fn_rlist *rl) {
  const yml_node *reps = rl->config ? yml_map_get(rl->config, "replacements") : NULL;
  if (!reps || yml_node_kind(reps) != YML_SEQ)
    return error_set(ERR_INVALID, "function config must be an ApplyReplacements with a "
                                  "`replacements` list");
  for (size_t i = 0; i < yml_node_size(reps); i++) {
    int rc = apply_one(rl, yml_seq_at(reps, i));
    if (rc)
      return rc;
  }
  return 0;
}
