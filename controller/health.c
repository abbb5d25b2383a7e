/*
 * health: see health.h.
 */
#include "controller/health.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"
#include "controller/metrics.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

typedef struct conn conn;

struct health_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  health_callbacks cb;
  int port;
  int nconns;
  bool closing;
  int open;
  conn *conns;
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t idle;
  health_server *srv;
  http_parser parser;
  char url[512];
  size_t url_len;
  size_t received;
  bool done, closing;
  int open;
  buf out;
  uv_write_t wr;
  conn *prev, *next;
};

int health_parse_addr(const char *addr, char *host, size_t host_size, int *port) {
  const char *colon = strrchr(addr, ':');
  if (!colon)
    return error_set(ERR_INVALID, "address '%s': want HOST:PORT", addr);
  size_t hl = (size_t)(colon - addr);
  const char *h = addr;
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl >= host_size)
    return error_set(ERR_INVALID, "address '%s': host too long", addr);
  memcpy(host, h, hl);
  host[hl] = 0;
  if (!hl)
    str_copy(host, "0.0.0.0", host_size);
  int64_t p;
  if (str_to_int64(colon + 1, 0, 65535, &p))
    return error_set(ERR_INVALID, "address '%s': bad port", addr);
  *port = (int)p;
  return 0;
}

static void srv_maybe_free(health_server *s) {
  if (s->closing && s->open == 0 && s->nconns == 0)
    free(s);
}

static void conn_handle_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->open > 0)
    return;
  health_server *s = c->srv;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  buf_free(&c->out);
  free(c);
  s->nconns--;
  srv_maybe_free(s);
}

static void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = true;
  uv_timer_stop(&c->idle);
  uv_close((uv_handle_t *)&c->idle, conn_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  conn_close(w->data);
}

static void respond(conn *c, int code, const char *reason, const char *ctype, const char *body,
                    size_t len, bool head) {
  buf_reset(&c->out);
  int rc = buf_printf(&c->out,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      code, reason, ctype, len);
  if (!rc && !head)
    rc = buf_append(&c->out, body, len);
  if (rc) {
    conn_close(c);
    return;
  }
  uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
  c->wr.data = c;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written))
    conn_close(c);
}

static void route(conn *c) {
  health_server *s = c->srv;
  bool head = c->parser.method == HTTP_HEAD;
  if (c->parser.method != HTTP_GET && !head) {
    respond(c, 405, "Method Not Allowed", "text/plain", "method not allowed\n", 19, false);
    return;
  }
  char path[512];
  str_copy(path, c->url, sizeof path);
  char *q = strchr(path, '?');
  if (q)
    *q = 0;
  if (!strcmp(path, "/healthz") || !strcmp(path, "/livez")) {
    respond(c, 200, "OK", "text/plain", "ok", 2, head);
  } else if (!strcmp(path, "/readyz")) {
    char why[256] = "";
    bool ready = !s->cb.ready || s->cb.ready(s->cb.ctx, why, sizeof why);
    char body[300];
    int n = snprintf(body, sizeof body, "%s%s%s", ready ? "ok" : "not ready", why[0] ? ": " : "", why);
    if (ready)
      respond(c, 200, "OK", "text/plain", body, (size_t)n, head);
    else
      respond(c, 503, "Service Unavailable", "text/plain", body, (size_t)n, head);
  } else if (!strcmp(path, "/metrics")) {
    if (s->cb.collect)
      s->cb.collect(s->cb.ctx);
    buf m = BUF_INIT;
    if (metrics_render(&m)) {
      buf_free(&m);
      respond(c, 500, "Internal Server Error", "text/plain", "metrics too large\n", 18, head);
      return;
    }
    respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", buf_cstr(&m), m.len, head);
    buf_free(&m);
  } else {
    respond(c, 404, "Not Found", "text/plain", "not found\n", 10, head);
  }
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->url_len + len >= sizeof c->url)
    return 1;
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  c->url[c->url_len] = 0;
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  if (!c->done) {
    c->done = true;
    route(c);
  }
  return 1; /* one request per connection: stop parsing */
}

static const http_parser_settings SETTINGS = {.on_url = on_url,
                                              .on_message_complete = on_message_complete};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h;
  (void)suggested;
  static _Thread_local char scratch[4096];
  *b = uv_buf_init(scratch, sizeof scratch);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  conn *c = st->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (n == 0 || c->done)
    return;
  c->received += (size_t)n;
  if (c->received > HEALTH_MAX_REQUEST) {
    conn_close(c);
    return;
  }
  size_t used = http_parser_execute(&c->parser, &SETTINGS, b->base, (size_t)n);
  if (!c->done && (c->parser.http_errno != HPE_OK || used != (size_t)n)) {
    if (c->parser.http_errno != HPE_PAUSED && c->parser.http_errno != HPE_CB_message_complete)
      respond(c, 400, "Bad Request", "text/plain", "bad request\n", 12, false), c->done = true;
  }
  if (c->done)
    uv_read_stop(st);
}

static void on_idle(uv_timer_t *t) { conn_close(t->data); }

static void on_connection(uv_stream_t *l, int status) {
  health_server *s = l->data;
  if (status < 0 || s->closing)
    return;
  conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->srv = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->idle);
  c->tcp.data = c->idle.data = c;
  c->open = 2;
  s->nconns++;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  buf_init(&c->out, (size_t)16 << 20);
  if (uv_accept(l, (uv_stream_t *)&c->tcp) || s->nconns > HEALTH_MAX_CONNECTIONS) {
    conn_close(c);
    return;
  }
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_timer_start(&c->idle, on_idle, HEALTH_IDLE_MS, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int health_server_start(health_server **out, uv_loop_t *loop, const char *addr,
                        const health_callbacks *cb) {
  char host[256];
  int port;
  int rc = health_parse_addr(addr, host, sizeof host, &port);
  if (rc)
    return rc;
  struct sockaddr_storage sa;
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) &&
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa))
    return error_set(ERR_INVALID, "address '%s': host must be an IP address", addr);
  health_server *s = calloc(1, sizeof *s);
  if (!s)
    return error_set(ERR_NOMEM, "health: out of memory");
  s->loop = loop;
  if (cb)
    s->cb = *cb;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  s->open = 1;
  int e = uv_tcp_bind(&s->listener, (struct sockaddr *)&sa, 0);
  if (!e)
    e = uv_listen((uv_stream_t *)&s->listener, 64, on_connection);
  if (e) {
    rc = error_set(ERR_IO, "health: cannot listen on %s: %s", addr, uv_strerror(e));
    health_server_close(s);
    return rc;
  }
  struct sockaddr_storage bound;
  int len = sizeof bound;
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  *out = s;
  return 0;
}

int health_server_port(health_server *s) { return s->port; }

static void on_listener_closed(uv_handle_t *h) {
  health_server *s = h->data;
  s->open--;
  srv_maybe_free(s);
}

void health_server_close(health_server *s) {
  s->closing = true;
  for (conn *c = s->conns; c; c = c->next)
    conn_close(c);
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}
