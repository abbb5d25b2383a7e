/*
 * store: durable object storage of the standalone API server, on SQLite in WAL mode.
 *
 * One table of objects keyed by (resource, key) holding the JSON text and the
 * resourceVersion of its last write, plus the global resourceVersion counter (as etcd's
 * revision). Every write is one transaction that also records the new counter, so after
 * a crash the counter never goes back and no acknowledged write is lost.
 *
 * Durability choice: journal_mode=WAL with synchronous=NORMAL. A commit appends to the
 * WAL with write(2) before returning, so it survives the death of the process (kill -9:
 * the data is in the kernel's page cache); only a power loss or kernel crash can lose the
 * last commits (the WAL is fsynced at checkpoints). synchronous=FULL would fsync on every
 * commit and cap creates at the disk's fsync rate, far below the 2,000 creates/s target,
 * for a guarantee (power loss) a single-machine development server does not promise.
 *
 * Checkpoints (which fsync) run every 500 ms on a thread of the store's own with a second
 * connection, so they never stall a write on the loop; the WAL stays bounded by the
 * connection's auto-checkpoint backstop.
 *
 * Not thread-safe; one connection, used on the server loop.
 */
#ifndef PORTICO_APISERVER_STORE_H
#define PORTICO_APISERVER_STORE_H

#include <stddef.h>

typedef struct store store;

/* Opens or creates DIR/objects.db. ERR_IO with SQLite's message. */
int store_open(store **out, const char *dir);

/* The last committed resourceVersion (0 for a new store). */
long long store_revision(const store *s);

/* Calls `fn` for every stored object, in (resource, key) order. Stops and returns the
 * first non-zero value fn returns. Strings are borrowed for the call only. */
int store_load(store *s, int (*fn)(void *ctx, const char *resource, const char *key,
                                   const char *json, size_t len, long long rv),
               void *ctx);

/* Writes (insert or replace) one object at revision `rv` (> store_revision). */
int store_put(store *s, const char *resource, const char *key, const char *json, size_t len,
              long long rv);

/* Deletes one object, recording revision `rv`. Missing is fine. */
int store_delete(store *s, const char *resource, const char *key, long long rv);

/* Deletes every object of `resource` (a CRD going away), recording revision `rv`. */
int store_delete_resource(store *s, const char *resource, long long rv);

/* Groups the writes that follow into one transaction until store_commit(); without it
 * each write commits on its own. Nesting is not supported. */
int store_begin(store *s);
int store_commit(store *s);

void store_close(store *s);

#endif
