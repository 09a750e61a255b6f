/* cli/list.c — catalogctl list [KIND]: current records, one line each. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include "proto/util.h"
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: catalogctl list [KIND] [--json]"
const char list_usage[] = USAGE;

int list_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *kind = NULL;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!kind && argv[i][0] != '-')
            kind = argv[i];
        else {
            client_usage_error("list", USAGE);
            return CLIENT_USAGE;
        }
    }
    client_req r;
    client_req_begin(&r, "list");
    if (kind)
        proto_map_put_str(&r.m, "kind", kind);
    uint8_t *rep;
    size_t len;
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    if (o.json) {
        rc = client_print_records(rep, len, "records", 1, 0);
        free(rep);
        return rc;
    }
    proto_rd rd;
    uint32_t n;
    if (proto_map_find(rep, len, "records", &rd) || proto_rd_array(&rd, &n)) {
        free(rep);
        client_errorf("invalid reply from catalogd");
        return CLIENT_FAIL;
    }
    static const char *hdr[] = { "KIND", "KEY", "AUTHOR", "SEQ", "STATE" };
    client_table *t = client_table_new(5, hdr);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *b;
        uint32_t bl;
        proto_record rec;
        if (proto_rd_bin(&rd, &b, &bl) || proto_record_decode_stored(b, bl, &rec, NULL, 0))
            break;
        char au[10], seq[24];
        proto_id_short(&rec.author, au);
        snprintf(seq, sizeof seq, "%llu", (unsigned long long)rec.seq);
        const char *row[] = { rec.kind, rec.key, au, seq,
                              rec.flags & PROTO_FLAG_TOMBSTONE ? "deleted" : "current" };
        client_table_row(t, row);
    }
    client_table_print(t, stdout);
    client_table_free(t);
    free(rep);
    return CLIENT_OK;
}
