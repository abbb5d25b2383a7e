/*
 * Fuzz target: merge, JSON and strategic merge patches. The input is two JSON texts
 * separated by a newline: the document, then the patch. Each patch type is applied to a
 * copy. Properties: no crash, no leak; on failure the document is unchanged.
 */
#include "apiserver/patch.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void try_patch(int (*fn)(json_t **, const json_t *), const json_t *doc, const json_t *patch) {
  json_t *d = json_deep_copy(doc);
  json_t *before = json_deep_copy(doc);
  if (fn(&d, patch) != 0 && !json_equal(d, before))
    abort(); /* a failed patch must leave the document as it was */
  json_decref(d);
  json_decref(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  const uint8_t *nl = memchr(data, '\n', size);
  if (!nl)
    return 0;
  json_t *doc = json_loadb((const char *)data, (size_t)(nl - data), JSON_DECODE_ANY, NULL);
  json_t *patch = json_loadb((const char *)nl + 1, size - (size_t)(nl - data) - 1, JSON_DECODE_ANY, NULL);
  if (doc && patch) {
    if (json_is_object(patch))
      try_patch(patch_merge, doc, patch);
    try_patch(patch_json, doc, patch);
    try_patch(patch_strategic, doc, patch);
  }
  json_decref(doc);
  json_decref(patch);
  return 0;
}
