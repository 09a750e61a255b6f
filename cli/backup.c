/* cli/backup.c — catalogctl backup FILE and restore FILE --data DIR: a copy
 * of the node (its store, key, certificate and settings) taken while the
 * daemon runs, and brought back with the daemon stopped.  The format is in
 * store/backup.h. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "store/backup.h"
#include "proto/frame.h"
#include "proto/util.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKUP_USAGE "usage: catalogctl backup [--data DIR | --socket PATH] [--json] FILE\n" \
    "  The running daemon writes the directory FILE (which must not exist): a compacted copy\n" \
    "  of the store, consistent as of the start of the copy, with node.key, node.crt and\n" \
    "  catalogd.conf.  It holds the node's private key: keep it as you keep node.key."
#define RESTORE_USAGE "usage: catalogctl restore FILE --data DIR [--force] [--json]\n" \
    "  With catalogd stopped: bring the backup FILE back into DIR, which must be empty or new\n" \
    "  (--force replaces the node in DIR; its catalogd.conf is kept).  Start catalogd on DIR\n" \
    "  afterwards: it fetches from its peers what was written after the backup."
const char backup_usage[] = BACKUP_USAGE;
const char restore_usage[] = RESTORE_USAGE;

static const char key_warning[] =
    "warning: %s holds this node's private key (node.key): whoever has it can sign as this "
    "member.  Keep it like node.key (mode 0600, owner only) and never send it to anyone.\n";

int backup_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            client_usage_error("backup", BACKUP_USAGE);
            return CLIENT_USAGE;
        }
    }
    if (!file) {
        client_usage_error("backup", "FILE is required\n" BACKUP_USAGE);
        return CLIENT_USAGE;
    }
    /* the daemon resolves paths against its own working directory */
    char path[PATH_MAX + 1], cwd[PATH_MAX];
    if (file[0] == '/') {
        snprintf(path, sizeof path, "%s", file);
    } else if (!getcwd(cwd, sizeof cwd) || (size_t)snprintf(path, sizeof path, "%s/%s", cwd, file) >= sizeof path) {
        client_errorf("backup: cannot make %s an absolute path", file);
        return CLIENT_FAIL;
    }
    client_req r;
    uint8_t *rep;
    size_t len;
    client_req_begin(&r, "backup");
    proto_map_put_str(&r.m, "path", path);
    int rc = client_call(&o, &r, &rep, &len);
    if (rc)
        return rc;
    uint64_t bytes = 0;
    proto_map_u64(rep, len, "bytes", &bytes);
    free(rep);
    if (o.json) {
        printf("{");
        client_json_kv_str(stdout, "path", path, 1);
        client_json_kv_u64(stdout, "bytes", bytes, 0);
        printf("}\n");
    } else {
        printf("backup written to %s (store: %llu bytes)\n", path, (unsigned long long)bytes);
    }
    fprintf(stderr, key_warning, path);
    return CLIENT_OK;
}

int restore_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL;
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--force"))
            force = 1;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            client_usage_error("restore", RESTORE_USAGE);
            return CLIENT_USAGE;
        }
    }
    /* --data is required, not defaulted: restoring into ./var/node or
     * $CATALOGD_DATA by accident could replace a node with --force */
    if (!file || !o.data) {
        client_usage_error("restore", "FILE and --data DIR are required\n" RESTORE_USAGE);
        return CLIENT_USAGE;
    }
    char err[512];
    proto_id self;
    if (backup_restore(file, o.data, force, &self, err, sizeof err)) {
        client_errorf("restore: %s", err);
        return CLIENT_FAIL;
    }
    char s[PROTO_ID_STR];
    proto_id_str(&self, s);
    if (o.json) {
        printf("{");
        client_json_kv_str(stdout, "data", o.data, 1);
        client_json_kv_str(stdout, "member_id", s, 0);
        printf("}\n");
    } else {
        printf("restored member %s into %s; start catalogd on it to catch up with the alliance\n", s, o.data);
    }
    return CLIENT_OK;
}
