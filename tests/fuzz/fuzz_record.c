/* Fuzz target: record decoding, body access and hashing (outside input from peers). */
#include "proto/record.h"
#include "proto/util.h"
#include "catalog/schema.h"
#include "store/kind.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    *(size_t *)ctx += fl + tl;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_record r, hd;
    char err[256];
    int strict = proto_record_decode(data, size, &r, err, sizeof err);
    /* ingest decodes the header on the loop and checks the body on the
     * pool: together they must accept exactly what the strict decode does */
    int split = proto_record_decode_header(data, size, &hd, err, sizeof err);
    if (split == 0)
        split = proto_record_check_text(&hd, err, sizeof err);
    if (split != strict)
        __builtin_trap();
    if (strict == 0) {
        const char *s;
        size_t n, total = 0;
        int64_t v;
        char buf[64];
        proto_body_get_str(&r, "title", &s, &n);
        proto_body_get_int(&r, "amount", &v);
        proto_body_copy_str(&r, "code", buf, sizeof buf);
        proto_body_foreach(&r, cb, &total);
        /* the kind's rules, as the store applies them to a peer's record
         * (certification and adoption: catalog_record_validate) */
        const kind_def *kd = kind_of(r.kind);
        if (kd->validate) {
            int vrc = kd->validate(&r, err, sizeof err);
            /* the catalog validator's in-place shortcuts say exactly what
             * the full conversion says */
            if (kd->validate == catalog_record_validate) {
                char full[sizeof err];
                int frc = catalog_record_validate_full(&r, full, sizeof full);
                if (frc != vrc || (vrc && strcmp(full, err)))
                    __builtin_trap();
            }
        }
        proto_id h;
        proto_record_hash(r.raw, r.raw_len, &h);
    }
    return 0;
}
