/* Fuzz target: spreadsheet parsing (catalogctl import), encodings included. */
#include "catalog/csv.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_csv c;
    char err[256];
    if (proto_csv_parse((const char *)data, size, &c, err, sizeof err) == 0) {
        proto_csv_buf b = { 0 };
        for (size_t i = 0; i < c.nrows; i++)
            proto_csv_append_row(&b, (const char *const *)c.rows[i].cells, c.rows[i].ncells);
        proto_csv_buf_free(&b);
        proto_csv_free(&c);
    }
    return 0;
}
