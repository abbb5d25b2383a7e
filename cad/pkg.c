/* pkg: see pkg.h. */
#include "cad/pkg.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/proc.h"
#include "base/str.h"
#include "cad/gitfetch.h"
#include "cad/kptfile.h"
#include "cad/krm.h"
#include "cad/scratch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PKG_MAX_TREE_FILES 50000
#define PKG_MAX_FILE ((size_t)64 << 20)

/* ---- file system helpers ------------------------------------------------------------- */

/* A fresh temporary directory next to `target` (same file system, so rename works).
 * Caller frees the path. */
static int sibling_tmpdir(const char *target, const char *tag, char **out) {
  char *copy = str_dup(target);
  if (!copy)
    return ERR_NOMEM;
  char *parent = dirname(copy);
  char *tmpl = str_printf("%s/.portico-%s-XXXXXX", parent, tag);
  free(copy);
  if (!tmpl)
    return ERR_NOMEM;
  if (!mkdtemp(tmpl)) {
    int rc = error_set_errno(ERR_IO, "cannot create a temporary directory in %s", tmpl);
    free(tmpl);
    return rc;
  }
  *out = tmpl;
  return 0;
}

static char *base_name(const char *path) {
  char *copy = str_dup(path);
  if (!copy)
    return NULL;
  size_t n = strlen(copy);
  while (n > 1 && copy[n - 1] == '/')
    copy[--n] = 0;
  char *b = str_dup(basename(copy));
  free(copy);
  return b;
}

static int copy_file(const char *src, const char *dst, mode_t mode) {
  buf b = BUF_INIT;
  int rc = fs_read_file(src, PKG_MAX_FILE, &b);
  if (!rc) /* every copy lands in a scratch tree of ours */
    rc = scratch_write(dst, b.data ? b.data : "", b.len, mode);
  buf_free(&b);
  return rc;
}

/* cp -a of a package tree, without .git. */
/* Makes room for a file at `path`: removes a file or link there; ERR_CONFLICT for a
 * directory. */
static int remove_for_overwrite(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return 0;
  if (S_ISDIR(st.st_mode))
    return error_set(ERR_CONFLICT, "%s is a directory locally and a file upstream", path);
  if (unlink(path) != 0)
    return error_set_errno(ERR_IO, "cannot remove %s", path);
  return 0;
}

/* Copies the tree `src` into `dst` (".git" skipped). With `overwrite`, files and links
 * already in `dst` are replaced (a directory there where `src` has a file is ERR_CONFLICT)
 * except `dst`'s own root Kptfile, which stays (kpt's CopyPackage); otherwise an existing
 * entry is an error. `count` bounds the number of entries (PKG_MAX_TREE_FILES). */
static int copy_tree_mode(const char *src, const char *dst, int depth, size_t *count, bool overwrite);

static int copy_tree(const char *src, const char *dst, int depth, size_t *count) {
  return copy_tree_mode(src, dst, depth, count, false);
}

static int copy_tree_mode(const char *src, const char *dst, int depth, size_t *count, bool overwrite) {
  if (depth > 64)
    return error_set(ERR_LIMIT, "%s: nested deeper than 64 directories", src);
  if (fs_mkdir_p(dst, 0755))
    return error_code();
  DIR *d = opendir(src);
  if (!d)
    return error_set_errno(ERR_IO, "cannot read %s", src);
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
      continue;
    if (++*count > PKG_MAX_TREE_FILES) {
      rc = error_set(ERR_LIMIT, "more than %d files", PKG_MAX_TREE_FILES);
      break;
    }
    char *s = fs_join(src, de->d_name), *t = fs_join(dst, de->d_name);
    struct stat st;
    if (!s || !t)
      rc = ERR_NOMEM;
    else if (lstat(s, &st) != 0)
      rc = error_set_errno(ERR_IO, "cannot stat %s", s);
    else if (S_ISDIR(st.st_mode))
      rc = copy_tree_mode(s, t, depth + 1, count, overwrite);
    else if (overwrite && depth == 0 && !strcmp(de->d_name, KPTFILE_NAME) && fs_exists(t))
      ; /* the local root Kptfile stays (merged by the caller) */
    else if (overwrite && (rc = remove_for_overwrite(t)))
      ;
    else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(s, target, sizeof(target) - 1);
      if (n < 0)
        rc = error_set_errno(ERR_IO, "cannot read link %s", s);
      else {
        target[n] = 0;
        if (symlink(target, t) != 0)
          rc = error_set_errno(ERR_IO, "cannot create link %s", t);
      }
    } else if (S_ISREG(st.st_mode)) {
      /* a hard link when possible: the scratch tree never writes through it */
      if (scratch_link(s, t) != 0) {
        error_clear();
        rc = copy_file(s, t, st.st_mode & 0777);
      }
    }
    free(s);
    free(t);
  }
  closedir(d);
  return rc;
}

/* Moves `tmp` to `target`, replacing an existing `target` (kept aside until the move
 * succeeded, then removed). */
static int swap_into_place(const char *tmp, const char *target) {
  if (!fs_exists(target)) {
    if (rename(tmp, target) != 0)
      return error_set_errno(ERR_IO, "cannot move %s to %s", tmp, target);
    return 0;
  }
  char *old = str_printf("%s.portico-old-%ld", tmp, (long)getpid());
  if (!old)
    return ERR_NOMEM;
  int rc = 0;
  if (rename(target, old) != 0)
    rc = error_set_errno(ERR_IO, "cannot move %s aside", target);
  else if (rename(tmp, target) != 0) {
    rc = error_set_errno(ERR_IO, "cannot move %s to %s", tmp, target);
    rename(old, target); /* put the package back */
  } else {
    fs_remove_tree(old);
  }
  free(old);
  return rc;
}

/* ---- kpt-merge comments -------------------------------------------------------------- */

static bool has_merge_comment(const yml_node *res) {
  char *c = yml_node_line_comment(yml_map_get(res, "metadata"));
  bool yes = c && str_has_prefix(c, PKG_MERGE_COMMENT_PREFIX);
  free(c);
  return yes;
}

static int add_merge_comment(yml_node *res) {
  yml_node *md = yml_map_get(res, "metadata");
  if (!md || yml_node_kind(md) != YML_MAP || !yml_lookup_str(res, "kind", NULL) ||
      !yml_lookup_str(md, "name", NULL))
    return 0; /* not a resource kpt would track */
  if (has_merge_comment(res))
    return 0;
  krm_id id;
  int rc = krm_id_of(res, &id);
  if (rc)
    return rc;
  char *comment = krm_id_merge_comment(&id);
  char *upid = krm_id_upstream_string(&id);
  krm_id_free(&id);
  if (!comment || !upid)
    rc = ERR_NOMEM;
  if (!rc) {
    /* kpt puts the comment on the metadata key; when metadata is a flow map, yaml.v3
     * writes it after the next field's key instead (when that field is a block map or
     * list), and kpt then no longer finds it. Portico writes the same bytes. */
    yml_node *target = md;
    if (yml_node_style(md) == YML_FLOW) {
      long mi = yml_map_index(res, "metadata");
      yml_node *next = mi >= 0 ? yml_map_value_at(res, (size_t)mi + 1) : NULL;
      target = next && yml_node_kind(next) != YML_SCALAR && yml_node_style(next) != YML_FLOW &&
                       yml_node_size(next) > 0
                   ? next
                   : NULL;
    }
    char *text = target ? str_printf("%s %s", PKG_MERGE_COMMENT_PREFIX, comment) : NULL;
    if (target)
      rc = text ? yml_node_set_line_comment(target, text) : ERR_NOMEM;
    free(text);
  }
  if (!rc)
    rc = krm_set_annotation(res, KRM_ANN_UPSTREAM_ID, upid);
  free(comment);
  free(upid);
  return rc;
}

static int pkg_comments_in_memory(krm_pkg *p) {
  for (size_t i = 0; i < p->nfiles; i++) {
    krm_file *f = &p->files[i];
    const char *base = strrchr(f->path, '/');
    base = base ? base + 1 : f->path;
    if (!strcmp(base, KPTFILE_NAME))
      continue;
    for (size_t d = 0; d < yml_file_doc_count(f->yaml); d++) {
      yml_node *doc = yml_file_doc(f->yaml, d);
      if (doc && yml_node_kind(doc) == YML_MAP) {
        int rc = add_merge_comment(doc);
        if (rc)
          return error_prefix("%s", f->path);
      }
    }
  }
  return 0;
}

int pkg_add_merge_comments(const char *dir) {
  krm_pkg *p = NULL;
  int rc = krm_pkg_read(&p, dir, KRM_READ_SUBPACKAGES | KRM_READ_NO_KPTFILE);
  if (rc)
    return rc;
  rc = pkg_comments_in_memory(p);
  if (!rc)
    rc = krm_pkg_write_scratch(p, dir);
  krm_pkg_free(p);
  return rc;
}

/* ---- init ---------------------------------------------------------------------------- */

static const char PACKAGE_CONTEXT[] = "apiVersion: v1\n"
                                      "kind: ConfigMap\n"
                                      "metadata:\n"
                                      "  name: kptfile.kpt.dev\n"
                                      "  annotations:\n"
                                      "    config.kubernetes.io/local-config: \"true\"\n"
                                      "data:\n"
                                      "  name: example\n";

static char *readme_text(const char *name, const char *description) {
  return str_printf("# %s\n\n## Description\n%s\n\n## Usage\n\n### Fetch the package\n"
                    "`kpt pkg get REPO_URI[.git]/PKG_PATH[@VERSION] %s`\n"
                    "Details: https://kpt.dev/reference/cli/pkg/get/\n\n"
                    "### View package content\n`kpt pkg tree %s`\n"
                    "Details: https://kpt.dev/reference/cli/pkg/tree/\n\n"
                    "### Apply the package\n```\nkpt live init %s\n"
                    "kpt live apply %s --reconcile-timeout=2m --output=table\n```\n"
                    "Details: https://kpt.dev/reference/cli/live/\n",
                    name, description, name, name, name, name);
}

static int write_new(const char *dir, const char *file, const char *shown_dir, const char *text,
                     FILE *log) {
  char *path = fs_join(dir, file);
  if (!path)
    return ERR_NOMEM;
  int rc = 0;
  if (!fs_exists(path)) {
    if (log) {
      if (shown_dir && *shown_dir && strcmp(shown_dir, "."))
        fprintf(log, "writing %s/%s\n", shown_dir, file);
      else
        fprintf(log, "writing %s\n", file);
    }
    rc = fs_write_atomic(path, text, strlen(text), 0644);
  }
  free(path);
  return rc;
}

int pkg_init(const char *dir, const pkg_init_opts *o, FILE *log) {
  char real[PATH_MAX];
  if (!realpath(dir, real) || !fs_is_dir(real)) {
    char abs[PATH_MAX];
    const char *shown = dir;
    if (dir[0] != '/' && getcwd(abs, sizeof(abs))) {
      size_t n = strlen(abs);
      snprintf(abs + n, sizeof(abs) - n, "/%s", dir);
      shown = abs;
    }
    return error_set(ERR_NOTFOUND, "%s does not exist", shown);
  }
  char *name = base_name(real);
  const char *desc = o && o->description ? o->description : "sample description";
  kptfile *k = NULL;
  int rc = name ? 0 : ERR_NOMEM;
  char *kpath = rc ? NULL : fs_join(real, KPTFILE_NAME);
  if (!rc && kpath && !fs_exists(kpath)) {
    rc = kptfile_new_init(&k, name, desc, o ? o->keywords : NULL, o ? o->nkeywords : 0,
                          o ? o->site : NULL);
    buf text = BUF_INIT;
    if (!rc)
      rc = kptfile_write_buf(k, &text);
    if (!rc)
      rc = write_new(real, KPTFILE_NAME, dir, buf_cstr(&text), log);
    buf_free(&text);
  }
  free(kpath);
  char *readme = rc ? NULL : readme_text(name, desc);
  if (!rc)
    rc = readme ? write_new(real, "README.md", dir, readme, log) : ERR_NOMEM;
  if (!rc)
    rc = write_new(real, "package-context.yaml", dir, PACKAGE_CONTEXT, log);
  free(readme);
  kptfile_free(k);
  free(name);
  return rc;
}

/* ---- get ----------------------------------------------------------------------------- */

/* Sets name, upstream and upstreamLock in the package's root Kptfile (creating it). */
static int write_root_kptfile(const char *dir, const char *name, const kptfile_git *up,
                              const char *commit, const char *strategy) {
  kptfile *k = NULL;
  int rc = kptfile_read(&k, dir);
  if (rc == ERR_NOTFOUND)
    rc = kptfile_new_minimal(&k, name);
  if (rc)
    return rc;
  rc = kptfile_set_name(k, name);
  if (!rc)
    rc = kptfile_set_upstream(k, up, strategy);
  kptfile_git lock = *up;
  lock.commit = commit;
  if (!rc)
    rc = kptfile_set_upstream_lock(k, &lock);
  if (!rc)
    rc = kptfile_write_scratch(k, dir);
  kptfile_free(k);
  return rc;
}

/* A YAML blob kept from the export, processed after it. */
typedef struct fetch_blob {
  char *rel;
  char *data;
  size_t len;
  bool exec;
} fetch_blob;

typedef struct fetch_mem {
  fetch_blob *v;
  size_t n, cap, bytes;
  bool fallback; /* something only the on-disk path handles exactly */
} fetch_mem;

/* gitfetch visitor: keeps the YAML files but Kptfiles (hidden ones too, as kpt) in memory,
 * so they are parsed, given their merge comments and written once instead of written,
 * read back and written again. Over-deep or over-large files are left to the on-disk path
 * (fallback), which keeps its exact behaviour (and errors) for them. */
static int fetch_keep_yaml(void *ctx, const char *rel, const void *data, size_t len, bool executable) {
  fetch_mem *m = ctx;
  const char *base = strrchr(rel, '/');
  base = base ? base + 1 : rel;
  if (!krm_is_yaml_name(base) || !strcmp(base, KPTFILE_NAME))
    return 0;
  int depth = 0;
  for (const char *c = rel; *c; c++)
    depth += *c == '/';
  if (depth > 60 || len > KRM_MAX_FILE) {
    m->fallback = true;
    return 0;
  }
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    fetch_blob *v = realloc(m->v, cap * sizeof(*v));
    if (!v)
      return error_set(ERR_NOMEM, "out of memory");
    m->v = v;
    m->cap = cap;
  }
  fetch_blob *f = &m->v[m->n];
  f->rel = str_dup(rel);
  f->data = malloc(len ? len : 1);
  if (!f->rel || !f->data) {
    free(f->rel);
    free(f->data);
    return error_set(ERR_NOMEM, "out of memory");
  }
  memcpy(f->data, data, len);
  f->len = len;
  f->exec = executable; /* kpt keeps the mode of the files it adds merge comments to */
  m->n++;
  m->bytes += len;
  return 1;
}

/* One share of the kept files: parsed, merge comments added, written under `dest`. */
typedef struct fetch_share {
  const fetch_blob *v;
  size_t from, to;
  const char *dest;
  bool comments; /* false: write them back as they came (the fallback) */
  int rc;
  char msg[2048]; /* the error, copied out of the thread that had it (base/error.c keeps 2048) */
} fetch_share;

static int fetch_share_run(fetch_share *sh) {
  krm_pkg *p = krm_pkg_new();
  int rc = p ? 0 : ERR_NOMEM;
  for (size_t i = sh->from; i < sh->to && !rc; i++)
    rc = krm_pkg_add_text(p, sh->v[i].rel, sh->v[i].data, sh->v[i].len);
  if (!rc && sh->comments)
    rc = pkg_comments_in_memory(p);
  if (!rc)
    rc = krm_pkg_write_scratch(p, sh->dest);
  for (size_t i = sh->from; i < sh->to && !rc; i++) {
    if (!sh->v[i].exec)
      continue;
    char *full = fs_join(sh->dest, sh->v[i].rel);
    if (!full || chmod(full, 0755) != 0)
      rc = full ? error_set_errno(ERR_IO, "cannot chmod %s", full) : ERR_NOMEM;
    free(full);
  }
  krm_pkg_free(p);
  sh->rc = rc;
  if (rc)
    snprintf(sh->msg, sizeof(sh->msg), "%s", error_message());
  return rc;
}

static void *fetch_share_thread(void *arg) {
  fetch_share_run(arg);
  return NULL;
}

/* Below this much YAML one thread does it all (a thread costs more than it saves). */
#define FETCH_PARALLEL_BYTES (64 * 1024)

/* Processes the kept files in two shares of about equal bytes, the second on a thread
 * when there is enough YAML and a thread can be had. */
static int fetch_process(const fetch_mem *m, const char *dest, bool comments) {
  size_t cut = m->n, acc = 0;
  if (m->bytes >= FETCH_PARALLEL_BYTES)
    for (cut = 0; cut < m->n && acc < m->bytes / 2; cut++)
      acc += m->v[cut].len;
  fetch_share a = {m->v, 0, cut, dest, comments, 0, {0}};
  fetch_share b = {m->v, cut, m->n, dest, comments, 0, {0}};
  pthread_t t;
  bool threaded = cut < m->n && pthread_create(&t, NULL, fetch_share_thread, &b) == 0;
  fetch_share_run(&a);
  if (threaded)
    pthread_join(t, NULL);
  else if (cut < m->n)
    fetch_share_run(&b);
  if (a.rc || b.rc) /* the first share's error first, as one thread would report */
    return error_set(a.rc ? a.rc : b.rc, "%s", a.rc ? a.msg : b.msg);
  return 0;
}

/* Exports repo@commit:directory into `dest` with kpt's merge comments added. */
static int fetch_into(gitfetch_repo *repo, const char *commit, const char *directory, const char *dest) {
  fetch_mem m = {0};
  int rc = gitfetch_export_visit(repo, commit, directory, dest, fetch_keep_yaml, &m);
  if (!rc && m.fallback) {
    /* files krm_pkg_read treats specially: write the kept files as they came (an
     * untouched parse writes its input back byte for byte) and take the on-disk path */
    rc = fetch_process(&m, dest, false);
    if (!rc)
      rc = pkg_add_merge_comments(dest);
  } else if (!rc) {
    rc = fetch_process(&m, dest, true);
  }
  for (size_t i = 0; i < m.n; i++) {
    free(m.v[i].rel);
    free(m.v[i].data);
  }
  free(m.v);
  return rc;
}

/* See below (after the update code it shares). */
static int fetch_unfetched(const char *dir, const char *label, FILE *log, size_t *count);

int pkg_get(const char *arg, const char *dest, const char *strategy, FILE *log, char **created_out) {
  gitfetch_spec spec;
  int rc = gitfetch_parse_spec(arg, &spec);
  if (rc)
    return rc;
  if (strategy && !kptfile_strategy_valid(strategy)) {
    gitfetch_spec_free(&spec);
    return error_set(ERR_INVALID, "unknown update strategy \"%s\"", strategy);
  }
  gitfetch_repo *repo = NULL;
  char *target = NULL, *tmp = NULL, *name = NULL, *ref = NULL;
  char commit[41];
  /* where the package goes */
  const char *pkgdir = strcmp(spec.directory, "/") ? spec.directory : spec.repo;
  char *pkgname = base_name(pkgdir);
  if (!pkgname) {
    rc = ERR_NOMEM;
    goto done;
  }
  if (!dest)
    target = str_dup(pkgname);
  else if (fs_is_dir(dest))
    target = fs_join(dest, pkgname);
  else
    target = str_dup(dest);
  if (!target) {
    rc = ERR_NOMEM;
    goto done;
  }
  {
    size_t tl = strlen(target);
    while (tl > 1 && target[tl - 1] == '/')
      target[--tl] = 0;
  }
  if (fs_exists(target)) {
    rc = error_set(ERR_EXISTS, "destination directory %s already exists", target);
    goto done;
  }
  if ((rc = gitfetch_open(&repo, spec.repo)))
    goto done;
  ref = spec.ref ? str_dup(spec.ref) : gitfetch_default_branch(repo);
  if (!ref) {
    rc = ERR_NOMEM;
    goto done;
  }
  if ((rc = gitfetch_resolve(repo, ref, commit)))
    goto done;
  if (log)
    fprintf(log, "Package \"%s\":\nFetching %s@%s\n", pkgname, spec.repo, ref);
  if ((rc = sibling_tmpdir(target, "get", &tmp)))
    goto done;
  if ((rc = fetch_into(repo, commit, spec.directory, tmp)))
    goto done;
  name = base_name(target);
  if (!name) {
    rc = ERR_NOMEM;
    goto done;
  }
  kptfile_git up = {spec.repo, spec.directory, ref, NULL};
  if ((rc = write_root_kptfile(tmp, name, &up, commit, strategy ? strategy : "resource-merge")))
    goto done;
  size_t fetched = 1;
  if ((rc = fetch_unfetched(tmp, pkgname, log, &fetched)))
    goto done;
  if (rename(tmp, target) != 0) {
    rc = error_set_errno(ERR_IO, "cannot move the package to %s", target);
    goto done;
  }
  free(tmp);
  tmp = NULL;
  if (log)
    fprintf(log, "\nFetched %zu package(s).\n", fetched);
  if (created_out) {
    *created_out = target;
    target = NULL;
  }
done:
  if (tmp) {
    fs_remove_tree(tmp);
    free(tmp);
  }
  gitfetch_close(repo);
  gitfetch_spec_free(&spec);
  free(pkgname);
  free(target);
  free(name);
  free(ref);
  return rc;
}

/* ---- update: resources --------------------------------------------------------------- */

typedef struct res_ref {
  krm_file *file; /* owning file in its package */
  size_t doc;
  yml_node *node;
  char *key; /* group|kind|ns|name|path */
} res_ref;

typedef struct res_list {
  res_ref *items;
  size_t n, cap;
} res_list;

static void res_list_free(res_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i].key);
  free(l->items);
  memset(l, 0, sizeof(*l));
}

/* kpt's identity for merging: group, kind, namespace and name (from the kpt-merge comment
 * when there is one) and the file path. */
static char *merge_key(const yml_node *res, const char *path) {
  krm_id id;
  if (krm_id_of(res, &id))
    return NULL;
  const char *ns = id.namespace, *name = id.name;
  char *comment = yml_node_line_comment(yml_map_get(res, "metadata"));
  char *nsname = NULL;
  if (comment && str_has_prefix(comment, PKG_MERGE_COMMENT_PREFIX)) {
    const char *p = comment + strlen(PKG_MERGE_COMMENT_PREFIX);
    while (*p == ' ')
      p++;
    const char *slash = strchr(p, '/');
    if (slash) {
      nsname = str_dup(p);
      if (nsname) {
        nsname[slash - p] = 0;
        ns = nsname;
        name = nsname + (slash - p) + 1;
        size_t nl = strlen(name);
        while (nl && nsname[(slash - p) + nl] == ' ')
          nsname[(slash - p) + nl--] = 0;
      }
    }
  }
  char *key = str_printf("%s|%s|%s|%s|%s", id.group, id.kind, ns, name, path);
  free(nsname);
  free(comment);
  krm_id_free(&id);
  return key;
}

static int collect(krm_pkg *p, res_list *out) {
  for (size_t i = 0; i < p->nfiles; i++) {
    krm_file *f = &p->files[i];
    for (size_t d = 0; d < yml_file_doc_count(f->yaml); d++) {
      yml_node *doc = yml_file_doc(f->yaml, d);
      if (!doc || yml_node_kind(doc) != YML_MAP || !yml_lookup_str(doc, "kind", NULL))
        continue;
      if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        res_ref *n = realloc(out->items, cap * sizeof(*n));
        if (!n)
          return error_set(ERR_NOMEM, "out of memory");
        out->items = n;
        out->cap = cap;
      }
      res_ref *r = &out->items[out->n];
      r->file = f;
      r->doc = d;
      r->node = doc;
      r->key = merge_key(doc, f->path);
      if (!r->key)
        return ERR_NOMEM;
      out->n++;
    }
  }
  return 0;
}

static res_ref *find_res(res_list *l, const char *key) {
  for (size_t i = 0; i < l->n; i++)
    if (!strcmp(l->items[i].key, key))
      return &l->items[i];
  return NULL;
}

static bool same_text(const yml_node *a, const yml_node *b) {
  buf x = BUF_INIT, y = BUF_INIT;
  bool eq = yml_node_write(a, &x) == 0 && yml_node_write(b, &y) == 0 && x.len == y.len &&
            !memcmp(buf_cstr(&x), buf_cstr(&y), x.len);
  buf_free(&x);
  buf_free(&y);
  return eq;
}

typedef struct new_doc {
  krm_place at;   /* first member: sorted with krm_place_cmp */
  yml_node *node; /* owned until placed */
} new_doc;

/* Merges the resources of one package (no subpackages, no Kptfile): local is edited in
 * memory and written back into `ldir`. */
static int merge_resources(const char *ldir, const char *odir, const char *udir, merge_report *rep) {
  krm_pkg *lp = NULL, *op = NULL, *up = NULL;
  res_list L = {0}, O = {0}, U = {0};
  new_doc *adds = NULL;
  size_t nadds = 0;
  bool *drop = NULL;
  int rc = krm_pkg_read(&lp, ldir, KRM_READ_NO_KPTFILE);
  if (!rc && odir && fs_is_dir(odir))
    rc = krm_pkg_read(&op, odir, KRM_READ_NO_KPTFILE);
  if (!rc && udir && fs_is_dir(udir))
    rc = krm_pkg_read(&up, udir, KRM_READ_NO_KPTFILE);
  if (!rc)
    rc = collect(lp, &L);
  if (!rc && op)
    rc = collect(op, &O);
  if (!rc && up)
    rc = collect(up, &U);
  if (rc)
    goto done;
  drop = calloc(L.n ? L.n : 1, sizeof(*drop));
  adds = calloc(U.n ? U.n : 1, sizeof(*adds));
  if (!drop || !adds) {
    rc = error_set(ERR_NOMEM, "out of memory");
    goto done;
  }
  /* local resources: merge, keep or drop */
  for (size_t i = 0; i < L.n && !rc; i++) {
    res_ref *l = &L.items[i];
    res_ref *o = find_res(&O, l->key);
    res_ref *u = find_res(&U, l->key);
    if (!o && !u)
      continue; /* added locally */
    if (o && !u) {
      /* deleted upstream: only when unchanged locally */
      if (same_text(o->node, l->node))
        drop[i] = true;
      continue;
    }
    /* u present (o may be missing: added on both sides) */
    krm_id rid;
    char *resname = NULL;
    if (krm_id_of(l->node, &rid) == 0) {
      resname = krm_id_upstream_string(&rid);
      krm_id_free(&rid);
    }
    rc = resname ? merge_resource(l->node, o ? o->node : NULL, u->node, rep, l->file->path, resname)
                 : ERR_NOMEM;
    free(resname);
  }
  /* upstream additions (not in origin, not local) */
  for (size_t i = 0; i < U.n && !rc; i++) {
    res_ref *u = &U.items[i];
    if (find_res(&O, u->key) || find_res(&L, u->key))
      continue;
    new_doc *a = &adds[nadds];
    a->at.path = str_dup(u->file->path);
    a->at.index = (long)u->doc;
    a->at.order = nadds;
    a->node = yml_node_copy(u->node);
    if (!a->at.path || !a->node) {
      free(a->at.path);
      yml_node_free(a->node);
      rc = ERR_NOMEM;
      break;
    }
    char *head = yml_file_doc_head_comment(u->file->yaml, u->doc);
    if (head)
      yml_node_set_head_comment(a->node, head);
    free(head);
    nadds++;
  }
  if (rc)
    goto done;
  qsort(adds, nadds, sizeof(*adds), krm_place_cmp);
  /* apply drops, file by file, highest document first */
  for (size_t i = L.n; i > 0 && !rc; i--)
    if (drop[i - 1])
      rc = yml_file_remove_doc(L.items[i - 1].file->yaml, L.items[i - 1].doc);
  /* place additions: after the local documents whose original index is not larger */
  for (size_t i = 0; i < nadds && !rc; i++) {
    new_doc *a = &adds[i];
    krm_file *f = krm_pkg_file(lp, a->at.path);
    if (!f) {
      yml_file *nf = yml_file_new();
      if (!nf) {
        rc = ERR_NOMEM;
        break;
      }
      if ((rc = krm_pkg_put(lp, a->at.path, nf)))
        break;
      f = krm_pkg_file(lp, a->at.path);
    }
    /* position: count surviving local docs with index <= a->index, plus additions before */
    size_t pos = 0;
    for (size_t j = 0; j < L.n; j++)
      if (L.items[j].file == f && !drop[j] && (long)L.items[j].doc <= a->at.index)
        pos++;
    /* non-resource documents of the file count by their own position */
    for (size_t j = 0; j < i; j++)
      if (!strcmp(adds[j].at.path, a->at.path))
        pos++;
    rc = yml_file_insert_doc(f->yaml, pos, a->node);
    a->node = NULL;
  }
  if (rc)
    goto done;
  /* write: changed files; delete files left without documents */
  for (size_t i = 0; i < lp->nfiles && !rc; i++) {
    krm_file *f = &lp->files[i];
    if (yml_file_doc_count(f->yaml) == 0 && yml_file_touched(f->yaml)) {
      char *full = fs_join(ldir, f->path);
      if (!full || (unlink(full) != 0 && errno != ENOENT))
        rc = full ? error_set_errno(ERR_IO, "cannot remove %s", full) : ERR_NOMEM;
      free(full);
    }
  }
  for (size_t i = 0; i < lp->nfiles && !rc; i++) {
    krm_file *f = &lp->files[i];
    if (yml_file_doc_count(f->yaml) == 0)
      continue;
    krm_pkg one = {f, 1, 1};
    rc = krm_pkg_write_scratch(&one, ldir);
  }
done:
  for (size_t i = 0; adds && i < nadds; i++) {
    free(adds[i].at.path);
    yml_node_free(adds[i].node);
  }
  free(adds);
  free(drop);
  res_list_free(&L);
  res_list_free(&O);
  res_list_free(&U);
  krm_pkg_free(lp);
  krm_pkg_free(op);
  krm_pkg_free(up);
  return rc;
}

/* ---- update: other files ------------------------------------------------------------- */

typedef struct name_set {
  char **v;
  size_t n, cap;
} name_set;

static void name_set_free(name_set *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  memset(s, 0, sizeof(*s));
}

static bool name_set_has(const name_set *s, const char *x) {
  for (size_t i = 0; i < s->n; i++)
    if (!strcmp(s->v[i], x))
      return true;
  return false;
}

static int name_set_add(name_set *s, const char *x) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 16;
    char **v = realloc(s->v, cap * sizeof(*v));
    if (!v)
      return error_set(ERR_NOMEM, "out of memory");
    s->v = v;
    s->cap = cap;
  }
  if (!(s->v[s->n] = str_dup(x)))
    return ERR_NOMEM;
  s->n++;
  return 0;
}

static bool is_krm_name(const char *name) {
  return str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml") || !strcmp(name, KPTFILE_NAME);
}

/* A visitor of walk_tree: `rel` is the entry's path relative to the root, `full` its path
 * on disk. Returns a negative code to stop with that error, WALK_SKIP to not descend into a
 * directory, 0 otherwise. */
enum { WALK_SKIP = 1 };
typedef int (*walk_visit_fn)(void *ctx, const char *rel, const char *full, const char *name,
                             bool is_dir);

static int walk_dir(const char *root, const char *rel, walk_visit_fn visit, void *ctx, int depth) {
  if (depth > 64)
    return error_set(ERR_LIMIT, "nested deeper than 64 directories");
  char *dir = rel[0] ? fs_join(root, rel) : str_dup(root);
  if (!dir)
    return ERR_NOMEM;
  DIR *d = opendir(dir);
  if (!d) {
    free(dir);
    return 0;
  }
  int rc = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
      continue;
    char *r = rel[0] ? str_printf("%s/%s", rel, de->d_name) : str_dup(de->d_name);
    char *full = fs_join(dir, de->d_name);
    struct stat st;
    if (!r || !full)
      rc = ERR_NOMEM;
    else if (lstat(full, &st) != 0)
      rc = error_set_errno(ERR_IO, "cannot stat %s", full);
    else {
      bool is_dir = S_ISDIR(st.st_mode);
      rc = visit(ctx, r, full, de->d_name, is_dir);
      if (rc == WALK_SKIP)
        rc = 0;
      else if (!rc && is_dir)
        rc = walk_dir(root, r, visit, ctx, depth + 1);
    }
    free(r);
    free(full);
  }
  closedir(d);
  free(dir);
  return rc;
}

/* The one directory walk of the package code: depth first, a directory before what it
 * holds, ".git" skipped, symbolic links visited as files and never followed, at most 64
 * levels deep. */
static int walk_tree(const char *root, walk_visit_fn visit, void *ctx) {
  return walk_dir(root, "", visit, ctx, 0);
}

typedef struct tree_lists {
  name_set *files;
  name_set *dirs; /* may be NULL */
  bool package_only; /* stop at subpackages and list only non-KRM files */
} tree_lists;

static int collect_entry(void *ctx, const char *rel, const char *full, const char *name,
                         bool is_dir) {
  tree_lists *t = ctx;
  if (is_dir) {
    if (t->package_only) {
      char *kf = fs_join(full, KPTFILE_NAME);
      bool sub = kf && fs_exists(kf);
      free(kf);
      if (sub)
        return WALK_SKIP;
    }
    return t->dirs ? name_set_add(t->dirs, rel) : 0;
  }
  if (t->package_only && is_krm_name(name))
    return 0;
  return name_set_add(t->files, rel);
}

/* Lists every file below `root` into `files`, and every directory into `dirs` when it is
 * not NULL. */
static int list_tree(const char *root, name_set *files, name_set *dirs) {
  tree_lists t = {files, dirs, false};
  return walk_tree(root, collect_entry, &t);
}

/* Lists the non-KRM files (and directories) of a package, not descending into
 * subpackages. */
static int list_other_files(const char *root, name_set *files, name_set *dirs) {
  tree_lists t = {files, dirs, true};
  return walk_tree(root, collect_entry, &t);
}

static bool same_file(const char *a, const char *b) {
  buf x = BUF_INIT, y = BUF_INIT;
  bool eq = fs_read_file(a, PKG_MAX_FILE, &x) == 0 && fs_read_file(b, PKG_MAX_FILE, &y) == 0 &&
            x.len == y.len && !memcmp(buf_cstr(&x), buf_cstr(&y), x.len);
  buf_free(&x);
  buf_free(&y);
  return eq;
}

/* kpt's ReplaceNonKRMFiles: files unchanged locally follow upstream (replaced or removed);
 * files added or changed locally stay. */
static int merge_other_files(const char *ldir, const char *odir, const char *udir) {
  name_set lf = {0}, ld = {0}, of = {0}, od = {0}, uf = {0}, ud = {0}, modified = {0};
  int rc = list_other_files(ldir, &lf, &ld);
  if (!rc && odir)
    rc = list_other_files(odir, &of, &od);
  if (!rc && udir)
    rc = list_other_files(udir, &uf, &ud);
  for (size_t i = 0; i < lf.n && !rc; i++) {
    char *lp = fs_join(ldir, lf.v[i]), *op = odir ? fs_join(odir, lf.v[i]) : NULL;
    if (!name_set_has(&of, lf.v[i]) || !op || !same_file(op, lp)) {
      rc = name_set_add(&modified, lf.v[i]);
    } else if (!name_set_has(&uf, lf.v[i])) {
      if (unlink(lp) != 0)
        rc = error_set_errno(ERR_IO, "cannot remove %s", lp);
    }
    free(lp);
    free(op);
  }
  for (size_t i = 0; i < ud.n && !rc; i++) {
    char *p = fs_join(ldir, ud.v[i]);
    rc = p ? fs_mkdir_p(p, 0755) : ERR_NOMEM;
    free(p);
  }
  for (size_t i = 0; i < uf.n && !rc; i++) {
    if (name_set_has(&modified, uf.v[i]))
      continue;
    char *src = fs_join(udir, uf.v[i]), *dst = fs_join(ldir, uf.v[i]);
    struct stat st;
    if (!src || !dst)
      rc = ERR_NOMEM;
    else if (lstat(src, &st) == 0 && S_ISREG(st.st_mode))
      rc = copy_file(src, dst, st.st_mode & 0777);
    free(src);
    free(dst);
  }
  /* empty directories that upstream removed */
  for (size_t i = ld.n; i > 0 && !rc; i--) {
    if (!name_set_has(&ud, ld.v[i - 1]) && name_set_has(&od, ld.v[i - 1])) {
      char *p = fs_join(ldir, ld.v[i - 1]);
      if (p)
        rmdir(p);
      free(p);
    }
  }
  name_set_free(&lf);
  name_set_free(&ld);
  name_set_free(&of);
  name_set_free(&od);
  name_set_free(&uf);
  name_set_free(&ud);
  name_set_free(&modified);
  return rc;
}

/* ---- update: Kptfile ----------------------------------------------------------------- */

/* Merges upstream's Kptfile changes into the local one (info, pipeline, ...). */
static int merge_kptfile(const char *ldir, const char *odir, const char *udir, merge_report *rep) {
  kptfile *l = NULL, *o = NULL, *u = NULL;
  int rc = kptfile_read(&l, ldir);
  if (rc == ERR_NOTFOUND)
    return 0;
  if (rc)
    return rc;
  if (odir && kptfile_read(&o, odir) == ERR_INVALID)
    rc = ERR_INVALID;
  if (!rc && udir && kptfile_read(&u, udir) == ERR_INVALID)
    rc = ERR_INVALID;
  error_clear();
  if (!rc && u) {
    /* upstream's own upstream sections never flow into the local package */
    yml_node *ou = o ? o->root : NULL, *uu = u->root;
    yml_map_remove(uu, "upstream");
    yml_map_remove(uu, "upstreamLock");
    if (ou) {
      yml_map_remove(ou, "upstream");
      yml_map_remove(ou, "upstreamLock");
    }
    error_clear();
    /* metadata.name is the local package's own */
    yml_node *on = yml_lookup(ou, "metadata", NULL), *un = yml_lookup(uu, "metadata", NULL);
    const char *lname = yml_lookup_str(l->root, "metadata", "name", NULL);
    if (lname && on && yml_map_get(on, "name"))
      yml_map_set_str(on, "name", lname);
    if (lname && un && yml_map_get(un, "name"))
      yml_map_set_str(un, "name", lname);
    yml_node *keep_up = yml_map_get(l->root, "upstream");
    yml_node *keep_lock = yml_map_get(l->root, "upstreamLock");
    yml_node *saved_up = keep_up ? yml_node_copy(keep_up) : NULL;
    yml_node *saved_lock = keep_lock ? yml_node_copy(keep_lock) : NULL;
    rc = merge_resource(l->root, ou, uu, rep, KPTFILE_NAME, "kpt.dev|Kptfile");
    /* the merge never removes the local upstream sections */
    if (!rc && saved_up && !yml_map_get(l->root, "upstream"))
      rc = yml_map_set(l->root, "upstream", saved_up), saved_up = NULL;
    if (!rc && saved_lock && !yml_map_get(l->root, "upstreamLock"))
      rc = yml_map_set(l->root, "upstreamLock", saved_lock), saved_lock = NULL;
    yml_node_free(saved_up);
    yml_node_free(saved_lock);
    if (!rc && yml_file_touched(l->yaml))
      rc = kptfile_write_scratch(l, ldir);
  }
  kptfile_free(l);
  kptfile_free(o);
  kptfile_free(u);
  return rc;
}

/* ---- update: packages and subpackages ------------------------------------------------ */

static int note_subpackage(void *ctx, const char *rel, const char *full, const char *name,
                           bool is_dir) {
  name_set *out = ctx;
  if (name[0] == '.')
    return WALK_SKIP;
  if (!is_dir)
    return 0;
  char *kf = fs_join(full, KPTFILE_NAME);
  int rc = !kf ? ERR_NOMEM : fs_exists(kf) && !name_set_has(out, rel) ? name_set_add(out, rel) : 0;
  free(kf);
  return rc;
}

/* Adds to `out` every directory below `root` holding a Kptfile (hidden entries skipped). */
static int find_subpackages(const char *root, name_set *out) {
  return walk_tree(root, note_subpackage, out);
}

static int cmp_depth(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  int dx = 0, dy = 0;
  for (const char *p = x; *p; p++)
    dx += *p == '/';
  for (const char *p = y; *p; p++)
    dy += *p == '/';
  if (dx != dy)
    return dx - dy;
  return strcmp(x, y);
}

/* Text diff of two trees (any difference at all)? */
static int trees_differ(const char *a, const char *b, bool *differ);

static int merge_one(const char *l, const char *o, const char *u, merge_report *rep) {
  int rc = merge_kptfile(l, o, u, rep);
  if (!rc)
    rc = merge_resources(l, o, u, rep);
  if (!rc)
    rc = merge_other_files(l, o, u);
  return rc;
}

static int merge_tree(const char *ldir, const char *odir, const char *udir, merge_report *rep) {
  name_set subs = {0};
  int rc = find_subpackages(ldir, &subs);
  if (!rc)
    rc = find_subpackages(odir, &subs);
  if (!rc)
    rc = find_subpackages(udir, &subs);
  if (!rc && subs.n > 1)
    qsort(subs.v, subs.n, sizeof(*subs.v), cmp_depth);
  if (!rc)
    rc = merge_one(ldir, odir, udir, rep);
  for (size_t i = 0; i < subs.n && !rc; i++) {
    char *l = fs_join(ldir, subs.v[i]), *o = fs_join(odir, subs.v[i]), *u = fs_join(udir, subs.v[i]);
    if (!l || !o || !u) {
      rc = ERR_NOMEM;
    } else {
      char *lk = fs_join(l, KPTFILE_NAME), *ok = fs_join(o, KPTFILE_NAME), *uk = fs_join(u, KPTFILE_NAME);
      bool le = lk && fs_exists(lk), oe = ok && fs_exists(ok), ue = uk && fs_exists(uk);
      free(lk);
      free(ok);
      free(uk);
      if (!oe && le && ue) {
        rc = error_set(ERR_CONFLICT, "subpackage \"%s\" added in both upstream and local", subs.v[i]);
      } else if (!oe && !le && ue) {
        size_t count = 0;
        rc = copy_tree(u, l, 0, &count);
      } else if (oe && le && !ue) {
        bool differ = true;
        rc = trees_differ(o, l, &differ);
        if (!rc && !differ)
          rc = fs_remove_tree(l);
      } else if (oe && le && ue) {
        rc = merge_one(l, o, u, rep);
      }
    }
    free(l);
    free(o);
    free(u);
  }
  name_set_free(&subs);
  return rc;
}

static int trees_differ(const char *a, const char *b, bool *differ) {
  name_set fa = {0}, fb = {0};
  *differ = false;
  /* every file, KRM or not */
  int rc = list_tree(a, &fa, NULL);
  if (!rc)
    rc = list_tree(b, &fb, NULL);
  if (!rc && fa.n != fb.n)
    *differ = true;
  for (size_t i = 0; !rc && !*differ && i < fa.n; i++) {
    if (!name_set_has(&fb, fa.v[i])) {
      *differ = true;
      break;
    }
    char *x = fs_join(a, fa.v[i]), *y = fs_join(b, fa.v[i]);
    if (!x || !y)
      rc = ERR_NOMEM;
    else if (!same_file(x, y))
      *differ = true;
    free(x);
    free(y);
  }
  name_set_free(&fa);
  name_set_free(&fb);
  return rc;
}

/* Files that differ between the local package and upstream at the lock commit, ignoring
 * the root Kptfile's upstream and upstreamLock sections. */
static int local_changes(const char *ldir, const char *odir, name_set *changed) {
  name_set lf = {0}, of = {0}, ld = {0}, od = {0};
  int rc = 0;
  /* compare every file of both trees */
  rc = list_tree(ldir, &lf, &ld);
  if (!rc)
    rc = list_tree(odir, &of, &od);
  for (size_t i = 0; !rc && i < lf.n; i++) {
    const char *f = lf.v[i];
    if (!strcmp(f, KPTFILE_NAME)) {
      /* compare without the upstream sections */
      kptfile *a = NULL, *b = NULL;
      bool eq = false;
      if (kptfile_read(&a, ldir) == 0 && kptfile_read(&b, odir) == 0) {
        yml_map_remove(a->root, "upstream");
        yml_map_remove(a->root, "upstreamLock");
        yml_map_remove(b->root, "upstream");
        yml_map_remove(b->root, "upstreamLock");
        const char *ln = yml_lookup_str(a->root, "metadata", "name", NULL);
        yml_node *bm = yml_map_get(b->root, "metadata");
        if (ln && bm)
          yml_map_set_str(bm, "name", ln);
        eq = yml_node_equal(a->root, b->root);
      } else if (kptfile_read(&a, ldir) == 0 && !fs_exists(odir)) {
        eq = false;
      }
      kptfile_free(a);
      kptfile_free(b);
      error_clear();
      if (!eq && name_set_has(&of, f))
        rc = name_set_add(changed, f);
      continue;
    }
    if (!name_set_has(&of, f)) {
      rc = name_set_add(changed, f);
      continue;
    }
    char *x = fs_join(ldir, f), *y = fs_join(odir, f);
    if (!x || !y)
      rc = ERR_NOMEM;
    else if (!same_file(x, y))
      rc = name_set_add(changed, f);
    free(x);
    free(y);
  }
  for (size_t i = 0; !rc && i < of.n; i++)
    if (strcmp(of.v[i], KPTFILE_NAME) && !name_set_has(&lf, of.v[i]))
      rc = name_set_add(changed, of.v[i]);
  name_set_free(&lf);
  name_set_free(&of);
  name_set_free(&ld);
  name_set_free(&od);
  return rc;
}

/* Replaces everything in `ldir` by `udir`, except the root Kptfile, which stays the
 * local one (kpt's fast-forward and force-delete-replace keep it; the caller then moves
 * its upstream and lock). */
static int replace_with(const char *ldir, const char *udir) {
  char *kpath = fs_join(ldir, KPTFILE_NAME);
  if (!kpath)
    return ERR_NOMEM;
  buf keep = BUF_INIT;
  int rc = fs_read_file(kpath, 1 << 20, &keep);
  bool had = rc == 0;
  if (rc == ERR_NOTFOUND)
    rc = 0;
  DIR *d = rc ? NULL : opendir(ldir);
  struct dirent *de;
  if (!rc && !d)
    rc = error_set_errno(ERR_IO, "cannot read %s", ldir);
  while (d && !rc && (de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, ".git"))
      continue;
    char *p = fs_join(ldir, de->d_name);
    rc = p ? fs_remove_tree(p) : ERR_NOMEM;
    free(p);
  }
  if (d)
    closedir(d);
  size_t count = 0;
  if (!rc)
    rc = copy_tree(udir, ldir, 0, &count);
  if (!rc && had)
    rc = fs_write_atomic(kpath, keep.data ? keep.data : "", keep.len, 0644);
  buf_free(&keep);
  free(kpath);
  return rc;
}

/* kpt's copy-merge (CopyMergeUpdater in kpt's internal/util/update/copy-merge.go, the
 * strategy Porch uses): the local root Kptfile is merged three-way as in resource-merge;
 * every file of `udir`, subpackages included, is copied over the local one (local edits
 * to those files are lost); files and directories that `odir` had and `udir` no longer
 * has are removed from the local package (RemoveStaleItems); local-only files stay. A
 * removed directory that still holds local files is an error, as in kpt (os.Remove). */
static int copy_merge(const char *ldir, const char *odir, const char *udir, merge_report *rep) {
  int rc = merge_kptfile(ldir, odir, udir, rep);
  size_t count = 0;
  if (!rc)
    rc = copy_tree_mode(udir, ldir, 0, &count, true);
  name_set files = {0}, dirs = {0};
  if (!rc)
    rc = list_tree(ldir, &files, &dirs);
  for (size_t pass = 0; pass < 2 && !rc; pass++) {
    name_set *set = pass ? &dirs : &files;
    if (pass && dirs.n > 1)
      qsort(dirs.v, dirs.n, sizeof(*dirs.v), cmp_depth);
    for (size_t i = set->n; i > 0 && !rc; i--) { /* directories: deepest first */
      const char *rel = set->v[i - 1];
      if (!strcmp(rel, KPTFILE_NAME))
        continue;
      char *u = fs_join(udir, rel), *o = fs_join(odir, rel), *l = fs_join(ldir, rel);
      if (!u || !o || !l)
        rc = ERR_NOMEM;
      else if (!fs_exists(u) && fs_exists(o) && (pass ? rmdir(l) : unlink(l)) != 0)
        rc = error_set_errno(ERR_IO, "cannot remove %s (deleted upstream)", rel);
      free(u);
      free(o);
      free(l);
    }
  }
  name_set_free(&files);
  name_set_free(&dirs);
  return rc;
}

/* ---- get: subpackages with an upstream of their own ----------------------------------- */

#define PKG_MAX_UNFETCHED 256

/* Fills the unfetched subpackage at `sdir` (a Kptfile with a git upstream and no
 * upstreamLock) from its own upstream, as kpt's fetch.Command does for a subpackage: the
 * upstream's Kptfile merged into the local one (local name and upstream kept), the
 * upstream's files copied in (with merge comments), the upstreamLock set. `work` is a
 * fresh scratch directory. Sets *done when it was unfetched (and is now fetched). */
static int fetch_one_unfetched(const char *sdir, const char *work, const char *label, FILE *log,
                               bool *done) {
  *done = false;
  kptfile *k = NULL;
  int rc = kptfile_read(&k, sdir);
  if (rc)
    return rc;
  kptfile_git up, lock;
  const char *st = NULL;
  if (kptfile_upstream(k, &up, &st) || !up.repo ||
      (!kptfile_upstream_lock(k, &lock) && lock.commit)) {
    kptfile_free(k);
    return 0; /* local, or already fetched */
  }
  char *repo_url = str_dup(up.repo), *directory = str_dup(up.directory ? up.directory : "/");
  char *ref = up.ref ? str_dup(up.ref) : NULL;
  kptfile_free(k);
  k = NULL;
  gitfetch_repo *repo = NULL;
  char commit[41];
  char *updated = fs_join(work, "updated");
  rc = repo_url && directory && updated ? 0 : ERR_NOMEM;
  if (!rc)
    rc = gitfetch_open(&repo, repo_url);
  if (!rc && !ref && !(ref = gitfetch_default_branch(repo)))
    rc = ERR_NOMEM;
  if (!rc)
    rc = gitfetch_resolve(repo, ref, commit);
  if (!rc && log)
    fprintf(log, "\nPackage \"%s\":\nFetching %s@%s\n", label, repo_url, ref);
  if (!rc)
    rc = fetch_into(repo, commit, directory, updated);
  if (!rc)
    rc = merge_kptfile(sdir, NULL, updated, NULL);
  size_t count = 0;
  if (!rc)
    rc = copy_tree_mode(updated, sdir, 0, &count, true);
  if (!rc)
    rc = kptfile_read(&k, sdir);
  if (!rc) {
    kptfile_git nl = {repo_url, directory, ref, commit};
    rc = kptfile_set_upstream_lock(k, &nl);
    if (!rc)
      rc = kptfile_write_scratch(k, sdir);
  }
  if (!rc)
    *done = true;
  kptfile_free(k);
  gitfetch_close(repo);
  free(repo_url);
  free(directory);
  free(ref);
  free(updated);
  return rc;
}

/* kpt pkg get's second pass: every subpackage of the fetched tree `dir` whose Kptfile has
 * a git upstream but no upstreamLock ("unfetched") is fetched from its own upstream,
 * parents before children, including what those fetches bring (kpt's get.Command, a
 * stack of packages). `*count` counts fetched packages. */
static int fetch_unfetched(const char *dir, const char *label, FILE *log, size_t *count) {
  int rc = 0;
  for (size_t round = 0; !rc; round++) {
    name_set subs = {0};
    rc = find_subpackages(dir, &subs);
    if (!rc && subs.n > 1)
      qsort(subs.v, subs.n, sizeof(*subs.v), cmp_depth);
    bool any = false;
    for (size_t i = 0; i < subs.n && !rc && !any; i++) {
      char *sdir = fs_join(dir, subs.v[i]);
      char *slabel = str_printf("%s/%s", label, subs.v[i]);
      char *work = NULL;
      if (!sdir || !slabel)
        rc = ERR_NOMEM;
      else if (*count > PKG_MAX_UNFETCHED)
        rc = error_set(ERR_LIMIT, "more than %d packages to fetch", PKG_MAX_UNFETCHED);
      else if (!(rc = sibling_tmpdir(dir, "fetch", &work)))
        rc = fetch_one_unfetched(sdir, work, slabel, log, &any);
      if (work) {
        fs_remove_tree(work);
        free(work);
      }
      free(sdir);
      free(slabel);
    }
    name_set_free(&subs);
    if (!any)
      break;
    ++*count; /* one fetched; look again (it may have brought unfetched ones) */
  }
  return rc;
}

/* Where one package's update gets its data, read from its Kptfile (and the options). */
typedef struct update_src {
  char *repo_url, *directory, *ref, *strategy;
  char *lock_commit; /* NULL: no upstreamLock (origin is empty, as kpt's nilRepoClone) */
} update_src;

static void update_src_free(update_src *u) {
  free(u->repo_url);
  free(u->directory);
  free(u->ref);
  free(u->strategy);
  free(u->lock_commit);
  memset(u, 0, sizeof(*u));
}

/* Reads the upstream of the package at `dir` into `u`, `ref` and `strategy` overriding the
 * Kptfile's when not NULL. `need_lock`: a missing upstreamLock is ERR_INVALID (the root),
 * else an empty origin. ERR_NOTFOUND when there is no Kptfile, ERR_INVALID when there is
 * no git upstream or the strategy is unknown. */
static int update_src_read(const char *dir, const char *ref, const char *strategy, bool need_lock,
                           update_src *u) {
  memset(u, 0, sizeof(*u));
  kptfile *k = NULL;
  int rc = kptfile_read(&k, dir);
  if (rc)
    return rc;
  kptfile_git up, lock;
  const char *st = NULL;
  if (kptfile_upstream(k, &up, &st) || !up.repo) {
    rc = error_set(ERR_INVALID, "%s/Kptfile: package has no git upstream to update from", dir);
  } else if ((kptfile_upstream_lock(k, &lock) || !lock.commit) && need_lock) {
    rc = error_set(ERR_INVALID, "%s/Kptfile: package has no upstreamLock commit", dir);
  } else {
    bool locked = !kptfile_upstream_lock(k, &lock) && lock.commit;
    u->repo_url = str_dup(up.repo);
    u->directory = str_dup(up.directory ? up.directory : "/");
    u->ref = str_dup(ref ? ref : (up.ref ? up.ref : "main"));
    u->strategy = str_dup(strategy ? strategy : (st ? st : "resource-merge"));
    u->lock_commit = locked ? str_dup(lock.commit) : NULL;
    if (!u->repo_url || !u->directory || !u->ref || !u->strategy || (locked && !u->lock_commit))
      rc = ERR_NOMEM;
    else if (!kptfile_strategy_valid(u->strategy))
      rc = error_set(ERR_INVALID, "unsupported update strategy \"%s\" (want resource-merge, "
                                  "fast-forward, force-delete-replace or copy-merge)", u->strategy);
  }
  kptfile_free(k);
  if (rc)
    update_src_free(u);
  return rc;
}

/* Updates the package in `local` (a scratch copy, edited in place) from `u`: origin and
 * updated are fetched under `work` (a fresh scratch directory), the strategy applied, and
 * the Kptfile's upstream and upstreamLock set. `label` names the package in the log. */
static int update_one(const char *local, const char *work, const char *label, const update_src *u,
                      merge_report *rep, FILE *log) {
  gitfetch_repo *repo = NULL;
  kptfile *k = NULL;
  char commit[41];
  char *origin = fs_join(work, "origin"), *updated = fs_join(work, "updated");
  int rc = origin && updated ? 0 : ERR_NOMEM;
  if (!rc && log)
    fprintf(log, "Package \"%s\":\nFetching upstream from %s@%s\n", label, u->repo_url, u->ref);
  /* the local side first: it needs no Git, so it overlaps libgit2's initialisation */
  if (!rc)
    rc = pkg_add_merge_comments(local);
  if (!rc && !(rc = gitfetch_open(&repo, u->repo_url)))
    rc = gitfetch_resolve(repo, u->ref, commit);
  if (!rc)
    rc = u->lock_commit ? fetch_into(repo, u->lock_commit, u->directory, origin)
                        : fs_mkdir_p(origin, 0755);
  if (!rc)
    rc = fetch_into(repo, commit, u->directory, updated);
  if (!rc && log)
    fprintf(log, "Updating package \"%s\" with strategy \"%s\".\n", label, u->strategy);
  if (rc) {
    /* nothing more */
  } else if (!strcmp(u->strategy, "resource-merge")) {
    rc = merge_tree(local, origin, updated, rep);
  } else if (!strcmp(u->strategy, "fast-forward")) {
    name_set changed = {0};
    rc = local_changes(local, origin, &changed);
    if (!rc && changed.n) {
      buf list = BUF_INIT;
      for (size_t i = 0; i < changed.n; i++)
        buf_printf(&list, "%s%s", i ? ", " : "", changed.v[i]);
      rc = error_set(ERR_CONFLICT, "local package files have been modified: [%s]", buf_cstr(&list));
      buf_free(&list);
    }
    name_set_free(&changed);
    if (!rc)
      rc = replace_with(local, updated);
  } else if (!strcmp(u->strategy, "copy-merge")) {
    rc = copy_merge(local, origin, updated, rep);
  } else {
    rc = replace_with(local, updated);
  }
  /* the new upstream and lock */
  if (!rc)
    rc = kptfile_read(&k, local);
  if (!rc) {
    kptfile_git nu = {u->repo_url, u->directory, u->ref, NULL};
    rc = kptfile_set_upstream(k, &nu, u->strategy);
    nu.commit = commit;
    if (!rc)
      rc = kptfile_set_upstream_lock(k, &nu);
    if (!rc && yml_file_touched(k->yaml))
      rc = kptfile_write_scratch(k, local);
  }
  kptfile_free(k);
  gitfetch_close(repo);
  free(origin);
  free(updated);
  return rc;
}

#define PKG_MAX_NESTED_DEPTH 16
#define PKG_MAX_NESTED 256

/* Does the Kptfile in `dir` name a git upstream? */
static int has_git_upstream(const char *dir, bool *out) {
  kptfile *k = NULL;
  int rc = kptfile_read(&k, dir);
  if (rc)
    return rc;
  kptfile_git up;
  const char *st = NULL;
  *out = !kptfile_upstream(k, &up, &st) && up.repo;
  kptfile_free(k);
  return 0;
}

static int cmp_rel_paths(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int note_direct_subpackage(void *ctx, const char *rel, const char *full, const char *name,
                                  bool is_dir) {
  if (name[0] == '.')
    return WALK_SKIP;
  if (!is_dir)
    return 0;
  char *kf = fs_join(full, KPTFILE_NAME);
  bool sub = kf && fs_exists(kf);
  free(kf);
  if (!kf)
    return ERR_NOMEM;
  if (!sub)
    return 0;
  int rc = name_set_add(ctx, rel);
  return rc ? rc : WALK_SKIP; /* its own subpackages are its business */
}

/* kpt's second pass: after a package is updated, each of its direct subpackages (the
 * nearest directories with a Kptfile) whose Kptfile has a git upstream of its own is
 * updated from that upstream, at its own ref, with its own strategy, and so on down
 * (kpt's update.Command.Run, a stack of packages seeded with the root). Subpackages
 * without an upstream are part of their parent and are not descended into. `pkgdir` is in
 * the scratch copy; `label` its name in the log; `*count` counts updated packages. */
static int update_nested(const char *pkgdir, const char *label, const char *work, merge_report *rep,
                         FILE *log, int depth, size_t *count) {
  if (depth > PKG_MAX_NESTED_DEPTH)
    return error_set(ERR_LIMIT, "%s: packages with their own upstream nested deeper than %d", label,
                     PKG_MAX_NESTED_DEPTH);
  name_set subs = {0};
  int rc = walk_tree(pkgdir, note_direct_subpackage, &subs);
  if (!rc && subs.n > 1)
    qsort(subs.v, subs.n, sizeof(*subs.v), cmp_rel_paths);
  for (size_t i = 0; i < subs.n && !rc; i++) {
    char *sdir = fs_join(pkgdir, subs.v[i]);
    char *slabel = str_printf("%s/%s", label, subs.v[i]);
    char *swork = str_printf("%s/n%zu", work, *count);
    update_src u = {0};
    if (!sdir || !slabel || !swork) {
      rc = ERR_NOMEM;
    } else if (++*count > PKG_MAX_NESTED) {
      rc = error_set(ERR_LIMIT, "more than %d packages with their own upstream", PKG_MAX_NESTED);
    } else {
      bool own = false;
      rc = has_git_upstream(sdir, &own);
      if (!rc && !own)
        --*count; /* no upstream of its own: part of its parent */
      else if (!rc)
        rc = update_src_read(sdir, NULL, NULL, false, &u);
      if (!rc && own) {
        if (log)
          fprintf(log, "\n");
        rc = fs_mkdir_p(swork, 0700);
        if (!rc)
          rc = update_one(sdir, swork, slabel, &u, rep, log);
        if (!rc)
          rc = update_nested(sdir, slabel, work, rep, log, depth + 1, count);
      }
    }
    update_src_free(&u);
    free(sdir);
    free(slabel);
    free(swork);
  }
  name_set_free(&subs);
  return rc;
}

int pkg_update(const char *dir, const pkg_update_opts *o, merge_report *report, FILE *log) {
  char *work = NULL, *local = NULL, *rootwork = NULL;
  merge_report own = {0};
  merge_report *rep = report ? report : &own;
  size_t conflicts_before = rep->n;
  update_src u = {0};
  gitfetch_warm_up();
  int rc = update_src_read(dir, o && o->ref ? o->ref : NULL, o ? o->strategy : NULL, true, &u);
  if (rc)
    goto done;
  /* scratch space beside the package: origins, updated trees, and the new local */
  if ((rc = sibling_tmpdir(dir, "update", &work)))
    goto done;
  local = fs_join(work, "local");
  rootwork = fs_join(work, "root");
  if (!local || !rootwork) {
    rc = ERR_NOMEM;
    goto done;
  }
  size_t count = 0;
  if ((rc = copy_tree(dir, local, 0, &count)) || (rc = fs_mkdir_p(rootwork, 0700)))
    goto done;
  if ((rc = update_one(local, rootwork, dir, &u, rep, log)))
    goto done;
  size_t npkgs = 1;
  if ((rc = update_nested(local, dir, work, rep, log, 1, &npkgs)))
    goto done;
  if (o && o->fail_on_conflict && rep->n > conflicts_before) {
    rc = error_set(ERR_CONFLICT, "%zu conflicting change(s) between local and upstream; package left unchanged",
                   rep->n - conflicts_before);
    goto done;
  }
  if ((rc = swap_into_place(local, dir)))
    goto done;
  if (log)
    fprintf(log, "\nUpdated %zu package(s).\n", npkgs);
done:
  gitfetch_settle();
  if (work)
    fs_remove_tree(work);
  merge_report_free(&own);
  update_src_free(&u);
  free(work);
  free(local);
  free(rootwork);
  return rc;
}

/* ---- diff ---------------------------------------------------------------------------- */

int pkg_diff(const char *dir, buf *out, bool *differs) {
  kptfile *k = NULL;
  gitfetch_repo *repo = NULL;
  char *work = NULL, *origin = NULL;
  *differs = false;
  int rc = kptfile_read(&k, dir);
  if (rc)
    return rc;
  kptfile_git lock;
  if (kptfile_upstream_lock(k, &lock) || !lock.repo || !lock.commit) {
    kptfile_free(k);
    return error_set(ERR_INVALID, "%s/Kptfile: package has no upstreamLock to diff against", dir);
  }
  char tmpl[] = "/tmp/portico-diff-XXXXXX";
  if (!mkdtemp(tmpl)) {
    kptfile_free(k);
    return error_set_errno(ERR_IO, "cannot create a temporary directory");
  }
  work = str_dup(tmpl);
  origin = fs_join(tmpl, "upstream");
  if (!work || !origin)
    rc = ERR_NOMEM;
  if (!rc)
    rc = gitfetch_open(&repo, lock.repo);
  if (!rc)
    rc = fetch_into(repo, lock.commit, lock.directory ? lock.directory : "/", origin);
  if (!rc) {
    /* the upstream copy gets the local upstream sections, as kpt compares them */
    kptfile_git up;
    const char *st = NULL;
    if (kptfile_upstream(k, &up, &st) == 0) {
      const char *name = yml_lookup_str(k->root, "metadata", "name", NULL);
      rc = write_root_kptfile(origin, name ? name : "package", &up, lock.commit, st);
    }
    error_clear();
  }
  if (!rc) {
    char *const argv[] = {"/usr/bin/diff", "-ruN", "-x", ".git", origin, (char *)dir, NULL};
    proc_result res;
    memset(&res, 0, sizeof(res));
    proc_spec ps;
    memset(&ps, 0, sizeof(ps));
    ps.argv = argv;
    ps.timeout_ms = 60000;
    rc = proc_run(&ps, &res);
    if (!rc) {
      if (res.outcome != PROC_EXITED || res.exit_code > 1)
        rc = error_set(ERR_IO, "diff failed: %s", buf_cstr(&res.err));
      else {
        *differs = res.exit_code == 1;
        /* show package-relative paths */
        const char *s = buf_cstr(&res.out);
        size_t ol = strlen(origin);
        while (*s && !rc) {
          const char *hit = strstr(s, origin);
          if (!hit) {
            rc = buf_puts(out, s);
            break;
          }
          rc = buf_append(out, s, (size_t)(hit - s));
          if (!rc)
            rc = buf_puts(out, "upstream");
          s = hit + ol;
        }
      }
    }
    proc_result_free(&res);
  }
  if (work)
    fs_remove_tree(work);
  gitfetch_close(repo);
  kptfile_free(k);
  free(work);
  free(origin);
  return rc;
}
