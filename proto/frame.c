/* proto/frame.c — see frame.h. */
#include "proto/frame.h"
#include <stdlib.h>
#include <string.h>

int proto_buf_append(proto_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;   /* memcpy from/to NULL is undefined even for 0 bytes */
    if (b->off && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + n > b->cap) {
        /* reclaim consumed space before growing */
        if (b->off) {
            memmove(b->data, b->data + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + n)
                cap *= 2;
            uint8_t *d = realloc(b->data, cap);
            if (!d)
                return -1;
            b->data = d;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

uint8_t *proto_buf_tail(proto_buf *b, size_t n)
{
    if (b->off && b->off == b->len)
        b->off = b->len = 0;   /* all read: start over, as an append would */
    return b->data && b->cap - b->len >= n ? b->data + b->len : NULL;
}

void proto_buf_wrote(proto_buf *b, size_t n)
{
    b->len += n <= b->cap - b->len ? n : b->cap - b->len;
}

void proto_buf_free(proto_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int proto_frame_take(proto_buf *b, size_t max, const uint8_t **frame, size_t *len)
{
    size_t avail = b->len - b->off;
    if (avail < 4)
        return 0;
    const uint8_t *p = b->data + b->off;
    size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
    if (n > max || n == 0)
        return -1;
    if (avail < 4 + n)
        return 0;
    *frame = p + 4;
    *len = n;
    b->off += 4 + n;
    return 1;
}

void proto_frame_begin(msgpack_sbuffer *sb, msgpack_packer *pk)
{
    static const uint8_t zero[4];
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_sbuffer_write(sb, (const char *)zero, 4);
}

void proto_frame_end(msgpack_sbuffer *sb)
{
    size_t n = sb->size - 4;
    uint8_t *p = (uint8_t *)sb->data;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

void proto_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

void proto_pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    proto_pack_cstr(pk, k);
    proto_pack_cstr(pk, v);
}

void proto_pack_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    proto_pack_cstr(pk, k);
    msgpack_pack_uint64(pk, v);
}

void proto_pack_kv_bin(msgpack_packer *pk, const char *k, const void *v, size_t n)
{
    proto_pack_cstr(pk, k);
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, v, n);
}

void proto_pack_kv_bool(msgpack_packer *pk, const char *k, int v)
{
    proto_pack_cstr(pk, k);
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void proto_map_begin(proto_map *m, msgpack_packer *pk)
{
    msgpack_sbuffer *sb = pk->data;
    static const char fixmap0 = (char)0x80;
    m->pk = pk;
    m->at = sb->size;
    m->n = 0;
    msgpack_sbuffer_write(sb, &fixmap0, 1);
}

void proto_map_key(proto_map *m, const char *key)
{
    proto_pack_cstr(m->pk, key);
    m->n++;
}

void proto_map_put_str(proto_map *m, const char *key, const char *v)
{
    proto_map_key(m, key);
    proto_pack_cstr(m->pk, v);
}

void proto_map_put_u64(proto_map *m, const char *key, uint64_t v)
{
    proto_map_key(m, key);
    msgpack_pack_uint64(m->pk, v);
}

void proto_map_put_bool(proto_map *m, const char *key, int v)
{
    proto_map_key(m, key);
    if (v)
        msgpack_pack_true(m->pk);
    else
        msgpack_pack_false(m->pk);
}

void proto_map_put_bin(proto_map *m, const char *key, const void *v, size_t n)
{
    proto_map_key(m, key);
    msgpack_pack_bin(m->pk, n);
    msgpack_pack_bin_body(m->pk, v, n);
}

int proto_map_end(proto_map *m)
{
    msgpack_sbuffer *sb = m->pk->data;
    uint8_t hdr[5];
    size_t hl;
    if (sb->size <= m->at)
        return -1;   /* begin could not write its byte */
    if (m->n < 16) {
        ((uint8_t *)sb->data)[m->at] = (uint8_t)(0x80 | m->n);
        return 0;
    }
    if (m->n < 65536) {
        hdr[0] = 0xde;
        hdr[1] = (uint8_t)(m->n >> 8);
        hdr[2] = (uint8_t)m->n;
        hl = 3;
    } else {
        hdr[0] = 0xdf;
        hdr[1] = (uint8_t)(m->n >> 24);
        hdr[2] = (uint8_t)(m->n >> 16);
        hdr[3] = (uint8_t)(m->n >> 8);
        hdr[4] = (uint8_t)m->n;
        hl = 5;
    }
    /* grow by what the header lacks, then move the entries up */
    size_t body = sb->size - m->at - 1;
    if (msgpack_sbuffer_write(sb, (const char *)hdr, hl - 1))
        return -1;
    uint8_t *p = (uint8_t *)sb->data + m->at;
    memmove(p + hl, p + 1, body);
    memcpy(p, hdr, hl);
    return 0;
}

int proto_map_find(const uint8_t *buf, size_t len, const char *key, proto_rd *out)
{
    proto_rd r;
    uint32_t n, kl;
    const char *k;
    size_t want = strlen(key);
    proto_rd_init(&r, buf, len);
    if (proto_rd_map(&r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(&r, &k, &kl))
            return -1;
        if (kl == want && !memcmp(k, key, kl)) {
            *out = r;
            return 0;
        }
        if (proto_rd_skip(&r, 8))
            return -1;
    }
    return -1;
}

int proto_map_str(const uint8_t *buf, size_t len, const char *key, char *out, size_t outlen)
{
    proto_rd r;
    if (proto_map_find(buf, len, key, &r))
        return -1;
    return proto_rd_strcpy(&r, out, outlen);
}

int proto_map_u64(const uint8_t *buf, size_t len, const char *key, uint64_t *out)
{
    proto_rd r;
    if (proto_map_find(buf, len, key, &r))
        return -1;
    return proto_rd_uint(&r, out);
}
