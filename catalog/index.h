/*
 * catalog/index.h — search over the current certifications and adoptions.
 *
 * The index is an in-memory table of what a filter needs and nothing else —
 * normalised search text, policy areas as a bit mask, dates and 法人番号 as
 * numbers, the product — plus (author, seq) to read a hit's record back
 * from the store.  The caller owns it (catalog_index_new) and says which
 * state of the store it is searching by a generation number: the index is
 * brought up to date whenever the `gen` given differs from the one it was
 * last built at, so the caller bumps its number whenever a certification or
 * adoption is written or received (catalogd: d->catalog_gen, bumped by
 * node_applied) and leaves it alone for other kinds.  A caller that also
 * notes which keys changed (catalog_index_note; catalogd does) gets an
 * update in place of just those; otherwise a rebuild reuses the entries of
 * the versions still current and reads only the new ones.
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
#include "catalog/schema.h"
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
 * built at gen; else, when every change since was noted key by key (below),
 * only the noted keys are read again and their entries put in place (a few
 * ms at 100,000 certifications); else a rebuild (reusing the entries of
 * unchanged versions when there is a previous build, ~0.15 s).  0 if it was
 * current, 1 if it was updated or (re)built, -1 out of memory or the store
 * unreadable (the index is then empty and the next call builds from
 * scratch).  catalog_search calls this itself. */
int catalog_index_update(catalog_index *x, store *st, uint64_t gen);

/* ---- a build on another thread ----
 *
 * A first build reads every current certification and adoption (seconds
 * at 100,000), a rebuild every key: the caller's thread (catalogd's event
 * loop) need not wait.  catalog_index_update_is_build says whether an
 * update to gen would be such a build (1) rather than nothing or the noted
 * keys alone (0, a few ms).  Then, on the index's thread: begin takes what
 * the build needs out of x (the previous entries, to reuse) — x is empty
 * and must not be searched until end — and x keeps the notes of changes
 * from then on; the caller begins a read snapshot (store_snap_begin) at
 * that same moment, the state of gen.  run, on any thread, builds from
 * the snapshot (x is not touched); cancel (any thread) makes it stop at
 * its next record.  end, on the index's thread, puts the result in x at
 * gen (its notes then bring it up to date in place at the next update) and
 * frees b: 0, or -1 when the build failed or was cancelled, or the policy
 * in force changed meanwhile (x is then empty: the next update builds). */
typedef struct catalog_index_build catalog_index_build;
int catalog_index_update_is_build(catalog_index *x, store *st, uint64_t gen);
catalog_index_build *catalog_index_build_begin(catalog_index *x, store *st, uint64_t gen);   /* NULL: no memory */
void catalog_index_build_run(catalog_index_build *b, store_snap *snap);
void catalog_index_build_cancel(catalog_index_build *b);
int catalog_index_build_end(catalog_index *x, catalog_index_build *b);

/* Tell the index that the current version of (kind, author, key) may have
 * changed — a new version, a tombstone — so that the next update with a new
 * gen reads just that key again.  Kinds other than certification and
 * adoption are ignored.  A caller that notes must note every change it
 * bumps gen for (a change neither noted nor signalled by note_all would be
 * missed); a gen bumped with no note at all is a rebuild, as before notes.
 * Past a few thousand notes the next update is a rebuild (cheaper then).
 * catalog_index_note_all: something changed that is not one key — a fork
 * whose winner may differ — so the next update is a rebuild. */
void catalog_index_note(catalog_index *x, const char *kind, const proto_id *author, const char *key);
void catalog_index_note_all(catalog_index *x);
/* The policy areas (分野) the index's area bits and every area filter refer
 * to: those of the policy in force in st (bit i = areas[i], NULL-terminated,
 * valid until the next call on x).  A new policy in force clears the index,
 * which the next update builds again.  A record's area that the policy does
 * not list (a peer's, under a policy this node has not received, or one a
 * later policy removed) sets no bit: it is shown, and found by words, but
 * not by the area filter. */
const char *const *catalog_index_areas(catalog_index *x, store *st);

typedef struct {
    int built;               /* 0 until the first successful build */
    uint64_t gen;            /* the generation it was built at */
    size_t certifications, adoptions;
    size_t text_bytes;       /* normalised text held (the arena in use) */
    uint64_t builds;         /* updates that read every current key (from scratch or a rebuild) */
    uint64_t updates_in_place; /* updates that read only the noted keys */
    size_t hit_records, hit_bytes;    /* records held by catalog_index_get_refs */
    uint64_t hit_reads, hit_misses;   /* records it handed out from memory / read from the store */
} catalog_index_stats;
void catalog_index_stats_get(const catalog_index *x, catalog_index_stats *out);

/* ---- queries ---- */

/* Status codes are catalog/schema.h's CATALOG_STATUS_* (catalog_status_on
 * is the rule every filter here applies). */
#define CATALOG_AREA_ANY (-1)
/* A corporate_number no certification carries: matches none. */
#define CATALOG_CORP_NONE UINT64_MAX
/* Normalised search words, bytes (catalog_query_set_words refuses more). */
#define CATALOG_WORDS_MAX 1000
/* A department filter, bytes as given. */
#define CATALOG_DEPARTMENT_MAX 200

/* Every filter is resolved; a certification matches when it passes all of
 * those set.  Start from catalog_query_init (no filter at all). */
typedef struct {
    const char *words;        /* search words as typed, or NULL: every space-separated word
                               * (after catalog_norm, at most CATALOG_WORDS_MAX bytes) must
                               * occur in company, product, summary, tags, address or contact */
    int area;                 /* index into catalog_areas, or CATALOG_AREA_ANY */
    uint32_t areas;           /* bit i = catalog_areas[i]: any of them (a checkbox group);
                               * 0 = any.  With `area` too, any of area and areas */
    int has_member;           /* certified by `member` */
    proto_id member;
    int status;               /* CATALOG_STATUS_*: status on `today` (catalog_status_on) */
    int valid_on;             /* yyyymmdd: in force on that day (catalog_in_force_on:
                               * certified_on <= valid_on, 認定中 then); 0 = any */
    uint64_t corporate_number;/* 法人番号 as a number; 0 = any; a value that is not a
                               * 13-digit number (e.g. CATALOG_CORP_NONE) matches none */
    int expiring_days;        /* in force today and valid_until within today + this many */
    int expiring_months;      /* days / months (both 0 = no filter; at most one set) */
    int has_adopted_by;       /* product-level: keep products `adopted_by` adopted */
    proto_id adopted_by;
    int not_adopted_by_self;  /* product-level: drop products `self` adopted */
    proto_id self;
    int public_only;          /* only certifications and adoptions with visibility public
                               * (applies with `all` too) */
    /* Adoption filters narrow the adoptions returned (with `all` too); they
     * never change which certifications or products match. */
    int fiscal_year;          /* 年度 (2026); 0 = any */
    const char *department;   /* every space-separated word of it occurs in 原課 (both after
                               * catalog_norm); NULL = any */
    int route;                /* 契約方法: index into the field's values; -1 = any */
    int has_adopter;          /* written by `adopter` */
    proto_id adopter;
    int has_cert;             /* only the certification cert_author/cert_key (the key as
                               * stored: catalog_key_norm's form), widened to its whole
                               * product like any match: "every certification of this
                               * product" (the web view's product page) */
    proto_id cert_author;
    const char *cert_key;
    int all;                  /* every certification and every adoption, including
                               * adoptions citing no known certification (an export);
                               * the certification filters and product-level filters
                               * are ignored (public_only and adoption filters apply) */
    int exact;                /* only the certifications that match, not every certification
                               * of their products (an export: each row is what was asked
                               * for); adoptions are those of the products kept */
    size_t limit;             /* at most this many products (the first in hit order after
                               * `offset`); 0 = no limit */
    size_t offset;            /* skip this many products first (a page of results); the
                               * skipped products are neither returned nor read */
    int today;                /* yyyymmdd for 期間満了; 0 = the local date at the call */
} catalog_query;

void catalog_query_init(catalog_query *q);

/* Setters from text: the whole value is read, or it is refused (never cut
 * to fit).  NULL or "" clears the filter.  0, or -1 with err (the query is
 * then unchanged); the messages, in Japanese, are those catalogd replies
 * with.  Strings are used where they are (words and department are kept as
 * pointers: they must outlive the search). */
/* "検索語が UTF-8 ではありません" / "検索語が長すぎます（正規化後 N バイト、上限 1000 バイト）" */
int catalog_query_set_words(catalog_query *q, const char *text, char *err, size_t errlen);
/* One of catalog_areas, compared after catalog_norm (width and case do not
 * matter): "分野「TEXT」はありません（子育て、教育、…のいずれか）". */
int catalog_query_set_area(catalog_query *q, const char *text, char *err, size_t errlen);
/* The same against a list of areas (catalog_index_areas: the policy in
 * force; catalog_query_set "area" reads the store's). */
int catalog_query_set_area_in(catalog_query *q, const char *const *areas, const char *text,
                              char *err, size_t errlen);
/* 認定中, 停止, 取消, 期間満了 (after catalog_norm), or active, suspended,
 * revoked, expired: "状態は 認定中、停止、取消、期間満了 のいずれかです". */
int catalog_query_set_status(catalog_query *q, const char *text, char *err, size_t errlen);
/* Any date catalog_build accepts (catalog_parse_date, which reads it with
 * jp_date_read: 2026-04-01, 2026/4/1, 2026年4月1日, 和暦 令和8年4月1日 /
 * R8.4.1, full-width digits …): "日付「TEXT」が読めません: <jp_date_read's reason>". */
int catalog_query_set_valid_on(catalog_query *q, const char *text, char *err, size_t errlen);
/* 13 digits (full-width, hyphens and spaces allowed) with a valid check
 * digit; anything else is refused ("法人番号「TEXT」は13桁の数字ではありません",
 * "法人番号「TEXT」のチェックデジットが違います（正しくは N）"). */
int catalog_query_set_corporate_number(catalog_query *q, const char *text, char *err, size_t errlen);
/* N followed by a unit: d/日, w/週, m/か月/ヶ月/カ月/月, y/年 (6m, 90d, 1y,
 * 半角/全角), 1 .. 3650 days' worth. */
int catalog_query_set_expiring_within(catalog_query *q, const char *text, char *err, size_t errlen);
/* A municipality code or a member id (catalog_member_ref):
 * "団体「TEXT」は現在の加盟団体にありません（団体コードか member id を指定してください）". */
int catalog_query_set_member(catalog_query *q, store *st, const char *text, char *err, size_t errlen);
int catalog_query_set_adopted_by(catalog_query *q, store *st, const char *text, char *err, size_t errlen);
int catalog_query_set_adopter(catalog_query *q, store *st, const char *text, char *err, size_t errlen);
/* 年度 as catalog_build reads it (2026, 2026年度, 令和8年度, R8):
 * "年度「TEXT」が読めません（例: …）". */
int catalog_query_set_fiscal_year(catalog_query *q, const char *text, char *err, size_t errlen);
/* At most CATALOG_DEPARTMENT_MAX bytes of valid UTF-8. */
int catalog_query_set_department(catalog_query *q, const char *text, char *err, size_t errlen);
/* One of the adoption's 契約方法 values (after catalog_norm). */
int catalog_query_set_route(catalog_query *q, const char *text, char *err, size_t errlen);
int catalog_query_set_route_in(catalog_query *q, const char *const *routes, const char *text,
                               char *err, size_t errlen);
/* By the names of catalogd's csearch request — q, area, member, status,
 * valid_on, corporate_number, expiring_within, adopted_by, fiscal_year,
 * department, route, adopter (as above), not_adopted_by_me, public_only,
 * all ("" or "0" off, anything else on; not_adopted_by_me needs q->self set
 * by the caller), limit (decimal: "limit は数で指定してください") — so that
 * form fields map one to one.  An unknown name:
 * "検索条件「NAME」はありません". */
int catalog_query_set(catalog_query *q, store *st, const char *name, const char *value,
                      char *err, size_t errlen);

/* ---- search ---- */

/* One product of a search's hits: its certifications are
 * certs[cert .. cert + ncerts), its adoptions adoptions[adoption ..
 * adoption + nadoptions); areas is the union of those certifications'
 * policy areas (bit i = catalog_areas[i]). */
typedef struct {
    size_t cert, ncerts;
    size_t adoption, nadoptions;
    uint32_t areas;
} catalog_product;

/* What a search found, as references to read the records with
 * (store_get_refs).  The caller may rely on:
 *  - certs: the matching certifications widened to whole products — every
 *    current certification, by any member, of the same product (法人番号 +
 *    normalised product name, catalog_product_key) — less what the
 *    product-level filters, public_only and limit drop.  Grouped by
 *    product: a product's certifications are contiguous.  The order is the
 *    same on every node and every run for the same catalog: products by
 *    normalised product name (catalog_norm, byte order), then 法人番号
 *    (none last); within a product by 認定日, then author (member id bytes),
 *    then seq.
 *  - groups: the products of certs, in that order (ngroups of them).
 *  - products: the number of products that matched before offset and
 *    limit were applied (so "showing `limit` of `products`"); certs holds
 *    the products from offset + 1 to min(products, offset + limit).
 *  - adoptions: every current adoption citing one of certs (with `all`,
 *    every current adoption), public_only and the adoption filters
 *    applied; grouped by product in the order of groups (those citing no
 *    known certification last), within a product by 年度, author, seq.
 *  - Tombstoned (deleted) records are never hits.
 * Arrays are NULL when empty. */
typedef struct {
    store_ref *certs;
    size_t ncerts;
    store_ref *adoptions;
    size_t nadoptions;
    catalog_product *groups;
    size_t ngroups;
    size_t products;
} catalog_hits;

/* Search st as of generation gen (catalog_index_update first).  0, or -1
 * with err: the words' message (see catalog_query_set_words), "unknown
 * policy area N" for an area out of range, "store unavailable" when the
 * index cannot be built, "out of memory"; an area number or a bit of
 * `areas` out of range: "分野の番号 N はありません".  On failure *out is empty. */
int catalog_search(catalog_index *x, store *st, uint64_t gen, const catalog_query *q,
                   catalog_hits *out, char *err, size_t errlen);
void catalog_hits_free(catalog_hits *h);

/* Records catalog_index_get_refs keeps: at most this many bytes, in at most
 * this many records (~2,500 of ~820 bytes: the first pages of some twenty
 * searches of 100 products).  A fixed bound, not per certification. */
#define CATALOG_HITCACHE_BYTES (2u << 20)
#define CATALOG_HITCACHE_RECS 4096

/* store_get_refs for the hits of a search at gen: the same records in the
 * same order (absent ones skipped, stopping when cb returns nonzero), read
 * from the index's own memory when an earlier call at the same gen read
 * them, else from st and kept (up to the bound above; when
 * full, everything kept is dropped first).  A gen the index is not built at
 * is read from st and nothing is kept.  What is kept is dropped at the
 * first call with another gen (st is the index's one store, as for every
 * call on it): the gen must change whenever a
 * record at a ref may have (a fork replaces the record at an (author, seq);
 * catalogd bumps catalog_gen then).  0, or -1 when the store cannot be
 * read (cb has seen the records before it). */
int catalog_index_get_refs(catalog_index *x, store *st, uint64_t gen, const store_ref *refs, size_t n,
                           store_rec_cb cb, void *ctx);

/* Today's local date as yyyymmdd. */
int catalog_today(void);
/* yyyymmdd plus `months` (the day kept, or the month's last day), then plus
 * `days` (either may be 0); an invalid date is returned as it is. */
int catalog_date_add(int ymd, int days, int months);

#endif
