/*
 * openapi: the OpenAPI documents kubectl downloads, generated from the resource types
 * currently served.
 *
 * - /openapi/v3: the index, {"paths": {"api/v1": {"serverRelativeURL":
 *   "/openapi/v3/api/v1?hash=<HASH>"}, "apis/G/V": ...}}; HASH is the SHA-256 of the
 *   group-version document, so clients cache it until it changes.
 * - /openapi/v3/api/v1, /openapi/v3/apis/G/V: an OpenAPI 3.0 document with the paths of
 *   every resource (operations carrying x-kubernetes-action,
 *   x-kubernetes-group-version-kind and, on create/update/patch, the `fieldValidation`,
 *   `fieldManager` and `dryRun` query parameters that kubectl looks for before it sends
 *   `fieldValidation=Strict`) and components.schemas named as kube-apiserver names them
 *   (io.k8s.api.core.v1.ConfigMap; for CRDs the reversed group, dev.portico.v1alpha1.Kind).
 * - /openapi/v2: the same definitions as one Swagger 2.0 document in JSON. Asked for
 *   protobuf only (as client-go's fallback paths do), it answers a valid but empty
 *   openapi_v2.Document: clients then skip client-side schema checks (the server validates,
 *   since every write operation offers fieldValidation) instead of failing on a 406.
 *
 * Pure functions over a borrowed, contiguous array of types; results are new references
 * the caller owns. Types without a schema get a permissive object schema
 * (x-kubernetes-preserve-unknown-fields) with the standard apiVersion/kind/metadata.
 */
#ifndef PORTICO_APISERVER_OPENAPI_H
#define PORTICO_APISERVER_OPENAPI_H

#include "apiserver/api.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The definition name of a kind, as kube-apiserver spells it:
 *   ("", "v1", "ConfigMap")                     -> "io.k8s.api.core.v1.ConfigMap"
 *   ("coordination.k8s.io", "v1", "Lease")      -> "io.k8s.api.coordination.v1.Lease"
 *   ("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
 *     -> "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
 *   ("portico.dev", "v1alpha1", "Repository")   -> "dev.portico.v1alpha1.Repository"
 * Caller frees; NULL on ERR_NOMEM. */
char *openapi_definition_name(const char *group, const char *version, const char *kind);

/* /openapi/v3 index. */
json_t *openapi_v3_index(const api_resource_type *types, size_t count);

/* /openapi/v3/api/v1 (group "") or /openapi/v3/apis/G/V. NULL with ERR_NOTFOUND when the
 * group/version is not served. */
json_t *openapi_v3_group_version(const api_resource_type *types, size_t count, const char *group,
                                 const char *version);

/* /openapi/v2: Swagger 2.0 with every type's paths and definitions. */
json_t *openapi_v2(const api_resource_type *types, size_t count);

/* If req is under /openapi/ (v2, v3, v3/api/v1, v3/apis/G/V), fills resp and returns true
 * (404 Status for an unserved group/version; see above for /openapi/v2 and protobuf);
 * false otherwise, resp untouched. */
bool openapi_serve(const api_request *req, api_response *resp, const api_resource_type *types,
                   size_t count);

#endif
