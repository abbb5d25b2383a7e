/*
 * registry_write: the write verbs (create, update, the four patch types, delete,
 * deletecollection) and their rules: body checks against the URL, pruning, defaulting
 * and validation, generateName, resourceVersion preconditions, the status subresource,
 * metadata.generation, finalizers and deletionTimestamp, namespace termination and CRD
 * removal. Every answer follows the commit of what it reports.
 *
 * Namespace termination is asynchronous as in kube-apiserver: DELETE marks the namespace
 * Terminating (new content is refused with 403); a one-shot sweep timer
 * (namespace_sweep_ms later, also armed at open for namespaces left terminating) deletes
 * its contents and then the namespace, so `kubectl delete -f` of a file holding a
 * namespace and its objects still finds the objects it deletes after the namespace.
 */
#include "apiserver/registry_internal.h"

#include "apiserver/patch.h"
#include "apiserver/schema.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/jpath.h"
#include "base/log.h"
#include "base/str.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- preparing writes ------------------------------------------------------------------ */

typedef enum { FV_WARN, FV_STRICT, FV_IGNORE } field_validation;

static field_validation field_validation_mode(const api_request *req) {
  const char *v = api_request_query(req, "fieldValidation");
  if (v && !strcmp(v, "Strict"))
    return FV_STRICT;
  if (v && !strcmp(v, "Ignore"))
    return FV_IGNORE;
  return FV_WARN;
}

/* Built-in checks beyond the schema. */
static void builtin_validate(const type_info *ti, json_t *obj, validate_errors *errs) {
  const char *kind = ti->t.kind;
  if (!ti->builtin)
    return;
  if (!strcmp(kind, "ConfigMap") || !strcmp(kind, "Secret")) {
    const char *fields[] = {"data", "binaryData", "stringData"};
    for (size_t f = 0; f < 3; f++) {
      const char *k;
      json_t *v;
      json_object_foreach(json_object_get(obj, fields[f]), k, v) {
        bool ok = *k && strlen(k) <= 253 && strcmp(k, ".") && strcmp(k, "..");
        for (const char *p = k; ok && *p; p++)
          ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.';
        if (!ok) {
          char *path = str_printf("%s[%s]", fields[f], k);
          json_t *kv = json_string(k);
          validate_errors_add(errs, FIELD_INVALID, path, kv,
                              "a valid config key must consist of alphanumeric characters, '-', "
                              "'_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex "
                              "used for validation is '[-._a-zA-Z0-9]+')");
          json_decref(kv);
          free(path);
        }
      }
    }
  }
  if (!strcmp(kind, "CustomResourceDefinition"))
    registry_crd_validate(obj, errs);
}

/* Secret: stringData is merged into data (base64) and dropped, and an absent type defaults
 * to Opaque, as the API server does. */
static void secret_merge_string_data(json_t *obj) {
  if (!json_is_string(json_object_get(obj, "type")) || !*jpath_str(obj, "type"))
    json_object_set_new(obj, "type", json_string("Opaque"));
  json_t *sd = json_object_get(obj, "stringData");
  if (!json_is_object(sd)) {
    json_object_del(obj, "stringData");
    return;
  }
  json_t *data = json_object_get(obj, "data");
  if (!json_is_object(data)) {
    data = json_object();
    json_object_set_new(obj, "data", data);
  }
  const char *k;
  json_t *v;
  json_object_foreach(sd, k, v) {
    const char *s = json_string_value(v);
    if (!s)
      continue;
    char *enc = registry_b64_encode(s, strlen(s));
    json_object_set_new(data, k, json_string(enc ? enc : ""));
    free(enc);
  }
  json_object_del(obj, "stringData");
}

/* Service: the defaults kube-apiserver fills in that need no allocator (type, session
 * affinity, port protocol and targetPort). Cluster IPs are not allocated. */
static void service_set_defaults(json_t *obj) {
  json_t *spec = json_object_get(obj, "spec");
  if (!json_is_object(spec)) {
    spec = json_object();
    json_object_set_new(obj, "spec", spec);
  }
  if (!json_is_string(json_object_get(spec, "type")))
    json_object_set_new(spec, "type", json_string("ClusterIP"));
  if (!json_is_string(json_object_get(spec, "sessionAffinity")))
    json_object_set_new(spec, "sessionAffinity", json_string("None"));
  size_t i;
  json_t *port;
  json_array_foreach(json_object_get(spec, "ports"), i, port) {
    if (!json_is_object(port))
      continue;
    if (!json_object_get(port, "protocol"))
      json_object_set_new(port, "protocol", json_string("TCP"));
    json_t *p = json_object_get(port, "port");
    if (!json_object_get(port, "targetPort") && json_is_integer(p))
      json_object_set(port, "targetPort", p);
  }
}

/* Checks apiVersion/kind of the body against the URL (filling them in when absent).
 * Returns 0 or writes a 400 and returns 1. */
static int check_type_meta(const type_info *ti, const char *version, json_t *obj,
                           api_response *resp) {
  char *want_av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  const char *av = jpath_str(obj, "apiVersion");
  const char *kind = jpath_str(obj, "kind");
  int bad = 0;
  if (av && strcmp(av, want_av)) {
    char *msg = str_printf("the API version in the data (%s) does not match the expected API "
                           "version (%s)", av, want_av);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    bad = 1;
  } else if (kind && strcmp(kind, ti->t.kind)) {
    char *msg = str_printf("the kind in the data (%s) does not match the expected kind (%s)",
                           kind, ti->t.kind);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    bad = 1;
  } else {
    json_object_set_new(obj, "apiVersion", json_string(want_av));
    json_object_set_new(obj, "kind", json_string(ti->t.kind));
  }
  free(want_av);
  return bad;
}

/* Prunes, defaults and validates. On a problem writes the response and returns 1. */
/* Where standard base64 `s` first goes wrong (Go's "illegal base64 data at input byte
 * N"), or -1 when it is valid. */
static long base64_error_at(const char *s) {
  size_t n = strlen(s), i;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '=')
      break;
    if (!(isalnum((unsigned char)c) || c == '+' || c == '/'))
      return (long)i;
  }
  size_t pad = 0;
  for (; i < n; i++, pad++)
    if (s[i] != '=' || pad >= 2)
      return (long)i;
  if (n % 4)
    return (long)(n - n % 4 > 0 ? n - n % 4 : 0);
  return -1;
}

/* Secret data and ConfigMap binaryData are bytes: a value that is not base64 fails to
 * decode, which kube-apiserver reports as a 400. Returns 1 after answering. */
static int check_bytes_fields(const type_info *ti, const json_t *obj, api_response *resp) {
  if (!ti->builtin)
    return 0;
  const char *field = !strcmp(ti->t.kind, "Secret")      ? "data"
                      : !strcmp(ti->t.kind, "ConfigMap") ? "binaryData"
                                                         : NULL;
  const char *k;
  json_t *v;
  json_object_foreach(json_object_get(obj, field ? field : ""), k, v) {
    long at = json_is_string(v) ? base64_error_at(json_string_value(v)) : 0;
    if (at < 0)
      continue;
    char *msg = str_printf("%s in version \"%s\" cannot be handled as a %s: illegal base64 data "
                           "at input byte %ld", ti->t.kind, ti->t.version, ti->t.kind, at);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    return 1;
  }
  return 0;
}

static int prepare_object(const type_info *ti, json_t *obj, const api_request *req,
                          api_response *resp, const char *name, validate_errors *errs) {
  if (check_bytes_fields(ti, obj, resp))
    return 1;
  schema_result res = {0};
  schema_apply(obj, ti->t.schema, &res);
  field_validation fv = field_validation_mode(req);
  if (res.unknown_count && fv == FV_STRICT) {
    char *um = schema_unknown_message(&res);
    char *msg = str_printf("%s in version \"%s\" cannot be handled as a %s: %s", ti->t.kind,
                           ti->t.version, ti->t.kind, um);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    free(um);
    schema_result_free(&res);
    return 1;
  }
  if (ti->builtin) {
    /* a built-in kind is decoded into Go structs: a wrong JSON type is a 400 decoding
     * error there, not a 422 (CRD objects are validated, hence 422) */
    for (size_t i = 0; i < res.errors.count; i++) {
      field_error *fe = &res.errors.items[i];
      if (fe->type != FIELD_TYPE_INVALID)
        continue;
      const char *have = fe->value && strstr(fe->value, "integer")  ? "number"
                         : fe->value && strstr(fe->value, "number")   ? "number"
                         : fe->value && strstr(fe->value, "boolean")  ? "bool"
                         : fe->value && strstr(fe->value, "array")    ? "array"
                         : fe->value && strstr(fe->value, "object")   ? "object"
                                                                       : "string";
      const char *want = strstr(fe->detail, "of type ");
      want = !want                                ? "string"
             : !strncmp(want + 8, "boolean", 7)   ? "bool"
             : !strncmp(want + 8, "integer", 7)   ? "int32"
             : !strncmp(want + 8, "string", 6)    ? "string"
                                                  : "struct";
      char *msg = str_printf("%s in version \"%s\" cannot be handled as a %s: json: cannot "
                             "unmarshal %s into Go struct field %s.%s of type %s",
                             ti->t.kind, ti->t.version, ti->t.kind, have, ti->t.kind, fe->field,
                             want);
      registry_respond_text_status(resp, 400, "BadRequest", msg);
      free(msg);
      schema_result_free(&res);
      return 1;
    }
  }
  if (res.unknown_count && fv == FV_WARN)
    for (size_t i = 0; i < res.unknown_count; i++)
      buf_printf(&resp->warnings, "unknown field \"%s\"\n", res.unknown[i]);
  for (size_t i = 0; i < res.errors.count; i++) {
    field_error *fe = &res.errors.items[i];
    validate_errors_add_raw(errs, fe->type, fe->field, fe->value, fe->detail);
  }
  schema_result_free(&res);
  (void)name;
  return 0;
}

/* The fields that make up "spec" for generation purposes: all but metadata and status. */
static bool spec_changed(const json_t *a, const json_t *b) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)a, k, v) {
    if (!strcmp(k, "metadata") || !strcmp(k, "status") || !strcmp(k, "apiVersion") ||
        !strcmp(k, "kind"))
      continue;
    if (!json_equal(v, json_object_get(b, k)))
      return true;
  }
  json_object_foreach((json_t *)b, k, v) {
    if (!strcmp(k, "metadata") || !strcmp(k, "status") || !strcmp(k, "apiVersion") ||
        !strcmp(k, "kind"))
      continue;
    if (!json_object_get(a, k))
      return true;
  }
  return false;
}

static void ns_not_found(api_response *resp, const char *ns) {
  char *msg = str_printf("namespaces \"%s\" not found", ns);
  api_respond_status(resp, 404, "NotFound", msg,
                     json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"));
  free(msg);
}

/* Namespaced writes need a live namespace. Returns 1 after answering when not. */
static int check_namespace(registry *r, const char *ns, api_response *resp, bool creating) {
  entry *e = registry_namespace_entry(r, ns);
  if (!e) {
    ns_not_found(resp, ns);
    return 1;
  }
  if (creating && strstr(e->json, "\"deletionTimestamp\"")) {
    char *msg = str_printf("unable to create new content in namespace %s because it is being "
                           "terminated", ns);
    api_respond_status(resp, 403, "Forbidden", msg,
                       json_pack("{s:s, s:s}", "name", ns, "kind", "namespaces"));
    free(msg);
    return 1;
  }
  return 0;
}

static bool has_finalizers(const json_t *obj) {
  return json_array_size(jpath_get(obj, "metadata.finalizers")) > 0;
}

static int after_crd_change(registry *r);
static int namespace_maybe_finalize(registry *r, const char *ns);

/* --- create ------------------------------------------------------------------------------ */

/* Creates `obj` (owned; released here). Answers in every case. */
static int create_object(registry *r, const type_info *ti, const char *version, const char *ns,
                         json_t *obj, const api_request *req, api_response *resp) {
  int rc = 0;
  validate_errors errs = {0};
  char *key = NULL;
  if (check_type_meta(ti, version, obj, resp))
    goto done;
  if (!json_is_object(json_object_get(obj, "metadata")))
    json_object_set_new(obj, "metadata", json_object());
  json_t *meta = json_object_get(obj, "metadata");
  const char *body_ns = jpath_str(obj, "metadata.namespace");
  if (ti->t.namespaced) {
    if (body_ns && *body_ns && strcmp(body_ns, ns)) {
      registry_respond_text_status(resp, 400, "BadRequest",
                          "the namespace of the provided object does not match the namespace "
                          "sent on the request");
      goto done;
    }
    json_object_set_new(meta, "namespace", json_string(ns));
  } else {
    json_object_del(meta, "namespace");
  }
  const char *gen = jpath_str(obj, "metadata.generateName");
  const char *name0 = jpath_str(obj, "metadata.name");
  if ((!name0 || !*name0) && gen && *gen) {
    char suffix[6];
    registry_random_suffix(suffix);
    char *nm = str_printf("%s%s", gen, suffix);
    json_object_set_new(meta, "name", json_string(nm ? nm : ""));
    free(nm);
  }
  const char *name = jpath_str(obj, "metadata.name");
  if (prepare_object(ti, obj, req, resp, name, &errs))
    goto done;
  meta = json_object_get(obj, "metadata");
  validate_object_meta(obj, ti->t.namespaced, !strcmp(ti->t.kind, "Namespace") && ti->builtin,
                       &errs);
  builtin_validate(ti, obj, &errs);
  name = jpath_str(obj, "metadata.name");
  if (errs.count) {
    registry_respond_invalid(resp, ti, name, &errs);
    goto done;
  }
  if (ti->t.namespaced && check_namespace(r, ns, resp, true))
    goto done;
  key = registry_make_key(ti->t.namespaced ? ns : NULL, name);
  if (collection_find(registry_collection(r, ti->resource, true), key, NULL)) {
    char *res = registry_qualified_resource(ti);
    char *m = str_printf("%s \"%s\" already exists", res, name);
    api_respond_status(resp, 409, "AlreadyExists", m, registry_details(ti, name, NULL));
    free(m);
    free(res);
    goto done;
  }
  char uid[37];
  registry_uuid_v4(uid);
  char *now = registry_now_rfc3339();
  json_object_set_new(meta, "uid", json_string(uid));
  json_object_set_new(meta, "creationTimestamp", json_string(now ? now : ""));
  free(now);
  json_object_del(meta, "deletionTimestamp");
  json_object_del(meta, "deletionGracePeriodSeconds");
  json_object_del(meta, "resourceVersion");
  json_object_del(meta, "selfLink");
  if (ti->generation)
    json_object_set_new(meta, "generation", json_integer(1));
  else
    json_object_del(meta, "generation");
  if (ti->t.has_status && ti->is_crd_served)
    json_object_del(obj, "status");
  if (ti->builtin && !strcmp(ti->t.kind, "Namespace")) {
    json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
    if (!jpath_get(obj, "spec.finalizers"))
      jpath_set(obj, "spec.finalizers", json_pack("[s]", "kubernetes"));
    jpath_set(obj, "metadata.labels.kubernetes\\.io/metadata\\.name", json_string(name));
  }
  if (ti->builtin && !strcmp(ti->t.kind, "Secret"))
    secret_merge_string_data(obj);
  if (ti->builtin && !strcmp(ti->t.kind, "Service"))
    service_set_defaults(obj);
  if (ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition"))
    registry_crd_set_status(obj, NULL);
  if (registry_dry_run(req)) {
    registry_respond_json_object(resp, 201, ti, version, req, obj);
    goto done;
  }
  bool is_crd = ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition");
  if ((rc = registry_commit_put(r, ti, key, obj, EV_ADDED)))
    goto done;
  registry_respond_json_object(resp, 201, ti, version, req, obj);
  if (is_crd)
    rc = after_crd_change(r); /* ti is invalid from here on */
done:
  validate_errors_free(&errs);
  free(key);
  json_decref(obj);
  return rc;
}

int registry_handle_create(registry *r, const type_info *ti, const char *version, const char *ns,
                         const api_request *req, api_response *resp) {
  json_t *obj = NULL;
  char *msg = NULL;
  int st = registry_decode_body(req, &obj, &msg);
  if (st) {
    registry_respond_text_status(resp, st,
                        st == 415   ? "UnsupportedMediaType"
                        : st == 413 ? "RequestEntityTooLarge"
                                    : "BadRequest",
                        msg);
    free(msg);
    return 0;
  }
  return create_object(r, ti, version, ns, obj, req, resp);
}

/* --- update and patch ----------------------------------------------------------------- */

/* Applies an update of `obj` (owned by the caller) over the stored `cur` entry.
 * `status_only`: the status subresource. Answers in every case. */
static int apply_update(registry *r, const type_info *ti, const char *version, const char *ns,
                        const char *name, const char *key, json_t *obj, const json_t *old,
                        bool status_only, const api_request *req, api_response *resp) {
  int rc = 0;
  validate_errors errs = {0};
  bool is_crd = ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition");
  bool is_ns = ti->builtin && !strcmp(ti->t.kind, "Namespace");
  if (check_type_meta(ti, version, obj, resp))
    goto done;
  if (!json_is_object(json_object_get(obj, "metadata")))
    json_object_set_new(obj, "metadata", json_object());
  const char *body_name = jpath_str(obj, "metadata.name");
  if (body_name && strcmp(body_name, name)) {
    char *msg = str_printf("the name of the object (%s) does not match the name on the URL (%s)",
                           body_name, name);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    goto done;
  }
  const char *body_ns = jpath_str(obj, "metadata.namespace");
  if (ti->t.namespaced && body_ns && *body_ns && strcmp(body_ns, ns)) {
    registry_respond_text_status(resp, 400, "BadRequest",
                        "the namespace of the provided object does not match the namespace sent "
                        "on the request");
    goto done;
  }
  const char *want_rv = jpath_str(obj, "metadata.resourceVersion");
  if (want_rv && *want_rv && !str_eq(want_rv, jpath_str(old, "metadata.resourceVersion"))) {
    registry_respond_conflict(resp, ti, name,
                     "the object has been modified; please apply your changes to the latest "
                     "version and try again");
    goto done;
  }
  if (prepare_object(ti, obj, req, resp, name, &errs))
    goto done;
  json_t *meta = json_object_get(obj, "metadata");
  if (status_only) {
    /* only status moves; everything else stays as stored */
    json_t *next = json_deep_copy(old);
    json_t *status = json_object_get(obj, "status");
    if (status)
      json_object_set(next, "status", status);
    else
      json_object_del(next, "status");
    json_decref(obj);
    obj = next;
    meta = json_object_get(obj, "metadata");
  } else if (ti->t.has_status) {
    json_t *old_status = json_object_get(old, "status");
    if (old_status)
      json_object_set(obj, "status", old_status);
    else
      json_object_del(obj, "status");
  }
  /* metadata the server owns */
  const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
                        "deletionGracePeriodSeconds", "generation", "namespace", "name"};
  const json_t *old_meta = json_object_get(old, "metadata");
  for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
    json_t *v = json_object_get(old_meta, keep[i]);
    if (v)
      json_object_set(meta, keep[i], v);
    else
      json_object_del(meta, keep[i]);
  }
  if (json_object_get(old_meta, "deletionTimestamp")) {
    /* while deleting, finalizers may only go away */
    const json_t *nf = json_object_get(meta, "finalizers");
    size_t i;
    json_t *f;
    json_array_foreach(nf, i, f) {
      bool had = false;
      size_t j;
      json_t *of;
      json_array_foreach(json_object_get(old_meta, "finalizers"), j, of) had =
          had || json_equal(of, f);
      if (!had) {
        validate_errors_add(&errs, FIELD_FORBIDDEN, "metadata.finalizers", NULL,
                            "no new finalizers can be added if the object is being deleted, "
                            "found new finalizers %s",
                            json_string_value(f) ? json_string_value(f) : "");
        break;
      }
    }
  }
  if (ti->builtin && !strcmp(ti->t.kind, "Secret"))
    secret_merge_string_data(obj);
  if (ti->builtin && !strcmp(ti->t.kind, "Service"))
    service_set_defaults(obj);
  if (ti->builtin && json_is_true(json_object_get(old, "immutable"))) {
    const char *fields[] = {"data", "binaryData", "immutable"};
    for (size_t i = 0; i < 3; i++)
      if (!json_equal(json_object_get(old, fields[i]), json_object_get(obj, fields[i])) &&
          (json_object_get(old, fields[i]) || json_object_get(obj, fields[i])))
        validate_errors_add(&errs, FIELD_FORBIDDEN, fields[i], NULL,
                            "field is immutable when `immutable` is set");
  }
  validate_object_meta(obj, ti->t.namespaced, is_ns, &errs);
  builtin_validate(ti, obj, &errs);
  if (errs.count) {
    registry_respond_invalid(resp, ti, name, &errs);
    goto done;
  }
  if (is_crd && !status_only)
    registry_crd_set_status(obj, old);
  if (ti->generation && spec_changed(obj, old))
    json_object_set_new(meta, "generation",
                        json_integer(jpath_int(old, "metadata.generation", 1) + 1));
  json_object_set(meta, "resourceVersion", json_object_get(old_meta, "resourceVersion"));
  bool removing = json_object_get(old_meta, "deletionTimestamp") && !has_finalizers(obj);
  if (json_equal(obj, old) && !removing) { /* no-op: nothing written, rv unchanged */
    registry_respond_json_object(resp, 200, ti, version, req, obj);
    goto done;
  }
  if (registry_dry_run(req)) {
    registry_respond_json_object(resp, 200, ti, version, req, obj);
    goto done;
  }
  if (removing) {
    if ((rc = registry_commit_delete(r, ti, key, obj)))
      goto done;
    registry_respond_json_object(resp, 200, ti, version, req, obj);
    if (is_crd)
      rc = after_crd_change(r);
    else if (ti->t.namespaced)
      rc = namespace_maybe_finalize(r, ns);
    else if (is_ns)
      rc = 0;
    goto done;
  }
  if ((rc = registry_commit_put(r, ti, key, obj, EV_MODIFIED)))
    goto done;
  registry_respond_json_object(resp, 200, ti, version, req, obj);
  if (is_crd)
    rc = after_crd_change(r);
done:
  validate_errors_free(&errs);
  json_decref(obj);
  return rc;
}

int registry_handle_update(registry *r, const type_info *ti, const char *version, const char *ns,
                         const char *name, bool status_only, const api_request *req,
                         api_response *resp) {
  json_t *obj = NULL;
  char *msg = NULL;
  int st = registry_decode_body(req, &obj, &msg);
  if (st) {
    registry_respond_text_status(resp, st, st == 415 ? "UnsupportedMediaType" : st == 413 ? "RequestEntityTooLarge" : "BadRequest", msg);
    free(msg);
    return 0;
  }
  const char *body_name = jpath_str(obj, "metadata.name");
  if (body_name && strcmp(body_name, name)) {
    msg = str_printf("the name of the object (%s) does not match the name on the URL (%s)",
                     body_name, name);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    json_decref(obj);
    return 0;
  }
  char *key = registry_make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  if (!e) {
    registry_respond_not_found(resp, ti, name);
    json_decref(obj);
    free(key);
    return 0;
  }
  json_t *old = registry_load_entry(e);
  int rc = apply_update(r, ti, version, ns, name, key, obj, old, status_only, req, resp);
  json_decref(old);
  free(key);
  return rc;
}

static bool media_is(const char *ct, const char *want) {
  size_t n = strlen(want);
  return ct && !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';');
}

/* The managedFields entry of `manager` for Apply in `obj`, or NULL. Borrowed. */
static json_t *applied_fields_of(const json_t *obj, const char *manager) {
  size_t i;
  json_t *mf;
  json_array_foreach(jpath_get(obj, "metadata.managedFields"), i, mf) {
    if (str_eq(jpath_str(mf, "manager"), manager) && str_eq(jpath_str(mf, "operation"), "Apply"))
      return mf;
  }
  return NULL;
}

/* Records `set` as what `manager` applies, replacing its previous entry. */
static void set_applied_fields(json_t *obj, const char *manager, const char *api_version,
                               json_t *set /* stolen */) {
  json_t *meta = json_object_get(obj, "metadata");
  json_t *list = json_object_get(meta, "managedFields");
  if (!json_is_array(list)) {
    list = json_array();
    json_object_set_new(meta, "managedFields", list);
  }
  for (size_t i = json_array_size(list); i-- > 0;) {
    json_t *mf = json_array_get(list, i);
    if (str_eq(jpath_str(mf, "manager"), manager) && str_eq(jpath_str(mf, "operation"), "Apply"))
      json_array_remove(list, i);
  }
  char *now = registry_now_rfc3339();
  json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "manager", manager,
                                        "operation", "Apply", "apiVersion", api_version, "time",
                                        now ? now : "", "fieldsType", "FieldsV1", "fieldsV1", set));
  free(now);
}

/* Server-side apply (application/apply-patch+yaml), simplified: creates the object when
 * missing; otherwise removes the fields this field manager applied before and no longer
 * does, then merges the applied configuration (maps merge, lists as in a strategic merge
 * patch). Ownership conflicts between managers are not detected: every apply acts as
 * with force=true. */
static int handle_apply(registry *r, const type_info *ti, const char *version, const char *ns,
                        const char *name, bool status_only, const api_request *req,
                        api_response *resp) {
  const char *manager = api_request_query(req, "fieldManager");
  if (!manager || !*manager) {
    validate_errors errs = {0};
    validate_errors_add(&errs, FIELD_REQUIRED, "fieldManager", NULL, "is required for apply patch");
    json_t *d = NULL;
    char *msg = validate_errors_message(&errs, "PatchOptions.meta.k8s.io", "", "meta.k8s.io",
                                        "PatchOptions", &d);
    api_respond_status(resp, 422, "Invalid", msg, d);
    free(msg);
    validate_errors_free(&errs);
    return 0;
  }
  json_t *applied = NULL;
  char *msg = NULL;
  if (req->body_len > API_MAX_BODY) {
    registry_respond_text_status(resp, 413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");
    return 0;
  }
  if (registry_yaml_to_json(req->body ? req->body : "", req->body_len, &applied, &msg) ||
      !json_is_object(applied)) {
    registry_respond_text_status(resp, 400, "BadRequest", msg ? msg : "apply patch must be an object");
    free(msg);
    json_decref(applied);
    return 0;
  }
  const char *body_name = jpath_str(applied, "metadata.name");
  if (body_name && strcmp(body_name, name)) {
    msg = str_printf("the name of the object (%s) does not match the name on the URL (%s)",
                     body_name, name);
    registry_respond_text_status(resp, 400, "BadRequest", msg);
    free(msg);
    json_decref(applied);
    return 0;
  }
  char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  json_t *set = patch_apply_fieldset(applied);
  char *key = registry_make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  int rc = 0;
  if (!e) {
    if (status_only) {
      registry_respond_not_found(resp, ti, name);
      json_decref(applied);
      json_decref(set);
    } else {
      jpath_set(applied, "metadata.name", json_string(name));
      set_applied_fields(applied, manager, av ? av : version, set);
      rc = create_object(r, ti, version, ns, applied, req, resp);
    }
  } else {
    json_t *old = registry_load_entry(e);
    json_t *doc = json_deep_copy(old);
    json_t *prev = applied_fields_of(old, manager);
    if (prev)
      patch_apply_prune(doc, json_object_get(prev, "fieldsV1"), set);
    json_object_del(applied, "apiVersion");
    json_object_del(applied, "kind");
    json_t *meta = json_object_get(applied, "metadata");
    const char *drop[] = {"resourceVersion", "managedFields", "uid", "creationTimestamp"};
    for (size_t i = 0; meta && i < sizeof(drop) / sizeof(drop[0]); i++)
      json_object_del(meta, drop[i]);
    patch_strategic(&doc, applied);
    set_applied_fields(doc, manager, av ? av : version, set);
    rc = apply_update(r, ti, version, ns, name, key, doc, old, status_only, req, resp);
    json_decref(old);
    json_decref(applied);
  }
  free(key);
  free(av);
  return rc;
}

int registry_handle_patch(registry *r, const type_info *ti, const char *version, const char *ns,
                        const char *name, bool status_only, const api_request *req,
                        api_response *resp) {
  const char *ct = req->content_type;
  int kind = media_is(ct, "application/merge-patch+json")          ? 1
             : media_is(ct, "application/json-patch+json")         ? 2
             : media_is(ct, "application/strategic-merge-patch+json") ? 3
             : media_is(ct, "application/apply-patch+yaml")        ? 4
                                                                    : 0;
  if (kind == 4)
    return handle_apply(r, ti, version, ns, name, status_only, req, resp);
  if (kind == 0 || (kind == 3 && ti->is_crd_served)) {
    registry_respond_text_status(resp, 415, "UnsupportedMediaType",
                        ti->is_crd_served
                            ? "the body of the request was in an unknown format - accepted media "
                              "types include: application/json-patch+json, "
                              "application/merge-patch+json, application/apply-patch+yaml"
                            : "the body of the request was in an unknown format - accepted media "
                              "types include: application/json-patch+json, "
                              "application/merge-patch+json, application/apply-patch+yaml, "
                              "application/strategic-merge-patch+json");
    return 0;
  }
  if (req->body_len > API_MAX_BODY) {
    registry_respond_text_status(resp, 413, "RequestEntityTooLarge",
                        "Request entity too large: limit is 3145728");
    return 0;
  }
  json_error_t jerr;
  json_t *patch = json_loadb(req->body ? req->body : "", req->body_len, JSON_DECODE_ANY, &jerr);
  if (!patch) {
    char *m = str_printf("error decoding patch: %s", jerr.text);
    registry_respond_text_status(resp, 400, "BadRequest", m);
    free(m);
    return 0;
  }
  char *key = registry_make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  if (!e) {
    registry_respond_not_found(resp, ti, name);
    json_decref(patch);
    free(key);
    return 0;
  }
  json_t *old = registry_load_entry(e);
  json_t *doc = json_deep_copy(old);
  int prc = kind == 1 ? (json_is_object(patch) ? patch_merge(&doc, patch)
                                               : error_set(ERR_INVALID, "merge patch must be a "
                                                                        "JSON object"))
            : kind == 2 ? patch_json(&doc, patch)
                        : patch_strategic(&doc, patch);
  int rc = 0;
  if (prc == ERR_CONFLICT) {
    char *m = str_printf("the server rejected our request due to an error in our request: %s",
                         error_message());
    registry_respond_text_status(resp, 422, "Invalid", m);
    free(m);
    json_decref(doc);
  } else if (prc) {
    registry_respond_text_status(resp, 400, "BadRequest", error_message());
    json_decref(doc);
  } else if (!json_is_object(doc)) {
    registry_respond_text_status(resp, 400, "BadRequest", "the patched object is not a JSON object");
    json_decref(doc);
  } else {
    rc = apply_update(r, ti, version, ns, name, key, doc, old, status_only, req, resp);
  }
  json_decref(old);
  json_decref(patch);
  free(key);
  return rc;
}

/* --- delete ------------------------------------------------------------------------------ */

/* Deletes every namespaced object in a terminating namespace; removes the namespace when
 * nothing is left (objects with finalizers keep it until they go). */
static int namespace_maybe_finalize(registry *r, const char *ns) {
  entry *ne = registry_namespace_entry(r, ns);
  if (!ne || !strstr(ne->json, "\"deletionTimestamp\""))
    return 0;
  size_t n = strlen(ns);
  for (size_t i = 0; i < r->coll_count; i++) {
    collection *c = r->colls[i];
    size_t pos;
    char *prefix = str_printf("%s/", ns);
    collection_find(c, prefix, &pos);
    free(prefix);
    if (pos < c->count && !strncmp(c->items[pos]->key, ns, n) && c->items[pos]->key[n] == '/')
      return 0;
  }
  const type_info *ti = registry_find_type(r, "", "v1", "namespaces");
  json_t *obj = registry_load_entry(ne);
  int rc = obj ? registry_commit_delete(r, ti, ns, obj) : 0;
  json_decref(obj);
  return rc;
}

/* Marks or removes one object. Sets *removed. `obj` is its current state (modified). */
static int delete_object(registry *r, const type_info *ti, const char *key, json_t *obj,
                         bool *removed) {
  *removed = false;
  if (has_finalizers(obj) || (ti->builtin && !strcmp(ti->t.kind, "Namespace"))) {
    if (jpath_get(obj, "metadata.deletionTimestamp"))
      return 0;
    char *now = registry_now_rfc3339();
    jpath_set(obj, "metadata.deletionTimestamp", json_string(now ? now : ""));
    jpath_set(obj, "metadata.deletionGracePeriodSeconds", json_integer(0));
    free(now);
    if (ti->builtin && !strcmp(ti->t.kind, "Namespace"))
      jpath_set(obj, "status.phase", json_string("Terminating"));
    return registry_commit_put(r, ti, key, obj, EV_MODIFIED);
  }
  *removed = true;
  return registry_commit_delete(r, ti, key, obj);
}

/* Deletes the contents of a namespace that started terminating. */
static int namespace_delete_contents(registry *r, const char *ns) {
  size_t n = strlen(ns);
  for (size_t i = 0; i < r->coll_count; i++) {
    collection *c = r->colls[i];
    const type_info *ti = registry_find_type_by_resource(r, c->resource);
    if (!ti || !ti->t.namespaced)
      continue;
    char *prefix = str_printf("%s/", ns);
    size_t pos;
    collection_find(c, prefix, &pos);
    free(prefix);
    while (pos < c->count && !strncmp(c->items[pos]->key, ns, n) && c->items[pos]->key[n] == '/') {
      entry *e = c->items[pos];
      char *key = str_dup(e->key);
      json_t *obj = registry_load_entry(e);
      bool removed = false;
      int rc = obj ? delete_object(r, ti, key, obj, &removed) : 0;
      json_decref(obj);
      free(key);
      if (rc)
        return rc;
      if (!removed)
        pos++;
    }
  }
  return namespace_maybe_finalize(r, ns);
}

static void ns_sweep_free(uv_handle_t *h) { free(h); }

static void ns_sweep_fire(uv_timer_t *t) {
  registry *r = t->data;
  if (!r)
    return;
  collection *c = registry_collection(r, "namespaces", false);
  size_t n = c ? c->count : 0;
  char **names = calloc(n + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; names && i < n; i++)
    if (strstr(c->items[i]->json, "\"deletionTimestamp\""))
      names[k++] = str_dup(c->items[i]->key);
  for (size_t i = 0; i < k; i++) {
    if (names[i] && namespace_delete_contents(r, names[i]))
      log_error(NULL, "registry: deleting the contents of namespace %s: %s", names[i],
                error_message());
    free(names[i]);
  }
  free(names);
}

void registry_namespace_sweep_schedule(registry *r) {
  if (!r->loop)
    return;
  if (!r->ns_sweep) {
    r->ns_sweep = calloc(1, sizeof(*r->ns_sweep));
    if (!r->ns_sweep || uv_timer_init(r->loop, r->ns_sweep)) {
      free(r->ns_sweep);
      r->ns_sweep = NULL;
      return;
    }
    r->ns_sweep->data = r;
  }
  /* (re)starting it means the sweep comes namespace_sweep_ms after the latest deletion */
  uv_timer_start(r->ns_sweep, ns_sweep_fire,
                 r->options.namespace_sweep_ms ? r->options.namespace_sweep_ms : 1000, 0);
}

void registry_namespace_sweep_close(registry *r) {
  if (!r->ns_sweep)
    return;
  uv_timer_stop(r->ns_sweep);
  r->ns_sweep->data = NULL;
  uv_close((uv_handle_t *)r->ns_sweep, ns_sweep_free);
  r->ns_sweep = NULL;
}

static int check_preconditions(const type_info *ti, const char *name, const json_t *opts,
                               const json_t *obj, api_response *resp) {
  const char *uid = jpath_str(opts, "preconditions.uid");
  const char *rv = jpath_str(opts, "preconditions.resourceVersion");
  const char *have_uid = jpath_str(obj, "metadata.uid");
  const char *have_rv = jpath_str(obj, "metadata.resourceVersion");
  char *why = NULL;
  if (uid && !str_eq(uid, have_uid))
    why = str_printf("Precondition failed: UID in precondition: %s, UID in object meta: %s", uid,
                     have_uid ? have_uid : "");
  else if (rv && !str_eq(rv, have_rv))
    why = str_printf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion "
                     "in object meta: %s", rv, have_rv ? have_rv : "");
  if (!why)
    return 0;
  registry_respond_conflict(resp, ti, name, why);
  free(why);
  return 1;
}

int registry_handle_delete(registry *r, const type_info *ti, const char *version, const char *ns,
                         const char *name, const api_request *req, api_response *resp) {
  json_t *opts = NULL;
  if (req->body_len) {
    char *msg = NULL;
    if (registry_decode_body(req, &opts, &msg)) {
      registry_respond_text_status(resp, 400, "BadRequest", msg);
      free(msg);
      return 0;
    }
  }
  char *key = registry_make_key(ti->t.namespaced ? ns : NULL, name);
  entry *e = collection_find(registry_collection(r, ti->resource, true), key, NULL);
  int rc = 0;
  json_t *obj = registry_load_entry(e);
  bool is_crd = ti->builtin && !strcmp(ti->t.kind, "CustomResourceDefinition");
  bool is_ns = ti->builtin && !strcmp(ti->t.kind, "Namespace");
  if (!obj) {
    registry_respond_not_found(resp, ti, name);
    goto done;
  }
  if (check_preconditions(ti, name, opts, obj, resp))
    goto done;
  if (is_ns && !strcmp(name, "default")) {
    api_respond_status(resp, 403, "Forbidden",
                       "namespaces \"default\" is forbidden: this namespace may not be deleted",
                       json_pack("{s:s, s:s}", "name", "default", "kind", "namespaces"));
    goto done;
  }
  const char *pp = jpath_str(opts, "propagationPolicy");
  if (!pp)
    pp = api_request_query(req, "propagationPolicy");
  if (pp && strcmp(pp, "Foreground") && strcmp(pp, "Background") && strcmp(pp, "Orphan")) {
    validate_errors errs = {0};
    json_t *pv = json_string(pp);
    validate_errors_add(&errs, FIELD_NOT_SUPPORTED, "propagationPolicy", pv,
                        "supported values: \"Foreground\", \"Background\", \"Orphan\"");
    json_decref(pv);
    registry_respond_invalid(resp, ti, name, &errs);
    validate_errors_free(&errs);
    goto done;
  }
  if (registry_dry_run(req) || (opts && str_eq(jpath_str(opts, "dryRun.0"), "All"))) {
    registry_respond_json_object(resp, 200, ti, version, req, obj);
    goto done;
  }
  if (is_crd) {
    /* remove every object of every version of this CRD, then the CRD */
    const char *group = jpath_str(obj, "spec.group");
    const char *plural = jpath_str(obj, "spec.names.plural");
    char *resource = group && plural ? str_printf("%s.%s", plural, group) : NULL;
    collection *c = resource ? registry_collection(r, resource, false) : NULL;
    const type_info *cti = resource ? registry_find_type_by_resource(r, resource) : NULL;
    if (c && cti) {
      while (c->count && !rc) {
        entry *ce = c->items[c->count - 1];
        char *ckey = str_dup(ce->key);
        json_t *cobj = registry_load_entry(ce);
        rc = cobj ? registry_commit_delete(r, cti, ckey, cobj) : ERR_NOMEM;
        json_decref(cobj);
        free(ckey);
      }
    }
    if (resource) {
      store_delete_resource(r->store, resource, r->rv);
      registry_watchers_end(r, resource);
    }
    free(resource);
    if (rc)
      goto done;
  }
  bool removed = false;
  if ((rc = delete_object(r, ti, key, obj, &removed)))
    goto done;
  if (ti->is_crd_served || is_crd || is_ns || !removed) {
    registry_respond_json_object(resp, 200, ti, version, req, obj);
  } else {
    json_t *d = registry_details(ti, name, ti->t.plural);
    json_object_set_new(d, "uid", json_string(jpath_str(obj, "metadata.uid") ? jpath_str(obj, "metadata.uid") : ""));
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Success", "registry_details", d);
    api_respond_json(resp, 200, st);
    json_decref(st);
  }
  if (is_ns && !removed)
    registry_namespace_sweep_schedule(r); /* contents go shortly after, as in kube */
  else if (removed && ti->t.namespaced)
    rc = namespace_maybe_finalize(r, ns);
  if (!rc && is_crd)
    rc = after_crd_change(r);
done:
  json_decref(obj);
  json_decref(opts);
  free(key);
  return rc;
}

int registry_handle_delete_collection(registry *r, const type_info *ti, const char *version,
                                    const char *ns, const api_request *req, api_response *resp) {
  selector *labels = NULL, *fields = NULL;
  if (registry_parse_selectors(ti, req, resp, &labels, &fields))
    return 0;
  collection *c = registry_collection(r, ti->resource, true);
  char **keys = calloc(c->count + 1, sizeof(char *));
  size_t nk = 0;
  for (size_t i = 0; keys && i < c->count; i++) {
    list_item it = {c->items[i]->key, c->items[i]->json, c->items[i]->labels};
    if (registry_item_matches(&it, ns, labels, fields))
      keys[nk++] = str_dup(c->items[i]->key);
  }
  int rc = 0;
  buf items = BUF_INIT;
  for (size_t i = 0; i < nk; i++) {
    entry *e = collection_find(c, keys[i], NULL);
    json_t *obj = registry_load_entry(e);
    bool removed;
    if (obj && !registry_dry_run(req) && !rc)
      rc = delete_object(r, ti, keys[i], obj, &removed);
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (text) {
      buf_printf(&items, "%s%s", items.len ? "," : "", text);
      free(text);
    }
    json_decref(obj);
    free(keys[i]);
  }
  free(keys);
  char *av = *ti->t.group ? str_printf("%s/%s", ti->t.group, version) : str_dup(version);
  buf_reset(&resp->body);
  buf_printf(&resp->body, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"},\"items\":[%s]}",
             ti->t.list_kind, av ? av : "", r->rv, buf_cstr(&items));
  resp->status = 200;
  str_copy(resp->content_type, "application/json", sizeof(resp->content_type));
  free(av);
  buf_free(&items);
  if (!rc && ns)
    rc = namespace_maybe_finalize(r, ns);
  selector_free(labels);
  selector_free(fields);
  return rc;
}

/* After a CRD was written or removed: rebuild the served types; end watches on
 * resources that went away. */
static int after_crd_change(registry *r) {
  int rc = registry_types_rebuild(r);
  for (size_t i = 0; i < r->coll_count; i++) {
    collection *c = r->colls[i];
    if (!registry_find_type_by_resource(r, c->resource))
      registry_watchers_end(r, c->resource);
  }
  return rc;
}

