/* tests/unit/test_text.c — proto/text.c: the refused code points and the escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "proto/text.h"

static void check_classes(void **state)
{
    (void)state;
    int32_t bad;
    assert_int_equal(proto_text_check("文京区", strlen("文京区"), 0, NULL), 0);
    assert_int_equal(proto_text_check("a\x1b[2J", 5, 0, &bad), -1);
    assert_int_equal(bad, 0x1b);
    assert_int_equal(proto_text_check("a\x7f", 2, 0, &bad), -1);
    assert_int_equal(bad, 0x7f);
    assert_int_equal(proto_text_check("a\xc2\x9b", 3, 0, &bad), -1);   /* U+009B CSI */
    assert_int_equal(bad, 0x9b);
    assert_int_equal(proto_text_check("\xc2\xa0", 2, 0, NULL), 0);       /* U+00A0 is not C1 */
    assert_int_equal(proto_text_check("\xe2\x80\xae", 3, 0, &bad), -1);  /* U+202E RLO */
    assert_int_equal(bad, 0x202e);
    assert_int_equal(proto_text_check("\xe2\x81\xa6", 3, 0, &bad), -1);  /* U+2066 LRI */
    assert_int_equal(proto_text_check("\xe2\x80\x8f", 3, 0, NULL), 0);   /* U+200F RLM: no override */
    assert_int_equal(proto_text_check("a\nb\tc", 5, 0, &bad), -1);
    assert_int_equal(bad, '\n');
    assert_int_equal(proto_text_check("a\nb\tc", 5, PROTO_TEXT_NL, NULL), 0);
    assert_int_equal(proto_text_check("a\rb", 3, PROTO_TEXT_NL, &bad), -1);
    assert_int_equal(proto_text_check("a\xff", 2, 0, &bad), -1);
    assert_int_equal(bad, -1);
    assert_int_equal(proto_text_check("a\0b", 3, 0, NULL), -1);
}

static void escape_forms(void **state)
{
    (void)state;
    char out[256];
    assert_string_equal(proto_text_esc("\x1b[2Jclear", out, sizeof out), "\\u001b[2Jclear");
    assert_string_equal(proto_text_esc("a\xc2\x9b" "31m", out, sizeof out), "a\\u009b31m");
    assert_string_equal(proto_text_esc("\x1b]8;;http://x/\x1b\\", out, sizeof out),
                        "\\u001b]8;;http://x/\\u001b\\");
    assert_string_equal(proto_text_esc("x\x7f\r\n", out, sizeof out), "x\\u007f\\u000d\\u000a");
    assert_string_equal(proto_text_esc("\xe2\x80\xae" "abc", out, sizeof out), "\\u202eabc");
    assert_string_equal(proto_text_esc("文京区 ＡＢＣ", out, sizeof out), "文京区 ＡＢＣ");
    assert_string_equal(proto_text_esc("bad\xff\xc3", out, sizeof out), "bad\\xff\\xc3");
    /* newlines and tabs kept on request, other controls not */
    size_t used;
    size_t n = proto_text_escape("a\nb\tc\x1b", 6, PROTO_TEXT_NL, out, sizeof out, &used);
    assert_string_equal(out, "a\nb\tc\\u001b");
    assert_int_equal(n, strlen(out));
    assert_int_equal(used, 6);
    /* a character cut at the end is held back with PROTO_TEXT_PARTIAL */
    n = proto_text_escape("ab\xe6\x96", 4, PROTO_TEXT_PARTIAL, out, sizeof out, &used);
    assert_string_equal(out, "ab");
    assert_int_equal(used, 2);
    /* out too small: whole escapes only, never half of one */
    proto_text_escape("\x1b\x1b", 2, 0, out, 10, &used);
    assert_string_equal(out, "\\u001b");
    assert_int_equal(used, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_classes),
        cmocka_unit_test(escape_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
