/* TLS for the listener (gateway.tls.*), with OpenSSL.
 *
 * Each connection's SSL reads and writes through a pipe BIO (net/tls_bio.h): reads
 * come straight from the bytes libuv just read, writes append to the connection's
 * output buffer. It holds nothing itself, and SSL_MODE_RELEASE_BUFFERS lets an idle
 * connection drop OpenSSL's own buffers.
 *
 * With no certPath/keyPath configured, a self-signed P-256 certificate for localhost,
 * 127.0.0.1 and ::1 is generated once under DIR/tls/ (gateway-cert.pem,
 * gateway-key.pem, the key 0600) and reused. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "gateway/gateway_int.h"

static uint8_t plain_buf[16384];

static int generate_self_signed(const char *cert_path, const char *key_path, char *err,
                                size_t errlen)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int rc = -1;
    if (!key || !x) goto out;
    X509_set_version(x, 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"clawgate", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *san =
        X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    if (san) X509_add_ext(x, san, -1);
    if (bc) X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(san);
    X509_EXTENSION_free(bc);
    if (!X509_sign(x, key, EVP_sha256())) goto out;

    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
    PEM_write_bio_X509(cb, x);
    char *kdata, *cdata;
    long klen = BIO_get_mem_data(kb, &kdata), clen = BIO_get_mem_data(cb, &cdata);
    if (cg_write_file_atomic(key_path, kdata, (size_t)klen, 0600) == 0 &&
        cg_write_file_atomic(cert_path, cdata, (size_t)clen, 0644) == 0)
        rc = 0;
    BIO_free(kb);
    BIO_free(cb);
    if (rc == 0)
        cg_log(CG_LOG_INFO, "tls", "generated a self-signed certificate",
               json_pack("{s:s}", "cert", cert_path));
out:
    if (rc != 0) snprintf(err, errlen, "could not generate a TLS certificate under %s", cert_path);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

SSL_CTX *cg_tls_server_ctx(const cg_settings *s, const char *state_dir, char *err, size_t errlen)
{
    char cert[4096], key[4096];
    if (s->tls_cert_path && s->tls_key_path) {
        snprintf(cert, sizeof cert, "%s", s->tls_cert_path);
        snprintf(key, sizeof key, "%s", s->tls_key_path);
    } else {
        char dir[3900];
        snprintf(dir, sizeof dir, "%s/tls", state_dir);
        cg_mkdir_p(dir, 0700);
        snprintf(cert, sizeof cert, "%s/gateway-cert.pem", dir);
        snprintf(key, sizeof key, "%s/gateway-key.pem", dir);
        struct stat st;
        if ((stat(cert, &st) != 0 || stat(key, &st) != 0) &&
            generate_self_signed(cert, key, err, errlen) != 0)
            return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "gateway.tls: cannot load certificate %s / key %s: %s", cert, key,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int cg_tls_conn_init(cg_conn *c, SSL_CTX *ctx)
{
    c->ssl = SSL_new(ctx);
    if (!c->ssl) return -1;
    c->tls.out = &c->out;
    BIO *b = cg_tls_pipe_bio(&c->tls);
    if (!b) return -1;
    SSL_set_bio(c->ssl, b, b);
    SSL_set_accept_state(c->ssl);
    return 0;
}

int cg_tls_read(cg_conn *c, const uint8_t *data, size_t len)
{
    c->tls.in = data;
    c->tls.in_len = len;
    int rc = 0;
    for (;;) {
        if (c->closed) break;
        int n = SSL_read(c->ssl, plain_buf, sizeof plain_buf);
        if (n > 0) {
            cg_conn_feed(c, plain_buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) break;
        if (e != SSL_ERROR_ZERO_RETURN) ERR_clear_error();
        rc = -1;
        break;
    }
    c->tls.in = NULL;
    c->tls.in_len = 0;
    return rc;
}

void cg_tls_write(cg_conn *c, const void *data, size_t len)
{
    if (len == 0) return;
    if (SSL_write(c->ssl, data, (int)len) <= 0) ERR_clear_error();
}

void cg_tls_conn_free(cg_conn *c)
{
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
}
