/*
 * registry: the Kubernetes meaning of the standalone API server.
 *
 * registry_handle() is the api_handler the transport calls for every request, on the
 * server's loop thread. It routes every path: discovery (/version, /api, /apis, ...),
 * OpenAPI (/openapi/v2, /openapi/v3/...), health (/healthz, /readyz, /livez) and every
 * resource URL (/api/v1/..., /apis/G/V/...), with the verbs get, list, watch, create,
 * update, patch, delete and deletecollection, as kube-apiserver answers them.
 *
 * Objects live in SQLite (WAL mode) under the data directory, with an in-memory cache of
 * every object for list and watch. A response is written only after the write it reports
 * is committed: an acknowledged write survives a process crash (kill -9).
 *
 * The served resource types (built-in kinds plus those of established CRDs) are a
 * contiguous array (registry_types) that changes when a CRD comes or goes.
 *
 * Nothing is thread-safe: every call runs on the loop given to registry_open().
 */
#ifndef PORTICO_APISERVER_REGISTRY_H
#define PORTICO_APISERVER_REGISTRY_H

#include "apiserver/api.h"

#include <stddef.h>
#include <uv.h>

typedef struct registry registry;

/* Tunables; zero fields take the defaults. */
typedef struct registry_options {
  size_t watch_history;       /* events kept for watch resumption (default 10000, or
                                 $PORTICO_WATCH_HISTORY when set) */
  unsigned bookmark_interval_ms; /* BOOKMARK period for allowWatchBookmarks (default 10000) */
  unsigned namespace_sweep_ms;   /* delay before the contents of a terminating namespace are
                                    deleted, as kube's namespace controller does it after the
                                    DELETE returns (default 1000) */
} registry_options;

/* Opens (creating if needed) the store under `data_dir` (the directory must exist or be
 * creatable) and loads every object. Watch timers run on `loop` (borrowed; it must
 * outlive the registry). *out is set on success; ERR_IO/ERR_INVALID (with the last error)
 * otherwise, *out unchanged. */
int registry_open(registry **out, const char *data_dir, uv_loop_t *loop);
int registry_open_with(registry **out, const char *data_dir, uv_loop_t *loop,
                       const registry_options *options);

/* The api_handler (ctx is the registry). Always fills resp; returns 0 unless a bug or
 * allocation failure happened (then the transport answers 500). */
int registry_handle(void *registry, const api_request *req, api_response *resp);

/* The resource types currently served: a borrowed contiguous array, valid until the
 * next registry_handle() call that creates or deletes a CRD. */
const api_resource_type *registry_types(const registry *r, size_t *count);

/* The current (global) resourceVersion. */
long long registry_resource_version(const registry *r);

/* Ends every open watch stream (api_stream_end), closes the store and frees everything.
 * The loop must still run afterwards until the streams' on_close callbacks have fired if
 * the transport delivers them asynchronously; the registry no longer touches them.
 * NULL is fine. */
void registry_close(registry *r);

#endif
