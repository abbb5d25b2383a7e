/*
 * status: the helpers every reconciler uses to report what it did.
 *
 *  - Conditions with metav1.Condition semantics in obj.status.conditions: type, status
 *    ("True"/"False"/"Unknown"), reason, message, observedGeneration, and a
 *    lastTransitionTime that moves only when the status flips.
 *  - status_update: writes obj.status through the status subresource, computing the new
 *    status with a caller function on a private copy; when nothing changed it writes
 *    nothing; on 409 Conflict it re-reads the object and re-applies the function (bounded).
 *  - Finalizers: add/remove/has on metadata.finalizers (idempotent, order kept).
 *  - Events (core/v1): an event_recorder aggregates repeats of the same (object, type,
 *    reason, message) into one Event whose count and lastTimestamp grow, instead of one
 *    object per repeat, as client-go's event correlator does.
 * Objects passed in as `const` are never modified (cache objects are shared read-only).
 */
#ifndef PORTICO_CONTROLLER_STATUS_H
#define PORTICO_CONTROLLER_STATUS_H

#include "controller/client.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define STATUS_MAX_CONFLICT_RETRIES 5
#define EVENTS_CACHE_MAX 4096

/* --- conditions ---------------------------------------------------------------------- */

/* The condition of `type` in obj.status.conditions (borrowed) or NULL. */
json_t *condition_find(const json_t *obj, const char *type);

/* True when the condition exists with status "True". */
bool condition_is_true(const json_t *obj, const char *type);

/* Sets a condition on `obj` (a private, mutable object). `now` is the RFC 3339 time to
 * use as lastTransitionTime when the status flips or the condition is new (NULL: the
 * current time). *changed (may be NULL) tells whether anything changed. ERR_INVALID for a
 * status other than True/False/Unknown or an empty type/reason. */
int condition_set(json_t *obj, const char *type, const char *status, const char *reason,
                  const char *message, int64_t observed_generation, const char *now,
                  bool *changed);

/* Removes the condition of `type`; *changed as above. */
int condition_remove(json_t *obj, const char *type, bool *changed);

/* Formats the current UTC time as RFC 3339 with seconds ("2026-11-25T18:00:00Z"). */
void status_now(char *out, size_t size);

/* --- finalizers ---------------------------------------------------------------------- */

bool finalizer_has(const json_t *obj, const char *name);
int finalizer_add(json_t *obj, const char *name, bool *changed);
int finalizer_remove(json_t *obj, const char *name, bool *changed);

/* --- status writes ------------------------------------------------------------------- */

/* Changes obj.status (obj is a private deep copy, owned by the helper). Return 0, or an
 * error code to abandon the update (returned as is). */
typedef int (*status_mutate_fn)(void *ctx, json_t *obj);

/* Applies `mutate` to a copy of `current` and, when obj.status changed, PUTs it to the
 * status subresource; on conflict re-reads and retries (at most
 * STATUS_MAX_CONFLICT_RETRIES). *written (may be NULL): whether a write happened; *out
 * (may be NULL): the object as stored afterwards (new reference; `current` itself copied
 * when nothing was written). Blocking: worker threads only. Returns ERR_CONFLICT when
 * retries run out, or the API error. */
int status_update(kube_client *c, const kube_resource *res, const json_t *current,
                  status_mutate_fn mutate, void *ctx, json_t **out, bool *written);

/* --- events -------------------------------------------------------------------------- */

typedef struct event_recorder event_recorder;

/* `component` becomes source.component ("portico-controller"). Thread-safe recorder. */
int event_recorder_new(event_recorder **out, kube_client *client, const char *component);
void event_recorder_free(event_recorder *r);

/* Records an event about `involved` (any object with apiVersion, kind and metadata).
 * type "Normal" or "Warning". Repeats within the recorder's life increment the count of
 * the existing Event. Blocking: worker threads only. */
int event_record(event_recorder *r, const json_t *involved, const char *type, const char *reason,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
