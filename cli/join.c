/* cli/join.c — catalogctl join: trust a sponsor and know where to reach it. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "certs/certs.h"
#include "store/store.h"
#include "proto/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define USAGE "usage: catalogctl join --data DIR --sponsor SPONSOR.pem --address HOST:PORT [--member MEMBER_ID]"
const char join_usage[] = USAGE;

int client_open_node(const client_opts *o, certs_identity *id, store **st);

/* Is a catalogd holding this data directory's lock? */
static int daemon_running(const client_opts *o)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/catalogd.lock", client_data_dir(o));
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int busy = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);   /* releases the lock if we took it */
    return busy;
}

/* --member: this node is an existing member's, restored empty with the new
 * key a rekey by quorum put in force (docs/DECISIONS.md "Rekey by quorum"):
 * the store is bound to the member id, not to the key's hash, and writes
 * nothing until the daemon has caught up on the member's own log. */
static int open_restored(const client_opts *o, const char *member, certs_identity *id, store **st, int *backup)
{
    char err[512], path[1100];
    proto_id mid;
    store_info si;
    const char *dir = client_data_dir(o);
    if (proto_id_parse(member, &mid)) {
        client_errorf("join: --member: not a member id: %s", member);
        return CLIENT_USAGE;
    }
    if (certs_load(dir, id, err, sizeof err)) {
        client_errorf("%s", err);
        return CLIENT_FAIL;
    }
    if (!memcmp(&mid, &id->id, 32)) {
        client_errorf("join: --member names this node key's own id: it is for a member whose key was replaced");
        certs_free(id);
        return CLIENT_USAGE;
    }
    snprintf(path, sizeof path, "%s/db", dir);
    if (store_open(path, 0, st, err, sizeof err)) {
        client_errorf("store %s: %s", path, err);
        certs_free(id);
        return CLIENT_FAIL;
    }
    uint8_t one = 1;
    /* empty, or a backup of this member's own node (its log up to the
     * backup; the rest comes back from the peers) */
    *backup = store_info_get(*st, &si) == 0 && si.has_self && !memcmp(&si.self, &mid, 32) && si.has_genesis;
    if (!*backup && ((si.has_self && memcmp(&si.self, &mid, 32)) || si.has_genesis)) {
        client_errorf("join: --member needs an empty data directory or a backup of that member's node "
                      "(this one holds %s)", si.has_genesis ? "another member's alliance store" : "another node's store");
        store_close(*st);
        certs_free(id);
        return CLIENT_REFUSED;
    }
    if (store_bind_self(*st, &mid, err, sizeof err) || store_meta_put(*st, "restoring", &one, 1)) {
        client_errorf("store %s: %s", path, err);
        store_close(*st);
        certs_free(id);
        return CLIENT_FAIL;
    }
    printf("this node is member %s again, with the key of %s; it writes once it has caught up on its own log\n",
           member, dir);
    return CLIENT_OK;
}

int join_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL, *addr = NULL, *member = NULL;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--sponsor") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--address") && i + 1 < argc)
            addr = argv[++i];
        else if (!strcmp(argv[i], "--member") && i + 1 < argc)
            member = argv[++i];
        else {
            client_usage_error("join", "bad argument '%s'\n" USAGE, argv[i]);
            return CLIENT_USAGE;
        }
    }
    if (!file || !addr || !strchr(addr, ':')) {
        client_usage_error("join", "--sponsor and --address HOST:PORT are required\n" USAGE);
        return CLIENT_USAGE;
    }
    certs_identity sp, id;
    store *st;
    char err[512];
    if (certs_read_file(file, &sp, err, sizeof err)) {
        client_errorf("join: %s", err);
        return CLIENT_FAIL;
    }
    int backup = 0;
    int rc = member ? open_restored(&o, member, &id, &st, &backup) : client_open_node(&o, &id, &st);
    if (rc) {
        certs_free(&sp);
        return rc;
    }
    if (backup) {
        /* the alliance is pinned already: the peers it knows are dialed */
        printf("restored backup of member %s: start catalogd; it fetches the rest of its log and the rekey "
               "from its peers before it writes\n", member);
        store_close(st);
        certs_free(&id);
        certs_free(&sp);
        return CLIENT_OK;
    }
    store_info si;
    store_info_get(st, &si);
    if (!memcmp(&sp.id, &id.id, 32)) {
        client_errorf("join: that is this node's own certificate");
        rc = CLIENT_REFUSED;
    } else if (si.has_genesis && !store_genesis_unchecked(st)) {
        client_errorf("join: this node already belongs to the alliance %s", si.alliance);
        rc = CLIENT_REFUSED;
    } else if (si.has_genesis && store_alliance_forget(st, err, sizeof err)) {
        client_errorf("join: cannot drop the unchecked genesis: %s", err);
        rc = CLIENT_FAIL;
    } else if ((si.has_genesis &&
                printf("dropped the genesis of %s received from the previous sponsor: it was never "
                       "checked, and nothing was written under it here\n", si.alliance) < 0) ||
               store_meta_put(st, "sponsor_id", sp.id.b, 32) ||
               store_meta_put(st, "sponsor_addr", addr, strlen(addr)) ||
               /* join run again: whichever sponsor it names is trusted anew */
               store_meta_put(st, "sponsor_refused", "", 0)) {
        client_errorf("join: cannot write to the store");
        rc = CLIENT_FAIL;
    } else {
        char s[PROTO_ID_STR];
        proto_id_str(&sp.id, s);
        printf("sponsor: %s %s at %s\nsponsor member id: %s\n", sp.code, sp.name, addr, s);
        if (daemon_running(&o)) {
            /* a running daemon takes the sponsor now, no restart needed */
            client_req r;
            uint8_t *rep;
            size_t len;
            client_req_begin(&r, "sponsor");
            if (client_call(&o, &r, &rep, &len) == CLIENT_OK) {
                free(rep);
                printf("check that id with the sponsor by phone; the running catalogd is dialing it.\n");
            } else {
                printf("check that id with the sponsor by phone, then restart catalogd.\n");
            }
        } else {
            printf("check that id with the sponsor by phone, then start catalogd.\n");
        }
    }
    store_close(st);
    certs_free(&id);
    certs_free(&sp);
    return rc;
}
