/* What the config store's files share and nobody else needs.
 *
 * schema.c      the one schema (a table of rows by path), the one walker over documents,
 *               config.schema and its uiHints
 * validate.c    validation + "${VAR}" substitution (a visitor of the walker)
 * redact.c      secrets out (redaction) and back in (placeholder restore): visitors
 * settings.c    turns a validated document + flags + environment into cg_settings,
 *               taking every default from the schema
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

/* The JSON Schema of the configuration, built once. Borrowed; lives for the process. */
const json_t *cg_config_schema_doc(void);
/* The sub-schema at a dotted path of named properties ("gateway.auth.mode"), or NULL. */
const json_t *cg_config_schema_at(const char *dotted_path);

/* A node of a document being walked alongside the schema. */
typedef struct cg_config_node {
    const char *path;     /* dotted; array elements by index; "" for the document */
    const json_t *schema; /* the sub-schema here; NULL below keys the schema does not describe */
    bool sensitive;       /* a secret: "x-sensitive" in the schema or a secret member name */
    const json_t *peer;   /* the value at the same path in the peer document, or NULL */
} cg_config_node;

/* Called for every node, parents first. Returns the node's value in the walk's result (a
 * new reference), which ends the walk below that node; or NULL to go on below: an object
 * or array is then rebuilt from what its members give, any other value is kept. */
typedef json_t *(*cg_config_visit)(const json_t *value, const cg_config_node *node, void *ctx);

/* Walks doc alongside the schema and peer (may be NULL) and returns the document the
 * visitor makes of it. New ref. */
json_t *cg_config_walk(const json_t *doc, const json_t *peer, cg_config_visit visit, void *ctx);

/* Validates doc against the schema and returns a copy in which every string at a known
 * key has had "${VAR}" replaced from the environment ("$${" stays a literal "${").
 * Unknown keys are shared untouched. Problems go to issues; the copy is meaningful only
 * when no issue was added. New ref. */
json_t *cg_config_resolve(const json_t *doc, json_t *issues);

/* Parses file or request text as a configuration document: plain JSON, an object. The
 * issue names line, column and what is wrong, never the text around it. */
json_t *cg_config_parse(const char *text, size_t len, json_t *issues);

/* Builds effective settings from a resolved document, the flags and the environment.
 * Returns NULL after adding issues when the combination is not usable. */
cg_settings *cg_settings_build(const json_t *resolved, const cg_overrides *ov, json_t *issues);
void cg_settings_free(cg_settings *s);
bool cg_settings_equal(const cg_settings *a, const cg_settings *b);
/* Port, bind, custom bind host and TLS: what the listener is made of. */
bool cg_settings_listener_equal(const cg_settings *a, const cg_settings *b);

/* Like cg_config_redact; *redacted_count tells how many values were replaced. */
json_t *cg_config_redact_counted(const json_t *doc, size_t *redacted_count);
/* A copy of doc in which every CG_REDACTED string is replaced by the value at the same
 * path in stored (NULL: nothing stored). A placeholder with nothing stored behind it
 * becomes an issue. *restored_count tells how many were replaced. New ref. */
json_t *cg_config_restore_redacted(const json_t *doc, const json_t *stored, json_t *issues,
                                   size_t *restored_count);

/* Appends to out (an array) the dotted paths of the leaves that differ between a and b
 * (either may be NULL: absent). Objects are descended; anything else is a leaf. */
void cg_json_changed_paths(const json_t *a, const json_t *b, const char *path, json_t *out);

#endif
