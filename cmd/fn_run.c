/*
 * fn_run: `portico fn eval|render|run`.
 *
 *   portico fn eval DIR (--image IMG | --exec CMD) [--fn-config FILE] [--results-dir D]
 *                   [-- key=value ...]
 *   portico fn render [DIR] [--allow-exec] [--results-dir D]
 *   portico fn run NAME          (a built-in as a standalone KRM function: stdin -> stdout)
 *
 * Sandbox flags (eval and render): --sandbox=strict|weak, --timeout DUR (wall time,
 * default 10s), --cpu-time DUR (10s), --memory SIZE (1Gi), --max-processes N (64),
 * --max-output SIZE (64Mi), --fn-dir DIR (function directory, repeatable; also
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_STDIN ((size_t)256 << 20)
#define MAX_KV 64

static int usage(FILE *out, int code) {
  fprintf(out,
          "Usage:\n"
          "  portico fn eval DIR (--image IMG | --exec CMD) [--fn-config FILE] [--results-dir D]\n"
          "                  [sandbox flags] [-- key=value ...]\n"
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
          "  --fn-dir DIR            directory of function executables (repeatable)\n"
          "  --exec-dir DIR          only allow exec functions from DIR (repeatable)\n"
          "  --no-in-process         run built-ins as sandboxed subprocesses too\n");
  return code;
}

static int cmd_run(int argc, char **argv) {
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
    else if ((is_flag(a, "--exec") || is_flag(a, "-e")) &&
             (p = flag_value(argc, argv, &i, a[1] == 'e' ? "-e" : "--exec")))
      o->exec = p;
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
  fn_report rep;
  fn_report_init(&rep);
  yml_node *config = eval_config(&o, &rc);
  if (!rc) {
    fn_step step = {.image = o.image, .exec = o.exec, .config = config};
    rc = fn_eval_package(&o.env, o.dir, &step, &rep, stderr);
  }
  rc = finish(&o, &rep, rc, "eval");
  yml_node_free(config);
  fn_report_free(&rep);
out_usage:
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
