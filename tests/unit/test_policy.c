/* tests/unit/test_policy.c — the policy derived from the log
 * (store/store_policy.c) with real LMDB stores: the same records in any
 * order give the same policy; of competing proposals that reach the
 * quorum the lowest hash comes into force; a proposal on a stale parent
 * never does; whose votes count (active, left after voting, not expelled);
 * member counting reads the quorums in force; the validator's rules.
 *
 * Records are signed here with proto_record_sign, as other members'
 * nodes would, and applied through store_apply_batch with the signature
 * checked first, the way a node takes them from a peer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <openssl/x509.h>

#include "store/store.h"
#include "store/kind.h"
#include "catalog/schema.h"
#include "certs/certs.h"
#include "tests/unit/identities.h"
#include "proto/record.h"
#include "proto/util.h"

enum { F, M1, M2, M3, X, NIDS };
static const char *const id_code[NIDS] = { "131059", "131016", "131024", "131032", "011002" };
static const char *const id_name[NIDS] = { "文京区", "千代田区", "中央区", "港区", "札幌市" };

/* where the stores go; a longer run of the random logs below may build
 * with -DTEST_POLICY_TMP='"/dev/shm/test_policy.XXXXXX"' -DRANDOM_WORLDS=N */
#ifndef TEST_POLICY_TMP
#define TEST_POLICY_TMP "/tmp/test_policy.XXXXXX"
#endif
#ifndef RANDOM_WORLDS
#define RANDOM_WORLDS 12
#endif
#ifndef RANDOM_SEED0
#define RANDOM_SEED0 0
#endif

static char tmpdir[64];
static certs_identity ids[NIDS];
static int dirno;

static int group_setup(void **state)
{
    return identities_make(tmpdir, TEST_POLICY_TMP, ids, NIDS, id_code, id_name, NULL);
}

static int group_teardown(void **state)
{
    identities_free(tmpdir, ids, NIDS);
    return 0;
}

/* ---- records ---- */

typedef struct { uint8_t *b; size_t n; int who; uint64_t time_ms; } rec;
typedef struct {
    rec v[64];
    size_t n;
    uint64_t seq[NIDS];
    proto_id g;
    uint64_t tover;   /* nonzero: the time of the next record (a backdated one) */
} world;

static store *open_store(int who)
{
    char path[128], err[256];
    store *s;
    snprintf(path, sizeof path, "%s/s%d", tmpdir, dirno++);
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), 0);
    assert_int_equal(store_bind_self(s, &ids[who].id, err, sizeof err), 0);
    return s;
}

static int copy_cb(void *ctx, const uint8_t *b, size_t n)
{
    rec *r = ctx;
    r->b = malloc(n);
    assert_non_null(r->b);
    memcpy(r->b, b, n);
    r->n = n;
    return 1;
}

/* Free a world's records and empty it. */
static void world_free(world *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i].b);
    memset(w, 0, sizeof *w);
}

/* The founder's store with the genesis (admission adm), and a world whose
 * first record is that genesis. */
static store *found(world *w, uint32_t adm)
{
    char err[256];
    store *s = open_store(F);
    world_free(w);
    assert_int_equal(store_create_genesis(s, ids[F].key, ids[F].der, ids[F].der_len, ids[F].code, ids[F].name,
                                          "試験連合", adm, NULL, err, sizeof err), 0);
    store_info in;
    assert_int_equal(store_info_get(s, &in), 0);
    w->g = in.genesis;
    rec *r = &w->v[w->n++];
    assert_int_equal(store_range(s, &ids[F].id, 1, 1, copy_cb, r), 0);
    assert_non_null(r->b);
    r->who = F;
    w->seq[F] = 1;
    return s;
}

/* Add a record signed by who with its next seq; returns its hash. */
static proto_id add(world *w, int who, const char *kind, const char *key, proto_body *b)
{
    char err[256];
    assert_true(w->n < 64);
    rec *r = &w->v[w->n++];
    r->time_ms = w->tover ? w->tover : 1700000000000ull + w->n;
    if (proto_record_sign(&w->g, &ids[who].id, kind, key, ++w->seq[who], r->time_ms, 0, b,
                          ids[who].key, &r->b, &r->n, err, sizeof err))
        fail_msg("sign: %s", err);
    proto_body_free(b);
    r->who = who;
    proto_id h;
    proto_record_hash(r->b, r->n, &h);
    return h;
}

static void admit(world *w, int by, int who)
{
    char key[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_str(b, "code", ids[who].code);
    proto_body_str(b, "name", ids[who].name);
    proto_body_bin(b, "cert", ids[who].der, ids[who].der_len);
    proto_hex(ids[who].id.b, 32, key);
    add(w, by, "member", key, b);
}

static void member_op(world *w, int by, int who, const char *op)
{
    char key[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", op);
    proto_hex(ids[who].id.b, 32, key);
    add(w, by, "member", key, b);
}

/* An expel vote naming how much of who's log the voter held. */
static void expel(world *w, int by, int who, int64_t held)
{
    char key[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "expel");
    proto_body_int(b, "seq", held);
    proto_hex(ids[who].id.b, 32, key);
    add(w, by, "member", key, b);
}

/* who announces its address. */
static void address(world *w, int who, const char *addr)
{
    char key[65];
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "address");
    proto_body_str(b, "address", addr);
    proto_hex(ids[who].id.b, 32, key);
    add(w, who, "member", key, b);
}

/* A proposal by who amending parent: the genesis lists with extra_area
 * added (or none), admission adm. */
static proto_id propose(world *w, int who, const proto_id *parent, const char *extra_area, uint32_t adm)
{
    store_policy p;
    char ph[65], key[64];
    memset(&p, 0, sizeof p);
    p.parent = *parent;
    p.admission = adm;
    p.expulsion = 2;
    const char *areas[40], *routes[40];
    size_t na = 0, nr = 0;
    for (; catalog_areas[na]; na++)
        areas[na] = catalog_areas[na];
    if (extra_area)
        areas[na++] = extra_area;
    for (; catalog_routes[nr]; nr++)
        routes[nr] = catalog_routes[nr];
    for (size_t i = 0; i < na; i++)
        snprintf(p.areas[i], sizeof p.areas[i], "%s", areas[i]);
    p.nareas = (uint32_t)na;
    for (size_t i = 0; i < nr; i++)
        snprintf(p.routes[i], sizeof p.routes[i], "%s", routes[i]);
    p.nroutes = (uint32_t)nr;
    assert_int_equal(store_policy_proposal_key(&p, key, sizeof key), 0);
    proto_hex(parent->b, 32, ph);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "propose");
    proto_body_str(b, "parent", ph);
    proto_body_int(b, "admission", adm);
    proto_body_int(b, "expulsion", 2);
    proto_body_strs(b, "areas", areas, na);
    proto_body_strs(b, "routes", routes, nr);
    return add(w, who, "policy", key, b);
}

/* A proposal by who on parent with the genesis lists and both quorums. */
static proto_id propose_q(world *w, int who, const proto_id *parent, uint32_t adm, uint32_t exp)
{
    store_policy p;
    char ph[65], key[64];
    const char *areas[40], *routes[40];
    size_t na = 0, nr = 0;
    memset(&p, 0, sizeof p);
    p.parent = *parent;
    p.admission = adm;
    p.expulsion = exp;
    for (; catalog_areas[na]; na++) {
        areas[na] = catalog_areas[na];
        snprintf(p.areas[na], sizeof p.areas[na], "%s", areas[na]);
    }
    for (; catalog_routes[nr]; nr++) {
        routes[nr] = catalog_routes[nr];
        snprintf(p.routes[nr], sizeof p.routes[nr], "%s", routes[nr]);
    }
    p.nareas = (uint32_t)na;
    p.nroutes = (uint32_t)nr;
    assert_int_equal(store_policy_proposal_key(&p, key, sizeof key), 0);
    proto_hex(parent->b, 32, ph);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "propose");
    proto_body_str(b, "parent", ph);
    proto_body_int(b, "admission", adm);
    proto_body_int(b, "expulsion", exp);
    proto_body_strs(b, "areas", areas, na);
    proto_body_strs(b, "routes", routes, nr);
    return add(w, who, "policy", key, b);
}

static void endorse(world *w, int who, const proto_id *prop)
{
    char key[80], hex[65];
    proto_hex(prop->b, 32, hex);
    snprintf(key, sizeof key, "endorse/%s", hex);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "endorse");
    add(w, who, "policy", key, b);
}

/* Apply w's records (but the genesis, which w's store applies first) in
 * `order`, one batch of up to `batch` at a time, offering those that come
 * back GAP or UNKNOWN_AUTHOR again until none is left. */
static void apply_in_v(store *s, const world *w, const size_t *order, size_t n, size_t batch, int verify)
{
    char err[256];
    size_t todo[64], nt = 0, rounds = 0;
    for (size_t i = 0; i < n; i++)
        todo[nt++] = order[i];
    while (nt) {
        size_t next[64], nn = 0;
        assert_true(rounds++ < 100);
        for (size_t i = 0; i < nt; i += batch) {
            proto_record r[64];
            int res[64];
            size_t bs = nt - i < batch ? nt - i : batch;
            for (size_t k = 0; k < bs; k++) {
                const rec *x = &w->v[todo[i + k]];
                assert_int_equal(proto_record_decode(x->b, x->n, &r[k], err, sizeof err), 0);
                if (verify)
                    assert_int_equal(proto_record_verify(&r[k], X509_get0_pubkey(ids[x->who].cert), err, sizeof err), 0);
            }
            assert_int_equal(store_apply_batch(s, r, bs, res, err, sizeof err), 0);
            for (size_t k = 0; k < bs; k++) {
                if (res[k] == STORE_GAP || res[k] == STORE_UNKNOWN_AUTHOR)
                    next[nn++] = todo[i + k];
                else if (res[k] != STORE_NEW && res[k] != STORE_DUP)
                    fail_msg("record %zu: %s", todo[i + k], store_result_str(res[k]));
            }
        }
        memcpy(todo, next, nn * sizeof *todo);
        nt = nn;
    }
}

static void apply_in(store *s, const world *w, const size_t *order, size_t n, size_t batch)
{
    apply_in_v(s, w, order, n, batch, 1);
}

/* A fresh store holding w: the genesis, then the rest in the given order. */
static store *replay(const world *w, const size_t *order, size_t n, size_t batch)
{
    store *s = open_store(X);
    size_t g = 0;
    apply_in(s, w, &g, 1, 1);
    apply_in(s, w, order, n, batch);
    return s;
}

static store_policy in_force(store *s)
{
    store_policy p;
    assert_int_equal(store_policy_in_force(s, &p), 0);
    return p;
}

static int has_area(const store_policy *p, const char *a)
{
    for (uint32_t i = 0; i < p->nareas; i++)
        if (!strcmp(p->areas[i], a))
            return 1;
    return 0;
}

/* ---- tests ---- */

/* The genesis policy: admission from the genesis, expulsion max(adm, 2),
 * the built-in lists; no policy records needed. */
static void genesis_policy(void **state)
{
    world w = { 0 };
    store *s = found(&w, 3);
    store_policy p = in_force(s);
    assert_memory_equal(p.id.b, w.g.b, 32);
    assert_true(proto_id_is_zero(&p.parent));
    assert_int_equal(p.admission, 3);
    assert_int_equal(p.expulsion, 3);
    assert_int_equal(p.nareas, 12);
    assert_string_equal(p.areas[3], "防災");
    assert_int_equal(p.nroutes, 5);
    assert_memory_equal(p.proposer.b, ids[F].id.b, 32);
    store_close(s);
    s = found(&w, 1);
    assert_int_equal(in_force(s).expulsion, 2);
    store_close(s);
    world_free(&w);
}

/* Four members; two competing proposals on the genesis both reach the
 * quorum (2): the one that reaches it first in the replay's order (F's
 * endorsement of a is dated before its endorsement of b) comes into force,
 * whatever the hashes, and the other is stale; a third amends the winner
 * and comes into force after it; a fourth amends the loser and never does
 * — whatever order and batching the records arrive in. */
static void any_order_same_policy(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    proto_id a = propose(&w, M1, &w.g, "宇宙", 1);
    proto_id b = propose(&w, M2, &w.g, "深海", 1);
    endorse(&w, F, &a);
    endorse(&w, F, &b);
    proto_id win = a, lose = b;
    proto_id c = propose(&w, M3, &win, "宇宙", 2);   /* admission 2 on top */
    endorse(&w, M1, &c);
    proto_id d = propose(&w, M3, &lose, "氷河", 1);
    endorse(&w, F, &d);
    endorse(&w, M1, &d);
    endorse(&w, M2, &d);

    size_t n = w.n - 1, order[64];
    store_policy want = { 0 };
    unsigned seed = 12345;
    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < n; i++)
            order[i] = i + 1;
        if (round == 1)   /* newest first */
            for (size_t i = 0; i < n; i++)
                order[i] = n - i;
        if (round >= 2)
            for (size_t i = n - 1; i > 0; i--) {
                seed = seed * 1103515245u + 12345u;
                size_t j = (seed >> 8) % (i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        store *s = replay(&w, order, n, (size_t)(round % 4) + 1);
        store_policy p = in_force(s);
        assert_memory_equal(p.id.b, c.b, 32);
        assert_memory_equal(p.parent.b, win.b, 32);
        assert_int_equal(p.admission, 2);
        assert_true(has_area(&p, "宇宙"));
        assert_false(has_area(&p, "深海"));
        assert_false(has_area(&p, "氷河"));
        if (round == 0)
            want = p;
        assert_memory_equal(&p, &want, sizeof p);
        store_close(s);
    }
    world_free(&w);
}

typedef struct { proto_id id; int state; size_t nend; } seen_prop;
typedef struct { seen_prop v[16]; size_t n; } seen_props;

static int collect_props(void *ctx, const store_proposal *p)
{
    seen_props *s = ctx;
    assert_true(s->n < 16);
    s->v[s->n++] = (seen_prop){ p->id, p->state, p->nendorsers };
    return 0;
}

static const seen_prop *find_prop(const seen_props *s, const proto_id *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!memcmp(&s->v[i].id, id, 32))
            return &s->v[i];
    fail_msg("proposal not reported");
    return NULL;
}

/* Whose votes count: below the quorum nothing changes; a policy in force
 * stays in force when an endorser that completed it is expelled later
 * (nothing after a policy's turn takes it back); a member that left after
 * voting still counts (its vote was cast while it was a member). */
static void whose_votes_count(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    proto_id a = propose(&w, M1, &w.g, "宇宙", 1);
    size_t order[64], n;

    /* the proposer alone: 1 of 2 */
    n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 3);
    assert_memory_equal(in_force(s).id.b, w.g.b, 32);
    seen_props sp = { .n = 0 };
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &a)->state, STORE_PROPOSAL_PENDING);
    assert_int_equal(find_prop(&sp, &a)->nend, 1);
    store_close(s);

    /* M3 endorses (2 of 2: in force), then F and M2 expel M3: the policy
     * stays, on the node that had it in force and on a fresh one */
    endorse(&w, M3, &a);
    size_t with_m3 = w.n;
    /* naming the endorsement (M3's seq 1) they held: it is within M3's
     * cut (DECISIONS 16: a record beyond it derives nothing) */
    expel(&w, F, M3, 1);
    expel(&w, M2, M3, 1);
    n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    s = replay(&w, order, with_m3 - 1, 2);
    assert_memory_equal(in_force(s).id.b, a.b, 32);   /* in force while M3 is a member */
    apply_in(s, &w, order + with_m3 - 1, n - (with_m3 - 1), 2);
    store_member m;
    assert_int_equal(store_member_get(s, &ids[M3].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_EXPELLED);
    assert_memory_equal(in_force(s).id.b, a.b, 32);   /* and still when it is expelled */
    int changed = -1;
    char err[256];
    assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    assert_memory_equal(in_force(s).id.b, a.b, 32);
    store_close(s);
    s = replay(&w, order, n, 1);
    assert_memory_equal(in_force(s).id.b, a.b, 32);
    store_close(s);

    /* M2 endorses, then leaves: its vote stays (forward order: a node
     * that holds M3's expulsion refuses M3's records, whose vote is void
     * anyway) */
    endorse(&w, M2, &a);
    member_op(&w, M2, M2, "leave");
    n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    s = replay(&w, order, n, 1);
    assert_int_equal(store_member_get(s, &ids[M2].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_LEFT);
    store_policy p = in_force(s);
    assert_memory_equal(p.id.b, a.b, 32);
    assert_true(has_area(&p, "宇宙"));
    sp.n = 0;
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &a)->state, STORE_PROPOSAL_IN_FORCE);
    assert_int_equal(find_prop(&sp, &a)->nend, 3);   /* M1, M3 (before its expulsion), M2 */
    store_close(s);
    world_free(&w);
}

/* The votes a member expelled had cast for a proposal not yet in force
 * go with it (a left member's stay), and fewer active members lower the
 * change quorum: a proposal pending comes into force at the turn of the
 * record that made them fewer.  P (expulsion 3) is in force; Q amends it,
 * voted by M1 and M3 (2 of 3).  M3 is expelled (3 votes under P): Q keeps
 * M1's vote only; F's makes 2 of min(3, 3 active): pending — with M3's
 * vote kept it would be 3, in force.  M2 leaves: 2 active, the quorum is
 * 2, and Q comes into force at the leave.  The same in any order and
 * batching, and a fresh derivation changes nothing. */
static void expelled_votes_go_fewer_members_complete(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);   /* P0: admission 1, expulsion 2 */
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    proto_id p = propose_q(&w, M1, &w.g, 1, 3);
    endorse(&w, F, &p);          /* 2 of min(2, 4): in force */
    proto_id q = propose_q(&w, M1, &p, 1, 2);
    endorse(&w, M3, &q);         /* 2 of min(3, 4): pending */
    expel(&w, F, M3, 1);
    expel(&w, M1, M3, 1);
    expel(&w, M2, M3, 1);        /* 3 of 3: expelled; Q keeps M1 */
    endorse(&w, F, &q);          /* 2 of min(3, 3): pending */
    size_t before_leave = w.n;
    member_op(&w, M2, M2, "leave");   /* 2 active: quorum 2, Q in force */

    size_t n = w.n - 1, order[64];
    unsigned seed = 777;
    for (int round = 0; round < 10; round++) {
        for (size_t i = 0; i < n; i++)
            order[i] = i + 1;
        if (round >= 2)
            for (size_t i = n - 1; i > 0; i--) {
                seed = seed * 1103515245u + 12345u;
                size_t j = (seed >> 8) % (i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        /* round 1: all but the leave first, then the leave on the
         * incremental path */
        store *s = replay(&w, order, round == 1 ? before_leave - 1 : n, (size_t)(round % 4) + 1);
        seen_props sp = { .n = 0 };
        if (round == 1) {
            assert_memory_equal(in_force(s).id.b, p.b, 32);
            assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
            assert_int_equal(find_prop(&sp, &q)->state, STORE_PROPOSAL_PENDING);
            assert_int_equal(find_prop(&sp, &q)->nend, 2);   /* M1, F: M3's went with it */
            apply_in(s, &w, order + before_leave - 1, n - (before_leave - 1), 1);
        }
        store_member m;
        assert_int_equal(store_member_get(s, &ids[M3].id, &m), 0);
        assert_int_equal(m.status, STORE_MEMBER_EXPELLED);
        assert_int_equal(store_member_get(s, &ids[M2].id, &m), 0);
        assert_int_equal(m.status, STORE_MEMBER_LEFT);
        store_policy pol = in_force(s);
        assert_memory_equal(pol.id.b, q.b, 32);
        assert_int_equal(pol.expulsion, 2);
        sp.n = 0;
        assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
        assert_int_equal(find_prop(&sp, &p)->state, STORE_PROPOSAL_SUPERSEDED);
        assert_int_equal(find_prop(&sp, &q)->state, STORE_PROPOSAL_IN_FORCE);
        int changed = -1;
        char err[256];
        assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
        assert_int_equal(changed, 0);
        assert_memory_equal(in_force(s).id.b, q.b, 32);
        store_close(s);
    }
    world_free(&w);
}

/* The change quorum counts the members active at the turn, also after a
 * rotation (its new key empties the store's key cache, and with it the
 * count kept as members are written): P1 (expulsion 3) in force, P2 on it
 * has F's and M2's votes (2 of min(3, 4)); M1 rotates; M3 and then M2
 * leave: 2 active, the quorum is 2, and P2 comes into force at M2's
 * leave — with the count of the rotation's turn (4) it stayed pending. */
static void quorum_counts_members_after_a_rotation(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    proto_id p1 = propose_q(&w, F, &w.g, 1, 3);
    endorse(&w, M1, &p1);        /* 2 of min(2, 4): in force */
    proto_id p2 = propose_q(&w, F, &p1, 1, 2);
    endorse(&w, M2, &p2);        /* 2 of min(3, 4): pending */
    {
        char key[65];
        proto_body *b = proto_body_new();
        proto_body_str(b, "op", "rotate");
        proto_body_str(b, "code", ids[M1].code);
        proto_body_str(b, "name", ids[M1].name);
        proto_body_bin(b, "cert", ids[X].der, ids[X].der_len);
        proto_hex(ids[M1].id.b, 32, key);
        add(&w, M1, "member", key, b);   /* M1's last record */
    }
    member_op(&w, M3, M3, "leave");
    member_op(&w, M2, M2, "leave");
    size_t order[64], n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    for (size_t batch = 1; batch <= n; batch += n - 1) {
        store *s = replay(&w, order, n, batch);
        assert_memory_equal(in_force(s).id.b, p2.b, 32);
        int changed = -1;
        char err[256];
        assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
        assert_memory_equal(in_force(s).id.b, p2.b, 32);
        store_close(s);
    }
    world_free(&w);
}

/* When a policy comes into force, proposals amending it that already hold
 * enough votes follow at the same turn, the lowest hash first: B1 and B2
 * amend A and each has 2 votes before A's last vote; A's completing vote
 * brings A in, then the lower of B1 and B2, and the other is stale. */
static void ready_children_lowest_hash(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);   /* expulsion 2 */
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    proto_id a = propose_q(&w, M1, &w.g, 1, 2);
    proto_id b1 = propose(&w, M2, &a, "宇宙", 1);
    endorse(&w, M3, &b1);
    proto_id b2 = propose(&w, M3, &a, "深海", 1);
    endorse(&w, M2, &b2);
    endorse(&w, F, &a);          /* A: 2 of 2, and B1, B2 ready */
    proto_id lo = memcmp(b1.b, b2.b, 32) < 0 ? b1 : b2, hi = memcmp(b1.b, b2.b, 32) < 0 ? b2 : b1;
    size_t n = w.n - 1, order[64];
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++)
            order[i] = round ? n - i : i + 1;
        store *s = replay(&w, order, n, round ? 3 : 1);
        store_policy pol = in_force(s);
        assert_memory_equal(pol.id.b, lo.b, 32);
        assert_memory_equal(pol.parent.b, a.b, 32);
        seen_props sp = { .n = 0 };
        assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
        assert_int_equal(find_prop(&sp, &a)->state, STORE_PROPOSAL_SUPERSEDED);
        assert_int_equal(find_prop(&sp, &hi)->state, STORE_PROPOSAL_STALE);
        store_close(s);
    }
    world_free(&w);
}

/* A store whose policy was derived by the rule before decision 14's
 * turn-by-turn one (no "policy_pending" mark; here its policy meta are
 * removed, so it reads P0, what the old rule gave after the expulsion)
 * derives it again when it opens. */
static void old_store_derives_again_at_open(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    proto_id a = propose(&w, M1, &w.g, "宇宙", 1);
    endorse(&w, M3, &a);
    expel(&w, F, M3, 1);   /* the voters held M3's endorsement, its seq 1 */
    expel(&w, M2, M3, 1);
    size_t order[64], n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 2);
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/s%d", tmpdir, dirno - 1);
    assert_memory_equal(in_force(s).id.b, a.b, 32);
    store_close(s);
    {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi meta;
        static const char *const keys[] = { "policy", "policy_hist", "policy_props", "policy_pending" };
        assert_int_equal(mdb_env_create(&env), 0);
        assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
        assert_int_equal(mdb_env_set_mapsize(env, (size_t)64 << 20), 0);
        assert_int_equal(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
        for (int i = 0; i < 4; i++) {
            MDB_val k = { strlen(keys[i]), (void *)keys[i] };
            assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);
        }
        assert_int_equal(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
    }
    assert_int_equal(store_open(path, 64, &s, err, sizeof err), 0);
    assert_memory_equal(in_force(s).id.b, a.b, 32);
    store_close(s);
    world_free(&w);
}

/* Member counting reads the admission quorum in force: after a policy of
 * admission 2, one member's admit leaves a newcomer pending, a second
 * admits it. */
static void admission_from_policy(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);
    store_close(src);
    admit(&w, F, M1);
    proto_id a = propose(&w, M1, &w.g, NULL, 2);
    endorse(&w, F, &a);
    admit(&w, F, M2);
    size_t order[64], n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 1);
    assert_int_equal(in_force(s).admission, 2);
    store_member m;
    assert_int_equal(store_member_get(s, &ids[M2].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_PENDING);
    store_close(s);
    admit(&w, M1, M2);
    n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    s = replay(&w, order, n, 1);
    assert_int_equal(store_member_get(s, &ids[M2].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_ACTIVE);
    store_close(s);
    world_free(&w);
}

/* A policy whose quorum depends on a member it admits: P1 (admission 1)
 * comes into force with 2 of 2 active members; under it F alone admits
 * M2, which makes 3 active members and P1's change quorum 3, so P1 falls
 * out of force, and without it M2 is pending again.  Whatever the
 * settlement decides, every node holding these records must decide the
 * same, however they were batched, and a fresh derivation of what it
 * committed must give what it committed. */
static void settle_same_any_batching(void **state)
{
    world w = { 0 };
    store *src = found(&w, 3);   /* P0: admission 3, expulsion 3 */
    store_close(src);
    admit(&w, F, M1);            /* quorum min(3, 1) = 1 */
    proto_id p1 = propose_q(&w, M1, &w.g, 1, 3);
    endorse(&w, F, &p1);         /* 2 of min(3, 2): in force */
    admit(&w, F, M2);            /* under P1: admitted by F alone */
    /* w.v: 1 admit M1 (F), 2 propose (M1), 3 endorse (F), 4 admit M2 (F) */
    static const size_t orders[3][4] = { { 1, 2, 3, 4 }, { 1, 3, 4, 2 }, { 1, 2, 3, 4 } };
    size_t n = w.n - 1;
    int st[3];
    proto_id pol[3];
    for (size_t batch = 1; batch <= 3; batch++) {   /* one at a time (twice), then all in one batch */
        store *s = replay(&w, orders[batch - 1], n, batch == 3 ? n : 1);
        store_member m;
        assert_int_equal(store_member_get(s, &ids[M2].id, &m), 0);
        st[batch - 1] = m.status;
        pol[batch - 1] = in_force(s).id;
        store_close(s);
    }
    assert_int_equal(st[0], st[1]);
    assert_int_equal(st[0], st[2]);
    assert_memory_equal(pol[0].b, pol[1].b, 32);
    assert_memory_equal(pol[0].b, pol[2].b, 32);
    world_free(&w);
}

/* A former member's membership record within its cut is taken (its log
 * up to the cut is kept), but derives what the replay derives: nothing
 * when its author was no member at its turn.  M3 is expelled by votes
 * naming its seq 2; its leave (seq 1), dated after the votes, arrives
 * after them: the replay has M3 expelled before its leave, so it stays
 * expelled with its cut at 2 — also on the node that took the leave on
 * the incremental path, and on one that took the leave first. */
static void former_member_record_derives_as_replay(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);   /* admission 1, expulsion 2 */
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    admit(&w, F, M3);
    expel(&w, F, M3, 2);
    expel(&w, M1, M3, 2);
    member_op(&w, M3, M3, "leave");
    /* w.v: 1-3 admits, 4 F's vote, 5 M1's vote, 6 M3's leave */
    static const size_t orders[2][6] = { { 1, 2, 3, 4, 5, 6 }, { 1, 2, 3, 6, 4, 5 } };
    for (int o = 0; o < 2; o++) {
        store *s = replay(&w, orders[o], 6, 1);
        store_member m;
        int status = -1;
        uint64_t cut = 0;
        assert_int_equal(store_member_get(s, &ids[M3].id, &m), 0);
        assert_int_equal(m.status, STORE_MEMBER_EXPELLED);
        assert_int_equal(store_member_cut(s, &ids[M3].id, &status, &cut), 0);
        assert_int_equal(cut, 2);
        int changed = -1;
        char err[256];
        assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
        assert_int_equal(changed, 0);   /* the incremental path derived what the replay does */
        store_close(s);
    }
    world_free(&w);
}

/* A member expelled on the incremental path while no proposal is pending
 * on the policy in force: the replay takes its votes from every proposal
 * not in force, a stale one too, so the node that took the expulsion as
 * it came must report the same voters as one that derives the log afresh
 * (what `policy show` prints).  A is in force (M1, F); B, on the genesis,
 * is stale with M2's vote; F and M1 expel M2. */
static void expelled_voter_of_stale_proposal(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);   /* admission 1, expulsion 2 */
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    proto_id a = propose(&w, M1, &w.g, "宇宙", 1);
    endorse(&w, F, &a);          /* 2 of min(2, 3): in force */
    proto_id b = propose(&w, M2, &w.g, "深海", 1);   /* stale: its parent is no longer in force */
    expel(&w, F, M2, 64);
    expel(&w, M1, M2, 64);       /* 2 of 2: expelled */
    size_t n = w.n - 1, order[64];
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 1);   /* in order: the expulsion on the incremental path */
    seen_props sp = { .n = 0 };
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &b)->state, STORE_PROPOSAL_STALE);
    size_t inc = find_prop(&sp, &b)->nend;
    int changed = -1;
    char err[256];
    assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    sp.n = 0;
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &b)->nend, inc);
    store_close(s);
    for (size_t i = 0; i < n; i++)
        order[i] = n - i;
    s = replay(&w, order, n, n);   /* all at once, newest first: one replay */
    sp.n = 0;
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &b)->nend, inc);
    assert_memory_equal(in_force(s).id.b, a.b, 32);
    store_close(s);
    world_free(&w);
}

/* The genesis policy's since is the same on a store that has derived the
 * policy in a replay and on one that has not yet (it reads P0 from the
 * genesis): `policy show` prints it.  A store taking admissions in order
 * never replays; a fresh derivation must not move the date. */
static void genesis_policy_since_same_after_rederive(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    size_t n = w.n - 1, order[64];
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 1);
    store_policy before = in_force(s);
    assert_memory_equal(before.id.b, w.g.b, 32);
    int changed = -1;
    char err[256];
    assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    store_policy after = in_force(s);
    assert_memory_equal(after.id.b, w.g.b, 32);
    assert_int_equal(after.since_ms, before.since_ms);
    store_close(s);
    world_free(&w);
}

/* A member can be expelled at a record that is no expel vote: votes short
 * of the expulsion quorum when cast are recounted at the next record about
 * it, under the quorum in force then.  F and M1 vote to expel M2 under A
 * (expulsion 3): 2 of 3; B lowers the expulsion quorum to 2; M2's address
 * record recounts it: expelled.  The replay takes M2's vote from the stale
 * proposal S at that turn; the node that took the address record as it
 * came must say the same. */
static void expelled_at_address_record(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);   /* admission 1, expulsion 2 */
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    proto_id a = propose_q(&w, F, &w.g, 1, 3);
    endorse(&w, M1, &a);         /* 2 of min(2, 3): in force, expulsion 3 */
    proto_id st = propose(&w, M2, &w.g, "深海", 1);   /* stale */
    expel(&w, F, M2, 64);
    expel(&w, M1, M2, 64);       /* 2 of 3 */
    proto_id b = propose_q(&w, M1, &a, 1, 2);
    endorse(&w, F, &b);
    endorse(&w, M2, &b);         /* 3 of min(3, 3): in force, expulsion 2 */
    address(&w, M2, "198.51.100.7:7400");   /* recounted: 2 of 2, expelled */
    size_t n = w.n - 1, order[64];
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 1);
    store_member m;
    assert_int_equal(store_member_get(s, &ids[M2].id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_EXPELLED);
    assert_memory_equal(in_force(s).id.b, b.b, 32);
    seen_props sp = { .n = 0 };
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &st)->state, STORE_PROPOSAL_STALE);
    size_t inc = find_prop(&sp, &st)->nend;
    int changed = -1;
    char err[256];
    assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
    assert_int_equal(changed, 0);
    sp.n = 0;
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &st)->nend, inc);
    store_close(s);
    world_free(&w);
}

/* STALE says a proposal "can never come into force" (store.h): one
 * amending a proposal still pending is not stale, since its parent may
 * yet come into force and it after it.  B amends A; A is pending (1 of 2)
 * and B holds 2 votes; A's second vote brings A and then B into force. */
static void child_of_pending_is_not_stale(void **state)
{
    world w = { 0 };
    store *src = found(&w, 1);   /* expulsion 2 */
    store_close(src);
    admit(&w, F, M1);
    admit(&w, F, M2);
    proto_id a = propose_q(&w, M1, &w.g, 1, 2);   /* 1 of 2: pending */
    proto_id b = propose(&w, M2, &a, "宇宙", 1);
    endorse(&w, F, &b);          /* 2 votes, waiting for A */
    size_t n = w.n - 1, order[64];
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    store *s = replay(&w, order, n, 1);
    seen_props sp = { .n = 0 };
    assert_int_equal(store_policy_proposals(s, collect_props, &sp), 0);
    assert_int_equal(find_prop(&sp, &a)->state, STORE_PROPOSAL_PENDING);
    int bstate = find_prop(&sp, &b)->state;
    store_close(s);
    endorse(&w, F, &a);          /* A: 2 of 2, and B follows */
    n = w.n - 1;
    for (size_t i = 0; i < n; i++)
        order[i] = i + 1;
    s = replay(&w, order, n, 1);
    assert_memory_equal(in_force(s).id.b, b.b, 32);
    store_close(s);
    world_free(&w);
    assert_int_not_equal(bstate, STORE_PROPOSAL_STALE);   /* it came into force after all */
}

/* ---- randomized: any order, any batching, and prefixes ----
 *
 * Random small logs of admits, expels, leaves, addresses, proposals (on
 * the policy in force, on the genesis, on another proposal; various
 * quorums) and endorsements, made by members active when they write (a
 * store taking them one at a time, in the order made, says who is), some
 * of them backdated.  Every fresh store taking the log in a random order
 * and batching must end with what that store ends with: each identity's
 * entry, the policy in force, every proposal's state, quorum, since and
 * voters; and a fresh derivation (store_member_rederive) must change none
 * of it.  For a log whose records each sort after the ones before, the
 * store's reading after each record is the prefix's history: a later
 * record changes nothing of what came into force before its turn. */

static uint32_t rnd(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return (uint32_t)(*st >> 11);
}

/* Close s (the store made with number no) and remove its files. */
static void store_gone(store *s, int no)
{
    char path[128];
    store_close(s);
    snprintf(path, sizeof path, "%s/s%d", tmpdir, no);
    nftw(path, identities_rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static int status_of(store *s, int who)
{
    store_member m;
    return store_member_get(s, &ids[who].id, &m) == 0 ? m.status : -1;
}

/* A proposal by who on parent: the genesis lists with area `extra` added,
 * both quorums. */
static proto_id propose_x(world *w, int who, const proto_id *parent, const char *extra, uint32_t adm,
                          uint32_t exp)
{
    store_policy p;
    char ph[65], key[64];
    const char *areas[40], *routes[40];
    size_t na = 0, nr = 0;
    memset(&p, 0, sizeof p);
    p.parent = *parent;
    p.admission = adm;
    p.expulsion = exp;
    for (; catalog_areas[na]; na++)
        areas[na] = catalog_areas[na];
    areas[na++] = extra;
    for (; catalog_routes[nr]; nr++)
        routes[nr] = catalog_routes[nr];
    for (size_t i = 0; i < na; i++)
        snprintf(p.areas[i], sizeof p.areas[i], "%s", areas[i]);
    for (size_t i = 0; i < nr; i++)
        snprintf(p.routes[i], sizeof p.routes[i], "%s", routes[i]);
    p.nareas = (uint32_t)na;
    p.nroutes = (uint32_t)nr;
    assert_int_equal(store_policy_proposal_key(&p, key, sizeof key), 0);
    proto_hex(parent->b, 32, ph);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "propose");
    proto_body_str(b, "parent", ph);
    proto_body_int(b, "admission", adm);
    proto_body_int(b, "expulsion", exp);
    proto_body_strs(b, "areas", areas, na);
    proto_body_strs(b, "routes", routes, nr);
    return add(w, who, "policy", key, b);
}

/* What a store says of the log: each identity's entry, the policy in
 * force, every proposal. */
typedef struct {
    proto_id id, parent, proposer;
    uint64_t time_ms, since_ms;
    int state;
    uint32_t quorum;
    size_t nend;
    proto_id end[NIDS];
} fp_prop;
typedef struct {
    int status[NIDS];
    proto_id admitted_by[NIDS];
    uint64_t msince[NIDS];
    uint32_t endorsements[NIDS];
    char addr[NIDS][32];
    store_policy pol;
    size_t nprops;
    fp_prop props[40];
} fprint;

static int fp_prop_cb(void *ctx, const store_proposal *p)
{
    fprint *f = ctx;
    assert_true(f->nprops < 40);
    assert_true(p->nendorsers <= NIDS);
    fp_prop *o = &f->props[f->nprops++];
    memset(o, 0, sizeof *o);
    o->id = p->id;
    o->parent = p->parent;
    o->proposer = p->proposer;
    o->time_ms = p->time_ms;
    o->since_ms = p->policy.since_ms;
    o->state = p->state;
    o->quorum = p->quorum;
    o->nend = p->nendorsers;
    memcpy(o->end, p->endorsers, p->nendorsers * sizeof *p->endorsers);
    return 0;
}

static void fingerprint(store *s, fprint *f)
{
    memset(f, 0, sizeof *f);
    for (int i = 0; i < NIDS; i++) {
        store_member m;
        f->status[i] = -1;
        if (store_member_get(s, &ids[i].id, &m) == 0) {
            f->status[i] = m.status;
            f->admitted_by[i] = m.admitted_by;
            f->msince[i] = m.since_ms;
            f->endorsements[i] = m.endorsements;
            snprintf(f->addr[i], sizeof f->addr[i], "%s", m.address);
        }
    }
    f->pol = in_force(s);
    assert_int_equal(store_policy_proposals(s, fp_prop_cb, f), 0);
}

static const char *const state_name[] = { "in force", "superseded", "pending", "stale" };

/* The log, for a failure's message. */
static void world_dump(const world *w)
{
    for (size_t i = 0; i < w->n; i++) {
        proto_record r;
        char err[256], op[16] = "";
        if (proto_record_decode(w->v[i].b, w->v[i].n, &r, err, sizeof err))
            continue;
        proto_body_copy_str(&r, "op", op, sizeof op);
        proto_id h;
        proto_record_hash(w->v[i].b, w->v[i].n, &h);
        print_message("  %2zu %s seq %llu t+%llu %s %s %.16s.. #%02x%02x\n", i, id_name[w->v[i].who],
                      (unsigned long long)r.seq, (unsigned long long)(r.time_ms ? r.time_ms - 1700000000000ull : 0),
                      r.kind, op, r.key, h.b[0], h.b[1]);
    }
}

static void fp_dump(const char *what, const fprint *f)
{
    print_message(" %s: policy #%02x%02x since %llu adm %u exp %u\n", what, f->pol.id.b[0], f->pol.id.b[1],
                  (unsigned long long)f->pol.since_ms, f->pol.admission, f->pol.expulsion);
    for (int i = 0; i < NIDS; i++)
        print_message("   %s: status %d since %llu endorsements %u addr '%s'\n", id_name[i], f->status[i],
                      (unsigned long long)f->msince[i], f->endorsements[i], f->addr[i]);
    for (size_t i = 0; i < f->nprops; i++)
        print_message("   proposal #%02x%02x on #%02x%02x: %s quorum %u since %llu voters %zu\n",
                      f->props[i].id.b[0], f->props[i].id.b[1], f->props[i].parent.b[0], f->props[i].parent.b[1],
                      f->props[i].state < 4 ? state_name[f->props[i].state] : "?", f->props[i].quorum,
                      (unsigned long long)f->props[i].since_ms, f->props[i].nend);
}

/* NULL when a and b agree, else what differs. */
static const char *fp_diff(const fprint *a, const fprint *b)
{
    for (int i = 0; i < NIDS; i++) {
        if (a->status[i] != b->status[i])
            return "a member's status";
        if (memcmp(&a->admitted_by[i], &b->admitted_by[i], 32) || a->msince[i] != b->msince[i])
            return "a member's admission";
        if (a->endorsements[i] != b->endorsements[i])
            return "a member's endorsements";
        if (strcmp(a->addr[i], b->addr[i]))
            return "a member's address";
    }
    if (memcmp(&a->pol.id, &b->pol.id, 32))
        return "the policy in force";
    if (memcmp(&a->pol, &b->pol, sizeof a->pol))
        return "the policy in force (its since or contents)";
    if (a->nprops != b->nprops)
        return "the number of proposals";
    for (size_t i = 0; i < a->nprops; i++) {
        const fp_prop *x = &a->props[i], *y = &b->props[i];
        if (memcmp(&x->id, &y->id, 32) || memcmp(&x->parent, &y->parent, 32) ||
            memcmp(&x->proposer, &y->proposer, 32) || x->time_ms != y->time_ms)
            return "a proposal's identity (or the proposals' order)";
        if (x->state != y->state)
            return "a proposal's state";
        if (x->quorum != y->quorum)
            return "a proposal's quorum";
        if (x->since_ms != y->since_ms)
            return "a proposal's since";
        if (x->nend != y->nend)
            return "a proposal's number of voters";
        if (memcmp(x->end, y->end, x->nend * sizeof *x->end))
            return "a proposal's voters";
    }
    return NULL;
}

static void fp_same(const fprint *want, const fprint *got, const world *w, uint64_t seed, const char *how)
{
    const char *d = fp_diff(want, got);
    if (!d)
        return;
    print_message("seed %llu, %s: %s differs\n", (unsigned long long)seed, how, d);
    world_dump(w);
    fp_dump("want", want);
    fp_dump("got", got);
    fail_msg("seed %llu, %s: %s differs", (unsigned long long)seed, how, d);
}

/* Apply record i of w to s alone: its result. */
static int apply_one(store *s, const world *w, size_t i)
{
    char err[256];
    proto_record r;
    int res;
    assert_int_equal(proto_record_decode(w->v[i].b, w->v[i].n, &r, err, sizeof err), 0);
    assert_int_equal(proto_record_verify(&r, X509_get0_pubkey(ids[w->v[i].who].cert), err, sizeof err), 0);
    assert_int_equal(store_apply_batch(s, &r, 1, &res, err, sizeof err), 0);
    return res;
}

/* What came into force in a store up to a time, when, with what quorum
 * (the prefix's history), and the policy in force then: the last of that
 * chain. */
typedef struct {
    proto_id pol;
    size_t n;
    struct { proto_id id; uint64_t since; uint32_t quorum; } done[40];
} phist;

static void history_of(const fprint *f, uint64_t upto, const proto_id *genesis, phist *h)
{
    memset(h, 0, sizeof *h);
    h->pol = *genesis;
    for (size_t i = 0; i < f->nprops; i++) {
        const fp_prop *p = &f->props[i];
        if ((p->state == STORE_PROPOSAL_IN_FORCE || p->state == STORE_PROPOSAL_SUPERSEDED) && p->since_ms <= upto) {
            h->done[h->n].id = p->id;
            h->done[h->n].since = p->since_ms;
            h->done[h->n].quorum = p->quorum;
            h->n++;
        }
    }
    /* the chain from the genesis, each one's parent the one before */
    for (int more = 1; more;) {
        more = 0;
        for (size_t i = 0; i < f->nprops; i++) {
            const fp_prop *p = &f->props[i];
            if ((p->state == STORE_PROPOSAL_IN_FORCE || p->state == STORE_PROPOSAL_SUPERSEDED) &&
                p->since_ms <= upto && !memcmp(&p->parent, &h->pol, 32)) {
                h->pol = p->id;
                more = 1;
                break;
            }
        }
    }
}

/* A random log in w: records by members active in `ref` (which takes
 * each as it is made) when they write; backdate: some dated earlier.
 * Each prefix's reading of ref in hist[k] (after the first k+1 records,
 * the genesis first).  0, or -1 when the log is unusable (an author
 * without standing at the end: backdating undid its admission). */
static int gen_world(world *w, uint64_t *st, int backdate, fprint *hist, store **refp, int *refno)
{
    store *src = found(w, 1 + rnd(st) % 2);
    store_close(src);
    size_t g = 0;
    store *ref = replay(w, &g, 0, 1);
    *refp = ref;
    *refno = dirno - 1;
    proto_id props[40];
    size_t nprops = 0, want = 12 + rnd(st) % 40, tries = 0;
    if (hist)
        fingerprint(ref, &hist[0]);
    while (w->n < want && tries++ < 600) {
        int a = (int)(rnd(st) % 4);   /* F, M1, M2, M3 */
        if (status_of(ref, a) != STORE_MEMBER_ACTIVE)
            continue;
        int nact = 0;
        for (int i = 0; i < 4; i++)
            nact += status_of(ref, i) == STORE_MEMBER_ACTIVE;
        w->tover = backdate && rnd(st) % 4 == 0 ? 1700000000000ull + 1 + rnd(st) % w->n : 0;
        uint32_t what = rnd(st) % 100;
        int z = (int)(rnd(st) % 4);
        if (what < 24) {
            int zs = status_of(ref, z);
            if (z == a || (zs != -1 && zs != STORE_MEMBER_PENDING))
                continue;
            admit(w, a, z);
        } else if (what < 32) {
            if (z == a || status_of(ref, z) != STORE_MEMBER_ACTIVE)
                continue;
            expel(w, a, z, 64);   /* beyond any seq: every record of z is within its cut */
        } else if (what < 36) {
            if (nact < 2)
                continue;
            member_op(w, a, a, "leave");
        } else if (what < 42) {
            char ad[32];
            snprintf(ad, sizeof ad, "198.51.100.%u:7400", (unsigned)(rnd(st) % 4));
            address(w, a, ad);
        } else if (what < 64) {
            if (nprops == 40)
                continue;
            proto_id parent;
            uint32_t pk = rnd(st) % 10;
            if (pk < 5 || !nprops)
                parent = in_force(ref).id;
            else if (pk < 7)
                parent = w->g;
            else
                parent = props[rnd(st) % nprops];
            char area[32];
            snprintf(area, sizeof area, "分野%u", (unsigned)(rnd(st) % 6));
            props[nprops++] = propose_x(w, a, &parent, area, 1 + rnd(st) % 3, 1 + rnd(st) % 3);
        } else {
            if (!nprops)
                continue;
            endorse(w, a, &props[rnd(st) % nprops]);
        }
        int res = apply_one(ref, w, w->n - 1);
        if (res != STORE_NEW) {
            /* not taken (it should be): made again otherwise */
            print_message("record by %s not taken: %s\n", id_name[a], store_result_str(res));
            w->n--;
            free(w->v[w->n].b);
            w->seq[a]--;
            fail_msg("a record by an active member was not taken");
        }
        if (hist)
            fingerprint(ref, &hist[w->n - 1]);
    }
    w->tover = 0;
    for (size_t i = 1; i < w->n; i++) {
        int s = status_of(ref, w->v[i].who);
        if (s != STORE_MEMBER_ACTIVE && s != STORE_MEMBER_LEFT && s != STORE_MEMBER_EXPELLED)
            return -1;
    }
    return 0;
}

static void shuffle(size_t *v, size_t n, uint64_t *st)
{
    for (size_t i = n - 1; i > 0 && n; i--) {
        size_t j = rnd(st) % (i + 1), t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void random_logs(void **state, uint64_t seed0, int nworlds, int backdate)
{
    static fprint hist[64];
    int used = 0;
    for (int wi = 0; wi < nworlds; wi++) {
        uint64_t seed = seed0 + (uint64_t)wi, st = seed * 0x9e3779b97f4a7c15ull | 1;
        world w = { 0 };
        store *ref;
        int refno;
        char err[256];
        if (gen_world(&w, &st, backdate, backdate ? NULL : hist, &ref, &refno)) {
            store_gone(ref, refno);
            world_free(&w);
            continue;
        }
        used++;
        fprint want, got;
        fingerprint(ref, &want);
        int changed = -1;
        assert_int_equal(store_member_rederive(ref, &changed, err, sizeof err), 0);
        fingerprint(ref, &got);
        if (changed)
            fp_same(&want, &want, &w, seed, "");
        fp_same(&got, &want, &w, seed, "the store that took the records as made, derived afresh");
        if (changed) {
            world_dump(&w);
            fail_msg("seed %llu: a fresh derivation changed the membership of the store that took the records "
                     "as made", (unsigned long long)seed);
        }
        /* a prefix's history stands when records sorting after it are added */
        if (!backdate)
            for (size_t k = 1; k < w.n; k++) {
                phist before, after;
                history_of(&hist[k], w.v[k].time_ms, &w.g, &before);
                history_of(&want, w.v[k].time_ms, &w.g, &after);
                if (memcmp(&before.pol, &hist[k].pol.id, 32) || memcmp(&before.pol, &after.pol, 32) ||
                    before.n != after.n ||
                    memcmp(before.done, after.done, before.n * sizeof *before.done)) {
                    world_dump(&w);
                    fp_dump("after the prefix", &hist[k]);
                    fp_dump("at the end", &want);
                    fail_msg("seed %llu: records after %zu changed the policy's history up to it",
                             (unsigned long long)seed, k);
                }
            }
        store_gone(ref, refno);
        size_t n = w.n - 1, order[64];
        for (int round = 0; round < 5; round++) {
            for (size_t i = 0; i < n; i++)
                order[i] = i + 1;
            if (round == 1)
                for (size_t i = 0; i < n; i++)
                    order[i] = n - i;
            else if (round > 1)
                shuffle(order, n, &st);
            size_t batch = round == 0 ? n : 1 + rnd(&st) % n;
            /* the signatures were checked as each record was made */
            store *s = open_store(X);
            int no = dirno - 1;
            size_t g = 0;
            apply_in_v(s, &w, &g, 1, 1, 0);
            apply_in_v(s, &w, order, n, batch, 0);
            char how[96];
            snprintf(how, sizeof how, "order %d, batches of %zu", round, batch);
            fingerprint(s, &got);
            fp_same(&want, &got, &w, seed, how);
            changed = -1;
            assert_int_equal(store_member_rederive(s, &changed, err, sizeof err), 0);
            if (changed) {
                world_dump(&w);
                fail_msg("seed %llu, %s: a fresh derivation changed the membership", (unsigned long long)seed, how);
            }
            fingerprint(s, &got);
            snprintf(how, sizeof how, "order %d, batches of %zu, derived afresh", round, batch);
            fp_same(&want, &got, &w, seed, how);
            store_gone(s, no);
        }
        world_free(&w);
    }
    assert_true(used >= nworlds / 2);
}

/* Logs whose records each sort after the ones before (every record is
 * dated when it is made). */
static void random_logs_any_order(void **state)
{
    random_logs(state, RANDOM_SEED0 + 1000, RANDOM_WORLDS, 0);
}

/* Logs with backdated records: the replay's order is not the order they
 * were made in. */
static void random_logs_backdated(void **state)
{
    random_logs(state, RANDOM_SEED0 + 500000, RANDOM_WORLDS, 1);
}

/* The validator: what a policy record may say, on its own. */
static int validate(const char *key, uint32_t flags, proto_body *b, char *err, size_t errlen)
{
    proto_id al, au;
    uint8_t *buf;
    size_t len;
    proto_record r;
    memset(&al, 1, sizeof al);
    memset(&au, 2, sizeof au);
    assert_int_equal(proto_record_sign(&al, &au, "policy", key, 1, 1, flags, b, ids[F].key, &buf, &len, err,
                                       errlen), 0);
    proto_body_free(b);
    assert_int_equal(proto_record_decode(buf, len, &r, err, errlen), 0);
    int rc = kind_of("policy")->validate(&r, err, errlen);
    free(buf);
    return rc;
}

static proto_body *prop_body(const char *parent, int64_t adm, int64_t exp, const char *const *areas, size_t na)
{
    static const char *const routes[] = { "4号随契", "入札" };
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "propose");
    if (parent)
        proto_body_str(b, "parent", parent);
    proto_body_int(b, "admission", adm);
    proto_body_int(b, "expulsion", exp);
    proto_body_strs(b, "areas", areas, na);
    proto_body_strs(b, "routes", routes, 2);
    return b;
}

static void validator(void **state)
{
    char err[256];
    const char *hex64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const char *pk = "proposal/00112233445566778899aabbccddeeff";
    const char *ok[] = { "防災", "宇宙" };
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, ok, 2), err, sizeof err), 0);
    assert_int_equal(validate(pk, PROTO_FLAG_TOMBSTONE, prop_body(hex64, 1, 2, ok, 2), err, sizeof err), -1);
    assert_err_has(err, "cannot be deleted");
    assert_int_equal(validate(pk, 0, prop_body(NULL, 1, 2, ok, 2), err, sizeof err), -1);
    assert_err_has(err, "parent");
    assert_int_equal(validate(pk, 0, prop_body("00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
                                               1, 2, ok, 2), err, sizeof err), -1);
    assert_int_equal(validate(pk, 0, prop_body(hex64, 0, 2, ok, 2), err, sizeof err), -1);
    assert_err_has(err, "admission");
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 1001, ok, 2), err, sizeof err), -1);
    assert_err_has(err, "expulsion");
    const char *sep[] = { "防災、宇宙" }, *dup[] = { "宇宙", "ｳﾁｭｳ", "うちゅう" }, *dup2[] = { "ＡＩ", "ai" };
    const char *sp[] = { " 宇宙" }, *empty[] = { "" };
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, sep, 1), err, sizeof err), -1);
    assert_err_has(err, "区切り文字");
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, dup2, 2), err, sizeof err), -1);
    assert_err_has(err, "twice");
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, dup, 3), err, sizeof err), -1);   /* kana folded */
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, sp, 1), err, sizeof err), -1);
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, empty, 1), err, sizeof err), -1);
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, ok, 0), err, sizeof err), -1);
    const char *many[33];
    char names[33][8];
    for (int i = 0; i < 33; i++) {
        snprintf(names[i], sizeof names[i], "a%d", i);
        many[i] = names[i];
    }
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, many, 32), err, sizeof err), 0);
    assert_int_equal(validate(pk, 0, prop_body(hex64, 1, 2, many, 33), err, sizeof err), -1);
    /* keys */
    assert_int_equal(validate("proposal/x", 0, prop_body(hex64, 1, 2, ok, 2), err, sizeof err), -1);
    proto_body *e = proto_body_new();
    proto_body_str(e, "op", "endorse");
    char ek[80];
    snprintf(ek, sizeof ek, "endorse/%s", hex64);
    assert_int_equal(validate(ek, 0, e, err, sizeof err), 0);
    e = proto_body_new();
    proto_body_str(e, "op", "endorse");
    assert_int_equal(validate("endorse/abc", 0, e, err, sizeof err), -1);
    e = proto_body_new();
    proto_body_str(e, "op", "vote");
    assert_int_equal(validate(ek, 0, e, err, sizeof err), -1);
    assert_err_has(err, "op");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(genesis_policy),
        cmocka_unit_test(any_order_same_policy),
        cmocka_unit_test(whose_votes_count),
        cmocka_unit_test(expelled_votes_go_fewer_members_complete),
        cmocka_unit_test(ready_children_lowest_hash),
        cmocka_unit_test(quorum_counts_members_after_a_rotation),
        cmocka_unit_test(old_store_derives_again_at_open),
        cmocka_unit_test(admission_from_policy),
        cmocka_unit_test(settle_same_any_batching),
        cmocka_unit_test(former_member_record_derives_as_replay),
        cmocka_unit_test(validator),
        cmocka_unit_test(expelled_voter_of_stale_proposal),
        cmocka_unit_test(genesis_policy_since_same_after_rederive),
        cmocka_unit_test(expelled_at_address_record),
        cmocka_unit_test(child_of_pending_is_not_stale),
        cmocka_unit_test(random_logs_any_order),
        cmocka_unit_test(random_logs_backdated),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
