/* What the config store's files share and nobody else needs.
 *
 * schema.c      the one schema (a table of rows by path), the one walker over documents,
 *               config.schema and its uiHints
 * validate.c    validation + "${VAR}" substitution (a visitor of the walker)
 * redact.c      secrets out (redaction) and back in (placeholder restore): visitors
 * settings.c    turns a validated document + flags + environment into cg_settings,
 *               taking every default from the schema
 * merge_patch.c RFC 7396 merge patch and the list of changed leaf paths
 * config.c      the store: sources, file versions, load, reload, config.get's payload
 * write.c       what a config.set / patch / apply leaves, prepared off the loop
 * queue.c       the FIFO of writes and reloads run on libuv's thread pool
 *
 * Threads: the functions named *_prepare_* and everything they call run on a thread-pool
 * thread. They read only what never changes after cg_config_new (cg_config_sources), a
 * file version they hold a reference to (immutable), the schema (built once) and the
 * environment, and build new objects that are handed to the loop thread when the job
 * completes. Everything that touches the store itself runs on the loop thread.
 *
 * Issues are collected in a JSON array of {path, message}; a path is the dotted key path
 * ("gateway.auth.mode", array elements by index: "gateway.trustedProxies.0"), "" for the
 * document itself, or the flag / variable that carried a bad value. */
#ifndef CG_CONFIG_INTERNAL_H
#define CG_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

#define CG_CONFIG_HASH_LEN (7 + 64 + 1) /* "sha256:" + hex + NUL */
#define CG_CONFIG_FILE_MAX_BYTES (16u * 1024 * 1024)

/* ---- the schema and the walker (schema.c) ---- */

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

/* ---- visitors (validate.c, redact.c) ---- */

/* Validates doc against the schema and returns a copy in which every string at a known
 * key has had "${VAR}" replaced from the environment ("$${" stays a literal "${").
 * Unknown keys are shared untouched. Problems go to issues; the copy is meaningful only
 * when no issue was added. New ref. */
json_t *cg_config_resolve(const json_t *doc, json_t *issues);
/* Like cg_config_redact; *redacted_count tells how many values were replaced. */
json_t *cg_config_redact_counted(const json_t *doc, size_t *redacted_count);
/* A copy of doc in which every CG_REDACTED string is replaced by the value at the same
 * path in stored (NULL: nothing stored). A placeholder with nothing stored behind it
 * becomes an issue. *restored_count tells how many were replaced. New ref. */
json_t *cg_config_restore_redacted(const json_t *doc, const json_t *stored, json_t *issues,
                                   size_t *restored_count);

/* ---- settings (settings.c) and deltas (merge_patch.c) ---- */

/* Builds effective settings from a resolved document, the flags and the environment.
 * Returns NULL after adding issues when the combination is not usable. */
cg_settings *cg_settings_build(const json_t *resolved, const cg_overrides *ov, json_t *issues);
void cg_settings_free(cg_settings *s);
bool cg_settings_equal(const cg_settings *a, const cg_settings *b);
/* Port, bind, custom bind host and TLS: what the listener is made of. */
bool cg_settings_listener_equal(const cg_settings *a, const cg_settings *b);

/* Appends to out (an array) the dotted paths of the leaves that differ between a and b
 * (either may be NULL: absent). Objects are descended; anything else is a leaf. */
void cg_json_changed_paths(const json_t *a, const json_t *b, const char *path, json_t *out);

/* ---- the store (config.c) ---- */

/* Where the configuration comes from; fixed by cg_config_new. */
typedef struct cg_config_sources {
    char *state_dir;
    char *path;
    cg_overrides ov; /* flags; its strings are the owned_* copies */
    char *owned_bind, *owned_auth_mode, *owned_token, *owned_password;
} cg_config_sources;

/* One version of the file as read or written: immutable once made, shared by reference.
 * The count is touched on the loop thread only. */
typedef struct cg_config_file {
    unsigned refs;
    bool exists;
    char *raw; /* NULL when the file does not exist */
    size_t raw_len;
    char hash[CG_CONFIG_HASH_LEN]; /* of raw; of zero bytes when there is no file */
    json_t *doc;                   /* parsed; {} when missing; NULL when not a JSON object */
} cg_config_file;

/* config.get's payload for one state, and its serialization. */
typedef struct cg_config_view {
    json_t *result;
    char *json;
    size_t json_len;
} cg_config_view;

/* What an operation leaves behind; each part that is set replaces the store's. */
typedef struct cg_config_change {
    cg_config_file *file;  /* new file version (one reference) */
    json_t *issues;        /* validity of the file: [] when valid */
    cg_settings *settings; /* new settings; NULL: the running ones stay */
    cg_config_view view;   /* config.get for the new state; result NULL: unchanged */
} cg_config_change;

typedef struct cg_config_job cg_config_job;

struct cg_config {
    cg_config_sources sources;
    cg_config_file *file; /* what is on disk as of the last load, reload or write */
    bool valid;           /* validity of that file */
    json_t *issues;
    cg_settings *settings;             /* the last good settings */
    cg_settings *retired_settings;     /* the previous generation, freed at the next swap */
    cg_config_settings_fn on_settings; /* told of every swap (whatever caused it) */
    void *on_settings_data;
    cg_config_file_fn on_file;
    void *on_file_data;
    bool listener_changed;
    cg_config_view view;
    /* Writes and reloads in flight (queue.c): at most one running, the rest in FIFO order. */
    cg_config_job *running;
    cg_config_job *queue_head, *queue_tail;
    cg_config_job *waiting_reload; /* a reload in the queue, not started yet */
};

/* Takes ownership of raw (NULL: there is no file) and doc. One reference. */
cg_config_file *cg_config_file_new(char *raw, size_t raw_len, json_t *doc);
cg_config_file *cg_config_file_ref(cg_config_file *file);
void cg_config_file_unref(cg_config_file *file);
/* Whether file holds exactly these bytes (raw NULL: no file). */
bool cg_config_file_holds(const cg_config_file *file, const char *raw, size_t len);
/* Reads the file: 0 (with *raw NULL when it does not exist) or -errno. */
int cg_config_read_disk(const cg_config_sources *src, char **raw, size_t *len);
/* Writes the file atomically (temp file, fsync, rename, fsync of the dir): 0 or -errno. */
int cg_config_write_disk(const cg_config_sources *src, const char *text, size_t len);
/* A document as clawgate writes it: indented JSON and a newline. Caller frees. */
char *cg_config_serialize(const json_t *doc, size_t *len);
/* Parses file or request text as a configuration document: plain JSON, an object. The
 * issue names line, column and what is wrong, never the text around it. */
json_t *cg_config_parse(const char *text, size_t len, json_t *issues);
/* Validates doc with the flags and the environment. Returns settings, or NULL with
 * issues. With token_required a token-mode configuration without any token is an issue. */
cg_settings *cg_config_evaluate(const cg_config_sources *src, const json_t *doc,
                                bool token_required, json_t *issues);
/* Builds config.get's payload for a file and its issues. */
void cg_config_view_build(cg_config_view *view, const cg_config_sources *src,
                          const cg_config_file *file, const json_t *issues);
/* "path: message (and N more)" for the first issue. */
void cg_config_describe_issues(const json_t *issues, char *out, size_t outlen);
/* Installs a change (consumed). Returns whether the settings changed. */
bool cg_config_install(cg_config *cfg, cg_config_change *change);
/* Frees whatever a change holds. */
void cg_config_change_discard(cg_config_change *change);

/* A reload, in two halves: reading and evaluating the file against the current version
 * (any thread), then installing and logging on the loop, which returns the result
 * cg_config_reload_async's done receives. */
typedef struct cg_config_reload_plan {
    bool unchanged; /* the disk holds the current version */
    cg_config_change change;
} cg_config_reload_plan;
void cg_config_prepare_reload(const cg_config_sources *src, const cg_config_file *current,
                              cg_config_reload_plan *plan);
int cg_config_finish_reload(cg_config *cfg, cg_config_reload_plan *plan);

/* ---- writes (write.c) ---- */

typedef struct cg_config_write_plan {
    cg_config_change change; /* empty for a refusal or a patch that changes nothing */
    json_t *payload;         /* the answer, or NULL */
    json_t *error;           /* the refusal (ErrorShape), or NULL */
    json_t *changed_paths;   /* for the log */
    /* Validated and not yet written (between prepare and commit): the bytes and their
     * document; change.settings and change.issues are set too. */
    char *text;
    size_t text_len;
    json_t *doc;
} cg_config_write_plan;
/* A write's first half: the checks against current and the disk, the new document and
 * its validation. Leaves text set when there is something to write. Any thread. */
void cg_config_prepare_write(const cg_config_sources *src, const cg_config_file *current,
                             cg_config_write_kind kind, const char *raw, const char *base_hash,
                             cg_config_write_plan *plan);
/* The second half: the atomic write of the file and what config.get will show. Any
 * thread. */
void cg_config_commit_write(const cg_config_sources *src, cg_config_write_kind kind,
                            cg_config_write_plan *plan);
/* Drops a prepared write that will not be committed. */
void cg_config_write_plan_drop(cg_config_write_plan *plan);
/* Installs what a prepared write left and logs it; fills out (payload, error). Loop. */
void cg_config_finish_write(cg_config *cfg, cg_config_write_kind kind, cg_config_write_plan *plan,
                            cg_config_write_result *out);

#endif
