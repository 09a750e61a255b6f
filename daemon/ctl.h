/* daemon/ctl.h — the control socket (Unix domain, mode 0660). */
#ifndef DAEMON_CTL_H
#define DAEMON_CTL_H
#include "daemon/catalogd.h"

int  ctl_listen(catalogd *d, char *err, size_t errlen);
void ctl_close(catalogd *d);

#endif
