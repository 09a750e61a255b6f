/* proto/mp.c — strict msgpack reader; see mp.h. */
#include "proto/mp.h"
#include <string.h>

void proto_rd_init(proto_rd *r, const void *buf, size_t len)
{
    r->p = buf;
    r->end = r->p + len;
    r->err = NULL;
}

static int fail(proto_rd *r, const char *why)
{
    if (!r->err)
        r->err = why;
    return -1;
}

static int need(proto_rd *r, size_t n)
{
    if (r->err)
        return -1;
    if ((size_t)(r->end - r->p) < n)
        return fail(r, "truncated msgpack");
    return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

enum proto_mp_type proto_rd_peek(const proto_rd *r)
{
    if (r->err || r->p >= r->end)
        return PROTO_MP_NONE;
    uint8_t c = *r->p;
    if (c <= 0x7f) return PROTO_MP_UINT;
    if (c <= 0x8f) return PROTO_MP_MAP;
    if (c <= 0x9f) return PROTO_MP_ARRAY;
    if (c <= 0xbf) return PROTO_MP_STR;
    if (c >= 0xe0) return PROTO_MP_INT;
    switch (c) {
    case 0xc0: return PROTO_MP_NIL;
    case 0xc2: case 0xc3: return PROTO_MP_BOOL;
    case 0xc4: case 0xc5: case 0xc6: return PROTO_MP_BIN;
    case 0xc7: case 0xc8: case 0xc9: case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        return PROTO_MP_EXT;
    case 0xca: case 0xcb: return PROTO_MP_FLOAT;
    case 0xcc: case 0xcd: case 0xce: case 0xcf: return PROTO_MP_UINT;
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: return PROTO_MP_INT;
    case 0xd9: case 0xda: case 0xdb: return PROTO_MP_STR;
    case 0xdc: case 0xdd: return PROTO_MP_ARRAY;
    case 0xde: case 0xdf: return PROTO_MP_MAP;
    default: return PROTO_MP_NONE;  /* 0xc1 is never used */
    }
}

/* Read a length-prefixed header: fix range [lo, hi] carries the length in its
 * low bits, and up to three explicit forms with 1/2/4-byte lengths. */
static int rd_len(proto_rd *r, uint8_t fixlo, uint8_t fixhi, uint8_t fixmask,
                  uint8_t f8, uint8_t f16, uint8_t f32, uint32_t *n, const char *what)
{
    if (need(r, 1))
        return -1;
    uint8_t c = *r->p;
    int w;
    if (fixhi && c >= fixlo && c <= fixhi) {
        *n = c & fixmask;
        r->p++;
        return 0;
    }
    if (f8 && c == f8) w = 1;
    else if (c == f16) w = 2;
    else if (c == f32) w = 4;
    else return fail(r, what);
    if (need(r, 1 + (size_t)w))
        return -1;
    *n = (uint32_t)be(r->p + 1, w);
    r->p += 1 + w;
    return 0;
}

int proto_rd_array(proto_rd *r, uint32_t *n)
{
    if (rd_len(r, 0x90, 0x9f, 0x0f, 0, 0xdc, 0xdd, n, "expected msgpack array"))
        return -1;
    /* Every element takes at least one byte: reject impossible counts early. */
    if (*n > (size_t)(r->end - r->p))
        return fail(r, "array longer than its buffer");
    return 0;
}

int proto_rd_map(proto_rd *r, uint32_t *n)
{
    if (rd_len(r, 0x80, 0x8f, 0x0f, 0, 0xde, 0xdf, n, "expected msgpack map"))
        return -1;
    if ((uint64_t)*n * 2 > (size_t)(r->end - r->p))
        return fail(r, "map longer than its buffer");
    return 0;
}

static int rd_raw(proto_rd *r, const uint8_t **b, uint32_t *len, int str)
{
    uint32_t n;
    int rc = str ? rd_len(r, 0xa0, 0xbf, 0x1f, 0xd9, 0xda, 0xdb, &n, "expected msgpack str")
                 : rd_len(r, 0, 0, 0, 0xc4, 0xc5, 0xc6, &n, "expected msgpack bin");
    if (rc || need(r, n))
        return -1;
    *b = r->p;
    *len = n;
    r->p += n;
    return 0;
}

int proto_rd_str(proto_rd *r, const char **s, uint32_t *len)
{
    /* Through a const uint8_t * of our own: writing *s via a cast
     * (const uint8_t **)s breaks strict aliasing, and at -O2 the caller may
     * never see the pointer change. */
    const uint8_t *b;
    if (rd_raw(r, &b, len, 1))
        return -1;
    *s = (const char *)b;
    return 0;
}

int proto_rd_bin(proto_rd *r, const uint8_t **b, uint32_t *len)
{
    return rd_raw(r, b, len, 0);
}

int proto_rd_int(proto_rd *r, int64_t *v)
{
    if (need(r, 1))
        return -1;
    uint8_t c = *r->p;
    if (c <= 0x7f) { *v = c; r->p++; return 0; }
    if (c >= 0xe0) { *v = (int8_t)c; r->p++; return 0; }
    int w, sgn;
    switch (c) {
    case 0xcc: w = 1; sgn = 0; break;
    case 0xcd: w = 2; sgn = 0; break;
    case 0xce: w = 4; sgn = 0; break;
    case 0xcf: w = 8; sgn = 0; break;
    case 0xd0: w = 1; sgn = 1; break;
    case 0xd1: w = 2; sgn = 1; break;
    case 0xd2: w = 4; sgn = 1; break;
    case 0xd3: w = 8; sgn = 1; break;
    default: return fail(r, "expected msgpack integer");
    }
    if (need(r, 1 + (size_t)w))
        return -1;
    uint64_t u = be(r->p + 1, w);
    if (sgn) {
        /* sign-extend from w bytes */
        if (w < 8 && (u >> (w * 8 - 1)) & 1)
            u |= ~0ULL << (w * 8);
        *v = (int64_t)u;
    } else {
        if (u > INT64_MAX)
            return fail(r, "integer out of range");
        *v = (int64_t)u;
    }
    r->p += 1 + w;
    return 0;
}

int proto_rd_uint(proto_rd *r, uint64_t *v)
{
    if (need(r, 1))
        return -1;
    uint8_t c = *r->p;
    if (c == 0xcf) {
        if (need(r, 9))
            return -1;
        *v = be(r->p + 1, 8);
        r->p += 9;
        return 0;
    }
    int64_t s;
    const uint8_t *save = r->p;
    if (proto_rd_int(r, &s))
        return -1;
    if (s < 0) {
        r->p = save;
        return fail(r, "expected unsigned integer");
    }
    *v = (uint64_t)s;
    return 0;
}

int proto_rd_bool(proto_rd *r, int *v)
{
    if (need(r, 1))
        return -1;
    if (*r->p != 0xc2 && *r->p != 0xc3)
        return fail(r, "expected msgpack bool");
    *v = *r->p == 0xc3;
    r->p++;
    return 0;
}

int proto_rd_nil(proto_rd *r)
{
    if (need(r, 1))
        return -1;
    if (*r->p != 0xc0)
        return fail(r, "expected msgpack nil");
    r->p++;
    return 0;
}

int proto_rd_skip(proto_rd *r, unsigned depth)
{
    uint32_t n;
    const uint8_t *b;
    const char *sv;
    int64_t i;
    uint64_t u;
    int bo;
    switch (proto_rd_peek(r)) {
    case PROTO_MP_NIL: return proto_rd_nil(r);
    case PROTO_MP_BOOL: return proto_rd_bool(r, &bo);
    case PROTO_MP_UINT: return proto_rd_uint(r, &u);
    case PROTO_MP_INT: return proto_rd_int(r, &i);
    case PROTO_MP_STR: return proto_rd_str(r, &sv, &n);
    case PROTO_MP_BIN: return proto_rd_bin(r, &b, &n);
    case PROTO_MP_ARRAY:
    case PROTO_MP_MAP: {
        int map = proto_rd_peek(r) == PROTO_MP_MAP;
        if (depth == 0)
            return fail(r, "msgpack nested too deeply");
        if (map ? proto_rd_map(r, &n) : proto_rd_array(r, &n))
            return -1;
        uint64_t items = map ? (uint64_t)n * 2 : n;
        for (uint64_t k = 0; k < items; k++)
            if (proto_rd_skip(r, depth - 1))
                return -1;
        return 0;
    }
    case PROTO_MP_FLOAT:
        return fail(r, "floating point values are not used");
    case PROTO_MP_EXT:
        return fail(r, "msgpack ext types are not used");
    default:
        return r->err ? -1 : fail(r, r->p >= r->end ? "truncated msgpack" : "invalid msgpack byte");
    }
}

int proto_rd_strcpy(proto_rd *r, char *out, size_t outlen)
{
    const char *s = NULL;
    uint32_t n = 0;
    if (proto_rd_str(r, &s, &n) || !s)
        return -1;
    if (n >= outlen)
        return fail(r, "string too long");
    if (memchr(s, 0, n))
        return fail(r, "string contains NUL");
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

int proto_rd_binfix(proto_rd *r, void *out, size_t len)
{
    const uint8_t *b = NULL;
    uint32_t n = 0;
    if (proto_rd_bin(r, &b, &n) || !b)
        return -1;
    if (n != len)
        return fail(r, "binary field of wrong length");
    memcpy(out, b, n);
    return 0;
}
