/*
 * daemon/control_watch.c — `watch` on the control socket: a stream of the
 * records this node applies (catalogctl watch); see control_int.h.
 *
 * The stream's position is a version vector: per author, the last seq
 * sent.  An author's log has no gaps (the store refuses a record past the
 * author's next seq) and node_applied hands records over after they are
 * committed, in each author's seq order, so "everything up to seq s of
 * author A" is exact: the store itself is the stream's buffer.  A watcher
 * is live (pushed each record from node_applied) or catching up (read from
 * the store in pages while its queue stays below NODE_CONTROL_WRITE_HIGH);
 * it goes back to catching up whenever it falls behind, so a slow reader
 * costs the daemon a bounded queue, never a growing one, and misses
 * nothing.
 */
#include "daemon/control.h"
#include "daemon/control_int.h"
#include "daemon/log.h"
#include "proto/limits.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "proto/vv.h"
#include "store/kind.h"

#include <stdlib.h>
#include <string.h>

typedef struct control_watch {
    int live;              /* caught up: node_applied pushes each new record */
    proto_vv pos;          /* per author, the last seq sent (at the start, the position given) */
    uint64_t sent;
    int members_stale;     /* a membership record was sent since the last members frame */
} control_watch;

/* One record frame into the client's queue; after membership records a
 * members frame follows (send_members), for the client's labels. */
static void send_record(control_client *c, const uint8_t *rec, size_t len, const char *kind)
{
    msgpack_packer pk;
    proto_map m;
    size_t at = control_reply_begin(c, &pk);
    proto_map_begin(&m, &pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_bin(&m, "record", rec, len);
    proto_map_end(&m);
    control_reply_end(c, at);
    c->watch->sent++;
    if (kind_has(kind, KIND_F_MEMBERSHIP))
        c->watch->members_stale = 1;
}

/* The members as they are now, once after membership records (not once
 * each: a catch-up from the start would repeat the whole list per member). */
static void send_members(control_client *c)
{
    msgpack_packer pk;
    proto_map m;
    if (!c->watch->members_stale)
        return;
    size_t at = control_reply_begin(c, &pk);
    proto_map_begin(&m, &pk);
    proto_map_put_bool(&m, "ok", 1);
    catalog_cmd_members_put(c->d, &m);
    proto_map_end(&m);
    control_reply_end(c, at);
    c->watch->members_stale = 0;
}

/* ---- catching up from the store ---- */

typedef struct {
    control_client *c;
    proto_vv_entry *p;
    int full;
} range_ctx;

static int range_cb(void *ctx, const uint8_t *rec, size_t len)
{
    range_ctx *r = ctx;
    proto_record pr;
    if (proto_record_decode_stored(rec, len, &pr, NULL, 0) || pr.seq != r->p->seq + 1)
        return 1;   /* not the next of this author: stop (the next pump tries again) */
    send_record(r->c, rec, len, pr.kind);
    r->p->seq = pr.seq;
    if (control_queued(r->c) > NODE_CONTROL_WRITE_HIGH) {
        r->full = 1;
        return 1;
    }
    return 0;
}

typedef struct {
    control_watch *w;
    proto_vv behind;       /* authors the store holds more of (store_vv walks them in order) */
    int failed;
} behind_ctx;

static int behind_cb(void *ctx, const proto_id *author, uint64_t seq)
{
    behind_ctx *b = ctx;
    proto_vv_entry *p = proto_vv_get(&b->w->pos, author, 1);
    if (!p || (seq > p->seq && !proto_vv_get(&b->behind, author, 1))) {
        b->failed = 1;
        return 1;
    }
    return 0;
}

/* Send what the store holds past the watcher's position until the queue is
 * full (then on_write calls again) or nothing is left (then live). */
static void pump(control_client *c)
{
    control_watch *w = c->watch;
    catalogd *d = c->d;
    while (!w->live && control_queued(c) <= NODE_CONTROL_WRITE_HIGH) {
        behind_ctx b = { .w = w };
        if (store_vv(d->st, behind_cb, &b) < 0 || b.failed) {
            proto_vv_free(&b.behind);
            log_warn(d, "control: watch: cannot read the version vector; closing the watcher");
            control_client_close(c);
            return;
        }
        if (!b.behind.n) {
            w->live = 1;
            break;
        }
        int full = 0, stuck = 1;
        for (size_t i = 0; i < b.behind.n && !full; i++) {
            const proto_id *author = &b.behind.v[i].author;
            proto_vv_entry *p = proto_vv_get(&w->pos, author, 1);
            uint64_t before = p->seq;
            range_ctx r = { c, p, 0 };
            store_range(d->st, author, p->seq + 1, UINT64_MAX, range_cb, &r);
            full = r.full;
            if (p->seq != before)
                stuck = 0;
        }
        proto_vv_free(&b.behind);
        send_members(c);
        if (stuck && !full) {
            /* the vector says more and the log gives nothing: not a state
             * a store reaches; better closed than a loop that spins */
            log_warn(d, "control: watch: the log does not follow the version vector; closing the watcher");
            control_client_close(c);
            return;
        }
    }
    control_out_flush(c);
}

/* ---- the request, and the records node_applied hands over ---- */

static int start_now(void *ctx, const proto_id *author, uint64_t seq)
{
    control_watch *w = ctx;
    proto_vv_entry *p = proto_vv_get(&w->pos, author, 1);
    if (!p)
        return 1;
    p->seq = seq;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return memcmp(&((const proto_vv_entry *)a)->author, &((const proto_vv_entry *)b)->author, sizeof(proto_id));
}

int control_watch_start(control_client *c, const uint8_t *req, size_t len, char *err, size_t errlen)
{
    unsigned watchers = 0;
    for (control_client *o = c->d->ctl_clients; o; o = o->next)
        watchers += o->watch != NULL && !uv_is_closing((uv_handle_t *)&o->pipe);
    if (watchers >= NODE_CONTROL_WATCHERS_MAX)
        return proto_err(err, errlen, "%u watchers are connected already (the most at once); stop one first",
                         watchers);
    control_watch *w = calloc(1, sizeof *w);
    if (!w)
        return proto_err(err, errlen, "out of memory");
    proto_rd rd;
    int from_start = 0;
    if (proto_map_find(req, len, "from_start", &rd) == 0 && proto_rd_bool(&rd, &from_start)) {
        free(w);
        return proto_err(err, errlen, "from_start must be true or false");
    }
    if (proto_map_find(req, len, "since", &rd) == 0) {
        /* [[member id (text), seq], ...]: the position the client saw */
        uint32_t n, two;
        if (proto_rd_array(&rd, &n) || n > MSG_VV_MAX) {
            free(w);
            return proto_err(err, errlen, "since must be an array of at most %u [member id, seq]", MSG_VV_MAX);
        }
        /* read whole, then sorted: inserted in order, each entry is an append
         * (in the order given, 8,192 entries in reverse would each move all
         * the others) */
        proto_vv_entry *given = malloc((n ? n : 1) * sizeof *given);
        if (!given) {
            free(w);
            return proto_err(err, errlen, "out of memory");
        }
        for (uint32_t i = 0; i < n; i++) {
            char id[PROTO_ID_STR + 1];
            if (proto_rd_array(&rd, &two) || two != 2 || proto_rd_strcpy(&rd, id, sizeof id) ||
                proto_id_parse(id, &given[i].author) || proto_rd_uint(&rd, &given[i].seq)) {
                free(given);
                free(w);
                return proto_err(err, errlen, "since: entry %u is not [member id, seq]", i + 1);
            }
        }
        qsort(given, n, sizeof *given, entry_cmp);
        for (uint32_t i = 0; i < n; i++) {
            proto_vv_entry *p = proto_vv_get(&w->pos, &given[i].author, 1);
            if (!p) {
                free(given);
                proto_vv_free(&w->pos);
                free(w);
                return proto_err(err, errlen, "out of memory");
            }
            p->seq = given[i].seq;
        }
        free(given);
    } else if (!from_start && store_vv(c->d->st, start_now, w)) {
        proto_vv_free(&w->pos);
        free(w);
        return proto_err(err, errlen, "cannot read the version vector");
    }
    c->watch = w;
    /* the first frame: where the stream starts (after these) */
    msgpack_packer pk;
    proto_map m;
    size_t at = control_reply_begin(c, &pk);
    proto_map_begin(&m, &pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_bool(&m, "watch", 1);
    proto_map_key(&m, "start");
    msgpack_pack_array(&pk, (uint32_t)w->pos.n);
    for (size_t i = 0; i < w->pos.n; i++) {
        char id[PROTO_ID_STR];
        proto_id_str(&w->pos.v[i].author, id);
        msgpack_pack_array(&pk, 2);
        proto_pack_cstr(&pk, id);
        msgpack_pack_uint64(&pk, w->pos.v[i].seq);
    }
    catalog_cmd_members_put(c->d, &m);
    proto_map_end(&m);
    control_reply_end(c, at);
    log_debug(c->d, "control: a watcher started (%zu authors in its position)", w->pos.n);
    pump(c);
    return 0;
}

void control_watch_drained(control_client *c)
{
    if (c->watch && !c->watch->live && !uv_is_closing((uv_handle_t *)&c->pipe))
        pump(c);
}

void control_watch_free(control_client *c)
{
    if (!c->watch)
        return;
    proto_vv_free(&c->watch->pos);
    free(c->watch);
    c->watch = NULL;
}

void control_watch_applied(catalogd *d, const proto_record *recs, const int *results, size_t n)
{
    for (control_client *c = d->ctl_clients; c; c = c->next) {
        control_watch *w = c->watch;
        if (!w || !w->live || uv_is_closing((uv_handle_t *)&c->pipe))
            continue;
        for (size_t i = 0; i < n && w->live; i++) {
            if (results[i] != STORE_NEW)
                continue;   /* a fork's second version is evidence, not a new record */
            proto_vv_entry *p = proto_vv_get(&w->pos, &recs[i].author, 1);
            if (!p) {
                w->live = 0;
                break;
            }
            if (recs[i].seq <= p->seq)
                continue;   /* sent already */
            if (recs[i].seq != p->seq + 1 || control_queued(c) > NODE_CONTROL_WRITE_HIGH) {
                w->live = 0;   /* behind: catch up from the store once the queue drains */
                break;
            }
            send_record(c, recs[i].raw, recs[i].raw_len, recs[i].kind);
            p->seq = recs[i].seq;
        }
        send_members(c);
        control_out_flush(c);
        if (!w->live && control_queued(c) <= NODE_CONTROL_WRITE_HIGH)
            pump(c);
    }
}
