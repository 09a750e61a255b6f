/* daemon/log.c — see log.h. */
#include "daemon/log.h"
#include "proto/limits.h"
#include "proto/text.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

void log_init(log_cfg *l, int level, int use_syslog)
{
    if (use_syslog && !l->use_syslog)
        openlog("catalogd", LOG_PID, LOG_DAEMON);
    l->level = level;
    l->use_syslog = use_syslog;
}

int log_level_parse(const char *s)
{
    static const char *names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

void log_msg(const log_cfg *l, int level, const char *fmt, ...)
{
    static const char *tag[] = { "error", "warn", "info", "debug" };
    static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
    if (level > l->level)
        return;
    char raw[LOG_LINE_MAX], msg[PROTO_TEXT_ESC_MAX(LOG_LINE_MAX)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    /* Arguments carry what peers chose (a certificate's CN, a member's name,
     * a record key, an error text): escaping the whole line here, once,
     * keeps terminal and log-injection sequences (ESC[2J, CR, a fake second
     * line) out of the log whatever a call site forgets.  Our own format
     * strings hold no control characters, so nothing of ours changes. */
    proto_text_esc(raw, msg, sizeof msg);
    if (l->use_syslog) {
        syslog(prio[level], "%s", msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            tag[level], msg);
}
