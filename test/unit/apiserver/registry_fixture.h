/*
 * registry_fixture: drives registry_handle() without a network. Provides a fake stream
 * (the transport's api_stream_* functions, which a test binary links instead of
 * http_server.o) that records what a watch writes, and a request helper.
 * Header-only: included by one test file per binary.
 */
#ifndef PORTICO_TEST_REGISTRY_FIXTURE_H
#define PORTICO_TEST_REGISTRY_FIXTURE_H

#include "apiserver/registry.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"
#include "common/testutil.h"

#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct api_stream {
  buf data;
  api_stream_close_cb on_close;
  void *ctx;
  bool ended;
};

#define FIXTURE_MAX_STREAMS 32
static api_stream *fixture_streams[FIXTURE_MAX_STREAMS];
static size_t fixture_stream_count;

api_stream *api_response_start_stream(api_response *resp, api_stream_close_cb on_close,
                                      void *ctx) {
  api_stream *s = calloc(1, sizeof(*s));
  ck_assert_ptr_nonnull(s);
  ck_assert_uint_lt(fixture_stream_count, FIXTURE_MAX_STREAMS);
  s->on_close = on_close;
  s->ctx = ctx;
  resp->stream = s;
  fixture_streams[fixture_stream_count++] = s;
  return s;
}

int api_stream_write(api_stream *s, const void *data, size_t len) {
  if (s->ended)
    return ERR_IO;
  return buf_append(&s->data, data, len);
}

void api_stream_end(api_stream *s) {
  if (s->ended)
    return;
  s->ended = true;
  s->on_close(s, s->ctx);
}

/* Simulates the client going away. */
__attribute__((unused)) static void fixture_stream_drop(api_stream *s) { api_stream_end(s); }

static void fixture_streams_free(void) {
  for (size_t i = 0; i < fixture_stream_count; i++) {
    buf_free(&fixture_streams[i]->data);
    free(fixture_streams[i]);
  }
  fixture_stream_count = 0;
}

typedef struct fixture {
  uv_loop_t loop;
  registry *reg;
  char *dir;
} fixture;

static void fixture_open(fixture *f, const registry_options *opts) {
  memset(f, 0, sizeof(*f));
  ck_assert_int_eq(uv_loop_init(&f->loop), 0);
  f->dir = testutil_tmpdir();
  int rc = registry_open_with(&f->reg, f->dir, &f->loop, opts);
  ck_assert_msg(rc == 0, "registry_open: %s", error_message());
}

__attribute__((unused)) static void fixture_reopen(fixture *f, const registry_options *opts) {
  registry_close(f->reg);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  int rc = registry_open_with(&f->reg, f->dir, &f->loop, opts);
  ck_assert_msg(rc == 0, "registry_open: %s", error_message());
}

static void fixture_close(fixture *f) {
  registry_close(f->reg);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* lets closed timers go */
  ck_assert_int_eq(uv_loop_close(&f->loop), 0);
  fixture_streams_free();
  testutil_rmtree(f->dir);
  free(f->dir);
}

typedef struct reply {
  int status;
  json_t *json; /* parsed body (NULL when not JSON) */
  char *body;
  char *warnings;
  api_stream *stream;
} reply;

static void reply_free(reply *r) {
  json_decref(r->json);
  free(r->body);
  free(r->warnings);
  memset(r, 0, sizeof(*r));
}

/* query: "a=b&c=d" (values taken literally). */
static reply fixture_req_full(fixture *f, const char *method, const char *path, const char *query,
                              const char *content_type, const char *body, const char *accept) {
  api_query_param params[16];
  size_t n = 0;
  char *q = str_dup(query ? query : "");
  for (char *p = q; p && *p && n < 16;) {
    char *amp = strchr(p, '&');
    if (amp)
      *amp = 0;
    char *eq = strchr(p, '=');
    if (eq)
      *eq = 0;
    params[n].name = p;
    params[n].value = eq ? eq + 1 : (char *)"";
    n++;
    p = amp ? amp + 1 : NULL;
  }
  api_request req = {.method = method,
                     .path = path,
                     .raw_query = query ? query : "",
                     .query = params,
                     .query_count = n,
                     .content_type = content_type ? content_type : "",
                     .accept = accept ? accept : "application/json",
                     .user_agent = "test",
                     .body = body,
                     .body_len = body ? strlen(body) : 0};
  api_response resp = {0};
  int rc = registry_handle(f->reg, &req, &resp);
  ck_assert_msg(rc == 0, "%s %s: handler failed: %s", method, path, error_message());
  reply out = {.status = resp.status, .stream = resp.stream};
  out.body = str_dup(buf_cstr(&resp.body));
  out.json = json_loads(out.body, 0, NULL);
  out.warnings = str_dup(buf_cstr(&resp.warnings));
  buf_free(&resp.body);
  buf_free(&resp.warnings);
  free(q);
  return out;
}

static reply fixture_req(fixture *f, const char *method, const char *path, const char *query,
                         const char *body) {
  const char *ct = !strcmp(method, "PATCH") ? "application/merge-patch+json" : "application/json";
  return fixture_req_full(f, method, path, query, body ? ct : NULL, body, NULL);
}

static const char *reply_str(const reply *r, const char *path);

#include "base/jpath.h"
static const char *reply_str(const reply *r, const char *path) { return jpath_str(r->json, path); }

/* Asserts the status and frees the reply. */
#define EXPECT_STATUS(f, want, m_, p_, q_, b_)                                               \
  do {                                                                                        \
    reply r_ = fixture_req(f, m_, p_, q_, b_);                                                \
    ck_assert_msg(r_.status == (want), "%s %s: want %d, got %d: %s", m_, p_, want, r_.status, \
                  r_.body);                                                                   \
    reply_free(&r_);                                                                          \
  } while (0)

/* The lines of a stream, each parsed; caller decrefs the array. */
__attribute__((unused)) static json_t *stream_events(const api_stream *s) {
  json_t *arr = json_array();
  const char *p = buf_cstr(&s->data);
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    json_t *ev = json_loadb(p, n, 0, NULL);
    ck_assert_msg(ev != NULL, "bad event line: %.*s", (int)n, p);
    json_array_append_new(arr, ev);
    p += n + (nl ? 1 : 0);
  }
  return arr;
}

static const char WIDGET_CRD[] =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
    "\"kind\":\"Widget\",\"shortNames\":[\"wd\"]},\"versions\":[{\"name\":\"v1\",\"served\":true,"
    "\"storage\":true,\"subresources\":{\"status\":{}},\"additionalPrinterColumns\":[{\"name\":"
    "\"Replicas\",\"type\":\"integer\",\"jsonPath\":\".spec.replicas\"},{\"name\":\"Ready\","
    "\"type\":\"string\",\"jsonPath\":\".status.conditions[?(@.type==\\\"Ready\\\")].status\"}],"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":"
    "\"object\",\"required\":[\"size\"],\"properties\":{\"replicas\":{\"type\":\"integer\","
    "\"minimum\":0,\"maximum\":10,\"default\":1},\"size\":{\"type\":\"string\",\"enum\":[\"small\","
    "\"large\"]},\"name\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\",\"maxLength\":8},"
    "\"tags\":{\"type\":\"array\",\"maxItems\":2,\"items\":{\"type\":\"string\"}},\"extra\":{"
    "\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true},\"port\":{"
    "\"x-kubernetes-int-or-string\":true}}},\"status\":{\"type\":\"object\",\"properties\":{"
    "\"phase\":{\"type\":\"string\"},\"conditions\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}}}}}},{\"name\":\"v1beta1\","
    "\"served\":true,\"storage\":false,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

#endif
