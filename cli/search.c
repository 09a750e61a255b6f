/*
 * cli/search.c — catalogctl search: which certified products solve X, who
 * certified them until when, and who already adopted them.  Results come
 * grouped per product (法人番号 + normalised product name) in the catalog's
 * own order; the daemon says which records form each product ("groups").
 */
#include "cli/catview.h"
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/schema.h"
#include "proto/frame.h"
#include "proto/mp.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdlib.h>
#include <string.h>

#define USAGE \
    "使い方: catalogctl search [語...] [--area 分野] [--member 団体コード] [--status 認定中|停止|取消|期間満了]\n" \
    "           [--valid-on 日付] [--expiring-within 6m|90d|1y] [--corporate-number 法人番号]\n" \
    "           [--adopted-by 団体コード] [--not-adopted-by-me] [--public-only] [--limit N] [--json] [--era]\n" \
    "  認定された製品・サービスを探します。製品ごとに、認定した団体と導入した団体を示します。\n" \
    "  語                         事業者名・製品名・概要・タグ・所在地・問合せ先に含まれる語（すべてを含むもの）\n" \
    "  --area 分野                行政課題の分野（catalogctl fields で一覧）\n" \
    "  --member 団体コード        その団体が認定したもの\n" \
    "  --status 状態              その日の状態（期間満了は有効期限を過ぎたもの）\n" \
    "  --valid-on 日付            その日に認定中のもの（2026-04-01、令和8年4月1日、R8.4.1）\n" \
    "  --expiring-within 期間     今日認定中で、有効期限がその期間内に来るもの（再申請の確認に）\n" \
    "  --corporate-number N       法人番号（13桁）\n" \
    "  --adopted-by 団体コード    その団体が導入したもの\n" \
    "  --not-adopted-by-me        この団体がまだ導入していないもの\n" \
    "  --public-only              公開してよいもの（visibility=public）だけ\n" \
    "  --limit N                  最初の N 製品だけ\n" \
    "  --all                      語と認定の条件を使わず、すべての認定と導入実績（--public-only は有効）"
const char search_usage[] = USAGE;

/* Ask the daemon; shared with export. */
int client_search_call(client_opts *o, int argc, char **argv, int first, uint8_t **rep, size_t *len);

/* Options that take a value, and the csearch filter each one sets. */
static const struct { const char *opt, *key; } value_opts[] = {
    { "--area", "area" }, { "--member", "member" }, { "--status", "status" },
    { "--valid-on", "valid_on" }, { "--corporate-number", "corporate_number" },
    { "--adopted-by", "adopted_by" }, { "--expiring-within", "expiring_within" },
};
#define NVALUE_OPTS (sizeof value_opts / sizeof value_opts[0])

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]: 1 and *val (or 0). -1 when
 * the value is missing. */
static int opt_value(const char *opt, int argc, char **argv, int *i, const char **val)
{
    size_t l = strlen(opt);
    if (strncmp(argv[*i], opt, l))
        return 0;
    if (argv[*i][l] == '=') {
        *val = argv[*i] + l + 1;
        return 1;
    }
    if (argv[*i][l])
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

/* The filters of one search, put into the request of each of its pages. */
typedef struct {
    const char *const *vals;   /* NVALUE_OPTS, NULL when not given */
    const char *q;
    uint64_t limit;
    int not_mine, pub, all, exact;
} search_req;

static void search_fill(client_req *r, void *ctx)
{
    const search_req *s = ctx;
    proto_map_put_u64(&r->m, "limit", s->limit);
    for (size_t k = 0; k < NVALUE_OPTS; k++)
        if (s->vals[k])
            proto_map_put_str(&r->m, value_opts[k].key, s->vals[k]);
    proto_map_put_str(&r->m, "q", s->q);
    proto_map_put_u64(&r->m, "not_adopted_by_me", (uint64_t)s->not_mine);
    proto_map_put_u64(&r->m, "public_only", (uint64_t)s->pub);
    proto_map_put_u64(&r->m, "all", (uint64_t)s->all);
    if (s->exact)
        proto_map_put_u64(&r->m, "exact", 1);   /* each row of an export is what was asked for */
}

int client_search_call(client_opts *o, int argc, char **argv, int first, uint8_t **rep, size_t *len)
{
    const char *vals[NVALUE_OPTS] = { 0 };
    int exporting = !strcmp(argv[0], "export");
    char *q = calloc(1, 1);
    size_t ql = 0;
    int not_mine = 0, pub = 0, all = 0;
    long long limit = -1;
    for (int i = first; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        int used = 0;
        for (size_t k = 0; k < NVALUE_OPTS && !used; k++) {
            int r = opt_value(value_opts[k].opt, argc, argv, &i, &vals[k]);
            if (r < 0) {
                client_usage_error(argv[0], "%s には値が要ります\n" USAGE, value_opts[k].opt);
                free(q);
                return CLIENT_USAGE;
            }
            used = r;
        }
        if (used)
            continue;
        const char *v = NULL;
        if (!strcmp(argv[i], "--not-adopted-by-me"))
            not_mine = 1;
        else if (!strcmp(argv[i], "--public-only"))
            pub = 1;
        else if (!strcmp(argv[i], "--all"))
            all = 1;
        else if (!exporting && opt_value("--limit", argc, argv, &i, &v) != 0) {
            char *end = NULL;
            limit = v ? strtoll(v, &end, 10) : -1;
            if (!v || !v[0] || *end || limit < 0 || strlen(v) > 12) {
                client_usage_error(argv[0], "--limit は 0 以上の整数で指定してください（0 は全件）\n" USAGE);
                free(q);
                return CLIENT_USAGE;
            }
        } else if (exporting && (opt_value("--format", argc, argv, &i, &v) > 0 ||
                                 opt_value("--output", argc, argv, &i, &v) > 0 ||
                                 opt_value("--kind", argc, argv, &i, &v) > 0 ||
                                 !strcmp(argv[i], "--raw")))
            ;   /* export's own options */
        else if (argv[i][0] != '-') {
            size_t al = strlen(argv[i]);
            char *nq = realloc(q, ql + al + 2);
            if (!nq) {
                free(q);
                client_errorf("out of memory");
                return CLIENT_FAIL;
            }
            q = nq;
            if (ql)
                q[ql++] = ' ';
            memcpy(q + ql, argv[i], al + 1);
            ql += al;
        } else {
            client_usage_error(argv[0], "オプション '%s' はありません\n" USAGE, argv[i]);
            free(q);
            return CLIENT_USAGE;
        }
    }
    /* every filter goes as typed: catalogd reads it whole or refuses it
     * (--valid-on through catalog_parse_date, 和暦 too) */
    int nf = 0;
    for (size_t k = 0; k < NVALUE_OPTS; k++)
        nf += vals[k] != NULL;
    /* export with no filter at all takes everything, adoptions included */
    if (exporting && !q[0] && nf == 0 && !not_mine)
        all = 1;
    /* people get a page of products; scripts and exports get everything */
    if (limit < 0)
        limit = o->json || exporting ? 0 : 100;
    search_req sr = { .vals = vals, .q = q, .limit = (uint64_t)limit, .not_mine = not_mine, .pub = pub,
                      .all = all, .exact = exporting };
    int rc = client_csearch(o, search_fill, &sr, rep, len);
    free(q);
    return rc;
}

/* The reply's "groups": per product, how many of the certifications and
 * adoptions (in list order) are its, and the union of its areas. */
typedef struct {
    size_t nc, na;
    char areas[512];      /* joined with "、" */
    json_t *jareas;
} group;

static size_t parse_groups(const uint8_t *rep, size_t len, group **out)
{
    proto_rd r;
    uint32_t n, three, nareas;
    *out = NULL;
    if (proto_map_find(rep, len, "groups", &r) || proto_rd_array(&r, &n))
        return 0;
    group *g = calloc(n ? n : 1, sizeof *g);
    size_t k = 0;
    for (uint32_t i = 0; g && i < n; i++) {
        uint64_t nc, na;
        if (proto_rd_array(&r, &three) || three != 3 || proto_rd_uint(&r, &nc) || proto_rd_uint(&r, &na) ||
            proto_rd_array(&r, &nareas))
            break;
        g[k].nc = (size_t)nc;
        g[k].na = (size_t)na;
        g[k].jareas = json_array();
        for (uint32_t a = 0; a < nareas; a++) {
            const char *s;
            uint32_t sl;
            if (proto_rd_str(&r, &s, &sl))
                break;
            size_t o = strlen(g[k].areas);
            snprintf(g[k].areas + o, sizeof g[k].areas - o, "%s%.*s", a ? "、" : "", (int)sl, s);
            json_array_append_new(g[k].jareas, json_stringn(s, sl));
        }
        if (r.err)
            break;
        k++;
    }
    if (g && k < n && g[k].jareas) {
        json_decref(g[k].jareas);
        g[k].jareas = NULL;
    }
    *out = g;
    return k;
}

/* "依拠: 131059 文京区 文京-2026-201" for a derived certification, else "". */
static const char *derived_mark(const proto_record *c, const client_members *m, char *buf, size_t n)
{
    char ref[600], label[700];
    client_field(c, "derived_from", 0, ref, sizeof ref);
    if (!ref[0]) {
        buf[0] = 0;
        return buf;
    }
    snprintf(buf, n, "依拠: %s", client_ref_label(m, ref, label, sizeof label));
    return buf;
}

int search_main(int argc, char **argv)
{
    client_opts o = client_g;
    uint8_t *rep;
    size_t len;
    int rc = client_search_call(&o, argc, argv, 1, &rep, &len), user_limit = 0;
    if (rc)
        return rc;
    for (int i = 1; i < argc; i++)
        user_limit |= !strcmp(argv[i], "--limit") || !strncmp(argv[i], "--limit=", 8);
    proto_record *certs, *adopts;
    size_t nc = client_records(rep, len, "certifications", &certs);
    size_t na = client_records(rep, len, "adoptions", &adopts);
    client_members m;
    client_members_parse(rep, len, &m);
    group *gs;
    size_t ng = parse_groups(rep, len, &gs);
    jp_date today = client_today();
    char b[8][1024], who[256];
    json_t *jout = o.json ? json_array() : NULL;
    size_t ci = 0, ai = 0, shown = 0;
    for (size_t k = 0; k < ng && ci + gs[k].nc <= nc && ai + gs[k].na <= na; k++) {
        group *g = &gs[k];
        proto_record *c0 = &certs[ci];
        shown++;
        if (o.json) {
            json_t *p = json_object(), *jc = json_array(), *ja = json_array();
            json_object_set_new(p, "product", json_string(client_field(c0, "product", 0, b[0], sizeof b[0])));
            json_object_set_new(p, "company", json_string(client_field(c0, "company", 0, b[1], sizeof b[1])));
            json_object_set_new(p, "corporate_number",
                                json_string(client_field(c0, "corporate_number", 0, b[2], sizeof b[2])));
            json_object_set(p, "areas", g->jareas);
            for (size_t i = 0; i < g->nc; i++)
                json_array_append_new(jc, client_catalog_json(&certs[ci + i], &m, today));
            for (size_t i = 0; i < g->na; i++)
                json_array_append_new(ja, client_catalog_json(&adopts[ai + i], &m, today));
            json_object_set_new(p, "certifications", jc);
            json_object_set_new(p, "adoptions", ja);
            json_array_append_new(jout, p);
            ci += g->nc;
            ai += g->na;
            continue;
        }
        if (k)
            putchar('\n');
        client_field(c0, "corporate_number", 0, b[2], sizeof b[2]);
        printf("■ %s — %s%s%s%s\n", client_field(c0, "product", 0, b[0], sizeof b[0]),
               client_field(c0, "company", 0, b[1], sizeof b[1]), b[2][0] ? "（法人番号 " : "", b[2],
               b[2][0] ? "）" : "");
        printf("  分野: %s\n", g->areas);
        static const char *hdr[] = { "", "団体", "番号", "日付", "状態", "詳細" };
        client_table *t = client_table_new(6, hdr);
        for (size_t i = 0; i < g->nc; i++) {
            proto_record *c = &certs[ci + i];
            char period[256], detail[1400], mark[800];
            client_field(c, "certified_on", o.era, b[4], sizeof b[4]);
            client_field(c, "valid_until", o.era, b[5], sizeof b[5]);
            snprintf(period, sizeof period, "%s〜%s", b[4], b[5]);
            client_field(c, "programme", 0, b[6], sizeof b[6]);
            derived_mark(c, &m, mark, sizeof mark);
            snprintf(detail, sizeof detail, "%s%s%s", b[6], b[6][0] && mark[0] ? "　" : "", mark);
            const char *row[] = { "  認定", client_member_label(&m, &c->author, who, sizeof who), c->key, period,
                                  catalog_status(c, today), detail };
            client_table_row(t, row);
        }
        for (size_t i = 0; i < g->na; i++) {
            proto_record *a = &adopts[ai + i];
            char detail[1200], ref[600];
            client_field(a, "rating", 0, b[6], sizeof b[6]);
            snprintf(detail, sizeof detail, "%s%s%s", client_field(a, "route", 0, b[5], sizeof b[5]),
                     b[6][0] ? " 評価" : "", b[6]);
            client_field(a, "certification", 0, ref, sizeof ref);
            const char *slash = strchr(ref, '/');
            const char *row[] = { "  導入", client_member_label(&m, &a->author, who, sizeof who),
                                  slash ? slash + 1 : ref, client_field(a, "fiscal_year", 1, b[4], sizeof b[4]),
                                  client_field(a, "stage", 0, b[7], sizeof b[7]), detail };
            client_table_row(t, row);
        }
        client_table_print(t, stdout);
        client_table_free(t);
        ci += g->nc;
        ai += g->na;
    }
    uint64_t total = 0;
    if (proto_map_u64(rep, len, "products", &total) || total < shown)
        total = shown;
    if (o.json) {
        /* with --limit the products that were not shown are counted: an
         * object, {"products": [...], "total_products", "more"}; without
         * it every product is there, an array as before */
        if (user_limit) {
            json_t *j = json_object();
            json_object_set_new(j, "products", jout);
            json_object_set_new(j, "total_products", json_integer((json_int_t)total));
            json_object_set_new(j, "more", json_boolean(total > shown));
            jout = j;
        }
        client_json_dumpf(jout, JSON_COMPACT | JSON_PRESERVE_ORDER, stdout);
        putchar('\n');
        json_decref(jout);
    } else if (shown == 0) {
        printf("該当する認定製品はありません\n");
    }
    /* on stderr: the table on stdout holds the products shown and nothing else */
    if (!o.json && total > shown)
        fprintf(stderr, "… ほかに %llu 件の製品があります（条件を絞るか、--limit 0 で全件を表示）\n",
                (unsigned long long)(total - shown));
    for (size_t k = 0; k < ng; k++)
        json_decref(gs[k].jareas);
    free(gs);
    free(certs);
    free(adopts);
    client_members_free(&m);
    free(rep);
    return CLIENT_OK;
}
