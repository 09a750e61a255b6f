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
 *
 * 10,000 rows take about half a second to build, so they are built on the
 * thread pool (web_defer): the loop runs the search, takes the hits, the
 * date and the file names into the job, and the job reads the records in
 * a read snapshot of its own (store_snap), neither the index nor anything
 * else of the loop's.
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
#include <stdatomic.h>
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
    web_job base;            /* first: the job is freed as this */
    /* taken on the loop */
    store *st;
    jp_date today;
    int xlsx, adoptions;
    catalog_hits h;          /* the search's hits (its refs are what is read) */
    char tmpdir[1024];       /* for the XLSX's temporary file */
    /* the work's */
    store_snap *snap;
    catalog_export_cells_buf *buf;
    proto_csv_buf *csv;      /* writing CSV, or */
    catalog_xlsx *x;         /* XLSX */
    uint64_t numeric;
    size_t rows, seen;
    int failed;
    member_entry cache[MEMBER_CACHE];
    size_t ncache;
} export_job;

static int member_of(void *ctx, const proto_id *id, char *code, size_t codelen, char *name, size_t namelen)
{
    export_job *c = ctx;
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
        if (store_snap_member_get(c->snap, id, &m) == 0) {
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
    export_job *c = ctx;
    proto_record r;
    const char *row[CATALOG_EXPORT_COLS];
    /* the daemon stops, or the client has gone: nobody reads the rest */
    if (atomic_load_explicit(&c->base.cancel, memory_order_relaxed) || (c->seen++ % 64 == 0 && web_job_stop(&c->base))) {
        c->base.cut = 1;
        return 1;
    }
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

static void names(web_job *j, int t, const char *ascii, const char *ja, const char *ext)
{
    snprintf(j->filename, sizeof j->filename, "%s-%08d.%s", ascii, t, ext);
    snprintf(j->filename_ja, sizeof j->filename_ja, "%s_%08d.%s", ja, t, ext);
}

static void job_free(web_job *j)
{
    export_job *e = (export_job *)j;
    catalog_hits_free(&e->h);
    free(e);
}

static void fail(export_job *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(export_job *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->base.error, sizeof e->base.error, fmt, ap);
    va_end(ap);
    e->base.status = 500;
}

/* The read snapshot could not be begun (LMDB's readers all taken, the
 * map unreadable): a passing condition, told as such, never an empty file. */
static void snap_failed(export_job *e)
{
    fail(e, "いまカタログを読み出せないため、書き出せませんでした。少し待ってからもう一度お試しください");
    e->base.status = 503;
}

static void csv_work(web_job *j);
static void xlsx_work(web_job *j);

/* The job's part on the loop: the search (the index is the loop's), then
 * the job queued; 0 either way (the page is written or deferred). */
static int export_start(web_req *w, int xlsx, int adoptions)
{
    catalog_hits h;
    if (search_all(w, &h))
        return 0;
    size_t rows = xlsx ? h.ncerts + h.nadoptions : adoptions ? h.nadoptions : h.ncerts;
    if (rows > NODE_WEB_EXPORT_MAX) {
        catalog_hits_free(&h);
        return too_many(w, rows);
    }
    free(h.groups);   /* the pages' grouping: not read by an export */
    h.groups = NULL;
    h.ngroups = 0;
    export_job *e = calloc(1, sizeof *e);
    if (!e) {
        catalog_hits_free(&h);
        return web_error(w, 500, "メモリが足りません");
    }
    e->st = w->d->st;
    e->today = (jp_date){ w->today / 10000, w->today / 100 % 100, w->today % 100 };
    e->xlsx = xlsx;
    e->adoptions = adoptions;
    e->h = h;
    const char *tmp = getenv("TMPDIR");
    snprintf(e->tmpdir, sizeof e->tmpdir, "%s", tmp && tmp[0] == '/' ? tmp : "/tmp");
    e->base.status = 200;
    e->base.free = job_free;
    if (xlsx) {
        e->base.type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        names(&e->base, w->today, "catalog", "認定カタログ", "xlsx");
    } else {
        e->base.type = "text/csv; charset=utf-8";
        if (adoptions)
            names(&e->base, w->today, "adoptions", "導入実績", "csv");
        else
            names(&e->base, w->today, "catalog", "認定カタログ", "csv");
    }
    e->base.work = xlsx ? xlsx_work : csv_work;
    if (web_defer(w, &e->base))
        job_free(&e->base);   /* the error page (busy, 429) is written */
    return 0;
}

/* On a pool thread. */
static void csv_work(web_job *j)
{
    export_job *e = (export_job *)j;
    proto_csv_buf csv = { 0 };
    const char *hdr[CATALOG_EXPORT_COLS];
    const char *k = kind_get(e->adoptions ? KIND_ADOPTION : KIND_CERTIFICATION)->name;
    if (!(e->buf = malloc(sizeof *e->buf)) ||
        proto_csv_append_row_opts(&csv, hdr, catalog_export_headers(k, hdr), PROTO_CSV_NEUTRALISE)) {
        fail(e, "メモリが足りません");
    } else if (!(e->snap = store_snap_begin(e->st))) {
        snap_failed(e);
    } else {
        e->csv = &csv;
        if (e->adoptions)
            store_snap_get_refs(e->snap, e->h.adoptions, e->h.nadoptions, row_cb, e);
        else
            store_snap_get_refs(e->snap, e->h.certs, e->h.ncerts, row_cb, e);
        if (e->failed) {
            fail(e, "CSV を作れませんでした（メモリが足りません）");
        } else {
            web_put(&j->out, "\xef\xbb\xbf", 3);   /* BOM: Excel then reads UTF-8 */
            web_put(&j->out, csv.data, csv.len);
        }
    }
    store_snap_end(e->snap);
    e->snap = NULL;
    free(e->buf);
    e->buf = NULL;
    proto_csv_buf_free(&csv);
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

/* On a pool thread. */
static void xlsx_work(web_job *j)
{
    export_job *e = (export_job *)j;
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/catalogd-export-XXXXXX", e->tmpdir);
    /* mkstemp makes the name ours (mode 0600); libxlsxwriter then writes
     * the file by that name, and it is read back by that name */
    int fd = mkstemp(path);
    if (fd < 0) {
        fail(e, "一時ファイルを作れません（%s）: %s", path, strerror(errno));
        return;
    }
    close(fd);
    if (!(e->buf = malloc(sizeof *e->buf)))
        snprintf(err, sizeof err, "メモリが足りません");
    catalog_xlsx *x = e->buf ? catalog_xlsx_open(path, err, sizeof err) : NULL;
    if (!x) {
        free(e->buf);
        e->buf = NULL;
        unlink(path);
        fail(e, "Excel ファイルを作れません: %s", err);
        return;
    }
    e->x = x;
    if (!(e->snap = store_snap_begin(e->st))) {
        snap_failed(e);
        e->failed = 1;   /* no rows: the workbook is thrown away unwritten */
    }
    static const kind_id kinds[2] = { KIND_CERTIFICATION, KIND_ADOPTION };
    static const char *const sheets[2] = { "認定", "導入実績" };
    for (size_t t = 0; t < 2 && !e->failed; t++) {
        const char *k = kind_get(kinds[t])->name, *hdr[CATALOG_EXPORT_COLS];
        catalog_xlsx_sheet(x, sheets[t], hdr, catalog_export_headers(k, hdr));
        e->numeric = catalog_export_numeric(k);
        if (t == 0)
            store_snap_get_refs(e->snap, e->h.certs, e->h.ncerts, row_cb, e);
        else
            store_snap_get_refs(e->snap, e->h.adoptions, e->h.nadoptions, row_cb, e);
    }
    store_snap_end(e->snap);
    e->snap = NULL;
    free(e->buf);
    e->buf = NULL;
    e->x = NULL;
    if (!j->cut && web_job_stop(j))
        j->cut = 1;
    if (j->cut || e->base.error[0]) {
        /* nobody reads it (the client went away, the daemon stops) or it
         * is an error page: zipping the workbook would be most of the
         * work, for nothing */
        catalog_xlsx_discard(x);
        j->discarded = 1;
        return;
    }
    /* close writes the file (and reports the first error of any row) */
    int rc = catalog_xlsx_close(x, err, sizeof err);
    if (!j->cut && web_job_stop(j))
        j->cut = 1;   /* not read back for nobody */
    if (rc == 0 && !j->cut && !e->base.error[0]) {
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || slurp(fd, &j->out)) {
            snprintf(err, sizeof err, "%s", strerror(errno));
            rc = -1;
        }
        if (fd >= 0)
            close(fd);
    }
    unlink(path);
    if (rc && !e->base.error[0])
        fail(e, "Excel ファイルを作れません: %s", err);
}

int web_page_export_csv(web_req *w)
{
    const char *kind = web_param(w, "kind");
    int adoptions = 0;
    if (kind && !strcmp(kind, "adoption"))
        adoptions = 1;
    else if (kind && strcmp(kind, "certification"))
        return web_error(w, 400, "kind は certification（認定）か adoption（導入実績）です");
    return export_start(w, 0, adoptions);
}

int web_page_export_xlsx(web_req *w)
{
    return export_start(w, 1, 0);
}
