/*
 * daemon/notify.h — telling systemd how the daemon is (sd_notify).
 *
 * Under a unit with Type=notify, systemd counts catalogd as started only
 * when it says READY=1, i.e. once the store is open and the control socket
 * and the peer listener accept; `systemctl status` shows the STATUS= line.
 * Without NOTIFY_SOCKET in the environment (started by hand, by the tests)
 * every call returns at once.
 */
#ifndef DAEMON_NOTIFY_H
#define DAEMON_NOTIFY_H

struct catalogd;

void notify_ready(struct catalogd *d);     /* store open, listeners up */
void notify_stopping(struct catalogd *d);  /* SIGTERM / SIGINT received */
void notify_tick(struct catalogd *d);      /* from the timer: STATUS= if due and changed */

#endif
