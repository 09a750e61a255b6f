/*
 * daemon/web_export.c — /export.csv and /export.xlsx: every certification
 * and adoption of the products the current search matches (all its pages),
 * as files for paperwork.
 *
 * The rows are catalog/export.h's, the ones `catalogctl export` writes:
 * the same columns, Japanese headers, names not ids, 状態 as of today.  CSV
 * is one table (kind=certification, the default, or kind=adoption), UTF-8
 * with a BOM and CRLF as Excel expects, a cell that a spreadsheet would
 * read as a formula neutralised (another member's 事業者名 "=HYPERLINK(…)"
 * must not run in this member's Excel).  XLSX holds both tables, 認定 and
 * 導入実績; libxlsxwriter writes a file, so it goes through a private
 * temporary file that is read back and removed.  Both are bounded by
 * NODE_WEB_EXPORT_MAX rows.
 */
#include "daemon/web_int.h"
#include "catalog/csv.h"
#include "catalog/export.h"
#include "catalog/xlsx.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "store/kind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Members are few and every row names one or two: a small cache saves a
 * store read per row. */
#define MEMBER_CACHE 32

typedef struct {
    proto_id id;
    int known;
    char code[8], name[192 + 16];   /* the name and its mark */
} member_entry;

typedef struct {
    store *st;
    jp_date today;
    catalog_export_cells_buf *buf;
    proto_csv_buf *csv;      /* writing CSV, or */
    catalog_xlsx *x;         /* XLSX */
    uint64_t numeric;
    size_t rows;
    int failed;
    member_entry cache[MEMBER_CACHE];
    size_t ncache;
} export_ctx;

static int member_of(void *ctx, const proto_id *id, char *code, size_t codelen, char *name, size_t namelen)
{
    export_ctx *c = ctx;
    member_entry one, *e = NULL;
    for (size_t i = 0; i < c->ncache && !e; i++)
        if (!memcmp(&c->cache[i].id, id, sizeof *id))
            e = &c->cache[i];
    if (!e) {
        /* a full cache keeps its entries: any further member is read each time */
        e = c->ncache < MEMBER_CACHE ? &c->cache[c->ncache++] : &one;
        memset(e, 0, sizeof *e);
        e->id = *id;
        store_member m;
        if (store_member_get(c->st, id, &m) == 0) {
            e->known = 1;
            snprintf(e->code, sizeof e->code, "%s", m.code);
            /* a former member marked, as everywhere staff read it */
            snprintf(e->name, sizeof e->name, "%s%s", m.name, store_member_mark(m.status));
        }
    }
    if (!e->known)
        return -1;
    snprintf(code, codelen, "%s", e->code);
    snprintf(name, namelen, "%s", e->name);
    return 0;
}

static int row_cb(void *ctx, const uint8_t *rec, size_t len)
{
    export_ctx *c = ctx;
    proto_record r;
    const char *row[CATALOG_EXPORT_COLS];
    if (proto_record_decode_stored(rec, len, &r, NULL, 0) || (r.flags & PROTO_FLAG_TOMBSTONE))
        return 0;
    size_t n = catalog_export_cells(&r, member_of, c, c->today, c->buf, row);
    if (c->csv ? proto_csv_append_row_opts(c->csv, row, n, PROTO_CSV_NEUTRALISE)
               : catalog_xlsx_row(c->x, row, n, c->numeric)) {
        c->failed = 1;
        return 1;
    }
    c->rows++;
    return 0;
}

/* The search's hits, every page; 0 or -1 after the error page was written. */
static int search_all(web_req *w, catalog_hits *h)
{
    catalogd *d = w->d;
    catalog_query q;
    size_t page;
    char err[300];
    if (web_search_query(w, &q, &page, err, sizeof err))
        return web_error(w, 400, "%s", err), -1;
    q.limit = 0;
    q.offset = 0;
    if (catalog_search(d->index, d->st, d->catalog_gen, &q, h, err, sizeof err))
        return web_error(w, 500, "%s", err), -1;
    return 0;
}

static int too_many(web_req *w, size_t rows)
{
    return web_error(w, 400, "書き出す行が多すぎます（%zu 行、上限 %u 行）。条件で絞り込むか、"
                             "catalogctl export を使ってください", rows, NODE_WEB_EXPORT_MAX);
}

static void names(web_req *w, const char *ascii, const char *ja, const char *ext)
{
    int t = w->today;
    snprintf(w->filename, sizeof w->filename, "%s-%08d.%s", ascii, t, ext);
    snprintf(w->filename_ja, sizeof w->filename_ja, "%s_%08d.%s", ja, t, ext);
}

static export_ctx *ctx_new(web_req *w)
{
    export_ctx *c = calloc(1, sizeof *c);
    if (!c || !(c->buf = malloc(sizeof *c->buf))) {
        free(c);
        return NULL;
    }
    c->st = w->d->st;
    c->today = (jp_date){ w->today / 10000, w->today / 100 % 100, w->today % 100 };
    return c;
}

static void ctx_free(export_ctx *c)
{
    if (c)
        free(c->buf);
    free(c);
}

int web_page_export_csv(web_req *w)
{
    const char *kind = web_param(w, "kind");
    int adoptions = 0;
    if (kind && !strcmp(kind, "adoption"))
        adoptions = 1;
    else if (kind && strcmp(kind, "certification"))
        return web_error(w, 400, "kind は certification（認定）か adoption（導入実績）です");
    catalog_hits h;
    if (search_all(w, &h))
        return 0;
    size_t rows = adoptions ? h.nadoptions : h.ncerts;
    if (rows > NODE_WEB_EXPORT_MAX) {
        catalog_hits_free(&h);
        return too_many(w, rows);
    }
    export_ctx *c = ctx_new(w);
    proto_csv_buf csv = { 0 };
    const char *hdr[CATALOG_EXPORT_COLS];
    const char *k = kind_get(adoptions ? KIND_ADOPTION : KIND_CERTIFICATION)->name;
    if (!c || proto_csv_append_row_opts(&csv, hdr, catalog_export_headers(k, hdr), PROTO_CSV_NEUTRALISE)) {
        ctx_free(c);
        catalog_hits_free(&h);
        return web_error(w, 500, "メモリが足りません");
    }
    c->csv = &csv;
    if (adoptions)
        store_get_refs(c->st, h.adoptions, h.nadoptions, row_cb, c);
    else
        store_get_refs(c->st, h.certs, h.ncerts, row_cb, c);
    int failed = c->failed;
    ctx_free(c);
    catalog_hits_free(&h);
    if (failed) {
        proto_csv_buf_free(&csv);
        return web_error(w, 500, "CSV を作れませんでした（メモリが足りません）");
    }
    web_put(&w->out, "\xef\xbb\xbf", 3);   /* BOM: Excel then reads UTF-8 */
    web_put(&w->out, csv.data, csv.len);
    proto_csv_buf_free(&csv);
    w->type = "text/csv; charset=utf-8";
    if (adoptions)
        names(w, "adoptions", "導入実績", "csv");
    else
        names(w, "catalog", "認定カタログ", "csv");
    return 0;
}

/* The whole file into b; 0 or -1 with errno. */
static int slurp(int fd, web_buf *b)
{
    struct stat sb;
    if (fstat(fd, &sb) || sb.st_size < 0 || (uint64_t)sb.st_size > NODE_WEB_BODY_MAX) {
        errno = EFBIG;
        return -1;
    }
    char chunk[65536];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0)
        web_put(b, chunk, (size_t)n);
    return n < 0 ? -1 : 0;
}

int web_page_export_xlsx(web_req *w)
{
    catalog_hits h;
    if (search_all(w, &h))
        return 0;
    size_t rows = h.ncerts + h.nadoptions;
    if (rows > NODE_WEB_EXPORT_MAX) {
        catalog_hits_free(&h);
        return too_many(w, rows);
    }
    const char *tmp = getenv("TMPDIR");
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/catalogd-export-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    /* mkstemp makes the name ours (mode 0600); libxlsxwriter then writes
     * the file by that name, and it is read back by that name */
    int fd = mkstemp(path);
    if (fd < 0) {
        catalog_hits_free(&h);
        return web_error(w, 500, "一時ファイルを作れません（%s）: %s", path, strerror(errno));
    }
    close(fd);
    export_ctx *c = ctx_new(w);
    catalog_xlsx *x = c ? catalog_xlsx_open(path, err, sizeof err) : NULL;
    if (!x) {
        if (!c)
            snprintf(err, sizeof err, "メモリが足りません");
        ctx_free(c);
        unlink(path);
        catalog_hits_free(&h);
        return web_error(w, 500, "Excel ファイルを作れません: %s", err);
    }
    c->x = x;
    static const kind_id kinds[2] = { KIND_CERTIFICATION, KIND_ADOPTION };
    static const char *const sheets[2] = { "認定", "導入実績" };
    for (size_t t = 0; t < 2 && !c->failed; t++) {
        const char *k = kind_get(kinds[t])->name, *hdr[CATALOG_EXPORT_COLS];
        catalog_xlsx_sheet(x, sheets[t], hdr, catalog_export_headers(k, hdr));
        c->numeric = catalog_export_numeric(k);
        if (t == 0)
            store_get_refs(c->st, h.certs, h.ncerts, row_cb, c);
        else
            store_get_refs(c->st, h.adoptions, h.nadoptions, row_cb, c);
    }
    catalog_hits_free(&h);
    ctx_free(c);
    /* close writes the file (and reports the first error of any row) */
    int rc = catalog_xlsx_close(x, err, sizeof err);
    if (rc == 0) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || slurp(fd, &w->out)) {
            snprintf(err, sizeof err, "%s", strerror(errno));
            rc = -1;
        }
        if (fd >= 0)
            close(fd);
    }
    unlink(path);
    if (rc)
        return web_error(w, 500, "Excel ファイルを作れません: %s", err);
    w->type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    names(w, "catalog", "認定カタログ", "xlsx");
    return 0;
}
