/*
 * portico pkg init|get|update|diff: kpt-compatible package commands over cad/pkg.
 * Arguments and flags follow kpt 1.0 (`--flag value` or `--flag=value`); Portico adds
 * `--on-conflict=warn|fail` and `--results-dir DIR` to update.
 */
#include "cmd/commands.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "cad/merge.h"
#include "cad/pkg.h"
#include "cad/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEYWORDS 64

typedef struct flag {
  const char *name; /* without "--" */
  const char **value;
} flag;

/* Splits argv into flags (from `flags`) and positional arguments. Returns 0, or 2 after
 * printing a usage error. */
static int parse_args(const char *cmd, int argc, char **argv, flag *flags, const char **pos, int maxpos,
                      int *npos) {
  *npos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (str_has_prefix(a, "--") && a[2]) {
      const char *name = a + 2;
      const char *eq = strchr(name, '=');
      size_t nl = eq ? (size_t)(eq - name) : strlen(name);
      flag *f = NULL;
      for (flag *c = flags; c && c->name; c++)
        if (strlen(c->name) == nl && !strncmp(c->name, name, nl))
          f = c;
      if (!f) {
        fprintf(stderr, "error: unknown flag: --%.*s\nRun 'portico pkg %s --help' for usage.\n", (int)nl,
                name, cmd);
        return 2;
      }
      if (eq)
        *f->value = eq + 1;
      else if (i + 1 < argc)
        *f->value = argv[++i];
      else {
        fprintf(stderr, "error: flag needs an argument: --%s\n", f->name);
        return 2;
      }
      continue;
    }
    if (*npos >= maxpos) {
      fprintf(stderr, "error: too many arguments for 'portico pkg %s'\n", cmd);
      return 2;
    }
    pos[(*npos)++] = a;
  }
  return 0;
}

static bool wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      return true;
  return false;
}

static int fail(const char *what) {
  fprintf(stderr, "error: %s%s%s\n", what ? what : "", what ? ": " : "", error_message());
  return 1;
}

static int cmd_init(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("Usage: portico pkg init [DIR] [--description TEXT] [--keywords a,b] [--site URL]\n"
           "Initializes an existing directory as a kpt package (Kptfile, README.md,\n"
           "package-context.yaml), as `kpt pkg init`.\n");
    return 0;
  }
  const char *desc = NULL, *kw = NULL, *site = NULL, *name = NULL;
  flag flags[] = {{"description", &desc}, {"keywords", &kw}, {"site", &site}, {"name", &name}, {NULL, NULL}};
  const char *pos[1];
  int npos;
  int rc = parse_args("init", argc, argv, flags, pos, 1, &npos);
  if (rc)
    return rc;
  const char *keywords[MAX_KEYWORDS];
  size_t nk = 0;
  char *kwcopy = kw ? str_dup(kw) : NULL;
  for (char *p = kwcopy, *next; p && *p && nk < MAX_KEYWORDS; p = next) {
    char *comma = strchr(p, ',');
    next = comma ? comma + 1 : p + strlen(p);
    if (comma)
      *comma = 0;
    if (*p)
      keywords[nk++] = p;
  }
  pkg_init_opts o = {desc, keywords, nk, site};
  rc = pkg_init(npos ? pos[0] : ".", &o, stderr);
  free(kwcopy);
  if (rc) {
    fprintf(stderr, "error: %s\n", error_message());
    return 1;
  }
  return 0;
}

static int cmd_get(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("Usage: portico pkg get REPO_URI[.git]/PKG_PATH[@VERSION] [LOCAL_DEST_DIRECTORY]\n"
           "       [--strategy resource-merge|fast-forward|force-delete-replace|copy-merge]\n"
           "Fetches a package from a Git repository, as `kpt pkg get`.\n");
    return 0;
  }
  const char *strategy = NULL;
  flag flags[] = {{"strategy", &strategy}, {NULL, NULL}};
  const char *pos[2];
  int npos;
  int rc = parse_args("get", argc, argv, flags, pos, 2, &npos);
  if (rc)
    return rc;
  if (npos < 1) {
    fprintf(stderr, "error: requires at least 1 arg(s), only received 0\n");
    return 2;
  }
  rc = pkg_get(pos[0], npos > 1 ? pos[1] : NULL, strategy, stderr, NULL);
  return rc ? fail(NULL) : 0;
}

static int print_conflicts(const merge_report *r) {
  for (size_t i = 0; i < r->n; i++) {
    const merge_conflict *c = &r->items[i];
    fprintf(stderr, "conflict: %s: %s: field %s: local %s, upstream %s, original %s\n", c->file,
            c->resource, c->field, c->local, c->upstream, c->original);
  }
  if (r->dropped)
    fprintf(stderr, "conflict: %zu more not shown\n", r->dropped);
  return 0;
}

static int write_results(const char *dir, const merge_report *r) {
  if (fs_mkdir_p(dir, 0755))
    return error_code();
  buf out = BUF_INIT;
  int rc = merge_report_write(r, &out);
  char *path = rc ? NULL : fs_join(dir, "results.yaml");
  if (!rc && !path)
    rc = ERR_NOMEM;
  if (!rc)
    rc = fs_write_atomic(path, out.data ? out.data : "", out.len, 0644);
  free(path);
  buf_free(&out);
  return rc;
}

static int cmd_update(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("Usage: portico pkg update [LOCAL_PKG_DIR[@VERSION]]\n"
           "       [--strategy resource-merge|fast-forward|force-delete-replace|copy-merge]\n"
           "       [--on-conflict warn|fail] [--results-dir DIR]\n"
           "Updates a package to a new upstream version, as `kpt pkg update`. Fields changed\n"
           "both locally and upstream take upstream's value (as kpt) and are reported on\n"
           "stderr and in DIR/results.yaml; --on-conflict=fail refuses the update instead.\n");
    return 0;
  }
  const char *strategy = NULL, *on_conflict = NULL, *results = NULL;
  flag flags[] = {{"strategy", &strategy}, {"on-conflict", &on_conflict}, {"results-dir", &results},
                  {NULL, NULL}};
  const char *pos[1];
  int npos;
  int rc = parse_args("update", argc, argv, flags, pos, 1, &npos);
  if (rc)
    return rc;
  if (on_conflict && strcmp(on_conflict, "warn") && strcmp(on_conflict, "fail")) {
    fprintf(stderr, "error: --on-conflict must be warn or fail\n");
    return 2;
  }
  char *dir = str_dup(npos ? pos[0] : ".");
  char *ref = NULL;
  char *at = dir ? strrchr(dir, '@') : NULL;
  if (at) {
    *at = 0;
    ref = at + 1;
  }
  if (dir && !*dir) {
    free(dir);
    dir = str_dup(".");
  }
  pkg_update_opts o = {ref && *ref ? ref : NULL, strategy,
                       on_conflict && !strcmp(on_conflict, "fail")};
  merge_report report = {0};
  rc = pkg_update(dir, &o, &report, stderr);
  int err = rc;
  char *msg = err ? str_dup(error_message()) : NULL;
  print_conflicts(&report);
  if (results && write_results(results, &report))
    fprintf(stderr, "error: writing results: %s\n", error_message());
  merge_report_free(&report);
  free(dir);
  if (err) {
    fprintf(stderr, "error: %s\n", msg ? msg : "update failed");
    free(msg);
    return 1;
  }
  return 0;
}

static int cmd_diff(int argc, char **argv) {
  if (wants_help(argc, argv)) {
    printf("Usage: portico pkg diff [LOCAL_PKG_DIR]\n"
           "Shows the differences between the local package and its upstream at the\n"
           "upstreamLock commit (diff -ruN).\n");
    return 0;
  }
  flag flags[] = {{NULL, NULL}};
  const char *pos[1];
  int npos;
  int rc = parse_args("diff", argc, argv, flags, pos, 1, &npos);
  if (rc)
    return rc;
  const char *dir = npos ? pos[0] : ".";
  char *d = str_dup(dir);
  char *at = d ? strrchr(d, '@') : NULL;
  if (at)
    *at = 0; /* a version is accepted but the lock commit is used */
  buf out = BUF_INIT;
  bool differs = false;
  rc = pkg_diff(d, &out, &differs);
  free(d);
  if (rc) {
    buf_free(&out);
    return fail(NULL);
  }
  fwrite(buf_cstr(&out), 1, out.len, stdout);
  buf_free(&out);
  return 0;
}

/* Hidden: `portico pkg __bench-yaml FILE N` parses and writes FILE N times and prints the
 * round-trip throughput (used by bench/pkg.sh). */
static int cmd_bench_yaml(int argc, char **argv) {
  if (argc < 3)
    return 2;
  buf text = BUF_INIT;
  int64_t n = 0;
  if (fs_read_file(argv[1], (size_t)64 << 20, &text) || str_to_int64(argv[2], 1, 100000, &n))
    return fail(argv[1]);
  struct timespec a, b, ca, cb;
  clock_gettime(CLOCK_MONOTONIC, &a);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
  size_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    yml_file *f = NULL;
    buf out = BUF_INIT;
    if (yml_file_parse(&f, argv[1], text.data ? text.data : "", text.len) || yml_file_write(f, &out))
      return fail("round trip");
    if (out.len != text.len || memcmp(buf_cstr(&out), buf_cstr(&text), text.len)) {
      fprintf(stderr, "error: round trip changed the file\n");
      return 1;
    }
    total += text.len;
    yml_file_free(f);
    buf_free(&out);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
  double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  double cpu = (double)(cb.tv_sec - ca.tv_sec) + (double)(cb.tv_nsec - ca.tv_nsec) / 1e9;
  printf("bytes=%zu seconds=%.4f mb_per_s=%.1f cpu_seconds=%.4f cpu_mb_per_s=%.1f\n", total, secs,
         secs > 0 ? (double)total / 1e6 / secs : 0.0, cpu, cpu > 0 ? (double)total / 1e6 / cpu : 0.0);
  buf_free(&text);
  return 0;
}

int cmd_pkg_main(int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : "";
  if (!strcmp(sub, "__bench-yaml"))
    return cmd_bench_yaml(argc - 1, argv + 1);
  if (!strcmp(sub, "init"))
    return cmd_init(argc - 1, argv + 1);
  if (!strcmp(sub, "get"))
    return cmd_get(argc - 1, argv + 1);
  if (!strcmp(sub, "update"))
    return cmd_update(argc - 1, argv + 1);
  if (!strcmp(sub, "diff"))
    return cmd_diff(argc - 1, argv + 1);
  FILE *out = (!strcmp(sub, "-h") || !strcmp(sub, "--help")) ? stdout : stderr;
  fprintf(out, "Usage: portico pkg init|get|update|diff [ARGS]\n"
               "  init [DIR]                         initialize a package\n"
               "  get REPO.git/DIR@REF [DEST]        fetch a package\n"
               "  update [DIR[@REF]]                 update a package from upstream\n"
               "  diff [DIR]                         diff a package against its upstream\n");
  return out == stdout ? 0 : 2;
}
