/*
 * daemon/web_product.c — 製品: one product with every certification of it
 * (by any member) and every adoption citing them, and 「4号随契の確認」 for
 * a day; and what the evidence sheet (web_evidence.c) shares with it: the
 * product's records (web_product_load) and the check's facts
 * (web_product_facts).
 *
 * "Every certification of this product" is catalog_search with has_cert:
 * the index's own product widening, no second search.  The check itself is
 * catalog_contract_check (catalog/contract.h), a pure function with unit
 * tests; this file only reads the values it needs from the records and
 * words the outcome.
 */
#include "daemon/web_int.h"
#include "catalog/diff.h"
#include "catalog/index.h"
#include "catalog/jp.h"
#include "catalog/schema.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- loading ---- */

typedef struct {
    web_rec *v;
    size_t n, max;
    int failed;
} rec_list;

static int copy_rec(void *ctx, const uint8_t *rec, size_t len)
{
    rec_list *l = ctx;
    if (l->n >= l->max)
        return 1;
    int rc = web_rec_copy(&l->v[l->n], rec, len);
    if (rc < 0) {
        l->failed = 1;
        return 1;
    }
    l->n += (size_t)rc;
    return 0;
}

int web_rec_copy(web_rec *e, const uint8_t *rec, size_t len)
{
    if (!(e->raw = malloc(len ? len : 1)))
        return -1;
    memcpy(e->raw, rec, len);
    e->len = len;
    if (proto_record_decode_stored(e->raw, len, &e->r, NULL, 0)) {
        free(e->raw);
        e->raw = NULL;
        return 0;
    }
    return 1;
}

/* refs[0..n) into a new array of records, at most max. */
static int load_refs(store *st, const store_ref *refs, size_t n, size_t max, web_rec **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (!n || !max)
        return 0;
    size_t k = n < max ? n : max;
    rec_list l = { calloc(k, sizeof(web_rec)), 0, k, 0 };
    if (!l.v)
        return -1;
    store_get_refs(st, refs, k, copy_rec, &l);
    *out = l.v;
    *nout = l.n;
    return l.failed ? -1 : 0;
}

void web_product_free(web_product *p)
{
    for (size_t i = 0; i < p->ncerts; i++)
        free(p->certs[i].raw);
    for (size_t i = 0; i < p->nadoptions; i++)
        free(p->adoptions[i].raw);
    free(p->certs);
    free(p->adoptions);
    free(p->standing);
    memset(p, 0, sizeof *p);
}

/* c and k of a record request: 0, or -1 with the 400 page written. */
static int read_ck(web_req *w, proto_id *author, char *key, size_t keylen)
{
    const char *c = web_param(w, "c"), *k = web_param(w, "k");
    char err[300];
    if (!c || !k) {
        web_error(w, 400, "c（記録を作成した団体の ID）と k（認定番号などのキー）を指定してください");
        return -1;
    }
    if (proto_id_parse(c, author)) {
        web_error(w, 400, "団体の ID「%s」が読めません", c);
        return -1;
    }
    if (catalog_key_norm(k, key, keylen, err, sizeof err)) {
        web_error(w, 400, "キー「%s」が読めません: %s", k, err);
        return -1;
    }
    return 0;
}

int web_product_load(web_req *w, web_product *p)
{
    catalogd *d = w->d;
    char err[300];
    memset(p, 0, sizeof *p);
    if (read_ck(w, &p->author, p->key, sizeof p->key))
        return -1;
    p->on = w->today;
    const char *on = web_param(w, "on");
    if (on) {
        jp_date jd;
        if (catalog_parse_date(on, &jd, err, sizeof err)) {
            web_error(w, 400, "確認する日「%s」が読めません: %s", on, err);
            return -1;
        }
        p->on = catalog_date_to_num(jd);
    }

    catalog_query q;
    catalog_query_init(&q);
    q.today = w->today;
    q.self = d->id.id;
    q.has_cert = 1;
    q.cert_author = p->author;
    q.cert_key = p->key;
    q.limit = 1;
    catalog_hits h;
    if (catalog_search(d->index, d->st, d->catalog_gen, &q, &h, err, sizeof err)) {
        web_error(w, 500, "%s", err);
        return -1;
    }
    if (!h.ncerts) {
        catalog_hits_free(&h);
        char who[256];
        web_error(w, 404, "認定 %s（%s）はこのノードにありません（取り下げられたか、まだ届いていません）", p->key,
                  web_member_label(w, &p->author, who, sizeof who));
        return -1;
    }
    size_t max = NODE_WEB_PRODUCT_RECORDS_MAX;
    int rc = load_refs(d->st, h.certs, h.ncerts, max, &p->certs, &p->ncerts);
    if (rc == 0)
        rc = load_refs(d->st, h.adoptions, h.nadoptions, max - p->ncerts, &p->adoptions, &p->nadoptions);
    p->more = h.ncerts + h.nadoptions - p->ncerts - p->nadoptions;
    catalog_hits_free(&h);
    catalog_contract_cert *cc = calloc(p->ncerts ? p->ncerts : 1, sizeof *cc);
    p->standing = calloc(p->ncerts ? p->ncerts : 1, sizeof *p->standing);
    if (rc || !cc || !p->standing) {
        free(cc);
        web_product_free(p);
        web_error(w, 500, "ページを作れませんでした（メモリが足りません）");
        return -1;
    }
    for (size_t i = 0; i < p->ncerts; i++) {
        const proto_record *r = &p->certs[i].r;
        if (!memcmp(&r->author, &p->author, sizeof p->author) && !strcmp(r->key, p->key))
            p->seed = i;
        cc[i].recorded = catalog_status_recorded(r);
        cc[i].status_from = catalog_date_num(r, "status_date");
        cc[i].certified_on = catalog_date_num(r, "certified_on");
        cc[i].valid_until = catalog_date_num(r, "valid_until");
        cc[i].own = !memcmp(&r->author, &d->id.id, sizeof d->id.id);
    }
    catalog_contract_check(cc, p->ncerts, p->on, p->standing, &p->res);
    free(cc);
    return 0;
}

/* ---- shared wording ---- */

const char *web_standing_name(int standing)
{
    switch (standing) {
    case CATALOG_CONTRACT_IN_FORCE: return "効力あり";
    case CATALOG_CONTRACT_NOT_YET: return "認定日前";
    case CATALOG_CONTRACT_SUSPENDED: return "停止";
    case CATALOG_CONTRACT_REVOKED: return "取消";
    case CATALOG_CONTRACT_EXPIRED: return "期間満了";
    default: return "";
    }
}

const char *web_cert_label(const web_req *w, const proto_id *author, const char *key, char *buf, size_t n)
{
    char who[256];
    snprintf(buf, n, "%s %s", web_member_label(w, author, who, sizeof who), key);
    return buf;
}

void web_record_qs(web_buf *b, const proto_id *author, const char *key)
{
    char ids[PROTO_ID_STR];
    proto_id_str(author, ids);
    web_raw(b, "c=");
    web_qs(b, ids);
    web_raw(b, "&amp;k=");
    web_qs(b, key);
}

void web_time_ms(web_buf *b, uint64_t ms, int html)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char era[64], iso[32];
    localtime_r(&t, &tm);
    jp_date jd = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
    snprintf(iso, sizeof iso, "%04d-%02d-%02d %02d:%02d", jd.y, jd.m, jd.d, tm.tm_hour, tm.tm_min);
    if (jp_era_date(jd, era, sizeof era)) {
        web_text(b, iso);
        return;
    }
    if (html) {
        web_rawf(b, "<time datetime=\"%.10sT%s\" title=\"%s\">", iso, iso + 11, iso);
        web_textf(b, "%s %02d:%02d", era, tm.tm_hour, tm.tm_min);
        web_raw(b, "</time>");
    } else {
        web_textf(b, "%s %02d:%02d（%s）", era, tm.tm_hour, tm.tm_min, iso);
    }
}

/* ---- the check's facts ---- */

/* Text into a fact: escaped for HTML, or as it is. */
static void fact_text(web_buf *b, int html, const char *s)
{
    if (html) {
        web_text(b, s);
        return;
    }
    /* one line per fact (a field written before the text rule may hold a break) */
    for (; s && *s; s++)
        web_put(b, *s == '\n' || *s == '\t' ? " " : s, 1);
}

static void fact_date(web_buf *b, int html, int ymd)
{
    if (html) {
        web_date_num(b, ymd);
        return;
    }
    char era[64];
    jp_date jd = { ymd / 10000, ymd / 100 % 100, ymd % 100 };
    if (jp_era_date(jd, era, sizeof era) == 0)
        web_rawf(b, "%s（%04d-%02d-%02d）", era, jd.y, jd.m, jd.d);
    else
        web_rawf(b, "%d", ymd);
}

static void emit(web_buf *b, int ok, web_fact_fn fn, void *ctx)
{
    web_put(b, "", 1);
    if (!b->failed)
        fn(ctx, ok, b->p);
    b->n = 0;
}

/* "131059 文京区 文京-2026-001、…" of the certifications whose standing
 * is `standing` (own: only this member's). */
static void fact_certs(web_req *w, const web_product *p, web_buf *b, int html, int own)
{
    char label[512];
    int first = 1;
    for (size_t i = 0; i < p->ncerts; i++) {
        const proto_record *r = &p->certs[i].r;
        if (p->standing[i] != CATALOG_CONTRACT_IN_FORCE ||
            (own && memcmp(&r->author, &w->d->id.id, sizeof r->author)))
            continue;
        fact_text(b, html, first ? "" : "、");
        fact_text(b, html, web_cert_label(w, &r->author, r->key, label, sizeof label));
        first = 0;
    }
}

void web_product_facts(web_req *w, const web_product *p, int html, web_fact_fn fn, void *ctx)
{
    web_buf b = { 0 };
    char me[256], label[512], buf[1100];
    snprintf(me, sizeof me, "%s %s", w->d->id.code, w->d->id.name);

    /* (1) a certification of the product in force that day */
    fact_date(&b, html, p->on);
    if (p->res.in_force) {
        fact_text(&b, html, "に効力のある、この製品の認定があります: ");
        fact_certs(w, p, &b, html, 0);
    } else {
        fact_text(&b, html, "に効力のある、この製品の認定はありません");
    }
    emit(&b, p->res.in_force > 0, fn, ctx);

    /* (2) this member's own (its own decision, or derived from another's) */
    if (p->res.own_in_force) {
        fact_text(&b, html, "当団体（");
        fact_text(&b, html, me);
        fact_text(&b, html, "）の認定がこの日に効力を有します: ");
        fact_certs(w, p, &b, html, 1);
        emit(&b, 1, fn, ctx);
    } else if (!p->res.own) {
        /* 施行令第167条の2第1項第4号: the head of the contracting
         * municipality itself must have certified the supplier */
        fact_text(&b, html, "当団体（");
        fact_text(&b, html, me);
        fact_text(&b, html, "）の認定がありません（4号随契には当団体の長の認定が必要です: "
                            "地方自治法施行令第167条の2第1項第4号。他団体の認定に依拠して当団体の認定を登録できます）");
        emit(&b, 0, fn, ctx);
    } else {
        fact_text(&b, html, "当団体（");
        fact_text(&b, html, me);
        fact_text(&b, html, "）の認定は、この日に効力がありません（下記のとおり）");
        emit(&b, 0, fn, ctx);
    }

    /* (3) every certification not in force that day, and why */
    for (size_t i = 0; i < p->ncerts; i++) {
        const proto_record *r = &p->certs[i].r;
        int s = p->standing[i];
        if (s == CATALOG_CONTRACT_IN_FORCE)
            continue;
        fact_text(&b, html, web_cert_label(w, &r->author, r->key, label, sizeof label));
        fact_text(&b, html, ": ");
        if (s == CATALOG_CONTRACT_NOT_YET) {
            int on = catalog_date_num(r, "certified_on");
            if (on) {
                fact_text(&b, html, "認定日 ");
                fact_date(&b, html, on);
                fact_text(&b, html, " より前です（この日にはまだ認定されていません）");
            } else {
                fact_text(&b, html, "認定日が記録されていません");
            }
        } else if (s == CATALOG_CONTRACT_EXPIRED) {
            fact_text(&b, html, "期間満了（有効期限 ");
            fact_date(&b, html, catalog_date_num(r, "valid_until"));
            fact_text(&b, html, " を過ぎています）");
        } else {
            int from = catalog_date_num(r, "status_date");
            catalog_field_text(r, "status_reason", buf, sizeof buf);
            fact_text(&b, html, s == CATALOG_CONTRACT_REVOKED ? "取消" : "停止");
            if (from || buf[0]) {
                fact_text(&b, html, "（");
                if (from) {
                    fact_date(&b, html, from);
                    fact_text(&b, html, " から");
                }
                if (buf[0]) {
                    fact_text(&b, html, from ? "。理由: " : "理由: ");
                    fact_text(&b, html, buf);
                }
                fact_text(&b, html, "）");
            }
        }
        emit(&b, 0, fn, ctx);
    }
    web_buf_free(&b);
}

/* ---- the page ---- */

static const char *const status_cls[] = { "st-active", "st-suspended", "st-revoked", "st-expired" };

int web_ref_split(const char *ref, proto_id *id, char *key, size_t keylen)
{
    const char *slash = strchr(ref, '/');
    char ids[128];
    if (!slash || (size_t)(slash - ref) >= sizeof ids || strlen(slash + 1) >= keylen)
        return -1;
    memcpy(ids, ref, (size_t)(slash - ref));
    ids[slash - ref] = 0;
    if (proto_id_parse(ids, id))
        return -1;
    snprintf(key, keylen, "%s", slash + 1);
    return 0;
}

const char *web_ref_label(const web_req *w, const char *ref, char *buf, size_t n)
{
    proto_id id;
    char key[PROTO_KEY_MAX + 1];
    if (web_ref_split(ref, &id, key, sizeof key))
        snprintf(buf, n, "%s", ref);
    else
        web_cert_label(w, &id, key, buf, n);
    return buf;
}

/* <a class="CLS" href="/product?c=…&k=…">131059 文京区 KEY</a> */
static void cert_link(web_req *w, const char *cls, const proto_id *author, const char *key)
{
    web_buf *b = &w->out;
    char label[512];
    web_rawf(b, "<a class=\"%s\" href=\"/product?", cls);
    web_record_qs(b, author, key);
    web_raw(b, "\">");
    web_text(b, web_cert_label(w, author, key, label, sizeof label));
    web_raw(b, "</a>");
}

static void history_link(web_req *w, const char *kind, const proto_id *author, const char *key)
{
    web_rawf(&w->out, "<a class=\"history\" href=\"/history?kind=%s&amp;", kind);
    web_record_qs(&w->out, author, key);
    web_raw(&w->out, "\">履歴</a>");
}

static void td_field(web_req *w, const proto_record *r, const char *field, const char *cls)
{
    char buf[PROTO_FIELD_MAX + 1];
    web_buf *b = &w->out;
    if (cls)
        web_rawf(b, "<td class=\"%s\">", cls);
    else
        web_raw(b, "<td>");
    web_text(b, catalog_field_text(r, field, buf, sizeof buf));
    web_raw(b, "</td>");
}

static void heading(web_req *w, const web_product *p)
{
    web_buf *b = &w->out;
    const proto_record *r = &p->certs[p->seed].r;
    char buf[PROTO_FIELD_MAX + 1];
    web_raw(b, "<h1>");
    web_text(b, catalog_field_text(r, "product", buf, sizeof buf));
    web_raw(b, "</h1>\n<dl class=\"product-head\"><dt>事業者</dt><dd>");
    web_company(b, r);
    web_raw(b, "</dd><dt>分野</dt><dd>");
    web_text(b, catalog_field_text(r, "areas", buf, sizeof buf));
    if (catalog_field_text(r, "summary", buf, sizeof buf)[0]) {
        web_raw(b, "</dd><dt>概要</dt><dd class=\"pre\">");
        web_text(b, buf);
    }
    if (catalog_field_text(r, "url", buf, sizeof buf)[0]) {
        web_raw(b, "</dd><dt>URL</dt><dd>");
        web_link_ext(b, buf, NULL);
    }
    web_raw(b, "</dd></dl>\n");
}

/* A certification's 依拠した認定, parsed once per page: the derived-by
 * column compares every pair, which must not parse n * n references. */
typedef struct {
    int ok;
    proto_id author;
    char key[PROTO_KEY_MAX + 1];
} derived_ref;

static void cert_table(web_req *w, const web_product *p)
{
    web_buf *b = &w->out;
    char buf[PROTO_FIELD_MAX + 1], who[256], key[PROTO_KEY_MAX + 1];
    derived_ref *dr = calloc(p->ncerts ? p->ncerts : 1, sizeof *dr);
    if (!dr) {
        b->failed = 1;
        return;
    }
    for (size_t i = 0; i < p->ncerts; i++)
        dr[i].ok = catalog_field_text(&p->certs[i].r, "derived_from", buf, sizeof buf)[0] &&
                   web_ref_split(buf, &dr[i].author, dr[i].key, sizeof dr[i].key) == 0;
    web_raw(b, "<h2>認定</h2>\n<table id=\"certifications\"><thead><tr><th>認定団体</th><th>認定番号</th>"
               "<th>制度</th><th>根拠法令</th><th>認定期間</th><th>状態</th><th>依拠した認定</th>"
               "<th>この認定に依拠した認定</th><th>公表資料</th><th>問合せ先</th><th></th></tr></thead><tbody>\n");
    for (size_t i = 0; i < p->ncerts; i++) {
        const proto_record *r = &p->certs[i].r;
        int code = catalog_status_code(r, w->today);
        web_raw(b, "<tr><td>");
        web_text(b, web_member_label(w, &r->author, who, sizeof who));
        web_raw(b, "</td><td>");
        web_text(b, r->key);
        web_raw(b, "</td>");
        td_field(w, r, "programme", NULL);
        td_field(w, r, "legal_ground", NULL);
        web_raw(b, "<td>");
        web_date(b, catalog_field_text(r, "certified_on", buf, sizeof buf));
        web_raw(b, "〜");
        web_date(b, catalog_field_text(r, "valid_until", buf, sizeof buf));
        web_rawf(b, "</td><td><span class=\"status %s\">", code >= 0 && code <= 3 ? status_cls[code] : "");
        web_text(b, catalog_status_name(code));
        web_raw(b, "</span>");
        if (code == CATALOG_STATUS_SUSPENDED || code == CATALOG_STATUS_REVOKED) {
            if (catalog_field_text(r, "status_date", buf, sizeof buf)[0]) {
                web_raw(b, "<br>");
                web_date(b, buf);
                web_raw(b, " から");
            }
            if (catalog_field_text(r, "status_reason", buf, sizeof buf)[0]) {
                web_raw(b, "<br>理由: ");
                web_text(b, buf);
            }
        }
        web_raw(b, "</td><td>");
        proto_id from;
        if (catalog_field_text(r, "derived_from", buf, sizeof buf)[0]) {
            if (web_ref_split(buf, &from, key, sizeof key) == 0)
                cert_link(w, "derived-from", &from, key);
            else
                web_text(b, buf);
        }
        web_raw(b, "</td><td>");
        /* the other way: those of this product that cite this one (a
         * derived certification copies the subject, so it is of the same
         * product) */
        int first = 1;
        for (size_t j = 0; j < p->ncerts; j++) {
            const proto_record *o = &p->certs[j].r;
            if (dr[j].ok && !memcmp(&dr[j].author, &r->author, sizeof r->author) && !strcmp(dr[j].key, r->key)) {
                if (!first)
                    web_raw(b, "<br>");
                cert_link(w, "derived-by", &o->author, o->key);
                first = 0;
            }
        }
        web_raw(b, "</td><td>");
        if (catalog_field_text(r, "announcement_url", buf, sizeof buf)[0])
            web_link_ext(b, buf, "公表資料");
        web_raw(b, "</td>");
        td_field(w, r, "contact", "pre");
        web_raw(b, "<td>");
        history_link(w, "certification", &r->author, r->key);
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody></table>\n");
    free(dr);
}

/* ¥1,234,567 (金額 is never negative: the schema's INT is 0..max) */
static void yen(web_buf *b, int64_t v)
{
    char digits[32], out[48];
    snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? 0 : v));
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = 0;
    web_rawf(b, "¥%s", out);
}

static void adoption_table(web_req *w, const web_product *p)
{
    web_buf *b = &w->out;
    char buf[PROTO_FIELD_MAX + 1], who[256], key[PROTO_KEY_MAX + 1];
    web_raw(b, "<h2>導入実績</h2>\n");
    if (!p->nadoptions) {
        web_raw(b, "<p class=\"muted\">導入実績はまだありません</p>\n");
        return;
    }
    web_raw(b, "<table id=\"adoptions\"><thead><tr><th>導入団体</th><th>認定</th><th>年度</th><th>原課</th>"
               "<th>契約方法</th><th>金額</th><th>段階</th><th>KPI</th><th>成果</th><th>課題</th>"
               "<th>評価</th><th>問合せ先</th><th></th></tr></thead><tbody>\n");
    for (size_t i = 0; i < p->nadoptions; i++) {
        const proto_record *r = &p->adoptions[i].r;
        int64_t v;
        web_raw(b, "<tr><td>");
        web_text(b, web_member_label(w, &r->author, who, sizeof who));
        web_raw(b, "</td><td>");
        web_text(b, web_ref_label(w, catalog_field_text(r, "certification", buf, sizeof buf), key, sizeof key));
        web_raw(b, "</td><td>");
        if (proto_body_get_int(r, "fiscal_year", &v) == 0)
            web_fiscal_year(b, (long)v);
        web_raw(b, "</td>");
        td_field(w, r, "department", NULL);
        td_field(w, r, "route", NULL);
        web_raw(b, "<td class=\"num\">");
        if (proto_body_get_int(r, "amount", &v) == 0)
            yen(b, v);
        web_raw(b, "</td>");
        td_field(w, r, "stage", NULL);
        td_field(w, r, "kpis", "pre");
        td_field(w, r, "results", "pre");
        td_field(w, r, "difficulties", "pre");
        web_raw(b, "<td>");
        if (proto_body_get_int(r, "rating", &v) == 0)
            web_rawf(b, "%lld / 5", (long long)v);
        web_raw(b, "</td>");
        td_field(w, r, "contact", "pre");
        web_raw(b, "<td>");
        history_link(w, "adoption", &r->author, r->key);
        web_raw(b, "</td></tr>\n");
    }
    web_raw(b, "</tbody></table>\n");
}

static void fact_p(void *ctx, int ok, const char *html)
{
    web_buf *b = ctx;
    web_raw(b, ok ? "<p class=\"okbox\">" : "<p class=\"warn\">");
    web_raw(b, html);   /* escaped by web_product_facts */
    web_raw(b, "</p>\n");
}

static void check_section(web_req *w, const web_product *p)
{
    web_buf *b = &w->out;
    char ids[PROTO_ID_STR], iso[16];
    proto_id_str(&p->author, ids);
    snprintf(iso, sizeof iso, "%04d-%02d-%02d", p->on / 10000, p->on / 100 % 100, p->on % 100);
    web_raw(b, "<h2>4号随契の確認</h2>\n<form id=\"check\" method=\"get\" action=\"/product\">"
               "<input type=\"hidden\" name=\"c\" value=\"");
    web_text(b, ids);
    web_raw(b, "\"><input type=\"hidden\" name=\"k\" value=\"");
    web_text(b, p->key);
    web_raw(b, "\"><label>確認する日 <input type=\"text\" name=\"on\" value=\"");
    web_text(b, iso);
    web_raw(b, "\" placeholder=\"2026-04-01 または 令和8年4月1日\" inputmode=\"text\"></label> "
               "<button type=\"submit\">確認</button></form>\n<section id=\"check-result\">");
    web_product_facts(w, p, 1, fact_p, b);
    web_raw(b, "<p class=\"noprint\"><a id=\"evidence-html\" href=\"/evidence?");
    web_record_qs(b, &p->author, p->key);
    web_rawf(b, "&amp;on=%s\">確認書を表示（印刷用）</a> ・ <a id=\"evidence-xlsx\" href=\"/evidence.xlsx?", iso);
    web_record_qs(b, &p->author, p->key);
    web_rawf(b, "&amp;on=%s\">確認書を Excel で保存</a></p></section>\n", iso);
}

int web_page_product(web_req *w)
{
    web_product p;
    if (web_product_load(w, &p))
        return 0;
    char title[300], buf[256];
    snprintf(title, sizeof title, "製品: %s", catalog_field_text(&p.certs[p.seed].r, "product", buf, sizeof buf));
    web_page_begin(w, title, NULL);
    heading(w, &p);
    check_section(w, &p);
    cert_table(w, &p);
    adoption_table(w, &p);
    if (p.more)
        web_rawf(&w->out, "<p class=\"muted\">ほかに %zu 件の記録があります（catalogctl search で確認できます）</p>\n",
                 p.more);
    web_page_end(w);
    web_product_free(&p);
    return 0;
}
