/*
 * catalog/xlsx.h — a small .xlsx writer over libxlsxwriter, for `catalogctl
 * export --format xlsx` and the web view's downloads: one sheet per table, a bold header row that stays
 * in view (frozen) with filter buttons, columns as wide as their text.
 *
 * Usage: open, then for each table sheet() and row() per record, then
 * close(), which writes the file and frees x whatever happens.  Errors from
 * sheet() and row() are also remembered and reported again by close(), so a
 * caller may ignore their return values and check close() alone.
 *
 * Text is written as text (never as a formula, whatever it starts with).
 * Invalid UTF-8 becomes U+FFFD, control characters other than tab and line
 * feed are dropped, CR LF becomes LF, and a cell longer than Excel's 32767
 * characters is cut there.  Cells with line breaks or wider than the widest
 * column (60) wrap.
 */
#ifndef CATALOG_XLSX_H
#define CATALOG_XLSX_H

#include <stddef.h>
#include <stdint.h>

typedef struct catalog_xlsx catalog_xlsx;

/* NULL with a message if path is empty or its directory is not writable.
 * The file itself is written only by catalog_xlsx_close(). */
catalog_xlsx *catalog_xlsx_open(const char *path, char *err, size_t errlen);

/* Start a sheet (name: at most 31 characters, none of []:*?/\, unique) with
 * a bold header row, the first row frozen and an autofilter over the
 * header and all rows written to it.  Column widths come from the widest
 * cell (East Asian wide characters count double).  0 or -1. */
int catalog_xlsx_sheet(catalog_xlsx *x, const char *name, const char *const *headers, size_t ncols);

/* Append a row to the current sheet.  A cell in a column whose bit is set in
 * numeric_mask (bit i for column i, i < 64) that is a plain integer
 * ("-12", "2026"; not "+1", "007", "1.5" or beyond ±2^53) is written as a
 * number; everything else as a string.  NULL and "" cells stay empty.
 * 0 or -1 (no sheet, more than 1048575 rows, out of memory). */
int catalog_xlsx_row(catalog_xlsx *x, const char *const *cells, size_t ncols, uint64_t numeric_mask);

/* Write the file and free x.  0, or -1 with a message (the first error of
 * sheet()/row() if there was one, else the one from writing). */
int catalog_xlsx_close(catalog_xlsx *x, char *err, size_t errlen);

/* Free x without writing the file (nobody will read it: the export was
 * cancelled, or failed): the workbook is not zipped, which for a large
 * one is most of the work, and the file at path is removed.  NULL is fine. */
void catalog_xlsx_discard(catalog_xlsx *x);

#endif
