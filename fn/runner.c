/* runner: see runner.h. */
#include "runner.h"

#include "base/error.h"
#include "base/str.h"
#include "cad/krm.h"
#include "fn/builtin.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fn_env_default(fn_env *env) {
  memset(env, 0, sizeof(*env));
  env->mode = SANDBOX_STRICT;
  sandbox_limits_default(&env->limits);
  env->builtins_in_process = true;
}

void fn_outcome_free(fn_outcome *out) {
  buf_free(&out->stderr_text);
  json_decref(out->results);
  yml_file_free(out->output);
  memset(out, 0, sizeof(*out));
}

const char *fn_step_display(const fn_step *step) {
  return step->image ? step->image : step->exec ? step->exec : "";
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses the function's stdout into out->output/results. Sets out->ok accordingly. */
static void take_output(fn_outcome *out, const buf *text, bool exited_ok) {
  yml_file *f = NULL;
  int rc = yml_file_parse(&f, "function output", text->data ? text->data : "", text->len);
  yml_node *root = rc ? NULL : yml_file_doc(f, 0);
  if (!rc && (!root || krm_rl_check(root)))
    rc = root ? ERR_INVALID : error_set(ERR_INVALID, "the function wrote no ResourceList");
  if (!rc) {
    yml_node *results = yml_map_get(root, "results");
    json_t *j = results ? yml_to_json(results) : NULL;
    if (json_is_array(j)) {
      json_decref(out->results);
      out->results = j;
    } else {
      json_decref(j);
    }
  }
  if (rc) {
    if (exited_ok) {
      char snippet[64];
      size_t n = text->len < sizeof(snippet) - 1 ? text->len : sizeof(snippet) - 1;
      memcpy(snippet, text->data ? text->data : "", n);
      snippet[n] = 0;
      for (char *p = snippet; *p; p++)
        if (*p == '\n' || (unsigned char)*p < 32)
          *p = ' ';
      snprintf(out->message, sizeof(out->message),
               "exited with code 0 but its output is not a valid ResourceList (%s); output "
               "starts with \"%s\"",
               error_message(), snippet);
      out->exit_code = 1;
    }
    yml_file_free(f);
    out->ok = false;
    return;
  }
  if (exited_ok) {
    out->output = f;
    out->ok = true;
  } else {
    yml_file_free(f);
  }
}

static int resolve_step(const fn_env *env, const fn_step *step, resolved_fn *fn) {
  return step->image  ? resolve_image(&env->resolve, step->image, fn)
         : step->exec ? resolve_exec(&env->resolve, step->exec, step->exec_base_dir, fn)
                      : error_set(ERR_INVALID, "a function needs an image or an exec command");
}

static bool in_process(const fn_env *env, const resolved_fn *fn) {
  return fn->kind == RESOLVED_BUILTIN && env->builtins_in_process;
}

/* The sandbox spec for a resolved function that runs as a subprocess (an executable, or
 * Portico's own `fn run NAME` for a built-in outside the fast path). `self` (PATH_MAX) and
 * `self_argv` (5) are storage the spec points into. No stdin yet. */
static int subprocess_spec(const fn_env *env, const fn_step *step, resolved_fn *fn, char *self,
                           char **self_argv, sandbox_spec *spec) {
  bool self_run = fn->kind == RESOLVED_BUILTIN;
  if (self_run && !realpath("/proc/self/exe", self))
    return error_set_errno(ERR_IO, "cannot find Portico's own executable");
  self_argv[0] = "portico";
  self_argv[1] = "fn";
  self_argv[2] = "run";
  self_argv[3] = fn->builtin;
  self_argv[4] = NULL;
  memset(spec, 0, sizeof(*spec));
  spec->exe = self_run ? self : fn->exe;
  spec->argv = self_run ? self_argv : fn->argv;
  spec->limits = env->limits;
  spec->mode = env->mode;
  spec->envp = step->envp;
  return 0;
}

struct fn_prepared {
  char *image, *exec, *base_dir; /* the step it was made for */
  sandbox_proc *sp;
  bool released;
  buf input; /* what it was released on */
};

void fn_prepared_free(fn_prepared *p) {
  if (!p)
    return;
  sandbox_cancel(p->sp);
  buf_free(&p->input);
  free(p->image);
  free(p->exec);
  free(p->base_dir);
  free(p);
}

static bool same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static bool prepared_for(const fn_prepared *p, const fn_step *step) {
  return p && same_str(p->image, step->image) && same_str(p->exec, p->image ? NULL : step->exec) &&
         same_str(p->base_dir, step->exec_base_dir);
}

fn_prepared *fn_prepare_step(const fn_env *env, const fn_step *step) {
  resolved_fn fn;
  memset(&fn, 0, sizeof(fn));
  fn_prepared *p = NULL;
  int saved = error_code();
  char saved_msg[256];
  snprintf(saved_msg, sizeof(saved_msg), "%s", error_message());
  if (!resolve_step(env, step, &fn) && !in_process(env, &fn)) {
    char self[PATH_MAX];
    char *self_argv[5];
    sandbox_spec spec;
    p = calloc(1, sizeof(*p));
    if (p && (step->image ? !(p->image = str_dup(step->image))
                          : step->exec && !(p->exec = str_dup(step->exec))))
      p = (fn_prepared_free(p), NULL);
    if (p && step->exec_base_dir && !(p->base_dir = str_dup(step->exec_base_dir)))
      p = (fn_prepared_free(p), NULL);
    if (p && (subprocess_spec(env, step, &fn, self, self_argv, &spec) || sandbox_start(&spec, &p->sp)))
      p = (fn_prepared_free(p), NULL);
  }
  resolved_fn_free(&fn);
  /* Best effort: whatever failed here fails again, and is reported, when the step runs. */
  if (saved)
    error_set(saved, "%s", saved_msg);
  else
    error_clear();
  return p;
}

/* Starts `p`'s function on `data` (copied) ahead of its turn. Nothing on failure. */
static void release_ahead(fn_prepared *p, const buf *data) {
  if (!p || !p->sp || p->released || buf_append(&p->input, data->data ? data->data : "", data->len))
    return;
  p->released = !sandbox_release(p->sp, p->input.data, p->input.len);
  error_clear();
}

/* What happens while a finished function's sandbox is torn down (its exit status comes
 * after that): the next function starts on the output, and the output is parsed as if the
 * status will be 0 (it almost always is; when not, the parse is undone). */
typedef struct early_output {
  fn_prepared *next;
  fn_outcome *out;
  bool parsed;
} early_output;

static void on_output(void *arg, const buf *text) {
  early_output *e = arg;
  release_ahead(e->next, text);
  take_output(e->out, text, true);
  e->parsed = true;
}

/* Forgets what take_output(..., true) put in `out`. */
static void outcome_unparse(fn_outcome *out) {
  yml_file_free(out->output);
  out->output = NULL;
  out->ok = false;
  out->exit_code = 0;
  out->message[0] = 0;
  json_decref(out->results);
  out->results = json_array();
}

int fn_run_step(const fn_env *env, const fn_step *step, const yml_file *input, fn_outcome *out) {
  return fn_run_step_prepared(env, step, input, NULL, NULL, out);
}

int fn_run_step_prepared(const fn_env *env, const fn_step *step, const yml_file *input,
                         fn_prepared *prep, fn_prepared *next, fn_outcome *out) {
  buf_init(&out->stderr_text, (size_t)64 << 10);
  out->results = json_array();
  resolved_fn fn;
  memset(&fn, 0, sizeof(fn));
  buf in = BUF_INIT;
  int rc = resolve_step(env, step, &fn);
  if (rc)
    goto done;
  rc = yml_file_write(input, &in);
  if (rc)
    goto done;
  int64_t start = now_ms();
  if (in_process(env, &fn)) {
    buf text = BUF_INIT;
    bool failed = false;
    rc = builtin_run_text(fn.builtin, in.data ? in.data : "", in.len, &text, &failed);
    if (rc) {
      buf_free(&text);
      goto done;
    }
    out->exit_code = failed ? 1 : 0;
    take_output(out, &text, !failed);
    if (failed) {
      /* A built-in reports its failure as results; also on stderr, as the image does. */
      size_t i;
      json_t *r;
      json_array_foreach(out->results, i, r) {
        if (str_eq(json_string_value(json_object_get(r, "severity")), "error"))
          buf_printf(&out->stderr_text, "%s\n", json_string_value(json_object_get(r, "message")));
      }
      snprintf(out->message, sizeof(out->message), "exited with code 1");
    }
    buf_free(&text);
  } else {
    sandbox_result sr;
    memset(&sr, 0, sizeof(sr));
    early_output early = {.next = next, .out = out};
    /* A sandbox released ahead on a guess of this input is used only when the guess was
     * right to the byte; otherwise it is killed and the step runs from scratch. */
    bool usable = prepared_for(prep, step) &&
                  (!prep->released || (prep->input.len == in.len &&
                                       !memcmp(buf_cstr(&prep->input), buf_cstr(&in), in.len)));
    if (usable) {
      buf_init(&sr.out, 0);
      buf_init(&sr.err, 0);
      /* The next function starts on this one's output as it is, as soon as it is all
       * there (before this sandbox is torn down), while it is checked and parsed here:
       * usually the parse and the next input give back the same bytes. A failure of this
       * function stops the pipeline, which cancels the next one. */
      rc = sandbox_finish(prep->sp, in.data, in.len, on_output, &early, &sr);
      prep->sp = NULL; /* freed by sandbox_finish */
    } else {
      char self[PATH_MAX];
      char *self_argv[5];
      sandbox_spec spec;
      rc = subprocess_spec(env, step, &fn, self, self_argv, &spec);
      if (rc) {
        sandbox_result_free(&sr);
        goto done;
      }
      spec.stdin_data = in.data;
      spec.stdin_len = in.len;
      rc = sandbox_run(&spec, &sr);
      if (!rc && sr.outcome == SANDBOX_OK && sr.exit_code == 0)
        release_ahead(next, &sr.out);
    }
    if (!rc) {
      buf_append(&out->stderr_text, sr.err.data ? sr.err.data : "",
                 sr.err.len < ((size_t)64 << 10) ? sr.err.len : ((size_t)64 << 10));
      /* on_output parsed the output already: that stands when the function exited 0. */
      bool parsed = early.parsed && sr.outcome == SANDBOX_OK && sr.exit_code == 0;
      if (early.parsed && !parsed)
        outcome_unparse(out);
      if (!parsed && sr.outcome == SANDBOX_OK) {
        out->exit_code = sr.exit_code;
        take_output(out, &sr.out, sr.exit_code == 0);
        if (sr.exit_code != 0)
          snprintf(out->message, sizeof(out->message), "exited with code %d", sr.exit_code);
      } else if (!parsed) {
        out->exit_code = 1;
        char why[300];
        sandbox_describe(&sr, why, sizeof(why));
        snprintf(out->message, sizeof(out->message), "%s", why);
      }
    }
    sandbox_result_free(&sr);
  }
  out->ms = now_ms() - start;
done:
  fn_prepared_free(prep);
  buf_free(&in);
  resolved_fn_free(&fn);
  return rc;
}
