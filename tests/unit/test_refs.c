/* tests/unit/test_refs.c — catalog/write (what a record cites, derived
 * certifications, withdrawal), the schema fields they use, catalog/diff
 * (history's changes) and proto_body_encode, over a real store.
 *
 * Two identities are made once per binary: F ("this node", 131059 文京区,
 * the founder) and M (131016 千代田区, admitted by F).  Every test gets a
 * fresh store holding M's certifications, signed here and applied as a
 * node applies a peer's records:
 *
 *   key  product        法人番号  認定日 .. 有効期限          状態
 *   M-OK 避難誘導       A        2026-04-01 .. 2029-03-31  認定中  (with address, summary, tags…)
 *   M-RV 取消の製品     A        2026-04-01 .. 2029-03-31  取消 (2026-07-01, 虚偽の申請)
 *   M-SU 停止の製品     A        2026-04-01 .. 2029-03-31  停止 (no date, no reason)
 *   M-LP 期限切れ       A        2025-04-01 .. 2026-03-31  認定中
 *   M-JU 六月認定       A        2026-06-01 .. 2029-03-31  認定中
 *   M-WD 取り下げた製品 A        withdrawn (a tombstone is current)
 *
 * 法人番号 A = 5999900000111, B = 1999900000222 (check digits worked out
 * by tests/data/gen_fixtures.py's rule). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/diff.h"
#include "catalog/schema.h"
#include "catalog/write.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"
#include "store/store.h"

#define CORP_A "5999900000111"
#define CORP_B "1999900000222"

enum { F, M, NIDS };
static const char *const id_code[NIDS] = { "131059", "131016" };
static const char *const id_name[NIDS] = { "文京区", "千代田区" };

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    return identities_make(tmpdir, "/tmp/test_refs.XXXXXX", ids, NIDS, id_code, id_name, NULL);
}

static int group_teardown(void **state)
{
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the fixture ---- */

typedef struct {
    store *st;
    proto_id genesis;
    uint64_t mseq;
} fx;

static proto_body *build(const char *kind, const catalog_kv *kv, size_t n)
{
    char err[512];
    proto_body *b = NULL;
    if (catalog_build(kind, kv, n, &b, err, sizeof err))
        fail_msg("catalog_build: %s", err);
    return b;
}

/* Non-NULL pairs of (name, value) into kv; returns the count. */
static size_t kvs(catalog_kv *kv, const char *const *pairs, size_t npairs)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < npairs; i += 2)
        if (pairs[i + 1]) {
            kv[n].name = pairs[i];
            kv[n++].value = pairs[i + 1];
        }
    return n;
}

/* A record of M signed here and applied as from a peer.  Frees body. */
static void put_m(fx *f, const char *kind, const char *key, uint32_t flags, proto_body *body)
{
    char err[256];
    uint8_t *raw = NULL;
    size_t len;
    proto_record r;
    uint64_t seq = ++f->mseq;
    if (proto_record_sign(&f->genesis, &ids[M].id, kind, key, seq, 1700000000000ull + seq, flags, body,
                          ids[M].key, &raw, &len, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    assert_int_equal(proto_record_decode(raw, len, &r, err, sizeof err), 0);
    EVP_PKEY *k = NULL;
    int pre = store_precheck(f->st, &r, &k, err, sizeof err);
    if (pre != STORE_NEW)
        fail_msg("precheck %s: %s (%s)", key, store_result_str(pre), err);
    EVP_PKEY_free(k);
    int res = -1;
    if (store_apply_batch(f->st, &r, 1, &res, err, sizeof err) || res != STORE_NEW)
        fail_msg("apply %s: %s", key, err);
    free(raw);
}

static void m_cert(fx *f, const char *key, const char *product, const char *on, const char *until,
                   const char *status, const char *status_date, const char *status_reason)
{
    const char *p[] = { "company", "株式会社さくら防災ラボ", "corporate_number", CORP_A,
                        "address", "東京都千代田区九段南九丁目9番9号", "established", "2019-04-01",
                        "product", product, "summary", "避難所までの経路を表示する", "areas", "防災、行政DX",
                        "tags", "サイネージ、多言語", "url", "https://example.jp/sakura",
                        "certified_on", on, "valid_until", until, "status", status,
                        "status_date", status_date, "status_reason", status_reason,
                        "contact", "産業振興課 03-0000-0101" };
    catalog_kv kv[N(p) / 2];
    put_m(f, "certification", key, 0, build("certification", kv, kvs(kv, p, N(p))));
}

static int setup(void **state)
{
    char err[768], path[160], hx[65];
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(path, sizeof path, "%s/store%d", tmpdir, dirno++);
    if (store_open(path, 64, &f->st, err, sizeof err) || store_bind_self(f->st, &ids[F].id, err, sizeof err) ||
        store_create_genesis(f->st, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("store: %s", err);
    store_info in;
    assert_int_equal(store_info_get(f->st, &in), 0);
    f->genesis = in.genesis;
    proto_body *b = proto_body_new();
    assert_int_equal(proto_body_str(b, "op", "admit"), 0);
    assert_int_equal(proto_body_bin(b, "cert", ids[M].der, ids[M].der_len), 0);
    assert_int_equal(proto_body_str(b, "code", ids[M].code), 0);
    assert_int_equal(proto_body_str(b, "name", ids[M].name), 0);
    assert_int_equal(proto_body_str(b, "address", ""), 0);
    proto_hex(ids[M].id.b, 32, hx);
    if (store_write(f->st, ids[F].key, "member", hx, 0, b, NULL, NULL, err, sizeof err))
        fail_msg("admit: %s", err);
    proto_body_free(b);

    m_cert(f, "M-OK", "避難誘導", "2026-04-01", "2029-03-31", NULL, NULL, NULL);
    m_cert(f, "M-RV", "取消の製品", "2026-04-01", "2029-03-31", "取消", "2026-07-01", "虚偽の申請");
    m_cert(f, "M-SU", "停止の製品", "2026-04-01", "2029-03-31", "停止", NULL, NULL);
    m_cert(f, "M-LP", "期限切れ", "2025-04-01", "2026-03-31", NULL, NULL, NULL);
    m_cert(f, "M-JU", "六月認定", "2026-06-01", "2029-03-31", NULL, NULL, NULL);
    m_cert(f, "M-WD", "取り下げた製品", "2026-04-01", "2029-03-31", NULL, NULL, NULL);
    proto_body *t = proto_body_new();
    assert_int_equal(proto_body_str(t, "reason", "誤登録"), 0);
    put_m(f, "certification", "M-WD", PROTO_FLAG_TOMBSTONE, t);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_close(f->st);
    free(f);
    return 0;
}

/* ---- writing as this node ---- */

typedef struct {
    int rc;
    char err[2048];
    char warnings[4096];
    int tombstone;
    uint32_t flags;   /* of the item handed to the writer */
    size_t nw;
} outcome;

/* One item of F, prepared and (if accepted) stored, as catalogd does. */
static outcome put_f(fx *f, const char *kind, const char *key, int mode, unsigned checks,
                     const char *const *pairs, size_t npairs)
{
    outcome o;
    memset(&o, 0, sizeof o);
    catalog_kv kv[32];
    catalog_put it;
    memset(&it, 0, sizeof it);
    it.kind = kind;
    snprintf(it.key, sizeof it.key, "%s", key);
    it.mode = mode;
    it.fields = kv;
    it.nfields = kvs(kv, pairs, npairs);
    it.checks = checks;
    store_write_item w[1];
    o.rc = catalog_prepare(f->st, &ids[F].id, ids[F].key, &it, 1, NULL, NULL, w, &o.nw, o.err, sizeof o.err);
    snprintf(o.warnings, sizeof o.warnings, "%s", it.warnings ? it.warnings : "");
    o.tombstone = it.tombstone;
    if (o.rc == 0 && o.nw) {
        char werr[256];
        o.flags = w[0].flags;
        if (store_write_many(f->st, ids[F].key, w, o.nw, werr, sizeof werr))
            fail_msg("store_write_many: %s", werr);
        free(w[0].out);
    }
    catalog_put_free(&it, 1);
    return o;
}

#define PUT(f, kind, key, mode, checks, ...) \
    put_f((f), (kind), (key), (mode), (checks), (const char *const[]){ __VA_ARGS__ }, \
          N(((const char *const[]){ __VA_ARGS__ })))

typedef struct { uint8_t *raw; size_t len; } copy;

static int copy_cb(void *ctx, const uint8_t *rec, size_t len)
{
    copy *c = ctx;
    c->raw = malloc(len);
    memcpy(c->raw, rec, len);
    c->len = len;
    return 1;
}

/* A field of who's current (kind, key) record ("" if absent); -1 if there is no record. */
static int field_of(fx *f, int who, const char *kind, const char *key, const char *field, char *out, size_t n,
                    uint32_t *flags)
{
    copy c = { NULL, 0 };
    proto_record r;
    out[0] = 0;
    if (store_get_current(f->st, &ids[who].id, kind, key, copy_cb, &c) != 0)
        return -1;
    assert_int_equal(proto_record_decode(c.raw, c.len, &r, NULL, 0), 0);
    if (proto_body_copy_str(&r, field, out, n))
        out[0] = 0;
    if (flags)
        *flags = r.flags;
    free(c.raw);
    return 0;
}

/* A field of who's current (kind, key) record as people read it (lists, integers too). */
static void text_of(fx *f, int who, const char *kind, const char *key, const char *field, char *out, size_t n)
{
    copy c = { NULL, 0 };
    proto_record r;
    assert_int_equal(store_get_current(f->st, &ids[who].id, kind, key, copy_cb, &c), 0);
    assert_int_equal(proto_record_decode(c.raw, c.len, &r, NULL, 0), 0);
    catalog_field_text(&r, field, out, n);
    free(c.raw);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* M's member label, "131016 千代田区". */
#define MLABEL "131016 千代田区"

/* ---- adoptions citing certifications ---- */

static void adoption_must_cite_a_held_certification(void **state)
{
    fx *f = *state;
    char v[512];
    outcome o = PUT(f, "adoption", "A-1", CATALOG_PUT_ADD, 0, "認定", "131016/M-NONE", "年度", "2026", "原課",
                    "総務課", "契約方法", "4号随契");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "認定 " MLABEL "/M-NONE はこのノードにまだありません");
    assert_err_has(o.err, "--allow-unknown");
    assert_int_equal(field_of(f, F, "adoption", "A-1", "department", v, sizeof v, NULL), -1);
    /* a withdrawn one is refused the same way, saying so */
    o = PUT(f, "adoption", "A-1", CATALOG_PUT_ADD, 0, "認定", "131016/M-WD", "年度", "2026", "原課", "総務課",
            "契約方法", "4号随契");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "認定 " MLABEL "/M-WD は取り下げられています");
    /* --allow-unknown: written, with a warning that is not --strict's business */
    o = PUT(f, "adoption", "A-1", CATALOG_PUT_ADD, CATALOG_PUT_ALLOW_UNKNOWN | CATALOG_PUT_STRICT, "認定",
            "131016/M-NONE", "年度", "2026", "原課", "総務課", "契約方法", "4号随契");
    assert_int_equal(o.rc, 0);
    assert_int_equal(lines(o.warnings), 1);
    assert_err_has(o.warnings, "M-NONE はこのノードにまだありません");
    assert_int_equal(field_of(f, F, "adoption", "A-1", "department", v, sizeof v, NULL), 0);
    /* an update that keeps the reference: a warning only */
    o = PUT(f, "adoption", "A-1", CATALOG_PUT_UPDATE, 0, "成果", "試行中");
    assert_int_equal(o.rc, 0);
    assert_err_has(o.warnings, "まだありません");
    /* changing it to another missing one is refused */
    o = PUT(f, "adoption", "A-1", CATALOG_PUT_UPDATE, 0, "認定", "131016/M-NONE2");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "M-NONE2");
    /* a held one in force: no warnings; the reference is stored as MEMBER_ID/KEY */
    o = PUT(f, "adoption", "A-2", CATALOG_PUT_ADD, CATALOG_PUT_STRICT, "認定", "131016/M-OK", "年度", "令和8年度",
            "原課", "総務課", "契約方法", "4号随契", "期間開始", "2026-04-01");
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.warnings, "");
    char want[200], mid[PROTO_ID_STR];
    proto_id_str(&ids[M].id, mid);
    snprintf(want, sizeof want, "%s/M-OK", mid);
    field_of(f, F, "adoption", "A-2", "certification", v, sizeof v, NULL);
    assert_string_equal(v, want);
    /* an unchanged upsert is not checked again (nothing is written) */
    o = PUT(f, "adoption", "A-2", CATALOG_PUT_UPSERT, CATALOG_PUT_STRICT, "認定", "131016/M-OK", "年度",
            "令和8年度", "原課", "総務課", "契約方法", "4号随契", "期間開始", "2026-04-01");
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.nw, 0);
}

typedef struct {
    const char *key, *ref, *fy, *from;
    const char *warning;          /* the whole warning, or NULL for none */
} ref_case;

static void adoption_warnings_and_strict(void **state)
{
    fx *f = *state;
    static const ref_case cases[] = {
        { "W-RV", "M-RV", "2026", NULL,
          "認定 " MLABEL "/M-RV は取消されています（2026-07-01 から。理由: 虚偽の申請）\n" },
        { "W-SU", "M-SU", "2026", NULL, "認定 " MLABEL "/M-SU は停止されています\n" },
        /* FY2026 starts 2026-04-01, after M-LP's 2026-03-31 */
        { "W-LP", "M-LP", "2026", NULL,
          "年度 令和8年度（2026年度）は認定 " MLABEL "/M-LP の有効期限 2026-03-31 より後です（期間満了）\n" },
        { "W-LP25", "M-LP", "2025", NULL, NULL },
        /* FY2025 ends 2026-03-31, before M-JU's 2026-06-01 */
        { "W-JU25", "M-JU", "2025", NULL,
          "年度 令和7年度（2025年度）は認定 " MLABEL "/M-JU の認定日 2026-06-01 より前です\n" },
        { "W-JU", "M-JU", "2026", "2026-05-01",
          "期間開始 2026-05-01 は認定 " MLABEL "/M-JU の認定日 2026-06-01 より前です\n" },
        { "W-JU2", "M-JU", "2026", "2026-06-01", NULL },
        { "W-OK", "M-OK", "2028", "2029-04-01",
          "期間開始 2029-04-01 は認定 " MLABEL "/M-OK の有効期限 2029-03-31 より後です（期間満了）\n" },
    };
    for (size_t i = 0; i < N(cases); i++) {
        const ref_case *c = &cases[i];
        char ref[80], v[64];
        snprintf(ref, sizeof ref, "131016/%s", c->ref);
        outcome o = PUT(f, "adoption", c->key, CATALOG_PUT_ADD, CATALOG_PUT_STRICT, "認定", ref, "年度", c->fy,
                        "原課", "総務課", "契約方法", "4号随契", "期間開始", c->from);
        if (!c->warning) {
            if (o.rc != 0 || o.warnings[0])
                fail_msg("%s: %s %s", c->key, o.err, o.warnings);
            continue;
        }
        assert_int_equal(o.rc, -1);
        assert_err_has(o.err, "--strict のため登録しません: ");
        char line[600];
        snprintf(line, sizeof line, "%.*s", (int)strlen(c->warning) - 1, c->warning);
        assert_err_has(o.err, line);
        assert_int_equal(field_of(f, F, "adoption", c->key, "department", v, sizeof v, NULL), -1);
        o = PUT(f, "adoption", c->key, CATALOG_PUT_ADD, 0, "認定", ref, "年度", c->fy, "原課", "総務課",
                "契約方法", "4号随契", "期間開始", c->from);
        assert_int_equal(o.rc, 0);
        assert_string_equal(o.warnings, c->warning);
    }
}

/* ---- derived certifications ---- */

static void derived_copies_the_subject(void **state)
{
    fx *f = *state;
    char v[512], w[512];
    outcome o = PUT(f, "certification", "F-D1", CATALOG_PUT_ADD, CATALOG_PUT_STRICT, "依拠した認定", "131016/M-OK",
                    "認定日", "2026-05-01", "有効期限", "fy-end", "問合せ先", "商工観光課 03-0000-0001");
    if (o.rc)
        fail_msg("%s", o.err);
    assert_string_equal(o.warnings, "");
    for (size_t i = 0; catalog_subject_fields[i]; i++) {
        text_of(f, F, "certification", "F-D1", catalog_subject_fields[i], v, sizeof v);
        text_of(f, M, "certification", "M-OK", catalog_subject_fields[i], w, sizeof w);
        assert_string_equal(v, w);
        assert_true(v[0] || !strcmp(catalog_subject_fields[i], "price"));   /* M-OK has all but 参考価格 */
    }
    text_of(f, F, "certification", "F-D1", "areas", v, sizeof v);
    assert_string_equal(v, "防災、行政DX");
    field_of(f, F, "certification", "F-D1", "contact", v, sizeof v, NULL);
    assert_string_equal(v, "商工観光課 03-0000-0001");        /* not a subject field: its own */
    field_of(f, F, "certification", "F-D1", "valid_until", v, sizeof v, NULL);
    assert_string_equal(v, "2027-03-31");
    /* a given field overrides its copy */
    o = PUT(f, "certification", "F-D2", CATALOG_PUT_ADD, 0, "依拠した認定", "131016/M-OK", "認定日", "2026-05-01",
            "有効期限", "fy-end", "概要", "文京区向けの説明");
    assert_int_equal(o.rc, 0);
    field_of(f, F, "certification", "F-D2", "summary", v, sizeof v, NULL);
    assert_string_equal(v, "文京区向けの説明");
    field_of(f, F, "certification", "F-D2", "product", v, sizeof v, NULL);
    assert_string_equal(v, "避難誘導");
    /* another company: refused, naming both numbers */
    o = PUT(f, "certification", "F-D3", CATALOG_PUT_ADD, 0, "依拠した認定", "131016/M-OK", "認定日", "2026-05-01",
            "有効期限", "fy-end", "法人番号", CORP_B);
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.err, "法人番号 " CORP_B " は依拠した認定 " MLABEL "/M-OK の法人番号 " CORP_A
                               " と異なります（別の事業者の認定には依拠できません）");
    /* not held: refused before the missing subject fields would be */
    o = PUT(f, "certification", "F-D3", CATALOG_PUT_ADD, 0, "依拠した認定", "131016/M-NONE", "認定日", "2026-05-01",
            "有効期限", "fy-end");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "依拠した認定 " MLABEL "/M-NONE はこのノードにまだありません");
    /* … and with --allow-unknown the fields must be given */
    o = PUT(f, "certification", "F-D3", CATALOG_PUT_ADD, CATALOG_PUT_ALLOW_UNKNOWN, "依拠した認定", "131016/M-NONE",
            "認定日", "2026-05-01", "有効期限", "fy-end");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "(company): 必須です");
    /* lapsed on this 認定日, or not yet certified then */
    o = PUT(f, "certification", "F-D4", CATALOG_PUT_ADD, 0, "依拠した認定", "131016/M-LP", "認定日", "2026-05-01",
            "有効期限", "fy-end");
    assert_int_equal(o.rc, 0);
    assert_string_equal(o.warnings, "認定日 2026-05-01 には依拠した認定 " MLABEL
                                    "/M-LP は有効期限 2026-03-31 を過ぎています（期間満了）\n");
    o = PUT(f, "certification", "F-D5", CATALOG_PUT_ADD, CATALOG_PUT_STRICT, "依拠した認定", "131016/M-JU", "認定日",
            "2026-05-01", "有効期限", "fy-end");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "認定日 2026-05-01 は依拠した認定 " MLABEL "/M-JU の認定日 2026-06-01 より前です");
    /* revoked: a warning */
    o = PUT(f, "certification", "F-D6", CATALOG_PUT_ADD, 0, "依拠した認定", "131016/M-RV", "認定日", "2026-05-01",
            "有効期限", "fy-end");
    assert_int_equal(o.rc, 0);
    assert_err_has(o.warnings, "依拠した認定 " MLABEL "/M-RV は取消されています");
    /* itself */
    o = PUT(f, "certification", "F-D1", CATALOG_PUT_UPDATE, 0, "依拠した認定", "131059/F-D1");
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.err, "依拠した認定 に自分自身（F-D1）は指定できません");
    /* an update of other fields copies nothing again, nor does naming the same one again */
    o = PUT(f, "certification", "F-D2", CATALOG_PUT_UPDATE, 0, "製品・サービス名", "避難誘導（文京区版）");
    assert_int_equal(o.rc, 0);
    field_of(f, F, "certification", "F-D2", "product", v, sizeof v, NULL);
    assert_string_equal(v, "避難誘導（文京区版）");
    o = PUT(f, "certification", "F-D2", CATALOG_PUT_UPDATE, 0, "依拠した認定", "131016/M-OK", "概要",
            "文京区向けの説明");
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.nw, 0);                                  /* unchanged */
    field_of(f, F, "certification", "F-D2", "product", v, sizeof v, NULL);
    assert_string_equal(v, "避難誘導（文京区版）");
    /* an upsert is the whole record: copied again, so an unchanged row stays unchanged */
    o = PUT(f, "certification", "F-D1", CATALOG_PUT_UPSERT, CATALOG_PUT_STRICT, "依拠した認定", "131016/M-OK",
            "認定日", "2026-05-01", "有効期限", "fy-end", "問合せ先", "商工観光課 03-0000-0001");
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.nw, 0);
    /* another one: its subject is copied over the current one */
    o = PUT(f, "certification", "F-D2", CATALOG_PUT_UPDATE, 0, "依拠した認定", "131016/M-JU", "認定日",
            "2026-06-01");
    assert_int_equal(o.rc, 0);
    field_of(f, F, "certification", "F-D2", "product", v, sizeof v, NULL);
    assert_string_equal(v, "六月認定");
    field_of(f, F, "certification", "F-D2", "summary", v, sizeof v, NULL);
    assert_string_equal(v, "避難所までの経路を表示する");
}

/* ---- withdrawal ---- */

static void withdraw(void **state)
{
    fx *f = *state;
    char v[512];
    uint32_t flags;
    assert_int_equal(catalog_put_mode_parse("withdraw"), CATALOG_PUT_WITHDRAW);
    outcome o = PUT(f, "certification", "F-1", CATALOG_PUT_ADD, 0, "事業者名", "株式会社テスト", "製品・サービス名",
                    "試験製品", "分野", "防災", "認定日", "2026-04-01", "有効期限", "fy-end");
    assert_int_equal(o.rc, 0);
    o = PUT(f, "certification", "F-1", CATALOG_PUT_WITHDRAW, 0, "reason", "  ");
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.err, "取り下げには理由（--reason）が必要です");
    o = PUT(f, "certification", "F-1", CATALOG_PUT_WITHDRAW, 0, "reason", "試験", "概要", "x");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "'概要'");
    o = PUT(f, "certification", "F-1", CATALOG_PUT_WITHDRAW, 0, "理由", " 誤って登録した\n");
    assert_int_equal(o.rc, 0);
    assert_true(o.tombstone);
    assert_int_equal(o.flags, PROTO_FLAG_TOMBSTONE);
    assert_int_equal(field_of(f, F, "certification", "F-1", "reason", v, sizeof v, &flags), 0);
    assert_string_equal(v, "誤って登録した");
    assert_int_equal(flags, PROTO_FLAG_TOMBSTONE);
    /* again, an update, or another member's record: refused */
    o = PUT(f, "certification", "F-1", CATALOG_PUT_WITHDRAW, 0, "reason", "もう一度");
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.err, "認定 F-1 は取り下げられています（もう一度登録するには add）");
    o = PUT(f, "certification", "F-1", CATALOG_PUT_UPDATE, 0, "概要", "x");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "取り下げられています");
    o = PUT(f, "certification", "M-OK", CATALOG_PUT_WITHDRAW, 0, "reason", "x");
    assert_int_equal(o.rc, -1);
    assert_err_has(o.err, "認定 M-OK は " MLABEL " (");
    o = PUT(f, "adoption", "A-9", CATALOG_PUT_WITHDRAW, 0, "reason", "x");
    assert_int_equal(o.rc, -1);
    assert_string_equal(o.err, "この団体には導入実績 A-9 がありません");
    /* the key can be added again */
    o = PUT(f, "certification", "F-1", CATALOG_PUT_ADD, 0, "事業者名", "株式会社テスト", "製品・サービス名",
            "正しい製品", "分野", "防災", "認定日", "2026-04-01", "有効期限", "fy-end");
    assert_int_equal(o.rc, 0);
    assert_int_equal(field_of(f, F, "certification", "F-1", "product", v, sizeof v, &flags), 0);
    assert_string_equal(v, "正しい製品");
    assert_int_equal(flags, 0);
    /* an adoption is withdrawn the same way */
    o = PUT(f, "adoption", "A-1", CATALOG_PUT_ADD, 0, "認定", "131016/M-OK", "年度", "2026", "原課", "総務課",
            "契約方法", "4号随契");
    assert_int_equal(o.rc, 0);
    o = PUT(f, "adoption", "A-1", CATALOG_PUT_WITHDRAW, 0, "reason", "重複");
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.flags, PROTO_FLAG_TOMBSTONE);
}

/* ---- the schema's new fields ---- */

static void schema_fields(void **state)
{
    char err[512] = "", out[256];
    const catalog_field *sd = catalog_field_find("certification", "状態変更日");
    assert_non_null(sd);
    assert_string_equal(sd->name, "status_date");
    assert_int_equal(sd->type, CAT_DATE);
    assert_string_equal(catalog_field_find("certification", "状態変更理由")->name, "status_reason");
    const catalog_field *ac = catalog_field_find("adoption", "問合せ先");
    const catalog_field *cc = catalog_field_find("certification", "問合せ先");
    assert_non_null(ac);
    assert_string_equal(ac->name, "contact");
    assert_int_equal(ac->type, cc->type);
    assert_int_equal(ac->max, cc->max);
    assert_int_equal(ac->required, 0);
    /* subject fields are certification fields */
    for (size_t i = 0; catalog_subject_fields[i]; i++)
        assert_non_null(catalog_field_find("certification", catalog_subject_fields[i]));
    assert_string_equal(catalog_subject_fields[0], "company");

    /* a status date may not precede 認定日 */
    const catalog_kv bad[] = { { "company", "株式会社テスト" }, { "product", "製品" }, { "areas", "防災" },
                               { "certified_on", "2026-04-01" }, { "valid_until", "fy-end" },
                               { "status_date", "2026年3月31日" } };
    proto_body *b = NULL;
    assert_int_equal(catalog_build("certification", bad, N(bad), &b, err, sizeof err), -1);
    assert_string_equal(err, "状態変更日 (status_date): 2026-03-31 は認定日 2026-04-01 より前です");

    /* catalog_field_canon: one field as it would be stored */
    char mid[PROTO_ID_STR], want[200];
    proto_id_str(&ids[M].id, mid);
    char typed[200];
    snprintf(typed, sizeof typed, "  %s / M-OK ", mid);
    assert_int_equal(catalog_field_canon("adoption", "認定", typed, out, sizeof out, err, sizeof err), 0);
    snprintf(want, sizeof want, "%s/M-OK", mid);
    assert_string_equal(out, want);
    assert_int_equal(catalog_field_canon("certification", "状態", "revoked", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "取消");
    assert_int_equal(catalog_field_canon("certification", "status_date", "２０２６年４月１日", out, sizeof out, err,
                                         sizeof err), 0);
    assert_string_equal(out, "2026-04-01");
    assert_int_equal(catalog_field_canon("certification", "derived_from", " ", out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "");
    assert_int_equal(catalog_field_canon("certification", "derived_from", "131016/M-OK", out, sizeof out, err,
                                         sizeof err), -1);
    assert_err_has(err, "依拠した認定 (derived_from)");
    assert_int_equal(catalog_field_canon("adoption", "年度", "2026", out, sizeof out, err, sizeof err), -1);
    assert_int_equal(catalog_field_canon("adoption", "nope", "x", out, sizeof out, err, sizeof err), -1);
    assert_int_equal(catalog_field_canon("certification", "概要", "長い概要", out, 4, err, sizeof err), -1);
}

/* ---- proto_body_encode ---- */

static void body_encode(void **state)
{
    const catalog_kv kv[] = { { "company", "株式会社テスト" }, { "product", "製品" }, { "areas", "防災、教育" },
                              { "certified_on", "2026-04-01" }, { "valid_until", "fy-end" } };
    proto_body *b = build("certification", kv, N(kv));
    uint8_t *map, *raw;
    size_t ml, rl;
    char err[256];
    assert_int_equal(proto_body_encode(b, &map, &ml), 0);
    assert_int_equal(proto_record_sign(&ids[F].id, &ids[F].id, "certification", "K", 1, 1, 0, b, ids[F].key, &raw,
                                       &rl, err, sizeof err), 0);
    proto_record r, v;
    assert_int_equal(proto_record_decode(raw, rl, &r, NULL, 0), 0);
    assert_int_equal(r.body_len, ml);
    assert_memory_equal(r.body, map, ml);
    memset(&v, 0, sizeof v);
    v.body = map;
    v.body_len = ml;
    char s[64];
    assert_int_equal(proto_body_copy_str(&v, "valid_until", s, sizeof s), 0);
    assert_string_equal(s, "2027-03-31");
    free(map);
    free(raw);
    proto_body_free(b);
    proto_body *e = proto_body_new();
    assert_int_equal(proto_body_encode(e, &map, &ml), 0);
    assert_int_equal(ml, 1);
    assert_int_equal(map[0], 0x80);   /* fixmap of 0 entries */
    free(map);
    proto_body_free(e);
}

/* ---- catalog/diff ---- */

typedef struct { char s[2048]; } diff_out;

static int diff_cb(void *ctx, const catalog_field *fld, const char *was, const char *now)
{
    diff_out *d = ctx;
    snprintf(d->s + strlen(d->s), sizeof d->s - strlen(d->s), "%s:%s>%s;", fld->name, was, now);
    return 0;
}

static void version(const char *kind, const catalog_kv *kv, size_t n, uint32_t flags, uint8_t **raw,
                    proto_record *r)
{
    proto_body *b = build(kind, kv, n);
    size_t len;
    char err[256];
    assert_int_equal(proto_record_sign(&ids[F].id, &ids[F].id, kind, "K", 1, 1, flags, b, ids[F].key, raw, &len,
                                       err, sizeof err), 0);
    assert_int_equal(proto_record_decode(*raw, len, r, NULL, 0), 0);
    proto_body_free(b);
}

static void diff(void **state)
{
    const catalog_kv k1[] = { { "company", "株式会社テスト" }, { "product", "製品" }, { "areas", "防災、教育" },
                              { "certified_on", "2026-04-01" }, { "valid_until", "fy-end" },
                              { "summary", "初め" } };
    const catalog_kv k2[] = { { "company", "株式会社テスト" }, { "product", "製品" }, { "areas", "防災" },
                              { "certified_on", "2026-04-01" }, { "valid_until", "fy-end" },
                              { "status", "停止" }, { "status_reason", "調査中" } };
    uint8_t *r1, *r2;
    proto_record a, b;
    version("certification", k1, N(k1), 0, &r1, &a);
    version("certification", k2, N(k2), 0, &r2, &b);
    char t[64];
    assert_string_equal(catalog_field_text(&a, "areas", t, sizeof t), "防災、教育");
    assert_string_equal(catalog_field_text(&a, "status", t, sizeof t), "認定中");
    assert_string_equal(catalog_field_text(&a, "tags", t, sizeof t), "");
    assert_string_equal(catalog_field_text(NULL, "areas", t, sizeof t), "");
    assert_string_equal(catalog_field_text(&a, "areas", t, 8), "防災");   /* cut at a character */
    diff_out d = { "" };
    assert_int_equal(catalog_diff(&a, &b, diff_cb, &d), 4);
    assert_string_equal(d.s, "summary:初め>;areas:防災、教育>防災;status:認定中>停止;status_reason:>調査中;");
    assert_int_equal(catalog_diff(&a, &a, diff_cb, &d), 0);
    /* a first version: every field is new; a tombstone has none */
    d.s[0] = 0;
    /* company product areas programme legal_ground certified_on valid_until status status_reason visibility */
    assert_int_equal(catalog_diff(NULL, &b, NULL, NULL), 10);
    proto_record tomb = b;
    tomb.flags = PROTO_FLAG_TOMBSTONE;
    assert_int_equal(catalog_diff(&b, &tomb, NULL, NULL), 10);
    /* adoptions: integers as decimal text */
    const catalog_kv a1[] = { { "certification", "AAAA/K" }, { "fiscal_year", "令和8年度" },
                              { "department", "総務課" }, { "route", "4号随契" } };
    char ref[200];
    proto_id_str(&ids[M].id, ref);
    strcat(ref, "/K");
    catalog_kv a2[N(a1) + 1];
    memcpy(a2, a1, sizeof a1);
    a2[0].value = ref;
    a2[N(a1)] = (catalog_kv){ "amount", "1,200,000円" };
    uint8_t *r3;
    proto_record c;
    version("adoption", a2, N(a2), 0, &r3, &c);
    assert_string_equal(catalog_field_text(&c, "fiscal_year", t, sizeof t), "2026");
    assert_string_equal(catalog_field_text(&c, "amount", t, sizeof t), "1200000");
    free(r1);
    free(r2);
    free(r3);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(adoption_must_cite_a_held_certification),
        T(adoption_warnings_and_strict),
        T(derived_copies_the_subject),
        T(withdraw),
        cmocka_unit_test(schema_fields),
        cmocka_unit_test(body_encode),
        cmocka_unit_test(diff),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
