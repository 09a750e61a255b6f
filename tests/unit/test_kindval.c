/* tests/unit/test_kindval.c — the catalog kinds' validator
 * (catalog_record_validate, the `validate` of certification and adoption in
 * store/kind.c): what catalog_build writes passes; a body signed by some
 * other code is held to the same schema, in its canonical forms. */
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
#include "store/kind.h"
#include "proto/record.h"
#include "proto/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CORP     "7000012050002"   /* valid check digit */
#define CORP_BAD "3000012050002"   /* same body, check digit 3 (should be 7) */

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

/* One body field as a test writes it: 's' string, 'i' int, 'l' list of
 * strings separated by '|' ("" is an empty list). */
typedef struct { const char *name; char t; const char *s; int64_t i; } fld;

#define S(n, v) ((fld){ (n), 's', (v), 0 })
#define I(n, v) ((fld){ (n), 'i', NULL, (v) })
#define L(n, v) ((fld){ (n), 'l', (v), 0 })

static const fld cert_base[] = {
    S("company", "株式会社テスト"),
    S("corporate_number", CORP),
    L("areas", "行政DX|防災"),
    S("product", "AI議事録"),
    S("summary", "会議の音声から\n議事録を作ります。\t要約つき"),
    L("tags", "AI|議事録"),
    S("url", "https://example.jp/product"),
    S("certified_on", "2026-04-01"),
    S("valid_until", "2028-03-31"),
    S("status", "認定中"),
    S("visibility", "alliance"),
};

static proto_body *body_of(const fld *fs, size_t n)
{
    proto_body *b = proto_body_new();
    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        int rc = 0;
        if (fs[i].t == 's') {
            rc = proto_body_str(b, fs[i].name, fs[i].s);
        } else if (fs[i].t == 'i') {
            rc = proto_body_int(b, fs[i].name, fs[i].i);
        } else {
            char buf[1024], *items[64], *p = buf;
            size_t k = 0;
            snprintf(buf, sizeof buf, "%s", fs[i].s);
            while (*fs[i].s && k < N(items)) {
                items[k++] = p;
                p = strchr(p, '|');
                if (!p)
                    break;
                *p++ = 0;
            }
            rc = proto_body_strs(b, fs[i].name, (const char *const *)items, k);
        }
        if (rc)
            fail_msg("body field %s", fs[i].name);
    }
    return b;
}

/* Sign body as (kind, key, flags) and run the kind's validator on it. */
static int validate_body(const char *kind, const char *key, uint32_t flags, const proto_body *b,
                         char *err, size_t errlen)
{
    proto_id alliance, author;
    uint8_t *buf;
    size_t len;
    proto_record r;
    char why[256];
    memset(&alliance, 0x11, sizeof alliance);
    memset(&author, 0x22, sizeof author);
    if (proto_record_sign(&alliance, &author, kind, key, 1, 1700000000000ull, flags, b, g_key, &buf,
                          &len, why, sizeof why))
        fail_msg("sign: %s", why);
    if (proto_record_decode(buf, len, &r, why, sizeof why))
        fail_msg("decode: %s", why);
    const kind_def *kd = kind_of(kind);
    assert_non_null(kd->validate);
    err[0] = 0;
    int rc = kd->validate(&r, err, errlen);
    /* the validator recognises canonical values in place; without those
     * shortcuts it must say exactly the same about every case here */
    char full[512];
    full[0] = 0;
    int frc = catalog_record_validate_full(&r, full, sizeof full);
    if (frc != rc || strcmp(full, err))
        fail_msg("shortcut %d \"%s\", full %d \"%s\"", rc, err, frc, full);
    free(buf);
    return rc;
}

/* cert_base with field `name` replaced by f (f.name NULL: removed; not in
 * the base: added at the end). */
static int cert_with(fld f, const char *name, char *err, size_t errlen)
{
    fld fs[N(cert_base) + 1];
    size_t n = 0;
    int done = 0;
    for (size_t i = 0; i < N(cert_base); i++) {
        if (!strcmp(cert_base[i].name, name)) {
            done = 1;
            if (f.name)
                fs[n++] = f;
        } else {
            fs[n++] = cert_base[i];
        }
    }
    if (!done && f.name)
        fs[n++] = f;
    proto_body *b = body_of(fs, n);
    int rc = validate_body("certification", "文京-2026-001", 0, b, err, errlen);
    proto_body_free(b);
    return rc;
}

static void cert_ok(fld f, const char *name)
{
    char err[512];
    if (cert_with(f, name, err, sizeof err))
        fail_msg("%s refused: %s", name, err);
}

static void cert_refused(fld f, const char *name, const char *needle)
{
    char err[512];
    if (cert_with(f, name, err, sizeof err) == 0)
        fail_msg("%s unexpectedly accepted", name);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static const char *ref_str(void)
{
    static char ref[PROTO_ID_STR + 32];
    proto_id id;
    char s[PROTO_ID_STR];
    memset(&id, 0x22, sizeof id);
    proto_id_str(&id, s);
    snprintf(ref, sizeof ref, "%s/文京-2026-001", s);
    return ref;
}

static int adoption_with(fld f, const char *name, char *err, size_t errlen)
{
    fld base[] = {
        S("certification", ref_str()), I("fiscal_year", 2026), S("department", "総務課"),
        S("route", "4号随契"), I("amount", 1200000), S("period_from", "2026-04-01"),
        S("period_to", "2027-03-31"), S("stage", "トライアル"), S("kpis", "作業時間\n30%削減"),
        I("rating", 4), S("visibility", "public"),
    };
    fld fs[N(base) + 1];
    size_t n = 0;
    int done = 0;
    for (size_t i = 0; i < N(base); i++) {
        if (!strcmp(base[i].name, name)) {
            done = 1;
            if (f.name)
                fs[n++] = f;
        } else {
            fs[n++] = base[i];
        }
    }
    if (!done && f.name)
        fs[n++] = f;
    proto_body *b = body_of(fs, n);
    int rc = validate_body("adoption", "R8-001", 0, b, err, errlen);
    proto_body_free(b);
    return rc;
}

static void adoption_refused(fld f, const char *name, const char *needle)
{
    char err[512];
    if (adoption_with(f, name, err, sizeof err) == 0)
        fail_msg("%s unexpectedly accepted", name);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static void adoption_ok(fld f, const char *name)
{
    char err[512];
    if (adoption_with(f, name, err, sizeof err))
        fail_msg("%s refused: %s", name, err);
}

/* ---- what catalog_build writes is accepted ---- */

static void built_bodies_accepted(void **state)
{
    static const catalog_kv cert[] = {
        { "事業者名", "株式会社テスト" }, { "法人番号", "7-0000-1205-0002" },
        { "所在地", "東京都文京区" }, { "設立日", "令和元年5月1日" },
        { "製品・サービス名", "AI議事録" }, { "概要", "一行目\r\n二行目\tタブ" },
        { "分野", "行政DX、防災、行政ＤＸ" }, { "参考価格", "月額5万円" },
        { "タグ", "AI, 議事録; AI" }, { "URL", "https://example.jp/" },
        { "認定日", "2026/4/1" }, { "有効期限", "fy-end+2" }, { "状態", "suspended" },
        { "状態変更日", "R8.5.1" }, { "状態変更理由", "調査中" },
        { "公表資料", "http://example.jp/a.pdf" }, { "問合せ先", "産業振興課 03-0000-0000" },
        { "公開区分", "公開" },
    };
    const catalog_kv adoption[] = {
        { "認定", ref_str() }, { "年度", "令和8年度" }, { "原課", "総務課" },
        { "契約方法", "4号随契" }, { "予算科目", "委託料" }, { "金額", "￥1,200,000円" },
        { "期間開始", "2026年4月1日" }, { "期間終了", "2027-03-31" }, { "段階", "本格導入" },
        { "KPI", "作業時間\n30%削減" }, { "成果", "好評" }, { "課題", "なし" }, { "評価", "5" },
    };
    const catalog_kv minimal[] = {
        { "company", "株式会社テスト" }, { "product", "AI議事録" }, { "areas", "行政DX" },
        { "certified_on", "2026-04-01" }, { "valid_until", "fy-end" },
    };
    struct { const char *kind; const catalog_kv *kv; size_t n; } cases[] = {
        { "certification", cert, N(cert) },
        { "adoption", adoption, N(adoption) },
        { "certification", minimal, N(minimal) },
    };
    for (size_t i = 0; i < N(cases); i++) {
        proto_body *b = NULL;
        char err[512];
        if (catalog_build(cases[i].kind, cases[i].kv, cases[i].n, &b, err, sizeof err))
            fail_msg("build %zu: %s", i, err);
        if (validate_body(cases[i].kind, "KEY-1", 0, b, err, sizeof err))
            fail_msg("case %zu refused: %s", i, err);
        proto_body_free(b);
    }
}

static void hand_built_valid_accepted(void **state)
{
    char err[512];
    cert_ok(S("company", "株式会社テスト"), "company");
    /* a missing field that has a default reads as its default */
    cert_ok((fld){ 0 }, "status");
    cert_ok((fld){ 0 }, "corporate_number");
    if (adoption_with((fld){ 0 }, "none", err, sizeof err))
        fail_msg("adoption refused: %s", err);
}

/* ---- the rules ---- */

static void corporate_number_check_digit(void **state)
{
    cert_refused(S("corporate_number", CORP_BAD), "corporate_number", "法人番号 (corporate_number)");
    cert_refused(S("corporate_number", CORP_BAD), "corporate_number", "チェックデジット");
    cert_refused(S("corporate_number", "700001205000"), "corporate_number", "13桁");
    /* accepted by the CLI, but not how it is stored */
    cert_refused(S("corporate_number", "7-0000-1205-0002"), "corporate_number", "記録される形");
}

static void newline_only_in_multiline_fields(void **state)
{
    cert_refused(S("company", "株式会社\nテスト"), "company", "事業者名 (company)");
    cert_refused(S("company", "株式会社\nテスト"), "company", "改行やタブ");
    cert_refused(S("company", "株式会社\tテスト"), "company", "改行やタブ");
    cert_refused(S("product", "AI\n議事録"), "product", "製品・サービス名");
    cert_refused(S("status_reason", "一\n二"), "status_reason", "改行やタブ");
    cert_ok(S("summary", "一\n二\tタブ"), "summary");
    /* a list item must not hide a second item behind a line break */
    cert_refused(L("tags", "AI\n議事録"), "tags", "タグ (tags)");
}

static void over_long_fields(void **state)
{
    char big[4002];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    big[201] = 0;
    cert_refused(S("company", big), "company", "201 バイトあります（200 バイトまで）");
    big[201] = 'x';
    cert_refused(S("summary", big), "summary", "4001 バイトあります（4000 バイトまで）");
    cert_refused(L("areas", "子育て|教育|防災|環境|行政DX|その他"), "areas", "項目が多すぎます");
    memset(big, 'y', 65);
    big[65] = 0;
    cert_refused(L("tags", big), "tags", "1項目 64 バイトまで");
}

static void wrong_types(void **state)
{
    cert_refused(I("company", 42), "company", "文字列ではなく整数です");
    cert_refused(S("areas", "防災"), "areas", "配列ではなく文字列です");
    cert_refused(I("certified_on", 20260401), "certified_on", "認定日 (certified_on): 文字列ではなく整数です");
    adoption_refused(S("amount", "1200000"), "amount", "金額 (amount): 整数ではなく文字列です");
    adoption_refused(S("fiscal_year", "2026"), "fiscal_year", "整数ではなく文字列です");
    adoption_refused(I("rating", 6), "rating", "範囲外");
    adoption_refused(I("amount", -1), "amount", "範囲外");
}

static void enums_and_status(void **state)
{
    cert_refused(S("status", "有効"), "status", "状態 (status)");
    cert_refused(S("status", "有効"), "status", "次のどれでもありません");
    /* the CLI's aliases, and 期間満了, which is computed and never recorded */
    cert_refused(S("status", "active"), "status", "記録される形");
    cert_refused(S("status", "期間満了"), "status", "状態 (status)");
    cert_refused(S("visibility", "公開"), "visibility", "記録される形");
    /* 分野 and 契約方法 are the policy's: a peer's record may name one this
     * node's policy does not list (not yet received, or removed since);
     * any well-formed item is held (docs/DECISIONS.md) */
    cert_ok(L("areas", "宇宙"), "areas");
    cert_ok(L("areas", "防災|宇宙"), "areas");
    adoption_ok(S("route", "随意契約"), "route");
    /* ...well-formed: one line, trimmed, no list separator, bounded */
    cert_refused(L("areas", "宇宙、深海"), "areas", "記録される形");
    cert_refused(L("areas", " 宇宙"), "areas", "記録される形");
    cert_refused(L("areas", "宇宙\n深海"), "areas", "分野 (areas)");
    /* a repeated item is named as one, not as the next item's stored form */
    cert_refused(L("areas", "宇宙|宇宙"), "areas", "2 番目の項目「宇宙」は 1 番目と重複しています");
    cert_refused(L("areas", "防災|宇宙|防災"), "areas", "3 番目の項目「防災」は 1 番目と重複しています");
    cert_refused(L("areas", "防災||宇宙"), "areas", "2 番目の項目が空です");
    /* ...as the conversion sees them: trimmed and folded */
    cert_refused(L("areas", "防災|防災 "), "areas", "2 番目の項目「防災 」は 1 番目と重複しています");
    cert_refused(L("areas", "防災| 防災"), "areas", "2 番目の項目「 防災」は 1 番目と重複しています");
    cert_refused(L("areas", "防災| |宇宙"), "areas", "2 番目の項目が空です");
    cert_refused(L("areas", "宇宙|宇宙|深海、防災"), "areas", "2 番目の項目「宇宙」は 1 番目と重複しています");
    char big[80];
    memset(big, 'x', 70);
    big[70] = 0;
    cert_refused(L("areas", big), "areas", "64 バイトまで");
    adoption_refused(S("route", "随意\t契約"), "route", "契約方法 (route)");
    adoption_refused(S("route", big), "route", "64 バイトまで");
}

static void dates(void **state)
{
    cert_refused(S("certified_on", "2026-02-30"), "certified_on", "認定日 (certified_on)");
    cert_refused(S("certified_on", "2026/4/1"), "certified_on", "記録される形");
    cert_refused(S("certified_on", "令和8年4月1日"), "certified_on", "2026-04-01");
    cert_refused(S("valid_until", "fy-end+2"), "valid_until", "記録される形");
    cert_refused(S("valid_until", "2026-03-31"), "valid_until", "有効期限 (valid_until): 2026-03-31 は認定日 2026-04-01 より前です");
    cert_refused(S("status_date", "2026-03-01"), "status_date", "より前です");
    adoption_refused(S("period_to", "2026-03-01"), "period_to", "期間終了 (period_to)");
}

static void other_rules(void **state)
{
    cert_refused((fld){ 0 }, "company", "事業者名 (company): 必須です");
    cert_refused((fld){ 0 }, "areas", "分野 (areas): 必須です");
    cert_refused(S("url", "ftp://example.jp/"), "url", "http:// か https://");
    cert_refused(S("url", "javascript:alert(1)"), "url", "URL (url)");
    cert_refused(S("company", " 株式会社テスト"), "company", "前後に空白");
    cert_refused(S("address", ""), "address", "空の文字列");
    cert_refused(L("tags", ""), "tags", "空の配列");
    cert_refused(L("tags", "AI|ai"), "tags", "タグ (tags)");
    cert_refused(S("derived_from", "131059/文京-2026-001"), "derived_from", "依拠した認定");
    adoption_refused(S("certification", "not a ref"), "certification", "認定 (certification)");
}

static void unknown_fields_allowed(void **state)
{
    /* a newer node's field, of any type (docs/DECISIONS.md) */
    cert_ok(S("sdgs_goal", "11\n住み続けられるまちづくりを"), "sdgs_goal");
    cert_ok(I("employees", 12), "employees");
    /* a field name is matched exactly, never as a header */
    cert_ok(S("事業者名", "別名"), "事業者名");
}

static void duplicate_field_refused(void **state)
{
    fld fs[N(cert_base) + 1];
    char err[512];
    memcpy(fs, cert_base, sizeof cert_base);
    fs[N(cert_base)] = S("company", "株式会社ほか");
    proto_body *b = body_of(fs, N(fs));
    proto_id alliance, author;
    uint8_t *buf;
    size_t len;
    proto_record r;
    memset(&alliance, 0x11, sizeof alliance);
    memset(&author, 0x22, sizeof author);
    assert_int_equal(proto_record_sign(&alliance, &author, "certification", "K", 1, 1, 0, b, g_key,
                                       &buf, &len, err, sizeof err), 0);
    /* the record decoder may refuse duplicate keys itself; if it does not,
     * the validator must */
    if (proto_record_decode(buf, len, &r, err, sizeof err) == 0) {
        assert_int_equal(catalog_record_validate(&r, err, sizeof err), -1);
        assert_non_null(strstr(err, "2回あります"));
    }
    free(buf);
    proto_body_free(b);
}

static void keys_and_tombstones(void **state)
{
    char err[512];
    proto_body *b = body_of(cert_base, N(cert_base));
    /* the key as catalog_key_norm stores it */
    assert_int_equal(validate_body("certification", "文京－２０２６－００１", 0, b, err, sizeof err), -1);
    assert_non_null(strstr(err, "文京-2026-001"));
    assert_int_equal(validate_body("certification", "a/b", 0, b, err, sizeof err), -1);
    proto_body_free(b);

    /* a withdrawal carries its reason and nothing of the schema */
    b = proto_body_new();
    proto_body_str(b, "reason", "誤登録のため\n取り下げ");
    if (validate_body("certification", "文京-2026-001", PROTO_FLAG_TOMBSTONE, b, err, sizeof err))
        fail_msg("tombstone refused: %s", err);
    proto_body_free(b);
    b = proto_body_new();
    assert_int_equal(validate_body("adoption", "R8-001", PROTO_FLAG_TOMBSTONE, b, err, sizeof err), -1);
    assert_non_null(strstr(err, "理由"));
    proto_body_free(b);
    b = proto_body_new();
    proto_body_int(b, "reason", 1);
    assert_int_equal(validate_body("adoption", "R8-001", PROTO_FLAG_TOMBSTONE, b, err, sizeof err), -1);
    assert_non_null(strstr(err, "文字列ではなく整数"));
    proto_body_free(b);
    b = proto_body_new();
    proto_body_str(b, "reason", "タブ\tあり");
    assert_int_equal(validate_body("adoption", "R8-001", PROTO_FLAG_TOMBSTONE, b, err, sizeof err), -1);
    proto_body_free(b);
}

/* Values on either side of what the validator recognises in place
 * (stored_in_place, list_as_stored, key_as_stored): validate_body compares
 * each with the full conversion, result and message. */
static void in_place_edges(void **state)
{
    char err[512];
    /* dates: the ISO shape, but not a day it may hold */
    cert_ok(S("established", "1900-01-01"), "established");
    cert_refused(S("established", "1899-12-31"), "established", "設立日 (established)");
    cert_refused(S("certified_on", "3000-01-01"), "certified_on", "認定日 (certified_on)");
    cert_refused(S("certified_on", "2026-13-01"), "certified_on", "月は1～12");
    cert_refused(S("certified_on", "2026-00-01"), "certified_on", "認定日 (certified_on)");
    cert_refused(S("certified_on", "2026-04-00"), "certified_on", "認定日 (certified_on)");
    cert_refused(S("certified_on", "2027-02-29"), "certified_on", "認定日 (certified_on)");
    cert_ok(S("valid_until", "2028-02-29"), "valid_until");
    cert_refused(S("certified_on", "2026-4-01"), "certified_on", "記録される形");
    cert_refused(S("certified_on", "２０２６-04-01"), "certified_on", "記録される形");
    cert_refused(S("valid_until", "2028-03-31x"), "valid_until", "有効期限 (valid_until)");
    /* text: control characters, CR and bad UTF-8 never get this far (the
     * record's own text rule refuses them, test_record.c); the length */
    char big[202];
    memset(big, 'x', 200);
    big[200] = 0;
    cert_ok(S("company", big), "company");
    /* enums: listed as listed only */
    cert_ok(S("visibility", "public"), "visibility");
    cert_refused(S("visibility", "Public"), "visibility", "記録される形");
    cert_refused(S("status", "認定中\xe3\x80\x80"), "status", "前後に空白");
    /* 法人番号: 13 ASCII digits with the right check digit */
    cert_refused(S("corporate_number", "７000012050002"), "corporate_number", "記録される形");
    cert_refused(S("corporate_number", "70000120500021"), "corporate_number", "13桁");
    /* lists: one item, several, equal under NFKC, separators, padding */
    cert_ok(L("tags", "AI"), "tags");
    cert_ok(L("tags", "AI|議事録|音声"), "tags");
    cert_refused(L("tags", "AI|ＡＩ"), "tags", "2 番目の項目「ＡＩ」は 1 番目と重複しています");
    cert_refused(L("tags", "AI|議事録|ai"), "tags", "タグ (tags)");
    cert_refused(L("areas", "宇宙，深海"), "areas", "記録される形");
    cert_refused(L("areas", "宇宙\xe3\x80\x80"), "areas", "記録される形");
    /* keys: printable ASCII is taken as it is, anything else normalised */
    proto_body *b = body_of(cert_base, N(cert_base));
    if (validate_body("certification", "B-000123", 0, b, err, sizeof err))
        fail_msg("ASCII key refused: %s", err);
    assert_int_equal(validate_body("certification", " B-000123", 0, b, err, sizeof err), -1);
    assert_int_equal(validate_body("certification", "B/1", 0, b, err, sizeof err), -1);
    if (validate_body("certification", "文京-2026-001", 0, b, err, sizeof err))
        fail_msg("key refused: %s", err);
    proto_body_free(b);
}

/* Every schema field but the multi-line prose is one line: the flag is in
 * the table, and exactly these carry it. */
static void multiline_flag(void **state)
{
    const char *kinds[] = { "certification", "adoption" };
    const char *ml[] = { "summary", "kpis", "results", "difficulties" };
    for (size_t k = 0; k < N(kinds); k++) {
        size_t nf;
        const catalog_field *fs = catalog_fields(kinds[k], &nf);
        for (size_t i = 0; i < nf; i++) {
            int want = 0;
            for (size_t j = 0; j < N(ml); j++)
                want |= !strcmp(fs[i].name, ml[j]);
            if (want != ((fs[i].flags & CATALOG_F_MULTILINE) != 0))
                fail_msg("%s.%s multiline flag", kinds[k], fs[i].name);
        }
    }
}

/* cert_base with `name` set to val by proto_body_str_checked (no text
 * check: a body another node's code could sign), signed, then decoded as
 * ingest's triage decodes it (the header only: no text rule run). */
static void sign_header_only(const char *name, const char *val, uint8_t **buf, proto_record *r)
{
    proto_body *b = proto_body_new();
    proto_id alliance, author;
    size_t len;
    char why[256];
    int found = 0;
    for (size_t i = 0; i < N(cert_base); i++) {
        const fld *f = &cert_base[i];
        int rc;
        if (!strcmp(f->name, name))
            rc = proto_body_str_checked(b, name, val), found = 1;
        else if (f->t == 's')
            rc = proto_body_str(b, f->name, f->s);
        else {
            char item[256];   /* the list's first item is enough here */
            snprintf(item, sizeof item, "%.*s", (int)strcspn(f->s, "|"), f->s);
            const char *one[] = { item };
            rc = proto_body_strs(b, f->name, one, 1);
        }
        assert_int_equal(rc, 0);
    }
    if (!found)   /* not in the base: added at the end */
        assert_int_equal(proto_body_str_checked(b, name, val), 0);
    memset(&alliance, 0x11, sizeof alliance);
    memset(&author, 0x22, sizeof author);
    if (proto_record_sign(&alliance, &author, "certification", "文京-2026-001", 1, 1700000000000ull, 0, b,
                          g_key, buf, &len, why, sizeof why))
        fail_msg("sign: %s", why);
    proto_body_free(b);
    if (proto_record_decode_header(*buf, len, r, why, sizeof why))
        fail_msg("decode: %s", why);
}

/* The validator checks a text field only for what its own rule adds to
 * the record's text rule when that rule ran on the record (text_checked),
 * and walks it whole otherwise: a control character in a field is refused
 * either way, and a tab in a one-line field after the record's rule (which
 * allows tabs) passed. */
static void text_rule_trusted_only_once_run(void **state)
{
    uint8_t *buf;
    proto_record r;
    char err[512];
    /* U+0007 in 事業者名: no text rule ran, so the validator's own walk
     * must find it (trusting an unchecked body would accept it in place) */
    sign_header_only("company", "株式会社\aテスト", &buf, &r);
    assert_int_equal(r.text_checked, 0);
    err[0] = 0;
    assert_int_not_equal(catalog_record_validate(&r, err, sizeof err), 0);
    assert_non_null(strstr(err, "事業者名 (company)"));
    /* and the record's rule refuses it, leaving the record unchecked */
    assert_int_not_equal(proto_record_check_text(&r, NULL, 0), 0);
    assert_int_equal(r.text_checked, 0);
    assert_int_not_equal(catalog_record_validate(&r, err, sizeof err), 0);
    free(buf);
    /* a tab and a line break in one-line fields, after the record's rule
     * passed them (it allows both in any string) */
    const char *one_line[][2] = { { "company", "株式会社\tテスト" }, { "product", "AI\n議事録" },
                                  { "status_reason", "一\t二" } };
    for (size_t i = 0; i < N(one_line); i++) {
        sign_header_only(one_line[i][0], one_line[i][1], &buf, &r);
        assert_int_equal(proto_record_check_text(&r, err, sizeof err), 0);
        assert_int_equal(r.text_checked, 1);
        err[0] = 0;
        if (catalog_record_validate(&r, err, sizeof err) == 0)
            fail_msg("%s with a tab or line break accepted", one_line[i][0]);
        if (!strstr(err, "改行やタブ"))
            fail_msg("%s: %s", one_line[i][0], err);
        free(buf);
    }
    /* in a multi-line field both stay allowed */
    sign_header_only("summary", "一行目\n二行目\tタブ", &buf, &r);
    assert_int_equal(proto_record_check_text(&r, err, sizeof err), 0);
    if (catalog_record_validate(&r, err, sizeof err))
        fail_msg("multi-line summary refused: %s", err);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(built_bodies_accepted),
        cmocka_unit_test(hand_built_valid_accepted),
        cmocka_unit_test(corporate_number_check_digit),
        cmocka_unit_test(newline_only_in_multiline_fields),
        cmocka_unit_test(over_long_fields),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(enums_and_status),
        cmocka_unit_test(dates),
        cmocka_unit_test(other_rules),
        cmocka_unit_test(unknown_fields_allowed),
        cmocka_unit_test(duplicate_field_refused),
        cmocka_unit_test(keys_and_tombstones),
        cmocka_unit_test(multiline_flag),
        cmocka_unit_test(in_place_edges),
        cmocka_unit_test(text_rule_trusted_only_once_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
