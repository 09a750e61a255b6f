/*
 * store/store_sum.c — the summary of every author's log: a hash chain per
 * author (db `sum`), the catalog digest built from it, and the migration
 * that builds `sum` for a store of schema 1.
 *
 *   chain_0 = SHA-256("catalogd-log" || author)
 *   chain_n = SHA-256(chain_{n-1} || be64(n) || rec_hash_n)
 *
 * rec_hash_n is the hash of the record the log holds at seq n (after a
 * fork, the winner).  chain_n therefore commits to the whole log 1..n: two
 * logs with equal chains at n hold the same records at every seq up to n,
 * unless someone found a SHA-256 collision.  The digest is SHA-256 over the
 * version vector in author order, each entry with its chain:
 *
 *   digest = SHA-256("catalogd-digest" || author || be64(seq) || chain_seq ...)
 *
 * so equal digests mean equal version vectors and equal logs: unlike a sum
 * (XOR) of record hashes, no choice of records can make two different
 * stores agree.
 *
 * A caller may rely on: the sum entry of (author, n) being written in the
 * same transaction as the log entry (chain_append_txn), and rewritten for
 * n..vv when a fork changes the record held at n (chain_rebuild_txn); the
 * digest being cached per committed LMDB transaction id, so it is computed
 * once per change, and never stale, even when another process wrote.
 */
#include "store/store_int.h"
#include "proto/util.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_TAG "catalogd-log"
#define DIGEST_TAG "catalogd-digest"

void chain_zero(const proto_id *author, uint8_t out[32])
{
    uint8_t buf[sizeof CHAIN_TAG - 1 + 32];
    memcpy(buf, CHAIN_TAG, sizeof CHAIN_TAG - 1);
    memcpy(buf + sizeof CHAIN_TAG - 1, author->b, 32);
    proto_sha256(buf, sizeof buf, out);
}

static void chain_next(const uint8_t prev[32], uint64_t seq, const uint8_t hash[32], uint8_t out[32])
{
    uint8_t buf[32 + 8 + 32];
    memcpy(buf, prev, 32);
    put_be64(buf + 32, seq);
    memcpy(buf + 40, hash, 32);
    proto_sha256(buf, sizeof buf, out);
}

static size_t sum_key(uint8_t k[40], const proto_id *author, uint64_t seq)
{
    memcpy(k, author->b, 32);
    put_be64(k + 32, seq);
    return 40;
}

int chain_get_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                  uint8_t chain[32], uint8_t hash[32])
{
    if (seq == 0) {
        chain_zero(author, chain);
        if (hash)
            memset(hash, 0, 32);
        return 0;
    }
    uint8_t kb[40];
    MDB_val k = { sum_key(kb, author, seq), kb }, v;
    int rc = mdb_get(txn, s->sum, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc || v.mv_size != 64)
        return -1;
    if (hash)
        memcpy(hash, v.mv_data, 32);
    if (chain)
        memcpy(chain, (uint8_t *)v.mv_data + 32, 32);
    return 0;
}

int chain_append_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash,
                     const uint8_t *known, uint8_t *out)
{
    return chain_append_cur(s, txn, NULL, author, seq, hash, known, out);
}

void store_chain_step(const uint8_t prev[32], uint64_t seq, const uint8_t hash[32], uint8_t out[32])
{
    chain_next(prev, seq, hash, out);
}

int chain_append_cur(store *s, MDB_txn *txn, MDB_cursor *cur, const proto_id *author, uint64_t seq,
                     const proto_id *hash, const uint8_t *known, uint8_t *out)
{
    return chain_append_pre(s, txn, cur, author, seq, hash, known, NULL, out);
}

int chain_append_pre(store *s, MDB_txn *txn, MDB_cursor *cur, const proto_id *author, uint64_t seq,
                     const proto_id *hash, const uint8_t *known, const store_pre *pre, uint8_t *out)
{
    uint8_t prev[32], val[64], kb[40];
    if (known)
        memcpy(prev, known, 32);
    else if (chain_get_txn(s, txn, author, seq - 1, prev, NULL))
        return -1;   /* the log is dense: seq-1 is held */
    memcpy(val, hash->b, 32);
    /* the caller's step holds only if it started from this very chain
     * value (it was computed before the records ahead of this one were
     * written, and a fork among them, say, changes it); it was computed
     * over the hash handed over with it, which is `hash` */
    if (pre && pre->chained && !memcmp(pre->chain_prev, prev, 32))
        memcpy(val + 32, pre->chain, 32);
    else
        chain_next(prev, seq, hash->b, val + 32);
    if (out)
        memcpy(out, val + 32, 32);
    MDB_val k = { sum_key(kb, author, seq), kb }, v = { 64, val };
    return (cur ? mdb_cursor_put(cur, &k, &v, 0) : mdb_put(txn, s->sum, &k, &v, 0)) ? -1 : 0;
}

int chain_rebuild_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash)
{
    uint8_t prev[32], val[64], kb[40];
    uint64_t top = vv_get_txn(s, txn, author);
    if (chain_get_txn(s, txn, author, seq - 1, prev, NULL))
        return -1;
    /* every later chain value depends on this one: rewrite up to the top */
    for (uint64_t n = seq; n <= top; n++) {
        MDB_val k = { sum_key(kb, author, n), kb }, v;
        if (n == seq) {
            memcpy(val, hash->b, 32);
        } else {
            if (mdb_get(txn, s->sum, &k, &v) || v.mv_size != 64)
                return -1;
            memcpy(val, v.mv_data, 32);
        }
        chain_next(prev, n, val, val + 32);
        v.mv_size = 64;
        v.mv_data = val;
        if (mdb_put(txn, s->sum, &k, &v, 0))
            return -1;
        memcpy(prev, val + 32, 32);
    }
    return 0;
}

int digest_txn(store *s, MDB_txn *txn, proto_id *out)
{
    /* only ever called in read transactions: what it sees is committed */
    size_t id = mdb_txn_id(txn);
    /* A read transaction's id is the last committed write: the cache is
     * valid exactly as long as nothing was committed since (by any process
     * sharing the store). */
    if (s->digest_ok && s->digest_id == id) {
        *out = s->digest;
        return 0;
    }
    MDB_cursor *c;
    MDB_val k, v;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, DIGEST_TAG, sizeof DIGEST_TAG - 1) || mdb_cursor_open(txn, s->vv, &c)) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), bad = 0;
    while (rc == 0) {
        if (k.mv_size == 32 && v.mv_size == 8) {
            uint8_t ent[32 + 8 + 32];
            uint64_t seq = get_be64(v.mv_data);
            memcpy(ent, k.mv_data, 32);
            memcpy(ent + 32, v.mv_data, 8);
            if (chain_get_txn(s, txn, (const proto_id *)k.mv_data, seq, ent + 40, NULL) ||
                !EVP_DigestUpdate(md, ent, sizeof ent)) {
                bad = 1;
                break;
            }
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    unsigned len = 0;
    if (bad || !EVP_DigestFinal_ex(md, out->b, &len) || len != 32) {
        EVP_MD_CTX_free(md);
        return -1;
    }
    EVP_MD_CTX_free(md);
    s->digest = *out;
    s->digest_id = id;
    s->digest_ok = 1;
    return 0;
}

int sum_migrate_txn(store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_cursor_open(txn, s->log, &c))
        return -1;
    /* log keys sort by (author, seq) and every log is dense, so each entry
     * extends the chain of the one before it */
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != 40) {
            rc = -1;
            break;
        }
        proto_id h;
        proto_record_hash(v.mv_data, v.mv_size, &h);
        if (chain_append_txn(s, txn, (const proto_id *)k.mv_data, get_be64((uint8_t *)k.mv_data + 32), &h,
                             NULL, NULL)) {
            rc = -1;
            break;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return -1;
    MDB_val dk = { 6, "digest" };
    rc = mdb_del(txn, s->meta, &dk, NULL);   /* the old XOR digest means nothing now */
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : -1;
}

/* ---- API ---- */

int store_chain_get(store *s, const proto_id *author, uint64_t seq, uint8_t chain[32], uint8_t hash[32])
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = chain_get_txn(s, txn, author, seq, chain, hash);
    mdb_txn_abort(txn);
    return rc;
}

int store_sums(store *s, const proto_id *author, uint64_t from, uint64_t to, store_sum_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t kb[40];
    if (from == 0)
        from = 1;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->sum, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k = { sum_key(kb, author, from), kb }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), stop = 0;
    while (!stop && rc == 0 && k.mv_size == 40 && !memcmp(k.mv_data, author->b, 32) && v.mv_size == 64) {
        uint64_t seq = get_be64((uint8_t *)k.mv_data + 32);
        if (seq > to)
            break;
        stop = cb(ctx, seq, v.mv_data, (uint8_t *)v.mv_data + 32);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

int store_vv_chains(store *s, store_vv_chain_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->vv, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), stop = 0;
    while (!stop && rc == 0) {
        uint8_t chain[32];
        if (k.mv_size == 32 && v.mv_size == 8 &&
            chain_get_txn(s, txn, k.mv_data, get_be64(v.mv_data), chain, NULL) == 0)
            stop = cb(ctx, k.mv_data, get_be64(v.mv_data), chain);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

int chain_truncate_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t top)
{
    MDB_cursor *c;
    uint8_t kb[40];
    if (top == UINT64_MAX)
        return 0;
    if (mdb_cursor_open(txn, s->sum, &c))
        return -1;
    int rc;
    for (;;) {   /* seek the first entry after top again after each delete */
        MDB_val k = { sum_key(kb, author, top + 1), kb }, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size != 40 || memcmp(k.mv_data, author->b, 32))
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? -1 : 0;
}
