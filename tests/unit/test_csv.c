/* tests/unit/test_csv.c — catalog/csv: encodings, quoting, line numbers,
 * limits, errors and the writer.  CP932 bytes are made here with iconv from
 * UTF-8 strings, so the expectations read as Japanese text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/csv.h"

#define assert_err_has(err, needle) do {                              \
        if (!strstr((err), (needle)))                                 \
            fail_msg("message \"%s\" lacks \"%s\"", (err), (needle)); \
    } while (0)

/* Parse a NUL-terminated literal; the result must succeed. */
static void parse_ok(const char *s, proto_csv *c)
{
    char err[256] = "";
    int rc = proto_csv_parse(s, strlen(s), c, err, sizeof err);
    if (rc != 0)
        fail_msg("parse failed: %s", err);
}

/* Parse bytes that must fail; returns the message. */
static void parse_bad(const char *s, size_t n, char *err, size_t errlen)
{
    proto_csv c;
    err[0] = 0;
    assert_int_equal(proto_csv_parse(s, n, &c, err, errlen), -1);
    assert_null(c.rows);
    assert_int_equal(c.nrows, 0);
    assert_true(err[0] != 0);
    proto_csv_free(&c);   /* harmless on an empty result */
}

static void assert_row(const proto_csv *c, size_t r, int line, size_t n, ...)
{
    assert_true(r < c->nrows);
    const proto_csv_row *row = &c->rows[r];
    assert_int_equal(row->line, line);
    assert_int_equal(row->ncells, n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(row->cells[i], va_arg(ap, const char *));
    va_end(ap);
}

/* UTF-8 -> CP932 with iconv (the test's own conversion). */
static char *to_cp932(const char *utf8, size_t *outlen)
{
    iconv_t cd = iconv_open("CP932", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t inlen = strlen(utf8), cap = inlen + 1;
    char *out = malloc(cap), *op = out, *ip = (char *)utf8;
    size_t oleft = cap;
    assert_true(iconv(cd, &ip, &inlen, &op, &oleft) != (size_t)-1);
    iconv_close(cd);
    *outlen = (size_t)(op - out);
    return out;
}

/* ---- encodings ---- */

static void utf8_plain(void **state)
{
    proto_csv c;
    parse_ok("事業者名,製品・サービス名\r\n株式会社テスト,ＡＩ議事録\r\n", &c);
    assert_string_equal(c.encoding, "UTF-8");
    assert_int_equal(c.nrows, 2);
    assert_row(&c, 0, 1, 2, "事業者名", "製品・サービス名");
    assert_row(&c, 1, 2, 2, "株式会社テスト", "ＡＩ議事録");
    proto_csv_free(&c);
    assert_null(c.rows);
    assert_int_equal(c.nrows, 0);
}

static void utf8_bom(void **state)
{
    proto_csv c;
    parse_ok("\xEF\xBB\xBF事業者名,製品・サービス名\r\n株式会社テスト,ＡＩ議事録\r\n", &c);
    assert_string_equal(c.encoding, "UTF-8 (BOM)");
    assert_int_equal(c.nrows, 2);
    /* the BOM is not part of the first cell */
    assert_row(&c, 0, 1, 2, "事業者名", "製品・サービス名");
    assert_row(&c, 1, 2, 2, "株式会社テスト", "ＡＩ議事録");
    proto_csv_free(&c);
}

static void ascii_is_utf8(void **state)
{
    proto_csv c;
    parse_ok("a,b\n", &c);
    assert_string_equal(c.encoding, "UTF-8");
    assert_row(&c, 0, 1, 2, "a", "b");
    proto_csv_free(&c);
}

static void cp932_detected(void **state)
{
    const char *u = "事業者名,製品・サービス名,備考\r\n"
                    "株式会社テスト,ＡＩ議事録,①髙～\r\n"
                    "\"有限会社ｶﾒﾗ\",\"見守り\r\nｶﾒﾗ\",\"\"\"円\"\"\"\r\n";
    size_t n;
    char *b = to_cp932(u, &n);
    /* sanity: really Shift_JIS bytes ("事" is 0x8E 0x96 in CP932) */
    assert_int_equal((unsigned char)b[0], 0x8E);
    assert_int_equal((unsigned char)b[1], 0x96);
    proto_csv c;
    char err[256];
    assert_int_equal(proto_csv_parse(b, n, &c, err, sizeof err), 0);
    assert_string_equal(c.encoding, "CP932");
    assert_int_equal(c.nrows, 3);
    assert_row(&c, 0, 1, 3, "事業者名", "製品・サービス名", "備考");
    assert_row(&c, 1, 2, 3, "株式会社テスト", "ＡＩ議事録", "①髙～");
    assert_row(&c, 2, 3, 3, "有限会社ｶﾒﾗ", "見守り\nｶﾒﾗ", "\"円\"");
    proto_csv_free(&c);
    free(b);
}

static void cp932_invalid_byte_line(void **state)
{
    char err[256];
    size_t n;
    char *b = to_cp932("事業者名,製品\r\n株式会社テスト,ＡＩ議事録\r\n", &n);
    char *buf = malloc(n + 64);
    memcpy(buf, b, n);
    /* line 3: a valid CP932 cell, then 0xFF which CP932 never uses */
    const char tail[] = "\x8E\x96,\xFF\xFF\r\n";
    memcpy(buf + n, tail, sizeof tail - 1);
    parse_bad(buf, n + sizeof tail - 1, err, sizeof err);
    assert_err_has(err, "line 3:");
    assert_err_has(err, "0xFF");
    assert_err_has(err, "CP932");

    /* an undefined double-byte code (0x85 0x40) on line 2 after LF ends */
    free(b);
    b = to_cp932("事業者名\n株式会社", &n);
    memcpy(buf, b, n);
    memcpy(buf + n, "\x85\x40\n", 3);
    parse_bad(buf, n + 3, err, sizeof err);
    assert_err_has(err, "line 2:");

    /* a lead byte cut off at the end of the file, after a CR-only line end */
    memcpy(buf, b, n);
    buf[4 * 2] = '\r';   /* "事業者名" is 8 bytes: overwrite the LF */
    memcpy(buf + n, "\x82", 1);
    parse_bad(buf, n + 1, err, sizeof err);
    assert_err_has(err, "line 2:");
    free(b);
    free(buf);

    /* a quoted cell spanning lines before the bad byte counts every line */
    b = to_cp932("名前,備考\r\n株式会社,\"一\r\n二\r\n三\"\r\n", &n);
    buf = malloc(n + 8);
    memcpy(buf, b, n);
    memcpy(buf + n, "x,\xA0\r\n", 5);
    parse_bad(buf, n + 5, err, sizeof err);
    assert_err_has(err, "line 5:");
    free(b);
    free(buf);
}

static void utf8_damaged(void **state)
{
    char err[256];
    /* Mostly well-formed UTF-8 with one stray byte: reported as bad UTF-8,
     * not converted from CP932 as mojibake. */
    const char s[] = "事業者名,製品・サービス名\r\n株式会社テスト,ＡＩ議事録\r\n株式会社\x82,サンプル\r\n";
    parse_bad(s, sizeof s - 1, err, sizeof err);
    assert_err_has(err, "line 3:");
    assert_err_has(err, "UTF-8");

    /* with a BOM the file is UTF-8, whatever follows */
    const char t[] = "\xEF\xBB\xBF" "a,b\n\x8E\x96\n";
    parse_bad(t, sizeof t - 1, err, sizeof err);
    assert_err_has(err, "line 2:");
    assert_err_has(err, "UTF-8");

    /* overlong and surrogate forms are not UTF-8 (nor CP932 here) */
    const char o[] = "\xEF\xBB\xBF" "\xC0\xAF\n";
    parse_bad(o, sizeof o - 1, err, sizeof err);
    assert_err_has(err, "line 1:");
    const char sur[] = "\xEF\xBB\xBF" "a\n\n\xED\xA0\x80\n";
    parse_bad(sur, sizeof sur - 1, err, sizeof err);
    assert_err_has(err, "line 3:");
}

static void utf16_and_nul_refused(void **state)
{
    char err[256];
    const char u16[] = "\xFF\xFE" "a\0,\0b\0";
    parse_bad(u16, sizeof u16 - 1, err, sizeof err);
    assert_err_has(err, "UTF-16");
    const char nul[] = "a,b\r\nc\0,d\r\n";
    parse_bad(nul, sizeof nul - 1, err, sizeof err);
    assert_err_has(err, "line 2:");
    assert_err_has(err, "NUL");
}

static void empty_input(void **state)
{
    proto_csv c;
    char err[64];
    assert_int_equal(proto_csv_parse("", 0, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, 0);
    assert_string_equal(c.encoding, "UTF-8");
    proto_csv_free(&c);
    assert_int_equal(proto_csv_parse(NULL, 0, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, 0);
    proto_csv_free(&c);
    parse_ok("\xEF\xBB\xBF", &c);
    assert_int_equal(c.nrows, 0);
    assert_string_equal(c.encoding, "UTF-8 (BOM)");
    proto_csv_free(&c);
    parse_ok("\r\n\r\n,,\r\n", &c);
    assert_int_equal(c.nrows, 0);
    proto_csv_free(&c);
}

/* ---- line ends, quoting, line numbers ---- */

static void line_ends(void **state)
{
    proto_csv c;
    /* CRLF, LF and CR mixed; the last row has no line end */
    parse_ok("a,b\r\nc,d\ne,f\rg,h", &c);
    assert_int_equal(c.nrows, 4);
    assert_row(&c, 0, 1, 2, "a", "b");
    assert_row(&c, 1, 2, 2, "c", "d");
    assert_row(&c, 2, 3, 2, "e", "f");
    assert_row(&c, 3, 4, 2, "g", "h");
    proto_csv_free(&c);

    /* CR-only (old Mac Excel) */
    parse_ok("x\ry\r\rz\r", &c);
    assert_int_equal(c.nrows, 3);
    assert_row(&c, 0, 1, 1, "x");
    assert_row(&c, 1, 2, 1, "y");
    assert_row(&c, 2, 4, 1, "z");
    proto_csv_free(&c);

    /* a trailing empty cell is kept, also at the end of the file */
    parse_ok("a,\r\n,b\r\nc,", &c);
    assert_row(&c, 0, 1, 2, "a", "");
    assert_row(&c, 1, 2, 2, "", "b");
    assert_row(&c, 2, 3, 2, "c", "");
    proto_csv_free(&c);
}

static void quoted_cells(void **state)
{
    proto_csv c;
    parse_ok("id,note\r\n"
             "1,\"a, b\"\r\n"
             "2,\"say \"\"hi\"\"\"\r\n"
             "3,\"line1\r\nline2\r\nline3\"\r\n"
             "4,after\r\n"
             "5,\"lf\nonly\",\"cr\ronly\"\r\n"
             "6,\"\",\"\"\"\"\r\n"
             "\"7\r\n\r\n\",last\r\n"
             "8,end", &c);
    assert_int_equal(c.nrows, 9);
    assert_row(&c, 0, 1, 2, "id", "note");
    assert_row(&c, 1, 2, 2, "1", "a, b");
    assert_row(&c, 2, 3, 2, "2", "say \"hi\"");
    assert_row(&c, 3, 4, 2, "3", "line1\nline2\nline3");
    assert_row(&c, 4, 7, 2, "4", "after");
    assert_row(&c, 5, 8, 3, "5", "lf\nonly", "cr\nonly");
    assert_row(&c, 6, 11, 3, "6", "", "\"");
    /* a cell of line breaks only: the row still counts (not empty) */
    assert_row(&c, 7, 12, 2, "7\n\n", "last");
    assert_row(&c, 8, 15, 2, "8", "end");
    proto_csv_free(&c);
}

static void spaces_kept(void **state)
{
    proto_csv c;
    /* libcsv trims these by default; we keep them */
    parse_ok(" a , b ,\t c\t\r\n\" q \", x\r\n", &c);
    assert_row(&c, 0, 1, 3, " a ", " b ", "\t c\t");
    assert_row(&c, 1, 2, 2, " q ", " x");
    proto_csv_free(&c);
}

static void empty_rows_skipped(void **state)
{
    proto_csv c;
    parse_ok("\r\n"
             "a,b\r\n"
             "\r\n"
             ",,\r\n"
             "\"\",\"\"\r\n"
             "\n"
             "c,d\r\n"
             "\r\n", &c);
    assert_int_equal(c.nrows, 2);
    assert_row(&c, 0, 2, 2, "a", "b");
    assert_row(&c, 1, 7, 2, "c", "d");
    proto_csv_free(&c);
    /* a row of spaces is not empty: the cells are data */
    parse_ok(" \n", &c);
    assert_int_equal(c.nrows, 1);
    assert_row(&c, 0, 1, 1, " ");
    proto_csv_free(&c);
}

/* ---- malformed ---- */

static void malformed(void **state)
{
    char err[256];
    const char *s;

    s = "a,b\r\nc,d\"e\r\n";             /* quote inside an unquoted cell */
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 2, cell 2:");

    s = "\"abc\"x,y\n";                  /* text after a closing quote */
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 1, cell 1:");
    assert_err_has(err, "closing quote");

    s = "a,\"b\" ,c\n";                  /* even a space */
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 1, cell 2:");

    /* the error line counts the lines of the quoted cell before it */
    s = "h1,h2\nx,\"1\n2\r\n3\"\nbad\"q,z\n";
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 5, cell 1:");

    /* an error inside a multi-line row is on the line of the bad byte */
    s = "h\n\"one\ntwo\" x\n";
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 3, cell 1:");

    /* unterminated quote: named by the line where the quote opened */
    s = "a,b\r\nc,\"open\r\nmore\r\nstill\r\n";
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 2:");
    assert_err_has(err, "never closed");

    s = "a,\"x\"\"\n";                   /* "" then EOF: still open */
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 1:");
    assert_err_has(err, "never closed");

    s = "a\n\n\n\"";                     /* a lone quote at the end */
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 4:");

    /* a closed quote at the end of the file without a line end is fine */
    proto_csv c;
    parse_ok("a,\"b\"", &c);
    assert_row(&c, 0, 1, 2, "a", "b");
    proto_csv_free(&c);

    /* err may be NULL */
    s = "\"";
    assert_int_equal(proto_csv_parse(s, 1, &c, NULL, 0), -1);
    /* a short buffer is truncated, not overflowed */
    char tiny[8];
    memset(tiny, 'Z', sizeof tiny);
    assert_int_equal(proto_csv_parse(s, 1, &c, tiny, 5), -1);
    assert_int_equal(strlen(tiny), 4);
    assert_int_equal(tiny[5], 'Z');
}

/* ---- limits ---- */

static void limit_cells(void **state)
{
    char err[256];
    proto_csv c;
    char *s = malloc(32 + 2 * (PROTO_CSV_MAX_CELLS + 1));
    /* lines 1-3 hold two rows; the wide row starts on line 4 */
    strcpy(s, "h\n\"x\ny\"\n");
    size_t o = strlen(s);
    for (int i = 0; i < PROTO_CSV_MAX_CELLS; i++) {
        s[o++] = 'v';
        s[o++] = ',';
    }
    s[o - 1] = '\n';                     /* 256 cells */
    s[o] = 0;
    assert_int_equal(proto_csv_parse(s, o, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, 3);
    assert_int_equal(c.rows[2].line, 4);
    assert_int_equal(c.rows[2].ncells, PROTO_CSV_MAX_CELLS);
    proto_csv_free(&c);
    memcpy(s + o - 1, ",v\n", 4);        /* 257 cells */
    parse_bad(s, o + 2, err, sizeof err);
    assert_err_has(err, "line 4:");
    assert_err_has(err, "256");
    free(s);
}

static void limit_cell_bytes(void **state)
{
    size_t n = PROTO_CSV_MAX_CELL;
    char *s = malloc(n + 64);
    char err[256];
    proto_csv c;
    /* exactly the limit, quoted, with CRLFs that shrink to LF */
    memcpy(s, "h\n\"", 3);
    memset(s + 3, 'x', n);
    memcpy(s + 3 + n, "\"\n", 3);
    assert_int_equal(proto_csv_parse(s, strlen(s), &c, err, sizeof err), 0);
    assert_int_equal(strlen(c.rows[1].cells[0]), n);
    proto_csv_free(&c);
    s[10] = '\r';
    s[11] = '\n';
    s[3 + n] = 'x';                     /* n+1 raw bytes, n after CRLF -> LF */
    memcpy(s + 4 + n, "\"\n", 3);
    assert_int_equal(proto_csv_parse(s, strlen(s), &c, err, sizeof err), 0);
    assert_int_equal(strlen(c.rows[1].cells[0]), n);
    proto_csv_free(&c);
    /* one more: refused, naming the row's line */
    s[4 + n] = 'x';
    memcpy(s + 5 + n, "\"\n", 3);
    parse_bad(s, strlen(s), err, sizeof err);
    assert_err_has(err, "line 2:");
    assert_err_has(err, "65536");
    free(s);
}

static void limit_rows(void **state)
{
    size_t max = PROTO_CSV_MAX_ROWS;
    char *s = malloc(2 * (max + 2) + 1);
    char err[256];
    proto_csv c;
    for (size_t i = 0; i < max; i++)
        memcpy(s + 2 * i, "1\n", 2);
    s[2 * max] = 0;
    assert_int_equal(proto_csv_parse(s, 2 * max, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, max);
    assert_int_equal(c.rows[max - 1].line, (int)max);
    proto_csv_free(&c);
    /* blank lines do not count as rows, but do count as lines */
    memcpy(s, "\n\n", 2);
    memcpy(s + 2 * max, "2\n", 2);
    assert_int_equal(proto_csv_parse(s, 2 * max + 2, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, max);
    proto_csv_free(&c);
    memcpy(s, "1\n", 2);
    parse_bad(s, 2 * max + 2, err, sizeof err);
    assert_err_has(err, "line 200001:");
    free(s);
}

static void limit_file(void **state)
{
    size_t n = PROTO_CSV_MAX_BYTES + 1;
    char *s = calloc(1, n);
    char err[256];
    assert_non_null(s);
    parse_bad(s, n, err, sizeof err);
    assert_err_has(err, "64 MiB");
    free(s);
}

/* ---- writing ---- */

static void append_exact(void **state)
{
    proto_csv_buf b = { 0 };
    const char *r1[] = { "a", "b,c", "d\"e", "", NULL, " lead", "trail\t", "改\n行", "x\ry" };
    assert_int_equal(proto_csv_append_row(&b, r1, 9), 0);
    assert_string_equal(b.data, "a,\"b,c\",\"d\"\"e\",,,\" lead\",\"trail\t\",\"改\n行\",\"x\ry\"\r\n");
    assert_int_equal(b.len, strlen(b.data));
    const char *r2[] = { "名前" };
    assert_int_equal(proto_csv_append_row(&b, r2, 1), 0);
    assert_int_equal(proto_csv_append_row(&b, NULL, 0), 0);
    assert_int_equal(proto_csv_append_row(NULL, r2, 1), -1);
    assert_int_equal(proto_csv_append_row(&b, NULL, 1), -1);
    assert_string_equal(b.data + b.len - 10, "名前\r\n\r\n");
    proto_csv_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    proto_csv_buf_free(&b);
}

static void round_trip(void **state)
{
    const char *rows[][6] = {
        { "認定番号", "事業者名", "概要", "参考価格", "URL", "備考" },
        { "文京-2026-001", "株式会社みらい防災テック", "避難所の混雑を可視化、\n自治体向けに提供",
          "1,200,000", "https://example.jp/a?x=1,2", "\"引用\"と,カンマ" },
        { "文京-2026-002", " 先頭空白", "末尾空白 ", "", "\"", "ＡＩ議事録・ｶﾒﾗ" },
        { "x", "\r\n", ",", "\"\"", "a\n\nb", "全角　スペース" },
        { "", "", "", "", "", "only last" },
    };
    const char *want[][6] = {
        { "認定番号", "事業者名", "概要", "参考価格", "URL", "備考" },
        { "文京-2026-001", "株式会社みらい防災テック", "避難所の混雑を可視化、\n自治体向けに提供",
          "1,200,000", "https://example.jp/a?x=1,2", "\"引用\"と,カンマ" },
        { "文京-2026-002", " 先頭空白", "末尾空白 ", "", "\"", "ＡＩ議事録・ｶﾒﾗ" },
        { "x", "\n", ",", "\"\"", "a\n\nb", "全角　スペース" },   /* CRLF -> LF */
        { "", "", "", "", "", "only last" },
    };
    size_t nr = sizeof rows / sizeof rows[0];
    proto_csv_buf b = { 0 };
    for (size_t r = 0; r < nr; r++) {
        assert_int_equal(proto_csv_append_row(&b, rows[r], 6), 0);
        /* an all-empty row is written, and skipped when read back */
        assert_int_equal(proto_csv_append_row(&b, (const char *[]){ "", "" }, 2), 0);
    }
    proto_csv c;
    char err[256];
    assert_int_equal(proto_csv_parse(b.data, b.len, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, nr);
    int line = 1;
    for (size_t r = 0; r < nr; r++) {
        assert_int_equal(c.rows[r].ncells, 6);
        assert_int_equal(c.rows[r].line, line);
        for (size_t i = 0; i < 6; i++) {
            assert_string_equal(c.rows[r].cells[i], want[r][i]);
            for (const char *p = rows[r][i]; *p; p++)
                line += *p == '\n';
        }
        line += 2;   /* the row's CRLF and the empty row */
    }
    proto_csv_free(&c);

    /* with a BOM in front, as the exporter writes it */
    proto_csv_buf bb = { 0 };
    assert_int_equal(proto_csv_append_row(&bb, rows[1], 6), 0);
    char *withbom = malloc(bb.len + 3);
    memcpy(withbom, "\xEF\xBB\xBF", 3);
    memcpy(withbom + 3, bb.data, bb.len);
    assert_int_equal(proto_csv_parse(withbom, bb.len + 3, &c, err, sizeof err), 0);
    assert_string_equal(c.encoding, "UTF-8 (BOM)");
    assert_int_equal(c.nrows, 1);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(c.rows[0].cells[i], want[1][i]);
    proto_csv_free(&c);
    free(withbom);
    proto_csv_buf_free(&bb);
    proto_csv_buf_free(&b);
}

/* OWASP CSV injection: formula-like cells get one leading ', which
 * proto_csv_unneutralise takes off again, for every value exactly. */
static void neutralise_formulas(void **state)
{
    (void)state;
    const char *cells[] = { "=HYPERLINK(\"http://evil/\",\"x\")", "+81-3-1234", "-5", "@SUM(A1)",
                            "\tx", "'=already", "''+two", "plain", "'quoted", "", "a=b" };
    const char *want[] = { "'=HYPERLINK(\"http://evil/\",\"x\")", "'+81-3-1234", "'-5", "'@SUM(A1)",
                           "'\tx", "''=already", "'''+two", "plain", "'quoted", "", "a=b" };
    size_t n = sizeof cells / sizeof cells[0];
    proto_csv_buf b = { 0 };
    assert_int_equal(proto_csv_append_row_opts(&b, cells, n, PROTO_CSV_NEUTRALISE), 0);
    proto_csv c;
    char err[256];
    assert_int_equal(proto_csv_parse(b.data, b.len, &c, err, sizeof err), 0);
    assert_int_equal(c.nrows, 1);
    assert_int_equal(c.rows[0].ncells, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(c.rows[0].cells[i], want[i]);
        proto_csv_unneutralise(c.rows[0].cells[i]);
        assert_string_equal(c.rows[0].cells[i], cells[i]);
    }
    proto_csv_free(&c);
    proto_csv_buf_free(&b);
    /* the full-width ＝ ＋ － ＠ (an IME's default), which Excel reads as
     * the ASCII ones; not other full-width signs, nor one inside a cell */
    const char *fw[] = { "＝HYPERLINK(\"http://evil/\")", "＋81", "－5", "＠SUM(A1)", "'＝already",
                         "＊x", "ａ＝ｂ", "（株）" };
    const char *fwant[] = { "'＝HYPERLINK(\"http://evil/\")", "'＋81", "'－5", "'＠SUM(A1)", "''＝already",
                            "＊x", "ａ＝ｂ", "（株）" };
    n = sizeof fw / sizeof fw[0];
    assert_int_equal(proto_csv_append_row_opts(&b, fw, n, PROTO_CSV_NEUTRALISE), 0);
    assert_int_equal(proto_csv_parse(b.data, b.len, &c, err, sizeof err), 0);
    assert_int_equal(c.rows[0].ncells, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(c.rows[0].cells[i], fwant[i]);
        proto_csv_unneutralise(c.rows[0].cells[i]);
        assert_string_equal(c.rows[0].cells[i], fw[i]);
    }
    proto_csv_free(&c);
    proto_csv_buf_free(&b);
    /* a CR at the start is neutralised too */
    const char *cr[] = { "\rx" };
    assert_int_equal(proto_csv_append_row_opts(&b, cr, 1, PROTO_CSV_NEUTRALISE), 0);
    assert_memory_equal(b.data, "\"'\rx\"", 5);
    proto_csv_buf_free(&b);
    /* without the flag (export --raw) cells are written as given */
    assert_int_equal(proto_csv_append_row(&b, cells, 1), 0);
    assert_memory_equal(b.data, "\"=HYPERLINK(", 12);
    proto_csv_buf_free(&b);
}

/* ---- a large sheet parsed in pieces ---- */

/* The text parsed whole and in 2..9 pieces: the same result, the same rows
 * on the same lines, the same message. */
static void same_in_pieces(const char *s, size_t n)
{
    proto_csv whole, part;
    char ew[512] = "", ep[512] = "";
    int rw = proto_csv_parse_pieces(s, n, 1, &whole, ew, sizeof ew);
    for (size_t k = 2; k <= 9; k++) {
        ep[0] = 0;
        int rp = proto_csv_parse_pieces(s, n, k, &part, ep, sizeof ep);
        if (rp != rw)
            fail_msg("%zu pieces: %d (%s), whole: %d (%s)", k, rp, ep, rw, ew);
        if (rw) {
            assert_string_equal(ep, ew);
            continue;
        }
        assert_int_equal(part.nrows, whole.nrows);
        assert_string_equal(part.encoding, whole.encoding);
        for (size_t r = 0; r < whole.nrows; r++) {
            if (part.rows[r].line != whole.rows[r].line)
                fail_msg("%zu pieces: row %zu on line %d, whole: %d", k, r, part.rows[r].line,
                         whole.rows[r].line);
            assert_int_equal(part.rows[r].ncells, whole.rows[r].ncells);
            for (size_t c = 0; c < whole.rows[r].ncells; c++)
                assert_string_equal(part.rows[r].cells[c], whole.rows[r].cells[c]);
        }
        proto_csv_free(&part);
    }
    proto_csv_free(&whole);
}

/* A sheet of every kind of line: CRLF, LF and lone CR line ends, blank
 * lines and rows of empty cells (skipped, but counted as lines), quoted
 * cells with commas, "" and line breaks of every kind, so that some cuts
 * fall inside a quoted cell. */
static char *mixed_sheet(size_t rows, size_t *len)
{
    size_t cap = rows * 200 + 64, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "認定番号,事業者名,概要\r\n");
    for (size_t i = 0; i < rows; i++) {
        static const char *const ends[] = { "\r\n", "\n", "\r" };
        const char *end = ends[i % 3];
        switch (i % 7) {
        case 0:
            o += (size_t)snprintf(s + o, cap - o, "K-%zu,株式会社%zu,\"一行目\r\n二行目\n三行目\r四行目\"%s", i, i, end);
            break;
        case 1:
            o += (size_t)snprintf(s + o, cap - o, "%s,,%s", end, end);   /* a blank line, a row of empty cells */
            break;
        case 2:
            o += (size_t)snprintf(s + o, cap - o, "K-%zu,\"有限会社 \"\"%zu\"\"\",\"a,b\"%s", i, i, end);
            break;
        default:
            o += (size_t)snprintf(s + o, cap - o, "K-%zu,商店%zu,概要 %zu%s", i, i, i, end);
        }
    }
    *len = o;
    return s;
}

static void pieces_same_rows(void **state)
{
    size_t n;
    char *s = mixed_sheet(3000, &n);
    same_in_pieces(s, n);
    free(s);
    /* one quoted cell of many lines across the middle: a cut inside it */
    size_t cap = 200000, o = 0;
    s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "a,b\n");
    for (int i = 0; i < 500; i++)
        o += (size_t)snprintf(s + o, cap - o, "x%d,y\n", i);
    o += (size_t)snprintf(s + o, cap - o, "long,\"");
    for (int i = 0; i < 3000; i++)
        o += (size_t)snprintf(s + o, cap - o, "line %d\n", i);
    o += (size_t)snprintf(s + o, cap - o, "\"\n");
    for (int i = 0; i < 500; i++)
        o += (size_t)snprintf(s + o, cap - o, "z%d,w\r\n", i);
    same_in_pieces(s, o);
    free(s);
    /* too small to cut, and empty */
    same_in_pieces("a,b\n1,2\n", 8);
    same_in_pieces("", 0);
    same_in_pieces("a\rb\rc", 5);
}

static void pieces_same_message(void **state)
{
    size_t n;
    char *s = mixed_sheet(3000, &n);
    /* a stray quote late in the text, then one early as well: the line of
     * the first in the text's order */
    char *late = strstr(s + n - n / 5, "商店");
    assert_non_null(late);
    late[0] = '"';
    same_in_pieces(s, n);
    char *early = strstr(s + n / 10, "商店");
    assert_non_null(early);
    early[0] = '"';
    same_in_pieces(s, n);
    free(s);
    /* a quote never closed, from the middle on */
    s = mixed_sheet(3000, &n);
    s[n / 2] = '"';
    same_in_pieces(s, n);
    free(s);
    /* the row beyond the limit lies in a later piece */
    size_t max = PROTO_CSV_MAX_ROWS;
    s = malloc(2 * (max + 1));
    for (size_t i = 0; i <= max; i++)
        memcpy(s + 2 * i, "1\n", 2);
    same_in_pieces(s, 2 * (max + 1));
    same_in_pieces(s, 2 * max);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_plain),
        cmocka_unit_test(utf8_bom),
        cmocka_unit_test(ascii_is_utf8),
        cmocka_unit_test(cp932_detected),
        cmocka_unit_test(cp932_invalid_byte_line),
        cmocka_unit_test(utf8_damaged),
        cmocka_unit_test(utf16_and_nul_refused),
        cmocka_unit_test(empty_input),
        cmocka_unit_test(line_ends),
        cmocka_unit_test(quoted_cells),
        cmocka_unit_test(spaces_kept),
        cmocka_unit_test(empty_rows_skipped),
        cmocka_unit_test(malformed),
        cmocka_unit_test(limit_cells),
        cmocka_unit_test(limit_cell_bytes),
        cmocka_unit_test(limit_rows),
        cmocka_unit_test(limit_file),
        cmocka_unit_test(append_exact),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(neutralise_formulas),
        cmocka_unit_test(pieces_same_rows),
        cmocka_unit_test(pieces_same_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
