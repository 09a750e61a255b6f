/*
 * store/store_replay.c — membership derived from the log afresh (DESIGN §2,
 * docs/DECISIONS.md 6): the replay of the membership records, and the
 * bookkeeping that lets the incremental path of store_member.c stand in
 * for it while records come in the replay's order.
 *
 * The rule every node computes the same way is a replay of the membership
 * records the logs hold — the pinned genesis and every member record, each
 * author's in seq order — in one total order: repeatedly, among the authors
 * whose next unreplayed membership record is applicable (its author is an
 * active member in the replay so far; the genesis always is), take the
 * record with the lowest (time_ms, author, seq) and apply it with
 * apply_member.  A record whose author never becomes active (or has left
 * or been expelled before its turn) is held but derives nothing: it is
 * "blocked".  The input is the set of (author, seq) -> record the logs hold
 * and the pinned genesis, nothing of the order they came in, so two stores
 * holding the same logs derive the same members and endorse tables.
 *
 * The incremental path gives the same result as long as each membership
 * record applied sorts after every one applied before it and nothing
 * blocked could still apply: then the replay of the logs with it is the
 * replay without it followed by it.  meta "member_last" keeps the highest
 * key applied (be64 time_ms | author | be64 seq; a genesis counts as time 0,
 * since nothing can apply before it) and "member_blocked" whether the last
 * replay left blocked records whose author could still become active (one
 * that left or was expelled never does: its records stay blocked for
 * good, and do not turn the fast path off).  A record that breaks the
 * condition, and a fork that changes the winner of a membership record,
 * mark the write transaction; it replays before the next record of the
 * transaction is checked, and before it commits (member_settle_txn), so
 * every record is checked against the membership derived from the log as
 * it stands, whatever the batch boundaries.
 *
 * Costs (what a hostile member can make a node do): a replay reads the
 * keys of the membership records (48 bytes each; the records themselves
 * are read one at a time from the log as they are applied) and picks the
 * next record from a heap of the applicable authors, O(R log A) for R
 * records and A authors.  Membership records dated more than
 * STORE_MEMBER_SKEW_MS ahead of this node's clock are not accepted yet
 * (store_apply.c), so no record can pin member_last far ahead and make
 * every later honest record replay.
 *
 * Hooks for the rules other records add (policy, key rotation): the entry
 * point is member_rederive_txn.  A new kind flagged KIND_F_MEMBERSHIP is
 * waited for like a member record when dated ahead (store_apply.c) and
 * marks a fork for a replay; to take part in the replay it adds a
 * collect_kind call in member_rederive_txn and its case in replay_apply
 * (the one place a record is applied in the replay), and its incremental
 * apply calls member_note_txn like apply_member's caller does.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

#define MKEY_LEN 48

/* A membership record in the replay: its order key, and where it is. */
typedef struct {
    uint8_t key[MKEY_LEN];  /* be64 time_ms | author | be64 seq: the log key is key + 8 */
    uint8_t genesis;
} mref;

typedef struct {
    mref *v;
    size_t n, cap;
} mrefs;

static void mkey_of(const proto_record *r, int genesis, uint8_t k[MKEY_LEN])
{
    /* nothing can apply before the genesis (its author is the only member),
     * so its time plays no part in the order */
    put_be64(k, genesis ? 0 : r->time_ms);
    memcpy(k + 8, r->author.b, 32);
    put_be64(k + 40, r->seq);
}

/* (author, seq): each author's records together, in log order */
static int mref_log_cmp(const void *x, const void *y)
{
    const mref *a = x, *b = y;
    return memcmp(a->key + 8, b->key + 8, 40);
}

/* Every record of `kind` the log holds (the ver index names them): keys
 * only, read through the map before the replay writes anything. */
static int collect_kind(store *s, MDB_txn *txn, const char *kind, const proto_id *genesis,
                        mrefs *l)
{
    uint8_t pfx[1 + PROTO_KIND_MAX];
    size_t pl = strlen(kind);
    pfx[0] = (uint8_t)pl;
    memcpy(pfx + 1, kind, pl);
    pl++;
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->ver, &c))
        return -1;
    MDB_val k = { pl, pfx }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), ret = 0;
    for (; rc == 0 && k.mv_size >= pl + 32 + 1 + 8 && !memcmp(k.mv_data, pfx, pl);
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint8_t lk[40];
        memcpy(lk, (uint8_t *)k.mv_data + pl, 32);
        memcpy(lk + 32, (uint8_t *)k.mv_data + k.mv_size - 8, 8);
        MDB_val lkv = { 40, lk }, lv;
        proto_record r;
        if ((rc = mdb_get(txn, s->log, &lkv, &lv))) {
            if (rc != MDB_NOTFOUND) { ret = -1; break; }
            continue;
        }
        scanned(s, lv.mv_size);
        if (genesis) {
            proto_id h;
            proto_record_hash(lv.mv_data, lv.mv_size, &h);
            if (memcmp(&h, genesis, 32))
                continue;   /* only the pinned genesis founds anything */
        }
        /* a record that no longer decodes derives nothing (it did when
         * it was stored): it is left out, never a failure */
        if (proto_record_decode_stored(lv.mv_data, lv.mv_size, &r, NULL, 0) || strcmp(r.kind, kind))
            continue;
        if (l->n == l->cap) {
            size_t nc = l->cap ? l->cap * 2 : 64;
            mref *nv = realloc(l->v, nc * sizeof *nv);
            if (!nv) { ret = -1; break; }
            l->v = nv;
            l->cap = nc;
        }
        mref *m = &l->v[l->n++];
        mkey_of(&r, genesis != NULL, m->key);
        m->genesis = genesis != NULL;
    }
    mdb_cursor_close(c);
    return ret;
}

/* SHA-256 over the members, endorse and keys tables: to tell whether a
 * replay changed what the incremental path had derived. */
static int tables_hash(store *s, MDB_txn *txn, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    MDB_dbi dbs[4] = { s->members, s->endorse, s->keys, s->keyown };
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (int i = 0; ok && i < 4; i++) {
        MDB_cursor *c;
        MDB_val k, v;
        if (mdb_cursor_open(txn, dbs[i], &c)) {
            ok = 0;
            break;
        }
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); ok && rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint8_t l[17] = { (uint8_t)i };
            put_be64(l + 1, k.mv_size);
            put_be64(l + 9, v.mv_size);
            ok = EVP_DigestUpdate(md, l, sizeof l) && EVP_DigestUpdate(md, k.mv_data, k.mv_size) &&
                 EVP_DigestUpdate(md, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(c);
    }
    ok = ok && EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

typedef struct {
    size_t first, n, next;  /* this author's records in the sorted array */
    int active, inheap;
} mauthor;

static mauthor *author_find(mauthor *au, size_t na, const mref *v, const proto_id *id)
{
    size_t lo = 0, hi = na;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(v[au[mid].first].key + 8, id->b, 32);
        if (!c)
            return &au[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A binary min-heap of authors by the key of their next record. */
typedef struct {
    size_t *h, n;
    const mauthor *au;
    const mref *v;
} aheap;

static const uint8_t *head_key(const aheap *hp, size_t a)
{
    return hp->v[hp->au[a].first + hp->au[a].next].key;
}

static int heap_less(const aheap *hp, size_t i, size_t j)
{
    return memcmp(head_key(hp, hp->h[i]), head_key(hp, hp->h[j]), MKEY_LEN) < 0;
}

static void heap_swap(aheap *hp, size_t i, size_t j)
{
    size_t t = hp->h[i];
    hp->h[i] = hp->h[j];
    hp->h[j] = t;
}

static void heap_push(aheap *hp, size_t a)
{
    size_t i = hp->n++;
    hp->h[i] = a;
    while (i && heap_less(hp, i, (i - 1) / 2)) {
        heap_swap(hp, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static size_t heap_pop(aheap *hp)
{
    size_t top = hp->h[0], i = 0;
    hp->h[0] = hp->h[--hp->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < hp->n && heap_less(hp, l, m)) m = l;
        if (r < hp->n && heap_less(hp, r, m)) m = r;
        if (m == i)
            break;
        heap_swap(hp, i, m);
        i = m;
    }
    return top;
}

/* The exclusion of subject id in this round, or NULL. */
static const rk_excl *excl_find(const rk_excl *ex, size_t nex, const proto_id *id)
{
    for (size_t i = 0; i < nex; i++)
        if (!memcmp(&ex[i].subj, id, 32))
            return &ex[i];
    return NULL;
}

/* Phase 2: whether r, a record of a rekeyed subject beyond the decided
 * cut, takes part: it must verify under the key in force at its seq once
 * the rekey took effect in this replay, under the decided key before (the
 * member's restored node signs with it; the old key's records beyond the
 * cut, a thief's early-dated leave or rotate among them, take no part). */
static int excl_admits(store *s, MDB_txn *txn, const rk_excl *e, const proto_record *r)
{
    uint64_t cut;
    if (rekey_get_txn(s, txn, &r->author, &cut, NULL) == 0) {
        EVP_PKEY *k = key_at_txn(s, txn, &r->author, r->seq);
        if (!k) {
            int st = 0;
            uint64_t fc = 0;
            k = former_key_txn(s, txn, &r->author, r->seq, &st, &fc);
        }
        int ok = k && proto_record_verify(r, k, NULL, 0) == 0;
        EVP_PKEY_free(k);
        return ok;
    }
    return e->key && proto_record_verify(r, e->key, NULL, 0) == 0;
}

/* Apply one record of the replay, read from the log into buf (the
 * transaction writes, which may move the pages).  Its subject in *subj.
 * 0 (applied, or derives nothing), -1 on a store failure. */
static int replay_apply(store *s, MDB_txn *txn, const mref *m, uint8_t *buf, proto_id *subj,
                        const rk_excl *ex, size_t nex)
{
    MDB_val k = { 40, (void *)(m->key + 8) }, v;
    proto_record r;
    memcpy(subj->b, m->key + 8, 32);
    int rc = mdb_get(txn, s->log, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : -1;
    if (v.mv_size > PROTO_RECORD_MAX)
        return 0;
    memcpy(buf, v.mv_data, v.mv_size);
    if (proto_record_decode_stored(buf, v.mv_size, &r, NULL, 0))
        return 0;   /* it decoded when stored: derives nothing now */
    if (m->genesis) {
        store_member gm;
        if (genesis_member(&r, &gm, NULL, 0))
            return 0;   /* a certificate no longer parsing founds nothing */
        return member_put_txn(s, txn, &gm);
    }
    const rk_excl *e = nex ? excl_find(ex, nex, &r.author) : NULL;
    if (e && r.seq > e->cut && (!e->key || !excl_admits(s, txn, e, &r)))
        return 0;   /* phase 1: beyond the candidate cut; phase 2: not the new key's */
    proto_unhex(r.key, subj->b, 32);
    return apply_member(s, txn, &r) < 0 ? -1 : 0;
}

/* The membership records of the log, by author: l sorted, au[0..*na). */
static int refs_build(store *s, MDB_txn *txn, const proto_id *g, mrefs *l, mauthor **au, size_t *na)
{
    l->n = 0;
    free(*au);
    *au = NULL;
    *na = 0;
    if (collect_kind(s, txn, "genesis", g, l) || collect_kind(s, txn, "member", NULL, l))
        return -1;
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, mref_log_cmp);
    if (!(*au = calloc(l->n ? l->n : 1, sizeof **au)))
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (i == 0 || memcmp(l->v[i].key + 8, l->v[i - 1].key + 8, 32))
            (*au)[(*na)++].first = i;
        (*au)[*na - 1].n++;
    }
    return 0;
}

/* One replay of the membership records in l, with the round's exclusions
 * ex (none: nex 0).  0 or -1. */
static int replay_pass(store *s, MDB_txn *txn, const mrefs *l, mauthor *au, size_t na, uint8_t *buf,
                       const rk_excl *ex, size_t nex)
{
    aheap hp = { 0 };
    uint8_t last[MKEY_LEN] = { 0 };
    int ret = -1, live_blocked = 0;
    for (size_t a = 0; a < na; a++) {
        au[a].next = 0;
        au[a].active = au[a].inheap = 0;
    }
    if (!(hp.h = malloc((l->n ? l->n : 1) * sizeof *hp.h)))
        return -1;
    hp.au = au;
    hp.v = l->v;
    /* the keys over time too: a rotate is a member record, applied in its
     * turn like the others (a fork may have changed which one won) */
    if (mdb_drop(txn, s->members, 0) || mdb_drop(txn, s->endorse, 0) ||
        mdb_drop(txn, s->keys, 0) || mdb_drop(txn, s->keyown, 0) ||
        member_cuts_clear_txn(s, txn) ||  /* and former members' cuts */
        rekey_clear_txn(s, txn))          /* and rekey votes (store_rekey.c) */
        goto out;
    cache_clear(s);
    /* at first only the genesis applies */
    for (size_t a = 0; a < na; a++)
        if (l->v[au[a].first].genesis) {
            heap_push(&hp, a);
            au[a].inheap = 1;
        }
    s->in_replay = 1;
    while (hp.n) {
        size_t a = heap_pop(&hp);
        mauthor *ma = &au[a];
        ma->inheap = 0;
        const mref *m = &l->v[ma->first + ma->next];
        if (!m->genesis && !ma->active)
            continue;   /* left or was expelled since it was pushed */
        ma->next++;
        proto_id subj;
        if (replay_apply(s, txn, m, buf, &subj, ex, nex)) {
            s->in_replay = 0;
            goto out;
        }
        if (memcmp(m->key, last, MKEY_LEN) > 0)
            memcpy(last, m->key, MKEY_LEN);
        /* a record changes its subject's entry alone */
        mauthor *sa = author_find(au, na, l->v, &subj);
        if (sa) {
            sa->active = is_member_txn(s, txn, &subj);
            if (sa->active && !sa->inheap && sa->next < sa->n) {
                heap_push(&hp, (size_t)(sa - au));
                sa->inheap = 1;
            }
        }
        if (ma->active && !ma->inheap && ma->next < ma->n) {
            heap_push(&hp, a);
            ma->inheap = 1;
        }
    }
    s->in_replay = 0;
    /* blocked records whose author may still become active keep the fast
     * path off; those of a member that left or was expelled never apply */
    for (size_t a = 0; a < na && !live_blocked; a++) {
        if (au[a].next == au[a].n)
            continue;
        proto_id id;
        int st = 0;
        memcpy(id.b, l->v[au[a].first].key + 8, 32);
        int have = member_status_txn(s, txn, &id, &st);
        if (have < 0)
            goto out;
        live_blocked = have == 1 || (st != STORE_MEMBER_EXPELLED && st != STORE_MEMBER_LEFT);
    }
    uint8_t bl = (uint8_t)live_blocked;
    if (meta_put_txn(s, txn, "member_last", last, MKEY_LEN) ||
        meta_put_txn(s, txn, "member_blocked", &bl, 1))
        goto out;
    ret = 0;
out:
    cache_clear(s);
    free(hp.h);
    return ret;
}

/* The replay deciding rekeys (docs/DECISIONS.md 20).  A plain replay
 * (votes recorded, none applied); without votes that is all, and costs
 * what it did before rekeys existed.  With votes, phase 1: a replay with
 * each subject's membership records beyond its candidate cut (the lowest
 * seq its votes name) left out, then the rekeys decided from the vote
 * table with the voters active at its end and the expulsion quorum of the
 * policy derived with the subjects' policy records beyond their candidate
 * cuts left out too; phase 2: the final replay, each decided subject's
 * records beyond the decided cut left out unless they verify under the
 * new key (or the key in force after it), the rekey applied at the first
 * vote naming its key (or at the end).  No rounds, no fixed point: a voter
 * whose standing needs the subject's records beyond the candidate cut does
 * not count.  Three passes with votes, one without. */
static int replay_rekeys(store *s, MDB_txn *txn, const mrefs *l, mauthor *au, size_t na, uint8_t *buf)
{
    rk_excl *ex = NULL;
    rk_dec *dec = NULL;
    int nex = 0, nd = 0, nkeys = 0, ret = -1;
    s->rk_phase = 0;
    if (replay_pass(s, txn, l, au, na, buf, NULL, 0))
        goto out;
    if ((nex = rekey_candidates_txn(s, txn, &ex)) <= 0) {
        ret = nex < 0 ? -1 : 0;
        goto out;
    }
    s->rk_phase = 1;
    if (replay_pass(s, txn, l, au, na, buf, ex, (size_t)nex) ||
        (nd = rekey_decide_txn(s, txn, ex, (size_t)nex, &dec)) < 0)
        goto out;
    free(ex);
    ex = NULL;
    nex = 0;
    if (nd > 0 && !(ex = calloc((size_t)nd, sizeof *ex)))
        goto out;
    for (int i = 0; i < nd; i++, nkeys++) {
        ex[i].subj = dec[i].subj;
        ex[i].cut = dec[i].cut;
        if (!(ex[i].key = key_from_spki(dec[i].spki, dec[i].spki_len)))
            goto out;
    }
    nex = nd;
    s->rk_phase = 2;
    s->rk_dec = dec;
    s->n_rk_dec = (size_t)nd;
    if (replay_pass(s, txn, l, au, na, buf, ex, (size_t)nex))
        goto out;
    for (int i = 0; i < nd; i++) {
        store_member m;
        if (!dec[i].applied && member_get_txn(s, txn, &dec[i].subj, &m) == 0 &&
            rekey_apply_dec_txn(s, txn, &dec[i]))
            goto out;
    }
    ret = 0;
out:
    s->rk_phase = 0;
    s->rk_dec = NULL;
    s->n_rk_dec = 0;
    for (int i = 0; ex && i < nkeys; i++)
        EVP_PKEY_free(ex[i].key);
    free(ex);
    free(dec);
    return ret;
}

/* Whether entry e (subject | cut | key) is in list b of n. */
static const uint8_t *rk_find(const uint8_t *b, int n, const uint8_t *subj)
{
    for (int i = 0; i < n; i++)
        if (!memcmp(b + (size_t)i * RK_ENTRY, subj, 32))
            return b + (size_t)i * RK_ENTRY;
    return NULL;
}

/* Note every subject whose rekey (cut, key) differs between the lists:
 * its key in force changed from the lower cut + 1 on. */
static void rk_diff(store *s, const uint8_t *a, int na, const uint8_t *b, int nb)
{
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *x = pass ? b : a, *y = pass ? a : b;
        int nx = pass ? nb : na, ny = pass ? na : nb;
        for (int i = 0; i < nx; i++) {
            const uint8_t *e = x + (size_t)i * RK_ENTRY, *o = rk_find(y, ny, e);
            if (o && !memcmp(o, e, RK_ENTRY))
                continue;
            uint64_t lo = get_be64(e + 32);
            if (o && get_be64(o + 32) < lo)
                lo = get_be64(o + 32);
            proto_id id;
            memcpy(id.b, e, 32);
            rekey_note_changed(s, &id, lo + 1);
        }
    }
}

int member_rederive_txn(store *s, MDB_txn *txn, int *changed)
{
    proto_id g;
    mrefs l = { 0 };
    mauthor *au = NULL;
    uint8_t before[32], after[32], *buf = NULL, *rk0 = NULL, *rk1 = NULL;
    size_t na = 0;
    int ret = -1;
    if (changed)
        *changed = 0;
    s->member_dirty = 0;
    if (meta_id(s, txn, "genesis", &g))
        return 0;   /* no alliance: nothing to derive */
    int n0, n1;
    if (!(buf = malloc(PROTO_RECORD_MAX)) || tables_hash(s, txn, before) ||
        (n0 = rekey_list_alloc_txn(s, txn, &rk0)) < 0)
        goto out;
    for (unsigned iter = 0;; iter++) {
        free(rk1);
        rk1 = NULL;
        if (refs_build(s, txn, &g, &l, &au, &na) || replay_rekeys(s, txn, &l, au, na, buf) ||
            (n1 = rekey_list_alloc_txn(s, txn, &rk1)) < 0)
            goto out;
        /* a rekey changed: its subject's log and quarantine are reconciled
         * with the key now in force; if records moved that the replay
         * read, it runs again (bounded; the same records give the same) */
        rk_diff(s, rk0, n0, rk1, n1);
        free(rk0);
        rk0 = rk1;
        rk1 = NULL;
        n0 = n1;
        s->member_dirty = 0;
        for (size_t i = 0; i < s->n_rk_changed; i++)
            if (s->rk_changed[i].pending) {
                s->rk_changed[i].pending = 0;
                if (rekey_reconcile_txn(s, txn, &s->rk_changed[i].author, s->rk_changed[i].lo))
                    goto out;
            }
        if (!s->member_dirty)
            break;
        if (iter + 1 == STORE_SETTLE_ROUNDS_MAX) {
            s->settle_capped++;
            break;
        }
    }
    s->member_dirty = 0;
    if (tables_hash(s, txn, after))
        goto out;
    s->member_rederives++;
    if (memcmp(before, after, 32)) {
        s->member_fixups++;
        if (changed)
            *changed = 1;
    }
    ret = 0;
out:
    cache_clear(s);
    free(buf);
    free(rk0);
    free(rk1);
    free(au);
    free(l.v);
    return ret;
}

void member_note_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    uint8_t k[MKEY_LEN], last[MKEY_LEN], bl = 1;
    size_t n = MKEY_LEN, bn = 1;
    int genesis = kind_is(r->kind, KIND_GENESIS);
    mkey_of(r, genesis, k);
    if (genesis) {
        /* the first membership record of a store */
        bl = 0;
        if (meta_put_txn(s, txn, "member_last", k, MKEY_LEN) ||
            meta_put_txn(s, txn, "member_blocked", &bl, 1))
            s->member_dirty = 1;
        return;
    }
    if (meta_get_txn(s, txn, "member_last", last, &n) || n != MKEY_LEN ||
        meta_get_txn(s, txn, "member_blocked", &bl, &bn) || bn != 1 || bl ||
        memcmp(k, last, MKEY_LEN) <= 0 ||
        meta_put_txn(s, txn, "member_last", k, MKEY_LEN))
        s->member_dirty = 1;
}

void member_note_blocked_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    uint8_t k[MKEY_LEN], last[MKEY_LEN], bl = 1;
    size_t n = MKEY_LEN, bn = 1;
    mkey_of(r, 0, k);
    /* after everything applied, with nothing blocked that could still
     * apply, the replay reaches it with the state as it is now, where its
     * author is no member: it derives nothing, and member_last stays (a
     * replay does not count a blocked record).  Sorting earlier, its
     * author may have been a member at its turn: the replay decides. */
    if (meta_get_txn(s, txn, "member_last", last, &n) || n != MKEY_LEN ||
        meta_get_txn(s, txn, "member_blocked", &bl, &bn) || bn != 1 || bl ||
        memcmp(k, last, MKEY_LEN) <= 0)
        s->member_dirty = 1;
}

int member_settle_txn(store *s, MDB_txn *txn)
{
    /* member_rederive_txn settles what its own reconciles mark; what is
     * left marked is bounded here too, and counted, never silent */
    for (unsigned round = 0; s->member_dirty; round++) {
        if (round == STORE_SETTLE_ROUNDS_MAX) {
            s->settle_capped++;
            s->member_dirty = 0;
            break;
        }
        if (member_rederive_txn(s, txn, NULL))
            return -1;
    }
    return 0;
}

int store_member_rederive(store *s, int *changed, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    rekey_txn_begin(s);
    if (member_rederive_txn(s, txn, changed)) {
        mdb_txn_abort(txn);
        cache_clear(s);
        return proto_err(err, errlen, "deriving membership from the log failed (store full?)");
    }
    if ((rc = mdb_txn_commit(txn))) {
        cache_clear(s);
        return lmdb_err(err, errlen, "commit", rc);
    }
    return 0;
}

void store_member_stats(store *s, uint64_t *rederives, uint64_t *fixups)
{
    *rederives = s->member_rederives;
    *fixups = s->member_fixups;
}
