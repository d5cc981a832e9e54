/* The pipe BIO. See tls_bio.h. */
#include "net/tls_bio.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static BIO_METHOD *pipe_method;
static pthread_once_t pipe_method_once = PTHREAD_ONCE_INIT;

static int pipe_write(BIO *b, const char *data, int len)
{
    cg_tls_pipe *p = BIO_get_data(b);
    cg_buf_append(p->out, data, (size_t)len);
    return len;
}

static int pipe_read(BIO *b, char *buf, int len)
{
    cg_tls_pipe *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (p->in_len == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    size_t n = (size_t)len < p->in_len ? (size_t)len : p->in_len;
    memcpy(buf, p->in, n);
    p->in += n;
    p->in_len -= n;
    return (int)n;
}

static long pipe_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int pipe_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void pipe_method_init(void)
{
    pipe_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cg-tls-pipe");
    if (!pipe_method) abort();
    BIO_meth_set_write(pipe_method, pipe_write);
    BIO_meth_set_read(pipe_method, pipe_read);
    BIO_meth_set_ctrl(pipe_method, pipe_ctrl);
    BIO_meth_set_create(pipe_method, pipe_create);
}

BIO *cg_tls_pipe_bio(cg_tls_pipe *pipe)
{
    pthread_once(&pipe_method_once, pipe_method_init);
    BIO *b = BIO_new(pipe_method);
    if (b) BIO_set_data(b, pipe);
    return b;
}
