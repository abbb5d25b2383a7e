/*
 * mem: heap memory made ready in bulk, for short-lived commands.
 *
 * A page of fresh heap costs a page fault the first time it is written (here, in a VM,
 * about 3 us each: a third of the main thread's time in `portico fn render` of a small
 * package went to faults). mem_prefault_heap does that work up front in one system call
 * (MADV_POPULATE_WRITE: the kernel allocates and zeroes the pages in a loop, without a
 * trap per page) on a block it then frees back to malloc, which hands the same pages out
 * again. For that, glibc must keep freed memory: the call raises its mmap and trim
 * thresholds for the rest of the process, which suits a command that exits soon, not a
 * long-running server (which never calls it).
 */
#ifndef PORTICO_BASE_MEM_H
#define PORTICO_BASE_MEM_H

#include <stddef.h>

#define MEM_PREFAULT_MAX ((size_t)64 << 20)

/* Makes about `bytes` (at most MEM_PREFAULT_MAX) of the next heap allocations fault-free.
 * Best effort: nothing happens when the memory cannot be had or the kernel lacks
 * MADV_POPULATE_WRITE (before 5.14). Call it after forking children that should not share
 * these pages (a fork marks every page copy-on-write). */
void mem_prefault_heap(size_t bytes);

#endif
