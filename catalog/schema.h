/*
 * catalog/schema.h — the catalog's record kinds (DESIGN §5): `certification`
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
#ifndef CATALOG_SCHEMA_H
#define CATALOG_SCHEMA_H

#include <stddef.h>
#include "proto/record.h"
#include "catalog/jp.h"

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
    unsigned flags;              /* CATALOG_F_* */
} catalog_field;

enum {
    /* A TEXT field of free prose (概要, KPI, 成果, 課題) that keeps newlines
     * and tabs.  A flag, not a length threshold, so that raising some other
     * field's max never lets line breaks into a one-line field such as
     * 事業者名, which staff cite and which lists and CSV show on one line. */
    CATALOG_F_MULTILINE = 1u,
    /* The field's values are the alliance's policy areas (分野) or contract
     * routes (契約方法): a policy record changes them (catalog_vocab). */
    CATALOG_F_POLICY_AREAS = 2u,
    CATALOG_F_POLICY_ROUTES = 4u,
};

/* The lists of the policy in force (store_policy_in_force) that 分野 and
 * 契約方法 take their values from.  NULL lists: the defaults below (the
 * genesis policy).  open: any well-formed value — one line of text, an area
 * at most CATALOG_LIST_ITEM_MAX bytes, a route at most CATALOG_VOCAB_ITEM_MAX
 * — as records from peers are held (catalog_record_validate). */
typedef struct {
    const char *const *areas;    /* NULL-terminated */
    const char *const *routes;   /* NULL-terminated */
    int open;
} catalog_vocab;
#define CATALOG_VOCAB_ITEM_MAX 64   /* bytes of one area or route a policy may list */

/* One area or route as a policy may list it: 1..CATALOG_VOCAB_ITEM_MAX
 * bytes of one line of UTF-8 text, trimmed, no control characters, and
 * none of the list separators (、 , ; ／ ...), so that a list of them reads
 * back item for item.  0, or -1 with err. */
int catalog_vocab_item_check(const char *s, size_t n, char *err, size_t errlen);

#define CATALOG_KEY_MAX 64       /* 認定番号 / adoption key, bytes */
#define CATALOG_LIST_ITEM_MAX 64 /* bytes per item of a free LIST (タグ) */

/* The schema of a kind, or NULL (n = 0) when the kind has none. */
const catalog_field *catalog_fields(const char *kind, size_t *n);
/* Find a field by body name, Japanese header or English header: an exact
 * match after trimming spaces, else a match as catalog_header_norm()
 * spells both (so 製品･サービス名, ＵＲＬ, Url and "認定 日" are found);
 * NULL if none. */
const catalog_field *catalog_field_find(const char *kind, const char *name_or_header);

/* A column header as it is compared: trimmed (white space, U+3000 and a
 * BOM), NFKC, case-folded, hiragana folded to katakana (as catalog_norm),
 * every white space removed ("製品･サービス名 "
 * -> "製品・サービス名", "ＵＲＬ" -> "url").  0, or -1 on invalid UTF-8 or
 * when out is too small (out is then ""). */
int catalog_header_norm(const char *s, char *out, size_t outlen);

/* 行政課題の分野: the genesis policy's areas (NULL-terminated); the areas in
 * force are the policy's (store_policy_in_force). */
extern const char *const catalog_areas[];
/* 契約方法: the genesis policy's contract routes (NULL-terminated). */
extern const char *const catalog_routes[];
/* The areas a stored record names in its "areas" field, bit i =
 * catalog_areas[i] (0: none, or not a certification). */
uint32_t catalog_record_areas(const proto_record *r);
/* The same against another list of areas (NULL-terminated, at most 32):
 * bit i = areas[i] (catalog_index_areas: the policy in force). */
uint32_t catalog_record_areas_in(const proto_record *r, const char *const *areas);

/* The fields of a certification that describe its subject — the company
 * and its product — rather than the certifying member's decision: what a
 * derived certification (依拠した認定) copies from the one it cites
 * (NULL-terminated body names). */
extern const char *const catalog_subject_fields[];

typedef struct { const char *name; const char *value; } catalog_kv;

/* Validate text fields (name = body name or any header) and build the body.
 * Unknown fields, missing required fields, over-long values, bad dates, bad
 * check digits, valid_until before certified_on, unknown areas... each give
 * -1 and a message naming the field (Japanese header) and the reason.  Empty
 * values count as absent.  A later kv with the same field overrides an
 * earlier one (so "current fields + changes" merges).
 *
 * Details (catalog/schema.c):
 * - Every value is trimmed of ASCII white space and U+3000 first.  A later
 *   empty (or NULL) value clears the field, which then takes its default.
 * - Errors read "<Japanese header> (<name>): <reason>", e.g.
 *   "法人番号 (corporate_number): check digit is 3, expected 7",
 *   "有効期限 (valid_until): 2026-03-31 is before 認定日 2026-04-01",
 *   "事業者名 (company): required", "unknown field 'foo'".  Fields are checked
 *   in schema order and the first error is reported.
 * - TEXT: valid UTF-8, no control characters; fields marked
 *   CATALOG_F_MULTILINE keep newlines and tabs (CRLF and CR become LF).
 *   Stored as written.
 * - DATE: what jp_date_read reads: 2026-04-01, 2026/4/1, 2026.4.1,
 *   2026年4月1日, 和暦 (令和8年4月1日, 令和元年5月1日, R8.4.1, H31.4.30),
 *   full-width digits; stored as YYYY-MM-DD.
 * - VALID_UNTIL: a date as above, or a jp_valid_until rule ("fy-end+2",
 *   "fy-end-of:+3y"; case and width do not matter) resolved against
 *   certified_on; stored as the resolved date, never before certified_on.
 * - INT: full-width digits, thousands commas, leading ¥/￥, trailing 円.
 * - FY: 2026, 2026年度, FY2026, 令和8年度, 令和元年度, R8, 平成31年度, H31.
 * - ENUM and the 分野 LIST match after catalog_norm (so width and case do not
 *   matter) and store the canonical spelling; aliases: active/suspended/
 *   revoked -> 認定中/停止/取消, 公開 -> public, 連合内/非公開 -> alliance.
 *   状態 also takes 期間満了 (what exports show) once 有効期限 has passed,
 *   and stores 認定中 (期間満了 is computed, never recorded); before that
 *   day it is refused.
 * - LIST: empty items dropped, duplicates (under catalog_norm) dropped,
 *   order kept; free items at most CATALOG_LIST_ITEM_MAX bytes.
 * - CORPNUM: hyphens, spaces and full-width digits accepted; stored as 13
 *   ASCII digits.
 * - REF: member id in any form proto_id_parse accepts; stored as
 *   proto_id_str(id) + "/" + key, the key as catalog_key_norm makes it.
 * On success *out is a new body (proto_body_free it); on failure *out = NULL. */
int catalog_build(const char *kind, const catalog_kv *kv, size_t n, proto_body **out,
                  char *err, size_t errlen);
/* catalog_build with 分野 and 契約方法 from vocab (NULL: the defaults). */
int catalog_build_v(const char *kind, const catalog_vocab *vocab, const catalog_kv *kv, size_t n,
                    proto_body **out, char *err, size_t errlen);

/* The text one field of `kind` (body name or either header) would be
 * stored as, by the rules of catalog_build, into out: a reference as
 * "MEMBER_ID/KEY", a date as YYYY-MM-DD, an ENUM as its canonical value.
 * Only fields stored as one string that depends on no other field (not
 * INT, FY, LIST or VALID_UNTIL); date order against other fields is not
 * checked.  An empty value gives "" and 0.  0, or -1 with err
 * (catalog_build's message). */
int catalog_field_canon(const char *kind, const char *name, const char *text, char *out, size_t outlen,
                        char *err, size_t errlen);

/* Every fault of a record, not only the first: the checks of catalog_build,
 * each fault handed to fn with its field (NULL for one that is not about a
 * field: "unknown field 'x'") and the reason without the "<ja> (<name>): "
 * in front.  A fault that only follows from another (有効期限 fy-end+2 when
 * 認定日 is itself wrong) is not repeated.  Returns the number of faults:
 * 0 means catalog_build would succeed. */
typedef void (*catalog_fault_fn)(void *ctx, const catalog_field *f, const char *reason);
int catalog_check(const char *kind, const catalog_kv *kv, size_t n, catalog_fault_fn fn, void *ctx);
int catalog_check_v(const char *kind, const catalog_vocab *vocab, const catalog_kv *kv, size_t n,
                    catalog_fault_fn fn, void *ctx);

/* ---- records of the catalog kinds, whoever wrote them ----
 *
 * catalog_build is what this node's CLI and importer go through; a record
 * from a peer was built by some other node's code, perhaps a newer, older,
 * buggy or hostile one.  catalog_record_validate applies the same schema to
 * a signed record's body, so that what staff see and cite was valid under
 * it whoever wrote it.  It is the validator of both catalog kinds in the
 * kinds table (store/kind.c): this file depends on proto/ only, so the
 * store calling down into it makes no include loop, and the table stays a
 * constant (no registration at run time, no mutable global).
 *
 * A body holds canonical values — what catalog_build stores, not what
 * people type: dates as YYYY-MM-DD, 法人番号 as 13 digits, ENUMs in their
 * canonical spelling (never 期間満了 or an alias), references as
 * MEMBER_ID/KEY, 有効期限 as a resolved date, INT and FY as msgpack ints,
 * LISTs as arrays of strings (no empty array), no empty strings, no white
 * space around a value.  Each known field is run through the converter
 * catalog_build uses and must come out unchanged; its msgpack type must be
 * the one catalog_build writes.  Required fields must be present (defaults
 * are applied by catalog_build, so a missing defaulted field is allowed and
 * reads as its default).  The key must be as catalog_key_norm makes it.
 * 分野 and 契約方法 are held to no list: any item of one line of text
 * within the limits (docs/DECISIONS.md: a peer's record may name the value
 * of a policy this node does not hold yet, or one a later policy removed);
 * the policy in force binds what this node writes (catalog_build_v).
 * Fields the schema does not know are allowed, whatever their type
 * (docs/DECISIONS.md: a newer node may add a field).  A tombstone (a
 * withdrawal) carries only its reason: catalog_reason_check.  0, or -1 with
 * a message naming the field as catalog_build does. */
int catalog_record_validate(const proto_record *r, char *err, size_t errlen);

/* The same rules without the shortcuts that recognise a canonical value
 * where it lies (every value converted and compared, the key normalised):
 * the definition catalog_record_validate must agree with, result and
 * message, which the unit tests and the fuzz replay check. */
int catalog_record_validate_full(const proto_record *r, char *err, size_t errlen);

/* A withdrawal's reason (the only field of a catalog tombstone): 1 to
 * CATALOG_REASON_MAX bytes of UTF-8, trimmed, no control characters but
 * newlines.  0, or -1 with err. */
#define CATALOG_REASON_MAX 1000u
int catalog_reason_check(const char *s, size_t n, char *err, size_t errlen);

/* Key check: 1..CATALOG_KEY_MAX bytes of UTF-8, no control characters, no '/'. */
int catalog_key_valid(const char *key, char *err, size_t errlen);

/* A key (認定番号, adoption key) as it is stored and looked up: NFKC (not
 * case-folded), U+2212 MINUS SIGN as '-', trimmed of white space — so
 * "文京－２０２６－１０６" is "文京-2026-106" — then catalog_key_valid().
 * The one function every key from outside goes through: the write path
 * (catalog_prepare), lookups (cfind, get, history) and references
 * (CAT_REF values).  0 with out set, or -1 with err (out is then ""). */
int catalog_key_norm(const char *key, char *out, size_t outlen, char *err, size_t errlen);

/* Search normalisation: NFKC, case-folded, hiragana folded to katakana
 * (ぎじろく -> ギジロク; ゝゞ -> ヽヾ), runs of white space collapsed to one
 * ASCII space and trimmed (ＡＩ -> ai, ｶﾀｶﾅ -> カタカナ).  Every comparison
 * "after catalog_norm" (search, ENUM values, product identity, duplicate
 * list items) therefore ignores width, case and the kana script.  0 or -1. */
int catalog_norm(const char *s, size_t n, char *out, size_t outlen);

/* ---- status: the one rule ----
 *
 * A certification's status on a day is decided here and nowhere else:
 * recorded 取消 and 停止 stand as recorded; otherwise 期間満了 from the day
 * after valid_until (the last day of validity), else 認定中.  A missing
 * status counts as 認定中; a missing or unparsable valid_until never
 * expires.  "In force on D" means certified_on <= D, and 認定中 on D (so
 * D <= valid_until, and neither suspended nor revoked).  A recorded 停止 or
 * 取消 applies from its status_date (状態変更日, `from`) on: before that day
 * the certification counts as 認定中 (a suspension dated in the future is
 * not yet in effect; "in force on D" before a later revocation is true).
 * Without a status_date (from = 0) it applies on every day.  What a
 * reinstated certification was before its reinstatement is not known from
 * the current record: it counts as 認定中.  Dates are yyyymmdd numbers. */
enum {
    CATALOG_STATUS_ANY = -1,
    CATALOG_STATUS_ACTIVE = 0,       /* 認定中 */
    CATALOG_STATUS_SUSPENDED = 1,    /* 停止 */
    CATALOG_STATUS_REVOKED = 2,      /* 取消 */
    CATALOG_STATUS_EXPIRED = 3,      /* 期間満了 */
};

static inline int catalog_status_on(int recorded, int from, int valid_until, int on)
{
    if ((recorded == CATALOG_STATUS_SUSPENDED || recorded == CATALOG_STATUS_REVOKED) &&
        (!from || on >= from))
        return recorded;
    return valid_until && on > valid_until ? CATALOG_STATUS_EXPIRED : CATALOG_STATUS_ACTIVE;
}

static inline int catalog_in_force_on(int recorded, int from, int certified_on, int valid_until, int on)
{
    return certified_on && certified_on <= on &&
           catalog_status_on(recorded, from, valid_until, on) == CATALOG_STATUS_ACTIVE;
}

/* "認定中", "停止", "取消" or "期間満了" (static); "" for anything else. */
const char *catalog_status_name(int code);
/* The recorded status of a certification: CATALOG_STATUS_ACTIVE (also when
 * absent or unknown), _SUSPENDED or _REVOKED. */
int catalog_status_recorded(const proto_record *r);
/* A date field as yyyymmdd, 0 when absent or not a date. */
int catalog_date_num(const proto_record *r, const char *field);
/* Status code of a certification on `on` (yyyymmdd). */
int catalog_status_code(const proto_record *r, int on);
/* The same as a static string (one of "認定中", "停止", "取消", "期間満了"). */
const char *catalog_status(const proto_record *r, jp_date today);
/* 1 if the certification is in force on `on` (yyyymmdd). */
int catalog_in_force(const proto_record *r, int on);
/* jp_date <-> yyyymmdd. */
int catalog_date_to_num(jp_date d);
jp_date catalog_num_to_date(int num);

/* ---- values as catalog_build reads them, for filters ---- */

/* A date in any form catalog_build accepts for a date field.  0, or -1
 * with catalog_build's reason in err. */
int catalog_parse_date(const char *s, jp_date *out, char *err, size_t errlen);
/* A fiscal year (年度) as catalog_build reads one: 2026, 令和8年度, R8 ...  */
int catalog_parse_fy(const char *s, int *out, char *err, size_t errlen);
/* 法人番号 as people write it (full-width digits, hyphens, spaces) into 13
 * ASCII digits: 0; -1 if it is not 13 digits (or holds anything else);
 * -2 if the check digit is wrong (*want, if given, is the right one). */
int catalog_corporate_number_norm(const char *s, char out[14], int *want);
/* The canonical value of ENUM field f that text names (after catalog_norm,
 * aliases included), or NULL. */
const char *catalog_enum_lookup(const catalog_field *f, const char *text);

/* Product identity across members: 法人番号 + "|" + normalised product name
 * (no 法人番号: "-|" + name).  -1 if the record has no product or out is
 * too small. */
int catalog_product_key(const proto_record *r, char *out, size_t outlen);

#endif
