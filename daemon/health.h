/*
 * daemon/health.h — what `catalogctl status` says is wrong, if anything:
 * per member whether its digest equals ours and when it was last heard, and
 * the problems (a fork, a silent member, a nearly full map, our certificate
 * nearing its end).  The thresholds are named here so that the manual and
 * the code cannot disagree.
 */
#ifndef DAEMON_HEALTH_H
#define DAEMON_HEALTH_H

#include "daemon/catalogd.h"
#include "proto/frame.h"

/* Default of member_silence_warn_s: a member silent for days is down or cut off. */
#define HEALTH_MEMBER_SILENCE_S (3L * 86400)
/* Used pages above this share of map_size_mb: writes will soon fail (MDB_MAP_FULL). */
#define HEALTH_MAP_FULL_PCT 90
/* Our certificate ends within this many days: peers will refuse us after it. */
#define HEALTH_CERT_WARN_DAYS 30
/* Forked authors named one by one; beyond, one summary problem. */
#define HEALTH_FORK_AUTHORS_MAX 8

/* Adds "health" to a status reply: { ok, problems: [{code, text}],
 * peers: [{member_id, code, name, state, in_sync, last_heard_s?, last_sync_s?}] }. */
void health_pack(catalogd *d, const store_info *si, proto_map *m);

#endif
