/*
 * kubeconfig: writes the kubeconfig through which kubectl reaches the standalone API
 * server: one cluster (server URL, certificate-authority-data), one user (token), one
 * context named "portico", made current. Written atomically with mode 0600 (it holds the
 * token), so a reader polling for the file sees it whole or not at all.
 */
#ifndef PORTICO_APISERVER_KUBECONFIG_H
#define PORTICO_APISERVER_KUBECONFIG_H

/* The URL clients use for a listen address: 0.0.0.0 and "" become 127.0.0.1, "::" becomes
 * [::1], other IPv6 addresses are bracketed. Caller frees; NULL on ERR_NOMEM. */
char *kubeconfig_server_url(const char *listen_host, int port);

/* Writes `path`. ca_pem is the CA certificate in PEM; token the bearer token.
 * ERR_IO, ERR_NOMEM; the old file is untouched on failure. */
int kubeconfig_write(const char *path, const char *server_url, const char *ca_pem,
                     const char *token);

#endif
