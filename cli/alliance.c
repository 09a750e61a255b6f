/* cli/alliance.c — catalogctl alliance create: found an alliance (genesis). */
#include "cli/client.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "store/store.h"
#include "proto/util.h"
#include <stdlib.h>
#include <string.h>

/* Offline verbs open the node's store directly (LMDB allows a running daemon
 * to share it); they need the node key, so they run on the node's machine. */
int client_open_node(const client_opts *o, certs_identity *id, store **st);

int client_open_node(const client_opts *o, certs_identity *id, store **st)
{
    char err[512], path[1100];
    const char *dir = client_data_dir(o);
    if (certs_load(dir, id, err, sizeof err)) {
        client_errorf("%s", err);
        return CLIENT_FAIL;
    }
    snprintf(path, sizeof path, "%s/db", dir);
    if (store_open(path, 0, st, err, sizeof err) || store_bind_self(*st, &id->id, err, sizeof err)) {
        client_errorf("store %s: %s", path, err);
        certs_free(id);
        return CLIENT_FAIL;
    }
    return CLIENT_OK;
}

static int usage(void);

static int create(client_opts *o, int argc, char **argv)
{
    const char *name = NULL, *addr = NULL;
    long admission = 1;
    for (int i = 2; i < argc; i++) {
        char *end;
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--address") && i + 1 < argc)
            addr = argv[++i];
        else if (!strcmp(argv[i], "--admission") && i + 1 < argc &&
                 (admission = strtol(argv[i + 1], &end, 10), !*end && admission >= 1 && admission <= 1000))
            i++;
        else {
            client_usage_error("alliance", "bad argument '%s'", argv[i]);
            return usage();
        }
    }
    if (!name) {
        client_usage_error("alliance", "--name is required");
        return usage();
    }
    certs_identity id;
    store *st;
    char err[512];
    int rc = client_open_node(o, &id, &st);
    if (rc)
        return rc;
    if (store_create_genesis(st, id.key, id.der, id.der_len, id.code, id.name, name,
                             (uint32_t)admission, addr, err, sizeof err)) {
        client_errorf("alliance create: %s", err);
        rc = CLIENT_REFUSED;
    } else {
        store_info si;
        char g[65];
        store_info_get(st, &si);
        proto_hex(si.genesis.b, 32, g);
        if (o->json) {
            printf("{");
            client_json_kv_str(stdout, "alliance", name, 1);
            client_json_kv_str(stdout, "genesis", g, 1);
            client_json_kv_u64(stdout, "admission", (uint64_t)admission, 0);
            printf("}\n");
        } else {
            printf("founded alliance %s\ngenesis: %s\nadmission: %ld endorsement%s\n", name, g,
                   admission, admission == 1 ? "" : "s");
        }
    }
    store_close(st);
    certs_free(&id);
    return rc;
}

static const client_subverb subs[] = {
    { "create", create, "--data DIR --name NAME [--admission N] [--address HOST:PORT]", NULL },
};

const client_subverbs alliance_verb = { "alliance", subs, sizeof subs / sizeof subs[0], NULL, 0 };

static int usage(void)
{
    client_subverbs_usage(&alliance_verb, stderr);
    return CLIENT_USAGE;
}
