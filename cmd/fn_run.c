/*
 * fn_run: `portico fn eval|render|run`.
 *
 *   portico fn eval DIR (--image IMG | --exec CMD) [--fn-config FILE] [--results-dir D]
 *                   [--match-api-version|--match-kind|--match-name|--match-namespace X]
 *                   [-e|--env KEY[=VALUE]] [-- key=value ...]
 *   portico fn render [DIR] [--allow-exec] [--results-dir D]
 *   portico fn run NAME          (a built-in as a standalone KRM function: stdin -> stdout)
 *
 * Sandbox flags (eval and render): --sandbox=strict|weak, --timeout DUR (wall time,
 * default 10s), --cpu-time DUR (10s), --memory SIZE (1Gi), --max-processes N (64),
 * --max-output SIZE (64Mi), --max-open-files N (256), --tmp-size SIZE (64Mi),
 * --fn-dir DIR (function directory, repeatable; also
 * $PORTICO_FN_PATH), --exec-dir DIR (allowed exec directory, repeatable; also
 * $PORTICO_FN_EXEC_DIRS), --no-in-process (run built-ins as sandboxed subprocesses too).
 * Exit codes: 0 success, 1 a function failed or the operation failed, 2 bad usage.
 */
#include "cmd/commands.h"

#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"
#include "cad/yaml.h"
#include "fn/builtin.h"
#include "fn/render.h"
#include "fn/runner.h"
#include "fn/sandbox.h"
#include "base/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_STDIN ((size_t)256 << 20)
#define MAX_KV 64

static int usage(FILE *out, int code) {
  fprintf(out,
          "Usage:\n"
          "  portico fn eval DIR (--image IMG | --exec CMD) [--fn-config FILE] [--results-dir D]\n"
          "                  [--match-api-version V] [--match-kind K] [--match-name N]\n"
          "                  [--match-namespace NS] [-e|--env KEY[=VALUE]] [sandbox flags]\n"
          "                  [-- key=value ...]\n"
          "  portico fn render [DIR] [--allow-exec] [--results-dir D] [sandbox flags]\n"
          "  portico fn run NAME     run a built-in as a KRM function (ResourceList on stdin)\n"
          "\n"
          "Sandbox flags:\n"
          "  --sandbox strict|weak   weak: no namespaces (for kernels that refuse them; unsafe)\n"
          "  --timeout DUR           wall time per function (default 10s)\n"
          "  --cpu-time DUR          CPU time per process (default 10s)\n"
          "  --memory SIZE           address space per process (default 1Gi)\n"
          "  --max-processes N       processes and threads (default 64)\n"
          "  --max-output SIZE       stdout and stderr each (default 64Mi)\n"
          "  --max-open-files N      open descriptors per process (default 256)\n"
          "  --tmp-size SIZE         the function's private /tmp (default 64Mi)\n"
          "  --fn-dir DIR            directory of function executables (repeatable)\n"
          "  --exec-dir DIR          only allow exec functions from DIR (repeatable)\n"
          "  --no-in-process         run built-ins as sandboxed subprocesses too\n");
  return code;
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void print_percentiles(const char *what, int64_t *us, int n) {
  qsort(us, (size_t)n, sizeof(int64_t), cmp_i64);
  int p99 = (n * 99 + 99) / 100 - 1;
  printf("%s p50_us=%lld p99_us=%lld n=%d\n", what, (long long)us[n / 2],
         (long long)us[p99 < n ? p99 : n - 1], n);
}

/* Hidden benchmark modes used by bench/fn.sh (figures measured inside one process):
 *   fn run --bench sandbox N PROG [ARGS]   PROG in the strict sandbox, N times
 *   fn run --bench fork N PROG [ARGS]      PROG by plain fork/exec (base/proc), N times
 *   fn run --bench builtin N NAME          built-in on the ResourceList on stdin, N times */
static int cmd_bench(int argc, char **argv) {
  int64_t n64;
  if (argc < 5 || str_to_int64(argv[3], 1, 100000, &n64)) {
    fprintf(stderr, "usage: portico fn run --bench sandbox|fork|builtin N PROG|NAME [ARGS]\n");
    return 2;
  }
  int n = (int)n64;
  int64_t *us = calloc((size_t)n, sizeof(int64_t));
  int64_t *us2 = calloc((size_t)n, sizeof(int64_t));
  int rc = 0;
  if (!us || !us2)
    return 1;
  const char *mode = argv[2];
  if (!strcmp(mode, "sandbox") || !strcmp(mode, "fork")) {
    for (int i = 0; i < n && !rc; i++) {
      int64_t t = now_us();
      if (!strcmp(mode, "sandbox")) {
        sandbox_spec spec = {.exe = argv[4], .argv = argv + 4, .mode = SANDBOX_STRICT};
        sandbox_limits_default(&spec.limits);
        sandbox_result r;
        memset(&r, 0, sizeof(r));
        rc = sandbox_run(&spec, &r);
        if (!rc && (r.outcome != SANDBOX_OK || r.exit_code))
          rc = error_set(ERR_GENERIC, "%s", r.detail[0] ? r.detail : "function failed");
        sandbox_result_free(&r);
      } else {
        proc_spec spec = {.argv = argv + 4, .timeout_ms = 10000};
        proc_result r;
        memset(&r, 0, sizeof(r));
        rc = proc_run(&spec, &r);
        proc_result_free(&r);
      }
      us[i] = now_us() - t;
    }
    if (!rc)
      print_percentiles(mode, us, n);
  } else if (!strcmp(mode, "builtin")) {
    buf in;
    buf_init(&in, MAX_STDIN);
    char chunk[65536];
    ssize_t r;
    while ((r = read(0, chunk, sizeof(chunk))) > 0)
      if (buf_append(&in, chunk, (size_t)r))
        break;
    for (int i = 0; i < n && !rc; i++) {
      fn_rlist rl;
      memset(&rl, 0, sizeof(rl));
      int64_t t0 = now_us();
      rc = fn_rlist_parse(&rl, buf_cstr(&in), in.len);
      int64_t t1 = now_us();
      if (!rc)
        rc = builtin_run(argv[4], &rl);
      int64_t t2 = now_us();
      buf out = BUF_INIT;
      if (!rc)
        rc = fn_rlist_write(&rl, &out);
      int64_t t3 = now_us();
      us[i] = t2 - t1;
      us2[i] = (t1 - t0) + (t3 - t1);
      buf_free(&out);
      fn_rlist_free(&rl);
    }
    buf_free(&in);
    if (!rc) {
      print_percentiles("builtin-run", us, n);
      print_percentiles("builtin-parse-run-write", us2, n);
    }
  } else {
    rc = error_set(ERR_INVALID, "unknown bench mode %s", mode);
  }
  if (rc)
    fprintf(stderr, "bench: %s\n", error_message());
  free(us);
  free(us2);
  return rc ? 1 : 0;
}

static int cmd_run(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "--bench"))
    return cmd_bench(argc, argv);
  if (argc != 2 || argv[1][0] == '-') {
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
      return usage(stdout, 0);
    fprintf(stderr, "portico fn run: want exactly one built-in function name\n");
    return 2;
  }
  buf in;
  buf_init(&in, MAX_STDIN);
  char chunk[65536];
  for (;;) {
    ssize_t r = read(0, chunk, sizeof(chunk));
    if (r == 0)
      break;
    if (r < 0) {
      fprintf(stderr, "portico fn run: cannot read stdin\n");
      buf_free(&in);
      return 1;
    }
    if (buf_append(&in, chunk, (size_t)r)) {
      fprintf(stderr, "portico fn run: input larger than %zu bytes\n", MAX_STDIN);
      buf_free(&in);
      return 1;
    }
  }
  buf out = BUF_INIT;
  bool failed = false;
  int rc = builtin_run_text(argv[1], in.data ? in.data : "", in.len, &out, &failed);
  buf_free(&in);
  if (rc) {
    fprintf(stderr, "portico fn run %s: %s\n", argv[1], error_message());
    buf_free(&out);
    return rc == ERR_NOTFOUND ? 2 : 1;
  }
  fwrite(out.data ? out.data : "", 1, out.len, stdout);
  fflush(stdout);
  if (failed) {
    /* The error results are in the output; say them on stderr as well. */
    fprintf(stderr, "portico fn run %s: the function reported errors\n", argv[1]);
  }
  buf_free(&out);
  /* As PID 1 of a sandbox (--no-in-process) nothing outlives us and exit handlers can only
   * fail there (a sanitizer's leak check needs ptrace, which the sandbox refuses). */
  if (getpid() == 1)
    _exit(failed ? 1 : 0);
  return failed ? 1 : 0;
}

typedef struct opts {
  fn_env env;
  const char *dir;
  const char *image;
  const char *exec;
  const char *fn_config;
  const char *results_dir;
  bool allow_exec;
  const char *kv[MAX_KV];
  int nkv;
  char *envs[MAX_KV + 1];
  int nenv;
  const char *match_api_version, *match_kind, *match_name, *match_namespace;
  char *env_fn_path;
  char *env_exec_dirs;
} opts;

static const char *flag_value(int argc, char **argv, int *i, const char *name) {
  size_t n = strlen(name);
  if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (!strcmp(argv[*i], name) && *i + 1 < argc)
    return argv[++*i];
  return NULL;
}

static bool is_flag(const char *arg, const char *name) {
  size_t n = strlen(name);
  return !strncmp(arg, name, n) && (arg[n] == 0 || arg[n] == '=');
}

static int parse_opts(int argc, char **argv, opts *o, const char *cmd) {
  fn_env_default(&o->env);
  const char *p;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int64_t v;
    if (!strcmp(a, "--")) {
      for (i++; i < argc; i++) {
        if (o->nkv >= MAX_KV || !strchr(argv[i], '=')) {
          fprintf(stderr, "portico fn %s: function arguments must be key=value (got '%s')\n", cmd,
                  argv[i]);
          return 2;
        }
        o->kv[o->nkv++] = argv[i];
      }
      break;
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help"))
      return usage(stdout, 0) - 1; /* -1: stop with exit 0 */
    if ((is_flag(a, "--image") || is_flag(a, "-i")) &&
        (p = flag_value(argc, argv, &i, a[1] == 'i' ? "-i" : "--image")))
      o->image = p;
    else if (is_flag(a, "--exec") && (p = flag_value(argc, argv, &i, "--exec")))
      o->exec = p;
    else if ((is_flag(a, "--env") || is_flag(a, "-e")) &&
             (p = flag_value(argc, argv, &i, a[1] == 'e' ? "-e" : "--env"))) {
      /* kpt's --env: KEY=VALUE, or KEY to pass this process's value. */
      const char *val = strchr(p, '=') ? NULL : getenv(p);
      if (o->nenv >= MAX_KV || (!strchr(p, '=') && !val))
        goto bad_value;
      o->envs[o->nenv++] = strchr(p, '=') ? str_dup(p) : str_printf("%s=%s", p, val);
    } else if (is_flag(a, "--match-api-version") &&
               (p = flag_value(argc, argv, &i, "--match-api-version")))
      o->match_api_version = p;
    else if (is_flag(a, "--match-kind") && (p = flag_value(argc, argv, &i, "--match-kind")))
      o->match_kind = p;
    else if (is_flag(a, "--match-name") && (p = flag_value(argc, argv, &i, "--match-name")))
      o->match_name = p;
    else if (is_flag(a, "--match-namespace") &&
             (p = flag_value(argc, argv, &i, "--match-namespace")))
      o->match_namespace = p;
    else if (is_flag(a, "--fn-config") && (p = flag_value(argc, argv, &i, "--fn-config")))
      o->fn_config = p;
    else if (is_flag(a, "--results-dir") && (p = flag_value(argc, argv, &i, "--results-dir")))
      o->results_dir = p;
    else if (!strcmp(a, "--allow-exec"))
      o->allow_exec = true;
    else if (!strcmp(a, "--no-in-process"))
      o->env.builtins_in_process = false;
    else if (is_flag(a, "--sandbox") && (p = flag_value(argc, argv, &i, "--sandbox"))) {
      if (sandbox_parse_mode(p, &o->env.mode))
        goto bad_value;
    } else if (is_flag(a, "--timeout") && (p = flag_value(argc, argv, &i, "--timeout"))) {
      if (sandbox_parse_duration_ms(p, &o->env.limits.wall_ms) || o->env.limits.wall_ms <= 0)
        goto bad_value;
    } else if (is_flag(a, "--cpu-time") && (p = flag_value(argc, argv, &i, "--cpu-time"))) {
      if (sandbox_parse_duration_ms(p, &v) || v < 1000)
        goto bad_value;
      o->env.limits.cpu_seconds = v / 1000;
    } else if (is_flag(a, "--memory") && (p = flag_value(argc, argv, &i, "--memory"))) {
      if (sandbox_parse_size(p, &o->env.limits.memory_bytes) || o->env.limits.memory_bytes < (1 << 20))
        goto bad_value;
    } else if (is_flag(a, "--max-processes") &&
               (p = flag_value(argc, argv, &i, "--max-processes"))) {
      if (str_to_int64(p, 1, 1 << 20, &o->env.limits.processes))
        goto bad_value;
    } else if (is_flag(a, "--max-open-files") &&
               (p = flag_value(argc, argv, &i, "--max-open-files"))) {
      if (str_to_int64(p, 16, 1 << 20, &o->env.limits.open_files))
        goto bad_value;
    } else if (is_flag(a, "--tmp-size") && (p = flag_value(argc, argv, &i, "--tmp-size"))) {
      if (sandbox_parse_size(p, &o->env.limits.tmp_bytes) || o->env.limits.tmp_bytes < 4096)
        goto bad_value;
    } else if (is_flag(a, "--max-output") && (p = flag_value(argc, argv, &i, "--max-output"))) {
      if (sandbox_parse_size(p, &o->env.limits.output_bytes) || o->env.limits.output_bytes < 1024)
        goto bad_value;
    } else if (is_flag(a, "--fn-dir") && (p = flag_value(argc, argv, &i, "--fn-dir"))) {
      if (o->env.resolve.n_fn_dirs >= RESOLVE_MAX_DIRS)
        goto bad_value;
      o->env.resolve.fn_dirs[o->env.resolve.n_fn_dirs++] = p;
    } else if (is_flag(a, "--exec-dir") && (p = flag_value(argc, argv, &i, "--exec-dir"))) {
      if (o->env.resolve.n_exec_dirs >= RESOLVE_MAX_DIRS)
        goto bad_value;
      o->env.resolve.exec_dirs[o->env.resolve.n_exec_dirs++] = p;
    } else if (a[0] == '-') {
      fprintf(stderr, "portico fn %s: unknown flag or missing value: %s\n", cmd, a);
      return 2;
    } else if (!o->dir) {
      o->dir = a;
    } else {
      fprintf(stderr, "portico fn %s: unexpected argument '%s'\n", cmd, a);
      return 2;
    }
    continue;
  bad_value:
    fprintf(stderr, "portico fn %s: bad value for %s%s%s\n", cmd, a,
            error_message()[0] ? ": " : "", error_message());
    return 2;
  }
  const char *e = getenv("PORTICO_FN_PATH");
  if (e && (o->env_fn_path = str_dup(e)))
    resolve_add_dirs(&o->env.resolve, o->env_fn_path, false);
  e = getenv("PORTICO_FN_EXEC_DIRS");
  if (e && (o->env_exec_dirs = str_dup(e)))
    resolve_add_dirs(&o->env.resolve, o->env_exec_dirs, true);
  return 0;
}

/* The functionConfig for eval: --fn-config FILE's first document, or a ConfigMap of the
 * key=value arguments. New node or NULL (none, or error with *rc). */
static yml_node *eval_config(const opts *o, int *rc) {
  *rc = 0;
  if (o->fn_config) {
    buf text = BUF_INIT;
    yml_file *f = NULL;
    *rc = fs_read_file(o->fn_config, (size_t)16 << 20, &text);
    if (!*rc)
      *rc = yml_file_parse(&f, o->fn_config, buf_cstr(&text), text.len);
    buf_free(&text);
    yml_node *doc = *rc ? NULL : yml_file_doc(f, 0);
    yml_node *copy = doc ? yml_node_copy(doc) : NULL;
    if (!*rc && !copy)
      *rc = error_set(ERR_INVALID, "%s: no function config in the file", o->fn_config);
    yml_file_free(f);
    return copy;
  }
  if (!o->nkv)
    return NULL;
  yml_node *c = yml_map_new(YML_BLOCK);
  yml_node *meta = yml_map_new(YML_BLOCK);
  yml_node *data = yml_map_new(YML_BLOCK);
  int r = !c || !meta || !data;
  r = r || yml_map_set_str(c, "apiVersion", "v1") || yml_map_set_str(c, "kind", "ConfigMap");
  r = r || yml_map_set_str(meta, "name", "function-input");
  for (int i = 0; i < o->nkv && !r; i++) {
    const char *eq = strchr(o->kv[i], '=');
    char *k = str_ndup(o->kv[i], (size_t)(eq - o->kv[i]));
    r = !k || yml_map_set_str(data, k, eq + 1);
    free(k);
  }
  if (!r) {
    r = yml_map_set(c, "metadata", meta);
    meta = NULL;
  }
  if (!r) {
    r = yml_map_set(c, "data", data);
    data = NULL;
  }
  yml_node_free(meta);
  yml_node_free(data);
  if (r) {
    yml_node_free(c);
    *rc = ERR_NOMEM;
    return NULL;
  }
  return c;
}

static int finish(const opts *o, fn_report *rep, int rc, const char *cmd) {
  if (o->results_dir) {
    if (rc && !rep->exit_code && !json_array_size(rep->items))
      rep->exit_code = 1;
    if (fn_report_write(rep, o->results_dir))
      fprintf(stderr, "portico fn %s: cannot write results: %s\n", cmd, error_message());
    else
      fprintf(stderr, "For complete results, see %s/results.yaml\n", o->results_dir);
  }
  if (rc)
    fprintf(stderr, "Error: %s\n", error_message());
  return rc ? 1 : 0;
}

static int cmd_eval(int argc, char **argv) {
  opts o;
  memset(&o, 0, sizeof(o));
  int rc = parse_opts(argc, argv, &o, "eval");
  if (rc)
    goto out_usage;
  if (!o.dir || (!o.image == !o.exec)) {
    fprintf(stderr, "portico fn eval: want DIR and exactly one of --image or --exec\n");
    rc = 2;
    goto out_usage;
  }
  if (o.fn_config && o.nkv) {
    fprintf(stderr, "portico fn eval: --fn-config and key=value arguments are exclusive\n");
    rc = 2;
    goto out_usage;
  }
  fs_set_sync(false); /* as kpt: no fsync per file (the journal covers a killed process) */
  fn_report rep;
  fn_report_init(&rep);
  yml_node *config = eval_config(&o, &rc);
  yml_node *selectors = NULL;
  if (!rc && (o.match_api_version || o.match_kind || o.match_name || o.match_namespace)) {
    /* kpt's --match-* flags: one selector, every given field must match. */
    yml_node *sel = yml_map_new(YML_BLOCK);
    selectors = yml_seq_new(YML_BLOCK);
    int r = !sel || !selectors;
    if (!r && o.match_api_version)
      r = yml_map_set_str(sel, "apiVersion", o.match_api_version);
    if (!r && o.match_kind)
      r = yml_map_set_str(sel, "kind", o.match_kind);
    if (!r && o.match_name)
      r = yml_map_set_str(sel, "name", o.match_name);
    if (!r && o.match_namespace)
      r = yml_map_set_str(sel, "namespace", o.match_namespace);
    if (!r) {
      r = yml_seq_append(selectors, sel);
      sel = NULL;
    }
    yml_node_free(sel);
    rc = r ? ERR_NOMEM : 0;
  }
  if (!rc) {
    o.envs[o.nenv] = NULL;
    fn_step step = {.image = o.image, .exec = o.exec, .config = config,
                    .envp = o.nenv ? o.envs : NULL};
    rc = fn_eval_package(&o.env, o.dir, &step, selectors, &rep, stderr);
  }
  rc = finish(&o, &rep, rc, "eval");
  yml_node_free(selectors);
  yml_node_free(config);
  fn_report_free(&rep);
out_usage:
  for (int i = 0; i < o.nenv; i++)
    free(o.envs[i]);
  free(o.env_fn_path);
  free(o.env_exec_dirs);
  return rc < 0 ? 0 : rc;
}

static int cmd_render(int argc, char **argv) {
  opts o;
  memset(&o, 0, sizeof(o));
  int rc = parse_opts(argc, argv, &o, "render");
  if (rc)
    goto out_usage;
  if (o.image || o.exec || o.fn_config || o.nkv) {
    fprintf(stderr, "portico fn render: takes DIR, --allow-exec, --results-dir and sandbox flags\n");
    rc = 2;
    goto out_usage;
  }
  fs_set_sync(false); /* as kpt: no fsync per file (the journal covers a killed process) */
  fn_report rep;
  fn_report_init(&rep);
  rc = fn_render_package(&o.env, o.dir ? o.dir : ".", o.allow_exec, &rep, stderr);
  rc = finish(&o, &rep, rc, "render");
  fn_report_free(&rep);
out_usage:
  free(o.env_fn_path);
  free(o.env_exec_dirs);
  return rc < 0 ? 0 : rc;
}

int cmd_fn_run_main(int argc, char **argv) {
  if (!strcmp(argv[0], "run"))
    return cmd_run(argc, argv);
  if (!strcmp(argv[0], "eval"))
    return cmd_eval(argc, argv);
  if (!strcmp(argv[0], "render"))
    return cmd_render(argc, argv);
  return usage(stderr, 2);
}
