/* cli/status.c — catalogctl status: node health. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: catalogctl status [--json]"
const char status_usage[] = USAGE;

int status_main(int argc, char **argv)
{
    client_opts o = client_g;
    for (int i = 1; i < argc; i++)
        if (!client_common_opt(&o, argc, argv, &i)) {
            client_usage_error("status", USAGE);
            return CLIENT_USAGE;
        }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "status");
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    static const char *strs[] = { "member_id", "code", "name", "digest", "alliance", "genesis", "listen" };
    static const char *nums[] = { "records", "current", "members", "peers", "authors", "forks", "seq",
                                  "records_in", "records_out", "bytes_in", "bytes_out" };
    enum { NSTR = 7, NNUM = sizeof nums / sizeof nums[0] };
    char sv[NSTR][512];
    uint64_t nv[NNUM];
    for (int i = 0; i < NSTR; i++) {
        sv[i][0] = 0;
        proto_map_str(rep, len, strs[i], sv[i], sizeof sv[i]);
    }
    for (int i = 0; i < NNUM; i++) {
        nv[i] = 0;
        proto_map_u64(rep, len, nums[i], &nv[i]);
    }
    if (o.json) {
        printf("{");
        for (int i = 0; i < NSTR; i++)
            client_json_kv_str(stdout, strs[i], sv[i], 1);
        for (int i = 0; i < NNUM; i++)
            client_json_kv_u64(stdout, nums[i], nv[i], i < NNUM - 1);
        printf("}\n");
    } else {
        printf("member:    %s %s\nmember id: %s\nalliance:  %s\nmembers:   %llu\n"
               "peers:     %llu connected%s%s\nrecords:   %llu (%llu current, %llu authors)\n"
               "digest:    %s\ntraffic:   %llu records in, %llu out (%llu / %llu bytes)\n", sv[1], sv[2], sv[0], sv[4][0] ? sv[4] : "(none yet)",
               (unsigned long long)nv[2], (unsigned long long)nv[3], sv[6][0] ? ", listening on " : "",
               sv[6], (unsigned long long)nv[0], (unsigned long long)nv[1], (unsigned long long)nv[4], sv[3],
               (unsigned long long)nv[7], (unsigned long long)nv[8], (unsigned long long)nv[9],
               (unsigned long long)nv[10]);
        if (nv[5])
            printf("FORKS:     %llu records of equivocation evidence (see logs)\n", (unsigned long long)nv[5]);
    }
    free(rep);
    return CLIENT_OK;
}
