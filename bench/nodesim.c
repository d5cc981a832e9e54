/* cg-nodesim: node.invoke round trips through an OpenClaw-protocol gateway (clawgate or
 * the real one), with simulated nodes answering at once.
 *
 * One libuv loop, one thread, three kinds of connection:
 * - N simulated nodes (--nodes): role node, client {id "node-host", mode "node",
 *   platform "linux", deviceFamily "Linux" (--device-family) as the real node host
 *   sends}, caps ["system"], commands ["system.which","system.run"], each with
 *   its own Ed25519 device identity signing its connect (v3 payload, the challenge's
 *   nonce and ts; auto-approved as a device on loopback). Every node.invoke.request event
 *   {id, nodeId, command, paramsJSON, ...} is answered at once with a node.invoke.result
 *   request {id, nodeId, ok: true, payloadJSON} (--payload-json).
 * - one admin operator (client cli, shared token, no device, --scopes): once every node
 *   has connected it approves the node surfaces: node.pair.list, node.pair.approve
 *   {requestId} for every pending request, then node.list; again every POLL_MS until
 *   every simulated node (and --external more nodes: real node hosts connected by someone
 *   else) is connected with approvalState "approved", or --setup-timeout passes.
 * - K operators (--operators), M node.invoke requests in flight each (--inflight):
 *   {nodeId, command, params, idempotencyKey (unique per call), timeoutMs}, the node ids
 *   taken round-robin over every approved connected node. A request's id is its slot
 *   number; the answer frees the slot and the next request goes out at once.
 *
 * Load mode prints one JSON line after the warm-up and the measured window:
 * {mode, nodes, external, operators, inflight, command, requests, errors, unfinished,
 *  seconds, rps, p50_ms, p90_ms, p99_ms, max_ms, connect_errors, targets, setup_ms,
 *  node_invokes, node_result_errors, nodes_lost, cpu_gateway_pct, cpu_nodesim_pct,
 *  cpu_rest_pct, first_error}: `requests` counts measured answers with ok:true (the latencies are
 * theirs), `errors` those with ok:false, `unfinished` measured requests still unanswered
 * at the end, `setup_ms` the start to every node approved, `node_invokes` the
 * node.invoke.request events the simulated nodes answered (warm-up included),
 * `node_result_errors` refused node.invoke.result requests, `cpu_*` the CPU (utime +
 * stime, % of one core) over the measured window of the --cpu-pids processes (the
 * gateway's process tree; only when given) and of cg-nodesim itself, and the rest of the
 * machine's busy time (/proc/stat: other processes, kernel work charged to neither, e.g.
 * loopback packets; high means the figures shared the cores with other work). Hold mode (--hold,
 * no operators) closes the admin once the nodes are approved, prints {mode:"hold",
 * nodes, approved, failed, seconds} and keeps the nodes connected
 * until SIGINT/SIGTERM or --hold-seconds: for the gateway's memory per node. */
#include "bench_common.h"
#include "client/ws_client.h"
#include "common/util.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#define MAX_RETRIES 100
#define RETRY_DELAY_MS 100
#define POLL_MS 200
#define EXIT_GRACE_MS 5000
#define FRAME_MAX (64 * 1024) /* longest node.invoke frame built */

#define PLATFORM "linux"
#define NODE_CLIENT_ID "node-host"
#define NODE_MODE "node"
#define NODE_ROLE "node"
#define OP_CLIENT_ID "cli"
#define OP_MODE "cli"
#define OP_ROLE "operator"

#define ID_PAIR_LIST "pair-list"
#define ID_PAIR_APPROVE "pair-approve"
#define ID_NODE_LIST "node-list"

typedef struct sim sim;

typedef enum { K_ADMIN, K_NODE, K_OP } peer_kind;

typedef struct peer {
    sim *s;
    peer_kind kind;
    cg_ws_client *ws;
    bool ready;
    int retries;
    bench_device dev;  /* nodes */
    uint64_t *sent_ns; /* operators: per slot, 0 when free */
    uint64_t results;  /* nodes: node.invoke.result requests sent */
} peer;

typedef enum { PH_CONNECT, PH_APPROVE, PH_RUN } phase;

struct sim {
    uv_loop_t *loop;
    const char *url, *token, *command;
    char *command_json, *params_json, *payload_json; /* JSON texts, compact */
    const char *device_family;                       /* as sent ("" to send none) */
    char family_signed[64]; /* trimmed, ASCII-lowercased: what the device signs */
    json_t *auth, *scopes;
    cg_ws_client_options opts;
    int nodes, external, operators, inflight, connect_concurrency;
    double duration_s, warmup_s, hold_seconds, setup_timeout_s, invoke_timeout_ms;
    bool hold;
    peer *peers; /* [0] admin, then the nodes, then the operators */
    int npeers, next_to_open, opening, ready, failed;
    int nodes_ready, nodes_lost, ops_alive;
    phase phase;
    bool measuring, stopping, admin_closing;
    uint64_t t_start_ns, t_run_ns, t_measure_ns, t_end_ns;
    /* Approval. */
    char **node_ids; /* the simulated nodes' device ids, sorted */
    int approvals_out, approved, lists;
    char **targets; /* JSON-encoded ids of the nodes to invoke */
    int ntargets;
    /* Load. */
    char run_id[13];
    uint64_t rr, keys, completed, errors, unfinished, node_invokes, node_result_errors;
    bench_hist hist;
    char *first_error;
    char frame[FRAME_MAX];
    uv_timer_t timer, retry_timer, setup_timer, poll_timer, exit_timer;
    int *retry_queue, retry_len;
    uv_signal_t sigint, sigterm;
    int rc;
    /* --cpu-pids: CPU ticks of those processes, and ours (us), over the measured window. */
    int cpu_pids[64], ncpu_pids;
    uint64_t gw_ticks0, gw_ticks1, self_us0, self_us1, machine0, machine1;
};

static void stop(sim *s, int rc);
static void start_attempt(peer *p);
static void open_more(sim *s);

/* Keeps the first error's text (printed once); later ones are only counted. */
static void note_error(sim *s, const char *what, const json_t *err)
{
    if (s->first_error) return;
    char *text = err ? json_dumps(err, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cg_buf b = {0};
    cg_buf_appends(&b, what);
    if (text) {
        cg_buf_appends(&b, ": ");
        cg_buf_appends(&b, text);
    }
    s->first_error = b.data;
    free(text);
    fprintf(stderr, "cg-nodesim: %s (first error; later ones only counted)\n", s->first_error);
}

static void send_req(peer *p, const char *id, const char *method, json_t *params)
{
    json_t *frame = json_pack("{s:s, s:s, s:s, s:o}", "type", "req", "id", id, "method", method,
                              "params", params);
    char *text = json_dumps(frame, JSON_COMPACT);
    if (text && p->ws) cg_ws_client_send_text(p->ws, text, strlen(text));
    free(text);
    json_decref(frame);
}

/* ---- connect ---- */

static void send_connect(peer *p, const json_t *challenge)
{
    sim *s = p->s;
    bool node = p->kind == K_NODE;
    char instance[37];
    cg_uuid4(instance);
    json_t *params = json_pack(
        "{s:i, s:i, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:o}", "minProtocol", 4, "maxProtocol", 4,
        "client", "id", node ? NODE_CLIENT_ID : OP_CLIENT_ID, "version", CLAWGATE_VERSION,
        "platform", PLATFORM, "mode", node ? NODE_MODE : OP_MODE, "instanceId", instance, "role",
        node ? NODE_ROLE : OP_ROLE, "scopes", node ? json_array() : json_incref(s->scopes));
    if (node) {
        char name[32];
        snprintf(name, sizeof name, "nodesim-%d", (int)(p - s->peers));
        json_t *client = json_object_get(params, "client");
        json_object_set_new(client, "displayName", json_string(name));
        if (*s->device_family)
            json_object_set_new(client, "deviceFamily", json_string(s->device_family));
        json_object_set_new(params, "caps", json_pack("[s]", "system"));
        json_object_set_new(params, "commands", json_pack("[s, s]", "system.which", "system.run"));
        const char *nonce = json_string_value(json_object_get(challenge, "nonce"));
        json_t *ts = json_object_get(challenge, "ts");
        bench_device_client cl = {NODE_CLIENT_ID, NODE_MODE, NODE_ROLE,       "",
                                  s->token,       PLATFORM,  s->family_signed};
        json_t *device =
            bench_device_block(&p->dev, &cl, nonce ? nonce : "",
                               json_is_integer(ts) ? json_integer_value(ts) : cg_now_ms());
        if (device) json_object_set_new(params, "device", device);
    } else {
        json_object_set_new(params, "caps", json_array());
    }
    if (s->auth) json_object_set(params, "auth", s->auth);
    send_req(p, "connect", "connect", params);
}

static void after_attempt(sim *s);

static void on_connect_answer(peer *p, json_t *frame)
{
    sim *s = p->s;
    if (!json_is_true(json_object_get(frame, "ok"))) {
        note_error(s, "connect refused", json_object_get(frame, "error"));
        cg_ws_client_close(p->ws, 1000, "");
        return;
    }
    p->ready = true;
    s->ready++;
    s->opening--;
    if (p->kind == K_NODE) s->nodes_ready++;
    if (p->kind == K_OP) {
        s->ops_alive++;
        p->sent_ns = cg_xcalloc((size_t)s->inflight, sizeof *p->sent_ns);
    }
    after_attempt(s);
}

/* ---- approval ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_sim_node(const sim *s, const char *id)
{
    return id && s->nodes > 0 &&
           bsearch(&id, s->node_ids, (size_t)s->nodes, sizeof *s->node_ids, cmp_str) != NULL;
}

static void approve_round(sim *s)
{
    if (s->phase != PH_APPROVE || s->stopping) return;
    s->lists++;
    send_req(&s->peers[0], ID_PAIR_LIST, "node.pair.list", json_object());
}

static void on_poll(uv_timer_t *t)
{
    approve_round(t->data);
}

/* node.pair.list: approve every pending request (the gateway is a throw-away one, and
 * external nodes are not ours to tell apart), then node.list once all are answered. */
static void on_pair_list(sim *s, json_t *frame)
{
    if (!json_is_true(json_object_get(frame, "ok"))) {
        note_error(s, "node.pair.list failed", json_object_get(frame, "error"));
        stop(s, 1);
        return;
    }
    json_t *pending = json_object_get(json_object_get(frame, "payload"), "pending");
    size_t i;
    json_t *e;
    json_array_foreach(pending, i, e)
    {
        const char *rid = json_string_value(json_object_get(e, "requestId"));
        if (!rid) continue;
        s->approvals_out++;
        send_req(&s->peers[0], ID_PAIR_APPROVE, "node.pair.approve",
                 json_pack("{s:s}", "requestId", rid));
    }
    if (s->approvals_out == 0) send_req(&s->peers[0], ID_NODE_LIST, "node.list", json_object());
}

static void on_pair_approve(sim *s, json_t *frame)
{
    if (json_is_true(json_object_get(frame, "ok")))
        s->approved++;
    else
        note_error(s, "node.pair.approve failed", json_object_get(frame, "error"));
    if (--s->approvals_out == 0) send_req(&s->peers[0], ID_NODE_LIST, "node.list", json_object());
}

static void start_run(sim *s);

static void free_targets(sim *s)
{
    for (int i = 0; i < s->ntargets; i++)
        free(s->targets[i]);
    free(s->targets);
    s->targets = NULL;
    s->ntargets = 0;
}

/* node.list: done when every connected simulated node and --external others are
 * connected and approved; those are the targets. Otherwise another round after POLL_MS. */
static void on_node_list(sim *s, json_t *frame)
{
    if (!json_is_true(json_object_get(frame, "ok"))) {
        note_error(s, "node.list failed", json_object_get(frame, "error"));
        stop(s, 1);
        return;
    }
    json_t *nodes = json_object_get(json_object_get(frame, "payload"), "nodes");
    free_targets(s);
    s->targets = cg_xcalloc(json_array_size(nodes) + 1, sizeof *s->targets);
    int ours = 0;
    size_t i;
    json_t *e;
    json_array_foreach(nodes, i, e)
    {
        json_t *id = json_object_get(e, "nodeId");
        const char *state = json_string_value(json_object_get(e, "approvalState"));
        if (!json_is_string(id) || !json_is_true(json_object_get(e, "connected")) ||
            (state && strcmp(state, "approved") != 0))
            continue;
        if (is_sim_node(s, json_string_value(id))) ours++;
        s->targets[s->ntargets++] = json_dumps(id, JSON_ENCODE_ANY);
    }
    if (ours >= s->nodes_ready && s->ntargets >= s->nodes_ready + s->external && s->ntargets > 0) {
        start_run(s);
        return;
    }
    uv_timer_start(&s->poll_timer, on_poll, POLL_MS, 0);
}

static void on_admin_answer(sim *s, json_t *frame)
{
    const char *id = json_string_value(json_object_get(frame, "id"));
    if (!id || s->phase != PH_APPROVE) return;
    if (strcmp(id, ID_PAIR_LIST) == 0)
        on_pair_list(s, frame);
    else if (strcmp(id, ID_PAIR_APPROVE) == 0)
        on_pair_approve(s, frame);
    else if (strcmp(id, ID_NODE_LIST) == 0)
        on_node_list(s, frame);
}

/* ---- nodes ---- */

/* node.invoke.request {id, nodeId, command, paramsJSON, ...}: answered at once. */
static void on_invoke_request(peer *p, const json_t *payload)
{
    sim *s = p->s;
    json_t *id = json_object_get(payload, "id");
    json_t *node_id = json_object_get(payload, "nodeId");
    if (!json_is_string(id) || !json_is_string(node_id)) {
        note_error(s, "node.invoke.request without id or nodeId", payload);
        return;
    }
    char *id_json = json_dumps(id, JSON_ENCODE_ANY);
    char *node_json = json_dumps(node_id, JSON_ENCODE_ANY);
    int n = snprintf(s->frame, sizeof s->frame,
                     "{\"type\":\"req\",\"id\":\"r%llu\",\"method\":\"node.invoke.result\","
                     "\"params\":{\"id\":%s,\"nodeId\":%s,\"ok\":true,\"payloadJSON\":%s}}",
                     (unsigned long long)p->results++, id_json, node_json, s->payload_json);
    free(id_json);
    free(node_json);
    if (n < 0 || (size_t)n >= sizeof s->frame) {
        note_error(s, "node.invoke.result frame too long", NULL);
        return;
    }
    s->node_invokes++;
    cg_ws_client_send_text(p->ws, s->frame, (size_t)n);
}

static void on_node_answer(peer *p, json_t *frame)
{
    if (json_is_true(json_object_get(frame, "ok"))) return;
    p->s->node_result_errors++;
    note_error(p->s, "node.invoke.result refused", json_object_get(frame, "error"));
}

/* ---- operators ---- */

static void send_invoke(peer *p, int slot)
{
    sim *s = p->s;
    if (s->stopping) return;
    const char *target = s->targets[s->rr++ % (uint64_t)s->ntargets];
    int n = snprintf(s->frame, sizeof s->frame,
                     "{\"type\":\"req\",\"id\":\"%d\",\"method\":\"node.invoke\",\"params\":{"
                     "\"nodeId\":%s,\"command\":%s,\"params\":%s,\"idempotencyKey\":"
                     "\"nodesim-%s-%llu\",\"timeoutMs\":%.0f}}",
                     slot, target, s->command_json, s->params_json, s->run_id,
                     (unsigned long long)s->keys++, s->invoke_timeout_ms);
    if (n < 0 || (size_t)n >= sizeof s->frame) {
        note_error(s, "node.invoke frame too long", NULL);
        stop(s, 1);
        return;
    }
    p->sent_ns[slot] = cg_mono_ns();
    if (cg_ws_client_send_text(p->ws, s->frame, (size_t)n) != 0) p->sent_ns[slot] = 0;
}

static void on_invoke_answer(peer *p, json_t *frame)
{
    sim *s = p->s;
    const char *id = json_string_value(json_object_get(frame, "id"));
    if (!id || s->stopping || !p->sent_ns) return;
    char *end;
    long slot = strtol(id, &end, 10);
    if (*end != '\0' || slot < 0 || slot >= s->inflight || p->sent_ns[slot] == 0) return;
    uint64_t sent = p->sent_ns[slot];
    p->sent_ns[slot] = 0;
    bool ok = json_is_true(json_object_get(frame, "ok"));
    if (!ok) note_error(s, "node.invoke failed", json_object_get(frame, "error"));
    if (s->measuring && sent >= s->t_measure_ns) {
        if (ok) {
            bench_hist_add(&s->hist, (cg_mono_ns() - sent) / 1000);
            s->completed++;
        } else {
            s->errors++;
        }
    }
    send_invoke(p, (int)slot);
}

/* ---- frames ---- */

static void on_message(cg_ws_client *ws, const char *data, size_t len, void *user)
{
    peer *p = user;
    json_t *frame = json_loadb(data, len, 0, NULL);
    const char *type = json_string_value(json_object_get(frame, "type"));
    if (type && strcmp(type, "res") == 0) {
        if (!p->ready)
            on_connect_answer(p, frame);
        else if (p->kind == K_OP)
            on_invoke_answer(p, frame);
        else if (p->kind == K_NODE)
            on_node_answer(p, frame);
        else
            on_admin_answer(p->s, frame);
    } else if (type && strcmp(type, "event") == 0) {
        const char *ev = json_string_value(json_object_get(frame, "event"));
        json_t *payload = json_object_get(frame, "payload");
        if (!ev)
            ;
        else if (!p->ready && strcmp(ev, "connect.challenge") == 0)
            send_connect(p, payload);
        else if (p->kind == K_NODE && strcmp(ev, "node.invoke.request") == 0)
            on_invoke_request(p, payload);
    }
    json_decref(frame);
}

static void on_retry(uv_timer_t *t);

static void on_close(cg_ws_client *ws, const cg_ws_close_info *info, void *user)
{
    peer *p = user;
    sim *s = p->s;
    p->ws = NULL;
    if (s->stopping) return;
    if (!p->ready) {
        bool busy = info->http_status == 503 || info->http_status == 429;
        if (busy && p->retries < MAX_RETRIES) {
            p->retries++;
            s->retry_queue[s->retry_len++] = (int)(p - s->peers);
            if (!uv_is_active((uv_handle_t *)&s->retry_timer))
                uv_timer_start(&s->retry_timer, on_retry, RETRY_DELAY_MS, 0);
            return;
        }
        s->failed++;
        s->opening--;
        if (s->failed <= 5) fprintf(stderr, "cg-nodesim: connection failed: %s\n", info->message);
        after_attempt(s);
        return;
    }
    p->ready = false;
    if (p->kind == K_ADMIN && s->admin_closing) return;
    fprintf(stderr, "cg-nodesim: %s connection lost: %s\n",
            p->kind == K_NODE ? "node"
            : p->kind == K_OP ? "operator"
                              : "admin",
            info->message);
    if (p->kind == K_NODE) s->nodes_lost++;
    if (p->kind == K_ADMIN && s->phase == PH_APPROVE) stop(s, 1);
    if (p->kind == K_OP && --s->ops_alive == 0) stop(s, 1);
}

static const cg_ws_client_callbacks callbacks = {
    .on_message = on_message,
    .on_close = on_close,
};

/* Connections turned away as busy (HTTP 503/429 before the upgrade) try again. */
static void on_retry(uv_timer_t *t)
{
    sim *s = t->data;
    int n = s->retry_len;
    s->retry_len = 0;
    for (int i = 0; i < n; i++)
        start_attempt(&s->peers[s->retry_queue[i]]);
}

static void start_attempt(peer *p)
{
    p->ws = cg_ws_client_connect(p->s->loop, p->s->url, &p->s->opts, &callbacks, p);
}

static void open_more(sim *s)
{
    while (s->next_to_open < s->npeers && s->opening < s->connect_concurrency) {
        s->opening++;
        start_attempt(&s->peers[s->next_to_open++]);
    }
}

/* ---- phases ---- */

static void after_attempt(sim *s)
{
    if (s->ready + s->failed < s->npeers) {
        open_more(s);
        return;
    }
    if (s->phase != PH_CONNECT) return;
    if (!s->peers[0].ready) {
        fprintf(stderr, "cg-nodesim: the admin operator could not connect\n");
        stop(s, 1);
    } else if (s->nodes_ready == 0 && s->external == 0) {
        fprintf(stderr, "cg-nodesim: no node could connect\n");
        stop(s, 1);
    } else if (s->operators > 0 && s->ops_alive == 0) {
        fprintf(stderr, "cg-nodesim: no operator could connect\n");
        stop(s, 1);
    } else {
        s->phase = PH_APPROVE;
        approve_round(s);
    }
}

static void on_signal(uv_signal_t *h, int signum)
{
    stop(h->data, 0);
}

static void on_end(uv_timer_t *t)
{
    stop(t->data, 0);
}

static void on_setup_timeout(uv_timer_t *t)
{
    sim *s = t->data;
    fprintf(stderr,
            "cg-nodesim: setup not done after %.0f s: %d of %d nodes connected, %d approvals in "
            "%d rounds, %d approved connected nodes seen (want %d)\n",
            s->setup_timeout_s, s->nodes_ready, s->nodes, s->approved, s->lists, s->ntargets,
            s->nodes_ready + s->external);
    stop(s, 1);
}

/* utime + stime of the --cpu-pids processes, in clock ticks (0 for one that is gone). */
static uint64_t gateway_ticks(const sim *s)
{
    return bench_pids_ticks(s->cpu_pids, s->ncpu_pids);
}

static void on_warmed_up(uv_timer_t *t)
{
    sim *s = t->data;
    s->measuring = true;
    s->t_measure_ns = cg_mono_ns();
    s->gw_ticks0 = gateway_ticks(s);
    s->self_us0 = bench_self_cpu_us();
    s->machine0 = bench_machine_ticks();
    uv_timer_start(&s->timer, on_end, (uint64_t)(s->duration_s * 1000), 0);
}

static void start_run(sim *s)
{
    s->phase = PH_RUN;
    s->t_run_ns = cg_mono_ns();
    uv_timer_stop(&s->setup_timer);
    if (s->hold) {
        s->admin_closing = true;
        cg_ws_client_close(s->peers[0].ws, 1000, "done");
        printf("{\"mode\":\"hold\",\"nodes\":%d,\"approved\":%d,\"failed\":%d,\"seconds\":%.3f}\n",
               s->nodes_ready, s->ntargets, s->failed, (double)(s->t_run_ns - s->t_start_ns) / 1e9);
        fflush(stdout);
        if (s->hold_seconds > 0)
            uv_timer_start(&s->timer, on_end, (uint64_t)(s->hold_seconds * 1000), 0);
        return;
    }
    if (s->warmup_s > 0)
        uv_timer_start(&s->timer, on_warmed_up, (uint64_t)(s->warmup_s * 1000), 0);
    else
        on_warmed_up(&s->timer);
    for (int i = 0; i < s->npeers && !s->stopping; i++)
        if (s->peers[i].kind == K_OP && s->peers[i].ready)
            for (int slot = 0; slot < s->inflight; slot++)
                send_invoke(&s->peers[i], slot);
}

static void on_exit_grace(uv_timer_t *t)
{
    fprintf(stderr, "cg-nodesim: connections still closing after %d ms; exiting\n", EXIT_GRACE_MS);
    uv_stop(t->loop);
}

static void stop(sim *s, int rc)
{
    if (s->stopping) return;
    s->stopping = true;
    if (rc) s->rc = rc;
    s->t_end_ns = cg_mono_ns();
    s->gw_ticks1 = gateway_ticks(s);
    s->self_us1 = bench_self_cpu_us();
    s->machine1 = bench_machine_ticks();
    for (int i = 0; s->measuring && i < s->npeers; i++)
        for (int slot = 0; s->peers[i].sent_ns && slot < s->inflight; slot++)
            if (s->peers[i].sent_ns[slot] >= s->t_measure_ns) s->unfinished++;
    uv_close((uv_handle_t *)&s->timer, NULL);
    uv_close((uv_handle_t *)&s->retry_timer, NULL);
    uv_close((uv_handle_t *)&s->setup_timer, NULL);
    uv_close((uv_handle_t *)&s->poll_timer, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_timer_init(s->loop, &s->exit_timer);
    uv_timer_start(&s->exit_timer, on_exit_grace, EXIT_GRACE_MS, 0);
    uv_unref((uv_handle_t *)&s->exit_timer);
    for (int i = 0; i < s->next_to_open; i++)
        if (s->peers[i].ws) cg_ws_client_close(s->peers[i].ws, 1000, "done");
}

static void print_report(sim *s)
{
    double secs = s->measuring ? (double)(s->t_end_ns - s->t_measure_ns) / 1e9 : 0;
    json_t *r = json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i, "
        "s:f, s:I, s:I, s:i}",
        "mode", "node-invoke", "nodes", s->nodes_ready, "external", s->external, "operators",
        s->ops_alive, "inflight", s->inflight, "command", s->command, "requests",
        (json_int_t)s->completed, "errors", (json_int_t)s->errors, "unfinished",
        (json_int_t)s->unfinished, "seconds", secs, "rps",
        secs > 0 ? (double)s->completed / secs : 0.0, "p50_ms",
        bench_hist_percentile_ms(&s->hist, 0.50), "p90_ms",
        bench_hist_percentile_ms(&s->hist, 0.90), "p99_ms",
        bench_hist_percentile_ms(&s->hist, 0.99), "max_ms", (double)s->hist.max_us / 1000.0,
        "connect_errors", s->failed, "targets", s->ntargets, "setup_ms",
        s->t_run_ns ? (double)(s->t_run_ns - s->t_start_ns) / 1e6 : 0.0, "node_invokes",
        (json_int_t)s->node_invokes, "node_result_errors", (json_int_t)s->node_result_errors,
        "nodes_lost", s->nodes_lost);
    double hz = (double)sysconf(_SC_CLK_TCK);
    if (secs > 0 && s->ncpu_pids > 0)
        json_object_set_new(r, "cpu_gateway_pct",
                            json_real(100.0 * (double)(s->gw_ticks1 - s->gw_ticks0) / hz / secs));
    if (secs > 0) {
        double self = (double)(s->self_us1 - s->self_us0) / 1e4 / secs;
        double gw = 100.0 * (double)(s->gw_ticks1 - s->gw_ticks0) / hz / secs;
        double all = 100.0 * (double)(s->machine1 - s->machine0) / hz / secs;
        json_object_set_new(r, "cpu_nodesim_pct", json_real(self));
        json_object_set_new(r, "cpu_rest_pct",
                            json_real(all - self - gw > 0 ? all - self - gw : 0));
    }
    if (s->first_error) json_object_set_new(r, "first_error", json_string(s->first_error));
    char *text = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(text);
    free(text);
    json_decref(r);
}

/* ---- setup ---- */

static const char usage[] =
    "usage: cg-nodesim --url ws[s]://HOST:PORT --token T [--ca-file PEM]\n"
    "         [--nodes 4] [--external 0] [--operators 1] [--inflight 32]\n"
    "         [--duration 10] [--warmup 1] [--command system.which]\n"
    "         [--params '{\"bins\":[\"sh\"]}'] [--payload-json TEXT] [--invoke-timeout-ms 30000]\n"
    "         [--scopes operator.admin,operator.pairing,operator.read,operator.write]\n"
    "         [--cpu-pids PID,...]   (report those processes' CPU over the measured window)\n"
    "         [--device-family Linux]   (the nodes' client.deviceFamily; \"\" for none)\n"
    "         [--setup-timeout 120] [--connect-concurrency 32] [--timeout-ms 15000]\n"
    "       cg-nodesim --url ... --token T --nodes N --hold [--hold-seconds S]\n"
    "  Simulated nodes answer every node.invoke.request at once; an admin operator approves\n"
    "  every pending node.pair request; operators keep node.invoke requests in flight,\n"
    "  round-robin over every approved connected node (--external K: wait for K more nodes,\n"
    "  e.g. real node hosts, and invoke those too). Prints one JSON line. --hold keeps the\n"
    "  approved nodes connected (no operators) until SIGINT/SIGTERM or --hold-seconds.\n";

static int bad(const char *what)
{
    fprintf(stderr, "cg-nodesim: %s\n%s", what, usage);
    return 2;
}

/* text as a compact JSON text (checked), or NULL. */
static char *compact_json(const char *text, bool as_string)
{
    json_t *v = as_string ? json_string(text) : json_loads(text, JSON_DECODE_ANY, NULL);
    char *out = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return out;
}

int main(int argc, char **argv)
{
    static sim s_; /* big (the frame buffer, the histogram): not on the stack */
    sim *s = &s_;
    s->nodes = 4;
    s->operators = 1;
    s->inflight = 32;
    s->duration_s = 10;
    s->warmup_s = 1;
    s->setup_timeout_s = 120;
    s->invoke_timeout_ms = 30000;
    s->connect_concurrency = 32;
    s->device_family = "Linux";
    const char *command = "system.which", *params = "{\"bins\":[\"sh\"]}",
               *payload = "{\"bins\":{\"sh\":\"/usr/bin/sh\"}}", *ca_file = NULL,
               *scopes = "operator.admin,operator.pairing,operator.read,operator.write";
    double timeout_ms = 15000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--hold") == 0) {
            s->hold = true;
            continue;
        }
        if (i + 1 >= argc) return bad("missing value or unknown option");
        const char *v = argv[++i];
        double d;
        if (strcmp(a, "--url") == 0)
            s->url = v;
        else if (strcmp(a, "--token") == 0)
            s->token = v;
        else if (strcmp(a, "--ca-file") == 0)
            ca_file = v;
        else if (strcmp(a, "--command") == 0)
            command = v;
        else if (strcmp(a, "--params") == 0)
            params = v;
        else if (strcmp(a, "--payload-json") == 0)
            payload = v;
        else if (strcmp(a, "--scopes") == 0)
            scopes = v;
        else if (strcmp(a, "--device-family") == 0)
            s->device_family = v;
        else if (strcmp(a, "--cpu-pids") == 0) {
            if (!bench_pid_list_arg(v, s->cpu_pids, (int)(sizeof s->cpu_pids / sizeof *s->cpu_pids),
                                    &s->ncpu_pids))
                return bad("--cpu-pids takes PID[,PID...]");
        } else if (strcmp(a, "--nodes") == 0 && bench_num_arg(v, 0, 1e5, &d))
            s->nodes = (int)d;
        else if (strcmp(a, "--external") == 0 && bench_num_arg(v, 0, 1e5, &d))
            s->external = (int)d;
        else if (strcmp(a, "--operators") == 0 && bench_num_arg(v, 0, 1e5, &d))
            s->operators = (int)d;
        else if (strcmp(a, "--inflight") == 0 && bench_num_arg(v, 1, 1e5, &d))
            s->inflight = (int)d;
        else if (strcmp(a, "--duration") == 0 && bench_num_arg(v, 0.01, 1e6, &d))
            s->duration_s = d;
        else if (strcmp(a, "--warmup") == 0 && bench_num_arg(v, 0, 1e6, &d))
            s->warmup_s = d;
        else if (strcmp(a, "--hold-seconds") == 0 && bench_num_arg(v, 0, 1e9, &d))
            s->hold_seconds = d;
        else if (strcmp(a, "--setup-timeout") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->setup_timeout_s = d;
        else if (strcmp(a, "--invoke-timeout-ms") == 0 && bench_num_arg(v, 1, 1e9, &d))
            s->invoke_timeout_ms = d;
        else if (strcmp(a, "--connect-concurrency") == 0 && bench_num_arg(v, 1, 1e6, &d))
            s->connect_concurrency = (int)d;
        else if (strcmp(a, "--timeout-ms") == 0 && bench_num_arg(v, 1, 1e9, &d))
            timeout_ms = d;
        else
            return bad(a);
    }
    if (!s->url) return bad("--url is required");
    if (!s->token) return bad("--token is required (nodes sign it into their device block)");
    if (s->nodes + s->external == 0) return bad("--nodes and --external cannot both be 0");
    if (s->hold)
        s->operators = 0;
    else if (s->operators == 0)
        return bad("--operators must be at least 1 without --hold");
    s->command = command;
    s->command_json = compact_json(command, true);
    s->params_json = compact_json(params, false);
    s->payload_json = compact_json(payload, true);
    if (!s->params_json) return bad("--params must be valid JSON");
    if (strlen(s->params_json) + strlen(s->command_json) > FRAME_MAX / 2)
        return bad("--params and --command must stay under 32 KiB");
    if (strlen(s->payload_json) > FRAME_MAX / 2)
        return bad("--payload-json must stay under 32 KiB");
    cg_ws_url u;
    bool url_ok = cg_ws_url_parse(s->url, &u);
    bool wss = u.tls;
    cg_ws_url_free(&u);
    if (!url_ok) return bad("--url must be ws://HOST:PORT or wss://HOST:PORT");
    const char *fam = s->device_family;
    while (*fam == ' ' || *fam == '\t')
        fam++;
    size_t flen = strlen(fam);
    while (flen > 0 && (fam[flen - 1] == ' ' || fam[flen - 1] == '\t'))
        flen--;
    if (flen >= sizeof s->family_signed) return bad("--device-family is too long");
    for (size_t i = 0; i < flen; i++)
        s->family_signed[i] = (fam[i] >= 'A' && fam[i] <= 'Z') ? (char)(fam[i] + 32) : fam[i];

    bench_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    s->token = s->token ? s->token : "";
    s->auth = json_pack("{s:s}", "token", s->token);
    s->scopes = json_array();
    for (const char *sc = scopes; *sc;) {
        size_t n = strcspn(sc, ",");
        if (n > 0) json_array_append_new(s->scopes, json_stringn(sc, n));
        sc += n + (sc[n] == ',');
    }
    cg_random_hex(s->run_id, 6);
    s->opts.handshake_timeout_ms = (uint64_t)timeout_ms;
    if (wss) {
        char err[300];
        s->opts.ssl_ctx = cg_ws_tls_ctx_new(ca_file, err, sizeof err);
        if (!s->opts.ssl_ctx) {
            fprintf(stderr, "cg-nodesim: %s\n", err);
            return 1;
        }
        s->opts.skip_hostname_check = ca_file != NULL;
    }

    s->npeers = 1 + s->nodes + s->operators;
    s->peers = cg_xcalloc((size_t)s->npeers, sizeof *s->peers);
    s->retry_queue = cg_xcalloc((size_t)s->npeers, sizeof *s->retry_queue);
    s->node_ids = cg_xcalloc((size_t)s->nodes + 1, sizeof *s->node_ids);
    for (int i = 0; i < s->npeers; i++) {
        peer *p = &s->peers[i];
        p->s = s;
        p->kind = i == 0 ? K_ADMIN : i <= s->nodes ? K_NODE : K_OP;
        if (p->kind != K_NODE) continue;
        if (!bench_device_new(&p->dev)) {
            fprintf(stderr, "cg-nodesim: cannot generate an Ed25519 key\n");
            return 1;
        }
        s->node_ids[i - 1] = p->dev.id;
    }
    qsort(s->node_ids, (size_t)s->nodes, sizeof *s->node_ids, cmp_str);

    s->loop = uv_default_loop();
    uv_timer_t *timers[] = {&s->timer, &s->retry_timer, &s->setup_timer, &s->poll_timer};
    for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) {
        uv_timer_init(s->loop, timers[i]);
        timers[i]->data = s;
    }
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_timer_start(&s->setup_timer, on_setup_timeout, (uint64_t)(s->setup_timeout_s * 1000), 0);

    s->t_start_ns = cg_mono_ns();
    open_more(s);
    uv_run(s->loop, UV_RUN_DEFAULT);

    if (!s->hold) print_report(s);
    int rc = s->rc ? s->rc : (!s->hold && s->completed == 0) ? 1 : 0;
    for (int i = 0; i < s->npeers; i++) {
        free(s->peers[i].sent_ns);
        bench_device_free(&s->peers[i].dev);
    }
    free(s->peers);
    free(s->retry_queue);
    free(s->node_ids);
    free_targets(s);
    free(s->command_json);
    free(s->params_json);
    free(s->payload_json);
    free(s->first_error);
    json_decref(s->auth);
    json_decref(s->scopes);
    if (s->opts.ssl_ctx) SSL_CTX_free(s->opts.ssl_ctx);
    return rc;
}
