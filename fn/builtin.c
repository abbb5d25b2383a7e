/*
 * builtin: ResourceList framing, results, config access, the dispatcher, and the simple
 * simple built-ins (ensure-name-substring, set-image). See builtin.h.
 */
#include "builtin.h"

#include "base/error.h"
#include "base/str.h"
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ResourceList ---- */

int fn_rlist_parse(fn_rlist *out, const char *text, size_t len) {
  yml_file *f = NULL;
  int rc = yml_file_parse(&f, "ResourceList", text, len);
  if (rc)
    return error_prefix("reading the function's ResourceList");
  yml_node *root = yml_file_doc(f, 0);
  const char *kind = root ? yml_lookup_str(root, "kind", NULL) : NULL;
  if (!root || yml_node_kind(root) != YML_MAP || !str_eq(kind, "ResourceList")) {
    error_set(ERR_INVALID, "input is not a ResourceList (kind: %s)", kind ? kind : "none");
    yml_file_free(f);
    return ERR_INVALID;
  }
  yml_node *items = yml_map_get(root, "items");
  if (!items || (yml_node_kind(items) == YML_SCALAR && yml_scalar_is_null(items))) {
    if (yml_map_set(root, "items", yml_seq_new(YML_BLOCK))) {
      yml_file_free(f);
      return ERR_NOMEM;
    }
    items = yml_map_get(root, "items");
  }
  if (yml_node_kind(items) != YML_SEQ) {
    yml_file_free(f);
    return error_set(ERR_INVALID, "ResourceList items is not a list");
  }
  for (size_t i = 0; i < yml_node_size(items); i++)
    if (yml_node_kind(yml_seq_at(items, i)) != YML_MAP) {
      yml_file_free(f);
      return error_set(ERR_INVALID, "ResourceList item %zu is not an object", i);
    }
  out->file = f;
  out->root = root;
  out->items = items;
  out->config = yml_map_get(root, "functionConfig");
  if (out->config && yml_node_kind(out->config) != YML_MAP)
    out->config = NULL;
  out->results = json_array();
  return out->results ? 0 : ERR_NOMEM;
}

int fn_rlist_write(fn_rlist *rl, buf *out) {
  if (json_array_size(rl->results)) {
    yml_node *r = yml_from_json(rl->results);
    if (!r || yml_map_set(rl->root, "results", r))
      return ERR_NOMEM;
  }
  return yml_file_write(rl->file, out);
}

void fn_rlist_free(fn_rlist *rl) {
  yml_file_free(rl->file);
  json_decref(rl->results);
  memset(rl, 0, sizeof(*rl));
}

/* A result object with the fields common to both shapes. New reference or NULL. */
static json_t *result_new(const char *severity, const char *message, const char *field,
                          const char *file_path, const char *file_index) {
  json_t *r = json_object();
  if (!r)
    return NULL;
  json_object_set_new(r, "message", json_string(message));
  if (severity)
    json_object_set_new(r, "severity", json_string(severity));
  if (field) {
    json_t *fj = json_object();
    json_object_set_new(fj, "path", json_string(field));
    json_object_set_new(r, "field", fj);
  }
  if (file_path) {
    json_t *file = json_object();
    json_object_set_new(file, "path", json_string(file_path));
    int64_t idx;
    if (file_index && !str_to_int64(file_index, 0, INT32_MAX, &idx) && idx > 0)
      json_object_set_new(file, "index", json_integer(idx));
    json_object_set_new(r, "file", file);
  }
  return r;
}

int fn_result_add(fn_rlist *rl, const char *severity, const char *message,
                  const yml_node *resource, const char *field) {
  const char *path = resource ? yml_lookup_str(resource, "metadata", "annotations",
                                               "config.kubernetes.io/path", NULL)
                              : NULL;
  const char *index = resource ? yml_lookup_str(resource, "metadata", "annotations",
                                                "config.kubernetes.io/index", NULL)
                               : NULL;
  json_t *r = result_new(severity, message, field, path, index);
  if (!r)
    return ERR_NOMEM;
  if (resource) {
    json_t *ref = json_object();
    const char *v;
    if ((v = item_api_version(resource)))
      json_object_set_new(ref, "apiVersion", json_string(v));
    if ((v = item_kind(resource)))
      json_object_set_new(ref, "kind", json_string(v));
    if ((v = item_name(resource)))
      json_object_set_new(ref, "name", json_string(v));
    if ((v = item_namespace(resource)))
      json_object_set_new(ref, "namespace", json_string(v));
    json_object_set_new(r, "resourceRef", ref);
  }
  return json_array_append_new(rl->results, r) ? ERR_NOMEM : 0;
}

int fn_result_add_file(fn_rlist *rl, const char *severity, const char *message,
                       const char *file_path, const char *file_index, const char *field) {
  json_t *r = result_new(severity, message, field, file_path, file_index);
  if (!r)
    return ERR_NOMEM;
  return json_array_append_new(rl->results, r) ? ERR_NOMEM : 0;
}

char *fn_go_quote(const char *prefix, const char *value) {
  buf q = BUF_INIT;
  buf_printf(&q, "%s\"", prefix);
  for (const char *v = value; *v; v++) {
    if (*v == '"' || *v == '\\')
      buf_putc(&q, '\\');
    buf_putc(&q, *v);
  }
  buf_putc(&q, '"');
  return buf_detach(&q, NULL);
}

bool fn_results_have_error(const json_t *results) {
  size_t i;
  json_t *r;
  json_array_foreach(results, i, r) {
    if (str_eq(json_string_value(json_object_get(r, "severity")), "error"))
      return true;
  }
  return false;
}

static bool config_is_configmap(const fn_rlist *rl) {
  return rl->config && str_eq(yml_lookup_str(rl->config, "kind", NULL), "ConfigMap");
}

const char *fn_config_get(const fn_rlist *rl, const char *key) {
  if (!rl->config)
    return NULL;
  if (config_is_configmap(rl))
    return yml_lookup_str(rl->config, "data", key, NULL);
  return yml_lookup_str(rl->config, key, NULL);
}

yml_node *fn_config_map(const fn_rlist *rl, const char *field) {
  if (!rl->config)
    return NULL;
  yml_node *m = yml_map_get(rl->config, config_is_configmap(rl) ? "data" : field);
  return m && yml_node_kind(m) == YML_MAP ? m : NULL;
}

/* ---- item helpers ---- */

const char *item_kind(const yml_node *item) { return yml_lookup_str(item, "kind", NULL); }
const char *item_api_version(const yml_node *item) {
  return yml_lookup_str(item, "apiVersion", NULL);
}
const char *item_name(const yml_node *item) {
  return yml_lookup_str(item, "metadata", "name", NULL);
}
const char *item_namespace(const yml_node *item) {
  return yml_lookup_str(item, "metadata", "namespace", NULL);
}

bool item_is_local_config(const yml_node *item) {
  const char *v = yml_lookup_str(item, "metadata", "annotations",
                                 "config.kubernetes.io/local-config", NULL);
  return v && !strcmp(v, "true");
}

bool item_is_kptfile(const yml_node *item) {
  const char *av = item_api_version(item);
  return str_eq(item_kind(item), "Kptfile") && av && str_has_prefix(av, "kpt.dev/");
}

int yml_set_str_if_changed(yml_node *map, const char *key, const char *value) {
  yml_node *cur = yml_map_get(map, key);
  if (cur && yml_node_kind(cur) == YML_SCALAR) {
    size_t n;
    const char *v = yml_scalar_value(cur, &n);
    if (v && n == strlen(value) && !memcmp(v, value, n) && yml_scalar_is_string(cur))
      return 0;
  }
  int rc = yml_map_set_str(map, key, value);
  return rc ? rc : 1;
}

/* ---- dispatcher ---- */

typedef int (*builtin_fn)(fn_rlist *);

static const struct {
  const char *name;
  builtin_fn run;
} table[] = {
    {"set-namespace", builtin_set_namespace},
    {"set-labels", builtin_set_labels},
    {"set-annotations", builtin_set_annotations},
    {"ensure-name-substring", builtin_ensure_name_substring},
    {"set-image", builtin_set_image},
    {"apply-setters", builtin_apply_setters},
    {"search-replace", builtin_search_replace},
    {"apply-replacements", builtin_apply_replacements},
};

int builtin_run(const char *name, fn_rlist *rl) {
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    if (strcmp(table[i].name, name))
      continue;
    error_clear();
    int rc = table[i].run(rl);
    if (rc) {
      char *msg = str_dup(error_message()[0] ? error_message() : error_code_name(rc));
      fn_result_add(rl, "error", msg ? msg : "function failed", NULL, NULL);
      free(msg);
    }
    return rc;
  }
  return error_set(ERR_NOTFOUND, "no built-in function '%s' (built-ins: %s)", name,
                   catalog_names());
}

int builtin_run_text(const char *name, const char *in, size_t in_len, buf *out, bool *failed) {
  fn_rlist rl;
  memset(&rl, 0, sizeof(rl));
  *failed = false;
  if (!catalog_find(name))
    return error_set(ERR_NOTFOUND, "no built-in function '%s' (built-ins: %s)", name,
                     catalog_names());
  int rc = fn_rlist_parse(&rl, in, in_len);
  if (rc)
    return rc;
  int frc = builtin_run(name, &rl);
  *failed = frc != 0 || fn_results_have_error(rl.results);
  rc = fn_rlist_write(&rl, out);
  fn_rlist_free(&rl);
  return rc;
}

/* ---- ensure-name-substring ----
 * As the catalog function: config is a ConfigMap with exactly one entry, `prepend` or
 * `append` -> substring, or an EnsureNameSubstring {substring, editMode}. Every name that
 * does not contain the substring gets it (Namespaces, CRDs, APIServices and Kptfiles are
 * skipped; local config is not), and depends-on annotations naming a renamed object of
 * the input follow. (References from other resources, which the catalog image rewrites
 * with kustomize's name-reference rules, are not followed yet.) */

int builtin_ensure_name_substring(fn_rlist *rl) {
  const char *substring = NULL;
  bool append = false;
  const char *kind = rl->config ? yml_lookup_str(rl->config, "kind", NULL) : NULL;
  if (str_eq(kind, "ConfigMap")) {
    yml_node *data = yml_map_get(rl->config, "data");
    size_t n = data && yml_node_kind(data) == YML_MAP ? yml_node_size(data) : 0;
    if (n != 1)
      return error_set(ERR_INVALID, "only 1 entry is allowed in the ConfigMap, but got: %zu", n);
    const char *k = yml_scalar_value(yml_map_key_at(data, 0), NULL);
    if (!str_eq(k, "prepend") && !str_eq(k, "append"))
      return error_set(ERR_INVALID, "unknown editMode: %s, only prepend and append are allowed",
                       k ? k : "");
    append = str_eq(k, "append");
    substring = yml_scalar_value(yml_map_value_at(data, 0), NULL);
  } else if (str_eq(kind, "EnsureNameSubstring")) {
    substring = yml_lookup_str(rl->config, "substring", NULL);
    append = str_eq(yml_lookup_str(rl->config, "editMode", NULL), "append");
  } else {
    return error_set(ERR_INVALID, "function config must be either ConfigMap or "
                                  "fn.kpt.dev/v1alpha1, Kind=EnsureNameSubstring, but we got: %s",
                     kind ? kind : "nothing");
  }
  if (!substring || !*substring)
    return error_set(ERR_INVALID, "substring must not be empty");
  size_t n = yml_node_size(rl->items);
  /* The names before any change: depends-on may only follow objects of the input. */
  char **names = calloc(n ? n : 1, sizeof(char *));
  if (!names)
    return ERR_NOMEM;
  for (size_t i = 0; i < n; i++)
    names[i] = str_dup(item_name(yml_seq_at(rl->items, i)));
  int rc = 0;
  for (size_t i = 0; i < n && rc >= 0; i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    const char *k = item_kind(item);
    const char *av = item_api_version(item);
    if (item_is_kptfile(item) || str_eq(k, "Namespace") || str_eq(k, "CustomResourceDefinition") ||
        (str_eq(k, "APIService") && av && str_has_prefix(av, "apiregistration.k8s.io/")))
      continue;
    const char *name = item_name(item);
    if (!name || strstr(name, substring))
      continue;
    char *nn = append ? str_printf("%s%s", name, substring) : str_printf("%s%s", substring, name);
    rc = nn ? yml_set_str_if_changed(yml_map_get(item, "metadata"), "name", nn) : ERR_NOMEM;
    free(nn);
    if (rc < 0)
      break;
    /* depends-on: group/namespaces/ns/Kind/name or group/Kind/name of an input object */
    const char *dep = yml_lookup_str(item, "metadata", "annotations", "config.kubernetes.io/depends-on", NULL);
    if (!dep)
      continue;
    int slashes = 0;
    for (const char *p = dep; *p; p++)
      slashes += *p == '/';
    const char *last = strrchr(dep, '/');
    if ((slashes != 4 && slashes != 2) || !last || !last[1])
      continue;
    const char *dep_name = last + 1;
    bool known = false;
    for (size_t j = 0; j < n && !known; j++)
      known = str_eq(names[j], dep_name);
    if (!known)
      continue;
    char *nd = append ? str_printf("%s%s", dep, substring)
                      : str_printf("%.*s%s%s", (int)(dep_name - dep), dep, substring, dep_name);
    rc = nd ? yml_map_set_str(yml_lookup(item, "metadata", "annotations", NULL),
                              "config.kubernetes.io/depends-on", nd)
            : ERR_NOMEM;
    free(nd);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc < 0 ? rc : 0;
}

/* ---- set-image ----
 * As the catalog function: the `containers` of Pods (spec) and of Deployments,
 * StatefulSets, ReplicaSets, DaemonSets and PodTemplates (spec.template.spec) whose image
 * name is `name` get the new name, tag or digest; one summary result. (The catalog
 * function does not reach initContainers; neither does this one, to stay identical.) */

/* Splits "name[:tag][@digest]" into its three parts (tag with ':', digest with '@'). */
static void image_split(const char *image, size_t *name_len, size_t *tag_len) {
  const char *at = strchr(image, '@');
  size_t before = at ? (size_t)(at - image) : strlen(image);
  const char *slash = memrchr(image, '/', before);
  const char *from = slash ? slash : image;
  const char *colon = memchr(from, ':', before - (size_t)(from - image));
  *name_len = colon ? (size_t)(colon - image) : before;
  *tag_len = before - *name_len;
}

typedef struct image_spec {
  const char *name, *new_name, *new_tag, *digest;
  int changed;
} image_spec;

static int set_images_in(yml_node *podspec, image_spec *spec) {
  yml_node *ctrs = podspec && yml_node_kind(podspec) == YML_MAP ? yml_map_get(podspec, "containers") : NULL;
  for (size_t c = 0; ctrs && yml_node_kind(ctrs) == YML_SEQ && c < yml_node_size(ctrs); c++) {
    yml_node *ctr = yml_seq_at(ctrs, c);
    const char *image = yml_node_kind(ctr) == YML_MAP ? yml_lookup_str(ctr, "image", NULL) : NULL;
    if (!image)
      continue;
    size_t nl, tl;
    image_split(image, &nl, &tl);
    if (strlen(spec->name) != nl || strncmp(image, spec->name, nl))
      continue;
    buf nv = BUF_INIT;
    buf_puts(&nv, spec->new_name ? spec->new_name : "");
    if (!spec->new_name)
      buf_append(&nv, image, nl);
    if (spec->digest)
      buf_printf(&nv, "@%s", spec->digest);
    else if (spec->new_tag)
      buf_printf(&nv, ":%s", spec->new_tag);
    else
      buf_puts(&nv, tl ? "" : image + nl + tl); /* no tag: keep the digest */
    if (!spec->digest && !spec->new_tag && tl)
      buf_append(&nv, image + nl, tl);
    int rc = yml_set_str_if_changed(ctr, "image", buf_cstr(&nv));
    buf_free(&nv);
    if (rc < 0)
      return rc;
    spec->changed += rc;
  }
  return 0;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

int builtin_set_image(fn_rlist *rl) {
  image_spec spec = {0};
  yml_node *typed = rl->config ? yml_map_get(rl->config, "image") : NULL;
  yml_node *data = rl->config ? yml_map_get(rl->config, "data") : NULL;
  if (typed && yml_node_kind(typed) == YML_MAP) {
    spec.name = yml_lookup_str(typed, "name", NULL);
    spec.new_name = yml_lookup_str(typed, "newName", NULL);
    spec.new_tag = yml_lookup_str(typed, "newTag", NULL);
    spec.digest = yml_lookup_str(typed, "digest", NULL);
  }
  for (size_t i = 0; data && yml_node_kind(data) == YML_MAP && i < yml_node_size(data); i++) {
    const char *k = yml_scalar_value(yml_map_key_at(data, i), NULL);
    const char *v = yml_scalar_value(yml_map_value_at(data, i), NULL);
    if (str_eq(k, "name"))
      spec.name = v;
    else if (str_eq(k, "newName"))
      spec.new_name = v;
    else if (str_eq(k, "newTag"))
      spec.new_tag = v;
    else if (str_eq(k, "digest"))
      spec.digest = v;
    else
      return error_set(ERR_INVALID, "ConfigMap has wrong field name %s", k ? k : "");
  }
  spec.name = nonempty(spec.name);
  spec.new_name = nonempty(spec.new_name);
  spec.new_tag = nonempty(spec.new_tag);
  spec.digest = nonempty(spec.digest);
  if (!spec.name)
    return error_set(ERR_INVALID, "must specify `name`");
  if (!spec.new_name && !spec.new_tag && !spec.digest)
    return error_set(ERR_INVALID, "must specify one of `newName`, `newTag`, or `digest`");
  static const char *const template_kinds[] = {"Deployment", "StatefulSet", "ReplicaSet",
                                               "DaemonSet", "PodTemplate"};
  for (size_t i = 0; i < yml_node_size(rl->items); i++) {
    yml_node *item = yml_seq_at(rl->items, i);
    const char *kind = item_kind(item);
    int rc = 0;
    if (str_eq(kind, "Pod")) {
      rc = set_images_in(yml_map_get(item, "spec"), &spec);
    } else {
      for (size_t k = 0; k < 5; k++)
        if (str_eq(kind, template_kinds[k]))
          rc = set_images_in(yml_lookup(item, "spec", "template", "spec", NULL), &spec);
    }
    if (rc < 0)
      return rc;
  }
  char *msg = str_printf("summary: updated a total of %d image(s)", spec.changed);
  int rc = msg ? fn_result_add(rl, "info", msg, NULL, NULL) : ERR_NOMEM;
  free(msg);
  return rc;
}
