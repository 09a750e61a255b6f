/* catalog/query.c — search filters from the text people type; see index.h. */
#include "catalog/index.h"
#include "catalog/ref.h"
#include "catalog/schema.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>

void catalog_query_init(catalog_query *q)
{
    memset(q, 0, sizeof *q);
    q->area = CATALOG_AREA_ANY;
    q->status = CATALOG_STATUS_ANY;
}

static int empty(const char *s)
{
    return !s || !s[0];
}

int catalog_query_set_words(catalog_query *q, const char *text, char *err, size_t errlen)
{
    char qn[1024];   /* as catalog_search normalises them */
    if (empty(text)) {
        q->words = NULL;
        return 0;
    }
    if (catalog_norm(text, strlen(text), qn, sizeof qn))
        return proto_err(err, errlen, "search words are not valid UTF-8");
    q->words = text;
    return 0;
}

int catalog_query_set_area(catalog_query *q, const char *text, char *err, size_t errlen)
{
    char arean[256];
    int found = -1;
    if (empty(text)) {
        q->area = CATALOG_AREA_ANY;
        return 0;
    }
    catalog_norm(text, strlen(text), arean, sizeof arean);   /* "" if it cannot be: matches none */
    for (size_t i = 0; catalog_areas[i]; i++) {
        char an[256];
        if (catalog_norm(catalog_areas[i], strlen(catalog_areas[i]), an, sizeof an) == 0 && !strcmp(an, arean))
            found = (int)i;
    }
    if (found < 0)
        return proto_err(err, errlen, "unknown policy area '%s'", text);
    q->area = found;
    return 0;
}

int catalog_query_set_status(catalog_query *q, const char *text, char *err, size_t errlen)
{
    static const char *const words[] = { "認定中", "停止", "取消", "期間満了" };
    static const char *const aliases[] = { "active", "suspended", "revoked", "expired" };
    if (empty(text)) {
        q->status = CATALOG_STATUS_ANY;
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (!strcmp(text, words[i]) || !strcmp(text, aliases[i])) {
            q->status = i;
            return 0;
        }
    return proto_err(err, errlen, "status must be 認定中, 停止, 取消 or 期間満了");
}

int catalog_query_set_valid_on(catalog_query *q, const char *text, char *err, size_t errlen)
{
    jp_date d;
    if (empty(text)) {
        q->valid_on = 0;
        return 0;
    }
    if (jp_date_read(text, &d, err, errlen))
        return -1;
    q->valid_on = d.y * 10000 + d.m * 100 + d.d;
    return 0;
}

void catalog_query_set_corporate_number(catalog_query *q, const char *text)
{
    char digits[32] = "";
    size_t o = 0;
    for (size_t i = 0; text && text[i] && o < sizeof digits - 1; i++)
        if (text[i] >= '0' && text[i] <= '9')
            digits[o++] = text[i];
    digits[o] = 0;
    if (!o) {
        q->corporate_number = 0;
        return;
    }
    uint64_t v = o == 13 ? strtoull(digits, NULL, 10) : 0;
    q->corporate_number = v ? v : CATALOG_CORP_NONE;   /* 0 would mean "any" */
}

static int set_member(store *st, const char *text, int *has, proto_id *id, char *err, size_t errlen)
{
    proto_id m;
    if (empty(text)) {
        *has = 0;
        return 0;
    }
    if (catalog_member_ref(st, text, &m))
        return proto_err(err, errlen, "no current member %s (give a municipality code or member id)", text);
    *id = m;
    *has = 1;
    return 0;
}

int catalog_query_set_member(catalog_query *q, store *st, const char *text, char *err, size_t errlen)
{
    return set_member(st, text, &q->has_member, &q->member, err, errlen);
}

int catalog_query_set_adopted_by(catalog_query *q, store *st, const char *text, char *err, size_t errlen)
{
    return set_member(st, text, &q->has_adopted_by, &q->adopted_by, err, errlen);
}

static int flag(const char *v)
{
    return !empty(v) && strcmp(v, "0") != 0;
}

int catalog_query_set(catalog_query *q, store *st, const char *name, const char *value,
                      char *err, size_t errlen)
{
    if (!name)
        name = "";
    if (!strcmp(name, "q"))
        return catalog_query_set_words(q, value, err, errlen);
    if (!strcmp(name, "area"))
        return catalog_query_set_area(q, value, err, errlen);
    if (!strcmp(name, "member"))
        return catalog_query_set_member(q, st, value, err, errlen);
    if (!strcmp(name, "status"))
        return catalog_query_set_status(q, value, err, errlen);
    if (!strcmp(name, "valid_on"))
        return catalog_query_set_valid_on(q, value, err, errlen);
    if (!strcmp(name, "corporate_number")) {
        catalog_query_set_corporate_number(q, value);
        return 0;
    }
    if (!strcmp(name, "adopted_by"))
        return catalog_query_set_adopted_by(q, st, value, err, errlen);
    if (!strcmp(name, "not_adopted_by_me")) {
        q->not_adopted_by_self = flag(value);
        return 0;
    }
    if (!strcmp(name, "public_only")) {
        q->public_only = flag(value);
        return 0;
    }
    if (!strcmp(name, "all")) {
        q->all = flag(value);
        return 0;
    }
    if (!strcmp(name, "limit")) {
        if (empty(value)) {
            q->limit = 0;
            return 0;
        }
        if (strspn(value, "0123456789") != strlen(value) || strlen(value) > 19)
            return proto_err(err, errlen, "limit must be a number");
        q->limit = (size_t)strtoull(value, NULL, 10);
        return 0;
    }
    return proto_err(err, errlen, "unknown search filter '%s'", name);
}
