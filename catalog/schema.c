/* catalog/schema.c — the catalog's schema and its validation; see schema.h. */
#include "catalog/schema.h"
#include "proto/mp.h"
#include "proto/text.h"
#include "proto/util.h"

#include <utf8proc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define VALUE_RAW_MAX  PROTO_RECORD_MAX   /* any input value, before processing */
#define REF_MAX        (PROTO_ID_STR - 1 + 1 + CATALOG_KEY_MAX)
#define ENUM_MAX       64u
/* A list of allowed values in a message: a policy's 32 items of 64 bytes. */
#define VALUES_TEXT_MAX (32 * (CATALOG_VOCAB_ITEM_MAX + 3) + 1)

/* ---- the schema ---- */

const char *const catalog_areas[] = {
    "子育て", "教育", "医療・福祉", "防災", "インフラ・施設", "農林水産", "環境",
    "観光・文化", "暮らし・手続き", "産業・ビジネス", "行政DX", "その他", NULL
};

static const char *const status_values[] = { "認定中", "停止", "取消", NULL };
static const char *const visibility_values[] = { "public", "alliance", NULL };
const char *const catalog_routes[] = {
    "4号随契", "トライアル発注", "実証実験", "入札", "その他", NULL
};
static const char *const expense_values[] = {
    "需用費", "役務費", "委託料", "使用料及び賃借料", "備品購入費", "負担金補助及び交付金",
    "その他", NULL
};
static const char *const stage_values[] = { "トライアル", "本格導入", "継続", "終了", NULL };

/* Other spellings people use for ENUM values.  An alias applies only to a
 * field whose values[] contain its target. */
static const struct { const char *from, *to; } enum_aliases[] = {
    { "active", "認定中" }, { "suspended", "停止" }, { "revoked", "取消" },
    { "公開", "public" }, { "連合内", "alliance" }, { "非公開", "alliance" },
};

#define F(name, ja, type, max, req, vals, def, fl) { name, ja, name, type, max, req, vals, def, fl }

static const catalog_field cert_fields[] = {
    F("company",          "事業者名",         CAT_TEXT,        200,  1, NULL, NULL, 0),
    F("corporate_number", "法人番号",         CAT_CORPNUM,     13,   0, NULL, NULL, 0),
    F("address",          "所在地",           CAT_TEXT,        200,  0, NULL, NULL, 0),
    F("established",      "設立日",           CAT_DATE,        10,   0, NULL, NULL, 0),
    F("product",          "製品・サービス名", CAT_TEXT,        200,  1, NULL, NULL, 0),
    F("summary",          "概要",             CAT_TEXT,        4000, 0, NULL, NULL, CATALOG_F_MULTILINE),
    F("areas",            "分野",             CAT_LIST,        5,    1, catalog_areas, NULL,
      CATALOG_F_POLICY_AREAS),
    F("price",            "参考価格",         CAT_TEXT,        200,  0, NULL, NULL, 0),
    F("tags",             "タグ",             CAT_LIST,        20,   0, NULL, NULL, 0),
    F("url",              "URL",              CAT_URL,         2048, 0, NULL, NULL, 0),
    F("programme",        "認定制度名",       CAT_TEXT,        200,  0, NULL, "トライアル発注認定", 0),
    F("legal_ground",     "根拠法令",         CAT_TEXT,        200,  0, NULL,
      "地方自治法施行令第167条の2第1項第4号", 0),
    F("certified_on",     "認定日",           CAT_DATE,        10,   1, NULL, NULL, 0),
    F("valid_until",      "有効期限",         CAT_VALID_UNTIL, 10,   1, NULL, NULL, 0),
    F("status",           "状態",             CAT_ENUM,        ENUM_MAX, 0, status_values, "認定中", 0),
    F("status_date",      "状態変更日",       CAT_DATE,        10,   0, NULL, NULL, 0),
    F("status_reason",    "状態変更理由",     CAT_TEXT,        1000, 0, NULL, NULL, 0),
    F("derived_from",     "依拠した認定",     CAT_REF,         REF_MAX, 0, NULL, NULL, 0),
    F("announcement_url", "公表資料",         CAT_URL,         2048, 0, NULL, NULL, 0),
    F("contact",          "問合せ先",         CAT_TEXT,        200,  0, NULL, NULL, 0),
    F("visibility",       "公開区分",         CAT_ENUM,        ENUM_MAX, 0, visibility_values,
      "alliance", 0),
};

static const catalog_field adoption_fields[] = {
    F("certification", "認定",     CAT_REF,  REF_MAX,  1, NULL, NULL, 0),
    F("fiscal_year",   "年度",     CAT_FY,   2100,     1, NULL, NULL, 0),
    F("department",    "原課",     CAT_TEXT, 200,      1, NULL, NULL, 0),
    F("contact",       "問合せ先", CAT_TEXT, 200,      0, NULL, NULL, 0),
    F("route",         "契約方法", CAT_ENUM, ENUM_MAX, 1, catalog_routes, NULL, CATALOG_F_POLICY_ROUTES),
    F("expense",       "予算科目", CAT_ENUM, ENUM_MAX, 0, expense_values, NULL, 0),
    F("amount",        "金額",     CAT_INT,  (size_t)1000000000000ULL, 0, NULL, NULL, 0),
    F("period_from",   "期間開始", CAT_DATE, 10,       0, NULL, NULL, 0),
    F("period_to",     "期間終了", CAT_DATE, 10,       0, NULL, NULL, 0),
    F("stage",         "段階",     CAT_ENUM, ENUM_MAX, 0, stage_values, "トライアル", 0),
    F("kpis",          "KPI",      CAT_TEXT, 4000,     0, NULL, NULL, CATALOG_F_MULTILINE),
    F("results",       "成果",     CAT_TEXT, 4000,     0, NULL, NULL, CATALOG_F_MULTILINE),
    F("difficulties",  "課題",     CAT_TEXT, 4000,     0, NULL, NULL, CATALOG_F_MULTILINE),
    F("rating",        "評価",     CAT_INT,  5,        0, NULL, NULL, 0),
    F("visibility",    "公開区分", CAT_ENUM, ENUM_MAX, 0, visibility_values, "alliance", 0),
};

#undef F

const char *const catalog_subject_fields[] = {
    "company", "corporate_number", "address", "established", "product", "summary", "areas", "price",
    "tags", "url", NULL
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Date fields that must not fall before another date field of the record. */
static const struct { const char *field, *after; } date_order[] = {
    { "valid_until", "certified_on" },
    { "period_to", "period_from" },
    { "status_date", "certified_on" },
};

#define FY_MIN 2000

/* Smallest accepted value of an INT or FY field (the schema records only the
 * largest). */
static long long int_min(const catalog_field *f)
{
    if (f->type == CAT_FY)
        return FY_MIN;
    if (strcmp(f->name, "rating") == 0)
        return 1;
    return 0;
}

const catalog_field *catalog_fields(const char *kind, size_t *n)
{
    const catalog_field *f = NULL;
    size_t c = 0;
    if (kind && strcmp(kind, "certification") == 0) {
        f = cert_fields;
        c = COUNT(cert_fields);
    } else if (kind && strcmp(kind, "adoption") == 0) {
        f = adoption_fields;
        c = COUNT(adoption_fields);
    }
    if (n)
        *n = c;
    return f;
}

/* ---- small text helpers ---- */

/* Leading/trailing white space: ASCII white space, U+3000, and (for column
 * headers read from Excel files) a byte-order mark U+FEFF. */
static size_t lead_space(const char *s, size_t n, int bom)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 1 && (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r')))
        return 1;
    if (n >= 3 && u[0] == 0xe3 && u[1] == 0x80 && u[2] == 0x80)
        return 3;
    if (bom && n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf)
        return 3;
    return 0;
}

static size_t trail_space(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 1 && (u[n - 1] == ' ' || (u[n - 1] >= '\t' && u[n - 1] <= '\r')))
        return 1;
    if (n >= 3 && u[n - 3] == 0xe3 && u[n - 2] == 0x80 && u[n - 1] == 0x80)
        return 3;
    return 0;
}

static void trim(const char **s, size_t *n, int bom)
{
    size_t k;
    while (*n && (k = lead_space(*s, *n, bom)) > 0) {
        *s += k;
        *n -= k;
    }
    while (*n && (k = trail_space(*s, *n)) > 0)
        *n -= k;
}

/* For quoting a value in a message: at most max bytes of s, cut at a
 * character boundary so the message stays valid UTF-8. */
static int clip(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return (int)n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return (int)n;
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int is_space_cp(utf8proc_int32_t c)
{
    if (c == ' ' || (c >= '\t' && c <= '\r') || c == 0x85)
        return 1;
    utf8proc_category_t cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

/* Control characters (C0, DEL, C1) and bidi controls: the code points the
 * node refuses in any record (proto/text.h). */
static int is_control_cp(utf8proc_int32_t c)
{
    return proto_text_cp_refused(c);
}

/* What a refused code point is called in a message: 制御文字 or, for
 * U+202A–U+202E and U+2066–U+2069, 文字の向きを変える制御文字. */
static const char *control_name(utf8proc_int32_t c)
{
    return c <= 0x9f ? "制御文字" : "文字の向きを変える制御文字";
}

/* catalog_norm into a malloc'd string; NULL on invalid UTF-8 or no memory.
 * keep_spaces = 0 drops white space altogether instead of collapsing it. */
static char *norm_alloc(const char *s, size_t n, int keep_spaces, size_t *outn)
{
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t ml;
    size_t o = 0, i = 0;
    int pending = 0;

    if (!s || !proto_utf8_valid(s, n))
        return NULL;
    if (n == 0) {
        char *e = calloc(1, 1);
        if (e && outn)
            *outn = 0;
        return e;
    }
    ml = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &m,
                      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (ml < 0)
        return NULL;
    while (i < (size_t)ml) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(m + i, ml - (utf8proc_ssize_t)i, &cp);
        if (k <= 0) {
            free(m);
            return NULL;
        }
        if (is_space_cp(cp)) {
            pending = o > 0;
        } else {
            if (pending && keep_spaces)
                m[o++] = ' ';
            pending = 0;
            memmove(m + o, m + i, (size_t)k);
            if (k == 3 && ((cp >= 0x3041 && cp <= 0x3096) || cp == 0x309d || cp == 0x309e))
                utf8proc_encode_char(cp + 0x60, m + o);   /* hiragana -> katakana, also 3 bytes */
            o += (size_t)k;
        }
        i += (size_t)k;
    }
    m[o] = 0;
    if (outn)
        *outn = o;
    return (char *)m;
}

int catalog_norm(const char *s, size_t n, char *out, size_t outlen)
{
    size_t ol;
    char *m;
    if (!out || outlen == 0)
        return -1;
    out[0] = 0;
    m = norm_alloc(s, n, 1, &ol);
    if (!m)
        return -1;
    if (ol >= outlen) {
        free(m);
        return -1;
    }
    memcpy(out, m, ol + 1);
    free(m);
    return 0;
}

/* 1 if a under catalog_norm is nb (a string catalog_norm made). */
static int norm_is(const char *a, const char *nb)
{
    /* Lowercase ASCII letters and digits are their own normal form (NFKC
     * and case folding leave them as they are, and there is no space to
     * fold): "public", "alliance", "active" are compared as they are,
     * without an NFKC pass each (an ENUM value not spelled as listed was
     * compared with every listed value and alias this way, at every row of
     * an import, in catalogctl, in the writer and in every member). */
    size_t k = 0;
    while (a[k] && ((a[k] >= 'a' && a[k] <= 'z') || (a[k] >= '0' && a[k] <= '9')))
        k++;
    if (k && !a[k])
        return strcmp(a, nb) == 0;
    char *na = norm_alloc(a, strlen(a), 1, NULL);
    int eq = na && strcmp(na, nb) == 0;
    free(na);
    return eq;
}

/* 1 if a and b are equal under catalog_norm. */
static int norm_eq(const char *a, const char *b)
{
    char *na = norm_alloc(a, strlen(a), 1, NULL);
    char *nb = norm_alloc(b, strlen(b), 1, NULL);
    int eq = na && nb && strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return eq;
}

/* ---- field lookup ---- */

static const catalog_field *find_in(const catalog_field *fs, size_t nf, const char *name)
{
    const char *s = name;
    size_t n;
    if (!fs || !name)
        return NULL;
    n = strlen(s);
    trim(&s, &n, 1);
    if (n == 0)
        return NULL;
    /* the first byte before the length: most names differ there, and this
     * runs for every cell of every row (n > 0 here) */
    for (size_t i = 0; i < nf; i++) {
        const char *c[3] = { fs[i].name, fs[i].ja, fs[i].en };
        for (int k = 0; k < 3; k++)
            if (c[k] && c[k][0] == s[0] && strlen(c[k]) == n && memcmp(c[k], s, n) == 0)
                return &fs[i];
    }
    /* then as a spreadsheet may spell the header (only when the exact
     * names failed, so the daemon's own field names stay cheap) */
    char *h = norm_alloc(s, n, 0, NULL);
    const catalog_field *hit = NULL;
    for (size_t i = 0; h && i < nf && !hit; i++) {
        const char *c[3] = { fs[i].name, fs[i].ja, fs[i].en };
        for (int k = 0; k < 3 && !hit; k++) {
            char *cn = c[k] ? norm_alloc(c[k], strlen(c[k]), 0, NULL) : NULL;
            if (cn && strcmp(cn, h) == 0)
                hit = &fs[i];
            free(cn);
        }
    }
    free(h);
    return hit;
}

int catalog_header_norm(const char *s, char *out, size_t outlen)
{
    size_t n, ol;
    char *m;
    if (!out || outlen == 0)
        return -1;
    out[0] = 0;
    if (!s)
        return -1;
    n = strlen(s);
    trim(&s, &n, 1);
    m = norm_alloc(s, n, 0, &ol);
    if (!m)
        return -1;
    if (ol >= outlen) {
        free(m);
        return -1;
    }
    memcpy(out, m, ol + 1);
    free(m);
    return 0;
}

const catalog_field *catalog_field_find(const char *kind, const char *name_or_header)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(kind, &nf);
    return find_in(fs, nf, name_or_header);
}

static const catalog_field *find_name(const catalog_field *fs, size_t nf, const char *name)
{
    /* the first byte first: the validator looks up every field of every
     * record that arrives, among ~20 names */
    for (size_t i = 0; i < nf; i++)
        if (fs[i].name[0] == name[0] && strcmp(fs[i].name, name) == 0)
            return &fs[i];
    return NULL;
}

/* ---- keys ---- */

int catalog_key_valid(const char *key, char *err, size_t errlen)
{
    size_t n, i = 0;
    if (!key)
        return proto_err(err, errlen, "キーがありません");
    n = strlen(key);
    if (n == 0)
        return proto_err(err, errlen, "キーが空です");
    if (n > CATALOG_KEY_MAX)
        return proto_err(err, errlen, "キーが %zu バイトあります（%d バイトまで）", n, CATALOG_KEY_MAX);
    if (!proto_utf8_valid(key, n))
        return proto_err(err, errlen, "キーに UTF-8 として正しくない文字があります");
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)key + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return proto_err(err, errlen, "キーに UTF-8 として正しくない文字があります");
        if (is_control_cp(cp))
            return proto_err(err, errlen, "キーに%s（U+%04X）が含まれています",
                             control_name(cp), (unsigned)cp);
        if (cp == '/')
            return proto_err(err, errlen, "キーに「/」は使えません");
        i += (size_t)k;
    }
    return 0;
}

/* Longest key accepted before normalisation: NFKC can only shorten the
 * full-width forms people type, and this bounds the work on nonsense. */
#define KEY_RAW_MAX (CATALOG_KEY_MAX * 4)

int catalog_key_norm(const char *key, char *out, size_t outlen, char *err, size_t errlen)
{
    utf8proc_uint8_t *m = NULL;
    utf8proc_ssize_t ml;
    const char *s;
    size_t n, o = 0;
    int rc;
    if (out && outlen)
        out[0] = 0;
    if (!out || outlen == 0)
        return proto_err(err, errlen, "no place to store the key");
    if (!key)
        return catalog_key_valid(key, err, errlen);
    n = strlen(key);
    if (n > KEY_RAW_MAX)
        return proto_err(err, errlen, "キーが %zu バイトあります（%d バイトまで）", n, CATALOG_KEY_MAX);
    if (!proto_utf8_valid(key, n))
        return catalog_key_valid(key, err, errlen);
    if (n == 0)
        return catalog_key_valid("", err, errlen);
    ml = utf8proc_map((const utf8proc_uint8_t *)key, (utf8proc_ssize_t)n, &m,
                      UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE);
    if (ml < 0)
        return proto_err(err, errlen, "キーに UTF-8 として正しくない文字があります");
    /* U+2212 MINUS SIGN, which some Shift_JIS converters give for －, is
     * the hyphen-minus NFKC makes of － */
    for (size_t i = 0; i < (size_t)ml; i++) {
        if (i + 2 < (size_t)ml && m[i] == 0xe2 && m[i + 1] == 0x88 && m[i + 2] == 0x92) {
            m[o++] = '-';
            i += 2;
        } else {
            m[o++] = m[i];
        }
    }
    m[o] = 0;
    s = (const char *)m;
    n = o;
    trim(&s, &n, 1);
    memmove(m, s, n);
    m[n] = 0;
    rc = catalog_key_valid((const char *)m, err, errlen);
    if (rc == 0 && n >= outlen)
        rc = proto_err(err, errlen, "キーが %zu バイトあります（%zu バイトまで）", n, outlen - 1);
    if (rc == 0)
        memcpy(out, m, n + 1);
    free(m);
    return rc;
}

/* ---- values ---- */

typedef struct {
    int set;
    enum { V_STR, V_INT, V_LIST } kind;
    char *s;
    int64_t i;
    char **items;
    size_t nitems;
    int has_date;
    jp_date date;
} value;

static void value_free(value *v)
{
    free(v->s);
    for (size_t k = 0; k < v->nitems; k++)
        free(v->items[k]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* Context for one field's conversion. */
typedef struct {
    const catalog_field *f;
    const catalog_field *fs;
    size_t nf;
    value *vals;         /* all fields, schema order */
    char *err;
    size_t errlen;
    const int *failed;   /* fields that already had a fault (collecting them all), or NULL */
    const catalog_vocab *vocab;  /* the lists of the policy in force, or NULL (the defaults) */
    int full;            /* catalog_record_validate_full: no in-place shortcut */
    int text_ok;         /* the record's body passed the text rule (proto_record.text_checked) */
} ctx;

/* The values a field takes: its schema's, or for the fields the alliance's
 * policy lists (分野, 契約方法) the policy's; NULL for free text (a field
 * without a list, or a policy field under an open vocabulary). */
static const char *const *values_of(const ctx *c)
{
    const catalog_vocab *v = c->vocab;
    unsigned pf = c->f->flags & (CATALOG_F_POLICY_AREAS | CATALOG_F_POLICY_ROUTES);
    if (!v || !pf)
        return c->f->values;
    if (v->open)
        return NULL;
    const char *const *l = pf == CATALOG_F_POLICY_AREAS ? v->areas : v->routes;
    return l ? l : c->f->values;
}

#define FERR(c, fmt, ...) \
    proto_err((c)->err, (c)->errlen, "%s (%s): " fmt, (c)->f->ja, (c)->f->name, __VA_ARGS__)
#define FERR0(c, msg) \
    proto_err((c)->err, (c)->errlen, "%s (%s): %s", (c)->f->ja, (c)->f->name, msg)

/* Strip all white space and normalise (NFKC, case-folded). */
static char *compact(const char *s, size_t n)
{
    return norm_alloc(s, n, 0, NULL);
}

static int text_check(ctx *c, const char *s, size_t n, size_t max, int multiline, char **out)
{
    char *d = malloc(n + 1);
    size_t o = 0;
    if (!d)
        return FERR0(c, "メモリが足りません");
    /* Line breaks arrive as CRLF or CR from some spreadsheets: store LF. */
    for (size_t k = 0; k < n; k++) {
        if (multiline && s[k] == '\r') {
            d[o++] = '\n';
            if (k + 1 < n && s[k + 1] == '\n')
                k++;
        } else {
            d[o++] = s[k];
        }
    }
    d[o] = 0;
    if (o > max) {
        free(d);
        return FERR(c, "%zu バイトあります（%zu バイトまで）", o, max);
    }
    /* is_control_cp is proto_text_check's rule, whose fast path skips
     * utf8proc for text without a byte a refused character needs: every
     * record that arrives passes here once per text field, on the pool */
    int32_t cp;
    if (proto_text_check(d, o, multiline ? PROTO_TEXT_NL : 0, &cp)) {
        if (cp < 0 && memchr(d, 0, o))
            cp = 0;   /* U+0000 is a control character, not bad UTF-8, to people */
        free(d);
        if (cp < 0)
            return FERR0(c, "UTF-8 として正しくない文字があります");
        if (cp == '\n' || cp == '\t')
            return FERR(c, "改行やタブ（U+%04X）は入れられません", (unsigned)cp);
        return FERR(c, "%s（U+%04X）が含まれています", control_name(cp), (unsigned)cp);
    }
    *out = d;
    return 0;
}

static int parse_uint(const char **p, int maxdigits, int *out)
{
    int v = 0, k = 0;
    while (**p >= '0' && **p <= '9') {
        if (++k > maxdigits)
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
    if (strncmp(*p, lit, l) == 0) {
        *p += l;
        return 1;
    }
    return 0;
}

/* A date as people write it (jp_date_read: 2026-04-01, 2026/4/1,
 * 2026年4月1日, 令和8年4月1日, R8.4.1, full width...).  Stored as
 * YYYY-MM-DD. */
static int date_value(ctx *c, const char *s, size_t n, jp_date *out)
{
    char text[JP_DATE_TEXT_MAX + 1], why[256];
    if (n > JP_DATE_TEXT_MAX)
        return FERR(c, "「%.*s…」は日付として長すぎます（%zu バイト）", clip(s, n, 32), s, n);
    memcpy(text, s, n);
    text[n] = 0;
    if (jp_date_read(text, out, why, sizeof why) != 0)
        return FERR(c, "%s", why);
    return 0;
}

static const value *value_of(ctx *c, const char *name, const catalog_field **fo)
{
    const catalog_field *f = find_name(c->fs, c->nf, name);
    if (!f)
        return NULL;
    if (fo)
        *fo = f;
    return &c->vals[f - c->fs];
}

/* The date this field must not precede, if the record has one. */
static int date_order_check(ctx *c, jp_date d)
{
    for (size_t k = 0; k < COUNT(date_order); k++) {
        const catalog_field *of;
        const value *ov;
        char a[11], b[11];
        if (strcmp(date_order[k].field, c->f->name) != 0)
            continue;
        ov = value_of(c, date_order[k].after, &of);
        if (!ov || !ov->has_date || jp_date_cmp(d, ov->date) >= 0)
            continue;
        jp_date_format(d, a);
        jp_date_format(ov->date, b);
        return FERR(c, "%s は%s %s より前です", a, of->ja, b);
    }
    return 0;
}

static int valid_until_value(ctx *c, const char *s, size_t n, jp_date *out)
{
    const catalog_field *bf = NULL;   /* value_of sets it only when the field exists */
    const value *bv = value_of(c, "certified_on", &bf);
    char *rule;
    char why[256];
    int has_digit = 0;
    rule = compact(s, n);
    if (!rule)
        return FERR0(c, "UTF-8 として正しくない文字があります");
    if (strncmp(rule, "fy", 2) != 0) {
        /* a date; or, with no digit at all, neither a date nor a rule */
        for (const char *p = rule; *p && !has_digit; p++)
            has_digit = *p >= '0' && *p <= '9';
        free(rule);
        if (has_digit)
            return date_value(c, s, n, out);
        return FERR(c, "「%.*s」は日付としても期限の規則（fy-end、fy-end+N、fy-end-of:+Ny）としても読めません",
                    clip(s, n, 64), s);
    }
    if (!bv || !bv->has_date) {
        free(rule);
        if (c->failed && bf && c->failed[bf - c->fs])
            return 1;   /* 認定日's own fault is reported; this would only repeat it */
        return FERR(c, "期限の規則には正しい%s（%s）が必要です", bf ? bf->ja : "認定日",
                    "certified_on");
    }
    if (jp_valid_until(rule, bv->date, out, why, sizeof why) != 0) {
        free(rule);
        return FERR(c, "「%.*s」は期限の規則として使えません（fy-end、fy-end+N、fy-end-of:+Ny。"
                    "N は 0～20、結果は2999年まで）", clip(s, n, 64), s);
    }
    free(rule);
    return 0;
}

/* Integers as people write them: 1,200,000 / 1200000円 / ￥1,200,000, full
 * width allowed. */
static int int_value(ctx *c, const char *s, size_t n, long long min, long long max,
                     int64_t *out)
{
    char *m = compact(s, n);
    const char *p, *end;
    int neg = 0, digits = 0, big = 0, prev_digit = 0;
    long long v = 0;
    if (!m)
        return FERR0(c, "UTF-8 として正しくない文字があります");
    p = m;
    end = m + strlen(m);
    if (end - p >= 3 && strcmp(end - 3, "円") == 0)
        end -= 3;
    if (!eat(&p, "¥"))
        eat(&p, "\\");
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    for (; p < end; p++) {
        if (*p >= '0' && *p <= '9') {
            digits++;
            prev_digit = 1;
            if (v > 1000000000000000LL)
                big = 1;
            else
                v = v * 10 + (*p - '0');
        } else if (*p == ',' && prev_digit && p + 1 < end && p[1] >= '0' && p[1] <= '9') {
            prev_digit = 0;
        } else {
            break;
        }
    }
    if (p != end || digits == 0) {
        free(m);
        return FERR(c, "「%.*s」は整数として読めません", clip(s, n, 64), s);
    }
    free(m);
    if (neg)
        v = -v;
    if (big || v < min || v > max) {
        if (big)
            return FERR(c, "%s%.*s は範囲外です（%lld～%lld）", neg ? "-" : "",
                        clip(s, n, 40), s, min, max);
        return FERR(c, "%lld は範囲外です（%lld～%lld）", v, min, max);
    }
    *out = v;
    return 0;
}

/* 年度: 2026, 2026年度, FY2026, 令和8年度, R8, 令和元年度, 平成31年度, H31. */
static int fy_value(ctx *c, const char *s, size_t n, int64_t *out)
{
    char *m = compact(s, n);
    const char *p;
    int base = 0, y = -1, ok;
    if (!m)
        return FERR0(c, "UTF-8 として正しくない文字があります");
    p = m;
    if (eat(&p, "令和") || eat(&p, "r"))
        base = 2018;
    else if (eat(&p, "平成") || eat(&p, "h"))
        base = 1988;
    else
        eat(&p, "fy");
    if (base && eat(&p, "元"))
        y = 1;
    ok = y == 1 || parse_uint(&p, base ? 2 : 4, &y) == 0;
    if (ok && !eat(&p, "年度"))
        eat(&p, "年");
    ok = ok && *p == 0 && (base == 0 || y >= 1);
    free(m);
    if (!ok)
        return FERR(c, "「%.*s」は年度として読めません（例: 2026、2026年度、令和8年度、R8）",
                    clip(s, n, 64), s);
    y += base;
    if (y < FY_MIN || (size_t)y > c->f->max)
        return FERR(c, "%d は範囲外です（%d～%zu）", y, FY_MIN, c->f->max);
    *out = y;
    return 0;
}

/* The listed value spelled exactly as s[0..n), or NULL. */
static const char *listed_as_is(const char *const *values, const char *s, size_t n)
{
    for (size_t k = 0; values[k]; k++)
        if (strlen(values[k]) == n && memcmp(values[k], s, n) == 0)
            return values[k];
    return NULL;
}

static const char *enum_lookup(const char *const *values, const char *s, size_t n)
{
    /* A value spelled exactly as listed (every stored record: the validator
     * runs on each record that arrives) needs no normalisation, which costs
     * two NFKC passes per listed value. */
    const char *as_is = listed_as_is(values, s, n);
    if (as_is)
        return as_is;
    /* Otherwise the comparison is norm_eq(value, norm(s)), with norm(s)'s
     * side normalised once here rather than again for each listed value
     * and each alias (an alias such as 連合内 took 15 NFKC passes; the
     * bench's sheet has one per row). */
    char *m = norm_alloc(s, n, 1, NULL);
    char *mm = m ? norm_alloc(m, strlen(m), 1, NULL) : NULL;
    const char *hit = NULL;
    free(m);
    if (!mm)
        return NULL;
    for (size_t k = 0; values[k] && !hit; k++)
        if (norm_is(values[k], mm))
            hit = values[k];
    for (size_t a = 0; a < COUNT(enum_aliases) && !hit; a++) {
        if (!norm_is(enum_aliases[a].from, mm))
            continue;
        for (size_t k = 0; values[k]; k++)
            if (strcmp(values[k], enum_aliases[a].to) == 0)
                hit = values[k];
    }
    free(mm);
    return hit;
}

static int not_one_of(ctx *c, const char *s, size_t n)
{
    char list[VALUES_TEXT_MAX];
    size_t o = 0;
    list[0] = 0;
    const char *const *values = values_of(c);
    for (size_t k = 0; values[k]; k++) {
        int w = snprintf(list + o, sizeof list - o, "%s%s", k ? "、" : "", values[k]);
        if (w < 0 || (size_t)w >= sizeof list - o)
            break;
        o += (size_t)w;
    }
    if (c->f->flags & (CATALOG_F_POLICY_AREAS | CATALOG_F_POLICY_ROUTES))
        return FERR(c, "「%.*s」は次のどれでもありません: %s（連合のポリシーで定める値です。"
                       "catalogctl policy show で確かめられます）", clip(s, n, 64), s, list);
    return FERR(c, "「%.*s」は次のどれでもありません: %s", clip(s, n, 64), s, list);
}

/* 期間満了 is not recorded: it is what 認定中 becomes after 有効期限.  Given
 * as 状態 (an export read back in) it is taken as 認定中 when 有効期限 has
 * passed, and refused while it has not (ending a certification early is
 * 取消 or 停止, or an earlier 有効期限). */
static int expired_value(ctx *c, const char *s, size_t n, char **out)
{
    const value *vu = value_of(c, "valid_until", NULL);
    char *m = norm_alloc(s, n, 1, NULL);
    int is_expired = m && norm_eq("期間満了", m);
    free(m);
    if (!is_expired)
        return not_one_of(c, s, n);
    const catalog_field *vf = find_name(c->fs, c->nf, "valid_until");
    if (c->failed && vf && c->failed[vf - c->fs])
        return 1;   /* 有効期限's own fault is reported; this would only repeat it */
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    jp_date today = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
    if (!vu || !vu->has_date || jp_date_cmp(vu->date, today) >= 0) {
        char d[11] = "";
        if (vu && vu->has_date)
            jp_date_format(vu->date, d);
        if (!d[0])
            return FERR0(c, "期間満了は有効期限を過ぎてからの状態です（有効期限がありません）。"
                            "認定中、停止、取消のいずれかを指定してください");
        return FERR(c, "期間満了は有効期限 %s を過ぎてからの状態です（まだ過ぎていません）。"
                       "認定中、停止、取消のいずれかを指定してください", d);
    }
    *out = strdup(status_values[0]);
    return *out ? 0 : FERR0(c, "out of memory");
}

static int enum_value(ctx *c, const char *s, size_t n, char **out)
{
    const char *const *values = values_of(c);
    if (!values)   /* a policy field under an open vocabulary: one line of text */
        return text_check(c, s, n, c->f->max, 0, out);
    const char *hit = enum_lookup(values, s, n);
    if (!hit && values == status_values)
        return expired_value(c, s, n, out);
    if (!hit)
        return not_one_of(c, s, n);
    *out = strdup(hit);
    return *out ? 0 : FERR0(c, "メモリが足りません");
}

static int url_value(ctx *c, const char *s, size_t n, char **out)
{
    size_t pre;
    if (n > c->f->max)
        return FERR(c, "%zu バイトあります（%zu バイトまで）", n, c->f->max);
    if (n >= 7 && strncasecmp(s, "http://", 7) == 0)
        pre = 7;
    else if (n >= 8 && strncasecmp(s, "https://", 8) == 0)
        pre = 8;
    else
        return FERR0(c, "http:// か https:// で始めてください");
    if (pre == n || s[pre] == '/' || s[pre] == '?' || s[pre] == '#')
        return FERR0(c, "http(s):// の後にホスト名がありません");
    for (size_t k = 0; k < n; k++) {
        unsigned char u = (unsigned char)s[k];
        if (u <= 0x20 || u == 0x7f)
            return FERR0(c, "空白や制御文字は入れられません");
        if (u == 0xc2 && k + 1 < n && (unsigned char)s[k + 1] <= 0x9f)
            return FERR0(c, "空白や制御文字は入れられません");
    }
    if (proto_text_check(s, n, 0, NULL))
        return FERR0(c, "文字の向きを変える制御文字や UTF-8 として正しくない文字は入れられません");
    *out = dupn(s, n);
    return *out ? 0 : FERR0(c, "メモリが足りません");
}

/* 法人番号 as people write it ("7-0000-1205-0002", full-width digits, spaces)
 * to 13 ASCII digits; -1 if anything but digits and separators, or not 13. */
static int corpnum_digits(const char *s, size_t n, char out[14], size_t *ndig)
{
    size_t i = 0, o = 0;
    *ndig = 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return -2;
        i += (size_t)k;
        if (cp >= 0xff10 && cp <= 0xff19)
            cp = '0' + (cp - 0xff10);
        if (cp >= '0' && cp <= '9') {
            if (o < 13)
                out[o] = (char)cp;
            o++;
            continue;
        }
        if (cp == '-' || cp == ' ' || cp == 0x3000 || cp == 0xff0d || cp == 0x2212 ||
            (cp >= 0x2010 && cp <= 0x2015) || cp == 0x30fc || cp == 0xff70)
            continue;
        return -2;
    }
    *ndig = o;
    if (o != 13)
        return -1;
    out[13] = 0;
    return 0;
}

static int corpnum_value(ctx *c, const char *s, size_t n, char **out)
{
    char d[14];
    size_t nd;
    int rc = corpnum_digits(s, n, d, &nd), want;
    if (rc == -2)
        return FERR(c, "「%.*s」は13桁の数字ではありません（ハイフンと空白は入れてもかまいません）",
                    clip(s, n, 64), s);
    if (rc == -1)
        return FERR(c, "13桁の数字が必要です（%zu 桁あります）", nd);
    want = jp_corporate_number_check_digit(d + 1);
    if (want < 0 || d[0] - '0' != want)
        return FERR(c, "チェックデジット（先頭の数字）が %d ですが、正しくは %d です", d[0] - '0', want);
    *out = strdup(d);
    return *out ? 0 : FERR0(c, "メモリが足りません");
}

static int ref_value(ctx *c, const char *s, size_t n, char **out)
{
    const char *slash = memchr(s, '/', n);
    const char *ks;
    size_t idn, kn;
    char idbuf[128], *key, why[128], idstr[PROTO_ID_STR], nkey[CATALOG_KEY_MAX + 1];
    proto_id id;
    if (!slash)
        return FERR(c, "「%.*s」は参照（団体コード/認定番号）として読めません", clip(s, n, 64), s);
    idn = (size_t)(slash - s);
    while (idn && (s[idn - 1] == ' '))
        idn--;
    if (idn >= sizeof idbuf)
        return FERR0(c, "団体の指定が長すぎます（団体コード6桁、または52文字の会員ID）");
    memcpy(idbuf, s, idn);
    idbuf[idn] = 0;
    if (proto_id_parse(idbuf, &id) != 0)
        return FERR(c, "「%s」は連合の団体コードでも会員ID（52文字）でもありません", idbuf);
    ks = slash + 1;
    kn = n - (size_t)(slash - s) - 1;
    trim(&ks, &kn, 0);
    key = dupn(ks, kn);
    if (!key)
        return FERR0(c, "メモリが足りません");
    /* the key as catalog_prepare stores it, so the reference finds it */
    if (catalog_key_norm(key, nkey, sizeof nkey, why, sizeof why) != 0) {
        free(key);
        return FERR(c, "%s", why);
    }
    free(key);
    proto_id_str(&id, idstr);
    *out = malloc(strlen(idstr) + 1 + strlen(nkey) + 1);
    if (!*out)
        return FERR0(c, "メモリが足りません");
    sprintf(*out, "%s/%s", idstr, nkey);
    return 0;
}

#define LIST_ITEM_RAW_MAX 4096

/* Next list item: separators 、 ､ , ， ; ； ／ and line breaks. */
static size_t list_sep(const char *s, size_t n)
{
    static const char *const seps[] = { "、", "､", ",", "，", ";", "；", "／", "\n", "\r" };
    /* called at every byte of a list: a byte no separator starts with
     * (、 is E3.., the full-width ones EF..) is none */
    unsigned char b = n ? (unsigned char)s[0] : 0;
    if (b != 0xe3 && b != 0xef && b != ',' && b != ';' && b != '\n' && b != '\r')
        return 0;
    for (size_t k = 0; k < COUNT(seps); k++) {
        size_t l = strlen(seps[k]);
        if (n >= l && memcmp(s, seps[k], l) == 0)
            return l;
    }
    return 0;
}

int catalog_vocab_item_check(const char *s, size_t n, char *err, size_t errlen)
{
    static const catalog_field f = { "policy", "分野・契約方法", "policy", CAT_TEXT, CATALOG_VOCAB_ITEM_MAX,
                                     0, NULL, NULL, 0 };
    ctx c = { &f, &f, 1, NULL, err, errlen, NULL, NULL, 0, 0 };
    const char *t = s;
    size_t tn = n;
    char *out = NULL;
    if (!s || n == 0)
        return FERR0(&c, "空の値です");
    trim(&t, &tn, 0);
    if (tn != n)
        return FERR(&c, "「%.*s」の前後に空白があります", clip(s, n, 64), s);
    for (size_t i = 0; i < n; i++)
        if (list_sep(s + i, n - i))
            return FERR(&c, "「%.*s」に区切り文字（、 , ; ／ や改行）があります", clip(s, n, 64), s);
    if (text_check(&c, s, n, CATALOG_VOCAB_ITEM_MAX, 0, &out))
        return -1;
    free(out);
    return 0;
}

static int list_value(ctx *c, const char *s, size_t n, value *v)
{
    size_t i = 0, cap = 0;
    char **items = NULL, **norms = NULL;
    size_t ni = 0;
    int rc = 0;

    while (i <= n && rc == 0) {
        size_t start = i, sl = 0;
        const char *it;
        size_t il;
        char *canon = NULL, *nm;
        while (i < n && (sl = list_sep(s + i, n - i)) == 0)
            i++;
        it = s + start;
        il = i - start;
        i += sl ? sl : 1;   /* past the separator, or past the end */
        trim(&it, &il, 0);
        if (il == 0)
            continue;
        if (values_of(c)) {
            const char *hit = enum_lookup(values_of(c), it, il);
            if (!hit) {
                rc = not_one_of(c, it, il);
                break;
            }
            canon = strdup(hit);
        } else {
            if (il > CATALOG_LIST_ITEM_MAX) {
                rc = FERR(c, "「%.*s…」が %zu バイトあります（1項目 %d バイトまで）",
                          clip(it, il, 20), it, il, CATALOG_LIST_ITEM_MAX);
                break;
            }
            if (text_check(c, it, il, CATALOG_LIST_ITEM_MAX, 0, &canon) != 0) {
                rc = -1;
                break;
            }
        }
        if (!canon || !(nm = norm_alloc(canon, strlen(canon), 1, NULL))) {
            free(canon);
            rc = FERR0(c, "メモリが足りません");
            break;
        }
        {
            int dup = 0;
            for (size_t k = 0; k < ni && !dup; k++)
                dup = strcmp(norms[k], nm) == 0;
            if (dup) {
                free(canon);
                free(nm);
                continue;
            }
        }
        if (ni == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **a = realloc(items, nc * sizeof *a), **b;
            if (a)
                items = a;
            b = a ? realloc(norms, nc * sizeof *b) : NULL;
            if (b)
                norms = b;
            if (!a || !b) {
                free(canon);
                free(nm);
                rc = FERR0(c, "メモリが足りません");
                break;
            }
            cap = nc;
        }
        items[ni] = canon;
        norms[ni] = nm;
        ni++;
        if (ni > c->f->max) {
            rc = FERR(c, "項目が多すぎます（%zu 個まで）", c->f->max);
            break;
        }
    }
    for (size_t k = 0; k < ni; k++)
        free(norms[k]);
    free(norms);
    if (rc != 0) {
        for (size_t k = 0; k < ni; k++)
            free(items[k]);
        free(items);
        return rc;
    }
    v->kind = V_LIST;
    v->items = items;
    v->nitems = ni;
    v->set = ni > 0;
    return 0;
}

static void date_store(value *v, jp_date d, char **s)
{
    char iso[11];
    jp_date_format(d, iso);
    *s = strdup(iso);
    v->has_date = 1;
    v->date = d;
}

/* Convert one trimmed, non-empty value into v. */
static int convert(ctx *c, const char *s, size_t n, value *v)
{
    const catalog_field *f = c->f;
    jp_date d;
    int rc = 0;

    if (n > VALUE_RAW_MAX)
        return FERR(c, "%zu バイトは長すぎます", n);
    /* text_check validates the UTF-8 of a text itself (the same message) */
    if (f->type != CAT_TEXT && !proto_utf8_valid(s, n))
        return FERR0(c, "UTF-8 として正しくない文字があります");
    v->kind = V_STR;
    switch (f->type) {
    case CAT_TEXT:
        rc = text_check(c, s, n, f->max, (f->flags & CATALOG_F_MULTILINE) != 0, &v->s);
        break;
    case CAT_DATE:
        if ((rc = date_value(c, s, n, &d)) == 0 && (rc = date_order_check(c, d)) == 0)
            date_store(v, d, &v->s);
        break;
    case CAT_VALID_UNTIL:
        if ((rc = valid_until_value(c, s, n, &d)) == 0 && (rc = date_order_check(c, d)) == 0)
            date_store(v, d, &v->s);
        break;
    case CAT_INT:
        v->kind = V_INT;
        rc = int_value(c, s, n, int_min(f), (long long)f->max, &v->i);
        break;
    case CAT_FY:
        v->kind = V_INT;
        rc = fy_value(c, s, n, &v->i);
        break;
    case CAT_LIST:
        return list_value(c, s, n, v);
    case CAT_ENUM:
        rc = enum_value(c, s, n, &v->s);
        break;
    case CAT_URL:
        rc = url_value(c, s, n, &v->s);
        break;
    case CAT_CORPNUM:
        rc = corpnum_value(c, s, n, &v->s);
        break;
    case CAT_REF:
        rc = ref_value(c, s, n, &v->s);
        break;
    default:
        return FERR0(c, "項目の型が不明です");
    }
    if (rc != 0)
        return rc;
    if (v->kind == V_STR && !v->s)
        return FERR0(c, "メモリが足りません");
    v->set = 1;
    return 0;
}

/* Reports one fault: with a collector, to it (the message without the
 * "<ja> (<name>): " that FERR put in front); the count goes up either way. */
static void fault(catalog_fault_fn fn, void *fctx, const catalog_field *f, const char *msg, int *nfaults)
{
    ++*nfaults;
    if (!fn)
        return;
    if (f) {
        size_t lj = strlen(f->ja), ln = strlen(f->name);
        if (strncmp(msg, f->ja, lj) == 0 && strncmp(msg + lj, " (", 2) == 0 &&
            strncmp(msg + lj + 2, f->name, ln) == 0 && strncmp(msg + lj + 2 + ln, "): ", 3) == 0)
            msg += lj + 2 + ln + 3;
    }
    fn(fctx, f, msg);
}

/* catalog_build (fn NULL: stop at the first fault, message in err) and
 * catalog_check (every fault to fn).  Returns the number of faults; the
 * body only when there are none. */
static int build(const char *kind, const catalog_vocab *vocab, const catalog_kv *kv, size_t n,
                 proto_body **out, char *err, size_t errlen, catalog_fault_fn fn, void *fctx)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(kind, &nf);
    const char **raw = NULL;
    value *vals = NULL;
    int *failed = NULL;
    proto_body *b = NULL;
    int nfaults = 0;

    if (out)
        *out = NULL;
    if (!fs) {
        proto_err(err, errlen, "unknown kind '%s'", kind ? kind : "");
        fault(fn, fctx, NULL, err, &nfaults);
        return nfaults;
    }
    if (!out) {
        proto_err(err, errlen, "no place to store the body");
        fault(fn, fctx, NULL, err, &nfaults);
        return nfaults;
    }
    if (n && !kv) {
        proto_err(err, errlen, "no fields given");
        fault(fn, fctx, NULL, err, &nfaults);
        return nfaults;
    }
    raw = calloc(nf, sizeof *raw);
    vals = calloc(nf, sizeof *vals);
    failed = calloc(nf, sizeof *failed);
    if (!raw || !vals || !failed) {
        proto_err(err, errlen, "メモリが足りません");
        fault(fn, fctx, NULL, err, &nfaults);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const catalog_field *f = find_in(fs, nf, kv[i].name);
        if (!f) {
            proto_err(err, errlen, "不明な項目「%s」", kv[i].name ? kv[i].name : "");
            fault(fn, fctx, NULL, err, &nfaults);
            if (!fn)
                goto done;
            continue;
        }
        raw[f - fs] = kv[i].value;   /* later wins; NULL or "" clears */
    }
    for (size_t j = 0; j < nf; j++) {
        ctx c = { &fs[j], fs, nf, vals, err, errlen, fn ? failed : NULL, vocab, 0, 0 };
        const char *s = raw[j];
        size_t sl = s ? strlen(s) : 0;
        int r = 0;
        trim(&s, &sl, 0);
        if (sl)
            r = convert(&c, s, sl, &vals[j]);
        if (r == 0 && !vals[j].set && fs[j].def)
            r = convert(&c, fs[j].def, strlen(fs[j].def), &vals[j]);
        if (r == 0 && !vals[j].set && fs[j].required)
            r = FERR0(&c, "必須です");
        if (r == 0)
            continue;
        failed[j] = 1;
        if (r < 0)   /* > 0: a consequence of an earlier fault, not reported again */
            fault(fn, fctx, &fs[j], err, &nfaults);
        if (!fn)
            goto done;
    }
    if (nfaults)
        goto done;
    /* A check (fn) keeps no body: a dry one refuses exactly what this one
     * would, without the bytes (a fifth of catalogctl import's check). */
    b = fn ? proto_body_new_dry() : proto_body_new();
    if (!b) {
        proto_err(err, errlen, "メモリが足りません");
        fault(fn, fctx, NULL, err, &nfaults);
        goto done;
    }
    for (size_t j = 0; j < nf; j++) {
        value *v = &vals[j];
        int r = 0;
        if (!v->set)
            continue;
        if (v->kind == V_STR && fs[j].type == CAT_TEXT)
            /* text_check made it and passed it through proto_text_check,
             * with PROTO_TEXT_NL or without (stricter): the body's own
             * walk of the same bytes would find nothing */
            r = proto_body_str_checked(b, fs[j].name, v->s);
        else if (v->kind == V_STR)
            r = proto_body_str(b, fs[j].name, v->s);
        else if (v->kind == V_INT)
            r = proto_body_int(b, fs[j].name, v->i);
        else
            r = proto_body_strs(b, fs[j].name, (const char *const *)v->items, v->nitems);
        if (r != 0) {
            proto_err(err, errlen, "%s (%s): レコードに入れられませんでした",
                      fs[j].ja, fs[j].name);
            fault(fn, fctx, &fs[j], err, &nfaults);
            goto done;
        }
    }
    if (!fn) {
        *out = b;
        b = NULL;
    }
done:
    proto_body_free(b);
    if (vals)
        for (size_t j = 0; j < nf; j++)
            value_free(&vals[j]);
    free(vals);
    free(raw);
    free(failed);
    return nfaults;
}

int catalog_build(const char *kind, const catalog_kv *kv, size_t n, proto_body **out,
                  char *err, size_t errlen)
{
    return build(kind, NULL, kv, n, out, err, errlen, NULL, NULL) ? -1 : 0;
}

int catalog_build_v(const char *kind, const catalog_vocab *vocab, const catalog_kv *kv, size_t n,
                    proto_body **out, char *err, size_t errlen)
{
    return build(kind, vocab, kv, n, out, err, errlen, NULL, NULL) ? -1 : 0;
}

static void no_fault(void *fctx, const catalog_field *f, const char *reason)
{
}

int catalog_check(const char *kind, const catalog_kv *kv, size_t n, catalog_fault_fn fn, void *fctx)
{
    return catalog_check_v(kind, NULL, kv, n, fn, fctx);
}

int catalog_check_v(const char *kind, const catalog_vocab *vocab, const catalog_kv *kv, size_t n,
                    catalog_fault_fn fn, void *fctx)
{
    char err[1024];
    proto_body *b = NULL;
    int nf = build(kind, vocab, kv, n, &b, err, sizeof err, fn ? fn : no_fault, fctx);
    proto_body_free(b);
    return nf;
}

int catalog_field_canon(const char *kind, const char *name, const char *text, char *out, size_t outlen,
                        char *err, size_t errlen)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(kind, &nf);
    const catalog_field *f = fs ? find_in(fs, nf, name) : NULL;
    value *vals;
    const char *s = text;
    size_t sl = text ? strlen(text) : 0;
    int rc = -1;
    if (out && outlen)
        out[0] = 0;
    if (!f)
        return proto_err(err, errlen, "unknown field '%s'", name ? name : "");
    if (f->type == CAT_INT || f->type == CAT_FY || f->type == CAT_LIST || f->type == CAT_VALID_UNTIL)
        return proto_err(err, errlen, "%s (%s): not a single text value", f->ja, f->name);
    if (!out || outlen == 0)
        return proto_err(err, errlen, "no room for the value");
    trim(&s, &sl, 0);
    if (sl == 0)
        return 0;
    vals = calloc(nf, sizeof *vals);
    if (!vals)
        return proto_err(err, errlen, "out of memory");
    ctx c = { f, fs, nf, vals, err, errlen, NULL, NULL, 0, 0 };
    value *v = &vals[f - fs];
    if (convert(&c, s, sl, v) == 0) {
        if (strlen(v->s) < outlen) {
            strcpy(out, v->s);
            rc = 0;
        } else {
            rc = proto_err(err, errlen, "%s (%s): too long", f->ja, f->name);
        }
    }
    value_free(v);
    free(vals);
    return rc;
}

/* ---- validating a stored body (catalog_record_validate) ---- */

static const char *mp_type_name(enum proto_mp_type t)
{
    switch (t) {
    case PROTO_MP_NIL: return "nil";
    case PROTO_MP_BOOL: return "真偽値";
    case PROTO_MP_UINT:
    case PROTO_MP_INT: return "整数";
    case PROTO_MP_FLOAT: return "浮動小数点数";
    case PROTO_MP_STR: return "文字列";
    case PROTO_MP_BIN: return "バイナリ";
    case PROTO_MP_ARRAY: return "配列";
    case PROTO_MP_MAP: return "マップ";
    default: return "不明な型";
    }
}

/* The msgpack type catalog_build writes for a field type. */
static enum proto_mp_type stored_type(catalog_type t)
{
    if (t == CAT_INT || t == CAT_FY)
        return PROTO_MP_INT;
    if (t == CAT_LIST)
        return PROTO_MP_ARRAY;
    return PROTO_MP_STR;
}

/* A stored value that the converter would store differently: the record
 * was not made by catalog_build (or not by this schema's rules). */
static int not_canonical(ctx *c, const char *s, size_t n, const char *want)
{
    return FERR(c, "「%.*s」は記録される形ではありません（記録される形は「%.*s」）",
                clip(s, n, 64), s, clip(want, strlen(want), 64), want);
}

/* More items than any list field holds (areas 5, tags 20): the bound of
 * the stored-list checks' arrays. */
#define LIST_IN_PLACE_MAX 32

/* A stored list the conversion did not give back as it is: name the first
 * item that is empty or repeats an earlier one, both as the conversion
 * sees them (trimmed, NFKC/case/kana folded).  Compared item by item
 * instead, the tail would be reported as not in stored form against
 * whatever item the conversion moved up into its place (「宇宙」 against
 * 「」 for 宇宙|宇宙).  0 when no item is such: the item-by-item comparison
 * then names what differs.  n is at most the field's max (5 to 20). */
static int list_dropped(ctx *c, const uint8_t *p, size_t len, uint32_t n)
{
    proto_rd rd;
    uint32_t m;
    char *norms[LIST_IN_PLACE_MAX];
    size_t nn = 0;
    int rc = 0;
    proto_rd_init(&rd, p, len);
    proto_rd_array(&rd, &m);
    for (uint32_t k = 0; k < n && k < LIST_IN_PLACE_MAX && rc == 0; k++) {
        const char *s, *ts;
        uint32_t sl;
        size_t tl;
        if (proto_rd_str(&rd, &s, &sl))
            break;
        ts = s;
        tl = sl;
        trim(&ts, &tl, 0);
        if (tl == 0) {
            rc = FERR(c, "%u 番目の項目が空です", (unsigned)k + 1);
            break;
        }
        char *nm = norm_alloc(ts, tl, 1, NULL);
        if (!nm)
            break;   /* not UTF-8: the item-by-item comparison says so */
        for (size_t j = 0; j < nn && rc == 0; j++)
            if (!strcmp(norms[j], nm))
                rc = FERR(c, "%u 番目の項目「%.*s」は %zu 番目と重複しています", (unsigned)k + 1,
                          clip(s, sl, 64), s, j + 1);
        norms[nn++] = nm;
    }
    for (size_t j = 0; j < nn; j++)
        free(norms[j]);
    return rc;
}

/* A stored date in the form the converters store (YYYY-MM-DD, ASCII) into
 * d: 1 if it is one and a valid day of JP_YEAR_MIN..JP_YEAR_MAX.  Such a
 * string is what jp_date_read reads it as and jp_date_format gives back. */
static int iso_date(const char *s, size_t n, jp_date *d)
{
    static const char shape[] = "dddd-dd-dd";
    int v[3] = { 0, 0, 0 }, k = 0;
    if (n != 10)
        return 0;
    for (size_t i = 0; i < 10; i++) {
        if (shape[i] == '-') {
            if (s[i] != '-')
                return 0;
            k++;
        } else if (s[i] >= '0' && s[i] <= '9') {
            v[k] = v[k] * 10 + (s[i] - '0');
        } else {
            return 0;
        }
    }
    d->y = v[0];
    d->m = v[1];
    d->d = v[2];
    return jp_date_valid(*d);
}

/* Free text that text_check gives back unchanged: at most max bytes, no CR
 * to turn into LF, and what the text rule accepts.  A string of a body
 * that passed the record's text rule (c->text_ok: proto_text_check with
 * PROTO_TEXT_NL, which refuses CR too) is not walked again for it: what
 * the rule without PROTO_TEXT_NL adds is only that \n and \t are refused
 * too (proto/text.c allowed_nl), two memchr.  Every certification's text
 * fields came through here twice per record that arrived. */
static int text_as_stored(const ctx *c, const char *s, size_t n, size_t max, int multiline)
{
    if (n > max || n > VALUE_RAW_MAX)
        return 0;
    if (multiline && memchr(s, '\r', n))
        return 0;
    if (c->text_ok)
        return multiline || (!memchr(s, '\n', n) && !memchr(s, '\t', n));
    return proto_text_check(s, n, multiline ? PROTO_TEXT_NL : 0, NULL) == 0;
}

/* One list item that list_value gives back unchanged, in place: non-empty,
 * trimmed, no separator, and a listed value as listed or (free) valid text. */
static int item_as_stored(ctx *c, const char *s, size_t n)
{
    const char *const *values = values_of(c);
    if (n == 0 || lead_space(s, n, 0) || trail_space(s, n))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (list_sep(s + i, n - i))
            return 0;
    if (values)
        return listed_as_is(values, s, n) != NULL;
    return text_as_stored(c, s, n, CATALOG_LIST_ITEM_MAX, 0);
}

/* A stored list that list_value gives back item for item, recognised in
 * place (the shortcut of stored_in_place, for arrays): every item as
 * stored (item_as_stored) and no two equal under catalog_norm, which only
 * a list of two or more needs.  1 when canonical (v marked set), 0 when
 * list_value must decide. */
static int list_as_stored(ctx *c, const uint8_t *p, size_t len)
{
    value *v = &c->vals[c->f - c->fs];
    char *norms[LIST_IN_PLACE_MAX];
    size_t nn = 0;
    int ok = 1;
    uint32_t n;
    proto_rd rd;
    proto_rd_init(&rd, p, len);
    if (proto_rd_array(&rd, &n) || n == 0 || n > LIST_IN_PLACE_MAX)
        return 0;
    for (uint32_t k = 0; k < n && ok; k++) {
        const char *s;
        uint32_t sl;
        ok = proto_rd_peek(&rd) == PROTO_MP_STR && proto_rd_str(&rd, &s, &sl) == 0 &&
             item_as_stored(c, s, sl);
        if (ok && n > 1) {
            char *nm = norm_alloc(s, sl, 1, NULL);
            ok = nm != NULL;
            for (size_t j = 0; j < nn && ok; j++)
                ok = strcmp(norms[j], nm) != 0;
            if (nm)
                norms[nn++] = nm;
        }
    }
    ok = ok && rd.p == p + len;
    for (size_t j = 0; j < nn; j++)
        free(norms[j]);
    if (!ok)
        return 0;
    v->kind = V_LIST;
    v->set = 1;
    return 1;
}

/* The shortcut of stored_value: a stored value in the canonical form the
 * converter would give back, recognised where it lies instead of converted
 * into a new string and compared (the converters cost most of the pool's
 * time outside the signature check: NFKC passes, copies, a date parser).
 * It only ever accepts: 1 when the value is canonical (v holds what later
 * fields look up: the date), 0 when the full conversion must decide —
 * which then accepts or refuses, with its message, exactly as before.
 * tests/unit/test_kindval.c runs every case both ways. */
static int stored_in_place(ctx *c, value *v, const char *s, size_t n)
{
    const catalog_field *f = c->f;
    const char *const *values;
    jp_date d;
    if (c->full)
        return 0;
    switch (f->type) {
    case CAT_TEXT:
        if (!text_as_stored(c, s, n, f->max, (f->flags & CATALOG_F_MULTILINE) != 0))
            return 0;
        break;
    case CAT_DATE:
    case CAT_VALID_UNTIL:
        /* a rule (fy-end…) is stored as the date it gives: a stored
         * valid_until is a date, which valid_until_value reads as one */
        if (!iso_date(s, n, &d) || date_order_check(c, d) != 0)
            return 0;
        v->has_date = 1;
        v->date = d;
        break;
    case CAT_ENUM:
        values = values_of(c);
        if (!values) {
            if (!text_as_stored(c, s, n, f->max, 0))
                return 0;
            break;
        }
        if (!listed_as_is(values, s, n))
            return 0;
        break;
    case CAT_CORPNUM: {
        char num[14];
        if (n != 13)
            return 0;
        memcpy(num, s, 13);
        num[13] = 0;
        if (jp_corporate_number_valid(num, NULL, 0))
            return 0;
        break;
    }
    default:
        return 0;
    }
    v->kind = V_STR;
    v->set = 1;
    return 1;
}

/* One known field's stored value [p, p + len) into vals (through c).  The
 * converters are catalog_build's: a value is valid when converting it gives
 * it back. */
static int stored_value(ctx *c, const uint8_t *p, size_t len)
{
    const catalog_field *f = c->f;
    value *v = &c->vals[f - c->fs];
    enum proto_mp_type t, want = stored_type(f->type);
    proto_rd rd;
    proto_rd_init(&rd, p, len);
    t = proto_rd_peek(&rd);
    if (t == PROTO_MP_UINT)
        t = PROTO_MP_INT;
    if (t != want)
        return FERR(c, "%sではなく%sです", mp_type_name(want), mp_type_name(t));

    if (want == PROTO_MP_INT) {
        int64_t i;
        char text[32];
        if (proto_rd_int(&rd, &i))
            return FERR0(c, "整数として読めません（int64 の範囲外）");
        snprintf(text, sizeof text, "%lld", (long long)i);
        if (convert(c, text, strlen(text), v))
            return -1;
        return v->i == i ? 0 : not_canonical(c, text, strlen(text), "");
    }

    if (want == PROTO_MP_ARRAY) {
        /* The items joined by a line break (a list separator) and read as
         * catalog_build reads a cell: a canonical list comes back item for
         * item; an item that is empty, repeated, padded, or holds a
         * separator does not. */
        uint32_t n;
        const char *s;
        uint32_t sl;
        char *joined;
        size_t jl = 0;
        int rc = 0;
        if (proto_rd_array(&rd, &n))
            return FERR0(c, "配列として読めません");
        if (n == 0)
            return FERR0(c, "空の配列です（項目がなければ項目ごと省きます）");
        if (n > f->max)
            return FERR(c, "項目が多すぎます（%u 個。%zu 個まで）", (unsigned)n, f->max);
        if (!c->full && list_as_stored(c, p, len))
            return 0;
        joined = malloc(len + 1);
        if (!joined)
            return FERR0(c, "メモリが足りません");
        for (uint32_t k = 0; k < n; k++) {
            if (proto_rd_peek(&rd) != PROTO_MP_STR) {
                rc = FERR(c, "%u 番目の項目が文字列ではなく%sです", (unsigned)k + 1,
                          mp_type_name(proto_rd_peek(&rd)));
                break;
            }
            if (proto_rd_str(&rd, &s, &sl)) {
                rc = FERR0(c, "項目が文字列として読めません");
                break;
            }
            if (k)
                joined[jl++] = '\n';
            memcpy(joined + jl, s, sl);
            jl += sl;
        }
        joined[jl] = 0;
        if (rc == 0)
            rc = convert(c, joined, jl, v);
        if (rc == 0) {
            /* compare item by item against the stored array */
            uint32_t bad = n;
            proto_rd_init(&rd, p, len);
            proto_rd_array(&rd, &n);
            for (uint32_t k = 0; k < n && bad == n; k++) {
                proto_rd_str(&rd, &s, &sl);
                if (k >= v->nitems || strlen(v->items[k]) != sl || memcmp(v->items[k], s, sl))
                    bad = k;
            }
            if (bad < n || v->nitems != n)
                rc = list_dropped(c, p, len, n);   /* a repeated or empty item first */
            if (rc == 0 && bad < n) {
                proto_rd_init(&rd, p, len);
                proto_rd_array(&rd, &n);
                for (uint32_t k = 0; k <= bad; k++)
                    proto_rd_str(&rd, &s, &sl);
                rc = not_canonical(c, s, sl, bad < v->nitems ? v->items[bad] : "");
            }
            if (rc == 0 && v->nitems != n)
                rc = FERR(c, "%u 個の項目のうち、重複や空の項目があります", (unsigned)n);
        }
        free(joined);
        return rc ? -1 : 0;
    }

    const char *s, *ts;
    uint32_t sl;
    size_t tl;
    if (proto_rd_str(&rd, &s, &sl))
        return FERR0(c, "文字列として読めません");
    if (sl == 0)
        return FERR0(c, "空の文字列です（値がなければ項目ごと省きます）");
    ts = s;
    tl = sl;
    trim(&ts, &tl, 0);
    if (tl != sl)
        return FERR(c, "「%.*s」の前後に空白があります", clip(s, sl, 64), s);
    if (stored_in_place(c, v, s, sl))
        return 0;
    if (convert(c, s, sl, v))
        return -1;
    if (strlen(v->s) != sl || memcmp(v->s, s, sl))
        return not_canonical(c, s, sl, v->s);
    return 0;
}

int catalog_reason_check(const char *s, size_t n, char *err, size_t errlen)
{
    const char *t = s;
    size_t tn = n;
    int32_t bad;
    if (!s || n == 0)
        return proto_err(err, errlen, "取り下げには理由（reason）が必要です");
    if (n > CATALOG_REASON_MAX)
        return proto_err(err, errlen, "理由が長すぎます（%zu バイト。%u バイトまで）", n, CATALOG_REASON_MAX);
    if (proto_text_check(s, n, PROTO_TEXT_NL, &bad))
        return proto_err(err, errlen, bad < 0 ? "理由が UTF-8 ではありません" : "理由に制御文字があります");
    if (memchr(s, '\t', n))
        return proto_err(err, errlen, "理由に制御文字があります");
    /* what catalog/write.c trims from a reason before writing it */
    if (strchr(" \n\t", t[0]) || strchr(" \n\t", t[tn - 1]))
        return proto_err(err, errlen, "理由の前後に空白や改行があります");
    return 0;
}

/* A catalog tombstone: {reason}, and any field a newer node may add. */
static int tombstone_check(const proto_record *r, char *err, size_t errlen)
{
    proto_rd rd;
    uint32_t n, fl, sl;
    const char *f, *s;
    int seen = 0;
    proto_rd_init(&rd, r->body, r->body_len);
    if (proto_rd_map(&rd, &n))
        return proto_err(err, errlen, "取り下げの本体がマップではありません");
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(&rd, &f, &fl))
            return proto_err(err, errlen, "取り下げの本体が読めません");
        if (fl != 6 || memcmp(f, "reason", 6)) {
            if (proto_rd_skip(&rd, PROTO_BODY_DEPTH))
                return proto_err(err, errlen, "取り下げの本体が読めません");
            continue;
        }
        if (seen++)
            return proto_err(err, errlen, "理由（reason）が2回あります");
        if (proto_rd_peek(&rd) != PROTO_MP_STR)
            return proto_err(err, errlen, "理由（reason）が文字列ではなく%sです",
                             mp_type_name(proto_rd_peek(&rd)));
        if (proto_rd_str(&rd, &s, &sl) || catalog_reason_check(s, sl, err, errlen))
            return rd.err ? proto_err(err, errlen, "取り下げの本体が読めません") : -1;
    }
    if (!seen)
        return catalog_reason_check(NULL, 0, err, errlen);
    return 0;
}

/* A key catalog_key_norm gives back as it is, seen without normalising it:
 * printable ASCII but '/' (NFKC leaves ASCII alone; no space to trim), not
 * longer than the longest key. */
static int key_as_stored(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++)
        if ((unsigned char)key[n] <= 0x20 || (unsigned char)key[n] >= 0x7f || key[n] == '/')
            return 0;
    return n > 0 && n <= CATALOG_KEY_MAX;
}

static int record_validate(const proto_record *r, int full, char *err, size_t errlen);

int catalog_record_validate(const proto_record *r, char *err, size_t errlen)
{
    return record_validate(r, 0, err, errlen);
}

int catalog_record_validate_full(const proto_record *r, char *err, size_t errlen)
{
    return record_validate(r, 1, err, errlen);
}

static int record_validate(const proto_record *r, int full, char *err, size_t errlen)
{
    size_t nf;
    const catalog_field *fs = r ? catalog_fields(r->kind, &nf) : NULL;
    const uint8_t **at = NULL;
    size_t *alen = NULL;
    value *vals = NULL;
    char key[CATALOG_KEY_MAX + 1], why[256];
    proto_rd rd;
    uint32_t n;
    int rc = 0;

    if (!fs)
        return proto_err(err, errlen, "kind '%s' has no catalog schema", r ? r->kind : "");
    /* the key as the write path and every lookup spell it, or the record
     * could never be found (or cited) by the key it is shown under */
    if (full || !key_as_stored(r->key)) {
        if (catalog_key_norm(r->key, key, sizeof key, why, sizeof why))
            return proto_err(err, errlen, "キー: %s", why);
    } else {
        snprintf(key, sizeof key, "%s", r->key);
    }
    if (strcmp(key, r->key))
        return proto_err(err, errlen, "キー「%s」は記録される形ではありません（記録される形は「%s」）",
                         r->key, key);
    if (r->flags & PROTO_FLAG_TOMBSTONE)
        return tombstone_check(r, err, errlen);

    at = calloc(nf, sizeof *at);
    alen = calloc(nf, sizeof *alen);
    vals = calloc(nf, sizeof *vals);
    if (!at || !alen || !vals) {
        rc = proto_err(err, errlen, "メモリが足りません");
        goto done;
    }
    /* Where each known field's value lies; unknown fields are skipped. */
    proto_rd_init(&rd, r->body, r->body_len);
    if (proto_rd_map(&rd, &n)) {
        rc = proto_err(err, errlen, "本体がマップではありません");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        const char *f;
        uint32_t fl;
        char name[65];
        const catalog_field *cf = NULL;
        const uint8_t *start;
        if (proto_rd_str(&rd, &f, &fl))
            break;
        if (fl < sizeof name) {
            memcpy(name, f, fl);
            name[fl] = 0;
            cf = memchr(f, 0, fl) ? NULL : find_name(fs, nf, name);
        }
        start = rd.p;
        if (proto_rd_skip(&rd, PROTO_BODY_DEPTH))
            break;
        if (!cf)
            continue;
        if (at[cf - fs]) {
            /* readers take the first, others may take the last: refuse */
            rc = proto_err(err, errlen, "%s (%s): 2回あります", cf->ja, cf->name);
            goto done;
        }
        at[cf - fs] = start;
        alen[cf - fs] = (size_t)(rd.p - start);
    }
    if (rd.err) {
        rc = proto_err(err, errlen, "本体が読めません: %s", rd.err);
        goto done;
    }
    /* In schema order, as catalog_build converts: a date is checked
     * against the dates before it (有効期限 against 認定日). */
    for (size_t j = 0; j < nf; j++) {
        /* 分野 and 契約方法 as any well-formed text: a peer's record may
         * name a value of a policy this node does not hold yet, or one a
         * later policy removed (docs/DECISIONS.md) */
        static const catalog_vocab open = { NULL, NULL, 1 };
        ctx c = { &fs[j], fs, nf, vals, err, errlen, NULL, &open, full, r->text_checked };
        if (!at[j]) {
            if (fs[j].required) {
                rc = FERR0(&c, "必須です");
                goto done;
            }
            continue;
        }
        if (stored_value(&c, at[j], alen[j])) {
            rc = -1;
            goto done;
        }
    }
done:
    if (vals)
        for (size_t j = 0; j < nf; j++)
            value_free(&vals[j]);
    free(vals);
    free(at);
    free(alen);
    return rc;
}

/* ---- reading records ---- */

static const char *const status_names[] = { "認定中", "停止", "取消", "期間満了" };

const char *catalog_status_name(int code)
{
    return code >= 0 && code < (int)COUNT(status_names) ? status_names[code] : "";
}

int catalog_status_recorded(const proto_record *r)
{
    const char *s;
    size_t n;
    if (r && proto_body_get_str(r, "status", &s, &n) == 0) {
        const char *hit;
        trim(&s, &n, 0);
        hit = n ? enum_lookup(status_values, s, n) : NULL;
        if (hit && strcmp(hit, status_names[CATALOG_STATUS_REVOKED]) == 0)
            return CATALOG_STATUS_REVOKED;
        if (hit && strcmp(hit, status_names[CATALOG_STATUS_SUSPENDED]) == 0)
            return CATALOG_STATUS_SUSPENDED;
    }
    return CATALOG_STATUS_ACTIVE;
}

int catalog_date_to_num(jp_date d)
{
    return d.y * 10000 + d.m * 100 + d.d;
}

jp_date catalog_num_to_date(int num)
{
    jp_date d = { num / 10000, num / 100 % 100, num % 100 };
    return d;
}

int catalog_date_num(const proto_record *r, const char *field)
{
    char v[16];
    jp_date d;
    if (!r || proto_body_copy_str(r, field, v, sizeof v) || jp_date_parse(v, &d, NULL, 0))
        return 0;
    return catalog_date_to_num(d);
}

int catalog_status_code(const proto_record *r, int on)
{
    return catalog_status_on(catalog_status_recorded(r), catalog_date_num(r, "status_date"),
                             catalog_date_num(r, "valid_until"), on);
}

const char *catalog_status(const proto_record *r, jp_date today)
{
    if (!jp_date_valid(today))
        return catalog_status_name(catalog_status_recorded(r));
    return catalog_status_name(catalog_status_code(r, catalog_date_to_num(today)));
}

int catalog_in_force(const proto_record *r, int on)
{
    return catalog_in_force_on(catalog_status_recorded(r), catalog_date_num(r, "status_date"),
                               catalog_date_num(r, "certified_on"), catalog_date_num(r, "valid_until"), on);
}

/* ---- values for filters ---- */

/* A field to parse a lone value against, for its rules and not its name. */
static int parse_lone(const char *kind, const char *field, const char *s, int (*fn)(ctx *, const char *, size_t, void *),
                      void *out, char *err, size_t errlen)
{
    size_t nf, n = s ? strlen(s) : 0;
    const catalog_field *fs = catalog_fields(kind, &nf);
    const catalog_field *f = find_name(fs, nf, field);
    value *vals = calloc(nf, sizeof *vals);
    char why[256];
    int rc;
    if (!vals)
        return proto_err(err, errlen, "out of memory");
    ctx c = { f, fs, nf, vals, why, sizeof why, NULL, NULL, 0, 0 };
    trim(&s, &n, 0);
    if (n == 0)
        rc = proto_err(why, sizeof why, "%s (%s): 値がありません", f->ja, f->name);
    else if (n > VALUE_RAW_MAX || !proto_utf8_valid(s, n))
        rc = proto_err(why, sizeof why, "%s (%s): 値として読めません（長すぎるか UTF-8 ではありません）", f->ja, f->name);
    else
        rc = fn(&c, s, n, out);
    free(vals);
    if (rc) {
        /* the reason without the "<header> (<name>): " of a field's message */
        const char *p = strstr(why, "): ");
        proto_err(err, errlen, "%s", p ? p + 3 : why);
    }
    return rc;
}

static int date_fn(ctx *c, const char *s, size_t n, void *out)
{
    return date_value(c, s, n, out);
}

static int fy_fn(ctx *c, const char *s, size_t n, void *out)
{
    int64_t v;
    if (fy_value(c, s, n, &v))
        return -1;
    *(int *)out = (int)v;
    return 0;
}

int catalog_parse_date(const char *s, jp_date *out, char *err, size_t errlen)
{
    return parse_lone("certification", "certified_on", s, date_fn, out, err, errlen);
}

int catalog_parse_fy(const char *s, int *out, char *err, size_t errlen)
{
    return parse_lone("adoption", "fiscal_year", s, fy_fn, out, err, errlen);
}

int catalog_corporate_number_norm(const char *s, char out[14], int *want)
{
    size_t nd, n = s ? strlen(s) : 0;
    char d[14];
    trim(&s, &n, 0);
    if (!s || corpnum_digits(s, n, d, &nd) != 0)
        return -1;
    int w = jp_corporate_number_check_digit(d + 1);
    if (want)
        *want = w;
    if (w < 0 || d[0] - '0' != w)
        return -2;
    memcpy(out, d, 14);
    return 0;
}

const char *catalog_enum_lookup(const catalog_field *f, const char *text)
{
    if (!f || !f->values || !text || !proto_utf8_valid(text, strlen(text)))
        return NULL;
    size_t n = strlen(text);
    trim(&text, &n, 0);
    return n ? enum_lookup(f->values, text, n) : NULL;
}

int catalog_product_key(const proto_record *r, char *out, size_t outlen)
{
    const char *s, *cn = "-";
    size_t n, cl = 1, pl;
    char digits[14];
    char *prod;
    int w;
    if (!out || outlen == 0)
        return -1;
    out[0] = 0;
    if (!r || proto_body_get_str(r, "product", &s, &n) != 0)
        return -1;
    prod = norm_alloc(s, n, 1, &pl);
    if (!prod || pl == 0) {
        free(prod);
        return -1;
    }
    if (proto_body_get_str(r, "corporate_number", &cn, &cl) == 0) {
        size_t nd;
        trim(&cn, &cl, 0);
        if (corpnum_digits(cn, cl, digits, &nd) == 0) {
            cn = digits;
            cl = 13;
        }
        if (cl == 0) {
            cn = "-";
            cl = 1;
        }
    } else {
        cn = "-";
        cl = 1;
    }
    w = snprintf(out, outlen, "%.*s|%s", (int)cl, cn, prod);
    free(prod);
    if (w < 0 || (size_t)w >= outlen) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

typedef struct {
    uint32_t bits;
    const char *const *areas;
} area_bits;

static int area_bits_cb(void *abp, const char *f, size_t fl, const char *t, size_t tl)
{
    area_bits *ab = abp;
    if (fl != 5 || memcmp(f, "areas", 5))
        return 0;
    /* stored spellings are canonical: compare exactly */
    for (size_t i = 0; ab->areas[i] && i < 32; i++) {
        size_t al = strlen(ab->areas[i]);
        for (size_t p = 0; p + al <= tl; p++)
            if (!memcmp(t + p, ab->areas[i], al) && (p == 0 || t[p - 1] == ' ') &&
                (p + al == tl || t[p + al] == ','))
                ab->bits |= 1u << i;
    }
    return 1;
}

uint32_t catalog_record_areas_in(const proto_record *r, const char *const *areas)
{
    area_bits ab = { 0, areas };
    proto_body_foreach(r, area_bits_cb, &ab);
    return ab.bits;
}

uint32_t catalog_record_areas(const proto_record *r)
{
    return catalog_record_areas_in(r, catalog_areas);
}
