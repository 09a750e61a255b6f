/*
 * store/store.c — opening and closing a store, its LMDB layout, the node's
 * identity, meta settings and the summary (store_info, digest); see store.h.
 *
 * The other files of the store: store_member.c (membership), store_apply.c
 * (the record rules: precheck, apply, writing our own records) and
 * store_read.c (reads, page release); store_int.h holds what they share.
 *
 * Layout: one LMDB environment, these named databases (all keys binary;
 * seq is 8-byte big-endian so keys sort):
 *   meta     name                              -> value
 *   log      author | seq                      -> record bytes (every version)
 *   ver      kind* | author | key 0 | seq      -> hash(32)          (history index)
 *   cur      kind* | author | key 0            -> seq(8) hash(32) flags(1)
 *   vv       author                            -> seq(8)
 *   members  id                                -> packed store_member
 *   endorse  subject | author                  -> op(1)
 *   forks    author | seq | hash               -> record bytes (losers of equivocation)
 *   sum      author | seq                      -> hash(32) chain(32)  (store_sum.c: the
 *            hash of the record log holds there, and the log's hash chain up to it)
 *   keys     member | from_seq                  -> spki   (store_keys.c: keys taken after
 *   keyown   key id                            -> member | from_seq    admission)
 *   apart    author | seq | hash               -> record bytes (store_apart.c: versions
 *            not valid under the key schedule in force, or after a seq with none)
 *   rekey    member | 'c' | cut                -> ()     (store_apart.c: a rekey's
 *            member | 'p' | cut | key id       -> spki    arrival rules, derived)
 * kind* is one length byte then the kind, so "a" never prefixes "ab".
 * keys and keyown came after schema 2 without a schema change: a store
 * made before them gets them empty at open, which is what it holds (no
 * rotation could be applied before them); so did apart and rekey (no
 * rekey could be derived before them).
 *
 * meta holds: schema (8, big-endian: STORE_SCHEMA), self (32: the node's
 * member id), genesis (32: the pinned alliance id), alliance (its name),
 * admission (8, big-endian: the genesis's endorsements to admit), policy
 * (the policy in force, store_policy.c), and settings put by
 * store_meta_put.  The digest is not stored: it is computed from vv and sum
 * (store_sum.c) and cached in memory per committed transaction.  Schema 1
 * had no sum and kept an XOR digest in meta; store_open migrates it.
 * A packed store_member is a msgpack array [status, code, name, address,
 * admitted_by, since_ms, spki]; endorsements are counted from endorse, never
 * stored.  An endorse op is MEMBER_OP_ADMIT or MEMBER_OP_EXPEL (store_member.c).
 *
 * A caller may rely on: store_open checking the schema of an existing store
 * and creating every database of a new one; store_bind_self never rebinding
 * a store to another node key.
 */
#include "store/store_int.h"
#include "proto/util.h"

#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int lmdb_err(char *err, size_t errlen, const char *what, int rc)
{
    return proto_err(err, errlen, "%s: %s", what, mdb_strerror(rc));
}

int store_set_durable(store *s, int on, char *err, size_t errlen)
{
    int rc = mdb_env_set_flags(s->env, MDB_NOMETASYNC, on ? 0 : 1);
    return rc ? lmdb_err(err, errlen, "durable mode", rc) : 0;
}

int store_open(const char *dir, size_t map_mb, store **out, char *err, size_t errlen)
{
    store *s = calloc(1, sizeof *s);
    MDB_txn *txn = NULL;
    int rc;
    if (!s)
        return proto_err(err, errlen, "out of memory");
    s->statm = -1;
#ifdef STORE_CHECK_HASHES
    s->check_hashes = 1;   /* a checking build: every hash handed over is computed again */
#endif
    if (mkdir(dir, 0700) && errno != EEXIST) {
        free(s);
        return proto_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    }
    if ((rc = mdb_env_create(&s->env)) ||
        (rc = mdb_env_set_maxdbs(s->env, 16)) ||
        (rc = mdb_env_set_mapsize(s->env, (map_mb ? map_mb : 4096) << 20)) ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0600))) {
        lmdb_err(err, errlen, dir, rc);
        goto fail;
    }
    s->statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
        (rc = mdb_dbi_open(txn, "log", MDB_CREATE, &s->log)) ||
        (rc = mdb_dbi_open(txn, "ver", MDB_CREATE, &s->ver)) ||
        (rc = mdb_dbi_open(txn, "cur", MDB_CREATE, &s->cur)) ||
        (rc = mdb_dbi_open(txn, "vv", MDB_CREATE, &s->vv)) ||
        (rc = mdb_dbi_open(txn, "members", MDB_CREATE, &s->members)) ||
        (rc = mdb_dbi_open(txn, "endorse", MDB_CREATE, &s->endorse)) ||
        (rc = mdb_dbi_open(txn, "forks", MDB_CREATE, &s->forks)) ||
        (rc = mdb_dbi_open(txn, "sum", MDB_CREATE, &s->sum)) ||
        (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &s->keys)) ||
        (rc = mdb_dbi_open(txn, "keyown", MDB_CREATE, &s->keyown)) ||
        (rc = mdb_dbi_open(txn, "apart", MDB_CREATE, &s->apart)) ||
        (rc = mdb_dbi_open(txn, "rekey", MDB_CREATE, &s->rekey))) {
        lmdb_err(err, errlen, "opening tables", rc);
        goto fail;
    }
    /* Schema version: written on creation, checked on every open, so a
     * future layout change can never be read with old code by accident. */
    MDB_val k = { 6, "schema" }, v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t sv[8];
        put_be64(sv, STORE_SCHEMA);
        v.mv_size = 8;
        v.mv_data = sv;
        /* a new store keeps a former member's records apart from the
         * start: nothing to move at its opens (see below) */
        uint8_t mark = 1;
        MDB_val fk = { 12, "former_apart" }, fv = { 1, &mark };
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0)) || (rc = mdb_put(txn, s->meta, &fk, &fv, 0))) {
            lmdb_err(err, errlen, "writing schema", rc);
            goto fail;
        }
    } else if (rc) {
        lmdb_err(err, errlen, "reading schema", rc);
        goto fail;
    } else if (v.mv_size == 8 && get_be64(v.mv_data) == 1) {
        /* schema 1: the log chains are built from the log, once */
        uint8_t sv[8];
        put_be64(sv, STORE_SCHEMA);
        MDB_val nv = { 8, sv };
        if (sum_migrate_txn(s, txn) || (rc = mdb_put(txn, s->meta, &k, &nv, 0))) {
            proto_err(err, errlen, "%s: migrating the store from schema 1 failed", dir);
            goto fail;
        }
    } else if (v.mv_size != 8 || get_be64(v.mv_data) != STORE_SCHEMA) {
        proto_err(err, errlen, "%s: store schema %llu, this program reads schema %d",
                  dir, v.mv_size == 8 ? (unsigned long long)get_be64(v.mv_data) : 0ULL, STORE_SCHEMA);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        lmdb_err(err, errlen, "opening store", rc);
        goto fail;
    }
    txn = NULL;
    /* A store written before membership was derived from the log (no
     * member_last) derives it once now, so that it agrees with every other
     * node holding the same records from the start.  In a transaction of
     * its own: if it cannot be done now (the map full), nothing of it is
     * written, the store opens as it was, and the next membership record
     * written replays (member_note_txn finds no member_last).  One whose
     * policy records were counted by the rule before decision 14's
     * sequential one (no "policy_pending" mark) derives again too. */
    if (mdb_txn_begin(s->env, NULL, 0, &txn) == 0) {
        uint8_t last[48];
        size_t ll = sizeof last;
        proto_id g;
        if (meta_id(s, txn, "genesis", &g) == 0 &&
            (meta_get_txn(s, txn, "member_last", last, &ll) ||
             (!policy_derived_txn(s, txn) && log_has_kind_txn(s, txn, "policy"))) &&
            member_rederive_txn(s, txn, NULL) == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
        txn = NULL;
        cache_clear(s);
    }
    /* A store derived by the rule before decision 16's records apart kept a
     * former member's records beyond its cut in its log when it took them
     * before the departure: derived once again now (those records derive
     * nothing beyond the cut) and moved apart (former_settle_txn), with a
     * mark so that it is done once.  A store that cannot be moved (the
     * derivation fails: a full map, say, whose cause the derivation does
     * not report) opens as it was, unmoved and unmarked, and tries again at
     * the next open; only a failed commit of a move fails the open. */
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) == 0) {
        uint8_t mark = 0;
        size_t ml = 1;
        proto_id g;
        if (meta_id(s, txn, "genesis", &g) == 0 && meta_get_txn(s, txn, "former_apart", &mark, &ml)) {
            mark = 1;
            if (member_rederive_txn(s, txn, NULL) || former_settle_txn(s, txn, 1, NULL) ||
                (rc = meta_put_txn(s, txn, "former_apart", &mark, 1))) {
                mdb_txn_abort(txn);
                rc = 0;   /* the store opens as it was: the move is tried again at the next open */
            } else {
                rc = mdb_txn_commit(txn);
            }
        } else {
            mdb_txn_abort(txn);
        }
        txn = NULL;
        cache_clear(s);
    }
    if (rc && rc != MDB_MAP_FULL) {
        lmdb_err(err, errlen, "moving former members' records beyond their cuts apart", rc);
        goto fail;
    }
    find_map(s);
    *out = s;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (s->env)
        mdb_env_close(s->env);
    if (s->statm >= 0)
        close(s->statm);
    free(s);
    return -1;
}

void store_close(store *s)
{
    if (!s)
        return;
    cache_clear(s);
    admit_memo_free(s);
    rekey_memo_free(s);
    member_closure_drop(s);
    mdb_env_close(s->env);
    if (s->statm >= 0)
        close(s->statm);
    free(s);
}

/* ---- backup ---- */

int store_backup_fd(store *s, int fd, char *err, size_t errlen)
{
    int rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT);
    return rc ? lmdb_err(err, errlen, "copying the store", rc) : 0;
}

int store_peek_self(const char *dir, proto_id *self, char *err, size_t errlen)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi meta;
    MDB_val k = { 4, "self" }, v;
    int rc, out = -1;
    /* MDB_NOLOCK: a backup is a plain file nobody else opens; without it
     * LMDB would create lock.mdb beside it even for reading. */
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 16)) ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) ||
        (rc = mdb_dbi_open(txn, "meta", 0, &meta))) {
        lmdb_err(err, errlen, dir, rc);
        goto done;
    }
    rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        out = 1;
    } else if (rc) {
        lmdb_err(err, errlen, dir, rc);
    } else if (v.mv_size != sizeof self->b) {
        proto_err(err, errlen, "%s: the store's node identity is malformed", dir);
    } else {
        memcpy(self->b, v.mv_data, sizeof self->b);
        out = 0;
    }
done:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return out;
}

/* ---- meta ---- */

int meta_get_txn(store *s, MDB_txn *txn, const char *name, void *buf, size_t *len)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    if (mdb_get(txn, s->meta, &k, &v))
        return -1;
    if (v.mv_size > *len)
        return -1;
    memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int meta_put_txn(store *s, MDB_txn *txn, const char *name, const void *val, size_t len)
{
    MDB_val k = { strlen(name), (void *)name }, v = { len, (void *)val };
    return mdb_put(txn, s->meta, &k, &v, 0);
}

int store_meta_put(store *s, const char *name, const void *val, size_t len)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, 0, &txn))
        return -1;
    if (meta_put_txn(s, txn, name, val, len)) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) ? -1 : 0;
}

int store_meta_get(store *s, const char *name, void *buf, size_t *len)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = meta_get_txn(s, txn, name, buf, len);
    mdb_txn_abort(txn);
    return rc;
}

int meta_id(store *s, MDB_txn *txn, const char *name, proto_id *out)
{
    size_t n = sizeof out->b;
    return meta_get_txn(s, txn, name, out->b, &n) || n != 32 ? -1 : 0;
}

int store_bind_self(store *s, const proto_id *self, char *err, size_t errlen)
{
    MDB_txn *txn;
    proto_id cur;
    if (mdb_txn_begin(s->env, NULL, 0, &txn))
        return proto_err(err, errlen, "store busy");
    if (meta_id(s, txn, "self", &cur) == 0) {
        mdb_txn_abort(txn);
        if (memcmp(&cur, self, sizeof cur))
            return proto_err(err, errlen, "this store belongs to another node key");
        return 0;
    }
    if (meta_put_txn(s, txn, "self", self->b, 32) || mdb_txn_commit(txn)) {
        return proto_err(err, errlen, "cannot record node identity in store");
    }
    return 0;
}

/* A node restored with a key voted in by a rekey (catalogctl join
 * --rekeyed) was bound to its new key's id at its first open; once the
 * store derives that key as member's key in force (keyown), the node is
 * that member.  Checked and written in one transaction, so a store whose
 * derivation no longer says so is never rebound. */
int store_rebind_self_rekeyed(store *s, const proto_id *member, const proto_id *key_id, char *err, size_t errlen)
{
    MDB_txn *txn;
    proto_id owner;
    if (mdb_txn_begin(s->env, NULL, 0, &txn))
        return proto_err(err, errlen, "store busy");
    if (key_owner_txn(s, txn, key_id, &owner) != STORE_KEY_CURRENT || memcmp(&owner, member, 32)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "the node key is not that member's key in force");
    }
    if (meta_put_txn(s, txn, "self", member->b, 32)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "cannot record node identity in store");
    }
    if (mdb_txn_commit(txn))
        return proto_err(err, errlen, "cannot record node identity in store");
    return 0;
}

/* ---- info ---- */

static uint64_t count_of(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    return mdb_stat(txn, dbi, &st) ? 0 : st.ms_entries;
}

static int count_members(void *ctx, const store_member *m)
{
    if (m->status == STORE_MEMBER_ACTIVE)
        ++*(uint64_t *)ctx;
    return 0;
}

int store_info_get(store *s, store_info *out)
{
    MDB_txn *txn;
    size_t n;
    memset(out, 0, sizeof *out);
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    out->has_self = meta_id(s, txn, "self", &out->self) == 0;
    out->has_genesis = meta_id(s, txn, "genesis", &out->genesis) == 0;
    n = sizeof out->alliance - 1;
    if (meta_get_txn(s, txn, "alliance", out->alliance, &n) == 0)
        out->alliance[n] = 0;
    uint32_t expulsion;
    policy_quorums_txn(s, txn, &out->admission, &expulsion);   /* of the policy in force */
    if (!out->has_genesis)
        out->admission = 1;
    digest_txn(s, txn, &out->digest);
    out->records = count_of(txn, s->log);
    out->current = count_of(txn, s->cur);
    out->authors = count_of(txn, s->vv);
    out->forks = count_of(txn, s->forks);
    mdb_txn_abort(txn);
    /* Pages freed by old transactions are reused, so the last page number
     * is the high-water mark a full map would hit, not live data. */
    MDB_envinfo ei;
    MDB_stat es;
    if (mdb_env_info(s->env, &ei) == 0 && mdb_env_stat(s->env, &es) == 0) {
        out->map_used = ((uint64_t)ei.me_last_pgno + 1) * es.ms_psize;
        out->map_size = ei.me_mapsize;
    }
    store_members(s, count_members, &out->members);
    return 0;
}

int store_digest_get(store *s, proto_id *digest, proto_id *genesis, int *has_genesis)
{
    MDB_txn *txn;
    proto_id g;
    /* A digest that cannot be computed must equal no other (an all-zero
     * one would make two failing nodes agree): random bytes. */
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) {
        RAND_bytes(digest->b, sizeof digest->b);
        return -1;
    }
    if (digest_txn(s, txn, digest))
        RAND_bytes(digest->b, sizeof digest->b);
    int hg = meta_id(s, txn, "genesis", &g) == 0;
    mdb_txn_abort(txn);
    if (genesis)
        *genesis = hg ? g : (proto_id){ { 0 } };
    if (has_genesis)
        *has_genesis = hg;
    return 0;
}

int store_alliance_forget(store *s, char *err, size_t errlen)
{
    static const char *const derived[] = { "genesis", "alliance", "admission", "member_last",
                                           "member_blocked", "genesis_unchecked" };
    MDB_txn *txn;
    int rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    MDB_dbi dbs[] = { s->log, s->ver, s->cur, s->vv, s->members, s->endorse, s->forks, s->sum, s->apart,
                      s->rekey };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++)
        if ((rc = mdb_drop(txn, dbs[i], 0))) {
            mdb_txn_abort(txn);
            return lmdb_err(err, errlen, "emptying the store", rc);
        }
    for (size_t i = 0; i < sizeof derived / sizeof derived[0]; i++) {
        MDB_val k = { strlen(derived[i]), (void *)derived[i] };
        rc = mdb_del(txn, s->meta, &k, NULL);
        if (rc && rc != MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return lmdb_err(err, errlen, "emptying the store", rc);
        }
    }
    cache_clear(s);
    author_changed(s, NULL);
    if ((rc = mdb_txn_commit(txn)))
        return lmdb_err(err, errlen, "commit", rc);
    return 0;
}
