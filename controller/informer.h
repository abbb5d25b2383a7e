/*
 * informer: a reflector plus an indexed cache for one resource type (client-go's
 * tools/cache Reflector + Indexer + shared informer in one module).
 *
 * The reflector runs on the client's loop thread: it lists (paged, 500 a page), replaces
 * the cache with the result (emitting deletes for objects that vanished meanwhile and
 * updates for those whose resourceVersion changed), then watches from the list's
 * resourceVersion with bookmarks. Watch events update the cache and then call the
 * handlers. A watch that ends normally (its randomised 5-10 minute timeout) is restarted
 * from the last resourceVersion; 410 Gone (as an HTTP status or an ERROR event) relists;
 * connection errors, 429 and 5xx back off (800 ms doubling to 30 s, with jitter, at least
 * Retry-After) and watch again. An optional resync calls on_update(obj, obj) for every
 * cached object periodically.
 *
 * The cache is readable from any thread (a rwlock; writes only happen on the loop
 * thread). Objects handed out are shared, read-only jansson values: the caller gets its
 * own reference and must never modify them (json_deep_copy before changing anything).
 * Indexes: "namespace" is built in; more via informer_add_index before start.
 */
#ifndef PORTICO_CONTROLLER_INFORMER_H
#define PORTICO_CONTROLLER_INFORMER_H

#include "controller/client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define INFORMER_MAX_HANDLERS 16
#define INFORMER_MAX_INDEXES 8
#define INFORMER_MAX_OBJECTS 1000000
#define INFORMER_PAGE_SIZE 500

typedef struct informer informer;

/* Handlers run on the loop thread after the cache changed; objects are borrowed for the
 * call (json_incref to keep). old_obj is the previously cached version. */
typedef struct informer_handler {
  void (*on_add)(void *ctx, json_t *obj);
  void (*on_update)(void *ctx, json_t *old_obj, json_t *new_obj);
  void (*on_delete)(void *ctx, json_t *obj);
  void *ctx;
} informer_handler;

/* An index function appends the object's index values (JSON strings) to `values`. */
typedef void (*informer_index_fn)(void *ctx, const json_t *obj, json_t *values);

typedef struct informer_options {
  const char *namespace;      /* NULL: all namespaces */
  const char *label_selector; /* NULL: everything */
  uint64_t resync_ms;         /* 0: no periodic resync */
  unsigned watch_timeout_s;   /* 0: random in [300, 600) as client-go */
} informer_options;

/* Makes an informer (not started). `res` is copied; the client is borrowed. Loop thread. */
int informer_new(informer **out, kube_client *client, const kube_resource *res,
                 const informer_options *opts);

/* Registration, before informer_start. ERR_LIMIT past the maxima above. */
int informer_add_handler(informer *inf, const informer_handler *h);
int informer_add_index(informer *inf, const char *name, informer_index_fn fn, void *ctx);

/* Starts listing and watching. Loop thread. */
int informer_start(informer *inf);

/* Stops (cancels requests, timers) and frees the informer once its handles closed;
 * `on_freed` may be NULL. Loop thread. No handler runs after this call. */
void informer_close(informer *inf, void (*on_freed)(void *ctx), void *ctx);

/* True once the first list has been applied. Any thread. */
bool informer_synced(informer *inf);

const kube_resource *informer_resource(informer *inf);

/* --- cache reads: any thread; results are new references the caller releases ---------- */

/* The object ns/name (ns NULL or "" for cluster-scoped) or NULL. */
json_t *informer_get(informer *inf, const char *ns, const char *name);
/* All objects, or those of one namespace (ns non-NULL), as a new JSON array. */
json_t *informer_list(informer *inf, const char *ns);
/* Objects whose index `index` has `value`, as a new JSON array (empty when none). */
json_t *informer_by_index(informer *inf, const char *index, const char *value);
/* Objects (in ns, or all when NULL) whose labels match `selector` ("a=b,c!=d,e,!f"). */
json_t *informer_select(informer *inf, const char *ns, const char *selector);
size_t informer_count(informer *inf);

/* Counters for metrics (any thread). */
uint64_t informer_watch_restarts(informer *inf);
uint64_t informer_relists(informer *inf);

/* The cache key of an object: "ns/name" or "name". Caller frees. */
char *informer_key_of(const json_t *obj);

/* Does `labels` (a JSON object, may be NULL) match the selector? ERR_INVALID for a
 * selector it cannot parse (set-based "in (...)" is not supported). */
int informer_labels_match(const json_t *labels, const char *selector, bool *match);

#endif
