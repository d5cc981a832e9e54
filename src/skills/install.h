/* Skill installers, as OpenClaw's skills.install runs them (brew is out of scope):
 *
 *   node      npm install -g --ignore-scripts <package>, with NPM_CONFIG_PREFIX set to
 *             DIR/tools/node/npm (OpenClaw's prefix under its state dir)
 *   uv        uv tool install <package>
 *   go        go install <module>
 *   download  GET url (http/https, redirects followed, 256 MiB at most), sha256 checked
 *             while it streams (a mismatch discards the file), then saved in
 *             DIR/tools/<skillKey>/<targetDir>/ or, for a tar.gz / tar.bz2 archive (or
 *             extract: true), unpacked there with `tar` (stripComponents honoured)
 *             through a staging folder that must hold only folders and regular files
 *             (zip archives are refused as not supported).
 *
 * Package, module and target values are checked with OpenClaw's patterns before
 * anything runs; every process is started with an argv through uv_spawn (never a shell
 * string) in its own process group, so the timeout can kill the installer and all its
 * children. stdout and stderr are captured (CG_SKILL_INSTALL_OUTPUT_MAX bytes each, the
 * rest counted) and logged when the installer ends. Blocking steps (the download, the
 * checksum, moving files) run on libuv's thread pool; the loop only waits for events.
 *
 * The result handed to the callback is OpenClaw's: {ok, message, stdout, stderr, code}
 * (code null when no process ended normally). */
#ifndef CG_SKILLS_INSTALL_H
#define CG_SKILLS_INSTALL_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#define CG_SKILL_INSTALL_OUTPUT_MAX (64u * 1024)
#define CG_SKILL_DOWNLOAD_MAX_BYTES (256ull * 1024 * 1024)
#define CG_SKILL_INSTALL_DEFAULT_TIMEOUT_MS 300000
#define CG_SKILL_INSTALL_MIN_TIMEOUT_MS 1000
#define CG_SKILL_INSTALL_MAX_TIMEOUT_MS 900000

typedef struct cg_skill_install cg_skill_install;

/* result: a new reference the callback owns. */
typedef void (*cg_skill_install_fn)(json_t *result, void *data);

/* Starts the install of `spec` (an install spec from the catalog, with its kind) for the
 * skill with this key; state_dir is DIR. timeout_ms bounds the whole install. cb runs on
 * the loop exactly once, never before this returns, unless the install is cancelled. */
cg_skill_install *cg_skill_install_start(uv_loop_t *loop, const char *state_dir,
                                         const char *skill_key, const json_t *spec,
                                         uint64_t timeout_ms, cg_skill_install_fn cb, void *data);

/* Stops an install whose result nobody waits for any more (its request ended, the
 * gateway stops): the installer's process group is killed, handles close, cb is not
 * called. The install frees itself once its last handle and thread-pool step are done. */
void cg_skill_install_cancel(cg_skill_install *in);

#endif
