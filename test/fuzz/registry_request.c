/*
 * Fuzz target: requests through registry_handle() (no network). Input lines: method,
 * path, Content-Type, then the body (rest of the input). One registry (temporary data
 * directory) serves every input, so state accumulates as it would in a server. Watches
 * are skipped (they need the transport's streams). Properties: no crash, no leak, every
 * request answered with a status code.
 */
#include "apiserver/registry.h"
#include "base/buf.h"
#include "base/fs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static registry *reg;
static uv_loop_t loop;
static char data_dir[] = "/tmp/portico-fuzz-registry.XXXXXX";

static void cleanup(void) {
  registry_close(reg);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  fs_remove_tree(data_dir);
}

static char *next_line(const char **p, const char *end) {
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  size_t n = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
  char *out = malloc(n + 1);
  memcpy(out, *p, n);
  out[n] = 0;
  *p += n + (nl ? 1 : 0);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!reg) {
    if (!mkdtemp(data_dir) || uv_loop_init(&loop) || registry_open(&reg, data_dir, &loop))
      abort();
    atexit(cleanup);
  }
  if (size > 65536 || memmem(data, size, "watch", 5))
    return 0;
  const char *p = (const char *)data, *end = p + size;
  char *method = next_line(&p, end);
  char *path = next_line(&p, end);
  char *ct = next_line(&p, end);
  char *query = strchr(path, '?');
  api_query_param params[8];
  size_t n = 0;
  if (query) {
    *query++ = 0;
    for (char *q = query; q && *q && n < 8;) {
      char *amp = strchr(q, '&');
      if (amp)
        *amp = 0;
      char *eq = strchr(q, '=');
      if (eq)
        *eq = 0;
      params[n].name = q;
      params[n].value = eq ? eq + 1 : q + strlen(q);
      n++;
      q = amp ? amp + 1 : NULL;
    }
  }
  api_request req = {.method = method, .path = path, .raw_query = "", .query = params,
                     .query_count = n, .content_type = ct, .accept = "application/json",
                     .user_agent = "fuzz", .body = p, .body_len = (size_t)(end - p)};
  api_response resp = {0};
  if (registry_handle(reg, &req, &resp) == 0 && (resp.status < 200 || resp.status > 599))
    abort();
  buf_free(&resp.body);
  buf_free(&resp.warnings);
  free(method);
  free(path);
  free(ct);
  return 0;
}
