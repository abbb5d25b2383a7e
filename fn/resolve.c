/* resolve: see resolve.h. */
#include "resolve.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/str.h"
#include "catalog.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int resolve_add_dirs(resolve_config *cfg, char *list, bool exec_dirs) {
  const char **dirs = exec_dirs ? cfg->exec_dirs : cfg->fn_dirs;
  size_t *n = exec_dirs ? &cfg->n_exec_dirs : &cfg->n_fn_dirs;
  for (char *p = list; p && *p;) {
    char *colon = strchr(p, ':');
    if (colon)
      *colon = 0;
    if (*p) {
      if (*n >= RESOLVE_MAX_DIRS)
        return error_set(ERR_LIMIT, "more than %d function directories", RESOLVE_MAX_DIRS);
      dirs[(*n)++] = p;
    }
    p = colon ? colon + 1 : NULL;
  }
  return 0;
}

void resolve_image_ref_free(image_ref *ref) {
  free(ref->registry);
  free(ref->path);
  free(ref->name);
  free(ref->tag);
  free(ref->digest);
  memset(ref, 0, sizeof(*ref));
}

static bool path_component_ok(const char *s, size_t n) {
  if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static bool registry_ok(const char *s, size_t n) {
  if (n == 0 || !isalnum((unsigned char)s[0]))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
      return false;
  }
  return true;
}

static bool tag_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128 || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
      return false;
  }
  return true;
}

static bool digest_ok(const char *s) {
  const char *colon = strchr(s, ':');
  if (!colon || colon == s || !colon[1])
    return false;
  for (const char *p = s; p < colon; p++)
    if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '.' || *p == '_' || *p == '-'))
      return false;
  for (const char *p = colon + 1; *p; p++)
    if (!isxdigit((unsigned char)*p))
      return false;
  return true;
}

int resolve_parse_image(const char *image, image_ref *out) {
  image_ref r;
  memset(&r, 0, sizeof(r));
  if (!image || !*image || strlen(image) > 1024)
    return error_set(ERR_INVALID, "empty or overlong function image reference");
  char *work = str_dup(image);
  if (!work)
    return ERR_NOMEM;
  int rc = 0;
  char *at = strchr(work, '@');
  if (at) {
    *at = 0;
    if (!digest_ok(at + 1)) {
      rc = error_set(ERR_INVALID, "function image %s: bad digest '%s'", image, at + 1);
      goto done;
    }
    r.digest = str_dup(at + 1);
  }
  char *slash = strrchr(work, '/');
  char *colon = strrchr(slash ? slash : work, ':');
  if (colon) {
    *colon = 0;
    if (!tag_ok(colon + 1)) {
      rc = error_set(ERR_INVALID, "function image %s: bad tag '%s'", image, colon + 1);
      goto done;
    }
    r.tag = str_dup(colon + 1);
  }
  char *path = work;
  char *first = strchr(work, '/');
  if (first) {
    size_t n = (size_t)(first - work);
    bool is_registry = memchr(work, '.', n) || memchr(work, ':', n) ||
                       (n == 9 && !memcmp(work, "localhost", 9));
    if (is_registry) {
      if (!registry_ok(work, n)) {
        rc = error_set(ERR_INVALID, "function image %s: bad registry", image);
        goto done;
      }
      r.registry = str_ndup(work, n);
      path = first + 1;
    }
  }
  for (const char *seg = path;;) {
    const char *end = strchr(seg, '/');
    size_t n = end ? (size_t)(end - seg) : strlen(seg);
    if (!path_component_ok(seg, n)) {
      rc = error_set(ERR_INVALID, "function image %s: bad name '%s' (lower-case letters, digits, "
                                  "'.', '_' and '-' between slashes)",
                     image, path);
      goto done;
    }
    if (!end) {
      r.name = str_ndup(seg, n);
      break;
    }
    seg = end + 1;
  }
  r.path = str_dup(path);
  if (!r.path || !r.name || (r.tag == NULL && colon) || (r.digest == NULL && at)) {
    rc = ERR_NOMEM;
    goto done;
  }
  *out = r;
  memset(&r, 0, sizeof(r));
done:
  resolve_image_ref_free(&r);
  free(work);
  return rc;
}

void resolved_fn_free(resolved_fn *fn) {
  free(fn->builtin);
  for (int i = 0; i < fn->argc; i++)
    free(fn->argv[i]);
  memset(fn, 0, sizeof(*fn));
}

static bool is_executable_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* Is the canonical `real` inside the directory `dir` (canonicalised here)? */
static bool inside_dir(const char *real, const char *dir) {
  char d[PATH_MAX];
  if (!realpath(dir, d))
    return false;
  size_t n = strlen(d);
  if (n == 1 && d[0] == '/')
    return true;
  return !strncmp(real, d, n) && real[n] == '/';
}

static int set_exec(resolved_fn *out, const char *real) {
  out->kind = RESOLVED_EXEC;
  out->argv[0] = str_dup(real);
  if (!out->argv[0])
    return ERR_NOMEM;
  out->argc = 1;
  out->exe = out->argv[0];
  return 0;
}

int resolve_image(const resolve_config *cfg, const char *image, resolved_fn *out) {
  image_ref ref;
  memset(out, 0, sizeof(*out));
  int rc = resolve_parse_image(image, &ref);
  if (rc)
    return rc;
  for (size_t i = 0; i < cfg->n_fn_dirs; i++) {
    char *p = str_printf("%s/%s", cfg->fn_dirs[i], ref.name);
    char real[PATH_MAX];
    bool found = p && is_executable_file(p) && realpath(p, real);
    free(p);
    if (found) {
      rc = set_exec(out, real);
      goto done;
    }
  }
  if (catalog_find(ref.name)) {
    out->kind = RESOLVED_BUILTIN;
    out->builtin = str_dup(ref.name);
    rc = out->builtin ? 0 : ERR_NOMEM;
    goto done;
  }
  buf dirs = BUF_INIT;
  for (size_t i = 0; i < cfg->n_fn_dirs; i++)
    buf_printf(&dirs, "%s%s", i ? ", " : "", cfg->fn_dirs[i]);
  rc = error_set(ERR_NOTFOUND,
                 "function image %s not found: '%s' is not a built-in function (%s) and no "
                 "function directory has an executable of that name (%s)",
                 image, ref.name, catalog_names(),
                 dirs.len ? buf_cstr(&dirs) : "no function directories configured");
  buf_free(&dirs);
done:
  resolve_image_ref_free(&ref);
  return rc;
}

/* Splits `command` into words: blanks separate, '...' and "..." group (no escapes). */
static int split_words(const char *command, char **words, int max, int *n_out) {
  int n = 0;
  const char *p = command;
  buf w = BUF_INIT;
  int rc = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n')
      p++;
    if (!*p)
      break;
    buf_reset(&w);
    buf_puts(&w, "");
    while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
      if (*p == '\'' || *p == '"') {
        char q = *p++;
        const char *end = strchr(p, q);
        if (!end) {
          rc = error_set(ERR_INVALID, "unterminated quote in exec command: %s", command);
          goto done;
        }
        buf_append(&w, p, (size_t)(end - p));
        p = end + 1;
      } else {
        buf_putc(&w, *p++);
      }
    }
    if (n >= max) {
      rc = error_set(ERR_LIMIT, "exec command has more than %d words", max);
      goto done;
    }
    words[n] = str_dup(buf_cstr(&w));
    if (!words[n]) {
      rc = ERR_NOMEM;
      goto done;
    }
    n++;
  }
done:
  buf_free(&w);
  if (rc) {
    for (int i = 0; i < n; i++)
      free(words[i]);
    n = 0;
  }
  *n_out = n;
  return rc;
}

/* Finds `prog` (no slash) in $PATH. Caller frees. */
static char *search_path(const char *prog) {
  const char *path = getenv("PATH");
  if (!path)
    path = "/usr/local/bin:/usr/bin:/bin";
  for (const char *p = path; *p;) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    char *cand = str_printf("%.*s/%s", (int)n, n ? p : ".", prog);
    if (cand && is_executable_file(cand))
      return cand;
    free(cand);
    if (!colon)
      break;
    p = colon + 1;
  }
  return NULL;
}

int resolve_exec(const resolve_config *cfg, const char *command, const char *base_dir,
                 resolved_fn *out) {
  memset(out, 0, sizeof(*out));
  char *words[RESOLVE_MAX_ARGS + 1];
  int n = 0;
  int rc = split_words(command ? command : "", words, RESOLVE_MAX_ARGS + 1, &n);
  if (rc)
    return rc;
  if (n == 0)
    return error_set(ERR_INVALID, "empty exec command");
  char *candidate = NULL;
  if (strchr(words[0], '/'))
    candidate = words[0][0] == '/' || !base_dir ? str_dup(words[0])
                                                : str_printf("%s/%s", base_dir, words[0]);
  else
    candidate = search_path(words[0]);
  char real[PATH_MAX];
  if (!candidate || !realpath(candidate, real) || !is_executable_file(real)) {
    rc = error_set(ERR_NOTFOUND, "exec function '%s' not found or not executable", words[0]);
    goto done;
  }
  if (cfg->n_exec_dirs || cfg->exec_dirs_required) {
    bool ok = false;
    for (size_t i = 0; i < cfg->n_exec_dirs && !ok; i++)
      ok = inside_dir(real, cfg->exec_dirs[i]);
    if (!ok) {
      rc = error_set(ERR_FORBIDDEN,
                     "exec function %s (%s) is outside the allowed exec directories", words[0],
                     real);
      goto done;
    }
  }
  rc = set_exec(out, real);
  for (int i = 1; i < n && !rc; i++) {
    out->argv[out->argc] = str_dup(words[i]);
    if (!out->argv[out->argc])
      rc = ERR_NOMEM;
    else
      out->argc++;
  }
  if (rc)
    resolved_fn_free(out);
done:
  free(candidate);
  for (int i = 0; i < n; i++)
    free(words[i]);
  return rc;
}
