/*
 * certs: see certs.h. Everything is OpenSSL 3 EVP/X509; files go through fs_write_atomic
 * so a crash never leaves half a key behind. The CA key never leaves DIR.
 */
#include "apiserver/certs.h"

#include "base/buf.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/str.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PEM_LIMIT ((size_t)1 << 20)

static int ssl_error(int code, const char *what) {
  char detail[256] = "";
  unsigned long e = ERR_get_error();
  if (e)
    ERR_error_string_n(e, detail, sizeof(detail));
  ERR_clear_error();
  return error_set(code, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

static EVP_PKEY *new_key(void) {
  return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext)
    return ssl_error(ERR_INVALID, "certs: bad extension");
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? 0 : ssl_error(ERR_GENERIC, "certs: cannot add extension");
}

/* A new certificate for `key`, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, long days, X509 *issuer, EVP_PKEY *issuer_key,
                       bool ca, const char *sans) {
  X509 *x = X509_new();
  unsigned char serial[16];
  BIGNUM *bn = NULL;
  if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
    goto fail;
  serial[0] &= 0x7f;
  bn = BN_bin2bn(serial, sizeof(serial), NULL);
  if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
    goto fail;
  X509_set_version(x, 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"portico", -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509 *iss = issuer ? issuer : x;
  if (ca) {
    if (add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") ||
        add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
        add_ext(x, iss, NID_subject_key_identifier, "hash"))
      goto fail;
  } else {
    if (add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") ||
        add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
        add_ext(x, iss, NID_ext_key_usage, "serverAuth") ||
        add_ext(x, iss, NID_subject_key_identifier, "hash") ||
        add_ext(x, iss, NID_authority_key_identifier, "keyid:always") ||
        add_ext(x, iss, NID_subject_alt_name, sans))
      goto fail;
  }
  if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
    goto fail;
  BN_free(bn);
  return x;
fail:
  ssl_error(ERR_GENERIC, "certs: cannot make a certificate");
  BN_free(bn);
  X509_free(x);
  return NULL;
}

static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, mode_t mode) {
  BIO *mem = BIO_new(BIO_s_mem());
  if (!mem)
    return error_set(ERR_NOMEM, "out of memory");
  int ok = cert ? PEM_write_bio_X509(mem, cert)
                : PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL);
  char *data = NULL;
  long len = BIO_get_mem_data(mem, &data);
  int rc = ok && len > 0 ? fs_write_atomic(path, data, (size_t)len, mode)
                         : ssl_error(ERR_GENERIC, "certs: cannot encode PEM");
  BIO_free(mem);
  return rc;
}

static int read_pem(const char *path, X509 **cert, EVP_PKEY **key) {
  buf b = BUF_INIT;
  int rc = fs_read_file(path, PEM_LIMIT, &b);
  if (rc)
    return rc;
  BIO *mem = BIO_new_mem_buf(b.data, (int)b.len);
  if (cert)
    *cert = mem ? PEM_read_bio_X509(mem, NULL, NULL, NULL) : NULL;
  else
    *key = mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
  BIO_free(mem);
  buf_free(&b);
  if ((cert && !*cert) || (!cert && !*key))
    return ssl_error(ERR_INVALID, "certs: cannot read PEM");
  return 0;
}

/* Does the certificate cover host and stay valid for 30 more days? */
static bool serving_cert_fits(X509 *cert, const char *host) {
  if (X509_cmp_time(X509_get0_notAfter(cert), NULL) <= 0)
    return false;
  time_t soon = time(NULL) + 30L * 86400L;
  if (X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0)
    return false;
  if (X509_check_ip_asc(cert, host, 0) == 1)
    return true;
  return X509_check_host(cert, host, 0, 0, NULL) == 1;
}

static bool is_ip(const char *host) {
  unsigned char tmp[16];
  return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

static char *sans_for(const char *host) {
  bool default_host = !strcmp(host, "127.0.0.1") || !strcmp(host, "::1") ||
                      !strcmp(host, "localhost") || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
  if (default_host)
    return str_dup("IP:127.0.0.1,IP:::1,DNS:localhost");
  return str_printf("IP:127.0.0.1,IP:::1,DNS:localhost,%s:%s", is_ip(host) ? "IP" : "DNS", host);
}

static int ensure_token(const char *path, char **out) {
  buf b = BUF_INIT;
  int rc = fs_read_file(path, 4096, &b);
  if (rc == 0) {
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' '))
      b.data[--b.len] = 0;
    if (b.len < 16) {
      buf_free(&b);
      return error_set(ERR_INVALID, "certs: %s is too short to be a token", path);
    }
    *out = buf_detach(&b, NULL);
    buf_free(&b);
    return *out ? 0 : error_set(ERR_NOMEM, "out of memory");
  }
  buf_free(&b);
  if (rc != ERR_NOTFOUND)
    return rc;
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1)
    return ssl_error(ERR_GENERIC, "certs: no randomness");
  char hex[65];
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  char line[67];
  snprintf(line, sizeof(line), "%s\n", hex);
  if ((rc = fs_write_atomic(path, line, 65, 0600)))
    return rc;
  *out = str_dup(hex);
  return *out ? 0 : error_set(ERR_NOMEM, "out of memory");
}

int certs_ensure(certs **out, const char *dir, const char *listen_host) {
  const char *host = listen_host && listen_host[0] ? listen_host : "127.0.0.1";
  certs *c = calloc(1, sizeof(*c));
  char *ca_key_file = fs_join(dir, "ca.key"), *token_file = fs_join(dir, "token");
  char *sans = sans_for(host);
  X509 *ca = NULL, *serving = NULL;
  EVP_PKEY *ca_key = NULL, *key = NULL;
  int rc = 0;
  if (!c || !ca_key_file || !token_file || !sans) {
    rc = error_set(ERR_NOMEM, "out of memory");
    goto done;
  }
  c->ca_file = fs_join(dir, "ca.crt");
  c->cert_file = fs_join(dir, "serving.crt");
  c->key_file = fs_join(dir, "serving.key");
  if (!c->ca_file || !c->cert_file || !c->key_file) {
    rc = error_set(ERR_NOMEM, "out of memory");
    goto done;
  }
  /* the CA: load or make */
  if (fs_exists(c->ca_file) && fs_exists(ca_key_file)) {
    if ((rc = read_pem(c->ca_file, &ca, NULL)) || (rc = read_pem(ca_key_file, NULL, &ca_key))) {
      error_prefix("%s", dir);
      goto done;
    }
  } else {
    ca_key = new_key();
    ca = ca_key ? make_cert(ca_key, "portico-standalone-ca", 3650, NULL, NULL, true, NULL) : NULL;
    if (!ca) {
      rc = ca_key ? error_code() : ssl_error(ERR_GENERIC, "certs: cannot make a key");
      goto done;
    }
    if ((rc = write_pem(ca_key_file, NULL, ca_key, 0600)) ||
        (rc = write_pem(c->ca_file, ca, NULL, 0644)))
      goto done;
    unlink(c->cert_file); /* a new CA invalidates any old serving certificate */
  }
  /* the serving certificate: reuse when it still fits */
  bool reuse = false;
  if (fs_exists(c->cert_file) && fs_exists(c->key_file) &&
      read_pem(c->cert_file, &serving, NULL) == 0 && read_pem(c->key_file, NULL, &key) == 0) {
    reuse = serving_cert_fits(serving, host) && X509_check_private_key(serving, key) == 1 &&
            X509_check_issued(ca, serving) == X509_V_OK;
  }
  if (!reuse) {
    X509_free(serving);
    EVP_PKEY_free(key);
    key = new_key();
    serving = key ? make_cert(key, "portico-standalone", 1825, ca, ca_key, false, sans) : NULL;
    if (!serving) {
      rc = key ? error_code() : ssl_error(ERR_GENERIC, "certs: cannot make a key");
      goto done;
    }
    if ((rc = write_pem(c->key_file, NULL, key, 0600)) ||
        (rc = write_pem(c->cert_file, serving, NULL, 0644)))
      goto done;
  }
  buf pem = BUF_INIT;
  if ((rc = fs_read_file(c->ca_file, PEM_LIMIT, &pem))) {
    buf_free(&pem);
    goto done;
  }
  c->ca_pem = buf_detach(&pem, NULL);
  buf_free(&pem);
  if ((rc = ensure_token(token_file, &c->token)))
    goto done;
done:
  X509_free(ca);
  X509_free(serving);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(key);
  free(ca_key_file);
  free(token_file);
  free(sans);
  if (rc) {
    certs_free(c);
    return rc;
  }
  *out = c;
  return 0;
}

void certs_free(certs *c) {
  if (!c)
    return;
  free(c->ca_file);
  free(c->cert_file);
  free(c->key_file);
  free(c->ca_pem);
  if (c->token)
    OPENSSL_cleanse(c->token, strlen(c->token));
  free(c->token);
  free(c);
}
