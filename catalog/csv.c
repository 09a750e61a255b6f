/*
 * catalog/csv.c — see csv.h.
 *
 * How line numbers are kept: libcsv reports a field or a row only when it
 * ends, and says nothing about where it began.  So the text is fed to
 * csv_parse() one physical line at a time (each piece ends just after its
 * CRLF, LF or CR).  A row can end only at a line break, that is at the end
 * of a piece, so after each piece we know whether a row (or a quoted field)
 * is open, and if it was not open before this piece it began on this line.
 * libcsv keeps its state (pstate, quoted) in the public struct csv_parser;
 * we only read it between calls.
 */
#include "catalog/csv.h"

#include <csv.h>
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/util.h"

/* libcsv 3.x parser states (csv_parser.pstate), from libcsv.c. */
#define LIBCSV_ROW_NOT_BEGUN          0
#define LIBCSV_FIELD_BEGUN            2
#define LIBCSV_FIELD_MIGHT_HAVE_ENDED 3

static const char ENC_UTF8[] = "UTF-8";
static const char ENC_UTF8_BOM[] = "UTF-8 (BOM)";
static const char ENC_CP932[] = "CP932";

/* ---- encoding ---- */

/* Offset of the first byte that is not part of well-formed UTF-8 (no
 * overlongs, no surrogates, nothing above U+10FFFF), or n if all is well.
 * *good counts the well-formed multi-byte sequences seen before that point
 * when stop is set, or in the whole text (resynchronising after each bad
 * byte) when stop is 0; *bad then counts bad bytes. */
static size_t utf8_scan(const unsigned char *s, size_t n, int stop, size_t *good, size_t *bad)
{
    size_t i = 0, first = n;
    *good = *bad = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0;          /* overlong */
            else if (c == 0xED)
                hi = 0x9F;          /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90;          /* overlong */
            else if (c == 0xF4)
                hi = 0x8F;          /* > U+10FFFF */
        } else {
            goto badbyte;
        }
        if (i + k >= n)
            goto badbyte;           /* truncated at the end */
        if (s[i + 1] < lo || s[i + 1] > hi)
            goto badbyte;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xBF)
                goto badbyte;
        i += k + 1;
        ++*good;
        continue;
badbyte:
        if (first == n)
            first = i;
        ++*bad;
        if (stop)
            return first;
        i++;
    }
    return first;
}

/* 1-based physical line of byte offset `at`: 1 + the line breaks before it
 * (CRLF, LF or a lone CR each count once). */
static int line_of(const char *s, size_t at)
{
    int line = 1;
    for (size_t i = 0; i < at; i++) {
        if (s[i] == '\n')
            line++;
        else if (s[i] == '\r' && !(i + 1 <= at && s[i + 1] == '\n'))
            line++;
    }
    return line;
}

/* Convert CP932 to UTF-8 into a new buffer (*outp, *outlen, NUL-terminated).
 * On a bad byte: -1 and *badat = its offset. On other failures: -1, *badat =
 * SIZE_MAX, with errno set. */
static int cp932_to_utf8(const char *in, size_t len, char **outp, size_t *outlen, size_t *badat)
{
    *badat = SIZE_MAX;
    iconv_t cd = iconv_open("UTF-8", "CP932");
    if (cd == (iconv_t)-1)
        return -1;
    size_t cap = len + len / 2 + 16, used = 0;
    char *out = malloc(cap);
    if (!out) {
        iconv_close(cd);
        return -1;
    }
    char *ip = (char *)in;
    size_t ileft = len;
    for (;;) {
        char *op = out + used;
        size_t oleft = cap - used - 1;   /* room for the NUL */
        size_t r = iconv(cd, &ip, &ileft, &op, &oleft);
        used = (size_t)(op - out);
        if (r != (size_t)-1 && ileft == 0)
            break;
        if (r != (size_t)-1)
            continue;
        if (errno == E2BIG) {
            if (cap > SIZE_MAX / 2) {
                errno = ENOMEM;
                goto fail;
            }
            char *n = realloc(out, cap * 2);
            if (!n)
                goto fail;
            out = n;
            cap *= 2;
            continue;
        }
        if (errno == EILSEQ || errno == EINVAL)   /* EINVAL: truncated at the end */
            *badat = (size_t)(ip - in);
        goto fail;
    }
    iconv_close(cd);
    out[used] = 0;
    *outp = out;
    *outlen = used;
    return 0;
fail:;
    int e = errno;
    iconv_close(cd);
    free(out);
    errno = e;
    return -1;
}

/* ---- parsing ---- */

typedef struct {
    proto_csv *out;
    size_t rowcap;
    char **cells;           /* the row being read */
    size_t ncells, cellcap;
    int cur_line;           /* line of the piece being fed */
    int row_line;           /* line the open row began on, 0 if not known yet */
    int field_line;         /* line the open quoted field began on, 0 if none */
    int failed;             /* a callback failed; message is in err */
    char *err;
    size_t errlen;
} parse_ctx;

static int row_start(const parse_ctx *c)
{
    return c->row_line ? c->row_line : c->cur_line;
}

static void free_cells(char **cells, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

static void on_field(void *s, size_t len, void *data)
{
    parse_ctx *c = data;
    if (c->failed)
        return;
    c->field_line = 0;
    if (c->ncells >= PROTO_CSV_MAX_CELLS) {
        c->failed = 1;
        proto_err(c->err, c->errlen, "line %d: row has more than %d cells", row_start(c),
                  PROTO_CSV_MAX_CELLS);
        return;
    }
    const char *src = s ? s : "";
    /* A line break inside a quoted field: CRLF or a lone CR becomes LF.
     * Most cells have no CR at all: they are copied as they are (the two
     * byte loops below were a fifth of the parse, which catalogctl import
     * runs alone before anything else can start). */
    const char *cr = len ? memchr(src, '\r', len) : NULL;
    size_t n = 0;
    if (!cr)
        n = len;
    else
        for (size_t i = 0; i < len; i++)
            if (!(src[i] == '\r' && i + 1 < len && src[i + 1] == '\n'))
                n++;
    if (n > PROTO_CSV_MAX_CELL) {
        c->failed = 1;
        proto_err(c->err, c->errlen, "line %d: cell %zu is %zu bytes long; the limit is %d",
                  row_start(c), c->ncells + 1, n, PROTO_CSV_MAX_CELL);
        return;
    }
    char *cell = malloc(n + 1);
    if (!cell)
        goto oom;
    size_t o = 0;
    if (!cr) {
        if (len)
            memcpy(cell, src, len);
        o = len;
    }
    for (size_t i = cr ? 0 : len; i < len; i++) {
        if (src[i] == '\r') {
            if (i + 1 < len && src[i + 1] == '\n')
                continue;
            cell[o++] = '\n';
        } else {
            cell[o++] = src[i];
        }
    }
    cell[o] = 0;
    if (c->ncells == c->cellcap) {
        size_t nc = c->cellcap ? c->cellcap * 2 : 16;
        char **cells = realloc(c->cells, nc * sizeof *cells);
        if (!cells) {
            free(cell);
            goto oom;
        }
        c->cells = cells;
        c->cellcap = nc;
    }
    c->cells[c->ncells++] = cell;
    return;
oom:
    c->failed = 1;
    proto_err(c->err, c->errlen, "line %d: out of memory", row_start(c));
}

static void on_row(int term, void *data)
{
    parse_ctx *c = data;
    int line = row_start(c);
    c->row_line = 0;
    c->field_line = 0;
    if (c->failed)
        return;
    int empty = 1;
    for (size_t i = 0; i < c->ncells && empty; i++)
        if (c->cells[i][0])
            empty = 0;
    if (empty) {
        for (size_t i = 0; i < c->ncells; i++)
            free(c->cells[i]);
        c->ncells = 0;
        return;
    }
    proto_csv *out = c->out;
    if (out->nrows >= PROTO_CSV_MAX_ROWS) {
        c->failed = 1;
        proto_err(c->err, c->errlen, "line %d: more than %d rows", line, PROTO_CSV_MAX_ROWS);
        return;
    }
    if (out->nrows == c->rowcap) {
        size_t nc = c->rowcap ? c->rowcap * 2 : 64;
        proto_csv_row *rows = realloc(out->rows, nc * sizeof *rows);
        if (!rows) {
            c->failed = 1;
            proto_err(c->err, c->errlen, "line %d: out of memory", line);
            return;
        }
        out->rows = rows;
        c->rowcap = nc;
    }
    char **cells = c->cells;
    if (c->cellcap > c->ncells) {   /* give back the slack */
        char **shrunk = realloc(cells, c->ncells * sizeof *cells);
        if (shrunk)
            cells = shrunk;
    }
    out->rows[out->nrows++] = (proto_csv_row){ cells, c->ncells, line };
    c->cells = NULL;
    c->ncells = c->cellcap = 0;
}

/* Spaces are data: libcsv would otherwise trim them around unquoted fields
 * and accept them around quoted ones. */
static int no_space(unsigned char ch)
{
    return 0;
}

static int is_term(unsigned char ch)
{
    return ch == '\r' || ch == '\n';
}

/* Feed t[0..n) to p one physical line at a time, the first being line
 * `line`.  The text's last piece (last) is finished with csv_fini; any
 * other leaves p open, and *clean says whether it ended outside any row
 * (then a fresh parser given what follows would do exactly what p would:
 * libcsv's whole state between rows is pstate == ROW_NOT_BEGUN). */
static int parse_run(struct csv_parser *p, const char *t, size_t n, int line, int last, parse_ctx *c,
                     int *clean)
{
    size_t pos = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && t[end] != '\r' && t[end] != '\n')
            end++;
        if (end < n)
            end += (t[end] == '\r' && end + 1 < n && t[end + 1] == '\n') ? 2 : 1;
        c->cur_line = line;
        size_t got = csv_parse(p, t + pos, end - pos, on_field, on_row, c);
        if (c->failed)
            return -1;
        if (got != end - pos) {
            int e = csv_error(p);
            size_t cellno = c->ncells + 1;
            if (e != CSV_EPARSE)
                proto_err(c->err, c->errlen, "line %d: %s", line, csv_strerror(e));
            else if (p->pstate == LIBCSV_FIELD_MIGHT_HAVE_ENDED)
                proto_err(c->err, c->errlen,
                          "line %d, cell %zu: unexpected text after the closing quote of a quoted cell"
                          " (a \" inside a quoted cell must be written \"\")", line, cellno);
            else
                proto_err(c->err, c->errlen,
                          "line %d, cell %zu: a \" inside a cell that does not start with \""
                          " (quote the whole cell and write the \" as \"\")", line, cellno);
            return -1;
        }
        if (p->pstate != LIBCSV_ROW_NOT_BEGUN && !c->row_line)
            c->row_line = line;
        if ((p->pstate == LIBCSV_FIELD_BEGUN || p->pstate == LIBCSV_FIELD_MIGHT_HAVE_ENDED) &&
            p->quoted && !c->field_line)
            c->field_line = line;
        pos = end;
        line++;
    }
    if (!last) {
        *clean = p->pstate == LIBCSV_ROW_NOT_BEGUN && c->ncells == 0;
        return 0;
    }
    c->cur_line = line > 1 ? line - 1 : 1;
    if (csv_fini(p, on_field, on_row, c) != 0) {
        proto_err(c->err, c->errlen,
                  "line %d: a quoted cell is never closed (a \" is missing before the end of the file)",
                  c->field_line ? c->field_line : row_start(c));
        return -1;
    }
    return c->failed ? -1 : 0;
}

static int parser_init(struct csv_parser *p)
{
    if (csv_init(p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return -1;
    csv_set_space_func(p, no_space);
    csv_set_term_func(p, is_term);
    return 0;
}

static int parse_text(const char *t, size_t n, parse_ctx *c)
{
    struct csv_parser p;
    if (parser_init(&p))
        return proto_err(c->err, c->errlen, "cannot initialise the CSV parser");
    int clean;
    int rc = parse_run(&p, t, n, 1, 1, c, &clean);
    csv_free(&p);
    return rc;
}

/* ---- a large sheet in pieces, one per core ----
 *
 * catalogctl import parses the whole sheet before it checks a row or sends
 * one, the other cores waiting (PERFORMANCE.md §34).  A large text is cut
 * at line starts into pieces parsed at once, each by a parser of its own
 * that starts at the piece's line number; the rows are then put one after
 * the other.  That is the serial parse exactly when every piece but the
 * last ends outside any row (a quoted cell may hold line breaks, so a cut
 * may fall inside one): otherwise the text is parsed again as a whole.
 * The first failure in the text's order is the one reported, and the row
 * limit counts the rows of all pieces, as the serial parse would. */
#define PARSE_PIECE_MIN (64u << 10)   /* bytes below which a piece costs more than it saves */
#define PARSE_PIECES_MAX 8

typedef struct {
    const char *t;
    size_t n;
    int line;          /* line of the piece's first byte */
    int last;
    proto_csv out;     /* its rows (also those before a failure) */
    parse_ctx c;
    char err[512];
    int rc, clean;
} csv_piece;

static void *piece_run(void *arg)
{
    csv_piece *pc = arg;
    struct csv_parser p;
    pc->c = (parse_ctx){ .out = &pc->out, .err = pc->err, .errlen = sizeof pc->err };
    if (parser_init(&p)) {
        pc->rc = proto_err(pc->err, sizeof pc->err, "cannot initialise the CSV parser");
        return NULL;
    }
    pc->rc = parse_run(&p, pc->t, pc->n, pc->line, pc->last, &pc->c, &pc->clean);
    csv_free(&p);
    free_cells(pc->c.cells, pc->c.ncells);
    pc->c.cells = NULL;
    pc->c.ncells = 0;
    return NULL;
}

/* Lines ending in t[0..n): CRLF, LF or a lone CR each end one. */
static int lines_in(const char *t, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += t[i] == '\n' || (t[i] == '\r' && (i + 1 == n || t[i + 1] != '\n'));
    return k;
}

/* Parse in up to `pieces` pieces (fewer when the text has too few lines to
 * cut); 0, or -1 with c->err.  1 if the pieces do not join cleanly (the
 * caller parses the whole text instead), with nothing left in c->out. */
static int parse_pieces(const char *t, size_t n, size_t pieces, parse_ctx *c)
{
    csv_piece pc[PARSE_PIECES_MAX];
    pthread_t th[PARSE_PIECES_MAX];
    int started[PARSE_PIECES_MAX] = { 0 };
    size_t np = 0, from = 0;
    int line = 1;
    if (pieces > PARSE_PIECES_MAX)
        pieces = PARSE_PIECES_MAX;
    if (n == 0)
        return 1;   /* no piece at all: the serial parse */
    for (size_t k = 1; k <= pieces && from < n; k++) {
        size_t to = n;
        if (k < pieces) {
            size_t want = n / pieces * k;
            if (want < from)
                want = from;
            const char *nl = want < n ? memchr(t + want, '\n', n - want) : NULL;
            to = nl ? (size_t)(nl - t) + 1 : n;
        }
        pc[np] = (csv_piece){ .t = t + from, .n = to - from, .line = line, .last = to == n };
        line += lines_in(t + from, to - from);
        np++;
        from = to;
    }
    for (size_t i = 1; i < np; i++)
        started[i] = pthread_create(&th[i], NULL, piece_run, &pc[i]) == 0;
    piece_run(&pc[0]);
    for (size_t i = 1; i < np; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            piece_run(&pc[i]);
    }
    /* in the text's order: the first failure (or the row beyond the limit)
     * is what the serial parse would have stopped at */
    int rc = 0;
    size_t total = 0;
    for (size_t i = 0; i < np && rc == 0; i++) {
        if (total + pc[i].out.nrows > PROTO_CSV_MAX_ROWS) {
            rc = proto_err(c->err, c->errlen, "line %d: more than %d rows",
                           pc[i].out.rows[PROTO_CSV_MAX_ROWS - total].line, PROTO_CSV_MAX_ROWS);
        } else if (pc[i].rc) {
            rc = proto_err(c->err, c->errlen, "%s", pc[i].err);
        } else if (!pc[i].last && !pc[i].clean) {
            rc = 1;   /* a row runs on into the next piece */
        }
        total += pc[i].out.nrows;
    }
    if (rc == 0) {
        proto_csv_row *rows = malloc((total ? total : 1) * sizeof *rows);
        if (!rows) {
            rc = proto_err(c->err, c->errlen, "out of memory");
        } else {
            size_t k = 0;
            for (size_t i = 0; i < np; i++) {
                if (pc[i].out.nrows)
                    memcpy(rows + k, pc[i].out.rows, pc[i].out.nrows * sizeof *rows);
                k += pc[i].out.nrows;
                free(pc[i].out.rows);
            }
            c->out->rows = rows;
            c->out->nrows = total;
            return 0;
        }
    }
    for (size_t i = 0; i < np; i++)
        proto_csv_free(&pc[i].out);
    return rc;
}

int proto_csv_parse(const char *data, size_t len, proto_csv *out, char *err, size_t errlen)
{
    return proto_csv_parse_pieces(data, len, proto_threads_for(len, PARSE_PIECES_MAX, PARSE_PIECE_MIN), out, err,
                                  errlen);
}

int proto_csv_parse_pieces(const char *data, size_t len, size_t pieces, proto_csv *out, char *err,
                           size_t errlen)
{
    if (!out)
        return proto_err(err, errlen, "no output");
    *out = (proto_csv){ 0 };
    if (!data && len)
        return proto_err(err, errlen, "no data");
    if (len > PROTO_CSV_MAX_BYTES)
        return proto_err(err, errlen, "file is %zu bytes; the limit is %zu bytes (64 MiB)", len,
                         PROTO_CSV_MAX_BYTES);
    const unsigned char *u = (const unsigned char *)data;
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return proto_err(err, errlen, "line 1: the file is UTF-16 (Excel \"Unicode text\"); "
                         "save it as \"CSV UTF-8\" or \"CSV\" instead");

    const char *enc;
    const char *text = data;
    size_t n = len;
    char *conv = NULL;
    size_t good, bad;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        enc = ENC_UTF8_BOM;
        text += 3;
        n -= 3;
        size_t at = utf8_scan((const unsigned char *)text, n, 1, &good, &bad);
        if (at != n)
            return proto_err(err, errlen, "line %d: byte 0x%02X is not valid UTF-8 (the file starts with a UTF-8 BOM)",
                             line_of(text, at), (unsigned char)text[at]);
    } else if (utf8_scan(u, n, 1, &good, &bad) == n) {
        enc = ENC_UTF8;
    } else {
        size_t badat;
        size_t first = utf8_scan(u, n, 0, &good, &bad);
        /* More well-formed UTF-8 sequences than stray bytes: a damaged UTF-8
         * file, not CP932 (CP932 lead bytes 0x81-0x9F are never UTF-8 lead
         * bytes, so real CP932 text has many stray bytes). */
        if (good > bad)
            return proto_err(err, errlen, "line %d: byte 0x%02X is not valid UTF-8",
                             line_of(data, first), u[first]);
        if (cp932_to_utf8(data, len, &conv, &n, &badat) != 0) {
            if (badat == SIZE_MAX)
                return proto_err(err, errlen, "cannot convert from CP932: %s", strerror(errno));
            return proto_err(err, errlen,
                             "line %d: byte 0x%02X is neither UTF-8 nor CP932 (Shift_JIS); "
                             "save the file as \"CSV UTF-8\"",
                             line_of(data, badat), u[badat]);
        }
        enc = ENC_CP932;
        text = conv;
    }
    const char *nul = n ? memchr(text, 0, n) : NULL;
    if (nul) {
        int line = line_of(text, (size_t)(nul - text));
        free(conv);
        return proto_err(err, errlen, "line %d: the file contains a NUL byte (is it really CSV?)", line);
    }

    parse_ctx c = { .out = out, .err = err, .errlen = errlen };
    int rc = pieces > 1 ? parse_pieces(text, n, pieces, &c) : 1;
    if (rc == 1)
        rc = parse_text(text, n, &c);
    free_cells(c.cells, c.ncells);
    free(conv);
    if (rc != 0) {
        proto_csv_free(out);
        return -1;
    }
    out->encoding = enc;
    return 0;
}

void proto_csv_free(proto_csv *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nrows; i++)
        free_cells(c->rows[i].cells, c->rows[i].ncells);
    free(c->rows);
    *c = (proto_csv){ 0 };
}

/* ---- writing ---- */

static int needs_quotes(const char *s, size_t n)
{
    if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

/* 1 if a spreadsheet could take the cell for a formula (OWASP "CSV
 * injection"): it starts with = + - @, a tab or a CR, after any number of
 * apostrophes — those are counted too, so that the one apostrophe added
 * and the one taken off on import give back every value exactly. */
/* Excel converts full-width ＝ ＋ － ＠ (U+FF1D, U+FF0B, U+FF0D, U+FF20) to
 * their ASCII forms when it reads a cell, and then takes the cell for a
 * formula as it would "=...": a Japanese IME types them by default. */
static int fullwidth_formula(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    return u[0] == 0xef && u[1] == 0xbc && (u[2] == 0x9d || u[2] == 0x8b || u[2] == 0x8d || u[2] == 0xa0);
}

static int formula_like(const char *s)
{
    while (*s == '\'')
        s++;
    return *s && (strchr("=+-@\t\r", *s) != NULL || fullwidth_formula(s));
}

int proto_csv_append_row(proto_csv_buf *b, const char *const *cells, size_t n)
{
    return proto_csv_append_row_opts(b, cells, n, 0);
}

int proto_csv_append_row_opts(proto_csv_buf *b, const char *const *cells, size_t n, unsigned flags)
{
    if (!b || (!cells && n))
        return -1;
    /* Worst case first, so a failure leaves b unchanged. */
    size_t need = 2 + 1;                      /* CRLF and the NUL */
    for (size_t i = 0; i < n; i++) {
        size_t l = cells[i] ? strlen(cells[i]) : 0;
        if (l > (SIZE_MAX - need) / 2 - 4)
            return -1;
        need += 2 * l + 4;                    /* every char doubled, quotes, comma, an apostrophe */
    }
    if (need > SIZE_MAX - b->len)
        return -1;
    if (b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + need)
            cap = cap > SIZE_MAX / 2 ? b->len + need : cap * 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        const char *s = cells[i] ? cells[i] : "";
        size_t l = strlen(s);
        int mark = (flags & PROTO_CSV_NEUTRALISE) && formula_like(s);
        if (i)
            *o++ = ',';
        if (needs_quotes(s, l) || (mark && (s[l - 1] == ' ' || s[l - 1] == '\t'))) {
            *o++ = '"';
            if (mark)
                *o++ = '\'';
            for (size_t j = 0; j < l; j++) {
                if (s[j] == '"')
                    *o++ = '"';
                *o++ = s[j];
            }
            *o++ = '"';
        } else {
            if (mark)
                *o++ = '\'';
            memcpy(o, s, l);
            o += l;
        }
    }
    *o++ = '\r';
    *o++ = '\n';
    *o = 0;
    b->len = (size_t)(o - b->data);
    return 0;
}

void proto_csv_buf_free(proto_csv_buf *b)
{
    if (!b)
        return;
    free(b->data);
    *b = (proto_csv_buf){ 0 };
}

void proto_csv_unneutralise(char *cell)
{
    if (cell[0] == '\'' && formula_like(cell + 1))
        memmove(cell, cell + 1, strlen(cell));   /* with the NUL */
}
