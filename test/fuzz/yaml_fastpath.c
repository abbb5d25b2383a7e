/*
 * Fuzz target: the fast YAML scanner against libyaml (differential). For any input the
 * fast scanner either gives up, or builds a tree whose canonical dump (spans, styles,
 * values, lines, slots) equals the libyaml-built tree's, and the untouched round trip of
 * both is the input itself. An input libyaml rejects must never be accepted by the fast
 * scanner. The edited write (a key added to every map) must be the same from both trees.
 */
#include "base/buf.h"
#include "base/error.h"
#include "cad/yaml.h"
#include "test/fuzz/yaml_edit.h"
#include "cad/yaml_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void differ(const char *what, const buf *a, const buf *b) {
  fprintf(stderr, "yaml_fastpath: %s differ\n--- libyaml\n%s\n--- fast\n%s\n", what, buf_cstr(a),
          buf_cstr(b));
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  yml_file *fast = NULL, *ref = NULL;
  int frc = yml_file_parse_mode(&fast, "fuzz", text, size, YML_PARSE_FAST);
  if (frc != 0) {
    if (frc != ERR_UNSUPPORTED) {
      /* only the checks before either parser runs (size, encoding, line breaks) fail here:
       * the fast scanner never reports an error of its own */
      int lrc = yml_file_parse_mode(&ref, "fuzz", text, size, YML_PARSE_LIBYAML);
      if (lrc != frc)
        abort();
    }
    return 0;
  }
  if (yml_file_parse_mode(&ref, "fuzz", text, size, YML_PARSE_LIBYAML) != 0) {
    fprintf(stderr, "yaml_fastpath: fast path accepted what libyaml rejects: %s\n",
            error_message());
    abort();
  }
  buf a = BUF_INIT, b = BUF_INIT;
  yml_debug_dump(ref, &a);
  yml_debug_dump(fast, &b);
  if (a.len != b.len || memcmp(a.data, b.data, a.len))
    differ("trees", &a, &b);
  buf_reset(&a);
  buf_reset(&b);
  if (yml_file_write(ref, &a) || yml_file_write(fast, &b))
    abort();
  if (b.len != size || (size && memcmp(b.data, data, size)))
    differ("round trips", &a, &b);
  for (size_t i = 0; i < yml_file_doc_count(ref); i++) {
    fuzz_yaml_edit(yml_file_doc(ref, i), "fuzz-added", "x", 1, 0);
    fuzz_yaml_edit(yml_file_doc(fast, i), "fuzz-added", "x", 1, 0);
  }
  buf_reset(&a);
  buf_reset(&b);
  int ra = yml_file_write(ref, &a), rb = yml_file_write(fast, &b);
  if (ra != rb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len)))
    differ("edited writes", &a, &b);
  buf_free(&a);
  buf_free(&b);
  yml_file_free(fast);
  yml_file_free(ref);
  return 0;
}
