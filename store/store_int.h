/*
 * store/store_int.h — private to store/: the store's state and the helpers
 * its files share.  Nothing outside store/ includes this; the API is
 * store/store.h.
 *
 * The files of the store (OpenBSD bgpd style, one concern each):
 *   store.c         open/close, the LMDB layout, node identity, meta, info
 *   store_member.c  membership: member records, endorsements, member keys
 *   store_apply.c   the record rules: precheck, apply, signing our records
 *   store_read.c    reads, and releasing the pages reads have mapped
 *   store_sum.c     the per-author hash chains (db sum) and the digest
 *
 * Functions named *_txn work inside a transaction the caller owns and never
 * commit or abort it.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include "store/store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <openssl/evp.h>

#define KEYCACHE 4096   /* slots, power of two; more members than this just miss */

/* The store's pages mapped in this process are released when they have
 * grown past SCAN_RELEASE, checked every SCAN_CHECK bytes a scan reads and
 * after every write transaction. */
#define SCAN_RELEASE (8u << 20)
#define SCAN_CHECK (512u << 10)

struct store {
    MDB_env *env;
    size_t scanned;         /* bytes read by scans since the last release */
    void *map;              /* LMDB's map of the data file, if found */
    int statm;              /* /proc/self/statm, to see how much is mapped */
    long mapped_base;       /* mapped pages after the last release */
    size_t map_len;
    MDB_dbi meta, log, ver, cur, vv, members, endorse, forks, sum;   /* see store.c */
    /* the digest as of committed transaction digest_id (store_sum.c) */
    int digest_ok;
    size_t digest_id;
    proto_id digest;
    struct { proto_id id; EVP_PKEY *key; } cache[KEYCACHE];    /* member keys by id */
};

/* ---- key encodings (store.c describes the layout) ---- */

/* seq and other counters: 8-byte big-endian, so keys sort by value. */
static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* The longest cur key plus a seq: the size of a buffer for ck_key. */
#define CK_MAX (1 + PROTO_KIND_MAX + 32 + PROTO_KEY_MAX + 1 + 8)

/* kind* | author | key 0  — returns length; buf must hold CK_MAX
 * (1+32+32+256+1+8).  The key of cur, and the prefix of ver. */
static inline size_t ck_key(uint8_t *buf, const char *kind, const proto_id *author, const char *key)
{
    size_t kl = strlen(kind), yl = strlen(key), o = 0;
    buf[o++] = (uint8_t)kl;
    memcpy(buf + o, kind, kl);
    o += kl;
    memcpy(buf + o, author->b, 32);
    o += 32;
    memcpy(buf + o, key, yl);
    o += yl;
    buf[o++] = 0;
    return o;
}

/* ---- store.c ---- */

/* Format an LMDB failure into err; returns -1. */
int lmdb_err(char *err, size_t errlen, const char *what, int rc);
/* meta entry `name` into buf (*len: its size in, the value's length out):
 * 0, or -1 if absent or longer than *len. */
int meta_get_txn(store *s, MDB_txn *txn, const char *name, void *buf, size_t *len);
/* Write meta entry `name`: 0 or an LMDB error code. */
int meta_put_txn(store *s, MDB_txn *txn, const char *name, const void *val, size_t len);
/* A 32-byte meta entry (self, genesis): 0, or -1 if absent. */
int meta_id(store *s, MDB_txn *txn, const char *name, proto_id *out);

/* ---- store_member.c ---- */

/* A member as a genesis or admit record describes it (key from the cert,
 * code, name, address); status and the rest zero.  0, or -1 with a message
 * naming r->kind. */
int decode_cert_member(const proto_record *r, store_member *m, char *err, size_t errlen);
/* Write a member entry; empties the key cache.  0 or -1. */
int member_put_txn(store *s, MDB_txn *txn, const store_member *m);
/* Whether id is an active member now. */
int is_member_txn(store *s, MDB_txn *txn, const proto_id *id);
/* The public key of an active member (up-ref'd; caller frees), or NULL.
 * Cached in s->cache. */
EVP_PKEY *member_key_txn(store *s, MDB_txn *txn, const proto_id *id);
/* An EVP_PKEY from a DER SubjectPublicKeyInfo, or NULL. */
EVP_PKEY *key_from_spki(const uint8_t *der, size_t len);
/* Drop every cached member key: after membership changes, and after an
 * aborted write (the cache may hold keys the abort took back). */
void cache_clear(store *s);
/* Derive membership from a checked and verified member record, inside the
 * write transaction that stores it.  0 or -1. */
int apply_member(store *s, MDB_txn *txn, const proto_record *r);

/* Validators of the kinds table (store/kind.c): the rules that depend on
 * the record alone.  0, or -1 with a message. */
int store_member_validate(const proto_record *r, char *err, size_t errlen);

/* ---- store_read.c ---- */

/* Find where LMDB mapped the data file (at open); see store_release_pages. */
void find_map(store *s);
/* Account for n bytes read through the map (SCAN_CHECK: check now, as after
 * every write transaction) and release the mapped pages past a bound. */
void scanned(store *s, size_t n);
/* The author's highest seq held, 0 if none. */
uint64_t vv_get_txn(store *s, MDB_txn *txn, const proto_id *author);


/* ---- store_sum.c ---- */

/* chain_0 of an author's log. */
void chain_zero(const proto_id *author, uint8_t out[32]);
/* The chain (and record hash) at seq; seq 0 gives chain_0 and a zero hash.
 * 0, 1 if not held, -1 on error.  chain or hash may be NULL. */
int chain_get_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                  uint8_t chain[32], uint8_t hash[32]);
/* The sum entry of a record just appended to the log at seq: 0 or -1.
 * prev: chain_{seq-1} if the caller knows it (a batch appending a run of
 * one author's log), NULL to read it; out (may be NULL): chain_seq. */
int chain_append_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash,
                     const uint8_t *prev, uint8_t *out);
/* The record held at seq is now the one with `hash` (a fork's new winner):
 * rewrite the sum entries seq..vv.  0 or -1. */
int chain_rebuild_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash);
/* The catalog digest (in a read transaction; cached per committed txn). */
int digest_txn(store *s, MDB_txn *txn, proto_id *out);
/* Schema 1 -> 2: build sum from log and drop the XOR digest.  0 or -1. */
int sum_migrate_txn(store *s, MDB_txn *txn);

#endif
