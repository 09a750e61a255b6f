/* cli/cert.c — catalogctl cert: this node's certificate, to hand to a sponsor. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "proto/util.h"
#include <stdlib.h>

#define USAGE "usage: catalogctl cert [--data DIR] > NODE.pem"
const char cert_usage[] = USAGE;

int cert_main(int argc, char **argv)
{
    client_opts o = client_g;
    for (int i = 1; i < argc; i++) {
        if (!client_common_opt(&o, argc, argv, &i)) {
            client_usage_error("cert", USAGE);
            return CLIENT_USAGE;
        }
    }
    certs_identity id;
    char err[512];
    if (certs_load(client_data_dir(&o), &id, err, sizeof err)) {
        client_errorf("cert: %s", err);
        return CLIENT_FAIL;
    }
    char s[PROTO_ID_STR], *pem = certs_pem(&id);
    proto_id_str(&id.id, s);
    /* The id travels as a comment above the PEM block: PEM readers skip it,
     * and the sponsor can read it out over the phone. */
    printf("# catalogd member certificate\n# %s %s\n# member id: %s\n%s", id.code, id.name, s,
           pem ? pem : "");
    free(pem);
    certs_free(&id);
    return pem ? CLIENT_OK : CLIENT_FAIL;
}
