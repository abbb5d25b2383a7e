/*
 * lazy_curl: the libcurl functions Portico calls, loaded on first use (see lazylib.h for
 * why). The prototypes are libcurl's own (its header is included, so a mismatch does not
 * compile). The three variadic functions take exactly one argument after the option, whose
 * type libcurl encodes in the option number (CURLOPTTYPE_*): it is read with that type and
 * passed on with it.
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "lazylib.h"

#include <stdarg.h>

static lazylib curl_lib = LAZYLIB_INIT("libcurl.so.4");

LAZYLIB_FN(curl_lib, CURLcode, curl_global_init, (long flags), (flags))
LAZYLIB_VOID(curl_lib, curl_global_cleanup, (void), ())
LAZYLIB_FN(curl_lib, CURL *, curl_easy_init, (void), ())
LAZYLIB_FN(curl_lib, CURLcode, curl_easy_perform, (CURL * curl), (curl))
LAZYLIB_VOID(curl_lib, curl_easy_cleanup, (CURL * curl), (curl))
LAZYLIB_FN(curl_lib, const char *, curl_easy_strerror, (CURLcode code), (code))
LAZYLIB_FN(curl_lib, struct curl_slist *, curl_slist_append,
           (struct curl_slist * list, const char *data), (list, data))
LAZYLIB_VOID(curl_lib, curl_slist_free_all, (struct curl_slist * list), (list))
LAZYLIB_FN(curl_lib, CURLM *, curl_multi_init, (void), ())
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_add_handle, (CURLM * m, CURL *e), (m, e))
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL *e), (m, e))
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_poll,
           (CURLM * m, struct curl_waitfd extra_fds[], unsigned int extra_nfds, int timeout_ms,
            int *ret),
           (m, extra_fds, extra_nfds, timeout_ms, ret))
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_perform, (CURLM * m, int *running), (m, running))
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_cleanup, (CURLM * m), (m))
LAZYLIB_FN(curl_lib, CURLMsg *, curl_multi_info_read, (CURLM * m, int *msgs_in_queue),
           (m, msgs_in_queue))
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_socket_action,
           (CURLM * m, curl_socket_t s, int ev_bitmask, int *running), (m, s, ev_bitmask, running))
LAZYLIB_FN(curl_lib, CURLMcode, curl_multi_assign, (CURLM * m, curl_socket_t s, void *sockp),
           (m, s, sockp))

/* One option argument, read with the type the option number says. */
typedef union {
  long l;
  void *p;
  void (*f)(void);
  curl_off_t o;
} opt_arg;

typedef enum { ARG_LONG, ARG_PTR, ARG_FN, ARG_OFF } arg_kind;

static arg_kind option_kind(int option) {
  if (option < CURLOPTTYPE_OBJECTPOINT)
    return ARG_LONG;
  if (option < CURLOPTTYPE_FUNCTIONPOINT)
    return ARG_PTR;
  if (option < CURLOPTTYPE_OFF_T)
    return ARG_FN;
  if (option < CURLOPTTYPE_BLOB)
    return ARG_OFF;
  return ARG_PTR;
}

#define READ_OPT_ARG(ap, kind, arg)                                                          \
  do {                                                                                       \
    switch (kind) {                                                                          \
    case ARG_LONG: (arg).l = va_arg(ap, long); break;                                        \
    case ARG_PTR: (arg).p = va_arg(ap, void *); break;                                       \
    case ARG_FN: (arg).f = va_arg(ap, void (*)(void)); break;                                \
    case ARG_OFF: (arg).o = va_arg(ap, curl_off_t); break;                                   \
    }                                                                                        \
  } while (0)

#define CALL_WITH_OPT_ARG(fn, h, option, kind, arg)                                          \
  ((kind) == ARG_LONG  ? (fn)((h), (option), (arg).l)                                        \
   : (kind) == ARG_PTR ? (fn)((h), (option), (arg).p)                                        \
   : (kind) == ARG_FN  ? (fn)((h), (option), (arg).f)                                        \
                       : (fn)((h), (option), (arg).o))

CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...) {
  LAZYLIB_TARGET(curl_lib, curl_easy_setopt);
  arg_kind kind = option_kind((int)option);
  opt_arg arg;
  va_list ap;
  va_start(ap, option);
  READ_OPT_ARG(ap, kind, arg);
  va_end(ap);
  return CALL_WITH_OPT_ARG(fn_, curl, option, kind, arg);
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption option, ...) {
  LAZYLIB_TARGET(curl_lib, curl_multi_setopt);
  arg_kind kind = option_kind((int)option);
  opt_arg arg;
  va_list ap;
  va_start(ap, option);
  READ_OPT_ARG(ap, kind, arg);
  va_end(ap);
  return CALL_WITH_OPT_ARG(fn_, m, option, kind, arg);
}

/* Every CURLINFO takes one pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...) {
  LAZYLIB_TARGET(curl_lib, curl_easy_getinfo);
  va_list ap;
  va_start(ap, info);
  void *where = va_arg(ap, void *);
  va_end(ap);
  return fn_(curl, info, where);
}
