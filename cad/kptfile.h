/*
 * kptfile: the package's Kptfile (apiVersion kpt.dev/v1, kind Kptfile), read, validated
 * and written through cad/yaml so that its comments and layout survive (kpt rewrites the
 * Kptfile from a Go struct and drops comments; Portico keeps them: a deliberate
 * difference).
 *
 * Validation follows kpt's strict decoding: every field must be one kpt knows (metadata,
 * upstream, upstreamLock, info, pipeline, inventory, status and their sub-fields), of the
 * right shape; apiVersion must be kpt.dev/v1 and kind Kptfile; upstream.type git (with a
 * repo) or oci; updateStrategy one of resource-merge, fast-forward, force-delete-replace,
 * copy-merge; each pipeline function has exactly one of image and exec, and at most one of
 * configPath and configMap. Errors are ERR_INVALID "<file>:<line>:<col>: <problem>".
 *
 * New fields are inserted where kpt's struct puts them (apiVersion, kind, metadata,
 * upstream, upstreamLock, info, pipeline, inventory, status), so a Kptfile in kpt's layout
 * comes out byte-identical with what kpt writes.
 */
#ifndef PORTICO_CAD_KPTFILE_H
#define PORTICO_CAD_KPTFILE_H

#include "cad/yaml.h"

#include <stdbool.h>

#define KPTFILE_NAME "Kptfile"
#define KPTFILE_API_VERSION "kpt.dev/v1"
#define KPTFILE_KIND "Kptfile"

typedef struct kptfile {
  yml_file *yaml; /* owned; one document */
  yml_node *root; /* borrowed from yaml: the Kptfile map */
} kptfile;

/* Git coordinates of upstream / upstreamLock. Borrowed or caller-owned strings. */
typedef struct kptfile_git {
  const char *repo;
  const char *directory;
  const char *ref;
  const char *commit; /* lock only */
} kptfile_git;

/* Parses and validates. `name` appears in messages. Caller frees with kptfile_free. */
int kptfile_parse(kptfile **out, const char *name, const char *text, size_t len);

/* Reads DIR/Kptfile. ERR_NOTFOUND when there is none. */
int kptfile_read(kptfile **out, const char *dir);

/* Validates a parsed Kptfile document (see the design note). */
int kptfile_validate(const yml_node *root, const char *name);

void kptfile_free(kptfile *k);

/* A new Kptfile as `kpt pkg init` writes it: metadata.name, the local-config annotation,
 * info (site, description, keywords; NULL/empty ones left out). */
int kptfile_new_init(kptfile **out, const char *name, const char *description,
                     const char **keywords, size_t nkeywords, const char *site);

/* A minimal Kptfile (apiVersion, kind, metadata.name), as `kpt pkg get` makes when the
 * upstream has none. */
int kptfile_new_minimal(kptfile **out, const char *name);

/* Sets metadata.name. */
int kptfile_set_name(kptfile *k, const char *name);

/* Sets upstream (type git, git.repo/directory/ref, updateStrategy) in kpt's place. */
int kptfile_set_upstream(kptfile *k, const kptfile_git *git, const char *strategy);

/* Sets upstreamLock (type git, git.repo/directory/ref/commit). */
int kptfile_set_upstream_lock(kptfile *k, const kptfile_git *git);

/* Reads upstream / upstreamLock; strings borrowed from the Kptfile (NULL when absent).
 * ERR_NOTFOUND when the section is missing. */
int kptfile_upstream(const kptfile *k, kptfile_git *git, const char **strategy);
int kptfile_upstream_lock(const kptfile *k, kptfile_git *git);

/* Serialises. */
int kptfile_write_buf(const kptfile *k, buf *out);

/* Writes DIR/Kptfile atomically. */
int kptfile_write(const kptfile *k, const char *dir);

/* Writes DIR/Kptfile inside a private scratch tree (see cad/scratch.h: no temporary name,
 * no fsync; the tree is moved into place as a whole). */
int kptfile_write_scratch(const kptfile *k, const char *dir);

/* Is `s` a valid update strategy name? */
bool kptfile_strategy_valid(const char *s);

#endif
