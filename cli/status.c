/* cli/status.c — catalogctl status: node health.  Exits 1 when the
 * daemon reports a problem, so that a monitoring check can run it as is. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: catalogctl status [--json]"
const char status_usage[] = USAGE;

static int map_bool(const uint8_t *buf, size_t len, const char *key)
{
    proto_rd r;
    int v = 0;
    if (proto_map_find(buf, len, key, &r) || proto_rd_bool(&r, &v))
        return 0;
    return v;
}

/* Each element of the array under `key` in the map buf: its bytes. */
typedef void (*elem_fn)(void *ctx, const uint8_t *el, size_t n, uint32_t i);
static uint32_t each_elem(const uint8_t *buf, size_t len, const char *key, elem_fn fn, void *ctx)
{
    proto_rd rd;
    uint32_t n;
    if (proto_map_find(buf, len, key, &rd) || proto_rd_array(&rd, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *start = rd.p;
        if (proto_rd_skip(&rd, 4))
            return i;
        fn(ctx, start, (size_t)(rd.p - start), i);
    }
    return n;
}

static void json_problem(void *ctx, const uint8_t *el, size_t n, uint32_t i)
{
    char code[64] = "", text[1024] = "";
    proto_map_str(el, n, "code", code, sizeof code);
    proto_map_str(el, n, "text", text, sizeof text);
    printf("%s{", i ? "," : "");
    client_json_kv_str(stdout, "code", code, 1);
    client_json_kv_str(stdout, "text", text, 0);
    printf("}");
}

static void text_problem(void *ctx, const uint8_t *el, size_t n, uint32_t i)
{
    char text[1024] = "";
    proto_map_str(el, n, "text", text, sizeof text);
    printf("PROBLEM:   %s\n", text);
}

static const char *peer_strs[] = { "member_id", "code", "name", "state" };
enum { NPEER_STR = sizeof peer_strs / sizeof peer_strs[0] };

static void json_optional_u64(const uint8_t *el, size_t n, const char *key, int comma)
{
    uint64_t v;
    if (proto_map_u64(el, n, key, &v) == 0)
        client_json_kv_u64(stdout, key, v, comma);
    else
        printf("\"%s\":null%s", key, comma ? "," : "");
}

static void json_peer(void *ctx, const uint8_t *el, size_t n, uint32_t i)
{
    char v[256];
    printf("%s{", i ? "," : "");
    for (int k = 0; k < NPEER_STR; k++) {
        v[0] = 0;
        proto_map_str(el, n, peer_strs[k], v, sizeof v);
        client_json_kv_str(stdout, peer_strs[k], v, 1);
    }
    printf("\"in_sync\":%s,", map_bool(el, n, "in_sync") ? "true" : "false");
    json_optional_u64(el, n, "last_heard_s", 1);
    json_optional_u64(el, n, "last_sync_s", 0);
    printf("}");
}

static void ago(const uint8_t *el, size_t n, const char *key, char *buf, size_t len)
{
    uint64_t s;
    if (proto_map_u64(el, n, key, &s))
        snprintf(buf, len, "never");
    else if (s >= 86400)
        snprintf(buf, len, "%llud %lluh ago", (unsigned long long)(s / 86400), (unsigned long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, len, "%lluh %llumin ago", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, len, "%llus ago", (unsigned long long)s);
}

static void table_peer(void *ctx, const uint8_t *el, size_t n, uint32_t i)
{
    char v[NPEER_STR][256], heard[40], sync[40];
    for (int k = 0; k < NPEER_STR; k++) {
        v[k][0] = 0;
        proto_map_str(el, n, peer_strs[k], v[k], sizeof v[k]);
    }
    ago(el, n, "last_heard_s", heard, sizeof heard);
    ago(el, n, "last_sync_s", sync, sizeof sync);
    const char *row[] = { v[1], v[2], v[3], map_bool(el, n, "in_sync") ? "yes" : "no", heard, sync };
    client_table_row(ctx, row);
}

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
    static const char *strs[] = { "member_id", "code", "name", "digest", "alliance", "genesis", "listen", "key" };
    static const char *nums[] = { "records", "current", "members", "peers", "authors", "forks", "seq",
                                  "records_in", "records_out", "bytes_in", "bytes_out", "map_used", "map_size" };
    enum { NSTR = 8, NNUM = sizeof nums / sizeof nums[0] };
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
    /* an older daemon sends no health object: nothing known to be wrong */
    proto_rd hr;
    const uint8_t *h = NULL;
    size_t hl = 0;
    if (proto_map_find(rep, len, "health", &hr) == 0) {
        h = hr.p;
        if (proto_rd_skip(&hr, 4) == 0)
            hl = (size_t)(hr.p - h);
    }
    int healthy = !hl || map_bool(h, hl, "ok");
    if (o.json) {
        printf("{");
        for (int i = 0; i < NSTR; i++)
            client_json_kv_str(stdout, strs[i], sv[i], 1);
        for (int i = 0; i < NNUM; i++)
            client_json_kv_u64(stdout, nums[i], nv[i], 1);
        printf("\"health\":{\"ok\":%s,\"problems\":[", healthy ? "true" : "false");
        if (hl)
            each_elem(h, hl, "problems", json_problem, NULL);
        printf("],\"peers\":[");
        if (hl)
            each_elem(h, hl, "peers", json_peer, NULL);
        printf("]}}\n");
    } else {
        printf("member:    %s %s\nmember id: %s\nalliance:  %s\nmembers:   %llu\n"
               "peers:     %llu connected%s%s\nrecords:   %llu (%llu current, %llu authors)\n"
               "digest:    %s\ntraffic:   %llu records in, %llu out (%llu / %llu bytes)\n", sv[1], sv[2], sv[0], sv[4][0] ? sv[4] : "(none yet)",
               (unsigned long long)nv[2], (unsigned long long)nv[3], sv[6][0] ? ", listening on " : "",
               sv[6], (unsigned long long)nv[0], (unsigned long long)nv[1], (unsigned long long)nv[4], sv[3],
               (unsigned long long)nv[7], (unsigned long long)nv[8], (unsigned long long)nv[9],
               (unsigned long long)nv[10]);
        if (sv[7][0])
            printf("key:       %s%s\n", sv[7], strcmp(sv[7], sv[0]) ? " (rotated; the member id stays)" : "");
        if (nv[5])
            printf("FORKS:     %llu records of equivocation evidence (see logs)\n", (unsigned long long)nv[5]);
        if (nv[12])
            printf("store map: %llu of %llu MiB used\n", (unsigned long long)(nv[11] >> 20),
                   (unsigned long long)(nv[12] >> 20));
        if (hl) {
            printf("health:    %s\n", healthy ? "ok" : "DEGRADED");
            each_elem(h, hl, "problems", text_problem, NULL);
            static const char *hdr[] = { "CODE", "NAME", "STATE", "IN SYNC", "LAST HEARD", "LAST SYNC" };
            client_table *t = client_table_new(6, hdr);
            if (each_elem(h, hl, "peers", table_peer, t)) {
                printf("\n");
                client_table_print(t, stdout);
            }
            client_table_free(t);
        }
    }
    free(rep);
    /* 1 as for a failure: degraded is what a check script must notice;
     * refusals (3) and usage (2) keep their codes (docs/DECISIONS.md 7) */
    return healthy ? CLIENT_OK : CLIENT_FAIL;
}
