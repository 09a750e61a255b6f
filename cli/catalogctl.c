/*
 * cli/catalogctl.c — the control tool: a dispatcher over a table of verbs,
 * from which the usage text is printed.  Each verb lives in its own file.
 *
 * `catalogctl VERB --help` (or -h anywhere after the verb, or `catalogctl
 * help VERB`) prints that verb's usage from the same table, before the verb
 * runs: it neither reaches the daemon nor opens a data directory.
 */
#include "cli/client.h"
#include "cli/verbs.h"

#include <locale.h>
#include <string.h>

/* A verb is a handler with its usage, or a table of sub-verbs. */
static const struct {
    const char *verb;
    int (*fn)(int argc, char **argv);
    const char *usage;
    const client_subverbs *subs;
    const char *help;   /* a verb with sub-verbs: followed by their names */
} verbs[] = {
    { "init", init_main, init_usage, NULL, "Create this node's key and certificate (--code, --name)" },
    { "id", id_main, id_usage, NULL, "Print this node's member id (or that of a certificate file)" },
    { "cert", cert_main, cert_usage, NULL, "Print this node's certificate (PEM) to send to a sponsor" },
    { "alliance", NULL, NULL, &alliance_verb, "Found an alliance" },
    { "join", join_main, join_usage, NULL, "Trust a sponsor: join --sponsor FILE.pem --address HOST:PORT" },
    { "member", NULL, NULL, &member_verb, "Members" },
    { "key", NULL, NULL, &key_verb, "This node's key: rotate it, keeping the member id" },
    { "policy", NULL, NULL, &policy_verb, "The alliance's policy: quorums, 分野, 契約方法" },
    { "status", status_main, status_usage, NULL, "Node health: member id, records, digest, peers" },
    { "peers", peers_main, peers_usage, NULL, "Connections to other members" },
    { "metrics", metrics_main, metrics_usage, NULL, "Metrics in the Prometheus text format (as the web view's /metrics)" },
    { "watch", watch_main, watch_usage, NULL, "届いた記録を表示し続ける: watch [--kind 種別] [--area 分野] [--member 団体コード] [--json]" },
    { "backup", backup_main, backup_usage, NULL, "Copy the running node (store, key) into a new directory FILE" },
    { "restore", restore_main, restore_usage, NULL, "Bring a backup back: restore FILE --data DIR (daemon stopped)" },
    { "certification", NULL, NULL, &certification_verb, "認定" },
    { "adoption", NULL, NULL, &adoption_verb, "導入実績" },
    { "search", search_main, search_usage, NULL,
      "Find certified products: search [WORDS] [--area A] [--member CODE] ..." },
    { "import", import_main, import_usage, NULL, "認定の一覧を CSV（UTF-8 または Shift_JIS）から取り込む" },
    { "export", export_main, export_usage, NULL,
      "Export: export --format csv|json|xlsx [--output FILE] [--public-only]" },
    { "fields", fields_main, fields_usage, NULL, "The catalog's fields: headers, types, limits, defaults" },
    { "put", put_main, put_usage, NULL, "Write a record: put KIND KEY [FIELD=VALUE...] [--delete]" },
    { "get", get_main, get_usage, NULL, "Show the current record: get KIND KEY [--author ID]" },
    { "list", list_main, list_usage, NULL, "List current records: list [KIND]" },
    { "history", history_main, history_usage, NULL, "Every version of a record: history KIND KEY [--author ID]" },
    { "web-user", NULL, NULL, &webuser_verb, "ウェブ表示の利用者（web_users_file）" },
};

#define NVERBS (sizeof verbs / sizeof verbs[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: catalogctl [--data DIR | --socket PATH] [--json] [--era] COMMAND [ARGS]\n\n"
               "Commands:\n");
    for (size_t i = 0; i < NVERBS; i++) {
        fprintf(f, "  %-13s %s", verbs[i].verb, verbs[i].help);
        if (verbs[i].subs) {
            fputs(": ", f);
            client_subverbs_names(verbs[i].subs, f);
        }
        fputc('\n', f);
    }
    fprintf(f, "\n`catalogctl COMMAND --help` shows a command's usage.  The options before COMMAND\n"
               "may also follow it; --era writes dates in 和暦 (令和8年4月1日).\n"
               "DIR defaults to $CATALOGD_DATA, else ./var/node.  "
               "Exit status: 0 ok, 1 failure, 2 usage error, 3 refused.\n");
}

static size_t verb_find(const char *name)
{
    for (size_t v = 0; v < NVERBS; v++)
        if (!strcmp(name, verbs[v].verb))
            return v;
    return NVERBS;
}

static void verb_usage(size_t v, FILE *f)
{
    if (verbs[v].subs)
        client_subverbs_usage(verbs[v].subs, f);
    else
        fprintf(f, "%s\n", verbs[v].usage);
}

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

int main(int argc, char **argv)
{
    /* Width of Japanese text in tables comes from the C library's Unicode tables. */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
        setlocale(LC_CTYPE, "");
    client_guard_output();
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
        if (!client_common_opt(&client_g, argc, argv, &i)) {
            client_errorf("unknown option %s", argv[i]);
            usage(stderr);
            return CLIENT_USAGE;
        }
        i++;
    }
    if (i >= argc) {
        usage(stderr);
        return CLIENT_USAGE;
    }
    if (!strcmp(argv[i], "help")) {
        if (i + 1 >= argc) {
            usage(stdout);
            return 0;
        }
        size_t v = verb_find(argv[i + 1]);
        if (v == NVERBS) {
            client_errorf("unknown command '%s'", argv[i + 1]);
            usage(stderr);
            return CLIENT_USAGE;
        }
        verb_usage(v, stdout);
        return 0;
    }
    size_t v = verb_find(argv[i]);
    if (v == NVERBS) {
        client_errorf("unknown command '%s'", argv[i]);
        usage(stderr);
        return CLIENT_USAGE;
    }
    for (int a = i + 1; a < argc; a++)
        if (is_help(argv[a])) {
            verb_usage(v, stdout);
            return 0;
        }
    if (verbs[v].subs)
        return client_subverbs_main(verbs[v].subs, argc - i, argv + i);
    return verbs[v].fn(argc - i, argv + i);
}
