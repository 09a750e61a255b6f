/* cli/peers.c — catalogctl peers: connections, their state, sync, traffic. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: catalogctl peers [--json]"
const char peers_usage[] = USAGE;

int peers_main(int argc, char **argv)
{
    client_opts o = client_g;
    for (int i = 1; i < argc; i++)
        if (!client_common_opt(&o, argc, argv, &i)) {
            client_usage_error("peers", USAGE);
            return CLIENT_USAGE;
        }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "peers");
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    proto_rd rd;
    uint32_t n;
    if (proto_map_find(rep, len, "peers", &rd) || proto_rd_array(&rd, &n)) {
        free(rep);
        return CLIENT_FAIL;
    }
    /* tree: "eager" / "lazy" in the broadcast tree, "" without one (--json only) */
    static const char *sk[] = { "address", "code", "name", "state", "direction", "member_id", "tree" };
    static const char *nk[] = { "last_sync_ms_ago", "records_in", "records_out", "bytes_in", "bytes_out" };
    static const char *hdr[] = { "ADDRESS", "CODE", "NAME", "STATE", "DIR", "LAST SYNC", "RECS IN", "RECS OUT" };
    client_table *t = o.json ? NULL : client_table_new(8, hdr);
    if (o.json)
        printf("[");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *start = rd.p;
        if (proto_rd_skip(&rd, 4))
            break;
        size_t el = (size_t)(rd.p - start);
        char v[7][256];
        uint64_t nv[5];
        for (int k = 0; k < 7; k++) {
            v[k][0] = 0;
            proto_map_str(start, el, sk[k], v[k], sizeof v[k]);
        }
        for (int k = 0; k < 5; k++) {
            nv[k] = 0;
            proto_map_u64(start, el, nk[k], &nv[k]);
        }
        if (o.json) {
            printf("%s{", i ? "," : "");
            for (int k = 0; k < 7; k++)
                client_json_kv_str(stdout, sk[k], v[k], 1);
            for (int k = 0; k < 5; k++)
                client_json_kv_u64(stdout, nk[k], nv[k], k < 4);
            printf("}");
        } else {
            char ls[32], ri[24], ro[24];
            snprintf(ls, sizeof ls, "%.1fs ago", (double)nv[0] / 1000.0);
            snprintf(ri, sizeof ri, "%llu", (unsigned long long)nv[1]);
            snprintf(ro, sizeof ro, "%llu", (unsigned long long)nv[2]);
            const char *row[] = { v[0], v[1], v[2], v[3], v[4], ls, ri, ro };
            client_table_row(t, row);
        }
    }
    if (o.json) {
        printf("]\n");
    } else {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    free(rep);
    return CLIENT_OK;
}
