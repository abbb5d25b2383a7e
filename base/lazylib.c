/* lazylib: see lazylib.h. */
#include "lazylib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

void *lazylib_sym(lazylib *lib, const char *name) {
  pthread_mutex_lock(&load_lock);
  /* RTLD_NOW: a broken installation shows at the first call, not at some later one. */
  if (!lib->handle && !(lib->handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL))) {
    fprintf(stderr, "portico: cannot load %s: %s\n", lib->soname, dlerror());
    abort();
  }
  void *handle = lib->handle;
  pthread_mutex_unlock(&load_lock);
  void *p = dlsym(handle, name);
  if (!p) {
    fprintf(stderr, "portico: %s has no function %s: %s\n", lib->soname, name, dlerror());
    abort();
  }
  return p;
}

int lazylib_loaded(lazylib *lib) {
  pthread_mutex_lock(&load_lock);
  int loaded = lib->handle != NULL;
  pthread_mutex_unlock(&load_lock);
  return loaded;
}
