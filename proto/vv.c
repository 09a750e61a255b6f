/* proto/vv.c — see vv.h. */
#include "proto/vv.h"
#include "proto/limits.h"

#include <stdlib.h>
#include <string.h>

proto_vv_entry *proto_vv_get(proto_vv *vv, const proto_id *author, int add)
{
    size_t lo = 0, hi = vv->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = memcmp(&vv->v[mid].author, author, sizeof *author);
        if (c == 0)
            return &vv->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!add || vv->n >= MSG_VV_MAX)
        return NULL;
    if (vv->n == vv->cap) {
        size_t nc = vv->cap ? 2 * vv->cap : 16;
        proto_vv_entry *nv = realloc(vv->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        vv->v = nv;
        vv->cap = nc;
    }
    memmove(&vv->v[lo + 1], &vv->v[lo], (vv->n - lo) * sizeof *vv->v);
    vv->v[lo].author = *author;
    vv->v[lo].seq = 0;
    vv->n++;
    return &vv->v[lo];
}

void proto_vv_free(proto_vv *vv)
{
    free(vv->v);
    vv->v = NULL;
    vv->n = vv->cap = 0;
}
