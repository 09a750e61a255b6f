/*
 * cli/catcmd.c — what `certification` and `adoption` share: add, update,
 * show, history and list over the control socket.
 */
#include "cli/catcmd.h"
#include "cli/catview.h"
#include "cli/client.h"
#include "catalog/schema.h"
#include "proto/frame.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int is_field(const char *a)
{
    const char *eq = strchr(a, '=');
    return eq && eq != a && a[0] != '-';
}

int client_cat_write(client_opts *o, const char *verb, const char *kind, const char *mode,
                     int argc, char **argv, const char *extra)
{
    const char *key = NULL;
    char **fields = calloc((size_t)argc + 2, sizeof *fields);
    int nf = 0;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!key && !is_field(argv[i]) && argv[i][0] != '-')
            key = argv[i];
        else if (is_field(argv[i]))
            fields[nf++] = argv[i];
        else {
            client_usage_error(verb, "'%s' is not FIELD=VALUE\nusage: catalogctl %s %s KEY FIELD=VALUE...",
                               argv[i], kind, argv[1]);
            free(fields);
            return CLIENT_USAGE;
        }
    }
    if (extra)
        fields[nf++] = (char *)extra;
    if (!key || (nf == 0 && !extra)) {
        client_usage_error(verb, "usage: catalogctl %s %s KEY FIELD=VALUE...\n"
                           "FIELD is a column name in English or Japanese, e.g. product=… or 製品・サービス名=…",
                           kind, argv[1]);
        free(fields);
        return CLIENT_USAGE;
    }
    int rc = client_catalog_put(o, kind, key, mode, fields, nf);
    free(fields);
    return rc;
}

/* KEY [--author CODE|ID] */
static int key_author(client_opts *o, const char *verb, int argc, char **argv, const char **key,
                      const char **author)
{
    *key = NULL;
    *author = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--author") && i + 1 < argc)
            *author = argv[++i];
        else if (!*key && argv[i][0] != '-')
            *key = argv[i];
        else
            return -1;
    }
    return *key ? 0 : -1;
}

/* Records in full: a JSON array for scripts (client_catalog_json), labelled
 * views for people. */
static void show_records(const client_opts *o, const proto_record *recs, size_t n, const client_members *m)
{
    jp_date today = client_today();
    if (o->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(o->json ? ',' : '\n');
        if (o->json)
            client_catalog_json_print(&recs[i], m, today, stdout);
        else
            client_show_catalog_record(&recs[i], m, o->era, stdout);
    }
    if (o->json)
        printf("]\n");
}

/* "認定 文京-2026-001" / "導入実績 R8-001" for messages. */
static const char *kind_ja(const char *kind)
{
    return kind_is(kind, KIND_CERTIFICATION) ? "認定" : "導入実績";
}

static int find(client_opts *o, const char *kind, const char *key, const char *author,
                uint8_t **rep, size_t *len)
{
    client_req r;
    client_req_begin(&r, "cfind");
    proto_map_put_str(&r.m, "kind", kind);
    proto_map_put_str(&r.m, "key", key);
    if (author)
        proto_map_put_str(&r.m, "author", author);
    return client_call(o, &r, rep, len);
}

int client_cat_show(client_opts *o, const char *verb, const char *kind, int argc, char **argv)
{
    const char *key, *author;
    if (key_author(o, verb, argc, argv, &key, &author)) {
        client_usage_error(verb, "usage: catalogctl %s show KEY [--author CODE|MEMBER_ID] [--json] [--era]", kind);
        return CLIENT_USAGE;
    }
    uint8_t *rep;
    size_t len;
    int rc = find(o, kind, key, author, &rep, &len);
    if (rc)
        return rc;
    proto_record *recs;
    size_t n = client_records(rep, len, "records", &recs);
    client_members m;
    client_members_parse(rep, len, &m);
    if (n == 0) {
        /* a missing record fails in both forms: scripts test the exit status */
        if (author)
            client_errorf("%s「%s」（%s）は見つかりません", kind_ja(kind), key, author);
        else
            client_errorf("%s「%s」は見つかりません", kind_ja(kind), key);
        rc = CLIENT_FAIL;
    } else {
        show_records(o, recs, n, &m);
    }
    free(recs);
    client_members_free(&m);
    free(rep);
    return rc;
}

int client_cat_history(client_opts *o, const char *verb, const char *kind, int argc, char **argv)
{
    const char *key, *author;
    if (key_author(o, verb, argc, argv, &key, &author)) {
        client_usage_error(verb, "usage: catalogctl %s history KEY [--author CODE|MEMBER_ID] [--json]", kind);
        return CLIENT_USAGE;
    }
    /* Whose?  The one member holding KEY, unless --author says. */
    uint8_t *rep;
    size_t len;
    int rc = find(o, kind, key, author, &rep, &len);
    if (rc)
        return rc;
    proto_record *recs;
    size_t n = client_records(rep, len, "records", &recs);
    client_members m;
    client_members_parse(rep, len, &m);
    if (n != 1) {
        if (n == 0)
            client_errorf("no %s %s", kind, key);
        else
            client_errorf("%zu members have a %s %s: give --author CODE", n, kind, key);
        free(recs);
        client_members_free(&m);
        free(rep);
        return n == 0 ? CLIENT_FAIL : CLIENT_USAGE;
    }
    char aid[PROTO_ID_STR];
    proto_id_str(&recs[0].author, aid);
    free(recs);
    free(rep);
    client_req r;
    client_req_begin(&r, "history");
    proto_map_put_str(&r.m, "kind", kind);
    proto_map_put_str(&r.m, "key", key);
    proto_map_put_str(&r.m, "author", aid);
    rc = client_call(o, &r, &rep, &len);
    if (rc) {
        client_members_free(&m);
        return rc;
    }
    n = client_records(rep, len, "records", &recs);
    show_records(o, recs, n, &m);
    free(recs);
    client_members_free(&m);
    free(rep);
    return CLIENT_OK;
}

/* list: one line per record of this kind (--mine: this member's only).
 * Adoptions also by 年度 (--fy), 原課 (--department), 契約方法 (--route) and
 * adopting member (--member), filtered by the daemon (catalog_query). */
int client_cat_list(client_opts *o, const char *verb, const char *kind, int argc, char **argv)
{
    static const struct { const char *opt, *key; } afilters[] = {
        { "--fy", "fiscal_year" }, { "--department", "department" }, { "--route", "route" },
        { "--member", "adopter" },
    };
    const char *avals[4] = { 0 };
    int mine = 0, cert = kind_is(kind, KIND_CERTIFICATION);
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        int used = 0;
        for (size_t k = 0; !cert && k < 4 && !used; k++) {
            size_t l = strlen(afilters[k].opt);
            if (!strncmp(argv[i], afilters[k].opt, l) && argv[i][l] == '=') {
                avals[k] = argv[i] + l + 1;
                used = 1;
            } else if (!strcmp(argv[i], afilters[k].opt)) {
                if (i + 1 >= argc) {
                    client_usage_error(verb, "%s には値が要ります", afilters[k].opt);
                    return CLIENT_USAGE;
                }
                avals[k] = argv[++i];
                used = 1;
            }
        }
        if (used)
            continue;
        if (!strcmp(argv[i], "--mine"))
            mine = 1;
        else if (cert) {
            client_usage_error(verb, "usage: catalogctl %s list [--mine] [--json] [--era]", kind);
            return CLIENT_USAGE;
        } else {
            client_usage_error(verb, "usage: catalogctl %s list [--mine] [--fy 年度] [--department 原課] "
                               "[--route 契約方法] [--member CODE] [--json] [--era]", kind);
            return CLIENT_USAGE;
        }
    }
    char self[PROTO_ID_STR] = "";
    if (mine) {
        client_req s;
        uint8_t *sr;
        size_t sl;
        client_req_begin(&s, "status");
        int src = client_call(o, &s, &sr, &sl);
        if (src)
            return src;
        proto_map_str(sr, sl, "member_id", self, sizeof self);
        free(sr);
    }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "csearch");
    proto_map_put_u64(&r.m, "all", 1);
    for (size_t k = 0; k < 4; k++)
        if (avals[k])
            proto_map_put_str(&r.m, afilters[k].key, avals[k]);
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    proto_record *recs;
    size_t n = client_records(rep, len, cert ? "certifications" : "adoptions", &recs);
    client_members m;
    client_members_parse(rep, len, &m);
    static const char *ch[] = { "認定番号", "製品・サービス名", "事業者名", "分野", "認定団体", "有効期限", "状態" };
    static const char *ah[] = { "キー", "導入団体", "年度", "原課", "契約方法", "段階", "金額", "認定" };
    client_table *t = o->json ? NULL : (cert ? client_table_new(7, ch) : client_table_new(8, ah));
    jp_date today = client_today();
    if (o->json)
        printf("[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        char aid[PROTO_ID_STR];
        proto_id_str(&recs[i].author, aid);
        if (mine && strcmp(aid, self))
            continue;
        if (o->json) {
            if (!first)
                putchar(',');
            client_catalog_json_print(&recs[i], &m, today, stdout);
            first = 0;
            continue;
        }
        char b[6][1024], who[256];
        client_member_label(&m, &recs[i].author, who, sizeof who);
        if (cert) {
            const char *row[] = { recs[i].key, client_field(&recs[i], "product", 0, b[0], sizeof b[0]),
                                  client_field(&recs[i], "company", 0, b[1], sizeof b[1]),
                                  client_field(&recs[i], "areas", 0, b[2], sizeof b[2]), who,
                                  client_field(&recs[i], "valid_until", o->era, b[3], sizeof b[3]),
                                  catalog_status(&recs[i], today) };
            client_table_row(t, row);
        } else {
            char ref[600], label[700];
            client_field(&recs[i], "certification", 0, ref, sizeof ref);
            const char *row[] = { recs[i].key, who, client_field(&recs[i], "fiscal_year", o->era, b[0], sizeof b[0]),
                                  client_field(&recs[i], "department", 0, b[1], sizeof b[1]),
                                  client_field(&recs[i], "route", 0, b[2], sizeof b[2]),
                                  client_field(&recs[i], "stage", 0, b[3], sizeof b[3]),
                                  client_field(&recs[i], "amount", 0, b[4], sizeof b[4]),
                                  client_ref_label(&m, ref, label, sizeof label) };
            client_table_row(t, row);
        }
    }
    if (o->json) {
        printf("]\n");
    } else {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    free(recs);
    client_members_free(&m);
    free(rep);
    return CLIENT_OK;
}
