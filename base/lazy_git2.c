/*
 * lazy_git2: the libgit2 functions Portico calls, loaded on first use (see lazylib.h for
 * why). The prototypes are libgit2's own (its header is included, so a mismatch does not
 * compile); the library is the one the headers belong to (LIBGIT2_SOVERSION).
 */
#include <git2.h>

#include "lazylib.h"

static lazylib git2_lib = LAZYLIB_INIT("libgit2.so." LIBGIT2_SOVERSION);

#define GIT_FN(ret, name, params, args) LAZYLIB_FN(git2_lib, ret, name, params, args)
#define GIT_VOID(name, params, args) LAZYLIB_VOID(git2_lib, name, params, args)

GIT_FN(int, git_libgit2_init, (void), ())
GIT_FN(const git_error *, git_error_last, (void), ())
GIT_FN(int, git_repository_init, (git_repository * *out, const char *path, unsigned is_bare),
       (out, path, is_bare))
GIT_FN(int, git_repository_open_ext,
       (git_repository * *out, const char *path, unsigned int flags, const char *ceiling_dirs),
       (out, path, flags, ceiling_dirs))
GIT_VOID(git_repository_free, (git_repository * repo), (repo))
GIT_FN(int, git_remote_create_anonymous, (git_remote * *out, git_repository *repo, const char *url),
       (out, repo, url))
GIT_FN(int, git_remote_fetch,
       (git_remote * remote, const git_strarray *refspecs, const git_fetch_options *opts,
        const char *reflog_message),
       (remote, refspecs, opts, reflog_message))
GIT_VOID(git_remote_free, (git_remote * remote), (remote))
GIT_FN(int, git_reference_lookup, (git_reference * *out, git_repository *repo, const char *name),
       (out, repo, name))
GIT_FN(int, git_reference_name_to_id, (git_oid * out, git_repository *repo, const char *name),
       (out, repo, name))
GIT_FN(const char *, git_reference_symbolic_target, (const git_reference *ref), (ref))
GIT_FN(git_reference_t, git_reference_type, (const git_reference *ref), (ref))
GIT_VOID(git_reference_free, (git_reference * ref), (ref))
GIT_FN(int, git_oid_fromstr, (git_oid * out, const char *str), (out, str))
GIT_FN(int, git_oid_fromstrn, (git_oid * out, const char *str, size_t length), (out, str, length))
GIT_FN(char *, git_oid_tostr, (char *out, size_t n, const git_oid *id), (out, n, id))
GIT_FN(int, git_oid_cpy, (git_oid * out, const git_oid *src), (out, src))
GIT_FN(int, git_object_lookup,
       (git_object * *object, git_repository *repo, const git_oid *id, git_object_t type),
       (object, repo, id, type))
GIT_FN(int, git_object_lookup_prefix,
       (git_object * *object_out, git_repository *repo, const git_oid *id, size_t len,
        git_object_t type),
       (object_out, repo, id, len, type))
GIT_FN(int, git_object_peel,
       (git_object * *peeled, const git_object *object, git_object_t target_type),
       (peeled, object, target_type))
GIT_FN(const git_oid *, git_object_id, (const git_object *obj), (obj))
GIT_VOID(git_object_free, (git_object * object), (object))
GIT_FN(int, git_commit_lookup, (git_commit * *commit, git_repository *repo, const git_oid *id),
       (commit, repo, id))
GIT_FN(int, git_commit_tree, (git_tree * *tree_out, const git_commit *commit), (tree_out, commit))
GIT_VOID(git_commit_free, (git_commit * commit), (commit))
GIT_FN(int, git_tree_lookup, (git_tree * *out, git_repository *repo, const git_oid *id),
       (out, repo, id))
GIT_FN(size_t, git_tree_entrycount, (const git_tree *tree), (tree))
GIT_FN(const git_tree_entry *, git_tree_entry_byindex, (const git_tree *tree, size_t idx),
       (tree, idx))
GIT_FN(int, git_tree_entry_bypath, (git_tree_entry * *out, const git_tree *root, const char *path),
       (out, root, path))
GIT_FN(const char *, git_tree_entry_name, (const git_tree_entry *entry), (entry))
GIT_FN(const git_oid *, git_tree_entry_id, (const git_tree_entry *entry), (entry))
GIT_FN(git_object_t, git_tree_entry_type, (const git_tree_entry *entry), (entry))
GIT_FN(git_filemode_t, git_tree_entry_filemode, (const git_tree_entry *entry), (entry))
GIT_VOID(git_tree_entry_free, (git_tree_entry * entry), (entry))
GIT_VOID(git_tree_free, (git_tree * tree), (tree))
GIT_FN(int, git_blob_lookup, (git_blob * *blob, git_repository *repo, const git_oid *id),
       (blob, repo, id))
GIT_FN(const void *, git_blob_rawcontent, (const git_blob *blob), (blob))
GIT_FN(git_object_size_t, git_blob_rawsize, (const git_blob *blob), (blob))
GIT_VOID(git_blob_free, (git_blob * blob), (blob))
