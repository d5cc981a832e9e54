/* Unit tests for the device registry (auth/devices.c) over a real state store, and the
 * connect credential order (proto/handshake.c cg_connect_authenticate): silent
 * approval and one token per role, token checks, pairing requests (reuse, widening,
 * expiry), approval with the approver's scope check, rotation, revocation, removal,
 * and that all of it is committed before `done` and survives a reopen. */
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/devices.h"
#include "proto/handshake.h"

typedef store_fixture fixture;

static void *open_devices(cg_store *st, char *err, size_t errlen)
{
    return cg_devices_open(st, err, errlen);
}

static void free_devices(void *registry)
{
    cg_devices_free(registry);
}

static int setup(void **state)
{
    return store_fixture_setup(state, open_devices, free_devices);
}

static int teardown(void **state)
{
    return store_fixture_teardown(state);
}

static const char *const ID_A = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *const ID_B = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static cg_device_claim claim_for(const char *id, cg_device_role role, json_t *scopes,
                                 json_t *client)
{
    return (cg_device_claim){.device_id = id,
                             .public_key = "pk-of-device",
                             .role = role,
                             .scopes = scopes,
                             .client = client,
                             .remote_ip = "10.0.0.5"};
}

static void test_silent_approval_one_token_survives_reopen(void **state)
{
    fixture *f = *state;
    json_t *scopes = json_pack("[s, s]", "operator.read", "operator.write");
    json_t *client = json_pack("{s:s, s:s, s:s}", "id", "cli", "mode", "cli", "platform", "linux");
    cg_device_claim claim = claim_for(ID_A, CG_DEVICE_ROLE_OPERATOR, scopes, client);
    cg_device *dev = cg_devices_approve_silent(f->registry, &claim, 1000, store_fixture_on_done, f);
    char token[CG_DEVICE_TOKEN_SIZE];
    snprintf(token, sizeof token, "%s", dev->tokens[CG_DEVICE_ROLE_OPERATOR].token);
    assert_int_equal(strlen(token), 43);
    store_fixture_wait(f, 1);
    assert_int_equal(f->last_status, 0);
    assert_true(cg_device_approved(dev, CG_DEVICE_ROLE_OPERATOR, scopes));
    assert_false(cg_device_approved(dev, CG_DEVICE_ROLE_NODE, scopes));
    /* An approved device with its token: nothing to write. */
    assert_false(cg_devices_ensure_token(f->registry, dev, CG_DEVICE_ROLE_OPERATOR, 2000,
                                         store_fixture_on_done, f));
    assert_non_null(cg_device_token_check(dev, CG_DEVICE_ROLE_OPERATOR, token));
    assert_null(cg_device_token_check(dev, CG_DEVICE_ROLE_OPERATOR, "wrong"));
    assert_null(cg_device_token_check(dev, CG_DEVICE_ROLE_NODE, token));

    store_fixture_reopen(f);
    dev = cg_devices_find(f->registry, ID_A);
    assert_non_null(dev);
    assert_string_equal(dev->public_key, "pk-of-device");
    assert_non_null(cg_device_token_check(dev, CG_DEVICE_ROLE_OPERATOR, token));
    assert_string_equal(json_string_value(json_object_get(dev->meta, "approvedVia")), "silent");
    json_decref(scopes);
    json_decref(client);
}

static void test_scopes_within(void **state)
{
    json_t *admin = json_pack("[s]", "operator.admin"), *write = json_pack("[s]", "operator.write"),
           *read = json_pack("[s]", "operator.read"),
           *pairing = json_pack("[s, s]", "operator.read", "operator.pairing");
    assert_true(cg_scopes_within(pairing, admin));
    assert_true(cg_scopes_within(read, write));
    assert_false(cg_scopes_within(write, read));
    assert_string_equal(cg_scopes_missing(pairing, write), "operator.pairing");
    assert_null(cg_scopes_missing(read, read));
    json_decref(admin);
    json_decref(write);
    json_decref(read);
    json_decref(pairing);
}

static void test_requests_reuse_widen_approve(void **state)
{
    fixture *f = *state;
    json_t *read = json_pack("[s]", "operator.read");
    json_t *admin = json_pack("[s, s]", "operator.read", "operator.admin");
    json_t *client = json_pack("{s:s, s:s}", "id", "cli", "mode", "cli");
    cg_device_claim claim = claim_for(ID_B, CG_DEVICE_ROLE_OPERATOR, read, client);
    bool created;
    cg_device_request *r =
        cg_devices_request_pairing(f->registry, &claim, 1000, &created, store_fixture_on_done, f);
    assert_true(created);
    char request_id[37];
    snprintf(request_id, sizeof request_id, "%s", r->request_id);
    store_fixture_wait(f, 1);
    /* The same claim again: the open request, nothing written. */
    r = cg_devices_request_pairing(f->registry, &claim, 2000, &created, store_fixture_on_done, f);
    assert_false(created);
    assert_string_equal(r->request_id, request_id);
    /* Asking more widens it. */
    claim.scopes = admin;
    r = cg_devices_request_pairing(f->registry, &claim, 3000, &created, store_fixture_on_done, f);
    assert_true(created);
    assert_int_equal(json_array_size(json_object_get(r->entry, "scopes")), 2);
    store_fixture_wait(f, 2);

    /* An approver without operator.admin cannot grant it. */
    cg_device_approval out;
    char err[128];
    json_t *pairing = json_pack("[s, s]", "operator.pairing", "operator.write");
    const char *refused = cg_devices_approve(f->registry, request_id, pairing, 4000, &out, err,
                                             sizeof err, store_fixture_on_done, f);
    assert_non_null(refused);
    assert_string_equal(refused, "missing scope: operator.admin");
    assert_null(cg_devices_find(f->registry, ID_B));
    refused = cg_devices_approve(f->registry, request_id, admin, 4000, &out, err, sizeof err,
                                 store_fixture_on_done, f);
    assert_null(refused);
    store_fixture_wait(f, 3);
    assert_int_equal(f->last_status, 0);
    assert_true(cg_device_approved(out.device, CG_DEVICE_ROLE_OPERATOR, admin));
    assert_true(out.device->tokens[CG_DEVICE_ROLE_OPERATOR].present);
    /* The request is gone. */
    assert_string_equal(cg_devices_approve(f->registry, request_id, admin, 5000, &out, err,
                                           sizeof err, store_fixture_on_done, f),
                        "unknown requestId");
    json_decref(read);
    json_decref(admin);
    json_decref(client);
    json_decref(pairing);
}

static void test_requests_expire(void **state)
{
    fixture *f = *state;
    json_t *read = json_pack("[s]", "operator.read"), *client = json_object();
    cg_device_claim claim = claim_for(ID_A, CG_DEVICE_ROLE_NODE, read, client);
    bool created;
    cg_device_request *r =
        cg_devices_request_pairing(f->registry, &claim, 1000, &created, NULL, NULL);
    char request_id[37];
    snprintf(request_id, sizeof request_id, "%s", r->request_id);
    assert_non_null(cg_devices_request(f->registry, request_id, 1000 + CG_DEVICE_PENDING_TTL_MS));
    assert_null(cg_devices_request(f->registry, request_id, 1001 + CG_DEVICE_PENDING_TTL_MS));
    json_decref(read);
    json_decref(client);
}

static void test_rotate_revoke_remove(void **state)
{
    fixture *f = *state;
    json_t *read = json_pack("[s]", "operator.read"), *client = json_object();
    json_t *admin = json_pack("[s]", "operator.admin"), *none = json_array();
    cg_device_claim claim = claim_for(ID_A, CG_DEVICE_ROLE_OPERATOR, read, client);
    cg_device *dev = cg_devices_approve_silent(f->registry, &claim, 1000, store_fixture_on_done, f);
    char old[CG_DEVICE_TOKEN_SIZE];
    snprintf(old, sizeof old, "%s", dev->tokens[CG_DEVICE_ROLE_OPERATOR].token);
    char err[128];
    /* Beyond the approval, or beyond the caller: refused. */
    assert_non_null(cg_devices_rotate(f->registry, ID_A, CG_DEVICE_ROLE_OPERATOR, admin, admin,
                                      2000, err, sizeof err, store_fixture_on_done, f));
    assert_non_null(cg_devices_rotate(f->registry, ID_A, CG_DEVICE_ROLE_OPERATOR, NULL, none, 2000,
                                      err, sizeof err, store_fixture_on_done, f));
    assert_non_null(cg_devices_rotate(f->registry, ID_A, CG_DEVICE_ROLE_NODE, NULL, NULL, 2000, err,
                                      sizeof err, store_fixture_on_done, f));
    /* A caller must hold what the token carries now, not only what it asks for. */
    json_t *pairing = json_pack("[s]", "operator.pairing");
    json_t *nothing = json_array();
    assert_non_null(cg_devices_rotate(f->registry, ID_A, CG_DEVICE_ROLE_OPERATOR, nothing, pairing,
                                      2000, err, sizeof err, store_fixture_on_done, f));
    json_decref(pairing);
    json_decref(nothing);
    assert_null(cg_devices_rotate(f->registry, ID_A, CG_DEVICE_ROLE_OPERATOR, NULL, admin, 2000,
                                  err, sizeof err, store_fixture_on_done, f));
    const cg_device_token *t = &dev->tokens[CG_DEVICE_ROLE_OPERATOR];
    assert_string_not_equal(t->token, old);
    assert_int_equal(t->rotated_at_ms, 2000);
    assert_null(cg_device_token_check(dev, CG_DEVICE_ROLE_OPERATOR, old));
    char current[CG_DEVICE_TOKEN_SIZE];
    snprintf(current, sizeof current, "%s", t->token);
    assert_null(cg_devices_revoke(f->registry, ID_A, CG_DEVICE_ROLE_OPERATOR, admin, 3000, err,
                                  sizeof err, store_fixture_on_done, f));
    assert_null(cg_device_token_check(dev, CG_DEVICE_ROLE_OPERATOR, current));
    /* A revoked token is replaced on the next approved connect. */
    assert_true(cg_devices_ensure_token(f->registry, dev, CG_DEVICE_ROLE_OPERATOR, 4000,
                                        store_fixture_on_done, f));
    store_fixture_wait(f, 4);
    assert_null(cg_devices_remove(f->registry, ID_A, store_fixture_on_done, f));
    assert_null(cg_devices_find(f->registry, ID_A));
    assert_string_equal(cg_devices_remove(f->registry, ID_A, store_fixture_on_done, f),
                        "unknown deviceId");
    store_fixture_wait(f, 5);
    store_fixture_reopen(f);
    assert_null(cg_devices_find(f->registry, ID_A));
    json_decref(read);
    json_decref(client);
    json_decref(admin);
    json_decref(none);
}

/* ---- the credential order ---- */

static cg_settings token_settings(void)
{
    cg_settings s = {0};
    s.auth_mode = CG_AUTH_TOKEN;
    s.token = "shared";
    s.local_bypass = true;
    return s;
}

static cg_credential authenticate(const char *params_json, const char **device_token,
                                  const char **error_code)
{
    cg_settings s = token_settings();
    cg_http_facts facts = {.peer_ip = "10.0.0.1", .host = "gw.example"};
    json_t *params = json_loads(params_json, 0, NULL);
    assert_non_null(params);
    cg_credential kind;
    bool mismatch;
    static char code[64];
    json_t *e = cg_connect_authenticate(&facts, params, &s, &kind, device_token, &mismatch);
    *error_code = NULL;
    if (e) {
        snprintf(code, sizeof code, "%s",
                 json_string_value(json_object_get(json_object_get(e, "details"), "code")));
        *error_code = code;
        json_decref(e);
    }
    static char token[64];
    if (*device_token) {
        snprintf(token, sizeof token, "%s", *device_token);
        *device_token = token;
    }
    json_decref(params);
    return kind;
}

static void test_credential_order(void **state)
{
    const char *tok, *code;
    assert_int_equal(authenticate("{\"auth\":{\"token\":\"shared\"},\"device\":{}}", &tok, &code),
                     CG_CRED_SHARED);
    assert_null(code);
    /* Not the shared token, with a device: that device's token. */
    assert_int_equal(authenticate("{\"auth\":{\"token\":\"dt\"},\"device\":{}}", &tok, &code),
                     CG_CRED_DEVICE_TOKEN);
    assert_string_equal(tok, "dt");
    /* auth.deviceToken is always a device token. */
    assert_int_equal(
        authenticate("{\"auth\":{\"deviceToken\":\"dt2\"},\"device\":{}}", &tok, &code),
        CG_CRED_DEVICE_TOKEN);
    assert_string_equal(tok, "dt2");
    /* A wrong shared token beside a device token is refused (and counted), never
     * passed over for the device token. */
    authenticate("{\"auth\":{\"token\":\"guess\",\"deviceToken\":\"dt\"},\"device\":{}}", &tok,
                 &code);
    assert_string_equal(code, "AUTH_TOKEN_MISMATCH");
    /* Without a device: a wrong token is a mismatch; none at all is missing. */
    authenticate("{\"auth\":{\"token\":\"x\"}}", &tok, &code);
    assert_string_equal(code, "AUTH_TOKEN_MISMATCH");
    authenticate("{\"auth\":{\"deviceToken\":\"dt\"}}", &tok, &code);
    assert_string_equal(code, "AUTH_TOKEN_MISSING");
    authenticate("{}", &tok, &code);
    assert_string_equal(code, "AUTH_TOKEN_MISSING");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_silent_approval_one_token_survives_reopen, setup,
                                        teardown),
        cmocka_unit_test(test_scopes_within),
        cmocka_unit_test_setup_teardown(test_requests_reuse_widen_approve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requests_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_revoke_remove, setup, teardown),
        cmocka_unit_test(test_credential_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
