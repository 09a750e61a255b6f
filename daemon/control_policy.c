/*
 * daemon/control_policy.c — control commands for the alliance's policy
 * (store/store_policy.c: the rule; docs/DECISIONS.md):
 *
 *   policy          the policy in force and the proposals that may still
 *                   change it.  Reply: in_force {POLICY, endorsers},
 *                   active (members), quorum (the change quorum now),
 *                   proposals [{POLICY, state: pending|stale, time_ms,
 *                   endorsers}] (at most POLICY_REPLY_PROPOSALS, pending
 *                   first; "truncated" when more), where POLICY is {id,
 *                   parent ("" for the genesis policy), proposer, since_ms,
 *                   admission, expulsion, areas [], routes []} and a member
 *                   is [member id, code, name].
 *   policy_propose  {parent, admission, expulsion, areas [], routes []}: the
 *                   whole new policy; parent must be the policy in force.
 *                   Reply: id (the proposal's hash), in_force (whether this
 *                   node's vote alone brought it into force).
 *   policy_endorse  {proposal}: this member endorses a pending proposal.
 *                   Reply: in_force.
 *
 * The writes go through node_publish like every record of this node.
 */
#include "daemon/control.h"
#include "daemon/control_int.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "proto/frame.h"
#include "proto/mp.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

/* Proposals in one reply: each is at most ~5 KB (two lists of 32 x 64
 * bytes), so the reply stays far below a frame. */
#define POLICY_REPLY_PROPOSALS 200u

/* [member id, code, name] of a member the store knows ("" when it does not). */
static void pack_member_ref(catalogd *d, msgpack_packer *pk, const proto_id *id)
{
    char s[PROTO_ID_STR];
    store_member *m = malloc(sizeof *m);
    int have = m && store_member_get(d->st, id, m) == 0;
    proto_id_str(id, s);
    msgpack_pack_array(pk, 3);
    proto_pack_cstr(pk, s);
    proto_pack_cstr(pk, have ? m->code : "");
    proto_pack_cstr(pk, have ? m->name : "");
    free(m);
}

static void pack_strs(msgpack_packer *pk, const char (*l)[STORE_POLICY_ITEM_MAX + 1], uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        proto_pack_cstr(pk, l[i]);
}

/* The fields of a policy into the map being built. */
static void put_policy(catalogd *d, proto_map *m, const store_policy *p)
{
    char hex[65] = "";
    proto_hex(p->id.b, 32, hex);
    proto_map_put_str(m, "id", hex);
    hex[0] = 0;
    if (!proto_id_is_zero(&p->parent))
        proto_hex(p->parent.b, 32, hex);
    proto_map_put_str(m, "parent", hex);
    proto_map_key(m, "proposer");
    pack_member_ref(d, m->pk, &p->proposer);
    proto_map_put_u64(m, "since_ms", p->since_ms);
    proto_map_put_u64(m, "admission", p->admission);
    proto_map_put_u64(m, "expulsion", p->expulsion);
    proto_map_key(m, "areas");
    pack_strs(m->pk, p->areas, p->nareas);
    proto_map_key(m, "routes");
    pack_strs(m->pk, p->routes, p->nroutes);
}

typedef struct {
    catalogd *d;
    const proto_id *in_force;
    int pass;                 /* 0: the one in force; 1: pending; 2: stale */
    msgpack_sbuffer tmp;      /* the proposals entries */
    msgpack_packer tpk;
    uint32_t n, stale, more;
    msgpack_sbuffer eb;       /* the in-force policy's endorsers */
    msgpack_packer epk;
    int have_endorsers;
    uint32_t quorum;
} policy_show_ctx;

static void pack_endorsers(catalogd *d, msgpack_packer *pk, const store_proposal *p)
{
    msgpack_pack_array(pk, p->nendorsers);
    for (size_t i = 0; i < p->nendorsers; i++)
        pack_member_ref(d, pk, &p->endorsers[i]);
}

static int show_cb(void *ctx, const store_proposal *p)
{
    policy_show_ctx *c = ctx;
    c->quorum = p->quorum;
    if (c->pass == 0) {
        if (p->state == STORE_PROPOSAL_IN_FORCE) {
            pack_endorsers(c->d, &c->epk, p);
            c->have_endorsers = 1;
        }
        return 0;
    }
    int want = c->pass == 1 ? STORE_PROPOSAL_PENDING : STORE_PROPOSAL_STALE;
    if (p->state != want)
        return 0;
    if (c->n >= POLICY_REPLY_PROPOSALS) {
        c->more++;
        return 0;
    }
    proto_map e;
    proto_map_begin(&e, &c->tpk);
    put_policy(c->d, &e, &p->policy);
    proto_map_put_str(&e, "state", want == STORE_PROPOSAL_PENDING ? "pending" : "stale");
    proto_map_put_u64(&e, "time_ms", p->time_ms);
    proto_map_key(&e, "endorsers");
    pack_endorsers(c->d, &c->tpk, p);
    proto_map_end(&e);
    c->n++;
    return 0;
}

static int policy_count_cb(void *ctx, const store_member *m)
{
    if (m->status == STORE_MEMBER_ACTIVE)
        ++*(size_t *)ctx;
    return 0;
}

static size_t count_active(catalogd *d)
{
    size_t n = 0;
    store_members(d->st, policy_count_cb, &n);
    return n;
}

/* The change quorum now (as store_policy.c counts it). */
static uint32_t policy_quorum_now(catalogd *d, const store_policy *p)
{
    size_t active = count_active(d);
    uint32_t q = p->expulsion;
    if (active < q)
        q = (uint32_t)active;
    return q ? q : 1;
}

int policy_cmd_show(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    store_policy *p = malloc(sizeof *p);
    policy_show_ctx c = { .d = d };
    proto_map m;
    int rc = 0;
    if (!p)
        return proto_err(err, errlen, "out of memory");
    if (store_policy_in_force(d->st, p)) {
        free(p);
        return proto_err(err, errlen, "this node belongs to no alliance yet");
    }
    c.in_force = &p->id;
    c.quorum = policy_quorum_now(d, p);
    msgpack_sbuffer_init(&c.tmp);
    msgpack_packer_init(&c.tpk, &c.tmp, msgpack_sbuffer_write);
    msgpack_sbuffer_init(&c.eb);
    msgpack_packer_init(&c.epk, &c.eb, msgpack_sbuffer_write);
    for (c.pass = 0; c.pass < 3 && rc == 0; c.pass++)
        rc = store_policy_proposals(d->st, show_cb, &c);
    if (rc) {
        rc = proto_err(err, errlen, "store unavailable");
        goto done;
    }
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_key(&m, "in_force");
    {
        proto_map e;
        proto_map_begin(&e, pk);
        put_policy(d, &e, p);
        proto_map_key(&e, "endorsers");
        if (c.have_endorsers) {
            msgpack_sbuffer_write(pk->data, c.eb.data, c.eb.size);
        } else {
            /* the genesis policy: its founder's */
            msgpack_pack_array(pk, 1);
            pack_member_ref(d, pk, &p->proposer);
        }
        proto_map_end(&e);
    }
    proto_map_put_u64(&m, "active", count_active(d));
    proto_map_put_u64(&m, "quorum", c.quorum);
    proto_map_key(&m, "proposals");
    msgpack_pack_array(pk, c.n);
    if (c.tmp.size)
        msgpack_sbuffer_write(pk->data, c.tmp.data, c.tmp.size);
    if (c.more)
        proto_map_put_bool(&m, "truncated", 1);
    if (proto_map_end(&m))
        rc = proto_err(err, errlen, "out of memory");
done:
    msgpack_sbuffer_destroy(&c.tmp);
    msgpack_sbuffer_destroy(&c.eb);
    free(p);
    return rc;
}

/* ---- writes ---- */

/* A list of strings from the request into l. */
static int req_list(const uint8_t *req, size_t len, const char *name, char (*l)[STORE_POLICY_ITEM_MAX + 1],
                    uint32_t *n, char *err, size_t errlen)
{
    proto_rd r;
    if (proto_map_find(req, len, name, &r) || proto_rd_array(&r, n))
        return proto_err(err, errlen, "policy_propose needs %s (a list)", name);
    if (*n == 0 || *n > STORE_POLICY_LIST_MAX)
        return proto_err(err, errlen, "%s: 1 to %u items", name, STORE_POLICY_LIST_MAX);
    for (uint32_t i = 0; i < *n; i++)
        if (proto_rd_strcpy(&r, l[i], STORE_POLICY_ITEM_MAX + 1))
            return proto_err(err, errlen, "%s: item %u is not a string of at most %u bytes", name, i + 1,
                             STORE_POLICY_ITEM_MAX);
    return 0;
}

static int lists_equal(const char (*a)[STORE_POLICY_ITEM_MAX + 1], uint32_t na,
                       const char (*b)[STORE_POLICY_ITEM_MAX + 1], uint32_t nb)
{
    if (na != nb)
        return 0;
    for (uint32_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]))
            return 0;
    return 1;
}

/* Whether the policy in force is now the one with id h. */
static int in_force_is(catalogd *d, const proto_id *h)
{
    store_policy *p = malloc(sizeof *p);
    int r = p && store_policy_in_force(d->st, p) == 0 && !memcmp(&p->id, h, 32);
    free(p);
    return r;
}

int policy_cmd_propose(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    store_policy *cur = malloc(sizeof *cur), *np = calloc(1, sizeof *np);
    char ph[80], key[64], hex[65];
    uint64_t a, e;
    int rc = -1;
    if (!cur || !np) {
        proto_err(err, errlen, "out of memory");
        goto done;
    }
    if (store_policy_in_force(d->st, cur)) {
        proto_err(err, errlen, "this node belongs to no alliance yet");
        goto done;
    }
    if (proto_map_str(req, len, "parent", ph, sizeof ph) || strlen(ph) != 64 ||
        proto_unhex(ph, np->parent.b, 32)) {
        proto_err(err, errlen, "policy_propose needs parent (the hash of the policy in force)");
        goto done;
    }
    proto_hex(np->parent.b, 32, ph);   /* as the record must hold it: lowercase */
    if (memcmp(&np->parent, &cur->id, 32)) {
        proto_hex(cur->id.b, 32, hex);
        proto_err(err, errlen, "the policy in force is %.16s now, not %.16s: look at 'policy show' "
                  "and propose again", hex, ph);
        goto done;
    }
    if (proto_map_u64(req, len, "admission", &a) || a < 1 || a > STORE_QUORUM_MAX ||
        proto_map_u64(req, len, "expulsion", &e) || e < 1 || e > STORE_QUORUM_MAX) {
        proto_err(err, errlen, "admission and expulsion must be 1 to %u", STORE_QUORUM_MAX);
        goto done;
    }
    np->admission = (uint32_t)a;
    np->expulsion = (uint32_t)e;
    if (req_list(req, len, "areas", np->areas, &np->nareas, err, errlen) ||
        req_list(req, len, "routes", np->routes, &np->nroutes, err, errlen))
        goto done;
    if (np->admission == cur->admission && np->expulsion == cur->expulsion &&
        lists_equal((const char (*)[STORE_POLICY_ITEM_MAX + 1])np->areas, np->nareas,
                    (const char (*)[STORE_POLICY_ITEM_MAX + 1])cur->areas, cur->nareas) &&
        lists_equal((const char (*)[STORE_POLICY_ITEM_MAX + 1])np->routes, np->nroutes,
                    (const char (*)[STORE_POLICY_ITEM_MAX + 1])cur->routes, cur->nroutes)) {
        proto_err(err, errlen, "that is the policy in force: nothing to propose");
        goto done;
    }
    if (store_policy_proposal_key(np, key, sizeof key)) {
        proto_err(err, errlen, "proposal key");
        goto done;
    }
    proto_body *b = proto_body_new();
    const char *areas[STORE_POLICY_LIST_MAX + 1], *routes[STORE_POLICY_LIST_MAX + 1];
    store_policy_vocab(np, areas, routes);
    proto_body_str(b, "op", "propose");
    proto_body_str(b, "parent", ph);
    proto_body_int(b, "admission", np->admission);
    proto_body_int(b, "expulsion", np->expulsion);
    proto_body_strs(b, "areas", areas, np->nareas);
    proto_body_strs(b, "routes", routes, np->nroutes);
    uint8_t *out = NULL;
    size_t ol = 0;
    /* the validator (store_policy_validate) runs on the write: lists and
     * ranges are checked there, with its message */
    rc = node_publish_one(d, "policy", key, 0, b, &out, &ol, err, errlen);
    proto_body_free(b);
    if (rc)
        goto done;
    proto_id h;
    proto_record_hash(out, ol, &h);
    free(out);
    proto_hex(h.b, 32, hex);
    log_info(d, "proposed policy %s (amends %.16s)", hex, ph);
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_str(&m, "id", hex);
    proto_map_put_bool(&m, "in_force", in_force_is(d, &h));
    proto_map_end(&m);
done:
    free(cur);
    free(np);
    return rc;
}

typedef struct {
    proto_id want;
    int found, state;
    int mine;           /* this node's vote counts already */
    const proto_id *self;
} find_prop;

static int policy_find_cb(void *ctx, const store_proposal *p)
{
    find_prop *f = ctx;
    if (memcmp(&p->id, &f->want, 32))
        return 0;
    f->found = 1;
    f->state = p->state;
    for (size_t i = 0; i < p->nendorsers; i++)
        if (!memcmp(&p->endorsers[i], f->self, 32))
            f->mine = 1;
    return 1;
}

int policy_cmd_endorse(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    char hex[80], key[80];
    find_prop f = { .self = &d->id.id };
    if (proto_map_str(req, len, "proposal", hex, sizeof hex) || strlen(hex) != 64 ||
        proto_unhex(hex, f.want.b, 32))
        return proto_err(err, errlen, "policy_endorse needs proposal (its hash: 64 hex digits)");
    if (store_policy_proposals(d->st, policy_find_cb, &f))
        return proto_err(err, errlen, "store unavailable");
    if (!f.found)
        return proto_err(err, errlen, "no proposal %s is held here (not yet received?)", hex);
    if (f.state == STORE_PROPOSAL_IN_FORCE || f.state == STORE_PROPOSAL_SUPERSEDED)
        return proto_err(err, errlen, "proposal %.16s is in force already", hex);
    if (f.state == STORE_PROPOSAL_STALE)
        return proto_err(err, errlen, "proposal %.16s amends a policy that is not in force: it can never "
                         "come into force (propose again against the policy in force)", hex);
    if (f.mine)
        return proto_err(err, errlen, "this member's vote for proposal %.16s counts already", hex);
    proto_hex(f.want.b, 32, hex);   /* lowercase, as the key must be */
    snprintf(key, sizeof key, "endorse/%s", hex);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "endorse");
    int rc = node_publish_one(d, "policy", key, 0, b, NULL, NULL, err, errlen);
    proto_body_free(b);
    if (rc)
        return -1;
    log_info(d, "endorsed policy proposal %s", hex);
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_bool(&m, "in_force", in_force_is(d, &f.want));
    proto_map_end(&m);
    return 0;
}
