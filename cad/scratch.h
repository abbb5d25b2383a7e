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

/* Replaces `path` (unlinking what was there: never writing through an existing inode, so
 * a hard link made by scratch_link is never modified) with `data`. ERR_IO on failure. */
int scratch_write(const char *path, const void *data, size_t len, mode_t mode);

/* Makes `dst` a hard link to `src` (a cheap copy into a scratch tree; every later write
 * there goes through scratch_write or a rename, which break the link). ERR_IO when the
 * file system refuses (the caller copies instead). */
int scratch_link(const char *src, const char *dst);

#endif
