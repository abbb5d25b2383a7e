/*
 * apiserver_load: the load driver of bench/apiserver.sh. Speaks HTTPS to `portico
 * standalone` with libcurl (keep-alive connections, a multi handle for concurrency) and
 * prints one line of key=value figures per mode:
 *
 *   apiserver_load URL TOKEN CAFILE setup
 *       creates the bench.portico.dev/v1 Sample CRD and waits until it is served
 *   apiserver_load URL TOKEN CAFILE create N CONCURRENCY NAMESPACE
 *       creates N Samples (bench-0..N-1) over CONCURRENCY connections;
 *       prints objects=N seconds=S per_second=R
 *   apiserver_load URL TOKEN CAFILE list RUNS NAMESPACE
 *       lists the namespace's Samples RUNS times; prints items=N p50_ms=.. min_ms=..
 *   apiserver_load URL TOKEN CAFILE watch N NAMESPACE
 *       opens a watch on the namespace, then N times: create a Sample and wait for its
 *       ADDED event; the latency runs from issuing the write to the event's arrival.
 *       prints events=N p50_ms=.. p99_ms=.. max_ms=..
 *
 * Every wait is bounded (30 s per operation); any HTTP error aborts with exit status 1.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OP_TIMEOUT_MS 30000L

static const char *base_url, *token, *ca_file;
static struct curl_slist *headers;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(double *v, size_t n, double p) {
  qsort(v, n, sizeof(*v), cmp_double);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

typedef struct sink {
  char *data;
  size_t len, cap;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
  sink *s = userdata;
  size_t add = size * n;
  if (s->len + add + 1 > s->cap) {
    size_t cap = (s->len + add + 1) * 2;
    char *d = realloc(s->data, cap);
    if (!d)
      return 0;
    s->data = d;
    s->cap = cap;
  }
  memcpy(s->data + s->len, p, add);
  s->len += add;
  s->data[s->len] = 0;
  return add;
}

static CURL *make_handle(sink *body) {
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, OP_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  return h;
}

/* The benchmark's objects: a namespaced custom kind (bench.portico.dev/v1 Sample) with a
 * small structural schema, so that creates go through schema validation as Portico's own
 * kinds do, and so that no controller in the process watches them. */
#define SAMPLES "apis/bench.portico.dev/v1/namespaces/%s/samples"

static void set_create(CURL *h, char *url, size_t url_size, char *payload, size_t payload_size,
                       const char *ns, long i) {
  snprintf(url, url_size, "%s/" SAMPLES, base_url, ns);
  snprintf(
      payload, payload_size,
      "{\"apiVersion\":\"bench.portico.dev/v1\",\"kind\":\"Sample\",\"metadata\":{\"name\":"
      "\"bench-%ld\",\"labels\":{\"bench\":\"yes\",\"shard\":\"s%ld\"}},\"spec\":{\"index\":%ld,"
      "\"payload\":\"0123456789abcdef0123456789abcdef\"}}",
      i, i % 16, i);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
}

static long status_of(CURL *h) {
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

static int ensure_namespace(const char *ns) {
  sink body = {0};
  CURL *h = make_handle(&body);
  char url[512], payload[256];
  snprintf(url, sizeof(url), "%s/api/v1/namespaces", base_url);
  snprintf(payload, sizeof(payload),
           "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", ns);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
  CURLcode rc = curl_easy_perform(h);
  long code = status_of(h);
  curl_easy_cleanup(h);
  free(body.data);
  if (rc != CURLE_OK || (code != 201 && code != 409)) {
    fprintf(stderr, "create namespace %s: curl %d, HTTP %ld\n", ns, rc, code);
    return 1;
  }
  return 0;
}

/* Creates the Sample CRD and waits (10 s at most) until its group/version is served. */
static int run_setup(void) {
  static const char crd[] =
      "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
      "\"metadata\":{\"name\":\"samples.bench.portico.dev\"},\"spec\":{\"group\":\"bench.portico."
      "dev\","
      "\"scope\":\"Namespaced\",\"names\":{\"kind\":\"Sample\",\"listKind\":\"SampleList\","
      "\"plural\":\"samples\",\"singular\":\"sample\"},\"versions\":[{\"name\":\"v1\",\"served\":"
      "true,"
      "\"storage\":true,\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
      "\"spec\":"
      "{\"type\":\"object\",\"properties\":{\"index\":{\"type\":\"integer\",\"minimum\":0},"
      "\"payload\":{\"type\":\"string\",\"maxLength\":64}}}}}}}]}}";
  sink body = {0};
  CURL *h = make_handle(&body);
  char url[512];
  snprintf(url, sizeof(url), "%s/apis/apiextensions.k8s.io/v1/customresourcedefinitions", base_url);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, crd);
  CURLcode rc = curl_easy_perform(h);
  long code = status_of(h);
  if (rc != CURLE_OK || (code != 201 && code != 409)) {
    fprintf(stderr, "create the Sample CRD: curl %d, HTTP %ld: %.300s\n", rc, code,
            body.data ? body.data : "");
    return 1;
  }
  snprintf(url, sizeof(url), "%s/apis/bench.portico.dev/v1", base_url);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(h, CURLOPT_URL, url);
  int ok = 0;
  for (int i = 0; i < 100 && !ok; i++) {
    body.len = 0;
    ok = curl_easy_perform(h) == CURLE_OK && status_of(h) == 200;
    if (!ok) {
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  curl_easy_cleanup(h);
  free(body.data);
  if (!ok)
    fprintf(stderr, "the Sample CRD is not served after 10 s\n");
  return ok ? 0 : 1;
}

typedef struct slot {
  CURL *h;
  sink body;
  char url[512];
  char payload[512];
} slot;

static int run_create(long n, long conc, const char *ns) {
  if (ensure_namespace(ns))
    return 1;
  if (conc < 1)
    conc = 1;
  slot *slots = calloc((size_t)conc, sizeof(*slots));
  CURLM *m = curl_multi_init();
  long next = 0, done = 0;
  double t0 = now_ms();
  for (long s = 0; s < conc && next < n; s++) {
    slots[s].h = make_handle(&slots[s].body);
    curl_easy_setopt(slots[s].h, CURLOPT_PRIVATE, &slots[s]);
    set_create(slots[s].h, slots[s].url, sizeof(slots[s].url), slots[s].payload,
               sizeof(slots[s].payload), ns, next++);
    curl_multi_add_handle(m, slots[s].h);
  }
  while (done < n) {
    int running = 0;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      slot *sl;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
      long code = status_of(sl->h);
      if (msg->data.result != CURLE_OK || code != 201) {
        fprintf(stderr, "create: curl %d, HTTP %ld: %.300s\n", msg->data.result, code,
                sl->body.data ? sl->body.data : "");
        return 1;
      }
      done++;
      sl->body.len = 0;
      curl_multi_remove_handle(m, sl->h);
      if (next < n) {
        set_create(sl->h, sl->url, sizeof(sl->url), sl->payload, sizeof(sl->payload), ns, next++);
        curl_multi_add_handle(m, sl->h);
      }
    }
    if (done < n)
      curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  double secs = (now_ms() - t0) / 1e3;
  printf("objects=%ld seconds=%.3f per_second=%.0f\n", n, secs, (double)n / secs);
  for (long s = 0; s < conc; s++) {
    if (slots[s].h)
      curl_easy_cleanup(slots[s].h);
    free(slots[s].body.data);
  }
  free(slots);
  curl_multi_cleanup(m);
  return 0;
}

static int run_list(long runs, const char *ns) {
  sink body = {0};
  CURL *h = make_handle(&body);
  char url[512];
  snprintf(url, sizeof(url), "%s/" SAMPLES, base_url, ns);
  curl_easy_setopt(h, CURLOPT_URL, url);
  double *t = calloc((size_t)runs, sizeof(*t));
  long items = 0;
  for (long r = 0; r < runs; r++) {
    body.len = 0;
    double t0 = now_ms();
    CURLcode rc = curl_easy_perform(h);
    t[r] = now_ms() - t0;
    if (rc != CURLE_OK || status_of(h) != 200) {
      fprintf(stderr, "list: curl %d, HTTP %ld\n", rc, status_of(h));
      return 1;
    }
    items = 0;
    for (const char *p = body.data; (p = strstr(p, "\"kind\":\"Sample\"")); p++)
      items++;
  }
  double min = t[0];
  for (long r = 1; r < runs; r++)
    min = t[r] < min ? t[r] : min;
  printf("items=%ld bytes=%zu p50_ms=%.1f min_ms=%.1f\n", items, body.len,
         percentile(t, (size_t)runs, 0.5), min);
  free(t);
  free(body.data);
  curl_easy_cleanup(h);
  return 0;
}

static int run_watch(long n, const char *ns) {
  if (ensure_namespace(ns))
    return 1;
  CURLM *m = curl_multi_init();
  sink wbody = {0}, cbody = {0};
  CURL *w = make_handle(&wbody);
  char wurl[512];
  snprintf(wurl, sizeof(wurl), "%s/" SAMPLES "?watch=true&timeoutSeconds=600", base_url, ns);
  curl_easy_setopt(w, CURLOPT_URL, wurl);
  curl_easy_setopt(w, CURLOPT_TIMEOUT_MS, 0L);
  curl_multi_add_handle(m, w);
  CURL *c = make_handle(&cbody);
  char url[512], payload[512], needle[128];
  double *lat = calloc((size_t)n, sizeof(*lat));
  /* let the watch establish */
  double t_start = now_ms();
  while (now_ms() - t_start < 300) {
    int running;
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 20, NULL);
  }
  for (long i = 0; i < n; i++) {
    set_create(c, url, sizeof(url), payload, sizeof(payload), ns, i);
    snprintf(needle, sizeof(needle), "\"name\":\"bench-%ld\"", i);
    cbody.len = 0;
    double t0 = now_ms();
    curl_multi_add_handle(m, c);
    int seen = 0, create_done = 0;
    while (!seen || !create_done) {
      int running;
      curl_multi_perform(m, &running);
      CURLMsg *msg;
      int left;
      while ((msg = curl_multi_info_read(m, &left))) {
        if (msg->msg != CURLMSG_DONE)
          continue;
        if (msg->easy_handle == w) {
          fprintf(stderr, "watch: the stream ended (curl %d)\n", msg->data.result);
          return 1;
        }
        if (msg->data.result != CURLE_OK || status_of(c) != 201) {
          fprintf(stderr, "watch create: curl %d HTTP %ld\n", msg->data.result, status_of(c));
          return 1;
        }
        create_done = 1;
        curl_multi_remove_handle(m, c);
      }
      if (!seen && wbody.data && strstr(wbody.data, needle)) {
        lat[i] = now_ms() - t0;
        seen = 1;
        wbody.len = 0;
        wbody.data[0] = 0;
      }
      if (now_ms() - t0 > OP_TIMEOUT_MS) {
        fprintf(stderr, "watch: no event for bench-%ld within %ld ms\n", i, OP_TIMEOUT_MS);
        return 1;
      }
      if (!seen || !create_done)
        curl_multi_poll(m, NULL, 0, 5, NULL);
    }
  }
  printf("events=%ld p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", n, percentile(lat, (size_t)n, 0.5),
         percentile(lat, (size_t)n, 0.99), percentile(lat, (size_t)n, 1.0));
  curl_multi_remove_handle(m, w);
  curl_easy_cleanup(w);
  curl_easy_cleanup(c);
  curl_multi_cleanup(m);
  free(lat);
  free(wbody.data);
  free(cbody.data);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: apiserver_load URL TOKEN CAFILE setup | create N CONC NS | "
                    "list RUNS NS | watch N NS\n");
    return 2;
  }
  base_url = argv[1];
  token = argv[2];
  ca_file = argv[3];
  const char *mode = argv[4];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char auth[256];
  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
  headers = curl_slist_append(headers, auth);
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: application/json");
  headers = curl_slist_append(headers, "Expect:");
  long n = argc > 5 ? strtol(argv[5], NULL, 10) : 0;
  int rc = 2;
  if (!strcmp(mode, "setup"))
    rc = run_setup();
  else if (!strcmp(mode, "create") && argc == 8)
    rc = run_create(n, strtol(argv[6], NULL, 10), argv[7]);
  else if (!strcmp(mode, "list") && argc == 7)
    rc = run_list(n, argv[6]);
  else if (!strcmp(mode, "watch") && argc == 7)
    rc = run_watch(n, argv[6]);
  else
    fprintf(stderr, "apiserver_load: bad arguments\n");
  curl_slist_free_all(headers);
  curl_global_cleanup();
  return rc;
}
