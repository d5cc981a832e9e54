/* Unit tests of the Control UI's static file pieces (ui/ui.h): request paths to file
 * names (percent-decoding, every way out of the root refused), base path
 * normalisation, content types, the embedded table (built from ui/ at build time,
 * ETag and gzip copy), the index.html rewrite and the CSP's inline-script hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/ui.h"

static void test_relpath(void **state)
{
    (void)state;
    char out[64];
    assert_true(cg_ui_relpath("/", out, sizeof out));
    assert_string_equal(out, "index.html");
    assert_true(cg_ui_relpath("/assets/a%20b.js", out, sizeof out));
    assert_string_equal(out, "assets/a b.js");
    assert_true(cg_ui_relpath("/chat/", out, sizeof out));
    assert_string_equal(out, "chat/index.html");
    assert_true(cg_ui_relpath("/.well-known/x", out, sizeof out));
    assert_string_equal(out, ".well-known/x");
    static const char *const refused[] = {
        "/..",   "/../etc/passwd", "/a/../../b",  "/%2e%2e/x", "/%2E%2e%2fx", "/a%2fb", "/a%5cb",
        "/a\\b", "/a%00.js",       "/a//b",       "/./a",      "/a/.",        "/%zz",   "/%2",
        "",      "relative",       "/..%2f..%2f",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_false(cg_ui_relpath(refused[i], out, sizeof out));
    char tiny[8];
    assert_false(cg_ui_relpath("/abcdefghijkl", tiny, sizeof tiny));
    assert_false(cg_ui_relpath("/", tiny, sizeof tiny)); /* index.html does not fit */
}

static void test_base_path(void **state)
{
    (void)state;
    char out[64];
    assert_true(cg_ui_base_path(NULL, out, sizeof out));
    assert_string_equal(out, "");
    assert_true(cg_ui_base_path("/", out, sizeof out));
    assert_string_equal(out, "");
    assert_true(cg_ui_base_path("openclaw/", out, sizeof out));
    assert_string_equal(out, "/openclaw");
    assert_true(cg_ui_base_path("/a/b/", out, sizeof out));
    assert_string_equal(out, "/a/b");
    assert_false(cg_ui_base_path("/a/../b", out, sizeof out));
    assert_false(cg_ui_base_path("/a\"b", out, sizeof out));
}

static void test_types(void **state)
{
    (void)state;
    assert_string_equal(cg_ui_content_type("index.html"), "text/html; charset=utf-8");
    assert_string_equal(cg_ui_content_type("assets/x.JS"), "text/javascript; charset=utf-8");
    assert_string_equal(cg_ui_content_type("a.woff2"), "font/woff2");
    assert_string_equal(cg_ui_content_type("noext"), "application/octet-stream");
    assert_string_equal(cg_ui_content_type("dir.d/noext"), "application/octet-stream");
    assert_true(cg_ui_is_asset_name("assets/x.js"));
    assert_false(cg_ui_is_asset_name("chat"));
    assert_false(cg_ui_is_asset_name("x.html"));
    assert_false(cg_ui_is_asset_name(".hidden"));
}

static void test_embedded(void **state)
{
    (void)state;
    const cg_ui_asset *a = cg_ui_embedded_find("index.html");
    assert_non_null(a);
    assert_string_equal(a->content_type, "text/html; charset=utf-8");
    assert_non_null(strstr((const char *)a->data, CLAWGATE_VERSION));
    assert_null(strstr((const char *)a->data, "@CLAWGATE_VERSION@"));
    unsigned char digest[32];
    unsigned n = 0;
    EVP_Digest(a->data, a->len, digest, &n, EVP_sha256(), NULL);
    char etag[70] = "\"";
    for (unsigned i = 0; i < n; i++)
        snprintf(etag + 1 + 2 * i, 3, "%02x", digest[i]);
    strcat(etag, "\"");
    assert_string_equal(a->etag, etag);
    if (a->gz) { /* gzip was there at build time */
        assert_true(a->gz_len < a->len);
        assert_int_equal(a->gz[0], 0x1f);
        assert_int_equal(a->gz[1], 0x8b);
    }
    assert_null(cg_ui_embedded_find("nope.html"));
}

static const char page[] =
    "<!doctype html>\n<HTML data-openclaw-control-ui-build-id=\"b1\" lang=\"en\">"
    "<head><link href=\"./favicon.svg\"><script>var a=1;</script>"
    "<script type=\"module\" crossorigin src=\"./assets/i.js\"></script>"
    "<script data-x=\"y\">\nvar b = 2;\n</script><script></script></head>"
    "<body data-note=\"<html>\"></body></html>";

static void test_rewrite_and_csp(void **state)
{
    (void)state;
    size_t len;
    char *html = cg_ui_index_rewrite(page, strlen(page), "/ui", &len);
    assert_int_equal(strlen(html), len);
    assert_non_null(strstr(html, "<html data-openclaw-control-ui-base-path=\"/ui\" "
                                 "data-openclaw-terminal-enabled=\"false\" lang=\"en\">"));
    assert_null(strstr(html, "build-id"));
    assert_non_null(strstr(html, "href=\"/ui/favicon.svg\""));
    assert_non_null(strstr(html, "src=\"/ui/assets/i.js\""));
    char *csp = cg_ui_csp(html, len, true);
    /* sha256 of "var a=1;" and of "\nvar b = 2;\n"; not the src'd or the empty one. */
    assert_non_null(
        strstr(csp, "script-src 'self' 'sha256-gaaMFNHZyRta8zB2VHkWLMP4tMxJ+d8v3dTW7nw2r6M=' "
                    "'sha256-"));
    const char *first = strstr(csp, "'sha256-");
    const char *second = strstr(first + 1, "'sha256-");
    assert_non_null(second);
    assert_null(strstr(second + 1, "'sha256-"));
    assert_non_null(strstr(csp, "'wasm-unsafe-eval'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    free(csp);
    csp = cg_ui_csp(NULL, 0, false);
    assert_null(strstr(csp, "sha256"));
    assert_null(strstr(csp, "wasm"));
    free(csp);
    free(html);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relpath),         cmocka_unit_test(test_base_path),
        cmocka_unit_test(test_types),           cmocka_unit_test(test_embedded),
        cmocka_unit_test(test_rewrite_and_csp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
