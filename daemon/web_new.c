/*
 * daemon/web_new.c — 新着: the certifications and adoptions whose record
 * was signed within the last `days` days, newest first, optionally only
 * those of some 分野 (an adoption has the areas of the certification it
 * cites).
 *
 * Each member's log is dense (seq 1..n) and in the order its records were
 * signed, so the newest records of a member are its highest seqs: the page
 * walks every member's log back from its newest record, a chunk at a time,
 * and stops after a chunk signed wholly before the window, once it has a
 * page's worth of rows from that member, or when NODE_WEB_NEW_SCAN_MAX
 * records have been read in all (then it says so).  A record shows when it
 * is the current version of its key (the first one met going back) and not
 * a withdrawal.  The cost is the recent records, not the catalog.
 */
#include "daemon/web_int.h"
#include "catalog/diff.h"
#include "catalog/schema.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Records read per store_range call. */
#define CHUNK 256
#define MS_PER_DAY 86400000ull

enum { K_OTHER, K_CERT, K_ADOPTION };

/* One record of a chunk, as the walk needs it. */
typedef struct {
    uint64_t seq, time_ms, hash;
    uint32_t areas;
    uint8_t kind, gone;
    char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];   /* an adoption's certification */
} chunk_ent;

/* A row of the page. */
typedef struct {
    uint32_t author;
    uint64_t seq, time_ms;
} row;

typedef struct {
    proto_id *ids;
    uint64_t *top;
    size_t n, cap;
    int failed;
} author_list;

static int vv_cb(void *ctx, const proto_id *author, uint64_t seq)
{
    author_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        proto_id *ids = realloc(l->ids, cap * sizeof *ids);
        if (ids)
            l->ids = ids;
        uint64_t *top = realloc(l->top, cap * sizeof *top);
        if (top)
            l->top = top;
        if (!ids || !top) {
            l->failed = 1;
            return 1;
        }
        l->cap = cap;
    }
    l->ids[l->n] = *author;
    l->top[l->n++] = seq;
    return 0;
}

/* 分野 of a certification as a bit mask over the areas of the policy in
 * force (catalog_index_areas; stored spellings are canonical). */
static uint32_t area_bits(const proto_record *r, const char *const *areas)
{
    return catalog_record_areas_in(r, areas);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

typedef struct {
    chunk_ent *v;
    size_t n;
    uint32_t author;
    const char *const *areas;   /* of the policy in force */
} chunk_ctx;

static int chunk_cb(void *ctx, const uint8_t *rec, size_t len)
{
    chunk_ctx *c = ctx;
    proto_record r;
    if (c->n >= CHUNK || proto_record_decode_stored(rec, len, &r, NULL, 0))
        return 0;
    chunk_ent *e = &c->v[c->n++];
    memset(e, 0, offsetof(chunk_ent, ref) + 1);
    e->seq = r.seq;
    e->time_ms = r.time_ms;
    e->kind = kind_is(r.kind, KIND_CERTIFICATION) ? K_CERT : kind_is(r.kind, KIND_ADOPTION) ? K_ADOPTION : K_OTHER;
    if (e->kind == K_OTHER)
        return 0;
    e->gone = (r.flags & PROTO_FLAG_TOMBSTONE) != 0;
    uint64_t h = fnv(0xcbf29ce484222325ull, &c->author, sizeof c->author);
    h = fnv(h, &e->kind, 1);
    e->hash = fnv(h, r.key, strlen(r.key)) | 1;   /* 0 marks an empty slot */
    if (e->gone)
        return 0;
    if (e->kind == K_CERT)
        e->areas = area_bits(&r, c->areas);
    else if (proto_body_copy_str(&r, "certification", e->ref, sizeof e->ref))
        e->ref[0] = 0;
    return 0;
}

/* The cited certification of an adoption: its author and key out of
 * "MEMBER_ID/KEY"; 0, or -1 when it is not such a reference. */
static int ref_split(const char *ref, proto_id *author, const char **key)
{
    const char *slash = strchr(ref, '/');
    char ids[PROTO_ID_STR + 8];
    if (!slash || (size_t)(slash - ref) >= sizeof ids)
        return -1;
    memcpy(ids, ref, (size_t)(slash - ref));
    ids[slash - ref] = 0;
    if (proto_id_parse(ids, author))
        return -1;
    *key = slash + 1;
    return 0;
}

typedef struct {
    uint32_t areas;
    int found;
    char product[512], company[512];
    const char *const *area_list;   /* of the policy in force */
} cert_info;

static int cert_info_cb(void *ctx, const uint8_t *rec, size_t len)
{
    cert_info *ci = ctx;
    proto_record r;
    if (proto_record_decode_stored(rec, len, &r, NULL, 0) || (r.flags & PROTO_FLAG_TOMBSTONE))
        return 1;
    ci->found = 1;
    ci->areas = area_bits(&r, ci->area_list);
    catalog_field_text(&r, "product", ci->product, sizeof ci->product);
    catalog_field_text(&r, "company", ci->company, sizeof ci->company);
    return 1;
}

static void cited(catalogd *d, const char *ref, cert_info *ci)
{
    proto_id a;
    const char *key;
    store *st = d->st;
    memset(ci, 0, sizeof *ci);
    ci->area_list = catalog_index_areas(d->index, st);
    if (ref[0] && ref_split(ref, &a, &key) == 0)
        store_get_current(st, &a, kind_get(KIND_CERTIFICATION)->name, key, cert_info_cb, ci);
}

/* A set of (author, kind, key) hashes met so far: open addressing, sized
 * for every record the walk may read. */
typedef struct {
    uint64_t *slot;
    size_t mask;
} seen_set;

/* 1 if h was already there (then it is not added again). */
static int seen_add(seen_set *s, uint64_t h)
{
    size_t i = (size_t)(h ^ h >> 31) & s->mask;
    while (s->slot[i]) {
        if (s->slot[i] == h)
            return 1;
        i = (i + 1) & s->mask;
    }
    s->slot[i] = h;
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? 1 : -1;
    if (x->author != y->author)
        return x->author < y->author ? -1 : 1;
    return (x->seq < y->seq) - (x->seq > y->seq);
}

/* The local date of a signed time as yyyymmdd; 0 (shown as nothing) for
 * one beyond year 9999: a record's time is whatever its author signed, and
 * year * 10000 of such a time overflows an int. */
static int local_ymd(uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm) || tm.tm_year < 1 - 1900 || tm.tm_year > 9999 - 1900)
        return 0;
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

typedef struct {
    web_req *w;
} render_ctx;

static void product_cell(web_buf *b, const proto_id *author, const char *key, const char *product,
                         const char *company)
{
    web_raw(b, "<td><a href=\"");
    web_product_link(b, author, key);
    web_raw(b, "\">");
    web_text(b, product[0] ? product : key);
    web_raw(b, "</a><br><span class=\"muted\">");
    web_text(b, company);
    web_raw(b, "</span></td>");
}

static int render_cb(void *ctx, const uint8_t *rec, size_t len)
{
    render_ctx *c = ctx;
    web_req *w = c->w;
    web_buf *b = &w->out;
    proto_record r;
    char who[256];
    if (proto_record_decode_stored(rec, len, &r, NULL, 0))
        return 0;
    int cert = kind_is(r.kind, KIND_CERTIFICATION);
    web_rawf(b, "<tr class=\"%s\"><td>", cert ? "kind-certification" : "kind-adoption");
    web_date_num(b, local_ymd(r.time_ms));
    web_rawf(b, "</td><td>%s</td><td>", cert ? "認定" : "導入実績");
    web_text(b, web_member_label(w, &r.author, who, sizeof who));
    web_raw(b, "</td>");
    if (cert) {
        char product[512], company[512];
        catalog_field_text(&r, "product", product, sizeof product);
        catalog_field_text(&r, "company", company, sizeof company);
        product_cell(b, &r.author, r.key, product, company);
    } else {
        char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        cert_info ci;
        proto_id a;
        const char *key;
        if (proto_body_copy_str(&r, "certification", ref, sizeof ref))
            ref[0] = 0;
        cited(w->d, ref, &ci);
        if (ci.found && ref_split(ref, &a, &key) == 0) {
            product_cell(b, &a, key, ci.product, ci.company);
        } else {
            web_raw(b, "<td class=\"muted\">（認定が見つかりません: ");
            web_text(b, ref);
            web_raw(b, "）</td>");
        }
    }
    web_raw(b, "</tr>\n");
    return 0;
}

static void form(web_req *w, unsigned days)
{
    web_buf *b = &w->out;
    const char *areas[NODE_WEB_PARAMS_MAX];
    size_t na = web_params(w, "area", areas, NODE_WEB_PARAMS_MAX);
    const char *dp = web_param(w, "days");
    web_raw(b, "<form class=\"search new\" method=\"get\" action=\"/new\"><fieldset>"
               "<label>この日数以内 <input type=\"number\" name=\"days\" min=\"1\" max=\"3650\" value=\"");
    if (dp)
        web_text(b, dp);
    else
        web_rawf(b, "%u", days);
    web_raw(b, "\"> 日</label></fieldset><fieldset class=\"areas\"><legend>分野（いずれか）</legend>");
    web_area_checkboxes(b, catalog_index_areas(w->d->index, w->d->st), areas, na);
    web_raw(b, "</fieldset><button type=\"submit\">表示</button></form>\n");
}

static int bad_request(web_req *w, const char *msg)
{
    web_page_begin(w, "新着", "new");
    web_raw(&w->out, "<h1>新着</h1><p class=\"error\">");
    web_text(&w->out, msg);
    web_raw(&w->out, "</p>");
    form(w, 30);
    web_page_end(w);
    w->status = 400;
    return 0;
}

int web_page_new(web_req *w)
{
    catalogd *d = w->d;
    char err[300];
    unsigned days = 30;
    const char *dp = web_param(w, "days");
    if (dp) {
        size_t n = strlen(dp);
        if (n > 4 || strspn(dp, "0123456789") != n || (days = (unsigned)strtoul(dp, NULL, 10)) < 1 ||
            days > NODE_WEB_NEW_DAYS_MAX) {
            snprintf(err, sizeof err, "日数は 1 から %u までの数で指定してください", NODE_WEB_NEW_DAYS_MAX);
            return bad_request(w, err);
        }
    }
    uint32_t want = 0;
    const char *areas[NODE_WEB_PARAMS_MAX];
    size_t na = web_params(w, "area", areas, NODE_WEB_PARAMS_MAX);
    for (size_t i = 0; i < na; i++) {
        catalog_query one;
        catalog_query_init(&one);
        if (catalog_query_set_area_in(&one, catalog_index_areas(d->index, d->st), areas[i], err, sizeof err))
            return bad_request(w, err);
        want |= 1u << one.area;
    }

    uint64_t now = proto_now_ms(), span = (uint64_t)days * MS_PER_DAY;
    uint64_t cutoff = now > span ? now - span : 0;
    author_list al = { 0 };
    chunk_ent *chunk = malloc(CHUNK * sizeof *chunk);
    size_t cap = 1024;
    while (cap < 2 * NODE_WEB_NEW_SCAN_MAX)
        cap *= 2;
    seen_set seen = { calloc(cap, sizeof(uint64_t)), cap - 1 };
    size_t nrows = 0, rcap = 256;
    row *rows = malloc(rcap * sizeof *rows);
    int failed = !chunk || !seen.slot || !rows || store_vv(d->st, vv_cb, &al) < 0 || al.failed;
    size_t scanned = 0;
    int truncated = 0;
    for (size_t a = 0; !failed && a < al.n && al.n <= UINT32_MAX; a++) {
        uint64_t hi = al.top[a];
        size_t mine = 0;
        int done = 0;
        while (!done && hi >= 1) {
            if (scanned >= NODE_WEB_NEW_SCAN_MAX) {
                truncated = 1;
                break;
            }
            uint64_t lo = hi > CHUNK ? hi - CHUNK + 1 : 1;
            chunk_ctx cc = { chunk, 0, (uint32_t)a, catalog_index_areas(d->index, d->st) };
            if (store_range(d->st, &al.ids[a], lo, hi, chunk_cb, &cc) < 0) {
                failed = 1;
                break;
            }
            scanned += (size_t)(hi - lo + 1);
            uint64_t newest = 0;
            for (size_t i = cc.n; i-- > 0 && !done;) {
                const chunk_ent *e = &chunk[i];
                if (e->time_ms > newest)
                    newest = e->time_ms;
                if (e->kind == K_OTHER || seen_add(&seen, e->hash) || e->gone || e->time_ms < cutoff)
                    continue;   /* not catalog, an older version, withdrawn, or before the window */
                if (want) {
                    uint32_t bits = e->areas;
                    if (e->kind == K_ADOPTION) {
                        cert_info ci;
                        cited(d, e->ref, &ci);
                        bits = ci.areas;
                    }
                    if (!(bits & want))
                        continue;
                }
                if (nrows == rcap) {
                    row *nr = realloc(rows, 2 * rcap * sizeof *rows);
                    if (!nr) {
                        failed = 1;
                        break;
                    }
                    rows = nr;
                    rcap *= 2;
                }
                rows[nrows++] = (row){ (uint32_t)a, e->seq, e->time_ms };
                /* no other member's rows can push these off the page */
                if (++mine >= NODE_WEB_NEW_ROWS)
                    done = 1;
            }
            /* a chunk wholly before the window: the log below it was signed
             * earlier still (a clock that stepped back a little within a
             * chunk does not hide a record) */
            if (newest < cutoff)
                done = 1;
            hi = lo - 1;
        }
    }
    free(chunk);
    free(seen.slot);
    if (failed) {
        free(rows);
        free(al.ids);
        free(al.top);
        return web_error(w, 500, "新着を読めませんでした（ストアを読めないか、メモリが足りません）");
    }
    if (nrows > 1)
        qsort(rows, nrows, sizeof *rows, row_cmp);
    size_t shown = nrows < NODE_WEB_NEW_ROWS ? nrows : NODE_WEB_NEW_ROWS;

    web_page_begin(w, "新着", "new");
    web_buf *b = &w->out;
    web_raw(b, "<h1>新着</h1>");
    form(w, days);
    web_rawf(b, "<p class=\"count\">%u 日以内に登録・更新された認定と導入実績: %zu 件", days, nrows);
    if (nrows > shown)
        web_rawf(b, "（新しい順に %zu 件を表示）", shown);
    web_raw(b, "</p>\n");
    if (truncated)
        web_rawf(b, "<p class=\"warn\">記録が多いため、新しいものから %u 件までを調べました。"
                    "これより前の記録は表示していないことがあります。日数を短くしてください。</p>\n",
                 NODE_WEB_NEW_SCAN_MAX);
    if (!shown) {
        web_raw(b, "<p class=\"muted\">この期間の新着はありません</p>\n");
    } else {
        web_raw(b, "<table class=\"new\"><thead><tr><th>日付</th><th>種類</th><th>団体</th>"
                   "<th>製品・事業者</th></tr></thead><tbody>\n");
        store_ref *refs = malloc(shown * sizeof *refs);
        if (!refs) {
            b->failed = 1;
        } else {
            for (size_t i = 0; i < shown; i++) {
                refs[i].author = al.ids[rows[i].author];
                refs[i].seq = rows[i].seq;
            }
            render_ctx rc = { w };
            store_get_refs(d->st, refs, shown, render_cb, &rc);
            free(refs);
        }
        web_raw(b, "</tbody></table>\n");
    }
    free(rows);
    free(al.ids);
    free(al.top);
    web_page_end(w);
    return 0;
}
