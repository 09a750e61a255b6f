/*
 * daemon/control.c — control socket: one request frame in, one reply frame out.
 *
 * A request is a msgpack map with "cmd" and the command's arguments; a reply
 * is a map with "ok" and either the results or "error" (a message for
 * people).  Records travel as their signed bytes: catalogctl decodes and
 * renders them itself, so the daemon never formats text for people.
 *
 * Every command is one row of `commands`: its name, its handler, whether it
 * reads or writes, and its help.  A connection marked read_only is refused
 * every command that writes.
 */
#include "daemon/control.h"
#include "daemon/control_int.h"
#include "daemon/health.h"
#include "daemon/indexer.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/node.h"
#include "store/kind.h"
#include "store/backup.h"
#include "daemon/peer.h"
#include "daemon/rekey.h"
#include "daemon/rotate.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "catalog/ref.h"
#include "catalog/schema.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

typedef enum { CONTROL_READ, CONTROL_WRITE } control_access;

/* A command answers a request at once (fn), or adds it to the client's
 * batch (batch: 0, or -1 with err), which is written and answered, in
 * request order, before any other command runs and when a read has been
 * handled. */
typedef struct {
    const char *name;
    control_fn fn;
    int (*batch)(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen);
    /* or starts work that ends later, off the loop (0, or -1 with err); the
     * client is held, unanswered and unread, until the reply is made */
    int (*start)(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen);
    control_access access;
    const char *help;
} control_cmd;

/* A client that pipelines requests faster than it reads the replies would
 * make them pile up here; past NODE_CONTROL_WRITE_HIGH unsent, its requests
 * wait (proto/limits.h).  The check comes before every answer, not once per
 * read: one read of 64 KiB can hold hundreds of requests, each answered
 * with up to a page of records. */


/* ---- helpers ---- */

static int arg_author(const uint8_t *req, size_t len, catalogd *d, proto_id *out,
                      char *err, size_t errlen)
{
    char s[128];
    if (proto_map_str(req, len, "author", s, sizeof s)) {
        *out = d->id.id;
        return 0;
    }
    if (proto_id_parse(s, out))
        return proto_err(err, errlen, "not a member id: %s", s);
    return 0;
}

void control_list_begin(control_list *l)
{
    l->n = 0;
    l->limit = 0;
    msgpack_sbuffer_init(&l->tmp);
    msgpack_packer_init(&l->tpk, &l->tmp, msgpack_sbuffer_write);
}

int control_list_rec(void *ctx, const uint8_t *rec, size_t len)
{
    control_list *l = ctx;
    msgpack_pack_bin(&l->tpk, len);
    msgpack_pack_bin_body(&l->tpk, rec, len);
    l->n++;
    /* bounded in bytes too: records may be up to 64 KiB each, and a
     * reply must stay one frame far below PROTO_CTL_FRAME_MAX */
    return (l->limit && l->n >= l->limit) || l->tmp.size >= NODE_CONTROL_PAGE_BYTES;
}

static void list_array(control_list *l, msgpack_packer *pk)
{
    msgpack_pack_array(pk, l->n);
    if (l->tmp.size)
        msgpack_sbuffer_write(pk->data, l->tmp.data, l->tmp.size);
    msgpack_sbuffer_destroy(&l->tmp);
}

void control_list_put(control_list *l, proto_map *m, const char *key)
{
    proto_map_key(m, key);
    list_array(l, m->pk);
}

/* {"ok": true, key: [records]} and, when the walk stopped at its limit,
 * "truncated": true (NODE_CONTROL_REPLY_MAX) */
static void reply_records(msgpack_packer *pk, control_list *l, const char *key)
{
    proto_map m;
    int cut = (l->limit && l->n >= l->limit) || l->tmp.size >= NODE_CONTROL_PAGE_BYTES;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    control_list_put(l, &m, key);
    if (cut)
        proto_map_put_bool(&m, "truncated", 1);
    proto_map_end(&m);
}

/* A list for an answer bounded by NODE_CONTROL_REPLY_MAX. */
static void list_begin_bounded(control_list *l)
{
    control_list_begin(l);
    l->limit = NODE_CONTROL_REPLY_MAX;
}

/* ---- commands ---- */

static int cmd_status(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                      char *err, size_t errlen)
{
    store_info si;
    proto_map m;
    char id[PROTO_ID_STR], dg[65], gh[65];
    if (store_info_get(d->st, &si))
        return proto_err(err, errlen, "store unavailable");
    proto_id_str(&d->id.id, id);
    proto_hex(si.digest.b, 32, dg);
    proto_hex(si.genesis.b, 32, gh);
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_str(&m, "member_id", id);
    proto_map_put_str(&m, "code", d->id.code);
    proto_map_put_str(&m, "name", d->id.name);
    char kh[PROTO_ID_STR] = "";
    if (d->id.key)
        proto_id_str(&d->id.key_id, kh);
    proto_map_put_str(&m, "key", kh);   /* the key in force: the member id's hash until a rotation */
    proto_map_put_u64(&m, "records", si.records);
    proto_map_put_u64(&m, "current", si.current);
    proto_map_put_str(&m, "digest", dg);
    proto_map_put_str(&m, "alliance", si.has_genesis ? si.alliance : "");
    proto_map_put_str(&m, "genesis", si.has_genesis ? gh : "");
    proto_map_put_u64(&m, "members", si.members);
    proto_map_put_u64(&m, "authors", si.authors);
    proto_map_put_u64(&m, "forks", si.forks);
    proto_map_put_u64(&m, "peers", peer_count_established(d));
    proto_map_put_str(&m, "listen", d->listen_addr);
    proto_map_put_u64(&m, "seq", store_vv_get(d->st, &d->id.id));
    proto_map_put_u64(&m, "bytes_out", d->bytes_out);
    proto_map_put_u64(&m, "bytes_in", d->bytes_in);
    proto_map_put_u64(&m, "records_out", d->records_out);
    proto_map_put_u64(&m, "records_in", d->records_in);
    proto_map_put_u64(&m, "map_used", si.map_used);
    proto_map_put_u64(&m, "map_size", si.map_size);
    health_pack(d, &si, &m);
    proto_map_end(&m);
    return 0;
}

/* get and history: the records of (author, kind, key), read by `read`. */
static int reply_key(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, const char *cmd,
                     int (*read)(store *, const proto_id *, const char *, const char *, store_rec_cb, void *),
                     char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1];
    proto_id author;
    control_list l;
    if (arg_author(req, len, d, &author, err, errlen))
        return -1;
    if (proto_map_str(req, len, "kind", kind, sizeof kind))
        return proto_err(err, errlen, "%s needs kind and key", cmd);
    list_begin_bounded(&l);
    if (proto_map_str(req, len, "key", key, sizeof key)) {
        /* a key longer than any record's key names no record: nothing found */
        proto_rd kr;
        const char *s;
        uint32_t sl;
        if (proto_map_find(req, len, "key", &kr) || proto_rd_str(&kr, &s, &sl) || sl < sizeof key) {
            msgpack_sbuffer_destroy(&l.tmp);
            return proto_err(err, errlen, "%s needs kind and key", cmd);
        }
        reply_records(pk, &l, "records");
        return 0;
    }
    /* a catalog kind's key as records are written under it, then as typed
     * (a record stored before keys were normalised) */
    char nkey[PROTO_KEY_MAX + 1];
    const char *nk = catalog_lookup_key(kind, key, nkey, sizeof nkey);
    read(d->st, &author, kind, nk, control_list_rec, &l);
    if (l.n == 0 && strcmp(nk, key))
        read(d->st, &author, kind, key, control_list_rec, &l);
    reply_records(pk, &l, "records");
    return 0;
}

static int cmd_get(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                   char *err, size_t errlen)
{
    return reply_key(d, req, len, pk, "get", store_get_current, err, errlen);
}

/* list: one page of current records [of kind], from the cursor "after"
 * (the "next" of the previous page) on, at most "limit" of them
 * (NODE_CONTROL_LIST_DEFAULT, at most NODE_CONTROL_LIST_MAX).  The reply
 * has "next" while more records follow. */
static int cmd_list(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                    char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1] = "";
    control_list l;
    uint64_t limit = NODE_CONTROL_LIST_DEFAULT;
    const uint8_t *after = NULL;
    uint32_t alen = 0;
    uint8_t next[STORE_CURSOR_MAX];
    size_t nextlen = 0;
    proto_rd r;
    proto_map_str(req, len, "kind", kind, sizeof kind);
    proto_map_u64(req, len, "limit", &limit);
    if (limit == 0 || limit > NODE_CONTROL_LIST_MAX)
        limit = limit ? NODE_CONTROL_LIST_MAX : NODE_CONTROL_LIST_DEFAULT;
    if (proto_map_find(req, len, "after", &r) == 0 && proto_rd_bin(&r, &after, &alen))
        return proto_err(err, errlen, "list: after must be the cursor of a previous page");
    control_list_begin(&l);
    l.limit = limit;
    store_foreach_current_page(d->st, kind[0] ? kind : NULL, after, alen, control_list_rec, &l, next,
                               &nextlen);
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    control_list_put(&l, &m, "records");
    if (nextlen) {
        proto_map_key(&m, "next");
        msgpack_pack_bin(pk, nextlen);
        msgpack_pack_bin_body(pk, next, nextlen);
    }
    proto_map_end(&m);
    return 0;
}

static int cmd_history(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    return reply_key(d, req, len, pk, "history", store_history, err, errlen);
}

static int cmd_forks(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    control_list l;
    list_begin_bounded(&l);
    store_forks(d->st, control_list_rec, &l);
    reply_records(pk, &l, "records");
    return 0;
}

static int cmd_member_add(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                          char *err, size_t errlen)
{
    proto_rd r;
    const uint8_t *cert;
    uint32_t cl;
    char addr[256] = "", why[256];
    certs_identity nc;
    if (proto_map_find(req, len, "cert", &r) || proto_rd_bin(&r, &cert, &cl))
        return proto_err(err, errlen, "member add needs the newcomer's certificate");
    proto_map_str(req, len, "address", addr, sizeof addr);
    if (certs_parse(cert, cl, &nc, why, sizeof why))
        return proto_err(err, errlen, "newcomer certificate: %s", why);
    if (!memcmp(&nc.id, &d->id.id, 32)) {
        certs_free(&nc);
        return proto_err(err, errlen, "that is this node's own certificate");
    }
    char key[65];
    proto_hex(nc.id.b, 32, key);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_str(b, "code", nc.code);
    proto_body_str(b, "name", nc.name);
    if (addr[0])
        proto_body_str(b, "address", addr);
    proto_body_bin(b, "cert", nc.der, nc.der_len);
    int rc = node_publish_one(d, "member", key, 0, b, NULL, NULL, err, errlen);
    proto_body_free(b);
    if (rc) {
        certs_free(&nc);
        return -1;
    }
    char ids[PROTO_ID_STR];
    proto_id_str(&nc.id, ids);
    /* with admission > 1 this is one endorsement: say where it stands */
    store_member sm;
    uint32_t admission = 1, needed = 1;
    int known = store_member_get(d->st, &nc.id, &sm) == 0;
    store_member_quorum(d->st, &admission, &needed);
    if (known && sm.status == STORE_MEMBER_PENDING)
        log_info(d, "endorsed %s %s (%s)%s%s: %u of %u endorsements, pending", nc.code, nc.name, ids,
                 addr[0] ? " at " : "", addr, sm.endorsements, needed);
    else
        log_info(d, "admitted %s %s (%s)%s%s", nc.code, nc.name, ids, addr[0] ? " at " : "", addr);
    certs_free(&nc);
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_str(&m, "member_id", ids);
    proto_map_put_str(&m, "status", known && sm.status == STORE_MEMBER_PENDING ? "pending" : "member");
    proto_map_put_u64(&m, "endorsements", known ? sm.endorsements : 0);
    proto_map_put_u64(&m, "needed", needed);
    proto_map_end(&m);
    return 0;
}

static int cmd_member_set(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                          char *err, size_t errlen)
{
    char op[16], addr[256] = "", target[256] = "", reason[STORE_EXPEL_REASON_MAX + 1] = "";
    proto_id subj = d->id.id;
    store_member sm;
    int expel = 0;
    if (proto_map_str(req, len, "op", op, sizeof op))
        return proto_err(err, errlen, "member command needs an op");
    proto_map_str(req, len, "address", addr, sizeof addr);
    expel = !strcmp(op, "expel");
    if (expel) {
        /* the member as `member rekey` and `member show` take it: a member
         * id, a 団体コード or a 団体名; and why, which goes into the record */
        if (proto_map_str(req, len, "member", target, sizeof target) || !target[0])
            return proto_err(err, errlen, "除名する加盟団体を指定してください（member id、団体コードか団体名）");
        if (rekey_member_ref(d->st, target, &subj, err, errlen))
            return -1;
        if (proto_map_str(req, len, "reason", reason, sizeof reason) || !reason[0] ||
            !proto_utf8_valid(reason, strlen(reason)))
            return proto_err(err, errlen, "--reason で除名の理由を書いてください（UTF-8 で 1〜%u バイト）",
                             STORE_EXPEL_REASON_MAX);
        if (!memcmp(&subj, &d->id.id, 32))
            return proto_err(err, errlen, "このノード自身は除名できません（脱退は catalogctl member leave）");
        int got = store_member_get(d->st, &subj, &sm);
        if (got < 0)
            return proto_err(err, errlen, "ストアを読めません");
        if (got == 1)
            return proto_err(err, errlen, "加盟団体 %s はこのノードでは知られていません", target);
    } else if (!proto_map_str(req, len, "member", target, sizeof target) && proto_id_parse(target, &subj)) {
        return proto_err(err, errlen, "not a member id: %s", target);
    }
    if (!strcmp(op, "address") && !addr[0])
        return proto_err(err, errlen, "address needs HOST:PORT");
    char key[65];
    proto_hex(subj.b, 32, key);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", op);
    if (addr[0])
        proto_body_str(b, "address", addr);
    if (expel) {
        /* how much of its log this node holds: the expelled member's
         * records up to there stay acceptable everywhere (store_gov.c) */
        proto_body_int(b, "seq", (int64_t)store_vv_get(d->st, &subj));
        proto_body_str(b, "reason", reason);
    }
    int rc = node_publish_one(d, "member", key, 0, b, NULL, NULL, err, errlen);
    proto_body_free(b);
    if (rc)
        return -1;
    proto_map m;
    char ids[PROTO_ID_STR];
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    if (expel) {
        proto_id_str(&subj, ids);
        proto_map_put_str(&m, "member_id", ids);
        proto_map_put_str(&m, "code", sm.code);
        proto_map_put_str(&m, "name", sm.name);
    }
    proto_map_end(&m);
    return 0;
}

typedef struct { msgpack_sbuffer sb; msgpack_packer pk; uint32_t n; } endorsers;

/* One endorser as staff name it: [member id, code, name]. */
static int add_endorser(void *ctx, const store_member *m)
{
    endorsers *en = ctx;
    char id[PROTO_ID_STR];
    proto_id_str(&m->id, id);
    msgpack_pack_array(&en->pk, 3);
    proto_pack_cstr(&en->pk, id);
    proto_pack_cstr(&en->pk, m->code);
    proto_pack_cstr(&en->pk, m->name);
    /* bounded by the members table: at most every active member */
    en->n++;
    return 0;
}

/* The members reply's list and the daemon (endorsers are looked up). */
typedef struct { control_list l; catalogd *d; store *st; } member_list;

static int collect_member(void *ctx, const store_member *m)
{
    member_list *ml = ctx;
    control_list *l = &ml->l;
    char id[PROTO_ID_STR], by[PROTO_ID_STR] = "";
    static const char *st[] = { "pending", "member", "left", "expelled" };
    proto_map e;
    proto_id_str(&m->id, id);
    if (!proto_id_is_zero(&m->admitted_by))
        proto_id_str(&m->admitted_by, by);
    proto_map_begin(&e, &l->tpk);
    proto_map_put_str(&e, "member_id", id);
    proto_map_put_str(&e, "code", m->code);
    proto_map_put_str(&e, "name", m->name);
    proto_map_put_str(&e, "address", m->address);
    proto_map_put_str(&e, "status", m->status >= 0 && m->status <= 3 ? st[m->status] : "?");
    proto_map_put_str(&e, "admitted_by", by);
    proto_map_put_u64(&e, "since_ms", m->since_ms);
    proto_map_put_u64(&e, "endorsements", m->endorsements);
    /* the key in force now and the seq it signs from (1: the admitted key) */
    proto_id kid;
    uint64_t from = 1;
    char kh[PROTO_ID_STR] = "";
    if (store_key_current(ml->st, &m->id, &kid, &from) == 0)
        proto_id_str(&kid, kh);
    proto_map_put_str(&e, "key", kh);
    proto_map_put_u64(&e, "key_from_seq", from);
    if (m->status == STORE_MEMBER_PENDING) {
        /* who endorsed it so far (members active now), and how many it needs */
        uint32_t admission = 1, needed = 1;
        store_member_quorum(ml->d->st, &admission, &needed);
        proto_map_put_u64(&e, "needed", needed);
        endorsers en = { .n = 0 };
        msgpack_sbuffer_init(&en.sb);
        msgpack_packer_init(&en.pk, &en.sb, msgpack_sbuffer_write);
        store_member_endorsers(ml->d->st, &m->id, add_endorser, &en);
        proto_map_key(&e, "endorsed_by");
        msgpack_pack_array(&l->tpk, en.n);
        if (en.sb.size)
            msgpack_sbuffer_write(&l->tmp, en.sb.data, en.sb.size);
        msgpack_sbuffer_destroy(&en.sb);
    }
    proto_map_end(&e);
    l->n++;
    /* bounded in bytes too: records may be up to 64 KiB each, and a
     * reply must stay one frame far below PROTO_CTL_FRAME_MAX */
    return (l->limit && l->n >= l->limit) || l->tmp.size >= NODE_CONTROL_PAGE_BYTES;
}

static int cmd_members(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    member_list ml = { .d = d, .st = d->st };
    list_begin_bounded(&ml.l);
    store_members(d->st, collect_member, &ml);
    reply_records(pk, &ml.l, "members");
    return 0;
}

/* ---- member_show: one member, the records it was derived from, its forks ---- */

typedef struct {
    catalogd *d;
    char key[65];            /* the member id in lowercase hex: its member records' key */
    proto_id id;
    control_list votes, forks;
} show_ctx;

static const char *status_name(int st)
{
    static const char *names[] = { "pending", "member", "left", "expelled" };
    return st >= 0 && st <= 3 ? names[st] : "?";
}

/* A list of member_show is full at its count or at half a page of bytes
 * (two lists share the reply, which stays under NODE_CONTROL_PAGE_BYTES). */
static int show_full(const control_list *l, size_t n)
{
    return n >= l->limit || l->tmp.size >= NODE_CONTROL_PAGE_BYTES / 2;
}

/* Every author's current member record about the member: its admissions
 * and expulsion votes, and its own address or leave. */
static int show_vote(void *ctx, const uint8_t *rec, size_t len)
{
    show_ctx *c = ctx;
    proto_record r;
    char op[16] = "", by[PROTO_ID_STR];
    store_member am;
    if (proto_record_decode_stored(rec, len, &r, NULL, 0) || strcmp(r.key, c->key))
        return 0;
    proto_body_copy_str(&r, "op", op, sizeof op);
    proto_id_str(&r.author, by);
    int st = store_member_get(c->d->st, &r.author, &am) == 0 ? am.status : -1;
    proto_map e;
    proto_map_begin(&e, &c->votes.tpk);
    proto_map_put_str(&e, "by", by);
    proto_map_put_str(&e, "by_status", st < 0 ? "unknown" : status_name(st));
    proto_map_put_str(&e, "op", op);
    proto_map_put_u64(&e, "seq", r.seq);
    proto_map_put_u64(&e, "time_ms", r.time_ms);
    /* an expulsion's (or a rekey vote's) reason, as the validator let it
     * in: bounded, UTF-8 for an expulsion; "" when the record has none */
    const char *why = "";
    size_t wl = 0;
    if (proto_body_get_str(&r, "reason", &why, &wl))
        why = "", wl = 0;
    proto_map_key(&e, "reason");
    msgpack_pack_str(&c->votes.tpk, wl);
    msgpack_pack_str_body(&c->votes.tpk, why, wl);
    proto_map_end(&e);
    return show_full(&c->votes, ++c->votes.n);
}

/* Fork evidence: the versions of the member's own seqs its logs do not hold. */
static int show_fork(void *ctx, const uint8_t *rec, size_t len)
{
    show_ctx *c = ctx;
    proto_record r;
    proto_id h;
    char hx[65];
    if (proto_record_decode_stored(rec, len, &r, NULL, 0) || memcmp(&r.author, &c->id, 32))
        return 0;
    proto_record_hash(rec, len, &h);
    proto_hex(h.b, 32, hx);
    proto_map e;
    proto_map_begin(&e, &c->forks.tpk);
    proto_map_put_u64(&e, "seq", r.seq);
    proto_map_put_str(&e, "kind", r.kind);
    proto_map_put_str(&e, "key", r.key);
    proto_map_put_str(&e, "hash", hx);
    proto_map_end(&e);
    return show_full(&c->forks, ++c->forks.n);
}

/* Keys of one member listed by member show at most (each is a rotation the
 * member signed: bounded by its log, and by this). */
#define SHOW_KEYS_MAX 256

typedef struct { proto_id ids[SHOW_KEYS_MAX]; uint64_t from[SHOW_KEYS_MAX]; size_t n; int cut; } show_keys;

static int show_key(void *ctx, uint64_t from_seq, const proto_id *key_id)
{
    show_keys *k = ctx;
    if (k->n >= SHOW_KEYS_MAX) {
        k->cut = 1;   /* the reply says "truncated" */
        return 1;
    }
    k->ids[k->n] = *key_id;
    k->from[k->n++] = from_seq;
    return 0;
}

static int cmd_member_show(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                           char *err, size_t errlen)
{
    char target[PROTO_ID_STR + 8], id[PROTO_ID_STR], by[PROTO_ID_STR] = "";
    show_ctx c = { .d = d };
    store_member m;
    int keys_cut = 0;
    if (proto_map_str(req, len, "member", target, sizeof target))
        return proto_err(err, errlen, "member show needs a member id");
    /* a former member by its code or name too: show only reads */
    if (proto_id_parse(target, &c.id) && rekey_member_ref_ex(d->st, target, 1, &c.id, err, errlen))
        return -1;
    proto_hex(c.id.b, 32, c.key);
    int have = store_member_get(d->st, &c.id, &m);
    if (have < 0)
        return proto_err(err, errlen, "store unavailable");
    list_begin_bounded(&c.votes);
    list_begin_bounded(&c.forks);
    store_foreach_current(d->st, "member", show_vote, &c);
    store_forks(d->st, show_fork, &c);
    if (have == 1 && c.votes.n == 0 && c.forks.n == 0) {
        msgpack_sbuffer_destroy(&c.votes.tmp);
        msgpack_sbuffer_destroy(&c.forks.tmp);
        return proto_err(err, errlen, "no member %s is known here", target);
    }
    proto_map r;
    proto_map_begin(&r, pk);
    proto_map_put_bool(&r, "ok", 1);
    proto_id_str(&c.id, id);
    proto_map_put_str(&r, "member_id", id);
    /* a member id others voted on but nobody admitted has no entry */
    proto_map_put_str(&r, "status", have == 0 ? status_name(m.status) : "unknown");
    if (have == 0) {
        if (!proto_id_is_zero(&m.admitted_by))
            proto_id_str(&m.admitted_by, by);
        proto_map_put_str(&r, "code", m.code);
        proto_map_put_str(&r, "name", m.name);
        proto_map_put_str(&r, "address", m.address);
        proto_map_put_str(&r, "admitted_by", by);
        proto_map_put_u64(&r, "since_ms", m.since_ms);
        proto_map_put_u64(&r, "endorsements", m.endorsements);
    }
    if (have == 0) {
        /* keys over time: the admitted one (its hash is the member id) from
         * seq 1, then each rotation's from the seq after it */
        show_keys *k = malloc(sizeof *k);
        if (k) {
            k->n = 0;
            k->cut = 0;
            k->ids[k->n] = c.id;
            k->from[k->n++] = 1;
            store_keys_of(d->st, &c.id, show_key, k);
            proto_map_key(&r, "keys");
            msgpack_pack_array(pk, (uint32_t)k->n);
            for (size_t i = 0; i < k->n; i++) {
                char kh[PROTO_ID_STR];
                proto_map e;
                proto_id_str(&k->ids[i], kh);
                proto_map_begin(&e, pk);
                proto_map_put_str(&e, "key", kh);
                proto_map_put_u64(&e, "from_seq", k->from[i]);
                proto_map_put_u64(&e, "to_seq", i + 1 < k->n ? k->from[i + 1] - 1 : 0);
                proto_map_put_str(&e, "how", i == 0 ? "admitted"
                                         : rekey_installed_by_quorum(d->st, &c.id, &k->ids[i]) ? "rekeyed"
                                                                                            : "rotated");
                proto_map_end(&e);
            }
            keys_cut = k->cut;
            free(k);
        }
    }
    int rekeys_cut = 0;
    if (have == 0)
        rekeys_cut = rekey_pack_show(d, &c.id, &r, pk);   /* decisions, the open epoch, stale votes */
    int cut = show_full(&c.votes, c.votes.n) || show_full(&c.forks, c.forks.n) || keys_cut || rekeys_cut;
    control_list_put(&c.votes, &r, "votes");
    control_list_put(&c.forks, &r, "forks");
    if (cut)
        proto_map_put_bool(&r, "truncated", 1);
    proto_map_end(&r);
    return 0;
}

static int cmd_peers(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_key(&m, "peers");
    peer_pack_list(d, pk);
    proto_map_end(&m);
    return 0;
}

static int collect_vv(void *ctx, const proto_id *a, uint64_t seq)
{
    control_list *l = ctx;
    char id[PROTO_ID_STR];
    proto_id_str(a, id);
    msgpack_pack_array(&l->tpk, 2);
    proto_pack_cstr(&l->tpk, id);
    msgpack_pack_uint64(&l->tpk, seq);
    l->n++;
    /* bounded in bytes too: records may be up to 64 KiB each, and a
     * reply must stay one frame far below PROTO_CTL_FRAME_MAX */
    return (l->limit && l->n >= l->limit) || l->tmp.size >= NODE_CONTROL_PAGE_BYTES;
}

static int cmd_vv(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                  char *err, size_t errlen)
{
    control_list l;
    list_begin_bounded(&l);
    store_vv(d->st, collect_vv, &l);
    reply_records(pk, &l, "vv");
    return 0;
}

/* sponsor: re-read the sponsor written by `catalogctl join` and dial it */
static int cmd_sponsor(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    proto_map m;
    catalogd_reload_sponsor(d);
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_bool(&m, "sponsor", d->have_sponsor);
    proto_map_end(&m);
    return 0;
}

static int cmd_help(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                    char *err, size_t errlen);
static int put_add(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen);
static int backup_start(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen);
static int key_rotate_start(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen);

/* put comes first: it is looked up once for every pipelined put. */
static const control_cmd commands[] = {
    { "put", NULL, put_add, NULL, CONTROL_WRITE, "write a record: kind, key, fields, tombstone (group-committed)" },
    { "cput", catalog_cmd_put, NULL, NULL, CONTROL_WRITE, "write certifications and adoptions: items" },
    { "member_add", cmd_member_add, NULL, NULL, CONTROL_WRITE, "admit a member: cert [, address]" },
    { "member_set", cmd_member_set, NULL, NULL, CONTROL_WRITE,
      "address, leave or expel: op [, address] [, member (expel: id, code or name), reason (expel)]" },
    { "member_rekey", rekey_cmd, NULL, NULL, CONTROL_WRITE,
      "vote to replace a member's lost or stolen key: member (id, code or name), cert, reason [, cut]" },
    { "policy_propose", policy_cmd_propose, NULL, NULL, CONTROL_WRITE,
      "propose a policy: parent, admission, expulsion, areas, routes" },
    { "policy_endorse", policy_cmd_endorse, NULL, NULL, CONTROL_WRITE, "endorse a policy proposal: proposal" },
    { "backup", NULL, NULL, backup_start, CONTROL_WRITE, "copy the store and the node's key into a new directory: path (absolute)" },
    { "key_rotate", NULL, NULL, key_rotate_start, CONTROL_WRITE,
      "rotate the node key, keeping the member id: [type (ed25519, p256, rsa; default: the current one's)]" },
    { "sponsor", cmd_sponsor, NULL, NULL, CONTROL_WRITE, "re-read the sponsor written by join and dial it" },
    { "status", cmd_status, NULL, NULL, CONTROL_READ, "this node: member id, store counts, digest, traffic, health" },
    { "get", cmd_get, NULL, NULL, CONTROL_READ, "the current record: kind, key [, author]" },
    { "list", cmd_list, NULL, NULL, CONTROL_READ, "current records [of kind], a page: [limit, after (the previous page's next)]" },
    { "history", cmd_history, NULL, NULL, CONTROL_READ, "every version of a record: kind, key [, author]" },
    { "forks", cmd_forks, NULL, NULL, CONTROL_READ, "fork evidence held" },
    { "members", cmd_members, NULL, NULL, CONTROL_READ, "the alliance's members" },
    { "member_show", cmd_member_show, NULL, NULL, CONTROL_READ, "one member: its entry, every member's current record about it (votes), its forks: member" },
    { "policy", policy_cmd_show, NULL, NULL, CONTROL_READ, "the policy in force and the pending proposals" },
    { "peers", cmd_peers, NULL, NULL, CONTROL_READ, "connections to other members" },
    { "vv", cmd_vv, NULL, NULL, CONTROL_READ, "the version vector: [member id, seq] per author" },
    { "cfind", catalog_cmd_find, NULL, NULL, CONTROL_READ, "a certification or adoption: kind, key [, author]" },
    { "csearch", catalog_cmd_search, NULL, NULL, CONTROL_READ,
      "search certifications and adoptions, a page: [cert_offset, adoption_offset (the previous page's next_*)]" },
    { "metrics", metrics_cmd, NULL, NULL, CONTROL_READ, "the metrics as text, in the Prometheus format /metrics serves" },
    { "watch", NULL, NULL, control_watch_start, CONTROL_READ,
      "stream records as they are applied, from a position: [since [[member id, seq], ...], from_start]; the connection takes no other request" },
    { "help", cmd_help, NULL, NULL, CONTROL_READ, "these commands: name, access, help" },
};

static const control_cmd *command_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static int cmd_help(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                    char *err, size_t errlen)
{
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_key(&m, "commands");
    msgpack_pack_array(pk, sizeof commands / sizeof commands[0]);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        proto_map e;
        proto_map_begin(&e, pk);
        proto_map_put_str(&e, "name", commands[i].name);
        proto_map_put_str(&e, "access", commands[i].access == CONTROL_WRITE ? "write" : "read");
        proto_map_put_str(&e, "help", commands[i].help);
        proto_map_end(&e);
    }
    proto_map_end(&m);
    return 0;
}

/* ---- replies ---- */

/* (control_int.h) */
size_t control_reply_begin(control_client *c, msgpack_packer *pk)
{
    static const char len0[4];
    size_t at = c->out.size;
    msgpack_packer_init(pk, &c->out, msgpack_sbuffer_write);
    msgpack_sbuffer_write(&c->out, len0, sizeof len0);
    return at;
}

void control_reply_cancel(control_client *c, size_t at)
{
    c->out.size = at;
}

void control_reply_end(control_client *c, size_t at)
{
    if (c->out.size < at + 4) {
        control_reply_cancel(c, at);   /* out of memory */
        return;
    }
    size_t n = c->out.size - at - 4;
    uint8_t *p = (uint8_t *)c->out.data + at;
    p[0] = (uint8_t)(n >> 24);
    p[1] = (uint8_t)(n >> 16);
    p[2] = (uint8_t)(n >> 8);
    p[3] = (uint8_t)n;
}

void control_reply_error(control_client *c, const char *err)
{
    msgpack_packer pk;
    proto_map m;
    size_t at = control_reply_begin(c, &pk);
    proto_map_begin(&m, &pk);
    proto_map_put_bool(&m, "ok", 0);
    proto_map_put_str(&m, "error", err[0] ? err : "failed");
    proto_map_end(&m);
    control_reply_end(c, at);
}

/* ---- put, group-committed ---- */

static int put_prepare(const uint8_t *req, size_t len, put_req *pr, char *err, size_t errlen)
{
    uint64_t tomb = 0;
    proto_rd r;
    uint32_t n, two;
    memset(pr, 0, sizeof *pr);
    if (proto_map_str(req, len, "kind", pr->kind, sizeof pr->kind) || !proto_kind_valid(pr->kind))
        return proto_err(err, errlen, "kind must be lowercase letters and _ (at most %u)", PROTO_KIND_MAX);
    if (proto_map_str(req, len, "key", pr->key, sizeof pr->key) || !pr->key[0])
        return proto_err(err, errlen, "key must be 1..%u bytes", PROTO_KEY_MAX);
    const kind_def *k = kind_of(pr->kind);
    if (k->flags & KIND_F_OWN_VERB)
        return proto_err(err, errlen, "%s records are made by their own commands (catalogctl %s)", pr->kind,
                         k->verb);
    proto_map_u64(req, len, "tombstone", &tomb);
    pr->flags = tomb ? PROTO_FLAG_TOMBSTONE : 0;
    proto_body *b = proto_body_new();
    if (!b)
        return proto_err(err, errlen, "out of memory");
    if (proto_map_find(req, len, "fields", &r) == 0 && proto_rd_array(&r, &n) == 0) {
        for (uint32_t i = 0; i < n; i++) {
            char f[72], *v = malloc(PROTO_FIELD_MAX + 1);
            if (!v || proto_rd_array(&r, &two) || two != 2 || proto_rd_strcpy(&r, f, sizeof f) ||
                proto_rd_strcpy(&r, v, PROTO_FIELD_MAX + 1) || proto_body_str(b, f, v)) {
                free(v);
                proto_body_free(b);
                return proto_err(err, errlen, "field %u: name (≤ 64 bytes) or value (≤ %u bytes of UTF-8) invalid",
                                 i + 1, PROTO_FIELD_MAX);
            }
            free(v);
        }
    }
    pr->body = b;
    return 0;
}

/* Write the batched puts in one transaction and answer each, in order. */
static void batch_flush(control_client *c)
{
    put_batch *pb = &c->batch;
    char err[512] = "";
    if (!pb->n)
        return;
    for (size_t i = 0; i < pb->n; i++)
        pb->w[i] = (store_write_item){ .kind = pb->req[i].kind, .key = pb->req[i].key,
                                       .flags = pb->req[i].flags, .body = pb->req[i].body };
    int rc = node_publish(c->d, pb->w, pb->n, err, sizeof err);
    for (size_t i = 0; i < pb->n; i++) {
        if (rc) {
            control_reply_error(c, err);
        } else {
            proto_record pr;
            proto_id h;
            proto_map m;
            msgpack_packer pk;
            char hx[65];
            proto_record_decode(pb->w[i].out, pb->w[i].out_len, &pr, NULL, 0);
            proto_record_hash(pb->w[i].out, pb->w[i].out_len, &h);
            proto_hex(h.b, 32, hx);
            size_t at = control_reply_begin(c, &pk);
            proto_map_begin(&m, &pk);
            proto_map_put_bool(&m, "ok", 1);
            proto_map_put_u64(&m, "seq", pr.seq);
            proto_map_put_str(&m, "hash", hx);
            proto_map_end(&m);
            control_reply_end(c, at);
            free(pb->w[i].out);
        }
        proto_body_free(pb->req[i].body);
    }
    pb->n = 0;
}

static int put_add(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen)
{
    put_batch *pb = &c->batch;
    if (pb->n == pb->cap) {
        size_t cap = pb->cap ? pb->cap * 2 : 16;
        put_req *r = realloc(pb->req, cap * sizeof *r);
        if (r)
            pb->req = r;
        store_write_item *w = r ? realloc(pb->w, cap * sizeof *w) : NULL;
        if (!w)
            return proto_err(err, errlen, "out of memory");
        pb->w = w;
        pb->cap = cap;
    }
    if (put_prepare(req, len, &pb->req[pb->n], err, errlen))
        return -1;
    if (++pb->n == NODE_CONTROL_PUT_BATCH)
        batch_flush(c);
    return 0;
}

static void batch_free(control_client *c)
{
    for (size_t i = 0; i < c->batch.n; i++)
        proto_body_free(c->batch.req[i].body);
    free(c->batch.req);
    free(c->batch.w);
    memset(&c->batch, 0, sizeof c->batch);
}

/* ---- dispatch ---- */

/* Hold a csearch until the search index built on the thread pool is in
 * (control_index_built): 0, or -1 with err past NODE_CONTROL_PARKED_MAX. */
static int search_park(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen)
{
    if (c->d->nctl_parked >= NODE_CONTROL_PARKED_MAX)
        return proto_err(err, errlen, "検索索引を作っている途中です（待てる検索は %u 件まで）。"
                         "少し待ってからもう一度お試しください", NODE_CONTROL_PARKED_MAX);
    if (!(c->parked = malloc(len ? len : 1)))
        return proto_err(err, errlen, "out of memory");
    memcpy(c->parked, req, len);
    c->parked_len = len;
    c->d->nctl_parked++;
    return 0;
}

/* One request: look its command up, refuse it or run it.  Every request
 * gets exactly one reply, in request order. */
static void control_request(control_client *c, const uint8_t *req, size_t len)
{
    char name[32], err[512] = "";
    const control_cmd *cmd = NULL;
    c->d->counters.control_requests++;
    if (proto_map_str(req, len, "cmd", name, sizeof name) == 0)
        cmd = command_find(name);
    int refused = cmd && c->read_only && cmd->access == CONTROL_WRITE;
    if (cmd && cmd->batch && !refused) {
        if (cmd->batch(c, req, len, err, sizeof err) == 0)
            return;   /* answered when the batch is written */
        batch_flush(c);
    } else if (cmd && cmd->start && !refused) {
        batch_flush(c);   /* the puts before it are answered before it */
        if (cmd->start(c, req, len, err, sizeof err) == 0)
            return;   /* answered when the work ends */
    } else {
        batch_flush(c);
        if (!cmd) {
            proto_err(err, sizeof err, "unknown control command");
        } else if (refused) {
            proto_err(err, sizeof err, "read-only control connection: %s writes", name);
        } else if (cmd->fn == catalog_cmd_search && !indexer_ready(c->d)) {
            if (search_park(c, req, len, err, sizeof err) == 0)
                return;   /* answered when the index is built */
        } else {
            msgpack_packer pk;
            size_t at = control_reply_begin(c, &pk);
            if (cmd->fn(c->d, req, len, &pk, err, sizeof err) == 0) {
                control_reply_end(c, at);
                c->reply_now = cmd->access == CONTROL_WRITE;   /* serve() sends it */
                return;
            }
            control_reply_cancel(c, at);
        }
    }
    c->d->counters.control_errors++;
    log_debug(c->d, "control: %s refused: %s", cmd ? name : "?", err);
    control_reply_error(c, err);
}

/* ---- transport ---- */

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void serve(control_client *c);

/* ---- work on the thread pool: a backup, a key rotation ----
 *
 * Such work takes long (a backup as long as the store is big, an RSA key
 * a good part of a second): on the loop it would stop every peer and
 * every other client for that long.  It runs on the thread pool instead,
 * and the client is answered when it ends.  The client is held meanwhile
 * (not read, its next requests unanswered) so its replies stay in request
 * order.  A client that goes away leaves the job to finish and free
 * itself; so does a stop (uv_run returns only after the job's after-work
 * callback, before the store is closed). */
typedef struct control_job {
    uv_work_t w;
    control_client *c;       /* NULL once the client has gone */
    catalogd *d;
    void (*work)(struct control_job *);                      /* on a pool thread */
    void (*done)(struct control_job *, msgpack_packer *pk,   /* on the loop: packs the reply */
                 char *err, size_t errlen, int *rc);
} control_job;

static void job_work(uv_work_t *w)
{
    control_job *j = w->data;
    j->work(j);
}

static void job_done(uv_work_t *w, int status)
{
    control_job *j = w->data;
    control_client *c = j->c;
    if (c && uv_is_closing((uv_handle_t *)&c->pipe)) {
        /* closed while the job ran (a stop, a failed write), on_close not
         * run yet: gone, and its pipelined requests are not served */
        c->job = NULL;
        j->c = c = NULL;
    }
    char err[512] = "";
    int rc = 0;
    msgpack_packer pk;
    msgpack_sbuffer gone;   /* the reply of a client that went away */
    size_t at = 0;
    if (c) {
        c->job = NULL;
        at = control_reply_begin(c, &pk);
    } else {
        msgpack_sbuffer_init(&gone);
        msgpack_packer_init(&pk, &gone, msgpack_sbuffer_write);
    }
    j->done(j, &pk, err, sizeof err, &rc);   /* frees j */
    if (!c) {
        msgpack_sbuffer_destroy(&gone);
        return;
    }
    if (rc) {
        control_reply_cancel(c, at);
        c->d->counters.control_errors++;
        control_reply_error(c, err);
    } else {
        control_reply_end(c, at);
    }
    /* the requests that came with the job's, then read again */
    serve(c);
    if (!c->paused && !c->job && !uv_is_closing((uv_handle_t *)&c->pipe))
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* Queue j (j->work, j->done set) for client c and hold c until it ends. */
static int job_start(control_client *c, control_job *j, char *err, size_t errlen)
{
    j->d = c->d;
    j->c = c;
    j->w.data = j;
    int rc = uv_queue_work(c->d->loop, &j->w, job_work, job_done);
    if (rc)
        return proto_err(err, errlen, "%s", uv_strerror(rc));
    c->job = j;
    uv_read_stop((uv_stream_t *)&c->pipe);
    return 0;
}

int control_backup_running(catalogd *d)
{
    /* counted by the daemon, not found through the clients: a backup whose
     * client went away runs on, and a rotation meanwhile would pair its copy
     * of the store with the other key */
    return d->backups_running > 0;
}

typedef struct {
    control_job base;        /* first: the job is freed as this */
    store *st;
    char data_dir[1024];
    char path[1024];
    int rc;
    uint64_t bytes;
    char err[512];
} backup_job;

static void backup_work(control_job *cj)
{
    /* mdb_env_copyfd2 with its own read transaction: writes go on and are
     * not in the copy */
    backup_job *j = (backup_job *)cj;
    j->rc = backup_write(j->st, j->data_dir, j->path, &j->bytes, j->err, sizeof j->err);
}

static void backup_done(control_job *cj, msgpack_packer *pk, char *err, size_t errlen, int *rc)
{
    backup_job *j = (backup_job *)cj;
    cj->d->backups_running--;
    if (j->rc) {
        log_warn(cj->d, "backup to %s failed: %s", j->path, j->err);
        proto_err(err, errlen, "%s", j->err);
        *rc = -1;
    } else {
        log_info(cj->d, "backup written to %s (%llu bytes of store)", j->path, (unsigned long long)j->bytes);
        proto_map m;
        proto_map_begin(&m, pk);
        proto_map_put_bool(&m, "ok", 1);
        proto_map_put_str(&m, "path", j->path);
        proto_map_put_u64(&m, "bytes", j->bytes);
        proto_map_end(&m);
    }
    free(j);
}

static int backup_start(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen)
{
    /* the same reason the other way round (rotate_begin): the copy must
     * not hold one key and a store that names the other */
    if (c->d->rotating)
        return proto_err(err, errlen, "backup: a key rotation is under way; back up once it is done");
    backup_job *j = calloc(1, sizeof *j);
    if (!j)
        return proto_err(err, errlen, "out of memory");
    /* the daemon's working directory is not the client's: catalogctl sends
     * an absolute path */
    if (proto_map_str(req, len, "path", j->path, sizeof j->path) || j->path[0] != '/') {
        free(j);
        return proto_err(err, errlen, "path must be an absolute path (at most %zu bytes)", sizeof j->path - 1);
    }
    snprintf(j->data_dir, sizeof j->data_dir, "%s", c->d->data_dir);
    j->st = c->d->st;
    j->base.work = backup_work;
    j->base.done = backup_done;
    if (job_start(c, &j->base, err, errlen)) {
        free(j);
        return -1;
    }
    c->d->backups_running++;
    log_info(c->d, "backup to %s started", j->path);
    return 0;
}

typedef struct {
    control_job base;        /* first: the job is freed as this */
    rotate_job r;
} key_rotate_job;

static void key_rotate_work(control_job *cj)
{
    rotate_keygen(&((key_rotate_job *)cj)->r);
}

static void key_rotate_done(control_job *cj, msgpack_packer *pk, char *err, size_t errlen, int *rc)
{
    key_rotate_job *j = (key_rotate_job *)cj;
    *rc = rotate_finish(cj->d, &j->r, pk, err, errlen);
    if (*rc && !cj->c)
        log_warn(cj->d, "key rotation failed: %s", err);
    free(j);
}

static int key_rotate_start(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen)
{
    key_rotate_job *j = calloc(1, sizeof *j);
    if (!j)
        return proto_err(err, errlen, "out of memory");
    if (rotate_begin(c->d, req, len, &j->r, err, errlen)) {
        free(j);
        return -1;
    }
    j->base.work = key_rotate_work;
    j->base.done = key_rotate_done;
    if (job_start(c, &j->base, err, errlen)) {
        /* begin set d->rotating: finish clears it (keygen never ran, so
         * it packs nothing) */
        char e2[512];
        snprintf(j->r.err, sizeof j->r.err, "not started");
        j->r.rc = -1;
        rotate_finish(c->d, &j->r, NULL, e2, sizeof e2);
        free(j);
        return -1;
    }
    return 0;
}

static void on_close(uv_handle_t *h)
{
    control_client *c = h->data;
    if (c->job)
        c->job->c = NULL;   /* the job frees itself when it ends */
    if (c->parked) {
        free(c->parked);    /* a parked search's client that left: nothing waits for the index */
        c->parked = NULL;
        c->d->nctl_parked--;
    }
    if (c->pprev) {
        *c->pprev = c->next;
        if (c->next)
            c->next->pprev = c->pprev;
        c->d->nctl_clients--;
    }
    proto_buf_free(&c->in);
    msgpack_sbuffer_destroy(&c->out);
    batch_free(c);
    control_watch_free(c);
    free(c);
}

void control_client_close(control_client *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->pipe))
        uv_close((uv_handle_t *)&c->pipe, on_close);
}

/* Reply bytes this client has not taken yet: sent and unsent. */
size_t control_queued(control_client *c)
{
    return c->out.size + uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

static void on_write(uv_write_t *w, int status)
{
    control_client *c = w->handle->data;
    free(w->data);
    free(w);
    if (uv_is_closing((uv_handle_t *)&c->pipe))
        return;
    if (status < 0) {
        /* the client went away; a paused client would never read the EOF */
        control_client_close(c);
        return;
    }
    if (c->watch) {
        if (control_queued(c) < NODE_CONTROL_WRITE_LOW)
            control_watch_drained(c);
        return;
    }
    if (c->paused && control_queued(c) < NODE_CONTROL_WRITE_LOW) {
        /* answer the requests that waited, then read again (unless their
         * replies fill the queue once more) */
        c->paused = 0;
        serve(c);
        if (!c->paused && !c->job && !uv_is_closing((uv_handle_t *)&c->pipe))
            uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    }
}

/* Send the collected replies in one write. */
void control_out_flush(control_client *c)
{
    if (!c->out.size)
        return;
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.size);
    if (!w) {
        /* replies cannot be sent: better a closed connection than a client
         * waiting forever */
        msgpack_sbuffer_clear(&c->out);
        control_client_close(c);
        return;
    }
    w->data = msgpack_sbuffer_release(&c->out);
    if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_write)) {
        free(w->data);
        free(w);
        control_client_close(c);
    }
}

/* Answer the whole requests buffered, in order, while the client takes its
 * replies.  Once more than NODE_CONTROL_WRITE_HIGH wait, stop: the rest stay
 * in c->in (at most what one read brought, since the socket is not read
 * while paused) until on_write sees the queue below NODE_CONTROL_WRITE_LOW. */
static void serve(control_client *c)
{
    const uint8_t *f;
    size_t fl;
    int rc = 0;
    for (;;) {
        if (c->job || c->watch || c->parked)
            break;   /* held: the rest wait for the job's (or the parked search's) reply;
                      * a watch takes no more */
        if (control_queued(c) > NODE_CONTROL_WRITE_HIGH) {
            batch_flush(c);
            control_out_flush(c);
            if (uv_is_closing((uv_handle_t *)&c->pipe))
                return;
            if (control_queued(c) > NODE_CONTROL_WRITE_HIGH) {
                c->paused = 1;
                uv_read_stop((uv_stream_t *)&c->pipe);
                return;
            }
        }
        if ((rc = proto_frame_take(&c->in, PROTO_CTL_FRAME_MAX, &f, &fl)) != 1)
            break;
        control_request(c, f, fl);
        if (c->reply_now) {
            /* a write took its signatures' and commit's time: its reply
             * goes now, not after the requests queued behind it (an import
             * keeps several chunks in flight and sends the next one when a
             * reply comes) */
            c->reply_now = 0;
            control_out_flush(c);
            if (uv_is_closing((uv_handle_t *)&c->pipe))
                return;   /* the reply could not be written: closed */
        }
    }
    batch_flush(c);
    control_out_flush(c);
    if (rc < 0 && !uv_is_closing((uv_handle_t *)&c->pipe)) {
        log_warn(c->d, "control: oversized or empty frame; closing client");
        control_client_close(c);
    }
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    control_client *c = h->data;
    b->base = c->d->rx;   /* one loop thread: reads are consumed at once */
    b->len = sizeof c->d->rx;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    control_client *c = s->data;
    if (n < 0) {
        control_client_close(c);
        return;
    }
    if (c->watch)
        return;   /* a stream: what the client sends after its request is ignored */
    if (proto_buf_append(&c->in, b->base, (size_t)n)) {
        control_client_close(c);
        return;
    }
    /* a parked client is still read, to see it leave (its EOF frees it at
     * once), but what it pipelines behind the search is held only up to a
     * frame's worth */
    if (c->parked && c->in.len - c->in.off > PROTO_CTL_FRAME_MAX)
        uv_read_stop((uv_stream_t *)&c->pipe);
    serve(c);
}

void control_index_built(catalogd *d, int ok)
{
    for (control_client *c = d->ctl_clients; c; c = c->next) {
        if (!c->parked || uv_is_closing((uv_handle_t *)&c->pipe))
            continue;
        uint8_t *req = c->parked;
        size_t len = c->parked_len;
        c->parked = NULL;
        d->nctl_parked--;
        char err[512] = "";
        msgpack_packer pk;
        size_t at = control_reply_begin(c, &pk);
        if (ok && catalog_cmd_search(d, req, len, &pk, err, sizeof err) == 0) {
            control_reply_end(c, at);
        } else {
            control_reply_cancel(c, at);
            if (!ok)
                proto_err(err, sizeof err, "検索索引を作れませんでした（ストアを読めないか、ノードを停止します）");
            d->counters.control_errors++;
            control_reply_error(c, err);
        }
        free(req);
        /* the requests that came behind it, then read again */
        serve(c);
        if (!c->paused && !c->job && !c->parked && !uv_is_closing((uv_handle_t *)&c->pipe))
            uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    }
}

static void on_refused_close(uv_handle_t *h)
{
    free(h);
}

static void on_conn(uv_stream_t *srv, int status)
{
    catalogd *d = srv->data;
    if (status < 0)
        return;
    if (d->nctl_clients >= NODE_CONTROL_CLIENTS_MAX) {
        /* accept and close at once: left in the backlog, it would be
         * offered again and again */
        uv_pipe_t *t = malloc(sizeof *t);
        if (!t)
            return;
        uv_pipe_init(d->loop, t, 0);
        if (uv_accept(srv, (uv_stream_t *)t) == 0)
            log_debug(d, "control: %u clients connected already; refusing one", d->nctl_clients);
        uv_close((uv_handle_t *)t, on_refused_close);
        return;
    }
    control_client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->d = d;
    c->read_only = 0;   /* a restricted socket (or the web view) will set it */
    uv_pipe_init(d->loop, &c->pipe, 0);
    c->pipe.data = c;
    msgpack_sbuffer_init(&c->out);
    c->next = d->ctl_clients;
    if (c->next)
        c->next->pprev = &c->next;
    c->pprev = &d->ctl_clients;
    d->ctl_clients = c;
    d->nctl_clients++;
    if (uv_accept(srv, (uv_stream_t *)&c->pipe) || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read))
        control_client_close(c);
}

/* Does a daemon answer on the socket at path?  1 yes, 0 no (nobody listens:
 * a file left by a daemon that crashed), -1 cannot tell (errno). */
static int socket_live(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    if (e == ECONNREFUSED || e == ENOENT)
        return 0;
    errno = e;
    return -1;
}

int control_listen(catalogd *d, char *err, size_t errlen)
{
    int rc;
    /* A socket file left by a crashed daemon would make bind fail; remove it
     * only if nobody answers on it.  One that answers belongs to a running
     * daemon (another data directory given the same --control): taking its
     * path would cut its operators off from it. */
    struct stat st;
    if (lstat(d->ctl_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        int live = socket_live(d->ctl_path);
        if (live == 1)
            return proto_err(err, errlen, "control socket %s: another catalogd is serving it; not starting",
                             d->ctl_path);
        if (live < 0)
            return proto_err(err, errlen, "control socket %s: %s", d->ctl_path, strerror(errno));
        unlink(d->ctl_path);
    }
    uv_pipe_init(d->loop, &d->ctl, 0);
    d->ctl.data = d;
    /* Created with mode 0660 from the start (bind honours the umask): a
     * chmod after bind would leave a moment in which anyone allowed into
     * the directory could connect.  umask is per process; at start no other
     * thread runs (the thread pool starts with the first verify job). */
    mode_t old = umask(0117);
    rc = uv_pipe_bind(&d->ctl, d->ctl_path);
    umask(old);
    if (rc)
        return proto_err(err, errlen, "control socket %s: %s", d->ctl_path, uv_strerror(rc));
    /* control_group: who may use catalogctl.  Handing the socket to another
     * group only widens it to that group, so the moment before the chown
     * opens nothing to anyone else. */
    const char *group = d->conf.str[CONFIG_CONTROL_GROUP];
    if (group[0]) {
        struct group gr, *res = NULL;
        char gbuf[4096];
        if (getgrnam_r(group, &gr, gbuf, sizeof gbuf, &res) || !res)
            return proto_err(err, errlen, "control_group %s: no such group", group);
        if (chown(d->ctl_path, (uid_t)-1, gr.gr_gid))
            return proto_err(err, errlen, "control socket %s: group %s: %s", d->ctl_path, group, strerror(errno));
    }
    if ((rc = uv_listen((uv_stream_t *)&d->ctl, 16, on_conn)))
        return proto_err(err, errlen, "control socket listen: %s", uv_strerror(rc));
    d->ctl_open = 1;
    return 0;
}

/* The listener and every client: at shutdown a connected client (even one
 * that only waits) would keep the loop, and so the daemon, running. */
void control_close(catalogd *d)
{
    if (d->ctl_open) {
        uv_close((uv_handle_t *)&d->ctl, NULL);
        unlink(d->ctl_path);
        d->ctl_open = 0;
    }
    for (control_client *c = d->ctl_clients; c; c = c->next)
        control_client_close(c);
}
