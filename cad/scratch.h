/*
 * scratch: writing files inside a private temporary tree (the directories pkg and fn
 * sink build before moving them into place with one rename). Such a tree is invisible
 * until it is moved, so its files need neither a temporary name nor an fsync each: a
 * plain create-write-close, with the same bounded, error-reporting contract as
 * fs_write_atomic. Never use it on a file someone else can see.
 */
#ifndef PORTICO_CAD_SCRATCH_H
#define PORTICO_CAD_SCRATCH_H

#include <stddef.h>
#include <sys/types.h>

/* Creates or truncates `path` with `data`. ERR_IO with the path on failure. */
int scratch_write(const char *path, const void *data, size_t len, mode_t mode);

#endif
