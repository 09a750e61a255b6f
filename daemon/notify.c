/*
 * daemon/notify.c — sd_notify through libsystemd (see notify.h).
 */
#include "daemon/notify.h"
#include "daemon/catalogd.h"
#include "daemon/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

/* The status line costs a read transaction and a walk of the members:
 * cheap, but an idle node's timer fires every few hundred ms, and
 * systemd needs no fresher view than this. */
#define NOTIFY_STATUS_MS 5000

static void status_line(catalogd *d, char *out, size_t n)
{
    store_info si;
    unsigned established = 0, total = 0;
    for (struct peer *p = d->peers; p; p = p->next) {
        total++;
        established += p->state == PEER_ESTABLISHED;
    }
    if (store_info_get(d->st, &si)) {
        snprintf(out, n, "STATUS=store unreadable; %u of %u peer connections established", established, total);
        return;
    }
    /* the alliance name comes from a signed record: printable, no
     * newlines (proto/text.h), so it cannot add a line of its own to the
     * notification */
    snprintf(out, n, "STATUS=%llu records, %llu members, %u of %u peer connections established, alliance %s%s",
             (unsigned long long)si.records, (unsigned long long)si.members, established, total,
             si.has_genesis ? si.alliance : "(none yet)", si.forks ? ", FORKS seen" : "");
}

static void send_status(catalogd *d)
{
    char line[sizeof d->notify_status];
    status_line(d, line, sizeof line);
    d->notify_at_ms = uv_now(d->loop);
    if (!strcmp(line, d->notify_status))
        return;
    memcpy(d->notify_status, line, sizeof line);
    sd_notify(0, line);
}

void notify_ready(catalogd *d)
{
    /* asked once: sd_notify itself looks the variable up on every call,
     * but the status line is only worth building for a listener */
    const char *e = getenv("NOTIFY_SOCKET");
    d->notify = e && *e;
    if (!d->notify)
        return;
    char line[sizeof d->notify_status];
    status_line(d, line, sizeof line);
    memcpy(d->notify_status, line, sizeof line);
    d->notify_at_ms = uv_now(d->loop);
    /* one datagram: systemd sees the status together with the readiness */
    char msg[sizeof line + 16];
    snprintf(msg, sizeof msg, "READY=1\n%s", line);
    sd_notify(0, msg);
}

void notify_stopping(catalogd *d)
{
    if (d->notify)
        sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
}

void notify_tick(catalogd *d)
{
    if (!d->notify || d->stopping || uv_now(d->loop) - d->notify_at_ms < NOTIFY_STATUS_MS)
        return;
    send_status(d);
}
