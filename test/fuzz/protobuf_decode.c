/*
 * Fuzz target for the Kubernetes protobuf decoder (apiserver/protobuf): any bytes either
 * decode to a JSON object of a supported kind or are refused with ERR_INVALID /
 * ERR_UNSUPPORTED, never crash, leak or read out of bounds. Seeds are request bodies
 * captured from kubectl 1.32 (`create namespace|configmap|secret generic`).
 */
#include "apiserver/protobuf.h"
#include "base/error.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *obj = NULL;
  int rc = protobuf_decode_object(data, size, &obj);
  if (rc == 0) {
    if (!json_is_object(obj) || !json_object_get(obj, "kind"))
      abort();
    json_decref(obj);
  } else if (rc != ERR_INVALID && rc != ERR_UNSUPPORTED && rc != ERR_NOMEM) {
    abort();
  }
  return 0;
}
