/*
 * lazylib: shared libraries that Portico loads on first use instead of at start.
 *
 * libcurl and libgit2 pull in some thirty other libraries (GnuTLS, Kerberos, LDAP, SASL,
 * nettle, ...). Linked normally, the dynamic loader maps and relocates all of them before
 * main() on every start of bin/portico: about 10 ms here, while most commands (`portico
 * fn ...`, `portico pkg ...` on local directories, the tests' many short runs) never call
 * either library. They are therefore not linked; base/lazy_curl.c and base/lazy_git2.c
 * define each function Portico uses with its real prototype (the library's own header
 * checks it) and forward the call to the library, which lazylib_sym dlopens once, on the
 * first call of any of its functions.
 *
 * Invariants: thread-safe (a library loads under a lock; each forwarder caches its target
 * in an atomic pointer); a library is never unloaded. A library or symbol that cannot be found is
 * an installation error, as a missing DT_NEEDED library would be at start: the message
 * names it on stderr and the process aborts. Adding a new libcurl/libgit2 function to the
 * code means adding one LAZYLIB_FN line to the matching lazy_*.c file (the link fails with
 * "undefined reference" until then).
 */
#ifndef PORTICO_BASE_LAZYLIB_H
#define PORTICO_BASE_LAZYLIB_H

#include <stdatomic.h>

typedef struct lazylib {
  const char *soname; /* "libcurl.so.4" */
  void *handle;       /* set by the first lazylib_sym, under lazylib.c's lock */
} lazylib;

#define LAZYLIB_INIT(soname) {(soname), NULL}

/* The address of `name` in `lib`, loading the library on first use. Never NULL: aborts
 * with a message when the library or the symbol is missing. */
void *lazylib_sym(lazylib *lib, const char *name);

/* Did any call load `lib` yet? (For tests and diagnostics.) */
int lazylib_loaded(lazylib *lib);

/* LAZYLIB_TARGET declares fn_, the library's own `name` (same type as the declaration the
 * library's header gives). LAZYLIB_FN defines `ret name params` forwarding to the library's own `name`; `args` are the
 * parameter names in parentheses. LAZYLIB_VOID for functions returning void. */
#define LAZYLIB_TARGET(lib, name)                                                            \
  static void *_Atomic cache_;                                                               \
  void *p_ = atomic_load_explicit(&cache_, memory_order_acquire);                            \
  if (!p_) {                                                                                 \
    p_ = lazylib_sym(&(lib), #name);                                                         \
    atomic_store_explicit(&cache_, p_, memory_order_release);                                \
  }                                                                                          \
  __typeof__(&name) fn_ = (__typeof__(&name))p_
#define LAZYLIB_FN(lib, ret, name, params, args)                                             \
  ret name params {                                                                          \
    LAZYLIB_TARGET(lib, name);                                                               \
    return fn_ args;                                                                         \
  }
#define LAZYLIB_VOID(lib, name, params, args)                                                \
  void name params {                                                                         \
    LAZYLIB_TARGET(lib, name);                                                               \
    fn_ args;                                                                                \
  }

#endif
