/* krm: see krm.h. */
#include "cad/krm.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "cad/scratch.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- identity ------------------------------------------------------------------------ */

static char *dup_or_empty(const char *s) { return str_dup(s ? s : ""); }

int krm_id_of(const yml_node *res, krm_id *out) {
  memset(out, 0, sizeof(*out));
  if (!res || yml_node_kind(yml_node_resolve(res)) != YML_MAP)
    return error_set(ERR_INVALID, "resource is not a mapping");
  const char *api = yml_lookup_str(res, "apiVersion", NULL);
  const char *slash = api ? strrchr(api, '/') : NULL;
  out->group = slash ? str_ndup(api, (size_t)(slash - api)) : str_dup("");
  out->version = dup_or_empty(slash ? slash + 1 : api);
  out->kind = dup_or_empty(yml_lookup_str(res, "kind", NULL));
  out->namespace = dup_or_empty(yml_lookup_str(res, "metadata", "namespace", NULL));
  out->name = dup_or_empty(yml_lookup_str(res, "metadata", "name", NULL));
  if (!out->group || !out->version || !out->kind || !out->namespace || !out->name) {
    krm_id_free(out);
    return error_set(ERR_NOMEM, "out of memory");
  }
  return 0;
}

void krm_id_free(krm_id *id) {
  free(id->group);
  free(id->version);
  free(id->kind);
  free(id->namespace);
  free(id->name);
  memset(id, 0, sizeof(*id));
}

static const char *ns_or_default(const char *ns) { return ns && *ns ? ns : "default"; }

bool krm_id_equal(const krm_id *a, const krm_id *b) {
  return str_eq(a->group, b->group) && str_eq(a->kind, b->kind) &&
         str_eq(ns_or_default(a->namespace), ns_or_default(b->namespace)) &&
         str_eq(a->name, b->name);
}

char *krm_id_upstream_string(const krm_id *id) {
  return str_printf("%s|%s|%s|%s", id->group, id->kind, ns_or_default(id->namespace), id->name);
}

char *krm_id_merge_comment(const krm_id *id) {
  return str_printf("%s/%s", id->namespace, id->name);
}

/* ---- annotations --------------------------------------------------------------------- */

const char *krm_annotation(const yml_node *res, const char *key) {
  return yml_lookup_str(res, "metadata", "annotations", key, NULL);
}

int krm_set_annotation(yml_node *res, const char *key, const char *value) {
  yml_node *md = yml_map_ensure_map(res, "metadata");
  yml_node *ann = md ? yml_map_ensure_map(md, "annotations") : NULL;
  if (!ann)
    return error_code() ? error_code() : ERR_NOMEM;
  yml_node *old = yml_map_get(ann, key);
  if (old && yml_node_kind(old) == YML_SCALAR) {
    size_t len;
    const char *cur = yml_scalar_value(old, &len);
    if (cur && len == strlen(value) && !memcmp(cur, value, len))
      return 0;
    if (yml_node_style(old) != YML_PLAIN)
      return yml_scalar_set(old, value, strlen(value));
  }
  return yml_map_set(ann, key, yml_scalar_new(value, strlen(value), YML_SINGLE_QUOTED));
}

int krm_remove_annotation(yml_node *res, const char *key) {
  yml_node *md = yml_map_get(res, "metadata");
  yml_node *ann = md ? yml_map_get(md, "annotations") : NULL;
  if (!ann || yml_node_kind(ann) != YML_MAP || yml_map_index(ann, key) < 0)
    return 0;
  int rc = yml_map_remove(ann, key);
  if (rc == 0 && yml_node_size(ann) == 0)
    rc = yml_map_remove(md, "annotations");
  return rc;
}

bool krm_is_local_config(const yml_node *res) {
  const char *v = krm_annotation(res, KRM_ANN_LOCAL_CONFIG);
  return v && !strcasecmp(v, "true");
}

bool krm_is_resource(const yml_node *res) {
  return res && yml_node_kind(res) == YML_MAP && yml_lookup_str(res, "apiVersion", NULL) &&
         yml_lookup_str(res, "kind", NULL);
}

const char *krm_seq_indent_of(const char *text, size_t len) {
  size_t prev_start = 0, prev_len = 0;
  bool have_prev = false;
  size_t p = 0;
  while (p < len) {
    const char *nl = memchr(text + p, '\n', len - p);
    size_t e = nl ? (size_t)(nl - text) : len;
    size_t sp = 0;
    while (p + sp < e && text[p + sp] == ' ')
      sp++;
    if (have_prev && p + sp + 1 < e && text[p + sp] == '-' && text[p + sp + 1] == ' ') {
      /* the key line must hold exactly one ':' and end with it */
      const char *k = text + prev_start;
      size_t kl = prev_len;
      size_t ksp = 0;
      while (ksp < kl && k[ksp] == ' ')
        ksp++;
      size_t kend = kl;
      while (kend > ksp && (k[kend - 1] == ' ' || k[kend - 1] == '\r'))
        kend--;
      size_t colons = 0;
      for (size_t i = ksp; i < kend; i++)
        colons += k[i] == ':';
      if (colons == 1 && kend > ksp && k[kend - 1] == ':') {
        if (sp == ksp)
          return "compact";
        if (sp == ksp + 2)
          return "wide";
      }
    }
    prev_start = p;
    prev_len = e - p;
    have_prev = true;
    p = e + 1;
  }
  return "compact";
}

/* ---- packages ------------------------------------------------------------------------ */

krm_pkg *krm_pkg_new(void) {
  krm_pkg *p = calloc(1, sizeof(*p));
  if (!p)
    error_set(ERR_NOMEM, "out of memory");
  return p;
}

void krm_pkg_free(krm_pkg *p) {
  if (!p)
    return;
  for (size_t i = 0; i < p->nfiles; i++) {
    free(p->files[i].path);
    yml_file_free(p->files[i].yaml);
  }
  free(p->files);
  free(p);
}

krm_file *krm_pkg_file(const krm_pkg *p, const char *path) {
  for (size_t i = 0; i < p->nfiles; i++)
    if (!strcmp(p->files[i].path, path))
      return &p->files[i];
  return NULL;
}

int krm_pkg_put(krm_pkg *p, const char *path, yml_file *yaml) {
  krm_file *f = krm_pkg_file(p, path);
  if (f) {
    yml_file_free(f->yaml);
    f->yaml = yaml;
    return 0;
  }
  if (p->nfiles >= KRM_MAX_FILES) {
    yml_file_free(yaml);
    return error_set(ERR_LIMIT, "more than %d files in a package", KRM_MAX_FILES);
  }
  if (p->nfiles == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    krm_file *n = realloc(p->files, cap * sizeof(*n));
    if (!n) {
      yml_file_free(yaml);
      return error_set(ERR_NOMEM, "out of memory");
    }
    p->files = n;
    p->cap = cap;
  }
  char *pc = str_dup(path);
  if (!pc) {
    yml_file_free(yaml);
    return ERR_NOMEM;
  }
  /* keep sorted by path (byte order, as kpt walks) */
  size_t at = p->nfiles;
  while (at > 0 && strcmp(p->files[at - 1].path, path) > 0)
    at--;
  memmove(&p->files[at + 1], &p->files[at], (p->nfiles - at) * sizeof(krm_file));
  p->files[at].path = pc;
  p->files[at].yaml = yaml;
  p->files[at].seqindent = "compact";
  p->nfiles++;
  return 0;
}

bool krm_is_yaml_name(const char *name) {
  return str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml") || !strcmp(name, "Kptfile");
}

int krm_pkg_add_text(krm_pkg *p, const char *path, const char *text, size_t len) {
  yml_file *y = NULL;
  int rc = yml_file_parse(&y, path, text ? text : "", len);
  if (rc)
    return rc;
  const char *si = krm_seq_indent_of(text ? text : "", len);
  if ((rc = krm_pkg_put(p, path, y)))
    return rc;
  krm_file *kf = krm_pkg_file(p, path);
  if (kf)
    kf->seqindent = si;
  return 0;
}

/* Names as read_dir stores them: a d_type byte, then the name. */
static int cmp_typed_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

bool krm_path_inside(const char *root_real, const char *path) {
  char real[PATH_MAX];
  if (!realpath(path, real))
    return false;
  size_t rl = strlen(root_real);
  return !strncmp(real, root_real, rl) && (real[rl] == '/' || real[rl] == 0);
}

static int read_dir(krm_pkg *p, const char *root_real, const char *dir, const char *rel,
                    unsigned flags, int depth) {
  if (depth > 64)
    return error_set(ERR_LIMIT, "%s: directories nested deeper than 64", dir);
  DIR *d = opendir(dir);
  if (!d)
    return error_set_errno(ERR_IO, "cannot read directory %s", dir);
  /* Each name is stored after a byte that holds its d_type ('A' + d_type: never NUL). */
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue; /* ., .., .git, hidden files */
    if (de->d_type == DT_REG && !krm_is_yaml_name(de->d_name))
      continue; /* a regular file that is not YAML: nothing to read, nothing to stat */
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      char **nn = realloc(names, cap * sizeof(*nn));
      if (!nn) {
        rc = error_set(ERR_NOMEM, "out of memory");
        break;
      }
      names = nn;
    }
    if (!(names[n] = str_printf("%c%s", 'A' + de->d_type, de->d_name))) {
      rc = ERR_NOMEM;
      break;
    }
    n++;
    if (n > KRM_MAX_FILES) {
      rc = error_set(ERR_LIMIT, "%s: more than %d entries", dir, KRM_MAX_FILES);
      break;
    }
  }
  closedir(d);
  if (!rc && n > 1)
    qsort(names, n, sizeof(*names), cmp_typed_names);
  for (size_t i = 0; i < n && !rc; i++) {
    unsigned char type = (unsigned char)(names[i][0] - 'A');
    const char *name = names[i] + 1;
    char *full = fs_join(dir, name);
    char *r = rel[0] ? str_printf("%s/%s", rel, name) : str_dup(name);
    /* A regular file per the listing (a YAML one: the others were not kept) needs no
     * lstat, and is read with fs_read_regular (never through a link, fewest calls). */
    bool listed_regular = type == DT_REG;
    struct stat st = {.st_mode = S_IFREG};
    if (!full || !r) {
      rc = ERR_NOMEM;
    } else if (!listed_regular && lstat(full, &st) != 0) {
      rc = error_set_errno(ERR_IO, "cannot stat %s", full);
    } else if (S_ISLNK(st.st_mode) && !krm_path_inside(root_real, full)) {
      rc = error_set(ERR_INVALID, "%s: symbolic link points outside the package", r);
    } else if (S_ISLNK(st.st_mode) && stat(full, &st) != 0) { /* a link: what it points at */
      rc = error_set_errno(ERR_IO, "cannot stat %s", full);
    } else if (S_ISDIR(st.st_mode)) {
      char *kf = fs_join(full, "Kptfile");
      bool sub = kf && fs_exists(kf);
      free(kf);
      if (!sub || (flags & KRM_READ_SUBPACKAGES))
        rc = read_dir(p, root_real, full, r, flags, depth + 1);
    } else if (S_ISREG(st.st_mode) && krm_is_yaml_name(name) &&
               !(strcmp(name, "Kptfile") == 0 && (flags & KRM_READ_NO_KPTFILE))) {
      buf text = BUF_INIT;
      rc = listed_regular ? fs_read_regular(full, KRM_MAX_FILE, &text)
                          : fs_read_file(full, KRM_MAX_FILE, &text);
      if (rc)
        error_prefix("%s", r);
      else
        rc = krm_pkg_add_text(p, r, text.data, text.len);
      buf_free(&text);
    }
    free(full);
    free(r);
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc;
}

int krm_pkg_read(krm_pkg **out, const char *dir, unsigned flags) {
  char root_real[PATH_MAX];
  if (!realpath(dir, root_real))
    return error_set_errno(ERR_NOTFOUND, "cannot open package %s", dir);
  krm_pkg *p = krm_pkg_new();
  if (!p)
    return ERR_NOMEM;
  int rc = read_dir(p, root_real, dir, "", flags, 0);
  if (rc) {
    krm_pkg_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int krm_pkg_write_scratch(const krm_pkg *p, const char *dir) {
  int rc = 0;
  for (size_t i = 0; i < p->nfiles && !rc; i++) {
    const krm_file *f = &p->files[i];
    if (!fs_path_is_safe(f->path))
      return error_set(ERR_INVALID, "%s: path escapes the package", f->path);
    buf out = BUF_INIT;
    char *full = fs_join(dir, f->path);
    if (!full)
      return ERR_NOMEM;
    rc = yml_file_write(f->yaml, &out);
    if (!rc) {
      bool need = yml_file_touched(f->yaml);
      if (!need) {
        buf cur = BUF_INIT;
        need = fs_read_file(full, KRM_MAX_FILE, &cur) != 0 || cur.len != out.len ||
               memcmp(cur.data ? cur.data : "", out.data ? out.data : "", out.len);
        buf_free(&cur);
      }
      if (need) {
        char *slash = strrchr(full, '/');
        if (slash) {
          *slash = 0;
          rc = fs_mkdir_p(full, 0755);
          *slash = '/';
        }
        if (!rc)
          rc = scratch_write(full, out.data ? out.data : "", out.len, 0644);
      }
    }
    buf_free(&out);
    free(full);
  }
  return rc;
}

/* ---- ResourceList -------------------------------------------------------------------- */

static const char *const RL_ANNOTATIONS[] = {KRM_ANN_INDEX, KRM_ANN_PATH, KRM_ANN_INTERNAL_INDEX,
                                             KRM_ANN_INTERNAL_PATH, KRM_ANN_SEQINDENT};

int krm_rl_from_pkg(yml_file **out, const krm_pkg *p, const yml_node *function_config) {
  yml_file *f = yml_file_new();
  yml_node *root = yml_map_new(YML_BLOCK);
  yml_node *items = yml_seq_new(YML_BLOCK);
  int rc = (!f || !root || !items) ? ERR_NOMEM : 0;
  if (!rc)
    rc = yml_map_set(root, "apiVersion", yml_str_new("config.kubernetes.io/v1"));
  if (!rc)
    rc = yml_map_set(root, "kind", yml_str_new("ResourceList"));
  for (size_t i = 0; i < p->nfiles && !rc; i++) {
    const krm_file *kf = &p->files[i];
    for (size_t d = 0; d < yml_file_doc_count(kf->yaml) && !rc; d++) {
      const yml_node *doc = yml_file_doc(kf->yaml, d);
      if (!doc || yml_node_kind(doc) != YML_MAP)
        continue;
      yml_node *item = yml_node_copy(doc);
      if (!item) {
        rc = ERR_NOMEM;
        break;
      }
      char idx[32];
      snprintf(idx, sizeof(idx), "%zu", d);
      char *head = yml_file_doc_head_comment(kf->yaml, d);
      if (head)
        rc = yml_node_set_head_comment(item, head);
      free(head);
      if (!rc)
        rc = krm_set_annotation(item, KRM_ANN_INDEX, idx);
      if (!rc)
        rc = krm_set_annotation(item, KRM_ANN_PATH, kf->path);
      if (!rc)
        rc = krm_set_annotation(item, KRM_ANN_INTERNAL_INDEX, idx);
      if (!rc)
        rc = krm_set_annotation(item, KRM_ANN_INTERNAL_PATH, kf->path);
      if (!rc)
        rc = krm_set_annotation(item, KRM_ANN_SEQINDENT, kf->seqindent);
      if (rc) {
        yml_node_free(item);
        break;
      }
      rc = yml_seq_append(items, item);
    }
  }
  if (!rc) {
    rc = yml_map_set(root, "items", items);
    items = NULL;
  }
  if (!rc && function_config) {
    yml_node *fc = yml_node_copy(function_config);
    rc = fc ? yml_map_set(root, "functionConfig", fc) : ERR_NOMEM;
  }
  if (!rc) {
    rc = yml_file_add_doc(f, root);
    root = NULL;
  }
  yml_node_free(items);
  yml_node_free(root);
  if (rc) {
    yml_file_free(f);
    return rc;
  }
  *out = f;
  return 0;
}

int krm_rl_check(const yml_node *root) {
  if (!root || yml_node_kind(root) != YML_MAP)
    return error_set(ERR_INVALID, "ResourceList: input is not a mapping");
  const char *kind = yml_lookup_str(root, "kind", NULL);
  const char *api = yml_lookup_str(root, "apiVersion", NULL);
  if (!kind || strcmp(kind, "ResourceList"))
    return error_set(ERR_INVALID, "ResourceList: kind is %s, want ResourceList", kind ? kind : "missing");
  if (!api || (strcmp(api, "config.kubernetes.io/v1") && strcmp(api, "config.kubernetes.io/v1alpha1")))
    return error_set(ERR_INVALID, "ResourceList: apiVersion is %s, want config.kubernetes.io/v1",
                     api ? api : "missing");
  const yml_node *items = yml_map_get(root, "items");
  if (items && yml_node_kind(items) != YML_SEQ && !yml_scalar_is_null(items))
    return error_set(ERR_INVALID, "ResourceList: items is not a list");
  return 0;
}

typedef struct rl_entry {
  krm_place at; /* first member: sorted with krm_place_cmp */
  yml_node *item;
} rl_entry;

int krm_place_cmp(const void *a, const void *b) {
  const krm_place *x = a, *y = b;
  int c = strcmp(x->path, y->path);
  if (c)
    return c;
  if (x->index != y->index)
    return x->index < y->index ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/* An item's top-level keys land at column 0 of its file, where a plain key reading
 * "--- x" or "... x" (kept from the source, indented under "- " there) would be a document
 * marker. Such entries are re-made in place with a fresh key, which the writer quotes
 * (as kyaml quotes any scalar starting with "---" or "..."). ERR_NOMEM. */
static int quote_marker_keys(yml_node *item) {
  if (!item || yml_node_kind(item) != YML_MAP)
    return 0;
  for (size_t i = 0; i < yml_node_size(item); i++) {
    size_t len = 0;
    const char *v = yml_scalar_value(yml_map_key_at(item, i), &len);
    if (!v || len < 3 || (strncmp(v, "---", 3) && strncmp(v, "...", 3)))
      continue;
    char *key = str_dup(v);
    yml_node *value = key ? yml_map_take_at(item, i) : NULL;
    int rc = value ? yml_map_insert(item, i, key, value) : ERR_NOMEM;
    free(key);
    if (rc)
      return rc;
  }
  return 0;
}

/* Items move from their place under "- " to column 0 of their file, their source text
 * de-indented. A line of a multi-line scalar that lands at column 0 reading "---" or "..."
 * would then end the document. When the written text has such a line, it is parsed again
 * and must give the same number of documents, else the item is refused (ERR_INVALID)
 * rather than written as something else. */
static int check_rewritten(const yml_file *f, const char *path) {
  buf out = BUF_INIT;
  int rc = yml_file_write(f, &out);
  const char *t = buf_cstr(&out);
  bool marker = false;
  for (size_t i = 0; !rc && i + 3 <= out.len && !marker; i++)
    marker = (i == 0 || t[i - 1] == '\n') && (!strncmp(t + i, "---", 3) || !strncmp(t + i, "...", 3));
  if (!rc && marker) {
    yml_file *g = NULL;
    if (yml_file_parse(&g, path, t, out.len) != 0 || yml_file_doc_count(g) != yml_file_doc_count(f))
      rc = error_set(ERR_INVALID, "ResourceList: the items for %s cannot be written back as YAML "
                                  "(a multi-line value would end the document)", path);
    yml_file_free(g);
  }
  buf_free(&out);
  return rc;
}

bool krm_has_complex_key(const yml_node *n) {
  if (!n)
    return false;
  bool map = yml_node_kind(n) == YML_MAP;
  if (!map && yml_node_kind(n) != YML_SEQ)
    return false;
  for (size_t i = 0; i < yml_node_size(n); i++) {
    if (map && yml_node_kind(yml_map_key_at(n, i)) != YML_SCALAR)
      return true;
    if (krm_has_complex_key(map ? yml_map_value_at(n, i) : yml_seq_at(n, i)))
      return true;
  }
  return false;
}

static char *default_path(const yml_node *item) {
  const char *kind = yml_lookup_str(item, "kind", NULL);
  const char *name = yml_lookup_str(item, "metadata", "name", NULL);
  char *s = str_printf("%s_%s.yaml", kind ? kind : "resource", name ? name : "unnamed");
  for (char *c = s; c && *c; c++)
    *c = (char)tolower((unsigned char)*c);
  return s;
}

int krm_rl_to_pkg(krm_pkg **out, const yml_node *rl_root) {
  int rc = krm_rl_check(rl_root);
  if (rc)
    return rc;
  const yml_node *items = yml_map_get(rl_root, "items");
  size_t n = items && yml_node_kind(items) == YML_SEQ ? yml_node_size(items) : 0;
  rl_entry *ents = calloc(n ? n : 1, sizeof(*ents));
  krm_pkg *p = krm_pkg_new();
  if (!ents || !p) {
    free(ents);
    krm_pkg_free(p);
    return error_set(ERR_NOMEM, "out of memory");
  }
  size_t k = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const yml_node *it = yml_seq_at(items, i);
    if (yml_node_kind(it) != YML_MAP) {
      rc = error_set(ERR_INVALID, "ResourceList: item %zu is not a mapping", i);
      break;
    }
    if (krm_has_complex_key(it)) {
      rc = error_set(ERR_INVALID, "ResourceList: item %zu: a mapping key that is not a string", i);
      break;
    }
    const char *path = krm_annotation(it, KRM_ANN_INTERNAL_PATH);
    if (!path)
      path = krm_annotation(it, KRM_ANN_PATH);
    const char *idx = krm_annotation(it, KRM_ANN_INTERNAL_INDEX);
    if (!idx)
      idx = krm_annotation(it, KRM_ANN_INDEX);
    int64_t index = 0;
    if (idx && str_to_int64(idx, 0, 1000000, &index)) {
      rc = error_set(ERR_INVALID, "ResourceList: item %zu: bad index annotation '%s'", i, idx);
      break;
    }
    ents[k].at.path = path ? str_dup(path) : default_path(it);
    if (!ents[k].at.path) {
      rc = ERR_NOMEM;
      break;
    }
    if (!fs_path_is_safe(ents[k].at.path)) {
      rc = error_set(ERR_INVALID, "ResourceList: item %zu: path '%s' escapes the package", i,
                     ents[k].at.path);
      free(ents[k].at.path);
      break;
    }
    ents[k].at.index = (long)index;
    ents[k].at.order = i;
    ents[k].item = yml_node_copy(it);
    if (!ents[k].item) {
      free(ents[k].at.path);
      rc = ERR_NOMEM;
      break;
    }
    if ((rc = quote_marker_keys(ents[k].item))) {
      free(ents[k].at.path);
      yml_node_free(ents[k].item);
      break;
    }
    char *head = yml_seq_item_head_comment(items, i);
    if (head)
      yml_node_set_head_comment(ents[k].item, head);
    free(head);
    const char *si = krm_annotation(ents[k].item, KRM_ANN_SEQINDENT);
    (void)si;
    for (size_t a = 0; a < sizeof(RL_ANNOTATIONS) / sizeof(*RL_ANNOTATIONS) && !rc; a++)
      rc = krm_remove_annotation(ents[k].item, RL_ANNOTATIONS[a]);
    /* a metadata map left empty (non-KRM YAML) goes too */
    yml_node *md = yml_map_get(ents[k].item, "metadata");
    if (!rc && md && yml_node_kind(md) == YML_MAP && yml_node_size(md) == 0)
      rc = yml_map_remove(ents[k].item, "metadata");
    k++;
  }
  if (!rc)
    qsort(ents, k, sizeof(*ents), krm_place_cmp);
  for (size_t i = 0; i < k && !rc;) {
    yml_file *f = yml_file_new();
    if (!f) {
      rc = ERR_NOMEM;
      break;
    }
    size_t j = i;
    for (; j < k && !strcmp(ents[j].at.path, ents[i].at.path) && !rc; j++) {
      rc = yml_file_add_doc(f, ents[j].item);
      ents[j].item = NULL;
    }
    if (!rc)
      rc = check_rewritten(f, ents[i].at.path);
    if (!rc)
      rc = krm_pkg_put(p, ents[i].at.path, f);
    else
      yml_file_free(f);
    i = j;
  }
  for (size_t i = 0; i < k; i++) {
    free(ents[i].at.path);
    yml_node_free(ents[i].item);
  }
  free(ents);
  if (rc) {
    krm_pkg_free(p);
    return rc;
  }
  *out = p;
  return 0;
}
