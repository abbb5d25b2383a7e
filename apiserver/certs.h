/*
 * certs: the TLS identity and the credential of the standalone API server, kept under the
 * data directory so that a restart serves the same CA (kubeconfigs stay valid).
 *
 * On first start: a self-signed CA (ca.crt, ca.key), a serving certificate signed by it
 * (serving.crt, serving.key) with SANs 127.0.0.1, ::1, localhost and the listen host,
 * and a random bearer token (token, 256 bits as hex). Keys and the token are written
 * atomically with mode 0600. Later starts reuse everything; the serving certificate alone
 * is re-issued when it does not cover the listen host or expires within 30 days.
 * Keys are ECDSA P-256 (fast to make, accepted by Go's TLS stack).
 */
#ifndef PORTICO_APISERVER_CERTS_H
#define PORTICO_APISERVER_CERTS_H

typedef struct certs {
  char *ca_file;   /* DIR/ca.crt */
  char *cert_file; /* DIR/serving.crt */
  char *key_file;  /* DIR/serving.key */
  char *ca_pem;    /* content of ca.crt (for kubeconfig certificate-authority-data) */
  char *token;     /* the bearer token */
} certs;

/* Makes or loads the files under `dir` (which must exist) for `listen_host` (an IP
 * address or name; NULL: 127.0.0.1). *out (free with certs_free) set on success only.
 * ERR_IO (file system), ERR_INVALID (unreadable or corrupt files: the message names
 * them), ERR_NOMEM. */
int certs_ensure(certs **out, const char *dir, const char *listen_host);

void certs_free(certs *c);

#endif
