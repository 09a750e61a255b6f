/* daemon/peer.c — TLS connections, dialing, listener; see peer.h. */
#include "daemon/peer.h"
#include "daemon/gossip.h"
#include "daemon/ingest.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/node.h"
#include "daemon/notify.h"
#include "daemon/rekey.h"
#include "proto/msg.h"
#include "proto/limits.h"
#include "proto/util.h"

#include <openssl/err.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define BACKOFF_MIN_MS 250u
#define BACKOFF_MAX_MS 10000u
#define TICK_MS 1000u

static void on_tick(uv_timer_t *t);
static void tick_within(catalogd *d, uint64_t ms);
static void on_closed(uv_handle_t *h);
static void arm(peer *p, uint64_t ms);
static int connected_to(catalogd *d, const proto_id *id);

typedef struct dial {
    struct dial *next;
    proto_id id;
    char addr[256];
    uint64_t next_ms;
    uint32_t backoff_ms;
    int wanted;
    peer *p;            /* our outbound attempt, if any */
    uint64_t full_until_ms;   /* it refused us as full (MSG_ERR_FULL): not a target until then */
} dial;

static uint64_t now_ms(catalogd *d)
{
    return uv_now(d->loop);
}

static const char *peer_label(peer *p, char *buf, size_t n)
{
    if (p->id_known) {
        char s[10];
        proto_id_short(&p->id, s);
        snprintf(buf, n, "%s %s %s (%s)", p->addr, p->code, p->name, s);
    } else {
        snprintf(buf, n, "%s", p->addr);
    }
    return buf;
}

/* ---- TLS context and peer authentication ---- */

/* Whether this node itself left or was expelled: it then dials nobody and
 * keeps no connection (every other node refuses it anyway). */
static int self_departed(catalogd *d)
{
    store_member m;
    return store_member_get(d->st, &d->id.id, &m) == 0 &&
           (m.status == STORE_MEMBER_LEFT || m.status == STORE_MEMBER_EXPELLED);
}

/* Decide whether a presented key may talk to us.  Members only; before this
 * node holds an alliance, only the sponsor it was told to trust. */
static int key_acceptable(catalogd *d, const proto_id *id, const char **why)
{
    store_member m;
    int has_genesis;
    proto_id digest;
    if (!memcmp(id, &d->id.id, 32)) {
        *why = "it presented this node's own key";
        return 0;
    }
    /* (a node that left or was expelled still answers a handshake: every
     * member refuses it at its end anyway, and a newcomer it sponsored
     * before leaving learns from its records that the genesis does not lead
     * to it, rather than finding nobody there; it dials nobody) */
    int sponsor = node_is_sponsor(d, id);   /* by its key's member (a rotated sponsor) */
    if (sponsor && d->sponsor_refused) {
        *why = "it is the sponsor whose genesis this node refused (run catalogctl join again)";
        return 0;
    }
    /* a genesis held but not yet checked (docs/DECISIONS.md 1): the sponsor
     * alone, until the membership records lead from the genesis to it */
    if (store_genesis_unchecked(d->st)) {
        if (sponsor)
            return 1;
        *why = "this node has not yet checked the genesis its sponsor sent";
        return 0;
    }
    int got = store_member_get(d->st, id, &m), known = got == 0;
    if (known && m.status == STORE_MEMBER_ACTIVE)
        return 1;
    store_digest_get(d->st, &digest, NULL, &has_genesis);
    if (sponsor && (!has_genesis || got == 1))
        return 1;
    if (known && m.status == STORE_MEMBER_LEFT)
        *why = "it left the alliance";
    else if (known && m.status == STORE_MEMBER_EXPELLED)
        *why = "it was expelled from the alliance";
    else if (known && m.status == STORE_MEMBER_PENDING && m.spki_len)
        *why = "it is not admitted yet (pending endorsements)";
    else
        *why = "its key does not belong to a current member";
    return 0;
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    peer *p = ssl ? SSL_get_app_data(ssl) : NULL;
    if (!p)
        return 0;
    if (X509_STORE_CTX_get_error_depth(xs) > 0)
        return 1;   /* chains play no part: only the leaf's key matters */
    X509 *x = X509_STORE_CTX_get_current_cert(xs);
    certs_identity ci;
    char why[256];
    uint8_t *der = NULL;
    int n = x ? i2d_X509(x, &der) : -1;
    if (n <= 0 || certs_parse(der, (size_t)n, &ci, why, sizeof why)) {
        OPENSSL_free(der);
        if (!p->id_known) {
            p->d->counters.peers_refused[REFUSED_BAD_CERT]++;
            log_warn(p->d, "refused peer %s: unusable certificate: %s", p->addr, why);
        }
        p->id_known = 0;
        return 0;
    }
    OPENSSL_free(der);
    /* the member whose key it is: after a key rotation, not the key's hash */
    p->key_id = ci.id;
    int kst = store_key_owner(p->d->st, &ci.id, &p->id);
    snprintf(p->code, sizeof p->code, "%s", ci.code);
    snprintf(p->name, sizeof p->name, "%s", ci.name);
    certs_free(&ci);
    const char *reason = NULL;
    char ids[PROTO_ID_STR];
    proto_id_str(&p->id, ids);
    if (p->has_expect && memcmp(&p->expect, &p->id, 32) && memcmp(&p->expect, &p->key_id, 32)) {
        p->d->counters.peers_refused[REFUSED_WRONG_MEMBER]++;
        log_warn(p->d, "refused peer %s: presented member id %s, expected another member", p->addr, ids);
        return 0;
    }
    if (kst == STORE_KEY_RETIRED)
        reason = rekey_retired_by_quorum(p->d->st, &p->id, &p->key_id)
                     ? "it presented a key of that member that a rekey by quorum replaced (lost or stolen key)"
                     : "it presented a key that member has retired (key rotation)";
    if (reason || !key_acceptable(p->d, &p->id, &reason)) {
        if (!p->id_known) {
            p->d->counters.peers_refused[REFUSED_NOT_MEMBER]++;
            log_warn(p->d, "refused peer %s at TLS handshake: member id %s (%s %s): %s",
                     p->addr, ids, p->code, p->name, reason);
        }
        p->id_known = 1;
        return 0;
    }
    p->id_known = 1;
    X509_STORE_CTX_set_error(xs, X509_V_OK);
    return 1;
}

int peer_init(catalogd *d, char *err, size_t errlen)
{
    SSL_CTX *c = SSL_CTX_new(TLS_method());
    if (!c)
        return proto_err(err, errlen, "cannot create TLS context");
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
    SSL_CTX_set_num_tickets(c, 0);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    if (SSL_CTX_use_certificate(c, d->id.cert) != 1 || SSL_CTX_use_PrivateKey(c, d->id.key) != 1) {
        SSL_CTX_free(c);
        ERR_clear_error();
        return proto_err(err, errlen, "TLS context refuses the node key or certificate");
    }
    d->ssl_ctx = c;
    return 0;
}

/* ---- raw I/O ---- */

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    peer *p = h->data;
    b->base = p->d->rx;   /* consumed by on_read before the next read */
    b->len = sizeof p->d->rx;
}

static void pump_in(peer *p);

static void on_written(uv_write_t *w, int status)
{
    peer *p = w->handle->data;
    free(w->data);
    free(w);
    if (status == 0 && p->state == PEER_ESTABLISHED) {
        if (p->write_blocked && peer_write_queue(p) <= NODE_PEER_WRITE_HIGH / 2) {
            p->write_blocked = 0;
            pump_in(p);
        }
        if (p->state == PEER_ESTABLISHED)
            gossip_on_writable(p);
    }
}

static void flush_out(peer *p)
{
    size_t n = BIO_ctrl_pending(p->wbio);
    if (!n || p->state == PEER_CONNECTING)
        return;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&p->tcp) == 0) {
        /* Usually the socket takes it all at once: write straight from the
         * BIO's buffer, no copy and no allocation. */
        char *data;
        long have = BIO_get_mem_data(p->wbio, &data);
        uv_buf_t b = uv_buf_init(data, (unsigned)have);
        int w = have > 0 ? uv_try_write((uv_stream_t *)&p->tcp, &b, 1) : 0;
        if (w > 0) {
            p->bytes_out += (uint64_t)w;
            p->d->bytes_out += (uint64_t)w;
            /* drop what went out (BIO_reset would clear the whole buffer,
             * as large as the largest frame ever sent); the rest, if any,
             * is queued below */
            char skip[16384];
            for (int left = w; left > 0;) {
                int r = BIO_read(p->wbio, skip, left < (int)sizeof skip ? left : (int)sizeof skip);
                if (r <= 0)
                    break;
                left -= r;
            }
            n = BIO_ctrl_pending(p->wbio);
            if (!n)
                return;
        }
    }
    char *buf = malloc(n);
    uv_write_t *w = malloc(sizeof *w);
    if (!buf || !w) {
        free(buf);
        free(w);
        return;
    }
    int got = BIO_read(p->wbio, buf, (int)n);
    if (got <= 0) {
        free(buf);
        free(w);
        return;
    }
    w->data = buf;
    uv_buf_t b = uv_buf_init(buf, (unsigned)got);
    p->bytes_out += (uint64_t)got;
    p->d->bytes_out += (uint64_t)got;
    if (uv_write(w, (uv_stream_t *)&p->tcp, &b, 1, on_written)) {
        free(buf);
        free(w);
    }
}

size_t peer_write_queue(peer *p)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&p->tcp) + BIO_ctrl_pending(p->wbio);
}

void peer_send_frame(peer *p, const void *frame, size_t len)
{
    if (p->state != PEER_ESTABLISHED)
        return;
    if (peer_write_queue(p) + len > NODE_PEER_WRITE_MAX && !p->failed) {
        /* Everything we send is bounded by the write-queue checks (wants,
         * pushes, and pump_in_frames reading nothing more while the queue is
         * high), so only a peer that stops reading gets here; the error frame
         * itself is small and goes out past the cap. */
        peer_fail(p, MSG_ERR_LIMIT, "does not read what we send (%zu bytes queued)", peer_write_queue(p));
        return;
    }
    if (SSL_write(p->ssl, frame, (int)len) <= 0)
        ERR_clear_error();
    flush_out(p);
}

void peer_unref(peer *p)
{
    if (--p->refs > 0)
        return;
    ingest_free(p->ing);
    gossip_peer_free(p->gs);
    proto_buf_free(&p->in);
    SSL_free(p->ssl);   /* frees both BIOs */
    free(p);
}

/* Keep when the member behind a closing connection was last heard. */
static void remember_heard(peer *p)
{
    catalogd *d = p->d;
    if (!p->id_known || !p->last_frame_ms)
        return;
    for (size_t i = 0; i < d->nheard; i++)
        if (!memcmp(&d->heard[i].id, &p->id, sizeof p->id)) {
            if (p->last_frame_ms > d->heard[i].at_ms)
                d->heard[i].at_ms = p->last_frame_ms;
            return;
        }
    if (d->nheard == d->capheard) {
        size_t cap = d->capheard ? d->capheard * 2 : 16;
        heard_mark *h = realloc(d->heard, cap * sizeof *h);
        if (!h)
            return;   /* status then counts from the connections still open */
        d->heard = h;
        d->capheard = cap;
    }
    d->heard[d->nheard++] = (heard_mark){ p->id, p->last_frame_ms };
}

uint64_t peer_last_heard_ms(catalogd *d, const proto_id *id)
{
    uint64_t t = 0;
    for (size_t i = 0; i < d->nheard; i++)
        if (!memcmp(&d->heard[i].id, id, sizeof *id))
            t = d->heard[i].at_ms;
    for (peer *p = d->peers; p; p = p->next)
        if (p->id_known && !memcmp(&p->id, id, sizeof *id) && p->last_frame_ms > t)
            t = p->last_frame_ms;
    return t;
}

peer *peer_of_member(catalogd *d, const proto_id *id)
{
    /* the order of enum peer_state, except that closing ranks last */
    static const int rank[] = { [PEER_CONNECTING] = 1, [PEER_HANDSHAKE] = 2, [PEER_ESTABLISHED] = 3,
                                [PEER_CLOSING] = 0 };
    peer *best = NULL;
    for (peer *p = d->peers; p; p = p->next) {
        int known = p->id_known ? !memcmp(&p->id, id, sizeof *id)
                                : p->has_expect && !memcmp(&p->expect, id, sizeof *id);
        if (known && (!best || rank[p->state] > rank[best->state]))
            best = p;
    }
    return best;
}

static void unlink_peer(peer *p)
{
    catalogd *d = p->d;
    remember_heard(p);
    metrics_peer_closed(p);
    for (peer **pp = &d->peers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            if (!p->outbound)
                d->ninbound--;
            break;
        }
    /* A member we want to be connected to closed its connection to us
     * (it dialled us and trimmed that connection to its own fanout): dial
     * it now rather than at the next tick, which a quiet node sleeps for a
     * whole sync interval. */
    if (p->id_known && p->state == PEER_CLOSING && !d->stopping)
        for (dial *dl = d->dials; dl; dl = dl->next)
            if (dl->wanted && !dl->p && !memcmp(&dl->id, &p->id, 32) && !connected_to(d, &dl->id)) {
                uint64_t now = now_ms(d);
                if (dl->next_ms < now + BACKOFF_MIN_MS)
                    dl->next_ms = now + BACKOFF_MIN_MS / 2 + (uint64_t)(rand() % (int)(BACKOFF_MIN_MS + 1));
                tick_within(d, dl->next_ms - now);
            }
    for (dial *dl = d->dials; dl; dl = dl->next)
        if (dl->p == p) {
            dl->p = NULL;
            /* A connection that died young counts as a failure: back off. */
            uint64_t now = now_ms(d);
            if (p->state != PEER_CLOSING || !p->since_ms || now - p->since_ms < 5000) {
                dl->backoff_ms = dl->backoff_ms ? dl->backoff_ms * 2 : BACKOFF_MIN_MS;
                if (dl->backoff_ms > BACKOFF_MAX_MS)
                    dl->backoff_ms = BACKOFF_MAX_MS;
            } else {
                dl->backoff_ms = BACKOFF_MIN_MS;
            }
            /* jitter: 50%..150% so a restarted alliance does not dial in lockstep */
            dl->next_ms = now + dl->backoff_ms / 2 + (uint64_t)(rand() % (int)(dl->backoff_ms + 1));
            tick_within(d, dl->next_ms - now);
        }
}

static void on_timer_closed(uv_handle_t *h)
{
    peer_unref(h->data);   /* the timer's reference */
}

static void on_closed(uv_handle_t *h)
{
    peer *p = h->data;
    gossip_peer_gone(p);
    unlink_peer(p);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
    peer_unref(p);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    peer *p = req->handle->data;
    free(req);
    /* the closing timeout may have closed it already (status ECANCELED) */
    if (!uv_is_closing((uv_handle_t *)&p->tcp))
        uv_close((uv_handle_t *)&p->tcp, on_closed);
}

void peer_close(peer *p)
{
    if (p->state == PEER_CLOSING)
        return;
    int was = p->state;
    p->state = PEER_CLOSING;
    uv_read_stop((uv_stream_t *)&p->tcp);
    if (was != PEER_CONNECTING) {
        /* flush what is queued (an error frame, close_notify) before closing */
        if (was == PEER_ESTABLISHED) {
            SSL_shutdown(p->ssl);
            ERR_clear_error();
        }
        size_t n = BIO_ctrl_pending(p->wbio);
        if (n) {
            p->state = PEER_HANDSHAKE;   /* let flush_out write */
            flush_out(p);
            p->state = PEER_CLOSING;
        }
        uv_shutdown_t *req = malloc(sizeof *req);
        if (req && uv_shutdown(req, (uv_stream_t *)&p->tcp, on_shutdown) == 0) {
            /* a peer that does not read would hold the shutdown forever */
            arm(p, NODE_PEER_CLOSING_MS);
            return;
        }
        free(req);
    }
    if (!uv_is_closing((uv_handle_t *)&p->tcp))
        uv_close((uv_handle_t *)&p->tcp, on_closed);
}

void peer_fail(peer *p, unsigned code, const char *fmt, ...)
{
    char text[512], lbl[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    p->d->counters.peer_failures[code < CATALOGD_PEER_ERRORS ? code : 0] += !p->failed;
    p->failed = 1;
    log_warn(p->d, "closing peer %s: %s", peer_label(p, lbl, sizeof lbl), text);
    msgpack_sbuffer sb;
    if (p->state == PEER_ESTABLISHED && msg_pack_error(&sb, code, text) == 0) {
        peer_send_frame(p, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }
    peer_close(p);
}

static void pump_in(peer *p);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

/* Receive-side flow control.  TLS bytes wait in the memory BIO until
 * pump_in decrypts them; while a batch is being verified pump_in stops
 * after collecting the next one, so without a bound here a fast sender
 * would fill this process's memory.  Above NODE_PEER_RBIO_HIGH undecrypted bytes the
 * socket is not read, the kernel's receive window closes and the sender
 * waits; reading resumes once pump_in has drained the BIO below NODE_PEER_RBIO_LOW. */

static void read_flow(peer *p)
{
    if (p->state != PEER_ESTABLISHED)
        return;
    size_t pending = BIO_ctrl_pending(p->rbio);
    if (!p->read_paused && (pending >= NODE_PEER_RBIO_HIGH || p->write_blocked)) {
        uv_read_stop((uv_stream_t *)&p->tcp);
        p->read_paused = 1;
    } else if (p->read_paused && pending < NODE_PEER_RBIO_LOW && !p->write_blocked) {
        p->read_paused = 0;
        uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    }
}

void peer_pump(peer *p)
{
    if (p->state == PEER_ESTABLISHED)
        pump_in(p);
}

static void pump_in_frames(peer *p);

static void pump_in(peer *p)
{
    pump_in_frames(p);
    read_flow(p);
}

static void pump_in_frames(peer *p)
{
    for (;;) {
        /* While a batch is verified on the thread pool, keep decrypting and
         * collecting the next one (the loop thread's work overlaps the
         * pool's), up to a bound: then TCP pushes back. */
        if (p->state != PEER_ESTABLISHED || ingest_full(p->ing))
            return;
        /* Nor while what we owe this peer is over the high mark: each frame
         * may be answered (a ping, a sums request, a want), and a peer
         * that sends requests without reading the answers must wait for
         * its socket to drain (on_written pumps again) rather than make
         * us queue without bound.  Not while wanted records are being
         * sent, though: those keep the queue at the mark by design
         * (pump_wants), and two nodes sending each other a log would
         * otherwise both stop reading, and neither queue would drain; the
         * hard cap (NODE_PEER_WRITE_MAX) bounds that case. */
        if (peer_write_queue(p) > NODE_PEER_WRITE_HIGH && !gossip_owes(p)) {
            p->write_blocked = 1;
            return;
        }
        const uint8_t *f;
        size_t fl;
        int rc = proto_frame_take(&p->in, PROTO_PEER_FRAME_MAX, &f, &fl);
        if (rc < 0) {
            peer_fail(p, MSG_ERR_PROTO, "frame longer than %u bytes or empty", PROTO_PEER_FRAME_MAX);
            return;
        }
        if (rc == 1) {
            p->last_frame_ms = now_ms(p->d);
            gossip_on_frame(p, f, fl);
            continue;
        }
        /* Decrypted straight into the input buffer when it has the room
         * (a stream of records frames grows it to a frame), else through
         * this one: a connection that only trickles keeps a small buffer. */
        char buf[16384];
        uint8_t *dst = proto_buf_tail(&p->in, sizeof buf);
        int n = SSL_read(p->ssl, dst ? (void *)dst : (void *)buf, sizeof buf);
        if (n > 0) {
            if (dst)
                proto_buf_wrote(&p->in, (size_t)n);
            else if (proto_buf_append(&p->in, buf, (size_t)n)) {
                peer_fail(p, MSG_ERR_PROTO, "out of memory");
                return;
            }
            continue;
        }
        int e = SSL_get_error(p->ssl, n);
        flush_out(p);
        if (e == SSL_ERROR_WANT_READ) {
            /* everything that arrived is read: records frames received
             * meanwhile go to one verify job and one write transaction */
            ingest_flush(p->ing);
            return;
        }
        char lbl[300];
        if (e == SSL_ERROR_ZERO_RETURN)
            log_info(p->d, "peer %s closed the connection", peer_label(p, lbl, sizeof lbl));
        else
            log_warn(p->d, "peer %s: TLS error %d", peer_label(p, lbl, sizeof lbl), e);
        ERR_clear_error();
        peer_close(p);
        return;
    }
}

/* Two connections between the same pair of members: both ends keep the one
 * initiated by the lower member id, so they agree without talking. */
static int dedupe(peer *p)
{
    catalogd *d = p->d;
    for (peer *q = d->peers; q; q = q->next) {
        if (q == p || q->state != PEER_ESTABLISHED || memcmp(&q->id, &p->id, 32))
            continue;
        const proto_id *ip = p->outbound ? &d->id.id : &p->id;
        const proto_id *iq = q->outbound ? &d->id.id : &q->id;
        int c = memcmp(ip, iq, 32);
        peer *loser = c == 0 ? q : (c < 0 ? q : p);   /* same initiator: keep the newer */
        char lbl[300];
        log_debug(d, "duplicate connection to %s: closing one", peer_label(loser, lbl, sizeof lbl));
        peer_close(loser);
        return loser == p;
    }
    return 0;
}

static void handshake(peer *p)
{
    int r = SSL_do_handshake(p->ssl);
    flush_out(p);
    if (r == 1) {
        p->state = PEER_ESTABLISHED;
        p->since_ms = p->last_rx_ms = now_ms(p->d);
        arm(p, p->d->idle_ms / NODE_PEER_IDLE_PINGS);
        char lbl[300];
        log_info(p->d, "peer %s connected (%s)", peer_label(p, lbl, sizeof lbl),
                 p->outbound ? "outbound" : "inbound");
        if (dedupe(p))
            return;
        gossip_on_established(p);
        pump_in(p);
        return;
    }
    int e = SSL_get_error(p->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return;
    unsigned long le = ERR_get_error();
    char reason[256] = "", lbl[300];
    if (le)
        ERR_error_string_n(le, reason, sizeof reason);
    ERR_clear_error();
    log_warn(p->d, "TLS handshake with %s failed: %s", peer_label(p, lbl, sizeof lbl),
             reason[0] ? reason : "connection closed");
    peer_close(p);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    peer *p = s->data;
    if (n < 0) {
        char lbl[300];
        if (p->state == PEER_ESTABLISHED)
            log_info(p->d, "peer %s disconnected", peer_label(p, lbl, sizeof lbl));
        else if (p->state == PEER_HANDSHAKE)
            log_warn(p->d, "peer %s closed during the TLS handshake", peer_label(p, lbl, sizeof lbl));
        peer_close(p);
        return;
    }
    if (n == 0)
        return;
    p->last_rx_ms = now_ms(p->d);
    p->bytes_in += (uint64_t)n;
    p->d->bytes_in += (uint64_t)n;
    BIO_write(p->rbio, b->base, (int)n);
    if (p->state == PEER_HANDSHAKE)
        handshake(p);
    else if (p->state == PEER_ESTABLISHED)
        pump_in(p);
}

static peer *peer_new(catalogd *d, int outbound, const char *addr)
{
    peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->d = d;
    p->refs = 1;
    p->outbound = outbound;
    p->state = outbound ? PEER_CONNECTING : PEER_HANDSHAKE;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->ssl = SSL_new(d->ssl_ctx);
    p->rbio = BIO_new(BIO_s_mem());
    p->wbio = BIO_new(BIO_s_mem());
    p->gs = gossip_peer_new();
    p->ing = ingest_new(p);
    if (!p->ssl || !p->rbio || !p->wbio || !p->gs || !p->ing) {
        SSL_free(p->ssl);
        BIO_free(p->rbio);
        BIO_free(p->wbio);
        gossip_peer_free(p->gs);
        ingest_free(p->ing);
        free(p);
        return NULL;
    }
    SSL_set_bio(p->ssl, p->rbio, p->wbio);
    SSL_set_app_data(p->ssl, p);   /* for verify_cb */
    if (outbound)
        SSL_set_connect_state(p->ssl);
    else
        SSL_set_accept_state(p->ssl);
    uv_tcp_init(d->loop, &p->tcp);
    p->tcp.data = p;
    uv_tcp_nodelay(&p->tcp, 1);
    uv_timer_init(d->loop, &p->timer);
    p->timer.data = p;
    p->refs++;   /* the timer's: closed after the connection (on_closed) */
    p->next = d->peers;
    d->peers = p;
    if (!outbound)
        d->ninbound++;
    /* from the dial or the accept: the whole way to an established TLS
     * session, however slowly the bytes come */
    arm(p, d->handshake_ms);
    return p;
}

/* ---- budgets: caps at accept, deadlines per connection ----
 *
 * One uv_timer per connection rather than a sweep in on_tick: the tick
 * sleeps for a whole sync interval when the node is quiet and is shared
 * with dialing, while each deadline here (handshake, idle, closing) must
 * hold to the millisecond for every connection; libuv keeps timers in a
 * heap, so thousands of them cost nothing while they wait, and none is
 * touched per read (the idle timer re-arms itself lazily from
 * last_rx_ms). */

static void on_peer_timer(uv_timer_t *t);

static void arm(peer *p, uint64_t ms)
{
    uv_timer_start(&p->timer, on_peer_timer, ms ? ms : 1, 0);
}

/* Log a refusal of `host` at most once per NODE_REFUSE_LOG_MS, with the
 * number of refusals not logged since: an attacker's thousands of
 * connections make a line a minute, not thousands. */
static void log_refused(catalogd *d, const char *host, const char *why)
{
    uint64_t now = now_ms(d);
    refuse_log *slot = NULL, *oldest = &d->refused[0];
    for (unsigned i = 0; i < NODE_REFUSE_LOG_SLOTS; i++) {
        refuse_log *r = &d->refused[i];
        if (r->host[0] && !strcmp(r->host, host)) {
            slot = r;
            break;
        }
        /* an empty slot, else the one logged longest ago */
        if (oldest->host[0] && (!r->host[0] || r->at_ms < oldest->at_ms))
            oldest = r;
    }
    if (slot && slot->at_ms && now - slot->at_ms < NODE_REFUSE_LOG_MS) {
        slot->suppressed++;
        return;
    }
    if (!slot) {
        slot = oldest;
        snprintf(slot->host, sizeof slot->host, "%s", host);
        slot->suppressed = 0;
    }
    if (slot->suppressed)
        log_warn(d, "connection from %s: %s (and %u more since the last report)", host, why, slot->suppressed);
    else
        log_warn(d, "connection from %s: %s (reported once a minute)", host, why);
    slot->at_ms = now ? now : 1;
    slot->suppressed = 0;
}

static void on_peer_timer(uv_timer_t *t)
{
    peer *p = t->data;
    catalogd *d = p->d;
    uint64_t now = now_ms(d), ping = d->idle_ms / NODE_PEER_IDLE_PINGS;
    char lbl[300];
    switch (p->state) {
    case PEER_CONNECTING:
    case PEER_HANDSHAKE:
        if (p->outbound) {
            log_warn(d, "closing peer %s: no TLS session after %u ms", peer_label(p, lbl, sizeof lbl),
                     d->handshake_ms);
        } else {
            char why[96];
            d->counters.peers_refused[REFUSED_HANDSHAKE_TIMEOUT]++;
            snprintf(why, sizeof why, "no TLS session after %u ms; closed", d->handshake_ms);
            log_refused(d, p->host[0] ? p->host : p->addr, why);
        }
        peer_close(p);
        return;
    case PEER_ESTABLISHED:
        /* while we do not read it (its input waits for our verify jobs),
         * its silence is ours */
        if (p->read_paused && !p->write_blocked)
            p->last_rx_ms = now;   /* (not reading a peer that does not read us is its silence) */
        if (now - p->last_rx_ms >= d->idle_ms) {
            peer_fail(p, MSG_ERR_LIMIT, "sent nothing for %llu ms (idle timeout %u ms)",
                      (unsigned long long)(now - p->last_rx_ms), d->idle_ms);
            return;
        }
        if (now - p->last_rx_ms >= ping) {
            /* its pong is traffic; our ping is traffic for its own timer */
            msgpack_sbuffer sb;
            if (msg_pack_ping(&sb) == 0) {
                peer_send_frame(p, sb.data, sb.size);
                msgpack_sbuffer_destroy(&sb);
            }
        }
        if (p->state == PEER_ESTABLISHED)
            arm(p, ping);   /* (a failed send may have started closing: keep its deadline) */
        return;
    case PEER_CLOSING:
        if (!uv_is_closing((uv_handle_t *)&p->tcp)) {
            log_debug(d, "peer %s: not closed after %u ms; closing without flushing",
                      peer_label(p, lbl, sizeof lbl), NODE_PEER_CLOSING_MS);
            uv_close((uv_handle_t *)&p->tcp, on_closed);
        }
        return;
    }
}

/* Close a connection just accepted, before any byte of it is read. */
static void drop(peer *p)
{
    p->state = PEER_CLOSING;
    uv_close((uv_handle_t *)&p->tcp, on_closed);
}

static void on_refused_closed(uv_handle_t *h)
{
    free(h);
}

/* Whether two hosts (as uv_ip4_name / uv_ip6_name print them) count as one
 * source for max_connections_per_address: the same IPv4 address, or the
 * same IPv6 /64 — one host is usually handed a whole /64, and counting its
 * addresses one by one would give it 2^64 budgets. */
static int same_source(const char *a, const char *b)
{
    struct in6_addr x, y;
    if (strchr(a, ':') && strchr(b, ':') && inet_pton(AF_INET6, a, &x) == 1 &&
        inet_pton(AF_INET6, b, &y) == 1 && !IN6_IS_ADDR_V4MAPPED(&x) && !IN6_IS_ADDR_V4MAPPED(&y))
        return memcmp(&x, &y, 8) == 0;
    return strcmp(a, b) == 0;
}

/* The remote address of t as text ("?" if unknown), and its port if asked:
 * 0, or -1 when the socket has no peer address. */
static int remote_host(uv_tcp_t *t, char *host, size_t hl, int *port)
{
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    snprintf(host, hl, "?");
    if (port)
        *port = 0;
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &sl))
        return -1;
    if (ss.ss_family == AF_INET) {
        uv_ip4_name((struct sockaddr_in *)&ss, host, hl);
        if (port)
            *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, host, hl);
        if (port)
            *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

static void on_accept(uv_stream_t *srv, int status)
{
    catalogd *d = srv->data;
    if (status < 0)
        return;
    if (d->ninbound >= d->max_inbound) {
        /* over the total: accept and close at once (left in the backlog it
         * would be offered again on every loop), without a TLS state */
        uv_tcp_t *t = malloc(sizeof *t);
        if (!t)
            return;
        uv_tcp_init(d->loop, t);
        if (uv_accept(srv, (uv_stream_t *)t) == 0) {
            d->counters.peers_refused[REFUSED_MAX_CONNECTIONS]++;
            char host[64];
            remote_host(t, host, sizeof host, NULL);
            char why[96];
            snprintf(why, sizeof why, "refused: %u inbound connections already (max_connections)", d->ninbound);
            log_refused(d, host, why);
        }
        uv_close((uv_handle_t *)t, on_refused_closed);
        return;
    }
    peer *p = peer_new(d, 0, "?");
    if (!p)
        return;
    if (uv_accept(srv, (uv_stream_t *)&p->tcp)) {
        drop(p);
        return;
    }
    char host[64];
    int port;
    if (remote_host(&p->tcp, host, sizeof host, &port) == 0) {
        snprintf(p->addr, sizeof p->addr, "%s:%d", host, port);
        snprintf(p->host, sizeof p->host, "%s", host);
    }
    /* Only connections that have not proved membership count: members
     * behind one NAT gateway (a prefecture's network) or on one host are
     * bounded by the alliance, strangers by this.  Linear in the
     * connections held: at most max_inbound, and an accept costs a TLS
     * handshake anyway. */
    unsigned same = 0;
    for (peer *q = d->peers; q; q = q->next)
        same += q != p && !q->outbound && q->state != PEER_ESTABLISHED && same_source(q->host, p->host);
    if (same >= d->max_per_addr) {
        d->counters.peers_refused[REFUSED_MAX_PER_ADDRESS]++;
        char why[128];
        snprintf(why, sizeof why, "refused: %u unauthenticated connections from this address already "
                 "(max_connections_per_address)", same);
        log_refused(d, p->host, why);
        drop(p);
        return;
    }
    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}


static int resolve_literal(const char *addr, struct sockaddr_storage *ss)
{
    char host[256];
    int port;
    if (proto_addr_split(addr, host, sizeof host, &port))
        return -1;
    if (!strcmp(host, "localhost"))
        snprintf(host, sizeof host, "127.0.0.1");
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return 1;   /* a name: resolve asynchronously */
}

int peer_listen(catalogd *d, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int rc;
    if (!d->listen_addr[0])
        return 0;
    if (resolve_literal(d->listen_addr, &ss))
        return proto_err(err, errlen, "--listen wants IP:PORT, got '%s'", d->listen_addr);
    uv_tcp_init(d->loop, &d->listener);
    d->listener.data = d;
    if ((rc = uv_tcp_bind(&d->listener, (struct sockaddr *)&ss, 0)) ||
        (rc = uv_listen((uv_stream_t *)&d->listener, 128, on_accept))) {
        uv_close((uv_handle_t *)&d->listener, NULL);
        return proto_err(err, errlen, "cannot listen on %s: %s", d->listen_addr, uv_strerror(rc));
    }
    d->listening = 1;
    log_info(d, "listening for peers on %s", d->listen_addr);
    return 0;
}

static void on_connect(uv_connect_t *req, int status)
{
    peer *p = req->data;
    if (p->state == PEER_CLOSING)
        return;
    if (status < 0) {
        log_debug(p->d, "cannot reach %s: %s", p->addr, uv_strerror(status));
        peer_close(p);
        return;
    }
    p->state = PEER_HANDSHAKE;
    uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
    handshake(p);
}

typedef struct { uv_getaddrinfo_t req; peer *p; } resolve_req;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    resolve_req *rr = (resolve_req *)req;
    peer *p = rr->p;
    free(rr);
    if (status < 0 || !res || p->state == PEER_CLOSING) {
        if (p->state != PEER_CLOSING)
            log_debug(p->d, "cannot resolve %s: %s", p->addr, status < 0 ? uv_strerror(status) : "no address");
        uv_freeaddrinfo(res);
        peer_close(p);
        peer_unref(p);
        return;
    }
    p->creq.data = p;
    if (uv_tcp_connect(&p->creq, &p->tcp, res->ai_addr, on_connect))
        peer_close(p);
    uv_freeaddrinfo(res);
    peer_unref(p);
}

static peer *dial_addr(catalogd *d, const char *addr, const proto_id *expect)
{
    struct sockaddr_storage ss;
    int lit = resolve_literal(addr, &ss);
    if (lit < 0) {
        log_warn(d, "bad peer address '%s' (HOST:PORT expected)", addr);
        return NULL;
    }
    peer *p = peer_new(d, 1, addr);
    if (!p)
        return NULL;
    if (expect) {
        p->expect = *expect;
        p->has_expect = 1;
    }
    p->creq.data = p;
    if (lit == 0) {
        if (uv_tcp_connect(&p->creq, &p->tcp, (struct sockaddr *)&ss, on_connect))
            peer_close(p);
        return p;
    }
    char host[256], port[8];
    int pn;
    proto_addr_split(addr, host, sizeof host, &pn);
    snprintf(port, sizeof port, "%d", pn);
    resolve_req *rr = malloc(sizeof *rr);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    rr->p = p;
    p->refs++;
    if (!rr || uv_getaddrinfo(d->loop, &rr->req, on_resolved, host, port, &hints)) {
        free(rr);
        p->refs--;
        peer_close(p);
    }
    return p;
}

/* ---- whom to dial ---- */

typedef struct { catalogd *d; proto_id *ids; char (*addrs)[256]; uint8_t (*rank)[32]; size_t n, cap; } cand_list;

static int add_cand(void *ctx, const store_member *m)
{
    cand_list *c = ctx;
    if (m->status != STORE_MEMBER_ACTIVE || !m->address[0] || !memcmp(&m->id, &c->d->id.id, 32))
        return 0;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 32;
        void *a = realloc(c->ids, cap * sizeof *c->ids), *b = NULL, *r = NULL;
        if (a) c->ids = a;
        b = realloc(c->addrs, cap * sizeof *c->addrs);
        if (b) c->addrs = b;
        r = realloc(c->rank, cap * sizeof *c->rank);
        if (r) c->rank = r;
        if (!a || !b || !r)
            return 1;
        c->cap = cap;
    }
    c->ids[c->n] = m->id;
    snprintf(c->addrs[c->n], 256, "%s", m->address);
    /* rank = H(self || member): a stable, per-node random order, so with a
     * bounded fanout every node picks a different subset */
    uint8_t buf[64];
    memcpy(buf, c->d->id.id.b, 32);
    memcpy(buf + 32, m->id.b, 32);
    SHA256(buf, 64, c->rank[c->n]);
    c->n++;
    return 0;
}

static dial *dial_find(catalogd *d, const proto_id *id)
{
    for (dial *dl = d->dials; dl; dl = dl->next)
        if (!memcmp(&dl->id, id, 32))
            return dl;
    return NULL;
}

static dial *dial_want(catalogd *d, const proto_id *id, const char *addr)
{
    dial *dl = dial_find(d, id);
    if (!dl) {
        dl = calloc(1, sizeof *dl);
        if (!dl)
            return NULL;
        dl->id = *id;
        dl->next = d->dials;
        d->dials = dl;
    }
    if (strcmp(dl->addr, addr)) {
        /* a member that moved (member address): try the new address now,
         * not after a backoff grown against the old one */
        snprintf(dl->addr, sizeof dl->addr, "%s", addr);
        dl->backoff_ms = 0;
        dl->next_ms = 0;
        if (!dl->p)
            tick_within(d, 10);
    }
    if (!dl->wanted && !dl->p)
        tick_within(d, 10);   /* a new member to reach: do not wait for a quiet tick */
    dl->wanted = 1;
    return dl;
}

void peer_targets_changed(catalogd *d)
{
    cand_list c = { .d = d };
    uint64_t now = now_ms(d);
    for (dial *dl = d->dials; dl; dl = dl->next)
        dl->wanted = 0;
    if (self_departed(d))
        return;   /* nobody to dial: this node is no member any more */
    /* while the genesis awaits its chain check, the sponsor alone */
    if (!store_genesis_unchecked(d->st))
        store_members(d->st, add_cand, &c);
    /* Members that refused us as full rank last: the next-ranked take
     * their place (a full alliance keeps them, rather than no target). */
    size_t open = c.n;
    for (size_t i = 0; d->fanout && i < open;) {
        dial *dl = dial_find(d, &c.ids[i]);
        if (!dl || !dl->full_until_ms || now >= dl->full_until_ms) {
            i++;
            continue;
        }
        open--;
        proto_id t = c.ids[i]; c.ids[i] = c.ids[open]; c.ids[open] = t;
        char ta[256];
        memcpy(ta, c.addrs[i], 256); memcpy(c.addrs[i], c.addrs[open], 256); memcpy(c.addrs[open], ta, 256);
        uint8_t tr[32];
        memcpy(tr, c.rank[i], 32); memcpy(c.rank[i], c.rank[open], 32); memcpy(c.rank[open], tr, 32);
        /* ranked after every open candidate */
        memset(c.rank[open], 0xff, 32);
    }
    size_t take = c.n;
    if (d->fanout && d->fanout < c.n) {
        /* partial selection sort by rank: the fanout lowest ranks */
        for (size_t i = 0; i < d->fanout; i++) {
            size_t best = i;
            for (size_t j = i + 1; j < c.n; j++)
                if (memcmp(c.rank[j], c.rank[best], 32) < 0)
                    best = j;
            if (best != i) {
                proto_id t = c.ids[i]; c.ids[i] = c.ids[best]; c.ids[best] = t;
                char ta[256];
                memcpy(ta, c.addrs[i], 256); memcpy(c.addrs[i], c.addrs[best], 256); memcpy(c.addrs[best], ta, 256);
                uint8_t tr[32];
                memcpy(tr, c.rank[i], 32); memcpy(c.rank[i], c.rank[best], 32); memcpy(c.rank[best], tr, 32);
            }
        }
        take = d->fanout;
    }
    for (size_t i = 0; i < take; i++)
        dial_want(d, &c.ids[i], c.addrs[i]);
    /* The sponsor is dialed until this node has other members to talk to:
     * once joined, it is a member like any other (and may fall outside the fanout). */
    if (d->have_sponsor && !d->sponsor_refused && d->sponsor_addr[0] && take == 0) {
        proto_id sm;
        node_sponsor_member(d, &sm);   /* the member the handshake names */
        dial_want(d, &sm, d->sponsor_addr);
    }
    free(c.ids);
    free(c.addrs);
    free(c.rank);
}

void peer_members_changed(catalogd *d)
{
    int departed = self_departed(d);
    char lbl[300];
    if (departed && !d->departed_ms) {
        /* its own leave record goes out now; the others close the
         * connections once they apply it (closing here first would race
         * the record: a peer drops a batch in flight when told to go), and
         * the tick closes whatever is still open after the grace */
        gossip_flush_local(d);
        d->departed_ms = now_ms(d) ? now_ms(d) : 1;
        log_warn(d, "this node is no longer a member of the alliance: it dials nobody and closes its "
                 "connections within %u ms", NODE_DEPART_GRACE_MS);
        tick_within(d, NODE_DEPART_GRACE_MS);
        return;
    }
    if (departed && now_ms(d) - d->departed_ms < NODE_DEPART_GRACE_MS)
        return;
    for (peer *p = d->peers; p; p = p->next) {
        const char *why = NULL;
        if (p->state == PEER_CLOSING || p->state == PEER_CONNECTING || !p->id_known)
            continue;   /* not verified yet: the handshake asks key_acceptable itself */
        if (departed) {
            log_warn(d, "closing connection to %s: this node is no longer a member of the alliance",
                     peer_label(p, lbl, sizeof lbl));
        } else if (!key_acceptable(d, &p->id, &why)) {
            d->counters.peers_refused[REFUSED_NOT_MEMBER]++;
            log_warn(d, "closing connection to %s: %s; it is refused from now on",
                     peer_label(p, lbl, sizeof lbl), why);
        } else {
            continue;
        }
        /* an error frame first, so its administrator reads why; not
         * peer_fail: leaving is no breach of the protocol */
        msgpack_sbuffer sb;
        if (p->state == PEER_ESTABLISHED &&
            msg_pack_error(&sb, MSG_ERR_ALLIANCE, departed ? "this node is no longer a member of the alliance"
                                                           : "you are no longer a member of the alliance") == 0) {
            peer_send_frame(p, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
        }
        peer_close(p);
    }
}

static int connected_to(catalogd *d, const proto_id *id)
{
    for (peer *p = d->peers; p; p = p->next)
        if (p->state == PEER_ESTABLISHED && p->id_known && !memcmp(&p->id, id, 32))
            return 1;
    return 0;
}

/* Run the tick within `ms` (sooner than planned, never later). */
static void tick_within(catalogd *d, uint64_t ms)
{
    if (!d->tick.data || d->stopping || uv_is_closing((uv_handle_t *)&d->tick))
        return;
    if (!uv_is_active((uv_handle_t *)&d->tick) || uv_timer_get_due_in(&d->tick) > ms)
        uv_timer_start(&d->tick, on_tick, ms, 0);
}

static void on_tick(uv_timer_t *t)
{
    catalogd *d = t->data;
    uint64_t now = now_ms(d);
    int quiet = 1;   /* nothing to dial, trim or close: sleep until the next sync probe */
    if (d->stopping)
        return;
    /* a burst of work has ended (nothing more churned for a tick): trim */
    if (d->churned && d->churned == d->churned_at_tick)
        catalogd_churn(d, CATALOGD_CHURN_NOW);
    d->churned_at_tick = d->churned;
    if (d->churned)
        quiet = 0;
    for (dial *dl = d->dials; dl; dl = dl->next) {
        if (!dl->wanted || dl->p || connected_to(d, &dl->id))
            continue;
        quiet = 0;
        if (now < dl->next_ms)
            continue;
        dl->p = dial_addr(d, dl->addr, &dl->id);
        if (!dl->p) {
            dl->backoff_ms = BACKOFF_MAX_MS;
            dl->next_ms = now + BACKOFF_MAX_MS;
        }
    }
    /* A member that refused us as full may have room again. */
    int refresh = 0;
    for (dial *dl = d->dials; dl; dl = dl->next)
        if (dl->full_until_ms && now >= dl->full_until_ms) {
            dl->full_until_ms = 0;
            refresh = 1;
        }
    if (refresh)
        peer_targets_changed(d);
    /* Outbound connections to members no longer selected (fanout, or the
     * sponsor after joining) are closed once idle, if others carry the
     * sync: while more than fanout are outbound, or once every target is
     * connected either way (a target that dialled us first leaves our
     * outbound count short, and the sponsor's connection would stay open
     * for good: the founder, through whom all join, would be a hub). */
    unsigned out = 0, targets = 0, reached = 0;
    for (peer *p = d->peers; p; p = p->next)
        out += p->outbound && p->state == PEER_ESTABLISHED;
    for (dial *dl = d->dials; dl; dl = dl->next)
        if (dl->wanted) {
            targets++;
            reached += connected_to(d, &dl->id);
        }
    int all_reached = targets && reached >= targets;
    for (peer *p = d->peers; p && d->fanout && (out > d->fanout || all_reached); p = p->next) {
        if (!p->outbound || p->state != PEER_ESTABLISHED || !gossip_idle(p) ||
            now - p->since_ms < 3000)
            continue;
        dial *dl = dial_find(d, &p->id);
        if (dl && dl->wanted)
            continue;
        char lbl[300];
        log_info(d, "closing connection to %s: outside the fanout of %u", peer_label(p, lbl, sizeof lbl), d->fanout);
        peer_close(p);
        out--;
    }
    if (d->fanout && out > d->fanout)
        quiet = 0;
    if (d->departed_ms && d->peers) {
        peer_members_changed(d);   /* after the grace: close what the others left open */
        quiet = 0;
    }
    if (peer_inbound_bound(d) && d->ninbound > peer_inbound_bound(d))
        quiet = 0;   /* members over the bound to shed (gossip.c inbound_shed) */
    for (peer *p = d->peers; d->fanout && all_reached && p; p = p->next) {
        dial *dl = p->outbound && p->state == PEER_ESTABLISHED && p->id_known ? dial_find(d, &p->id) : NULL;
        if (p->outbound && p->state == PEER_ESTABLISHED && (!dl || !dl->wanted))
            quiet = 0;   /* an unwanted one left to close once idle */
    }
    gossip_tick(d);
    notify_tick(d);
    /* Each wake-up costs CPU on every idle node: a fully connected, idle
     * node wakes only for the anti-entropy probe. */
    uint64_t next = TICK_MS;
    if (quiet && d->sync_interval_ms > TICK_MS)
        next = d->sync_interval_ms;
    uv_timer_start(&d->tick, on_tick, next, 0);
}

void peer_start(catalogd *d)
{
    d->started_ms = now_ms(d);
    peer_targets_changed(d);
    uv_timer_init(d->loop, &d->tick);
    d->tick.data = d;
    uv_timer_start(&d->tick, on_tick, 10, 0);   /* on_tick plans the next one */
}

void peer_shutdown(catalogd *d)
{
    gossip_shutdown(d);   /* push what is still corked first */
    if (uv_is_active((uv_handle_t *)&d->tick) || d->tick.data)
        if (!uv_is_closing((uv_handle_t *)&d->tick))
            uv_close((uv_handle_t *)&d->tick, NULL);
    if (d->listening) {
        uv_close((uv_handle_t *)&d->listener, NULL);
        d->listening = 0;
    }
    for (peer *p = d->peers; p; p = p->next)
        peer_close(p);
}

void peer_force_close(catalogd *d)
{
    for (peer *p = d->peers; p; p = p->next) {
        p->state = PEER_CLOSING;
        if (!uv_is_closing((uv_handle_t *)&p->tcp))
            uv_close((uv_handle_t *)&p->tcp, on_closed);
    }
}

void peer_free_all(catalogd *d)
{
    while (d->dials) {
        dial *n = d->dials->next;
        free(d->dials);
        d->dials = n;
    }
    free(d->heard);
    d->heard = NULL;
    d->nheard = d->capheard = 0;
    SSL_CTX_free(d->ssl_ctx);
    d->ssl_ctx = NULL;
}

unsigned peer_inbound_bound(catalogd *d)
{
    if (!d->fanout)
        return 0;
    return d->max_inbound_peers ? d->max_inbound_peers : NODE_PEER_INBOUND_PER_FANOUT * d->fanout;
}

int peer_is_target(catalogd *d, const proto_id *id)
{
    dial *dl = dial_find(d, id);
    return dl && dl->wanted;
}

void peer_refused_full(peer *p)
{
    catalogd *d = p->d;
    dial *dl = p->id_known ? dial_find(d, &p->id) : NULL;
    if (!dl)
        return;
    dl->full_until_ms = now_ms(d) + NODE_PEER_FULL_RETRY_MS;
    peer_targets_changed(d);
}

const char *const peer_state_names[] = { "connecting", "handshake", "established", "closing" };

unsigned peer_count_established(catalogd *d)
{
    unsigned n = 0;
    for (peer *p = d->peers; p; p = p->next)
        n += p->state == PEER_ESTABLISHED;
    return n;
}

void peer_pack_list(catalogd *d, msgpack_packer *pk)
{
    uint32_t n = 0;
    uint64_t now = now_ms(d);
    for (peer *p = d->peers; p; p = p->next)
        n++;
    msgpack_pack_array(pk, n);
    for (peer *p = d->peers; p; p = p->next) {
        char id[PROTO_ID_STR] = "";
        if (p->id_known)
            proto_id_str(&p->id, id);
        proto_map m;
        proto_map_begin(&m, pk);
        proto_map_put_str(&m, "address", p->addr);
        proto_map_put_str(&m, "member_id", id);
        proto_map_put_str(&m, "code", p->code);
        proto_map_put_str(&m, "name", p->name);
        proto_map_put_str(&m, "state", peer_state_names[p->state]);
        proto_map_put_str(&m, "direction", p->outbound ? "out" : "in");
        /* the broadcast tree: records pushed to it (eager) or announced (lazy) */
        proto_map_put_str(&m, "tree", p->state != PEER_ESTABLISHED || !tree_on(p) ? "" : p->tl.lazy ? "lazy" : "eager");
        proto_map_put_u64(&m, "last_sync_ms_ago", gossip_last_sync_ms(p) ? now - gossip_last_sync_ms(p) : 0);
        proto_map_put_u64(&m, "records_in", p->recs_in);
        proto_map_put_u64(&m, "records_out", p->recs_out);
        proto_map_put_u64(&m, "bytes_in", p->bytes_in);
        proto_map_put_u64(&m, "bytes_out", p->bytes_out);
        proto_map_end(&m);
    }
}
