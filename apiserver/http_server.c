/*
 * http_server: see http_server.h for the contract. How it works:
 *
 * One `conn` per TCP connection, kept on the server's list. Input: socket bytes -> TLS
 * read BIO -> SSL_read -> http_parser (callbacks gather URL, the few headers the API
 * needs and the body, all bounded) -> on_message_complete runs the request synchronously.
 * Output: SSL_write -> write BIO -> uv_write of heap copies; `write_queued` counts the
 * bytes libuv has not sent yet, which is what bounds a slow watch client.
 *
 * While a stream is open the parser is paused and later input is kept (bounded); once the
 * stream ends, that input is parsed from an idle callback, never from inside the handler's
 * own api_stream_end() call. A conn is freed only from its uv_close callback, so a conn pointer
 * stays valid through every callback of the current loop iteration; `closed` marks one that is on
 * its way out.
 *
 * The same conn machinery runs without a socket (memory mode: output appended to a buf)
 * for unit tests and the fuzz target, so they exercise the real request path.
 */
#include "apiserver/http_server.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

#include <http_parser.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_BYTES ((size_t)64 << 10)
#define MAX_URL_BYTES ((size_t)64 << 10)
#define MAX_QUERY_PARAMS 256
#define MAX_PENDING_INPUT ((size_t)64 << 10)
#define READ_CHUNK ((size_t)64 << 10)

typedef struct conn conn;

struct api_stream {
  conn *c;
  api_stream_close_cb on_close;
  void *ctx;
};

struct conn {
  const http_server_options *opt;
  http_server *server; /* NULL in memory mode */
  conn *prev, *next;
  uv_tcp_t tcp;
  buf *sink; /* memory mode output */
  SSL *ssl;
  BIO *rbio, *wbio;
  http_parser parser;
  /* the request being parsed */
  buf url, body, hfield, hvalue;
  size_t header_bytes;
  bool in_value;
  char *content_type, *accept, *user_agent, *authorization, *expect;
  int early_status; /* 413/414/431 answered at message end (or at once for 413) */
  bool responded;
  /* state */
  api_stream *stream;
  buf pending_in;
  bool closed, close_after_write;
  bool tls_started; /* the first bytes were seen (and were a TLS handshake) */
  bool resume_pending; /* pending_in waits for the server's resume callback */
  size_t write_queued;
  uint64_t last_activity;
};

struct http_server {
  uv_loop_t *loop;
  http_server_options opt;
  char *host, *cert_file, *key_file, *token;
  uv_tcp_t listener;
  uv_timer_t sweep;
  uv_idle_t resume; /* feeds input kept during a stream, outside of any handler call */
  SSL_CTX *ssl_ctx;
  conn *conns;
  size_t conn_count;
  int port;
  bool closing;
  int open_handles; /* listener, sweep timer and resume idle still to be closed */
  char read_buf[READ_CHUNK];
};

static _Thread_local conn *handling; /* conn whose handler is running */
static _Thread_local api_response *handling_resp;

/* --- output ------------------------------------------------------------------------------ */

typedef struct write_req {
  uv_write_t req;
  conn *c;
  size_t len;
  char data[];
} write_req;

static void conn_close(conn *c);

static void on_write_done(uv_write_t *req, int status) {
  write_req *w = (write_req *)req;
  conn *c = w->c;
  c->write_queued -= w->len;
  free(w);
  if (status < 0 || (c->close_after_write && c->write_queued == 0))
    conn_close(c);
}

/* Queues w (len bytes filled in) on the socket; takes ownership of w. */
static int socket_queue(conn *c, write_req *w) {
  w->c = c;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)w->len);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
  if (rc < 0) {
    free(w);
    conn_close(c);
    return error_set(ERR_IO, "write: %s", uv_strerror(rc));
  }
  c->write_queued += w->len;
  return 0;
}

static int socket_write(conn *c, const char *data, size_t len) {
  if (c->closed)
    return error_set(ERR_IO, "connection closed");
  write_req *w = malloc(sizeof(*w) + len);
  if (!w)
    return error_set(ERR_NOMEM, "out of memory");
  memcpy(w->data, data, len);
  w->len = len;
  return socket_queue(c, w);
}

/* Moves whatever TLS produced into one socket write (no intermediate copy). */
static int flush_tls(conn *c) {
  int pending = BIO_pending(c->wbio);
  if (pending <= 0 || c->closed)
    return c->closed ? error_set(ERR_IO, "connection closed") : 0;
  write_req *w = malloc(sizeof(*w) + (size_t)pending);
  if (!w)
    return error_set(ERR_NOMEM, "out of memory");
  int n = BIO_read(c->wbio, w->data, pending);
  if (n <= 0) {
    free(w);
    return 0;
  }
  w->len = (size_t)n;
  return socket_queue(c, w);
}

/* Writes a then b (b may be empty) as one flush: TLS records for both, then one socket
 * write, so a small response head does not travel in a packet of its own. */
static int conn_write2(conn *c, const void *a, size_t alen, const void *b, size_t blen) {
  if (c->closed)
    return error_set(ERR_IO, "connection closed");
  if (c->sink) {
    int rc = buf_append(c->sink, a, alen);
    return rc || !blen ? rc : buf_append(c->sink, b, blen);
  }
  if (!c->ssl) {
    int rc = socket_write(c, a, alen);
    return rc || !blen ? rc : socket_write(c, b, blen);
  }
  const void *parts[2] = {a, b};
  size_t lens[2] = {alen, blen};
  for (int i = 0; i < 2; i++) {
    const char *data = parts[i];
    size_t len = lens[i];
    while (len > 0) {
      int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
      int n = SSL_write(c->ssl, data, chunk);
      if (n <= 0) {
        conn_close(c);
        return error_set(ERR_IO, "TLS write failed");
      }
      data += n;
      len -= (size_t)n;
    }
  }
  return flush_tls(c);
}

static int conn_write(conn *c, const void *data, size_t len) {
  return conn_write2(c, data, len, NULL, 0);
}

static const char *status_text(int code) {
  switch (code) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 202:
    return "Accepted";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 406:
    return "Not Acceptable";
  case 409:
    return "Conflict";
  case 410:
    return "Gone";
  case 413:
    return "Request Entity Too Large";
  case 414:
    return "URI Too Long";
  case 415:
    return "Unsupported Media Type";
  case 422:
    return "Unprocessable Entity";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return code < 300 ? "OK" : code < 500 ? "Error" : "Server Error";
  }
}

/* Status line and headers (without the final CRLF's body). */
static int build_head(buf *out, const api_response *resp, bool chunked, size_t content_length,
                      bool closing) {
  int code = resp->status ? resp->status : 200;
  int rc = buf_printf(
      out, "HTTP/1.1 %d %s\r\nCache-Control: no-cache, private\r\nContent-Type: %s\r\n", code,
      status_text(code), resp->content_type[0] ? resp->content_type : "application/json");
  /* one Warning header per line of resp->warnings */
  const char *w = buf_cstr(&resp->warnings);
  while (!rc && *w) {
    const char *nl = strchr(w, '\n');
    size_t n = nl ? (size_t)(nl - w) : strlen(w);
    if (n) {
      rc = buf_puts(out, "Warning: 299 - \"");
      for (size_t i = 0; !rc && i < n; i++) {
        char ch = w[i];
        if (ch == '"' || ch == '\\')
          rc = buf_putc(out, '\\');
        if (!rc)
          rc = buf_putc(out, (ch == '\r') ? ' ' : ch);
      }
      if (!rc)
        rc = buf_puts(out, "\"\r\n");
    }
    w += n + (nl ? 1 : 0);
  }
  if (!rc && chunked)
    rc = buf_puts(out, "Transfer-Encoding: chunked\r\n");
  else if (!rc)
    rc = buf_printf(out, "Content-Length: %zu\r\n", content_length);
  if (!rc && closing)
    rc = buf_puts(out, "Connection: close\r\n");
  if (!rc)
    rc = buf_puts(out, "\r\n");
  return rc;
}

static void send_response(conn *c, const api_response *resp, bool head_only) {
  bool closing = c->close_after_write || !http_should_keep_alive(&c->parser);
  buf head = BUF_INIT;
  if (build_head(&head, resp, false, resp->body.len, closing)) {
    log_error(NULL, "http: cannot build response headers: %s", error_message());
    c->close_after_write = closing = true;
  } else {
    /* the body goes straight from the handler's buffer */
    conn_write2(c, head.data, head.len, resp->body.data, head_only ? 0 : resp->body.len);
  }
  buf_free(&head);
  c->responded = true;
  if (closing) {
    c->close_after_write = true;
    if (c->write_queued == 0)
      conn_close(c);
  }
}

/* Answers with a Status right away (used for errors the handler never sees). */
static void send_status(conn *c, int code, const char *reason, const char *message, bool close) {
  api_response resp = {0};
  api_respond_status(&resp, code, reason, message, NULL);
  if (close)
    c->close_after_write = true;
  send_response(c, &resp, false);
  buf_free(&resp.body);
}

/* --- streams ------------------------------------------------------------------------------ */

api_stream *api_response_start_stream(api_response *resp, api_stream_close_cb on_close, void *ctx) {
  conn *c = handling;
  if (!c || resp != handling_resp || c->stream || c->closed) {
    error_set(ERR_INVALID, "api_response_start_stream outside of a request handler");
    return NULL;
  }
  api_stream *s = calloc(1, sizeof(*s));
  if (!s) {
    error_set(ERR_NOMEM, "out of memory");
    return NULL;
  }
  buf head = BUF_INIT;
  if (build_head(&head, resp, true, 0, false) || conn_write(c, head.data, head.len)) {
    buf_free(&head);
    free(s);
    return NULL;
  }
  buf_free(&head);
  s->c = c;
  s->on_close = on_close;
  s->ctx = ctx;
  c->stream = s;
  resp->stream = s;
  c->responded = true;
  return s;
}

int api_stream_write(api_stream *s, const void *data, size_t len) {
  conn *c = s->c;
  if (!c || c->closed)
    return error_set(ERR_IO, "the watch client is gone");
  if (len == 0)
    return 0;
  size_t limit = c->opt->stream_queue_limit ? c->opt->stream_queue_limit : ((size_t)16 << 20);
  if (c->write_queued + len > limit) {
    log_warn(NULL, "http: closing a stream whose client is too slow (%zu bytes queued)",
             c->write_queued);
    conn_close(c);
    return error_set(ERR_LIMIT, "the watch client is too slow: %zu bytes queued", c->write_queued);
  }
  char size_line[32];
  int n = snprintf(size_line, sizeof(size_line), "%zx\r\n", len);
  buf chunk = BUF_INIT;
  buf_init(&chunk, len + 64);
  int rc = buf_append(&chunk, size_line, (size_t)n);
  if (!rc)
    rc = buf_append(&chunk, data, len);
  if (!rc)
    rc = buf_append(&chunk, "\r\n", 2);
  if (!rc)
    rc = conn_write(c, chunk.data, chunk.len);
  buf_free(&chunk);
  return rc;
}

static void conn_feed(conn *c, const char *data, size_t len);

static void conn_feed_pending(conn *c) {
  buf pending = c->pending_in;
  buf_init(&c->pending_in, MAX_PENDING_INPUT);
  conn_feed(c, pending.data, pending.len);
  buf_free(&pending);
}

static void on_resume(uv_idle_t *idle) {
  http_server *s = idle->data;
  uv_idle_stop(idle);
  for (conn *c = s->conns; c; c = c->next) {
    if (!c->resume_pending)
      continue;
    c->resume_pending = false;
    if (!c->closed && !c->stream)
      conn_feed_pending(c);
  }
}

/* Calls on_close once and forgets the stream. */
static void stream_finish(conn *c) {
  api_stream *s = c->stream;
  if (!s)
    return;
  c->stream = NULL;
  s->c = NULL;
  if (s->on_close)
    s->on_close(s, s->ctx);
  free(s);
}

void api_stream_end(api_stream *s) {
  conn *c = s->c;
  if (!c) {
    free(s);
    return;
  }
  conn_write(c, "0\r\n\r\n", 5);
  stream_finish(c);
  if (c->closed)
    return;
  if (c->close_after_write || !http_should_keep_alive(&c->parser)) {
    c->close_after_write = true;
    if (c->write_queued == 0)
      conn_close(c);
    return;
  }
  http_parser_pause(&c->parser, 0);
  if (!c->pending_in.len)
    return;
  /* What the client sent meanwhile (pipelining) is parsed from a loop callback: feeding it
   * here could call the handler again from inside the handler's own api_stream_end(). */
  if (c->server) {
    c->resume_pending = true;
    uv_idle_start(&c->server->resume, on_resume);
  } else {
    conn_feed_pending(c);
  }
}

/* --- request parsing ------------------------------------------------------------------------ */

static void request_reset(conn *c) {
  buf_reset(&c->url);
  buf_reset(&c->body);
  buf_reset(&c->hfield);
  buf_reset(&c->hvalue);
  c->header_bytes = 0;
  c->in_value = false;
  free(c->content_type), free(c->accept), free(c->user_agent), free(c->authorization);
  free(c->expect);
  c->content_type = c->accept = c->user_agent = c->authorization = c->expect = NULL;
  c->early_status = 0;
  c->responded = false;
}

static void commit_header(conn *c) {
  if (!c->hfield.len)
    return;
  const char *name = buf_cstr(&c->hfield);
  char **slot = NULL;
  if (!strcasecmp(name, "content-type"))
    slot = &c->content_type;
  else if (!strcasecmp(name, "accept"))
    slot = &c->accept;
  else if (!strcasecmp(name, "user-agent"))
    slot = &c->user_agent;
  else if (!strcasecmp(name, "authorization"))
    slot = &c->authorization;
  else if (!strcasecmp(name, "expect"))
    slot = &c->expect;
  if (slot) {
    free(*slot);
    *slot = str_dup(buf_cstr(&c->hvalue));
  }
  buf_reset(&c->hfield);
  buf_reset(&c->hvalue);
}

static int on_message_begin(http_parser *p) {
  request_reset((conn *)p->data);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (buf_append(&c->url, at, len))
    c->early_status = 414;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->in_value) {
    commit_header(c);
    c->in_value = false;
  }
  c->header_bytes += len;
  if (c->header_bytes > MAX_HEADER_BYTES || buf_append(&c->hfield, at, len))
    c->early_status = c->early_status ? c->early_status : 431;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  c->in_value = true;
  c->header_bytes += len;
  if (c->header_bytes > MAX_HEADER_BYTES || buf_append(&c->hvalue, at, len))
    c->early_status = c->early_status ? c->early_status : 431;
  return 0;
}

static void send_too_large(conn *c) {
  char msg[96];
  snprintf(msg, sizeof(msg), "Request entity too large: limit is %zu", API_MAX_BODY);
  send_status(c, 413, "RequestEntityTooLarge", msg, true);
}

static int on_headers_complete(http_parser *p) {
  conn *c = p->data;
  if (c->in_value)
    commit_header(c);
  if (!c->early_status && (p->flags & F_CONTENTLENGTH) && p->content_length > API_MAX_BODY)
    c->early_status = 413;
  if (c->early_status == 413) {
    send_too_large(c);
    return 1; /* no body: on_message_complete pauses the parser, the connection closes */
  }
  /* curl and others wait (a second) for this before sending a large body */
  if (!c->early_status && c->expect && !strcasecmp(c->expect, "100-continue") && p->http_minor >= 1)
    conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (c->early_status)
    return 0;
  if (c->body.len + len > API_MAX_BODY) {
    c->early_status = 413;
    send_too_large(c);
    return 1;
  }
  if (buf_append(&c->body, at, len))
    c->early_status = 500;
  return 0;
}

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..n) into a new string; '+' becomes a space when plus_is_space
 * (query strings, as Go's url.ParseQuery). ERR_INVALID for a bad escape or a NUL. */
static int percent_decode(const char *s, size_t n, bool plus_is_space, char **out) {
  char *d = malloc(n + 1);
  if (!d)
    return error_set(ERR_NOMEM, "out of memory");
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '%') {
      if (i + 2 >= n) {
        free(d);
        return error_set(ERR_INVALID, "invalid URL escape");
      }
      int h = hex_value(s[i + 1]), l = hex_value(s[i + 2]);
      if (h < 0 || l < 0 || (h == 0 && l == 0)) {
        free(d);
        return error_set(ERR_INVALID, "invalid URL escape");
      }
      d[j++] = (char)(h * 16 + l);
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      d[j++] = ' ';
    } else {
      d[j++] = ch;
    }
  }
  d[j] = 0;
  *out = d;
  return 0;
}

static void free_query(api_query_param *q, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(q[i].name);
    free(q[i].value);
  }
  free(q);
}

static int parse_query(const char *raw, api_query_param **out, size_t *count) {
  *out = NULL;
  *count = 0;
  api_query_param *q = NULL;
  size_t n = 0;
  const char *p = raw;
  while (*p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len) {
      if (n == MAX_QUERY_PARAMS) {
        free_query(q, n);
        return error_set(ERR_LIMIT, "too many query parameters");
      }
      api_query_param *bigger = realloc(q, (n + 1) * sizeof(*q));
      if (!bigger) {
        free_query(q, n);
        return error_set(ERR_NOMEM, "out of memory");
      }
      q = bigger;
      const char *eq = memchr(p, '=', len);
      size_t name_len = eq ? (size_t)(eq - p) : len;
      q[n].name = q[n].value = NULL;
      int rc = percent_decode(p, name_len, true, &q[n].name);
      if (!rc)
        rc = eq ? percent_decode(eq + 1, len - name_len - 1, true, &q[n].value)
                : percent_decode("", 0, true, &q[n].value);
      n++;
      if (rc) {
        free_query(q, n);
        return rc;
      }
    }
    if (!end)
      break;
    p = end + 1;
  }
  *out = q;
  *count = n;
  return 0;
}

static bool is_public_path(const char *path) {
  return !strcmp(path, "/healthz") || !strcmp(path, "/livez") || !strcmp(path, "/readyz");
}

static bool authorized(const conn *c) {
  const char *want = c->opt->bearer_token;
  if (!want || !want[0])
    return true;
  const char *h = c->authorization;
  if (!h || strncasecmp(h, "Bearer ", 7))
    return false;
  h += 7;
  while (*h == ' ')
    h++;
  size_t n = strlen(h);
  while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
    n--;
  return n == strlen(want) && CRYPTO_memcmp(h, want, n) == 0;
}

static void handle_request(conn *c) {
  if (c->early_status == 414) {
    send_status(c, 414, "RequestURITooLong", "request URI too long", true);
    return;
  }
  if (c->early_status == 431) {
    send_status(c, 431, "RequestHeaderFieldsTooLarge", "request header fields too large", true);
    return;
  }
  if (c->early_status) {
    send_status(c, 500, "InternalError", "out of memory", true);
    return;
  }
  const char *url = buf_cstr(&c->url);
  const char *qmark = strchr(url, '?');
  size_t path_len = qmark ? (size_t)(qmark - url) : strlen(url);
  const char *raw_query = qmark ? qmark + 1 : "";
  char *path = NULL;
  api_query_param *query = NULL;
  size_t query_count = 0;
  if (url[0] != '/' || percent_decode(url, path_len, false, &path) ||
      parse_query(raw_query, &query, &query_count)) {
    free(path);
    send_status(c, 400, "BadRequest", "malformed request URI", false);
    return;
  }
  api_request req = {
      .method = http_method_str((enum http_method)c->parser.method),
      .path = path,
      .raw_query = raw_query,
      .query = query,
      .query_count = query_count,
      .content_type = c->content_type ? c->content_type : "",
      .accept = c->accept ? c->accept : "",
      .user_agent = c->user_agent ? c->user_agent : "",
      .body = c->body.data ? c->body.data : "",
      .body_len = c->body.len,
  };
  api_response resp = {0};
  resp.status = 200;
  str_copy(resp.content_type, "application/json", sizeof(resp.content_type));
  if (!is_public_path(path) && !authorized(c)) {
    api_respond_status(&resp, 401, "Unauthorized", "Unauthorized", NULL);
  } else {
    handling = c;
    handling_resp = &resp;
    error_clear();
    int rc = c->opt->handler ? c->opt->handler(c->opt->handler_ctx, &req, &resp) : 0;
    handling = NULL;
    handling_resp = NULL;
    if (rc < 0 && !resp.stream) {
      log_error(NULL, "http: handler failed for %s %s: %s", req.method, path, error_message());
      api_respond_status(&resp, 500, "InternalError", error_message(), NULL);
    }
  }
  if (!resp.stream && !c->closed)
    send_response(c, &resp, c->parser.method == HTTP_HEAD);
  buf_free(&resp.body);
  buf_free(&resp.warnings);
  free(path);
  free_query(query, query_count);
}

static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  if (c->early_status != 413)
    handle_request(c);
  request_reset(c);
  if (c->stream || c->closed || c->close_after_write)
    http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds plaintext to the parser (or keeps it while a stream is open). */
static void conn_feed(conn *c, const char *data, size_t len) {
  if (c->closed || c->close_after_write)
    return;
  if (c->stream) {
    if (buf_append(&c->pending_in, data, len))
      conn_close(c);
    return;
  }
  size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
  enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
  if (err == HPE_PAUSED) {
    if (c->stream && n < len && buf_append(&c->pending_in, data + n, len - n))
      conn_close(c);
    return;
  }
  if (err != HPE_OK && !c->closed && !c->close_after_write) {
    if (!c->responded)
      send_status(c, 400, "BadRequest", http_errno_description(err), true);
    else
      conn_close(c);
  }
}

static void conn_init(conn *c, const http_server_options *opt) {
  c->opt = opt;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  buf_init(&c->url, MAX_URL_BYTES);
  buf_init(&c->body, API_MAX_BODY);
  buf_init(&c->hfield, MAX_HEADER_BYTES);
  buf_init(&c->hvalue, MAX_HEADER_BYTES);
  buf_init(&c->pending_in, MAX_PENDING_INPUT);
}

static void conn_free_memory(conn *c) {
  stream_finish(c);
  request_reset(c);
  buf_free(&c->url);
  buf_free(&c->body);
  buf_free(&c->hfield);
  buf_free(&c->hvalue);
  buf_free(&c->pending_in);
  if (c->ssl)
    SSL_free(c->ssl); /* frees both BIOs */
  free(c);
}

/* --- sockets --------------------------------------------------------------------------------- */

static void server_maybe_free(http_server *s);

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  http_server *s = c->server;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  s->conn_count--;
  conn_free_memory(c);
  if (s->closing)
    server_maybe_free(s);
}

static void conn_close(conn *c) {
  if (c->closed)
    return;
  c->closed = true;
  if (c->sink)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  conn *c = h->data;
  *b = uv_buf_init(c->server->read_buf, sizeof(c->server->read_buf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b) {
  conn *c = stream->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0 || c->closed)
    return;
  c->last_activity = uv_now(c->server->loop);
  if (!c->ssl) {
    conn_feed(c, b->base, (size_t)nread);
    return;
  }
  if (!c->tls_started) {
    /* A TLS connection opens with a handshake record (type 22). Anything else is most likely
     * plain HTTP sent to the HTTPS port: answer it as Go's net/http (kube-apiserver) does. */
    c->tls_started = true;
    if ((unsigned char)b->base[0] != 0x16) {
      static const char reply[] = "HTTP/1.0 400 Bad Request\r\n\r\n"
                                  "Client sent an HTTP request to an HTTPS server.\n";
      uv_buf_t out = uv_buf_init((char *)reply, sizeof(reply) - 1);
      uv_try_write((uv_stream_t *)&c->tcp, &out, 1);
      conn_close(c);
      return;
    }
  }
  if (BIO_write(c->rbio, b->base, (int)nread) != (int)nread) {
    conn_close(c);
    return;
  }
  if (!SSL_is_init_finished(c->ssl)) {
    int r = SSL_do_handshake(c->ssl);
    flush_tls(c);
    if (r <= 0) {
      int e = SSL_get_error(c->ssl, r);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        log_debug(NULL, "http: TLS handshake failed");
        ERR_clear_error();
        conn_close(c);
      }
      return;
    }
  }
  char plain[16384];
  while (!c->closed) {
    int n = SSL_read(c->ssl, plain, sizeof(plain));
    if (n > 0) {
      conn_feed(c, plain, (size_t)n);
      continue;
    }
    int e = SSL_get_error(c->ssl, n);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      conn_close(c);
    }
    break;
  }
  if (!c->closed)
    flush_tls(c);
}

static void on_connection(uv_stream_t *listener, int status) {
  http_server *s = listener->data;
  if (status < 0 || s->closing)
    return;
  conn *c = calloc(1, sizeof(*c));
  if (!c)
    return;
  conn_init(c, &s->opt);
  c->server = s;
  uv_tcp_init(s->loop, &c->tcp);
  c->tcp.data = c;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  s->conn_count++;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  size_t max = s->opt.max_connections ? s->opt.max_connections : 1024;
  if (s->conn_count > max) {
    log_warn(NULL, "http: connection refused: %zu connections open", s->conn_count - 1);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->last_activity = uv_now(s->loop);
  if (s->ssl_ctx) {
    c->ssl = SSL_new(s->ssl_ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
      BIO_free(c->rbio);
      BIO_free(c->wbio);
      c->rbio = c->wbio = NULL;
      conn_close(c);
      return;
    }
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Closes idle keep-alive connections (and stalled handshakes). */
static void on_sweep(uv_timer_t *t) {
  http_server *s = t->data;
  uint64_t now = uv_now(s->loop);
  unsigned idle = s->opt.idle_timeout_ms ? s->opt.idle_timeout_ms : 120000;
  for (conn *c = s->conns; c; c = c->next)
    if (!c->closed && !c->stream && now - c->last_activity > idle)
      conn_close(c);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  (void)arg;
  static const unsigned char http11[] = "\x08http/1.1";
  unsigned char *sel = NULL;
  if (SSL_select_next_proto(&sel, outlen, http11, sizeof(http11) - 1, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

static int make_ssl_ctx(http_server *s) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx)
    return error_set(ERR_NOMEM, "TLS: cannot make a context");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_file) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, s->key_file, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    unsigned long e = ERR_get_error();
    char detail[256];
    ERR_error_string_n(e, detail, sizeof(detail));
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return error_set(ERR_INVALID, "TLS: cannot load %s / %s: %s", s->cert_file, s->key_file,
                     detail);
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  s->ssl_ctx = ctx;
  return 0;
}

static void server_free(http_server *s) {
  if (s->ssl_ctx)
    SSL_CTX_free(s->ssl_ctx);
  free(s->host), free(s->cert_file), free(s->key_file), free(s->token);
  free(s);
}

static void server_maybe_free(http_server *s) {
  if (s->closing && s->open_handles == 0 && s->conns == NULL)
    server_free(s);
}

static void on_server_handle_closed(uv_handle_t *h) {
  http_server *s = h->data;
  s->open_handles--;
  server_maybe_free(s);
}

int http_server_start(http_server **out, uv_loop_t *loop, const http_server_options *options) {
  http_server *s = calloc(1, sizeof(*s));
  if (!s)
    return error_set(ERR_NOMEM, "out of memory");
  s->loop = loop;
  s->opt = *options;
  s->host = str_dup(options->host ? options->host : "127.0.0.1");
  s->cert_file = str_dup(options->cert_file);
  s->key_file = str_dup(options->key_file);
  s->token = str_dup(options->bearer_token);
  s->opt.host = s->host;
  s->opt.cert_file = s->cert_file;
  s->opt.key_file = s->key_file;
  s->opt.bearer_token = s->token;
  int rc = 0;
  if (!s->host || (options->bearer_token && !s->token)) {
    server_free(s);
    return error_set(ERR_NOMEM, "out of memory");
  }
  if (s->cert_file && s->key_file && (rc = make_ssl_ctx(s))) {
    server_free(s);
    return rc;
  }
  struct sockaddr_storage addr;
  if (uv_ip4_addr(s->host, options->port, (struct sockaddr_in *)&addr) != 0 &&
      uv_ip6_addr(s->host, options->port, (struct sockaddr_in6 *)&addr) != 0) {
    server_free(s);
    return error_set(ERR_INVALID, "listen: '%s' is not an IP address", options->host);
  }
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  uv_timer_init(loop, &s->sweep);
  s->sweep.data = s;
  uv_idle_init(loop, &s->resume);
  s->resume.data = s;
  s->open_handles = 3;
  int uvrc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
  if (uvrc == 0)
    uvrc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (uvrc != 0) {
    error_set(ERR_IO, "listen on %s:%d: %s", s->host, options->port, uv_strerror(uvrc));
    /* the handles must close from the loop; the server frees itself then */
    s->closing = true;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->sweep, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->resume, on_server_handle_closed);
    return ERR_IO;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  unsigned idle = s->opt.idle_timeout_ms ? s->opt.idle_timeout_ms : 120000;
  uv_timer_start(&s->sweep, on_sweep, idle / 4 + 1, idle / 4 + 1);
  uv_unref((uv_handle_t *)&s->sweep);
  *out = s;
  return 0;
}

int http_server_port(const http_server *server) {
  return server->port;
}

void http_server_close(http_server *s) {
  if (!s || s->closing)
    return;
  s->closing = true;
  uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
  uv_close((uv_handle_t *)&s->sweep, on_server_handle_closed);
  uv_close((uv_handle_t *)&s->resume, on_server_handle_closed);
  for (conn *c = s->conns; c; c = c->next)
    conn_close(c);
}

int http_server_process_bytes(const http_server_options *options, const void *data, size_t len,
                              buf *out) {
  conn *c = calloc(1, sizeof(*c));
  if (!c)
    return error_set(ERR_NOMEM, "out of memory");
  conn_init(c, options);
  c->sink = out;
  conn_feed(c, data, len);
  conn_free_memory(c);
  return 0;
}
