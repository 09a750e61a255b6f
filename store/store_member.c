/*
 * store/store_member.c — the alliance's membership, as derived from genesis
 * and member records (DESIGN §2): the members and endorse databases, the
 * member-record rules, and the cache of member keys that every precheck
 * asks.
 *
 * A member record about X (key: X's member id in lowercase hex) says
 * admit (with X's certificate), expel, leave or address (rotate and rekey:
 * X's keys, store_keys.c and store_rekey.c).  X is active once
 * min(the admission quorum of the policy in force (store_policy.c), active
 * members) current members have admitted it, expelled once its expulsion
 * quorum have expelled it, and has left once it signs leave.
 * Only the votes of members active now count.
 *
 * What is derived is a function of the log alone: the replay of
 * store/store_replay.c is the rule (docs/DECISIONS.md 6), the incremental
 * apply_member the fast path that equals it while records come in the
 * replay's order; a write transaction that leaves that order replays before
 * its next record and before it commits.
 *
 * A caller may rely on: store_member_validate depending on the record alone
 * (it is the member entry's validator in store/kind.c); keys from
 * member_key_txn / store_member_key being up-ref'd, so they stay usable
 * after membership changes and on any thread.  apply_member expects a
 * record that passed the precheck in the same write transaction.
 */
#include "store/store_int.h"
#include "store/kind.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "catalog/jp.h"
#include "certs/certs.h"

#include <msgpack.h>
#include <openssl/x509.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

/* ---- the members table ---- */

static int member_pack(const store_member *m, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    size_t cl = strlen(m->code), nl = strlen(m->name), al = strlen(m->address);
    return msgpack_pack_array(&pk, 7) ||
           msgpack_pack_int(&pk, m->status) ||
           msgpack_pack_str(&pk, cl) || msgpack_pack_str_body(&pk, m->code, cl) ||
           msgpack_pack_str(&pk, nl) || msgpack_pack_str_body(&pk, m->name, nl) ||
           msgpack_pack_str(&pk, al) || msgpack_pack_str_body(&pk, m->address, al) ||
           msgpack_pack_bin(&pk, 32) || msgpack_pack_bin_body(&pk, m->admitted_by.b, 32) ||
           msgpack_pack_uint64(&pk, m->since_ms) ||
           msgpack_pack_bin(&pk, m->spki_len) || msgpack_pack_bin_body(&pk, m->spki, m->spki_len);
}

static int member_unpack(const proto_id *id, const void *buf, size_t len, store_member *m)
{
    proto_rd r;
    uint32_t n, bl;
    int64_t st;
    const uint8_t *b;
    memset(m, 0, sizeof *m);
    m->id = *id;
    proto_rd_init(&r, buf, len);
    proto_rd_array(&r, &n);
    proto_rd_int(&r, &st);
    proto_rd_strcpy(&r, m->code, sizeof m->code);
    proto_rd_strcpy(&r, m->name, sizeof m->name);
    proto_rd_strcpy(&r, m->address, sizeof m->address);
    proto_rd_binfix(&r, m->admitted_by.b, 32);
    proto_rd_uint(&r, &m->since_ms);
    proto_rd_bin(&r, &b, &bl);
    if (r.err || n != 7 || bl > sizeof m->spki)
        return -1;
    m->status = (int)st;
    memcpy(m->spki, b, bl);
    m->spki_len = bl;
    return 0;
}

int member_get_txn(store *s, MDB_txn *txn, const proto_id *id, store_member *m)
{
    MDB_val k = { 32, (void *)id->b }, v;
    int rc = mdb_get(txn, s->members, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return -1;
    return member_unpack(id, v.mv_data, v.mv_size, m);
}

/* m->endorsements is derived, not stored: count the admits about m now. */
static void member_endorsements(store *s, MDB_txn *txn, store_member *m)
{
    MDB_cursor *c;
    MDB_val k = { 32, m->id.b }, v;
    m->endorsements = 0;
    if (mdb_cursor_open(txn, s->endorse, &c))
        return;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 64 && memcmp(k.mv_data, m->id.b, 32) == 0) {
        if (v.mv_size == 1 && *(uint8_t *)v.mv_data == MEMBER_OP_ADMIT)
            m->endorsements++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
}

static void keycache_drop(store *s)
{
    if (!s->cache_any)
        return;
    s->cache_any = 0;
    for (size_t i = 0; i < KEYCACHE; i++) {
        EVP_PKEY_free(s->cache[i].key);
        s->cache[i].key = NULL;
    }
}

int member_put_txn(store *s, MDB_txn *txn, const store_member *m)
{
    msgpack_sbuffer sb;
    int was = 0;
    if (s->nactive_ok) {
        store_member *old = malloc(sizeof *old);
        int have = old ? member_get_txn(s, txn, &m->id, old) : -1;
        if (have < 0)
            s->nactive_ok = 0;
        else
            was = have == 0 && old->status == STORE_MEMBER_ACTIVE;
        free(old);
    }
    if (member_pack(m, &sb)) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    MDB_val k = { 32, (void *)m->id.b }, v = { sb.size, sb.data };
    int rc = mdb_put(txn, s->members, &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
    /* a pending member's records apply no more than a stranger's (its key
     * is no member's key: key_at_txn), so records waiting on it need not
     * look; a replay writes every pending entry again */
    if (m->status != STORE_MEMBER_PENDING)
        author_changed(s, &m->id);
    /* a former member's log ends at its cut before this transaction
     * commits (store_gov.c, former_settle_txn) */
    if (m->status == STORE_MEMBER_LEFT || m->status == STORE_MEMBER_EXPELLED)
        s->former_dirty = 1;
    /* m's membership changed: its key is looked up afresh (a key is
     * cached in the slot of its member's id, and no other member's key
     * depends on m's entry) */
    size_t slot;
    memcpy(&slot, m->id.b, sizeof slot);
    slot &= KEYCACHE - 1;
    EVP_PKEY_free(s->cache[slot].key);
    s->cache[slot].key = NULL;
    if (rc)
        s->nactive_ok = 0;
    else if (s->nactive_ok)
        s->nactive = s->nactive - (uint32_t)was + (m->status == STORE_MEMBER_ACTIVE);
    return rc ? -1 : 0;
}

int member_status_txn(store *s, MDB_txn *txn, const proto_id *id, int *status)
{
    store_member m;
    int rc = member_get_txn(s, txn, id, &m);
    if (rc == 0)
        *status = m.status;
    return rc;
}

int is_member_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    store_member m;
    return member_get_txn(s, txn, id, &m) == 0 && m.status == STORE_MEMBER_ACTIVE;
}

int store_member_get(store *s, const proto_id *id, store_member *out)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = member_get_txn(s, txn, id, out);
    if (rc == 0)
        member_endorsements(s, txn, out);
    mdb_txn_abort(txn);
    return rc;
}

int store_snap_member_get(store_snap *n, const proto_id *id, store_member *out)
{
    int rc = member_get_txn(n->s, n->txn, id, out);
    if (rc == 0)
        member_endorsements(n->s, n->txn, out);
    return rc;
}

int store_members(store *s, store_member_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    store_member *m = malloc(sizeof *m);
    int rc = 0, op = MDB_FIRST;
    if (!m || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) {
        free(m);
        return -1;
    }
    if (mdb_cursor_open(txn, s->members, &c) == 0) {
        while (rc == 0 && mdb_cursor_get(c, &k, &v, op) == 0) {
            op = MDB_NEXT;
            if (k.mv_size == 32 && member_unpack(k.mv_data, v.mv_data, v.mv_size, m) == 0) {
                member_endorsements(s, txn, m);
                rc = cb(ctx, m);
            }
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    free(m);
    return rc;
}

/* ---- member keys ---- */

void cache_clear(store *s)
{
    keycache_drop(s);
    s->nactive_ok = 0;
}

/* ---- changes of authors (store_changed) ---- */

void author_changed(store *s, const proto_id *id)
{
    if (!id) {
        s->chg_all = ++s->chg;
        return;
    }
    /* a run of one author's records: once, while no waiter read the
     * count since the run's first */
    if (s->chg > s->chg_all && s->chg > s->chg_read && !memcmp(&s->chg_ring[(s->chg - 1) % CHG_RING], id, 32))
        return;
    s->chg_ring[s->chg % CHG_RING] = *id;
    s->chg++;
}

uint64_t store_changes(store *s)
{
    s->chg_read = s->chg;
    return s->chg;
}

int store_changed(store *s, uint64_t since, void (*cb)(void *ctx, const proto_id *id), void *ctx)
{
    if (since > s->chg || since < s->chg_all || s->chg - since > CHG_RING)
        return 1;
    for (uint64_t c = since; c < s->chg; c++)
        cb(ctx, &s->chg_ring[c % CHG_RING]);
    return 0;
}

EVP_PKEY *key_from_spki(const uint8_t *der, size_t len)
{
    const uint8_t *p = der;
    return d2i_PUBKEY(NULL, &p, (long)len);
}

/* The current key: keys over time are store_keys.c's. */
EVP_PKEY *member_key_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    return key_at_txn(s, txn, id, UINT64_MAX);
}

EVP_PKEY *store_member_key(store *s, const proto_id *id)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return NULL;
    EVP_PKEY *k = member_key_txn(s, txn, id);
    mdb_txn_abort(txn);
    return k;
}

/* ---- member records ---- */

int decode_cert_member(const proto_record *r, store_member *m, char *err, size_t errlen)
{
    const uint8_t *der;
    size_t dl;
    memset(m, 0, sizeof *m);
    if (proto_body_get_bin(r, "cert", &der, &dl))
        return proto_err(err, errlen, "%s record lacks the member's certificate", r->kind);
    /* the same key rules as everywhere else (types, RSA size, curve) */
    certs_identity ci;
    char why[256];
    if (certs_parse(der, dl, &ci, why, sizeof why))
        return proto_err(err, errlen, "%s record: certificate refused: %s", r->kind, why);
    X509 *x = ci.cert;
    ci.cert = NULL;
    certs_free(&ci);
    EVP_PKEY *pub = X509_get0_pubkey(x);
    uint8_t *spki = NULL;
    int sl = pub ? i2d_PUBKEY(pub, &spki) : -1;
    X509_free(x);
    if (sl <= 0 || (size_t)sl > sizeof m->spki) {
        OPENSSL_free(spki);
        return proto_err(err, errlen, "%s record: certificate key unusable", r->kind);
    }
    memcpy(m->spki, spki, (size_t)sl);
    m->spki_len = (size_t)sl;
    SHA256(spki, (size_t)sl, m->id.b);
    OPENSSL_free(spki);
    if (proto_body_copy_str(r, "code", m->code, sizeof m->code) ||
        jp_municipality_code_valid(m->code, NULL, 0))
        return proto_err(err, errlen, "%s record: missing or invalid municipality code", r->kind);
    if (proto_body_copy_str(r, "name", m->name, sizeof m->name))
        return proto_err(err, errlen, "%s record: missing or oversized member name", r->kind);
    proto_body_copy_str(r, "address", m->address, sizeof m->address);
    return 0;
}

/* ---- decoded admissions, remembered ---- */

#define ADMIT_MEMO 4096   /* slots, power of two: an alliance of 1,788 fits */
#define ADMIT_PROBE 8

struct admit_memo {
    proto_id h;            /* the record's hash; zero: empty */
    proto_id id;
    char code[8], name[192], address[256];
    uint8_t *spki;
    size_t spki_len;
};

void admit_memo_free(store *s)
{
    for (size_t i = 0; s->admits && i < ADMIT_MEMO; i++)
        free(s->admits[i].spki);
    free(s->admits);
    s->admits = NULL;
}

int decode_cert_member_memo(store *s, const proto_record *r, store_member *m)
{
    proto_id h;
    size_t slot;
    proto_record_hash(r->raw, r->raw_len, &h);
    memcpy(&slot, h.b, sizeof slot);
    slot &= ADMIT_MEMO - 1;
    /* calloc'd: slots never touched take no memory */
    if (!s->admits)
        s->admits = calloc(ADMIT_MEMO, sizeof *s->admits);
    /* up to ADMIT_PROBE slots from the record's own: with one slot, the
     * admissions whose hashes meet (some 170 pairs among 1,788 members in
     * 4,096 slots) put each other out at every replay, a certificate
     * parse each time (about half a replay's cost); the first empty one
     * is taken, the record's own when all are in use */
    struct admit_memo *e = NULL;
    for (size_t i = 0; s->admits && i < ADMIT_PROBE; i++) {
        struct admit_memo *c = &s->admits[(slot + i) & (ADMIT_MEMO - 1)];
        if (c->spki && !memcmp(&c->h, &h, 32)) {
            e = c;
            break;
        }
        if (!c->spki && !e)
            e = c;
    }
    if (!e && s->admits)
        e = &s->admits[slot];
    if (e && e->spki && !memcmp(&e->h, &h, 32)) {
        memset(m, 0, sizeof *m);
        m->id = e->id;
        memcpy(m->code, e->code, sizeof m->code);
        memcpy(m->name, e->name, sizeof m->name);
        memcpy(m->address, e->address, sizeof m->address);
        memcpy(m->spki, e->spki, e->spki_len);
        m->spki_len = e->spki_len;
        return 0;
    }
    if (decode_cert_member(r, m, NULL, 0))
        return -1;
    uint8_t *k = e ? malloc(m->spki_len) : NULL;
    if (k) {
        free(e->spki);
        memcpy(k, m->spki, m->spki_len);
        e->h = h;
        e->id = m->id;
        memcpy(e->code, m->code, sizeof e->code);
        memcpy(e->name, m->name, sizeof e->name);
        memcpy(e->address, m->address, sizeof e->address);
        e->spki = k;
        e->spki_len = m->spki_len;
    }
    return 0;
}

int member_op(const proto_record *r)
{
    char op[16];
    if (proto_body_copy_str(r, "op", op, sizeof op))
        return 0;
    if (!strcmp(op, "admit")) return MEMBER_OP_ADMIT;
    if (!strcmp(op, "expel")) return MEMBER_OP_EXPEL;
    if (!strcmp(op, "leave")) return MEMBER_OP_LEAVE;
    if (!strcmp(op, "address")) return MEMBER_OP_ADDRESS;
    if (!strcmp(op, "rotate")) return MEMBER_OP_ROTATE;
    if (!strcmp(op, "rekey")) return MEMBER_OP_REKEY;
    return 0;
}

/* An expulsion's reason: absent (recorded before reasons were), or a
 * string of 1..STORE_EXPEL_REASON_MAX bytes of UTF-8 without NUL. */
static int expel_reason_check(const proto_record *r, char *err, size_t errlen)
{
    proto_rd rd;
    uint32_t n, kl, vl;
    const char *k, *v;
    proto_rd_init(&rd, r->body, r->body_len);
    if (proto_rd_map(&rd, &n))
        return proto_err(err, errlen, "member record body is not a map");
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(&rd, &k, &kl))
            return proto_err(err, errlen, "member record body is malformed");
        if (kl != 6 || memcmp(k, "reason", 6)) {
            if (proto_rd_skip(&rd, 8))
                return proto_err(err, errlen, "member record body is malformed");
            continue;
        }
        if (proto_rd_str(&rd, &v, &vl) || vl < 1 || vl > STORE_EXPEL_REASON_MAX || memchr(v, 0, vl) ||
            !proto_utf8_valid(v, vl))
            return proto_err(err, errlen, "an expel record's reason must be 1 to %u bytes of UTF-8",
                             STORE_EXPEL_REASON_MAX);
    }
    return 0;
}

/* The rules of a member record that depend on the record alone; checked in
 * every precheck (and so again in the write transaction). */
int store_member_validate(const proto_record *r, char *err, size_t errlen)
{
    proto_id subj;
    char canon[65];
    if (strlen(r->key) != 64 || proto_unhex(r->key, subj.b, 32) ||
        (proto_hex(subj.b, 32, canon), strcmp(canon, r->key)))
        return proto_err(err, errlen, "member record key must be the subject's member id in lowercase hex");
    if (r->flags & PROTO_FLAG_TOMBSTONE)
        return proto_err(err, errlen, "member records cannot be deleted");
    int op = member_op(r);
    if (!op)
        return proto_err(err, errlen, "member record has no valid op (admit, expel, leave, address, rotate, rekey)");
    if (op == MEMBER_OP_ROTATE)
        return keys_rotate_validate(r, err, errlen);
    if (op == MEMBER_OP_REKEY)
        return rekey_validate(r, err, errlen);
    if ((op == MEMBER_OP_LEAVE || op == MEMBER_OP_ADDRESS) && memcmp(&subj, &r->author, 32))
        return proto_err(err, errlen, "only a member itself may announce its address or leave");
    if ((op == MEMBER_OP_ADMIT || op == MEMBER_OP_EXPEL) && !memcmp(&subj, &r->author, 32))
        return proto_err(err, errlen, "a member cannot admit or expel itself");
    if (op == MEMBER_OP_EXPEL && expel_reason_check(r, err, errlen))
        return -1;
    if (op == MEMBER_OP_ADMIT) {
        store_member m;
        if (decode_cert_member(r, &m, err, errlen))
            return -1;
        if (memcmp(&m.id, &subj, 32))
            return proto_err(err, errlen, "member record key does not match the certificate's key");
    }
    return 0;
}


/* Membership of `subject` is derived from every current member's latest
 * member record about it: admitted once `admission` members endorse it. */
static int member_recount(store *s, MDB_txn *txn, store_member *m, uint64_t time_ms)
{
    uint32_t admission, expulsion;
    policy_quorums_at_txn(s, txn, time_ms, &admission, &expulsion);   /* in force at the record's time */
    MDB_cursor *c;
    MDB_val k = { 32, m->id.b }, v;
    uint32_t admits = 0, expels = 0;
    if (mdb_cursor_open(txn, s->endorse, &c))
        return -1;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 64 && memcmp(k.mv_data, m->id.b, 32) == 0) {
        uint8_t op = *(uint8_t *)v.mv_data;
        /* only endorsers who are members now count (a departed member's
         * old votes do not) */
        proto_id endorser;
        store_member em;
        memcpy(endorser.b, (uint8_t *)k.mv_data + 32, 32);
        int active = member_get_txn(s, txn, &endorser, &em) == 0 && em.status == STORE_MEMBER_ACTIVE;
        if (op == MEMBER_OP_ADMIT && active) admits++;
        if (op == MEMBER_OP_EXPEL && active) expels++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    m->endorsements = admits;
    if (m->status == STORE_MEMBER_LEFT)
        return 0;
    if (expels >= expulsion)
        m->status = STORE_MEMBER_EXPELLED;
    else if (m->status == STORE_MEMBER_PENDING && admits >= member_quorum_txn(s, txn, admission))
        m->status = STORE_MEMBER_ACTIVE;
    return 0;
}

int apply_member(store *s, MDB_txn *txn, const proto_record *r)
{
    proto_id subj;
    store_member m;
    int op = member_op(r);
    if (op == MEMBER_OP_ROTATE)
        return keys_apply_rotate_txn(s, txn, r);   /* keys, not membership */
    if (op == MEMBER_OP_REKEY)
        return 0;   /* a vote: only the replay's rounds decide (store_rekey.c) */
    proto_unhex(r->key, subj.b, 32);
    int have = member_get_txn(s, txn, &subj, &m);
    if (have < 0)
        return -1;
    if (op == MEMBER_OP_ADMIT && have == 1) {
        /* checked when stored; a certificate a later OpenSSL no longer
         * parses derives nothing rather than failing the write or the
         * replay (every node running that version derives the same) */
        if (decode_cert_member_memo(s, r, &m))
            return 1;
        m.status = STORE_MEMBER_PENDING;
        m.admitted_by = r->author;
        m.since_ms = r->time_ms;
    } else if (have == 1) {
        /* A record about a member we have not seen admitted: keep the
         * record, derive nothing yet (it cannot be the subject's own, since
         * unknown authors are not accepted). */
        memset(&m, 0, sizeof m);
        m.id = subj;
    }
    if (op == MEMBER_OP_ADDRESS)
        proto_body_copy_str(r, "address", m.address, sizeof m.address);
    if (op == MEMBER_OP_LEAVE) {
        m.status = STORE_MEMBER_LEFT;
        if (member_cut_note_txn(s, txn, &subj, r->seq, 0))
            return -1;
    }
    if (op == MEMBER_OP_EXPEL) {
        /* the voter's view of the subject's log: the cut once expelled */
        int64_t held = 0;
        proto_body_get_int(r, "seq", &held);
        if (member_cut_note_txn(s, txn, &subj, held > 0 ? (uint64_t)held : 0, 1))
            return -1;
    }
    if (op == MEMBER_OP_ADMIT || op == MEMBER_OP_EXPEL) {
        uint8_t kb[64], o = (uint8_t)op;
        memcpy(kb, subj.b, 32);
        memcpy(kb + 32, r->author.b, 32);
        MDB_val k = { 64, kb }, v = { 1, &o };
        if (mdb_put(txn, s->endorse, &k, &v, 0))
            return -1;
        if (op == MEMBER_OP_ADMIT && m.address[0] == 0)
            proto_body_copy_str(r, "address", m.address, sizeof m.address);
    }
    if (m.spki_len == 0)
        return 0;   /* never admitted: nothing to derive */
    if (member_recount(s, txn, &m, r->time_ms))
        return -1;
    return member_put_txn(s, txn, &m);
}

/* The member entry a genesis founds: its author, active from its time. */
int genesis_member(const proto_record *r, store_member *m, char *err, size_t errlen)
{
    if (decode_cert_member(r, m, err, errlen))
        return -1;
    m->status = STORE_MEMBER_ACTIVE;
    m->since_ms = r->time_ms;
    return 0;
}

/* ---- the genesis chain check (docs/DECISIONS.md 1) ---- */

int store_genesis_check(store *s, proto_id *sponsor, char *err, size_t errlen)
{
    MDB_txn *txn;
    uint8_t flag;
    size_t fl = 1, sl = 32;
    int rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    if (meta_get_txn(s, txn, "genesis_unchecked", &flag, &fl) || fl != 1 || !flag) {
        mdb_txn_abort(txn);
        return STORE_GENESIS_PINNED;
    }
    if (meta_get_txn(s, txn, "sponsor_id", sponsor->b, &sl) || sl != 32) {
        /* the sponsor was taken back: nothing to check the genesis against */
        mdb_txn_abort(txn);
        return STORE_GENESIS_WAIT;
    }
    /* the members derived from the log (a replay: what every node derives)
     * name the sponsor active: a chain of admissions leads to it */
    proto_id who;   /* sponsor_id is the key of the certificate join was given */
    int ko = key_owner_txn(s, txn, sponsor, &who);
    if (ko < 0) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "reading the sponsor's key");
    }
    if (ko == STORE_KEY_UNKNOWN || !is_member_txn(s, txn, &who)) {
        mdb_txn_abort(txn);
        return STORE_GENESIS_WAIT;
    }
    MDB_val k = { 17, "genesis_unchecked" };
    if ((rc = mdb_del(txn, s->meta, &k, NULL))) {
        mdb_txn_abort(txn);
        return lmdb_err(err, errlen, "pinning the genesis", rc);
    }
    if ((rc = mdb_txn_commit(txn)))   /* freed the transaction, failed or not */
        return lmdb_err(err, errlen, "pinning the genesis", rc);
    return STORE_GENESIS_PINNED;
}

int store_genesis_unchecked(store *s)
{
    uint8_t flag = 0;
    size_t fl = 1;
    return store_meta_get(s, "genesis_unchecked", &flag, &fl) == 0 && fl == 1 && flag;
}
