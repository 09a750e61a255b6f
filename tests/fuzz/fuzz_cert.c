/* Fuzz target: certificate parsing (member add, join, TLS peers). */
#include "certs/certs.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    certs_identity id;
    char err[256];
    if (certs_parse(data, size, &id, err, sizeof err) == 0)
        certs_free(&id);
    return 0;
}
