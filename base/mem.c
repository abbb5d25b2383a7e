/* mem: see mem.h. */
#include "mem.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void mem_prefault_heap(size_t bytes) {
  if (bytes > MEM_PREFAULT_MAX)
    bytes = MEM_PREFAULT_MAX;
  long page = sysconf(_SC_PAGESIZE);
  if (bytes < (size_t)page * 4 || page <= 0)
    return;
  /* From the heap, not mmap, and kept there once freed. */
  mallopt(M_MMAP_THRESHOLD, (int)(MEM_PREFAULT_MAX / 2));
  mallopt(M_TRIM_THRESHOLD, (int)MEM_PREFAULT_MAX);
  char *block = malloc(bytes);
  if (!block)
    return;
  uintptr_t mask = (uintptr_t)page - 1;
  uintptr_t start = ((uintptr_t)block + mask) & ~mask;
  uintptr_t end = ((uintptr_t)block + bytes) & ~mask;
  if (end > start)
    (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
  free(block);
}
