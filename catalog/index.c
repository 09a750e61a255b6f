/*
 * catalog/index.c — the search index and catalog_search; see index.h.
 *
 * The index holds what a filter needs and nothing else — normalised search
 * text (all of it in one arena), policy areas as a bit mask, dates and
 * 法人番号 as numbers, the product — plus (author, seq) to read a hit's
 * record back from the store, so the index of 100,000 certifications takes
 * a few tens of MB, not a copy of the catalog.  Certifications are sorted
 * by product key, so "every certification of a matched product" is a
 * contiguous range.  When the caller's generation says a certification or
 * adoption has changed since it was built (other kinds, such as member
 * records, leave it alone), the keys the caller noted are read again and
 * put in place (see "updating in place"): ~1 ms at 100,000 certifications.
 * Without notes, or after a fork, the index is rebuilt, reusing the entries
 * of versions still current (see "rebuilding from the previous index"):
 * ~0.15 s there, against ~1.2 s for a build from scratch.
 */
#include "catalog/index.h"
#include "catalog/schema.h"
#include "proto/util.h"
#include "store/kind.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25   /* Linux 6.1; older kernels refuse it, which is harmless */
#endif

/* A certification's 128-bit hashes of its product key and of its
 * "AUTHOR/KEY" reference (what an adoption cites).  Hashes, not the
 * strings, keep the index small; at 128 bits two different products or
 * references never collide in practice. */
typedef struct { uint64_t pk[2], ref[2]; } cextra;

typedef struct {
    size_t text;         /* offset in the arena of two NUL-terminated strings: certifications
                          * their normalised search text, then their normalised product name
                          * (the sort key); adoptions the cited "AUTHOR/KEY", then their
                          * normalised 原課 */
    uint64_t seq;
    uint64_t corp;       /* 法人番号, NO_CORP if absent */
    uint32_t author;     /* index into the index's author table */
    uint32_t prod;       /* product number (certifications: index of first of its range) */
    uint32_t areas;      /* bit i = catalog_areas[i] */
    int32_t cert_on, valid_until;   /* yyyymmdd, 0 if absent */
    uint16_t fy;         /* adoptions: 年度, 0 if absent; certifications: the day the
                          * recorded status applies from (day16), 0 if none */
    uint8_t route;       /* adoptions: 1 + index into 契約方法's values, 0 if absent */
    uint8_t is_public : 1;
    uint8_t status : 2;  /* recorded: CATALOG_STATUS_ACTIVE, _SUSPENDED or _REVOKED */
    uint32_t text2;      /* the second string is at text + text2 (the first's length + 1): the
                          * product sort compares it n log n times, so no strlen to find it */
    /* (a certification's bigram signature is in the index's columns, sig_cols) */
    union {
        cextra ce;       /* certifications */
        struct {         /* adoptions: 128-bit hashes of the cited "AUTHOR/KEY" and of the
                          * adoption's own (what a change of it is noted by) */
            uint64_t cites[2], self[2];
        } ad;
    } u;
} cidx;

/* A yyyymmdd date from 2000 to 2127 in 16 bits (0: none or out of range),
 * so a certification's status_date fits beside the other fields. */
static uint16_t day16(int ymd)
{
    int y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    return ymd && y >= 2000 && y < 2128 ? (uint16_t)((y - 2000) << 9 | m << 5 | d) : 0;
}

static int day16_ymd(uint16_t v)
{
    return v ? (2000 + (v >> 9)) * 10000 + (v >> 5 & 15) * 100 + (v & 31) : 0;
}

/* a search reads those of its hits: keep them small */
_Static_assert(sizeof(cidx) <= 88, "cidx grew");

/* A word search without a word index: every certification's normalised
 * text is scanned with strstr, ~25 MB at 100,000 certifications, which is
 * most of a search's time.  The signature is a 512-bit Bloom filter of the
 * text's code-point bigrams: a text that lacks any bit of a word's bigrams
 * cannot contain the word, so strstr runs only on the texts whose
 * signature has them all (a text of ~100 code points sets about a sixth of
 * the bits; a word of three characters, two bigrams, passes a text that
 * does not hold it about one time in forty).  A one-bigram word ("AI") is
 * filtered least: its one bit may be one that text every record shares
 * sets.  64 bytes per entry, where an inverted index would hold a posting
 * per bigram (issue 14 has the word index). */
#define SIG_WORDS 8

static unsigned sig_bit(uint32_t a, uint32_t b)
{
    uint32_t h = a * 0x9e3779b1u ^ (b + 0x7f4a7c15u) * 0x85ebca77u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    return (h >> 23) & 511;
}

/* The next code point of valid UTF-8 at *p (the index holds only text
 * catalog_norm wrote), advancing *p; 0 at the end. */
static uint32_t next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = *s;
    if (!c)
        return 0;
    int n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    c = n == 1 ? c : c & (0x3fu >> (n - 1));
    for (int i = 1; i < n && s[i]; i++)
        c = c << 6 | (s[i] & 0x3f);
    for (int i = 0; i < n && *s; i++)
        s++;
    *p = s;
    return c;
}

/* OR into sig the bigrams of s up to its end or, with stop_at_space, to
 * its first space (one query word). */
static void sig_add(uint64_t sig[SIG_WORDS], const char *s, int stop_at_space)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t prev = next_cp(&p), c;
    while (prev && !(stop_at_space && prev == ' ') && (c = next_cp(&p)) && !(stop_at_space && c == ' ')) {
        unsigned bit = sig_bit(prev, c);
        sig[bit >> 6] |= 1ull << (bit & 63);
        prev = c;
    }
}

/* The certifications' signatures by columns: w[k][i] is word k of
 * certification i's.  A query's bigrams set bits in one or two of the
 * eight words, so a search reads those columns (0.8 MB each at 100,000)
 * and never the other six; signatures kept in the entries were 64 bytes
 * of every entry through the cache at every word search.  The columns
 * move with the entries (build, sort, update in place), cap entries each. */
typedef struct {
    uint64_t *w[SIG_WORDS];
    size_t cap;
} sig_cols;

static int sig_grow(sig_cols *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t nc = s->cap ? s->cap : 1024;
    while (nc < need)
        nc *= 2;
    for (int k = 0; k < SIG_WORDS; k++) {
        uint64_t *v = realloc(s->w[k], nc * sizeof *v);
        if (!v)
            return -1;   /* those grown already are only larger than cap says */
        s->w[k] = v;
    }
    s->cap = nc;
    return 0;
}

static void sig_free(sig_cols *s)
{
    for (int k = 0; k < SIG_WORDS; k++)
        free(s->w[k]);
    memset(s, 0, sizeof *s);
}

static void sig_put(sig_cols *s, size_t i, const uint64_t v[SIG_WORDS])
{
    for (int k = 0; k < SIG_WORDS; k++)
        s->w[k][i] = v[k];
}

static void sig_get(const sig_cols *s, size_t i, uint64_t v[SIG_WORDS])
{
    for (int k = 0; k < SIG_WORDS; k++)
        v[k] = s->w[k][i];
}

#define NO_PROD UINT32_MAX
#define NO_CORP UINT64_MAX
#define CORP_MAX 9999999999999ull   /* 13 digits */

/* The entries of one build. */
typedef struct {
    cidx *c, *a;
    size_t nc, na, capc, capa;
    proto_id *authors;
    size_t nauthors, capauthors;
    char *arena;         /* normalised texts, NUL-terminated */
    size_t arena_used, arena_cap;
} idx_table;

#define TEXT_MAX 24000   /* searchable fields of one record, joined */

/* A change the caller noted (catalog_index_note): the current version of
 * one key, to be read again at the next update. */
typedef struct {
    proto_id author;
    size_t key;          /* offset in note_keys of the key, NUL-terminated */
    int cert;            /* a certification (else an adoption) */
} idx_note;

/* Notes held at most between two updates; past that the next update is a
 * rebuild, which costs the same whatever the number of changes (an
 * initial sync or a large import), where reading each noted key again
 * costs ~10 µs a key. */
#define NOTES_MAX 8192

/* The records the hits of searches were read back with
 * (catalog_index_get_refs), copied out of the store's map: reading a page
 * of 100 hits scattered over a 100,000-record file faults in ~180 of its
 * pages (and, by fault-around, ~11 MB around them), which the store then
 * releases after nearly every search (store_read.c, SCAN_RELEASE), so the
 * next search faults them in again.  Valid at one index generation (the
 * index is always used with the same store): a fork can put another record
 * at the same (author, seq), and it bumps the generation (daemon/node.c).
 * Full: emptied whole. */
typedef struct {
    proto_id author;
    uint64_t seq;
    uint32_t off, len;   /* in bytes; len 0: a free slot */
} hit_slot;
#define HIT_SLOTS (2 * CATALOG_HITCACHE_RECS)   /* a power of two: at most half full */
/* hc_find's probe wraps with a mask: another size would loop over a subset
 * of the slots, forever once those are taken */
_Static_assert((HIT_SLOTS & (HIT_SLOTS - 1)) == 0, "HIT_SLOTS is a power of two");
_Static_assert(CATALOG_HITCACHE_BYTES <= UINT32_MAX, "hit_slot's offsets fit");
typedef struct {
    hit_slot *slots;     /* HIT_SLOTS of them, or NULL until first used */
    uint8_t *bytes;      /* CATALOG_HITCACHE_BYTES */
    size_t used, n;
    uint64_t seed;       /* proto_id_hash's (authors are members, seqs theirs to choose) */
    uint64_t gen;        /* the index generation they were read at */
    uint64_t hits, misses;
} hit_cache;

struct catalog_index {
    idx_table t;
    sig_cols sig;        /* the certifications' signatures, in the same order as t.c */
    uint64_t gen;        /* the generation it was built at */
    int built;
    idx_note *notes;     /* changes since, while built and notes_all is 0 */
    size_t nnotes, capnotes;
    char *note_keys;
    size_t note_keys_used, note_keys_cap;
    int notes_all;       /* a change that was not noted key by key (or too many): rebuild */
    size_t arena_dead;   /* bytes of the arena no entry refers to any more */
    uint64_t builds, in_place;
    /* Hot columns, refreshed after every build or update: what every search
     * reads of every entry (product number, areas) in arrays of their own.
     * A cidx is 120 bytes, so the passes of a search over 100,000 entries
     * read ~12 MB through them where these are 0.8 MB. */
    uint32_t *cprod, *careas, *aprod;
    size_t capcprod, capcareas, capaprod;
    void (*trim)(void *ctx);
    void *trim_ctx;
    /* scratch of build_cb: one record's text, and its normalised form */
    char text[TEXT_MAX], norm[2 * TEXT_MAX];
    /* the areas of the policy in force the entries' area bits refer to
     * (bit i = areas[i]); a new policy rebuilds the index (areas_refresh) */
    int have_areas;
    proto_id area_policy;
    char area_names[STORE_POLICY_LIST_MAX][STORE_POLICY_ITEM_MAX + 1];
    const char *areas[STORE_POLICY_LIST_MAX + 1];
    char route_names[STORE_POLICY_LIST_MAX][STORE_POLICY_ITEM_MAX + 1];   /* 契約方法: the same */
    const char *routes[STORE_POLICY_LIST_MAX + 1];
    hit_cache hc;        /* records of hits read back (catalog_index_get_refs) */
    /* a build on another thread (catalog_index_build_begin): this index
     * keeps the notes of changes meanwhile, and the building one stops
     * at its next record when *cancel is set */
    int building;
    const atomic_int *cancel;
};

static void hash128(const char *s, uint64_t out[2])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), h);
    memcpy(out, h, 16);
}

static void table_free(idx_table *t)
{
    free(t->c);
    free(t->a);
    free(t->authors);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

static void columns_free(catalog_index *x)
{
    sig_free(&x->sig);
    free(x->cprod);
    free(x->careas);
    free(x->aprod);
    x->cprod = x->careas = x->aprod = NULL;
    x->capcprod = x->capcareas = x->capaprod = 0;
}

static void notes_clear(catalog_index *x)
{
    free(x->notes);
    free(x->note_keys);
    x->notes = NULL;
    x->note_keys = NULL;
    x->nnotes = x->capnotes = x->note_keys_used = x->note_keys_cap = 0;
    x->notes_all = 0;
}

/* Back to empty: the next update builds from scratch. */
static void idx_clear(catalog_index *x)
{
    table_free(&x->t);
    columns_free(x);
    notes_clear(x);
    x->arena_dead = 0;
    x->gen = 0;
    x->built = 0;
}

catalog_index *catalog_index_new(void)
{
    return calloc(1, sizeof(catalog_index));
}

void catalog_index_free(catalog_index *x)
{
    if (!x)
        return;
    idx_clear(x);
    free(x->hc.slots);
    free(x->hc.bytes);
    free(x);
}

void catalog_index_set_trim(catalog_index *x, void (*trim)(void *ctx), void *ctx)
{
    x->trim = trim;
    x->trim_ctx = ctx;
}

static void idx_trim(catalog_index *x)
{
    if (x->trim)
        x->trim(x->trim_ctx);
}

void catalog_index_stats_get(const catalog_index *x, catalog_index_stats *out)
{
    out->built = x->built;
    out->gen = x->gen;
    out->certifications = x->t.nc;
    out->adoptions = x->t.na;
    out->text_bytes = x->t.arena_used - x->arena_dead;
    out->builds = x->builds;
    out->updates_in_place = x->in_place;
    out->hit_records = x->hc.n;
    out->hit_bytes = x->hc.used;
    out->hit_reads = x->hc.hits;
    out->hit_misses = x->hc.misses;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *nv = realloc(*v, nc * size);
    if (!nv)
        return -1;
    *v = nv;
    *cap = nc;
    return 0;
}

static uint32_t author_slot(idx_table *t, const proto_id *a)
{
    /* members are few (an alliance, not the world): the last one usually repeats */
    for (size_t i = t->nauthors; i-- > 0;)
        if (!memcmp(&t->authors[i], a, 32))
            return (uint32_t)i;
    if (grow((void **)&t->authors, &t->capauthors, t->nauthors + 1, sizeof *t->authors))
        return UINT32_MAX;
    t->authors[t->nauthors] = *a;
    return (uint32_t)t->nauthors++;
}

typedef struct { char *buf; size_t used, cap; } textbuf;

static int text_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    static const char *const fields[] = { "company", "product", "summary", "tags", "address", "contact" };
    textbuf *b = ctx;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i]) == fl && !memcmp(fields[i], f, fl) && b->used + tl + 2 < b->cap) {
            memcpy(b->buf + b->used, t, tl);
            b->buf[b->used + tl] = ' ';
            b->used += tl + 1;
            b->buf[b->used] = 0;
        }
    return 0;
}

static void ref_hash(const proto_id *author, const char *key, uint64_t out[2])
{
    char ids[PROTO_ID_STR], ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
    proto_id_str(author, ids);
    snprintf(ref, sizeof ref, "%s/%s", ids, key);
    hash128(ref, out);
}

/* Where a build reads: the store, on its own thread (with its page
 * accounting), or a read snapshot, on another. */
typedef struct {
    store *st;
    store_snap *snap;
} idx_src;

static void src_foreach(const idx_src *s, const char *kind, store_rec_cb cb, void *ctx)
{
    if (s->snap)
        store_snap_foreach_current(s->snap, kind, cb, ctx);
    else
        store_foreach_current(s->st, kind, cb, ctx);
}

static void src_foreach_ref(const idx_src *s, const char *kind, store_ref_cb cb, void *ctx)
{
    if (s->snap)
        store_snap_foreach_current_ref(s->snap, kind, cb, ctx);
    else
        store_foreach_current_ref(s->st, kind, cb, ctx);
}

static void src_get_refs(const idx_src *s, const store_ref *refs, size_t n, store_rec_cb cb, void *ctx)
{
    if (s->snap)
        store_snap_get_refs(s->snap, refs, n, cb, ctx);
    else
        store_get_refs(s->st, refs, n, cb, ctx);
}

/* A build on another thread asked to stop (catalog_index_build_cancel). */
static int cancelled(const catalog_index *x)
{
    return x->cancel && atomic_load_explicit(x->cancel, memory_order_relaxed);
}

typedef struct { catalog_index *x; int cert, failed; } build_ctx;

/* One current record into the index; returns non-zero to stop (out of memory). */
static int build_cb(void *ctx, const uint8_t *rec, size_t len)
{
    build_ctx *b = ctx;
    catalog_index *x = b->x;
    idx_table *t = &x->t;
    proto_record r;
    if (cancelled(x)) {
        b->failed = 1;
        return 1;
    }
    if (proto_record_decode_stored(rec, len, &r, NULL, 0) || (r.flags & PROTO_FLAG_TOMBSTONE))
        return 0;
    cidx e;
    memset(&e, 0, sizeof e);
    e.seq = r.seq;
    e.author = author_slot(t, &r.author);
    char vis[16] = "";
    proto_body_copy_str(&r, "visibility", vis, sizeof vis);
    e.is_public = !strcmp(vis, "public");
    e.prod = NO_PROD;
    if (e.author == UINT32_MAX)
        goto oom;
    if (!b->cert) {
        /* the cited certification is resolved after the certifications are
         * sorted (by the hash of the reference; the text is kept for the
         * search's output) */
        char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        const char *dept;
        size_t dl;
        int64_t fy = 0;
        if (proto_body_copy_str(&r, "certification", ref, sizeof ref))
            ref[0] = 0;
        x->norm[0] = 0;
        if (proto_body_get_str(&r, "department", &dept, &dl) == 0 &&
            catalog_norm(dept, dl, x->norm, sizeof x->norm))
            x->norm[0] = 0;
        if (proto_body_get_int(&r, "fiscal_year", &fy) == 0 && fy > 0 && fy <= UINT16_MAX)
            e.fy = (uint16_t)fy;
        char route[64];
        if (proto_body_copy_str(&r, "route", route, sizeof route) == 0) {
            const char *const *routes = x->have_areas ? x->routes : catalog_routes;
            for (size_t i = 0; routes[i] && i < 254; i++)
                if (!strcmp(routes[i], route))
                    e.route = (uint8_t)(i + 1);
        }
        hash128(ref, e.u.ad.cites);
        ref_hash(&r.author, r.key, e.u.ad.self);
        size_t rl = strlen(ref) + 1, nl = strlen(x->norm) + 1;
        if (grow((void **)&t->arena, &t->arena_cap, t->arena_used + rl + nl, 1) ||
            grow((void **)&t->a, &t->capa, t->na + 1, sizeof *t->a))
            goto oom;
        e.text = t->arena_used;
        e.text2 = (uint32_t)rl;
        memcpy(t->arena + t->arena_used, ref, rl);
        memcpy(t->arena + t->arena_used + rl, x->norm, nl);
        t->arena_used += rl + nl;
        t->a[t->na++] = e;
        return 0;
    }
    char *text = x->text, *norm = x->norm;
    textbuf tb = { text, 0, sizeof x->text };
    text[0] = 0;
    proto_body_foreach(&r, text_cb, &tb);
    if (catalog_norm(text, tb.used, norm, sizeof x->norm))
        norm[0] = 0;
    size_t nl = strlen(norm) + 1;
    char pk[4096];
    if (catalog_product_key(&r, pk, sizeof pk))
        snprintf(pk, sizeof pk, "-|%s", r.key);
    const char *pname = strchr(pk, '|') + 1;   /* the normalised product name */
    size_t pl = strlen(pname) + 1;
    if (grow((void **)&t->arena, &t->arena_cap, t->arena_used + nl + pl, 1) ||
        grow((void **)&t->c, &t->capc, t->nc + 1, sizeof *t->c) ||
        sig_grow(&x->sig, t->nc + 1))
        goto oom;
    e.text = t->arena_used;
    e.text2 = (uint32_t)nl;
    memcpy(t->arena + t->arena_used, norm, nl);
    memcpy(t->arena + t->arena_used + nl, pname, pl);
    t->arena_used += nl + pl;
    uint64_t sig[SIG_WORDS] = { 0 };
    sig_add(sig, norm, 0);
    sig_put(&x->sig, t->nc, sig);
    e.areas = catalog_record_areas_in(&r, x->have_areas ? x->areas : catalog_areas);
    e.cert_on = catalog_date_num(&r, "certified_on");
    e.valid_until = catalog_date_num(&r, "valid_until");
    /* the product key starts with the normalised 13-digit 法人番号 (or "-"):
     * the same number whatever width or hyphens the record was written with */
    e.corp = NO_CORP;
    if (strspn(pk, "0123456789") == 13 && pk[13] == '|')
        e.corp = strtoull(pk, NULL, 10);
    e.status = (uint8_t)catalog_status_recorded(&r);
    e.fy = day16(catalog_date_num(&r, "status_date"));
    hash128(pk, e.u.ce.pk);
    ref_hash(&r.author, r.key, e.u.ce.ref);
    t->c[t->nc++] = e;
    return 0;
oom:
    b->failed = 1;
    return 1;
}

/* The second string of an entry's text (see cidx). */
static const char *second(const idx_table *t, const cidx *e)
{
    return t->arena + e->text + e->text2;
}

static int cmp_u128(const uint64_t *a, const uint64_t *b)
{
    if (a[0] != b[0])
        return a[0] < b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

static int cmp_author_seq(const idx_table *t, const cidx *a, const cidx *b)
{
    if (a->author != b->author) {
        int c = memcmp(&t->authors[a->author], &t->authors[b->author], sizeof(proto_id));
        if (c)
            return c;
    }
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* The index's order of certifications, the same on every node for the same
 * records: normalised product name, 法人番号 (none last), the product key's
 * hash (products that differ only there stay apart), 認定日, author, seq. */
static int cmp_cert(const idx_table *t, const cidx *ci, const cidx *cj)
{
    const cextra *ei = &ci->u.ce, *ej = &cj->u.ce;
    int c = strcmp(second(t, ci), second(t, cj));
    if (c)
        return c;
    if (ci->corp != cj->corp)
        return ci->corp < cj->corp ? -1 : 1;
    if ((c = cmp_u128(ei->pk, ej->pk)) != 0)
        return c;
    if (ci->cert_on != cj->cert_on)
        return ci->cert_on < cj->cert_on ? -1 : 1;
    return cmp_author_seq(t, ci, cj);
}

/* cmp_cert of two positions in the index's certifications (qsort_r of an order). */
static int cmp_prod(const void *a, const void *b, void *ctx)
{
    const catalog_index *x = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return cmp_cert(&x->t, &x->t.c[i], &x->t.c[j]);
}

/* Two certifications in positions i - 1 and i are of one product. */
static int same_product(const catalog_index *x, size_t i)
{
    return x->t.c[i].corp == x->t.c[i - 1].corp && !cmp_u128(x->t.c[i].u.ce.pk, x->t.c[i - 1].u.ce.pk);
}

/* Adoptions: by the product they cite (in the certifications' order, none
 * last), 年度, author, seq. */
static int cmp_adoption(const void *a, const void *b, void *ctx)
{
    const idx_table *t = ctx;
    const cidx *ai = a, *aj = b;
    if (ai->prod != aj->prod)
        return ai->prod < aj->prod ? -1 : 1;
    if (ai->fy != aj->fy)
        return ai->fy < aj->fy ? -1 : 1;
    return cmp_author_seq(t, ai, aj);
}

/* Certifications by the hash of their reference: 1 + index into `e`,
 * open addressing on the hash's first word. */
typedef struct {
    const cidx *e;
    uint32_t *slots;
    size_t mask;
} refmap;

static int refmap_init(refmap *m, const cidx *e, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->e = e;
    m->mask = cap - 1;
    if (n >= UINT32_MAX || !(m->slots = calloc(cap, sizeof *m->slots)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)e[i].u.ce.ref[0] & m->mask;
        while (m->slots[h])
            h = (h + 1) & m->mask;
        m->slots[h] = (uint32_t)(i + 1);
    }
    return 0;
}

static long refmap_find(const refmap *m, const uint64_t h[2])
{
    for (size_t i = (size_t)h[0] & m->mask; m->slots[i]; i = (i + 1) & m->mask)
        if (!cmp_u128(m->e[m->slots[i] - 1].u.ce.ref, h))
            return (long)m->slots[i] - 1;
    return -1;
}

/* ---- rebuilding from the previous index ----
 *
 * Everything an entry holds is derived from one record version, which never
 * changes: a rebuild copies the entries whose (author, seq) is still current
 * and decodes and normalises only the versions that are new.  The arena is
 * taken over as it is (new texts are appended; it is compacted when most of
 * it is no longer referenced). */

typedef struct {
    catalog_index *x;    /* being filled */
    const idx_table *old;
    const sig_cols *old_sig;
    uint32_t *slots;     /* open addressing: 1 + index (adoptions: | 1 << 31), 0 empty */
    size_t mask;
    store_ref *missing;
    size_t nmissing, capmissing;
    int cert, failed;
} reuse_ctx;

static size_t ref_hash_slot(const proto_id *a, uint64_t seq, size_t mask)
{
    uint64_t h;
    memcpy(&h, a->b, 8);
    h ^= seq * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    return (size_t)(h * 0xBF58476D1CE4E5B9ull >> 17) & mask;
}

static int reuse_cb(void *ctx, const proto_id *author, uint64_t seq, uint32_t flags)
{
    reuse_ctx *r = ctx;
    catalog_index *x = r->x;
    idx_table *t = &x->t;
    const idx_table *o = r->old;
    if (cancelled(x))
        goto oom;   /* (stops the walk as a failure does) */
    if (flags & PROTO_FLAG_TOMBSTONE)
        return 0;
    for (size_t h = ref_hash_slot(author, seq, r->mask); r->slots[h]; h = (h + 1) & r->mask) {
        uint32_t v = r->slots[h] - 1;
        int adoption = (v >> 31) & 1;
        const cidx *e = adoption ? &o->a[v & 0x7fffffffu] : &o->c[v];
        if (adoption == !r->cert && e->seq == seq && !memcmp(&o->authors[e->author], author, 32)) {
            cidx n = *e;
            n.author = author_slot(t, author);
            if (n.author == UINT32_MAX)
                goto oom;
            if (r->cert) {
                if (grow((void **)&t->c, &t->capc, t->nc + 1, sizeof *t->c) || sig_grow(&x->sig, t->nc + 1))
                    goto oom;
                uint64_t sig[SIG_WORDS];
                sig_get(r->old_sig, v, sig);
                sig_put(&x->sig, t->nc, sig);
                t->c[t->nc++] = n;
            } else {
                if (grow((void **)&t->a, &t->capa, t->na + 1, sizeof *t->a))
                    goto oom;
                t->a[t->na++] = n;
            }
            return 0;
        }
    }
    if (grow((void **)&r->missing, &r->capmissing, r->nmissing + 1, sizeof *r->missing))
        goto oom;
    r->missing[r->nmissing].author = *author;
    r->missing[r->nmissing++].seq = seq;
    return 0;
oom:
    r->failed = 1;
    return 1;
}

/* Certifications then adoptions, as one sequence. */
static cidx *entry_at(const idx_table *t, size_t i)
{
    return i < t->nc ? &t->c[i] : &t->a[i - t->nc];
}

/* Bytes of an entry's two strings in the arena. */
static size_t text_size(const idx_table *t, const cidx *e)
{
    const char *b = second(t, e);
    return (size_t)(b - (t->arena + e->text)) + strlen(b) + 1;
}

/* Compact the arena once most of it is text of versions gone.  Out of
 * memory, the arena stays as it is (the index is whole either way; the
 * next update tries again). */
static void arena_compact(catalog_index *x)
{
    idx_table *t = &x->t;
    size_t live = t->arena_used - x->arena_dead;
    if (t->arena_used <= 2 * live + (1u << 20))
        return;
    char *na = malloc(live ? live : 1);
    if (!na)
        return;
    size_t o = 0;
    for (size_t i = 0; i < t->nc + t->na; i++) {
        cidx *e = entry_at(t, i);
        size_t l = text_size(t, e);
        memcpy(na + o, t->arena + e->text, l);
        e->text = o;
        o += l;
    }
    free(t->arena);
    t->arena = na;
    t->arena_used = t->arena_cap = o;
    x->arena_dead = 0;
}

/* Back the arena with huge pages where the kernel allows (the 2 MB pages
 * wholly inside it).  A word search reads the texts of its candidates,
 * ~8,000 at 100,000 certifications, scattered over ~40 MB: with 4 KB pages
 * nearly every one missed the TLB as well as the cache (the page walk, in
 * a virtual machine two-dimensional, was most of the search).  The texts
 * stay where they are and the memory used is the same; a kernel that
 * refuses (no THP, or a version before MADV_COLLAPSE) leaves the pages as
 * they were.  Not MADV_HUGEPAGE: it marks the range, which splits the
 * arena's mapping in three, and glibc's realloc can then no longer grow it
 * by mremap: the next text appended (an update in place) copied the whole
 * arena, ~30 MB more at the peak (make bench's peak_rss_founder 72 -> 98 MB). */
static void arena_huge(const idx_table *t)
{
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)t->arena + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)t->arena + t->arena_used) & ~(huge - 1);
    if (!t->arena || hi <= lo)
        return;
    madvise((void *)lo, hi - lo, MADV_COLLAPSE);
}

/* Fill x (empty) from `old` plus the new versions; 0, or -1 (then x is to
 * be cleared and built from scratch). */
static int idx_collect_reuse(catalog_index *x, const idx_src *src, idx_table *old, const sig_cols *old_sig)
{
    idx_table *t = &x->t;
    reuse_ctx r = { .x = x, .old = old, .old_sig = old_sig };
    int rc = -1;
    size_t n = old->nc + old->na, cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    r.slots = calloc(cap, sizeof *r.slots);
    r.mask = cap - 1;
    if (!r.slots || n >= (1u << 31))
        goto out;
    for (size_t i = 0; i < n; i++) {
        const cidx *e = entry_at(old, i);
        size_t h = ref_hash_slot(&old->authors[e->author], e->seq, r.mask);
        while (r.slots[h])
            h = (h + 1) & r.mask;
        r.slots[h] = 1 + (i < old->nc ? (uint32_t)i : ((uint32_t)(i - old->nc) | 1u << 31));
    }
    /* the texts stay where they are */
    t->arena = old->arena;
    t->arena_used = old->arena_used;
    t->arena_cap = old->arena_cap;
    old->arena = NULL;
    build_ctx b = { x, 1, 0 };
    for (int pass = 0; pass < 2 && !r.failed && !b.failed; pass++) {
        r.cert = b.cert = pass == 0;
        r.nmissing = 0;
        src_foreach_ref(src, kind_get(r.cert ? KIND_CERTIFICATION : KIND_ADOPTION)->name, reuse_cb, &r);
        if (!r.failed)
            src_get_refs(src, r.missing, r.nmissing, build_cb, &b);
    }
    if (r.failed || b.failed)
        goto out;
    size_t live = 0;
    for (size_t i = 0; i < t->nc + t->na; i++)
        live += text_size(t, entry_at(t, i));
    x->arena_dead = t->arena_used - live;
    arena_compact(x);
    rc = 0;
out:
    free(r.slots);
    free(r.missing);
    return rc;
}

static int idx_finish(catalog_index *x);

static int idx_build(catalog_index *x, const idx_src *src)
{
    build_ctx b = { x, 1, 0 };
    idx_trim(x);   /* start from a trimmed heap */
    src_foreach(src, kind_get(KIND_CERTIFICATION)->name, build_cb, &b);
    if (!b.failed) {
        b.cert = 0;
        src_foreach(src, kind_get(KIND_ADOPTION)->name, build_cb, &b);
    }
    if (!src->snap)
        store_release_pages(src->st);   /* (a snapshot's pages are its caller's: store_check_pages) */
    return b.failed ? -1 : idx_finish(x);
}

/* Sort the certifications by product, number the products, point every
 * adoption at its certification's product. */
static int idx_finish(catalog_index *x)
{
    idx_table *t = &x->t;
    size_t nc = t->nc;
    size_t *order = malloc((nc ? nc : 1) * sizeof *order);
    if (!order)
        return -1;
    /* order certifications by product; number the products */
    for (size_t i = 0; i < nc; i++)
        order[i] = i;
    qsort_r(order, nc, sizeof *order, cmp_prod, x);
    /* the signature columns first, one at a time, before the entries'
     * copy is made: the build's peak is then no higher than with the
     * signatures inside the entries */
    for (int k = 0; k < SIG_WORDS && nc; k++) {
        uint64_t *col = malloc(nc * sizeof *col);
        if (!col) {
            free(order);
            return -1;
        }
        for (size_t i = 0; i < nc; i++)
            col[i] = x->sig.w[k][order[i]];
        free(x->sig.w[k]);
        x->sig.w[k] = col;
    }
    if (nc)
        x->sig.cap = nc;   /* every column has nc now (or more, out of memory: cleared) */
    cidx *sorted = malloc((nc ? nc : 1) * sizeof *sorted);
    if (!sorted) {
        free(order);
        return -1;
    }
    for (size_t i = 0; i < nc; i++)
        sorted[i] = t->c[order[i]];
    free(t->c);
    t->c = sorted;
    t->capc = nc;
    for (size_t i = 0; i < nc; i++)
        t->c[i].prod = i && same_product(x, i) ? t->c[i - 1].prod : (uint32_t)i;
    free(order);
    /* adoptions: the product of the certification each cites */
    refmap m;
    if (refmap_init(&m, t->c, nc))
        return -1;
    for (size_t j = 0; j < t->na; j++) {
        long ci = refmap_find(&m, t->a[j].u.ad.cites);
        t->a[j].prod = ci < 0 ? NO_PROD : t->c[ci].prod;
    }
    free(m.slots);
    if (t->na > 1)
        qsort_r(t->a, t->na, sizeof *t->a, cmp_adoption, t);
    /* the arena stays as large as it had to be: give back the slack */
    char *ar = realloc(t->arena, t->arena_used ? t->arena_used : 1);
    if (ar) {
        t->arena = ar;
        t->arena_cap = t->arena_used ? t->arena_used : 1;
    }
    arena_huge(t);
    return 0;
}

/* ---- updating in place from the caller's notes ----
 *
 * A rebuild walks every current key and sorts everything again (~0.15 s at
 * 100,000 certifications).  When the caller has noted each key that
 * changed, only those are read again.  The new versions' entries are
 * sorted among themselves and each finds by binary search the place it
 * goes in the certifications' order; the old versions' entries are
 * dropped; the entries between two such changes move as one block
 * (memmove), so an update that keeps a certification's product moves a
 * handful of entries, and one that adds a product moves the tail once.
 * Comparing every entry on the way (a plain merge) cost 3-14 ms: the
 * product names it compares are spread over the arena.  Products are
 * numbered again from the first change on.  Adoptions keep their order
 * too: product numbers are positions, but products never change places
 * relative to each other (their order is by product key, not by which
 * certifications they hold), so an adoption whose cited certification is
 * untouched keeps its place with its product's new number (old number ->
 * new, noted while numbering); only new adoptions and those citing a
 * noted certification are sorted and placed.  The work is the noted keys'
 * reads, k log n for k changes, and the memmoves: 0.3-1.2 ms at 100,000
 * certifications (make bench). */

/* A set of 128-bit hashes, open addressing on the first word; an all-zero
 * slot is empty (SHA-256 gives 128 zero bits never in practice). */
typedef struct {
    uint64_t (*h)[2];
    size_t mask;
} hset;

static int hset_init(hset *s, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    s->h = calloc(cap, sizeof *s->h);
    s->mask = cap - 1;
    return s->h ? 0 : -1;
}

/* 1 if h was added, 0 if it was there. */
static int hset_add(hset *s, const uint64_t h[2])
{
    size_t i = (size_t)h[0] & s->mask;
    for (; s->h[i][0] || s->h[i][1]; i = (i + 1) & s->mask)
        if (!cmp_u128(s->h[i], h))
            return 0;
    s->h[i][0] = h[0];
    s->h[i][1] = h[1];
    return 1;
}

static int hset_has(const hset *s, const uint64_t h[2])
{
    for (size_t i = (size_t)h[0] & s->mask; s->h[i][0] || s->h[i][1]; i = (i + 1) & s->mask)
        if (!cmp_u128(s->h[i], h))
            return 1;
    return 0;
}

/* Survivors between two changes move as one run (memmove) by the number of
 * insertions less deletions before them.  Destinations keep the order of
 * sources, so the runs moving left can go first, in order, and those moving
 * right then, from the last: no run overwrites one not yet moved.  The
 * slots left free are the inserted entries'. */
typedef struct { size_t from, to, n; } idx_run;

static void runs_apply(void *base, size_t size, const idx_run *runs, size_t nruns)
{
    char *b = base;
    for (size_t r = 0; r < nruns; r++)
        if (runs[r].to < runs[r].from)
            memmove(b + runs[r].to * size, b + runs[r].from * size, runs[r].n * size);
    for (size_t r = nruns; r-- > 0;)
        if (runs[r].to > runs[r].from)
            memmove(b + runs[r].to * size, b + runs[r].from * size, runs[r].n * size);
}

/* Apply the notes; 0, or -1 (out of memory or the store unreadable: the
 * index is then half updated, to be cleared). */
static int idx_apply_notes(catalog_index *x, store *st)
{
    idx_table *t = &x->t;
    size_t nc0 = t->nc, na0 = t->na;
    int rc = -1;
    hset cn = { 0 }, an = { 0 };
    uint8_t *mark_a = NULL;
    size_t *order = NULL, *dead = NULL, *ins = NULL, *dest = NULL;
    idx_run *runs = NULL;
    cidx *tmp = NULL;
    cidx *tmpe = NULL;   /* the new certifications, as tmp holds them before it takes adoptions */
    uint64_t (*tmps)[SIG_WORDS] = NULL;
    uint32_t *pmap = NULL;
    refmap newmap = { 0 }, allmap = { 0 };
    if (hset_init(&cn, x->nnotes) || hset_init(&an, x->nnotes))
        goto out;
    /* the current version of every key noted (once each), appended */
    build_ctx b = { x, 1, 0 };
    for (size_t i = 0; i < x->nnotes; i++) {
        const idx_note *n = &x->notes[i];
        uint64_t h[2];
        ref_hash(&n->author, x->note_keys + n->key, h);
        if (!hset_add(n->cert ? &cn : &an, h))
            continue;
        b.cert = n->cert;
        int got = store_get_current(st, &n->author, kind_get(n->cert ? KIND_CERTIFICATION : KIND_ADOPTION)->name,
                                    x->note_keys + n->key, build_cb, &b);
        if (got < 0 || b.failed)
            goto out;
    }
    size_t kc = t->nc - nc0, ka = t->na - na0;

    /* certifications: the replaced versions' positions, in order */
    size_t ndead = 0;
    dead = malloc((x->nnotes ? x->nnotes : 1) * sizeof *dead);
    if (!dead)
        goto out;
    for (size_t i = 0; i < nc0 && ndead < x->nnotes; i++)
        if (hset_has(&cn, t->c[i].u.ce.ref)) {
            dead[ndead++] = i;
            x->arena_dead += text_size(t, &t->c[i]);
        }
    /* the new ones sorted, each with the position it goes before among the
     * old (a binary search: the old are in order, dropped ones included) */
    order = malloc((kc ? kc : 1) * sizeof *order);
    ins = malloc((kc ? kc : 1) * sizeof *ins);
    dest = malloc((kc ? kc : 1) * sizeof *dest);
    tmp = malloc((kc > ka ? kc : ka ? ka : 1) * sizeof *tmp);
    tmpe = malloc((kc ? kc : 1) * sizeof *tmpe);
    tmps = malloc((kc ? kc : 1) * sizeof *tmps);
    runs = malloc((ndead + kc + 1) * sizeof *runs);
    if (!order || !ins || !dest || !tmp || !tmpe || !tmps || !runs)
        goto out;
    for (size_t i = 0; i < kc; i++)
        order[i] = nc0 + i;
    qsort_r(order, kc, sizeof *order, cmp_prod, x);
    for (size_t j = 0; j < kc; j++) {
        tmp[j] = t->c[order[j]];
        tmpe[j] = t->c[order[j]];
        sig_get(&x->sig, order[j], tmps[j]);
        size_t lo = j ? ins[j - 1] : 0, hi = nc0;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cmp_cert(t, &t->c[mid], &tmp[j]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        ins[j] = lo;
    }
    /* the runs of survivors and where the new entries land */
    size_t nruns = 0, a = 0, d = 0, jd = 0, jn = 0;
    for (;;) {
        if (jn < kc && ins[jn] <= a) {
            dest[jn++] = d++;
            continue;
        }
        size_t stop = nc0;
        if (jd < ndead && dead[jd] < stop)
            stop = dead[jd];
        if (jn < kc && ins[jn] < stop)
            stop = ins[jn];
        if (stop > a) {
            runs[nruns++] = (idx_run){ a, d, stop - a };
            d += stop - a;
            a = stop;
        } else if (jd < ndead && dead[jd] == a) {
            jd++;
            a++;
        } else {
            break;
        }
    }
    /* everything before the first change stays where it is */
    size_t first = nruns && runs[0].from == 0 && runs[0].to == 0 ? runs[0].n : 0;
    runs_apply(t->c, sizeof *t->c, runs, nruns);
    for (int k = 0; k < SIG_WORDS; k++)
        runs_apply(x->sig.w[k], sizeof *x->sig.w[k], runs, nruns);
    for (size_t j = 0; j < kc; j++) {
        t->c[dest[j]] = tmp[j];
        sig_put(&x->sig, dest[j], tmps[j]);
    }
    t->nc = d;
    /* number the products again from there (a product number is the
     * position of its first certification), noting old number -> new for
     * the adoptions */
    pmap = malloc((nc0 ? nc0 : 1) * sizeof *pmap);
    if (!pmap)
        goto out;
    for (size_t q = first; q < t->nc; q++) {
        uint32_t old = t->c[q].prod;
        t->c[q].prod = q && same_product(x, q) ? t->c[q - 1].prod : (uint32_t)q;
        if (old != NO_PROD && old < nc0)
            pmap[old] = t->c[q].prod;
    }

    /* adoptions: dropped (1: replaced), placed again (2: citing a noted
     * certification, or new), or kept in place with their product's new
     * number: products keep their order, so those stay sorted */
    mark_a = calloc(na0 ? na0 : 1, 1);
    if (!mark_a)
        goto out;
    size_t moved = 0;
    for (size_t j = 0; j < na0; j++) {
        if (hset_has(&an, t->a[j].u.ad.self)) {
            mark_a[j] = 1;
            x->arena_dead += text_size(t, &t->a[j]);
        } else if (hset_has(&cn, t->a[j].u.ad.cites)) {
            mark_a[j] = 2;
            moved++;
        }
    }
    if (moved) {   /* tmp holds max(kc, ka): room for the adoptions placed again too */
        cidx *nt = realloc(tmp, (moved + ka) * sizeof *tmp);
        if (!nt)
            goto out;
        tmp = nt;
    }
    /* the certifications adoptions placed again cite: the new ones by
     * reference, and (for adoptions new here) all of them */
    if ((moved || ka) && refmap_init(&newmap, tmpe, kc))
        goto out;
    if (ka && refmap_init(&allmap, t->c, t->nc))
        goto out;
    size_t nw = 0, w = 0;
    for (size_t j = 0; j < t->na; j++) {
        cidx *e = &t->a[j];
        int m = j < na0 ? mark_a[j] : 2;
        if (m == 1)
            continue;
        if (m == 0) {
            if (e->prod != NO_PROD && e->prod >= first)
                e->prod = pmap[e->prod];
            t->a[w++] = *e;
            continue;
        }
        long ci;
        if (hset_has(&cn, e->u.ad.cites)) {
            ci = refmap_find(&newmap, e->u.ad.cites);   /* the noted one: new, or gone */
            ci = ci < 0 ? -1 : (long)dest[ci];
        } else {
            ci = refmap_find(&allmap, e->u.ad.cites);
        }
        e->prod = ci < 0 ? NO_PROD : t->c[ci].prod;
        tmp[nw++] = *e;
    }
    if (nw > 1)
        qsort_r(tmp, nw, sizeof *tmp, cmp_adoption, t);
    /* merge from the end: each placed one moves the block after it once */
    for (size_t j = nw, i = w; j-- > 0;) {
        size_t lo = 0, hi = i;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cmp_adoption(&t->a[mid], &tmp[j], t) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(&t->a[lo + j + 1], &t->a[lo], (i - lo) * sizeof *t->a);
        t->a[lo + j] = tmp[j];
        i = lo;
    }
    t->na = w + nw;
    arena_compact(x);
    rc = 0;
out:
    free(cn.h);
    free(an.h);
    free(mark_a);
    free(order);
    free(dead);
    free(ins);
    free(dest);
    free(runs);
    free(tmp);
    free(tmpe);
    free(tmps);
    free(pmap);
    free(newmap.slots);
    free(allmap.slots);
    return rc;
}

void catalog_index_note(catalog_index *x, const char *kind, const proto_id *author, const char *key)
{
    int cert = !strcmp(kind, kind_get(KIND_CERTIFICATION)->name);
    if (!cert && strcmp(kind, kind_get(KIND_ADOPTION)->name))
        return;
    if ((!x->built && !x->building) || x->notes_all)
        return;   /* the next update reads everything anyway */
    size_t kl = strlen(key) + 1;
    if (x->nnotes >= NOTES_MAX || kl > PROTO_KEY_MAX + 1 ||
        grow((void **)&x->notes, &x->capnotes, x->nnotes + 1, sizeof *x->notes) ||
        grow((void **)&x->note_keys, &x->note_keys_cap, x->note_keys_used + kl, 1)) {
        catalog_index_note_all(x);
        return;
    }
    idx_note *n = &x->notes[x->nnotes++];
    n->author = *author;
    n->key = x->note_keys_used;
    n->cert = cert;
    memcpy(x->note_keys + x->note_keys_used, key, kl);
    x->note_keys_used += kl;
}

/* The areas of the policy in force (the genesis list without an
 * alliance); when they are another policy's than the entries were built
 * with, the index is cleared, to be built again. */
static void areas_refresh(catalog_index *x, store *st)
{
    store_policy *p = malloc(sizeof *p);
    if (!p)
        return;
    if (store_policy_in_force(st, p)) {
        memset(p, 0, sizeof *p);
        for (; catalog_areas[p->nareas] && p->nareas < STORE_POLICY_LIST_MAX; p->nareas++)
            snprintf(p->areas[p->nareas], sizeof p->areas[0], "%s", catalog_areas[p->nareas]);
        for (; catalog_routes[p->nroutes] && p->nroutes < STORE_POLICY_LIST_MAX; p->nroutes++)
            snprintf(p->routes[p->nroutes], sizeof p->routes[0], "%s", catalog_routes[p->nroutes]);
    }
    if (!x->have_areas || memcmp(&x->area_policy, &p->id, sizeof p->id)) {
        if (x->have_areas)
            idx_clear(x);
        x->have_areas = 1;
        x->area_policy = p->id;
        for (uint32_t i = 0; i < p->nareas; i++) {
            memcpy(x->area_names[i], p->areas[i], sizeof x->area_names[i]);
            x->areas[i] = x->area_names[i];
        }
        x->areas[p->nareas] = NULL;
        for (uint32_t i = 0; i < p->nroutes; i++) {
            memcpy(x->route_names[i], p->routes[i], sizeof x->route_names[i]);
            x->routes[i] = x->route_names[i];
        }
        x->routes[p->nroutes] = NULL;
    }
    free(p);
}

const char *const *catalog_index_areas(catalog_index *x, store *st)
{
    areas_refresh(x, st);
    return x->have_areas ? x->areas : catalog_areas;
}

void catalog_index_note_all(catalog_index *x)
{
    notes_clear(x);
    x->notes_all = 1;
}

/* Copy the hot columns out of the entries (after every change: ~0.2 ms at
 * 100,000 certifications, against a search's passes over them). */
static int hot_refresh(catalog_index *x)
{
    const idx_table *t = &x->t;
    if (grow((void **)&x->cprod, &x->capcprod, t->nc, sizeof *x->cprod) ||
        grow((void **)&x->careas, &x->capcareas, t->nc, sizeof *x->careas) ||
        grow((void **)&x->aprod, &x->capaprod, t->na, sizeof *x->aprod))
        return -1;
    for (size_t i = 0; i < t->nc; i++) {
        x->cprod[i] = t->c[i].prod;
        x->careas[i] = t->c[i].areas;
    }
    for (size_t j = 0; j < t->na; j++)
        x->aprod[j] = t->a[j].prod;
    return 0;
}

int catalog_index_update(catalog_index *x, store *st, uint64_t gen)
{
    areas_refresh(x, st);
    if (x->built && x->gen == gen)
        return 0;
    if (x->built && !x->notes_all && x->nnotes) {
        int rc = idx_apply_notes(x, st);
        notes_clear(x);
        if (rc == 0)
            rc = hot_refresh(x);
        if (rc == 0) {
            x->gen = gen;
            x->in_place++;
            return 1;
        }
        idx_clear(x);   /* half updated: build from scratch */
    }
    notes_clear(x);
    int rc = -1;
    idx_src src = { st, NULL };
    if (x->built) {
        idx_table old = x->t;
        sig_cols old_sig = x->sig;
        memset(&x->t, 0, sizeof x->t);
        memset(&x->sig, 0, sizeof x->sig);
        rc = idx_collect_reuse(x, &src, &old, &old_sig);
        table_free(&old);        /* (its arena, if taken over, is NULL here) */
        sig_free(&old_sig);
        if (rc == 0)
            rc = idx_finish(x);
        if (rc)
            idx_clear(x);
    }
    if ((rc && idx_build(x, &src)) || hot_refresh(x)) {
        idx_clear(x);
        return -1;
    }
    x->gen = gen;
    x->built = 1;
    x->builds++;
    idx_trim(x);   /* the build's temporary arrays */
    return 1;
}

int catalog_index_update_is_build(catalog_index *x, store *st, uint64_t gen)
{
    areas_refresh(x, st);
    if (x->built && x->gen == gen)
        return 0;
    return !(x->built && !x->notes_all && x->nnotes);
}

struct catalog_index_build {
    catalog_index *nx;       /* being built (no trim, no hit cache: the thread's own) */
    idx_table old;           /* the previous build's entries, to reuse (nc + na == 0: none) */
    sig_cols old_sig;
    int reuse;
    uint64_t gen;
    int failed;
    atomic_int cancel;
};

catalog_index_build *catalog_index_build_begin(catalog_index *x, store *st, uint64_t gen)
{
    areas_refresh(x, st);
    catalog_index_build *b = calloc(1, sizeof *b);
    if (!b || !(b->nx = catalog_index_new())) {
        free(b);
        return NULL;
    }
    catalog_index *nx = b->nx;
    atomic_init(&b->cancel, 0);
    nx->cancel = &b->cancel;
    /* the same policy's areas and routes: the entries' bits refer to them */
    nx->have_areas = x->have_areas;
    nx->area_policy = x->area_policy;
    memcpy(nx->area_names, x->area_names, sizeof nx->area_names);
    memcpy(nx->route_names, x->route_names, sizeof nx->route_names);
    for (size_t i = 0; i < STORE_POLICY_LIST_MAX; i++) {
        nx->areas[i] = x->areas[i] ? nx->area_names[i] : NULL;
        nx->routes[i] = x->routes[i] ? nx->route_names[i] : NULL;
    }
    nx->areas[STORE_POLICY_LIST_MAX] = nx->routes[STORE_POLICY_LIST_MAX] = NULL;
    if (x->built) {
        /* a rebuild: the entries of unchanged versions are reused there */
        b->old = x->t;
        b->old_sig = x->sig;
        b->reuse = 1;
        memset(&x->t, 0, sizeof x->t);
        memset(&x->sig, 0, sizeof x->sig);
    }
    idx_clear(x);            /* searched by nobody until catalog_index_build_end */
    x->building = 1;         /* and notes taken from now: the changes after the snapshot */
    b->gen = gen;
    return b;
}

void catalog_index_build_run(catalog_index_build *b, store_snap *snap)
{
    catalog_index *nx = b->nx;
    idx_src src = { NULL, snap };
    int rc = -1;
    if (b->reuse) {
        rc = idx_collect_reuse(nx, &src, &b->old, &b->old_sig);
        if (rc == 0)
            rc = idx_finish(nx);
        if (rc)
            idx_clear(nx);
    }
    table_free(&b->old);
    sig_free(&b->old_sig);
    if (rc && !cancelled(nx))
        rc = idx_build(nx, &src);
    if (rc == 0 && !cancelled(nx))
        rc = hot_refresh(nx);
    b->failed = rc || cancelled(nx);
}

void catalog_index_build_cancel(catalog_index_build *b)
{
    atomic_store(&b->cancel, 1);
}

int catalog_index_build_end(catalog_index *x, catalog_index_build *b)
{
    catalog_index *nx = b->nx;
    x->building = 0;
    /* a new policy in force meanwhile (areas_refresh cleared x), or x
     * built on this thread meanwhile by a caller that did not wait: the
     * result is not x's */
    int ok = !b->failed && !x->built && x->have_areas == nx->have_areas &&
             !memcmp(&x->area_policy, &nx->area_policy, sizeof x->area_policy);
    if (ok) {
        table_free(&x->t);
        columns_free(x);
        x->t = nx->t;
        x->sig = nx->sig;
        x->cprod = nx->cprod, x->capcprod = nx->capcprod;
        x->careas = nx->careas, x->capcareas = nx->capcareas;
        x->aprod = nx->aprod, x->capaprod = nx->capaprod;
        x->arena_dead = nx->arena_dead;
        memset(&nx->t, 0, sizeof nx->t);
        memset(&nx->sig, 0, sizeof nx->sig);
        nx->cprod = nx->careas = nx->aprod = NULL;
        x->gen = b->gen;     /* the notes taken meanwhile bring it to the caller's gen */
        x->built = 1;
        x->builds++;
    } else if (!x->built) {
        notes_clear(x);      /* the next update builds anyway */
    }
    catalog_index_free(nx);
    free(b);
    idx_trim(x);
    return ok ? 0 : -1;
}

/* ---- search ---- */

/* Candidates a word search reads ahead (see catalog_search). */
#define WORDS_AHEAD 8

/* The words of a query, normalised and split once per search. */
#define WORDS_MAX (CATALOG_WORDS_MAX / 2 + 1)
typedef struct {
    char buf[CATALOG_WORDS_MAX + 1];
    const char *w[WORDS_MAX];
    size_t len[WORDS_MAX];
    size_t k[WORDS_MAX];          /* the byte of the word to screen for (see word_pick) */
    size_t n;
} query_words;

/* Which byte of a word to look for first.  Normalised text is mostly
 * Japanese, where E3 81..83 begin nearly every other character: glibc's
 * strstr screens by a word's first bytes, so in such text it stops to
 * compare almost everywhere (60-90 ms over 100,000 certifications).  The
 * third byte of a kana or kanji (84..BF) is far rarer: memchr for it skips
 * most of the text at memory speed. */
static size_t word_pick(const char *w, size_t n)
{
    size_t best = 0;
    int bs = -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        int sc = c == ' ' ? 0 : c < 0x80 ? 1 : c <= 0x83 || c == 0xe3 ? 0 : c <= 0xbf ? 3 : 2;
        if (sc > bs) {
            bs = sc;
            best = i;
        }
    }
    return best;
}

/* 0, or -1 when the words are not valid UTF-8 or too long. */
static int words_split(const char *words, query_words *qw)
{
    qw->n = 0;
    qw->buf[0] = 0;
    if (!words || !words[0])
        return 0;
    if (catalog_norm(words, strlen(words), qw->buf, sizeof qw->buf))
        return -1;
    for (char *p = qw->buf; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *e = p + strcspn(p, " ");
        if (qw->n < WORDS_MAX) {
            qw->w[qw->n] = p;
            qw->len[qw->n] = (size_t)(e - p);
            qw->k[qw->n] = word_pick(p, (size_t)(e - p));
            qw->n++;
        }
        if (*e)
            *e++ = 0;
        p = e;
    }
    return 0;
}

/* Does NUL-terminated hay contain word i?  One pass over hay (strchr
 * stops at the screened byte or the end): the texts of 100,000
 * certifications are tens of MB, read from memory at every search, so a
 * second pass (strlen first) would double the search's time. */
static int word_in(const char *hay, const query_words *qw, size_t i)
{
    const char *w = qw->w[i];
    size_t n = qw->len[i], k = qw->k[i];
    if (strnlen(hay, k) < k)
        return 0;
    for (const char *p = hay + k; (p = strchr(p, w[k])) != NULL; p++)
        if (!strncmp(p - k, w, n))
            return 1;
    return 0;
}

/* Does normalised `hay` contain every word? */
static int words_match(const char *hay, const query_words *qw)
{
    for (size_t i = 0; i < qw->n; i++)
        if (!word_in(hay, qw, i))
            return 0;
    return 1;
}

/* Whether adoption e passes the query's adoption filters: a page's groups
 * and an export's rows of adoptions of unknown certifications alike. */
static int adoption_passes(const idx_table *t, const cidx *e, const catalog_query *q, uint32_t adslot,
                           const query_words *dept)
{
    return !((q->public_only && !e->is_public) || (q->has_adopter && e->author != adslot) ||
             (q->fiscal_year && e->fy != q->fiscal_year) || (q->route >= 0 && e->route != q->route + 1) ||
             (dept->n && !words_match(second(t, e), dept)));
}

int catalog_today(void)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* Days from 1970-01-01 of a Gregorian date, and back (H. Hinnant's algorithms). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int civil_from_days(long z)
{
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp + (mp < 10 ? 3 : -9);
    return (int)((y + (m <= 2)) * 10000 + m * 100 + d);
}

int catalog_date_add(int ymd, int days, int months)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    long y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100;
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return ymd;
    if (months > 0) {
        long k = (m - 1) + months;
        y += k / 12;
        m = k % 12 + 1;
        long last = mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
        if (d > last)
            d = last;
    }
    return civil_from_days(days_from_civil(y, m, d) + days);
}

void catalog_hits_free(catalog_hits *h)
{
    free(h->certs);
    free(h->adoptions);
    free(h->groups);
    memset(h, 0, sizeof *h);
}

/* The first adoption at or after `lo` whose product number is at least p
 * (adoptions are sorted by product number, those citing none last). */
static size_t adoptions_from(const uint32_t *aprod, size_t lo, size_t na, uint32_t p)
{
    size_t hi = na;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (aprod[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int catalog_search(catalog_index *x, store *st, uint64_t gen, const catalog_query *q,
                   catalog_hits *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    query_words qw, dept;
    if (words_split(q->words, &qw))
        return proto_err(err, errlen, "検索語が UTF-8 でないか長すぎます（正規化後の上限 %d バイト）",
                         CATALOG_WORDS_MAX);
    if (words_split(q->department, &dept))
        return proto_err(err, errlen, "原課が UTF-8 でないか長すぎます");
    uint64_t qsig[SIG_WORDS] = { 0 };   /* every word's bigrams: all must be in a match */
    for (size_t i = 0; i < qw.n; i++)
        sig_add(qsig, qw.w[i], 1);
    /* one mask: a certification matches with any of its bits */
    uint32_t area_bit = q->areas;
    size_t nareas = 0;
    const char *const *areas = catalog_index_areas(x, st);
    while (areas[nareas])
        nareas++;
    for (int i = 0; i < 32; i++)
        if ((area_bit >> i & 1) && (size_t)i >= nareas)
            return proto_err(err, errlen, "分野の番号 %d はありません", i);
    if (q->area != CATALOG_AREA_ANY) {
        if (q->area < 0 || (size_t)q->area >= nareas)
            return proto_err(err, errlen, "分野の番号 %d はありません", q->area);
        area_bit |= 1u << q->area;
    }
    if (catalog_index_update(x, st, gen) < 0)
        return proto_err(err, errlen, "検索索引を作れません（ストアを読めません）");

    const idx_table *t = &x->t;
    size_t nc = t->nc, na = t->na;
    int all = q->all, public_only = q->public_only, want_st = q->status, vnum = q->valid_on;
    int by_member = q->has_member, adopted_by = q->has_adopted_by, not_mine = q->not_adopted_by_self;
    int by_adopter = q->has_adopter;
    int by_corp = q->corporate_number != 0;
    uint64_t cert_ref[2] = { 0, 0 };
    if (q->has_cert)
        ref_hash(&q->cert_author, q->cert_key ? q->cert_key : "", cert_ref);
    uint64_t corpn = q->corporate_number > CORP_MAX ? NO_CORP - 1 : q->corporate_number;   /* NO_CORP - 1 matches none */
    uint32_t mslot = UINT32_MAX, aslot = UINT32_MAX, myslot = UINT32_MAX, adslot = UINT32_MAX;
    for (size_t i = 0; i < t->nauthors; i++) {
        if (by_member && !memcmp(&t->authors[i], &q->member, 32))
            mslot = (uint32_t)i;
        if (adopted_by && !memcmp(&t->authors[i], &q->adopted_by, 32))
            aslot = (uint32_t)i;
        if (not_mine && !memcmp(&t->authors[i], &q->self, 32))
            myslot = (uint32_t)i;
        if (by_adopter && !memcmp(&t->authors[i], &q->adopter, 32))
            adslot = (uint32_t)i;
    }
    uint32_t *hit = malloc((nc ? nc : 1) * sizeof *hit);
    if (!hit)
        return proto_err(err, errlen, "out of memory");
    int today = q->today ? q->today : catalog_today();
    int expiring = q->expiring_days > 0 || q->expiring_months > 0;
    int exp_until = expiring ? catalog_date_add(today, q->expiring_days, q->expiring_months) : 0;
    const uint32_t *cprod = x->cprod, *careas = x->careas, *aprod = x->aprod;

    /* The hits: positions of the certifications that pass every filter, in
     * index order, narrowed one filter at a time.  A search used to mark
     * bytes over every entry at each step (filter, widen, limit, collect,
     * group: five passes of 100,000 each, their branches a coin toss);
     * a list is walked only as far as it is long. */
    size_t nh = 0;
    int words = !all && qw.n;
    int w0 = -1;                 /* the first signature column the words need */
    for (int k = 0; words && k < SIG_WORDS && w0 < 0; k++)
        if (qsig[k])
            w0 = k;
    uint32_t abit = all ? 0 : area_bit;
    if (w0 >= 0) {
        /* first: one column, not the entries; appended without a branch */
        const uint64_t *col = x->sig.w[w0];
        uint64_t want = qsig[w0];
        for (size_t i = 0; i < nc; i++) {
            hit[nh] = (uint32_t)i;
            nh += ((col[i] & want) == want) & (!abit || (careas[i] & abit) != 0);
        }
        for (int k = w0 + 1; k < SIG_WORDS; k++) {
            if (!qsig[k])
                continue;
            col = x->sig.w[k];
            want = qsig[k];
            size_t m = 0;
            for (size_t j = 0; j < nh; j++) {
                hit[m] = hit[j];
                m += (col[hit[j]] & want) == want;
            }
            nh = m;
        }
    } else if (abit) {
        for (size_t i = 0; i < nc; i++) {
            hit[nh] = (uint32_t)i;
            nh += (careas[i] & abit) != 0;
        }
    } else {
        for (size_t i = 0; i < nc; i++)
            hit[i] = (uint32_t)i;
        nh = nc;
    }
    if (public_only || (!all && (by_member || by_corp || q->has_cert || want_st >= 0 || vnum || expiring))) {
        size_t k = 0;
        for (size_t j = 0; j < nh; j++) {
            size_t i = hit[j];
            const cidx *c = &t->c[i];
            if (public_only && !c->is_public)
                continue;
            if (!all) {
                if (by_member && c->author != mslot)
                    continue;
                if (by_corp && c->corp != corpn)
                    continue;
                if (q->has_cert && cmp_u128(c->u.ce.ref, cert_ref))
                    continue;
                if (want_st >= 0 && catalog_status_on(c->status, day16_ymd(c->fy), c->valid_until, today) != want_st)
                    continue;
                if (vnum && !catalog_in_force_on(c->status, day16_ymd(c->fy), c->cert_on, c->valid_until, vnum))
                    continue;
                if (expiring && !(catalog_in_force_on(c->status, day16_ymd(c->fy), c->cert_on, c->valid_until, today) &&
                                  c->valid_until && c->valid_until <= exp_until))
                    continue;
            }
            hit[k++] = (uint32_t)i;
        }
        nh = k;
    }
    if (words) {
        /* The texts of the candidates, in a pass of their own: they lie all
         * over the arena (~400 bytes each, thousands per word), so each
         * would stall on memory when first read.  Fetching the text a few
         * candidates ahead overlaps those stalls, and the entry that says
         * where the text is, twice as far ahead (it is as scattered). */
        size_t k = 0;
        for (size_t j = 0; j < nh; j++) {
            if (j + 2 * WORDS_AHEAD < nh)
                __builtin_prefetch(&t->c[hit[j + 2 * WORDS_AHEAD]].text);
            if (j + WORDS_AHEAD < nh) {
                const char *ahead = t->arena + t->c[hit[j + WORDS_AHEAD]].text;
                __builtin_prefetch(ahead);
                __builtin_prefetch(ahead + 64);
                __builtin_prefetch(ahead + 128);
            }
            size_t i = hit[j];
            hit[k] = (uint32_t)i;
            k += words_match(t->arena + t->c[i].text, &qw);
        }
        nh = k;
    }

    /* Products, in index order: a product's certifications are contiguous
     * and its hits too.  Each product hit counts once (less those the
     * product-level filters drop); offset and limit pick the page of them
     * (people read a page of products).  Two walks along the hits: the
     * first counts every product and what the page holds, the second
     * fills the arrays sized by it (a list of the page's products would
     * be one entry per product for a search without a limit).  On the
     * page: the hits themselves (exact), else every certification of the
     * product (those public, with public_only); then the adoptions of each
     * product, and with `all` those citing no known certification, last. */
    int prod_filters = !all && (adopted_by || not_mine);
    size_t products = 0, limit = q->limit, offset = q->offset;
    size_t ncerts = 0, npg = 0, nads = 0, capads = 0;
    store_ref *certs = NULL, *ads = NULL;
    catalog_product *g = NULL;
    for (int fill = 0; fill < 2; fill++) {
        if (fill) {
            certs = ncerts ? malloc(ncerts * sizeof *certs) : NULL;
            g = npg ? calloc(npg, sizeof *g) : NULL;
            if ((ncerts && !certs) || (npg && !g))
                goto oom;
        }
        size_t pos = 0, k = 0, a = 0;
        products = 0;
        for (size_t j = 0; j < nh;) {
            uint32_t p = cprod[hit[j]];
            size_t j1 = j + 1;
            while (j1 < nh && cprod[hit[j1]] == p)
                j1++;
            size_t h0 = j;
            j = j1;
            if (prod_filters) {
                /* by any current adoption of it, whatever the adoption filters */
                int by_x = 0, by_me = 0;
                for (size_t e = adoptions_from(aprod, 0, na, p); e < na && aprod[e] == p; e++) {
                    by_x |= t->a[e].author == aslot;
                    by_me |= t->a[e].author == myslot;
                }
                if ((adopted_by && !by_x) || (not_mine && by_me))
                    continue;
            }
            products++;
            if (products <= offset || (limit && products - offset > limit))
                continue;
            if (!fill) {
                npg++;
                if (q->exact)
                    ncerts += j1 - h0;
                else
                    for (size_t i = p; i < nc && cprod[i] == p; i++)
                        ncerts += !public_only || t->c[i].is_public;
                continue;
            }
            g[k].cert = pos;
            if (q->exact) {
                for (size_t h = h0; h < j1; h++) {
                    const cidx *c = &t->c[hit[h]];
                    certs[pos].author = t->authors[c->author];
                    certs[pos++].seq = c->seq;
                    g[k].areas |= careas[hit[h]];
                }
            } else {
                for (size_t i = p; i < nc && cprod[i] == p; i++) {
                    const cidx *c = &t->c[i];
                    if (public_only && !c->is_public)
                        continue;
                    certs[pos].author = t->authors[c->author];
                    certs[pos++].seq = c->seq;
                    g[k].areas |= careas[i];
                }
            }
            g[k].ncerts = pos - g[k].cert;
            for (a = adoptions_from(aprod, a, na, p); a < na && aprod[a] == p; a++) {
                const cidx *e = &t->a[a];
                if (!adoption_passes(t, e, q, adslot, &dept))
                    continue;
                if (grow((void **)&ads, &capads, nads + 1, sizeof *ads))
                    goto oom;
                if (!g[k].nadoptions)
                    g[k].adoption = nads;
                g[k].nadoptions++;
                ads[nads].author = t->authors[e->author];
                ads[nads++].seq = e->seq;
            }
            k++;
        }
        if (!fill)
            continue;
        for (a = all ? adoptions_from(aprod, a, na, NO_PROD) : na; a < na; a++) {
            /* an export keeps adoptions of unknown certifications too */
            const cidx *e = &t->a[a];
            if (!adoption_passes(t, e, q, adslot, &dept))
                continue;
            if (grow((void **)&ads, &capads, nads + 1, sizeof *ads))
                goto oom;
            ads[nads].author = t->authors[e->author];
            ads[nads++].seq = e->seq;
        }
    }
    out->certs = certs;
    out->ncerts = ncerts;
    out->adoptions = ads;
    out->nadoptions = nads;
    out->groups = g;
    out->ngroups = npg;
    out->products = products;
    free(hit);
    return 0;
oom:
    free(certs);
    free(g);
    free(ads);
    free(hit);
    return proto_err(err, errlen, "out of memory");
}

/* ---- the hits' records ---- */

static void hc_empty(hit_cache *c)
{
    if (c->slots)
        memset(c->slots, 0, HIT_SLOTS * sizeof *c->slots);
    c->used = c->n = 0;
}

static size_t hc_slot(const hit_cache *c, const proto_id *a, uint64_t seq)
{
    uint64_t h = proto_id_hash(c->seed, a) ^ seq * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
    return (size_t)(h * 0xBF58476D1CE4E5B9ull >> 20) & (HIT_SLOTS - 1);
}

/* The slot holding (a, seq), or the free one where it would go. */
static hit_slot *hc_find(hit_cache *c, const proto_id *a, uint64_t seq)
{
    for (size_t i = hc_slot(c, a, seq);; i = (i + 1) & (HIT_SLOTS - 1)) {
        hit_slot *sl = &c->slots[i];
        if (!sl->len || (sl->seq == seq && !memcmp(&sl->author, a, sizeof *a)))
            return sl;
    }
}

typedef struct {
    hit_cache *c;
    const store_ref *ref;
    store_rec_cb cb;
    void *ctx;
    int stop;
} hc_fill;

/* A record read from the store: kept (the cache emptied first when it is
 * full), then handed on. */
static int hc_fill_cb(void *ctx, const uint8_t *rec, size_t len)
{
    hc_fill *f = ctx;
    hit_cache *c = f->c;
    if (len && len <= CATALOG_HITCACHE_BYTES) {
        if (c->used + len > CATALOG_HITCACHE_BYTES || c->n == CATALOG_HITCACHE_RECS)
            hc_empty(c);
        hit_slot *sl = hc_find(c, &f->ref->author, f->ref->seq);
        memcpy(c->bytes + c->used, rec, len);
        sl->author = f->ref->author;
        sl->seq = f->ref->seq;
        sl->off = (uint32_t)c->used;
        sl->len = (uint32_t)len;
        c->used += len;
        c->n++;
    }
    f->stop = f->cb(f->ctx, rec, len);
    return f->stop;
}

int catalog_index_get_refs(catalog_index *x, store *st, uint64_t gen, const store_ref *refs, size_t n,
                           store_rec_cb cb, void *ctx)
{
    hit_cache *c = &x->hc;
    if (!x->built || x->gen != gen)
        return store_get_refs(st, refs, n, cb, ctx);   /* not what the index holds: nothing kept */
    if (!c->slots) {
        c->slots = calloc(HIT_SLOTS, sizeof *c->slots);
        c->bytes = malloc(CATALOG_HITCACHE_BYTES);
        if (!c->slots || !c->bytes) {
            free(c->slots);
            free(c->bytes);
            c->slots = NULL;
            c->bytes = NULL;
            return store_get_refs(st, refs, n, cb, ctx);
        }
        RAND_bytes((unsigned char *)&c->seed, sizeof c->seed);   /* else the zero seed, still a hash */
        c->gen = gen;
    }
    if (c->gen != gen) {
        hc_empty(c);
        c->gen = gen;
    }
    store_snap *snap = NULL;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        hit_slot *sl = hc_find(c, &refs[i].author, refs[i].seq);
        if (sl->len) {
            c->hits++;
            if (cb(ctx, c->bytes + sl->off, sl->len))
                break;
            continue;
        }
        c->misses++;
        if (!snap && !(snap = store_snap_begin(st))) {
            rc = -1;
            break;
        }
        hc_fill f = { c, &refs[i], cb, ctx, 0 };
        store_snap_get_refs(snap, &refs[i], 1, hc_fill_cb, &f);   /* absent: skipped, as store_get_refs */
        if (f.stop)
            break;
    }
    if (snap) {
        store_snap_end(snap);
        store_check_pages(st);   /* the pages just mapped, as store_get_refs counts them */
    }
    return rc;
}
