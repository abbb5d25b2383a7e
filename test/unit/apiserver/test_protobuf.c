/* Unit tests for apiserver/protobuf: messages encoded by a tiny encoder here, in the
 * shapes kubectl sends, plus malformed input. */
#include "apiserver/protobuf.h"
#include "base/buf.h"
#include "base/error.h"
#include "common/testutil.h"

#include <string.h>

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
static void put_str(buf *b, int field, const char *s) { put_bytes(b, field, s, strlen(s)); }
static void put_msg(buf *b, int field, buf *m) { put_bytes(b, field, m->data ? m->data : "", m->len); buf_free(m); }
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
  ck_assert_str_eq(text, "{\"apiVersion\":\"v1\",\"binaryData\":{\"bin\":\"AAH/\"},\"data\":{\"key\":\"value\"},"
                         "\"immutable\":true,\"kind\":\"ConfigMap\",\"metadata\":{\"annotations\":{\"note\":\"hi\"},"
                         "\"finalizers\":[\"example.com/f\"],\"labels\":{\"app\":\"demo\"},\"name\":\"cfg\",\"namespace\":\"ns1\"}}");
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
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "data"), "password")), "czNjcjN0");
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "stringData"), "plain")), "text");
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
  ck_assert_str_eq(json_string_value(json_object_get(json_object_get(obj, "metadata"), "name")), "team-a");
  ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(obj, "spec"), "finalizers"), 0)), "kubernetes");
  json_decref(obj);
  buf_free(&out);
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
  tcase_add_test(tc, test_configmap);
  tcase_add_test(tc, test_secret_and_namespace);
  tcase_add_test(tc, test_refusals);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(protobuf_suite)
