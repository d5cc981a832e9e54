/* A BIO between OpenSSL and our own buffers, used by the server (net/tls.c) and the
 * client (client/ws_client.c). Reads consume the ciphertext libuv just read, in place;
 * writes append to an output buffer the caller flushes to the socket. Unlike a memory
 * BIO it holds no memory of its own (BIO_s_mem keeps its largest size forever). */
#ifndef CG_NET_TLS_BIO_H
#define CG_NET_TLS_BIO_H

#include <openssl/bio.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct cg_tls_pipe {
    const uint8_t *in; /* ciphertext not yet read by OpenSSL */
    size_t in_len;
    cg_buf *out; /* where OpenSSL's output goes */
} cg_tls_pipe;

/* A new BIO over `pipe` (which must outlive it); NULL on allocation failure. */
BIO *cg_tls_pipe_bio(cg_tls_pipe *pipe);

#endif
