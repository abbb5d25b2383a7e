/*
 * testutil: shared helpers for Check unit tests. Each test file defines its suite and
 * ends with TEST_MAIN(suite_function).
 */
#ifndef PORTICO_TEST_TESTUTIL_H
#define PORTICO_TEST_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

#define TEST_MAIN(suite_fn)                                                                   \
  int main(void) {                                                                           \
    SRunner *runner = srunner_create(suite_fn());                                            \
    srunner_run_all(runner, CK_NORMAL);                                                      \
    int failed = srunner_ntests_failed(runner);                                              \
    srunner_free(runner);                                                                    \
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                             \
  }

/* Makes a fresh temporary directory (mkdtemp under $TMPDIR or /tmp). Caller frees the
 * path and removes the tree (testutil_rmtree). Aborts the test on failure. */
char *testutil_tmpdir(void);
void testutil_rmtree(const char *path);

#endif
