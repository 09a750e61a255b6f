/* catalog/jp.c — Japanese identifiers, dates and eras; see jp.h. */
#include "catalog/jp.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* isdigit() depends on the locale; identifiers are ASCII only. */
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of s capped at max+1, so a huge or unterminated-looking input is
 * never scanned past what we need to say "too long". */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = 0;
    while (n <= max && s[n])
        n++;
    return n;
}

/* Checks s is exactly n ASCII digits; on failure writes a message naming
 * what (e.g. "municipality code") and why. */
static int check_digits(const char *what, const char *s, size_t n,
                        char *err, size_t errlen)
{
    if (!s)
        return fail(err, errlen, "%s is missing", what);
    size_t len = bounded_len(s, n);
    if (len > n)
        return fail(err, errlen, "%s must be exactly %zu digits (got more)", what, n);
    if (len < n)
        return fail(err, errlen, "%s must be exactly %zu digits (got %zu characters)",
                    what, n, len);
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return fail(err, errlen, "%s: character %zu is not an ASCII digit 0-9",
                        what, i + 1);
    return 0;
}

/* ---- 全国地方公共団体コード ---- */

int jp_municipality_code_valid(const char *code, char *err, size_t errlen)
{
    if (check_digits("municipality code", code, 6, err, errlen) != 0)
        return -1;
    int sum = 0;
    for (int i = 0; i < 5; i++)
        sum += (code[i] - '0') * (6 - i);
    int want = (11 - sum % 11) % 10;   /* 11 -> 1, 10 -> 0 */
    int got = code[5] - '0';
    if (got != want)
        return fail(err, errlen,
                    "municipality code %.6s: check digit is %d, expected %d",
                    code, got, want);
    return 0;
}

/* ---- 法人番号 ---- */

static int corporate_cd(const char *body)
{
    int sum = 0;
    for (int i = 0; i < 12; i++)   /* i = 11 is rightmost: weight 1 */
        sum += (body[i] - '0') * ((11 - i) % 2 ? 2 : 1);
    return 9 - sum % 9;
}

int jp_corporate_number_check_digit(const char *body12)
{
    if (check_digits("", body12, 12, NULL, 0) != 0)
        return -1;
    return corporate_cd(body12);
}

int jp_corporate_number_valid(const char *num, char *err, size_t errlen)
{
    if (check_digits("corporate number", num, 13, err, errlen) != 0)
        return -1;
    int want = corporate_cd(num + 1);
    int got = num[0] - '0';
    if (got != want)
        return fail(err, errlen,
                    "corporate number %.13s: check digit (first digit) is %d, expected %d",
                    num, got, want);
    return 0;
}

/* ---- dates ---- */

static int is_leap(int y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int jp_date_valid(jp_date d)
{
    /* Range first, so days_in_month() only sees sane values. */
    if (d.y < JP_YEAR_MIN || d.y > JP_YEAR_MAX || d.m < 1 || d.m > 12)
        return 0;
    return d.d >= 1 && d.d <= days_in_month(d.y, d.m);
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int jp_date_parse(const char *s, jp_date *out, char *err, size_t errlen)
{
    if (!s)
        return fail(err, errlen, "date is missing");
    if (!out)
        return fail(err, errlen, "no place to store the date");
    size_t len = bounded_len(s, 10);
    if (len != 10)
        return fail(err, errlen, "date must be YYYY-MM-DD (10 characters, got %s%zu)",
                    len > 10 ? "more than " : "", len > 10 ? (size_t)10 : len);
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : !is_digit(s[i]))
            return fail(err, errlen, "date must be YYYY-MM-DD: character %d should be %s",
                        i + 1, dash ? "'-'" : "an ASCII digit");
    }
    jp_date d = { num(s, 4), num(s + 5, 2), num(s + 8, 2) };
    if (d.y < JP_YEAR_MIN || d.y > JP_YEAR_MAX)
        return fail(err, errlen, "date %.10s: year must be %d..%d",
                    s, JP_YEAR_MIN, JP_YEAR_MAX);
    if (d.m < 1 || d.m > 12)
        return fail(err, errlen, "date %.10s: month must be 01..12", s);
    if (!jp_date_valid(d))
        return fail(err, errlen, "date %.10s: %04d-%02d has %d days",
                    s, d.y, d.m, days_in_month(d.y, d.m));
    *out = d;
    return 0;
}

void jp_date_format(jp_date d, char out[11])
{
    if (d.y < 0 || d.y > 9999 || d.m < 0 || d.m > 99 || d.d < 0 || d.d > 99)
        d = (jp_date){ 0, 0, 0 };
    /* By hand rather than snprintf: the widths are now guaranteed, and this
     * keeps -Wformat-truncation out of the picture. */
    int v[3] = { d.y, d.m, d.d }, w[3] = { 4, 2, 2 };
    char *p = out;
    for (int f = 0; f < 3; f++) {
        if (f)
            *p++ = '-';
        for (int i = w[f] - 1; i >= 0; i--) {
            p[i] = (char)('0' + v[f] % 10);
            v[f] /= 10;
        }
        p += w[f];
    }
    *p = '\0';
}

int jp_date_cmp(jp_date a, jp_date b)
{
    /* Compare rather than subtract: subtraction can overflow. */
    if (a.y != b.y)
        return a.y < b.y ? -1 : 1;
    if (a.m != b.m)
        return a.m < b.m ? -1 : 1;
    if (a.d != b.d)
        return a.d < b.d ? -1 : 1;
    return 0;
}

int jp_fiscal_year(jp_date d)
{
    if (!jp_date_valid(d))
        return -1;
    return d.m >= 4 ? d.y : d.y - 1;
}

jp_date jp_fiscal_year_end(int fy)
{
    /* Checked before fy + 1, which would overflow at INT_MAX. */
    if (fy < JP_YEAR_MIN - 1 || fy > JP_YEAR_MAX - 1)
        return (jp_date){ 0, 0, 0 };
    return (jp_date){ fy + 1, 3, 31 };
}

/* ---- valid-until rules ---- */

#define RULE_FORMS "YYYY-MM-DD, fy-end, fy-end+N, fy-end-of:+Ny (N 0..20)"
#define RULE_N_MAX 20

/* Parses one or more ASCII digits at s, then expects exactly `tail`.
 * Returns the value, -1 if the text is malformed, -2 if the number is
 * above RULE_N_MAX.  Saturates, so any number of digits is safe. */
static int rule_n(const char *s, const char *tail)
{
    int v = 0;
    const char *p = s;
    for (; is_digit(*p); p++)
        if (v <= RULE_N_MAX)
            v = v * 10 + (*p - '0');
    if (p == s || strcmp(p, tail) != 0)
        return -1;
    return v > RULE_N_MAX ? -2 : v;
}

/* End of fiscal year fy, failing if it falls outside the supported years. */
static int fy_end_checked(int fy, jp_date *out, char *err, size_t errlen)
{
    jp_date e = jp_fiscal_year_end(fy);
    if (!jp_date_valid(e))
        return fail(err, errlen, "valid-until: fiscal year %d ends after %d-12-31",
                    fy, JP_YEAR_MAX);
    *out = e;
    return 0;
}

int jp_valid_until(const char *rule, jp_date base, jp_date *out,
                   char *err, size_t errlen)
{
    static const char pre_of[] = "fy-end-of:+", pre_n[] = "fy-end+";
    if (!rule)
        return fail(err, errlen, "valid-until rule is missing; accepted forms: " RULE_FORMS);
    if (!out)
        return fail(err, errlen, "valid-until: no place to store the result");
    if (!jp_date_valid(base))
        return fail(err, errlen, "valid-until: base date %04d-%02d-%02d is not a valid date",
                    base.y, base.m, base.d);
    int fy = jp_fiscal_year(base);

    if (is_digit(rule[0])) {
        char why[128];
        jp_date d;
        if (jp_date_parse(rule, &d, why, sizeof why) != 0)
            return fail(err, errlen, "valid-until: %s; accepted forms: " RULE_FORMS, why);
        *out = d;
        return 0;
    }
    if (strcmp(rule, "fy-end") == 0)
        return fy_end_checked(fy, out, err, errlen);

    int n = -1;
    int years = 0;   /* 1: "fy-end-of:+Ny", 0: "fy-end+N" */
    if (strncmp(rule, pre_of, sizeof pre_of - 1) == 0) {
        n = rule_n(rule + sizeof pre_of - 1, "y");
        years = 1;
    } else if (strncmp(rule, pre_n, sizeof pre_n - 1) == 0) {
        n = rule_n(rule + sizeof pre_n - 1, "");
    }
    if (n == -2)
        return fail(err, errlen, "valid-until: N must be 0..%d in %s",
                    RULE_N_MAX, years ? "fy-end-of:+Ny" : "fy-end+N");
    if (n < 0)
        return fail(err, errlen, "valid-until rule not recognised; accepted forms: " RULE_FORMS);

    if (!years)
        return fy_end_checked(fy + n, out, err, errlen);

    /* Same month and day N years on; Feb 29 has no twin in a common year,
     * and the day before keeps it inside the same fiscal year. */
    jp_date later = { base.y + n, base.m, base.d };
    if (later.m == 2 && later.d == 29 && !is_leap(later.y))
        later.d = 28;
    if (!jp_date_valid(later))
        return fail(err, errlen, "valid-until: %d years after base is after %d-12-31",
                    n, JP_YEAR_MAX);
    return fy_end_checked(jp_fiscal_year(later), out, err, errlen);
}

/* ---- 和暦 ---- */

struct era { const char *name; char letter; jp_date start; };

/* Newest first, so the first era that started on or before a date is its
 * era.  明治's start is only a floor: every supported date is later.
 * letter: the era's initial as people abbreviate it (R8.4.1), lower case. */
static const struct era eras[] = {
    { "令和", 'r', { 2019, 5, 1 } },
    { "平成", 'h', { 1989, 1, 8 } },
    { "昭和", 's', { 1926, 12, 25 } },
    { "大正", 't', { 1912, 7, 30 } },
    { "明治", 'm', { 1868, 1, 1 } },
};

static const struct era *era_of(jp_date d)
{
    size_t n = sizeof eras / sizeof eras[0];
    for (size_t i = 0; i < n - 1; i++)
        if (jp_date_cmp(d, eras[i].start) >= 0)
            return &eras[i];
    return &eras[n - 1];
}

/* Writes "<era><year>年" (year 1 as 元) then suffix, or "M月D日" if suffix
 * is NULL. */
static int era_write(char *out, size_t outlen, const struct era *e, int gy,
                     const char *suffix, int m, int d)
{
    int ey = gy - e->start.y + 1;
    int n;
    if (ey == 1)
        n = snprintf(out, outlen, "%s元年", e->name);
    else
        n = snprintf(out, outlen, "%s%d年", e->name, ey);
    if (n < 0 || (size_t)n >= outlen)
        goto small;
    size_t used = (size_t)n;
    if (suffix)
        n = snprintf(out + used, outlen - used, "%s", suffix);
    else
        n = snprintf(out + used, outlen - used, "%d月%d日", m, d);
    if (n < 0 || (size_t)n >= outlen - used)
        goto small;
    return 0;
small:
    out[0] = '\0';   /* never leave a truncated, misleading name */
    return -1;
}

int jp_era_date(jp_date d, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return -1;
    if (!jp_date_valid(d)) {
        out[0] = '\0';
        return -1;
    }
    return era_write(out, outlen, era_of(d), d.y, NULL, d.m, d.d);
}

int jp_era_fiscal_year(int fy, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return -1;
    jp_date dec31 = { fy, 12, 31 };
    if (!jp_date_valid(dec31)) {
        out[0] = '\0';
        return -1;
    }
    /* Dec 31 rather than the end of the fiscal year (Mar 31): the latter
     * would name FY1988 "平成0年度", since 平成 began on 1989-01-08. */
    return era_write(out, outlen, era_of(dec31), fy, "度", 0, 0);
}

/* ---- dates as people write them ---- */

/* Decodes one UTF-8 sequence at s (n bytes left); returns its length and
 * sets *cp, or 0 if it is not well-formed (overlongs and surrogates too). */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned long *cp)
{
    unsigned long c = s[0], min;
    size_t k;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        k = 2, c &= 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        k = 3, c &= 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        k = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return k;
}

/* Folds a date as typed into plain text: full-width ASCII to ASCII, ASCII
 * letters to lower case, dash-like characters to '-', the square era signs
 * (㍻ ...) to their two kanji, white space dropped.  -1 if s is not UTF-8
 * or the result does not fit. */
static int date_fold(const char *s, size_t n, char *out, size_t outlen)
{
    static const struct { unsigned long cp; const char *to; } squares[] = {
        { 0x32ff, "令和" }, { 0x337b, "平成" }, { 0x337c, "昭和" },
        { 0x337d, "大正" }, { 0x337e, "明治" },
    };
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned long cp;
        size_t k = utf8_next(u + i, n - i, &cp);
        if (k == 0)
            return -1;
        const char *rep = NULL;
        char one[2] = { 0, 0 };
        if (cp >= 0xff01 && cp <= 0xff5e)
            cp -= 0xfee0;                    /* full-width ASCII */
        if (cp == ' ' || cp == '\t' || cp == 0x3000 || cp == 0xa0)
            rep = "";
        else if (cp == 0x2010 || cp == 0x2011 || cp == 0x2012 || cp == 0x2013 ||
                 cp == 0x2014 || cp == 0x2015 || cp == 0x2212 || cp == 0x30fc || cp == 0xff70)
            rep = "-";
        for (size_t q = 0; !rep && q < sizeof squares / sizeof squares[0]; q++)
            if (cp == squares[q].cp)
                rep = squares[q].to;
        if (!rep && cp < 0x80) {
            one[0] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
            rep = one;
        }
        size_t l = rep ? strlen(rep) : k;
        if (o + l >= outlen)
            return -1;
        memcpy(out + o, rep ? rep : s + i, l);
        o += l;
        i += k;
    }
    out[o] = '\0';
    return 0;
}

/* 1..max ASCII digits at *p; -1 if none or more. */
static int read_uint(const char **p, int max, int *out)
{
    int v = 0, k = 0;
    while (is_digit(**p)) {
        if (++k > max)
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    if (k == 0)
        return -1;
    *out = v;
    return 0;
}

static int eat(const char **p, const char *lit)
{
    size_t l = strlen(lit);
    if (strncmp(*p, lit, l) != 0)
        return 0;
    *p += l;
    return 1;
}

/* One of the separators after a year ("年") or a month ("月"). */
static int eat_sep(const char **p, const char *kanji)
{
    return eat(p, "-") || eat(p, "/") || eat(p, ".") || eat(p, kanji);
}

/* "2019年5月1日" for messages (no era). */
static void day_text(jp_date d, char *out, size_t outlen)
{
    snprintf(out, outlen, "%d年%d月%d日", d.y, d.m, d.d);
}

#define DATE_FORMS "例: 2026-04-01、2026/4/1、2026年4月1日、令和8年4月1日、R8.4.1"

int jp_date_read(const char *s, jp_date *out, char *err, size_t errlen)
{
    char buf[JP_DATE_TEXT_MAX * 2 + 8];
    if (!s)
        return fail(err, errlen, "日付がありません");
    if (!out)
        return fail(err, errlen, "no place to store the date");
    size_t n = bounded_len(s, JP_DATE_TEXT_MAX);
    if (n > JP_DATE_TEXT_MAX)
        return fail(err, errlen, "日付が長すぎます（%d バイトまで）", JP_DATE_TEXT_MAX);
    if (date_fold(s, n, buf, sizeof buf) != 0)
        return fail(err, errlen, "日付に UTF-8 として正しくない文字があります");
    if (!buf[0])
        return fail(err, errlen, "日付が空です");

    const struct era *era = NULL;
    const char *p = buf;
    size_t ne = sizeof eras / sizeof eras[0];
    for (size_t i = 0; i < ne && !era; i++) {
        char letter[2] = { eras[i].letter, 0 };
        if (eat(&p, eras[i].name) || eat(&p, letter))
            era = &eras[i];
    }
    int y = 0, m = 0, d = 0, ok;
    if (era) {
        ok = (eat(&p, "元") ? (y = 1) : read_uint(&p, 3, &y) == 0) && eat_sep(&p, "年");
    } else {
        const char *y0 = p;
        ok = read_uint(&p, 4, &y) == 0 && p - y0 == 4 && eat_sep(&p, "年");
    }
    ok = ok && read_uint(&p, 2, &m) == 0 && eat_sep(&p, "月") && read_uint(&p, 2, &d) == 0;
    if (ok)
        eat(&p, "日");
    if (!ok || *p)
        return fail(err, errlen, "「%s」は日付として読めません（" DATE_FORMS "）", s);
    if (era && y == 0)
        return fail(err, errlen, "「%s」: %s0年はありません（1年は「%s元年」）", s, era->name, era->name);
    jp_date r = { era ? era->start.y + y - 1 : y, m, d };
    if (r.m < 1 || r.m > 12)
        return fail(err, errlen, "「%s」: 月は1～12です", s);
    if (r.y < JP_YEAR_MIN || r.y > JP_YEAR_MAX)
        return fail(err, errlen, "「%s」: 扱える日付は%d年から%d年までです", s, JP_YEAR_MIN, JP_YEAR_MAX);
    if (!jp_date_valid(r))
        return fail(err, errlen, "「%s」: %d年%d月は%d日までです", s, r.y, r.m, days_in_month(r.y, r.m));
    if (era) {
        char a[32], b[32];
        /* the era before this one in the table is the one that followed it */
        const struct era *next = era > eras ? era - 1 : NULL;
        if (jp_date_cmp(r, era->start) < 0 && era != &eras[ne - 1]) {
            day_text(era->start, a, sizeof a);
            return fail(err, errlen, "「%s」: %sは%sからです", s, era->name, a);
        }
        if (next && jp_date_cmp(r, next->start) >= 0) {
            jp_date last = next->start;
            /* the day before the next era began */
            if (--last.d == 0) {
                if (--last.m == 0) {
                    last.m = 12;
                    last.y--;
                }
                last.d = days_in_month(last.y, last.m);
            }
            day_text(last, a, sizeof a);
            day_text(next->start, b, sizeof b);
            return fail(err, errlen, "「%s」: %sは%sまでです（%sからは%s）", s, era->name, a, b,
                        next->name);
        }
    }
    *out = r;
    return 0;
}
