/*
 * Fuzz target: kubeconfig loading (YAML to JSON, context/cluster/user resolution, base64
 * credentials) and the informer's label selector matching, on untrusted text.
 * Properties: no crash, no leak; a loaded config always has a server and a namespace.
 */
#include "controller/informer.h"
#include "controller/kubeconfig.h"
#include "base/fs.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = 0;
  json_t *j = NULL;
  if (kubeconfig_yaml_to_json(text, size, &j) == 0) {
    json_t *labels = json_object_get(j, "labels");
    const char *sel = json_string_value(json_object_get(j, "selector"));
    bool m;
    (void)informer_labels_match(labels, sel ? sel : "a=b,c!=d,e,!f", &m);
    json_decref(j);
  }
  char *dec = NULL;
  size_t dec_len = 0;
  if (kubeconfig_base64_decode(text, &dec, &dec_len) == 0)
    free(dec);
  char path[64];
  snprintf(path, sizeof path, "/tmp/portico-fuzz-kubeconfig-%ld", (long)getpid());
  if (fs_write_atomic(path, text, size, 0600) == 0) {
    kubeconfig kc;
    if (kubeconfig_load_files(&kc, path) == 0) {
      if (!kc.server || !kc.namespace)
        abort();
      kubeconfig_free(&kc);
    }
    unlink(path);
  }
  free(text);
  return 0;
}
