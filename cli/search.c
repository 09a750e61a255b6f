/*
 * cli/search.c — catalogctl search: which certified products solve X, who
 * certified them until when, and who already adopted them.  Results are
 * grouped per product (法人番号 + normalised product name).
 */
#include "cli/catview.h"
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/schema.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define USAGE "usage: catalogctl search [WORDS...] [--area 分野] [--member CODE] [--status 認定中|停止|取消|期間満了]\n" \
              "           [--valid-on 日付（2026-04-01、令和8年4月1日、R8.4.1）] [--corporate-number N] [--adopted-by CODE]\n" \
              "           [--not-adopted-by-me] [--public-only] [--limit N] [--json] [--era]"
const char search_usage[] = USAGE;

typedef struct { char key[600]; size_t *certs, nc; size_t *adopts, na; } product;

static product *product_get(product **ps, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*ps)[i].key, key))
            return &(*ps)[i];
    *ps = realloc(*ps, (*n + 1) * sizeof **ps);
    product *p = &(*ps)[(*n)++];
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", key);
    return p;
}

static void push(size_t **v, size_t *n, size_t x)
{
    *v = realloc(*v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = x;
}

/* Ask the daemon; shared with export. */
int client_search_call(client_opts *o, int argc, char **argv, int first, uint8_t **rep, size_t *len);

int client_search_call(client_opts *o, int argc, char **argv, int first, uint8_t **rep, size_t *len)
{
    static const struct { const char *opt, *key; } kv[] = {
        { "--area", "area" }, { "--member", "member" }, { "--status", "status" },
        { "--valid-on", "valid_on" }, { "--corporate-number", "corporate_number" },
        { "--adopted-by", "adopted_by" },
    };
    const char *vals[6] = { 0 };
    char q[512] = "";
    int not_mine = 0, pub = 0, all = 0;
    long limit = -1;
    for (int i = first; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        int used = 0;
        for (size_t k = 0; k < 6 && !used; k++)
            if (!strcmp(argv[i], kv[k].opt) && i + 1 < argc) {
                vals[k] = argv[++i];
                used = 1;
            }
        if (used)
            continue;
        if (!strcmp(argv[i], "--not-adopted-by-me"))
            not_mine = 1;
        else if (!strcmp(argv[i], "--public-only"))
            pub = 1;
        else if (!strcmp(argv[i], "--all"))
            all = 1;
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc && strcmp(argv[0], "export"))
            limit = atol(argv[++i]);
        else if ((!strcmp(argv[i], "--format") || !strcmp(argv[i], "--output") || !strcmp(argv[i], "--kind")) &&
                 i + 1 < argc && !strcmp(argv[0], "export"))
            i++;   /* export's own options */
        else if (argv[i][0] != '-' && strlen(q) + strlen(argv[i]) + 2 < sizeof q) {
            if (q[0])
                strcat(q, " ");
            strcat(q, argv[i]);
        } else {
            client_usage_error(argv[0], "unknown option '%s'\n" USAGE, argv[i]);
            return CLIENT_USAGE;
        }
    }
    /* --valid-on as people write it (令和8年4月1日, R8.4.1 ...), sent as YYYY-MM-DD */
    char valid_on[11];
    if (vals[3]) {
        jp_date d;
        char why[256];
        if (jp_date_read(vals[3], &d, why, sizeof why)) {
            client_errorf("--valid-on: %s", why);
            return CLIENT_REFUSED;
        }
        jp_date_format(d, valid_on);
        vals[3] = valid_on;
    }
    int nf = 0;
    for (size_t k = 0; k < 6; k++)
        nf += vals[k] != NULL;
    /* export with no filter at all takes everything, adoptions included */
    if (!strcmp(argv[0], "export") && !q[0] && nf == 0 && !not_mine)
        all = 1;
    client_req r;
    /* people get a page of products; scripts and exports get everything */
    if (limit < 0)
        limit = o->json || !strcmp(argv[0], "export") ? 0 : 100;
    client_req_begin(&r, "csearch");
    proto_map_put_u64(&r.m, "limit", (uint64_t)limit);
    for (size_t k = 0; k < 6; k++)
        if (vals[k])
            proto_map_put_str(&r.m, kv[k].key, vals[k]);
    proto_map_put_str(&r.m, "q", q);
    proto_map_put_u64(&r.m, "not_adopted_by_me", (uint64_t)not_mine);
    proto_map_put_u64(&r.m, "public_only", (uint64_t)pub);
    proto_map_put_u64(&r.m, "all", (uint64_t)all);
    return client_call(o, &r, rep, len);
}

static const char *ref_key(const char *ref)
{
    const char *s = strchr(ref, '/');
    return s ? s + 1 : ref;
}

int search_main(int argc, char **argv)
{
    client_opts o = client_g;
    uint8_t *rep;
    size_t len;
    int rc = client_search_call(&o, argc, argv, 1, &rep, &len);
    if (rc)
        return rc;
    proto_record *certs, *adopts;
    size_t nc = client_records(rep, len, "certifications", &certs);
    size_t na = client_records(rep, len, "adoptions", &adopts);
    client_members m;
    client_members_parse(rep, len, &m);
    product *ps = NULL;
    size_t np = 0;
    char key[600], ref[600], ids[PROTO_ID_STR];
    for (size_t i = 0; i < nc; i++) {
        catalog_product_key(&certs[i], key, sizeof key);
        product *p = product_get(&ps, &np, key);
        push(&p->certs, &p->nc, i);
    }
    for (size_t j = 0; j < na; j++) {
        client_field(&adopts[j], "certification", 0, ref, sizeof ref);
        for (size_t i = 0; i < nc; i++) {
            proto_id_str(&certs[i].author, ids);
            size_t il = strlen(ids);
            if (!strncmp(ref, ids, il) && ref[il] == '/' && !strcmp(ref + il + 1, certs[i].key)) {
                catalog_product_key(&certs[i], key, sizeof key);
                product *p = product_get(&ps, &np, key);
                push(&p->adopts, &p->na, j);
                break;
            }
        }
    }
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    jp_date today = { tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday };
    char b[8][1024], who[256];
    if (o.json)
        printf("[");
    for (size_t k = 0; k < np; k++) {
        product *p = &ps[k];
        proto_record *c0 = &certs[p->certs[0]];
        if (o.json) {
            printf("%s{", k ? "," : "");
            client_json_kv_str(stdout, "product", client_field(c0, "product", 0, b[0], sizeof b[0]), 1);
            client_json_kv_str(stdout, "company", client_field(c0, "company", 0, b[1], sizeof b[1]), 1);
            client_json_kv_str(stdout, "corporate_number", client_field(c0, "corporate_number", 0, b[2], sizeof b[2]), 1);
            printf("\"certifications\":[");
            for (size_t i = 0; i < p->nc; i++) {
                if (i)
                    putchar(',');
                client_print_record(&certs[p->certs[i]], 1, stdout);
            }
            printf("],\"adoptions\":[");
            for (size_t i = 0; i < p->na; i++) {
                if (i)
                    putchar(',');
                client_print_record(&adopts[p->adopts[i]], 1, stdout);
            }
            printf("]}");
            free(p->certs);
            free(p->adopts);
            continue;
        }
        if (k)
            putchar('\n');
        client_field(c0, "corporate_number", 0, b[2], sizeof b[2]);
        printf("■ %s — %s%s%s%s\n", client_field(c0, "product", 0, b[0], sizeof b[0]),
               client_field(c0, "company", 0, b[1], sizeof b[1]), b[2][0] ? "（法人番号 " : "", b[2],
               b[2][0] ? "）" : "");
        printf("  分野: %s\n", client_field(c0, "areas", 0, b[3], sizeof b[3]));
        static const char *hdr[] = { "", "団体", "番号", "日付", "状態", "詳細" };
        client_table *t = client_table_new(6, hdr);
        for (size_t i = 0; i < p->nc; i++) {
            proto_record *c = &certs[p->certs[i]];
            char period[256];
            client_field(c, "certified_on", o.era, b[4], sizeof b[4]);
            client_field(c, "valid_until", o.era, b[5], sizeof b[5]);
            snprintf(period, sizeof period, "%s〜%s", b[4], b[5]);
            const char *row[] = { "  認定", client_member_label(&m, &c->author, who, sizeof who), c->key, period,
                                  catalog_status(c, today), client_field(c, "programme", 0, b[6], sizeof b[6]) };
            client_table_row(t, row);
        }
        for (size_t i = 0; i < p->na; i++) {
            proto_record *a = &adopts[p->adopts[i]];
            char detail[1200];
            client_field(a, "rating", 0, b[6], sizeof b[6]);
            snprintf(detail, sizeof detail, "%s%s%s%s", client_field(a, "route", 0, b[5], sizeof b[5]),
                     b[6][0] ? " 評価" : "", b[6], "");
            client_field(a, "certification", 0, ref, sizeof ref);
            const char *row[] = { "  導入", client_member_label(&m, &a->author, who, sizeof who), ref_key(ref),
                                  client_field(a, "fiscal_year", 1, b[4], sizeof b[4]),
                                  client_field(a, "stage", 0, b[7], sizeof b[7]), detail };
            client_table_row(t, row);
        }
        client_table_print(t, stdout);
        client_table_free(t);
        free(p->certs);
        free(p->adopts);
    }
    if (o.json)
        printf("]\n");
    else if (np == 0)
        printf("該当なし (no matching certified products)\n");
    uint64_t total = 0;
    if (!o.json && proto_map_u64(rep, len, "products", &total) == 0 && total > np)
        printf("\n… %llu more products; narrow the search or use --limit 0\n", (unsigned long long)(total - np));
    free(ps);
    free(certs);
    free(adopts);
    client_members_free(&m);
    free(rep);
    return CLIENT_OK;
}
