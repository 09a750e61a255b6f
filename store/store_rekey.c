/*
 * store/store_rekey.c — rekey of a lost or stolen key (issue 12,
 * docs/DECISIONS.md 22): the rekey vote's rules, the epochs, proposals and
 * votes derived turn by turn in the membership replay (store_replay.c, as
 * store_policy.c's "the policy in the replay"), the decisions the rederive
 * makes in rounds, and what the last derivation left for member show, the
 * incremental path and the precheck.
 *
 * The vote: a member record about X by V != X, op "rekey", cert (the new
 * key K, decoded as an admission's), cut v >= 1, gen g >= 0, reason.
 *
 * In the replay (one turn per membership record, store_replay.c's order):
 * g(X) counts X's rekeys decided before the turn.  The epoch (X, g) opens
 * at the first vote naming gen g == g(X), with v above the previous
 * decision's cut, X active and K usable for X (X's code, no other member's
 * key); that vote fixes the epoch's cut.  A later vote naming another cut,
 * or another gen, derives nothing (stale).  A voter's vote is its latest
 * one taken; a proposal (X, g, K) counts the distinct voters active at the
 * turn whose vote names K, and completes at the first turn (a vote for it,
 * or fewer active members) where that count reaches max(STORE_REKEY_VOTERS_MIN,
 * min(expulsion quorum in force, members active other than X)).
 *
 * A completion in a replay decides nothing by itself: the rederive
 * (member_rederive_txn) makes the decisions in rounds, each from the
 * what-if derivation D(X, v_e) that reads X's log up to the epoch's cut
 * only, so the decision is a function of records the decision cannot
 * change; and every other candidate Y up to Y's cut, with Y's rekey votes
 * beyond it unless two of Y's voters vote from below their own cuts
 * (rekey_replay_whatif; DECISIONS 22, "the other candidates").  A replay
 * applies the decisions given (rekey_sched) at their turns: K from seq
 * v+1 (key_set_txn), g(X) + 1, and X's records beyond v wait until that
 * turn.
 *
 * The input of every replay is the set of versions held: a subject's log
 * beyond the lowest cut that can be decided (a decision's, or one two
 * distinct voters name: store_replay.c rekey_candidate_cuts) is read as
 * the versions valid under
 * that replay's own key schedule (rekey_subject_log), from the log and the
 * fork evidence, the lowest hash among valid ones at a seq, stopping at
 * the first seq with none.  Signatures checked so are remembered by
 * (record hash, key id) in s->rk_memo.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/util.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define RK_KEY 48   /* the replay's order key: be64 time | author | be64 seq */
#define RK_MEMO 8192   /* signature verdicts remembered, power of two */

/* ---- the vote ---- */

int rekey_validate(const proto_record *r, char *err, size_t errlen)
{
    proto_id subj;
    store_member *m;
    int64_t cut = 0, gen = -1;
    const char *reason = NULL;
    size_t rl = 0;
    if (proto_unhex(r->key, subj.b, 32))
        return proto_err(err, errlen, "member record key must be the subject's member id in lowercase hex");
    if (!memcmp(&subj, &r->author, 32))
        return proto_err(err, errlen, "a member cannot vote the rekey of its own key");
    if (proto_body_get_int(r, "cut", &cut) || cut < 1)
        return proto_err(err, errlen, "rekey record needs a cut (an integer >= 1)");
    if (proto_body_get_int(r, "gen", &gen) || gen < 0 || gen > UINT32_MAX)
        return proto_err(err, errlen, "rekey record needs a gen (an integer >= 0)");
    if (proto_body_get_str(r, "reason", &reason, &rl) || rl < 1 || rl > STORE_REKEY_REASON_MAX)
        return proto_err(err, errlen, "rekey record needs a reason of 1 to %u bytes", STORE_REKEY_REASON_MAX);
    if (!(m = malloc(sizeof *m)))
        return proto_err(err, errlen, "out of memory");
    int rc = decode_cert_member(r, m, err, errlen);
    if (rc == 0 && !memcmp(&m->id, &subj, 32))
        rc = proto_err(err, errlen, "a rekey must name a new key, not the member's admitted one");
    free(m);
    return rc ? -1 : 0;
}

/* ---- signature verdicts ---- */

struct rekey_vmemo {
    struct { uint8_t k[32]; uint8_t set, ok; } v[RK_MEMO];
};

void rekey_memo_free(store *s)
{
    free(s->rk_memo);
    s->rk_memo = NULL;
}

/* Whether r verifies under spki: remembered by (hash, key id). */
static int verifies(store *s, const proto_record *r, const proto_id *h, const uint8_t *spki, size_t len)
{
    uint8_t in[64], k[32];
    memcpy(in, h->b, 32);
    SHA256(spki, len, in + 32);
    SHA256(in, 64, k);
    if (!s->rk_memo)
        s->rk_memo = calloc(1, sizeof *s->rk_memo);
    size_t slot;
    memcpy(&slot, k, sizeof slot);
    slot &= RK_MEMO - 1;
    if (s->rk_memo && s->rk_memo->v[slot].set && !memcmp(s->rk_memo->v[slot].k, k, 32))
        return s->rk_memo->v[slot].ok;
    EVP_PKEY *pk = key_from_spki(spki, len);
    int ok = pk && proto_record_verify(r, pk, NULL, 0) == 0;
    EVP_PKEY_free(pk);
    if (s->rk_memo) {
        memcpy(s->rk_memo->v[slot].k, k, 32);
        s->rk_memo->v[slot].set = 1;
        s->rk_memo->v[slot].ok = (uint8_t)ok;
    }
    return ok;
}

/* ---- the decisions of a rederive ---- */

typedef struct {
    proto_id x;
    uint32_t gen;
    uint64_t cut;
    uint8_t *spki;
    size_t len;
    uint8_t turn[RK_KEY];
    uint32_t quorum;
    proto_id *voters;
    size_t nvoters;
} rk_dec;

struct rekey_sched {
    rk_dec d[STORE_REKEY_DECISIONS_MAX];
    size_t n;
};

rekey_sched *rekey_sched_new(void)
{
    return calloc(1, sizeof(rekey_sched));
}

void rekey_sched_free(rekey_sched *d)
{
    for (size_t i = 0; d && i < d->n; i++) {
        free(d->d[i].spki);
        free(d->d[i].voters);
    }
    free(d);
}

size_t rekey_sched_len(const rekey_sched *d)
{
    return d ? d->n : 0;
}

/* ---- the replay's state ---- */

typedef struct {
    proto_id voter;
    uint32_t prop;
} rk_vote;

typedef struct {
    proto_id kid;
    uint8_t *spki;
    size_t len;
} rk_prop;

/* what member show lists: decided (applied in this replay) and stale */
typedef struct {
    int what;
    uint32_t gen, quorum;
    uint64_t cut;
    proto_id kid;
    uint8_t key[RK_KEY];
    proto_id *voters;
    size_t nvoters, nvoters_all;   /* kept (at most STORE_REKEY_SHOW_MAX), and in all */
} rk_item;

typedef struct {
    proto_id id;
    uint64_t lo;             /* the lowest cut a vote held names */
    uint8_t *adm;            /* the admission key */
    size_t adm_len;
    uint32_t g;              /* rekeys decided so far in this replay */
    uint64_t prev_cut;
    uint64_t max_taken;      /* highest seq of its membership records taken */
    int open;                /* the epoch (id, eg) */
    uint32_t eg;
    uint64_t ecut;
    uint8_t open_key[RK_KEY], last_vote[RK_KEY];
    int beyond;              /* a record beyond ecut taken (at beyond_key; zero: before it opened) */
    uint8_t beyond_key[RK_KEY];
    rk_prop *props;
    size_t nprops;
    rk_vote *votes;
    size_t nvotes;
    int done;                /* the epoch's earliest completion in this replay */
    uint8_t done_key[RK_KEY];
    uint64_t done_ord;       /* the records the replay had taken then */
    uint32_t done_prop, done_q;
    proto_id *done_voters;
    size_t ndone;
    rk_item *items;
    size_t nitems, nstale;
    size_t stale_dropped;    /* stale votes past STORE_REKEY_SHOW_MAX, not kept */
    /* the votes about it held (whether taken or not: a vote whose author
     * is no member in this replay may be taken in a what-if one; other:
     * it names this subject as another's candidate, rekey_replay_standing),
     * and every membership record of it this replay took, in seq order */
    struct { proto_id voter; uint32_t gen; uint64_t cut, seq; int other; } *held;
    size_t nheld;
    struct { uint64_t seq, ord; uint8_t key[RK_KEY]; } *taken;
    size_t ntaken, captaken;
    /* in a what-if derivation D(X, v) of another subject X: the lowest
     * candidate cut of this subject in the round's R, beyond which its log
     * is not read (UINT64_MAX: all of it is), but for its rekey votes when
     * wvotes (its candidacy is not clean: rekey_replay_whatif) */
    uint64_t wcut;
    int wvotes;
} rk_subj;

struct rekey_replay {
    const rekey_sched *sched;
    uint8_t applied[STORE_REKEY_DECISIONS_MAX];
    int has_cut;
    proto_id cut_x;
    uint64_t cut_v;
    rk_subj *subj;
    size_t n, cap;
    int sorted;
    size_t moves;   /* subjects registered and lo lowered so far (rekey_inputs' passes) */
    int oom;   /* bookkeeping failed: the rederive fails */
    uint64_t ntook;   /* membership records taken so far (a backdated one's
                       * key is no measure of when the replay took it) */
    /* a what-if derivation's other candidates, from R (rekey_replay_whatif) */
    struct { proto_id x; uint64_t cut; int votes; } *wc;
    size_t nwc;
};

rekey_replay *rekey_replay_new(const rekey_sched *d, const proto_id *cut_x, uint64_t cut_v)
{
    rekey_replay *rr = calloc(1, sizeof *rr);
    if (!rr)
        return NULL;
    rr->sched = d;
    if (cut_x) {
        rr->has_cut = 1;
        rr->cut_x = *cut_x;
        rr->cut_v = cut_v;
    }
    return rr;
}

static void subj_clear(rk_subj *x)
{
    free(x->held);
    free(x->taken);
    free(x->adm);
    for (size_t i = 0; i < x->nprops; i++)
        free(x->props[i].spki);
    free(x->props);
    free(x->votes);
    free(x->done_voters);
    for (size_t i = 0; i < x->nitems; i++)
        free(x->items[i].voters);
    free(x->items);
}

void rekey_replay_free(rekey_replay *rr)
{
    if (!rr)
        return;
    for (size_t i = 0; i < rr->n; i++)
        subj_clear(&rr->subj[i]);
    free(rr->subj);
    free(rr->wc);
    free(rr);
}

static int subj_cmp(const void *a, const void *b)
{
    return memcmp(((const rk_subj *)a)->id.b, ((const rk_subj *)b)->id.b, 32);
}

static rk_subj *subj_find(const rekey_replay *rr, const proto_id *x)
{
    if (!rr || !rr->n)
        return NULL;
    if (rr->sorted) {
        size_t lo = 0, hi = rr->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = memcmp(rr->subj[mid].id.b, x->b, 32);
            if (!c)
                return &rr->subj[mid];
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        return NULL;
    }
    for (size_t i = 0; i < rr->n; i++)
        if (!memcmp(rr->subj[i].id.b, x->b, 32))
            return &rr->subj[i];
    return NULL;
}

int rekey_replay_subject_cut(rekey_replay *rr, const proto_id *x, uint64_t cut)
{
    rk_subj *e = subj_find(rr, x);
    if (!e) {
        if (rr->n == rr->cap) {
            size_t nc = rr->cap ? rr->cap * 2 : 8;
            rk_subj *nv = realloc(rr->subj, nc * sizeof *nv);
            if (!nv)
                return -1;
            rr->subj = nv;
            rr->cap = nc;
        }
        e = &rr->subj[rr->n++];
        memset(e, 0, sizeof *e);
        e->id = *x;
        e->lo = UINT64_MAX;
        e->wcut = UINT64_MAX;
        rr->sorted = 0;
        rr->moves++;
    }
    if (cut < e->lo) {
        e->lo = cut;
        rr->moves++;
    }
    return 0;
}

size_t rekey_replay_moves(const rekey_replay *rr)
{
    return rr->moves;
}

const proto_id *rekey_replay_subject(const rekey_replay *rr, size_t i)
{
    return i < rr->n ? &rr->subj[i].id : NULL;
}

int rekey_replay_decided_cuts(rekey_replay *rr)
{
    const rekey_sched *d = rr->sched;
    for (size_t i = 0; d && i < d->n; i++)
        if (rekey_replay_subject_cut(rr, &d->d[i].x, d->d[i].cut))
            return -1;
    /* a what-if derivation reads its subject's log, and its other
     * candidates', from their cut as the schedule's versions too (the
     * walk stops, or filters, beyond it): R may have found the candidate
     * in versions the log does not hold (a vote set apart) */
    if (rr->has_cut && rekey_replay_subject_cut(rr, &rr->cut_x, rr->cut_v))
        return -1;
    for (size_t i = 0; i < rr->nwc; i++) {
        if (rekey_replay_subject_cut(rr, &rr->wc[i].x, rr->wc[i].cut))
            return -1;
        rk_subj *e = subj_find(rr, &rr->wc[i].x);
        e->wcut = rr->wc[i].cut;
        e->wvotes = rr->wc[i].votes;
    }
    return 0;
}

void rekey_replay_subjects_done(rekey_replay *rr)
{
    /* every decision's subject is one (its votes are held) */
    if (rr->n)
        qsort(rr->subj, rr->n, sizeof *rr->subj, subj_cmp);
    rr->sorted = 1;
}

int rekey_replay_is_subject(const rekey_replay *rr, const proto_id *x)
{
    return subj_find(rr, x) != NULL;
}

uint64_t rekey_replay_lo(const rekey_replay *rr, const proto_id *x)
{
    rk_subj *e = subj_find(rr, x);
    return e ? e->lo : UINT64_MAX;
}

int rekey_replay_admission(rekey_replay *rr, const proto_id *x, const uint8_t *spki, size_t len)
{
    rk_subj *e = subj_find(rr, x);
    if (!e || e->adm)
        return 0;
    if (!(e->adm = malloc(len)))
        return -1;
    memcpy(e->adm, spki, len);
    e->adm_len = len;
    return 0;
}

int rekey_replay_needs_admission(const rekey_replay *rr, const proto_id *x)
{
    rk_subj *e = subj_find(rr, x);
    return e && !e->adm;
}

/* ---- the versions valid under the schedule ---- */

/* The rotate's new key of a record of x about itself, or 0 when r is none. */
static int rotate_of(store *s, const proto_id *x, const proto_record *r, uint8_t **spki, size_t *len)
{
    char hx[65];
    if (kind_of(r->kind)->id != KIND_MEMBER || member_op(r) != MEMBER_OP_ROTATE ||
        memcmp(&r->author, x, 32))
        return 0;
    proto_hex(x->b, 32, hx);
    if (strcmp(r->key, hx))
        return 0;
    store_member *m = malloc(sizeof *m);
    int got = 0;
    if (m && decode_cert_member(r, m, NULL, 0) == 0) {
        uint8_t *k = malloc(m->spki_len);
        if (k) {
            memcpy(k, m->spki, m->spki_len);
            free(*spki);
            *spki = k;
            *len = m->spki_len;
            got = 1;
        }
    }
    free(m);
    return got;
}

/* The lowest hash among the versions of a seq verifying under key: its
 * bytes copied into buf. */
typedef struct {
    store *s;
    const uint8_t *key;
    size_t klen;
    int have;
    proto_id best;
    int where;
    uint8_t *buf;
    size_t len;
} pick;

static int pick_cb(void *arg, const proto_record *r, const proto_id *h, int where)
{
    pick *p = arg;
    if ((p->have && memcmp(h->b, p->best.b, 32) >= 0) || r->raw_len > PROTO_RECORD_MAX ||
        !verifies(p->s, r, h, p->key, p->klen))
        return 0;
    p->have = 1;
    p->best = *h;
    p->where = where;
    memcpy(p->buf, r->raw, r->raw_len);
    p->len = r->raw_len;
    return 0;
}

/* What a what-if derivation D(X, v) reads of another candidate Y beyond
 * Y's cut (docs/DECISIONS.md 22, "the other candidates"): its rekey votes
 * only. */
static int whatif_kept(const proto_record *r)
{
    return kind_of(r->kind)->id == KIND_MEMBER && member_op(r) == MEMBER_OP_REKEY;
}

int rekey_subject_log(store *s, MDB_txn *txn, rekey_replay *rr, const proto_id *x, rekey_version_cb cb,
                      void *ctx)
{
    rk_subj *e = subj_find(rr, x);
    if (!e || !e->adm || e->lo == UINT64_MAX)
        return 0;
    uint64_t limit = rr->has_cut && !memcmp(&rr->cut_x, x, 32) ? rr->cut_v : UINT64_MAX;
    uint64_t fclip = former_clip_of(s, x);   /* a former member's beyond its cut: left out this round */
    if (fclip < limit)
        limit = fclip;
    uint8_t *key = malloc(e->adm_len), *buf = malloc(PROTO_RECORD_MAX);
    size_t klen = e->adm_len;
    int ret = -1;
    if (!key || !buf)
        goto out;
    memcpy(key, e->adm, klen);
    /* the own chain up to lo: x's rotations among its records about itself */
    {
        char hx[65];
        uint8_t ck[CK_MAX];
        proto_hex(x->b, 32, hx);
        size_t pl = ck_key(ck, "member", x, hx);
        MDB_cursor *c;
        if (mdb_cursor_open(txn, s->ver, &c))
            goto out;
        MDB_val k = { pl, ck }, v;
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        for (; rc == 0 && k.mv_size == pl + 8 && !memcmp(k.mv_data, ck, pl);
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint64_t seq = get_be64((uint8_t *)k.mv_data + pl);
            if (seq > e->lo)
                break;
            s->rk_versions_read++;
            uint8_t lk[40];
            memcpy(lk, x->b, 32);
            put_be64(lk + 32, seq);
            MDB_val lkv = { 40, lk }, lv;
            proto_record r;
            if (mdb_get(txn, s->log, &lkv, &lv) || lv.mv_size > PROTO_RECORD_MAX)
                continue;
            memcpy(buf, lv.mv_data, lv.mv_size);
            if (proto_record_decode_stored(buf, lv.mv_size, &r, NULL, 0) == 0)
                rotate_of(s, x, &r, &key, &klen);
        }
        mdb_cursor_close(c);
    }
    /* from lo + 1: every version held (log, forks, apart), the one valid
     * under the schedule */
    uint64_t top = versions_top_txn(s, txn, x);
    for (uint64_t seq = e->lo + 1; seq <= limit && seq <= top; seq++) {
        const rekey_sched *d = rr->sched;
        for (size_t i = 0; d && i < d->n; i++)
            if (!memcmp(&d->d[i].x, x, 32) && d->d[i].cut + 1 == seq) {
                uint8_t *nk = malloc(d->d[i].len);
                if (!nk)
                    goto out;
                memcpy(nk, d->d[i].spki, d->d[i].len);
                free(key);
                key = nk;
                klen = d->d[i].len;
            }
        pick pk = { s, key, klen, 0, { { 0 } }, 0, buf, 0 };
        s->rk_versions_read++;
        if (versions_at_txn(s, txn, x, seq, pick_cb, &pk) < 0)
            goto out;
        if (!pk.have)
            break;   /* the log under this schedule stops here */
        proto_record r;
        if (proto_record_decode_stored(buf, pk.len, &r, NULL, 0))
            goto out;
        rotate_of(s, x, &r, &key, &klen);
        if (seq > e->wcut && !(e->wvotes && whatif_kept(&r)))
            continue;   /* beyond another candidate's cut in a what-if derivation */
        if (cb(ctx, seq, pk.where, &pk.best, &r))
            goto out;
    }
    ret = 0;
out:
    free(key);
    free(buf);
    return ret;
}

/* ---- turn by turn ---- */

uint64_t rekey_replay_hold(const rekey_replay *rr, const proto_id *x)
{
    uint64_t h = UINT64_MAX;
    const rekey_sched *d = rr ? rr->sched : NULL;
    for (size_t i = 0; d && i < d->n; i++)
        if (!rr->applied[i] && !memcmp(&d->d[i].x, x, 32) && d->d[i].cut < h)
            h = d->d[i].cut;
    return h;
}

static int ids_copy(proto_id **out, const proto_id *in, size_t n)
{
    *out = NULL;
    if (!n)
        return 0;
    if (!(*out = malloc(n * sizeof **out)))
        return -1;
    memcpy(*out, in, n * sizeof **out);
    return 0;
}

static int item_add(rk_subj *e, int what, uint32_t gen, uint64_t cut, const proto_id *kid,
                    const uint8_t key[RK_KEY], uint32_t q, const proto_id *voters, size_t nv)
{
    if (what == STORE_REKEY_STALE && e->nstale >= STORE_REKEY_SHOW_MAX) {
        e->stale_dropped++;   /* the first ones are kept (the order is the replay's); show says so */
        return 0;
    }
    rk_item *ni = realloc(e->items, (e->nitems + 1) * sizeof *ni);
    if (!ni)
        return -1;
    e->items = ni;
    rk_item *it = &ni[e->nitems];
    memset(it, 0, sizeof *it);
    it->what = what;
    it->gen = gen;
    it->cut = cut;
    it->kid = *kid;
    it->quorum = q;
    memcpy(it->key, key, RK_KEY);
    it->nvoters_all = nv;
    if (nv > STORE_REKEY_SHOW_MAX)
        nv = STORE_REKEY_SHOW_MAX;
    if (ids_copy(&it->voters, voters, nv))
        return -1;
    it->nvoters = nv;
    e->nitems++;
    if (what == STORE_REKEY_STALE)
        e->nstale++;
    return 0;
}

static void epoch_close(rk_subj *e)
{
    for (size_t i = 0; i < e->nprops; i++)
        free(e->props[i].spki);
    free(e->props);
    free(e->votes);
    free(e->done_voters);
    e->props = NULL;
    e->votes = NULL;
    e->done_voters = NULL;
    e->nprops = e->nvotes = e->ndone = 0;
    e->open = e->done = e->beyond = 0;
}

int rekey_replay_due(store *s, MDB_txn *txn, rekey_replay *rr, const uint8_t key[RK_KEY], int inclusive,
                     int *woken)
{
    const rekey_sched *d = rr ? rr->sched : NULL;
    for (size_t i = 0; d && i < d->n; i++) {
        const rk_dec *k = &d->d[i];
        int c = key ? memcmp(k->turn, key, RK_KEY) : -1;
        if (rr->applied[i] || c > 0 || (c == 0 && !inclusive))
            continue;
        rr->applied[i] = 1;
        if (key_set_txn(s, txn, &k->x, k->cut + 1, k->spki, k->len))
            return -1;
        rk_subj *e = subj_find(rr, &k->x);
        if (e) {
            proto_id kid;
            SHA256(k->spki, k->len, kid.b);
            if (item_add(e, STORE_REKEY_DECIDED, k->gen, k->cut, &kid, k->turn, k->quorum, k->voters,
                         k->nvoters))
                return -1;
            if (e->open && e->eg == k->gen)
                epoch_close(e);
            e->g = k->gen + 1;
            e->prev_cut = k->cut;
        }
        if (woken)
            *woken = 1;
    }
    return 0;
}

static uint32_t quorum_at(store *s, MDB_txn *txn, const rk_subj *e, uint32_t active)
{
    uint32_t adm = 1, exp = 2;
    if (s->preplay)
        policy_replay_quorums(s->preplay, &adm, &exp);
    else
        policy_quorums_txn(s, txn, &adm, &exp);
    uint32_t others = active - (active && is_member_txn(s, txn, &e->id) ? 1 : 0);
    uint32_t q = exp < others ? exp : others;
    return q > STORE_REKEY_VOTERS_MIN ? q : STORE_REKEY_VOTERS_MIN;
}

/* Check proposal p of e's open epoch at turn key: complete it when its
 * active voters reach the quorum. */
static int prop_check(store *s, MDB_txn *txn, rk_subj *e, uint32_t p, const uint8_t key[RK_KEY],
                      uint32_t active, uint64_t ord)
{
    if (!e->open || e->done)
        return 0;
    proto_id *who = malloc((e->nvotes ? e->nvotes : 1) * sizeof *who);
    size_t n = 0;
    if (!who)
        return -1;
    for (size_t i = 0; i < e->nvotes; i++)
        if (e->votes[i].prop == p && is_member_txn(s, txn, &e->votes[i].voter))
            who[n++] = e->votes[i].voter;
    uint32_t q = quorum_at(s, txn, e, active);
    if (n >= q) {
        e->done = 1;
        memcpy(e->done_key, key, RK_KEY);
        e->done_ord = ord;
        e->done_prop = p;
        e->done_q = q;
        e->done_voters = who;
        e->ndone = n;
        return 0;
    }
    free(who);
    return 0;
}

/* Whether the key spki (id kid, code) may be x's: x's code, and no other
 * member's key. */
static int key_usable(store *s, MDB_txn *txn, const store_member *xm, const store_member *km)
{
    if (strcmp(km->code, xm->code))
        return 0;
    store_member *o = malloc(sizeof *o);
    int have = o ? member_get_txn(s, txn, &km->id, o) : -1;
    free(o);
    if (have != 1)
        return 0;   /* an admission key of a member (or the store failed: derive nothing) */
    MDB_val k = { 32, (void *)km->id.b }, v;
    if (mdb_get(txn, s->keyown, &k, &v) == 0 && v.mv_size == 40 && memcmp(v.mv_data, xm->id.b, 32))
        return 0;   /* a key another member rotated to */
    return 1;
}

int rekey_replay_take(store *s, MDB_txn *txn, rekey_replay *rr, const proto_record *r,
                      const uint8_t key[RK_KEY], uint32_t active)
{
    proto_id x;
    int64_t cut = 0, gen = -1;
    if (!rr || proto_unhex(r->key, x.b, 32))
        return 0;
    rk_subj *e = subj_find(rr, &x);
    store_member *xm = malloc(sizeof *xm), *km = malloc(sizeof *km);
    int ret = -1;
    if (!xm || !km)
        goto out;
    ret = 0;
    if (!e || proto_body_get_int(r, "cut", &cut) || proto_body_get_int(r, "gen", &gen) || cut < 1 || gen < 0 ||
        decode_cert_member_memo(s, r, km))
        goto out;   /* passed the validator when stored: derives nothing now */
    int stale = member_get_txn(s, txn, &x, xm) != 0 || xm->status != STORE_MEMBER_ACTIVE ||
                !key_usable(s, txn, xm, km) || (uint64_t)gen != e->g || (uint64_t)cut <= e->prev_cut ||
                (e->open && (uint64_t)cut != e->ecut);
    if (stale) {
        ret = item_add(e, STORE_REKEY_STALE, (uint32_t)gen, (uint64_t)cut, &km->id, key, 0, &r->author, 0);
        goto out;
    }
    if (!e->open) {
        e->open = 1;
        e->eg = e->g;
        e->ecut = (uint64_t)cut;
        memcpy(e->open_key, key, RK_KEY);
        e->beyond = e->max_taken > e->ecut;
        memset(e->beyond_key, 0, RK_KEY);
    }
    memcpy(e->last_vote, key, RK_KEY);
    uint32_t p = 0;
    while (p < e->nprops && memcmp(&e->props[p].kid, &km->id, 32))
        p++;
    if (p == e->nprops) {
        rk_prop *np = realloc(e->props, (e->nprops + 1) * sizeof *np);
        if (!np || !(np[p].spki = malloc(km->spki_len))) {
            if (np)
                e->props = np;
            ret = -1;
            goto out;
        }
        e->props = np;
        memcpy(np[p].spki, km->spki, km->spki_len);
        np[p].len = km->spki_len;
        np[p].kid = km->id;
        e->nprops++;
    }
    size_t v = 0;
    while (v < e->nvotes && memcmp(&e->votes[v].voter, &r->author, 32))
        v++;
    if (v == e->nvotes) {
        rk_vote *nv = realloc(e->votes, (e->nvotes + 1) * sizeof *nv);
        if (!nv) {
            ret = -1;
            goto out;
        }
        e->votes = nv;
        nv[v].voter = r->author;
        e->nvotes++;
    }
    e->votes[v].prop = p;
    ret = prop_check(s, txn, e, p, key, active, rr->ntook);
out:
    free(xm);
    free(km);
    return ret;
}

void rekey_replay_took(rekey_replay *rr, const proto_id *author, uint64_t seq, const uint8_t key[RK_KEY])
{
    uint64_t ord = rr->ntook++;
    rk_subj *e = subj_find(rr, author);
    if (!e)
        return;
    if (seq > e->max_taken)
        e->max_taken = seq;
    /* every one, not only those beyond lo: a candidate R finds in a vote
     * the log does not hold (set apart) may name a cut below lo, and the
     * what-if derivations ask what R took beyond it */
    if (e->ntaken == e->captaken) {
        /* doubling: a subject's whole log may be taken, one record a call */
        size_t nc = e->captaken ? e->captaken * 2 : 16;
        void *nt = realloc(e->taken, nc * sizeof *e->taken);
        if (!nt) {
            rr->oom = 1;
            return;
        }
        e->taken = nt;
        e->captaken = nc;
    }
    {
        e->taken[e->ntaken].seq = seq;
        e->taken[e->ntaken].ord = ord;
        memcpy(e->taken[e->ntaken].key, key, RK_KEY);
        e->ntaken++;
    }
    if (e->open && !e->beyond && seq > e->ecut) {
        e->beyond = 1;
        memcpy(e->beyond_key, key, RK_KEY);
    }
}

int rekey_replay_fewer(store *s, MDB_txn *txn, rekey_replay *rr, const uint8_t key[RK_KEY], uint32_t active)
{
    for (size_t i = 0; rr && i < rr->n; i++) {
        rk_subj *e = &rr->subj[i];
        for (uint32_t p = 0; e->open && !e->done && p < e->nprops; p++)
            if (prop_check(s, txn, e, p, key, active, rr->ntook))
                return -1;
    }
    return 0;
}

int rekey_replay_held(rekey_replay *rr, const proto_id *x, const proto_id *voter, uint32_t gen, uint64_t cut,
                      uint64_t seq)
{
    rk_subj *e = subj_find(rr, x);
    if (!e)
        return 0;
    void *nh = realloc(e->held, (e->nheld + 1) * sizeof *e->held);
    if (!nh)
        return -1;
    e->held = nh;
    e->held[e->nheld].voter = *voter;
    e->held[e->nheld].gen = gen;
    e->held[e->nheld].cut = cut;
    e->held[e->nheld].seq = seq;
    e->held[e->nheld].other = 1;   /* until rekey_replay_standing says */
    e->nheld++;
    return 0;
}

/* Distinct authors of the votes held about e naming (gen, cut); others:
 * only those that name e as another subject's other candidate
 * (rekey_replay_standing). */
static size_t held_voters(const rk_subj *e, uint32_t gen, uint64_t cut, int others)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nheld; i++) {
        if (e->held[i].gen != gen || e->held[i].cut != cut || (others && !e->held[i].other))
            continue;
        size_t j = 0;
        while (j < i && !(e->held[j].gen == gen && e->held[j].cut == cut &&
                          !memcmp(&e->held[j].voter, &e->held[i].voter, 32)))
            j++;
        n += j == i;
    }
    return n;
}

/* When this replay took the first of e's records beyond cut (its
 * ordinal, UINT64_MAX: none): the taken list is in the replay's order. */
static uint64_t first_beyond(const rk_subj *e, uint64_t cut)
{
    for (size_t i = 0; i < e->ntaken; i++)
        if (e->taken[i].seq > cut)
            return e->taken[i].ord;
    return UINT64_MAX;
}

/* e's lowest candidate cut as another subject's other candidate: named
 * for its epoch g(e) by votes of two distinct authors held that R leaves
 * no pending or never-admitted author (UINT64_MAX: none). */
static uint64_t cand_low(const rk_subj *e)
{
    uint64_t lo = UINT64_MAX;
    for (size_t h = 0; h < e->nheld; h++) {
        uint64_t c = e->held[h].cut;
        if (e->held[h].other && e->held[h].gen == e->g && c > e->prev_cut && c < lo &&
            held_voters(e, e->g, c, 1) >= STORE_REKEY_VOTERS_MIN)
            lo = c;
    }
    return lo;
}

/* Whether two distinct voters of e's candidate cut c vote from below
 * every candidate cut of their own (a voter that is no candidate always
 * does): e's candidacy then stands without a vote beyond a cut. */
static int cand_clean(const rekey_replay *r, const rk_subj *e, uint64_t c)
{
    size_t n = 0;
    for (size_t i = 0; i < e->nheld && n < STORE_REKEY_VOTERS_MIN; i++) {
        if (e->held[i].gen != e->g || e->held[i].cut != c || !e->held[i].other)
            continue;
        const rk_subj *v = subj_find(r, &e->held[i].voter);
        if (v && e->held[i].seq > cand_low(v))
            continue;   /* beyond its author's own cut */
        size_t j = 0;
        while (j < i && !(e->held[j].gen == e->g && e->held[j].cut == c &&
                          !memcmp(&e->held[j].voter, &e->held[i].voter, 32)))
            j++;
        n += j == i;
    }
    return n >= STORE_REKEY_VOTERS_MIN;
}

int rekey_replay_standing(store *s, MDB_txn *txn, rekey_replay *rr)
{
    for (size_t j = 0; j < rr->n; j++) {
        rk_subj *e = &rr->subj[j];
        for (size_t h = 0; h < e->nheld; h++) {
            int st = -1, rc = member_status_txn(s, txn, &e->held[h].voter, &st);
            if (rc < 0)
                return -1;
            e->held[h].other = rc == 0 && st != STORE_MEMBER_PENDING;
        }
    }
    return 0;
}

int rekey_replay_whatif(rekey_replay *d, const rekey_replay *r, const proto_id *x)
{
    for (size_t j = 0; r && j < r->n; j++) {
        const rk_subj *e = &r->subj[j];
        uint64_t c = cand_low(e);
        if (c == UINT64_MAX || !memcmp(&e->id, x, 32))
            continue;
        void *nw = realloc(d->wc, (d->nwc + 1) * sizeof *d->wc);
        if (!nw)
            return -1;
        d->wc = nw;
        d->wc[d->nwc].x = e->id;
        d->wc[d->nwc].cut = c;
        d->wc[d->nwc].votes = !cand_clean(r, e, c);
        d->nwc++;
    }
    return 0;
}

/* When D(x, ...) may first differ from R through the other candidates:
 * R's first record of one of them beyond its lowest candidate cut (its
 * ordinal, UINT64_MAX: none). */
static uint64_t others_beyond(const rekey_replay *rr, const rk_subj *x)
{
    uint64_t first = UINT64_MAX;
    for (size_t j = 0; j < rr->n; j++) {
        const rk_subj *e = &rr->subj[j];
        uint64_t fb = e == x ? UINT64_MAX : first_beyond(e, cand_low(e));
        if (fb < first)
            first = fb;
    }
    return first;
}

int rekey_replay_epoch(const rekey_replay *rr, size_t i, proto_id *x, uint64_t *cut, int *need_d)
{
    size_t k = 0;
    for (size_t j = 0; rr && j < rr->n; j++) {
        const rk_subj *e = &rr->subj[j];
        /* the candidates: each cut named by votes of e's epoch g(X) from
         * two distinct members or more, whatever their standing here (a
         * pending voter is active in a what-if that leaves out the
         * thief's records; only as another's candidate do such votes not
         * count: rekey_replay_standing) */
        for (size_t h = 0; h < e->nheld; h++) {
            uint64_t c = e->held[h].cut;
            size_t p = 0;
            while (p < h && !(e->held[p].gen == e->g && e->held[p].cut == c))
                p++;
            if (e->held[h].gen != e->g || c <= e->prev_cut || p < h || held_voters(e, e->g, c, 0) < STORE_REKEY_VOTERS_MIN)
                continue;
            uint64_t fb = first_beyond(e, c), ob = others_beyond(rr, e);
            if (ob < fb)
                fb = ob;
            int r_is_d = e->open && e->ecut == c;
            /* D(X, c) = R up to the first record of X beyond c that R took:
             * R's earliest completion stands if it came before it; with no
             * such record and no epoch of that cut in R, D has none either */
            int need = r_is_d ? fb != UINT64_MAX && (!e->done || fb <= e->done_ord) : fb != UINT64_MAX;
            if (!r_is_d && !need)
                continue;
            if (k++ != i)
                continue;
            *x = e->id;
            *cut = c;
            *need_d = need;
            return 0;
        }
    }
    return 1;
}

int rekey_replay_completion(const rekey_replay *rr, const proto_id *x, uint64_t cut, uint8_t key[RK_KEY])
{
    const rk_subj *e = subj_find(rr, x);
    /* D(X, v_e) decides the epoch with that cut only (in D another vote
     * may have opened it, one R had blocked) */
    if (!e || !e->open || !e->done || e->ecut != cut)
        return 1;
    memcpy(key, e->done_key, RK_KEY);
    return 0;
}

int rekey_sched_add(rekey_sched *d, const rekey_replay *rr, const proto_id *x)
{
    const rk_subj *e = subj_find(rr, x);
    if (!e || !e->open || !e->done || d->n >= STORE_REKEY_DECISIONS_MAX)
        return -1;
    rk_dec *k = &d->d[d->n];
    memset(k, 0, sizeof *k);
    const rk_prop *p = &e->props[e->done_prop];
    if (!(k->spki = malloc(p->len)) || ids_copy(&k->voters, e->done_voters, e->ndone)) {
        free(k->spki);
        return -1;
    }
    memcpy(k->spki, p->spki, p->len);
    k->len = p->len;
    k->x = *x;
    k->gen = e->eg;
    k->cut = e->ecut;
    memcpy(k->turn, e->done_key, RK_KEY);
    k->quorum = e->done_q;
    k->nvoters = e->ndone;
    d->n++;
    return 0;
}

/* ---- what the last derivation left (meta "rk/HEX", "rk_subjects") ----
 *
 * Per subject: be32 g | be64 open cut (0: none) | be32 nalt | nalt x (be32
 * len | spki) | be32 nitems | items (u8 what | be32 gen | be64 cut | kid 32 |
 * key 48 | be32 quorum | be32 nvoters | voters 32 each), then what member
 * show needs to say a list was cut (a reader of the part before it only
 * ignores it; an entry without it cut nothing): be32 stale votes not kept |
 * be32 proposals not kept | be32 nvoters uncut for each item. */

typedef struct {
    uint8_t *b;
    size_t n, cap;
    int err;
} wbuf;

static void wput(wbuf *w, const void *p, size_t n)
{
    if (w->err || !n)
        return;   /* nothing (an empty tail's buffer is NULL) */
    if (w->n + n > w->cap) {
        size_t nc = (w->n + n) * 2 + 64;
        uint8_t *nb = realloc(w->b, nc);
        if (!nb) {
            w->err = 1;
            return;
        }
        w->b = nb;
        w->cap = nc;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void wput32(wbuf *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    wput(w, b, 4);
}

static void wput64(wbuf *w, uint64_t v)
{
    uint8_t b[8];
    put_be64(b, v);
    wput(w, b, 8);
}

static void wput_item(wbuf *w, wbuf *tail, int what, uint32_t gen, uint64_t cut, const proto_id *kid,
                      const uint8_t *key, uint32_t q, const proto_id *voters, size_t nv, size_t nv_all)
{
    wput32(tail, (uint32_t)nv_all);
    uint8_t wb = (uint8_t)what;
    wput(w, &wb, 1);
    wput32(w, gen);
    wput64(w, cut);
    wput(w, kid->b, 32);
    wput(w, key, RK_KEY);
    wput32(w, q);
    if (nv > STORE_REKEY_SHOW_MAX)
        nv = STORE_REKEY_SHOW_MAX;
    wput32(w, (uint32_t)nv);
    for (size_t i = 0; i < nv; i++)
        wput(w, voters[i].b, 32);
}

static void subj_meta_name(const proto_id *x, char name[72])
{
    memcpy(name, "rk/", 3);
    proto_hex(x->b, 32, name + 3);
}

static int subj_pack(store *s, MDB_txn *txn, const rk_subj *e, wbuf *w)
{
    wbuf tail = { 0 };
    wput32(w, e->g);
    wput64(w, e->open ? e->ecut : 0);
    uint32_t nalt = e->open ? (uint32_t)(e->nprops < STORE_REKEY_ALT_KEYS ? e->nprops : STORE_REKEY_ALT_KEYS) : 0;
    wput32(w, nalt);
    for (uint32_t i = 0; i < nalt; i++) {
        wput32(w, (uint32_t)e->props[i].len);
        wput(w, e->props[i].spki, e->props[i].len);
    }
    size_t nprop = e->open ? e->nprops : 0;
    if (nprop > STORE_REKEY_SHOW_MAX)
        nprop = STORE_REKEY_SHOW_MAX;
    wput32(w, (uint32_t)(e->nitems + nprop));
    for (size_t i = 0; i < e->nitems; i++) {
        const rk_item *it = &e->items[i];
        if (it->what == STORE_REKEY_DECIDED)
            wput_item(w, &tail, it->what, it->gen, it->cut, &it->kid, it->key, it->quorum, it->voters,
                      it->nvoters, it->nvoters_all);
    }
    if (nprop) {
        proto_id *who = malloc(e->nvotes * sizeof *who);
        if (!who) {
            free(tail.b);
            return -1;
        }
        uint32_t active = 0;
        if (members_active_txn(s, txn, &active)) {
            free(tail.b);
            free(who);
            return -1;
        }
        uint32_t q = quorum_at(s, txn, e, active);
        for (size_t p = 0; p < nprop; p++) {
            size_t n = 0;
            for (size_t i = 0; i < e->nvotes; i++)
                if (e->votes[i].prop == p)
                    who[n++] = e->votes[i].voter;
            wput_item(w, &tail, STORE_REKEY_PROPOSAL, e->eg, e->ecut, &e->props[p].kid, e->open_key, q, who, n, n);
        }
        free(who);
    }
    for (size_t i = 0; i < e->nitems; i++) {
        const rk_item *it = &e->items[i];
        if (it->what == STORE_REKEY_STALE)
            wput_item(w, &tail, it->what, it->gen, it->cut, &it->kid, it->key, 0, it->voters, it->nvoters,
                      it->nvoters_all);
    }
    wput32(w, (uint32_t)e->stale_dropped);
    wput32(w, (uint32_t)((e->open ? e->nprops : 0) - nprop));
    wput(w, tail.b, tail.n);
    int bad = w->err || tail.err;
    free(tail.b);
    return bad ? -1 : 0;
}

/* The decisions of a subject as the last derivation left them. */
typedef struct {
    proto_id x;
    size_t n;
    struct { uint64_t cut; proto_id kid; } d[STORE_REKEY_DECISIONS_MAX];
} old_decs;

static int old_cb(void *ctx, const store_rekey *k)
{
    old_decs *o = ctx;
    if (k->what == STORE_REKEY_DECIDED && o->n < STORE_REKEY_DECISIONS_MAX) {
        o->d[o->n].cut = k->cut;
        o->d[o->n].kid = k->key_id;
        o->n++;
    }
    return 0;
}

static int subj_walk(store *s, MDB_txn *txn, const proto_id *x, uint32_t *gen, uint64_t *open_cut,
                     store_rekey_cb cb, void *ctx);

/* From which seq x's log is judged again: the lowest cut at which its
 * decisions before (o) and now (e) differ, + 1; 0 when they are the same. */
static uint64_t changed_from(const old_decs *o, const rk_subj *e)
{
    size_t j = 0;
    uint64_t from = 0;
    for (size_t i = 0; e && i < e->nitems; i++) {
        const rk_item *it = &e->items[i];
        if (it->what != STORE_REKEY_DECIDED)
            continue;
        if (!o || j >= o->n || o->d[j].cut != it->cut || memcmp(&o->d[j].kid, &it->kid, 32)) {
            uint64_t c = it->cut;
            if (o && j < o->n && o->d[j].cut < c)
                c = o->d[j].cut;
            return c + 1;
        }
        j++;
    }
    if (o && j < o->n)
        from = o->d[j].cut + 1;
    return from;
}

static void moved_note(store *s, const proto_id *x)
{
    if (rekey_moved(s, x))
        return;
    if (s->rk_moved_n < STORE_REKEY_DECISIONS_MAX)
        s->rk_moved[s->rk_moved_n++] = *x;
    else
        s->rk_moved_all = 1;
}

int rekey_moved(store *s, const proto_id *author)
{
    if (s->rk_moved_all)
        return 1;
    for (size_t i = 0; i < s->rk_moved_n; i++)
        if (!memcmp(&s->rk_moved[i], author, 32))
            return 1;
    return 0;
}

int rekey_replay_end(store *s, MDB_txn *txn, rekey_replay *rr)
{
    /* the previous derivation's subjects: their decisions (to re-judge the
     * logs whose schedule changed), then their entries go */
    old_decs *old = NULL;
    size_t on = 0;
    int ret = -1;
    MDB_val lk = { 11, "rk_subjects" }, lv;
    if (mdb_get(txn, s->meta, &lk, &lv) == 0 && lv.mv_size % 32 == 0 && lv.mv_size) {
        on = lv.mv_size / 32;
        uint8_t *ids = malloc(lv.mv_size);
        if (!ids || !(old = calloc(on, sizeof *old))) {
            free(ids);
            return -1;
        }
        memcpy(ids, lv.mv_data, lv.mv_size);
        for (size_t i = 0; i < on; i++) {
            memcpy(old[i].x.b, ids + 32 * i, 32);
            if (subj_walk(s, txn, &old[i].x, NULL, NULL, old_cb, &old[i]) < 0) {
                free(ids);
                goto out;
            }
        }
        free(ids);
    }
    for (size_t i = 0; i < on; i++) {
        char name[72];
        subj_meta_name(&old[i].x, name);
        MDB_val k = { strlen(name), name };
        int rc = mdb_del(txn, s->meta, &k, NULL);
        if (rc && rc != MDB_NOTFOUND)
            goto out;
    }
    /* the arrival rules (store_apart.c) follow the decisions and epochs */
    if (rekey_arrival_clear_txn(s, txn))
        goto out;
    wbuf ids = { 0 };
    for (size_t i = 0; rr && i < rr->n; i++) {
        const rk_subj *e = &rr->subj[i];
        wbuf w = { 0 };
        char name[72];
        int bad = subj_pack(s, txn, e, &w) || (subj_meta_name(&e->id, name), meta_put_txn(s, txn, name, w.b, w.n));
        free(w.b);
        for (size_t j = 0; !bad && j < e->nitems; j++)
            if (e->items[j].what == STORE_REKEY_DECIDED)
                bad = rekey_cut_put_txn(s, txn, &e->id, e->items[j].cut) != 0;
        for (size_t j = 0; !bad && e->open && j < e->nprops && j < STORE_REKEY_ALT_KEYS; j++)
            bad = rekey_alt_put_txn(s, txn, &e->id, e->ecut, e->props[j].spki, e->props[j].len) != 0;
        if (bad) {
            free(ids.b);
            goto out;
        }
        wput(&ids, e->id.b, 32);
    }
    int rc = ids.err;
    if (!rc) {
        if (ids.n)
            rc = meta_put_txn(s, txn, "rk_subjects", ids.b, ids.n);
        else {
            rc = mdb_del(txn, s->meta, &lk, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        }
    }
    free(ids.b);
    if (rc)
        goto out;
    /* the logs whose key schedule changed are judged again from the first
     * cut that changed (store_apart.c): the versions valid under the keys
     * just derived stay, the others go apart */
    for (size_t i = 0; rr && i < rr->n; i++) {
        const old_decs *o = NULL;
        for (size_t j = 0; j < on && !o; j++)
            if (!memcmp(&old[j].x, &rr->subj[i].id, 32))
                o = &old[j];
        uint64_t from = changed_from(o, &rr->subj[i]);
        if (from && (moved_note(s, &rr->subj[i].id),
                     log_rejudge_author_txn(s, txn, &rr->subj[i].id, from, NULL, NULL, NULL)))
            goto out;
    }
    for (size_t j = 0; j < on; j++) {
        if (rr && subj_find(rr, &old[j].x))
            continue;
        uint64_t from = changed_from(&old[j], NULL);
        if (from && (moved_note(s, &old[j].x), log_rejudge_author_txn(s, txn, &old[j].x, from, NULL, NULL, NULL)))
            goto out;
    }
    ret = 0;
out:
    free(old);
    return ret;
}

/* ---- reading it back ---- */

typedef struct {
    const uint8_t *p;
    size_t n;
    int err;
} rbuf;

static const uint8_t *rget(rbuf *r, size_t n)
{
    if (r->err || r->n < n) {
        r->err = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->n -= n;
    return p;
}

static uint32_t rget32(rbuf *r)
{
    const uint8_t *p = rget(r, 4);
    return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint64_t rget64(rbuf *r)
{
    const uint8_t *p = rget(r, 8);
    return p ? get_be64(p) : 0;
}

/* x's entry: 0 (into *r), 1 none, -1 */
static int subj_read(store *s, MDB_txn *txn, const proto_id *x, rbuf *r)
{
    char name[72];
    subj_meta_name(x, name);
    MDB_val k = { strlen(name), name }, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? 1 : -1;
    r->p = v.mv_data;
    r->n = v.mv_size;
    r->err = 0;
    return 0;
}

int rekey_open_txn(store *s, MDB_txn *txn, const proto_id *x, uint64_t *cut)
{
    if (!x) {
        MDB_val k = { 11, "rk_subjects" }, v;
        if (mdb_get(txn, s->meta, &k, &v) || v.mv_size % 32)
            return 0;
        for (size_t i = 0; i < v.mv_size / 32; i++) {
            proto_id id;
            memcpy(id.b, (uint8_t *)v.mv_data + 32 * i, 32);
            if (rekey_open_txn(s, txn, &id, NULL))
                return 1;
        }
        return 0;
    }
    rbuf r;
    if (subj_read(s, txn, x, &r))
        return 0;
    rget32(&r);
    uint64_t c = rget64(&r);
    if (r.err || !c)
        return 0;
    if (cut)
        *cut = c;
    return 1;
}

/* Walk x's items: cb for each (NULL: just read g and the open cut). */
static int subj_walk(store *s, MDB_txn *txn, const proto_id *x, uint32_t *gen, uint64_t *open_cut,
                     store_rekey_cb cb, void *ctx)
{
    rbuf r;
    int rc = subj_read(s, txn, x, &r);
    if (gen)
        *gen = 0;
    if (open_cut)
        *open_cut = 0;
    if (rc)
        return rc < 0 ? -1 : 0;
    uint32_t g = rget32(&r);
    uint64_t oc = rget64(&r);
    uint32_t nalt = rget32(&r);
    for (uint32_t i = 0; i < nalt && !r.err; i++)
        rget(&r, rget32(&r));
    uint32_t ni = rget32(&r);
    if (r.err)
        return -1;
    if (gen)
        *gen = g;
    if (open_cut)
        *open_cut = oc;
    /* the tail after the items (subj_pack): what was cut, and the last
     * proposal and the last stale vote, which say whether more followed */
    rbuf t = r;
    uint32_t last_prop = UINT32_MAX, last_stale = UINT32_MAX;
    for (uint32_t i = 0; i < ni && !t.err; i++) {
        const uint8_t *w = rget(&t, 1);
        if (w && *w == STORE_REKEY_PROPOSAL)
            last_prop = i;
        else if (w && *w == STORE_REKEY_STALE)
            last_stale = i;
        rget(&t, 4 + 8 + 32 + RK_KEY + 4);
        uint32_t nv = rget32(&t);
        rget(&t, nv <= STORE_REKEY_SHOW_MAX ? 32 * (size_t)nv : SIZE_MAX);
    }
    uint32_t stale_more = 0, prop_more = 0;
    const uint8_t *uncut = NULL;
    if (!t.err && t.n >= 8 + 4 * (size_t)ni) {
        stale_more = rget32(&t);
        prop_more = rget32(&t);
        uncut = rget(&t, 4 * (size_t)ni);
    }
    proto_id *voters = NULL;
    int ret = 0;
    for (uint32_t i = 0; i < ni && !ret; i++) {
        store_rekey k;
        memset(&k, 0, sizeof k);
        const uint8_t *w = rget(&r, 1);
        k.what = w ? *w : 0;
        k.gen = rget32(&r);
        k.cut = rget64(&r);
        const uint8_t *kid = rget(&r, 32), *key = rget(&r, RK_KEY);
        k.quorum = rget32(&r);
        uint32_t nv = rget32(&r);
        const uint8_t *vp = nv <= STORE_REKEY_SHOW_MAX ? rget(&r, 32 * (size_t)nv) : NULL;
        if (r.err || !kid || !key || (nv && !vp))
            return -1;
        memcpy(k.key_id.b, kid, 32);
        k.time_ms = get_be64(key);
        memcpy(k.by.b, key + 8, 32);
        k.by_seq = get_be64(key + 40);
        free(voters);
        voters = NULL;
        if (nv && !(voters = malloc(nv * sizeof *voters)))
            return -1;
        if (nv)
            memcpy(voters, vp, 32 * (size_t)nv);
        k.voters = voters;
        k.nvoters = nv;
        k.nvoters_all = nv;
        if (uncut) {
            uint32_t all = (uint32_t)uncut[4 * i] << 24 | (uint32_t)uncut[4 * i + 1] << 16 |
                           (uint32_t)uncut[4 * i + 2] << 8 | uncut[4 * i + 3];
            if (all > nv)
                k.nvoters_all = all;
        }
        k.more = (i == last_prop && prop_more) || (i == last_stale && stale_more);
        if (cb)
            ret = cb(ctx, &k);
    }
    free(voters);
    return ret;
}

int store_member_rekeys(store *s, const proto_id *x, uint32_t *gen, uint64_t *open_cut, store_rekey_cb cb,
                        void *ctx)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = subj_walk(s, txn, x, gen, open_cut, cb, ctx);
    mdb_txn_abort(txn);
    return rc;
}

void store_rekey_stats(store *s, uint64_t *rederives, uint64_t *nested, uint64_t *replays)
{
    *rederives = s->rk_rederives;
    *nested = s->rk_nested;
    *replays = s->rk_replays;
}

uint64_t store_rekey_versions_read(store *s)
{
    return s->rk_versions_read;
}

int rekey_replay_failed(const rekey_replay *rr)
{
    return rr && rr->oom;
}
