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
 * mark the write transaction; it replays before it commits
 * (member_settle_txn), and before the next record of the transaction is
 * checked unless that record's check cannot depend on the replay
 * (member_settle_for_txn, "Checks within a batch" below), so every record
 * is checked against the membership derived from the log as it stands,
 * whatever the batch boundaries.
 *
 * Costs (what a hostile member can make a node do): a replay reads the
 * keys of the membership records (48 bytes each, with the op and subject
 * the admission closure needs; the records themselves are read one at a
 * time from the log as they are applied) and picks the next record from a
 * heap of the applicable authors, O(R log A) for R records and A authors;
 * the count of active members the admission quorum needs is kept as
 * members are written (store_member.c), not counted at each recount.
 * Membership records dated more than
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
 * apply calls member_note_txn like apply_member's caller does.  Policy
 * records take part so: each takes its turn in the same order
 * (store_policy.c, "the policy in the replay"), member counting at a turn
 * uses the quorums in force at that turn (s->preplay), and an expulsion or
 * fewer active members at a turn are told to the policy.  Their
 * incremental apply always marks the transaction for a replay (they are
 * few).  Rekey votes take part the same way (store_rekey.c: epochs and
 * proposals turn by turn), but a log holding one is derived by the
 * decision procedure of rekey_decide below: rounds of replays from
 * scratch, what-if replays in nested transactions, the last round kept;
 * a rekey subject's log beyond the lowest cut a candidate or a decision
 * names is read as the versions valid under each replay's own key schedule (from the log, fork
 * evidence and records set apart), and the admission closure is off.
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
    uint8_t policy;         /* a policy record (store_policy.c takes it) */
    uint8_t op;             /* member_op, for the admission closure */
    uint8_t subj[32];       /* the member it is about */
    int32_t alt;            /* -1: read from the log; else the version of a rekey
                             * subject's log valid under the replay's schedule, in
                             * the replay's arena (store_rekey.c) */
    uint64_t cut;           /* a rekey vote's cut and gen */
    uint32_t gen;
    uint8_t apart;          /* read from apart at ahash: a record after its
                             * author's log ends (a former member's beyond its
                             * cut, collect_apart) */
    uint8_t ahash[32];
} mref;

typedef struct {
    mref *v;
    size_t n, cap;
} mrefs;

/* Room for one more entry in l: 0, or -1 out of memory (l as it was). */
static int mrefs_room(mrefs *l)
{
    if (l->n < l->cap)
        return 0;
    size_t nc = l->cap ? l->cap * 2 : 64;
    mref *nv = realloc(l->v, nc * sizeof *nv);
    if (!nv)
        return -1;
    l->v = nv;
    l->cap = nc;
    return 0;
}

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
    size_t pl = kind_prefix(pfx, kind);
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
        if (mrefs_room(l)) {
            ret = -1;
            break;
        }
        mref *m = &l->v[l->n++];
        mkey_of(&r, genesis != NULL, m->key);
        m->genesis = genesis != NULL;
        m->policy = kind_is(kind, KIND_POLICY);
        m->op = genesis ? 0 : (uint8_t)member_op(&r);
        if (genesis || proto_unhex(r.key, m->subj, 32))
            memcpy(m->subj, r.author.b, 32);
        m->alt = -1;
        m->apart = 0;
        /* the version's hash, as the ver index names it: a round that
         * moves it apart leaves the log without it (replay_apply) */
        if (v.mv_size == 32)
            memcpy(m->ahash, v.mv_data, 32);
        else
            memset(m->ahash, 0, 32);
        int64_t cut = 0, gen = -1;
        m->cut = m->op == MEMBER_OP_REKEY && !proto_body_get_int(&r, "cut", &cut) && cut > 0 ? (uint64_t)cut : 0;
        m->gen = m->cut && !proto_body_get_int(&r, "gen", &gen) && gen >= 0 && gen <= UINT32_MAX ? (uint32_t)gen : 0;
    }
    mdb_cursor_close(c);
    return ret;
}

/* The records apart that continue an author's log (docs/DECISIONS.md 16):
 * a former member's beyond its cut, which a store that took them before it
 * derived the departure held in its log, and one that derived it first
 * keeps apart.  The derivation reads both alike — the dense run after the
 * log's end, the lowest hash at each seq, at most STORE_FORMER_APART_SEQS
 * seqs — so the two derive the same.  (A rekey subject's records beyond
 * the lowest decidable cut are read as its schedule's versions instead:
 * rekey_inputs drops these.) */
static int apart_one(void *arg, const proto_record *r, const proto_id *hash)
{
    mrefs *l = arg;
    const kind_def *kd = kind_of(r->kind);
    if (!(kd->flags & KIND_F_MEMBERSHIP) || kd->id == KIND_GENESIS)
        return 0;
    if (mrefs_room(l))
        return -1;
    mref *m = &l->v[l->n++];
    memset(m, 0, sizeof *m);
    mkey_of(r, 0, m->key);
    m->policy = kd->id == KIND_POLICY;
    m->op = (uint8_t)member_op(r);
    if (proto_unhex(r->key, m->subj, 32))
        memcpy(m->subj, r->author.b, 32);
    m->alt = -1;
    m->apart = 1;
    memcpy(m->ahash, hash->b, 32);
    int64_t cut = 0, gen = -1;
    m->cut = m->op == MEMBER_OP_REKEY && !proto_body_get_int(r, "cut", &cut) && cut > 0 ? (uint64_t)cut : 0;
    m->gen = m->cut && !proto_body_get_int(r, "gen", &gen) && gen >= 0 && gen <= UINT32_MAX ? (uint32_t)gen : 0;
    return 0;
}

typedef struct {
    store *s;
    MDB_txn *txn;
    mrefs *l;
} apart_walk;

static int apart_walk_author(void *arg, const proto_id *author)
{
    apart_walk *w = arg;
    uint64_t have = vv_get_txn(w->s, w->txn, author);
    return apart_run_txn(w->s, w->txn, author, have + 1, STORE_FORMER_APART_SEQS, apart_one, w->l);
}

static int collect_apart(store *s, MDB_txn *txn, mrefs *l, size_t *added)
{
    size_t n0 = l->n;
    apart_walk w = { s, txn, l };
    int rc = apart_any_txn(s, txn) ? apart_authors_txn(s, txn, apart_walk_author, &w) : 0;
    *added = l->n - n0;
    return rc ? -1 : 0;
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

/* Members active now, for the policy's turns: s->nactive is kept as
 * members are written only while s->nactive_ok (a key set by a rotation
 * empties the cache and with it the count, which member_quorum_txn then
 * counts again). */
static uint32_t active_now(store *s, MDB_txn *txn)
{
    return member_quorum_txn(s, txn, UINT32_MAX);
}

/* The versions of rekey subjects' logs a replay reads (not the log's). */
typedef struct {
    uint8_t *b;
    size_t n, cap;
    size_t *off, *len;
    size_t nv, capv;
} arena;

static void arena_free(arena *a)
{
    free(a->b);
    free(a->off);
    free(a->len);
    memset(a, 0, sizeof *a);
}

static long arena_add(arena *a, const uint8_t *p, size_t n)
{
    if (a->n + n > a->cap) {
        size_t nc = (a->n + n) * 2;
        uint8_t *nb = realloc(a->b, nc);
        if (!nb)
            return -1;
        a->b = nb;
        a->cap = nc;
    }
    if (a->nv == a->capv) {
        size_t nc = a->capv ? a->capv * 2 : 16;
        size_t *no = realloc(a->off, nc * sizeof *no);
        if (!no)
            return -1;
        a->off = no;
        size_t *nl = realloc(a->len, nc * sizeof *nl);
        if (!nl)
            return -1;
        a->len = nl;
        a->capv = nc;
    }
    memcpy(a->b + a->n, p, n);
    a->off[a->nv] = a->n;
    a->len[a->nv] = n;
    a->n += n;
    return (long)a->nv++;
}

/* Apply one record of the replay, read from the log into buf (the
 * transaction writes, which may move the pages).  Its subject in *subj.
 * 0 (applied, or derives nothing), -1 on a store failure. */
static int replay_apply(store *s, MDB_txn *txn, const mref *m, const arena *ar, uint8_t *buf, proto_id *subj)
{
    MDB_val k = { 40, (void *)(m->key + 8) }, v;
    proto_record r;
    memcpy(subj->b, m->key + 8, 32);
    if (m->alt >= 0) {
        v.mv_data = ar->b + ar->off[m->alt];
        v.mv_size = ar->len[m->alt];
    } else if (m->apart) {
        uint8_t ak[72];
        memcpy(ak, m->key + 8, 40);
        memcpy(ak + 40, m->ahash, 32);
        MDB_val akv = { 72, ak };
        int rc = mdb_get(txn, s->apart, &akv, &v);
        if (rc == MDB_NOTFOUND) {
            /* a round before this one re-judged its author's log (a
             * decision's schedule, a former member's cut) and the version
             * moved into the log: the list names the version held, not
             * where it sat when collected (or the derivation would depend
             * on the layout the round before left) */
            proto_id h;
            rc = mdb_get(txn, s->log, &k, &v);
            if (rc == 0 && (proto_record_hash(v.mv_data, v.mv_size, &h), memcmp(h.b, m->ahash, 32)))
                rc = MDB_NOTFOUND;
        }
        if (rc)
            return rc == MDB_NOTFOUND ? 0 : -1;
    } else {
        int rc = mdb_get(txn, s->log, &k, &v);
        static const uint8_t zero[32];
        if (rc == MDB_NOTFOUND && memcmp(m->ahash, zero, 32)) {
            /* the other way: a round before moved it out of the log */
            uint8_t ak[72];
            memcpy(ak, m->key + 8, 40);
            memcpy(ak + 40, m->ahash, 32);
            MDB_val akv = { 72, ak };
            rc = mdb_get(txn, s->apart, &akv, &v);
        }
        if (rc)
            return rc == MDB_NOTFOUND ? 0 : -1;
    }
    if (v.mv_size > PROTO_RECORD_MAX)
        return 0;
    memcpy(buf, v.mv_data, v.mv_size);
    if (proto_record_decode_stored(buf, v.mv_size, &r, NULL, 0))
        return 0;   /* it decoded when stored: derives nothing now */
    if (m->policy) {
        /* its author is active at its turn: its vote counts */
        proto_id h;
        proto_record_hash(buf, v.mv_size, &h);
        return s->preplay ? policy_replay_take(s, txn, s->preplay, &r, &h, active_now(s, txn)) : 0;
    }
    if (m->genesis) {
        store_member gm;
        if (genesis_member(&r, &gm, NULL, 0))
            return 0;   /* a certificate no longer parsing founds nothing */
        return member_put_txn(s, txn, &gm);
    }
    proto_unhex(r.key, subj->b, 32);
    if (m->op == MEMBER_OP_REKEY)   /* a vote: the epochs, not the members */
        return s->rreplay ? rekey_replay_take(s, txn, s->rreplay, &r, m->key, active_now(s, txn)) : 0;
    return apply_member(s, txn, &r) < 0 ? -1 : 0;
}

/* ---- checks within a batch: the admission closure ----
 *
 * A record is checked against the membership the log derives as it stands
 * (the precheck reads only its author's standing: active with its key, a
 * former member with its cut, or neither).  After a record out of order the
 * incremental tables T may differ from that derivation D, and the next
 * record used to wait for a replay: one replay per membership record of an
 * initial sync, which brings the logs author by author.  The replay is
 * needed for the check only when the author's standing in T might not be
 * its standing in D; while the log is in the shape below, D's active set is
 * known without a replay, so the check replays only when T disagrees with
 * it, and the batch replays once, before it commits (member_settle_txn, as
 * before: no reader sees T).
 *
 * The shape ("monotone"): the log holds no expel, leave or rotate record and
 * no policy record, so nobody's standing is ever taken away, keys are
 * admission keys, and the quorums are the genesis policy's; and every
 * membership record applied since the last replay sorts after the replay's
 * founding prefix (its steps until the alliance first had `admission`
 * active members, K_found below), so that the quorum min(admission, active
 * members) is `admission` at every recount where the two logs' replays
 * differ.  Then:
 *
 *   the members active in D(L) are the least set S containing S0, the
 *   members active in the last replay, and every member with at least
 *   `admission` distinct members of S holding an admit record about it.
 *
 * Why: (1) the replay of L0 + new records is the replay of L0 until it
 * first takes a new record (they enter the heap as their authors' next
 * ones; until one has the lowest key the same records are taken), which is
 * after the founding prefix, so from there on the quorum is `admission`.
 * (2) Nobody is deactivated, so every record of a member of S applies once
 * it is active, and at the last record about a member Z every admit about
 * Z by a member of S has been applied by an active author who stays
 * active: Z ends active iff that count reaches the quorum (or it was
 * active before, by monotony).  (3) Conversely every activation counted
 * that many endorsers active at the time, members of S by induction.  So
 * D's active set is closed under the rule and contained in every closed
 * set: the least one.  (4) S only grows as records are added, so S0 may be
 * any exact replay's active set of a log the current one extends.
 *
 * The closure is kept as records are applied (an admit by a member of S
 * counts once per (endorser, subject); a member joining S counts its admits
 * held back so far), each in O(1) amortised, and built at each replay from
 * the members and endorse tables and the records held back (those of
 * authors not in S0).  A record that leaves the shape (an expel, leave or
 * rotate, a policy record, a fork of either, a membership record sorting
 * in the founding prefix, a record held back by this transaction, an
 * admission certificate that no longer parses) gives the closure up until
 * the next replay: the checks replay as before.  It lives in memory only,
 * from a batch's replay to the next batch that finds nothing else
 * committed in between; an abort, and every write outside apply_batch,
 * drops it. */

/* ---- placing a record out of order ----
 *
 * With the closure valid, a batch still replayed before it committed when
 * it held a record out of order, since the incremental tables T may differ
 * from D in what depends on the order of the records about one member:
 * which admission founded its entry (admitted_by, since, the code, name
 * and key it gave), which address stands, when it became active.  Placing
 * decides, for a record r with key k applied to T = D, that T with r is D
 * with r, so that no replay is needed at all.  The replay of L + r is the
 * replay of L until the first step that takes a key above k (s*): every
 * step before it takes a key below k, and r, once in the heap, is below
 * every key taken from s* on.  If r's author was active, and its previous
 * records taken, at steps whose highest key so far is below k (so before
 * s*), r is in the heap at s* and taken there, and nothing else moves: r
 * writes its subject Z's entry only, and changes no standing that another
 * record's turn depends on when
 *   - Z was active before s*, or is not active (then Z has no records: a
 *     member's records are taken only while it is active), or becomes
 *     active by r with no admits of its own held back;
 *   - Z's entry was founded before s* (r is not Z's first admission), or
 *     r founds it: no entry, or an entry founded after s* by an admission
 *     that r now precedes (member_closure_rebase writes the entry from r,
 *     as the replay would: r's certificate, author and time, r's address
 *     if it gives one, else the one the entry had);
 *   - r gives no address, or Z's address was set before s*, or only
 *     admissions give Z one (an admission fills an empty address only).
 * An address record of Z is placed under the same conditions on its author
 * when it gives an address (the last of Z's records, it is the address
 * that stands).  Then Z's entry after r is the same whether r applies at s*
 * or last: the admits about Z counted at its last recount are the same,
 * the first admission and the address as above.  The steps after s* keep
 * their highest-key-so-far (it was above k already), so the positions kept
 * stay true, and r's own is k.  The replay notes, per member, the highest
 * key so far at the step that activated it, took its last record, founded
 * its entry, first gave it an address, and at each distinct endorser's
 * admit about it (its activation is at the admission-th of those); the
 * first record that cannot be placed gives placement up until the next
 * replay (and marks the batch for one, as before). */

typedef struct {
    proto_id id;
    uint32_t count;     /* distinct endorsers in S with an admit about it */
    uint32_t first, nout;   /* its admits held back: edges[first .. first+nout) */
    uint8_t ins;        /* in S */
    uint8_t addr_rec;   /* it has an address record in the log */
    /* where the replay took what placement needs (below): the highest key
     * taken up to the step that activated it, that took its last record,
     * that founded its entry, that first gave it an address; 0xff..: none */
    uint8_t act[MKEY_LEN], last[MKEY_LEN], firstk[MKEY_LEN], addr[MKEY_LEN];
    uint8_t (*ap)[MKEY_LEN];   /* the same for each distinct endorser's admit about it */
    uint32_t nap, capap;
} cnode;

typedef struct {
    uint32_t subj;      /* node */
    uint8_t lk[40];     /* the record: author | be64 seq */
} cedge;

struct mclosure {
    cnode *node;
    size_t nn, capn;
    uint32_t *idx;      /* open addressing: node index + 1, by id */
    size_t capi;
    uint64_t *pairs;    /* open addressing: (endorser << 32 | subject) + 1 */
    size_t np, capp;
    cedge *edges;
    size_t ne;
    uint32_t *work;     /* cl_admit's work list */
    size_t nwork;
    int place_ok;       /* the replay positions above describe D (placement) */
    int placed;         /* the record just noted was placed */
    int rebase;         /* ...and is its subject's first admission now */
    uint32_t admission;
    uint8_t found[MKEY_LEN];   /* K_found: the founding prefix's highest key */
    int off;            /* given up: the checks replay */
};

void member_closure_drop(store *s)
{
    if (!s->closure)
        return;
    for (size_t i = 0; i < s->closure->nn; i++)
        free(s->closure->node[i].ap);
    free(s->closure->node);
    free(s->closure->idx);
    free(s->closure->pairs);
    free(s->closure->edges);
    free(s->closure->work);
    free(s->closure);
    s->closure = NULL;
}

static size_t id_hash(const proto_id *id, size_t cap)
{
    uint64_t h;
    memcpy(&h, id->b, 8);   /* a hash of a key already */
    return (size_t)(h & (cap - 1));
}

static int cl_grow_idx(struct mclosure *c)
{
    size_t nc = c->capi ? c->capi * 2 : 1024;
    uint32_t *ni = calloc(nc, sizeof *ni);
    if (!ni)
        return -1;
    for (size_t i = 0; i < c->nn; i++) {
        size_t h = id_hash(&c->node[i].id, nc);
        while (ni[h])
            h = (h + 1) & (nc - 1);
        ni[h] = (uint32_t)i + 1;
    }
    free(c->idx);
    c->idx = ni;
    c->capi = nc;
    return 0;
}

/* The node of id, made if absent (make): its index, or -1. */
static long cl_node(struct mclosure *c, const proto_id *id, int make)
{
    if (c->capi) {
        for (size_t h = id_hash(id, c->capi); c->idx[h]; h = (h + 1) & (c->capi - 1))
            if (!memcmp(&c->node[c->idx[h] - 1].id, id, 32))
                return (long)c->idx[h] - 1;
    }
    if (!make)
        return -1;
    if ((c->nn + 1) * 2 > c->capi && cl_grow_idx(c))
        return -1;
    if (c->nn == c->capn) {
        size_t nc = c->capn ? c->capn * 2 : 256;
        cnode *nv = realloc(c->node, nc * sizeof *nv);
        if (!nv)
            return -1;
        c->node = nv;
        c->capn = nc;
    }
    cnode *n = &c->node[c->nn];
    memset(n, 0, sizeof *n);
    n->id = *id;
    memset(n->act, 0xff, MKEY_LEN);
    memset(n->last, 0, MKEY_LEN);   /* no record: none to wait for */
    memset(n->firstk, 0xff, MKEY_LEN);
    memset(n->addr, 0xff, MKEY_LEN);
    size_t h = id_hash(id, c->capi);
    while (c->idx[h])
        h = (h + 1) & (c->capi - 1);
    c->idx[h] = (uint32_t)c->nn + 1;
    return (long)c->nn++;
}

static size_t pair_hash(uint64_t p, size_t cap)
{
    p *= 0x9e3779b97f4a7c15ull;
    return (size_t)(p >> 20) & (cap - 1);
}

/* Whether the pair (endorser e, subject z) is held. */
static int cl_pair_has(const struct mclosure *c, uint32_t e, uint32_t z)
{
    uint64_t p = ((uint64_t)e << 32 | z) + 1;
    if (!c->capp)
        return 0;
    for (size_t h = pair_hash(p, c->capp); c->pairs[h]; h = (h + 1) & (c->capp - 1))
        if (c->pairs[h] == p)
            return 1;
    return 0;
}

/* Note the pair (endorser e, subject z): 1 if new, 0 if held, -1. */
static int cl_pair(struct mclosure *c, uint32_t e, uint32_t z)
{
    uint64_t p = ((uint64_t)e << 32 | z) + 1;
    if ((c->np + 1) * 2 > c->capp) {
        size_t nc = c->capp ? c->capp * 2 : 4096;
        uint64_t *nv = calloc(nc, sizeof *nv);
        if (!nv)
            return -1;
        for (size_t i = 0; i < c->capp; i++)
            if (c->pairs[i]) {
                size_t h = pair_hash(c->pairs[i], nc);
                while (nv[h])
                    h = (h + 1) & (nc - 1);
                nv[h] = c->pairs[i];
            }
        free(c->pairs);
        c->pairs = nv;
        c->capp = nc;
    }
    size_t h = pair_hash(p, c->capp);
    for (; c->pairs[h]; h = (h + 1) & (c->capp - 1))
        if (c->pairs[h] == p)
            return 0;
    c->pairs[h] = p;
    c->np++;
    return 1;
}

/* Whether the admit at log key lk still founds a member entry: the replay
 * decodes the first admit about a member, and one whose certificate no
 * longer parses derives nothing (apply_member).  1 yes, 0 no or unknown. */
static int cl_admit_ok(store *s, MDB_txn *txn, const uint8_t lk[40])
{
    MDB_val k = { 40, (void *)lk }, v;
    proto_record r;
    store_member *m = malloc(sizeof *m);
    int ok = m && mdb_get(txn, s->log, &k, &v) == 0 &&
             proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0) == 0 &&
             decode_cert_member_memo(s, &r, m) == 0;
    free(m);
    return ok;
}

/* Endorser e (in S) admits z: count it; z joins S at the quorum, and the
 * admits it held back count in turn (a work list, not recursion: a chain of
 * admissions may be as long as the alliance). */
static int cl_admit(store *s, MDB_txn *txn, struct mclosure *c, uint32_t e, uint32_t z)
{
    int fresh = cl_pair(c, e, z);
    if (fresh <= 0)
        return fresh;
    if (c->node[z].ins || ++c->node[z].count < c->admission)
        return 0;
    c->node[z].ins = 1;
    size_t top = 0;
    if (c->nwork < 1) {
        uint32_t *nw = realloc(c->work, 64 * sizeof *nw);
        if (!nw)
            return -1;
        c->work = nw;
        c->nwork = 64;
    }
    c->work[top++] = z;
    while (top && !c->off) {
        uint32_t j = c->work[--top];
        /* its admits held back apply, in the replay, once it is active */
        for (uint32_t i = 0; i < c->node[j].nout && !c->off; i++) {
            const cedge *ed = &c->edges[c->node[j].first + i];
            if (!cl_admit_ok(s, txn, ed->lk)) {
                c->off = 1;   /* whether it counts depends on the order: replay */
                break;
            }
            uint32_t w = ed->subj;
            fresh = cl_pair(c, j, w);
            if (fresh < 0)
                return -1;
            if (!fresh || c->node[w].ins || ++c->node[w].count < c->admission)
                continue;
            c->node[w].ins = 1;
            if (top == c->nwork) {
                uint32_t *nw = realloc(c->work, c->nwork * 2 * sizeof *nw);
                if (!nw)
                    return -1;
                c->work = nw;
                c->nwork *= 2;
            }
            c->work[top++] = w;
        }
    }
    return 0;
}

static int edge_cmp(const void *x, const void *y)
{
    const cedge *a = x, *b = y;
    return memcmp(a->lk, b->lk, 40);
}

/* Build the closure from what a replay just derived (T = D): S0 from the
 * members table, the counted pairs from the endorse table, and the admits
 * held back (refs of authors not in S0).  found: K_found. */
static void closure_build(store *s, MDB_txn *txn, const mrefs *l, const uint8_t found[MKEY_LEN],
                          struct mclosure *c)
{
    member_closure_drop(s);
    if (!c)
        return;
    uint32_t expulsion;
    policy_quorums_txn(s, txn, &c->admission, &expulsion);
    memcpy(c->found, found, MKEY_LEN);
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int ok = mdb_cursor_open(txn, s->members, &cur) == 0;
    store_member *m = malloc(sizeof *m);
    ok = ok && m;
    for (int rc = ok ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : -1; ok && rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 32 || member_get_txn(s, txn, k.mv_data, m))
            continue;
        long i = cl_node(c, &m->id, 1);
        if (i < 0)
            ok = 0;
        else
            c->node[i].ins = m->status == STORE_MEMBER_ACTIVE;
    }
    free(m);
    if (cur)
        mdb_cursor_close(cur);
    cur = NULL;
    ok = ok && mdb_cursor_open(txn, s->endorse, &cur) == 0;
    for (int rc = ok ? mdb_cursor_get(cur, &k, &v, MDB_FIRST) : -1; ok && rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 64 || v.mv_size != 1 || *(uint8_t *)v.mv_data != MEMBER_OP_ADMIT)
            continue;
        long z = cl_node(c, (const proto_id *)k.mv_data, 1);
        long e = cl_node(c, (const proto_id *)((uint8_t *)k.mv_data + 32), 1);
        if (z < 0 || e < 0 || cl_pair(c, (uint32_t)e, (uint32_t)z) < 0) {
            ok = 0;
            break;
        }
        if (c->node[e].ins && !c->node[z].ins)
            c->node[z].count++;
    }
    if (cur)
        mdb_cursor_close(cur);
    /* admits held back: of authors not active now (every record of an
     * active one has applied, nobody being deactivated) */
    size_t ne = 0;
    for (size_t i = 0; ok && i < l->n; i++) {
        const mref *r = &l->v[i];
        if (r->genesis || r->op != MEMBER_OP_ADMIT)
            continue;
        long a = cl_node(c, (const proto_id *)(r->key + 8), 1);
        long z = cl_node(c, (const proto_id *)r->subj, 1);
        if (a < 0 || z < 0) {
            ok = 0;
            break;
        }
        if (c->node[a].ins)
            continue;
        if (ne % 64 == 0) {
            cedge *nv = realloc(c->edges, (ne + 64) * sizeof *nv);
            if (!nv) {
                ok = 0;
                break;
            }
            c->edges = nv;
        }
        c->edges[ne].subj = (uint32_t)z;
        memcpy(c->edges[ne].lk, r->key + 8, 40);
        ne++;
    }
    c->ne = ne;
    if (ok && ne) {
        /* by author (the log key starts with it), each author's together */
        qsort(c->edges, ne, sizeof *c->edges, edge_cmp);
        for (size_t i = 0; i < ne; i++) {
            long a = cl_node(c, (const proto_id *)c->edges[i].lk, 0);
            if (a < 0) {
                ok = 0;
                break;
            }
            if (!c->node[a].nout)
                c->node[a].first = (uint32_t)i;
            c->node[a].nout++;
        }
    }
    if (!ok || c->admission < 1) {
        s->closure = c;
        member_closure_drop(s);
        return;
    }
    s->closure = c;
}

static int klt(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, MKEY_LEN) < 0;
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, MKEY_LEN);
}

static int cl_ap_push(cnode *n, const uint8_t k[MKEY_LEN])
{
    if (n->nap == n->capap) {
        uint32_t nc = n->capap ? n->capap * 2 : 4;
        uint8_t (*nv)[MKEY_LEN] = realloc(n->ap, nc * sizeof *nv);
        if (!nv)
            return -1;
        n->ap = nv;
        n->capap = nc;
    }
    memcpy(n->ap[n->nap++], k, MKEY_LEN);
    return 0;
}

/* A subject's entry as placement reads it: 1 absent, 0 present, -1. */
typedef struct { int have, active, addr; } cent;

static int cl_entry(store *s, MDB_txn *txn, const proto_id *id, cent *e)
{
    store_member *m = malloc(sizeof *m);
    if (!m)
        return -1;
    e->have = member_get_txn(s, txn, id, m);
    e->active = e->have == 0 && m->status == STORE_MEMBER_ACTIVE;
    e->addr = e->have == 0 && m->address[0];
    free(m);
    return e->have < 0 ? -1 : 0;
}

/* The replay took membership record m at a step where the highest key
 * taken so far is pm; before and after: its subject's entry.  Keeps the
 * positions placement needs.  0, or -1 (then no placement). */
static int cl_record_pop(struct mclosure *c, const mref *m, const uint8_t pm[MKEY_LEN], int pair_new,
                         const cent *before, const cent *after)
{
    long a = cl_node(c, (const proto_id *)(m->key + 8), 1);
    long z = cl_node(c, (const proto_id *)m->subj, 1);
    if (a < 0 || z < 0)
        return -1;
    memcpy(c->node[a].last, pm, MKEY_LEN);
    cnode *n = &c->node[z];
    if (m->op == MEMBER_OP_ADDRESS)
        n->addr_rec = 1;
    if (pair_new && cl_ap_push(n, pm))
        return -1;
    if (before->have == 1 && after->have == 0)
        memcpy(n->firstk, pm, MKEY_LEN);
    if (!before->active && after->active)
        memcpy(n->act, pm, MKEY_LEN);
    if (!before->addr && after->addr)
        memcpy(n->addr, pm, MKEY_LEN);
    /* an address taken back (an empty one announced) could be given again
     * by a later admission: placement does not follow that */
    return before->addr && !after->addr ? -1 : 0;
}

int member_closure_placed(store *s)
{
    return s->closure && !s->closure->off && s->closure->place_ok && s->closure->placed;
}

void member_closure_unplace(store *s)
{
    if (s->closure)
        s->closure->place_ok = 0;
}

void member_closure_note(store *s, MDB_txn *txn, const proto_record *r)
{
    struct mclosure *c = s->closure;
    if (!c)
        return;
    if (!s->in_batch) {
        member_closure_drop(s);   /* only a batch's transaction keeps it */
        return;
    }
    if (c->off)
        return;
    uint8_t k[MKEY_LEN];
    mkey_of(r, 0, k);
    if (!kind_is(r->kind, KIND_MEMBER) || memcmp(k, c->found, MKEY_LEN) <= 0 ||
        member_op(r) == 0 || (member_op(r) != MEMBER_OP_ADMIT && member_op(r) != MEMBER_OP_ADDRESS)) {
        c->off = 1;
        return;
    }
    c->placed = 0;
    proto_id subj;
    long e = cl_node(c, &r->author, 0), z;
    if (e < 0 || !c->node[e].ins) {
        c->off = 1;   /* held back by this transaction: the replay decides */
        return;
    }
    /* whether it gives an address (proto_body_copy_str into a short buffer
     * refuses to truncate and left "" for every address: an admission that
     * gave one was placed whatever the address records around it said) */
    const char *as;
    size_t an;
    int gives_addr = proto_body_get_str(r, "address", &as, &an) == 0 && an > 0;
    cent te;
    if (proto_unhex(r->key, subj.b, 32) || (z = cl_node(c, &subj, 1)) < 0 || cl_entry(s, txn, &subj, &te)) {
        c->off = 1;
        return;
    }
    cnode *en = &c->node[e], *zn = &c->node[z];
    /* placement (see "Placing a record out of order"): its author active,
     * and its author's records taken, before any step taking a higher key */
    int place = c->place_ok && klt(en->act, k) && klt(en->last, k);
    if (member_op(r) != MEMBER_OP_ADMIT) {
        /* an address takes no standing and gives none; the last one (an
         * author's records go in seq order) with an address stands */
        place = place && e == z && gives_addr;
        memcpy(en->last, k, MKEY_LEN);
        zn->addr_rec = 1;
        if (!gives_addr)
            c->place_ok = 0;
        else if (!te.addr)
            memcpy(zn->addr, k, MKEY_LEN);
        c->placed = place;
        return;
    }
    int was_in = zn->ins, fresh = !cl_pair_has(c, (uint32_t)e, (uint32_t)z);
    /* not the first admission of its subject, or the one founding it; its
     * subject active before the step, or not at all; the address it gives
     * set before the step, or given by nothing but admissions */
    /* an admission of a pending member taken before the one that founded
     * its entry founds it instead (member_closure_rebase) */
    int rebase = te.have == 0 && !was_in && !klt(zn->firstk, k);
    if (te.have == 0 && !rebase)
        place = place && klt(zn->firstk, k);
    if (was_in)
        place = place && klt(zn->act, k);
    /* an entry r founds (none yet, or a rebase) takes r's address, right
     * only if no address record is about the subject; one r does not found
     * keeps the address set below r's key */
    if (gives_addr)
        place = place && (!rebase && te.have == 0 && te.addr ? klt(zn->addr, k) : !zn->addr_rec);
    if (cl_admit(s, txn, c, (uint32_t)e, (uint32_t)z)) {
        c->off = 1;
        return;
    }
    zn = &c->node[z];
    en = &c->node[e];
    memcpy(en->last, k, MKEY_LEN);
    if (fresh && cl_ap_push(zn, k))
        c->place_ok = 0;
    if (te.have == 1 || rebase)
        memcpy(zn->firstk, k, MKEY_LEN);
    if (gives_addr && !te.addr)
        memcpy(zn->addr, k, MKEY_LEN);
    if (!was_in && zn->ins) {
        if (zn->nout || zn->nap < c->admission) {
            /* its held-back admits now count too (or the count is not the
             * one the replay makes): where they are taken is not known */
            c->place_ok = 0;
            place = 0;
        } else {
            /* active at the admission that made the quorum, in the order
             * the replay takes them */
            qsort(zn->ap, zn->nap, sizeof *zn->ap, key_cmp);
            memcpy(zn->act, zn->ap[c->admission - 1], MKEY_LEN);
        }
    }
    c->placed = place && c->place_ok && !c->off;
    c->rebase = c->placed && rebase;
}

int member_closure_rebase(store *s, MDB_txn *txn, const proto_record *r)
{
    if (!s->closure || !s->closure->rebase)
        return 0;
    s->closure->rebase = 0;
    /* the entry the replay founds from r: r's certificate, author and time,
     * r's address when it gives one (the others only fill an empty one);
     * the status the incremental path counted stands */
    proto_id subj;
    store_member *m = malloc(sizeof *m), *f = malloc(sizeof *f);
    int rc = -1;
    if (m && f && !proto_unhex(r->key, subj.b, 32) && member_get_txn(s, txn, &subj, m) == 0 &&
        decode_cert_member_memo(s, r, f) == 0 && !memcmp(&f->id, &subj, 32)) {
        if (!f->address[0])
            memcpy(f->address, m->address, sizeof f->address);
        f->status = m->status;
        f->admitted_by = r->author;
        f->since_ms = r->time_ms;
        rc = member_put_txn(s, txn, f);
    }
    free(m);
    free(f);
    return rc;
}

void member_closure_off(store *s)
{
    if (s->closure)
        s->closure->off = 1;
}

void member_closure_begin(store *s, MDB_txn *txn)
{
    s->in_batch = 1;
    /* the closure describes the batch committed last: nothing else may have
     * been committed since (a write id is the last committed one + 1) */
    if (s->closure && mdb_txn_id(txn) != s->closure_txn + 1)
        member_closure_drop(s);
    s->closure_txn = mdb_txn_id(txn);
}

void member_closure_end(store *s, int committed)
{
    s->in_batch = 0;
    if (!committed)
        member_closure_drop(s);
}

int member_settle_for_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    if (!s->member_dirty)
        return 0;
    struct mclosure *c = s->closure;
    if (c && !c->off && !kind_is(r->kind, KIND_GENESIS)) {
        long a = cl_node(c, &r->author, 0);
        int in = a >= 0 && c->node[a].ins;
        /* T answers the check as D would: the author's standing is the
         * same in both (active with its admission key, or no member) */
        if (in == is_member_txn(s, txn, &r->author))
            return 0;
    }
    return member_rederive_txn(s, txn, NULL);
}

int log_has_kind_txn(store *s, MDB_txn *txn, const char *kind)
{
    uint8_t pfx[1 + PROTO_KIND_MAX];
    size_t pl = kind_prefix(pfx, kind);
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->ver, &c))
        return 1;
    MDB_val k = { pl, pfx }, v;
    int has = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size > pl && !memcmp(k.mv_data, pfx, pl);
    mdb_cursor_close(c);
    return has;
}

/* ---- the rekeys of the log (store_rekey.c) ----
 *
 * A rekey subject's log beyond the lowest cut that can be decided (a
 * candidate's or a decision's: rekey_candidate_cuts) is read as the
 * versions valid under the replay's own key schedule: its records there
 * leave the list collected from the log and those of the valid versions
 * take their place (copied into the arena). */

typedef struct {
    mrefs *l;
    arena *ar;
    int fail;
} subj_add;

static int subj_version(void *ctx, uint64_t seq, int where, const proto_id *hash, const proto_record *r)
{
    subj_add *sa = ctx;
    const kind_def *kd = kind_of(r->kind);
    if (!(kd->flags & KIND_F_MEMBERSHIP) || kd->id == KIND_GENESIS)
        return 0;
    mrefs *l = sa->l;
    if (mrefs_room(l))
        return -1;
    long idx = arena_add(sa->ar, r->raw, r->raw_len);
    if (idx < 0)
        return -1;
    mref *m = &l->v[l->n++];
    memset(m, 0, sizeof *m);
    mkey_of(r, 0, m->key);
    m->policy = kd->id == KIND_POLICY;
    m->op = (uint8_t)member_op(r);
    if (proto_unhex(r->key, m->subj, 32))
        memcpy(m->subj, r->author.b, 32);
    m->alt = (int32_t)idx;
    int64_t cut = 0, gen = -1;
    m->cut = m->op == MEMBER_OP_REKEY && !proto_body_get_int(r, "cut", &cut) && cut > 0 ? (uint64_t)cut : 0;
    m->gen = m->cut && !proto_body_get_int(r, "gen", &gen) && gen >= 0 && gen <= UINT32_MAX ? (uint32_t)gen : 0;
    return 0;
}

/* One rekey vote of the log, for the candidates below. */
typedef struct {
    uint8_t subj[32], voter[32];
    uint32_t gen;
    uint64_t cut;
} vote_ref;

static int vote_ref_cmp(const void *a, const void *b)
{
    const vote_ref *x = a, *y = b;
    int c = memcmp(x->subj, y->subj, 32);
    if (c)
        return c;
    if (x->gen != y->gen)
        return x->gen < y->gen ? -1 : 1;
    if (x->cut != y->cut)
        return x->cut < y->cut ? -1 : 1;
    return memcmp(x->voter, y->voter, 32);
}

/* Every subject of a rekey vote in base, or in read (the list a pass of
 * rekey_inputs read, NULL: none), is registered; its log is read as the
 * schedule's versions beyond a cut only when that cut can be decided:
 * one named for (X, gen, cut) by votes of two distinct authors or more
 * (the decision procedure's candidates, rekey_replay_epoch, are among
 * these), or a decision's (rekey_replay_decided_cuts).  A single or stale
 * vote that can never be a candidate costs no walk of X's log. */
static int rekey_candidate_cuts(const mrefs *base, const mrefs *read, rekey_replay *rr)
{
    const mrefs *ls[2] = { base, read };
    size_t n = 0;
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; ls[l] && i < ls[l]->n; i++)
            n += ls[l]->v[i].op == MEMBER_OP_REKEY && ls[l]->v[i].cut;
    if (!n)
        return 0;
    vote_ref *v = malloc(n * sizeof *v);
    if (!v)
        return -1;
    n = 0;
    for (int l = 0; l < 2; l++)
        for (size_t i = 0; ls[l] && i < ls[l]->n; i++) {
            const mref *m = &ls[l]->v[i];
            if (m->op != MEMBER_OP_REKEY || !m->cut)
                continue;
            memcpy(v[n].subj, m->subj, 32);
            memcpy(v[n].voter, m->key + 8, 32);
            v[n].gen = m->gen;
            v[n].cut = m->cut;
            n++;
        }
    qsort(v, n, sizeof *v, vote_ref_cmp);
    int ret = 0;
    for (size_t i = 0; i < n && !ret;) {
        size_t j = i + 1, voters = 1;
        for (; j < n && !memcmp(v[j].subj, v[i].subj, 32) && v[j].gen == v[i].gen && v[j].cut == v[i].cut; j++)
            voters += memcmp(v[j].voter, v[j - 1].voter, 32) != 0;
        ret = rekey_replay_subject_cut(rr, (const proto_id *)v[i].subj,
                                       voters >= STORE_REKEY_VOTERS_MIN ? v[i].cut : UINT64_MAX);
        i = j;
    }
    free(v);
    return ret;
}

static int rekey_inputs_pass(store *s, MDB_txn *txn, const mrefs *base, rekey_replay *rr, mrefs *out, arena *ar,
                             uint8_t *buf);

/* The subjects of the rekey votes in base (the log's membership records,
 * in log order) and in the versions read, their admission keys; into *out
 * the list this replay reads.  0 or -1.
 *
 * A subject's versions beyond its cut may sit apart or in fork evidence
 * (the last derivation's schedule put them there) and hold votes that
 * base lacks: about another member (its subject), or naming a cut.  Such
 * a vote counts as it would in the log, or the derivation would depend on
 * where the versions sat and not on the versions held (a rederive then
 * derives another result): the pass is repeated with the votes read until
 * they register no subject and lower no cut.  Each pass that repeats does
 * one of those, so there are at most as many as the votes; when the
 * versions read hold no vote base lacks, the subjects' logs are walked
 * once, as before. */
static int rekey_inputs(store *s, MDB_txn *txn, const mrefs *base, rekey_replay *rr, mrefs *out, arena *ar)
{
    uint8_t *buf = malloc(PROTO_RECORD_MAX);
    int ret = -1;
    if (!buf)
        return -1;
    if (rekey_replay_decided_cuts(rr))
        goto out;
    for (int pass = 0;; pass++) {
        size_t moves = rekey_replay_moves(rr);
        if (rekey_candidate_cuts(base, pass ? out : NULL, rr))
            goto out;
        if (pass && rekey_replay_moves(rr) == moves)
            break;
        if (rekey_inputs_pass(s, txn, base, rr, out, ar, buf))
            goto out;
    }
    /* the votes this replay reads, for the decision procedure's candidates */
    for (size_t i = 0; i < out->n; i++)
        if (out->v[i].op == MEMBER_OP_REKEY && out->v[i].cut &&
            rekey_replay_held(rr, (const proto_id *)out->v[i].subj, (const proto_id *)(out->v[i].key + 8),
                              out->v[i].gen, out->v[i].cut, get_be64(out->v[i].key + 40)))
            goto out;
    ret = 0;
out:
    free(buf);
    return ret;
}

/* One pass of rekey_inputs with the subjects and cuts registered so far:
 * into *out the list read (base up to each subject's cut, the schedule's
 * versions beyond it).  0 or -1. */
static int rekey_inputs_pass(store *s, MDB_txn *txn, const mrefs *base, rekey_replay *rr, mrefs *out, arena *ar,
                             uint8_t *buf)
{
    rekey_replay_subjects_done(rr);
    /* admission keys: the genesis's author's, or an admission's whose
     * certificate is the subject's */
    for (size_t i = 0; i < base->n; i++) {
        const mref *m = &base->v[i];
        const proto_id *who = (const proto_id *)(m->genesis ? m->key + 8 : m->subj);
        if (!(m->genesis || m->op == MEMBER_OP_ADMIT) || !rekey_replay_needs_admission(rr, who))
            continue;
        MDB_val k = { 40, (void *)(m->key + 8) }, v;
        proto_record r;
        store_member sm;
        if (mdb_get(txn, s->log, &k, &v) || v.mv_size > PROTO_RECORD_MAX)
            continue;
        memcpy(buf, v.mv_data, v.mv_size);
        if (proto_record_decode_stored(buf, v.mv_size, &r, NULL, 0) ||
            decode_cert_member_memo(s, &r, &sm) || memcmp(&sm.id, who, 32))
            continue;
        if (rekey_replay_admission(rr, who, sm.spki, sm.spki_len))
            return -1;
    }
    out->n = 0;
    for (size_t i = 0; i < base->n; i++) {
        const mref *m = &base->v[i];
        uint64_t lo = rekey_replay_lo(rr, (const proto_id *)(m->key + 8));
        if (!m->genesis && get_be64(m->key + 40) > lo)
            continue;   /* read below as the schedule's version */
        if (mrefs_room(out))
            return -1;
        out->v[out->n++] = *m;
    }
    subj_add sa = { out, ar, 0 };
    /* each subject once (the walk appends its versions beyond lo) */
    const proto_id *x;
    for (size_t i = 0; (x = rekey_replay_subject(rr, i)); i++)
        if (rekey_subject_log(s, txn, rr, x, subj_version, &sa))
            return -1;
    if (out->n)
        qsort(out->v, out->n, sizeof *out->v, mref_log_cmp);
    return 0;
}

/* Whether a's next record may be taken now: it has one, and it is not
 * beyond the cut of a decision whose turn has not come. */
static int may_take(const mauthor *ma, const mref *v, const rekey_replay *rr)
{
    if (ma->next >= ma->n)
        return 0;
    const mref *m = &v[ma->first + ma->next];
    return !rr || m->genesis || get_be64(m->key + 40) <= rekey_replay_hold(rr, (const proto_id *)(m->key + 8));
}

/* Decisions applied at a turn: the authors they held may go on. */
static void wake_all(aheap *hp, mauthor *au, size_t na, const mref *v, const rekey_replay *rr)
{
    for (size_t a = 0; a < na; a++)
        if (au[a].active && !au[a].inheap && may_take(&au[a], v, rr)) {
            heap_push(hp, a);
            au[a].inheap = 1;
        }
}

/* One replay of the membership records base (the log's, in log order)
 * with the rekey decisions d applied; cut_x: a what-if derivation's author
 * read up to cut_v.  rr: the rekeys it derives (NULL when the log holds no
 * rekey vote: then the admission closure may be built, cl_ok).  0 or -1. */
static int replay_once(store *s, MDB_txn *txn, const mrefs *base, rekey_replay *rr, int cl_ok)
{
    mrefs own = { 0 };
    arena ar = { 0 };
    const mrefs *lp = base;
    mauthor *au = NULL;
    aheap hp = { 0 };
    uint8_t last[MKEY_LEN] = { 0 }, *buf = NULL, found[MKEY_LEN] = { 0 };
    size_t na = 0;
    int ret = -1, live_blocked = 0, founded = 0;
    uint32_t admission = 1, expulsion;
    struct mclosure *cl = NULL;   /* the admission closure this replay builds */
    s->rk_replays += rr != NULL;
    if (policy_replay_begin(s, txn, &s->preplay))
        goto out;
    if (rr) {
        if (rekey_inputs(s, txn, base, rr, &own, &ar))
            goto out;
        lp = &own;
    }
    s->rreplay = rr;
    const mrefs *l = lp;
    policy_quorums_txn(s, txn, &admission, &expulsion);
    /* the admission closure, when the log has its shape (no expel, leave
     * or rotate, no policy record, no rekey; the founding prefix complete,
     * seen at the end): the replay notes where it takes each record */
    int shape = cl_ok && s->in_batch && !log_has_kind_txn(s, txn, "policy");
    for (size_t i = 0; shape && i < l->n; i++)
        shape = l->v[i].genesis || l->v[i].op == MEMBER_OP_ADMIT || l->v[i].op == MEMBER_OP_ADDRESS;
    member_closure_drop(s);
    cl = shape ? calloc(1, sizeof *cl) : NULL;
    if (cl)
        cl->place_ok = 1;
    if (!(au = calloc(l->n ? l->n : 1, sizeof *au)) ||
        !(hp.h = malloc((l->n ? l->n : 1) * sizeof *hp.h)) ||
        !(buf = malloc(PROTO_RECORD_MAX)))
        goto out;
    for (size_t i = 0; i < l->n; i++) {
        if (i == 0 || memcmp(l->v[i].key + 8, l->v[i - 1].key + 8, 32))
            au[na++].first = i;
        au[na - 1].n++;
    }
    hp.au = au;
    hp.v = l->v;
    /* the keys over time too: a rotate is a member record, applied in its
     * turn like the others (a fork may have changed which one won) */
    if (mdb_drop(txn, s->members, 0) || mdb_drop(txn, s->endorse, 0) ||
        mdb_drop(txn, s->keys, 0) || mdb_drop(txn, s->keyown, 0) ||
        member_cuts_clear_txn(s, txn))   /* and former members' cuts */
        goto out;
    cache_clear(s);
    s->nactive = 0;   /* the members table is empty now: count as it fills */
    s->nactive_ok = 1;
    /* at first only the genesis applies */
    for (size_t a = 0; a < na; a++)
        if (l->v[au[a].first].genesis) {
            heap_push(&hp, a);
            au[a].inheap = 1;
        }
    for (;;) {
        int woken = 0;
        if (!hp.n) {
            /* decisions whose turn the replay did not reach apply at its end */
            if (rr && rekey_replay_due(s, txn, rr, NULL, 1, &woken))
                goto out;
            if (woken)
                wake_all(&hp, au, na, l->v, rr);
            if (!hp.n)
                break;
        }
        /* a decision applies after the turns before its own */
        if (rr) {
            if (rekey_replay_due(s, txn, rr, head_key(&hp, hp.h[0]), 0, &woken))
                goto out;
            if (woken) {
                wake_all(&hp, au, na, l->v, rr);
                continue;
            }
        }
        size_t a = heap_pop(&hp);
        mauthor *ma = &au[a];
        ma->inheap = 0;
        const mref *m = &l->v[ma->first + ma->next];
        if (!m->genesis && !ma->active)
            continue;   /* left or was expelled since it was pushed */
        ma->next++;
        proto_id subj;
        cent eb = { 1, 0, 0 }, ea;
        int pair_new = 0;
        if (cl && cl->place_ok) {
            if (cl_entry(s, txn, (const proto_id *)m->subj, &eb))
                cl->place_ok = 0;
            if (m->op == MEMBER_OP_ADMIT) {
                uint8_t kb[64];
                MDB_val ek = { 64, kb }, ev;
                memcpy(kb, m->subj, 32);
                memcpy(kb + 32, m->key + 8, 32);
                pair_new = mdb_get(txn, s->endorse, &ek, &ev) == MDB_NOTFOUND;
            }
        }
        /* the subject's standing before, for the policy's turns: an
         * expelled member's votes go, fewer members lower the quorum;
         * both matter only once a proposal or a vote has had its turn
         * (and for the rekeys, fewer members may complete a proposal) */
        int watch = s->preplay && !m->policy && policy_replay_has_slots(s->preplay);
        mauthor *sb = watch ? author_find(au, na, l->v, (const proto_id *)m->subj) : NULL;
        int was_active = sb && sb->active;
        uint32_t act0 = watch || rr ? active_now(s, txn) : 0;
        if (replay_apply(s, txn, m, &ar, buf, &subj))
            goto out;
        if (rr)
            rekey_replay_took(rr, (const proto_id *)(m->key + 8), get_be64(m->key + 40), m->key);
        if (memcmp(m->key, last, MKEY_LEN) > 0)
            memcpy(last, m->key, MKEY_LEN);
        if (cl && cl->place_ok &&
            (cl_entry(s, txn, (const proto_id *)m->subj, &ea) || cl_record_pop(cl, m, last, pair_new, &eb, &ea)))
            cl->place_ok = 0;
        /* the founding prefix: until `admission` members are active (the
         * admission closure's K_found) */
        if (!founded) {
            if (memcmp(m->key, found, MKEY_LEN) > 0)
                memcpy(found, m->key, MKEY_LEN);
            founded = s->nactive_ok && s->nactive >= admission;
        }
        /* a record changes its subject's entry alone */
        mauthor *sa = author_find(au, na, l->v, &subj);
        if (sa) {
            sa->active = is_member_txn(s, txn, &subj);
            if (watch && sa == sb && was_active && !sa->active) {
                int st = 0;
                if (member_status_txn(s, txn, &subj, &st) < 0)
                    goto out;
                if (st == STORE_MEMBER_EXPELLED)
                    policy_replay_expelled(s->preplay, &subj);
            }
            if (sa->active && !sa->inheap && may_take(sa, l->v, rr)) {
                heap_push(&hp, (size_t)(sa - au));
                sa->inheap = 1;
            }
        }
        if (ma->active && !ma->inheap && may_take(ma, l->v, rr)) {
            heap_push(&hp, a);
            ma->inheap = 1;
        }
        if (watch || rr) {
            uint32_t act = active_now(s, txn);
            if (watch && act < act0 && policy_replay_fewer(s, txn, s->preplay, act, get_be64(m->key)))
                goto out;
            if (rr && act < act0 && rekey_replay_fewer(s, txn, rr, m->key, act))
                goto out;
        }
        /* a decision completed at this turn applies after it */
        if (rr) {
            if (rekey_replay_due(s, txn, rr, m->key, 1, &woken))
                goto out;
            if (woken)
                wake_all(&hp, au, na, l->v, rr);
        }
    }
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
    if ((s->preplay && policy_replay_end(s, txn, s->preplay)) ||
        meta_put_txn(s, txn, "member_last", last, MKEY_LEN) ||
        meta_put_txn(s, txn, "member_blocked", &bl, 1))
        goto out;
    if (cl && founded) {
        closure_build(s, txn, l, found, cl);
        cl = NULL;
    }
    ret = 0;
out:
    {
        /* the keys changed; the count of active members stands */
        int ok = ret == 0 && s->nactive_ok;
        uint32_t nact = s->nactive;
        cache_clear(s);
        s->nactive = nact;
        s->nactive_ok = ok;
    }
    policy_replay_free(s->preplay);
    s->preplay = NULL;
    s->rreplay = NULL;
    if (cl) {   /* not built: give it to the store to free */
        s->closure = cl;
        member_closure_drop(s);
    }
    free(buf);
    free(hp.h);
    free(au);
    free(own.v);
    arena_free(&ar);
    return ret;
}

/* The decision procedure (docs/DECISIONS.md 22): from scratch, rounds of
 * R = the replay with the decisions so far; for every open epoch of R with
 * a proposal of two distinct voters, its earliest completion in D(X, v_e)
 * (R itself when R took nothing of X beyond the cut before the epoch's
 * last vote; else a replay in a nested transaction, aborted once read);
 * the earliest of those (turn, then X's id) is decided and the next round
 * replays with it.  A round without a completion, or the
 * STORE_REKEY_DECISIONS_MAX-th, is what the transaction keeps: its child
 * transaction is committed into txn.  0 or -1. */
static int rekey_decide(store *s, MDB_txn *txn, const mrefs *base)
{
    rekey_sched *d = rekey_sched_new();
    int ret = -1;
    if (!d)
        return -1;
    s->rk_rederives++;
    for (;;) {
        MDB_txn *c1;
        rekey_replay *rr = rekey_replay_new(d, NULL, 0);
        if (!rr || mdb_txn_begin(s->env, txn, 0, &c1)) {
            rekey_replay_free(rr);
            break;
        }
        if (replay_once(s, c1, base, rr, 0) || rekey_replay_failed(rr) || rekey_replay_standing(s, c1, rr)) {
            mdb_txn_abort(c1);
            rekey_replay_free(rr);
            break;
        }
        int found = 0, bad = 0;
        proto_id bx = { { 0 } };
        uint8_t bk[MKEY_LEN];
        rekey_replay *from = NULL, *bfrom = NULL;   /* the replay the best completion is read from */
        proto_id x;
        uint64_t cut;
        int need_d;
        for (size_t i = 0; rekey_sched_len(d) < STORE_REKEY_DECISIONS_MAX &&
                           rekey_replay_epoch(rr, i, &x, &cut, &need_d) == 0; i++) {
            uint8_t k[MKEY_LEN];
            from = rr;
            if (need_d) {
                MDB_txn *c2;
                rekey_replay *rd = rekey_replay_new(d, &x, cut);
                s->rk_nested++;
                if (!rd || rekey_replay_whatif(rd, rr, &x) || mdb_txn_begin(s->env, c1, 0, &c2)) {
                    rekey_replay_free(rd);
                    bad = 1;
                    break;
                }
                int rc = replay_once(s, c2, base, rd, 0) || rekey_replay_failed(rd);
                mdb_txn_abort(c2);
                cache_clear(s);
                if (rc) {
                    rekey_replay_free(rd);
                    bad = 1;
                    break;
                }
                from = rd;
            }
            if (rekey_replay_completion(from, &x, cut, k) == 0 &&
                (!found || memcmp(k, bk, MKEY_LEN) < 0 || (!memcmp(k, bk, MKEY_LEN) && memcmp(&x, &bx, 32) < 0))) {
                if (bfrom && bfrom != rr)
                    rekey_replay_free(bfrom);
                found = 1;
                memcpy(bk, k, MKEY_LEN);
                bx = x;
                bfrom = from;
            } else if (from != rr) {
                rekey_replay_free(from);
            }
        }
        if (bad || (found && rekey_sched_add(d, bfrom, &bx))) {
            if (bfrom && bfrom != rr)
                rekey_replay_free(bfrom);
            mdb_txn_abort(c1);
            rekey_replay_free(rr);
            break;
        }
        if (bfrom && bfrom != rr)
            rekey_replay_free(bfrom);
        if (!found) {
            /* R is what the transaction keeps */
            int rc = rekey_replay_end(s, c1, rr);
            rekey_replay_free(rr);
            if (rc) {
                mdb_txn_abort(c1);
                break;
            }
            if (mdb_txn_commit(c1))
                break;
            ret = 0;
            break;
        }
        mdb_txn_abort(c1);
        rekey_replay_free(rr);
        cache_clear(s);
    }
    rekey_sched_free(d);
    cache_clear(s);
    return ret;
}

uint64_t former_clip_of(const store *s, const proto_id *id)
{
    for (size_t i = 0; i < s->nfclip; i++)
        if (!memcmp(&s->fclip[i].id, id, 32))
            return s->fclip[i].cut;
    return UINT64_MAX;
}

/* Append id's cut to c: 0, or -1 out of memory. */
static int clip_add(struct former_clip **c, size_t *n, size_t *cap, const proto_id *id, uint64_t cut)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct former_clip *nv = realloc(*c, nc * sizeof *nv);
        if (!nv)
            return -1;
        *c = nv;
        *cap = nc;
    }
    (*c)[*n].id = *id;
    (*c)[(*n)++].cut = cut;
    return 0;
}

int member_rederive_txn(store *s, MDB_txn *txn, int *changed)
{
    proto_id g;
    mrefs l = { 0 }, full = { 0 };
    uint8_t before[32], after[32];
    int ret = -1, rekeys = 0;
    struct former_clip *clip = NULL, *nclipv = NULL;
    size_t nclip = 0, capclip = 0, nnclip = 0, capnclip = 0;
    mref *next = NULL, *prev = NULL;   /* the next round's input; the one before this round's */
    size_t nprev = 0;
    int narrow = 0;   /* a cycle was seen: each round leaves out of its own input */
    if (changed)
        *changed = 0;
    s->member_dirty = 0;
    if (meta_id(s, txn, "genesis", &g))
        return 0;   /* no alliance: nothing to derive */
    size_t added = 0;
    if (tables_hash(s, txn, before) ||
        collect_kind(s, txn, "genesis", &g, &full) ||
        collect_kind(s, txn, "member", NULL, &full) ||
        collect_kind(s, txn, "policy", NULL, &full) ||
        collect_apart(s, txn, &full, &added))
        goto out;
    if (full.n)
        qsort(full.v, full.n, sizeof *full.v, mref_log_cmp);
    if (!(l.v = malloc((full.n ? full.n : 1) * sizeof *l.v)) || !(next = malloc((full.n ? full.n : 1) * sizeof *next)) ||
        !(prev = malloc((full.n ? full.n : 1) * sizeof *prev)))
        goto out;
    if (full.n)
        memcpy(l.v, full.v, full.n * sizeof *l.v);
    l.n = l.cap = full.n;
    /* Records of a former member beyond its cut derive nothing
     * (DECISIONS 16), but the cut is what the derivation derives: derive
     * with every record held (the log's and those apart after it), then
     * again with every record held but those beyond the cuts the last
     * round derived, until a round's input is the one before's or
     * STORE_FORMER_ROUNDS derivations ran.  Each round is a function of
     * the records held: the same on every store holding them, whatever the
     * order they came in and whichever store kept them in its log or apart.
     * Each round leaves out what the cuts of the round before say, not
     * what every earlier round did: a member a first round took for
     * expelled (by a former member's backdated vote, which the next round
     * leaves out) has its records read again once it is not.  Should a
     * round's input come back (the records a cut leaves out are what
     * makes that cut), the rounds from then on leave out of their own
     * input, which only shrinks: a few rounds, never STORE_FORMER_ROUNDS
     * full derivations for a cycle a former member can build.  A rekey
     * subject's log is read by the replay from the versions held, not from
     * the list (rekey_subject_log): the round's cuts go with it (s->fclip),
     * or a former member's version beyond its cut, apart, derived in a
     * rederive what the incremental store, which never read it, did not
     * (its address, its votes). */
    for (unsigned round = 0;; round++) {
        rekeys = 0;
        for (size_t i = 0; i < l.n && !rekeys; i++)
            rekeys = l.v[i].op == MEMBER_OP_REKEY;
        if (rekeys ? rekey_decide(s, txn, &l)
                   : (replay_once(s, txn, &l, NULL, added == 0) || rekey_replay_end(s, txn, NULL)))
            goto out;
        /* a leave or an expulsion in the input: a former member may hold
         * more.  With rekeys, a subject's log is read from the versions
         * held, not from the list (the list has only the log's and the run
         * after it): a departure among them — a thief's expulsion in the
         * log on one store, apart below the log's end on another, once a
         * decision took it out — counts without being in the list, so the
         * cuts are looked at whatever the list holds (computing the next
         * input costs a walk of the list; it derives again only if the
         * input changes) (random world 6218, property (d)) */
        int gone = rekeys;
        for (size_t i = 0; i < full.n && !gone; i++)
            gone = full.v[i].op == MEMBER_OP_LEAVE || full.v[i].op == MEMBER_OP_EXPEL;
        if (!gone || round + 1 >= STORE_FORMER_ROUNDS)
            break;
        size_t o = 0;
        for (int pass = 0; pass < 2; pass++) {
            /* from every record held; once a round's input comes back
             * (a cut that leaves out the record making it: a cycle), from
             * the round's own, as the rounds did before, which only shrinks */
            const mrefs *src = narrow ? &l : &full;
            int status = 0;
            uint64_t cut = 0;
            o = 0;
            nnclip = 0;
            for (size_t i = 0; i < src->n; i++) {
                const mref *m = &src->v[i];
                if (i == 0 || memcmp(m->key + 8, src->v[i - 1].key + 8, 32)) {
                    /* in (author, seq) order: each author's standing once */
                    EVP_PKEY *k = former_key_txn(s, txn, (const proto_id *)(m->key + 8), UINT64_MAX, &status, &cut);
                    EVP_PKEY_free(k);
                    if (status && clip_add(&nclipv, &nnclip, &capnclip, (const proto_id *)(m->key + 8), cut))
                        goto out;
                }
                if (!m->genesis && status && get_be64(m->key + 40) > cut)
                    continue;
                next[o++] = *m;
            }
            if (narrow || !round || o != nprev || memcmp(next, prev, o * sizeof *next))
                break;
            narrow = 1;
        }
        /* the same input again derives the same: done (the cuts matter to
         * a replay without rekeys only through the list) */
        if (o == l.n && !memcmp(next, l.v, o * sizeof *next) &&
            (!rekeys || (nnclip == nclip && (!nclip || !memcmp(nclipv, clip, nclip * sizeof *clip)))))
            break;
        memcpy(prev, l.v, l.n * sizeof *prev);
        nprev = l.n;
        memcpy(l.v, next, o * sizeof *next);
        l.n = o;
        struct former_clip *t = clip;
        size_t tc = capclip;
        clip = nclipv;
        nclip = nnclip;
        capclip = capnclip;
        nclipv = t;
        capnclip = tc;
        s->fclip = clip;
        s->nfclip = nclip;
        cache_clear(s);
    }
    s->fclip = NULL;
    s->nfclip = 0;
    /* Records of an author stay in the log whatever the derivation says
     * of its admission (DECISIONS 22): a fork of an honest member's
     * admission must not take its log away, and a puppet admitted only by
     * records beyond a rekey's cut is no member (its records are refused
     * by nodes that hold the decision when they arrive) */
    /* and the logs follow: a former member's ends at its cut (one the
     * replay wrote set former_dirty; one placed before may be a member
     * again) */
    if (former_any_txn(s, txn))
        s->former_dirty = 1;
    if (former_settle_txn(s, txn, 0, NULL) || tables_hash(s, txn, after))
        goto out;
    s->member_rederives++;
    if (memcmp(before, after, 32)) {
        s->member_fixups++;
        if (changed)
            *changed = 1;
    }
    ret = 0;
out:
    s->fclip = NULL;
    s->nfclip = 0;
    free(clip);
    free(nclipv);
    free(next);
    free(prev);
    free(full.v);
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
        meta_get_txn(s, txn, "member_blocked", &bl, &bn) || bn != 1 || bl) {
        s->member_dirty = 1;
        member_closure_unplace(s);
        return;
    }
    if (memcmp(k, last, MKEY_LEN) <= 0) {
        /* out of order: what the incremental path derived is what the
         * replay derives when the closure placed it (member_closure_note) */
        if (!member_closure_placed(s) || member_closure_rebase(s, txn, r)) {
            s->member_dirty = 1;
            member_closure_unplace(s);
        }
        return;
    }
    if (meta_put_txn(s, txn, "member_last", k, MKEY_LEN))
        s->member_dirty = 1;
}

int member_in_order_txn(store *s, MDB_txn *txn, const proto_record *r)
{
    uint8_t k[MKEY_LEN], last[MKEY_LEN], bl = 1;
    size_t n = MKEY_LEN, bn = 1;
    mkey_of(r, 0, k);
    return meta_get_txn(s, txn, "member_last", last, &n) == 0 && n == MKEY_LEN &&
           meta_get_txn(s, txn, "member_blocked", &bl, &bn) == 0 && bn == 1 && !bl &&
           memcmp(k, last, MKEY_LEN) > 0;
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
    if (s->member_dirty)
        return member_rederive_txn(s, txn, NULL);   /* placing the logs too */
    /* a departure the incremental path applied: the departed member's
     * records beyond its cut leave its log, and what the incremental path
     * derived from them (it applied them while their author was active)
     * the derivation leaves out: it runs when a log changed */
    int moved = 0;
    if (former_settle_txn(s, txn, 0, &moved))
        return -1;
    return moved ? member_rederive_txn(s, txn, NULL) : 0;
}

int store_member_rederive(store *s, int *changed, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
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
