/*
 * kubeconfig: where the API server is and how to authenticate to it.
 *
 * Sources, in controller-runtime's order (kubeconfig_resolve):
 *   1. an explicit path (--kubeconfig);
 *   2. $KUBECONFIG, a ':'-separated list merged as kubectl merges it (the first file to
 *      define a cluster, user or context name wins; the first current-context set wins);
 *   3. in-cluster: $KUBERNETES_SERVICE_HOST/_PORT with the service account directory
 *      (/var/run/secrets/kubernetes.io/serviceaccount, or $PORTICO_SERVICEACCOUNT_DIR);
 *   4. ~/.kube/config.
 * From the current context it takes the cluster's server, certificate-authority(-data) and
 * insecure-skip-tls-verify, the user's client-certificate(-data), client-key(-data), token
 * and tokenFile, and the context's namespace. Relative file paths are resolved against the
 * directory of the file that names them. A token file is re-read when it changes (service
 * account tokens rotate): kubeconfig_token().
 * Credentials are never logged; kubeconfig_describe() prints only what is safe.
 */
#ifndef PORTICO_CONTROLLER_KUBECONFIG_H
#define PORTICO_CONTROLLER_KUBECONFIG_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define KUBECONFIG_MAX_FILE ((size_t)4 << 20)
#define KUBECONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct kubeconfig {
  char *server;        /* "https://host:port", no trailing slash */
  char *ca_pem;        /* CA bundle bytes (PEM) or NULL for the system store */
  size_t ca_len;
  char *cert_pem;      /* client certificate (PEM) or NULL */
  size_t cert_len;
  char *key_pem;       /* client key (PEM) or NULL */
  size_t key_len;
  bool insecure;       /* insecure-skip-tls-verify */
  char *namespace;     /* context or service account namespace, "default" when unset */
  char *context;       /* current context name ("" in-cluster) */
  char *source;        /* the file (or "in-cluster") the config came from */
  /* bearer token: fixed, or read from token_file and re-read when its mtime changes */
  pthread_mutex_t token_mu;
  char *token;
  char *token_file;
  struct timespec token_mtime;
} kubeconfig;

/* Loads from the sources above (explicit_path may be NULL). *out is filled and owned by
 * the caller (kubeconfig_free). ERR_NOTFOUND when no source exists, ERR_INVALID for a
 * malformed file or a missing context/cluster/user, ERR_IO for unreadable files. */
int kubeconfig_resolve(kubeconfig *out, const char *explicit_path);

/* Loads one kubeconfig (or a ':' list) exactly as given. */
int kubeconfig_load_files(kubeconfig *out, const char *path_list);

/* Loads in-cluster configuration from the environment and `sa_dir` (NULL: the default or
 * $PORTICO_SERVICEACCOUNT_DIR). ERR_NOTFOUND when not in a cluster. */
int kubeconfig_in_cluster(kubeconfig *out, const char *sa_dir);

/* The current bearer token (re-read from token_file when it changed), or NULL when none.
 * Caller frees. Thread-safe. */
char *kubeconfig_token(kubeconfig *kc);

/* A one-line description without credentials ("server=... context=... auth=token"). */
void kubeconfig_describe(const kubeconfig *kc, char *out, size_t size);

void kubeconfig_free(kubeconfig *kc);

/* Parses YAML text (one document) into JSON; scalars become strings except unquoted
 * true/false/null and integers. New reference in *out. ERR_INVALID on bad YAML. */
int kubeconfig_yaml_to_json(const char *text, size_t len, json_t **out);

/* Decodes standard base64 (whitespace ignored). Caller frees *out. ERR_INVALID. */
int kubeconfig_base64_decode(const char *in, char **out, size_t *out_len);

#endif
