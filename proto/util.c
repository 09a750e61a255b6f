/* proto/util.c — see util.h. */
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP,
 * whose per-call fetch is what proto_sha256 avoids; they remain until 4.0. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "proto/util.h"
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void proto_sha256(const void *b, size_t n, uint8_t out[32])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, b, n);
    SHA256_Final(out, &c);
}

int proto_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* proto_utf8_valid, and with plain non-NULL also whether no character
 * starts with a byte below 0x20, 0x7f, 0xc2 or 0xe2 (what proto_text_check
 * looks up further): continuation bytes (0x80..0xbf) are none of these, so
 * only lead bytes are tested, in the same walk.  Inlined into both callers,
 * so the one without plain tests nothing more. */
static inline int utf8_scan(const char *str, size_t n, int *plain)
{
    int pl = 1;
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned cp;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            pl &= c >= 0x20 && c != 0x7f;
            i++;
            continue;
        }
        pl &= c != 0xc2 && c != 0xe2;
        if ((c & 0xf0) == 0xe0 && n - i >= 3) {
            /* Japanese text is almost all 3-byte sequences, and every
             * string of every record that arrives passes here: the general
             * path's loop below, by bits: below U+0800 is E0 with a second
             * byte under A0, the surrogates are ED with one from A0 */
            unsigned c1 = s[i + 1], c2 = s[i + 2];
            if ((c1 & 0xc0) != 0x80 || (c2 & 0xc0) != 0x80 || (c == 0xe0 && c1 < 0xa0) ||
                (c == 0xed && c1 >= 0xa0))
                return 0;
            i += 3;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        else return 0;
        if (n - i < len)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    if (plain)
        *plain = pl;
    return 1;
}

int proto_utf8_valid(const char *str, size_t n)
{
    return utf8_scan(str, n, NULL);
}

int proto_utf8_valid_plain(const char *str, size_t n, int *plain)
{
    return utf8_scan(str, n, plain);
}

void proto_hex(const uint8_t *b, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int proto_unhex(const char *s, uint8_t *out, size_t n)
{
    if (strlen(s) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0)
            return -1;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return 0;
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* 32 bytes = 256 bits -> 52 base32 characters (the last carries 1 bit). */
static void id_b32(const proto_id *id, char out[53])
{
    unsigned acc = 0, bits = 0, o = 0;
    for (size_t i = 0; i < PROTO_ID_LEN; i++) {
        acc = (acc << 8) | id->b[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits)
        out[o++] = b32[(acc << (5 - bits)) & 31];
    out[o] = 0;
}

void proto_id_str(const proto_id *id, char out[PROTO_ID_STR])
{
    char raw[53];
    size_t o = 0;
    id_b32(id, raw);
    for (size_t i = 0; i < 52; i++) {
        if (i && i % 4 == 0)
            out[o++] = '-';
        out[o++] = raw[i];
    }
    out[o] = 0;
}

void proto_id_short(const proto_id *id, char out[10])
{
    char raw[53];
    id_b32(id, raw);
    memcpy(out, raw, 4);
    out[4] = '-';
    memcpy(out + 5, raw + 4, 4);
    out[9] = 0;
}

int proto_id_parse(const char *s, proto_id *out)
{
    char raw[53];
    size_t o = 0;
    for (; *s; s++) {
        char c = *s;
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (!strchr(b32, c) || o >= 52)
            return -1;
        raw[o++] = c;
    }
    if (o != 52)
        return -1;
    unsigned acc = 0, bits = 0;
    size_t ob = 0;
    for (size_t i = 0; i < 52; i++) {
        acc = (acc << 5) | (unsigned)(strchr(b32, raw[i]) - b32);
        bits += 5;
        if (bits >= 8) {
            out->b[ob++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
        acc &= 0xff;   /* keep acc small; at most 12 live bits */
    }
    /* the last character carries one data bit and four zero bits */
    if (acc & ((1u << bits) - 1))
        return -1;
    return ob == PROTO_ID_LEN ? 0 : -1;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t proto_id_hash(uint64_t seed, const proto_id *id)
{
    uint64_t h = seed, w;
    for (int i = 0; i < 4; i++) {
        memcpy(&w, id->b + 8 * i, 8);
        h = mix64(h ^ w);
    }
    return h;
}

int proto_id_is_zero(const proto_id *id)
{
    static const proto_id z;
    return memcmp(id, &z, sizeof z) == 0;
}

uint64_t proto_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t proto_threads_for(size_t n, size_t max, size_t per_thread_min)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nt = cores > 1 ? (size_t)cores : 1;
    if (nt > max)
        nt = max;
    size_t fit = per_thread_min ? n / per_thread_min : n;
    if (nt > fit)
        nt = fit ? fit : 1;
    return nt;
}

int proto_addr_split(const char *a, char *host, size_t hl, int *port)
{
    const char *c;
    if (a[0] == '[') {
        const char *e = strchr(a, ']');
        if (!e || e[1] != ':' || (size_t)(e - a - 1) >= hl)
            return -1;
        memcpy(host, a + 1, (size_t)(e - a - 1));
        host[e - a - 1] = 0;
        c = e + 1;
    } else {
        c = strrchr(a, ':');
        if (!c || (size_t)(c - a) >= hl)
            return -1;
        memcpy(host, a, (size_t)(c - a));
        host[c - a] = 0;
    }
    char *end;
    long pn = strtol(c + 1, &end, 10);
    if (*end || pn <= 0 || pn > 65535)
        return -1;
    *port = (int)pn;
    return 0;
}
