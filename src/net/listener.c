/* Listening sockets for gateway.bind.
 *
 * loopback/auto: 127.0.0.1 and ::1 (a host without IPv6 logs it and goes on);
 * lan/all: 0.0.0.0 and :: (IPv6-only, so both bind); custom: gateway.customBindHost;
 * tailnet: the host's 100.64.0.0/10 address plus loopback. Listeners can be closed
 * and reopened (config.apply) while accepted connections stay open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gateway/gateway_int.h"

static void on_connection(uv_stream_t *server, int status)
{
    cg_listener *l = server->data;
    if (status < 0) return;
    cg_conn_accept(l->gw, server, l->tls);
}

static int listen_on(cg_gateway *gw, const char *host, int port, bool required)
{
    struct sockaddr_storage ss;
    bool v6 = strchr(host, ':') != NULL;
    int rc = v6 ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    if (rc != 0) {
        cg_log(CG_LOG_ERROR, "gateway", "invalid bind address", json_pack("{s:s}", "host", host));
        return rc;
    }
    if (gw->n_listeners >= CG_MAX_LISTENERS) return UV_ENOBUFS;
    cg_listener *l = cg_xcalloc(1, sizeof *l);
    l->gw = gw;
    l->tls = gw->settings->tls_enabled;
    snprintf(l->addr, sizeof l->addr, v6 ? "[%s]:%d" : "%s:%d", host, port);
    uv_tcp_init(gw->loop, &l->tcp);
    l->tcp.data = l;
    rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, 4096, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&l->tcp, (uv_close_cb)free);
        cg_log(required ? CG_LOG_ERROR : CG_LOG_WARN, "gateway",
               required ? "cannot listen" : "optional listener unavailable",
               json_pack("{s:s, s:s}", "address", l->addr, "error", uv_strerror(rc)));
        return required ? rc : 0;
    }
    gw->listeners[gw->n_listeners++] = l;
    cg_log(CG_LOG_INFO, "gateway", "listening",
           json_pack("{s:s, s:s}", "address", l->addr, "scheme", l->tls ? "wss" : "ws"));
    return 0;
}

static bool tailnet_address(char *out, size_t len)
{
    uv_interface_address_t *ifs;
    int n;
    if (uv_interface_addresses(&ifs, &n) != 0) return false;
    bool found = false;
    for (int i = 0; i < n && !found; i++) {
        if (ifs[i].address.address4.sin_family != AF_INET) continue;
        uint32_t a = ntohl(ifs[i].address.address4.sin_addr.s_addr);
        if ((a & 0xFFC00000u) == 0x64400000u) { /* 100.64.0.0/10 */
            uv_ip4_name(&ifs[i].address.address4, out, len);
            found = true;
        }
    }
    uv_free_interface_addresses(ifs, n);
    return found;
}

int cg_listeners_open(cg_gateway *gw)
{
    const cg_settings *s = gw->settings;
    int rc = 0;
    switch (s->bind) {
    case CG_BIND_LOOPBACK:
        rc = listen_on(gw, "127.0.0.1", s->port, true);
        if (rc == 0) listen_on(gw, "::1", s->port, false);
        break;
    case CG_BIND_ALL:
        rc = listen_on(gw, "0.0.0.0", s->port, true);
        if (rc == 0) listen_on(gw, "::", s->port, false);
        break;
    case CG_BIND_CUSTOM:
        rc = listen_on(gw, s->custom_bind_host ? s->custom_bind_host : "127.0.0.1", s->port, true);
        break;
    case CG_BIND_TAILNET: {
        char addr[64];
        if (tailnet_address(addr, sizeof addr))
            rc = listen_on(gw, addr, s->port, true);
        else
            cg_log(CG_LOG_WARN, "gateway", "no tailnet (100.64.0.0/10) address; loopback only",
                   NULL);
        if (rc == 0) rc = listen_on(gw, "127.0.0.1", s->port, true);
        if (rc == 0) listen_on(gw, "::1", s->port, false);
        break;
    }
    }
    if (rc != 0) cg_listeners_close(gw);
    return rc;
}

void cg_listeners_close(cg_gateway *gw)
{
    for (size_t i = 0; i < gw->n_listeners; i++)
        uv_close((uv_handle_t *)&gw->listeners[i]->tcp, (uv_close_cb)free);
    gw->n_listeners = 0;
}
