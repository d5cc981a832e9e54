/* TLS server contexts (gateway.tls.*), with OpenSSL. Per-connection TLS is in
 * net/stream.c.
 *
 * With no certPath/keyPath configured, a self-signed P-256 certificate for localhost,
 * 127.0.0.1 and ::1 is generated once under DIR/tls/ (gateway-cert.pem,
 * gateway-key.pem, the key 0600) and reused. Generation touches only the files and
 * OpenSSL, so it may run on the thread pool. */
#include "net/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

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
out:
    if (rc != 0) snprintf(err, errlen, "could not generate a TLS certificate under %s", cert_path);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

int cg_tls_paths(const char *cert_path, const char *key_path, const char *state_dir,
                 cg_tls_files *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (cert_path && key_path) {
        snprintf(out->cert, sizeof out->cert, "%s", cert_path);
        snprintf(out->key, sizeof out->key, "%s", key_path);
        return 0;
    }
    char dir[3900];
    snprintf(dir, sizeof dir, "%s/tls", state_dir);
    snprintf(out->cert, sizeof out->cert, "%s/gateway-cert.pem", dir);
    snprintf(out->key, sizeof out->key, "%s/gateway-key.pem", dir);
    struct stat st;
    if (stat(out->cert, &st) == 0 && stat(out->key, &st) == 0) return 0;
    int rc = cg_mkdir_p(dir, 0700);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
        return -1;
    }
    if (generate_self_signed(out->cert, out->key, err, errlen) != 0) return -1;
    out->generated = true;
    return 0;
}

SSL_CTX *cg_tls_server_ctx(const cg_tls_files *files, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, files->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, files->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "gateway.tls: cannot load certificate %s / key %s: %s", files->cert,
                 files->key, ERR_reason_error_string(ERR_get_error()));
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
