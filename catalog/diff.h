/*
 * catalog/diff.h — what changed between two versions of a catalog record
 * (certification, adoption), field by field, for history.
 */
#ifndef CATALOG_DIFF_H
#define CATALOG_DIFF_H

#include <stddef.h>
#include "catalog/schema.h"
#include "proto/record.h"

/* A body field of r as people read it: strings as stored, integers in
 * decimal, lists joined with "、"; "" when absent (or r is NULL).  At most
 * n - 1 bytes, cut at a character boundary.  Returns buf. */
const char *catalog_field_text(const proto_record *r, const char *field, char *buf, size_t n);

/* cb gets a field that changed: its schema entry and its text before and
 * after ("" for absent).  Non-zero stops the walk. */
typedef int (*catalog_diff_cb)(void *ctx, const catalog_field *f, const char *was, const char *now);

/* Every field of the kind's schema (kind of b, else of a), in schema order,
 * whose text differs between version a and version b.  A NULL version or a
 * tombstone has no fields.  Fields outside the schema are not compared.
 * Returns the number of changed fields reported, or -1 (unknown kind, out
 * of memory). */
int catalog_diff(const proto_record *a, const proto_record *b, catalog_diff_cb cb, void *ctx);

#endif
