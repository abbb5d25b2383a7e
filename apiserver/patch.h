/*
 * patch: the three patch types kube-apiserver accepts on JSON documents.
 *
 * - JSON merge patch (RFC 7386, application/merge-patch+json): objects merge, null
 *   deletes, everything else replaces.
 * - JSON patch (RFC 6902, application/json-patch+json): add, remove, replace, move, copy,
 *   test with JSON pointers (RFC 6901).
 * - Strategic merge patch (application/strategic-merge-patch+json), for the built-in
 *   kinds: a merge patch plus the directives kubectl sends ($patch: replace|delete,
 *   $retainKeys, $deleteFromPrimitiveList/<f>, $setElementOrder/<f>) and list merging by
 *   key for the lists that have one in the kinds served here (metadata.finalizers as a
 *   set, metadata.ownerReferences by uid, status.conditions by type); other lists replace.
 *
 * Server-side apply (application/apply-patch+yaml) is built from a strategic merge patch
 * plus the field sets below (patch_apply_fieldset, patch_apply_prune).
 *
 * Each function takes the document by reference (*doc, owned) and on success replaces
 * it with the patched document (the old one is released). On failure *doc is unchanged
 * and the error (ERR_INVALID with a message naming the operation, or ERR_CONFLICT for a
 * failed JSON patch `test`) is set. Depth and size are bounded by the inputs.
 */
#ifndef PORTICO_APISERVER_PATCH_H
#define PORTICO_APISERVER_PATCH_H

#include <jansson.h>

int patch_merge(json_t **doc, const json_t *patch);
int patch_json(json_t **doc, const json_t *ops);
int patch_strategic(json_t **doc, const json_t *patch);

/*
 * Server-side apply, simplified: the fields an applied configuration sets, as a
 * managedFields FieldsV1 set ({"f:spec":{"f:replicas":{}}}; maps recurse, lists and
 * scalars are leaves; apiVersion, kind and server-owned metadata are left out). Caller
 * owns the result.
 */
json_t *patch_apply_fieldset(const json_t *applied);

/* Removes from `live` every field that `old_set` owned and `new_set` no longer does (what
 * a manager dropped from its applied configuration). */
void patch_apply_prune(json_t *live, const json_t *old_set, const json_t *new_set);

#endif
