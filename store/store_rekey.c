/*
 * store/store_rekey.c — a lost or stolen key replaced by other members
 * (DESIGN §2 "Lost or stolen key", docs/DECISIONS.md 20 "Rekey by quorum").
 *
 * A member record with op `rekey`, key X's member id, written by a member
 * other than X, is one vote: body cert (X's new certificate), seq (>= 1:
 * the highest seq of X's log the voter held when it voted) and reason.
 * Votes are kept per (subject, voter) in meta "rk:" + X hex + voter hex ->
 * key id(32) | seq(8) | spki; a voter's later vote replaces its earlier one
 * (the endorse table, and with it admissions and expulsions, is untouched).
 * Votes are applied by the replay only (an incremental vote marks the
 * transaction for one): when, in the replay's order, min(the expulsion
 * quorum in force at the vote's time, active members other than X) active
 * voters name the same new key, the rekey takes effect, whatever X's status
 * (a former X stays former, with the new key): its cut is the lowest seq
 * those votes name, the new key signs X's log from cut + 1 (key_set_txn),
 * any key X took after the cut is dropped, and meta "rekeyed:" + X hex ->
 * cut(8) | key id(32) says so.  Both meta prefixes are derived: the replay
 * clears them and applies the votes again in their turn.
 *
 * Nothing is refused, dropped or kept on derived state that can change:
 * the replay decides rekeys in rounds with X's records beyond each
 * candidate cut left out unless the new key signs them (store_replay.c),
 * so a thief's early-dated leave or rotate cannot block the rekey on the
 * nodes that hold it; and X's records beyond the cut that only the old key
 * verifies go to quarantine (the quar table), out of the log, the digest
 * and everything derived, and come back when a later replay moves the cut
 * up or drops the rekey (rekey_reconcile_txn, store_apply.c).  Every node
 * holding the same records derives the same, in whatever order they came.
 *
 * A caller may rely on: store_quarantine_offer telling a record of the old
 * key beyond a cut (quarantined or refused, its sender not closed) from a
 * forgery.
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
    /* seq 0 would cut the whole log and let nothing of the old key stand:
     * the member's admission itself is the first thing the quorum keeps */
    if (proto_body_get_int(r, "seq", &seq) || seq < 1)
        return proto_err(err, errlen, "a rekey must name the seq (1 or more) of the member's log its author held");
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

/* Active members other than subj (the quorum's ceiling). */
static int active_others_txn(store *s, MDB_txn *txn, const proto_id *subj, uint32_t *active)
{
    MDB_cursor *c;
    MDB_val k, v;
    *active = 0;
    if (mdb_cursor_open(txn, s->members, &c))
        return -1;
    for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
        store_member em;
        if (k.mv_size == 32 && memcmp(k.mv_data, subj->b, 32) &&
            member_get_txn(s, txn, k.mv_data, &em) == 0 && em.status == STORE_MEMBER_ACTIVE)
            (*active)++;
    }
    mdb_cursor_close(c);
    return 0;
}

/* Whether subj wrote a membership record beyond seq cand: the replay's
 * rounds leave it out, so whose standing counts may differ there. */
static int member_recs_beyond_txn(store *s, MDB_txn *txn, const proto_id *subj, uint64_t cand)
{
    uint8_t pfx[1 + 6 + 32];
    pfx[0] = 6;
    memcpy(pfx + 1, "member", 6);
    memcpy(pfx + 7, subj->b, 32);
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->ver, &c))
        return -1;
    MDB_val k = { sizeof pfx, pfx }, v;
    int found = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= sizeof pfx + 8 && !memcmp(k.mv_data, pfx, sizeof pfx) && !found;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        found = get_be64((uint8_t *)k.mv_data + k.mv_size - 8) > cand;
    mdb_cursor_close(c);
    return found;
}

/* A vote applied outside a replay (the vote table updated already): 1 when
 * a replay must decide (it may complete or undo a rekey), else 0.  It may
 * when a rekey of subj is in force (the vote may move its cut or undo it),
 * when the voters naming the key (whatever their status: an upper bound
 * of those the replay counts, and the key counted even if subj holds it,
 * as a round leaving subj's records out may not) reach min(the expulsion
 * quorum at the vote's time, active members other than subj), or when a
 * subject of votes wrote membership records beyond its candidate cut (a
 * round leaves them out, and statuses may differ there).  Otherwise the
 * replay with this vote derives what it derived without it: no replay,
 * so a flood of votes below the quorum costs one lookup each. */
static int vote_may_decide_txn(store *s, MDB_txn *txn, const proto_id *subj, const proto_id *kid,
                               uint64_t time_ms)
{
    uint64_t cut;
    if (rekey_get_txn(s, txn, subj, &cut, NULL) == 0)
        return 1;
    uint32_t admission, expulsion, active;
    policy_quorums_at_txn(s, txn, time_ms, &admission, &expulsion);
    if (active_others_txn(s, txn, subj, &active))
        return -1;
    uint32_t need = expulsion < active ? expulsion : active, votes = 0;
    if (need < 1)
        need = 1;
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->meta, &c))
        return -1;
    /* the whole vote table: its subjects' candidate cuts, this key's voters */
    MDB_val k = { 3, RK_PFX }, v;
    proto_id cur = { { 0 } };
    uint64_t cand = UINT64_MAX;
    int have = 0, ret = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        int more = rc == 0 && k.mv_size == 3 + 128 && !memcmp(k.mv_data, RK_PFX, 3);
        proto_id sj;
        char hx[65];
        if (more) {
            memcpy(hx, (char *)k.mv_data + 3, 64);
            hx[64] = 0;
            if (v.mv_size <= 40 || proto_unhex(hx, sj.b, 32))
                continue;
        }
        if (have && (!more || memcmp(&sj, &cur, 32))) {
            int b = member_recs_beyond_txn(s, txn, &cur, cand);
            if (b) {
                ret = b;
                break;
            }
            have = 0;
        }
        if (!more)
            break;
        if (!have) {
            cur = sj;
            cand = UINT64_MAX;
            have = 1;
        }
        uint64_t sq = get_be64((uint8_t *)v.mv_data + 32);
        if (sq < cand)
            cand = sq;
        if (!memcmp(&sj, subj, 32) && !memcmp(v.mv_data, kid->b, 32))
            votes++;
    }
    mdb_cursor_close(c);
    if (ret)
        return ret;
    return votes >= need;
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
    /* a former or expelled member's key is replaced too: its status,
     * which a thief's early-dated leave can set, must not block it */
    if (member_get_txn(s, txn, &subj, m) != 0)
        goto out;
    if (decode_cert_member(r, nk, NULL, 0))
        goto out;   /* a certificate no longer parsing derives nothing */
    int64_t seq = 0;
    proto_body_get_int(r, "seq", &seq);
    /* the vote: key id | seq | spki, replacing this voter's earlier one */
    char name[RK_NAME];
    uint8_t val[40 + sizeof nk->spki];
    vote_name(name, &subj, &r->author);
    memcpy(val, nk->id.b, 32);
    put_be64(val + 32, seq > 0 ? (uint64_t)seq : 1);
    memcpy(val + 40, nk->spki, nk->spki_len);
    ret = -1;
    if (meta_put_txn(s, txn, name, val, 40 + nk->spki_len))
        goto out;
    ret = 0;
    if (!s->in_replay) {
        /* applied in the replay's order (member_note_txn marks a vote that
         * is not): the vote table is what the replay would hold now; the
         * replay runs only when this vote may change a decision */
        int d = vote_may_decide_txn(s, txn, &subj, &nk->id, r->time_ms);
        if (d < 0)
            ret = -1;
        else if (d)
            s->member_dirty = 1;
        goto out;
    }
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
        meta_put_txn(s, txn, dn, done, sizeof done))
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

/* ---- the rekeys of a replay round ---- */

int rekey_list_txn(store *s, MDB_txn *txn, uint8_t *buf, size_t max)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->meta, &c))
        return -1;
    size_t n = 0;
    MDB_val k = { 8, RKD_PFX }, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 8 + 64 && !memcmp(k.mv_data, RKD_PFX, 8) && n < max;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char hx[65];
        memcpy(hx, (char *)k.mv_data + 8, 64);
        hx[64] = 0;
        if (v.mv_size != 40 || proto_unhex(hx, buf + n * RK_ENTRY, 32))
            continue;
        memcpy(buf + n * RK_ENTRY + 32, v.mv_data, 40);
        n++;
    }
    mdb_cursor_close(c);
    return (int)n;
}

void rekey_excl_free(rk_excl *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < e[i].nkeys; j++)
            EVP_PKEY_free(e[i].keys[j]);
}

/* Add the key of vote value v (key id | seq | spki) to e unless held. */
static void excl_add_key(rk_excl *e, const uint8_t *v, size_t vl, uint8_t ids[RK_EXCL_KEYS][32])
{
    for (size_t j = 0; j < e->nkeys; j++)
        if (!memcmp(ids[j], v, 32))
            return;
    if (e->nkeys == RK_EXCL_KEYS)
        return;
    EVP_PKEY *k = key_from_spki(v + 40, vl - 40);
    if (!k)
        return;
    memcpy(ids[e->nkeys], v, 32);
    e->keys[e->nkeys++] = k;
}

int rekey_excl_txn(store *s, MDB_txn *txn, int candidate, rk_excl *out, size_t max)
{
    uint8_t *done = NULL;
    int nd = 0;
    if (!candidate) {
        if (!(done = malloc(max * RK_ENTRY)) || (nd = rekey_list_txn(s, txn, done, max)) < 0) {
            free(done);
            return -1;
        }
        if (nd == 0) {
            free(done);
            return 0;
        }
    }
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->meta, &c)) {
        free(done);
        return -1;
    }
    size_t n = 0;
    uint8_t ids[RK_EXCL_KEYS][32];
    MDB_val k = { 3, RK_PFX }, v;
    /* votes sort by subject, then voter: one run per subject */
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 3 + 128 && !memcmp(k.mv_data, RK_PFX, 3);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        proto_id subj;
        char hx[65];
        memcpy(hx, (char *)k.mv_data + 3, 64);
        hx[64] = 0;
        if (v.mv_size <= 40 || proto_unhex(hx, subj.b, 32))
            continue;
        const uint8_t *vv = v.mv_data;
        uint64_t sq = get_be64(vv + 32);
        const uint8_t *d = NULL;
        for (int i = 0; i < nd && !d; i++)
            if (!memcmp(done + (size_t)i * RK_ENTRY, subj.b, 32))
                d = done + (size_t)i * RK_ENTRY;
        if (!candidate && (!d || memcmp(d + 40, vv, 32)))
            continue;   /* no rekey of this subject in force, or another key */
        rk_excl *e = n && !memcmp(&out[n - 1].subj, &subj, 32) ? &out[n - 1] : NULL;
        if (!e) {
            if (n == max)
                break;   /* bounded: the first subjects by id, the same on every node */
            e = &out[n++];
            memset(e, 0, sizeof *e);
            e->subj = subj;
            e->cut = candidate ? sq : get_be64(d + 32);
            memset(ids, 0, sizeof ids);
        }
        if (candidate && sq < e->cut)
            e->cut = sq;
        excl_add_key(e, vv, v.mv_size, ids);
    }
    mdb_cursor_close(c);
    free(done);
    return (int)n;
}

/* ---- rekeys changed in this write transaction ---- */

void rekey_txn_begin(store *s)
{
    s->n_rk_changed = 0;
    s->rk_overflow = 0;
}

void rekey_note_changed(store *s, const proto_id *author, uint64_t lo)
{
    for (size_t i = 0; i < s->n_rk_changed; i++)
        if (!memcmp(&s->rk_changed[i].author, author, 32)) {
            if (lo < s->rk_changed[i].lo)
                s->rk_changed[i].lo = lo;
            s->rk_changed[i].pending = 1;
            return;
        }
    if (s->n_rk_changed == STORE_REKEY_CHANGED_MAX) {
        s->rk_overflow = 1;
        return;
    }
    s->rk_changed[s->n_rk_changed].author = *author;
    s->rk_changed[s->n_rk_changed].lo = lo;
    s->rk_changed[s->n_rk_changed++].pending = 1;
}

int rekey_changed_at(store *s, const proto_id *author, uint64_t seq)
{
    if (s->rk_overflow)
        return 1;
    for (size_t i = 0; i < s->n_rk_changed; i++)
        if (!memcmp(&s->rk_changed[i].author, author, 32))
            return seq >= s->rk_changed[i].lo;
    return 0;
}

/* ---- quarantine ---- */

static size_t quar_count_txn(store *s, MDB_txn *txn, const proto_id *author, size_t stop)
{
    MDB_cursor *c;
    size_t n = 0;
    if (mdb_cursor_open(txn, s->quar, &c))
        return stop;
    MDB_val k = { 32, (void *)author->b }, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, author->b, 32) && n < stop;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        n++;
    mdb_cursor_close(c);
    return n;
}

int quarantine_put_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    /* only records moved out of this node's own log come here: bytes the
     * store held already, so no bound beyond the log's own */
    uint8_t qk[72];
    memcpy(qk, r->author.b, 32);
    put_be64(qk + 32, r->seq);
    proto_record_hash(r->raw, r->raw_len, (proto_id *)(qk + 40));
    MDB_val k = { 72, qk }, v;
    if (mdb_get(txn, s->quar, &k, &v) == 0)
        return 0;
    v.mv_size = r->raw_len;
    v.mv_data = (void *)r->raw;
    if (mdb_put(txn, s->quar, &k, &v, 0))
        return -1;
    s->quarantined++;
    return 0;
}

/* The key X signed with at seq `cut` (the last seq the old keys keep),
 * whatever X's status now; up-ref'd or NULL. */
static EVP_PKEY *retired_key_txn(store *s, MDB_txn *txn, const proto_id *x, uint64_t cut)
{
    if (!cut)
        return NULL;
    EVP_PKEY *k = key_at_txn(s, txn, x, cut);
    if (!k) {
        int st = 0;
        uint64_t fc = 0;
        k = former_key_txn(s, txn, x, cut, &st, &fc);
    }
    return k;
}

/* Whether a key some rekey vote for r's author names verifies r; *low:
 * the lowest seq those votes name. */
static int voted_key_signed(store *s, MDB_txn *txn, const proto_record *r, uint64_t *low)
{
    char name[RK_NAME];
    MDB_cursor *c;
    int ok = 0;
    *low = UINT64_MAX;
    vote_name(name, &r->author, NULL);
    if (mdb_cursor_open(txn, s->meta, &c))
        return 0;
    MDB_val k = { 3 + 64, name }, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 3 + 128 && !memcmp(k.mv_data, name, 3 + 64);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size <= 40)
            continue;
        uint64_t sq = get_be64((uint8_t *)v.mv_data + 32);
        if (sq < *low)
            *low = sq;
        EVP_PKEY *vk = ok ? NULL : key_from_spki((uint8_t *)v.mv_data + 40, v.mv_size - 40);
        ok |= vk && proto_record_verify(r, vk, NULL, 0) == 0;
        EVP_PKEY_free(vk);
    }
    mdb_cursor_close(c);
    return ok;
}

int quarantine_offer_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    /* Nothing a peer sends goes to quarantine (docs/DECISIONS.md 20): only
     * records this node moves out of its own log (rekey_reconcile_txn), so
     * the quarantine holds bytes the store held already and no vote below
     * the quorum lets its author fill it.  A record one of its author's
     * earlier keys (beyond a cut) or a key a rekey vote names signed is
     * not valid here yet or any more: dropped, its sender not closed (a
     * relay may hold it where the rekey stands otherwise), fetched again
     * by anti-entropy should it become valid. */
    uint64_t cut = 0, low = 0;
    int ok;
    if (rekey_get_txn(s, txn, &r->author, &cut, NULL) != 0 || r->seq <= cut) {
        if (!voted_key_signed(s, txn, r, &low) || r->seq <= low)
            return 0;
        s->not_yet++;
        return STORE_NOT_YET;
    }
    EVP_PKEY *old = retired_key_txn(s, txn, &r->author, cut);
    ok = old && proto_record_verify(r, old, NULL, 0) == 0;
    EVP_PKEY_free(old);
    if (ok || (voted_key_signed(s, txn, r, &low) && r->seq > low)) {
        s->not_yet++;
        return STORE_NOT_YET;
    }
    return STORE_FORMER;   /* beyond the cut and no key of its author's: refused */
}

int store_quarantine_offer(store *s, const proto_record *recs, size_t n, int *res)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    for (size_t i = 0; i < n; i++) {
        res[i] = quarantine_offer_txn(s, txn, &recs[i]);
        if (res[i] < 0) {
            mdb_txn_abort(txn);
            cache_clear(s);
            return -1;
        }
    }
    mdb_txn_abort(txn);
    return 0;
}

size_t store_quarantine_count(store *s, const proto_id *author)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return 0;
    size_t n = quar_count_txn(s, txn, author, SIZE_MAX);
    mdb_txn_abort(txn);
    return n;
}

void store_rekey_stats(store *s, store_rekey_stat *out)
{
    out->quarantined = s->quarantined;
    out->not_yet = s->not_yet;
    out->rounds_capped = s->rekey_rounds_capped;
    out->settle_capped = s->settle_capped;
    out->capped_member = s->capped_member;
    out->moved = s->truncated;
}
