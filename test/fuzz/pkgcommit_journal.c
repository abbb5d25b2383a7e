/*
 * Fuzz target: cad/pkgcommit's journal parser (the file a crashed render leaves, read back
 * by the next one). The input is parsed twice: as it is (torn or garbage journals), and
 * sealed with a valid trailer (its first byte, mod 8, the record count) so that the record
 * parser behind the checksum is reached too. Properties: no crash, no leak, bounded work;
 * a journal that parses has only safe paths that do not name the journal and sizes within
 * their bounds, and encodes back to exactly the same bytes (one spelling per journal).
 */
#include "base/buf.h"
#include "base/fs.h"
#include "cad/pkgcommit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(const char *data, size_t size) {
  pkgcommit_journal j;
  if (pkgcommit_journal_parse(&j, data, size) != 0)
    return;
  for (size_t i = 0; i < j.n; i++) {
    const pkgcommit_entry *e = &j.entries[i];
    if (!fs_path_is_safe(e->path) || !strncmp(e->path, PKGCOMMIT_JOURNAL, strlen(PKGCOMMIT_JOURNAL)) ||
        e->mode > 0777 || e->data.len > KRM_MAX_FILE)
      abort();
  }
  buf again = BUF_INIT;
  buf_init(&again, PKGCOMMIT_MAX_JOURNAL);
  if (pkgcommit_journal_encode(&j, &again) != 0 || again.len != size || memcmp(again.data, data, size))
    abort();
  buf_free(&again);
  pkgcommit_journal_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1 << 20))
    return 0;
  check((const char *)data, size);
  if (size == 0)
    return 0;
  buf sealed = BUF_INIT;
  buf_init(&sealed, (size_t)2 << 20);
  if (buf_puts(&sealed, "portico-journal 1\n") == 0 && buf_append(&sealed, data + 1, size - 1) == 0 &&
      pkgcommit_journal_seal(&sealed, 0, data[0] % 8) == 0)
    check(sealed.data, sealed.len);
  buf_free(&sealed);
  return 0;
}
