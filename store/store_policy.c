/*
 * store/store_policy.c — the alliance's policy (DESIGN §2 "Policy"): the
 * admission and expulsion quorums, the policy areas (分野) and the contract
 * routes (契約方法), derived from the genesis and the `policy` records.
 *
 * Records (kind `policy`, never tombstoned):
 *   key "proposal/HEX32", op propose: the whole new policy — parent (the
 *     hash of the policy in force it amends, lowercase hex), admission,
 *     expulsion, areas, routes.  Its id is the hash of the record.  The
 *     key's HEX32 is the first 16 bytes of SHA-256 of the body's other
 *     fields as the proposer wrote them; nothing depends on it but keeping
 *     two proposals of one author apart.
 *   key "endorse/HEX64", op endorse: the author endorses the proposal
 *     whose hash is HEX64.  One key per (author, proposal), so a member's
 *     endorsement of a proposal is one current record.
 *
 * Derivation: in the membership replay of store_replay.c, turn by turn
 * (the section "the policy in the replay" below, docs/DECISIONS.md 14):
 * from the genesis policy P0 (admission from the genesis; expulsion
 * max(admission, 2); the areas and routes of catalog/schema.c), a proposal
 * on the policy in force comes into force at the turn its votes reach the
 * change quorum — min(expulsion in force, members active at that turn), at
 * least 1 — of distinct members active at their votes' turns.  What was in
 * force at a turn depends on the records before it only.  The result is
 * kept in meta "policy" (what validators, the index and the web view read),
 * "policy_hist" and "policy_props", written by every replay; a policy
 * record, and a member leaving or expelled while a proposal is pending,
 * make the write transaction replay.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "catalog/schema.h"

#include <msgpack.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

/* ---- the policy as bytes (meta "policy") ---- */

static int pack_list(msgpack_packer *pk, const char (*l)[STORE_POLICY_ITEM_MAX + 1], uint32_t n)
{
    if (msgpack_pack_array(pk, n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(l[i]);
        if (msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, l[i], len))
            return -1;
    }
    return 0;
}

static int policy_pack(const store_policy *p, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return msgpack_pack_array(&pk, 8) ||
           msgpack_pack_bin(&pk, 32) || msgpack_pack_bin_body(&pk, p->id.b, 32) ||
           msgpack_pack_bin(&pk, 32) || msgpack_pack_bin_body(&pk, p->parent.b, 32) ||
           msgpack_pack_bin(&pk, 32) || msgpack_pack_bin_body(&pk, p->proposer.b, 32) ||
           msgpack_pack_uint64(&pk, p->since_ms) ||
           msgpack_pack_uint32(&pk, p->admission) || msgpack_pack_uint32(&pk, p->expulsion) ||
           pack_list(&pk, p->areas, p->nareas) || pack_list(&pk, p->routes, p->nroutes);
}

static int unpack_list(proto_rd *r, char (*l)[STORE_POLICY_ITEM_MAX + 1], uint32_t *n)
{
    if (proto_rd_array(r, n) || *n > STORE_POLICY_LIST_MAX)
        return -1;
    for (uint32_t i = 0; i < *n; i++)
        if (proto_rd_strcpy(r, l[i], STORE_POLICY_ITEM_MAX + 1))
            return -1;
    return 0;
}

static int policy_unpack(const void *buf, size_t len, store_policy *p)
{
    proto_rd r;
    uint32_t n;
    uint64_t a, e;
    memset(p, 0, sizeof *p);
    proto_rd_init(&r, buf, len);
    if (proto_rd_array(&r, &n) || n != 8 || proto_rd_binfix(&r, p->id.b, 32) ||
        proto_rd_binfix(&r, p->parent.b, 32) || proto_rd_binfix(&r, p->proposer.b, 32) ||
        proto_rd_uint(&r, &p->since_ms) || proto_rd_uint(&r, &a) || proto_rd_uint(&r, &e) ||
        unpack_list(&r, p->areas, &p->nareas) || unpack_list(&r, p->routes, &p->nroutes) || r.err)
        return -1;
    p->admission = (uint32_t)a;
    p->expulsion = (uint32_t)e;
    return 0;
}

/* ---- the policy a record states ---- */

static void copy_defaults(char (*l)[STORE_POLICY_ITEM_MAX + 1], uint32_t *n, const char *const *def)
{
    for (*n = 0; def[*n] && *n < STORE_POLICY_LIST_MAX; ++*n)
        snprintf(l[*n], STORE_POLICY_ITEM_MAX + 1, "%s", def[*n]);
}

/* P0 from the genesis record g. */
static void policy_genesis(const proto_record *g, store_policy *p)
{
    int64_t adm = 1;
    memset(p, 0, sizeof *p);
    proto_record_hash(g->raw, g->raw_len, &p->id);
    p->proposer = g->author;
    p->since_ms = g->time_ms;
    proto_body_get_int(g, "admission", &adm);
    p->admission = adm >= 1 && adm <= STORE_QUORUM_MAX ? (uint32_t)adm : 1;
    p->expulsion = p->admission > 1 ? p->admission : 2;
    copy_defaults(p->areas, &p->nareas, catalog_areas);
    copy_defaults(p->routes, &p->nroutes, catalog_routes);
}

/* The value of top-level body field `name` of r into *out. */
static int body_find(const proto_record *r, const char *name, proto_rd *out)
{
    proto_rd rd;
    uint32_t n;
    size_t nl = strlen(name);
    proto_rd_init(&rd, r->body, r->body_len);
    if (proto_rd_map(&rd, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        const char *f;
        uint32_t fl;
        if (proto_rd_str(&rd, &f, &fl))
            return -1;
        if (fl == nl && !memcmp(f, name, nl)) {
            *out = rd;
            return 0;
        }
        if (proto_rd_skip(&rd, PROTO_BODY_DEPTH))
            return -1;
    }
    return -1;
}

/* A list of a proposal: 1..STORE_POLICY_LIST_MAX items, each one
 * catalog_vocab_item_check accepts, no two equal after catalog_norm. */
static int read_list(const proto_record *r, const char *name, char (*l)[STORE_POLICY_ITEM_MAX + 1],
                     uint32_t *n, char *err, size_t errlen)
{
    proto_rd rd;
    char why[256];
    if (body_find(r, name, &rd) || proto_rd_array(&rd, n))
        return proto_err(err, errlen, "policy proposal lacks the list '%s'", name);
    if (*n == 0 || *n > STORE_POLICY_LIST_MAX)
        return proto_err(err, errlen, "policy proposal: '%s' must list 1 to %u items", name,
                         STORE_POLICY_LIST_MAX);
    for (uint32_t i = 0; i < *n; i++) {
        const char *s;
        uint32_t sl;
        if (proto_rd_str(&rd, &s, &sl))
            return proto_err(err, errlen, "policy proposal: '%s' item %u is not a string", name, i + 1);
        if (catalog_vocab_item_check(s, sl, why, sizeof why))
            return proto_err(err, errlen, "policy proposal: '%s' item %u: %s", name, i + 1, why);
        memcpy(l[i], s, sl);
        l[i][sl] = 0;
        char a[4 * STORE_POLICY_ITEM_MAX + 1], b[4 * STORE_POLICY_ITEM_MAX + 1];
        if (catalog_norm(l[i], sl, a, sizeof a))
            return proto_err(err, errlen, "policy proposal: '%s' item %u cannot be normalised", name, i + 1);
        for (uint32_t k = 0; k < i; k++)
            if (catalog_norm(l[k], strlen(l[k]), b, sizeof b) == 0 && !strcmp(a, b))
                return proto_err(err, errlen, "policy proposal: '%s' lists '%s' twice", name, l[i]);
    }
    return 0;
}

/* The policy a proposal states (id, proposer, since are the caller's). */
static int read_proposal(const proto_record *r, store_policy *p, char *err, size_t errlen)
{
    char ph[65];
    int64_t a, e;
    memset(p, 0, sizeof *p);
    if (proto_body_copy_str(r, "parent", ph, sizeof ph) || strlen(ph) != 64 ||
        proto_unhex(ph, p->parent.b, 32))
        return proto_err(err, errlen, "policy proposal lacks its parent (the hash of the policy it amends)");
    char canon[65];
    proto_hex(p->parent.b, 32, canon);
    if (strcmp(canon, ph))
        return proto_err(err, errlen, "policy proposal: parent must be lowercase hex");
    if (proto_body_get_int(r, "admission", &a) || a < 1 || a > STORE_QUORUM_MAX)
        return proto_err(err, errlen, "policy proposal: admission must be 1 to %u", STORE_QUORUM_MAX);
    if (proto_body_get_int(r, "expulsion", &e) || e < 1 || e > STORE_QUORUM_MAX)
        return proto_err(err, errlen, "policy proposal: expulsion must be 1 to %u", STORE_QUORUM_MAX);
    p->admission = (uint32_t)a;
    p->expulsion = (uint32_t)e;
    if (read_list(r, "areas", p->areas, &p->nareas, err, errlen) ||
        read_list(r, "routes", p->routes, &p->nroutes, err, errlen))
        return -1;
    return 0;
}

enum { POLICY_OP_NONE = 0, POLICY_OP_PROPOSE, POLICY_OP_ENDORSE };

static int policy_op(const proto_record *r)
{
    char op[16];
    if (proto_body_copy_str(r, "op", op, sizeof op))
        return POLICY_OP_NONE;
    if (!strcmp(op, "propose"))
        return POLICY_OP_PROPOSE;
    if (!strcmp(op, "endorse"))
        return POLICY_OP_ENDORSE;
    return POLICY_OP_NONE;
}

static int hex_suffix(const char *key, const char *prefix, size_t nhex, uint8_t *out)
{
    size_t pl = strlen(prefix);
    if (strncmp(key, prefix, pl) || strlen(key + pl) != nhex || proto_unhex(key + pl, out, nhex / 2))
        return -1;
    char canon[65];
    proto_hex(out, nhex / 2, canon);
    return strcmp(canon, key + pl) ? -1 : 0;
}

int store_policy_validate(const proto_record *r, char *err, size_t errlen)
{
    uint8_t h[32];
    if (r->flags & PROTO_FLAG_TOMBSTONE)
        return proto_err(err, errlen, "policy records cannot be deleted");
    switch (policy_op(r)) {
    case POLICY_OP_PROPOSE: {
        store_policy p;
        if (hex_suffix(r->key, "proposal/", 32, h))
            return proto_err(err, errlen, "policy proposal key must be proposal/ and 32 lowercase hex digits");
        return read_proposal(r, &p, err, errlen);
    }
    case POLICY_OP_ENDORSE:
        if (hex_suffix(r->key, "endorse/", 64, h))
            return proto_err(err, errlen, "policy endorsement key must be endorse/ and the proposal's hash "
                             "(64 lowercase hex digits)");
        return 0;
    default:
        return proto_err(err, errlen, "policy record has no valid op (propose, endorse)");
    }
}

int store_policy_proposal_key(const store_policy *p, char *key, size_t keylen)
{
    /* what the proposal says, each item ended by a NUL: two different
     * proposals get different keys */
    uint8_t buf[32 + 8 + 2 * STORE_POLICY_LIST_MAX * (STORE_POLICY_ITEM_MAX + 1) + 1], h[32];
    size_t o = 0;
    char hex[65];
    memcpy(buf, p->parent.b, 32);
    o = 32;
    put_be64(buf + o, (uint64_t)p->admission << 32 | p->expulsion);
    o += 8;
    for (uint32_t i = 0; i < p->nareas && i < STORE_POLICY_LIST_MAX; i++) {
        size_t n = strlen(p->areas[i]) + 1;
        memcpy(buf + o, p->areas[i], n);
        o += n;
    }
    buf[o++] = '|';
    for (uint32_t i = 0; i < p->nroutes && i < STORE_POLICY_LIST_MAX; i++) {
        size_t n = strlen(p->routes[i]) + 1;
        memcpy(buf + o, p->routes[i], n);
        o += n;
    }
    SHA256(buf, o, h);
    proto_hex(h, 16, hex);
    return snprintf(key, keylen, "proposal/%s", hex) < (int)keylen ? 0 : -1;
}

/* ---- reading the log ---- */

/* Every version of `kind` the log holds (the ver index), each decoded: cb
 * gets the record; bytes valid during the call only. */
static int walk_kind(store *s, MDB_txn *txn, const char *kind,
                     int (*cb)(void *, const proto_record *, const proto_id *), void *ctx)
{
    uint8_t pre[1 + PROTO_KIND_MAX];
    size_t pl = kind_prefix(pre, kind);
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->ver, &c))
        return -1;
    MDB_val k = { pl, pre }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), out = 0;
    while (rc == 0 && k.mv_size >= pl + 32 + 1 + 8 && !memcmp(k.mv_data, pre, pl)) {
        const uint8_t *kb = k.mv_data;
        uint8_t lk[40];
        memcpy(lk, kb + pl, 32);
        memcpy(lk + 32, kb + k.mv_size - 8, 8);
        MDB_val lkv = { 40, lk }, lv;
        proto_record r;
        if (v.mv_size == 32 && mdb_get(txn, s->log, &lkv, &lv) == 0 &&
            proto_record_decode_stored(lv.mv_data, lv.mv_size, &r, NULL, 0) == 0 &&
            (out = cb(ctx, &r, (const proto_id *)v.mv_data)) != 0)
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return out < 0 ? -1 : 0;
}

typedef struct {
    int has_genesis;
    proto_record genesis;     /* points into gbuf */
    uint8_t *gbuf;
    int pinned;               /* only the genesis whose hash is want */
    proto_id want;
} genesis_copy;

static int take_genesis(void *ctx, const proto_record *r, const proto_id *h)
{
    genesis_copy *l = ctx;
    if (l->has_genesis || (l->pinned && memcmp(h, &l->want, 32)))
        return 0;
    l->gbuf = malloc(r->raw_len);
    if (!l->gbuf)
        return -1;
    memcpy(l->gbuf, r->raw, r->raw_len);
    if (proto_record_decode_stored(l->gbuf, r->raw_len, &l->genesis, NULL, 0))
        return -1;
    l->has_genesis = 1;
    return 1;
}

/* The proposal record at (author, seq) of the log, read into *out. */
static int read_logged_proposal(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                                store_policy *out)
{
    uint8_t lk[40];
    memcpy(lk, author->b, 32);
    put_be64(lk + 32, seq);
    MDB_val k = { 40, lk }, v;
    proto_record r;
    return mdb_get(txn, s->log, &k, &v) || proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0) ||
           read_proposal(&r, out, NULL, 0) ? -1 : 0;
}

/* The proposal version hash at (author, seq), wherever the store holds
 * it: in the log, or apart (a round of the derivation before re-judged its
 * author's log, or its author is a former member past its cut).  Reading
 * the log alone made a replay depend on where the version sat, not on the
 * versions held: the log may hold another version at that seq, or none. */
static int read_held_proposal(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash,
                              store_policy *out)
{
    uint8_t ak[72];
    memcpy(ak, author->b, 32);
    put_be64(ak + 32, seq);
    memcpy(ak + 40, hash->b, 32);
    MDB_val k = { 40, ak }, v;
    proto_record r;
    proto_id h;
    if (mdb_get(txn, s->log, &k, &v) == 0) {
        proto_record_hash(v.mv_data, v.mv_size, &h);
        if (!memcmp(h.b, hash->b, 32))
            return proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0) || read_proposal(&r, out, NULL, 0)
                       ? -1
                       : 0;
    }
    k.mv_size = 72;
    return mdb_get(txn, s->apart, &k, &v) || proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0) ||
           read_proposal(&r, out, NULL, 0) ? -1 : 0;
}

uint32_t policy_change_quorum(const store_policy *p, size_t active)
{
    uint32_t q = p->expulsion;
    if (active < q)
        q = (uint32_t)active;
    return q ? q : 1;
}

/* ---- the policy in the replay (docs/DECISIONS.md 14) ----
 *
 * Policy records take their turn in the replay of store_replay.c, in its
 * one order over membership records ((time, author, seq), an author's
 * records in seq order, taken only while the author is active), so what
 * was in force at any point of that order depends on the records before
 * it and on nothing after it.  A record added to the log changes nothing
 * before its own turn: that is what a rekey decision (issue 12) and the
 * member counting of the replay need, and what the end-state counting
 * this replaced could not give (a later expulsion of an endorser took a
 * policy out of force years after, and every admission it decided).
 *
 * The rules at each turn, with P the policy in force:
 *   - a propose record is a proposal, and its author's vote for it;
 *   - an endorse record is its author's vote for the proposal it names
 *     (held if the proposal has not had its turn yet);
 *   - a proposal whose parent is P, with votes of at least the change
 *     quorum — min(P's expulsion, members active now), at least 1 — of
 *     distinct members, comes into force at that turn; a proposal on P
 *     already there is checked again at each vote for it and whenever the
 *     active members become fewer; when one comes into force, the
 *     proposals amending it that already hold enough votes follow at the
 *     same turn, the lowest hash first;
 *   - a member expelled loses its votes for proposals not yet in force;
 *     one that leaves keeps them (they were cast while it was a member);
 *     nothing takes a policy out of force but a newer one;
 *   - member counting at a turn uses P's quorums (policy_quorums_at_txn).
 * Costs: one slot per proposal (open addressing by hash), a vote checks
 * its own proposal only; a full scan of the proposals happens only when a
 * policy comes into force or the active members become fewer. */

typedef struct {
    proto_id hash, parent, author;
    uint64_t seq, time_ms;
    uint8_t known;      /* its propose record had its turn */
    uint8_t done;       /* 1 came into force (perhaps superseded since); 2 unreadable */
    uint32_t quorum;    /* the change quorum it met */
    uint64_t since_ms;
    proto_id *voters;   /* distinct, in the order their votes were taken */
    uint32_t nv, capv;
} pslot;

struct policy_replay {
    store_policy cur;
    pslot *v;
    size_t n, cap;
    uint32_t *idx;      /* slot + 1, by hash */
    size_t capi;
    uint64_t seed;      /* of idx's hash (slot_hash) */
    uint8_t *hist;      /* POLICY_HIST_ENTRY each */
    size_t nhist, caphist;
    const proto_record *taking;   /* the record taking its turn (not yet in the log outside a replay) */
};

/* The quorums of each policy of the chain, from when it came into force
 * (meta "policy_hist": POLICY_HIST_ENTRY bytes each, oldest first): member
 * counting outside the replay takes those in force at the record's time
 * (a record applied incrementally sorts after every turn of the replay, so
 * that is the policy in force after them). */
#define POLICY_HIST_ENTRY 16

static int hist_put(policy_replay *p, const store_policy *pol)
{
    if (p->nhist == p->caphist) {
        size_t nc = p->caphist ? p->caphist * 2 : 8;
        uint8_t *nh = realloc(p->hist, nc * POLICY_HIST_ENTRY);
        if (!nh)
            return -1;
        p->hist = nh;
        p->caphist = nc;
    }
    uint8_t *e = p->hist + p->nhist++ * POLICY_HIST_ENTRY;
    put_be64(e, pol->since_ms);
    put_be64(e + 8, (uint64_t)pol->admission << 32 | pol->expulsion);
    return 0;
}

void policy_replay_free(policy_replay *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].voters);
    free(p->v);
    free(p->idx);
    free(p->hist);
    free(p);
}

/* An empty state, its table's seed drawn (a seed of 0 if that fails:
 * slower under chosen targets, never wrong). */
static policy_replay *replay_new(void)
{
    policy_replay *p = calloc(1, sizeof *p);
    if (p && RAND_bytes((unsigned char *)&p->seed, sizeof p->seed) != 1)
        p->seed = 0;
    return p;
}

int policy_replay_begin(store *s, MDB_txn *txn, policy_replay **out)
{
    genesis_copy g = { 0 };
    *out = NULL;
    if (meta_id(s, txn, "genesis", &g.want))
        return 0;   /* no alliance: the replay derives nothing either */
    g.pinned = 1;
    if (walk_kind(s, txn, "genesis", take_genesis, &g)) {
        free(g.gbuf);
        return -1;
    }
    if (!g.has_genesis)
        return 0;   /* no alliance: the replay derives nothing either */
    policy_replay *p = replay_new();
    if (!p) {
        free(g.gbuf);
        return -1;
    }
    policy_genesis(&g.genesis, &p->cur);
    free(g.gbuf);
    /* in force from the start, whatever the genesis's time (the history's
     * first entry); its since stays the genesis's time, what a store that
     * has not replayed yet reads (policy_in_force_txn) */
    uint64_t since = p->cur.since_ms;
    p->cur.since_ms = 0;
    int rc = hist_put(p, &p->cur);
    p->cur.since_ms = since;
    if (rc) {
        policy_replay_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int policy_replay_has_slots(const policy_replay *p)
{
    return p->n > 0;
}

void policy_replay_quorums(const policy_replay *p, uint32_t *admission, uint32_t *expulsion)
{
    *admission = p->cur.admission;
    *expulsion = p->cur.expulsion;
}

/* An endorsement names any 32 bytes as its proposal, so the table is
 * hashed on the whole hash under a seed of this replay's (proto_id_hash):
 * targets a member picked alike in their first bytes do not pile up in one
 * run.  The layout alone depends on it, never the order of the slots. */
static size_t slot_hash(const policy_replay *p, const proto_id *h, size_t cap)
{
    return (size_t)proto_id_hash(p->seed, h) & (cap - 1);
}

/* The slot of proposal h, made if absent: its index, or -1. */
static long slot_of(policy_replay *p, const proto_id *h)
{
    if (p->capi)
        for (size_t i = slot_hash(p, h, p->capi); p->idx[i]; i = (i + 1) & (p->capi - 1))
            if (!memcmp(&p->v[p->idx[i] - 1].hash, h, 32))
                return (long)p->idx[i] - 1;
    if ((p->n + 1) * 2 > p->capi) {
        size_t nc = p->capi ? p->capi * 2 : 64;
        uint32_t *ni = calloc(nc, sizeof *ni);
        if (!ni)
            return -1;
        for (size_t j = 0; j < p->n; j++) {
            size_t i = slot_hash(p, &p->v[j].hash, nc);
            while (ni[i])
                i = (i + 1) & (nc - 1);
            ni[i] = (uint32_t)j + 1;
        }
        free(p->idx);
        p->idx = ni;
        p->capi = nc;
    }
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        pslot *nv = realloc(p->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        p->v = nv;
        p->cap = nc;
    }
    pslot *sl = &p->v[p->n];
    memset(sl, 0, sizeof *sl);
    sl->hash = *h;
    size_t i = slot_hash(p, h, p->capi);
    while (p->idx[i])
        i = (i + 1) & (p->capi - 1);
    p->idx[i] = (uint32_t)p->n + 1;
    return (long)p->n++;
}

/* who votes for sl: 0 (counted, or already), -1 */
static int add_voter(pslot *sl, const proto_id *who)
{
    for (uint32_t i = 0; i < sl->nv; i++)
        if (!memcmp(&sl->voters[i], who, 32))
            return 0;
    if (sl->nv == sl->capv) {
        uint32_t nc = sl->capv ? sl->capv * 2 : 4;
        proto_id *nv = realloc(sl->voters, nc * sizeof *nv);
        if (!nv)
            return -1;
        sl->voters = nv;
        sl->capv = nc;
    }
    sl->voters[sl->nv++] = *who;
    return 0;
}

/* Whether sl may come into force now. */
static int ready(const policy_replay *p, const pslot *sl, size_t active)
{
    return sl->known && !sl->done && !memcmp(&sl->parent, &p->cur.id, 32) &&
           sl->nv >= policy_change_quorum(&p->cur, active);
}

/* sl comes into force at the turn of time now_ms: 1, 0 if its record
 * cannot be read (it could when it was stored: it derives nothing), -1. */
static int into_force(store *s, MDB_txn *txn, policy_replay *p, pslot *sl, size_t active, uint64_t now_ms)
{
    store_policy next;
    const proto_record *t = p->taking;
    if (t && !memcmp(&t->author, &sl->author, 32) && t->seq == sl->seq ? read_proposal(t, &next, NULL, 0)
                                                                        : read_held_proposal(s, txn, &sl->author,
                                                                                             sl->seq, &sl->hash, &next)) {
        sl->done = 2;
        return 0;
    }
    next.id = sl->hash;
    next.proposer = sl->author;
    next.since_ms = now_ms;
    sl->done = 1;
    sl->quorum = policy_change_quorum(&p->cur, active);
    sl->since_ms = now_ms;
    p->cur = next;
    return hist_put(p, &p->cur) ? -1 : 1;
}

/* Every proposal on the policy in force that is ready comes into force,
 * the lowest hash first, and those on it in turn. */
static int settle_all(store *s, MDB_txn *txn, policy_replay *p, size_t active, uint64_t now_ms)
{
    for (;;) {
        pslot *best = NULL;
        for (size_t i = 0; i < p->n; i++)
            if (ready(p, &p->v[i], active) && (!best || memcmp(&p->v[i].hash, &best->hash, 32) < 0))
                best = &p->v[i];
        if (!best)
            return 0;
        if (into_force(s, txn, p, best, active, now_ms) < 0)
            return -1;
    }
}

/* A vote for sl was counted: it may be the one that completes it. */
static int vote_check(store *s, MDB_txn *txn, policy_replay *p, pslot *sl, size_t active, uint64_t now_ms)
{
    if (!ready(p, sl, active))
        return 0;
    int rc = into_force(s, txn, p, sl, active, now_ms);
    return rc < 0 ? -1 : rc ? settle_all(s, txn, p, active, now_ms) : 0;
}

static int replay_take(store *s, MDB_txn *txn, policy_replay *p, const proto_record *r, const proto_id *h,
                       size_t active);

int policy_replay_take(store *s, MDB_txn *txn, policy_replay *p, const proto_record *r, const proto_id *h,
                       size_t active)
{
    p->taking = r;
    int rc = replay_take(s, txn, p, r, h, active);
    p->taking = NULL;
    return rc;
}

static int replay_take(store *s, MDB_txn *txn, policy_replay *p, const proto_record *r, const proto_id *h,
                       size_t active)
{
    long i;
    switch (policy_op(r)) {
    case POLICY_OP_PROPOSE: {
        char ph[65];
        proto_id parent;
        if (proto_body_copy_str(r, "parent", ph, sizeof ph) || proto_unhex(ph, parent.b, 32))
            return 0;   /* the validator refuses these: never held */
        if ((i = slot_of(p, h)) < 0)
            return -1;
        pslot *sl = &p->v[i];
        sl->known = 1;
        sl->parent = parent;
        sl->author = r->author;
        sl->seq = r->seq;
        sl->time_ms = r->time_ms;
        if (add_voter(sl, &r->author))   /* the proposer counts as endorsing */
            return -1;
        return vote_check(s, txn, p, sl, active, r->time_ms);
    }
    case POLICY_OP_ENDORSE: {
        proto_id target;
        if (strncmp(r->key, "endorse/", 8) || proto_unhex(r->key + 8, target.b, 32))
            return 0;
        if ((i = slot_of(p, &target)) < 0 || add_voter(&p->v[i], &r->author))
            return -1;
        return vote_check(s, txn, p, &p->v[i], active, r->time_ms);
    }
    default:
        return 0;
    }
}

void policy_replay_expelled(policy_replay *p, const proto_id *who)
{
    for (size_t i = 0; i < p->n; i++) {
        pslot *sl = &p->v[i];
        if (sl->done)
            continue;
        for (uint32_t j = 0; j < sl->nv; j++)
            if (!memcmp(&sl->voters[j], who, 32)) {
                memmove(&sl->voters[j], &sl->voters[j + 1], (sl->nv - j - 1) * sizeof *sl->voters);
                sl->nv--;
                break;
            }
    }
}

int policy_replay_fewer(store *s, MDB_txn *txn, policy_replay *p, size_t active, uint64_t now_ms)
{
    return settle_all(s, txn, p, active, now_ms);
}

/* meta "policy_props": the replay's state at its end, one entry per slot
 * (a proposal that had its turn, or votes for one that has not yet), oldest
 * slot first:
 *   hash 32 | parent 32 | author 32 | be64 seq | be64 time | done 1 |
 *   be32 quorum | be64 since | be32 nvoters | known 1 | nvoters x 32
 * what `policy show` reads (store_policy_proposals, known ones only) and
 * what a policy record applied in the replay's order continues from
 * (policy_take_txn). */
#define PROP_HEAD (32 * 3 + 8 + 8 + 1 + 4 + 8 + 4 + 1)

static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int policy_replay_end(store *s, MDB_txn *txn, policy_replay *p)
{
    size_t len = 0;
    uint8_t pending = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].known || p->v[i].nv) {
            len += PROP_HEAD + (size_t)p->v[i].nv * 32;
            if (p->v[i].known && !p->v[i].done && !memcmp(&p->v[i].parent, &p->cur.id, 32))
                pending |= POLICY_PENDING_ON_CUR;
            if (!p->v[i].done && p->v[i].nv)
                pending |= POLICY_PENDING_VOTES;
        }
    uint8_t *props = malloc(len ? len : 1), *o = props;
    msgpack_sbuffer sb;
    if (!props)
        return -1;
    for (size_t i = 0; i < p->n; i++) {
        const pslot *sl = &p->v[i];
        if (!sl->known && !sl->nv)
            continue;
        memcpy(o, sl->hash.b, 32);
        memcpy(o + 32, sl->parent.b, 32);
        memcpy(o + 64, sl->author.b, 32);
        put_be64(o + 96, sl->seq);
        put_be64(o + 104, sl->time_ms);
        o[112] = sl->done;
        put_be32(o + 113, sl->quorum);
        put_be64(o + 117, sl->since_ms);
        put_be32(o + 125, sl->nv);
        o[129] = sl->known;
        if (sl->nv)
            memcpy(o + PROP_HEAD, sl->voters, (size_t)sl->nv * 32);
        o += PROP_HEAD + (size_t)sl->nv * 32;
    }
    int rc = policy_pack(&p->cur, &sb) ||
             meta_put_txn(s, txn, "policy", sb.data, sb.size) ||
             meta_put_txn(s, txn, "policy_hist", p->hist, p->nhist * POLICY_HIST_ENTRY) ||
             meta_put_txn(s, txn, "policy_props", props, len) ||
             meta_put_txn(s, txn, "policy_pending", &pending, 1) ? -1 : 0;
    msgpack_sbuffer_destroy(&sb);
    free(props);
    return rc;
}

/* The state the last replay ended with (policy_replay_end), to continue
 * from: 0, 1 if there is none to continue from, -1. */
static int replay_load(store *s, MDB_txn *txn, policy_replay **out)
{
    MDB_val k = { 6, "policy" }, hk = { 11, "policy_hist" }, pk = { 12, "policy_props" }, v, hv, pv;
    *out = NULL;
    if (mdb_get(txn, s->meta, &k, &v) || mdb_get(txn, s->meta, &hk, &hv) || mdb_get(txn, s->meta, &pk, &pv) ||
        hv.mv_size < POLICY_HIST_ENTRY || hv.mv_size % POLICY_HIST_ENTRY)
        return 1;
    policy_replay *p = replay_new();
    if (!p)
        return -1;
    if (policy_unpack(v.mv_data, v.mv_size, &p->cur)) {
        policy_replay_free(p);
        return 1;
    }
    if (!(p->hist = malloc(hv.mv_size))) {
        policy_replay_free(p);
        return -1;
    }
    memcpy(p->hist, hv.mv_data, hv.mv_size);
    p->nhist = p->caphist = hv.mv_size / POLICY_HIST_ENTRY;
    const uint8_t *b = pv.mv_data, *end = b + pv.mv_size;
    while ((size_t)(end - b) >= PROP_HEAD) {
        uint32_t nv = get_be32(b + 125);
        if ((size_t)(end - b - PROP_HEAD) / 32 < nv) {
            policy_replay_free(p);
            return 1;   /* damaged: a replay writes it again */
        }
        long i = slot_of(p, (const proto_id *)b);
        if (i < 0) {
            policy_replay_free(p);
            return -1;
        }
        pslot *sl = &p->v[i];
        memcpy(sl->parent.b, b + 32, 32);
        memcpy(sl->author.b, b + 64, 32);
        sl->seq = get_be64(b + 96);
        sl->time_ms = get_be64(b + 104);
        sl->done = b[112];
        sl->quorum = get_be32(b + 113);
        sl->since_ms = get_be64(b + 117);
        sl->known = b[129];
        if (nv && !(sl->voters = malloc((size_t)nv * sizeof *sl->voters))) {
            policy_replay_free(p);
            return -1;
        }
        if (nv)
            memcpy(sl->voters, b + PROP_HEAD, (size_t)nv * 32);
        sl->nv = sl->capv = nv;
        b += PROP_HEAD + (size_t)nv * 32;
    }
    *out = p;
    return 0;
}

int policy_take_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h)
{
    policy_replay *p;
    int rc = replay_load(s, txn, &p);
    if (rc)
        return rc;
    rc = policy_replay_take(s, txn, p, r, h, member_quorum_txn(s, txn, UINT32_MAX)) ||
         policy_replay_end(s, txn, p) ? -1 : 0;
    policy_replay_free(p);
    return rc;
}

int policy_pending_txn(store *s, MDB_txn *txn)
{
    uint8_t b = 1;
    size_t n = 1;
    /* no mark: no replay since this store took a policy record (each one
     * replays), so none unless the store was written before the mark */
    if (meta_get_txn(s, txn, "policy_pending", &b, &n) || n != 1)
        return log_has_kind_txn(s, txn, "policy") ? POLICY_PENDING_ON_CUR | POLICY_PENDING_VOTES : 0;
    return b;
}

int policy_derived_txn(store *s, MDB_txn *txn)
{
    uint8_t b;
    size_t n = 1;
    return meta_get_txn(s, txn, "policy_pending", &b, &n) == 0 && n == 1;
}

int policy_in_force_txn(store *s, MDB_txn *txn, store_policy *out)
{
    MDB_val k = { 6, "policy" }, v;
    if (mdb_get(txn, s->meta, &k, &v) == 0 && policy_unpack(v.mv_data, v.mv_size, out) == 0)
        return 0;
    /* a store the replay has not derived a policy for yet: P0 from its
     * genesis */
    genesis_copy g = { 0 };
    memset(out, 0, sizeof *out);
    if (walk_kind(s, txn, "genesis", take_genesis, &g) || !g.has_genesis) {
        free(g.gbuf);
        return -1;
    }
    policy_genesis(&g.genesis, out);
    free(g.gbuf);
    return 0;
}

void policy_quorums_at_txn(store *s, MDB_txn *txn, uint64_t time_ms, uint32_t *admission,
                           uint32_t *expulsion)
{
    if (s->preplay) {   /* in the replay: the policy in force at this turn */
        policy_replay_quorums(s->preplay, admission, expulsion);
        return;
    }
    MDB_val hk = { 11, "policy_hist" }, hv;
    if (mdb_get(txn, s->meta, &hk, &hv) == 0 && hv.mv_size >= POLICY_HIST_ENTRY &&
        hv.mv_size % POLICY_HIST_ENTRY == 0) {
        const uint8_t *h = hv.mv_data, *e = h;
        for (size_t i = 0; i < hv.mv_size / POLICY_HIST_ENTRY; i++)
            if (get_be64(h + i * POLICY_HIST_ENTRY) <= time_ms)
                e = h + i * POLICY_HIST_ENTRY;
        uint64_t q = get_be64(e + 8);
        *admission = (uint32_t)(q >> 32);
        *expulsion = (uint32_t)q;
        return;
    }
    policy_quorums_txn(s, txn, admission, expulsion);
}

void policy_quorums_txn(store *s, MDB_txn *txn, uint32_t *admission, uint32_t *expulsion)
{
    store_policy *p = malloc(sizeof *p);
    *admission = 1;
    *expulsion = 2;
    if (p && policy_in_force_txn(s, txn, p) == 0) {
        *admission = p->admission;
        *expulsion = p->expulsion;
    }
    free(p);
}

/* ---- reads ---- */

int store_policy_in_force(store *s, store_policy *out)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = policy_in_force_txn(s, txn, out);
    mdb_txn_abort(txn);
    return rc;
}

/* policy_props entries, indexed: their offsets, sorted by hash */
typedef struct {
    const uint8_t *b;
    int state;          /* -1 not yet known */
} prop_at;

static int prop_at_cmp(const void *x, const void *y)
{
    return memcmp(((const prop_at *)x)->b, ((const prop_at *)y)->b, 32);
}

static prop_at *prop_find(prop_at *v, size_t n, const uint8_t *hash)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(v[mid].b, hash, 32);
        if (!c)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* A proposal not in force is pending while its parent is the policy in
 * force or a proposal pending itself (the replay brings it into force
 * after its parent, store_policy.c "the policy in the replay"), else
 * stale: its parent was superseded, or is no proposal that had its turn.
 * The chain is walked iteratively and memoised (a chain may be as long as
 * the proposals; none can loop, a parent's hash being in its child). */
static int prop_state(prop_at *v, size_t n, prop_at *e, const proto_id *cur)
{
    prop_at *chain[64];
    {
        size_t depth = 0;
        prop_at *x = e;
        int st = -1;
        while (x && x->state < 0 && depth < 64) {
            if (x->b[112] == 1) {
                x->state = memcmp(x->b, cur->b, 32) ? STORE_PROPOSAL_SUPERSEDED : STORE_PROPOSAL_IN_FORCE;
                break;
            }
            if (x->b[112] != 0 || !memcmp(x->b + 32, x->b, 32)) {
                x->state = STORE_PROPOSAL_STALE;
                break;
            }
            if (!memcmp(x->b + 32, cur->b, 32)) {
                x->state = STORE_PROPOSAL_PENDING;
                break;
            }
            chain[depth++] = x;
            x = prop_find(v, n, x->b + 32);
        }
        if (x && x->state < 0)
            prop_state(v, n, x, cur);   /* 64 deep: the rest of the chain first */
        if (!x)
            st = STORE_PROPOSAL_STALE;
        else if (x == e)
            return e->state;   /* e itself was decided above */
        else
            st = x->state == STORE_PROPOSAL_IN_FORCE || x->state == STORE_PROPOSAL_PENDING
                 ? STORE_PROPOSAL_PENDING : STORE_PROPOSAL_STALE;
        while (depth)
            chain[--depth]->state = st;
        return e->state;
    }
}

int store_policy_proposals(store *s, store_proposal_cb cb, void *ctx)
{
    MDB_txn *txn;
    store_policy *cur = malloc(sizeof *cur);
    store_proposal *pr = malloc(sizeof *pr);
    proto_id *who = NULL;
    int rc = 0;
    if (!cur || !pr || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) {
        free(cur);
        free(pr);
        return -1;
    }
    MDB_val k = { 12, "policy_props" }, v;
    if (policy_in_force_txn(s, txn, cur) || mdb_get(txn, s->meta, &k, &v)) {
        mdb_txn_abort(txn);   /* no alliance, or no proposal had its turn yet */
        free(cur);
        free(pr);
        return 0;
    }
    uint32_t active;   /* the change quorum of a proposal pending counts them */
    size_t nat = 0;
    if (members_active_txn(s, txn, &active))
        active = 0;
    const uint8_t *b = v.mv_data, *end = b + v.mv_size;
    prop_at *at = malloc((v.mv_size / PROP_HEAD + 1) * sizeof *at);
    if (!at)
        rc = -1;
    for (const uint8_t *q = b; rc == 0 && (size_t)(end - q) >= PROP_HEAD;) {
        uint32_t nv = get_be32(q + 125);
        if ((size_t)(end - q - PROP_HEAD) / 32 < nv) {
            rc = -1;   /* written by policy_replay_end: damaged */
            break;
        }
        if (q[129])
            at[nat++] = (prop_at){ q, -1 };
        q += PROP_HEAD + (size_t)nv * 32;
    }
    if (nat)
        qsort(at, nat, sizeof *at, prop_at_cmp);
    while (rc == 0 && (size_t)(end - b) >= PROP_HEAD) {
        uint32_t nv = get_be32(b + 125);
        if (!b[129]) {   /* votes for a proposal that has not had its turn */
            b += PROP_HEAD + (size_t)nv * 32;
            continue;
        }
        memset(pr, 0, sizeof *pr);
        memcpy(pr->id.b, b, 32);
        memcpy(pr->parent.b, b + 32, 32);
        memcpy(pr->proposer.b, b + 64, 32);
        uint64_t seq = get_be64(b + 96);
        pr->time_ms = get_be64(b + 104);
        int done = b[112] == 1;
        pr->state = prop_state(at, nat, prop_find(at, nat, b), &cur->id);
        pr->quorum = done ? get_be32(b + 113) : policy_change_quorum(cur, active);
        /* the voters, aligned for the callback (the map's bytes need not be) */
        free(who);
        if (!(who = malloc((nv ? nv : 1) * sizeof *who))) {
            rc = -1;
            break;
        }
        memcpy(who, b + PROP_HEAD, (size_t)nv * 32);
        pr->nendorsers = nv;
        pr->endorsers = who;
        if (read_logged_proposal(s, txn, &pr->proposer, seq, &pr->policy) == 0) {
            pr->policy.id = pr->id;
            pr->policy.proposer = pr->proposer;
            if (done)
                pr->policy.since_ms = get_be64(b + 117);
        }
        b += PROP_HEAD + (size_t)nv * 32;
        rc = cb(ctx, pr);
        if (rc > 0)
            rc = 0;
    }
    mdb_txn_abort(txn);
    free(at);
    free(who);
    free(cur);
    free(pr);
    return rc < 0 ? -1 : 0;
}

void store_policy_vocab(const store_policy *p, const char **areas, const char **routes)
{
    for (uint32_t i = 0; i < p->nareas; i++)
        areas[i] = p->areas[i];
    areas[p->nareas] = NULL;
    for (uint32_t i = 0; i < p->nroutes; i++)
        routes[i] = p->routes[i];
    routes[p->nroutes] = NULL;
}
