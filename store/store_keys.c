/*
 * store/store_keys.c — a member's keys over time (DESIGN §2 "Key
 * rotation"): which key verifies a member's record at a given seq, which
 * member a key presented at the TLS handshake belongs to, and whether it
 * is that member's current key or one it retired.
 *
 * A member is admitted with a key (its member id is that key's hash, kept
 * in the members db); a member record with op `rotate`, written by the
 * member itself about itself and signed by its key current at that seq,
 * names a new key (the certificate in its body) from the next seq on.  So
 * the key of (member, seq) is the key of the entry of keys with the highest
 * from_seq <= seq, or the admission key if there is none.  The keys db holds
 * only keys taken after admission:
 *
 *   keys    member | from_seq(8)   -> the key's DER SubjectPublicKeyInfo
 *   keyown  key id (SHA-256 of it)  -> member(32) | from_seq(8)
 *
 * Entries are put by key_set_txn from any source (today a rotate record;
 * a rekey by quorum later passes the from_seq its quorum fixed).  A fork
 * of rotate records (two versions at one seq) is decided by the log's
 * winner (lowest hash): keys_fork_txn moves the entry when the winner
 * changes, so every node holding both versions has the same keys.
 *
 * A caller may rely on: key_at_txn and the lookups depending only on
 * committed records (members, keys), never on arrival order; keys being
 * up-ref'd (usable on any thread, after the store changed); the cache of
 * s->cache holding (member, from, until) so a key is never used outside
 * the seqs it signs.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "certs/certs.h"
#include "proto/util.h"

#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* ---- the rotate record ---- */

/* Whether r is a member record with op rotate (the rules are checked by
 * the member validator, store_member_validate, which calls
 * keys_rotate_validate). */
static int is_rotate(const proto_record *r)
{
    char op[16];
    return kind_of(r->kind)->id == KIND_MEMBER &&
           proto_body_copy_str(r, "op", op, sizeof op) == 0 && !strcmp(op, "rotate");
}

int keys_rotate_validate(const proto_record *r, char *err, size_t errlen)
{
    store_member m;
    proto_id subj;
    if (proto_unhex(r->key, subj.b, 32) || memcmp(&subj, &r->author, 32))
        return proto_err(err, errlen, "only a member itself may rotate its key");
    if (decode_cert_member(r, &m, err, errlen))
        return -1;
    if (!memcmp(&m.id, &subj, 32))
        return proto_err(err, errlen, "a rotation must name a new key, not the admitted one");
    return 0;
}

EVP_PKEY *store_rotate_key(const proto_record *r)
{
    store_member *m;
    EVP_PKEY *k = NULL;
    if (!is_rotate(r) || !(m = malloc(sizeof *m)))
        return NULL;
    if (decode_cert_member(r, m, NULL, 0) == 0)
        k = key_from_spki(m->spki, m->spki_len);
    free(m);
    return k;
}

/* ---- the tables ---- */

static void kk(uint8_t out[40], const proto_id *member, uint64_t from)
{
    memcpy(out, member->b, 32);
    put_be64(out + 32, from);
}

int key_set_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t from_seq,
                const uint8_t *spki, size_t len)
{
    uint8_t k[40], own[40];
    proto_id kid;
    if (from_seq < 2 || len == 0 || len > sizeof ((store_member *)0)->spki)
        return -1;
    kk(k, member, from_seq);
    SHA256(spki, len, kid.b);
    MDB_val kv = { 40, k }, vv = { len, (void *)spki }, ok = { 32, kid.b }, ov;
    if (mdb_put(txn, s->keys, &kv, &vv, 0))
        return -1;
    /* A key claimed by two members (one holder of both memberships) keeps
     * its first owner for the handshake; records verify per author anyway. */
    int rc = mdb_get(txn, s->keyown, &ok, &ov);
    if (rc == 0 && ov.mv_size == 40 && memcmp(ov.mv_data, member->b, 32))
        goto done;
    kk(own, member, from_seq);
    ov.mv_size = 40;
    ov.mv_data = own;
    if (mdb_put(txn, s->keyown, &ok, &ov, 0))
        return -1;
done:
    author_changed(s, member);
    cache_clear(s);
    return 0;
}

/* Remove the entry (member, from_seq) and its owner entry if it is this one. */
static int key_del_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t from_seq)
{
    uint8_t k[40];
    kk(k, member, from_seq);
    MDB_val kv = { 40, k }, v;
    if (mdb_get(txn, s->keys, &kv, &v))
        return 0;
    proto_id kid;
    SHA256(v.mv_data, v.mv_size, kid.b);
    MDB_val ok = { 32, kid.b }, ov;
    if (mdb_get(txn, s->keyown, &ok, &ov) == 0 && ov.mv_size == 40 && !memcmp(ov.mv_data, k, 40) &&
        mdb_del(txn, s->keyown, &ok, NULL))
        return -1;
    if (mdb_del(txn, s->keys, &kv, NULL))
        return -1;
    author_changed(s, member);
    cache_clear(s);
    return 0;
}

int keys_apply_rotate_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    store_member *m = malloc(sizeof *m);
    int rc = m ? 0 : -1;
    /* a certificate that no longer parses (it passed when stored) names no
     * key: it derives nothing, as an admission's does, rather than fail a
     * replay and with it every write */
    if (m && decode_cert_member(r, m, NULL, 0) == 0)
        rc = key_set_txn(s, txn, &r->author, r->seq + 1, m->spki, m->spki_len);
    free(m);
    return rc;
}

int keys_fork_txn(store *s, MDB_txn *txn, const proto_record *loser, const proto_record *winner)
{
    if (is_rotate(loser) && key_del_txn(s, txn, &loser->author, loser->seq + 1))
        return -1;
    if (is_rotate(winner) && keys_apply_rotate_txn(s, txn, winner))
        return -1;
    return 0;
}

/* ---- lookups ---- */

/* The entry of member's keys in force at seq: its spki (pointing into the
 * map) and from; *until gets the next entry's from_seq (0: none).
 * 0 found, 1 none (the admission key is in force), -1 error. */
static int entry_at(store *s, MDB_txn *txn, const proto_id *member, uint64_t seq,
                    MDB_val *spki, uint64_t *from, uint64_t *until)
{
    MDB_cursor *c;
    uint8_t k[40];
    int found = 1;
    *until = 0;
    if (mdb_cursor_open(txn, s->keys, &c))
        return -1;
    kk(k, member, seq == UINT64_MAX ? seq : seq + 1);
    MDB_val kv = { 40, k }, v;
    int rc = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
    if (rc == 0 && kv.mv_size == 40 && !memcmp(kv.mv_data, member->b, 32) &&
        get_be64((uint8_t *)kv.mv_data + 32) > seq)
        *until = get_be64((uint8_t *)kv.mv_data + 32);
    rc = rc == 0 ? mdb_cursor_get(c, &kv, &v, MDB_PREV) : mdb_cursor_get(c, &kv, &v, MDB_LAST);
    if (rc == 0 && kv.mv_size == 40 && !memcmp(kv.mv_data, member->b, 32) &&
        get_be64((uint8_t *)kv.mv_data + 32) <= seq) {
        *spki = v;
        *from = get_be64((uint8_t *)kv.mv_data + 32);
        found = 0;
    }
    mdb_cursor_close(c);
    return found;
}

EVP_PKEY *key_at_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t seq)
{
    size_t slot;
    memcpy(&slot, id->b, sizeof slot);
    slot &= KEYCACHE - 1;
    if (s->cache[slot].key && memcmp(&s->cache[slot].id, id, 32) == 0 && seq >= s->cache[slot].from &&
        (s->cache[slot].until == 0 || seq < s->cache[slot].until)) {
        EVP_PKEY_up_ref(s->cache[slot].key);
        return s->cache[slot].key;
    }
    store_member *m = malloc(sizeof *m);
    EVP_PKEY *k = NULL;
    MDB_val spki;
    uint64_t from = 0, until = 0;
    if (m && member_get_txn(s, txn, id, m) == 0 && m->status == STORE_MEMBER_ACTIVE) {
        int e = entry_at(s, txn, id, seq, &spki, &from, &until);
        if (e == 0)
            k = key_from_spki(spki.mv_data, spki.mv_size);
        else if (e == 1)
            k = key_from_spki(m->spki, m->spki_len);
    }
    free(m);
    if (k) {
        EVP_PKEY_free(s->cache[slot].key);
        s->cache[slot].id = *id;
        s->cache[slot].from = from;
        s->cache[slot].until = until;
        s->cache[slot].key = k;
        s->cache_any = 1;
        EVP_PKEY_up_ref(k);
    }
    return k;
}

EVP_PKEY *key_of_member_at_txn(store *s, MDB_txn *txn, const store_member *m, uint64_t seq)
{
    MDB_val spki;
    uint64_t from = 0, until = 0;
    int e = entry_at(s, txn, &m->id, seq, &spki, &from, &until);
    return e == 0 ? key_from_spki(spki.mv_data, spki.mv_size)
         : e == 1 ? key_from_spki(m->spki, m->spki_len) : NULL;
}

EVP_PKEY *store_member_key_at(store *s, const proto_id *id, uint64_t seq)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return NULL;
    EVP_PKEY *k = key_at_txn(s, txn, id, seq);
    mdb_txn_abort(txn);
    return k;
}

/* The id of member's current key (its admission key's id = the member id
 * when it never rotated) and the seq it signs from (1: since admission). */
static int current_txn(store *s, MDB_txn *txn, const proto_id *member, proto_id *key_id, uint64_t *from)
{
    MDB_val spki;
    uint64_t f = 1, until;
    int e = entry_at(s, txn, member, UINT64_MAX, &spki, &f, &until);
    if (e < 0)
        return -1;
    if (e == 1) {
        *key_id = *member;
        f = 1;
    } else {
        SHA256(spki.mv_data, spki.mv_size, key_id->b);
    }
    if (from)
        *from = f;
    return 0;
}

int store_key_current(store *s, const proto_id *member, proto_id *key_id, uint64_t *from_seq)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = current_txn(s, txn, member, key_id, from_seq);
    mdb_txn_abort(txn);
    return rc;
}

int key_owner_txn(store *s, MDB_txn *txn, const proto_id *key_id, proto_id *member)
{
    MDB_val ok = { 32, (void *)key_id->b }, ov;
    proto_id cur;
    /* an admission key is its member's, first: another member's rotate
     * naming it (its certificate is public, in the admit record) must not
     * take it over for the handshake or the genesis chain check */
    store_member *am = malloc(sizeof *am);
    if (!am)
        return -1;
    int arc = member_get_txn(s, txn, key_id, am);
    free(am);
    if (arc < 0)
        return -1;
    if (arc == 0) {
        *member = *key_id;
        if (current_txn(s, txn, key_id, &cur, NULL))
            return -1;
        return memcmp(&cur, key_id, 32) ? STORE_KEY_RETIRED : STORE_KEY_CURRENT;
    }
    int rc = mdb_get(txn, s->keyown, &ok, &ov);
    if (rc == 0 && ov.mv_size == 40) {
        memcpy(member->b, ov.mv_data, 32);
        uint64_t from = get_be64((uint8_t *)ov.mv_data + 32), cf;
        if (current_txn(s, txn, member, &cur, &cf))
            return -1;
        return cf == from ? STORE_KEY_CURRENT : STORE_KEY_RETIRED;
    }
    if (rc != MDB_NOTFOUND && rc)
        return -1;
    /* an admission key: its hash is the member id */
    *member = *key_id;
    store_member *m = malloc(sizeof *m);
    if (!m)
        return -1;
    rc = member_get_txn(s, txn, key_id, m);
    free(m);
    if (rc)
        return rc < 0 ? -1 : STORE_KEY_UNKNOWN;
    if (current_txn(s, txn, key_id, &cur, NULL))
        return -1;
    return memcmp(&cur, key_id, 32) ? STORE_KEY_RETIRED : STORE_KEY_CURRENT;
}

int store_key_owner(store *s, const proto_id *key_id, proto_id *member)
{
    MDB_txn *txn;
    *member = *key_id;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = key_owner_txn(s, txn, key_id, member);
    mdb_txn_abort(txn);
    return rc;
}

int store_keys_of(store *s, const proto_id *member, store_key_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t k[40];
    int rc = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    kk(k, member, 0);
    MDB_val kv = { 40, k }, v;
    if (mdb_cursor_open(txn, s->keys, &c) == 0) {
        int g = mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE);
        while (rc == 0 && g == 0 && kv.mv_size == 40 && !memcmp(kv.mv_data, member->b, 32)) {
            proto_id kid;
            SHA256(v.mv_data, v.mv_size, kid.b);
            rc = cb(ctx, get_be64((uint8_t *)kv.mv_data + 32), &kid);
            g = mdb_cursor_get(c, &kv, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

int keys_check_signer_txn(store *s, MDB_txn *txn, const proto_id *self, uint64_t seq, EVP_PKEY *priv,
                          char *err, size_t errlen)
{
    EVP_PKEY *k = key_at_txn(s, txn, self, seq);
    int same = k && EVP_PKEY_eq(k, priv) == 1;
    EVP_PKEY_free(k);
    if (!k || same)
        return 0;   /* not a member: the caller says so */
    return proto_err(err, errlen, "the node key is not this member's current key "
                     "(retired by a key rotation: start the daemon, which takes the new key)");
}

int store_peek_key_owner(const char *dir, const proto_id *key_id, proto_id *member, char *err, size_t errlen)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi own;
    MDB_val k = { 32, (void *)key_id->b }, v;
    int rc, out = -1;
    /* as store_peek_self: a backup nobody else opens, no lock file made */
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 16)) ||
        (rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600)) ||
        (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))) {
        lmdb_err(err, errlen, dir, rc);
        goto done;
    }
    if (mdb_dbi_open(txn, "keyown", 0, &own) || mdb_get(txn, own, &k, &v) || v.mv_size != 40) {
        out = 1;   /* no rotation in that store, or not of this key */
        goto done;
    }
    memcpy(member->b, v.mv_data, 32);
    out = 0;
done:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return out;
}

int keys_unrotate_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    if (!is_rotate(r))
        return 0;
    store_member *m = malloc(sizeof *m);
    if (!m)
        return -1;
    int rc = 0;
    if (decode_cert_member(r, m, NULL, 0) == 0) {
        uint8_t k[40];
        kk(k, &r->author, r->seq + 1);
        MDB_val kv = { 40, k }, v;
        if (mdb_get(txn, s->keys, &kv, &v) == 0 && v.mv_size == m->spki_len &&
            !memcmp(v.mv_data, m->spki, m->spki_len))
            rc = key_del_txn(s, txn, &r->author, r->seq + 1);
    }
    free(m);
    return rc;
}
