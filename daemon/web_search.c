/*
 * daemon/web_search.c — 検索, the view's front page: a plain HTML form (GET,
 * works without JavaScript) whose fields are catalog_query_set's names, and
 * one page of results grouped per product with every certifier and adopter.
 *
 * The search itself is catalog_search over the daemon's index, exactly as
 * the control socket's csearch runs it: no second copy of the logic.  The
 * index pages the results itself (offset, limit): only the page's products
 * are read from the store and rendered, whatever the catalog's size.
 */
#include "daemon/web_int.h"
#include "catalog/diff.h"
#include "catalog/index.h"
#include "catalog/schema.h"
#include "proto/limits.h"
#include "proto/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the query from the form ---- */

int web_search_query(web_req *w, catalog_query *q, size_t *page, char *err, size_t errlen)
{
    catalogd *d = w->d;
    catalog_query_init(q);
    q->self = d->id.id;
    q->today = w->today;
    static const char *const names[] = { "q", "member", "valid_on", "status" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (catalog_query_set(q, d->st, names[i], web_param(w, names[i]), err, errlen))
            return -1;
    /* 分野: checkboxes, a product matches with any of them */
    const char *areas[NODE_WEB_PARAMS_MAX];
    size_t na = web_params(w, "area", areas, NODE_WEB_PARAMS_MAX);
    for (size_t i = 0; i < na; i++) {
        catalog_query one;
        catalog_query_init(&one);
        if (catalog_query_set_area_in(&one, catalog_index_areas(d->index, d->st), areas[i], err, errlen))
            return -1;
        q->areas |= 1u << one.area;
    }
    const char *adopted = web_param(w, "adopted");
    if (adopted && !strcmp(adopted, "me")) {
        q->has_adopted_by = 1;
        q->adopted_by = d->id.id;
    } else if (adopted && !strcmp(adopted, "not_me")) {
        q->not_adopted_by_self = 1;
    } else if (adopted) {
        return proto_err(err, errlen, "導入の条件は me（自団体で導入済み）か not_me（自団体で未導入）です");
    }
    const char *p = web_param(w, "page");
    *page = 1;
    if (p) {
        size_t n = strlen(p);
        if (n == 0 || n > 6 || strspn(p, "0123456789") != n || (*page = (size_t)strtoul(p, NULL, 10)) < 1 ||
            *page > NODE_WEB_PAGE_MAX)
            return proto_err(err, errlen, "ページは 1 から %u までの数で指定してください", NODE_WEB_PAGE_MAX);
    }
    return 0;
}

void web_search_qs(const web_req *w, web_buf *b, const char *sep)
{
    static const char *const names[] = { "q", "area", "member", "valid_on", "status", "adopted" };
    int first = 1;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        for (size_t i = 0; i < w->nparams; i++) {
            const web_kv *kv = &w->params[i];
            if (strcmp(kv->name, names[k]) || !kv->value[0])
                continue;
            if (!first)
                web_raw(b, sep);
            first = 0;
            web_raw(b, names[k]);
            web_raw(b, "=");
            web_qs(b, kv->value);
        }
}

/* ---- the form ---- */

typedef struct {
    char code[8], name[192];
} member_opt;

typedef struct {
    member_opt *v;
    size_t n, cap;
    int failed;
} member_list;

static int member_cb(void *ctx, const store_member *m)
{
    member_list *l = ctx;
    if (m->status != STORE_MEMBER_ACTIVE || !m->code[0])
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        member_opt *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->failed = 1;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    snprintf(l->v[l->n].code, sizeof l->v[l->n].code, "%s", m->code);
    snprintf(l->v[l->n].name, sizeof l->v[l->n].name, "%s", m->name);
    l->n++;
    return 0;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const member_opt *)a)->code, ((const member_opt *)b)->code);
}

static void option(web_buf *b, const char *value, const char *label, const char *current)
{
    web_raw(b, "<option value=\"");
    web_text(b, value);
    web_raw(b, "\"");
    if (current && !strcmp(current, value))
        web_raw(b, " selected");
    web_raw(b, ">");
    web_text(b, label);
    web_raw(b, "</option>");
}

static void text_input(web_buf *b, const char *label, const char *type, const char *name, const char *value,
                       const char *placeholder)
{
    web_rawf(b, "<label>%s <input type=\"%s\" name=\"%s\" value=\"", label, type, name);
    web_text(b, value);
    web_rawf(b, "\" placeholder=\"%s\"></label>", placeholder);
}

static void form(web_req *w)
{
    web_buf *b = &w->out;
    web_raw(b, "<form class=\"search\" method=\"get\" action=\"/search\" role=\"search\"><fieldset>");
    text_input(b, "検索語", "search", "q", web_param(w, "q"), "事業者名・製品名・概要・タグ");
    web_raw(b, "</fieldset><fieldset>");

    const char *member = web_param(w, "member");
    member_list ml = { 0 };
    store_members(w->d->st, member_cb, &ml);
    if (ml.n > 1)
        qsort(ml.v, ml.n, sizeof *ml.v, member_cmp);
    web_raw(b, "<label>認定団体 <select name=\"member\"><option value=\"\">すべて</option>");
    for (size_t i = 0; i < ml.n; i++) {
        char label[256];
        snprintf(label, sizeof label, "%s %s", ml.v[i].code, ml.v[i].name);
        option(b, ml.v[i].code, label, member);
    }
    free(ml.v);
    web_raw(b, "</select></label>");

    text_input(b, "有効な日", "text", "valid_on", web_param(w, "valid_on"), "令和8年4月1日");

    const char *status = web_param(w, "status");
    web_raw(b, "<label>状態 <select name=\"status\"><option value=\"\">すべて</option>");
    for (int i = 0; i < 4; i++)
        option(b, catalog_status_name(i), catalog_status_name(i), status);
    web_raw(b, "</select></label>");

    const char *adopted = web_param(w, "adopted");
    web_raw(b, "<label>自団体の導入 <select name=\"adopted\"><option value=\"\">問わない</option>");
    option(b, "me", "導入済み", adopted);
    option(b, "not_me", "未導入", adopted);
    web_raw(b, "</select></label></fieldset>");

    const char *areas[NODE_WEB_PARAMS_MAX];
    size_t na = web_params(w, "area", areas, NODE_WEB_PARAMS_MAX);
    web_raw(b, "<fieldset class=\"areas\"><legend>分野（いずれか）</legend>");
    web_area_checkboxes(b, catalog_index_areas(w->d->index, w->d->st), areas, na);
    web_raw(b, "</fieldset><button type=\"submit\">検索</button></form>\n");
}

/* ---- results ---- */

typedef struct {
    web_req *w;
} row_ctx;

static const char *const status_class[] = { "st-active", "st-suspended", "st-revoked", "st-expired" };

static int cert_row(void *ctx, const uint8_t *rec, size_t len)
{
    row_ctx *c = ctx;
    web_buf *b = &c->w->out;
    proto_record r;
    char err[128], who[256], buf[4][512];
    if (proto_record_decode_stored(rec, len, &r, err, sizeof err))
        return 0;
    web_member_label(c->w, &r.author, who, sizeof who);
    int code = catalog_status_code(&r, c->w->today);
    web_raw(b, "<tr><td>");
    web_text(b, who);
    web_raw(b, "</td><td>");
    web_text(b, r.key);
    web_raw(b, "</td><td>");
    web_text(b, catalog_field_text(&r, "programme", buf[0], sizeof buf[0]));
    web_raw(b, "</td><td>");
    web_date(b, catalog_field_text(&r, "certified_on", buf[1], sizeof buf[1]));
    web_raw(b, "〜");
    web_date(b, catalog_field_text(&r, "valid_until", buf[2], sizeof buf[2]));
    web_rawf(b, "</td><td><span class=\"status %s\">", code >= 0 && code <= 3 ? status_class[code] : "");
    web_text(b, catalog_status_name(code));
    web_raw(b, "</span></td></tr>\n");
    return 0;
}

static int adoption_row(void *ctx, const uint8_t *rec, size_t len)
{
    row_ctx *c = ctx;
    web_buf *b = &c->w->out;
    proto_record r;
    char err[128], who[256], buf[4][512];
    if (proto_record_decode_stored(rec, len, &r, err, sizeof err))
        return 0;
    web_member_label(c->w, &r.author, who, sizeof who);
    web_raw(b, "<tr><td>");
    web_text(b, who);
    web_raw(b, "</td><td>");
    const char *fy = catalog_field_text(&r, "fiscal_year", buf[0], sizeof buf[0]);
    if (*fy)
        web_fiscal_year(b, strtol(fy, NULL, 10));
    web_raw(b, "</td><td>");
    web_text(b, catalog_field_text(&r, "department", buf[1], sizeof buf[1]));
    web_raw(b, "</td><td>");
    web_text(b, catalog_field_text(&r, "route", buf[2], sizeof buf[2]));
    web_raw(b, "</td><td>");
    web_text(b, catalog_field_text(&r, "stage", buf[3], sizeof buf[3]));
    web_raw(b, "</td></tr>\n");
    return 0;
}

void web_product_link(web_buf *b, const proto_id *author, const char *key)
{
    char ids[PROTO_ID_STR];
    proto_id_str(author, ids);
    web_raw(b, "/product?c=");
    web_qs(b, ids);
    web_raw(b, "&amp;k=");
    web_qs(b, key);
}

/* The product's heading from its first certification. */
static int product_head(void *ctx, const uint8_t *rec, size_t len)
{
    row_ctx *c = ctx;
    web_buf *b = &c->w->out;
    proto_record r;
    char err[128], buf[2][512];
    if (proto_record_decode_stored(rec, len, &r, err, sizeof err))
        return 0;
    web_raw(b, "<h2><a href=\"");
    web_product_link(b, &r.author, r.key);
    web_raw(b, "\">");
    web_text(b, catalog_field_text(&r, "product", buf[0], sizeof buf[0]));
    web_raw(b, "</a></h2><p class=\"company\">");
    web_text(b, catalog_field_text(&r, "company", buf[1], sizeof buf[1]));
    web_raw(b, "</p>");
    return 0;
}

static void product(web_req *w, const catalog_hits *h, const catalog_product *g)
{
    catalogd *d = w->d;
    web_buf *b = &w->out;
    row_ctx c = { w };
    web_raw(b, "<section class=\"product\">");
    store_get_refs(d->st, h->certs + g->cert, 1, product_head, &c);
    web_raw(b, "<p class=\"areas\">分野: ");
    const char *const *all = catalog_index_areas(d->index, d->st);
    for (size_t i = 0, k = 0; all[i]; i++)
        if (g->areas >> i & 1) {
            web_raw(b, k++ ? "、" : "");
            web_text(b, all[i]);
        }
    web_raw(b, "</p><table class=\"certs\"><thead><tr><th>認定団体</th><th>認定番号</th><th>制度</th>"
               "<th>認定期間</th><th>状態</th></tr></thead><tbody>\n");
    size_t nc = g->ncerts < NODE_WEB_SEARCH_ROWS ? g->ncerts : NODE_WEB_SEARCH_ROWS;
    store_get_refs(d->st, h->certs + g->cert, nc, cert_row, &c);
    web_raw(b, "</tbody></table>");
    if (nc < g->ncerts)
        web_rawf(b, "<p class=\"more\">ほかに %zu 件の認定があります（製品名から製品のページへ）</p>", g->ncerts - nc);
    if (g->nadoptions) {
        web_raw(b, "<table class=\"adoptions\"><thead><tr><th>導入団体</th><th>年度</th><th>原課</th>"
                   "<th>契約方法</th><th>段階</th></tr></thead><tbody>\n");
        size_t na = g->nadoptions < NODE_WEB_SEARCH_ROWS ? g->nadoptions : NODE_WEB_SEARCH_ROWS;
        store_get_refs(d->st, h->adoptions + g->adoption, na, adoption_row, &c);
        web_raw(b, "</tbody></table>");
        if (na < g->nadoptions)
            web_rawf(b, "<p class=\"more\">ほかに %zu 件の導入実績があります（製品名から製品のページへ）</p>",
                     g->nadoptions - na);
    } else {
        web_raw(b, "<p class=\"muted\">導入実績はまだありません</p>");
    }
    web_raw(b, "</section>\n");
}

static void page_link(web_req *w, const web_buf *qs, size_t page, const char *rel, const char *label)
{
    web_buf *b = &w->out;
    web_raw(b, "<a href=\"/search?");
    web_put(b, qs->p, qs->n);
    web_rawf(b, "%spage=%zu\" rel=\"%s\">%s</a>", qs->n ? "&amp;" : "", page, rel, label);
}

static void exports(web_req *w, const web_buf *qs)
{
    web_buf *b = &w->out;
    static const struct { const char *id, *path, *extra, *label; } links[] = {
        { "export-csv", "/export.csv", "", "CSV（認定）" },
        { "export-csv-adoptions", "/export.csv", "kind=adoption", "CSV（導入実績）" },
        { "export-xlsx", "/export.xlsx", "", "Excel（認定と導入実績）" },
    };
    web_raw(b, "<p class=\"exports noprint\">この条件の全件を書き出す: ");
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        web_rawf(b, "<a id=\"%s\" href=\"%s?", links[i].id, links[i].path);
        web_put(b, qs->p, qs->n);
        if (links[i].extra[0])
            web_rawf(b, "%s%s", qs->n ? "&amp;" : "", links[i].extra);
        web_rawf(b, "\">%s</a> ", links[i].label);
    }
    web_raw(b, "</p>\n");
}

int web_page_search(web_req *w)
{
    catalogd *d = w->d;
    catalog_query q;
    size_t page;
    char err[300];
    if (web_search_query(w, &q, &page, err, sizeof err)) {
        web_page_begin(w, "検索", "search");
        web_raw(&w->out, "<h1>検索</h1><p class=\"error\">");
        web_text(&w->out, err);
        web_raw(&w->out, "</p>");
        form(w);
        web_page_end(w);
        w->status = 400;
        return 0;
    }
    q.limit = NODE_WEB_PAGE_PRODUCTS;
    q.offset = (page - 1) * NODE_WEB_PAGE_PRODUCTS;
    catalog_hits h;
    if (catalog_search(d->index, d->st, d->catalog_gen, &q, &h, err, sizeof err))
        return web_error(w, 500, "%s", err);

    web_buf qs = { 0 };
    web_search_qs(w, &qs, "&amp;");
    web_page_begin(w, "検索", "search");
    web_buf *b = &w->out;
    web_raw(b, "<h1>検索</h1>");
    form(w);
    web_rawf(b, "<p class=\"count\">%zu 件の製品", h.products);
    if (h.ngroups)
        web_rawf(b, "（%zu〜%zu 件目を表示）", q.offset + 1, q.offset + h.ngroups);
    web_raw(b, "</p>\n");
    if (h.products)
        exports(w, &qs);
    if (!h.ngroups)
        web_raw(b, h.products ? "<p class=\"muted\">このページに製品はありません</p>\n"
                              : "<p class=\"muted\">条件に合う製品はありません</p>\n");
    for (size_t i = 0; i < h.ngroups; i++)
        product(w, &h, &h.groups[i]);
    size_t pages = (h.products + NODE_WEB_PAGE_PRODUCTS - 1) / NODE_WEB_PAGE_PRODUCTS;
    if (pages > 1 || page > 1) {
        web_raw(b, "<nav class=\"pager\" aria-label=\"ページ\">");
        if (page > 1)
            page_link(w, &qs, page - 1 < pages ? page - 1 : pages ? pages : 1, "prev", "← 前へ");
        web_rawf(b, "<span>%zu / %zu ページ</span>", page, pages ? pages : 1);
        if (page < pages)
            page_link(w, &qs, page + 1, "next", "次へ →");
        web_raw(b, "</nav>\n");
    }
    if (qs.failed)
        w->out.failed = 1;
    web_buf_free(&qs);
    catalog_hits_free(&h);
    web_page_end(w);
    return 0;
}
