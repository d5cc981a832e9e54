/* Which commands node.invoke may relay to a node: the effective allowlist.
 *
 * As the real gateway (node-command-policy): a per-platform default list, the platform
 * told from the node's declared platform and device family (linux, windows, macos, ios,
 * watchos, android, else unknown); on desktop hosts (linux, windows, macos) the host
 * commands of the node's approved surface (system.run, system.which, browser.proxy, ...);
 * `gateway.nodes.commands.allow` adds; `gateway.nodes.commands.deny` removes and wins;
 * the worker runtime's private commands are never relayed. Commands the real gateway
 * calls dangerous (camera.snap, screen.record, sms.send, contacts.add, ...) and, unlike
 * the real gateway (issue 8's decision), the file and workspace commands (fs.*,
 * terminal.upload, workspace.*) and screen capture are relayed only when allow names
 * them. A command must also be in the node's effective surface (declared on this
 * connection and approved).
 *
 * Pure functions, no state. */
#ifndef CG_NODES_POLICY_H
#define CG_NODES_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct cg_node_command_rules {
    char *const *allow; /* gateway.nodes.commands.allow */
    size_t allow_len;
    char *const *deny; /* gateway.nodes.commands.deny */
    size_t deny_len;
} cg_node_command_rules;

/* The node as the policy sees it. */
typedef struct cg_node_command_subject {
    const char *platform, *device_family; /* as declared, may be NULL */
    const json_t *caps;                   /* effective caps */
    const json_t *commands;               /* effective commands (declared and approved) */
    const json_t *declared_commands;      /* declared on this connection */
} cg_node_command_subject;

/* The platform id the defaults are chosen by: "linux", "macos", ..., or "unknown". */
const char *cg_node_platform_id(const char *platform, const char *device_family);

/* NULL when `command` may be relayed, else the real gateway's reason: "command required",
 * "command not allowlisted", "node did not declare commands", "command not declared by
 * node". */
const char *cg_node_command_refusal(const cg_node_command_subject *node,
                                    const cg_node_command_rules *rules, const char *command);

/* The message for a refusal (the real gateway's buildNodeCommandRejectionHint). */
void cg_node_command_hint(const cg_node_command_subject *node, const cg_node_command_rules *rules,
                          const char *reason, const char *command, char *buf, size_t len);

/* node.invoke needs operator.admin for these (browser.proxy*, fs.listDir, terminal.upload). */
bool cg_node_command_admin_only(const char *command);
/* The worker runtime's private controls: never invocable. */
bool cg_node_command_private(const char *command);

#endif
