/* cli/catview.c — see catview.h. */
#include "cli/catview.h"
#include "cli/client.h"
#include "catalog/schema.h"
#include "proto/frame.h"
#include "catalog/jp.h"
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
        if (proto_rd_array(&r, &three) || three != 3 || proto_rd_strcpy(&r, m->id, sizeof m->id) ||
            proto_rd_strcpy(&r, m->code, sizeof m->code) || proto_rd_strcpy(&r, m->name, sizeof m->name))
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

const char *client_member_label(const client_members *m, const proto_id *id, char *buf, size_t n)
{
    const client_member *mm = m ? client_member_by_id(m, id) : NULL;
    if (mm)
        snprintf(buf, n, "%s %s", mm->code, mm->name);
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

static jp_date today(void)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    jp_date d = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
    return d;
}

void client_show_catalog_record(const proto_record *r, const client_members *m, int era, FILE *f)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(r->kind, &nf);
    char who[256], buf[8192], when[32];
    time_t t = (time_t)(r->time_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    int cert = kind_is(r->kind, KIND_CERTIFICATION);
    fprintf(f, "%s %s  (%s, 第%llu版 %s)\n", cert ? "認定番号" : "導入実績", r->key,
            client_member_label(m, &r->author, who, sizeof who), (unsigned long long)r->seq, when);
    if (r->flags & PROTO_FLAG_TOMBSTONE) {
        fprintf(f, "  （削除済み）\n");
        return;
    }
    if (cert)
        fprintf(f, "  現在の状態:       %s\n", catalog_status(r, today()));
    for (size_t i = 0; fs && i < nf; i++) {
        client_field(r, fs[i].name, era, buf, sizeof buf);
        if (!buf[0])
            continue;
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
        if (proto_record_decode(b, bl, &v[k], NULL, 0) == 0)
            k++;
    }
    *out = v;
    return k;
}

int client_catalog_put(const void *opts, const char *kind, const char *key, const char *mode,
                       char **fields, int nfields)
{
    const client_opts *o = opts;
    client_req r;
    client_req_begin(&r, "cput");
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
    if (o->json)
        printf("{\"key\":\"%s\",\"result\":\"%s\",\"seq\":%llu}\n", k, what, (unsigned long long)seq);
    else if (!strcmp(what, "unchanged"))
        printf("%s %s unchanged\n", kind, k);
    else
        printf("%s %s %s (seq %llu)\n", kind, k, what, (unsigned long long)seq);
    free(rep);
    return CLIENT_OK;
}
