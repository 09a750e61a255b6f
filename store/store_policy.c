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
 * Derivation (policy_derive_txn), from the records the log holds and
 * nothing else, so any order of arrival gives the same policy: start from
 * the genesis policy P0 (admission from the genesis; expulsion
 * max(admission, 2); the areas and routes of catalog/schema.c); then,
 * repeatedly, among the proposals whose parent is the policy in force, those
 * counted by at least the change quorum — min(expulsion in force, active
 * members), at least 1 — of distinct endorsers (the proposer counts as one)
 * qualify, and the one with the lowest hash comes into force.  An endorser
 * counts if it is an active member now, or left the alliance in a record
 * after the one it endorsed with (its vote was cast while it was a member:
 * leaving does not take back a policy it helped bring into force).  An
 * expelled or pending member's votes never count.  The result is kept in
 * meta "policy" and recomputed in the write transaction of every batch that
 * applied a genesis, member or policy record (s->policy_dirty).
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "catalog/schema.h"

#include <msgpack.h>
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

/* ---- what the log holds ---- */

typedef struct {
    proto_id hash, author, parent;
    uint64_t seq, time_ms;
} prop_ent;

typedef struct {
    proto_id target, author;
    uint64_t seq, time_ms;
} endo_ent;

typedef struct {
    prop_ent *p;
    size_t np, capp;
    endo_ent *e;
    size_t ne, cape;
    int has_genesis;
    proto_record genesis;     /* points into gbuf */
    uint8_t *gbuf;
} policy_log;

static void log_free(policy_log *l)
{
    free(l->p);
    free(l->e);
    free(l->gbuf);
    memset(l, 0, sizeof *l);
}

static int grow(void **a, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *x = realloc(*a, nc * sz);
    if (!x)
        return -1;
    *a = x;
    *cap = nc;
    return 0;
}

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

static int take_policy(void *ctx, const proto_record *r, const proto_id *h)
{
    policy_log *l = ctx;
    switch (policy_op(r)) {
    case POLICY_OP_PROPOSE: {
        char ph[65];
        prop_ent e = { *h, r->author, { { 0 } }, r->seq, r->time_ms };
        if (proto_body_copy_str(r, "parent", ph, sizeof ph) || proto_unhex(ph, e.parent.b, 32))
            return 0;   /* the validator refuses these: never held */
        if (grow((void **)&l->p, &l->capp, l->np, sizeof *l->p))
            return -1;
        l->p[l->np++] = e;
        return 0;
    }
    case POLICY_OP_ENDORSE: {
        endo_ent e = { { { 0 } }, r->author, r->seq, r->time_ms };
        if (strncmp(r->key, "endorse/", 8) || proto_unhex(r->key + 8, e.target.b, 32))
            return 0;
        if (grow((void **)&l->e, &l->cape, l->ne, sizeof *l->e))
            return -1;
        l->e[l->ne++] = e;
        return 0;
    }
    default:
        return 0;
    }
}

static int take_genesis(void *ctx, const proto_record *r, const proto_id *h)
{
    policy_log *l = ctx;
    proto_id g;
    (void)h;
    if (l->has_genesis)
        return 0;
    l->gbuf = malloc(r->raw_len);
    if (!l->gbuf)
        return -1;
    memcpy(l->gbuf, r->raw, r->raw_len);
    if (proto_record_decode_stored(l->gbuf, r->raw_len, &l->genesis, NULL, 0))
        return -1;
    proto_record_hash(l->gbuf, r->raw_len, &g);
    l->has_genesis = 1;
    return 1;
}

/* Endorsements in (target, author, seq) order: a proposal's are one run,
 * found by bisection, each author's together. */
static int endo_cmp(const void *x, const void *y)
{
    const endo_ent *a = x, *b = y;
    int c = memcmp(&a->target, &b->target, 32);
    if (!c)
        c = memcmp(&a->author, &b->author, 32);
    return c ? c : a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int log_read(store *s, MDB_txn *txn, policy_log *l)
{
    memset(l, 0, sizeof *l);
    if (walk_kind(s, txn, "genesis", take_genesis, l) || walk_kind(s, txn, "policy", take_policy, l)) {
        log_free(l);
        return -1;
    }
    if (l->ne)
        qsort(l->e, l->ne, sizeof *l->e, endo_cmp);
    return 0;
}

/* Whether the vote author cast at seq counts: an active member now, or one
 * that left in a later record of its own. */
static int vote_counts(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq)
{
    int st = -1;
    if (member_status_txn(s, txn, author, &st))
        st = -1;
    if (st == STORE_MEMBER_ACTIVE)
        return 1;
    if (st != STORE_MEMBER_LEFT)
        return 0;
    /* its leave is its own current member record about itself */
    char key[65];
    uint8_t ck[CK_MAX];
    proto_hex(author->b, 32, key);
    MDB_val k = { ck_key(ck, "member", author, key), ck }, v;
    return mdb_get(txn, s->cur, &k, &v) == 0 && v.mv_size == 41 && seq < get_be64(v.mv_data);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The distinct counted endorsers of proposal p (the proposer first when it
 * counts) into who (room for 1 + l->ne), their earliest counted vote times
 * into when; returns how many.  l->e is sorted (endo_cmp). */
static size_t count_votes(store *s, MDB_txn *txn, const policy_log *l, const prop_ent *p,
                          proto_id *who, uint64_t *when)
{
    size_t n = 0, lo = 0, hi = l->ne;
    if (vote_counts(s, txn, &p->author, p->seq)) {
        who[n] = p->author;
        when[n++] = p->time_ms;
    }
    while (lo < hi) {   /* the first endorsement of p */
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(&l->e[mid].target, &p->hash, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < l->ne && !memcmp(&l->e[i].target, &p->hash, 32); i++) {
        const endo_ent *e = &l->e[i];
        if (!vote_counts(s, txn, &e->author, e->seq))
            continue;
        if (n && !memcmp(&who[n - 1], &e->author, 32)) {
            if (e->time_ms < when[n - 1])
                when[n - 1] = e->time_ms;
            continue;   /* another of this author's (its versions are together) */
        }
        if (!memcmp(&p->author, &e->author, 32) && n && !memcmp(&who[0], &e->author, 32))
            continue;   /* the proposer endorsing its own proposal counts once */
        who[n] = e->author;
        when[n++] = e->time_ms;
    }
    return n;
}

/* The admission times of the members active now, sorted: a proposal's
 * change quorum counts those admitted before it was made (active_before).
 * Counting every member active now let a policy change its own quorum: a
 * policy lowering the admission quorum admitted a member, whose admission
 * raised the quorum the policy itself needed, which took it out of force,
 * which undid the admission — with no fixed point, the outcome depended on
 * the order records came in.  Members admitted after a proposal was made
 * (its own admissions among them) do not count for it.  *n is 0 on error. */
static uint64_t *active_since(store *s, MDB_txn *txn, size_t *n)
{
    MDB_cursor *c;
    MDB_val k, v;
    uint64_t *t = NULL;
    size_t cap = 0;
    *n = 0;
    if (mdb_cursor_open(txn, s->members, &c))
        return NULL;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        store_member m;
        if (k.mv_size != 32 || member_get_txn(s, txn, k.mv_data, &m) || m.status != STORE_MEMBER_ACTIVE)
            continue;
        if (*n == cap) {
            uint64_t *x = realloc(t, (cap = cap ? cap * 2 : 64) * sizeof *t);
            if (!x)
                break;
            t = x;
        }
        t[(*n)++] = m.since_ms;
    }
    mdb_cursor_close(c);
    if (*n)
        qsort(t, *n, sizeof *t, cmp_u64);
    return t;
}

/* How many of the sorted times are <= t. */
static size_t active_before(const uint64_t *since, size_t n, uint64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (since[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint32_t policy_change_quorum(const store_policy *p, size_t active)
{
    uint32_t q = p->expulsion;
    if (active < q)
        q = (uint32_t)active;
    return q ? q : 1;
}

/* One derivation step: report every proposal to cb (when given) with its
 * state against the chain derived so far.  Fills *out with the policy in
 * force.  0 or -1. */
typedef int (*derive_cb)(void *ctx, const store_proposal *pr);

/* The quorums of each policy of the chain, from when it came into force
 * (meta "policy_hist": POLICY_HIST_ENTRY bytes each, oldest first): member
 * counting takes those in force at the time of the record it applies, so a
 * raised admission quorum does not undo admissions completed before it. */
#define POLICY_HIST_ENTRY 16

static void hist_put(uint8_t *h, size_t *nh, const store_policy *p)
{
    uint8_t *e = h + *nh * POLICY_HIST_ENTRY;
    put_be64(e, p->since_ms);
    put_be64(e + 8, (uint64_t)p->admission << 32 | p->expulsion);
    (*nh)++;
}

static int derive_hist(store *s, MDB_txn *txn, store_policy *out, derive_cb cb, void *ctx,
                       uint8_t **hist, size_t *nhist);

static int derive(store *s, MDB_txn *txn, store_policy *out, derive_cb cb, void *ctx)
{
    return derive_hist(s, txn, out, cb, ctx, NULL, NULL);
}

/* derive, also giving the chain's history (malloc'd into *hist when hist
 * is not NULL: one entry per policy of the chain) */
static int derive_hist(store *s, MDB_txn *txn, store_policy *out, derive_cb cb, void *ctx,
                       uint8_t **hist, size_t *nhist)
{
    policy_log l;
    if (log_read(s, txn, &l))
        return -1;
    if (!l.has_genesis) {
        log_free(&l);
        return 1;
    }
    store_policy cur;
    policy_genesis(&l.genesis, &cur);
    if (hist) {
        *nhist = 0;
        if (!(*hist = malloc((l.np + 1) * POLICY_HIST_ENTRY))) {
            log_free(&l);
            return -1;
        }
        cur.since_ms = 0;   /* in force from the start, whatever the genesis's time */
        hist_put(*hist, nhist, &cur);
        policy_genesis(&l.genesis, &cur);
    }
    /* the members' admission times count for proposals only: with none
     * (the usual log) no scan of the members at every membership record */
    size_t nsince = 0;
    uint64_t *since = l.np ? active_since(s, txn, &nsince) : NULL;
    proto_id *who = malloc((l.ne + 1) * sizeof *who);
    uint64_t *when = malloc((l.ne + 1) * sizeof *when);
    uint8_t *state = calloc(l.np ? l.np : 1, 1);
    store_proposal *pr = malloc(sizeof *pr);
    int rc = 0;
    if (!who || !when || !state || !pr) {
        rc = -1;
        goto done;
    }
    /* each step takes one proposal into the chain: at most np steps (a
     * cycle would need a record naming its own descendant's hash) */
    for (size_t step = 0; step <= l.np; step++) {
        const prop_ent *best = NULL;
        uint64_t best_since = 0;
        for (size_t i = 0; i < l.np; i++) {
            const prop_ent *p = &l.p[i];
            if (state[i] || memcmp(&p->parent, &cur.id, 32))
                continue;
            uint32_t q = policy_change_quorum(&cur, active_before(since, nsince, p->time_ms));
            size_t n = count_votes(s, txn, &l, p, who, when);
            if (n < q || (best && memcmp(&p->hash, &best->hash, 32) >= 0))
                continue;
            qsort(when, n, sizeof *when, cmp_u64);
            best = p;
            best_since = when[q - 1];
        }
        if (!best)
            break;
        /* the winner's body: read it from the log again */
        uint8_t lk[40];
        memcpy(lk, best->author.b, 32);
        put_be64(lk + 32, best->seq);
        MDB_val k = { 40, lk }, v;
        proto_record r;
        store_policy next;
        if (mdb_get(txn, s->log, &k, &v) || proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0) ||
            read_proposal(&r, &next, NULL, 0)) {
            state[best - l.p] = 2;   /* cannot happen for a validated record: skip it */
            continue;
        }
        next.id = best->hash;
        next.proposer = best->author;
        next.since_ms = best_since;
        state[best - l.p] = 1;
        cur = next;
        if (hist)
            hist_put(*hist, nhist, &cur);
    }
    *out = cur;
    for (size_t i = 0; cb && i < l.np && rc == 0; i++) {
        const prop_ent *p = &l.p[i];
        memset(pr, 0, sizeof *pr);
        pr->id = p->hash;
        pr->parent = p->parent;
        pr->proposer = p->author;
        pr->time_ms = p->time_ms;
        pr->state = state[i] == 1 ? (memcmp(&p->hash, &cur.id, 32) ? STORE_PROPOSAL_SUPERSEDED
                                                                     : STORE_PROPOSAL_IN_FORCE)
                    : !memcmp(&p->parent, &cur.id, 32) ? STORE_PROPOSAL_PENDING : STORE_PROPOSAL_STALE;
        pr->quorum = policy_change_quorum(&cur, active_before(since, nsince, p->time_ms));
        pr->nendorsers = count_votes(s, txn, &l, p, who, when);
        pr->endorsers = who;
        uint8_t lk[40];
        memcpy(lk, p->author.b, 32);
        put_be64(lk + 32, p->seq);
        MDB_val k = { 40, lk }, v;
        proto_record r;
        if (mdb_get(txn, s->log, &k, &v) == 0 &&
            proto_record_decode_stored(v.mv_data, v.mv_size, &r, NULL, 0) == 0 &&
            read_proposal(&r, &pr->policy, NULL, 0) == 0) {
            pr->policy.id = p->hash;
            pr->policy.proposer = p->author;
            if (pr->state == STORE_PROPOSAL_IN_FORCE)
                pr->policy.since_ms = cur.since_ms;
        }
        rc = cb(ctx, pr);
        if (rc > 0)
            rc = 0;
    }
done:
    free(since);
    free(who);
    free(when);
    free(state);
    free(pr);
    log_free(&l);
    return rc;
}

int policy_derive_txn(store *s, MDB_txn *txn)
{
    store_policy p, old;
    msgpack_sbuffer sb;
    uint8_t *hist = NULL;
    size_t nh = 0;
    int rc = derive_hist(s, txn, &p, NULL, NULL, &hist, &nh);
    s->policy_dirty = 0;
    if (rc) {
        free(hist);
        return rc < 0 ? -1 : 0;   /* no genesis: no policy */
    }
    MDB_val hk = { 11, "policy_hist" }, hv;
    int same_hist = mdb_get(txn, s->meta, &hk, &hv) == 0 && hv.mv_size == nh * POLICY_HIST_ENTRY &&
                    !memcmp(hv.mv_data, hist, hv.mv_size);
    if (same_hist && policy_in_force_txn(s, txn, &old) == 0 && !memcmp(&old.id, &p.id, 32) &&
        old.since_ms == p.since_ms) {
        free(hist);
        return 0;
    }
    if (policy_pack(&p, &sb)) {
        msgpack_sbuffer_destroy(&sb);
        free(hist);
        return -1;
    }
    rc = meta_put_txn(s, txn, "policy", sb.data, sb.size) ||
         meta_put_txn(s, txn, "policy_hist", hist, nh * POLICY_HIST_ENTRY) ? -1 : 1;
    msgpack_sbuffer_destroy(&sb);
    free(hist);
    return rc;
}

/* Membership and policy depend on each other (quorums; whose votes
 * count): settle both.  Each round that changes something changes the
 * policy in force or a member's status; a few rounds suffice in practice,
 * and the bound keeps a pathological log from looping. */
#define SETTLE_ROUNDS 8

int policy_settle_txn(store *s, MDB_txn *txn)
{
    if (!s->policy_dirty)
        return 0;
    for (int i = 0; i < SETTLE_ROUNDS; i++) {
        int rc = policy_derive_txn(s, txn);
        if (rc <= 0)
            return rc;
        /* the quorums changed: membership from the log again under them */
        int changed = 0;
        if (member_rederive_txn(s, txn, &changed))
            return -1;
        if (!changed)
            return 0;
        s->policy_dirty = 1;
    }
    s->policy_dirty = 0;
    return 0;
}

int policy_in_force_txn(store *s, MDB_txn *txn, store_policy *out)
{
    MDB_val k = { 6, "policy" }, v;
    if (mdb_get(txn, s->meta, &k, &v) == 0 && policy_unpack(v.mv_data, v.mv_size, out) == 0)
        return 0;
    /* a store from before policy records: P0 from its genesis */
    policy_log l;
    memset(out, 0, sizeof *out);
    if (walk_kind(s, txn, "genesis", take_genesis, (memset(&l, 0, sizeof l), &l)) || !l.has_genesis) {
        log_free(&l);
        return -1;
    }
    policy_genesis(&l.genesis, out);
    log_free(&l);
    return 0;
}

void policy_quorums_at_txn(store *s, MDB_txn *txn, uint64_t time_ms, uint32_t *admission,
                           uint32_t *expulsion)
{
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

int store_policy_proposals(store *s, store_proposal_cb cb, void *ctx)
{
    MDB_txn *txn;
    store_policy *p = malloc(sizeof *p);
    if (!p || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) {
        free(p);
        return -1;
    }
    int rc = derive(s, txn, p, cb, ctx);
    mdb_txn_abort(txn);
    free(p);
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
