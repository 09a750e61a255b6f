/* cli/adoption.c — catalogctl adoption add|update|show|history|list. */
#include "cli/catcmd.h"
#include "cli/verbs.h"
#include <string.h>

#define USAGE "usage: catalogctl adoption add KEY 認定=CODE/認定番号 年度=2026 原課=… 契約方法=… [FIELD=VALUE...]\n" \
              "       catalogctl adoption update KEY FIELD=VALUE...\n" \
              "       catalogctl adoption show|history KEY [--author CODE]\n" \
              "       catalogctl adoption list [--mine]"

int adoption_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "add"))
        return client_cat_write(&o, "adoption", "adoption", "add", argc, argv, NULL);
    if (!strcmp(sub, "update"))
        return client_cat_write(&o, "adoption", "adoption", "update", argc, argv, NULL);
    if (!strcmp(sub, "show"))
        return client_cat_show(&o, "adoption", "adoption", argc, argv);
    if (!strcmp(sub, "history"))
        return client_cat_history(&o, "adoption", "adoption", argc, argv);
    if (!strcmp(sub, "list"))
        return client_cat_list(&o, "adoption", "adoption", argc, argv);
    client_usage_error("adoption", USAGE);
    return CLIENT_USAGE;
}
