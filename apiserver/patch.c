/*
 * patch: merge, JSON and strategic merge patches (see patch.h). Work happens on a deep
 * copy so that a failure leaves the caller's document untouched.
 */
#include "apiserver/patch.h"

#include "base/error.h"
#include "base/str.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PATCH_MAX_DEPTH 128

/* --- RFC 7386 ------------------------------------------------------------------------ */

static json_t *merge_value(json_t *target /* stolen */, const json_t *patch, int depth) {
  if (!json_is_object(patch)) {
    json_decref(target);
    return json_deep_copy(patch);
  }
  if (!json_is_object(target)) {
    json_decref(target);
    target = json_object();
  }
  if (depth > PATCH_MAX_DEPTH)
    return target;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)patch, k, v) {
    if (json_is_null(v)) {
      json_object_del(target, k);
      continue;
    }
    json_t *cur = json_object_get(target, k);
    json_t *merged = merge_value(cur ? json_incref(cur) : NULL, v, depth + 1);
    json_object_set_new(target, k, merged);
  }
  return target;
}

int patch_merge(json_t **doc, const json_t *patch) {
  json_t *copy = json_deep_copy(*doc);
  json_t *out = merge_value(copy, patch, 0);
  if (!out)
    return error_set(ERR_NOMEM, "out of memory");
  json_decref(*doc);
  *doc = out;
  return 0;
}

/* --- RFC 6902 ------------------------------------------------------------------------ */

/* Decodes one JSON pointer token ("~1" -> "/", "~0" -> "~") into out. */
static void unescape_token(const char *s, size_t n, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 1 < size; i++) {
    if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
      out[o++] = s[i + 1] == '0' ? '~' : '/';
      i++;
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = 0;
}

/* Resolves the parent container of `ptr` and its last token. Returns the parent (borrowed)
 * or NULL with an error. */
static json_t *resolve_parent(json_t *root, const char *ptr, char *last, size_t last_size) {
  if (*ptr != '/') {
    error_set(ERR_INVALID, "invalid JSON pointer %s", ptr);
    return NULL;
  }
  json_t *cur = root;
  const char *p = ptr + 1;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    char tok[512];
    unescape_token(p, n, tok, sizeof(tok));
    if (!slash) {
      str_copy(last, tok, last_size);
      return cur;
    }
    json_t *next = NULL;
    if (json_is_object(cur)) {
      next = json_object_get(cur, tok);
    } else if (json_is_array(cur)) {
      int64_t idx;
      if (!str_to_int64(tok, 0, (int64_t)json_array_size(cur) - 1, &idx))
        next = json_array_get(cur, (size_t)idx);
    }
    if (!next) {
      error_set(ERR_INVALID, "doc is missing path: \"%s\": missing value", ptr);
      return NULL;
    }
    cur = next;
    p = slash + 1;
  }
}

static json_t *pointer_get(json_t *root, const char *ptr) {
  if (!*ptr)
    return root;
  char last[512];
  json_t *parent = resolve_parent(root, ptr, last, sizeof(last));
  if (!parent)
    return NULL;
  if (json_is_object(parent))
    return json_object_get(parent, last);
  if (json_is_array(parent)) {
    int64_t idx;
    if (!str_to_int64(last, 0, (int64_t)json_array_size(parent) - 1, &idx))
      return json_array_get(parent, (size_t)idx);
  }
  return NULL;
}

static int pointer_add(json_t **root, const char *ptr, json_t *value /* stolen */, bool replace) {
  if (!*ptr) {
    json_decref(*root);
    *root = value;
    return 0;
  }
  char last[512];
  json_t *parent = resolve_parent(*root, ptr, last, sizeof(last));
  if (!parent) {
    json_decref(value);
    return ERR_INVALID;
  }
  if (json_is_object(parent)) {
    if (replace && !json_object_get(parent, last)) {
      json_decref(value);
      return error_set(ERR_INVALID, "replace operation does not apply: doc is missing key: %s",
                       ptr);
    }
    json_object_set_new(parent, last, value);
    return 0;
  }
  if (json_is_array(parent)) {
    size_t n = json_array_size(parent);
    if (!replace && !strcmp(last, "-")) {
      json_array_append_new(parent, value);
      return 0;
    }
    int64_t idx;
    if (str_to_int64(last, 0, replace ? (int64_t)n - 1 : (int64_t)n, &idx)) {
      json_decref(value);
      return error_set(ERR_INVALID, "unable to access invalid index: %s", last);
    }
    if (replace)
      json_array_set_new(parent, (size_t)idx, value);
    else
      json_array_insert_new(parent, (size_t)idx, value);
    return 0;
  }
  json_decref(value);
  return error_set(ERR_INVALID, "doc is missing path: \"%s\"", ptr);
}

static int pointer_remove(json_t *root, const char *ptr, json_t **removed) {
  char last[512];
  json_t *parent = resolve_parent(root, ptr, last, sizeof(last));
  if (!parent)
    return ERR_INVALID;
  if (json_is_object(parent)) {
    json_t *v = json_object_get(parent, last);
    if (!v)
      return error_set(ERR_INVALID,
                       "remove operation does not apply: doc is missing path: \"%s\"", ptr);
    if (removed)
      *removed = json_incref(v);
    json_object_del(parent, last);
    return 0;
  }
  if (json_is_array(parent)) {
    int64_t idx;
    if (str_to_int64(last, 0, (int64_t)json_array_size(parent) - 1, &idx))
      return error_set(ERR_INVALID, "unable to access invalid index: %s", last);
    if (removed)
      *removed = json_incref(json_array_get(parent, (size_t)idx));
    json_array_remove(parent, (size_t)idx);
    return 0;
  }
  return error_set(ERR_INVALID, "remove operation does not apply: doc is missing path: \"%s\"",
                   ptr);
}

static int apply_op(json_t **doc, const json_t *op) {
  const char *name = json_string_value(json_object_get(op, "op"));
  const char *path = json_string_value(json_object_get(op, "path"));
  json_t *value = json_object_get(op, "value");
  if (!name)
    return error_set(ERR_INVALID, "Unexpected kind: %s", "missing op");
  if (!path)
    return error_set(ERR_INVALID, "missing path in %s operation", name);
  if (!strcmp(name, "add") || !strcmp(name, "replace")) {
    if (!value)
      return error_set(ERR_INVALID, "missing value in %s operation", name);
    return pointer_add(doc, path, json_deep_copy(value), !strcmp(name, "replace"));
  }
  if (!strcmp(name, "remove"))
    return pointer_remove(*doc, path, NULL);
  if (!strcmp(name, "test")) {
    json_t *have = pointer_get(*doc, path);
    if (!value || !have || !json_equal(have, value))
      return error_set(ERR_CONFLICT, "testing value %s failed: test failed", path);
    return 0;
  }
  const char *from = json_string_value(json_object_get(op, "from"));
  if (!from)
    return error_set(ERR_INVALID, "missing from in %s operation", name);
  if (!strcmp(name, "copy")) {
    json_t *src = pointer_get(*doc, from);
    if (!src)
      return error_set(ERR_INVALID, "copy operation does not apply: doc is missing from path: %s",
                       from);
    return pointer_add(doc, path, json_deep_copy(src), false);
  }
  if (!strcmp(name, "move")) {
    json_t *moved = NULL;
    int rc = pointer_remove(*doc, from, &moved);
    if (rc)
      return rc;
    return pointer_add(doc, path, moved, false);
  }
  return error_set(ERR_INVALID, "Unexpected kind: %s", name);
}

int patch_json(json_t **doc, const json_t *ops) {
  if (!json_is_array(ops))
    return error_set(ERR_INVALID, "json: cannot unmarshal object into Go value of type "
                                  "jsonpatch.Patch");
  json_t *work = json_deep_copy(*doc);
  if (!work)
    return error_set(ERR_NOMEM, "out of memory");
  size_t i;
  json_t *op;
  json_array_foreach(ops, i, op) {
    int rc = json_is_object(op) ? apply_op(&work, op)
                                : error_set(ERR_INVALID, "invalid JSON patch operation");
    if (rc) {
      json_decref(work);
      return rc;
    }
  }
  json_decref(*doc);
  *doc = work;
  return 0;
}

/* --- strategic merge patch ----------------------------------------------------------- */

/* The merge key of the list at `path` ("metadata.ownerReferences"), "" for a set of
 * primitives merged by value, or NULL when the list is replaced whole. */
static const char *list_merge_key(const char *path) {
  if (!strcmp(path, "metadata.finalizers"))
    return "";
  if (!strcmp(path, "metadata.ownerReferences"))
    return "uid";
  if (!strcmp(path, "spec.ports")) /* Service */
    return "port";
  if (str_has_suffix(path, "conditions"))
    return "type";
  return NULL;
}

static json_t *smp_value(json_t *target, const json_t *patch, const char *path, int depth);

static bool item_has_key(const json_t *item, const char *key, const json_t *want) {
  return json_is_object(item) && json_equal(json_object_get(item, key), want);
}

static json_t *smp_list(json_t *target /* stolen */, const json_t *patch, const char *path,
                        const char *key, int depth) {
  if (!json_is_array(target)) {
    json_decref(target);
    target = json_array();
  }
  size_t i;
  json_t *item;
  json_array_foreach(patch, i, item) {
    if (!*key) { /* primitive set */
      bool present = false;
      size_t j;
      json_t *have;
      json_array_foreach(target, j, have) {
        present = present || json_equal(have, item);
      }
      if (!present)
        json_array_append(target, item);
      continue;
    }
    const json_t *kv = json_object_get(item, key);
    const char *directive = json_string_value(json_object_get(item, "$patch"));
    size_t j, found = (size_t)-1;
    json_t *have;
    json_array_foreach(target, j, have) {
      if (found == (size_t)-1 && kv && item_has_key(have, key, kv))
        found = j;
    }
    if (directive && !strcmp(directive, "delete")) {
      if (found != (size_t)-1)
        json_array_remove(target, found);
      continue;
    }
    if (found != (size_t)-1) {
      json_t *merged = smp_value(json_incref(json_array_get(target, found)), item, path, depth + 1);
      json_array_set_new(target, found, merged);
    } else {
      json_array_append_new(target, smp_value(NULL, item, path, depth + 1));
    }
  }
  return target;
}

static json_t *smp_value(json_t *target /* stolen */, const json_t *patch, const char *path,
                         int depth) {
  if (!json_is_object(patch)) {
    json_decref(target);
    return json_deep_copy(patch);
  }
  const char *directive = json_string_value(json_object_get(patch, "$patch"));
  if (directive && !strcmp(directive, "replace")) {
    json_decref(target);
    json_t *copy = json_deep_copy(patch);
    json_object_del(copy, "$patch");
    return copy;
  }
  if (directive && !strcmp(directive, "delete")) {
    json_decref(target);
    return NULL;
  }
  if (!json_is_object(target)) {
    json_decref(target);
    target = json_object();
  }
  if (depth > PATCH_MAX_DEPTH)
    return target;
  const json_t *retain = json_object_get(patch, "$retainKeys");
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)patch, k, v) {
    if (k[0] == '$') {
      const char *prefix = "$deleteFromPrimitiveList/";
      if (str_has_prefix(k, prefix) && json_is_array(v)) {
        json_t *list = json_object_get(target, k + strlen(prefix));
        size_t i;
        json_t *del;
        json_array_foreach(v, i, del) {
          for (size_t j = json_array_size(list); j-- > 0;)
            if (json_equal(json_array_get(list, j), del))
              json_array_remove(list, j);
        }
      }
      continue; /* $setElementOrder, $patch, $retainKeys: order and directives */
    }
    char *child = *path ? str_printf("%s.%s", path, k) : str_dup(k);
    if (json_is_null(v)) {
      json_object_del(target, k);
    } else if (json_is_array(v) && list_merge_key(child)) {
      json_t *cur = json_object_get(target, k);
      json_object_set_new(target, k,
                          smp_list(cur ? json_incref(cur) : NULL, v, child, list_merge_key(child),
                                   depth + 1));
    } else {
      json_t *cur = json_object_get(target, k);
      json_t *merged = smp_value(cur ? json_incref(cur) : NULL, v, child, depth + 1);
      if (merged)
        json_object_set_new(target, k, merged);
      else
        json_object_del(target, k);
    }
    free(child);
  }
  if (json_is_array(retain)) {
    void *tmp;
    json_object_foreach_safe(target, tmp, k, v) {
      bool keep = false;
      size_t i;
      json_t *r;
      json_array_foreach(retain, i, r) {
        keep = keep || str_eq(json_string_value(r), k);
      }
      if (!keep)
        json_object_del(target, k);
    }
  }
  return target;
}

int patch_strategic(json_t **doc, const json_t *patch) {
  if (!json_is_object(patch))
    return error_set(ERR_INVALID, "strategic merge patch must be a JSON object");
  json_t *out = smp_value(json_deep_copy(*doc), patch, "", 0);
  if (!out)
    out = json_object();
  json_decref(*doc);
  *doc = out;
  return 0;
}

/* --- server-side apply field sets ----------------------------------------------------- */

static bool server_owned_meta(const char *k) {
  static const char *const owned[] = {"name", "namespace", "uid", "resourceVersion",
                                      "generation", "creationTimestamp", "deletionTimestamp",
                                      "deletionGracePeriodSeconds", "managedFields", "selfLink",
                                      "generateName", NULL};
  for (size_t i = 0; owned[i]; i++)
    if (!strcmp(owned[i], k))
      return true;
  return false;
}

static json_t *fieldset_of(const json_t *v, int depth, bool root, bool meta) {
  json_t *set = json_object();
  if (depth > PATCH_MAX_DEPTH)
    return set;
  const char *k;
  json_t *child;
  json_object_foreach((json_t *)v, k, child) {
    if (root && (!strcmp(k, "apiVersion") || !strcmp(k, "kind")))
      continue;
    if (meta && server_owned_meta(k))
      continue;
    char *fk = str_printf("f:%s", k);
    if (!fk)
      continue;
    json_t *sub = json_is_object(child) && json_object_size(child)
                      ? fieldset_of(child, depth + 1, false, root && !strcmp(k, "metadata"))
                      : json_object();
    if (!(root && !strcmp(k, "metadata") && !json_object_size(sub)))
      json_object_set_new(set, fk, sub);
    else
      json_decref(sub);
    free(fk);
  }
  return set;
}

json_t *patch_apply_fieldset(const json_t *applied) { return fieldset_of(applied, 0, true, false); }

static void prune_fields(json_t *live, const json_t *old_set, const json_t *new_set, int depth) {
  if (!json_is_object(live) || depth > PATCH_MAX_DEPTH)
    return;
  const char *fk;
  json_t *old_child;
  json_object_foreach((json_t *)old_set, fk, old_child) {
    if (strncmp(fk, "f:", 2))
      continue;
    const json_t *new_child = json_object_get(new_set, fk);
    if (!new_child)
      json_object_del(live, fk + 2);
    else if (json_object_size(old_child) && json_object_size(new_child))
      prune_fields(json_object_get(live, fk + 2), old_child, new_child, depth + 1);
  }
}

void patch_apply_prune(json_t *live, const json_t *old_set, const json_t *new_set) {
  prune_fields(live, old_set, new_set, 0);
}
