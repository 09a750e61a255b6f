/*
 * daemon/web_search.c — 検索, the view's front page: a plain HTML form (GET,
 * works without JavaScript) whose fields are catalog_query_set's names, and
 * the results grouped per product with every certifier and adopter.
 *
 * The search itself is catalog_search over the daemon's index, exactly as
 * the control socket's csearch runs it: no second copy of the logic.
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

static void form(web_req *w)
{
    web_buf *b = &w->out;
    const char *q = web_param(w, "q"), *area = web_param(w, "area");
    web_raw(b, "<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">"
               "<fieldset><label>検索語 <input type=\"search\" name=\"q\" value=\"");
    web_text(b, q);
    web_raw(b, "\" placeholder=\"事業者名・製品名・概要・タグ\" autofocus></label>"
               "<label>分野 <select name=\"area\"><option value=\"\">すべて</option>");
    for (size_t i = 0; catalog_areas[i]; i++) {
        web_raw(b, "<option");
        if (area && !strcmp(area, catalog_areas[i]))
            web_raw(b, " selected");
        web_raw(b, ">");
        web_text(b, catalog_areas[i]);
        web_raw(b, "</option>");
    }
    web_raw(b, "</select></label><button type=\"submit\">検索</button></fieldset></form>\n");
}

typedef struct {
    web_req *w;
} row_ctx;

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
    static const char *const cls[] = { "st-active", "st-suspended", "st-revoked", "st-expired" };
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
    web_rawf(b, "</td><td><span class=\"status %s\">", code >= 0 && code <= 3 ? cls[code] : "");
    web_text(b, catalog_status_name(code));
    web_raw(b, "</span></td></tr>\n");
    return 0;
}

static int adoption_row(void *ctx, const uint8_t *rec, size_t len)
{
    row_ctx *c = ctx;
    web_buf *b = &c->w->out;
    proto_record r;
    char err[128], who[256], buf[3][512];
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
    web_text(b, catalog_field_text(&r, "stage", buf[2], sizeof buf[2]));
    web_raw(b, "</td></tr>\n");
    return 0;
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
    web_raw(b, "<h2>");
    web_text(b, catalog_field_text(&r, "product", buf[0], sizeof buf[0]));
    web_raw(b, "</h2><p>");
    web_text(b, catalog_field_text(&r, "company", buf[1], sizeof buf[1]));
    web_raw(b, "</p>");
    return 0;
}

int web_page_search(web_req *w)
{
    catalogd *d = w->d;
    catalog_query q;
    char err[300];
    catalog_query_init(&q);
    q.self = d->id.id;
    q.today = w->today;
    q.limit = NODE_WEB_PAGE_PRODUCTS;
    if (catalog_query_set(&q, d->st, "q", web_param(w, "q"), err, sizeof err) ||
        catalog_query_set(&q, d->st, "area", web_param(w, "area"), err, sizeof err)) {
        web_page_begin(w, "検索", "search");
        web_raw(&w->out, "<h1>検索</h1>");
        form(w);
        web_raw(&w->out, "<p class=\"error\">");
        web_text(&w->out, err);
        web_raw(&w->out, "</p>");
        web_page_end(w);
        w->status = 400;
        return 0;
    }
    catalog_hits h;
    if (catalog_search(d->index, d->st, d->catalog_gen, &q, &h, err, sizeof err))
        return web_error(w, 500, "%s", err);

    web_page_begin(w, "検索", "search");
    web_buf *b = &w->out;
    web_raw(b, "<h1>検索</h1>");
    form(w);
    web_rawf(b, "<p class=\"count\">%zu 件の製品</p>\n", h.products);
    row_ctx c = { w };
    for (size_t i = 0; i < h.ngroups; i++) {
        const catalog_product *g = &h.groups[i];
        web_raw(b, "<section class=\"product\">");
        store_get_refs(d->st, h.certs + g->cert, 1, product_head, &c);
        web_raw(b, "<table><thead><tr><th>認定団体</th><th>認定番号</th><th>制度</th><th>認定期間</th>"
                   "<th>状態</th></tr></thead><tbody>\n");
        store_get_refs(d->st, h.certs + g->cert, g->ncerts, cert_row, &c);
        web_raw(b, "</tbody></table>");
        if (g->nadoptions) {
            web_raw(b, "<table><thead><tr><th>導入団体</th><th>年度</th><th>原課</th><th>段階</th></tr>"
                       "</thead><tbody>\n");
            store_get_refs(d->st, h.adoptions + g->adoption, g->nadoptions, adoption_row, &c);
            web_raw(b, "</tbody></table>");
        } else {
            web_raw(b, "<p class=\"muted\">導入実績はまだありません</p>");
        }
        web_raw(b, "</section>\n");
    }
    catalog_hits_free(&h);
    web_page_end(w);
    return 0;
}
