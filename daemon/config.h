/*
 * daemon/config.h — catalogd's settings: one table (config_keys) says, for
 * every key of DIR/catalogd.conf, its type and range, its default, its
 * command-line flag, whether SIGHUP applies it and what it means.  The
 * parser (inih), the command line, `catalogd --print-config`, the reload and
 * docs/OPERATIONS.md (checked by tests/integration/test_config.py) all come
 * from that table, so a key cannot be documented one way and parsed another.
 *
 * The file is INI: `key = value` lines, `#` or `;` comments, keys either
 * before any section or under `[catalogd]` (so that the file can be shared
 * with tools that want a section); any other section, an unknown key, a key
 * given twice or a bad value refuses the whole file with FILE:LINE.
 */
#ifndef DAEMON_CONFIG_H
#define DAEMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum config_id {
    CONFIG_DATA_DIR,
    CONFIG_LISTEN,
    CONFIG_FANOUT,
    CONFIG_SYNC_INTERVAL_MS,
    CONFIG_LOG_LEVEL,
    CONFIG_MAP_SIZE_MB,
    CONFIG_DURABLE,
    CONFIG_MAX_CONNECTIONS,
    CONFIG_MAX_PER_ADDRESS,
    CONFIG_HANDSHAKE_TIMEOUT_MS,
    CONFIG_IDLE_TIMEOUT_MS,
    CONFIG_MEMBER_SILENCE_WARN_S,
    CONFIG_WEB_LISTEN,
    CONFIG_WEB_USERS_FILE,
    CONFIG_WEB_TLS_CERT,
    CONFIG_WEB_TLS_KEY,
    CONFIG_WEB_TRUSTED_PROXY,
    CONFIG_CONTROL_SOCKET,
    CONFIG_CONTROL_GROUP,
    CONFIG_LOG_DESTINATION,
    CONFIG_MAX_INBOUND_PEERS,
    CONFIG_COUNT
};

typedef enum {
    CONFIG_INT,    /* decimal, min..max */
    CONFIG_BOOL,   /* yes/no, true/false, on/off, 1/0 */
    CONFIG_ADDR,   /* IP:PORT ([IPv6]:PORT), or empty for none */
    CONFIG_ENUM,   /* one of values[]; the value is its index */
    CONFIG_PATH,   /* an absolute path, or empty for none */
    CONFIG_IP,     /* an IP address (no port), or empty for none */
    CONFIG_GROUP,  /* the name of a group of this system, or empty for none */
} config_type;

typedef struct config_key {
    const char *key;
    config_type type;
    long min, max;                /* CONFIG_INT */
    const char *const *values;    /* CONFIG_ENUM, NULL-terminated */
    long def;                     /* default of INT, BOOL, ENUM */
    const char *def_str;          /* default of ADDR, PATH, IP */
    int reload;                   /* SIGHUP applies it to the running daemon */
    const char *flag;             /* long option overriding it, or NULL */
    const char *help;             /* one line, as in docs/OPERATIONS.md */
} config_key;

extern const config_key config_keys[CONFIG_COUNT];

#define CONFIG_STR_MAX 256

/* Where a value came from (config.from[]). */
enum { CONFIG_FROM_DEFAULT = 0, CONFIG_FROM_FILE, CONFIG_FROM_FLAG };

typedef struct config {
    long num[CONFIG_COUNT];                  /* INT, BOOL (0/1), ENUM (index) */
    char str[CONFIG_COUNT][CONFIG_STR_MAX];  /* ADDR, PATH, IP */
    unsigned char from[CONFIG_COUNT];
} config;

/* Every key at its default. */
void config_defaults(config *c);

/* The key's id, or -1. */
int config_find(const char *key);

/* Sets key id from text; on a bad value 0 is not returned and err says what
 * is allowed (without a location: the caller prefixes FILE:LINE or the flag). */
int config_set(config *c, int id, const char *value, int from, char *err, size_t errlen);

/* Reads an INI file over c (keys it sets are marked CONFIG_FROM_FILE).  A
 * missing file is 0 when missing_ok.  On error err starts with "PATH:LINE: "
 * and c may be half-updated: read into a copy to keep the old settings. */
int config_read(config *c, const char *path, int missing_ok, char *err, size_t errlen);

/* Copies into dst the keys over has from the command line. */
void config_merge_flags(config *dst, const config *over);

/* 1 when key id has the same value in a and b. */
int config_same(const config *a, const config *b, int id);

/* The value as it would be written in the file. */
void config_format(const config *c, int id, char *buf, size_t n);

/* The allowed values in words ("an integer from 0 to 8192"). */
void config_describe(int id, char *buf, size_t n);

/* Every key with its value and, in comments, type, range, default, reload
 * and origin: a valid catalogd.conf.  source names the file read (or NULL). */
void config_print(FILE *f, const config *c, const char *source);

#endif
