/* net/http.c and net/stream.c over real loopback sockets:
 * - the request parser: bounds, repeated headers, keep-alive, the next pipelined request;
 * - a streaming text/event-stream response with back-pressure: the producer writes
 *   while the stream holds less than a bound and waits for on_drain otherwise; a client
 *   that does not read for a while sees every event, in order, through chunked coding,
 *   and the server never holds more than the bound plus one event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http.h"
#include "net/listener.h"
#include "net/stream.h"

static void test_parser_bounds_and_pipelining(void **state)
{
    cg_http_parser p;
    cg_http_parser_init(&p, 4096, 10);
    const char *two = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n"
                      "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    size_t used, len = strlen(two);
    assert_int_equal(cg_http_parser_feed(&p, (const uint8_t *)two, len, &used), CG_HTTP_READY);
    assert_string_equal(p.request.path, "/a");
    assert_string_equal(p.request.query, "x=1");
    assert_string_equal(cg_http_request_header(&p.request, "x-a"), "1, 2");
    assert_true(p.request.keep_alive);
    assert_true(used < len);
    size_t first = used;
    cg_http_parser_next(&p);
    assert_int_equal(cg_http_parser_feed(&p, (const uint8_t *)two + first, len - first, &used),
                     CG_HTTP_READY);
    assert_int_equal(p.request.method, HTTP_POST);
    assert_int_equal(p.request.body.len, 3);
    assert_int_equal(first + used, len);
    cg_http_parser_next(&p);

    const char *big = "POST /b HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
    assert_int_equal(cg_http_parser_feed(&p, (const uint8_t *)big, strlen(big), &used),
                     CG_HTTP_BAD);
    assert_int_equal(p.error_status, 413);
    cg_http_parser_next(&p);

    const char *chunked = "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
                          "8\r\n12345678\r\n";
    assert_int_equal(cg_http_parser_feed(&p, (const uint8_t *)chunked, strlen(chunked), &used),
                     CG_HTTP_BAD);
    assert_int_equal(p.error_status, 413);
    cg_http_parser_next(&p);

    char head[6000];
    snprintf(head, sizeof head, "GET / HTTP/1.1\r\nX: %05000d\r\n\r\n", 0);
    assert_int_equal(cg_http_parser_feed(&p, (const uint8_t *)head, strlen(head), &used),
                     CG_HTTP_BAD);
    assert_int_equal(p.error_status, 431);
    cg_http_parser_next(&p);

    const char *old = "GET / HTTP/1.0\r\n\r\n";
    assert_int_equal(cg_http_parser_feed(&p, (const uint8_t *)old, strlen(old), &used),
                     CG_HTTP_READY);
    assert_false(p.request.keep_alive);
    cg_http_parser_free(&p);
}

/* ---- streaming with back-pressure ---- */

#define EVENTS 200000 /* ~15 MB: more than the kernel buffers of a loopback pair */
#define BOUND CG_STREAM_WRITE_HIGH_WATER

typedef struct server_side {
    cg_stream stream;
    int next_event;
    bool waiting_for_drain;
    size_t max_buffered;
    int drains;
} server_side;

typedef struct client_side {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_timer_t start_reading;
    http_parser parser;
    cg_buf body;
    bool done;
} client_side;

static server_side server;
static client_side client;
static cg_listener *listener;

static void produce(cg_stream *s)
{
    server_side *sv = (server_side *)s;
    while (sv->next_event < EVENTS) {
        if (!cg_stream_writable(s)) {
            sv->waiting_for_drain = true;
            return;
        }
        char data[96];
        int n = snprintf(data, sizeof data, "{\"n\":%d,\"pad\":\"%040d\"}", sv->next_event, 0);
        cg_http_stream_sse(s, "tick", data, (size_t)n);
        size_t b = cg_stream_buffered(s);
        if (b > sv->max_buffered) sv->max_buffered = b;
        sv->next_event++;
    }
    cg_http_stream_sse(s, NULL, "a\rb\r\nc", 6); /* CR, CRLF: each ends a data line */
    cg_http_stream_end(s);
    cg_stream_close_graceful(s);
}

static size_t server_data(cg_stream *s, const uint8_t *data, size_t len)
{
    if (server.next_event == 0 && !server.waiting_for_drain) {
        cg_http_stream_begin(s, 200, "text/event-stream", "Cache-Control: no-store\r\n", false);
        produce(s);
    }
    return len;
}

static void server_drain(cg_stream *s)
{
    if (!server.waiting_for_drain) return;
    server.waiting_for_drain = false;
    server.drains++;
    produce(s);
}

static void server_closed(cg_stream *s)
{
    cg_listener_close(listener);
}

static const cg_stream_callbacks server_callbacks = {
    .on_data = server_data, .on_drain = server_drain, .on_closed = server_closed};

static void on_accept(cg_listener *l, uv_stream_t *srv, void *data)
{
    memset(&server, 0, sizeof server);
    assert_int_equal(cg_stream_accept(&server.stream, srv, NULL, &server_callbacks, NULL), 0);
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    cg_buf_append(&client.body, at, len);
    return 0;
}

static int on_done(http_parser *p)
{
    client.done = true;
    return 0;
}

static const http_parser_settings client_settings = {.on_body = on_body,
                                                     .on_message_complete = on_done};

static char client_buf[65536];

static void client_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    *b = uv_buf_init(client_buf, sizeof client_buf);
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n > 0) http_parser_execute(&client.parser, &client_settings, b->base, (size_t)n);
    if (n < 0) uv_close((uv_handle_t *)&client.tcp, NULL);
}

static void begin_reading(uv_timer_t *t)
{
    uv_read_start((uv_stream_t *)&client.tcp, client_alloc, client_read);
    uv_close((uv_handle_t *)t, NULL);
}

static void client_written(uv_write_t *w, int status)
{
    free(w);
}

static void on_connected(uv_connect_t *req, int status)
{
    assert_int_equal(status, 0);
    static const char get[] = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init((char *)get, sizeof get - 1);
    uv_write(w, (uv_stream_t *)&client.tcp, &b, 1, client_written);
    /* Do not read at first: the server has to hold back. */
    uv_timer_init(client.tcp.loop, &client.start_reading);
    uv_timer_start(&client.start_reading, begin_reading, 300, 0);
}

static void test_sse_stream_with_backpressure(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(cg_listener_open(&loop, "127.0.0.1", 0, on_accept, NULL, &listener), 0);
    memset(&client, 0, sizeof client);
    http_parser_init(&client.parser, HTTP_RESPONSE);
    uv_tcp_init(&loop, &client.tcp);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", cg_listener_port(listener), &addr);
    uv_tcp_connect(&client.connect, &client.tcp, (struct sockaddr *)&addr, on_connected);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    assert_true(client.done);
    assert_int_equal(server.next_event, EVENTS);
    assert_true(server.drains > 0);                 /* it did have to wait */
    assert_true(server.max_buffered < BOUND + 256); /* and never held more */
    /* Every event arrived, in order, as SSE: the de-chunked body is exactly them. */
    cg_buf expected = {0};
    for (int i = 0; i < EVENTS; i++) {
        char event[160];
        snprintf(event, sizeof event, "event: tick\ndata: {\"n\":%d,\"pad\":\"%040d\"}\n\n", i, 0);
        cg_buf_appends(&expected, event);
    }
    cg_buf_appends(&expected, "data: a\ndata: b\ndata: c\n\n");
    assert_int_equal(client.body.len, expected.len);
    assert_memory_equal(client.body.data, expected.data, expected.len);
    cg_buf_reset(&expected);
    cg_buf_reset(&client.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_bounds_and_pipelining),
        cmocka_unit_test(test_sse_stream_with_backpressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
