/* daemon/control.h — the control socket (Unix domain, mode 0660). */
#ifndef DAEMON_CONTROL_H
#define DAEMON_CONTROL_H
#include <msgpack.h>
#include "daemon/catalogd.h"
#include "proto/frame.h"

int  control_listen(catalogd *d, char *err, size_t errlen);
void control_close(catalogd *d);
/* Whether a client's backup is being written (it copies node.key: a key
 * rotation waits for it). */
int  control_backup_running(catalogd *d);
/* Records just applied (node_applied's arguments): each watcher that is
 * caught up gets those it has not had (daemon/control_watch.c). */
void control_watch_applied(catalogd *d, const proto_record *recs, const int *results, size_t n);

/* A control command: reads its arguments from the request map, packs a
 * whole reply map (with "ok": true) into pk, or returns -1 with err. */
typedef int (*control_fn)(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                          char *err, size_t errlen);

/* Collect records (as bin) for a reply: begin, add (a store_rec_cb), then
 * put (the entry `key` of the reply map m: the array of records). */
typedef struct {
    msgpack_sbuffer tmp;
    msgpack_packer tpk;
    uint32_t n;
    uint64_t limit;
} control_list;
void control_list_begin(control_list *l);
int  control_list_rec(void *ctx, const uint8_t *rec, size_t len);
void control_list_put(control_list *l, proto_map *m, const char *key);

/* daemon/control_catalog.c — certifications and adoptions */
int catalog_cmd_put(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
int catalog_cmd_find(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
int catalog_cmd_search(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
/* daemon/control_policy.c — the alliance's policy: show, propose, endorse */
int policy_cmd_show(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
int policy_cmd_propose(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
int policy_cmd_endorse(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);

/* The entry "members": [[member id, code, name, status], ...] of a reply map
 * (every member the store knows, for labels such as "131059 文京区"; status
 * as member list says it: a former member's name is marked). */
void catalog_cmd_members_put(catalogd *d, proto_map *m);

#endif
