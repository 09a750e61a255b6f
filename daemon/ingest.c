/*
 * daemon/ingest.c — taking in records from a peer (DESIGN §4 "Verification"):
 * collect what records frames bring, precheck it against the store (no
 * signatures yet: drop what we hold, set aside what cannot apply yet, refuse
 * what never can), verify signatures on the libuv thread pool in chunks (one
 * per core), apply each batch in one LMDB write transaction, and hand the
 * result to node_applied().  See ingest.h.
 */
#include "daemon/ingest.h"
#include "daemon/defer.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "daemon/peer.h"
#include "proto/msg.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define VERIFY_CHUNKS 4
#define INLINE_VERIFY 4u    /* batches this small are verified on the loop thread */
/* Batches smaller than NODE_VERIFY_SPLIT_MIN (proto/limits.h) are verified
 * by one pool thread: splitting pays when cores are idle (initial sync),
 * and only adds runnable threads when the batches are small because
 * records trickle in or pile up at a saturated receiver. */

typedef struct pending_rec { uint8_t *raw; size_t len; } pending_rec;

typedef struct vjob vjob;

struct ingest {
    peer *p;
    /* records waiting for their author or predecessor, by author; their
     * bytes are also counted in d->deferred_bytes */
    defer_set ds;
    /* Records received, not yet handed to a verify job: their bytes one
     * after the other in abuf, which becomes the job's frame as it is (no
     * copy per record, no allocation per record), and their lengths. */
    uint8_t *abuf;
    size_t acc_bytes, acap;
    size_t *alens;
    size_t nacc, capacc;
    /* While a stream runs, the frame of the last job written is kept for the
     * next collection: freed and trimmed, each batch's buffer would be
     * fresh pages again, a page fault every 4 KB (PERFORMANCE §29). */
    uint8_t *spare;
    size_t sparecap;
    int busy;                 /* a batch is being verified */
    const vjob *prev;         /* while the next batch is triaged: the job about to be applied */
    vjob *cur;                /* the batch on the pool */
    vjob *ready;              /* the next one, triaged while cur is verified (triage_ahead) */
};

/* ---- verification on the thread pool ---- */

typedef struct {
    uv_work_t w;
    vjob *job;
    size_t from, to;
    char why[256];            /* the first record of the chunk the rules refused */
} vchunk;

/* A record of a job: the decoded record itself is j->r[i] (records sit in
 * one array of their own, which the prechecks and the write take as is). */
typedef struct {
    EVP_PKEY *key;
    store_alt_keys *alt;      /* keys a rekey brings (store_precheck_batch_alt), or NULL */
    int alt_res;              /* not ok, but verified under alt: STORE_GAP or STORE_FORMER */
    int ok;                   /* passed the rules and its signature verified */
    int refused;              /* broke a rule (text, its kind's validator) */
    int malformed;            /* of them: its body is no valid body at all */
    int unverified;           /* alt_res is the precheck's fail_res: no key verified it */
    int chained;              /* the store said gap: it took its predecessor's key
                               * (in this batch, or the job before), a guess */
    int keyless;              /* the store said gap, past its author's log end:
                               * verified under a rekey's keys alone (store.h,
                               * store_alt_keys past_end), key NULL */
} vitem;

/* key: the key of the author's next seq — borrowed from it[], or owned
 * (own) when the last record is a key rotation naming another one;
 * chain: the author's log chain at seq as the pool computed it (chained),
 * where the next job's run of this author starts */
typedef struct {
    proto_id author;
    uint64_t seq;
    EVP_PKEY *key;
    int own;
    int chained;
    uint8_t chain[32];
} vtail;

/* A run of one author's records in a job (from its first index), and the
 * chain value before it, found on the loop when the job is started
 * (start_chains); valid 0: not known, the run is not chained. */
typedef struct { size_t from; int valid; uint8_t chain[32]; } vrun;

struct vjob {
    peer *p;
    uint8_t *frame;         /* owned copy of the records' bytes */
    size_t framecap;        /* its allocated size (kept as the ingest's spare) */
    proto_record *r;        /* the records, decoded (pointing into frame) */
    vitem *it;              /* it[i]: what became of r[i] */
    /* pre[i]: r[i]'s record hash, computed on the pool beside its
     * signature check, and its step of the author's log chain, computed
     * on the pool by the chunk that finishes last (chain_stage), for the
     * apply (store_apply_hashed), which then hashes neither again on the
     * loop; NULL (out of memory): the apply hashes as it would a record
     * from anywhere else */
    store_pre *pre;
    vrun *runs;             /* the job's author runs, when chained (start_chains) */
    size_t nruns;
    atomic_int left;        /* chunks whose verify_work has not finished */
    size_t n;
    vtail *tails;           /* per author in the job: its last seq (keys borrowed from it[]) */
    size_t ntails;
    int pending;
    int nchunks;
    vchunk chunks[VERIFY_CHUNKS];
};

/* While the next batch is triaged, g->prev is the job whose records are
 * about to be applied: a record following one of its authors' last seq is
 * not a gap. */
/* The key of r's predecessor's job tail, or NULL.  Not past a key rotation
 * (own): whether the rotation is derived (its author may be blocked in the
 * replay, or lose it within the batch) is known only once it is applied,
 * so the record after it waits, like a gap, and is checked against the key
 * in force then — else two nodes could take or refuse it by how the
 * records were batched. */
static EVP_PKEY *prev_tail_key(const vjob *prev, const proto_record *r)
{
    for (size_t i = 0; prev && i < prev->ntails; i++)
        if (prev->tails[i].seq + 1 == r->seq && !memcmp(&prev->tails[i].author, &r->author, 32))
            return prev->tails[i].own ? NULL : prev->tails[i].key;
    return NULL;
}

/* The log chain of each verified record, from the chain value found
 * before its author's run (start_chains) and the hashes the chunks
 * computed: SHA-256 steps the loop would otherwise take at apply, one a
 * record, in order within a run, so on one thread.  A run is chained up
 * to its first record not verified, or not one seq after the one before;
 * what is not chained the apply computes.  A wrong start costs nothing
 * but the saving: the apply takes a step only when it starts from the
 * chain the store has then (store_apply_hashed). */
static void chain_stage(vjob *j)
{
    if (!j->pre || !j->runs)
        return;
    for (size_t k = 0; k < j->nruns; k++) {
        size_t end = k + 1 < j->nruns ? j->runs[k + 1].from : j->n;
        const uint8_t *prev = j->runs[k].valid ? j->runs[k].chain : NULL;
        for (size_t i = j->runs[k].from; i < end && prev; i++) {
            if (!j->it[i].ok || (i > j->runs[k].from && j->r[i].seq != j->r[i - 1].seq + 1))
                break;
            store_pre *pr = &j->pre[i];
            memcpy(pr->chain_prev, prev, 32);
            store_chain_step(prev, j->r[i].seq, pr->hash.b, pr->chain);
            pr->chained = 1;
            prev = pr->chain;
        }
    }
    /* the tails: where the next job's runs of these authors start */
    for (size_t t = 0, i = 0; t < j->ntails; t++) {
        while (i < j->n && !(j->r[i].seq == j->tails[t].seq && !memcmp(&j->r[i].author, &j->tails[t].author, 32)))
            i++;
        if (i < j->n && j->pre[i].chained) {
            memcpy(j->tails[t].chain, j->pre[i].chain, 32);
            j->tails[t].chained = 1;
        }
    }
}

static void verify_work(uv_work_t *w)
{
    vchunk *c = w->data;
    vjob *j = c->job;
    /* The rules that depend on the record alone run here, next to the
     * signature check, rather than in triage on the loop: the text rule and
     * a certification's schema cost about as much as a quarter of a
     * signature check, and the loop is the one thread an initial sync
     * cannot spread. */
    c->why[0] = 0;
    for (size_t i = c->from; i < c->to; i++) {
        vitem *it = &j->it[i];
        proto_record *r = &j->r[i];   /* this chunk's own: the text rule marks it checked */
        char why[256];
        int text = proto_record_check_text(r, why, sizeof why);
        /* triage read the header only: a body that is not even what a
         * stored record may be (bad msgpack, bad UTF-8, too deep) is
         * counted as malformed, as triage counted it when it decoded the
         * whole record; the decode runs only for a refused record */
        proto_record whole;
        it->malformed = text && proto_record_decode_stored(r->raw, r->raw_len, &whole, NULL, 0);
        it->refused = text || store_record_rules(r, why, sizeof why);
        if (it->refused && !c->why[0])
            snprintf(c->why, sizeof c->why, "%s", why);
        /* under the key in force, else under the keys a rekey brings: a
         * record of the new key of a rekey not decided here yet, or of a
         * key a decided one retired, is no forgery (store/store_apart.c) */
        int verified = 0;
        int v = it->refused ? -1 : store_verify_alt_ex(r, it->key, it->alt, &verified);
        it->ok = v == STORE_NEW;
        it->alt_res = v > 0 ? v : 0;
        it->unverified = v > 0 && !verified;   /* the precheck's fail_res: no key verified it */
        /* of exactly the bytes the apply stores (r->raw, in the job's
         * frame, which nothing writes to until the job is freed) */
        if (it->ok && j->pre)
            proto_record_hash(r->raw, r->raw_len, &j->pre[i].hash);
    }
    /* the last chunk to finish sees every chunk's results (the atomic
     * orders them before it) and chains the whole job */
    if (atomic_fetch_sub(&j->left, 1) == 1)
        chain_stage(j);
}

static void job_free(vjob *j)
{
    for (size_t i = 0; i < j->n; i++) {
        EVP_PKEY_free(j->it[i].key);
        store_alt_keys_free(j->it[i].alt);
        free(j->it[i].alt);
    }
    for (size_t i = 0; i < j->ntails; i++)
        if (j->tails[i].own)
            EVP_PKEY_free(j->tails[i].key);
    free(j->it);
    free(j->pre);
    free(j->runs);
    free(j->r);
    free(j->tails);
    free(j->frame);
    free(j);
}

static int cmp_rec(const void *a, const void *b)
{
    const proto_record *x = a, *y = b;
    int c = memcmp(&x->author, &y->author, 32);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void start_job(peer *p, vjob *j, int may_inline, const vjob *prev);
static void refuse_rekeyed(peer *p, const proto_record *r, int kept, proto_id *logged);
static void refuse_former(peer *p, const proto_record *r, proto_id *logged);
static vjob *acc_take(peer *p, int *fatal);
static void retry_deferred(peer *p);

/* acc's first buffer: it doubles from here up to a batch (the collection
 * bound, NODE_INGEST_COLLECT_BYTES, and the frame that crossed it). */
#define ACC_BUF_MIN (64u << 10)

/* Room in acc for n more records of `bytes` more bytes; a new buffer is
 * the spare when that is big enough.  0, or -1 out of memory (acc as it
 * was). */
static int acc_reserve(ingest *g, size_t n, size_t bytes)
{
    if (g->nacc + n > g->capacc) {
        size_t nc = g->capacc ? g->capacc : 64;
        while (nc < g->nacc + n)
            nc *= 2;
        size_t *nl = realloc(g->alens, nc * sizeof *nl);
        if (!nl)
            return -1;
        g->alens = nl;
        g->capacc = nc;
    }
    if (g->acc_bytes + bytes > g->acap) {
        if (!g->abuf && g->spare && g->sparecap >= bytes) {
            g->abuf = g->spare;
            g->acap = g->sparecap;
            g->spare = NULL;
            g->sparecap = 0;
        } else {
            size_t nc = g->acap ? g->acap : ACC_BUF_MIN;
            while (nc < g->acc_bytes + bytes)
                nc *= 2;
            uint8_t *nb = realloc(g->abuf, nc);
            if (!nb)
                return -1;
            g->abuf = nb;
            g->acap = nc;
        }
    }
    return 0;
}

/* Append a record to acc (room reserved). */
static void acc_put(ingest *g, const uint8_t *raw, size_t len)
{
    memcpy(g->abuf + g->acc_bytes, raw, len);
    g->acc_bytes += len;
    g->alens[g->nacc++] = len;
}

/* The stream paused (nothing verified, nothing collected): the spare goes
 * back to the heap, so that an idle connection holds no batch buffer. */
static void spare_drop(ingest *g)
{
    if (g->nacc)
        return;
    free(g->spare);
    g->spare = NULL;
    g->sparecap = 0;
}

/* defer_take's put into acc (room reserved by the caller). */
static void acc_put_owned(void *ctx, uint8_t *raw, size_t len)
{
    acc_put(ctx, raw, len);
    free(raw);
}

typedef struct { pending_rec *l; size_t n; } take_list;

/* defer_take's put into a list (as many entries as defer_wake said). */
static void list_put_owned(void *ctx, uint8_t *raw, size_t len)
{
    take_list *t = ctx;
    t->l[t->n].raw = raw;
    t->l[t->n].len = len;
    t->n++;
}

/* The author whose vector entry was last read, while records are set
 * aside: a batch is in (author, seq) order, so one lookup per author. */
typedef struct { proto_id author; uint64_t vv; int valid; } vv_cache;

/* Set a record aside that cannot apply yet (pc: STORE_GAP or
 * STORE_UNKNOWN_AUTHOR), within the budgets of proto/limits.h; beyond them
 * it is dropped and fetched again by anti-entropy (gossip_dropped makes the
 * next hello or announce ask at once).  -1 when its seq is so far ahead
 * that no honest peer sends it: the caller closes the peer. */
static int defer_rec(ingest *g, const proto_record *r, int pc, vv_cache *vc)
{
    catalogd *d = g->p->d;
    if (!vc->valid || memcmp(&vc->author, &r->author, 32)) {
        vc->author = r->author;
        vc->vv = store_vv_get(d->st, &r->author);
        vc->valid = 1;
    }
    if (r->seq > vc->vv && r->seq - vc->vv > NODE_INGEST_SEQ_JUMP_MAX)
        return -1;
    /* before this node holds a genesis every author is unknown (the
     * founder's log arrives behind its genesis, from the sponsor we chose
     * to trust): only the byte budgets apply then */
    int has_genesis = 1;
    proto_id dg, gh;
    if (pc == STORE_UNKNOWN_AUTHOR && store_digest_get(d->st, &dg, &gh, &has_genesis))
        has_genesis = 1;
    int unknown = pc == STORE_UNKNOWN_AUTHOR && has_genesis;
    defer_set *ds = &g->ds;
    if (r->seq > vc->vv + NODE_INGEST_DEFER_WINDOW || ds->n >= NODE_INGEST_DEFER_MAX ||
        ds->bytes + r->raw_len > NODE_INGEST_DEFER_BYTES ||
        d->deferred_bytes + r->raw_len > NODE_INGEST_DEFER_TOTAL_BYTES ||
        (unknown && (ds->nunknown >= NODE_INGEST_DEFER_UNKNOWN_MAX ||
                     ds->unknown_bytes + r->raw_len > NODE_INGEST_DEFER_UNKNOWN_BYTES)) ||
        defer_add(ds, r->raw, r->raw_len, &r->author, r->seq, vc->vv, pc, unknown)) {
        d->counters.records_dropped++;
        log_debug(d, "dropped a record set aside (seq %llu, held %llu, %zu set aside, %zu bytes)",
                  (unsigned long long)r->seq, (unsigned long long)vc->vv, ds->n, ds->bytes);
        gossip_dropped(d, &r->author);
        return 0;
    }
    d->deferred_bytes += r->raw_len;
    return 0;
}

static void verify_done(uv_work_t *w, int status)
{
    vchunk *c = w->data;
    vjob *j = c->job;
    if (--j->pending > 0)
        return;
    peer *p = j->p;
    ingest *g = p->ing;
    catalogd *d = p->d;
    d->verify_jobs--;
    if (g->cur == j)
        g->cur = NULL;

    /* Records collected while this job was verified go to the pool now,
     * before this job is written: verifying them overlaps the write.  A
     * batch triaged ahead (the collection bound was reached meanwhile) goes
     * at once: the cores do not wait for its triage. */
    vjob *next = NULL;
    if (g->ready && p->state == PEER_ESTABLISHED) {
        next = g->ready;
        g->ready = NULL;
        start_job(p, next, 0, j);
    } else if (g->ready) {
        job_free(g->ready);
        g->ready = NULL;
    } else if (p->state == PEER_ESTABLISHED && g->nacc) {
        int fatal;
        g->prev = j;
        next = acc_take(p, &fatal);
        g->prev = NULL;
        if (next)
            start_job(p, next, 0, j);
    }

    size_t churn = 0, raw_bytes = 0;
    for (size_t i = 0; i < j->n; i++) {
        raw_bytes += j->r[i].raw_len;
        churn += j->r[i].raw_len + sizeof j->r[i] + sizeof j->it[i];
    }
    /* Keep only verified records (moved to the front of j->r, in order);
     * note the first forgery and the first refusal (copied: the move may
     * write over them). */
    proto_record *recs = j->r;
    int *res = calloc(j->n ? j->n : 1, sizeof *res);
    proto_record badr, refr;
    const proto_record *bad = NULL, *refused = NULL;
    int refused_malformed = 0;
    size_t m = 0;
    vv_cache avc = { .valid = 0 };
    proto_id rekey_logged = { { 0 } }, former_logged = { { 0 } };
    /* records signed by a key a decided rekey retired: kept apart by their
     * own write (store_apply_retired), after the batch */
    proto_record *ret = NULL;
    size_t nret = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (j->it[i].unverified &&
            (j->it[i].alt_res == STORE_FORMER || (j->it[i].alt_res == STORE_GAP && j->it[i].keyless)) &&
            ++p->former_unverified > NODE_FORMER_UNVERIFIED_MAX) {
            /* verified under no key it may have (a former member's beyond
             * its cut, one past its author's log end after a rekey): past
             * what an honest relay may hold, taken for the forgery it most
             * likely is (the connection is closed below) */
            d->counters.verify_failures++;
            if (!bad) {
                badr = j->r[i];
                bad = &badr;
            }
            continue;
        }
        if (j->it[i].alt_res == STORE_GAP) {
            /* the new key of a rekey this node has not derived yet, or a
             * record past its author's log end (keyless): it waits like a
             * gap, and is checked again when its author changes */
            d->counters.records_refused[j->it[i].keyless ? RECORD_CHAIN_WAIT : RECORD_REKEY_WAIT]++;
            if (p->state == PEER_ESTABLISHED)
                defer_rec(g, &j->r[i], STORE_GAP, &avc);
            continue;
        }
        if (j->it[i].alt_res == STORE_FORMER) {
            /* a former member's beyond its cut (not under the key its log
             * had: a rotation not held here), or an old key's after a rekey */
            int st = 0;
            uint64_t cut = 0;
            if (store_member_cut(d->st, &j->r[i].author, &st, &cut) == 0 && st && j->r[i].seq > cut)
                refuse_former(p, &j->r[i], &former_logged);
            else if (j->it[i].unverified || (!ret && !(ret = malloc(j->n * sizeof *ret))))
                refuse_rekeyed(p, &j->r[i], 0, &rekey_logged);   /* past the bounds (or out of memory) */
            else
                ret[nret++] = j->r[i];   /* the bytes stay in the job's frame */
            continue;
        }
        if (!j->it[i].ok && !j->it[i].refused && j->it[i].chained) {
            /* Its predecessor's key was triage's guess, not the store's
             * word: the record may be signed by a rekey's new key from the
             * seq after a cut its predecessor is at (an honest relay sends
             * both, maybe before this node holds a single vote).  It waits
             * like the gap the store called it, and is judged under the
             * key of its own (author, seq) once its predecessor is stored:
             * a forgery is refused, and its sender closed, then.  Closing
             * here dropped the relay's whole batch, the votes with it,
             * each time it was sent. */
            d->counters.records_refused[RECORD_CHAIN_WAIT]++;
            if (p->state == PEER_ESTABLISHED)
                defer_rec(g, &j->r[i], STORE_GAP, &avc);
            continue;
        }
        if (j->it[i].refused && !refused) {
            refr = j->r[i];
            refused = &refr;
            refused_malformed = j->it[i].malformed;
        }
        if (!j->it[i].ok) {
            d->counters.verify_failures += !j->it[i].refused;
            if (!bad && !j->it[i].refused) {
                badr = j->r[i];
                bad = &badr;
            }
            continue;
        }
        if (m != i) {
            recs[m] = recs[i];
            if (j->pre)
                j->pre[m] = j->pre[i];   /* each hash stays with its record */
        }
        m++;
    }
    if (refused && p->state == PEER_ESTABLISHED) {
        /* a record that breaks the rules is never acceptable: as when triage
         * refuses one, nothing of its batch is stored */
        const char *why = "";
        for (int k = 0; k < j->nchunks && !why[0]; k++)
            why = j->chunks[k].why;
        char a[PROTO_ID_STR];
        d->counters.records_refused[refused_malformed ? RECORD_MALFORMED : RECORD_RULES]++;
        proto_id_str(&refused->author, a);
        peer_fail(p, MSG_ERR_RECORD, "%s: %s (author %s, %s/%s seq %llu)",
                  refused_malformed ? "malformed record" : "record refused", why, a,
                  refused->kind, refused->key, (unsigned long long)refused->seq);
    }
    /* a batch already on its way when its sender broke the protocol (say, a
     * forgery in the batch before) is dropped with the connection, as it
     * would have been had it arrived later */
    if (p->failed)
        m = 0;
    char err[256];
    if (m && res && store_apply_hashed(d->st, recs, j->pre, m, res, err, sizeof err) == 0) {
        vv_cache vc = { .valid = 0 };
        for (size_t i = 0; i < m; i++)
            if (res[i] == STORE_GAP || res[i] == STORE_UNKNOWN_AUTHOR)
                defer_rec(g, &recs[i], res[i], &vc);   /* verified: its seq passed triage */
            else if (res[i] == STORE_FORMER)
                refuse_former(p, &recs[i], &former_logged);   /* kept apart, not in the log */
        node_applied(d, recs, res, m, p);
    } else if (m) {
        log_error(d, "cannot store records from peer: %s", err);
    }
    int *rres = nret && !p->failed ? calloc(nret, sizeof *rres) : NULL;
    if (rres && store_apply_retired(d->st, ret, nret, rres, err, sizeof err) == 0) {
        /* kept apart as on every node that took them before the decision
         * (DECISIONS 22), or refused past the bounds: rekey_cut counts both */
        vv_cache vc = { .valid = 0 };
        for (size_t i = 0; i < nret; i++)
            if (rres[i] == STORE_GAP)
                defer_rec(g, &ret[i], STORE_GAP, &vc);   /* its author's keys changed meanwhile */
            else if (rres[i] == STORE_FORMER)
                refuse_rekeyed(p, &ret[i], 1, &rekey_logged);
        node_applied(d, ret, rres, nret, p);   /* a derivation may have run */
    } else if (rres) {
        log_error(d, "cannot keep records apart from peer: %s", err);
    }
    free(rres);
    free(ret);
    free(res);
    if (bad && p->state == PEER_ESTABLISHED) {
        char a[PROTO_ID_STR];
        proto_id_str(&bad->author, a);
        peer_fail(p, MSG_ERR_SIGNATURE, "record with a bad signature (claimed author %s, %s/%s seq %llu)",
                  a, bad->kind, bad->key, (unsigned long long)bad->seq);
    }
    if (next && !g->spare && p->state == PEER_ESTABLISHED) {
        /* the stream goes on: this frame takes the batch after next
         * (not freed, so not counted as churn) */
        churn -= raw_bytes;
        g->spare = j->frame;
        g->sparecap = j->framecap;
        j->frame = NULL;
    }
    job_free(j);
    catalogd_churn(d, churn);
    if (next) {
        /* Records set aside whose author changed (admitted by this batch,
         * say) ride with the batch after next, which is checked after this
         * one is written; waiting for a pause in the stream could take
         * long.  The others stay aside: triaged again, they could only be
         * set aside again (defer.h). */
        size_t moved, k = defer_wake(&g->ds, d->st, &moved);
        if (k && acc_reserve(g, k, moved) == 0) {
            size_t held = g->ds.bytes;
            defer_take(&g->ds, acc_put_owned, g);
            d->deferred_bytes -= held - g->ds.bytes;
        }
        peer_pump(p);   /* still busy: collect the batch after next meanwhile */
    }
    else if (p->state == PEER_ESTABLISHED)
        retry_deferred(p);
    else {
        g->busy = 0;
        spare_drop(g);
    }
    peer_unref(p);
}

/* The chain value before each run of one author's records in j, for
 * chain_stage: from prev's tail when the run follows it (prev: the job
 * about to be applied, whose chains the pool computed), else from the
 * store.  Runs shorter than CHAIN_RUN_MIN are left to the apply: a store
 * read here costs about what the few steps save. */
#define CHAIN_RUN_MIN 8u
static void start_chains(catalogd *d, vjob *j, const vjob *prev)
{
    if (!j->pre || !(j->runs = malloc(j->n * sizeof *j->runs)))
        return;
    for (size_t i = 0; i < j->n;) {
        size_t e = i + 1;
        while (e < j->n && !memcmp(&j->r[e].author, &j->r[i].author, 32))
            e++;
        vrun *ru = &j->runs[j->nruns++];
        ru->from = i;
        ru->valid = 0;
        const proto_record *r = &j->r[i];
        int in_prev = 0;
        for (size_t t = 0; prev && t < prev->ntails; t++)
            if (prev->tails[t].seq + 1 == r->seq && !memcmp(&prev->tails[t].author, &r->author, 32)) {
                in_prev = 1;
                if (prev->tails[t].chained) {
                    memcpy(ru->chain, prev->tails[t].chain, 32);
                    ru->valid = 1;
                }
            }
        if (!in_prev && e - i >= CHAIN_RUN_MIN)
            ru->valid = store_chain_get(d->st, &r->author, r->seq - 1, ru->chain, NULL) == 0;
        i = e;
    }
}

static void start_job(peer *p, vjob *j, int may_inline, const vjob *prev)
{
    size_t nch = j->n < NODE_VERIFY_SPLIT_MIN ? 1 : VERIFY_CHUNKS;
    j->p = p;
    j->pending = j->nchunks = (int)nch;
    atomic_init(&j->left, (int)nch);
    p->refs++;
    p->d->verify_jobs++;
    p->ing->busy = 1;
    p->ing->cur = j;
    if (may_inline && j->n <= INLINE_VERIFY) {
        /* A few records (the usual case once in sync): checking them here
         * costs less than handing them to a pool thread and back. */
        vchunk *c = &j->chunks[0];
        c->job = j;
        c->from = 0;
        c->to = j->n;
        c->w.data = c;
        p->d->counters.verify_batches++;
        verify_work(&c->w);
        verify_done(&c->w, 0);
        return;
    }
    p->d->counters.verify_batches++;
    p->d->counters.verify_pool_jobs += nch;
    /* an inline job is verified on the loop: chaining it there saves nothing */
    start_chains(p->d, j, prev);
    for (size_t k = 0; k < nch; k++) {
        vchunk *c = &j->chunks[k];
        c->job = j;
        c->from = j->n * k / nch;
        c->to = j->n * (k + 1) / nch;
        c->w.data = c;
        uv_queue_work(p->d->loop, &c->w, verify_work, verify_done);
    }
}

/* A record of a member that left or was expelled, beyond its cut
 * (store/store_gov.c): refused from the log here as on every node (kept
 * apart when the store applied it as STORE_FORMER, within its bounds;
 * refused at the triage beyond them), but its sender is not closed.  A relay that applied it before it learnt of the departure is
 * honest, and closing it would cut it off for as long as it holds the
 * record (docs/DECISIONS.md, "Records of former members").  One line per
 * author and batch. */
static void refuse_former(peer *p, const proto_record *r, proto_id *logged)
{
    catalogd *d = p->d;
    d->counters.records_refused[RECORD_FORMER]++;
    if (!memcmp(logged, &r->author, 32))
        return;
    *logged = r->author;
    store_member m;
    char lbl[220] = "", ids[PROTO_ID_STR];
    int st = 0;
    uint64_t cut = 0;
    if (store_member_get(d->st, &r->author, &m) == 0)
        snprintf(lbl, sizeof lbl, " %s %s", m.code, m.name);
    store_member_cut(d->st, &r->author, &st, &cut);
    proto_id_str(&r->author, ids);
    log_warn(d, "refused a record of former member %s%s (%s) from peer %s: seq %llu is after its %s "
             "(its records up to seq %llu stay; later ones are kept apart, out of its log, at most %u "
             "seqs); the peer stays connected", ids, lbl,
             st == STORE_MEMBER_LEFT ? "left" : "expelled", p->addr, (unsigned long long)r->seq,
             st == STORE_MEMBER_LEFT ? "leave record" : "expulsion", (unsigned long long)cut,
             STORE_FORMER_APART_SEQS);
}

/* A record signed by a key a rekey retired, after the rekey's cut
 * (store/store_apart.c): refused from the log here as on every node that
 * derived the rekey (kept apart when store_apply_retired took it, within
 * its bounds; refused past them), its sender not closed — a relay that
 * took it before the decision reached it is honest.  One line per author
 * and batch; kept: store_apply_retired said STORE_FORMER (kept apart, or
 * refused if the author's budget ran out within that very write). */
static void refuse_rekeyed(peer *p, const proto_record *r, int kept, proto_id *logged)
{
    catalogd *d = p->d;
    d->counters.records_refused[RECORD_REKEY_CUT]++;
    /* the new key's record of that seq is another peer's to send: a relay
     * holding the thief's would otherwise answer every want of it first */
    gossip_want_refused(p, &r->author);
    if (!memcmp(logged, &r->author, 32))
        return;
    *logged = r->author;
    store_member m;
    char lbl[220] = "", ids[PROTO_ID_STR];
    uint64_t cut = 0;
    if (store_member_get(d->st, &r->author, &m) == 0)
        snprintf(lbl, sizeof lbl, " %s %s", m.code, m.name);
    store_rekey_cut(d->st, &r->author, &cut);
    proto_id_str(&r->author, ids);
    char how[160];
    if (kept)
        snprintf(how, sizeof how, "kept apart, out of its log");
    else
        snprintf(how, sizeof how, "beyond what is kept apart of it: %u seqs after the cut, %u versions in all",
                 STORE_FORMER_APART_SEQS, STORE_RETIRED_ARRIVALS_MAX);
    log_warn(d, "refused a record of member %s%s from peer %s: seq %llu is after the rekey's cut (seq %llu) "
             "and signed by the key the rekey retired (%s); the peer stays connected", ids, lbl, p->addr,
             (unsigned long long)r->seq, (unsigned long long)cut, how);
}

/* Precheck records (no signatures yet): drop what we hold, defer what cannot
 * apply yet, refuse what never can.  Returns a job to verify, or NULL. */
static vjob *triage(peer *p, uint8_t *frame, size_t framecap, const uint8_t **raws, const size_t *lens,
                    size_t n, int *fatal)
{
    vjob *j = calloc(1, sizeof *j);
    if (!j) {
        free(frame);
        return NULL;
    }
    j->frame = frame;
    j->framecap = framecap;
    j->it = calloc(n ? n : 1, sizeof *j->it);
    if (!j->it) {
        job_free(j);
        return NULL;
    }
    *fatal = 0;
    /* decode everything first and order by (author, seq): a batch usually
     * carries a run of one author's records, and seq n+1 is acceptable once
     * seq n of the same batch is */
    /* decoded in place of the job's records: those kept are moved to the
     * front below, over ones already looked at */
    proto_record *dec = j->r = malloc((n ? n : 1) * sizeof *dec);
    if (!dec) {
        job_free(j);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char err[256];
        /* The body is checked with the signature (verify_work): here only
         * the header, what the prechecks read.  A genesis is the exception:
         * its precheck reads the certificate in its body. */
        int rc = proto_record_decode_header(raws[i], lens[i], &dec[i], err, sizeof err);
        if (rc == 0 && kind_of(dec[i].kind)->id == KIND_GENESIS)
            rc = proto_record_decode_stored(raws[i], lens[i], &dec[i], err, sizeof err);
        if (rc) {
            p->d->counters.records_refused[RECORD_MALFORMED]++;
            peer_fail(p, MSG_ERR_RECORD, "malformed record: %s", err);
            *fatal = 1;
            job_free(j);
            return NULL;
        }
    }
    /* a log is sent in order, so a batch usually is sorted already: then
     * no qsort, which moves these ~500-byte structs around n log n times */
    size_t sorted = 1;
    while (sorted < n && cmp_rec(&dec[sorted - 1], &dec[sorted]) <= 0)
        sorted++;
    if (sorted < n)
        qsort(dec, n, sizeof *dec, cmp_rec);
    int *pcs = malloc((n ? n : 1) * sizeof *pcs);
    EVP_PKEY **keys = calloc(n ? n : 1, sizeof *keys);
    /* the keys a rekey brings, only while some rekey is derived or open */
    store_alt_keys *alts = store_rekey_rules_any(p->d->st) ? calloc(n ? n : 1, sizeof *alts) : NULL;
    char err[256] = "";
    if (!pcs || !keys ||
        store_precheck_batch_alt(p->d->st, dec, n, pcs, keys, alts, STORE_RULES_LATER, err, sizeof err)) {
        free(pcs);
        free(keys);
        free(alts);
        job_free(j);
        return NULL;
    }
    vv_cache vc = { .valid = 0 };
    proto_id former_logged = { { 0 } };
    for (size_t i = 0; i < n; i++) {
        proto_record *r = &dec[i];
        EVP_PKEY *k = keys[i];
        int pc = pcs[i];
        EVP_PKEY *rk = NULL;   /* the key a predecessor in this batch rotates to */
        keys[i] = NULL;
        int keyless = 0;
        if (pc == STORE_GAP && j->n && j->it[j->n - 1].key && !memcmp(&j->r[j->n - 1].author, &r->author, 32) &&
            j->r[j->n - 1].seq + 1 == r->seq && !kind_has(r->kind, KIND_F_NO_CHAIN) &&
            !(rk = store_rotate_key(&j->r[j->n - 1]))) {
            /* its predecessor is in this batch: same author, same key (not
             * past a rotation: see prev_tail_key); the remaining rules are
             * checked again when the batch is applied */
            pc = STORE_NEW;
            k = j->it[j->n - 1].key;
            EVP_PKEY_up_ref(k);
        } else if (pc == STORE_GAP && !kind_has(r->kind, KIND_F_NO_CHAIN) && prev_tail_key(p->ing->prev, r)) {
            /* its predecessor is in the job being applied just before this one */
            pc = STORE_NEW;
            k = prev_tail_key(p->ing->prev, r);
            EVP_PKEY_up_ref(k);
        } else if (pc == STORE_GAP && alts && alts[i].past_end) {
            /* past its author's log end, the key a decided rekey retired
             * handed out: under it, kept apart (as the store that took it
             * before the decision holds it); under the key in force, or
             * none, it waits as the gap it is */
            pc = STORE_NEW;
            alts[i].fail_res = STORE_GAP;
            keyless = 1;
        }
        EVP_PKEY_free(rk);
        if (pc == STORE_NEW || pc == STORE_FORK) {
            if (j->n != i)
                j->r[j->n] = *r;   /* j->n < i: a record looked at already */
            j->it[j->n].key = k;
            j->it[j->n].chained = pcs[i] == STORE_GAP && !keyless;
            j->it[j->n].keyless = keyless;
            if (alts && (alts[i].n || alts[i].fail_res) && (j->it[j->n].alt = malloc(sizeof *alts))) {
                *j->it[j->n].alt = alts[i];
                alts[i].n = 0;
            }
            j->n++;
        } else if (pc == STORE_GAP || pc == STORE_UNKNOWN_AUTHOR) {
            EVP_PKEY_free(k);
            if (defer_rec(p->ing, r, pc, &vc)) {
                char a[PROTO_ID_STR];
                p->d->counters.records_refused[RECORD_SEQ_JUMP]++;
                proto_id_str(&r->author, a);
                peer_fail(p, MSG_ERR_LIMIT, "record of %s at seq %llu, %llu beyond the %llu held here", a,
                          (unsigned long long)r->seq, (unsigned long long)(r->seq - vc.vv),
                          (unsigned long long)vc.vv);
                *fatal = 1;
                break;
            }
        } else if (pc == STORE_FORMER) {
            EVP_PKEY_free(k);
            refuse_former(p, r, &former_logged);
        } else if (pc == STORE_REJECT) {
            EVP_PKEY_free(k);
            p->d->counters.records_refused[RECORD_RULES]++;
            peer_fail(p, MSG_ERR_RECORD, "record refused: %s", err);
            *fatal = 1;
            break;
        } else {
            EVP_PKEY_free(k);
        }
    }
    for (size_t i = 0; i < n; i++) {
        EVP_PKEY_free(keys[i]);
        if (alts)
            store_alt_keys_free(&alts[i]);
    }
    free(keys);
    free(alts);
    free(pcs);
    if (*fatal || j->n == 0) {
        job_free(j);
        return NULL;
    }
    j->pre = calloc(j->n, sizeof *j->pre);   /* filled by verify_work (calloc: none chained) */
    /* items are in (author, seq) order: the last of each author's run */
    j->tails = malloc(j->n * sizeof *j->tails);
    for (size_t i = 0; j->tails && i < j->n; i++) {
        if (i + 1 < j->n && !memcmp(&j->r[i + 1].author, &j->r[i].author, 32))
            continue;
        EVP_PKEY *rk = store_rotate_key(&j->r[i]);
        j->tails[j->ntails++] = (vtail){ j->r[i].author, j->r[i].seq, rk ? rk : j->it[i].key, rk != NULL, 0, { 0 } };
    }
    return j;
}

/* Triage a list of owned records (the list is consumed) into a job. */
static vjob *job_from_list(peer *p, pending_rec *list, size_t n, int *fatal)
{
    size_t total = 0;
    vjob *j = NULL;
    *fatal = 0;
    for (size_t i = 0; i < n; i++)
        total += list[i].len;
    uint8_t *frame = malloc(total ? total : 1);
    const uint8_t **raws = malloc((n ? n : 1) * sizeof *raws);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);   /* calloc: gcc cannot see n > 0 below */
    if (frame && raws && lens) {
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(frame + off, list[i].raw, list[i].len);
            raws[i] = frame + off;
            lens[i] = list[i].len;
            off += list[i].len;
        }
        j = triage(p, frame, total, raws, lens, n, fatal);   /* owns frame */
        frame = NULL;
    }
    free(frame);
    free(raws);
    free(lens);
    for (size_t i = 0; i < n; i++)
        free(list[i].raw);
    free(list);
    if (!j)
        catalogd_churn(p->d, total);   /* all dropped or set aside: give big ones' heap back */
    return j;
}

/* Triage what acc holds into a job, which gets acc's buffer as its frame;
 * acc is left empty. */
static vjob *acc_take(peer *p, int *fatal)
{
    ingest *g = p->ing;
    size_t n = g->nacc, total = g->acc_bytes, cap = g->acap;
    uint8_t *frame = g->abuf;
    size_t *lens = g->alens, lcap = g->capacc;
    /* acc is empty from here on: whatever triage leads to sees it so */
    g->abuf = NULL;
    g->acap = g->acc_bytes = 0;
    g->alens = NULL;
    g->nacc = g->capacc = 0;
    *fatal = 0;
    vjob *j = NULL;
    const uint8_t **raws = malloc((n ? n : 1) * sizeof *raws);
    if (raws && frame) {
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
            raws[i] = frame + off;
            off += lens[i];
        }
        j = triage(p, frame, cap, raws, lens, n, fatal);   /* owns frame */
    } else {
        free(frame);
    }
    free(raws);
    if (!g->alens) {   /* the lengths' array serves the next collection */
        g->alens = lens;
        g->capacc = lcap;
    } else {
        free(lens);
    }
    if (!j)
        catalogd_churn(p->d, total);   /* all dropped or set aside: give big ones' heap back */
    return j;
}

static void retry_deferred(peer *p)
{
    ingest *g = p->ing;
    size_t bytes, k = defer_wake(&g->ds, p->d->st, &bytes);
    take_list t = { k ? malloc(k * sizeof *t.l) : NULL, 0 };
    if (t.l) {
        int fatal;
        size_t held = g->ds.bytes;
        defer_take(&g->ds, list_put_owned, &t);
        p->d->deferred_bytes -= held - g->ds.bytes;
        /* triage sets aside again what still cannot apply; a job means
         * progress */
        vjob *j = job_from_list(p, t.l, t.n, &fatal);
        if (j) {
            start_job(p, j, 0, NULL);
            return;
        }
        if (fatal)
            return;
    }
    g->busy = 0;
    spare_drop(g);
    peer_pump(p);
}

/* may_inline: only when no frame of p->in is in use up the stack, since an
 * inline job's completion may read more input (and move p->in). */
static void flush_acc(peer *p, int may_inline)
{
    ingest *g = p->ing;
    if (!g->nacc || g->busy || p->state != PEER_ESTABLISHED)
        return;
    int fatal;
    vjob *j = acc_take(p, &fatal);
    if (j)
        start_job(p, j, may_inline, NULL);
}

void ingest_flush(ingest *g)
{
    flush_acc(g->p, 1);   /* called once the connection has no whole frame left */
}


/* ---- the connection's side ---- */

ingest *ingest_new(peer *p)
{
    ingest *g = calloc(1, sizeof *g);
    if (g) {
        g->p = p;
        defer_init(&g->ds, p->d->st);
    }
    return g;
}

void ingest_free(ingest *g)
{
    if (!g)
        return;
    g->p->d->deferred_bytes -= g->ds.bytes;
    defer_free(&g->ds);
    free(g->abuf);
    free(g->alens);
    free(g->spare);
    if (g->ready)
        job_free(g->ready);
    free(g);
}

int ingest_add(ingest *g, const uint8_t *raw, size_t len)
{
    if (acc_reserve(g, 1, len))
        return -1;
    acc_put(g, raw, len);
    return 0;
}

/* The collection bound was reached while a batch is verified: triage what
 * was collected now, as the batch after it, instead of when it is done.
 * The store is where it would be then (the batch before cur is written
 * before cur's successor is triaged either way, and cur's own records are
 * seen through g->prev as in verify_done), and the loop thread would only
 * wait meanwhile; verify_done then starts it the moment cur's signatures
 * are checked, so both cores go on verifying while cur is written.
 * Reading stays paused while it waits (ingest_full): the records held are
 * those of two batches, as before. */
static void triage_ahead(ingest *g)
{
    peer *p = g->p;
    int fatal;
    if (g->ready || !g->cur || !g->nacc || p->state != PEER_ESTABLISHED)
        return;
    g->prev = g->cur;
    g->ready = acc_take(p, &fatal);
    g->prev = NULL;
    if (g->ready)
        log_debug(p->d, "triaged %zu records ahead, while %zu are verified", g->ready->n, g->cur->n);
}

void ingest_frame_done(ingest *g)
{
    if (g->nacc >= NODE_BATCH_RECORDS * 4 || g->acc_bytes >= NODE_INGEST_COLLECT_BYTES) {
        if (g->busy)
            triage_ahead(g);
        else
            flush_acc(g->p, 0);   /* mid-read: this frame is still in use */
    }
}

int ingest_busy(const ingest *g)
{
    return g->busy;
}

int ingest_full(const ingest *g)
{
    return g->busy && (g->ready || g->nacc >= NODE_INGEST_COLLECT_MAX ||
                       g->acc_bytes >= NODE_INGEST_COLLECT_BYTES);
}
