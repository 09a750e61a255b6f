/*
 * catalog/export.h — the columns of an export, one row per certification or
 * adoption: what `catalogctl export` writes and the web view's downloads
 * (/export.csv, /export.xlsx) write, so that both give the same file.
 *
 * A row is the record's key, every field of its kind's schema in schema
 * order, then its author.  What staff read: 状態 is the status on `today`
 * (catalog_status: 期間満了 once 有効期限 has passed; re-imported,
 * catalog_build takes it back as 認定中), 分野 joined with "、", references
 * are CODE/KEY (as people type them and import reads them), the author is
 * "131059 文京区".  Members are named through a callback, since the CLI
 * knows them from the daemon's reply and the daemon from its store.
 */
#ifndef CATALOG_EXPORT_H
#define CATALOG_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include "catalog/jp.h"
#include "proto/record.h"

/* Columns of a row at most (the key, the schema's fields, the author). */
#define CATALOG_EXPORT_COLS 40
/* A cell holds any field of a record whole (a record is at most PROTO_RECORD_MAX bytes). */
#define CATALOG_EXPORT_CELL_MAX (PROTO_RECORD_MAX + 1)

/* Scratch for one row: CATALOG_EXPORT_COLS cells (2.5 MB: allocate it). */
typedef char catalog_export_cells_buf[CATALOG_EXPORT_COLS][CATALOG_EXPORT_CELL_MAX];

/* The municipality code and name of a member: 0, or -1 when not known
 * (then the author is its short id and a reference keeps the id). */
typedef int (*catalog_export_member_fn)(void *ctx, const proto_id *id, char *code, size_t codelen,
                                        char *name, size_t namelen);

/* The header row of kind's table (certification: 認定番号 … 認定団体;
 * adoption: キー … 導入団体) into out (CATALOG_EXPORT_COLS entries);
 * returns the number of columns, 0 for a kind without a schema. */
size_t catalog_export_headers(const char *kind, const char **out);
/* Columns holding integers (年度, 金額, 評価): bit i for column i, for
 * catalog_xlsx_row's numeric_mask. */
uint64_t catalog_export_numeric(const char *kind);
/* The cells of r's row into out (pointers into buf or r); returns the
 * number of cells, the same as catalog_export_headers(r->kind). */
size_t catalog_export_cells(const proto_record *r, catalog_export_member_fn member, void *ctx, jp_date today,
                            catalog_export_cells_buf *buf, const char **out);

#endif
