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
    /* The daemon answers a page at a time (NODE_CONTROL_LIST_DEFAULT
     * records); fetch pages until there is no "next" cursor, so the output
     * is the whole list, as one table or one JSON array. */
    static const char *hdr[] = { "KIND", "KEY", "AUTHOR", "SEQ", "STATE" };
    client_table *t = o.json ? NULL : client_table_new(5, hdr);
    uint8_t *cursor = NULL;
    uint32_t cursor_len = 0;
    size_t shown = 0;
    int rc = CLIENT_OK;
    if (o.json)
        fputc('[', stdout);
    for (;;) {
        client_req r;
        client_req_begin(&r, "list");
        if (kind)
            proto_map_put_str(&r.m, "kind", kind);
        if (cursor) {
            proto_map_key(&r.m, "after");
            msgpack_pack_bin(&r.pk, cursor_len);
            msgpack_pack_bin_body(&r.pk, cursor, cursor_len);
        }
        uint8_t *rep;
        size_t len;
        if ((rc = client_call(&o, &r, &rep, &len)))
            break;
        proto_rd rd;
        uint32_t n;
        if (proto_map_find(rep, len, "records", &rd) || proto_rd_array(&rd, &n)) {
            free(rep);
            client_errorf("invalid reply from catalogd");
            rc = CLIENT_FAIL;
            break;
        }
        for (uint32_t i = 0; i < n; i++) {
            const uint8_t *b;
            uint32_t bl;
            proto_record rec;
            if (proto_rd_bin(&rd, &b, &bl) || proto_record_decode_stored(b, bl, &rec, NULL, 0)) {
                if (o.json) {
                    client_errorf("invalid record in reply");
                    rc = CLIENT_FAIL;
                }
                break;
            }
            if (o.json) {
                if (shown)
                    fputc(',', stdout);
                client_print_record(&rec, 1, stdout);
            } else {
                char au[10], seq[24];
                proto_id_short(&rec.author, au);
                snprintf(seq, sizeof seq, "%llu", (unsigned long long)rec.seq);
                const char *row[] = { rec.kind, rec.key, au, seq,
                                      rec.flags & PROTO_FLAG_TOMBSTONE ? "deleted" : "current" };
                client_table_row(t, row);
            }
            shown++;
        }
        free(cursor);
        cursor = NULL;
        const uint8_t *nx;
        if (rc == CLIENT_OK && proto_map_find(rep, len, "next", &rd) == 0 && proto_rd_bin(&rd, &nx, &cursor_len) == 0 &&
            cursor_len && (cursor = malloc(cursor_len)))
            memcpy(cursor, nx, cursor_len);
        free(rep);
        if (rc != CLIENT_OK || !cursor)
            break;
    }
    free(cursor);
    if (o.json) {
        if (rc == CLIENT_OK)
            fputs("]\n", stdout);
    } else {
        if (rc == CLIENT_OK)
            client_table_print(t, stdout);
        client_table_free(t);
    }
    return rc;
}
