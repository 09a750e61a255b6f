/*
 * bench/member_sync.c — what a newcomer's initial sync costs in membership
 * records (issue 12): an alliance of N members is made in memory (real
 * keys, certificates and signatures: each newcomer admitted by the
 * admission quorum in force, min(admission, active members), some members
 * announcing an address, some endorsing one already admitted), then a
 * fresh store on disk (real LMDB) receives every log author by author, as
 * an initial sync brings them: one batch per author's log (the founder's
 * first, then by member id), through store_apply_prechecked as the daemon
 * applies a verified batch (the order of the authors is a fixed shuffle,
 * as member ids are), after daemon/ingest.c's triage (the batch in
 * (author, seq) order, store_precheck_batch, a gap whose predecessor is in
 * the batch taken with it); records whose author is not a member yet are
 * set aside, and ride with the next batch once their author changed, as
 * the daemon does: with daemon/defer.c itself (compiled in here).
 *
 *     member_sync N [ADMISSION]       (defaults 500, 2)
 *
 * Prints: member_sync_ms N (the sync only, not making the alliance; wall
 * clock, with a commit's fsync per batch), member_sync_cpu_ms (the
 * process's CPU time over the same span, steadier on a shared machine),
 * member_sync_apply_cpu_ms (of it, in store_apply_prechecked: what issue
 * 12 is about; the rest is mostly the prechecks of records set aside,
 * taken again when their author changed, as the daemon's triage does),
 * member_sync_records, member_sync_fed (records handed to the store's
 * prechecks, those set aside counted each time they ride along: the
 * daemon's triage per record is member_sync_fed / member_sync_records;
 * before daemon/defer.c every record set aside rode with every batch),
 * member_sync_retriaged (of them, records set aside taken again), member_sync_replays
 * (store_member_stats), and
 * member_sync_active (members active at the end: N when all went in).
 * Signatures are not verified here (the daemon does that on the thread
 * pool, linear in the records): the figure is the store's.
 */
#include "certs/certs.h"
#include "proto/record.h"
#include "proto/util.h"
#include "store/store.h"
/* the daemon's own set of records set aside (loop thread code using only
 * the store's API; the Makefile lists it as a prerequisite) */
#include "daemon/defer.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
    uint8_t *raw;
    size_t len;
} rec;

typedef struct {
    certs_identity id;
    rec *log;
    size_t n, cap;
    int active;
} member;

static member *mem;
static int nmem;
static proto_id alliance;
static uint64_t clock_ms;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "member_sync: %s: %s\n", what, err);
    exit(1);
}

/* Sign the next record of member a's log. */
static void sign_next(int a, const char *kind, const char *key, proto_body *b)
{
    member *m = &mem[a];
    char err[256];
    rec r;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->log = realloc(m->log, m->cap * sizeof *m->log);
        if (!m->log)
            die("memory", "out");
    }
    clock_ms += 1000;
    if (proto_record_sign(strcmp(kind, "genesis") ? &alliance : &(proto_id){ { 0 } }, &m->id.id, kind, key, m->n + 1, clock_ms, 0,
                          b, m->id.key, &r.raw, &r.len, err, sizeof err))
        die("sign", err);
    proto_body_free(b);
    m->log[m->n++] = r;
}

static void admit(int by, int who, int with_address)
{
    char key[65], addr[64];
    proto_body *b = proto_body_new();
    proto_hex(mem[who].id.id.b, 32, key);
    snprintf(addr, sizeof addr, "m%d.example.lg.jp:7400", who);
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", mem[who].id.der, mem[who].id.der_len);
    proto_body_str(b, "code", mem[who].id.code);
    proto_body_str(b, "name", mem[who].id.name);
    if (with_address)
        proto_body_str(b, "address", addr);
    sign_next(by, "member", key, b);
}

static void make_alliance(int n, int admission)
{
    char err[256];
    nmem = n;
    mem = calloc((size_t)n, sizeof *mem);
    for (int i = 0; i < n; i++) {
        char code[8], name[32];
        int base = 10000 + i * 7, sum = 0;
        snprintf(code, sizeof code, "%05d", base);
        for (int k = 0; k < 5; k++)
            sum += (code[k] - '0') * (6 - k);
        code[5] = (char)('0' + (11 - sum % 11) % 10);
        code[6] = 0;
        snprintf(name, sizeof name, "団体%d", i);
        if (certs_make(code, name, "ed25519", &mem[i].id, err, sizeof err))
            die("identity", err);
    }
    /* dated in the past: membership records ahead of the clock wait */
    clock_ms = proto_now_ms() - 30ull * 86400 * 1000;
    proto_body *g = proto_body_new();
    proto_body_str(g, "alliance", "ベンチ連合");
    proto_body_int(g, "admission", admission);
    proto_body_str(g, "code", mem[0].id.code);
    proto_body_str(g, "name", mem[0].id.name);
    proto_body_str(g, "address", "m0.example.lg.jp:7400");
    proto_body_bin(g, "cert", mem[0].id.der, mem[0].id.der_len);
    sign_next(0, "genesis", "genesis", g);
    proto_record_hash(mem[0].log[0].raw, mem[0].log[0].len, &alliance);
    mem[0].active = 1;
    int active = 1;
    int *pick = malloc((size_t)n * sizeof *pick);
    for (int i = 1; i < n; i++) {
        int need = admission < active ? admission : active, got = 0;
        /* endorsers among the members active so far, without repeats */
        while (got < need) {
            int e = (int)(next_rand() % (uint64_t)i), dup = 0;
            for (int k = 0; k < got; k++)
                dup |= pick[k] == e;
            if (dup || !mem[e].active)
                continue;
            pick[got++] = e;
            admit(e, i, got == 1);
        }
        mem[i].active = 1;
        active++;
        if (i % 4 == 0) {   /* announces its address itself */
            char key[65], addr[64];
            proto_body *b = proto_body_new();
            proto_hex(mem[i].id.id.b, 32, key);
            snprintf(addr, sizeof addr, "m%d.example.lg.jp:7401", i);
            proto_body_str(b, "op", "address");
            proto_body_str(b, "address", addr);
            sign_next(i, "member", key, b);
        }
        if (i % 8 == 0 && i > need + 1) {   /* one more endorsement of a member already in */
            int e, j = (int)(next_rand() % (uint64_t)i);
            do
                e = (int)(next_rand() % (uint64_t)i);
            while (e == j);
            admit(e, j, 0);
        }
    }
    free(pick);
}

static int cmp_rec(const void *a, const void *b)
{
    const proto_record *x = a, *y = b;
    int c = memcmp(&x->author, &y->author, 32);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The records defer_take hands back (owned: freed after their batch). */
typedef struct { uint8_t **raw; size_t *len; size_t n; } taken;

static void take_put(void *ctx, uint8_t *raw, size_t len)
{
    taken *t = ctx;
    t->raw[t->n] = raw;
    t->len[t->n++] = len;
}

static int count_active(void *ctx, const store_member *m)
{
    *(int *)ctx += m->status == STORE_MEMBER_ACTIVE;
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500, admission = argc > 2 ? atoi(argv[2]) : 2;
    char err[256], dir[] = "/tmp/member_sync.XXXXXX";
    if (n < 2 || admission < 1)
        die("usage", "member_sync N [ADMISSION]");
    make_alliance(n, admission);
    if (!mkdtemp(dir))
        die("mkdtemp", dir);
    store *s;
    certs_identity self;
    if (store_open(dir, 1024, &s, err, sizeof err) ||
        certs_make("131016", "新規団体", "ed25519", &self, err, sizeof err) ||
        store_bind_self(s, &self.id, err, sizeof err))
        die("store", err);
    /* the founder's log first (it starts with the genesis), then the others
     * in member id order, as a newcomer's vector asks for them */
    member **order = malloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++)
        order[i] = &mem[i];
    /* member ids are random keys' hashes: their order is a shuffle of the
     * alliance's history, made reproducible here (the same shuffle every
     * run, so that runs and sizes compare) */
    for (int i = n - 1; i > 1; i--) {
        int j = 1 + (int)(next_rand() % (uint64_t)i);
        member *tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    size_t total = 0, held = 0, fed = 0;
    for (int i = 0; i < n; i++)
        total += mem[i].n;
    proto_record *batch = malloc((total + 1) * sizeof *batch);
    proto_record *sel = malloc((total + 1) * sizeof *sel);
    int *res = malloc((total + 1) * sizeof *res), *pcs = malloc((total + 1) * sizeof *pcs);
    EVP_PKEY **keys = calloc(total + 1, sizeof *keys);
    proto_record *aside = malloc((total + 1) * sizeof *aside);
    int *aside_pc = malloc((total + 1) * sizeof *aside_pc);
    defer_set ds;
    defer_init(&ds, s);
    taken tk = { malloc((total + 1) * sizeof *tk.raw), malloc((total + 1) * sizeof *tk.len), 0 };
    double t0 = now_s(), c0 = cpu_s(), apply_cpu = 0;
    for (int a = 0; a <= n; a++) {
        size_t bn = 0, sn = 0;
        /* what was set aside rides with this batch if its author changed */
        tk.n = 0;
        if (defer_wake(&ds, s, NULL))
            defer_take(&ds, take_put, &tk);
        for (size_t k = 0; k < tk.n; k++)
            if (proto_record_decode(tk.raw[k], tk.len[k], &batch[bn++], err, sizeof err))
                die("decode", err);
        if (a < n)
            for (size_t k = 0; k < order[a]->n; k++)
                if (proto_record_decode(order[a]->log[k].raw, order[a]->log[k].len, &batch[bn++], err, sizeof err))
                    die("decode", err);
        if (!bn)
            continue;
        /* daemon/ingest.c's triage: in (author, seq) order, prechecked in a
         * read transaction; a gap whose predecessor is in the batch goes
         * with it, what cannot apply yet is set aside */
        qsort(batch, bn, sizeof *batch, cmp_rec);
        if (store_precheck_batch(s, batch, bn, pcs, keys, STORE_RULES_LATER, err, sizeof err))
            die("precheck", err);
        for (size_t k = 0; k < bn; k++) {
            EVP_PKEY_free(keys[k]);
            keys[k] = NULL;
            int pc = pcs[k];
            if (pc == STORE_GAP && sn && !memcmp(&sel[sn - 1].author, &batch[k].author, 32) &&
                sel[sn - 1].seq + 1 == batch[k].seq)
                pc = STORE_NEW;
            if (pc == STORE_NEW || pc == STORE_FORK)
                sel[sn++] = batch[k];
            else if (pc == STORE_GAP || pc == STORE_UNKNOWN_AUTHOR)
                aside[held++] = batch[k], aside_pc[held - 1] = pc;
            else if (pc != STORE_DUP)
                die("record refused", store_result_str(pc));
        }
        fed += bn;
        if (sn) {
            double ca = cpu_s();
            if (store_apply_prechecked(s, sel, sn, res, err, sizeof err))
                die("apply", err);
            apply_cpu += cpu_s() - ca;
        }
        size_t in = 0;
        for (size_t k = 0; k < sn; k++)
            if (res[k] == STORE_UNKNOWN_AUTHOR || res[k] == STORE_GAP)
                aside[held++] = sel[k], aside_pc[held - 1] = res[k];
            else if (res[k] == STORE_NEW)
                in++;
            else
                die("record refused", store_result_str(res[k]));
        /* set aside as daemon/ingest.c's defer_rec does (no budgets here:
         * the bench has no anti-entropy to fetch what they would drop) */
        for (size_t k = 0; k < held; k++)
            if (defer_add(&ds, aside[k].raw, aside[k].raw_len, &aside[k].author, aside[k].seq,
                          store_vv_get(s, &aside[k].author), aside_pc[k], aside_pc[k] == STORE_UNKNOWN_AUTHOR))
                die("memory", "out");
        held = 0;
        for (size_t k = 0; k < tk.n; k++)
            free(tk.raw[k]);
        tk.n = 0;
        /* after the last log, retry until nothing more goes in */
        if (a == n && ds.n && in)
            a--;
    }
    double t1 = now_s(), c1 = cpu_s();
    uint64_t replays, fixups;
    store_member_stats(s, &replays, &fixups);
    int active = 0, changed = 0;
    store_members(s, count_active, &active);
    /* what the store derived as the records came is what a replay of its
     * log derives (the check that every shortcut keeps) */
    if (store_member_rederive(s, &changed, err, sizeof err))
        die("replay", err);
    if (changed)
        die("replay", "the derived membership differed from a replay of the log");
    printf("member_sync_ms %d %.1f\n", n, (t1 - t0) * 1000);
    printf("member_sync_cpu_ms %d %.1f\n", n, (c1 - c0) * 1000);
    printf("member_sync_apply_cpu_ms %d %.1f\n", n, apply_cpu * 1000);
    printf("member_sync_records %d %zu\n", n, total);
    printf("member_sync_fed %d %zu\n", n, fed);
    printf("member_sync_retriaged %d %llu\n", n, (unsigned long long)ds.retriaged);
    printf("member_sync_left_aside %d %zu\n", n, ds.n);
    printf("member_sync_replays %d %llu\n", n, (unsigned long long)replays);
    printf("member_sync_active %d %d\n", n, active);
    store_close(s);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd))
        fprintf(stderr, "member_sync: could not remove %s\n", dir);
    certs_free(&self);
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < mem[i].n; k++)
            free(mem[i].log[k].raw);
        free(mem[i].log);
        certs_free(&mem[i].id);
    }
    free(mem);
    free(order);
    free(batch);
    free(res);
    free(pcs);
    free(keys);
    free(sel);
    free(aside);
    free(aside_pc);
    free(tk.raw);
    free(tk.len);
    defer_free(&ds);
    return active == n ? 0 : 1;
}
