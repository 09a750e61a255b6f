/*
 * catalog/xlsx.c — see xlsx.h.
 *
 * libxlsxwriter keeps the whole workbook until workbook_close(), so column
 * widths and the autofilter range of a sheet are set when the sheet is
 * finished (the next catalog_xlsx_sheet() or catalog_xlsx_close()).
 */
#include "catalog/xlsx.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define XLSX_STR_MAX   32767     /* Excel: characters in a cell */
#define XLSX_WIDTH_MIN 6.0
#define XLSX_WIDTH_MAX 60.0      /* wider text wraps */
#define XLSX_INT_MAX   9007199254740992LL   /* 2^53: exact in a double */

struct catalog_xlsx {
    lxw_workbook *wb;
    char *path;
    lxw_format *bold, *wrap;
    lxw_worksheet *ws;           /* current sheet, NULL before the first */
    size_t hcols;                /* header columns of the current sheet */
    lxw_row_t row;               /* next row to write (0 = header) */
    size_t *width;               /* display width per column */
    size_t nwidth;
    char *tmp;                   /* cleaned text */
    size_t tmpcap;
    int nsheets;
    int failed;
    char err[256];
};

static void fail(catalog_xlsx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(catalog_xlsx *x, const char *fmt, ...)
{
    if (x->failed++)
        return;                  /* keep the first message */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, sizeof x->err, fmt, ap);
    va_end(ap);
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* Decode one UTF-8 sequence at s (n bytes left); *len = bytes used.
 * Returns the code point, or -1 for a bad byte (*len = 1). */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xBF;
    long cp;
    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 2;
        cp = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 3;
        cp = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return -1;
    }
    if (k >= n || s[1] < lo || s[1] > hi)
        return -1;
    for (size_t j = 1; j <= k; j++) {
        if (s[j] < 0x80 || s[j] > 0xBF)
            return -1;
        cp = (cp << 6) | (s[j] & 0x3F);
    }
    *len = k + 1;
    return cp;
}

/* Columns a code point takes on screen: 2 for East Asian wide and
 * full-width characters (Japanese text, full-width ＡＩ, CJK symbols),
 * 1 otherwise (half-width katakana ｶﾒﾗ included). */
static size_t cp_width(long cp)
{
    if (cp < 0x1100)
        return 1;
    if (cp >= 0xFF61 && cp <= 0xFFDC)    /* half-width katakana and hangul */
        return 1;
    if (cp >= 0xFFE8 && cp <= 0xFFFF)
        return 1;
    return 2;
}

/* Clean s into x->tmp (see xlsx.h); sets *width to the widest line and
 * *multiline.  Returns x->tmp, or NULL on out of memory. */
static const char *clean(catalog_xlsx *x, const char *s, size_t *width, int *multiline)
{
    size_t n = strlen(s);
    size_t need = n * 3 + 1;     /* a bad byte (1) becomes U+FFFD (3) */
    if (need > x->tmpcap) {
        char *t = realloc(x->tmp, need);
        if (!t)
            return NULL;
        x->tmp = t;
        x->tmpcap = need;
    }
    const unsigned char *u = (const unsigned char *)s;
    char *o = x->tmp;
    size_t chars = 0, w = 0, line = 0;
    *multiline = 0;
    for (size_t i = 0; i < n && chars < XLSX_STR_MAX;) {
        size_t len;
        long cp = utf8_next(u + i, n - i, &len);
        if (cp < 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            cp = 0xFFFD;
        } else if (cp == '\r' && i + 1 < n && u[i + 1] == '\n') {
            i++;
            continue;
        } else if (cp == '\r' || cp == '\n') {
            *o++ = '\n';
            *multiline = 1;
            if (line > w)
                w = line;
            line = 0;
            chars++;
            i += len;
            continue;
        } else if ((cp < 0x20 && cp != '\t') || cp == 0xFFFE || cp == 0xFFFF) {
            i += len;            /* not allowed in XML */
            continue;
        } else {
            memcpy(o, u + i, len);
            o += len;
        }
        line += cp_width(cp);
        chars++;
        i += len;
    }
    *o = 0;
    *width = line > w ? line : w;
    return x->tmp;
}

/* A plain integer that a double holds exactly: optional '-', no leading
 * zeros, nothing else. */
static int plain_int(const char *s, double *out)
{
    const char *p = s + (*s == '-');
    if (*p < '0' || *p > '9' || (*p == '0' && p[1]) || (*s == '-' && *p == '0'))
        return 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return 0;
    if (strlen(p) > 16)
        return 0;
    long long v = strtoll(s, NULL, 10);
    if (v > XLSX_INT_MAX || v < -XLSX_INT_MAX)
        return 0;
    *out = (double)v;
    return 1;
}

static int note_width(catalog_xlsx *x, size_t col, size_t w)
{
    if (col >= x->nwidth) {
        size_t n = x->nwidth ? x->nwidth : 16;
        while (n <= col)
            n *= 2;
        size_t *nw = realloc(x->width, n * sizeof *nw);
        if (!nw)
            return -1;
        memset(nw + x->nwidth, 0, (n - x->nwidth) * sizeof *nw);
        x->width = nw;
        x->nwidth = n;
    }
    if (w > x->width[col])
        x->width[col] = w;
    return 0;
}

/* Write one cell; header cells get the bold format.  0 or -1. */
static int put(catalog_xlsx *x, size_t col, const char *s, int header, int numeric)
{
    if (!s || !*s)
        return 0;
    double v;
    lxw_error e;
    size_t w;
    if (numeric && plain_int(s, &v)) {
        e = worksheet_write_number(x->ws, x->row, (lxw_col_t)col, v, NULL);
        w = strlen(s);
    } else {
        int ml;
        const char *t = clean(x, s, &w, &ml);
        if (!t) {
            fail(x, "out of memory");
            return -1;
        }
        if (!*t)
            return 0;
        lxw_format *f = header ? x->bold : (ml || w > XLSX_WIDTH_MAX) ? x->wrap : NULL;
        e = worksheet_write_string(x->ws, x->row, (lxw_col_t)col, t, f);
    }
    if (e != LXW_NO_ERROR) {
        fail(x, "row %lu, column %zu: %s", (unsigned long)x->row + 1, col + 1, lxw_strerror(e));
        return -1;
    }
    if (header)
        w += 4;                  /* bold, and room for the filter button */
    if (note_width(x, col, w)) {
        fail(x, "out of memory");
        return -1;
    }
    return 0;
}

/* Widths and autofilter of the current sheet. */
static void finish_sheet(catalog_xlsx *x)
{
    if (!x->ws)
        return;
    size_t ncols = x->hcols;
    for (size_t c = 0; c < x->nwidth; c++)
        if (x->width[c] && c + 1 > ncols)
            ncols = c + 1;
    for (size_t c = 0; c < ncols && c < x->nwidth; c++) {
        double w = (double)x->width[c] + 2;
        if (w < XLSX_WIDTH_MIN)
            w = XLSX_WIDTH_MIN;
        if (w > XLSX_WIDTH_MAX)
            w = XLSX_WIDTH_MAX;
        worksheet_set_column(x->ws, (lxw_col_t)c, (lxw_col_t)c, w, NULL);
    }
    if (x->hcols) {
        lxw_row_t last = x->row > 1 ? x->row - 1 : 0;
        worksheet_autofilter(x->ws, 0, 0, last, (lxw_col_t)(x->hcols - 1));
    }
    x->ws = NULL;
    memset(x->width, 0, x->nwidth * sizeof *x->width);
}

catalog_xlsx *catalog_xlsx_open(const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        set_err(err, errlen, "xlsx: no output file given");
        return NULL;
    }
    /* libxlsxwriter opens the file only when closing; check the directory
     * now so that a typo fails before any work is done. */
    char *dir = strdup(path);
    if (!dir) {
        set_err(err, errlen, "xlsx: out of memory");
        return NULL;
    }
    char *slash = strrchr(dir, '/');
    const char *d = ".";
    if (slash == dir)
        d = "/";
    else if (slash) {
        *slash = 0;
        d = dir;
    }
    if (access(d, W_OK) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "cannot write %s: %s: %s", path, d, strerror(errno));
        free(dir);
        return NULL;
    }
    free(dir);
    catalog_xlsx *x = calloc(1, sizeof *x);
    if (!x || !(x->path = strdup(path))) {
        free(x);
        set_err(err, errlen, "xlsx: out of memory");
        return NULL;
    }
    x->wb = workbook_new(path);
    if (!x->wb) {
        if (err && errlen)
            snprintf(err, errlen, "cannot create workbook %s", path);
        free(x->path);
        free(x);
        return NULL;
    }
    x->bold = workbook_add_format(x->wb);
    format_set_bold(x->bold);
    format_set_pattern(x->bold, LXW_PATTERN_SOLID);
    format_set_bg_color(x->bold, 0xDDEBF7);
    format_set_border(x->bold, LXW_BORDER_THIN);
    x->wrap = workbook_add_format(x->wb);
    format_set_text_wrap(x->wrap);
    format_set_align(x->wrap, LXW_ALIGN_VERTICAL_TOP);
    return x;
}

int catalog_xlsx_sheet(catalog_xlsx *x, const char *name, const char *const *headers, size_t ncols)
{
    if (!x)
        return -1;
    finish_sheet(x);
    if (!name || !*name) {
        fail(x, "sheet without a name");
        return -1;
    }
    if (ncols > LXW_COL_MAX) {
        fail(x, "sheet %s: %zu columns; Excel allows %d", name, ncols, LXW_COL_MAX);
        return -1;
    }
    lxw_error e = workbook_validate_sheet_name(x->wb, name);
    if (e != LXW_NO_ERROR) {
        fail(x, "sheet name '%s': %s", name, lxw_strerror(e));
        return -1;
    }
    x->ws = workbook_add_worksheet(x->wb, name);
    if (!x->ws) {
        fail(x, "cannot add sheet '%s'", name);
        return -1;
    }
    x->nsheets++;
    x->hcols = ncols;
    x->row = 0;
    int rc = 0;
    for (size_t c = 0; c < ncols; c++)
        if (put(x, c, headers ? headers[c] : NULL, 1, 0))
            rc = -1;
    worksheet_freeze_panes(x->ws, 1, 0);
    x->row = 1;
    return rc;
}

int catalog_xlsx_row(catalog_xlsx *x, const char *const *cells, size_t ncols, uint64_t numeric_mask)
{
    if (!x)
        return -1;
    if (!x->ws) {
        fail(x, "row written before any sheet");
        return -1;
    }
    if (x->row >= LXW_ROW_MAX) {
        fail(x, "more than %d rows in one sheet", LXW_ROW_MAX - 1);
        return -1;
    }
    if (ncols > LXW_COL_MAX) {
        fail(x, "row %lu: %zu columns; Excel allows %d", (unsigned long)x->row + 1, ncols, LXW_COL_MAX);
        return -1;
    }
    int rc = 0;
    for (size_t c = 0; c < ncols; c++) {
        int numeric = c < 64 && (numeric_mask >> c & 1);
        if (put(x, c, cells ? cells[c] : NULL, 0, numeric))
            rc = -1;
    }
    x->row++;
    return rc;
}

int catalog_xlsx_close(catalog_xlsx *x, char *err, size_t errlen)
{
    if (!x) {
        set_err(err, errlen, "xlsx: nothing to close");
        return -1;
    }
    if (x->failed) {
        /* nothing to write: the workbook is freed unzipped */
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", x->path, x->err);
        catalog_xlsx_discard(x);
        return -1;
    }
    finish_sheet(x);
    int rc = 0;
    if (!x->failed && !x->nsheets) {
        /* an empty workbook does not open in Excel: give it one sheet */
        if (!workbook_add_worksheet(x->wb, NULL))
            fail(x, "cannot add a sheet");
    }
    /* libxlsxwriter 1.1 formats the document's times with gmtime(), whose
     * result is one static struct tm of libc's: the daemon closes
     * workbooks on the thread pool (exports) and on its loop (evidence
     * sheets) at once.  This lock guards that library-internal static,
     * not state of ours, so it is the one file-scope object here. */
    static pthread_mutex_t close_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&close_lock);
    lxw_error e = workbook_close(x->wb);
    pthread_mutex_unlock(&close_lock);
    if (x->failed) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", x->path, x->err);
        unlink(x->path);         /* no half-written workbook */
        rc = -1;
    } else if (e != LXW_NO_ERROR) {
        if (err && errlen)
            snprintf(err, errlen, "cannot write %s: %s", x->path, lxw_strerror(e));
        rc = -1;
    }
    free(x->width);
    free(x->tmp);
    free(x->path);
    free(x);
    return rc;
}

void catalog_xlsx_discard(catalog_xlsx *x)
{
    if (!x)
        return;
    /* lxw_workbook_free frees what workbook_close would have zipped,
     * writing nothing (the file was never opened: libxlsxwriter creates
     * it only when it writes the zip) */
    lxw_workbook_free(x->wb);
    unlink(x->path);   /* the caller's placeholder (mkstemp), if any */
    free(x->width);
    free(x->tmp);
    free(x->path);
    free(x);
}
