/* catalog/diff.c — what changed between two versions; see diff.h. */
#include "catalog/diff.h"

#include <stdlib.h>
#include <string.h>

typedef struct { const char *field; char *buf; size_t n; int list; } text_ctx;

static int text_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    text_ctx *c = ctx;
    if (strlen(c->field) != fl || memcmp(c->field, f, fl))
        return 0;
    size_t o = 0, max = c->n - 1;
    for (size_t i = 0; i < tl;) {
        /* proto_body_foreach joins list items with ", "; an item never holds a comma */
        int sep = c->list && t[i] == ',' && i + 1 < tl && t[i + 1] == ' ';
        const char *piece = sep ? "、" : t + i;
        size_t pl = sep ? 3 : 1;
        if (!sep)
            while (i + pl < tl && ((unsigned char)t[i + pl] & 0xc0) == 0x80)
                pl++;                               /* one whole character */
        if (o + pl > max)
            break;
        memcpy(c->buf + o, piece, pl);
        o += pl;
        i += sep ? 2 : pl;
    }
    c->buf[o] = 0;
    return 1;
}

const char *catalog_field_text(const proto_record *r, const char *field, char *buf, size_t n)
{
    if (!buf || n == 0)
        return buf;
    buf[0] = 0;
    if (!r || !field || (r->flags & PROTO_FLAG_TOMBSTONE))
        return buf;
    const catalog_field *f = catalog_field_find(r->kind, field);
    text_ctx c = { field, buf, n, f && f->type == CAT_LIST };
    proto_body_foreach(r, text_cb, &c);
    return buf;
}

#define TEXT_MAX PROTO_FIELD_MAX

int catalog_diff(const proto_record *a, const proto_record *b, catalog_diff_cb cb, void *ctx)
{
    size_t nf;
    const catalog_field *fs = catalog_fields(b ? b->kind : a ? a->kind : NULL, &nf);
    if (!fs)
        return -1;
    char *was = malloc(TEXT_MAX + 1), *now = malloc(TEXT_MAX + 1);
    int count = 0;
    if (!was || !now) {
        free(was);
        free(now);
        return -1;
    }
    for (size_t i = 0; i < nf; i++) {
        catalog_field_text(a, fs[i].name, was, TEXT_MAX + 1);
        catalog_field_text(b, fs[i].name, now, TEXT_MAX + 1);
        if (!strcmp(was, now))
            continue;
        count++;
        if (cb && cb(ctx, &fs[i], was, now))
            break;
    }
    free(was);
    free(now);
    return count;
}
