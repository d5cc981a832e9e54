/* The exec policy file: shape, hash, resolution, allowlist matching. See policy.h. */
#include "exec/policy.h"

#include <openssl/evp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define MAX_AGENTS 1024
#define MAX_ENTRIES 4096
#define MAX_GLOB 1024   /* pattern bytes */
#define MAX_TARGET 4096 /* matched string bytes */

static const char *const security_names[] = {"deny", "allowlist", "full"};
static const char *const ask_names[] = {"off", "on-miss", "always"};

const char *cg_exec_security_name(cg_exec_security s)
{
    return security_names[s];
}

const char *cg_exec_ask_name(cg_exec_ask a)
{
    return ask_names[a];
}

static int index_of(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0) return (int)i;
    return -1;
}

json_t *cg_exec_policy_empty(void)
{
    return json_pack("{s:i, s:{}, s:{}}", "version", 1, "defaults", "agents");
}

json_t *cg_exec_policy_fail_closed(void)
{
    return json_pack("{s:i, s:{s:s, s:s, s:s, s:b}, s:{}}", "version", 1, "defaults", "security",
                     "deny", "ask", "off", "askFallback", "deny", "autoAllowSkills", 0, "agents");
}

/* ---- validation ---- */

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "at %s: %s", path, what);
    return -1;
}

static bool known_key(const char *key, const char *const *keys)
{
    for (; *keys; keys++)
        if (strcmp(*keys, key) == 0) return true;
    return false;
}

static int check_keys(const json_t *obj, const char *const *keys, const char *path, char *err,
                      size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        if (!known_key(key, keys)) {
            snprintf(err, errlen, "at %s: unexpected property '%.64s'", path, key);
            return -1;
        }
    }
    return 0;
}

static int check_enum(const json_t *obj, const char *key, const char *const *names, size_t n,
                      const char *path, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (index_of(names, n, json_string_value(v)) >= 0) return 0;
    char where[256], what[96];
    snprintf(where, sizeof where, "%s/%s", path, key);
    snprintf(what, sizeof what, "must be one of %s, %s, %s", names[0], names[1], names[2]);
    return fail(err, errlen, where, what);
}

static int check_policy(const json_t *obj, const char *path, char *err, size_t errlen)
{
    if (check_enum(obj, "security", security_names, 3, path, err, errlen) ||
        check_enum(obj, "ask", ask_names, 3, path, err, errlen) ||
        check_enum(obj, "askFallback", security_names, 3, path, err, errlen))
        return -1;
    const json_t *skills = json_object_get(obj, "autoAllowSkills");
    if (skills && !json_is_boolean(skills)) {
        char where[256];
        snprintf(where, sizeof where, "%s/autoAllowSkills", path);
        return fail(err, errlen, where, "must be boolean");
    }
    return 0;
}

static int check_string_member(const json_t *obj, const char *key, bool non_empty, const char *path,
                               char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    char where[288];
    snprintf(where, sizeof where, "%s/%s", path, key);
    if (!json_is_string(v)) return fail(err, errlen, where, "must be string");
    if (non_empty && strspn(json_string_value(v), " \t\r\n") == json_string_length(v))
        return fail(err, errlen, where, "must be a non-empty string");
    return 0;
}

static int check_number_member(const json_t *obj, const char *key, const char *path, char *err,
                               size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) return 0;
    if (!json_is_number(v) || json_number_value(v) < 0) {
        char where[288];
        snprintf(where, sizeof where, "%s/%s", path, key);
        return fail(err, errlen, where, "must be a number >= 0");
    }
    return 0;
}

static int check_allowlist(const json_t *list, const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "id",         "pattern",         "source",           "commandText", "argPattern",
        "lastUsedAt", "lastUsedCommand", "lastResolvedPath", NULL};
    if (!json_is_array(list)) return fail(err, errlen, path, "must be array");
    if (json_array_size(list) > MAX_ENTRIES)
        return fail(err, errlen, path, "more than 4096 entries");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char where[256];
        snprintf(where, sizeof where, "%s/%zu", path, i);
        if (!json_is_object(e)) return fail(err, errlen, where, "must be object");
        if (check_keys(e, keys, where, err, errlen)) return -1;
        if (!json_object_get(e, "pattern"))
            return fail(err, errlen, where, "must have required property 'pattern'");
        if (check_string_member(e, "pattern", true, where, err, errlen) ||
            check_string_member(e, "id", true, where, err, errlen) ||
            check_string_member(e, "commandText", false, where, err, errlen) ||
            check_string_member(e, "argPattern", false, where, err, errlen) ||
            check_string_member(e, "lastUsedCommand", false, where, err, errlen) ||
            check_string_member(e, "lastResolvedPath", false, where, err, errlen) ||
            check_number_member(e, "lastUsedAt", where, err, errlen))
            return -1;
        const json_t *source = json_object_get(e, "source");
        if (source &&
            strcmp(json_string_value(source) ? json_string_value(source) : "", "allow-always") != 0)
            return fail(err, errlen, where, "source must be \"allow-always\"");
        if (strlen(json_string_value(json_object_get(e, "pattern"))) > MAX_GLOB)
            return fail(err, errlen, where, "pattern must be at most 1024 bytes");
    }
    return 0;
}

static int check_mcp_tools(const json_t *list, const char *path, char *err, size_t errlen)
{
    static const char *const keys[] = {"server", "tool", "source", "addedAt", "lastUsedAt", NULL};
    if (!json_is_array(list)) return fail(err, errlen, path, "must be array");
    if (json_array_size(list) > MAX_ENTRIES)
        return fail(err, errlen, path, "more than 4096 entries");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        char where[256];
        snprintf(where, sizeof where, "%s/%zu", path, i);
        if (!json_is_object(e)) return fail(err, errlen, where, "must be object");
        if (check_keys(e, keys, where, err, errlen)) return -1;
        static const char *const required[] = {"server", "tool", "source", "addedAt"};
        for (size_t k = 0; k < 4; k++)
            if (!json_object_get(e, required[k])) {
                char what[64];
                snprintf(what, sizeof what, "must have required property '%s'", required[k]);
                return fail(err, errlen, where, what);
            }
        if (check_string_member(e, "server", true, where, err, errlen) ||
            check_string_member(e, "tool", true, where, err, errlen) ||
            check_number_member(e, "addedAt", where, err, errlen) ||
            check_number_member(e, "lastUsedAt", where, err, errlen))
            return -1;
        const char *source = json_string_value(json_object_get(e, "source"));
        if (!source || strcmp(source, "allow-always") != 0)
            return fail(err, errlen, where, "source must be \"allow-always\"");
    }
    return 0;
}

int cg_exec_policy_validate(const json_t *file, char *err, size_t errlen)
{
    static const char *const top_keys[] = {"version", "socket", "defaults", "agents", NULL};
    static const char *const policy_keys[] = {"security", "ask", "askFallback", "autoAllowSkills",
                                              NULL};
    static const char *const agent_keys[] = {
        "security", "ask", "askFallback", "autoAllowSkills", "allowlist", "mcpTools", NULL};
    static const char *const socket_keys[] = {"path", "token", NULL};
    if (!json_is_object(file)) return fail(err, errlen, "/file", "must be object");
    if (check_keys(file, top_keys, "/file", err, errlen)) return -1;
    const json_t *version = json_object_get(file, "version");
    if (!version) return fail(err, errlen, "/file", "must have required property 'version'");
    if (!json_is_number(version) || json_number_value(version) != 1)
        return fail(err, errlen, "/file/version", "must be equal to constant");
    const json_t *socket = json_object_get(file, "socket");
    if (socket) {
        if (!json_is_object(socket)) return fail(err, errlen, "/file/socket", "must be object");
        if (check_keys(socket, socket_keys, "/file/socket", err, errlen) ||
            check_string_member(socket, "path", false, "/file/socket", err, errlen) ||
            check_string_member(socket, "token", false, "/file/socket", err, errlen))
            return -1;
    }
    const json_t *defaults = json_object_get(file, "defaults");
    if (defaults) {
        if (!json_is_object(defaults)) return fail(err, errlen, "/file/defaults", "must be object");
        if (check_keys(defaults, policy_keys, "/file/defaults", err, errlen) ||
            check_policy(defaults, "/file/defaults", err, errlen))
            return -1;
    }
    const json_t *agents = json_object_get(file, "agents");
    if (!agents) return 0;
    if (!json_is_object(agents)) return fail(err, errlen, "/file/agents", "must be object");
    if (json_object_size(agents) > MAX_AGENTS)
        return fail(err, errlen, "/file/agents", "more than 1024 agents");
    const char *id;
    json_t *agent;
    json_object_foreach((json_t *)agents, id, agent)
    {
        char path[128];
        snprintf(path, sizeof path, "/file/agents/%.64s", id);
        if (!*id || strlen(id) > 64)
            return fail(err, errlen, "/file/agents", "agent ids must be 1 to 64 characters");
        if (!json_is_object(agent)) return fail(err, errlen, path, "must be object");
        if (check_keys(agent, agent_keys, path, err, errlen) ||
            check_policy(agent, path, err, errlen))
            return -1;
        char sub[160];
        const json_t *list = json_object_get(agent, "allowlist");
        snprintf(sub, sizeof sub, "%s/allowlist", path);
        if (list && check_allowlist(list, sub, err, errlen)) return -1;
        list = json_object_get(agent, "mcpTools");
        snprintf(sub, sizeof sub, "%s/mcpTools", path);
        if (list && check_mcp_tools(list, sub, err, errlen)) return -1;
    }
    return 0;
}

/* Copies the members of src named in keys, in that order, into a new object. */
static json_t *ordered(const json_t *src, const char *const *keys)
{
    json_t *out = json_object();
    for (; *keys; keys++) {
        json_t *v = json_object_get(src, *keys);
        if (v) json_object_set_new(out, *keys, json_deep_copy(v));
    }
    return out;
}

json_t *cg_exec_policy_normalize(const json_t *file)
{
    static const char *const policy_keys[] = {"security", "ask", "askFallback", "autoAllowSkills",
                                              NULL};
    /* OpenClaw's entry order; commandText is dropped, as OpenClaw drops it. */
    static const char *const entry_keys[] = {"pattern",          "id",         "source",
                                             "argPattern",       "lastUsedAt", "lastUsedCommand",
                                             "lastResolvedPath", NULL};
    json_t *out = json_pack("{s:i}", "version", 1);
    const json_t *socket = json_object_get(file, "socket");
    json_t *sock = json_object();
    static const char *const socket_keys[] = {"path", "token", NULL};
    for (const char *const *k = socket_keys; *k; k++) {
        char *v = NULL;
        const char *raw = json_string_value(json_object_get(socket, *k));
        if (raw) {
            size_t start = strspn(raw, " \t\r\n"), len = strlen(raw + start);
            while (len > 0 && strchr(" \t\r\n", raw[start + len - 1]))
                len--;
            if (len) {
                v = cg_xmalloc(len + 1);
                memcpy(v, raw + start, len);
                v[len] = 0;
            }
        }
        if (v) json_object_set_new(sock, *k, json_string(v));
        free(v);
    }
    if (json_object_size(sock))
        json_object_set_new(out, "socket", sock);
    else
        json_decref(sock);
    json_object_set_new(out, "defaults", ordered(json_object_get(file, "defaults"), policy_keys));
    json_t *agents = json_object();
    const char *id;
    json_t *agent;
    json_object_foreach(json_object_get(file, "agents"), id, agent)
    {
        json_t *copy = json_deep_copy(agent);
        json_t *list = json_object_get(agent, "allowlist");
        if (list) {
            json_t *entries = json_array();
            size_t i;
            json_t *e;
            json_array_foreach(list, i, e)
            {
                json_t *entry = ordered(e, entry_keys);
                if (!json_object_get(entry, "id")) {
                    char uuid[37];
                    cg_uuid4(uuid);
                    /* after pattern, as OpenClaw places it */
                    json_t *with_id = json_object();
                    const char *k;
                    json_t *v;
                    json_object_foreach(entry, k, v)
                    {
                        json_object_set(with_id, k, v);
                        if (!strcmp(k, "pattern"))
                            json_object_set_new(with_id, "id", json_string(uuid));
                    }
                    json_decref(entry);
                    entry = with_id;
                }
                json_array_append_new(entries, entry);
            }
            json_object_set_new(copy, "allowlist", entries);
        }
        json_object_set_new(agents, id, copy);
    }
    json_object_set_new(out, "agents", agents);
    return out;
}

char *cg_exec_policy_serialize(const json_t *file, size_t *len)
{
    char *body = json_dumps(file, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t n = strlen(body);
    char *text = cg_xmalloc(n + 2);
    memcpy(text, body, n);
    text[n] = '\n';
    text[n + 1] = 0;
    free(body);
    if (len) *len = n + 1;
    return text;
}

json_t *cg_exec_policy_parse(const char *raw, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(raw, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "invalid JSON at line %d, column %d", je.line, je.column);
        return NULL;
    }
    if (cg_exec_policy_validate(doc, err, errlen)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static void sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char digest[32];
    unsigned int dlen = 0;
    if (EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) != 1) abort();
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

void cg_exec_policy_hash(const char *raw, size_t len, char *out)
{
    if (raw) {
        sha256_hex(raw, len, out);
        return;
    }
    memcpy(out, "missing:", 8);
    sha256_hex("", 0, out + 8);
}

json_t *cg_exec_policy_view(const json_t *file)
{
    json_t *view = json_deep_copy(file);
    json_t *socket = json_object_get(view, "socket");
    if (socket) json_object_del(socket, "token");
    return view;
}

/* ---- resolution ---- */

static int field_of(const json_t *obj, const char *key, const char *const *names)
{
    return index_of(names, 3, json_string_value(json_object_get(obj, key)));
}

/* agents.<id> over agents."*" over defaults over fallback. */
static int layered(const json_t *agent, const json_t *wildcard, const json_t *defaults,
                   const char *key, const char *const *names, int fallback)
{
    int v = field_of(agent, key, names);
    if (v < 0) v = field_of(wildcard, key, names);
    if (v < 0) v = field_of(defaults, key, names);
    return v < 0 ? fallback : v;
}

cg_exec_resolved cg_exec_policy_resolve(const json_t *file, const char *agent_id)
{
    const json_t *defaults = json_object_get(file, "defaults");
    const json_t *agents = json_object_get(file, "agents");
    const json_t *wildcard = json_object_get(agents, "*");
    const json_t *agent = agent_id ? json_object_get(agents, agent_id) : NULL;
    cg_exec_resolved r;
    r.security = (cg_exec_security)layered(agent, wildcard, defaults, "security", security_names,
                                           CG_EXEC_SEC_FULL);
    r.ask = (cg_exec_ask)layered(agent, wildcard, defaults, "ask", ask_names, CG_EXEC_ASK_OFF);
    r.ask_fallback = (cg_exec_security)layered(agent, wildcard, defaults, "askFallback",
                                               security_names, CG_EXEC_SEC_DENY);
    const json_t *skills = json_object_get(agent, "autoAllowSkills");
    if (!json_is_boolean(skills)) skills = json_object_get(wildcard, "autoAllowSkills");
    if (!json_is_boolean(skills)) skills = json_object_get(defaults, "autoAllowSkills");
    r.auto_allow_skills = json_is_true(skills);
    return r;
}

json_t *cg_exec_policy_resolved_defaults(const json_t *file)
{
    const json_t *defaults = json_object_get(file, "defaults");
    int security = field_of(defaults, "security", security_names);
    int ask = field_of(defaults, "ask", ask_names);
    int fallback = field_of(defaults, "askFallback", security_names);
    return json_pack("{s:s, s:s, s:s, s:b}", "security",
                     security_names[security < 0 ? CG_EXEC_SEC_FULL : security], "ask",
                     ask_names[ask < 0 ? CG_EXEC_ASK_OFF : ask], "askFallback",
                     security_names[fallback < 0 ? CG_EXEC_SEC_DENY : fallback], "autoAllowSkills",
                     json_is_true(json_object_get(defaults, "autoAllowSkills")));
}

/* ---- matching ---- */

/* path.posix.normalize: collapses //, resolves . and .., keeps a trailing slash; "" is ".". */
static void normalize_cwd(const char *cwd, cg_buf *out)
{
    if (!cwd || !*cwd) {
        cg_buf_appends(out, ".");
        return;
    }
    bool absolute = cwd[0] == '/';
    size_t n = strlen(cwd);
    bool trailing = n > 0 && cwd[n - 1] == '/';
    /* Segments as offsets into cwd, popped on "..". */
    size_t *starts = cg_xcalloc(n + 1, sizeof *starts), *lens = cg_xcalloc(n + 1, sizeof *lens);
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && cwd[i] == '/')
            i++;
        size_t s = i;
        while (i < n && cwd[i] != '/')
            i++;
        size_t l = i - s;
        if (l == 0 || (l == 1 && cwd[s] == '.')) continue;
        if (l == 2 && cwd[s] == '.' && cwd[s + 1] == '.') {
            if (count > 0 && !(lens[count - 1] == 2 && cwd[starts[count - 1]] == '.' &&
                               cwd[starts[count - 1] + 1] == '.')) {
                count--;
                continue;
            }
            if (absolute) continue;
        }
        starts[count] = s;
        lens[count++] = l;
    }
    if (absolute) cg_buf_appends(out, "/");
    for (size_t k = 0; k < count; k++) {
        if (k) cg_buf_appends(out, "/");
        cg_buf_append(out, cwd + starts[k], lens[k]);
    }
    if (!absolute && count == 0) cg_buf_appends(out, ".");
    if (trailing && count > 0) cg_buf_appends(out, "/");
    free(starts);
    free(lens);
}

static void append_counted(cg_buf *b, const char *s, size_t len)
{
    char num[24];
    snprintf(num, sizeof num, "%zu", len);
    cg_buf_appends(b, num);
    cg_buf_append(b, "\0", 1);
    cg_buf_append(b, s, len);
    cg_buf_append(b, "\0", 1);
}

void cg_exec_arg_hash(const json_t *argv, const char *cwd, char *out)
{
    cg_buf cwd_norm = {0}, subject = {0};
    normalize_cwd(cwd, &cwd_norm);
    append_counted(&subject, cwd_norm.data, cwd_norm.len);
    size_t n = json_array_size(argv);
    char num[24];
    snprintf(num, sizeof num, "%zu", n > 0 ? n - 1 : 0);
    cg_buf_appends(&subject, num);
    cg_buf_append(&subject, "\0", 1);
    for (size_t i = 1; i < n; i++) {
        const json_t *a = json_array_get(argv, i);
        append_counted(&subject, json_string_value(a) ? json_string_value(a) : "",
                       json_string_length(a));
    }
    memcpy(out, "sha256:cwd-argv:v1:", 19);
    sha256_hex(subject.data, subject.len, out + 19);
    cg_buf_reset(&cwd_norm);
    cg_buf_reset(&subject);
}

/* Glob as OpenClaw compiles it: `**` any run, `*` a run without '/', `?` one non-'/'.
 * Dynamic programming over (pattern, target): O(p * t) time, O(t) memory. */
bool cg_exec_glob_match(const char *pattern, const char *target)
{
    size_t p = strlen(pattern), t = strlen(target);
    if (p > MAX_GLOB || t > MAX_TARGET) return false;
    bool *prev = cg_xcalloc(t + 1, sizeof *prev), *cur = cg_xcalloc(t + 1, sizeof *cur);
    prev[0] = true; /* empty pattern matches empty target */
    for (size_t i = 0; i < p;) {
        char c = pattern[i];
        bool dstar = c == '*' && pattern[i + 1] == '*';
        memset(cur, 0, (t + 1) * sizeof *cur);
        if (c == '*') {
            /* cur[j]: prev[k] for some k <= j with target[k..j) free of '/' (or any, **). */
            bool run = false;
            for (size_t j = 0; j <= t; j++) {
                if (j > 0 && !dstar && target[j - 1] == '/') run = false;
                run = run || prev[j];
                cur[j] = run;
            }
        } else {
            for (size_t j = 1; j <= t; j++)
                cur[j] = prev[j - 1] && (c == '?' ? target[j - 1] != '/' : target[j - 1] == c);
        }
        bool *swap = prev;
        prev = cur;
        cur = swap;
        i += dstar ? 2 : 1;
    }
    bool matched = prev[t];
    free(prev);
    free(cur);
    return matched;
}

static bool has_path_selector(const char *s)
{
    return strpbrk(s, "/\\~") != NULL;
}

static bool regex_match(const char *pattern, const json_t *argv)
{
    cg_buf args = {0};
    for (size_t i = 1; i < json_array_size(argv); i++) {
        if (i > 1) cg_buf_appends(&args, " ");
        const char *a = json_string_value(json_array_get(argv, i));
        cg_buf_appends(&args, a ? a : "");
    }
    if (args.len > MAX_TARGET) {
        cg_buf_reset(&args);
        return false;
    }
    regex_t re;
    bool matched = false;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0) {
        matched = regexec(&re, args.data ? args.data : "", 0, NULL, 0) == 0;
        regfree(&re);
    }
    cg_buf_reset(&args);
    return matched;
}

/* Whether the entry's pattern selects argv[0]. */
static bool pattern_selects(const char *pattern, const char *exe)
{
    if (!strcmp(pattern, "*")) return false; /* the bare wildcard is handled by the caller */
    if (has_path_selector(pattern))
        return has_path_selector(exe) && cg_exec_glob_match(pattern, exe);
    if (has_path_selector(exe)) return false;
    return cg_exec_glob_match(pattern, exe);
}

static const json_t *match_list(const json_t *list, const json_t *argv, const char *arg_hash)
{
    const char *exe = json_string_value(json_array_get(argv, 0));
    const json_t *path_only = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *pattern = json_string_value(json_object_get(e, "pattern"));
        const char *arg_pattern = json_string_value(json_object_get(e, "argPattern"));
        const char *source = json_string_value(json_object_get(e, "source"));
        bool generated = source && !strcmp(source, "allow-always");
        if (!pattern) continue;
        if (!strcmp(pattern, "*") && !arg_pattern && !generated) return e;
        /* allow-always entries name argv[0] exactly (their hash covers only argv[1..]). */
        if (generated ? strcmp(pattern, exe) != 0 : !pattern_selects(pattern, exe)) continue;
        if (!arg_pattern || !*arg_pattern) {
            if (!generated && !path_only) path_only = e;
            continue;
        }
        if (!strncmp(arg_pattern, "sha256:cwd-argv:v1:", 19)) {
            if (!strcmp(arg_pattern, arg_hash)) return e;
        } else if (!generated && strncmp(arg_pattern, "sha256:", 7) &&
                   regex_match(arg_pattern, argv)) {
            return e;
        }
    }
    return path_only;
}

const json_t *cg_exec_policy_match(const json_t *file, const char *agent_id, const json_t *argv,
                                   const char *cwd)
{
    if (!json_is_string(json_array_get(argv, 0))) return NULL;
    char arg_hash[CG_EXEC_ARG_HASH_LEN];
    cg_exec_arg_hash(argv, cwd, arg_hash);
    const json_t *agents = json_object_get(file, "agents");
    const json_t *hit =
        match_list(json_object_get(json_object_get(agents, "*"), "allowlist"), argv, arg_hash);
    if (!hit && agent_id && strcmp(agent_id, "*"))
        hit = match_list(json_object_get(json_object_get(agents, agent_id), "allowlist"), argv,
                         arg_hash);
    return hit;
}

cg_exec_verdict cg_exec_policy_evaluate(const json_t *file, const char *agent_id,
                                        const json_t *argv, const char *cwd)
{
    cg_exec_verdict v = {.policy = cg_exec_policy_resolve(file, agent_id)};
    v.allowlist_hit = cg_exec_policy_match(file, agent_id, argv, cwd) != NULL;
    if (v.policy.security == CG_EXEC_SEC_DENY) {
        v.decision = CG_EXEC_DECIDE_REFUSE;
        v.reason = "security-deny";
        v.message = "SYSTEM_RUN_DENIED: security=deny";
    } else if (v.policy.ask == CG_EXEC_ASK_ALWAYS) {
        v.decision = CG_EXEC_DECIDE_ASK;
    } else if (v.policy.security == CG_EXEC_SEC_FULL || v.allowlist_hit) {
        v.decision = CG_EXEC_DECIDE_ALLOW;
    } else if (v.policy.ask == CG_EXEC_ASK_OFF) {
        v.decision = CG_EXEC_DECIDE_REFUSE;
        v.reason = "allowlist-miss";
        v.message = "SYSTEM_RUN_DENIED: allowlist miss";
    } else {
        v.decision = CG_EXEC_DECIDE_ASK;
    }
    return v;
}

bool cg_exec_policy_fallback_allows(const cg_exec_verdict *v)
{
    cg_exec_security fallback =
        v->policy.ask_fallback < v->policy.security ? v->policy.ask_fallback : v->policy.security;
    if (fallback == CG_EXEC_SEC_FULL) return true;
    return fallback == CG_EXEC_SEC_ALLOWLIST && v->allowlist_hit;
}

json_t *cg_exec_policy_add_allow_always(const json_t *file, const char *agent_id,
                                        const json_t *argv, const char *cwd, int64_t now_ms)
{
    const char *exe = json_string_value(json_array_get(argv, 0));
    if (!exe || !*exe) return NULL;
    char arg_hash[CG_EXEC_ARG_HASH_LEN];
    cg_exec_arg_hash(argv, cwd, arg_hash);
    const char *key = agent_id && *agent_id ? agent_id : "*";
    const json_t *existing = json_object_get(json_object_get(file, "agents"), key);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(existing, "allowlist"), i, e)
    {
        const char *pattern = json_string_value(json_object_get(e, "pattern"));
        const char *arg_pattern = json_string_value(json_object_get(e, "argPattern"));
        if (pattern && arg_pattern && !strcmp(pattern, exe) && !strcmp(arg_pattern, arg_hash))
            return NULL;
    }
    json_t *copy = json_deep_copy(file);
    json_t *agents = json_object_get(copy, "agents");
    if (!json_is_object(agents)) {
        agents = json_object();
        json_object_set_new(copy, "agents", agents);
    }
    json_t *agent = json_object_get(agents, key);
    if (!json_is_object(agent)) {
        agent = json_object();
        json_object_set_new(agents, key, agent);
    }
    json_t *list = json_object_get(agent, "allowlist");
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(agent, "allowlist", list);
    }
    char uuid[37];
    cg_uuid4(uuid);
    json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", uuid, "pattern", exe,
                                          "argPattern", arg_hash, "source", "allow-always",
                                          "lastUsedAt", (json_int_t)now_ms));
    return copy;
}
