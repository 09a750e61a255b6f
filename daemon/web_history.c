/*
 * daemon/web_history.c — 履歴: every version of one certification or
 * adoption, oldest first, with the same meaning as `catalogctl
 * certification history` (cli/catview.c client_show_history): versions
 * are numbered 第1版 … in the author's order; a certification's version
 * says the status it recorded (with its date and reason); a withdrawal
 * (取り下げ) shows its reason; the version after a withdrawal is a
 * 再登録 and, like the first, shows every field; any other version shows
 * what changed from the one before (catalog_diff: the field's Japanese
 * header, old → new), or "変更なし".
 */
#include "daemon/web_int.h"
#include "catalog/diff.h"
#include "catalog/ref.h"
#include "catalog/schema.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    web_rec *v;
    size_t n, cap;
    int failed;
} versions;

static int add_version(void *ctx, const uint8_t *rec, size_t len)
{
    versions *l = ctx;
    if (l->n >= NODE_WEB_HISTORY_MAX)
        return 1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        web_rec *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv) {
            l->failed = 1;
            return 1;
        }
        l->v = nv;
        l->cap = cap;
    }
    int rc = web_rec_copy(&l->v[l->n], rec, len);
    if (rc < 0) {
        l->failed = 1;
        return 1;
    }
    l->n += (size_t)rc;
    return 0;
}

static void versions_free(versions *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].raw);
    free(l->v);
}

/* A field's value as people read it: a reference by name, a date in 和暦,
 * a URL as a link (http(s) only), prose keeping its line breaks. */
static void value(web_req *w, const catalog_field *f, const char *v)
{
    web_buf *b = &w->out;
    char label[600];
    if (!v[0]) {
        web_raw(b, "<span class=\"muted\">（なし）</span>");
        return;
    }
    switch (f->type) {
    case CAT_REF:
        web_text(b, web_ref_label(w, v, label, sizeof label));
        return;
    case CAT_DATE:
    case CAT_VALID_UNTIL:
        web_date(b, v);
        return;
    case CAT_URL:
        web_link_ext(b, v, NULL);
        return;
    case CAT_FY:
        web_fiscal_year(b, strtol(v, NULL, 10));
        return;
    default:
        if (f->flags & CATALOG_F_MULTILINE) {
            web_raw(b, "<span class=\"pre\">");
            web_text(b, v);
            web_raw(b, "</span>");
        } else {
            web_text(b, v);
        }
    }
}

static int diff_row(void *ctx, const catalog_field *f, const char *was, const char *now)
{
    web_req *w = ctx;
    web_raw(&w->out, "<tr><th>");
    web_text(&w->out, f->ja);
    web_raw(&w->out, "</th><td class=\"was\">");
    value(w, f, was);
    web_raw(&w->out, "</td><td class=\"arrow\">→</td><td class=\"now\">");
    value(w, f, now);
    web_raw(&w->out, "</td></tr>\n");
    return 0;
}

static void all_fields(web_req *w, const proto_record *r)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(r->kind, &nf);
    char buf[PROTO_FIELD_MAX + 1];
    web_raw(&w->out, "<table class=\"fields\"><tbody>\n");
    for (size_t i = 0; fs && i < nf; i++) {
        if (!catalog_field_text(r, fs[i].name, buf, sizeof buf)[0])
            continue;
        web_raw(&w->out, "<tr><th>");
        web_text(&w->out, fs[i].ja);
        web_raw(&w->out, "</th><td>");
        value(w, &fs[i], buf);
        web_raw(&w->out, "</td></tr>\n");
    }
    web_raw(&w->out, "</tbody></table>\n");
}

/* 停止（令和8年6月1日 から。理由: …） — the status the version recorded. */
static void recorded_status(web_req *w, const proto_record *r)
{
    web_buf *b = &w->out;
    char st[64], date[16], reason[1100];
    catalog_field_text(r, "status", st, sizeof st);
    catalog_field_text(r, "status_date", date, sizeof date);
    catalog_field_text(r, "status_reason", reason, sizeof reason);
    int code = catalog_status_recorded(r);
    static const char *const cls[] = { "st-active", "st-suspended", "st-revoked" };
    web_rawf(b, "<p class=\"recorded\">状態: <span class=\"status %s\">", code >= 0 && code <= 2 ? cls[code] : "");
    web_text(b, st[0] ? st : "認定中");
    web_raw(b, "</span>");
    if (date[0] || reason[0]) {
        web_raw(b, "（");
        if (date[0]) {
            web_date(b, date);
            web_raw(b, " から");
        }
        if (reason[0]) {
            web_raw(b, date[0] ? "。理由: " : "理由: ");
            web_text(b, reason);
        }
        web_raw(b, "）");
    }
    web_raw(b, "</p>\n");
}

int web_page_history(web_req *w)
{
    catalogd *d = w->d;
    const char *kind = web_param(w, "kind"), *c = web_param(w, "c"), *k = web_param(w, "k");
    char key[PROTO_KEY_MAX + 1], err[300], who[256], buf[PROTO_FIELD_MAX + 1];
    proto_id author;
    if (!kind || !c || !k)
        return web_error(w, 400, "kind（certification か adoption）、c（団体の ID）、k（キー）を指定してください");
    int cert = !strcmp(kind, kind_get(KIND_CERTIFICATION)->name);
    if (!cert && strcmp(kind, kind_get(KIND_ADOPTION)->name))
        return web_error(w, 400, "kind は certification か adoption です");
    if (proto_id_parse(c, &author))
        return web_error(w, 400, "団体の ID「%s」が読めません", c);
    if (catalog_key_norm(k, key, sizeof key, err, sizeof err))
        return web_error(w, 400, "キー「%s」が読めません: %s", k, err);

    versions l = { 0 };
    store_history(d->st, &author, kind, key, add_version, &l);
    if (!l.failed && l.n == 0 && strcmp(key, k))   /* stored before keys were normalised */
        store_history(d->st, &author, kind, k, add_version, &l);
    if (l.failed) {
        versions_free(&l);
        return web_error(w, 500, "履歴を読めません（メモリが足りません）");
    }
    if (l.n == 0) {
        versions_free(&l);
        return web_error(w, 404, "%s %s（%s）はこのノードにありません", cert ? "認定" : "導入実績", key,
                         web_member_label(w, &author, who, sizeof who));
    }

    char title[400];
    const proto_record *first = &l.v[0].r;
    snprintf(title, sizeof title, "履歴: %s %s", cert ? "認定" : "導入実績", first->key);
    web_page_begin(w, title, NULL);
    web_buf *b = &w->out;
    web_raw(b, "<h1>履歴: ");
    web_text(b, cert ? "認定番号 " : "導入実績 ");
    web_text(b, first->key);
    web_raw(b, "</h1>\n<p>");
    web_text(b, web_member_label(w, &author, who, sizeof who));
    web_rawf(b, "、全%zu版", l.n);
    /* the product page: this certification's, or the one an adoption cites */
    const proto_record *last = &l.v[l.n - 1].r;
    proto_id pid = author;
    char pkey[PROTO_KEY_MAX + 1];
    snprintf(pkey, sizeof pkey, "%s", first->key);
    int link = !(last->flags & PROTO_FLAG_TOMBSTONE) &&
               (cert || web_ref_split(catalog_field_text(last, "certification", buf, sizeof buf), &pid, pkey,
                                      sizeof pkey) == 0);
    if (link) {
        web_raw(b, " ・ <a href=\"/product?");
        web_record_qs(b, &pid, pkey);
        web_raw(b, "\">製品のページ</a>");
    }
    web_raw(b, "</p>\n");

    const proto_record *prev = NULL;   /* the version before, if it was not a withdrawal */
    for (size_t i = 0; i < l.n; i++) {
        const proto_record *r = &l.v[i].r;
        web_rawf(b, "<section class=\"version\"><h2>第%zu版 ", i + 1);
        web_time_ms(b, r->time_ms, 1);
        if (r->flags & PROTO_FLAG_TOMBSTONE) {
            web_raw(b, "</h2>\n<p class=\"withdrawn\">取り下げ（理由: ");
            /* a tombstone's one field (catalog_field_text reads no tombstone) */
            const char *reason;
            size_t rl;
            if (proto_body_get_str(r, "reason", &reason, &rl) == 0)
                web_textn(b, reason, rl);
            web_raw(b, "）</p></section>\n");
            prev = NULL;
            continue;
        }
        if (i > 0 && !prev)
            web_raw(b, " 再登録");
        web_raw(b, "</h2>\n");
        if (cert)
            recorded_status(w, r);
        if (!prev) {
            all_fields(w, r);
        } else {
            size_t mark = b->n;
            web_raw(b, "<table class=\"changes\"><thead><tr><th>項目</th><th>変更前</th><th></th><th>変更後"
                       "</th></tr></thead><tbody>\n");
            if (catalog_diff(prev, r, diff_row, w) == 0) {
                b->n = mark;   /* nothing changed: no table, say so */
                web_raw(b, "<p class=\"muted\">変更なし</p>\n");
            } else {
                web_raw(b, "</tbody></table>\n");
            }
        }
        web_raw(b, "</section>\n");
        prev = r;
    }
    if (l.n >= NODE_WEB_HISTORY_MAX)
        web_rawf(b, "<p class=\"muted\">最初の %u 版までを表示しています</p>\n", NODE_WEB_HISTORY_MAX);
    web_page_end(w);
    versions_free(&l);
    return 0;
}
