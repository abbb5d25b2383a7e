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
      if (rc >= 0)
        rc = walk(rl, item, v, path, depth + 1, visit, arg);
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
        rc = walk(rl, item, v, path, depth + 1, visit, arg);
      path->len = mark;
      if (path->data)
        path->data[mark] = 0;
    }
  }
  return rc;
}

static int walk_items(fn_rlist *rl, scalar_visit visit, void *arg) {
  buf path = BUF_INIT;
  int rc = 0;
  for (size_t i = 0; i < yml_node_size(rl->items) && rc >= 0; i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    if (item_is_kptfile(item))
      continue;
    buf_reset(&path);
    rc = walk(rl, item, item, &path, 0, visit, arg);
  }
  buf_free(&path);
  return rc < 0 ? rc : 0;
}

static int report_change(fn_rlist *rl, yml_node *item, const char *path, const char *value) {
  char *msg = str_printf("set field value to \"%s\"", value);
  int rc = msg ? fn_result_add(rl, "info", msg, item, path) : ERR_NOMEM;
  free(msg);
  return rc;
}

/* ---- apply-setters ---- */

/* Substitutes ${name} references of `pattern` from the setters map. Returns a new string,
 * or NULL when a referenced setter is missing (the field is left alone) or on ENOMEM. */
static char *substitute(const char *pattern, const yml_node *setters) {
  buf out = BUF_INIT;
  for (const char *p = pattern; *p;) {
    const char *start = strstr(p, "${");
    if (!start) {
      buf_puts(&out, p);
      break;
    }
    const char *end = strchr(start, '}');
    if (!end) {
      buf_puts(&out, p);
      break;
    }
    buf_append(&out, p, (size_t)(start - p));
    char *name = str_ndup(start + 2, (size_t)(end - start - 2));
    const yml_node *v = name ? yml_map_get(setters, name) : NULL;
    free(name);
    const char *val = v ? yml_scalar_value(v, NULL) : NULL;
    if (!val) {
      buf_free(&out);
      return NULL;
    }
    buf_puts(&out, val);
    p = end + 1;
  }
  return buf_detach(&out, NULL);
}

static int setter_visit(fn_rlist *rl, yml_node *item, yml_node *parent, size_t index,
                        yml_node *value, const char *path, void *arg) {
  const yml_node *setters = arg;
  if (yml_node_kind(parent) != YML_MAP)
    return 0;
  (void)index;
  char *comment = yml_node_line_comment(value);
  if (!comment)
    return 0;
  const char *c = comment;
  while (*c == ' ')
    c++;
  int rc = 0;
  if (!str_has_prefix(c, "kpt-set:")) {
    free(comment);
    return 0;
  }
  c += strlen("kpt-set:");
  while (*c == ' ')
    c++;
  char *nv = substitute(c, setters);
  if (!nv)
    goto done;
  if (yml_node_kind(value) == YML_SCALAR) {
    size_t len;
    const char *cur = yml_scalar_value(value, &len);
    if (cur && len == strlen(nv) && !memcmp(cur, nv, len))
      goto done;
    rc = yml_scalar_set(value, nv, strlen(nv));
    if (!rc)
      rc = report_change(rl, item, path, nv);
  } else if (yml_node_kind(value) == YML_SEQ) {
    /* A list setter: the value is a flow list. */
    yml_file *f = NULL;
    if (yml_file_parse(&f, "setter", nv, strlen(nv)) == 0) {
      yml_node *list = yml_file_doc(f, 0);
      if (list && yml_node_kind(list) == YML_SEQ && !yml_node_equal(list, value)) {
        while (yml_node_size(value) && !rc)
          rc = yml_seq_remove_at(value, 0);
        for (size_t i = 0; i < yml_node_size(list) && !rc; i++) {
          const char *s = yml_scalar_value(yml_seq_at(list, i), NULL);
          rc = s ? yml_seq_append(value, yml_str_new(s)) : 0;
        }
        if (!rc)
          rc = report_change(rl, item, path, nv);
      }
      yml_file_free(f);
    }
    error_clear();
  }
done:
  free(nv);
  free(comment);
  return rc;
}

int builtin_apply_setters(fn_rlist *rl) {
  yml_node *setters = fn_config_map(rl, "setters");
  if (!setters)
    return 0; /* no setters: nothing to do, as the catalog function */
  return walk_items(rl, setter_visit, setters);
}

/* ---- search-replace ---- */

typedef struct search {
  const char *by_path, *by_value, *by_regex, *put_value, *put_comment;
  regex_t re;
  bool have_re;
  int matches;
} search;

/* Does the dotted `path` (with [N] list steps) match `pattern`? */
static bool path_matches(const char *pattern, const char *path) {
  if (!*pattern)
    return !*path;
  if (!*path)
    return !strcmp(pattern, "**");
  /* next segment of each */
  const char *pe = pattern + strcspn(pattern, ".");
  size_t pl = (size_t)(pe - pattern);
  const char *pnext = *pe ? pe + 1 : pe;
  size_t sl;
  const char *snext;
  if (*path == '[') {
    const char *close = strchr(path, ']');
    sl = close ? (size_t)(close - path + 1) : strlen(path);
    snext = path + sl;
    if (*snext == '.')
      snext++;
    /* List steps are transparent unless the pattern names them. */
    if (pattern[0] != '[' && !(pl == 2 && !strncmp(pattern, "**", 2)))
      return path_matches(pattern, snext);
  } else {
    sl = strcspn(path, ".[");
    snext = path + sl;
    if (*snext == '.')
      snext++;
  }
  if (pl == 2 && !strncmp(pattern, "**", 2))
    return path_matches(pnext, path) || path_matches(pattern, snext);
  bool seg_ok = (pl == 1 && pattern[0] == '*') || (pl == 3 && !strncmp(pattern, "[*]", 3)) ||
                (pl == sl && !strncmp(pattern, path, pl));
  return seg_ok && path_matches(pnext, snext);
}

static char *expand_captures(const char *tmpl, const char *value, const regmatch_t *m, size_t nm) {
  buf out = BUF_INIT;
  for (const char *p = tmpl; *p;) {
    if (p[0] == '$' && p[1] == '{' && p[2] >= '0' && p[2] <= '9' && p[3] == '}') {
      size_t g = (size_t)(p[2] - '0');
      if (g < nm && m[g].rm_so >= 0)
        buf_append(&out, value + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
      p += 4;
    } else {
      buf_putc(&out, *p++);
    }
  }
  return buf_detach(&out, NULL);
}

static int search_visit(fn_rlist *rl, yml_node *item, yml_node *parent, size_t index,
                        yml_node *value, const char *path, void *arg) {
  (void)index;
  search *s = arg;
  if (yml_node_kind(value) != YML_SCALAR)
    return 0;
  if (s->by_path && !path_matches(s->by_path, path))
    return 0;
  const char *v = yml_scalar_value(value, NULL);
  if (!v)
    return 0;
  if (s->by_value && strcmp(v, s->by_value))
    return 0;
  regmatch_t m[10];
  if (s->have_re) {
    if (regexec(&s->re, v, 10, m, 0) || m[0].rm_so != 0 || (size_t)m[0].rm_eo != strlen(v))
      return 0;
  }
  s->matches++;
  int rc = 0;
  if (s->put_value) {
    char *nv = s->have_re ? expand_captures(s->put_value, v, m, 10) : str_dup(s->put_value);
    if (!nv)
      return ERR_NOMEM;
    if (strcmp(nv, v)) {
      rc = yml_scalar_set(value, nv, strlen(nv));
      if (!rc) {
        char *msg = str_printf("Mutated field value to \"%s\"", nv);
        rc = msg ? fn_result_add(rl, "info", msg, item, path) : ERR_NOMEM;
        free(msg);
      }
    }
    free(nv);
  } else if (s->put_comment && yml_node_kind(parent) == YML_MAP) {
    rc = yml_node_set_line_comment(value, s->put_comment);
    if (!rc) {
      char *msg = str_printf("Mutated field comment to \"%s\"", s->put_comment);
      rc = msg ? fn_result_add(rl, "info", msg, item, path) : ERR_NOMEM;
      free(msg);
    }
  } else {
    char *msg = str_printf("Matched field value \"%s\"", v);
    rc = msg ? fn_result_add(rl, "info", msg, item, path) : ERR_NOMEM;
    free(msg);
  }
  return rc;
}

int builtin_search_replace(fn_rlist *rl) {
  search s;
  memset(&s, 0, sizeof(s));
  s.by_path = fn_config_get(rl, "by-path");
  s.by_value = fn_config_get(rl, "by-value");
  s.by_regex = fn_config_get(rl, "by-value-regex");
  s.put_value = fn_config_get(rl, "put-value");
  s.put_comment = fn_config_get(rl, "put-comment");
  if (!s.by_path && !s.by_value && !s.by_regex)
    return error_set(ERR_INVALID, "at least one of [by-value, by-value-regex, by-path] must be "
                                  "provided");
  if (s.by_value && s.by_regex)
    return error_set(ERR_INVALID, "only one of [by-value, by-value-regex] can be provided");
  if (s.by_regex) {
    if (regcomp(&s.re, s.by_regex, REG_EXTENDED))
      return error_set(ERR_INVALID, "by-value-regex is not a valid regular expression: %s",
                       s.by_regex);
    s.have_re = true;
  }
  int rc = walk_items(rl, search_visit, &s);
  if (s.have_re)
    regfree(&s.re);
  return rc;
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
            yml_node *copy = yml_node_copy(value);
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
