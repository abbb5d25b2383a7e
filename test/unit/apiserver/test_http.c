/* Unit tests for apiserver/http_server (request path in memory mode, and a real TLS
 * socket driven by libcurl), apiserver/certs and apiserver/kubeconfig. */
#include "apiserver/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/kubeconfig.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "common/testutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- a tiny handler ---------------------------------------------------------------------- */

static _Atomic int closes;
static _Atomic int flood_rc = 1;
static char last_path[256], last_label[256];
static size_t last_body_len;

static void on_stream_close(api_stream *s, void *ctx) {
  (void)s;
  (void)ctx;
  closes++;
}

static uv_loop_t *later_loop; /* the loop of the socket tests, for /stream-later */
static uv_timer_t later_timer;
static api_stream *later_stream;

static void on_later(uv_timer_t *t) {
  (void)t;
  api_stream_write(later_stream, "late\n", 5);
  api_stream_end(later_stream);
  later_stream = NULL;
}

static int test_handler(void *ctx, const api_request *req, api_response *resp) {
  (void)ctx;
  str_copy(last_path, req->path, sizeof(last_path));
  const char *l = api_request_query(req, "labelSelector");
  str_copy(last_label, l ? l : "", sizeof(last_label));
  last_body_len = req->body_len;
  if (!strcmp(req->path, "/stream") || !strcmp(req->path, "/stream-end")) {
    api_stream *s = api_response_start_stream(resp, on_stream_close, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(api_stream_write(s, "{\"a\":1}\n", 8), 0);
    if (!strcmp(req->path, "/stream-end"))
      api_stream_end(s);
    return 0;
  }
  if (!strcmp(req->path, "/stream-later") && later_loop) { /* ends from a timer */
    later_stream = api_response_start_stream(resp, on_stream_close, NULL);
    ck_assert_ptr_nonnull(later_stream);
    uv_timer_init(later_loop, &later_timer);
    uv_timer_start(&later_timer, on_later, 50, 0);
    return 0;
  }
  if (!strcmp(req->path, "/flood")) { /* a client that never reads: the ceiling cuts it */
    api_stream *s = api_response_start_stream(resp, on_stream_close, NULL);
    ck_assert_ptr_nonnull(s);
    static char chunk[1024];
    int rc = 0;
    for (int i = 0; i < 65536 && rc == 0; i++)
      rc = api_stream_write(s, chunk, sizeof(chunk));
    flood_rc = rc;
    return 0;
  }
  if (!strcmp(req->path, "/fail"))
    return error_set(ERR_GENERIC, "boom");
  buf_printf(&resp->warnings, "careful \"now\"\n");
  json_t *o = json_pack("{s:s, s:s}", "path", req->path, "method", req->method);
  api_respond_json(resp, 200, o);
  json_decref(o);
  return 0;
}

static const http_server_options opts = {.handler = test_handler,
                                         .bearer_token = "secret-token-1234567"};

static char *run(const char *raw, size_t len) {
  buf out = BUF_INIT;
  ck_assert_int_eq(http_server_process_bytes(&opts, raw, len, &out), 0);
  char *s = buf_detach(&out, NULL);
  buf_free(&out);
  return s;
}
#define RUN(lit) run(lit, sizeof(lit) - 1)

START_TEST(test_get_decodes_and_authenticates) {
  char *out = RUN(
      "GET /api/v1/namespaces/a%2Db/configmaps?labelSelector=app%3Ddemo%2Cx+in+%28a%29 HTTP/1.1\r\n"
      "Host: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
  ck_assert_str_eq(last_path, "/api/v1/namespaces/a-b/configmaps");
  ck_assert_str_eq(last_label, "app=demo,x in (a)");
  ck_assert_ptr_nonnull(strstr(out, "Warning: 299 - \"careful \\\"now\\\"\"\r\n"));
  ck_assert_ptr_nonnull(strstr(out, "Content-Type: application/json\r\n"));
  free(out);

  out = RUN("GET /api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 401 "), "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "\"reason\":\"Unauthorized\""));
  free(out);
  out = RUN("GET /api HTTP/1.1\r\nHost: x\r\n\r\n");
  ck_assert(str_has_prefix(out, "HTTP/1.1 401 "));
  free(out);
  out = RUN("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); /* public */
  ck_assert(str_has_prefix(out, "HTTP/1.1 200 "));
  free(out);
}
END_TEST

START_TEST(test_limits_and_bad_input) {
  char *out = RUN("POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                  "secret-token-1234567\r\n"
                  "Content-Length: 3145729\r\n\r\n{");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 413 "), "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "Request entity too large: limit is 3145728"));
  ck_assert_ptr_nonnull(strstr(out, "\"reason\":\"RequestEntityTooLarge\""));
  free(out);

  /* chunked body growing past the limit */
  buf big = BUF_INIT;
  buf_puts(&big, "POST /x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                 "secret-token-1234567\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 4; i++) {
    buf_printf(&big, "100000\r\n");
    for (int j = 0; j < 0x100000; j++)
      buf_putc(&big, 'a');
    buf_puts(&big, "\r\n");
  }
  buf_puts(&big, "0\r\n\r\n");
  out = run(big.data, big.len);
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 413 "), "%.200s", out);
  free(out);
  buf_free(&big);

  out = RUN("POST /c HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\nExpect: "
            "100-continue\r\n"
            "Content-Length: 2\r\n\r\n{}");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), "%s", out);
  free(out);

  out = RUN("GARBAGE\r\n\r\n");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 400 "), "%s", out);
  free(out);
  out = RUN("GET /a%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 400 "), "%s", out);
  free(out);
  out = RUN("GET /fail HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert_msg(str_has_prefix(out, "HTTP/1.1 500 "), "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "boom"));
  free(out);
}
END_TEST

START_TEST(test_keep_alive_and_body) {
  char *out =
      RUN("POST /one HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
          "secret-token-1234567\r\nContent-Length: 5\r\n\r\nhello"
          "GET /two HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert_str_eq(last_path, "/two");
  char *second = strstr(out + 1, "HTTP/1.1 200 OK");
  ck_assert_ptr_nonnull(second);
  ck_assert_ptr_nonnull(strstr(out, "\"path\":\"/one\""));
  free(out);
  out =
      RUN("HEAD /three HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert(str_has_prefix(out, "HTTP/1.1 200 OK"));
  ck_assert(str_has_suffix(out, "\r\n\r\n")); /* no body after the headers */
  free(out);
}
END_TEST

START_TEST(test_streams) {
  closes = 0;
  char *out =
      RUN("GET /stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert_ptr_nonnull(strstr(out, "Transfer-Encoding: chunked\r\n"));
  ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n8\r\n{\"a\":1}\n\r\n"));
  ck_assert_int_eq(closes, 1); /* the connection ended under the open stream */
  free(out);
  out = RUN(
      "GET /stream-end HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret-token-1234567\r\n\r\n");
  ck_assert_int_eq(closes, 2);
  ck_assert_ptr_nonnull(strstr(out, "0\r\n\r\nHTTP/1.1 200 OK"));
  ck_assert_str_eq(last_path, "/after");
  free(out);
}
END_TEST

/* --- certificates, kubeconfig, and a real TLS server ------------------------------------ */

START_TEST(test_certs_reuse) {
  char *dir = testutil_tmpdir();
  certs *a = NULL, *b = NULL, *c = NULL;
  ck_assert_int_eq(certs_ensure(&a, dir, "127.0.0.1"), 0);
  ck_assert_int_eq(certs_ensure(&b, dir, "127.0.0.1"), 0);
  ck_assert_str_eq(a->ca_pem, b->ca_pem);
  ck_assert_str_eq(a->token, b->token);
  ck_assert_int_eq(strlen(a->token), 64);
  buf s1 = BUF_INIT, s2 = BUF_INIT;
  ck_assert_int_eq(fs_read_file(a->cert_file, 1 << 20, &s1), 0);
  ck_assert_int_eq(certs_ensure(&c, dir, "10.1.2.3"), 0); /* new SAN: re-issued, same CA */
  ck_assert_int_eq(fs_read_file(c->cert_file, 1 << 20, &s2), 0);
  ck_assert_str_ne(buf_cstr(&s1), buf_cstr(&s2));
  ck_assert_str_eq(a->ca_pem, c->ca_pem);
  buf_free(&s1);
  buf_free(&s2);
  certs_free(a), certs_free(b), certs_free(c);
  testutil_rmtree(dir);
  free(dir);

  char *u = kubeconfig_server_url("0.0.0.0", 6443);
  ck_assert_str_eq(u, "https://127.0.0.1:6443");
  free(u);
  u = kubeconfig_server_url("::", 1);
  ck_assert_str_eq(u, "https://[::1]:1");
  free(u);
}
END_TEST

typedef struct server_thread {
  uv_loop_t loop;
  uv_async_t stop;
  http_server *server;
} server_thread;

static void on_stop(uv_async_t *a) {
  server_thread *t = a->data;
  http_server_close(t->server);
  uv_close((uv_handle_t *)a, NULL);
}

static void *loop_main(void *arg) {
  server_thread *t = arg;
  uv_run(&t->loop, UV_RUN_DEFAULT);
  return NULL;
}

static size_t collect(char *ptr, size_t size, size_t n, void *userdata) {
  buf_append(userdata, ptr, size * n);
  return size * n;
}

static long curl_get(const char *url, const char *ca, const char *token, buf *body) {
  CURL *h = curl_easy_init();
  struct curl_slist *hdr = NULL;
  char auth[256];
  if (token) {
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    hdr = curl_slist_append(hdr, auth);
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CAINFO, ca);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  long code = 0;
  CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK)
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  else
    code = -(long)rc;
  curl_slist_free_all(hdr);
  curl_easy_cleanup(h);
  return code;
}

START_TEST(test_tls_server) {
  char *dir = testutil_tmpdir();
  certs *crt = NULL;
  ck_assert_int_eq(certs_ensure(&crt, dir, "127.0.0.1"), 0);
  server_thread t;
  ck_assert_int_eq(uv_loop_init(&t.loop), 0);
  http_server_options o = {.cert_file = crt->cert_file,
                           .key_file = crt->key_file,
                           .bearer_token = crt->token,
                           .handler = test_handler};
  ck_assert_int_eq(http_server_start(&t.server, &t.loop, &o), 0);
  int port = http_server_port(t.server);
  ck_assert_int_gt(port, 0);
  uv_async_init(&t.loop, &t.stop, on_stop);
  t.stop.data = &t;
  pthread_t th;
  pthread_create(&th, NULL, loop_main, &t);

  char url[128];
  snprintf(url, sizeof(url), "https://localhost:%d/apis/x?limit=5", port);
  buf body = BUF_INIT;
  ck_assert_int_eq(curl_get(url, crt->ca_file, crt->token, &body), 200);
  ck_assert_ptr_nonnull(strstr(buf_cstr(&body), "\"path\":\"/apis/x\""));
  buf_reset(&body);
  ck_assert_int_eq(curl_get(url, crt->ca_file, NULL, &body), 401);
  buf_reset(&body);
  snprintf(url, sizeof(url), "https://127.0.0.1:%d/stream-end", port);
  ck_assert_int_eq(curl_get(url, crt->ca_file, crt->token, &body), 200);
  ck_assert_str_eq(buf_cstr(&body), "{\"a\":1}\n");
  buf_free(&body);

  uv_async_send(&t.stop);
  pthread_join(th, NULL);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&t.loop), 0);
  certs_free(crt);
  testutil_rmtree(dir);
  free(dir);
}
END_TEST

static int connect_local(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  return fd;
}

static void wait_for_closes(int want) {
  for (int i = 0; i < 1000 && closes < want; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

START_TEST(test_stream_close_paths) {
  server_thread t;
  ck_assert_int_eq(uv_loop_init(&t.loop), 0);
  http_server_options o = {.handler = test_handler, .stream_queue_limit = 256 << 10};
  ck_assert_int_eq(http_server_start(&t.server, &t.loop, &o), 0);
  int port = http_server_port(t.server);
  uv_async_init(&t.loop, &t.stop, on_stop);
  t.stop.data = &t;
  pthread_t th;
  pthread_create(&th, NULL, loop_main, &t);
  closes = 0;

  /* the client disconnects from an open stream: on_close once */
  int fd = connect_local(port);
  const char req[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  ck_assert_int_eq(write(fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
  char got[512];
  ck_assert_int_gt(read(fd, got, sizeof(got)), 0);
  close(fd);
  wait_for_closes(1);
  ck_assert_int_eq(closes, 1);

  /* a request pipelined behind a stream is answered once the stream ends */
  later_loop = &t.loop;
  fd = connect_local(port);
  const char pipelined[] =
      "GET /stream-later HTTP/1.1\r\nHost: x\r\n\r\nGET /after-stream HTTP/1.1\r\nHost: x\r\n\r\n";
  ck_assert_int_eq(write(fd, pipelined, sizeof(pipelined) - 1), (ssize_t)(sizeof(pipelined) - 1));
  buf all = BUF_INIT;
  for (int i = 0; i < 200 && !strstr(buf_cstr(&all), "/after-stream"); i++) {
    char chunk[4096];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n <= 0)
      break;
    buf_append(&all, chunk, (size_t)n);
  }
  ck_assert_msg(strstr(buf_cstr(&all), "5\r\nlate\n\r\n0\r\n\r\nHTTP/1.1 200 OK"), "%s",
                buf_cstr(&all));
  ck_assert_ptr_nonnull(strstr(buf_cstr(&all), "\"path\":\"/after-stream\""));
  buf_free(&all);
  close(fd);
  wait_for_closes(2);
  ck_assert_int_eq(closes, 2);

  /* a client that never reads: the writes hit the ceiling, the stream is cut, on_close once */
  fd = connect_local(port);
  const char flood[] = "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n";
  ck_assert_int_eq(write(fd, flood, sizeof(flood) - 1), (ssize_t)(sizeof(flood) - 1));
  wait_for_closes(3);
  ck_assert_int_eq(flood_rc, ERR_LIMIT);
  ck_assert_int_eq(closes, 3);
  close(fd);

  uv_async_send(&t.stop);
  pthread_join(th, NULL);
  uv_close((uv_handle_t *)&later_timer, NULL);
  uv_run(&t.loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&t.loop), 0);
  later_loop = NULL;
}
END_TEST

START_TEST(test_listen_errors) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  http_server *s = NULL;
  http_server_options o = {.host = "not-an-ip", .handler = test_handler};
  ck_assert_int_eq(http_server_start(&s, &loop, &o), ERR_INVALID);
  o.host = "127.0.0.1";
  o.cert_file = "/nonexistent.crt";
  o.key_file = "/nonexistent.key";
  ck_assert_int_eq(http_server_start(&s, &loop, &o), ERR_INVALID);
  ck_assert_ptr_null(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *http_suite(void) {
  Suite *s = suite_create("http");
  TCase *tc = tcase_create("server");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_get_decodes_and_authenticates);
  tcase_add_test(tc, test_limits_and_bad_input);
  tcase_add_test(tc, test_keep_alive_and_body);
  tcase_add_test(tc, test_streams);
  tcase_add_test(tc, test_certs_reuse);
  tcase_add_test(tc, test_tls_server);
  tcase_add_test(tc, test_stream_close_paths);
  tcase_add_test(tc, test_listen_errors);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(http_suite)
