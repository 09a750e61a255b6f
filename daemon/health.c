/*
 * daemon/health.c — the "health" object of the status reply (health.h).
 * Everything is read from state the daemon keeps anyway (connections, the
 * store, our certificate), so status stays cheap enough to poll.
 */
#include "daemon/health.h"
#include "daemon/gossip.h"
#include "daemon/peer.h"
#include "proto/record.h"
#include "proto/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>

/* Problems are packed into a buffer of their own as they are found: the
 * array's length is known only at the end. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t n;
} problems;

static void problem(problems *pr, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(problems *pr, const char *code, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    proto_map m;
    proto_map_begin(&m, &pr->pk);
    proto_map_put_str(&m, "code", code);
    proto_map_put_str(&m, "text", text);
    proto_map_end(&m);
    pr->n++;
}

static void duration(uint64_t s, char *buf, size_t n)
{
    if (s >= 86400)
        snprintf(buf, n, "%llu d %llu h", (unsigned long long)(s / 86400), (unsigned long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, n, "%llu h %llu min", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, n, "%llu s", (unsigned long long)s);
}

/* ---- members ---- */

typedef struct {
    catalogd *d;
    proto_id digest;
    uint64_t now, silence_s;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t n;
    problems *pr;
} member_walk;

static int one_member(void *ctx, const store_member *mb)
{
    member_walk *w = ctx;
    if (mb->status != STORE_MEMBER_ACTIVE || !memcmp(&mb->id, &w->d->id.id, sizeof mb->id))
        return 0;
    char id[PROTO_ID_STR];
    proto_id_str(&mb->id, id);
    peer *p = peer_of_member(w->d, &mb->id);
    int sync = p && p->state == PEER_ESTABLISHED && gossip_in_sync(p, &w->digest);
    uint64_t heard = peer_last_heard_ms(w->d, &mb->id);
    uint64_t match = p ? gossip_last_match_ms(p) : 0;
    proto_map m;
    proto_map_begin(&m, &w->pk);
    proto_map_put_str(&m, "member_id", id);
    proto_map_put_str(&m, "code", mb->code);
    proto_map_put_str(&m, "name", mb->name);
    proto_map_put_str(&m, "state", p ? peer_state_names[p->state] : "not connected");
    proto_map_put_bool(&m, "in_sync", sync);
    /* absent: never heard (or never matched) since this daemon started */
    if (heard)
        proto_map_put_u64(&m, "last_heard_s", (w->now - heard) / 1000);
    if (match)
        proto_map_put_u64(&m, "last_sync_s", (w->now - match) / 1000);
    proto_map_end(&m);
    w->n++;
    /* A member never heard counts from our start: a daemon up for an hour
     * cannot say a member has been silent for days. */
    uint64_t silent_ms = w->now - (heard ? heard : w->d->started_ms);
    if (silent_ms / 1000 >= w->silence_s) {
        char dur[64];
        duration(silent_ms / 1000, dur, sizeof dur);
        problem(w->pr, "member_silent", "member %s %s not heard from for %s%s", mb->code, mb->name, dur,
                heard ? "" : " (never since this daemon started)");
    }
    return 0;
}

/* ---- forks ---- */

typedef struct {
    proto_id authors[HEALTH_FORK_AUTHORS_MAX];
    uint64_t seq[HEALTH_FORK_AUTHORS_MAX];
    unsigned n, more;
} fork_walk;

static int one_fork(void *ctx, const uint8_t *rec, size_t len)
{
    fork_walk *w = ctx;
    proto_record r;
    char err[128];
    if (proto_record_decode_stored(rec, len, &r, err, sizeof err))
        return 0;
    for (unsigned i = 0; i < w->n; i++)
        if (!memcmp(&w->authors[i], &r.author, sizeof r.author))
            return 0;
    if (w->n == HEALTH_FORK_AUTHORS_MAX) {
        w->more++;
        return 0;
    }
    w->authors[w->n] = r.author;
    w->seq[w->n++] = r.seq;
    return 0;
}

static void check_forks(catalogd *d, const store_info *si, problems *pr)
{
    if (!si->forks)
        return;
    fork_walk w = { .n = 0 };
    store_forks(d->st, one_fork, &w);
    for (unsigned i = 0; i < w.n; i++) {
        store_member mb;
        char id[PROTO_ID_STR];
        proto_id_str(&w.authors[i], id);
        if (store_member_get(d->st, &w.authors[i], &mb) == 0)
            problem(pr, "fork", "fork: member %s %s (%s) signed two different records with seq %llu "
                    "(a broken or compromised node; catalogctl forks)", mb.code, mb.name, id,
                    (unsigned long long)w.seq[i]);
        else
            problem(pr, "fork", "fork: author %s signed two different records with seq %llu (catalogctl forks)",
                    id, (unsigned long long)w.seq[i]);
    }
    if (w.more || !w.n)
        problem(pr, "fork", "fork: %llu records of equivocation evidence in all (catalogctl forks)",
                (unsigned long long)si->forks);
}

/* ---- the store's map and our certificate ---- */

static void check_map(const store_info *si, problems *pr)
{
    if (si->map_size && si->map_used * 100 > si->map_size * HEALTH_MAP_FULL_PCT)
        problem(pr, "map_full", "store map %llu%% used (%llu of %llu MiB): raise map_size_mb and restart",
                (unsigned long long)(si->map_used * 100 / si->map_size),
                (unsigned long long)(si->map_used >> 20), (unsigned long long)(si->map_size >> 20));
}

static void check_cert(catalogd *d, problems *pr)
{
    const ASN1_TIME *end = d->id.cert ? X509_get0_notAfter(d->id.cert) : NULL;
    int days, secs;
    if (!end || !ASN1_TIME_diff(&days, &secs, NULL, end))
        return;
    if (days < 0 || secs < 0)
        problem(pr, "cert_expiry", "our certificate has expired: peers refuse this node");
    else if (days < HEALTH_CERT_WARN_DAYS)
        problem(pr, "cert_expiry", "our certificate expires in %d days: renew it before peers refuse this node",
                days);
}

void health_pack(catalogd *d, const store_info *si, proto_map *m)
{
    problems pr = { .n = 0 };
    msgpack_sbuffer_init(&pr.sb);
    msgpack_packer_init(&pr.pk, &pr.sb, msgpack_sbuffer_write);
    member_walk w = { .d = d, .digest = si->digest, .now = uv_now(d->loop), .pr = &pr };
    w.silence_s = (uint64_t)d->conf.num[CONFIG_MEMBER_SILENCE_WARN_S];
    msgpack_sbuffer_init(&w.sb);
    msgpack_packer_init(&w.pk, &w.sb, msgpack_sbuffer_write);

    check_forks(d, si, &pr);
    store_members(d->st, one_member, &w);
    check_map(si, &pr);
    check_cert(d, &pr);

    msgpack_packer *pk = m->pk;
    proto_map_key(m, "health");
    proto_map h;
    proto_map_begin(&h, pk);
    proto_map_put_bool(&h, "ok", pr.n == 0);
    proto_map_key(&h, "problems");
    msgpack_pack_array(pk, pr.n);
    pk->callback(pk->data, pr.sb.data, pr.sb.size);
    proto_map_key(&h, "peers");
    msgpack_pack_array(pk, w.n);
    pk->callback(pk->data, w.sb.data, w.sb.size);
    proto_map_end(&h);
    msgpack_sbuffer_destroy(&pr.sb);
    msgpack_sbuffer_destroy(&w.sb);
}
