/* Unit tests of the registry's verbs, driven through registry_handle(). */
#include "registry_fixture.h"

#define CM(name, extra) \
  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name "\"" extra "},\"data\":{\"a\":\"1\"}}"
#define CMS "/api/v1/namespaces/default/configmaps"

START_TEST(test_create_get_and_metadata) {
  fixture f;
  fixture_open(&f, NULL);
  reply r = fixture_req(&f, "POST", CMS, NULL, CM("one", ""));
  ck_assert_int_eq(r.status, 201);
  ck_assert_str_eq(reply_str(&r, "metadata.namespace"), "default");
  ck_assert_uint_eq(strlen(reply_str(&r, "metadata.uid")), 36);
  ck_assert_ptr_nonnull(reply_str(&r, "metadata.creationTimestamp"));
  long long rv1 = strtoll(reply_str(&r, "metadata.resourceVersion"), NULL, 10);
  ck_assert_int_gt(rv1, 0);
  ck_assert_ptr_null(jpath_get(r.json, "metadata.generation"));
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, CM("two", ""));
  ck_assert_int_eq(strtoll(reply_str(&r, "metadata.resourceVersion"), NULL, 10), rv1 + 1);
  reply_free(&r);
  r = fixture_req(&f, "GET", CMS "/one", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "data.a"), "1");
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, CM("one", ""));
  ck_assert_int_eq(r.status, 409);
  ck_assert_str_eq(reply_str(&r, "reason"), "AlreadyExists");
  ck_assert_str_eq(reply_str(&r, "message"), "configmaps \"one\" already exists");
  reply_free(&r);
  r = fixture_req(&f, "GET", CMS "/nope", NULL, NULL);
  ck_assert_int_eq(r.status, 404);
  ck_assert_str_eq(reply_str(&r, "message"), "configmaps \"nope\" not found");
  ck_assert_str_eq(reply_str(&r, "details.kind"), "configmaps");
  reply_free(&r);
  r = fixture_req(&f, "POST", "/api/v1/namespaces/missing/configmaps", NULL, CM("x", ""));
  ck_assert_int_eq(r.status, 404);
  ck_assert_str_eq(reply_str(&r, "message"), "namespaces \"missing\" not found");
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_generate_name_and_names) {
  fixture f;
  fixture_open(&f, NULL);
  reply r = fixture_req(&f, "POST", CMS, NULL,
                        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"generateName\":\"gen-\"}}");
  ck_assert_int_eq(r.status, 201);
  const char *name = reply_str(&r, "metadata.name");
  ck_assert(str_has_prefix(name, "gen-"));
  ck_assert_uint_eq(strlen(name), 9);
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, CM("Bad_Name", ""));
  ck_assert_int_eq(r.status, 422);
  ck_assert_str_eq(reply_str(&r, "reason"), "Invalid");
  ck_assert(str_has_prefix(reply_str(&r, "message"),
                           "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: "
                           "\"Bad_Name\": a lowercase RFC 1123 subdomain must consist of"));
  ck_assert_str_eq(reply_str(&r, "details.causes.0.field"), "metadata.name");
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, CM("lbl", ",\"labels\":{\"ok\":\"bad value\"}"));
  ck_assert_int_eq(r.status, 422);
  ck_assert(strstr(reply_str(&r, "message"), "metadata.labels: Invalid value: \"bad value\"") != NULL);
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{}}");
  ck_assert_int_eq(r.status, 422);
  ck_assert(strstr(reply_str(&r, "message"), "metadata.name: Required value: name or generateName is required") != NULL);
  reply_free(&r);
  /* namespaces use the DNS-1123 label rule */
  r = fixture_req(&f, "POST", "/api/v1/namespaces", NULL,
                  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"a.b\"}}");
  ck_assert_int_eq(r.status, 422);
  ck_assert(strstr(reply_str(&r, "message"), "RFC 1123 label") != NULL);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_update_conflict_and_noop) {
  fixture f;
  fixture_open(&f, NULL);
  reply r = fixture_req(&f, "POST", CMS, NULL, CM("u", ""));
  char *rv = str_dup(reply_str(&r, "metadata.resourceVersion"));
  reply_free(&r);
  char body[512];
  snprintf(body, sizeof(body),
           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"u\",\"resourceVersion\":\"%s\"},\"data\":{\"a\":\"2\"}}", rv);
  r = fixture_req(&f, "PUT", CMS "/u", NULL, body);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "data.a"), "2");
  ck_assert_str_ne(reply_str(&r, "metadata.resourceVersion"), rv);
  char *rv2 = str_dup(reply_str(&r, "metadata.resourceVersion"));
  reply_free(&r);
  r = fixture_req(&f, "PUT", CMS "/u", NULL, body); /* stale */
  ck_assert_int_eq(r.status, 409);
  ck_assert_str_eq(reply_str(&r, "reason"), "Conflict");
  ck_assert_str_eq(reply_str(&r, "message"),
                   "Operation cannot be fulfilled on configmaps \"u\": the object has been "
                   "modified; please apply your changes to the latest version and try again");
  reply_free(&r);
  /* the same content again: nothing written */
  r = fixture_req(&f, "PUT", CMS "/u", NULL,
                  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"u\"},\"data\":{\"a\":\"2\"}}");
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "metadata.resourceVersion"), rv2);
  reply_free(&r);
  EXPECT_STATUS(&f, 400, "PUT", CMS "/other", NULL, body); /* name mismatch */
  r = fixture_req(&f, "PUT", CMS "/other", NULL,
                  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"other\"}}");
  ck_assert_int_eq(r.status, 404);
  reply_free(&r);
  free(rv);
  free(rv2);
  fixture_close(&f);
}
END_TEST

START_TEST(test_bad_input) {
  fixture f;
  fixture_open(&f, NULL);
  reply r = fixture_req(&f, "POST", CMS, NULL, "{not json");
  ck_assert_int_eq(r.status, 400);
  ck_assert_str_eq(reply_str(&r, "reason"), "BadRequest");
  reply_free(&r);
  r = fixture_req_full(&f, "POST", CMS, NULL, "text/plain", CM("x", ""), NULL);
  ck_assert_int_eq(r.status, 415);
  ck_assert_str_eq(reply_str(&r, "reason"), "UnsupportedMediaType");
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}");
  ck_assert_int_eq(r.status, 400);
  reply_free(&r);
  r = fixture_req(&f, "POST", CMS, NULL, "{\"apiVersion\":\"apps/v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
  ck_assert_int_eq(r.status, 400);
  ck_assert_str_eq(reply_str(&r, "message"), "the API version in the data (apps/v1) does not match the expected API version (v1)");
  reply_free(&r);
  r = fixture_req(&f, "GET", "/api/v1/namespaces/default/widgets", NULL, NULL);
  ck_assert_int_eq(r.status, 404);
  ck_assert_str_eq(reply_str(&r, "message"), "the server could not find the requested resource");
  reply_free(&r);
  EXPECT_STATUS(&f, 404, "GET", "/apis/nope.io/v1/things", NULL, NULL);
  EXPECT_STATUS(&f, 405, "POST", CMS "/x", NULL, CM("x", ""));
  r = fixture_req(&f, "GET", CMS, "labelSelector=a%%(", NULL);
  ck_assert_int_eq(r.status, 400);
  reply_free(&r);
  r = fixture_req(&f, "GET", CMS, "fieldSelector=spec.foo=1", NULL);
  ck_assert_int_eq(r.status, 400);
  ck_assert_str_eq(reply_str(&r, "message"), "field label not supported: spec.foo");
  reply_free(&r);
  /* field labels depend on the kind */
  EXPECT_STATUS(&f, 400, "GET", CMS, "fieldSelector=type=Opaque", NULL);
  EXPECT_STATUS(&f, 200, "GET", "/api/v1/namespaces/default/secrets", "fieldSelector=type=Opaque", NULL);
  EXPECT_STATUS(&f, 200, "GET", "/api/v1/events", "fieldSelector=involvedObject.name=x,involvedObject.kind=ConfigMap", NULL);
  /* yaml is accepted */
  r = fixture_req_full(&f, "POST", CMS, NULL, "application/yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fromyaml\ndata:\n  n: \"5\"\n", NULL);
  ck_assert_int_eq(r.status, 201);
  reply_free(&r);
  r = fixture_req_full(&f, "POST", CMS, NULL, "application/yaml", "a: [b\n", NULL);
  ck_assert_int_eq(r.status, 400);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_list_selectors) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("a", ",\"labels\":{\"app\":\"web\",\"tier\":\"front\"}"));
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("b", ",\"labels\":{\"app\":\"db\"}"));
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("c", ""));
  struct {
    const char *q;
    const char *names;
  } cases[] = {
      {"labelSelector=app=web", "a"},
      {"labelSelector=app!=web", "b,c"},
      {"labelSelector=app in (web,db)", "a,b"},
      {"labelSelector=app notin (web)", "b,c"},
      {"labelSelector=app", "a,b"},
      {"labelSelector=!app", "c"},
      {"labelSelector=app,tier=front", "a"},
      {"fieldSelector=metadata.name=b", "b"},
      {"fieldSelector=metadata.name!=b", "a,c"},
      {"", "a,b,c"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    reply r = fixture_req(&f, "GET", CMS, cases[i].q, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(reply_str(&r, "kind"), "ConfigMapList");
    buf names = BUF_INIT;
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(r.json, "items"), k, it) {
      buf_printf(&names, "%s%s", k ? "," : "", jpath_str(it, "metadata.name"));
    }
    ck_assert_msg(!strcmp(buf_cstr(&names), cases[i].names), "%s: got %s", cases[i].q, buf_cstr(&names));
    buf_free(&names);
    reply_free(&r);
  }
  /* across namespaces */
  reply r = fixture_req(&f, "GET", "/api/v1/configmaps", NULL, NULL);
  ck_assert_uint_eq(json_array_size(json_object_get(r.json, "items")), 3);
  reply_free(&r);
  /* server-side printing */
  r = fixture_req_full(&f, "GET", CMS, NULL, NULL, NULL, "application/json;as=Table;v=v1;g=meta.k8s.io");
  ck_assert_str_eq(reply_str(&r, "kind"), "Table");
  ck_assert_str_eq(reply_str(&r, "columnDefinitions.1.name"), "Data");
  ck_assert_uint_eq(json_array_size(json_object_get(r.json, "rows")), 3);
  ck_assert_int_eq(jpath_int(r.json, "rows.0.cells.1", -1), 1);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

static size_t list_names(fixture *f, const char *query, buf *names, char **cont, int *status) {
  reply r = fixture_req(f, "GET", CMS, query, NULL);
  *status = r.status;
  size_t k;
  json_t *it;
  json_array_foreach(json_object_get(r.json, "items"), k, it) {
    buf_printf(names, "%s,", jpath_str(it, "metadata.name"));
  }
  const char *c = reply_str(&r, "metadata.continue");
  *cont = c ? str_dup(c) : NULL;
  size_t n = json_array_size(json_object_get(r.json, "items"));
  reply_free(&r);
  return n;
}

START_TEST(test_pagination_consistent) {
  fixture f;
  fixture_open(&f, NULL);
  const char *names[] = {"p1", "p2", "p3", "p4", "p5"};
  for (int i = 0; i < 5; i++) {
    char body[256];
    snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"}}", names[i]);
    EXPECT_STATUS(&f, 201, "POST", CMS, NULL, body);
  }
  buf seen = BUF_INIT;
  char *cont = NULL;
  int st;
  ck_assert_uint_eq(list_names(&f, "limit=2", &seen, &cont, &st), 2);
  ck_assert_ptr_nonnull(cont);
  /* writes between pages are not seen by the rest of the list */
  EXPECT_STATUS(&f, 200, "DELETE", CMS "/p4", NULL, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("p35", ""));
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/p5", NULL, "{\"data\":{\"x\":\"y\"}}");
  while (cont) {
    char q[1024];
    snprintf(q, sizeof(q), "limit=2&continue=%s", cont);
    free(cont);
    list_names(&f, q, &seen, &cont, &st);
    ck_assert_int_eq(st, 200);
  }
  ck_assert_str_eq(buf_cstr(&seen), "p1,p2,p3,p4,p5,");
  buf_free(&seen);
  /* an exact resourceVersion lists the state of that moment */
  reply first = fixture_req(&f, "GET", CMS "/p1", NULL, NULL);
  char q[128];
  snprintf(q, sizeof(q), "resourceVersion=%s&resourceVersionMatch=Exact",
           reply_str(&first, "metadata.resourceVersion"));
  reply_free(&first);
  buf exact = BUF_INIT;
  char *none = NULL;
  list_names(&f, q, &exact, &none, &st);
  ck_assert_int_eq(st, 200);
  ck_assert_str_eq(buf_cstr(&exact), "p1,");
  buf_free(&exact);
  EXPECT_STATUS(&f, 400, "GET", CMS, "continue=garbage", NULL);
  fixture_close(&f);
}
END_TEST

START_TEST(test_pagination_expired) {
  fixture f;
  registry_options o = {.watch_history = 3};
  fixture_open(&f, &o);
  for (int i = 0; i < 4; i++) {
    char body[256];
    snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"e%d\"}}", i);
    EXPECT_STATUS(&f, 201, "POST", CMS, NULL, body);
  }
  buf seen = BUF_INIT;
  char *cont = NULL;
  int st;
  list_names(&f, "limit=1", &seen, &cont, &st);
  for (int i = 0; i < 5; i++)
    EXPECT_STATUS(&f, 200, "PATCH", CMS "/e3", NULL, i % 2 ? "{\"data\":{\"k\":\"a\"}}" : "{\"data\":{\"k\":\"b\"}}");
  char q[1024];
  snprintf(q, sizeof(q), "limit=1&continue=%s", cont);
  reply r = fixture_req(&f, "GET", CMS, q, NULL);
  ck_assert_int_eq(r.status, 410);
  ck_assert_str_eq(reply_str(&r, "reason"), "Expired");
  reply_free(&r);
  free(cont);
  buf_free(&seen);
  fixture_close(&f);
}
END_TEST

START_TEST(test_patch_types) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("p", ",\"labels\":{\"a\":\"1\"}"));
  reply r = fixture_req(&f, "PATCH", CMS "/p", NULL, "{\"metadata\":{\"labels\":{\"a\":null,\"b\":\"2\"}}}");
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_null(jpath_get(r.json, "metadata.labels.a"));
  ck_assert_str_eq(reply_str(&r, "metadata.labels.b"), "2");
  reply_free(&r);
  r = fixture_req_full(&f, "PATCH", CMS "/p", NULL, "application/json-patch+json",
                       "[{\"op\":\"add\",\"path\":\"/data/c\",\"value\":\"3\"},{\"op\":\"remove\",\"path\":\"/data/a\"}]", NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "data.c"), "3");
  ck_assert_ptr_null(jpath_get(r.json, "data.a"));
  reply_free(&r);
  r = fixture_req_full(&f, "PATCH", CMS "/p", NULL, "application/json-patch+json",
                       "[{\"op\":\"test\",\"path\":\"/data/c\",\"value\":\"nope\"}]", NULL);
  ck_assert_int_eq(r.status, 422);
  reply_free(&r);
  r = fixture_req_full(&f, "PATCH", CMS "/p", NULL, "application/strategic-merge-patch+json",
                       "{\"metadata\":{\"finalizers\":[\"x/y\"]},\"data\":{\"d\":\"4\"}}", NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "data.d"), "4");
  ck_assert_str_eq(reply_str(&r, "metadata.finalizers.0"), "x/y");
  reply_free(&r);
  /* server-side apply: needs a field manager; creates; drops what the manager stopped applying */
  r = fixture_req_full(&f, "PATCH", CMS "/ssa", NULL, "application/apply-patch+yaml", "{}", NULL);
  ck_assert_int_eq(r.status, 422);
  reply_free(&r);
  r = fixture_req_full(&f, "PATCH", CMS "/ssa", "fieldManager=me", "application/apply-patch+yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n  b: \"2\"\n", NULL);
  ck_assert_int_eq(r.status, 201);
  ck_assert_str_eq(reply_str(&r, "metadata.managedFields.0.manager"), "me");
  ck_assert_ptr_nonnull(jpath_get(r.json, "metadata.managedFields.0.fieldsV1.f:data.f:b"));
  reply_free(&r);
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/ssa", NULL, "{\"data\":{\"other\":\"kept\"}}");
  r = fixture_req_full(&f, "PATCH", CMS "/ssa", "fieldManager=me", "application/apply-patch+yaml",
                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"3\"\n", NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "data.a"), "3");
  ck_assert_ptr_null(jpath_get(r.json, "data.b"));
  ck_assert_str_eq(reply_str(&r, "data.other"), "kept");
  reply_free(&r);
  r = fixture_req_full(&f, "PATCH", CMS "/p", NULL, "application/x-unknown-patch", "{}", NULL);
  ck_assert_int_eq(r.status, 415);
  reply_free(&r);
  EXPECT_STATUS(&f, 404, "PATCH", CMS "/missing", NULL, "{}");
  r = fixture_req(&f, "PATCH", CMS "/p", NULL, "{\"metadata\":{\"name\":\"other\"}}");
  ck_assert_int_eq(r.status, 400);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

START_TEST(test_finalizers_and_preconditions) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("fin", ",\"finalizers\":[\"example.com/hold\"]"));
  reply r = fixture_req(&f, "DELETE", CMS "/fin", NULL,
                        "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"preconditions\":{\"uid\":\"wrong\"}}");
  ck_assert_int_eq(r.status, 409);
  reply_free(&r);
  r = fixture_req(&f, "DELETE", CMS "/fin", NULL, "{\"propagationPolicy\":\"Background\"}");
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(reply_str(&r, "metadata.deletionTimestamp"));
  reply_free(&r);
  r = fixture_req(&f, "GET", CMS "/fin", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_ptr_nonnull(reply_str(&r, "metadata.deletionTimestamp"));
  reply_free(&r);
  /* adding a finalizer while deleting is refused */
  EXPECT_STATUS(&f, 422, "PATCH", CMS "/fin", NULL, "{\"metadata\":{\"finalizers\":[\"example.com/hold\",\"more/x\"]}}");
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/fin", NULL, "{\"metadata\":{\"finalizers\":null}}");
  EXPECT_STATUS(&f, 404, "GET", CMS "/fin", NULL, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("plain", ""));
  r = fixture_req(&f, "DELETE", CMS "/plain", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "status"), "Success");
  reply_free(&r);
  EXPECT_STATUS(&f, 404, "DELETE", CMS "/plain", NULL, NULL);
  fixture_close(&f);
}
END_TEST

START_TEST(test_secret_rules_and_dry_run) {
  fixture f;
  fixture_open(&f, NULL);
  reply r = fixture_req(&f, "POST", "/api/v1/namespaces/default/secrets", NULL,
                        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},\"data\":{\"a\":\"aGk=\"},\"stringData\":{\"b\":\"hello\"}}");
  ck_assert_int_eq(r.status, 201);
  ck_assert_str_eq(reply_str(&r, "data.b"), "aGVsbG8=");
  ck_assert_ptr_null(jpath_get(r.json, "stringData"));
  ck_assert_str_eq(reply_str(&r, "type"), "Opaque");
  reply_free(&r);
  r = fixture_req(&f, "POST", "/api/v1/namespaces/default/secrets", NULL,
                  "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"bad\"},\"data\":{\"a\":\"not base64!\"}}");
  ck_assert_int_eq(r.status, 400);
  ck_assert_str_eq(reply_str(&r, "message"),
                   "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3");
  reply_free(&r);
  /* immutable data stays as it is */
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL,
                "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"frozen\"},\"data\":{\"a\":\"1\"},\"immutable\":true}");
  r = fixture_req(&f, "PATCH", CMS "/frozen", NULL, "{\"data\":{\"a\":\"2\"}}");
  ck_assert_int_eq(r.status, 422);
  ck_assert_str_eq(reply_str(&r, "message"),
                   "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set");
  reply_free(&r);
  EXPECT_STATUS(&f, 200, "PATCH", CMS "/frozen", NULL, "{\"metadata\":{\"labels\":{\"ok\":\"yes\"}}}");
  r = fixture_req(&f, "POST", CMS, "dryRun=All", CM("dry", ""));
  ck_assert_int_eq(r.status, 201);
  reply_free(&r);
  EXPECT_STATUS(&f, 404, "GET", CMS "/dry", NULL, NULL);
  fixture_close(&f);
}
END_TEST

START_TEST(test_namespace_lifecycle) {
  fixture f;
  registry_options opts = {.namespace_sweep_ms = 1};
  fixture_open(&f, &opts);
  reply r = fixture_req(&f, "GET", "/api/v1/namespaces/default", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "status.phase"), "Active");
  reply_free(&r);
  EXPECT_STATUS(&f, 201, "POST", "/api/v1/namespaces", NULL,
                "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team\"}}");
  EXPECT_STATUS(&f, 201, "POST", "/api/v1/namespaces/team/configmaps", NULL, CM("a", ""));
  EXPECT_STATUS(&f, 201, "POST", "/api/v1/namespaces/team/configmaps", NULL, CM("held", ",\"finalizers\":[\"x.io/y\"]"));
  r = fixture_req(&f, "DELETE", "/api/v1/namespaces/default", NULL, NULL);
  ck_assert_int_eq(r.status, 403);
  ck_assert_str_eq(reply_str(&r, "message"), "namespaces \"default\" is forbidden: this namespace may not be deleted");
  reply_free(&r);
  r = fixture_req(&f, "DELETE", "/api/v1/namespaces/team", NULL, NULL);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(reply_str(&r, "status.phase"), "Terminating");
  reply_free(&r);
  /* contents stay until the sweep runs (kubectl delete -f can still delete them) */
  EXPECT_STATUS(&f, 200, "GET", "/api/v1/namespaces/team/configmaps/a", NULL, NULL);
  EXPECT_STATUS(&f, 403, "POST", "/api/v1/namespaces/team/configmaps", NULL, CM("early", ""));
  uv_run(&f.loop, UV_RUN_DEFAULT);
  EXPECT_STATUS(&f, 404, "GET", "/api/v1/namespaces/team/configmaps/a", NULL, NULL);
  EXPECT_STATUS(&f, 403, "POST", "/api/v1/namespaces/team/configmaps", NULL, CM("new", ""));
  EXPECT_STATUS(&f, 200, "GET", "/api/v1/namespaces/team", NULL, NULL);
  EXPECT_STATUS(&f, 200, "PATCH", "/api/v1/namespaces/team/configmaps/held", NULL, "{\"metadata\":{\"finalizers\":[]}}");
  EXPECT_STATUS(&f, 404, "GET", "/api/v1/namespaces/team", NULL, NULL);
  fixture_close(&f);
}
END_TEST

START_TEST(test_persistence) {
  fixture f;
  fixture_open(&f, NULL);
  EXPECT_STATUS(&f, 201, "POST", CMS, NULL, CM("keep", ""));
  EXPECT_STATUS(&f, 201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", NULL, WIDGET_CRD);
  EXPECT_STATUS(&f, 201, "POST", "/apis/example.com/v1/namespaces/default/widgets", NULL,
                "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\"},\"spec\":{\"size\":\"small\"}}");
  long long rv = registry_resource_version(f.reg);
  fixture_reopen(&f, NULL);
  ck_assert_int_eq(registry_resource_version(f.reg), rv);
  EXPECT_STATUS(&f, 200, "GET", CMS "/keep", NULL, NULL);
  EXPECT_STATUS(&f, 200, "GET", "/apis/example.com/v1/namespaces/default/widgets/w", NULL, NULL);
  reply r = fixture_req(&f, "POST", CMS, NULL, CM("after", ""));
  ck_assert_int_eq(strtoll(reply_str(&r, "metadata.resourceVersion"), NULL, 10), rv + 1);
  reply_free(&r);
  fixture_close(&f);
}
END_TEST

Suite *registry_suite(void) {
  Suite *s = suite_create("registry");
  TCase *tc = tcase_create("verbs");
  tcase_add_test(tc, test_create_get_and_metadata);
  tcase_add_test(tc, test_generate_name_and_names);
  tcase_add_test(tc, test_update_conflict_and_noop);
  tcase_add_test(tc, test_bad_input);
  tcase_add_test(tc, test_list_selectors);
  tcase_add_test(tc, test_pagination_consistent);
  tcase_add_test(tc, test_pagination_expired);
  tcase_add_test(tc, test_patch_types);
  tcase_add_test(tc, test_finalizers_and_preconditions);
  tcase_add_test(tc, test_secret_rules_and_dry_run);
  tcase_add_test(tc, test_namespace_lifecycle);
  tcase_add_test(tc, test_persistence);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(registry_suite)
