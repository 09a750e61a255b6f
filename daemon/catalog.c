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
#include "daemon/ctl.h"
#include "daemon/log.h"
#include "proto/catalog.h"
#include "proto/frame.h"
#include "proto/util.h"

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
    it->kind = strcmp(kind, "certification") ? "adoption" : "certification";
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
        if (nw && store_write_many(d->st, d->id.key, w, nw, err, errlen))
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
        for (size_t i = 0; i < nw; i++)
            gossip_record_added(d, w[i].out, w[i].out_len);
        if (nw)
            log_info("catalog: wrote %zu record%s", nw, nw == 1 ? "" : "s");
    }
    for (size_t i = 0; i < nw; i++)
        free(w[i].out);
    for (uint32_t i = 0; i < n; i++)
        proto_body_free(items[i].body);
    free(items);
    free(w);
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

typedef struct { catalogd *d; const char *kind, *key; ctl_list *l; } find_ctx;

static int find_cb(void *ctx, const store_member *m)
{
    find_ctx *f = ctx;
    store_get_current(f->d->st, &m->id, f->kind, f->key, ctl_list_rec, f->l);
    return 0;
}

int catalog_cmd_find(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1], author[128] = "";
    if (proto_map_str(req, len, "kind", kind, sizeof kind) || proto_map_str(req, len, "key", key, sizeof key))
        return proto_err(err, errlen, "find needs kind and key");
    proto_map_str(req, len, "author", author, sizeof author);
    ctl_list l;
    ctl_list_begin(&l);
    if (author[0]) {
        proto_id id;
        if (member_ref(d, author, &id)) {
            msgpack_sbuffer_destroy(&l.tmp);
            return proto_err(err, errlen, "no member %s", author);
        }
        store_get_current(d->st, &id, kind, key, ctl_list_rec, &l);
    } else {
        find_ctx f = { d, kind, key, &l };
        store_members(d->st, find_cb, &f);
    }
    msgpack_pack_map(pk, 3);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_end(&l, pk, "records");
    pack_members(d, pk);
    return 0;
}

/* ---- csearch ----
 *
 * Search runs over an in-memory index of the current certifications and
 * adoptions: each entry keeps its record bytes, its normalised search text,
 * its policy areas as a bit mask, its dates as numbers and its product.
 * Certifications are sorted by product key, so "every certification of a
 * matched product" is a contiguous range.  The index is rebuilt when the
 * catalog digest has moved since it was built (cheap to check, and a
 * search after a change pays the rebuild once).
 */

typedef struct {
    uint8_t *raw;
    proto_record r;
    char *norm;          /* normalised company, product, summary, tags, address */
    char *pkey;          /* product identity */
    uint32_t areas;      /* bit i = catalog_areas[i] */
    int is_public;
    int cert_on, valid_until;   /* yyyymmdd, 0 if absent */
    char corp[16];
    size_t prod;         /* product number (certifications: index of first of its range) */
    int status;          /* 0 認定中/期間満了 by date, 1 停止, 2 取消 */
} cidx;

struct catalog_index {
    proto_id digest;
    int built;
    cidx *c, *a;
    size_t nc, na, capc, capa;
    char **refs;         /* per certification: "AUTHOR/KEY", sorted copy for lookups */
    size_t *ref_idx;
};

static struct catalog_index g_idx;   /* one daemon per process */

static void idx_free(struct catalog_index *x)
{
    for (size_t i = 0; i < x->nc; i++) {
        free(x->c[i].raw);
        free(x->c[i].norm);
        free(x->c[i].pkey);
    }
    for (size_t i = 0; i < x->na; i++) {
        free(x->a[i].raw);
        free(x->a[i].norm);
        free(x->a[i].pkey);
    }
    for (size_t i = 0; i < x->nc; i++)
        free(x->refs ? x->refs[i] : NULL);
    free(x->refs);
    free(x->ref_idx);
    free(x->c);
    free(x->a);
    memset(x, 0, sizeof *x);
}

void catalog_index_free(void)
{
    idx_free(&g_idx);
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

static int idx_add(catalogd *d, cidx **v, size_t *n, size_t *cap, const uint8_t *rec, size_t len, int cert)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        cidx *nv = realloc(*v, nc * sizeof *nv);
        if (!nv)
            return 1;
        *v = nv;
        *cap = nc;
    }
    cidx *e = &(*v)[*n];
    memset(e, 0, sizeof *e);
    e->raw = malloc(len);
    if (!e->raw)
        return 1;
    memcpy(e->raw, rec, len);
    if (proto_record_decode(e->raw, len, &e->r, NULL, 0) || (e->r.flags & PROTO_FLAG_TOMBSTONE)) {
        free(e->raw);
        return 0;
    }
    char vis[16] = "";
    proto_body_copy_str(&e->r, "visibility", vis, sizeof vis);
    e->is_public = !strcmp(vis, "public");
    if (cert) {
        static char text[24000], norm[48000];
        textbuf tb = { text, 0, sizeof text };
        text[0] = 0;
        proto_body_foreach(&e->r, text_cb, &tb);
        if (catalog_norm(text, tb.used, norm, sizeof norm) == 0)
            e->norm = strdup(norm);
        char pk[700];
        if (catalog_product_key(&e->r, pk, sizeof pk))
            snprintf(pk, sizeof pk, "-|%s", e->r.key);
        e->pkey = strdup(pk);
        proto_body_foreach(&e->r, area_bits_cb, &e->areas);
        e->cert_on = date_num(&e->r, "certified_on");
        e->valid_until = date_num(&e->r, "valid_until");
        proto_body_copy_str(&e->r, "corporate_number", e->corp, sizeof e->corp);
        char st[32] = "";
        proto_body_copy_str(&e->r, "status", st, sizeof st);
        e->status = !strcmp(st, "停止") ? 1 : !strcmp(st, "取消") ? 2 : 0;
    }
    (*n)++;
    (void)d;
    return 0;
}

typedef struct { catalogd *d; int cert; } build_ctx;

static int build_cb(void *ctx, const uint8_t *rec, size_t len)
{
    build_ctx *b = ctx;
    return b->cert ? idx_add(b->d, &g_idx.c, &g_idx.nc, &g_idx.capc, rec, len, 1)
                   : idx_add(b->d, &g_idx.a, &g_idx.na, &g_idx.capa, rec, len, 0);
}

static int cmp_pkey(const void *a, const void *b)
{
    const cidx *x = a, *y = b;
    return strcmp(x->pkey, y->pkey);
}

static const char *const *g_refs;
static int cmp_ref(const void *a, const void *b)
{
    return strcmp(g_refs[*(const size_t *)a], g_refs[*(const size_t *)b]);
}

/* Position of certification `ref` ("AUTHOR/KEY") in the index, or -1. */
static long find_ref(const char *ref)
{
    size_t lo = 0, hi = g_idx.nc;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(g_idx.refs[g_idx.ref_idx[mid]], ref);
        if (c == 0)
            return (long)g_idx.ref_idx[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int idx_ensure(catalogd *d)
{
    proto_id digest;
    if (store_digest_get(d->st, &digest, NULL, NULL))
        return -1;
    if (g_idx.built && !memcmp(&g_idx.digest, &digest, 32))
        return 0;
    idx_free(&g_idx);
    build_ctx b = { d, 1 };
    store_foreach_current(d->st, "certification", build_cb, &b);
    b.cert = 0;
    store_foreach_current(d->st, "adoption", build_cb, &b);
    qsort(g_idx.c, g_idx.nc, sizeof *g_idx.c, cmp_pkey);
    for (size_t i = 0; i < g_idx.nc; i++)
        g_idx.c[i].prod = i && !strcmp(g_idx.c[i].pkey, g_idx.c[i - 1].pkey) ? g_idx.c[i - 1].prod : i;
    g_idx.refs = calloc(g_idx.nc ? g_idx.nc : 1, sizeof *g_idx.refs);
    g_idx.ref_idx = calloc(g_idx.nc ? g_idx.nc : 1, sizeof *g_idx.ref_idx);
    for (size_t i = 0; i < g_idx.nc; i++) {
        char ids[PROTO_ID_STR], ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        proto_id_str(&g_idx.c[i].r.author, ids);
        snprintf(ref, sizeof ref, "%s/%s", ids, g_idx.c[i].r.key);
        g_idx.refs[i] = strdup(ref);
        g_idx.ref_idx[i] = i;
    }
    g_refs = (const char *const *)g_idx.refs;
    qsort(g_idx.ref_idx, g_idx.nc, sizeof *g_idx.ref_idx, cmp_ref);
    for (size_t j = 0; j < g_idx.na; j++) {
        char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        long ci = proto_body_copy_str(&g_idx.a[j].r, "certification", ref, sizeof ref) ? -1 : find_ref(ref);
        g_idx.a[j].prod = ci < 0 ? SIZE_MAX : g_idx.c[ci].prod;
    }
    g_idx.digest = digest;
    g_idx.built = 1;
    log_debug("catalog index: %zu certifications, %zu adoptions", g_idx.nc, g_idx.na);
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
            if (member[0] && memcmp(&c->r.author, &mid, 32))
                continue;
            if (corpd[0] && strcmp(c->corp, corpd))
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
            if (qn[0] && !words_match(c->norm, qn))
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
            if (p == SIZE_MAX)
                continue;
            if (adopted_by[0] && !memcmp(&g_idx.a[j].r.author, &aid, 32))
                by_x[p] = 1;
            if (!memcmp(&g_idx.a[j].r.author, &d->id.id, 32))
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
        if (a->prod != SIZE_MAX ? prod_hit[a->prod] : all)
            ainc[j] = 1;   /* an export keeps adoptions of unknown certifications too */
    }
    ctl_list lc, la;
    ctl_list_begin(&lc);
    ctl_list_begin(&la);
    for (size_t i = 0; i < nc; i++)
        if (inc[i])
            ctl_list_rec(&lc, g_idx.c[i].raw, g_idx.c[i].r.raw_len);
    for (size_t j = 0; j < na; j++)
        if (ainc[j])
            ctl_list_rec(&la, g_idx.a[j].raw, g_idx.a[j].r.raw_len);
    msgpack_pack_map(pk, 5);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_end(&lc, pk, "certifications");
    ctl_list_end(&la, pk, "adoptions");
    proto_pack_kv_u64(pk, "products", products);
    pack_members(d, pk);
    free(inc);
    free(prod_hit);
    free(ainc);
    return 0;
}
