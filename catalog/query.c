/* catalog/query.c — search filters from the text people type; see index.h. */
#include "catalog/index.h"
#include "catalog/ref.h"
#include "catalog/schema.h"
#include "proto/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void catalog_query_init(catalog_query *q)
{
    memset(q, 0, sizeof *q);
    q->area = CATALOG_AREA_ANY;
    q->status = CATALOG_STATUS_ANY;
    q->route = -1;
}

static int empty(const char *s)
{
    return !s || !s[0];
}

/* For quoting a value in a message: at most 60 bytes, cut at a character
 * boundary (and marked), so the message stays valid UTF-8. */
static const char *quote(const char *s, char *buf, size_t n)
{
    size_t l = strlen(s), max = n > 64 ? 60 : n - 4;
    if (!proto_utf8_valid(s, l))
        return "(UTF-8 ではない値)";
    if (l <= max)
        return s;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    snprintf(buf, n, "%.*s…", (int)max, s);
    return buf;
}

/* catalog_norm into a malloc'd buffer large enough for any expansion. */
static char *norm_dup(const char *text, size_t *len)
{
    size_t n = strlen(text), cap = n * 18 + 16;   /* NFKC expands a character at most 18 times */
    char *b = malloc(cap);
    if (!b)
        return NULL;
    if (catalog_norm(text, n, b, cap)) {
        free(b);
        return NULL;
    }
    if (len)
        *len = strlen(b);
    return b;
}

int catalog_query_set_words(catalog_query *q, const char *text, char *err, size_t errlen)
{
    size_t n;
    if (empty(text)) {
        q->words = NULL;
        return 0;
    }
    if (!proto_utf8_valid(text, strlen(text)))
        return proto_err(err, errlen, "検索語が UTF-8 ではありません");
    char *m = norm_dup(text, &n);
    if (!m)
        return proto_err(err, errlen, "検索語を正規化できません");
    free(m);
    if (n > CATALOG_WORDS_MAX)
        return proto_err(err, errlen, "検索語が長すぎます（正規化後 %zu バイト、上限 %d バイト）", n,
                         CATALOG_WORDS_MAX);
    q->words = text;
    return 0;
}

int catalog_query_set_area_in(catalog_query *q, const char *const *areas, const char *text,
                              char *err, size_t errlen)
{
    int found = -1;
    char qb[80], list[32 * 68 + 1] = "";
    if (empty(text)) {
        q->area = CATALOG_AREA_ANY;
        return 0;
    }
    char *arean = proto_utf8_valid(text, strlen(text)) ? norm_dup(text, NULL) : NULL;
    for (size_t i = 0; arean && areas[i] && i < 32; i++) {
        char an[512];
        if (catalog_norm(areas[i], strlen(areas[i]), an, sizeof an) == 0 && !strcmp(an, arean))
            found = (int)i;
    }
    free(arean);
    if (found < 0) {
        for (size_t i = 0; areas[i] && i < 32; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "、" : "", areas[i]);
        return proto_err(err, errlen, "分野「%s」はありません（%s のいずれか）", quote(text, qb, sizeof qb), list);
    }
    q->area = found;
    return 0;
}

int catalog_query_set_area(catalog_query *q, const char *text, char *err, size_t errlen)
{
    return catalog_query_set_area_in(q, catalog_areas, text, err, errlen);
}

int catalog_query_set_status(catalog_query *q, const char *text, char *err, size_t errlen)
{
    static const char *const aliases[] = { "active", "suspended", "revoked", "expired" };
    if (empty(text)) {
        q->status = CATALOG_STATUS_ANY;
        return 0;
    }
    char *m = proto_utf8_valid(text, strlen(text)) ? norm_dup(text, NULL) : NULL;
    for (int i = 0; m && i < 4; i++) {
        char w[64];
        if ((catalog_norm(catalog_status_name(i), strlen(catalog_status_name(i)), w, sizeof w) == 0 &&
             !strcmp(m, w)) || !strcmp(m, aliases[i])) {
            free(m);
            q->status = i;
            return 0;
        }
    }
    free(m);
    return proto_err(err, errlen, "状態は 認定中、停止、取消、期間満了 のいずれかです");
}

int catalog_query_set_valid_on(catalog_query *q, const char *text, char *err, size_t errlen)
{
    jp_date d;
    char why[256], qb[80];
    if (empty(text)) {
        q->valid_on = 0;
        return 0;
    }
    if (catalog_parse_date(text, &d, why, sizeof why))
        return proto_err(err, errlen, "日付「%s」が読めません: %s", quote(text, qb, sizeof qb), why);
    q->valid_on = catalog_date_to_num(d);
    return 0;
}

int catalog_query_set_corporate_number(catalog_query *q, const char *text, char *err, size_t errlen)
{
    char d[14], qb[80];
    int want = -1;
    if (empty(text)) {
        q->corporate_number = 0;
        return 0;
    }
    switch (catalog_corporate_number_norm(text, d, &want)) {
    case 0:
        q->corporate_number = strtoull(d, NULL, 10);
        return 0;
    case -2:
        return proto_err(err, errlen, "法人番号「%s」のチェックデジットが違います（先頭の桁は %d のはずです）",
                         quote(text, qb, sizeof qb), want);
    default:
        return proto_err(err, errlen, "法人番号「%s」は13桁の数字ではありません（ハイフン・空白・全角数字は可）",
                         quote(text, qb, sizeof qb));
    }
}

int catalog_query_set_expiring_within(catalog_query *q, const char *text, char *err, size_t errlen)
{
    static const struct { const char *unit; int days, months; } units[] = {
        { "d", 1, 0 }, { "日", 1, 0 }, { "w", 7, 0 }, { "週", 7, 0 }, { "週間", 7, 0 },
        { "m", 0, 1 }, { "か月", 0, 1 }, { "ヶ月", 0, 1 }, { "カ月", 0, 1 }, { "ケ月", 0, 1 },
        { "ヵ月", 0, 1 }, { "月", 0, 1 }, { "y", 0, 12 }, { "年", 0, 12 },
    };
    char qb[80];
    if (empty(text)) {
        q->expiring_days = q->expiring_months = 0;
        return 0;
    }
    char *m = proto_utf8_valid(text, strlen(text)) ? norm_dup(text, NULL) : NULL;
    const char *p = m;
    long n = 0;
    int digits = 0, ok = 0, days = 0, months = 0;
    while (p && *p >= '0' && *p <= '9' && digits < 5) {
        n = n * 10 + (*p++ - '0');
        digits++;
    }
    if (p && *p == ' ')
        p++;
    for (size_t i = 0; p && digits && n > 0 && i < sizeof units / sizeof units[0]; i++) {
        char un[32];
        if (catalog_norm(units[i].unit, strlen(units[i].unit), un, sizeof un) == 0 && !strcmp(p, un)) {
            days = (int)n * units[i].days;
            months = (int)n * units[i].months;
            ok = days <= 3650 && months <= 120;
        }
    }
    free(m);
    if (!ok)
        return proto_err(err, errlen, "期間「%s」が読めません（90d、6m、1y のように 1〜3650 日分を日・週・月・年で）",
                         quote(text, qb, sizeof qb));
    q->expiring_days = days;
    q->expiring_months = months;
    return 0;
}

static int set_member(store *st, const char *text, int *has, proto_id *id, char *err, size_t errlen)
{
    proto_id m;
    char qb[80];
    if (empty(text)) {
        *has = 0;
        return 0;
    }
    if (catalog_member_ref(st, text, &m))
        return proto_err(err, errlen, "団体「%s」は現在の加盟団体にありません（団体コードか member id を指定してください）",
                         quote(text, qb, sizeof qb));
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

int catalog_query_set_adopter(catalog_query *q, store *st, const char *text, char *err, size_t errlen)
{
    return set_member(st, text, &q->has_adopter, &q->adopter, err, errlen);
}

int catalog_query_set_fiscal_year(catalog_query *q, const char *text, char *err, size_t errlen)
{
    int fy;
    char why[256], qb[80];
    if (empty(text)) {
        q->fiscal_year = 0;
        return 0;
    }
    if (catalog_parse_fy(text, &fy, why, sizeof why))
        return proto_err(err, errlen, "年度「%s」が読めません（例: 2026、令和8年度、R8）",
                         quote(text, qb, sizeof qb));
    q->fiscal_year = fy;
    return 0;
}

int catalog_query_set_department(catalog_query *q, const char *text, char *err, size_t errlen)
{
    if (empty(text)) {
        q->department = NULL;
        return 0;
    }
    size_t n = strlen(text);
    if (!proto_utf8_valid(text, n))
        return proto_err(err, errlen, "原課が UTF-8 ではありません");
    if (n > CATALOG_DEPARTMENT_MAX)
        return proto_err(err, errlen, "原課が長すぎます（%zu バイト、上限 %d バイト）", n, CATALOG_DEPARTMENT_MAX);
    q->department = text;
    return 0;
}

int catalog_query_set_route_in(catalog_query *q, const char *const *routes, const char *text,
                               char *err, size_t errlen)
{
    char list[32 * 68 + 1] = "", qb[80];
    if (empty(text)) {
        q->route = -1;
        return 0;
    }
    char *rn = proto_utf8_valid(text, strlen(text)) ? norm_dup(text, NULL) : NULL;
    for (int i = 0; rn && routes[i] && i < 32; i++) {
        char n[512];
        if (catalog_norm(routes[i], strlen(routes[i]), n, sizeof n) == 0 && !strcmp(n, rn)) {
            free(rn);
            q->route = i;
            return 0;
        }
    }
    free(rn);
    for (size_t i = 0; routes[i] && i < 32; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "、" : "", routes[i]);
    return proto_err(err, errlen, "契約方法「%s」はありません（%s のいずれか）", quote(text, qb, sizeof qb), list);
}

int catalog_query_set_route(catalog_query *q, const char *text, char *err, size_t errlen)
{
    return catalog_query_set_route_in(q, catalog_routes, text, err, errlen);
}

static int flag(const char *v)
{
    return !empty(v) && strcmp(v, "0") != 0;
}

int catalog_query_set(catalog_query *q, store *st, const char *name, const char *value,
                      char *err, size_t errlen)
{
    char qb[80];
    if (!name)
        name = "";
    if (!strcmp(name, "q"))
        return catalog_query_set_words(q, value, err, errlen);
    if (!strcmp(name, "area") || !strcmp(name, "route")) {
        /* the lists of the policy in force, as the index numbers them */
        store_policy *p = malloc(sizeof *p);
        const char *areas[STORE_POLICY_LIST_MAX + 1], *routes[STORE_POLICY_LIST_MAX + 1];
        int rc;
        if (p && store_policy_in_force(st, p) == 0) {
            store_policy_vocab(p, areas, routes);
            rc = name[0] == 'a' ? catalog_query_set_area_in(q, areas, value, err, errlen)
                                : catalog_query_set_route_in(q, routes, value, err, errlen);
        } else {
            rc = name[0] == 'a' ? catalog_query_set_area(q, value, err, errlen)
                                : catalog_query_set_route(q, value, err, errlen);
        }
        free(p);
        return rc;
    }
    if (!strcmp(name, "member"))
        return catalog_query_set_member(q, st, value, err, errlen);
    if (!strcmp(name, "status"))
        return catalog_query_set_status(q, value, err, errlen);
    if (!strcmp(name, "valid_on"))
        return catalog_query_set_valid_on(q, value, err, errlen);
    if (!strcmp(name, "corporate_number"))
        return catalog_query_set_corporate_number(q, value, err, errlen);
    if (!strcmp(name, "expiring_within"))
        return catalog_query_set_expiring_within(q, value, err, errlen);
    if (!strcmp(name, "adopted_by"))
        return catalog_query_set_adopted_by(q, st, value, err, errlen);
    if (!strcmp(name, "adopter"))
        return catalog_query_set_adopter(q, st, value, err, errlen);
    if (!strcmp(name, "fiscal_year"))
        return catalog_query_set_fiscal_year(q, value, err, errlen);
    if (!strcmp(name, "department"))
        return catalog_query_set_department(q, value, err, errlen);
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
    if (!strcmp(name, "exact")) {
        q->exact = flag(value);
        return 0;
    }
    if (!strcmp(name, "limit")) {
        if (empty(value)) {
            q->limit = 0;
            return 0;
        }
        if (strspn(value, "0123456789") != strlen(value) || strlen(value) > 19)
            return proto_err(err, errlen, "limit は数で指定してください（「%s」は数ではありません）",
                             quote(value, qb, sizeof qb));
        q->limit = (size_t)strtoull(value, NULL, 10);
        return 0;
    }
    return proto_err(err, errlen, "検索条件「%s」はありません", quote(name, qb, sizeof qb));
}
