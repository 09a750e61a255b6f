/*
 * cli/import.c — catalogctl import FILE.csv: certifications from a
 * spreadsheet.  Files as Excel saves them work: UTF-8 with or without BOM,
 * Shift_JIS (CP932), CRLF, quoted cells with commas and line breaks.
 * Japanese or English headers; 認定番号 is the record key, so importing the
 * same file twice changes nothing.  Every row is checked before anything is
 * written; by default one bad row means nothing is written.
 *
 * Sheets as offices keep them are taken as they are:
 *  - headers are compared as catalog_header_norm spells them (width, case,
 *    white space: 製品･サービス名 is 製品・サービス名, ＵＲＬ is URL);
 *  - a title row above the header (a few filled cells, none a column name;
 *    blank rows the CSV parser already drops) is skipped and said so;
 *  - columns with an empty header and no value (Excel's trailing columns)
 *    are ignored; other unknown columns (備考) are refused, or ignored and
 *    named once with --ignore-unknown-columns;
 *  - dates may be 和暦 (the schema reads them, jp_date_read);
 *  - 認定番号 is taken as catalog_key_norm makes it (文京－２０２６－１０６ is
 *    文京-2026-106), as the daemon stores it;
 *  - every fault of every row is reported, one line each:
 *    "FILE:LINE: 認定番号 KEY の「列」: reason";
 *  - an Excel workbook (.xlsx, .xls) is refused with how to save it as CSV
 *    (no Debian package reads XLSX for C).
 * Everything said to the person importing is Japanese.
 */
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/schema.h"
#include "catalog/csv.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE \
    "使い方: catalogctl import ファイル.csv [--dry-run] [--skip-bad] [--ignore-unknown-columns] [--raw] [--json]\n" \
    "  認定の一覧（CSV。UTF-8 または Shift_JIS）を取り込みます。1行目が見出し行です" \
    "（上に表題行があれば、その次の行）。\n" \
    "  見出しは 認定番号・事業者名・製品・サービス名・分野・認定日・有効期限 など" \
    "（catalogctl fields で一覧）。\n" \
    "  日付は 2026-04-01、2026/4/1、2026年4月1日、令和8年4月1日、R8.4.1 のどれでも書けます。\n" \
    "  --dry-run                 確かめるだけで、何も書き込みません\n" \
    "  --skip-bad                誤りのある行を除いて取り込みます" \
    "（付けなければ、1行でも誤りがあれば何も書き込みません）\n" \
    "  --ignore-unknown-columns  一覧にない列（備考など）を無視して取り込みます\n" \
    "  --raw                     export --raw で書き出したファイル: =、+、-、@、タブ、CR の前の ' を外さず、" \
    "そのまま取り込みます\n" \
    "  --json                    結果を JSON で出力します\n" \
    "  Excel のファイル（.xlsx）は、Excel で「CSV UTF-8 (コンマ区切り)」または" \
    "「CSV (コンマ区切り)」として保存してから取り込んでください。"
const char import_usage[] = USAGE;
/* Rows per cput request, and requests in flight on the one connection.
 * The daemon signs, commits and pushes a chunk to the other members as it
 * arrives, while the next chunks are on their way: members start verifying
 * the first rows while the last are still being signed (a chunk of the
 * whole sheet made them wait for all of it), and the daemon's loop is
 * held for one chunk at a time (~10 ms), not for the sheet.
 * The first chunk is smaller: until it is committed and pushed the
 * members have nothing to verify, and the daemon builds it on its loop
 * alone, so a core waits.  32 rows are built, signed (one thread) and
 * committed in a few ms, and give each member ~4 ms of verification
 * while the daemon builds the next chunk (PERFORMANCE.md §34). */
/* 250, just under the 256 records (proto/limits.h NODE_VERIFY_SPLIT_MIN)
 * from which a member verifies a batch on all its cores: chunks of 256,
 * each verified on every core, were not faster at 1,000 rows and slower
 * at 10,000 in this machine's runs (PERFORMANCE §36). */
#define CHUNK 250
#define FIRST_CHUNK 32
#define CHUNKS_IN_FLIGHT 4
#define TITLE_ROWS_MAX 5     /* rows above the header that may be a title */
#define TITLE_CELLS_MAX 3    /* filled cells a title row may have */
#define HEADER_MAX 256       /* bytes of a normalised header */

/* A cited certification may be written CODE/KEY (as people type it and
 * export writes it); catalogd resolves the code when the row is written.
 * Checked here with a stand-in member id in its place. */
static const char *ref_for_check(const char *cell, char *buf, size_t n)
{
    const char *slash = strchr(cell, '/');
    const char *p = cell;
    while (*p == ' ')
        p++;
    if (!slash || slash - p != 6 || strspn(p, "0123456789") != 6)
        return cell;
    proto_id zero;
    char ids[PROTO_ID_STR];
    memset(&zero, 0, sizeof zero);
    proto_id_str(&zero, ids);
    snprintf(buf, n, "%s%s", ids, slash);
    return buf;
}

static const char *const key_headers[] = { "認定番号", "key", "cert_no", "certification_no", NULL };
static const char *const owner_headers[] = { "認定団体", "certifying_member", NULL };

/* 1 if header h (as catalog_header_norm spells it) is one of l. */
static int in_list(const char *h, const char *const *l)
{
    char n[HEADER_MAX];
    for (; *l; l++)
        if (catalog_header_norm(*l, n, sizeof n) == 0 && !strcmp(h, n))
            return 1;
    return 0;
}

/* Trim spaces and tabs in place (the cell itself changes, so later
 * comparisons see the trimmed value). */
static char *trim(char *s)
{
    size_t lead = strspn(s, " \t"), n = strlen(s + lead);
    memmove(s, s + lead, n + 1);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

/* For quoting a cell in a message: at most max bytes, cut at a character
 * boundary, "…" when cut. */
static void clip_cell(const char *s, char *out, size_t outlen, size_t max)
{
    size_t n = strlen(s);
    int cut = n > max;
    if (cut) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    snprintf(out, outlen, "%.*s%s", (int)n, s, cut ? "…" : "");
}

/* What a column of the header is. */
enum col_kind { COL_FIELD, COL_KEY, COL_OWNER, COL_UNKNOWN, COL_EMPTY };

typedef struct {
    enum col_kind kind;
    const catalog_field *f;   /* COL_FIELD */
} column;

/* What header cell h names. */
static column classify(const char *h)
{
    char n[HEADER_MAX];
    column c = { COL_UNKNOWN, NULL };
    if (catalog_header_norm(h, n, sizeof n) != 0)
        return c;
    if (!n[0])
        c.kind = COL_EMPTY;
    else if (in_list(n, key_headers))
        c.kind = COL_KEY;
    else if (in_list(n, owner_headers))
        c.kind = COL_OWNER;
    else if ((c.f = catalog_field_find("certification", h)) != NULL)
        c.kind = COL_FIELD;
    return c;
}

static size_t known_cells(const proto_csv_row *r)
{
    size_t k = 0;
    for (size_t c = 0; c < r->ncells; c++) {
        enum col_kind kind = classify(r->cells[c]).kind;
        k += kind != COL_UNKNOWN && kind != COL_EMPTY;
    }
    return k;
}

static size_t filled_cells(const proto_csv_row *r)
{
    size_t k = 0;
    for (size_t c = 0; c < r->ncells; c++) {
        char n[HEADER_MAX];
        k += catalog_header_norm(r->cells[c], n, sizeof n) != 0 || n[0];
    }
    return k;
}

/* The first filled cells of a row, for saying which row was read. */
static void row_text(const proto_csv_row *r, char *out, size_t outlen)
{
    size_t o = 0, shown = 0;
    out[0] = 0;
    for (size_t c = 0; c < r->ncells && shown < 3; c++) {
        char cell[160];
        if (!r->cells[c][0])
            continue;
        clip_cell(r->cells[c], cell, sizeof cell, 60);
        int w = snprintf(out + o, outlen - o, "%s%s", shown ? "," : "", cell);
        if (w < 0 || (size_t)w >= outlen - o)
            break;
        o += (size_t)w;
        shown++;
    }
    if (filled_cells(r) > shown && o + 4 < outlen)
        snprintf(out + o, outlen - o, ",…");
}

/* The header row: the first of the first rows that names a column, if
 * every row above it looks like a title; else row 0 (whose problems are
 * then reported). */
static size_t find_header(const proto_csv *csv)
{
    for (size_t r = 0; r < csv->nrows && r <= TITLE_ROWS_MAX; r++) {
        if (known_cells(&csv->rows[r]))
            return r;
        if (filled_cells(&csv->rows[r]) > TITLE_CELLS_MAX)
            return 0;
    }
    return 0;
}

/* One row's faults as the import reports them. */
typedef struct {
    FILE *out;           /* stderr, or a checking thread's buffer (check_rows) */
    const char *file;
    int line;
    const char *key;     /* the normalised key, or NULL if it is itself at fault */
    int faults;
} row_report;

static void report(row_report *rr, const char *column_ja, const char *reason)
{
    if (rr->key)
        fprintf(rr->out, "%s:%d: 認定番号 %s の「%s」: %s\n", rr->file, rr->line, rr->key, column_ja, reason);
    else
        fprintf(rr->out, "%s:%d: 「%s」: %s\n", rr->file, rr->line, column_ja, reason);
    rr->faults++;
}

static void on_fault(void *ctx, const catalog_field *f, const char *reason)
{
    row_report *rr = ctx;
    report(rr, f ? f->ja : "?", reason);
}

/* An Excel workbook instead of a CSV: a message saying so, or NULL. */
static const char *workbook_kind(const char *data, size_t len)
{
    static const char zip[4] = { 'P', 'K', 3, 4 };
    static const unsigned char ole[8] = { 0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1 };
    if (len >= 4 && !memcmp(data, zip, 4)) {
        /* the names of the parts are plain text in the zip's headers */
        if (memmem(data, len, "xl/", 3))
            return "Excel のブック（.xlsx）";
        return "ZIP 形式のファイル（Excel などの表計算ソフトの保存形式）";
    }
    if (len >= 8 && !memcmp(data, ole, 8))
        return "古い形式の Excel のブック（.xls）";
    return NULL;
}

static const proto_csv_row *sort_rows;   /* the data rows */
static char **sort_keys;                 /* their normalised keys */

/* by normalised key, then by line */
/* What reading the sheet's heading left to free: the ignored columns'
 * names, the column map and the parsed sheet (every way out below). */
static void header_free(char **ignored, size_t nignored, column *col, proto_csv *csv)
{
    for (size_t i = 0; i < nignored; i++)
        free(ignored[i]);
    free(ignored);
    free(col);
    proto_csv_free(csv);
}

static int cmp_key(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_keys[x], sort_keys[y]);
    int lx = sort_rows[x].line, ly = sort_rows[y].line;
    return c ? c : (lx > ly) - (lx < ly);
}

static void json_str_list(FILE *f, const char *k, char **v, size_t n)
{
    fprintf(f, ",\"%s\":[", k);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        client_json_str(f, v[i], strlen(v[i]));
    }
    fputc(']', f);
}

/* The rows' check (the whole of a sheet before anything is written) is
 * most of catalogctl's own time and the members wait for it: nothing is
 * sent until every row has passed.  Rows are independent, so they are
 * checked on every core, each thread a range of rows; each thread's
 * messages are kept and printed in row order, as one thread would. */
#define CHECK_THREADS_MAX 8
#define CHECK_ROWS_PER_THREAD_MIN 64   /* below this a thread costs more than it saves */

typedef struct {
    proto_csv_row *rows;
    size_t from, to;
    const column *col;
    size_t ncol;
    int keycol, ownercol;
    const char *mycode;
    const catalog_vocab *vocab;
    const char *file;
    char *ok;                 /* per row: passed */
    char **keys;              /* per row: its normalised key */
    FILE *out;                /* where the faults go (stderr for one thread) */
    char *buf;                /* a thread's messages (open_memstream) */
    size_t buflen;
    size_t good, others;
    int bad, faults;
} check_job;

static void check_rows(check_job *j)
{
    char err[512];
    catalog_kv *kv = calloc(j->ncol ? j->ncol : 1, sizeof *kv);
    if (!kv) {
        /* every row of the range is unchecked: all of them count as bad, so
         * that --skip-bad does not drop them silently */
        fprintf(j->out, "取り込み: メモリが足りません（%zu行を確認できません）\n", j->to - j->from);
        j->bad += (int)(j->to - j->from);
        j->faults++;
        return;
    }
    for (size_t r = j->from; r < j->to; r++) {
        proto_csv_row *row = &j->rows[r];
        row_report rr = { j->out, j->file, row->line, NULL, 0 };
        if (j->ownercol >= 0 && j->ownercol < (int)row->ncells) {
            const char *own = trim(row->cells[j->ownercol]);
            if (own[0] && strncmp(own, j->mycode, strlen(j->mycode))) {
                j->others++;
                continue;   /* another member's certification: skip */
            }
        }
        const char *key = j->keycol < (int)row->ncells ? trim(row->cells[j->keycol]) : "";
        char nkey[CATALOG_KEY_MAX + 1];
        if (catalog_key_norm(key, nkey, sizeof nkey, err, sizeof err))
            report(&rr, "認定番号", err);
        else
            rr.key = j->keys[r] = strdup(nkey);
        for (size_t c = j->ncol; c < row->ncells; c++)
            if (trim(row->cells[c])[0]) {
                char cell[160], why[256];
                clip_cell(row->cells[c], cell, sizeof cell, 40);
                snprintf(why, sizeof why, "見出しのない%zu列目に値（「%s」）があります", c + 1, cell);
                report(&rr, "（見出しなし）", why);
                break;
            }
        size_t n = 0, nref = 0;
        char refbuf[4][PROTO_ID_STR + PROTO_KEY_MAX + 8];
        for (size_t c = 0; c < row->ncells && c < j->ncol; c++)
            if (j->col[c].kind == COL_FIELD) {
                kv[n].name = j->col[c].f->name;
                kv[n].value = row->cells[c];
                if (j->col[c].f->type == CAT_REF && nref < 4)
                    kv[n].value = ref_for_check(row->cells[c], refbuf[nref++], sizeof refbuf[0]);
                n++;
            }
        catalog_check_v("certification", j->vocab, kv, n, on_fault, &rr);
        if (rr.faults) {
            j->faults += rr.faults;
            j->bad++;
            continue;
        }
        j->ok[r] = 1;
        j->good++;
    }
    free(kv);
}

static void *check_thread(void *arg)
{
    check_rows(arg);
    return NULL;
}

/* Check jobs[0..nt) (ranges in row order), the first on this thread; the
 * messages reach stderr in row order.  A thread that cannot be made, or a
 * buffer that cannot be opened, leaves its range to this thread, writing
 * to stderr in turn. */
static void check_all(check_job *jobs, size_t nt)
{
    pthread_t th[CHECK_THREADS_MAX];
    int started[CHECK_THREADS_MAX] = { 0 };
    jobs[0].out = stderr;
    for (size_t t = 1; t < nt; t++) {
        jobs[t].out = open_memstream(&jobs[t].buf, &jobs[t].buflen);
        started[t] = jobs[t].out && pthread_create(&th[t], NULL, check_thread, &jobs[t]) == 0;
    }
    check_rows(&jobs[0]);
    for (size_t t = 1; t < nt; t++) {
        if (started[t]) {
            pthread_join(th[t], NULL);
        } else {
            if (jobs[t].out)
                fclose(jobs[t].out);
            free(jobs[t].buf);
            jobs[t].buf = NULL;
            jobs[t].out = stderr;
            check_rows(&jobs[t]);
            continue;
        }
        fclose(jobs[t].out);
        if (jobs[t].buf)
            fwrite(jobs[t].buf, 1, jobs[t].buflen, stderr);
        free(jobs[t].buf);
    }
}

int import_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL;
    int dry = 0, skip_bad = 0, ignore_unknown = 0, raw = 0;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--dry-run"))
            dry = 1;
        else if (!strcmp(argv[i], "--skip-bad"))
            skip_bad = 1;
        else if (!strcmp(argv[i], "--raw"))
            raw = 1;
        else if (!strcmp(argv[i], "--ignore-unknown-columns"))
            ignore_unknown = 1;
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else {
            client_usage_error("import", USAGE);
            return CLIENT_USAGE;
        }
    }
    if (!file) {
        client_usage_error("import", USAGE);
        return CLIENT_USAGE;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "取り込み: %s を開けません: %s\n", file, strerror(errno));
        return CLIENT_FAIL;
    }
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= (64u << 20)) {
                fclose(f);
                free(data);
                fprintf(stderr, "取り込み: %s は 64 MiB を超えています（分けて取り込んでください）\n", file);
                return CLIENT_FAIL;
            }
            cap *= 2;
            data = realloc(data, cap);
        }
        size_t n = fread(data + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    const char *wb = workbook_kind(data, len);
    if (wb) {
        free(data);
        fprintf(stderr, "取り込み: %s: %sです。CSV ではありません。Excel で開き、「名前を付けて保存」で"
                        "「CSV UTF-8 (コンマ区切り)」または「CSV (コンマ区切り)」（Shift_JIS）を選んで"
                        "保存したファイルを取り込んでください\n", file, wb);
        return CLIENT_FAIL;
    }
    proto_csv csv;
    char err[1024];
    if (proto_csv_parse(data, len, &csv, err, sizeof err)) {
        free(data);
        fprintf(stderr, "取り込み: %s を CSV として読めません: %s\n", file, err);
        return CLIENT_FAIL;
    }
    free(data);
    /* An export neutralises cells a spreadsheet would take for a formula
     * with a leading ' (proto_csv_append_row_opts): take it off again, so
     * an export re-imports unchanged (an export --raw added none: --raw). */
    for (size_t r = 0; !raw && r < csv.nrows; r++)
        for (size_t c = 0; c < csv.rows[r].ncells; c++)
            proto_csv_unneutralise(csv.rows[r].cells[c]);
    if (csv.nrows < 1) {
        proto_csv_free(&csv);
        fprintf(stderr, "取り込み: %s は空です（見出し行がありません）\n", file);
        return CLIENT_FAIL;
    }

    /* header: the first row, or the one below a title */
    size_t hrow = find_header(&csv);
    proto_csv_row *h = &csv.rows[hrow];
    char text[512];
    for (size_t r = 0; r < hrow; r++) {
        row_text(&csv.rows[r], text, sizeof text);
        fprintf(stderr, "%s:%d: 表題行とみなして読み飛ばします（「%s」）\n", file, csv.rows[r].line, text);
    }
    if (known_cells(h) == 0) {
        row_text(h, text, sizeof text);
        fprintf(stderr, "%s:%d: 見出し行がありません。%d行目（「%s」）を見出し行として読みましたが、"
                        "列名（認定番号、事業者名、製品・サービス名 など）がひとつもありません。"
                        "先頭の行（表題行があればその次の行）を見出し行にしてください\n",
                file, h->line, h->line, text);
        fprintf(stderr, "取り込み: %s の見出し行が使えません。何も書き込んでいません\n", file);
        proto_csv_free(&csv);
        return CLIENT_FAIL;
    }

    /* map every column */
    size_t ncol = h->ncells, nrows = csv.nrows - hrow - 1;
    proto_csv_row *rows = &csv.rows[hrow + 1];
    column *col = calloc(ncol ? ncol : 1, sizeof *col);
    char **ignored = calloc(ncol ? ncol : 1, sizeof *ignored);
    size_t nignored = 0;
    int keycol = -1, ownercol = -1, bad = 0;
    for (size_t c = 0; c < ncol; c++) {
        char *name = trim(h->cells[c]);
        col[c] = classify(name);
        if (col[c].kind == COL_EMPTY) {
            /* Excel's empty columns are ignored; an unnamed column holding values is not */
            int used = 0;
            for (size_t r = 0; r < nrows && !used; r++)
                used = c < rows[r].ncells && trim(rows[r].cells[c])[0];
            if (!used)
                continue;
            col[c].kind = COL_UNKNOWN;
        }
        if (col[c].kind == COL_KEY) {
            if (keycol >= 0) {
                fprintf(stderr, "%s:%d: 列「認定番号」が2つあります（%d列目と%zu列目）\n", file, h->line,
                        keycol + 1, c + 1);
                bad++;
            }
            keycol = (int)c;
        } else if (col[c].kind == COL_OWNER) {
            ownercol = (int)c;
        } else if (col[c].kind == COL_FIELD) {
            for (size_t p = 0; p < c; p++)
                if (col[p].kind == COL_FIELD && col[p].f == col[c].f) {
                    fprintf(stderr, "%s:%d: 列「%s」が2つあります（%zu列目と%zu列目）\n", file, h->line,
                            col[c].f->ja, p + 1, c + 1);
                    bad++;
                }
        } else if (col[c].kind == COL_UNKNOWN) {
            char cell[160], entry[256];
            clip_cell(name, cell, sizeof cell, 60);
            if (name[0])
                snprintf(entry, sizeof entry, "%s（%zu列目）", cell, c + 1);
            else
                snprintf(entry, sizeof entry, "見出しが空の列（%zu列目）", c + 1);
            ignored[nignored++] = strdup(entry);
        }
    }
    if (nignored) {
        char list[2048];
        size_t used = 0;
        list[0] = 0;
        for (size_t i = 0; i < nignored; i++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", i ? "、" : "", ignored[i]);
            if (w < 0 || (size_t)w >= sizeof list - used)
                break;
            used += (size_t)w;
        }
        if (ignore_unknown) {
            fprintf(stderr, "%s:%d: 一覧にない列を無視します: %s\n", file, h->line, list);
        } else {
            fprintf(stderr, "%s:%d: 一覧にない列があります: %s。無視して取り込むには "
                            "--ignore-unknown-columns を付けてください（列名は catalogctl fields で確かめられます）\n",
                    file, h->line, list);
            bad++;
        }
    }
    if (keycol < 0) {
        fprintf(stderr, "%s:%d: 列「認定番号」（各行を見分けるキー）がありません\n", file, h->line);
        bad++;
    }
    size_t nschema;
    const catalog_field *fs = catalog_fields("certification", &nschema);
    for (size_t k = 0; k < nschema; k++) {
        if (!fs[k].required)
            continue;
        int have = 0;
        for (size_t c = 0; c < ncol; c++)
            have |= col[c].kind == COL_FIELD && col[c].f == &fs[k];
        if (!have) {
            fprintf(stderr, "%s:%d: 必須の列「%s」（%s）がありません\n", file, h->line, fs[k].ja, fs[k].name);
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr, "取り込み: %s の見出し行（%d行目）が使えません。何も書き込んでいません\n", file, h->line);
        header_free(ignored, nignored, col, &csv);
        return CLIENT_FAIL;
    }

    /* who am I: rows certified by another member are not ours to import */
    char mycode[16] = "";
    if (ownercol >= 0) {
        client_req s;
        uint8_t *sr;
        size_t sl;
        client_req_begin(&s, "status");
        if (client_call(&o, &s, &sr, &sl)) {
            header_free(ignored, nignored, col, &csv);
            return CLIENT_FAIL;
        }
        proto_map_str(sr, sl, "code", mycode, sizeof mycode);
        free(sr);
    }

    /* 分野 and 契約方法 as the node's policy in force lists them */
    catalog_vocab vocab;
    struct policy_vocab_buf *vb = NULL;
    if (policy_vocab_fetch(&o, &vocab, &vb)) {
        policy_vocab_free(vb);
        header_free(ignored, nignored, col, &csv);
        return CLIENT_FAIL;
    }

    /* rows: check everything, report every fault, before writing anything */
    size_t good = 0, others = 0;
    int faults = 0;
    char *ok = calloc(nrows ? nrows : 1, 1);
    char **keys = calloc(nrows ? nrows : 1, sizeof *keys);
    {
        check_job jobs[CHECK_THREADS_MAX];
        size_t nt = proto_threads_for(nrows, CHECK_THREADS_MAX, CHECK_ROWS_PER_THREAD_MIN);
        for (size_t t = 0; t < nt; t++)
            jobs[t] = (check_job){ .rows = rows, .from = nrows * t / nt, .to = nrows * (t + 1) / nt,
                                   .col = col, .ncol = ncol, .keycol = keycol, .ownercol = ownercol,
                                   .mycode = mycode, .vocab = &vocab, .file = file, .ok = ok, .keys = keys };
        check_all(jobs, nt);
        for (size_t t = 0; t < nt; t++) {
            good += jobs[t].good;
            others += jobs[t].others;
            bad += jobs[t].bad;
            faults += jobs[t].faults;
        }
    }
    policy_vocab_free(vb);
    /* the same 認定番号 twice: sort row indexes by key, compare neighbours */
    {
        size_t *idx = malloc((good ? good : 1) * sizeof *idx), k = 0;
        for (size_t r = 0; r < nrows; r++)
            if (ok[r])
                idx[k++] = r;
        sort_rows = rows;
        sort_keys = keys;
        qsort(idx, k, sizeof *idx, cmp_key);
        for (size_t i = 1; i < k; i++) {
            proto_csv_row *x = &rows[idx[i - 1]], *y = &rows[idx[i]];
            if (!strcmp(keys[idx[i - 1]], keys[idx[i]])) {
                fprintf(stderr, "%s:%d: 認定番号 %s は %d行目にもあります\n", file, y->line, keys[idx[i]],
                        x->line);
                ok[idx[i]] = 0;
                good--;
                bad++;
                faults++;
            }
        }
        free(idx);
    }
    int rc = CLIENT_OK;
    if (bad && !skip_bad) {
        fprintf(stderr, "取り込み: %s（%s）の %d 行に %d 件の誤りがあります。何も書き込んでいません"
                        "（誤りのある行を除いて取り込むには --skip-bad）\n", file, csv.encoding, bad, faults);
        rc = CLIENT_FAIL;
    } else if (dry) {
        printf("%s（%s）: 正しい行 %zu、誤りのある行 %d、他団体の行 %zu。確かめただけで、何も書き込んでいません\n",
               file, csv.encoding, good, bad, others);
        rc = bad ? CLIENT_FAIL : CLIENT_OK;
    } else {
        size_t created = 0, updated = 0, unchanged = 0;
        client_stream cs;
        int open = 0, in_flight = 0;
        size_t sent_chunks = 0;
        char first_err[1024] = "";
        for (size_t start = 0;;) {
            /* send while the window has room and rows are left */
            while (rc == CLIENT_OK && !first_err[0] && in_flight < CHUNKS_IN_FLIGHT && start < nrows) {
                size_t cnt = 0, end = start, want = sent_chunks ? CHUNK : FIRST_CHUNK;
                while (end < nrows && cnt < want) {
                    cnt += ok[end];
                    end++;
                }
                if (cnt == 0) {
                    start = end;
                    break;
                }
                client_req req;
                client_req_begin(&req, "cput");
                proto_map_key(&req.m, "items");
                msgpack_pack_array(&req.pk, cnt);
                for (size_t r = start; r < end; r++) {
                    if (!ok[r])
                        continue;
                    proto_csv_row *row = &rows[r];
                    proto_map item;
                    proto_map_begin(&item, &req.pk);
                    proto_map_put_str(&item, "kind", "certification");
                    proto_map_put_str(&item, "key", keys[r]);
                    proto_map_put_str(&item, "mode", "upsert");
                    proto_map_key(&item, "fields");
                    size_t n = 0;
                    for (size_t c = 0; c < row->ncells && c < ncol; c++)
                        n += col[c].kind == COL_FIELD;
                    msgpack_pack_array(&req.pk, n);
                    for (size_t c = 0; c < row->ncells && c < ncol; c++)
                        if (col[c].kind == COL_FIELD) {
                            msgpack_pack_array(&req.pk, 2);
                            proto_pack_cstr(&req.pk, col[c].f->name);
                            proto_pack_cstr(&req.pk, row->cells[c]);
                        }
                    proto_map_end(&item);
                }
                int sent = open ? client_stream_send(&cs, &req) : client_stream_open(&o, &req, &cs);
                if (sent) {
                    client_errorf("cannot reach catalogd at %s: %s (is the daemon running?)", cs.path,
                                  strerror(errno));
                    rc = CLIENT_FAIL;
                    break;
                }
                open = 1;
                in_flight++;
                sent_chunks++;
                start = end;
            }
            if (!in_flight)
                break;
            /* the oldest reply; after a refusal the replies still in flight
             * are read too, so the counts say what was written */
            const uint8_t *rep;
            size_t rl;
            if (client_stream_next(&cs, &rep, &rl) != 1) {
                client_errorf("catalogd closed the control connection without a reply");
                rc = CLIENT_FAIL;
                break;
            }
            in_flight--;
            proto_rd rd;
            int okv = 0;
            if (proto_map_find(rep, rl, "ok", &rd) || proto_rd_bool(&rd, &okv) || !okv) {
                if (!first_err[0] && proto_map_str(rep, rl, "error", first_err, sizeof first_err))
                    snprintf(first_err, sizeof first_err, "refused");
                continue;
            }
            uint32_t nr, three;
            if (proto_map_find(rep, rl, "results", &rd) == 0 && proto_rd_array(&rd, &nr) == 0)
                for (uint32_t i = 0; i < nr; i++) {
                    char k[PROTO_KEY_MAX + 1], what[16];
                    uint64_t seq;
                    if (proto_rd_array(&rd, &three) || proto_rd_strcpy(&rd, k, sizeof k) ||
                        proto_rd_strcpy(&rd, what, sizeof what) || proto_rd_uint(&rd, &seq))
                        break;
                    created += !strcmp(what, "created");
                    updated += !strcmp(what, "updated");
                    unchanged += !strcmp(what, "unchanged");
                }
        }
        if (open)
            client_stream_close(&cs);
        if (rc == CLIENT_OK && first_err[0]) {
            client_errorf("%s", first_err);
            rc = CLIENT_REFUSED;
        }
        if (rc != CLIENT_OK && created + updated + unchanged)
            /* chunks are written one by one (each whole or not at all), and
             * those sent after a refused one may have been written too */
            fprintf(stderr, "取り込み: 中断しました。書き込まれたのは 新規 %zu 件、更新 %zu 件、変更なし %zu 件です"
                            "（catalogctl search で確かめ、同じファイルをもう一度取り込めば残りが入ります）\n",
                    created, updated, unchanged);
        if (rc == CLIENT_OK) {
            if (o.json) {
                printf("{\"created\":%zu,\"updated\":%zu,\"unchanged\":%zu,\"skipped_other_members\":%zu,"
                       "\"bad\":%d,\"faults\":%d,\"encoding\":\"%s\",\"header_line\":%d",
                       created, updated, unchanged, others, bad, faults, csv.encoding, h->line);
                json_str_list(stdout, "ignored_columns", ignored, nignored);
                printf("}\n");
            } else {
                printf("%s（%s）: 新規 %zu 件、更新 %zu 件、変更なし %zu 件", file, csv.encoding, created,
                       updated, unchanged);
                if (others)
                    printf("、他団体の認定 %zu 件は対象外", others);
                if (bad)
                    printf("、誤りのある %d 行は除外", bad);
                printf("\n");
            }
        }
    }
    for (size_t r = 0; r < nrows; r++)
        free(keys[r]);
    free(keys);
    free(ok);
    header_free(ignored, nignored, col, &csv);
    return rc;
}
