/* cli/metrics.c — catalogctl metrics: the node's metrics in the Prometheus
 * text format, the same text the web view serves at /metrics (the daemon
 * formats it: daemon/metrics.c), for when web_listen is off or for a
 * node_exporter textfile collector. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include <stdlib.h>

#define USAGE "usage: catalogctl metrics"
const char metrics_usage[] = USAGE;

int metrics_main(int argc, char **argv)
{
    client_opts o = client_g;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++)
        bad = !client_common_opt(&o, argc, argv, &i);
    if (bad || o.json) {   /* the text format is the output: no --json */
        client_usage_error("metrics", USAGE);
        return CLIENT_USAGE;
    }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "metrics");
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    proto_rd rd;
    const char *s;
    uint32_t n;
    if (proto_map_find(rep, len, "text", &rd) || proto_rd_str(&rd, &s, &n)) {
        client_errorf("the daemon's reply carries no metrics");
        free(rep);
        return CLIENT_FAIL;
    }
    fwrite(s, 1, n, stdout);
    free(rep);
    return fflush(stdout) == 0 && !ferror(stdout) ? CLIENT_OK : CLIENT_FAIL;
}
