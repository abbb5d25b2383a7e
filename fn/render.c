/* render: see render.h. */
#include "render.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "cad/krm.h"
#include "cad/pkgcommit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PACKAGES 1024

void fn_report_init(fn_report *rep) {
  memset(rep, 0, sizeof(*rep));
  rep->items = json_array();
}

void fn_report_free(fn_report *rep) {
  json_decref(rep->items);
  memset(rep, 0, sizeof(*rep));
}

int fn_report_write(const fn_report *rep, const char *dir) {
  int rc = fs_mkdir_p(dir, 0755);
  if (rc)
    return rc;
  json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:i}", "apiVersion", "kpt.dev/v1", "kind",
                          "FunctionResultList", "metadata", "name", "fnresults", "exitCode",
                          rep->exit_code);
  if (!doc)
    return ERR_NOMEM;
  if (json_array_size(rep->items))
    json_object_set(doc, "items", rep->items);
  yml_node *n = yml_from_json(doc);
  json_decref(doc);
  /* kpt writes results.yaml with yaml.v3's layout: sequences indented under their key. */
  yml_file *f = yml_file_new();
  rc = n && f ? 0 : ERR_NOMEM;
  if (!rc) {
    yml_file_set_wide_sequences(f, true);
    rc = yml_file_add_doc(f, n);
    n = NULL;
  }
  buf out = BUF_INIT;
  if (!rc)
    rc = yml_file_write(f, &out);
  yml_node_free(n);
  yml_file_free(f);
  char *path = rc ? NULL : fs_join(dir, "results.yaml");
  if (!rc)
    rc = path ? fs_write_atomic(path, out.data, out.len, 0644) : ERR_NOMEM;
  free(path);
  buf_free(&out);
  return rc;
}

/* Copies the string fields `keys` of `from` that are non-empty into a new object (in that
 * order), as Go's omitempty marshalling of kpt's structs does; NULL when none is set. */
static json_t *pick_strings(const json_t *from, const char *const *keys, size_t n) {
  json_t *o = NULL;
  for (size_t i = 0; json_is_object(from) && i < n; i++) {
    const char *v = json_string_value(json_object_get(from, keys[i]));
    if (!v || !*v)
      continue;
    if (!o && !(o = json_object()))
      return NULL;
    json_object_set_new(o, keys[i], json_string(v));
  }
  return o;
}

/* One result as kpt records it (framework.Result): message, severity, resourceRef
 * {apiVersion, kind, name, namespace}, field {path, currentValue, proposedValue}, file
 * {path, index}, tags; empty fields and a zero file index left out, anything else a
 * function wrote dropped. New reference. */
static json_t *kpt_result(const json_t *r) {
  static const char *const top[] = {"message", "severity"};
  static const char *const ref[] = {"apiVersion", "kind", "name", "namespace"};
  json_t *o = pick_strings(r, top, 2);
  if (!o)
    o = json_object();
  json_t *rr = pick_strings(json_object_get(r, "resourceRef"), ref, 4);
  if (rr)
    json_object_set_new(o, "resourceRef", rr);
  const json_t *field = json_object_get(r, "field");
  if (json_is_object(field)) {
    json_t *fo = json_object();
    const char *path = json_string_value(json_object_get(field, "path"));
    if (path && *path)
      json_object_set_new(fo, "path", json_string(path));
    static const char *const values[] = {"currentValue", "proposedValue"};
    for (size_t i = 0; i < 2; i++) {
      json_t *v = json_object_get(field, values[i]);
      if (v && !json_is_null(v))
        json_object_set(fo, values[i], v);
    }
    if (json_object_size(fo))
      json_object_set(o, "field", fo);
    json_decref(fo);
  }
  const json_t *file = json_object_get(r, "file");
  if (json_is_object(file)) {
    json_t *fo = json_object();
    const char *path = json_string_value(json_object_get(file, "path"));
    if (path && *path)
      json_object_set_new(fo, "path", json_string(path));
    json_int_t index = json_integer_value(json_object_get(file, "index"));
    if (index)
      json_object_set_new(fo, "index", json_integer(index));
    if (json_object_size(fo))
      json_object_set(o, "file", fo);
    json_decref(fo);
  }
  json_t *tags = json_object_get(r, "tags");
  if (json_is_object(tags) && json_object_size(tags))
    json_object_set(o, "tags", tags);
  return o;
}

/* kpt's one-line form of a result: "[severity] apiVersion/Kind/namespace/name field:
 * message" (severity info when none; the parts that are empty left out). */
static void print_result(FILE *log, const json_t *r) {
  const char *sev = json_string_value(json_object_get(r, "severity"));
  fprintf(log, "    [%s]", sev && *sev ? sev : "info");
  const json_t *ref = json_object_get(r, "resourceRef");
  static const char *const parts[] = {"apiVersion", "kind", "namespace", "name"};
  bool first = true;
  for (size_t i = 0; i < 4; i++) {
    const char *v = json_string_value(json_object_get(ref, parts[i]));
    if (v && *v) {
      fprintf(log, "%s%s", first ? " " : "/", v);
      first = false;
    }
  }
  const char *field = json_string_value(json_object_get(json_object_get(r, "field"), "path"));
  if (json_object_get(r, "field"))
    fprintf(log, " %s", field ? field : "");
  const char *msg = json_string_value(json_object_get(r, "message"));
  fprintf(log, ": %s\n", msg ? msg : "");
}

/* Records one function's outcome in kpt's shape and prints kpt's progress lines. */
static void report_step(fn_report *rep, const fn_step *step, const fn_outcome *o, FILE *log) {
  json_t *item = json_object();
  json_object_set_new(item, step->image ? "image" : "exec", json_string(fn_step_display(step)));
  if (o->stderr_text.len)
    json_object_set_new(item, "stderr", json_string(buf_cstr(&o->stderr_text)));
  json_object_set_new(item, "exitCode", json_integer(o->exit_code));
  if (json_array_size(o->results)) {
    json_t *results = json_array();
    size_t k;
    json_t *r;
    json_array_foreach(o->results, k, r) {
      json_array_append_new(results, kpt_result(r));
    }
    json_object_set_new(item, "results", results);
  }
  json_array_append_new(rep->items, item);
  rep->functions++;
  if (!o->ok)
    rep->exit_code = 1;
  if (!log)
    return;
  if (o->ok) {
    fprintf(log, "[PASS] \"%s\" in %lldms\n", fn_step_display(step), (long long)o->ms);
  } else {
    fprintf(log, "[FAIL] \"%s\" in %lldms\n", fn_step_display(step), (long long)o->ms);
    /* A plain non-zero exit shows as "Exit code" below, as kpt does; anything else (killed,
     * bad output, set-up failure) says why here. */
    char plain[64];
    snprintf(plain, sizeof(plain), "exited with code %d", o->exit_code);
    if (!str_eq(o->message, plain))
      fprintf(log, "  Error: %s\n", o->message);
  }
  size_t i;
  json_t *r;
  if (json_array_size(o->results))
    fprintf(log, "  Results:\n");
  json_array_foreach(o->results, i, r) {
    if (i >= 10) {
      fprintf(log, "    ...(%zu more)\n", json_array_size(o->results) - i);
      break;
    }
    print_result(log, r);
  }
  if (!o->ok && o->stderr_text.len) {
    fprintf(log, "  Stderr:\n");
    /* kpt quotes every piece of stderr split at newlines, the empty one after the last
     * newline included. */
    const char *s = buf_cstr(&o->stderr_text);
    for (int lines = 0; s && lines < 20; lines++) {
      const char *nl = strchr(s, '\n');
      size_t n = nl ? (size_t)(nl - s) : strlen(s);
      fprintf(log, "    \"%.*s\"\n", (int)n, s);
      s = nl ? nl + 1 : NULL;
    }
  }
  if (!o->ok)
    fprintf(log, "  Exit code: %d\n\n", o->exit_code);
}

/* ---- writing the package back: cad/pkgcommit (in place, behind an undo journal) ---- */

/* Repairs `dir` if a previous write was interrupted, before the package is read; says so
 * on `log`. */
static int recover_package(const char *dir, FILE *log) {
  int restored = 0;
  int rc = pkgcommit_recover(dir, &restored);
  if (!rc && restored && log)
    fprintf(log, "recovered %d file(s) of an interrupted render in %s\n", restored, dir);
  return rc;
}

static yml_node *output_root(const fn_outcome *o) { return yml_file_doc(o->output, 0); }

static int run_on_rl(const fn_env *env, const fn_step *step_in, yml_node *config,
                     const yml_node *selectors, const yml_node *exclude, bool validator,
                     fn_prepared *prep, fn_prepared *next, yml_file **rl, fn_report *rep,
                     FILE *log);

int fn_eval_package(const fn_env *env, const char *dir, const fn_step *step,
                    const yml_node *selectors, fn_report *rep, FILE *log) {
  krm_pkg *pkg = NULL, *after = NULL;
  yml_file *rl = NULL;
  pkgcommit_snapshot snap;
  memset(&snap, 0, sizeof(snap));
  /* The function's sandbox builds (in its own processes) while the package is read. */
  fn_prepared *prep = fn_prepare_step(env, step);
  int rc = recover_package(dir, log);
  if (!rc)
    rc = krm_pkg_read(&pkg, dir, KRM_READ_SUBPACKAGES);
  if (rc) {
    fn_prepared_free(prep);
    return rc;
  }
  rc = pkgcommit_snapshot_take(&snap, pkg);
  if (!rc)
    rc = krm_rl_from_pkg(&rl, pkg, NULL);
  yml_node *config = NULL;
  if (!rc && step->config && !(config = yml_node_copy(step->config)))
    rc = ERR_NOMEM;
  if (!rc)
    rc = run_on_rl(env, step, config, selectors, NULL, false, prep, NULL, &rl, rep, log);
  else
    fn_prepared_free(prep);
  if (!rc)
    rc = krm_rl_to_pkg(&after, yml_file_doc(rl, 0));
  if (!rc)
    rc = pkgcommit_write(dir, &snap, after);
  pkgcommit_snapshot_free(&snap);
  yml_file_free(rl);
  krm_pkg_free(pkg);
  krm_pkg_free(after);
  return rc;
}

/* ---- render ---- */

/* A view of the files below package directory `prefix` ("" or "a/b/") of `all`, with
 * package-relative paths. The yml files are borrowed: free with view_free only. */
static int view_make(const krm_pkg *all, const char *prefix, krm_pkg *view) {
  memset(view, 0, sizeof(*view));
  size_t pl = strlen(prefix);
  view->files = calloc(all->nfiles ? all->nfiles : 1, sizeof(krm_file));
  if (!view->files)
    return ERR_NOMEM;
  for (size_t i = 0; i < all->nfiles; i++) {
    if (strncmp(all->files[i].path, prefix, pl))
      continue;
    krm_file *f = &view->files[view->nfiles];
    *f = all->files[i];
    f->path = str_dup(all->files[i].path + pl);
    if (!f->path)
      return ERR_NOMEM;
    view->nfiles++;
  }
  view->cap = view->nfiles;
  return 0;
}

static void view_free(krm_pkg *view) {
  for (size_t i = 0; i < view->nfiles; i++)
    free(view->files[i].path);
  free(view->files);
  memset(view, 0, sizeof(*view));
}

/* Replaces the files below `prefix` in `all` with those of `out` (ownership of out's yml
 * files moves to `all`). */
static int replace_below(krm_pkg *all, const char *prefix, krm_pkg *out) {
  size_t pl = strlen(prefix);
  /* Drop the old files below the prefix that the output does not have. */
  for (size_t i = 0; i < all->nfiles;) {
    if (!strncmp(all->files[i].path, prefix, pl) && !krm_pkg_file(out, all->files[i].path + pl)) {
      free(all->files[i].path);
      yml_file_free(all->files[i].yaml);
      memmove(&all->files[i], &all->files[i + 1], (all->nfiles - i - 1) * sizeof(krm_file));
      all->nfiles--;
      continue;
    }
    i++;
  }
  for (size_t i = 0; i < out->nfiles; i++) {
    char *p = str_printf("%s%s", prefix, out->files[i].path);
    if (!p)
      return ERR_NOMEM;
    yml_file *y = out->files[i].yaml;
    out->files[i].yaml = NULL;
    int rc = krm_pkg_put(all, p, y);
    free(p);
    if (rc)
      return rc;
  }
  return 0;
}

static bool labels_match(const yml_node *want, const yml_node *have) {
  for (size_t i = 0; i < yml_node_size(want); i++) {
    const char *k = yml_scalar_value(yml_map_key_at(want, i), NULL);
    const char *v = yml_scalar_value(yml_map_value_at(want, i), NULL);
    const char *h = k && have ? yml_lookup_str(have, k, NULL) : NULL;
    if (!h || !str_eq(h, v))
      return false;
  }
  return true;
}

/* kpt's selector: every field given must match. */
static bool selector_matches(const yml_node *sel, const yml_node *item) {
  if (!sel || yml_node_kind(sel) != YML_MAP)
    return false;
  static const char *const paths[][3] = {{"apiVersion", NULL, NULL},
                                         {"kind", NULL, NULL},
                                         {"metadata", "name", NULL},
                                         {"metadata", "namespace", NULL}};
  static const char *const keys[] = {"apiVersion", "kind", "name", "namespace"};
  for (size_t i = 0; i < 4; i++) {
    const char *want = yml_lookup_str(sel, keys[i], NULL);
    if (!want)
      continue;
    const char *have = yml_lookup_str(item, paths[i][0], paths[i][1], NULL);
    if (!str_eq(want, have))
      return false;
  }
  const yml_node *l = yml_map_get(sel, "labels");
  if (l && yml_node_kind(l) == YML_MAP && !labels_match(l, yml_lookup(item, "metadata", "labels", NULL)))
    return false;
  const yml_node *a = yml_map_get(sel, "annotations");
  if (a && yml_node_kind(a) == YML_MAP &&
      !labels_match(a, yml_lookup(item, "metadata", "annotations", NULL)))
    return false;
  return true;
}

static bool any_matches(const yml_node *list, const yml_node *item) {
  for (size_t i = 0; list && yml_node_kind(list) == YML_SEQ && i < yml_node_size(list); i++)
    if (selector_matches(yml_seq_at(list, i), item))
      return true;
  return false;
}

/* The functionConfig of a pipeline entry: configMap (a ConfigMap made of it), configPath
 * (the resource in that file of the package), or config. New node (caller frees) or NULL
 * with *rc set on error. */
static yml_node *step_config(const yml_node *entry, const krm_pkg *view, int *rc) {
  *rc = 0;
  const yml_node *cm = yml_map_get(entry, "configMap");
  if (cm && yml_node_kind(cm) == YML_MAP) {
    yml_node *c = yml_map_new(YML_BLOCK);
    yml_node *meta = yml_map_new(YML_BLOCK);
    if (!c || !meta || yml_map_set_str(c, "apiVersion", "v1") || yml_map_set_str(c, "kind", "ConfigMap") ||
        yml_map_set_str(meta, "name", "function-input") || yml_map_set(c, "metadata", meta)) {
      yml_node_free(c);
      *rc = ERR_NOMEM;
      return NULL;
    }
    yml_node *data = yml_node_copy(cm);
    if (!data || yml_map_set(c, "data", data)) {
      yml_node_free(c);
      *rc = ERR_NOMEM;
      return NULL;
    }
    return c;
  }
  const char *cp = yml_lookup_str(entry, "configPath", NULL);
  if (cp) {
    const krm_file *f = fs_path_is_safe(cp) ? krm_pkg_file(view, cp) : NULL;
    yml_node *doc = f ? yml_file_doc(f->yaml, 0) : NULL;
    if (!doc) {
      *rc = error_set(ERR_NOTFOUND, "configPath %s: no such file in the package", cp);
      return NULL;
    }
    yml_node *c = yml_node_copy(doc);
    /* kpt hands the config without its file annotations. */
    if (c) {
      krm_remove_annotation(c, KRM_ANN_PATH);
      krm_remove_annotation(c, KRM_ANN_INDEX);
    }
    if (!c)
      *rc = ERR_NOMEM;
    return c;
  }
  const yml_node *config = yml_map_get(entry, "config");
  if (config && yml_node_kind(config) == YML_MAP) {
    yml_node *c = yml_node_copy(config);
    if (!c)
      *rc = ERR_NOMEM;
    return c;
  }
  return NULL;
}

/* Runs `step` over the ResourceList `*rl`: only the items picked by `selectors` (any of
 * them; all when none) and not by `exclude` are passed; a mutator's output replaces them
 * (the others pass through), a validator's is discarded. Takes ownership of `config` (the
 * functionConfig, may be NULL) and of `prep` (the step's sandbox built ahead, or NULL);
 * `next` (borrowed, may be NULL) is handed to fn_run_step_prepared.
 * ERR_GENERIC when the function failed (recorded in `rep`). */
static int run_on_rl(const fn_env *env, const fn_step *step_in, yml_node *config,
                     const yml_node *selectors, const yml_node *exclude, bool validator,
                     fn_prepared *prep, fn_prepared *next, yml_file **rl, fn_report *rep,
                     FILE *log) {
  int rc = 0;
  fn_step step = *step_in;
  step.config = config;
  bool selecting = (selectors && yml_node_size(selectors)) || (exclude && yml_node_size(exclude));
  yml_node *root = yml_file_doc(*rl, 0);
  yml_node *items = yml_map_get(root, "items");
  yml_file *in = NULL;
  yml_node *in_root = NULL, *in_items = NULL;
  bool *picked = NULL;
  size_t n = items ? yml_node_size(items) : 0;
  fn_outcome o;
  memset(&o, 0, sizeof(o));
  if (!selecting) {
    /* Every item: the package's ResourceList itself is the input (no copies, so every
     * comment travels as it is). */
    yml_map_remove(root, "functionConfig");
    error_clear();
    if (config) {
      rc = yml_map_set(root, "functionConfig", config);
      config = NULL;
    }
    if (rc)
      goto done;
  } else {
    /* The function's input: the selected items (copies), with the config. */
    in = yml_file_new();
    in_root = yml_map_new(YML_BLOCK);
    in_items = yml_seq_new(YML_BLOCK);
    picked = calloc(n ? n : 1, sizeof(bool));
    if (!in || !in_root || !in_items || !picked) {
      rc = ERR_NOMEM;
      goto done;
    }
    /* A copy of the whole list minus the unpicked items: copying the list (not item by
     * item) keeps the comments written between items. */
    for (size_t i = 0; i < n; i++) {
      yml_node *it = yml_seq_at(items, i);
      picked[i] = (!selectors || !yml_node_size(selectors) || any_matches(selectors, it)) &&
                  !any_matches(exclude, it);
    }
    yml_node_free(in_items);
    in_items = yml_node_copy(items);
    if (!in_items)
      rc = ERR_NOMEM;
    for (size_t i = n; i-- > 0 && !rc;)
      if (!picked[i])
        rc = yml_seq_remove_at(in_items, i);
    if (!rc)
      rc = yml_map_set_str(in_root, "apiVersion", "config.kubernetes.io/v1");
    if (!rc)
      rc = yml_map_set_str(in_root, "kind", "ResourceList");
    if (!rc) {
      rc = yml_map_set(in_root, "items", in_items);
      in_items = NULL;
    }
    if (!rc && config) {
      rc = yml_map_set(in_root, "functionConfig", config);
      config = NULL;
    }
    if (!rc) {
      rc = yml_file_add_doc(in, in_root);
      in_root = NULL;
    }
    if (rc)
      goto done;
  }
  if (log && selecting) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
      count += picked[i];
    fprintf(log, "[RUNNING] \"%s\" on %zu resource(s)\n", fn_step_display(&step), count);
  } else if (log) {
    fprintf(log, "[RUNNING] \"%s\"\n", fn_step_display(&step));
  }
  rc = fn_run_step_prepared(env, &step, in ? in : *rl, prep, next, &o);
  prep = NULL; /* consumed */
  if (!rc)
    report_step(rep, &step, &o, log);
  if (!rc && !o.ok)
    rc = error_set(ERR_GENERIC, "function \"%s\" failed: %s", fn_step_display(&step), o.message);
  if (!rc && !validator && !selecting) {
    yml_file_free(*rl);
    *rl = o.output;
    o.output = NULL;
  } else if (!rc && !validator) {
    /* New item list: the function's output, then the items it did not see. (Known
     * limit: a comment written between items, such as a file's head comment, is kept for
     * the items the function saw but lost for those it did not.) */
    yml_node *out_items = yml_map_get(output_root(&o), "items");
    yml_node *merged = out_items && yml_node_kind(out_items) == YML_SEQ ? yml_node_copy(out_items)
                                                                         : yml_seq_new(YML_BLOCK);
    for (size_t i = 0; merged && i < n && !rc; i++)
      if (!picked[i])
        rc = yml_seq_append(merged, yml_node_copy(yml_seq_at(items, i)));
    if (!merged)
      rc = ERR_NOMEM;
    if (!rc)
      rc = yml_map_set(root, "items", merged);
    else
      yml_node_free(merged);
  }
done:
  fn_prepared_free(prep);
  fn_outcome_free(&o);
  free(picked);
  yml_node_free(in_items);
  yml_node_free(in_root);
  yml_node_free(config);
  yml_file_free(in);
  return rc;
}

/* ---- render: the pipeline steps of the whole tree, their sandboxes built ahead ---- */

#define PLAN_MAX_STEPS 1024 /* steps whose sandbox may be prepared ahead (more run cold) */
#define PLAN_AHEAD 3        /* sandboxes built ahead of the running function */

/* One pipeline entry in the order render will run it, and its sandbox once prepared. */
typedef struct planned_step {
  char *image, *exec, *pkg_dir;
  fn_prepared *prep;
  bool started;
  bool plain; /* no selectors, exclusions or config: its input is the list as it is */
} planned_step;

/* Does the pipeline entry take the package's list as it is (no selectors, exclusions or
 * function config)? */
static bool entry_is_plain(const yml_node *entry) {
  static const char *const keys[] = {"selectors", "exclude", "configMap", "configPath", "config"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
    if (yml_map_get(entry, keys[i]))
      return false;
  return true;
}

typedef struct render_ctx {
  const fn_env *env;
  const char *root_dir;
  bool allow_exec;
  fn_report *rep;
  FILE *log;
  planned_step *plan;
  size_t nplan, next; /* next: the step render runs next */
} render_ctx;

/* The paths of the packages directly below package directory `prefix` ("" or "a/b/"): the
 * Kptfiles below it with no other Kptfile directory between, in path order. Owned list. */
static int direct_subpackages(const krm_pkg *all, const char *prefix, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  size_t plen = strlen(prefix), cap = 0;
  for (size_t i = 0; i < all->nfiles; i++) {
    const char *p = all->files[i].path;
    size_t pl = strlen(p);
    if (strncmp(p, prefix, plen) || pl <= plen + 8 || strcmp(p + pl - 8, "/Kptfile"))
      continue;
    char *sub = str_ndup(p, pl - 8);
    if (!sub)
      return ERR_NOMEM;
    bool direct = true;
    for (char *s = strchr(sub + plen, '/'); s && direct; s = strchr(s + 1, '/')) {
      char *mid = str_printf("%.*s/Kptfile", (int)(s - sub), sub);
      direct = !(mid && krm_pkg_file(all, mid));
      free(mid);
    }
    if (direct && *n == cap) {
      cap = cap ? cap * 2 : 8;
      char **grown = realloc(*out, cap * sizeof(char *));
      if (!grown) {
        free(sub);
        return ERR_NOMEM;
      }
      *out = grown;
    }
    if (direct)
      (*out)[(*n)++] = sub;
    else
      free(sub);
  }
  return 0;
}

static void free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

/* The pipeline (mutators, validators) of the package whose Kptfile is `kpt_path`. */
static yml_node *package_pipeline(const krm_pkg *all, const char *kpt_path, yml_node **mutators,
                                  yml_node **validators) {
  krm_file *kf = krm_pkg_file(all, kpt_path);
  yml_node *kroot = kf ? yml_file_doc(kf->yaml, 0) : NULL;
  yml_node *pipeline = kroot ? yml_map_get(kroot, "pipeline") : NULL;
  *mutators = pipeline ? yml_map_get(pipeline, "mutators") : NULL;
  *validators = pipeline ? yml_map_get(pipeline, "validators") : NULL;
  if (*mutators && yml_node_kind(*mutators) != YML_SEQ)
    *mutators = NULL;
  if (*validators && yml_node_kind(*validators) != YML_SEQ)
    *validators = NULL;
  return pipeline;
}

static char *package_dir(const char *root_dir, const char *rel) {
  return rel[0] ? str_printf("%s/%s", root_dir, rel) : str_dup(root_dir);
}

static int plan_add_entries(render_ctx *ctx, const char *pkg_dir, const yml_node *list) {
  for (size_t i = 0; list && i < yml_node_size(list) && ctx->nplan < PLAN_MAX_STEPS; i++) {
    const yml_node *entry = yml_seq_at(list, i);
    const char *image = yml_lookup_str(entry, "image", NULL);
    const char *exec = image ? NULL : yml_lookup_str(entry, "exec", NULL);
    planned_step *ps = &ctx->plan[ctx->nplan++];
    memset(ps, 0, sizeof(*ps));
    /* An entry render will refuse is planned (so the order holds) but never prepared. */
    ps->started = (!image && !exec) || (exec && !ctx->allow_exec);
    ps->plain = entry_is_plain(entry);
    if ((image && !(ps->image = str_dup(image))) || (exec && !(ps->exec = str_dup(exec))) ||
        !(ps->pkg_dir = str_dup(pkg_dir)))
      return ERR_NOMEM;
  }
  return 0;
}

/* Lists the steps render_one will run, in its order: each package after its subpackages,
 * its mutators then its validators. Read from the Kptfiles as they are now: a subpackage
 * runs before any function of its parent can change its Kptfile, and a package's own
 * pipeline is read before its functions run, so the list is exact; every step is still
 * checked against its plan before a prepared sandbox is used. */
static int plan_package(render_ctx *ctx, const krm_pkg *all, const char *rel) {
  char *prefix = rel[0] ? str_printf("%s/", rel) : str_dup("");
  char *kpt_path = prefix ? str_printf("%sKptfile", prefix) : NULL;
  char *pkg_dir = package_dir(ctx->root_dir, rel);
  char **subs = NULL;
  size_t nsubs = 0;
  int rc = prefix && kpt_path && pkg_dir ? direct_subpackages(all, prefix, &subs, &nsubs) : ERR_NOMEM;
  for (size_t i = 0; i < nsubs && !rc; i++)
    rc = plan_package(ctx, all, subs[i]);
  yml_node *mutators = NULL, *validators = NULL;
  if (!rc)
    package_pipeline(all, kpt_path, &mutators, &validators);
  if (!rc)
    rc = plan_add_entries(ctx, pkg_dir, mutators);
  if (!rc)
    rc = plan_add_entries(ctx, pkg_dir, validators);
  free_list(subs, nsubs);
  free(prefix);
  free(kpt_path);
  free(pkg_dir);
  return rc;
}

/* Reads the Kptfiles of the tree at `dir` ("" rel: the root) into `kpts`, with
 * package-relative paths, skipping hidden entries as krm_pkg_read does: enough to plan
 * the steps before the whole package is read. Bounded (depth, entries per directory). */
static int read_kptfiles(krm_pkg *kpts, const char *dir, const char *rel, int depth) {
  if (depth > 64)
    return error_set(ERR_LIMIT, "%s: directories nested deeper than 64", dir);
  DIR *d = opendir(dir);
  if (!d)
    return error_set_errno(ERR_IO, "cannot read directory %s", dir);
  int rc = 0, entries = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    if (++entries > KRM_MAX_FILES) {
      rc = error_set(ERR_LIMIT, "%s: too many entries", dir);
      break;
    }
    bool is_kptfile = !strcmp(de->d_name, "Kptfile");
    if (!is_kptfile && de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
      continue;
    char *full = fs_join(dir, de->d_name);
    char *r = rel[0] ? str_printf("%s/%s", rel, de->d_name) : str_dup(de->d_name);
    struct stat st;
    if (!full || !r) {
      rc = ERR_NOMEM;
    } else if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
      rc = read_kptfiles(kpts, full, r, depth + 1);
    } else if (is_kptfile && S_ISREG(st.st_mode)) {
      buf text = BUF_INIT;
      rc = fs_read_file(full, KRM_MAX_FILE, &text);
      if (!rc)
        rc = krm_pkg_add_text(kpts, r, buf_cstr(&text), text.len);
      buf_free(&text);
    }
    free(full);
    free(r);
  }
  closedir(d);
  return rc;
}

/* Starts the sandboxes of the next PLAN_AHEAD steps that have none yet. */
static void plan_prepare_ahead(render_ctx *ctx) {
  for (size_t i = ctx->next; i < ctx->nplan && i < ctx->next + PLAN_AHEAD; i++) {
    planned_step *ps = &ctx->plan[i];
    if (ps->started)
      continue;
    ps->started = true;
    fn_step step = {.image = ps->image, .exec = ps->exec, .exec_base_dir = ps->pkg_dir};
    ps->prep = fn_prepare_step(ctx->env, &step);
  }
}

/* The prepared sandbox for `step` if it is the planned next one (NULL otherwise), and
 * starts preparing the ones after it. */
static fn_prepared *plan_take(render_ctx *ctx, const fn_step *step) {
  if (ctx->next >= ctx->nplan)
    return NULL;
  planned_step *ps = &ctx->plan[ctx->next++];
  fn_prepared *prep = NULL;
  if (str_eq(ps->image, step->image) && str_eq(ps->exec, step->image ? NULL : step->exec) &&
      str_eq(ps->pkg_dir, step->exec_base_dir)) {
    prep = ps->prep;
    ps->prep = NULL;
  }
  plan_prepare_ahead(ctx);
  return prep;
}

static void plan_free(render_ctx *ctx) {
  for (size_t i = 0; i < ctx->nplan; i++) {
    fn_prepared_free(ctx->plan[i].prep);
    free(ctx->plan[i].image);
    free(ctx->plan[i].exec);
    free(ctx->plan[i].pkg_dir);
  }
  free(ctx->plan);
  ctx->plan = NULL;
  ctx->nplan = ctx->next = 0;
}

/* Runs one Kptfile pipeline entry over `*rl`. */
static int run_entry(render_ctx *ctx, const char *pkg_dir, const yml_node *entry,
                     const krm_pkg *view, bool validator, yml_file **rl) {
  const char *image = yml_lookup_str(entry, "image", NULL);
  const char *exec = yml_lookup_str(entry, "exec", NULL);
  fn_step step = {.image = image, .exec = image ? NULL : exec, .exec_base_dir = pkg_dir};
  fn_prepared *prep = plan_take(ctx, &step);
  if (!image && !exec)
    return error_set(ERR_INVALID, "%s/Kptfile: a pipeline function needs `image` or `exec`", pkg_dir);
  if (exec && !image && !ctx->allow_exec) {
    fn_prepared_free(prep);
    return error_set(ERR_FORBIDDEN, "must run with `--allow-exec` option to allow running function "
                                    "binaries");
  }
  int rc = 0;
  yml_node *config = step_config(entry, view, &rc);
  if (rc) {
    fn_prepared_free(prep);
    return rc;
  }
  /* A plain mutator followed by a plain step of the same pipeline: the next function can
   * start on this one's output before it is parsed (see fn_run_step_prepared). */
  const planned_step *following = ctx->next < ctx->nplan ? &ctx->plan[ctx->next] : NULL;
  fn_prepared *next = !validator && entry_is_plain(entry) && following && following->plain &&
                              str_eq(following->pkg_dir, pkg_dir)
                          ? following->prep
                          : NULL;
  return run_on_rl(ctx->env, &step, config, yml_map_get(entry, "selectors"),
                   yml_map_get(entry, "exclude"), validator, prep, next, rl, ctx->rep, ctx->log);
}

/* Renders one package (directory `rel` of the tree, "" for the root) after its
 * subpackages, in place in `all`. */
static int render_one(render_ctx *ctx, const char *rel, krm_pkg *all) {
  char *prefix = rel[0] ? str_printf("%s/", rel) : str_dup("");
  char *kpt_path = str_printf("%sKptfile", prefix ? prefix : "");
  char *pkg_dir = package_dir(ctx->root_dir, rel);
  krm_pkg view;
  memset(&view, 0, sizeof(view));
  yml_file *rl = NULL;
  krm_pkg *out = NULL;
  char **subs = NULL;
  size_t nsubs = 0;
  int rc = prefix && kpt_path && pkg_dir ? 0 : ERR_NOMEM;
  if (rc)
    goto done;
  /* Subpackages first: the Kptfiles directly below this package (no Kptfile between). */
  rc = direct_subpackages(all, prefix, &subs, &nsubs);
  for (size_t i = 0; i < nsubs && !rc; i++)
    rc = render_one(ctx, subs[i], all);
  if (rc)
    goto done;
  ctx->rep->packages++;
  if (ctx->log)
    fprintf(ctx->log, "Package \"%s\": \n", pkg_dir);
  yml_node *mutators, *validators;
  yml_node *pipeline = package_pipeline(all, kpt_path, &mutators, &validators);
  size_t nm = mutators ? yml_node_size(mutators) : 0;
  size_t nv = validators ? yml_node_size(validators) : 0;
  if (!nm && !nv)
    goto done;
  /* Copy the pipeline: the Kptfile itself may be changed by a mutator. */
  yml_node *pipe_copy = yml_node_copy(pipeline);
  if (!pipe_copy) {
    rc = ERR_NOMEM;
    goto done;
  }
  mutators = yml_map_get(pipe_copy, "mutators");
  validators = yml_map_get(pipe_copy, "validators");
  rc = view_make(all, prefix, &view);
  if (!rc)
    rc = krm_rl_from_pkg(&rl, &view, NULL);
  for (size_t i = 0; i < nm && !rc; i++)
    rc = run_entry(ctx, pkg_dir, yml_seq_at(mutators, i), &view, false, &rl);
  for (size_t i = 0; i < nv && !rc; i++)
    rc = run_entry(ctx, pkg_dir, yml_seq_at(validators, i), &view, true, &rl);
  yml_node_free(pipe_copy);
  if (!rc && nm) {
    rc = krm_rl_to_pkg(&out, yml_file_doc(rl, 0));
    view_free(&view);
    if (!rc)
      rc = replace_below(all, prefix, out);
  }
done:
  free_list(subs, nsubs);
  view_free(&view);
  krm_pkg_free(out);
  yml_file_free(rl);
  free(prefix);
  free(kpt_path);
  free(pkg_dir);
  return rc;
}

int fn_render_package(const fn_env *env, const char *dir, bool allow_exec, fn_report *rep,
                      FILE *log) {
  krm_pkg *all = NULL;
  pkgcommit_snapshot before;
  memset(&before, 0, sizeof(before));
  render_ctx ctx = {.env = env, .root_dir = dir, .allow_exec = allow_exec, .rep = rep, .log = log};
  char *kptfile = fs_join(dir, "Kptfile");
  int rc = kptfile ? 0 : ERR_NOMEM;
  if (!rc && fs_is_dir(dir))
    rc = recover_package(dir, log); /* an interrupted write is undone before anything else */
  if (!rc && !fs_exists(kptfile))
    rc = error_set(ERR_NOTFOUND, "%s is not a kpt package (no Kptfile)", dir);
  free(kptfile);
  /* The steps are planned from the Kptfiles alone, so that the first sandboxes build (in
   * their own processes) while the package is read and snapshotted. When that fails, they
   * are planned from the package once read; and each step is checked against its plan. */
  if (!rc && !(ctx.plan = calloc(PLAN_MAX_STEPS, sizeof(planned_step))))
    rc = ERR_NOMEM;
  krm_pkg *kpts = rc ? NULL : krm_pkg_new();
  bool planned = kpts && !read_kptfiles(kpts, dir, "", 0) && !plan_package(&ctx, kpts, "");
  krm_pkg_free(kpts);
  error_clear();
  if (planned)
    plan_prepare_ahead(&ctx);
  if (!rc)
    rc = krm_pkg_read(&all, dir, KRM_READ_SUBPACKAGES);
  if (!rc && !planned) {
    plan_free(&ctx);
    rc = (ctx.plan = calloc(PLAN_MAX_STEPS, sizeof(planned_step))) ? plan_package(&ctx, all, "")
                                                                    : ERR_NOMEM;
    if (!rc)
      plan_prepare_ahead(&ctx);
  }
  if (!rc)
    rc = pkgcommit_snapshot_take(&before, all);
  if (!rc)
    rc = render_one(&ctx, "", all);
  plan_free(&ctx); /* cancels what a failure left unused */
  if (!rc) /* only once every function passed: a failure leaves the package untouched */
    rc = pkgcommit_write(dir, &before, all);
  if (!rc && log)
    fprintf(log, "\nSuccessfully executed %d function(s) in %d package(s).\n", rep->functions,
            rep->packages);
  pkgcommit_snapshot_free(&before);
  krm_pkg_free(all);
  return rc;
}
