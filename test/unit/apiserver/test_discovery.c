/* Unit tests for apiserver/discovery and apiserver/openapi: documents built from a small
 * fixed set of types (core ConfigMap, a CRD group with two versions). */
#include "apiserver/discovery.h"
#include "apiserver/openapi.h"
#include "base/error.h"
#include "common/testutil.h"

#include <string.h>

static char *cm_short[] = {"cm", NULL};
static char *widget_short[] = {"wd", NULL};
static char *widget_cat[] = {"all", NULL};

static api_resource_type types[] = {
    {.group = "",
     .version = "v1",
     .kind = "ConfigMap",
     .list_kind = "ConfigMapList",
     .plural = "configmaps",
     .singular = "configmap",
     .namespaced = true,
     .short_names = cm_short},
    {.group = "",
     .version = "v1",
     .kind = "Namespace",
     .list_kind = "NamespaceList",
     .plural = "namespaces",
     .singular = "namespace",
     .namespaced = false,
     .has_status = true},
    {.group = "example.portico.dev",
     .version = "v1alpha1",
     .kind = "Widget",
     .list_kind = "WidgetList",
     .plural = "widgets",
     .singular = "widget",
     .namespaced = true,
     .has_status = true,
     .short_names = widget_short,
     .categories = widget_cat},
    {.group = "example.portico.dev",
     .version = "v1",
     .kind = "Widget",
     .list_kind = "WidgetList",
     .plural = "widgets",
     .singular = "widget",
     .namespaced = true,
     .has_status = true},
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

static api_request get(const char *path, const char *accept) {
  api_request r = {.method = "GET",
                   .path = path,
                   .raw_query = "",
                   .content_type = "",
                   .accept = accept,
                   .user_agent = "",
                   .body = "",
                   .body_len = 0};
  return r;
}

static json_t *parse(const api_response *resp) {
  json_error_t e;
  json_t *j = json_loads(buf_cstr(&resp->body), 0, &e);
  ck_assert_msg(j != NULL, "bad JSON: %s", e.text);
  return j;
}

START_TEST(test_version_priority) {
  ck_assert_int_lt(discovery_version_compare("v1", "v1beta1"), 0);
  ck_assert_int_lt(discovery_version_compare("v2", "v1"), 0);
  ck_assert_int_lt(discovery_version_compare("v1beta2", "v1beta1"), 0);
  ck_assert_int_lt(discovery_version_compare("v1beta1", "v1alpha1"), 0);
  ck_assert_int_lt(discovery_version_compare("v1alpha1", "foo"), 0);
  ck_assert_int_gt(discovery_version_compare("zzz", "v3alpha1"), 0);
  ck_assert_int_lt(discovery_version_compare("abc", "abd"), 0);
  ck_assert_int_eq(discovery_version_compare("v1", "v1"), 0);
}
END_TEST

START_TEST(test_resource_list) {
  json_t *doc = discovery_resource_list(types, NTYPES, "", "v1");
  ck_assert_ptr_nonnull(doc);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "groupVersion")), "v1");
  json_t *res = json_object_get(doc, "resources");
  ck_assert_int_eq(json_array_size(res), 3); /* configmaps, namespaces, namespaces/status */
  json_t *cm = json_array_get(res, 0);
  ck_assert_str_eq(json_string_value(json_object_get(cm, "name")), "configmaps");
  ck_assert(json_is_true(json_object_get(cm, "namespaced")));
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(cm, "shortNames"), 0)), "cm");
  ck_assert_int_eq(json_array_size(json_object_get(cm, "verbs")), 8);
  ck_assert_str_eq(json_string_value(json_object_get(json_array_get(res, 2), "name")),
                   "namespaces/status");
  json_decref(doc);

  doc = discovery_resource_list(types, NTYPES, "example.portico.dev", "v1alpha1");
  ck_assert_ptr_nonnull(doc);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "groupVersion")),
                   "example.portico.dev/v1alpha1");
  json_decref(doc);
  ck_assert_ptr_null(discovery_resource_list(types, NTYPES, "nope.dev", "v1"));
  ck_assert_int_eq(error_code(), ERR_NOTFOUND);
}
END_TEST

START_TEST(test_group_list_preferred) {
  json_t *doc = discovery_group_list(types, NTYPES);
  json_t *groups = json_object_get(doc, "groups");
  ck_assert_int_eq(json_array_size(groups), 1);
  json_t *g = json_array_get(groups, 0);
  ck_assert_str_eq(
      json_string_value(json_object_get(json_object_get(g, "preferredVersion"), "version")), "v1");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(g, "versions"), 1), "groupVersion")),
                   "example.portico.dev/v1alpha1");
  json_decref(doc);
}
END_TEST

START_TEST(test_serve_aggregated) {
  api_response resp = {0};
  api_request req = get(
      "/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/"
               "json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json");
  ck_assert(discovery_serve(&req, &resp, types, NTYPES));
  ck_assert_int_eq(resp.status, 200);
  ck_assert_str_eq(resp.content_type, DISCOVERY_AGGREGATED_CONTENT_TYPE);
  json_t *doc = parse(&resp);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "APIGroupDiscoveryList");
  json_t *item = json_array_get(json_object_get(doc, "items"), 0);
  json_t *v0 = json_array_get(json_object_get(item, "versions"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(v0, "version")), "v1");
  json_t *r0 = json_array_get(json_object_get(v0, "resources"), 0);
  ck_assert_str_eq(json_string_value(json_object_get(r0, "scope")), "Namespaced");
  ck_assert_str_eq(json_string_value(json_object_get(
                       json_array_get(json_object_get(r0, "subresources"), 0), "subresource")),
                   "status");
  json_decref(doc);

  /* plain JSON Accept gets the legacy document */
  req = get("/api", "application/json, */*");
  ck_assert(discovery_serve(&req, &resp, types, NTYPES));
  doc = parse(&resp);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "APIVersions");
  json_decref(doc);

  req = get("/apis/nope.dev/v1", "");
  ck_assert(discovery_serve(&req, &resp, types, NTYPES));
  ck_assert_int_eq(resp.status, 404);
  req = get("/api/v1/namespaces", "");
  ck_assert(!discovery_serve(&req, &resp, types, NTYPES));
  req = get("/version", "");
  ck_assert(discovery_serve(&req, &resp, types, NTYPES));
  doc = parse(&resp);
  ck_assert_str_eq(json_string_value(json_object_get(doc, "gitVersion")), DISCOVERY_GIT_VERSION);
  json_decref(doc);
  buf_free(&resp.body);
}
END_TEST

START_TEST(test_definition_names) {
  const char *cases[][4] = {
      {"", "v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap"},
      {"coordination.k8s.io", "v1", "Lease", "io.k8s.api.coordination.v1.Lease"},
      {"apiextensions.k8s.io", "v1", "CustomResourceDefinition",
       "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"},
      {"portico.dev", "v1alpha1", "Repository", "dev.portico.v1alpha1.Repository"},
      {"a.b.example.com", "v2", "X", "com.example.b.a.v2.X"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *n = openapi_definition_name(cases[i][0], cases[i][1], cases[i][2]);
    ck_assert_str_eq(n, cases[i][3]);
    free(n);
  }
}
END_TEST

START_TEST(test_openapi_v3) {
  api_response resp = {0};
  api_request req = get("/openapi/v3", "application/json");
  ck_assert(openapi_serve(&req, &resp, types, NTYPES));
  json_t *idx = parse(&resp);
  const char *url = json_string_value(json_object_get(
      json_object_get(json_object_get(idx, "paths"), "apis/example.portico.dev/v1alpha1"),
      "serverRelativeURL"));
  ck_assert_ptr_nonnull(url);
  ck_assert(strncmp(url, "/openapi/v3/apis/example.portico.dev/v1alpha1?hash=", 51) == 0);
  ck_assert_int_eq(strlen(url), 51 + 64);
  json_decref(idx);

  json_t *doc = openapi_v3_group_version(types, NTYPES, "example.portico.dev", "v1alpha1");
  ck_assert_ptr_nonnull(doc);
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_t *w = json_object_get(schemas, "dev.portico.example.v1alpha1.Widget");
  ck_assert_ptr_nonnull(w);
  ck_assert_str_eq(
      json_string_value(json_object_get(
          json_array_get(json_object_get(w, "x-kubernetes-group-version-kind"), 0), "kind")),
      "Widget");
  json_t *patch = json_object_get(
      json_object_get(json_object_get(doc, "paths"),
                      "/apis/example.portico.dev/v1alpha1/namespaces/{namespace}/widgets/{name}"),
      "patch");
  ck_assert_ptr_nonnull(patch);
  bool has_fv = false;
  json_t *p;
  size_t i;
  json_array_foreach(json_object_get(patch, "parameters"), i, p) has_fv |=
      !strcmp(json_string_value(json_object_get(p, "name")), "fieldValidation") &&
      !strcmp(json_string_value(json_object_get(p, "in")), "query");
  ck_assert(has_fv);
  ck_assert_ptr_nonnull(json_object_get(
      json_object_get(doc, "paths"),
      "/apis/example.portico.dev/v1alpha1/namespaces/{namespace}/widgets/{name}/status"));
  json_decref(doc);

  req = get("/openapi/v3/apis/nope.dev/v1", "application/json");
  ck_assert(openapi_serve(&req, &resp, types, NTYPES));
  ck_assert_int_eq(resp.status, 404);
  req = get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
  ck_assert(openapi_serve(&req, &resp, types, NTYPES));
  ck_assert_int_eq(resp.status, 200);
  ck_assert_str_eq(resp.content_type, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
  ck_assert_int_eq(resp.body.len, 5);
  req = get("/openapi/v2", "application/yaml");
  ck_assert(openapi_serve(&req, &resp, types, NTYPES));
  ck_assert_int_eq(resp.status, 406);
  req = get("/openapi/v2", "application/json");
  ck_assert(openapi_serve(&req, &resp, types, NTYPES));
  ck_assert_int_eq(resp.status, 200);
  doc = parse(&resp);
  ck_assert_ptr_nonnull(
      json_object_get(json_object_get(doc, "definitions"), "io.k8s.api.core.v1.ConfigMap"));
  json_decref(doc);
  buf_free(&resp.body);
}
END_TEST

static Suite *discovery_suite(void) {
  Suite *s = suite_create("discovery");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_version_priority);
  tcase_add_test(tc, test_resource_list);
  tcase_add_test(tc, test_group_list_preferred);
  tcase_add_test(tc, test_serve_aggregated);
  tcase_add_test(tc, test_definition_names);
  tcase_add_test(tc, test_openapi_v3);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(discovery_suite)
