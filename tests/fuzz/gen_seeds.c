/*
 * tests/fuzz/gen_seeds.c — seed inputs for the fuzz targets, made with the
 * real encoders (so the fuzzer starts from inputs that pass every check and
 * reaches the code behind them, instead of having to guess a signature's
 * framing or a 法人番号's check digit).
 *
 *   build/fuzz-seeds/gen_seeds tests/fuzz/corpus      (or: make fuzz-seeds)
 *
 * Writes seed_* files into DIR/fuzz_<target>/ for every target, replacing
 * the seeds of an earlier run (other files — fuzzer finds, crash
 * reproducers — are left alone).  Keys are made fresh in a temporary
 * directory on every run, so signatures and ids change from run to run;
 * what a seed exercises does not.
 *
 * Fixtures are fictional, as in tests/data/gen_fixtures.py: 法人番号 bodies
 * start with 9999, phone numbers are 03-0000-00xx, URLs are example.jp.
 */
#include "catalog/jp.h"
#include "catalog/schema.h"
#include "certs/certs.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/util.h"

#include <errno.h>
#include <ftw.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;
static int n_written;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gen_seeds: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void write_seed(const char *target, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0777) && errno != EEXIST)
        die("%s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s/seed_%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f))
        die("%s: %s", path, strerror(errno));
    n_written++;
}

static void write_str(const char *target, const char *name, const char *s)
{
    write_seed(target, name, s, strlen(s));
}

/* A valid 法人番号 for a 12-digit body. */
static const char *corp(const char *body12, char out[14])
{
    int cd = jp_corporate_number_check_digit(body12);
    if (cd < 0)
        die("bad corporate number body %s", body12);
    snprintf(out, 14, "%d%s", cd, body12);
    return out;
}

/* ---- identities ---- */

static char tmpdir[64];
static certs_identity ids[3];   /* ed25519, p256, rsa */
static const char *const id_types[3] = { "ed25519", "p256", "rsa" };
static const char *const id_codes[3] = { "131059", "131016", "271004" };
static const char *const id_names[3] = { "文京区", "千代田区", "大阪市" };

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void make_identities(void)
{
    char err[256], dir[128];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gen_seeds.XXXXXX");
    if (!mkdtemp(tmpdir))
        die("mkdtemp: %s", strerror(errno));
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/id%d", tmpdir, i);
        if (certs_init(dir, id_codes[i], id_names[i], id_types[i], err, sizeof err) ||
            certs_load(dir, &ids[i], err, sizeof err))
            die("identity %s: %s", id_types[i], err);
    }
}

/* ---- records ---- */

typedef struct {
    uint8_t *rec[32];
    size_t len[32];
    size_t n;
} rec_set;

static rec_set recs;
static proto_id alliance;

static void sign(const char *name, int who, const char *kind, const char *key, uint64_t seq,
                 uint32_t flags, proto_body *b)
{
    uint8_t *out;
    size_t len;
    char err[256];
    proto_id zero = { { 0 } };
    const proto_id *al = strcmp(kind, "genesis") ? &alliance : &zero;
    if (!b)
        die("%s: no body", name);
    if (proto_record_sign(al, &ids[who].id, kind, key, seq, 1767225600000ull + seq * 1000, flags, b,
                          ids[who].key, &out, &len, err, sizeof err))
        die("%s: %s", name, err);
    proto_body_free(b);
    write_seed("fuzz_record", name, out, len);
    if (!strcmp(kind, "genesis"))
        proto_record_hash(out, len, &alliance);   /* the alliance id is the genesis hash */
    if (recs.n < 32) {
        recs.rec[recs.n] = out;
        recs.len[recs.n++] = len;
    } else {
        free(out);
    }
}

static proto_body *catalog_body(const char *kind, const char *const *pairs, size_t npairs)
{
    catalog_kv kv[40];
    proto_body *b = NULL;
    char err[512];
    size_t n = 0;
    for (size_t i = 0; i + 1 < npairs && n < 40; i += 2, n++)
        kv[n] = (catalog_kv){ pairs[i], pairs[i + 1] };
    if (catalog_build(kind, kv, n, &b, err, sizeof err))
        die("%s body: %s", kind, err);
    return b;
}

#define PAIRS(...) (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)

static void gen_records(void)
{
    char c1[14], c2[14], hx[65], ref[256], ids_[PROTO_ID_STR];
    proto_body *b;

    b = proto_body_new();
    proto_body_str(b, "alliance", "ファーストカスタマー・アライアンス");
    proto_body_int(b, "admission", 1);
    proto_body_str(b, "code", ids[0].code);
    proto_body_str(b, "name", ids[0].name);
    proto_body_str(b, "address", "192.0.2.1:7400");
    proto_body_bin(b, "cert", ids[0].der, ids[0].der_len);
    sign("genesis", 0, "genesis", "genesis", 1, 0, b);

    /* member: admit (with the newcomer's certificate), address, leave, expel */
    for (int i = 1; i < 3; i++) {
        char name[32];
        proto_hex(ids[i].id.b, 32, hx);
        b = proto_body_new();
        proto_body_str(b, "op", "admit");
        proto_body_str(b, "code", ids[i].code);
        proto_body_str(b, "name", ids[i].name);
        proto_body_str(b, "address", i == 1 ? "[2001:db8::1]:7400" : "node.example.jp:7400");
        proto_body_bin(b, "cert", ids[i].der, ids[i].der_len);
        snprintf(name, sizeof name, "member_admit_%s", id_types[i]);
        sign(name, 0, "member", hx, (uint64_t)i + 1, 0, b);
    }
    proto_hex(ids[1].id.b, 32, hx);
    b = proto_body_new();
    proto_body_str(b, "op", "address");
    proto_body_str(b, "address", "198.51.100.7:7401");
    sign("member_address", 1, "member", hx, 1, 0, b);
    b = proto_body_new();
    proto_body_str(b, "op", "leave");
    sign("member_leave", 1, "member", hx, 2, 0, b);
    proto_hex(ids[2].id.b, 32, hx);
    b = proto_body_new();
    proto_body_str(b, "op", "expel");
    sign("member_expel", 0, "member", hx, 4, 0, b);

    /* certifications: the whole schema, a minimal one, a derived one (RSA author) */
    b = catalog_body("certification", PAIRS(
        "事業者名", "株式会社みらい防災テック", "法人番号", corp("999900000011", c1),
        "所在地", "東京都文京区本郷九丁目1番1号", "設立日", "平成30年4月2日",
        "製品・サービス名", "避難所混雑マップ", "概要", "避難所の混雑状況を地図で公開する。\n多言語表示, 音声読み上げに対応。",
        "分野", "防災、暮らし・手続き", "参考価格", "月額50,000円（税別）", "タグ", "地図;多言語",
        "URL", "https://example.jp/mirai-bosai", "認定制度名", "文京区トライアル発注認定制度",
        "認定日", "令和7年6月10日", "有効期限", "fy-end+2", "状態", "停止", "状態変更日", "2026-01-05",
        "状態変更理由", "報告の遅延", "公表資料", "https://example.jp/koho/2025-001.pdf",
        "問合せ先", "産業振興課 03-0000-0001", "公開区分", "公開"));
    sign("certification_full", 0, "certification", "文京-2026-001", 5, 0, b);
    b = catalog_body("certification", PAIRS(
        "company", "ことのはラボ", "product", "ＡＩ議事録アシスタント", "areas", "行政DX",
        "certified_on", "R7.7.1", "valid_until", "2027-06-30"));
    sign("certification_min", 0, "certification", "文京-2026-002", 6, 0, b);
    proto_id_str(&ids[0].id, ids_);
    snprintf(ref, sizeof ref, "%s/文京-2026-001", ids_);
    b = catalog_body("certification", PAIRS(
        "事業者名", "株式会社みらい防災テック", "製品・サービス名", "避難所混雑マップ", "分野", "防災",
        "依拠した認定", ref, "認定日", "2026-05-01", "有効期限", "fy-end-of:+3y",
        "法人番号", corp("999900000011", c1)));
    sign("certification_derived", 2, "certification", "大阪-2026-001", 1, 0, b);

    /* adoptions */
    b = catalog_body("adoption", PAIRS(
        "認定", ref, "年度", "令和8年度", "原課", "総務課", "問合せ先", "総務課 03-0000-0020",
        "契約方法", "4号随契", "金額", "1,200,000円", "期間開始", "2026/4/1", "期間終了", "令和9年3月31日",
        "KPI", "待ち時間 30% 減", "成果", "混雑の偏りが減った", "課題", "夜間の更新",
        "評価", "4", "公開区分", "public"));
    sign("adoption_full", 1, "adoption", "R8-001", 3, 0, b);
    b = catalog_body("adoption", PAIRS(
        "certification", ref, "fiscal_year", "2026", "department", "企画課", "route", "4号随契"));
    sign("adoption_min", 2, "adoption", "R8-002", 2, 0, b);

    /* tombstones: a withdrawn certification and adoption, a deleted generic record */
    b = proto_body_new();
    proto_body_str(b, "reason", "認定の取り下げ（事業者の廃業）");
    sign("certification_tombstone", 0, "certification", "文京-2026-002", 7, PROTO_FLAG_TOMBSTONE, b);
    b = proto_body_new();
    proto_body_str(b, "reason", "重複登録");
    sign("adoption_tombstone", 2, "adoption", "R8-002", 3, PROTO_FLAG_TOMBSTONE, b);
    sign("generic_tombstone", 1, "note", "memo-1", 4, PROTO_FLAG_TOMBSTONE, proto_body_new());

    /* generic: every body value type put can hold, and nesting */
    b = proto_body_new();
    const char *tags[] = { "a", "ｶﾀｶﾅ", "" };
    proto_body_str(b, "title", "議事録");
    proto_body_int(b, "amount", -42);
    proto_body_str(b, "code", "X-1");
    proto_body_bin(b, "blob", "\x00\x01\xff", 3);
    proto_body_strs(b, "tags", tags, 3);
    sign("generic", 1, "note", "memo-1", 5, 0, b);
    sign("generic_empty", 1, "x", "k", 6, 0, proto_body_new());
    (void)c2;
}

/* ---- peer messages (fuzz_msg): frames made by the encoders ---- */

static void gen_msgs(void)
{
    msg_list l;
    const uint8_t *f;
    size_t len;
    proto_id d;
    memset(&d, 0x5a, sizeof d);

    if (msg_list_init(&l, MSG_RECORDS))
        die("msg_list_init");
    for (size_t i = 0; i < recs.n; i++)
        if (msg_list_add_record(&l, recs.rec[i], recs.len[i]))
            die("msg_list_add_record");
    f = msg_list_frame(&l, &len);
    write_seed("fuzz_msg", "records_every_kind", f, len);
    msg_list_destroy(&l);

    if (msg_list_init_hello(&l, &alliance, &d))
        die("msg_list_init_hello");
    for (int i = 0; i < 3; i++)
        msg_list_add_vv(&l, &ids[i].id, (uint64_t)i * 1000 + 7, &d);
    f = msg_list_frame(&l, &len);
    write_seed("fuzz_msg", "hello_members", f, len);
    msg_list_destroy(&l);

    if (msg_list_init(&l, MSG_WANT))
        die("msg_list_init");
    msg_list_add_want(&l, &ids[0].id, 1, 7);
    msg_list_add_want(&l, &ids[2].id, 3, 1ull << 40);
    f = msg_list_frame(&l, &len);
    write_seed("fuzz_msg", "want_members", f, len);
    msg_list_destroy(&l);

    if (msg_list_init(&l, MSG_ANNOUNCE))
        die("msg_list_init");
    for (size_t i = 0; i < recs.n && i < 3; i++) {
        proto_id h;
        proto_record_hash(recs.rec[i], recs.len[i], &h);
        msg_list_add_announce(&l, &ids[i].id, i + 1, &h);
    }
    f = msg_list_frame(&l, &len);
    write_seed("fuzz_msg", "announce_members", f, len);
    msg_list_destroy(&l);

    msgpack_sbuffer sb;
    if (msg_pack_error(&sb, 3, "不明な連合です (unknown alliance)"))
        die("msg_pack_error");
    write_seed("fuzz_msg", "error_utf8", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- certificates ---- */

static void gen_certs(void)
{
    for (int i = 0; i < 3; i++) {
        char name[32];
        char *pem = certs_pem(&ids[i]);
        if (!pem)
            die("certs_pem");
        snprintf(name, sizeof name, "%s.pem", id_types[i]);
        write_str("fuzz_cert", name, pem);
        free(pem);
        snprintf(name, sizeof name, "%s.der", id_types[i]);
        write_seed("fuzz_cert", name, ids[i].der, ids[i].der_len);
    }
}

/* ---- catalog fields (fuzz_catalog): kind byte, then name\0value\0... ---- */

static void kv_seed(const char *name, int adoption, const char *const *pairs, size_t n)
{
    char buf[8192];
    size_t len = 0;
    buf[len++] = adoption ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(pairs[i]) + 1;
        if (len + l > sizeof buf)
            die("kv seed %s too long", name);
        memcpy(buf + len, pairs[i], l);
        len += l;
    }
    write_seed("fuzz_catalog", name, buf, len);
}

static void gen_catalog(void)
{
    char c1[14], ref[256], ids_[PROTO_ID_STR];
    proto_id_str(&ids[0].id, ids_);
    snprintf(ref, sizeof ref, "%s/文京－２０２６－００１", ids_);
    kv_seed("cert_full", 0, PAIRS(
        "事業者名", "株式会社みらい防災テック", "法人番号", corp("999900000011", c1),
        "所在地", "東京都文京区本郷九丁目1番1号", "設立日", "㍻30年4月2日",
        "製品･サービス名", "避難所混雑マップ", "概要", "一行目\r\n二行目\tタブ",
        "分野", "防災／暮らし・手続き", "参考価格", "月額50,000円", "タグ", "地図,多言語",
        "ＵＲＬ", "https://example.jp/a", "認定日", "令和元年5月1日", "有効期限", "FY-END+2",
        "状態", "suspended", "状態変更日", "R2.1.5", "状態変更理由", "報告の遅延",
        "問合せ先", "産業振興課 03-0000-0001", "公開区分", "連合内"));
    kv_seed("cert_english", 0, PAIRS(
        "company", "Kotonoha Lab", "corporate_number", "6-9999-0000-0102", "product", "AI minutes",
        "areas", "行政dx", "certified_on", "２０２６年４月１日", "valid_until", "fy-end-of:+3y",
        "status", "期間満了", "visibility", "public", "derived_from", ref));
    kv_seed("adoption_full", 1, PAIRS(
        "認定", ref, "年度", "R8", "原課", "総務課", "問合せ先", "総務課 03-0000-0020",
        "契約方法", "4号随契", "金額", "￥1,200,000", "期間開始", "2026.4.1", "期間終了", "H31.4.30",
        "段階", "本導入", "KPI", "待ち時間 30% 減", "評価", "５", "公開区分", "public"));
    kv_seed("adoption_fy", 1, PAIRS(
        "certification", ref, "fiscal_year", "平成31年度", "department", "企画課", "route", "4号随契",
        "amount", "1200000円", "period_from", "S64.1.7", "period_to", "M45.7.29"));
}

/* ---- CSV as catalogctl import reads it ---- */

static const char csv_header[] =
    "認定番号,事業者名,法人番号,所在地,設立日,製品・サービス名,概要,分野,参考価格,認定制度名,"
    "根拠法令,認定日,有効期限,状態,URL,問合せ先,公開区分\r\n";

static void gen_csv(void)
{
    char c1[14], c2[14], buf[8192];
    int n = snprintf(buf, sizeof buf,
        "%s"
        "文京-2026-001,株式会社みらい防災テック,%s,東京都文京区本郷九丁目1番1号,2018-04-02,避難所混雑マップ,"
        "\"避難所の混雑状況を地図で公開する。\n多言語表示, \"\"音声\"\"読み上げに対応。\",\"防災、暮らし・手続き\","
        "\"月額50,000円（税別）\",文京区トライアル発注認定制度,地方自治法施行令第167条の2第1項第4号,"
        "令和7年6月10日,fy-end+2,認定中,https://example.jp/mirai-bosai,産業振興課 03-0000-0001,公開\r\n"
        "文京－２０２６－００２,合同会社あおぞら見守りシステム,%s,,R3.5.20,見守りｶﾒﾗ クラウド,"
        "通学路の見守り,子育て、教育,,,,２０２５年８月１５日,2028/8/14,停止,,,連合内\r\n"
        ",,,,,,,,,,,,,,,,\r\n",
        csv_header, corp("999900000011", c1), corp("999900000033", c2));
    write_seed("fuzz_csv", "certs_utf8.csv", buf, (size_t)n);

    /* the same with a BOM, as Excel's "CSV UTF-8" saves it */
    char bom[8200];
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, buf, (size_t)n);
    write_seed("fuzz_csv", "certs_utf8_bom.csv", bom, (size_t)n + 3);

    /* CP932 (Excel's plain "CSV" on Japanese Windows), a title row above
     * the header, trailing empty cells, 和暦 */
    const char *sheet =
        "令和8年度 トライアル発注認定一覧,,,,,,\r\n"
        ",,,,,,\r\n"
        "認定番号,事業者名,製品･サービス名,分野,認定日,有効期限,備考\r\n"
        "文京-2026-201,株式会社つなぐ橋梁点検,ドローン橋梁点検,インフラ・施設,令和8年4月1日,R10/3/31,\r\n"
        "文京-2026-202,有限会社みどり農園ネット,鳥獣被害通報アプリ,\"農林水産、環境\",平成31年4月30日,fy-end,要確認\r\n";
    iconv_t cd = iconv_open("CP932", "UTF-8");
    if (cd == (iconv_t)-1)
        die("iconv: %s", strerror(errno));
    char sj[4096], *in = (char *)sheet, *outp = sj;
    size_t inl = strlen(sheet), outl = sizeof sj;
    if (iconv(cd, &in, &inl, &outp, &outl) == (size_t)-1)
        die("iconv: %s", strerror(errno));
    iconv_close(cd);
    write_seed("fuzz_csv", "sheet_cp932.csv", sj, sizeof sj - outl);

    /* an adoptions sheet with LF row ends and a quoted header */
    n = snprintf(buf, sizeof buf,
        "\"認定\",年度,原課,契約方法,金額,期間開始,期間終了\n"
        "131059/文京-2026-001,令和8年度,総務課,4号随契,\"1,200,000\",2026-04-01,2027-03-31\n"
        "131059/文京-2026-001,R8,\"企画課\r\n（分室）\",4号随契,１２００円,R8.4.1,\n");
    write_seed("fuzz_csv", "adoptions_lf.csv", buf, (size_t)n);
}

/* ---- 和暦 and the other readers of typed text (fuzz_jp) ---- */

static void gen_jp(void)
{
    /* NUL-separated: fuzz_jp.c reads each piece with every reader */
    static const char *const dates[] = {
        "令和8年4月1日", "令和元年5月1日", "平成31年4月30日", "R8.4.1", "r8/4/1", "H31.4.30",
        "S64.1.7", "T15.12.24", "M45.7.29", "㋿8年4月1日", "㍻31年4月30日", "２０２６－０４－０１",
        "2026年4月1日", "2026/4/1", "2026.4.1", "2026 - 04 - 01", "令和８年度", "FY2026", "fy-end+2",
        "fy-end-of:+3y", "1,200,000円", "￥1,200,000", "6-9999-0000-0102", "131059",
    };
    char buf[1024];
    size_t len = 0;
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char name[16];
        size_t l = strlen(dates[i]) + 1;
        snprintf(name, sizeof name, "%02zu", i);
        write_seed("fuzz_jp", name, dates[i], l - 1);
        if (len + l <= sizeof buf) {
            memcpy(buf + len, dates[i], l);
            len += l;
        }
    }
    write_seed("fuzz_jp", "all", buf, len);
}

/* ---- control requests (fuzz_control): a stream of frames ---- */

typedef struct {
    uint8_t buf[65536];
    size_t len;
} stream;

static void frame(stream *s, const msgpack_sbuffer *sb)
{
    if (s->len + 4 + sb->size > sizeof s->buf)
        die("control stream too long");
    uint8_t *p = s->buf + s->len;
    p[0] = (uint8_t)(sb->size >> 24);
    p[1] = (uint8_t)(sb->size >> 16);
    p[2] = (uint8_t)(sb->size >> 8);
    p[3] = (uint8_t)sb->size;
    memcpy(p + 4, sb->data, sb->size);
    s->len += 4 + sb->size;
}

/* A request map: cmd then string pairs (NULL-terminated), then extra
 * packed by the callback (may be NULL). */
static void request(stream *s, const char *cmd, const char *const *strs,
                    void (*extra)(msgpack_packer *), uint32_t nextra)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t n = 1 + nextra;
    for (const char *const *p = strs; p && *p; p += 2)
        n++;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    proto_pack_kv_str(&pk, "cmd", cmd);
    for (const char *const *p = strs; p && *p; p += 2)
        proto_pack_kv_str(&pk, p[0], p[1]);
    if (extra)
        extra(&pk);
    frame(s, &sb);
    msgpack_sbuffer_destroy(&sb);
}

static void pack_fields(msgpack_packer *pk)
{
    proto_pack_cstr(pk, "fields");
    msgpack_pack_array(pk, 2);
    msgpack_pack_array(pk, 2);
    proto_pack_cstr(pk, "title");
    proto_pack_cstr(pk, "議事録");
    msgpack_pack_array(pk, 2);
    proto_pack_cstr(pk, "code");
    proto_pack_cstr(pk, "X-1");
    proto_pack_cstr(pk, "tombstone");
    msgpack_pack_uint64(pk, 0);
}

static void pack_cert(msgpack_packer *pk)
{
    proto_pack_cstr(pk, "cert");
    msgpack_pack_bin(pk, ids[1].der_len);
    msgpack_pack_bin_body(pk, ids[1].der, ids[1].der_len);
}

static void pack_cput(msgpack_packer *pk)
{
    static const char *const f1[] = { "事業者名", "株式会社みらい防災テック", "製品・サービス名", "避難所混雑マップ",
                                      "分野", "防災", "認定日", "2026-04-01", "有効期限", "fy-end+2" };
    proto_pack_cstr(pk, "items");
    msgpack_pack_array(pk, 2);
    msgpack_pack_map(pk, 4);
    proto_pack_kv_str(pk, "kind", "certification");
    proto_pack_kv_str(pk, "key", "文京-2026-003");
    proto_pack_kv_str(pk, "mode", "upsert");
    proto_pack_cstr(pk, "fields");
    msgpack_pack_array(pk, 5);
    for (int i = 0; i < 10; i += 2) {
        msgpack_pack_array(pk, 2);
        proto_pack_cstr(pk, f1[i]);
        proto_pack_cstr(pk, f1[i + 1]);
    }
    msgpack_pack_map(pk, 4);
    proto_pack_kv_str(pk, "kind", "adoption");
    proto_pack_kv_str(pk, "key", "R8-001");
    proto_pack_kv_str(pk, "mode", "withdraw");
    proto_pack_cstr(pk, "fields");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    proto_pack_cstr(pk, "reason");
    proto_pack_cstr(pk, "重複登録");
    proto_pack_cstr(pk, "allow_unknown");
    msgpack_pack_uint64(pk, 1);
    proto_pack_cstr(pk, "strict");
    msgpack_pack_uint64(pk, 0);
}

static void pack_search_flags(msgpack_packer *pk)
{
    proto_pack_cstr(pk, "public_only");
    msgpack_pack_true(pk);
    proto_pack_cstr(pk, "limit");
    msgpack_pack_uint64(pk, 5);
}

/* Search words and a department given as numbers: the query kept a
 * pointer to their text after it went out of scope (found by fuzz_control). */
static void pack_number_words(msgpack_packer *pk)
{
    proto_pack_cstr(pk, "q");
    msgpack_pack_uint64(pk, 41);
    proto_pack_cstr(pk, "department");
    msgpack_pack_uint64(pk, 2026);
}

static void gen_control(void)
{
    char ids_[PROTO_ID_STR];
    proto_id_str(&ids[0].id, ids_);
    static const char *const reads[] = { "status", "forks", "members", "peers", "vv", "help", "sponsor", "nope" };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        stream s = { .len = 0 };
        request(&s, reads[i], NULL, NULL, 0);
        write_seed("fuzz_control", reads[i], s.buf, s.len);
    }
    stream s = { .len = 0 };
    request(&s, "get", (const char *const[]){ "kind", "certification", "key", "文京－２０２６－００１", "author", ids_, NULL },
            NULL, 0);
    write_seed("fuzz_control", "get", s.buf, s.len);
    s.len = 0;
    request(&s, "history", (const char *const[]){ "kind", "member", "key", "00", NULL }, NULL, 0);
    write_seed("fuzz_control", "history", s.buf, s.len);
    s.len = 0;
    request(&s, "list", (const char *const[]){ "kind", "certification", NULL }, NULL, 0);
    write_seed("fuzz_control", "list", s.buf, s.len);
    s.len = 0;
    request(&s, "cfind", (const char *const[]){ "kind", "certification", "key", "文京-2026-001", NULL }, NULL, 0);
    write_seed("fuzz_control", "cfind", s.buf, s.len);
    s.len = 0;
    request(&s, "csearch", (const char *const[]){ "q", "ＡＩ 議事録", "area", "防災", "status", "認定中",
                                                  "valid_on", "令和8年4月1日", "expiring_within", "6m",
                                                  "fiscal_year", "R8", "corporate_number", "6999900000102", NULL },
            pack_search_flags, 2);
    write_seed("fuzz_control", "csearch", s.buf, s.len);
    s.len = 0;
    request(&s, "csearch", NULL, pack_number_words, 2);
    write_seed("fuzz_control", "csearch_number_words", s.buf, s.len);
    s.len = 0;
    request(&s, "cput", NULL, pack_cput, 3);
    write_seed("fuzz_control", "cput", s.buf, s.len);
    s.len = 0;
    request(&s, "member_add", (const char *const[]){ "address", "192.0.2.9:7400", NULL }, pack_cert, 1);
    write_seed("fuzz_control", "member_add", s.buf, s.len);
    s.len = 0;
    request(&s, "member_set", (const char *const[]){ "op", "expel", "member", ids_, NULL }, NULL, 0);
    request(&s, "member_set", (const char *const[]){ "op", "address", "address", "192.0.2.9:7400", NULL }, NULL, 0);
    write_seed("fuzz_control", "member_set", s.buf, s.len);
    /* pipelined puts (one batch), then a read that flushes them */
    s.len = 0;
    for (int i = 0; i < 3; i++)
        request(&s, "put", (const char *const[]){ "kind", "note", "key", i ? "memo-2" : "memo-1", NULL },
                pack_fields, 2);
    request(&s, "put", (const char *const[]){ "kind", "certification", "key", "x", NULL }, NULL, 0);
    request(&s, "status", NULL, NULL, 0);
    write_seed("fuzz_control", "put_pipelined", s.buf, s.len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds CORPUS_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    make_identities();
    gen_records();
    gen_msgs();
    gen_certs();
    gen_catalog();
    gen_csv();
    gen_jp();
    gen_control();
    for (size_t i = 0; i < recs.n; i++)
        free(recs.rec[i]);
    for (int i = 0; i < 3; i++)
        certs_free(&ids[i]);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    printf("gen_seeds: %d seeds in %s\n", n_written, out_dir);
    return 0;
}
