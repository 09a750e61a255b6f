/* cli/id.c — catalogctl id [FILE.pem]: the member id, to compare by phone. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "proto/util.h"

#define USAGE "usage: catalogctl id [--data DIR] [FILE.pem]"
const char id_usage[] = USAGE;

int id_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            client_usage_error("id", USAGE);
            return CLIENT_USAGE;
        }
    }
    certs_identity id;
    char err[512];
    int rc = file ? certs_read_file(file, &id, err, sizeof err)
                  : certs_load(client_data_dir(&o), &id, err, sizeof err);
    if (rc) {
        client_errorf("id: %s", err);
        return CLIENT_FAIL;
    }
    char s[PROTO_ID_STR];
    proto_id_str(&id.id, s);
    if (o.json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", s, 1);
        client_json_kv_str(stdout, "code", id.code, 1);
        client_json_kv_str(stdout, "name", id.name, 0);
        printf("}\n");
    } else {
        printf("%s\n", s);
    }
    certs_free(&id);
    return CLIENT_OK;
}
