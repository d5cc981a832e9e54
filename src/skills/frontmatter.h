/* SKILL.md front matter -> JSON: a pure function over a bounded buffer (bytes in, JSON
 * out), kept apart so it can be fuzzed on its own.
 *
 * A skill file starts with a `---` line, then YAML, then a `---` (or `...`) line, then the
 * instructions. The YAML subset is what real skills use:
 *   - mappings by indentation (`key: value`), lists of `- item` (items may be mappings);
 *   - plain scalars (a plain scalar may continue on more-indented lines), "double" and
 *     'single' quoted strings, literal `|` and folded `>` block scalars with the `-` and
 *     `+` chomping indicators;
 *   - flow collections (`{...}` / `[...]`, on one line or spread over indented lines, as
 *     OpenClaw's bundled skills write `metadata:`) read with jansson, accepting the
 *     trailing commas those skills leave;
 *   - `#` comments and blank lines.
 * At the top level every scalar stays a string (OpenClaw coerces front matter values to
 * strings); below it plain `true`/`false`/`null`/numbers are typed, as YAML does.
 * Anything else (tabs in indentation, anchors, a missing closing `---`, a duplicate key)
 * is refused with "line N: <what>". A file without front matter is an empty object. */
#ifndef CG_SKILLS_FRONTMATTER_H
#define CG_SKILLS_FRONTMATTER_H

#include <jansson.h>
#include <stddef.h>

#define CG_SKILL_FILE_MAX_BYTES (256u * 1024)
/* Deepest nesting of block mappings and lists. */
#define CG_SKILL_FRONTMATTER_MAX_DEPTH 32

/* The front matter of a SKILL.md of len bytes (at most CG_SKILL_FILE_MAX_BYTES) as a new
 * JSON object, or NULL with a message in err. */
json_t *cg_skill_frontmatter_parse(const char *buf, size_t len, char *err, size_t errlen);

/* A flow collection or JSON text with trailing commas allowed (`{"a": [1, 2,],}`), as
 * jansson reads it once those commas are gone. New ref, or NULL with err. */
json_t *cg_skill_flow_parse(const char *text, size_t len, char *err, size_t errlen);

#endif
