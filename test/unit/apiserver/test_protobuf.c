/* Unit tests for apiserver/protobuf: messages encoded by a tiny encoder here, in the
 * shapes kubectl sends, plus malformed input. */
#include "apiserver/protobuf.h"
#include "base/buf.h"
#include "base/error.h"
#include "common/testutil.h"

#include <string.h>

/* Request bodies captured from kubectl 1.32.4 (`-v=9`) creating core objects. */
static const unsigned char kubectl_namespace[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x4e, 0x61, 0x6d, 0x65,
    0x73, 0x70, 0x61, 0x63, 0x65, 0x12, 0x22, 0x0a, 0x1a, 0x0a, 0x0a, 0x74, 0x65, 0x61, 0x6d, 0x2d,
    0x70, 0x72, 0x6f, 0x74, 0x6f, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38,
    0x00, 0x42, 0x00, 0x12, 0x00, 0x1a, 0x02, 0x0a, 0x00, 0x1a, 0x00, 0x22, 0x00};
static const unsigned int kubectl_namespace_len = 61;
static const unsigned char kubectl_configmap[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x43, 0x6f, 0x6e, 0x66,
    0x69, 0x67, 0x4d, 0x61, 0x70, 0x12, 0x41, 0x0a, 0x18, 0x0a, 0x08, 0x63, 0x6d, 0x2d, 0x70, 0x72,
    0x6f, 0x74, 0x6f, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42,
    0x00, 0x12, 0x17, 0x0a, 0x08, 0x67, 0x72, 0x65, 0x65, 0x74, 0x69, 0x6e, 0x67, 0x12, 0x0b, 0x68,
    0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x12, 0x0c, 0x0a, 0x04, 0x6d, 0x6f,
    0x64, 0x65, 0x12, 0x04, 0x66, 0x61, 0x73, 0x74, 0x1a, 0x00, 0x22, 0x00};
static const unsigned int kubectl_configmap_len = 92;
static const unsigned char kubectl_configmap_binary[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09, 0x43,
    0x6f, 0x6e, 0x66, 0x69, 0x67, 0x4d, 0x61, 0x70, 0x12, 0x26, 0x0a, 0x16, 0x0a,
    0x06, 0x63, 0x6d, 0x2d, 0x62, 0x69, 0x6e, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00,
    0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x1a, 0x0c, 0x0a, 0x04, 0x62,
    0x6c, 0x6f, 0x62, 0x12, 0x04, 0x00, 0x01, 0xfe, 0xff, 0x1a, 0x00, 0x22, 0x00};
static const unsigned int kubectl_configmap_binary_len = 65;
static const unsigned char kubectl_secret[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0c, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x06, 0x53, 0x65, 0x63,
    0x72, 0x65, 0x74, 0x12, 0x41, 0x0a, 0x19, 0x0a, 0x09, 0x73, 0x65, 0x63, 0x2d, 0x70, 0x72,
    0x6f, 0x74, 0x6f, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00,
    0x42, 0x00, 0x12, 0x13, 0x0a, 0x08, 0x70, 0x61, 0x73, 0x73, 0x77, 0x6f, 0x72, 0x64, 0x12,
    0x07, 0x73, 0x33, 0x63, 0x72, 0x33, 0x74, 0x21, 0x12, 0x0d, 0x0a, 0x04, 0x75, 0x73, 0x65,
    0x72, 0x12, 0x05, 0x61, 0x64, 0x6d, 0x69, 0x6e, 0x1a, 0x00, 0x1a, 0x00, 0x22, 0x00};
static const unsigned int kubectl_secret_len = 89;
static const unsigned char kubectl_secret_typed[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0c, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x06, 0x53, 0x65, 0x63, 0x72,
    0x65, 0x74, 0x12, 0x36, 0x0a, 0x19, 0x0a, 0x09, 0x73, 0x65, 0x63, 0x2d, 0x74, 0x79, 0x70, 0x65,
    0x64, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12,
    0x06, 0x0a, 0x01, 0x74, 0x12, 0x01, 0x78, 0x1a, 0x11, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x2e, 0x63, 0x6f, 0x6d, 0x2f, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x1a, 0x00, 0x22, 0x00};
static const unsigned int kubectl_secret_typed_len = 78;

static char *decode_to_text(const unsigned char *data, unsigned int len) {
  json_t *obj = NULL;
  ck_assert_int_eq(protobuf_decode_object(data, len, &obj), 0);
  char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(obj);
  return text;
}

START_TEST(test_kubectl_bodies) {
  struct {
    const unsigned char *data;
    unsigned int len;
    const char *want;
  } cases[] = {
      {kubectl_namespace, kubectl_namespace_len,
       "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"team-proto\"},"
       "\"spec\":{}}"},
      {kubectl_configmap, kubectl_configmap_len,
       "{\"apiVersion\":\"v1\",\"data\":{\"greeting\":\"hello "
       "world\",\"mode\":\"fast\"},\"kind\":\"ConfigMap\","
       "\"metadata\":{\"name\":\"cm-proto\"}}"},
      {kubectl_configmap_binary, kubectl_configmap_binary_len,
       "{\"apiVersion\":\"v1\",\"binaryData\":{\"blob\":\"AAH+/"
       "w==\"},\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-bin\"}}"},
      {kubectl_secret, kubectl_secret_len,
       "{\"apiVersion\":\"v1\",\"data\":{\"password\":\"czNjcjN0IQ==\",\"user\":\"YWRtaW4=\"},"
       "\"kind\":\"Secret\","
       "\"metadata\":{\"name\":\"sec-proto\"}}"},
      {kubectl_secret_typed, kubectl_secret_typed_len,
       "{\"apiVersion\":\"v1\",\"data\":{\"t\":\"eA==\"},\"kind\":\"Secret\",\"metadata\":{"
       "\"name\":\"sec-typed\"},"
       "\"type\":\"example.com/token\"}"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *text = decode_to_text(cases[i].data, cases[i].len);
    ck_assert_str_eq(text, cases[i].want);
    free(text);
  }
}
END_TEST

static void put_varint(buf *b, uint64_t v) {
  while (v >= 0x80) {
    buf_putc(b, (char)(v | 0x80));
    v >>= 7;
  }
  buf_putc(b, (char)v);
}
static void put_bytes(buf *b, int field, const void *data, size_t len) {
  put_varint(b, (uint64_t)field << 3 | 2);
  put_varint(b, len);
  buf_append(b, data, len);
}
static void put_str(buf *b, int field, const char *s) {
  put_bytes(b, field, s, strlen(s));
}
static void put_msg(buf *b, int field, buf *m) {
  put_bytes(b, field, m->data ? m->data : "", m->len);
  buf_free(m);
}
static void put_entry(buf *b, int field, const char *k, const char *v, size_t vlen) {
  buf e = BUF_INIT;
  put_str(&e, 1, k);
  put_bytes(&e, 2, v, vlen);
  put_msg(b, field, &e);
}
static void envelope(buf *out, const char *kind, buf *raw) {
  buf tm = BUF_INIT;
  put_str(&tm, 1, "v1");
  put_str(&tm, 2, kind);
  buf_append(out, "k8s\0", 4);
  put_msg(out, 1, &tm);
  put_msg(out, 2, raw);
  put_str(out, 3, "");
  put_str(out, 4, "");
}
static buf meta(const char *name, const char *ns) {
  buf m = BUF_INIT;
  put_str(&m, 1, name);
  if (ns)
    put_str(&m, 3, ns);
  put_entry(&m, 11, "app", "demo", 4);
  put_entry(&m, 12, "note", "hi", 2);
  put_str(&m, 14, "example.com/f");
  return m;
}

START_TEST(test_configmap) {
  buf raw = BUF_INIT, m = meta("cfg", "ns1"), out = BUF_INIT;
  put_msg(&raw, 1, &m);
  put_entry(&raw, 2, "key", "value", 5);
  put_entry(&raw, 3, "bin", "\x00\x01\xff", 3);
  put_varint(&raw, 4 << 3 | 0);
  put_varint(&raw, 1);
  envelope(&out, "ConfigMap", &raw);
  json_t *obj = NULL;
  ck_assert_int_eq(protobuf_decode_object(out.data, out.len, &obj), 0);
  char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
  ck_assert_str_eq(
      text,
      "{\"apiVersion\":\"v1\",\"binaryData\":{\"bin\":\"AAH/\"},\"data\":{\"key\":\"value\"},"
      "\"immutable\":true,\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{\"note\":\"hi\"},"
      "\"finalizers\":[\"example.com/"
      "f\"],\"labels\":{\"app\":\"demo\"},\"name\":\"cfg\",\"namespace\":\"ns1\"}}");
  free(text);
  json_decref(obj);

  /* every truncation of a valid message is refused or decodes, never crashes */
  for (size_t n = 0; n < out.len; n++) {
    obj = NULL;
    int rc = protobuf_decode_object(out.data, n, &obj);
    if (rc == 0)
      json_decref(obj);
    else
      ck_assert(rc == ERR_INVALID || rc == ERR_UNSUPPORTED);
  }
  buf_free(&out);
}
END_TEST

START_TEST(test_secret_and_namespace) {
  buf raw = BUF_INIT, m = meta("s", "default"), out = BUF_INIT;
  put_msg(&raw, 1, &m);
  put_entry(&raw, 2, "password", "s3cr3t", 6);
  put_str(&raw, 3, "Opaque");
  put_entry(&raw, 4, "plain", "text", 4);
  envelope(&out, "Secret", &raw);
  json_t *obj = NULL;
  ck_assert_int_eq(protobuf_decode_object(out.data, out.len, &obj), 0);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "data"), "password")),
                   "czNjcjN0");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "stringData"), "plain")),
                   "text");
  ck_assert_str_eq(json_string_value(json_object_get(obj, "type")), "Opaque");
  json_decref(obj);
  buf_free(&out);

  /* empty strings (kubectl always sends type and namespace) are left out, as in JSON */
  m = meta("s2", "");
  put_msg(&raw, 1, &m);
  put_str(&raw, 3, "");
  envelope(&out, "Secret", &raw);
  ck_assert_int_eq(protobuf_decode_object(out.data, out.len, &obj), 0);
  ck_assert_ptr_null(json_object_get(obj, "type"));
  ck_assert_ptr_null(json_object_get(json_object_get(obj, "metadata"), "namespace"));
  json_decref(obj);
  buf_free(&out);

  buf spec = BUF_INIT;
  m = meta("team-a", NULL);
  put_msg(&raw, 1, &m);
  put_str(&spec, 1, "kubernetes");
  put_msg(&raw, 2, &spec);
  envelope(&out, "Namespace", &raw);
  ck_assert_int_eq(protobuf_decode_object(out.data, out.len, &obj), 0);
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")),
                   "team-a");
  ck_assert_str_eq(json_string_value(json_array_get(
                       json_object_get(json_object_get(obj, "spec"), "finalizers"), 0)),
                   "kubernetes");
  json_decref(obj);
  buf_free(&out);
}
END_TEST

static const unsigned char service_body[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0d, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x07, 0x53, 0x65, 0x72, 0x76,
    0x69, 0x63, 0x65, 0x12, 0x79, 0x0a, 0x0f, 0x0a, 0x02, 0x70, 0x62, 0x5a, 0x09, 0x0a, 0x03, 0x61,
    0x70, 0x70, 0x12, 0x02, 0x70, 0x62, 0x12, 0x64, 0x0a, 0x19, 0x0a, 0x07, 0x38, 0x31, 0x2d, 0x38,
    0x30, 0x38, 0x30, 0x12, 0x03, 0x54, 0x43, 0x50, 0x18, 0x51, 0x22, 0x05, 0x08, 0x00, 0x10, 0x90,
    0x3f, 0x28, 0x00, 0x0a, 0x1e, 0x0a, 0x06, 0x38, 0x32, 0x2d, 0x77, 0x65, 0x62, 0x12, 0x03, 0x54,
    0x43, 0x50, 0x18, 0x52, 0x22, 0x09, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x03, 0x77, 0x65, 0x62, 0x28,
    0x80, 0xeb, 0x01, 0x12, 0x09, 0x0a, 0x03, 0x61, 0x70, 0x70, 0x12, 0x02, 0x70, 0x62, 0x1a, 0x00,
    0x22, 0x08, 0x4e, 0x6f, 0x64, 0x65, 0x50, 0x6f, 0x72, 0x74, 0x3a, 0x04, 0x4e, 0x6f, 0x6e, 0x65,
    0x98, 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x1a, 0x00, 0x1a, 0x00,
    0x22, 0x00};

/* A Service as `kubectl create service nodeport` shapes it: ports with an int and a named
 * targetPort, zero nodePort and empty strings left out (omitempty), an unknown field
 * (99) skipped, status ignored. */
START_TEST(test_service) {
  char *text = decode_to_text(service_body, sizeof service_body);
  ck_assert_str_eq(
      text, "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"labels\":{\"app\":\"pb\"},"
            "\"name\":\"pb\"},\"spec\":{\"ports\":[{\"name\":\"81-8080\",\"port\":81,\"protocol\":"
            "\"TCP\",\"targetPort\":8080},{\"name\":\"82-web\",\"nodePort\":30080,\"port\":82,"
            "\"protocol\":\"TCP\",\"targetPort\":\"web\"}],\"selector\":{\"app\":\"pb\"},"
            "\"sessionAffinity\":\"None\",\"type\":\"NodePort\"}}");
  free(text);
  /* every truncation is refused or decodes, never crashes */
  for (size_t n = 0; n < sizeof service_body; n++) {
    json_t *obj = NULL;
    int rc = protobuf_decode_object(service_body, n, &obj);
    if (rc == 0)
      json_decref(obj);
    else
      ck_assert(rc == ERR_INVALID || rc == ERR_UNSUPPORTED);
  }
}
END_TEST

START_TEST(test_refusals) {
  json_t *obj = (json_t *)0x1;
  ck_assert_int_eq(protobuf_decode_object("{}", 2, &obj), ERR_INVALID);
  ck_assert_int_eq(protobuf_decode_object("k8s", 3, &obj), ERR_INVALID);
  /* length past the end */
  ck_assert_int_eq(protobuf_decode_object("k8s\0\x0a\x7f", 6, &obj), ERR_INVALID);
  /* wire type 3 (groups) */
  ck_assert_int_eq(protobuf_decode_object("k8s\0\x0b", 5, &obj), ERR_INVALID);
  /* unknown kind */
  buf raw = BUF_INIT, out = BUF_INIT;
  envelope(&out, "Pod", &raw);
  ck_assert_int_eq(protobuf_decode_object(out.data, out.len, &obj), ERR_UNSUPPORTED);
  buf_free(&out);
  /* invalid UTF-8 in a name */
  buf m = BUF_INIT;
  put_str(&m, 1, "\xff\xfe");
  put_msg(&raw, 1, &m);
  envelope(&out, "ConfigMap", &raw);
  ck_assert_int_eq(protobuf_decode_object(out.data, out.len, &obj), ERR_INVALID);
  buf_free(&out);
  ck_assert_ptr_eq(obj, (json_t *)0x1);

  ck_assert(protobuf_is_content_type("application/vnd.kubernetes.protobuf"));
  ck_assert(protobuf_is_content_type("application/vnd.kubernetes.protobuf;stream=watch"));
  ck_assert(!protobuf_is_content_type("application/json"));
  ck_assert(!protobuf_is_content_type("application/vnd.kubernetes.protobufx"));
}
END_TEST

static Suite *protobuf_suite(void) {
  Suite *s = suite_create("protobuf");
  TCase *tc = tcase_create("decode");
  tcase_add_test(tc, test_kubectl_bodies);
  tcase_add_test(tc, test_configmap);
  tcase_add_test(tc, test_secret_and_namespace);
  tcase_add_test(tc, test_refusals);
  tcase_add_test(tc, test_service);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(protobuf_suite)
