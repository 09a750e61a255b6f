/* catalog/write.c — the catalog's write path; see write.h. */
#include "catalog/write.h"
#include "catalog/ref.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int catalog_put_mode_parse(const char *s)
{
    if (!s || !strcmp(s, "add"))
        return CATALOG_PUT_ADD;
    if (!strcmp(s, "update"))
        return CATALOG_PUT_UPDATE;
    if (!strcmp(s, "upsert"))
        return CATALOG_PUT_UPSERT;
    return -1;
}

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

/* Who holds (kind, key)?  For the "only its author may change it" message. */
typedef struct { store *st; const char *kind, *key; char who[512]; } owner_find;

static int owner_cb(void *ctx, const store_member *m)
{
    owner_find *o = ctx;
    rec_copy c = { NULL, 0 };
    if (store_get_current(o->st, &m->id, o->kind, o->key, copy_rec, &c) == 0 && c.raw) {
        char ids[PROTO_ID_STR];
        proto_id_str(&m->id, ids);
        snprintf(o->who, sizeof o->who, "%s %s (%s)", m->code, m->name, ids);
        free(c.raw);
        return 1;
    }
    return 0;
}

/* Name/value pairs owning their strings. */
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
static int prepare(store *st, const proto_id *self, EVP_PKEY *pkey, catalog_put *it,
                   char *err, size_t errlen)
{
    char why[512];
    const char *kind = it->kind ? it->kind : "";
    size_t ns;
    if (!catalog_fields(kind, &ns))
        return proto_err(err, errlen, "'%s' is not a catalog kind (certification, adoption)", kind);
    /* the schema's own spelling: a kind with a schema is a catalog kind */
    const kind_def *kd = kind_of(kind);
    if (!(kd->flags & KIND_F_CATALOG))
        return proto_err(err, errlen, "'%s' is not a catalog kind (certification, adoption)", kind);
    it->kind = kd->name;
    /* stored as catalog_key_norm makes it: 文京－２０２６－１０６ is 文京-2026-106 */
    char nkey[sizeof it->key];
    if (catalog_key_norm(it->key, nkey, sizeof nkey, why, sizeof why))
        return proto_err(err, errlen, "key: %s", why);
    memcpy(it->key, nkey, sizeof nkey);

    rec_copy cur = { NULL, 0 };
    proto_record cr;
    int own = store_get_current(st, self, it->kind, it->key, copy_rec, &cur) == 0 && cur.raw &&
              proto_record_decode(cur.raw, cur.len, &cr, NULL, 0) == 0 &&
              !(cr.flags & PROTO_FLAG_TOMBSTONE);
    it->existed = own;
    if (it->mode == CATALOG_PUT_ADD && own) {
        free(cur.raw);
        return proto_err(err, errlen, "%s %s already exists (seq %llu); use update", it->kind, it->key,
                         (unsigned long long)cr.seq);
    }
    if (it->mode == CATALOG_PUT_UPDATE && !own) {
        free(cur.raw);
        owner_find o = { st, it->kind, it->key, "" };
        store_members(st, owner_cb, &o);
        if (o.who[0])
            return proto_err(err, errlen, "%s %s belongs to %s; only its author can change it",
                             it->kind, it->key, o.who);
        return proto_err(err, errlen, "this member has no %s %s", it->kind, it->key);
    }
    if (it->mode != CATALOG_PUT_ADD && it->mode != CATALOG_PUT_UPDATE && it->mode != CATALOG_PUT_UPSERT) {
        free(cur.raw);
        return proto_err(err, errlen, "mode must be add, update or upsert");
    }

    kv_list kv = { 0 };
    int rc = 0;
    /* update and upsert start from the current fields (an upsert replaces
     * them: a re-imported row is the whole record) */
    if (own && it->mode == CATALOG_PUT_UPDATE)
        proto_body_foreach(&cr, kv_from_body, &kv);
    for (size_t i = 0; i < it->nfields && rc == 0; i++) {
        const char *f = it->fields[i].name ? it->fields[i].name : "";
        const char *val = it->fields[i].value ? it->fields[i].value : "";
        char buf[512];
        const catalog_field *cf = catalog_field_find(it->kind, f);
        if (cf && (!strcmp(cf->name, "certification") || !strcmp(cf->name, "derived_from")))
            val = catalog_ref_resolve(st, val, buf, sizeof buf);
        if (kv_add(&kv, f, strlen(f), val, strlen(val)))
            rc = proto_err(err, errlen, "out of memory");
    }
    if (rc == 0 && catalog_build(it->kind, kv.kv, kv.n, &it->body, why, sizeof why))
        rc = proto_err(err, errlen, "%s", why);
    kv_free(&kv);
    if (rc == 0 && own) {
        /* compare with what is stored: same body bytes means no new version */
        uint8_t *probe;
        size_t pl;
        proto_record pr;
        proto_id z = { { 0 } };
        if (proto_record_sign(&z, &z, it->kind, it->key, 1, 0, 0, it->body, pkey, &probe, &pl, NULL, 0) == 0) {
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
    const catalog_put *x = *(catalog_put *const *)a, *y = *(catalog_put *const *)b;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->key, y->key);
}

int catalog_prepare(store *st, const proto_id *self, EVP_PKEY *key, catalog_put *items, size_t n,
                    catalog_put_read_fn reader, void *ctx, store_write_item *w, size_t *nw,
                    char *err, size_t errlen)
{
    char why[768];
    int rc = 0;
    *nw = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((reader && reader(ctx, i, &items[i], why, sizeof why)) ||
            prepare(st, self, key, &items[i], why, sizeof why))
            rc = n > 1 ? proto_err(err, errlen, "item %zu (%s): %s", i + 1, items[i].key, why)
                       : proto_err(err, errlen, "%s", why);
    }
    /* the same key twice in one batch would make the second silently win */
    if (rc == 0 && n > 1) {
        catalog_put **sorted = malloc(n * sizeof *sorted);
        for (size_t i = 0; sorted && i < n; i++)
            sorted[i] = &items[i];
        if (sorted) {
            qsort(sorted, n, sizeof *sorted, cmp_item_key);
            for (size_t i = 1; i < n && rc == 0; i++)
                if (!cmp_item_key(&sorted[i - 1], &sorted[i]))
                    rc = proto_err(err, errlen, "%s %s appears twice in one request", sorted[i]->kind,
                                   sorted[i]->key);
        }
        free(sorted);
    }
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (items[i].unchanged)
            continue;
        w[*nw].kind = items[i].kind;
        w[*nw].key = items[i].key;
        w[*nw].flags = 0;
        w[*nw].body = items[i].body;
        w[*nw].out = NULL;
        w[*nw].out_len = 0;
        (*nw)++;
    }
    return 0;
}

void catalog_put_free(catalog_put *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        proto_body_free(items[i].body);
        items[i].body = NULL;
    }
}
