/* cli/member.c — catalogctl member add|list|show|address|leave|expel|rekey. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/util.h"
#include "store/store.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void);
static void show_rekeys(client_opts *o, const uint8_t *rep, size_t len);

/* The certificate file for verb, whole, into a heap buffer (*buf, free
 * it): unreadable, empty or larger than CLI_CERT_FILE_MAX is refused with
 * the reason (a certificate cut short would only fail later, and say less).
 * 0, or fail_rc. */
static int read_cert_file(const char *verb, const char *file, uint8_t **buf, size_t *n, int fail_rc)
{
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(file, "rb");
    if (!f) {
        client_errorf("%s: 証明書 %s を読めません: %s", verb, file, strerror(errno));
        return fail_rc;
    }
    uint8_t *b = malloc(CLI_CERT_FILE_MAX + 1);
    if (!b) {
        fclose(f);
        client_errorf("%s: メモリが足りません", verb);
        return fail_rc;
    }
    size_t got = fread(b, 1, CLI_CERT_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got == 0) {
        free(b);
        client_errorf("%s: 証明書 %s を読めません%s", verb, file, bad ? "（読み込みエラー）" : "（空のファイル）");
        return fail_rc;
    }
    if (got > CLI_CERT_FILE_MAX) {
        free(b);
        client_errorf("%s: 証明書 %s が大きすぎます（%u バイトまで）。証明書のファイル（PEM または DER）を指定してください",
                      verb, file, CLI_CERT_FILE_MAX);
        return fail_rc;
    }
    *buf = b;
    *n = got;
    return 0;
}

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
    uint8_t *buf;
    size_t n;
    int frc = read_cert_file("member add", file, &buf, &n, CLIENT_FAIL);
    if (frc)
        return frc;
    client_req r;
    client_req_begin(&r, "member_add");
    proto_map_put_bin(&r.m, "cert", buf, n);
    free(buf);
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
        char e[3][PROTO_ID_STR + 8], seq[24], tm[32] = "";
        uint64_t sq = 0, ms = 0;
        for (int k = 0; k < 3; k++) {
            e[k][0] = 0;
            proto_map_str(start, el, vkeys[k], e[k], sizeof e[k]);
        }
        char why[STORE_EXPEL_REASON_MAX + 1] = "";
        proto_map_u64(start, el, "seq", &sq);
        proto_map_u64(start, el, "time_ms", &ms);
        proto_map_str(start, el, "reason", why, sizeof why);   /* "" before reasons were recorded */
        date_of(ms, tm, sizeof tm);
        if (o->json) {
            printf("%s{", i ? "," : "");
            for (int k = 0; k < 3; k++)
                client_json_kv_str(stdout, vkeys[k], e[k], 1);
            client_json_kv_u64(stdout, "seq", sq, 1);
            client_json_kv_str(stdout, "time", tm, 1);
            client_json_kv_str(stdout, "reason", why, 0);
            printf("}");
        } else {
            snprintf(seq, sizeof seq, "%llu", (unsigned long long)sq);
            const char *row[] = { e[0], e[1], e[2], seq, tm, why[0] ? why : "-" };
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
        printf("]");
    show_rekeys(o, rep, len);
    if (o->json)
        printf(",\"forks\":[");
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
    if (o->json) {
        /* a list cut at one of the daemon's bounds (votes, forks, keys, the
         * rekey lists: client_call warned on stderr) */
        int cut = 0;
        proto_rd tr;
        printf("]");
        if (proto_map_find(rep, len, "truncated", &tr) == 0 && proto_rd_bool(&tr, &cut) == 0 && cut)
            printf(",\"truncated\":true");
        printf("}\n");
    }
    free(rep);
    return CLIENT_OK;
}

/* "131059 文京区" for a voter entry {member_id, code, name, mark} of a reply. */
static void voter_label(const uint8_t *e, size_t el, char *out, size_t n)
{
    char id[PROTO_ID_STR] = "", code[8] = "", name[192] = "", mark[32] = "";
    proto_map_str(e, el, "member_id", id, sizeof id);
    proto_map_str(e, el, "code", code, sizeof code);
    proto_map_str(e, el, "name", name, sizeof name);
    proto_map_str(e, el, "mark", mark, sizeof mark);
    if (code[0])
        snprintf(out, n, "%s %s%s", code, name, mark);
    else
        snprintf(out, n, "%.9s", id);
}

/* The voters array under `key` of the map e: labels joined by "、" into
 * out, and as JSON [{member_id, code, name}] on f when f is non-NULL. */
static void voters_of(const uint8_t *e, size_t el, const char *key, char *out, size_t n, FILE *f)
{
    proto_rd vr;
    uint32_t nv = 0;
    size_t o = 0;
    out[0] = 0;
    if (reply_array(e, el, key, &vr, &nv))
        nv = 0;
    if (f)
        fprintf(f, "\"%s\":[", key);
    for (uint32_t i = 0; i < nv; i++) {
        const uint8_t *start = vr.p;
        if (proto_rd_skip(&vr, 4))
            break;
        size_t vl = (size_t)(vr.p - start);
        char lbl[256];
        voter_label(start, vl, lbl, sizeof lbl);
        if (o < n)
            o += (size_t)snprintf(out + o, n - o, "%s%s", i ? "、" : "", lbl);
        if (f) {
            char id[PROTO_ID_STR] = "", code[8] = "", name[192] = "";
            uint64_t ms = 0;
            char when[32] = "";
            proto_map_str(start, vl, "member_id", id, sizeof id);
            proto_map_str(start, vl, "code", code, sizeof code);
            proto_map_str(start, vl, "name", name, sizeof name);
            proto_map_u64(start, vl, "time_ms", &ms);
            date_of(ms, when, sizeof when);
            fprintf(f, "%s{", i ? "," : "");
            client_json_kv_str(f, "member_id", id, 1);
            client_json_kv_str(f, "code", code, 1);
            client_json_kv_str(f, "name", name, 1);
            client_json_kv_str(f, "voted", when, 0);
            fprintf(f, "}");
        }
    }
    if (!out[0])
        snprintf(out, n, "-");
    if (f)
        fprintf(f, "]");
}

/* member show's rekeys: decisions, the open epoch, stale votes (in
 * Japanese: staff who vote read them). */
static void show_rekeys(client_opts *o, const uint8_t *rep, size_t len)
{
    proto_rd dr, sr, er;
    uint32_t nd = 0, ns = 0;
    char lbl[2048];
    if (reply_array(rep, len, "rekeys", &dr, &nd) && !o->json)
        return;   /* an older daemon: nothing to say */
    reply_array(rep, len, "rekey_stale", &sr, &ns);
    if (o->json)
        printf(",\"rekeys\":[");
    else
        printf("鍵の再発行（決定 %u 件）:\n", nd);
    static const char *dhdr[] = { "時点", "新しい鍵の開始", "新しい鍵", "決定", "投票した団体" };
    client_table *t = o->json || !nd ? NULL : client_table_new(5, dhdr);
    for (uint32_t i = 0; i < nd; i++) {
        const uint8_t *start = dr.p;
        if (proto_rd_skip(&dr, 5))
            break;
        size_t el = (size_t)(dr.p - start);
        uint64_t cut = 0, from = 0, ms = 0, gen = 0;
        char key[PROTO_ID_STR] = "", when[32] = "", cs[32], fs[32];
        proto_map_u64(start, el, "cut", &cut);
        proto_map_u64(start, el, "from_seq", &from);
        proto_map_u64(start, el, "decided_ms", &ms);
        proto_map_u64(start, el, "gen", &gen);
        proto_map_str(start, el, "key", key, sizeof key);
        date_of(ms, when, sizeof when);
        if (o->json) {
            printf("%s{", i ? "," : "");
            client_json_kv_u64(stdout, "gen", gen, 1);
            client_json_kv_u64(stdout, "cut", cut, 1);
            client_json_kv_u64(stdout, "from_seq", from, 1);
            client_json_kv_str(stdout, "key", key, 1);
            client_json_kv_str(stdout, "decided", when, 1);
            voters_of(start, el, "voters", lbl, sizeof lbl, stdout);
            printf("}");
        } else {
            voters_of(start, el, "voters", lbl, sizeof lbl, NULL);
            snprintf(cs, sizeof cs, "seq %llu", (unsigned long long)cut);
            snprintf(fs, sizeof fs, "seq %llu", (unsigned long long)from);
            const char *row[] = { cs, fs, key, when, lbl };
            client_table_row(t, row);
        }
    }
    if (t) {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    if (o->json)
        printf("]");
    /* the open epoch */
    if (proto_map_find(rep, len, "rekey_epoch", &er) == 0) {
        const uint8_t *start = er.p;
        if (proto_rd_skip(&er, 5) == 0) {
            size_t el = (size_t)(er.p - start);
            uint64_t cut = 0, q = 0, gen = 0;
            char by[PROTO_ID_STR] = "";
            proto_map_u64(start, el, "cut", &cut);
            proto_map_u64(start, el, "quorum", &q);
            proto_map_u64(start, el, "gen", &gen);
            proto_map_str(start, el, "opened_by", by, sizeof by);
            proto_rd pr;
            uint32_t np = 0;
            reply_array(start, el, "proposals", &pr, &np);
            if (o->json) {
                printf(",\"rekey_epoch\":{");
                client_json_kv_u64(stdout, "gen", gen, 1);
                client_json_kv_u64(stdout, "cut", cut, 1);
                client_json_kv_u64(stdout, "quorum", q, 1);
                client_json_kv_str(stdout, "opened_by", by, 1);
                printf("\"proposals\":[");
            } else {
                printf("投票中の鍵の再発行: 時点 seq %llu（seq %llu から新しい鍵）、決定に %llu 票\n",
                       (unsigned long long)cut, (unsigned long long)cut + 1, (unsigned long long)q);
                /* the member whose vote fixed the cut (a bad cut can only be
                 * outvoted by not voting for it: DECISIONS 22) */
                char ob[256];
                voters_of(start, el, "opener", ob, sizeof ob, NULL);
                if (!strcmp(ob, "-") && by[0])
                    snprintf(ob, sizeof ob, "%.9s", by);
                printf("時点を固定した団体: %s\n", ob);
            }
            static const char *phdr[] = { "新しい鍵", "票", "投票した団体" };
            client_table *pt = o->json || !np ? NULL : client_table_new(3, phdr);
            for (uint32_t i = 0; i < np; i++) {
                const uint8_t *ps = pr.p;
                if (proto_rd_skip(&pr, 4))
                    break;
                size_t pl = (size_t)(pr.p - ps);
                char key[PROTO_ID_STR] = "", vs[32];
                uint64_t nv = 0;
                proto_map_str(ps, pl, "key", key, sizeof key);
                proto_map_u64(ps, pl, "votes", &nv);
                if (o->json) {
                    printf("%s{", i ? "," : "");
                    client_json_kv_str(stdout, "key", key, 1);
                    client_json_kv_u64(stdout, "votes", nv, 1);
                    voters_of(ps, pl, "voters", lbl, sizeof lbl, stdout);
                    printf("}");
                } else {
                    voters_of(ps, pl, "voters", lbl, sizeof lbl, NULL);
                    snprintf(vs, sizeof vs, "%llu / %llu", (unsigned long long)nv, (unsigned long long)q);
                    const char *row[] = { key, vs, lbl };
                    client_table_row(pt, row);
                }
            }
            if (pt) {
                client_table_print(pt, stdout);
                client_table_free(pt);
            }
            if (o->json)
                printf("]}");
        }
    } else if (!o->json) {
        printf("投票中の鍵の再発行: なし\n");
    }
    if (o->json)
        printf(",\"rekey_stale\":[");
    else if (ns)
        printf("数えられない再発行の投票（%u 件）:\n", ns);
    static const char *shdr[] = { "投票した団体", "新しい鍵", "時点", "世代", "理由" };
    t = o->json || !ns ? NULL : client_table_new(5, shdr);
    for (uint32_t i = 0; i < ns; i++) {
        const uint8_t *start = sr.p;
        if (proto_rd_skip(&sr, 5))
            break;
        size_t el = (size_t)(sr.p - start);
        uint64_t cut = 0, gen = 0, seq = 0;
        char key[PROTO_ID_STR] = "", why[160] = "", cs[32], gs[24];
        proto_map_u64(start, el, "cut", &cut);
        proto_map_u64(start, el, "gen", &gen);
        proto_map_u64(start, el, "seq", &seq);
        proto_map_str(start, el, "key", key, sizeof key);
        proto_map_str(start, el, "why", why, sizeof why);
        if (o->json) {
            printf("%s{", i ? "," : "");
            voters_of(start, el, "by", lbl, sizeof lbl, stdout);
            printf(",");
            client_json_kv_str(stdout, "key", key, 1);
            client_json_kv_u64(stdout, "cut", cut, 1);
            client_json_kv_u64(stdout, "gen", gen, 1);
            client_json_kv_u64(stdout, "seq", seq, 1);
            client_json_kv_str(stdout, "why", why, 0);
            printf("}");
        } else {
            voters_of(start, el, "by", lbl, sizeof lbl, NULL);
            snprintf(cs, sizeof cs, "seq %llu", (unsigned long long)cut);
            snprintf(gs, sizeof gs, "%llu", (unsigned long long)gen);
            const char *row[] = { lbl, key, cs, gs, why };
            client_table_row(t, row);
        }
    }
    if (t) {
        client_table_print(t, stdout);
        client_table_free(t);
    }
    if (o->json)
        printf("]");
}

static int rekey(client_opts *o, int argc, char **argv)
{
    const char *target = NULL, *file = NULL, *reason = NULL;
    uint64_t cut = 0;
    int has_cut = 0;
    for (int i = 2; i < argc; i++) {
        char *end;
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strcmp(argv[i], "--cut") && i + 1 < argc &&
                 (errno = 0, cut = strtoull(argv[i + 1], &end, 10), !errno && !*end && cut >= 1 &&
                  argv[i + 1][0] != '-'))
            has_cut = 1, i++;
        else if (!target && argv[i][0] != '-')
            target = argv[i];
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else {
            client_usage_error("member", "'%s' は使えません（--cut は 1 以上の整数）", argv[i]);
            return usage();
        }
    }
    if (!target || !file || !reason || !reason[0]) {
        client_usage_error("member", "rekey には加盟団体、新しい鍵の証明書と --reason 理由 が要ります");
        return usage();
    }
    uint8_t *buf;
    size_t n;
    int frc = read_cert_file("member rekey", file, &buf, &n, CLIENT_REFUSED);
    if (frc)
        return frc;
    client_req r;
    client_req_begin(&r, "member_rekey");
    proto_map_put_str(&r.m, "member", target);
    proto_map_put_bin(&r.m, "cert", buf, n);
    free(buf);
    proto_map_put_str(&r.m, "reason", reason);
    if (has_cut)
        proto_map_put_u64(&r.m, "cut", cut);
    uint8_t *rep;
    size_t len;
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    char id[PROTO_ID_STR] = "", code[8] = "", name[192] = "", key[PROTO_ID_STR] = "", from[16] = "";
    uint64_t held = 0, votes = 0, quorum = 2, gen = 0;
    int decided = 0;
    proto_rd dr;
    proto_map_str(rep, len, "member_id", id, sizeof id);
    proto_map_str(rep, len, "code", code, sizeof code);
    proto_map_str(rep, len, "name", name, sizeof name);
    proto_map_str(rep, len, "key", key, sizeof key);
    proto_map_str(rep, len, "cut_from", from, sizeof from);
    proto_map_u64(rep, len, "cut", &cut);
    proto_map_u64(rep, len, "held", &held);
    proto_map_u64(rep, len, "votes", &votes);
    proto_map_u64(rep, len, "quorum", &quorum);
    proto_map_u64(rep, len, "gen", &gen);
    if (proto_map_find(rep, len, "decided", &dr) == 0)
        proto_rd_bool(&dr, &decided);
    if (o->json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", id, 1);
        client_json_kv_str(stdout, "code", code, 1);
        client_json_kv_str(stdout, "name", name, 1);
        client_json_kv_str(stdout, "key", key, 1);
        client_json_kv_u64(stdout, "cut", cut, 1);
        client_json_kv_u64(stdout, "from_seq", cut + 1, 1);
        client_json_kv_str(stdout, "cut_from", from, 1);
        client_json_kv_u64(stdout, "gen", gen, 1);
        client_json_kv_u64(stdout, "held", held, 1);
        client_json_kv_u64(stdout, "votes", votes, 1);
        client_json_kv_u64(stdout, "quorum", quorum, 1);
        printf("\"decided\":%s}\n", decided ? "true" : "false");
        free(rep);
        return CLIENT_OK;
    }
    const char *why = !strcmp(from, "epoch") ? "すでに始まっている投票が固定した時点"
                      : !strcmp(from, "held") ? "このノードが持つこの団体の最新の記録"
                                              : "--cut で指定";
    printf("%s %s の鍵の再発行に投票しました\n", code, name);
    printf("  新しい鍵:     %s\n", key);
    printf("  固定する時点: seq %llu（%s。このノードはいま seq %llu まで持っています）\n",
           (unsigned long long)cut, why, (unsigned long long)held);
    printf("  seq %llu までの記録は元の鍵のまま有効です。seq %llu からは新しい鍵だけが署名でき、"
           "元の鍵で署名された seq %llu 以降の記録は拒否されます。\n",
           (unsigned long long)cut, (unsigned long long)cut + 1, (unsigned long long)cut + 1);
    printf("  seq %llu までの記録が本当にこの団体のものか、団体の担当者に確認してください"
           "（catalogctl member show %s、catalogctl history）。\n", (unsigned long long)cut, code);
    if (decided)
        printf("  投票:         %llu / %llu 票 — 決定しました。seq %llu から新しい鍵がこの団体の鍵です\n",
               (unsigned long long)votes, (unsigned long long)quorum, (unsigned long long)cut + 1);
    else
        printf("  投票:         %llu / %llu 票（あと %llu 票で決定。ほかの加盟団体にも同じ証明書で投票を"
               "依頼してください）\n", (unsigned long long)votes, (unsigned long long)quorum,
               (unsigned long long)(quorum > votes ? quorum - votes : 0));
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

/* expel MEMBER --reason TEXT: this member's vote to expel MEMBER (a member
 * id, a 団体コード or a 団体名, resolved by catalogd as for rekey and
 * show), with why; the reason goes into the vote's record for every
 * member to read (member show). */
static int expel(client_opts *o, int argc, char **argv)
{
    const char *target = NULL, *reason = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--reason") && i + 1 < argc)
            reason = argv[++i];
        else if (!strncmp(argv[i], "--reason=", 9))
            reason = argv[i] + 9;
        else if (!target && argv[i][0] != '-')
            target = argv[i];
        else {
            client_usage_error("member", "'%s' は使えません", argv[i]);
            return usage();
        }
    }
    if (!target || !reason || !reason[0]) {
        client_usage_error("member", "expel には加盟団体と --reason 理由 が要ります");
        return usage();
    }
    if (strlen(reason) > STORE_EXPEL_REASON_MAX) {
        client_usage_error("member", "除名の理由は %u バイトまでです（%zu バイトあります）", STORE_EXPEL_REASON_MAX,
                           strlen(reason));
        return usage();
    }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "member_set");
    proto_map_put_str(&r.m, "op", "expel");
    proto_map_put_str(&r.m, "member", target);
    proto_map_put_str(&r.m, "reason", reason);
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    char id[PROTO_ID_STR] = "", code[8] = "", name[192] = "";
    proto_map_str(rep, len, "member_id", id, sizeof id);
    proto_map_str(rep, len, "code", code, sizeof code);
    proto_map_str(rep, len, "name", name, sizeof name);
    if (o->json) {
        printf("{");
        client_json_kv_str(stdout, "member_id", id, 1);
        client_json_kv_str(stdout, "code", code, 1);
        client_json_kv_str(stdout, "name", name, 1);
        client_json_kv_str(stdout, "reason", reason, 0);
        printf("}\n");
    } else {
        printf("%s %s の除名に投票しました（理由: %s）\n", code[0] ? code : id, name, reason);
        printf("  除名の定足数の票がそろうと除名されます（catalogctl member show %s で投票を確認できます）\n",
               code[0] ? code : id);
    }
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
    { "show", show, "MEMBER [--json]", "MEMBER は member id、団体コードか団体名。鍵の再発行（決定、投票中、数えられない票）も表示します" },
    { "address", address, "HOST:PORT", NULL },
    { "leave", leave, "", NULL },
    { "expel", expel, "MEMBER --reason 理由 [--json]",
      "加盟団体の除名に投票します（MEMBER は member id、団体コードか団体名）。理由は投票の記録に残り、"
      "どの加盟団体でも member show で見られます" },
    { "rekey", rekey, "MEMBER NEW.pem --reason 理由 [--cut N] [--json]",
      "鍵をなくした・盗まれた加盟団体の新しい鍵に投票します（MEMBER は member id、団体コードか団体名）。"
      "定足数の票がそろうと、--cut の seq（既定: 投票中ならその時点、なければこのノードが持つ最新の seq）"
      "の次から新しい鍵だけが有効になり、元の鍵で署名されたそれ以降の記録は拒否されます" },
};

const client_subverbs member_verb = { "member", subs, sizeof subs / sizeof subs[0], NULL, 0 };

static int usage(void)
{
    return client_subverbs_usage_error(&member_verb);
}
