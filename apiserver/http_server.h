/*
 * http_server: the HTTPS transport of the standalone API server.
 *
 * libuv TCP streams carry TLS (OpenSSL over a pair of memory BIOs: bytes read from the
 * socket go into the read BIO, SSL_read yields plaintext for http_parser, SSL_write fills
 * the write BIO that is drained into uv_write). Each complete HTTP/1.1 request becomes an
 * api_request handed to the api_handler on the loop thread; the api_response it fills is
 * sent with Content-Length, or as a chunked stream (watch) fed through api_stream_write.
 *
 * Rules it enforces before the handler sees anything:
 * - bearer token: without `Authorization: Bearer <token>` (when a token is configured) the
 *   answer is 401 with a Status (reason Unauthorized); only /healthz, /livez and /readyz
 *   are public (for probes);
 * - bodies above API_MAX_BODY get 413 RequestEntityTooLarge and the connection closes;
 * - bounded headers (64 KiB) and URL (64 KiB): 431 / 414; malformed HTTP: 400 and close;
 * - at most `max_connections` connections; idle keep-alive connections close after
 *   `idle_timeout_ms`; a stream whose unsent bytes pass `stream_queue_limit` is closed
 *   (the client is too slow).
 * The server keeps serving whatever one connection sends.
 *
 * Streams: api_stream_end() ends the chunked body and calls on_close synchronously before
 * returning; when the client goes away (or the stream is closed for being too slow) on_close
 * is called later from a loop callback, never from inside api_stream_write(). After
 * on_close the stream pointer is invalid. on_close is called exactly once.
 *
 * Everything runs on the loop thread; nothing is thread-safe.
 */
#ifndef PORTICO_APISERVER_HTTP_SERVER_H
#define PORTICO_APISERVER_HTTP_SERVER_H

#include "apiserver/api.h"
#include "base/buf.h"

#include <stddef.h>
#include <uv.h>

typedef struct http_server http_server;

typedef struct http_server_options {
  const char *host;         /* listen address ("127.0.0.1", "::1", "0.0.0.0"); NULL: 127.0.0.1 */
  int port;                 /* 0: an ephemeral port (see http_server_port) */
  const char *cert_file;    /* PEM serving certificate (chain); NULL with key_file NULL:
                             * plain HTTP (tests only) */
  const char *key_file;     /* PEM private key */
  const char *bearer_token; /* required token; NULL: no authentication (tests only) */
  api_handler handler;      /* called for every accepted request */
  void *handler_ctx;
  size_t max_connections;    /* default 1024 */
  size_t stream_queue_limit; /* bytes queued on one stream before it is cut; default 16 MiB */
  unsigned idle_timeout_ms;  /* keep-alive idle limit; default 120000 */
} http_server_options;

/* Binds, listens and starts serving on `loop` (borrowed, must outlive the server).
 * Options are copied. ERR_IO (bind/listen failed: the message names the address),
 * ERR_INVALID (bad host, unreadable certificate or key), ERR_NOMEM. *out set on success
 * only. */
int http_server_start(http_server **out, uv_loop_t *loop, const http_server_options *options);

/* The port actually bound (useful with port 0). */
int http_server_port(const http_server *server);

/* Stops listening and closes every connection (streams get on_close). The memory is
 * released from the loop once every handle has closed: keep running the loop (uv_run)
 * after this call. NULL is fine. */
void http_server_close(http_server *server);

/* For tests and fuzzing: runs the request path over `data` as if it had arrived on one
 * plaintext connection (HTTP parsing, limits, authentication, the handler), appending
 * every byte the server would send to `out`. Streams started by the handler stay open
 * until the end of `data`, then see on_close. Only options->handler, handler_ctx,
 * bearer_token and stream_queue_limit are used. Returns 0, or ERR_NOMEM. */
int http_server_process_bytes(const http_server_options *options, const void *data, size_t len,
                              buf *out);

#endif
