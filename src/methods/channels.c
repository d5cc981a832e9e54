/* Channels: Telegram (src/channels/telegram.c) wired to the gateway.
 *
 *   channels.status            ChannelsStatusResult: telegram's summary and its one
 *                              account ("default": configured, running, connected,
 *                              mode "polling", lastError, probe, tokenSource, ...)
 *   channels.start / .stop     {channel, accountId, started, outcome} / {..., stopped}
 *   channels.logout            clears channels.telegram.botToken (an atomic config write)
 *                              and stops: {channel, accountId, cleared, loggedOut}
 *   channels.pairing.list      ChannelsPairingListResult (requests by opaque requestId)
 *   channels.pairing.approve   ChannelsPairingApproveResult; requestId may also be the
 *                              pairing code the sender was given
 *   channels.pairing.dismiss   ChannelsPairingDismissResult
 *   send                       {to, message, channel?, idempotencyKey}: delivers through
 *                              cg_channels_deliver, answers {runId, messageId, channel,
 *                              chatId}; a repeated idempotencyKey gets the first answer
 *
 * Configuration (OpenClaw's keys under channels.telegram): enabled, botToken (or the
 * TELEGRAM_BOT_TOKEN environment variable), apiRoot, dmPolicy ("pairing" | "allowlist" |
 * "open" | "disabled"), allowFrom, groupPolicy ("allowlist" | "open" | "disabled"),
 * groups.<chatId|*>.requireMention, groupAllowFrom; clawgate's own: polling.timeoutSeconds
 * and retry.{minDelayMs, maxDelayMs}. A settings hook follows changes: a new token or API
 * root restarts the bot.
 *
 * Inbound: a DM from an allowed sender (allowFrom, or approved through pairing), or a
 * group message in an allowed group that mentions the bot (unless requireMention is
 * false), becomes a run (methods/runs.h) on session agent:<agentId>:telegram:<chatId>
 * (agentId from a `bindings` entry matching channel telegram, else the default agent);
 * its id is telegram:<chatId>:<messageId>, so a redelivered update starts nothing. When
 * the run ends its reply goes back to the chat (as a reply to the message in groups), a
 * failure as a short warning. An unknown sender under dmPolicy "pairing" gets a pairing
 * code, once per request. */
#include "methods/channels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agents.h"
#include "channels/pairing.h"
#include "channels/telegram.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/methods.h"
#include "methods/runs.h"
#include "methods/sessions.h"
#include "proto/frame.h"
#include "store/store.h"

#define CHANNEL "telegram"
#define ACCOUNT "default"
#define SENT_MEMORY 512 /* idempotencyKeys of `send` remembered */
#define ERROR_REPLY_MAX 300
#define APPROVED_MESSAGE "\xE2\x9C\x85 OpenClaw access approved. Send a message to start chatting."

/* A run started by a channel message: its reply goes back to chat_id. Listed until the
 * reply is sent (a run that never ends is freed with the module). */
typedef struct inbound {
    struct inbound *prev, *next;
    cg_gateway *gw;
    char chat_id[32];
    int64_t reply_to;
} inbound;

typedef struct channels_state {
    cg_telegram *tg;
    cg_pairing *pairing; /* NULL when the store could not be read */
    inbound *inbound_head;
    json_t *sent;       /* idempotencyKey -> send result, or null while in flight */
    json_t *sent_order; /* keys, oldest first */
    bool user_stopped;  /* channels.stop: stays stopped until channels.start or a new token */
    bool stopped;       /* the gateway is stopping */
    char *token;        /* the token last applied, to notice a new one */
} channels_state;

static void stop_state(void *data)
{
    channels_state *st = data;
    st->stopped = true;
    cg_telegram_close(st->tg); /* fails queued sends, which frees their inbound entries */
}

static void free_state(void *data)
{
    channels_state *st = data;
    cg_telegram_free(st->tg);
    cg_pairing_free(st->pairing);
    for (inbound *ib = st->inbound_head, *next; ib; ib = next) {
        next = ib->next;
        free(ib);
    }
    json_decref(st->sent);
    json_decref(st->sent_order);
    free(st->token);
    free(st);
}

static const cg_conn_key state_key = {
    .name = "channels", .free_data = free_state, .stop = stop_state};

static channels_state *state_of(cg_gateway *gw)
{
    return cg_gateway_get_data(gw, &state_key);
}

/* ---- configuration ---- */

static const json_t *tg_config(cg_gateway *gw)
{
    return json_object_get(json_object_get(cg_gateway_settings(gw)->doc, "channels"), CHANNEL);
}

static const char *conf_str(const json_t *conf, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(conf, key));
    return v && *v ? v : fallback;
}

static bool tg_enabled(const json_t *conf)
{
    return !json_is_false(json_object_get(conf, "enabled"));
}

static void read_conf(const json_t *conf, cg_telegram_conf *out)
{
    const char *token = conf_str(conf, "botToken", NULL);
    const char *env = getenv("TELEGRAM_BOT_TOKEN");
    *out = (cg_telegram_conf){
        .token = token         ? token
                 : env && *env ? env
                               : NULL,
        .token_source = token         ? "config"
                        : env && *env ? "env"
                                      : "none",
        .api_root = conf_str(conf, "apiRoot", NULL),
        .poll_timeout_s = (int)json_integer_value(
            json_object_get(json_object_get(conf, "polling"), "timeoutSeconds")),
        .min_delay_ms =
            json_integer_value(json_object_get(json_object_get(conf, "retry"), "minDelayMs")),
        .max_delay_ms =
            json_integer_value(json_object_get(json_object_get(conf, "retry"), "maxDelayMs")),
    };
    if (out->poll_timeout_s < 0 || out->poll_timeout_s > 300) out->poll_timeout_s = 0;
}

/* Applies the configuration: a disabled or token-less bot stops; an enabled one starts
 * unless an operator stopped it (a new token clears that). */
static void apply_config(cg_gateway *gw, channels_state *st)
{
    const json_t *conf = tg_config(gw);
    cg_telegram_conf c;
    read_conf(conf, &c);
    if (!tg_enabled(conf)) c.token = NULL;
    bool new_token = c.token && (!st->token || strcmp(st->token, c.token) != 0);
    free(st->token);
    st->token = cg_strdup(c.token);
    cg_telegram_configure(st->tg, &c);
    if (!c.token) {
        cg_telegram_stop(st->tg);
        return;
    }
    if (new_token) st->user_stopped = false;
    /* A refused token waits for a new one (or channels.start): no retry loop. */
    if (!st->user_stopped && !cg_telegram_running(st->tg) && !cg_telegram_unauthorized(st->tg))
        cg_telegram_start(st->tg);
}

static void on_settings(cg_gateway *gw, const cg_settings *settings, void *data)
{
    channels_state *st = state_of(gw);
    if (st && !st->stopped) apply_config(gw, st);
}

/* An allowFrom entry as a sender id: numbers as text, "telegram:" / "tg:" dropped. */
static bool entry_matches(const json_t *entry, const char *sender, const char *username)
{
    char buf[64];
    const char *s = json_string_value(entry);
    if (json_is_integer(entry)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(entry));
        s = buf;
    }
    if (!s) return false;
    if (!strncasecmp(s, "telegram:", 9)) s += 9;
    if (!strncasecmp(s, "tg:", 3)) s += 3;
    if (!strcmp(s, "*") || !strcmp(s, sender)) return true;
    return username && s[0] == '@' && !strcasecmp(s + 1, username);
}

static bool list_allows(const json_t *list, const char *sender, const char *username)
{
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        if (entry_matches(e, sender, username)) return true;
    }
    return false;
}

/* The agent a chat belongs to: the first `bindings` entry for channel telegram (and this
 * chat, when it names a peer), else the default agent. */
static const char *chat_agent(cg_gateway *gw, const char *chat_id)
{
    size_t i;
    const json_t *b;
    json_array_foreach(json_object_get(cg_gateway_settings(gw)->doc, "bindings"), i, b)
    {
        const json_t *match = json_object_get(b, "match");
        const char *channel = json_string_value(json_object_get(match, "channel"));
        const char *peer = json_string_value(json_object_get(json_object_get(match, "peer"), "id"));
        const char *agent = json_string_value(json_object_get(b, "agentId"));
        if (agent && channel && !strcasecmp(channel, CHANNEL) && (!peer || !strcmp(peer, chat_id)))
            return agent;
    }
    return CG_AGENTS_DEFAULT_ID;
}

/* ---- delivery ---- */

typedef struct delivery {
    cg_channel_sent_fn done;
    void *data;
    char to[64];
} delivery;

static void on_delivered(int64_t message_id, const char *error, void *data)
{
    delivery *d = data;
    if (error) {
        json_t *e = cg_error_new(CG_ERR_UNAVAILABLE, error, NULL);
        d->done(NULL, e, d->data);
        json_decref(e);
    } else {
        char id[32];
        snprintf(id, sizeof id, "%lld", (long long)message_id);
        json_t *r = json_pack("{s:s, s:s, s:s, s:s}", "channel", CHANNEL, "to", d->to, "chatId",
                              d->to, "messageId", id);
        d->done(r, NULL, d->data);
        json_decref(r);
    }
    free(d);
}

/* "telegram:123" and "tg:123" name chat 123. */
static const char *chat_target(const char *to)
{
    if (!strncasecmp(to, "telegram:", 9)) return to + 9;
    if (!strncasecmp(to, "tg:", 3)) return to + 3;
    return to;
}

static void refuse(cg_channel_sent_fn done, void *data, const char *code, const char *message)
{
    json_t *e = cg_error_new(code, message, NULL);
    done(NULL, e, data);
    json_decref(e);
}

void cg_channels_deliver(cg_gateway *gw, const char *channel, const char *to, const char *text,
                         cg_channel_sent_fn done, void *data)
{
    channels_state *st = state_of(gw);
    char msg[200];
    if (channel && *channel && strcasecmp(channel, "last") != 0 &&
        strcasecmp(channel, CHANNEL) != 0) {
        snprintf(msg, sizeof msg, "unsupported channel: %.100s", channel);
        refuse(done, data, CG_ERR_INVALID_REQUEST, msg);
        return;
    }
    if (!st || st->stopped || !cg_telegram_running(st->tg)) {
        refuse(done, data, CG_ERR_UNAVAILABLE,
               st && !st->stopped && st->token ? "channel not running: telegram"
                                               : "channel not configured: telegram");
        return;
    }
    if (!to || !*to) {
        refuse(done, data, CG_ERR_INVALID_REQUEST, "delivery needs a recipient (to)");
        return;
    }
    if (!text || !*text) {
        refuse(done, data, CG_ERR_INVALID_REQUEST, "message required (text only)");
        return;
    }
    const char *chat = chat_target(to);
    if (strlen(chat) >= sizeof((delivery *)0)->to) {
        refuse(done, data, CG_ERR_INVALID_REQUEST, "invalid recipient");
        return;
    }
    delivery *d = cg_xcalloc(1, sizeof *d);
    d->done = done;
    d->data = data;
    snprintf(d->to, sizeof d->to, "%s", chat);
    cg_telegram_send(st->tg, d->to, text, 0, on_delivered, d);
}

/* ---- inbound ---- */

static void inbound_unlink(channels_state *st, inbound *ib)
{
    if (ib->prev)
        ib->prev->next = ib->next;
    else
        st->inbound_head = ib->next;
    if (ib->next) ib->next->prev = ib->prev;
    free(ib);
}

static void on_reply_sent(int64_t message_id, const char *error, void *data)
{
    inbound *ib = data;
    if (error)
        cg_log(CG_LOG_WARN, "telegram", "reply not delivered",
               json_pack("{s:s, s:s}", "chatId", ib->chat_id, "error", error));
    inbound_unlink(state_of(ib->gw), ib);
}

static void on_notice_sent(int64_t message_id, const char *error, void *data)
{
    if (error)
        cg_log(CG_LOG_WARN, "telegram", "notice not delivered", json_pack("{s:s}", "error", error));
}

/* "⚠️ <why>" with why cut to ERROR_REPLY_MAX bytes on a character boundary (a cut inside
 * a UTF-8 sequence would make a text Telegram and jansson refuse). */
#define WARNING_BUF (ERROR_REPLY_MAX + 8)
static void warning_text(char out[WARNING_BUF], const char *why)
{
    size_t n = strlen(why);
    if (n > ERROR_REPLY_MAX) {
        n = ERROR_REPLY_MAX;
        while (n > 0 && ((unsigned char)why[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(out, WARNING_BUF, "\xE2\x9A\xA0\xEF\xB8\x8F %.*s", (int)n, why);
}

static void on_run_end(const cg_run_result *res, void *data)
{
    inbound *ib = data;
    channels_state *st = state_of(ib->gw);
    char text[WARNING_BUF];
    const char *reply = res->text;
    if (res->status == CG_RUN_ERROR) {
        warning_text(text, res->error_message ? res->error_message : "the agent failed");
        reply = text;
    } else if (res->status != CG_RUN_OK) {
        reply = NULL; /* aborted: the operator stopped it */
    }
    if (!reply || !*reply || st->stopped) {
        inbound_unlink(st, ib);
        return;
    }
    cg_telegram_send(st->tg, ib->chat_id, reply, ib->reply_to, on_reply_sent, ib);
}

static void start_run(cg_gateway *gw, channels_state *st, const cg_telegram_message *m)
{
    const char *agent = chat_agent(gw, m->chat_id);
    char raw[CG_SESSION_KEY_BUF], key[CG_SESSION_KEY_BUF], run_id[96];
    snprintf(raw, sizeof raw, "agent:%s:" CHANNEL ":%s", agent, m->chat_id);
    json_t *error = NULL;
    if (!cg_methods_session_key(gw, raw, agent, key, sizeof key, &error)) {
        cg_log(CG_LOG_WARN, "telegram", "message dropped: no session for the chat",
               json_pack("{s:s, s:O}", "chatId", m->chat_id, "error", error));
        json_decref(error);
        return;
    }
    snprintf(run_id, sizeof run_id, CHANNEL ":%s:%lld", m->chat_id, (long long)m->message_id);
    inbound *ib = cg_xcalloc(1, sizeof *ib);
    ib->gw = gw;
    snprintf(ib->chat_id, sizeof ib->chat_id, "%s", m->chat_id);
    ib->reply_to = m->is_group ? m->message_id : 0;
    ib->next = st->inbound_head;
    if (ib->next) ib->next->prev = ib;
    st->inbound_head = ib;
    cg_run_spec spec = {
        .run_id = run_id, .session_key = key, .agent_id = agent, .message = m->text};
    cg_run_status existing;
    if (cg_runs_submit(gw, &spec, on_run_end, ib, &existing, &error) != 0) {
        const char *why = json_string_value(json_object_get(error, "message"));
        char text[WARNING_BUF];
        warning_text(text, why ? why : "cannot start the agent");
        json_decref(error);
        cg_telegram_send(st->tg, ib->chat_id, text, ib->reply_to, on_reply_sent, ib);
        return;
    }
    if (existing != CG_RUN_UNKNOWN) inbound_unlink(st, ib); /* a redelivered update */
}

static void send_pairing_code(channels_state *st, const cg_telegram_message *m)
{
    json_t *meta = json_pack("{s:s?, s:s, s:s}", "username", m->from_username, "name", m->from_name,
                             "chatId", m->chat_id);
    bool created = false;
    const char *code = cg_pairing_request(st->pairing, m->from_id, meta, cg_now_ms(), &created);
    json_decref(meta);
    if (!code || !created) return; /* the cap is reached, or the sender has their code */
    char text[512];
    snprintf(text, sizeof text,
             "OpenClaw: access not configured.\n\nYour Telegram user id: %s\nPairing code:\n```\n"
             "%s\n```\n\nAsk the bot owner to approve with:\n```\nopenclaw pairing approve "
             "telegram %s\n```",
             m->from_id, code, code);
    cg_telegram_send(st->tg, m->chat_id, text, 0, on_notice_sent, NULL);
}

bool cg_channels_supported(const char *channel)
{
    return !channel || !*channel || !strcasecmp(channel, "last") || !strcasecmp(channel, CHANNEL);
}

bool cg_channels_deliver_reply(cg_gateway *gw, const char *run_id, const char *channel,
                               const char *to)
{
    channels_state *st = state_of(gw);
    if (!st || st->stopped || !cg_channels_supported(channel) || !to || !*to) return false;
    const char *chat = chat_target(to);
    if (strlen(chat) >= sizeof((inbound *)0)->chat_id) return false;
    inbound *ib = cg_xcalloc(1, sizeof *ib);
    ib->gw = gw;
    snprintf(ib->chat_id, sizeof ib->chat_id, "%s", chat);
    ib->next = st->inbound_head;
    if (ib->next) ib->next->prev = ib;
    st->inbound_head = ib;
    if (!cg_runs_watch(gw, run_id, on_run_end, ib)) {
        inbound_unlink(st, ib);
        return false;
    }
    return true;
}

static bool group_allows(const json_t *conf, const cg_telegram_message *m)
{
    const char *policy = conf_str(conf, "groupPolicy", "allowlist");
    if (!strcmp(policy, "disabled")) return false;
    const json_t *groups = json_object_get(conf, "groups");
    const json_t *group = json_object_get(groups, m->chat_id);
    if (!group) group = json_object_get(groups, "*");
    if (!strcmp(policy, "allowlist") && !group) return false;
    if (json_is_false(json_object_get(group, "enabled"))) return false;
    const json_t *senders = json_object_get(conf, "groupAllowFrom");
    if (!strcmp(policy, "allowlist") && json_array_size(senders) &&
        !list_allows(senders, m->from_id, m->from_username))
        return false;
    const json_t *require = json_object_get(group, "requireMention");
    if (!require) require = json_object_get(conf, "requireMention");
    return m->mentioned || json_is_false(require);
}

static void on_message(cg_telegram *t, const cg_telegram_message *m, void *data)
{
    cg_gateway *gw = data;
    channels_state *st = state_of(gw);
    const json_t *conf = tg_config(gw);
    if (m->is_group) {
        if (group_allows(conf, m)) start_run(gw, st, m);
        return;
    }
    if (strcmp(m->chat_type, "private") != 0) return; /* a channel post */
    const char *policy = conf_str(conf, "dmPolicy", "pairing");
    if (!strcmp(policy, "disabled")) return;
    bool allowed = !strcmp(policy, "open") ||
                   list_allows(json_object_get(conf, "allowFrom"), m->from_id, m->from_username) ||
                   (st->pairing && cg_pairing_allowed(st->pairing, m->from_id));
    if (allowed)
        start_run(gw, st, m);
    else if (!strcmp(policy, "pairing") && st->pairing)
        send_pairing_code(st, m);
}

void cg_methods_channels_attach(cg_gateway *gw)
{
    channels_state *st = cg_xcalloc(1, sizeof *st);
    char err[256] = "";
    st->pairing = cg_pairing_open(cg_gateway_store(gw), CHANNEL, err, sizeof err);
    if (!st->pairing)
        cg_log(CG_LOG_ERROR, "channels", "cannot load pairing state; pairing is off",
               json_pack("{s:s}", "error", err));
    cg_telegram_callbacks cb = {.on_message = on_message};
    st->tg = cg_telegram_new(cg_gateway_loop(gw), cg_gateway_store(gw), &cb, gw);
    st->sent = json_object();
    st->sent_order = json_array();
    cg_gateway_set_data(gw, &state_key, st);
    cg_gateway_add_settings_hook(gw, on_settings, NULL);
    apply_config(gw, st);
}

/* ---- params ---- */

static const cg_param_field status_fields[] = {
    {"probe", CG_PF_BOOL, 0, 0, 0, NULL},
    {"timeoutMs", CG_PF_INT, 0, 0, 0, NULL},
    {"channel", CG_PF_STRING, 0, 1, 0, NULL},
    {0},
};
static const cg_param_field operation_fields[] = {
    {"channel", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"accountId", CG_PF_STRING, 0, 0, 0, NULL},
    {0},
};
static const cg_param_field pairing_list_fields[] = {
    {"channel", CG_PF_STRING, 0, 1, 0, NULL},
    {"accountId", CG_PF_STRING, 0, 1, 0, NULL},
    {0},
};
static const cg_param_field pairing_approve_fields[] = {
    {"channel", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"accountId", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"requestId", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"notify", CG_PF_BOOL, 0, 0, 0, NULL},
    {"bootstrapCommandOwner", CG_PF_BOOL, 0, 0, 0, NULL},
    {0},
};
static const cg_param_field pairing_dismiss_fields[] = {
    {"channel", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"accountId", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"requestId", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {0},
};
/* SendParams; media and threads are not supported (text only). */
static const cg_param_field send_fields[] = {
    {"to", CG_PF_STRING, CG_PF_REQUIRED, 1, 0, NULL},
    {"message", CG_PF_STRING, 0, 0, CG_TELEGRAM_TEXT_MAX, NULL},
    {"channel", CG_PF_STRING, 0, 0, 0, NULL},
    {"accountId", CG_PF_STRING, 0, 0, 0, NULL},
    {"agentId", CG_PF_STRING, 0, 0, 0, NULL},
    {"sessionKey", CG_PF_STRING, 0, 0, 0, NULL},
    {"replyToId", CG_PF_STRING, 0, 0, 0, NULL},
    {"silent", CG_PF_BOOL, 0, 0, 0, NULL},
    {"idempotencyKey", CG_PF_STRING, CG_PF_REQUIRED, 1, 256, NULL},
    {"mediaUrl", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"mediaUrls", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"buffer", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"filename", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"contentType", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"asVoice", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"gifPlayback", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"threadId", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"forceDocument", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {"parseMode", CG_PF_UNSUPPORTED, 0, 0, 0, NULL},
    {0},
};

#define FIELDS_CHECK(name, table)                                                                  \
    static int name(const json_t *params, char *err, size_t errlen)                                \
    {                                                                                              \
        return cg_params_check_fields(params, table, err, errlen);                                 \
    }
FIELDS_CHECK(check_status, status_fields)
FIELDS_CHECK(check_operation, operation_fields)
FIELDS_CHECK(check_pairing_list, pairing_list_fields)
FIELDS_CHECK(check_pairing_approve, pairing_approve_fields)
FIELDS_CHECK(check_pairing_dismiss, pairing_dismiss_fields)
FIELDS_CHECK(check_send, send_fields)

static const char *param(cg_req *req, const char *key)
{
    return json_string_value(json_object_get(req->params, key));
}

/* The channel (and account) a request names must be telegram's default account. */
static bool known_target(cg_req *req, const char *unknown_prefix)
{
    const char *channel = param(req, "channel");
    const char *account = param(req, "accountId");
    char msg[200];
    if (channel && strcasecmp(channel, CHANNEL) != 0) {
        snprintf(msg, sizeof msg, "%s%.100s", unknown_prefix, channel);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
        return false;
    }
    if (account && *account && strcmp(account, ACCOUNT) != 0) {
        snprintf(msg, sizeof msg, "unknown account: " CHANNEL ":%.100s", account);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, msg, NULL);
        return false;
    }
    return true;
}

/* ---- channels.status ---- */

static void handle_status(cg_req *req)
{
    if (!known_target(req, "unknown channel: ")) return;
    channels_state *st = state_of(req->gw);
    const json_t *conf = tg_config(req->gw);
    json_t *account = cg_telegram_status(st->tg);
    json_object_set_new(account, "enabled", json_boolean(tg_enabled(conf)));
    json_object_set_new(account, "dmPolicy", json_string(conf_str(conf, "dmPolicy", "pairing")));
    json_t *allow = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(conf, "allowFrom"), i, e)
    {
        if (json_is_string(e)) json_array_append(allow, (json_t *)e);
        if (json_is_integer(e))
            json_array_append_new(allow, json_sprintf("%lld", (long long)json_integer_value(e)));
    }
    json_object_set_new(account, "allowFrom", allow);
    json_t *summary = json_object();
    static const char *const copied[] = {"configured", "running",   "mode",        "lastStartAt",
                                         "lastStopAt", "lastError", "tokenSource", "probe"};
    for (size_t k = 0; k < sizeof copied / sizeof copied[0]; k++) {
        json_t *v = json_object_get(account, copied[k]);
        if (v) json_object_set(summary, copied[k], v);
    }
    json_t *result = json_pack(
        "{s:I, s:[s], s:{s:s}, s:{s:s}, s:[{s:s, s:s, s:s}], s:{s:o}, s:{s:[o]}, s:{s:s}}", "ts",
        (json_int_t)cg_now_ms(), "channelOrder", CHANNEL, "channelLabels", CHANNEL, "Telegram",
        "channelDetailLabels", CHANNEL, "Telegram Bot", "channelMeta", "id", CHANNEL, "label",
        "Telegram", "detailLabel", "Telegram Bot", "channels", CHANNEL, summary, "channelAccounts",
        CHANNEL, account, "channelDefaultAccountId", CHANNEL, ACCOUNT);
    cg_req_ok(req, result);
}

/* ---- channels.start / stop / logout ---- */

static void handle_start(cg_req *req)
{
    if (!known_target(req, "unknown channel: ")) return;
    channels_state *st = state_of(req->gw);
    const json_t *conf = tg_config(req->gw);
    if (!tg_enabled(conf)) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST,
                     "telegram is disabled (channels.telegram.enabled is false)", NULL);
        return;
    }
    bool was = cg_telegram_running(st->tg);
    st->user_stopped = false;
    if (cg_telegram_start(st->tg) != 0) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST,
                     "telegram is not configured: set channels.telegram.botToken", NULL);
        return;
    }
    cg_req_ok(req, json_pack("{s:s, s:s, s:b, s:s}", "channel", CHANNEL, "accountId", ACCOUNT,
                             "started", cg_telegram_running(st->tg), "outcome",
                             was ? "already-running" : "started"));
}

static void handle_stop(cg_req *req)
{
    if (!known_target(req, "unknown channel ")) return;
    channels_state *st = state_of(req->gw);
    st->user_stopped = true;
    cg_telegram_stop(st->tg);
    cg_req_ok(req, json_pack("{s:s, s:s, s:b}", "channel", CHANNEL, "accountId", ACCOUNT, "stopped",
                             !cg_telegram_running(st->tg)));
}

typedef struct logout_call {
    cg_req *req;
    bool env_token;
} logout_call;

static void logout_left(cg_req *req, cg_req_end why, void *data)
{
    ((logout_call *)data)->req = NULL;
}

static void on_logout_written(cg_config *cfg, cg_config_write_result *res, void *data)
{
    logout_call *c = data;
    if (c->req) {
        cg_req_on_cancel(c->req, NULL, NULL);
        if (res->error) {
            cg_req_error_shape(c->req, json_incref(res->error));
        } else {
            json_t *r = json_pack("{s:s, s:s, s:b, s:b}", "channel", CHANNEL, "accountId", ACCOUNT,
                                  "cleared", 1, "loggedOut", !c->env_token);
            if (c->env_token) json_object_set_new(r, "envToken", json_true());
            cg_req_ok(c->req, r);
        }
    }
    json_decref(res->payload);
    json_decref(res->error);
    free(c);
}

static void handle_logout(cg_req *req)
{
    if (!known_target(req, "channel does not support logout: ")) return;
    cg_gateway *gw = req->gw;
    channels_state *st = state_of(gw);
    if (!cg_config_valid(cg_gateway_config(gw))) {
        cg_req_error(req, CG_ERR_INVALID_REQUEST, "config invalid; fix it before logging out",
                     NULL);
        return;
    }
    st->user_stopped = true;
    cg_telegram_stop(st->tg);
    const char *env = getenv("TELEGRAM_BOT_TOKEN");
    bool env_token = env && *env;
    if (!json_object_get(tg_config(gw), "botToken")) {
        json_t *r = json_pack("{s:s, s:s, s:b, s:b}", "channel", CHANNEL, "accountId", ACCOUNT,
                              "cleared", 0, "loggedOut", !env_token);
        if (env_token) json_object_set_new(r, "envToken", json_true());
        cg_req_ok(req, r);
        return;
    }
    cg_req *held = cg_req_defer(req);
    if (!held) return;
    logout_call *c = cg_xcalloc(1, sizeof *c);
    c->req = held;
    c->env_token = env_token;
    cg_req_on_cancel(held, logout_left, c);
    json_t *patch = json_pack("{s:{s:{s:n}}}", "channels", CHANNEL, "botToken");
    cg_config_patch_async(cg_gateway_config(gw), cg_gateway_loop(gw), patch, on_logout_written, c);
    json_decref(patch);
}

/* ---- channels.pairing.* ---- */

static bool pairing_target(cg_req *req)
{
    channels_state *st = state_of(req->gw);
    if (!known_target(req, "unknown pairing channel: ")) return false;
    if (!st->pairing) {
        cg_req_error(req, CG_ERR_UNAVAILABLE, "pairing state unavailable (state store)", NULL);
        return false;
    }
    return true;
}

static json_t *public_request(const json_t *r)
{
    json_t *out =
        json_pack("{s:O, s:s, s:s, s:s, s:O, s:s, s:O, s:O, s:O, s:b}", "requestId",
                  json_object_get(r, "requestId"), "channel", CHANNEL, "channelLabel", "Telegram",
                  "accountId", ACCOUNT, "senderId", json_object_get(r, "senderId"), "senderLabel",
                  "telegramUserId", "createdAt", json_object_get(r, "createdAt"), "lastSeenAt",
                  json_object_get(r, "lastSeenAt"), "expiresAt", json_object_get(r, "expiresAt"),
                  "notifySupported", 1);
    const json_t *meta = json_object_get(r, "metadata");
    if (json_object_size(meta)) json_object_set(out, "metadata", (json_t *)meta);
    return out;
}

static void handle_pairing_list(cg_req *req)
{
    if (!pairing_target(req)) return;
    channels_state *st = state_of(req->gw);
    json_t *accounts = json_array(), *requests = json_array();
    if (conf_str(tg_config(req->gw), "botToken", getenv("TELEGRAM_BOT_TOKEN"))) {
        json_array_append_new(accounts,
                              json_pack("{s:s, s:s, s:s, s:b}", "channel", CHANNEL, "channelLabel",
                                        "Telegram", "accountId", ACCOUNT, "notifySupported", 1));
        json_t *pending = cg_pairing_list(st->pairing, cg_now_ms());
        size_t i;
        const json_t *r;
        json_array_foreach(pending, i, r)
        {
            json_array_append_new(requests, public_request(r));
        }
        json_decref(pending);
    }
    cg_req_ok(req, json_pack("{s:o, s:o, s:b, s:{s:i, s:I}}", "accounts", accounts, "requests",
                             requests, "commandOwnerConfigured", 0, "limits", "pendingPerAccount",
                             CG_PAIRING_PENDING_MAX, "ttlMs", (json_int_t)CG_PAIRING_TTL_MS));
}

typedef struct resolve_call {
    cg_req_hold hold;
    cg_gateway *gw;
    bool approve, notify;
    char request_id[128], sender[64];
} resolve_call;

static json_t *resolve_result(const resolve_call *c, const char *notification)
{
    json_t *r = json_pack("{s:s, s:s}", "requestId", c->request_id, "senderId", c->sender);
    if (c->approve) {
        json_object_set_new(r, "notification", json_string(notification));
        json_object_set_new(
            r, "commandOwnerBootstrap",
            json_string(json_is_true(json_object_get(c->hold.req->params, "bootstrapCommandOwner"))
                            ? "unavailable"
                            : "not-requested"));
    }
    return r;
}

static void on_approval_notified(int64_t message_id, const char *error, void *data)
{
    resolve_call *c = data;
    if (c->hold.req)
        cg_req_hold_answer(&c->hold, 0, NULL, NULL, resolve_result(c, error ? "failed" : "sent"));
    free(c);
}

static void on_resolved(int status, const char *error, void *data)
{
    resolve_call *c = data;
    if (status == 0 && c->notify && c->hold.req) {
        channels_state *st = state_of(c->gw);
        cg_telegram_send(st->tg, c->sender, APPROVED_MESSAGE, 0, on_approval_notified, c);
        return;
    }
    cg_req_hold_answer(&c->hold, status, error, "pairing",
                       c->hold.req && status == 0 ? resolve_result(c, "not-requested") : NULL);
    free(c);
}

static void resolve(cg_req *req, bool approve)
{
    if (!pairing_target(req)) return;
    channels_state *st = state_of(req->gw);
    const char *id = param(req, "requestId");
    resolve_call *c = cg_xcalloc(1, sizeof *c);
    c->gw = req->gw;
    c->approve = approve;
    c->notify = approve && json_is_true(json_object_get(req->params, "notify"));
    snprintf(c->request_id, sizeof c->request_id, "%s", id);
    /* The opaque id, or the code the sender was given (8 characters, not an id's 32). */
    bool by_code = strlen(id) == CG_PAIRING_CODE_LEN;
    if (!cg_pairing_resolve(st->pairing, id, by_code, approve, cg_now_ms(), c->sender,
                            sizeof c->sender, on_resolved, c)) {
        free(c);
        cg_req_error(req, CG_ERR_INVALID_REQUEST, "pending DM access request no longer exists",
                     NULL);
        return;
    }
    /* Answered when the change is durable (on_resolved, which also frees c; the write's
     * done never runs inside this call). A refused hold leaves c->hold.req NULL. */
    cg_req_hold_start(&c->hold, req);
}

static void handle_pairing_approve(cg_req *req)
{
    resolve(req, true);
}

static void handle_pairing_dismiss(cg_req *req)
{
    resolve(req, false);
}

/* ---- send ---- */

typedef struct send_call {
    cg_req *req;
    cg_gateway *gw;
    char *key;
} send_call;

static void send_left(cg_req *req, cg_req_end why, void *data)
{
    ((send_call *)data)->req = NULL;
}

/* Remembers key's answer (null while in flight), forgetting the oldest beyond
 * SENT_MEMORY. */
static void remember(channels_state *st, const char *key, json_t *result)
{
    if (!json_object_get(st->sent, key)) {
        json_array_append_new(st->sent_order, json_string(key));
        if (json_array_size(st->sent_order) > SENT_MEMORY) {
            json_object_del(st->sent, json_string_value(json_array_get(st->sent_order, 0)));
            json_array_remove(st->sent_order, 0);
        }
    }
    json_object_set_new(st->sent, key, result);
}

static void forget(channels_state *st, const char *key)
{
    json_object_del(st->sent, key);
    size_t i;
    const json_t *k;
    json_array_foreach(st->sent_order, i, k)
    {
        if (!strcmp(json_string_value(k), key)) {
            json_array_remove(st->sent_order, i);
            break;
        }
    }
}

static void on_send_delivered(const json_t *result, const json_t *error, void *data)
{
    send_call *c = data;
    channels_state *st = state_of(c->gw);
    json_t *answer = NULL;
    if (result)
        answer = json_pack("{s:s, s:O, s:s, s:O}", "runId", c->key, "messageId",
                           json_object_get(result, "messageId"), "channel", CHANNEL, "chatId",
                           json_object_get(result, "chatId"));
    if (st && !st->stopped) {
        if (answer)
            remember(st, c->key, json_incref(answer));
        else
            forget(st, c->key); /* a failed send may be retried with the same key */
    }
    if (c->req) {
        cg_req_on_cancel(c->req, NULL, NULL);
        if (answer)
            cg_req_ok(c->req, answer);
        else
            cg_req_error_shape(c->req, json_deep_copy(error));
    } else {
        json_decref(answer);
    }
    free(c->key);
    free(c);
}

static void handle_send(cg_req *req)
{
    channels_state *st = state_of(req->gw);
    const char *key = param(req, "idempotencyKey");
    const json_t *known = json_object_get(st->sent, key);
    if (json_is_object(known)) {
        cg_req_ok(req, json_incref((json_t *)known));
        return;
    }
    if (known) {
        json_t *e =
            cg_error_new(CG_ERR_UNAVAILABLE, "a send with this idempotencyKey is in flight", NULL);
        json_object_set_new(e, "retryable", json_true());
        json_object_set_new(e, "retryAfterMs", json_integer(1000));
        cg_req_error_shape(req, e);
        return;
    }
    cg_req *held = cg_req_defer(req);
    if (!held) return;
    send_call *c = cg_xcalloc(1, sizeof *c);
    c->req = held;
    c->gw = held->gw;
    c->key = cg_strdup(key);
    cg_req_on_cancel(held, send_left, c);
    remember(st, key, json_null());
    cg_channels_deliver(held->gw, param(held, "channel"), param(held, "to"), param(held, "message"),
                        on_send_delivered, c);
}

const cg_method cg_methods_channels[] = {
    {.name = "channels.status",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_status,
     .handler = handle_status,
     .summary = "Channel status (ChannelsStatusResult): telegram and its account"},
    {.name = "channels.start",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_operation,
     .handler = handle_start,
     .summary = "Start a channel (getMe, then polling)"},
    {.name = "channels.stop",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_operation,
     .handler = handle_stop,
     .summary = "Stop a channel until channels.start or a new token"},
    {.name = "channels.logout",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_ADMIN,
     .check = check_operation,
     .handler = handle_logout,
     .summary = "Stop a channel and clear its token from the config"},
    {.name = "channels.pairing.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_pairing_list,
     .handler = handle_pairing_list,
     .summary = "Pending DM pairing requests"},
    {.name = "channels.pairing.approve",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_pairing_approve,
     .handler = handle_pairing_approve,
     .summary = "Approve a DM pairing request (by requestId or code)"},
    {.name = "channels.pairing.dismiss",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_PAIRING,
     .check = check_pairing_dismiss,
     .handler = handle_pairing_dismiss,
     .summary = "Dismiss a DM pairing request"},
    {.name = "send",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_WRITE,
     .check = check_send,
     .handler = handle_send,
     .summary = "Deliver a text to a channel's chat ({runId, messageId, channel, chatId})"},
    {0},
};
