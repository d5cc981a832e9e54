/* TLS server contexts for the listeners. See tls.c. */
#ifndef CG_NET_TLS_H
#define CG_NET_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cg_tls_files {
    char cert[4096];
    char key[4096];
    bool generated; /* a self-signed pair was made just now */
} cg_tls_files;

/* The certificate and key to use: the configured pair, else DIR/tls/'s self-signed pair,
 * generated when missing (blocking: key generation and fsync; safe on the thread pool).
 * 0, or -1 with err. */
int cg_tls_paths(const char *cert_path, const char *key_path, const char *state_dir,
                 cg_tls_files *out, char *err, size_t errlen);
/* A server context over those files, or NULL with err. */
SSL_CTX *cg_tls_server_ctx(const cg_tls_files *files, char *err, size_t errlen);

#endif
