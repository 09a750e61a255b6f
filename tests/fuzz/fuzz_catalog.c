/* Fuzz target: catalog field validation (CSV cells and CLI arguments).
 * Input: NUL-separated "name\0value\0name\0value..." for a certification,
 * or for an adoption when the first byte is odd.  Whatever catalog_build
 * makes must pass the kind's validator (catalog_record_validate): the CLI
 * must never write what a peer would refuse. */
#include "catalog/schema.h"
#include "store/kind.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *kind = data[0] & 1 ? "adoption" : "certification";
    char *buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    catalog_kv kv[64];
    size_t n = 0;
    char *p = buf, *end = buf + size - 1;
    while (p < end && n < 64) {
        char *name = p;
        p += strlen(p) + 1;
        if (p >= end)
            break;
        kv[n].name = name;
        kv[n].value = p;
        n++;
        p += strlen(p) + 1;
    }
    proto_body *b = NULL;
    char err[256], norm[1024];
    if (catalog_build(kind, kv, n, &b, err, sizeof err) == 0) {
        uint8_t *body;
        size_t bl;
        if (proto_body_encode(b, &body, &bl) == 0) {
            proto_record r;
            memset(&r, 0, sizeof r);
            snprintf(r.kind, sizeof r.kind, "%s", kind);
            snprintf(r.key, sizeof r.key, "KEY-1");
            r.body = body;
            r.body_len = bl;
            if (kind_of(kind)->validate(&r, err, sizeof err) != 0) {
                fprintf(stderr, "built body refused: %s\n", err);
                abort();
            }
            free(body);
        }
        proto_body_free(b);
    }
    catalog_norm(buf, strlen(buf), norm, sizeof norm);
    catalog_key_valid(buf, err, sizeof err);
    catalog_key_norm(buf, norm, sizeof norm, err, sizeof err);
    catalog_header_norm(buf, norm, sizeof norm);
    catalog_check(kind, kv, n, NULL, NULL);
    jp_date d;
    jp_date_read(buf, &d, err, sizeof err);
    free(buf);
    return 0;
}
