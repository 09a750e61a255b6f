/* cli/certification.c — catalogctl certification add|update|suspend|revoke|reinstate|show|history|list. */
#include "cli/catcmd.h"
#include "cli/verbs.h"

#define V "certification"

static int add(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "add", argc, argv, NULL);
}

static int update(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, NULL);
}

static int suspend(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, "status=停止");
}

static int revoke(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, "status=取消");
}

static int reinstate(client_opts *o, int argc, char **argv)
{
    return client_cat_write(o, V, V, "update", argc, argv, "status=認定中");
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
    { "add", add, "KEY FIELD=VALUE..." },
    { "update", update, "KEY FIELD=VALUE..." },
    { "suspend", suspend, "KEY" },
    { "revoke", revoke, NULL },
    { "reinstate", reinstate, NULL },
    { "show", show, "KEY [--author CODE]" },
    { "history", history, NULL },
    { "list", list, "[--mine]" },
};

const client_subverbs certification_verb = {
    V, subs, sizeof subs / sizeof subs[0],
    "KEY is the 認定番号; FIELDs: 事業者名 法人番号 製品・サービス名 分野 認定日 有効期限 … (or company, product, …)"
};
