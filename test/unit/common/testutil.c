/* testutil: see testutil.h. */
#include "testutil.h"

#include "base/fs.h"
#include "base/str.h"

#include <stdio.h>

char *testutil_tmpdir(void) {
  const char *root = getenv("TMPDIR");
  char *path = str_printf("%s/portico-test-XXXXXX", root && *root ? root : "/tmp");
  ck_assert_ptr_nonnull(path);
  ck_assert_ptr_nonnull(mkdtemp(path));
  return path;
}

void testutil_rmtree(const char *path) { fs_remove_tree(path); }
