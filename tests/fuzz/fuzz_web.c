/* Fuzz target: the web view's output escaping (daemon/web_html.c, included
 * whole): every string a page shows comes from another member, a browser
 * or the store, and goes out through web_textn (HTML text and attribute
 * values), web_qs (query-string values) and web_link_ext (external links,
 * http(s) only).
 *
 * Promises checked on any input, else abort:
 *  - web_textn: the output is valid UTF-8 with no < > " ' and no control
 *    character but \n and \t, and every & starts one of the five entities
 *    it writes; where the input was valid text, unescaping gives it back.
 *  - web_qs: only unreserved characters and %XX, decoding to the input.
 *  - web_link_ext: an <a> only for what web_url_ok accepts, and then the
 *    href holds no quote, angle bracket or white space, and starts with
 *    http:// or https://. */
#include "daemon/web_html.c"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const char *const entities[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;" };
static const char raw_of[] = { '&', '<', '>', '"', '\'' };

static void check_text(const char *in, size_t n)
{
    web_buf b = { 0 };
    web_textn(&b, in, n);
    CHECK(!b.failed);
    CHECK(b.n == 0 || proto_utf8_valid(b.p, b.n));
    web_buf back = { 0 };   /* the output with the entities read back */
    for (size_t i = 0; i < b.n;) {
        unsigned char c = (unsigned char)b.p[i];
        CHECK(c != '<' && c != '>' && c != '"' && c != '\'');
        CHECK(c >= 0x20 || c == '\n' || c == '\t');
        CHECK(c != 0x7f);
        if (c == '&') {
            size_t k = 0;
            while (k < 5 && strncmp(b.p + i, entities[k], strlen(entities[k])))
                k++;
            CHECK(k < 5 && i + strlen(entities[k]) <= b.n);
            web_put(&back, &raw_of[k], 1);
            i += strlen(entities[k]);
        } else {
            web_put(&back, b.p + i, 1);
            i++;
        }
    }
    /* text the store could hold (valid, no refused code point) comes back whole */
    if (proto_text_check(in, n, PROTO_TEXT_NL, NULL) == 0)
        CHECK(back.n == n && (n == 0 || !memcmp(back.p, in, n)));
    web_buf_free(&b);
    web_buf_free(&back);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_qs(const char *s)
{
    web_buf b = { 0 };
    web_qs(&b, s);
    size_t o = 0, n = strlen(s);
    for (size_t i = 0; i < b.n; i++, o++) {
        char c = b.p[i];
        if (c == '%') {
            CHECK(i + 2 < b.n);
            int hi = hexval(b.p[i + 1]), lo = hexval(b.p[i + 2]);
            CHECK(hi >= 0 && lo >= 0 && o < n && (unsigned char)s[o] == (unsigned)(hi << 4 | lo));
            i += 2;
        } else {
            CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == '_' || c == '~');
            CHECK(o < n && s[o] == c);
        }
    }
    CHECK(o == n);
    web_buf_free(&b);
}

static void check_link(const char *url)
{
    web_buf b = { 0 };
    web_link_ext(&b, url, "公表資料");
    web_put(&b, "", 1);
    int ok = web_url_ok(url);
    const char *a = strstr(b.p, "<a href=\"");
    CHECK(!a == !ok);
    if (a) {
        const char *h = a + 9, *e = strchr(h, '"');
        CHECK(e && (!strncmp(h, "http://", 7) || !strncmp(h, "https://", 8)));
        for (const char *p = h; p < e; p++)
            CHECK((unsigned char)*p > 0x20 && *p != '\'' && *p != '<' && *p != '>');
    }
    web_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    check_text((const char *)data, size);
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;   /* as a C string: up to its first NUL */
    check_qs(s);
    check_link(s);
    free(s);
    return 0;
}
