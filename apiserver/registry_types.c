/*
 * registry_types: the resource types the registry serves: the built-in kinds (with the
 * schemas used to prune and validate them) and one type per served version of every
 * established CustomResourceDefinition. Rebuilt whenever a CRD is written or removed.
 */
#include "apiserver/registry_internal.h"

#include "base/error.h"
#include "base/jpath.h"
#include "base/str.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define META "\"apiVersion\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\"},\"metadata\":{\"type\":\"object\"}"
#define STR "{\"type\":\"string\"}"
#define INT "{\"type\":\"integer\"}"
#define ANYOBJ "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}"

static const char namespace_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"spec\":{\"type\":\"object\",\"properties\":{"
    "\"finalizers\":{\"type\":\"array\",\"items\":" STR "}}},\"status\":{\"type\":\"object\","
    "\"properties\":{\"phase\":" STR ",\"conditions\":{\"type\":\"array\",\"items\":" ANYOBJ "}}}}}";
static const char configmap_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"data\":{\"type\":\"object\","
    "\"additionalProperties\":" STR "},\"binaryData\":{\"type\":\"object\","
    "\"additionalProperties\":{\"type\":\"string\",\"format\":\"byte\"}},\"immutable\":{\"type\":"
    "\"boolean\"}}}";
static const char secret_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"data\":{\"type\":\"object\","
    "\"additionalProperties\":{\"type\":\"string\",\"format\":\"byte\"}},\"stringData\":{\"type\":"
    "\"object\",\"additionalProperties\":" STR "},\"type\":" STR ",\"immutable\":{\"type\":"
    "\"boolean\"}}}";
static const char lease_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"spec\":{\"type\":\"object\",\"properties\":{"
    "\"holderIdentity\":" STR ",\"leaseDurationSeconds\":" INT ",\"acquireTime\":" STR
    ",\"renewTime\":" STR ",\"leaseTransitions\":" INT ",\"strategy\":" STR
    ",\"preferredHolder\":" STR "}}}}";
static const char event_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"involvedObject\":{\"type\":\"object\","
    "\"properties\":{\"kind\":" STR ",\"namespace\":" STR ",\"name\":" STR ",\"uid\":" STR
    ",\"apiVersion\":" STR ",\"resourceVersion\":" STR ",\"fieldPath\":" STR "}},\"reason\":" STR
    ",\"message\":" STR ",\"source\":{\"type\":\"object\",\"properties\":{\"component\":" STR
    ",\"host\":" STR "}},\"firstTimestamp\":" STR ",\"lastTimestamp\":" STR ",\"count\":" INT
    ",\"type\":" STR ",\"eventTime\":{\"type\":\"string\",\"nullable\":true},\"series\":" ANYOBJ
    ",\"action\":" STR ",\"related\":" ANYOBJ ",\"reportingComponent\":" STR
    ",\"reportingInstance\":" STR "}}";
static const char events_v1_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"eventTime\":{\"type\":\"string\","
    "\"nullable\":true},\"series\":" ANYOBJ ",\"reportingController\":" STR
    ",\"reportingInstance\":" STR ",\"action\":" STR ",\"reason\":" STR ",\"regarding\":"
    ANYOBJ ",\"related\":" ANYOBJ ",\"note\":" STR ",\"type\":" STR
    ",\"deprecatedSource\":" ANYOBJ ",\"deprecatedFirstTimestamp\":" STR
    ",\"deprecatedLastTimestamp\":" STR ",\"deprecatedCount\":" INT "}}";
/* Service is stored only (no IP allocation, no endpoints): it is there so that the "all"
 * category exists (`kubectl get all`) and `kubectl cluster-info` finds no cluster services,
 * as on a real cluster. */
static const char service_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"spec\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true,\"properties\":{\"type\":" STR
    ",\"clusterIP\":" STR ",\"sessionAffinity\":" STR ",\"selector\":{\"type\":\"object\","
    "\"additionalProperties\":" STR "},\"ports\":{\"type\":\"array\","
    "\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"port\",\"protocol\"],"
    "\"x-kubernetes-patch-merge-key\":\"port\",\"x-kubernetes-patch-strategy\":\"merge\","
    "\"items\":{\"type\":\"object\",\"properties\":{\"name\":" STR ",\"protocol\":" STR
    ",\"port\":" INT ",\"nodePort\":" INT ",\"appProtocol\":" STR ",\"targetPort\":"
    "{\"x-kubernetes-int-or-string\":true}}}}}},\"status\":" ANYOBJ "}}";
static const char crd_schema[] =
    "{\"type\":\"object\",\"properties\":{" META ",\"spec\":" ANYOBJ ",\"status\":" ANYOBJ "}}";

typedef struct builtin {
  const char *group, *version, *kind, *plural, *singular;
  bool namespaced, has_status;
  const char *short_names; /* comma-separated */
  const char *schema;
  const char *categories; /* comma-separated */
} builtin;

static const builtin builtins[] = {
    {"", "v1", "Namespace", "namespaces", "namespace", false, true, "ns", namespace_schema},
    {"", "v1", "ConfigMap", "configmaps", "configmap", true, false, "cm", configmap_schema},
    {"", "v1", "Secret", "secrets", "secret", true, false, NULL, secret_schema},
    {"", "v1", "Event", "events", "event", true, false, "ev", event_schema},
    {"", "v1", "Service", "services", "service", true, true, "svc", service_schema, "all"},
    {"coordination.k8s.io", "v1", "Lease", "leases", "lease", true, false, NULL, lease_schema},
    {"events.k8s.io", "v1", "Event", "events", "event", true, false, NULL, events_v1_schema},
    {"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
     "customresourcedefinition", false, true, "crd,crds", crd_schema},
};

static char **split_names(const char *csv) {
  if (!csv)
    return NULL;
  size_t n = 1;
  for (const char *p = csv; *p; p++)
    n += *p == ',';
  char **out = calloc(n + 1, sizeof(char *));
  const char *start = csv;
  size_t i = 0;
  for (const char *p = csv;; p++) {
    if (*p == ',' || !*p) {
      out[i++] = str_ndup(start, (size_t)(p - start));
      if (!*p)
        break;
      start = p + 1;
    }
  }
  return out;
}

static char **json_names(const json_t *arr) {
  if (!json_is_array(arr) || !json_array_size(arr))
    return NULL;
  char **out = calloc(json_array_size(arr) + 1, sizeof(char *));
  size_t i, o = 0;
  json_t *v;
  json_array_foreach(arr, i, v) {
    if (json_is_string(v)) out[o++] = str_dup(json_string_value(v));
  }
  return out;
}

static void free_names(char **names) {
  for (size_t i = 0; names && names[i]; i++)
    free(names[i]);
  free(names);
}

static void type_free(type_info *ti) {
  api_resource_type *t = &ti->t;
  free(t->group);
  free(t->version);
  free(t->kind);
  free(t->list_kind);
  free(t->plural);
  free(t->singular);
  free_names(t->short_names);
  free_names(t->categories);
  json_decref(t->schema);
  json_decref(t->printer_columns);
  free(ti->resource);
  free(ti->storage_version);
}

void registry_types_free(registry *r) {
  for (size_t i = 0; i < r->type_count; i++)
    type_free(&r->infos[i]);
  free(r->infos);
  free(r->types);
  r->infos = NULL;
  r->types = NULL;
  r->type_count = 0;
}

static char *resource_name(const char *plural, const char *group) {
  return *group ? str_printf("%s.%s", plural, group) : str_dup(plural);
}

/* Appends the served versions of one CRD object. */
static void add_crd_types(type_info *out, size_t *n, size_t cap, const json_t *crd) {
  const json_t *spec = json_object_get(crd, "spec");
  const char *group = jpath_str(spec, "group");
  const char *kind = jpath_str(spec, "names.kind");
  const char *plural = jpath_str(spec, "names.plural");
  if (!group || !kind || !plural)
    return;
  const char *singular = jpath_str(spec, "names.singular");
  const char *list_kind = jpath_str(spec, "names.listKind");
  bool namespaced = str_eq(jpath_str(spec, "scope"), "Namespaced");
  const char *storage = NULL;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(spec, "versions"), i, v) if (json_is_true(json_object_get(v, "storage")))
      storage = json_string_value(json_object_get(v, "name"));
  json_array_foreach(json_object_get(spec, "versions"), i, v) {
    const char *name = json_string_value(json_object_get(v, "name"));
    if (!name || !json_is_true(json_object_get(v, "served")) || *n >= cap)
      continue;
    type_info *ti = &out[(*n)++];
    memset(ti, 0, sizeof(*ti));
    ti->t.group = str_dup(group);
    ti->t.version = str_dup(name);
    ti->t.kind = str_dup(kind);
    ti->t.list_kind = list_kind ? str_dup(list_kind) : str_printf("%sList", kind);
    ti->t.plural = str_dup(plural);
    if (singular) {
      ti->t.singular = str_dup(singular);
    } else {
      ti->t.singular = str_dup(kind);
      for (char *p = ti->t.singular; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    }
    ti->t.namespaced = namespaced;
    ti->t.has_status = json_object_get(jpath_get(v, "subresources"), "status") != NULL;
    ti->t.storage_version = str_eq(name, storage);
    ti->t.short_names = json_names(jpath_get(spec, "names.shortNames"));
    ti->t.categories = json_names(jpath_get(spec, "names.categories"));
    json_t *schema = jpath_get(v, "schema.openAPIV3Schema");
    ti->t.schema = schema ? json_deep_copy(schema) : NULL;
    json_t *cols = json_object_get(v, "additionalPrinterColumns");
    ti->t.printer_columns = cols ? json_deep_copy(cols) : NULL;
    ti->resource = resource_name(plural, group);
    ti->storage_version = str_dup(storage ? storage : name);
    ti->generation = true;
    ti->is_crd_served = true;
  }
}

int registry_types_rebuild(registry *r) {
  collection *crds = registry_collection(r, "customresourcedefinitions.apiextensions.k8s.io", true);
  size_t nb = sizeof(builtins) / sizeof(builtins[0]);
  size_t cap = nb;
  json_t **parsed = calloc(crds->count + 1, sizeof(json_t *));
  if (!parsed)
    return error_set(ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < crds->count; i++) {
    parsed[i] = json_loads(crds->items[i]->json, 0, NULL);
    cap += json_array_size(jpath_get(parsed[i], "spec.versions"));
  }
  type_info *infos = calloc(cap, sizeof(*infos));
  api_resource_type *types = calloc(cap, sizeof(*types));
  if (!infos || !types) {
    free(infos);
    free(types);
    for (size_t i = 0; i < crds->count; i++)
      json_decref(parsed[i]);
    free(parsed);
    return error_set(ERR_NOMEM, "out of memory");
  }
  size_t n = 0;
  for (size_t i = 0; i < nb; i++) {
    const builtin *b = &builtins[i];
    type_info *ti = &infos[n++];
    ti->t.group = str_dup(b->group);
    ti->t.version = str_dup(b->version);
    ti->t.kind = str_dup(b->kind);
    ti->t.list_kind = str_printf("%sList", b->kind);
    ti->t.plural = str_dup(b->plural);
    ti->t.singular = str_dup(b->singular);
    ti->t.namespaced = b->namespaced;
    ti->t.has_status = b->has_status;
    ti->t.storage_version = true;
    ti->t.short_names = split_names(b->short_names);
    ti->t.categories = split_names(b->categories);
    ti->t.schema = json_loads(b->schema, 0, NULL);
    ti->resource = resource_name(b->plural, b->group);
    ti->storage_version = str_dup(b->version);
    ti->builtin = true;
    ti->generation = !strcmp(b->kind, "CustomResourceDefinition");
  }
  for (size_t i = 0; i < crds->count; i++) {
    /* a CRD being deleted stops being served once its objects are gone; ours go at once */
    if (!jpath_get(parsed[i], "metadata.deletionTimestamp"))
      add_crd_types(infos, &n, cap, parsed[i]);
    json_decref(parsed[i]);
  }
  free(parsed);
  registry_types_free(r);
  for (size_t i = 0; i < n; i++)
    types[i] = infos[i].t;
  r->infos = infos;
  r->types = types;
  r->type_count = n;
  return 0;
}

const type_info *registry_find_type(const registry *r, const char *group, const char *version,
                                    const char *plural) {
  for (size_t i = 0; i < r->type_count; i++) {
    const api_resource_type *t = &r->infos[i].t;
    if (!strcmp(t->group, group) && !strcmp(t->version, version) && !strcmp(t->plural, plural))
      return &r->infos[i];
  }
  return NULL;
}

const type_info *registry_find_type_by_resource(const registry *r, const char *resource) {
  const type_info *any = NULL;
  for (size_t i = 0; i < r->type_count; i++)
    if (!strcmp(r->infos[i].resource, resource)) {
      if (r->infos[i].t.storage_version)
        return &r->infos[i];
      any = &r->infos[i];
    }
  return any;
}

/* --- CRD status and checks ------------------------------------------------------------ */

static json_t *condition(const char *type, const char *reason, const char *message,
                         const json_t *old_conditions, const char *now) {
  const char *ltt = now;
  size_t i;
  json_t *c;
  json_array_foreach(old_conditions, i, c) {
    if (str_eq(jpath_str(c, "type"), type) && str_eq(jpath_str(c, "status"), "True") &&
        jpath_str(c, "lastTransitionTime"))
      ltt = jpath_str(c, "lastTransitionTime");
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "status", "True",
                   "lastTransitionTime", ltt, "reason", reason, "message", message);
}

void registry_crd_set_status(json_t *crd, const json_t *old) {
  char *now = registry_now_rfc3339();
  const json_t *old_conds = jpath_get(old, "status.conditions");
  json_t *names = json_deep_copy(jpath_get(crd, "spec.names"));
  if (!names)
    names = json_object();
  if (!json_object_get(names, "singular") && jpath_str(names, "kind")) {
    char *s = str_dup(jpath_str(names, "kind"));
    for (char *p = s; p && *p; p++)
      *p = (char)tolower((unsigned char)*p);
    json_object_set_new(names, "singular", json_string(s ? s : ""));
    free(s);
  }
  if (!json_object_get(names, "listKind") && jpath_str(names, "kind")) {
    char *lk = str_printf("%sList", jpath_str(names, "kind"));
    json_object_set_new(names, "listKind", json_string(lk ? lk : ""));
    free(lk);
  }
  json_t *stored = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(jpath_get(old, "status.storedVersions"), i, v) {
    json_array_append(stored, v);
  }
  json_array_foreach(jpath_get(crd, "spec.versions"), i, v) {
    if (!json_is_true(json_object_get(v, "storage")))
      continue;
    json_t *name = json_object_get(v, "name");
    bool have = false;
    size_t j;
    json_t *s;
    json_array_foreach(stored, j, s) {
      have = have || json_equal(s, name);
    }
    if (!have && name)
      json_array_append(stored, name);
  }
  json_t *conds = json_array();
  json_array_append_new(conds, condition("NamesAccepted", "NoConflicts", "no conflicts found",
                                         old_conds, now));
  json_array_append_new(conds, condition("Established", "InitialNamesAccepted",
                                         "the initial names have been accepted", old_conds, now));
  json_t *status = json_pack("{s:o, s:o, s:o}", "conditions", conds, "acceptedNames", names,
                             "storedVersions", stored);
  json_object_set_new(crd, "status", status);
  free(now);
}

void registry_crd_validate(const json_t *crd, validate_errors *errs) {
  const json_t *spec = json_object_get(crd, "spec");
  const char *group = jpath_str(spec, "group");
  const char *plural = jpath_str(spec, "names.plural");
  const char *kind = jpath_str(spec, "names.kind");
  const char *scope = jpath_str(spec, "scope");
  if (!group || !*group)
    validate_errors_add(errs, FIELD_REQUIRED, "spec.group", NULL, "%s", "");
  else if (!strchr(group, '.'))
    validate_errors_add(errs, FIELD_INVALID, "spec.group", json_object_get(spec, "group"),
                        "should be a domain with at least one dot");
  if (!plural || !*plural)
    validate_errors_add(errs, FIELD_REQUIRED, "spec.names.plural", NULL, "%s", "");
  else if (validate_dns1123_label(plural))
    validate_errors_add(errs, FIELD_INVALID, "spec.names.plural", jpath_get(spec, "names.plural"),
                        "%s", validate_dns1123_label(plural));
  if (!kind || !*kind)
    validate_errors_add(errs, FIELD_REQUIRED, "spec.names.kind", NULL, "%s", "");
  if (!scope)
    validate_errors_add(errs, FIELD_REQUIRED, "spec.scope", NULL, "%s", "");
  else if (strcmp(scope, "Namespaced") && strcmp(scope, "Cluster"))
    validate_errors_add(errs, FIELD_NOT_SUPPORTED, "spec.scope", json_object_get(spec, "scope"),
                        "supported values: \"Cluster\", \"Namespaced\"");
  const json_t *versions = json_object_get(spec, "versions");
  if (!json_is_array(versions) || !json_array_size(versions)) {
    validate_errors_add(errs, FIELD_INVALID, "spec.versions", versions,
                        "must have exactly one version marked as storage version");
  } else {
    size_t storage = 0, i;
    json_t *v;
    json_array_foreach(versions, i, v) {
      storage += json_is_true(json_object_get(v, "storage"));
      /* apiextensions.k8s.io/v1 requires a schema on every version */
      if (!json_is_object(jpath_get(v, "schema.openAPIV3Schema"))) {
        char *path = str_printf("spec.versions[%zu].schema.openAPIV3Schema", i);
        validate_errors_add(errs, FIELD_REQUIRED, path ? path : "spec.versions", NULL, "%s",
                            "schemas are required");
        free(path);
      }
    }
    if (storage != 1)
      validate_errors_add(errs, FIELD_INVALID, "spec.versions", NULL,
                          "must have exactly one version marked as storage version");
  }
  const char *name = jpath_str(crd, "metadata.name");
  if (name && group && plural) {
    char *want = str_printf("%s.%s", plural, group);
    if (want && strcmp(want, name))
      validate_errors_add(errs, FIELD_INVALID, "metadata.name", jpath_get(crd, "metadata.name"),
                          "must be spec.names.plural+\".\"+spec.group");
    free(want);
  }
}
