/*
 * daemon/web_int.h — what the web view's page modules share (web.c owns the
 * server; web_html.c the output helpers; web_<page>.c one page each).
 *
 * A page is a function that reads the request's parameters and appends its
 * whole response body to w->out; web.c sends it with the status, type and
 * headers the page set, the security headers every response carries
 * (Content-Security-Policy and the rest, web.c), and Cache-Control: no-store.
 * Pages run on the event loop: they must be fast (a search, a few store
 * reads) and never block.
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
#include <stddef.h>
#include <stdint.h>
#include "daemon/catalogd.h"
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
    char user[64];           /* the signed-in user, or "" (loopback, trusted proxy's user) */
    int today;               /* yyyymmdd, the local date when the request arrived */
} web_req;

/* The first value of a parameter, or NULL; "" counts as absent. */
const char *web_param(const web_req *w, const char *name);
/* Every non-empty value of a parameter (a checkbox group), at most max;
 * returns how many. */
size_t web_params(const web_req *w, const char *name, const char **out, size_t max);

/* ---- the page frame ---- */

/* <!doctype html> … <header> with the node's member name and the
 * navigation (current: the nav entry to mark, e.g. "search") … <main>. */
void web_page_begin(web_req *w, const char *title, const char *current);
/* </main> <footer> </html>. */
void web_page_end(web_req *w);
/* A whole error page with status (400, 404, …) and a Japanese message. */
int  web_error(web_req *w, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- the catalog in people's terms ---- */

/* "131059 文京区" for a member id; its short id when it is not a member
 * (kept in buf, which is returned). */
const char *web_member_label(const web_req *w, const proto_id *id, char *buf, size_t n);
/* 令和8年4月1日 for yyyymmdd (or "YYYY-MM-DD" text), with the ISO date in a
 * title: <time datetime="2026-04-01" title="2026-04-01">令和8年4月1日</time>.
 * Anything unreadable is shown escaped as it is. */
void web_date(web_buf *b, const char *iso);
void web_date_num(web_buf *b, int ymd);
/* 令和8年度 (2026年度) for a fiscal year. */
void web_fiscal_year(web_buf *b, long fy);

/* ---- pages (one file each) ---- */

typedef int (*web_page_fn)(web_req *w);

int web_page_search(web_req *w);      /* / and /search  (web_search.c) */
int web_page_healthz(web_req *w);     /* /healthz       (web.c) */
int web_page_metrics(web_req *w);     /* /metrics       (metrics.c: Prometheus text, not a page) */

#endif
