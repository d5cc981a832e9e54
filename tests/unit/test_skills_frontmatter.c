/* Unit tests of the SKILL.md front matter parser (skills/frontmatter.c): a table of
 * front matters with the JSON each must give (real OpenClaw skills among them: their
 * multi-line flow `metadata` with trailing commas), a table of malformed ones with the
 * error each must give, the bounds (size, depth), and every bundled skill of the
 * reference OpenClaw install when it is on this machine. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "skills/frontmatter.h"

/* OpenClaw's bundled skills/github/SKILL.md, verbatim. */
static const char GITHUB[] =
    "---\nname: github\ndescription: \"GitHub CLI for issues, PRs, CI/check logs, comments, "
    "reviews, releases, repos, and gh api queries.\"\nmetadata:\n  {\n    \"openclaw\":\n      {\n "
    "       \"emoji\": \"\xF0\x9F\x90\x99\",\n        \"requires\": { \"bins\": [\"gh\"] },\n      "
    "  "
    "\"install\":\n          [\n            {\n              \"id\": \"brew\",\n              "
    "\"kind\": \"brew\",\n              \"formula\": \"gh\",\n              \"bins\": [\"gh\"],\n  "
    " "
    "           \"label\": \"Install GitHub CLI (brew)\",\n            },\n          ],\n      "
    "},\n  "
    "}\n---\n\n# GitHub Skill\n";

typedef struct good_case {
    const char *what;
    const char *input;
    const char *expected; /* JSON */
} good_case;

static const good_case good[] = {
    {"no front matter", "# Just a title\n", "{}"},
    {"empty front matter", "---\n---\nbody\n", "{}"},
    {"plain scalars stay strings at the top level",
     "---\nname: x\nenabled: true\ncount: 3\nempty:\n---\n",
     "{\"name\":\"x\",\"enabled\":\"true\",\"count\":\"3\"}"},
    {"quoted strings", "---\na: \"q \\\"uo\\\" \\u00e9\\n\"\nb: 'it''s # not a comment'\n---\n",
     "{\"a\":\"q \\\"uo\\\" \\u00e9\\n\",\"b\":\"it's # not a comment\"}"},
    {"comments and blank lines", "---\n# a comment\n\nname: x # trailing\n\n---\n",
     "{\"name\":\"x\"}"},
    {"CRLF and a BOM", "\xEF\xBB\xBF---\r\nname: x\r\ndescription: y\r\n---\r\n",
     "{\"name\":\"x\",\"description\":\"y\"}"},
    {"plain scalar continued on deeper lines", "---\ndescription: one\n  two\n  three\n---\n",
     "{\"description\":\"one two three\"}"},
    {"literal block scalar", "---\nd: |\n  line 1\n    indented\n\n  line 3\nx: y\n---\n",
     "{\"d\":\"line 1\\n  indented\\n\\nline 3\\n\",\"x\":\"y\"}"},
    {"literal strip and keep", "---\na: |-\n  t\n\nb: |+\n  t\n\n---\n",
     "{\"a\":\"t\",\"b\":\"t\\n\\n\"}"},
    {"folded block scalar", "---\nd: >\n  folded\n  text\n\n  para\n---\n",
     "{\"d\":\"folded text\\npara\\n\"}"},
    {"nested mappings and block lists",
     "---\nmetadata:\n  openclaw:\n    always: true\n    n: 2\n    ratio: 0.5\n    none: ~\n    "
     "requires:\n      bins:\n        - gh\n        - \"jq\"\n---\n",
     "{\"metadata\":{\"openclaw\":{\"always\":true,\"n\":2,\"ratio\":0.5,\"none\":null,"
     "\"requires\":{\"bins\":[\"gh\",\"jq\"]}}}}"},
    {"a list at the key's own indent", "---\nbins:\n- a\n- b\nname: x\n---\n",
     "{\"bins\":[\"a\",\"b\"],\"name\":\"x\"}"},
    {"list items that are mappings",
     "---\ninstall:\n  - id: one\n    kind: node\n    package: left-pad\n  - id: two\n    kind: "
     "go\n---\n",
     "{\"install\":[{\"id\":\"one\",\"kind\":\"node\",\"package\":\"left-pad\"},{\"id\":\"two\","
     "\"kind\":\"go\"}]}"},
    {"one-line JSON metadata",
     "---\nname: w\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"curl\"]}, \"emoji\": "
     "\"\xE2\x98\x94\"}}\n---\n",
     "{\"name\":\"w\",\"metadata\":{\"openclaw\":{\"requires\":{\"bins\":[\"curl\"]},\"emoji\":"
     "\"\xE2\x98\x94\"}}}"},
    {"real: github", GITHUB,
     "{\"name\":\"github\",\"description\":\"GitHub CLI for issues, PRs, CI/check logs, comments, "
     "reviews, releases, repos, and gh api queries.\",\"metadata\":{\"openclaw\":{\"emoji\":"
     "\"\xF0\x9F\x90\x99\",\"requires\":{\"bins\":[\"gh\"]},\"install\":[{\"id\":\"brew\",\"kind\":"
     "\"brew\",\"formula\":\"gh\",\"bins\":[\"gh\"],\"label\":\"Install GitHub CLI (brew)\"}]}}}"},
    /* skills/weather/SKILL.md's head: a plain URL with a colon inside. */
    {"real: weather homepage", "---\nname: weather\nhomepage: https://wttr.in/:help\n---\n",
     "{\"name\":\"weather\",\"homepage\":\"https://wttr.in/:help\"}"},
    {"dots end the front matter too", "---\nname: x\n...\nname: y\n", "{\"name\":\"x\"}"},
};

typedef struct bad_case {
    const char *what;
    const char *input;
    const char *error; /* a substring of the message */
} bad_case;

static const bad_case bad[] = {
    {"missing closing delimiter", "---\nname: x\n", "line 1: missing closing --- delimiter"},
    {"tab in indentation", "---\nmetadata:\n\tbins: x\n---\n", "line 3: tab in indentation"},
    {"duplicate key", "---\nname: a\nname: b\n---\n", "line 3: duplicate or invalid key 'name'"},
    {"unterminated quote", "---\ndescription: \"never closed\n---\n",
     "line 2: unterminated quoted string"},
    {"text after a quote", "---\na: \"x\" y\n---\n", "line 2: unexpected text after quoted string"},
    {"unterminated flow", "---\nmetadata: {\"a\": [1, 2\n---\n",
     "line 2: unterminated flow collection"},
    {"flow that is not JSON", "---\nmetadata: {openclaw: 1}\n---\n",
     "line 2: invalid flow collection"},
    {"flow error on its own line", "---\nm:\n  {\n    \"a\": 1\n    \"b\": 2\n  }\n---\n",
     "line 5: invalid flow collection"},
    {"flow with YAML's unquoted words", "---\nenv: [A, B]\n---\n",
     "line 2: invalid flow collection"},
    {"anchors", "---\na: &x 1\n---\n", "line 2: anchors, aliases and tags are not supported"},
    {"no key", "---\njust words\n---\n", "line 2: expected 'key: value'"},
    {"list at the top", "---\n- a\n---\n", "line 2: unexpected list item"},
    {"a mapping inside a plain scalar", "---\na: b\n    c: d\n---\n",
     "line 3: unexpected indentation"},
    {"unexpected indentation", "---\na:\n  b: c\n    d: e\n---\n",
     "line 4: unexpected indentation"},
    {"bad escape", "---\na: \"\\q\"\n---\n", "line 2: invalid escape in quoted string"},
    {"bad block header", "---\na: |x\n  t\n---\n", "line 2: invalid block scalar header"},
    {"invalid UTF-8", "---\na: \xC3\x28\n---\n", "line 2: invalid UTF-8"},
};

static void test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char err[256] = "";
        json_t *got =
            cg_skill_frontmatter_parse(good[i].input, strlen(good[i].input), err, sizeof err);
        json_error_t je;
        json_t *want = json_loads(good[i].expected, 0, &je);
        if (!want) fail_msg("%s: bad expectation: %s", good[i].what, je.text);
        if (!got) fail_msg("%s: %s", good[i].what, err);
        if (!json_equal(got, want)) fail_msg("%s: got %s", good[i].what, json_dumps(got, 0));
        json_decref(got);
        json_decref(want);
    }
}

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        json_t *got =
            cg_skill_frontmatter_parse(bad[i].input, strlen(bad[i].input), err, sizeof err);
        if (got) fail_msg("%s: parsed as %s", bad[i].what, json_dumps(got, 0));
        if (!strstr(err, bad[i].error))
            fail_msg("%s: error \"%s\", expected \"%s\"", bad[i].what, err, bad[i].error);
    }
}

static void test_bounds(void **state)
{
    (void)state;
    char err[256];
    /* Over the file limit: refused before reading. */
    size_t big = CG_SKILL_FILE_MAX_BYTES + 1;
    char *buf = malloc(big);
    memset(buf, 'a', big);
    memcpy(buf, "---\n", 4);
    assert_null(cg_skill_frontmatter_parse(buf, big, err, sizeof err));
    assert_non_null(strstr(err, "larger than 262144 bytes"));
    /* At the limit: a long scalar is fine. */
    size_t n = CG_SKILL_FILE_MAX_BYTES;
    memcpy(buf, "---\nd: ", 7);
    memset(buf + 7, 'x', n - 7 - 5);
    memcpy(buf + n - 5, "\n---\n", 5);
    json_t *ok = cg_skill_frontmatter_parse(buf, n, err, sizeof err);
    assert_non_null(ok);
    assert_int_equal(json_string_length(json_object_get(ok, "d")), n - 12);
    json_decref(ok);
    free(buf);

    /* Nesting deeper than the bound: an error, no stack overflow. */
    cg_buf b = {0};
    cg_buf_appends(&b, "---\n");
    for (int d = 0; d < CG_SKILL_FRONTMATTER_MAX_DEPTH + 5; d++) {
        for (int s = 0; s < d; s++)
            cg_buf_appends(&b, " ");
        cg_buf_appends(&b, "k:\n");
    }
    cg_buf_appends(&b, "---\n");
    assert_null(cg_skill_frontmatter_parse(b.data, b.len, err, sizeof err));
    assert_non_null(strstr(err, "nested deeper than 32 levels"));
    cg_buf_reset(&b);

    /* A NUL byte inside the front matter. */
    static const char nul[] = "---\na: b\0c\n---\n";
    assert_null(cg_skill_frontmatter_parse(nul, sizeof nul - 1, err, sizeof err));
    assert_non_null(strstr(err, "line 2: NUL byte"));

    /* Every prefix of a real front matter is parsed or refused, never read past. */
    const char *gh = GITHUB;
    size_t gl = strlen(gh);
    for (size_t k = 0; k <= gl; k++) {
        char *copy = malloc(k ? k : 1);
        memcpy(copy, gh, k);
        json_t *v = cg_skill_frontmatter_parse(copy, k, err, sizeof err);
        json_decref(v);
        free(copy);
    }
}

static void test_flow_trailing_commas(void **state)
{
    (void)state;
    char err[256];
    static const char text[] = "{\"a\": [1, 2,], \"s\": \"x,]\", }";
    json_t *v = cg_skill_flow_parse(text, sizeof text - 1, err, sizeof err);
    assert_non_null(v);
    json_t *want = json_loads("{\"a\":[1,2],\"s\":\"x,]\"}", 0, NULL);
    assert_true(json_equal(v, want));
    json_decref(v);
    json_decref(want);
    assert_null(cg_skill_flow_parse("{\"a\": 1, \"a\": 2}", 16, err, sizeof err));
}

/* Every bundled skill of the reference install parses, with a name and a description, and
 * an openclaw manifest object when it has metadata. */
static void test_real_skills(void **state)
{
    (void)state;
    const char *home = getenv("HOME");
    char root[1024];
    snprintf(root, sizeof root, "%s/.cache/clawgate-peer/node_modules/openclaw/skills",
             home ? home : "");
    DIR *d = opendir(root);
    if (!d) skip();
    struct dirent *de;
    int parsed = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s/SKILL.md", root, de->d_name);
        char *text;
        size_t len;
        if (cg_read_file(path, CG_SKILL_FILE_MAX_BYTES, &text, &len) != 0) continue;
        char err[256];
        json_t *fm = cg_skill_frontmatter_parse(text, len, err, sizeof err);
        if (!fm) fail_msg("%s: %s", path, err);
        if (!json_is_string(json_object_get(fm, "name")) ||
            !json_is_string(json_object_get(fm, "description")))
            fail_msg("%s: no name or description", path);
        json_t *meta = json_object_get(fm, "metadata");
        if (meta && !json_is_object(json_object_get(meta, "openclaw")))
            fail_msg("%s: metadata without an openclaw object", path);
        json_decref(fm);
        free(text);
        parsed++;
    }
    closedir(d);
    assert_true(parsed > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_bounds),      cmocka_unit_test(test_flow_trailing_commas),
        cmocka_unit_test(test_real_skills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
