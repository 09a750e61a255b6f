/* tests/unit/test_text.c — proto/text.c: the refused code points and the escaping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "proto/text.h"
#include "proto/util.h"

#include <stdint.h>
#include <utf8proc.h>

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

/* What proto_text_check decides, the long way: valid UTF-8 first, then
 * every code point looked up (no fast path). */
static int check_slow(const char *s, size_t n, unsigned flags)
{
    if (!proto_utf8_valid(s, n))
        return -1;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return -1;
        if (proto_text_cp_refused(cp) && !((flags & PROTO_TEXT_NL) && (cp == '\n' || cp == '\t')))
            return -1;
        i += (size_t)k;
    }
    return 0;
}

/* The fast path (the UTF-8 walk noting the bytes a refused code point
 * starts with) decides as the long way does: every code point between
 * other text, and random byte strings from the bytes that matter (C0,
 * DEL, continuation bytes, the leads 0xc2 and 0xe2 and their neighbours,
 * surrogate and 4-byte leads). */
static void fast_path_same_as_slow(void **state)
{
    (void)state;
    for (int32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        char buf[16] = "x";
        utf8proc_ssize_t l = utf8proc_encode_char(cp, (utf8proc_uint8_t *)buf + 1);
        memcpy(buf + 1 + l, "語", 3);
        size_t n = 1 + (size_t)l + 3;
        for (unsigned fl = 0; fl <= PROTO_TEXT_NL; fl += PROTO_TEXT_NL)
            if (proto_text_check(buf, n, fl, NULL) != check_slow(buf, n, fl))
                fail_msg("U+%04X flags %u: fast %d, slow %d", (unsigned)cp, fl,
                         proto_text_check(buf, n, fl, NULL), check_slow(buf, n, fl));
    }
    static const unsigned char alphabet[] = { 0x00, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x20, 'a', 0x7e, 0x7f,
                                              0x80, 0x81, 0x8f, 0x9b, 0xa0, 0xa6, 0xae, 0xbf, 0xc0, 0xc1,
                                              0xc2, 0xc3, 0xdf, 0xe0, 0xe1, 0xe2, 0xe3, 0xed, 0xef, 0xf0,
                                              0xf4, 0xf5, 0xff };
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int t = 0; t < 300000; t++) {
        char buf[12];
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = 1 + x % sizeof buf;
        uint64_t y = x;
        for (size_t i = 0; i < n; i++) {
            y = y * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (char)alphabet[(y >> 33) % sizeof alphabet];
        }
        for (unsigned fl = 0; fl <= PROTO_TEXT_NL; fl += PROTO_TEXT_NL)
            if (proto_text_check(buf, n, fl, NULL) != check_slow(buf, n, fl))
                fail_msg("random string %d (%zu bytes) flags %u differs", t, n, fl);
    }
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
        cmocka_unit_test(fast_path_same_as_slow),
        cmocka_unit_test(escape_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
