/* Modules' HTTP routes (gateway.h, gateway/http_routes.c) on a real gateway over
 * loopback: an answer given later, pipelined requests behind it answered in order,
 * a streamed answer (SSE) with keep-alive after it, the client going away mid-stream
 * (on_close), the deadline of an exchange never answered (504, on_close), the bearer
 * (401), a disabled route (404), 405 with Allow.
 *
 * The gateway runs its loop on a thread of its own; the test talks to it through
 * blocking sockets with receive timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "config/config.h"
#include "gateway/gateway.h"

static atomic_int closed_count;
static atomic_int drained_count;
static int port;

/* ---- the routes ---- */

typedef struct job {
    cg_http_exchange *x;
    uv_timer_t timer;
    int sent;
    bool forever;
    char *body;
} job;

static void job_closed(uv_handle_t *h)
{
    job *j = h->data;
    free(j->body);
    free(j);
}

static void job_end(job *j)
{
    uv_timer_stop(&j->timer);
    uv_close((uv_handle_t *)&j->timer, job_closed);
}

static void on_x_close(cg_http_exchange *x, void *data)
{
    atomic_fetch_add(&closed_count, 1);
    if (data) job_end(data);
}

static void on_x_drain(cg_http_exchange *x, void *data)
{
    atomic_fetch_add(&drained_count, 1);
}

static job *job_new(cg_http_exchange *x)
{
    job *j = calloc(1, sizeof *j);
    j->x = x;
    uv_timer_init(cg_gateway_loop(cg_http_exchange_gateway(x)), &j->timer);
    j->timer.data = j;
    cg_http_exchange_on_close(x, on_x_close, on_x_drain, j);
    return j;
}

static void later_fire(uv_timer_t *t)
{
    job *j = t->data;
    char out[256];
    int n = snprintf(out, sizeof out, "later:%s", j->body);
    cg_http_exchange_respond(j->x, 200, "text/plain", NULL, out, (size_t)n);
    job_end(j);
}

/* POST /t/later: answers "later:<body>" 50 ms after. */
static void serve_later(cg_http_exchange *x, void *data)
{
    job *j = job_new(x);
    size_t len;
    const char *body = cg_http_exchange_body(x, &len);
    j->body = strndup(body, len);
    uv_timer_start(&j->timer, later_fire, 50, 0);
}

static void stream_fire(uv_timer_t *t)
{
    job *j = t->data;
    char ev[32];
    int n = snprintf(ev, sizeof ev, "%d", j->sent++);
    if (!cg_http_exchange_stream_sse(j->x, NULL, ev, (size_t)n)) return; /* on_close follows */
    if (!j->forever && j->sent == 3) {
        cg_http_exchange_stream_end(j->x);
        job_end(j);
    }
}

/* GET /t/stream: three events 20 ms apart, then the end; ?forever: until the client goes. */
static void serve_stream(cg_http_exchange *x, void *data)
{
    job *j = job_new(x);
    const char *q = cg_http_exchange_query(x);
    j->forever = q && !strcmp(q, "forever");
    cg_http_exchange_stream_begin(x, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
    uv_timer_start(&j->timer, stream_fire, 20, 20);
}

/* GET /t/never: never answered (its deadline is 300 ms). */
static void serve_never(cg_http_exchange *x, void *data)
{
    cg_http_exchange_on_close(x, on_x_close, NULL, NULL);
}

/* GET /t/now: answered during the call. */
static void serve_now(cg_http_exchange *x, void *data)
{
    cg_http_exchange_respond_json(x, 200, json_pack("{s:s}", "path", cg_http_exchange_path(x)));
}

static bool never_enabled(cg_gateway *gw, void *data)
{
    return false;
}

/* ---- the gateway on its thread ---- */

static uv_loop_t loop;
static uv_async_t stop_async;
static cg_gateway *gw;
static cg_config *cfg;
static pthread_t thread;

static void on_stop(uv_async_t *a)
{
    uv_close((uv_handle_t *)a, NULL);
    cg_gateway_shutdown(gw, "test");
}

static void *run_loop(void *arg)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    char dir[] = "/tmp/cg-test-xchg-XXXXXX";
    assert_non_null(mkdtemp(dir));
    port = free_port();
    cg_overrides ov = {.state_dir = dir, .port = port, .auth_mode = "token", .token = "tok"};
    char err[256];
    cfg = cg_config_new(&ov, err, sizeof err);
    assert_non_null(cfg);
    assert_int_equal(cg_config_load(cfg, NULL, err, sizeof err), 0);
    uv_loop_init(&loop);
    gw = cg_gateway_new(&loop, cfg);
    assert_int_equal(cg_gateway_start(gw), 0);
    cg_http_route_spec routes[] = {
        {.path = "/t/later",
         .methods = CG_HTTP_POST,
         .auth = CG_HTTP_AUTH_GATEWAY,
         .handler = serve_later},
        {.path = "/t/stream", .methods = CG_HTTP_GET, .handler = serve_stream},
        {.path = "/t/never", .methods = CG_HTTP_GET, .handler = serve_never, .timeout_ms = 300},
        {.path = "/t/off", .methods = CG_HTTP_GET, .handler = serve_now, .enabled = never_enabled},
        {.path = "/t/pre/", .prefix = true, .methods = CG_HTTP_GET, .handler = serve_now},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        assert_int_equal(cg_gateway_add_http_route(gw, &routes[i]), 0);
    assert_int_equal(cg_gateway_add_http_route(gw, &routes[0]), -1); /* taken */
    uv_async_init(&loop, &stop_async, on_stop);
    pthread_create(&thread, NULL, run_loop, NULL);
    return 0;
}

static int teardown(void **state)
{
    uv_async_send(&stop_async);
    pthread_join(thread, NULL);
    cg_gateway_free(gw);
    uv_loop_close(&loop);
    cg_config_free(cfg);
    return 0;
}

/* ---- the client side ---- */

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(send(fd, text, len, 0), (ssize_t)len);
}

/* Reads until `until` appears (or the peer closes, or 3 s pass) into buf. */
static size_t read_until(int fd, char *buf, size_t cap, const char *until)
{
    size_t used = 0;
    buf[0] = '\0';
    while (used + 1 < cap && !strstr(buf, until)) {
        ssize_t n = recv(fd, buf + used, cap - 1 - used, 0);
        if (n <= 0) break;
        used += (size_t)n;
        buf[used] = '\0';
    }
    return used;
}

static void wait_for(atomic_int *v, int at_least)
{
    for (int i = 0; i < 300 && atomic_load(v) < at_least; i++)
        usleep(10000);
    assert_true(atomic_load(v) >= at_least);
}

static void test_later_and_pipelining(void **state)
{
    int fd = dial();
    /* Three pipelined requests: the first is answered later, the others wait for it. */
    send_all(fd, "POST /t/later HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok\r\n"
                 "Content-Length: 3\r\n\r\nabc"
                 "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                 "GET /t/pre/x%20y HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    char buf[8192];
    read_until(fd, buf, sizeof buf, "/t/pre/x%20y\"}");
    char *first = strstr(buf, "later:abc");
    char *second = strstr(buf, "\"status\":\"live\"");
    char *third = strstr(buf, "\"path\":\"/t/pre/x%20y\"");
    assert_non_null(first);
    assert_non_null(second);
    assert_non_null(third);
    assert_true(first < second && second < third);
    assert_non_null(strstr(buf, "Connection: keep-alive"));
    close(fd);
}

static void test_auth_disabled_and_methods(void **state)
{
    int fd = dial();
    char buf[4096];
    send_all(fd, "POST /t/later HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    read_until(fd, buf, sizeof buf, "}}");
    assert_non_null(strstr(buf, "HTTP/1.1 401 "));
    assert_non_null(strstr(buf, "WWW-Authenticate: Bearer"));
    assert_non_null(strstr(buf, "\"type\":\"unauthorized\""));
    send_all(fd, "POST /t/later HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer nope\r\n"
                 "Content-Length: 0\r\n\r\n");
    read_until(fd, buf, sizeof buf, "}}");
    assert_non_null(strstr(buf, "HTTP/1.1 401 "));
    send_all(fd, "GET /t/later HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, "allowed\n");
    assert_non_null(strstr(buf, "HTTP/1.1 405 "));
    assert_non_null(strstr(buf, "Allow: POST\r\n"));
    send_all(fd, "GET /t/off HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, "found\n");
    assert_non_null(strstr(buf, "HTTP/1.1 404 "));
    close(fd);
}

static void test_stream_then_keep_alive(void **state)
{
    int fd = dial();
    char buf[8192];
    send_all(fd, "GET /t/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, "\r\n0\r\n\r\n");
    assert_non_null(strstr(buf, "HTTP/1.1 200 "));
    assert_non_null(strstr(buf, "Transfer-Encoding: chunked"));
    assert_non_null(strstr(buf, "Content-Type: text/event-stream"));
    char *a = strstr(buf, "data: 0\n\n"), *b = strstr(buf, "data: 1\n\n"),
         *c = strstr(buf, "data: 2\n\n");
    assert_true(a && b && c && a < b && b < c);
    /* The connection goes on. */
    send_all(fd, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, "live\"}");
    assert_non_null(strstr(buf, "HTTP/1.1 200 "));
    close(fd);
}

static void test_client_goes_away(void **state)
{
    int before = atomic_load(&closed_count);
    int fd = dial();
    char buf[4096];
    send_all(fd, "GET /t/stream?forever HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, "data: 2\n\n");
    assert_non_null(strstr(buf, "data: 2\n\n"));
    close(fd);
    wait_for(&closed_count, before + 1);
}

static void test_deadline(void **state)
{
    int before = atomic_load(&closed_count);
    int fd = dial();
    char buf[4096];
    send_all(fd, "GET /t/never HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    read_until(fd, buf, sizeof buf, "}}");
    assert_non_null(strstr(buf, "HTTP/1.1 504 "));
    assert_non_null(strstr(buf, "Connection: close"));
    assert_int_equal(atomic_load(&closed_count), before + 1);
    assert_int_equal(recv(fd, buf, sizeof buf, 0), 0); /* then closed */
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_later_and_pipelining),
        cmocka_unit_test(test_auth_disabled_and_methods),
        cmocka_unit_test(test_stream_then_keep_alive),
        cmocka_unit_test(test_client_goes_away),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
