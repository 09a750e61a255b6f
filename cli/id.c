/* cli/id.c — catalogctl id [FILE.pem]: the member id, to compare by phone. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "proto/util.h"
#include "store/store.h"

#include <string.h>
#include <sys/stat.h>

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
    /* after a key rotation the node's key is no longer the one its member
     * id was made from: the store (bound to the member) says which */
    proto_id member = id.id;
    int rotated = 0;
    char dbp[1100];
    struct stat sb;
    snprintf(dbp, sizeof dbp, "%s/db/data.mdb", client_data_dir(&o));
    store *st = NULL;
    if (!file && stat(dbp, &sb) == 0) {
        store_info si;
        snprintf(dbp, sizeof dbp, "%s/db", client_data_dir(&o));
        if (store_open(dbp, 0, &st, err, sizeof err) == 0 && store_info_get(st, &si) == 0 && si.has_self &&
            memcmp(&si.self, &id.id, 32)) {
            member = si.self;
            rotated = 1;
        }
        store_close(st);
    }
    char s[PROTO_ID_STR], k[PROTO_ID_STR];
    proto_id_str(&member, s);
    proto_id_str(&id.id, k);
    if (o.json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", s, 1);
        client_json_kv_str(stdout, "key", k, 1);
        client_json_kv_str(stdout, "code", id.code, 1);
        client_json_kv_str(stdout, "name", id.name, 0);
        printf("}\n");
    } else {
        printf("%s\n", s);
        if (rotated)
            printf("key %s (rotated; the member id stays)\n", k);
    }
    certs_free(&id);
    return CLIENT_OK;
}
