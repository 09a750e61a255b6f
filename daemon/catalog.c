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
    for (uint32_t i = 0; i < n && rc == 0; i++)
        for (uint32_t j = i + 1; j < n && rc == 0; j++)
            if (items[i].kind == items[j].kind && !strcmp(items[i].key, items[j].key))
                rc = proto_err(err, errlen, "items %u and %u have the same key %s", i + 1, j + 1, items[i].key);
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

/* ---- csearch ---- */

typedef struct {
    uint8_t *raw;
    proto_record r;
    char pkey[600];
    char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];   /* AUTHOR/KEY */
    int match, include;
} crec;

typedef struct { crec *v; size_t n, cap; } crec_list;

static int collect(void *ctx, const uint8_t *rec, size_t len)
{
    crec_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        crec *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return 1;
        l->v = nv;
        l->cap = cap;
    }
    crec *c = &l->v[l->n];
    memset(c, 0, sizeof *c);
    c->raw = malloc(len);
    if (!c->raw)
        return 1;
    memcpy(c->raw, rec, len);
    if (proto_record_decode(c->raw, len, &c->r, NULL, 0) || (c->r.flags & PROTO_FLAG_TOMBSTONE)) {
        free(c->raw);
        return 0;
    }
    char ids[PROTO_ID_STR];
    proto_id_str(&c->r.author, ids);
    snprintf(c->ref, sizeof c->ref, "%s/%s", ids, c->r.key);
    l->n++;
    return 0;
}

static void crec_free(crec_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].raw);
    free(l->v);
}

/* Does normalised `hay` contain every space-separated word of normalised q? */
static int words_match(const char *hay, const char *q)
{
    char w[512];
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

static int field_eq_norm(const proto_record *r, const char *field, const char *want_norm)
{
    char nv[2048];
    const char *s;
    size_t n;
    if (proto_body_get_str(r, field, &s, &n))
        return 0;
    return catalog_norm(s, n, nv, sizeof nv) == 0 && !strcmp(nv, want_norm);
}

typedef struct { const char *want; int hit; } area_ctx;

static int area_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    area_ctx *a = ctx;
    if (fl != 5 || memcmp(f, "areas", 5))
        return 0;
    /* the list arrives joined by ", " */
    char buf[2048], nb[4096];
    size_t i = 0;
    while (i < tl) {
        size_t j = i;
        while (j < tl && !(t[j] == ',' && j + 1 < tl && t[j + 1] == ' '))
            j++;
        if (j - i < sizeof buf) {
            memcpy(buf, t + i, j - i);
            if (catalog_norm(buf, j - i, nb, sizeof nb) == 0 && !strcmp(nb, a->want))
                a->hit = 1;
        }
        i = j + 2;
    }
    return a->hit;
}

static int text_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    static const char *fields[] = { "company", "product", "summary", "tags", "address" };
    char *buf = ctx;
    size_t used = strlen(buf);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strlen(fields[i]) == fl && !memcmp(fields[i], f, fl) && used + tl + 2 < 24000) {
            memcpy(buf + used, t, tl);
            buf[used + tl] = ' ';
            buf[used + tl + 1] = 0;
            used += tl + 1;
        }
    return 0;
}

static jp_date today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    jp_date d = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
    return d;
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
    uint64_t not_mine = 0, public_only = 0, all = 0;
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
    if (q[0] && catalog_norm(q, strlen(q), qn, sizeof qn))
        return proto_err(err, errlen, "search words are not valid UTF-8");
    if (area[0]) {
        int known = 0;
        catalog_norm(area, strlen(area), arean, sizeof arean);
        for (size_t i = 0; catalog_areas[i]; i++) {
            char an[256];
            if (catalog_norm(catalog_areas[i], strlen(catalog_areas[i]), an, sizeof an) == 0 && !strcmp(an, arean))
                known = 1;
        }
        if (!known)
            return proto_err(err, errlen, "unknown policy area '%s'", area);
    }
    if (member[0] && member_ref(d, member, &mid))
        return proto_err(err, errlen, "no current member %s (give a municipality code or member id)", member);
    if (adopted_by[0] && member_ref(d, adopted_by, &aid))
        return proto_err(err, errlen, "no current member %s (give a municipality code or member id)", adopted_by);
    if (valid_on[0] && jp_date_parse(valid_on, &von, err, errlen))
        return -1;
    const char *want_status = status[0] ? status_word(status) : NULL;
    if (want_status && strcmp(want_status, "認定中") && strcmp(want_status, "停止") &&
        strcmp(want_status, "取消") && strcmp(want_status, "期間満了"))
        return proto_err(err, errlen, "status must be 認定中, 停止, 取消 or 期間満了");
    /* 法人番号 may be written with hyphens */
    char corpd[32] = "";
    for (size_t i = 0, o = 0; corp[i] && o < sizeof corpd - 1; i++)
        if (corp[i] >= '0' && corp[i] <= '9')
            corpd[o++] = corp[i];

    crec_list certs = { 0 }, adopts = { 0 };
    store_foreach_current(d->st, "certification", collect, &certs);
    store_foreach_current(d->st, "adoption", collect, &adopts);
    jp_date now = today();
    char *text = malloc(24000), *norm = malloc(48000);
    if (!text || !norm) {
        free(text);
        free(norm);
        crec_free(&certs);
        crec_free(&adopts);
        return proto_err(err, errlen, "out of memory");
    }

    for (size_t i = 0; i < certs.n; i++) {
        crec *c = &certs.v[i];
        catalog_product_key(&c->r, c->pkey, sizeof c->pkey);
        int m = 1;
        if (public_only && !field_eq_norm(&c->r, "visibility", "public"))
            m = 0;
        if (all) {
            c->match = m;
            continue;
        }
        if (m && member[0] && memcmp(&c->r.author, &mid, 32))
            m = 0;
        if (m && corpd[0]) {
            char cn[32];
            m = proto_body_copy_str(&c->r, "corporate_number", cn, sizeof cn) == 0 && !strcmp(cn, corpd);
        }
        if (m && want_status)
            m = !strcmp(catalog_status(&c->r, now), want_status);
        if (m && von.y) {
            char a[16], b[16];
            jp_date da, db;
            m = proto_body_copy_str(&c->r, "certified_on", a, sizeof a) == 0 &&
                proto_body_copy_str(&c->r, "valid_until", b, sizeof b) == 0 &&
                jp_date_parse(a, &da, NULL, 0) == 0 && jp_date_parse(b, &db, NULL, 0) == 0 &&
                jp_date_cmp(da, von) <= 0 && jp_date_cmp(von, db) <= 0;
        }
        if (m && area[0]) {
            area_ctx a = { arean, 0 };
            proto_body_foreach(&c->r, area_cb, &a);
            m = a.hit;
        }
        if (m && qn[0]) {
            text[0] = 0;
            proto_body_foreach(&c->r, text_cb, text);
            m = catalog_norm(text, strlen(text), norm, 48000) == 0 && words_match(norm, qn);
        }
        c->match = m;
    }
    /* widen to products: every certification of a matched product */
    for (size_t i = 0; i < certs.n; i++) {
        if (!certs.v[i].match)
            continue;
        for (size_t j = 0; j < certs.n; j++)
            if (!certs.v[j].include && !strcmp(certs.v[j].pkey, certs.v[i].pkey) &&
                (!public_only || field_eq_norm(&certs.v[j].r, "visibility", "public")))
                certs.v[j].include = 1;
    }
    /* adoptions citing included certifications; product-level adoption filters */
    for (size_t j = 0; j < adopts.n; j++) {
        char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        crec *a = &adopts.v[j];
        if (public_only && !field_eq_norm(&a->r, "visibility", "public"))
            continue;
        if (proto_body_copy_str(&a->r, "certification", ref, sizeof ref))
            continue;
        for (size_t i = 0; i < certs.n; i++)
            if (!strcmp(certs.v[i].ref, ref)) {
                snprintf(a->pkey, sizeof a->pkey, "%s", certs.v[i].pkey);
                if (certs.v[i].include || all)
                    a->include = 1;
                break;
            }
        if (all && !a->pkey[0])
            a->include = 1;   /* an export keeps adoptions of unknown certifications too */
    }
    if (!all && (adopted_by[0] || not_mine)) {
        for (size_t i = 0; i < certs.n; i++) {
            if (!certs.v[i].include)
                continue;
            int by_x = 0, by_me = 0;
            for (size_t j = 0; j < adopts.n; j++) {
                if (strcmp(adopts.v[j].pkey, certs.v[i].pkey))
                    continue;
                if (adopted_by[0] && !memcmp(&adopts.v[j].r.author, &aid, 32))
                    by_x = 1;
                if (!memcmp(&adopts.v[j].r.author, &d->id.id, 32))
                    by_me = 1;
            }
            if ((adopted_by[0] && !by_x) || (not_mine && by_me))
                certs.v[i].include = 0;
        }
        for (size_t j = 0; j < adopts.n; j++) {
            if (!adopts.v[j].include)
                continue;
            int keep = 0;
            for (size_t i = 0; i < certs.n && !keep; i++)
                keep = certs.v[i].include && !strcmp(certs.v[i].pkey, adopts.v[j].pkey);
            adopts.v[j].include = keep;
        }
    }
    ctl_list lc, la;
    ctl_list_begin(&lc);
    ctl_list_begin(&la);
    for (size_t i = 0; i < certs.n; i++)
        if (certs.v[i].include || (all && certs.v[i].match))
            ctl_list_rec(&lc, certs.v[i].raw, certs.v[i].r.raw_len);
    for (size_t j = 0; j < adopts.n; j++)
        if (adopts.v[j].include)
            ctl_list_rec(&la, adopts.v[j].raw, adopts.v[j].r.raw_len);
    msgpack_pack_map(pk, 4);
    proto_pack_kv_bool(pk, "ok", 1);
    ctl_list_end(&lc, pk, "certifications");
    ctl_list_end(&la, pk, "adoptions");
    pack_members(d, pk);
    free(text);
    free(norm);
    crec_free(&certs);
    crec_free(&adopts);
    return 0;
}
