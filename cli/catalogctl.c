/*
 * cli/catalogctl.c — the control tool: a dispatcher over a table of verbs,
 * from which the usage text is printed.  Each verb lives in its own file.
 */
#include "cli/client.h"
#include "cli/verbs.h"

#include <locale.h>
#include <string.h>

static const struct {
    const char *verb;
    int (*fn)(int argc, char **argv);
    const char *help;
} verbs[] = {
    { "init", init_main, "Create this node's key and certificate (--code, --name)" },
    { "id", id_main, "Print this node's member id (or that of a certificate file)" },
    { "cert", cert_main, "Print this node's certificate (PEM) to send to a sponsor" },
    { "alliance", alliance_main, "Found an alliance: alliance create --name NAME" },
    { "join", join_main, "Trust a sponsor: join --sponsor FILE.pem --address HOST:PORT" },
    { "member", member_main, "Members: member add FILE.pem --address HOST:PORT | list | address | leave" },
    { "status", status_main, "Node health: member id, records, digest, peers" },
    { "peers", peers_main, "Connections to other members" },
    { "certification", certification_main, "認定: add|update|suspend|revoke|show|history|list" },
    { "adoption", adoption_main, "導入実績: add|update|show|history|list" },
    { "search", search_main, "Find certified products: search [WORDS] [--area A] [--member CODE] ..." },
    { "import", import_main, "Import certifications from a CSV file (UTF-8 or Shift_JIS)" },
    { "export", export_main, "Export: export --format csv|json|xlsx [--output FILE] [--public-only]" },
    { "fields", fields_main, "The catalog's fields: headers, types, limits, defaults" },
    { "put", put_main, "Write a record: put KIND KEY [FIELD=VALUE...] [--delete]" },
    { "get", get_main, "Show the current record: get KIND KEY [--author ID]" },
    { "list", list_main, "List current records: list [KIND]" },
    { "history", history_main, "Every version of a record: history KIND KEY [--author ID]" },
};

static void usage(FILE *f)
{
    fprintf(f, "usage: catalogctl [--data DIR | --socket PATH] [--json] COMMAND [ARGS]\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(f, "  %-10s %s\n", verbs[i].verb, verbs[i].help);
    fprintf(f, "\nDIR defaults to $CATALOGD_DATA, else ./var/node.  "
               "Exit status: 0 ok, 1 failure, 2 usage error, 3 refused.\n");
}

int main(int argc, char **argv)
{
    /* Width of Japanese text in tables comes from the C library's Unicode tables. */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
        setlocale(LC_CTYPE, "");
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
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
        usage(stdout);
        return 0;
    }
    for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++)
        if (!strcmp(argv[i], verbs[v].verb))
            return verbs[v].fn(argc - i, argv + i);
    client_errorf("unknown command '%s'", argv[i]);
    usage(stderr);
    return CLIENT_USAGE;
}
