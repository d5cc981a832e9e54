/* Skills discovery and eligibility (see catalog.h).
 *
 * Design: one scan builds everything the gateway answers about a workspace at once
 * (status report, install specs, bins, prompt section), so the methods and the run
 * engine never read skill files themselves. The scan is a plain function over the
 * filesystem, the process environment and a copy of the configuration document; the
 * async wrapper moves it to the thread pool and back. Binary lookups are cached per
 * scan (many skills name the same bins). */
#include "skills/catalog.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "skills/frontmatter.h"

#if defined(__APPLE__)
#define CG_PLATFORM "darwin"
#elif defined(__linux__)
#define CG_PLATFORM "linux"
#elif defined(__FreeBSD__)
#define CG_PLATFORM "freebsd"
#else
#define CG_PLATFORM "unknown"
#endif

/* ---- small readers over the manifest ---- */

static const char *str_member(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s && *s ? s : NULL;
}

/* OpenClaw's normalizeStringList: an array of strings or a comma-separated string, each
 * item trimmed, empty ones dropped. New array. */
static json_t *string_list(const json_t *v)
{
    json_t *out = json_array();
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item)
        {
            const char *s = json_string_value(item);
            if (!s) continue;
            while (isspace((unsigned char)*s))
                s++;
            size_t n = strlen(s);
            while (n > 0 && isspace((unsigned char)s[n - 1]))
                n--;
            if (n) json_array_append_new(out, json_stringn(s, n));
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            const char *comma = strchr(s, ',');
            size_t n = comma ? (size_t)(comma - s) : strlen(s);
            const char *b = s;
            size_t len = n;
            while (len > 0 && isspace((unsigned char)*b)) {
                b++;
                len--;
            }
            while (len > 0 && isspace((unsigned char)b[len - 1]))
                len--;
            if (len) json_array_append_new(out, json_stringn(b, len));
            s += n + (comma ? 1 : 0);
        }
    }
    return out;
}

/* The manifest block: metadata.openclaw (or metadata.clawdbot), metadata being a mapping
 * or JSON text. Borrowed from *holder, which the caller frees. */
static const json_t *manifest_of(const json_t *fm, json_t **holder)
{
    const json_t *meta = json_object_get(fm, "metadata");
    *holder = NULL;
    if (json_is_string(meta)) {
        char err[256];
        *holder =
            cg_skill_flow_parse(json_string_value(meta), json_string_length(meta), err, sizeof err);
        meta = *holder;
    }
    if (!json_is_object(meta)) return NULL;
    static const char *const keys[] = {"openclaw", "clawdbot", NULL};
    for (size_t i = 0; keys[i]; i++) {
        const json_t *m = json_object_get(meta, keys[i]);
        if (json_is_object(m)) return m;
    }
    return NULL;
}

static bool json_truthy(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_TRUE:
    case JSON_OBJECT:
    case JSON_ARRAY:
        return true;
    default:
        return false;
    }
}

/* OpenClaw's isSkillConfigPathTruthy: a dotted path into the configuration, with its
 * defaults for paths that are unset. */
static bool config_path_truthy(const json_t *config, const char *path)
{
    const json_t *v = config;
    char seg[256];
    const char *s = path;
    while (v && *s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (n == 0 || n >= sizeof seg) return false;
        memcpy(seg, s, n);
        seg[n] = 0;
        v = json_object_get(v, seg);
        s += n + (dot ? 1 : 0);
    }
    if (!v) {
        static const char *const defaults_true[] = {"browser.enabled", "browser.evaluateEnabled",
                                                    "workspace.dir", NULL};
        for (size_t i = 0; defaults_true[i]; i++)
            if (!strcmp(path, defaults_true[i])) return true;
        return false;
    }
    return json_truthy(v);
}

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    if (!v) return false;
    while (isspace((unsigned char)*v))
        v++;
    return *v != 0;
}

static bool has_binary(json_t *cache, const char *bin)
{
    json_t *known = json_object_get(cache, bin);
    if (known) return json_is_true(known);
    bool found = false;
    const char *path = getenv("PATH");
    if (*bin && !strchr(bin, '/') && path) {
        const char *s = path;
        while (!found) {
            const char *colon = strchr(s, ':');
            size_t n = colon ? (size_t)(colon - s) : strlen(s);
            if (n > 0) {
                char full[4096];
                int w = snprintf(full, sizeof full, "%.*s/%s", (int)n, s, bin);
                struct stat st;
                if (w > 0 && (size_t)w < sizeof full && stat(full, &st) == 0 &&
                    S_ISREG(st.st_mode) && access(full, X_OK) == 0)
                    found = true;
            }
            if (!colon) break;
            s = colon + 1;
        }
    }
    json_object_set_new(cache, bin, json_boolean(found));
    return found;
}

/* ---- install specs (OpenClaw's parseInstallSpec) ---- */

static bool all_match(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s)) return false;
    return true;
}

static bool safe_url(const char *u)
{
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) return false;
    for (; *u; u++)
        if (isspace((unsigned char)*u) || (unsigned char)*u < 0x20) return false;
    return true;
}

static json_t *parse_install_spec(const json_t *raw)
{
    if (!json_is_object(raw)) return NULL;
    const char *kind_raw = str_member(raw, "kind");
    if (!kind_raw) kind_raw = str_member(raw, "type");
    if (!kind_raw) return NULL;
    char kind[16];
    size_t kn = strlen(kind_raw);
    if (kn >= sizeof kind) return NULL;
    for (size_t i = 0; i <= kn; i++)
        kind[i] = (char)tolower((unsigned char)kind_raw[i]);
    if (strcmp(kind, "brew") && strcmp(kind, "node") && strcmp(kind, "go") && strcmp(kind, "uv") &&
        strcmp(kind, "download"))
        return NULL;
    json_t *spec = json_pack("{s:s}", "kind", kind);
    const char *id = json_string_value(json_object_get(raw, "id"));
    if (id) json_object_set_new(spec, "id", json_string(id));
    const char *label = json_string_value(json_object_get(raw, "label"));
    if (label) json_object_set_new(spec, "label", json_string(label));
    json_t *bins = string_list(json_object_get(raw, "bins"));
    if (json_array_size(bins)) json_object_set(spec, "bins", bins);
    json_decref(bins);
    json_t *os = string_list(json_object_get(raw, "os"));
    if (json_array_size(os)) json_object_set(spec, "os", os);
    json_decref(os);
    const char *formula = str_member(raw, "formula");
    if (!formula) formula = str_member(raw, "cask");
    if (formula && formula[0] != '-' && !strstr(formula, "..") && all_match(formula, "@+._/-"))
        json_object_set_new(spec, "formula", json_string(formula));
    const char *pkg = str_member(raw, "package");
    if (pkg && pkg[0] != '-' && !strstr(pkg, "://") && !strchr(pkg, '\\') &&
        (!strcmp(kind, "node") || !strcmp(kind, "uv")))
        json_object_set_new(spec, "package", json_string(pkg));
    const char *module = str_member(raw, "module");
    if (module && module[0] != '-' && !strstr(module, "://") && !strchr(module, '\\') &&
        all_match(module, "._~+-/@"))
        json_object_set_new(spec, "module", json_string(module));
    const char *url = str_member(raw, "url");
    if (url && safe_url(url)) json_object_set_new(spec, "url", json_string(url));
    const json_t *sha = json_object_get(raw, "sha256");
    if (!strcmp(kind, "download") && sha) {
        const char *h = json_string_value(sha);
        char lower[65];
        size_t hl = h ? strlen(h) : 0;
        bool ok = hl == 64;
        for (size_t i = 0; ok && i < 64; i++) {
            ok = isxdigit((unsigned char)h[i]) != 0;
            lower[i] = (char)tolower((unsigned char)h[i]);
        }
        if (!ok) {
            json_decref(spec);
            return NULL;
        }
        lower[64] = 0;
        json_object_set_new(spec, "sha256", json_string(lower));
    }
    static const char *const strings[] = {"archive", "targetDir", NULL};
    for (size_t i = 0; strings[i]; i++) {
        const char *v = json_string_value(json_object_get(raw, strings[i]));
        if (v) json_object_set_new(spec, strings[i], json_string(v));
    }
    const json_t *extract = json_object_get(raw, "extract");
    if (json_is_boolean(extract)) json_object_set(spec, "extract", (json_t *)extract);
    const json_t *strip = json_object_get(raw, "stripComponents");
    if (json_is_integer(strip)) json_object_set(spec, "stripComponents", (json_t *)strip);
    const char *need = !strcmp(kind, "brew")       ? "formula"
                       : !strcmp(kind, "go")       ? "module"
                       : !strcmp(kind, "download") ? "url"
                                                   : "package";
    if (!json_object_get(spec, need)) {
        json_decref(spec);
        return NULL;
    }
    return spec;
}

static bool os_ok(const json_t *list)
{
    if (!json_array_size(list)) return true;
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        if (!s) continue;
        if (!strcasecmp(s, CG_PLATFORM) ||
            (!strcasecmp(s, "macos") && !strcmp(CG_PLATFORM, "darwin")))
            return true;
    }
    return false;
}

static json_t *install_option(const json_t *spec)
{
    const char *kind = str_member(spec, "kind");
    const char *label = str_member(spec, "label");
    char buf[512];
    if (!strcmp(kind, "node")) {
        snprintf(buf, sizeof buf, "Install %s (npm)", str_member(spec, "package"));
        label = buf;
    } else if (!label) {
        const char *url = str_member(spec, "url");
        if (!strcmp(kind, "brew"))
            snprintf(buf, sizeof buf, "Install %s (brew)", str_member(spec, "formula"));
        else if (!strcmp(kind, "go"))
            snprintf(buf, sizeof buf, "Install %s (go)", str_member(spec, "module"));
        else if (!strcmp(kind, "uv"))
            snprintf(buf, sizeof buf, "Install %s (uv)", str_member(spec, "package"));
        else {
            const char *last = strrchr(url, '/');
            snprintf(buf, sizeof buf, "Download %s", last && last[1] ? last + 1 : url);
        }
        label = buf;
    }
    json_t *bins = json_object_get(spec, "bins");
    return json_pack("{s:s, s:s, s:s, s:o}", "id", str_member(spec, "id"), "kind", kind, "label",
                     label, "bins", bins ? json_incref(bins) : json_array());
}

static const json_t *find_kind(const json_t *specs, const char *kind)
{
    size_t i;
    const json_t *spec;
    json_array_foreach(specs, i, spec) if (!strcmp(str_member(spec, "kind"), kind)) return spec;
    return NULL;
}

/* OpenClaw's normalizeInstallOptions: every download option when all are downloads, else
 * the preferred one (uv, node, go, download, brew: brew only if it is on PATH). */
static json_t *install_options(const json_t *specs, const json_t *skill_os, json_t *bin_cache)
{
    json_t *out = json_array();
    if (!os_ok(skill_os)) return out;
    json_t *fit = json_array();
    size_t i;
    json_t *spec;
    json_array_foreach(specs, i, spec) if (os_ok(json_object_get(spec, "os")))
        json_array_append(fit, spec);
    bool all_download = json_array_size(fit) > 0;
    json_array_foreach(fit, i, spec) if (strcmp(str_member(spec, "kind"), "download"))
        all_download = false;
    if (all_download) {
        json_array_foreach(fit, i, spec) json_array_append_new(out, install_option(spec));
    } else if (json_array_size(fit)) {
        static const char *const order[] = {"uv", "node", "brew", "go", "download", "brew", NULL};
        bool brew = has_binary(bin_cache, "brew");
        const json_t *chosen = NULL;
        for (size_t k = 0; order[k] && !chosen; k++) {
            if (k == 2 && !brew) continue; /* brew comes early only when it is there */
            chosen = find_kind(fit, order[k]);
        }
        if (!chosen) chosen = json_array_get(fit, 0);
        json_array_append_new(out, install_option(chosen));
    }
    json_decref(fit);
    return out;
}

/* ---- one skill ---- */

typedef struct scan_ctx {
    const json_t *config;
    json_t *bin_cache;
    json_t *skills;  /* status entries */
    json_t *specs;   /* name -> specs */
    json_t *bins;    /* name -> true */
    json_t *names;   /* names already taken (workspace first) */
    json_t *visible; /* entries for the prompt */
} scan_ctx;

static void add_bins(scan_ctx *c, const json_t *list)
{
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) json_object_set_new(c->bins, json_string_value(v), json_true());
}

static bool fm_bool(const json_t *fm, const char *key, bool dflt)
{
    const char *s = json_string_value(json_object_get(fm, key));
    if (!s) return dflt;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") || !strcasecmp(s, "on"))
        return true;
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") || !strcasecmp(s, "off"))
        return false;
    return dflt;
}

static void add_skill(scan_ctx *c, const char *dir_name, const char *base_dir,
                      const char *file_path, const char *source, const json_t *fm)
{
    const char *name = str_member(fm, "name");
    if (!name) name = dir_name;
    if (json_object_get(c->names, name)) return; /* hidden by the workspace's skill */
    json_object_set_new(c->names, name, json_true());
    const char *description = json_string_value(json_object_get(fm, "description"));

    json_t *holder;
    const json_t *man = manifest_of(fm, &holder);
    const char *skill_key = str_member(man, "skillKey");
    if (!skill_key) skill_key = name;
    const char *primary_env = json_string_value(json_object_get(man, "primaryEnv"));
    const char *emoji = json_string_value(json_object_get(man, "emoji"));
    if (!emoji) emoji = str_member(fm, "emoji");
    const char *homepage = str_member(man, "homepage");
    static const char *const home_keys[] = {"homepage", "website", "url", NULL};
    for (size_t i = 0; !homepage && home_keys[i]; i++)
        homepage = str_member(fm, home_keys[i]);
    bool always = json_is_true(json_object_get(man, "always"));

    const json_t *entries = json_object_get(json_object_get(c->config, "skills"), "entries");
    const json_t *entry = json_object_get(entries, skill_key);
    if (!json_is_object(entry)) entry = NULL;
    bool disabled = json_is_false(json_object_get(entry, "enabled"));

    const json_t *req = json_object_get(man, "requires");
    json_t *bins = string_list(json_object_get(req, "bins"));
    json_t *any_bins = string_list(json_object_get(req, "anyBins"));
    json_t *env = string_list(json_object_get(req, "env"));
    json_t *config_paths = string_list(json_object_get(req, "config"));
    json_t *os = string_list(json_object_get(man, "os"));

    json_t *miss_bins = json_array(), *miss_env = json_array(), *miss_config = json_array();
    json_t *checks = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(bins, i, v) if (!has_binary(c->bin_cache, json_string_value(v)))
        json_array_append(miss_bins, v);
    bool any_ok = json_array_size(any_bins) == 0;
    json_array_foreach(any_bins, i, v) if (has_binary(c->bin_cache, json_string_value(v))) any_ok =
        true;
    json_array_foreach(env, i, v)
    {
        const char *e = json_string_value(v);
        const char *conf = json_string_value(json_object_get(json_object_get(entry, "env"), e));
        const json_t *api_key = json_object_get(entry, "apiKey");
        bool ok =
            env_set(e) || (conf && *conf) ||
            (primary_env && !strcmp(primary_env, e) &&
             ((json_is_string(api_key) && json_string_length(api_key)) || json_is_object(api_key)));
        if (!ok) json_array_append(miss_env, v);
    }
    json_array_foreach(config_paths, i, v)
    {
        bool ok = config_path_truthy(c->config, json_string_value(v));
        json_array_append_new(checks, json_pack("{s:O, s:b}", "path", v, "satisfied", ok));
        if (!ok) json_array_append(miss_config, v);
    }
    bool os_fits = os_ok(os);
    json_t *missing = json_pack("{s:o, s:o, s:o, s:o, s:o}", "bins",
                                always ? json_array() : json_incref(miss_bins), "anyBins",
                                always || any_ok ? json_array() : json_incref(any_bins), "env",
                                always ? json_array() : json_incref(miss_env), "config",
                                always ? json_array() : json_incref(miss_config), "os",
                                os_fits ? json_array() : json_incref(os));
    bool satisfied = os_fits && (always || (json_array_size(miss_bins) == 0 && any_ok &&
                                            json_array_size(miss_env) == 0 &&
                                            json_array_size(miss_config) == 0));
    bool eligible = !disabled && satisfied;
    bool user_invocable = fm_bool(fm, "user-invocable", true);
    bool model_visible = eligible && !fm_bool(fm, "disable-model-invocation", false);

    /* Install specs, each with its id (OpenClaw's "<kind>-<index>" when none). */
    json_t *specs = json_array();
    json_t *raw_install = json_object_get(man, "install");
    json_array_foreach(raw_install, i, v)
    {
        json_t *spec = parse_install_spec(v);
        if (!spec) continue;
        if (!json_object_get(spec, "id")) {
            char id[64];
            snprintf(id, sizeof id, "%s-%zu", str_member(spec, "kind"), json_array_size(specs));
            json_object_set_new(spec, "id", json_string(id));
        }
        add_bins(c, json_object_get(spec, "bins"));
        json_array_append_new(specs, spec);
    }
    add_bins(c, bins);
    add_bins(c, any_bins);

    json_t *status = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "name", name, "description",
                               description ? description : "", "source", source, "bundled", 0,
                               "filePath", file_path, "baseDir", base_dir, "skillKey", skill_key);
    if (primary_env) json_object_set_new(status, "primaryEnv", json_string(primary_env));
    if (emoji) json_object_set_new(status, "emoji", json_string(emoji));
    if (homepage) json_object_set_new(status, "homepage", json_string(homepage));
    json_t *rest = json_pack(
        "{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:{s:o, s:o, s:o, s:o, s:o}, s:o, s:o, "
        "s:o}",
        "always", always, "disabled", disabled, "blockedByAllowlist", 0, "blockedByAgentFilter", 0,
        "eligible", eligible, "platformIncompatible", !os_fits, "modelVisible", model_visible,
        "userInvocable", user_invocable, "commandVisible", eligible && user_invocable,
        "requirements", "bins", bins, "anyBins", any_bins, "env", env, "config", config_paths, "os",
        json_incref(os), "missing", missing, "configChecks", checks, "install",
        install_options(specs, os, c->bin_cache));
    json_object_update(status, rest);
    json_decref(rest);
    json_decref(os);
    json_decref(miss_bins);
    json_decref(miss_env);
    json_decref(miss_config);
    json_array_append(c->skills, status);
    if (model_visible) json_array_append(c->visible, status);
    json_decref(status);
    json_object_set_new(c->specs, name, specs);
    json_decref(holder);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_root(scan_ctx *c, const char *root, const char *source)
{
    DIR *d = opendir(root);
    if (!d) return;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n == CG_SKILLS_MAX_PER_ROOT) {
            cg_log(CG_LOG_WARN, "skills", "too many skill folders; the rest are ignored",
                   json_pack("{s:s, s:i}", "dir", root, "max", CG_SKILLS_MAX_PER_ROOT));
            break;
        }
        names = cg_xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = cg_strdup(de->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, compare_strings);
    for (size_t i = 0; i < n; i++) {
        char base[4096], file[4200];
        int w = snprintf(base, sizeof base, "%s/%s", root, names[i]);
        struct stat st;
        if (w < 0 || (size_t)w >= sizeof base || stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(names[i]);
            continue;
        }
        snprintf(file, sizeof file, "%s/SKILL.md", base);
        json_t *probe = json_string(file); /* paths go into JSON: UTF-8 only */
        if (!probe) {
            cg_log(CG_LOG_WARN, "skills", "skill folder name is not UTF-8; ignored",
                   json_pack("{s:s}", "dir", root));
            free(names[i]);
            continue;
        }
        json_decref(probe);
        char *text = NULL;
        size_t len = 0;
        int rc = cg_read_file(file, CG_SKILL_FILE_MAX_BYTES, &text, &len);
        if (rc == 0) {
            char err[256];
            json_t *fm = cg_skill_frontmatter_parse(text, len, err, sizeof err);
            if (fm)
                add_skill(c, names[i], base, file, source, fm);
            else
                cg_log(CG_LOG_WARN, "skills", "invalid SKILL.md",
                       json_pack("{s:s, s:s}", "path", file, "error", err));
            json_decref(fm);
        } else if (rc != -ENOENT) {
            cg_log(CG_LOG_WARN, "skills", "unreadable SKILL.md",
                   json_pack("{s:s, s:s}", "path", file, "error",
                             rc == -EFBIG ? "larger than 256 KiB" : strerror(-rc)));
        }
        free(text);
        free(names[i]);
    }
    free(names);
}

static void xml_escape(cg_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            cg_buf_appends(b, "&amp;");
            break;
        case '<':
            cg_buf_appends(b, "&lt;");
            break;
        case '>':
            cg_buf_appends(b, "&gt;");
            break;
        case '"':
            cg_buf_appends(b, "&quot;");
            break;
        case '\'':
            cg_buf_appends(b, "&apos;");
            break;
        default:
            cg_buf_append(b, s, 1);
        }
    }
}

static int compare_skill_names(const void *a, const void *b)
{
    return strcmp(str_member(*(const json_t *const *)a, "name"),
                  str_member(*(const json_t *const *)b, "name"));
}

static int64_t limit_of(const json_t *config, const char *key, int64_t dflt)
{
    const json_t *v =
        json_object_get(json_object_get(json_object_get(config, "skills"), "limits"), key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : dflt;
}

/* OpenClaw's buildSkillsSection over formatSkillsForPromptCore: the skills by name, as
 * many as skills.limits.maxSkillsInPrompt (150) and skills.limits.maxSkillsPromptChars
 * (18000 characters of catalog) allow, with OpenClaw's note when some are left out. */
static char *prompt_section(const json_t *visible, const json_t *config)
{
    size_t total = json_array_size(visible);
    if (!total) return cg_strdup("");
    const json_t **skills = cg_xcalloc(total, sizeof *skills);
    for (size_t i = 0; i < total; i++)
        skills[i] = json_array_get(visible, i);
    qsort(skills, total, sizeof *skills, compare_skill_names);
    int64_t max_skills = limit_of(config, "maxSkillsInPrompt", CG_SKILLS_PROMPT_MAX_SKILLS);
    int64_t max_chars = limit_of(config, "maxSkillsPromptChars", CG_SKILLS_PROMPT_MAX_CHARS);

    static const char head[] =
        "The following skills provide specialized instructions for specific tasks.\n"
        "Read a skill's file at its listed location when the task matches its description.\n"
        "When a skill file references a relative path, resolve it against the skill directory "
        "(parent of SKILL.md / dirname of the path) and use that absolute path in tool "
        "commands.\n"
        "\n"
        "<available_skills>\n";
    static const char tail[] = "</available_skills>\n";
    cg_buf blocks = {0}, one = {0};
    cg_buf_appends(&blocks, "");
    size_t included = 0;
    for (; included < total && (int64_t)included < max_skills; included++) {
        const json_t *s = skills[included];
        one.len = 0;
        cg_buf_appends(&one, "  <skill>\n    <name>");
        xml_escape(&one, str_member(s, "name"));
        cg_buf_appends(&one, "</name>\n    <description>");
        xml_escape(&one, json_string_value(json_object_get(s, "description")));
        cg_buf_appends(&one, "</description>\n    <location>");
        xml_escape(&one, str_member(s, "filePath"));
        cg_buf_appends(&one, "</location>\n  </skill>\n");
        if ((int64_t)(sizeof head - 1 + blocks.len + one.len + sizeof tail - 1) > max_chars) break;
        cg_buf_append(&blocks, one.data, one.len);
    }
    cg_buf_reset(&one);
    free(skills);
    cg_buf b = {0};
    cg_buf_appends(&b, "");
    if (included > 0) {
        cg_buf_appends(&b, "## Skills\n"
                           "Scan <available_skills>. Clear match: read exact <location> with "
                           "`read`; obey.\n"
                           "Several: most specific. None: read none.\n"
                           "Up-front max one. Never invent paths.\n"
                           "External writes: batch safely; no tight loops; honor "
                           "429/Retry-After.\n");
        if (included < total) {
            char note[160];
            snprintf(note, sizeof note,
                     "\xE2\x9A\xA0\xEF\xB8\x8F Skills truncated: included %zu of %zu. Run "
                     "`openclaw skills check` to audit.\n",
                     included, total);
            cg_buf_appends(&b, note);
        }
        cg_buf_appends(&b, head);
        cg_buf_append(&b, blocks.data, blocks.len);
        cg_buf_appends(&b, tail);
    }
    cg_buf_reset(&blocks);
    return b.data;
}

void cg_skills_scan(const cg_skills_target *target, const char *state_dir, const json_t *config,
                    cg_skills_scan_result *out)
{
    scan_ctx c = {
        .config = config,
        .bin_cache = json_object(),
        .skills = json_array(),
        .specs = json_object(),
        .bins = json_object(),
        .names = json_object(),
        .visible = json_array(),
    };
    char ws_root[4096], managed[4096];
    snprintf(ws_root, sizeof ws_root, "%s/skills", target->workspace_dir);
    snprintf(managed, sizeof managed, "%s/skills", state_dir);
    scan_root(&c, ws_root, "openclaw-workspace");
    scan_root(&c, managed, "openclaw-managed");

    out->report =
        json_pack("{s:s, s:s, s:s, s:o}", "workspaceDir", target->workspace_dir, "managedSkillsDir",
                  managed, "agentId", target->agent_id, "skills", c.skills);
    out->specs = c.specs;
    size_t nb = json_object_size(c.bins), k = 0;
    char **names = cg_xcalloc(nb ? nb : 1, sizeof *names);
    const char *key;
    json_t *v;
    json_object_foreach(c.bins, key, v) names[k++] = (char *)key;
    if (nb) qsort(names, nb, sizeof *names, compare_strings);
    out->bins = json_array();
    for (k = 0; k < nb; k++)
        json_array_append_new(out->bins, json_string(names[k]));
    free(names);
    out->prompt = prompt_section(c.visible, config);
    json_decref(c.bin_cache);
    json_decref(c.bins);
    json_decref(c.names);
    json_decref(c.visible);
}

void cg_skills_scan_result_clear(cg_skills_scan_result *r)
{
    json_decref(r->report);
    json_decref(r->specs);
    json_decref(r->bins);
    free(r->prompt);
    memset(r, 0, sizeof *r);
}

json_t *cg_skills_report_find(const json_t *report, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(report, "skills"), i, s)
    {
        if (!strcmp(str_member(s, "name"), name)) return s;
    }
    json_array_foreach(json_object_get(report, "skills"), i, s)
    {
        if (!strcmp(str_member(s, "skillKey"), name)) return s;
    }
    return NULL;
}

/* ---- on the thread pool ---- */

typedef struct scan_job {
    uv_work_t work;
    cg_skills_target *targets;
    size_t n;
    char *state_dir;
    json_t *config;
    cg_skills_scan_result *results;
    cg_skills_scan_fn cb;
    void *data;
} scan_job;

static void scan_work(uv_work_t *w)
{
    scan_job *j = w->data;
    cg_thread_background();
    for (size_t i = 0; i < j->n; i++)
        cg_skills_scan(&j->targets[i], j->state_dir, j->config, &j->results[i]);
}

static void scan_after(uv_work_t *w, int status)
{
    (void)status; /* a job is never cancelled */
    scan_job *j = w->data;
    j->cb(j->results, j->n, j->data);
    for (size_t i = 0; i < j->n; i++) {
        cg_skills_scan_result_clear(&j->results[i]);
        free((char *)j->targets[i].agent_id);
        free((char *)j->targets[i].workspace_dir);
    }
    free(j->results);
    free(j->targets);
    free(j->state_dir);
    json_decref(j->config);
    free(j);
}

void cg_skills_scan_async(uv_loop_t *loop, const cg_skills_target *targets, size_t n,
                          const char *state_dir, const json_t *config, cg_skills_scan_fn cb,
                          void *data)
{
    scan_job *j = cg_xcalloc(1, sizeof *j);
    j->work.data = j;
    j->n = n;
    j->targets = cg_xcalloc(n ? n : 1, sizeof *j->targets);
    for (size_t i = 0; i < n; i++) {
        j->targets[i].agent_id = cg_strdup(targets[i].agent_id);
        j->targets[i].workspace_dir = cg_strdup(targets[i].workspace_dir);
    }
    j->results = cg_xcalloc(n ? n : 1, sizeof *j->results);
    j->state_dir = cg_strdup(state_dir);
    j->config = config ? json_deep_copy(config) : json_object();
    j->cb = cb;
    j->data = data;
    uv_queue_work(loop, &j->work, scan_work, scan_after);
}
