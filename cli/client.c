/* cli/client.c — see client.h. */
#include "cli/client.h"
#include "proto/frame.h"
#include "proto/text.h"
#include "proto/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

client_opts client_g;

int client_common_opt(client_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if ((!strcmp(a, "--data") || !strcmp(a, "--socket")) && *i + 1 < argc) {
        if (a[2] == 'd')
            o->data = argv[++*i];
        else
            o->socket = argv[++*i];
        return 1;
    }
    if (!strncmp(a, "--data=", 7)) { o->data = a + 7; return 1; }
    if (!strncmp(a, "--socket=", 9)) { o->socket = a + 9; return 1; }
    if (!strcmp(a, "--json")) { o->json = 1; return 1; }
    if (!strcmp(a, "--era")) { o->era = 1; return 1; }
    return 0;
}

const char *client_data_dir(const client_opts *o)
{
    if (o->data)
        return o->data;
    const char *e = getenv("CATALOGD_DATA");
    return e && *e ? e : "var/node";
}

void client_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "catalogctl %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void client_errorf(const char *fmt, ...)
{
    va_list ap;
    fputs("catalogctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- sub-verbs ---- */

void client_subverbs_usage(const client_subverbs *v, FILE *f)
{
    /* "使い方:" is as wide as "usage: " on a terminal (7 columns) */
    const char *label = v->ja ? "使い方:" : "usage:", *indent = v->ja ? "       " : "      ";
    for (size_t i = 0; i < v->n;) {
        /* a run of rows sharing one line: the first has the usage */
        size_t end = i + 1;
        while (end < v->n && !v->subs[end].usage)
            end++;
        fprintf(f, "%s catalogctl %s ", i ? indent : label, v->verb);
        for (size_t j = i; j < end; j++)
            fprintf(f, "%s%s", j > i ? "|" : "", v->subs[j].sub);
        const char *u = v->subs[i].usage ? v->subs[i].usage : "";
        fprintf(f, "%s%s\n", u[0] ? " " : "", u);
        if (v->subs[i].help)
            fprintf(f, "%s     %s\n", indent, v->subs[i].help);
        i = end;
    }
    if (v->note)
        fprintf(f, "%s\n", v->note);
}

void client_subverbs_names(const client_subverbs *v, FILE *f)
{
    for (size_t i = 0; i < v->n; i++)
        fprintf(f, "%s%s", i ? "|" : "", v->subs[i].sub);
}

int client_subverbs_usage_error(const client_subverbs *v)
{
    fprintf(stderr, "catalogctl %s: ", v->verb);
    client_subverbs_usage(v, stderr);
    return CLIENT_USAGE;
}

int client_subverbs_main(const client_subverbs *v, int argc, char **argv)
{
    client_opts o = client_g;
    const char *sub = argc > 1 ? argv[1] : "";
    for (size_t i = 0; i < v->n; i++)
        if (!strcmp(v->subs[i].sub, sub))
            return v->subs[i].fn(&o, argc, argv);
    if (!sub[0])
        return client_subverbs_usage_error(v);
    if (v->ja)
        client_usage_error(v->verb, "'%s' というサブコマンドはありません", sub);
    else
        client_usage_error(v->verb, "unknown command '%s'", sub);
    client_subverbs_usage(v, stderr);
    return CLIENT_USAGE;
}

/* ---- control socket ---- */

void client_req_begin(client_req *r, const char *cmd)
{
    proto_frame_begin(&r->sb, &r->pk);
    proto_map_begin(&r->m, &r->pk);
    proto_map_put_str(&r->m, "cmd", cmd);
}

static int sock_path(const client_opts *o, char *out, size_t n)
{
    if (o->socket)
        snprintf(out, n, "%s", o->socket);
    else
        snprintf(out, n, "%s/control.sock", client_data_dir(o));
    return 0;
}

static int sock_connect(const client_opts *o, char *path, size_t pn)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    sock_path(o, path, pn);
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int client_daemon_running(const client_opts *o)
{
    char path[1100];
    int fd = sock_connect(o, path, sizeof path);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int client_stream_open(const client_opts *o, client_req *r, client_stream *s)
{
    memset(s, 0, sizeof *s);
    s->fd = sock_connect(o, s->path, sizeof s->path);
    if (s->fd < 0) {
        int e = errno;
        msgpack_sbuffer_destroy(&r->sb);
        errno = e;
        return CLIENT_FAIL;
    }
    s->connected = 1;
    if (client_stream_send(s, r)) {
        int e = errno;
        close(s->fd);
        s->fd = -1;
        errno = e;
        return CLIENT_FAIL;
    }
    return CLIENT_OK;
}

int client_stream_next(client_stream *s, const uint8_t **frame, size_t *len)
{
    char buf[65536];
    int rc;
    while ((rc = proto_frame_take(&s->in, PROTO_CTL_FRAME_MAX, frame, len)) == 0) {
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;   /* the end, or the connection lost: no reply either way */
        if (proto_buf_append(&s->in, buf, (size_t)n))
            return -1;
    }
    return rc < 0 ? -1 : 1;
}

int client_stream_send(client_stream *s, client_req *r)
{
    proto_map_end(&r->m);
    proto_frame_end(&r->sb);
    int rc = CLIENT_OK;
    for (size_t off = 0; rc == CLIENT_OK && off < r->sb.size;) {
        ssize_t w = write(s->fd, r->sb.data + off, r->sb.size - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = CLIENT_FAIL;
        else
            off += (size_t)w;
    }
    msgpack_sbuffer_destroy(&r->sb);
    return rc;
}

void client_stream_close(client_stream *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    proto_buf_free(&s->in);
}

/* One request on a stream of its own, one reply. */
int client_call(const client_opts *o, client_req *r, uint8_t **reply, size_t *len)
{
    client_stream s;
    if (client_stream_open(o, r, &s)) {
        if (s.connected)
            client_errorf("write to %s: %s", s.path, strerror(errno));
        else
            client_errorf("cannot reach catalogd at %s: %s (is the daemon running?)", s.path, strerror(errno));
        return CLIENT_FAIL;
    }
    const uint8_t *f;
    size_t fl;
    int got = client_stream_next(&s, &f, &fl), rc = CLIENT_FAIL;
    proto_rd rd;
    int ok = 0;
    if (got == 0) {
        client_errorf("catalogd closed the control connection without a reply");
    } else if (got < 0 || proto_map_find(f, fl, "ok", &rd) || proto_rd_bool(&rd, &ok)) {
        client_errorf("invalid reply from catalogd");
    } else if (!ok) {
        char err[1024] = "refused";
        proto_map_str(f, fl, "error", err, sizeof err);
        client_errorf("%s", err);
        rc = CLIENT_REFUSED;
    } else {
        *reply = malloc(fl);
        memcpy(*reply, f, fl);
        *len = fl;
        rc = CLIENT_OK;
        /* a list the daemon cut at one of its bounds (NODE_CONTROL_REPLY_MAX,
         * NODE_CONTROL_PAGE_BYTES) says so, and so does every verb: on
         * stderr, so that --json output stays one document */
        int cut = 0;
        if (proto_map_find(f, fl, "truncated", &rd) == 0 && proto_rd_bool(&rd, &cut) == 0 && cut)
            fprintf(stderr, "警告: 一覧が catalogd の 1 回の応答の上限で打ち切られています。"
                            "表示されていない項目があります\n");
    }
    client_stream_close(&s);
    return rc;
}

/* ---- JSON ---- */

/* JSON text with DEL, C1 and bidi controls written as \u escapes, as
 * jansson already writes C0: the same string to a JSON reader, and nothing
 * a terminal obeys when the JSON is printed.  proto_text_escape's form
 * (\u00XX) is a JSON escape; jansson leaves no raw newline or tab inside a
 * string, so those kept by PROTO_TEXT_NL are layout only. */
static void json_put(FILE *f, const char *text)
{
    size_t n = strlen(text);
    char *e = malloc(PROTO_TEXT_ESC_MAX(n));
    if (!e)
        return;
    proto_text_escape(text, n, PROTO_TEXT_NL, e, PROTO_TEXT_ESC_MAX(n), NULL);
    fputs(e, f);
    free(e);
}

void client_json_dumpf(json_t *j, size_t flags, FILE *f)
{
    char *out = j ? json_dumps(j, flags) : NULL;
    if (out)
        json_put(f, out);
    free(out);
}

/* Escaping is jansson's: one well-kept implementation of JSON strings. */
void client_json_str(FILE *f, const char *s, size_t n)
{
    json_t *j = json_stringn_nocheck(s, n);
    char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (out)
        json_put(f, out);
    else
        fputs("\"\"", f);
    free(out);
    json_decref(j);
}

/* ---- the output guard ---- */

/* What catalogctl prints to a terminal comes largely from other members
 * (names, record fields, error texts that quote them).  Rather than trust
 * every printf to escape, stdout and stderr are replaced by streams that
 * pass everything through proto_text_escape, keeping newlines and tabs: no
 * control or bidi character reaches the terminal raw, whatever a verb
 * prints, and a record stored before the text rule shows escaped (ESC as
 * \u001b).  Exports, which must be exact, write to client_raw_stdout(). */
typedef struct {
    int fd;
    char held[4];   /* the start of a UTF-8 character cut by stdio's buffer */
    size_t nheld;
} guard;

static int write_all(int fd, const char *b, size_t n)
{
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static ssize_t guard_write(void *cookie, const char *buf, size_t n)
{
    guard *g = cookie;
    char out[PROTO_TEXT_ESC_MAX(1024)];
    char *in = malloc(n + sizeof g->held);
    if (!in)
        return -1;
    memcpy(in, g->held, g->nheld);
    memcpy(in + g->nheld, buf, n);
    size_t len = g->nheld + n, i = 0, used;
    g->nheld = 0;
    while (i < len) {
        size_t o = proto_text_escape(in + i, len - i, PROTO_TEXT_NL | PROTO_TEXT_PARTIAL, out, sizeof out, &used);
        if (write_all(g->fd, out, o)) {
            free(in);
            return -1;
        }
        if (!used)
            break;   /* an incomplete character: keep it for the next write */
        i += used;
    }
    memcpy(g->held, in + i, len - i);   /* less than 4 bytes */
    g->nheld = len - i;
    free(in);
    return (ssize_t)n;
}

static int guard_close(void *cookie)
{
    guard *g = cookie;
    char out[PROTO_TEXT_ESC_MAX(sizeof g->held)];
    size_t o = proto_text_escape(g->held, g->nheld, PROTO_TEXT_NL, out, sizeof out, NULL);
    int rc = write_all(g->fd, out, o);
    free(g);
    return rc;
}

static FILE *guard_open(int fd, int mode)
{
    guard *g = calloc(1, sizeof *g);
    cookie_io_functions_t io = { .write = guard_write, .close = guard_close };
    FILE *f = g ? fopencookie(g, "w", io) : NULL;
    if (!f) {
        free(g);
        return NULL;
    }
    g->fd = fd;
    setvbuf(f, NULL, mode, BUFSIZ);
    return f;
}

/* At exit: close the guarded streams, which writes a character held back
 * incomplete (escaped) and frees their state.  A cookie stream has no file
 * descriptor, which tells it from the original stream. */
static void guard_finish(void)
{
    if (fileno(stdout) < 0)
        fclose(stdout);
    if (fileno(stderr) < 0)
        fclose(stderr);
}

void client_guard_output(void)
{
    /* glibc's stdout and stderr are ordinary variables that may be set
     * (glibc manual, "Standard Streams"). */
    FILE *o = guard_open(STDOUT_FILENO, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF);
    FILE *e = guard_open(STDERR_FILENO, _IONBF);
    if (o)
        stdout = o;
    if (e)
        stderr = e;
    if (o || e)
        atexit(guard_finish);
}

FILE *client_raw_stdout(void)
{
    int fd;
    FILE *f;
    fflush(stdout);
    if ((fd = dup(STDOUT_FILENO)) < 0)
        return NULL;
    if (!(f = fdopen(fd, "wb")))
        close(fd);
    return f;
}

void client_json_kv_str(FILE *f, const char *k, const char *v, int comma)
{
    client_json_str(f, k, strlen(k));
    fputc(':', f);
    client_json_str(f, v, strlen(v));
    if (comma)
        fputc(',', f);
}

void client_json_kv_u64(FILE *f, const char *k, uint64_t v, int comma)
{
    client_json_str(f, k, strlen(k));
    fprintf(f, ":%llu%s", (unsigned long long)v, comma ? "," : "");
}

/* ---- widths and tables ---- */

/* Decode one UTF-8 character; returns its length (>= 1) and width. */
static size_t char_width(const char *s, int *w)
{
    mbstate_t st;
    wchar_t wc;
    memset(&st, 0, sizeof st);
    size_t n = mbrtowc(&wc, s, MB_CUR_MAX, &st);
    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        *w = 1;
        return 1;
    }
    int cw = wcwidth(wc);
    *w = cw < 0 ? 1 : cw;
    return n;
}

size_t client_width(const char *s)
{
    size_t w = 0;
    while (*s) {
        int cw;
        s += char_width(s, &cw);
        w += (size_t)cw;
    }
    return w;
}

void client_pad(FILE *f, const char *s, size_t w)
{
    size_t total = client_width(s);
    if (w < 2)
        w = 2;
    if (total <= w) {
        fputs(s, f);
        for (size_t i = total; i < w; i++)
            fputc(' ', f);
        return;
    }
    /* truncate to w-1 columns and add an ellipsis (one column) */
    size_t used = 0;
    while (*s) {
        int cw;
        size_t n = char_width(s, &cw);
        if (used + (size_t)cw > w - 1)
            break;
        fwrite(s, 1, n, f);
        used += (size_t)cw;
        s += n;
    }
    fputs("…", f);
    used++;
    for (; used < w; used++)
        fputc(' ', f);
}

struct client_table {
    size_t ncols, nrows, cap;
    char **cells;   /* row-major, header row first */
};

client_table *client_table_new(size_t ncols, const char *const *headers)
{
    client_table *t = calloc(1, sizeof *t);
    t->ncols = ncols;
    client_table_row(t, headers);
    return t;
}

void client_table_row(client_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, t->cap * t->ncols * sizeof *t->cells);
    }
    for (size_t c = 0; c < t->ncols; c++) {
        const char *v = cells[c] ? cells[c] : "";
        /* one line per cell: newlines and tabs become spaces */
        char *cp = strdup(v);
        for (char *q = cp; *q; q++)
            if (*q == '\n' || *q == '\r' || *q == '\t')
                *q = ' ';
        /* escaped here, not only by the output guard, so that widths are
         * those of what is shown */
        size_t cl = strlen(cp);
        char *esc = malloc(PROTO_TEXT_ESC_MAX(cl));
        if (esc) {
            proto_text_escape(cp, cl, 0, esc, PROTO_TEXT_ESC_MAX(cl), NULL);
            free(cp);
            cp = esc;
        }
        t->cells[t->nrows * t->ncols + c] = cp;
    }
    t->nrows++;
}

static size_t term_width(void)
{
    struct winsize ws;
    const char *cols = getenv("COLUMNS");
    if (cols && atoi(cols) > 20)
        return (size_t)atoi(cols);
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
        return ws.ws_col;
    return isatty(STDOUT_FILENO) ? 80 : 0;   /* 0: not a terminal, never truncate */
}

void client_table_print(client_table *t, FILE *f)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            size_t cw = client_width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    size_t tw = term_width();
    if (tw) {
        /* shrink the widest columns until the row fits the terminal */
        for (;;) {
            size_t total = 0, widest = 0;
            for (size_t c = 0; c < t->ncols; c++) {
                total += w[c] + (c ? 2 : 0);
                if (w[c] > w[widest])
                    widest = c;
            }
            /* long text goes first; below 8 columns everything shrinks in turn */
            size_t floor_w = w[widest] > 8 ? 8 : 3;
            if (total <= tw || w[widest] <= floor_w)
                break;
            w[widest] -= total - tw < w[widest] - floor_w ? total - tw : w[widest] - floor_w;
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputs("  ", f);
            if (c == t->ncols - 1 && client_width(t->cells[r * t->ncols + c]) <= w[c])
                fputs(t->cells[r * t->ncols + c], f);   /* no trailing blanks */
            else
                client_pad(f, t->cells[r * t->ncols + c], w[c]);
        }
        fputc('\n', f);
    }
    free(w);
}

void client_table_free(client_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ---- records ---- */

static void fmt_time(uint64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct { FILE *f; int json; int first; } body_ctx;

static int body_field(void *ctx, const char *field, size_t flen, const char *text, size_t tlen)
{
    body_ctx *b = ctx;
    if (b->json) {
        if (!b->first)
            fputc(',', b->f);
        client_json_str(b->f, field, flen);
        fputc(':', b->f);
        client_json_str(b->f, text, tlen);
    } else {
        /* a value's line breaks (another member's text may hold them) go
         * on indented under it: at the margin a line of the value could
         * pass for a field or header of its own ("  hash: …") */
        fprintf(b->f, "  %.*s: ", (int)flen, field);
        for (size_t i = 0; i < tlen; i++) {
            fputc(text[i], b->f);
            if (text[i] == '\n')
                fputs("    ", b->f);
        }
        fputc('\n', b->f);
    }
    b->first = 0;
    return 0;
}

void client_print_record(const proto_record *r, int json, FILE *f)
{
    char author[PROTO_ID_STR], when[32], hx[65];
    proto_id h;
    proto_id_str(&r->author, author);
    fmt_time(r->time_ms, when, sizeof when);
    proto_record_hash(r->raw, r->raw_len, &h);
    proto_hex(h.b, 32, hx);
    body_ctx b = { f, json, 1 };
    if (json) {
        fputc('{', f);
        client_json_kv_str(f, "author", author, 1);
        client_json_kv_str(f, "kind", r->kind, 1);
        client_json_kv_str(f, "key", r->key, 1);
        client_json_kv_u64(f, "seq", r->seq, 1);
        client_json_kv_str(f, "time", when, 1);
        fprintf(f, "\"tombstone\":%s,", r->flags & PROTO_FLAG_TOMBSTONE ? "true" : "false");
        client_json_kv_str(f, "hash", hx, 1);
        fputs("\"body\":{", f);
        proto_body_foreach(r, body_field, &b);
        fputs("}}", f);
    } else {
        fprintf(f, "%s/%s  seq %llu  %s%s\n  author: %s\n  hash: %s\n", r->kind, r->key,
                (unsigned long long)r->seq, when,
                r->flags & PROTO_FLAG_TOMBSTONE ? "  (deleted)" : "", author, hx);
        proto_body_foreach(r, body_field, &b);
    }
}

int client_print_records(const uint8_t *reply, size_t len, const char *key, int json, int history)
{
    proto_rd r;
    uint32_t n;
    if (proto_map_find(reply, len, key, &r) || proto_rd_array(&r, &n)) {
        client_errorf("invalid reply from catalogd");
        return CLIENT_FAIL;
    }
    if (json)
        fputc('[', stdout);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *b;
        uint32_t bl;
        proto_record rec;
        char err[256];
        if (proto_rd_bin(&r, &b, &bl) || proto_record_decode_stored(b, bl, &rec, err, sizeof err)) {
            client_errorf("invalid record in reply");
            return CLIENT_FAIL;
        }
        if (json && i)
            fputc(',', stdout);
        if (!json && i)
            fputc('\n', stdout);
        client_print_record(&rec, json, stdout);
    }
    if (json)
        fputs("]\n", stdout);
    (void)history;
    return CLIENT_OK;
}
