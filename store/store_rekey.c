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
 * The replay records votes; the rekeys are decided from the vote table at
 * the end of its phase 1 (store_replay.c: each subject's records beyond
 * the lowest seq its votes name left out of membership and policy): when
 * min(the expulsion quorum, active members other than X) voters active
 * then name the same new key, the rekey takes effect, whatever X's status
 * (a former X stays former, with the new key): its cut is the lowest seq
 * those votes name, the new key signs X's log from cut + 1 (key_set_txn),
 * any key X took after the cut is dropped, and meta "rekeyed:" + X hex ->
 * cut(8) | key id(32) says so.  Both meta prefixes are derived: the replay
 * clears them and derives them again.  Outside a replay a vote (or another
 * membership record) only updates the tables unless the decisions could
 * change (rekey_may_change_txn): a flood of votes below the quorum costs
 * no replay.
 *
 * X's records beyond the cut that only the old key verifies, where this
 * node's log held them, go to quarantine (the quar table), out of the log,
 * the digest and everything derived, and come back when a later replay
 * moves the cut up or drops the rekey (rekey_reconcile_txn, store_apply.c).
 * Nothing from a peer goes there: store_quarantine_offer tells a record an
 * earlier key of X's or a voted key signed (STORE_NOT_YET: not stored, its
 * sender not closed) from one beyond a cut no key of X's signed
 * (STORE_FORMER) and from a forgery (0).
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

/* Whether subj wrote a record of kind (member or policy) beyond seq cand:
 * phase 1 leaves it out, so whose standing counts may differ there. */
static int recs_beyond_txn(store *s, MDB_txn *txn, const char *kind, const proto_id *subj, uint64_t cand)
{
    uint8_t pfx[1 + PROTO_KIND_MAX + 32];
    size_t kl = strlen(kind), pl = 1 + kl + 32;
    pfx[0] = (uint8_t)kl;
    memcpy(pfx + 1, kind, kl);
    memcpy(pfx + 1 + kl, subj->b, 32);
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->ver, &c))
        return -1;
    MDB_val k = { pl, pfx }, v;
    int found = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= pl + 8 && !memcmp(k.mv_data, pfx, pl) && !found;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        found = get_be64((uint8_t *)k.mv_data + k.mv_size - 8) > cand;
    mdb_cursor_close(c);
    return found;
}

/* One vote of the table: its subject and voter (from the name), value. */
typedef struct {
    proto_id subj, voter;
    const uint8_t *v;   /* key id(32) | seq(8) | spki */
    size_t vl;
} vote_ent;

/* Every vote of the table, in (subject, voter) order; *out malloc'd. */
static int votes_read_txn(store *s, MDB_txn *txn, vote_ent **out)
{
    MDB_cursor *c;
    size_t n = 0, cap = 0;
    vote_ent *a = NULL;
    *out = NULL;
    if (mdb_cursor_open(txn, s->meta, &c))
        return -1;
    MDB_val k = { 3, RK_PFX }, v;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size == 3 + 128 && !memcmp(k.mv_data, RK_PFX, 3);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char hs[65], hv[65];
        memcpy(hs, (char *)k.mv_data + 3, 64);
        memcpy(hv, (char *)k.mv_data + 3 + 64, 64);
        hs[64] = hv[64] = 0;
        vote_ent e;
        if (v.mv_size <= 40 || proto_unhex(hs, e.subj.b, 32) || proto_unhex(hv, e.voter.b, 32))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            vote_ent *na = realloc(a, nc * sizeof *na);
            if (!na) {
                free(a);
                mdb_cursor_close(c);
                return -1;
            }
            a = na;
            cap = nc;
        }
        /* values point into the map: read-only until the next write */
        e.v = v.mv_data;
        e.vl = v.mv_size;
        a[n++] = e;
    }
    mdb_cursor_close(c);
    *out = a;
    return (int)n;
}

int rekey_candidates_txn(store *s, MDB_txn *txn, rk_excl **out)
{
    vote_ent *a;
    int n = votes_read_txn(s, txn, &a);
    *out = NULL;
    if (n <= 0)
        return n;
    rk_excl *e = calloc((size_t)n, sizeof *e);
    size_t ne = 0;
    if (!e) {
        free(a);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        uint64_t sq = get_be64(a[i].v + 32);
        if (ne && !memcmp(&e[ne - 1].subj, &a[i].subj, 32)) {
            if (sq < e[ne - 1].cut)
                e[ne - 1].cut = sq;
            continue;
        }
        e[ne].subj = a[i].subj;
        e[ne++].cut = sq;
    }
    free(a);
    *out = e;
    return (int)ne;
}

int rekey_decide_txn(store *s, MDB_txn *txn, const rk_excl *ex, size_t nex, rk_dec **out)
{
    vote_ent *a;
    rk_dec *d = NULL;
    size_t nd = 0;
    uint32_t admission, expulsion;
    store_member *m = malloc(sizeof *m);
    int n = m ? votes_read_txn(s, txn, &a) : -1;
    *out = NULL;
    if (n <= 0) {
        free(m);
        return n;
    }
    uint8_t *act = calloc((size_t)n, 1);
    if (!act || !(d = calloc((size_t)n, sizeof *d)))
        goto fail;
    if (ex) {
        if (policy_expulsion_excl_txn(s, txn, ex, nex, &expulsion))
            goto fail;
    } else {
        policy_quorums_txn(s, txn, &admission, &expulsion);
    }
    for (int i = 0; i < n; i++) {
        store_member em;
        act[i] = member_get_txn(s, txn, &a[i].voter, &em) == 0 && em.status == STORE_MEMBER_ACTIVE;
    }
    /* the votes sort by subject: one run each */
    for (int lo = 0, hi; lo < n; lo = hi) {
        for (hi = lo + 1; hi < n && !memcmp(&a[hi].subj, &a[lo].subj, 32); hi++)
            ;
        uint32_t active;
        if (member_get_txn(s, txn, &a[lo].subj, m) != 0 || active_others_txn(s, txn, &a[lo].subj, &active))
            continue;   /* no such member: nothing to decide */
        uint32_t need = expulsion < active ? expulsion : active, best = 0;
        if (need < 1)
            need = 1;
        int bi = -1;
        uint64_t bcut = 0;
        /* each key named: its active voters and their lowest seq (every key
         * counted, none dropped: the work is the subject's votes squared) */
        for (int i = lo; i < hi; i++) {
            if (!act[i])
                continue;
            int first = 1;
            for (int j = lo; j < i && first; j++)
                first = !(act[j] && !memcmp(a[j].v, a[i].v, 32));
            if (!first || known_key(s, txn, m, (const proto_id *)a[i].v))
                continue;
            uint32_t cnt = 0;
            uint64_t cut = UINT64_MAX;
            for (int j = i; j < hi; j++)
                if (act[j] && !memcmp(a[j].v, a[i].v, 32)) {
                    cnt++;
                    if (get_be64(a[j].v + 32) < cut)
                        cut = get_be64(a[j].v + 32);
                }
            /* two keys at the quorum (need at most half): the one more
             * voters name, then the lowest key id: the same on every node */
            if (cnt >= need && (cnt > best || (cnt == best && memcmp(a[i].v, a[bi].v, 32) < 0))) {
                best = cnt;
                bi = i;
                bcut = cut;
            }
        }
        if (bi < 0 || a[bi].vl - 40 > sizeof d[nd].spki)
            continue;
        d[nd].subj = a[lo].subj;
        memcpy(d[nd].kid.b, a[bi].v, 32);
        d[nd].cut = bcut;
        d[nd].spki_len = a[bi].vl - 40;
        memcpy(d[nd].spki, a[bi].v + 40, d[nd].spki_len);
        nd++;
    }
    free(a);
    free(act);
    free(m);
    *out = d;
    return (int)nd;
fail:
    free(a);
    free(act);
    free(d);
    free(m);
    return -1;
}

int rekey_apply_dec_txn(store *s, MDB_txn *txn, rk_dec *d)
{
    uint8_t done[40];
    char dn[80];
    put_be64(done, d->cut);
    memcpy(done + 8, d->kid.b, 32);
    done_name(dn, &d->subj);
    d->applied = 1;
    return keys_drop_from_txn(s, txn, &d->subj, d->cut + 1) ||
           key_set_txn(s, txn, &d->subj, d->cut + 1, d->spki, d->spki_len) ||
           meta_put_txn(s, txn, dn, done, sizeof done) ? -1 : 0;
}

int rekey_may_change_txn(store *s, MDB_txn *txn)
{
    rk_excl *cand;
    int nc = rekey_candidates_txn(s, txn, &cand);
    if (nc <= 0)
        return nc;   /* no votes: nothing to decide */
    int ret = 0;
    for (int i = 0; i < nc && !ret; i++) {
        int b = recs_beyond_txn(s, txn, "member", &cand[i].subj, cand[i].cut);
        if (!b)
            b = recs_beyond_txn(s, txn, "policy", &cand[i].subj, cand[i].cut);
        ret = b;
    }
    rk_dec *d = NULL;
    int nd = ret ? 0 : rekey_decide_txn(s, txn, NULL, 0, &d);
    if (nd < 0)
        ret = -1;
    for (int i = 0; i < nc && !ret; i++) {
        uint64_t cut;
        proto_id kid;
        const rk_dec *f = NULL;
        for (int j = 0; j < nd && !f; j++)
            if (!memcmp(&d[j].subj, &cand[i].subj, 32))
                f = &d[j];
        int have = rekey_get_txn(s, txn, &cand[i].subj, &cut, &kid) == 0;
        if (have != (f != NULL) || (f && (f->cut != cut || memcmp(&f->kid, &kid, 32))))
            ret = 1;
    }
    free(d);
    free(cand);
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
        int d = rekey_may_change_txn(s, txn);
        if (d < 0)
            ret = -1;
        else if (d)
            s->member_dirty = 1;
        goto out;
    }
    /* phases 0 and 1 record votes; phase 2 applies what phase 1 decided,
     * at the first vote naming the decided key */
    for (size_t i = 0; s->rk_phase == 2 && i < s->n_rk_dec; i++) {
        rk_dec *d = &s->rk_dec[i];
        if (!d->applied && !memcmp(&d->subj, &subj, 32) && !memcmp(&d->kid, &nk->id, 32)) {
            if (rekey_apply_dec_txn(s, txn, d))
                ret = -1;
            break;
        }
    }
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
        if (v.mv_size != 40 || (buf && proto_unhex(hx, buf + n * RK_ENTRY, 32)))
            continue;
        if (buf)
            memcpy(buf + n * RK_ENTRY + 32, v.mv_data, 40);
        n++;
    }
    mdb_cursor_close(c);
    return (int)n;
}

/* ---- rekeys changed in this write transaction ---- */

int rekey_list_alloc_txn(store *s, MDB_txn *txn, uint8_t **out)
{
    int n = rekey_list_txn(s, txn, NULL, SIZE_MAX);
    *out = NULL;
    if (n < 0 || !(*out = malloc(n ? (size_t)n * RK_ENTRY : 1)))
        return -1;
    return rekey_list_txn(s, txn, *out, (size_t)n);
}

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
    out->settle_capped = s->settle_capped;
    out->moved = s->truncated;
}
