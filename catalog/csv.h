/*
 * catalog/csv.h — CSV files as Excel saves them, in and out.
 *
 * Pure: no file I/O, no global state (iconv descriptors are opened per call).
 * Parsing is done by libcsv in strict mode; this module adds encoding
 * detection (UTF-8, UTF-8 with BOM, CP932 a.k.a. Windows Shift_JIS), physical
 * line numbers for every row and for every error, and size limits.
 *
 * Functions returning int give 0 on success and -1 on failure; those with
 * `char *err, size_t errlen` then write a NUL-terminated English message
 * there (err may be NULL; long messages are truncated).  Messages about a
 * place in the file start with "line N: " (1-based physical line; a quoted
 * cell spanning lines counts every line it spans).
 */
#ifndef CATALOG_CSV_H
#define CATALOG_CSV_H

#include <stddef.h>

/* Limits of proto_csv_parse(). */
#define PROTO_CSV_MAX_BYTES  ((size_t)64 * 1024 * 1024)  /* whole file, as given */
#define PROTO_CSV_MAX_ROWS   200000                      /* non-empty rows, header included */
#define PROTO_CSV_MAX_CELLS  256                         /* cells in one row */
#define PROTO_CSV_MAX_CELL   65536                       /* bytes in one cell (UTF-8, after conversion) */

typedef struct {
    char **cells;     /* ncells NUL-terminated UTF-8 strings, never NULL */
    size_t ncells;
    int line;         /* 1-based physical line where the row starts */
} proto_csv_row;

typedef struct {
    proto_csv_row *rows;
    size_t nrows;
    const char *encoding;   /* static string: "UTF-8", "UTF-8 (BOM)" or "CP932" */
} proto_csv;

/*
 * Parse a whole file's bytes.
 *  - A UTF-8 BOM (EF BB BF) is stripped and the rest must be UTF-8.
 *  - Without a BOM, valid UTF-8 is taken as such; anything else is converted
 *    from CP932 with iconv.  A byte that is neither fails with the line of
 *    that byte.  UTF-16 (Excel's "Unicode text") is refused with a hint.
 *    NUL bytes are refused.
 *  - Cells: comma-separated; a cell in double quotes may hold commas, ""
 *    (one quote) and line breaks.  A line break inside a quoted cell (CRLF,
 *    LF or CR) becomes "\n".  Spaces are kept as they are (never trimmed).
 *  - Rows end with CRLF, LF or CR.  Rows whose cells are all empty (blank
 *    lines, ",,,") are skipped, so line numbers may jump.
 *  - Strict: a " inside an unquoted cell, anything but , or a line break
 *    after a closing quote, or a quote still open at the end of the file is
 *    an error "line N: ...".
 *  - Limits above; beyond them fails naming the line.
 * On success *out owns everything (free with proto_csv_free).  On failure
 * *out is left empty ({NULL, 0, NULL}) and needs no freeing (freeing it is
 * harmless).
 */
int proto_csv_parse(const char *data, size_t len, proto_csv *out, char *err, size_t errlen);
/* proto_csv_parse with the text cut into at most `pieces` pieces parsed on
 * threads of their own (proto_csv_parse picks one per core for a large
 * file): the same rows, the same messages, whatever `pieces` is. */
int proto_csv_parse_pieces(const char *data, size_t len, size_t pieces, proto_csv *out, char *err,
                           size_t errlen);
void proto_csv_free(proto_csv *c);

/*
 * A growing string for writing CSV.  Start from {0}.  After a successful
 * append, data is NUL-terminated (data[len] == 0).
 */
typedef struct {
    char *data;
    size_t len, cap;
} proto_csv_buf;

/*
 * Append one row (RFC 4180): a cell containing , " CR or LF, or beginning or
 * ending with a space or tab, is put in double quotes with every " doubled;
 * the row ends with CRLF.  NULL cells are written as empty.  No BOM is
 * written (the caller adds "\xEF\xBB\xBF" first if Excel is to read UTF-8).
 * Cells are written as given.  proto_csv_parse() of the output gives
 * back the same cells, except that rows whose cells are all empty are
 * skipped and a lone CR in a cell comes back as "\n".
 * Returns 0, or -1 on out of memory (b is then unchanged).
 */
int proto_csv_append_row(proto_csv_buf *b, const char *const *cells, size_t n);

/* The same; with PROTO_CSV_NEUTRALISE, a cell a spreadsheet would read as
 * a formula — one starting with = + - @ (or their full-width forms
 * ＝ ＋ － ＠, which Excel reads as the ASCII ones), a tab or a CR, after
 * any number of apostrophes — gets one more ' in front (the OWASP rule against CSV
 * injection: Excel shows the cell as text and hides the apostrophe).
 * proto_csv_unneutralise() on every parsed cell gives back the cells as
 * given. */
#define PROTO_CSV_NEUTRALISE 1u
int proto_csv_append_row_opts(proto_csv_buf *b, const char *const *cells, size_t n, unsigned flags);

/* Undo PROTO_CSV_NEUTRALISE in place: one ' is taken off a cell that is
 * ' followed by what formula_like finds (apostrophes, then = + - @, their
 * full-width forms, tab, CR);
 * any other cell is left as it is. */
void proto_csv_unneutralise(char *cell);
void proto_csv_buf_free(proto_csv_buf *b);

#endif
