/* cli/member.c — catalogctl member add|list|show|address|leave|expel|rekey. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include "proto/util.h"
#include "store/store.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void);

static int add(client_opts *o, int argc, char **argv)
{
    const char *file = NULL, *addr = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--address") && i + 1 < argc)
            addr = argv[++i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            return usage();
    }
    if (!file)
        return usage();
    FILE *f = fopen(file, "rb");
    if (!f) {
        client_errorf("member add: cannot open %s: %s", file, strerror(errno));
        return CLIENT_FAIL;
    }
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    client_req r;
    client_req_begin(&r, "member_add");
    proto_map_put_bin(&r.m, "cert", buf, n);
    if (addr)
        proto_map_put_str(&r.m, "address", addr);
    uint8_t *rep;
    size_t len;
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    char id[PROTO_ID_STR] = "", status[16] = "member";
    uint64_t have = 0, needed = 1;
    proto_map_str(rep, len, "member_id", id, sizeof id);
    proto_map_str(rep, len, "status", status, sizeof status);
    proto_map_u64(rep, len, "endorsements", &have);
    proto_map_u64(rep, len, "needed", &needed);
    if (o->json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", id, 1);
        client_json_kv_str(stdout, "status", status, 1);
        client_json_kv_u64(stdout, "endorsements", have, 1);
        client_json_kv_u64(stdout, "needed", needed, 0);
        printf("}\n");
    } else if (!strcmp(status, "pending")) {
        printf("endorsed member %s: %llu of %llu endorsements, pending\n", id, (unsigned long long)have,
               (unsigned long long)needed);
    } else {
        printf("admitted member %s\n", id);
    }
    free(rep);
    return CLIENT_OK;
}

static int member_list(client_opts *o)
{
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "members");
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    proto_rd rd;
    uint32_t n;
    if (proto_map_find(rep, len, "members", &rd) || proto_rd_array(&rd, &n)) {
        free(rep);
        return CLIENT_FAIL;
    }
    static const char *keys[] = { "code", "name", "status", "address", "member_id", "admitted_by", "key" };
    static const char *hdr[] = { "CODE", "NAME", "STATUS", "ADDRESS", "MEMBER ID", "KEY", "ADMITTED BY", "SINCE",
                                 "ENDORSEMENTS" };
    client_table *t = o->json ? NULL : client_table_new(9, hdr);
    if (o->json)
        printf("[");
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *start = rd.p;
        if (proto_rd_skip(&rd, 4))
            break;
        size_t el = (size_t)(rd.p - start);
        char v[7][256];
        uint64_t since = 0, kfrom = 1;
        for (int k = 0; k < 7; k++) {
            v[k][0] = 0;
            proto_map_str(start, el, keys[k], v[k], sizeof v[k]);
        }
        proto_map_u64(start, el, "since_ms", &since);
        proto_map_u64(start, el, "key_from_seq", &kfrom);
        /* a pending newcomer: "1 of 2: 131059 文京区, …" (JSON: the list) */
        uint64_t have = 0, needed = 0;
        proto_map_u64(start, el, "endorsements", &have);
        int pending = proto_map_u64(start, el, "needed", &needed) == 0;
        char endorsed[2048] = "-";
        size_t eo = 0;
        proto_rd er;
        uint32_t ne = 0;
        if (pending) {
            eo = (size_t)snprintf(endorsed, sizeof endorsed, "%llu of %llu", (unsigned long long)have,
                                  (unsigned long long)needed);
            if (proto_map_find(start, el, "endorsed_by", &er) || proto_rd_array(&er, &ne))
                ne = 0;
        }
        char eids[64][PROTO_ID_STR], ecode[64][8], ename[64][192];
        uint32_t nshown = 0;
        for (uint32_t j = 0; j < ne; j++) {
            uint32_t three;
            char eid[PROTO_ID_STR], ec[8], en[192];
            if (proto_rd_array(&er, &three) || three != 3 || proto_rd_strcpy(&er, eid, sizeof eid) ||
                proto_rd_strcpy(&er, ec, sizeof ec) || proto_rd_strcpy(&er, en, sizeof en))
                break;
            if (eo < sizeof endorsed)
                eo += (size_t)snprintf(endorsed + eo, sizeof endorsed - eo, "%s %s %s", j ? "," : ":", ec, en);
            if (nshown < 64) {
                memcpy(eids[nshown], eid, sizeof eid);
                memcpy(ecode[nshown], ec, sizeof ec);
                memcpy(ename[nshown], en, sizeof en);
                nshown++;
            }
        }
        char when[32] = "";
        time_t s = (time_t)(since / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(when, sizeof when, "%Y-%m-%d", &tm);
        if (o->json) {
            printf("%s{", i ? "," : "");
            for (int k = 0; k < 7; k++)
                client_json_kv_str(stdout, keys[k], v[k], 1);
            client_json_kv_u64(stdout, "key_from_seq", kfrom, 1);
            client_json_kv_str(stdout, "since", when, pending);
            if (pending) {
                client_json_kv_u64(stdout, "endorsements", have, 1);
                client_json_kv_u64(stdout, "needed", needed, 1);
                printf("\"endorsed_by\":[");
                for (uint32_t j = 0; j < nshown; j++) {
                    printf("%s{", j ? "," : "");
                    client_json_kv_str(stdout, "member_id", eids[j], 1);
                    client_json_kv_str(stdout, "code", ecode[j], 1);
                    client_json_kv_str(stdout, "name", ename[j], 0);
                    printf("}");
                }
                printf("]");
            }
            printf("}");
        } else {
            char shortby[16] = "(founder)";
            if (v[5][0])
                snprintf(shortby, sizeof shortby, "%.9s", v[5]);
            /* the key in force: the admitted one (its hash is the member
             * id), or the one a rotation named from seq kfrom on */
            char shortkey[48] = "(admitted)";
            if (v[6][0] && strcmp(v[6], v[4]))
                snprintf(shortkey, sizeof shortkey, "%.9s from %llu", v[6], (unsigned long long)kfrom);
            const char *row[] = { v[0], v[1], v[2], v[3][0] ? v[3] : "-", v[4], shortkey, shortby, when, endorsed };
            client_table_row(t, row);
        }
    }
    if (o->json) {
        printf("]\n");
    } else {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    free(rep);
    return CLIENT_OK;
}

static void date_of(uint64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

/* The entries of the reply's array `key` (maps), or n = 0. */
static int reply_array(const uint8_t *rep, size_t len, const char *key, proto_rd *rd, uint32_t *n)
{
    *n = 0;
    return proto_map_find(rep, len, key, rd) || proto_rd_array(rd, n) ? -1 : 0;
}

static int member_show(client_opts *o, const char *target)
{
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "member_show");
    proto_map_put_str(&r.m, "member", target);
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    static const char *keys[] = { "member_id", "code", "name", "status", "address", "admitted_by" };
    char v[6][256];
    uint64_t since = 0, endorse = 0;
    for (int k = 0; k < 6; k++) {
        v[k][0] = 0;
        proto_map_str(rep, len, keys[k], v[k], sizeof v[k]);
    }
    proto_map_u64(rep, len, "since_ms", &since);
    proto_map_u64(rep, len, "endorsements", &endorse);
    char when[32] = "";
    if (since)
        date_of(since, when, sizeof when);
    proto_rd vr, fr;
    uint32_t nv, nf;
    reply_array(rep, len, "votes", &vr, &nv);
    reply_array(rep, len, "forks", &fr, &nf);
    static const char *vkeys[] = { "by", "by_status", "op" };
    static const char *fkeys[] = { "kind", "key", "hash" };
    if (o->json) {
        printf("{");
        for (int k = 0; k < 6; k++)
            client_json_kv_str(stdout, keys[k], v[k], 1);
        client_json_kv_str(stdout, "since", when, 1);
        client_json_kv_u64(stdout, "endorsements", endorse, 1);
        printf("\"votes\":[");
    } else {
        printf("member:       %s\n", v[0]);
        printf("municipality: %s %s\n", v[1][0] ? v[1] : "-", v[2]);
        printf("status:       %s\n", v[3]);
        printf("address:      %s\n", v[4][0] ? v[4] : "-");
        printf("admitted by:  %s%s%s\n", v[5][0] ? v[5] : (v[1][0] ? "(founder)" : "-"),
               when[0] ? " on " : "", when);
        printf("endorsements: %llu\n", (unsigned long long)endorse);
        printf("votes and own records (%u):\n", nv);
    }
    static const char *vhdr[] = { "BY", "BY STATUS", "OP", "SEQ", "TIME", "REASON" };
    client_table *t = o->json || !nv ? NULL : client_table_new(6, vhdr);
    for (uint32_t i = 0; i < nv; i++) {
        const uint8_t *start = vr.p;
        if (proto_rd_skip(&vr, 4))
            break;
        size_t el = (size_t)(vr.p - start);
        char e[3][PROTO_ID_STR + 8], seq[24], tm[32] = "", reason[STORE_REKEY_REASON_MAX + 1] = "";
        uint64_t sq = 0, ms = 0;
        for (int k = 0; k < 3; k++) {
            e[k][0] = 0;
            proto_map_str(start, el, vkeys[k], e[k], sizeof e[k]);
        }
        proto_map_str(start, el, "reason", reason, sizeof reason);
        proto_map_u64(start, el, "seq", &sq);
        proto_map_u64(start, el, "time_ms", &ms);
        date_of(ms, tm, sizeof tm);
        if (o->json) {
            printf("%s{", i ? "," : "");
            for (int k = 0; k < 3; k++)
                client_json_kv_str(stdout, vkeys[k], e[k], 1);
            client_json_kv_u64(stdout, "seq", sq, 1);
            if (reason[0])
                client_json_kv_str(stdout, "reason", reason, 1);
            client_json_kv_str(stdout, "time", tm, 0);
            printf("}");
        } else {
            snprintf(seq, sizeof seq, "%llu", (unsigned long long)sq);
            const char *row[] = { e[0], e[1], e[2], seq, tm, reason[0] ? reason : "-" };
            client_table_row(t, row);
        }
    }
    if (t) {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    /* keys over time (an entry of a member this node knows) */
    proto_rd kr;
    uint32_t nk;
    reply_array(rep, len, "keys", &kr, &nk);
    if (o->json)
        printf("],\"keys\":[");
    else
        printf("keys (%u):\n", nk);
    static const char *khdr[] = { "KEY", "FROM SEQ", "TO SEQ", "HOW" };
    t = o->json || !nk ? NULL : client_table_new(4, khdr);
    for (uint32_t i = 0; i < nk; i++) {
        const uint8_t *start = kr.p;
        if (proto_rd_skip(&kr, 4))
            break;
        size_t el = (size_t)(kr.p - start);
        char kid[PROTO_ID_STR + 8] = "", how[16] = "", fs[24], ts[24] = "-";
        uint64_t from = 0, to = 0;
        proto_map_str(start, el, "key", kid, sizeof kid);
        proto_map_str(start, el, "how", how, sizeof how);
        proto_map_u64(start, el, "from_seq", &from);
        proto_map_u64(start, el, "to_seq", &to);
        if (o->json) {
            printf("%s{", i ? "," : "");
            client_json_kv_str(stdout, "key", kid, 1);
            client_json_kv_u64(stdout, "from_seq", from, 1);
            client_json_kv_u64(stdout, "to_seq", to, 1);
            client_json_kv_str(stdout, "how", how, 0);
            printf("}");
        } else {
            snprintf(fs, sizeof fs, "%llu", (unsigned long long)from);
            if (to)
                snprintf(ts, sizeof ts, "%llu", (unsigned long long)to);
            const char *row[] = { kid, fs, ts, how };
            client_table_row(t, row);
        }
    }
    if (t) {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    if (o->json)
        printf("],\"forks\":[");
    else
        printf("forks signed (%u):\n", nf);
    static const char *fhdr[] = { "SEQ", "KIND", "KEY", "HASH (the version not held)" };
    t = o->json || !nf ? NULL : client_table_new(4, fhdr);
    for (uint32_t i = 0; i < nf; i++) {
        const uint8_t *start = fr.p;
        if (proto_rd_skip(&fr, 4))
            break;
        size_t el = (size_t)(fr.p - start);
        char e[3][300], seq[24];
        uint64_t sq = 0;
        for (int k = 0; k < 3; k++) {
            e[k][0] = 0;
            proto_map_str(start, el, fkeys[k], e[k], sizeof e[k]);
        }
        proto_map_u64(start, el, "seq", &sq);
        if (o->json) {
            printf("%s{", i ? "," : "");
            client_json_kv_u64(stdout, "seq", sq, 1);
            for (int k = 0; k < 3; k++)
                client_json_kv_str(stdout, fkeys[k], e[k], k < 2);
            printf("}");
        } else {
            snprintf(seq, sizeof seq, "%llu", (unsigned long long)sq);
            const char *row[] = { seq, e[0], e[1], e[2] };
            client_table_row(t, row);
        }
    }
    if (t) {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    if (o->json)
        printf("]}\n");
    free(rep);
    return CLIENT_OK;
}

static int member_set(client_opts *o, const char *op, const char *addr, const char *target)
{
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "member_set");
    proto_map_put_str(&r.m, "op", op);
    if (addr)
        proto_map_put_str(&r.m, "address", addr);
    if (target)
        proto_map_put_str(&r.m, "member", target);
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    printf("%s recorded\n", op);
    free(rep);
    return CLIENT_OK;
}

/* The sub-verbs other than add take at most one argument. */
static int one_arg(client_opts *o, int argc, char **argv, const char **arg)
{
    *arg = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!*arg && argv[i][0] != '-')
            *arg = argv[i];
        else
            return -1;
    }
    return 0;
}

static int list(client_opts *o, int argc, char **argv)
{
    const char *arg;
    if (one_arg(o, argc, argv, &arg) || arg)
        return usage();
    return member_list(o);
}

static int address(client_opts *o, int argc, char **argv)
{
    const char *arg;
    if (one_arg(o, argc, argv, &arg) || !arg)
        return usage();
    return member_set(o, "address", arg, NULL);
}

static int leave(client_opts *o, int argc, char **argv)
{
    const char *arg;
    if (one_arg(o, argc, argv, &arg) || arg)
        return usage();
    return member_set(o, "leave", NULL, NULL);
}

static int expel(client_opts *o, int argc, char **argv)
{
    const char *arg;
    if (one_arg(o, argc, argv, &arg) || !arg)
        return usage();
    return member_set(o, "expel", NULL, arg);
}

/* member rekey MEMBER NEW.pem --reason TEXT [--seq N]: one vote. */
static int rekey(client_opts *o, int argc, char **argv)
{
    const char *target = NULL, *file = NULL, *reason = NULL, *seqs = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc)
            seqs = argv[++i];
        else if (!target && argv[i][0] != '-')
            target = argv[i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else
            return usage();
    }
    if (!target || !file || !reason)
        return usage();
    size_t rl = strlen(reason);
    if (rl == 0 || rl > STORE_REKEY_REASON_MAX) {
        client_errorf("member rekey: --reason must be 1 to %d bytes", STORE_REKEY_REASON_MAX);
        return CLIENT_USAGE;
    }
    char *end = NULL;
    unsigned long long seq = 0;
    if (seqs) {
        errno = 0;
        seq = strtoull(seqs, &end, 10);
        if (errno || !*seqs || *end || seqs[0] == '-') {
            client_errorf("member rekey: --seq must be a number");
            return CLIENT_USAGE;
        }
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        client_errorf("member rekey: cannot open %s: %s", file, strerror(errno));
        return CLIENT_FAIL;
    }
    static uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    client_req r;
    client_req_begin(&r, "member_rekey");
    proto_map_put_str(&r.m, "member", target);
    proto_map_put_bin(&r.m, "cert", buf, n);
    proto_map_put_str(&r.m, "reason", reason);
    if (seqs)
        proto_map_put_u64(&r.m, "seq", seq);
    uint8_t *rep;
    size_t len;
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    char key[PROTO_ID_STR] = "";
    uint64_t vs = 0, from = 0;
    int in_force = 0;
    proto_map_str(rep, len, "key", key, sizeof key);
    proto_map_u64(rep, len, "seq", &vs);
    in_force = proto_map_u64(rep, len, "from_seq", &from) == 0;   /* only sent once in force */
    if (o->json)
        printf("{\"key\":\"%s\",\"seq\":%llu,\"in_force\":%s}\n", key, (unsigned long long)vs,
               in_force ? "true" : "false");
    else if (in_force)
        printf("rekey recorded (its log held here up to seq %llu): the quorum is met, key %s signs from seq %llu\n",
               (unsigned long long)vs, key, (unsigned long long)from);
    else
        printf("rekey recorded (its log held here up to seq %llu): key %s waits for more members' votes\n",
               (unsigned long long)vs, key);
    free(rep);
    return CLIENT_OK;
}

static int show(client_opts *o, int argc, char **argv)
{
    const char *arg;
    if (one_arg(o, argc, argv, &arg) || !arg)
        return usage();
    return member_show(o, arg);
}

static const client_subverb subs[] = {
    { "add", add, "FILE.pem [--address HOST:PORT]", NULL },
    { "list", list, "[--json]", NULL },
    { "show", show, "MEMBER_ID [--json]", NULL },
    { "address", address, "HOST:PORT", NULL },
    { "leave", leave, "", NULL },
    { "expel", expel, "MEMBER_ID", NULL },
    { "rekey", rekey, "MEMBER_ID NEW.pem --reason TEXT [--seq N]", NULL },
};

const client_subverbs member_verb = { "member", subs, sizeof subs / sizeof subs[0], NULL, 0 };

static int usage(void)
{
    return client_subverbs_usage_error(&member_verb);
}
