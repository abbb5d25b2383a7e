/*
 * Fuzz target: the three-way merge. The input holds up to three YAML documents (dest,
 * origin, updated). Merging must not crash, must leave dest writable as YAML that parses
 * again, and merging a resource with itself as origin and updated must report no conflict
 * and be idempotent (the first pass may drop null fields, as kyaml does; a second pass
 * must change nothing).
 */
#include "base/buf.h"
#include "cad/merge.h"
#include "cad/yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  yml_file *f = NULL;
  if (yml_file_parse(&f, "fuzz", (const char *)data, size) != 0)
    return 0;
  size_t n = yml_file_doc_count(f);
  yml_node *d = n > 0 ? yml_file_doc(f, 0) : NULL;
  if (!d || yml_node_kind(d) != YML_MAP) {
    yml_file_free(f);
    return 0;
  }
  const yml_node *o = n > 1 ? yml_file_doc(f, 1) : NULL;
  const yml_node *u = n > 2 ? yml_file_doc(f, 2) : d;
  /* identity: dest merged with itself as both upstream versions is unchanged */
  yml_node *same = yml_node_copy(d);
  if (same) {
    merge_report rep = {0};
    if (merge_resource(same, d, d, &rep, "f", "r") == 0) {
      if (rep.n)
        abort(); /* no conflict without changes */
      yml_node *again = yml_node_copy(same);
      if (again && merge_resource(again, same, same, &rep, "f", "r") == 0 && !yml_node_equal(again, same))
        abort();
      yml_node_free(again);
    }
    merge_report_free(&rep);
    yml_node_free(same);
  }
  merge_report rep = {0};
  if (merge_resource(d, o, u, &rep, "f", "r") == 0) {
    buf out = BUF_INIT;
    if (yml_file_write(f, &out) == 0 && !memchr(buf_cstr(&out), '*', out.len)) {
      yml_file *g = NULL;
      if (yml_file_parse(&g, "merged", out.data ? out.data : "", out.len) != 0)
        abort();
      yml_file_free(g);
    }
    buf_free(&out);
    buf_reset(&out);
    merge_report_write(&rep, &out);
    buf_free(&out);
  }
  merge_report_free(&rep);
  yml_file_free(f);
  return 0;
}
