/*
 * kubeconfig: see kubeconfig.h. The files are parsed with libyaml's document API into
 * jansson values, merged by name, and then the current context is resolved.
 */
#include "controller/kubeconfig.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/jpath.h"
#include "base/str.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* --- YAML to JSON -------------------------------------------------------------------- */

#define YAML_MAX_NODES 200000 /* aliases can repeat subtrees: bound the expansion */

static json_t *yaml_node_to_json(yaml_document_t *doc, yaml_node_t *node, int depth, size_t *budget) {
  if (!node || depth > 64 || *budget == 0)
    return NULL;
  (*budget)--;
  switch (node->type) {
  case YAML_SCALAR_NODE: {
    const char *v = (const char *)node->data.scalar.value;
    size_t n = node->data.scalar.length;
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
      if (!strcmp(v, "true"))
        return json_true();
      if (!strcmp(v, "false"))
        return json_false();
      if (!strcmp(v, "null") || !strcmp(v, "~") || n == 0)
        return json_null();
      int64_t i;
      if (str_to_int64(v, INT64_MIN, INT64_MAX, &i) == 0)
        return json_integer(i);
    }
    return json_stringn(v, n);
  }
  case YAML_SEQUENCE_NODE: {
    json_t *arr = json_array();
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         arr && it < node->data.sequence.items.top; it++) {
      json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1, budget);
      if (!v || json_array_append_new(arr, v)) {
        json_decref(arr);
        return NULL;
      }
    }
    return arr;
  }
  case YAML_MAPPING_NODE: {
    json_t *obj = json_object();
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
         obj && p < node->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(doc, p->key);
      if (!k || k->type != YAML_SCALAR_NODE) {
        json_decref(obj);
        return NULL;
      }
      json_t *v = yaml_node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1, budget);
      if (!v || json_object_set_new(obj, (const char *)k->data.scalar.value, v)) {
        json_decref(obj);
        return NULL;
      }
    }
    return obj;
  }
  default:
    return NULL;
  }
}

int kubeconfig_yaml_to_json(const char *text, size_t len, json_t **out) {
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser))
    return error_set(ERR_NOMEM, "yaml: cannot initialise parser");
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  int rc = 0;
  if (!yaml_parser_load(&parser, &doc)) {
    rc = error_set(ERR_INVALID, "yaml: %s at line %zu", parser.problem ? parser.problem : "error",
                   parser.problem_mark.line + 1);
    yaml_parser_delete(&parser);
    return rc;
  }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  size_t budget = YAML_MAX_NODES;
  json_t *j = root ? yaml_node_to_json(&doc, root, 0, &budget) : json_object();
  if (!j)
    rc = error_set(ERR_INVALID, "yaml: unsupported document (complex keys, too deep or too large)");
  else
    *out = j;
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return rc;
}

/* --- base64 -------------------------------------------------------------------------- */

static int b64_value(int c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

int kubeconfig_base64_decode(const char *in, char **out, size_t *out_len) {
  size_t n = strlen(in);
  char *o = malloc(n / 4 * 3 + 4);
  if (!o)
    return error_set(ERR_NOMEM, "base64: out of memory");
  size_t len = 0;
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)in[i];
    if (c == '=' || c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    int v = b64_value(c);
    if (v < 0) {
      free(o);
      return error_set(ERR_INVALID, "base64: invalid character");
    }
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[len++] = (char)((acc >> bits) & 0xff);
    }
  }
  o[len] = 0;
  *out = o;
  *out_len = len;
  return 0;
}

/* --- loading ------------------------------------------------------------------------- */

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash)
    return str_dup(".");
  return str_ndup(path, (size_t)(slash - path));
}

/* Resolves `p` against `dir` unless absolute. Caller frees. */
static char *resolve_path(const char *dir, const char *p) {
  if (p[0] == '/')
    return str_dup(p);
  return str_printf("%s/%s", dir, p);
}

/* Makes file-path fields of `entry` absolute against dir. */
static void absolutise(json_t *entry, const char *dir) {
  static const char *fields[] = {"certificate-authority", "client-certificate", "client-key",
                                 "tokenFile"};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    const char *v = jpath_str(entry, fields[i]);
    if (v && *v) {
      char *abs = resolve_path(dir, v);
      if (abs)
        json_object_set_new(entry, fields[i], json_string(abs));
      free(abs);
    }
  }
}

/* Merges `list` (clusters/users/contexts of one file) into `into` (name -> entry). */
static void merge_named(json_t *into, json_t *list, const char *inner, const char *dir) {
  size_t i;
  json_t *item;
  json_array_foreach(list, i, item) {
    const char *name = jpath_str(item, "name");
    json_t *entry = json_object_get(item, inner);
    if (!name || !json_is_object(entry) || json_object_get(into, name))
      continue;
    json_t *copy = json_deep_copy(entry);
    if (!copy)
      continue;
    absolutise(copy, dir);
    json_object_set_new(into, name, copy);
  }
}

static int read_file_bytes(const char *path, char **out, size_t *len) {
  buf b = BUF_INIT;
  buf_init(&b, KUBECONFIG_MAX_FILE);
  int rc = fs_read_file(path, KUBECONFIG_MAX_FILE, &b);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *out = buf_detach(&b, len);
  return *out ? 0 : ERR_NOMEM;
}

/* Fills (data,len) from "<field>-data" (base64) or "<field>" (a file). */
static int take_pem(json_t *entry, const char *field, char **data, size_t *len) {
  char key[64];
  snprintf(key, sizeof key, "%s-data", field);
  const char *b64 = jpath_str(entry, key);
  if (b64 && *b64)
    return kubeconfig_base64_decode(b64, data, len) ? error_prefix("%s", key) : 0;
  const char *file = jpath_str(entry, field);
  if (file && *file)
    return read_file_bytes(file, data, len) ? error_prefix("%s", field) : 0;
  return 0;
}

static void init_kc(kubeconfig *kc) {
  memset(kc, 0, sizeof *kc);
  pthread_mutex_init(&kc->token_mu, NULL);
}

int kubeconfig_load_files(kubeconfig *out, const char *path_list) {
  json_t *clusters = json_object(), *users = json_object(), *contexts = json_object();
  char *current = NULL, *first_path = NULL, *list = str_dup(path_list);
  int rc = 0, files = 0;
  init_kc(out);
  if (!clusters || !users || !contexts || !list) {
    rc = error_set(ERR_NOMEM, "kubeconfig: out of memory");
    goto done;
  }
  for (char *save = NULL, *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
    if (!*p)
      continue;
    struct stat st;
    if (stat(p, &st) != 0)
      continue; /* kubectl ignores missing files in $KUBECONFIG */
    char *text = NULL;
    size_t len = 0;
    if ((rc = read_file_bytes(p, &text, &len)) != 0) {
      error_prefix("kubeconfig %s", p);
      goto done;
    }
    json_t *doc = NULL;
    rc = kubeconfig_yaml_to_json(text, len, &doc);
    free(text);
    if (rc) {
      error_prefix("kubeconfig %s", p);
      goto done;
    }
    char *dir = dir_of(p);
    if (dir) {
      merge_named(clusters, json_object_get(doc, "clusters"), "cluster", dir);
      merge_named(users, json_object_get(doc, "users"), "user", dir);
      merge_named(contexts, json_object_get(doc, "contexts"), "context", dir);
    }
    free(dir);
    const char *cc = jpath_str(doc, "current-context");
    if (!current && cc && *cc)
      current = str_dup(cc);
    if (!first_path)
      first_path = str_dup(p);
    json_decref(doc);
    files++;
  }
  if (!files) {
    rc = error_set(ERR_NOTFOUND, "kubeconfig: no file found in '%s'", path_list);
    goto done;
  }
  if (!current) {
    rc = error_set(ERR_INVALID, "kubeconfig: no current-context");
    goto done;
  }
  json_t *ctx = json_object_get(contexts, current);
  if (!ctx) {
    rc = error_set(ERR_INVALID, "kubeconfig: context '%s' not found", current);
    goto done;
  }
  const char *cluster_name = jpath_str(ctx, "cluster");
  const char *user_name = jpath_str(ctx, "user");
  json_t *cluster = cluster_name ? json_object_get(clusters, cluster_name) : NULL;
  json_t *user = user_name ? json_object_get(users, user_name) : NULL;
  if (!cluster || !jpath_str(cluster, "server")) {
    rc = error_set(ERR_INVALID, "kubeconfig: cluster '%s' of context '%s' not found or has no server",
                   cluster_name ? cluster_name : "", current);
    goto done;
  }
  out->server = str_dup(jpath_str(cluster, "server"));
  size_t sl = strlen(out->server);
  while (sl > 0 && out->server[sl - 1] == '/')
    out->server[--sl] = 0;
  out->insecure = jpath_bool(cluster, "insecure-skip-tls-verify", false) ||
                  str_eq(jpath_str(cluster, "insecure-skip-tls-verify"), "true");
  if ((rc = take_pem(cluster, "certificate-authority", &out->ca_pem, &out->ca_len)))
    goto done;
  if (user) {
    if ((rc = take_pem(user, "client-certificate", &out->cert_pem, &out->cert_len)) ||
        (rc = take_pem(user, "client-key", &out->key_pem, &out->key_len)))
      goto done;
    const char *tok = jpath_str(user, "token");
    if (tok && *tok)
      out->token = str_dup(tok);
    const char *tf = jpath_str(user, "tokenFile");
    if (tf && *tf && !out->token)
      out->token_file = str_dup(tf);
    if (json_object_get(user, "exec") || json_object_get(user, "auth-provider"))
      if (!out->token && !out->token_file && !out->cert_pem) {
        rc = error_set(ERR_UNSUPPORTED, "kubeconfig: user '%s' uses exec/auth-provider plugins, "
                                        "which are not supported", user_name);
        goto done;
      }
  }
  const char *ns = jpath_str(ctx, "namespace");
  out->namespace = str_dup(ns && *ns ? ns : "default");
  out->context = str_dup(current);
  out->source = str_dup(first_path);
  if (!out->server || !out->namespace || !out->context || !out->source)
    rc = error_set(ERR_NOMEM, "kubeconfig: out of memory");
done:
  json_decref(clusters);
  json_decref(users);
  json_decref(contexts);
  free(current);
  free(first_path);
  free(list);
  if (rc)
    kubeconfig_free(out);
  return rc;
}

int kubeconfig_in_cluster(kubeconfig *out, const char *sa_dir) {
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return error_set(ERR_NOTFOUND, "in-cluster: KUBERNETES_SERVICE_HOST/PORT not set");
  if (!sa_dir)
    sa_dir = getenv("PORTICO_SERVICEACCOUNT_DIR");
  if (!sa_dir || !*sa_dir)
    sa_dir = KUBECONFIG_SA_DIR;
  init_kc(out);
  int rc = 0;
  char *ns_text = NULL;
  size_t ns_len = 0;
  char *ca = str_printf("%s/ca.crt", sa_dir);
  char *nsf = str_printf("%s/namespace", sa_dir);
  out->token_file = str_printf("%s/token", sa_dir);
  /* IPv6 hosts need brackets in a URL. */
  out->server = strchr(host, ':') ? str_printf("https://[%s]:%s", host, port)
                                  : str_printf("https://%s:%s", host, port);
  if (!ca || !nsf || !out->token_file || !out->server) {
    rc = error_set(ERR_NOMEM, "in-cluster: out of memory");
    goto done;
  }
  struct stat st;
  if (stat(out->token_file, &st) != 0) {
    rc = error_set(ERR_NOTFOUND, "in-cluster: no service account token in %s", sa_dir);
    goto done;
  }
  if (stat(ca, &st) == 0 && (rc = read_file_bytes(ca, &out->ca_pem, &out->ca_len)))
    goto done;
  if (stat(nsf, &st) == 0 && read_file_bytes(nsf, &ns_text, &ns_len) == 0) {
    while (ns_len && (ns_text[ns_len - 1] == '\n' || ns_text[ns_len - 1] == ' '))
      ns_text[--ns_len] = 0;
  }
  out->namespace = str_dup(ns_text && *ns_text ? ns_text : "default");
  out->context = str_dup("");
  out->source = str_dup("in-cluster");
done:
  free(ca);
  free(nsf);
  free(ns_text);
  if (rc)
    kubeconfig_free(out);
  return rc;
}

int kubeconfig_resolve(kubeconfig *out, const char *explicit_path) {
  if (explicit_path && *explicit_path)
    return kubeconfig_load_files(out, explicit_path);
  const char *env = getenv("KUBECONFIG");
  if (env && *env)
    return kubeconfig_load_files(out, env);
  int rc = kubeconfig_in_cluster(out, NULL);
  if (rc != ERR_NOTFOUND)
    return rc;
  const char *home = getenv("HOME");
  if (!home || !*home)
    return error_set(ERR_NOTFOUND, "no kubeconfig: use --kubeconfig, $KUBECONFIG or run in-cluster");
  char *p = str_printf("%s/.kube/config", home);
  if (!p)
    return ERR_NOMEM;
  rc = kubeconfig_load_files(out, p);
  free(p);
  if (rc == ERR_NOTFOUND)
    error_set(ERR_NOTFOUND, "no kubeconfig: use --kubeconfig, $KUBECONFIG, ~/.kube/config or run in-cluster");
  return rc;
}

char *kubeconfig_token(kubeconfig *kc) {
  char *t = NULL;
  pthread_mutex_lock(&kc->token_mu);
  if (kc->token_file) {
    struct stat st;
    if (stat(kc->token_file, &st) == 0 &&
        (!kc->token || st.st_mtim.tv_sec != kc->token_mtime.tv_sec ||
         st.st_mtim.tv_nsec != kc->token_mtime.tv_nsec)) {
      char *text = NULL;
      size_t len = 0;
      if (read_file_bytes(kc->token_file, &text, &len) == 0) {
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
          text[--len] = 0;
        free(kc->token);
        kc->token = text;
        kc->token_mtime = st.st_mtim;
      }
    }
  }
  if (kc->token)
    t = str_dup(kc->token);
  pthread_mutex_unlock(&kc->token_mu);
  return t;
}

void kubeconfig_describe(const kubeconfig *kc, char *out, size_t size) {
  const char *auth = kc->cert_pem ? "client-certificate"
                     : kc->token_file ? "token-file"
                     : kc->token ? "token"
                                 : "none";
  snprintf(out, size, "server=%s context=%s namespace=%s source=%s auth=%s%s",
           kc->server ? kc->server : "", kc->context ? kc->context : "",
           kc->namespace ? kc->namespace : "", kc->source ? kc->source : "", auth,
           kc->insecure ? " insecure-skip-tls-verify" : "");
}

void kubeconfig_free(kubeconfig *kc) {
  if (!kc)
    return;
  free(kc->server);
  free(kc->ca_pem);
  if (kc->key_pem) /* key material: wipe before freeing */
    memset(kc->key_pem, 0, kc->key_len);
  free(kc->cert_pem);
  free(kc->key_pem);
  free(kc->namespace);
  free(kc->context);
  free(kc->source);
  if (kc->token)
    memset(kc->token, 0, strlen(kc->token));
  free(kc->token);
  free(kc->token_file);
  pthread_mutex_destroy(&kc->token_mu);
  memset(kc, 0, sizeof *kc);
}
