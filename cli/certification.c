/* cli/certification.c — catalogctl certification add|update|suspend|revoke|show|history|list. */
#include "cli/catcmd.h"
#include "cli/verbs.h"
#include <string.h>

#define USAGE "usage: catalogctl certification add KEY FIELD=VALUE...\n" \
              "       catalogctl certification update KEY FIELD=VALUE...\n" \
              "       catalogctl certification suspend|revoke|reinstate KEY\n" \
              "       catalogctl certification show|history KEY [--author CODE]\n" \
              "       catalogctl certification list [--mine]\n" \
              "KEY is the 認定番号; FIELDs: 事業者名 法人番号 製品・サービス名 分野 認定日 有効期限 … (or company, product, …)"

int certification_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "add"))
        return client_cat_write(&o, "certification", "certification", "add", argc, argv, NULL);
    if (!strcmp(sub, "update"))
        return client_cat_write(&o, "certification", "certification", "update", argc, argv, NULL);
    if (!strcmp(sub, "suspend"))
        return client_cat_write(&o, "certification", "certification", "update", argc, argv, "status=停止");
    if (!strcmp(sub, "revoke"))
        return client_cat_write(&o, "certification", "certification", "update", argc, argv, "status=取消");
    if (!strcmp(sub, "reinstate"))
        return client_cat_write(&o, "certification", "certification", "update", argc, argv, "status=認定中");
    if (!strcmp(sub, "show"))
        return client_cat_show(&o, "certification", "certification", argc, argv);
    if (!strcmp(sub, "history"))
        return client_cat_history(&o, "certification", "certification", argc, argv);
    if (!strcmp(sub, "list"))
        return client_cat_list(&o, "certification", "certification", argc, argv);
    client_usage_error("certification", USAGE);
    return CLIENT_USAGE;
}
