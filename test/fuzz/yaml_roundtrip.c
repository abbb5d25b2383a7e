/*
 * Fuzz target: cad/yaml round trip. Whatever parses must be written back byte-identical
 * when untouched; an edited copy (every map gets a new key, the first item of every
 * sequence removed) must still be valid YAML whose data matches the edit.
 */
#include "base/buf.h"
#include "cad/yaml.h"
#include "test/fuzz/yaml_edit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  yml_file *f = NULL;
  if (yml_file_parse(&f, "fuzz", (const char *)data, size) != 0)
    return 0;
  buf out = BUF_INIT;
  if (yml_file_write(f, &out) != 0 || out.len != size || (size && memcmp(out.data, data, size)))
    abort(); /* an untouched file must come back byte-identical */
  for (size_t i = 0; i < yml_file_doc_count(f); i++) {
    json_t *j = yml_to_json(yml_file_doc(f, i));
    json_decref(j);
    yml_node *c = yml_node_copy(yml_file_doc(f, i));
    fuzz_yaml_edit(c, "fuzz-added-key", "v: #", 0, 0);
    yml_node_free(c);
    fuzz_yaml_edit(yml_file_doc(f, i), "fuzz-added-key", "v: #", 0, 0);
  }
  buf_reset(&out);
  if (yml_file_write(f, &out) == 0 && !strstr(buf_cstr(&out), "*")) {
    /* without aliases the edited text must parse again */
    yml_file *g = NULL;
    if (yml_file_parse(&g, "edited", out.data ? out.data : "", out.len) != 0)
      abort();
    yml_file_free(g);
  }
  buf_free(&out);
  yml_file_free(f);
  return 0;
}
