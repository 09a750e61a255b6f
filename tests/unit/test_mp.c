/* tests/unit/test_mp.c — proto/mp (strict msgpack reader) and proto/frame
 * (frames, map messages, the self-counting map builder).
 *
 * Inputs are written out byte by byte (from the msgpack spec) or packed with
 * msgpack-c; expected values come from the spec, never from the reader.
 * Every input handed to the reader lives in a malloc'd block of exactly its
 * length, so an over-read shows up under AddressSanitizer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include "proto/mp.h"
#include "proto/frame.h"

/* ---- helpers ---- */

/* An exact-size heap copy of some bytes (freed by the caller). */
static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

typedef struct {
    uint8_t *b;
    size_t n, cap;
} bytes;

static void put(bytes *x, const void *p, size_t n)
{
    if (x->n + n > x->cap) {
        x->cap = (x->n + n) * 2 + 16;
        x->b = realloc(x->b, x->cap);
        assert_non_null(x->b);
    }
    memcpy(x->b + x->n, p, n);
    x->n += n;
}

static void put1(bytes *x, uint8_t c)
{
    put(x, &c, 1);
}

static void put_be(bytes *x, uint64_t v, int w)
{
    for (int i = w - 1; i >= 0; i--)
        put1(x, (uint8_t)(v >> (8 * i)));
}

static void put_rep(bytes *x, uint8_t c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put1(x, c);
}

#define assert_err_has(err, needle) do {                                  \
        const char *e_ = (err);                                           \
        if (!e_ || !strstr(e_, (needle)))                                 \
            fail_msg("error \"%s\" lacks \"%s\"", e_ ? e_ : "(null)", (needle)); \
    } while (0)

/* ---- peek: the type of every possible first byte ---- */

static enum proto_mp_type expected_type(unsigned c)
{
    /* msgpack spec, format overview table */
    if (c <= 0x7f) return PROTO_MP_UINT;            /* positive fixint */
    if (c <= 0x8f) return PROTO_MP_MAP;             /* fixmap */
    if (c <= 0x9f) return PROTO_MP_ARRAY;           /* fixarray */
    if (c <= 0xbf) return PROTO_MP_STR;             /* fixstr */
    if (c >= 0xe0) return PROTO_MP_INT;             /* negative fixint */
    static const enum proto_mp_type t[0x20] = {
        PROTO_MP_NIL, PROTO_MP_NONE, PROTO_MP_BOOL, PROTO_MP_BOOL,     /* c0 c1 c2 c3 */
        PROTO_MP_BIN, PROTO_MP_BIN, PROTO_MP_BIN,                      /* c4 c5 c6 */
        PROTO_MP_EXT, PROTO_MP_EXT, PROTO_MP_EXT,                      /* c7 c8 c9 */
        PROTO_MP_FLOAT, PROTO_MP_FLOAT,                                /* ca cb */
        PROTO_MP_UINT, PROTO_MP_UINT, PROTO_MP_UINT, PROTO_MP_UINT,    /* cc-cf */
        PROTO_MP_INT, PROTO_MP_INT, PROTO_MP_INT, PROTO_MP_INT,        /* d0-d3 */
        PROTO_MP_EXT, PROTO_MP_EXT, PROTO_MP_EXT, PROTO_MP_EXT, PROTO_MP_EXT, /* d4-d8 */
        PROTO_MP_STR, PROTO_MP_STR, PROTO_MP_STR,                      /* d9 da db */
        PROTO_MP_ARRAY, PROTO_MP_ARRAY,                                /* dc dd */
        PROTO_MP_MAP, PROTO_MP_MAP,                                    /* de df */
    };
    return t[c - 0xc0];
}

static void peek_every_byte(void **state)
{
    for (unsigned c = 0; c < 256; c++) {
        uint8_t *b = dup_bytes((uint8_t[]){ (uint8_t)c }, 1);
        proto_rd r;
        proto_rd_init(&r, b, 1);
        if (proto_rd_peek(&r) != expected_type(c))
            fail_msg("peek(0x%02x) = %d, expected %d", c, proto_rd_peek(&r), expected_type(c));
        /* peek does not move */
        assert_ptr_equal(r.p, b);
        assert_null(r.err);
        free(b);
    }
    /* nothing left: NONE */
    proto_rd r;
    proto_rd_init(&r, "", 0);
    assert_int_equal(proto_rd_peek(&r), PROTO_MP_NONE);
}

/* ---- integers ---- */

static int rd_uint_bytes(const uint8_t *in, size_t n, uint64_t *v, size_t *used)
{
    uint8_t *b = dup_bytes(in, n);
    proto_rd r;
    proto_rd_init(&r, b, n);
    int rc = proto_rd_uint(&r, v);
    *used = (size_t)(r.p - b);
    if (rc)
        assert_non_null(r.err);
    free(b);
    return rc;
}

static int rd_int_bytes(const uint8_t *in, size_t n, int64_t *v, size_t *used)
{
    uint8_t *b = dup_bytes(in, n);
    proto_rd r;
    proto_rd_init(&r, b, n);
    int rc = proto_rd_int(&r, v);
    *used = (size_t)(r.p - b);
    if (rc)
        assert_non_null(r.err);
    free(b);
    return rc;
}

#define U(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

static void uint_forms(void **state)
{
    uint64_t v;
    size_t used;
    assert_int_equal(rd_uint_bytes(U(0x00), &v, &used), 0);
    assert_true(v == 0 && used == 1);
    assert_int_equal(rd_uint_bytes(U(0x7f), &v, &used), 0);
    assert_true(v == 127 && used == 1);
    assert_int_equal(rd_uint_bytes(U(0xcc, 0xff), &v, &used), 0);
    assert_true(v == 255 && used == 2);
    assert_int_equal(rd_uint_bytes(U(0xcd, 0x12, 0x34), &v, &used), 0);
    assert_true(v == 0x1234 && used == 3);
    assert_int_equal(rd_uint_bytes(U(0xce, 0xde, 0xad, 0xbe, 0xef), &v, &used), 0);
    assert_true(v == 0xdeadbeefu && used == 5);
    assert_int_equal(rd_uint_bytes(U(0xcf, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08), &v, &used), 0);
    assert_true(v == 0x0102030405060708ull && used == 9);
    /* the whole uint64 range, including above INT64_MAX */
    assert_int_equal(rd_uint_bytes(U(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), &v, &used), 0);
    assert_true(v == UINT64_MAX && used == 9);
    /* signed encodings of non-negative values are integers too */
    assert_int_equal(rd_uint_bytes(U(0xd0, 0x05), &v, &used), 0);
    assert_true(v == 5 && used == 2);
    /* negatives are refused, and the cursor does not move */
    assert_int_equal(rd_uint_bytes(U(0xff), &v, &used), -1);
    assert_int_equal(used, 0);
    assert_int_equal(rd_uint_bytes(U(0xd0, 0xff), &v, &used), -1);
    assert_int_equal(used, 0);
    assert_int_equal(rd_uint_bytes(U(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), &v, &used), -1);
    /* not integers */
    assert_int_equal(rd_uint_bytes(U(0xc0), &v, &used), -1);
    assert_int_equal(rd_uint_bytes(U(0xc3), &v, &used), -1);
    assert_int_equal(rd_uint_bytes(U(0xa1, 'x'), &v, &used), -1);
    assert_int_equal(rd_uint_bytes(U(0xca, 0x3f, 0x80, 0, 0), &v, &used), -1);
    assert_int_equal(rd_uint_bytes(U(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0), &v, &used), -1);
    assert_int_equal(rd_uint_bytes(U(0xc1), &v, &used), -1);
}

static void int_forms(void **state)
{
    int64_t v;
    size_t used;
    assert_int_equal(rd_int_bytes(U(0x05), &v, &used), 0);
    assert_true(v == 5 && used == 1);
    assert_int_equal(rd_int_bytes(U(0xff), &v, &used), 0);
    assert_true(v == -1 && used == 1);
    assert_int_equal(rd_int_bytes(U(0xe0), &v, &used), 0);
    assert_true(v == -32 && used == 1);
    assert_int_equal(rd_int_bytes(U(0xd0, 0x80), &v, &used), 0);
    assert_true(v == -128 && used == 2);
    assert_int_equal(rd_int_bytes(U(0xd0, 0x7f), &v, &used), 0);
    assert_true(v == 127 && used == 2);
    assert_int_equal(rd_int_bytes(U(0xd1, 0x80, 0x00), &v, &used), 0);
    assert_true(v == -32768 && used == 3);
    assert_int_equal(rd_int_bytes(U(0xd1, 0xff, 0xfe), &v, &used), 0);
    assert_true(v == -2 && used == 3);
    assert_int_equal(rd_int_bytes(U(0xd2, 0x80, 0, 0, 0), &v, &used), 0);
    assert_true(v == INT32_MIN && used == 5);
    assert_int_equal(rd_int_bytes(U(0xd2, 0x7f, 0xff, 0xff, 0xff), &v, &used), 0);
    assert_true(v == INT32_MAX && used == 5);
    assert_int_equal(rd_int_bytes(U(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0), &v, &used), 0);
    assert_true(v == INT64_MIN && used == 9);
    assert_int_equal(rd_int_bytes(U(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd), &v, &used), 0);
    assert_true(v == -3 && used == 9);
    assert_int_equal(rd_int_bytes(U(0xcc, 0xc8), &v, &used), 0);
    assert_true(v == 200 && used == 2);
    assert_int_equal(rd_int_bytes(U(0xcd, 0xff, 0xff), &v, &used), 0);
    assert_true(v == 65535 && used == 3);
    assert_int_equal(rd_int_bytes(U(0xce, 0xff, 0xff, 0xff, 0xff), &v, &used), 0);
    assert_true(v == 4294967295LL && used == 5);
    assert_int_equal(rd_int_bytes(U(0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), &v, &used), 0);
    assert_true(v == INT64_MAX && used == 9);
    /* a uint64 above INT64_MAX does not fit */
    assert_int_equal(rd_int_bytes(U(0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0), &v, &used), -1);
    assert_int_equal(used, 0);
    /* not integers */
    assert_int_equal(rd_int_bytes(U(0xc0), &v, &used), -1);
    assert_int_equal(rd_int_bytes(U(0xc2), &v, &used), -1);
    assert_int_equal(rd_int_bytes(U(0xca, 0, 0, 0, 0), &v, &used), -1);
    assert_int_equal(rd_int_bytes(U(0x90), &v, &used), -1);
    assert_int_equal(rd_int_bytes(U(0xd4, 0x01, 0x00), &v, &used), -1);
}

/* ---- nil / bool ---- */

static void nil_bool(void **state)
{
    uint8_t *b = dup_bytes((uint8_t[]){ 0xc0, 0xc2, 0xc3, 0xc0 }, 4);
    proto_rd r;
    int v = 42;
    proto_rd_init(&r, b, 4);
    assert_int_equal(proto_rd_nil(&r), 0);
    assert_int_equal(proto_rd_bool(&r, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(proto_rd_bool(&r, &v), 0);
    assert_int_equal(v, 1);
    /* nil is not a bool */
    assert_int_equal(proto_rd_bool(&r, &v), -1);
    assert_err_has(r.err, "bool");
    free(b);

    b = dup_bytes((uint8_t[]){ 0x00 }, 1);
    proto_rd_init(&r, b, 1);
    assert_int_equal(proto_rd_nil(&r), -1);
    assert_err_has(r.err, "nil");
    proto_rd_init(&r, b, 1);
    assert_int_equal(proto_rd_bool(&r, &v), -1);
    free(b);

    proto_rd_init(&r, "", 0);
    assert_int_equal(proto_rd_nil(&r), -1);
    assert_err_has(r.err, "truncated");
}

/* ---- str / bin ---- */

static void str_forms(void **state)
{
    const char *s;
    uint32_t n;
    proto_rd r;
    bytes x = { 0 };

    /* fixstr: 0xa0 | len, empty and 31 bytes */
    put1(&x, 0xa0);
    put1(&x, 0xa3); put(&x, "abc", 3);
    put1(&x, 0xbf); put_rep(&x, 'q', 31);
    /* str8, str16, str32 */
    put1(&x, 0xd9); put1(&x, 40); put_rep(&x, 'e', 40);
    put1(&x, 0xda); put_be(&x, 300, 2); put_rep(&x, 's', 300);
    put1(&x, 0xdb); put_be(&x, 70000, 4); put_rep(&x, 'l', 70000);
    /* str8 of length 0 (non-minimal, still a str) */
    put1(&x, 0xd9); put1(&x, 0);

    uint8_t *b = dup_bytes(x.b, x.n);
    proto_rd_init(&r, b, x.n);
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(s, "abc", 3);
    assert_ptr_equal(s, (const char *)b + 2);   /* zero copy */
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 31);
    assert_true(s[0] == 'q' && s[30] == 'q');
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 40);
    assert_true(s[0] == 'e' && s[39] == 'e');
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 300);
    assert_true(s[0] == 's' && s[299] == 's');
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 70000);
    assert_true(s[0] == 'l' && s[69999] == 'l');
    assert_int_equal(proto_rd_str(&r, &s, &n), 0);
    assert_int_equal(n, 0);
    assert_true(proto_rd_done(&r));
    free(b);
    free(x.b);

    /* a bin is not a str, nor is an int */
    b = dup_bytes((uint8_t[]){ 0xc4, 0x01, 'x' }, 3);
    proto_rd_init(&r, b, 3);
    assert_int_equal(proto_rd_str(&r, &s, &n), -1);
    assert_err_has(r.err, "str");
    assert_ptr_equal(r.p, b);
    free(b);
}

static void bin_forms(void **state)
{
    const uint8_t *v;
    uint32_t n;
    proto_rd r;
    bytes x = { 0 };
    put1(&x, 0xc4); put1(&x, 0);
    put1(&x, 0xc4); put1(&x, 3); put(&x, "\x01\x00\x02", 3);
    put1(&x, 0xc5); put_be(&x, 256, 2); put_rep(&x, 0xaa, 256);
    put1(&x, 0xc6); put_be(&x, 65537, 4); put_rep(&x, 0xbb, 65537);
    uint8_t *b = dup_bytes(x.b, x.n);
    proto_rd_init(&r, b, x.n);
    assert_int_equal(proto_rd_bin(&r, &v, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(proto_rd_bin(&r, &v, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "\x01\x00\x02", 3);
    assert_int_equal(proto_rd_bin(&r, &v, &n), 0);
    assert_int_equal(n, 256);
    assert_true(v[0] == 0xaa && v[255] == 0xaa);
    assert_int_equal(proto_rd_bin(&r, &v, &n), 0);
    assert_int_equal(n, 65537);
    assert_true(v[0] == 0xbb && v[65536] == 0xbb);
    assert_true(proto_rd_done(&r));
    free(b);
    free(x.b);

    /* a str is not a bin; there is no "fixbin" */
    b = dup_bytes((uint8_t[]){ 0xa1, 'x', 0x01 }, 3);
    proto_rd_init(&r, b, 3);
    assert_int_equal(proto_rd_bin(&r, &v, &n), -1);
    assert_err_has(r.err, "bin");
    proto_rd_init(&r, b + 2, 1);
    assert_int_equal(proto_rd_bin(&r, &v, &n), -1);
    free(b);
}

static void strcpy_binfix(void **state)
{
    char out[8];
    uint8_t id[4];
    proto_rd r;
    uint8_t *b;

    /* exactly fits: 7 chars + NUL */
    b = dup_bytes((uint8_t[]){ 0xa7, 'a', 'b', 'c', 'd', 'e', 'f', 'g' }, 8);
    proto_rd_init(&r, b, 8);
    memset(out, 'X', sizeof out);
    assert_int_equal(proto_rd_strcpy(&r, out, sizeof out), 0);
    assert_string_equal(out, "abcdefg");
    /* one byte too few */
    proto_rd_init(&r, b, 8);
    assert_int_equal(proto_rd_strcpy(&r, out, 7), -1);
    assert_err_has(r.err, "too long");
    free(b);

    /* NUL inside */
    b = dup_bytes((uint8_t[]){ 0xa3, 'a', 0, 'c' }, 4);
    proto_rd_init(&r, b, 4);
    assert_int_equal(proto_rd_strcpy(&r, out, sizeof out), -1);
    assert_err_has(r.err, "NUL");
    free(b);

    /* empty */
    b = dup_bytes((uint8_t[]){ 0xa0 }, 1);
    proto_rd_init(&r, b, 1);
    out[0] = 'X';
    assert_int_equal(proto_rd_strcpy(&r, out, 1), 0);
    assert_string_equal(out, "");
    free(b);

    /* binfix: exact length only */
    b = dup_bytes((uint8_t[]){ 0xc4, 4, 1, 2, 3, 4 }, 6);
    proto_rd_init(&r, b, 6);
    assert_int_equal(proto_rd_binfix(&r, id, 4), 0);
    assert_memory_equal(id, "\x01\x02\x03\x04", 4);
    proto_rd_init(&r, b, 6);
    assert_int_equal(proto_rd_binfix(&r, id, 3), -1);
    assert_err_has(r.err, "length");
    proto_rd_init(&r, b, 6);
    assert_int_equal(proto_rd_binfix(&r, id, 5), -1);
    free(b);
}

/* ---- arrays / maps ---- */

static void array_map_forms(void **state)
{
    uint32_t n;
    int64_t v;
    proto_rd r;
    bytes x = { 0 };
    /* fixarray [] and [1,2]; array16 of 3; array32 of 2 */
    put1(&x, 0x90);
    put1(&x, 0x92); put1(&x, 1); put1(&x, 2);
    put1(&x, 0xdc); put_be(&x, 3, 2); put1(&x, 7); put1(&x, 8); put1(&x, 9);
    put1(&x, 0xdd); put_be(&x, 2, 4); put1(&x, 0xc0); put1(&x, 0xc0);
    /* fixmap {} and {"a":1}; map16 of 1; map32 of 1 */
    put1(&x, 0x80);
    put1(&x, 0x81); put1(&x, 0xa1); put1(&x, 'a'); put1(&x, 1);
    put1(&x, 0xde); put_be(&x, 1, 2); put1(&x, 0xa1); put1(&x, 'b'); put1(&x, 2);
    put1(&x, 0xdf); put_be(&x, 1, 4); put1(&x, 0xa1); put1(&x, 'c'); put1(&x, 3);
    uint8_t *b = dup_bytes(x.b, x.n);
    proto_rd_init(&r, b, x.n);
    assert_int_equal(proto_rd_array(&r, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(proto_rd_array(&r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(proto_rd_int(&r, &v), 0); assert_int_equal(v, 1);
    assert_int_equal(proto_rd_int(&r, &v), 0); assert_int_equal(v, 2);
    assert_int_equal(proto_rd_array(&r, &n), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(proto_rd_int(&r, &v), 0);
        assert_int_equal(v, 7 + i);
    }
    assert_int_equal(proto_rd_array(&r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(proto_rd_nil(&r), 0);
    assert_int_equal(proto_rd_nil(&r), 0);
    const char *want = "abc";
    assert_int_equal(proto_rd_map(&r, &n), 0);
    assert_int_equal(n, 0);
    for (int i = 0; i < 3; i++) {
        const char *k;
        uint32_t kl;
        assert_int_equal(proto_rd_map(&r, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(proto_rd_str(&r, &k, &kl), 0);
        assert_int_equal(kl, 1);
        assert_int_equal(k[0], want[i]);
        assert_int_equal(proto_rd_int(&r, &v), 0);
        assert_int_equal(v, i + 1);
    }
    assert_true(proto_rd_done(&r));
    free(b);
    free(x.b);

    /* a map is not an array and vice versa */
    b = dup_bytes((uint8_t[]){ 0x80, 0x90 }, 2);
    proto_rd_init(&r, b, 2);
    assert_int_equal(proto_rd_array(&r, &n), -1);
    assert_err_has(r.err, "array");
    proto_rd_init(&r, b + 1, 1);
    assert_int_equal(proto_rd_map(&r, &n), -1);
    assert_err_has(r.err, "map");
    free(b);
}

/* ---- sticky errors ---- */

static void errors_are_sticky(void **state)
{
    uint8_t *b = dup_bytes((uint8_t[]){ 0xc0, 0x01, 0x02 }, 3);
    proto_rd r;
    uint64_t u;
    proto_rd_init(&r, b, 3);
    assert_int_equal(proto_rd_uint(&r, &u), -1);   /* nil is not a uint */
    const char *first = r.err;
    assert_non_null(first);
    /* valid-looking reads after the failure fail too and keep the first reason */
    assert_int_equal(proto_rd_nil(&r), -1);
    assert_int_equal(proto_rd_skip(&r, 4), -1);
    assert_ptr_equal(r.err, first);
    assert_int_equal(proto_rd_peek(&r), PROTO_MP_NONE);
    assert_false(proto_rd_done(&r));
    free(b);

    /* done means: no error and nothing left */
    b = dup_bytes((uint8_t[]){ 0x01 }, 1);
    proto_rd_init(&r, b, 1);
    assert_false(proto_rd_done(&r));
    assert_int_equal(proto_rd_uint(&r, &u), 0);
    assert_true(proto_rd_done(&r));
    free(b);
}

/* ---- a value of every kind, then truncated at every byte ---- */

static void build_everything(bytes *x)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char s300[300], s40[40];
    uint8_t b300[300];
    memset(s300, 'z', sizeof s300);
    memset(s40, 'y', sizeof s40);
    memset(b300, 0x5a, sizeof b300);
    msgpack_pack_array(&pk, 20);
    msgpack_pack_nil(&pk);                         /* 0 */
    msgpack_pack_true(&pk);                        /* 1 */
    msgpack_pack_false(&pk);                       /* 2 */
    msgpack_pack_uint64(&pk, 5);                   /* 3 fixint */
    msgpack_pack_uint64(&pk, 200);                 /* 4 uint8 */
    msgpack_pack_uint64(&pk, 60000);               /* 5 uint16 */
    msgpack_pack_uint64(&pk, 4000000000u);         /* 6 uint32 */
    msgpack_pack_uint64(&pk, UINT64_MAX);          /* 7 uint64 */
    msgpack_pack_int64(&pk, -3);                   /* 8 negfix */
    msgpack_pack_int64(&pk, -100);                 /* 9 int8 */
    msgpack_pack_int64(&pk, -30000);               /* 10 int16 */
    msgpack_pack_int64(&pk, -2000000000);          /* 11 int32 */
    msgpack_pack_int64(&pk, INT64_MIN);            /* 12 int64 */
    msgpack_pack_str(&pk, 2);                      /* 13 fixstr */
    msgpack_pack_str_body(&pk, "hi", 2);
    msgpack_pack_str(&pk, 40);                     /* 14 str8 */
    msgpack_pack_str_body(&pk, s40, 40);
    msgpack_pack_str(&pk, 300);                    /* 15 str16 */
    msgpack_pack_str_body(&pk, s300, 300);
    msgpack_pack_bin(&pk, 3);                      /* 16 bin8 */
    msgpack_pack_bin_body(&pk, "\x00\x01\x02", 3);
    msgpack_pack_bin(&pk, 300);                    /* 17 bin16 */
    msgpack_pack_bin_body(&pk, b300, 300);
    msgpack_pack_map(&pk, 1);                      /* 18 {"k": [1, {"n": nil}]} */
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "k", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "n", 1);
    msgpack_pack_nil(&pk);
    put(x, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    /* 19: the wide forms msgpack-c never picks for small values */
    put1(x, 0x94);
    put1(x, 0xdb); put_be(x, 1, 4); put1(x, 'w');          /* str32 */
    put1(x, 0xc6); put_be(x, 2, 4); put1(x, 9); put1(x, 8); /* bin32 */
    put1(x, 0xdd); put_be(x, 1, 4); put1(x, 0x07);          /* array32 [7] */
    put1(x, 0xdf); put_be(x, 1, 4);                         /* map32 {"m": int16 -2} */
    put1(x, 0xa1); put1(x, 'm'); put1(x, 0xd1); put_be(x, 0xfffe, 2);
}

/* Read build_everything()'s value with typed reads, checking every value.
 * Returns 0 when all of it was read, -1 at the first failure. */
static int read_everything(proto_rd *r)
{
    uint32_t n, l;
    uint64_t u;
    int64_t i;
    int bo;
    const char *s;
    const uint8_t *b;
#define T(call) do { if (call) return -1; } while (0)
    T(proto_rd_array(r, &n)); assert_int_equal(n, 20);
    T(proto_rd_nil(r));
    T(proto_rd_bool(r, &bo)); assert_int_equal(bo, 1);
    T(proto_rd_bool(r, &bo)); assert_int_equal(bo, 0);
    T(proto_rd_uint(r, &u)); assert_true(u == 5);
    T(proto_rd_uint(r, &u)); assert_true(u == 200);
    T(proto_rd_uint(r, &u)); assert_true(u == 60000);
    T(proto_rd_uint(r, &u)); assert_true(u == 4000000000u);
    T(proto_rd_uint(r, &u)); assert_true(u == UINT64_MAX);
    T(proto_rd_int(r, &i)); assert_true(i == -3);
    T(proto_rd_int(r, &i)); assert_true(i == -100);
    T(proto_rd_int(r, &i)); assert_true(i == -30000);
    T(proto_rd_int(r, &i)); assert_true(i == -2000000000);
    T(proto_rd_int(r, &i)); assert_true(i == INT64_MIN);
    T(proto_rd_str(r, &s, &l)); assert_true(l == 2 && !memcmp(s, "hi", 2));
    T(proto_rd_str(r, &s, &l)); assert_true(l == 40 && s[39] == 'y');
    T(proto_rd_str(r, &s, &l)); assert_true(l == 300 && s[299] == 'z');
    T(proto_rd_bin(r, &b, &l)); assert_true(l == 3 && b[2] == 2);
    T(proto_rd_bin(r, &b, &l)); assert_true(l == 300 && b[299] == 0x5a);
    T(proto_rd_map(r, &n)); assert_int_equal(n, 1);
    T(proto_rd_str(r, &s, &l)); assert_true(l == 1 && s[0] == 'k');
    T(proto_rd_array(r, &n)); assert_int_equal(n, 2);
    T(proto_rd_uint(r, &u)); assert_true(u == 1);
    T(proto_rd_map(r, &n)); assert_int_equal(n, 1);
    T(proto_rd_str(r, &s, &l)); assert_true(l == 1 && s[0] == 'n');
    T(proto_rd_nil(r));
    T(proto_rd_array(r, &n)); assert_int_equal(n, 4);
    T(proto_rd_str(r, &s, &l)); assert_true(l == 1 && s[0] == 'w');
    T(proto_rd_bin(r, &b, &l)); assert_true(l == 2 && b[0] == 9 && b[1] == 8);
    T(proto_rd_array(r, &n)); assert_int_equal(n, 1);
    T(proto_rd_uint(r, &u)); assert_true(u == 7);
    T(proto_rd_map(r, &n)); assert_int_equal(n, 1);
    T(proto_rd_str(r, &s, &l)); assert_true(l == 1 && s[0] == 'm');
    T(proto_rd_int(r, &i)); assert_true(i == -2);
#undef T
    return 0;
}

static void every_type_and_truncation(void **state)
{
    bytes x = { 0 };
    build_everything(&x);
    proto_rd r;

    /* whole: typed reads and skip both consume exactly everything */
    uint8_t *b = dup_bytes(x.b, x.n);
    proto_rd_init(&r, b, x.n);
    assert_int_equal(read_everything(&r), 0);
    assert_true(proto_rd_done(&r));
    proto_rd_init(&r, b, x.n);
    assert_int_equal(proto_rd_skip(&r, 8), 0);
    assert_true(proto_rd_done(&r));
    free(b);

    /* every proper prefix fails both ways, never reads past its end */
    for (size_t len = 0; len < x.n; len++) {
        b = dup_bytes(x.b, len);
        proto_rd_init(&r, b, len);
        if (read_everything(&r) == 0)
            fail_msg("typed read of %zu/%zu bytes succeeded", len, x.n);
        assert_non_null(r.err);
        assert_true(r.p >= b && r.p <= b + len);
        proto_rd_init(&r, b, len);
        if (proto_rd_skip(&r, 8) == 0)
            fail_msg("skip of %zu/%zu bytes succeeded", len, x.n);
        assert_non_null(r.err);
        assert_true(r.p >= b && r.p <= b + len);
        free(b);
    }
    free(x.b);
}

/* Each single value truncated at each position (header and payload). */
static void single_values_truncated(void **state)
{
    static const struct { uint8_t b[12]; size_t n; } v[] = {
        { { 0xcc, 1 }, 2 }, { { 0xcd, 1, 2 }, 3 }, { { 0xce, 1, 2, 3, 4 }, 5 },
        { { 0xcf, 1, 2, 3, 4, 5, 6, 7, 8 }, 9 },
        { { 0xd0, 1 }, 2 }, { { 0xd1, 1, 2 }, 3 }, { { 0xd2, 1, 2, 3, 4 }, 5 },
        { { 0xd3, 1, 2, 3, 4, 5, 6, 7, 8 }, 9 },
        { { 0xa2, 'a', 'b' }, 3 }, { { 0xd9, 2, 'a', 'b' }, 4 }, { { 0xda, 0, 2, 'a', 'b' }, 5 },
        { { 0xdb, 0, 0, 0, 2, 'a', 'b' }, 7 },
        { { 0xc4, 2, 1, 2 }, 4 }, { { 0xc5, 0, 2, 1, 2 }, 5 }, { { 0xc6, 0, 0, 0, 2, 1, 2 }, 7 },
        { { 0x92, 1, 2 }, 3 }, { { 0xdc, 0, 2, 1, 2 }, 5 }, { { 0xdd, 0, 0, 0, 2, 1, 2 }, 7 },
        { { 0x81, 0xa1, 'k', 1 }, 4 }, { { 0xde, 0, 1, 0xa1, 'k', 1 }, 6 },
        { { 0xdf, 0, 0, 0, 1, 0xa1, 'k', 1 }, 8 },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t *b = dup_bytes(v[i].b, v[i].n);
        proto_rd r;
        proto_rd_init(&r, b, v[i].n);
        if (proto_rd_skip(&r, 2) || !proto_rd_done(&r))
            fail_msg("value %zu (0x%02x) not skipped whole", i, v[i].b[0]);
        free(b);
        for (size_t len = 0; len < v[i].n; len++) {
            b = dup_bytes(v[i].b, len);
            proto_rd_init(&r, b, len);
            if (proto_rd_skip(&r, 2) == 0)
                fail_msg("value %zu (0x%02x) cut to %zu bytes was accepted", i, v[i].b[0], len);
            free(b);
        }
    }
}

/* ---- declared lengths larger than the input ---- */

static void oversized_lengths(void **state)
{
    proto_rd r;
    const char *s;
    const uint8_t *bp;
    uint32_t n;
    uint8_t *b;

    /* str32 claiming 4 GiB - 1 with 3 bytes present */
    b = dup_bytes((uint8_t[]){ 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c' }, 8);
    proto_rd_init(&r, b, 8);
    assert_int_equal(proto_rd_str(&r, &s, &n), -1);
    assert_err_has(r.err, "truncated");
    proto_rd_init(&r, b, 8);
    assert_int_equal(proto_rd_skip(&r, 4), -1);
    free(b);

    /* str8 one byte longer than what follows */
    b = dup_bytes((uint8_t[]){ 0xd9, 4, 'a', 'b', 'c' }, 5);
    proto_rd_init(&r, b, 5);
    assert_int_equal(proto_rd_str(&r, &s, &n), -1);
    free(b);

    /* fixstr of 31 with 30 bytes */
    bytes x = { 0 };
    put1(&x, 0xbf);
    put_rep(&x, 'a', 30);
    b = dup_bytes(x.b, x.n);
    proto_rd_init(&r, b, x.n);
    assert_int_equal(proto_rd_str(&r, &s, &n), -1);
    free(b);
    free(x.b);

    /* bin32 / bin16 oversized */
    b = dup_bytes((uint8_t[]){ 0xc6, 0x80, 0, 0, 0, 1 }, 6);
    proto_rd_init(&r, b, 6);
    assert_int_equal(proto_rd_bin(&r, &bp, &n), -1);
    free(b);
    b = dup_bytes((uint8_t[]){ 0xc5, 0x01, 0x00, 1, 2 }, 5);
    proto_rd_init(&r, b, 5);
    assert_int_equal(proto_rd_bin(&r, &bp, &n), -1);
    free(b);

    /* array32 claiming 4 G elements: refused at the header, no looping */
    b = dup_bytes((uint8_t[]){ 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02 }, 7);
    proto_rd_init(&r, b, 7);
    assert_int_equal(proto_rd_array(&r, &n), -1);
    assert_non_null(r.err);
    proto_rd_init(&r, b, 7);
    assert_int_equal(proto_rd_skip(&r, 4), -1);
    free(b);

    /* array16 of 3 with 2 elements present */
    b = dup_bytes((uint8_t[]){ 0xdc, 0, 3, 1, 2 }, 5);
    proto_rd_init(&r, b, 5);
    assert_int_equal(proto_rd_array(&r, &n), -1);
    free(b);

    /* map32 of 2^31 entries: n*2 would overflow 32 bits */
    b = dup_bytes((uint8_t[]){ 0xdf, 0x80, 0, 0, 0, 0xa1, 'k', 1 }, 8);
    proto_rd_init(&r, b, 8);
    assert_int_equal(proto_rd_map(&r, &n), -1);
    proto_rd_init(&r, b, 8);
    assert_int_equal(proto_rd_skip(&r, 4), -1);
    free(b);

    /* fixmap of 2 entries with 3 bytes left (needs at least 4) */
    b = dup_bytes((uint8_t[]){ 0x82, 0xa1, 'k', 1 }, 4);
    proto_rd_init(&r, b, 4);
    assert_int_equal(proto_rd_map(&r, &n), -1);
    free(b);

    /* the largest count that can fit is accepted at the header */
    b = dup_bytes((uint8_t[]){ 0x93, 1, 2, 3 }, 4);
    proto_rd_init(&r, b, 4);
    assert_int_equal(proto_rd_array(&r, &n), 0);
    assert_int_equal(n, 3);
    free(b);
}

/* ---- skip ---- */

static uint8_t *nested_arrays(unsigned levels, size_t *len)
{
    /* levels of [ ... ] around a single 0x01 */
    uint8_t *b = malloc(levels + 1);
    assert_non_null(b);
    memset(b, 0x91, levels);
    b[levels] = 0x01;
    *len = levels + 1;
    return b;
}

static void skip_depth(void **state)
{
    proto_rd r;
    size_t len;
    for (unsigned levels = 0; levels <= 10; levels++) {
        uint8_t *b = nested_arrays(levels, &len);
        /* depth = levels is enough, levels - 1 is not */
        proto_rd_init(&r, b, len);
        assert_int_equal(proto_rd_skip(&r, levels), 0);
        assert_true(proto_rd_done(&r));
        if (levels > 0) {
            proto_rd_init(&r, b, len);
            assert_int_equal(proto_rd_skip(&r, levels - 1), -1);
            assert_err_has(r.err, "deep");
        }
        free(b);
    }
    /* maps count as levels too: {"a": {"b": 1}} */
    uint8_t m[] = { 0x81, 0xa1, 'a', 0x81, 0xa1, 'b', 0x01 };
    uint8_t *b = dup_bytes(m, sizeof m);
    proto_rd_init(&r, b, sizeof m);
    assert_int_equal(proto_rd_skip(&r, 2), 0);
    assert_true(proto_rd_done(&r));
    proto_rd_init(&r, b, sizeof m);
    assert_int_equal(proto_rd_skip(&r, 1), -1);
    free(b);
    /* a map key that is itself a container counts as well */
    uint8_t mk[] = { 0x81, 0x91, 0x01, 0x02 };
    b = dup_bytes(mk, sizeof mk);
    proto_rd_init(&r, b, sizeof mk);
    assert_int_equal(proto_rd_skip(&r, 1), -1);
    proto_rd_init(&r, b, sizeof mk);
    assert_int_equal(proto_rd_skip(&r, 2), 0);
    free(b);

    /* a million levels: refused quickly, without recursing a million times */
    b = nested_arrays(1000000, &len);
    proto_rd_init(&r, b, len);
    assert_int_equal(proto_rd_skip(&r, 16), -1);
    assert_err_has(r.err, "deep");
    free(b);
}

static void skip_refuses(void **state)
{
    static const struct { uint8_t b[10]; size_t n; const char *why; } v[] = {
        { { 0xca, 0, 0, 0, 0 }, 5, "floating" },
        { { 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 }, 9, "floating" },
        { { 0xd4, 1, 0 }, 3, "ext" },
        { { 0xd5, 1, 0, 0 }, 4, "ext" },
        { { 0xd6, 1, 0, 0, 0, 0 }, 6, "ext" },
        { { 0xd7, 1, 0, 0, 0, 0, 0, 0, 0, 0 }, 10, "ext" },
        { { 0xc7, 1, 1, 0 }, 4, "ext" },
        { { 0xc8, 0, 1, 1, 0 }, 5, "ext" },
        { { 0xc9, 0, 0, 0, 1, 1, 0 }, 7, "ext" },
        { { 0xc1 }, 1, "invalid" },
        /* ... also when nested */
        { { 0x92, 0x01, 0xca, 0, 0, 0, 0 }, 7, "floating" },
        { { 0x81, 0xa1, 'f', 0xc1 }, 4, "invalid" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t *b = dup_bytes(v[i].b, v[i].n);
        proto_rd r;
        proto_rd_init(&r, b, v[i].n);
        if (proto_rd_skip(&r, 4) == 0)
            fail_msg("value %zu (0x%02x) was skipped", i, v[i].b[0]);
        assert_err_has(r.err, v[i].why);
        free(b);
    }
    /* skip on an empty reader */
    proto_rd r;
    proto_rd_init(&r, "", 0);
    assert_int_equal(proto_rd_skip(&r, 4), -1);
    assert_err_has(r.err, "truncated");
}

/* ---- frames ---- */

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A frame with a payload of n bytes of value (seed + i) & 0xff. */
static uint8_t *make_frame(size_t n, uint8_t seed, size_t *len)
{
    uint8_t *f = malloc(4 + n);
    assert_non_null(f);
    be32(f, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        f[4 + i] = (uint8_t)(seed + i);
    *len = 4 + n;
    return f;
}

static void check_payload(const uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)(seed + i))
            fail_msg("payload byte %zu is 0x%02x, expected 0x%02x", i, p[i], (uint8_t)(seed + i));
}

static void frame_partial(void **state)
{
    proto_buf b = { 0 };
    const uint8_t *f;
    size_t n, flen;
    uint8_t *fr = make_frame(300, 7, &flen);
    /* one byte at a time: nothing until the last byte */
    for (size_t i = 0; i < flen; i++) {
        assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 0);
        assert_int_equal(proto_buf_append(&b, fr + i, 1), 0);
    }
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 1);
    assert_int_equal(n, 300);
    check_payload(f, n, 7);
    /* and then nothing more */
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 0);
    free(fr);
    proto_buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);

    /* an empty buffer takes nothing */
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 0);
}

/* Bytes written at the tail (how peer.c decrypts into its input) make the
 * same frames as appended ones; the tail is offered only where they fit
 * without a move, and again from the start once everything was read. */
static void frame_tail(void **state)
{
    proto_buf b = { 0 };
    const uint8_t *f;
    size_t n, flen;
    uint8_t *fr = make_frame(300, 9, &flen);
    assert_null(proto_buf_tail(&b, 1));   /* nothing allocated yet: append */
    assert_int_equal(proto_buf_append(&b, fr, 10), 0);
    size_t room = b.cap - b.len;
    assert_null(proto_buf_tail(&b, room + 1));
    uint8_t *t = proto_buf_tail(&b, flen - 10);
    assert_non_null(t);
    assert_ptr_equal(t, b.data + 10);
    memcpy(t, fr + 10, flen - 10);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 0);   /* not counted yet */
    proto_buf_wrote(&b, flen - 10);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 1);
    assert_int_equal(n, 300);
    check_payload(f, n, 9);
    /* all of it read: the tail is the buffer's start again */
    t = proto_buf_tail(&b, b.cap);
    assert_ptr_equal(t, b.data);
    memcpy(t, fr, flen);
    proto_buf_wrote(&b, flen);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 1);
    check_payload(f, n, 9);
    /* never counted past the buffer's end */
    proto_buf_wrote(&b, b.cap + 100);
    assert_int_equal(b.len, b.cap);
    free(fr);
    proto_buf_free(&b);
}

static void frame_limits(void **state)
{
    proto_buf b = { 0 };
    const uint8_t *f;
    size_t n;
    uint8_t hdr[4];

    /* announced length above max: error as soon as the length is in,
     * without waiting for (or allocating) the body */
    be32(hdr, 1025);
    assert_int_equal(proto_buf_append(&b, hdr, 3), 0);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 0);
    assert_int_equal(proto_buf_append(&b, hdr + 3, 1), 0);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), -1);
    proto_buf_free(&b);

    /* 0xffffffff */
    be32(hdr, 0xffffffffu);
    assert_int_equal(proto_buf_append(&b, hdr, 4), 0);
    assert_int_equal(proto_frame_take(&b, PROTO_CTL_FRAME_MAX, &f, &n), -1);
    proto_buf_free(&b);

    /* peer limit + 1 */
    be32(hdr, PROTO_PEER_FRAME_MAX + 1);
    assert_int_equal(proto_buf_append(&b, hdr, 4), 0);
    assert_int_equal(proto_frame_take(&b, PROTO_PEER_FRAME_MAX, &f, &n), -1);
    proto_buf_free(&b);

    /* zero length: no msgpack value is empty */
    be32(hdr, 0);
    assert_int_equal(proto_buf_append(&b, hdr, 4), 0);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), -1);
    proto_buf_free(&b);

    /* exactly max is fine */
    size_t flen;
    uint8_t *fr = make_frame(1024, 3, &flen);
    assert_int_equal(proto_buf_append(&b, fr, flen), 0);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 1);
    assert_int_equal(n, 1024);
    check_payload(f, n, 3);
    free(fr);
    proto_buf_free(&b);
}

static void frame_many_in_one_append(void **state)
{
    proto_buf b = { 0 };
    bytes x = { 0 };
    for (unsigned i = 1; i <= 20; i++) {
        size_t flen;
        uint8_t *fr = make_frame(i * 13, (uint8_t)i, &flen);
        put(&x, fr, flen);
        free(fr);
    }
    /* everything but the last byte */
    assert_int_equal(proto_buf_append(&b, x.b, x.n - 1), 0);
    const uint8_t *f[20];
    size_t n[20];
    for (unsigned i = 1; i < 20; i++)
        assert_int_equal(proto_frame_take(&b, 4096, &f[i - 1], &n[i - 1]), 1);
    assert_int_equal(proto_frame_take(&b, 4096, &f[19], &n[19]), 0);
    /* frames taken before the next append all stay valid */
    for (unsigned i = 1; i < 20; i++) {
        assert_int_equal(n[i - 1], i * 13);
        check_payload(f[i - 1], n[i - 1], (uint8_t)i);
    }
    assert_int_equal(proto_buf_append(&b, x.b + x.n - 1, 1), 0);
    assert_int_equal(proto_frame_take(&b, 4096, &f[19], &n[19]), 1);
    assert_int_equal(n[19], 20 * 13);
    check_payload(f[19], n[19], 20);
    assert_int_equal(proto_frame_take(&b, 4096, &f[0], &n[0]), 0);
    free(x.b);
    proto_buf_free(&b);
}

/* Stream many frames through one buffer in uneven pieces: the buffer is
 * reused (consumed space reclaimed), so it never grows past a small bound. */
static void frame_buffer_reuse(void **state)
{
    proto_buf b = { 0 };
    bytes x = { 0 };
    const unsigned frames = 2000;
    for (unsigned i = 0; i < frames; i++) {
        size_t flen;
        uint8_t *fr = make_frame(100 + (i * 37) % 900, (uint8_t)(i * 11), &flen);
        put(&x, fr, flen);
        free(fr);
    }
    size_t off = 0, chunk = 1;
    unsigned got = 0;
    size_t max_cap = 0;
    while (off < x.n) {
        size_t c = chunk < x.n - off ? chunk : x.n - off;
        assert_int_equal(proto_buf_append(&b, x.b + off, c), 0);
        off += c;
        chunk = chunk * 7 % 2503 + 1;   /* uneven sizes 1..2503 */
        const uint8_t *f;
        size_t n;
        int rc;
        while ((rc = proto_frame_take(&b, 4096, &f, &n)) == 1) {
            assert_int_equal(n, 100 + (got * 37) % 900);
            check_payload(f, n, (uint8_t)(got * 11));
            got++;
        }
        assert_int_equal(rc, 0);
        assert_true(b.off <= b.len && b.len <= b.cap);
        if (b.cap > max_cap)
            max_cap = b.cap;
    }
    assert_int_equal(got, frames);
    /* one frame is at most 1003 bytes and one append at most 2503: the
     * buffer must never need more than a few KiB, whereas without reuse it
     * would have to hold all ~1.1 MB streamed */
    if (max_cap > 8192)
        fail_msg("buffer grew to %zu bytes: consumed space is not reused", max_cap);
    assert_true(x.n > 1000000);

    /* after consuming everything, the next append starts at the front */
    size_t flen;
    uint8_t *fr = make_frame(10, 99, &flen);
    assert_int_equal(b.off, b.len);
    assert_int_equal(proto_buf_append(&b, fr, flen), 0);
    assert_int_equal(b.off, 0);
    assert_int_equal(b.len, flen);
    const uint8_t *f;
    size_t n;
    assert_int_equal(proto_frame_take(&b, 4096, &f, &n), 1);
    assert_ptr_equal(f, b.data + 4);
    check_payload(f, 10, 99);
    free(fr);
    free(x.b);
    proto_buf_free(&b);
}

/* Partially consumed buffer that must grow: the unread tail survives the move. */
static void frame_reclaim_keeps_tail(void **state)
{
    proto_buf b = { 0 };
    size_t l1, l2;
    uint8_t *f1 = make_frame(3000, 1, &l1);   /* 3004 */
    uint8_t *f2 = make_frame(3000, 2, &l2);
    const uint8_t *f;
    size_t n;
    assert_int_equal(proto_buf_append(&b, f1, l1), 0);
    assert_int_equal(proto_buf_append(&b, f2, 1000), 0);  /* 4004 of 4096 */
    size_t cap = b.cap;
    assert_int_equal(proto_frame_take(&b, 8192, &f, &n), 1);
    check_payload(f, n, 1);
    assert_int_equal(proto_frame_take(&b, 8192, &f, &n), 0);
    /* 2004 more do not fit behind the 4004 used, but do after reclaiming */
    assert_int_equal(proto_buf_append(&b, f2 + 1000, l2 - 1000), 0);
    assert_int_equal(b.cap, cap);
    assert_int_equal(proto_frame_take(&b, 8192, &f, &n), 1);
    assert_int_equal(n, 3000);
    check_payload(f, n, 2);
    free(f1);
    free(f2);
    proto_buf_free(&b);
}

/* ---- frame writing and map messages ---- */

static void frame_write_and_map(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_frame_begin(&sb, &pk);
    msgpack_pack_map(&pk, 5);
    proto_pack_kv_str(&pk, "op", "status");
    proto_pack_kv_u64(&pk, "seq", 1234567890123ull);
    proto_pack_kv_bin(&pk, "id", "\x01\x02\x03", 3);
    proto_pack_kv_bool(&pk, "ok", 1);
    proto_pack_cstr(&pk, "nested");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 0);
    proto_frame_end(&sb);

    /* the length prefix is the body size, big-endian */
    const uint8_t *d = (const uint8_t *)sb.data;
    size_t body = sb.size - 4;
    assert_int_equal(((size_t)d[0] << 24) | ((size_t)d[1] << 16) | ((size_t)d[2] << 8) | d[3], body);

    proto_buf b = { 0 };
    const uint8_t *f;
    size_t n;
    assert_int_equal(proto_buf_append(&b, sb.data, sb.size), 0);
    assert_int_equal(proto_frame_take(&b, 1024, &f, &n), 1);
    assert_int_equal(n, body);
    uint8_t *m = dup_bytes(f, n);

    char s[16];
    uint64_t u;
    proto_rd r;
    assert_int_equal(proto_map_str(m, n, "op", s, sizeof s), 0);
    assert_string_equal(s, "status");
    assert_int_equal(proto_map_u64(m, n, "seq", &u), 0);
    assert_true(u == 1234567890123ull);
    assert_int_equal(proto_map_find(m, n, "id", &r), 0);
    const uint8_t *bv;
    uint32_t bl;
    assert_int_equal(proto_rd_bin(&r, &bv, &bl), 0);
    assert_true(bl == 3 && !memcmp(bv, "\x01\x02\x03", 3));
    assert_int_equal(proto_map_find(m, n, "ok", &r), 0);
    int bo = 0;
    assert_int_equal(proto_rd_bool(&r, &bo), 0);
    assert_int_equal(bo, 1);
    /* absent keys, wrong types, too small buffers */
    assert_int_equal(proto_map_find(m, n, "nope", &r), -1);
    assert_int_equal(proto_map_find(m, n, "o", &r), -1);   /* prefix of "op" */
    assert_int_equal(proto_map_str(m, n, "seq", s, sizeof s), -1);
    assert_int_equal(proto_map_u64(m, n, "op", &u), -1);
    assert_int_equal(proto_map_str(m, n, "op", s, 6), -1);    /* "status" + NUL needs 7 */
    assert_int_equal(proto_map_str(m, n, "op", s, 7), 0);
    /* not a map at all, and a truncated map */
    assert_int_equal(proto_map_find((const uint8_t *)"\x91\x01", 2, "op", &r), -1);
    for (size_t len = 0; len < n; len++) {
        uint8_t *t = dup_bytes(m, len);
        /* "nested" is the last key: it can only be found whole */
        if (proto_map_find(t, len, "nested", &r) == 0) {
            /* found the key, then its value must not be readable whole */
            uint32_t an;
            if (proto_rd_array(&r, &an) == 0 && proto_rd_map(&r, &an) == 0)
                fail_msg("value of 'nested' read from %zu/%zu bytes", len, n);
        }
        free(t);
    }
    free(m);
    proto_buf_free(&b);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- proto_map: a map that counts its own entries ---- */

/* Pack `n` entries into pk: through the builder when m is given, else as
 * the plain kv pack calls; entry i's kind of value cycles through every
 * helper and a nested map, so both forms must yield the same bytes. */
static void pack_entries(msgpack_packer *pk, proto_map *m, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%u", i);
        switch (i % 5) {
        case 0:
            if (m)
                proto_map_put_u64(m, k, (uint64_t)i * 1000003u);
            else
                proto_pack_kv_u64(pk, k, (uint64_t)i * 1000003u);
            break;
        case 1:
            if (m)
                proto_map_put_str(m, k, "値");
            else
                proto_pack_kv_str(pk, k, "値");
            break;
        case 2:
            if (m)
                proto_map_put_bool(m, k, i & 8);
            else
                proto_pack_kv_bool(pk, k, i & 8);
            break;
        case 3:
            if (m)
                proto_map_put_bin(m, k, "\x00\x01\x02", 3);
            else
                proto_pack_kv_bin(pk, k, "\x00\x01\x02", 3);
            break;
        default:
            /* a key, then a value packed by hand: a map of i % 20 entries */
            if (m) {
                proto_map inner;
                proto_map_key(m, k);
                proto_map_begin(&inner, pk);
                pack_entries(pk, &inner, i % 20);
                assert_int_equal(proto_map_end(&inner), 0);
            } else {
                proto_pack_cstr(pk, k);
                msgpack_pack_map(pk, i % 20);
                pack_entries(pk, NULL, i % 20);
            }
        }
    }
}

static void map_builder_same_bytes(void **state)
{
    static const uint32_t counts[] = { 0, 1, 2, 14, 15, 16, 17, 255, 256, 65535, 65536, 70001 };
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        uint32_t n = counts[c];
        msgpack_sbuffer a, b;
        msgpack_packer pa, pb;
        proto_map m;
        /* after a frame's length prefix, so the map does not start at 0 */
        proto_frame_begin(&a, &pa);
        proto_frame_begin(&b, &pb);
        msgpack_pack_map(&pa, n);
        pack_entries(&pa, NULL, n);
        proto_map_begin(&m, &pb);
        pack_entries(&pb, &m, n);
        assert_int_equal(proto_map_end(&m), 0);
        assert_int_equal(m.n, n);
        assert_int_equal(b.size, a.size);
        assert_memory_equal(b.data, a.data, a.size);
        /* the header, from the spec: fixmap, map 16, map 32 */
        const uint8_t *h = (const uint8_t *)b.data + 4;
        if (n < 16)
            assert_int_equal(h[0], 0x80 | n);
        else if (n < 65536)
            assert_true(h[0] == 0xde && ((unsigned)h[1] << 8 | h[2]) == n);
        else
            assert_true(h[0] == 0xdf && ((uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
                                         (uint32_t)h[3] << 8 | h[4]) == n);
        msgpack_sbuffer_destroy(&a);
        msgpack_sbuffer_destroy(&b);
    }
}

/* Maps one after another and nested two deep, each needing a longer header
 * than it reserved: every one is read back whole. */
static void map_builder_nested_and_following(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_map outer, inner, second;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    proto_map_begin(&outer, &pk);
    for (uint32_t i = 0; i < 18; i++) {
        char k[8];
        snprintf(k, sizeof k, "o%u", i);
        proto_map_key(&outer, k);
        proto_map_begin(&inner, &pk);
        for (uint32_t j = 0; j < 17 + i; j++) {
            char ik[8];
            snprintf(ik, sizeof ik, "i%u", j);
            proto_map_put_u64(&inner, ik, j);
        }
        assert_int_equal(proto_map_end(&inner), 0);
    }
    assert_int_equal(proto_map_end(&outer), 0);
    size_t first = sb.size;
    proto_map_begin(&second, &pk);
    proto_map_put_str(&second, "after", "yes");
    assert_int_equal(proto_map_end(&second), 0);

    uint8_t *buf = dup_bytes(sb.data, sb.size);
    proto_rd r;
    uint32_t n, in;
    uint64_t v;
    const char *k;
    uint32_t kl;
    proto_rd_init(&r, buf, first);
    assert_int_equal(proto_rd_map(&r, &n), 0);
    assert_int_equal(n, 18);
    for (uint32_t i = 0; i < 18; i++) {
        assert_int_equal(proto_rd_str(&r, &k, &kl), 0);
        assert_int_equal(proto_rd_map(&r, &in), 0);
        assert_int_equal(in, 17 + i);
        for (uint32_t j = 0; j < in; j++) {
            assert_int_equal(proto_rd_str(&r, &k, &kl), 0);
            assert_int_equal(proto_rd_uint(&r, &v), 0);
            assert_true(v == j);
        }
    }
    assert_true(proto_rd_done(&r));
    char s[8];
    assert_int_equal(proto_map_str(buf + first, sb.size - first, "after", s, sizeof s), 0);
    assert_string_equal(s, "yes");
    free(buf);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peek_every_byte),
        cmocka_unit_test(uint_forms),
        cmocka_unit_test(int_forms),
        cmocka_unit_test(nil_bool),
        cmocka_unit_test(str_forms),
        cmocka_unit_test(bin_forms),
        cmocka_unit_test(strcpy_binfix),
        cmocka_unit_test(array_map_forms),
        cmocka_unit_test(errors_are_sticky),
        cmocka_unit_test(every_type_and_truncation),
        cmocka_unit_test(single_values_truncated),
        cmocka_unit_test(oversized_lengths),
        cmocka_unit_test(skip_depth),
        cmocka_unit_test(skip_refuses),
        cmocka_unit_test(frame_partial),
        cmocka_unit_test(frame_tail),
        cmocka_unit_test(frame_limits),
        cmocka_unit_test(frame_many_in_one_append),
        cmocka_unit_test(frame_buffer_reuse),
        cmocka_unit_test(frame_reclaim_keeps_tail),
        cmocka_unit_test(frame_write_and_map),
        cmocka_unit_test(map_builder_same_bytes),
        cmocka_unit_test(map_builder_nested_and_following),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
