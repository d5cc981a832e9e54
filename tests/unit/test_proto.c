/* Frames, protocol negotiation and connect-params checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto/frame.h"
#include "proto/handshake.h"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    assert_non_null(v);
    return v;
}

static void test_res_ok_frame_wraps_serialized_payload(void **state)
{
    cg_buf b = {0};
    cg_frame_res_ok(&b, "1:\"x\"", "{\"a\":1}", 7);
    json_t *f = parse(b.data);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "res");
    assert_string_equal(json_string_value(json_object_get(f, "id")), "1:\"x\"");
    assert_true(json_is_true(json_object_get(f, "ok")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f, "payload"), "a")), 1);
    json_decref(f);
    cg_buf_reset(&b);

    cg_frame_res_ok(&b, "2", NULL, 0);
    f = parse(b.data);
    assert_null(json_object_get(f, "payload"));
    json_decref(f);
    cg_buf_reset(&b);
}

static void test_error_frame_and_shape(void **state)
{
    cg_buf b = {0};
    json_t *e = cg_error_coded(CG_ERR_INVALID_REQUEST, "bad", "AUTH_TOKEN_MISMATCH");
    cg_frame_res_error(&b, "7", e);
    json_t *f = parse(b.data);
    assert_true(json_is_false(json_object_get(f, "ok")));
    json_t *err = json_object_get(f, "error");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "INVALID_REQUEST");
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "details"), "code")),
                        "AUTH_TOKEN_MISMATCH");
    json_decref(f);
    json_decref(e);
    cg_buf_reset(&b);
}

static void test_event_frame_seq(void **state)
{
    cg_buf b = {0};
    cg_frame_event(&b, "tick", "{\"ts\":5}", 8, 3, NULL);
    json_t *f = parse(b.data);
    assert_int_equal(json_integer_value(json_object_get(f, "seq")), 3);
    assert_string_equal(json_string_value(json_object_get(f, "event")), "tick");
    assert_null(json_object_get(f, "stateVersion"));
    json_decref(f);
    cg_buf_reset(&b);
    cg_state_version sv = {.presence = 7, .health = 2};
    cg_frame_event(&b, "presence", "{\"presence\":[]}", 15, 4, &sv);
    f = parse(b.data);
    json_t *v = json_object_get(f, "stateVersion");
    assert_int_equal(json_integer_value(json_object_get(v, "presence")), 7);
    assert_int_equal(json_integer_value(json_object_get(v, "health")), 2);
    assert_int_equal(json_object_size(v), 2);
    json_decref(f);
    cg_buf_reset(&b);
    cg_frame_event(&b, "connect.challenge", "{}", 2, 0, NULL);
    f = parse(b.data);
    assert_null(json_object_get(f, "seq"));
    json_decref(f);
    cg_buf_reset(&b);
}

static void test_parse_req(void **state)
{
    const char *id, *method;
    json_t *params;
    char err[256];
    json_t *m = parse("{\"type\":\"req\",\"id\":\"a\",\"method\":\"health\",\"params\":{}}");
    assert_int_equal(cg_frame_parse_req(m, &id, &method, &params, err, sizeof err), 0);
    assert_string_equal(id, "a");
    assert_string_equal(method, "health");
    json_decref(m);

    m = parse("{\"type\":\"req\",\"id\":\"b\"}");
    assert_int_equal(cg_frame_parse_req(m, &id, &method, &params, err, sizeof err), -1);
    assert_string_equal(id, "b"); /* still answered on its id */
    assert_non_null(strstr(err, "method"));
    json_decref(m);

    m = parse("{\"type\":\"req\",\"id\":5,\"method\":\"x\"}");
    assert_int_equal(cg_frame_parse_req(m, &id, &method, &params, err, sizeof err), -1);
    assert_null(id);
    json_decref(m);

    m = parse("{\"type\":\"req\",\"id\":\"c\",\"method\":\"x\",\"extra\":1}");
    assert_int_equal(cg_frame_parse_req(m, &id, &method, &params, err, sizeof err), -1);
    assert_non_null(strstr(err, "extra"));
    json_decref(m);

    m = parse("[1]");
    assert_int_equal(cg_frame_parse_req(m, &id, &method, &params, err, sizeof err), -1);
    json_decref(m);
}

static void test_negotiation(void **state)
{
    assert_int_equal(cg_negotiate_protocol(4, 4), 4);
    assert_int_equal(cg_negotiate_protocol(1, 9), 4);
    assert_int_equal(cg_negotiate_protocol(3, 3), 3);
    assert_int_equal(cg_negotiate_protocol(1, 2), 2);
    assert_int_equal(cg_negotiate_protocol(0, 1), 1);
    assert_int_equal(cg_negotiate_protocol(5, 5), -1);
    assert_int_equal(cg_negotiate_protocol(5, 9), -1);
    assert_int_equal(cg_negotiate_protocol(1, 0), -1);
    assert_int_equal(cg_negotiate_protocol(-3, -1), -1);
}

static const char *cli_connect =
    "{\"minProtocol\":4,\"maxProtocol\":4,\"client\":{\"id\":\"cli\",\"version\":\"2026.9.6\","
    "\"platform\":\"linux\",\"deviceFamily\":\"Linux\",\"mode\":\"cli\",\"instanceId\":\"i\"},"
    "\"caps\":[],\"auth\":{\"token\":\"T\"},\"role\":\"operator\",\"scopes\":[\"operator.read\"]}";

static void test_connect_params_strict(void **state)
{
    char err[256];
    json_t *p = parse(cli_connect);
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), 0);

    json_object_set_new(p, "bogus", json_true());
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), -1);
    assert_non_null(strstr(err, "bogus"));
    /* v1/v2 are loose: the same extra key passes */
    assert_int_equal(cg_connect_params_check(p, 2, err, sizeof err), 0);
    json_object_del(p, "bogus");

    json_object_set_new(json_object_get(p, "client"), "id", json_string("control-ui"));
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), -1);
    assert_int_equal(cg_connect_params_check(p, 1, err, sizeof err), 0);
    json_object_set_new(json_object_get(p, "client"), "id", json_string("cli"));

    json_object_set_new(json_object_get(p, "auth"), "tokn", json_string("x"));
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), -1);
    json_object_del(json_object_get(p, "auth"), "tokn");

    json_object_set_new(p, "scopes", json_pack("[s, i]", "operator.read", 3));
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), -1);
    json_decref(p);

    p = parse(
        "{\"minProtocol\":4,\"maxProtocol\":4,\"client\":{\"id\":\"node-host\",\"version\":\"1\","
        "\"platform\":\"linux\",\"mode\":\"node\"},\"role\":\"node\",\"device\":{\"id\":\"d\","
        "\"publicKey\":\"k\",\"signature\":\"s\",\"signedAt\":1,\"nonce\":\"n\"},"
        "\"commands\":[\"system.run\"],\"permissions\":{\"x\":true},\"pathEnv\":\"/bin\"}");
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), 0);
    json_object_set_new(json_object_get(p, "permissions"), "y", json_string("yes"));
    assert_int_equal(cg_connect_params_check(p, 4, err, sizeof err), -1);
    json_decref(p);
}

static void test_scope_bits_drop_unknown(void **state)
{
    json_t *s = json_pack("[s, s, s]", "operator.read", "operator.bogus", "operator.talk.secrets");
    unsigned bits = cg_scope_bits(s);
    json_t *names = cg_scope_names(bits);
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "operator.read");
    assert_string_equal(json_string_value(json_array_get(names, 1)), "operator.talk.secrets");
    json_decref(names);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_res_ok_frame_wraps_serialized_payload),
        cmocka_unit_test(test_error_frame_and_shape),
        cmocka_unit_test(test_event_frame_seq),
        cmocka_unit_test(test_parse_req),
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_connect_params_strict),
        cmocka_unit_test(test_scope_bits_drop_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
