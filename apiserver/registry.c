/*
 * registry: first cut of the seam (see registry.h). The store, the verbs and the CRD
 * machinery land behind this same interface; until then every resource URL answers 404
 * and health endpoints answer "ok".
 */
#include "apiserver/registry.h"

#include "base/error.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

struct registry {
  uv_loop_t *loop;
  char *data_dir;
  registry_options options;
  api_resource_type *types;
  size_t type_count;
  long long rv;
};

int registry_open_with(registry **out, const char *data_dir, uv_loop_t *loop,
                       const registry_options *options) {
  registry *r = calloc(1, sizeof(*r));
  if (!r)
    return error_set(ERR_NOMEM, "registry: out of memory");
  r->loop = loop;
  r->data_dir = str_dup(data_dir);
  if (options)
    r->options = *options;
  *out = r;
  return 0;
}

int registry_open(registry **out, const char *data_dir, uv_loop_t *loop) {
  return registry_open_with(out, data_dir, loop, NULL);
}

const api_resource_type *registry_types(const registry *r, size_t *count) {
  *count = r->type_count;
  return r->types;
}

long long registry_resource_version(const registry *r) { return r->rv; }

int registry_handle(void *ctx, const api_request *req, api_response *resp) {
  (void)ctx;
  if (!strcmp(req->path, "/healthz") || !strcmp(req->path, "/readyz") ||
      !strcmp(req->path, "/livez")) {
    resp->status = 200;
    str_copy(resp->content_type, "text/plain; charset=utf-8", sizeof(resp->content_type));
    buf_puts(&resp->body, "ok");
    return 0;
  }
  api_respond_status(resp, 404, "NotFound", "the server could not find the requested resource",
                     NULL);
  return 0;
}

void registry_close(registry *r) {
  if (!r)
    return;
  free(r->data_dir);
  free(r);
}
