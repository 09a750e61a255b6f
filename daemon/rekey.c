/* daemon/rekey.c — the node's side of a rekey by quorum; see rekey.h. */
#include "daemon/rekey.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "proto/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the store ----
 *
 * The store derives epochs, proposals and decisions in its membership
 * replay (store/store_rekey.c) and hands them out with store_member_rekeys;
 * this is the one place that reads them. */

typedef struct { const proto_id *x; uint32_t n; } active_count;

static int count_active(void *ctx, const store_member *m)
{
    active_count *c = ctx;
    if (m->status == STORE_MEMBER_ACTIVE && memcmp(&m->id, c->x, 32))
        c->n++;
    return 0;
}

typedef struct { rekey_view *v; uint32_t gen; uint64_t open_cut; } view_fill;

static void copy_voters(rekey_view *v, rekey_voter *to, size_t *n, const store_rekey *k)
{
    *n = 0;
    for (size_t i = 0; i < k->nvoters && *n < REKEY_VIEW_MAX; i++)
        to[(*n)++] = (rekey_voter){ k->voters[i], 0 };
    if (k->nvoters_all > *n)
        v->cut = 1;
}

static int fill_view(void *ctx, const store_rekey *k)
{
    view_fill *f = ctx;
    rekey_view *v = f->v;
    if (k->more)
        v->cut = 1;   /* the store kept no more of this kind */
    if (k->what == STORE_REKEY_DECIDED && v->ndec < sizeof v->dec / sizeof v->dec[0]) {
        rekey_decision *d = &v->dec[v->ndec++];
        d->gen = k->gen;
        d->cut = k->cut;
        d->key = k->key_id;
        d->decided_ms = k->time_ms;
        copy_voters(v, d->voters, &d->nvoters, k);
        d->nvotes = k->nvoters_all;
    } else if (k->what == STORE_REKEY_PROPOSAL && v->nprops < REKEY_VIEW_MAX) {
        rekey_proposal *p = &v->props[v->nprops++];
        p->key = k->key_id;
        copy_voters(v, p->voters, &p->nvoters, k);
        p->nvotes = k->nvoters_all;
        v->open = 1;
        v->opened_by = k->by;   /* the epoch's first vote */
        if (k->quorum)
            v->quorum = k->quorum;
    } else if (k->what == STORE_REKEY_STALE && v->nstale < REKEY_VIEW_MAX) {
        rekey_stale *e = &v->stale[v->nstale++];
        e->by = k->by;
        e->key = k->key_id;
        e->seq = k->by_seq;
        e->time_ms = k->time_ms;
        e->cut = k->cut;
        e->gen = k->gen;
        e->why = k->gen != f->gen ? "世代が違う（その後に決まった再発行より前の投票）"
                 : f->open_cut && k->cut != f->open_cut ? "最初の投票が固定した時点と違う"
                 : "数えられない（鍵がこの団体に使えないか、投票した団体または対象が加盟中でない）";
    } else {
        v->cut = 1;   /* past this view's room for its kind */
    }
    return 0;
}

int rekey_view_get(store *st, const proto_id *x, rekey_view *v)
{
    memset(v, 0, sizeof *v);
    view_fill f = { .v = v };
    /* g(X) and the open cut first: stale votes are told apart by them */
    if (store_member_rekeys(st, x, &f.gen, &f.open_cut, NULL, NULL) < 0)
        return -1;
    if (store_member_rekeys(st, x, &v->gen, &v->open_cut, fill_view, &f) < 0)
        return -1;
    v->open = v->open_cut != 0;
    if (!v->quorum) {
        /* no proposal to carry it: max(2, min(expulsion quorum, active members other than X)) */
        store_policy *pol = malloc(sizeof *pol);
        uint32_t exq = STORE_REKEY_VOTERS_MIN;
        if (pol && store_policy_in_force(st, pol) == 0)
            exq = pol->expulsion;
        free(pol);
        active_count ac = { x, 0 };
        store_members(st, count_active, &ac);
        uint32_t q = exq < ac.n ? exq : ac.n;
        v->quorum = q < STORE_REKEY_VOTERS_MIN ? STORE_REKEY_VOTERS_MIN : q;
    }
    return 0;
}

/* ---- naming a member ---- */

typedef struct {
    const char *s;
    proto_id id, fid;   /* the active member found, the former one found */
    int found, former, fstatus;
} name_find;

static int find_name(void *ctx, const store_member *m)
{
    name_find *f = ctx;
    if (strcmp(m->code, f->s) && strcmp(m->name, f->s))
        return 0;
    if (m->status == STORE_MEMBER_ACTIVE) {
        f->id = m->id;
        f->found++;
    } else if (m->status == STORE_MEMBER_LEFT || m->status == STORE_MEMBER_EXPELLED) {
        f->fid = m->id;
        f->fstatus = m->status;
        f->former++;
    }
    return 0;
}

int rekey_member_ref_ex(store *st, const char *s, int former, proto_id *out, char *err, size_t errlen)
{
    if (proto_id_parse(s, out) == 0)
        return 0;
    name_find f = { .s = s };
    store_members(st, find_name, &f);
    if (f.found == 1) {
        *out = f.id;
        return 0;
    }
    if (f.found > 1)
        return proto_err(err, errlen, "「%s」に当たる加盟団体が複数あります。member id で指定してください", s);
    /* a code or name only former members bear (a municipality that left
     * and came back with a new key is the active one above) */
    if (f.former == 1 && former) {
        *out = f.fid;
        return 0;
    }
    if (f.former > 1 && former)
        return proto_err(err, errlen, "「%s」に当たる脱退または除名した団体が %d 件あります。member id で指定してください",
                         s, f.former);
    if (f.former > 1)
        return proto_err(err, errlen, "「%s」に当たる団体はもう加盟していません（脱退または除名した団体が %d 件あります。"
                         "member id で指定してください）", s, f.former);
    if (f.former == 1) {
        char id[PROTO_ID_STR];
        proto_id_str(&f.fid, id);
        return proto_err(err, errlen, "「%s」の団体はもう加盟していません（%s。member id %s）",
                         s, f.fstatus == STORE_MEMBER_LEFT ? "脱退しています" : "除名されています", id);
    }
    return proto_err(err, errlen, "加盟団体「%s」は見つかりません（member id、団体コードか団体名で指定してください）", s);
}

int rekey_member_ref(store *st, const char *s, proto_id *out, char *err, size_t errlen)
{
    return rekey_member_ref_ex(st, s, 0, out, err, errlen);
}

/* ---- the vote ---- */

int rekey_cmd(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    char target[256] = "", reason[REKEY_REASON_MAX + 1] = "", why[256], xs[PROTO_ID_STR], ks[PROTO_ID_STR];
    proto_rd r;
    const uint8_t *cert;
    uint32_t cl;
    uint64_t cut = 0;
    proto_id x;
    store_member m;
    if (proto_map_str(req, len, "member", target, sizeof target) || !target[0])
        return proto_err(err, errlen, "鍵を再発行する加盟団体を指定してください");
    if (rekey_member_ref(d->st, target, &x, err, errlen))
        return -1;
    if (proto_map_str(req, len, "reason", reason, sizeof reason) || !reason[0])
        return proto_err(err, errlen, "--reason で理由を書いてください（1〜%d バイト）", REKEY_REASON_MAX);
    int has_cut = proto_map_u64(req, len, "cut", &cut) == 0;
    if (proto_map_find(req, len, "cert", &r) || proto_rd_bin(&r, &cert, &cl))
        return proto_err(err, errlen, "新しい鍵の証明書がありません");
    proto_id_str(&x, xs);
    if (!memcmp(&x, &d->id.id, 32))
        return proto_err(err, errlen, "%s はこのノード自身です。自分の鍵の再発行には投票できません"
                         "（鍵を替えるには catalogctl key rotate）", xs);
    int got = store_member_get(d->st, &x, &m);
    if (got < 0)
        return proto_err(err, errlen, "ストアを読めません");
    if (got == 1)
        return proto_err(err, errlen, "加盟団体 %s はこのノードでは知られていません", xs);
    if (m.status != STORE_MEMBER_ACTIVE)
        return proto_err(err, errlen, "%s %s は加盟中ではありません（%s）。鍵の再発行は加盟中の団体だけです",
                         m.code, m.name, m.status == STORE_MEMBER_PENDING ? "承認待ち" : m.status == STORE_MEMBER_LEFT ? "脱退" : "除名");
    certs_identity k;
    if (certs_parse(cert, cl, &k, why, sizeof why))
        return proto_err(err, errlen, "新しい鍵のファイルは証明書ではありません: %s", why);
    proto_id owner, cur;
    int kst = store_key_owner(d->st, &k.id, &owner);
    int refused = 1;
    if (store_key_current(d->st, &x, &cur, NULL) == 0 && !memcmp(&cur, &k.id, 32))
        proto_err(err, errlen, "その証明書は %s %s のいまの鍵です。新しく作った鍵の証明書を指定してください",
                  m.code, m.name);
    else if ((kst == STORE_KEY_CURRENT || kst == STORE_KEY_RETIRED) && !memcmp(&owner, &x, 32))
        proto_err(err, errlen, "その証明書は %s %s が前に使っていた鍵です。新しく作った鍵の証明書を指定してください",
                  m.code, m.name);
    else if (kst == STORE_KEY_CURRENT || kst == STORE_KEY_RETIRED) {
        store_member om;
        if (store_member_get(d->st, &owner, &om) == 0)
            proto_err(err, errlen, "その証明書は別の加盟団体 %s %s の鍵です", om.code, om.name);
        else
            proto_err(err, errlen, "その証明書は別の加盟団体の鍵です");
    } else if (strcmp(k.code, m.code))
        proto_err(err, errlen, "証明書の団体コード %s が %s %s の団体コードと違います", k.code, m.code, m.name);
    else
        refused = 0;
    if (refused) {
        certs_free(&k);
        return -1;
    }
    rekey_view *v = malloc(sizeof *v);
    if (!v || rekey_view_get(d->st, &x, v)) {
        free(v);
        certs_free(&k);
        return proto_err(err, errlen, "ストアを読めません");
    }
    uint64_t held = store_vv_get(d->st, &x), last_cut = v->ndec ? v->dec[v->ndec - 1].cut : 0;
    const char *how = "given";
    if (!has_cut) {
        cut = v->open ? v->open_cut : held;
        how = v->open ? "epoch" : "held";
    }
    if (v->open && cut != v->open_cut) {
        char by[PROTO_ID_STR];
        proto_id_str(&v->opened_by, by);
        proto_err(err, errlen, "%s %s の鍵の再発行はすでに seq %llu で投票が始まっています（%s が最初に投票）。"
                  "違う時点の票は数えられません: --cut を付けずに投票してください", m.code, m.name,
                  (unsigned long long)v->open_cut, by);
        refused = 1;
    } else if (cut < 1) {
        proto_err(err, errlen, "%s %s の記録をこのノードはまだ持っていません。--cut N で固定する seq を指定してください",
                  m.code, m.name);
        refused = 1;
    } else if (cut <= last_cut) {
        proto_err(err, errlen, "seq %llu は前の再発行の時点 seq %llu 以前です", (unsigned long long)cut,
                  (unsigned long long)last_cut);
        refused = 1;
    }
    if (refused) {
        free(v);
        certs_free(&k);
        return -1;
    }
    uint32_t gen = v->gen;
    char key[65];
    proto_hex(x.b, 32, key);
    proto_body *b = proto_body_new();
    if (!b) {
        free(v);
        certs_free(&k);
        return proto_err(err, errlen, "out of memory");
    }
    proto_body_str(b, "op", "rekey");
    /* code and name as an admission and a rotation carry them (the new
     * certificate's: its code is the member's, checked above) */
    proto_body_str(b, "code", k.code);
    proto_body_str(b, "name", k.name);
    proto_body_bin(b, "cert", k.der, k.der_len);
    proto_body_int(b, "cut", (int64_t)cut);
    proto_body_int(b, "gen", (int64_t)gen);
    proto_body_str(b, "reason", reason);
    int rc = node_publish_one(d, "member", key, 0, b, NULL, NULL, err, errlen);
    proto_body_free(b);
    proto_id kid = k.id;
    certs_free(&k);
    if (rc) {
        free(v);
        return -1;
    }
    /* where the vote stands now that the store took it */
    uint64_t votes = 0;
    int decided = 0;
    if (rekey_view_get(d->st, &x, v) == 0) {
        for (size_t i = 0; i < v->nprops; i++)
            if (!memcmp(&v->props[i].key, &kid, 32))
                votes = v->props[i].nvotes;
        for (size_t i = 0; i < v->ndec; i++)
            if (!memcmp(&v->dec[i].key, &kid, 32)) {
                decided = 1;
                votes = v->dec[i].nvotes;
            }
    }
    proto_id_str(&kid, ks);
    log_info(d, "voted to rekey %s %s (%s): key %s from seq %llu (gen %u), %llu of %u votes%s", m.code, m.name,
             xs, ks, (unsigned long long)cut + 1, gen, (unsigned long long)votes, v->quorum,
             decided ? ": decided" : "");
    proto_map o;
    proto_map_begin(&o, pk);
    proto_map_put_bool(&o, "ok", 1);
    proto_map_put_str(&o, "member_id", xs);
    proto_map_put_str(&o, "code", m.code);
    proto_map_put_str(&o, "name", m.name);
    proto_map_put_str(&o, "key", ks);
    proto_map_put_u64(&o, "cut", cut);
    proto_map_put_str(&o, "cut_from", how);
    proto_map_put_u64(&o, "gen", gen);
    proto_map_put_u64(&o, "held", held);
    proto_map_put_u64(&o, "votes", votes);
    proto_map_put_u64(&o, "quorum", v->quorum);
    proto_map_put_bool(&o, "decided", decided);
    proto_map_end(&o);
    free(v);
    return 0;
}

/* ---- member show ---- */

static void pack_voters(store *st, msgpack_packer *pk, const rekey_voter *vs, size_t n)
{
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        store_member m;
        char id[PROTO_ID_STR];
        int known = store_member_get(st, &vs[i].id, &m) == 0;
        proto_id_str(&vs[i].id, id);
        proto_map e;
        proto_map_begin(&e, pk);
        proto_map_put_str(&e, "member_id", id);
        proto_map_put_str(&e, "code", known ? m.code : "");
        proto_map_put_str(&e, "name", known ? m.name : "");
        proto_map_put_str(&e, "mark", known ? store_member_mark(m.status) : "");
        proto_map_put_u64(&e, "time_ms", vs[i].time_ms);
        proto_map_end(&e);
    }
}

int rekey_pack_show(catalogd *d, const proto_id *x, proto_map *m, msgpack_packer *pk)
{
    rekey_view *v = malloc(sizeof *v);
    if (!v || rekey_view_get(d->st, x, v)) {
        free(v);
        return 0;
    }
    char id[PROTO_ID_STR];
    proto_map_key(m, "rekeys");
    msgpack_pack_array(pk, (uint32_t)v->ndec);
    for (size_t i = 0; i < v->ndec; i++) {
        proto_map e;
        proto_id_str(&v->dec[i].key, id);
        proto_map_begin(&e, pk);
        proto_map_put_u64(&e, "gen", v->dec[i].gen);
        proto_map_put_u64(&e, "cut", v->dec[i].cut);
        proto_map_put_u64(&e, "from_seq", v->dec[i].cut + 1);
        proto_map_put_str(&e, "key", id);
        proto_map_put_u64(&e, "decided_ms", v->dec[i].decided_ms);
        proto_map_key(&e, "voters");
        pack_voters(d->st, pk, v->dec[i].voters, v->dec[i].nvoters);
        proto_map_end(&e);
    }
    proto_map_put_u64(m, "rekey_gen", v->gen);
    if (v->open) {
        proto_map key;
        proto_map_key(m, "rekey_epoch");
        proto_map_begin(&key, pk);
        proto_map_put_u64(&key, "gen", v->gen);
        proto_map_put_u64(&key, "cut", v->open_cut);
        proto_map_put_u64(&key, "quorum", v->quorum);
        proto_id_str(&v->opened_by, id);
        proto_map_put_str(&key, "opened_by", id);
        /* who opened the epoch and fixed its cut, as the voters are shown
         * (code and name), for member show's text */
        rekey_voter ob = { v->opened_by, 0 };
        proto_map_key(&key, "opener");
        pack_voters(d->st, pk, &ob, 1);
        proto_map_key(&key, "proposals");
        msgpack_pack_array(pk, (uint32_t)v->nprops);
        for (size_t i = 0; i < v->nprops; i++) {
            proto_map e;
            proto_id_str(&v->props[i].key, id);
            proto_map_begin(&e, pk);
            proto_map_put_str(&e, "key", id);
            proto_map_put_u64(&e, "votes", v->props[i].nvotes);   /* all, the voters listed may be fewer */
            proto_map_key(&e, "voters");
            pack_voters(d->st, pk, v->props[i].voters, v->props[i].nvoters);
            proto_map_end(&e);
        }
        proto_map_end(&key);
    }
    proto_map_key(m, "rekey_stale");
    msgpack_pack_array(pk, (uint32_t)v->nstale);
    for (size_t i = 0; i < v->nstale; i++) {
        proto_map e;
        rekey_voter by = { v->stale[i].by, v->stale[i].time_ms };
        proto_map_begin(&e, pk);
        proto_map_key(&e, "by");
        pack_voters(d->st, pk, &by, 1);
        proto_id_str(&v->stale[i].key, id);
        proto_map_put_str(&e, "key", id);
        proto_map_put_u64(&e, "cut", v->stale[i].cut);
        proto_map_put_u64(&e, "gen", v->stale[i].gen);
        proto_map_put_u64(&e, "seq", v->stale[i].seq);
        proto_map_put_str(&e, "why", v->stale[i].why);
        proto_map_end(&e);
    }
    int cut = v->cut;
    free(v);
    return cut;
}

/* ---- live effects ---- */

typedef struct { const proto_id *key; int next; proto_id after; } succ_find;

static int find_succ(void *ctx, uint64_t from_seq, const proto_id *key_id)
{
    succ_find *f = ctx;
    if (f->next) {
        f->after = *key_id;
        f->next = 2;
        return 1;
    }
    if (!memcmp(key_id, f->key, 32))
        f->next = 1;
    return 0;
}

int rekey_installed_by_quorum(store *st, const proto_id *member, const proto_id *key_id)
{
    rekey_view *v = malloc(sizeof *v);
    int by = 0;
    if (v && rekey_view_get(st, member, v) == 0)
        for (size_t i = 0; i < v->ndec; i++)
            by |= !memcmp(&v->dec[i].key, key_id, 32);
    free(v);
    return by;
}

int rekey_retired_by_quorum(store *st, const proto_id *member, const proto_id *key_id)
{
    /* the key that followed key_id in the member's schedule (the admitted
     * key, the member id, is first) */
    succ_find f = { .key = key_id, .next = !memcmp(key_id, member, 32) };
    store_keys_of(st, member, find_succ, &f);
    return f.next == 2 && rekey_installed_by_quorum(st, member, &f.after);
}

/* ---- the restored node ---- */

/* The member this node was told it becomes (meta rekeyed_as, written by
 * catalogctl join --rekeyed): 1 and *x, or 0. */
static int rekeyed_as(catalogd *d, proto_id *x)
{
    size_t n = 32;
    return store_meta_get(d->st, "rekeyed_as", x->b, &n) == 0 && n == 32;
}

/* The member id the store is bound to (meta self), without store_info's
 * counting: this runs before every write. */
static int self_of(catalogd *d, proto_id *self)
{
    size_t n = 32;
    return store_meta_get(d->st, "self", self->b, &n) == 0 && n == 32;
}

int rekey_adopt_identity(catalogd *d)
{
    proto_id x, owner;
    char err[256], xs[PROTO_ID_STR];
    proto_id self;
    if (!rekeyed_as(d, &x) || (self_of(d, &self) && !memcmp(&self, &x, 32)))
        return 0;
    if (store_key_owner(d->st, &d->id.key_id, &owner) != STORE_KEY_CURRENT || memcmp(&owner, &x, 32))
        return 0;
    if (store_rebind_self_rekeyed(d->st, &x, &d->id.key_id, err, sizeof err)) {
        log_error(d, "this node's key is the rekeyed member's key in force, but the store cannot take it: %s", err);
        return 0;
    }
    d->id.id = x;
    proto_id_str(&x, xs);
    store_member m;
    uint64_t from = 0;
    proto_id cur;
    store_key_current(d->st, &x, &cur, &from);
    if (store_member_get(d->st, &x, &m) != 0)
        snprintf(m.code, sizeof m.code, "?");
    log_info(d, "this node is member %s %s (%s) from now on: its key was voted in by a rekey, from seq %llu; "
             "it writes once it holds that member's log up to seq %llu (it holds %llu)", m.code,
             store_member_get(d->st, &x, &m) == 0 ? m.name : "", xs, (unsigned long long)from,
             (unsigned long long)(from ? from - 1 : 0), (unsigned long long)store_vv_get(d->st, &x));
    return 1;   /* the caller makes the peers follow (node_applied) */
}

int rekey_write_check(catalogd *d, char *err, size_t errlen)
{
    proto_id x, owner, cur;
    uint64_t from = 0;
    struct { proto_id self; } si;
    if (!self_of(d, &si.self))
        return 0;   /* the store says why */
    if (rekeyed_as(d, &x) && memcmp(&si.self, &x, 32)) {
        char xs[PROTO_ID_STR];
        proto_id_str(&x, xs);
        return proto_err(err, errlen, "このノードは鍵の再発行で %s になるのを待っています。加盟団体の投票が定足数に"
                         "達し、その決定をこのノードが受け取るまで書き込めません（catalogctl member show %s "
                         "を他の加盟団体で確認してください）", xs, xs);
    }
    if (store_key_current(d->st, &si.self, &cur, &from) || memcmp(&cur, &d->id.key_id, 32)) {
        int kst = store_key_owner(d->st, &d->id.key_id, &owner);
        if (kst == STORE_KEY_RETIRED && !memcmp(&owner, &si.self, 32) &&
            rekey_retired_by_quorum(d->st, &si.self, &d->id.key_id))
            return proto_err(err, errlen, "このノードの鍵は鍵の再発行（加盟団体の投票）で無効になりました。"
                             "この鍵では署名できません。新しい鍵のノードを使ってください（空のマシンで "
                             "catalogctl init、join --rekeyed。docs/OPERATIONS.md「鍵の再発行」）");
        return 0;   /* a rotation's retired key: the store says so (decision 13) */
    }
    uint64_t held = store_vv_get(d->st, &si.self);
    if (from > held + 1)
        return proto_err(err, errlen, "この団体の記録をまだ seq %llu まで受け取っていません（いま seq %llu）。"
                         "鍵の再発行で決まった時点までの記録を他の加盟団体から受け取ると書き込めます"
                         "（catalogctl status で進みを確認してください）", (unsigned long long)(from - 1),
                         (unsigned long long)held);
    return 0;
}
