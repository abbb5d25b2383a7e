/*
 * discovery: see discovery.h. Every document is rebuilt from the type list on each call;
 * the lists are small (tens of types), and rebuilding keeps CRD changes visible at once.
 * Invariant: a type whose group is "" is a core type and appears only under /api.
 */
#include "apiserver/discovery.h"

#include "base/error.h"
#include "base/str.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const resource_verbs[] = {"create", "delete", "deletecollection", "get",
                                             "list",   "patch",  "update",           "watch"};
static const char *const status_verbs[] = {"get", "patch", "update"};

static json_t *string_array(const char *const *items, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    json_array_append_new(arr, json_string(items[i]));
  return arr;
}

static json_t *null_terminated_array(char **items) {
  json_t *arr = json_array();
  for (size_t i = 0; arr && items && items[i]; i++)
    json_array_append_new(arr, json_string(items[i]));
  return arr;
}

static size_t null_terminated_count(char **items) {
  size_t n = 0;
  while (items && items[n])
    n++;
  return n;
}

json_t *discovery_version(void) {
  json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
                        "32", "gitVersion", DISCOVERY_GIT_VERSION, "gitCommit",
                        "0000000000000000000000000000000000000000", "gitTreeState", "clean",
                        "buildDate", "2026-01-01T00:00:00Z", "goVersion", "portico", "compiler",
                        "gc", "platform", "linux/amd64");
  if (!v)
    error_set(ERR_NOMEM, "out of memory");
  return v;
}

/* --- version priority ---------------------------------------------------------------- */

/* Parses "v<major>[(alpha|beta)<minor>]"; level 3 GA, 2 beta, 1 alpha; false otherwise. */
static bool parse_kube_version(const char *v, long *major, int *level, long *minor) {
  if (v[0] != 'v' || !isdigit((unsigned char)v[1]) || v[1] == '0')
    return false;
  const char *p = v + 1;
  long m = 0;
  while (isdigit((unsigned char)*p) && m < 100000)
    m = m * 10 + (*p++ - '0');
  if (isdigit((unsigned char)*p))
    return false;
  *major = m;
  *minor = 0;
  if (!*p) {
    *level = 3;
    return true;
  }
  if (str_has_prefix(p, "beta")) {
    *level = 2;
    p += 4;
  } else if (str_has_prefix(p, "alpha")) {
    *level = 1;
    p += 5;
  } else {
    return false;
  }
  if (!isdigit((unsigned char)*p) || *p == '0')
    return false;
  long n = 0;
  while (isdigit((unsigned char)*p) && n < 100000)
    n = n * 10 + (*p++ - '0');
  if (*p)
    return false;
  *minor = n;
  return true;
}

int discovery_version_compare(const char *a, const char *b) {
  long amaj, amin, bmaj, bmin;
  int alev, blev;
  bool ak = parse_kube_version(a, &amaj, &alev, &amin);
  bool bk = parse_kube_version(b, &bmaj, &blev, &bmin);
  if (ak && bk) {
    if (alev != blev)
      return blev - alev;
    if (amaj != bmaj)
      return amaj > bmaj ? -1 : 1;
    if (amin != bmin)
      return amin > bmin ? -1 : 1;
    return 0;
  }
  if (ak != bk)
    return ak ? -1 : 1;
  return strcmp(a, b);
}

/* --- group and version bookkeeping ----------------------------------------------------- */

/* The distinct values, in order of first appearance: with `group` NULL the groups of the
 * non-core types, otherwise the versions served for `group` sorted by version priority.
 * Caller frees the array (the strings are borrowed from types); NULL on ERR_NOMEM. */
static const char **distinct(const api_resource_type *types, size_t count, const char *group,
                             size_t *n_out) {
  const char **out = calloc(count + 1, sizeof(*out));
  size_t n = 0;
  if (!out) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    if (group ? strcmp(types[i].group, group) != 0 : !types[i].group[0])
      continue;
    const char *value = group ? types[i].version : types[i].group;
    bool seen = false;
    for (size_t j = 0; j < n && !seen; j++)
      seen = !strcmp(out[j], value);
    if (!seen)
      out[n++] = value;
  }
  /* insertion sort by priority (versions only): n is tiny */
  for (size_t i = 1; group && i < n; i++)
    for (size_t j = i; j > 0 && discovery_version_compare(out[j - 1], out[j]) > 0; j--) {
      const char *t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  *n_out = n;
  return out;
}

static const char **group_versions(const api_resource_type *types, size_t count, const char *group,
                                   size_t *n_out) {
  return distinct(types, count, group, n_out);
}

static const char **distinct_groups(const api_resource_type *types, size_t count, size_t *n_out) {
  return distinct(types, count, NULL, n_out);
}

static json_t *group_version_ref(const char *group, const char *version) {
  char *gv = group[0] ? str_printf("%s/%s", group, version) : str_dup(version);
  json_t *j = gv ? json_pack("{s:s, s:s}", "groupVersion", gv, "version", version) : NULL;
  free(gv);
  return j;
}

json_t *discovery_core_versions(const api_resource_type *types, size_t count) {
  json_t *versions = json_array();
  size_t n = 0;
  const char **vs = group_versions(types, count, "", &n);
  for (size_t i = 0; versions && vs && i < n; i++)
    json_array_append_new(versions, json_string(vs[i]));
  free(vs);
  json_t *doc = json_pack("{s:s, s:o, s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", versions,
                          "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                          "127.0.0.1");
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

static json_t *api_group(const api_resource_type *types, size_t count, const char *group) {
  size_t n = 0;
  const char **vs = group_versions(types, count, group, &n);
  if (!vs || n == 0) {
    free(vs);
    return NULL;
  }
  json_t *versions = json_array();
  for (size_t i = 0; versions && i < n; i++)
    json_array_append_new(versions, group_version_ref(group, vs[i]));
  json_t *g = json_pack("{s:s, s:o, s:o}", "name", group, "versions", versions, "preferredVersion",
                        group_version_ref(group, vs[0]));
  free(vs);
  return g;
}

json_t *discovery_group_list(const api_resource_type *types, size_t count) {
  size_t n = 0;
  const char **groups = distinct_groups(types, count, &n);
  if (!groups)
    return NULL;
  json_t *arr = json_array();
  for (size_t i = 0; arr && i < n; i++)
    json_array_append_new(arr, api_group(types, count, groups[i]));
  free(groups);
  json_t *doc =
      json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", arr);
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

/* --- resource lists -------------------------------------------------------------------- */

static json_t *legacy_resource(const api_resource_type *t) {
  json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", t->plural, "singularName",
                        t->singular ? t->singular : "", "namespaced", t->namespaced, "kind",
                        t->kind, "verbs", string_array(resource_verbs, 8));
  if (r && null_terminated_count(t->short_names))
    json_object_set_new(r, "shortNames", null_terminated_array(t->short_names));
  if (r && null_terminated_count(t->categories))
    json_object_set_new(r, "categories", null_terminated_array(t->categories));
  return r;
}

json_t *discovery_resource_list(const api_resource_type *types, size_t count, const char *group,
                                const char *version) {
  json_t *resources = json_array();
  size_t found = 0;
  for (size_t i = 0; resources && i < count; i++) {
    const api_resource_type *t = &types[i];
    if (strcmp(t->group, group) || strcmp(t->version, version))
      continue;
    found++;
    json_array_append_new(resources, legacy_resource(t));
    if (t->has_status) {
      char *name = str_printf("%s/status", t->plural);
      json_array_append_new(resources,
                            json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name ? name : "",
                                      "singularName", "", "namespaced", t->namespaced, "kind",
                                      t->kind, "verbs", string_array(status_verbs, 3)));
      free(name);
    }
  }
  if (!found) {
    json_decref(resources);
    error_set(ERR_NOTFOUND, "the server could not find the requested resource");
    return NULL;
  }
  char *gv = group[0] ? str_printf("%s/%s", group, version) : str_dup(version);
  json_t *doc = json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                          "groupVersion", gv ? gv : "", "resources", resources);
  free(gv);
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

/* --- aggregated discovery (apidiscovery.k8s.io/v2) ------------------------------------ */

static json_t *aggregated_resource(const api_resource_type *t) {
  json_t *r = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", t->plural,
                        "responseKind", "group", t->group, "version", t->version, "kind", t->kind,
                        "scope", t->namespaced ? "Namespaced" : "Cluster", "singularResource",
                        t->singular ? t->singular : "", "verbs", string_array(resource_verbs, 8));
  if (!r)
    return NULL;
  if (null_terminated_count(t->short_names))
    json_object_set_new(r, "shortNames", null_terminated_array(t->short_names));
  if (null_terminated_count(t->categories))
    json_object_set_new(r, "categories", null_terminated_array(t->categories));
  if (t->has_status)
    json_object_set_new(r, "subresources",
                        json_pack("[{s:s, s:{s:s, s:s, s:s}, s:o}]", "subresource", "status",
                                  "responseKind", "group", t->group, "version", t->version, "kind",
                                  t->kind, "verbs", string_array(status_verbs, 3)));
  return r;
}

static json_t *aggregated_group(const api_resource_type *types, size_t count, const char *group) {
  size_t n = 0;
  const char **vs = group_versions(types, count, group, &n);
  if (!vs)
    return NULL;
  json_t *versions = json_array();
  for (size_t v = 0; versions && v < n; v++) {
    json_t *resources = json_array();
    for (size_t i = 0; resources && i < count; i++)
      if (!strcmp(types[i].group, group) && !strcmp(types[i].version, vs[v]))
        json_array_append_new(resources, aggregated_resource(&types[i]));
    json_array_append_new(versions, json_pack("{s:s, s:o, s:s}", "version", vs[v], "resources",
                                              resources, "freshness", "Current"));
  }
  free(vs);
  return json_pack("{s:{s:s, s:n}, s:o}", "metadata", "name", group, "creationTimestamp",
                   "versions", versions);
}

json_t *discovery_aggregated(const api_resource_type *types, size_t count, bool core) {
  json_t *items = json_array();
  if (core) {
    size_t n = 0;
    const char **vs = group_versions(types, count, "", &n);
    if (vs && n)
      json_array_append_new(items, aggregated_group(types, count, ""));
    free(vs);
  } else {
    size_t n = 0;
    const char **groups = distinct_groups(types, count, &n);
    for (size_t i = 0; items && groups && i < n; i++)
      json_array_append_new(items, aggregated_group(types, count, groups[i]));
    free(groups);
  }
  json_t *doc = json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
                          "apidiscovery.k8s.io/v2", "metadata", "items", items);
  if (!doc)
    error_set(ERR_NOMEM, "out of memory");
  return doc;
}

bool discovery_accepts_aggregated(const char *accept) {
  /* Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,... ;
   * look at each media range on its own. */
  if (!accept)
    return false;
  const char *p = accept;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char range[512];
    if (len < sizeof(range)) {
      memcpy(range, p, len);
      range[len] = 0;
      char *nospace = range, *w = range;
      for (; *nospace; nospace++)
        if (*nospace != ' ')
          *w++ = *nospace;
      *w = 0;
      bool v2 = strstr(range, ";v=v2;") || str_has_suffix(range, ";v=v2");
      if (str_has_prefix(range, "application/json;") && strstr(range, ";g=apidiscovery.k8s.io") &&
          strstr(range, ";as=APIGroupDiscoveryList") && v2)
        return true;
    }
    if (!end)
      break;
    p = end + 1;
  }
  return false;
}

/* --- serving --------------------------------------------------------------------------- */

void discovery_respond_document(api_response *resp, json_t *doc, const char *content_type) {
  if (!doc) {
    if (error_code() == ERR_NOTFOUND)
      api_respond_status(resp, 404, "NotFound", "the server could not find the requested resource",
                         NULL);
    else
      api_respond_status(resp, 500, "InternalError", error_message(), NULL);
    return;
  }
  api_respond_json(resp, 200, doc);
  if (content_type)
    str_copy(resp->content_type, content_type, sizeof(resp->content_type));
  json_decref(doc);
}

bool discovery_serve(const api_request *req, api_response *resp, const api_resource_type *types,
                     size_t count) {
  const char *path = req->path;
  char seg[3][256];
  size_t nseg = 0;
  /* split into at most 3 segments after the root; more means "not discovery" */
  const char *p = path;
  if (*p != '/')
    return false;
  while (*p == '/')
    p++;
  while (*p) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (nseg == 3 || len >= sizeof(seg[0]))
      return false;
    memcpy(seg[nseg], p, len);
    seg[nseg][len] = 0;
    nseg++;
    p += len;
    while (*p == '/')
      p++;
  }
  bool is_discovery = (nseg == 1 && (!strcmp(seg[0], "version") || !strcmp(seg[0], "api") ||
                                     !strcmp(seg[0], "apis"))) ||
                      (nseg == 2 && (!strcmp(seg[0], "api") || !strcmp(seg[0], "apis"))) ||
                      (nseg == 3 && !strcmp(seg[0], "apis"));
  if (!is_discovery)
    return false;
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    api_respond_status(resp, 405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource", NULL);
    return true;
  }
  bool aggregated = discovery_accepts_aggregated(req->accept);
  if (nseg == 1 && !strcmp(seg[0], "version")) {
    discovery_respond_document(resp, discovery_version(), NULL);
  } else if (nseg == 1 && !strcmp(seg[0], "api")) {
    if (aggregated)
      discovery_respond_document(resp, discovery_aggregated(types, count, true),
                                 DISCOVERY_AGGREGATED_CONTENT_TYPE);
    else
      discovery_respond_document(resp, discovery_core_versions(types, count), NULL);
  } else if (nseg == 1) {
    if (aggregated)
      discovery_respond_document(resp, discovery_aggregated(types, count, false),
                                 DISCOVERY_AGGREGATED_CONTENT_TYPE);
    else
      discovery_respond_document(resp, discovery_group_list(types, count), NULL);
  } else if (nseg == 2 && !strcmp(seg[0], "api")) {
    discovery_respond_document(resp, discovery_resource_list(types, count, "", seg[1]), NULL);
  } else if (nseg == 2) {
    json_t *g = api_group(types, count, seg[1]);
    if (g) {
      json_object_set_new(g, "kind", json_string("APIGroup"));
      json_object_set_new(g, "apiVersion", json_string("v1"));
    } else {
      error_set(ERR_NOTFOUND, "not found");
    }
    discovery_respond_document(resp, g, NULL);
  } else {
    discovery_respond_document(resp, discovery_resource_list(types, count, seg[1], seg[2]), NULL);
  }
  return true;
}
