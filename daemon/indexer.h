/*
 * daemon/indexer.h — the search index's builds, off the event loop.
 *
 * The first search after a start (and a rebuild: a fork, a new policy, an
 * initial sync's many changes) reads every current certification and
 * adoption: seconds at 100,000, during which the loop served no peer, no
 * control client and no browser.  Such a build runs on libuv's thread
 * pool instead, from a read snapshot taken on the loop at catalog_gen
 * (catalog/index.h, catalog_index_build_*); what is applied meanwhile is
 * noted by the index as usual and folded in, in place, when the build is
 * put in.  The requests that search meanwhile — web pages, control
 * csearch — are held (parked) by their modules, bounded there, and
 * resumed by the calls below when the build ends.
 */
#ifndef DAEMON_INDEXER_H
#define DAEMON_INDEXER_H

#include "daemon/catalogd.h"

/* 1: d->index may be searched now (built at catalog_gen, or brought there
 * in place in a few ms: the caller's search does it).  0: a build runs on
 * the thread pool (started now if it had to be): the caller parks its
 * request; web_index_built and control_index_built resume it. */
int indexer_ready(catalogd *d);
/* At the stop: a build running stops at its next record. */
void indexer_stop(catalogd *d);
/* A build is on the thread pool now (for the metrics and the tests). */
int indexer_building(const catalogd *d);

/* Implemented by the modules that park (web.c, control.c): the build has
 * ended, ok 1 if the index is built (else their requests are answered
 * with an error: the build failed or the daemon stops). */
void web_index_built(catalogd *d, int ok);
void control_index_built(catalogd *d, int ok);

#endif
