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

#define USAGE "usage: catalogctl join --data DIR --sponsor SPONSOR.pem --address HOST:PORT [--rekeyed MEMBER_ID]"
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

int join_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL, *addr = NULL, *rekeyed = NULL;
    proto_id as;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--sponsor") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--rekeyed") && i + 1 < argc)
            rekeyed = argv[++i];
        else if (!strcmp(argv[i], "--address") && i + 1 < argc)
            addr = argv[++i];
        else {
            client_usage_error("join", "bad argument '%s'\n" USAGE, argv[i]);
            return CLIENT_USAGE;
        }
    }
    if (!file || !addr || !strchr(addr, ':')) {
        client_usage_error("join", "--sponsor and --address HOST:PORT are required\n" USAGE);
        return CLIENT_USAGE;
    }
    /* the member whose key was lost: named by its printed id, since this
     * node holds nothing of the alliance yet to look a code up in */
    if (rekeyed && proto_id_parse(rekeyed, &as)) {
        client_usage_error("join", "--rekeyed には鍵を再発行した加盟団体の member id を指定してください"
                           "（他の加盟団体で catalogctl member show 団体コード）\n" USAGE);
        return CLIENT_USAGE;
    }
    certs_identity sp, id;
    store *st;
    char err[512];
    if (certs_read_file(file, &sp, err, sizeof err)) {
        client_errorf("join: %s", err);
        return CLIENT_FAIL;
    }
    int rc = client_open_node(&o, &id, &st);
    if (rc) {
        certs_free(&sp);
        return rc;
    }
    store_info si;
    store_info_get(st, &si);
    if (!memcmp(&sp.id, &id.id, 32)) {
        client_errorf("join: that is this node's own certificate");
        rc = CLIENT_REFUSED;
    } else if (rekeyed && !memcmp(&as, &id.id, 32)) {
        client_errorf("join: --rekeyed にはこのノードの鍵ではなく、鍵をなくした加盟団体の member id を指定してください");
        rc = CLIENT_REFUSED;
    } else if (rekeyed && memcmp(&si.self, &id.id, 32)) {
        client_errorf("join: --rekeyed は新しい鍵で catalogctl init した空のデータディレクトリで使います"
                      "（このストアは別の鍵のものです）");
        rc = CLIENT_REFUSED;
    } else if (rekeyed && store_meta_put(st, "rekeyed_as", as.b, 32)) {
        client_errorf("join: cannot write to the store");
        rc = CLIENT_FAIL;
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
        if (rekeyed) {
            char xs[PROTO_ID_STR];
            proto_id_str(&as, xs);
            printf("鍵の再発行: このノードは %s になります。この鍵（%s %s）への再発行の投票が定足数に達したことを"
                   "ストアが知ると、その団体としてその記録を受け取り、決定した時点までそろってから書き込めます"
                   "（それまでの書き込みは断ります）。\n", xs, id.code, id.name);
        }
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
