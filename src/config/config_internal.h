/* What the config store's files share and nobody else needs.
 *
 * schema.c      the one JSON Schema of the keys clawgate knows, and the walker that
 *               validates a document against it while substituting "${VAR}"
 * settings.c    turns a validated document + flags + environment into cg_settings,
 *               taking every default from the schema
 * redact.c      secrets out (redaction) and back in (placeholder restore)
 * merge_patch.c RFC 7396 merge patch and the list of changed leaf paths
 * config.c      the store: file state, load, reload, write, config.get's payload
 *
 * Issues are collected in a JSON array of {path, message}; a path is the dotted key path
 * ("gateway.auth.mode", array elements by index: "gateway.trustedProxies.0"), "" for the
 * document itself, or the flag / variable that carried a bad value. */
#ifndef CG_CONFIG_INTERNAL_H
#define CG_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "config/config.h"

/* Appends {path, message} to issues. */
void cg_config_issue_add(json_t *issues, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Joins a parent path and a key ("gateway" + "port" -> "gateway.port"). Caller frees. */
char *cg_config_path_join(const char *parent, const char *key);

/* The JSON Schema of the known keys, parsed once. Borrowed; lives for the process. */
const json_t *cg_config_schema_doc(void);
/* The sub-schema at a dotted path of object properties ("gateway.auth.mode"), or NULL. */
const json_t *cg_config_schema_at(const char *dotted_path);
/* Validates doc against the schema and returns a copy in which every string at a known
 * key has had "${VAR}" replaced from the environment ("$${" stays a literal "${").
 * Unknown keys are shared untouched. Problems go to issues; the copy is meaningful only
 * when no issue was added. New ref. */
json_t *cg_config_resolve(const json_t *doc, json_t *issues);

/* Builds effective settings from a resolved document, the flags and the environment.
 * Returns NULL after adding issues when the combination is not usable. */
cg_settings *cg_settings_build(const json_t *resolved, const cg_overrides *ov, json_t *issues);
void cg_settings_free(cg_settings *s);
bool cg_settings_equal(const cg_settings *a, const cg_settings *b);
/* Port, bind, custom bind host and TLS: what the listener is made of. */
bool cg_settings_listener_equal(const cg_settings *a, const cg_settings *b);

/* Like cg_config_redact; *redacted_count tells how many values were replaced. */
json_t *cg_config_redact_counted(const json_t *doc, size_t *redacted_count);
/* Replaces every CG_REDACTED string in doc by the value at the same path in stored (NULL:
 * nothing stored). A placeholder with nothing stored behind it becomes an issue. Returns
 * how many placeholders were replaced. */
size_t cg_config_restore_redacted(json_t *doc, const json_t *stored, json_t *issues);

/* Appends to out (an array) the dotted paths of the leaves that differ between a and b
 * (either may be NULL: absent). Objects are descended; anything else is a leaf. */
void cg_json_changed_paths(const json_t *a, const json_t *b, const char *path, json_t *out);

#endif
