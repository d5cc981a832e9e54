/* Unit tests for the node registry (nodes/registry.c) over a real state store: surface
 * requests at connect (first, same, narrower, wider, superseded), the effective surface
 * and cg_nodes_command_allowed, approval scopes, approve / reject / remove / rename, the
 * seed's request and verify, the caps on what clients can grow (surfaces, strings,
 * pending requests, records, skills, plugin tools), reports of live connections only,
 * and that everything acknowledged survives a reopen (and a corrupt row is skipped). */
#include "store_fixture.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodes/registry.h"

typedef store_fixture fixture;

static void *open_nodes(cg_store *st, char *err, size_t errlen)
{
    return cg_nodes_open(st, err, errlen);
}

static void free_nodes(void *registry)
{
    cg_nodes_free(registry);
}

static int setup(void **state)
{
    return store_fixture_setup(state, open_nodes, free_nodes);
}

static int teardown(void **state)
{
    return store_fixture_teardown(state);
}

/* A node-host declaration with these commands (a JSON array text). */
static json_t *decl(const char *commands)
{
    json_t *d =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "clientId", "node-host", "clientMode", "node",
                  "displayName", "box", "platform", "linux", "version", "1.0", "caps", "system");
    json_object_set_new(d, "commands", json_loads(commands, 0, NULL));
    return d;
}

/* Attaches node_id on conn_id with `commands`; returns the events (new ref). */
static json_t *attach(fixture *f, const char *node_id, const char *conn_id, const char *commands)
{
    json_t *d = decl(commands), *events = json_array();
    assert_int_equal(
        cg_nodes_attach(f->registry, node_id, conn_id, "127.0.0.1", d, true, 1000, events),
        CG_NODES_OK);
    json_decref(d);
    return events;
}

static const json_t *event_named(const json_t *events, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(events, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "event")), name) == 0)
            return json_object_get(e, "payload");
    }
    return NULL;
}

static const char *str(const json_t *v, const char *key)
{
    return json_string_value(json_object_get(v, key));
}

/* Approves the node's pending request; returns its id (static buffer). */
static const char *approve_pending(fixture *f, const char *node_id)
{
    static char id[64];
    store_fixture_settle(f);
    snprintf(id, sizeof id, "%s", cg_nodes_pending_request(f->registry, node_id));
    json_t *result = NULL, *events = json_array();
    int before = f->done_count;
    assert_int_equal(
        cg_nodes_approve(f->registry, id, 2000, &result, events, store_fixture_on_done, f),
        CG_NODES_OK);
    assert_string_equal(str(event_named(events, "node.pair.resolved"), "decision"), "approved");
    json_decref(result);
    json_decref(events);
    store_fixture_settle(f);
    assert_int_equal(f->done_count, before + 1);
    assert_int_equal(f->last_status, 0);
    return id;
}

static int64_t never_paired(const char *node_id, void *data)
{
    return 0;
}

static void test_first_connect_waits_for_approval(void **state)
{
    fixture *f = *state;
    json_t *events = attach(f, "n1", "c1", "[\"system.run\", \"camera.list\"]");
    const json_t *req = event_named(events, "node.pair.requested");
    assert_non_null(req);
    assert_string_equal(str(req, "nodeId"), "n1");
    assert_true(json_is_true(json_object_get(req, "silent")));
    assert_null(json_object_get(req, "remoteIp"));
    json_t *scopes = json_object_get(req, "requiredApproveScopes");
    assert_int_equal(json_array_size(scopes), 2);
    assert_string_equal(json_string_value(json_array_get(scopes, 1)), "operator.admin");
    json_t *asked = cg_nodes_approval_scopes(f->registry, str(req, "requestId"));
    assert_true(json_equal(asked, scopes));
    json_decref(asked);
    assert_string_equal(cg_nodes_request_node(f->registry, str(req, "requestId")), "n1");
    json_decref(events);

    assert_false(cg_nodes_command_allowed(f->registry, "n1", "system.run"));
    assert_false(cg_nodes_surface_approved(f->registry, "n1"));
    assert_string_equal(cg_nodes_live_conn(f->registry, "n1"), "c1");

    approve_pending(f, "n1");
    assert_true(cg_nodes_command_allowed(f->registry, "n1", "system.run"));
    assert_true(cg_nodes_command_allowed(f->registry, "n1", "camera.list"));
    assert_false(cg_nodes_command_allowed(f->registry, "n1", "camera.snap"));
    assert_null(cg_nodes_pending_request(f->registry, "n1"));

    /* Only the live connection's close counts. */
    cg_nodes_detach(f->registry, "n1", "other", 3000);
    assert_true(cg_nodes_command_allowed(f->registry, "n1", "system.run"));
    cg_nodes_detach(f->registry, "n1", "c1", 3000);
    assert_false(cg_nodes_command_allowed(f->registry, "n1", "system.run"));
    assert_null(cg_nodes_live_conn(f->registry, "n1"));
    store_fixture_settle(f);
}

static void test_reconnect_surfaces(void **state)
{
    fixture *f = *state;
    json_decref(attach(f, "n2", "c1", "[\"a\", \"b\"]"));
    approve_pending(f, "n2");

    /* Same set, other order: nothing to ask. */
    json_t *events = attach(f, "n2", "c2", "[\"b\", \"a\"]");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    /* Narrower: nothing to ask, only what is declared is effective. */
    events = attach(f, "n2", "c3", "[\"a\"]");
    assert_int_equal(json_array_size(events), 0);
    json_decref(events);
    assert_true(cg_nodes_command_allowed(f->registry, "n2", "a"));
    assert_false(cg_nodes_command_allowed(f->registry, "n2", "b"));
    /* Wider: a request, the approved part effective meanwhile. */
    events = attach(f, "n2", "c4", "[\"a\", \"c\"]");
    const json_t *req = event_named(events, "node.pair.requested");
    assert_non_null(req);
    assert_null(json_object_get(req, "silent"));
    char first[64];
    snprintf(first, sizeof first, "%s", str(req, "requestId"));
    json_decref(events);
    assert_true(cg_nodes_command_allowed(f->registry, "n2", "a"));
    assert_false(cg_nodes_command_allowed(f->registry, "n2", "c"));
    /* The same wider surface reuses the request; another supersedes it. */
    events = attach(f, "n2", "c5", "[\"c\", \"a\"]");
    assert_null(event_named(events, "node.pair.requested"));
    assert_string_equal(cg_nodes_pending_request(f->registry, "n2"), first);
    json_decref(events);
    events = attach(f, "n2", "c6", "[\"a\", \"d\"]");
    const json_t *gone = event_named(events, "node.pair.resolved");
    assert_string_equal(str(gone, "requestId"), first);
    assert_string_equal(str(gone, "decision"), "rejected");
    assert_non_null(event_named(events, "node.pair.requested"));
    json_decref(events);
    /* Back within the approval: the stale request is cleared. */
    events = attach(f, "n2", "c7", "[\"b\"]");
    assert_string_equal(str(event_named(events, "node.pair.resolved"), "decision"), "rejected");
    assert_null(cg_nodes_pending_request(f->registry, "n2"));
    json_decref(events);
    store_fixture_settle(f);
}

static void test_permissions(void **state)
{
    fixture *f = *state;
    json_t *d = decl("[]"), *events = json_array();
    json_object_set_new(d, "permissions", json_pack("{s:b, s:b}", "screen", 1, "camera", 0));
    cg_nodes_attach(f->registry, "n3", "c1", "10.1.2.3", d, false, 1000, events);
    const json_t *req = event_named(events, "node.pair.requested");
    assert_string_equal(str(req, "remoteIp"), "10.1.2.3");
    assert_null(json_object_get(req, "silent"));
    assert_true(json_is_true(json_object_get(json_object_get(req, "permissions"), "screen")));
    json_decref(events);
    approve_pending(f, "n3");
    /* A permission declared true that was not approved true widens the surface. */
    events = json_array();
    json_object_set_new(d, "permissions", json_pack("{s:b}", "camera", 1));
    cg_nodes_attach(f->registry, "n3", "c2", "10.1.2.3", d, false, 1000, events);
    assert_non_null(event_named(events, "node.pair.requested"));
    json_decref(events);
    /* Declaring one false is never a widening. */
    events = json_array();
    json_object_set_new(d, "permissions", json_pack("{s:b, s:b}", "camera", 0, "screen", 1));
    cg_nodes_attach(f->registry, "n3", "c3", "10.1.2.3", d, false, 1000, events);
    assert_null(event_named(events, "node.pair.requested"));
    json_decref(events);
    json_decref(d);
    store_fixture_settle(f);
}

static void test_reject_remove_rename(void **state)
{
    fixture *f = *state;
    json_decref(attach(f, "n4", "c1", "[\"x\"]"));
    char id[64];
    snprintf(id, sizeof id, "%s", cg_nodes_pending_request(f->registry, "n4"));
    json_t *result = NULL, *events = json_array();
    assert_int_equal(
        cg_nodes_reject(f->registry, "nope", 1, &result, events, store_fixture_on_done, f),
        CG_NODES_UNKNOWN);
    assert_int_equal(cg_nodes_reject(f->registry, id, 1, &result, events, store_fixture_on_done, f),
                     CG_NODES_OK);
    assert_string_equal(str(result, "nodeId"), "n4");
    json_decref(result);
    assert_int_equal(
        cg_nodes_approve(f->registry, id, 1, &result, events, store_fixture_on_done, f),
        CG_NODES_UNKNOWN);
    /* Renaming needs an approved surface. */
    assert_int_equal(cg_nodes_rename(f->registry, "n4", "Box", &result, store_fixture_on_done, f),
                     CG_NODES_UNKNOWN);
    json_decref(attach(f, "n4", "c2", "[\"x\"]"));
    approve_pending(f, "n4");
    assert_int_equal(cg_nodes_rename(f->registry, "n4", "Box", &result, store_fixture_on_done, f),
                     CG_NODES_OK);
    assert_string_equal(str(result, "displayName"), "Box");
    json_decref(result);

    assert_int_equal(
        cg_nodes_remove(f->registry, "n4", 5, &result, events, store_fixture_on_done, f),
        CG_NODES_OK);
    json_decref(result);
    assert_int_equal(
        cg_nodes_remove(f->registry, "n4", 5, &result, events, store_fixture_on_done, f),
        CG_NODES_UNKNOWN);
    const json_t *last =
        json_object_get(json_array_get(events, json_array_size(events) - 1), "payload");
    assert_string_equal(str(last, "decision"), "removed");
    assert_string_equal(str(last, "requestId"), "");
    assert_false(cg_nodes_command_allowed(f->registry, "n4", "x"));
    /* Its connection closing later finds nothing. */
    cg_nodes_detach(f->registry, "n4", "c2", 6);
    json_decref(events);
    store_fixture_settle(f);
    assert_int_equal(f->last_status, 0);
}

static void test_seed_request_and_verify(void **state)
{
    fixture *f = *state;
    json_t *d = json_pack("{s:s, s:[s]}", "nodeId", "seed", "commands", "cam"), *result = NULL,
           *events = json_array();
    assert_int_equal(cg_nodes_request(f->registry, d, 1, &result, events, store_fixture_on_done, f),
                     CG_NODES_OK);
    assert_string_equal(str(result, "status"), "pending");
    assert_true(json_is_true(json_object_get(result, "created")));
    char id[64];
    snprintf(id, sizeof id, "%s", str(result, "requestId"));
    json_decref(result);
    assert_int_equal(cg_nodes_request(f->registry, d, 2, &result, events, store_fixture_on_done, f),
                     CG_NODES_OK);
    assert_string_equal(str(result, "requestId"), id);
    assert_true(json_is_false(json_object_get(result, "created")));
    json_decref(result);
    json_t *v = cg_nodes_verify(f->registry, "seed");
    assert_true(json_is_false(json_object_get(v, "paired")));
    json_decref(v);
    store_fixture_settle(f);
    approve_pending(f, "seed");
    v = cg_nodes_verify(f->registry, "seed");
    assert_true(json_is_true(json_object_get(v, "paired")));
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(v, "approvedCommands"), 0)), "cam");
    json_decref(v);
    assert_int_equal(cg_nodes_request(f->registry, d, 3, &result, events, store_fixture_on_done, f),
                     CG_NODES_OK);
    assert_string_equal(str(result, "status"), "approved");
    assert_string_equal(str(result, "requestId"), id);
    json_decref(result);
    json_decref(d);
    json_decref(events);
    store_fixture_settle(f);
}

static void test_declarations_are_bounded(void **state)
{
    fixture *f = *state;
    json_t *commands = json_array();
    char name[CG_NODES_MAX_STRING + 8];
    for (int i = 0; i < CG_NODES_MAX_SURFACE_ITEMS + 50; i++) {
        snprintf(name, sizeof name, "cmd.%d", i);
        json_array_append_new(commands, json_string(name));
    }
    memset(name, 'x', CG_NODES_MAX_STRING + 1);
    name[CG_NODES_MAX_STRING + 1] = '\0';
    json_array_insert_new(commands, 0, json_string(name));                  /* overlong */
    json_array_insert_new(commands, 0, json_string("  worker.launch.v1 ")); /* private */
    json_array_insert_new(commands, 0, json_string("  spaced  "));
    json_array_insert_new(commands, 0, json_string("spaced"));
    json_array_insert_new(commands, 0, json_integer(7));
    json_t *d = decl("[]"), *events = json_array();
    json_object_set_new(d, "commands", commands);
    json_object_set_new(d, "displayName", json_string(name)); /* overlong: dropped */
    cg_nodes_attach(f->registry, "n5", "c1", "127.0.0.1", d, true, 1, events);
    const json_t *req = event_named(events, "node.pair.requested");
    const json_t *kept = json_object_get(req, "commands");
    assert_int_equal(json_array_size(kept), CG_NODES_MAX_SURFACE_ITEMS);
    assert_string_equal(json_string_value(json_array_get(kept, 0)), "spaced");
    assert_string_equal(json_string_value(json_array_get(kept, 1)), "cmd.0");
    assert_null(json_object_get(req, "displayName"));
    json_decref(d);
    json_decref(events);
    store_fixture_settle(f);
}

static void test_pending_and_records_are_capped(void **state)
{
    fixture *f = *state;
    char id[32];
    json_t *events = json_array(), *result;
    for (int i = 0; i < CG_NODES_MAX_PENDING; i++) {
        snprintf(id, sizeof id, "p%d", i);
        json_t *d = json_pack("{s:s}", "nodeId", id);
        assert_int_equal(cg_nodes_request(f->registry, d, i, &result, events, NULL, NULL),
                         CG_NODES_OK);
        json_decref(result);
        json_decref(d);
    }
    json_t *d = json_pack("{s:s}", "nodeId", "one-too-many");
    assert_int_equal(cg_nodes_request(f->registry, d, 1, &result, events, NULL, NULL),
                     CG_NODES_FULL);
    json_decref(d);
    json_t *v = cg_nodes_verify(f->registry, "one-too-many");
    assert_true(json_is_false(json_object_get(v, "paired")));
    json_decref(v);
    /* A node connecting meanwhile is still attached, without a request. */
    json_decref(events);
    events = attach(f, "late", "c1", "[\"x\"]");
    assert_null(event_named(events, "node.pair.requested"));
    assert_null(cg_nodes_pending_request(f->registry, "late"));
    json_decref(events);
    /* Records: up to CG_NODES_MAX, then a new node is refused. */
    events = json_array();
    json_t *empty = json_object();
    for (int i = CG_NODES_MAX_PENDING + 1; i < CG_NODES_MAX; i++) {
        snprintf(id, sizeof id, "r%d", i);
        assert_int_equal(cg_nodes_attach(f->registry, id, id, "127.0.0.1", empty, false, 1, events),
                         CG_NODES_OK);
    }
    assert_int_equal(
        cg_nodes_attach(f->registry, "full", "c", "127.0.0.1", empty, false, 1, events),
        CG_NODES_FULL);
    /* A known node still attaches. */
    assert_int_equal(cg_nodes_attach(f->registry, "p0", "c", "127.0.0.1", empty, false, 1, events),
                     CG_NODES_OK);
    json_decref(empty);
    json_decref(events);
    store_fixture_settle(f);
}

static void test_reports(void **state)
{
    fixture *f = *state;
    json_decref(attach(f, "n6", "c1", "[\"mcp.tools.call.v1\"]"));
    json_t *stats = json_pack("{s:i}", "cpuCount", 2);
    assert_null(cg_nodes_report(f->registry, "n6", "not-live", CG_NODE_HOST_STATS, stats, 5));
    stats = json_pack("{s:i}", "cpuCount", 2);
    json_t *kept = cg_nodes_report(f->registry, "n6", "c1", CG_NODE_HOST_STATS, stats, 5);
    assert_int_equal(json_integer_value(json_object_get(kept, "updatedAtMs")), 5);
    json_decref(kept);

    /* Skills: deduplicated, sorted, bounded in count and bytes. */
    json_t *skills = json_array();
    char *big = malloc(CG_NODES_MAX_SKILL_BYTES + 1);
    memset(big, 'c', CG_NODES_MAX_SKILL_BYTES);
    big[CG_NODES_MAX_SKILL_BYTES] = '\0';
    char name[32];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "s%02d", 11 - i);
        json_array_append_new(skills, json_pack("{s:s, s:s, s:s}", "name", name, "description",
                                                " d ", "content", big));
    }
    json_array_append_new(
        skills, json_pack("{s:s, s:s, s:s}", "name", "s11", "description", "dup", "content", "x"));
    free(big);
    kept = cg_nodes_report(f->registry, "n6", "c1", CG_NODE_SKILLS, skills, 5);
    assert_int_equal(json_array_size(kept), CG_NODES_MAX_SKILLS_BYTES / CG_NODES_MAX_SKILL_BYTES);
    assert_string_equal(str(json_array_get(kept, 0), "description"), "d");
    assert_true(strcmp(str(json_array_get(kept, 0), "name"), str(json_array_get(kept, 1), "name")) <
                0);
    json_decref(kept);

    /* Plugin tools: shown for effective commands only, at most CG_NODES_MAX_PLUGIN_TOOLS. */
    json_t *tools = json_array();
    for (int i = 0; i < CG_NODES_MAX_PLUGIN_TOOLS + 10; i++) {
        snprintf(name, sizeof name, "t%03d", i);
        json_array_append_new(tools,
                              json_pack("{s:s, s:s, s:s, s:s}", "pluginId", "p", "name", name,
                                        "description", "d", "command", "mcp.tools.call.v1"));
    }
    json_array_append_new(tools, json_pack("{s:s, s:s, s:s, s:s}", "pluginId", "node-mcp", "name",
                                           "bad", "description", "d", "command", "other"));
    kept = cg_nodes_report(f->registry, "n6", "c1", CG_NODE_PLUGIN_TOOLS, tools, 5);
    assert_int_equal(json_array_size(kept), 0);
    json_decref(kept);
    approve_pending(f, "n6");
    json_t *list = cg_nodes_list(f->registry, true, NULL, never_paired, NULL);
    json_t *entry = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) if (strcmp(str(e, "nodeId"), "n6") == 0) entry = e;
    assert_int_equal(json_array_size(json_object_get(entry, "nodePluginTools")),
                     CG_NODES_MAX_PLUGIN_TOOLS);
    assert_int_equal(json_object_get(entry, "hostStats") != NULL, 1);
    json_decref(list);
    store_fixture_settle(f);
}

static void test_survives_reopen(void **state)
{
    fixture *f = *state;
    json_decref(attach(f, "keep", "c1", "[\"a\"]"));
    approve_pending(f, "keep");
    json_t *result;
    assert_int_equal(cg_nodes_rename(f->registry, "keep", "Kept", &result, NULL, NULL),
                     CG_NODES_OK);
    json_decref(result);
    json_decref(attach(f, "wait", "c2", "[\"b\"]"));
    cg_nodes_detach(f->registry, "keep", "c1", 9000);
    json_t *before = cg_nodes_pair_list(f->registry, NULL);

    /* A row nobody can read is skipped, the others load. */
    store_fixture_settle(f);
    char path[128];
    snprintf(path, sizeof path, "%s/state.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO nodes(node_id, body, created_at_ms) VALUES('bad', "
                                  "'not json', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    store_fixture_reopen(f);
    json_t *after = cg_nodes_pair_list(f->registry, NULL);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    assert_true(cg_nodes_surface_approved(f->registry, "keep"));
    assert_non_null(cg_nodes_pending_request(f->registry, "wait"));
    assert_null(cg_nodes_live_conn(f->registry, "keep"));
    json_t *list = cg_nodes_list(f->registry, false, NULL, never_paired, NULL);
    /* Neither connected nor paired by a device, "wait" shows to approvers only. */
    assert_int_equal(json_array_size(list), 1);
    assert_string_equal(str(json_array_get(list, 0), "displayName"), "Kept");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(list, 0), "lastDisconnectedAtMs")), 9000);
    json_decref(list);
    /* Reconnecting with the approved surface asks nothing. */
    json_t *events = attach(f, "keep", "c3", "[\"a\"]");
    assert_int_equal(json_array_size(events), 0);
    assert_true(cg_nodes_command_allowed(f->registry, "keep", "a"));
    json_decref(events);
    store_fixture_settle(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_connect_waits_for_approval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_surfaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reject_remove_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seed_request_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_declarations_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_and_records_are_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
