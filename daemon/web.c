/*
 * daemon/web.c — the web view's server: libh2o on the daemon's own libuv
 * loop, one handler that bounds and parses each request, then dispatches
 * by path to a page (web_<page>.c) from the table below.
 *
 * Only GET and HEAD are served: the view is read-only.  Query strings are
 * parsed by liburiparser; every parameter must be valid UTF-8 without
 * control characters, or the request is refused (400) before a page sees
 * it.  Every response carries a strict Content-Security-Policy (no inline
 * script or style, nothing from elsewhere), nosniff, no framing, no
 * referrer, and is never cached (a contract officer's search is not for
 * the next user of a shared PC).
 */
#include "daemon/web.h"
#include "daemon/web_int.h"
#include "daemon/web_auth.h"
#include "daemon/health.h"
#include "daemon/indexer.h"
#include "daemon/log.h"
#include "catalog/index.h"
#include "proto/limits.h"
#include "proto/text.h"
#include "proto/util.h"

#include <h2o.h>
#include <uriparser/Uri.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <openssl/sha.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <arpa/inet.h>
#include <poll.h>

typedef struct web_conn {
    uv_tcp_t tcp;            /* first: libh2o's close callback gets this handle */
    struct web *w;
    struct web_conn *prev, *next;
    uint8_t source[16];      /* who it counts against (source_of) */
    size_t queued;           /* bytes not yet taken by the client at the last stall check */
    uint64_t progress_ms;    /* when that last changed (or nothing waited) */
    int cut;                 /* shut down for a stalled response */
} web_conn;

typedef struct web {
    catalogd *d;
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    uv_tcp_t listener;
    int listening, ctx_ready, closing, abandoned;
    uv_timer_t stall;        /* checks for responses nobody reads (NODE_WEB_SEND_STALL_MS) */
    int stall_open;          /* initialised and not yet closed */
    unsigned nconns;
    web_conn *conns;         /* every open connection */
    web_auth *auth;          /* who may use it, and its TLS (web_auth.c) */
    char url[300];
    size_t inflight;         /* response bytes handed to libh2o, not yet sent (NODE_WEB_INFLIGHT_MAX) */
    web_job *jobs;           /* bodies being built on the thread pool (web_defer) */
    unsigned njobs;
    struct web_parked *parked;   /* requests waiting for the search index's build (indexer.h) */
    unsigned nparked;
    struct {                 /* the same per source (NODE_WEB_INFLIGHT_SOURCE_MAX); free at 0 bytes */
        uint8_t key[16];
        size_t bytes;
    } share[NODE_WEB_CONN_MAX];
} web;

/* ---- routes ---- */

typedef struct {
    const char *path;
    web_page_fn fn;
    int search;              /* the page searches the index: it waits while the index is built */
} web_route;

static const web_route routes[] = {
    { "/", web_page_search, 1 },
    { "/search", web_page_search, 1 },
    { "/export.csv", web_page_export_csv, 1 },
    { "/export.xlsx", web_page_export_xlsx, 1 },
    { "/new", web_page_new, 0 },
    { "/healthz", web_page_healthz, 0 },
    { "/members", web_page_members, 1 },
    { "/product", web_page_product, 1 },
    { "/evidence", web_page_evidence, 1 },
    { "/evidence.xlsx", web_page_evidence_xlsx, 1 },
    { "/history", web_page_history, 0 },
    { "/metrics", web_page_metrics, 0 },
};

/* ---- static files: the stylesheet (no inline style under the CSP) ---- */

extern const char web_style_css[];   /* web_html.c */

/* ---- request parameters ---- */

const char *web_param(const web_req *w, const char *name)
{
    for (size_t i = 0; i < w->nparams; i++)
        if (!strcmp(w->params[i].name, name))
            return w->params[i].value[0] ? w->params[i].value : NULL;
    return NULL;
}

size_t web_params(const web_req *w, const char *name, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nparams && n < max; i++)
        if (!strcmp(w->params[i].name, name) && w->params[i].value[0])
            out[n++] = w->params[i].value;
    return n;
}

static void params_free(web_req *w)
{
    for (size_t i = 0; i < w->nparams; i++) {
        free(w->params[i].name);
        free(w->params[i].value);
    }
    free(w->params);
    w->params = NULL;
    w->nparams = 0;
}

static int text_ok(const char *s)
{
    return proto_text_check(s, strlen(s), 0, NULL) == 0;
}

/* The query string (without '?') into w->params.  -1 with a message for
 * the 400 page: too many parameters, or one that is not text. */
static int parse_query(web_req *w, const char *q, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    /* uriparser hands back NUL-terminated strings: a "%00" would cut its
     * name or value short without a word (q=abc%00def searching "abc") */
    if (memmem(q, n, "%00", 3))
        return proto_err(err, errlen, "検索条件に使えない文字があります");
    UriQueryListA *list = NULL;
    int count = 0;
    /* plusToSpace: HTML forms send spaces as '+'; breakLines off: a value
     * keeps its line breaks as sent (and is then refused as control text) */
    if (uriDissectQueryMallocExA(&list, &count, q, q + n, URI_TRUE, URI_BR_DONT_TOUCH) != URI_SUCCESS)
        return proto_err(err, errlen, "検索条件が読めません");
    if (count > (int)NODE_WEB_PARAMS_MAX) {
        uriFreeQueryListA(list);
        return proto_err(err, errlen, "検索条件が多すぎます（上限 %u）", NODE_WEB_PARAMS_MAX);
    }
    w->params = calloc((size_t)count ? (size_t)count : 1, sizeof *w->params);
    if (!w->params) {
        uriFreeQueryListA(list);
        return proto_err(err, errlen, "out of memory");
    }
    for (UriQueryListA *e = list; e; e = e->next) {
        const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
        if (!text_ok(k) || !text_ok(v)) {
            uriFreeQueryListA(list);
            return proto_err(err, errlen, "検索条件に使えない文字があります");
        }
        web_kv *p = &w->params[w->nparams];
        if (!(p->name = strdup(k)) || !(p->value = strdup(v))) {
            free(p->name);
            uriFreeQueryListA(list);
            return proto_err(err, errlen, "out of memory");
        }
        w->nparams++;
    }
    uriFreeQueryListA(list);
    return 0;
}

/* ---- responses ---- */

static void add_header(h2o_req_t *req, const h2o_token_t *t, const char *v)
{
    h2o_add_header(&req->pool, &req->res.headers, t, NULL, v, strlen(v));
}

static void add_header_by_name(h2o_req_t *req, const char *name, const char *v)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, v, strlen(v));
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* The headers of every response: what the browser may load and do. */
static void security_headers(h2o_req_t *req)
{
    add_header_by_name(req, "content-security-policy",
                       "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
                       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    add_header_by_name(req, "x-content-type-options", "nosniff");
    add_header_by_name(req, "x-frame-options", "DENY");
    add_header_by_name(req, "referrer-policy", "no-referrer");
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
}

/* A response body held by libh2o: counted in s->inflight and in its
 * source's share until the request's pool is cleared (the response sent,
 * or the connection gone). */
typedef struct {
    web *s;
    size_t n;
    int share;               /* index in s->share, or -1 */
    char *owned;             /* the body, when it was handed over (malloc'd), else it follows */
} held_body;

static void body_released(void *p)
{
    held_body *h = p;
    h->s->inflight -= h->n;
    if (h->share >= 0)
        h->s->share[h->share].bytes -= h->n;
    free(h->owned);
}

static void source_of_sa(const struct sockaddr *sa, uint8_t out[16], uint8_t addr[16]);

/* Whom a request's bytes count against: its address (an IPv4 address or
 * an IPv6 /64, as the connection caps count), or behind the trusted proxy,
 * which carries the whole office from one address, its signed-in user. */
static void share_key(web *s, h2o_req_t *req, const char *user, uint8_t key[16])
{
    struct sockaddr_storage ss;
    uint8_t addr[16];
    memset(key, 0, 16);
    socklen_t len = req->conn->callbacks->get_peername ? req->conn->callbacks->get_peername(req->conn,
                                                                                          (struct sockaddr *)&ss)
                                                       : 0;
    if (len)
        source_of_sa((struct sockaddr *)&ss, key, addr);
    if (len && user && user[0] && web_auth_is_proxy(s->auth, addr)) {
        uint8_t h[32];
        SHA256((const unsigned char *)user, strlen(user), h);
        memcpy(key, h, 16);
        key[0] |= 0x80;   /* apart from any address's key (an IPv4 one starts with 0) */
    }
}

/* The share entry of key: found, or a free one taken; -1 if none is free
 * (at most one source per connection holds bytes, so one always is). */
static int share_of(web *s, const uint8_t key[16])
{
    int free_at = -1;
    for (int i = 0; i < (int)NODE_WEB_CONN_MAX; i++) {
        if (s->share[i].bytes && !memcmp(s->share[i].key, key, 16))
            return i;
        if (!s->share[i].bytes && free_at < 0)
            free_at = i;
    }
    if (free_at >= 0)
        memcpy(s->share[free_at].key, key, 16);
    return free_at;
}

static const char busy_msg[] = "混み合っています。少し待ってからもう一度お試しください\n";

/* As send_body; `owned` (malloc'd, or NULL) is the body, handed over: it is
 * freed once sent, or at once if it is not sent (HEAD, 503), and not copied
 * on the loop (an export is tens of MB). */
static void send_owned(web *s, h2o_req_t *req, const char *user, int status, const char *type, const char *body,
                       size_t n, char *owned)
{
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    uint8_t key[16];
    share_key(s, req, user, key);
    int sh = share_of(s, key);
    /* a small answer (an error page, /healthz) always goes: 256 of them
     * are a few MB; a larger one waits while slow clients hold the
     * budget, or while its own source holds its share of it (see
     * limits.h).  A source holding nothing may have one answer above its
     * share (a whole catalog's CSV is ~40 MB, its share 32 MiB: it was
     * refused however long the browser waited); bodies are at most
     * NODE_WEB_BODY_MAX, and the budget in all still holds. */
    if (!head && n > NODE_WEB_INFLIGHT_SMALL &&
        (s->inflight + n > NODE_WEB_INFLIGHT_MAX ||
         (sh >= 0 && s->share[sh].bytes && s->share[sh].bytes + n > NODE_WEB_INFLIGHT_SOURCE_MAX))) {
        status = 503, type = "text/plain; charset=utf-8", body = busy_msg, n = sizeof busy_msg - 1;
        free(owned);
        owned = NULL;
        add_header(req, H2O_TOKEN_RETRY_AFTER, "5");
        ssize_t at = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, -1);
        if (at >= 0)
            h2o_delete_header(&req->res.headers, at);   /* not a file: the message */
    }
    req->res.status = status;
    req->res.reason = reason(status);
    add_header(req, H2O_TOKEN_CONTENT_TYPE, type);
    security_headers(req);
    /* as h2o_send_inline, but the copy is counted while libh2o holds it */
    static h2o_generator_t generator = { NULL, NULL };
    h2o_start_response(req, &generator);
    if (head) {
        free(owned);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    held_body *h = h2o_mem_alloc_shared(&req->pool, sizeof *h + (owned ? 0 : n), body_released);
    h->s = s;
    h->n = n;
    h->share = n ? sh : -1;
    h->owned = owned;
    s->inflight += n;
    if (h->share >= 0)
        s->share[sh].bytes += n;
    if (!owned)
        memcpy(h + 1, body, n);
    h2o_iovec_t buf = h2o_iovec_init(owned ? owned : (char *)(h + 1), n);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static void send_body(web *s, h2o_req_t *req, const char *user, int status, const char *type, const char *body,
                      size_t n)
{
    send_owned(s, req, user, status, type, body, n, NULL);
}

/* RFC 6266: an ASCII fallback name and, when given, the UTF-8 one. */
static void disposition(h2o_req_t *req, const web_req *w)
{
    web_buf b = { 0 };
    web_rawf(&b, "attachment; filename=\"%s\"", w->filename);
    if (w->filename_ja[0]) {
        web_raw(&b, "; filename*=UTF-8''");
        web_qs(&b, w->filename_ja);
    }
    if (!b.failed && b.n) {
        /* libh2o keeps the value's pointer, not a copy: the request's pool
         * holds it until the response is sent */
        h2o_iovec_t v = h2o_strdup(&req->pool, b.p, b.n);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_DISPOSITION, NULL, v.base, v.len);
    }
    web_buf_free(&b);
}

static int today_local(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* A page's answer (w->out, handed over to libh2o).  page_ns: its time on
 * the loop; build_ns: on the thread pool (web_defer), or 0. */
static void respond(web *s, h2o_req_t *req, web_req *w, uint64_t page_ns, uint64_t build_ns)
{
    if (w->out.failed) {
        web_buf_free(&w->out);
        w->type = "text/html; charset=utf-8";
        w->filename[0] = 0;
        web_error(w, 500, "ページを作れませんでした（大きすぎるか、メモリが足りません）");
        if (w->out.failed) {
            web_buf_free(&w->out);
            w->status = 500;
        }
    }
    if (w->filename[0])
        disposition(req, w);   /* send_body drops it again if it answers 503 instead */
    /* the page's own time on the loop, for the bench and the browser's
     * developer tools (W3C Server Timing); a body built on the pool adds
     * that time as "build" */
    char timing[96];
    if (build_ns)
        snprintf(timing, sizeof timing, "page;dur=%.3f, build;dur=%.3f", (double)page_ns / 1e6,
                 (double)build_ns / 1e6);
    else
        snprintf(timing, sizeof timing, "page;dur=%.3f", (double)page_ns / 1e6);
    add_header_by_name(req, "server-timing", timing);
    char *body = w->out.p;
    size_t n = w->out.n;
    w->out = (web_buf){ 0 };
    send_owned(s, req, w->user, w->status, w->type, body ? body : "", n, body);
}

/* ---- bodies built on the thread pool (web_int.h) ---- */

/* In the request's pool: libh2o clears the pool when it lets go of the
 * request (the answer sent, or the connection closed), which tells a job
 * whose request is gone. */
typedef struct web_ticket {
    web_job *job;            /* NULL once the job has answered */
    h2o_req_t *req;
} web_ticket;

static void ticket_gone(void *p)
{
    web_ticket *t = p;
    if (t->job) {
        t->job->ticket = NULL;
        atomic_store(&t->job->cancel, 1);   /* nobody to read it: stop early */
    }
}

static void job_work(uv_work_t *u)
{
    web_job *j = u->data;
    j->work(j);
}

static int disposable(const web *s);
static void dispose(web *s);

static void job_done(uv_work_t *u, int status)
{
    (void)status;
    web_job *j = u->data;
    web *s = j->s;
    catalogd *d = s->d;
    if (j->prev)
        j->prev->next = j->next;
    else
        s->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    s->njobs--;
    uint64_t build_ns = uv_hrtime() - j->queued_ns;
    size_t bytes = j->out.cap;
    /* abandoned: main's walk has closed the connections' handles under
     * libh2o, which must not be asked to write any more */
    if (j->ticket && !s->abandoned) {
        h2o_req_t *req = j->ticket->req;
        j->ticket->job = NULL;
        uint64_t t0 = uv_hrtime();
        web_req w = { .d = d, .status = j->status, .type = j->type, .today = j->today };
        snprintf(w.user, sizeof w.user, "%s", j->user);
        if (j->cut)
            d->counters.web_export_cancelled++;
        if (j->cut && s->closing) {
            web_buf_free(&j->out);
            add_header(req, H2O_TOKEN_RETRY_AFTER, "30");
            web_error(&w, 503, "ノードを停止するため、書き出しを中止しました。少し待ってからもう一度お試しください");
        } else if (j->cut) {
            /* nobody reads it; written all the same, so that libh2o finds
             * the connection closed and lets go of it */
            log_debug(d, "web view: the client of %s went away; its build was stopped%s", j->filename,
                      j->discarded ? " (the workbook was not written)" : "");
            web_buf_free(&j->out);
            web_error(&w, 503, "接続が切れたため、書き出しを中止しました");
        } else if (j->error[0]) {
            web_buf_free(&j->out);
            web_error(&w, j->status, "%s", j->error);
        } else {
            w.out = j->out;
            j->out = (web_buf){ 0 };
            snprintf(w.filename, sizeof w.filename, "%s", j->filename);
            snprintf(w.filename_ja, sizeof w.filename_ja, "%s", j->filename_ja);
        }
        respond(s, req, &w, j->loop_ns + (uv_hrtime() - t0), build_ns);
        web_buf_free(&w.out);
    } else {
        if (j->cut)
            d->counters.web_export_cancelled++;
        if (j->ticket)
            j->ticket->job = NULL;   /* (its pool is never cleared now, but it must not point here) */
        log_debug(d, "web view: a body built on the thread pool is dropped (%s)",
                  s->abandoned ? "the connections were abandoned at the stop" : "its client went away");
    }
    web_buf_free(&j->out);
    j->free(j);
    /* what the work read mapped store pages here, and its buffers went
     * back to malloc: trimmed as after any big batch */
    store_check_pages(d->st);
    catalogd_churn(d, bytes);
    if (s->closing && disposable(s))
        dispose(s);
}

/* The connection of req (libh2o does not say which socket it is): the
 * one whose peer is req's peer, address and port. */
static web_conn *conn_of(web *s, h2o_req_t *req)
{
    struct sockaddr_storage a, b;
    socklen_t la = req->conn->callbacks->get_peername ? req->conn->callbacks->get_peername(req->conn,
                                                                                         (struct sockaddr *)&a)
                                                      : 0;
    if (!la || (a.ss_family != AF_INET && a.ss_family != AF_INET6))
        return NULL;
    for (web_conn *c = s->conns; c; c = c->next) {
        int lb = sizeof b;
        if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&b, &lb) || b.ss_family != a.ss_family)
            continue;
        if (a.ss_family == AF_INET) {
            const struct sockaddr_in *x = (const void *)&a, *y = (const void *)&b;
            if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
                return c;
        } else {
            const struct sockaddr_in6 *x = (const void *)&a, *y = (const void *)&b;
            if (x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr))
                return c;
        }
    }
    return NULL;
}

int web_job_stop(web_job *j)
{
    if (atomic_load_explicit(&j->cancel, memory_order_relaxed))
        return 1;
    /* POLLRDHUP: the client closed its side (a browser's tab closed, the
     * download cancelled); a client that only half-closes after its
     * request, which no browser does, loses its export too */
    struct pollfd p = { .fd = atomic_load(&j->fd), .events = POLLRDHUP };
    if (p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
        atomic_store(&j->cancel, 1);
        return 1;
    }
    return 0;
}

int web_defer(web_req *w, web_job *j)
{
    web *s = w->d->web;
    if (w->head) {
        /* the headers a GET would get, and no work: a link checker, curl -I
         * or a browser's HEAD must not take a build slot or the pool */
        w->status = j->status;
        w->type = j->type;
        snprintf(w->filename, sizeof w->filename, "%s", j->filename);
        snprintf(w->filename_ja, sizeof w->filename_ja, "%s", j->filename_ja);
        return 1;
    }
    uint8_t key[16];
    share_key(s, w->req, w->user, key);
    unsigned mine = 0;
    for (const web_job *o = s->jobs; o; o = o->next)
        mine += !memcmp(o->key, key, sizeof key);
    if (mine >= NODE_WEB_EXPORT_JOBS_SOURCE_MAX) {
        add_header(w->req, H2O_TOKEN_RETRY_AFTER, "5");
        return web_error(w, 429, "書き出しを作っている途中です（同時に %u 件まで）。それが終わってからもう一度お試しください",
                         NODE_WEB_EXPORT_JOBS_SOURCE_MAX), -1;
    }
    if (s->njobs >= NODE_WEB_EXPORT_JOBS_MAX) {
        add_header(w->req, H2O_TOKEN_RETRY_AFTER, "5");
        return web_error(w, 503, "ほかの書き出しを作っているため混み合っています（同時に %u 件まで）。"
                                 "少し待ってからもう一度お試しください", NODE_WEB_EXPORT_JOBS_MAX), -1;
    }
    web_conn *c = conn_of(s, w->req);
    uv_os_fd_t fd = -1;
    if (!c || uv_fileno((uv_handle_t *)&c->tcp, &fd))
        fd = -1;
    atomic_init(&j->fd, fd);
    j->conn = c;
    web_ticket *t = h2o_mem_alloc_shared(&w->req->pool, sizeof *t, ticket_gone);
    t->job = j;
    t->req = w->req;
    memcpy(j->key, key, sizeof key);
    snprintf(j->user, sizeof j->user, "%s", w->user);
    j->today = w->today;
    atomic_init(&j->cancel, s->closing);
    j->s = s;
    j->ticket = t;
    j->uv.data = j;
    j->queued_ns = uv_hrtime();
    int rc = uv_queue_work(w->d->loop, &j->uv, job_work, job_done);
    if (rc) {
        t->job = NULL;
        return web_error(w, 500, "書き出しを始められません: %s", uv_strerror(rc)), -1;
    }
    j->prev = NULL;
    j->next = s->jobs;
    if (s->jobs)
        s->jobs->prev = j;
    s->jobs = j;
    s->njobs++;
    w->d->counters.web_export_builds++;
    w->deferred = 1;
    return 0;
}

unsigned web_parked_count(const catalogd *d)
{
    return d->web ? ((const web *)d->web)->nparked : 0;
}

unsigned web_jobs_building(const catalogd *d)
{
    return d->web ? ((const web *)d->web)->njobs : 0;
}

/* ---- requests waiting for the search index (indexer.h) ----
 *
 * A page that searches, asked while the index is built on the thread pool,
 * is held in full (libh2o keeps the request) and served again from the
 * start when the build ends.  The entry lives in the request's pool:
 * libh2o clearing it (the connection closed) lets go of the entry too. */
typedef struct web_parked {
    web *s;                  /* NULL once let go of */
    h2o_req_t *req;
    web_conn *conn;          /* its connection, NULL once closed */
    struct web_parked *prev, *next;
} web_parked;

static void parked_unlink(web_parked *p)
{
    web *s = p->s;
    if (!s)
        return;
    if (p->prev)
        p->prev->next = p->next;
    else
        s->parked = p->next;
    if (p->next)
        p->next->prev = p->prev;
    s->nparked--;
    p->s = NULL;
}

static void parked_gone(void *p)
{
    parked_unlink(p);
}

static void stall_timer_arm(web *s);

/* 0, or -1 with the 503 page in w (NODE_WEB_PARKED_MAX held already). */
static int park(web *s, web_req *w)
{
    if (s->nparked >= NODE_WEB_PARKED_MAX) {
        add_header(w->req, H2O_TOKEN_RETRY_AFTER, "5");
        return web_error(w, 503, "検索の準備をしています（待てる要求は %u 件まで）。少し待ってからもう一度お試しください",
                         NODE_WEB_PARKED_MAX), -1;
    }
    web_parked *p = h2o_mem_alloc_shared(&w->req->pool, sizeof *p, parked_gone);
    p->s = s;
    p->req = w->req;
    p->conn = conn_of(s, w->req);
    p->prev = NULL;
    p->next = s->parked;
    if (s->parked)
        s->parked->prev = p;
    s->parked = p;
    s->nparked++;
    stall_timer_arm(s);   /* now at NODE_WEB_PARKED_CHECK_MS: a client that leaves is seen */
    w->deferred = 1;
    return 0;
}

static int serve_req(web *s, h2o_req_t *req);

/* Every parked request, taken off the list first (serving one may park
 * it again: it then waits for the next build, not for this loop). */
static web_parked *parked_take(web *s)
{
    web_parked *all = s->parked;
    s->parked = NULL;
    s->nparked = 0;
    for (web_parked *p = all; p; p = p->next)
        p->s = NULL;
    return all;
}

static void parked_refuse(web *s, h2o_req_t *req, const char *msg, const char *retry)
{
    if (retry)
        add_header(req, H2O_TOKEN_RETRY_AFTER, retry);
    send_body(s, req, NULL, 503, "text/plain; charset=utf-8", msg, strlen(msg));
}

void web_index_built(catalogd *d, int ok)
{
    web *s = d->web;
    if (!s)
        return;
    web_parked *next;
    for (web_parked *p = parked_take(s); p; p = next) {
        next = p->next;
        if (s->abandoned)
            continue;   /* its handle is closed under libh2o: nothing more is written */
        if (ok && !s->closing)
            serve_req(s, p->req);
        else
            parked_refuse(s, p->req, s->closing ? "ノードを停止するため、検索を中止しました。少し待ってからもう一度お試しください\n"
                                                : "検索の準備ができませんでした。少し待ってからもう一度お試しください\n", "30");
    }
}

/* On the stall timer's tick while requests are parked: one whose client
 * closed its side is let go of now (answered: libh2o then finds the
 * connection closed and frees it), not when the build ends. */
static void parked_check(web *s)
{
    web_parked *next;
    for (web_parked *p = s->parked; p; p = next) {
        next = p->next;
        uv_os_fd_t fd;
        if (!p->conn || uv_fileno((uv_handle_t *)&p->conn->tcp, &fd))
            continue;
        struct pollfd pf = { .fd = fd, .events = POLLRDHUP };
        if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))) {
            h2o_req_t *req = p->req;
            parked_unlink(p);
            log_debug(s->d, "web view: a client waiting for the search index went away");
            parked_refuse(s, req, "接続が切れました\n", NULL);
        }
    }
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    return serve_req(*(web **)(self + 1), req);
}

static int serve_req(web *s, h2o_req_t *req)
{
    catalogd *d = s->d;
    char user[NODE_WEB_USER_MAX + 1];
    web_auth_refusal no;
    if (web_auth_check(s->auth, req, user, sizeof user, &no)) {
        if (no.header)
            add_header_by_name(req, no.header, no.value);
        send_body(s, req, NULL, no.status, "text/html; charset=utf-8", no.body, strlen(no.body));
        return 0;
    }
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        static const char msg[] = "この表示は閲覧専用です（GET のみ）\n";
        send_body(s, req, user, 405, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return 0;
    }
    if (req->path.len > NODE_WEB_TARGET_MAX) {
        static const char msg[] = "URL が長すぎます\n";
        send_body(s, req, user, 414, "text/plain; charset=utf-8", msg, sizeof msg - 1);
        return 0;
    }

    web_req w = { .d = d, .status = 200, .type = "text/html; charset=utf-8", .today = today_local(), .req = req,
                  .head = head };
    char path[NODE_WEB_TARGET_MAX + 1], err[256];
    /* path_normalized: percent-decoded, dot segments resolved */
    size_t pl = req->path_normalized.len < sizeof path ? req->path_normalized.len : sizeof path - 1;
    memcpy(path, req->path_normalized.base, pl);
    path[pl] = 0;
    w.path = path;
    snprintf(w.user, sizeof w.user, "%s", user);

    /* a decoded NUL ("/members%00x") would end the path early: refused below,
     * not served as the page before it */
    int path_nul = memchr(req->path_normalized.base, 0, req->path_normalized.len) != NULL;

    const char *static_type = NULL, *static_body = NULL;
    if (!path_nul && !strcmp(path, "/static/style.css")) {
        static_type = "text/css; charset=utf-8";
        static_body = web_style_css;
    }
    if (static_body) {
        send_body(s, req, user, 200, static_type, static_body, strlen(static_body));
        return 0;
    }

    if (s->inflight >= NODE_WEB_INFLIGHT_MAX && strcmp(path, "/healthz")) {
        /* full: answer before the page's work, not after it (monitoring's
         * /healthz is small and always answered) */
        send_body(s, req, user, 503, "text/plain; charset=utf-8", busy_msg, sizeof busy_msg - 1);
        return 0;
    }

    web_page_fn fn = NULL;
    int searches = 0;
    uint64_t page_ns = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(routes[i].path, path))
            fn = routes[i].fn, searches = routes[i].search;
    int rc;
    if (path_nul || !text_ok(path)) {
        rc = web_error(&w, 400, "URL に使えない文字があります");
    } else if (req->query_at != SIZE_MAX &&
               parse_query(&w, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, err,
                           sizeof err)) {
        rc = web_error(&w, 400, "%s", err);
    } else if (!fn) {
        rc = web_error(&w, 404, "このページはありません");
    } else if (searches && !indexer_ready(d)) {
        rc = park(s, &w);   /* served again from the start when the index is built */
    } else {
        uint64_t t0 = uv_hrtime();
        rc = fn(&w);
        page_ns = uv_hrtime() - t0;
        if (w.deferred)
            w.d->web->jobs->loop_ns = page_ns;   /* the job just queued is the list's first */
    }
    (void)rc;
    if (!w.deferred)
        respond(s, req, &w, page_ns, 0);
    web_buf_free(&w.out);
    params_free(&w);
    return 0;
}

/* ---- /healthz ---- */

/* For monitoring: 200 "ok" when the node is healthy, 503 with the reason
 * otherwise (the same judgement as `catalogctl status`: daemon/health.c). */
int web_page_healthz(web_req *w)
{
    catalogd *d = w->d;
    store_info si;
    store_info_get(d->st, &si);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    proto_map m;
    proto_map_begin(&m, &pk);
    health_pack(d, &si, &m);
    proto_map_end(&m);

    /* read back what health_pack said: one judgement, in one place */
    proto_rd h, r;
    int ok = 0;
    uint32_t n = 0;
    w->type = "text/plain; charset=utf-8";
    if (proto_map_find((const uint8_t *)sb.data, sb.size, "health", &h) == 0) {
        size_t hl = (size_t)(h.end - h.p);
        if (proto_map_find(h.p, hl, "ok", &r) == 0)
            proto_rd_bool(&r, &ok);
        if (proto_map_find(h.p, hl, "problems", &r) == 0 && proto_rd_array(&r, &n) == 0) {
            web_raw(&w->out, ok ? "ok\n" : "degraded\n");
            for (uint32_t i = 0; i < n && !r.err; i++) {
                uint32_t k;
                proto_rd_map(&r, &k);
                for (uint32_t j = 0; j < k && !r.err; j++) {
                    char key[16], text[700];
                    proto_rd_strcpy(&r, key, sizeof key);
                    if (!strcmp(key, "text") && proto_rd_strcpy(&r, text, sizeof text) == 0) {
                        char esc[PROTO_TEXT_ESC_MAX(sizeof text)];
                        web_rawf(&w->out, "%s\n", proto_text_esc(text, esc, sizeof esc));
                    } else if (strcmp(key, "text")) {
                        proto_rd_skip(&r, 2);
                    }
                }
            }
        }
    }
    msgpack_sbuffer_destroy(&sb);
    if (!w->out.n)
        web_raw(&w->out, "degraded\nhealth unavailable\n");
    w->status = ok ? 200 : 503;
    return 0;
}

/* ---- connections ---- */

static void dispose(web *s)
{
    if (s->ctx_ready) {
        /* request_shutdown armed HTTP/2's graceful-shutdown timer whether or
         * not an HTTP/2 connection exists; disposing a linked entry aborts */
        if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&s->ctx);
        s->ctx_ready = 0;
    }
    h2o_config_dispose(&s->conf);
    web_auth_free(s->auth);
    s->d->web = NULL;
    free(s);
}

static int disposable(const web *s)
{
    return s->nconns == 0 && !s->listening && !s->stall_open && !s->abandoned && !s->njobs;
}

static void on_conn_closed(uv_handle_t *h)
{
    web_conn *c = (web_conn *)h;
    web *s = c->w;
    for (web_job *j = s->jobs; j; j = j->next)
        if (j->conn == c) {
            /* its socket's number may be handed out again */
            atomic_store(&j->fd, -1);
            j->conn = NULL;
        }
    for (web_parked *p = s->parked; p; p = p->next)
        if (p->conn == c)
            p->conn = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    if (--s->nconns == 0 && s->closing && disposable(s))
        dispose(s);
}

static void on_listener_closed(uv_handle_t *h)
{
    web *s = h->data;
    s->listening = 0;
    if (disposable(s))
        dispose(s);
}

static void on_stall_closed(uv_handle_t *h)
{
    web *s = h->data;
    s->stall_open = 0;
    if (disposable(s))
        dispose(s);
}

/* libh2o 2.2 times out reading a request, never sending a response: a
 * client that stops reading would hold its connection (one of
 * NODE_WEB_CONN_MAX) and the response for ever.  A connection whose unsent
 * bytes have not moved for NODE_WEB_SEND_STALL_MS is shut down, as
 * web_close does to idle ones: libh2o's write then fails and it closes the
 * connection itself (it cannot be closed from outside libh2o). */
static void on_stall_tick(uv_timer_t *t)
{
    web *s = t->data;
    uint64_t now = uv_now(t->loop);
    parked_check(s);
    if (!s->nparked && uv_timer_get_repeat(t) != NODE_WEB_SEND_STALL_MS / 4)
        uv_timer_start(t, on_stall_tick, NODE_WEB_SEND_STALL_MS / 4, NODE_WEB_SEND_STALL_MS / 4);
    for (web_conn *c = s->conns; c; c = c->next) {
        /* what waits: in libuv's queue, and in the kernel's not yet
         * acknowledged by the client (which moves as soon as it reads,
         * while libuv's may wait for megabytes of room on a fast link) */
        size_t q = c->tcp.write_queue_size;
        uv_os_fd_t qfd;
        int outq = 0;
        if (uv_fileno((uv_handle_t *)&c->tcp, &qfd) == 0 && ioctl(qfd, SIOCOUTQ, &outq) == 0 && outq > 0)
            q += (size_t)outq;
        if (!q || q != c->queued) {
            c->queued = q;
            c->progress_ms = now;
            continue;
        }
        if (c->cut || now - c->progress_ms < NODE_WEB_SEND_STALL_MS)
            continue;
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0) {
            char who[INET6_ADDRSTRLEN] = "?";
            uint8_t z[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
            if (!memcmp(c->source, z, 12))
                inet_ntop(AF_INET, c->source + 12, who, sizeof who);
            else
                inet_ntop(AF_INET6, c->source, who, sizeof who);
            log_info(s->d, "web view: closing a connection from %s whose client read none of its answer for %u s "
                     "(%zu bytes unsent)", who, NODE_WEB_SEND_STALL_MS / 1000, q);
            shutdown(fd, SHUT_RDWR);
        }
        c->cut = 1;
    }
    if (!s->nconns)
        uv_timer_stop(t);   /* started again by the next accept: an idle node does not wake for it */
}

/* The stall timer, running: at NODE_WEB_PARKED_CHECK_MS while requests
 * are parked, else every quarter of NODE_WEB_SEND_STALL_MS. */
static void stall_timer_arm(web *s)
{
    if (!s->stall_open)
        return;
    uint64_t every = s->nparked ? NODE_WEB_PARKED_CHECK_MS : NODE_WEB_SEND_STALL_MS / 4;
    if (!uv_is_active((uv_handle_t *)&s->stall) || uv_timer_get_repeat(&s->stall) != every)
        uv_timer_start(&s->stall, on_stall_tick, every, every);
}

/* The peer's address (16 bytes, IPv4 as ::ffff:a.b.c.d) in addr, and the
 * source it counts against for NODE_WEB_CONN_PER_ADDR in out: an IPv4
 * address, or an IPv6 /64 (one host is usually handed a whole /64, as for
 * peers: daemon/peer.c).  All zero when unknown. */
static void source_of_sa(const struct sockaddr *sa, uint8_t out[16], uint8_t addr[16])
{
    memset(out, 0, 16);
    memset(addr, 0, 16);
    if (sa->sa_family == AF_INET) {
        memcpy(addr + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        addr[10] = addr[11] = 0xff;
        memcpy(out, addr, 16);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        memcpy(addr, a, 16);
        memcpy(out, a, IN6_IS_ADDR_V4MAPPED(a) ? 16 : 8);
    }
}

static void source_of(uv_tcp_t *t, uint8_t out[16], uint8_t addr[16])
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(out, 0, 16);
    memset(addr, 0, 16);
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len))
        return;
    source_of_sa((struct sockaddr *)&ss, out, addr);
}

static unsigned conns_from(const web *s, const web_conn *self)
{
    unsigned n = 0;
    for (const web_conn *c = s->conns; c; c = c->next)
        n += c != self && !memcmp(c->source, self->source, sizeof c->source);
    return n;
}

static void on_accept(uv_stream_t *l, int status)
{
    web *s = l->data;
    if (status < 0)
        return;
    web_conn *c = malloc(sizeof *c);
    if (!c)
        return;
    c->w = s;
    c->queued = 0;
    c->progress_ms = uv_now(l->loop);
    c->cut = 0;
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    uv_tcp_init(l->loop, &c->tcp);
    s->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) || s->nconns > NODE_WEB_CONN_MAX || s->closing) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    /* one address cannot take every slot from the rest of the office —
     * unless it is the trusted proxy, which carries the whole office */
    uint8_t addr[16];
    source_of(&c->tcp, c->source, addr);
    if (conns_from(s, c) >= NODE_WEB_CONN_PER_ADDR && !web_auth_is_proxy(s->auth, addr)) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->stall_open && !uv_is_active((uv_handle_t *)&s->stall))
        stall_timer_arm(s);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    if (!sock) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    h2o_accept(&s->actx, sock);
}

/* A literal address ("127.0.0.1:7480", "[::1]:7480") into ss. */
static int resolve(const char *a, struct sockaddr_storage *ss, char *host, size_t hl)
{
    int port;
    if (proto_addr_split(a, host, hl, &port))
        return -1;
    if (!strcmp(host, "localhost"))
        snprintf(host, hl, "127.0.0.1");
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0 ||
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return -1;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

int web_listen(catalogd *d, char *err, size_t errlen)
{
    const char *addr = d->conf.str[CONFIG_WEB_LISTEN];
    if (!addr[0])
        return 0;
    struct sockaddr_storage ss;
    char host[256];
    memset(&ss, 0, sizeof ss);
    if (resolve(addr, &ss, host, sizeof host))
        return proto_err(err, errlen, "web_listen %s: not an IP:PORT", addr);
    /* not loopback: refused unless sign-in or a trusted proxy is set up */
    web_auth *auth = web_auth_open(d, addr, is_loopback(&ss), err, errlen);
    if (!auth)
        return -1;

    web *s = calloc(1, sizeof *s);
    if (!s) {
        web_auth_free(auth);
        return proto_err(err, errlen, "out of memory");
    }
    s->d = d;
    s->auth = auth;
    h2o_config_init(&s->conf);
    s->conf.http1.req_timeout = NODE_WEB_REQ_TIMEOUT_MS;
    /* no page takes a body: libh2o would otherwise buffer up to 1 GB of one
     * (in a file under /tmp) before on_req, even for a refused sign-in */
    s->conf.max_request_entity_size = NODE_WEB_REQ_BODY_MAX;
    /* HTTP/1.1 only.  libh2o would answer an Upgrade: h2c or an HTTP/2
     * preface in clear; an HTTP/2 client then holds up to 100 responses on
     * one connection behind a flow-control window of 0, which writes nothing
     * to the socket, so the stall cut-off never sees it, and they fill the
     * response budget.  Staff browsers speak HTTP/1.1 to it anyway (they use
     * HTTP/2 only over TLS with ALPN, which the context does not offer). */
    s->conf.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *hc = h2o_config_register_host(&s->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
    /* the handler carries the server after libh2o's own struct */
    h2o_handler_t *hd = h2o_create_handler(pc, sizeof *hd + sizeof(web *));
    hd->on_req = on_req;
    *(web **)(hd + 1) = s;
    s->actx.hosts = s->conf.hosts;
    s->actx.ssl_ctx = web_auth_ssl_ctx(auth);   /* set: HTTPS only */
    d->web = s;

    /* the listener first: libh2o's context puts timers of its own on the
     * loop, which a start that fails here (the port taken) would close
     * twice — once in main's walk of the loop, once in its dispose */
    int rc;
    uv_tcp_init(d->loop, &s->listener);
    s->listener.data = s;
    s->listening = 1;
    if ((rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0)) ||
        (rc = uv_listen((uv_stream_t *)&s->listener, 128, on_accept))) {
        s->closing = 1;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
        return proto_err(err, errlen, "web_listen %s: %s", addr, uv_strerror(rc));
    }
    /* no connection is accepted before the loop runs again */
    h2o_context_init(&s->ctx, d->loop, &s->conf);
    s->ctx_ready = 1;
    uv_timer_init(d->loop, &s->stall);
    s->stall.data = s;
    s->stall_open = 1;
    s->actx.ctx = &s->ctx;
    snprintf(s->url, sizeof s->url, "%s://%s/", s->actx.ssl_ctx ? "https" : "http", addr);
    char what[512];
    if (web_auth_tls_describe(auth, what, sizeof what) == 0)
        log_info(d, "web view certificate %s", what);
    return 0;
}

void web_close(catalogd *d)
{
    web *s = d->web;
    if (!s || s->closing)
        return;
    s->closing = 1;
    h2o_context_request_shutdown(&s->ctx);
    /* libh2o 2.2 leaves idle keep-alive connections open on shutdown, and
     * offers no way to close one from outside.  Shutting the socket's read
     * side makes libh2o itself see the end of the stream: an idle
     * connection closes at once, a busy one after its response. */
    for (web_conn *c = s->conns; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RD);
    }
    if (s->stall_open)
        uv_close((uv_handle_t *)&s->stall, on_stall_closed);
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    /* requests waiting for the search index: told now, not after the build */
    web_index_built(d, 0);
    /* bodies being built stop at their next row and answer 503: the stop
     * need not wait for a whole export */
    for (web_job *j = s->jobs; j; j = j->next)
        atomic_store(&j->cancel, 1);
}

void web_force_close(catalogd *d)
{
    web *s = d->web;
    if (!s)
        return;
    /* A connection libh2o still holds cannot be closed from outside it; the
     * loop's final walk closes its handle, and what libh2o allocated for it
     * goes with the process. */
    if (s->nconns == 0)
        return;
    log_warn(d, "web view: %u connection(s) still open at exit", s->nconns);
    s->abandoned = 1;
    /* Their handles would keep uv_run going for ever (a browser that does
     * not read its response, a handshake libh2o waits on): the loop is
     * stopped, and main's walk closes every handle left, then runs the loop
     * again until what is on the thread pool has finished and been stored. */
    uv_stop(d->loop);
}

void web_reload_tls(catalogd *d)
{
    web *s = d->web;
    if (!s || s->closing || !s->actx.ssl_ctx)
        return;
    char err[600], what[512];
    if (web_auth_reload_tls(s->auth, err, sizeof err)) {
        log_error(d, "reload: the web view's certificate was not read again: %s (the previous one is still served)",
                  err);
        return;
    }
    /* libh2o reads actx.ssl_ctx at each accept */
    s->actx.ssl_ctx = web_auth_ssl_ctx(s->auth);
    if (web_auth_tls_describe(s->auth, what, sizeof what) == 0)
        log_info(d, "reload: web view certificate %s", what);
}

const char *web_url(const catalogd *d)
{
    return d->web ? ((const web *)d->web)->url : "";
}
