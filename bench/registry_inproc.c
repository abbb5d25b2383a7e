/*
 * registry_inproc: the registry's own costs, without TLS and HTTP (bench/registry.sh
 * builds and runs it; bench/apiserver.sh measures the whole server). Drives
 * registry_handle() directly: 10,000 ConfigMap creates, lists of all of them, a
 * label-selected list, and the delay from a write's start to its watch event being
 * handed to the stream (the commit included). Prints one "name value unit" line each.
 */
#include "apiserver/registry.h"
#include "base/buf.h"
#include "base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

struct api_stream {
  api_stream_close_cb cb;
  void *ctx;
  int ended;
};

#define MAX_SAMPLES 20000
static double samples[MAX_SAMPLES];
static size_t nsamples;
static double write_started; /* 0 when no write is in flight */

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

api_stream *api_response_start_stream(api_response *resp, api_stream_close_cb cb, void *ctx) {
  api_stream *s = calloc(1, sizeof(*s));
  if (!s)
    abort();
  s->cb = cb;
  s->ctx = ctx;
  resp->stream = s;
  return s;
}

int api_stream_write(api_stream *s, const void *d, size_t n) {
  (void)s;
  (void)d;
  (void)n;
  if (write_started > 0 && nsamples < MAX_SAMPLES)
    samples[nsamples++] = now_ns() - write_started;
  return 0;
}

void api_stream_end(api_stream *s) {
  if (!s->ended) {
    s->ended = 1;
    s->cb(s, s->ctx);
  }
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int handle(registry *r, api_request *req, api_response *resp) {
  if (!req->raw_query)
    req->raw_query = "";
  if (!req->accept)
    req->accept = "application/json";
  if (!req->content_type)
    req->content_type = "";
  return registry_handle(r, req, resp);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: registry_inproc DATA_DIR\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  registry *r;
  if (registry_open(&r, argv[1], &loop)) {
    fprintf(stderr, "%s\n", error_message());
    return 1;
  }
  api_stream *stream = NULL; /* the watch's; freed once the registry ended it */
  const int n = 10000;
  char body[512], path[] = "/api/v1/namespaces/default/configmaps";
  double start = now_ns();
  for (int i = 0; i < n; i++) {
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%05d\","
             "\"labels\":{\"app\":\"bench\",\"i\":\"%d\"}},\"data\":{\"key\":\"value-%d\","
             "\"other\":\"some longer text to make the object realistic\"}}",
             i, i % 10, i);
    api_request req = {.method = "POST", .path = path, .content_type = "application/json",
                       .body = body, .body_len = strlen(body)};
    api_response resp = {0};
    handle(r, &req, &resp);
    if (resp.status != 201) {
      fprintf(stderr, "create: %d %s\n", resp.status, buf_cstr(&resp.body));
      return 1;
    }
    buf_free(&resp.body);
    buf_free(&resp.warnings);
  }
  printf("creates_per_s %.0f objects/s\n", n / ((now_ns() - start) / 1e9));
  double best = 1e18;
  for (int k = 0; k < 3; k++) {
    api_request req = {.method = "GET", .path = path};
    api_response resp = {0};
    double s = now_ns();
    handle(r, &req, &resp);
    double t = now_ns() - s;
    best = t < best ? t : best;
    buf_free(&resp.body);
  }
  printf("list_10000 %.1f ms\n", best / 1e6);
  {
    api_query_param q[] = {{"labelSelector", "i=3"}};
    api_request req = {.method = "GET", .path = path, .query = q, .query_count = 1};
    api_response resp = {0};
    double s = now_ns();
    handle(r, &req, &resp);
    printf("list_selector_1000_of_10000 %.1f ms\n", (now_ns() - s) / 1e6);
    buf_free(&resp.body);
  }
  {
    char rv[32];
    snprintf(rv, sizeof(rv), "%lld", registry_resource_version(r));
    api_query_param q[] = {{"watch", "true"}, {"resourceVersion", rv}};
    api_request req = {.method = "GET", .path = path, .query = q, .query_count = 2};
    api_response resp = {0};
    handle(r, &req, &resp);
    for (int i = 0; i < 2000; i++) {
      char p2[128];
      snprintf(body, sizeof(body), "{\"data\":{\"key\":\"changed-%d\"}}", i);
      snprintf(p2, sizeof(p2), "%s/cm-%05d", path, i);
      api_request pr = {.method = "PATCH", .path = p2,
                        .content_type = "application/merge-patch+json", .body = body,
                        .body_len = strlen(body)};
      api_response presp = {0};
      write_started = now_ns();
      handle(r, &pr, &presp);
      write_started = 0;
      buf_free(&presp.body);
      buf_free(&presp.warnings);
    }
    qsort(samples, nsamples, sizeof(double), cmp);
    printf("watch_latency_p50 %.3f ms\n", nsamples ? samples[nsamples / 2] / 1e6 : -1);
    printf("watch_latency_p99 %.3f ms\n", nsamples ? samples[nsamples * 99 / 100] / 1e6 : -1);
    stream = resp.stream;
  }
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof(line), f))
    if (!strncmp(line, "VmRSS:", 6))
      printf("rss_10000_objects %ld MiB\n", strtol(line + 6, NULL, 10) / 1024);
  if (f)
    fclose(f);
  registry_close(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  free(stream);
  return 0;
}
