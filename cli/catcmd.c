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

static const char *kind_ja(const char *kind)
{
    return kind_is(kind, KIND_CERTIFICATION) ? "認定" : "導入実績";
}

static const char *key_word(const char *kind)
{
    return kind_is(kind, KIND_CERTIFICATION) ? "認定番号" : "キー";
}

/* What a write command was given: KEY, FIELD=VALUE..., and its options. */
typedef struct {
    const char *key;
    char **fields;   /* room for argc + 4 */
    int nf;
    unsigned checks;
    const char *reason, *date;
} write_args;

/* KEY FIELD=VALUE... [--strict] [--allow-unknown], and with `status`
 * [--reason TEXT] [--date DATE] too.  0, or CLIENT_USAGE (said so). */
static int parse_write(client_opts *o, const char *verb, const char *kind, int argc, char **argv, int status,
                       write_args *a)
{
    memset(a, 0, sizeof *a);
    a->fields = calloc((size_t)argc + 4, sizeof *a->fields);
    if (!a->fields) {
        client_errorf("メモリが足りません");
        return CLIENT_FAIL;
    }
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--strict"))
            a->checks |= CLIENT_PUT_STRICT;
        else if (!strcmp(argv[i], "--allow-unknown"))
            a->checks |= CLIENT_PUT_ALLOW_UNKNOWN;
        else if (status && !strcmp(argv[i], "--reason") && i + 1 < argc)
            a->reason = argv[++i];
        else if (status && !strcmp(argv[i], "--date") && i + 1 < argc)
            a->date = argv[++i];
        else if (!a->key && !is_field(argv[i]) && argv[i][0] != '-')
            a->key = argv[i];
        else if (is_field(argv[i]))
            a->fields[a->nf++] = argv[i];
        else {
            client_usage_error(verb, "'%s' は 項目=値 の形ではありません\n使い方: catalogctl %s %s %s 項目=値…", argv[i],
                               kind, argv[1], key_word(kind));
            free(a->fields);
            return CLIENT_USAGE;
        }
    }
    if (!a->key || (a->nf == 0 && !status)) {
        if (status)
            client_usage_error(verb, "使い方: catalogctl %s %s %s [--reason 理由] [--date 日付]", kind, argv[1],
                               key_word(kind));
        else
            client_usage_error(verb, "使い方: catalogctl %s %s %s 項目=値…\n"
                               "項目は日本語の列名か英語名です（例: 製品・サービス名=… または product=…）",
                               kind, argv[1], key_word(kind));
        free(a->fields);
        return CLIENT_USAGE;
    }
    return 0;
}

int client_cat_write(client_opts *o, const char *verb, const char *kind, const char *mode,
                     int argc, char **argv, const char *extra)
{
    write_args a;
    int rc = parse_write(o, verb, kind, argc, argv, 0, &a);
    if (rc)
        return rc;
    if (extra)
        a.fields[a.nf++] = (char *)extra;
    rc = client_catalog_put(o, kind, a.key, mode, a.fields, a.nf, a.checks);
    free(a.fields);
    return rc;
}

/* "NAME=VALUE", malloc'd (NULL when out of memory). */
static char *field_eq(const char *name, const char *value)
{
    size_t n = strlen(name) + 1 + strlen(value) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s=%s", name, value);
    return s;
}

int client_cat_status(client_opts *o, const char *verb, const char *kind, int argc, char **argv,
                      const char *status)
{
    write_args a;
    int rc = parse_write(o, verb, kind, argc, argv, 1, &a);
    if (rc)
        return rc;
    /* the reason and date belong to this change: an old reason never lingers */
    char today[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    char *st = field_eq("status", status), *date = field_eq("status_date", a.date ? a.date : today),
         *reason = field_eq("status_reason", a.reason ? a.reason : "");
    if (st && date && reason) {
        a.fields[a.nf++] = st;
        a.fields[a.nf++] = date;
        a.fields[a.nf++] = reason;
        rc = client_catalog_put(o, kind, a.key, "update", a.fields, a.nf, a.checks);
    } else {
        client_errorf("メモリが足りません");
        rc = CLIENT_FAIL;
    }
    free(st);
    free(date);
    free(reason);
    free(a.fields);
    return rc;
}

int client_cat_withdraw(client_opts *o, const char *verb, const char *kind, int argc, char **argv)
{
    const char *key = NULL, *reason = NULL;
    int bad = 0;
    for (int i = 2; i < argc && !bad; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!key && argv[i][0] != '-')
            key = argv[i];
        else
            bad = 1;
    }
    if (bad || !key || !reason || !reason[0]) {
        client_usage_error(verb, "使い方: catalogctl %s withdraw %s --reason 理由\n"
                           "取り下げには理由が必要です（履歴に残ります）", kind, key_word(kind));
        return CLIENT_USAGE;
    }
    char *field = field_eq("reason", reason);
    if (!field) {
        client_errorf("メモリが足りません");
        return CLIENT_FAIL;
    }
    int rc = client_catalog_put(o, kind, key, "withdraw", &field, 1, 0);
    free(field);
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

/* Records in full: a JSON array for scripts (client_catalog_json, with
 * "version" when known), labelled views for people; versions[i] (or NULL)
 * is record i's version number (第N版). */
static void show_records(const client_opts *o, const proto_record *recs, size_t n, const client_members *m,
                         const uint64_t *versions)
{
    jp_date today = client_today();
    if (o->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            putchar(o->json ? ',' : '\n');
        if (o->json) {
            json_t *j = client_catalog_json(&recs[i], m, today);
            if (versions && versions[i])
                json_object_set_new(j, "version", json_integer((json_int_t)versions[i]));
            client_json_dumpf(j, JSON_COMPACT | JSON_PRESERVE_ORDER, stdout);
            json_decref(j);
        } else
            client_show_catalog_record(&recs[i], versions ? versions[i] : 0, m, o->era, stdout);
    }
    if (o->json)
        printf("]\n");
}

/* The "versions" of a cfind reply, one per record (n of them), or NULL. */
static uint64_t *reply_versions(const uint8_t *rep, size_t len, size_t n)
{
    proto_rd r;
    uint32_t nv;
    if (proto_map_find(rep, len, "versions", &r) || proto_rd_array(&r, &nv) || nv != n || n == 0)
        return NULL;
    uint64_t *v = calloc(n, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (proto_rd_uint(&r, &v[i])) {
            free(v);
            return NULL;
        }
    return v;
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
        client_usage_error(verb, "使い方: catalogctl %s show %s [--author 団体コード] [--json] [--era]", kind,
                           key_word(kind));
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
        uint64_t *versions = reply_versions(rep, len, n);
        show_records(o, recs, n, &m, versions);
        free(versions);
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
        client_usage_error(verb, "使い方: catalogctl %s history %s [--author 団体コード] [--json] [--era]", kind,
                           key_word(kind));
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
            client_errorf("%s「%s」は見つかりません", kind_ja(kind), key);
        else
            client_errorf("%zu 団体に%s %s があります。--author 団体コード で指定してください", n, kind_ja(kind), key);
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
    if (o->json) {
        /* oldest first: record i is 第(i+1)版 */
        uint64_t *versions = calloc(n ? n : 1, sizeof *versions);
        for (size_t i = 0; versions && i < n; i++)
            versions[i] = i + 1;
        show_records(o, recs, n, &m, versions);
        free(versions);
    } else {
        client_show_history(recs, n, &m, o->era, stdout);
    }
    free(recs);
    client_members_free(&m);
    free(rep);
    return CLIENT_OK;
}

/* The adoption filters of a list, put into each page's csearch. */
typedef struct { const char *keys[4]; const char *const *vals; } list_req;

static void list_fill(client_req *r, void *ctx)
{
    const list_req *l = ctx;
    proto_map_put_u64(&r->m, "all", 1);
    for (size_t k = 0; k < 4; k++)
        if (l->vals[k])
            proto_map_put_str(&r->m, l->keys[k], l->vals[k]);
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
            client_usage_error(verb, "使い方: catalogctl %s list [--mine] [--json] [--era]", kind);
            return CLIENT_USAGE;
        } else {
            client_usage_error(verb, "使い方: catalogctl %s list [--mine] [--fy 年度] [--department 原課] "
                               "[--route 契約方法] [--member 団体コード] [--json] [--era]", kind);
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
    uint8_t *rep;
    size_t len;
    list_req lr = { .vals = avals };
    for (size_t k = 0; k < 4; k++)
        lr.keys[k] = afilters[k].key;
    int rc = client_csearch(o, list_fill, &lr, &rep, &len);
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
