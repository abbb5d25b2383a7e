/*
 * standalone: `portico standalone --data DIR [--listen HOST:PORT]`.
 *
 * Runs the embedded Kubernetes-compatible API on one libuv loop: certificates and token
 * (apiserver/certs), the registry (apiserver/registry: store, verbs, watch) behind the
 * HTTPS transport (apiserver/http_server), then writes DIR/kubeconfig once the socket
 * listens (a stale kubeconfig from an earlier run is removed first, so a reader waiting
 * for the file never picks up an old port). SIGINT/SIGTERM stop it cleanly: streams end,
 * connections close, the store closes. Durability across kill -9 is the registry's job
 * (an acknowledged write is committed first).
 */
#include "cmd/commands.h"

#include "apiserver/certs.h"
#include "apiserver/http_server.h"
#include "apiserver/kubeconfig.h"
#include "apiserver/registry.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/str.h"
#include "controller/runtime.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct standalone {
  uv_loop_t loop;
  uv_signal_t sigint, sigterm;
  registry *reg;
  http_server *server;
  bool stopping;
  controller_runtime *ctl; /* the in-process controller (controller/runtime.h) */
  uv_work_t ctl_stop;      /* drains it off the loop, which keeps serving meanwhile */
  bool ctl_stopping;
} standalone;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: portico standalone --data DIR [--listen HOST:PORT] [--log-format text|json]\n"
          "                          [--log-level debug|info|warn|error]\n"
          "\n"
          "Serves a Kubernetes-compatible API (HTTPS, bearer token) with its objects under DIR,\n"
          "and writes DIR/kubeconfig for kubectl once it listens.\n"
          "\n"
          "  --data DIR        data directory (created if missing)\n"
          "  --listen ADDR     listen address, default 127.0.0.1:6443; port 0 picks a free port;\n"
          "                    IPv6 as [::1]:6443\n");
}

/* "127.0.0.1:6443", "[::1]:0", ":6443" (loopback) -> host (caller frees) and port. */
static int parse_listen(const char *s, char **host, int *port) {
  const char *colon;
  char *h;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':')
      return error_set(ERR_INVALID, "--listen: want [IPV6]:PORT, got '%s'", s);
    h = str_ndup(s + 1, (size_t)(close - s - 1));
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon)
      return error_set(ERR_INVALID, "--listen: want HOST:PORT, got '%s'", s);
    h = colon == s ? str_dup("127.0.0.1") : str_ndup(s, (size_t)(colon - s));
  }
  if (!h)
    return ERR_NOMEM;
  int64_t p;
  if (str_to_int64(colon + 1, 0, 65535, &p)) {
    free(h);
    return error_set(ERR_INVALID, "--listen: bad port in '%s'", s);
  }
  if (!strcmp(h, "localhost")) {
    free(h);
    h = str_dup("127.0.0.1");
  }
  *host = h;
  *port = (int)p;
  return h ? 0 : ERR_NOMEM;
}

static void stop(standalone *st) {
  if (st->stopping)
    return;
  st->stopping = true;
  log_info(NULL, "standalone: shutting down");
  /* Ends every watch (their on_close run now), then closes every connection. */
  registry_close(st->reg);
  st->reg = NULL;
  http_server_close(st->server);
  st->server = NULL;
  uv_close((uv_handle_t *)&st->sigint, NULL);
  uv_close((uv_handle_t *)&st->sigterm, NULL);
}

static void ctl_stop_work(uv_work_t *w) {
  controller_runtime_stop(((standalone *)w->data)->ctl);
}

static void ctl_stopped(uv_work_t *w, int status) {
  (void)status;
  standalone *st = w->data;
  st->ctl = NULL;
  stop(st);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)signum;
  standalone *st = sig->data;
  /* The controller drains first (its reconcilers may still call the API), on a worker
   * thread so this loop keeps serving; the server stops once it is done. */
  if (st->ctl && !st->ctl_stopping) {
    st->ctl_stopping = true;
    controller_runtime_request_stop(st->ctl);
    st->ctl_stop.data = st;
    if (uv_queue_work(&st->loop, &st->ctl_stop, ctl_stop_work, ctl_stopped) == 0)
      return;
    controller_runtime_stop(st->ctl);
    st->ctl = NULL;
  }
  if (!st->ctl_stopping || !st->ctl)
    stop(st);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

int cmd_standalone_main(int argc, char **argv) {
  const char *data = NULL, *listen = "127.0.0.1:6443";
  log_format log_fmt = LOG_FORMAT_TEXT;
  log_level log_lvl = LOG_INFO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--data") && next) {
      data = next, i++;
    } else if (str_has_prefix(a, "--data=")) {
      data = a + 7;
    } else if (!strcmp(a, "--listen") && next) {
      listen = next, i++;
    } else if (str_has_prefix(a, "--listen=")) {
      listen = a + 9;
    } else if ((!strcmp(a, "--log-format") || !strcmp(a, "--log-level")) && next) {
      if (!strcmp(a, "--log-format") ? log_parse_format(next, &log_fmt)
                                     : log_parse_level(next, &log_lvl)) {
        fprintf(stderr, "portico standalone: %s: bad value '%s'\n", a, next);
        return 2;
      }
      i++;
    } else {
      fprintf(stderr, "portico standalone: unknown or incomplete flag '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  log_configure(log_fmt, log_lvl);
  if (!data) {
    fprintf(stderr, "portico standalone: --data DIR is required\n");
    usage(stderr);
    return 2;
  }
  char *host = NULL;
  int port = 0;
  if (parse_listen(listen, &host, &port)) {
    fprintf(stderr, "portico standalone: %s\n", error_message());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  int exit_code = 1;
  standalone st = {0};
  certs *crt = NULL;
  char *kubeconfig = NULL, *url = NULL;
  bool loop_ready = false;
  if (fs_mkdir_p(data, 0700)) {
    log_error(NULL, "standalone: cannot create %s: %s", data, error_message());
    goto done;
  }
  kubeconfig = fs_join(data, "kubeconfig");
  if (!kubeconfig)
    goto done;
  unlink(kubeconfig);
  if (certs_ensure(&crt, data, host)) {
    log_error(NULL, "standalone: certificates: %s", error_message());
    goto done;
  }
  if (uv_loop_init(&st.loop))
    goto done;
  loop_ready = true;
  if (registry_open(&st.reg, data, &st.loop)) {
    log_error(NULL, "standalone: cannot open the store under %s: %s", data, error_message());
    goto done;
  }
  http_server_options opt = {
      .host = host,
      .port = port,
      .cert_file = crt->cert_file,
      .key_file = crt->key_file,
      .bearer_token = crt->token,
      .handler = registry_handle,
      .handler_ctx = st.reg,
  };
  if (http_server_start(&st.server, &st.loop, &opt)) {
    log_error(NULL, "standalone: %s", error_message());
    goto done;
  }
  url = kubeconfig_server_url(host, http_server_port(st.server));
  if (!url || kubeconfig_write(kubeconfig, url, crt->ca_pem, crt->token)) {
    log_error(NULL, "standalone: cannot write %s: %s", kubeconfig, error_message());
    goto done;
  }
  log_info(NULL, "standalone: serving %s; kubeconfig written to %s (export KUBECONFIG=%s)", url,
           kubeconfig, kubeconfig);

  /* The controller runs in this process, on its own threads, against the kubeconfig just
   * written; it is drained before the server stops (on_signal). */
  controller_runtime_options co = {0};
  co.kubeconfig = kubeconfig;
  co.leader_elect = false; /* one process owns this API server */
  co.observer = true;
  co.observer_quiet = true;
  if (controller_runtime_start(&st.ctl, &co)) {
    log_error(NULL, "standalone: cannot start the controller: %s", error_message());
    goto done;
  }

  uv_signal_init(&st.loop, &st.sigint);
  uv_signal_init(&st.loop, &st.sigterm);
  st.sigint.data = st.sigterm.data = &st;
  uv_signal_start(&st.sigint, on_signal, SIGINT);
  uv_signal_start(&st.sigterm, on_signal, SIGTERM);

  uv_run(&st.loop, UV_RUN_DEFAULT);
  exit_code = 0;

done:
  if (st.ctl) { /* only on an error path: the normal one drained it in on_signal */
    controller_runtime_stop(st.ctl);
    st.ctl = NULL;
  }
  if (loop_ready) {
    if (!st.stopping) {
      registry_close(st.reg);
      http_server_close(st.server);
    }
    uv_walk(&st.loop, close_any, NULL);
    uv_run(&st.loop, UV_RUN_DEFAULT);
    uv_loop_close(&st.loop);
  }
  if (exit_code == 0)
    log_info(NULL, "standalone: stopped");
  certs_free(crt);
  free(kubeconfig);
  free(url);
  free(host);
  return exit_code;
}
