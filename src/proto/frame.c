/* Frame building and request-frame checks. See frame.h. */
#include "proto/frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *cg_error_new(const char *code, const char *message, json_t *details)
{
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (details) json_object_set_new(e, "details", details);
    return e;
}

json_t *cg_error_coded(const char *code, const char *message, const char *detail_code)
{
    return cg_error_new(code, message, json_pack("{s:s}", "code", detail_code));
}

static void append_json_string(cg_buf *out, const char *s)
{
    json_t *str = json_string(s);
    if (!str) str = json_string("invalid"); /* not UTF-8: cannot be echoed */
    char small[256];
    size_t n = json_dumpb(str, small, sizeof small, JSON_ENCODE_ANY);
    if (n <= sizeof small) {
        cg_buf_append(out, small, n);
    } else {
        char *big = json_dumps(str, JSON_ENCODE_ANY);
        cg_buf_appends(out, big);
        free(big);
    }
    json_decref(str);
}

void cg_frame_res_ok(cg_buf *out, const char *id, const char *payload_json, size_t payload_len)
{
    cg_buf_appends(out, "{\"type\":\"res\",\"id\":");
    append_json_string(out, id);
    if (payload_json) {
        cg_buf_appends(out, ",\"ok\":true,\"payload\":");
        cg_buf_append(out, payload_json, payload_len);
        cg_buf_appends(out, "}");
    } else {
        cg_buf_appends(out, ",\"ok\":true}");
    }
}

void cg_frame_res_error(cg_buf *out, const char *id, const json_t *error)
{
    cg_buf_appends(out, "{\"type\":\"res\",\"id\":");
    append_json_string(out, id);
    cg_buf_appends(out, ",\"ok\":false,\"error\":");
    char *e = json_dumps(error, JSON_COMPACT);
    cg_buf_appends(out, e);
    free(e);
    cg_buf_appends(out, "}");
}

void cg_frame_event(cg_buf *out, const char *event, const char *payload_json, size_t payload_len,
                    uint64_t seq, const cg_state_version *state_version)
{
    cg_buf_appends(out, "{\"type\":\"event\",\"event\":");
    append_json_string(out, event);
    if (payload_json) {
        cg_buf_appends(out, ",\"payload\":");
        cg_buf_append(out, payload_json, payload_len);
    }
    if (seq) {
        char s[32];
        snprintf(s, sizeof s, ",\"seq\":%llu", (unsigned long long)seq);
        cg_buf_appends(out, s);
    }
    if (state_version) {
        char s[96];
        snprintf(s, sizeof s, ",\"stateVersion\":{\"presence\":%lld,\"health\":%lld}",
                 (long long)state_version->presence, (long long)state_version->health);
        cg_buf_appends(out, s);
    }
    cg_buf_appends(out, "}");
}

int cg_frame_parse_req(const json_t *msg, const char **id, const char **method, json_t **params,
                       char *err, size_t errlen)
{
    *id = NULL;
    *method = NULL;
    *params = NULL;
    if (!json_is_object(msg)) {
        snprintf(err, errlen, "invalid request frame: expected an object");
        return -1;
    }
    json_t *jid = json_object_get(msg, "id");
    if (json_is_string(jid) && json_string_length(jid) > 0) *id = json_string_value(jid);
    json_t *type = json_object_get(msg, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "req") != 0) {
        snprintf(err, errlen, "invalid request frame: type must be \"req\"");
        return -1;
    }
    if (!*id) {
        snprintf(err, errlen, "invalid request frame: id must be a non-empty string");
        return -1;
    }
    json_t *jm = json_object_get(msg, "method");
    if (!json_is_string(jm) || json_string_length(jm) == 0) {
        snprintf(err, errlen, "invalid request frame: method must be a non-empty string");
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)msg, key, v)
    {
        if (strcmp(key, "type") && strcmp(key, "id") && strcmp(key, "method") &&
            strcmp(key, "params") && strcmp(key, "traceparent")) {
            snprintf(err, errlen, "invalid request frame: unexpected property '%s'", key);
            return -1;
        }
    }
    *method = json_string_value(jm);
    *params = json_object_get(msg, "params");
    return 0;
}
