/*
 * client: the asynchronous Kubernetes API client (libcurl multi on a libuv loop).
 *
 * One client belongs to one libuv loop and all of its curl handles live on that loop's
 * thread (curl's multi-uv.c glue: curl tells us which sockets to poll and when to time
 * out; uv tells curl when they are ready). Connections are reused and HTTP/2 is used when
 * the server offers it (requests are multiplexed). Every request has a timeout.
 *
 * Two ways in:
 *  - on the loop thread, kube_client_request / kube_client_watch with callbacks;
 *  - from any other thread (reconciler workers), kube_call and the verb helpers below,
 *    which post the request to the loop (uv_async) and block until it completes.
 *
 * Errors: a non-2xx answer becomes one of the ERR_* codes from its Status body's reason
 * (NotFound -> ERR_NOTFOUND, AlreadyExists -> ERR_EXISTS, Conflict -> ERR_CONFLICT,
 * Gone/Expired -> ERR_GONE, Invalid/BadRequest -> ERR_INVALID, Forbidden -> ERR_FORBIDDEN,
 * Unauthorized -> ERR_AUTH, TooManyRequests -> ERR_LIMIT (with retry_after_ms),
 * ServiceUnavailable/InternalError/5xx -> ERR_UNAVAILABLE, Timeout -> ERR_TIMEOUT),
 * with the HTTP status, the reason and the message kept in kube_response.
 * Credentials (the bearer token, keys) never reach a log line or an error message.
 */
#ifndef PORTICO_CONTROLLER_CLIENT_H
#define PORTICO_CONTROLLER_CLIENT_H

#include "base/buf.h"
#include "controller/kubeconfig.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define KUBE_DEFAULT_TIMEOUT_MS 30000
#define KUBE_MAX_BODY ((size_t)64 << 20)      /* one response (a list page) */
#define KUBE_MAX_WATCH_LINE ((size_t)16 << 20) /* one watch event */
#define KUBE_MAX_PENDING_CALLS 4096           /* cross-thread calls waiting for the loop */

/* A resource type: where its objects live. Strings are borrowed for the client's life. */
typedef struct kube_resource {
  const char *group;    /* "" for the core group */
  const char *version;  /* "v1" */
  const char *resource; /* plural, lower case: "configmaps" */
  const char *kind;     /* "ConfigMap" */
  bool namespaced;
} kube_resource;

typedef struct kube_response {
  int code;                /* 0 or an ERR_* code */
  long http_status;        /* 0 when no answer came (connection error, timeout) */
  char reason[64];         /* Status.reason ("Conflict", ...) or "" */
  char message[512];       /* Status.message or the transport error; no credentials */
  json_t *body;            /* the parsed JSON answer (owned by the response) or NULL */
  uint64_t retry_after_ms; /* from Retry-After or Status.details.retryAfterSeconds */
} kube_response;

void kube_response_free(kube_response *r);

typedef struct kube_client kube_client;
typedef struct kube_request kube_request;

/* Metrics hook: called on the loop thread when a request completes. */
typedef void (*kube_observe_fn)(void *ctx, const char *verb, long http_status, double seconds);

/* Makes a client on `loop` (which must be run by the caller). The config is borrowed and
 * must outlive the client. *out owned: kube_client_free (on the loop thread, after the
 * loop has stopped running requests or from a loop callback). */
int kube_client_new(kube_client **out, uv_loop_t *loop, kubeconfig *config);

/* Cancels everything in flight (callbacks get ERR_CANCELLED) and releases the uv handles;
 * `on_closed` (may be NULL) runs once they are closed, after which the client is freed. */
void kube_client_close(kube_client *c, void (*on_closed)(void *ctx), void *ctx);

void kube_client_set_observer(kube_client *c, kube_observe_fn fn, void *ctx);
void kube_client_set_user_agent(kube_client *c, const char *ua);
kubeconfig *kube_client_config(kube_client *c);
uv_loop_t *kube_client_loop(kube_client *c);
/* Declares the calling thread the loop thread (when the loop runs on another thread than
 * the one that made the client). Call it from the loop thread before the loop runs. */
void kube_client_bind_thread(kube_client *c);

/* Builds the path of a collection or object:
 *   /api/v1/namespaces/NS/configmaps[/NAME[/SUB]]  or /apis/G/V/...
 * ns NULL or "" for cluster-wide collections; name/sub may be NULL. Appends to out. */
int kube_path(buf *out, const kube_resource *res, const char *ns, const char *name,
              const char *sub);

/* Percent-encodes a query value and appends it. */
int kube_query_escape(buf *out, const char *value);

/* --- loop-thread API ------------------------------------------------------------------ */

/* Completion: `resp` is valid during the call only (steal body with json_incref). */
typedef void (*kube_done_fn)(void *ctx, kube_response *resp);

/* Starts a request. method "GET", "POST", "PUT", "PATCH", "DELETE"; path_query is the
 * path plus an optional "?query"; body may be NULL; content_type NULL means
 * application/json. timeout_ms 0 means KUBE_DEFAULT_TIMEOUT_MS. *handle_out (may be NULL)
 * is valid until `done` runs; kube_request_cancel stops it (done runs with
 * ERR_CANCELLED). Returns ERR_NOMEM/ERR_CANCELLED (client closing) without calling done. */
int kube_client_request(kube_client *c, const char *method, const char *path_query,
                        const char *body, const char *content_type, uint64_t timeout_ms,
                        kube_done_fn done, void *ctx, kube_request **handle_out);

/* A watch event: type "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "ERROR"; `object`
 * borrowed for the call. */
typedef void (*kube_event_fn)(void *ctx, const char *type, json_t *object);

/* Starts a streamed watch (path_query must contain watch=1). Each newline-framed JSON
 * event (at most KUBE_MAX_WATCH_LINE bytes) is parsed and passed to on_event; `done`
 * runs when the stream ends for any reason (clean end: code 0). */
int kube_client_watch(kube_client *c, const char *path_query, uint64_t timeout_ms,
                      kube_event_fn on_event, kube_done_fn done, void *ctx,
                      kube_request **handle_out);

void kube_request_cancel(kube_request *r);

/* --- any-thread (blocking) API ------------------------------------------------------- */

/* Runs one request on the loop thread and waits for it. Must not be called on the loop
 * thread (ERR_INVALID). resp (zeroed by the caller) is filled in every case; free it with
 * kube_response_free. Returns resp->code. */
int kube_call(kube_client *c, const char *method, const char *path_query, const json_t *body,
              const char *content_type, uint64_t timeout_ms, kube_response *resp);

/* Verb helpers over kube_call. *out gets a new reference to the answer's object (may be
 * NULL to discard). They return ERR_* codes as above; `resp` variants keep the details. */
int kube_get(kube_client *c, const kube_resource *res, const char *ns, const char *name,
             json_t **out);
int kube_create(kube_client *c, const kube_resource *res, const char *ns, const json_t *obj,
                json_t **out);
int kube_update(kube_client *c, const kube_resource *res, const json_t *obj, json_t **out);
int kube_update_status(kube_client *c, const kube_resource *res, const json_t *obj,
                       json_t **out);
/* patch_type: "merge" (application/merge-patch+json), "json" (application/json-patch+json)
 * or "strategic" (application/strategic-merge-patch+json). sub NULL or "status". */
int kube_patch(kube_client *c, const kube_resource *res, const char *ns, const char *name,
               const char *sub, const char *patch_type, const json_t *patch, json_t **out);
int kube_delete(kube_client *c, const kube_resource *res, const char *ns, const char *name);
/* One page of a list: limit 0 for the server default; cont NULL for the first page. */
int kube_list(kube_client *c, const kube_resource *res, const char *ns,
              const char *label_selector, int limit, const char *cont, json_t **out);

/* Maps an HTTP status and a Status body to a code (see above). */
int kube_error_from_status(long http_status, const json_t *status_body);

#endif
