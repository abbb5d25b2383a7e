/*
 * protobuf: a small, bounded decoder for the Kubernetes protobuf encoding that kubectl
 * uses when it creates core objects (`kubectl create namespace|configmap|secret|service`
 * send `Content-Type: application/vnd.kubernetes.protobuf`).
 *
 * The wire format: the 4-byte magic "k8s\0", then a runtime.Unknown message
 * {typeMeta{apiVersion, kind}, raw, contentEncoding, contentType} whose `raw` holds the
 * object message. Supported kinds (apiVersion "v1"): Namespace, ConfigMap, Secret, Service, with
 * ObjectMeta name, generateName, namespace, uid, resourceVersion, labels, annotations and
 * finalizers; ConfigMap data/binaryData/immutable; Secret data/stringData/type/immutable;
 * Namespace spec.finalizers; Service spec ports (name, protocol, port, targetPort as an
 * int or a name, nodePort, appProtocol), selector, clusterIP(s), type, externalIPs,
 * sessionAffinity, externalName. Other fields are skipped as protobuf allows. The result is
 * the equivalent JSON object, exactly as kubectl would have sent it in JSON (bytes fields
 * base64-encoded).
 *
 * Bounded: nesting depth is fixed by the message shapes, every length is checked against
 * the remaining input, and the input itself is limited by the caller (API_MAX_BODY).
 * Never reads past `len`; never allocates more than a small multiple of `len`.
 */
#ifndef PORTICO_APISERVER_PROTOBUF_H
#define PORTICO_APISERVER_PROTOBUF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PROTOBUF_CONTENT_TYPE "application/vnd.kubernetes.protobuf"

/* Is this Content-Type the Kubernetes protobuf encoding (parameters ignored)? */
bool protobuf_is_content_type(const char *content_type);

/* Decodes a "k8s\0"-enveloped object into *out (new reference, caller decrefs).
 * ERR_INVALID: malformed input (no magic, truncated or bad wire data, invalid UTF-8 in a
 * string field), ERR_UNSUPPORTED: a kind or apiVersion this decoder does not know (the
 * router answers 415 Unsupported Media Type), ERR_NOMEM. *out is unchanged on failure. */
int protobuf_decode_object(const void *data, size_t len, json_t **out);

#endif
