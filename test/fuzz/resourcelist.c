/*
 * Fuzz target: ResourceList parsing (krm_rl_check / krm_rl_to_pkg) and writing the files
 * back. Any input must be either refused or turned into safe package-relative files
 * whose text parses again.
 */
#include "base/buf.h"
#include "base/fs.h"
#include "cad/krm.h"
#include "cad/yaml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  yml_file *f = NULL;
  if (yml_file_parse(&f, "stdin", (const char *)data, size) != 0)
    return 0;
  for (size_t d = 0; d < yml_file_doc_count(f); d++) {
    krm_pkg *p = NULL;
    if (krm_rl_to_pkg(&p, yml_file_doc(f, d)) != 0)
      continue;
    for (size_t i = 0; i < p->nfiles; i++) {
      if (!fs_path_is_safe(p->files[i].path))
        abort(); /* an escaping path must have been refused */
      buf out = BUF_INIT;
      if (yml_file_write(p->files[i].yaml, &out) == 0 && !memchr(buf_cstr(&out), '*', out.len)) {
        yml_file *g = NULL;
        if (yml_file_parse(&g, "out", out.data ? out.data : "", out.len) != 0)
          abort(); /* what sink writes must read back */
        yml_file_free(g);
      }
      buf_free(&out);
    }
    /* and back into a ResourceList */
    yml_file *rl = NULL;
    if (krm_rl_from_pkg(&rl, p, NULL) == 0) {
      buf out = BUF_INIT;
      yml_file_write(rl, &out);
      buf_free(&out);
      yml_file_free(rl);
    }
    krm_pkg_free(p);
  }
  yml_file_free(f);
  return 0;
}
