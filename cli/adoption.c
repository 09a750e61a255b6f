/* cli/adoption.c — catalogctl adoption add|update|show|history|list. */
#include "cli/catcmd.h"
#include "cli/verbs.h"

#define V "adoption"

static int add(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "add", argc, argv, NULL);
}

static int update(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, NULL);
}

static int show(client_opts *o, int argc, char **argv)
{
    return client_cat_show(o, V, V, argc, argv);
}

static int history(client_opts *o, int argc, char **argv)
{
    return client_cat_history(o, V, V, argc, argv);
}

static int list(client_opts *o, int argc, char **argv)
{
    return client_cat_list(o, V, V, argc, argv);
}

static const client_subverb subs[] = {
    { "add", add, "KEY 認定=CODE/認定番号 年度=2026 原課=… 契約方法=… [FIELD=VALUE...]" },
    { "update", update, "KEY FIELD=VALUE..." },
    { "show", show, "KEY [--author CODE]" },
    { "history", history, NULL },
    { "list", list, "[--mine] [--fy 年度] [--department 原課] [--route 契約方法] [--member CODE]" },
};

const client_subverbs adoption_verb = { V, subs, sizeof subs / sizeof subs[0], NULL };
