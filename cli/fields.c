/* cli/fields.c — catalogctl fields [certification|adoption]: the schema,
 * with every field's headers, type, limit and default (the documented
 * maximum lengths live here, in one table shared with the validators). */
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/schema.h"
#include "store/kind.h"
#include <stdio.h>
#include <string.h>

#define USAGE "usage: catalogctl fields [certification|adoption] [--json]"
const char fields_usage[] = USAGE;

int fields_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *kinds[2] = { "certification", "adoption" };
    int only = -1;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (kind_is(argv[i], KIND_CERTIFICATION))
            only = 0;
        else if (kind_is(argv[i], KIND_ADOPTION))
            only = 1;
        else {
            client_usage_error("fields", USAGE);
            return CLIENT_USAGE;
        }
    }
    /* 分野 and 契約方法: the node's policy in force when a daemon answers,
     * else the genesis policy's (the schema's) */
    catalog_vocab vocab = { NULL, NULL, 0 };
    struct policy_vocab_buf *vb = NULL;
    if (client_daemon_running(&o) && policy_vocab_fetch(&o, &vocab, &vb))
        memset(&vocab, 0, sizeof vocab);
    static const char *types[] = { "text", "date", "date or rule", "integer", "list", "one of", "url",
                                   "法人番号", "reference", "fiscal year" };
    if (o.json)
        printf("{");
    for (int k = 0; k < 2; k++) {
        if (only >= 0 && only != k)
            continue;
        size_t n;
        const catalog_field *fs = catalog_fields(kinds[k], &n);
        if (o.json) {
            printf("%s\"%s\":[", only < 0 && k ? "," : "", kinds[k]);
            for (size_t i = 0; i < n; i++) {
                printf("%s{", i ? "," : "");
                client_json_kv_str(stdout, "name", fs[i].name, 1);
                client_json_kv_str(stdout, "header", fs[i].ja, 1);
                client_json_kv_str(stdout, "type", types[fs[i].type], 1);
                client_json_kv_u64(stdout, "max", fs[i].max, 1);
                printf("\"required\":%s", fs[i].required ? "true" : "false");
                if (fs[i].def) {
                    putchar(',');
                    client_json_kv_str(stdout, "default", fs[i].def, 0);
                }
                putchar('}');
            }
            putchar(']');
            continue;
        }
        printf("%s%s (%s)\n", k && only < 0 ? "\n" : "", kinds[k], k ? "導入実績" : "認定; key = 認定番号");
        static const char *hdr[] = { "FIELD", "列見出し", "TYPE", "MAX", "REQUIRED", "VALUES / DEFAULT" };
        client_table *t = client_table_new(6, hdr);
        for (size_t i = 0; i < n; i++) {
            char max[32] = "", vals[1024] = "";
            if (fs[i].type == CAT_TEXT || fs[i].type == CAT_URL)
                snprintf(max, sizeof max, "%zu bytes", fs[i].max);
            else if (fs[i].type == CAT_LIST)
                snprintf(max, sizeof max, "%zu items", fs[i].max);
            else if (fs[i].type == CAT_INT)
                snprintf(max, sizeof max, "%zu", fs[i].max);
            const char *const *values = fs[i].values;
            if ((fs[i].flags & CATALOG_F_POLICY_AREAS) && vocab.areas)
                values = vocab.areas;
            if ((fs[i].flags & CATALOG_F_POLICY_ROUTES) && vocab.routes)
                values = vocab.routes;
            for (size_t v = 0; values && values[v]; v++)
                snprintf(vals + strlen(vals), sizeof vals - strlen(vals), "%s%s", v ? " " : "", values[v]);
            if (fs[i].def)
                snprintf(vals + strlen(vals), sizeof vals - strlen(vals), "%s(default %s)", vals[0] ? " " : "",
                         fs[i].def);
            const char *row[] = { fs[i].name, fs[i].ja, types[fs[i].type], max, fs[i].required ? "yes" : "",
                                  vals };
            client_table_row(t, row);
        }
        client_table_print(t, stdout);
        client_table_free(t);
    }
    if (o.json)
        printf("}\n");
    policy_vocab_free(vb);
    return CLIENT_OK;
}
