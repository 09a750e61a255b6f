/*
 * proto/mp.h — a strict, zero-copy msgpack reader.
 *
 * msgpack-c packs everything we send; this reader takes everything we
 * receive.  It exists because decoding outside input needs what msgpack-c's
 * unpacker does not give: the exact byte offsets of a value (signatures cover
 * exact bytes), hard limits on depth and length, and no allocation at all.
 *
 * A reader is a cursor over [p, end).  Every read checks bounds and type;
 * the first failure sets r->err and every later call fails too, so a caller
 * may do a run of reads and check once.  Returned pointers point into the
 * input buffer.
 */
#ifndef PROTO_MP_H
#define PROTO_MP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p, *end;
    const char *err;   /* NULL while all reads succeeded */
} proto_rd;

enum proto_mp_type {
    PROTO_MP_NONE = 0, PROTO_MP_NIL, PROTO_MP_BOOL, PROTO_MP_UINT, PROTO_MP_INT,
    PROTO_MP_FLOAT, PROTO_MP_STR, PROTO_MP_BIN, PROTO_MP_ARRAY, PROTO_MP_MAP, PROTO_MP_EXT
};

void proto_rd_init(proto_rd *r, const void *buf, size_t len);
enum proto_mp_type proto_rd_peek(const proto_rd *r);
int proto_rd_array(proto_rd *r, uint32_t *n);
int proto_rd_map(proto_rd *r, uint32_t *n);
int proto_rd_str(proto_rd *r, const char **s, uint32_t *len);
int proto_rd_bin(proto_rd *r, const uint8_t **b, uint32_t *len);
int proto_rd_uint(proto_rd *r, uint64_t *v);
int proto_rd_int(proto_rd *r, int64_t *v);     /* any integer that fits int64 */
int proto_rd_bool(proto_rd *r, int *v);
int proto_rd_nil(proto_rd *r);
/* Skip one value of any type, nested at most `depth` levels deep. */
int proto_rd_skip(proto_rd *r, unsigned depth);
/* Read a str and copy it NUL-terminated; fails if it has NUL or does not fit. */
int proto_rd_strcpy(proto_rd *r, char *out, size_t outlen);
/* Read a bin of exactly `len` bytes into out. */
int proto_rd_binfix(proto_rd *r, void *out, size_t len);
static inline int proto_rd_done(const proto_rd *r) { return !r->err && r->p == r->end; }

#endif
