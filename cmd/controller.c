/*
 * `portico controller`: the operator against a Kubernetes API server (kubeconfig or
 * in-cluster). Parses the flags, configures logging and runs controller/runtime until
 * SIGINT/SIGTERM.
 */
#include "cmd/commands.h"

#include "base/error.h"
#include "base/log.h"
#include "base/str.h"
#include "controller/manager.h"
#include "controller/runtime.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out) {
  fprintf(out,
          "Usage: portico controller [flags]\n"
          "\n"
          "Runs the Portico operator against a Kubernetes API server.\n"
          "\n"
          "Flags:\n"
          "  --kubeconfig PATH           kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)\n"
          "  --leader-elect[=BOOL]       elect a leader on a Lease before reconciling (default true)\n"
          "  --lease-namespace NS        namespace of the Lease (default: the kubeconfig's namespace)\n"
          "  --lease-name NAME           name of the Lease (default portico-controller)\n"
          "  --lease-duration DURATION   how long a Lease is valid (default 15s)\n"
          "  --renew-deadline DURATION   how long the leader tries to renew before giving up (default 10s)\n"
          "  --retry-period DURATION     time between Lease attempts (default 2s)\n"
          "  --health-addr HOST:PORT     serve /healthz, /readyz and /metrics (default :8081; \"0\" disables)\n"
          "  --workers N                 concurrent reconciles per controller (default 2)\n"
          "  --log-format text|json      log format (default text)\n"
          "  --log-level LEVEL           debug, info, warn or error (default info)\n");
}

/* "15s", "500ms", "2m", "1h" or plain seconds -> milliseconds. */
static int parse_duration(const char *s, uint64_t *ms) {
  size_t n = strlen(s);
  uint64_t mult = 1000;
  char num[32];
  if (n > 2 && str_has_suffix(s, "ms")) {
    mult = 1;
    n -= 2;
  } else if (n > 1 && (s[n - 1] == 's' || s[n - 1] == 'm' || s[n - 1] == 'h')) {
    mult = s[n - 1] == 's' ? 1000 : s[n - 1] == 'm' ? 60000 : 3600000;
    n -= 1;
  }
  if (n == 0 || n >= sizeof num)
    return ERR_INVALID;
  memcpy(num, s, n);
  num[n] = 0;
  int64_t v;
  if (str_to_int64(num, 1, 86400000, &v))
    return ERR_INVALID;
  *ms = (uint64_t)v * mult;
  return 0;
}

int cmd_controller_main(int argc, char **argv) {
  controller_runtime_options o = {0};
  o.leader_elect = true;
  o.observer = true;
  o.handle_signals = true;
  o.health_addr = ":8081";
  o.health_optional = true; /* until --health-addr names one explicitly */
  log_format fmt = LOG_FORMAT_TEXT;
  log_level lvl = LOG_INFO;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    }
    if (strncmp(a, "--", 2)) {
      fprintf(stderr, "portico controller: unexpected argument '%s'\n", a);
      return 2;
    }
    char name[64];
    const char *eq = strchr(a, '=');
    const char *val = NULL;
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    if (nl >= sizeof name) {
      fprintf(stderr, "portico controller: unknown flag '%s'\n", a);
      return 2;
    }
    memcpy(name, a, nl);
    name[nl] = 0;
    if (eq)
      val = eq + 1;
    if (!strcmp(name, "--leader-elect")) {
      if (!val && i + 1 < argc && (!strcmp(argv[i + 1], "true") || !strcmp(argv[i + 1], "false")))
        val = argv[++i];
      if (!val || !strcmp(val, "true") || !strcmp(val, "1"))
        o.leader_elect = true;
      else if (!strcmp(val, "false") || !strcmp(val, "0"))
        o.leader_elect = false;
      else {
        fprintf(stderr, "portico controller: --leader-elect wants true or false, not '%s'\n", val);
        return 2;
      }
      continue;
    }
    static const char *valued[] = {"--kubeconfig", "--lease-namespace", "--lease-name",
                                   "--health-addr", "--workers", "--log-format", "--log-level",
                                   "--lease-duration", "--renew-deadline", "--retry-period"};
    bool known = false;
    for (size_t k = 0; k < sizeof valued / sizeof *valued; k++)
      known |= !strcmp(name, valued[k]);
    if (!known) {
      fprintf(stderr, "portico controller: unknown flag '%s'\n", name);
      usage(stderr);
      return 2;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "portico controller: %s needs a value\n", name);
        return 2;
      }
      val = argv[++i];
    }
    int bad = 0;
    if (!strcmp(name, "--kubeconfig"))
      o.kubeconfig = val;
    else if (!strcmp(name, "--lease-namespace"))
      o.lease_namespace = val;
    else if (!strcmp(name, "--lease-name"))
      o.lease_name = val;
    else if (!strcmp(name, "--health-addr")) {
      o.health_addr = (!strcmp(val, "0") || !*val) ? NULL : val;
      o.health_optional = false;
    }
    else if (!strcmp(name, "--workers")) {
      int64_t n;
      bad = str_to_int64(val, 1, MANAGER_MAX_WORKERS, &n);
      o.workers = (int)n;
    } else if (!strcmp(name, "--log-format"))
      bad = log_parse_format(val, &fmt);
    else if (!strcmp(name, "--log-level"))
      bad = log_parse_level(val, &lvl);
    else if (!strcmp(name, "--lease-duration"))
      bad = parse_duration(val, &o.lease_duration_ms);
    else if (!strcmp(name, "--renew-deadline"))
      bad = parse_duration(val, &o.renew_deadline_ms);
    else if (!strcmp(name, "--retry-period"))
      bad = parse_duration(val, &o.retry_period_ms);
    if (bad) {
      fprintf(stderr, "portico controller: bad value '%s' for %s\n", val, name);
      return 2;
    }
  }
  uint64_t ld = o.lease_duration_ms ? o.lease_duration_ms : 15000;
  uint64_t rd = o.renew_deadline_ms ? o.renew_deadline_ms : 10000;
  uint64_t rp = o.retry_period_ms ? o.retry_period_ms : 2000;
  if (!(ld > rd && rd > rp)) {
    fprintf(stderr, "portico controller: want --lease-duration > --renew-deadline > --retry-period\n");
    return 2;
  }
  log_configure(fmt, lvl);
  controller_runtime *rt = NULL;
  int rc = controller_runtime_start(&rt, &o);
  if (rc) {
    log_error(NULL, "cannot start the controller: %s", error_message());
    return 1;
  }
  controller_runtime_wait(rt);
  controller_runtime_stop(rt);
  return 0;
}
