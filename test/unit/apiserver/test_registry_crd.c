/* CustomResourceDefinitions: serving, schema validation and pruning, status subresource,
 * generation, versions and removal. */
#include "registry_fixture.h"

#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define WS "/apis/example.com/v1/namespaces/default/widgets"
#define W(spec) "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},\"spec\":" spec "}"

static void install(fixture *f) {
  reply r = fixture_req(f, "POST", CRDS, NULL, WIDGET_CRD);
  ck_assert_msg(r.status == 201, "%s", r.body);
  ck_assert_str_eq(reply_str(&r, "status.conditions.1.type"), "Established");
  ck_assert_str_eq(reply_str(&r, "status.conditions.1.status"), "True");
  ck_assert_str_eq(reply_str(&r, "status.conditions.0.type"), "NamesAccepted");
  ck_assert_str_eq(reply_str(&r, "status.acceptedNames.kind"), "Widget");
  ck_assert_str_eq(reply_str(&r, "status.storedVersions.0"), "v1");
  reply_free(&r);
}

START_TEST(test_crd_serves_resources) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 404, "GET", WS, NULL, NULL);
  size_t before;
  registry_types(f.reg, &before);
  install(&f);
  size_t after;
  const api_resource_type *types = registry_types(f.reg, &after);
  ck_assert_uint_eq(after, before + 2); /* v1 and v1beta1 */
  bool found = false;
  for (size_t i = 0; i < after; i++)
    found = found || (!strcmp(types[i].plural, "widgets") && types[i].has_status && types[i].storage_version);
  ck_assert(found);
  reply r = fixture_req(&f, "GET", "/apis/example.com/v1", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert(strstr(r.body, "\"widgets\"") != NULL);
  reply_free(&r);
  r = fixture_req(&f, "POST", WS, NULL, W("{\"size\":\"small\"}"));
  ck_assert_int_eq(r.status, 201);
  ck_assert_int_eq(jpath_int(r.json, "metadata.generation", 0), 1);
  ck_assert_int_eq(jpath_int(r.json, "spec.replicas", 0), 1); /* default */
  reply_free(&r);
  /* the other served version sees the same object under its apiVersion */
  r = fixture_req(&f, "GET", "/apis/example.com/v1beta1/namespaces/default/widgets/w", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "apiVersion"), "example.com/v1beta1");
  reply_free(&r);
  r = fixture_req_full(&f, "GET", WS, NULL, NULL, NULL, "application/json;as=Table;v=v1;g=meta.k8s.io");
  ck_assert_str_eq(reply_str(&r, "columnDefinitions.1.name"), "Replicas");
  ck_assert_int_eq(jpath_int(r.json, "rows.0.cells.1", 0), 1);
  reply_free(&r);
  /* a CRD with a bad name is refused */
  r = fixture_req(&f, "POST", CRDS, NULL,
                  "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\",\"metadata\":{\"name\":\"wrong.example.com\"},"
                  "\"spec\":{\"group\":\"example.com\",\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gizmos\",\"kind\":\"Gizmo\"},"
                  "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true}]}}");
  ck_assert_int_eq(r.status, 422);
  ck_assert(strstr(reply_str(&r, "message"), "must be spec.names.plural+\".\"+spec.group") != NULL);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_crd_validation_messages) {
  fixture f;
  fixture_open(&f, NULL);
  install(&f);
  reply r = fixture_req(&f, "POST", WS, NULL, W("{\"size\":\"small\",\"replicas\":\"string\"}"));
  ck_assert_int_eq(r.status, 422);
  ck_assert_str_eq(reply_str(&r, "reason"), "Invalid");
  ck_assert_str_eq(reply_str(&r, "message"),
                   "Widget.example.com \"w\" is invalid: spec.replicas: Invalid value: \"string\": "
                   "spec.replicas in body must be of type integer: \"string\"");
  ck_assert_str_eq(reply_str(&r, "details.causes.0.field"), "spec.replicas");
  ck_assert_str_eq(reply_str(&r, "details.causes.0.reason"), "FieldValueTypeInvalid");
  ck_assert_str_eq(reply_str(&r, "details.kind"), "Widget");
  ck_assert_str_eq(reply_str(&r, "details.group"), "example.com");
  reply_free(&r);
  struct {
    const char *spec, *want;
  } cases[] = {
      {"{}", "spec.size: Required value"},
      {"{\"size\":\"huge\"}", "spec.size: Unsupported value: \"huge\": supported values: \"small\", \"large\""},
      {"{\"size\":\"small\",\"replicas\":11}", "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"},
      {"{\"size\":\"small\",\"replicas\":-1}", "spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0"},
      {"{\"size\":\"small\",\"name\":\"ABC\"}", "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'"},
      {"{\"size\":\"small\",\"name\":\"abcdefghijk\"}", "spec.name: Too long: may not be more than 8 bytes"},
      {"{\"size\":\"small\",\"tags\":[\"a\",\"b\",\"c\"]}", "spec.tags: Too many: 3: must have at most 2 items"},
      {"{\"size\":\"small\",\"port\":true}", "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\""},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char body[512];
    snprintf(body, sizeof(body), "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},\"spec\":%s}", cases[i].spec);
    r = fixture_req(&f, "POST", WS, NULL, body);
    ck_assert_int_eq(r.status, 422);
    char *want = str_printf("Widget.example.com \"w\" is invalid: %s", cases[i].want);
    ck_assert_msg(!strcmp(reply_str(&r, "message"), want), "case %zu: got %s", i, reply_str(&r, "message"));
    free(want);
    reply_free(&r);
  }
  /* several errors are listed together */
  r = fixture_req(&f, "POST", WS, NULL, W("{\"size\":\"huge\",\"replicas\":\"x\"}"));
  ck_assert(str_has_prefix(reply_str(&r, "message"), "Widget.example.com \"w\" is invalid: ["));
  ck_assert_uint_eq(json_array_size(jpath_get(r.json, "details.causes")), 2);
  reply_free(&r);
  /* null in a non-nullable field is dropped, then defaulted */
  r = fixture_req(&f, "POST", WS, "dryRun=All", W("{\"size\":\"small\",\"replicas\":null,\"name\":null}"));
  ck_assert_int_eq(r.status, 201);
  ck_assert_int_eq(jpath_int(r.json, "spec.replicas", 0), 1);
  ck_assert_ptr_null(jpath_get(r.json, "spec.name"));
  reply_free(&r);
  /* int-or-string and preserved fields pass */
  EXPECT_STATUS(&f, 201, "POST", WS, NULL, W("{\"size\":\"small\",\"port\":\"http\",\"extra\":{\"any\":{\"thing\":1}}}"));
  fixture_close(&f);
}
END_TEST

START_TEST(test_crd_field_validation) {
  fixture f;
  fixture_open(&f, NULL);
  install(&f);
  const char *body = W("{\"size\":\"small\",\"bogus\":1}");
  reply r = fixture_req(&f, "POST", WS, "fieldValidation=Strict", body);
  ck_assert_int_eq(r.status, 400);
  ck_assert_str_eq(reply_str(&r, "message"),
                   "Widget in version \"v1\" cannot be handled as a Widget: strict decoding error: "
                   "unknown field \"spec.bogus\"");
  reply_free(&r);
  r = fixture_req(&f, "POST", WS, "fieldValidation=Warn", body);
  ck_assert_int_eq(r.status, 201);
  ck_assert_str_eq(r.warnings, "unknown field \"spec.bogus\"\n");
  ck_assert_ptr_null(jpath_get(r.json, "spec.bogus")); /* pruned */
  reply_free(&r);
  EXPECT_STATUS(&f, 200, "DELETE", WS "/w", NULL, NULL);
  r = fixture_req(&f, "POST", WS, "fieldValidation=Ignore", body);
  ck_assert_int_eq(r.status, 201);
  ck_assert_str_eq(r.warnings, "");
  ck_assert_ptr_null(jpath_get(r.json, "spec.bogus"));
  reply_free(&r);
  /* unknown metadata fields are reported too */
  r = fixture_req(&f, "PUT", WS "/w", "fieldValidation=Strict",
                  "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\",\"colour\":\"red\"},\"spec\":{\"size\":\"small\"}}");
  ck_assert_int_eq(r.status, 400);
  ck_assert(strstr(reply_str(&r, "message"), "unknown field \"metadata.colour\"") != NULL);
  reply_free(&r);
  /* strategic merge patch is refused for custom resources */
  r = fixture_req_full(&f, "PATCH", WS "/w", NULL, "application/strategic-merge-patch+json", "{}", NULL);
  ck_assert_int_eq(r.status, 415);
  ck_assert_str_eq(reply_str(&r, "reason"), "UnsupportedMediaType");
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_crd_status_and_generation) {
  fixture f;
  fixture_open(&f, NULL);
  install(&f);
  /* status on create is dropped when the status subresource is on */
  reply r = fixture_req(&f, "POST", WS, NULL,
                        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},\"spec\":{\"size\":\"small\"},\"status\":{\"phase\":\"x\"}}");
  ck_assert_int_eq(r.status, 201);
  ck_assert_ptr_null(jpath_get(r.json, "status"));
  reply_free(&r);
  r = fixture_req(&f, "PATCH", WS "/w/status", NULL, "{\"status\":{\"phase\":\"Ready\"},\"spec\":{\"size\":\"large\"}}");
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "status.phase"), "Ready");
  ck_assert_str_eq(reply_str(&r, "spec.size"), "small"); /* spec ignored on /status */
  ck_assert_int_eq(jpath_int(r.json, "metadata.generation", 0), 1);
  reply_free(&r);
  r = fixture_req(&f, "PATCH", WS "/w", NULL, "{\"status\":{\"phase\":\"Gone\"},\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
  ck_assert_str_eq(reply_str(&r, "status.phase"), "Ready"); /* status ignored on the main resource */
  ck_assert_int_eq(jpath_int(r.json, "metadata.generation", 0), 1); /* metadata only */
  reply_free(&r);
  r = fixture_req(&f, "PATCH", WS "/w", NULL, "{\"spec\":{\"replicas\":3}}");
  ck_assert_int_eq(jpath_int(r.json, "metadata.generation", 0), 2);
  reply_free(&r);
  EXPECT_STATUS(&f, 404, "GET", "/api/v1/namespaces/default/configmaps/x/status", NULL, NULL);
  fixture_close(&f);
}
END_TEST

START_TEST(test_crd_delete_removes_objects) {
  fixture f;
  fixture_open(&f, NULL);
  install(&f);
  EXPECT_STATUS(&f, 201, "POST", WS, NULL, W("{\"size\":\"small\"}"));
  reply w = fixture_req(&f, "GET", WS, "watch=true", NULL);
  reply r = fixture_req(&f, "DELETE", CRDS "/widgets.example.com", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  reply_free(&r);
  json_t *evs = stream_events(w.stream);
  ck_assert_str_eq(jpath_str(evs, "1.type"), "DELETED");
  ck_assert(w.stream->ended);
  json_decref(evs);
  reply_free(&w);
  EXPECT_STATUS(&f, 404, "GET", WS "/w", NULL, NULL);
  EXPECT_STATUS(&f, 404, "GET", "/apis/example.com/v1", NULL, NULL);
  /* re-created, it starts empty */
  install(&f);
  r = fixture_req(&f, "GET", WS, NULL, NULL);
  ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
  reply_free(&r);
  fixture_reopen(&f, NULL);
  r = fixture_req(&f, "GET", WS, NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 0);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_cluster_scoped_crd) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CRDS, NULL,
                "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\",\"metadata\":{\"name\":\"clusters.example.com\"},"
                "\"spec\":{\"group\":\"example.com\",\"scope\":\"Cluster\",\"names\":{\"plural\":\"clusters\",\"kind\":\"Cluster\"},"
                "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}");
  reply r = fixture_req(&f, "POST", "/apis/example.com/v1/clusters", NULL,
                        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Cluster\",\"metadata\":{\"name\":\"c1\"},\"spec\":{\"anything\":true}}");
  ck_assert_int_eq(r.status, 201);
  ck_assert_ptr_null(jpath_get(r.json, "metadata.namespace"));
  ck_assert(json_is_true(jpath_get(r.json, "spec.anything")));
  reply_free(&r);
  EXPECT_STATUS(&f, 404, "GET", "/apis/example.com/v1/namespaces/default/clusters/c1", NULL, NULL);
  EXPECT_STATUS(&f, 200, "GET", "/apis/example.com/v1/clusters/c1", NULL, NULL);
  fixture_close(&f);
}
END_TEST

Suite *crd_suite(void) {
  Suite *s = suite_create("registry_crd");
  TCase *tc = tcase_create("crd");
  tcase_add_test(tc, test_crd_serves_resources);
  tcase_add_test(tc, test_crd_validation_messages);
  tcase_add_test(tc, test_crd_field_validation);
  tcase_add_test(tc, test_crd_status_and_generation);
  tcase_add_test(tc, test_crd_delete_removes_objects);
  tcase_add_test(tc, test_cluster_scoped_crd);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(crd_suite)
