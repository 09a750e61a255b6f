/*
 * daemon/web.h — the web view: the catalog in the staff's browser, served by
 * catalogd itself on its event loop (libh2o, which runs on libuv).
 *
 * Read-only: no page writes a record.  Every page is built from the same
 * typed catalog query API the control socket uses (catalog/index.h), from
 * the node's own store.  See docs/OPERATIONS.md "Web view".
 */
#ifndef DAEMON_WEB_H
#define DAEMON_WEB_H

#include <stddef.h>
#include "daemon/catalogd.h"

/* Start listening on d->conf's web_listen (nothing when it is empty).
 * Refuses a non-loopback address without access control configured.
 * 0, or -1 with err. */
int  web_listen(catalogd *d, char *err, size_t errlen);
/* Stop accepting; close idle connections; free everything once the last
 * connection has closed (or at once if there is none).  Safe to call
 * twice and without web_listen. */
void web_close(catalogd *d);
/* The grace is over: whatever web connections remain are abandoned to the
 * loop's final walk. */
void web_force_close(catalogd *d);
/* SIGHUP: web_tls_cert and web_tls_key are read again (a renewed
 * certificate at the same paths); new connections get it, open ones keep
 * theirs.  A file that does not load is logged and the running certificate
 * stays.  Nothing without TLS. */
void web_reload_tls(catalogd *d);
/* Bodies (exports) being built on the thread pool now, for the metrics. */
unsigned web_jobs_building(const catalogd *d);
/* Requests waiting for the search index's build (daemon/indexer.h). */
unsigned web_parked_count(const catalogd *d);
/* The address the view listens on ("" when off), e.g. for the ready line. */
const char *web_url(const catalogd *d);

#endif
