/* Unit tests of sessions and transcripts (agent/sessions.c) over a real state store in a
 * temporary directory (tests/unit/store_fixture.h): canonical keys and agent ids;
 * append, replace and history (order, limit, totals, seq, read-your-writes); the index's
 * preview, token counts and running flag; caps (message size, shape, transcript
 * length, unknown sessions); crash recovery (a message left running is interrupted after
 * a reopen); reset (main keeps its id, others get a new one, the old transcript stays
 * archived), delete, compact and meta patches surviving a reopen; the listener. */
#include "store_fixture.h"

#include <string.h>
#include <uv.h>

#include "agent/agents.h"
#include "agent/sessions.h"
#include "common/util.h"

static uv_loop_t *g_loop;

static void *open_sessions(cg_store *st, char *err, size_t errlen)
{
    return cg_sessions_open(st, g_loop, err, errlen);
}

static void free_sessions(void *registry)
{
    cg_sessions_free(registry);
}

static int setup(void **state)
{
    store_fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    g_loop = &f->loop;
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-sessions-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->open_registry = open_sessions;
    f->free_registry = free_sessions;
    store_fixture_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    return store_fixture_teardown(state);
}

/* ---- history helper ---- */

typedef struct history {
    json_t *messages;
    int64_t total;
    bool has_more;
    int calls;
} history;

static void on_history(json_t *messages, int64_t total, bool has_more, void *data)
{
    history *h = data;
    json_decref(h->messages);
    h->messages = messages;
    h->total = total;
    h->has_more = has_more;
    h->calls++;
}

static history read_history(store_fixture *f, const char *key, int64_t limit)
{
    history h = {0};
    cg_sessions_history(f->registry, key, limit, on_history, &h);
    assert_int_equal(h.calls, 0); /* never inside the call */
    while (h.calls == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    return h;
}

static json_t *user_msg(const char *text)
{
    return json_pack("{s:s, s:s, s:I}", "role", "user", "content", text, "timestamp",
                     (json_int_t)cg_now_ms());
}

static json_t *assistant_msg(const char *text, const char *status, int in, int out)
{
    json_t *m =
        json_pack("{s:s, s:[{s:s, s:s}], s:s, s:I}", "role", "assistant", "content", "type", "text",
                  "text", text, "status", status, "timestamp", (json_int_t)cg_now_ms());
    if (in || out)
        json_object_set_new(m, "usage", json_pack("{s:i, s:i}", "input", in, "output", out));
    return m;
}

static int64_t append(store_fixture *f, const char *key, json_t *msg)
{
    int64_t seq = cg_sessions_append(f->registry, key, msg, store_fixture_on_done, f);
    json_decref(msg);
    return seq;
}

static const char *text_of(const json_t *msg)
{
    const json_t *content = json_object_get(msg, "content");
    if (json_is_string(content)) return json_string_value(content);
    return json_string_value(json_object_get(json_array_get(content, 0), "text"));
}

static int64_t seq_of(const json_t *msg)
{
    return json_integer_value(json_object_get(json_object_get(msg, "__openclaw"), "seq"));
}

/* ---- keys ---- */

static void expect_key(const char *in, const char *def, const char *want)
{
    char out[1024];
    bool ok = cg_session_key_canonical(in, def, out, sizeof out);
    if (!want) {
        assert_false(ok);
        return;
    }
    assert_true(ok);
    assert_string_equal(out, want);
}

static void test_keys(void **state)
{
    (void)state;
    expect_key("main", NULL, "agent:main:main");
    expect_key("MAIN", NULL, "agent:main:main");
    expect_key("  Work  ", NULL, "agent:main:work");
    expect_key("x", "ops", "agent:ops:x");
    expect_key("main", "Ops", "agent:ops:main");
    expect_key("agent:main:main", NULL, "agent:main:main");
    expect_key("Agent:Barsbot:Chat", NULL, "agent:barsbot:chat");
    expect_key("agent:Bars Bot:x", NULL, "agent:bars-bot:x");
    expect_key("agent:main:explicit:run-1", NULL, "agent:main:explicit:run-1");
    expect_key("agent:", NULL, NULL);
    expect_key("agent:main", NULL, NULL);
    expect_key("agent:main:", NULL, NULL);
    expect_key("agent::x", NULL, NULL);
    expect_key("agent:main::x", NULL, NULL);
    expect_key("agent:!!!:x", NULL, NULL);
    expect_key("", NULL, NULL);
    expect_key("   ", NULL, NULL);
    expect_key("a\nb", NULL, NULL);
    char long_key[CG_SESSION_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = 0;
    expect_key(long_key, NULL, NULL);
    long_key[CG_SESSION_KEY_MAX] = 0;
    char out[1024];
    assert_true(cg_session_key_canonical(long_key, NULL, out, sizeof out));
    assert_false(cg_session_key_canonical("x", NULL, out, 8)); /* out too small */

    assert_true(cg_session_key_is_main("agent:main:main"));
    assert_true(cg_session_key_is_main("agent:ops:main"));
    assert_false(cg_session_key_is_main("agent:main:mainly"));
    char agent[CG_AGENT_ID_MAX + 1];
    assert_true(cg_session_key_agent("agent:ops:x:y", agent, sizeof agent));
    assert_string_equal(agent, "ops");

    char id[CG_AGENT_ID_MAX + 1];
    assert_true(cg_agent_id_normalize("Barsbot", id, sizeof id));
    assert_string_equal(id, "barsbot");
    assert_true(cg_agent_id_normalize("  My Bot! 2 ", id, sizeof id));
    assert_string_equal(id, "my-bot-2");
    assert_true(cg_agent_id_normalize("-x-", id, sizeof id));
    assert_string_equal(id, "x");
    assert_false(cg_agent_id_normalize("!!!", id, sizeof id));
    assert_false(cg_agent_id_normalize("", id, sizeof id));
    char big[100];
    memset(big, 'a', 99);
    big[99] = 0;
    assert_true(cg_agent_id_normalize(big, id, sizeof id));
    assert_int_equal(strlen(id), CG_AGENT_ID_MAX);
}

static void test_message_text(void **state)
{
    (void)state;
    json_t *m = user_msg("  hello  ");
    char *t = cg_sessions_message_text(m, 240);
    assert_string_equal(t, "hello");
    free(t);
    json_decref(m);
    m = json_pack("{s:s, s:[{s:s, s:s}, {s:s}, {s:s, s:s}]}", "role", "user", "content", "type",
                  "text", "text", "a", "type", "image", "type", "text", "text", "b");
    t = cg_sessions_message_text(m, 240);
    assert_string_equal(t, "a\nb");
    free(t);
    json_decref(m);
    /* Cut by code points, ending in "...". */
    m = user_msg("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"); /* 6 x é */
    t = cg_sessions_message_text(m, 5);
    assert_string_equal(t, "\xc3\xa9\xc3\xa9...");
    free(t);
    t = cg_sessions_message_text(m, 6);
    assert_string_equal(t, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    free(t);
    json_decref(m);
    m = json_pack("{s:s, s:s}", "role", "system", "content", "x");
    assert_null(cg_sessions_message_text(m, 240));
    json_decref(m);
}

/* ---- transcripts ---- */

static void test_append_replace_history(void **state)
{
    store_fixture *f = *state;
    cg_sessions *s = f->registry;
    const cg_session *sess = cg_sessions_ensure(s, "main", NULL, 1000);
    assert_non_null(sess);
    assert_string_equal(sess->key, "agent:main:main");
    assert_string_equal(sess->agent_id, "main");
    assert_int_equal(strlen(sess->session_id), 36);
    assert_ptr_equal(cg_sessions_ensure(s, "agent:main:main", NULL, 2000), sess);
    assert_ptr_equal(cg_sessions_find(s, "MAIN"), sess);

    assert_int_equal(append(f, "agent:main:main", user_msg("hi there")), 1);
    /* Read-your-writes: not waiting for the commit. */
    history h = read_history(f, "agent:main:main", 10);
    assert_int_equal(json_array_size(h.messages), 1);
    assert_string_equal(text_of(json_array_get(h.messages, 0)), "hi there");
    json_decref(h.messages);

    int64_t seq = append(f, "agent:main:main", assistant_msg("", "running", 0, 0));
    assert_int_equal(seq, 2);
    sess = cg_sessions_find(s, "main");
    assert_true(sess->running);
    json_t *final = assistant_msg("hello!", "complete", 12, 5);
    assert_int_equal(cg_sessions_replace(s, "main", seq, final, store_fixture_on_done, f), 0);
    json_decref(final);
    assert_false(sess->running);
    assert_int_equal(sess->message_count, 2);
    assert_int_equal(sess->input_tokens, 12);
    assert_int_equal(sess->output_tokens, 5);
    assert_string_equal(sess->last_preview, "hello!");
    assert_int_equal(append(f, "main", user_msg("third")), 3);
    store_fixture_wait(f, 4);
    assert_int_equal(f->last_status, 0);

    h = read_history(f, "main", 2);
    assert_int_equal(h.total, 3);
    assert_true(h.has_more);
    assert_int_equal(json_array_size(h.messages), 2);
    assert_string_equal(text_of(json_array_get(h.messages, 0)), "hello!");
    assert_int_equal(seq_of(json_array_get(h.messages, 0)), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h.messages, 0), "status")),
                        "complete");
    assert_string_equal(text_of(json_array_get(h.messages, 1)), "third");
    json_decref(h.messages);
    h = read_history(f, "main", 100);
    assert_false(h.has_more);
    assert_int_equal(json_array_size(h.messages), 3);
    json_decref(h.messages);

    /* Unknown session: [] later, not now. */
    h = read_history(f, "agent:main:nothing", 10);
    assert_int_equal(json_array_size(h.messages), 0);
    assert_int_equal(h.total, 0);
    json_decref(h.messages);

    /* Survives a reopen, index included. */
    store_fixture_reopen(f);
    s = f->registry;
    sess = cg_sessions_find(s, "main");
    assert_non_null(sess);
    assert_int_equal(sess->message_count, 3);
    assert_int_equal(sess->input_tokens, 12);
    assert_string_equal(sess->last_preview, "third");
    assert_int_equal(append(f, "main", user_msg("fourth")), 4);
    h = read_history(f, "main", 10);
    assert_int_equal(json_array_size(h.messages), 4);
    json_decref(h.messages);
}

static void test_caps(void **state)
{
    store_fixture *f = *state;
    cg_sessions *s = f->registry;
    assert_int_equal(append(f, "agent:main:none", user_msg("x")), -1);
    assert_non_null(strstr(cg_sessions_error(s), "unknown session"));
    assert_null(cg_sessions_ensure(s, "agent::bad", NULL, 1));
    assert_non_null(cg_sessions_ensure(s, "caps", NULL, 1));
    assert_int_equal(append(f, "caps", json_pack("{s:s}", "content", "no role")), -1);
    assert_non_null(strstr(cg_sessions_error(s), "role"));
    assert_int_equal(append(f, "caps", json_string("not an object")), -1);
    char *big = cg_xmalloc(CG_SESSIONS_MAX_MESSAGE_BYTES + 1);
    memset(big, 'b', CG_SESSIONS_MAX_MESSAGE_BYTES);
    big[CG_SESSIONS_MAX_MESSAGE_BYTES] = 0;
    assert_int_equal(append(f, "caps", user_msg(big)), -1);
    free(big);
    assert_non_null(strstr(cg_sessions_error(s), "too large"));
    json_t *m = user_msg("x");
    assert_int_equal(cg_sessions_replace(s, "caps", 1, m, NULL, NULL), -1);
    json_decref(m);

    /* The transcript holds CG_SESSIONS_MAX_MESSAGES at most. */
    json_t *small = user_msg("m");
    for (int i = 0; i < CG_SESSIONS_MAX_MESSAGES; i++)
        assert_int_equal(cg_sessions_append(s, "caps", small, NULL, NULL), i + 1);
    assert_int_equal(cg_sessions_append(s, "caps", small, NULL, NULL), -1);
    assert_non_null(strstr(cg_sessions_error(s), "full"));
    json_decref(small);
    store_fixture_settle(f);
    /* Compact makes room again. */
    assert_int_equal(cg_sessions_compact(s, "caps", 10, 2, store_fixture_on_done, f), 10);
    history h = read_history(f, "caps", 100);
    assert_int_equal(h.total, 10);
    assert_int_equal(json_array_size(h.messages), 10);
    assert_int_equal(seq_of(json_array_get(h.messages, 0)), CG_SESSIONS_MAX_MESSAGES - 9);
    json_decref(h.messages);
    json_t *more = user_msg("again");
    assert_int_equal(cg_sessions_append(s, "caps", more, NULL, NULL), CG_SESSIONS_MAX_MESSAGES + 1);
    json_decref(more);
    /* Nothing to compact: no write. */
    assert_int_equal(cg_sessions_compact(s, "caps", 50, 3, NULL, NULL), 11);
}

/* Rows of a table as seen by a fresh read of the store. */
typedef struct count_query {
    const char *sql;
    int64_t value;
} count_query;

static int run_count(sqlite3 *db, void *data, char *err, size_t errlen)
{
    count_query *q = data;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, q->sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(db));
        return -1;
    }
    q->value = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return 0;
}

static int64_t count(store_fixture *f, const char *sql)
{
    char err[256];
    count_query q = {.sql = sql};
    assert_int_equal(cg_store_read(f->store, run_count, &q, err, sizeof err), 0);
    return q.value;
}

static void test_crash_recovery(void **state)
{
    store_fixture *f = *state;
    cg_sessions *s = f->registry;
    assert_non_null(cg_sessions_ensure(s, "work", NULL, 1));
    append(f, "work", user_msg("question"));
    int64_t seq = append(f, "work", assistant_msg("partial", "running", 0, 0));
    store_fixture_wait(f, 2);
    /* Live in this process: reported as running. */
    history h = read_history(f, "work", 10);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h.messages, 1), "status")),
                        "running");
    json_decref(h.messages);

    /* "Crash": the run never finishes; a restart loads what is stored. */
    store_fixture_reopen(f);
    s = f->registry;
    const cg_session *sess = cg_sessions_find(s, "work");
    assert_false(sess->running);
    h = read_history(f, "work", 10);
    json_t *m = json_array_get(h.messages, 1);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "interrupted");
    assert_string_equal(text_of(m), "partial");
    json_decref(h.messages);
    store_fixture_settle(f);
    assert_int_equal(count(f, "SELECT count(*) FROM transcript_messages WHERE status = 'running'"),
                     0);
    assert_int_equal(
        count(f, "SELECT count(*) FROM transcript_messages WHERE status = 'interrupted' AND "
                 "body LIKE '%\"status\":\"interrupted\"%'"),
        1);
    /* The session goes on. */
    assert_int_equal(append(f, "work", user_msg("next")), seq + 1);
    store_fixture_settle(f);
}

static void test_reset_delete_patch(void **state)
{
    store_fixture *f = *state;
    cg_sessions *s = f->registry;
    const cg_session *main_s = cg_sessions_ensure(s, "main", NULL, 1);
    char main_id[64];
    snprintf(main_id, sizeof main_id, "%s", main_s->session_id);
    append(f, "main", user_msg("one"));
    const cg_session *other = cg_sessions_ensure(s, "other", NULL, 1);
    char other_id[64];
    snprintf(other_id, sizeof other_id, "%s", other->session_id);
    append(f, "other", user_msg("two"));
    int64_t gen = other->generation;

    assert_int_equal(cg_sessions_reset(s, "main", 5, store_fixture_on_done, f), 0);
    assert_int_equal(cg_sessions_reset(s, "other", 5, store_fixture_on_done, f), 0);
    main_s = cg_sessions_find(s, "main");
    other = cg_sessions_find(s, "other");
    assert_string_equal(main_s->session_id, main_id);
    assert_string_not_equal(other->session_id, other_id);
    assert_int_not_equal(other->generation, gen);
    assert_int_equal(main_s->message_count, 0);
    assert_null(main_s->last_preview);
    history h = read_history(f, "main", 10);
    assert_int_equal(json_array_size(h.messages), 0);
    json_decref(h.messages);
    assert_int_equal(append(f, "main", user_msg("fresh")), 1);
    store_fixture_settle(f);
    /* The old transcripts are archived, their rows kept under the old session ids. */
    assert_int_equal(count(f, "SELECT count(*) FROM transcripts WHERE archived_at_ms IS NOT NULL "
                              "AND archive_reason = 'reset'"),
                     2);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM transcript_messages m JOIN transcripts t USING(transcript_id) "
             "WHERE t.session_id = '%s' AND t.archived_at_ms IS NOT NULL",
             other_id);
    assert_int_equal(count(f, sql), 1);

    json_t *changes =
        json_pack("{s:s, s:s, s:n}", "label", "My chat", "thinkingLevel", "high", "model", NULL);
    assert_int_equal(cg_sessions_patch_meta(s, "other", changes, 9, store_fixture_on_done, f), 0);
    json_decref(changes);
    assert_int_equal(cg_sessions_delete(s, "main", 10, NULL, NULL), 0);
    assert_null(cg_sessions_find(s, "main"));
    assert_int_equal(cg_sessions_delete(s, "main", 10, NULL, NULL), -1);

    store_fixture_reopen(f);
    s = f->registry;
    assert_null(cg_sessions_find(s, "main"));
    other = cg_sessions_find(s, "other");
    assert_non_null(other);
    assert_string_equal(json_string_value(json_object_get(other->meta, "label")), "My chat");
    assert_string_equal(json_string_value(json_object_get(other->meta, "thinkingLevel")), "high");
    assert_int_equal(cg_sessions_count(s), 1);
    assert_non_null(cg_sessions_find_by_id(s, other->session_id));
    assert_int_equal(count(f, "SELECT count(*) FROM transcripts WHERE archive_reason = 'delete'"),
                     1);
}

typedef struct heard {
    int created, messages;
    int64_t last_seq;
    char last_key[128];
} heard;

static void listener(const cg_session *sess, cg_sessions_event ev, int64_t seq,
                     const json_t *message, void *data)
{
    heard *h = data;
    snprintf(h->last_key, sizeof h->last_key, "%s", sess->key);
    if (ev == CG_SESSIONS_CREATED) h->created++;
    if (ev == CG_SESSIONS_MESSAGE) {
        assert_non_null(message);
        h->messages++;
        h->last_seq = seq;
    }
}

static void test_listener_and_sorting(void **state)
{
    store_fixture *f = *state;
    cg_sessions *s = f->registry;
    heard h = {0};
    cg_sessions_set_listener(s, listener, &h);
    cg_sessions_ensure(s, "a", NULL, 100);
    cg_sessions_ensure(s, "b", NULL, 200);
    assert_int_equal(h.created, 0); /* after the commit, not inside the call */
    append(f, "a", user_msg("x"));
    store_fixture_wait(f, 1);
    assert_int_equal(h.created, 2);
    assert_int_equal(h.messages, 1);
    assert_int_equal(h.last_seq, 1);
    assert_string_equal(h.last_key, "agent:main:a");
    size_t n;
    const cg_session **sorted = cg_sessions_sorted(s, &n);
    assert_int_equal(n, 2);
    assert_string_equal(sorted[0]->key, "agent:main:a"); /* updated last */
    free(sorted);
    cg_sessions_set_listener(s, NULL, NULL);
}

static void test_stop(void **state)
{
    store_fixture *f = *state;
    cg_sessions *s = f->registry;
    cg_sessions_ensure(s, "x", NULL, 1);
    append(f, "x", user_msg("x"));
    cg_sessions_stop(s);
    assert_int_equal(append(f, "x", user_msg("y")), -1);
    assert_string_equal(cg_sessions_error(s), "gateway shutting down");
    history h = read_history(f, "x", 10);
    assert_int_equal(json_array_size(h.messages), 0);
    json_decref(h.messages);
    store_fixture_settle(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_message_text),
        cmocka_unit_test_setup_teardown(test_append_replace_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_delete_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_and_sorting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
