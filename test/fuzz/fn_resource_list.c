/*
 * Fuzz target: the function side of the KRM protocol. Arbitrary bytes are read as a
 * ResourceList (fn_rlist_parse) and, when they are one, every built-in runs on it and
 * writes it back. Nothing may crash, leak or loop, whatever the items and functionConfig
 * hold (wrong types, aliases, deep nesting, odd field paths).
 */
#include "fn/builtin.h"
#include "fn/catalog.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1 << 20))
    return 0;
  for (size_t i = 0; catalog_at(i); i++) {
    buf out = BUF_INIT;
    bool failed = false;
    builtin_run_text(catalog_at(i)->name, (const char *)data, size, &out, &failed);
    buf_free(&out);
  }
  return 0;
}
