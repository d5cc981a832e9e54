/* cg_strdup_vprintf: formats, bounds, and never cuts a UTF-8 character in half. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"

static char *fmt(size_t max, const char *f, ...) __attribute__((format(printf, 2, 3)));
static char *fmt(size_t max, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = cg_strdup_vprintf(max, f, ap);
    va_end(ap);
    return s;
}

static void expect(char *got, const char *want)
{
    assert_string_equal(got, want);
    free(got);
}

static void test_formats_what_fits(void **state)
{
    (void)state;
    expect(fmt(64, "step %d of %s", 2, "three"), "step 2 of three");
    expect(fmt(16, "%s", "exactly 15 bytes"), "exactly 15 byte");
    expect(fmt(1, "%s", "anything"), "");
}

static void test_cuts_on_a_character_boundary(void **state)
{
    (void)state;
    /* "ab" + "é" (2 bytes): with room for 3 bytes the é would be cut in half: dropped. */
    expect(fmt(4, "ab%s", "\xc3\xa9"), "ab");
    expect(fmt(5, "ab%s", "\xc3\xa9x"), "ab\xc3\xa9");
    /* "€" (3 bytes) and "😀" (4 bytes) cut after 1 and after 2 or 3 of their bytes. */
    expect(fmt(3, "a%s", "\xe2\x82\xac"), "a");
    expect(fmt(4, "a%s", "\xe2\x82\xac"), "a");
    expect(fmt(5, "a%s!", "\xe2\x82\xac"), "a\xe2\x82\xac");
    expect(fmt(5, "a%s", "\xf0\x9f\x98\x80"), "a");
    expect(fmt(6, "a%s", "\xf0\x9f\x98\x80"), "a\xf0\x9f\x98\x80");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats_what_fits),
        cmocka_unit_test(test_cuts_on_a_character_boundary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
