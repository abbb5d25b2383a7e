/*
 * Fuzz target: label and field selector parsing and matching. The input is split at the
 * first newline: the selector text, then a JSON object of labels to match against.
 * Properties: no crash, no leak; a parsed selector always answers a match.
 */
#include "apiserver/selector.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char *nl = strchr(text, '\n');
  const char *labels_text = "{}";
  if (nl) {
    *nl = 0;
    labels_text = nl + 1;
  }
  json_t *labels = json_loads(labels_text, 0, NULL);
  selector *s = NULL;
  if (selector_parse_labels(text, &s) == 0) {
    (void)selector_matches_labels(s, labels);
    selector_free(s);
  }
  static const char *const extra[] = {"type", "status.phase", NULL};
  if (selector_parse_fields(text, extra, &s) == 0) {
    json_t *obj = json_pack("{s:O?}", "metadata", labels);
    (void)selector_matches_fields(s, obj);
    (void)selector_field_equals(s, "metadata.name");
    json_decref(obj);
    selector_free(s);
  }
  json_decref(labels);
  free(text);
  return 0;
}
