/* proto/text.c — see text.h. */
#include "proto/text.h"
#include "proto/util.h"

#include <utf8proc.h>
#include <stdio.h>
#include <string.h>

static int is_bidi_control(int32_t cp)
{
    /* LRE RLE PDF LRO RLO and LRI RLI FSI PDI: the explicit formatting
     * characters of UAX #9, by their bidi class rather than a table. */
    switch (utf8proc_get_property(cp)->bidi_class) {
    case UTF8PROC_BIDI_CLASS_LRE: case UTF8PROC_BIDI_CLASS_RLE: case UTF8PROC_BIDI_CLASS_PDF:
    case UTF8PROC_BIDI_CLASS_LRO: case UTF8PROC_BIDI_CLASS_RLO:
    case UTF8PROC_BIDI_CLASS_LRI: case UTF8PROC_BIDI_CLASS_RLI: case UTF8PROC_BIDI_CLASS_FSI:
    case UTF8PROC_BIDI_CLASS_PDI:
        return 1;
    default:
        return 0;
    }
}

int proto_text_cp_refused(int32_t cp)
{
    /* Cc is exactly C0, DEL and C1 */
    return utf8proc_category(cp) == UTF8PROC_CATEGORY_CC || is_bidi_control(cp);
}

static int allowed_nl(int32_t cp, unsigned flags)
{
    return (flags & PROTO_TEXT_NL) && (cp == '\n' || cp == '\t');
}

int proto_text_check(const char *s, size_t n, unsigned flags, int32_t *bad)
{
    size_t i = 0;
    if (bad)
        *bad = -1;
    /* Fast path, exact: in valid UTF-8 every refused code point has a byte
     * below 0x20, or 0x7f, or starts with 0xc2 (C1: U+0080..U+009F) or
     * 0xe2 (the bidi controls U+202A..U+202E, U+2066..U+2069).  Text with
     * none of these (most Japanese and ASCII text) needs no lookup; the
     * rest is decided by utf8proc's tables below.  Every record that
     * arrives runs through here, once per string: the UTF-8 check finds
     * those bytes in its own walk (one walk, not two). */
    int plain;
    if (!proto_utf8_valid_plain(s, n, &plain))
        return -1;
    if (plain)
        return 0;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0)
            return -1;
        if (proto_text_cp_refused(cp) && !allowed_nl(cp, flags)) {
            if (bad)
                *bad = cp;
            return -1;
        }
        i += (size_t)k;
    }
    return 0;
}

/* Bytes a lead byte announces, or 0 if it is not one. */
static size_t seq_len(unsigned char c)
{
    return c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
           c >= 0xf0 && c <= 0xf4 ? 4 : 0;
}

size_t proto_text_escape(const char *s, size_t n, unsigned flags, char *out, size_t outcap,
                         size_t *used)
{
    size_t i = 0, o = 0;
    while (i < n) {
        size_t l = seq_len((unsigned char)s[i]);
        char esc[8];
        size_t el;
        if (l && n - i < l && (flags & PROTO_TEXT_PARTIAL)) {
            /* possibly the start of a character the next call completes */
            int prefix = 1;
            for (size_t k = i + 1; k < n; k++)
                prefix &= ((unsigned char)s[k] & 0xc0) == 0x80;
            if (prefix)
                break;
        }
        utf8proc_int32_t cp = -1;
        if (l && n - i >= l && s[i] && proto_utf8_valid(s + i, l))
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)l, &cp);
        if (cp < 0) {
            el = (size_t)snprintf(esc, sizeof esc, "\\x%02x", (unsigned char)s[i]);
            l = 1;
        } else if (proto_text_cp_refused(cp) && !allowed_nl(cp, flags)) {
            el = (size_t)snprintf(esc, sizeof esc, "\\u%04x", (unsigned)cp);
        } else {
            memcpy(esc, s + i, l);
            el = l;
        }
        if (o + el >= outcap)
            break;
        memcpy(out + o, esc, el);
        o += el;
        i += l;
    }
    out[o] = 0;
    if (used)
        *used = i;
    return o;
}

const char *proto_text_esc(const char *s, char *out, size_t outcap)
{
    proto_text_escape(s, strlen(s), 0, out, outcap, NULL);
    return out;
}
