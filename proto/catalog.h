/*
 * proto/catalog.h — the catalog's record kinds (DESIGN §5): `certification`
 * (認定, written by the certifying member, key = 認定番号) and `adoption`
 * (導入実績, written by the adopting member).
 *
 * A schema table names every field, its Japanese and English column
 * headers, its type and its documented maximum.  catalog_build turns the text
 * people type (CLI arguments, CSV cells) into a validated record body, so the
 * CLI, the importer and the daemon apply exactly the same rules.  No I/O.
 *
 * Body encoding: TEXT/DATE/ENUM/URL/CORPNUM/REF -> msgpack str, INT -> int,
 * LIST -> array of str.  Fields are emitted in schema order, and absent
 * optional fields are omitted, so the same input always gives the same bytes
 * (an import of an unchanged row is recognised as "no change").
 */
#ifndef PROTO_CATALOG_H
#define PROTO_CATALOG_H

#include <stddef.h>
#include "proto/record.h"
#include "proto/jp.h"

typedef enum {
    CAT_TEXT,         /* UTF-8 text, at most max bytes */
    CAT_DATE,         /* ISO 8601 YYYY-MM-DD */
    CAT_VALID_UNTIL,  /* a date, or a fiscal-year rule resolved against certified_on */
    CAT_INT,          /* integer; people may write 1,200,000 or 1200000円 */
    CAT_LIST,         /* items separated by 、 , ; ／ or newline; at most max items */
    CAT_ENUM,         /* one of values[] */
    CAT_URL,          /* http:// or https://, at most max bytes */
    CAT_CORPNUM,      /* 法人番号: 13 digits with a valid check digit */
    CAT_REF,          /* a record reference "MEMBER_ID/KEY" (member id in its printed form) */
    CAT_FY,           /* fiscal year (年度) as a Western year, 2000..2100; 令和8年度 / R8 accepted */
} catalog_type;

typedef struct {
    const char *name;            /* body field name, e.g. "company" */
    const char *ja;              /* Japanese column header, e.g. "事業者名" */
    const char *en;              /* English column header (same as name) */
    catalog_type type;
    size_t max;                  /* bytes for text, items for lists, max value for INT */
    int required;
    const char *const *values;   /* allowed values for ENUM and LIST (NULL-terminated), or NULL */
    const char *def;             /* default applied when absent, or NULL */
} catalog_field;

#define CATALOG_KEY_MAX 64       /* 認定番号 / adoption key, bytes */

/* The schema of a kind, or NULL (n = 0) when the kind has none. */
const catalog_field *catalog_fields(const char *kind, size_t *n);
/* Find a field by body name, Japanese header or English header (exact
 * match after trimming spaces); NULL if none. */
const catalog_field *catalog_field_find(const char *kind, const char *name_or_header);

/* 行政課題の分野: the alliance's policy areas (NULL-terminated). */
extern const char *const catalog_areas[];

typedef struct { const char *name; const char *value; } catalog_kv;

/* Validate text fields (name = body name or any header) and build the body.
 * Unknown fields, missing required fields, over-long values, bad dates, bad
 * check digits, valid_until before certified_on, unknown areas... each give
 * -1 and a message naming the field (Japanese header) and the reason.  Empty
 * values count as absent.  A later kv with the same field overrides an
 * earlier one (so "current fields + changes" merges). */
int catalog_build(const char *kind, const catalog_kv *kv, size_t n, proto_body **out,
                  char *err, size_t errlen);

/* Key check: 1..CATALOG_KEY_MAX bytes of UTF-8, no control characters, no '/'. */
int catalog_key_valid(const char *key, char *err, size_t errlen);

/* Search normalisation: NFKC, case-folded, runs of white space collapsed to
 * one ASCII space and trimmed (ＡＩ -> ai, ｶﾀｶﾅ -> カタカナ).  0 or -1. */
int catalog_norm(const char *s, size_t n, char *out, size_t outlen);

/* Effective status of a certification on `today`: 取消 and 停止 as recorded,
 * 期間満了 once valid_until is past, else 認定中. */
const char *catalog_status(const proto_record *r, jp_date today);

/* Product identity across members: 法人番号 + "|" + normalised product name
 * (no 法人番号: "-|" + name). */
int catalog_product_key(const proto_record *r, char *out, size_t outlen);

#endif
