/*
 * gitfetch: read one directory of one revision of a Git repository into a local
 * directory, through libgit2, the way `kpt pkg get` reads an upstream.
 *
 * Local repositories (file:// URLs and plain paths) are opened in place, without a
 * copy. Other URLs are fetched into a temporary bare repository that is removed
 * afterwards. A ref is resolved like kpt does: a tag, then a branch, then a commit id
 * (full or abbreviated). Exported files keep their executable bit; symbolic links are
 * left out, as `kpt pkg get` leaves them out, when they stay inside the exported directory
 * (one pointing outside is refused, ERR_INVALID); submodules are skipped.
 *
 * kpt's argument syntax "REPO.git/DIR@REF" is parsed by gitfetch_parse_spec.
 */
#ifndef PORTICO_CAD_GITFETCH_H
#define PORTICO_CAD_GITFETCH_H

#include <stdbool.h>
#include <stddef.h>

#define GITFETCH_MAX_FILES 50000
#define GITFETCH_MAX_BYTES ((size_t)512 << 20)

/* A parsed "REPO.git/DIR@REF". All strings owned; free with gitfetch_spec_free. */
typedef struct gitfetch_spec {
  char *repo;      /* as kpt records it: without the ".git" suffix */
  char *directory; /* "/" or "/sub/dir" */
  char *ref;       /* NULL when the argument had no @REF */
} gitfetch_spec;

/* Parses kpt's package argument. ERR_INVALID with kpt's message when the repository part
 * cannot be told from the directory (no ".git" in a URL). */
int gitfetch_parse_spec(const char *arg, gitfetch_spec *out);
void gitfetch_spec_free(gitfetch_spec *s);

/* Starts libgit2's initialisation on a thread, so that it overlaps the caller's work
 * before its first gitfetch_open (which waits for it). Optional; a thread that cannot be
 * created just leaves the initialisation to gitfetch_open. */
void gitfetch_warm_up(void);

/* Waits for a gitfetch_warm_up thread (call before returning from the operation that
 * started it, so no thread outlives it). */
void gitfetch_settle(void);

/* An open repository (local or fetched). */
typedef struct gitfetch_repo gitfetch_repo;

/* Opens `repo_url` (fetching it when remote). Caller closes with gitfetch_close.
 * ERR_NOTFOUND when the repository cannot be opened or fetched. */
int gitfetch_open(gitfetch_repo **out, const char *repo_url);
void gitfetch_close(gitfetch_repo *r);

/* Resolves `ref` to a commit id (40 hex digits + NUL into commit_out). ERR_NOTFOUND with
 * a message naming the ref when it does not exist. */
int gitfetch_resolve(gitfetch_repo *r, const char *ref, char commit_out[41]);

/* The repository's default branch name (HEAD's target, "main" when unknown). Caller frees. */
char *gitfetch_default_branch(gitfetch_repo *r);

/* Writes the tree of `commit` at `directory` ("/" for the root) into `dest` (created; must
 * not exist or be empty). ERR_NOTFOUND when the directory does not exist at that commit. */
int gitfetch_export(gitfetch_repo *r, const char *commit, const char *directory, const char *dest);

/* Visitor of gitfetch_export_visit, called for each regular file (in tree order, `rel`
 * relative to the exported directory) with the blob's bytes (borrowed for the call).
 * Returns 1 when it took the file (not written to disk), 0 to have it written, or a
 * negative ERR_* to stop the export with that error. */
typedef int (*gitfetch_visit_fn)(void *ctx, const char *rel, const void *data, size_t len,
                                 bool executable);

/* gitfetch_export, offering each regular file to `fn` first (so a caller can keep files in
 * memory instead of writing and reading them back). Directories are created as
 * gitfetch_export creates them. Same errors as gitfetch_export, plus the visitor's. */
int gitfetch_export_visit(gitfetch_repo *r, const char *commit, const char *directory,
                          const char *dest, gitfetch_visit_fn fn, void *ctx);

#endif
