/*
 * discovery: the Kubernetes discovery documents, generated from the list of resource
 * types currently served (built-in kinds plus those of established CRDs).
 *
 * Pure functions: each takes the types (borrowed, a contiguous array) and returns a new
 * JSON document the caller owns (json_decref), or NULL with ERR_NOMEM (or ERR_NOTFOUND
 * for a group/version that is not served). Nothing is cached, so the documents follow
 * CRDs as they come and go. The order of `types` is kept: groups appear in the order of
 * their first type, versions of a group in Kubernetes version priority (v1 > v1beta2 >
 * v1beta1 > v1alpha1 > other), which also picks the preferred version.
 *
 * discovery_serve() is the convenience the router calls: it answers /version, /api,
 * /api/v1, /apis and /apis/G/V (legacy documents, or aggregated discovery
 * apidiscovery.k8s.io/v2 when the Accept header asks for it, as kubectl 1.32 does).
 */
#ifndef PORTICO_APISERVER_DISCOVERY_H
#define PORTICO_APISERVER_DISCOVERY_H

#include "apiserver/api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The Kubernetes version reported by /version (kubectl's dispatcher picks its bundled
 * kubectl from it). */
#define DISCOVERY_GIT_VERSION "v1.32.4"
#define DISCOVERY_AGGREGATED_CONTENT_TYPE                                                          \
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

/* /version: version.Info. */
json_t *discovery_version(void);

/* /api: APIVersions (["v1"] when any core type is served). */
json_t *discovery_core_versions(const api_resource_type *types, size_t count);

/* /apis: APIGroupList of every non-core group, with preferredVersion. */
json_t *discovery_group_list(const api_resource_type *types, size_t count);

/* /api/v1 (group "") or /apis/G/V: APIResourceList with kinds, verbs, shortNames,
 * categories, singularName, namespaced and the "<plural>/status" subresources.
 * NULL with ERR_NOTFOUND when no type has that group and version. */
json_t *discovery_resource_list(const api_resource_type *types, size_t count, const char *group,
                                const char *version);

/* Aggregated discovery (apidiscovery.k8s.io/v2 APIGroupDiscoveryList): for /api
 * (core = true: the one group "") or /apis (core = false: every other group). */
json_t *discovery_aggregated(const api_resource_type *types, size_t count, bool core);

/* Does this Accept header ask for aggregated discovery v2 (`as=APIGroupDiscoveryList`
 * with `v=v2`)? */
bool discovery_accepts_aggregated(const char *accept);

/* Kubernetes version priority, as a qsort comparator: negative when a is preferred to b.
 * GA before beta before alpha, higher numbers first (v2 before v1, v1beta2 before
 * v1beta1), and names that are not Kubernetes versions last, alphabetically. */
int discovery_version_compare(const char *a, const char *b);

/* Answers with `doc` (stolen) as 200 JSON, with `content_type` when not NULL; when doc is
 * NULL, with a Status from the last error: 404 NotFound for ERR_NOTFOUND, 500 otherwise.
 * Shared by the discovery and OpenAPI endpoints. */
void discovery_respond_document(api_response *resp, json_t *doc, const char *content_type);

/* If req is a discovery path (/version, /api, /api/v1, /apis, /apis/G, /apis/G/V), fills
 * resp (200 with the document; 404 Status for an unserved group or version; 405 for a
 * method other than GET/HEAD) and returns true; returns false for any other path,
 * leaving resp untouched. */
bool discovery_serve(const api_request *req, api_response *resp, const api_resource_type *types,
                     size_t count);

#endif
