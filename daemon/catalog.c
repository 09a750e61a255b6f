/*
 * daemon/catalog.c — control commands for the catalog's own kinds
 * (certification, adoption; DESIGN §5): validated writes, lookups by key
 * across members, and search.
 *
 *   cput    {items: [{kind, key, mode: add|update|upsert, fields: [[name, value]...]}]}
 *           validates every item first, then writes all in one transaction;
 *           an upsert whose result equals the current record is "unchanged".
 *   cfind   {kind, key}           every member's current record under that key
 *   csearch {q, area, member, status, valid_on, corporate_number, adopted_by,
 *            not_adopted_by_me, public_only, all}
 *           matching certifications, every certification of the same products
 *           (法人番号 + normalised name), and every adoption citing them.
 */
#include "daemon/control.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "store/kind.h"
#include "proto/catalog.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITEMS_MAX 200000u

typedef struct { uint8_t *raw; size_t len; } rec_copy;

static int copy_rec(void *ctx, const uint8_t *rec, size_t len)
{
    rec_copy *c = ctx;
    c->raw = malloc(len);
    if (c->raw) {
        memcpy(c->raw, rec, len);
        c->len = len;
    }
    return 1;
}

/* ---- members by code ---- */

typedef struct { const char *code; proto_id id; int found; } code_find;

static int find_code(void *ctx, const store_member *m)
{
    code_find *f = ctx;
    if (!strcmp(m->code, f->code) && m->status == STORE_MEMBER_ACTIVE) {
        f->id = m->id;
        f->found = 1;
        return 1;
    }
    return 0;
}

/* A member named by its printed id or its municipality code. */
static int member_ref(catalogd *d, const char *s, proto_id *out)
{
    if (proto_id_parse(s, out) == 0)
        return 0;
    code_find f = { s, { { 0 } }, 0 };
    store_members(d->st, find_code, &f);
    if (!f.found)
        return -1;
    *out = f.id;
    return 0;
}

/* People cite a certification as CODE/KEY (131059/文京-2026-001); records
 * store MEMBER_ID/KEY, which does not change when a code is reused. */
static const char *resolve_ref(catalogd *d, const char *v, char *buf, size_t n)
{
    const char *slash = strchr(v, '/');
    char who[80];
    proto_id id;
    if (!slash || (size_t)(slash - v) >= sizeof who)
        return v;
    memcpy(who, v, (size_t)(slash - v));
    who[slash - v] = 0;
    if (strlen(who) != 6 || member_ref(d, who, &id))
        return v;
    char ids[PROTO_ID_STR];
    proto_id_str(&id, ids);
    snprintf(buf, n, "%s%s", ids, slash);
    return buf;
}

/* Who holds (kind, key)?  For the "only its author may change it" message. */
typedef struct { catalogd *d; const char *kind, *key; char who[512]; } owner_find;

static int owner_cb(void *ctx, const store_member *m)
{
    owner_find *o = ctx;
    rec_copy c = { NULL, 0 };
    if (store_get_current(o->d->st, &m->id, o->kind, o->key, copy_rec, &c) == 0 && c.raw) {
        char ids[PROTO_ID_STR];
        proto_id_str(&m->id, ids);
        snprintf(o->who, sizeof o->who, "%s %s (%s)", m->code, m->name, ids);
        free(c.raw);
        return 1;
    }
    return 0;
}

/* ---- cput ---- */

typedef struct {
    const char *kind;
    char key[PROTO_KEY_MAX + 1];
    proto_body *body;
    int unchanged, existed;
} put_item;

typedef struct { catalog_kv *kv; size_t n, cap; char **owned; size_t nowned; } kv_list;

static int kv_add(kv_list *l, const char *name, size_t nl, const char *val, size_t vl)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        catalog_kv *k = realloc(l->kv, cap * sizeof *k);
        char **o = realloc(l->owned, cap * 2 * sizeof *o);
        if (k) l->kv = k;
        if (o) l->owned = o;
        if (!k || !o)
            return -1;
        l->cap = cap;
    }
    char *nm = strndup(name, nl), *v = strndup(val, vl);
    if (!nm || !v) {
        free(nm);
        free(v);
        return -1;
    }
    l->owned[l->nowned++] = nm;
    l->owned[l->nowned++] = v;
    l->kv[l->n].name = nm;
    l->kv[l->n].value = v;
    l->n++;
    return 0;
}

static void kv_free(kv_list *l)
{
    for (size_t i = 0; i < l->nowned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->kv);
}

static int kv_from_body(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    return kv_add(ctx, f, fl, t, tl) ? 1 : 0;
}

/* Validate one item into it->body.  0 or -1 with err. */
static int prepare(catalogd *d, proto_rd *r, put_item *it, char *err, size_t errlen)
{
    uint32_t n, nf;
    const char *k;
    uint32_t kl;
    char mode[16] = "add", kind[PROTO_KIND_MAX + 1] = "", why[512];
    proto_rd fields = { 0 };
    int have_fields = 0;
    if (proto_rd_map(r, &n))
        return proto_err(err, errlen, "malformed item");
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(r, &k, &kl))
            return proto_err(err, errlen, "malformed item");
        if (kl == 4 && !memcmp(k, "kind", 4))
            proto_rd_strcpy(r, kind, sizeof kind);
        else if (kl == 3 && !memcmp(k, "key", 3))
            proto_rd_strcpy(r, it->key, sizeof it->key);
        else if (kl == 4 && !memcmp(k, "mode", 4))
            proto_rd_strcpy(r, mode, sizeof mode);
        else if (kl == 6 && !memcmp(k, "fields", 6)) {
            fields = *r;
            have_fields = 1;
            proto_rd_skip(r, 4);
        } else
            proto_rd_skip(r, 4);
        if (r->err)
            return proto_err(err, errlen, "malformed item (%s)", r->err);
    }
    size_t ns;
    if (!catalog_fields(kind, &ns))
        return proto_err(err, errlen, "'%s' is not a catalog kind (certification, adoption)", kind);
    /* the schema's own spelling: a kind with a schema is a catalog kind */
    const kind_def *kd = kind_of(kind);
    if (!(kd->flags & KIND_F_CATALOG))
        return proto_err(err, errlen, "'%s' is not a catalog kind (certification, adoption)", kind);
    it->kind = kd->name;
    if (catalog_key_valid(it->key, why, sizeof why))
        return proto_err(err, errlen, "key: %s", why);

    rec_copy cur = { NULL, 0 };
    proto_record cr;
    int own = store_get_current(d->st, &d->id.id, it->kind, it->key, copy_rec, &cur) == 0 && cur.raw &&
              proto_record_decode(cur.raw, cur.len, &cr, NULL, 0) == 0 &&
              !(cr.flags & PROTO_FLAG_TOMBSTONE);
    it->existed = own;
    if (!strcmp(mode, "add") && own) {
        free(cur.raw);
        return proto_err(err, errlen, "%s %s already exists (seq %llu); use update", it->kind, it->key,
                         (unsigned long long)cr.seq);
    }
    if (!strcmp(mode, "update") && !own) {
        free(cur.raw);
        owner_find o = { d, it->kind, it->key, "" };
        store_members(d->st, owner_cb, &o);
        if (o.who[0])
            return proto_err(err, errlen, "%s %s belongs to %s; only its author can change it",
                             it->kind, it->key, o.who);
        return proto_err(err, errlen, "this member has no %s %s", it->kind, it->key);
    }
    if (strcmp(mode, "add") && strcmp(mode, "update") && strcmp(mode, "upsert")) {
        free(cur.raw);
        return proto_err(err, errlen, "mode must be add, update or upsert");
    }

    kv_list kv = { 0 };
    int rc = 0;
    /* update and upsert start from the current fields (an upsert replaces
     * them: a re-imported row is the whole record) */
    if (own && !strcmp(mode, "update"))
        proto_body_foreach(&cr, kv_from_body, &kv);
    if (have_fields && proto_rd_array(&fields, &nf) == 0) {
        for (uint32_t i = 0; i < nf && rc == 0; i++) {
            uint32_t two, fl2, vl;
            const char *f, *v;
            char buf[512];
            if (proto_rd_array(&fields, &two) || two != 2 || proto_rd_str(&fields, &f, &fl2) ||
                proto_rd_str(&fields, &v, &vl)) {
                rc = proto_err(err, errlen, "malformed fields");
                break;
            }
            char *vz = strndup(v, vl), *fz = strndup(f, fl2);
            const catalog_field *cf = fz ? catalog_field_find(it->kind, fz) : NULL;
            const char *val = vz;
            if (vz && cf && (!strcmp(cf->name, "certification") || !strcmp(cf->name, "derived_from")))
                val = resolve_ref(d, vz, buf, sizeof buf);
            if (!vz || !fz || kv_add(&kv, fz, strlen(fz), val, strlen(val)))
                rc = proto_err(err, errlen, "out of memory");
            free(vz);
            free(fz);
        }
    }
    if (rc == 0 && catalog_build(it->kind, kv.kv, kv.n, &it->body, why, sizeof why))
        rc = proto_err(err, errlen, "%s", why);
    kv_free(&kv);
    if (rc == 0 && own) {
        /* compare with what is stored: same body bytes means no new version */
        proto_body *tmp = it->body;
        uint8_t *probe;
        size_t pl;
        proto_record pr;
        proto_id z = { { 0 } };
        if (proto_record_sign(&z, &z, it->kind, it->key, 1, 0, 0, tmp, d->id.key, &probe, &pl, NULL, 0) == 0) {
            if (proto_record_decode(probe, pl, &pr, NULL, 0) == 0 && pr.body_len == cr.body_len &&
                !memcmp(pr.body, cr.body, pr.body_len))
                it->unchanged = 1;
            free(probe);
        }
    }
    free(cur.raw);
    return rc;
}

static int cmp_item_key(const void *a, const void *b)
{
    const put_item *x = *(put_item *const *)a, *y = *(put_item *const *)b;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->key, y->key);
}

int catalog_cmd_put(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                    char *err, size_t errlen)
{
    proto_rd r;
    uint32_t n;
    char why[768];
    if (proto_map_find(req, len, "items", &r) || proto_rd_array(&r, &n) || n == 0 || n > ITEMS_MAX)
        return proto_err(err, errlen, "cput needs 1..%u items", ITEMS_MAX);
    put_item *items = calloc(n, sizeof *items);
    store_write_item *w = calloc(n, sizeof *w);
    int rc = 0;
    size_t nw = 0;
    if (!items || !w) {
        free(items);
        free(w);
        return proto_err(err, errlen, "out of memory");
    }
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (prepare(d, &r, &items[i], why, sizeof why))
            rc = n > 1 ? proto_err(err, errlen, "item %u (%s): %s", i + 1, items[i].key, why)
                       : proto_err(err, errlen, "%s", why);
    }
    /* the same key twice in one batch would make the second silently win */
    if (rc == 0 && n > 1) {
        put_item **sorted = malloc(n * sizeof *sorted);
        for (uint32_t i = 0; sorted && i < n; i++)
            sorted[i] = &items[i];
        if (sorted) {
            qsort(sorted, n, sizeof *sorted, cmp_item_key);
            for (uint32_t i = 1; i < n && rc == 0; i++)
                if (!cmp_item_key(&sorted[i - 1], &sorted[i]))
                    rc = proto_err(err, errlen, "%s %s appears twice in one request", sorted[i]->kind,
                                   sorted[i]->key);
        }
        free(sorted);
    }
    if (rc == 0) {
        for (uint32_t i = 0; i < n; i++) {
            if (items[i].unchanged)
                continue;
            w[nw].kind = items[i].kind;
            w[nw].key = items[i].key;
            w[nw].body = items[i].body;
            nw++;
        }
        if (nw && node_publish(d, w, nw, err, errlen))
            rc = -1;
    }
    if (rc == 0) {
        msgpack_pack_map(pk, 2);
        proto_pack_kv_bool(pk, "ok", 1);
        proto_pack_cstr(pk, "results");
        msgpack_pack_array(pk, n);
        size_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            msgpack_pack_array(pk, 3);
            proto_pack_cstr(pk, items[i].key);
            proto_pack_cstr(pk, items[i].unchanged ? "unchanged" : items[i].existed ? "updated" : "created");
            uint64_t seq = 0;
            if (!items[i].unchanged) {
                proto_record pr;
                if (proto_record_decode(w[k].out, w[k].out_len, &pr, NULL, 0) == 0)
                    seq = pr.seq;
                k++;
            }
            msgpack_pack_uint64(pk, seq);
        }
        if (nw)
            log_info("catalog: wrote %zu record%s", nw, nw == 1 ? "" : "s");
    }
    for (size_t i = 0; i < nw; i++)
        free(w[i].out);
    for (uint32_t i = 0; i < n; i++)
        proto_body_free(items[i].body);
    free(items);
    free(w);
    catalogd_churn(d, len);
    return rc;
}

/* ---- members table for replies ---- */

typedef struct { msgpack_sbuffer tmp; msgpack_packer tpk; uint32_t n; } mem_pack;

static int pack_member(void *ctx, const store_member *m)
{
    mem_pack *mp = ctx;
    char ids[PROTO_ID_STR];
    proto_id_str(&m->id, ids);
    msgpack_pack_array(&mp->tpk, 3);
    proto_pack_cstr(&mp->tpk, ids);
    proto_pack_cstr(&mp->tpk, m->code);
    proto_pack_cstr(&mp->tpk, m->name);
    mp->n++;
    return 0;
}

static void pack_members(catalogd *d, msgpack_packer *pk)
{
    mem_pack mp = { .n = 0 };
    msgpack_sbuffer_init(&mp.tmp);
    msgpack_packer_init(&mp.tpk, &mp.tmp, msgpack_sbuffer_write);
    store_members(d->st, pack_member, &mp);
    proto_pack_cstr(pk, "members");
    msgpack_pack_array(pk, mp.n);
    if (mp.tmp.size)
        msgpack_sbuffer_write(pk->data, mp.tmp.data, mp.tmp.size);
    msgpack_sbuffer_destroy(&mp.tmp);
}

/* ---- cfind ---- */

typedef struct { catalogd *d; const char *kind, *key; control_list *l; } find_ctx;

static int find_cb(void *ctx, const store_member *m)
{
    find_ctx *f = ctx;
    store_get_current(f->d->st, &m->id, f->kind, f->key, control_list_rec, f->l);
    return 0;
}

int catalog_cmd_find(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1], author[128] = "";
    if (proto_map_str(req, len, "kind", kind, sizeof kind) || proto_map_str(req, len, "key", key, sizeof key))
        return proto_err(err, errlen, "find needs kind and key");
    proto_map_str(req, len, "author", author, sizeof author);
    control_list l;
    control_list_begin(&l);
    if (author[0]) {
        proto_id id;
        if (member_ref(d, author, &id)) {
            msgpack_sbuffer_destroy(&l.tmp);
            return proto_err(err, errlen, "no member %s", author);
        }
        store_get_current(d->st, &id, kind, key, control_list_rec, &l);
    } else {
        find_ctx f = { d, kind, key, &l };
        store_members(d->st, find_cb, &f);
    }
    msgpack_pack_map(pk, 3);
    proto_pack_kv_bool(pk, "ok", 1);
    control_list_end(&l, pk, "records");
    pack_members(d, pk);
    return 0;
}

/* ---- csearch ----
 *
 * Search runs over an in-memory index of the current certifications and
 * adoptions.  It holds what a filter needs and nothing else — normalised
 * search text (all of it in one arena), policy areas as a bit mask, dates
 * and 法人番号 as numbers, the product — plus (author, seq) to read a hit's
 * record back from the store, so the index of 100,000 certifications takes
 * a few tens of MB, not a copy of the catalog.  Certifications are sorted
 * by product key, so "every certification of a matched product" is a
 * contiguous range.  The index is rebuilt when a certification or adoption
 * has changed since it was built (d->catalog_gen; other kinds, such as
 * member records, leave it alone); the rebuild reuses the entries of
 * versions still current (see "rebuilding from the previous index"), so a
 * search after such a change pays ~0.2 s at 100,000 certifications instead
 * of the ~1.2 s of a build from scratch.
 */

typedef struct {
    size_t norm;         /* offset of the normalised text in the arena */
    uint64_t seq;
    uint64_t corp;       /* 法人番号, NO_CORP if absent */
    uint32_t author;     /* index into the index's author table */
    uint32_t prod;       /* product number (certifications: index of first of its range) */
    uint32_t areas;      /* bit i = catalog_areas[i] */
    int32_t cert_on, valid_until;   /* yyyymmdd, 0 if absent */
    uint8_t is_public;
    uint8_t status;      /* 0 認定中/期間満了 by date, 1 停止, 2 取消 */
} cidx;

#define NO_PROD UINT32_MAX
#define NO_CORP UINT64_MAX

struct catalog_index {
    uint64_t gen;        /* d->catalog_gen it was built at */
    int built;
    cidx *c, *a;
    size_t nc, na, capc, capa;
    proto_id *authors;
    size_t nauthors, capauthors;
    char *arena;         /* normalised texts, NUL-terminated */
    size_t arena_used, arena_cap;
};

static struct catalog_index g_idx;   /* one daemon per process */

/* Per certification, in the same order as g_idx.c: 128-bit hashes of its
 * product key and of its "AUTHOR/KEY" reference (what an adoption cites).
 * Hashes, not the strings, keep the index small; at 128 bits two different
 * products or references never collide in practice. */
typedef struct { uint64_t pk[2], ref[2]; } cextra;
static cextra *g_extra;
static size_t g_capextra;

static void hash128(const char *s, uint64_t out[2])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), h);
    memcpy(out, h, 16);
}

static void extra_free(void);

static void idx_free(struct catalog_index *x)
{
    if (x == &g_idx)
        extra_free();
    free(x->c);
    free(x->a);
    free(x->authors);
    free(x->arena);
    memset(x, 0, sizeof *x);
}

void catalog_index_free(void)
{
    idx_free(&g_idx);
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

static uint32_t author_slot(struct catalog_index *x, const proto_id *a)
{
    /* members are few (an alliance, not the world): the last one usually repeats */
    for (size_t i = x->nauthors; i-- > 0;)
        if (!memcmp(&x->authors[i], a, 32))
            return (uint32_t)i;
    if (grow((void **)&x->authors, &x->capauthors, x->nauthors + 1, sizeof *x->authors))
        return UINT32_MAX;
    x->authors[x->nauthors] = *a;
    return (uint32_t)x->nauthors++;
}

typedef struct { char *buf; size_t used, cap; } textbuf;

static int text_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    static const char *fields[] = { "company", "product", "summary", "tags", "address" };
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

static int area_bits_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    uint32_t *bits = ctx;
    if (fl != 5 || memcmp(f, "areas", 5))
        return 0;
    /* stored spellings are canonical: compare exactly */
    for (size_t i = 0; catalog_areas[i]; i++) {
        size_t al = strlen(catalog_areas[i]);
        for (size_t p = 0; p + al <= tl; p++)
            if (!memcmp(t + p, catalog_areas[i], al) && (p == 0 || t[p - 1] == ' ') &&
                (p + al == tl || t[p + al] == ','))
                *bits |= 1u << i;
    }
    return 1;
}

static int date_num(const proto_record *r, const char *field)
{
    char v[16];
    jp_date dt;
    if (proto_body_copy_str(r, field, v, sizeof v) || jp_date_parse(v, &dt, NULL, 0))
        return 0;
    return dt.y * 10000 + dt.m * 100 + dt.d;
}

static void ref_hash(const proto_id *author, const char *key, uint64_t out[2])
{
    char ids[PROTO_ID_STR], ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
    proto_id_str(author, ids);
    snprintf(ref, sizeof ref, "%s/%s", ids, key);
    hash128(ref, out);
}

typedef struct { int cert, failed; } build_ctx;

/* One current record into the index; returns non-zero to stop (out of memory). */
static int build_cb(void *ctx, const uint8_t *rec, size_t len)
{
    build_ctx *b = ctx;
    struct catalog_index *x = &g_idx;
    proto_record r;
    if (proto_record_decode(rec, len, &r, NULL, 0) || (r.flags & PROTO_FLAG_TOMBSTONE))
        return 0;
    cidx e;
    memset(&e, 0, sizeof e);
    e.seq = r.seq;
    e.author = author_slot(x, &r.author);
    char vis[16] = "";
    proto_body_copy_str(&r, "visibility", vis, sizeof vis);
    e.is_public = !strcmp(vis, "public");
    e.prod = NO_PROD;
    if (e.author == UINT32_MAX)
        goto oom;
    if (!b->cert) {
        /* resolve the cited certification after the certifications are sorted;
         * the reference waits in the arena until then */
        char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        if (proto_body_copy_str(&r, "certification", ref, sizeof ref))
            ref[0] = 0;
        size_t rl = strlen(ref) + 1;
        if (grow((void **)&x->arena, &x->arena_cap, x->arena_used + rl, 1) ||
            grow((void **)&x->a, &x->capa, x->na + 1, sizeof *x->a))
            goto oom;
        e.norm = x->arena_used;
        memcpy(x->arena + x->arena_used, ref, rl);
        x->arena_used += rl;
        x->a[x->na++] = e;
        return 0;
    }
    static char text[24000], norm[48000];
    textbuf tb = { text, 0, sizeof text };
    text[0] = 0;
    proto_body_foreach(&r, text_cb, &tb);
    if (catalog_norm(text, tb.used, norm, sizeof norm))
        norm[0] = 0;
    size_t nl = strlen(norm) + 1;
    char pk[700];
    if (catalog_product_key(&r, pk, sizeof pk))
        snprintf(pk, sizeof pk, "-|%s", r.key);
    if (grow((void **)&x->arena, &x->arena_cap, x->arena_used + nl, 1) ||
        grow((void **)&x->c, &x->capc, x->nc + 1, sizeof *x->c) ||
        grow((void **)&g_extra, &g_capextra, x->nc + 1, sizeof *g_extra))
        goto oom;
    e.norm = x->arena_used;
    memcpy(x->arena + x->arena_used, norm, nl);
    x->arena_used += nl;
    proto_body_foreach(&r, area_bits_cb, &e.areas);
    e.cert_on = date_num(&r, "certified_on");
    e.valid_until = date_num(&r, "valid_until");
    /* the product key starts with the normalised 13-digit 法人番号 (or "-"):
     * the same number whatever width or hyphens the record was written with */
    e.corp = NO_CORP;
    if (strspn(pk, "0123456789") == 13 && pk[13] == '|')
        e.corp = strtoull(pk, NULL, 10);
    char st[32] = "";
    proto_body_copy_str(&r, "status", st, sizeof st);
    e.status = !strcmp(st, "停止") ? 1 : !strcmp(st, "取消") ? 2 : 0;
    hash128(pk, g_extra[x->nc].pk);
    ref_hash(&r.author, r.key, g_extra[x->nc].ref);
    x->c[x->nc++] = e;
    return 0;
oom:
    b->failed = 1;
    return 1;
}

static int cmp_u128(const uint64_t *x, const uint64_t *y)
{
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* products ordered by 法人番号, then by product (hash order) */
static int cmp_prod(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (g_idx.c[i].corp != g_idx.c[j].corp)
        return g_idx.c[i].corp < g_idx.c[j].corp ? -1 : 1;
    int c = cmp_u128(g_extra[i].pk, g_extra[j].pk);
    return c ? c : (i > j) - (i < j);
}

static int cmp_ref(const void *a, const void *b)
{
    return cmp_u128(g_extra[*(const size_t *)a].ref, g_extra[*(const size_t *)b].ref);
}

/* Position of the certification whose reference hashes to `h` (by_ref sorted), or -1. */
static long find_ref(const size_t *by_ref, size_t n, const uint64_t h[2])
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = cmp_u128(g_extra[by_ref[mid]].ref, h);
        if (c == 0)
            return (long)by_ref[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void extra_free(void)
{
    free(g_extra);
    g_extra = NULL;
    g_capextra = 0;
}

/* ---- rebuilding from the previous index ----
 *
 * Everything an entry holds is derived from one record version, which never
 * changes: a rebuild copies the entries whose (author, seq) is still current
 * and decodes and normalises only the versions that are new.  The arena is
 * taken over as it is (new texts are appended; it is compacted when most of
 * it is no longer referenced). */

typedef struct {
    const struct catalog_index *old;
    const cextra *old_extra;
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
    struct catalog_index *x = &g_idx;
    const struct catalog_index *o = r->old;
    if (flags & PROTO_FLAG_TOMBSTONE)
        return 0;
    for (size_t h = ref_hash_slot(author, seq, r->mask); r->slots[h]; h = (h + 1) & r->mask) {
        uint32_t v = r->slots[h] - 1;
        int adoption = (v >> 31) & 1;
        const cidx *e = adoption ? &o->a[v & 0x7fffffffu] : &o->c[v];
        if (adoption == !r->cert && e->seq == seq && !memcmp(&o->authors[e->author], author, 32)) {
            cidx n = *e;
            n.author = author_slot(x, author);
            if (n.author == UINT32_MAX)
                goto oom;
            if (r->cert) {
                if (grow((void **)&x->c, &x->capc, x->nc + 1, sizeof *x->c) ||
                    grow((void **)&g_extra, &g_capextra, x->nc + 1, sizeof *g_extra))
                    goto oom;
                g_extra[x->nc] = r->old_extra[v];
                x->c[x->nc++] = n;
            } else {
                if (grow((void **)&x->a, &x->capa, x->na + 1, sizeof *x->a))
                    goto oom;
                x->a[x->na++] = n;
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

/* Fill g_idx from `old` plus the new versions; 0, or -1 (then g_idx is
 * to be freed and built from scratch). */
/* Certifications then adoptions, as one sequence. */
static cidx *entry_at(const struct catalog_index *x, size_t i)
{
    return i < x->nc ? &x->c[i] : &x->a[i - x->nc];
}

static int idx_collect_reuse(catalogd *d, struct catalog_index *old, cextra *old_extra)
{
    struct catalog_index *x = &g_idx;
    reuse_ctx r = { .old = old, .old_extra = old_extra };
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
    x->arena = old->arena;
    x->arena_used = old->arena_used;
    x->arena_cap = old->arena_cap;
    old->arena = NULL;
    build_ctx b = { 1, 0 };
    for (int pass = 0; pass < 2 && !r.failed && !b.failed; pass++) {
        r.cert = b.cert = pass == 0;
        r.nmissing = 0;
        store_foreach_current_ref(d->st, r.cert ? "certification" : "adoption", reuse_cb, &r);
        if (!r.failed)
            store_get_refs(d->st, r.missing, r.nmissing, build_cb, &b);
    }
    if (r.failed || b.failed)
        goto out;
    /* compact the arena once most of it is text of versions gone */
    size_t live = 0;
    for (size_t i = 0; i < x->nc + x->na; i++)
        live += strlen(x->arena + entry_at(x, i)->norm) + 1;
    if (x->arena_used > 2 * live + (1u << 20)) {
        char *na = malloc(live ? live : 1);
        if (!na)
            goto out;
        size_t o = 0;
        for (size_t i = 0; i < x->nc + x->na; i++) {
            cidx *e = entry_at(x, i);
            size_t l = strlen(x->arena + e->norm) + 1;
            memcpy(na + o, x->arena + e->norm, l);
            e->norm = o;
            o += l;
        }
        free(x->arena);
        x->arena = na;
        x->arena_used = x->arena_cap = o;
    }
    rc = 0;
out:
    free(r.slots);
    free(r.missing);
    return rc;
}

static int idx_finish(catalogd *d);

static int idx_build(catalogd *d)
{
    build_ctx b = { 1, 0 };
    catalogd_churn(d, CATALOGD_CHURN_NOW);   /* start from a trimmed heap */
    store_foreach_current(d->st, "certification", build_cb, &b);
    if (!b.failed) {
        b.cert = 0;
        store_foreach_current(d->st, "adoption", build_cb, &b);
    }
    store_release_pages(d->st);
    return b.failed ? -1 : idx_finish(d);
}

/* Sort the certifications by product, number the products, point every
 * adoption at its certification's product. */
static int idx_finish(catalogd *d)
{
    struct catalog_index *x = &g_idx;
    size_t nc = x->nc;
    size_t *order = malloc((nc ? nc : 1) * sizeof *order);
    cidx *sorted = malloc((nc ? nc : 1) * sizeof *sorted);
    cextra *sextra = malloc((nc ? nc : 1) * sizeof *sextra);
    if (!order || !sorted || !sextra) {
        free(order);
        free(sorted);
        free(sextra);
        return -1;
    }
    /* order certifications by product; number the products */
    for (size_t i = 0; i < nc; i++)
        order[i] = i;
    qsort(order, nc, sizeof *order, cmp_prod);
    for (size_t i = 0; i < nc; i++) {
        sorted[i] = x->c[order[i]];
        sextra[i] = g_extra[order[i]];
        sorted[i].prod = i && sorted[i].corp == sorted[i - 1].corp &&
                         !cmp_u128(sextra[i].pk, sextra[i - 1].pk) ? sorted[i - 1].prod : (uint32_t)i;
    }
    free(x->c);
    free(g_extra);
    x->c = sorted;
    x->capc = nc;
    g_extra = sextra;
    g_capextra = nc;
    /* adoptions: the product of the certification each cites */
    for (size_t i = 0; i < nc; i++)
        order[i] = i;
    qsort(order, nc, sizeof *order, cmp_ref);
    for (size_t j = 0; j < x->na; j++) {
        uint64_t h[2];
        hash128(x->arena + x->a[j].norm, h);
        long ci = find_ref(order, nc, h);
        x->a[j].prod = ci < 0 ? NO_PROD : x->c[ci].prod;
    }
    free(order);
    /* the arena stays as large as it had to be: give back the slack */
    char *ar = realloc(x->arena, x->arena_used ? x->arena_used : 1);
    if (ar) {
        x->arena = ar;
        x->arena_cap = x->arena_used ? x->arena_used : 1;
    }
    return 0;
}

static int idx_ensure(catalogd *d)
{
    if (g_idx.built && g_idx.gen == d->catalog_gen)
        return 0;
    uint64_t gen = d->catalog_gen;
    int rc = -1;
    if (g_idx.built) {
        struct catalog_index old = g_idx;
        cextra *old_extra = g_extra;
        memset(&g_idx, 0, sizeof g_idx);
        g_extra = NULL;
        g_capextra = 0;
        rc = idx_collect_reuse(d, &old, old_extra);
        idx_free(&old);          /* (its arena, if taken over, is NULL here) */
        free(old_extra);
        if (rc == 0)
            rc = idx_finish(d);
        if (rc)
            idx_free(&g_idx);
    }
    if (rc && idx_build(d)) {
        idx_free(&g_idx);
        return -1;
    }
    g_idx.gen = gen;
    g_idx.built = 1;
    catalogd_churn(d, CATALOGD_CHURN_NOW);   /* the build's temporary arrays */
    log_debug("catalog index: %zu certifications, %zu adoptions, %zu bytes of text",
              g_idx.nc, g_idx.na, g_idx.arena_used);
    return 0;
}

/* Does normalised `hay` contain every space-separated word of normalised q? */
static int words_match(const char *hay, const char *q)
{
    char w[512];
    if (!hay)
        return 0;
    while (*q) {
        while (*q == ' ')
            q++;
        size_t n = strcspn(q, " ");
        if (!n)
            break;
        if (n >= sizeof w)
            n = sizeof w - 1;
        memcpy(w, q, n);
        w[n] = 0;
        if (!strstr(hay, w))
            return 0;
        q += n;
    }
    return 1;
}

static int today_num(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

static const char *status_word(const char *s)
{
    if (!strcmp(s, "active")) return "認定中";
    if (!strcmp(s, "suspended")) return "停止";
    if (!strcmp(s, "revoked")) return "取消";
    if (!strcmp(s, "expired")) return "期間満了";
    return s;
}

/* Read the records of the entries marked in `sel` back from the store. */
static int list_hits(catalogd *d, const cidx *v, size_t n, const uint8_t *sel, control_list *l)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += sel[i];
    if (!k)
        return 0;
    store_ref *refs = malloc(k * sizeof *refs);
    if (!refs)
        return -1;
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (sel[i]) {
            refs[k].author = g_idx.authors[v[i].author];
            refs[k++].seq = v[i].seq;
        }
    store_get_refs(d->st, refs, k, control_list_rec, l);
    free(refs);
    return 0;
}

int catalog_cmd_search(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    char q[512] = "", qn[1024] = "", area[128] = "", arean[256] = "", member[128] = "", status[32] = "",
         valid_on[16] = "", corp[32] = "", adopted_by[128] = "";
    uint64_t not_mine = 0, public_only = 0, all = 0, limit = 0;
    proto_id mid, aid;
    jp_date von = { 0, 0, 0 };
    proto_map_str(req, len, "q", q, sizeof q);
    proto_map_str(req, len, "area", area, sizeof area);
    proto_map_str(req, len, "member", member, sizeof member);
    proto_map_str(req, len, "status", status, sizeof status);
    proto_map_str(req, len, "valid_on", valid_on, sizeof valid_on);
    proto_map_str(req, len, "corporate_number", corp, sizeof corp);
    proto_map_str(req, len, "adopted_by", adopted_by, sizeof adopted_by);
    proto_map_u64(req, len, "not_adopted_by_me", &not_mine);
    proto_map_u64(req, len, "public_only", &public_only);
    proto_map_u64(req, len, "all", &all);
    proto_map_u64(req, len, "limit", &limit);
    if (q[0] && catalog_norm(q, strlen(q), qn, sizeof qn))
        return proto_err(err, errlen, "search words are not valid UTF-8");
    uint32_t area_bit = 0;
    if (area[0]) {
        catalog_norm(area, strlen(area), arean, sizeof arean);
        for (size_t i = 0; catalog_areas[i]; i++) {
            char an[256];
            if (catalog_norm(catalog_areas[i], strlen(catalog_areas[i]), an, sizeof an) == 0 && !strcmp(an, arean))
                area_bit = 1u << i;
        }
        if (!area_bit)
            return proto_err(err, errlen, "unknown policy area '%s'", area);
    }
    if (member[0] && member_ref(d, member, &mid))
        return proto_err(err, errlen, "no current member %s (give a municipality code or member id)", member);
    if (adopted_by[0] && member_ref(d, adopted_by, &aid))
        return proto_err(err, errlen, "no current member %s (give a municipality code or member id)", adopted_by);
    if (valid_on[0] && jp_date_parse(valid_on, &von, err, errlen))
        return -1;
    int vnum = von.y * 10000 + von.m * 100 + von.d;
    const char *want_status = status[0] ? status_word(status) : NULL;
    int want_st = -1;
    if (want_status) {
        static const char *sw[] = { "認定中", "停止", "取消", "期間満了" };
        for (int i = 0; i < 4; i++)
            if (!strcmp(want_status, sw[i]))
                want_st = i;
        if (want_st < 0)
            return proto_err(err, errlen, "status must be 認定中, 停止, 取消 or 期間満了");
    }
    char corpd[32] = "";
    for (size_t i = 0, o = 0; corp[i] && o < sizeof corpd - 1; i++)
        if (corp[i] >= '0' && corp[i] <= '9')
            corpd[o++] = corp[i];
    if (idx_ensure(d))
        return proto_err(err, errlen, "store unavailable");

    size_t nc = g_idx.nc, na = g_idx.na;
    uint64_t corpn = strlen(corpd) == 13 ? strtoull(corpd, NULL, 10) : NO_CORP - 1;   /* matches none */
    uint32_t mslot = UINT32_MAX, aslot = UINT32_MAX, myslot = UINT32_MAX;
    for (size_t i = 0; i < g_idx.nauthors; i++) {
        if (member[0] && !memcmp(&g_idx.authors[i], &mid, 32))
            mslot = (uint32_t)i;
        if (adopted_by[0] && !memcmp(&g_idx.authors[i], &aid, 32))
            aslot = (uint32_t)i;
        if (!memcmp(&g_idx.authors[i], &d->id.id, 32))
            myslot = (uint32_t)i;
    }
    uint8_t *inc = calloc(nc ? nc : 1, 1), *prod_hit = calloc(nc ? nc : 1, 1), *ainc = calloc(na ? na : 1, 1);
    if (!inc || !prod_hit || !ainc) {
        free(inc);
        free(prod_hit);
        free(ainc);
        return proto_err(err, errlen, "out of memory");
    }
    int today = today_num();
    for (size_t i = 0; i < nc; i++) {
        cidx *c = &g_idx.c[i];
        if (public_only && !c->is_public)
            continue;
        if (!all) {
            if (member[0] && c->author != mslot)
                continue;
            if (corpd[0] && c->corp != corpn)
                continue;
            if (want_st >= 0) {
                int st = c->status ? c->status : (c->valid_until && c->valid_until < today ? 3 : 0);
                if (st != want_st)
                    continue;
            }
            if (vnum && !(c->cert_on && c->valid_until && c->cert_on <= vnum && vnum <= c->valid_until))
                continue;
            if (area_bit && !(c->areas & area_bit))
                continue;
            if (qn[0] && !words_match(g_idx.arena + c->norm, qn))
                continue;
        }
        prod_hit[c->prod] = 1;
    }
    /* widen to whole products, then product-level adoption filters */
    for (size_t i = 0; i < nc; i++)
        if (prod_hit[g_idx.c[i].prod] && (!public_only || g_idx.c[i].is_public))
            inc[i] = 1;
    if (!all && (adopted_by[0] || not_mine)) {
        uint8_t *by_x = calloc(nc ? nc : 1, 1), *by_me = calloc(nc ? nc : 1, 1);
        for (size_t j = 0; by_x && by_me && j < na; j++) {
            size_t p = g_idx.a[j].prod;
            if (p == NO_PROD)
                continue;
            if (adopted_by[0] && g_idx.a[j].author == aslot)
                by_x[p] = 1;
            if (g_idx.a[j].author == myslot)
                by_me[p] = 1;
        }
        for (size_t i = 0; by_x && by_me && i < nc; i++) {
            size_t p = g_idx.c[i].prod;
            if ((adopted_by[0] && !by_x[p]) || (not_mine && by_me[p]))
                inc[i] = 0;
        }
        free(by_x);
        free(by_me);
    }
    /* limit counts products (people read a page of them) */
    size_t products = 0;
    for (size_t i = 0; i < nc; i++) {
        if (!inc[i] || (i && g_idx.c[i].prod == g_idx.c[i - 1].prod && inc[i - 1]))
            continue;
        products++;
        if (limit && products > limit) {
            for (size_t k = i; k < nc && g_idx.c[k].prod == g_idx.c[i].prod; k++)
                inc[k] = 0;
        }
    }
    memset(prod_hit, 0, nc ? nc : 1);
    for (size_t i = 0; i < nc; i++)
        if (inc[i])
            prod_hit[g_idx.c[i].prod] = 1;
    for (size_t j = 0; j < na; j++) {
        cidx *a = &g_idx.a[j];
        if (public_only && !a->is_public)
            continue;
        if (a->prod != NO_PROD ? prod_hit[a->prod] : all)
            ainc[j] = 1;   /* an export keeps adoptions of unknown certifications too */
    }
    control_list lc, la;
    control_list_begin(&lc);
    control_list_begin(&la);
    if (list_hits(d, g_idx.c, nc, inc, &lc) || list_hits(d, g_idx.a, na, ainc, &la)) {
        msgpack_sbuffer_destroy(&lc.tmp);
        msgpack_sbuffer_destroy(&la.tmp);
        free(inc);
        free(prod_hit);
        free(ainc);
        return proto_err(err, errlen, "out of memory");
    }
    msgpack_pack_map(pk, 5);
    proto_pack_kv_bool(pk, "ok", 1);
    control_list_end(&lc, pk, "certifications");
    control_list_end(&la, pk, "adoptions");
    proto_pack_kv_u64(pk, "products", products);
    pack_members(d, pk);
    free(inc);
    free(prod_hit);
    free(ainc);
    return 0;
}
