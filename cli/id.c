/* cli/id.c — catalogctl id [FILE.pem]: the member id, to compare by phone. */
#include "cli/ctl.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "proto/util.h"

int id_main(int argc, char **argv)
{
    ctl_opts o = ctl_g;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (ctl_common_opt(&o, argc, argv, &i))
            continue;
        if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            ctl_usage_error("id", "usage: catalogctl id [--data DIR] [FILE.pem]");
            return CTL_USAGE;
        }
    }
    certs_identity id;
    char err[512];
    int rc = file ? certs_read_file(file, &id, err, sizeof err)
                  : certs_load(ctl_data_dir(&o), &id, err, sizeof err);
    if (rc) {
        ctl_errorf("id: %s", err);
        return CTL_FAIL;
    }
    char s[PROTO_ID_STR];
    proto_id_str(&id.id, s);
    if (o.json) {
        printf("{");
        ctl_json_kv_str(stdout, "member_id", s, 1);
        ctl_json_kv_str(stdout, "code", id.code, 1);
        ctl_json_kv_str(stdout, "name", id.name, 0);
        printf("}\n");
    } else {
        printf("%s\n", s);
    }
    certs_free(&id);
    return CTL_OK;
}
