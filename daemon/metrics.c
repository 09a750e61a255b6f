/*
 * daemon/metrics.c — the Prometheus text exposition (format 0.0.4) of the
 * node: the store's sizes (store_info_get), the counters of d->counters,
 * the connections by state, and per member of the alliance its traffic and
 * whether its digest matches ours.  See metrics.h; docs/OPERATIONS.md
 * "Metrics" lists every metric.
 *
 * A scrape must stay cheap, since it runs on the event loop: the store is
 * asked only for what store_info_get counts (LMDB keeps the entry counts)
 * and for its members; the per-member rows cost members x connections
 * comparisons, both bounded by the alliance.
 *
 * Label values are escaped as the format says (backslash, double quote and
 * line feed); they are bounded: kinds and reasons are fixed lists, and a
 * member is labelled by its municipality code (the name goes in
 * catalogd_member_info only).
 */
#include "daemon/metrics.h"
#include "daemon/indexer.h"
#include "daemon/control.h"
#include "daemon/gossip.h"
#include "daemon/health.h"
#include "daemon/peer.h"
#include "daemon/web.h"
#include "catalog/index.h"
#include "proto/limits.h"
#include "proto/msg.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(CATALOGD_KINDS == KIND_POLICY + 1, "a counter per kind_id");
_Static_assert(CATALOGD_PEER_ERRORS == MSG_ERR_LIMIT + 1, "a counter per error code");

/* ---- the format ---- */

typedef struct {
    const char *k, *v;
} mlabel;

/* # HELP and # TYPE of a family; its samples follow at once (the format
 * wants a family's samples together).  The help texts are this file's own
 * literals: no backslash or line feed to escape. */
static void family(web_buf *b, const char *name, const char *type, const char *help)
{
    web_rawf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: \ " and line feed escaped; text that is not UTF-8 (no
 * member's name is, but the format requires UTF-8) as "?". */
static void label_value(web_buf *b, const char *s)
{
    if (!proto_utf8_valid(s, strlen(s))) {
        web_raw(b, "?");
        return;
    }
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        web_put(b, run, (size_t)(s - run));
        web_raw(b, esc);
        run = s + 1;
    }
    web_put(b, run, (size_t)(s - run));
}

static void sample_head(web_buf *b, const char *name, const mlabel *l, size_t nl)
{
    web_raw(b, name);
    for (size_t i = 0; i < nl; i++) {
        web_rawf(b, "%s%s=\"", i ? "," : "{", l[i].k);
        label_value(b, l[i].v);
        web_raw(b, "\"");
    }
    if (nl)
        web_raw(b, "}");
}

static void sample(web_buf *b, const char *name, const mlabel *l, size_t nl, uint64_t v)
{
    sample_head(b, name, l, nl);
    web_rawf(b, " %llu\n", (unsigned long long)v);
}

/* milliseconds as seconds, exactly (no float rounding) */
static void sample_ms(web_buf *b, const char *name, const mlabel *l, size_t nl, uint64_t ms)
{
    sample_head(b, name, l, nl);
    web_rawf(b, " %llu.%03llu\n", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
}

/* A family of one unlabelled sample. */
static void single(web_buf *b, const char *name, const char *type, const char *help, uint64_t v)
{
    family(b, name, type, help);
    sample(b, name, NULL, 0, v);
}

/* A family with one sample per name of a fixed list, under label `key`. */
static void by_label(web_buf *b, const char *name, const char *type, const char *help, const char *key,
                     const char *const *names, const uint64_t *v, size_t n)
{
    family(b, name, type, help);
    for (size_t i = 0; i < n; i++) {
        mlabel l = { key, names[i] };
        sample(b, name, &l, 1, v[i]);
    }
}

/* ---- what the counters count, by name ---- */

static const char *const kind_names[CATALOGD_KINDS] = {
    [KIND_GENERIC] = "other", [KIND_GENESIS] = "genesis", [KIND_MEMBER] = "member",
    [KIND_CERTIFICATION] = "certification", [KIND_ADOPTION] = "adoption", [KIND_POLICY] = "policy",
};
static const char *const refusal_names[REFUSED_REASONS] = {
    [REFUSED_NOT_MEMBER] = "not_member", [REFUSED_WRONG_MEMBER] = "wrong_member",
    [REFUSED_BAD_CERT] = "bad_certificate", [REFUSED_MAX_CONNECTIONS] = "max_connections",
    [REFUSED_MAX_PER_ADDRESS] = "max_connections_per_address",
    [REFUSED_HANDSHAKE_TIMEOUT] = "handshake_timeout", [REFUSED_INBOUND_FULL] = "max_inbound_peers",
};
static const char *const record_refusal_names[RECORD_REFUSALS] = {
    [RECORD_MALFORMED] = "malformed", [RECORD_RULES] = "rules", [RECORD_SEQ_JUMP] = "seq_jump",
    [RECORD_FORMER] = "former_member", [RECORD_REKEY_CUT] = "rekey_cut", [RECORD_REKEY_WAIT] = "rekey_wait",
    [RECORD_CHAIN_WAIT] = "chain_wait",
};

/* ---- per member ---- */

typedef struct {
    proto_id id;
    char code[8], name[192], ids[PROTO_ID_STR];
    char label[8 + 1 + 10];     /* the code, or code-shortid when two members share a code */
    uint64_t bytes_in, bytes_out, recs_in, recs_out, match_ms;
    int connected, in_sync;
} mrow;

typedef struct {
    catalogd *d;
    mrow *rows;
    size_t n, cap;
    int failed;
} mrows;

static int collect_member(void *ctx, const store_member *m)
{
    mrows *r = ctx;
    if (m->status != STORE_MEMBER_ACTIVE || !memcmp(&m->id, &r->d->id.id, sizeof m->id))
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        mrow *nr = realloc(r->rows, cap * sizeof *nr);
        if (!nr) {
            r->failed = 1;
            return 1;
        }
        r->rows = nr;
        r->cap = cap;
    }
    mrow *w = &r->rows[r->n++];
    memset(w, 0, sizeof *w);
    w->id = m->id;
    snprintf(w->code, sizeof w->code, "%s", m->code);
    snprintf(w->name, sizeof w->name, "%s", m->name);
    proto_id_str(&m->id, w->ids);
    return 0;
}

static member_traffic *closed_find(catalogd *d, const proto_id *id)
{
    for (size_t i = 0; i < d->counters.nclosed; i++)
        if (!memcmp(&d->counters.closed[i].id, id, sizeof *id))
            return &d->counters.closed[i];
    return NULL;
}

/* A row's totals: its closed connections and those open now.  Only
 * connections that were established count, here as in metrics_peer_closed,
 * so a member's counters never go down when a connection closes. */
static void fill_row(catalogd *d, mrow *w, const proto_id *digest)
{
    const member_traffic *c = closed_find(d, &w->id);
    if (c) {
        w->bytes_in = c->bytes_in;
        w->bytes_out = c->bytes_out;
        w->recs_in = c->recs_in;
        w->recs_out = c->recs_out;
        w->match_ms = c->last_match_ms;
    }
    for (peer *p = d->peers; p; p = p->next) {
        if (!p->id_known || !p->since_ms || memcmp(&p->id, &w->id, sizeof w->id))
            continue;
        w->bytes_in += p->bytes_in;
        w->bytes_out += p->bytes_out;
        w->recs_in += p->recs_in;
        w->recs_out += p->recs_out;
        if (gossip_last_match_ms(p) > w->match_ms)
            w->match_ms = gossip_last_match_ms(p);
        if (p->state == PEER_ESTABLISHED) {
            w->connected = 1;
            w->in_sync |= gossip_in_sync(p, digest);
        }
    }
}

/* Label values must be unique per series: two members of one code (the
 * store does not forbid it) are told apart by their short ids. */
static void label_rows(mrows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        mrow *w = &r->rows[i];
        int shared = 0;
        for (size_t j = 0; j < r->n && !shared; j++)
            shared = j != i && !strcmp(r->rows[j].code, w->code);
        if (shared) {
            char s[10];
            proto_id_short(&w->id, s);
            snprintf(w->label, sizeof w->label, "%s-%s", w->code, s);
        } else {
            snprintf(w->label, sizeof w->label, "%s", w->code);
        }
    }
}

enum { ROW_BYTES_IN, ROW_BYTES_OUT, ROW_RECS_IN, ROW_RECS_OUT, ROW_CONNECTED, ROW_IN_SYNC };

static uint64_t row_value(const mrow *w, int what)
{
    switch (what) {
    case ROW_BYTES_IN: return w->bytes_in;
    case ROW_BYTES_OUT: return w->bytes_out;
    case ROW_RECS_IN: return w->recs_in;
    case ROW_RECS_OUT: return w->recs_out;
    case ROW_CONNECTED: return (uint64_t)w->connected;
    default: return (uint64_t)w->in_sync;
    }
}

static void per_member(web_buf *b, const mrows *r, const char *name, const char *type, const char *help,
                       int what)
{
    family(b, name, type, help);
    for (size_t i = 0; i < r->n; i++) {
        mlabel l = { "member", r->rows[i].label };
        sample(b, name, &l, 1, row_value(&r->rows[i], what));
    }
}

static void members_out(catalogd *d, web_buf *b, const proto_id *digest)
{
    mrows r = { .d = d };
    store_members(d->st, collect_member, &r);
    if (r.failed) {
        b->failed = 1;
        free(r.rows);
        return;
    }
    for (size_t i = 0; i < r.n; i++)
        fill_row(d, &r.rows[i], digest);
    label_rows(&r);

    family(b, "catalogd_member_info", "gauge",
           "A current member of the alliance other than this node: the code that labels it, its name and member id (always 1)");
    for (size_t i = 0; i < r.n; i++) {
        const mrow *w = &r.rows[i];
        mlabel l[] = { { "member", w->label }, { "code", w->code }, { "name", w->name }, { "member_id", w->ids } };
        sample(b, "catalogd_member_info", l, 4, 1);
    }
    per_member(b, &r, "catalogd_peer_connected", "gauge", "1 when a connection to the member is established",
               ROW_CONNECTED);
    per_member(b, &r, "catalogd_peer_in_sync", "gauge",
               "1 when the digest the member last sent equals this node's now", ROW_IN_SYNC);
    uint64_t now = uv_now(d->loop);
    family(b, "catalogd_peer_digest_age_seconds", "gauge",
           "Seconds since a digest the member sent last equalled this node's (absent: never since this daemon started)");
    for (size_t i = 0; i < r.n; i++) {
        const mrow *w = &r.rows[i];
        if (!w->match_ms)
            continue;
        mlabel l = { "member", w->label };
        sample_ms(b, "catalogd_peer_digest_age_seconds", &l, 1, now > w->match_ms ? now - w->match_ms : 0);
    }
    per_member(b, &r, "catalogd_peer_received_bytes_total", "counter",
               "Bytes received on established connections with the member (TLS included), since this daemon started",
               ROW_BYTES_IN);
    per_member(b, &r, "catalogd_peer_sent_bytes_total", "counter",
               "Bytes sent on established connections with the member (TLS included), since this daemon started",
               ROW_BYTES_OUT);
    per_member(b, &r, "catalogd_peer_received_records_total", "counter",
               "Records from the member that were new here and applied", ROW_RECS_IN);
    per_member(b, &r, "catalogd_peer_sent_records_total", "counter", "Records sent to the member", ROW_RECS_OUT);
    free(r.rows);
}

/* ---- health: the same judgement as catalogctl status (health_pack) ---- */

static void health_read(catalogd *d, const store_info *si, int *ok, uint32_t *problems)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_map m;
    proto_rd h, r;
    *ok = 0;
    *problems = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    proto_map_begin(&m, &pk);
    health_pack(d, si, &m);
    proto_map_end(&m);
    if (sb.data && proto_map_find((const uint8_t *)sb.data, sb.size, "health", &h) == 0) {
        size_t hl = (size_t)(h.end - h.p);
        if (proto_map_find(h.p, hl, "ok", &r) == 0)
            proto_rd_bool(&r, ok);
        if (proto_map_find(h.p, hl, "problems", &r) == 0)
            proto_rd_array(&r, problems);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* ---- the whole text ---- */

int metrics_format(catalogd *d, web_buf *b)
{
    const catalogd_counters *c = &d->counters;
    store_info si;
    int have = store_info_get(d->st, &si) == 0;
    char ids[PROTO_ID_STR];
    proto_id_str(&d->id.id, ids);

    family(b, "catalogd_info", "gauge",
           "This node: its municipality code and name, member id, alliance and catalogd version (always 1)");
    mlabel info[] = { { "member", d->id.code }, { "name", d->id.name }, { "member_id", ids },
                      { "alliance", have && si.has_genesis ? si.alliance : "" }, { "version", CATALOGD_VERSION } };
    sample(b, "catalogd_info", info, sizeof info / sizeof info[0], 1);

    if (have) {
        int ok;
        uint32_t problems;
        health_read(d, &si, &ok, &problems);
        single(b, "catalogd_healthy", "gauge", "1 when catalogctl status reports no problem", (uint64_t)ok);
        single(b, "catalogd_health_problems", "gauge", "Problems catalogctl status reports now", problems);
        single(b, "catalogd_records", "gauge", "Records held in the store, every version of every record",
               si.records);
        single(b, "catalogd_current_entries", "gauge", "Current (author, kind, key) entries in the store",
               si.current);
        single(b, "catalogd_members", "gauge", "Current members of the alliance, this node included", si.members);
        single(b, "catalogd_authors", "gauge", "Authors in the version vector", si.authors);
        single(b, "catalogd_store_forks", "gauge", "Records of equivocation evidence held (catalogctl forks)",
               si.forks);
        single(b, "catalogd_store_map_bytes", "gauge", "Bytes the store's map may grow to (map_size_mb)",
               si.map_size);
        single(b, "catalogd_store_used_bytes", "gauge",
               "Bytes of the store's map in use, up to the last page written (writes fail when it reaches the map)",
               si.map_used);
    }

    catalog_index_stats xs = { 0 };
    if (d->index)
        catalog_index_stats_get(d->index, &xs);
    family(b, "catalogd_catalog_entries", "gauge",
           "Current certifications and adoptions in the search index, as of its last build (see catalogd_catalog_index_current)");
    mlabel kc = { "kind", "certification" }, ka = { "kind", "adoption" };
    sample(b, "catalogd_catalog_entries", &kc, 1, xs.certifications);
    sample(b, "catalogd_catalog_entries", &ka, 1, xs.adoptions);
    single(b, "catalogd_catalog_index_current", "gauge",
           "1 when the search index is built at the catalog's current state (a search brings it up to date)",
           (uint64_t)(xs.built && xs.gen == d->catalog_gen));
    single(b, "catalogd_catalog_index_builds_total", "counter",
           "Updates of the search index that read every current certification and adoption (the first, after a fork, after many changes at once)",
           xs.builds);
    single(b, "catalogd_catalog_index_updates_in_place_total", "counter",
           "Updates of the search index that read only the certifications and adoptions that changed",
           xs.updates_in_place);

    by_label(b, "catalogd_records_signed_total", "counter", "Records this node signed and wrote, by kind", "kind",
             kind_names, c->records_signed, CATALOGD_KINDS);
    by_label(b, "catalogd_records_applied_total", "counter", "Records received from peers, new here and applied, by kind",
             "kind", kind_names, c->records_applied, CATALOGD_KINDS);
    single(b, "catalogd_records_sent_total", "counter", "Records sent to peers", d->records_out);
    single(b, "catalogd_forks_detected_total", "counter",
           "Equivocations detected: a member signed two records with one seq (evidence kept)", c->forks_detected);
    single(b, "catalogd_verify_failures_total", "counter", "Records from peers whose signature did not verify",
           c->verify_failures);
    single(b, "catalogd_verify_batches_total", "counter",
           "Batches of records from peers whose signatures were checked (on the loop or on the thread pool)",
           c->verify_batches);
    single(b, "catalogd_verify_pool_jobs_total", "counter",
           "Thread pool jobs those batches were cut into, to check them on several cores",
           c->verify_pool_jobs);
    by_label(b, "catalogd_records_refused_total", "counter",
             "Records from peers refused (the connection is closed), by reason", "reason", record_refusal_names,
             c->records_refused, RECORD_REFUSALS);
    single(b, "catalogd_records_dropped_total", "counter",
           "Records set aside (a gap, an author not yet admitted) and dropped over a budget; fetched again later",
           c->records_dropped);

    uint64_t states[PEER_CLOSING + 1] = { 0 };
    for (peer *p = d->peers; p; p = p->next)
        states[p->state]++;
    by_label(b, "catalogd_peers", "gauge", "Peer connections, by state", "state", peer_state_names, states,
             PEER_CLOSING + 1);
    by_label(b, "catalogd_peers_refused_total", "counter", "Peer connections refused before they could speak, by reason",
             "reason", refusal_names, c->peers_refused, REFUSED_REASONS);
    const char *errs[CATALOGD_PEER_ERRORS];
    errs[0] = "other";
    for (unsigned i = 1; i < CATALOGD_PEER_ERRORS; i++)
        errs[i] = msg_error_name(i);
    by_label(b, "catalogd_peer_failures_total", "counter",
             "Peer connections closed for breaking the protocol, by the error sent", "reason", errs, c->peer_failures,
             CATALOGD_PEER_ERRORS);
    single(b, "catalogd_network_received_bytes_total", "counter", "Bytes received on every peer connection",
           d->bytes_in);
    single(b, "catalogd_network_sent_bytes_total", "counter", "Bytes sent on every peer connection", d->bytes_out);
    single(b, "catalogd_tree_prunes_total", "counter",
           "Broadcast tree links made lazy here (a record pushed twice)", c->tree_prunes);
    single(b, "catalogd_tree_grafts_total", "counter",
           "Broadcast tree links made eager here (an announced record the tree did not bring)", c->tree_grafts);
    single(b, "catalogd_control_requests_total", "counter", "Control socket requests", c->control_requests);
    single(b, "catalogd_control_errors_total", "counter",
           "Control socket requests answered with an error (unknown, refused or failed)", c->control_errors);
    single(b, "catalogd_web_exports_building", "gauge",
           "Web view exports (/export.csv, /export.xlsx) being built on the thread pool now", web_jobs_building(d));
    single(b, "catalogd_catalog_index_building", "gauge",
           "1 while the search index is built on the thread pool (a first search, a rebuild)", indexer_building(d));
    single(b, "catalogd_web_parked", "gauge", "Web view requests waiting for that build", web_parked_count(d));
    single(b, "catalogd_control_parked", "gauge", "Control csearch requests waiting for that build", d->nctl_parked);
    single(b, "catalogd_web_export_builds_total", "counter",
           "Web view exports queued on the thread pool (a HEAD request builds none)", c->web_export_builds);
    single(b, "catalogd_web_export_cancelled_total", "counter",
           "Web view exports stopped before the end (the client went away, or the node stopped)",
           c->web_export_cancelled);

    if (have)
        members_out(d, b, &si.digest);
    if (!b->failed && b->n > NODE_METRICS_BODY_MAX)
        b->failed = 1;
    return b->failed ? -1 : 0;
}

/* ---- the counters' upkeep ---- */

void metrics_peer_closed(peer *p)
{
    catalogd *d = p->d;
    catalogd_counters *c = &d->counters;
    if (!p->id_known || !p->since_ms)
        return;   /* never established: strangers are not kept (unbounded) */
    member_traffic *t = closed_find(d, &p->id);
    if (!t) {
        if (c->nclosed == c->capclosed) {
            size_t cap = c->capclosed ? c->capclosed * 2 : 16;
            member_traffic *n = realloc(c->closed, cap * sizeof *n);
            if (!n)
                return;   /* the member's counters drop back: a scraper sees a counter reset */
            c->closed = n;
            c->capclosed = cap;
        }
        t = &c->closed[c->nclosed++];
        memset(t, 0, sizeof *t);
        t->id = p->id;
    }
    t->bytes_in += p->bytes_in;
    t->bytes_out += p->bytes_out;
    t->recs_in += p->recs_in;
    t->recs_out += p->recs_out;
    if (gossip_last_match_ms(p) > t->last_match_ms)
        t->last_match_ms = gossip_last_match_ms(p);
}

void metrics_free(catalogd *d)
{
    free(d->counters.closed);
    d->counters.closed = NULL;
    d->counters.nclosed = d->counters.capclosed = 0;
}

/* ---- where the text goes ---- */

int metrics_cmd(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    web_buf b = { 0 };
    if (metrics_format(d, &b)) {
        web_buf_free(&b);
        return proto_err(err, errlen, "metrics: out of memory or over %u bytes", NODE_METRICS_BODY_MAX);
    }
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_key(&m, "text");
    msgpack_pack_str(pk, b.n);
    msgpack_pack_str_body(pk, b.p ? b.p : "", b.n);
    proto_map_end(&m);
    web_buf_free(&b);
    return 0;
}

int web_page_metrics(web_req *w)
{
    w->type = METRICS_CONTENT_TYPE;
    if (metrics_format(w->d, &w->out))
        w->out.failed = 1;   /* web.c answers 500 */
    return 0;
}
