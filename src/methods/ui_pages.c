/* Methods the real OpenClaw Control UI (openclaw 2026.9.6) calls on its pages without
 * checking hello-ok.features.methods first (issue 11): the Systems page, the Plugins
 * page, the settings pages (appearance, channels, memory, plugins). Each answers truthfully
 * for what clawgate has, in the schema's <Method>Result shape, else the real handler's:
 *
 *   system.info        facts about this host and process (SystemInfoResult), collected
 *                      on libuv's thread pool (uname, /proc, statvfs of the state dir are
 *                      system calls and file reads): hostname, platform and arch in
 *                      Node's spelling (linux, x64), osLabel "<sysname> <release>" as the
 *                      real os.type()+release, pid, uptime, CPUs, memory, load average,
 *                      the state dir's disk. nodeVersion, which the schema requires, names
 *                      what serves the gateway: "clawgate <version>" (no Node runs here).
 *                      defaultAgentUtilityModel: unavailable (clawgate has no utility
 *                      model).
 *   environments.list  where sessions can run: the gateway itself (the real
 *                      GATEWAY_ENVIRONMENT) and one "node:<id>" environment per paired or
 *                      connected node of the node registry, available while connected,
 *                      with its caps and commands, and the commands node.invoke would
 *                      send it as invocableCommands. No worker profiles (no cloud workers).
 *   plugins.list       {plugins: [], diagnostics: [], mutationAllowed: false}: clawgate
 *                      loads no plugins and installs none.
 *   plugins.catalog.browse
 *                      {items: []}: clawgate has no plugin catalog to browse (it reaches
 *                      no plugin registry).
 *   themes.list        the Control UI's built-in theme catalog (the real BUILTIN_THEMES:
 *                      the themes ship with the UI), with the current selection read from
 *                      the config's ui.prefs.theme / ui.prefs.themeMode, scope "gateway"
 *                      (clawgate has no per-person profiles), as the real readThemes.
 *
 * The family keeps no state, so it needs no attach. Params are checked as the real
 * validators do (closed objects). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <uv.h>

#include "auth/devices.h"
#include "common/util.h"
#include "gateway/gateway.h"
#include "gateway/methods.h"
#include "methods/nodes.h"

/* ---- system.info ---- */

typedef struct system_info_job {
    uv_work_t work;
    cg_req *req; /* NULL once the registry has ended the request */
    char *state_dir;
    int port;
    uint64_t uptime_ms; /* the gateway's, read on the loop */
    json_t *info;       /* built on the pool, answered on the loop */
} system_info_job;

/* Node's os.arch() names for uname's machine. */
static const char *node_arch(const char *machine)
{
    if (!strcmp(machine, "x86_64") || !strcmp(machine, "amd64")) return "x64";
    if (!strcmp(machine, "aarch64") || !strcmp(machine, "arm64")) return "arm64";
    if (!strncmp(machine, "armv", 4)) return "arm";
    if (!strcmp(machine, "i386") || !strcmp(machine, "i686")) return "ia32";
    return machine;
}

/* Node's os.platform() names for uname's sysname. */
static void node_platform(const char *sysname, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", sysname);
    for (char *c = out; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
}

/* On the thread pool. */
static void system_info_work(uv_work_t *work)
{
    cg_thread_background();
    system_info_job *job = work->data;
    char host[256] = "";
    size_t host_len = sizeof host;
    if (uv_os_gethostname(host, &host_len) != 0) snprintf(host, sizeof host, "localhost");
    /* The real fallbackHostName: the hostname's first label. */
    char machine_name[256];
    snprintf(machine_name, sizeof machine_name, "%s", host);
    char *dot = strchr(machine_name, '.');
    if (dot && dot != machine_name) *dot = '\0';
    uv_utsname_t uts;
    if (uv_os_uname(&uts) != 0) memset(&uts, 0, sizeof uts);
    char platform[sizeof uts.sysname], os_label[sizeof uts.sysname + sizeof uts.release + 2];
    node_platform(uts.sysname, platform, sizeof platform);
    snprintf(os_label, sizeof os_label, "%s %s", uts.sysname, uts.release);
    uv_cpu_info_t *cpus = NULL;
    int cpu_count = 0;
    if (uv_cpu_info(&cpus, &cpu_count) != 0) cpu_count = 0;
    double load[3];
    uv_loadavg(load);
    json_t *info = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:{s:s}}", "machineName",
        machine_name, "hostname", host, "platform", platform, "release", uts.release, "arch",
        node_arch(uts.machine), "osLabel", os_label, "port", job->port, "nodeVersion",
        "clawgate " CLAWGATE_VERSION, "pid", (json_int_t)uv_os_getpid(), "uptimeMs",
        (json_int_t)job->uptime_ms, "cpuCount", (json_int_t)cpu_count, "memoryTotalBytes",
        (json_int_t)uv_get_total_memory(), "memoryFreeBytes", (json_int_t)uv_get_free_memory(),
        "defaultAgentUtilityModel", "status", "unavailable");
    if (cpu_count > 0 && cpus[0].model && *cpus[0].model)
        json_object_set_new(info, "cpuModel", json_string(cpus[0].model));
    if (cpus) uv_free_cpu_info(cpus, cpu_count);
    /* The real one leaves out an all-zero load average (Windows has none). */
    if (load[0] != 0 || load[1] != 0 || load[2] != 0)
        json_object_set_new(info, "loadAverage", json_pack("[f,f,f]", load[0], load[1], load[2]));
    struct statvfs vfs;
    if (job->state_dir && statvfs(job->state_dir, &vfs) == 0 && vfs.f_blocks > 0) {
        json_object_set_new(info, "diskTotalBytes",
                            json_integer((json_int_t)vfs.f_blocks * (json_int_t)vfs.f_frsize));
        json_object_set_new(info, "diskAvailableBytes",
                            json_integer((json_int_t)vfs.f_bavail * (json_int_t)vfs.f_frsize));
        json_object_set_new(info, "diskPath", json_string(job->state_dir));
    }
    job->info = info;
}

static void system_info_done(uv_work_t *work, int status)
{
    system_info_job *job = work->data;
    if (job->req && status == 0 && job->info) {
        cg_req_ok(job->req, job->info);
        job->info = NULL;
    } else if (job->req) {
        cg_req_error(job->req, "UNAVAILABLE", "system information unavailable", NULL);
    }
    json_decref(job->info);
    free(job->state_dir);
    free(job);
}

static void system_info_ended(cg_req *req, cg_req_end why, void *data)
{
    (void)req;
    (void)why;
    system_info_job *job = data;
    job->req = NULL;
    /* A job that has started runs to its end; system_info_done frees it either way. */
    uv_cancel((uv_req_t *)&job->work);
}

static void handle_system_info(cg_req *req)
{
    cg_gateway *gw = req->gw;
    cg_req *pending = cg_req_defer(req);
    if (!pending) return;
    system_info_job *job = cg_xcalloc(1, sizeof *job);
    job->work.data = job;
    job->req = pending;
    job->state_dir = cg_strdup(cg_config_state_dir(cg_gateway_config(gw)));
    job->port = cg_gateway_settings(gw)->port;
    job->uptime_ms = cg_gateway_uptime_ms(gw);
    cg_req_on_cancel(pending, system_info_ended, job);
    uv_queue_work(cg_gateway_loop(gw), &job->work, system_info_work, system_info_done);
}

/* ---- environments.list ---- */

static int check_environments_list(const json_t *params, char *err, size_t errlen)
{
    static const char *const profiles_only[] = {"profiles", NULL};
    static const cg_param_field fields[] = {{"runtimeId", CG_PF_STRING, 0, 1, 128, NULL},
                                            {"projection", CG_PF_ENUM, 0, 0, 0, profiles_only},
                                            {"includeDesktopSetup", CG_PF_BOOL, 0, 0, 0, NULL},
                                            {NULL, 0, 0, 0, 0, NULL}};
    return cg_params_check_fields(params, fields, err, errlen);
}

/* As node.list decides "paired": the node's device was approved for role node. */
static int64_t device_approved(const char *node_id, void *data)
{
    const cg_device *dev = cg_devices_find(data, node_id);
    return dev && cg_json_array_has_string(dev->roles, "node") ? dev->approved_at_ms : 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static void copy_if_set(json_t *to, const json_t *from, const char *key)
{
    json_t *v = json_object_get(from, key);
    if (v) json_object_set(to, key, v);
}

/* The real summarizeNodeEnvironment of one node.list entry. */
static json_t *node_environment(cg_gateway *gw, const json_t *node)
{
    const char *node_id = json_string_value(json_object_get(node, "nodeId"));
    const char *name = json_string_value(json_object_get(node, "displayName"));
    const char *platform = json_string_value(json_object_get(node, "platform"));
    bool connected = json_is_true(json_object_get(node, "connected"));
    char id[512];
    snprintf(id, sizeof id, "node:%s", node_id);
    json_t *env = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:s}", "id", id, "type", "node", "label",
        name && *name ? name : node_id, "status", connected ? "available" : "unavailable",
        "sessionHost", json_is_true(json_object_get(node, "sessionHost")), "trust", "persistent");
    if (platform && *platform) json_object_set_new(env, "platform", json_string(platform));
    copy_if_set(env, node, "lastConnectedAtMs");
    copy_if_set(env, node, "lastDisconnectedAtMs");
    copy_if_set(env, node, "lastSeenAtMs");
    copy_if_set(env, node, "lastSeenReason");
    /* caps and commands, sorted and unique (node.list gives each sorted). */
    json_t *capabilities = json_array(), *invocable = json_array();
    const json_t *lists[] = {json_object_get(node, "caps"), json_object_get(node, "commands")};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *item;
        json_array_foreach(lists[l], i, item)
        {
            const char *s = json_string_value(item);
            char hint[256];
            if (s && !cg_json_array_has_string(capabilities, s))
                json_array_append(capabilities, item);
            if (l == 1 && s && connected && strlen(s) <= 128 && json_array_size(invocable) < 128 &&
                !cg_node_command_check(gw, node_id, s, hint, sizeof hint))
                json_array_append(invocable, item);
        }
    }
    size_t n = json_array_size(capabilities);
    if (n) {
        json_t **items = cg_xcalloc(n, sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(capabilities, i);
        qsort(items, n, sizeof *items, compare_strings);
        json_t *sorted = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(sorted, items[i]);
        free(items);
        json_object_set_new(env, "capabilities", sorted);
    }
    if (json_array_size(invocable))
        json_object_set_new(env, "invocableCommands", invocable);
    else
        json_decref(invocable);
    json_decref(capabilities);
    return env;
}

static void handle_environments_list(cg_req *req)
{
    json_t *environments = json_array();
    if (!json_object_get(req->params, "projection")) {
        uv_utsname_t uts;
        char platform[sizeof uts.sysname] = "linux";
        if (uv_os_uname(&uts) == 0) node_platform(uts.sysname, platform, sizeof platform);
        json_array_append_new(environments,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:[s,s,s,s]}", "id",
                                        "gateway", "type", "local", "label", "Gateway local",
                                        "status", "available", "platform", platform, "sessionHost",
                                        1, "trust", "persistent", "capabilities", "agent.run",
                                        "sessions", "tools", "workspace"));
        json_t *nodes = cg_nodes_list(cg_gateway_nodes(req->gw), false, NULL, device_approved,
                                      cg_gateway_devices(req->gw));
        size_t i;
        json_t *node;
        json_array_foreach(nodes, i, node)
        {
            if (json_is_true(json_object_get(node, "paired")) ||
                json_is_true(json_object_get(node, "connected")))
                json_array_append_new(environments, node_environment(req->gw, node));
        }
        json_decref(nodes);
    }
    cg_req_ok(req, json_pack("{s:o}", "environments", environments));
}

/* ---- plugins.list ---- */

static void handle_plugins_list(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:[], s:[], s:b}", "plugins", "diagnostics", "mutationAllowed", 0));
}

/* ---- plugins.catalog.browse ---- */

static int check_catalog_browse(const json_t *params, char *err, size_t errlen)
{
    static const char *const sources[] = {"openclaw-control-ui", NULL};
    static const char *const intents[] = {"all",      "bundled",  "trending",
                                          "official", "featured", NULL};
    static const cg_param_field fields[] = {{"query", CG_PF_STRING, 0, 0, 200, NULL},
                                            {"searchSource", CG_PF_ENUM, 0, 0, 0, sources},
                                            {"intent", CG_PF_ENUM, 0, 0, 0, intents},
                                            {"category", CG_PF_STRING, 0, 1, 64, NULL},
                                            {"cursor", CG_PF_STRING, 0, 1, 4096, NULL},
                                            {"pageSize", CG_PF_INT, 0, 1, 100, NULL},
                                            {NULL, 0, 0, 0, 0, NULL}};
    return cg_params_check_fields(params, fields, err, errlen);
}

static void handle_catalog_browse(cg_req *req)
{
    cg_req_ok(req, json_pack("{s:[]}", "items"));
}

/* ---- themes.list ---- */

/* The real BUILTIN_THEMES (openclaw 2026.9.6), each {source: builtin, modes: [light, dark]}. */
static const struct {
    const char *id, *name, *description;
} builtin_themes[] = {
    {"claw", "Claw",
     "Signature coral red and teal on charcoal or pale surfaces, with Instrument Sans "
     "throughout. A balanced everyday workspace."},
    {"knot", "Knot",
     "Crimson accents on true black or clean white, with Geist typography. Sharp, minimal, "
     "and high contrast."},
    {"dash", "Dash",
     "Toasted caramel on deep cocoa or warm cream, with DM Sans controls and Fraunces serif "
     "chat. Warm and bookish."},
    {"absolutely", "Absolutely",
     "Terracotta clay on warm graphite or soft cream, with Space Grotesk controls and Lora "
     "serif chat. Quiet editorial character."},
    {"tide", "Tide",
     "Steel cyan on cool slate or pale blue-gray, with IBM Plex Sans throughout. Calm, "
     "technical, and understated."},
    {"beacon", "Beacon",
     "High-visibility amber on black or white, bold focus rings, and Atkinson Hyperlegible "
     "typography. Designed for maximum readability."},
    {"phosphor", "Phosphor",
     "Luminous green on green-tinted black or pale green, with JetBrains Mono throughout. A "
     "classic green terminal atmosphere."},
    {"crt", "CRT",
     "White phosphor and amber on tube black, with a light counterpart, JetBrains Mono, and "
     "nearly square corners. A retro computer console."},
    {"manuscript", "Manuscript",
     "Lapis blue and gold on aged paper, with a dark reading-room variant and Lora serif "
     "throughout. A quiet illuminated manuscript."},
    {"rose", "Ros\xc3\xa9",
     "Dried rose and gold on deep plum-gray or soft rose-tinted cream, with DM Sans. Gentle, "
     "muted, and warm."},
    {"miami", "Miami",
     "Hot magenta and cyan on violet-black or pale lavender, with Space Grotesk. Bright neon "
     "energy and a synthwave character."},
};
#define N_BUILTIN_THEMES (sizeof builtin_themes / sizeof builtin_themes[0])

static json_t *theme_descriptor(size_t i)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:[s,s]}", "id", builtin_themes[i].id, "name",
                     builtin_themes[i].name, "description", builtin_themes[i].description, "source",
                     "builtin", "modes", "light", "dark");
}

static void handle_themes_list(cg_req *req)
{
    const json_t *prefs = json_object_get(
        json_object_get(cg_config_document(cg_gateway_config(req->gw)), "ui"), "prefs");
    const char *requested = json_string_value(json_object_get(prefs, "theme"));
    const char *mode = json_string_value(json_object_get(prefs, "themeMode"));
    if (!mode || (strcmp(mode, "light") && strcmp(mode, "dark") && strcmp(mode, "system")))
        mode = "system";
    size_t selected = 0;
    bool found = false;
    json_t *themes = json_array();
    for (size_t i = 0; i < N_BUILTIN_THEMES; i++) {
        json_array_append_new(themes, theme_descriptor(i));
        if (requested && !strcmp(requested, builtin_themes[i].id)) selected = i, found = true;
    }
    json_t *current = json_pack("{s:s, s:s, s:s, s:{}}", "id", builtin_themes[selected].id, "mode",
                                mode, "scope", "gateway", "overrides");
    if (strcmp(mode, "system") != 0)
        json_object_set_new(current, "effectiveMode", json_string(mode));
    if (requested && !found) json_object_set_new(current, "requestedId", json_string(requested));
    cg_req_ok(req, json_pack("{s:o, s:o, s:o}", "current", current, "theme",
                             theme_descriptor(selected), "themes", themes));
}

const cg_method cg_methods_ui_pages[] = {
    {.name = "system.info",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_system_info,
     .summary = "This host and process: hostname, OS, CPUs, memory, load, the state dir's disk."},
    {.name = "environments.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_environments_list,
     .handler = handle_environments_list,
     .summary = "Where sessions run: the gateway itself and each paired or connected node."},
    {.name = "plugins.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_plugins_list,
     .summary = "Installed plugins: none (clawgate loads and installs no plugins)."},
    {.name = "plugins.catalog.browse",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = check_catalog_browse,
     .handler = handle_catalog_browse,
     .summary = "The plugin catalog: empty (clawgate reaches no plugin registry)."},
    {.name = "themes.list",
     .roles = CG_ROLE_OPERATOR,
     .scope = CG_SCOPE_READ,
     .check = cg_params_check_empty,
     .handler = handle_themes_list,
     .summary = "The Control UI's built-in themes and the one ui.prefs.theme selects."},
    {.name = NULL}};
