/*
 * Fuzz target over the request path of the standalone API server: raw bytes, as one
 * plaintext connection would deliver them, go through HTTP parsing, the limits, bearer
 * authentication and a fake registry that does what the real router does with a request
 * (discovery and OpenAPI documents, protobuf or JSON body decoding, a watch stream).
 * Invariants: no crash, no leak, no read out of bounds (the sanitizers), and a complete
 * header-only GET always gets an answer.
 */
#include "apiserver/discovery.h"
#include "apiserver/http_server.h"
#include "apiserver/openapi.h"
#include "apiserver/protobuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *short_names[] = {"wd", NULL};
static api_resource_type types[] = {
    {.group = "",
     .version = "v1",
     .kind = "ConfigMap",
     .list_kind = "ConfigMapList",
     .plural = "configmaps",
     .singular = "configmap",
     .namespaced = true},
    {.group = "example.dev",
     .version = "v1",
     .kind = "Widget",
     .list_kind = "WidgetList",
     .plural = "widgets",
     .singular = "widget",
     .namespaced = true,
     .has_status = true,
     .short_names = short_names},
};

static void on_close(api_stream *s, void *ctx) {
  (void)s;
  (void)ctx;
}

static int fake_registry(void *ctx, const api_request *req, api_response *resp) {
  (void)ctx;
  if (discovery_serve(req, resp, types, 2) || openapi_serve(req, resp, types, 2))
    return 0;
  const char *watch = api_request_query(req, "watch");
  if (watch && !strcmp(watch, "true")) {
    api_stream *s = api_response_start_stream(resp, on_close, NULL);
    if (s) {
      api_stream_write(s, req->path, strlen(req->path));
      if (api_request_query(req, "timeoutSeconds"))
        api_stream_end(s);
    }
    return 0;
  }
  json_t *obj = NULL;
  if (protobuf_is_content_type(req->content_type)) {
    if (protobuf_decode_object(req->body, req->body_len, &obj)) {
      api_respond_status(resp, 415, "UnsupportedMediaType", "bad protobuf", NULL);
      return 0;
    }
  } else if (req->body_len) {
    obj = json_loadb(req->body, req->body_len, 0, NULL);
    if (!obj) {
      api_respond_status(resp, 400, "BadRequest", "bad JSON", NULL);
      return 0;
    }
  }
  if (obj) {
    api_respond_json(resp, 201, obj);
    json_decref(obj);
  } else {
    api_respond_status(resp, 404, "NotFound", req->path, NULL);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  http_server_options opt = {.handler = fake_registry, .bearer_token = "fuzz-token-0123456789"};
  buf out = BUF_INIT;
  http_server_process_bytes(&opt, data, size, &out);
  /* A well-formed request line, a header section ending in a blank line and no body
   * framing always gets an answer (a body length may legitimately leave it waiting). */
  static const char line[] = "GET / HTTP/1.1\r\n";
  if (size > sizeof(line) && !memcmp(data, line, sizeof(line) - 1) &&
      memmem(data, size, "\r\n\r\n", 4) && !memchr(data, 0, size) && !memchr(data, ':', size) &&
      out.len == 0)
    abort();
  buf_free(&out);
  return 0;
}
