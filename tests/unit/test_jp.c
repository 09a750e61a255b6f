/* tests/unit/test_jp.c — catalog/jp: identifiers, dates, fiscal years, eras.
 * Expected values are worked out by hand in the comments, not by calling
 * the code under test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include "catalog/jp.h"

static jp_date D(int y, int m, int d)
{
    return (jp_date){ y, m, d };
}

#define assert_date(got, Y, M, Dd) do {        \
        jp_date g_ = (got);                    \
        assert_int_equal(g_.y, (Y));           \
        assert_int_equal(g_.m, (M));           \
        assert_int_equal(g_.d, (Dd));          \
    } while (0)

#define assert_err_has(err, needle) do {                          \
        if (!strstr((err), (needle)))                             \
            fail_msg("message \"%s\" lacks \"%s\"", (err), (needle)); \
    } while (0)

/* ---- 全国地方公共団体コード ---- */

static void municipality_valid(void **state)
{
    char err[128];
    /* 131059 文京区: 6*1+5*3+4*1+3*0+2*5 = 35, 35%11 = 2, 11-2 = 9 */
    assert_int_equal(jp_municipality_code_valid("131059", err, sizeof err), 0);
    /* 011002 札幌市: 0+5+4+0+0 = 9, 11-9 = 2 */
    assert_int_equal(jp_municipality_code_valid("011002", err, sizeof err), 0);
    /* 131016 千代田区: 6+15+4+0+2 = 27, 27%11 = 5, 11-5 = 6 */
    assert_int_equal(jp_municipality_code_valid("131016", err, sizeof err), 0);
    /* 271004 大阪市: 12+35+4+0+0 = 51, 51%11 = 7, 11-7 = 4 */
    assert_int_equal(jp_municipality_code_valid("271004", err, sizeof err), 0);
    /* 130001 東京都: 6+15 = 21, 21%11 = 10, 11-10 = 1 */
    assert_int_equal(jp_municipality_code_valid("130001", err, sizeof err), 0);
    /* Remainder 0: 11 -> last digit 1.  "00000x": sum 0. */
    assert_int_equal(jp_municipality_code_valid("000001", err, sizeof err), 0);
    assert_int_equal(jp_municipality_code_valid("000000", err, sizeof err), -1);
    /* Remainder 1: 10 -> last digit 0.  "20000x": 12 % 11 = 1. */
    assert_int_equal(jp_municipality_code_valid("200000", err, sizeof err), 0);
    assert_int_equal(jp_municipality_code_valid("200001", err, sizeof err), -1);
    /* err may be NULL */
    assert_int_equal(jp_municipality_code_valid("131059", NULL, 0), 0);
}

static void municipality_invalid(void **state)
{
    char err[128];
    err[0] = '\0';
    assert_int_equal(jp_municipality_code_valid("131058", err, sizeof err), -1);
    assert_err_has(err, "expected 9");
    assert_err_has(err, "131058");

    assert_int_equal(jp_municipality_code_valid("13105", err, sizeof err), -1);
    assert_err_has(err, "6 digits");
    assert_err_has(err, "got 5");
    assert_int_equal(jp_municipality_code_valid("1310590", err, sizeof err), -1);
    assert_err_has(err, "6 digits");
    assert_int_equal(jp_municipality_code_valid("13a059", err, sizeof err), -1);
    assert_err_has(err, "character 3");
    assert_int_equal(jp_municipality_code_valid("", err, sizeof err), -1);
    assert_int_equal(jp_municipality_code_valid(" 31059", err, sizeof err), -1);
    assert_int_equal(jp_municipality_code_valid("-31059", err, sizeof err), -1);
    /* full-width digits are not ASCII digits (and are 18 bytes) */
    assert_int_equal(jp_municipality_code_valid("１３１０５９", err, sizeof err), -1);
    assert_int_equal(jp_municipality_code_valid(NULL, err, sizeof err), -1);
    assert_err_has(err, "missing");
    assert_int_equal(jp_municipality_code_valid("131058", NULL, 0), -1);

    /* A tiny buffer is truncated, not overrun. */
    char tiny[8];
    memset(tiny, 'X', sizeof tiny);
    assert_int_equal(jp_municipality_code_valid("131058", tiny, 4), -1);
    assert_int_equal(tiny[3], '\0');
    assert_int_equal(tiny[4], 'X');
    assert_int_equal(jp_municipality_code_valid("131058", tiny, 1), -1);
    assert_int_equal(tiny[0], '\0');
}

/* ---- 法人番号 ---- */

static void corporate_known(void **state)
{
    char err[128];
    /* 国税庁 7000012050002: body 000012050002, from the right:
     * 2*1 + 0*2 + 0*1 + 0*2 + 5*1 + 0*2 + 2*1 + 1*2 = 11, 11%9 = 2, 9-2 = 7 */
    assert_int_equal(jp_corporate_number_check_digit("000012050002"), 7);
    assert_int_equal(jp_corporate_number_valid("7000012050002", err, sizeof err), 0);
    assert_int_equal(jp_corporate_number_valid("7000012050002", NULL, 0), 0);

    err[0] = '\0';
    assert_int_equal(jp_corporate_number_valid("8000012050002", err, sizeof err), -1);
    assert_err_has(err, "expected 7");
    /* a changed body digit: 7000012050003 -> sum 12, 12%9 = 3, want 6 */
    assert_int_equal(jp_corporate_number_valid("7000012050003", err, sizeof err), -1);
    assert_err_has(err, "expected 6");
}

static void corporate_round_trip(void **state)
{
    static const struct { const char *body; int cd; } cases[] = {
        { "000000000000", 9 },  /* sum 0 -> 9 - 0 */
        { "000000000001", 8 },  /* rightmost weight 1: sum 1 */
        { "000000000010", 7 },  /* second from right weight 2: sum 2 */
        { "000000000008", 1 },  /* sum 8 */
        { "000000000009", 9 },  /* sum 9, 9%9 = 0 */
        { "100000000000", 7 },  /* leftmost is 12th from right: weight 2 */
        /* from the right 2,1,0,9,8,7,6,5,4,3,2,1 with weights 1,2,1,2...:
         * 2+2+0+18+8+14+6+10+4+6+2+2 = 74, 74%9 = 2 -> 7 */
        { "123456789012", 7 },
        /* six 9s weight 1 (54) + six 9s weight 2 (108) = 162, %9 = 0 -> 9 */
        { "999999999999", 9 },
        { "000012050002", 7 },
    };
    char err[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int cd = jp_corporate_number_check_digit(cases[i].body);
        assert_int_equal(cd, cases[i].cd);
        char num[14];
        num[0] = (char)('0' + cd);
        memcpy(num + 1, cases[i].body, 13);   /* with its NUL */
        assert_int_equal(jp_corporate_number_valid(num, err, sizeof err), 0);
        /* every other leading digit must be rejected */
        for (int c = 0; c <= 9; c++) {
            if (c == cd)
                continue;
            num[0] = (char)('0' + c);
            assert_int_equal(jp_corporate_number_valid(num, err, sizeof err), -1);
        }
    }
}

static void corporate_invalid(void **state)
{
    char err[128];
    assert_int_equal(jp_corporate_number_check_digit(NULL), -1);
    assert_int_equal(jp_corporate_number_check_digit(""), -1);
    assert_int_equal(jp_corporate_number_check_digit("00001205000"), -1);    /* 11 */
    assert_int_equal(jp_corporate_number_check_digit("0000120500020"), -1);  /* 13 */
    assert_int_equal(jp_corporate_number_check_digit("00001205000x"), -1);

    assert_int_equal(jp_corporate_number_valid("700001205000", err, sizeof err), -1);
    assert_err_has(err, "13 digits");
    assert_int_equal(jp_corporate_number_valid("70000120500020", err, sizeof err), -1);
    assert_err_has(err, "13 digits");
    assert_int_equal(jp_corporate_number_valid("7000012O50002", err, sizeof err), -1);
    assert_err_has(err, "character 8");
    assert_int_equal(jp_corporate_number_valid("", err, sizeof err), -1);
    assert_int_equal(jp_corporate_number_valid(NULL, err, sizeof err), -1);
    assert_int_equal(jp_corporate_number_valid(NULL, NULL, 0), -1);
}

/* ---- dates ---- */

static void date_parse_valid(void **state)
{
    char err[128];
    jp_date d;
    assert_int_equal(jp_date_parse("2026-03-31", &d, err, sizeof err), 0);
    assert_date(d, 2026, 3, 31);
    assert_int_equal(jp_date_parse("2026-04-01", &d, err, sizeof err), 0);
    assert_date(d, 2026, 4, 1);
    assert_int_equal(jp_date_parse("2024-02-29", &d, err, sizeof err), 0);
    assert_date(d, 2024, 2, 29);
    assert_int_equal(jp_date_parse("2000-02-29", &d, err, sizeof err), 0);
    assert_date(d, 2000, 2, 29);
    assert_int_equal(jp_date_parse("1900-01-01", &d, err, sizeof err), 0);
    assert_date(d, 1900, 1, 1);
    assert_int_equal(jp_date_parse("2999-12-31", &d, NULL, 0), 0);
    assert_date(d, 2999, 12, 31);
    assert_int_equal(jp_date_parse("2026-12-31", &d, NULL, 0), 0);
    assert_date(d, 2026, 12, 31);
}

static void date_parse_invalid(void **state)
{
    static const char *bad[] = {
        "2023-02-29",   /* 2023 not leap */
        "2100-02-29",   /* divisible by 100, not by 400 */
        "1900-02-29",
        "2026-04-31", "2026-06-31", "2026-01-32", "2026-01-00",
        "2026-00-10", "2026-13-01",
        "1899-12-31", "3000-01-01", "0000-01-01",
        "2026-1-01", "2026-01-1", "26-01-01",
        "2026/01/01", "2026.01.01", "20260101",
        "", "2026-01-01x", "2026-01-01 ", " 2026-01-01", "2026-01-01\n",
        "+026-01-01", "-026-01-01", "2026-01-0a", "2026--1-01", "2026-01-01T00:00",
        "２０２６-01-01",
    };
    char err[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jp_date d = { 7, 7, 7 };
        err[0] = '\0';
        if (jp_date_parse(bad[i], &d, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
        assert_date(d, 7, 7, 7);   /* untouched on failure */
        assert_int_equal(jp_date_parse(bad[i], &d, NULL, 0), -1);
    }
    jp_date d;
    assert_int_equal(jp_date_parse(NULL, &d, err, sizeof err), -1);
    assert_int_equal(jp_date_parse("2026-01-01", NULL, err, sizeof err), -1);

    assert_int_equal(jp_date_parse("2023-02-29", &d, err, sizeof err), -1);
    assert_err_has(err, "28 days");
    assert_int_equal(jp_date_parse("2026/01/01", &d, err, sizeof err), -1);
    assert_err_has(err, "character 5");
    assert_int_equal(jp_date_parse("2026-1-01", &d, err, sizeof err), -1);
    assert_err_has(err, "10 characters");
    assert_int_equal(jp_date_parse("3000-01-01", &d, err, sizeof err), -1);
    assert_err_has(err, "1900..2999");
}

/* ---- dates as people type them ---- */

static void date_read_valid(void **state)
{
    static const struct { const char *in; int y, m, d; } cases[] = {
        { "2026-04-01", 2026, 4, 1 },
        { "2026/4/1", 2026, 4, 1 },
        { "2026.4.1", 2026, 4, 1 },
        { "2026年4月1日", 2026, 4, 1 },
        { "2026年4月1", 2026, 4, 1 },           /* 日 optional */
        { "２０２６／０４／０１", 2026, 4, 1 },   /* full-width digits and slash */
        { "２０２６－４－１", 2026, 4, 1 },       /* full-width hyphen-minus U+FF0D */
        { "2026\xe2\x88\x92" "4\xe2\x88\x92" "1", 2026, 4, 1 },   /* MINUS SIGN U+2212 */
        { " 2026年 4月 1日\xe3\x80\x80", 2026, 4, 1 },            /* spaces, U+3000 */
        /* 令和 began 2019-05-01: 令和8 = 2019 + 8 - 1 = 2026 */
        { "令和8年4月1日", 2026, 4, 1 },
        { "令和８年４月１日", 2026, 4, 1 },
        { "令和元年5月1日", 2019, 5, 1 },          /* first day of 令和 */
        { "令和1年5月1日", 2019, 5, 1 },
        { "R8.4.1", 2026, 4, 1 },
        { "r8.4.1", 2026, 4, 1 },
        { "R8/4/1", 2026, 4, 1 },
        { "R08.04.01", 2026, 4, 1 },
        { "Ｒ８．４．１", 2026, 4, 1 },
        { "R8-4-1", 2026, 4, 1 },
        { "令和8.4.1", 2026, 4, 1 },
        { "\xe3\x8b\xbf" "8年4月1日", 2026, 4, 1 },   /* ㋿ U+32FF */
        /* 平成 1989-01-08 .. 2019-04-30: 平成31 = 1989 + 31 - 1 = 2019 */
        { "平成31年4月30日", 2019, 4, 30 },        /* last day of 平成 */
        { "H31.4.30", 2019, 4, 30 },
        { "h31/4/30", 2019, 4, 30 },
        { "平成元年1月8日", 1989, 1, 8 },          /* first day of 平成 */
        { "\xe3\x8d\xbb" "30年12月31日", 2018, 12, 31 },   /* ㍻ U+337B */
        /* 昭和 1926-12-25 .. 1989-01-07: 昭和64 = 1926 + 64 - 1 = 1989 */
        { "昭和64年1月7日", 1989, 1, 7 },
        { "S63.12.31", 1988, 12, 31 },
        { "大正15年12月24日", 1926, 12, 24 },       /* 1912 + 15 - 1 */
        { "明治33年1月1日", 1900, 1, 1 },          /* 1868 + 33 - 1, the first supported year */
        { "令和981年12月31日", 2999, 12, 31 },      /* 2019 + 981 - 1, the last */
        { "令和6年2月29日", 2024, 2, 29 },          /* 2024 is a leap year */
    };
    char err[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jp_date d = { 0, 0, 0 };
        err[0] = '\0';
        if (jp_date_read(cases[i].in, &d, err, sizeof err) != 0)
            fail_msg("refused \"%s\": %s", cases[i].in, err);
        assert_date(d, cases[i].y, cases[i].m, cases[i].d);
    }
}

static void date_read_invalid(void **state)
{
    static const char *bad[] = {
        "", "   ", "2026", "2026-04", "26-04-01", "20260401", "2026-04-01x", "2026-4-1-1",
        "2026-004-01", "02026-04-01", "令和", "令和年4月1日", "R", "R8", "R8.4", "X8.4.1",
        "令和8年4月", "令和8年4月1日日", "令和1000年1月1日",
        "2026-13-01", "2026-00-01", "2026-02-29", "2026-04-31", "1899-12-31", "3000-01-01",
        "令和0年5月1日",            /* no year 0 */
        "令和元年4月30日",          /* 令和 began 2019-05-01 */
        "平成31年5月1日",           /* 平成 ended 2019-04-30 */
        "H32.1.1",
        "平成元年1月7日",           /* still 昭和64 */
        "昭和64年1月8日",           /* already 平成 */
        "大正15年12月25日",         /* already 昭和 */
        "明治45年7月30日",          /* already 大正 */
        "明治32年12月31日",         /* 1899: before the supported years */
        "令和982年1月1日",          /* 3000 */
        "令和5年2月29日",           /* 2023 is not a leap year */
        "\xff", "2026-04-0\xc0\xb1",
    };
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jp_date d = { 7, 7, 7 };
        err[0] = '\0';
        if (jp_date_read(bad[i], &d, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
        assert_date(d, 7, 7, 7);   /* untouched on failure */
        assert_int_equal(jp_date_read(bad[i], &d, NULL, 0), -1);
    }
    jp_date d;
    assert_int_equal(jp_date_read(NULL, &d, err, sizeof err), -1);
    assert_int_equal(jp_date_read("2026-04-01", NULL, err, sizeof err), -1);

    /* the messages say why, in Japanese */
    assert_int_equal(jp_date_read("平成31年5月1日", &d, err, sizeof err), -1);
    assert_err_has(err, "「平成31年5月1日」");
    assert_err_has(err, "平成は2019年4月30日まで");
    assert_err_has(err, "2019年5月1日からは令和");
    assert_int_equal(jp_date_read("令和元年4月30日", &d, err, sizeof err), -1);
    assert_err_has(err, "令和は2019年5月1日から");
    assert_int_equal(jp_date_read("昭和64年1月8日", &d, err, sizeof err), -1);
    assert_err_has(err, "昭和は1989年1月7日まで");
    assert_int_equal(jp_date_read("令和0年5月1日", &d, err, sizeof err), -1);
    assert_err_has(err, "令和0年はありません");
    assert_int_equal(jp_date_read("令和5年2月29日", &d, err, sizeof err), -1);
    assert_err_has(err, "2023年2月は28日まで");
    assert_int_equal(jp_date_read("2026-13-01", &d, err, sizeof err), -1);
    assert_err_has(err, "月は1～12");
    assert_int_equal(jp_date_read("3000-01-01", &d, err, sizeof err), -1);
    assert_err_has(err, "1900年から2999年");
    assert_int_equal(jp_date_read("あした", &d, err, sizeof err), -1);
    assert_err_has(err, "「あした」は日付として読めません");
    assert_err_has(err, "R8.4.1");
    /* longer than JP_DATE_TEXT_MAX: refused without being read further */
    char longer[JP_DATE_TEXT_MAX + 2];
    memset(longer, ' ', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(jp_date_read(longer, &d, err, sizeof err), -1);
    assert_err_has(err, "長すぎます");
    /* exactly JP_DATE_TEXT_MAX bytes with spaces around a date is read */
    memset(longer, ' ', JP_DATE_TEXT_MAX);
    memcpy(longer + 10, "R8.4.1", 6);
    longer[JP_DATE_TEXT_MAX] = '\0';
    assert_int_equal(jp_date_read(longer, &d, err, sizeof err), 0);
    assert_date(d, 2026, 4, 1);
    /* a small err buffer is truncated, never overflowed */
    char small[8];
    memset(small, 'X', sizeof small);
    assert_int_equal(jp_date_read("平成31年5月1日", &d, small, sizeof small), -1);
    assert_true(memchr(small, '\0', sizeof small) != NULL);
}

static void date_format(void **state)
{
    char out[11];
    jp_date_format(D(2026, 3, 31), out);
    assert_string_equal(out, "2026-03-31");
    jp_date_format(D(1900, 1, 1), out);
    assert_string_equal(out, "1900-01-01");
    /* invalid but printable: shown as is */
    jp_date_format(D(2023, 2, 29), out);
    assert_string_equal(out, "2023-02-29");
    /* does not fit: sentinel, and never more than 11 bytes */
    char guard[16];
    memset(guard, 'X', sizeof guard);
    jp_date_format(D(INT_MAX, 1, 1), guard);
    assert_string_equal(guard, "0000-00-00");
    assert_int_equal(guard[11], 'X');
    jp_date_format(D(2026, -1, 1), out);
    assert_string_equal(out, "0000-00-00");
    jp_date_format(D(2026, 1, 100), out);
    assert_string_equal(out, "0000-00-00");

    /* round trip */
    jp_date d;
    assert_int_equal(jp_date_parse("2024-02-29", &d, NULL, 0), 0);
    jp_date_format(d, out);
    assert_string_equal(out, "2024-02-29");
}

static void date_cmp(void **state)
{
    assert_int_equal(jp_date_cmp(D(2026, 3, 31), D(2026, 3, 31)), 0);
    assert_true(jp_date_cmp(D(2026, 3, 31), D(2026, 4, 1)) < 0);
    assert_true(jp_date_cmp(D(2026, 4, 1), D(2026, 3, 31)) > 0);
    assert_true(jp_date_cmp(D(2025, 12, 31), D(2026, 1, 1)) < 0);
    assert_true(jp_date_cmp(D(2026, 1, 2), D(2026, 1, 1)) > 0);
    /* a difference that would overflow if subtracted */
    assert_true(jp_date_cmp(D(INT_MIN, 1, 1), D(INT_MAX, 1, 1)) < 0);
    assert_true(jp_date_cmp(D(1, 1, INT_MAX), D(1, 1, INT_MIN)) > 0);
}

static void date_valid(void **state)
{
    assert_int_equal(jp_date_valid(D(2024, 2, 29)), 1);
    assert_int_equal(jp_date_valid(D(2023, 2, 29)), 0);
    assert_int_equal(jp_date_valid(D(2100, 2, 29)), 0);
    assert_int_equal(jp_date_valid(D(2000, 2, 29)), 1);
    assert_int_equal(jp_date_valid(D(2023, 2, 28)), 1);
    assert_int_equal(jp_date_valid(D(2026, 4, 30)), 1);
    assert_int_equal(jp_date_valid(D(2026, 4, 31)), 0);
    assert_int_equal(jp_date_valid(D(2026, 12, 31)), 1);
    assert_int_equal(jp_date_valid(D(2026, 13, 1)), 0);
    assert_int_equal(jp_date_valid(D(2026, 0, 1)), 0);
    assert_int_equal(jp_date_valid(D(2026, 1, 0)), 0);
    assert_int_equal(jp_date_valid(D(1900, 1, 1)), 1);
    assert_int_equal(jp_date_valid(D(1899, 12, 31)), 0);
    assert_int_equal(jp_date_valid(D(2999, 12, 31)), 1);
    assert_int_equal(jp_date_valid(D(3000, 1, 1)), 0);
    assert_int_equal(jp_date_valid(D(INT_MIN, INT_MIN, INT_MIN)), 0);
    assert_int_equal(jp_date_valid(D(0, 0, 0)), 0);
}

static void fiscal_year(void **state)
{
    assert_int_equal(jp_fiscal_year(D(2026, 3, 31)), 2025);
    assert_int_equal(jp_fiscal_year(D(2026, 4, 1)), 2026);
    assert_int_equal(jp_fiscal_year(D(2026, 1, 1)), 2025);
    assert_int_equal(jp_fiscal_year(D(2026, 12, 31)), 2026);
    assert_int_equal(jp_fiscal_year(D(1900, 1, 1)), 1899);
    assert_int_equal(jp_fiscal_year(D(2023, 2, 29)), -1);
    assert_int_equal(jp_fiscal_year(D(INT_MIN, 1, 1)), -1);

    assert_date(jp_fiscal_year_end(2025), 2026, 3, 31);
    assert_date(jp_fiscal_year_end(2026), 2027, 3, 31);
    assert_date(jp_fiscal_year_end(1899), 1900, 3, 31);
    assert_date(jp_fiscal_year_end(2998), 2999, 3, 31);
    assert_date(jp_fiscal_year_end(2999), 0, 0, 0);
    assert_date(jp_fiscal_year_end(1898), 0, 0, 0);
    assert_date(jp_fiscal_year_end(INT_MAX), 0, 0, 0);
    assert_date(jp_fiscal_year_end(INT_MIN), 0, 0, 0);
    assert_int_equal(jp_date_valid(jp_fiscal_year_end(2999)), 0);
}

/* ---- valid-until ---- */

static void valid_until_ok(void **state)
{
    static const struct {
        const char *rule;
        jp_date base, want;
    } cases[] = {
        { "2027-03-31",     { 2026, 5, 10 },  { 2027, 3, 31 } },
        /* explicit dates are not tied to base */
        { "2020-01-01",     { 2026, 5, 10 },  { 2020, 1, 1 } },
        /* FY2026 (2026-04-01..2027-03-31) */
        { "fy-end",         { 2026, 5, 10 },  { 2027, 3, 31 } },
        { "fy-end+0",       { 2026, 5, 10 },  { 2027, 3, 31 } },
        /* 3/31 and 4/1 edges: FY2025 vs FY2026 */
        { "fy-end",         { 2026, 3, 31 },  { 2026, 3, 31 } },
        { "fy-end",         { 2026, 4, 1 },   { 2027, 3, 31 } },
        { "fy-end",         { 2026, 1, 15 },  { 2026, 3, 31 } },
        /* FY2026 + 2 = FY2028, ends 2029-03-31 */
        { "fy-end+2",       { 2026, 5, 10 },  { 2029, 3, 31 } },
        /* FY2025 + 1 = FY2026 */
        { "fy-end+1",       { 2026, 3, 31 },  { 2027, 3, 31 } },
        /* FY2026 + 20 = FY2046, ends 2047-03-31 */
        { "fy-end+20",      { 2026, 5, 10 },  { 2047, 3, 31 } },
        { "fy-end+02",      { 2026, 5, 10 },  { 2029, 3, 31 } },
        /* 2029-05-10 is in FY2029 */
        { "fy-end-of:+3y",  { 2026, 5, 10 },  { 2030, 3, 31 } },
        /* 2029-03-31 is in FY2028 */
        { "fy-end-of:+3y",  { 2026, 3, 31 },  { 2029, 3, 31 } },
        /* 2029-04-01 is in FY2029 */
        { "fy-end-of:+3y",  { 2026, 4, 1 },   { 2030, 3, 31 } },
        /* 2025-02-28 (clamped) is in FY2024 */
        { "fy-end-of:+1y",  { 2024, 2, 29 },  { 2025, 3, 31 } },
        /* 2028-02-29 exists (leap) and is in FY2027 */
        { "fy-end-of:+4y",  { 2024, 2, 29 },  { 2028, 3, 31 } },
        /* 2024-02-29 itself, FY2023 */
        { "fy-end-of:+0y",  { 2024, 2, 29 },  { 2024, 3, 31 } },
        /* 2046-05-10 is in FY2046 */
        { "fy-end-of:+20y", { 2026, 5, 10 },  { 2047, 3, 31 } },
        /* last representable: 2998-04-01 is FY2998, ends 2999-03-31 */
        { "fy-end",         { 2998, 4, 1 },   { 2999, 3, 31 } },
    };
    char err[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jp_date got = { 0, 0, 0 };
        err[0] = '\0';
        if (jp_valid_until(cases[i].rule, cases[i].base, &got, err, sizeof err) != 0)
            fail_msg("case %zu \"%s\": %s", i, cases[i].rule, err);
        if (jp_date_cmp(got, cases[i].want) != 0)
            fail_msg("case %zu \"%s\": got %d-%d-%d", i, cases[i].rule,
                     got.y, got.m, got.d);
    }
    jp_date got;
    assert_int_equal(jp_valid_until("fy-end", D(2026, 5, 10), &got, NULL, 0), 0);
    assert_date(got, 2027, 3, 31);
}

static void valid_until_bad(void **state)
{
    static const char *bad[] = {
        "", "fy", "fy-end ", " fy-end", "FY-END", "fy_end", "fy-end+", "fy-end+-1",
        "fy-end+ 2", "fy-end+2x", "fy-end+2y", "fy-end-2", "fy-end+21",
        "fy-end+99999999999", "fy-end+99999999999999999999999999999999",
        "fy-end-of:", "fy-end-of:+", "fy-end-of:+y", "fy-end-of:+3",
        "fy-end-of:3y", "fy-end-of:+3Y", "fy-end-of:+3y ", "fy-end-of:+21y",
        "fy-end-of:+99999999999y", "fy-end-of:-1y", "fy-end-of+3y",
        "2027-02-30", "2027-3-31", "2027/03/31", "2027-03-31x", "3000-03-31",
        "tomorrow",
    };
    char err[160];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        jp_date got = { 7, 7, 7 };
        err[0] = '\0';
        if (jp_valid_until(bad[i], D(2026, 5, 10), &got, err, sizeof err) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(err[0] != '\0');
        assert_date(got, 7, 7, 7);
        assert_int_equal(jp_valid_until(bad[i], D(2026, 5, 10), &got, NULL, 0), -1);
    }

    jp_date got;
    assert_int_equal(jp_valid_until("tomorrow", D(2026, 5, 10), &got, err, sizeof err), -1);
    assert_err_has(err, "YYYY-MM-DD");
    assert_err_has(err, "fy-end+N");
    assert_err_has(err, "fy-end-of:+Ny");
    assert_int_equal(jp_valid_until("fy-end+99999999999", D(2026, 5, 10), &got,
                                    err, sizeof err), -1);
    assert_err_has(err, "0..20");
    assert_int_equal(jp_valid_until("fy-end-of:+21y", D(2026, 5, 10), &got,
                                    err, sizeof err), -1);
    assert_err_has(err, "0..20");
    assert_int_equal(jp_valid_until(NULL, D(2026, 5, 10), &got, err, sizeof err), -1);
    assert_err_has(err, "accepted forms");
    assert_int_equal(jp_valid_until("fy-end", D(2026, 5, 10), NULL, err, sizeof err), -1);

    /* base must be a valid date */
    assert_int_equal(jp_valid_until("fy-end", D(2023, 2, 29), &got, err, sizeof err), -1);
    assert_err_has(err, "base");
    assert_int_equal(jp_valid_until("2027-03-31", D(0, 0, 0), &got, err, sizeof err), -1);
    assert_int_equal(jp_valid_until("fy-end+1", D(INT_MAX, 4, 1), &got, err, sizeof err), -1);

    /* results past 2999 are refused, not wrapped: FY2999 ends in 3000 */
    assert_int_equal(jp_valid_until("fy-end", D(2999, 4, 1), &got, err, sizeof err), -1);
    assert_int_equal(jp_valid_until("fy-end+20", D(2980, 4, 1), &got, err, sizeof err), -1);
    assert_int_equal(jp_valid_until("fy-end-of:+1y", D(2999, 1, 1), &got, err, sizeof err), -1);
    /* but 2998-12-31 + 1y = 2999-12-31 is FY2999: also past */
    assert_int_equal(jp_valid_until("fy-end-of:+1y", D(2998, 12, 31), &got, err, sizeof err), -1);
    /* 2998-03-31 + 1y = 2999-03-31, FY2998, ends 2999-03-31: fine */
    assert_int_equal(jp_valid_until("fy-end-of:+1y", D(2998, 3, 31), &got, err, sizeof err), 0);
    assert_date(got, 2999, 3, 31);
}

/* ---- 和暦 ---- */

static void era_date(void **state)
{
    static const struct { jp_date d; const char *want; } cases[] = {
        { { 2026, 11, 23 }, "令和8年11月23日" },   /* 2026-2019+1 = 8 */
        { { 2019, 5, 1 },   "令和元年5月1日" },
        { { 2019, 4, 30 },  "平成31年4月30日" },  /* 2019-1989+1 = 31 */
        { { 2020, 1, 1 },   "令和2年1月1日" },
        { { 2026, 3, 31 },  "令和8年3月31日" },
        { { 2026, 4, 1 },   "令和8年4月1日" },
        { { 1989, 1, 8 },   "平成元年1月8日" },
        { { 1989, 1, 7 },   "昭和64年1月7日" },   /* 1989-1926+1 = 64 */
        { { 1988, 12, 31 }, "昭和63年12月31日" },
        { { 1926, 12, 25 }, "昭和元年12月25日" },
        { { 1926, 12, 24 }, "大正15年12月24日" },  /* 1926-1912+1 = 15 */
        { { 1912, 7, 30 },  "大正元年7月30日" },
        { { 1912, 7, 29 },  "明治45年7月29日" },   /* 1912-1868+1 = 45 */
        { { 1900, 1, 1 },   "明治33年1月1日" },
        { { 2999, 12, 31 }, "令和981年12月31日" }, /* 2999-2019+1 = 981 */
    };
    char out[JP_ERA_DATE_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(jp_era_date(cases[i].d, out, sizeof out), 0);
        assert_string_equal(out, cases[i].want);
    }
}

static void era_date_bad(void **state)
{
    char out[JP_ERA_DATE_MAX];
    /* "令和8年11月23日" is 6+1+3+2+3+2+3 = 20 bytes: 21 fits, 20 does not */
    assert_int_equal(jp_era_date(D(2026, 11, 23), out, 21), 0);
    assert_string_equal(out, "令和8年11月23日");
    memset(out, 'X', sizeof out);
    assert_int_equal(jp_era_date(D(2026, 11, 23), out, 20), -1);
    assert_string_equal(out, "");
    assert_int_equal(out[20], 'X');
    /* too small even for the era name */
    assert_int_equal(jp_era_date(D(2026, 11, 23), out, 4), -1);
    assert_string_equal(out, "");
    assert_int_equal(jp_era_date(D(2026, 11, 23), out, 0), -1);
    assert_int_equal(jp_era_date(D(2026, 11, 23), NULL, 32), -1);
    assert_int_equal(jp_era_date(D(2023, 2, 29), out, sizeof out), -1);
    assert_string_equal(out, "");
    assert_int_equal(jp_era_date(D(1899, 12, 31), out, sizeof out), -1);
    assert_int_equal(jp_era_date(D(3000, 1, 1), out, sizeof out), -1);
}

static void era_fiscal_year(void **state)
{
    static const struct { int fy; const char *want; } cases[] = {
        { 2026, "令和8年度" },
        { 2019, "令和元年度" },   /* began under 平成31, named 令和 */
        { 2020, "令和2年度" },
        { 2018, "平成30年度" },
        { 1989, "平成元年度" },
        { 1988, "昭和63年度" },   /* not 平成0年度, though it ended under 平成 */
        { 1926, "昭和元年度" },
        { 1925, "大正14年度" },
        { 1900, "明治33年度" },
        { 2999, "令和981年度" },
    };
    char out[JP_ERA_FY_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(jp_era_fiscal_year(cases[i].fy, out, sizeof out), 0);
        assert_string_equal(out, cases[i].want);
    }
    /* "令和8年度" is 6+1+3+3 = 13 bytes */
    assert_int_equal(jp_era_fiscal_year(2026, out, 14), 0);
    assert_int_equal(jp_era_fiscal_year(2026, out, 13), -1);
    assert_string_equal(out, "");
    assert_int_equal(jp_era_fiscal_year(2026, NULL, 14), -1);
    assert_int_equal(jp_era_fiscal_year(2026, out, 0), -1);
    assert_int_equal(jp_era_fiscal_year(1899, out, sizeof out), -1);
    assert_int_equal(jp_era_fiscal_year(3000, out, sizeof out), -1);
    assert_int_equal(jp_era_fiscal_year(INT_MIN, out, sizeof out), -1);
    assert_int_equal(jp_era_fiscal_year(INT_MAX, out, sizeof out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(municipality_valid),
        cmocka_unit_test(municipality_invalid),
        cmocka_unit_test(corporate_known),
        cmocka_unit_test(corporate_round_trip),
        cmocka_unit_test(corporate_invalid),
        cmocka_unit_test(date_parse_valid),
        cmocka_unit_test(date_parse_invalid),
        cmocka_unit_test(date_read_valid),
        cmocka_unit_test(date_read_invalid),
        cmocka_unit_test(date_format),
        cmocka_unit_test(date_cmp),
        cmocka_unit_test(date_valid),
        cmocka_unit_test(fiscal_year),
        cmocka_unit_test(valid_until_ok),
        cmocka_unit_test(valid_until_bad),
        cmocka_unit_test(era_date),
        cmocka_unit_test(era_date_bad),
        cmocka_unit_test(era_fiscal_year),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
