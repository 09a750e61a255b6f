/*
 * store/store_read.c — reads: current records, history, an author's log,
 * records by reference, fork evidence and the version vector; and the
 * release of the store's pages that reads map into this process.
 *
 * Every read runs in its own read transaction; callbacks see bytes that
 * point into the map and are valid only during the call.
 *
 * A caller may rely on: reads never writing; a scan (store_foreach_current,
 * store_range, store_get_refs) keeping the pages it maps here bounded, by
 * releasing them every few MB (scanned); a released page being mapped again
 * on access, so pointers into the store stay valid.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>

/* ---- page release ---- */

/* Where LMDB mapped the data file (MDB_envinfo tells only for MDB_FIXEDMAP):
 * the mapping in /proc/self/maps that holds a value just read from the
 * store and belongs to the data file's device and inode.  If none does, no
 * pages are ever released. */
void find_map(store *s)
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
void scanned(store *s, size_t n)
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

/* ---- records ---- */

/* A snapshot's walk on another thread cannot use the store thread's page
 * accounting (scanned()); it counts its own bytes and drops the whole map
 * every SCAN_RELEASE of them.  A walk of every certification (the search
 * index's build on the pool) otherwise left the whole file mapped: the
 * founder's peak RSS at 100,000 certifications went from 74 to 216 MB.
 * Dropping the map is safe from any thread: it is read-only and shared, so
 * a page touched again, by this walk or the loop, is mapped again from the
 * page cache (store_release_pages). */
static void snap_scanned(store_snap *n, size_t bytes)
{
    n->scanned += bytes;
    if (n->scanned < SCAN_RELEASE)
        return;
    n->scanned = 0;
    if (n->s->map)
        madvise(n->s->map, n->s->map_len, MADV_DONTNEED);
}

/* The record at (author, seq) to cb, its bytes counted: by the store's
 * thread's accounting, or by snap's when the read is in a snapshot on
 * another thread. */
static int log_cb_acct(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                       store_rec_cb cb, void *ctx, store_snap *snap)
{
    uint8_t lk[40];
    memcpy(lk, author->b, 32);
    put_be64(lk + 32, seq);
    MDB_val k = { 40, lk }, v;
    if (mdb_get(txn, s->log, &k, &v))
        return 0;
    if (snap)
        snap_scanned(snap, v.mv_size + 128);
    else
        scanned(s, v.mv_size + 128);
    return cb(ctx, v.mv_data, v.mv_size);
}

static int log_cb(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                  store_rec_cb cb, void *ctx)
{
    return log_cb_acct(s, txn, author, seq, cb, ctx, NULL);
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
    /* Records read by reference lie scattered over the file (a search's hits
     * in product order): each maps its own pages and their neighbours, far
     * more than its bytes say, so check what is mapped, as after a write. */
    scanned(s, SCAN_CHECK);
    return 0;
}

/* ---- a snapshot for another thread ---- */

store_snap *store_snap_begin(store *s)
{
    store_snap *n = malloc(sizeof *n);
    if (!n)
        return NULL;
    n->s = s;
    n->scanned = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &n->txn)) {
        free(n);
        return NULL;
    }
    return n;
}

int store_snap_get_refs(store_snap *n, const store_ref *refs, size_t nrefs, store_rec_cb cb, void *ctx)
{
    for (size_t i = 0; i < nrefs; i++) {
        uint8_t lk[40];
        memcpy(lk, refs[i].author.b, 32);
        put_be64(lk + 32, refs[i].seq);
        MDB_val k = { 40, lk }, v;
        /* log_cb without scanned(): the page accounting is the store's thread's */
        if (mdb_get(n->txn, n->s->log, &k, &v) == 0 && cb(ctx, v.mv_data, v.mv_size))
            break;
    }
    return 0;
}

void store_snap_end(store_snap *n)
{
    if (!n)
        return;
    mdb_txn_abort(n->txn);
    free(n);
}

void store_check_pages(store *s)
{
    scanned(s, SCAN_CHECK);
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

/* From the entry after `after` (a cursor: an entry's key, alen bytes; 0 =
 * from the start).  When fn stops the walk and entries remain, the stopping
 * entry's key is copied to next (STORE_CURSOR_MAX bytes) and *nextlen set;
 * otherwise *nextlen is 0. */
/* `in`: a snapshot's transaction to walk in (no page accounting: that is
 * the store's thread's), or NULL for one of its own. */
static int walk_current_in(store *s, MDB_txn *in, const char *kind, const uint8_t *after, size_t alen,
                           cur_fn fn, void *ctx, uint8_t *next, size_t *nextlen)
{
    MDB_txn *txn = in;
    MDB_cursor *c;
    uint8_t pfx[1 + PROTO_KIND_MAX];
    size_t pl = 0;
    if (nextlen)
        *nextlen = 0;
    if (kind) {
        if (!proto_kind_valid(kind))
            return 0;
        pl = strlen(kind) + 1;
        pfx[0] = (uint8_t)(pl - 1);
        memcpy(pfx + 1, kind, pl - 1);
    }
    if (alen > STORE_CURSOR_MAX)
        return 0;   /* no entry has so long a key: nothing after it */
    if (!in && mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->cur, &c)) {
        if (!in)
            mdb_txn_abort(txn);
        return -1;
    }
    MDB_val k = { pl, pfx }, v;
    int rc;
    if (alen && (pl == 0 || memcmp(after, pfx, pl < alen ? pl : alen) >= 0)) {
        /* the first entry after the cursor (skipping the cursor itself) */
        k.mv_size = alen;
        k.mv_data = (void *)after;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == alen && !memcmp(k.mv_data, after, alen))
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    } else {
        rc = pl ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    int stop = 0;
    while (!stop && rc == 0 && (pl == 0 || (k.mv_size >= pl && !memcmp(k.mv_data, pfx, pl)))) {
        const uint8_t *kb = k.mv_data, *vb = v.mv_data;
        size_t kl = kb[0];
        if (v.mv_size == 41 && k.mv_size >= 1 + kl + 32) {
            proto_id a;
            memcpy(a.b, kb + 1 + kl, 32);
            stop = fn(s, txn, &a, get_be64(vb), vb[40], ctx);
            if (stop && next && k.mv_size <= STORE_CURSOR_MAX) {
                memcpy(next, k.mv_data, k.mv_size);
                *nextlen = k.mv_size;
            }
        }
        if (!in)
            scanned(s, k.mv_size + v.mv_size + 16);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    /* stopped on the last entry: there is no next page */
    if (stop && nextlen && *nextlen && !(rc == 0 && (pl == 0 || (k.mv_size >= pl && !memcmp(k.mv_data, pfx, pl)))))
        *nextlen = 0;
    mdb_cursor_close(c);
    if (!in)
        mdb_txn_abort(txn);
    return 0;
}

static int walk_current_from(store *s, const char *kind, const uint8_t *after, size_t alen, cur_fn fn,
                             void *ctx, uint8_t *next, size_t *nextlen)
{
    return walk_current_in(s, NULL, kind, after, alen, fn, ctx, next, nextlen);
}

static int walk_current(store *s, const char *kind, cur_fn fn, void *ctx)
{
    return walk_current_from(s, kind, NULL, 0, fn, ctx, NULL, NULL);
}

typedef struct { store_rec_cb cb; store_ref_cb ref_cb; void *ctx; store_snap *snap; } cur_ctx;

static int cur_rec(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, uint32_t flags, void *ctx)
{
    cur_ctx *c = ctx;
    return log_cb_acct(s, txn, author, seq, c->cb, c->ctx, c->snap);
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

int store_foreach_current_page(store *s, const char *kind, const uint8_t *after, size_t alen,
                               store_rec_cb cb, void *ctx, uint8_t *next, size_t *nextlen)
{
    cur_ctx c = { .cb = cb, .ctx = ctx };
    return walk_current_from(s, kind, after, alen, cur_rec, &c, next, nextlen);
}

int store_foreach_current_ref(store *s, const char *kind, store_ref_cb cb, void *ctx)
{
    cur_ctx c = { .ref_cb = cb, .ctx = ctx };
    return kind ? walk_current(s, kind, cur_ref, &c) : 0;
}

int store_snap_foreach_current(store_snap *n, const char *kind, store_rec_cb cb, void *ctx)
{
    cur_ctx c = { .cb = cb, .ctx = ctx, .snap = n };
    return kind ? walk_current_in(n->s, n->txn, kind, NULL, 0, cur_rec, &c, NULL, NULL) : 0;
}

int store_snap_foreach_current_ref(store_snap *n, const char *kind, store_ref_cb cb, void *ctx)
{
    cur_ctx c = { .ref_cb = cb, .ctx = ctx, .snap = n };
    return kind ? walk_current_in(n->s, n->txn, kind, NULL, 0, cur_ref, &c, NULL, NULL) : 0;
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

int store_forks_at(store *s, const proto_id *author, uint64_t seq, store_rec_cb cb, void *ctx)
{
    MDB_txn *txn;
    MDB_cursor *c;
    uint8_t pre[40];
    memcpy(pre, author->b, 32);
    put_be64(pre + 32, seq);
    MDB_val k = { 40, pre }, v;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return -1;
    if (mdb_cursor_open(txn, s->forks, &c)) {
        mdb_txn_abort(txn);
        return -1;
    }
    /* keys are author | seq | hash: the versions of one (author, seq) are
     * adjacent, found with one seek */
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), stop = 0;
    while (!stop && rc == 0 && k.mv_size == 72 && !memcmp(k.mv_data, pre, 40)) {
        stop = cb(ctx, v.mv_data, v.mv_size);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return 0;
}

/* ---- version vector ---- */

uint64_t vv_get_txn(store *s, MDB_txn *txn, const proto_id *author)
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
