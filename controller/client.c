/*
 * client: see client.h.
 *
 * Mechanics (after curl's docs/examples/multi-uv.c): CURLMOPT_SOCKETFUNCTION creates or
 * updates a uv_poll_t per socket curl cares about; CURLMOPT_TIMERFUNCTION arms one
 * uv_timer_t; both call curl_multi_socket_action and then drain curl_multi_info_read for
 * finished transfers. curl forbids re-entering the multi handle from its own callbacks, so
 * a request cancelled from inside a write callback (a watch handler stopping its watch) is
 * only marked, and removed right after curl_multi_socket_action returns.
 *
 * Cross-thread calls are queued under `calls_mu` and started on the loop by a uv_async_t;
 * the caller waits on its own condition variable. A caller that gives up (timeout) marks
 * its call abandoned and the loop frees it when the request ends.
 */
#include "controller/client.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sync_call sync_call;

struct kube_request {
  kube_client *c;
  CURL *easy;
  struct curl_slist *headers;
  char *req_body;
  buf body;        /* non-watch answers and watch error bodies */
  buf line;        /* watch: the incomplete line */
  bool watch, cancelled, limit_hit;
  kube_event_fn on_event;
  kube_done_fn done;
  void *ctx;
  uint64_t start_ns;
  char verb[8];
  char errbuf[CURL_ERROR_SIZE];
  uint64_t retry_after_ms;
  kube_request *prev, *next;
};

struct sync_call {
  char *method, *path, *body, *ctype;
  uint64_t timeout_ms;
  kube_response resp;
  bool finished, abandoned;
  pthread_cond_t cond;
  kube_client *owner;
  sync_call *next;
};

typedef struct socket_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  kube_client *c;
  struct socket_ctx *prev, *next;
} socket_ctx;

struct kube_client {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  uv_async_t async;
  kubeconfig *cfg;
  kube_request *requests;
  socket_ctx *sockets;
  int in_curl;
  bool closing;
  int open_handles;
  void (*on_closed)(void *);
  void *on_closed_ctx;
  pthread_t loop_thread;
  pthread_mutex_t calls_mu;
  sync_call *calls_head, *calls_tail;
  size_t calls_len;
  kube_observe_fn observe;
  void *observe_ctx;
  char user_agent[128];
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void kube_response_free(kube_response *r) {
  if (!r)
    return;
  json_decref(r->body);
  r->body = NULL;
}

/* --- errors -------------------------------------------------------------------------- */

int kube_error_from_status(long http, const json_t *st) {
  const char *reason = st ? json_string_value(json_object_get(st, "reason")) : NULL;
  if (reason) {
    static const struct {
      const char *reason;
      int code;
    } map[] = {{"NotFound", ERR_NOTFOUND},       {"AlreadyExists", ERR_EXISTS},
               {"Conflict", ERR_CONFLICT},       {"Gone", ERR_GONE},
               {"Expired", ERR_GONE},            {"Invalid", ERR_INVALID},
               {"BadRequest", ERR_INVALID},      {"Forbidden", ERR_FORBIDDEN},
               {"Unauthorized", ERR_AUTH},       {"TooManyRequests", ERR_LIMIT},
               {"ServiceUnavailable", ERR_UNAVAILABLE},
               {"InternalError", ERR_UNAVAILABLE},
               {"Timeout", ERR_TIMEOUT},         {"ServerTimeout", ERR_TIMEOUT},
               {"MethodNotAllowed", ERR_UNSUPPORTED},
               {"NotAcceptable", ERR_UNSUPPORTED},
               {"UnsupportedMediaType", ERR_UNSUPPORTED},
               {"RequestEntityTooLarge", ERR_LIMIT}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
      if (!strcmp(reason, map[i].reason))
        return map[i].code;
  }
  switch (http) {
  case 400: return ERR_INVALID;
  case 401: return ERR_AUTH;
  case 403: return ERR_FORBIDDEN;
  case 404: return ERR_NOTFOUND;
  case 405: case 406: case 415: return ERR_UNSUPPORTED;
  case 408: case 504: return ERR_TIMEOUT;
  case 409: return ERR_CONFLICT;
  case 410: return ERR_GONE;
  case 413: case 429: return ERR_LIMIT;
  case 422: return ERR_INVALID;
  default: break;
  }
  if (http >= 500)
    return ERR_UNAVAILABLE;
  return http >= 300 ? ERR_GENERIC : 0;
}

/* --- paths --------------------------------------------------------------------------- */

int kube_query_escape(buf *out, const char *v) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
    int rc;
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
        *p == '-' || *p == '_' || *p == '.' || *p == '~')
      rc = buf_putc(out, (char)*p);
    else
      rc = buf_printf(out, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    if (rc)
      return rc;
  }
  return 0;
}

int kube_path(buf *out, const kube_resource *res, const char *ns, const char *name,
              const char *sub) {
  int rc = (!res->group || !*res->group) ? buf_printf(out, "/api/%s", res->version)
                                         : buf_printf(out, "/apis/%s/%s", res->group, res->version);
  if (!rc && res->namespaced && ns && *ns)
    rc = buf_printf(out, "/namespaces/%s", ns);
  if (!rc)
    rc = buf_printf(out, "/%s", res->resource);
  if (!rc && name && *name)
    rc = buf_printf(out, "/%s", name);
  if (!rc && sub && *sub)
    rc = buf_printf(out, "/%s", sub);
  return rc;
}

/* --- curl glue ----------------------------------------------------------------------- */

static void finish(kube_request *r, int code_override);

static void process_cancels(kube_client *c) {
  for (kube_request *r = c->requests, *n; r; r = n) {
    n = r->next;
    if (r->cancelled)
      finish(r, ERR_CANCELLED);
  }
}

static void check_multi_info(kube_client *c) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(c->multi, &left))) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    kube_request *r = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r)
      continue;
    CURLcode res = msg->data.result;
    int code = 0;
    if (r->cancelled)
      code = ERR_CANCELLED;
    else if (res == CURLE_OK)
      code = 0;
    else if (r->limit_hit)
      code = ERR_LIMIT;
    else if (res == CURLE_OPERATION_TIMEDOUT)
      code = ERR_TIMEOUT;
    else
      code = ERR_UNAVAILABLE;
    if (code == 0)
      finish(r, 0);
    else {
      if (!r->errbuf[0])
        str_copy(r->errbuf, curl_easy_strerror(res), sizeof r->errbuf);
      finish(r, code);
    }
  }
}

static void socket_action(kube_client *c, curl_socket_t fd, int flags) {
  int running;
  c->in_curl++;
  curl_multi_socket_action(c->multi, fd, flags, &running);
  c->in_curl--;
  check_multi_info(c);
  process_cancels(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  socket_ctx *s = h->data;
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  socket_action(s->c, s->fd, flags);
}

static void on_timer(uv_timer_t *t) {
  kube_client *c = t->data;
  socket_action(c, CURL_SOCKET_TIMEOUT, 0);
}

static void on_handle_closed(uv_handle_t *h) {
  kube_client *c = NULL;
  if (h->type == UV_POLL) {
    socket_ctx *s = h->data;
    c = s->c;
    free(s);
  } else {
    c = h->data;
  }
  if (--c->open_handles == 0 && c->closing) {
    void (*cb)(void *) = c->on_closed;
    void *ctx = c->on_closed_ctx;
    pthread_mutex_destroy(&c->calls_mu);
    free(c);
    if (cb)
      cb(ctx);
  }
}

static void socket_close(socket_ctx *s) {
  kube_client *c = s->c;
  if (s->prev)
    s->prev->next = s->next;
  else
    c->sockets = s->next;
  if (s->next)
    s->next->prev = s->prev;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static int curl_socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp) {
  (void)easy;
  kube_client *c = userp;
  socket_ctx *s = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(c->multi, fd, NULL);
      socket_close(s);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s)
      return -1;
    s->fd = fd;
    s->c = c;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
      free(s);
      return -1;
    }
    s->poll.data = s;
    c->open_handles++;
    s->next = c->sockets;
    if (c->sockets)
      c->sockets->prev = s;
    c->sockets = s;
    curl_multi_assign(c->multi, fd, s);
  }
  int ev = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
    ev |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
    ev |= UV_WRITABLE;
  uv_poll_start(&s->poll, ev, on_poll);
  return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  kube_client *c = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&c->timer);
  else
    uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* --- requests ------------------------------------------------------------------------ */

static void fill_error(kube_response *resp, kube_request *r) {
  json_t *st = resp->body;
  const char *reason = st ? json_string_value(json_object_get(st, "reason")) : NULL;
  const char *msg = st ? json_string_value(json_object_get(st, "message")) : NULL;
  if (reason)
    str_copy(resp->reason, reason, sizeof resp->reason);
  if (msg)
    str_copy(resp->message, msg, sizeof resp->message);
  else if (r->body.len && !st)
    str_copy(resp->message, buf_cstr(&r->body), sizeof resp->message);
  else
    snprintf(resp->message, sizeof resp->message, "HTTP %ld", resp->http_status);
  json_int_t ras = st ? json_integer_value(json_object_get(json_object_get(st, "details"),
                                                            "retryAfterSeconds"))
                      : 0;
  if (ras > 0 && !resp->retry_after_ms)
    resp->retry_after_ms = (uint64_t)ras * 1000u;
}

static void free_request(kube_request *r) {
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  if (r->req_body)
    free(r->req_body);
  buf_free(&r->body);
  buf_free(&r->line);
  free(r);
}

static void finish(kube_request *r, int code) {
  kube_client *c = r->c;
  kube_response resp;
  memset(&resp, 0, sizeof resp);
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.http_status);
  curl_multi_remove_handle(c->multi, r->easy);
  if (r->prev)
    r->prev->next = r->next;
  else
    c->requests = r->next;
  if (r->next)
    r->next->prev = r->prev;
  resp.retry_after_ms = r->retry_after_ms;
  if (code == 0 && r->body.len) {
    json_error_t jerr;
    resp.body = json_loadb(r->body.data, r->body.len, 0, &jerr);
  }
  if (code == 0 && resp.http_status >= 300) {
    code = kube_error_from_status(resp.http_status, resp.body);
    fill_error(&resp, r);
  } else if (code == 0 && !r->watch && r->body.len && !resp.body) {
    code = ERR_INVALID;
    snprintf(resp.message, sizeof resp.message, "invalid JSON in the answer");
  } else if (code) {
    if (code == ERR_LIMIT)
      snprintf(resp.message, sizeof resp.message, "response larger than the limit");
    else
      str_copy(resp.message, code == ERR_CANCELLED ? "cancelled" : r->errbuf,
               sizeof resp.message);
  }
  resp.code = code;
  if (c->observe && code != ERR_CANCELLED)
    c->observe(c->observe_ctx, r->verb, resp.http_status,
               (double)(mono_ns() - r->start_ns) / 1e9);
  if (r->done)
    r->done(r->ctx, &resp);
  kube_response_free(&resp);
  free_request(r);
}

static size_t on_header(char *data, size_t size, size_t n, void *userp) {
  kube_request *r = userp;
  size_t len = size * n;
  if (len > 12 && !strncasecmp(data, "Retry-After:", 12)) {
    char tmp[32];
    size_t k = len - 12 < sizeof tmp - 1 ? len - 12 : sizeof tmp - 1;
    memcpy(tmp, data + 12, k);
    tmp[k] = 0;
    char *p = tmp;
    while (*p == ' ')
      p++;
    char *e = p;
    while (*e >= '0' && *e <= '9')
      e++;
    *e = 0;
    int64_t secs;
    if (str_to_int64(p, 0, 86400, &secs) == 0)
      r->retry_after_ms = (uint64_t)secs * 1000u;
  }
  return len;
}

static void deliver_line(kube_request *r, const char *line, size_t len) {
  while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
    len--;
  if (!len)
    return;
  json_error_t jerr;
  json_t *ev = json_loadb(line, len, 0, &jerr);
  if (!ev) {
    log_warn(NULL, "watch: dropping an event that is not JSON: %s", jerr.text);
    return;
  }
  const char *type = json_string_value(json_object_get(ev, "type"));
  json_t *obj = json_object_get(ev, "object");
  if (type && obj && r->on_event && !r->cancelled)
    r->on_event(r->ctx, type, obj);
  json_decref(ev);
}

static size_t on_write(char *data, size_t size, size_t n, void *userp) {
  kube_request *r = userp;
  size_t len = size * n;
  if (r->cancelled)
    return 0;
  long http = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &http);
  if (!r->watch || http >= 300) {
    if (buf_append(&r->body, data, len)) {
      r->limit_hit = true;
      return 0;
    }
    return len;
  }
  /* Watch: frame by newline. Complete lines inside `data` are parsed in place. */
  size_t off = 0;
  while (off < len) {
    const char *nl = memchr(data + off, '\n', len - off);
    if (!nl) {
      if (buf_append(&r->line, data + off, len - off)) {
        r->limit_hit = true;
        return 0;
      }
      break;
    }
    size_t seg = (size_t)(nl - (data + off));
    if (r->line.len) {
      if (buf_append(&r->line, data + off, seg)) {
        r->limit_hit = true;
        return 0;
      }
      deliver_line(r, r->line.data, r->line.len);
      buf_reset(&r->line);
    } else {
      deliver_line(r, data + off, seg);
    }
    off += seg + 1;
    if (r->cancelled)
      return 0;
  }
  return len;
}

static int start_request(kube_client *c, const char *method, const char *path_query,
                         const char *body, const char *content_type, uint64_t timeout_ms,
                         bool watch, kube_event_fn on_event, kube_done_fn done, void *ctx,
                         kube_request **handle_out) {
  if (c->closing)
    return error_set(ERR_CANCELLED, "client closing");
  kube_request *r = calloc(1, sizeof *r);
  if (!r)
    return error_set(ERR_NOMEM, "client: out of memory");
  r->c = c;
  r->watch = watch;
  r->on_event = on_event;
  r->done = done;
  r->ctx = ctx;
  buf_init(&r->body, KUBE_MAX_BODY);
  buf_init(&r->line, KUBE_MAX_WATCH_LINE);
  str_copy(r->verb, watch ? "WATCH" : method, sizeof r->verb);
  r->start_ns = mono_ns();
  r->easy = curl_easy_init();
  char *url = str_printf("%s%s", c->cfg->server, path_query);
  char *token = kubeconfig_token(c->cfg);
  char *auth = token ? str_printf("Authorization: Bearer %s", token) : NULL;
  if (token) {
    memset(token, 0, strlen(token));
    free(token);
  }
  char ct[160];
  snprintf(ct, sizeof ct, "Content-Type: %s", content_type ? content_type : "application/json");
  struct curl_slist *h = NULL;
  h = curl_slist_append(h, "Accept: application/json");
  if (body)
    h = curl_slist_append(h, ct);
  if (auth) {
    h = curl_slist_append(h, auth);
    memset(auth, 0, strlen(auth));
    free(auth);
  }
  r->headers = h;
  if (!r->easy || !url || !h) {
    free(url);
    free_request(r);
    return error_set(ERR_NOMEM, "client: out of memory");
  }
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, url);
  free(url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms ? timeout_ms : KUBE_DEFAULT_TIMEOUT_MS));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  if (c->cfg->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (c->cfg->ca_pem) {
    struct curl_blob b = {c->cfg->ca_pem, c->cfg->ca_len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
  }
  if (c->cfg->cert_pem) {
    struct curl_blob b = {c->cfg->cert_pem, c->cfg->cert_len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
  }
  if (c->cfg->key_pem) {
    struct curl_blob b = {c->cfg->key_pem, c->cfg->key_len, CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (!strcmp(method, "GET")) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  }
  if (body) {
    r->req_body = str_dup(body);
    if (!r->req_body) {
      free_request(r);
      return ERR_NOMEM;
    }
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req_body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->req_body));
  }
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
    free_request(r);
    return error_set(ERR_GENERIC, "client: curl_multi_add_handle failed");
  }
  r->next = c->requests;
  if (c->requests)
    c->requests->prev = r;
  c->requests = r;
  if (handle_out)
    *handle_out = r;
  return 0;
}

int kube_client_request(kube_client *c, const char *method, const char *path_query,
                        const char *body, const char *content_type, uint64_t timeout_ms,
                        kube_done_fn done, void *ctx, kube_request **handle_out) {
  return start_request(c, method, path_query, body, content_type, timeout_ms, false, NULL,
                       done, ctx, handle_out);
}

int kube_client_watch(kube_client *c, const char *path_query, uint64_t timeout_ms,
                      kube_event_fn on_event, kube_done_fn done, void *ctx,
                      kube_request **handle_out) {
  return start_request(c, "GET", path_query, NULL, NULL, timeout_ms, true, on_event, done,
                       ctx, handle_out);
}

void kube_request_cancel(kube_request *r) {
  if (!r || r->cancelled)
    return;
  r->cancelled = true;
  if (!r->c->in_curl)
    finish(r, ERR_CANCELLED);
  /* else: removed by process_cancels once curl returns */
}

/* --- cross-thread calls -------------------------------------------------------------- */

static void free_call(sync_call *call) {
  free(call->method);
  free(call->path);
  free(call->body);
  free(call->ctype);
  kube_response_free(&call->resp);
  pthread_cond_destroy(&call->cond);
  free(call);
}

static void on_call_done(void *ctx, kube_response *resp) {
  sync_call *call = ctx;
  /* the client's mutex guards finished/abandoned; find it through the call's owner */
  kube_client *c = call->owner;
  pthread_mutex_lock(&c->calls_mu);
  call->resp = *resp;
  resp->body = NULL; /* moved */
  call->finished = true;
  bool abandoned = call->abandoned;
  pthread_cond_signal(&call->cond);
  pthread_mutex_unlock(&c->calls_mu);
  if (abandoned)
    free_call(call);
}

static void on_async(uv_async_t *a) {
  kube_client *c = a->data;
  for (;;) {
    pthread_mutex_lock(&c->calls_mu);
    sync_call *call = c->calls_head;
    if (call) {
      c->calls_head = call->next;
      if (!c->calls_head)
        c->calls_tail = NULL;
      c->calls_len--;
    }
    pthread_mutex_unlock(&c->calls_mu);
    if (!call)
      break;
    int rc = kube_client_request(c, call->method, call->path, call->body, call->ctype,
                                 call->timeout_ms, on_call_done, call, NULL);
    if (rc) {
      kube_response resp;
      memset(&resp, 0, sizeof resp);
      resp.code = rc;
      str_copy(resp.message, error_message(), sizeof resp.message);
      on_call_done(call, &resp);
    }
  }
}

int kube_call(kube_client *c, const char *method, const char *path_query, const json_t *body,
              const char *content_type, uint64_t timeout_ms, kube_response *resp) {
  memset(resp, 0, sizeof *resp);
  if (pthread_equal(pthread_self(), c->loop_thread)) {
    resp->code = ERR_INVALID;
    str_copy(resp->message, "kube_call on the loop thread", sizeof resp->message);
    return error_set(ERR_INVALID, "kube_call must not run on the loop thread");
  }
  sync_call *call = calloc(1, sizeof *call);
  if (!call)
    return error_set(ERR_NOMEM, "client: out of memory");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&call->cond, &ca);
  pthread_condattr_destroy(&ca);
  call->method = str_dup(method);
  call->path = str_dup(path_query);
  call->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
  call->ctype = content_type ? str_dup(content_type) : NULL;
  call->timeout_ms = timeout_ms ? timeout_ms : KUBE_DEFAULT_TIMEOUT_MS;
  call->owner = c;
  if (!call->method || !call->path || (body && !call->body) || (content_type && !call->ctype)) {
    free_call(call);
    return error_set(ERR_NOMEM, "client: out of memory");
  }
  int rc = 0;
  pthread_mutex_lock(&c->calls_mu);
  if (c->closing || c->calls_len >= KUBE_MAX_PENDING_CALLS) {
    rc = c->closing ? ERR_CANCELLED : ERR_LIMIT;
    pthread_mutex_unlock(&c->calls_mu);
    free_call(call);
    resp->code = rc;
    str_copy(resp->message, rc == ERR_CANCELLED ? "client closing" : "too many pending calls",
             sizeof resp->message);
    return error_set(rc, "%s", resp->message);
  }
  if (c->calls_tail)
    c->calls_tail->next = call;
  else
    c->calls_head = call;
  c->calls_tail = call;
  c->calls_len++;
  uv_async_send(&c->async);
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t deadline_ms = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000 +
                         call->timeout_ms + 5000;
  struct timespec dl = {(time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000L};
  while (!call->finished) {
    if (pthread_cond_timedwait(&call->cond, &c->calls_mu, &dl) != 0 && !call->finished) {
      call->abandoned = true; /* the loop frees it */
      pthread_mutex_unlock(&c->calls_mu);
      resp->code = ERR_TIMEOUT;
      str_copy(resp->message, "no answer from the client loop", sizeof resp->message);
      return error_set(ERR_TIMEOUT, "%s %s: no answer from the client loop", method, path_query);
    }
  }
  pthread_mutex_unlock(&c->calls_mu);
  *resp = call->resp;
  call->resp.body = NULL;
  free_call(call);
  if (resp->code)
    error_set(resp->code, "%s %s: %s", method, path_query, resp->message);
  return resp->code;
}

/* --- verbs --------------------------------------------------------------------------- */

static int call_obj(kube_client *c, const char *method, buf *path, const json_t *body,
                    const char *ctype, json_t **out) {
  kube_response resp;
  int rc = kube_call(c, method, buf_cstr(path), body, ctype, 0, &resp);
  if (rc == 0 && out)
    *out = json_incref(resp.body);
  kube_response_free(&resp);
  buf_free(path);
  return rc;
}

int kube_get(kube_client *c, const kube_resource *res, const char *ns, const char *name,
             json_t **out) {
  buf p = BUF_INIT;
  if (kube_path(&p, res, ns, name, NULL))
    return ERR_NOMEM;
  return call_obj(c, "GET", &p, NULL, NULL, out);
}

int kube_create(kube_client *c, const kube_resource *res, const char *ns, const json_t *obj,
                json_t **out) {
  buf p = BUF_INIT;
  if (kube_path(&p, res, ns, NULL, NULL))
    return ERR_NOMEM;
  return call_obj(c, "POST", &p, obj, NULL, out);
}

static int put_obj(kube_client *c, const kube_resource *res, const json_t *obj,
                   const char *sub, json_t **out) {
  const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));
  const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
  if (!name)
    return error_set(ERR_INVALID, "update: object has no metadata.name");
  buf p = BUF_INIT;
  if (kube_path(&p, res, ns, name, sub))
    return ERR_NOMEM;
  return call_obj(c, "PUT", &p, obj, NULL, out);
}

int kube_update(kube_client *c, const kube_resource *res, const json_t *obj, json_t **out) {
  return put_obj(c, res, obj, NULL, out);
}

int kube_update_status(kube_client *c, const kube_resource *res, const json_t *obj,
                       json_t **out) {
  return put_obj(c, res, obj, "status", out);
}

int kube_patch(kube_client *c, const kube_resource *res, const char *ns, const char *name,
               const char *sub, const char *patch_type, const json_t *patch, json_t **out) {
  const char *ct = !strcmp(patch_type, "json")        ? "application/json-patch+json"
                   : !strcmp(patch_type, "strategic") ? "application/strategic-merge-patch+json"
                                                      : "application/merge-patch+json";
  buf p = BUF_INIT;
  if (kube_path(&p, res, ns, name, sub))
    return ERR_NOMEM;
  return call_obj(c, "PATCH", &p, patch, ct, out);
}

int kube_delete(kube_client *c, const kube_resource *res, const char *ns, const char *name) {
  buf p = BUF_INIT;
  if (kube_path(&p, res, ns, name, NULL))
    return ERR_NOMEM;
  return call_obj(c, "DELETE", &p, NULL, NULL, NULL);
}

int kube_list(kube_client *c, const kube_resource *res, const char *ns,
              const char *label_selector, int limit, const char *cont, json_t **out) {
  buf p = BUF_INIT;
  int rc = kube_path(&p, res, ns, NULL, NULL);
  char sep = '?';
  if (!rc && limit > 0) {
    rc = buf_printf(&p, "%climit=%d", sep, limit);
    sep = '&';
  }
  if (!rc && cont && *cont) {
    rc = buf_printf(&p, "%ccontinue=", sep);
    sep = '&';
    if (!rc)
      rc = kube_query_escape(&p, cont);
  }
  if (!rc && label_selector && *label_selector) {
    rc = buf_printf(&p, "%clabelSelector=", sep);
    if (!rc)
      rc = kube_query_escape(&p, label_selector);
  }
  if (rc) {
    buf_free(&p);
    return rc;
  }
  return call_obj(c, "GET", &p, NULL, NULL, out);
}

/* --- lifecycle ----------------------------------------------------------------------- */

static void curl_global_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int kube_client_new(kube_client **out, uv_loop_t *loop, kubeconfig *config) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, curl_global_init_once);
  kube_client *c = calloc(1, sizeof *c);
  if (!c)
    return error_set(ERR_NOMEM, "client: out of memory");
  c->loop = loop;
  c->cfg = config;
  c->loop_thread = pthread_self();
  str_copy(c->user_agent, "portico-controller/0.1", sizeof c->user_agent);
  c->multi = curl_multi_init();
  if (!c->multi) {
    free(c);
    return error_set(ERR_NOMEM, "client: curl_multi_init failed");
  }
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
  curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
  curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
  pthread_mutex_init(&c->calls_mu, NULL);
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  uv_async_init(loop, &c->async, on_async);
  c->async.data = c;
  c->open_handles = 2;
  *out = c;
  return 0;
}

void kube_client_close(kube_client *c, void (*on_closed)(void *ctx), void *ctx) {
  c->on_closed = on_closed;
  c->on_closed_ctx = ctx;
  pthread_mutex_lock(&c->calls_mu);
  c->closing = true;
  sync_call *pending = c->calls_head;
  c->calls_head = c->calls_tail = NULL;
  c->calls_len = 0;
  pthread_mutex_unlock(&c->calls_mu);
  while (pending) {
    sync_call *n = pending->next;
    kube_response resp;
    memset(&resp, 0, sizeof resp);
    resp.code = ERR_CANCELLED;
    str_copy(resp.message, "client closing", sizeof resp.message);
    on_call_done(pending, &resp);
    pending = n;
  }
  while (c->requests)
    finish(c->requests, ERR_CANCELLED);
  curl_multi_cleanup(c->multi);
  c->multi = NULL;
  while (c->sockets) /* sockets curl did not remove itself */
    socket_close(c->sockets);
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->async, on_handle_closed);
}

void kube_client_set_observer(kube_client *c, kube_observe_fn fn, void *ctx) {
  c->observe = fn;
  c->observe_ctx = ctx;
}

void kube_client_set_user_agent(kube_client *c, const char *ua) {
  str_copy(c->user_agent, ua, sizeof c->user_agent);
}

kubeconfig *kube_client_config(kube_client *c) { return c->cfg; }
uv_loop_t *kube_client_loop(kube_client *c) { return c->loop; }
void kube_client_bind_thread(kube_client *c) { c->loop_thread = pthread_self(); }
