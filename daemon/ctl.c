/*
 * daemon/ctl.c — control socket: one request frame in, one reply frame out.
 *
 * A request is a msgpack map with "cmd" and the command's arguments; a reply
 * is a map with "ok" and either the results or "error" (a message for
 * people).  Records travel as their signed bytes: catalogctl decodes and
 * renders them itself, so the daemon never formats text for people.
 */
#include "daemon/ctl.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "store/kind.h"
#include "daemon/peer.h"
#include "proto/frame.h"
#include "proto/util.h"
#include "catalog/schema.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ctl_client {
    uv_pipe_t pipe;
    catalogd *d;
    proto_buf in;
    msgpack_sbuffer out;   /* replies to the requests of one read, sent together */
    int paused;            /* not reading: the client is slow to take its replies */
} ctl_client;

/* A client that pipelines requests faster than it reads the replies would
 * make them pile up here; past this much unsent, its requests wait. */
#define CTL_WRITE_HIGH (1u << 20)
#define CTL_WRITE_LOW (256u << 10)


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

void ctl_list_begin(ctl_list *l)
{
    l->n = 0;
    l->limit = 0;
    msgpack_sbuffer_init(&l->tmp);
    msgpack_packer_init(&l->tpk, &l->tmp, msgpack_sbuffer_write);
}

int ctl_list_rec(void *ctx, const uint8_t *rec, size_t len)
{
    ctl_list *l = ctx;
    msgpack_pack_bin(&l->tpk, len);
    msgpack_pack_bin_body(&l->tpk, rec, len);
    l->n++;
    return l->limit && l->n >= l->limit;
}

void ctl_list_end(ctl_list *l, msgpack_packer *pk, const char *key)
{
    proto_pack_cstr(pk, key);
    msgpack_pack_array(pk, l->n);
    if (l->tmp.size)
        msgpack_sbuffer_write(pk->data, l->tmp.data, l->tmp.size);
    msgpack_sbuffer_destroy(&l->tmp);
}

/* ---- commands ---- */

static int cmd_status(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                      char *err, size_t errlen)
{
    store_info si;
    char id[PROTO_ID_STR], dg[65], gh[65];
    if (store_info_get(d->st, &si))
        return proto_err(err, errlen, "store unavailable");
    proto_id_str(&d->id.id, id);
    proto_hex(si.digest.b, 32, dg);
    proto_hex(si.genesis.b, 32, gh);
    msgpack_pack_map(pk, 19);
    proto_pack_kv_bool(pk, "ok", 1);
    proto_pack_kv_str(pk, "member_id", id);
    proto_pack_kv_str(pk, "code", d->id.code);
    proto_pack_kv_str(pk, "name", d->id.name);
    proto_pack_kv_u64(pk, "records", si.records);
    proto_pack_kv_u64(pk, "current", si.current);
    proto_pack_kv_str(pk, "digest", dg);
    proto_pack_kv_str(pk, "alliance", si.has_genesis ? si.alliance : "");
    proto_pack_kv_str(pk, "genesis", si.has_genesis ? gh : "");
    proto_pack_kv_u64(pk, "members", si.members);
    proto_pack_kv_u64(pk, "authors", si.authors);
    proto_pack_kv_u64(pk, "forks", si.forks);
    proto_pack_kv_u64(pk, "peers", peer_count_established(d));
    proto_pack_kv_str(pk, "listen", d->listen_addr);
    proto_pack_kv_u64(pk, "seq", store_vv_get(d->st, &d->id.id));
    proto_pack_kv_u64(pk, "bytes_out", d->bytes_out);
    proto_pack_kv_u64(pk, "bytes_in", d->bytes_in);
    proto_pack_kv_u64(pk, "records_out", d->records_out);
    proto_pack_kv_u64(pk, "records_in", d->records_in);
    return 0;
}

/* put: kind, key, fields [[name, value], ...], tombstone.
 *
 * Puts are group-committed: the puts a client has pipelined and that
 * arrived together are signed and written in one LMDB transaction (one
 * fsync), and each still gets its own reply, in order. */
typedef struct {
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1];
    uint32_t flags;
    proto_body *body;
} put_req;

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

static int cmd_get(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                   char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1];
    proto_id author;
    ctl_list l;
    if (arg_author(req, len, d, &author, err, errlen))
        return -1;
    if (proto_map_str(req, len, "kind", kind, sizeof kind) || proto_map_str(req, len, "key", key, sizeof key))
        return proto_err(err, errlen, "get needs kind and key");
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_begin(&l);
    store_get_current(d->st, &author, kind, key, ctl_list_rec, &l);
    ctl_list_end(&l, pk, "records");
    return 0;
}

static int cmd_list(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                    char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1] = "";
    ctl_list l;
    uint64_t limit = 0;
    proto_map_str(req, len, "kind", kind, sizeof kind);
    proto_map_u64(req, len, "limit", &limit);
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_begin(&l);
    l.limit = limit;
    store_foreach_current(d->st, kind[0] ? kind : NULL, ctl_list_rec, &l);
    ctl_list_end(&l, pk, "records");
    return 0;
}

static int cmd_history(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1];
    proto_id author;
    ctl_list l;
    if (arg_author(req, len, d, &author, err, errlen))
        return -1;
    if (proto_map_str(req, len, "kind", kind, sizeof kind) || proto_map_str(req, len, "key", key, sizeof key))
        return proto_err(err, errlen, "history needs kind and key");
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_begin(&l);
    store_history(d->st, &author, kind, key, ctl_list_rec, &l);
    ctl_list_end(&l, pk, "records");
    return 0;
}

static int cmd_forks(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    ctl_list l;
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_begin(&l);
    store_forks(d->st, ctl_list_rec, &l);
    ctl_list_end(&l, pk, "records");
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
    uint8_t *rec;
    size_t rl;
    int rc = node_publish_one(d, "member", key, 0, b, &rec, &rl, err, errlen);
    proto_body_free(b);
    if (rc) {
        certs_free(&nc);
        return -1;
    }
    char ids[PROTO_ID_STR];
    proto_id_str(&nc.id, ids);
    log_info(d, "admitted %s %s (%s)%s%s", nc.code, nc.name, ids, addr[0] ? " at " : "", addr);
    certs_free(&nc);
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    proto_pack_kv_str(pk, "member_id", ids);
    free(rec);
    return 0;
}

static int cmd_member_set(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                          char *err, size_t errlen)
{
    char op[16], addr[256] = "", target[128] = "";
    proto_id subj = d->id.id;
    if (proto_map_str(req, len, "op", op, sizeof op))
        return proto_err(err, errlen, "member command needs an op");
    proto_map_str(req, len, "address", addr, sizeof addr);
    if (!proto_map_str(req, len, "member", target, sizeof target) && proto_id_parse(target, &subj))
        return proto_err(err, errlen, "not a member id: %s", target);
    if (!strcmp(op, "address") && !addr[0])
        return proto_err(err, errlen, "address needs HOST:PORT");
    char key[65];
    proto_hex(subj.b, 32, key);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", op);
    if (addr[0])
        proto_body_str(b, "address", addr);
    uint8_t *rec;
    size_t rl;
    int rc = node_publish_one(d, "member", key, 0, b, &rec, &rl, err, errlen);
    proto_body_free(b);
    if (rc)
        return -1;
    msgpack_pack_map(pk, 1);
    proto_pack_kv_bool(pk, "ok", 1);
    free(rec);
    return 0;
}

typedef struct {
    msgpack_sbuffer tmp;
    msgpack_packer tpk;
    uint32_t n;
} mem_list;

static int collect_member(void *ctx, const store_member *m)
{
    mem_list *l = ctx;
    char id[PROTO_ID_STR], by[PROTO_ID_STR] = "";
    static const char *st[] = { "pending", "member", "left", "expelled" };
    proto_id_str(&m->id, id);
    if (!proto_id_is_zero(&m->admitted_by))
        proto_id_str(&m->admitted_by, by);
    msgpack_pack_map(&l->tpk, 8);
    proto_pack_kv_str(&l->tpk, "member_id", id);
    proto_pack_kv_str(&l->tpk, "code", m->code);
    proto_pack_kv_str(&l->tpk, "name", m->name);
    proto_pack_kv_str(&l->tpk, "address", m->address);
    proto_pack_kv_str(&l->tpk, "status", m->status >= 0 && m->status <= 3 ? st[m->status] : "?");
    proto_pack_kv_str(&l->tpk, "admitted_by", by);
    proto_pack_kv_u64(&l->tpk, "since_ms", m->since_ms);
    proto_pack_kv_u64(&l->tpk, "endorsements", m->endorsements);
    l->n++;
    return 0;
}

static int cmd_members(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    mem_list l = { .n = 0 };
    msgpack_sbuffer_init(&l.tmp);
    msgpack_packer_init(&l.tpk, &l.tmp, msgpack_sbuffer_write);
    store_members(d->st, collect_member, &l);
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    proto_pack_cstr(pk, "members");
    msgpack_pack_array(pk, l.n);
    if (l.tmp.size)
        msgpack_sbuffer_write(pk->data, l.tmp.data, l.tmp.size);
    msgpack_sbuffer_destroy(&l.tmp);
    return 0;
}

static int cmd_peers(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    proto_pack_cstr(pk, "peers");
    peer_pack_list(d, pk);
    return 0;
}

static int cmd_vv(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                  char *err, size_t errlen);

/* sponsor: re-read the sponsor written by `catalogctl join` and dial it */
static int cmd_sponsor(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    catalogd_reload_sponsor(d);
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    proto_pack_kv_bool(pk, "sponsor", d->have_sponsor);
    return 0;
}

static const struct { const char *name; ctl_fn fn; } commands[] = {
    { "status", cmd_status },
    { "sponsor", cmd_sponsor },
    { "get", cmd_get },
    { "list", cmd_list },
    { "history", cmd_history },
    { "forks", cmd_forks },
    { "member_add", cmd_member_add },
    { "member_set", cmd_member_set },
    { "members", cmd_members },
    { "peers", cmd_peers },
    { "vv", cmd_vv },
    { "cput", catalog_cmd_put },
    { "cfind", catalog_cmd_find },
    { "csearch", catalog_cmd_search },
};

typedef struct { msgpack_packer *pk; uint32_t n; msgpack_sbuffer tmp; msgpack_packer tpk; } vv_list;

static int collect_vv(void *ctx, const proto_id *a, uint64_t seq)
{
    vv_list *l = ctx;
    char id[PROTO_ID_STR];
    proto_id_str(a, id);
    msgpack_pack_array(&l->tpk, 2);
    proto_pack_cstr(&l->tpk, id);
    msgpack_pack_uint64(&l->tpk, seq);
    l->n++;
    return 0;
}

static int cmd_vv(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                  char *err, size_t errlen)
{
    vv_list l = { .n = 0 };
    msgpack_sbuffer_init(&l.tmp);
    msgpack_packer_init(&l.tpk, &l.tmp, msgpack_sbuffer_write);
    store_vv(d->st, collect_vv, &l);
    msgpack_pack_map(pk, 2);
    proto_pack_kv_bool(pk, "ok", 1);
    proto_pack_cstr(pk, "vv");
    msgpack_pack_array(pk, l.n);
    if (l.tmp.size)
        msgpack_sbuffer_write(pk->data, l.tmp.data, l.tmp.size);
    msgpack_sbuffer_destroy(&l.tmp);
    return 0;
}

/* ---- transport ---- */

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void on_close(uv_handle_t *h)
{
    ctl_client *c = h->data;
    proto_buf_free(&c->in);
    msgpack_sbuffer_destroy(&c->out);
    free(c);
}

static void on_write(uv_write_t *w, int status)
{
    ctl_client *c = w->handle->data;
    free(w->data);
    free(w);
    if (status < 0 && status != UV_ECANCELED && !uv_is_closing((uv_handle_t *)&c->pipe)) {
        /* the client went away; a paused client would never read the EOF */
        uv_close((uv_handle_t *)&c->pipe, on_close);
        return;
    }
    if (status == 0 && c->paused && !uv_is_closing((uv_handle_t *)&c->pipe) &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) < CTL_WRITE_LOW) {
        c->paused = 0;
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    }
}

/* Send the collected replies in one write. */
static void out_flush(ctl_client *c)
{
    if (!c->out.size)
        return;
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.size);
    if (!w) {
        /* replies cannot be sent: better a closed connection than a client
         * waiting forever */
        msgpack_sbuffer_clear(&c->out);
        if (!uv_is_closing((uv_handle_t *)&c->pipe))
            uv_close((uv_handle_t *)&c->pipe, on_close);
        return;
    }
    w->data = msgpack_sbuffer_release(&c->out);
    if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_write)) {
        free(w->data);
        free(w);
        return;
    }
    if (!c->paused && uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > CTL_WRITE_HIGH) {
        c->paused = 1;
        uv_read_stop((uv_stream_t *)&c->pipe);
    }
}

static void reply(ctl_client *c, msgpack_sbuffer *sb)
{
    proto_frame_end(sb);
    msgpack_sbuffer_write(&c->out, sb->data, sb->size);
    msgpack_sbuffer_destroy(sb);
}

#define PUT_BATCH 1024

typedef struct {
    put_req req[PUT_BATCH];
    size_t n;
} put_batch;

static void reply_error(ctl_client *c, const char *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_frame_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_bool(&pk, "ok", 0);
    proto_pack_kv_str(&pk, "error", err[0] ? err : "failed");
    reply(c, &sb);
}

static void put_flush(ctl_client *c, put_batch *pb)
{
    if (!pb->n)
        return;
    store_write_item *w = calloc(pb->n, sizeof *w);
    char err[512] = "";
    for (size_t i = 0; w && i < pb->n; i++) {
        w[i].kind = pb->req[i].kind;
        w[i].key = pb->req[i].key;
        w[i].flags = pb->req[i].flags;
        w[i].body = pb->req[i].body;
    }
    int rc = w ? node_publish(c->d, w, pb->n, err, sizeof err)
               : proto_err(err, sizeof err, "out of memory");
    for (size_t i = 0; i < pb->n; i++) {
        if (rc) {
            reply_error(c, err);
        } else {
            proto_record pr;
            proto_id h;
            char hx[65];
            msgpack_sbuffer sb;
            msgpack_packer pk;
            proto_record_decode(w[i].out, w[i].out_len, &pr, NULL, 0);
            proto_record_hash(w[i].out, w[i].out_len, &h);
            proto_hex(h.b, 32, hx);
            proto_frame_begin(&sb, &pk);
            msgpack_pack_map(&pk, 3);
            proto_pack_kv_bool(&pk, "ok", 1);
            proto_pack_kv_u64(&pk, "seq", pr.seq);
            proto_pack_kv_str(&pk, "hash", hx);
            reply(c, &sb);
            free(w[i].out);
        }
        proto_body_free(pb->req[i].body);
    }
    free(w);
    pb->n = 0;
}

static void dispatch(ctl_client *c, const uint8_t *req, size_t len)
{
    char cmd[32], err[512] = "";
    msgpack_sbuffer sb, body;
    msgpack_packer pk, bpk;
    ctl_fn fn = NULL;
    if (proto_map_str(req, len, "cmd", cmd, sizeof cmd) == 0)
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(commands[i].name, cmd))
                fn = commands[i].fn;
    msgpack_sbuffer_init(&body);
    msgpack_packer_init(&bpk, &body, msgpack_sbuffer_write);
    int rc = fn ? fn(c->d, req, len, &bpk, err, sizeof err)
                : proto_err(err, sizeof err, "unknown control command");
    proto_frame_begin(&sb, &pk);
    if (rc == 0) {
        msgpack_sbuffer_write(&sb, body.data, body.size);
    } else {
        log_debug(c->d, "control: %s refused: %s", fn ? cmd : "?", err);
        msgpack_pack_map(&pk, 2);
        proto_pack_kv_bool(&pk, "ok", 0);
        proto_pack_kv_str(&pk, "error", err[0] ? err : "failed");
    }
    msgpack_sbuffer_destroy(&body);
    reply(c, &sb);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    static char slab[65536];   /* one loop thread: reads are consumed at once */
    b->base = slab;
    b->len = sizeof slab;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    ctl_client *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (proto_buf_append(&c->in, b->base, (size_t)n)) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    const uint8_t *f;
    size_t fl;
    int rc;
    static put_batch pb;   /* one loop thread; flushed before this returns */
    while ((rc = proto_frame_take(&c->in, PROTO_CTL_FRAME_MAX, &f, &fl)) == 1) {
        char cmd[32], err[512];
        if (proto_map_str(f, fl, "cmd", cmd, sizeof cmd) || strcmp(cmd, "put")) {
            put_flush(c, &pb);   /* replies stay in request order */
            dispatch(c, f, fl);
            continue;
        }
        if (put_prepare(f, fl, &pb.req[pb.n], err, sizeof err)) {
            put_flush(c, &pb);
            reply_error(c, err);
            continue;
        }
        if (++pb.n == PUT_BATCH)
            put_flush(c, &pb);
    }
    put_flush(c, &pb);
    out_flush(c);
    if (rc < 0) {
        log_warn(c->d, "control: oversized or empty frame; closing client");
        uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_conn(uv_stream_t *srv, int status)
{
    catalogd *d = srv->data;
    if (status < 0)
        return;
    ctl_client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->d = d;
    uv_pipe_init(d->loop, &c->pipe, 0);
    c->pipe.data = c;
    msgpack_sbuffer_init(&c->out);
    if (uv_accept(srv, (uv_stream_t *)&c->pipe) || uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read))
        uv_close((uv_handle_t *)&c->pipe, on_close);
}

int ctl_listen(catalogd *d, char *err, size_t errlen)
{
    int rc;
    /* A socket file left by a crashed daemon would make bind fail; remove it
     * only if nobody answers on it. */
    struct stat st;
    if (lstat(d->ctl_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        uv_pipe_t probe;
        (void)probe;
        unlink(d->ctl_path);
    }
    uv_pipe_init(d->loop, &d->ctl, 0);
    d->ctl.data = d;
    if ((rc = uv_pipe_bind(&d->ctl, d->ctl_path)))
        return proto_err(err, errlen, "control socket %s: %s", d->ctl_path, uv_strerror(rc));
    chmod(d->ctl_path, 0660);
    if ((rc = uv_listen((uv_stream_t *)&d->ctl, 16, on_conn)))
        return proto_err(err, errlen, "control socket listen: %s", uv_strerror(rc));
    d->ctl_open = 1;
    return 0;
}

void ctl_close(catalogd *d)
{
    if (d->ctl_open) {
        uv_close((uv_handle_t *)&d->ctl, NULL);
        unlink(d->ctl_path);
        d->ctl_open = 0;
    }
}
