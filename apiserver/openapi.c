/*
 * openapi: see openapi.h. One builder makes the paths and definitions of a set of types;
 * `v3` picks the OpenAPI 3.0 shapes (components.schemas, requestBody, allOf-wrapped refs)
 * or Swagger 2.0 ones (definitions, body parameters, plain refs). Documents are rebuilt
 * on each request: they are small and must follow CRD changes immediately.
 */
#include "apiserver/openapi.h"

#include "apiserver/discovery.h"
#include "base/error.h"
#include "base/str.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define OPENAPI_V2_PROTOBUF "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

char *openapi_definition_name(const char *group, const char *version, const char *kind) {
  if (!group[0])
    return str_printf("io.k8s.api.core.%s.%s", version, kind);
  if (!strcmp(group, "apiextensions.k8s.io"))
    return str_printf("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.%s.%s", version, kind);
  if (str_has_suffix(group, ".k8s.io")) {
    size_t first = strcspn(group, ".");
    return str_printf("io.k8s.api.%.*s.%s.%s", (int)first, group, version, kind);
  }
  /* reversed DNS labels: portico.dev -> dev.portico */
  buf b = BUF_INIT;
  size_t end = strlen(group);
  while (end > 0) {
    size_t start = end;
    while (start > 0 && group[start - 1] != '.')
      start--;
    if (b.len)
      buf_putc(&b, '.');
    buf_append(&b, group + start, end - start);
    end = start > 0 ? start - 1 : 0;
  }
  buf_printf(&b, ".%s.%s", version, kind);
  char *out = buf_detach(&b, NULL);
  buf_free(&b);
  if (!out)
    error_set(ERR_NOMEM, "out of memory");
  return out;
}

/* --- shared definitions ------------------------------------------------------------------ */

static json_t *ref_to(bool v3, const char *name) {
  char *r = str_printf("%s%s", v3 ? "#/components/schemas/" : "#/definitions/", name);
  json_t *j = json_pack("{s:s}", "$ref", r ? r : "");
  free(r);
  return j;
}

/* A property that refers to a definition: kube wraps it in allOf in v3. */
static json_t *ref_property(bool v3, const char *name) {
  return v3 ? json_pack("{s:[o]}", "allOf", ref_to(v3, name)) : ref_to(v3, name);
}

static json_t *string_map_schema(void) {
  return json_pack("{s:s, s:{s:s, s:s}}", "type", "object", "additionalProperties", "type",
                   "string", "default", "");
}

static json_t *object_meta_schema(void) {
  return json_pack(
      "{s:s, s:s, s:{s:o, s:o, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s},"
      " s:{s:s, s:s}, s:{s:s, s:s}, s:o, s:{s:s, s:{s:s}}, s:{s:s, s:{s:s}, s:s}}}",
      "description", "ObjectMeta is metadata that all persisted resources must have.", "type",
      "object", "properties", "annotations", string_map_schema(), "labels", string_map_schema(),
      "name", "type", "string", "namespace", "type", "string", "generateName", "type", "string",
      "resourceVersion", "type", "string", "format", "", "uid", "type", "string", "format", "",
      "creationTimestamp", "type", "string", "format", "date-time", "deletionTimestamp", "type",
      "string", "format", "date-time", "generation", "type", "integer", "format", "int64",
      "deletionGracePeriodSeconds", json_pack("{s:s, s:s}", "type", "integer", "format", "int64"),
      "ownerReferences", "type", "array", "items", "type", "object", "finalizers", "type", "array",
      "items", "type", "string", "x-kubernetes-list-type", "set");
}

static json_t *list_meta_schema(void) {
  return json_pack("{s:s, s:{s:{s:s}, s:{s:s, s:s}, s:{s:s}}}", "type", "object", "properties",
                   "continue", "type", "string", "remainingItemCount", "type", "integer", "format",
                   "int64", "resourceVersion", "type", "string");
}

static json_t *status_schema(void) {
  return json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s}, s:{s:s}},"
                   " s:[{s:s, s:s, s:s}]}",
                   "type", "object", "properties", "apiVersion", "type", "string", "kind", "type",
                   "string", "status", "type", "string", "message", "type", "string", "code",
                   "type", "integer", "format", "int32", "reason", "type", "string", "details",
                   "type", "object", "x-kubernetes-group-version-kind", "group", "", "version",
                   "v1", "kind", "Status");
}

static json_t *gvk(const char *group, const char *version, const char *kind) {
  return json_pack("{s:s, s:s, s:s}", "group", group, "version", version, "kind", kind);
}

/* The object schema of a type: its own schema (deep copy) or a permissive one, with
 * apiVersion, kind and metadata set the way kube-apiserver publishes them. */
static json_t *object_schema(const api_resource_type *t, bool v3) {
  json_t *s = t->schema && json_is_object(t->schema) ? json_deep_copy(t->schema) : NULL;
  if (!s)
    s = json_pack("{s:s, s:b}", "type", "object", "x-kubernetes-preserve-unknown-fields", 1);
  if (!s)
    return NULL;
  if (!json_object_get(s, "type"))
    json_object_set_new(s, "type", json_string("object"));
  json_t *props = json_object_get(s, "properties");
  if (!json_is_object(props)) {
    props = json_object();
    json_object_set_new(s, "properties", props);
  }
  json_object_set_new(props, "apiVersion", json_pack("{s:s}", "type", "string"));
  json_object_set_new(props, "kind", json_pack("{s:s}", "type", "string"));
  json_object_set_new(props, "metadata", ref_property(v3, META "ObjectMeta"));
  json_object_set_new(s, "x-kubernetes-group-version-kind",
                      json_pack("[o]", gvk(t->group, t->version, t->kind)));
  return s;
}

static json_t *list_schema(const api_resource_type *t, bool v3, const char *item_name) {
  const char *list_kind = t->list_kind ? t->list_kind : "";
  return json_pack("{s:s, s:[s], s:{s:{s:s}, s:{s:s, s:o}, s:{s:s}, s:o}, s:[o]}", "type", "object",
                   "required", "items", "properties", "apiVersion", "type", "string", "items",
                   "type", "array", "items", ref_to(v3, item_name), "kind", "type", "string",
                   "metadata", ref_property(v3, META "ListMeta"), "x-kubernetes-group-version-kind",
                   gvk(t->group, t->version, list_kind));
}

/* --- operations ---------------------------------------------------------------------------- */

static json_t *query_param(bool v3, const char *name, const char *type, const char *description) {
  json_t *p = json_pack("{s:s, s:s, s:s}", "name", name, "in", "query", "description", description);
  if (!p)
    return NULL;
  if (v3)
    json_object_set_new(p, "schema", json_pack("{s:s, s:b}", "type", type, "uniqueItems", 1));
  else {
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "uniqueItems", json_true());
  }
  return p;
}

static json_t *path_param(bool v3, const char *name, const char *description) {
  json_t *p = json_pack("{s:s, s:s, s:s, s:b}", "name", name, "in", "path", "description",
                        description, "required", 1);
  if (p && v3)
    json_object_set_new(p, "schema", json_pack("{s:s, s:b}", "type", "string", "uniqueItems", 1));
  else if (p) {
    json_object_set_new(p, "type", json_string("string"));
    json_object_set_new(p, "uniqueItems", json_true());
  }
  return p;
}

static void add_write_params(json_t *params, bool v3, bool is_patch) {
  json_array_append_new(
      params, query_param(v3, "dryRun", "string",
                          "When present, indicates that modifications should not be persisted."));
  json_array_append_new(params, query_param(v3, "fieldManager", "string",
                                            "fieldManager is a name associated with the actor or "
                                            "entity that is making these changes."));
  json_array_append_new(
      params,
      query_param(v3, "fieldValidation", "string",
                  "fieldValidation instructs the server on how to handle objects in the request "
                  "containing unknown or duplicate fields: Ignore, Warn or Strict."));
  if (is_patch)
    json_array_append_new(
        params, query_param(v3, "force", "boolean", "Force is going to \"force\" Apply requests."));
}

static void add_list_params(json_t *params, bool v3) {
  static const char *const names[][2] = {{"allowWatchBookmarks", "boolean"},
                                         {"continue", "string"},
                                         {"fieldSelector", "string"},
                                         {"labelSelector", "string"},
                                         {"limit", "integer"},
                                         {"resourceVersion", "string"},
                                         {"resourceVersionMatch", "string"},
                                         {"timeoutSeconds", "integer"},
                                         {"watch", "boolean"}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    json_array_append_new(params, query_param(v3, names[i][0], names[i][1], names[i][0]));
}

static const char *const patch_types[] = {
    "application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json",
    "application/strategic-merge-patch+json"};

/* Custom resources do not take strategic merge patches (kube-apiserver answers 415), and
 * kubectl picks its patch type from this list: built-in groups ("" and *.k8s.io) get all
 * four types, every other group the first three. apiextensions.k8s.io is left out too:
 * kubectl would compute a strategic patch from the CRD schema served here, which is not
 * the full recursive JSONSchemaProps, and warn; a merge patch gives the same result. */
static size_t patch_type_count(const api_resource_type *t) {
  size_t n = strlen(t->group);
  bool builtin = n == 0 || (n >= 7 && !strcmp(t->group + n - 7, ".k8s.io") &&
                            strcmp(t->group, "apiextensions.k8s.io"));
  return builtin ? 4 : 3;
}

/* One operation. action: get, list, post, put, patch, delete, deletecollection. */
static json_t *operation(bool v3, const api_resource_type *t, const char *action, const char *op_id,
                         const char *body_def, const char *response_def) {
  json_t *params = json_array();
  bool is_patch = !strcmp(action, "patch");
  if (!strcmp(action, "post") || !strcmp(action, "put") || is_patch)
    add_write_params(params, v3, is_patch);
  if (!strcmp(action, "list") || !strcmp(action, "deletecollection"))
    add_list_params(params, v3);
  if (!strcmp(action, "delete") || !strcmp(action, "deletecollection")) {
    json_array_append_new(params, query_param(v3, "dryRun", "string", "dryRun"));
    json_array_append_new(params,
                          query_param(v3, "gracePeriodSeconds", "integer", "gracePeriodSeconds"));
    json_array_append_new(params,
                          query_param(v3, "propagationPolicy", "string", "propagationPolicy"));
  }
  json_t *response = json_pack("{s:s}", "description", "OK");
  if (v3) {
    json_t *content = json_object();
    json_object_set_new(content, "application/json",
                        json_pack("{s:o}", "schema", ref_to(v3, response_def)));
    json_object_set_new(content, "application/yaml",
                        json_pack("{s:o}", "schema", ref_to(v3, response_def)));
    json_object_set_new(response, "content", content);
  } else {
    json_object_set_new(response, "schema", ref_to(v3, response_def));
  }
  json_t *op = json_pack("{s:s, s:s, s:o, s:{s:o, s:{s:s}}, s:s, s:o}", "description", op_id,
                         "operationId", op_id, "parameters", params, "responses", "200", response,
                         "401", "description", "Unauthorized", "x-kubernetes-action", action,
                         "x-kubernetes-group-version-kind", gvk(t->group, t->version, t->kind));
  if (!op || !body_def)
    return op;
  if (v3) {
    json_t *content = json_object();
    if (is_patch) {
      for (size_t i = 0; i < patch_type_count(t); i++)
        json_object_set_new(content, patch_types[i],
                            json_pack("{s:o}", "schema", ref_to(v3, META "Patch")));
    } else {
      json_object_set_new(content, "*/*", json_pack("{s:o}", "schema", ref_to(v3, body_def)));
    }
    json_object_set_new(op, "requestBody",
                        json_pack("{s:o, s:b}", "content", content, "required", 1));
  } else {
    json_array_insert_new(params, 0,
                          json_pack("{s:s, s:s, s:b, s:o}", "name", "body", "in", "body",
                                    "required", 1, "schema",
                                    ref_to(v3, is_patch ? META "Patch" : body_def)));
    if (is_patch) {
      json_t *consumes = json_array();
      for (size_t i = 0; i < patch_type_count(t); i++)
        json_array_append_new(consumes, json_string(patch_types[i]));
      json_object_set_new(op, "consumes", consumes);
    }
  }
  return op;
}

static char *op_name(const char *verb, const api_resource_type *t, const char *suffix) {
  return str_printf("%s%s%s%s", verb, t->namespaced ? "Namespaced" : "", t->kind, suffix);
}

static json_t *path_item(json_t *params) {
  return json_pack("{s:o}", "parameters", params);
}

/* Adds the paths of one type to `paths`. */
static void add_type_paths(json_t *paths, bool v3, const api_resource_type *t, const char *def,
                           const char *list_def) {
  char *prefix = t->group[0] ? str_printf("/apis/%s/%s", t->group, t->version)
                             : str_printf("/api/%s", t->version);
  char *coll = t->namespaced ? str_printf("%s/namespaces/{namespace}/%s", prefix, t->plural)
                             : str_printf("%s/%s", prefix, t->plural);
  char *item = str_printf("%s/{name}", coll);
  char *status = str_printf("%s/status", item);
  char *all = str_printf("%s/%s", prefix, t->plural);
  char *n_list = op_name("list", t, ""), *n_create = op_name("create", t, ""),
       *n_delcoll = op_name("deletecollection", t, ""), *n_read = op_name("read", t, ""),
       *n_replace = op_name("replace", t, ""), *n_patch = op_name("patch", t, ""),
       *n_delete = op_name("delete", t, ""), *n_rs = op_name("read", t, "Status"),
       *n_ps = op_name("patch", t, "Status"), *n_us = op_name("replace", t, "Status"),
       *n_all = str_printf("list%sForAllNamespaces", t->kind);
  if (!prefix || !coll || !item || !status || !all || !n_list || !n_create || !n_delcoll ||
      !n_read || !n_replace || !n_patch || !n_delete || !n_rs || !n_ps || !n_us || !n_all)
    goto done;

  json_t *coll_params = json_array();
  if (t->namespaced)
    json_array_append_new(coll_params, path_param(v3, "namespace", "object name and auth scope"));
  json_array_append_new(coll_params, query_param(v3, "pretty", "string", "pretty"));
  json_t *pi = path_item(coll_params);
  json_object_set_new(pi, "get", operation(v3, t, "list", n_list, NULL, list_def));
  json_object_set_new(pi, "post", operation(v3, t, "post", n_create, def, def));
  json_object_set_new(pi, "delete",
                      operation(v3, t, "deletecollection", n_delcoll, NULL, META "Status"));
  json_object_set_new(paths, coll, pi);

  json_t *item_params = json_array();
  json_array_append_new(item_params, path_param(v3, "name", "name of the object"));
  if (t->namespaced)
    json_array_append_new(item_params, path_param(v3, "namespace", "object name and auth scope"));
  json_array_append_new(item_params, query_param(v3, "pretty", "string", "pretty"));
  pi = path_item(json_deep_copy(item_params));
  json_object_set_new(pi, "get", operation(v3, t, "get", n_read, NULL, def));
  json_object_set_new(pi, "put", operation(v3, t, "put", n_replace, def, def));
  json_object_set_new(pi, "patch", operation(v3, t, "patch", n_patch, def, def));
  json_object_set_new(pi, "delete", operation(v3, t, "delete", n_delete, NULL, META "Status"));
  json_object_set_new(paths, item, pi);

  if (t->has_status) {
    pi = path_item(json_deep_copy(item_params));
    json_object_set_new(pi, "get", operation(v3, t, "get", n_rs, NULL, def));
    json_object_set_new(pi, "put", operation(v3, t, "put", n_us, def, def));
    json_object_set_new(pi, "patch", operation(v3, t, "patch", n_ps, def, def));
    json_object_set_new(paths, status, pi);
  }
  json_decref(item_params);

  if (t->namespaced) {
    json_t *all_params = json_array();
    json_array_append_new(all_params, query_param(v3, "pretty", "string", "pretty"));
    pi = path_item(all_params);
    json_object_set_new(pi, "get", operation(v3, t, "list", n_all, NULL, list_def));
    json_object_set_new(paths, all, pi);
  }
done:
  free(prefix), free(coll), free(item), free(status), free(all);
  free(n_list), free(n_create), free(n_delcoll), free(n_read), free(n_replace), free(n_patch);
  free(n_delete), free(n_rs), free(n_ps), free(n_us), free(n_all);
}

/* Builds paths and definitions for the types matching group/version (NULL: all). Returns
 * the number of matching types. */
static size_t build(const api_resource_type *types, size_t count, const char *group,
                    const char *version, bool v3, json_t *paths, json_t *defs) {
  size_t n = 0;
  for (size_t i = 0; i < count; i++) {
    const api_resource_type *t = &types[i];
    if (group && (strcmp(t->group, group) || strcmp(t->version, version)))
      continue;
    n++;
    char *def = openapi_definition_name(t->group, t->version, t->kind);
    char *list_def =
        openapi_definition_name(t->group, t->version, t->list_kind ? t->list_kind : "List");
    if (def && list_def) {
      json_object_set_new(defs, def, object_schema(t, v3));
      json_object_set_new(defs, list_def, list_schema(t, v3, def));
      add_type_paths(paths, v3, t, def, list_def);
    }
    free(def);
    free(list_def);
  }
  if (n) {
    json_object_set_new(defs, META "ObjectMeta", object_meta_schema());
    json_object_set_new(defs, META "ListMeta", list_meta_schema());
    json_object_set_new(defs, META "Status", status_schema());
    json_object_set_new(defs, META "Patch",
                        json_pack("{s:s, s:s}", "description",
                                  "Patch is provided to give a concrete name and type to the "
                                  "Kubernetes PATCH request body.",
                                  "type", "object"));
  }
  return n;
}

json_t *openapi_v3_group_version(const api_resource_type *types, size_t count, const char *group,
                                 const char *version) {
  json_t *paths = json_object(), *schemas = json_object();
  size_t n = build(types, count, group, version, true, paths, schemas);
  if (!n) {
    json_decref(paths);
    json_decref(schemas);
    error_set(ERR_NOTFOUND, "the server could not find the requested resource");
    return NULL;
  }
  json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o, s:{s:{s:s, s:s, s:s}}}}", "openapi",
                          "3.0.0", "info", "title", "Kubernetes", "version", DISCOVERY_GIT_VERSION,
                          "paths", paths, "components", "schemas", schemas, "securitySchemes",
                          "BearerToken", "type", "apiKey", "name", "authorization", "in", "header");
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

/* Uppercase hex SHA-256 of the compact serialisation of doc; false on failure. */
static bool doc_hash(const json_t *doc, char out[65]) {
  char *text = json_dumps(doc, JSON_COMPACT);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  bool ok = text && EVP_Digest(text, strlen(text), md, &md_len, EVP_sha256(), NULL) == 1;
  free(text);
  for (unsigned int i = 0; ok && i < md_len && i < 32; i++)
    snprintf(out + 2 * i, 3, "%02X", md[i]);
  return ok;
}

json_t *openapi_v3_index(const api_resource_type *types, size_t count) {
  json_t *paths = json_object();
  for (size_t i = 0; paths && i < count; i++) {
    const api_resource_type *t = &types[i];
    char *key = t->group[0] ? str_printf("apis/%s/%s", t->group, t->version)
                            : str_printf("api/%s", t->version);
    if (key && !json_object_get(paths, key)) {
      json_t *doc = openapi_v3_group_version(types, count, t->group, t->version);
      char hash[65] = "";
      if (doc && doc_hash(doc, hash)) {
        char *url = str_printf("/openapi/v3/%s?hash=%s", key, hash);
        json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url ? url : ""));
        free(url);
      }
      json_decref(doc);
    }
    free(key);
  }
  json_t *doc = json_pack("{s:o}", "paths", paths);
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

json_t *openapi_v2(const api_resource_type *types, size_t count) {
  json_t *paths = json_object(), *defs = json_object();
  build(types, count, NULL, NULL, false, paths, defs);
  json_t *doc =
      json_pack("{s:s, s:{s:s, s:s}, s:o, s:o, s:{s:{s:s, s:s, s:s}}, s:[{s:[]}]}", "swagger",
                "2.0", "info", "title", "Kubernetes", "version", DISCOVERY_GIT_VERSION, "paths",
                paths, "definitions", defs, "securityDefinitions", "BearerToken", "type", "apiKey",
                "name", "authorization", "in", "header", "security", "BearerToken");
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

/* Does the Accept header allow a JSON answer (empty, * / *, application/json)? */
static bool accepts_json(const char *accept) {
  return !accept || !accept[0] || strstr(accept, "application/json") || strstr(accept, "*/*");
}

bool openapi_serve(const api_request *req, api_response *resp, const api_resource_type *types,
                   size_t count) {
  const char *path = req->path;
  if (!str_has_prefix(path, "/openapi/"))
    return false;
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    api_respond_status(resp, 405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", NULL);
    return true;
  }
  json_t *doc = NULL;
  const char *rest = path + strlen("/openapi/");
  if (!strcmp(rest, "v2")) {
    if (!accepts_json(req->accept)) {
      if (strstr(req->accept, "protobuf")) {
        /* a valid openapi_v2.Document holding only swagger: "2.0" (field 1) */
        static const char empty_v2[] = "\x0a\x03"
                                       "2.0";
        resp->status = 200;
        str_copy(resp->content_type, OPENAPI_V2_PROTOBUF, sizeof(resp->content_type));
        buf_reset(&resp->body);
        buf_append(&resp->body, empty_v2, sizeof(empty_v2) - 1);
      } else {
        api_respond_status(resp, 406, "NotAcceptable",
                           "only application/json is served for /openapi/v2", NULL);
      }
      return true;
    }
    doc = openapi_v2(types, count);
  } else if (!strcmp(rest, "v3") || !strcmp(rest, "v3/")) {
    doc = openapi_v3_index(types, count);
  } else if (str_has_prefix(rest, "v3/api/") && !strchr(rest + 7, '/')) {
    doc = openapi_v3_group_version(types, count, "", rest + 7);
  } else if (str_has_prefix(rest, "v3/apis/")) {
    const char *gv = rest + 8;
    const char *slash = strchr(gv, '/');
    if (slash && slash != gv && slash[1] && !strchr(slash + 1, '/')) {
      char *group = str_ndup(gv, (size_t)(slash - gv));
      if (group)
        doc = openapi_v3_group_version(types, count, group, slash + 1);
      free(group);
    } else {
      error_set(ERR_NOTFOUND, "not found");
    }
  } else {
    error_set(ERR_NOTFOUND, "not found");
  }
  discovery_respond_document(resp, doc, NULL);
  return true;
}
