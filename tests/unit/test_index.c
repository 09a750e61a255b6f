/* tests/unit/test_index.c — catalog/index (search) and catalog/write (the
 * cput write path) over a real store.
 *
 * Three identities are made once per binary with certs_init in a temporary
 * directory: F (the founder, "this node"), M and R, both admitted by F.
 * Every test gets a fresh store holding the same small catalog: F's
 * records are written the way catalogd writes them (catalog_prepare, then
 * store_write_many); M's and R's are signed here and applied the way a node
 * takes records from a peer.  Expected hits are worked out by hand from the
 * catalog below, not by calling the code under test.
 *
 *   key  author product (法人番号)      areas       dates               status visibility
 *   F-1  F      AI議事録 (A)          行政DX      2026-04-01..2028-03-31 認定中 public   tag 音声認識
 *   M-1  M      ＡＩ議事録 (A, hyphens) 防災        2026-05-01..2027-03-31 認定中 alliance
 *   F-2  F      避難所マップ (B)      防災        2025-04-01..2026-03-31 認定中 alliance (期間満了 by date)
 *   M-2  M      道路点検 (C)          インフラ・施設 2024-04-01..2025-03-31 取消   public
 *   F-3  F      給食アプリ (none)     教育、子育て 2026-01-01..2027-12-31 停止   public
 *
 *   adoptions: R-A1 (R, cites F-1, public), R-A2 (R, cites M-2),
 *              R-A3 (R, cites F/NOPE — no such certification, public),
 *              F-A1 (F, cites M-2 written as 131016/M-2).
 *
 * F-1 and M-1 are one product (same 法人番号, same name under catalog_norm).
 * 法人番号 order: A 3200000000002 < B 6100000000001 < C 9300000000003, and
 * products without one come last.  "Today" is 2026-06-01. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "catalog/index.h"
#include "catalog/ref.h"
#include "catalog/schema.h"
#include "catalog/write.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"
#include "store/store.h"

#define TODAY 20260601
#define CORP_A "3200000000002"
#define CORP_A_HYPHENS "3-2000-0000-0002"
#define CORP_B "6100000000001"
#define CORP_C "9300000000003"

/* ---- identities ---- */

enum { F, M, R, NIDS };
static const char *const id_code[NIDS] = { "131059", "131016", "271004" };
static const char *const id_name[NIDS] = { "文京区", "千代田区", "大阪市" };
static const char id_letter[NIDS] = { 'F', 'M', 'R' };

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    return identities_make(tmpdir, "/tmp/test_index.XXXXXX", ids, NIDS, id_code, id_name, NULL);
}

static int group_teardown(void **state)
{
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

/* ---- the fixture: a store with the catalog above ---- */

typedef struct {
    store *st;
    proto_id genesis;
    uint64_t seq[NIDS];      /* last seq signed here, for M and R */
    uint64_t gen;            /* the caller's catalog generation */
    catalog_index *x;
} fx;

static void admit(fx *f, int who)
{
    char err[256], hx[65];
    proto_body *b = proto_body_new();
    assert_non_null(b);
    assert_int_equal(proto_body_str(b, "op", "admit"), 0);
    assert_int_equal(proto_body_bin(b, "cert", ids[who].der, ids[who].der_len), 0);
    assert_int_equal(proto_body_str(b, "code", ids[who].code), 0);
    assert_int_equal(proto_body_str(b, "name", ids[who].name), 0);
    assert_int_equal(proto_body_str(b, "address", ""), 0);
    proto_hex(ids[who].id.b, 32, hx);
    if (store_write(f->st, ids[F].key, "member", hx, 0, b, NULL, NULL, err, sizeof err))
        fail_msg("admit: %s", err);
    proto_body_free(b);
}

/* A record of `who` (not this node) signed here and applied as a node
 * applies a peer's record.  Frees body.  Bumps the generation. */
static void put_as(fx *f, int who, const char *kind, const char *key, uint32_t flags, proto_body *body)
{
    char err[256];
    uint8_t *raw = NULL;
    size_t len;
    proto_record r;
    uint64_t seq = ++f->seq[who];
    if (proto_record_sign(&f->genesis, &ids[who].id, kind, key, seq, 1700000000000ull + seq, flags, body,
                          ids[who].key, &raw, &len, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(body);
    assert_int_equal(proto_record_decode(raw, len, &r, err, sizeof err), 0);
    EVP_PKEY *k = NULL;
    int pre = store_precheck(f->st, &r, &k, err, sizeof err);
    if (pre != STORE_NEW)
        fail_msg("precheck %s/%s: %s (%s)", kind, key, store_result_str(pre), err);
    assert_int_equal(proto_record_verify(&r, k, err, sizeof err), 0);
    EVP_PKEY_free(k);
    int res = -1;
    if (store_apply_batch(f->st, &r, 1, &res, err, sizeof err) || res != STORE_NEW)
        fail_msg("apply %s/%s: %s", kind, key, err);
    free(raw);
    f->gen++;
}

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

#define CERT_PAIRS(company, product, corp, areas, on, until, status, vis, tags)               \
    { "company", company, "product", product, "corporate_number", corp, "areas", areas,       \
      "certified_on", on, "valid_until", until, "status", status, "visibility", vis, "tags", tags }

/* Write this node's items (all of one request) as catalogd does: prepare,
 * then store them.  Returns catalog_prepare's result; err gets its message.
 * On success the generation is bumped if anything was written. */
static int put_own(fx *f, catalog_put *items, size_t n, char *err, size_t errlen)
{
    store_write_item *w = calloc(n, sizeof *w);
    size_t nw = 0;
    assert_non_null(w);
    int rc = catalog_prepare(f->st, &ids[F].id, ids[F].key, items, n, NULL, NULL, w, &nw, err, errlen);
    if (rc == 0 && nw) {
        char werr[256];
        if (store_write_many(f->st, ids[F].key, w, nw, werr, sizeof werr))
            fail_msg("store_write_many: %s", werr);
        for (size_t i = 0; i < nw; i++)
            free(w[i].out);
        f->gen++;
    }
    catalog_put_free(items, n);
    free(w);
    return rc;
}

static void put_item(catalog_put *it, const char *kind, const char *key, int mode, const catalog_kv *kv,
                     size_t n)
{
    memset(it, 0, sizeof *it);
    it->kind = kind;
    snprintf(it->key, sizeof it->key, "%s", key);
    it->mode = mode;
    it->fields = kv;
    it->nfields = n;
}

/* One item of this node; fails the test if catalog_prepare refuses it. */
static void put_one(fx *f, const char *kind, const char *key, int mode, const catalog_kv *kv, size_t n)
{
    char err[768];
    catalog_put it;
    put_item(&it, kind, key, mode, kv, n);
    if (put_own(f, &it, 1, err, sizeof err))
        fail_msg("catalog_prepare %s: %s", key, err);
}

static void ref_of(int who, const char *key, char *out, size_t n)
{
    char ids_[PROTO_ID_STR];
    proto_id_str(&ids[who].id, ids_);
    snprintf(out, n, "%s/%s", ids_, key);
}

static proto_body *adoption(const char *ref, const char *fy, const char *dept, const char *vis)
{
    const char *p[] = { "certification", ref, "fiscal_year", fy, "department", dept, "route", "4号随契",
                        "visibility", vis };
    catalog_kv kv[8];
    return build("adoption", kv, kvs(kv, p, sizeof p / sizeof p[0]));
}

static int setup(void **state)
{
    char err[768], name[32], path[160];
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(name, sizeof name, "store%d", dirno++);
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (store_open(path, 64, &f->st, err, sizeof err) || store_bind_self(f->st, &ids[F].id, err, sizeof err) ||
        store_create_genesis(f->st, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                             "テスト連合", 1, "192.0.2.1:7400", err, sizeof err))
        fail_msg("store: %s", err);
    store_info in;
    assert_int_equal(store_info_get(f->st, &in), 0);
    f->genesis = in.genesis;
    admit(f, M);
    admit(f, R);

    /* F's three certifications in one request */
    const char *p1[] = CERT_PAIRS("株式会社アルファ", "AI議事録", CORP_A, "行政DX", "2026-04-01", "2028-03-31",
                                  NULL, "public", "音声認識");
    const char *p2[] = CERT_PAIRS("ベータ合同会社", "避難所マップ", CORP_B, "防災", "2025-04-01", "2026-03-31",
                                  NULL, NULL, NULL);
    const char *p3[] = CERT_PAIRS("ガンマ", "給食アプリ", NULL, "教育、子育て", "2026-01-01", "2027-12-31",
                                  "停止", "public", NULL);
    catalog_kv kv1[10], kv2[10], kv3[10];
    catalog_put items[3];
    put_item(&items[0], "certification", "F-1", CATALOG_PUT_ADD, kv1, kvs(kv1, p1, 18));
    put_item(&items[1], "certification", "F-2", CATALOG_PUT_ADD, kv2, kvs(kv2, p2, 18));
    put_item(&items[2], "certification", "F-3", CATALOG_PUT_UPSERT, kv3, kvs(kv3, p3, 18));
    if (put_own(f, items, 3, err, sizeof err))
        fail_msg("F's certifications: %s", err);

    const char *m1[] = CERT_PAIRS("株式会社アルファ", "ＡＩ議事録", CORP_A_HYPHENS, "防災", "2026-05-01",
                                  "2027-03-31", NULL, NULL, NULL);
    const char *m2[] = CERT_PAIRS("デルタ", "道路点検", CORP_C, "インフラ・施設", "2024-04-01", "2025-03-31",
                                  "取消", "public", NULL);
    catalog_kv kv[10];
    put_as(f, M, "certification", "M-1", 0, build("certification", kv, kvs(kv, m1, 18)));
    put_as(f, M, "certification", "M-2", 0, build("certification", kv, kvs(kv, m2, 18)));

    char ref[200];
    ref_of(F, "F-1", ref, sizeof ref);
    put_as(f, R, "adoption", "R-A1", 0, adoption(ref, "2026", "総務課", "public"));
    ref_of(M, "M-2", ref, sizeof ref);
    put_as(f, R, "adoption", "R-A2", 0, adoption(ref, "2025", "土木課", NULL));
    ref_of(F, "NOPE", ref, sizeof ref);
    put_as(f, R, "adoption", "R-A3", 0, adoption(ref, "2026", "企画課", "public"));

    /* F cites M's certification as people do: CODE/KEY */
    const char *pa[] = { "認定", "131016/M-2", "年度", "令和8年度", "原課", "道路課", "契約方法", "4号随契" };
    catalog_kv kva[4];
    put_one(f, "adoption", "F-A1", CATALOG_PUT_ADD, kva, kvs(kva, pa, 8));

    f->x = catalog_index_new();
    assert_non_null(f->x);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    catalog_index_free(f->x);
    store_close(f->st);
    free(f);
    return 0;
}

/* ---- running a search ---- */

typedef struct { char names[64][16]; size_t n; } name_list;

static int name_cb(void *ctx, const uint8_t *rec, size_t len)
{
    name_list *l = ctx;
    proto_record r;
    assert_int_equal(proto_record_decode(rec, len, &r, NULL, 0), 0);
    char who = '?';
    for (int i = 0; i < NIDS; i++)
        if (!memcmp(&r.author, &ids[i].id, 32))
            who = id_letter[i];
    assert_true(l->n < 64);
    snprintf(l->names[l->n++], sizeof l->names[0], "%c:%s", who, r.key);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* "F:F-1 M:M-1 ..." in the given order (sorted when `sorted`). */
static void join(name_list *l, int sorted, char *out, size_t n)
{
    if (sorted)
        qsort(l->names, l->n, sizeof l->names[0], cmp_str);
    out[0] = 0;
    for (size_t i = 0; i < l->n; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "", l->names[i]);
}

typedef struct {
    char certs[1024], adoptions[1024];    /* sorted */
    char order[1024];                     /* certifications in hit order */
    char adoption_order[1024];            /* adoptions in hit order */
    char groups[1024];                    /* "ncerts/nadoptions/areas,..." per product */
    size_t products, ngroups;
} result;

static result run(fx *f, const catalog_query *q)
{
    result res;
    char err[256];
    catalog_hits h;
    if (catalog_search(f->x, f->st, f->gen, q, &h, err, sizeof err))
        fail_msg("catalog_search: %s", err);
    name_list c = { .n = 0 }, a = { .n = 0 };
    assert_int_equal(store_get_refs(f->st, h.certs, h.ncerts, name_cb, &c), 0);
    assert_int_equal(store_get_refs(f->st, h.adoptions, h.nadoptions, name_cb, &a), 0);
    assert_int_equal(c.n, h.ncerts);
    assert_int_equal(a.n, h.nadoptions);
    join(&c, 0, res.order, sizeof res.order);
    join(&c, 1, res.certs, sizeof res.certs);
    join(&a, 0, res.adoption_order, sizeof res.adoption_order);
    join(&a, 1, res.adoptions, sizeof res.adoptions);
    res.products = h.products;
    res.ngroups = h.ngroups;
    res.groups[0] = 0;
    size_t nc = 0, na = 0;
    for (size_t g = 0; g < h.ngroups; g++) {
        const catalog_product *p = &h.groups[g];
        /* contiguous, in order, covering the certifications */
        assert_int_equal(p->cert, nc);
        assert_true(p->ncerts > 0);
        nc += p->ncerts;
        if (p->nadoptions) {
            assert_true(p->adoption >= na);
            na = p->adoption + p->nadoptions;
        }
        char *o = res.groups + strlen(res.groups);
        size_t left = sizeof res.groups - strlen(res.groups);
        int w = snprintf(o, left, "%s%zu/%zu/", g ? " " : "", p->ncerts, p->nadoptions);
        for (int k = 0, first = 1; catalog_areas[k]; k++)
            if ((p->areas >> k) & 1) {
                w += snprintf(o + w, left - (size_t)w, "%s%s", first ? "" : ",", catalog_areas[k]);
                first = 0;
            }
    }
    assert_int_equal(nc, h.ncerts);
    assert_true(na <= h.nadoptions);
    catalog_hits_free(&h);
    return res;
}

static catalog_query base_query(void)
{
    catalog_query q;
    catalog_query_init(&q);
    q.today = TODAY;
    q.self = ids[F].id;
    return q;
}

static const char *certs_of(fx *f, const catalog_query *q)
{
    static result r;   /* test helper only */
    r = run(f, q);
    return r.certs;
}

#define ALL_CERTS "F:F-1 F:F-2 F:F-3 M:M-1 M:M-2"

/* ---- search ---- */

static void no_filter_and_order(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    result r = run(f, &q);
    assert_string_equal(r.certs, ALL_CERTS);
    assert_int_equal(r.products, 4);
    /* adoptions citing a known certification; R-A3 cites none */
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A1 R:R-A2");
    /* grouped by product, products by normalised name in byte order
     * ("ai議事録" < 給食 < 道路 < 避難所), then by 認定日 (F-1 04-01, M-1 05-01):
     * the same order on every node, whatever order the records came in */
    assert_string_equal(r.order, "F:F-1 M:M-1 F:F-3 M:M-2 F:F-2");
    assert_string_equal(r.adoption_order, "R:R-A1 R:R-A2 F:F-A1");   /* by product, then 年度 */
    /* the products of the hits, with the union of their areas */
    assert_int_equal(r.ngroups, 4);
    assert_string_equal(r.groups, "2/1/防災,行政DX 1/0/子育て,教育 1/2/インフラ・施設 1/0/防災");

    /* all: every adoption, also one citing no known certification */
    q.all = 1;
    q.area = 0;                /* ignored with all */
    q.words = "存在しない";     /* ignored with all */
    r = run(f, &q);
    assert_string_equal(r.certs, ALL_CERTS);
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A1 R:R-A2 R:R-A3");

    catalog_index_stats s;
    catalog_index_stats_get(f->x, &s);
    assert_true(s.built);
    assert_int_equal(s.gen, f->gen);
    assert_int_equal(s.certifications, 5);
    assert_int_equal(s.adoptions, 4);
}

static void words(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.words = "議事録";
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");
    assert_string_equal(r.adoptions, "R:R-A1");
    assert_int_equal(r.products, 1);
    /* normalised: half-width kana, case; every word must occur */
    q.words = "ｱﾙﾌｧ  AI";
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    q.words = "アルファ 避難所";
    assert_string_equal(certs_of(f, &q), "");
    q.words = "避難所";
    assert_string_equal(certs_of(f, &q), "F:F-2");
    /* tags are searched; the match on F-1 brings in M-1 (same product) */
    q.words = "音声認識";
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    /* words are searched in company/product/summary/tags/address only */
    q.words = "2026";
    assert_string_equal(certs_of(f, &q), "");
    q.words = "";
    assert_string_equal(certs_of(f, &q), ALL_CERTS);

    char err[256] = "";
    catalog_hits h;
    q.words = "\xff\xfe";
    assert_int_equal(catalog_search(f->x, f->st, f->gen, &q, &h, err, sizeof err), -1);
    assert_err_has(err, "検索語が UTF-8 でないか長すぎます");
    assert_null(h.certs);
}

/* The bigram signature only skips texts that cannot match: every piece of
 * a certification's text (1 to 6 characters, wherever it starts, across
 * field boundaries too) still finds it. */
static void words_every_substring(void **state)
{
    fx *f = *state;
    static const char *const texts[] = { "ベータ合同会社", "避難所マップ", "ai議事録", "音声認識" };
    static const char *const want[] = { "F:F-2", "F:F-2", "F:F-1", "F:F-1" };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++) {
        /* code point starts */
        size_t starts[64], ns = 0, len = strlen(texts[t]);
        for (size_t i = 0; i < len; i++)
            if (((unsigned char)texts[t][i] & 0xc0) != 0x80)
                starts[ns++] = i;
        starts[ns] = len;
        for (size_t a = 0; a < ns; a++)
            for (size_t b = a + 1; b <= ns && b <= a + 6; b++) {
                char w[64];
                snprintf(w, sizeof w, "%.*s", (int)(starts[b] - starts[a]), texts[t] + starts[a]);
                catalog_query q = base_query();
                q.words = w;
                const char *got = certs_of(f, &q);
                if (!strstr(got, want[t]))
                    fail_msg("'%s' (of '%s') found '%s', not %s", w, texts[t], got, want[t]);
            }
    }
    /* two words, each somewhere: the signature takes both */
    catalog_query q = base_query();
    q.words = "ベータ 避難所";
    assert_string_equal(certs_of(f, &q), "F:F-2");
    q.words = "ベータ 議事録";
    assert_string_equal(certs_of(f, &q), "");
}

static int area_index(const char *name)
{
    for (int i = 0; catalog_areas[i]; i++)
        if (!strcmp(catalog_areas[i], name))
            return i;
    fail_msg("no area %s", name);
    return -1;
}

static void area(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.area = area_index("防災");
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-2 M:M-1");   /* M-1 brings F-1 */
    assert_int_equal(r.products, 2);
    q.area = area_index("教育");
    assert_string_equal(certs_of(f, &q), "F:F-3");
    q.area = area_index("子育て");
    assert_string_equal(certs_of(f, &q), "F:F-3");
    q.area = area_index("環境");
    assert_string_equal(certs_of(f, &q), "");

    char err[128] = "";
    catalog_hits h;
    q.area = 99;
    assert_int_equal(catalog_search(f->x, f->st, f->gen, &q, &h, err, sizeof err), -1);
    assert_string_equal(err, "分野の番号 99 はありません");
}

static void member(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.has_member = 1;
    q.member = ids[M].id;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1 M:M-2");
    q.member = ids[F].id;
    assert_string_equal(certs_of(f, &q), "F:F-1 F:F-2 F:F-3 M:M-1");   /* F-1 brings M-1 */
    q.member = ids[R].id;                              /* certified nothing */
    result r = run(f, &q);
    assert_string_equal(r.certs, "");
    assert_string_equal(r.adoptions, "");
    assert_int_equal(r.products, 0);
}

static void status(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.status = CATALOG_STATUS_ACTIVE;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    q.status = CATALOG_STATUS_EXPIRED;                 /* valid_until 2026-03-31 is past */
    assert_string_equal(certs_of(f, &q), "F:F-2");
    q.status = CATALOG_STATUS_SUSPENDED;
    assert_string_equal(certs_of(f, &q), "F:F-3");
    q.status = CATALOG_STATUS_REVOKED;                 /* recorded 取消 wins over the date */
    assert_string_equal(certs_of(f, &q), "M:M-2");
    /* on 2026-03-01 F-2 was still valid; on its last day too */
    q.today = 20260301;
    q.status = CATALOG_STATUS_EXPIRED;
    assert_string_equal(certs_of(f, &q), "");
    q.status = CATALOG_STATUS_ACTIVE;
    assert_string_equal(certs_of(f, &q), "F:F-1 F:F-2 M:M-1");
    q.today = 20260331;
    assert_string_equal(certs_of(f, &q), "F:F-1 F:F-2 M:M-1");
    q.today = 20260401;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
}

static void valid_on(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    /* in force on the day: within its dates and 認定中 (suspended and revoked ones never are) */
    q.valid_on = 20250601;
    assert_string_equal(certs_of(f, &q), "F:F-2");
    q.valid_on = 20260331;                 /* F-2's last day: in force then, though lapsed today */
    assert_string_equal(certs_of(f, &q), "F:F-2");
    q.valid_on = 20250101;                 /* M-2's dates, but M-2 is 取消 */
    assert_string_equal(certs_of(f, &q), "");
    q.valid_on = 20260415;                 /* F-1 (F-3 is 停止); M-1 starts 05-01 but is F-1's product */
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    q.valid_on = 20260401;                 /* the first day counts */
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    q.valid_on = 20300101;
    assert_string_equal(certs_of(f, &q), "");
}

static void expiring_within(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();       /* today 2026-06-01 */
    char err[256];
    q.expiring_months = 12;                /* until 2027-06-01: M-1 (to 2027-03-31); F-1 is its product */
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");
    q.expiring_months = 9;                 /* until 2027-03-01 */
    assert_string_equal(certs_of(f, &q), "");
    q.expiring_months = 0;
    q.expiring_days = 303;                 /* 2026-06-01 + 303 days = 2027-03-31 */
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    q.expiring_days = 302;
    assert_string_equal(certs_of(f, &q), "");
    /* only what is in force today: F-2 lapsed, F-3 停止 and M-2 取消 never come */
    q.expiring_days = 0;
    q.expiring_months = 120;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    q.today = 20260101;                    /* then F-2 (to 2026-03-31) was in force */
    q.expiring_months = 6;
    assert_string_equal(certs_of(f, &q), "F:F-2");

    /* the setter */
    catalog_query_init(&q);
    assert_int_equal(catalog_query_set_expiring_within(&q, "6m", err, sizeof err), 0);
    assert_int_equal(q.expiring_months, 6);
    assert_int_equal(catalog_query_set_expiring_within(&q, "90d", err, sizeof err), 0);
    assert_int_equal(q.expiring_days, 90);
    assert_int_equal(q.expiring_months, 0);
    assert_int_equal(catalog_query_set_expiring_within(&q, "1y", err, sizeof err), 0);
    assert_int_equal(q.expiring_months, 12);
    assert_int_equal(catalog_query_set_expiring_within(&q, "６ヶ月", err, sizeof err), 0);
    assert_int_equal(q.expiring_months, 6);
    assert_int_equal(catalog_query_set_expiring_within(&q, "3か月", err, sizeof err), 0);
    assert_int_equal(q.expiring_months, 3);
    assert_int_equal(catalog_query_set_expiring_within(&q, "2w", err, sizeof err), 0);
    assert_int_equal(q.expiring_days, 14);
    for (const char *const *bad = (const char *const[]){ "6", "m", "0d", "6x", "11y", "99999d", "-1m", NULL };
         *bad; bad++) {
        err[0] = 0;
        if (catalog_query_set_expiring_within(&q, *bad, err, sizeof err) != -1)
            fail_msg("'%s' accepted", *bad);
        assert_err_has(err, "期間");
    }
    assert_int_equal(q.expiring_days, 14);     /* unchanged */

    /* the date arithmetic */
    assert_int_equal(catalog_date_add(20260131, 0, 1), 20260228);
    assert_int_equal(catalog_date_add(20240131, 0, 1), 20240229);
    assert_int_equal(catalog_date_add(20240229, 0, 12), 20250228);
    assert_int_equal(catalog_date_add(20261201, 0, 6), 20270601);
    assert_int_equal(catalog_date_add(20261231, 90, 0), 20270331);
    assert_int_equal(catalog_date_add(20280228, 1, 0), 20280229);
    assert_int_equal(catalog_date_add(20260601, 303, 0), 20270331);
}

static void adoption_filters(void **state)
{
    fx *f = *state;
    char err[256];
    catalog_query q = base_query();
    q.all = 1;
    q.fiscal_year = 2026;                  /* R-A1, R-A3 and F-A1 (令和8年度) */
    result r = run(f, &q);
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A1 R:R-A3");
    assert_string_equal(r.certs, ALL_CERTS);   /* certifications untouched */
    q.fiscal_year = 0;
    assert_int_equal(catalog_query_set_department(&q, "土木", err, sizeof err), 0);
    assert_string_equal(run(f, &q).adoptions, "R:R-A2");
    assert_int_equal(catalog_query_set_department(&q, "ど", err, sizeof err), 0);   /* no kana in 土木課 */
    assert_string_equal(run(f, &q).adoptions, "");
    q.department = NULL;
    assert_int_equal(catalog_query_set_route(&q, "４号随契", err, sizeof err), 0);
    assert_string_equal(run(f, &q).adoptions, "F:F-A1 R:R-A1 R:R-A2 R:R-A3");
    assert_int_equal(catalog_query_set_route(&q, "入札", err, sizeof err), 0);
    assert_string_equal(run(f, &q).adoptions, "");
    assert_int_equal(catalog_query_set_route(&q, "随意契約", err, sizeof err), -1);
    assert_err_has(err, "契約方法「随意契約」はありません");
    q.route = -1;
    assert_int_equal(catalog_query_set_adopter(&q, f->st, "271004", err, sizeof err), 0);
    assert_string_equal(run(f, &q).adoptions, "R:R-A1 R:R-A2 R:R-A3");
    assert_int_equal(catalog_query_set_fiscal_year(&q, "R7", err, sizeof err), 0);
    assert_string_equal(run(f, &q).adoptions, "R:R-A2");
    assert_int_equal(catalog_query_set_fiscal_year(&q, "来年度", err, sizeof err), -1);
    assert_err_has(err, "年度「来年度」が読めません");
    /* a search's adoptions too, without changing which products match */
    q = base_query();
    q.words = "議事録";
    q.fiscal_year = 2025;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");
    assert_string_equal(r.adoptions, "");
}

static void kana_contact_and_order(void **state)
{
    fx *f = *state;
    /* hiragana in the record, katakana in the query, and the other way round */
    const char *p4[] = CERT_PAIRS("ぎじろく工房", "ギジロクメーカー", NULL, "行政DX", "2026-04-01", "2027-03-31",
                                  NULL, NULL, NULL);
    catalog_kv kv[12];
    size_t n = kvs(kv, p4, 18);
    kv[n].name = "contact";
    kv[n++].value = "情報政策課 03-0000-0042";
    put_one(f, "certification", "F-4", CATALOG_PUT_ADD, kv, n);
    catalog_query q = base_query();
    q.words = "ぎじろく";
    assert_string_equal(certs_of(f, &q), "F:F-4");
    q.words = "ギジロク工房";
    assert_string_equal(certs_of(f, &q), "F:F-4");
    q.words = "ｷﾞｼﾞﾛｸ めーかー";
    assert_string_equal(certs_of(f, &q), "F:F-4");
    /* 問合せ先 is searched */
    q.words = "03-0000-0042";
    assert_string_equal(certs_of(f, &q), "F:F-4");
    q.words = "情報政策課";
    assert_string_equal(certs_of(f, &q), "F:F-4");

    /* the order is the records' and not the store's: M certifies the same
     * products in the other order and both indexes agree, before and after
     * a rebuild from the previous index */
    const char *m3[] = CERT_PAIRS("ぎじろく工房", "ぎじろくめーかー", NULL, "防災", "2026-03-01", "2027-03-31",
                                  NULL, NULL, NULL);
    put_as(f, M, "certification", "M-3", 0, build("certification", kv, kvs(kv, m3, 18)));
    q = base_query();
    result r = run(f, &q);
    assert_string_equal(r.order, "F:F-1 M:M-1 M:M-3 F:F-4 F:F-3 M:M-2 F:F-2");   /* M-3 certified first */
    catalog_index *fresh = catalog_index_new();
    catalog_index *x = f->x;
    f->x = fresh;
    result s2 = run(f, &q);
    f->x = x;
    assert_string_equal(s2.order, r.order);
    assert_string_equal(s2.adoption_order, r.adoption_order);
    assert_string_equal(s2.groups, r.groups);
    catalog_index_free(fresh);
}

static void corporate_number(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.corporate_number = strtoull(CORP_B, NULL, 10);
    assert_string_equal(certs_of(f, &q), "F:F-2");
    /* the same number however it was written (M-1 has hyphens) */
    char err[256];
    assert_int_equal(catalog_query_set_corporate_number(&q, CORP_A_HYPHENS, err, sizeof err), 0);
    assert_int_equal(q.corporate_number, strtoull(CORP_A, NULL, 10));
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    /* full-width digits and a full-width hyphen (NFKC) */
    assert_int_equal(catalog_query_set_corporate_number(&q, "６１００００００００００１", err, sizeof err), 0);
    assert_string_equal(certs_of(f, &q), "F:F-2");
    assert_int_equal(catalog_query_set_corporate_number(&q, "３－２０００－００００－０００２", err, sizeof err), 0);
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    /* anything else is refused (and the filter kept), never read as "any" */
    assert_int_equal(catalog_query_set_corporate_number(&q, "320000000000", err, sizeof err), -1);
    assert_err_has(err, "13桁の数字ではありません");
    assert_int_equal(catalog_query_set_corporate_number(&q, "32000000000021", err, sizeof err), -1);
    assert_int_equal(catalog_query_set_corporate_number(&q, "0000000000000", err, sizeof err), -1);
    assert_err_has(err, "チェックデジット");
    assert_int_equal(catalog_query_set_corporate_number(&q, "4200000000002", err, sizeof err), -1);
    assert_err_has(err, "先頭の桁は 3 のはずです");
    assert_int_equal(catalog_query_set_corporate_number(&q, "株式会社アルファ", err, sizeof err), -1);
    assert_int_equal(q.corporate_number, strtoull(CORP_A, NULL, 10));
    q.corporate_number = 42;                                             /* no such number */
    assert_string_equal(certs_of(f, &q), "");
    assert_int_equal(catalog_query_set_corporate_number(&q, "", err, sizeof err), 0);
    assert_string_equal(certs_of(f, &q), ALL_CERTS);
}

static void adopted_by(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.has_adopted_by = 1;
    q.adopted_by = ids[R].id;           /* R adopted F-1's product and M-2 (and an unknown one) */
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1 M:M-2");
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A1 R:R-A2");
    assert_int_equal(r.products, 2);
    q.adopted_by = ids[M].id;           /* adopted nothing */
    assert_string_equal(certs_of(f, &q), "");

    /* not adopted by this member: F adopted M-2 */
    q = base_query();
    q.not_adopted_by_self = 1;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-2 F:F-3 M:M-1");
    assert_string_equal(r.adoptions, "R:R-A1");
    /* as seen by R, who adopted two products */
    q.self = ids[R].id;
    assert_string_equal(certs_of(f, &q), "F:F-2 F:F-3");
    /* both at once */
    q.self = ids[F].id;
    q.has_adopted_by = 1;
    q.adopted_by = ids[R].id;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    /* with all, neither applies */
    q.all = 1;
    assert_string_equal(certs_of(f, &q), ALL_CERTS);
}

static void public_only(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.public_only = 1;
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-3 M:M-2");     /* M-1 is alliance-only */
    assert_string_equal(r.adoptions, "R:R-A1");
    /* a match on a non-public certification does not show through */
    q.area = area_index("防災");
    assert_string_equal(certs_of(f, &q), "");
    /* with all too */
    q = base_query();
    q.public_only = 1;
    q.all = 1;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-3 M:M-2");
    assert_string_equal(r.adoptions, "R:R-A1 R:R-A3");
}

static void limit(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.limit = 1;
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");           /* the first product, whole */
    assert_int_equal(r.products, 4);                       /* how many matched */
    assert_string_equal(r.adoptions, "R:R-A1");
    q.limit = 2;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-3 M:M-1");
    assert_int_equal(r.products, 4);
    q.limit = 3;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-3 M:M-1 M:M-2");
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A1 R:R-A2");
    q.limit = 4;
    assert_string_equal(certs_of(f, &q), ALL_CERTS);
    q.limit = 1;
    q.area = area_index("防災");
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");
    assert_int_equal(r.products, 2);
}

/* areas: a checkbox group, any of the checked areas */
static void areas_any(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.areas = 1u << area_index("教育") | 1u << area_index("インフラ・施設");
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-3 M:M-2");
    assert_int_equal(r.products, 2);
    q.areas = 1u << area_index("防災") | 1u << area_index("教育");
    assert_string_equal(certs_of(f, &q), "F:F-1 F:F-2 F:F-3 M:M-1");
    /* area and areas together: any of them */
    q.areas = 1u << area_index("防災");
    q.area = area_index("教育");
    assert_string_equal(certs_of(f, &q), "F:F-1 F:F-2 F:F-3 M:M-1");
    q.area = CATALOG_AREA_ANY;
    q.areas = 1u << area_index("環境");
    assert_string_equal(certs_of(f, &q), "");
    q.areas = 1u << area_index("子育て");
    assert_string_equal(certs_of(f, &q), "F:F-3");

    char err[128] = "";
    catalog_hits h;
    q.areas = 1u << 31;
    assert_int_equal(catalog_search(f->x, f->st, f->gen, &q, &h, err, sizeof err), -1);
    assert_string_equal(err, "分野の番号 31 はありません");
}

/* offset: a page of products after the first `offset`, the count unchanged */
static void offset(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    /* products in order: [F-1 M-1] [F-3] [M-2] [F-2] */
    q.offset = 1;
    q.limit = 2;
    result r = run(f, &q);
    assert_string_equal(r.order, "F:F-3 M:M-2");
    assert_int_equal(r.products, 4);
    assert_int_equal(r.ngroups, 2);
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A2");     /* those of M-2 only */
    q.offset = 3;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-2");
    assert_int_equal(r.products, 4);
    assert_string_equal(r.adoptions, "");
    q.offset = 4;                                          /* past the end */
    r = run(f, &q);
    assert_string_equal(r.certs, "");
    assert_int_equal(r.products, 4);
    assert_int_equal(r.ngroups, 0);
    q.offset = 2;
    q.limit = 0;                                           /* the rest */
    r = run(f, &q);
    assert_string_equal(r.order, "M:M-2 F:F-2");
    /* a product partly left out (public_only drops M-1) still counts once */
    q = base_query();
    q.public_only = 1;
    q.offset = 1;
    q.limit = 1;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-3");
    assert_int_equal(r.products, 3);
    /* with a filter: the offset counts matching products */
    q = base_query();
    q.area = area_index("防災");
    q.offset = 1;
    r = run(f, &q);
    assert_string_equal(r.certs, "F:F-2");
    assert_int_equal(r.products, 2);
}

static void whole_product(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    /* M's certification matches; F's of the same product comes with it */
    q.has_member = 1;
    q.member = ids[M].id;
    q.words = "議事録";
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");
    assert_int_equal(r.products, 1);
    assert_string_equal(r.adoptions, "R:R-A1");            /* cites F-1 */
    /* and the other way round */
    q.member = ids[F].id;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");
    /* F's 防災 certification is F-2 only: F-1 is not 防災, M-1 is M's */
    q.words = NULL;
    q.area = area_index("防災");
    assert_string_equal(certs_of(f, &q), "F:F-2");
    /* public_only keeps the non-public one of the product out */
    q = base_query();
    q.public_only = 1;
    q.has_member = 1;
    q.member = ids[F].id;
    q.words = "議事録";
    assert_string_equal(certs_of(f, &q), "F:F-1");
}

/* has_cert: one certification, widened to every certification of its
 * product and the adoptions citing any of them */
static void one_certification(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.has_cert = 1;
    q.cert_author = ids[M].id;
    q.cert_key = "M-1";
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 M:M-1");
    assert_int_equal(r.products, 1);
    assert_string_equal(r.adoptions, "R:R-A1");
    /* the key is the author's: F has no M-1 */
    q.cert_author = ids[F].id;
    assert_string_equal(certs_of(f, &q), "");
    q.cert_key = "F-2";
    assert_string_equal(certs_of(f, &q), "F:F-2");
    /* other filters still apply to the seed */
    q.cert_key = "F-1";
    q.area = area_index("防災");
    assert_string_equal(certs_of(f, &q), "");
}

/* who withdraws its record (a tombstone with a reason). */
static void withdraw_as(fx *f, int who, const char *kind, const char *key)
{
    proto_body *why = proto_body_new();
    proto_body_str(why, "reason", "誤登録");
    put_as(f, who, kind, key, PROTO_FLAG_TOMBSTONE, why);
}

/* Does the index answer as one built from scratch, for a spread of queries? */
static void same_as_scratch(fx *f)
{
    catalog_index *fresh = catalog_index_new();
    assert_non_null(fresh);
    for (int k = 0; k < 24; k++) {
        catalog_query q = base_query();
        switch (k) {
        /* word searches read the signatures, which move with their entries
         * at every update in place: words of each product name, one
         * bigram only, two words, and with other filters and a page */
        case 17: q.words = "道路点検"; break;
        case 18: q.words = "マップ"; break;
        case 19: q.words = "ai"; break;
        case 20: q.words = "新製品 テスト"; break;
        case 21: q.words = "議事録"; q.area = area_index("防災"); q.public_only = 1; break;
        case 22: q.words = "株式会社"; q.limit = 1; q.offset = 1; break;
        case 23: q.words = "避難所"; q.exact = 1; break;
        case 0: break;
        case 1: q.all = 1; break;
        case 2: case 3: case 4: case 5: q.status = k - 2; break;
        case 6: q.words = "議事録"; break;
        case 7: q.area = area_index("防災"); break;
        case 8: q.area = area_index("環境"); break;
        case 9: q.public_only = 1; break;
        case 10: q.has_adopted_by = 1; q.adopted_by = ids[R].id; break;
        case 11: q.not_adopted_by_self = 1; break;
        case 12: q.exact = 1; q.has_member = 1; q.member = ids[M].id; break;
        case 13: q.fiscal_year = 2026; break;
        default: q.limit = 2; q.offset = (size_t)(k - 14); break;   /* 14..16 */
        }
        result inplace = run(f, &q);
        catalog_index *x = f->x;
        f->x = fresh;
        result scratch = run(f, &q);
        f->x = x;
        assert_string_equal(inplace.certs, scratch.certs);
        assert_string_equal(inplace.adoptions, scratch.adoptions);
        assert_string_equal(inplace.order, scratch.order);
        assert_string_equal(inplace.adoption_order, scratch.adoption_order);
        assert_string_equal(inplace.groups, scratch.groups);
        assert_int_equal(inplace.products, scratch.products);
    }
    catalog_index_free(fresh);
}

/* " "-joined: a + b */
static void cat_list(char *a, size_t n, const char *b)
{
    if (b[0])
        snprintf(a + strlen(a), n - strlen(a), "%s%s", a[0] ? " " : "", b);
}

/* Every page of q, of every size from 1 to 3, put end to end, is the whole
 * answer: the same certifications in the same order, the same groups and
 * adoptions, and each page counts every product.  A product cut between
 * two pages, or counted at one of its certifications that is left out,
 * shows here. */
static void pages_agree(fx *f, catalog_query q)
{
    q.limit = 0;
    q.offset = 0;
    result whole = run(f, &q);
    for (size_t size = 1; size <= 3; size++) {
        static result joined;   /* test helper only */
        memset(&joined, 0, sizeof joined);
        size_t ngroups = 0;
        for (size_t off = 0; off <= whole.products + 1; off += size) {
            q.limit = size;
            q.offset = off;
            result page = run(f, &q);
            assert_int_equal(page.products, whole.products);
            assert_int_equal(page.ngroups, off >= whole.products ? 0
                             : whole.products - off < size ? whole.products - off : size);
            ngroups += page.ngroups;
            cat_list(joined.order, sizeof joined.order, page.order);
            cat_list(joined.adoption_order, sizeof joined.adoption_order, page.adoption_order);
            cat_list(joined.groups, sizeof joined.groups, page.groups);
        }
        assert_int_equal(ngroups, whole.ngroups);
        assert_string_equal(joined.order, whole.order);
        assert_string_equal(joined.groups, whole.groups);
        if (!q.all)   /* with all, adoptions citing none come after every page's */
            assert_string_equal(joined.adoption_order, whole.adoption_order);
    }
}

static void pages(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    pages_agree(f, q);
    q.words = "議事録";              /* one product of two certifications */
    pages_agree(f, q);
    q.words = NULL;
    q.public_only = 1;               /* the product of F-1 and M-1 counts at F-1 */
    pages_agree(f, q);
    q = base_query();
    q.exact = 1;
    q.has_member = 1;
    q.member = ids[M].id;
    pages_agree(f, q);
    q = base_query();
    q.not_adopted_by_self = 1;
    pages_agree(f, q);
    q = base_query();
    q.all = 1;
    pages_agree(f, q);
    q = base_query();
    q.area = area_index("防災");
    pages_agree(f, q);
    /* the last product of the index, on a page of its own */
    q = base_query();
    q.limit = 1;
    q.offset = 3;
    result r = run(f, &q);
    assert_string_equal(r.order, "F:F-2");
    assert_string_equal(r.groups, "1/0/防災");
}

static void rebuilt_after_change(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    q.words = "新製品";
    assert_string_equal(certs_of(f, &q), "");
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 0);    /* current */

    const char *p4[] = CERT_PAIRS("イプシロン", "新製品", NULL, "環境", "2026-04-01", "2027-03-31", NULL, NULL,
                                  NULL);
    catalog_kv kv[10];
    put_one(f, "certification", "F-4", CATALOG_PUT_ADD, kv, kvs(kv, p4, 18));   /* bumps gen */
    assert_string_equal(certs_of(f, &q), "F:F-4");

    /* the generation is the caller's word: unchanged, the index is not rebuilt */
    const char *p5[] = CERT_PAIRS("ゼータ", "新製品２", NULL, "環境", "2026-04-01", "2027-03-31", NULL, NULL,
                                  NULL);
    put_one(f, "certification", "F-5", CATALOG_PUT_ADD, kv, kvs(kv, p5, 18));
    f->gen--;
    assert_string_equal(certs_of(f, &q), "F:F-4");
    f->gen++;
    assert_string_equal(certs_of(f, &q), "F:F-4 F:F-5");

    /* a new version replaces the old one's entry (F-1 revoked) */
    const char *pr[] = { "status", "取消" };
    put_one(f, "certification", "F-1", CATALOG_PUT_UPDATE, kv, kvs(kv, pr, 2));
    q = base_query();
    q.status = CATALOG_STATUS_REVOKED;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1 M:M-2");   /* F-1 brings M-1 */
    q.has_member = 1;
    q.member = ids[F].id;
    assert_string_equal(certs_of(f, &q), "F:F-1 M:M-1");

    /* M deletes M-2: gone, and the adoptions citing it cite nothing known */
    proto_body *why = proto_body_new();
    proto_body_str(why, "reason", "誤登録");
    put_as(f, M, "certification", "M-2", PROTO_FLAG_TOMBSTONE, why);
    q = base_query();
    result r = run(f, &q);
    assert_string_equal(r.certs, "F:F-1 F:F-2 F:F-3 F:F-4 F:F-5 M:M-1");
    assert_string_equal(r.adoptions, "R:R-A1");
    q.all = 1;
    r = run(f, &q);
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A1 R:R-A2 R:R-A3");

    /* M certifies M-2 again (a new key's text, and adoptions find it again) */
    const char *m2[] = CERT_PAIRS("デルタ", "道路点検", CORP_C, "インフラ・施設", "2026-04-01", "2027-03-31",
                                  NULL, "public", NULL);
    put_as(f, M, "certification", "M-2", 0, build("certification", kv, kvs(kv, m2, 18)));
    q = base_query();
    q.words = "道路";
    r = run(f, &q);
    assert_string_equal(r.certs, "M:M-2");
    assert_string_equal(r.adoptions, "F:F-A1 R:R-A2");

    /* the index rebuilt from the previous ones answers as one built from scratch */
    catalog_index_stats s;
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.gen, f->gen);
    assert_int_equal(s.certifications, 7);
    assert_int_equal(s.adoptions, 4);
    same_as_scratch(f);
}

/* Updated in place from the keys noted, the index answers as one built from
 * scratch whatever the changes: new products, a product renamed (its
 * certification moves to another place), certifications joining another
 * member's product or leaving it, deletions and certifications back again,
 * adoptions citing certifications that come and go, several changes of one
 * key between two searches.  A fixed pseudo-random sequence of 500 changes,
 * compared after every one to four of them, then after up to twelve. */
static void updated_in_place(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    run(f, &q);
    catalog_index_stats s0, s;
    catalog_index_stats_get(f->x, &s0);
    assert_int_equal(s0.builds, 1);
    static const char *const products[] = { "AI議事録", "ＡＩ議事録", "避難所マップ", "道路点検", "新製品" };
    static const char *const corps[] = { CORP_A, CORP_B, CORP_C, NULL };
    static const char *const areas[] = { "防災", "環境", "行政DX、防災", "教育" };
    static const char *const days[] = { "2024-04-01", "2025-04-01", "2026-04-01" };
    static const char *const statuses[] = { NULL, "停止", "取消" };
    uint32_t rnd = 12345;
#define RND(n) ((rnd = rnd * 1103515245u + 12345u), (int)((rnd >> 16) % (n)))
    int have_c[NIDS][10] = { { 0 } }, have_a[NIDS][6] = { { 0 } };
    size_t since = 0, compares = 0;
    for (int step = 0; step < 500; step++) {
        int who = RND(2) ? M : R, op = RND(10);
        char key[32], ref[200];
        catalog_kv kv[10];
        const char *kind;
        if (op < 7) {
            int k = RND(10);
            kind = "certification";
            snprintf(key, sizeof key, "%c-X%d", id_letter[who], k);
            if (op == 6 && have_c[who][k]) {
                withdraw_as(f, who, kind, key);
                have_c[who][k] = 0;
            } else {
                const char *prod = products[RND(5)], *corp = corps[RND(4)], *area = areas[RND(4)];
                const char *day = days[RND(3)], *st = statuses[RND(3)], *vis = RND(2) ? "public" : NULL;
                const char *p[] = CERT_PAIRS("株式会社テスト", prod, corp, area, day, "2028-03-31", st, vis, NULL);
                put_as(f, who, kind, key, 0, build(kind, kv, kvs(kv, p, 18)));
                have_c[who][k] = 1;
            }
        } else {
            int k = RND(6);
            kind = "adoption";
            snprintf(key, sizeof key, "%c-Y%d", id_letter[who], k);
            if (op == 9 && have_a[who][k]) {
                withdraw_as(f, who, kind, key);
                have_a[who][k] = 0;
            } else {
                /* a certification of M or R that may or may not exist, or F's */
                int c = RND(3);
                char ck[32];
                if (c == 2)
                    snprintf(ck, sizeof ck, "F-%d", 1 + RND(3));
                else
                    snprintf(ck, sizeof ck, "%c-X%d", id_letter[c ? R : M], RND(10));
                ref_of(c == 2 ? F : c ? R : M, ck, ref, sizeof ref);
                const char *fy = RND(2) ? "2026" : "2025", *vis = RND(2) ? "public" : NULL;
                put_as(f, who, kind, key, 0, adoption(ref, fy, "総務課", vis));
                have_a[who][k] = 1;
            }
        }
        catalog_index_note(f->x, kind, &ids[who].id, key);
        if (++since >= (size_t)(1 + RND(step < 300 ? 4 : 12))) {
            same_as_scratch(f);
            since = 0;
            compares++;
        }
    }
#undef RND
    if (since)
        compares++;
    same_as_scratch(f);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.builds, 1);                          /* never rebuilt */
    assert_int_equal(s.updates_in_place, compares);     /* once per search after changes */
    assert_int_equal(s.gen, f->gen);

    /* a gen bumped with nothing noted, or a fork (note_all): rebuilt */
    f->gen++;
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    catalog_index_note(f->x, "certification", &ids[M].id, "M-1");
    catalog_index_note_all(f->x);
    f->gen++;
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.builds, 3);
    /* kinds the index does not hold are not noted; past the cap, a rebuild */
    catalog_index_note(f->x, "member", &ids[M].id, "x");
    f->gen++;
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.builds, 4);
    for (int i = 0; i < 9000; i++)
        catalog_index_note(f->x, "certification", &ids[M].id, "M-1");
    f->gen++;
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.builds, 5);
    assert_int_equal(s.updates_in_place, compares);
    same_as_scratch(f);
    /* pages of a larger catalog: products of several certifications, some
     * of them sharing a name (AI議事録 / ＡＩ議事録) under another 法人番号 */
    catalog_query q2 = base_query();
    pages_agree(f, q2);
    q2.words = "議事録";
    pages_agree(f, q2);
    q2.words = NULL;
    q2.public_only = 1;
    pages_agree(f, q2);
    q2.public_only = 0;
    q2.has_adopted_by = 1;
    q2.adopted_by = ids[R].id;
    pages_agree(f, q2);
}


/* Review: the arena compacted during an update in place (more than 1 MiB
 * of dead text): the index still answers as one built from scratch. */
static void compacted_in_place(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    run(f, &q);
    static char sum[4001];
    catalog_kv kv[12];
    for (int step = 0; step < 400; step++) {
        memset(sum, 'a' + step % 26, 4000);
        sum[4000] = 0;
        const char *p[] = { "company", "株式会社アルファ", "product", step % 3 ? "ＡＩ議事録" : "別製品",
                            "corporate_number", CORP_A, "areas", "防災", "certified_on",
                            step % 2 ? "2026-05-01" : "2024-01-01", "valid_until", "2027-03-31",
                            "summary", sum };
        put_as(f, M, "certification", "M-1", 0, build("certification", kv, kvs(kv, p, 14)));
        catalog_index_note(f->x, "certification", &ids[M].id, "M-1");
        if (step % 7 == 0) {
            put_as(f, R, "certification", "R-1", 0, build("certification", kv, kvs(kv, p, 14)));
            catalog_index_note(f->x, "certification", &ids[R].id, "R-1");
        }
        q = base_query();
        run(f, &q);
        if (step % 50 == 49)
            same_as_scratch(f);
    }
    catalog_index_stats s;
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.builds, 1);
    assert_true(s.text_bytes < 100000);
    same_as_scratch(f);
}

static int trims;

/* A build from a read snapshot (catalog_index_build_*, as catalogd runs it
 * on the thread pool): the same answers as a build on the index's thread;
 * a change written after the snapshot and noted meanwhile is folded in
 * place at the next update, not by another build; a rebuild from a
 * snapshot too; a cancelled build leaves the index empty, to be built. */
static void built_from_snapshot(void **state)
{
    fx *f = *state;
    char key[32];
    for (int round = 0; round < 2; round++) {
        if (round)
            catalog_index_note_all(f->x);   /* a fork: the next update is a rebuild */
        f->gen++;
        assert_int_equal(catalog_index_update_is_build(f->x, f->st, f->gen), 1);
        store_snap *n = store_snap_begin(f->st);
        assert_non_null(n);
        catalog_index_build *b = catalog_index_build_begin(f->x, f->st, f->gen);
        assert_non_null(b);
        /* written after the snapshot, noted as catalogd notes it */
        snprintf(key, sizeof key, "M-S%d", round);
        catalog_kv kv[10];
        const char *p[] = CERT_PAIRS("株式会社スナップ", "スナップ製品", CORP_B, "防災", "2026-04-01", "2028-03-31",
                                     NULL, "public", NULL);
        put_as(f, M, "certification", key, 0, build("certification", kv, kvs(kv, p, 18)));
        catalog_index_note(f->x, "certification", &ids[M].id, key);
        catalog_index_build_run(b, n);
        store_snap_end(n);
        assert_int_equal(catalog_index_build_end(f->x, b), 0);
        catalog_index_stats s;
        catalog_index_stats_get(f->x, &s);
        assert_int_equal(s.builds, (uint64_t)round + 1);
        assert_int_equal(catalog_index_update_is_build(f->x, f->st, f->gen), 0);   /* the note, in place */
        catalog_query q = base_query();
        q.words = "スナップ";
        result r = run(f, &q);
        assert_int_equal(r.products, 1);
        assert_non_null(strstr(r.certs, key));
        same_as_scratch(f);
        catalog_index_stats_get(f->x, &s);
        assert_int_equal(s.builds, (uint64_t)round + 1);
        assert_int_equal(s.updates_in_place, (uint64_t)round + 1);
    }
    /* cancelled: nothing put in, and the next update builds again */
    catalog_index_note_all(f->x);
    f->gen++;
    store_snap *n = store_snap_begin(f->st);
    catalog_index_build *b = catalog_index_build_begin(f->x, f->st, f->gen);
    assert_non_null(b);
    catalog_index_build_cancel(b);
    catalog_index_build_run(b, n);
    store_snap_end(n);
    assert_int_equal(catalog_index_build_end(f->x, b), -1);
    assert_int_equal(catalog_index_update_is_build(f->x, f->st, f->gen), 1);
    same_as_scratch(f);
}

static void count_trim(void *ctx)
{
    ++*(int *)ctx;
}

static void trim_hook(void **state)
{
    fx *f = *state;
    catalog_query q = base_query();
    trims = 0;
    catalog_index_set_trim(f->x, count_trim, &trims);
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    assert_int_equal(trims, 2);                 /* before and after a build from scratch */
    assert_string_equal(certs_of(f, &q), ALL_CERTS);
    assert_int_equal(trims, 2);                 /* no rebuild, no trim */
    f->gen++;
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    assert_int_equal(trims, 3);                 /* a rebuild from the previous index: after */
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 0);
}

static void query_setters(void **state)
{
    fx *f = *state;
    char err[256];
    catalog_query q;
    catalog_query_init(&q);
    assert_int_equal(q.area, CATALOG_AREA_ANY);
    assert_int_equal(q.status, CATALOG_STATUS_ANY);
    assert_null(q.words);

    assert_int_equal(catalog_query_set_area(&q, "行政ＤＸ", err, sizeof err), 0);   /* width */
    assert_int_equal(q.area, area_index("行政DX"));
    assert_int_equal(catalog_query_set_area(&q, "宇宙", err, sizeof err), -1);
    assert_err_has(err, "分野「宇宙」はありません（子育て、教育、");
    assert_int_equal(q.area, area_index("行政DX"));   /* unchanged */
    assert_int_equal(catalog_query_set_area(&q, "", err, sizeof err), 0);
    assert_int_equal(q.area, CATALOG_AREA_ANY);

    const char *st[][2] = { { "認定中", "active" }, { "停止", "suspended" }, { "取消", "revoked" },
                            { "期間満了", "expired" } };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(catalog_query_set_status(&q, st[i][0], err, sizeof err), 0);
        assert_int_equal(q.status, i);
        catalog_query_init(&q);
        assert_int_equal(catalog_query_set_status(&q, st[i][1], err, sizeof err), 0);
        assert_int_equal(q.status, i);
    }
    assert_int_equal(catalog_query_set_status(&q, "valid", err, sizeof err), -1);
    assert_string_equal(err, "状態は 認定中、停止、取消、期間満了 のいずれかです");

    assert_int_equal(catalog_query_set_valid_on(&q, "2026-04-15", err, sizeof err), 0);
    assert_int_equal(q.valid_on, 20260415);
    err[0] = 0;
    assert_int_equal(catalog_query_set_valid_on(&q, "2026-02-30", err, sizeof err), -1);
    assert_true(err[0] != 0);
    assert_int_equal(q.valid_on, 20260415);
    /* as people type dates (jp_date_read): 令和8 = 2026 */
    assert_int_equal(catalog_query_set_valid_on(&q, "令和8年4月1日", err, sizeof err), 0);
    assert_int_equal(q.valid_on, 20260401);
    assert_int_equal(catalog_query_set_valid_on(&q, "R7.4.1", err, sizeof err), 0);
    assert_int_equal(q.valid_on, 20250401);
    assert_int_equal(catalog_query_set_valid_on(&q, "平成31年5月1日", err, sizeof err), -1);
    assert_err_has(err, "日付「平成31年5月1日」が読めません");
    assert_err_has(err, "平成は2019年4月30日まで");
    assert_int_equal(q.valid_on, 20250401);
    /* the forms catalog_build reads, and no cut: a long value is refused whole */
    assert_int_equal(catalog_query_set_valid_on(&q, "2026年4月1日", err, sizeof err), 0);
    assert_int_equal(q.valid_on, 20260401);
    assert_int_equal(catalog_query_set_valid_on(&q, "２０２６－０４－０２", err, sizeof err), 0);
    assert_int_equal(q.valid_on, 20260402);
    assert_int_equal(catalog_query_set_valid_on(&q, "2026-04-01 and more", err, sizeof err), -1);
    assert_err_has(err, "日付「2026-04-01 and more」が読めません");
    assert_int_equal(q.valid_on, 20260402);

    assert_int_equal(catalog_query_set_words(&q, "\xe3\x81", err, sizeof err), -1);
    assert_string_equal(err, "検索語が UTF-8 ではありません");
    {
        char many[1200];
        memset(many, 'a', sizeof many - 1);
        many[sizeof many - 1] = 0;
        assert_int_equal(catalog_query_set_words(&q, many, err, sizeof err), -1);
        assert_err_has(err, "検索語が長すぎます");
        many[CATALOG_WORDS_MAX] = 0;           /* exactly the maximum */
        assert_int_equal(catalog_query_set_words(&q, many, err, sizeof err), 0);
    }
    assert_int_equal(catalog_query_set_words(&q, "ＡＩ", err, sizeof err), 0);
    assert_string_equal(q.words, "ＡＩ");

    /* members by code or by printed id */
    assert_int_equal(catalog_query_set_member(&q, f->st, "131016", err, sizeof err), 0);
    assert_true(q.has_member);
    assert_memory_equal(q.member.b, ids[M].id.b, 32);
    char printed[PROTO_ID_STR];
    proto_id_str(&ids[R].id, printed);
    assert_int_equal(catalog_query_set_adopted_by(&q, f->st, printed, err, sizeof err), 0);
    assert_true(q.has_adopted_by);
    assert_memory_equal(q.adopted_by.b, ids[R].id.b, 32);
    assert_int_equal(catalog_query_set_member(&q, f->st, "011002", err, sizeof err), -1);
    assert_string_equal(err, "団体「011002」は現在の加盟団体にありません（団体コードか member id を指定してください）");
    assert_int_equal(catalog_query_set_member(&q, f->st, NULL, err, sizeof err), 0);
    assert_false(q.has_member);

    /* by the request's names, as a form would send them */
    catalog_query_init(&q);
    q.today = TODAY;
    q.self = ids[F].id;
    static const char *const form[][2] = {
        { "q", "議事録" }, { "area", "" }, { "member", "131059" }, { "status", "active" },
        { "valid_on", "" }, { "corporate_number", CORP_A_HYPHENS }, { "adopted_by", "" },
        { "not_adopted_by_me", "0" }, { "public_only", "1" }, { "all", "" }, { "limit", "25" },
    };
    for (size_t i = 0; i < sizeof form / sizeof form[0]; i++)
        if (catalog_query_set(&q, f->st, form[i][0], form[i][1], err, sizeof err))
            fail_msg("%s: %s", form[i][0], err);
    assert_int_equal(q.limit, 25);
    assert_true(q.public_only);
    assert_false(q.not_adopted_by_self);
    assert_false(q.all);
    assert_string_equal(certs_of(f, &q), "F:F-1");
    assert_int_equal(catalog_query_set(&q, f->st, "limit", "ten", err, sizeof err), -1);
    assert_err_has(err, "limit は数で指定してください");
    assert_int_equal(catalog_query_set(&q, f->st, "colour", "red", err, sizeof err), -1);
    assert_string_equal(err, "検索条件「colour」はありません");
    assert_int_equal(catalog_query_set(&q, f->st, "status", "bogus", err, sizeof err), -1);
    assert_string_equal(err, "状態は 認定中、停止、取消、期間満了 のいずれかです");
    assert_int_equal(catalog_query_set(&q, f->st, "corporate_number", "3200000000002x", err, sizeof err), -1);
    assert_int_equal(catalog_query_set(&q, f->st, "expiring_within", "6m", err, sizeof err), 0);
    assert_int_equal(q.expiring_months, 6);
    assert_int_equal(catalog_query_set(&q, f->st, "fiscal_year", "令和8年度", err, sizeof err), 0);
    assert_int_equal(q.fiscal_year, 2026);
}

/* ---- the write path ---- */

typedef struct { uint8_t *raw; size_t len; } copy;

static int copy_cb(void *ctx, const uint8_t *rec, size_t len)
{
    copy *c = ctx;
    c->raw = malloc(len);
    assert_non_null(c->raw);
    memcpy(c->raw, rec, len);
    c->len = len;
    return 1;
}

static void field_of(fx *f, int who, const char *kind, const char *key, const char *field, char *out,
                     size_t n)
{
    copy c = { NULL, 0 };
    proto_record r;
    assert_int_equal(store_get_current(f->st, &ids[who].id, kind, key, copy_cb, &c), 0);
    assert_int_equal(proto_record_decode(c.raw, c.len, &r, NULL, 0), 0);
    if (proto_body_copy_str(&r, field, out, n))
        out[0] = 0;
    free(c.raw);
}

static void prepare_refusals(void **state)
{
    fx *f = *state;
    char err[768];
    const char *p[] = CERT_PAIRS("株式会社アルファ", "AI議事録", CORP_A, "行政DX", "2026-04-01", "2028-03-31",
                                 NULL, NULL, NULL);
    catalog_kv kv[10];
    size_t n = kvs(kv, p, 18);
    catalog_put it[3];

    put_item(&it[0], "certification", "F-1", CATALOG_PUT_ADD, kv, n);
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    assert_string_equal(err, "認定 F-1 は既に登録されています。変更するには update を使ってください");
    put_item(&it[0], "certification", "M-1", CATALOG_PUT_UPDATE, kv, n);
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    char printed[PROTO_ID_STR], want[300];
    proto_id_str(&ids[M].id, printed);
    snprintf(want, sizeof want, "認定 M-1 は 131016 千代田区 (%s) の登録です。変更や取り下げができるのはその団体だけです",
             printed);
    assert_string_equal(err, want);
    put_item(&it[0], "certification", "F-9", CATALOG_PUT_UPDATE, kv, n);
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    assert_string_equal(err, "この団体には認定 F-9 がありません");
    put_item(&it[0], "member", "F-9", CATALOG_PUT_ADD, kv, n);
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    assert_string_equal(err, "'member' is not a catalog kind (certification, adoption)");
    put_item(&it[0], "certification", "a/b", CATALOG_PUT_ADD, kv, n);
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    assert_true(!strncmp(err, "key: ", 5));
    put_item(&it[0], "certification", "F-9", catalog_put_mode_parse("replace"), kv, n);
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    assert_string_equal(err, "mode must be add, update, upsert or withdraw");
    put_item(&it[0], "certification", "F-9", CATALOG_PUT_ADD, kv, 2);   /* no areas, dates */
    assert_int_equal(put_own(f, it, 1, err, sizeof err), -1);
    assert_err_has(err, "(areas): 必須です");

    /* several items: the failing one is named; nothing is written */
    put_item(&it[0], "certification", "F-7", CATALOG_PUT_ADD, kv, n);
    put_item(&it[1], "certification", "F-1", CATALOG_PUT_ADD, kv, n);
    assert_int_equal(put_own(f, it, 2, err, sizeof err), -1);
    assert_string_equal(err, "item 2 (F-1): 認定 F-1 は既に登録されています。変更するには update を使ってください");
    put_item(&it[0], "certification", "F-7", CATALOG_PUT_ADD, kv, n);
    put_item(&it[1], "certification", "F-8", CATALOG_PUT_ADD, kv, n);
    put_item(&it[2], "certification", "F-7", CATALOG_PUT_UPSERT, kv, n);
    assert_int_equal(put_own(f, it, 3, err, sizeof err), -1);
    assert_string_equal(err, "認定 F-7 が1つの要求に2回あります");
    copy c = { NULL, 0 };
    assert_int_equal(store_get_current(f->st, &ids[F].id, "certification", "F-7", copy_cb, &c), 1);

    assert_int_equal(catalog_put_mode_parse(NULL), CATALOG_PUT_ADD);
    assert_int_equal(catalog_put_mode_parse("add"), CATALOG_PUT_ADD);
    assert_int_equal(catalog_put_mode_parse("update"), CATALOG_PUT_UPDATE);
    assert_int_equal(catalog_put_mode_parse("upsert"), CATALOG_PUT_UPSERT);
    assert_int_equal(catalog_put_mode_parse(""), -1);
}

typedef struct { const catalog_kv *kv; size_t n; const char *keys[2]; int reads; } reader_ctx;

static int read_cb(void *ctx, size_t i, catalog_put *it, char *err, size_t errlen)
{
    reader_ctx *r = ctx;
    r->reads++;
    if (i == 1 && !r->keys[1])
        return proto_err(err, errlen, "malformed item");
    it->kind = "certification";
    snprintf(it->key, sizeof it->key, "%s", r->keys[i]);
    it->mode = CATALOG_PUT_UPSERT;
    it->fields = r->kv;
    it->nfields = r->n;
    return 0;
}

static void prepare_writes(void **state)
{
    fx *f = *state;
    char err[768], v[256];
    store_write_item w[2];
    size_t nw = 99;

    /* an upsert of the same fields is "unchanged": nothing to write */
    const char *p1[] = CERT_PAIRS("株式会社アルファ", "AI議事録", CORP_A, "行政DX", "2026-04-01", "2028-03-31",
                                  NULL, "public", "音声認識");
    catalog_kv kv1[10];
    catalog_put it[2];
    put_item(&it[0], "certification", "F-1", CATALOG_PUT_UPSERT, kv1, kvs(kv1, p1, 18));
    assert_int_equal(catalog_prepare(f->st, &ids[F].id, ids[F].key, it, 1, NULL, NULL, w, &nw, err, sizeof err), 0);
    assert_int_equal(nw, 0);
    assert_true(it[0].existed);
    assert_true(it[0].unchanged);
    catalog_put_free(it, 1);

    /* a changed upsert replaces the fields (no tags any more); a new key is created */
    const char *p1b[] = CERT_PAIRS("株式会社アルファ", "AI議事録", CORP_A, "行政DX", "2026-04-01",
                                   "fy-end", NULL, "public", NULL);
    catalog_kv kv1b[10];
    reader_ctx rc = { kv1b, kvs(kv1b, p1b, 18), { "F-1", "F-6" }, 0 };
    memset(it, 0, sizeof it);
    assert_int_equal(catalog_prepare(f->st, &ids[F].id, ids[F].key, it, 2, read_cb, &rc, w, &nw, err, sizeof err),
                     0);
    assert_int_equal(rc.reads, 2);
    assert_int_equal(nw, 2);
    assert_true(it[0].existed && !it[0].unchanged);
    assert_true(!it[1].existed && !it[1].unchanged);
    assert_string_equal(w[0].kind, "certification");
    assert_string_equal(w[0].key, "F-1");
    assert_ptr_equal(w[0].body, it[0].body);
    assert_string_equal(w[1].key, "F-6");
    assert_null(w[1].out);
    char werr[256];
    assert_int_equal(store_write_many(f->st, ids[F].key, w, nw, werr, sizeof werr), 0);
    free(w[0].out);
    free(w[1].out);
    catalog_put_free(it, 2);
    field_of(f, F, "certification", "F-1", "valid_until", v, sizeof v);
    assert_string_equal(v, "2027-03-31");                       /* fy-end of 2026-04-01 */
    field_of(f, F, "certification", "F-1", "tags", v, sizeof v);
    assert_string_equal(v, "");

    /* a reader's refusal names its item and stops */
    reader_ctx bad = { kv1b, rc.n, { "F-6", NULL }, 0 };
    memset(it, 0, sizeof it);
    assert_int_equal(catalog_prepare(f->st, &ids[F].id, ids[F].key, it, 2, read_cb, &bad, w, &nw, err, sizeof err),
                     -1);
    assert_string_equal(err, "item 2 (): malformed item");
    catalog_put_free(it, 2);

    /* an update changes the given fields and keeps the others */
    const char *pu[] = { "概要", "会議の音声から議事録を作る" };
    catalog_kv kvu[1];
    put_one(f, "certification", "F-2", CATALOG_PUT_UPDATE, kvu, kvs(kvu, pu, 2));
    field_of(f, F, "certification", "F-2", "summary", v, sizeof v);
    assert_string_equal(v, "会議の音声から議事録を作る");
    field_of(f, F, "certification", "F-2", "product", v, sizeof v);
    assert_string_equal(v, "避難所マップ");

    /* CODE/KEY was stored as MEMBER_ID/KEY */
    char want[200];
    ref_of(M, "M-2", want, sizeof want);
    field_of(f, F, "adoption", "F-A1", "certification", v, sizeof v);
    assert_string_equal(v, want);
    char buf[200];
    assert_string_equal(catalog_ref_resolve(f->st, "131016/M-2", buf, sizeof buf), want);
    assert_string_equal(catalog_ref_resolve(f->st, "999999/M-2", buf, sizeof buf), "999999/M-2");
    assert_string_equal(catalog_ref_resolve(f->st, "M-2", buf, sizeof buf), "M-2");
}

/* ---- the hits' records kept by the index (catalog_index_get_refs) ---- */

/* Records as handed to a store_rec_cb, end to end: "len:bytes" each; stops
 * after `stop_after` when that is not 0. */
typedef struct {
    uint8_t buf[65536];
    size_t used, n, stop_after;
} rec_list;

static int rec_list_cb(void *ctx, const uint8_t *rec, size_t len)
{
    rec_list *l = ctx;
    assert_true(l->used + 8 + len <= sizeof l->buf);
    memcpy(l->buf + l->used, &len, sizeof len);
    memcpy(l->buf + l->used + sizeof len, rec, len);
    l->used += sizeof len + len;
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static void same_records(const rec_list *a, const rec_list *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->used, b->used);
    assert_memory_equal(a->buf, b->buf, a->used);
}

/* Apply a record of M signed at M's seq 1 (M-1's), another than the one the
 * log holds, that the log keeps (the lowest hash of the two stays): signed
 * again and again until its hash is below the held one's, then applied once.
 * (Applying up to 64 tries failed when the held record's hash happened to be
 * low: the identities are new each run, so about one run in 65 failed.) */
static void fork_m1(fx *f)
{
    char err[256];
    store_ref ref = { ids[M].id, 1 };
    rec_list was = { .n = 0 };
    store_get_refs(f->st, &ref, 1, rec_list_cb, &was);
    assert_int_equal(was.n, 1);
    size_t wl;
    memcpy(&wl, was.buf, sizeof wl);
    proto_id h0;
    proto_record_hash(was.buf + sizeof wl, wl, &h0);
    for (int attempt = 0; attempt < (1 << 20); attempt++) {
        const char *m1[] = CERT_PAIRS("株式会社アルファ", "フォーク議事録", CORP_A, "防災", "2026-05-01",
                                      "2027-03-31", NULL, NULL, NULL);
        catalog_kv kv[10];
        proto_body *b = build("certification", kv, kvs(kv, m1, 18));
        uint8_t *raw = NULL;
        size_t len;
        proto_record r;
        if (proto_record_sign(&f->genesis, &ids[M].id, "certification", "M-1", 1, 1800000000000ull + attempt, 0,
                              b, ids[M].key, &raw, &len, err, sizeof err))
            fail_msg("sign: %s", err);
        proto_body_free(b);
        proto_id h;
        proto_record_hash(raw, len, &h);
        if (memcmp(h.b, h0.b, 32) >= 0) {
            free(raw);
            continue;   /* the held one would stay */
        }
        assert_int_equal(proto_record_decode(raw, len, &r, err, sizeof err), 0);
        EVP_PKEY *k = NULL;
        assert_int_equal(store_precheck(f->st, &r, &k, err, sizeof err), STORE_FORK);
        assert_int_equal(proto_record_verify(&r, k, err, sizeof err), 0);
        EVP_PKEY_free(k);
        int res = -1;
        assert_int_equal(store_apply_batch(f->st, &r, 1, &res, err, sizeof err), 0);
        assert_int_equal(res, STORE_FORK);
        f->gen++;                        /* as node_applied: a fork bumps the generation ... */
        catalog_index_note_all(f->x);    /* ... and rebuilds the index */
        rec_list now = { .n = 0 };
        store_get_refs(f->st, &ref, 1, rec_list_cb, &now);
        int held = now.n == 1 && now.used == sizeof len + len && !memcmp(now.buf + sizeof len, raw, len);
        free(raw);
        if (held)
            return;
        fail_msg("a fork of M-1 with the lower hash was not kept");
    }
    fail_msg("no fork of M-1 with a hash below the held one's in 2^20 tries");
}

static void hit_records(void **state)
{
    fx *f = *state;
    char err[256];
    catalog_query q;
    catalog_query_init(&q);
    q.all = 1;
    q.today = TODAY;
    catalog_hits h;
    assert_int_equal(catalog_search(f->x, f->st, f->gen, &q, &h, err, sizeof err), 0);
    assert_int_equal(h.ncerts, 5);
    /* every certification, one that is not there in the middle, one twice */
    store_ref refs[8];
    size_t n = 0;
    for (size_t i = 0; i < 3; i++)
        refs[n++] = h.certs[i];
    refs[n].author = ids[M].id;
    refs[n++].seq = 999;
    for (size_t i = 3; i < 5; i++)
        refs[n++] = h.certs[i];
    refs[n++] = h.certs[0];
    catalog_hits_free(&h);

    rec_list want = { .n = 0 }, got = { .n = 0 };
    store_get_refs(f->st, refs, n, rec_list_cb, &want);
    assert_int_equal(want.n, 6);
    catalog_index_stats s0, s;
    catalog_index_stats_get(f->x, &s0);
    assert_int_equal(s0.hit_records, 0);

    /* the first time: read from the store, the same records in the same order */
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, refs, n, rec_list_cb, &got), 0);
    same_records(&want, &got);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.hit_records, 5);
    assert_int_equal(s.hit_reads - s0.hit_reads, 1);        /* the one asked for twice */
    assert_int_equal(s.hit_misses - s0.hit_misses, 6);      /* five read, the absent one looked for */

    /* again: from memory, the same */
    s0 = s;
    rec_list again = { .n = 0 };
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, refs, n, rec_list_cb, &again), 0);
    same_records(&want, &again);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.hit_reads - s0.hit_reads, 6);
    assert_int_equal(s.hit_misses - s0.hit_misses, 1);      /* the absent one, looked for again */

    /* stopping when the callback says so, from memory and from the store */
    rec_list two = { .stop_after = 2 }, want2 = { .stop_after = 2 };
    store_get_refs(f->st, refs, n, rec_list_cb, &want2);
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, refs, n, rec_list_cb, &two), 0);
    same_records(&want2, &two);

    /* a generation the index is not built at: read from the store, nothing kept */
    catalog_index_stats_get(f->x, &s0);
    rec_list other = { .n = 0 };
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen + 1, refs, n, rec_list_cb, &other), 0);
    same_records(&want, &other);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.hit_reads, s0.hit_reads);
    assert_int_equal(s.hit_misses, s0.hit_misses);

    /* a fork puts another record at M-1's (author, seq): at the new
     * generation the new record is handed out, not the one kept */
    fork_m1(f);
    assert_int_equal(catalog_index_update(f->x, f->st, f->gen), 1);
    rec_list after = { .n = 0 }, want_after = { .n = 0 };
    store_get_refs(f->st, refs, n, rec_list_cb, &want_after);
    assert_int_not_equal(want_after.used == want.used && !memcmp(want_after.buf, want.buf, want.used), 1);
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, refs, n, rec_list_cb, &after), 0);
    same_records(&want_after, &after);
    rec_list after2 = { .n = 0 };
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, refs, n, rec_list_cb, &after2), 0);
    same_records(&want_after, &after2);
}

/* More records than the index keeps: it empties itself and goes on keeping
 * (never more than CATALOG_HITCACHE_RECS), and every record handed out is
 * still the store's. */
static void hit_records_full(void **state)
{
    fx *f = *state;
    char err[768];
    enum { EXTRA = CATALOG_HITCACHE_RECS + 300 };
    catalog_put *items = calloc(EXTRA, sizeof *items);
    catalog_kv (*kv)[10] = calloc(EXTRA, sizeof *kv);
    char (*names)[32] = calloc(EXTRA, sizeof *names);
    assert_non_null(items);
    assert_non_null(kv);
    assert_non_null(names);
    for (size_t i = 0; i < EXTRA; i++) {
        char key[32];
        snprintf(names[i], sizeof names[i], "製品%05zu", i);
        snprintf(key, sizeof key, "X-%zu", i);
        const char *p[] = CERT_PAIRS("株式会社イプシロン", names[i], NULL, "環境", "2026-04-01", "2028-03-31",
                                     NULL, NULL, NULL);
        put_item(&items[i], "certification", key, CATALOG_PUT_ADD, kv[i], kvs(kv[i], p, 18));
    }
    if (put_own(f, items, EXTRA, err, sizeof err))
        fail_msg("certifications: %s", err);
    free(items);
    free(kv);
    free(names);

    catalog_query q;
    catalog_query_init(&q);
    q.all = 1;
    q.today = TODAY;
    catalog_hits h;
    assert_int_equal(catalog_search(f->x, f->st, f->gen, &q, &h, err, sizeof err), 0);
    assert_true(h.ncerts > CATALOG_HITCACHE_RECS);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < h.ncerts; i += 50) {
            size_t m = h.ncerts - i < 50 ? h.ncerts - i : 50;
            rec_list want = { .n = 0 }, got = { .n = 0 };
            store_get_refs(f->st, h.certs + i, m, rec_list_cb, &want);
            assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, h.certs + i, m, rec_list_cb, &got), 0);
            same_records(&want, &got);
            catalog_index_stats s;
            catalog_index_stats_get(f->x, &s);
            assert_true(s.hit_records <= CATALOG_HITCACHE_RECS);
            assert_true(s.hit_bytes <= CATALOG_HITCACHE_BYTES);
        }
    catalog_index_stats s0, s;
    catalog_index_stats_get(f->x, &s0);
    /* emptied when full, and kept since: the last ones read are there */
    assert_true(s0.hit_records > 0 && s0.hit_records < h.ncerts);
    rec_list want = { .n = 0 }, got = { .n = 0 };
    store_get_refs(f->st, h.certs + h.ncerts - 50, 50, rec_list_cb, &want);
    assert_int_equal(catalog_index_get_refs(f->x, f->st, f->gen, h.certs + h.ncerts - 50, 50, rec_list_cb, &got), 0);
    same_records(&want, &got);
    catalog_index_stats_get(f->x, &s);
    assert_int_equal(s.hit_reads - s0.hit_reads, 50);
    assert_int_equal(s.hit_misses, s0.hit_misses);
    catalog_hits_free(&h);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(no_filter_and_order),
        T(words),
        T(words_every_substring),
        T(area),
        T(member),
        T(status),
        T(valid_on),
        T(expiring_within),
        T(adoption_filters),
        T(kana_contact_and_order),
        T(corporate_number),
        T(adopted_by),
        T(public_only),
        T(limit),
        T(areas_any),
        T(offset),
        T(pages),
        T(whole_product),
        T(one_certification),
        T(rebuilt_after_change),
        T(updated_in_place),
        T(compacted_in_place),
        T(trim_hook),
        T(built_from_snapshot),
        T(hit_records),
        T(hit_records_full),
        T(query_setters),
        T(prepare_refusals),
        T(prepare_writes),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
