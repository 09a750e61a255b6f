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
/* Where n bytes may be written at the end of b as it is (no growing, no
 * move), or NULL; proto_buf_wrote then counts what was written there.  A
 * reader that decrypts into it saves the copy of an append (peer.c). */
uint8_t *proto_buf_tail(proto_buf *b, size_t n);
void proto_buf_wrote(proto_buf *b, size_t n);
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

/* A map that counts its own entries, so that no count kept by hand can
 * fall out of step with what is packed:
 *
 *     proto_map m;
 *     proto_map_begin(&m, pk);
 *     proto_map_put_bool(&m, "ok", 1);
 *     proto_map_put_str(&m, "name", name);
 *     proto_map_key(&m, "records");    (then pack that entry's value with pk)
 *     msgpack_pack_array(pk, n);
 *     ...
 *     proto_map_end(&m);
 *
 * pk must pack into a msgpack_sbuffer, as every packer here does.  Begin
 * leaves room for a one-byte header; end writes the header for the count,
 * moving the entries up when the count needs a longer one (16 or more), so
 * the bytes are exactly those of msgpack_pack_map(pk, count) followed by
 * the entries.  A value may itself be a proto_map on the same packer.
 * proto_map_end returns 0, or -1 if the buffer could not grow. */
typedef struct {
    msgpack_packer *pk;
    size_t at;     /* offset of the header in the sbuffer */
    uint32_t n;    /* entries so far */
} proto_map;

void proto_map_begin(proto_map *m, msgpack_packer *pk);
void proto_map_key(proto_map *m, const char *key);
void proto_map_put_str(proto_map *m, const char *key, const char *v);
void proto_map_put_u64(proto_map *m, const char *key, uint64_t v);
void proto_map_put_bool(proto_map *m, const char *key, int v);
void proto_map_put_bin(proto_map *m, const char *key, const void *v, size_t n);
int  proto_map_end(proto_map *m);

/* Position `out` on the value of `key` in the top-level map in buf.  0 if found. */
int proto_map_find(const uint8_t *buf, size_t len, const char *key, proto_rd *out);
/* Convenience: copy a str value (NUL-terminated); 0, or -1 if absent/wrong/too long. */
int proto_map_str(const uint8_t *buf, size_t len, const char *key, char *out, size_t outlen);
int proto_map_u64(const uint8_t *buf, size_t len, const char *key, uint64_t *out);

#endif
