/*
 * daemon/web_int.h — what the web view's page modules share (web.c owns the
 * server; web_html.c the output helpers; web_<page>.c one page each).
 *
 * A page is a function that reads the request's parameters and appends its
 * whole response body to w->out; web.c sends it with the status, type and
 * headers the page set, the security headers every response carries
 * (Content-Security-Policy and the rest, web.c), and Cache-Control: no-store.
 * Pages run on the event loop: they must be fast (a search, a few store
 * reads) and never block; a body that takes long to build (an export) is
 * built on the thread pool (web_defer).
 *
 * Escaping is the page's duty and has one spelling: every string that came
 * from a record, a member, a parameter or the store goes out through
 * web_text (HTML text and quoted attribute values alike), web_url_attr (a
 * link target, only http(s) URLs) or web_qs (a query-string component).
 * web_raw is for the page's own literal markup only.
 */
#ifndef DAEMON_WEB_INT_H
#define DAEMON_WEB_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "daemon/catalogd.h"
#include "catalog/index.h"
#include "proto/limits.h"
#include "catalog/contract.h"
#include "proto/record.h"

/* ---- output buffer ---- */

/* A growing byte buffer.  An allocation failure, or growing past
 * NODE_WEB_BODY_MAX, sets `failed` and later appends do nothing: the page
 * finishes, and web.c answers 500 instead of a truncated page. */
typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} web_buf;

void web_buf_free(web_buf *b);
void web_put(web_buf *b, const void *s, size_t n);   /* raw bytes */
void web_raw(web_buf *b, const char *s);             /* the page's own markup, as is */
void web_rawf(web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* HTML-escaped (& < > " ' as entities), for text and for attribute values in
 * double quotes.  Invalid UTF-8 becomes U+FFFD; control characters (which
 * records may not hold, but an old one might) become U+FFFD too. */
void web_text(web_buf *b, const char *s);
void web_textn(web_buf *b, const char *s, size_t n);
void web_textf(web_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Percent-encoded for a query-string value (RFC 3986 unreserved kept). */
void web_qs(web_buf *b, const char *s);
/* 1 if s is an http:// or https:// URL fit for an href (no white space,
 * quotes, angle brackets or control characters). */
int  web_url_ok(const char *s);
/* <a href="URL" rel="noopener noreferrer">TEXT</a> for an http(s) URL; the
 * URL as plain text when it is anything else (javascript:, data:, …). */
void web_link_ext(web_buf *b, const char *url, const char *text);

/* ---- a request ---- */

typedef struct {
    char *name, *value;      /* decoded, NUL-terminated, valid UTF-8 */
} web_kv;

typedef struct web_req {
    catalogd *d;
    const char *path;        /* the decoded, normalised path ("/product") */
    web_kv *params;       /* query parameters in order (GET forms) */
    size_t nparams;
    web_buf out;             /* the response body */
    int status;              /* 200 unless the page sets another */
    const char *type;        /* Content-Type; default text/html; charset=utf-8 */
    char filename[128];      /* set: Content-Disposition: attachment (ASCII name) */
    char filename_ja[256];   /* and filename*=UTF-8''… (a Japanese name), optional */
    char user[NODE_WEB_USER_MAX + 1];  /* the signed-in user (Basic, or the trusted proxy's
                                        * X-Remote-User); "" on an open loopback view */
    int today;               /* yyyymmdd, the local date when the request arrived */
    struct st_h2o_req_t *req;   /* web.c's: the request, for web_defer */
    int deferred;            /* web_defer queued the answer: web.c sends nothing now */
    int head;                /* a HEAD request: only the headers are sent */
} web_req;

/* The first value of a parameter, or NULL; "" counts as absent. */
const char *web_param(const web_req *w, const char *name);
/* Every non-empty value of a parameter (a checkbox group), at most max;
 * returns how many. */
size_t web_params(const web_req *w, const char *name, const char **out, size_t max);

/* ---- a body built off the loop ----
 *
 * An export of 10,000 rows takes half a second to build: on the loop it
 * stopped gossip, the control socket and every other browser that long.
 * Its page takes what it needs of the loop's state (the search's hits,
 * the parameters, today) into a job, quickly, and hands it to web_defer.
 * The job's work runs on a thread of libuv's pool and fills in the
 * answer; web.c sends it from the loop when the work is done.  The work
 * may use only what the job holds (a store_snap for the store: the loop
 * goes on reading and writing it) and asks web_job_stop now and then: the
 * daemon stops (the answer is then a 503), or the client has gone away
 * (libh2o reads nothing while a request is served, so it would not know
 * before the answer is written: the work looks at the socket itself).
 * Either way the rest is not built (the work sets `cut`) and nobody gets
 * the result.  A stop
 * waits for the work, as it does for a backup. */
typedef struct web_job {
    void (*work)(struct web_job *);  /* on a pool thread */
    void (*free)(struct web_job *);  /* on the loop, when web.c is done with it: frees it */
    atomic_int cancel;               /* set on the loop: nobody will read the result */
    atomic_int fd;                   /* the client's socket, -1 once closed (web_job_stop) */
    /* the answer, as a page sets it in web_req; with error[0], instead an
     * error page with `status` and that message (made on the loop: the
     * page frame reads the loop's state) */
    web_buf out;
    int status;
    const char *type;
    char filename[128], filename_ja[256];
    char error[512];
    int cut;                         /* set by the work: it stopped early (web_job_stop) */
    int discarded;                   /* set by the work: the file it was writing was thrown
                                      * away unwritten (an XLSX not zipped) */
    /* web.c's */
    uv_work_t uv;
    struct web *s;
    struct web_ticket *ticket;       /* in the request's pool; NULL once libh2o let go of it */
    struct web_job *prev, *next;
    struct web_conn *conn;           /* its connection, NULL once closed */
    uint8_t key[16];                 /* the source it counts against (as the response budgets) */
    char user[NODE_WEB_USER_MAX + 1];
    int today;                       /* the request's (web_req.today), for the page frame */
    uint64_t loop_ns, queued_ns;     /* the page's time on the loop; when it was queued */
} web_job;

/* Queue j's work for w's request: 0, and w->deferred set (the page writes
 * nothing more).  -1 when it was not queued, with the error page in w:
 * 503 with NODE_WEB_EXPORT_JOBS_MAX jobs building, 429 with
 * NODE_WEB_EXPORT_JOBS_SOURCE_MAX of w's source's, 500 if the pool
 * refused it; j is then still the caller's. */
int web_defer(web_req *w, web_job *j);
/* ... and 1 for a HEAD request: nothing is built (a HEAD is a GET without
 * its body, and the body is all the work); w gets the job's status, type
 * and file names for the headers, and j is still the caller's. */
/* On the pool thread: 1 when the work should stop (cancel set, or the
 * client's side of the connection closed), else 0.  A poll(2) of the
 * socket: call it every few dozen rows, not for each. */
int web_job_stop(web_job *j);

/* ---- the page frame ---- */

/* <!doctype html> … <header> with the node's member name and the
 * navigation (current: the nav entry to mark, e.g. "search") … <main>. */
void web_page_begin(web_req *w, const char *title, const char *current);
/* </main> <footer> </html>. */
void web_page_end(web_req *w);
/* A whole error page with status (400, 404, …) and a Japanese message. */
int  web_error(web_req *w, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- form parts ---- */

/* One checkbox named "area" per policy area in all (NULL-terminated: the
 * policy in force, catalog_index_areas), checked when it is one of
 * checked[0..n). */
void web_area_checkboxes(web_buf *b, const char *const *all, const char *const *checked, size_t n);

/* ---- the catalog in people's terms ---- */

/* "131059 文京区" for a member id, a former member marked ("131016
 * 千代田区（脱退）", "…（除名）"); its short id when it is not a member
 * (kept in buf, which is returned). */
const char *web_member_label(const web_req *w, const proto_id *id, char *buf, size_t n);
/* 令和8年4月1日 for yyyymmdd (or "YYYY-MM-DD" text), with the ISO date in a
 * title: <time datetime="2026-04-01" title="2026-04-01">令和8年4月1日</time>.
 * Anything unreadable is shown escaped as it is. */
void web_date(web_buf *b, const char *iso);
/* The company of a certification, with its 法人番号 when it has one:
 * 株式会社…（法人番号 1234567890123）. */
void web_company(web_buf *b, const proto_record *r);
void web_date_num(web_buf *b, int ymd);
/* 令和8年度 (2026年度) for a fiscal year. */
void web_fiscal_year(web_buf *b, long fy);

/* ---- one product, for its page and its evidence sheet (web_product.c) ---- */

/* A record read from the store: a copy of its bytes and its decoded view
 * (pointing into the copy). */
typedef struct {
    uint8_t *raw;
    size_t len;
    proto_record r;
} web_rec;

/* A store callback's record into *e (a copy, decoded): 1, or 0 for a record
 * that does not decode (the store holds only records that did: a damaged
 * one is skipped; e->raw is then NULL), or -1 out of memory. */
int web_rec_copy(web_rec *e, const uint8_t *rec, size_t len);

/* Every current certification of the product of one certification (the
 * index's product: 法人番号 + normalised name, catalog_search with
 * has_cert), in the index's order, and every current adoption citing one of
 * them; the 4号随契 check of the day `on` over those certifications. */
typedef struct {
    web_rec *certs, *adoptions;
    size_t ncerts, nadoptions;
    size_t more;             /* records left out past NODE_WEB_PRODUCT_RECORDS_MAX */
    size_t seed;             /* certs[seed] is the one asked for (c, k) */
    proto_id author;         /* c, parsed */
    char key[PROTO_KEY_MAX + 1];   /* k, as catalog_key_norm spells it */
    int on;                  /* yyyymmdd: `on`, default today */
    int *standing;           /* per certification: CATALOG_CONTRACT_* on `on` */
    catalog_contract_result res;
} web_product;

/* Reads c, k and on and loads the product.  0, or -1 when it has written
 * the error page itself (400 malformed, 404 unknown, 500). */
int  web_product_load(web_req *w, web_product *p);
void web_product_free(web_product *p);
/* The check's facts, in order, each handed to fn with ok (1: a fact that
 * holds, 0: a warning) and its text: escaped HTML (dates as <time>) when
 * html, else plain text (dates as 令和8年4月1日（2026-04-01）). */
typedef void (*web_fact_fn)(void *ctx, int ok, const char *text);
void web_product_facts(web_req *w, const web_product *p, int html, web_fact_fn fn, void *ctx);
/* A certification's standing on the day as people read it ("効力あり",
 * "取消", "停止", "期間満了", "認定日前"). */
const char *web_standing_name(int standing);
/* "131059 文京区 文京-2026-001" for a certification (author, key). */
const char *web_cert_label(const web_req *w, const proto_id *author, const char *key, char *buf, size_t n);
/* A reference "MEMBER_ID/KEY" as "131059 文京区 KEY" (into buf); anything
 * else as it is. */
const char *web_ref_label(const web_req *w, const char *ref, char *buf, size_t n);
/* "MEMBER_ID/KEY" into its parts; 0 or -1. */
int web_ref_split(const char *ref, proto_id *id, char *key, size_t keylen);
/* The query string c=…&k=… of a record (escaped, for an href). */
void web_record_qs(web_buf *b, const proto_id *author, const char *key);
/* A signed time (ms since the epoch) as local 令和8年4月1日 10:23, with the
 * ISO form in a tooltip (html) or after it in brackets (text). */
void web_time_ms(web_buf *b, uint64_t ms, int html);

/* ---- pages (one file each) ---- */

typedef int (*web_page_fn)(web_req *w);

int web_page_search(web_req *w);      /* / and /search  (web_search.c) */
int web_page_export_csv(web_req *w);  /* /export.csv    (web_export.c) */
int web_page_export_xlsx(web_req *w); /* /export.xlsx   (web_export.c) */
int web_page_new(web_req *w);         /* /new           (web_new.c) */
int web_page_healthz(web_req *w);     /* /healthz       (web.c) */
int web_page_members(web_req *w);     /* /members       (web_members.c) */

/* ---- the search, shared by its page and its downloads (web_search.c) ---- */

/* The search's query from the request's parameters (q, area…, member,
 * valid_on, status, adopted; docs/WEB.md) and its page (1 when absent):
 * 0, or -1 with the Japanese message for a 400.  The query's strings
 * point into w's parameters. */
int web_search_query(web_req *w, catalog_query *q, size_t *page, char *err, size_t errlen);
/* The search's parameters (not page) as a query string, name=value pairs
 * percent-encoded and joined by sep ("&amp;" inside an attribute). */
void web_search_qs(const web_req *w, web_buf *b, const char *sep);
/* The /product link of one certification, for an href: /product?c=ID&amp;k=KEY. */
void web_product_link(web_buf *b, const proto_id *author, const char *key);
int web_page_product(web_req *w);     /* /product       (web_product.c) */
int web_page_evidence(web_req *w);    /* /evidence      (web_evidence.c) */
int web_page_evidence_xlsx(web_req *w); /* /evidence.xlsx (web_evidence.c) */
int web_page_history(web_req *w);     /* /history       (web_history.c) */
int web_page_metrics(web_req *w);     /* /metrics       (metrics.c: Prometheus text, not a page) */

#endif
