/* Listening sockets. See listener.h. IPv6 listeners are IPv6-only, so "0.0.0.0" and
 * "::" (or 127.0.0.1 and ::1) bind side by side on one port. */
#include "net/listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct cg_listener {
    uv_tcp_t tcp; /* first: closed with free() */
    cg_listener_accept_fn on_accept;
    void *data;
    char address[64];
};

static void on_connection(uv_stream_t *server, int status)
{
    cg_listener *l = server->data;
    if (status < 0) return;
    l->on_accept(l, server, l->data);
}

int cg_listener_open(uv_loop_t *loop, const char *host, int port, cg_listener_accept_fn fn,
                     void *data, cg_listener **out)
{
    struct sockaddr_storage ss;
    bool v6 = strchr(host, ':') != NULL;
    int rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0) return rc;
    cg_listener *l = cg_xcalloc(1, sizeof *l);
    l->on_accept = fn;
    l->data = data;
    uv_tcp_init(loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 4096, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        return rc;
    }
    snprintf(l->address, sizeof l->address, v6 ? "[%s]:%d" : "%s:%d", host, cg_listener_port(l));
    *out = l;
    return 0;
}

void cg_listener_close(cg_listener *l)
{
    if (l) uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
}

const char *cg_listener_address(const cg_listener *l)
{
    return l->address;
}

int cg_listener_port(const cg_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len) != 0) return 0;
    return ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                    : ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

bool cg_host_ipv4(uint32_t net, uint32_t mask, char *out, size_t len)
{
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) != 0) return false;
    bool found = false;
    for (int i = 0; i < n && !found; i++) {
        if (ifs[i].is_internal || ifs[i].address.address4.sin_family != AF_INET) continue;
        uint32_t a = ntohl(ifs[i].address.address4.sin_addr.s_addr);
        if ((a & mask) == net) found = uv_ip4_name(&ifs[i].address.address4, out, len) == 0;
    }
    uv_free_interface_addresses(ifs, n);
    return found;
}
