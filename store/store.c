/*
 * store/store.c — LMDB layout and the record rules; see store.h.
 *
 * Named databases (all keys binary; seq is 8-byte big-endian so keys sort):
 *   meta     name                              -> value
 *   log      author | seq                      -> record bytes (every version)
 *   ver      kind* | author | key 0 | seq      -> hash(32)          (history index)
 *   cur      kind* | author | key 0            -> seq(8) hash(32) flags(1)
 *   vv       author                            -> seq(8)
 *   members  id                                -> packed store_member
 *   endorse  subject | author                  -> op(1)
 *   forks    author | seq | hash               -> record bytes (losers of equivocation)
 * kind* is one length byte then the kind, so "a" never prefixes "ab".
 */
#include "store/store.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "catalog/jp.h"
#include "certs/certs.h"

#include <lmdb.h>
#include <msgpack.h>
#include <openssl/x509.h>
#include <openssl/sha.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>

#define KEYCACHE 4096   /* slots, power of two; more members than this just miss */

/* The store's pages mapped in this process are released when they have
 * grown past SCAN_RELEASE, checked every SCAN_CHECK bytes a scan reads and
 * after every write transaction. */
#define SCAN_RELEASE (8u << 20)
#define SCAN_CHECK (512u << 10)

struct store {
    MDB_env *env;
    size_t scanned;         /* bytes read by scans since the last release */
    void *map;              /* LMDB's map of the data file, if found */
    int statm;              /* /proc/self/statm, to see how much is mapped */
    long mapped_base;       /* mapped pages after the last release */
    size_t map_len;
    MDB_dbi meta, log, ver, cur, vv, members, endorse, forks;
    struct { proto_id id; EVP_PKEY *key; } cache[KEYCACHE];
};

enum { OP_ADMIT = 1, OP_EXPEL = 2, OP_LEAVE = 3, OP_ADDRESS = 4 };

const char *store_result_str(int r)
{
    static const char *s[] = { "new", "duplicate", "gap", "unknown author", "fork", "rejected" };
    return r >= 0 && r <= STORE_REJECT ? s[r] : "?";
}

static int lmdb_err(char *err, size_t errlen, const char *what, int rc)
{
    return proto_err(err, errlen, "%s: %s", what, mdb_strerror(rc));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* kind* | author | key 0  — returns length; buf must hold 1+32+32+256+1+8 */
static size_t ck_key(uint8_t *buf, const char *kind, const proto_id *author, const char *key)
{
    size_t kl = strlen(kind), yl = strlen(key), o = 0;
    buf[o++] = (uint8_t)kl;
    memcpy(buf + o, kind, kl);
    o += kl;
    memcpy(buf + o, author->b, 32);
    o += 32;
    memcpy(buf + o, key, yl);
    o += yl;
    buf[o++] = 0;
    return o;
}

#define CK_MAX (1 + PROTO_KIND_MAX + 32 + PROTO_KEY_MAX + 1 + 8)

static void find_map(store *s);
static void scanned(store *s, size_t n);

static void cache_clear(store *s)
{
    for (size_t i = 0; i < KEYCACHE; i++) {
        EVP_PKEY_free(s->cache[i].key);
        s->cache[i].key = NULL;
    }
}

int store_open(const char *dir, size_t map_mb, store **out, char *err, size_t errlen)
{
    store *s = calloc(1, sizeof *s);
    MDB_txn *txn = NULL;
    int rc;
    if (!s)
        return proto_err(err, errlen, "out of memory");
    s->statm = -1;
    if (mkdir(dir, 0700) && errno != EEXIST) {
        free(s);
        return proto_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    }
    if ((rc = mdb_env_create(&s->env)) ||
        (rc = mdb_env_set_maxdbs(s->env, 16)) ||
        (rc = mdb_env_set_mapsize(s->env, (map_mb ? map_mb : 4096) << 20)) ||
        (rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0600))) {
        lmdb_err(err, errlen, dir, rc);
        goto fail;
    }
    s->statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta)) ||
        (rc = mdb_dbi_open(txn, "log", MDB_CREATE, &s->log)) ||
        (rc = mdb_dbi_open(txn, "ver", MDB_CREATE, &s->ver)) ||
        (rc = mdb_dbi_open(txn, "cur", MDB_CREATE, &s->cur)) ||
        (rc = mdb_dbi_open(txn, "vv", MDB_CREATE, &s->vv)) ||
        (rc = mdb_dbi_open(txn, "members", MDB_CREATE, &s->members)) ||
        (rc = mdb_dbi_open(txn, "endorse", MDB_CREATE, &s->endorse)) ||
        (rc = mdb_dbi_open(txn, "forks", MDB_CREATE, &s->forks))) {
        lmdb_err(err, errlen, "opening tables", rc);
        goto fail;
    }
    /* Schema version: written on creation, checked on every open, so a
     * future layout change can never be read with old code by accident. */
    MDB_val k = { 6, "schema" }, v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t sv[8];
        put_be64(sv, STORE_SCHEMA);
        v.mv_size = 8;
        v.mv_data = sv;
        if ((rc = mdb_put(txn, s->meta, &k, &v, 0))) {
            lmdb_err(err, errlen, "writing schema", rc);
            goto fail;
        }
    } else if (rc) {
        lmdb_err(err, errlen, "reading schema", rc);
        goto fail;
    } else if (v.mv_size != 8 || get_be64(v.mv_data) != STORE_SCHEMA) {
        proto_err(err, errlen, "%s: store schema %llu, this program reads schema %d",
                  dir, v.mv_size == 8 ? (unsigned long long)get_be64(v.mv_data) : 0ULL, STORE_SCHEMA);
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        lmdb_err(err, errlen, "opening store", rc);
        goto fail;
    }
    find_map(s);
    *out = s;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    if (s->env)
        mdb_env_close(s->env);
    if (s->statm >= 0)
        close(s->statm);
    free(s);
    return -1;
}

void store_close(store *s)
{
    if (!s)
        return;
    cache_clear(s);
    mdb_env_close(s->env);
    if (s->statm >= 0)
        close(s->statm);
    free(s);
}

/* ---- meta ---- */

static int meta_get_txn(store *s, MDB_txn *txn, const char *name, void *buf, size_t *len)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    if (mdb_get(txn, s->meta, &k, &v))
        return -1;
    if (v.mv_size > *len)
        return -1;
    memcpy(buf, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

static int meta_put_txn(store *s, MDB_txn *txn, const char *name, const void *val, size_t len)
{
    MDB_val k = { strlen(name), (void *)name }, v = { len, (void *)val };
    return mdb_put(txn, s->meta, &k, &v, 0);
}

int store_meta_put(store *s, const char *name, const void *val, size_t len)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, 0, &txn))
        return -1;
    if (meta_put_txn(s, txn, name, val, len)) {
        mdb_txn_abort(txn);
        return -1;
    }
    return mdb_txn_commit(txn) ? -1 : 0;
}

int store_meta_get(store *s, const char *name, void *buf, size_t *len)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    int rc = meta_get_txn(s, txn, name, buf, len);
    mdb_txn_abort(txn);
    return rc;
}

static int meta_id(store *s, MDB_txn *txn, const char *name, proto_id *out)
{
    size_t n = sizeof out->b;
    return meta_get_txn(s, txn, name, out->b, &n) || n != 32 ? -1 : 0;
}

int store_bind_self(store *s, const proto_id *self, char *err, size_t errlen)
{
    MDB_txn *txn;
    proto_id cur;
    if (mdb_txn_begin(s->env, NULL, 0, &txn))
        return proto_err(err, errlen, "store busy");
    if (meta_id(s, txn, "self", &cur) == 0) {
        mdb_txn_abort(txn);
        if (memcmp(&cur, self, sizeof cur))
            return proto_err(err, errlen, "this store belongs to another node key");
        return 0;
    }
    if (meta_put_txn(s, txn, "self", self->b, 32) || mdb_txn_commit(txn)) {
        return proto_err(err, errlen, "cannot record node identity in store");
    }
    return 0;
}

static uint64_t count_of(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    return mdb_stat(txn, dbi, &st) ? 0 : st.ms_entries;
}

/* ---- members ---- */

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

static int member_get_txn(store *s, MDB_txn *txn, const proto_id *id, store_member *m)
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
        if (v.mv_size == 1 && *(uint8_t *)v.mv_data == OP_ADMIT)
            m->endorsements++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
}

static int member_put_txn(store *s, MDB_txn *txn, const store_member *m)
{
    msgpack_sbuffer sb;
    if (member_pack(m, &sb)) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    MDB_val k = { 32, (void *)m->id.b }, v = { sb.size, sb.data };
    int rc = mdb_put(txn, s->members, &k, &v, 0);
    msgpack_sbuffer_destroy(&sb);
    cache_clear(s);  /* membership changed: keys must be looked up afresh */
    return rc ? -1 : 0;
}

static int is_member_txn(store *s, MDB_txn *txn, const proto_id *id)
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

static EVP_PKEY *key_from_spki(const uint8_t *der, size_t len)
{
    const uint8_t *p = der;
    return d2i_PUBKEY(NULL, &p, (long)len);
}

static EVP_PKEY *member_key_txn(store *s, MDB_txn *txn, const proto_id *id)
{
    size_t slot;
    memcpy(&slot, id->b, sizeof slot);
    slot &= KEYCACHE - 1;
    if (s->cache[slot].key && memcmp(&s->cache[slot].id, id, 32) == 0) {
        EVP_PKEY_up_ref(s->cache[slot].key);
        return s->cache[slot].key;
    }
    store_member *m = malloc(sizeof *m);
    EVP_PKEY *k = NULL;
    if (m && member_get_txn(s, txn, id, m) == 0 && m->status == STORE_MEMBER_ACTIVE)
        k = key_from_spki(m->spki, m->spki_len);
    free(m);
    if (k) {
        EVP_PKEY_free(s->cache[slot].key);
        s->cache[slot].id = *id;
        s->cache[slot].key = k;
        EVP_PKEY_up_ref(k);
    }
    return k;
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

/* ---- info ---- */

static uint64_t vv_get_txn(store *s, MDB_txn *txn, const proto_id *author)
{
    MDB_val k = { 32, (void *)author->b }, v;
    if (mdb_get(txn, s->vv, &k, &v) || v.mv_size != 8)
        return 0;
    return get_be64(v.mv_data);
}

uint64_t store_vv_get(store *s, const proto_id *author)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return 0;
    uint64_t v = vv_get_txn(s, txn, author);
    mdb_txn_abort(txn);
    return v;
}

static int count_members(void *ctx, const store_member *m)
{
    if (m->status == STORE_MEMBER_ACTIVE)
        ++*(uint64_t *)ctx;
    return 0;
}

int store_info_get(store *s, store_info *out)
{
    MDB_txn *txn;
    size_t n;
    memset(out, 0, sizeof *out);
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    out->has_self = meta_id(s, txn, "self", &out->self) == 0;
    out->has_genesis = meta_id(s, txn, "genesis", &out->genesis) == 0;
    n = sizeof out->alliance - 1;
    if (meta_get_txn(s, txn, "alliance", out->alliance, &n) == 0)
        out->alliance[n] = 0;
    uint8_t a[8];
    n = 8;
    out->admission = meta_get_txn(s, txn, "admission", a, &n) == 0 && n == 8 ? (uint32_t)get_be64(a) : 1;
    meta_id(s, txn, "digest", &out->digest);
    out->records = count_of(txn, s->log);
    out->current = count_of(txn, s->cur);
    out->authors = count_of(txn, s->vv);
    out->forks = count_of(txn, s->forks);
    mdb_txn_abort(txn);
    store_members(s, count_members, &out->members);
    return 0;
}

int store_digest_get(store *s, proto_id *digest, proto_id *genesis, int *has_genesis)
{
    MDB_txn *txn;
    proto_id g;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (meta_id(s, txn, "digest", digest))
        memset(digest, 0, sizeof *digest);
    int hg = meta_id(s, txn, "genesis", &g) == 0;
    mdb_txn_abort(txn);
    if (genesis)
        *genesis = hg ? g : (proto_id){ { 0 } };
    if (has_genesis)
        *has_genesis = hg;
    return 0;
}

/* ---- applying records ---- */

static int decode_cert_member(const proto_record *r, store_member *m, char *err, size_t errlen)
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

/* Membership of `subject` is derived from every current member's latest
 * member record about it: admitted once `admission` members endorse it. */
static int member_recount(store *s, MDB_txn *txn, store_member *m, uint32_t admission)
{
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
        if (op == OP_ADMIT && active) admits++;
        if (op == OP_EXPEL && active) expels++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    m->endorsements = admits;
    if (m->status == STORE_MEMBER_LEFT)
        return 0;
    if (expels >= (admission > 1 ? admission : 2))
        m->status = STORE_MEMBER_EXPELLED;
    else if (m->status == STORE_MEMBER_PENDING && admits >= admission)
        m->status = STORE_MEMBER_ACTIVE;
    return 0;
}

static uint32_t admission_txn(store *s, MDB_txn *txn)
{
    uint8_t a[8];
    size_t n = 8;
    return meta_get_txn(s, txn, "admission", a, &n) == 0 && n == 8 ? (uint32_t)get_be64(a) : 1;
}

static int op_of(const proto_record *r)
{
    char op[16];
    if (proto_body_copy_str(r, "op", op, sizeof op))
        return 0;
    if (!strcmp(op, "admit")) return OP_ADMIT;
    if (!strcmp(op, "expel")) return OP_EXPEL;
    if (!strcmp(op, "leave")) return OP_LEAVE;
    if (!strcmp(op, "address")) return OP_ADDRESS;
    return 0;
}

/* Rules that depend on the record's content (genesis, member); checked in
 * the precheck and applied in the write transaction. */
static int check_kind_rules(store *s, MDB_txn *txn, const proto_record *r, char *err, size_t errlen)
{
    if (!strcmp(r->kind, "genesis"))
        return proto_err(err, errlen, "a second genesis record is not accepted");
    if (!strcmp(r->kind, "member")) {
        proto_id subj;
        char canon[65];
        if (strlen(r->key) != 64 || proto_unhex(r->key, subj.b, 32) ||
            (proto_hex(subj.b, 32, canon), strcmp(canon, r->key)))
            return proto_err(err, errlen, "member record key must be the subject's member id in lowercase hex");
        if (r->flags & PROTO_FLAG_TOMBSTONE)
            return proto_err(err, errlen, "member records cannot be deleted");
        int op = op_of(r);
        if (!op)
            return proto_err(err, errlen, "member record has no valid op (admit, expel, leave, address)");
        if ((op == OP_LEAVE || op == OP_ADDRESS) && memcmp(&subj, &r->author, 32))
            return proto_err(err, errlen, "only a member itself may announce its address or leave");
        if ((op == OP_ADMIT || op == OP_EXPEL) && !memcmp(&subj, &r->author, 32))
            return proto_err(err, errlen, "a member cannot admit or expel itself");
        if (op == OP_ADMIT) {
            store_member m;
            if (decode_cert_member(r, &m, err, errlen))
                return -1;
            if (memcmp(&m.id, &subj, 32))
                return proto_err(err, errlen, "member record key does not match the certificate's key");
        }
        (void)s; (void)txn;
    }
    return 0;
}

static int apply_member(store *s, MDB_txn *txn, const proto_record *r)
{
    proto_id subj;
    store_member m;
    int op = op_of(r);
    proto_unhex(r->key, subj.b, 32);
    int have = member_get_txn(s, txn, &subj, &m);
    if (have < 0)
        return -1;
    if (op == OP_ADMIT && have == 1) {
        if (decode_cert_member(r, &m, NULL, 0))
            return -1;
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
    if (op == OP_ADDRESS)
        proto_body_copy_str(r, "address", m.address, sizeof m.address);
    if (op == OP_LEAVE)
        m.status = STORE_MEMBER_LEFT;
    if (op == OP_ADMIT || op == OP_EXPEL) {
        uint8_t kb[64], o = (uint8_t)op;
        memcpy(kb, subj.b, 32);
        memcpy(kb + 32, r->author.b, 32);
        MDB_val k = { 64, kb }, v = { 1, &o };
        if (mdb_put(txn, s->endorse, &k, &v, 0))
            return -1;
        if (op == OP_ADMIT && m.address[0] == 0)
            proto_body_copy_str(r, "address", m.address, sizeof m.address);
    }
    if (m.spki_len == 0)
        return 0;   /* never admitted: nothing to derive */
    if (member_recount(s, txn, &m, admission_txn(s, txn)))
        return -1;
    return member_put_txn(s, txn, &m);
}

static int precheck_txn(store *s, MDB_txn *txn, const proto_record *r, EVP_PKEY **key,
                        char *err, size_t errlen)
{
    proto_id g;
    int has_g = meta_id(s, txn, "genesis", &g) == 0;
    if (key)
        *key = NULL;

    if (!strcmp(r->kind, "genesis")) {
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
    uint64_t have = vv_get_txn(s, txn, &r->author);
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
    } else if (r->seq > have + 1) {
        proto_err(err, errlen, "gap: have seq %llu of this author, got %llu",
                  (unsigned long long)have, (unsigned long long)r->seq);
        return STORE_GAP;
    }
    EVP_PKEY *k = member_key_txn(s, txn, &r->author);
    if (!k) {
        char id[PROTO_ID_STR];
        proto_id_str(&r->author, id);
        proto_err(err, errlen, "author %s is not a current member", id);
        return STORE_UNKNOWN_AUTHOR;
    }
    if (check_kind_rules(s, txn, r, err, errlen)) {
        EVP_PKEY_free(k);
        return STORE_REJECT;
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
    int rc = precheck_txn(s, txn, r, key, err, errlen);
    mdb_txn_abort(txn);
    return rc;
}

int store_precheck_batch(store *s, const proto_record *recs, size_t n, int *res, EVP_PKEY **keys,
                         char *err, size_t errlen)
{
    MDB_txn *txn;
    int rejected = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return proto_err(err, errlen, "store unavailable");
    for (size_t i = 0; i < n; i++) {
        char why[256];
        res[i] = precheck_txn(s, txn, &recs[i], &keys[i], why, sizeof why);
        if (res[i] == STORE_REJECT && !rejected++)
            proto_err(err, errlen, "%s", why);
    }
    mdb_txn_abort(txn);
    return 0;
}

static void digest_xor(proto_id *d, const uint8_t *h)
{
    for (int i = 0; i < 32; i++)
        d->b[i] ^= h[i];
}

/* Make the current pointer of (author, kind, key) match its highest version. */
static int recompute_current(store *s, MDB_txn *txn, const char *kind, const proto_id *author,
                             const char *key, proto_id *digest)
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
            proto_record_decode(lv.mv_data, lv.mv_size, &pr, NULL, 0) == 0)
            nw[40] = (uint8_t)pr.flags;
    }
    mdb_cursor_close(c);
    if (had && found && !memcmp(old, nw, 41))
        return 0;
    if (had)
        digest_xor(digest, old + 8);
    if (found) {
        digest_xor(digest, nw + 8);
        MDB_val nv = { 41, nw };
        return mdb_put(txn, s->cur, &k, &nv, 0) ? -1 : 0;
    }
    return had && mdb_del(txn, s->cur, &k, NULL) ? -1 : 0;
}

/* A new record of an author has that author's highest seq, so it is the
 * current version of its (kind, key): no need to search the history. */
static int set_current(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h, proto_id *digest)
{
    uint8_t ck[CK_MAX], nw[41];
    MDB_val k = { ck_key(ck, r->kind, &r->author, r->key), ck }, v;
    if (mdb_get(txn, s->cur, &k, &v) == 0 && v.mv_size == 41)
        digest_xor(digest, (uint8_t *)v.mv_data + 8);
    put_be64(nw, r->seq);
    memcpy(nw + 8, h->b, 32);
    nw[40] = (uint8_t)r->flags;
    digest_xor(digest, h->b);
    MDB_val nv = { 41, nw };
    return mdb_put(txn, s->cur, &k, &nv, 0) ? -1 : 0;
}

static int ver_put(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h, int del)
{
    uint8_t vk[CK_MAX];
    size_t l = ck_key(vk, r->kind, &r->author, r->key);
    put_be64(vk + l, r->seq);
    MDB_val k = { l + 8, vk }, v = { 32, (void *)h->b };
    return del ? mdb_del(txn, s->ver, &k, NULL) : mdb_put(txn, s->ver, &k, &v, 0);
}

/* Apply one checked and verified record inside txn. */
static int apply_txn(store *s, MDB_txn *txn, const proto_record *r, proto_id *digest,
                     char *err, size_t errlen)
{
    int pre = precheck_txn(s, txn, r, NULL, err, errlen);
    if (pre != STORE_NEW && pre != STORE_FORK)
        return pre;
    proto_id h;
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
            if (proto_record_decode(oldcopy, v.mv_size, &old, NULL, 0)) {
                free(oldcopy);
                return STORE_REJECT;
            }
            loser = &old;
            MDB_val nv = { r->raw_len, (void *)r->raw };
            if (mdb_put(txn, s->log, &k, &nv, 0) || ver_put(s, txn, &old, &held, 1) ||
                ver_put(s, txn, r, &h, 0) ||
                recompute_current(s, txn, old.kind, &old.author, old.key, digest) ||
                recompute_current(s, txn, r->kind, &r->author, r->key, digest)) {
                free(oldcopy);
                return -1;
            }
        }
        uint8_t fk[72];
        memcpy(fk, lk, 40);
        proto_record_hash(loser->raw, loser->raw_len, (proto_id *)(fk + 40));
        MDB_val fkv = { 72, fk }, fv = { loser->raw_len, (void *)loser->raw };
        int rc = mdb_put(txn, s->forks, &fkv, &fv, 0);
        free(oldcopy);
        return rc ? -1 : STORE_FORK;
    }

    if (!strcmp(r->kind, "genesis")) {
        store_member m;
        int64_t adm = 1;
        char name[256];
        if (decode_cert_member(r, &m, err, errlen))
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
        m.status = STORE_MEMBER_ACTIVE;
        m.since_ms = r->time_ms;
        if (meta_put_txn(s, txn, "genesis", h.b, 32) ||
            meta_put_txn(s, txn, "alliance", name, strlen(name)) ||
            meta_put_txn(s, txn, "admission", a, 8) || member_put_txn(s, txn, &m))
            return -1;
    } else if (!strcmp(r->kind, "member")) {
        if (apply_member(s, txn, r))
            return -1;
    }

    v.mv_size = r->raw_len;
    v.mv_data = (void *)r->raw;
    uint8_t sb[8];
    put_be64(sb, r->seq);
    MDB_val vk = { 32, (void *)r->author.b }, vv = { 8, sb };
    if (mdb_put(txn, s->log, &k, &v, 0) || mdb_put(txn, s->vv, &vk, &vv, 0) ||
        ver_put(s, txn, r, &h, 0) || set_current(s, txn, r, &h, digest))
        return -1;
    return STORE_NEW;
}

static int load_digest(store *s, MDB_txn *txn, proto_id *d)
{
    if (meta_id(s, txn, "digest", d))
        memset(d, 0, sizeof *d);
    return 0;
}

int store_apply_batch(store *s, const proto_record *recs, size_t n, int *results,
                      char *err, size_t errlen)
{
    MDB_txn *txn;
    proto_id digest;
    int rc;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    load_digest(s, txn, &digest);
    for (size_t i = 0; i < n; i++) {
        int r = apply_txn(s, txn, &recs[i], &digest, NULL, 0);
        if (r < 0) {
            mdb_txn_abort(txn);
            cache_clear(s);
            return proto_err(err, errlen, "write failed (store full or damaged?)");
        }
        results[i] = r;
    }
    if (meta_put_txn(s, txn, "digest", digest.b, 32) || (rc = mdb_txn_commit(txn))) {
        if (!rc)
            mdb_txn_abort(txn);
        cache_clear(s);
        return proto_err(err, errlen, "commit failed: %s", rc ? mdb_strerror(rc) : "meta");
    }
    /* writing reads B-tree pages through the map (and the kernel maps their
     * neighbours too): release them like a scan's */
    scanned(s, SCAN_CHECK);   /* after every write transaction */
    return 0;
}

static int sign_and_apply(store *s, MDB_txn *txn, EVP_PKEY *priv, const proto_id *alliance,
                          const proto_id *author, const char *kind, const char *key, uint64_t seq,
                          uint32_t flags, const proto_body *body, uint8_t **out, size_t *out_len,
                          char *err, size_t errlen)
{
    uint8_t *rec;
    size_t len;
    proto_record r;
    proto_id digest;
    if (proto_record_sign(alliance, author, kind, key, seq, proto_now_ms(), flags, body, priv,
                          &rec, &len, err, errlen))
        return -1;
    if (proto_record_decode(rec, len, &r, err, errlen)) {
        free(rec);
        return -1;
    }
    load_digest(s, txn, &digest);
    int res = apply_txn(s, txn, &r, &digest, err, errlen);
    if (res != STORE_NEW) {
        free(rec);
        if (res > 0 && err && !err[0])
            proto_err(err, errlen, "record refused: %s", store_result_str(res));
        return -1;
    }
    if (meta_put_txn(s, txn, "digest", digest.b, 32)) {
        free(rec);
        return proto_err(err, errlen, "store write failed");
    }
    if (out) {
        *out = rec;
        *out_len = len;
    } else {
        free(rec);
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
        if (!strcmp(items[i].kind, "genesis"))
            return proto_err(err, errlen, "genesis records are made by 'alliance create'");
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        return lmdb_err(err, errlen, "begin write", rc);
    if (meta_id(s, txn, "self", &self)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "store has no node identity");
    }
    if (meta_id(s, txn, "genesis", &g)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "this node belongs to no alliance yet "
                         "(run 'catalogctl alliance create' or join one)");
    }
    if (!is_member_txn(s, txn, &self)) {
        mdb_txn_abort(txn);
        return proto_err(err, errlen, "this node is not (yet) a current member of the alliance");
    }
    /* The seq is the author's next; it is persisted in the same commit as the
     * record, before the record can leave this node. */
    uint64_t seq = vv_get_txn(s, txn, &self);
    for (size_t i = 0; i < n; i++) {
        if (sign_and_apply(s, txn, priv, &g, &self, items[i].kind, items[i].key, ++seq,
                           items[i].flags, items[i].body, &items[i].out, &items[i].out_len,
                           err, errlen)) {
            mdb_txn_abort(txn);
            cache_clear(s);
            for (size_t k = 0; k < i; k++) {
                free(items[k].out);
                items[k].out = NULL;
            }
            return -1;
        }
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
    store_write_item it = { kind, key, flags, body, NULL, 0 };
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
    rc = sign_and_apply(s, txn, priv, &zero, &self, "genesis", "genesis", 1, 0, b, NULL, NULL,
                        err, errlen);
    proto_body_free(b);
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

/* ---- reads ---- */

/* Where LMDB mapped the data file (MDB_envinfo tells only for MDB_FIXEDMAP):
 * the mapping in /proc/self/maps that holds a value just read from the
 * store and belongs to the data file's device and inode.  If none does, no
 * pages are ever released. */
static void find_map(store *s)
{
    mdb_filehandle_t fd;
    struct stat st;
    MDB_txn *txn;
    char line[512];
    MDB_val k = { 6, "schema" }, v;
    if (mdb_env_get_fd(s->env, &fd) || fstat(fd, &st))
        return;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return;
    int rc = mdb_get(txn, s->meta, &k, &v);
    unsigned long inside = rc ? 0 : (unsigned long)v.mv_data;
    mdb_txn_abort(txn);   /* the map stays: only the address is kept */
    FILE *f = inside ? fopen("/proc/self/maps", "r") : NULL;
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        unsigned maj, min;
        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &min, &ino) == 5 &&
            lo <= inside && inside < hi && ino == (unsigned long)st.st_ino &&
            maj == major(st.st_dev) && min == minor(st.st_dev)) {
            s->map = (void *)lo;
            s->map_len = hi - lo;
        }
    }
    fclose(f);
}

void store_release_pages(store *s)
{
    MDB_envinfo ei;
    MDB_stat st;
    s->scanned = 0;
    if (!s->map || mdb_env_info(s->env, &ei) || mdb_env_stat(s->env, &st))
        return;
    size_t used = (ei.me_last_pgno + 1) * (size_t)st.ms_psize;
    /* The map is read-only and shared (no MDB_WRITEMAP): dropping it drops
     * only this process's page table entries; the next access maps the
     * page again from the page cache, which pwrite keeps current. */
    madvise(s->map, used < s->map_len ? used : s->map_len, MADV_DONTNEED);
}

/* File-backed resident pages of this process, in pages (/proc/self/statm's
 * "shared"), or -1. */
static long mapped_pages(store *s)
{
    char buf[128];
    if (s->statm < 0)
        return -1;
    ssize_t n = pread(s->statm, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    long size, res, shared;
    return sscanf(buf, "%ld %ld %ld", &size, &res, &shared) == 3 ? shared : -1;
}

/* Account for `n` bytes read through the map (SCAN_CHECK: check now, as
 * after every write transaction).  Every so often look at how much of the
 * file is mapped here and release it past a bound: the kernel maps more
 * than was touched (fault-around, whole large folios), so bytes alone do
 * not tell. */
static void scanned(store *s, size_t n)
{
    s->scanned += n;
    if (n != SCAN_CHECK && s->scanned < SCAN_CHECK)
        return;
    s->scanned = 0;
    long now = mapped_pages(s);
    if (now < 0 || now - s->mapped_base > (long)(SCAN_RELEASE / 4096)) {
        store_release_pages(s);
        s->mapped_base = mapped_pages(s);
    }
}

static int log_cb(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                  store_rec_cb cb, void *ctx)
{
    uint8_t lk[40];
    memcpy(lk, author->b, 32);
    put_be64(lk + 32, seq);
    MDB_val k = { 40, lk }, v;
    if (mdb_get(txn, s->log, &k, &v))
        return 0;
    scanned(s, v.mv_size + 128);
    return cb(ctx, v.mv_data, v.mv_size);
}

int store_get_refs(store *s, const store_ref *refs, size_t n, store_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (log_cb(s, txn, &refs[i].author, refs[i].seq, cb, ctx))
            break;
    mdb_txn_abort(txn);
    return 0;
}

int store_get_current(store *s, const proto_id *author, const char *kind, const char *key,
                      store_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    uint8_t ck[CK_MAX];
    if (!proto_kind_valid(kind) || strlen(key) > PROTO_KEY_MAX)
        return 1;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    MDB_val k = { ck_key(ck, kind, author, key), ck }, v;
    int rc = 1;
    if (mdb_get(txn, s->cur, &k, &v) == 0 && v.mv_size == 41) {
        log_cb(s, txn, author, get_be64(v.mv_data), cb, ctx);
        rc = 0;
    }
    mdb_txn_abort(txn);
    return rc;
}

/* Walk the current table (one kind, or all when kind is NULL) and hand each
 * entry's author, seq and flags to fn, inside the walk's read transaction. */
typedef int (*cur_fn)(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, uint32_t flags,
                      void *ctx);

static int walk_current(store *s, const char *kind, cur_fn fn, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t pfx[1 + PROTO_KIND_MAX];
    size_t pl = 0;
    if (kind) {
        if (!proto_kind_valid(kind))
            return 0;
        pl = strlen(kind) + 1;
        pfx[0] = (uint8_t)(pl - 1);
        memcpy(pfx + 1, kind, pl - 1);
    }
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->cur, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k = { pl, pfx }, v;
    int rc = pl ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    int stop = 0;
    while (!stop && rc == 0 && (pl == 0 || (k.mv_size >= pl && !memcmp(k.mv_data, pfx, pl)))) {
        const uint8_t *kb = k.mv_data, *vb = v.mv_data;
        size_t kl = kb[0];
        if (v.mv_size == 41 && k.mv_size >= 1 + kl + 32) {
            proto_id a;
            memcpy(a.b, kb + 1 + kl, 32);
            stop = fn(s, txn, &a, get_be64(vb), vb[40], ctx);
        }
        scanned(s, k.mv_size + v.mv_size + 16);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

typedef struct { store_rec_cb cb; store_ref_cb ref_cb; void *ctx; } cur_ctx;

static int cur_rec(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, uint32_t flags, void *ctx)
{
    cur_ctx *c = ctx;
    return log_cb(s, txn, author, seq, c->cb, c->ctx);
}

static int cur_ref(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, uint32_t flags, void *ctx)
{
    cur_ctx *c = ctx;
    return c->ref_cb(c->ctx, author, seq, flags);
}

int store_foreach_current(store *s, const char *kind, store_rec_cb cb, void *ctx)
{
    cur_ctx c = { .cb = cb, .ctx = ctx };
    return walk_current(s, kind, cur_rec, &c);
}

int store_foreach_current_ref(store *s, const char *kind, store_ref_cb cb, void *ctx)
{
    cur_ctx c = { .ref_cb = cb, .ctx = ctx };
    return kind ? walk_current(s, kind, cur_ref, &c) : 0;
}

int store_history(store *s, const proto_id *author, const char *kind, const char *key,
                  store_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t ck[CK_MAX];
    if (!proto_kind_valid(kind) || strlen(key) > PROTO_KEY_MAX)
        return 0;
    size_t cl = ck_key(ck, kind, author, key);
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->ver, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k = { cl, ck }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), stop = 0;
    while (!stop && rc == 0 && k.mv_size == cl + 8 && !memcmp(k.mv_data, ck, cl)) {
        stop = log_cb(s, txn, author, get_be64((uint8_t *)k.mv_data + cl), cb, ctx);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

int store_range(store *s, const proto_id *author, uint64_t from, uint64_t to,
                store_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t lk[40];
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->log, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    memcpy(lk, author->b, 32);
    put_be64(lk + 32, from);
    MDB_val k = { 40, lk }, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), stop = 0;
    while (!stop && rc == 0 && k.mv_size == 40 && !memcmp(k.mv_data, author->b, 32) &&
           get_be64((uint8_t *)k.mv_data + 32) <= to) {
        scanned(s, v.mv_size + 48);
        stop = cb(ctx, v.mv_data, v.mv_size);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

int store_forks(store *s, store_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->forks, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), stop = 0;
    while (!stop && rc == 0) {
        stop = cb(ctx, v.mv_data, v.mv_size);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

int store_vv(store *s, store_vv_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k, v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->vv, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST), stop = 0;
    while (!stop && rc == 0) {
        if (k.mv_size == 32 && v.mv_size == 8)
            stop = cb(ctx, k.mv_data, get_be64(v.mv_data));
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}
