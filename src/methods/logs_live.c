/* logs.subscribe / logs.unsubscribe and the `logs.appended` event: the gateway's log
 * pushed to the connections that asked, as lines reach the file, so a live view needs
 * no polling of logs.tail.
 *
 * Design: the log writer (common/log.c) knows nothing of the gateway; it offers one
 * observer, called on its thread after each run of lines is written. The observer here
 * returns at once while nobody is subscribed (an atomic count); otherwise it copies the
 * line into a FIFO under a mutex and wakes the loop with a uv_async_t. The FIFO is
 * bounded (LIVE_QUEUE_MAX_BYTES): a line that does not fit is counted, not queued, so a
 * burst of logging never grows memory. On the loop the FIFO is taken whole and cut into
 * events of at most EVENT_MAX_LINES lines and EVENT_MAX_BYTES of line text:
 *   {lines: [jsonLine, ...], cursor, reset, dropped}
 * cursor is the file offset after the event's last line (as logs.tail's cursor), reset
 * says the lines begin a new file (a rotation: offsets start over; an event never spans
 * two files), dropped counts lines this connection did not get before these (the FIFO
 * was full, a line was longer than EVENT_MAX_BYTES, or an earlier event was skipped for
 * it). Events are droppable: a connection whose output is backed up skips them, and the
 * skipped lines are added to its next event's `dropped`. The common payload is
 * serialized per connection only when that connection has missed lines.
 *
 * A client that wants history and then the live lines subscribes first, then calls
 * logs.tail, and ignores events whose cursor is not past the tail's (unless reset).
 *
 * Subscriptions are per connection (connection data); the count falls with
 * logs.unsubscribe and when a subscribed connection closes. At stop the observer is
 * removed first (cg_log_set_observer waits for a call in progress) and then the async
 * handle is closed, so the writer thread never touches a closed handle. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/log.h"
#include "common/util.h"
#include "gateway/gateway.h"
#include "gateway/methods.h"

#define LIVE_QUEUE_MAX_BYTES ((size_t)512 * 1024)
#define EVENT_MAX_LINES 200
#define EVENT_MAX_BYTES ((size_t)64 * 1024)

typedef struct live_line {
    struct live_line *next;
    int64_t cursor;
    bool new_file;
    size_t len;
    char text[];
} live_line;

typedef struct logs_live {
    cg_gateway *gw;
    uv_async_t wake;
    atomic_size_t subscribers; /* written on the loop, read by the writer thread */
    pthread_mutex_t mutex;     /* guards the FIFO below */
    live_line *head, *tail;
    size_t queued_bytes;
    uint64_t dropped;   /* lines not queued since the last take */
    bool reset_pending; /* a new file began with a line that was dropped */
} logs_live;

/* A subscribed connection: the lines it has missed since its last event. */
typedef struct live_sub {
    uint64_t missed;
} live_sub;

static void free_line_list(live_line *line)
{
    while (line) {
        live_line *next = line->next;
        free(line);
        line = next;
    }
}

static void live_stop(void *data)
{
    logs_live *l = data;
    cg_log_set_observer(NULL, NULL);
    if (!uv_is_closing((uv_handle_t *)&l->wake)) uv_close((uv_handle_t *)&l->wake, NULL);
}

static void live_free(void *data)
{
    logs_live *l = data;
    free_line_list(l->head);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

static const cg_conn_key live_key = {
    .name = "logs.live", .free_data = live_free, .stop = live_stop};
static const cg_conn_key sub_key = {.name = "logs.subscription", .free_data = free};

/* The writer thread's side. */
static void observe_line(const char *text, size_t len, int64_t cursor, bool new_file, void *data)
{
    logs_live *l = data;
    if (atomic_load(&l->subscribers) == 0) return;
    pthread_mutex_lock(&l->mutex);
    if (len > EVENT_MAX_BYTES || l->queued_bytes + len > LIVE_QUEUE_MAX_BYTES) {
        l->dropped++;
        /* The next queued line carries the new file's reset, or a client comparing
         * cursors would take the smaller cursor for an old line. */
        if (new_file) l->reset_pending = true;
    } else {
        live_line *line = cg_xmalloc(sizeof *line + len);
        line->next = NULL;
        line->cursor = cursor;
        line->new_file = new_file || l->reset_pending;
        l->reset_pending = false;
        line->len = len;
        memcpy(line->text, text, len);
        if (l->tail)
            l->tail->next = line;
        else
            l->head = line;
        l->tail = line;
        l->queued_bytes += len;
    }
    pthread_mutex_unlock(&l->mutex);
    uv_async_send(&l->wake);
}

/* ---- on the loop: from the FIFO to events ---- */

typedef struct delivery {
    json_t *payload; /* the common payload: dropped = lines the gateway dropped */
    uint64_t dropped;
    size_t n_lines;
} delivery;

static void deliver_to(cg_conn *c, void *data)
{
    const delivery *d = data;
    live_sub *sub = cg_conn_get_data(c, &sub_key);
    if (!sub) return;
    json_t *payload;
    if (sub->missed) {
        payload = json_deep_copy(d->payload);
        json_object_set_new(payload, "dropped",
                            json_integer((json_int_t)(d->dropped + sub->missed)));
    } else {
        payload = json_incref(d->payload);
    }
    if (cg_conn_send_event(c, "logs.appended", payload, CG_EVENT_DROPPABLE))
        sub->missed = 0;
    else
        sub->missed += d->n_lines + d->dropped;
}

/* Sends lines [first, end) (one file, within the event bounds) to every subscriber. */
static void send_event(logs_live *l, live_line *first, live_line *end, uint64_t dropped)
{
    json_t *lines = json_array();
    int64_t cursor = 0;
    size_t n = 0;
    for (live_line *line = first; line != end; line = line->next) {
        json_t *text = json_stringn(line->text, line->len);
        if (!text) { /* not UTF-8: the writer never makes such a line; count it anyway */
            dropped++;
            continue;
        }
        json_array_append_new(lines, text);
        cursor = line->cursor;
        n++;
    }
    delivery d = {
        .payload = json_pack("{s:o, s:I, s:b, s:I}", "lines", lines, "cursor", (json_int_t)cursor,
                             "reset", first->new_file, "dropped", (json_int_t)dropped),
        .dropped = dropped,
        .n_lines = n,
    };
    cg_gateway_foreach_conn(l->gw, deliver_to, &d);
    json_decref(d.payload);
}

static void on_wake(uv_async_t *handle)
{
    logs_live *l = handle->data;
    pthread_mutex_lock(&l->mutex);
    live_line *lines = l->head;
    uint64_t dropped = l->dropped;
    l->head = l->tail = NULL;
    l->queued_bytes = 0;
    l->dropped = 0;
    pthread_mutex_unlock(&l->mutex);
    if (atomic_load(&l->subscribers) == 0) {
        free_line_list(lines);
        return;
    }
    live_line *first = lines;
    while (first) {
        live_line *end = first->next;
        size_t n = 1, bytes = first->len;
        while (end && !end->new_file && n < EVENT_MAX_LINES &&
               bytes + end->len <= EVENT_MAX_BYTES) {
            bytes += end->len;
            n++;
            end = end->next;
        }
        send_event(l, first, end, dropped);
        dropped = 0;
        first = end;
    }
    free_line_list(lines);
}

/* ---- the methods ---- */

static logs_live *live_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &live_key);
}

static void handle_subscribe(cg_req *req)
{
    logs_live *l = live_of(req->gw);
    if (!l) {
        cg_req_error(req, "UNAVAILABLE", "gateway log is not open", NULL);
        return;
    }
    if (!cg_conn_get_data(req->conn, &sub_key)) {
        cg_conn_set_data(req->conn, &sub_key, cg_xcalloc(1, sizeof(live_sub)));
        atomic_fetch_add(&l->subscribers, 1);
    }
    cg_req_ok(req, json_pack("{s:b}", "subscribed", 1));
}

static void handle_unsubscribe(cg_req *req)
{
    logs_live *l = live_of(req->gw);
    if (l && cg_conn_get_data(req->conn, &sub_key)) {
        cg_conn_set_data(req->conn, &sub_key, NULL);
        atomic_fetch_sub(&l->subscribers, 1);
    }
    cg_req_ok(req, json_pack("{s:b}", "subscribed", 0));
}

static void on_conn(cg_gateway *gw, cg_conn *c, cg_conn_event ev, void *data)
{
    logs_live *l = data;
    if (ev == CG_CONN_CLOSED && cg_conn_get_data(c, &sub_key)) {
        cg_conn_set_data(c, &sub_key, NULL);
        atomic_fetch_sub(&l->subscribers, 1);
    }
}

void cg_methods_logs_live_attach(cg_gateway *gw)
{
    if (!cg_log_path()) return; /* no file, nothing to follow: the methods say UNAVAILABLE */
    logs_live *l = cg_xcalloc(1, sizeof *l);
    l->gw = gw;
    atomic_init(&l->subscribers, 0);
    pthread_mutex_init(&l->mutex, NULL);
    uv_async_init(cg_gateway_loop(gw), &l->wake, on_wake);
    uv_unref((uv_handle_t *)&l->wake); /* never keeps a stopping gateway alive */
    l->wake.data = l;
    cg_gateway_set_data(gw, &live_key, l);
    cg_gateway_add_conn_hook(gw, on_conn, l);
    cg_log_set_observer(observe_line, l);
}

const cg_method cg_methods_logs_live[] = {
    {.name = "logs.subscribe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_subscribe,
     .summary = "Receive the gateway's new log lines as logs.appended events {lines, cursor, "
                "reset, dropped}"},
    {.name = "logs.unsubscribe",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_unsubscribe,
     .summary = "Stop logs.appended events on this connection"},
    {.name = NULL},
};
