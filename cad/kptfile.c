/* kptfile: see kptfile.h. */
#include "cad/kptfile.h"
#include "cad/scratch.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>

/* ---- schema -------------------------------------------------------------------------- */

typedef struct field field;
typedef struct schema {
  const field *fields;
} schema;

/* 's' string, 'm' map with schema, 'M' map of strings, 'l' list of maps with schema,
 * 'L' list of strings, 'b' boolean or string */
struct field {
  const char *name;
  char type;
  const schema *sub;
};

static const field F_META[] = {{"name", 's', NULL}, {"namespace", 's', NULL},
                               {"labels", 'M', NULL}, {"annotations", 'M', NULL}, {NULL, 0, NULL}};
static const schema S_META = {F_META};
static const field F_GIT[] = {{"repo", 's', NULL}, {"directory", 's', NULL}, {"ref", 's', NULL},
                              {NULL, 0, NULL}};
static const schema S_GIT = {F_GIT};
static const field F_GITLOCK[] = {{"repo", 's', NULL}, {"directory", 's', NULL},
                                  {"ref", 's', NULL}, {"commit", 's', NULL}, {NULL, 0, NULL}};
static const schema S_GITLOCK = {F_GITLOCK};
static const field F_OCI[] = {{"image", 's', NULL}, {NULL, 0, NULL}};
static const schema S_OCI = {F_OCI};
static const field F_UPSTREAM[] = {{"type", 's', NULL}, {"git", 'm', &S_GIT}, {"oci", 'm', &S_OCI},
                                   {"updateStrategy", 's', NULL}, {NULL, 0, NULL}};
static const schema S_UPSTREAM = {F_UPSTREAM};
static const field F_LOCK[] = {{"type", 's', NULL}, {"git", 'm', &S_GITLOCK}, {"oci", 'm', &S_OCI},
                               {NULL, 0, NULL}};
static const schema S_LOCK = {F_LOCK};
static const field F_GATE[] = {{"conditionType", 's', NULL}, {NULL, 0, NULL}};
static const schema S_GATE = {F_GATE};
static const field F_INFO[] = {{"site", 's', NULL},        {"emails", 'L', NULL},
                               {"license", 's', NULL},     {"licenseFile", 's', NULL},
                               {"description", 's', NULL}, {"keywords", 'L', NULL},
                               {"man", 's', NULL},         {"readinessGates", 'l', &S_GATE},
                               {NULL, 0, NULL}};
static const schema S_INFO = {F_INFO};
static const field F_SEL[] = {{"apiVersion", 's', NULL}, {"kind", 's', NULL},
                              {"name", 's', NULL},       {"namespace", 's', NULL},
                              {"labels", 'M', NULL},     {"annotations", 'M', NULL},
                              {NULL, 0, NULL}};
static const schema S_SEL = {F_SEL};
static const field F_FN[] = {{"image", 's', NULL},     {"exec", 's', NULL},
                             {"configPath", 's', NULL}, {"configMap", 'M', NULL},
                             {"name", 's', NULL},       {"selectors", 'l', &S_SEL},
                             {"exclude", 'l', &S_SEL},  {NULL, 0, NULL}};
static const schema S_FN = {F_FN};
static const field F_PIPELINE[] = {{"mutators", 'l', &S_FN}, {"validators", 'l', &S_FN},
                                   {NULL, 0, NULL}};
static const schema S_PIPELINE = {F_PIPELINE};
static const field F_INVENTORY[] = {{"namespace", 's', NULL},  {"name", 's', NULL},
                                    {"inventoryID", 's', NULL}, {"labels", 'M', NULL},
                                    {"annotations", 'M', NULL}, {NULL, 0, NULL}};
static const schema S_INVENTORY = {F_INVENTORY};
static const field F_COND[] = {{"type", 's', NULL},   {"status", 's', NULL}, {"reason", 's', NULL},
                               {"message", 's', NULL}, {NULL, 0, NULL}};
static const schema S_COND = {F_COND};
static const field F_STATUS[] = {{"conditions", 'l', &S_COND}, {NULL, 0, NULL}};
static const schema S_STATUS = {F_STATUS};
static const field F_ROOT[] = {{"apiVersion", 's', NULL},       {"kind", 's', NULL},
                               {"metadata", 'm', &S_META},      {"upstream", 'm', &S_UPSTREAM},
                               {"upstreamLock", 'm', &S_LOCK},  {"info", 'm', &S_INFO},
                               {"pipeline", 'm', &S_PIPELINE},  {"inventory", 'm', &S_INVENTORY},
                               {"status", 'm', &S_STATUS},      {NULL, 0, NULL}};
static const schema S_ROOT = {F_ROOT};

static int invalid_at(const char *file, const yml_node *n, const char *fmt, const char *a,
                      const char *b) {
  char msg[512];
  snprintf(msg, sizeof(msg), fmt, a, b ? b : "");
  if (n && yml_node_line(n) > 0)
    return error_set(ERR_INVALID, "%s:%d:%d: %s", file, yml_node_line(n), yml_node_column(n), msg);
  return error_set(ERR_INVALID, "%s: %s", file, msg);
}

static bool is_scalar(const yml_node *n) {
  n = yml_node_resolve(n);
  return n && yml_node_kind(n) == YML_SCALAR;
}

static int check_map(const char *file, const char *path, const yml_node *m, const schema *sc);

static int check_value(const char *file, const char *path, const yml_node *v, const field *f) {
  const yml_node *r = yml_node_resolve(v);
  if (!r || yml_scalar_is_null(r))
    return 0; /* null is "not set" */
  switch (f->type) {
  case 's':
  case 'b':
    if (!is_scalar(r))
      return invalid_at(file, v, "%s: expected a string%s", path, NULL);
    return 0;
  case 'm':
    if (yml_node_kind(r) != YML_MAP)
      return invalid_at(file, v, "%s: expected a mapping%s", path, NULL);
    return check_map(file, path, r, f->sub);
  case 'M':
    if (yml_node_kind(r) != YML_MAP)
      return invalid_at(file, v, "%s: expected a mapping%s", path, NULL);
    for (size_t i = 0; i < yml_node_size(r); i++)
      if (!is_scalar(yml_map_value_at(r, i)) && !yml_scalar_is_null(yml_map_value_at(r, i)))
        return invalid_at(file, yml_map_value_at(r, i), "%s: values must be strings%s", path, NULL);
    return 0;
  case 'L':
    if (yml_node_kind(r) != YML_SEQ)
      return invalid_at(file, v, "%s: expected a list%s", path, NULL);
    for (size_t i = 0; i < yml_node_size(r); i++)
      if (!is_scalar(yml_seq_at(r, i)))
        return invalid_at(file, yml_seq_at(r, i), "%s: expected a list of strings%s", path, NULL);
    return 0;
  case 'l':
    if (yml_node_kind(r) != YML_SEQ)
      return invalid_at(file, v, "%s: expected a list%s", path, NULL);
    for (size_t i = 0; i < yml_node_size(r); i++) {
      const yml_node *it = yml_node_resolve(yml_seq_at(r, i));
      if (!it || yml_node_kind(it) != YML_MAP)
        return invalid_at(file, yml_seq_at(r, i), "%s: expected a list of mappings%s", path, NULL);
      int rc = check_map(file, path, it, f->sub);
      if (rc)
        return rc;
    }
    return 0;
  }
  return 0;
}

static int check_map(const char *file, const char *path, const yml_node *m, const schema *sc) {
  for (size_t i = 0; i < yml_node_size(m); i++) {
    const yml_node *k = yml_map_key_at(m, i);
    const char *name = yml_scalar_value(k, NULL);
    const field *f = NULL;
    for (const field *c = sc->fields; name && c->name; c++)
      if (!strcmp(c->name, name))
        f = c;
    if (!f)
      return invalid_at(file, k, "field \"%s\" is not known in %s", name ? name : "?",
                        path[0] ? path : "the Kptfile");
    char sub[256];
    snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", name);
    int rc = check_value(file, sub, yml_map_value_at(m, i), f);
    if (rc)
      return rc;
  }
  return 0;
}

bool kptfile_strategy_valid(const char *s) {
  return s && (!strcmp(s, "resource-merge") || !strcmp(s, "fast-forward") ||
               !strcmp(s, "force-delete-replace") || !strcmp(s, "copy-merge"));
}

static int check_functions(const char *file, const yml_node *list, const char *what) {
  for (size_t i = 0; list && i < yml_node_size(list); i++) {
    const yml_node *fn = yml_seq_at(list, i);
    const char *image = yml_lookup_str(fn, "image", NULL);
    const char *exec = yml_lookup_str(fn, "exec", NULL);
    bool has_image = image && *image, has_exec = exec && *exec;
    if (has_image == has_exec)
      return invalid_at(file, fn, "pipeline.%s[%s]: a function needs exactly one of image and exec",
                        what, i < 10 ? (const char[]){(char)('0' + i), 0} : "n");
    if (yml_lookup(fn, "configPath", NULL) && yml_lookup(fn, "configMap", NULL))
      return invalid_at(file, fn, "pipeline.%s: configPath and configMap are mutually exclusive%s",
                        what, NULL);
    const char *cp = yml_lookup_str(fn, "configPath", NULL);
    if (cp && *cp && !fs_path_is_safe(cp))
      return invalid_at(file, fn, "pipeline.%s: configPath \"%s\" must be a relative path inside the package",
                        what, cp);
  }
  return 0;
}

int kptfile_validate(const yml_node *root, const char *name) {
  const char *file = name ? name : KPTFILE_NAME;
  if (!root || yml_node_kind(root) != YML_MAP)
    return invalid_at(file, root, "a Kptfile must be a mapping%s%s", "", NULL);
  const char *api = yml_lookup_str(root, "apiVersion", NULL);
  const char *kind = yml_lookup_str(root, "kind", NULL);
  if (!kind || strcmp(kind, KPTFILE_KIND))
    return invalid_at(file, yml_map_get(root, "kind") ? yml_map_get(root, "kind") : root,
                      "kind is \"%s\", want Kptfile%s", kind ? kind : "", NULL);
  if (!api || strcmp(api, KPTFILE_API_VERSION))
    return invalid_at(file, yml_map_get(root, "apiVersion") ? yml_map_get(root, "apiVersion") : root,
                      "apiVersion is \"%s\", want kpt.dev/v1%s", api ? api : "", NULL);
  int rc = check_map(file, "", root, &S_ROOT);
  if (rc)
    return rc;
  const yml_node *up = yml_lookup(root, "upstream", NULL);
  if (up && yml_node_kind(up) == YML_MAP) {
    const char *type = yml_lookup_str(up, "type", NULL);
    if (type && strcmp(type, "git") && strcmp(type, "oci"))
      return invalid_at(file, yml_map_get(up, "type"), "upstream.type \"%s\" is not git or oci%s", type, NULL);
    if (type && !strcmp(type, "git") && !yml_lookup_str(up, "git", "repo", NULL))
      return invalid_at(file, up, "upstream.git.repo is required for a git upstream%s%s", "", NULL);
    const char *st = yml_lookup_str(up, "updateStrategy", NULL);
    if (st && !kptfile_strategy_valid(st))
      return invalid_at(file, yml_map_get(up, "updateStrategy"),
                        "updateStrategy \"%s\" is not one of resource-merge, fast-forward, "
                        "force-delete-replace, copy-merge%s", st, NULL);
  }
  if ((rc = check_functions(file, yml_lookup(root, "pipeline", "mutators", NULL), "mutators")) ||
      (rc = check_functions(file, yml_lookup(root, "pipeline", "validators", NULL), "validators")))
    return rc;
  return 0;
}

/* ---- reading and writing ------------------------------------------------------------- */

void kptfile_free(kptfile *k) {
  if (!k)
    return;
  yml_file_free(k->yaml);
  free(k);
}

int kptfile_parse(kptfile **out, const char *name, const char *text, size_t len) {
  yml_file *y = NULL;
  int rc = yml_file_parse(&y, name, text, len);
  if (rc)
    return rc;
  if (yml_file_doc_count(y) != 1) {
    yml_file_free(y);
    return error_set(ERR_INVALID, "%s: a Kptfile must hold exactly one YAML document", name);
  }
  rc = kptfile_validate(yml_file_doc(y, 0), name);
  if (rc) {
    yml_file_free(y);
    return rc;
  }
  kptfile *k = calloc(1, sizeof(*k));
  if (!k) {
    yml_file_free(y);
    return error_set(ERR_NOMEM, "out of memory");
  }
  k->yaml = y;
  k->root = yml_file_doc(y, 0);
  *out = k;
  return 0;
}

int kptfile_read(kptfile **out, const char *dir) {
  char *path = fs_join(dir, KPTFILE_NAME);
  if (!path)
    return ERR_NOMEM;
  buf text = BUF_INIT;
  int rc = fs_read_file(path, 1 << 20, &text);
  if (rc == ERR_NOTFOUND)
    rc = error_set(ERR_NOTFOUND, "%s: no Kptfile", dir);
  else if (rc)
    error_prefix("%s", path);
  else
    rc = kptfile_parse(out, path, text.data ? text.data : "", text.len);
  buf_free(&text);
  free(path);
  return rc;
}

static int wrap_new(kptfile **out, yml_node *root) {
  yml_file *y = yml_file_new();
  kptfile *k = calloc(1, sizeof(*k));
  if (!root || !y || !k || yml_file_add_doc(y, root)) {
    if (!y || !k)
      yml_node_free(root);
    yml_file_free(y);
    free(k);
    return error_code() ? error_code() : ERR_NOMEM;
  }
  k->yaml = y;
  k->root = root;
  *out = k;
  return 0;
}

int kptfile_new_minimal(kptfile **out, const char *name) {
  yml_node *root = yml_map_new(YML_BLOCK);
  yml_node *md = yml_map_new(YML_BLOCK);
  if (!root || !md || yml_map_set(root, "apiVersion", yml_str_new(KPTFILE_API_VERSION)) ||
      yml_map_set(root, "kind", yml_str_new(KPTFILE_KIND)) ||
      yml_map_set(md, "name", yml_str_new(name))) {
    yml_node_free(root);
    yml_node_free(md);
    return ERR_NOMEM;
  }
  if (yml_map_set(root, "metadata", md)) {
    yml_node_free(root);
    return ERR_NOMEM;
  }
  return wrap_new(out, root);
}

int kptfile_new_init(kptfile **out, const char *name, const char *description,
                     const char **keywords, size_t nkeywords, const char *site) {
  kptfile *k = NULL;
  int rc = kptfile_new_minimal(&k, name);
  if (rc)
    return rc;
  yml_node *md = yml_map_get(k->root, "metadata");
  yml_node *ann = yml_map_new(YML_BLOCK);
  rc = yml_map_set(ann, "config.kubernetes.io/local-config",
                   yml_scalar_new("true", 4, YML_DOUBLE_QUOTED));
  if (!rc)
    rc = yml_map_set(md, "annotations", ann);
  else
    yml_node_free(ann);
  yml_node *info = rc ? NULL : yml_map_new(YML_BLOCK);
  if (!rc && !info)
    rc = ERR_NOMEM;
  if (!rc && site && *site)
    rc = yml_map_set(info, "site", yml_str_new(site));
  if (!rc && description && *description)
    rc = yml_map_set(info, "description", yml_str_new(description));
  if (!rc && nkeywords) {
    yml_node *kw = yml_seq_new(YML_BLOCK);
    for (size_t i = 0; kw && !rc && i < nkeywords; i++)
      rc = yml_seq_append(kw, yml_str_new(keywords[i]));
    rc = rc ? (yml_node_free(kw), rc) : yml_map_set(info, "keywords", kw);
  }
  if (!rc && info && yml_node_size(info))
    rc = yml_map_set(k->root, "info", info);
  else
    yml_node_free(info);
  if (rc) {
    kptfile_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

int kptfile_set_name(kptfile *k, const char *name) {
  yml_node *md = yml_map_ensure_map(k->root, "metadata");
  return md ? yml_map_set_str(md, "name", name) : error_code();
}

/* Where a new top-level field goes: after the last present field that kpt orders before
 * it. */
static size_t insert_pos(const yml_node *root, const char *name) {
  static const char *order[] = {"apiVersion", "kind", "metadata", "upstream", "upstreamLock",
                                "info", "pipeline", "inventory", "status"};
  size_t mine = 0;
  for (size_t i = 0; i < sizeof(order) / sizeof(*order); i++)
    if (!strcmp(order[i], name))
      mine = i;
  size_t pos = 0;
  for (size_t i = 0; i < yml_node_size(root); i++) {
    const char *k = yml_scalar_value(yml_map_key_at(root, i), NULL);
    for (size_t j = 0; k && j < mine; j++)
      if (!strcmp(order[j], k))
        pos = i + 1;
  }
  return pos;
}

/* Sets map[key] to a string, keeping an existing scalar node (and its quoting). */
static int set_str(yml_node *map, const char *key, const char *value) {
  if (!value || !*value) {
    if (yml_map_index(map, key) >= 0)
      return yml_map_remove(map, key);
    return 0;
  }
  return yml_map_set_str(map, key, value);
}

static yml_node *ensure_section(kptfile *k, const char *name) {
  yml_node *sec = yml_map_get(k->root, name);
  if (sec && yml_node_kind(sec) == YML_MAP)
    return sec;
  sec = yml_map_new(YML_BLOCK);
  if (!sec)
    return NULL;
  if (yml_map_index(k->root, name) >= 0) {
    if (yml_map_set(k->root, name, sec))
      return NULL;
  } else if (yml_map_insert(k->root, insert_pos(k->root, name), name, sec)) {
    return NULL;
  }
  return sec;
}

static int set_git(yml_node *sec, const kptfile_git *git, bool lock) {
  int rc = set_str(sec, "type", "git");
  yml_node *g = rc ? NULL : yml_map_ensure_map(sec, "git");
  if (!rc && !g)
    return error_code() ? error_code() : ERR_NOMEM;
  if (!rc)
    rc = set_str(g, "repo", git->repo);
  if (!rc)
    rc = set_str(g, "directory", git->directory);
  if (!rc)
    rc = set_str(g, "ref", git->ref);
  if (!rc && lock)
    rc = set_str(g, "commit", git->commit);
  return rc;
}

int kptfile_set_upstream(kptfile *k, const kptfile_git *git, const char *strategy) {
  yml_node *up = ensure_section(k, "upstream");
  if (!up)
    return error_code() ? error_code() : ERR_NOMEM;
  int rc = set_git(up, git, false);
  if (!rc && strategy)
    rc = set_str(up, "updateStrategy", strategy);
  return rc;
}

int kptfile_set_upstream_lock(kptfile *k, const kptfile_git *git) {
  yml_node *lock = ensure_section(k, "upstreamLock");
  if (!lock)
    return error_code() ? error_code() : ERR_NOMEM;
  return set_git(lock, git, true);
}

int kptfile_upstream(const kptfile *k, kptfile_git *git, const char **strategy) {
  const yml_node *up = yml_map_get(k->root, "upstream");
  memset(git, 0, sizeof(*git));
  if (!up || yml_node_kind(up) != YML_MAP)
    return error_set(ERR_NOTFOUND, "Kptfile has no upstream");
  git->repo = yml_lookup_str(up, "git", "repo", NULL);
  git->directory = yml_lookup_str(up, "git", "directory", NULL);
  git->ref = yml_lookup_str(up, "git", "ref", NULL);
  if (strategy)
    *strategy = yml_lookup_str(up, "updateStrategy", NULL);
  return 0;
}

int kptfile_upstream_lock(const kptfile *k, kptfile_git *git) {
  const yml_node *lock = yml_map_get(k->root, "upstreamLock");
  memset(git, 0, sizeof(*git));
  if (!lock || yml_node_kind(lock) != YML_MAP)
    return error_set(ERR_NOTFOUND, "Kptfile has no upstreamLock");
  git->repo = yml_lookup_str(lock, "git", "repo", NULL);
  git->directory = yml_lookup_str(lock, "git", "directory", NULL);
  git->ref = yml_lookup_str(lock, "git", "ref", NULL);
  git->commit = yml_lookup_str(lock, "git", "commit", NULL);
  return 0;
}

int kptfile_write_buf(const kptfile *k, buf *out) { return yml_file_write(k->yaml, out); }

static int write_to(const kptfile *k, const char *dir, bool scratch) {
  buf out = BUF_INIT;
  int rc = kptfile_write_buf(k, &out);
  char *path = rc ? NULL : fs_join(dir, KPTFILE_NAME);
  if (!rc && !path)
    rc = ERR_NOMEM;
  if (!rc)
    rc = scratch ? scratch_write(path, out.data ? out.data : "", out.len, 0644)
                 : fs_write_atomic(path, out.data ? out.data : "", out.len, 0644);
  free(path);
  buf_free(&out);
  return rc;
}

int kptfile_write(const kptfile *k, const char *dir) { return write_to(k, dir, false); }

int kptfile_write_scratch(const kptfile *k, const char *dir) { return write_to(k, dir, true); }
