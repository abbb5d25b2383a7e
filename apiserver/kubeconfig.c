/*
 * kubeconfig: see kubeconfig.h. The YAML is tiny and fixed, so it is printed directly;
 * every value inserted is either base64 or validated to be free of YAML-special
 * characters (URL and token come from us, not from users).
 */
#include "apiserver/kubeconfig.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *kubeconfig_server_url(const char *listen_host, int port) {
  const char *h = listen_host && listen_host[0] ? listen_host : "127.0.0.1";
  if (!strcmp(h, "0.0.0.0"))
    h = "127.0.0.1";
  if (!strcmp(h, "::"))
    h = "::1";
  if (strchr(h, ':'))
    return str_printf("https://[%s]:%d", h, port);
  return str_printf("https://%s:%d", h, port);
}

static bool plain_scalar(const char *s) {
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          strchr(":/.[]-_", *s)))
      return false;
  return true;
}

int kubeconfig_write(const char *path, const char *server_url, const char *ca_pem,
                     const char *token) {
  if (!plain_scalar(server_url) || !plain_scalar(token))
    return error_set(ERR_INVALID, "kubeconfig: unexpected characters in the server URL or token");
  size_t pem_len = strlen(ca_pem);
  char *ca_b64 = malloc(4 * ((pem_len + 2) / 3) + 1);
  if (!ca_b64)
    return error_set(ERR_NOMEM, "out of memory");
  EVP_EncodeBlock((unsigned char *)ca_b64, (const unsigned char *)ca_pem, (int)pem_len);
  buf out = BUF_INIT;
  int rc = buf_printf(&out,
                      "apiVersion: v1\n"
                      "kind: Config\n"
                      "clusters:\n"
                      "- name: portico\n"
                      "  cluster:\n"
                      "    server: %s\n"
                      "    certificate-authority-data: %s\n"
                      "users:\n"
                      "- name: portico\n"
                      "  user:\n"
                      "    token: %s\n"
                      "contexts:\n"
                      "- name: portico\n"
                      "  context:\n"
                      "    cluster: portico\n"
                      "    user: portico\n"
                      "    namespace: default\n"
                      "current-context: portico\n",
                      server_url, ca_b64, token);
  free(ca_b64);
  if (!rc)
    rc = fs_write_atomic(path, out.data, out.len, 0600);
  buf_free(&out);
  return rc;
}
