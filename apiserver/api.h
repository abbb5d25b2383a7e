/*
 * api: the seam between the HTTP transport of the standalone API server and the part
 * that gives requests their Kubernetes meaning.
 *
 * The transport (http_server.c: libuv + TLS + http_parser) turns each HTTP request into an
 * api_request and calls an api_handler on the server's loop thread. The handler fills an
 * api_response synchronously, or turns it into a stream (watch) that it feeds later with
 * api_stream_write() until api_stream_end() or until the client goes away, which the
 * transport reports through the stream's on_close callback.
 *
 * Resource types (built-in core kinds and those served from CRDs) are described by
 * api_resource_type; discovery and OpenAPI documents are generated from the current list.
 *
 * Everything here runs on the server's loop thread; nothing is thread-safe.
 */
#ifndef PORTICO_APISERVER_API_H
#define PORTICO_APISERVER_API_H

#include "base/buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define API_MAX_BODY ((size_t)3 << 20) /* kube-apiserver's request size limit: 3 MiB */

typedef struct api_query_param {
  char *name; /* decoded */
  char *value;
} api_query_param;

typedef struct api_request {
  const char *method;       /* "GET", "POST", "PUT", "PATCH", "DELETE", ... */
  const char *path;         /* percent-decoded path, no query ("/api/v1/namespaces") */
  const char *raw_query;    /* undecoded query string without '?', "" when none */
  api_query_param *query;   /* decoded query parameters, in order */
  size_t query_count;
  const char *content_type; /* Content-Type header or "" */
  const char *accept;       /* Accept header or "" */
  const char *user_agent;   /* User-Agent header or "" */
  const char *body;         /* request body (not NUL-terminated in general) */
  size_t body_len;
} api_request;

/* The value of query parameter `name` (first occurrence), or NULL. Borrowed. */
const char *api_request_query(const api_request *req, const char *name);

typedef struct api_stream api_stream;

typedef struct api_response {
  int status;               /* HTTP status code */
  char content_type[128];   /* e.g. "application/json" */
  buf body;                 /* owned by the transport; the handler appends to it */
  /* To stream (watch): the handler calls api_response_start_stream() and keeps the
   * returned stream; body/status are then sent as headers plus chunked data. */
  api_stream *stream;
  /* Warning headers (RFC 7234 style, as kube-apiserver sends for fieldValidation=Warn and
   * deprecations): the handler appends one warning text per line ('\n'-terminated); the
   * transport sends each line as `Warning: 299 - "<text>"` (text quoted with \" escaped).
   * Zeroed (BUF_INIT) with the response and freed by the transport, like body. */
  buf warnings;
} api_response;

/* Stream callbacks, set by the handler on the stream it started. */
typedef void (*api_stream_close_cb)(api_stream *stream, void *ctx);

/* Turns the response into a chunked stream (status and content type as set). The stream
 * stays valid until on_close has been called; after api_stream_end() the transport
 * calls on_close too. on_close is called exactly once. */
api_stream *api_response_start_stream(api_response *resp, api_stream_close_cb on_close,
                                      void *ctx);

/* Queues bytes on the stream (one chunk). ERR_LIMIT when the client is too slow and the
 * queued bytes pass the stream's ceiling (the stream is then closed), ERR_IO when the
 * connection is gone. */
int api_stream_write(api_stream *stream, const void *data, size_t len);

/* Ends the stream (final empty chunk). on_close follows. */
void api_stream_end(api_stream *stream);

/* A request handler: fills resp. Return 0 normally; a negative code makes the transport
 * answer 500 with the last error's message (a bug, not a user error). */
typedef int (*api_handler)(void *ctx, const api_request *req, api_response *resp);

/* --- resource types ----------------------------------------------------------------- */

typedef struct api_resource_type {
  char *group;          /* "" for the core group */
  char *version;        /* "v1", "v1alpha1" */
  char *kind;           /* "ConfigMap" */
  char *list_kind;      /* "ConfigMapList" */
  char *plural;         /* "configmaps" (the URL segment) */
  char *singular;       /* "configmap" */
  bool namespaced;
  bool has_status;      /* status subresource served */
  bool storage_version; /* the version objects are stored in (CRDs: spec.versions[].storage) */
  char **short_names;   /* NULL-terminated, may be NULL */
  char **categories;    /* NULL-terminated, may be NULL */
  json_t *schema;       /* OpenAPI v3 schema of the object (owned), NULL: none */
  json_t *printer_columns; /* additionalPrinterColumns array (owned), NULL: default */
} api_resource_type;

/* Writes a Kubernetes Status object as the response:
 *   api_respond_status(resp, 404, "NotFound", "configmaps \"x\" not found", details)
 * `details` (stolen, may be NULL) becomes Status.details. */
void api_respond_status(api_response *resp, int code, const char *reason, const char *message,
                        json_t *details);

/* Serialises `obj` (borrowed) as the JSON body with the given status code. */
void api_respond_json(api_response *resp, int code, const json_t *obj);

#endif
