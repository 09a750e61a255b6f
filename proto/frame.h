/*
 * proto/frame.h — length-prefixed frames and msgpack map messages.
 *
 * Both the control socket and the peer protocol carry frames: a 4-byte
 * big-endian length, then that many bytes of one msgpack value.  A receiver
 * accumulates bytes in a proto_buf and takes whole frames out; a frame
 * longer than the receiver's limit is an error (the connection is closed),
 * never a reason to allocate.
 */
#ifndef PROTO_FRAME_H
#define PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "proto/mp.h"
#include "proto/limits.h"   /* PROTO_CTL_FRAME_MAX, PROTO_PEER_FRAME_MAX */

typedef struct {
    uint8_t *data;
    size_t len, cap, off;   /* bytes [off, len) are unread */
} proto_buf;

int  proto_buf_append(proto_buf *b, const void *p, size_t n);
void proto_buf_free(proto_buf *b);
/* 1 and the frame body when a whole frame is buffered, 0 when more bytes are
 * needed, -1 when the announced length exceeds max.  The frame stays valid
 * until the next append. */
int  proto_frame_take(proto_buf *b, size_t max, const uint8_t **frame, size_t *len);

/* Start a frame in sb (reserves the length), finish it (writes the length). */
void proto_frame_begin(msgpack_sbuffer *sb, msgpack_packer *pk);
void proto_frame_end(msgpack_sbuffer *sb);

/* Pack helpers for map messages. */
void proto_pack_cstr(msgpack_packer *pk, const char *s);
void proto_pack_kv_str(msgpack_packer *pk, const char *k, const char *v);
void proto_pack_kv_u64(msgpack_packer *pk, const char *k, uint64_t v);
void proto_pack_kv_bin(msgpack_packer *pk, const char *k, const void *v, size_t n);
void proto_pack_kv_bool(msgpack_packer *pk, const char *k, int v);

/* Position `out` on the value of `key` in the top-level map in buf.  0 if found. */
int proto_map_find(const uint8_t *buf, size_t len, const char *key, proto_rd *out);
/* Convenience: copy a str value (NUL-terminated); 0, or -1 if absent/wrong/too long. */
int proto_map_str(const uint8_t *buf, size_t len, const char *key, char *out, size_t outlen);
int proto_map_u64(const uint8_t *buf, size_t len, const char *key, uint64_t *out);

#endif
