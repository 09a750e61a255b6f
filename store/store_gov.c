/*
 * store/store_gov.c — the governance rules that sit beside the member
 * records (store_member.c): the admission quorum in force, who endorsed a
 * pending newcomer, and the last seq of a former member's log that every
 * node accepts (its cut; docs/DECISIONS.md, "Records of former members").
 *
 * The cut of a member that left is the seq of its own leave record; of an
 * expelled member, the highest seq the expel votes about it name (each
 * voter names the seq of the member it held when it voted).  It is kept in
 * meta as "cut:" + the member id in hex, 8 bytes big-endian.
 */
#include "store/store_int.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

static int count_active(void *ctx, const store_member *m)
{
    *(uint32_t *)ctx += m->status == STORE_MEMBER_ACTIVE;
    return 0;
}

int members_active_txn(store *s, MDB_txn *txn, uint32_t *n)
{
    MDB_cursor *c;
    MDB_val k, v;
    *n = 0;
    if (mdb_cursor_open(txn, s->members, &c))
        return -1;
    int op = MDB_FIRST;
    while (mdb_cursor_get(c, &k, &v, op) == 0) {
        store_member m;
        op = MDB_NEXT;
        if (k.mv_size == 32 && member_get_txn(s, txn, k.mv_data, &m) == 0)
            count_active(n, &m);
    }
    mdb_cursor_close(c);
    return 0;
}

uint32_t member_quorum_txn(store *s, MDB_txn *txn, uint32_t admission)
{
    uint32_t active = 0;
    if (s->nactive_ok) {
        active = s->nactive;
        goto have;
    }
    if (members_active_txn(s, txn, &active) == 0) {
        s->nactive = active;
        s->nactive_ok = 1;
    }
have:
    if (active < 1)
        active = 1;
    return admission < active ? admission : active;
}

int store_member_quorum(store *s, uint32_t *admission, uint32_t *needed)
{
    MDB_txn *txn;
    uint32_t expulsion;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    policy_quorums_txn(s, txn, admission, &expulsion);   /* the policy in force */
    *needed = member_quorum_txn(s, txn, *admission);
    mdb_txn_abort(txn);
    return 0;
}

int store_member_endorsers(store *s, const proto_id *id, store_member_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k = { 32, (void *)id->b }, v;
    store_member *em = malloc(sizeof *em);
    int rc = 0;
    if (!em || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) {
        free(em);
        return -1;
    }
    if (mdb_cursor_open(txn, s->endorse, &c) == 0) {
        int got = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && got == 0 && k.mv_size == 64 && memcmp(k.mv_data, id->b, 32) == 0) {
            /* the votes that count: admits by members active now */
            if (v.mv_size == 1 && *(uint8_t *)v.mv_data == MEMBER_OP_ADMIT &&
                member_get_txn(s, txn, (const proto_id *)((uint8_t *)k.mv_data + 32), em) == 0 &&
                em->status == STORE_MEMBER_ACTIVE)
                rc = cb(ctx, em);
            got = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    free(em);
    return rc;
}

/* ---- former members' cuts ---- */

static void cut_name(const proto_id *id, char name[70])
{
    memcpy(name, "cut:", 4);
    proto_hex(id->b, 32, name + 4);
}

static int cut_get_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t *cut)
{
    char name[70];
    uint8_t b[8];
    size_t n = 8;
    cut_name(id, name);
    if (meta_get_txn(s, txn, name, b, &n) || n != 8)
        return -1;
    *cut = get_be64(b);
    return 0;
}

int member_cuts_clear_txn(store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    int rc;
    if (mdb_cursor_open(txn, s->meta, &c))
        return -1;
    for (;;) {   /* seek the first "cut:" key again after each delete */
        MDB_val k = { 4, "cut:" }, v;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < 4 || memcmp(k.mv_data, "cut:", 4))
            break;
        if ((rc = mdb_cursor_del(c, 0)))
            break;
    }
    mdb_cursor_close(c);
    return rc && rc != MDB_NOTFOUND ? -1 : 0;
}

int member_cut_note_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t seq, int raise_only)
{
    uint64_t have;
    s->former_dirty = 1;   /* the log beyond the cut is placed before commit */
    if (raise_only && cut_get_txn(s, txn, id, &have) == 0 && have >= seq)
        return 0;
    char name[70];
    uint8_t b[8];
    cut_name(id, name);
    put_be64(b, seq);
    return meta_put_txn(s, txn, name, b, 8) ? -1 : 0;
}

EVP_PKEY *former_key_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t seq, int *status,
                         uint64_t *cut)
{
    store_member *m = malloc(sizeof *m);
    EVP_PKEY *k = NULL;
    *status = 0;
    *cut = 0;
    if (m && member_get_txn(s, txn, id, m) == 0 &&
        (m->status == STORE_MEMBER_LEFT || m->status == STORE_MEMBER_EXPELLED)) {
        *status = m->status;
        cut_get_txn(s, txn, id, cut);   /* none: 0, nothing more is accepted */
        if (seq <= *cut)
            k = key_of_member_at_txn(s, txn, m, seq);   /* its key at that seq (rotations) */
    }
    free(m);
    return k;
}

/* ---- a former member's records beyond its cut: kept apart ---- */

/* meta "PFX:ID" (PFX four letters: farr, rarr), an author's versions
 * taken apart under one of the arrival budgets */
static void count_name(const char *pfx, const proto_id *id, char name[70])
{
    memcpy(name, pfx, 4);
    name[4] = ':';
    proto_hex(id->b, 32, name + 5);
}

uint64_t arrivals_count_txn(store *s, MDB_txn *txn, const char *pfx, const proto_id *id)
{
    char name[70];
    uint8_t b[8];
    size_t l = sizeof b;
    count_name(pfx, id, name);
    return meta_get_txn(s, txn, name, b, &l) == 0 && l == 8 ? get_be64(b) : 0;
}

int arrivals_bump_txn(store *s, MDB_txn *txn, const char *pfx, const proto_id *id)
{
    char name[70];
    uint8_t b[8];
    count_name(pfx, id, name);
    put_be64(b, arrivals_count_txn(s, txn, pfx, id) + 1);
    return meta_put_txn(s, txn, name, b, 8);
}

uint64_t former_arrivals_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    return arrivals_count_txn(s, txn, "farr", id);
}

int former_arrival_count_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    return arrivals_bump_txn(s, txn, "farr", id);
}

int former_arrival_txn(store *s, MDB_txn *txn, const proto_record *r, uint64_t cut, EVP_PKEY **key, int *dup)
{
    proto_id h;
    int held = 0;
    *dup = 0;
    if (key)
        *key = NULL;
    if (r->seq - cut > STORE_FORMER_APART_SEQS)
        return 0;   /* beyond what is kept of it */
    proto_record_hash(r->raw, r->raw_len, &h);
    if (apart_rank_txn(s, txn, &r->author, r->seq, &h, &held) >= STORE_APART_SEQ_VERSIONS && !held)
        return 0;   /* lower hashes fill the seq */
    if (held) {
        *dup = 1;
        return 1;
    }
    if (former_arrivals_txn(s, txn, &r->author) >= STORE_FORMER_ARRIVALS_MAX)
        return 0;   /* it flooded: refused as before, no signature check */
    store_member *m = malloc(sizeof *m);
    EVP_PKEY *k = m && member_get_txn(s, txn, &r->author, m) == 0 ? key_of_member_at_txn(s, txn, m, r->seq) : NULL;
    free(m);
    if (!k)
        return 0;
    if (key)
        *key = k;
    else
        EVP_PKEY_free(k);
    return 1;
}

/* The former members as placed (meta fclip:ID -> be64 cut) or as derived
 * now (the members table, their cuts). */
typedef struct {
    proto_id id;
    uint64_t cut;
} fclip;

typedef struct {
    fclip *v;
    size_t n, cap;
} fclips;

static int fclips_add(fclips *l, const proto_id *id, uint64_t cut)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 8;
        fclip *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].id = *id;
    l->v[l->n++].cut = cut;
    return 0;
}

static const fclip *fclips_find(const fclips *l, const proto_id *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (!memcmp(&l->v[i].id, id, 32))
            return &l->v[i];
    return NULL;
}

static void fclip_name(const proto_id *id, char name[71])
{
    memcpy(name, "fclip:", 6);
    proto_hex(id->b, 32, name + 6);
}

int former_any_txn(store *s, MDB_txn *txn)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->meta, &c))
        return 1;   /* cannot tell: yes */
    MDB_val k = { 6, "fclip:" }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    int any = rc == 0 && k.mv_size >= 6 && !memcmp(k.mv_data, "fclip:", 6);
    mdb_cursor_close(c);
    return any || (rc && rc != MDB_NOTFOUND);
}

static int placed_list(store *s, MDB_txn *txn, fclips *out)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->meta, &c))
        return -1;
    MDB_val k = { 6, "fclip:" }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), ret = 0;
    for (; rc == 0 && k.mv_size >= 6 && !memcmp(k.mv_data, "fclip:", 6); rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        proto_id id;
        if (k.mv_size != 70 || v.mv_size != 8 || proto_unhex((const char *)k.mv_data + 6, id.b, 32))
            continue;
        if (fclips_add(out, &id, get_be64(v.mv_data))) {
            ret = -1;
            break;
        }
    }
    mdb_cursor_close(c);
    return ret || (rc && rc != MDB_NOTFOUND) ? -1 : 0;
}

static int derived_list(store *s, MDB_txn *txn, fclips *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    store_member *m = malloc(sizeof *m);
    int ret = 0;
    if (!m || mdb_cursor_open(txn, s->members, &c)) {
        free(m);
        return -1;
    }
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t cut = 0;
        if (k.mv_size != 32 || member_get_txn(s, txn, k.mv_data, m) ||
            (m->status != STORE_MEMBER_LEFT && m->status != STORE_MEMBER_EXPELLED))
            continue;
        cut_get_txn(s, txn, &m->id, &cut);   /* none: 0, nothing more is accepted */
        if (fclips_add(out, &m->id, cut)) {
            ret = -1;
            break;
        }
    }
    mdb_cursor_close(c);
    free(m);
    return ret;
}

int former_settle_txn(store *s, MDB_txn *txn, int force, int *moved)
{
    int ch = 0;
    if (moved)
        *moved = 0;
    if (!s->former_dirty && !force)
        return 0;
    fclips was = { 0 }, now = { 0 };
    int ret = -1;
    if ((!force && placed_list(s, txn, &was)) || derived_list(s, txn, &now))
        goto out;
    /* a member again: its records after the old cut come back (judged
     * under its keys now) */
    for (size_t i = 0; i < was.n; i++) {
        char name[71];
        if (fclips_find(&now, &was.v[i].id))
            continue;
        fclip_name(&was.v[i].id, name);
        MDB_val k = { 70, name };
        int rc = mdb_del(txn, s->meta, &k, NULL);
        /* and a departure later starts a new budget of arrivals, as on a
         * store that never saw this one */
        char an[70];
        count_name("farr", &was.v[i].id, an);
        MDB_val ak = { 69, an };
        int arc = rc && rc != MDB_NOTFOUND ? rc : mdb_del(txn, s->meta, &ak, NULL);
        rc = arc == MDB_NOTFOUND ? 0 : arc;
        if ((rc && rc != MDB_NOTFOUND) ||
            log_rejudge_author_txn(s, txn, &was.v[i].id, was.v[i].cut + 1, NULL, NULL, &ch))
            goto out;
        if (moved)
            *moved |= ch;
    }
    /* former now: its log ends at its cut (from the lower of the old and
     * the new cut on, so a cut that rose takes its records back) */
    for (size_t i = 0; i < now.n; i++) {
        const fclip *o = fclips_find(&was, &now.v[i].id);
        uint64_t cut = now.v[i].cut, from = o && o->cut < cut ? o->cut : cut;
        if (o && o->cut == cut && vv_get_txn(s, txn, &now.v[i].id) <= cut)
            continue;   /* placed so already */
        char name[71];
        uint8_t b[8];
        fclip_name(&now.v[i].id, name);
        put_be64(b, cut);
        if (log_rejudge_author_txn(s, txn, &now.v[i].id, from + 1, NULL, NULL, &ch) ||
            former_apart_bound_txn(s, txn, &now.v[i].id, cut) || meta_put_txn(s, txn, name, b, 8))
            goto out;
        if (moved)
            *moved |= ch;
    }
    s->former_dirty = 0;
    ret = 0;
out:
    free(was.v);
    free(now.v);
    return ret;
}

int store_member_cut(store *s, const proto_id *id, int *status, uint64_t *cut)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    EVP_PKEY *k = former_key_txn(s, txn, id, 0, status, cut);
    EVP_PKEY_free(k);
    mdb_txn_abort(txn);
    return 0;
}

const char *store_member_mark(int status)
{
    return status == STORE_MEMBER_LEFT ? "（脱退）" : status == STORE_MEMBER_EXPELLED ? "（除名）" : "";
}
