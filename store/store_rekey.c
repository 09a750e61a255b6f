/*
 * store/store_rekey.c — a lost or stolen key replaced by other members
 * (DESIGN §2 "Lost or stolen key", docs/DECISIONS.md "Rekey by quorum").
 *
 * A member record with op `rekey`, key X's member id, written by a member
 * other than X, is one vote: body cert (X's new certificate), seq (the
 * highest seq of X's log the voter held when it voted) and reason.  Votes
 * are kept per (subject, voter) in meta "rk:" + X hex + voter hex ->
 * key id(32) | seq(8) | spki; a voter's later vote replaces its earlier one
 * (the endorse table, and with it admissions and expulsions, is untouched).
 * When, in the replay's order, min(the expulsion quorum in force at the
 * vote's time, active members other than X) active voters name the same
 * new key, the rekey takes effect: its cut is the lowest seq those votes
 * name, the new key signs X's log from cut + 1 (key_set_txn), any key X
 * took after the cut is dropped, and meta "rekeyed:" + X hex -> cut(8) |
 * key id(32) says so.  The records of X beyond the cut this node holds are
 * dropped unless the first of them verifies under the new key (then they
 * were written by X's restored node after the rekey: log_truncate_txn).
 * Both meta prefixes are derived: the replay clears them and applies the
 * votes again in their turn.
 *
 * A caller may rely on: rekey_refused_txn telling a record signed by the
 * old key beyond a cut (refused, its sender not closed) from a forgery.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

#define RK_PFX "rk:"
#define RKD_PFX "rekeyed:"

int keys_rekey_validate(const proto_record *r, char *err, size_t errlen)
{
    store_member m;
    proto_id subj;
    char reason[STORE_REKEY_REASON_MAX + 1];
    int64_t seq = -1;
    if (proto_unhex(r->key, subj.b, 32) || !memcmp(&subj, &r->author, 32))
        return proto_err(err, errlen, "a member cannot rekey itself (rotate its key instead)");
    if (decode_cert_member(r, &m, err, errlen))
        return -1;
    if (!memcmp(&m.id, &subj, 32))
        return proto_err(err, errlen, "a rekey must name a new key, not the admitted one");
    if (proto_body_get_int(r, "seq", &seq) || seq < 0)
        return proto_err(err, errlen, "a rekey must name the seq of the member's log its author held");
    if (proto_body_copy_str(r, "reason", reason, sizeof reason) || !reason[0])
        return proto_err(err, errlen, "a rekey must give a reason of 1 to %d bytes", STORE_REKEY_REASON_MAX);
    for (const unsigned char *p = (const unsigned char *)reason; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return proto_err(err, errlen, "a rekey's reason must be one line without control characters");
    return 0;
}

static void vote_name(char out[RK_NAME], const proto_id *subj, const proto_id *voter)
{
    memcpy(out, RK_PFX, 3);
    proto_hex(subj->b, 32, out + 3);
    if (voter)
        proto_hex(voter->b, 32, out + 3 + 64);
}

static void done_name(char out[80], const proto_id *subj)
{
    memcpy(out, RKD_PFX, 8);
    proto_hex(subj->b, 32, out + 8);
}

int rekey_get_txn(store *s, MDB_txn *txn, const proto_id *subj, uint64_t *cut, proto_id *key_id)
{
    char name[80];
    uint8_t b[40];
    size_t n = sizeof b;
    done_name(name, subj);
    if (meta_get_txn(s, txn, name, b, &n) || n != 40)
        return 1;
    *cut = get_be64(b);
    if (key_id)
        memcpy(key_id->b, b + 8, 32);
    return 0;
}

/* Whether spki is one of subj's keys so far (admitted, rotated, rekeyed). */
static int known_key(store *s, MDB_txn *txn, const store_member *m, const proto_id *kid)
{
    if (!memcmp(kid, &m->id, 32))
        return 1;
    proto_id owner;
    MDB_val ok = { 32, (void *)kid->b }, ov;
    if (mdb_get(txn, s->keyown, &ok, &ov) == 0 && ov.mv_size == 40) {
        memcpy(owner.b, ov.mv_data, 32);
        return !memcmp(&owner, &m->id, 32);
    }
    return 0;
}

/* Drop subj's key entries from `from` on (keys a thief took after the cut). */
static int keys_drop_from_txn(store *s, MDB_txn *txn, const proto_id *subj, uint64_t from)
{
    MDB_cursor *c;
    uint8_t k[40];
    memcpy(k, subj->b, 32);
    put_be64(k + 32, from);
    if (mdb_cursor_open(txn, s->keys, &c))
        return -1;
    int ret = 0;
    for (;;) {
        MDB_val kv = { 40, k }, v;
        if (mdb_cursor_get(c, &kv, &v, MDB_SET_RANGE) || kv.mv_size != 40 || memcmp(kv.mv_data, subj->b, 32))
            break;
        proto_id kid;
        proto_sha256(v.mv_data, v.mv_size, kid.b);
        MDB_val ok = { 32, kid.b }, ov;
        if (mdb_get(txn, s->keyown, &ok, &ov) == 0 && ov.mv_size == 40 && !memcmp(ov.mv_data, kv.mv_data, 40) &&
            mdb_del(txn, s->keyown, &ok, NULL)) {
            ret = -1;
            break;
        }
        if (mdb_cursor_del(c, 0)) {
            ret = -1;
            break;
        }
    }
    mdb_cursor_close(c);
    cache_clear(s);
    return ret;
}

int apply_rekey_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    proto_id subj;
    store_member *m = malloc(sizeof *m), *nk = malloc(sizeof *nk);
    int ret = -1;
    if (!m || !nk)
        goto out;
    proto_unhex(r->key, subj.b, 32);
    ret = 0;
    if (member_get_txn(s, txn, &subj, m) != 0 || m->status != STORE_MEMBER_ACTIVE)
        goto out;   /* only an active member's key is replaced */
    if (decode_cert_member(r, nk, NULL, 0))
        goto out;   /* a certificate no longer parsing derives nothing */
    int64_t seq = 0;
    proto_body_get_int(r, "seq", &seq);
    /* the vote: key id | seq | spki, replacing this voter's earlier one */
    char name[RK_NAME];
    uint8_t val[40 + sizeof nk->spki];
    vote_name(name, &subj, &r->author);
    memcpy(val, nk->id.b, 32);
    put_be64(val + 32, seq > 0 ? (uint64_t)seq : 0);
    memcpy(val + 40, nk->spki, nk->spki_len);
    ret = -1;
    if (meta_put_txn(s, txn, name, val, 40 + nk->spki_len))
        goto out;
    ret = 0;
    if (known_key(s, txn, m, &nk->id))
        goto out;   /* in force already (or an old key of X): nothing to do */
    /* count the active voters naming this key; the cut is their lowest seq */
    uint32_t admission, expulsion, active = 0, votes = 0;
    uint64_t cut = UINT64_MAX;
    policy_quorums_at_txn(s, txn, r->time_ms, &admission, &expulsion);
    MDB_cursor *c;
    ret = -1;
    if (mdb_cursor_open(txn, s->members, &c))
        goto out;
    MDB_val k, v;
    for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
        store_member em;
        if (k.mv_size == 32 && memcmp(k.mv_data, subj.b, 32) &&
            member_get_txn(s, txn, k.mv_data, &em) == 0 && em.status == STORE_MEMBER_ACTIVE)
            active++;
    }
    mdb_cursor_close(c);
    if (mdb_cursor_open(txn, s->meta, &c))
        goto out;
    vote_name(name, &subj, NULL);
    k.mv_size = 3 + 64;
    k.mv_data = name;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 3 + 128 && !memcmp(k.mv_data, name, 3 + 64);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        proto_id voter;
        store_member em;
        char vh[65];
        memcpy(vh, (char *)k.mv_data + 3 + 64, 64);
        vh[64] = 0;
        if (v.mv_size < 40 || memcmp(v.mv_data, nk->id.b, 32) || proto_unhex(vh, voter.b, 32) ||
            member_get_txn(s, txn, &voter, &em) != 0 || em.status != STORE_MEMBER_ACTIVE)
            continue;   /* another key, or a voter not active now */
        votes++;
        uint64_t sq = get_be64((uint8_t *)v.mv_data + 32);
        if (sq < cut)
            cut = sq;
    }
    mdb_cursor_close(c);
    uint32_t need = expulsion < active ? expulsion : active;
    if (need < 1)
        need = 1;
    ret = 0;
    if (votes < need)
        goto out;
    /* the quorum: the new key from cut + 1, nothing X took after the cut */
    uint8_t done[40];
    char dn[80];
    put_be64(done, cut);
    memcpy(done + 8, nk->id.b, 32);
    done_name(dn, &subj);
    ret = -1;
    if (keys_drop_from_txn(s, txn, &subj, cut + 1) ||
        key_set_txn(s, txn, &subj, cut + 1, nk->spki, nk->spki_len) ||
        meta_put_txn(s, txn, dn, done, sizeof done) ||
        log_truncate_txn(s, txn, &subj, cut))
        goto out;
    ret = 0;
out:
    free(m);
    free(nk);
    return ret;
}

/* Forget every vote and rekey (the replay derives them again). */
static int clear_prefix(store *s, MDB_txn *txn, const char *pfx)
{
    MDB_cursor *c;
    size_t pl = strlen(pfx);
    int rc;
    if (mdb_cursor_open(txn, s->meta, &c))
        return -1;
    for (;;) {
        MDB_val k = { pl, (void *)pfx }, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < pl || memcmp(k.mv_data, pfx, pl))
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? -1 : 0;
}

int rekey_clear_txn(store *s, MDB_txn *txn)
{
    return clear_prefix(s, txn, RK_PFX) || clear_prefix(s, txn, RKD_PFX) ? -1 : 0;
}

int store_rekey_of(store *s, const proto_id *subj, uint64_t *cut, proto_id *key_id)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = rekey_get_txn(s, txn, subj, cut, key_id);
    mdb_txn_abort(txn);
    return rc;
}

int store_rekey_refused(store *s, const proto_record *r, uint64_t *cut)
{
    proto_id kid;
    *cut = 0;
    /* beyond a rekey's cut, a record that failed under the new key is
     * taken for one the old key signed: refused, never a reason to close
     * a relay that may have stored it before the rekey reached it */
    return store_rekey_of(s, &r->author, cut, &kid) == 0 && r->seq > *cut;
}
