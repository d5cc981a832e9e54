/* Agents from the configuration and their workspace files (see agent/agents.h).
 *
 * Nothing about agents is cached: every call reads the configuration document, so a
 * change through config.patch or agents.create is seen by the next call. File work runs
 * on libuv's thread pool in a job that holds copies of what it needs (the agent's
 * workspace path, the name, the content) and builds its JSON answer there; the loop
 * only hands it to the callback. */
#include "agent/agents.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/strmap.h"
#include "common/util.h"

const char *const CG_AGENT_FILES[] = {"AGENTS.md",    "SOUL.md",   "IDENTITY.md", "USER.md",
                                      "BOOTSTRAP.md", "MEMORY.md", NULL};

struct cg_agents {
    cg_config *cfg;
    uv_loop_t *loop;
    char *state_dir;
    cg_strmap *creating; /* ids with an agents.create in flight */
    size_t inflight;
    bool freed;
};

bool cg_agent_file_allowed(const char *name)
{
    for (size_t i = 0; name && CG_AGENT_FILES[i]; i++)
        if (strcmp(name, CG_AGENT_FILES[i]) == 0) return true;
    return false;
}

static bool valid_id_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

bool cg_agent_id_normalize(const char *in, char *out, size_t outlen)
{
    if (!in || outlen < CG_AGENT_ID_MAX + 1) return false;
    while (isspace((unsigned char)*in))
        in++;
    size_t len = strlen(in);
    while (len > 0 && isspace((unsigned char)in[len - 1]))
        len--;
    bool valid = len > 0 && len <= CG_AGENT_ID_MAX && isalnum((unsigned char)in[0]);
    for (size_t i = 0; valid && i < len; i++)
        if (!valid_id_char(in[i])) valid = false;
    size_t n = 0;
    if (valid) {
        for (size_t i = 0; i < len; i++)
            out[n++] = (char)tolower((unsigned char)in[i]);
    } else {
        /* Runs of other characters become one "-"; "-" at either end go. */
        bool dash = false;
        for (size_t i = 0; i < len; i++) {
            char c = (char)tolower((unsigned char)in[i]);
            if (isalnum((unsigned char)c) || c == '_') {
                if (dash && n > 0 && n < CG_AGENT_ID_MAX) out[n++] = '-';
                dash = false;
                if (n < CG_AGENT_ID_MAX) out[n++] = c;
            } else {
                dash = true;
            }
        }
        while (n > 0 && out[n - 1] == '-')
            n--;
    }
    out[n] = 0;
    return n > 0;
}

/* ---- the configuration ---- */

static const json_t *config_agents(const cg_agents *a)
{
    return json_object_get(cg_config_document(a->cfg), "agents");
}

static const json_t *config_entries(const cg_agents *a)
{
    const json_t *entries = json_object_get(config_agents(a), "entries");
    return json_is_object(entries) ? entries : NULL;
}

/* "~" and "~/..." expanded; relative paths are not accepted (NULL). */
static char *expand_path(const char *path)
{
    if (!path || !*path) return NULL;
    if (path[0] == '~' && (path[1] == '/' || path[1] == 0)) {
        const char *home = getenv("HOME");
        if (!home || !*home) return NULL;
        size_t len = strlen(home) + strlen(path) + 1;
        char *out = cg_xmalloc(len);
        snprintf(out, len, "%s%s", home, path + 1);
        return out;
    }
    return path[0] == '/' ? cg_strdup(path) : NULL;
}

static char *join_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *out = cg_xmalloc(len);
    snprintf(out, len, "%s/%s", dir, name);
    return out;
}

/* The workspace an agent gets without its own `workspace`. */
static char *default_workspace(const cg_agents *a, const char *id)
{
    const json_t *defaults = json_object_get(config_agents(a), "defaults");
    char *base = expand_path(json_string_value(json_object_get(defaults, "workspace")));
    bool is_main = strcmp(id, CG_AGENTS_DEFAULT_ID) == 0;
    if (base) {
        if (is_main) return base;
        char *out = join_path(base, id);
        free(base);
        return out;
    }
    if (is_main) return join_path(a->state_dir, "workspace");
    char name[CG_AGENT_ID_MAX + 16];
    snprintf(name, sizeof name, "workspace-%s", id);
    return join_path(a->state_dir, name);
}

static char *non_empty_string(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && *s ? cg_strdup(s) : NULL;
}

static cg_agent *agent_from(const cg_agents *a, const char *id, const json_t *entry)
{
    cg_agent *agent = cg_xcalloc(1, sizeof *agent);
    snprintf(agent->id, sizeof agent->id, "%s", id);
    agent->configured = json_is_object(entry);
    agent->is_default = strcmp(id, CG_AGENTS_DEFAULT_ID) == 0;
    const json_t *identity = json_object_get(entry, "identity");
    agent->name = non_empty_string(json_object_get(entry, "name"));
    if (!agent->name) agent->name = non_empty_string(json_object_get(identity, "name"));
    agent->emoji = non_empty_string(json_object_get(identity, "emoji"));
    agent->avatar = non_empty_string(json_object_get(identity, "avatar"));
    const json_t *model = json_object_get(entry, "model");
    agent->model =
        non_empty_string(json_is_object(model) ? json_object_get(model, "primary") : model);
    agent->workspace = expand_path(json_string_value(json_object_get(entry, "workspace")));
    if (!agent->workspace) agent->workspace = default_workspace(a, id);
    return agent;
}

void cg_agent_free(cg_agent *agent)
{
    if (!agent) return;
    free(agent->name);
    free(agent->workspace);
    free(agent->model);
    free(agent->emoji);
    free(agent->avatar);
    free(agent);
}

/* The entry of a (normalized) id, whatever spelling its key has. */
static const json_t *entry_of(const cg_agents *a, const char *id)
{
    const json_t *entries = config_entries(a), *entry;
    const char *key;
    json_object_foreach((json_t *)entries, key, entry)
    {
        char norm[CG_AGENT_ID_MAX + 1];
        if (json_is_object(entry) && cg_agent_id_normalize(key, norm, sizeof norm) &&
            strcmp(norm, id) == 0)
            return entry;
    }
    return NULL;
}

cg_agent *cg_agents_find(cg_agents *a, const char *id)
{
    char norm[CG_AGENT_ID_MAX + 1];
    if (!cg_agent_id_normalize(id, norm, sizeof norm)) return NULL;
    const json_t *entry = entry_of(a, norm);
    if (!entry && strcmp(norm, CG_AGENTS_DEFAULT_ID) != 0) return NULL;
    return agent_from(a, norm, entry);
}

cg_agent **cg_agents_list(cg_agents *a, size_t *n)
{
    const json_t *entries = config_entries(a), *entry;
    size_t cap = 1 + json_object_size(entries);
    cg_agent **list = cg_xcalloc(cap, sizeof *list);
    list[0] = agent_from(a, CG_AGENTS_DEFAULT_ID, entry_of(a, CG_AGENTS_DEFAULT_ID));
    *n = 1;
    const char *key;
    json_object_foreach((json_t *)entries, key, entry)
    {
        char norm[CG_AGENT_ID_MAX + 1];
        if (!json_is_object(entry) || !cg_agent_id_normalize(key, norm, sizeof norm)) continue;
        bool seen = false;
        for (size_t i = 0; i < *n && !seen; i++)
            seen = strcmp(list[i]->id, norm) == 0;
        if (!seen) list[(*n)++] = agent_from(a, norm, entry);
    }
    return list;
}

void cg_agents_list_free(cg_agent **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cg_agent_free(list[i]);
    free(list);
}

const char *cg_agents_state_dir(const cg_agents *a)
{
    return a->state_dir;
}

/* agents.defaults.model (a "<provider>/<model>" string or {primary}), or NULL. */
static const char *default_model(const cg_agents *a)
{
    const json_t *defaults = json_object_get(config_agents(a), "defaults");
    const json_t *model = json_object_get(defaults, "model");
    const char *s =
        json_string_value(json_is_object(model) ? json_object_get(model, "primary") : model);
    return s && *s ? s : NULL;
}

/* Each agent's model is the one it runs on, as the real gateway reports it: its own, else
 * agents.defaults.model (the Control UI asks to set up a provider when it is missing). */
json_t *cg_agents_list_result(cg_agents *a)
{
    const char *fallback_model = default_model(a);
    size_t n;
    cg_agent **list = cg_agents_list(a, &n);
    json_t *agents = json_array();
    for (size_t i = 0; i < n; i++) {
        const cg_agent *ag = list[i];
        json_t *row = json_pack("{s:s, s:s}", "id", ag->id, "workspace", ag->workspace);
        if (ag->name) json_object_set_new(row, "name", json_string(ag->name));
        json_t *identity = json_object();
        if (ag->name) json_object_set_new(identity, "name", json_string(ag->name));
        if (ag->emoji) json_object_set_new(identity, "emoji", json_string(ag->emoji));
        if (ag->avatar) json_object_set_new(identity, "avatar", json_string(ag->avatar));
        if (json_object_size(identity))
            json_object_set_new(row, "identity", identity);
        else
            json_decref(identity);
        const char *model = ag->model ? ag->model : fallback_model;
        if (model) json_object_set_new(row, "model", json_pack("{s:s}", "primary", model));
        json_array_append_new(agents, row);
    }
    cg_agents_list_free(list, n);
    return json_pack("{s:s, s:s, s:s, s:o}", "defaultId", CG_AGENTS_DEFAULT_ID, "mainKey", "main",
                     "scope", "per-sender", "agents", agents);
}

/* ---- lifetime ---- */

cg_agents *cg_agents_new(cg_config *cfg, uv_loop_t *loop)
{
    cg_agents *a = cg_xcalloc(1, sizeof *a);
    a->cfg = cfg;
    a->loop = loop;
    a->state_dir = cg_strdup(cg_config_state_dir(cfg));
    a->creating = cg_strmap_new();
    return a;
}

static void maybe_free(cg_agents *a)
{
    if (!a->freed || a->inflight) return;
    free(a->state_dir);
    cg_strmap_free(a->creating);
    free(a);
}

void cg_agents_free(cg_agents *a)
{
    if (!a) return;
    a->freed = true;
    maybe_free(a);
}

/* ---- errors ---- */

static json_t *invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *invalid(const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s}", "code", "INVALID_REQUEST", "message", message);
}

static json_t *unavailable(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *unavailable(const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return json_pack("{s:s, s:s, s:b}", "code", "UNAVAILABLE", "message", message, "retryable", 0);
}

static json_t *not_found(const char *id)
{
    return invalid("agent \"%s\" not found", id);
}

/* ---- thread-pool jobs ---- */

typedef enum {
    OP_LIST,
    OP_GET,
    OP_SET,
    OP_IDENTITY,
    OP_PROMPT,
    OP_CREATE,
    OP_UPDATE,
    OP_DELETE,
} job_op;

typedef struct fs_job {
    uv_work_t work;
    cg_agents *a;
    job_op op;
    cg_agent *agent;
    char *name;
    char *content;
    size_t len;
    json_t *params; /* create / update / delete: a copy */
    json_t *patch;  /* the config patch to write after the files */
    bool delete_files;
    /* Results. */
    json_t *result, *error;
    char *prompt;
    cg_agents_result_fn cb;
    cg_agents_prompt_fn prompt_cb;
    void *data;
} fs_job;

static void job_free(fs_job *j)
{
    cg_agent_free(j->agent);
    free(j->name);
    free(j->content);
    json_decref(j->params);
    json_decref(j->patch);
    json_decref(j->result);
    json_decref(j->error);
    free(j->prompt);
    free(j);
}

/* Copies valid UTF-8 and replaces each byte of an invalid sequence by U+FFFD. */
static json_t *utf8_string(const char *p, size_t len)
{
    cg_buf b = {0};
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)p[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        bool ok = n > 0 && i + n <= len && c != 0 && !(n == 2 && c < 0xc2) && !(c > 0xf4);
        for (size_t k = 1; ok && k < n; k++)
            ok = ((unsigned char)p[i + k] & 0xc0) == 0x80;
        if (ok && n == 3) {
            unsigned char c1 = (unsigned char)p[i + 1];
            if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f)) ok = false;
        }
        if (ok && n == 4) {
            unsigned char c1 = (unsigned char)p[i + 1];
            if ((c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)) ok = false;
        }
        if (ok) {
            cg_buf_append(&b, p + i, n);
            i += n;
        } else {
            cg_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    cg_buf_reset(&b);
    return s;
}

/* The workspace directory, opened (and created first when asked). -errno on failure. */
static int open_workspace(const char *dir, bool create)
{
    if (create) {
        int rc = cg_mkdir_p(dir, 0700);
        if (rc != 0) return rc;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* A workspace file as the schema's AgentsFileEntry, without content. present: a regular
 * file with one link (not a symlink); anything else counts as missing in a list. */
static json_t *file_entry(int dfd, const char *workspace, const char *name, struct stat *sb,
                          bool *present)
{
    char *path = join_path(workspace, name);
    json_t *entry = json_pack("{s:s, s:s}", "name", name, "path", path);
    free(path);
    *present = dfd >= 0 && fstatat(dfd, name, sb, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISREG(sb->st_mode) && sb->st_nlink <= 1;
    json_object_set_new(entry, "missing", json_boolean(!*present));
    if (*present) {
        json_object_set_new(entry, "size", json_integer((json_int_t)sb->st_size));
        json_object_set_new(
            entry, "updatedAtMs",
            json_integer((json_int_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000));
    } else if (!strcmp(name, "BOOTSTRAP.md") || !strcmp(name, "MEMORY.md")) {
        json_object_set_new(entry, "expectedAbsent", json_true());
    }
    return entry;
}

typedef enum { READ_OK, READ_MISSING, READ_UNSAFE, READ_TOO_LARGE, READ_ERROR } read_status;

/* Reads a workspace file without following a symlink; a regular file of one link and at
 * most CG_AGENT_FILE_MAX_BYTES. *out malloc'd on READ_OK. */
static read_status read_confined(int dfd, const char *name, char **out, size_t *len,
                                 struct stat *sb, int *err)
{
    *out = NULL;
    *len = 0;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return errno == ENOENT ? READ_MISSING : errno == ELOOP ? READ_UNSAFE : READ_ERROR;
    }
    if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode) || sb->st_nlink > 1) {
        close(fd);
        return READ_UNSAFE;
    }
    if ((size_t)sb->st_size > CG_AGENT_FILE_MAX_BYTES) {
        close(fd);
        return READ_TOO_LARGE;
    }
    char *buf = cg_xmalloc(CG_AGENT_FILE_MAX_BYTES + 1);
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, CG_AGENT_FILE_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            *err = errno;
            close(fd);
            free(buf);
            return READ_ERROR;
        }
        if (r == 0) break;
        got += (size_t)r;
        if (got > CG_AGENT_FILE_MAX_BYTES) {
            close(fd);
            free(buf);
            return READ_TOO_LARGE;
        }
    }
    close(fd);
    buf[got] = 0;
    *out = buf;
    *len = got;
    return READ_OK;
}

static json_t *read_refusal(read_status st, const char *name, int err)
{
    if (st == READ_UNSAFE) return invalid("unsafe workspace file \"%s\"", name);
    if (st == READ_TOO_LARGE)
        return invalid("workspace file \"%s\" is larger than %u bytes", name,
                       CG_AGENT_FILE_MAX_BYTES);
    return unavailable("cannot read workspace file \"%s\": %s", name, strerror(err));
}

static void do_list(fs_job *j)
{
    int dfd = open_workspace(j->agent->workspace, false);
    json_t *files = json_array();
    for (size_t i = 0; CG_AGENT_FILES[i]; i++) {
        struct stat sb;
        bool present;
        json_array_append_new(
            files, file_entry(dfd, j->agent->workspace, CG_AGENT_FILES[i], &sb, &present));
    }
    if (dfd >= 0) close(dfd);
    j->result = json_pack("{s:s, s:s, s:o}", "agentId", j->agent->id, "workspace",
                          j->agent->workspace, "files", files);
}

static void do_get(fs_job *j)
{
    int dfd = open_workspace(j->agent->workspace, false);
    char *path = join_path(j->agent->workspace, j->name);
    json_t *file = json_pack("{s:s, s:s}", "name", j->name, "path", path);
    free(path);
    char *text = NULL;
    size_t len = 0;
    struct stat sb;
    int err = 0;
    read_status st = dfd >= 0 ? read_confined(dfd, j->name, &text, &len, &sb, &err) : READ_MISSING;
    if (dfd >= 0) close(dfd);
    if (st == READ_MISSING) {
        json_object_set_new(file, "missing", json_true());
        if (!strcmp(j->name, "BOOTSTRAP.md") || !strcmp(j->name, "MEMORY.md"))
            json_object_set_new(file, "expectedAbsent", json_true());
    } else if (st != READ_OK) {
        json_decref(file);
        j->error = read_refusal(st, j->name, err);
        return;
    } else {
        json_object_set_new(file, "missing", json_false());
        json_object_set_new(file, "size", json_integer((json_int_t)len));
        json_object_set_new(
            file, "updatedAtMs",
            json_integer((json_int_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000));
        json_object_set_new(file, "content", utf8_string(text, len));
        free(text);
    }
    j->result = json_pack("{s:s, s:s, s:o}", "agentId", j->agent->id, "workspace",
                          j->agent->workspace, "file", file);
}

/* Refuses a write over anything but a regular file of one link. */
static json_t *check_writable(int dfd, const char *name)
{
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0) return NULL;
    if (!S_ISREG(sb.st_mode) || sb.st_nlink > 1)
        return invalid("unsafe workspace file \"%s\"", name);
    return NULL;
}

static json_t *write_confined(const char *workspace, const char *name, const char *content,
                              size_t len)
{
    int dfd = open_workspace(workspace, true);
    if (dfd < 0)
        return unavailable("cannot create the workspace %s: %s", workspace, strerror(-dfd));
    json_t *refusal = check_writable(dfd, name);
    close(dfd);
    if (refusal) return refusal;
    char *path = join_path(workspace, name);
    int rc = cg_write_file_atomic(path, content, len, 0600);
    free(path);
    return rc ? unavailable("cannot write workspace file \"%s\": %s", name, strerror(-rc)) : NULL;
}

static void do_set(fs_job *j)
{
    j->error = write_confined(j->agent->workspace, j->name, j->content, j->len);
    if (j->error) return;
    int dfd = open_workspace(j->agent->workspace, false);
    struct stat sb;
    bool present;
    json_t *file = file_entry(dfd, j->agent->workspace, j->name, &sb, &present);
    if (dfd >= 0) close(dfd);
    json_object_set_new(file, "content", utf8_string(j->content, j->len));
    j->result = json_pack("{s:b, s:s, s:s, s:o}", "ok", 1, "agentId", j->agent->id, "workspace",
                          j->agent->workspace, "file", file);
}

/* IDENTITY.md's "- Name: ..." lines (OpenClaw's parseIdentityMarkdown, simplified):
 * name, emoji, avatar; values in parentheses are template placeholders. */
static void parse_identity(const char *text, char **name, char **emoji, char **avatar)
{
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[1024];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        line = end ? end + 1 : NULL;
        char *p = buf;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '-') p++;
        char *colon = strchr(p, ':');
        if (!colon) continue;
        *colon = 0;
        char label[32];
        size_t n = 0;
        for (char *q = p; *q && n < sizeof label - 1; q++)
            if (isalpha((unsigned char)*q)) label[n++] = (char)tolower((unsigned char)*q);
        label[n] = 0;
        char *v = colon + 1, *ve;
        while (*v && (isspace((unsigned char)*v) || *v == '*' || *v == '_' || *v == '`'))
            v++;
        ve = v + strlen(v);
        while (ve > v &&
               (isspace((unsigned char)ve[-1]) || ve[-1] == '*' || ve[-1] == '_' || ve[-1] == '`'))
            ve--;
        *ve = 0;
        if (!*v || (*v == '(' && ve[-1] == ')')) continue;
        char **slot = !strcmp(label, "name")     ? name
                      : !strcmp(label, "emoji")  ? emoji
                      : !strcmp(label, "avatar") ? avatar
                                                 : NULL;
        if (slot && !*slot) {
            json_t *clean = utf8_string(v, strlen(v));
            *slot = cg_strdup(json_string_value(clean));
            json_decref(clean);
        }
    }
}

static void workspace_identity(const char *workspace, char **name, char **emoji, char **avatar)
{
    int dfd = open_workspace(workspace, false);
    if (dfd < 0) return;
    char *text;
    size_t len;
    struct stat sb;
    int err;
    if (read_confined(dfd, "IDENTITY.md", &text, &len, &sb, &err) == READ_OK) {
        parse_identity(text, name, emoji, avatar);
        free(text);
    }
    close(dfd);
}

static void do_identity(fs_job *j)
{
    char *fname = NULL, *femoji = NULL, *favatar = NULL;
    workspace_identity(j->agent->workspace, &fname, &femoji, &favatar);
    const char *name = j->agent->name ? j->agent->name : fname ? fname : "Assistant";
    const char *source = j->agent->name ? "agent" : fname ? "workspace" : "default";
    const char *avatar = j->agent->avatar  ? j->agent->avatar
                         : j->agent->emoji ? j->agent->emoji
                         : favatar         ? favatar
                         : femoji          ? femoji
                                           : "A";
    const char *emoji = j->agent->emoji ? j->agent->emoji : femoji;
    j->result = json_pack("{s:s, s:s, s:s, s:s}", "agentId", j->agent->id, "name", name,
                          "nameSource", source, "avatar", avatar);
    if (emoji) json_object_set_new(j->result, "emoji", json_string(emoji));
    free(fname);
    free(femoji);
    free(favatar);
}

static void do_prompt(fs_job *j)
{
    char *fname = NULL, *femoji = NULL, *favatar = NULL;
    workspace_identity(j->agent->workspace, &fname, &femoji, &favatar);
    const char *name = j->agent->name ? j->agent->name : fname ? fname : "Assistant";
    cg_buf b = {0};
    char intro[512];
    snprintf(intro, sizeof intro,
             "You are %s (agent \"%s\"), answering through the clawgate gateway. The files "
             "below are your workspace: who you are, who you help and how you work.\n\n",
             name, j->agent->id);
    cg_buf_appends(&b, intro);
    int dfd = open_workspace(j->agent->workspace, false);
    for (size_t i = 0; dfd >= 0 && CG_AGENT_FILES[i]; i++) {
        char *text;
        size_t len;
        struct stat sb;
        int err;
        if (read_confined(dfd, CG_AGENT_FILES[i], &text, &len, &sb, &err) != READ_OK) continue;
        json_t *clean = utf8_string(text, len);
        free(text);
        const char *c = json_string_value(clean);
        size_t clen = json_string_length(clean);
        bool blank = true;
        for (size_t k = 0; k < clen && blank; k++)
            blank = isspace((unsigned char)c[k]);
        if (!blank) {
            cg_buf_appends(&b, "## ");
            cg_buf_appends(&b, CG_AGENT_FILES[i]);
            cg_buf_appends(&b, "\n\n");
            cg_buf_append(&b, c, clen);
            cg_buf_appends(&b, "\n\n");
        }
        json_decref(clean);
    }
    if (dfd >= 0) close(dfd);
    j->prompt = b.data;
    free(fname);
    free(femoji);
    free(favatar);
}

static void do_create(fs_job *j)
{
    int dfd = open_workspace(j->agent->workspace, true);
    if (dfd < 0) {
        j->error =
            unavailable("cannot create the workspace %s: %s", j->agent->workspace, strerror(-dfd));
        return;
    }
    struct stat sb;
    bool exists = fstatat(dfd, "IDENTITY.md", &sb, AT_SYMLINK_NOFOLLOW) == 0;
    close(dfd);
    if (exists) return;
    cg_buf b = {0};
    cg_buf_appends(&b, "# IDENTITY.md - Who Am I?\n\n- Name: ");
    cg_buf_appends(&b, j->agent->name ? j->agent->name : j->agent->id);
    cg_buf_appends(&b, "\n");
    if (j->agent->emoji) {
        cg_buf_appends(&b, "- Emoji: ");
        cg_buf_appends(&b, j->agent->emoji);
        cg_buf_appends(&b, "\n");
    }
    if (j->agent->avatar) {
        cg_buf_appends(&b, "- Avatar: ");
        cg_buf_appends(&b, j->agent->avatar);
        cg_buf_appends(&b, "\n");
    }
    j->error = write_confined(j->agent->workspace, "IDENTITY.md", b.data, b.len);
    cg_buf_reset(&b);
}

static void do_update(fs_job *j)
{
    int dfd = open_workspace(j->agent->workspace, true);
    if (dfd < 0)
        j->error =
            unavailable("cannot create the workspace %s: %s", j->agent->workspace, strerror(-dfd));
    else
        close(dfd);
}

/* A deleted agent's workspace goes to <state>/trash/ when it lies inside the state dir;
 * elsewhere it is left alone (the user put it there). */
static void do_delete(fs_job *j, const char *state_dir)
{
    const char *ws = j->agent->workspace;
    size_t sl = strlen(state_dir);
    json_decref(j->result);
    json_t *removed = json_array(), *failed = json_array();
    struct stat sb;
    if (lstat(ws, &sb) != 0) {
        json_array_append_new(removed, json_pack("{s:s, s:s}", "path", ws, "method", "missing"));
    } else if (strncmp(ws, state_dir, sl) != 0 || ws[sl] != '/' || strstr(ws + sl, "/..")) {
        json_array_append_new(failed, json_pack("{s:s, s:s}", "path", ws, "reason",
                                                "outside the state directory; left in place"));
    } else {
        char *trash = join_path(state_dir, "trash");
        char name[CG_AGENT_ID_MAX + 64];
        snprintf(name, sizeof name, "workspace-%s-%lld", j->agent->id, (long long)cg_now_ms());
        char *dest = join_path(trash, name);
        int rc = cg_mkdir_p(trash, 0700);
        if (rc == 0 && rename(ws, dest) != 0) rc = -errno;
        if (rc == 0)
            json_array_append_new(removed, json_pack("{s:s, s:s}", "path", ws, "method", "trash"));
        else
            json_array_append_new(failed,
                                  json_pack("{s:s, s:s}", "path", ws, "reason", strerror(-rc)));
        free(trash);
        free(dest);
    }
    j->result =
        json_pack("{s:b, s:s, s:i}", "ok", 1, "agentId", j->agent->id, "removedBindings", 0);
    if (json_array_size(removed))
        json_object_set_new(j->result, "removed", removed);
    else
        json_decref(removed);
    if (json_array_size(failed))
        json_object_set_new(j->result, "failed", failed);
    else
        json_decref(failed);
}

static void job_work(uv_work_t *work)
{
    cg_thread_background();
    fs_job *j = work->data;
    switch (j->op) {
    case OP_LIST:
        do_list(j);
        break;
    case OP_GET:
        do_get(j);
        break;
    case OP_SET:
        do_set(j);
        break;
    case OP_IDENTITY:
        do_identity(j);
        break;
    case OP_PROMPT:
        do_prompt(j);
        break;
    case OP_CREATE:
        do_create(j);
        break;
    case OP_UPDATE:
        do_update(j);
        break;
    case OP_DELETE:
        if (j->delete_files) do_delete(j, j->name);
        break;
    }
}

static void deliver(fs_job *j)
{
    cg_agents *a = j->a;
    a->inflight--;
    if (j->op == OP_CREATE) cg_strmap_remove(a->creating, j->agent->id);
    if (!a->freed) {
        if (j->prompt_cb) {
            char *prompt = j->prompt;
            j->prompt = NULL;
            j->prompt_cb(prompt,
                         prompt     ? NULL
                         : j->error ? json_string_value(json_object_get(j->error, "message"))
                                    : "cannot build the system prompt",
                         j->data);
        } else {
            json_t *result = j->error ? NULL : j->result, *error = j->error;
            j->result = j->error = NULL;
            if (!result && !error) error = unavailable("agent operation failed");
            j->cb(result, error, j->data);
        }
    }
    job_free(j);
    maybe_free(a);
}

static void on_patched(cg_config *cfg, cg_config_write_result *result, void *data);

static void job_after(uv_work_t *work, int status)
{
    fs_job *j = work->data;
    (void)status;
    /* create / update: the files are there; now the configuration. */
    if (!j->error && j->patch && !j->a->freed) {
        cg_config_patch_async(j->a->cfg, j->a->loop, j->patch, on_patched, j);
        return;
    }
    deliver(j);
}

static void on_patched(cg_config *cfg, cg_config_write_result *result, void *data)
{
    fs_job *j = data;
    (void)cfg;
    json_decref(j->patch);
    j->patch = NULL;
    if (result->error) {
        json_decref(j->result);
        j->result = NULL;
        j->error = result->error;
        result->error = NULL;
    }
    json_decref(result->payload);
    json_decref(result->error);
    if (j->op == OP_DELETE && !j->error && j->delete_files) {
        /* The entry is gone; now the workspace. */
        j->patch = NULL;
        uv_queue_work(j->a->loop, &j->work, job_work, job_after);
        return;
    }
    deliver(j);
}

static fs_job *job_new(cg_agents *a, job_op op, cg_agent *agent, cg_agents_result_fn cb, void *data)
{
    fs_job *j = cg_xcalloc(1, sizeof *j);
    j->a = a;
    j->op = op;
    j->agent = agent;
    j->cb = cb;
    j->data = data;
    j->work.data = j;
    a->inflight++;
    return j;
}

static void job_start(fs_job *j)
{
    uv_queue_work(j->a->loop, &j->work, job_work, job_after);
}

static void nothing(uv_work_t *work)
{
    (void)work;
}

static void refuse_later(cg_agents *a, cg_agents_result_fn cb, void *data, json_t *error)
{
    fs_job *j = job_new(a, OP_LIST, NULL, cb, data);
    j->error = error;
    uv_queue_work(a->loop, &j->work, nothing, job_after);
}

/* ---- files ---- */

void cg_agents_files_list(cg_agents *a, const char *agent_id, cg_agents_result_fn cb, void *data)
{
    cg_agent *agent = cg_agents_find(a, agent_id);
    if (!agent) {
        refuse_later(a, cb, data, not_found(agent_id));
        return;
    }
    job_start(job_new(a, OP_LIST, agent, cb, data));
}

void cg_agents_file_get(cg_agents *a, const char *agent_id, const char *name,
                        cg_agents_result_fn cb, void *data)
{
    cg_agent *agent = cg_agents_find(a, agent_id);
    if (!agent) {
        refuse_later(a, cb, data, not_found(agent_id));
        return;
    }
    if (!cg_agent_file_allowed(name)) {
        cg_agent_free(agent);
        refuse_later(a, cb, data, invalid("unsupported file \"%s\"", name));
        return;
    }
    fs_job *j = job_new(a, OP_GET, agent, cb, data);
    j->name = cg_strdup(name);
    job_start(j);
}

void cg_agents_file_set(cg_agents *a, const char *agent_id, const char *name, const char *content,
                        size_t len, cg_agents_result_fn cb, void *data)
{
    cg_agent *agent = cg_agents_find(a, agent_id);
    if (!agent) {
        refuse_later(a, cb, data, not_found(agent_id));
        return;
    }
    if (!cg_agent_file_allowed(name)) {
        cg_agent_free(agent);
        refuse_later(a, cb, data, invalid("unsupported file \"%s\"", name));
        return;
    }
    if (len > CG_AGENT_FILE_MAX_BYTES) {
        cg_agent_free(agent);
        refuse_later(
            a, cb, data,
            invalid("content of \"%s\" is larger than %u bytes", name, CG_AGENT_FILE_MAX_BYTES));
        return;
    }
    fs_job *j = job_new(a, OP_SET, agent, cb, data);
    j->name = cg_strdup(name);
    j->content = cg_xmalloc(len + 1);
    memcpy(j->content, content, len);
    j->content[len] = 0;
    j->len = len;
    job_start(j);
}

void cg_agents_identity(cg_agents *a, const char *agent_id, cg_agents_result_fn cb, void *data)
{
    cg_agent *agent = cg_agents_find(a, agent_id ? agent_id : CG_AGENTS_DEFAULT_ID);
    if (!agent) {
        refuse_later(a, cb, data, not_found(agent_id));
        return;
    }
    job_start(job_new(a, OP_IDENTITY, agent, cb, data));
}

void cg_agents_system_prompt(cg_agents *a, const char *agent_id, cg_agents_prompt_fn cb, void *data)
{
    cg_agent *agent = cg_agents_find(a, agent_id ? agent_id : CG_AGENTS_DEFAULT_ID);
    fs_job *j = job_new(a, OP_PROMPT, agent, NULL, data);
    j->prompt_cb = cb;
    if (!agent) {
        /* The callback gets NULL and the reason. */
        j->op = OP_LIST;
        j->error = not_found(agent_id);
        uv_queue_work(a->loop, &j->work, nothing, job_after);
        return;
    }
    job_start(j);
}

/* ---- create, update, delete ---- */

static json_t *entry_patch(const char *id, json_t *entry)
{
    return json_pack("{s:{s:{s:o}}}", "agents", "entries", id, entry);
}

void cg_agents_create(cg_agents *a, const json_t *params, cg_agents_result_fn cb, void *data)
{
    const char *raw_name = json_string_value(json_object_get(params, "name"));
    char name[512];
    const char *p = raw_name ? raw_name : "";
    while (isspace((unsigned char)*p))
        p++;
    snprintf(name, sizeof name, "%s", p);
    for (size_t n = strlen(name); n > 0 && isspace((unsigned char)name[n - 1]); n--)
        name[n - 1] = 0;
    if (!name[0]) {
        refuse_later(a, cb, data, invalid("agent name is required"));
        return;
    }
    char id[CG_AGENT_ID_MAX + 1];
    if (!cg_agent_id_normalize(name, id, sizeof id)) {
        refuse_later(a, cb, data,
                     invalid("Agent name \"%s\" has no valid id characters. Use at least one "
                             "letter a-z or digit.",
                             name));
        return;
    }
    size_t n;
    cg_agent **list = cg_agents_list(a, &n);
    cg_agents_list_free(list, n);
    cg_agent *existing = cg_agents_find(a, id);
    if (existing || cg_strmap_get(a->creating, id)) {
        cg_agent_free(existing);
        refuse_later(a, cb, data, invalid("agent \"%s\" already exists", id));
        return;
    }
    if (n >= CG_AGENTS_MAX) {
        refuse_later(a, cb, data, invalid("too many agents (%d); delete one first", CG_AGENTS_MAX));
        return;
    }
    const char *ws_param = json_string_value(json_object_get(params, "workspace"));
    char *workspace = NULL;
    if (ws_param) {
        workspace = expand_path(ws_param);
        if (!workspace) {
            refuse_later(
                a, cb, data,
                invalid("workspace must be an absolute path or start with ~/: %s", ws_param));
            return;
        }
    }
    cg_agent *agent = cg_xcalloc(1, sizeof *agent);
    snprintf(agent->id, sizeof agent->id, "%s", id);
    agent->name = cg_strdup(name);
    agent->workspace = workspace ? workspace : default_workspace(a, id);
    agent->model = non_empty_string(json_object_get(params, "model"));
    agent->emoji = non_empty_string(json_object_get(params, "emoji"));
    agent->avatar = non_empty_string(json_object_get(params, "avatar"));
    agent->configured = true;

    json_t *identity = json_pack("{s:s}", "name", name);
    if (agent->emoji) json_object_set_new(identity, "emoji", json_string(agent->emoji));
    if (agent->avatar) json_object_set_new(identity, "avatar", json_string(agent->avatar));
    json_t *entry = json_pack("{s:s, s:s, s:o}", "name", name, "workspace", agent->workspace,
                              "identity", identity);
    if (agent->model) json_object_set_new(entry, "model", json_string(agent->model));

    fs_job *j = job_new(a, OP_CREATE, agent, cb, data);
    j->patch = entry_patch(id, entry);
    j->result = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "agentId", id, "name", name, "workspace",
                          agent->workspace);
    if (agent->model) json_object_set_new(j->result, "model", json_string(agent->model));
    cg_strmap_set(a->creating, id, j);
    job_start(j);
}

void cg_agents_update(cg_agents *a, const json_t *params, cg_agents_result_fn cb, void *data)
{
    const char *raw_id = json_string_value(json_object_get(params, "agentId"));
    cg_agent *agent = cg_agents_find(a, raw_id);
    if (!agent) {
        refuse_later(a, cb, data, not_found(raw_id ? raw_id : ""));
        return;
    }
    json_t *entry = json_object(), *identity = json_object();
    const char *name = json_string_value(json_object_get(params, "name"));
    if (name && *name) {
        json_object_set_new(entry, "name", json_string(name));
        json_object_set_new(identity, "name", json_string(name));
    }
    const char *ws_param = json_string_value(json_object_get(params, "workspace"));
    if (ws_param) {
        char *workspace = expand_path(ws_param);
        if (!workspace) {
            json_decref(entry);
            json_decref(identity);
            cg_agent_free(agent);
            refuse_later(
                a, cb, data,
                invalid("workspace must be an absolute path or start with ~/: %s", ws_param));
            return;
        }
        json_object_set_new(entry, "workspace", json_string(workspace));
        free(agent->workspace);
        agent->workspace = workspace;
    }
    const json_t *model = json_object_get(params, "model");
    if (json_is_null(model)) json_object_set_new(entry, "model", json_null());
    if (json_is_string(model)) json_object_set(entry, "model", (json_t *)model);
    static const char *const ident_keys[] = {"emoji", "avatar"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(params, ident_keys[i]));
        if (v) json_object_set_new(identity, ident_keys[i], *v ? json_string(v) : json_null());
    }
    if (json_object_size(identity))
        json_object_set_new(entry, "identity", identity);
    else
        json_decref(identity);
    fs_job *j = job_new(a, OP_UPDATE, agent, cb, data);
    j->patch = entry_patch(agent->id, entry);
    j->result = json_pack("{s:b, s:s}", "ok", 1, "agentId", agent->id);
    /* A new workspace is created first; otherwise nothing on disk to prepare. */
    uv_queue_work(a->loop, &j->work, ws_param ? job_work : nothing, job_after);
}

void cg_agents_delete(cg_agents *a, const json_t *params, cg_agents_result_fn cb, void *data)
{
    const char *raw_id = json_string_value(json_object_get(params, "agentId"));
    char id[CG_AGENT_ID_MAX + 1];
    if (raw_id && cg_agent_id_normalize(raw_id, id, sizeof id) &&
        strcmp(id, CG_AGENTS_DEFAULT_ID) == 0) {
        refuse_later(a, cb, data,
                     invalid("Agent \"%s\" is the default agent and cannot be deleted.", id));
        return;
    }
    cg_agent *agent = cg_agents_find(a, raw_id);
    if (!agent || !agent->configured) {
        cg_agent_free(agent);
        refuse_later(a, cb, data, not_found(raw_id ? raw_id : ""));
        return;
    }
    const json_t *df = json_object_get(params, "deleteFiles");
    fs_job *j = job_new(a, OP_DELETE, agent, cb, data);
    j->delete_files = !json_is_false(df);
    j->name = cg_strdup(a->state_dir); /* do_delete's state dir: the job's own copy */
    j->patch = entry_patch(agent->id, json_null());
    j->result = json_pack("{s:b, s:s, s:i}", "ok", 1, "agentId", agent->id, "removedBindings", 0);
    cg_config_patch_async(a->cfg, a->loop, j->patch, on_patched, j);
}
