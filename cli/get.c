/* cli/get.c — catalogctl get KIND KEY [--author ID]: the current record. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include <stdlib.h>
#include <string.h>

/* Shared by get and history: KIND KEY [--author ID]. */
int client_record_query(int argc, char **argv, const char *verb, const char *cmd, const char *usage);

const char get_usage[] = "usage: catalogctl get KIND KEY [--author MEMBER_ID] [--json]";

int client_record_query(int argc, char **argv, const char *verb, const char *cmd, const char *usage)
{
    client_opts o = client_g;
    const char *kind = NULL, *key = NULL, *author = NULL;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--author") && i + 1 < argc)
            author = argv[++i];
        else if (!kind)
            kind = argv[i];
        else if (!key)
            key = argv[i];
        else
            kind = NULL, key = NULL, i = argc;
    }
    if (!kind || !key) {
        client_usage_error(verb, "%s", usage);
        return CLIENT_USAGE;
    }
    client_req r;
    client_req_begin(&r, cmd);
    proto_map_put_str(&r.m, "kind", kind);
    proto_map_put_str(&r.m, "key", key);
    if (author)
        proto_map_put_str(&r.m, "author", author);
    uint8_t *rep;
    size_t len;
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    proto_rd rd;
    uint32_t n = 0;
    if (proto_map_find(rep, len, "records", &rd) == 0)
        proto_rd_array(&rd, &n);
    if (n == 0 && !o.json) {
        client_errorf("%s: no record %s/%s", verb, kind, key);
        free(rep);
        return CLIENT_FAIL;
    }
    rc = client_print_records(rep, len, "records", o.json, !strcmp(cmd, "history"));
    free(rep);
    return rc;
}

int get_main(int argc, char **argv)
{
    return client_record_query(argc, argv, "get", "get", get_usage);
}
