/*
 * daemon/metrics.h — the daemon's metrics in the Prometheus text exposition
 * format 0.0.4, for monitoring: served at /metrics on the web view's
 * listener and by the control command "metrics" (catalogctl metrics), the
 * same text from one function.  docs/OPERATIONS.md "Metrics" lists them.
 *
 * The counters are d->counters (daemon/catalogd.h), incremented where the
 * events happen; a scrape reads them, store_info_get and the connections,
 * never walks the store's records.
 */
#ifndef DAEMON_METRICS_H
#define DAEMON_METRICS_H

#include <msgpack.h>
#include "daemon/catalogd.h"
#include "daemon/web_int.h"

/* The release this source is (catalogd_info's version); a package build
 * may pass its own with -DCATALOGD_VERSION='"…"'. */
#ifndef CATALOGD_VERSION
#define CATALOGD_VERSION "0.1.0"
#endif

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct peer;

/* The whole exposition into out.  0, or -1 (out->failed: out of memory, or
 * past NODE_METRICS_BODY_MAX). */
int metrics_format(catalogd *d, web_buf *out);

/* A connection is going away (peer.c): its member's traffic is kept. */
void metrics_peer_closed(struct peer *p);
/* Frees what the counters hold (at exit). */
void metrics_free(catalogd *d);

/* The control command "metrics": {"ok": true, "text": the exposition}. */
int metrics_cmd(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen);

#endif
