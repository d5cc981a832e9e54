/* Static files of the Control UI: the pieces the gateway's UI routes are made of.
 *
 * Two sources. The embedded table (cg_ui_embedded) holds the files under ui/, turned
 * into a C source at build time by cmake/embed_ui.cmake, each with its content type,
 * a strong ETag (the file's sha256, computed at build time) and, when gzip was found
 * at build time and shrank it, a gzip copy. A root folder (gateway.controlUi.root) is
 * read from disk instead, by cg_ui_root_read, which blocks: call it off the loop
 * thread.
 *
 * A URL path never names a file directly: cg_ui_relpath percent-decodes it and
 * refuses what could leave the root (a ".." or "." segment, an encoded '/' or '\',
 * a NUL, a backslash), and cg_ui_root_read then opens the file only when its real
 * path (symlinks resolved) is still inside the root's real path.
 *
 * index.html of a root folder is rewritten as the real gateway does (its
 * serveResolvedIndexHtml): `./assets/` and `./<public asset>` references made absolute
 * under the base path, the build-id attribute dropped from <html> and the base-path
 * and terminal-enabled attributes put there; cg_ui_csp then admits exactly the inline
 * scripts of the rewritten page by their sha256, plus 'wasm-unsafe-eval' when asked. */
#ifndef CG_UI_UI_H
#define CG_UI_UI_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cg_ui_asset {
    const char *path; /* relative to ui/, "index.html" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* NULL when there is no gzip copy */
    size_t gz_len;
    const char *etag; /* "\"<sha256 hex>\"" */
} cg_ui_asset;

extern const cg_ui_asset cg_ui_embedded[];
extern const size_t cg_ui_embedded_count;

/* The embedded file at rel, or NULL. */
const cg_ui_asset *cg_ui_embedded_find(const char *rel);

/* The file a URL path (below the base path, starting with '/') names, relative to
 * the root: percent-decoded, "" or a trailing '/' meaning index.html. false when the
 * path is unsafe or does not fit in len. */
bool cg_ui_relpath(const char *url_path, char *out, size_t len);

/* The Content-Type for a file name, by its extension (application/octet-stream when
 * unknown). */
const char *cg_ui_content_type(const char *rel);

/* Whether a missing file is a missing asset (404) rather than a page of the single
 * page app (served index.html): it has an extension other than .html. */
bool cg_ui_is_asset_name(const char *rel);

/* A file read from a root folder. */
typedef struct cg_ui_file {
    char *data; /* malloc'd */
    size_t len;
    char etag[72]; /* "\"<sha256 hex>\"" of what data holds */
    bool gzip;     /* data is the `.gz` sibling of the file asked for */
} cg_ui_file;

typedef enum {
    CG_UI_READ_OK,
    CG_UI_READ_NOT_FOUND, /* missing, not a regular file, or outside the root */
    CG_UI_READ_TOO_BIG,   /* larger than max */
} cg_ui_read_result;

/* Reads root/rel (blocking). With want_gzip, a regular `rel.gz` beside it (inside the
 * root as well) is read instead when there is one. */
cg_ui_read_result cg_ui_root_read(const char *root, const char *rel, bool want_gzip, size_t max,
                                  cg_ui_file *out);

/* The base path as the real gateway normalises it: "" for "/" or unset, else
 * "/a/b" (a leading '/', no trailing '/'). false when it does not fit or is unsafe. */
bool cg_ui_base_path(const char *configured, char *out, size_t len);

/* index.html of a root folder rewritten for base (see above). malloc'd. */
char *cg_ui_index_rewrite(const char *html, size_t len, const char *base, size_t *out_len);

/* The Content-Security-Policy value for a page: script-src 'self', the sha256 of each
 * inline script of html (when html is not NULL), 'wasm-unsafe-eval' with allow_wasm.
 * malloc'd. */
char *cg_ui_csp(const char *html, size_t len, bool allow_wasm);

#endif
