/* catalog/ref.c — members and records as people name them; see ref.h. */
#include "catalog/ref.h"
#include "catalog/schema.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdio.h>
#include <string.h>

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

int catalog_member_ref(store *st, const char *s, proto_id *out)
{
    if (proto_id_parse(s, out) == 0)
        return 0;
    code_find f = { s, { { 0 } }, 0 };
    store_members(st, find_code, &f);
    if (!f.found)
        return -1;
    *out = f.id;
    return 0;
}

const char *catalog_ref_resolve(store *st, const char *v, char *buf, size_t n)
{
    const char *slash = strchr(v, '/');
    char who[80];
    proto_id id;
    if (!slash || (size_t)(slash - v) >= sizeof who)
        return v;
    memcpy(who, v, (size_t)(slash - v));
    who[slash - v] = 0;
    if (strlen(who) != 6 || catalog_member_ref(st, who, &id))
        return v;
    char ids[PROTO_ID_STR];
    proto_id_str(&id, ids);
    snprintf(buf, n, "%s%s", ids, slash);
    return buf;
}

const char *catalog_lookup_key(const char *kind, const char *key, char *buf, size_t n)
{
    if (!kind || !key || !kind_has(kind, KIND_F_CATALOG) || catalog_key_norm(key, buf, n, NULL, 0))
        return key;
    return buf;
}
