/*
 * catalog/index.h — search over the current certifications and adoptions.
 *
 * The index is an in-memory table of what a filter needs and nothing else —
 * normalised search text, policy areas as a bit mask, dates and 法人番号 as
 * numbers, the product — plus (author, seq) to read a hit's record back
 * from the store.  The caller owns it (catalog_index_new) and says which
 * state of the store it is searching by a generation number: the index is
 * (re)built whenever the `gen` given differs from the one it was last built
 * at, so the caller bumps its number whenever a certification or adoption
 * is written or received (catalogd: d->catalog_gen, bumped by node_applied)
 * and leaves it alone for other kinds.  A rebuild reuses the entries of the
 * versions still current and reads only the new ones.
 *
 * Queries are typed (catalog_query): every filter already resolved.  The
 * catalog_query_set_* helpers turn the text people type (a form field, a
 * control request, a command-line option) into those values, with the
 * messages catalogd replies with.  No msgpack, no global state: any number
 * of indexes may exist, each used from one thread at a time, always with
 * the same store.
 */
#ifndef CATALOG_INDEX_H
#define CATALOG_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include "proto/record.h"
#include "store/store.h"

typedef struct catalog_index catalog_index;

/* An empty index (built on first use), or NULL when out of memory. */
catalog_index *catalog_index_new(void);
/* Frees everything the index holds; NULL is fine. */
void catalog_index_free(catalog_index *x);

/* `trim(ctx)` is called at the start of a build from scratch and after
 * every (re)build, when the build's temporary arrays have been freed: the
 * moment to hand freed heap back to the system (catalogd trims malloc's
 * heap and the store's mapped pages).  NULL: no call. */
void catalog_index_set_trim(catalog_index *x, void (*trim)(void *ctx), void *ctx);

/* Bring the index up to date with st at generation gen: nothing if it was
 * built at gen, else a rebuild (reusing the entries of unchanged versions
 * when there is a previous build).  0 if it was current, 1 if it was
 * (re)built, -1 out of memory (the index is then empty and the next call
 * builds from scratch).  catalog_search calls this itself. */
int catalog_index_update(catalog_index *x, store *st, uint64_t gen);

typedef struct {
    int built;               /* 0 until the first successful build */
    uint64_t gen;            /* the generation it was built at */
    size_t certifications, adoptions;
    size_t text_bytes;       /* normalised text held (the arena in use) */
} catalog_index_stats;
void catalog_index_stats_get(const catalog_index *x, catalog_index_stats *out);

/* ---- queries ---- */

/* Effective status (catalog_status): recorded 停止/取消, else 期間満了 once
 * valid_until is past `today`, else 認定中. */
enum {
    CATALOG_STATUS_ANY = -1,
    CATALOG_STATUS_ACTIVE = 0,       /* 認定中 */
    CATALOG_STATUS_SUSPENDED = 1,    /* 停止 */
    CATALOG_STATUS_REVOKED = 2,      /* 取消 */
    CATALOG_STATUS_EXPIRED = 3,      /* 期間満了 */
};
#define CATALOG_AREA_ANY (-1)
/* A corporate_number no certification carries: matches none. */
#define CATALOG_CORP_NONE UINT64_MAX

/* Every filter is resolved; a certification matches when it passes all of
 * those set.  Start from catalog_query_init (no filter at all). */
typedef struct {
    const char *words;        /* search words as typed, or NULL: every space-separated word
                               * (after catalog_norm; words longer than 511 bytes are cut)
                               * must occur in company, product, summary, tags or address */
    int area;                 /* index into catalog_areas, or CATALOG_AREA_ANY */
    int has_member;           /* certified by `member` */
    proto_id member;
    int status;               /* CATALOG_STATUS_*: effective status on `today` */
    int valid_on;             /* yyyymmdd: certified_on <= valid_on <= valid_until (both
                               * present); 0 = any */
    uint64_t corporate_number;/* 法人番号 as a number; 0 = any; a value that is not a
                               * 13-digit number (e.g. CATALOG_CORP_NONE) matches none */
    int has_adopted_by;       /* product-level: keep products `adopted_by` adopted */
    proto_id adopted_by;
    int not_adopted_by_self;  /* product-level: drop products `self` adopted */
    proto_id self;
    int public_only;          /* only certifications and adoptions with visibility public
                               * (applies with `all` too) */
    int all;                  /* every certification and every adoption, including
                               * adoptions citing no known certification (an export);
                               * every filter above but public_only is ignored */
    size_t limit;             /* at most this many products (the first in hit order);
                               * 0 = no limit */
    int today;                /* yyyymmdd for 期間満了; 0 = the local date at the call */
} catalog_query;

void catalog_query_init(catalog_query *q);

/* Setters from text.  NULL or "" clears the filter.  0, or -1 with err
 * (the query is then unchanged); the messages are those catalogd replies
 * with.  Strings are used where they are (words is kept as a pointer: it
 * must outlive the search). */
/* "search words are not valid UTF-8" (also when the normalised words
 * exceed 1023 bytes). */
int catalog_query_set_words(catalog_query *q, const char *text, char *err, size_t errlen);
/* One of catalog_areas, compared after catalog_norm (width and case do not
 * matter): "unknown policy area 'TEXT'". */
int catalog_query_set_area(catalog_query *q, const char *text, char *err, size_t errlen);
/* 認定中, 停止, 取消, 期間満了, or active, suspended, revoked, expired:
 * "status must be 認定中, 停止, 取消 or 期間満了". */
int catalog_query_set_status(catalog_query *q, const char *text, char *err, size_t errlen);
/* A date as people type it, 和暦 too (jp_date_read, whose message is
 * returned). */
int catalog_query_set_valid_on(catalog_query *q, const char *text, char *err, size_t errlen);
/* Digits are kept, anything else (hyphens, spaces) dropped; no digit at all
 * clears the filter; anything but 13 digits matches none.  Never fails. */
void catalog_query_set_corporate_number(catalog_query *q, const char *text);
/* A municipality code or a member id (catalog_member_ref):
 * "no current member TEXT (give a municipality code or member id)". */
int catalog_query_set_member(catalog_query *q, store *st, const char *text, char *err, size_t errlen);
int catalog_query_set_adopted_by(catalog_query *q, store *st, const char *text, char *err, size_t errlen);
/* By the names of catalogd's csearch request — q, area, member, status,
 * valid_on, corporate_number, adopted_by (as above), not_adopted_by_me,
 * public_only, all ("" or "0" off, anything else on; not_adopted_by_me
 * needs q->self set by the caller), limit (decimal: "limit must be a
 * number") — so that form fields map one to one.  An unknown name:
 * "unknown search filter 'NAME'". */
int catalog_query_set(catalog_query *q, store *st, const char *name, const char *value,
                      char *err, size_t errlen);

/* ---- search ---- */

/* What a search found, as references to read the records with
 * (store_get_refs).  The caller may rely on:
 *  - certs: the matching certifications widened to whole products — every
 *    current certification, by any member, of the same product (法人番号 +
 *    normalised product name, catalog_product_key) — less what the
 *    product-level filters, public_only and limit drop.  Grouped by
 *    product: a product's certifications are contiguous.  Products come in
 *    the index's order: by 法人番号 ascending (products without one last),
 *    then by a hash of the product key — the same for the same catalog.
 *  - products: the number of products that matched before the limit was
 *    applied (so "showing `limit` of `products`"); certs holds the first
 *    min(products, limit) of them.
 *  - adoptions: every current adoption citing one of certs (with `all`,
 *    every current adoption), public_only applied, in the index's order.
 *  - Tombstoned (deleted) records are never hits.
 * Arrays are NULL when empty. */
typedef struct {
    store_ref *certs;
    size_t ncerts;
    store_ref *adoptions;
    size_t nadoptions;
    size_t products;
} catalog_hits;

/* Search st as of generation gen (catalog_index_update first).  0, or -1
 * with err: the words' message (see catalog_query_set_words), "unknown
 * policy area N" for an area out of range, "store unavailable" when the
 * index cannot be built, "out of memory".  On failure *out is empty. */
int catalog_search(catalog_index *x, store *st, uint64_t gen, const catalog_query *q,
                   catalog_hits *out, char *err, size_t errlen);
void catalog_hits_free(catalog_hits *h);

/* Today's local date as yyyymmdd. */
int catalog_today(void);

#endif
