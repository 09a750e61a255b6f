/*
 * daemon/web_html.c — the web view's output helpers (daemon/web_int.h): the
 * body buffer, HTML and URL escaping, the page frame and its stylesheet,
 * and the catalog's values as staff read them (member names, 和暦 dates).
 *
 * HTML is written by hand: the pages are a few tables and forms, and a C
 * template library would add a language without removing the escaping
 * duty, which stays here in one function (web_textn).
 */
#include "daemon/web_int.h"
#include "catalog/diff.h"
#include "catalog/jp.h"
#include "catalog/schema.h"
#include "proto/limits.h"
#include "proto/text.h"
#include "proto/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ---- */

void web_buf_free(web_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

void web_put(web_buf *b, const void *s, size_t n)
{
    if (b->failed || n == 0)
        return;
    if (b->n + n > NODE_WEB_BODY_MAX) {
        b->failed = 1;
        return;
    }
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        while (cap < b->n + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

void web_raw(web_buf *b, const char *s)
{
    web_put(b, s, strlen(s));
}

static void vformat(web_buf *b, int escape, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        b->failed = 1;
        return;
    }
    char *s = small;
    if ((size_t)n >= sizeof small) {
        if (!(s = malloc((size_t)n + 1))) {
            va_end(ap2);
            b->failed = 1;
            return;
        }
        vsnprintf(s, (size_t)n + 1, fmt, ap2);
    }
    va_end(ap2);
    if (escape)
        web_textn(b, s, (size_t)n);
    else
        web_put(b, s, (size_t)n);
    if (s != small)
        free(s);
}

void web_rawf(web_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(b, 0, fmt, ap);
    va_end(ap);
}

void web_textf(web_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(b, 1, fmt, ap);
    va_end(ap);
}

/* ---- escaping ---- */

/* Length of the UTF-8 sequence at s (at most n bytes), its code point in
 * *cp; 0 when it is not valid UTF-8 (overlong, surrogate, beyond U+10FFFF,
 * cut short). */
static size_t utf8_next(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    int32_t v, min;
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, v = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

void web_textn(web_buf *b, const char *s, size_t n)
{
    static const char fffd[] = "\xef\xbf\xbd";
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0;   /* bytes of s[i - run .. i) to copy as they are */
    size_t i = 0;
    while (i < n) {
        const char *rep = NULL;
        size_t len = 1;
        int32_t cp;
        switch (u[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\n': case '\t': break;   /* kept: multi-line fields show in <pre>-like cells */
        default:
            if (!(len = utf8_next(u + i, n - i, &cp)))
                rep = fffd, len = 1;
            else if (proto_text_cp_refused(cp))
                rep = fffd;
        }
        if (rep) {
            web_put(b, s + i - run, run);
            web_raw(b, rep);
            run = 0;
        } else {
            run += len;
        }
        i += len;
    }
    web_put(b, s + n - run, run);
}

void web_text(web_buf *b, const char *s)
{
    if (s)
        web_textn(b, s, strlen(s));
}

void web_qs(web_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~') {
            web_put(b, p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            web_put(b, e, 3);
        }
    }
}

int web_url_ok(const char *s)
{
    if (!s)
        return 0;
    size_t skip;
    if (!strncmp(s, "https://", 8))
        skip = 8;
    else if (!strncmp(s, "http://", 7))
        skip = 7;
    else
        return 0;
    if (!s[skip] || s[skip] == '/')
        return 0;   /* a host is required */
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\'' || *p == '<' || *p == '>' || *p == '\\' ||
            *p == '`')
            return 0;
    return proto_text_check(s, strlen(s), 0, NULL) == 0;
}

void web_link_ext(web_buf *b, const char *url, const char *text)
{
    if (!web_url_ok(url)) {
        web_text(b, url);
        return;
    }
    web_raw(b, "<a href=\"");
    web_text(b, url);
    web_raw(b, "\" rel=\"noopener noreferrer\">");
    web_text(b, text && *text ? text : url);
    web_raw(b, "</a>");
}

/* ---- the frame ---- */

/* Served as /static/style.css: the CSP allows no inline style.
 * overflow-wrap:anywhere on body: another member's text may hold a word of
 * 200 bytes (a URL of 2,048) with no space to break at; without it that
 * word set a table's width, and the page ran past the window and, printed,
 * past the paper (the evidence sheet's record hash cut off). */
const char web_style_css[] =
    ":root{--fg:#1b1b1b;--muted:#5a5a5a;--line:#d6d6d6;--bg:#fff;--band:#f3f5f8;--accent:#0b4f9c;"
    "--warn:#9a3412;--warnbg:#fff4e5;--ok:#166534;--okbg:#ecfdf3;--bad:#991b1b;--badbg:#fef2f2}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font-family:'Noto Sans CJK JP','Noto Sans JP','Hiragino Sans','Yu Gothic',Meiryo,sans-serif;"
    "color:var(--fg);background:var(--bg);line-height:1.6;font-size:15px;overflow-wrap:anywhere}\n"
    "header{background:var(--accent);color:#fff;padding:.5rem 1.5rem;display:flex;align-items:center;"
    "gap:2rem;flex-wrap:wrap}\n"
    "header .site{font-weight:bold}header .node{opacity:.85;font-size:.9em}\n"
    "nav a{color:#fff;margin-right:1.2rem;text-decoration:none}nav a[aria-current]{text-decoration:underline;"
    "font-weight:bold}\n"
    "main{padding:1rem 1.5rem;max-width:1200px}\n"
    "h1{font-size:1.4rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem;"
    "border-bottom:1px solid var(--line)}\n"
    "table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}\n"
    "th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}\n"
    "th{background:var(--band);font-weight:normal;white-space:nowrap}\n"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".pre{white-space:pre-wrap}\n"
    "form.search{background:var(--band);padding:.8rem 1rem;border:1px solid var(--line);margin-bottom:1rem}\n"
    "form.search fieldset{border:0;margin:0 0 .5rem;padding:0}\n"
    "form.search label{margin-right:1rem;white-space:nowrap}\n"
    "input[type=text],input[type=search],input[type=date],select{font:inherit;padding:.2rem .4rem}\n"
    "input[type=search]{width:28rem;max-width:100%}\n"
    "button{font:inherit;padding:.25rem 1rem}\n"
    ".muted{color:var(--muted)}.count{margin:.5rem 0}\n"
    ".product{border:1px solid var(--line);padding:.5rem 1rem;margin-bottom:1rem}\n"
    ".product h2{border:0;margin:.2rem 0}\n"
    ".status{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.9em;white-space:nowrap}\n"
    ".st-active{background:var(--okbg);color:var(--ok)}.st-expired,.st-suspended{background:var(--warnbg);"
    "color:var(--warn)}.st-revoked{background:var(--badbg);color:var(--bad)}\n"
    ".warn{background:var(--warnbg);color:var(--warn);border-left:4px solid var(--warn);padding:.4rem .8rem;"
    "margin:.4rem 0}\n"
    ".okbox{background:var(--okbg);color:var(--ok);border-left:4px solid var(--ok);padding:.4rem .8rem;"
    "margin:.4rem 0}\n"
    ".error{background:var(--badbg);color:var(--bad);border-left:4px solid var(--bad);padding:.6rem 1rem}\n"
    ".pager a,.pager span{margin-right:.8rem}\n"
    ".hash{font-family:monospace;font-size:.85em;word-break:break-all}\n"
    "footer{color:var(--muted);font-size:.85em;padding:1rem 1.5rem;border-top:1px solid var(--line);"
    "margin-top:2rem}\n"
    "@media print{header nav,form.search,.noprint{display:none}header{background:none;color:#000;"
    "padding:0}body{font-size:11pt}a{color:#000;text-decoration:none}}\n";

typedef struct {
    const char *id, *href, *label;
} nav_item;

static const nav_item nav[] = {
    { "search", "/", "検索" },
    { "new", "/new", "新着" },
    { "members", "/members", "加盟団体" },
};

void web_page_begin(web_req *w, const char *title, const char *current)
{
    catalogd *d = w->d;
    store_info si;
    store_info_get(d->st, &si);
    web_buf *b = &w->out;
    web_raw(b, "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               "<link rel=\"stylesheet\" href=\"/static/style.css\"><title>");
    web_text(b, title);
    web_raw(b, " — ");
    web_text(b, si.has_genesis ? si.alliance : "認定カタログ");
    web_raw(b, "</title></head>\n<body><header><span class=\"site\">");
    web_text(b, si.has_genesis ? si.alliance : "認定カタログ");
    web_raw(b, "</span><span class=\"node\">");
    web_textf(b, "%s %s のノード", d->id.code, d->id.name);
    web_raw(b, "</span>");
    if (w->user[0]) {   /* signed in (web_auth.c) */
        web_raw(b, "<span class=\"user\">");
        web_text(b, w->user);
        web_raw(b, "</span>");
    }
    web_raw(b, "<nav>");
    for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
        web_rawf(b, "<a href=\"%s\"%s>%s</a>", nav[i].href,
                 current && !strcmp(current, nav[i].id) ? " aria-current=\"page\"" : "", nav[i].label);
    }
    web_raw(b, "</nav></header>\n<main>\n");
}

void web_page_end(web_req *w)
{
    web_buf *b = &w->out;
    web_raw(b, "</main>\n<footer>");
    char today[64];
    jp_date t = { w->today / 10000, w->today / 100 % 100, w->today % 100 };
    if (jp_era_date(t, today, sizeof today) == 0)
        web_textf(b, "%s 現在、このノードが保持する連合カタログ（各団体の署名付き記録）の内容です。", today);
    web_raw(b, "</footer>\n</body></html>\n");
}

int web_error(web_req *w, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    web_buf_free(&w->out);
    w->status = status;
    w->type = "text/html; charset=utf-8";
    w->filename[0] = w->filename_ja[0] = 0;
    web_page_begin(w, status == 404 ? "ページがありません" : "エラー", NULL);
    web_raw(&w->out, "<h1>");
    web_text(&w->out, status == 404 ? "ページがありません" : "エラー");
    web_raw(&w->out, "</h1><p class=\"error\">");
    web_text(&w->out, msg);
    web_raw(&w->out, "</p><p><a href=\"/\">検索に戻る</a></p>\n");
    web_page_end(w);
    return 0;
}

/* ---- form parts ---- */

void web_area_checkboxes(web_buf *b, const char *const *all, const char *const *checked, size_t n)
{
    for (size_t i = 0; all[i]; i++) {
        int on = 0;
        for (size_t j = 0; j < n; j++)
            on |= !strcmp(checked[j], all[i]);
        web_raw(b, "<label><input type=\"checkbox\" name=\"area\" value=\"");
        web_text(b, all[i]);
        web_rawf(b, "\"%s> ", on ? " checked" : "");
        web_text(b, all[i]);
        web_raw(b, "</label>");
    }
}

/* ---- the catalog in people's terms ---- */

const char *web_member_label(const web_req *w, const proto_id *id, char *buf, size_t n)
{
    store_member m;
    if (store_member_get(w->d->st, id, &m) == 0) {
        snprintf(buf, n, "%s %s%s", m.code, m.name, store_member_mark(m.status));   /* （脱退）, （除名） */
    } else {
        char s[10];
        proto_id_short(id, s);
        snprintf(buf, n, "%s", s);
    }
    return buf;
}

void web_company(web_buf *b, const proto_record *r)
{
    char buf[PROTO_FIELD_MAX + 1];
    web_text(b, catalog_field_text(r, "company", buf, sizeof buf));
    if (catalog_field_text(r, "corporate_number", buf, sizeof buf)[0]) {
        web_raw(b, "（法人番号 ");
        web_text(b, buf);
        web_raw(b, "）");
    }
}

void web_date_num(web_buf *b, int ymd)
{
    if (!ymd)
        return;
    jp_date d = { ymd / 10000, ymd / 100 % 100, ymd % 100 };
    char era[64], iso[16];
    snprintf(iso, sizeof iso, "%04d-%02d-%02d", d.y, d.m, d.d);
    if (jp_era_date(d, era, sizeof era)) {
        web_text(b, iso);
        return;
    }
    web_rawf(b, "<time datetime=\"%s\" title=\"%s\">", iso, iso);
    web_text(b, era);
    web_raw(b, "</time>");
}

void web_date(web_buf *b, const char *iso)
{
    if (!iso || !*iso)
        return;
    jp_date d;
    char err[128];
    if (strlen(iso) != 10 || jp_date_parse(iso, &d, err, sizeof err)) {
        web_text(b, iso);
        return;
    }
    web_date_num(b, d.y * 10000 + d.m * 100 + d.d);
}

void web_fiscal_year(web_buf *b, long fy)
{
    char era[64];
    if (fy < 1900 || fy > 2999 || jp_era_fiscal_year((int)fy, era, sizeof era)) {
        web_textf(b, "%ld年度", fy);
        return;
    }
    web_raw(b, "<span title=\"");
    web_textf(b, "%ld年度", fy);
    web_raw(b, "\">");
    web_text(b, era);
    web_raw(b, "</span>");
}
