/* Listening TCP sockets. A listener binds one address and reports each pending
 * connection to its owner's callback, which accepts it (net/stream.h). Closing a
 * listener leaves the connections it accepted open. */
#ifndef CG_NET_LISTENER_H
#define CG_NET_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct cg_listener cg_listener;
typedef void (*cg_listener_accept_fn)(cg_listener *l, uv_stream_t *server, void *data);

/* Binds host (an IPv4 or IPv6 literal) and port and listens. 0 or a negative libuv
 * error (UV_EADDRINUSE, UV_EADDRNOTAVAIL, UV_EINVAL for a host that is not an address). */
int cg_listener_open(uv_loop_t *loop, const char *host, int port, cg_listener_accept_fn fn,
                     void *data, cg_listener **out);
void cg_listener_close(cg_listener *l);
/* "127.0.0.1:18789", "[::1]:18789". */
const char *cg_listener_address(const cg_listener *l);
/* The port actually bound (differs from the one asked for when that was 0). */
int cg_listener_port(const cg_listener *l);

/* The host's first IPv4 address (not loopback) inside net/mask, into out; false when
 * none. mask 0: any; 100.64.0.0/10 (0x64400000, 0xFFC00000): the Tailscale address. */
bool cg_host_ipv4(uint32_t net, uint32_t mask, char *out, size_t len);

#endif
