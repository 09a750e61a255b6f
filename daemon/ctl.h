/* daemon/ctl.h — the control socket (Unix domain, mode 0660). */
#ifndef DAEMON_CTL_H
#define DAEMON_CTL_H
#include <msgpack.h>
#include "daemon/catalogd.h"

int  ctl_listen(catalogd *d, char *err, size_t errlen);

/* A control command: reads its arguments from the request map, packs a
 * whole reply map (with "ok": true) into pk, or returns -1 with err. */
typedef int (*ctl_fn)(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk,
                      char *err, size_t errlen);

/* Collect records (as bin) for a reply: begin, add (a store_rec_cb), end
 * packs `key` and the array into pk. */
typedef struct {
    msgpack_sbuffer tmp;
    msgpack_packer tpk;
    uint32_t n;
    uint64_t limit;
} ctl_list;
void ctl_list_begin(ctl_list *l);
int  ctl_list_rec(void *ctx, const uint8_t *rec, size_t len);
void ctl_list_end(ctl_list *l, msgpack_packer *pk, const char *key);

/* daemon/control_catalog.c — certifications and adoptions */
int catalog_cmd_put(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
int catalog_cmd_find(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
int catalog_cmd_search(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);
void ctl_close(catalogd *d);

#endif
