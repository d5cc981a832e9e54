/* The node command allowlist (see nodes/policy.h). The lists follow the real gateway's
 * node-command-policy and node-commands modules. */
#include "nodes/policy.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return true;
    return false;
}

static bool in_strings(char *const *list, size_t len, const char *s)
{
    for (size_t i = 0; i < len; i++)
        if (strcmp(list[i], s) == 0) return true;
    return false;
}

static const char *const private_commands[] = {
    "worker.bundle.install.v1",
    "worker.launch.v1",
    "worker.status.v1",
    "worker.cancel.v1",
    "worker.environment.stop.v1",
    "worker.workspace.exec.v1",
    "worker.workspace.prepare.v1",
    "worker.workspace.retain.v1",
    "worker.desktop.stream.v1",
    "worker.desktop.launch.v1",
    "worker.desktop.computer.v1",
    "worker.portal.stream.v1",
    NULL,
};

static const char *const admin_only[] = {"browser.proxy", "browser.proxy.upload.v1", "fs.listDir",
                                         "terminal.upload", NULL};

/* Host commands a desktop node's approved surface brings into the allowlist. The real
 * gateway also lets fs.listDir, terminal.upload and screen capture in this way; here
 * those need gateway.nodes.commands.allow. */
static const char *const desktop_host_commands[] = {
    "system.run.prepare",
    "system.run",
    "system.which",
    "system.execApprovals.get",
    "system.execApprovals.set",
    "browser.proxy",
    "browser.proxy.upload.v1",
    "mcp.tools.call.v1",
    "agent.cli.claude.run.v1",
    NULL,
};

/* Relayed only when gateway.nodes.commands.allow names them, whatever the defaults. */
static const char *const opt_in_commands[] = {
    "camera.snap",  "camera.clip",     "camera.ptz.control", "screen.record",     "contacts.add",
    "calendar.add", "reminders.add",   "sms.send",           "sms.search",        "health.summary",
    "fs.listDir",   "terminal.upload", "screen.snapshot",    "desktop.stream.v1", NULL,
};
/* Families that are opt-in whatever the command: files, directories, workspaces. */
static bool opt_in_family(const char *command)
{
    return !strncmp(command, "fs.", 3) || !strncmp(command, "workspace.", 10) ||
           !strncmp(command, "file.", 5) || !strncmp(command, "dir.", 4);
}

typedef struct platform_defaults {
    const char *id;
    const char *const *commands;
} platform_defaults;

static const platform_defaults defaults[] = {
    {"ios", L("camera.list", "location.get", "device.info", "device.status", "contacts.search",
              "calendar.events", "reminders.list", "photos.latest", "motion.activity",
              "motion.pedometer", "system.notify")},
    {"watchos", L("device.info", "device.status", "system.notify")},
    {"android", L("camera.list", "location.get", "notifications.list", "notifications.actions",
                  "system.notify", "device.info", "device.status", "device.permissions",
                  "device.health", "device.apps", "contacts.search", "calendar.events",
                  "callLog.search", "reminders.list", "photos.latest", "motion.activity",
                  "motion.pedometer", "mobile.ui.observe", "mobile.ui.act")},
    {"macos",
     L("camera.list", "camera.ptz.status", "location.get", "device.info", "device.status",
       "device.apps", "contacts.search", "calendar.events", "reminders.list", "photos.latest",
       "motion.activity", "motion.pedometer", "system.notify", "computer.act")},
    {"linux", L("system.notify", "computer.act")},
    {"windows", L("camera.list", "location.get", "device.info", "device.status", "system.notify",
                  "computer.act")},
    {"unknown", L("camera.list", "location.get", "system.notify")},
};

static const char *const talk_commands[] = {"talk.ptt.start", "talk.ptt.stop", "talk.ptt.cancel",
                                            "talk.ptt.once", NULL};
static const char *const watch_relay_commands[] = {"watch.status", "watch.notify", NULL};

bool cg_node_command_admin_only(const char *command)
{
    return command && in_list(admin_only, command);
}

bool cg_node_command_private(const char *command)
{
    return command && in_list(private_commands, command);
}

/* Trimmed, ASCII-lowercased copy of s into buf. */
static const char *folded(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    if (s) {
        while (isspace((unsigned char)*s))
            s++;
        for (; *s && n + 1 < len; s++)
            buf[n++] = (char)tolower((unsigned char)*s);
        while (n && isspace((unsigned char)buf[n - 1]))
            n--;
    }
    buf[n] = '\0';
    return buf;
}

static bool family_fits(const char *id, const char *family)
{
    if (!strcmp(id, "ios"))
        return !*family || !strcmp(family, "iphone") || !strcmp(family, "ipad") ||
               !strcmp(family, "ios");
    if (!strcmp(id, "watchos")) return !strcmp(family, "apple watch") || !strcmp(family, "watchos");
    if (!strcmp(id, "android")) return !*family || !strcmp(family, "android");
    if (!strcmp(id, "macos")) return !strcmp(family, "mac");
    if (!strcmp(id, "windows")) return !strcmp(family, "windows");
    return !strcmp(family, "linux");
}

/* "<name> <version>" as native apps report their platform ("macos 15.1", "ios 18.0",
 * "android 15 (sdk 35)"). */
static bool native_label(const char *platform, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(platform, name, n) != 0 || platform[n] != ' ' ||
        !isdigit((unsigned char)platform[n + 1]))
        return false;
    const char *rest = platform + n + 1;
    return rest[strspn(rest, "0123456789. ()sdk")] == '\0';
}

const char *cg_node_platform_id(const char *platform, const char *device_family)
{
    static const char *const canonical[] = {"ios",     "watchos", "android", "macos",
                                            "windows", "linux",   NULL};
    char raw[64], family[64];
    folded(platform, raw, sizeof raw);
    folded(device_family, family, sizeof family);
    for (const char *const *id = canonical; *id; id++)
        if (!strcmp(raw, *id)) return family_fits(*id, family) ? *id : "unknown";
    if ((native_label(raw, "ios") || native_label(raw, "ipados")) && family_fits("ios", family) &&
        *family)
        return "ios";
    if (native_label(raw, "watchos") && family_fits("watchos", family)) return "watchos";
    if (native_label(raw, "macos") && !strcmp(family, "mac")) return "macos";
    if (native_label(raw, "android") && !strcmp(family, "android")) return "android";
    if (*raw) return "unknown";
    static const struct {
        const char *id, *token;
    } tokens[] = {{"ios", "iphone"},          {"ios", "ipad"},        {"ios", "ios"},
                  {"watchos", "apple watch"}, {"watchos", "watchos"}, {"android", "android"},
                  {"macos", "mac"},           {"windows", "windows"}, {"linux", "linux"}};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (strstr(family, tokens[i].token)) return tokens[i].id;
    return "unknown";
}

static bool desktop(const char *id)
{
    return !strcmp(id, "linux") || !strcmp(id, "windows") || !strcmp(id, "macos");
}

static bool talk_surface(const cg_node_command_subject *node)
{
    size_t i;
    const json_t *v;
    json_array_foreach(node->caps, i, v)
    {
        const char *cap = json_string_value(v);
        if (cap && !strcasecmp(cap, "talk")) return true;
    }
    json_array_foreach(node->commands, i, v)
    {
        const char *cmd = json_string_value(v);
        if (cmd && !strncasecmp(cmd, "talk.", 5)) return true;
    }
    return false;
}

/* Whether the allowlist has `command` (before the declared-surface check). */
static bool allowlisted(const cg_node_command_subject *node, const cg_node_command_rules *rules,
                        const char *command)
{
    if (cg_node_command_private(command) || in_strings(rules->deny, rules->deny_len, command))
        return false;
    if (in_strings(rules->allow, rules->allow_len, command)) return true;
    if (in_list(opt_in_commands, command) || opt_in_family(command)) return false;
    const char *id = cg_node_platform_id(node->platform, node->device_family);
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        if (!strcmp(defaults[i].id, id) && in_list(defaults[i].commands, command)) return true;
    if (desktop(id) && in_list(desktop_host_commands, command) &&
        cg_json_array_has_string(node->commands, command))
        return true;
    if (in_list(talk_commands, command) && talk_surface(node)) return true;
    char family[64];
    return !strcmp(id, "ios") &&
           !strcmp(folded(node->device_family, family, sizeof family), "iphone") &&
           in_list(watch_relay_commands, command);
}

const char *cg_node_command_refusal(const cg_node_command_subject *node,
                                    const cg_node_command_rules *rules, const char *command)
{
    if (!command || !*command) return "command required";
    if (!allowlisted(node, rules, command)) return "command not allowlisted";
    if (json_array_size(node->commands) == 0) return "node did not declare commands";
    if (!cg_json_array_has_string(node->commands, command)) return "command not declared by node";
    return NULL;
}

void cg_node_command_hint(const cg_node_command_subject *node, const cg_node_command_rules *rules,
                          const char *reason, const char *command, char *buf, size_t len)
{
    const char *platform = node->platform ? node->platform : "unknown";
    if (!strcmp(reason, "command not declared by node"))
        snprintf(buf, len,
                 "node command not allowed: the node (platform: %s) does not support \"%s\"",
                 platform, command);
    else if (!strcmp(reason, "command not allowlisted") && !strncmp(command, "talk.", 5))
        snprintf(buf, len, "node command not allowed: \"%s\" requires a trusted Talk-capable node",
                 command);
    else if (!strcmp(reason, "command not allowlisted") &&
             in_strings(rules->deny, rules->deny_len, command))
        snprintf(buf, len,
                 "node command not allowed: \"%s\" is blocked by gateway.nodes.commands.deny",
                 command);
    else if (!strcmp(reason, "command not allowlisted") &&
             (in_list(opt_in_commands, command) || opt_in_family(command)))
        snprintf(buf, len,
                 "node command not allowed: \"%s\" requires explicit gateway.nodes.commands.allow "
                 "opt-in",
                 command);
    else if (!strcmp(reason, "command not allowlisted"))
        snprintf(buf, len,
                 "node command not allowed: \"%s\" is not in the allowlist for platform \"%s\"",
                 command, platform);
    else if (!strcmp(reason, "node did not declare commands") &&
             cg_json_array_has_string(node->declared_commands, command))
        snprintf(buf, len,
                 "node command not allowed: the node's declared command surface is pending "
                 "approval; run `openclaw nodes pending`, then `openclaw nodes approve "
                 "<requestId>`");
    else if (!strcmp(reason, "node did not declare commands"))
        snprintf(buf, len,
                 "node command not allowed: the node did not declare any supported commands");
    else
        snprintf(buf, len, "node command not allowed: %s", reason);
}
