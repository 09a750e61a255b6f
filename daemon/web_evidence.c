/*
 * daemon/web_evidence.c — the evidence sheet of 「4号随契の確認」
 * (4号随契 確認書): exactly the check's facts for one day
 * (web_product_facts), each certification considered with the record that
 * says so — certifier, 認定番号, period, standing that day, and the record's
 * SHA-256 hash (proto_record_hash over the signed record's bytes, the hash
 * the store's log chains commit to), its author, seq and signing time — the
 * adoptions, the node that produced it and when.  /evidence is a printable
 * page (the stylesheet's print rules hide the navigation); /evidence.xlsx
 * the same facts as cells.
 */
#include "daemon/web_int.h"
#include "catalog/diff.h"
#include "catalog/schema.h"
#include "catalog/xlsx.h"
#include "proto/limits.h"
#include "proto/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#define EVIDENCE_TITLE "4号随契 確認書（認定カタログ記録）"

/* The record's hash as hex (65 bytes). */
static void rec_hash(const web_rec *e, char out[65])
{
    proto_id h;
    proto_record_hash(e->raw, e->len, &h);
    proto_hex(h.b, sizeof h.b, out);
}

/* A date field as 令和8年4月1日（2026-04-01） text, or "" (into buf). */
static const char *date_text(const proto_record *r, const char *field, char *buf, size_t n)
{
    char era[64];
    int ymd = catalog_date_num(r, field);
    jp_date jd = { ymd / 10000, ymd / 100 % 100, ymd % 100 };
    if (!ymd)
        snprintf(buf, n, "%s", "");
    else if (jp_era_date(jd, era, sizeof era))
        snprintf(buf, n, "%04d-%02d-%02d", jd.y, jd.m, jd.d);
    else
        snprintf(buf, n, "%s（%04d-%02d-%02d）", era, jd.y, jd.m, jd.d);
    return buf;
}

/* ---- HTML ---- */

static void fact_p(void *ctx, int ok, const char *html)
{
    web_buf *b = ctx;
    web_raw(b, ok ? "<p class=\"okbox\">" : "<p class=\"warn\">");
    web_raw(b, html);   /* escaped by web_product_facts */
    web_raw(b, "</p>\n");
}

static void row_head(web_buf *b, const char *th)
{
    web_raw(b, "<tr><th>");
    web_raw(b, th);
    web_raw(b, "</th><td>");
}

int web_page_evidence(web_req *w)
{
    web_product p;
    if (web_product_load(w, &p))
        return 0;
    catalogd *d = w->d;
    web_buf *b = &w->out;
    store_info si;
    store_info_get(d->st, &si);
    char buf[PROTO_FIELD_MAX + 1], who[256], ids[PROTO_ID_STR], hx[65];
    const proto_record *seed = &p.certs[p.seed].r;

    web_page_begin(w, EVIDENCE_TITLE, NULL);
    web_raw(b, "<h1>" EVIDENCE_TITLE "</h1>\n<table id=\"evidence-summary\"><tbody>");
    row_head(b, "連合");
    web_text(b, si.has_genesis ? si.alliance : "");
    row_head(b, "確認した日");
    web_date_num(b, p.on);
    row_head(b, "製品");
    web_text(b, catalog_field_text(seed, "product", buf, sizeof buf));
    row_head(b, "事業者");
    web_company(b, seed);
    row_head(b, "作成した団体");
    web_textf(b, "%s %s", d->id.code, d->id.name);
    proto_id_str(&d->id.id, ids);
    web_raw(b, "<br><span class=\"hash\">");
    web_text(b, ids);
    web_raw(b, "</span>");
    row_head(b, "作成日時");
    web_time_ms(b, proto_now_ms(), 1);
    web_raw(b, "</td></tr></tbody></table>\n<h2>確認結果</h2>\n<section id=\"check-result\">");
    web_product_facts(w, &p, 1, fact_p, b);
    web_raw(b, "</section>\n<h2>確認した認定</h2>\n<table id=\"evidence-certifications\"><thead><tr>"
               "<th>認定団体</th><th>認定番号</th><th>制度</th><th>根拠法令</th><th>認定期間</th>"
               "<th>確認した日の状態</th><th>依拠した認定</th><th>記録</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < p.ncerts; i++) {
        const web_rec *e = &p.certs[i];
        const proto_record *r = &e->r;
        web_raw(b, "<tr><td>");
        web_text(b, web_member_label(w, &r->author, who, sizeof who));
        web_raw(b, "</td><td>");
        web_text(b, r->key);
        web_raw(b, "</td><td>");
        web_text(b, catalog_field_text(r, "programme", buf, sizeof buf));
        web_raw(b, "</td><td>");
        web_text(b, catalog_field_text(r, "legal_ground", buf, sizeof buf));
        web_raw(b, "</td><td>");
        web_date(b, catalog_field_text(r, "certified_on", buf, sizeof buf));
        web_raw(b, "〜");
        web_date(b, catalog_field_text(r, "valid_until", buf, sizeof buf));
        web_raw(b, "</td><td>");
        web_text(b, web_standing_name(p.standing[i]));
        web_raw(b, "</td><td>");
        web_text(b, web_ref_label(w, catalog_field_text(r, "derived_from", buf, sizeof buf), who, sizeof who));
        rec_hash(e, hx);
        proto_id_str(&r->author, ids);
        web_raw(b, "</td><td>SHA-256: <span class=\"hash record-hash\">");
        web_text(b, hx);
        web_raw(b, "</span><br>作成者: <span class=\"hash\">");
        web_text(b, ids);
        web_rawf(b, "</span><br>seq: %llu<br>署名日時: ", (unsigned long long)r->seq);
        web_time_ms(b, r->time_ms, 1);
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody></table>\n<h2>導入実績（この製品を導入している団体）</h2>\n");
    if (!p.nadoptions) {
        web_raw(b, "<p>導入実績はありません</p>\n");
    } else {
        web_raw(b, "<table id=\"evidence-adoptions\"><thead><tr><th>導入団体</th><th>年度</th><th>原課</th>"
                   "<th>契約方法</th><th>段階</th><th>記録</th></tr></thead><tbody>\n");
        for (size_t i = 0; i < p.nadoptions; i++) {
            const web_rec *e = &p.adoptions[i];
            const proto_record *r = &e->r;
            int64_t fy;
            web_raw(b, "<tr><td>");
            web_text(b, web_member_label(w, &r->author, who, sizeof who));
            web_raw(b, "</td><td>");
            if (proto_body_get_int(r, "fiscal_year", &fy) == 0)
                web_fiscal_year(b, (long)fy);
            web_raw(b, "</td><td>");
            web_text(b, catalog_field_text(r, "department", buf, sizeof buf));
            web_raw(b, "</td><td>");
            web_text(b, catalog_field_text(r, "route", buf, sizeof buf));
            web_raw(b, "</td><td>");
            web_text(b, catalog_field_text(r, "stage", buf, sizeof buf));
            rec_hash(e, hx);
            web_raw(b, "</td><td>SHA-256: <span class=\"hash record-hash\">");
            web_text(b, hx);
            web_rawf(b, "</span><br>seq: %llu</td></tr>\n", (unsigned long long)r->seq);
        }
        web_raw(b, "</tbody></table>\n");
    }
    if (p.more)
        web_rawf(b, "<p>ほかに %zu 件の記録があります（表示の上限を超えた分）</p>\n", p.more);
    web_raw(b, "<p class=\"muted\">記録のハッシュは、各団体が署名した記録（バイト列全体）の SHA-256 です。"
               "この確認書は、作成した団体のノードが作成日時に保持していた連合カタログの記録に基づきます。</p>\n"
               "<p class=\"noprint\"><a href=\"/product?");
    web_record_qs(b, &p.author, p.key);
    web_raw(b, "\">製品のページに戻る</a></p>\n");
    web_page_end(w);
    web_product_free(&p);
    return 0;
}

/* ---- XLSX ---- */

typedef struct {
    catalog_xlsx *x;
} xfacts;

static void fact_row(void *ctx, int ok, const char *text)
{
    xfacts *f = ctx;
    const char *cells[2] = { ok ? "確認" : "警告", text };
    catalog_xlsx_row(f->x, cells, 2, 0);
}

static void kv_row(catalog_xlsx *x, const char *k, const char *v)
{
    const char *cells[2] = { k, v };
    catalog_xlsx_row(x, cells, 2, 0);
}

/* The workbook into path; 0, or -1 with err. */
static int write_xlsx(web_req *w, const web_product *p, const char *path, char *err, size_t errlen)
{
    catalogd *d = w->d;
    catalog_xlsx *x = catalog_xlsx_open(path, err, errlen);
    if (!x)
        return -1;
    store_info si;
    store_info_get(d->st, &si);
    char buf[PROTO_FIELD_MAX + 1], who[256], ids[PROTO_ID_STR], hx[65], s1[128], s2[128], s3[64];
    const proto_record *seed = &p->certs[p->seed].r;
    web_buf t = { 0 };

    static const char *const kh[] = { "項目", "内容" };
    catalog_xlsx_sheet(x, "確認書", kh, 2);
    kv_row(x, "表題", EVIDENCE_TITLE);
    kv_row(x, "連合", si.has_genesis ? si.alliance : "");
    snprintf(s1, sizeof s1, "%04d-%02d-%02d", p->on / 10000, p->on / 100 % 100, p->on % 100);
    jp_date jd = { p->on / 10000, p->on / 100 % 100, p->on % 100 };
    if (jp_era_date(jd, s2, sizeof s2) == 0)
        snprintf(s1 + strlen(s1), sizeof s1 - strlen(s1), "（%s）", s2);
    kv_row(x, "確認した日", s1);
    kv_row(x, "製品", catalog_field_text(seed, "product", buf, sizeof buf));
    kv_row(x, "事業者", catalog_field_text(seed, "company", buf, sizeof buf));
    kv_row(x, "法人番号", catalog_field_text(seed, "corporate_number", buf, sizeof buf));
    snprintf(buf, sizeof buf, "%s %s", d->id.code, d->id.name);
    kv_row(x, "作成した団体", buf);
    proto_id_str(&d->id.id, ids);
    kv_row(x, "作成した団体の ID", ids);
    web_time_ms(&t, proto_now_ms(), 0);
    web_put(&t, "", 1);
    kv_row(x, "作成日時", t.failed ? "" : t.p);
    web_buf_free(&t);
    xfacts f = { x };
    web_product_facts(w, p, 0, fact_row, &f);

    static const char *const ch[] = { "認定団体", "認定番号", "制度", "根拠法令", "認定日", "有効期限",
                                      "確認した日の状態", "依拠した認定", "記録のハッシュ (SHA-256)",
                                      "作成者", "seq", "署名日時" };
    catalog_xlsx_sheet(x, "確認した認定", ch, 12);
    for (size_t i = 0; i < p->ncerts; i++) {
        const web_rec *e = &p->certs[i];
        const proto_record *r = &e->r;
        char prog[1024], law[1024], from[512], fromlabel[600], seq[24];
        rec_hash(e, hx);
        proto_id_str(&r->author, ids);
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)r->seq);
        web_time_ms(&t, r->time_ms, 0);
        web_put(&t, "", 1);
        const char *cells[12] = {
            web_member_label(w, &r->author, who, sizeof who), r->key,
            catalog_field_text(r, "programme", prog, sizeof prog),
            catalog_field_text(r, "legal_ground", law, sizeof law),
            date_text(r, "certified_on", s1, sizeof s1), date_text(r, "valid_until", s2, sizeof s2),
            web_standing_name(p->standing[i]), web_ref_label(w, catalog_field_text(r, "derived_from", from, sizeof from), fromlabel, sizeof fromlabel),
            hx, ids, seq, t.failed ? "" : t.p,
        };
        catalog_xlsx_row(x, cells, 12, 1u << 10);
        web_buf_free(&t);
    }

    static const char *const ah[] = { "導入団体", "認定", "年度", "原課", "契約方法", "金額", "段階",
                                      "記録のハッシュ (SHA-256)", "seq" };
    catalog_xlsx_sheet(x, "導入実績", ah, 9);
    for (size_t i = 0; i < p->nadoptions; i++) {
        const web_rec *e = &p->adoptions[i];
        const proto_record *r = &e->r;
        char cert[512], certlabel[600], fy[64] = "", dept[1024], route[128], amount[32], stage[128], seq[24];
        int64_t v;
        if (proto_body_get_int(r, "fiscal_year", &v) == 0 && jp_era_fiscal_year((int)v, s3, sizeof s3) == 0)
            snprintf(fy, sizeof fy, "%s（%lld年度）", s3, (long long)v);
        rec_hash(e, hx);
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)r->seq);
        const char *cells[9] = {
            web_member_label(w, &r->author, who, sizeof who), web_ref_label(w, catalog_field_text(r, "certification", cert, sizeof cert), certlabel, sizeof certlabel),
            fy, catalog_field_text(r, "department", dept, sizeof dept),
            catalog_field_text(r, "route", route, sizeof route), catalog_field_text(r, "amount", amount, sizeof amount),
            catalog_field_text(r, "stage", stage, sizeof stage), hx, seq,
        };
        catalog_xlsx_row(x, cells, 9, 1u << 5 | 1u << 8);
    }
    return catalog_xlsx_close(x, err, errlen);
}

/* The whole file into b; 0 or -1. */
static int slurp(int fd, web_buf *b)
{
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        web_put(b, chunk, (size_t)n);
    return n < 0 || b->failed ? -1 : 0;
}

/* The answer's type and file names, the same for GET and HEAD. */
static void xlsx_names(web_req *w, const web_product *p)
{
    w->type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    snprintf(w->filename, sizeof w->filename, "evidence-%d.xlsx", p->on);
    snprintf(w->filename_ja, sizeof w->filename_ja, "4号随契確認書_%s_%d.xlsx", p->key, p->on);
}

int web_page_evidence_xlsx(web_req *w)
{
    web_product p;
    if (web_product_load(w, &p))
        return 0;   /* a bad parameter, an unknown record: the same error for a HEAD */
    if (w->head) {
        /* the headers a GET would get, and no workbook: it is written and
         * zipped on the loop, for a body a HEAD does not send (as the
         * exports' HEAD, web_defer) */
        xlsx_names(w, &p);
        web_product_free(&p);
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    char path[512], err[300];
    snprintf(path, sizeof path, "%s/catalogd-evidence.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        web_product_free(&p);
        return web_error(w, 500, "一時ファイルを作れません");
    }
    int rc = write_xlsx(w, &p, path, err, sizeof err);
    if (rc == 0) {
        /* libxlsxwriter replaced the file: read it back by name */
        close(fd);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 || slurp(fd, &w->out) ? -1 : 0;
        if (rc)
            snprintf(err, sizeof err, "作成したファイルを読めません");
    }
    if (fd >= 0)
        close(fd);
    unlink(path);
    if (rc) {
        web_product_free(&p);
        return web_error(w, 500, "確認書を作れませんでした: %s", err);
    }
    xlsx_names(w, &p);
    web_product_free(&p);
    return 0;
}
