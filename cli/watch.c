/*
 * cli/watch.c — catalogctl watch: new and changed records as the node
 * applies them, one line each (a table for people, JSON lines for a
 * script that mails a procurement team about new certifications in its
 * 分野).
 *
 * The position is the daemon's: per author, the last seq seen (control_int.h,
 * "watch").  This process keeps it, for every record received whether or
 * not a filter shows it, and when the connection is lost (the daemon
 * restarts, the node reboots) it connects again every second and asks for
 * what follows that position: no record is shown twice and none is
 * skipped.  --state FILE keeps the position across runs of catalogctl
 * itself (written after each batch of records, atomically).
 */
#include "cli/catview.h"
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/index.h"
#include "catalog/schema.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/mp.h"
#include "proto/text.h"
#include "proto/util.h"
#include "proto/vv.h"
#include "store/kind.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define USAGE \
    "使い方: catalogctl watch [--kind 種別] [--area 分野] [--member 団体コード] [--from-start]\n" \
    "           [--state ファイル] [--json] [--era]\n" \
    "  この団体のノードが受け取った記録（新しいもの・変更されたもの）を、届いた順に表示し続けます。\n" \
    "  ノードが再起動しても再接続し、続きから表示します（重複も欠落もありません）。\n" \
    "  --kind 種別             certification（認定）、adoption（導入実績）、member（加盟団体）、genesis のどれか\n" \
    "  --area 分野             その分野の認定だけ（catalogctl fields で一覧）\n" \
    "  --member 団体コード     その団体が書いた記録だけ（団体コードか member id）\n" \
    "  --from-start            ノードが持つすべての記録から（省略時は今から届くもの）\n" \
    "  --state ファイル        どこまで見たかをこのファイルに残し、次回はその続きから\n" \
    "  --json                  1 行に 1 件の JSON（JSON Lines）"
const char watch_usage[] = USAGE;

typedef struct {
    const char *kind;          /* a kind name, or NULL */
    char area[CATALOG_VOCAB_ITEM_MAX + 1];   /* a 分野 as stored, or "" */
    const char *member;        /* as given, resolved on each connection */
    int from_start;
    const char *state;
    proto_vv pos;              /* the position: per author, the last seq seen */
    int dirty;                 /* pos changed since the state file was written */
    client_members m;
} watch_args;

/* ---- the state file: one "MEMBER_ID SEQ" line per author ---- */

static int state_load(watch_args *w)
{
    FILE *f = fopen(w->state, "r");
    if (!f)
        return errno == ENOENT ? 0 : -1;
    char line[256];
    int rc = 0, lineno = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char id[96];
        unsigned long long seq;
        proto_id a;
        proto_vv_entry *p;
        lineno++;
        if (sscanf(line, "%95s %llu", id, &seq) != 2 || proto_id_parse(id, &a) ||
            !(p = proto_vv_get(&w->pos, &a, 1))) {
            client_errorf("%s:%d: 「member id 番号」の行ではありません", w->state, lineno);
            rc = -2;
            break;
        }
        p->seq = seq;
    }
    fclose(f);
    return rc;
}

static int state_save(watch_args *w)
{
    if (!w->state || !w->dirty)
        return 0;
    /* a new file of our own beside it (mkstemp: O_EXCL, mode 0600), never a
     * name someone else may have put a link at, then renamed over it */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", w->state);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    for (size_t i = 0; i < w->pos.n; i++) {
        char id[PROTO_ID_STR];
        proto_id_str(&w->pos.v[i].author, id);
        fprintf(f, "%s %llu\n", id, (unsigned long long)w->pos.v[i].seq);
    }
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, w->state)) {
        unlink(tmp);
        return -1;
    }
    w->dirty = 0;
    return 0;
}

/* ---- showing a record ---- */

static const char *kind_label(const char *kind)
{
    switch (kind_of(kind)->id) {
    case KIND_CERTIFICATION: return "認定";
    case KIND_ADOPTION: return "導入実績";
    case KIND_MEMBER: return "加盟団体";
    case KIND_GENESIS: return "連合の創設";
    default: return kind;
    }
}

static int wanted(const watch_args *w, const proto_record *r, const proto_id *member)
{
    if (w->kind && strcmp(r->kind, w->kind))
        return 0;
    const char *one[] = { w->area, NULL };
    if (w->area[0] && (!kind_is(r->kind, KIND_CERTIFICATION) || !(catalog_record_areas_in(r, one) & 1)))
        return 0;
    if (member && memcmp(&r->author, member, sizeof *member))
        return 0;
    return 1;
}

/* 内容: what a person needs to recognise the record. */
static void summary(const watch_args *w, const proto_record *r, int era, char *out, size_t n)
{
    char a[512], b[512], c[512], lb[512];
    out[0] = 0;
    if (r->flags & PROTO_FLAG_TOMBSTONE) {
        snprintf(out, n, "取り下げ: %s", client_field(r, "reason", era, a, sizeof a));
        return;
    }
    switch (kind_of(r->kind)->id) {
    case KIND_CERTIFICATION: {
        const char *st = client_field(r, "status", era, c, sizeof c);
        int shown = st[0] && strcmp(st, "認定中");   /* 停止, 取消: said; in force: not */
        snprintf(out, n, "%s / %s / %s%s%s%s", client_field(r, "company", era, a, sizeof a),
                 client_field(r, "product", era, b, sizeof b), client_field(r, "areas", era, lb, sizeof lb),
                 shown ? "（" : "", shown ? st : "", shown ? "）" : "");
        break;
    }
    case KIND_ADOPTION: {
        char ref[PROTO_ID_STR + PROTO_KEY_MAX + 2];
        client_field(r, "certification", 0, ref, sizeof ref);
        snprintf(out, n, "%s / %s / %s", client_ref_label(&w->m, ref, lb, sizeof lb),
                 client_field(r, "fiscal_year", era, a, sizeof a), client_field(r, "department", era, b, sizeof b));
        break;
    }
    case KIND_MEMBER:
        snprintf(out, n, "%s %s %s", client_field(r, "op", 0, a, sizeof a), client_field(r, "code", 0, b, sizeof b),
                 client_field(r, "name", 0, c, sizeof c));
        break;
    case KIND_GENESIS:
        snprintf(out, n, "%s", client_field(r, "alliance", 0, a, sizeof a));
        break;
    default:
        break;
    }
}

static void print_header(void)
{
    client_pad(stdout, "日時", 16);
    fputs("  ", stdout);
    client_pad(stdout, "種別", 10);
    fputs("  ", stdout);
    client_pad(stdout, "団体", 20);
    fputs("  ", stdout);
    client_pad(stdout, "キー", 16);
    fputs("  内容\n", stdout);
}

static void print_row(const watch_args *w, const proto_record *r, int era)
{
    char when[32], who[256], what[2048];
    /* a row is one line: a line break or tab in another member's text
     * (a name, a reason) is shown escaped, never as a row of its own (the
     * output guard keeps them raw, for layout) */
    char ewho[PROTO_TEXT_ESC_MAX(sizeof who)], ekey[PROTO_TEXT_ESC_MAX(PROTO_KEY_MAX)],
        ewhat[PROTO_TEXT_ESC_MAX(sizeof what)];
    time_t t = (time_t)(r->time_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    client_member_label(&w->m, &r->author, who, sizeof who);
    summary(w, r, era, what, sizeof what);
    client_pad(stdout, when, 16);
    fputs("  ", stdout);
    client_pad(stdout, kind_label(r->kind), 10);
    fputs("  ", stdout);
    client_pad(stdout, proto_text_esc(who, ewho, sizeof ewho), 20);
    fputs("  ", stdout);
    client_pad(stdout, proto_text_esc(r->key, ekey, sizeof ekey), 16);
    printf("  %s\n", proto_text_esc(what, ewhat, sizeof ewhat));
}

/* ---- the stream ---- */

/* The member --member names, among those the daemon listed: 0, -1 unknown. */
static int member_resolve(const watch_args *w, proto_id *out)
{
    for (size_t i = 0; i < w->m.n; i++)
        if (!strcmp(w->m.v[i].code, w->member) || !strcmp(w->m.v[i].id, w->member))
            return proto_id_parse(w->m.v[i].id, out);
    return -1;
}

/* One frame of the stream: a record (shown if the filters keep it; the
 * position moves either way) or the members (for the labels).  0, or a
 * CLIENT_* to exit with. */
static int take_frame(const client_opts *o, watch_args *w, const uint8_t *f, size_t fl, const proto_id *member)
{
    proto_rd rd;
    const uint8_t *b;
    uint32_t bl;
    proto_record rec;
    if (proto_map_find(f, fl, "record", &rd)) {
        if (proto_map_find(f, fl, "members", &rd) == 0) {
            client_members_free(&w->m);
            client_members_parse(f, fl, &w->m);
        }
        return 0;
    }
    if (proto_rd_bin(&rd, &b, &bl) || proto_record_decode_stored(b, bl, &rec, NULL, 0)) {
        client_errorf("invalid record from catalogd");
        return CLIENT_FAIL;
    }
    proto_vv_entry *p = proto_vv_get(&w->pos, &rec.author, 1);
    if (!p) {
        client_errorf("too many authors");
        return CLIENT_FAIL;
    }
    if (rec.seq <= p->seq)
        return 0;   /* seen already (the daemon never sends one twice; be sure) */
    p->seq = rec.seq;
    w->dirty = 1;
    if (!wanted(w, &rec, member))
        return 0;
    if (o->json && kind_has(rec.kind, KIND_F_CATALOG))
        client_catalog_json_print(&rec, &w->m, client_today(), stdout);   /* a watcher runs for days */
    else if (o->json)
        client_print_record(&rec, 1, stdout);
    else
        print_row(w, &rec, o->era);
    if (o->json)
        fputc('\n', stdout);
    return 0;
}

/* One connection, until it ends: 0 lost or not made (*connected says
 * which: connect again), or a CLIENT_* to exit with.  again: this is a
 * reconnection (say so). */
static int watch_once(client_opts *o, watch_args *w, int again, int *connected)
{
    client_req r;
    client_stream s;
    client_req_begin(&r, "watch");
    if (w->pos.n) {
        proto_map_key(&r.m, "since");
        msgpack_pack_array(&r.pk, (uint32_t)w->pos.n);
        for (size_t i = 0; i < w->pos.n; i++) {
            char id[PROTO_ID_STR];
            proto_id_str(&w->pos.v[i].author, id);
            msgpack_pack_array(&r.pk, 2);
            proto_pack_cstr(&r.pk, id);
            msgpack_pack_uint64(&r.pk, w->pos.v[i].seq);
        }
    } else if (w->from_start) {
        proto_map_put_bool(&r.m, "from_start", 1);
    }
    if (client_stream_open(o, &r, &s))
        return 0;
    const uint8_t *f;
    size_t fl;
    int got = client_stream_next(&s, &f, &fl), rc = 0, okv = 0;
    proto_rd rd;
    if (got != 1 || proto_map_find(f, fl, "ok", &rd) || proto_rd_bool(&rd, &okv)) {
        client_stream_close(&s);
        return 0;   /* the daemon went away before answering */
    }
    if (!okv) {
        char err[1024] = "refused";
        proto_map_str(f, fl, "error", err, sizeof err);
        client_errorf("%s", err);
        client_stream_close(&s);
        return CLIENT_REFUSED;
    }
    /* where the stream starts: the position given, or the node's now */
    uint32_t n, two;
    if (proto_map_find(f, fl, "start", &rd) || proto_rd_array(&rd, &n)) {
        client_errorf("invalid reply from catalogd");
        client_stream_close(&s);
        return CLIENT_FAIL;
    }
    for (uint32_t i = 0; i < n; i++) {
        char id[PROTO_ID_STR + 1];
        proto_id a;
        uint64_t seq;
        proto_vv_entry *p;
        if (proto_rd_array(&rd, &two) || two != 2 || proto_rd_strcpy(&rd, id, sizeof id) || proto_id_parse(id, &a) ||
            proto_rd_uint(&rd, &seq) || !(p = proto_vv_get(&w->pos, &a, 1))) {
            client_errorf("invalid reply from catalogd");
            client_stream_close(&s);
            return CLIENT_FAIL;
        }
        if (seq > p->seq) {
            p->seq = seq;
            w->dirty = 1;
        }
    }
    client_members_free(&w->m);
    client_members_parse(f, fl, &w->m);
    proto_id member, *mp = NULL;
    if (w->member) {
        if (member_resolve(w, &member)) {
            client_errorf("団体「%s」は加盟団体にありません（団体コードか member id を指定してください）", w->member);
            client_stream_close(&s);
            return CLIENT_USAGE;
        }
        mp = &member;
    }
    if (again)
        fputs("catalogctl watch: 再接続しました。続きから表示します\n", stderr);
    *connected = 1;
    while ((got = client_stream_next(&s, &f, &fl)) == 1) {
        if ((rc = take_frame(o, w, f, fl, mp)) != 0)
            break;
        /* a batch read (whatever its last frame): show it, and keep the
         * position, before waiting */
        if (s.in.off >= s.in.len) {
            if (fflush(stdout) || ferror(stdout)) {
                rc = CLIENT_FAIL;   /* the reader went away (a closed pipe) */
                break;
            }
            if (state_save(w)) {
                client_errorf("%s: 位置を保存できません: %s", w->state, strerror(errno));
                rc = CLIENT_FAIL;
                break;
            }
        }
    }
    client_stream_close(&s);
    if (rc)
        return rc;
    if (got < 0) {
        client_errorf("invalid reply from catalogd");
        return CLIENT_FAIL;
    }
    return 0;
}

int watch_main(int argc, char **argv)
{
    client_opts o = client_g;
    watch_args w = { .kind = NULL };
    for (int i = 1; i < argc; i++) {
        char err[512];
        const char *a = argv[i];
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(a, "--from-start")) {
            w.from_start = 1;
            continue;
        }
        if (i + 1 >= argc || (strcmp(a, "--kind") && strcmp(a, "--area") && strcmp(a, "--member") &&
                              strcmp(a, "--state"))) {
            client_usage_error("watch", USAGE);
            return CLIENT_USAGE;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--kind")) {
            w.kind = !strcmp(v, "認定") ? "certification" : !strcmp(v, "導入実績") ? "adoption"
                     : !strcmp(v, "加盟団体") ? "member" : v;
            if (kind_of(w.kind)->id == KIND_GENERIC) {
                client_usage_error("watch", "種別「%s」はありません（certification、adoption、member、genesis のいずれか）", v);
                return CLIENT_USAGE;
            }
        } else if (!strcmp(a, "--area")) {
            /* the areas of the node's policy in force (the genesis
             * policy's when no daemon answers now), as they are stored */
            catalog_query q;
            catalog_vocab vocab = { catalog_areas, catalog_routes, 0 };
            struct policy_vocab_buf *vb = NULL;
            if (client_daemon_running(&o) && policy_vocab_fetch(&o, &vocab, &vb))
                vocab.areas = catalog_areas;
            catalog_query_init(&q);
            int bad = catalog_query_set_area_in(&q, vocab.areas, v, err, sizeof err);
            if (!bad)
                snprintf(w.area, sizeof w.area, "%s", vocab.areas[q.area]);
            policy_vocab_free(vb);
            if (bad) {
                client_usage_error("watch", "%s", err);
                return CLIENT_USAGE;
            }
        } else if (!strcmp(a, "--member")) {
            w.member = v;
        } else {
            w.state = v;
        }
    }
    if (w.state) {
        int rc = state_load(&w);
        if (rc == -1) {
            client_errorf("%s: %s", w.state, strerror(errno));
            return CLIENT_FAIL;
        }
        if (rc)
            return CLIENT_FAIL;
    }
    if (!o.json && isatty(STDOUT_FILENO))
        print_header();   /* on a terminal; a pipe (a mail script) gets the rows alone */
    fflush(stdout);
    int ever = 0, told = 0, rc;
    for (;;) {
        int now = 0;
        rc = watch_once(&o, &w, ever, &now);
        if (rc)
            break;
        if (state_save(&w)) {
            client_errorf("%s: 位置を保存できません: %s", w.state, strerror(errno));
            rc = CLIENT_FAIL;
            break;
        }
        if (now) {
            ever = 1;
            told = 0;
        }
        if (!told) {
            fputs(ever ? "catalogctl watch: catalogd との接続が切れました。再接続を待ちます（見た位置は保持しています）\n"
                       : "catalogctl watch: catalogd に接続できません。起動を待ちます\n", stderr);
            told = 1;
        }
        sleep(1);
    }
    client_members_free(&w.m);
    proto_vv_free(&w.pos);
    return rc;
}
