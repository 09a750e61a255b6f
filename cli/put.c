/* cli/put.c — catalogctl put KIND KEY [FIELD=VALUE...] [--delete]: a generic record. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: catalogctl put KIND KEY [FIELD=VALUE...] [--delete]"
const char put_usage[] = USAGE;

int put_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *kind = NULL, *key = NULL;
    int del = 0, nf = 0;
    char **fields = calloc((size_t)argc, sizeof *fields);
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--delete"))
            del = 1;
        else if (!kind)
            kind = argv[i];
        else if (!key)
            key = argv[i];
        else if (strchr(argv[i], '=') && argv[i][0] != '=')
            fields[nf++] = argv[i];
        else {
            client_usage_error("put", "'%s' is not FIELD=VALUE\n" USAGE, argv[i]);
            free(fields);
            return CLIENT_USAGE;
        }
    }
    if (!kind || !key) {
        client_usage_error("put", USAGE);
        free(fields);
        return CLIENT_USAGE;
    }
    client_req r;
    client_req_begin(&r, "put");
    proto_map_put_str(&r.m, "kind", kind);
    proto_map_put_str(&r.m, "key", key);
    proto_map_put_u64(&r.m, "tombstone", (uint64_t)del);
    proto_map_key(&r.m, "fields");
    msgpack_pack_array(&r.pk, (size_t)nf);
    for (int i = 0; i < nf; i++) {
        char *eq = strchr(fields[i], '=');
        msgpack_pack_array(&r.pk, 2);
        msgpack_pack_str(&r.pk, (size_t)(eq - fields[i]));
        msgpack_pack_str_body(&r.pk, fields[i], (size_t)(eq - fields[i]));
        proto_pack_cstr(&r.pk, eq + 1);
    }
    free(fields);
    uint8_t *rep;
    size_t len;
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    uint64_t seq = 0;
    char hash[80] = "";
    proto_map_u64(rep, len, "seq", &seq);
    proto_map_str(rep, len, "hash", hash, sizeof hash);
    if (o.json)
        printf("{\"seq\":%llu,\"hash\":\"%s\"}\n", (unsigned long long)seq, hash);
    else
        printf("%s %s/%s seq %llu hash %s\n", del ? "deleted" : "stored", kind, key,
               (unsigned long long)seq, hash);
    free(rep);
    return CLIENT_OK;
}
