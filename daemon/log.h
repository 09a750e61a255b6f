/*
 * daemon/log.h — leveled logging to stderr (or syslog with --syslog).
 *
 * The settings live in the daemon's struct (d->log); every call names the
 * daemon: log_warn(d, "…", …).  One line per event, no secrets.  Every line
 * is escaped as a whole (proto_text_esc): peer data may be passed as it is.
 */
#ifndef DAEMON_LOG_H
#define DAEMON_LOG_H

enum { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

typedef struct log_cfg {
    int level;        /* messages above it are dropped */
    int use_syslog;
} log_cfg;

void log_init(log_cfg *l, int level, int use_syslog);
int  log_level_parse(const char *s);   /* -1 if unknown */
void log_msg(const log_cfg *l, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(d, ...) log_msg(&(d)->log, LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(d, ...)  log_msg(&(d)->log, LOG_LVL_WARN, __VA_ARGS__)
#define log_info(d, ...)  log_msg(&(d)->log, LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(d, ...) log_msg(&(d)->log, LOG_LVL_DEBUG, __VA_ARGS__)

#endif
