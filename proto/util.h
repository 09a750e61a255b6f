/*
 * proto/util.h — small shared helpers: error messages, UTF-8, hex, and the
 * human-checkable form of ids.
 */
#ifndef PROTO_UTIL_H
#define PROTO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "proto/record.h"

/* Format into err (if non-NULL) and return -1, so failures read `return proto_err(...)`. */
int proto_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, no NUL). */
int proto_utf8_valid(const char *s, size_t n);
/* proto_utf8_valid, and *plain: 1 when no character of s starts with a
 * byte below 0x20, 0x7f, 0xc2 or 0xe2 (proto_text_check's fast path). */
int proto_utf8_valid_plain(const char *s, size_t n, int *plain);

/* SHA-256 of b[0..n).  OpenSSL 3's one-shot SHA256() fetches the
 * algorithm from the provider store on every call (~0.45 µs, as much as
 * hashing 64 bytes three times over); this does not, and the daemon hashes
 * every record it takes in and every step of the log chains. */
void proto_sha256(const void *b, size_t n, uint8_t out[32]);

/* Lowercase hex; out must hold 2*n+1 bytes. */
void proto_hex(const uint8_t *b, size_t n, char *out);
/* Parse exactly 2*n hex digits; 0 or -1. */
int proto_unhex(const char *s, uint8_t *out, size_t n);

/* A member id shown to people: base32 (RFC 4648 alphabet) of the 32 bytes,
 * 52 characters in groups of four joined by '-', e.g. "ABCD-EFGH-...".
 * Short form: the first 8 characters, for tables.  Parsing accepts either
 * case and ignores '-' and spaces, so an id read out over the phone works. */
#define PROTO_ID_STR 65    /* 13 groups * 4 + 12 dashes + NUL */
void proto_id_str(const proto_id *id, char out[PROTO_ID_STR]);
void proto_id_short(const proto_id *id, char out[10]);
int  proto_id_parse(const char *s, proto_id *out);

int proto_id_is_zero(const proto_id *id);
/* A hash of all 32 bytes of id under seed (splitmix64's finaliser per
 * word): for tables keyed by ids a peer may choose (an author id is
 * looked at before its signature), seeded per table so chosen ids do not
 * pile up in one run. */
uint64_t proto_id_hash(uint64_t seed, const proto_id *id);

/* Milliseconds since the Unix epoch (wall clock). */
uint64_t proto_now_ms(void);

/* How many threads to split n items over: one per online core, at most
 * max, and none that would get fewer than per_thread_min items (at least 1). */
size_t proto_threads_for(size_t n, size_t max, size_t per_thread_min);

/* "host:port" or "[v6]:port" -> host (NUL-terminated, at most hl - 1
 * bytes) and port 1..65535: 0, or -1 when it is neither. */
int proto_addr_split(const char *a, char *host, size_t hl, int *port);

#endif
