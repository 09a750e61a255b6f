/* Fuzz target: spreadsheet parsing (catalogctl import), encodings included.
 * The text is parsed whole and again in pieces (proto_csv_parse_pieces, as
 * a large sheet is on several cores): both must give the same rows on the
 * same lines, or the same message. */
#include "catalog/csv.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const proto_csv *a, const proto_csv *b)
{
    if (a->nrows != b->nrows)
        return 0;
    for (size_t i = 0; i < a->nrows; i++) {
        if (a->rows[i].line != b->rows[i].line || a->rows[i].ncells != b->rows[i].ncells)
            return 0;
        for (size_t k = 0; k < a->rows[i].ncells; k++)
            if (strcmp(a->rows[i].cells[k], b->rows[i].cells[k]))
                return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_csv c, p;
    char err[256] = "", perr[256] = "";
    int rc = proto_csv_parse_pieces((const char *)data, size, 1, &c, err, sizeof err);
    size_t pieces = 2 + (size ? data[size - 1] % 6 : 0);
    int prc = proto_csv_parse_pieces((const char *)data, size, pieces, &p, perr, sizeof perr);
    if (rc != prc || (rc && strcmp(err, perr)) || (!rc && !same(&c, &p)))
        abort();
    if (rc == 0) {
        proto_csv_buf b = { 0 };
        for (size_t i = 0; i < c.nrows; i++)
            proto_csv_append_row(&b, (const char *const *)c.rows[i].cells, c.rows[i].ncells);
        proto_csv_buf_free(&b);
        proto_csv_free(&c);
        proto_csv_free(&p);
    }
    return 0;
}
