/*
 * catalog/jp.h — Japanese public-sector identifiers and dates.
 *
 * Pure functions over caller-owned memory: no allocation, no I/O, no global
 * state, safe from any thread.  Functions that can fail return 0 on success
 * and -1 on failure; those with `char *err, size_t errlen` then write a
 * NUL-terminated English message there (Japanese for jp_date_read) (err may be NULL; long messages are
 * truncated, never overflowed).  String arguments may be NULL: that fails
 * cleanly.  On failure, `out` parameters are left untouched unless noted.
 *
 * Dates are Gregorian calendar days in years 1900..2999.  jp_date_valid()
 * is the single definition of "valid" used by every function here, and
 * every date this module returns on success satisfies it.
 */
#ifndef CATALOG_JP_H
#define CATALOG_JP_H

#include <stddef.h>

#define JP_YEAR_MIN 1900
#define JP_YEAR_MAX 2999

/* Buffer sizes (with NUL) that always suffice for jp_era_date() and
 * jp_era_fiscal_year() output. */
#define JP_ERA_DATE_MAX 32
#define JP_ERA_FY_MAX   24

/* 全国地方公共団体コード: exactly 6 ASCII digits, the 6th a check digit
 * = last digit of 11 - (6a+5b+4c+3d+2e) mod 11.  "131059" is valid. */
int jp_municipality_code_valid(const char *code, char *err, size_t errlen);

/* 法人番号: exactly 13 ASCII digits, the FIRST a check digit
 * = 9 - (sum of digit*weight over the other 12) mod 9, weights 1,2,1,2,...
 * from the rightmost digit.  Check digits are therefore always 1..9. */
int jp_corporate_number_valid(const char *num, char *err, size_t errlen);
/* Check digit for a 12-digit body (1..9), or -1 unless body12 is exactly
 * 12 ASCII digits. */
int jp_corporate_number_check_digit(const char *body12);

typedef struct { int y, m, d; } jp_date;

/* Exactly "YYYY-MM-DD" (10 chars, nothing before or after), valid day.
 * The form records store; for what people type, see jp_date_read(). */
int jp_date_parse(const char *s, jp_date *out, char *err, size_t errlen);

/* Longest text jp_date_read() reads, in bytes. */
#define JP_DATE_TEXT_MAX 64

/* A date as people type it (forms, spreadsheets, search filters):
 *   2026-04-01, 2026/4/1, 2026.4.1, 2026年4月1日 (日 optional);
 *   和暦 令和8年4月1日, 令和元年5月1日, 平成31年4月30日 and the same with
 *   the era's initial: R8.4.1, R8/4/1, H31.4.30 (R H S T M, either case),
 *   元 for year 1, era years of 1..3 digits;
 * full-width digits, letters and punctuation, dash-like characters
 * (‐ − ー …) and the square era signs (㋿ ㍻ ㍼ ㍽ ㍾) are read as their
 * plain forms; white space anywhere is ignored.  An era date must fall
 * within its era: 令和 from 2019-05-01, 平成 1989-01-08..2019-04-30,
 * 昭和 1926-12-25..1989-01-07, 大正 1912-07-30..1926-12-24, 明治 until
 * 1912-07-29 (so 平成31年5月1日 is refused, not taken as 2019-05-01).
 * At most JP_DATE_TEXT_MAX bytes.  Unlike the rest of this module, the
 * messages are in Japanese: they answer what a person typed, e.g.
 * "「平成31年5月1日」: 平成は2019年4月30日までです（2019年5月1日からは令和）". */
int jp_date_read(const char *s, jp_date *out, char *err, size_t errlen);
/* Always writes 10 chars + NUL.  Fields are printed as they are (so an
 * invalid but printable date stays readable); a field that does not fit its
 * width (y outside 0..9999, m or d outside 0..99) gives "0000-00-00". */
void jp_date_format(jp_date d, char out[11]);
/* <0, 0, >0 comparing (y, m, d) in order; no overflow on any input. */
int jp_date_cmp(jp_date a, jp_date b);
/* 1 if d is a real Gregorian day in years 1900..2999, else 0. */
int jp_date_valid(jp_date d);

/* 年度: April 1 .. March 31, named by the year it starts in.
 * 2026-03-31 -> 2025, 2026-04-01 -> 2026.  -1 if d is not valid. */
int jp_fiscal_year(jp_date d);
/* March 31 of fy+1 (FY2025 -> 2026-03-31).  For fy outside 1899..2998 the
 * end would leave the supported range: returns {0,0,0}, which
 * jp_date_valid() rejects. */
jp_date jp_fiscal_year_end(int fy);

/* Resolves a certification's valid-until rule against base (which must be
 * valid, for every form):
 *   "YYYY-MM-DD"      that date
 *   "fy-end"          end of the fiscal year containing base
 *   "fy-end+N"        end of the fiscal year N after base's (N 0..20)
 *   "fy-end-of:+Ny"   end of the fiscal year containing base + N years
 *                     (N 0..20; Feb 29 becomes Feb 28 in a common year)
 * N is one or more ASCII digits.  Fails on anything else, or if the result
 * would be after 2999-12-31. */
int jp_valid_until(const char *rule, jp_date base, jp_date *out,
                   char *err, size_t errlen);

/* 和暦 for display, UTF-8, ASCII digits, no padding, year 1 as 元年:
 *   2026-11-23 -> "令和8年11月23日", 2019-04-30 -> "平成31年4月30日".
 * Eras: 令和 2019-05-01, 平成 1989-01-08, 昭和 1926-12-25, 大正 1912-07-30,
 * 明治 before that (so every valid date has one).
 * -1 if d is invalid, out is NULL or out is too small; then out is "" when
 * outlen > 0. */
int jp_era_date(jp_date d, char *out, size_t outlen);

/* 年度 in 和暦: "令和8年度" for 2026.  A fiscal year takes the era in force
 * on December 31 of its starting year, so FY2019 is 令和元年度 (its April
 * was still 平成) and FY1988 is 昭和63年度 (平成 began January 1989).
 * fy 1900..2999; failure as for jp_era_date(). */
int jp_era_fiscal_year(int fy, char *out, size_t outlen);

#endif
