/*
 * registry_internal: the shared state of the registry's files (registry.c: routing and
 * verbs; registry_watch.c: event history and watch streams; registry_types.c: built-in
 * kinds and CRD-served types; registry_table.c: Table rendering; registry_decode.c:
 * request bodies). Not a public interface.
 *
 * Invariants:
 * - every object is in exactly one collection, in key order ("ns/name" or "name"), and
 *   its cached JSON text is exactly what the store holds;
 * - the event history holds every write with rv > compacted_rv, oldest first;
 * - rv only grows; each write takes rv + 1 before it is stored.
 */
#ifndef PORTICO_APISERVER_REGISTRY_INTERNAL_H
#define PORTICO_APISERVER_REGISTRY_INTERNAL_H

#include "apiserver/registry.h"
#include "apiserver/selector.h"
#include "apiserver/store.h"
#include "apiserver/validate.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct entry {
  char *key;     /* "ns/name" (namespaced) or "name" */
  char *json;    /* compact JSON of the stored object */
  size_t len;
  long long rv;
  json_t *labels; /* copy of metadata.labels, NULL when none */
} entry;

typedef struct collection {
  char *resource; /* "configmaps", "widgets.example.com" */
  entry **items;  /* sorted by key */
  size_t count, cap;
} collection;

typedef enum { EV_ADDED, EV_MODIFIED, EV_DELETED } event_type;

typedef struct event {
  long long rv;
  event_type type;
  char *resource;
  char *key;
  char *json;       /* the object after the write (DELETED: its last state) */
  char *prev;       /* the object before (NULL for ADDED) */
  json_t *labels, *prev_labels;
} event;

typedef struct watcher watcher;

typedef struct type_info {
  api_resource_type t;  /* what discovery and OpenAPI see */
  char *resource;       /* collection name: plural[.group] */
  char *storage_version;
  bool builtin;
  bool generation;      /* metadata.generation tracked (CRDs and their objects) */
  bool is_crd_served;   /* a custom resource (strategic merge patch refused) */
} type_info;

struct registry {
  uv_loop_t *loop;
  char *data_dir;
  registry_options options;
  store *store;
  long long rv;
  /* types: `types` is the contiguous array handed to discovery; `infos` parallel to it */
  api_resource_type *types;
  type_info *infos;
  size_t type_count;
  collection **colls;
  size_t coll_count;
  /* event history ring */
  event *ring;
  size_t ring_cap, ring_start, ring_count;
  long long compacted_rv; /* events with rv <= this are gone */
  watcher *watchers;
  size_t watcher_count; /* bounded by REGISTRY_MAX_WATCHERS */
  uv_timer_t *ns_sweep;  /* sweeps terminating namespaces; heap-owned, closed by registry_close */
};

#define REGISTRY_MAX_WATCHERS 4096

/* registry.c */
collection *registry_collection(registry *r, const char *resource, bool create);
entry *collection_find(const collection *c, const char *key, size_t *pos);
char *registry_now_rfc3339(void);

/* registry_write.c: deletes the contents of every terminating namespace (and the namespace
 * once empty) `namespace_sweep_ms` from now (a call before it fires pushes it back). */
void registry_namespace_sweep_schedule(registry *r);
/* Stops the sweep timer and hands it to uv_close (safe when none was made). */
void registry_namespace_sweep_close(registry *r);

/* registry_types.c */
int registry_types_rebuild(registry *r);
void registry_types_free(registry *r);
const type_info *registry_find_type(const registry *r, const char *group, const char *version,
                                    const char *plural);
const type_info *registry_find_type_by_resource(const registry *r, const char *resource);
/* Fills status of a CRD object (conditions, acceptedNames, storedVersions). */
void registry_crd_set_status(json_t *crd, const json_t *old);
/* Checks a CRD's spec, adding field errors. */
void registry_crd_validate(const json_t *crd, validate_errors *errs);

/* registry_watch.c */
void registry_record_event(registry *r, event_type type, const char *resource, const char *key,
                           const char *json, const char *prev, const json_t *labels,
                           const json_t *prev_labels, long long rv);
void registry_history_free(registry *r);
int registry_serve_watch(registry *r, const type_info *ti, const char *version, const char *ns,
                         const char *name, const api_request *req, api_response *resp);
void registry_watchers_end(registry *r, const char *resource /* NULL: all */);
/* For consistent pagination: the events after rv, oldest first; ERR_GONE when compacted. */
int registry_history_since(const registry *r, long long rv, size_t *first, size_t *count);
const event *registry_history_at(const registry *r, size_t i);
/* An object as the request's version sees it (apiVersion rewritten when needed).
 * Returns a new string (caller frees) or NULL when `json` can be used as it is. */
char *registry_object_for_version(const type_info *ti, const char *version, const char *json);

/* registry_table.c */
bool registry_wants_table(const api_request *req);
json_t *registry_table_columns(const type_info *ti);
json_t *registry_table_row(const type_info *ti, const json_t *obj);
void registry_human_age(const char *rfc3339, char *out, size_t size);

/* registry_decode.c */
/* Decodes a request body (JSON, YAML, Kubernetes protobuf) into an object. Returns 0 or
 * an HTTP status (400, 415) with *message (caller frees) explaining. */
int registry_decode_body(const api_request *req, json_t **out, char **message);
int registry_yaml_to_json(const char *text, size_t len, json_t **out, char **message);

/* registry.c: shared helpers */
void registry_uuid_v4(char out[37]);
/* generateName suffix: 5 characters from the alphabet Kubernetes uses (no vowels). */
void registry_random_suffix(char out[6]);
char *registry_make_key(const char *ns, const char *name);
char *registry_qualified_resource(const type_info *ti);
char *registry_qualified_kind(const type_info *ti);
json_t *registry_details(const type_info *ti, const char *name, const char *kind);
void registry_respond_not_found(api_response *resp, const type_info *ti, const char *name);
void registry_respond_conflict(api_response *resp, const type_info *ti, const char *name,
                               const char *why);
void registry_respond_invalid(api_response *resp, const type_info *ti, const char *name,
                              const validate_errors *errs);
void registry_respond_text_status(api_response *resp, int code, const char *reason,
                                  const char *message);
void registry_respond_raw_json(api_response *resp, int code, const char *json, size_t len);
bool registry_dry_run(const api_request *req);
int registry_commit_put(registry *r, const type_info *ti, const char *key, json_t *obj,
                        event_type type);
int registry_commit_delete(registry *r, const type_info *ti, const char *key, json_t *last);
json_t *registry_load_entry(const entry *e);
entry *registry_namespace_entry(registry *r, const char *ns);

/* registry_list.c */
/* One item of a list: what the page shows. */
typedef struct list_item {
  const char *key;
  const char *json;
  const json_t *labels;
} list_item;
/* The field selector labels a type supports beyond metadata.name and metadata.namespace
 * (NULL-terminated, or NULL). */
const char *const *registry_field_labels(const type_info *ti);
/* Parses the request's labelSelector and fieldSelector into *labels and *fields (NULL when
 * absent; the caller frees both with selector_free). On a bad selector it answers 400
 * BadRequest with the parser's message, leaves both NULL and returns ERR_INVALID. */
int registry_parse_selectors(const type_info *ti, const api_request *req, api_response *resp,
                             selector **labels, selector **fields);
bool registry_item_matches(const list_item *it, const char *ns, const selector *labels,
                           const selector *fields);
void registry_respond_object(api_response *resp, int code, const type_info *ti,
                             const char *version, const api_request *req, const char *json,
                             size_t len);
void registry_respond_json_object(api_response *resp, int code, const type_info *ti,
                                  const char *version, const api_request *req,
                                  const json_t *obj);
int registry_handle_list(registry *r, const type_info *ti, const char *version, const char *ns,
                         const api_request *req, api_response *resp);
char *registry_b64_encode(const char *in, size_t n);

/* registry_write.c */
int registry_handle_create(registry *r, const type_info *ti, const char *version, const char *ns,
                           const api_request *req, api_response *resp);
int registry_handle_update(registry *r, const type_info *ti, const char *version, const char *ns,
                           const char *name, bool status_only, const api_request *req,
                           api_response *resp);
int registry_handle_patch(registry *r, const type_info *ti, const char *version, const char *ns,
                          const char *name, bool status_only, const api_request *req,
                          api_response *resp);
int registry_handle_delete(registry *r, const type_info *ti, const char *version, const char *ns,
                           const char *name, const api_request *req, api_response *resp);
int registry_handle_delete_collection(registry *r, const type_info *ti, const char *version,
                                      const char *ns, const api_request *req,
                                      api_response *resp);

#endif
