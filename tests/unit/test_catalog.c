/* tests/unit/test_catalog.c — catalog/schema: schema, validation of what
 * people type, normalisation, status and product identity.  Expected values
 * are worked out by hand in the comments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "catalog/schema.h"
#include "proto/record.h"
#include "proto/util.h"

#define assert_err_has(err, needle) do {                              \
        if (!strstr((err), (needle)))                                 \
            fail_msg("message \"%s\" lacks \"%s\"", (err), (needle)); \
    } while (0)

#define KV(n, v) ((catalog_kv){ (n), (v) })
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* 7000012050002: body 000012050002, from the right 2*1 + 5*1 + 2*1 + 1*2 = 11,
 * 11 % 9 = 2, 9 - 2 = 7. */
#define CORP "7000012050002"

static EVP_PKEY *g_key;

static int setup(void **state)
{
    g_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return g_key ? 0 : -1;
}

static int teardown(void **state)
{
    EVP_PKEY_free(g_key);
    g_key = NULL;
    return 0;
}

/* A signed, decoded record holding `body`; the caller frees *buf. */
static void sign_decode(const char *kind, const proto_body *body, uint8_t **buf,
                        proto_record *r)
{
    proto_id alliance, author;
    size_t len;
    char err[256];
    memset(&alliance, 0x11, sizeof alliance);
    memset(&author, 0x22, sizeof author);
    if (proto_record_sign(&alliance, &author, kind, "KEY-1", 1, 1700000000000ull, 0, body,
                          g_key, buf, &len, err, sizeof err) != 0)
        fail_msg("sign: %s", err);
    if (proto_record_decode(*buf, len, r, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
}

/* Build and decode; fails the test on a build error. */
static void build_ok(const char *kind, const catalog_kv *kv, size_t n, uint8_t **buf,
                     proto_record *r)
{
    proto_body *b = NULL;
    char err[512] = "";
    if (catalog_build(kind, kv, n, &b, err, sizeof err) != 0)
        fail_msg("build failed: %s", err);
    assert_non_null(b);
    sign_decode(kind, b, buf, r);
    proto_body_free(b);
}

/* Build expecting failure; returns the message in err. */
static void build_fails(const char *kind, const catalog_kv *kv, size_t n, char *err,
                        size_t errlen)
{
    proto_body *b = (proto_body *)1;
    err[0] = 0;
    if (catalog_build(kind, kv, n, &b, err, errlen) == 0)
        fail_msg("build unexpectedly succeeded");
    assert_null(b);
    assert_true(err[0] != 0);
}

/* The minimal valid certification, with one field replaced or added. */
static const catalog_kv cert_base[] = {
    { "company", "株式会社テスト" },
    { "product", "AI議事録" },
    { "areas", "行政DX" },
    { "certified_on", "2026-04-01" },
    { "valid_until", "2028-03-31" },
};

/* cert_base followed by (name, value); value NULL removes nothing but
 * adds a NULL (absent) value. */
static size_t cert_with(catalog_kv *kv, const char *name, const char *value)
{
    size_t n = N(cert_base);
    memcpy(kv, cert_base, sizeof cert_base);
    kv[n++] = KV(name, value);
    return n;
}

/* cert_base without field `drop`. */
static size_t cert_without(catalog_kv *kv, const char *drop)
{
    size_t n = 0;
    for (size_t i = 0; i < N(cert_base); i++)
        if (strcmp(cert_base[i].name, drop) != 0)
            kv[n++] = cert_base[i];
    return n;
}

/* The value of `field` after building cert_base + (field, value). */
static void cert_field_value(const char *field, const char *value, const char *want)
{
    catalog_kv kv[16];
    size_t n = cert_with(kv, field, value);
    uint8_t *buf;
    proto_record r;
    char got[4096];
    build_ok("certification", kv, n, &buf, &r);
    if (proto_body_copy_str(&r, field, got, sizeof got) != 0)
        fail_msg("%s missing for input '%s'", field, value);
    if (strcmp(got, want) != 0)
        fail_msg("%s: input '%s' gave '%s', want '%s'", field, value, got, want);
    free(buf);
}

static void cert_field_rejected(const char *field, const char *value, const char *needle)
{
    catalog_kv kv[16];
    size_t n = cert_with(kv, field, value);
    char err[1024] = "";
    proto_body *b = NULL;
    if (catalog_build("certification", kv, n, &b, err, sizeof err) == 0) {
        proto_body_free(b);
        fail_msg("%s: '%s' was accepted", field ? field : "(null)", value);
    }
    assert_null(b);
    assert_err_has(err, needle);
}

/* The minimal valid adoption. */
static char g_ref[PROTO_ID_STR + 16];
static const char *ref_str(void)
{
    proto_id id;
    char s[PROTO_ID_STR];
    for (size_t i = 0; i < sizeof id.b; i++)
        id.b[i] = (uint8_t)(i * 7 + 3);
    proto_id_str(&id, s);
    snprintf(g_ref, sizeof g_ref, "%s/R8-001", s);
    return g_ref;
}

static size_t adoption_with(catalog_kv *kv, const char *name, const char *value)
{
    size_t n = 0;
    kv[n++] = KV("certification", ref_str());
    kv[n++] = KV("fiscal_year", "2026");
    kv[n++] = KV("department", "総務課");
    kv[n++] = KV("route", "トライアル発注");
    if (name)
        kv[n++] = KV(name, value);
    return n;
}

static void adoption_field_int(const char *field, const char *value, int64_t want)
{
    catalog_kv kv[16];
    size_t n = adoption_with(kv, field, value);
    uint8_t *buf;
    proto_record r;
    int64_t got;
    build_ok("adoption", kv, n, &buf, &r);
    if (proto_body_get_int(&r, field, &got) != 0)
        fail_msg("%s missing or not an int for input '%s'", field, value);
    if (got != want)
        fail_msg("%s: input '%s' gave %lld, want %lld", field, value, (long long)got,
                 (long long)want);
    free(buf);
}

static void adoption_field_str(const char *field, const char *value, const char *want)
{
    catalog_kv kv[16];
    size_t n = adoption_with(kv, field, value);
    uint8_t *buf;
    proto_record r;
    char got[4096];
    build_ok("adoption", kv, n, &buf, &r);
    if (proto_body_copy_str(&r, field, got, sizeof got) != 0)
        fail_msg("%s missing for input '%s'", field, value);
    if (strcmp(got, want) != 0)
        fail_msg("%s: input '%s' gave '%s', want '%s'", field, value, got, want);
    free(buf);
}

static void adoption_field_rejected(const char *field, const char *value, const char *needle)
{
    catalog_kv kv[16];
    size_t n = adoption_with(kv, field, value);
    char err[1024] = "";
    proto_body *b = NULL;
    if (catalog_build("adoption", kv, n, &b, err, sizeof err) == 0) {
        proto_body_free(b);
        fail_msg("%s: '%s' was accepted", field, value);
    }
    assert_null(b);
    assert_err_has(err, needle);
}

/* Collects a body's fields as "name=text\n" lines. */
struct dump { char s[16384]; size_t n; };
static int dump_cb(void *ctx, const char *field, size_t flen, const char *text, size_t tlen)
{
    struct dump *d = ctx;
    int w = snprintf(d->s + d->n, sizeof d->s - d->n, "%.*s=%.*s\n", (int)flen, field,
                     (int)tlen, text);
    if (w > 0)
        d->n += (size_t)w;
    return 0;
}

/* ---- schema ---- */

static void schema_tables(void **state)
{
    size_t n = 99;
    const catalog_field *f = catalog_fields("certification", &n);
    assert_non_null(f);
    assert_int_equal(n, 21);
    assert_string_equal(f[0].name, "company");
    assert_string_equal(f[0].ja, "事業者名");
    assert_string_equal(f[0].en, "company");
    assert_int_equal(f[0].type, CAT_TEXT);
    assert_int_equal(f[0].max, 200);
    assert_true(f[0].required);
    assert_string_equal(f[20].name, "visibility");

    f = catalog_fields("adoption", &n);
    assert_non_null(f);
    assert_int_equal(n, 15);
    assert_string_equal(f[0].name, "certification");
    assert_int_equal(f[0].type, CAT_REF);

    n = 99;
    assert_null(catalog_fields("member", &n));
    assert_int_equal(n, 0);
    assert_null(catalog_fields(NULL, &n));
    assert_non_null(catalog_fields("adoption", NULL));

    /* every header is unique within its kind, every en equals name */
    const char *kinds[] = { "certification", "adoption" };
    for (size_t k = 0; k < 2; k++) {
        f = catalog_fields(kinds[k], &n);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(f[i].name, f[i].en);
            assert_ptr_equal(catalog_field_find(kinds[k], f[i].ja), &f[i]);
            assert_ptr_equal(catalog_field_find(kinds[k], f[i].name), &f[i]);
            if (f[i].type == CAT_ENUM)
                assert_non_null(f[i].values);
        }
    }
    /* areas list */
    size_t na = 0;
    while (catalog_areas[na])
        na++;
    assert_int_equal(na, 12);
    assert_string_equal(catalog_areas[2], "医療・福祉");
    assert_string_equal(catalog_areas[11], "その他");
}

static void field_lookup(void **state)
{
    const catalog_field *f = catalog_field_find("certification", "法人番号");
    assert_non_null(f);
    assert_string_equal(f->name, "corporate_number");
    assert_ptr_equal(catalog_field_find("certification", "corporate_number"), f);
    /* trimmed: ASCII spaces, U+3000, a BOM from an Excel CSV header */
    assert_ptr_equal(catalog_field_find("certification", "  法人番号\xe3\x80\x80"), f);
    assert_ptr_equal(catalog_field_find("certification", "\xef\xbb\xbf法人番号"), f);
    f = catalog_field_find("certification", "製品・サービス名");
    assert_non_null(f);
    assert_string_equal(f->name, "product");
    f = catalog_field_find("certification", "URL");
    assert_non_null(f);
    assert_string_equal(f->name, "url");
    assert_string_equal(catalog_field_find("certification", "公表資料")->name, "announcement_url");
    assert_string_equal(catalog_field_find("certification", "有効期限")->name, "valid_until");
    assert_string_equal(catalog_field_find("adoption", "年度")->name, "fiscal_year");
    assert_string_equal(catalog_field_find("adoption", "KPI")->name, "kpis");
    assert_string_equal(catalog_field_find("adoption", "公開区分")->name, "visibility");
    /* the same header in the other kind is another field */
    assert_null(catalog_field_find("adoption", "法人番号"));
    assert_null(catalog_field_find("certification", "年度"));
    assert_null(catalog_field_find("certification", "foo"));
    assert_null(catalog_field_find("certification", ""));
    assert_null(catalog_field_find("certification", NULL));
    assert_null(catalog_field_find("nosuchkind", "company"));
    assert_null(catalog_field_find(NULL, "company"));
}

/* Headers as spreadsheets spell them: NFKC, case, white space. */
static void header_norm(void **state)
{
    char out[128];
    const catalog_field *product = catalog_field_find("certification", "product");
    /* half-width katakana middle dot U+FF65 is U+30FB under NFKC */
    assert_ptr_equal(catalog_field_find("certification", "製品\xef\xbd\xa5サービス名"), product);
    assert_ptr_equal(catalog_field_find("certification", " 製品・サービス 名\t"), product);
    assert_ptr_equal(catalog_field_find("certification", "Product"), product);
    assert_ptr_equal(catalog_field_find("certification", "ＰＲＯＤＵＣＴ"), product);
    assert_string_equal(catalog_field_find("certification", "ＵＲＬ")->name, "url");
    assert_string_equal(catalog_field_find("certification", "url")->name, "url");
    assert_string_equal(catalog_field_find("certification", "認定\xe3\x80\x80日")->name, "certified_on");
    assert_string_equal(catalog_field_find("adoption", "ｋｐｉ")->name, "kpis");
    /* half-width katakana in a header: ｶﾀｶﾅ is カタカナ (none in the schema: still unknown) */
    assert_null(catalog_field_find("certification", "備考"));
    assert_null(catalog_field_find("certification", "製品サービス名"));   /* a missing ・ is another name */

    assert_int_equal(catalog_header_norm(" 製品\xef\xbd\xa5サービス名\xe3\x80\x80", out, sizeof out), 0);
    assert_string_equal(out, "製品・サービス名");
    assert_int_equal(catalog_header_norm("\xef\xbb\xbfＵＲＬ", out, sizeof out), 0);
    assert_string_equal(out, "url");
    assert_int_equal(catalog_header_norm("Cert No", out, sizeof out), 0);
    assert_string_equal(out, "certno");
    assert_int_equal(catalog_header_norm("ﾒﾓ", out, sizeof out), 0);
    assert_string_equal(out, "メモ");
    assert_int_equal(catalog_header_norm("  ", out, sizeof out), 0);
    assert_string_equal(out, "");
    assert_int_equal(catalog_header_norm("\xff", out, sizeof out), -1);
    assert_string_equal(out, "");
    assert_int_equal(catalog_header_norm("製品・サービス名", out, 4), -1);
    assert_string_equal(out, "");
    assert_int_equal(catalog_header_norm(NULL, out, sizeof out), -1);
}

/* ---- building: general ---- */

static void build_minimal_defaults(void **state)
{
    uint8_t *buf;
    proto_record r;
    char s[256];
    build_ok("certification", cert_base, N(cert_base), &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "programme", s, sizeof s), 0);
    assert_string_equal(s, "トライアル発注認定");
    assert_int_equal(proto_body_copy_str(&r, "legal_ground", s, sizeof s), 0);
    assert_string_equal(s, "地方自治法施行令第167条の2第1項第4号");
    assert_int_equal(proto_body_copy_str(&r, "status", s, sizeof s), 0);
    assert_string_equal(s, "認定中");
    assert_int_equal(proto_body_copy_str(&r, "visibility", s, sizeof s), 0);
    assert_string_equal(s, "alliance");
    /* absent optional fields are omitted */
    assert_int_equal(proto_body_copy_str(&r, "corporate_number", s, sizeof s), -1);
    assert_int_equal(proto_body_copy_str(&r, "summary", s, sizeof s), -1);
    /* the body is in schema order */
    struct dump d = { .n = 0 };
    proto_body_foreach(&r, dump_cb, &d);
    assert_string_equal(d.s,
                        "company=株式会社テスト\n"
                        "product=AI議事録\n"
                        "areas=行政DX\n"
                        "programme=トライアル発注認定\n"
                        "legal_ground=地方自治法施行令第167条の2第1項第4号\n"
                        "certified_on=2026-04-01\n"
                        "valid_until=2028-03-31\n"
                        "status=認定中\n"
                        "visibility=alliance\n");
    free(buf);

    /* adoption defaults */
    catalog_kv kv[16];
    size_t n = adoption_with(kv, NULL, NULL);
    build_ok("adoption", kv, n, &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "stage", s, sizeof s), 0);
    assert_string_equal(s, "トライアル");
    assert_int_equal(proto_body_copy_str(&r, "visibility", s, sizeof s), 0);
    assert_string_equal(s, "alliance");
    free(buf);

    /* an explicit value beats the default; an empty one gets the default */
    cert_field_value("programme", "スタートアップ新商品認定", "スタートアップ新商品認定");
    cert_field_value("programme", "  \xe3\x80\x80 ", "トライアル発注認定");
    cert_field_value("status", "", "認定中");
}

static void build_required_and_unknown(void **state)
{
    const char *req[] = { "company", "product", "areas", "certified_on", "valid_until" };
    const char *ja[] = { "事業者名 (company): 必須です", "製品・サービス名 (product): 必須です",
                         "分野 (areas): 必須です", "認定日 (certified_on): 必須です",
                         "有効期限 (valid_until): 必須です" };
    catalog_kv kv[16];
    char err[512];
    for (size_t i = 0; i < N(req); i++) {
        size_t n = cert_without(kv, req[i]);
        build_fails("certification", kv, n, err, sizeof err);
        assert_err_has(err, ja[i]);
    }
    /* empty or blank counts as absent */
    cert_field_rejected("company", "", "事業者名 (company): 必須です");
    cert_field_rejected("company", " \xe3\x80\x80\t", "事業者名 (company): 必須です");
    /* a list of only separators is empty */
    cert_field_rejected("areas", "、,;", "分野 (areas): 必須です");

    const char *areq[] = { "certification", "fiscal_year", "department", "route" };
    for (size_t i = 0; i < N(areq); i++) {
        size_t n = adoption_with(kv, areq[i], "");
        build_fails("adoption", kv, n, err, sizeof err);
        assert_err_has(err, areq[i]);
        assert_err_has(err, "必須です");
    }

    cert_field_rejected("foo", "x", "不明な項目「foo」");
    cert_field_rejected(NULL, "x", "不明な項目「」");

    proto_body *b = (proto_body *)1;
    assert_int_equal(catalog_build("member", cert_base, N(cert_base), &b, err, sizeof err), -1);
    assert_null(b);
    assert_err_has(err, "unknown kind 'member'");
    /* err may be NULL */
    assert_int_equal(catalog_build("certification", kv, 0, &b, NULL, 0), -1);
    assert_int_equal(catalog_build("certification", cert_base, N(cert_base), NULL, err,
                                   sizeof err), -1);
}

static void build_by_header(void **state)
{
    /* Japanese headers, as in a CSV import, give the same record */
    const catalog_kv ja[] = {
        { "事業者名", "株式会社テスト" },
        { "製品・サービス名", "AI議事録" },
        { "分野", "行政DX" },
        { "認定日", "2026-04-01" },
        { "有効期限", "2028-03-31" },
    };
    uint8_t *b1, *b2;
    proto_record r1, r2;
    build_ok("certification", cert_base, N(cert_base), &b1, &r1);
    build_ok("certification", ja, N(ja), &b2, &r2);
    assert_int_equal(r1.body_len, r2.body_len);
    assert_memory_equal(r1.body, r2.body, r1.body_len);
    free(b1);
    free(b2);
}

static void build_deterministic(void **state)
{
    const catalog_kv a[] = {
        { "company", "株式会社テスト" },
        { "corporate_number", CORP },
        { "product", "AI議事録" },
        { "summary", "会議の音声から\n議事録を作る" },
        { "areas", "行政DX、暮らし・手続き" },
        { "tags", "AI, 議事録" },
        { "url", "https://example.jp/" },
        { "certified_on", "2026-04-01" },
        { "valid_until", "fy-end+2" },
        { "status", "active" },
        { "visibility", "公開" },
    };
    catalog_kv b[N(a)];
    /* reversed order */
    for (size_t i = 0; i < N(a); i++)
        b[i] = a[N(a) - 1 - i];
    uint8_t *b1, *b2, *b3;
    proto_record r1, r2, r3;
    build_ok("certification", a, N(a), &b1, &r1);
    build_ok("certification", a, N(a), &b2, &r2);
    build_ok("certification", b, N(b), &b3, &r3);
    assert_int_equal(r1.body_len, r2.body_len);
    assert_memory_equal(r1.body, r2.body, r1.body_len);
    assert_int_equal(r1.body_len, r3.body_len);
    assert_memory_equal(r1.body, r3.body, r1.body_len);
    /* Ed25519 is deterministic, so the whole records match too */
    assert_int_equal(r1.raw_len, r3.raw_len);
    assert_memory_equal(r1.raw, r3.raw, r1.raw_len);
    free(b1);
    free(b2);
    free(b3);
}

static void build_merge(void **state)
{
    catalog_kv kv[16];
    size_t n = cert_with(kv, "company", "株式会社あとから");
    uint8_t *buf;
    proto_record r;
    char s[256];
    build_ok("certification", kv, n, &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "company", s, sizeof s), 0);
    assert_string_equal(s, "株式会社あとから");
    free(buf);

    /* by another name of the same field: still the later one */
    n = cert_with(kv, "事業者名", "株式会社ヘッダー");
    build_ok("certification", kv, n, &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "company", s, sizeof s), 0);
    assert_string_equal(s, "株式会社ヘッダー");
    free(buf);

    /* current fields + change: status revoked, then cleared back to the default */
    n = cert_with(kv, "status", "取消");
    build_ok("certification", kv, n, &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "status", s, sizeof s), 0);
    assert_string_equal(s, "取消");
    free(buf);
    kv[n++] = KV("status", "");
    build_ok("certification", kv, n, &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "status", s, sizeof s), 0);
    assert_string_equal(s, "認定中");
    free(buf);

    /* a later valid value repairs an earlier invalid one */
    n = cert_with(kv, "corporate_number", "3000012050002");
    kv[n++] = KV("corporate_number", CORP);
    build_ok("certification", kv, n, &buf, &r);
    free(buf);

    /* clearing a required field fails */
    n = cert_with(kv, "product", NULL);
    char err[256];
    build_fails("certification", kv, n, err, sizeof err);
    assert_err_has(err, "製品・サービス名 (product): 必須です");
}

/* ---- TEXT ---- */

static void type_text(void **state)
{
    char big[5000];
    /* trimmed of ASCII and full-width spaces, stored as written */
    cert_field_value("address", " \xe3\x80\x80東京都文京区春日１－１６－２１\t ",
                     "東京都文京区春日１－１６－２１");
    cert_field_value("price", "月額50,000円〜", "月額50,000円〜");
    /* max 200 bytes: 200 accepted, 201 refused */
    memset(big, 'a', 200);
    big[200] = 0;
    cert_field_value("address", big, big);
    big[200] = 'a';
    big[201] = 0;
    cert_field_rejected("address", big, "所在地 (address): 201 バイトあります（200 バイトまで）");
    /* 67 × 3-byte characters = 201 bytes */
    big[0] = 0;
    for (int i = 0; i < 67; i++)
        strcat(big, "あ");
    cert_field_rejected("company", big, "事業者名 (company): 201 バイトあります（200 バイトまで）");
    /* control characters */
    cert_field_rejected("company", "株式会社\x01テスト", "事業者名 (company): 制御文字（U+0001）が含まれています");
    cert_field_rejected("company", "株式会社\x7fテスト", "U+007F");
    cert_field_rejected("company", "株式会社\xc2\x85テスト", "U+0085");
    cert_field_rejected("company", "株式会社\nテスト", "事業者名 (company): 改行やタブ");
    cert_field_rejected("product", "A\tB", "製品・サービス名 (product): 改行やタブ");
    /* invalid UTF-8 */
    cert_field_rejected("company", "\xff\xfe", "事業者名 (company): UTF-8 として正しくない");
    cert_field_rejected("company", "\xe3\x81", "UTF-8 として正しくない");
    /* long text keeps newlines and tabs; CRLF becomes LF */
    cert_field_value("summary", "一行目\n\t二行目", "一行目\n\t二行目");
    cert_field_value("summary", "一行目\r\n二行目\r三行目", "一行目\n二行目\n三行目");
    cert_field_rejected("summary", "一行目\x0b二行目", "概要 (summary): 制御文字（U+000B）");
    memset(big, 'x', 4000);
    big[4000] = 0;
    cert_field_value("summary", big, big);
    big[4000] = 'x';
    big[4001] = 0;
    cert_field_rejected("summary", big, "概要 (summary): 4001 バイトあります（4000 バイトまで）");
    adoption_field_str("kpis", "処理時間 50%削減\n職員満足度", "処理時間 50%削減\n職員満足度");
}

/* ---- DATE ---- */

static void type_date(void **state)
{
    cert_field_value("established", "2015-06-01", "2015-06-01");
    cert_field_value("established", "2015/6/1", "2015-06-01");
    cert_field_value("established", "2015年6月1日", "2015-06-01");
    cert_field_value("established", "２０１５－０６－０１", "2015-06-01");
    cert_field_value("established", "2024-02-29", "2024-02-29");   /* leap year */
    /* 和暦, as jp_date_read reads it */
    cert_field_value("established", "令和8年4月1日", "2026-04-01");
    cert_field_value("established", "令和元年5月1日", "2019-05-01");
    cert_field_value("established", "平成31年4月30日", "2019-04-30");
    cert_field_value("established", "R8.4.1", "2026-04-01");
    cert_field_value("established", "R8/4/1", "2026-04-01");
    cert_field_value("established", "H31.4.30", "2019-04-30");
    cert_field_value("established", "令和８年４月１日", "2026-04-01");
    cert_field_rejected("established", "平成31年5月1日",
                        "設立日 (established): 「平成31年5月1日」: 平成は2019年4月30日までです");
    cert_field_rejected("established", "令和元年4月30日", "令和は2019年5月1日から");
    cert_field_rejected("established", "2025-02-29", "設立日 (established): ");
    cert_field_rejected("established", "2025-02-29", "2025年2月は28日まで");
    cert_field_rejected("established", "2026-02-30", "2026年2月は28日まで");
    cert_field_rejected("established", "1900-02-29", "1900年2月は28日まで");   /* not leap */
    cert_field_rejected("established", "2026-13-01", "月は1～12");
    cert_field_rejected("established", "1800-01-01", "1900年から2999年まで");
    cert_field_rejected("established", "昨日", "設立日 (established): 「昨日」は日付として読めません");
    cert_field_rejected("established", "26-04-01", "は日付として読めません");
    cert_field_rejected("established", "2026-04-01x", "は日付として読めません");
    cert_field_rejected("established", "2026-4", "は日付として読めません");
    cert_field_rejected("certified_on", "2026-04-31", "認定日 (certified_on): ");

    /* period_to must not be before period_from */
    catalog_kv kv[16];
    size_t n = adoption_with(kv, "period_from", "2026-04-01");
    char err[256];
    kv[n++] = KV("period_to", "2026-03-31");
    build_fails("adoption", kv, n, err, sizeof err);
    assert_err_has(err, "期間終了 (period_to): 2026-03-31 は期間開始 2026-04-01 より前です");
    kv[n - 1] = KV("period_to", "2026-04-01");   /* same day is fine */
    uint8_t *buf;
    proto_record r;
    build_ok("adoption", kv, n, &buf, &r);
    free(buf);
    adoption_field_str("period_to", "2027/3/31", "2027-03-31");  /* no period_from: no check */
}

/* ---- VALID_UNTIL ---- */

static void vu_case(const char *certified_on, const char *rule, const char *want)
{
    catalog_kv kv[16];
    size_t n = cert_with(kv, "certified_on", certified_on);
    uint8_t *buf;
    proto_record r;
    char got[32];
    kv[n++] = KV("valid_until", rule);
    build_ok("certification", kv, n, &buf, &r);
    assert_int_equal(proto_body_copy_str(&r, "valid_until", got, sizeof got), 0);
    if (strcmp(got, want) != 0)
        fail_msg("certified_on %s, valid_until %s: got %s, want %s", certified_on, rule, got,
                 want);
    free(buf);
}

static void vu_fails(const char *certified_on, const char *rule, const char *needle)
{
    catalog_kv kv[16];
    size_t n = cert_with(kv, "certified_on", certified_on);
    char err[512];
    kv[n++] = KV("valid_until", rule);
    build_fails("certification", kv, n, err, sizeof err);
    assert_err_has(err, needle);
}

static void type_valid_until(void **state)
{
    /* a date is kept */
    vu_case("2026-04-01", "2028-03-31", "2028-03-31");
    vu_case("2026-04-01", "2028/3/31", "2028-03-31");
    /* the same day is fine */
    vu_case("2026-04-01", "2026-04-01", "2026-04-01");
    /* fy-end: 2026-04-01 is in FY2026, which ends 2027-03-31 */
    vu_case("2026-04-01", "fy-end", "2027-03-31");
    /* 2026-03-31 is still FY2025: fy-end -> 2026-03-31, +2 -> FY2027 -> 2028-03-31 */
    vu_case("2026-03-31", "fy-end", "2026-03-31");
    vu_case("2026-03-31", "fy-end+2", "2028-03-31");
    /* 2026-04-01 is FY2026: +2 -> FY2028 -> 2029-03-31 */
    vu_case("2026-04-01", "fy-end+2", "2029-03-31");
    vu_case("2026-04-01", "fy-end+0", "2027-03-31");
    /* fy-end-of:+Ny: 2024-02-29 + 1y = 2025-02-28 (no Feb 29), FY2024 -> 2025-03-31 */
    vu_case("2024-02-29", "fy-end-of:+1y", "2025-03-31");
    /* 2024-02-29 + 4y = 2028-02-29 (leap), FY2027 -> 2028-03-31 */
    vu_case("2024-02-29", "fy-end-of:+4y", "2028-03-31");
    /* 2026-03-31 + 3y = 2029-03-31, FY2028 -> 2029-03-31 */
    vu_case("2026-03-31", "fy-end-of:+3y", "2029-03-31");
    /* 2026-04-01 + 3y = 2029-04-01, FY2029 -> 2030-03-31 */
    vu_case("2026-04-01", "fy-end-of:+3y", "2030-03-31");
    /* case, width and spaces do not matter */
    vu_case("2026-04-01", "  FY-END+2 ", "2029-03-31");
    vu_case("2026-04-01", "ｆｙ－ｅｎｄ＋２", "2029-03-31");
    /* 和暦 dates: 令和11 = 2029 */
    vu_case("2026-04-01", "令和11年3月31日", "2029-03-31");
    vu_case("2026-04-01", "R11.3.31", "2029-03-31");
    vu_case("令和8年4月1日", "fy-end+2", "2029-03-31");
    vu_fails("2026-04-01", "平成40年3月31日", "平成は2019年4月30日まで");

    /* before certified_on */
    vu_fails("2026-04-01", "2026-03-31",
             "有効期限 (valid_until): 2026-03-31 は認定日 2026-04-01 より前です");
    vu_fails("2026-04-01", "2025/12/31", "2025-12-31 は認定日 2026-04-01 より前です");
    /* bad rules and dates */
    vu_fails("2026-04-01", "fy-end+21", "有効期限 (valid_until): 「fy-end+21」は期限の規則として使えません");
    vu_fails("2026-04-01", "next year", "有効期限 (valid_until): 「next year」は日付としても期限の規則");
    vu_fails("2026-04-01", "2028-02-30", "有効期限 (valid_until): 「2028-02-30」");
    vu_fails("2026-04-01", "2028-02-30", "2028年2月は29日まで");
    /* certified_on missing or invalid: its own error comes first */
    vu_fails("", "fy-end+2", "認定日 (certified_on): 必須です");
    vu_fails("2026-02-30", "fy-end+2", "認定日 (certified_on): ");
}

/* ---- INT ---- */

static void type_int(void **state)
{
    adoption_field_int("amount", "1200000", 1200000);
    adoption_field_int("amount", "1,200,000", 1200000);
    adoption_field_int("amount", "1200000円", 1200000);
    adoption_field_int("amount", "１，２００，０００円", 1200000);
    adoption_field_int("amount", "￥1,200,000", 1200000);
    adoption_field_int("amount", "0", 0);
    adoption_field_int("amount", "1000000000000", 1000000000000LL);
    adoption_field_rejected("amount", "1000000000001",
                            "金額 (amount): 1000000000001 は範囲外です（0～1000000000000）");
    adoption_field_rejected("amount", "99999999999999999999999", "金額 (amount): ");
    adoption_field_rejected("amount", "99999999999999999999999", "範囲外です");
    adoption_field_rejected("amount", "-1", "金額 (amount): -1 は範囲外です");
    adoption_field_rejected("amount", "12万円", "金額 (amount): 「12万円」は整数として読めません");
    adoption_field_rejected("amount", "1.5", "は整数として読めません");
    adoption_field_rejected("amount", ",100", "は整数として読めません");
    adoption_field_rejected("amount", "100,", "は整数として読めません");
    adoption_field_rejected("amount", "1,,000", "は整数として読めません");
    adoption_field_rejected("amount", "円", "は整数として読めません");
    adoption_field_int("rating", "1", 1);
    adoption_field_int("rating", "５", 5);
    adoption_field_rejected("rating", "0", "評価 (rating): 0 は範囲外です（1～5）");
    adoption_field_rejected("rating", "6", "評価 (rating): 6 は範囲外です（1～5）");
}

/* ---- FY ---- */

static void type_fy(void **state)
{
    adoption_field_int("fiscal_year", "2026", 2026);
    adoption_field_int("fiscal_year", "2026年度", 2026);
    adoption_field_int("fiscal_year", "２０２６年度", 2026);
    adoption_field_int("fiscal_year", "FY2026", 2026);
    adoption_field_int("fiscal_year", "令和8年度", 2026);
    adoption_field_int("fiscal_year", "令和８年度", 2026);
    adoption_field_int("fiscal_year", "R8", 2026);
    adoption_field_int("fiscal_year", "r8", 2026);
    adoption_field_int("fiscal_year", "Ｒ８年度", 2026);
    adoption_field_int("fiscal_year", "令和元年度", 2019);
    adoption_field_int("fiscal_year", "平成31年度", 2019);
    adoption_field_int("fiscal_year", "H30", 2018);
    adoption_field_int("fiscal_year", "2000", 2000);
    adoption_field_int("fiscal_year", "2100", 2100);
    adoption_field_rejected("fiscal_year", "1999", "年度 (fiscal_year): 1999 は範囲外です（2000～2100）");
    adoption_field_rejected("fiscal_year", "2101", "2101 は範囲外です");
    adoption_field_rejected("fiscal_year", "平成11年度", "1999 は範囲外です");
    adoption_field_rejected("fiscal_year", "来年度", "年度 (fiscal_year): 「来年度」は年度として読めません");
    adoption_field_rejected("fiscal_year", "R", "は年度として読めません");
    adoption_field_rejected("fiscal_year", "令和0年度", "は年度として読めません");
    adoption_field_rejected("fiscal_year", "20260", "は年度として読めません");
    adoption_field_rejected("fiscal_year", "2026-04-01", "は年度として読めません");
}

/* ---- ENUM ---- */

static void type_enum(void **state)
{
    cert_field_value("status", "認定中", "認定中");
    cert_field_value("status", "停止", "停止");
    cert_field_value("status", "取消", "取消");
    cert_field_value("status", "active", "認定中");
    cert_field_value("status", "Suspended", "停止");
    cert_field_value("status", "REVOKED", "取消");
    /* 期間満了 (what exports show) is computed, never recorded: taken as 認定中
     * once 有効期限 has passed, refused before (dates far from any clock) */
    {
        catalog_kv kv[8] = { cert_base[0], cert_base[1], cert_base[2], KV("certified_on", "2001-04-01"),
                             KV("valid_until", "2002-03-31"), KV("status", "期間満了") };
        uint8_t *buf;
        proto_record r;
        char got[32];
        build_ok("certification", kv, 6, &buf, &r);
        assert_int_equal(proto_body_copy_str(&r, "status", got, sizeof got), 0);
        assert_string_equal(got, "認定中");
        free(buf);
        kv[4] = KV("valid_until", "2999-03-31");
        char err[512];
        build_fails("certification", kv, 6, err, sizeof err);
        assert_err_has(err, "状態 (status): 期間満了は有効期限 2999-03-31 を過ぎてからの状態です");
    }
    cert_field_rejected("status", "満了", "状態 (status): 「満了」は次のどれでもありません: 認定中、停止、取消");
    cert_field_rejected("status", "expired", "は次のどれでもありません");
    cert_field_value("visibility", "public", "public");
    cert_field_value("visibility", "Public", "public");
    cert_field_value("visibility", "公開", "public");
    cert_field_value("visibility", "連合内", "alliance");
    cert_field_value("visibility", "非公開", "alliance");
    /* listed values and aliases of lowercase ASCII are compared without
     * normalising them: the typed side still is */
    cert_field_value("visibility", "ＰＵＢＬＩＣ", "public");
    cert_field_value("visibility", "　ａｌｌｉａｎｃｅ ", "alliance");
    cert_field_value("status", "ACTIVE", "認定中");
    cert_field_value("status", "Ｓｕｓｐｅｎｄｅｄ", "停止");
    cert_field_rejected("visibility", "publi", "は次のどれでもありません");
    cert_field_rejected("visibility", "public2", "は次のどれでもありません");
    cert_field_rejected("visibility", "private", "公開区分 (visibility): 「private」は次のどれでもありません: public、alliance");
    adoption_field_str("route", "4号随契", "4号随契");
    adoption_field_str("route", "４号随契", "4号随契");   /* full-width digit */
    adoption_field_str("route", "ﾄﾗｲｱﾙ発注", "トライアル発注");  /* half-width kana */
    adoption_field_rejected("route", "随意契約", "契約方法 (route): 「随意契約」は次のどれでもありません");
    adoption_field_str("expense", "使用料及び賃借料", "使用料及び賃借料");
    adoption_field_rejected("expense", "工事請負費", "予算科目 (expense): 「工事請負費」は次のどれでもありません");
    adoption_field_str("stage", "本格導入", "本格導入");
    adoption_field_rejected("stage", "検討中", "段階 (stage): ");
    adoption_field_str("visibility", "公開", "public");
    /* aliases do not leak across fields */
    adoption_field_rejected("stage", "active", "は次のどれでもありません");
}

/* ---- LIST ---- */

static void list_case(const char *field, const char *in, const char *want_joined)
{
    catalog_kv kv[16];
    size_t n = cert_with(kv, field, in);
    uint8_t *buf;
    proto_record r;
    struct dump d = { .n = 0 };
    char want[1024];
    build_ok("certification", kv, n, &buf, &r);
    proto_body_foreach(&r, dump_cb, &d);
    snprintf(want, sizeof want, "\n%s=%s\n", field, want_joined);
    if (!strstr(d.s, want))
        fail_msg("%s '%s': body\n%s\nlacks%s", field, in, d.s, want);
    free(buf);
}

static void type_list(void **state)
{
    list_case("areas", "子育て", "子育て");
    /* every separator: 、 , ; ／ newline, ､ ， ； */
    list_case("areas", "子育て、教育,防災;環境／行政DX", "子育て, 教育, 防災, 環境, 行政DX");
    list_case("areas", "子育て\n教育", "子育て, 教育");
    list_case("areas", "子育て，教育；防災､環境", "子育て, 教育, 防災, 環境");
    /* full-width / half-width variants match; canonical spelling stored */
    list_case("areas", "行政ＤＸ", "行政DX");
    list_case("areas", "行政dx", "行政DX");
    list_case("areas", "医療･福祉", "医療・福祉");      /* half-width katakana middle dot */
    list_case("areas", "ｲﾝﾌﾗ・施設", "インフラ・施設");
    list_case("areas", " 観光・文化 \xe3\x80\x80、 その他", "観光・文化, その他");
    /* duplicates removed, order kept; empty items dropped */
    list_case("areas", "教育、子育て、教育、行政ＤＸ、行政DX、、", "教育, 子育て, 行政DX");
    /* at most 5 distinct items; duplicates do not count */
    list_case("areas", "子育て、教育、防災、環境、行政DX、教育", "子育て, 教育, 防災, 環境, 行政DX");
    cert_field_rejected("areas", "子育て、教育、防災、環境、行政DX、その他",
                        "分野 (areas): 項目が多すぎます（5 個まで）");
    cert_field_rejected("areas", "宇宙", "分野 (areas): 「宇宙」は次のどれでもありません: 子育て、教育、");
    cert_field_rejected("areas", "子育て、医療", "「医療」は次のどれでもありません");

    /* tags: any values, at most 20, each at most 64 bytes */
    list_case("tags", "AI, 議事録 , 音声認識", "AI, 議事録, 音声認識");
    list_case("tags", "AI, ai, ＡＩ", "AI");   /* duplicates under normalisation */
    char tags[512] = "";
    for (int i = 1; i <= 20; i++)
        snprintf(tags + strlen(tags), sizeof tags - strlen(tags), "%st%d", i > 1 ? "," : "", i);
    catalog_kv kv[16];
    size_t n = cert_with(kv, "tags", tags);
    uint8_t *buf;
    proto_record r;
    build_ok("certification", kv, n, &buf, &r);
    free(buf);
    strcat(tags, ",t21");
    cert_field_rejected("tags", tags, "タグ (tags): 項目が多すぎます（20 個まで）");
    char longtag[80];
    memset(longtag, 'x', 64);
    longtag[64] = 0;
    list_case("tags", longtag, longtag);
    longtag[64] = 'x';
    longtag[65] = 0;
    cert_field_rejected("tags", longtag, "タグ (tags): 「");
    cert_field_rejected("tags", longtag, "65 バイトあります（1項目 64 バイトまで）");
    cert_field_rejected("tags", "ok, bad\x01tag", "タグ (tags): 制御文字");
}

/* ---- URL ---- */

static void type_url(void **state)
{
    cert_field_value("url", "https://example.jp/product?id=1", "https://example.jp/product?id=1");
    cert_field_value("url", "http://example.jp", "http://example.jp");
    cert_field_value("url", "HTTPS://Example.jp/", "HTTPS://Example.jp/");
    cert_field_value("announcement_url", " https://www.city.bunkyo.lg.jp/a.pdf ",
                     "https://www.city.bunkyo.lg.jp/a.pdf");
    cert_field_rejected("url", "ftp://example.jp/", "URL (url): http:// か https:// で始めてください");
    cert_field_rejected("url", "example.jp", "http:// か https:// で始めてください");
    cert_field_rejected("url", "javascript:alert(1)", "http:// か https:// で始めて");
    cert_field_rejected("url", "https://", "URL (url): http(s):// の後にホスト名がありません");
    cert_field_rejected("url", "https:///path", "ホスト名がありません");
    cert_field_rejected("url", "https://example.jp/a b", "空白や制御文字は入れられません");
    cert_field_rejected("announcement_url", "https://example.jp/\x01", "公表資料 (announcement_url): 空白や制御文字");
    char big[2100];
    strcpy(big, "https://example.jp/");
    size_t l = strlen(big);
    memset(big + l, 'a', 2048 - l);
    big[2048] = 0;
    cert_field_value("url", big, big);
    big[2048] = 'a';
    big[2049] = 0;
    cert_field_rejected("url", big, "URL (url): 2049 バイトあります（2048 バイトまで）");
}

/* ---- CORPNUM ---- */

static void type_corpnum(void **state)
{
    cert_field_value("corporate_number", CORP, CORP);
    cert_field_value("corporate_number", "7-0000-1205-0002", CORP);
    cert_field_value("corporate_number", "7 0000 1205 0002", CORP);
    cert_field_value("corporate_number", "７０００－０１２０－５０００２", CORP);
    cert_field_value("corporate_number", "7\xe3\x80\x80" "000012050002", CORP);
    /* 1010001008846: body 010001008846, from the right
     * 6*1+4*2+8*1+8*2+0+0+1*1+0+0+0+1*1+0*2 = 40, 40 % 9 = 4, 9 - 4 = 5 */
    cert_field_value("corporate_number", "5010001008846", "5010001008846");
    cert_field_rejected("corporate_number", "3000012050002",
                        "法人番号 (corporate_number): チェックデジット（先頭の数字）が 3 ですが、正しくは 7 です");
    cert_field_rejected("corporate_number", "3-0000-1205-0002", "が 3 ですが、正しくは 7 です");
    cert_field_rejected("corporate_number", "700001205000",
                        "法人番号 (corporate_number): 13桁の数字が必要です（12 桁あります）");
    cert_field_rejected("corporate_number", "70000120500021", "13桁の数字が必要です（14 桁あります）");
    cert_field_rejected("corporate_number", "7000O12050002", "法人番号 (corporate_number): ");
    cert_field_rejected("corporate_number", "7000O12050002", "は13桁の数字ではありません");
}

/* ---- REF ---- */

static void type_ref(void **state)
{
    proto_id id;
    char canon[PROTO_ID_STR], in[256], want[256];
    for (size_t i = 0; i < sizeof id.b; i++)
        id.b[i] = (uint8_t)(255 - i);
    proto_id_str(&id, canon);
    snprintf(want, sizeof want, "%s/認定第12号", canon);
    cert_field_value("derived_from", want, want);
    /* lower case, no dashes, spaces around the slash */
    size_t o = 0;
    for (const char *p = canon; *p; p++)
        if (*p != '-')
            in[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    in[o] = 0;
    strcat(in, " / 認定第12号");
    cert_field_value("derived_from", in, want);
    adoption_field_str("certification", want, want);
    /* the key is stored as catalog_key_norm makes it, as the write path stores keys */
    snprintf(in, sizeof in, "%s/認定第１２号", canon);
    cert_field_value("derived_from", in, want);
    snprintf(in, sizeof in, "%s/文京－２０２６－１０６", canon);
    char want2[256];
    snprintf(want2, sizeof want2, "%s/文京-2026-106", canon);
    adoption_field_str("certification", in, want2);

    cert_field_rejected("derived_from", "認定第12号",
                        "依拠した認定 (derived_from): 「認定第12号」は参照（団体コード/認定番号）として読めません");
    cert_field_rejected("derived_from", "ABCD-EFGH/認定第12号",
                        "依拠した認定 (derived_from): 「ABCD-EFGH」は連合の団体コードでも会員ID");
    snprintf(in, sizeof in, "%s/", canon);
    cert_field_rejected("derived_from", in, "依拠した認定 (derived_from): キーが空です");
    snprintf(in, sizeof in, "%s/a/b", canon);
    cert_field_rejected("derived_from", in, "キーに「/」は使えません");
    snprintf(in, sizeof in, "%s/a\x01", canon);
    cert_field_rejected("derived_from", in, "キーに制御文字");
    snprintf(in, sizeof in, "%s/%065d", canon, 0);
    cert_field_rejected("derived_from", in, "キーが 65 バイトあります（64 バイトまで）");
    adoption_field_rejected("certification", "nonsense", "認定 (certification): ");
}

/* ---- keys ---- */

static void key_valid(void **state)
{
    char err[256];
    char k[80];
    assert_int_equal(catalog_key_valid("R8-001", err, sizeof err), 0);
    assert_int_equal(catalog_key_valid("文京区認定第12号", err, sizeof err), 0);
    assert_int_equal(catalog_key_valid("a b", NULL, 0), 0);
    memset(k, 'k', 64);
    k[64] = 0;
    assert_int_equal(catalog_key_valid(k, err, sizeof err), 0);
    k[64] = 'k';
    k[65] = 0;
    assert_int_equal(catalog_key_valid(k, err, sizeof err), -1);
    assert_err_has(err, "64 バイトまで");
    assert_int_equal(catalog_key_valid("", err, sizeof err), -1);
    assert_err_has(err, "空です");
    assert_int_equal(catalog_key_valid(NULL, err, sizeof err), -1);
    assert_int_equal(catalog_key_valid("a/b", err, sizeof err), -1);
    assert_err_has(err, "「/」");
    assert_int_equal(catalog_key_valid("a\tb", err, sizeof err), -1);
    assert_err_has(err, "制御文字");
    assert_int_equal(catalog_key_valid("a\xc2\x9f", err, sizeof err), -1);
    assert_err_has(err, "制御文字");
    assert_int_equal(catalog_key_valid("a\x7f", err, sizeof err), -1);
    assert_int_equal(catalog_key_valid("\xc0\xaf", err, sizeof err), -1);
    assert_err_has(err, "UTF-8");
    assert_int_equal(catalog_key_valid("a/b", NULL, 0), -1);
}

static void key_norm(void **state)
{
    static const struct { const char *in, *want; } ok[] = {
        { "文京－２０２６－１０６", "文京-2026-106" },     /* full-width hyphen-minus and digits */
        { "文京-2026-106", "文京-2026-106" },
        { "文京\xe2\x88\x92" "2026\xe2\x88\x92" "106", "文京-2026-106" },   /* MINUS SIGN */
        { "\xe3\x80\x80 R8-001 \t", "R8-001" },          /* trimmed */
        { "r8-001", "r8-001" },                           /* case is kept */
        { "ＡＢＣ", "ABC" },
        { "ｶﾒﾗ-1", "カメラ-1" },                          /* half-width katakana */
        { "文京区認定第１２号", "文京区認定第12号" },
        { "a　b", "a b" },                                /* inner U+3000 becomes a space */
        { "①", "1" },
    };
    char out[CATALOG_KEY_MAX + 1], err[256];
    for (size_t i = 0; i < N(ok); i++) {
        err[0] = 0;
        if (catalog_key_norm(ok[i].in, out, sizeof out, err, sizeof err) != 0)
            fail_msg("refused '%s': %s", ok[i].in, err);
        assert_string_equal(out, ok[i].want);
    }
    /* the normalised form is what is checked */
    assert_int_equal(catalog_key_norm("ａ／ｂ", out, sizeof out, err, sizeof err), -1);   /* ／ is / */
    assert_err_has(err, "「/」");
    assert_string_equal(out, "");
    assert_int_equal(catalog_key_norm(" \xe3\x80\x80 ", out, sizeof out, err, sizeof err), -1);
    assert_err_has(err, "空です");
    assert_int_equal(catalog_key_norm("", out, sizeof out, err, sizeof err), -1);
    assert_int_equal(catalog_key_norm(NULL, out, sizeof out, err, sizeof err), -1);
    assert_int_equal(catalog_key_norm("a\x01", out, sizeof out, err, sizeof err), -1);
    assert_err_has(err, "制御文字");
    assert_int_equal(catalog_key_norm("\xff", out, sizeof out, err, sizeof err), -1);
    assert_err_has(err, "UTF-8");
    /* 64 full-width digits are 192 bytes as typed, 64 once normalised */
    char wide[65 * 3 + 1] = "";
    for (int i = 0; i < 64; i++)
        strcat(wide, "１");
    assert_int_equal(catalog_key_norm(wide, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(strlen(out), 64);
    strcat(wide, "１");
    assert_int_equal(catalog_key_norm(wide, out, sizeof out, err, sizeof err), -1);
    assert_err_has(err, "64 バイトまで");
    /* out too small for the result */
    assert_int_equal(catalog_key_norm("R8-001", out, 4, err, sizeof err), -1);
    assert_int_equal(catalog_key_norm("R8-001", out, 0, err, sizeof err), -1);
    assert_int_equal(catalog_key_norm("R8-001", NULL, 8, NULL, 0), -1);
}

/* ---- every fault of a record ---- */

typedef struct { size_t n; const catalog_field *f[16]; char reason[16][512]; } faults;

static void on_fault(void *ctx, const catalog_field *f, const char *reason)
{
    faults *x = ctx;
    if (x->n < 16) {
        x->f[x->n] = f;
        snprintf(x->reason[x->n], sizeof x->reason[x->n], "%s", reason);
    }
    x->n++;
}

static void check_all_faults(void **state)
{
    faults x = { 0 };
    /* three faults in one record: each reported, in schema order, without
     * the "<ja> (<name>): " prefix */
    catalog_kv kv[] = {
        KV("company", "株式会社テスト"), KV("product", "AI議事録"), KV("areas", "宇宙"),
        KV("corporate_number", "3000012050002"), KV("certified_on", "2026-04-01"),
        KV("valid_until", "2026-03-31"),
    };
    assert_int_equal(catalog_check("certification", kv, N(kv), on_fault, &x), 3);
    assert_int_equal(x.n, 3);
    assert_string_equal(x.f[0]->name, "corporate_number");
    assert_string_equal(x.reason[0], "チェックデジット（先頭の数字）が 3 ですが、正しくは 7 です");
    assert_string_equal(x.f[1]->name, "areas");
    assert_err_has(x.reason[1], "「宇宙」は次のどれでもありません");
    assert_string_equal(x.f[2]->name, "valid_until");
    assert_string_equal(x.reason[2], "2026-03-31 は認定日 2026-04-01 より前です");
    /* catalog_build still stops at the first */
    char err[512];
    build_fails("certification", kv, N(kv), err, sizeof err);
    assert_err_has(err, "法人番号 (corporate_number): チェックデジット");

    /* a fault that follows from another is not repeated: fy-end+2 cannot
     * be resolved without 認定日, whose own fault says so */
    memset(&x, 0, sizeof x);
    catalog_kv kv2[] = {
        KV("company", "株式会社テスト"), KV("product", "AI議事録"), KV("areas", "防災"),
        KV("certified_on", "令和8年2月30日"), KV("valid_until", "fy-end+2"), KV("備考", "x"),
    };
    assert_int_equal(catalog_check("certification", kv2, N(kv2), on_fault, &x), 2);
    assert_null(x.f[0]);   /* not about a field of the schema */
    assert_string_equal(x.reason[0], "不明な項目「備考」");
    assert_string_equal(x.f[1]->name, "certified_on");
    assert_err_has(x.reason[1], "2026年2月は28日まで");
    /* ... but a date 有効期限 is still checked on its own */
    memset(&x, 0, sizeof x);
    kv2[4] = KV("valid_until", "2027-02-30");
    assert_int_equal(catalog_check("certification", kv2, N(kv2) - 1, on_fault, &x), 2);
    assert_string_equal(x.f[1]->name, "valid_until");
    /* a missing required field with a wrong one: both; an invalid value is not also "required" */
    memset(&x, 0, sizeof x);
    catalog_kv kv3[] = { KV("product", "AI議事録"), KV("areas", "宇宙"), KV("certified_on", "2026-04-01"),
                         KV("valid_until", "fy-end") };
    assert_int_equal(catalog_check("certification", kv3, N(kv3), on_fault, &x), 2);
    assert_string_equal(x.f[0]->name, "company");
    assert_string_equal(x.reason[0], "必須です");
    assert_string_equal(x.f[1]->name, "areas");
    /* a good record: no faults, fn never called; fn may be NULL */
    memset(&x, 0, sizeof x);
    assert_int_equal(catalog_check("certification", cert_base, N(cert_base), on_fault, &x), 0);
    assert_int_equal(x.n, 0);
    assert_int_equal(catalog_check("certification", kv, N(kv), NULL, NULL), 3);
    assert_int_equal(catalog_check("member", cert_base, N(cert_base), on_fault, &x), 1);
}

/* ---- normalisation ---- */

static void norm_case(const char *in, const char *want)
{
    char out[256];
    assert_int_equal(catalog_norm(in, strlen(in), out, sizeof out), 0);
    if (strcmp(out, want) != 0)
        fail_msg("norm '%s' = '%s', want '%s'", in, out, want);
}

static void norm(void **state)
{
    char out[16];
    norm_case("ＡＩ", "ai");
    norm_case("ｶﾀｶﾅ", "カタカナ");
    norm_case("ｶﾞｲﾄﾞ", "ガイド");     /* voiced marks composed */
    norm_case("  a\xe3\x80\x80 b ", "a b");
    norm_case("a\t\n\r b\xc2\xa0" "c", "a b c");   /* NBSP is white space too */
    norm_case("AI議事録", "ai議事録");
    norm_case("ＡＩ議事録", "ai議事録");
    norm_case("①２③", "123");
    norm_case("㈱テスト", "(株)テスト");
    norm_case("", "");
    norm_case(" \xe3\x80\x80 ", "");
    /* hiragana folded to katakana, so either script finds the other */
    norm_case("ぎじろく", "ギジロク");
    norm_case("ギジロク", "ギジロク");
    norm_case("ｷﾞｼﾞﾛｸ", "ギジロク");
    norm_case("ぁゔゕゖゝゞ", "ァヴヵヶヽヾ");
    norm_case("みまもりカメラ", "ミマモリカメラ");
    norm_case("漢字とカナ", "漢字トカナ");
    norm_case("ー・", "ー・");     /* marks shared by both scripts stay */
    /* length, not NUL, bounds the input */
    assert_int_equal(catalog_norm("ABCDEF", 3, out, sizeof out), 0);
    assert_string_equal(out, "abc");
    /* too small: -1 and "" */
    assert_int_equal(catalog_norm("abcdef", 6, out, 6), -1);
    assert_string_equal(out, "");
    assert_int_equal(catalog_norm("abcdef", 6, out, 7), 0);
    /* invalid UTF-8 */
    assert_int_equal(catalog_norm("\xff", 1, out, sizeof out), -1);
    assert_int_equal(catalog_norm("a\0b", 3, out, sizeof out), -1);
    assert_int_equal(catalog_norm("a", 1, NULL, 0), -1);
    assert_int_equal(catalog_norm(NULL, 1, out, sizeof out), -1);
}

/* ---- status ---- */

static const char *status_of(const char *status, const char *valid_until, jp_date today)
{
    proto_body *b = proto_body_new();
    uint8_t *buf;
    proto_record r;
    static char got[32];
    proto_body_str(b, "product", "X");
    if (status)
        proto_body_str(b, "status", status);
    if (valid_until)
        proto_body_str(b, "valid_until", valid_until);
    sign_decode("certification", b, &buf, &r);
    proto_body_free(b);
    snprintf(got, sizeof got, "%s", catalog_status(&r, today));
    free(buf);
    return got;
}

static void status(void **state)
{
    jp_date d0331 = { 2028, 3, 31 }, d0401 = { 2028, 4, 1 }, bad = { 2028, 2, 30 };
    assert_string_equal(status_of("認定中", "2028-03-31", d0331), "認定中");
    /* valid_until is the last valid day */
    assert_string_equal(status_of("認定中", "2028-03-31", d0401), "期間満了");
    assert_string_equal(status_of(NULL, "2028-03-31", d0331), "認定中");
    assert_string_equal(status_of(NULL, "2028-03-31", d0401), "期間満了");
    /* 停止 and 取消 as recorded, before or after expiry */
    assert_string_equal(status_of("停止", "2028-03-31", d0331), "停止");
    assert_string_equal(status_of("停止", "2028-03-31", d0401), "停止");
    assert_string_equal(status_of("取消", "2028-03-31", d0331), "取消");
    assert_string_equal(status_of("取消", "2028-03-31", d0401), "取消");
    assert_string_equal(status_of("revoked", NULL, d0331), "取消");
    assert_string_equal(status_of("suspended", NULL, d0331), "停止");
    /* valid_until missing or unparsable: 認定中 unless status says otherwise */
    assert_string_equal(status_of(NULL, NULL, d0401), "認定中");
    assert_string_equal(status_of("認定中", "fy-end+2", d0401), "認定中");
    assert_string_equal(status_of(NULL, "2028-02-30", d0401), "認定中");
    assert_string_equal(status_of("取消", "garbage", d0401), "取消");
    /* an unknown status is treated as 認定中 */
    assert_string_equal(status_of("何か", "2028-03-31", d0331), "認定中");
    /* an invalid today never expires anything */
    assert_string_equal(status_of(NULL, "2028-03-31", bad), "認定中");
    assert_string_equal(catalog_status(NULL, d0331), "認定中");

    /* on a record built by catalog_build */
    catalog_kv kv[16];
    size_t n = cert_with(kv, "status", "停止");
    uint8_t *buf;
    proto_record r;
    build_ok("certification", kv, n, &buf, &r);
    assert_string_equal(catalog_status(&r, d0331), "停止");
    free(buf);
    build_ok("certification", cert_base, N(cert_base), &buf, &r);
    assert_string_equal(catalog_status(&r, (jp_date){ 2028, 3, 31 }), "認定中");
    assert_string_equal(catalog_status(&r, (jp_date){ 2028, 4, 1 }), "期間満了");
    /* the same rule by number, and "in force": 2026-04-01 .. 2028-03-31 */
    assert_int_equal(catalog_status_code(&r, 20280331), CATALOG_STATUS_ACTIVE);
    assert_int_equal(catalog_status_code(&r, 20280401), CATALOG_STATUS_EXPIRED);
    assert_int_equal(catalog_date_num(&r, "certified_on"), 20260401);
    assert_int_equal(catalog_date_num(&r, "company"), 0);
    assert_false(catalog_in_force(&r, 20260331));
    assert_true(catalog_in_force(&r, 20260401));
    assert_true(catalog_in_force(&r, 20280331));
    assert_false(catalog_in_force(&r, 20280401));
    free(buf);
    n = cert_with(kv, "status", "取消");
    build_ok("certification", kv, n, &buf, &r);
    assert_int_equal(catalog_status_recorded(&r), CATALOG_STATUS_REVOKED);
    assert_false(catalog_in_force(&r, 20270101));     /* revoked: in force on no day */
    free(buf);
    assert_int_equal(catalog_status_on(CATALOG_STATUS_SUSPENDED, 0, 20280331, 20300101), CATALOG_STATUS_SUSPENDED);
    assert_int_equal(catalog_status_on(CATALOG_STATUS_ACTIVE, 0, 0, 29991231), CATALOG_STATUS_ACTIVE);
    assert_false(catalog_in_force_on(CATALOG_STATUS_SUSPENDED, 0, 20260401, 20280331, 20270101));
    assert_false(catalog_in_force_on(CATALOG_STATUS_ACTIVE, 0, 0, 20280331, 20270101));
    /* a suspension or revocation applies from its status_date on */
    assert_int_equal(catalog_status_on(CATALOG_STATUS_REVOKED, 20261115, 20280331, 20261114), CATALOG_STATUS_ACTIVE);
    assert_int_equal(catalog_status_on(CATALOG_STATUS_REVOKED, 20261115, 20280331, 20261115), CATALOG_STATUS_REVOKED);
    assert_true(catalog_in_force_on(CATALOG_STATUS_REVOKED, 20261115, 20260401, 20280331, 20260601));
    assert_false(catalog_in_force_on(CATALOG_STATUS_SUSPENDED, 20270101, 20260401, 20280331, 20270101));
    assert_int_equal(catalog_status_on(CATALOG_STATUS_SUSPENDED, 20270101, 20260331, 20260601), CATALOG_STATUS_EXPIRED);
    assert_string_equal(catalog_status_name(CATALOG_STATUS_EXPIRED), "期間満了");
    assert_string_equal(catalog_status_name(9), "");
}

/* ---- values for filters ---- */

static void filter_values(void **state)
{
    jp_date d;
    int fy, want = -1;
    char err[256], cn[14];
    assert_int_equal(catalog_parse_date("2026年4月1日", &d, err, sizeof err), 0);
    assert_int_equal(catalog_date_to_num(d), 20260401);
    assert_int_equal(catalog_parse_date("２０２６／４／１", &d, err, sizeof err), 0);
    assert_int_equal(catalog_date_to_num(d), 20260401);
    assert_int_equal(catalog_parse_date("2026-02-30", &d, err, sizeof err), -1);
    assert_int_equal(catalog_parse_date("2026-04-01x", &d, err, sizeof err), -1);
    assert_err_has(err, "は日付として読めません");
    assert_null(strstr(err, "certified_on"));     /* the reason, not the field */
    /* 和暦 too: the schema reads dates with jp_date_read */
    assert_int_equal(catalog_parse_date("令和8年4月1日", &d, err, sizeof err), 0);
    assert_int_equal(catalog_date_to_num(d), 20260401);
    assert_int_equal(catalog_parse_date("R8.4.1", &d, err, sizeof err), 0);
    assert_int_equal(catalog_date_to_num(d), 20260401);
    assert_int_equal(catalog_parse_date("平成31年5月1日", &d, err, sizeof err), -1);
    assert_err_has(err, "平成は2019年4月30日まで");
    assert_int_equal(catalog_parse_fy("令和8年度", &fy, err, sizeof err), 0);
    assert_int_equal(fy, 2026);
    assert_int_equal(catalog_parse_fy("R8", &fy, err, sizeof err), 0);
    assert_int_equal(fy, 2026);
    assert_int_equal(catalog_parse_fy("令和八年度", &fy, err, sizeof err), -1);
    assert_int_equal(catalog_corporate_number_norm("７０００-０１２０-５０００２", cn, &want), 0);
    assert_string_equal(cn, CORP);
    assert_int_equal(catalog_corporate_number_norm("8000012050002", cn, &want), -2);
    assert_int_equal(want, 7);
    assert_int_equal(catalog_corporate_number_norm("700001205000", cn, NULL), -1);
    assert_int_equal(catalog_corporate_number_norm("70000120500021", cn, NULL), -1);
    assert_int_equal(catalog_corporate_number_norm("7000012050002x", cn, NULL), -1);
    const catalog_field *route = catalog_field_find("adoption", "route");
    assert_string_equal(catalog_enum_lookup(route, "４号随契"), "4号随契");
    assert_string_equal(catalog_enum_lookup(route, "とらいある発注"), "トライアル発注");
    assert_null(catalog_enum_lookup(route, "随意契約"));
    assert_null(catalog_enum_lookup(catalog_field_find("adoption", "department"), "総務課"));
}

/* ---- product key ---- */

static void product_key(void **state)
{
    catalog_kv kv[16];
    uint8_t *b1, *b2, *b3;
    proto_record r1, r2, r3;
    char k1[512], k2[512], k3[512], small[8];
    size_t n;

    n = cert_with(kv, "corporate_number", CORP);
    kv[1] = KV("product", "ＡＩ議事録");
    build_ok("certification", kv, n, &b1, &r1);
    n = cert_with(kv, "corporate_number", "7-0000-1205-0002");
    kv[1] = KV("product", "AI議事録");
    build_ok("certification", kv, n, &b2, &r2);
    assert_int_equal(catalog_product_key(&r1, k1, sizeof k1), 0);
    assert_int_equal(catalog_product_key(&r2, k2, sizeof k2), 0);
    assert_string_equal(k1, CORP "|ai議事録");
    assert_string_equal(k1, k2);

    /* no 法人番号 */
    kv[1] = KV("product", " ＡＩ  議事録 ");
    build_ok("certification", kv, N(cert_base), &b3, &r3);
    assert_int_equal(catalog_product_key(&r3, k3, sizeof k3), 0);
    assert_string_equal(k3, "-|ai 議事録");
    assert_string_not_equal(k1, k3);

    /* too small */
    assert_int_equal(catalog_product_key(&r1, small, sizeof small), -1);
    assert_string_equal(small, "");
    assert_int_equal(catalog_product_key(NULL, k1, sizeof k1), -1);
    free(b1);
    free(b2);
    free(b3);

    /* no product: -1 */
    proto_body *b = proto_body_new();
    proto_body_str(b, "company", "X");
    sign_decode("certification", b, &b1, &r1);
    proto_body_free(b);
    assert_int_equal(catalog_product_key(&r1, k1, sizeof k1), -1);
    free(b1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_tables),
        cmocka_unit_test(field_lookup),
        cmocka_unit_test(header_norm),
        cmocka_unit_test(build_minimal_defaults),
        cmocka_unit_test(build_required_and_unknown),
        cmocka_unit_test(build_by_header),
        cmocka_unit_test(build_deterministic),
        cmocka_unit_test(build_merge),
        cmocka_unit_test(type_text),
        cmocka_unit_test(type_date),
        cmocka_unit_test(type_valid_until),
        cmocka_unit_test(type_int),
        cmocka_unit_test(type_fy),
        cmocka_unit_test(type_enum),
        cmocka_unit_test(type_list),
        cmocka_unit_test(type_url),
        cmocka_unit_test(type_corpnum),
        cmocka_unit_test(type_ref),
        cmocka_unit_test(key_valid),
        cmocka_unit_test(key_norm),
        cmocka_unit_test(check_all_faults),
        cmocka_unit_test(norm),
        cmocka_unit_test(status),
        cmocka_unit_test(filter_values),
        cmocka_unit_test(product_key),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
