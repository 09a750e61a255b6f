/*
 * store/store_apply.c — the record rules (DESIGN §2/§3) and writing: the
 * precheck of incoming records (alone and in batches), applying verified
 * records (current pointers, history, forks, the log chains), and signing and
 * applying this node's own records, genesis included.
 *
 * Rules that depend on the record alone are the kind's validator in the
 * kinds table (store/kind.c); those that depend on what the store holds
 * (alliance, seq, authorship, duplicates, forks) are here.  A genesis takes
 * its own path: it is checked before any membership exists.
 *
 * A caller may rely on: store_apply_batch re-running the precheck inside
 * its write transaction, so a record checked earlier against an older state
 * is never applied against a newer one unchecked; every write transaction
 * updating the log chains (store_sum.c) in the same commit as the records,
 * so the digest derived from them is never stale; on any failure,
 * nothing of the transaction written and the member key cache emptied.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *store_result_str(int r)
{
    static const char *s[] = { "new", "duplicate", "gap", "unknown author", "fork", "rejected",
                               "former member" };
    return r >= 0 && r <= STORE_FORMER ? s[r] : "?";
}

/* ---- precheck ---- */

/* Rules that depend on the record alone: its kind's validator, if any.  A
 * genesis never gets here (precheck_txn takes it first); refuse one all
 * the same. */
static int check_kind_rules(const kind_def *kd, const proto_record *r, char *err, size_t errlen)
{
    if (kd->id == KIND_GENESIS)
        return proto_err(err, errlen, "a second genesis record is not accepted");
    return kd->validate ? kd->validate(r, err, errlen) : 0;
}

/* A record of a member that left or was expelled, beyond its cut. */
static int former_refused(const proto_record *r, int status, uint64_t cut, char *err, size_t errlen)
{
    char id[PROTO_ID_STR];
    proto_id_str(&r->author, id);
    proto_err(err, errlen, "author %s %s the alliance; its records after seq %llu are refused (got seq %llu)",
              id, status == STORE_MEMBER_LEFT ? "left" : "was expelled from", (unsigned long long)cut,
              (unsigned long long)r->seq);
    return STORE_FORMER;
}

/* What a batch reads once instead of once per record: the genesis, and
 * the last author's vector entry and log chain (a batch is in (author,
 * seq) order, usually one run of one author's log).  Only valid within the
 * transaction it was filled in; apply_txn keeps it up to date as it writes. */
typedef struct {
    int g_read, has_g;
    proto_id g;
    int author_valid;
    proto_id author;
    uint64_t have;            /* the author's vector entry */
    int chain_valid;
    uint8_t chain[32];        /* chain_have of the author (chain_valid) */
    uint64_t rewrites;        /* s->log_rewrites when have and chain were read: a
                               * re-judge within the batch (store_apart.c) may
                               * have rewritten the author's log since */
    /* Write cursors of the batch, one per table a record is written to,
     * opened at first use and closed before the transaction ends: a put
     * through a cursor that stands where the last one went (the next seq
     * of the same log, the same vector entry) searches that leaf page
     * only, where mdb_put descends from the root for every key. */
    MDB_cursor *wc[5];
} batch_memo;

enum { WC_LOG, WC_VV, WC_VER, WC_CUR, WC_SUM };

/* mdb_put(txn, dbi, k, v, 0), through the batch's cursor `which` if bm. */
static int memo_put(MDB_txn *txn, batch_memo *bm, int which, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    if (!bm)
        return mdb_put(txn, dbi, k, v, 0);
    if (!bm->wc[which]) {
        int rc = mdb_cursor_open(txn, dbi, &bm->wc[which]);
        if (rc)
            return rc;
    }
    return mdb_cursor_put(bm->wc[which], k, v, 0);
}

/* The sum table's cursor of the batch (opened now), or NULL: plain puts. */
static MDB_cursor *memo_sum_cursor(store *s, MDB_txn *txn, batch_memo *bm)
{
    if (bm && !bm->wc[WC_SUM] && mdb_cursor_open(txn, s->sum, &bm->wc[WC_SUM]))
        bm->wc[WC_SUM] = NULL;
    return bm ? bm->wc[WC_SUM] : NULL;
}

static void memo_close(batch_memo *bm)
{
    for (size_t i = 0; i < sizeof bm->wc / sizeof bm->wc[0]; i++)
        if (bm->wc[i]) {
            mdb_cursor_close(bm->wc[i]);
            bm->wc[i] = NULL;
        }
}

static int memo_genesis(store *s, MDB_txn *txn, batch_memo *bm, proto_id *g)
{
    if (!bm)
        return meta_id(s, txn, "genesis", g) == 0;
    if (!bm->g_read) {
        bm->has_g = meta_id(s, txn, "genesis", &bm->g) == 0;
        bm->g_read = 1;
    }
    *g = bm->g;
    return bm->has_g;
}

static uint64_t memo_vv(store *s, MDB_txn *txn, batch_memo *bm, const proto_id *author)
{
    if (!bm)
        return vv_get_txn(s, txn, author);
    if (bm->rewrites != s->log_rewrites) {
        bm->author_valid = bm->chain_valid = 0;
        bm->rewrites = s->log_rewrites;
    }
    if (!bm->author_valid || memcmp(&bm->author, author, 32)) {
        bm->author = *author;
        bm->have = vv_get_txn(s, txn, author);
        bm->author_valid = 1;
        bm->chain_valid = 0;
    }
    return bm->have;
}

/* rules: 1 to run the kind's validator, 0 when the caller ran it on this
 * very record already (a batch store_precheck_batch checked).  bm: a
 * batch's memo, or NULL. */
/* A former member's record beyond its cut (docs/DECISIONS.md 16): kept
 * apart if within the bounds (STORE_NEW with its key, *apart set; a copy
 * held already is STORE_DUP), else refused. */
static int former_beyond(store *s, MDB_txn *txn, const proto_record *r, int status, uint64_t cut,
                         EVP_PKEY **key, int *apart, char *err, size_t errlen)
{
    int dup = 0;
    EVP_PKEY *k = NULL;
    if (!former_arrival_txn(s, txn, r, cut, &k, &dup))
        return former_refused(r, status, cut, err, errlen);
    if (dup)
        return STORE_DUP;
    if (apart)
        *apart = 1;
    if (key)
        *key = k;
    else
        EVP_PKEY_free(k);
    return STORE_NEW;
}

/* apart (may be NULL): set when the record is a former member's beyond its
 * cut, which the store keeps apart rather than in the log. */
static int precheck_txn(store *s, MDB_txn *txn, const proto_record *r, EVP_PKEY **key, int rules,
                        batch_memo *bm, int *apart, char *err, size_t errlen)
{
    if (apart)
        *apart = 0;
    const kind_def *kd = kind_of(r->kind);
    proto_id g;
    int has_g = memo_genesis(s, txn, bm, &g);
    if (key)
        *key = NULL;

    if (kd->id == KIND_GENESIS) {
        if (!proto_id_is_zero(&r->alliance) || r->seq != 1) {
            proto_err(err, errlen, "genesis record must have seq 1 and no alliance");
            return STORE_REJECT;
        }
        if (has_g) {
            proto_id h;
            proto_record_hash(r->raw, r->raw_len, &h);
            if (!memcmp(&h, &g, 32))
                return STORE_DUP;
            proto_err(err, errlen, "genesis of another alliance");
            return STORE_REJECT;
        }
        store_member m;
        if (decode_cert_member(r, &m, err, errlen))
            return STORE_REJECT;
        if (memcmp(&m.id, &r->author, 32)) {
            proto_err(err, errlen, "genesis author is not the key in its certificate");
            return STORE_REJECT;
        }
        if (key)
            *key = key_from_spki(m.spki, m.spki_len);
        return STORE_NEW;
    }
    if (!has_g) {
        proto_err(err, errlen, "no alliance yet: the genesis record must come first");
        return STORE_UNKNOWN_AUTHOR;
    }
    if (memcmp(&r->alliance, &g, 32)) {
        proto_err(err, errlen, "record of another alliance");
        return STORE_REJECT;
    }
    uint64_t have = memo_vv(s, txn, bm, &r->author);
    if (r->seq <= have) {
        uint8_t lk[40];
        memcpy(lk, r->author.b, 32);
        put_be64(lk + 32, r->seq);
        MDB_val k = { 40, lk }, v;
        if (mdb_get(txn, s->log, &k, &v) == 0 && v.mv_size == r->raw_len &&
            !memcmp(v.mv_data, r->raw, r->raw_len))
            return STORE_DUP;
        /* already kept as fork evidence? */
        uint8_t fk[72];
        memcpy(fk, lk, 40);
        proto_record_hash(r->raw, r->raw_len, (proto_id *)(fk + 40));
        MDB_val fkv = { 72, fk };
        if (mdb_get(txn, s->forks, &fkv, &v) == 0)
            return STORE_DUP;
        /* or set apart (store_apart.c): not valid under the key schedule
         * derived here; it comes back only by a re-judge.  One after the
         * log's end is taken again if it is valid now (the log stopped at a
         * seq with no valid version, and the version there arrived since). */
        if (apart_holds_txn(s, txn, &r->author, r->seq, (proto_id *)(fk + 40)))
            return STORE_DUP;
    }
    /* The record-alone rules come after the cheap drop of what we hold and
     * before the outcomes that let a record wait (GAP, UNKNOWN_AUTHOR):
     * ingest may promote a waiting record to NEW within its batch, and
     * applies what passed here without running them again
     * (store_apply_prechecked). */
    if (rules && check_kind_rules(kd, r, err, errlen))
        return STORE_REJECT;
    if (r->seq > have + 1 && !is_member_txn(s, txn, &r->author)) {
        /* beyond a former member's cut it will never apply, gap or not */
        int former = 0;
        uint64_t cut = 0;
        EVP_PKEY *fk = former_key_txn(s, txn, &r->author, r->seq, &former, &cut);
        EVP_PKEY_free(fk);
        if (former && r->seq > cut)
            return former_beyond(s, txn, r, former, cut, key, apart, err, errlen);
    }
    if (r->seq > have + 1) {
        /* the usual case within a batch (its predecessor is in it): no
         * message is wanted then, and formatting one per record showed */
        if (!bm)
            proto_err(err, errlen, "gap: have seq %llu of this author, got %llu",
                      (unsigned long long)have, (unsigned long long)r->seq);
        return STORE_GAP;
    }
    /* A membership record dated far ahead would sort after every honest
     * one for as long, making each of them replay the membership
     * (store_replay.c): it waits, like a gap, until this node's clock is
     * near its time; the sender is not closed, and the author's log is
     * fetched again from there later. */
    if ((kd->flags & KIND_F_MEMBERSHIP) && r->time_ms > proto_now_ms() + STORE_MEMBER_SKEW_MS) {
        proto_err(err, errlen, "membership record dated %llu ms ahead of this node's clock "
                  "(more than %llu): it waits",
                  (unsigned long long)(r->time_ms - proto_now_ms()),
                  (unsigned long long)STORE_MEMBER_SKEW_MS);
        return STORE_GAP;
    }
    EVP_PKEY *k = key_at_txn(s, txn, &r->author, r->seq);   /* the key current at its seq */
    int former = 0;
    uint64_t cut = 0;
    if (!k)   /* a former member's log stays acceptable up to its cut */
        k = former_key_txn(s, txn, &r->author, r->seq, &former, &cut);
    if (!k && former)
        return former_beyond(s, txn, r, former, cut, key, apart, err, errlen);
    if (!k) {
        char id[PROTO_ID_STR];
        proto_id_str(&r->author, id);
        proto_err(err, errlen, "author %s is not a current member", id);
        return STORE_UNKNOWN_AUTHOR;
    }
    if (key)
        *key = k;
    else
        EVP_PKEY_free(k);
    return r->seq <= have ? STORE_FORK : STORE_NEW;
}

int store_precheck(store *s, const proto_record *r, EVP_PKEY **key, char *err, size_t errlen)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) {
        proto_err(err, errlen, "store unavailable");
        return STORE_REJECT;
    }
    int rc = precheck_txn(s, txn, r, key, 1, NULL, NULL, err, errlen);
    mdb_txn_abort(txn);
    return rc;
}

int store_record_rules(const proto_record *r, char *err, size_t errlen)
{
    const kind_def *kd = kind_of(r->kind);
    /* a genesis has its own rules, which precheck applies whatever flags */
    return kd->id == KIND_GENESIS ? 0 : check_kind_rules(kd, r, err, errlen);
}

int store_precheck_batch(store *s, const proto_record *recs, size_t n, int *res, EVP_PKEY **keys,
                         unsigned flags, char *err, size_t errlen)
{
    return store_precheck_batch_alt(s, recs, n, res, keys, NULL, flags, err, errlen);
}

/* Whether a's keys include one a decided rekey retired (kept apart). */
static int retired_alt(const store_alt_keys *a)
{
    for (unsigned i = 0; i < a->n; i++)
        if (a->res[i] == STORE_FORMER)
            return 1;
    return 0;
}

int store_precheck_batch_alt(store *s, const proto_record *recs, size_t n, int *res, EVP_PKEY **keys,
                             store_alt_keys *alts, unsigned flags, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rejected = 0;
    batch_memo bm = { 0 };
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return proto_err(err, errlen, "store unavailable");
    for (size_t i = 0; i < n; i++) {
        char why[256];
        why[0] = 0;
        int apart = 0;
        res[i] = precheck_txn(s, txn, &recs[i], &keys[i], !(flags & STORE_RULES_LATER), &bm, &apart, why,
                              sizeof why);
        if (res[i] == STORE_REJECT && !rejected++)
            proto_err(err, errlen, "%s", why);
        if (alts) {
            alts[i].n = 0;
            alts[i].fail_res = 0;
            if ((res[i] == STORE_NEW || res[i] == STORE_FORK || res[i] == STORE_GAP) &&
                rekey_alt_keys_txn(s, txn, &recs[i], &alts[i]))
                store_alt_keys_free(&alts[i]);   /* none: the record is judged by its key alone */
            if (res[i] == STORE_GAP)
                alts[i].fail_res = 0;   /* a new key's record behind a wrong guess of ingest's waits */
            alts[i].past_end = 0;
            if (res[i] == STORE_GAP && recs[i].seq > memo_vv(s, txn, &bm, &recs[i].author) + 1 &&
                retired_alt(&alts[i])) {
                /* Beyond the log's end and beyond a decided rekey's cut:
                 * signed by the key that rekey retired, it is kept apart
                 * (store_apply_retired) whatever the log's end, as a former
                 * member's beyond its cut is; signed by the key in force,
                 * it waits as the gap it is.  Without this a store whose
                 * log stopped at the cut (the next seq kept apart on
                 * arrival) never held the seqs after it, which a store
                 * that took them before the decision holds apart, and the
                 * two derived different rekeys from the votes among them
                 * (random world 4154, DECISIONS 22). */
                alts[i].past_end = 1;
                EVP_PKEY *k = alts[i].n < STORE_REKEY_ALT_KEYS ? key_at_txn(s, txn, &recs[i].author, recs[i].seq)
                                                                : NULL;
                if (k) {
                    alts[i].key[alts[i].n] = k;
                    alts[i].res[alts[i].n++] = STORE_GAP;
                }
            }
            if (apart)
                alts[i].fail_res = STORE_FORMER;   /* refused, no forgery (store.h) */
        }
    }
    mdb_txn_abort(txn);
    return 0;
}

/* ---- applying records ---- */

/* Make the current pointer of (author, kind, key) match its highest version. */
static int recompute_current(store *s, MDB_txn *txn, const char *kind, const proto_id *author,
                             const char *key)
{
    uint8_t ck[CK_MAX], vk[CK_MAX];
    size_t cl = ck_key(ck, kind, author, key);
    MDB_val k = { cl, ck }, v;
    uint8_t old[41];
    int had = mdb_get(txn, s->cur, &k, &v) == 0 && v.mv_size == 41;
    if (had)
        memcpy(old, v.mv_data, 41);

    /* highest ver entry under the prefix: seek just past it, step back */
    memcpy(vk, ck, cl);
    memset(vk + cl, 0xff, 8);
    MDB_cursor *c;
    if (mdb_cursor_open(txn, s->ver, &c))
        return -1;
    MDB_val sk = { cl + 8, vk }, sv;
    int rc = mdb_cursor_get(c, &sk, &sv, MDB_SET_RANGE);
    rc = rc == 0 ? mdb_cursor_get(c, &sk, &sv, MDB_PREV) : mdb_cursor_get(c, &sk, &sv, MDB_LAST);
    int found = rc == 0 && sk.mv_size == cl + 8 && memcmp(sk.mv_data, ck, cl) == 0;
    uint8_t nw[41];
    if (found) {
        memcpy(nw, (uint8_t *)sk.mv_data + cl, 8);
        memcpy(nw + 8, sv.mv_data, 32);
        /* flags: read from the log entry */
        uint8_t lk[40];
        memcpy(lk, author->b, 32);
        memcpy(lk + 32, nw, 8);
        MDB_val lkv = { 40, lk }, lv;
        proto_record pr;
        nw[40] = 0;
        if (mdb_get(txn, s->log, &lkv, &lv) == 0 &&
            proto_record_decode_stored(lv.mv_data, lv.mv_size, &pr, NULL, 0) == 0)
            nw[40] = (uint8_t)pr.flags;
    }
    mdb_cursor_close(c);
    if (had && found && !memcmp(old, nw, 41))
        return 0;
    if (found) {
        MDB_val nv = { 41, nw };
        return mdb_put(txn, s->cur, &k, &nv, 0) ? -1 : 0;
    }
    return had && mdb_del(txn, s->cur, &k, NULL) ? -1 : 0;
}

/* A new record of an author has that author's highest seq, so it is the
 * current version of its (kind, key): no need to search the history. */
static int set_current(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h, batch_memo *bm)
{
    uint8_t ck[CK_MAX], nw[41];
    MDB_val k = { ck_key(ck, r->kind, &r->author, r->key), ck };
    put_be64(nw, r->seq);
    memcpy(nw + 8, h->b, 32);
    nw[40] = (uint8_t)r->flags;
    MDB_val nv = { 41, nw };
    return memo_put(txn, bm, WC_CUR, s->cur, &k, &nv) ? -1 : 0;
}

/* bm: the batch's memo (its cursor is used for a put), or NULL */
static int ver_put(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h, int del, batch_memo *bm)
{
    uint8_t vk[CK_MAX];
    size_t l = ck_key(vk, r->kind, &r->author, r->key);
    put_be64(vk + l, r->seq);
    MDB_val k = { l + 8, vk }, v = { 32, (void *)h->b };
    return del ? mdb_del(txn, s->ver, &k, NULL) : memo_put(txn, bm, WC_VER, s->ver, &k, &v);
}

int ver_entry_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h, int del)
{
    return ver_put(s, txn, r, h, del, NULL) ? -1 : 0;
}

int current_recompute_txn(store *s, MDB_txn *txn, const char *kind, const proto_id *author, const char *key)
{
    return recompute_current(s, txn, kind, author, key);
}

/* apart_run_txn's callback: 1 (stop) at a membership record. */
static int run_membership(void *arg, const proto_record *r, const proto_id *hash)
{
    const kind_def *kd = kind_of(r->kind);
    return (kd->flags & KIND_F_MEMBERSHIP) && kd->id != KIND_GENESIS;
}

/* Derive again (member_dirty) when the dense run apart right after r
 * holds a membership record: r filling the hole before it makes the
 * derivation read it.  0, or -1. */
static int run_after_derives(store *s, MDB_txn *txn, const proto_record *r)
{
    int m = apart_run_txn(s, txn, &r->author, r->seq + 1, STORE_FORMER_APART_SEQS, run_membership, NULL);
    if (m < 0)
        return -1;
    if (m)
        s->member_dirty = 1;
    return 0;
}

/* The derivation reads the dense run of records apart after a former
 * member's log (collect_apart).  A record of it that fills the hole before
 * such a run — into the log (up to its cut) or apart itself (beyond it) —
 * makes the run part of what is derived, though nothing in the run
 * arrived now: derive again when the run holds a membership record, as a
 * rederive would read it.  Only for an author no member now: a member's
 * versions apart are a rekey's, read by the replay from the schedule
 * (rekey_inputs), and X's restored node writing at the seqs of a thief's
 * records apart would make each of its writes a derivation.  0, or -1. */
static int fill_before_apart(store *s, MDB_txn *txn, const proto_record *r)
{
    if (s->member_dirty || !apart_any_txn(s, txn) || is_member_txn(s, txn, &r->author))
        return 0;
    return run_after_derives(s, txn, r);
}

/* Apply one checked and verified record inside txn (bm: the batch's memo,
 * or NULL). */
static int apply_txn(store *s, MDB_txn *txn, const proto_record *r, const store_pre *given, int rules,
                     batch_memo *bm, char *err, size_t errlen)
{
    int apart = 0;
    int pre = precheck_txn(s, txn, r, NULL, rules, bm, &apart, err, errlen);
    if (pre != STORE_NEW && pre != STORE_FORK)
        return pre;
    if (apart) {
        /* a former member's record beyond its cut: kept apart, verified
         * (under its key at that seq: again if a derivation in this
         * transaction moved its keys), never in the log, so the log is the
         * same on every store holding it (store_gov.c, former_settle_txn);
         * the derivation reads it (store_replay.c) */
        if (rekey_moved(s, &r->author)) {
            store_member *m = malloc(sizeof *m);
            EVP_PKEY *k = m && member_get_txn(s, txn, &r->author, m) == 0 ? key_of_member_at_txn(s, txn, m, r->seq)
                                                                         : NULL;
            int ok = k && proto_record_verify(r, k, NULL, 0) == 0;
            EVP_PKEY_free(k);
            free(m);
            if (!ok)
                return STORE_GAP;
        }
        proto_id h;
        if (given)
            h = given->hash;
        else
            proto_record_hash(r->raw, r->raw_len, &h);
        if (former_arrivals_txn(s, txn, &r->author) >= STORE_FORMER_ARRIVALS_MAX)
            return STORE_FORMER;   /* its budget went in this batch: refused */
        if (former_apart_put_txn(s, txn, r, &h) < 0 || former_arrival_count_txn(s, txn, &r->author))
            return -1;
        /* one dated before the derivation's last turn may take a turn;
         * a rekey vote, or any membership record while a rekey is a
         * candidate or decided, may count in a what-if derivation where
         * the departure is not (a thief's expulsion beyond the cut of the
         * rekey it votes): the derivation reads it, as a rederive would */
        if (kind_has(r->kind, KIND_F_MEMBERSHIP)) {
            MDB_stat st;
            if ((kind_is(r->kind, KIND_MEMBER) && member_op(r) == MEMBER_OP_REKEY) ||
                mdb_stat(txn, s->rekey, &st) || st.ms_entries > 0)
                s->member_dirty = 1;
            else
                member_note_blocked_txn(s, txn, r);
        }
        if (fill_before_apart(s, txn, r))
            return -1;
        return STORE_FORMER;
    }
    /* the caller verified r under the key the precheck named before this
     * transaction; a rekey decided (or unmade) in it since changed its
     * author's keys: r is taken only if it verifies under them now, else
     * it is offered again and prechecked afresh (store_rekey.c) */
    /* ...and a run of one author's records verified under the key of its
     * first (ingest) carries the old key past a rekey's cut: the first
     * record after a decided cut is verified here, once per cut, and the
     * log stays dense, so nothing after it is taken without it */
    uint8_t ck[41];
    memcpy(ck, r->author.b, 32);
    ck[32] = 'c';
    put_be64(ck + 33, r->seq - 1);
    MDB_val ckv = { 41, ck }, cv;
    if (rekey_moved(s, &r->author) || mdb_get(txn, s->rekey, &ckv, &cv) == 0) {
        int former = 0;
        uint64_t cut = 0;
        EVP_PKEY *k = key_at_txn(s, txn, &r->author, r->seq);
        if (!k)
            k = former_key_txn(s, txn, &r->author, r->seq, &former, &cut);
        int ok = k && proto_record_verify(r, k, NULL, 0) == 0;
        EVP_PKEY_free(k);
        if (!ok)
            return STORE_GAP;
    }
    /* given: the caller's hash and chain step (store_apply_hashed), or NULL */
    proto_id h;
    if (given)
        h = given->hash;
    else
        proto_record_hash(r->raw, r->raw_len, &h);
    uint8_t lk[40];
    memcpy(lk, r->author.b, 32);
    put_be64(lk + 32, r->seq);
    MDB_val k = { 40, lk }, v;

    if (pre == STORE_FORK) {
        /* Equivocation: every node keeps the record with the lowest hash in
         * the log and the other as evidence, whatever order they came in. */
        if (mdb_get(txn, s->log, &k, &v))
            return STORE_REJECT;
        proto_id held, g;
        proto_record_hash(v.mv_data, v.mv_size, &held);
        const proto_record *loser = r;
        proto_record old;
        uint8_t *oldcopy = NULL;
        /* ...except the pinned genesis, which defines the alliance: it
         * always stays, the other seq-1 record is only evidence. */
        int held_genesis = meta_id(s, txn, "genesis", &g) == 0 && !memcmp(&g, &held, 32);
        if (!held_genesis && memcmp(h.b, held.b, 32) < 0) {
            oldcopy = malloc(v.mv_size);
            if (!oldcopy)
                return -1;
            memcpy(oldcopy, v.mv_data, v.mv_size);
            if (proto_record_decode_stored(oldcopy, v.mv_size, &old, NULL, 0)) {
                free(oldcopy);
                return STORE_REJECT;
            }
            loser = &old;
            MDB_val nv = { r->raw_len, (void *)r->raw };
            if (mdb_put(txn, s->log, &k, &nv, 0) || ver_put(s, txn, &old, &held, 1, NULL) ||
                ver_put(s, txn, r, &h, 0, NULL) ||
                recompute_current(s, txn, old.kind, &old.author, old.key) ||
                recompute_current(s, txn, r->kind, &r->author, r->key) ||
                chain_rebuild_txn(s, txn, &r->author, r->seq, &h) || keys_fork_txn(s, txn, &old, r)) {
                free(oldcopy);
                return -1;
            }
            /* the log now holds another record at this seq: if either is
             * a membership record, what was derived from the old one is
             * derived afresh before this transaction commits */
            if (kind_has(old.kind, KIND_F_MEMBERSHIP) || kind_has(r->kind, KIND_F_MEMBERSHIP))
                s->member_dirty = 1;
            /* what either derived may change: the checks replay */
            member_closure_off(s);
        }
        uint8_t fk[72];
        memcpy(fk, lk, 40);
        proto_record_hash(loser->raw, loser->raw_len, (proto_id *)(fk + 40));
        MDB_val fkv = { 72, fk }, fv = { loser->raw_len, (void *)loser->raw };
        int rc = mdb_put(txn, s->forks, &fkv, &fv, 0);
        free(oldcopy);
        if (bm)
            bm->chain_valid = 0;   /* chain_rebuild_txn may have rewritten it */
        return rc ? -1 : STORE_FORK;
    }

    switch (kind_of(r->kind)->id) {
    case KIND_GENESIS: {
        store_member m;
        int64_t adm = 1;
        char name[256];
        if (genesis_member(r, &m, err, errlen))
            return STORE_REJECT;
        proto_body_get_int(r, "admission", &adm);
        if (adm < 1 || adm > 1000) {
            proto_err(err, errlen, "genesis admission policy out of range");
            return STORE_REJECT;
        }
        if (proto_body_copy_str(r, "alliance", name, sizeof name)) {
            proto_err(err, errlen, "genesis lacks the alliance name");
            return STORE_REJECT;
        }
        uint8_t a[8];
        put_be64(a, (uint64_t)adm);
        if (meta_put_txn(s, txn, "genesis", h.b, 32) ||
            meta_put_txn(s, txn, "alliance", name, strlen(name)) ||
            meta_put_txn(s, txn, "admission", a, 8) || member_put_txn(s, txn, &m))
            return -1;
        /* before a genesis every author was unknown (no alliance yet):
         * whoever waited for one may apply now */
        author_changed(s, NULL);
        /* A genesis from a peer, on a node told to trust a sponsor: held
         * until the membership records lead from it to that sponsor
         * (store_genesis_check; docs/DECISIONS.md 1).  store_create_genesis
         * takes the flag back for a genesis made here. */
        {
            uint8_t sp[32], one = 1;
            size_t sl = sizeof sp;
            if (meta_get_txn(s, txn, "sponsor_id", sp, &sl) == 0 && sl == 32 &&
                meta_put_txn(s, txn, "genesis_unchecked", &one, 1))
                return -1;
        }
        member_note_txn(s, txn, r);
        member_closure_note(s, txn, r);
        if (bm)
            bm->g_read = 0;
        break;
    }
    case KIND_MEMBER:
        member_closure_note(s, txn, r);
        /* a former member's record within its cut is kept, but derives
         * what the replay derives: nothing when its author was no member
         * at its turn (store_replay.c) */
        if (!is_member_txn(s, txn, &r->author)) {
            member_note_blocked_txn(s, txn, r);
        } else {
            /* a member gone (by its leave, or expelled at a recount: an
             * expel vote, or any record about it once the expulsion quorum
             * in force is lower than its votes) may complete a proposal
             * pending (fewer active members, a lower change quorum), and
             * an expelled one's votes go from every proposal not in force:
             * the policy's turns are the replay's (store_policy.c) */
            int op = member_op(r), was = 0;
            proto_id subj;
            if (op != MEMBER_OP_ROTATE && !proto_unhex(r->key, subj.b, 32))
                was = is_member_txn(s, txn, &subj);
            if (apply_member(s, txn, r) < 0)
                return -1;
            member_note_txn(s, txn, r);
            /* no incremental shortcut decides a rekey: a vote, any
             * membership record while an epoch is open (its author's
             * records beyond the cut, a member gone, a quorum changed),
             * replay (store_rekey.c) */
            if (op == MEMBER_OP_REKEY || rekey_open_txn(s, txn, NULL, NULL))
                s->member_dirty = 1;
            if (was && !is_member_txn(s, txn, &subj)) {
                int pend = policy_pending_txn(s, txn);
                if (op == MEMBER_OP_LEAVE ? (pend & POLICY_PENDING_ON_CUR) : pend)
                    s->member_dirty = 1;
            }
        }
        break;
    case KIND_POLICY: {
        /* a policy record takes its turn in the replay (store_policy.c):
         * the quorums from its turn on may change.  One that sorts after
         * every turn so far, by a member active now, takes its turn last:
         * the replay's state continues with it (a member's flood of votes
         * costs no replay per record); any other replays. */
        member_closure_note(s, txn, r);
        int rc = s->member_dirty || !is_member_txn(s, txn, &r->author) || !member_in_order_txn(s, txn, r)
                 ? 1 : policy_take_txn(s, txn, r, &h);
        if (rc < 0)
            return -1;
        if (rc == 0)
            member_note_txn(s, txn, r);
        else
            s->member_dirty = 1;
        break;
    }
    default:
        break;
    }

    v.mv_size = r->raw_len;
    v.mv_data = (void *)r->raw;
    uint8_t sb[8];
    put_be64(sb, r->seq);
    MDB_val vk = { 32, (void *)r->author.b }, vv = { 8, sb };
    /* the memo holds this author's vector entry (precheck_txn read it) */
    int run = bm && bm->author_valid && !memcmp(&bm->author, &r->author, 32);
    uint8_t chain[32];
    if (apart_taken_txn(s, txn, &r->author, r->seq, &h))
        return -1;
    if (memo_put(txn, bm, WC_LOG, s->log, &k, &v) || memo_put(txn, bm, WC_VV, s->vv, &vk, &vv) ||
        ver_put(s, txn, r, &h, 0, bm) || set_current(s, txn, r, &h, bm) ||
        chain_append_pre(s, txn, memo_sum_cursor(s, txn, bm), &r->author, r->seq, &h,
                         run && bm->chain_valid ? bm->chain : NULL, given, chain))
        return -1;
    author_changed(s, &r->author);   /* its vector entry moved */
    if (fill_before_apart(s, txn, r))
        return -1;
    if (run) {
        bm->have = r->seq;
        memcpy(bm->chain, chain, 32);
        bm->chain_valid = 1;
    }
    /* Another version of this seq, valid here, waits apart (a retired
     * key's record kept past the log's end, its rekey since undone): the
     * log takes the lowest hash and the others are fork evidence, as a
     * re-judge and a fork's arrival leave them, or a store that held the
     * two in the other order holds other versions where (random worlds
     * 386, 770).  Judged now, so the batch's later records are checked
     * against the log a store taking them in the next batch holds; the
     * batch's memo is read again. */
    int other = apart_other_valid_txn(s, txn, &r->author, r->seq, &h);
    if (other < 0)
        return -1;
    if (other) {
        int ch = 0;
        if (bm) {
            memo_close(bm);
            memset(bm, 0, sizeof *bm);
        }
        if (log_rejudge_author_txn(s, txn, &r->author, r->seq, NULL, NULL, &ch))
            return -1;
        if (ch)
            s->member_dirty = 1;   /* the derivation reads the versions again */
    }
    return STORE_NEW;
}

/* The first i whose pre[i] is not what recs[i]'s bytes give (its hash,
 * and its chain step from the chain value it names), or n. */
static size_t pre_mismatch(const proto_record *recs, const store_pre *pre, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        proto_id h;
        uint8_t c[32];
        proto_record_hash(recs[i].raw, recs[i].raw_len, &h);
        if (memcmp(&h, &pre[i].hash, 32))
            return i;
        if (pre[i].chained) {
            store_chain_step(pre[i].chain_prev, recs[i].seq, h.b, c);
            if (memcmp(c, pre[i].chain, 32))
                return i;
        }
    }
    return n;
}

/* A record the caller verified under a key a decided rekey of its author
 * retired, beyond that rekey's cut (store_apply_retired): kept apart as a
 * former member's beyond its cut is (DECISIONS 16, 22), so that the store
 * holds the versions one that took it before the decision holds (there it
 * went apart when the decision re-judged the log), and the derivation
 * reads it as it reads those. */
static int retired_txn(store *s, MDB_txn *txn, const proto_record *r, batch_memo *bm)
{
    proto_id g, h;
    if (kind_of(r->kind)->id == KIND_GENESIS || !memo_genesis(s, txn, bm, &g) || memcmp(&r->alliance, &g, 32))
        return STORE_GAP;   /* not one: the precheck says what it is */
    proto_record_hash(r->raw, r->raw_len, &h);
    uint8_t kb[72];
    memcpy(kb, r->author.b, 32);
    put_be64(kb + 32, r->seq);
    memcpy(kb + 40, h.b, 32);
    MDB_val lk = { 40, kb }, vk = { 72, kb }, v;
    if ((mdb_get(txn, s->log, &lk, &v) == 0 && v.mv_size == r->raw_len && !memcmp(v.mv_data, r->raw, r->raw_len)) ||
        mdb_get(txn, s->forks, &vk, &v) == 0 || apart_holds_txn(s, txn, &r->author, r->seq, &h))
        return STORE_DUP;
    /* checked again in this transaction (the keys may have changed since
     * the caller's check): one signature per version kept, within the
     * budget */
    int c = retired_check_txn(s, txn, r, &h);
    if (c != STORE_NEW)
        return c;
    if (former_apart_put_txn(s, txn, r, &h) < 0 || retired_arrival_count_txn(s, txn, &r->author))
        return -1;
    /* it may count again in a what-if (a vote of a rekeyed voter, read when
     * the decision that retired its key is weighed): derive again.  So may
     * the membership records apart after it, which the replay reads only
     * up to the first seq with no version (rekey_subject_log): one that
     * fills the hole before them makes them read (random world 4154: a
     * note at the seq after the cut, arriving after the rekey vote behind
     * it), as fill_before_apart does for a former member's */
    if (kind_has(r->kind, KIND_F_MEMBERSHIP)) {
        s->member_dirty = 1;
    } else if (!s->member_dirty && run_after_derives(s, txn, r)) {
        return -1;
    }
    return STORE_FORMER;
}

static int apply_batch(store *s, const proto_record *recs, const store_pre *pre, size_t n, int *results,
                       int rules, int retired, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc;
    batch_memo bm = { 0 };
    size_t bad;
    if (pre && s->check_hashes && (bad = pre_mismatch(recs, pre, n)) < n) {
        char a[PROTO_ID_STR];
        proto_id_str(&recs[bad].author, a);
        return proto_err(err, errlen, "the hash or chain step handed over for record %s seq %llu is not "
                         "what its bytes give", a, (unsigned long long)recs[bad].seq);
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    s->nactive_ok = 0;   /* counted afresh in each write transaction */
    s->member_dirty = 0;
    s->rk_moved_n = 0;
    s->rk_moved_all = 0;
    member_closure_begin(s, txn);
    for (size_t i = 0; i < n; i++) {
        /* a record before this one marked the membership for a replay: do
         * it now if this record's check could depend on it, so that it is
         * checked against what the log derives and not against what the
         * batch's start did (the same records give the same result however
         * they were batched; store_replay.c, "Checks within a batch") */
        uint64_t rk = s->rk_replays;
        int r = member_settle_for_txn(s, txn, &recs[i]);
        if (!r && s->rk_replays != rk) {
            /* a derivation with rekeys ran nested transactions and may have
             * rewritten logs (store_rekey.c): what the memo keeps of this
             * batch's tables is read again */
            memo_close(&bm);
            memset(&bm, 0, sizeof bm);
        }
        r = r ? -1 : retired ? retired_txn(s, txn, &recs[i], &bm)
                             : apply_txn(s, txn, &recs[i], pre ? &pre[i] : NULL, rules, &bm, NULL, 0);
        if (r < 0) {
            memo_close(&bm);
            mdb_txn_abort(txn);
            member_closure_end(s, 0);
            cache_clear(s);
            return proto_err(err, errlen, "write failed (store full or damaged?)");
        }
        results[i] = r;
    }
    memo_close(&bm);
    if (member_settle_txn(s, txn)) {
        mdb_txn_abort(txn);
        member_closure_end(s, 0);
        cache_clear(s);
        return proto_err(err, errlen, "deriving membership or the policy failed (store full or damaged?)");
    }
    if ((rc = mdb_txn_commit(txn))) {
        member_closure_end(s, 0);
        cache_clear(s);
        return proto_err(err, errlen, "commit failed: %s", mdb_strerror(rc));
    }
    member_closure_end(s, 1);
    /* writing reads B-tree pages through the map (and the kernel maps their
     * neighbours too): release them like a scan's */
    scanned(s, SCAN_CHECK);   /* after every write transaction */
    return 0;
}

int store_apply_batch(store *s, const proto_record *recs, size_t n, int *results,
                      char *err, size_t errlen)
{
    return apply_batch(s, recs, NULL, n, results, 1, 0, err, errlen);
}

int store_apply_prechecked(store *s, const proto_record *recs, size_t n, int *results,
                           char *err, size_t errlen)
{
    return apply_batch(s, recs, NULL, n, results, 0, 0, err, errlen);
}

int store_apply_hashed(store *s, const proto_record *recs, const store_pre *pre, size_t n, int *results,
                       char *err, size_t errlen)
{
    return apply_batch(s, recs, pre, n, results, 0, 0, err, errlen);
}

int store_apply_retired(store *s, const proto_record *recs, size_t n, int *results, char *err, size_t errlen)
{
    return apply_batch(s, recs, NULL, n, results, 0, 1, err, errlen);
}

void store_check_hashes(store *s, int on)
{
    s->check_hashes = on;
}

/* ---- writing this node's records ---- */

/* Signing is most of a write's time (an Ed25519 signature is ~50 µs, the
 * rest of a record's write ~20 µs) and needs nothing of the store: the
 * records of one write are signed first, on as many threads as there are
 * cores when there are enough of them to be worth a thread, then applied
 * in seq order in the one transaction.  An import of 10,000 rows signs
 * on both cores of a 2-core machine instead of one. */
typedef struct {
    EVP_PKEY *priv;
    const proto_id *alliance, *author;
    store_write_item *items;
    uint64_t seq0;           /* items[i] gets seq0 + i */
    uint64_t time_ms;        /* one time for the whole write: times follow seqs */
    size_t from, to;
    int failed;
    char err[256];
} sign_job;

static void *sign_range(void *arg)
{
    sign_job *j = arg;
    for (size_t i = j->from; i < j->to && !j->failed; i++) {
        store_write_item *it = &j->items[i];
        if (proto_record_sign(j->alliance, j->author, it->kind, it->key, j->seq0 + i, j->time_ms, it->flags,
                              it->body, j->priv, &it->out, &it->out_len, j->err, sizeof j->err)) {
            it->out = NULL;
            j->failed = 1;
        }
    }
    return NULL;
}

/* Records per thread below which a thread costs more than it saves. */
#define SIGN_PER_THREAD_MIN 32
#define SIGN_THREADS_MAX 8

static int sign_all(EVP_PKEY *priv, const proto_id *alliance, const proto_id *author, store_write_item *items,
                    size_t n, uint64_t seq0, char *err, size_t errlen)
{
    size_t nt = proto_threads_for(n, SIGN_THREADS_MAX, SIGN_PER_THREAD_MIN);
    sign_job jobs[SIGN_THREADS_MAX];
    pthread_t th[SIGN_THREADS_MAX];
    int started[SIGN_THREADS_MAX] = { 0 };
    uint64_t now = proto_now_ms();
    for (size_t t = 0; t < nt; t++) {
        jobs[t] = (sign_job){ priv, alliance, author, items, seq0, now, n * t / nt, n * (t + 1) / nt, 0, "" };
        /* this thread takes the first slice; the others get a thread each
         * (or, if one cannot be made, this thread signs theirs too) */
        started[t] = t > 0 && pthread_create(&th[t], NULL, sign_range, &jobs[t]) == 0;
    }
    sign_range(&jobs[0]);
    int failed = jobs[0].failed;
    const char *why = jobs[0].err;
    for (size_t t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            sign_range(&jobs[t]);
        if (jobs[t].failed && !failed) {
            failed = 1;
            why = jobs[t].err;
        }
    }
    if (failed) {
        for (size_t i = 0; i < n; i++) {
            free(items[i].out);
            items[i].out = NULL;
        }
        return proto_err(err, errlen, "%s", why[0] ? why : "signing failed");
    }
    return 0;
}

/* Apply one record this node signed (in it->out; decoded into it->rec). */
static int apply_own(store *s, MDB_txn *txn, store_write_item *it, char *err, size_t errlen)
{
    proto_record *r = &it->rec;
    if (proto_record_decode(it->out, it->out_len, r, err, errlen))
        return -1;
    int res = apply_txn(s, txn, r, NULL, 1, NULL, err, errlen);
    if (res != STORE_NEW) {
        if (res > 0 && err && !err[0])
            proto_err(err, errlen, "record refused: %s", store_result_str(res));
        return -1;
    }
    return 0;
}

int store_write_many(store *s, EVP_PKEY *priv, store_write_item *items, size_t n,
                     char *err, size_t errlen)
{
    MDB_txn *txn;
    proto_id self, g;
    int rc;
    if (err && errlen)
        err[0] = 0;
    for (size_t i = 0; i < n; i++) {
        items[i].out = NULL;
        if (kind_of(items[i].kind)->id == KIND_GENESIS)
            return proto_err(err, errlen, "genesis records are made by 'alliance create'");
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    s->nactive_ok = 0;   /* counted afresh in each write transaction */
    if (meta_id(s, txn, "self", &self)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "store has no node identity");
    }
    if (meta_id(s, txn, "genesis", &g)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "this node belongs to no alliance yet "
                         "(run 'catalogctl alliance create' or join one)");
    }
    /* Records written under a genesis not yet checked would be dropped
     * with it if it is refused, and this node's seq would start again:
     * its own log would fork (docs/DECISIONS.md 1). */
    {
        uint8_t fl = 0;
        size_t fn = 1;
        if (meta_get_txn(s, txn, "genesis_unchecked", &fl, &fn) == 0 && fn == 1 && fl) {
            mdb_txn_abort(txn);
            return proto_err(err, errlen, "this node has not yet checked the genesis its sponsor sent "
                             "(it is still receiving the alliance's membership from the sponsor): "
                             "nothing can be written until it is pinned (the daemon logs "
                             "'genesis ... pinned')");
        }
    }
    if (!is_member_txn(s, txn, &self)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "this node is not (yet) a current member of the alliance");
    }
    /* The seq is the author's next; it is persisted in the same commit as the
     * record, before the record can leave this node. */
    uint64_t seq = vv_get_txn(s, txn, &self);
    /* Never at or below a seq this node signed before, wherever that version
     * is held (log, forks, apart): signing it again would equivocate on its
     * own log (a log shortened by a re-judge must come back first) */
    uint64_t own = versions_own_top_txn(s, txn, &self);
    if (own > seq) {
        mdb_txn_abort(txn);
        if (own == UINT64_MAX)
            return proto_err(err, errlen, "reading this node's own versions failed (store damaged?)");
        return proto_err(err, errlen, "this node holds its own records up to seq %llu but its log ends at %llu: "
                         "writing seq %llu would sign a seq again (it writes once its log holds them)",
                         (unsigned long long)own, (unsigned long long)seq, (unsigned long long)seq + 1);
    }
    if (keys_check_signer_txn(s, txn, &self, seq + 1, priv, err, errlen)) {
        mdb_txn_abort(txn);
        return -1;
    }
    if (sign_all(priv, &g, &self, items, n, seq + 1, err, errlen)) {
        mdb_txn_abort(txn);
        return -1;
    }
    s->member_dirty = 0;
    s->rk_moved_n = 0;
    s->rk_moved_all = 0;
    for (size_t i = 0; i < n; i++) {
        if (member_settle_txn(s, txn) || apply_own(s, txn, &items[i], err, errlen)) {
            mdb_txn_abort(txn);
            cache_clear(s);
            for (size_t k = 0; k < n; k++) {
                free(items[k].out);
                items[k].out = NULL;
            }
            return -1;
        }
    }
    if (member_settle_txn(s, txn)) {
        mdb_txn_abort(txn);
        cache_clear(s);
        for (size_t k = 0; k < n; k++) {
            free(items[k].out);
            items[k].out = NULL;
        }
        return proto_err(err, errlen, "deriving membership or the policy failed (store full or damaged?)");
    }
    if ((rc = mdb_txn_commit(txn))) {
        cache_clear(s);
        for (size_t k = 0; k < n; k++) {
            free(items[k].out);
            items[k].out = NULL;
        }
        return lmdb_err(err, errlen, "commit", rc);
    }
    scanned(s, SCAN_CHECK);   /* after every write transaction */
    return 0;
}

int store_write(store *s, EVP_PKEY *priv, const char *kind, const char *key,
                uint32_t flags, const proto_body *body, uint8_t **out, size_t *out_len,
                char *err, size_t errlen)
{
    store_write_item it = { .kind = kind, .key = key, .flags = flags, .body = body };
    if (store_write_many(s, priv, &it, 1, err, errlen))
        return -1;
    if (out) {
        *out = it.out;
        *out_len = it.out_len;
    } else {
        free(it.out);
    }
    return 0;
}

int store_create_genesis(store *s, EVP_PKEY *priv, const uint8_t *cert_der, size_t cert_len,
                         const char *code, const char *member_name, const char *alliance_name,
                         uint32_t admission, const char *address, char *err, size_t errlen)
{
    MDB_txn *txn;
    proto_id self, g, zero = { { 0 } };
    int rc;
    if (!alliance_name[0] || strlen(alliance_name) > 200 ||
        !proto_utf8_valid(alliance_name, strlen(alliance_name)))
        return proto_err(err, errlen, "alliance name must be 1..200 bytes of UTF-8");
    if (admission < 1 || admission > 1000)
        return proto_err(err, errlen, "admission must be between 1 and 1000 endorsements");
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    s->nactive_ok = 0;   /* counted afresh in each write transaction */
    s->member_dirty = 0;
    if (meta_id(s, txn, "genesis", &g) == 0) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "this node already belongs to an alliance");
    }
    if (meta_id(s, txn, "self", &self)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "store has no node identity");
    }
    proto_body *b = proto_body_new();
    if (!b) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "out of memory");
    }
    proto_body_str(b, "alliance", alliance_name);
    proto_body_int(b, "admission", admission);
    proto_body_str(b, "code", code);
    proto_body_str(b, "name", member_name);
    if (address && address[0])
        proto_body_str(b, "address", address);
    proto_body_bin(b, "cert", cert_der, cert_len);
    store_write_item it = { .kind = "genesis", .key = "genesis", .body = b };
    rc = sign_all(priv, &zero, &self, &it, 1, 1, err, errlen) || apply_own(s, txn, &it, err, errlen) ||
         member_settle_txn(s, txn);
    free(it.out);
    proto_body_free(b);
    if (rc == 0) {
        /* founded here: nothing to check against a sponsor */
        MDB_val uk = { 17, "genesis_unchecked" };
        int drc = mdb_del(txn, s->meta, &uk, NULL);
        rc = drc && drc != MDB_NOTFOUND ? lmdb_err(err, errlen, "meta", drc) : 0;
    }
    if (rc) {
        mdb_txn_abort(txn);
        cache_clear(s);
        return -1;
    }
    if ((rc = mdb_txn_commit(txn))) {
        cache_clear(s);
        return lmdb_err(err, errlen, "commit", rc);
    }
    return 0;
}

