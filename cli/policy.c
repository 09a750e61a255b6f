/*
 * cli/policy.c — catalogctl policy show|propose|endorse: the alliance's
 * policy (admission and expulsion quorums, 分野, 契約方法; the rule is in
 * store/store_policy.c and docs/DECISIONS.md).
 *
 * propose takes FIELD=VALUE changes to the policy in force, which this
 * command reads first and names as the proposal's parent:
 *   admission=N  expulsion=N
 *   areas=A,B,...   the whole list (separated by , or 、)
 *   areas+=A,B      added at the end
 *   areas-=A,B      removed
 * and the same for routes.  The node refuses a proposal whose parent is no
 * longer in force (someone else's change came first): run it again.
 */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/frame.h"
#include "proto/mp.h"
#include "proto/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(void);

#define LIST_MAX 32
#define ITEM_MAX 64

typedef struct {
    char id[PROTO_ID_STR], code[8], name[192];
} member_ref;

typedef struct {
    char id[65], parent[65];
    member_ref proposer;
    uint64_t since_ms, time_ms, admission, expulsion;
    char state[16];
    uint32_t nareas, nroutes;
    char areas[LIST_MAX][ITEM_MAX + 1], routes[LIST_MAX][ITEM_MAX + 1];
    uint32_t nendorsers;
    member_ref *endorsers;
} policy_view;

typedef struct {
    policy_view in_force;
    uint64_t active, quorum;
    uint32_t nprops;
    policy_view *props;
    int truncated;
} policy_reply;

static void reply_free(policy_reply *r)
{
    free(r->in_force.endorsers);
    for (uint32_t i = 0; i < r->nprops; i++)
        free(r->props[i].endorsers);
    free(r->props);
}

static int read_ref(proto_rd *rd, member_ref *m)
{
    uint32_t n;
    memset(m, 0, sizeof *m);
    return proto_rd_array(rd, &n) || n != 3 || proto_rd_strcpy(rd, m->id, sizeof m->id) ||
           proto_rd_strcpy(rd, m->code, sizeof m->code) || proto_rd_strcpy(rd, m->name, sizeof m->name);
}

static int read_strs(const uint8_t *p, size_t len, const char *key, char (*l)[ITEM_MAX + 1], uint32_t *n)
{
    proto_rd rd;
    if (proto_map_find(p, len, key, &rd) || proto_rd_array(&rd, n) || *n > LIST_MAX)
        return -1;
    for (uint32_t i = 0; i < *n; i++)
        if (proto_rd_strcpy(&rd, l[i], ITEM_MAX + 1))
            return -1;
    return 0;
}

/* One POLICY map (control_policy.c) at [p, p + len). */
static int read_view(const uint8_t *p, size_t len, policy_view *v)
{
    proto_rd rd;
    memset(v, 0, sizeof *v);
    if (proto_map_str(p, len, "id", v->id, sizeof v->id))
        return -1;
    proto_map_str(p, len, "parent", v->parent, sizeof v->parent);
    proto_map_str(p, len, "state", v->state, sizeof v->state);
    proto_map_u64(p, len, "since_ms", &v->since_ms);
    proto_map_u64(p, len, "time_ms", &v->time_ms);
    proto_map_u64(p, len, "admission", &v->admission);
    proto_map_u64(p, len, "expulsion", &v->expulsion);
    if (proto_map_find(p, len, "proposer", &rd) || read_ref(&rd, &v->proposer) ||
        read_strs(p, len, "areas", v->areas, &v->nareas) || read_strs(p, len, "routes", v->routes, &v->nroutes))
        return -1;
    if (proto_map_find(p, len, "endorsers", &rd) == 0 && proto_rd_array(&rd, &v->nendorsers) == 0 &&
        v->nendorsers <= 100000) {
        v->endorsers = calloc(v->nendorsers ? v->nendorsers : 1, sizeof *v->endorsers);
        if (!v->endorsers)
            return -1;
        for (uint32_t i = 0; i < v->nendorsers; i++)
            if (read_ref(&rd, &v->endorsers[i]))
                return -1;
    }
    return 0;
}

static int fetch(client_opts *o, policy_reply *out)
{
    client_req r;
    uint8_t *rep;
    size_t len;
    proto_rd rd;
    memset(out, 0, sizeof *out);
    client_req_begin(&r, "policy");
    int rc = client_call(o, &r, &rep, &len);
    if (rc)
        return rc;
    const uint8_t *start;
    rc = CLIENT_FAIL;
    if (proto_map_find(rep, len, "in_force", &rd))
        goto bad;
    start = rd.p;
    if (proto_rd_skip(&rd, 6) || read_view(start, (size_t)(rd.p - start), &out->in_force))
        goto bad;
    proto_map_u64(rep, len, "active", &out->active);
    proto_map_u64(rep, len, "quorum", &out->quorum);
    proto_rd t;
    int b = 0;
    if (proto_map_find(rep, len, "truncated", &t) == 0 && proto_rd_bool(&t, &b) == 0)
        out->truncated = b;
    if (proto_map_find(rep, len, "proposals", &rd) || proto_rd_array(&rd, &out->nprops) || out->nprops > 10000)
        goto bad;
    out->props = calloc(out->nprops ? out->nprops : 1, sizeof *out->props);
    if (!out->props)
        goto bad;
    for (uint32_t i = 0; i < out->nprops; i++) {
        start = rd.p;
        if (proto_rd_skip(&rd, 6) || read_view(start, (size_t)(rd.p - start), &out->props[i])) {
            out->nprops = i;
            goto bad;
        }
    }
    free(rep);
    return CLIENT_OK;
bad:
    client_errorf("policy: the node's reply could not be read");
    free(rep);
    reply_free(out);
    memset(out, 0, sizeof *out);
    return rc;
}

/* ---- for other verbs ---- */

struct policy_vocab_buf {
    policy_reply r;
    const char *areas[LIST_MAX + 1], *routes[LIST_MAX + 1];
};

int policy_vocab_fetch(client_opts *o, catalog_vocab *v, struct policy_vocab_buf **buf)
{
    struct policy_vocab_buf *b = calloc(1, sizeof *b);
    memset(v, 0, sizeof *v);
    *buf = b;
    if (!b)
        return CLIENT_FAIL;
    int rc = fetch(o, &b->r);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < b->r.in_force.nareas; i++)
        b->areas[i] = b->r.in_force.areas[i];
    for (uint32_t i = 0; i < b->r.in_force.nroutes; i++)
        b->routes[i] = b->r.in_force.routes[i];
    v->areas = b->areas;
    v->routes = b->routes;
    return CLIENT_OK;
}

void policy_vocab_free(struct policy_vocab_buf *b)
{
    if (b)
        reply_free(&b->r);
    free(b);
}

/* ---- show ---- */

static void when_str(uint64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm);
}

static void print_ref(const member_ref *m, FILE *f)
{
    if (m->code[0])
        fprintf(f, "%s %s", m->code, m->name);
    else
        fprintf(f, "%.9s (unknown member)", m->id);
}

static void print_refs(const member_ref *m, uint32_t n, FILE *f)
{
    for (uint32_t i = 0; i < n; i++) {
        fputs(i ? ", " : "", f);
        print_ref(&m[i], f);
    }
    if (!n)
        fputs("(none)", f);
}

static void print_list(char (*l)[ITEM_MAX + 1], uint32_t n, FILE *f)
{
    for (uint32_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? "、" : "", l[i]);
}

static int in_list(char (*l)[ITEM_MAX + 1], uint32_t n, const char *s)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(l[i], s))
            return 1;
    return 0;
}

/* What a proposal changes against the policy in force. */
static void print_changes(const policy_view *c, const policy_view *p, FILE *f)
{
    if (p->admission != c->admission)
        fprintf(f, "    admission: %llu -> %llu\n", (unsigned long long)c->admission,
                (unsigned long long)p->admission);
    if (p->expulsion != c->expulsion)
        fprintf(f, "    expulsion: %llu -> %llu\n", (unsigned long long)c->expulsion,
                (unsigned long long)p->expulsion);
    for (int which = 0; which < 2; which++) {
        char (*pl)[ITEM_MAX + 1] = which ? (char (*)[ITEM_MAX + 1])p->routes : (char (*)[ITEM_MAX + 1])p->areas;
        char (*cl)[ITEM_MAX + 1] = which ? (char (*)[ITEM_MAX + 1])c->routes : (char (*)[ITEM_MAX + 1])c->areas;
        uint32_t pn = which ? p->nroutes : p->nareas, cn = which ? c->nroutes : c->nareas;
        int same = pn == cn;
        for (uint32_t i = 0; same && i < pn; i++)
            same = !strcmp(pl[i], cl[i]);
        if (same)
            continue;
        fprintf(f, "    %s:", which ? "routes" : "areas");
        for (uint32_t i = 0; i < pn; i++)
            if (!in_list(cl, cn, pl[i]))
                fprintf(f, " +%s", pl[i]);
        for (uint32_t i = 0; i < cn; i++)
            if (!in_list(pl, pn, cl[i]))
                fprintf(f, " -%s", cl[i]);
        fputs(" (", f);
        print_list(pl, pn, f);
        fputs(")\n", f);
    }
}

static json_t *ref_json(const member_ref *m)
{
    return json_pack("{s:s, s:s, s:s}", "member_id", m->id, "code", m->code, "name", m->name);
}

static json_t *view_json(const policy_view *v)
{
    json_t *areas = json_array(), *routes = json_array(), *end = json_array();
    for (uint32_t i = 0; i < v->nareas; i++)
        json_array_append_new(areas, json_string(v->areas[i]));
    for (uint32_t i = 0; i < v->nroutes; i++)
        json_array_append_new(routes, json_string(v->routes[i]));
    for (uint32_t i = 0; i < v->nendorsers; i++)
        json_array_append_new(end, ref_json(&v->endorsers[i]));
    json_t *j = json_pack("{s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:o}", "id", v->id, "parent", v->parent,
                          "proposer", ref_json(&v->proposer), "admission", (json_int_t)v->admission,
                          "expulsion", (json_int_t)v->expulsion, "areas", areas, "routes", routes,
                          "endorsers", end);
    char w[40];
    if (v->state[0]) {
        json_object_set_new(j, "state", json_string(v->state));
        when_str(v->time_ms, w, sizeof w);
        json_object_set_new(j, "proposed_ms", json_integer((json_int_t)v->time_ms));
    } else {
        json_object_set_new(j, "since_ms", json_integer((json_int_t)v->since_ms));
    }
    return j;
}

static int show(client_opts *o, int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (!client_common_opt(o, argc, argv, &i))
            return usage();
    policy_reply r;
    int rc = fetch(o, &r);
    if (rc)
        return rc;
    const policy_view *c = &r.in_force;
    if (o->json) {
        json_t *props = json_array();
        for (uint32_t i = 0; i < r.nprops; i++)
            json_array_append_new(props, view_json(&r.props[i]));
        json_t *j = json_pack("{s:o, s:I, s:I, s:o, s:b}", "in_force", view_json(c), "active",
                              (json_int_t)r.active, "quorum", (json_int_t)r.quorum, "proposals", props,
                              "truncated", r.truncated);
        client_json_dumpf(j, JSON_COMPACT, stdout);
        fputc('\n', stdout);
        json_decref(j);
        reply_free(&r);
        return CLIENT_OK;
    }
    char w[40];
    when_str(c->since_ms, w, sizeof w);
    printf("policy in force: %.16s%s\n", c->id, c->parent[0] ? "" : " (the genesis policy)");
    printf("  since:       %s\n", w);
    printf("  proposed by: ");
    print_ref(&c->proposer, stdout);
    printf("\n  endorsed by: ");
    print_refs(c->endorsers, c->nendorsers, stdout);
    printf("\n  admission:   %llu endorsement%s\n", (unsigned long long)c->admission, c->admission == 1 ? "" : "s");
    printf("  expulsion:   %llu vote%s (also the quorum to change this policy)\n",
           (unsigned long long)c->expulsion, c->expulsion == 1 ? "" : "s");
    printf("  areas:       ");
    print_list((char (*)[ITEM_MAX + 1])c->areas, c->nareas, stdout);
    printf("\n  routes:      ");
    print_list((char (*)[ITEM_MAX + 1])c->routes, c->nroutes, stdout);
    printf("\nchange quorum now: %llu of %llu active member%s\n", (unsigned long long)r.quorum,
           (unsigned long long)r.active, r.active == 1 ? "" : "s");
    uint32_t pending = 0, stale = 0;
    for (uint32_t i = 0; i < r.nprops; i++)
        strcmp(r.props[i].state, "pending") ? stale++ : pending++;
    printf("\n%s\n", pending ? "pending proposals:" : "no pending proposals");
    for (uint32_t i = 0; i < r.nprops; i++) {
        const policy_view *p = &r.props[i];
        if (strcmp(p->state, "pending"))
            continue;
        when_str(p->time_ms, w, sizeof w);
        printf("  %s\n    by ", p->id);
        print_ref(&p->proposer, stdout);
        printf(" at %s; %u of %llu: ", w, p->nendorsers, (unsigned long long)r.quorum);
        print_refs(p->endorsers, p->nendorsers, stdout);
        fputc('\n', stdout);
        print_changes(c, p, stdout);
    }
    if (stale)
        printf("\n%u stale proposal%s (amending a policy no longer in force; they cannot come into force)\n",
               stale, stale == 1 ? "" : "s");
    /* r.truncated: client_call warned on stderr */
    reply_free(&r);
    return CLIENT_OK;
}

/* ---- propose ---- */

/* Items of a list value, separated by , or 、 (trimmed of spaces). */
static int split_items(const char *v, char (*out)[ITEM_MAX + 1], uint32_t *n, const char *field)
{
    *n = 0;
    const char *p = v;
    while (*p) {
        size_t l = 0;
        const char *q = p;
        while (q[l] && q[l] != ',' && strncmp(q + l, "、", 3))
            l++;
        const char *next = q + l + (q[l] == ',' ? 1 : q[l] ? 3 : 0);
        while (l && (*q == ' '))
            q++, l--;
        while (l && q[l - 1] == ' ')
            l--;
        if (l) {
            if (l > ITEM_MAX) {
                client_errorf("policy propose: %s: '%.*s' is longer than %d bytes", field, (int)l, q, ITEM_MAX);
                return -1;
            }
            if (*n >= LIST_MAX) {
                client_errorf("policy propose: %s: more than %d items", field, LIST_MAX);
                return -1;
            }
            memcpy(out[*n], q, l);
            out[*n][l] = 0;
            ++*n;
        }
        p = next;
    }
    return 0;
}

static int apply_list(char (*l)[ITEM_MAX + 1], uint32_t *n, char op, const char *v, const char *field)
{
    char items[LIST_MAX][ITEM_MAX + 1];
    uint32_t ni;
    if (split_items(v, items, &ni, field))
        return -1;
    if (op == '=') {
        memcpy(l, items, sizeof items);
        *n = ni;
        return 0;
    }
    for (uint32_t i = 0; i < ni; i++) {
        uint32_t k = 0;
        while (k < *n && strcmp(l[k], items[i]))
            k++;
        if (op == '+') {
            if (k < *n) {
                client_errorf("policy propose: %s: '%s' is listed already", field, items[i]);
                return -1;
            }
            if (*n >= LIST_MAX) {
                client_errorf("policy propose: %s: more than %d items", field, LIST_MAX);
                return -1;
            }
            strcpy(l[(*n)++], items[i]);
        } else {
            if (k == *n) {
                client_errorf("policy propose: %s: '%s' is not listed", field, items[i]);
                return -1;
            }
            memmove(l[k], l[k + 1], (size_t)(*n - k - 1) * sizeof l[0]);
            --*n;
        }
    }
    return 0;
}

static int propose(client_opts *o, int argc, char **argv)
{
    int nchanges = 0;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strchr(argv[i], '='))
            return usage();
        nchanges++;
    }
    if (!nchanges)
        return usage();
    policy_reply r;
    int rc = fetch(o, &r);
    if (rc)
        return rc;
    policy_view p = r.in_force;
    p.endorsers = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        if (!eq || (a[0] == '-' && a[1] == '-')) {
            client_common_opt(o, argc, argv, &i);
            continue;
        }
        char op = '=';
        size_t fl = (size_t)(eq - a);
        if (fl && (a[fl - 1] == '+' || a[fl - 1] == '-'))
            op = a[--fl];
        const char *v = eq + 1;
        if (fl == 9 && !strncmp(a, "admission", 9) && op == '=') {
            char *end;
            p.admission = strtoull(v, &end, 10);
            if (*end || !*v || p.admission < 1 || p.admission > 1000) {
                client_errorf("policy propose: admission must be 1 to 1000");
                reply_free(&r);
                return CLIENT_USAGE;
            }
        } else if (fl == 9 && !strncmp(a, "expulsion", 9) && op == '=') {
            char *end;
            p.expulsion = strtoull(v, &end, 10);
            if (*end || !*v || p.expulsion < 1 || p.expulsion > 1000) {
                client_errorf("policy propose: expulsion must be 1 to 1000");
                reply_free(&r);
                return CLIENT_USAGE;
            }
        } else if (fl == 5 && !strncmp(a, "areas", 5)) {
            if (apply_list(p.areas, &p.nareas, op, v, "areas")) {
                reply_free(&r);
                return CLIENT_USAGE;
            }
        } else if (fl == 6 && !strncmp(a, "routes", 6)) {
            if (apply_list(p.routes, &p.nroutes, op, v, "routes")) {
                reply_free(&r);
                return CLIENT_USAGE;
            }
        } else {
            client_errorf("policy propose: unknown change '%s' (admission=N, expulsion=N, areas=, areas+=, "
                          "areas-=, routes=, routes+=, routes-=)", a);
            reply_free(&r);
            return CLIENT_USAGE;
        }
    }
    client_req q;
    client_req_begin(&q, "policy_propose");
    proto_map_put_str(&q.m, "parent", r.in_force.id);
    proto_map_put_u64(&q.m, "admission", p.admission);
    proto_map_put_u64(&q.m, "expulsion", p.expulsion);
    proto_map_key(&q.m, "areas");
    msgpack_pack_array(&q.pk, p.nareas);
    for (uint32_t i = 0; i < p.nareas; i++)
        proto_pack_cstr(&q.pk, p.areas[i]);
    proto_map_key(&q.m, "routes");
    msgpack_pack_array(&q.pk, p.nroutes);
    for (uint32_t i = 0; i < p.nroutes; i++)
        proto_pack_cstr(&q.pk, p.routes[i]);
    uint8_t *rep;
    size_t len;
    uint64_t quorum = r.quorum;
    reply_free(&r);
    rc = client_call(o, &q, &rep, &len);
    if (rc)
        return rc;
    char id[65] = "";
    int now = 0;
    proto_rd t;
    proto_map_str(rep, len, "id", id, sizeof id);
    if (proto_map_find(rep, len, "in_force", &t) == 0)
        proto_rd_bool(&t, &now);
    free(rep);
    if (o->json) {
        printf("{");
        client_json_kv_str(stdout, "id", id, 1);
        printf("\"in_force\":%s}\n", now ? "true" : "false");
    } else if (now) {
        printf("proposed policy %s\nin force now (the change quorum is %llu)\n", id, (unsigned long long)quorum);
    } else {
        printf("proposed policy %s\nneeds %llu endorsements in all (yours counts): other members run\n"
               "  catalogctl policy endorse %s\n", id, (unsigned long long)quorum, id);
    }
    return CLIENT_OK;
}

/* ---- endorse ---- */

static int endorse(client_opts *o, int argc, char **argv)
{
    const char *h = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (h || argv[i][0] == '-')
            return usage();
        h = argv[i];
    }
    if (!h)
        return usage();
    client_req q;
    uint8_t *rep;
    size_t len;
    client_req_begin(&q, "policy_endorse");
    proto_map_put_str(&q.m, "proposal", h);
    int rc = client_call(o, &q, &rep, &len);
    if (rc)
        return rc;
    int now = 0;
    proto_rd t;
    if (proto_map_find(rep, len, "in_force", &t) == 0)
        proto_rd_bool(&t, &now);
    free(rep);
    if (o->json)
        printf("{\"in_force\":%s}\n", now ? "true" : "false");
    else
        printf("endorsed %s\n%s\n", h, now ? "in force now" : "not yet in force (short of the quorum)");
    return CLIENT_OK;
}

static const client_subverb subs[] = {
    { "show", show, "[--json]", "the policy in force, who endorsed it, and the pending proposals" },
    { "propose", propose, "FIELD=VALUE...",
      "admission=N expulsion=N areas=A,B,... areas+=A areas-=A routes=... routes+=... routes-=..." },
    { "endorse", endorse, "HASH", "endorse a pending proposal (its full hash, as show prints it)" },
};

const client_subverbs policy_verb = { "policy", subs, sizeof subs / sizeof subs[0], NULL, 0 };

static int usage(void)
{
    return client_subverbs_usage_error(&policy_verb);
}
