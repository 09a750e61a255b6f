/* catalog/export.c — the columns of an export; see export.h. */
#include "catalog/export.h"
#include "catalog/schema.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdio.h>
#include <string.h>

size_t catalog_export_headers(const char *kind, const char **out)
{
    size_t n, k = 0;
    const catalog_field *fs = catalog_fields(kind, &n);
    if (!fs || n + 2 > CATALOG_EXPORT_COLS)
        return 0;
    out[k++] = kind_is(kind, KIND_CERTIFICATION) ? "認定番号" : "キー";
    for (size_t i = 0; i < n; i++)
        out[k++] = fs[i].ja;
    out[k++] = kind_is(kind, KIND_CERTIFICATION) ? "認定団体" : "導入団体";
    return k;
}

uint64_t catalog_export_numeric(const char *kind)
{
    size_t n;
    uint64_t mask = 0;
    const catalog_field *fs = catalog_fields(kind, &n);
    for (size_t i = 0; fs && i < n && i + 1 < 64; i++)
        if (fs[i].type == CAT_INT || fs[i].type == CAT_FY)
            mask |= 1ull << (i + 1);   /* column 0 is the key */
    return mask;
}

typedef struct { const char *field; char *buf; size_t n; } fld_ctx;

/* A field as its text (proto_body_foreach's: lists joined by ", "), 分野
 * joined by "、" as people write them. */
static int fld_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    fld_ctx *c = ctx;
    if (strlen(c->field) != fl || memcmp(c->field, f, fl))
        return 0;
    int areas = !strcmp(c->field, "areas");
    size_t o = 0;
    for (size_t i = 0; i < tl && o + 4 < c->n; i++) {
        if (areas && t[i] == ',' && i + 1 < tl && t[i + 1] == ' ') {
            memcpy(c->buf + o, "、", 3);
            o += 3;
            i++;
        } else {
            c->buf[o++] = t[i];
        }
    }
    c->buf[o] = 0;
    return 1;
}

static const char *author_label(const proto_id *id, catalog_export_member_fn member, void *ctx, char *buf,
                                size_t n)
{
    char code[16], name[256];
    if (member && member(ctx, id, code, sizeof code, name, sizeof name) == 0)
        snprintf(buf, n, "%s %s", code, name);
    else
        proto_id_short(id, buf);
    return buf;
}

/* "MEMBER_ID/KEY" as "CODE/KEY" for a known member; anything else as it is
 * (an unknown member's id still resolves on import). */
static void ref_cell(char *cell, size_t n, catalog_export_member_fn member, void *ctx)
{
    const char *slash = strchr(cell, '/');
    char ids[128], code[16], name[256];
    proto_id id;
    if (!slash || (size_t)(slash - cell) >= sizeof ids)
        return;
    memcpy(ids, cell, (size_t)(slash - cell));
    ids[slash - cell] = 0;
    if (proto_id_parse(ids, &id) || !member || member(ctx, &id, code, sizeof code, name, sizeof name) ||
        !code[0])
        return;
    size_t cl = strlen(code), kl = strlen(slash);
    if (cl + kl < n) {
        memmove(cell + cl, slash, kl + 1);
        memcpy(cell, code, cl);
    }
}

size_t catalog_export_cells(const proto_record *r, catalog_export_member_fn member, void *ctx, jp_date today,
                            catalog_export_cells_buf *buf, const char **out)
{
    size_t n, k = 0;
    const catalog_field *fs = catalog_fields(r->kind, &n);
    if (!fs || n + 2 > CATALOG_EXPORT_COLS)
        return 0;
    int cert = kind_is(r->kind, KIND_CERTIFICATION);
    out[k++] = r->key;
    for (size_t i = 0; i < n; i++) {
        char *cell = (*buf)[i];
        fld_ctx c = { fs[i].name, cell, CATALOG_EXPORT_CELL_MAX };
        cell[0] = 0;
        proto_body_foreach(r, fld_cb, &c);
        if (cert && !strcmp(fs[i].name, "status"))
            snprintf(cell, CATALOG_EXPORT_CELL_MAX, "%s", catalog_status(r, today));
        else if (fs[i].type == CAT_REF && cell[0])
            ref_cell(cell, CATALOG_EXPORT_CELL_MAX, member, ctx);
        out[k++] = cell;
    }
    out[k++] = author_label(&r->author, member, ctx, (*buf)[n], CATALOG_EXPORT_CELL_MAX);
    return k;
}
