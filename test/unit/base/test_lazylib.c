/* Unit tests for base/lazylib and its libcurl/libgit2 forwarders (base/lazy_*.c). */
#include "common/testutil.h"

#include "base/buf.h"
#include "base/fs.h"
#include "base/lazylib.h"

#include <curl/curl.h>
#include <git2.h>
#include <string.h>

/* Is a file whose name contains `name` mapped into this process? */
static int mapped(const char *name) {
  buf maps = BUF_INIT;
  ck_assert_int_eq(fs_read_file("/proc/self/maps", (size_t)16 << 20, &maps), 0);
  int hit = strstr(buf_cstr(&maps), name) != NULL;
  buf_free(&maps);
  return hit;
}

static size_t sink(char *p, size_t size, size_t n, void *arg) {
  (void)p;
  (void)arg;
  return size * n;
}

START_TEST(curl_loads_on_first_call) {
  /* Linked like bin/portico: libcurl is not there until something calls it. */
  ck_assert(!mapped("libcurl"));
  CURL *c = curl_easy_init();
  ck_assert_ptr_nonnull(c);
  ck_assert(mapped("libcurl"));
  /* One option of each argument type (long, pointer, function, curl_off_t), read back. */
  ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1234L), CURLE_OK);
  ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_URL, "file:///dev/null"), CURLE_OK);
  ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink), CURLE_OK);
  ck_assert_int_eq(curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 20), CURLE_OK);
  ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
  char *url = NULL;
  ck_assert_int_eq(curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &url), CURLE_OK);
  ck_assert_str_eq(url, "file:///dev/null");
  ck_assert_str_eq(curl_easy_strerror(CURLE_OK), "No error");
  curl_easy_cleanup(c);
  CURLM *m = curl_multi_init();
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 4L), CURLM_OK);
  ck_assert_int_eq(curl_multi_cleanup(m), CURLM_OK);
}
END_TEST

START_TEST(git2_loads_on_first_call) {
  ck_assert(!mapped("libgit2"));
  ck_assert_int_gt(git_libgit2_init(), 0);
  ck_assert(mapped("libgit2"));
  git_oid oid;
  const char *hex = "0123456789abcdef0123456789abcdef01234567";
  ck_assert_int_eq(git_oid_fromstr(&oid, hex), 0);
  char out[GIT_OID_HEXSZ + 1];
  ck_assert_str_eq(git_oid_tostr(out, sizeof(out), &oid), hex);
}
END_TEST

START_TEST(lazylib_resolves_symbols) {
  static lazylib lib = LAZYLIB_INIT("libcurl.so.4");
  ck_assert(!lazylib_loaded(&lib));
  ck_assert_ptr_nonnull(lazylib_sym(&lib, "curl_version"));
  ck_assert(lazylib_loaded(&lib));
}
END_TEST

static Suite *lazylib_suite(void) {
  Suite *s = suite_create("lazylib");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, curl_loads_on_first_call);
  tcase_add_test(tc, git2_loads_on_first_call);
  tcase_add_test(tc, lazylib_resolves_symbols);
  suite_add_tcase(s, tc);
  return s;
}

TEST_MAIN(lazylib_suite)
