/* Fuzz target: frame reassembly and message field access, as the control
 * socket and peer connections do with bytes from outside. */
#include "proto/frame.h"
#include "proto/mp.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_buf b = { 0 };
    /* feed in two pieces to exercise partial frames */
    size_t half = size / 2;
    proto_buf_append(&b, data, half);
    for (int round = 0; round < 2; round++) {
        const uint8_t *f;
        size_t fl;
        while (proto_frame_take(&b, 1 << 16, &f, &fl) == 1) {
            char t[16];
            uint64_t u;
            proto_rd r;
            uint32_t n;
            proto_map_str(f, fl, "t", t, sizeof t);
            proto_map_u64(f, fl, "v", &u);
            if (proto_map_find(f, fl, "vv", &r) == 0 && proto_rd_array(&r, &n) == 0)
                for (uint32_t i = 0; i < n && !r.err; i++)
                    proto_rd_skip(&r, 4);
            proto_rd_init(&r, f, fl);
            proto_rd_skip(&r, 16);
        }
        if (round == 0)
            proto_buf_append(&b, data + half, size - half);
    }
    proto_buf_free(&b);
    return 0;
}
