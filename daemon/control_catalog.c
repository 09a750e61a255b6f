/*
 * daemon/control_catalog.c — control commands for the catalog's own kinds
 * (certification, adoption; DESIGN §5): validated writes, lookups by key
 * across members, and search.  The work is done in catalog/ (write.h,
 * index.h); this file unpacks requests into its types and packs replies.
 *
 *   cput    {items: [{kind, key, mode: add|update|upsert|withdraw, fields: [[name, value]...]}],
 *            allow_unknown, strict}
 *           validates every item first, then writes all in one transaction;
 *           an upsert whose result equals the current record is "unchanged".
 *           Reply: results [[key, created|updated|unchanged|withdrawn, seq]...]
 *           and warnings [[key, message]...] (catalog/write.h: references).
 *   cfind   {kind, key [, author]} every member's current record under that key (as
 *           catalog_key_norm spells it; or as typed, for a record stored before keys
 *           were normalised), or that author's, and versions: how many versions
 *           each has (第N版)
 *   csearch {q, area, member, status, valid_on, corporate_number, expiring_within,
 *            adopted_by, not_adopted_by_me, public_only, fiscal_year, department,
 *            route, adopter, all, limit}   (catalog_query_set's names; a value
 *            is read whole or refused, an unknown name is refused)
 *           matching certifications, every certification of the same products
 *           (法人番号 + normalised name), and every adoption citing them, in
 *           the index's order; "groups" splits both lists into products.
 *           One page of them: [cert_offset, adoption_offset] (absent: 0)
 *           say where the page starts in the two lists; the page takes
 *           certifications from there, then (once they are all sent)
 *           adoptions, until NODE_CONTROL_PAGE_BYTES.  "groups" holds the
 *           products whose first certification is on the page (whole
 *           counts), so the pages' groups, in order, are the search's.
 *           The reply says total_certifications, total_adoptions,
 *           next_cert_offset, next_adoption_offset, complete (nothing
 *           after this page) and generation (d->catalog_gen: a client that
 *           sees it change between pages starts again; DECISIONS 25).
 */
#include "daemon/control.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "catalog/index.h"
#include "catalog/ref.h"
#include "catalog/schema.h"
#include "catalog/write.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- cput ---- */

/* Reads the items of a cput request one at a time (catalog_put_read_fn). */
typedef struct {
    proto_rd r;                      /* at the next item */
    char kind[PROTO_KIND_MAX + 1];
    catalog_kv *kv;                  /* the current item's fields, strings owned */
    size_t nkv, capkv;
    unsigned checks;                 /* the request's allow_unknown and strict */
} put_reader;

static void reader_clear(put_reader *p)
{
    for (size_t i = 0; i < p->nkv; i++) {
        free((char *)p->kv[i].name);
        free((char *)p->kv[i].value);
    }
    p->nkv = 0;
}

static int reader_add(put_reader *p, const char *f, size_t fl, const char *v, size_t vl)
{
    if (p->nkv == p->capkv) {
        size_t cap = p->capkv ? p->capkv * 2 : 32;
        catalog_kv *k = realloc(p->kv, cap * sizeof *k);
        if (!k)
            return -1;
        p->kv = k;
        p->capkv = cap;
    }
    char *fz = strndup(f, fl), *vz = strndup(v, vl);
    if (!fz || !vz) {
        free(fz);
        free(vz);
        return -1;
    }
    p->kv[p->nkv].name = fz;
    p->kv[p->nkv++].value = vz;
    return 0;
}

/* The skip of an item's fields that read_item leaves until they are read,
 * when it has to be done after all (the fields are not an array of pairs):
 * -1 with the message the skip in place would have given, or 0. */
static int skip_fields(proto_rd *r, char *err, size_t errlen)
{
    proto_rd_skip(r, 4);
    return r->err ? proto_err(err, errlen, "malformed item (%s)", r->err) : 0;
}

static int read_item(void *ctx, size_t idx, catalog_put *it, char *err, size_t errlen)
{
    put_reader *p = ctx;
    proto_rd *r = &p->r;
    uint32_t n, nf;
    const char *k;
    uint32_t kl;
    char mode[16] = "add";
    proto_rd fields = { 0 };
    int have_fields = 0, fields_last = 0;
    reader_clear(p);
    p->kind[0] = 0;
    it->kind = p->kind;
    if (proto_rd_map(r, &n))
        return proto_err(err, errlen, "malformed item");
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(r, &k, &kl))
            return proto_err(err, errlen, "malformed item");
        if (kl == 4 && !memcmp(k, "kind", 4))
            proto_rd_strcpy(r, p->kind, sizeof p->kind);
        else if (kl == 3 && !memcmp(k, "key", 3)) {
            proto_rd probe = *r;
            const char *kv;
            uint32_t kvl;
            if (proto_rd_str(&probe, &kv, &kvl) == 0 && kvl >= sizeof it->key)
                return proto_err(err, errlen, "キーが %u バイトあります（%u バイトまで）", kvl,
                                 (unsigned)CATALOG_KEY_MAX);
            proto_rd_strcpy(r, it->key, sizeof it->key);
        }
        else if (kl == 4 && !memcmp(k, "mode", 4))
            proto_rd_strcpy(r, mode, sizeof mode);
        else if (kl == 6 && !memcmp(k, "fields", 6)) {
            fields = *r;
            have_fields = 1;
            /* the item's last entry (as catalogctl packs it) is read once,
             * below, instead of skipped here and read again */
            fields_last = i + 1 == n;
            if (!fields_last)
                proto_rd_skip(r, 4);
        } else
            proto_rd_skip(r, 4);
        if (r->err)
            return proto_err(err, errlen, "malformed item (%s)", r->err);
    }
    it->mode = catalog_put_mode_parse(mode);
    it->checks = p->checks;
    if (have_fields && proto_rd_array(&fields, &nf) == 0) {
        for (uint32_t i = 0; i < nf; i++) {
            uint32_t two, fl, vl;
            const char *f, *v;
            if (proto_rd_array(&fields, &two) || two != 2 || proto_rd_str(&fields, &f, &fl) ||
                proto_rd_str(&fields, &v, &vl)) {
                if (fields_last && skip_fields(r, err, errlen))
                    return -1;
                return proto_err(err, errlen, "malformed fields");
            }
            if (reader_add(p, f, fl, v, vl))
                return proto_err(err, errlen, "out of memory");
        }
        if (fields_last)
            *r = fields;   /* past the fields: at the next item */
    } else if (fields_last && skip_fields(r, err, errlen)) {
        return -1;
    }
    it->fields = p->kv;
    it->nfields = p->nkv;
    return 0;
}

/* A cput request's items (*items at them), allow_unknown and strict, as
 * proto_map_find and proto_map_u64 find them (the first of a name; none
 * after an entry that cannot be skipped), in one pass: looking each up
 * skipped the whole of the items twice more (~1 % of an import's writer).
 * Nothing is looked for after the last entry, so items last is not
 * skipped at all.  0, or -1 if there are no items. */
static int put_request(const uint8_t *req, size_t len, proto_rd *items, uint64_t *allow_unknown,
                       uint64_t *strict)
{
    proto_rd r;
    uint32_t n, kl;
    const char *k;
    int have_items = 0, have_au = 0, have_strict = 0;
    proto_rd_init(&r, req, len);
    if (proto_rd_map(&r, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (proto_rd_str(&r, &k, &kl))
            break;
        if (kl == 5 && !memcmp(k, "items", 5) && !have_items) {
            *items = r;
            have_items = 1;
        } else if (kl == 13 && !memcmp(k, "allow_unknown", 13) && !have_au) {
            proto_rd v = r;
            proto_rd_uint(&v, allow_unknown);
            have_au = 1;
        } else if (kl == 6 && !memcmp(k, "strict", 6) && !have_strict) {
            proto_rd v = r;
            proto_rd_uint(&v, strict);
            have_strict = 1;
        }
        if (i + 1 == n || (have_items && have_au && have_strict) || proto_rd_skip(&r, 8))
            break;
    }
    return have_items ? 0 : -1;
}

int catalog_cmd_put(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                    char *err, size_t errlen)
{
    proto_rd r;
    uint32_t n;
    uint64_t allow_unknown = 0, strict = 0;
    if (put_request(req, len, &r, &allow_unknown, &strict) || proto_rd_array(&r, &n) || n == 0 ||
        n > CATALOG_PUT_MAX)
        return proto_err(err, errlen, "cput needs 1..%u items", CATALOG_PUT_MAX);
    catalog_put *items = calloc(n, sizeof *items);
    store_write_item *w = calloc(n, sizeof *w);
    size_t nw = 0;
    if (!items || !w) {
        free(items);
        free(w);
        return proto_err(err, errlen, "out of memory");
    }
    put_reader rd = { .r = r };
    rd.checks = (allow_unknown ? CATALOG_PUT_ALLOW_UNKNOWN : 0u) | (strict ? CATALOG_PUT_STRICT : 0u);
    int rc = catalog_prepare(d->st, &d->id.id, d->id.key, items, n, read_item, &rd, w, &nw, err, errlen);
    reader_clear(&rd);
    free(rd.kv);
    if (rc == 0 && nw && node_publish(d, w, nw, err, errlen))
        rc = -1;
    /* An import's chunks arrive several at a time and are written one
     * after the other in one loop turn: push this one now, so that the
     * members verify it while the next is signed (the outbox would hold
     * it until 256 KB had gathered or the loop turned). */
    if (rc == 0 && nw)
        gossip_flush_local(d);
    if (rc == 0) {
        proto_map m;
        proto_map_begin(&m, pk);
        proto_map_put_bool(&m, "ok", 1);
        proto_map_key(&m, "results");
        msgpack_pack_array(pk, n);
        size_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            msgpack_pack_array(pk, 3);
            proto_pack_cstr(pk, items[i].key);
            proto_pack_cstr(pk, items[i].unchanged   ? "unchanged"
                                : items[i].tombstone ? "withdrawn"
                                : items[i].existed   ? "updated"
                                                     : "created");
            uint64_t seq = 0;
            if (!items[i].unchanged)
                seq = w[k++].rec.seq;   /* as the store decoded it */
            msgpack_pack_uint64(pk, seq);
        }
        size_t nwarn = 0;
        for (uint32_t i = 0; i < n; i++)
            for (const char *p = items[i].warnings; p && *p; p++)
                nwarn += *p == '\n';
        proto_map_key(&m, "warnings");
        msgpack_pack_array(pk, nwarn);
        for (uint32_t i = 0; i < n; i++)
            for (const char *p = items[i].warnings, *nl; p && (nl = strchr(p, '\n')); p = nl + 1) {
                msgpack_pack_array(pk, 2);
                proto_pack_cstr(pk, items[i].key);
                msgpack_pack_str(pk, (size_t)(nl - p));
                msgpack_pack_str_body(pk, p, (size_t)(nl - p));
            }
        if (proto_map_end(&m))
            rc = proto_err(err, errlen, "out of memory");
        if (nw)
            log_info(d, "catalog: wrote %zu record%s", nw, nw == 1 ? "" : "s");
    }
    for (size_t i = 0; i < nw; i++)
        free(w[i].out);
    catalog_put_free(items, n);
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
    static const char *const st[] = { "pending", "member", "left", "expelled" };
    msgpack_pack_array(&mp->tpk, 4);
    proto_pack_cstr(&mp->tpk, ids);
    proto_pack_cstr(&mp->tpk, m->code);
    proto_pack_cstr(&mp->tpk, m->name);
    proto_pack_cstr(&mp->tpk, m->status >= 0 && m->status <= 3 ? st[m->status] : "?");
    mp->n++;
    return 0;
}

/* The entry "members": [[member id, code, name, status]...] of a reply. */
void catalog_cmd_members_put(catalogd *d, proto_map *m)
{
    mem_pack mp = { .n = 0 };
    msgpack_sbuffer_init(&mp.tmp);
    msgpack_packer_init(&mp.tpk, &mp.tmp, msgpack_sbuffer_write);
    store_members(d->st, pack_member, &mp);
    proto_map_key(m, "members");
    msgpack_pack_array(m->pk, mp.n);
    if (mp.tmp.size)
        msgpack_sbuffer_write(m->pk->data, mp.tmp.data, mp.tmp.size);
    msgpack_sbuffer_destroy(&mp.tmp);
}

/* ---- cfind ---- */

typedef struct {
    catalogd *d;
    const char *kind, *key;
    control_list *l;
    msgpack_sbuffer vb;      /* versions: how many versions each record found has */
    msgpack_packer vpk;
    uint32_t nv;
} find_ctx;

static int count_cb(void *ctx, const uint8_t *rec, size_t len)
{
    (*(uint64_t *)ctx)++;
    return 0;
}

/* The current record of (author, kind, key) into the list, and its number
 * of versions (第N版) into the versions. */
static void find_one(find_ctx *f, const proto_id *author)
{
    if (store_get_current(f->d->st, author, f->kind, f->key, control_list_rec, f->l) != 0)
        return;
    uint64_t nv = 0;
    store_history(f->d->st, author, f->kind, f->key, count_cb, &nv);
    msgpack_pack_uint64(&f->vpk, nv);
    f->nv++;
}

static int find_cb(void *ctx, const store_member *m)
{
    find_one(ctx, &m->id);
    return 0;
}

int catalog_cmd_find(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                     char *err, size_t errlen)
{
    char kind[PROTO_KIND_MAX + 1], key[PROTO_KEY_MAX + 1], author[128] = "";
    if (proto_map_str(req, len, "kind", kind, sizeof kind))
        return proto_err(err, errlen, "find needs kind and key");
    /* a key longer than any record's key names no record: nothing found */
    int none = 0;
    if (proto_map_str(req, len, "key", key, sizeof key)) {
        proto_rd kr;
        const char *s;
        uint32_t sl;
        if (proto_map_find(req, len, "key", &kr) || proto_rd_str(&kr, &s, &sl) || sl < sizeof key)
            return proto_err(err, errlen, "find needs kind and key");
        key[0] = 0;
        none = 1;
    }
    proto_rd ar;
    if (proto_map_find(req, len, "author", &ar) == 0 && proto_rd_strcpy(&ar, author, sizeof author))
        return proto_err(err, errlen, "author が長すぎるか文字列ではありません（団体コードか member id を指定してください）");
    control_list l;
    control_list_begin(&l);
    find_ctx f = { d, kind, key, &l, .nv = 0 };
    msgpack_sbuffer_init(&f.vb);
    msgpack_packer_init(&f.vpk, &f.vb, msgpack_sbuffer_write);
    proto_id id;
    if (author[0] && catalog_member_ref(d->st, author, &id)) {
        msgpack_sbuffer_destroy(&l.tmp);
        msgpack_sbuffer_destroy(&f.vb);
        return proto_err(err, errlen, "団体 %s は見つかりません", author);
    }
    /* the key as records are written under it; then as typed, for a record
     * stored before keys were normalised */
    char nkey[PROTO_KEY_MAX + 1];
    const char *keys[2] = { catalog_lookup_key(kind, key, nkey, sizeof nkey), key };
    for (int k = 0; !none && k < 2 && l.n == 0 && (k == 0 || strcmp(keys[0], keys[1])); k++) {
        f.key = keys[k];
        if (author[0])
            find_one(&f, &id);
        else
            store_members(d->st, find_cb, &f);
    }
    /* every member's record under one key: at NODE_CONTROL_PAGE_BYTES the
     * walk stopped (control_list_rec), and the reply says so */
    int cut = l.tmp.size >= NODE_CONTROL_PAGE_BYTES;
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    control_list_put(&l, &m, "records");
    if (cut)
        proto_map_put_bool(&m, "truncated", 1);
    proto_map_key(&m, "versions");
    msgpack_pack_array(pk, f.nv);
    if (f.vb.size)
        msgpack_sbuffer_write(pk->data, f.vb.data, f.vb.size);
    msgpack_sbuffer_destroy(&f.vb);
    catalog_cmd_members_put(d, &m);
    return proto_map_end(&m) ? proto_err(err, errlen, "out of memory") : 0;
}

/* ---- csearch ---- */

/* The filters of a csearch request, copied whole (never cut to a buffer)
 * and handed to catalog_query_set by name; "cmd" is the command itself.
 * Strings stay allocated until the search is done (the query points at
 * them). */
typedef struct { char *v[32]; size_t n; } filter_strs;

static void filter_strs_free(filter_strs *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    f->n = 0;
}

/* Where a page of csearch starts: offsets into the two hit lists. */
typedef struct { uint64_t cert, adoption; } search_page;

/* cert_offset / adoption_offset: a whole non-negative integer or refused
 * (the range is checked against the hits, in catalog_cmd_search). */
static int page_offset(proto_rd *r, const char *name, uint64_t *out, char *err, size_t errlen)
{
    if (proto_rd_peek(r) != PROTO_MP_UINT || proto_rd_uint(r, out)) {
        proto_rd_skip(r, 4);
        return proto_err(err, errlen, "%s は 0 以上の整数で指定してください", name);
    }
    return 0;
}

static int query_from_request(catalogd *d, const uint8_t *req, size_t len, catalog_query *cq, filter_strs *keep,
                              search_page *page, char *err, size_t errlen)
{
    proto_rd r;
    uint32_t n;
    proto_rd_init(&r, req, len);
    if (proto_rd_map(&r, &n))
        return proto_err(err, errlen, "malformed request");
    for (uint32_t i = 0; i < n; i++) {
        const char *k, *v;
        uint32_t kl, vl;
        char name[64];
        const char *value = NULL;
        if (proto_rd_str(&r, &k, &kl))
            return proto_err(err, errlen, "malformed request");
        if (kl >= sizeof name) {
            proto_rd_skip(&r, 4);
            return proto_err(err, errlen, "検索条件の名前が長すぎます");
        }
        memcpy(name, k, kl);
        name[kl] = 0;
        if (!strcmp(name, "cmd")) {
            proto_rd_skip(&r, 4);
            continue;
        }
        if (!strcmp(name, "cert_offset") || !strcmp(name, "adoption_offset")) {
            if (page_offset(&r, name, name[0] == 'c' ? &page->cert : &page->adoption, err, errlen))
                return -1;
            continue;
        }
        switch (proto_rd_peek(&r)) {
        case PROTO_MP_STR:
            if (proto_rd_str(&r, &v, &vl) || memchr(v, 0, vl) || keep->n == sizeof keep->v / sizeof keep->v[0])
                return proto_err(err, errlen, "検索条件「%s」の値が読めません", name);
            if (!(keep->v[keep->n] = strndup(v, vl)))
                return proto_err(err, errlen, "out of memory");
            value = keep->v[keep->n++];
            break;
        case PROTO_MP_UINT: {
            /* kept like a string: the query holds on to the text of some
             * conditions (q, department) until the search, after this loop */
            uint64_t u;
            char num[24];
            proto_rd_uint(&r, &u);
            snprintf(num, sizeof num, "%llu", (unsigned long long)u);
            if (keep->n == sizeof keep->v / sizeof keep->v[0])
                return proto_err(err, errlen, "検索条件「%s」の値が読めません", name);
            if (!(keep->v[keep->n] = strdup(num)))
                return proto_err(err, errlen, "out of memory");
            value = keep->v[keep->n++];
            break;
        }
        case PROTO_MP_BOOL: {
            int b = 0;
            proto_rd_bool(&r, &b);
            value = b ? "1" : "0";
            break;
        }
        case PROTO_MP_NIL:
            proto_rd_nil(&r);
            value = NULL;
            break;
        default:
            return proto_err(err, errlen, "検索条件「%s」の値は文字列か数で指定してください", name);
        }
        if (r.err)
            return proto_err(err, errlen, "malformed request");
        if (catalog_query_set(cq, d->st, name, value, err, errlen))
            return -1;
    }
    return 0;
}

/* One entry of "groups": [certifications, adoptions, [areas...]] — a
 * product of the search's lists (catalog_product). */
static void pack_group(msgpack_packer *pk, const char *const *areas, const catalog_product *g)
{
    size_t na = 0;
    for (size_t k = 0; areas[k]; k++)
        na += (g->areas >> k) & 1;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, g->ncerts);
    msgpack_pack_uint64(pk, g->nadoptions);
    msgpack_pack_array(pk, na);
    for (size_t k = 0; areas[k]; k++)
        if ((g->areas >> k) & 1)
            proto_pack_cstr(pk, areas[k]);
}

/* A page of csearch being filled: its two lists and its groups share one
 * budget of NODE_CONTROL_PAGE_BYTES. */
typedef struct {
    const catalog_hits *h;
    const char *const *areas;
    control_list certs, adoptions, groups;  /* groups.tmp: packed entries, groups.n of them */
    size_t pos;                             /* the index in h->certs of the next certification */
    size_t group;                           /* the next group whose first certification is not sent */
} search_fill;

static int fill_full(const search_fill *f)
{
    return f->certs.tmp.size + f->adoptions.tmp.size + f->groups.tmp.size >= NODE_CONTROL_PAGE_BYTES;
}

/* A certification of the page, and the group it starts if it starts one.
 * At least one record goes on every page (a record is at most
 * PROTO_RECORD_MAX: the page stays within its frame), so paging ends. */
static int fill_cert(void *ctx, const uint8_t *rec, size_t len)
{
    search_fill *f = ctx;
    msgpack_pack_bin(&f->certs.tpk, len);
    msgpack_pack_bin_body(&f->certs.tpk, rec, len);
    f->certs.n++;
    while (f->group < f->h->ngroups && f->h->groups[f->group].cert <= f->pos) {
        pack_group(&f->groups.tpk, f->areas, &f->h->groups[f->group++]);
        f->groups.n++;
    }
    f->pos++;
    return fill_full(f);
}

static int fill_adoption(void *ctx, const uint8_t *rec, size_t len)
{
    search_fill *f = ctx;
    msgpack_pack_bin(&f->adoptions.tpk, len);
    msgpack_pack_bin_body(&f->adoptions.tpk, rec, len);
    f->adoptions.n++;
    return fill_full(f);
}

int catalog_cmd_search(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    catalog_query cq;
    catalog_query_init(&cq);
    cq.self = d->id.id;
    filter_strs keep = { .n = 0 };
    search_page page = { 0, 0 };
    if (query_from_request(d, req, len, &cq, &keep, &page, err, errlen)) {
        filter_strs_free(&keep);
        return -1;
    }

    int built = catalog_index_update(d->index, d->st, d->catalog_gen);
    if (built < 0) {
        filter_strs_free(&keep);
        return proto_err(err, errlen, "検索索引を作れません（ストアを読めません）");
    }
    if (built) {
        catalog_index_stats s;
        catalog_index_stats_get(d->index, &s);
        log_debug(d, "catalog index: %zu certifications, %zu adoptions, %zu bytes of text",
                  s.certifications, s.adoptions, s.text_bytes);
    }
    catalog_hits h;
    int rc = catalog_search(d->index, d->st, d->catalog_gen, &cq, &h, err, errlen);
    filter_strs_free(&keep);
    if (rc)
        return -1;
    /* a page starts inside the lists, and adoptions only once every
     * certification was sent (the order pages are filled in) */
    if (page.cert > h.ncerts || page.adoption > h.nadoptions ||
        (page.adoption && page.cert < h.ncerts)) {
        rc = proto_err(err, errlen,
                       "ページの位置（認定 %llu、導入実績 %llu）が検索結果（認定 %zu 件、導入実績 %zu 件）の範囲外です"
                       "（検索をやり直してください）",
                       (unsigned long long)page.cert, (unsigned long long)page.adoption, h.ncerts, h.nadoptions);
        catalog_hits_free(&h);
        return rc;
    }
    search_fill f = { .h = &h, .areas = catalog_index_areas(d->index, d->st), .pos = page.cert };
    control_list_begin(&f.certs);
    control_list_begin(&f.adoptions);
    control_list_begin(&f.groups);
    /* the groups already sent: those whose first certification came before */
    while (f.group < h.ngroups && h.groups[f.group].cert < page.cert)
        f.group++;
    /* through the index's copies of the records of earlier hits: a page of
     * hits read from the store's map faults in ~180 pages that the store
     * releases again after nearly every search (PERFORMANCE.md §35) */
    if (page.cert < h.ncerts)
        catalog_index_get_refs(d->index, d->st, d->catalog_gen, h.certs + page.cert, h.ncerts - page.cert,
                               fill_cert, &f);
    size_t next_cert = page.cert + f.certs.n, next_adoption = page.adoption;
    if (next_cert >= h.ncerts && !fill_full(&f) && page.adoption < h.nadoptions) {
        catalog_index_get_refs(d->index, d->st, d->catalog_gen, h.adoptions + page.adoption,
                               h.nadoptions - page.adoption, fill_adoption, &f);
        next_adoption += f.adoptions.n;
    }
    int complete = next_cert >= h.ncerts && next_adoption >= h.nadoptions;
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    control_list_put(&f.certs, &m, "certifications");
    control_list_put(&f.adoptions, &m, "adoptions");
    control_list_put(&f.groups, &m, "groups");
    proto_map_put_u64(&m, "products", h.products);
    proto_map_put_u64(&m, "total_certifications", h.ncerts);
    proto_map_put_u64(&m, "total_adoptions", h.nadoptions);
    proto_map_put_u64(&m, "next_cert_offset", next_cert);
    proto_map_put_u64(&m, "next_adoption_offset", next_adoption);
    proto_map_put_bool(&m, "complete", complete);
    proto_map_put_u64(&m, "generation", d->catalog_gen);
    catalog_cmd_members_put(d, &m);
    catalog_hits_free(&h);
    return proto_map_end(&m) ? proto_err(err, errlen, "out of memory") : 0;
}
