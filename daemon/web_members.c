/*
 * daemon/web_members.c — 加盟団体: the alliance's members as this node
 * knows them: code and name, since when, whether they are members still,
 * when this node last heard from each, and how many certifications and
 * adoptions of each it holds.
 *
 * The counts come from the search index (a search for everything returns
 * references only, no record is read), so the page stays cheap at any
 * catalog size.
 */
#include "daemon/web_int.h"
#include "daemon/gossip.h"
#include "daemon/peer.h"
#include "catalog/index.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    store_member m;
    size_t certs, adoptions;
} member_row;

typedef struct {
    member_row *v;
    size_t n, cap;
    int failed;
} member_rows;

static int collect(void *ctx, const store_member *m)
{
    member_rows *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        member_row *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->failed = 1;
            return 1;
        }
        r->v = v;
        r->cap = cap;
    }
    memset(&r->v[r->n], 0, sizeof r->v[r->n]);
    r->v[r->n++].m = *m;
    return 0;
}

static member_row *row_of(member_rows *r, const proto_id *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (!memcmp(&r->v[i].m.id, id, sizeof *id))
            return &r->v[i];
    return NULL;
}

static int by_code(const void *a, const void *b)
{
    const member_row *x = a, *y = b;
    int c = strcmp(x->m.code, y->m.code);
    return c ? c : memcmp(&x->m.id, &y->m.id, sizeof x->m.id);
}

/* A wall-clock time in ms as 令和8年12月2日 10:15 (local time). */
static void when(web_buf *b, uint64_t wall_ms)
{
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    /* a member record's signed time may be anything: year * 10000 of one
     * beyond 9999 overflows an int */
    if (!localtime_r(&t, &tm) || tm.tm_year < 1 - 1900 || tm.tm_year > 9999 - 1900)
        return;
    web_date_num(b, (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday);
    web_rawf(b, " %02d:%02d", tm.tm_hour, tm.tm_min);
}

int web_page_members(web_req *w)
{
    catalogd *d = w->d;
    member_rows rows = { 0 };
    store_members(d->st, collect, &rows);
    if (rows.failed) {
        free(rows.v);
        return web_error(w, 500, "加盟団体を読めません");
    }

    catalog_query q;
    catalog_hits h;
    char err[256];
    catalog_query_init(&q);
    q.all = 1;
    q.today = w->today;
    if (catalog_search(d->index, d->st, d->catalog_gen, &q, &h, err, sizeof err) == 0) {
        member_row *r;
        for (size_t i = 0; i < h.ncerts; i++)
            if ((r = row_of(&rows, &h.certs[i].author)))
                r->certs++;
        for (size_t i = 0; i < h.nadoptions; i++)
            if ((r = row_of(&rows, &h.adoptions[i].author)))
                r->adoptions++;
        catalog_hits_free(&h);
    }
    if (rows.n > 1)
        qsort(rows.v, rows.n, sizeof *rows.v, by_code);

    static const char *const status_ja[] = { "加盟手続中", "加盟", "脱退", "除名" };
    uint64_t loop_now = uv_now(d->loop), wall_now = proto_now_ms();
    web_page_begin(w, "加盟団体", "members");
    web_buf *b = &w->out;
    web_rawf(b, "<h1>加盟団体</h1><p class=\"count\">%zu 団体</p>\n", rows.n);
    web_raw(b, "<table id=\"members\"><thead><tr><th>団体コード</th><th>団体名</th><th>状態</th>"
               "<th>加盟日</th><th>最終受信</th><th>認定</th><th>導入実績</th></tr></thead><tbody>\n");
    for (size_t i = 0; i < rows.n; i++) {
        const member_row *r = &rows.v[i];
        int self = !memcmp(&r->m.id, &d->id.id, sizeof r->m.id);
        web_raw(b, "<tr><td>");
        web_text(b, r->m.code);
        web_raw(b, "</td><td>");
        web_text(b, r->m.name);
        if (self)
            web_raw(b, "（このノード）");
        web_raw(b, "</td><td>");
        web_text(b, r->m.status >= 0 && r->m.status <= 3 ? status_ja[r->m.status] : "");
        web_raw(b, "</td><td>");
        if (r->m.since_ms)
            when(b, r->m.since_ms);
        web_raw(b, "</td><td>");
        uint64_t heard = self ? 0 : peer_last_heard_ms(d, &r->m.id);
        if (self)
            web_raw(b, "—");
        else if (heard && heard <= loop_now)
            when(b, wall_now - (loop_now - heard));
        else
            web_raw(b, "<span class=\"muted\">起動後未受信</span>");
        web_rawf(b, "</td><td class=\"num\">%zu</td><td class=\"num\">%zu</td></tr>\n", r->certs,
                 r->adoptions);
    }
    web_raw(b, "</tbody></table>\n");
    web_page_end(w);
    free(rows.v);
    return 0;
}
