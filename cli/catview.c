/* cli/catview.c — see catview.h. */
#include "cli/catview.h"
#include "cli/client.h"
#include "catalog/diff.h"
#include "catalog/schema.h"
#include "proto/frame.h"
#include "catalog/jp.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int client_members_parse(const uint8_t *reply, size_t len, client_members *out)
{
    proto_rd r;
    uint32_t n, three;
    memset(out, 0, sizeof *out);
    if (proto_map_find(reply, len, "members", &r) || proto_rd_array(&r, &n))
        return -1;
    out->v = calloc(n ? n : 1, sizeof *out->v);
    for (uint32_t i = 0; i < n; i++) {
        client_member *m = &out->v[out->n];
        if (proto_rd_array(&r, &three) || three < 3 || three > 4 || proto_rd_strcpy(&r, m->id, sizeof m->id) ||
            proto_rd_strcpy(&r, m->code, sizeof m->code) || proto_rd_strcpy(&r, m->name, sizeof m->name) ||
            (three == 4 && proto_rd_strcpy(&r, m->status, sizeof m->status)))
            return -1;
        out->n++;
    }
    return 0;
}

void client_members_free(client_members *m)
{
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

const client_member *client_member_by_id(const client_members *m, const proto_id *id)
{
    char s[PROTO_ID_STR];
    proto_id_str(id, s);
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].id, s))
            return &m->v[i];
    return NULL;
}

const char *client_member_mark(const client_member *mm)
{
    return !mm ? "" : !strcmp(mm->status, "left") ? "（脱退）" : !strcmp(mm->status, "expelled") ? "（除名）" : "";
}

const char *client_member_label(const client_members *m, const proto_id *id, char *buf, size_t n)
{
    const client_member *mm = m ? client_member_by_id(m, id) : NULL;
    if (mm)
        snprintf(buf, n, "%s %s%s", mm->code, mm->name, client_member_mark(mm));
    else
        proto_id_short(id, buf);
    return buf;
}

typedef struct { const char *field; char *buf; size_t n; int found; } fld_ctx;

static int fld_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    fld_ctx *c = ctx;
    if (strlen(c->field) != fl || memcmp(c->field, f, fl))
        return 0;
    /* lists arrive joined by ", ": show them joined by "、" */
    size_t o = 0;
    for (size_t i = 0; i < tl && o + 4 < c->n; i++) {
        if (t[i] == ',' && i + 1 < tl && t[i + 1] == ' ' && !strcmp(c->field, "areas")) {
            memcpy(c->buf + o, "、", 3);
            o += 3;
            i++;
        } else {
            c->buf[o++] = t[i];
        }
    }
    c->buf[o] = 0;
    c->found = 1;
    return 1;
}

const char *client_field(const proto_record *r, const char *field, int era, char *buf, size_t n)
{
    fld_ctx c = { field, buf, n, 0 };
    buf[0] = 0;
    proto_body_foreach(r, fld_cb, &c);
    jp_date d;
    if (era && c.found && strlen(buf) == 10 && jp_date_parse(buf, &d, NULL, 0) == 0)
        jp_era_date(d, buf, n);
    if (era && c.found && !strcmp(field, "fiscal_year")) {
        int fy = atoi(buf);
        if (fy > 1900)
            jp_era_fiscal_year(fy, buf, n);
    }
    return buf;
}

jp_date client_today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    jp_date d = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
    return d;
}

/* The member and key of "MEMBER_ID/KEY"; NULL member when not such a reference. */
static const char *ref_split(const client_members *m, const char *ref, const client_member **mm, proto_id *id,
                             int *is_id)
{
    const char *slash = strchr(ref, '/');
    char ids[128];
    *mm = NULL;
    *is_id = 0;
    if (!slash || (size_t)(slash - ref) >= sizeof ids)
        return NULL;
    memcpy(ids, ref, (size_t)(slash - ref));
    ids[slash - ref] = 0;
    if (proto_id_parse(ids, id) != 0)
        return NULL;
    *is_id = 1;
    *mm = m ? client_member_by_id(m, id) : NULL;
    return slash + 1;
}

const char *client_ref_label(const client_members *m, const char *ref, char *buf, size_t n)
{
    const client_member *mm;
    proto_id id;
    int is_id;
    const char *key = ref_split(m, ref, &mm, &id, &is_id);
    if (!key)
        snprintf(buf, n, "%s", ref);
    else if (mm)
        snprintf(buf, n, "%s %s%s %s", mm->code, mm->name, client_member_mark(mm), key);
    else {
        char sh[PROTO_ID_STR];
        proto_id_short(&id, sh);
        snprintf(buf, n, "%s %s", sh, key);
    }
    return buf;
}

const char *client_ref_cell(const client_members *m, const char *ref, char *buf, size_t n)
{
    const client_member *mm;
    proto_id id;
    int is_id;
    const char *key = ref_split(m, ref, &mm, &id, &is_id);
    if (key && mm && mm->code[0])
        snprintf(buf, n, "%s/%s", mm->code, key);
    else
        snprintf(buf, n, "%s", ref);   /* an unknown member: the id, which still resolves */
    return buf;
}

/* ---- JSON ---- */

static json_t *str_n(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    return j ? j : json_stringn_nocheck(s, n);
}

static json_t *ref_json(const client_members *m, const char *s, size_t n)
{
    char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
    if (n >= sizeof ref)
        return str_n(s, n);
    memcpy(ref, s, n);
    ref[n] = 0;
    const client_member *mm;
    proto_id id;
    int is_id;
    const char *key = ref_split(m, ref, &mm, &id, &is_id);
    if (!key)
        return str_n(s, n);
    char ids[PROTO_ID_STR];
    proto_id_str(&id, ids);
    json_t *o = json_object();
    json_object_set_new(o, "member_id", json_string(ids));
    json_object_set_new(o, "code", mm ? json_string(mm->code) : json_null());
    json_object_set_new(o, "name", mm ? json_string(mm->name) : json_null());
    json_object_set_new(o, "status", mm && mm->status[0] ? json_string(mm->status) : json_null());
    json_object_set_new(o, "key", str_n(key, strlen(key)));
    return o;
}

/* One msgpack value of the body as JSON (nested at most `depth`). */
static json_t *value_json(proto_rd *r, unsigned depth)
{
    const char *s;
    const uint8_t *b;
    uint32_t n;
    int64_t iv;
    uint64_t uv;
    int bv;
    switch (proto_rd_peek(r)) {
    case PROTO_MP_STR:
        return proto_rd_str(r, &s, &n) ? NULL : str_n(s, n);
    case PROTO_MP_UINT:
        if (proto_rd_uint(r, &uv))
            return NULL;
        return uv <= INT64_MAX ? json_integer((json_int_t)uv) : json_real((double)uv);
    case PROTO_MP_INT:
        return proto_rd_int(r, &iv) ? NULL : json_integer((json_int_t)iv);
    case PROTO_MP_BOOL:
        return proto_rd_bool(r, &bv) ? NULL : json_boolean(bv);
    case PROTO_MP_NIL:
        proto_rd_nil(r);
        return json_null();
    case PROTO_MP_BIN: {
        if (proto_rd_bin(r, &b, &n))
            return NULL;
        char *hx = malloc((size_t)n * 2 + 1);
        if (!hx)
            return NULL;
        proto_hex(b, n, hx);
        json_t *j = json_string(hx);
        free(hx);
        return j;
    }
    case PROTO_MP_ARRAY: {
        if (depth == 0 || proto_rd_array(r, &n))
            return NULL;
        json_t *a = json_array();
        for (uint32_t i = 0; i < n; i++) {
            json_t *v = value_json(r, depth - 1);
            if (!v) {
                json_decref(a);
                return NULL;
            }
            json_array_append_new(a, v);
        }
        return a;
    }
    case PROTO_MP_MAP: {
        if (depth == 0 || proto_rd_map(r, &n))
            return NULL;
        json_t *o = json_object();
        for (uint32_t i = 0; i < n; i++) {
            char k[256];
            if (proto_rd_strcpy(r, k, sizeof k)) {
                json_decref(o);
                return NULL;
            }
            json_t *v = value_json(r, depth - 1);
            if (!v) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, k, v);
        }
        return o;
    }
    default:
        proto_rd_skip(r, PROTO_BODY_DEPTH);
        return json_null();
    }
}

json_t *client_catalog_json(const proto_record *r, const client_members *m, jp_date today)
{
    char author[PROTO_ID_STR], when[32], hx[65], iso[11];
    proto_id h;
    proto_id_str(&r->author, author);
    time_t t = (time_t)(r->time_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    proto_record_hash(r->raw, r->raw_len, &h);
    proto_hex(h.b, 32, hx);
    const client_member *mm = m ? client_member_by_id(m, &r->author) : NULL;
    int cert = kind_is(r->kind, KIND_CERTIFICATION), tomb = (r->flags & PROTO_FLAG_TOMBSTONE) != 0;

    json_t *o = json_object();
    json_object_set_new(o, "author", json_string(author));
    json_object_set_new(o, "author_code", mm ? json_string(mm->code) : json_null());
    json_object_set_new(o, "author_name", mm ? json_string(mm->name) : json_null());
    json_object_set_new(o, "author_status", mm && mm->status[0] ? json_string(mm->status) : json_null());
    json_object_set_new(o, "kind", json_string(r->kind));
    json_object_set_new(o, "key", str_n(r->key, strlen(r->key)));
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "tombstone", json_boolean(tomb));
    json_object_set_new(o, "hash", json_string(hx));
    if (cert && !tomb) {
        jp_date_format(today, iso);
        json_object_set_new(o, "effective_status", json_string(catalog_status(r, today)));
        json_object_set_new(o, "effective_status_on", json_string(iso));
    }

    json_t *body = json_object();
    proto_rd rd;
    uint32_t n;
    proto_rd_init(&rd, r->body, r->body_len);
    if (proto_rd_map(&rd, &n) == 0) {
        for (uint32_t i = 0; i < n; i++) {
            char f[256];
            if (proto_rd_strcpy(&rd, f, sizeof f))
                break;
            const catalog_field *fd = catalog_field_find(r->kind, f);
            json_t *v;
            if (fd && fd->type == CAT_REF && proto_rd_peek(&rd) == PROTO_MP_STR) {
                const char *s;
                uint32_t sl;
                proto_rd_str(&rd, &s, &sl);
                v = ref_json(m, s, sl);
            } else {
                v = value_json(&rd, PROTO_BODY_DEPTH);
            }
            if (!v)
                break;
            json_object_set_new(body, f, v);
        }
    }
    json_object_set_new(o, "body", body);
    return o;
}

void client_catalog_json_print(const proto_record *r, const client_members *m, jp_date today, FILE *f)
{
    json_t *o = client_catalog_json(r, m, today);
    client_json_dumpf(o, JSON_COMPACT | JSON_PRESERVE_ORDER, f);
    json_decref(o);
}

/* When a version was written, "2026-05-01 10:00". */
static void written_at(const proto_record *r, char *when, size_t n)
{
    time_t t = (time_t)(r->time_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, n, "%Y-%m-%d %H:%M", &tm);
}

/* A string field of r as printf's "%.*s" takes it: "" when absent. */
static int str_len(const proto_record *r, const char *field, const char **s)
{
    size_t n;
    if (proto_body_get_str(r, field, s, &n) || n > (size_t)PROTO_FIELD_MAX) {
        *s = "";
        return 0;
    }
    return (int)n;
}

/* Every field of the record, one labelled line each (a reference as
 * "131059 文京区 KEY": names, not ids). */
static void show_fields(const proto_record *r, const client_members *m, int era, FILE *f)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(r->kind, &nf);
    char buf[PROTO_RECORD_MAX + 1];   /* any field whole */
    for (size_t i = 0; fs && i < nf; i++) {
        client_field(r, fs[i].name, era, buf, sizeof buf);
        if (!buf[0])
            continue;
        if (fs[i].type == CAT_REF) {   /* names, not ids */
            char ref[sizeof buf];
            snprintf(ref, sizeof ref, "%s", buf);
            client_ref_label(m, ref, buf, sizeof buf);
        }
        char label[128];
        snprintf(label, sizeof label, "%s:", fs[i].ja);
        fputs("  ", f);
        client_pad(f, label, 18);
        /* continuation lines of long text are indented under the value */
        for (char *p = buf; *p; p++) {
            fputc(*p, f);
            if (*p == '\n')
                fputs("                    ", f);
        }
        fputc('\n', f);
    }
}

void client_show_catalog_record(const proto_record *r, uint64_t version, const client_members *m, int era,
                                FILE *f)
{
    char who[256], when[32], vs[32] = "";
    written_at(r, when, sizeof when);
    int cert = kind_is(r->kind, KIND_CERTIFICATION);
    if (version)
        snprintf(vs, sizeof vs, "第%llu版 ", (unsigned long long)version);
    fprintf(f, "%s %s  (%s, %s%s)\n", cert ? "認定番号" : "導入実績", r->key,
            client_member_label(m, &r->author, who, sizeof who), vs, when);
    if (r->flags & PROTO_FLAG_TOMBSTONE) {
        const char *reason;
        int rl = str_len(r, "reason", &reason);
        fprintf(f, "  取り下げ:         %s\n", when);
        /* a reason may hold line breaks: its lines go on indented under
         * it, as show_fields does, never at the margin as lines of their own */
        fputs("  取り下げの理由:   ", f);
        for (int k = 0; k < rl; k++) {
            fputc(reason[k], f);
            if (reason[k] == '\n')
                fputs("                    ", f);
        }
        fputc('\n', f);
        return;
    }
    if (cert)
        fprintf(f, "  現在の状態:       %s\n", catalog_status(r, client_today()));
    show_fields(r, m, era, f);
}

/* The status a certification version recorded, with its date and reason:
 * "停止（2026-06-01 から。理由: …）". */
static void print_version_status(const proto_record *r, FILE *f)
{
    const char *st, *date, *reason;
    int sl = str_len(r, "status", &st), dl = str_len(r, "status_date", &date),
        rl = str_len(r, "status_reason", &reason);
    if (!sl) {
        st = "認定中";
        sl = (int)strlen(st);
    }
    fprintf(f, "%.*s", sl, st);
    if (dl && rl)
        fprintf(f, "（%.*s から。理由: %.*s）", dl, date, rl, reason);
    else if (dl)
        fprintf(f, "（%.*s から）", dl, date);
    else if (rl)
        fprintf(f, "（理由: %.*s）", rl, reason);
}

#define DIFF_VALUE_MAX 160   /* bytes of a value shown in a change line */

/* A value for a change line: "（なし）" when empty, one line, clipped, era dates. */
static const char *diff_value(const char *v, int era, char *out, size_t n)
{
    jp_date d;
    if (!v[0]) {
        snprintf(out, n, "（なし）");
        return out;
    }
    if (era && strlen(v) == 10 && jp_date_parse(v, &d, NULL, 0) == 0 && jp_era_date(d, out, n) == 0)
        return out;
    size_t o = 0, i = 0, len = strlen(v);
    while (i < len && o + 8 < n && i < DIFF_VALUE_MAX) {
        size_t k = 1;
        while (i + k < len && ((unsigned char)v[i + k] & 0xc0) == 0x80)
            k++;
        if (v[i] == '\n' || v[i] == '\t')
            out[o++] = ' ';
        else {
            memcpy(out + o, v + i, k);
            o += k;
        }
        i += k;
    }
    if (i < len) {
        memcpy(out + o, "…", 3);
        o += 3;
    }
    out[o] = 0;
    return out;
}

typedef struct { FILE *f; const client_members *m; int era, first; } diff_print;

static int diff_cb(void *ctx, const catalog_field *fld, const char *was, const char *now)
{
    diff_print *d = ctx;
    char a[DIFF_VALUE_MAX + 64], b[DIFF_VALUE_MAX + 64];
    char wl[PROTO_ID_STR + PROTO_KEY_MAX + 256], nl[PROTO_ID_STR + PROTO_KEY_MAX + 256];
    if (fld->type == CAT_REF) {   /* names, not ids */
        was = was[0] ? client_ref_label(d->m, was, wl, sizeof wl) : was;
        now = now[0] ? client_ref_label(d->m, now, nl, sizeof nl) : now;
    }
    fprintf(d->f, "  %s%s: %s → %s\n", d->first ? "変更: " : "      ", fld->ja, diff_value(was, d->era, a, sizeof a),
            diff_value(now, d->era, b, sizeof b));
    d->first = 0;
    return 0;
}

void client_show_history(const proto_record *recs, size_t n, const client_members *m, int era, FILE *f)
{
    char who[256], when[32];
    if (n == 0)
        return;
    int cert = kind_is(recs[0].kind, KIND_CERTIFICATION);
    fprintf(f, "%s %s  (%s, 全%zu版)\n", cert ? "認定番号" : "導入実績", recs[0].key,
            client_member_label(m, &recs[0].author, who, sizeof who), n);
    const proto_record *prev = NULL;   /* the version before, if it was not a withdrawal */
    for (size_t i = 0; i < n; i++) {
        const proto_record *r = &recs[i];
        written_at(r, when, sizeof when);
        if (r->flags & PROTO_FLAG_TOMBSTONE) {
            const char *reason;
            int rl = str_len(r, "reason", &reason);
            /* one line per version: a reason's line breaks shown as spaces
             * (as diff_value does), or its lines could pass for versions */
            fprintf(f, "第%zu版  %s  取り下げ（理由: ", i + 1, when);
            for (int k = 0; k < rl; k++)
                fputc(reason[k] == '\n' ? ' ' : reason[k], f);
            fputs("）\n", f);
            prev = NULL;
            continue;
        }
        const char *again = i > 0 && !prev ? "再登録  " : "";
        if (cert) {
            fprintf(f, "第%zu版  %s  %s状態: ", i + 1, when, again);
            print_version_status(r, f);
            fputc('\n', f);
        } else {
            fprintf(f, "第%zu版  %s%s%s\n", i + 1, when, again[0] ? "  " : "", again);
        }
        if (!prev) {
            show_fields(r, m, era, f);
        } else {
            diff_print d = { f, m, era, 1 };
            if (catalog_diff(prev, r, diff_cb, &d) == 0)
                fprintf(f, "  変更: なし\n");
        }
        prev = r;
    }
}

size_t client_records(const uint8_t *reply, size_t len, const char *key, proto_record **out)
{
    proto_rd r;
    uint32_t n;
    *out = NULL;
    if (proto_map_find(reply, len, key, &r) || proto_rd_array(&r, &n))
        return 0;
    proto_record *v = calloc(n ? n : 1, sizeof *v);
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *b;
        uint32_t bl;
        if (proto_rd_bin(&r, &b, &bl))
            break;
        if (proto_record_decode_stored(b, bl, &v[k], NULL, 0) == 0)
            k++;
    }
    *out = v;
    return k;
}

/* ---- csearch, every page ---- */

/* The raw bytes of the array under key in a page (its elements, one after
 * the other) appended to acc; *n += their number.  -1 if it is not there or
 * malformed. */
static int page_array(const uint8_t *rep, size_t len, const char *key, msgpack_sbuffer *acc, uint64_t *n)
{
    proto_rd r;
    uint32_t k;
    if (proto_map_find(rep, len, key, &r) || proto_rd_array(&r, &k))
        return -1;
    const uint8_t *start = r.p;
    for (uint32_t i = 0; i < k; i++)
        if (proto_rd_skip(&r, 8))
            return -1;
    if (r.p > start)
        msgpack_sbuffer_write(acc, (const char *)start, (size_t)(r.p - start));
    *n += k;
    return 0;
}

static uint64_t page_u64(const uint8_t *rep, size_t len, const char *key, int *bad)
{
    uint64_t v = 0;
    if (proto_map_u64(rep, len, key, &v))
        *bad = 1;
    return v;
}

typedef struct {
    msgpack_sbuffer certs, adoptions, groups;
    uint64_t nc, na, ng;
} search_acc;

static void acc_init(search_acc *a)
{
    msgpack_sbuffer_init(&a->certs);
    msgpack_sbuffer_init(&a->adoptions);
    msgpack_sbuffer_init(&a->groups);
    a->nc = a->na = a->ng = 0;
}

static void acc_free(search_acc *a)
{
    msgpack_sbuffer_destroy(&a->certs);
    msgpack_sbuffer_destroy(&a->adoptions);
    msgpack_sbuffer_destroy(&a->groups);
}

static void put_raw_array(msgpack_packer *pk, const char *key, const msgpack_sbuffer *b, uint64_t n)
{
    proto_pack_cstr(pk, key);
    msgpack_pack_array(pk, (uint32_t)n);
    if (b->size)
        msgpack_sbuffer_write(pk->data, b->data, b->size);
}

/* The single map of client_csearch from what was gathered and the last
 * page (its members, products, totals). */
static int acc_reply(const search_acc *a, const uint8_t *last, size_t lastlen, uint64_t gen, uint8_t **reply,
                     size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_rd mr;
    int bad = 0;
    uint64_t products = page_u64(last, lastlen, "products", &bad);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int have_members = proto_map_find(last, lastlen, "members", &mr) == 0;
    const uint8_t *ms = mr.p;
    if (have_members && proto_rd_skip(&mr, 8))
        have_members = 0;
    msgpack_pack_map(&pk, 9 + (have_members ? 1 : 0));
    proto_pack_cstr(&pk, "ok");
    msgpack_pack_true(&pk);
    put_raw_array(&pk, "certifications", &a->certs, a->nc);
    put_raw_array(&pk, "adoptions", &a->adoptions, a->na);
    put_raw_array(&pk, "groups", &a->groups, a->ng);
    proto_pack_cstr(&pk, "products");
    msgpack_pack_uint64(&pk, products);
    proto_pack_cstr(&pk, "total_certifications");
    msgpack_pack_uint64(&pk, a->nc);
    proto_pack_cstr(&pk, "total_adoptions");
    msgpack_pack_uint64(&pk, a->na);
    proto_pack_cstr(&pk, "complete");
    msgpack_pack_true(&pk);
    proto_pack_cstr(&pk, "generation");
    msgpack_pack_uint64(&pk, gen);
    if (have_members) {
        proto_pack_cstr(&pk, "members");
        msgpack_sbuffer_write(&sb, (const char *)ms, (size_t)(mr.p - ms));
    }
    *reply = (uint8_t *)sb.data;   /* malloc'd by the sbuffer: the caller frees it */
    *len = sb.size;
    return CLIENT_OK;
}

int client_csearch(const client_opts *o, client_csearch_fill fill, void *ctx, uint8_t **reply, size_t *len)
{
    for (unsigned attempt = 0; attempt <= NODE_CONTROL_SEARCH_RESTARTS_MAX; attempt++) {
        search_acc a;
        uint64_t co = 0, ao = 0, gen = 0;
        int restart = 0;
        acc_init(&a);
        for (unsigned page = 0;; page++) {
            if (page == NODE_CONTROL_SEARCH_PAGES_MAX) {
                client_errorf("検索結果が %u ページ（1 ページ最大 %u MiB）を超えるため表示できません（条件を絞ってください）",
                              NODE_CONTROL_SEARCH_PAGES_MAX, NODE_CONTROL_PAGE_BYTES >> 20);
                acc_free(&a);
                return CLIENT_FAIL;
            }
            client_req r;
            uint8_t *rep;
            size_t rl;
            client_req_begin(&r, "csearch");
            fill(&r, ctx);
            if (page) {
                proto_map_put_u64(&r.m, "cert_offset", co);
                proto_map_put_u64(&r.m, "adoption_offset", ao);
            }
            int rc = client_call(o, &r, &rep, &rl);
            if (rc) {
                acc_free(&a);
                return rc;
            }
            int bad = 0, complete = 1;
            proto_rd cr;
            /* a daemon from before pages sends one reply, complete or not:
             * there is nothing more to ask it for */
            if (proto_map_find(rep, rl, "complete", &cr) == 0 && proto_rd_bool(&cr, &complete))
                bad = 1;
            uint64_t g = page_u64(rep, rl, "generation", &bad);
            uint64_t nc0 = a.nc, na0 = a.na;
            if (!bad && page && g != gen) {
                free(rep);
                restart = 1;
                break;
            }
            gen = g;
            if (page_array(rep, rl, "certifications", &a.certs, &a.nc) ||
                page_array(rep, rl, "adoptions", &a.adoptions, &a.na) || page_array(rep, rl, "groups", &a.groups, &a.ng))
                bad = 1;
            uint64_t nco = page_u64(rep, rl, "next_cert_offset", &bad);
            uint64_t nao = page_u64(rep, rl, "next_adoption_offset", &bad);
            uint64_t tc = page_u64(rep, rl, "total_certifications", &bad);
            uint64_t ta = page_u64(rep, rl, "total_adoptions", &bad);
            /* every page goes on from where the one before ended, and ends
             * further on; the last ends at the totals */
            if (!bad && (nco != co + (a.nc - nc0) || nao != ao + (a.na - na0) || (!complete && nco == co && nao == ao) ||
                         (complete && (a.nc != tc || a.na != ta))))
                bad = 1;
            if (bad && proto_map_find(rep, rl, "complete", &cr) != 0 && page == 0) {
                /* no pages at all (an older daemon): its one reply as it is */
                acc_free(&a);
                *reply = rep;
                *len = rl;
                return CLIENT_OK;
            }
            if (bad) {
                client_errorf("catalogd の検索結果のページが不整合です（%u ページ目）", page + 1);
                free(rep);
                acc_free(&a);
                return CLIENT_FAIL;
            }
            co = nco;
            ao = nao;
            if (complete) {
                rc = acc_reply(&a, rep, rl, gen, reply, len);
                free(rep);
                acc_free(&a);
                return rc;
            }
            free(rep);
        }
        acc_free(&a);
        if (!restart)
            break;
        if (attempt < NODE_CONTROL_SEARCH_RESTARTS_MAX)
            fprintf(stderr, "注意: 検索結果を読む間にカタログが更新されたため、最初から読み直します\n");
    }
    client_errorf("検索結果を読む間にカタログが %u 回続けて更新されたため、完全な一覧を得られませんでした"
                  "（しばらくしてからもう一度実行してください）",
                  NODE_CONTROL_SEARCH_RESTARTS_MAX + 1);
    return CLIENT_FAIL;
}

static const char *kind_ja(const char *kind)
{
    return kind_is(kind, KIND_CERTIFICATION) ? "認定" : kind_is(kind, KIND_ADOPTION) ? "導入実績" : kind;
}

int client_catalog_put(const void *opts, const char *kind, const char *key, const char *mode,
                       char **fields, int nfields, unsigned checks)
{
    const client_opts *o = opts;
    client_req r;
    client_req_begin(&r, "cput");
    if (checks & CLIENT_PUT_ALLOW_UNKNOWN)
        proto_map_put_u64(&r.m, "allow_unknown", 1);
    if (checks & CLIENT_PUT_STRICT)
        proto_map_put_u64(&r.m, "strict", 1);
    proto_map_key(&r.m, "items");
    msgpack_pack_array(&r.pk, 1);
    proto_map item;
    proto_map_begin(&item, &r.pk);
    proto_map_put_str(&item, "kind", kind);
    proto_map_put_str(&item, "key", key);
    proto_map_put_str(&item, "mode", mode);
    proto_map_key(&item, "fields");
    msgpack_pack_array(&r.pk, (size_t)nfields);
    for (int i = 0; i < nfields; i++) {
        const char *eq = strchr(fields[i], '=');
        msgpack_pack_array(&r.pk, 2);
        msgpack_pack_str(&r.pk, (size_t)(eq - fields[i]));
        msgpack_pack_str_body(&r.pk, fields[i], (size_t)(eq - fields[i]));
        proto_pack_cstr(&r.pk, eq + 1);
    }
    proto_map_end(&item);
    uint8_t *rep;
    size_t len;
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    proto_rd rd;
    uint32_t n, three;
    char k[PROTO_KEY_MAX + 1] = "", what[16] = "";
    uint64_t seq = 0;
    if (proto_map_find(rep, len, "results", &rd) == 0 && proto_rd_array(&rd, &n) == 0 && n == 1 &&
        proto_rd_array(&rd, &three) == 0) {
        proto_rd_strcpy(&rd, k, sizeof k);
        proto_rd_strcpy(&rd, what, sizeof what);
        proto_rd_uint(&rd, &seq);
    }
    /* warnings about what the record cites: on stderr, the write stands */
    uint32_t nw = 0, two;
    char (*warn)[2100] = NULL;
    if (proto_map_find(rep, len, "warnings", &rd) == 0 && proto_rd_array(&rd, &nw) == 0 && nw)
        warn = calloc(nw, sizeof *warn);
    for (uint32_t i = 0; warn && i < nw; i++) {
        char wk[PROTO_KEY_MAX + 1];
        if (proto_rd_array(&rd, &two) || two != 2 || proto_rd_strcpy(&rd, wk, sizeof wk) ||
            proto_rd_strcpy(&rd, warn[i], sizeof warn[i])) {
            nw = i;
            break;
        }
        fprintf(stderr, "catalogctl: 警告: %s %s: %s\n", kind_ja(kind), wk, warn[i]);
    }
    if (!warn)
        nw = 0;
    if (o->json) {
        printf("{\"key\":");
        client_json_str(stdout, k, strlen(k));
        printf(",\"result\":\"%s\",\"seq\":%llu,\"warnings\":[", what, (unsigned long long)seq);
        for (uint32_t i = 0; i < nw; i++) {
            if (i)
                putchar(',');
            client_json_str(stdout, warn[i], strlen(warn[i]));
        }
        printf("]}\n");
    } else {
        const char *done = !strcmp(what, "unchanged") ? "は変更ありません"
                           : !strcmp(what, "created") ? "を登録しました"
                           : !strcmp(what, "updated") ? "を更新しました"
                           : !strcmp(what, "withdrawn") ? "を取り下げました"
                                                        : what;
        printf("%s %s %s\n", kind_ja(kind), k, done);
    }
    free(warn);
    free(rep);
    return CLIENT_OK;
}
