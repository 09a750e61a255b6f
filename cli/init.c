/* cli/init.c — catalogctl init: make this node's identity. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "proto/util.h"
#include <string.h>

#define USAGE "usage: catalogctl init --data DIR --code CODE --name NAME [--key-type ed25519|p256|rsa]"
const char init_usage[] = USAGE;

int init_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *code = NULL, *name = NULL, *type = "ed25519";
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--code") && i + 1 < argc)
            code = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--key-type") && i + 1 < argc)
            type = argv[++i];
        else {
            client_usage_error("init", "unexpected argument '%s'\n" USAGE, argv[i]);
            return CLIENT_USAGE;
        }
    }
    if (!code || !name) {
        client_usage_error("init", "--code and --name are required\n" USAGE);
        return CLIENT_USAGE;
    }
    const char *dir = client_data_dir(&o);
    char err[512];
    if (certs_init(dir, code, name, type, err, sizeof err)) {
        client_errorf("init: %s", err);
        return CLIENT_FAIL;
    }
    certs_identity id;
    if (certs_load(dir, &id, err, sizeof err)) {
        client_errorf("init: %s", err);
        return CLIENT_FAIL;
    }
    char s[PROTO_ID_STR];
    proto_id_str(&id.id, s);
    if (o.json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", s, 1);
        client_json_kv_str(stdout, "code", id.code, 1);
        client_json_kv_str(stdout, "name", id.name, 1);
        client_json_kv_str(stdout, "data", dir, 0);
        printf("}\n");
    } else {
        printf("initialised %s %s in %s\nmember id: %s\n", id.code, id.name, dir, s);
    }
    certs_free(&id);
    return CLIENT_OK;
}
