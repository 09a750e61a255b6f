/* Fuzz target: the readers of typed Japanese text (catalog/jp.c and the
 * schema's value readers): 和暦 and Western dates, fiscal-year rules, 年度,
 * 法人番号 and 団体コード, as people type them in forms, spreadsheets and
 * search filters.
 *
 * The input is NUL-separated pieces; each goes to every reader.  What a
 * reader accepts must keep the module's promises: a date read is valid, its
 * 和暦 and ISO spellings read back to the same day, and a resolved
 * valid-until rule is never before its base.  A broken promise aborts. */
#include "catalog/jp.h"
#include "catalog/schema.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void one(const char *s)
{
    char err[256], txt[JP_ERA_DATE_MAX], iso[11];
    jp_date d, d2, base = { 2026, 2, 28 };
    int fy;

    if (jp_date_read(s, &d, err, sizeof err) == 0) {
        CHECK(jp_date_valid(d));
        /* the 和暦 display of a day reads back as that day */
        CHECK(jp_era_date(d, txt, sizeof txt) == 0);
        CHECK(jp_date_read(txt, &d2, err, sizeof err) == 0 && jp_date_cmp(d, d2) == 0);
        jp_date_format(d, iso);
        CHECK(jp_date_parse(iso, &d2, err, sizeof err) == 0 && jp_date_cmp(d, d2) == 0);
        fy = jp_fiscal_year(d);
        CHECK(fy >= JP_YEAR_MIN - 1 && fy <= JP_YEAR_MAX);
        /* and its 年度 in 和暦 reads back as that 年度, where 年度 are taken */
        int fy2 = 0;
        if (fy >= 2000 && fy <= 2100)
            CHECK(jp_era_fiscal_year(fy, txt, sizeof txt) == 0 &&
                  catalog_parse_fy(txt, &fy2, err, sizeof err) == 0 && fy2 == fy);
        base = d;
    }
    if (jp_date_parse(s, &d, err, sizeof err) == 0)
        CHECK(jp_date_valid(d));
    if (jp_valid_until(s, base, &d, err, sizeof err) == 0)
        CHECK(jp_date_valid(d) && jp_date_cmp(d, base) >= 0);
    if (catalog_parse_date(s, &d, err, sizeof err) == 0)
        CHECK(jp_date_valid(d));
    if (catalog_parse_fy(s, &fy, err, sizeof err) == 0)
        CHECK(fy >= 2000 && fy <= 2100);
    char corp[14];
    int want = 0;
    int rc = catalog_corporate_number_norm(s, corp, &want);
    if (rc == 0)
        CHECK(strlen(corp) == 13 && jp_corporate_number_valid(corp, err, sizeof err) == 0);
    else if (rc == -2)
        CHECK(want >= 1 && want <= 9);
    jp_municipality_code_valid(s, err, sizeof err);
    jp_corporate_number_valid(s, err, sizeof err);
    jp_corporate_number_check_digit(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* NUL-terminated copy, exact size, so an over-read shows under ASan */
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    for (char *p = buf; p <= buf + size; p += strlen(p) + 1)
        one(p);
    free(buf);
    return 0;
}
