/*
 * proto/text.h — text from outside: which code points are refused on input,
 * and the one escaping used wherever text reaches a terminal, a log or JSON.
 *
 * Refused (and, in output, escaped): control characters — C0 (U+0000–U+001F),
 * DEL (U+007F) and C1 (U+0080–U+009F; U+009B is a CSI, as ESC [ is) — since
 * a terminal obeys them: ESC[2J clears the screen, OSC 8 makes a hidden link,
 * CR overwrites a log line.  Also the bidi embeddings, overrides and isolates
 * (U+202A–U+202E, U+2066–U+2069): they reorder what is displayed after them
 * ("Trojan Source"), so a name or key could look like another one; nothing
 * in a Japanese catalog needs them.  Code-point classes are utf8proc's.
 *
 * Escaped form: \u00XX (\u202e for a bidi control), which reads the same in
 * a terminal and is valid inside a JSON string; a byte that is not UTF-8 is
 * shown as \xNN.  Backslashes are not doubled: the escaping is for safe
 * display, not a reversible encoding.
 */
#ifndef PROTO_TEXT_H
#define PROTO_TEXT_H

#include <stddef.h>
#include <stdint.h>

enum {
    PROTO_TEXT_NL = 1u,       /* check: allow \n and \t; escape: keep them raw */
    PROTO_TEXT_PARTIAL = 2u,  /* escape: leave an incomplete sequence at the end unconsumed */
};

/* 1 if cp is refused in text from outside (see above). */
int proto_text_cp_refused(int32_t cp);

/* 0 if s[0..n) is valid UTF-8 (no NUL) with no refused code point (with
 * PROTO_TEXT_NL, \n and \t are allowed); -1 otherwise, *bad (if non-NULL)
 * set to the offending code point, or -1 for invalid UTF-8. */
int proto_text_check(const char *s, size_t n, unsigned flags, int32_t *bad);

/* Escape s[0..n) into out (at most outcap - 1 bytes and a NUL; outcap > 0),
 * whole characters only.  Returns the bytes written; *used (if non-NULL)
 * gets the input bytes consumed (less than n when out is full, or with
 * PROTO_TEXT_PARTIAL when s ends inside a character).  Output is at most
 * PROTO_TEXT_ESC_MAX(n) bytes. */
#define PROTO_TEXT_ESC_MAX(n) ((n) * 6 + 1)
size_t proto_text_escape(const char *s, size_t n, unsigned flags, char *out, size_t outcap,
                         size_t *used);

/* The escaped form of a NUL-terminated string into out (cut at a character
 * if it does not fit); returns out, so it can be a printf argument. */
const char *proto_text_esc(const char *s, char *out, size_t outcap);

#endif
