/* gitfetch: see gitfetch.h. */
#include "cad/gitfetch.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "cad/scratch.h"

#include <git2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct gitfetch_repo {
  git_repository *repo;
  char *tmpdir; /* fetched copy to remove, or NULL */
  char *url;
};

static int git_fail(int code, const char *what) {
  const git_error *e = git_error_last();
  return error_set(code, "%s: %s", what, e && e->message ? e->message : "libgit2 error");
}

/* ---- argument syntax ----------------------------------------------------------------- */

void gitfetch_spec_free(gitfetch_spec *s) {
  free(s->repo);
  free(s->directory);
  free(s->ref);
  memset(s, 0, sizeof(*s));
}

int gitfetch_parse_spec(const char *arg, gitfetch_spec *out) {
  memset(out, 0, sizeof(*out));
  char *s = str_dup(arg);
  if (!s)
    return ERR_NOMEM;
  /* the ref follows the last '@' after the ".git" part */
  const char *git = strstr(s, ".git");
  while (git && git[4] != 0 && git[4] != '/' && git[4] != '@')
    git = strstr(git + 4, ".git");
  char *at = strrchr(git ? git : s, '@');
  if (at) {
    *at = 0;
    out->ref = str_dup(at + 1);
    if (!out->ref || !*out->ref) {
      free(s);
      gitfetch_spec_free(out);
      return error_set(ERR_INVALID, "%s: empty ref after '@'", arg);
    }
  }
  if (!git) {
    /* a plain local path (no URL scheme) names a repository directly */
    if (!strstr(s, "://") && fs_is_dir(s)) {
      out->repo = str_dup(s);
      out->directory = str_dup("/");
      free(s);
      return out->repo && out->directory ? 0 : ERR_NOMEM;
    }
    free(s);
    gitfetch_spec_free(out);
    return error_set(ERR_INVALID, "ambiguous repo/dir@version specify '.git' in argument");
  }
  size_t rl = (size_t)(git - s);
  out->repo = str_ndup(s, rl);
  const char *dir = git + 4;
  if (*dir == 0 || !strcmp(dir, "/"))
    out->directory = str_dup("/");
  else {
    /* normalise: one leading slash, no trailing slash */
    while (*dir == '/')
      dir++;
    size_t dl = strlen(dir);
    while (dl > 0 && dir[dl - 1] == '/')
      dl--;
    out->directory = str_printf("/%.*s", (int)dl, dir);
  }
  free(s);
  if (!out->repo || !out->directory) {
    gitfetch_spec_free(out);
    return ERR_NOMEM;
  }
  return 0;
}

/* ---- repositories -------------------------------------------------------------------- */

/* libgit2's initialisation (loading it, and its TLS backend parsing the system's CA
 * bundle) costs several ms; gitfetch_warm_up runs it on a thread while the caller does
 * other work. lib_init joins that thread, or initialises itself. */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t warm_thread;
static bool warm_started;

static void init_once_fn(void) { git_libgit2_init(); }

static void *warm_main(void *arg) {
  (void)arg;
  pthread_once(&init_once, init_once_fn);
  return NULL;
}

void gitfetch_warm_up(void) {
  pthread_mutex_lock(&warm_lock);
  if (!warm_started && pthread_create(&warm_thread, NULL, warm_main, NULL) == 0)
    warm_started = true;
  pthread_mutex_unlock(&warm_lock);
}

void gitfetch_settle(void) {
  pthread_mutex_lock(&warm_lock);
  if (warm_started) {
    pthread_join(warm_thread, NULL);
    warm_started = false;
  }
  pthread_mutex_unlock(&warm_lock);
}

static void lib_init(void) {
  gitfetch_settle();
  pthread_once(&init_once, init_once_fn);
}

static const char *local_path(const char *url) {
  if (str_has_prefix(url, "file://"))
    return url + 7;
  if (!strstr(url, "://") && !strchr(url, '@'))
    return url;
  return NULL;
}

int gitfetch_open(gitfetch_repo **out, const char *url) {
  lib_init();
  gitfetch_repo *r = calloc(1, sizeof(*r));
  if (!r || !(r->url = str_dup(url))) {
    free(r);
    return error_set(ERR_NOMEM, "out of memory");
  }
  const char *path = local_path(url);
  int rc = 0;
  if (path) {
    if (git_repository_open_ext(&r->repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
      /* kpt strips ".git"; try it back for bare repositories named x.git */
      char *withgit = str_printf("%s.git", path);
      int grc = withgit ? git_repository_open_ext(&r->repo, withgit, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) : -1;
      free(withgit);
      if (grc != 0)
        rc = git_fail(ERR_NOTFOUND, url);
    }
  } else {
    char tmpl[] = "/tmp/portico-fetch-XXXXXX";
    if (!mkdtemp(tmpl)) {
      rc = error_set_errno(ERR_IO, "cannot make a temporary directory");
    } else if (!(r->tmpdir = str_dup(tmpl))) {
      rc = ERR_NOMEM;
    } else if (git_repository_init(&r->repo, tmpl, 1) != 0) {
      rc = git_fail(ERR_IO, "git init");
    } else {
      git_remote *remote = NULL;
      git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
      char *refspecs[] = {"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"};
      git_strarray specs = {refspecs, 2};
      if (git_remote_create_anonymous(&remote, r->repo, url) != 0 ||
          git_remote_fetch(remote, &specs, &fo, NULL) != 0)
        rc = git_fail(ERR_NOTFOUND, url);
      git_remote_free(remote);
    }
  }
  if (rc) {
    gitfetch_close(r);
    return rc;
  }
  *out = r;
  return 0;
}

void gitfetch_close(gitfetch_repo *r) {
  if (!r)
    return;
  git_repository_free(r->repo);
  if (r->tmpdir)
    fs_remove_tree(r->tmpdir);
  free(r->tmpdir);
  free(r->url);
  free(r);
}

static int commit_of_object(git_repository *repo, const git_oid *id, git_oid *commit) {
  git_object *obj = NULL, *peeled = NULL;
  if (git_object_lookup(&obj, repo, id, GIT_OBJECT_ANY) != 0)
    return -1;
  int rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
  if (rc == 0)
    git_oid_cpy(commit, git_object_id(peeled));
  git_object_free(peeled);
  git_object_free(obj);
  return rc;
}

int gitfetch_resolve(gitfetch_repo *r, const char *ref, char commit_out[41]) {
  static const char *prefixes[] = {"refs/tags/", "refs/heads/", "refs/remotes/origin/", ""};
  git_oid oid;
  for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
    char *name = str_printf("%s%s", prefixes[i], ref);
    if (!name)
      return ERR_NOMEM;
    git_oid target;
    int found = git_reference_name_to_id(&target, r->repo, name) == 0 &&
                commit_of_object(r->repo, &target, &oid) == 0;
    free(name);
    if (found) {
      git_oid_tostr(commit_out, 41, &oid);
      return 0;
    }
  }
  /* a commit id, possibly abbreviated */
  size_t len = strlen(ref);
  if (len >= 4 && len <= 40 && strspn(ref, "0123456789abcdefABCDEF") == len) {
    git_oid prefix;
    git_object *obj = NULL;
    if (git_oid_fromstrn(&prefix, ref, len) == 0 &&
        git_object_lookup_prefix(&obj, r->repo, &prefix, len, GIT_OBJECT_ANY) == 0) {
      git_oid id;
      git_oid_cpy(&id, git_object_id(obj));
      git_object_free(obj);
      if (commit_of_object(r->repo, &id, &oid) == 0) {
        git_oid_tostr(commit_out, 41, &oid);
        return 0;
      }
    }
  }
  return error_set(ERR_NOTFOUND, "unknown ref \"%s\" in repository \"%s\"", ref, r->url);
}

char *gitfetch_default_branch(gitfetch_repo *r) {
  git_reference *head = NULL;
  char *name = NULL;
  if (git_reference_lookup(&head, r->repo, "HEAD") == 0 &&
      git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
    const char *t = git_reference_symbolic_target(head);
    if (t && str_has_prefix(t, "refs/heads/"))
      name = str_dup(t + strlen("refs/heads/"));
  }
  git_reference_free(head);
  return name ? name : str_dup("main");
}

/* ---- export -------------------------------------------------------------------------- */

typedef struct export_ctx {
  git_repository *repo;
  size_t files;
  size_t bytes;
  gitfetch_visit_fn fn; /* may be NULL */
  void *fn_ctx;
} export_ctx;

/* Does a link at `rel` (inside the export) with target `target` stay inside? */
static bool link_inside(const char *rel, const char *target) {
  if (target[0] == '/')
    return false;
  int depth = 0;
  for (const char *p = rel; *p; p++)
    depth += *p == '/';
  const char *t = target;
  while (*t) {
    const char *seg = t;
    const char *slash = strchr(t, '/');
    size_t n = slash ? (size_t)(slash - t) : strlen(t);
    if (n == 2 && !strncmp(seg, "..", 2)) {
      if (--depth < 0)
        return false;
    } else if (!(n == 1 && seg[0] == '.') && n > 0) {
      depth++;
    }
    t = slash ? slash + 1 : t + n;
  }
  return true;
}

static int export_tree(export_ctx *c, const git_tree *tree, const char *dir, const char *rel) {
  if (fs_mkdir_p(dir, 0755))
    return error_prefix("creating %s", dir);
  size_t n = git_tree_entrycount(tree);
  for (size_t i = 0; i < n; i++) {
    const git_tree_entry *e = git_tree_entry_byindex(tree, i);
    const char *name = git_tree_entry_name(e);
    if (!fs_path_is_safe(name) || strchr(name, '/'))
      return error_set(ERR_INVALID, "unsafe file name \"%s\" in upstream", name);
    char *path = fs_join(dir, name);
    char *r = rel[0] ? str_printf("%s/%s", rel, name) : str_dup(name);
    int rc = (!path || !r) ? ERR_NOMEM : 0;
    git_filemode_t mode = git_tree_entry_filemode(e);
    if (!rc && ++c->files > GITFETCH_MAX_FILES)
      rc = error_set(ERR_LIMIT, "upstream has more than %d files", GITFETCH_MAX_FILES);
    if (!rc && mode == GIT_FILEMODE_TREE) {
      git_tree *sub = NULL;
      if (git_tree_lookup(&sub, c->repo, git_tree_entry_id(e)) != 0)
        rc = git_fail(ERR_IO, r);
      else
        rc = export_tree(c, sub, path, r);
      git_tree_free(sub);
    } else if (!rc && (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
                       mode == GIT_FILEMODE_LINK)) {
      git_blob *blob = NULL;
      if (git_blob_lookup(&blob, c->repo, git_tree_entry_id(e)) != 0) {
        rc = git_fail(ERR_IO, r);
      } else {
        size_t size = (size_t)git_blob_rawsize(blob);
        c->bytes += size;
        if (c->bytes > GITFETCH_MAX_BYTES) {
          rc = error_set(ERR_LIMIT, "upstream package larger than %zu bytes", (size_t)GITFETCH_MAX_BYTES);
        } else if (mode == GIT_FILEMODE_LINK) {
          char *target = str_ndup(git_blob_rawcontent(blob), size);
          if (!target)
            rc = ERR_NOMEM;
          else if (!link_inside(r, target))
            rc = error_set(ERR_INVALID, "%s: symbolic link to \"%s\" points outside the package", r, target);
          /* else: left out, as kpt pkg get leaves links out */
          free(target);
        } else {
          bool exec = mode == GIT_FILEMODE_BLOB_EXECUTABLE;
          int taken = c->fn ? c->fn(c->fn_ctx, r, git_blob_rawcontent(blob), size, exec) : 0;
          if (taken < 0)
            rc = taken;
          else if (!taken) /* the destination is a fresh private directory (see gitfetch_export) */
            rc = scratch_write(path, git_blob_rawcontent(blob), size, exec ? 0755 : 0644);
        }
      }
      git_blob_free(blob);
    }
    /* submodules (GIT_FILEMODE_COMMIT) are skipped */
    free(path);
    free(r);
    if (rc)
      return rc;
  }
  return 0;
}

int gitfetch_export(gitfetch_repo *r, const char *commit, const char *directory, const char *dest) {
  return gitfetch_export_visit(r, commit, directory, dest, NULL, NULL);
}

int gitfetch_export_visit(gitfetch_repo *r, const char *commit, const char *directory,
                          const char *dest, gitfetch_visit_fn fn, void *ctx) {
  git_oid oid;
  git_commit *cm = NULL;
  git_tree *root = NULL, *sub = NULL;
  git_tree_entry *entry = NULL;
  int rc = 0;
  if (git_oid_fromstr(&oid, commit) != 0 || git_commit_lookup(&cm, r->repo, &oid) != 0)
    return git_fail(ERR_NOTFOUND, commit);
  if (git_commit_tree(&root, cm) != 0) {
    rc = git_fail(ERR_IO, commit);
    goto done;
  }
  const char *dir = directory ? directory : "/";
  while (*dir == '/')
    dir++;
  if (*dir) {
    if (git_tree_entry_bypath(&entry, root, dir) != 0 ||
        git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
      rc = error_set(ERR_NOTFOUND, "path \"%s\" does not exist in repo \"%s\"", directory, r->url);
      goto done;
    }
    if (git_tree_lookup(&sub, r->repo, git_tree_entry_id(entry)) != 0) {
      rc = git_fail(ERR_IO, directory);
      goto done;
    }
  }
  export_ctx c = {r->repo, 0, 0, fn, ctx};
  rc = export_tree(&c, sub ? sub : root, dest, "");
done:
  git_tree_entry_free(entry);
  git_tree_free(sub);
  git_tree_free(root);
  git_commit_free(cm);
  return rc;
}
