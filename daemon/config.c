/*
 * daemon/config.c — the settings table and what is derived from it: the
 * INI parser's handler (inih), the checks of each type, and the
 * `--print-config` output.  See daemon/config.h.
 */
#include "daemon/config.h"
#include "daemon/health.h"
#include "daemon/log.h"
#include "proto/limits.h"
#include "proto/util.h"

#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <arpa/inet.h>

/* Indexed by LOG_LVL_*: the value of an enum is its index. */
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
/* Indexed as log_init's use_syslog: 0 stderr (journald takes it), 1 syslog. */
static const char *const log_destinations[] = { "stderr", "syslog", NULL };
_Static_assert(LOG_LVL_ERROR == 0 && LOG_LVL_DEBUG == 3, "log_levels[] follows LOG_LVL_*");

/* Upper bounds: what no sane operator sets, so that a typo (an extra 0, a
 * value in seconds where milliseconds are meant the other way round) is
 * refused instead of running for years with it.  The fanout cannot usefully
 * exceed the authors an alliance can have (MSG_VV_MAX). */
const config_key config_keys[CONFIG_COUNT] = {
    /* Not reloadable: the store, the key and the lock are opened from it.
     * Its flag, --data, is parsed by main.c: unlike the key it may be
     * relative (to the working directory). */
    [CONFIG_DATA_DIR] = { "data_dir", CONFIG_PATH, 0, 0, NULL, 0, "", 0, "data",
                          "the node's data directory, made by catalogctl init (--data DIR wins)" },
    [CONFIG_LISTEN] = { "listen", CONFIG_ADDR, 0, 0, NULL, 0, "", 0, "listen",
                        "IP:PORT to accept peers on (empty: do not listen)" },
    [CONFIG_FANOUT] = { "fanout", CONFIG_INT, 0, MSG_VV_MAX, NULL, 0, NULL, 1, "fanout",
                        "members to keep connections to (0: all)" },
    [CONFIG_SYNC_INTERVAL_MS] = { "sync_interval_ms", CONFIG_INT, 50, 3600000, NULL, 2000, NULL, 1,
                                  "sync-interval", "anti-entropy period" },
    [CONFIG_LOG_LEVEL] = { "log_level", CONFIG_ENUM, 0, 0, log_levels, LOG_LVL_INFO, NULL, 1, "log-level",
                           "messages of this level and more severe are logged" },
    [CONFIG_MAP_SIZE_MB] = { "map_size_mb", CONFIG_INT, 16, 1L << 24, NULL, 4096, NULL, 0, NULL,
                             "LMDB map size (sparse; the file grows as needed)" },
    [CONFIG_DURABLE] = { "durable", CONFIG_BOOL, 0, 0, NULL, 0, NULL, 0, "durable",
                         "yes: every commit is synced whole (see Durability)" },
    [CONFIG_MAX_CONNECTIONS] = { "max_connections", CONFIG_INT, 1, 1000000, NULL, NODE_PEER_INBOUND_MAX, NULL, 0,
                                 "max-connections",
                                 "inbound peer connections at once (lowered to fit the descriptor limit)" },
    [CONFIG_MAX_PER_ADDRESS] = { "max_connections_per_address", CONFIG_INT, 1, 1000000, NULL,
                                 NODE_PEER_PER_ADDR_MAX, NULL, 0, "max-per-address",
                                 "inbound connections from one IP address still in the TLS handshake "
                                 "(established members do not count)" },
    [CONFIG_MAX_INBOUND_PEERS] = { "max_inbound_peers", CONFIG_INT, 0, 1000000, NULL, 0, NULL, 1,
                                   "max-inbound-peers",
                                   "with a fanout: members connected inbound at once past the handshake; "
                                   "more are told to dial another member (0: 4 x fanout)" },
    [CONFIG_HANDSHAKE_TIMEOUT_MS] = { "handshake_timeout_ms", CONFIG_INT, 100, 3600000, NULL,
                                      NODE_PEER_HANDSHAKE_MS, NULL, 0, "handshake-timeout",
                                      "from accept (or dial) to an established TLS session" },
    [CONFIG_IDLE_TIMEOUT_MS] = { "idle_timeout_ms", CONFIG_INT, 100, 86400000, NULL, NODE_PEER_IDLE_MS, NULL, 0,
                                 "idle-timeout",
                                 "an established peer that sends nothing this long is closed; "
                                 "it is pinged after a quarter of it" },
    [CONFIG_MEMBER_SILENCE_WARN_S] = { "member_silence_warn_s", CONFIG_INT, 1, 31536000, NULL,
                                       HEALTH_MEMBER_SILENCE_S, NULL, 1, NULL,
                                       "status reports a member not heard from this long (seconds)" },
    [CONFIG_WEB_LISTEN] = { "web_listen", CONFIG_ADDR, 0, 0, NULL, 0, "127.0.0.1:7480", 0, "web-listen",
                            "IP:PORT of the web view (empty: off; not loopback: needs access control)" },
    [CONFIG_WEB_USERS_FILE] = { "web_users_file", CONFIG_PATH, 0, 0, NULL, 0, "", 0, "web-users-file",
                                "web view users, name:crypt-hash lines (catalogctl web-user); "
                                "re-read when it changes; needs web_tls_cert" },
    [CONFIG_WEB_TLS_CERT] = { "web_tls_cert", CONFIG_PATH, 0, 0, NULL, 0, "", 0, "web-tls-cert",
                              "PEM certificate (chain) of the web view: it then serves HTTPS only; the file is read again on SIGHUP" },
    [CONFIG_WEB_TLS_KEY] = { "web_tls_key", CONFIG_PATH, 0, 0, NULL, 0, "", 0, "web-tls-key",
                             "PEM private key of web_tls_cert" },
    [CONFIG_WEB_TRUSTED_PROXY] = { "web_trusted_proxy", CONFIG_IP, 0, 0, NULL, 0, "", 0, "web-trusted-proxy",
                                   "the reverse proxy's IP: only it is served, and its X-Remote-User "
                                   "header names the user" },
    [CONFIG_CONTROL_SOCKET] = { "control_socket", CONFIG_PATH, 0, 0, NULL, 0, "", 0, "control",
                                "the control socket (empty: DIR/control.sock)" },
    [CONFIG_CONTROL_GROUP] = { "control_group", CONFIG_GROUP, 0, 0, NULL, 0, "", 0, "control-group",
                               "the control socket's group: its members may use catalogctl "
                               "(empty: the daemon's own group)" },
    [CONFIG_LOG_DESTINATION] = { "log_destination", CONFIG_ENUM, 0, 0, log_destinations, 0, NULL, 0,
                                 "log-destination", "stderr (journald takes it) or syslog" },
};

void config_defaults(config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < CONFIG_COUNT; i++) {
        c->num[i] = config_keys[i].def;
        if (config_keys[i].def_str)
            snprintf(c->str[i], sizeof c->str[i], "%s", config_keys[i].def_str);
    }
}

int config_find(const char *key)
{
    for (int i = 0; i < CONFIG_COUNT; i++)
        if (!strcmp(config_keys[i].key, key))
            return i;
    return -1;
}

void config_describe(int id, char *buf, size_t n)
{
    const config_key *k = &config_keys[id];
    size_t off;
    switch (k->type) {
    case CONFIG_INT:
        snprintf(buf, n, "an integer from %ld to %ld", k->min, k->max);
        break;
    case CONFIG_BOOL:
        snprintf(buf, n, "yes or no (also true/false, on/off, 1/0)");
        break;
    case CONFIG_ADDR:
        snprintf(buf, n, "IP:PORT or [IPv6]:PORT, or empty for none");
        break;
    case CONFIG_PATH:
        snprintf(buf, n, "an absolute path, or empty for none");
        break;
    case CONFIG_IP:
        snprintf(buf, n, "an IPv4 or IPv6 address, or empty for none");
        break;
    case CONFIG_GROUP:
        snprintf(buf, n, "the name of a group of this system, or empty for none");
        break;
    case CONFIG_ENUM:
        off = (size_t)snprintf(buf, n, "one of");
        for (int i = 0; k->values[i] && off < n; i++)
            off += (size_t)snprintf(buf + off, n - off, "%s %s", i ? "," : "", k->values[i]);
        break;
    }
}

/* A literal address the listener can bind (peer.c takes no names here). */
static int addr_ok(const char *a)
{
    char host[CONFIG_STR_MAX];
    const char *c;
    if (a[0] == '[') {
        const char *e = strchr(a, ']');
        if (!e || e[1] != ':')
            return 0;
        snprintf(host, sizeof host, "%.*s", (int)(e - a - 1), a + 1);
        c = e + 1;
    } else {
        if (!(c = strrchr(a, ':')))
            return 0;
        snprintf(host, sizeof host, "%.*s", (int)(c - a), a);
    }
    char *end;
    errno = 0;
    long port = strtol(c + 1, &end, 10);
    if (!c[1] || *end || errno || port <= 0 || port > 65535)
        return 0;
    if (!strcmp(host, "localhost"))
        return 1;
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;
    return uv_ip4_addr(host, (int)port, &s4) == 0 || uv_ip6_addr(host, (int)port, &s6) == 0;
}

/* A path is taken as written; no control characters (it is logged). */
static int path_ok(const char *p)
{
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int config_set(config *c, int id, const char *v, int from, char *err, size_t errlen)
{
    const config_key *k = &config_keys[id];
    char allowed[200];
    config_describe(id, allowed, sizeof allowed);
    switch (k->type) {
    case CONFIG_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (!*v || *end)
            return proto_err(err, errlen, "%s: '%s' is not a number (allowed: %s)", k->key, v, allowed);
        if (errno || n < k->min || n > k->max)
            return proto_err(err, errlen, "%s: %s is out of range (allowed: %s)", k->key, v, allowed);
        c->num[id] = n;
        break;
    }
    case CONFIG_BOOL:
        if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
            c->num[id] = 1;
        else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
            c->num[id] = 0;
        else
            return proto_err(err, errlen, "%s: '%s' is not a boolean (allowed: %s)", k->key, v, allowed);
        break;
    case CONFIG_ADDR:
        if (strlen(v) >= CONFIG_STR_MAX || (*v && !addr_ok(v)))
            return proto_err(err, errlen, "%s: '%s' is not an address (allowed: %s)", k->key, v, allowed);
        snprintf(c->str[id], sizeof c->str[id], "%s", v);
        break;
    case CONFIG_PATH:
        if (strlen(v) >= CONFIG_STR_MAX || (*v && (v[0] != '/' || !path_ok(v))))
            return proto_err(err, errlen, "%s: '%s' is not an absolute path (allowed: %s)", k->key, v, allowed);
        snprintf(c->str[id], sizeof c->str[id], "%s", v);
        break;
    case CONFIG_IP: {
        unsigned char bin[16];
        if (strlen(v) >= CONFIG_STR_MAX ||
            (*v && inet_pton(AF_INET, v, bin) != 1 && inet_pton(AF_INET6, v, bin) != 1))
            return proto_err(err, errlen, "%s: '%s' is not an IP address (allowed: %s)", k->key, v, allowed);
        snprintf(c->str[id], sizeof c->str[id], "%s", v);
        break;
    }
    case CONFIG_GROUP: {
        /* looked up now, so a typo is refused with FILE:LINE at start */
        struct group gr, *res = NULL;
        char gbuf[4096];
        if (strlen(v) >= CONFIG_STR_MAX || (*v && (getgrnam_r(v, &gr, gbuf, sizeof gbuf, &res) || !res)))
            return proto_err(err, errlen, "%s: no group '%s' on this system (allowed: %s)", k->key, v, allowed);
        snprintf(c->str[id], sizeof c->str[id], "%s", v);
        break;
    }
    case CONFIG_ENUM: {
        int i;
        for (i = 0; k->values[i] && strcmp(k->values[i], v); i++)
            ;
        if (!k->values[i])
            return proto_err(err, errlen, "%s: unknown value '%s' (allowed: %s)", k->key, v, allowed);
        c->num[id] = i;
        break;
    }
    }
    c->from[id] = (unsigned char)from;
    return 0;
}

/* The parse of one file.  inih (as Debian builds it) does not pass line
 * numbers to the handler, so the reader counts them; it also swallows the
 * rest of a line longer than inih's buffer, which inih would otherwise take
 * for the next line, and marks the file bad. */
typedef struct {
    FILE *f;
    config *c;
    int line;                      /* of the line last read */
    int set_at[CONFIG_COUNT];      /* line that set each key, 0 if none */
    int err_line;
    char err[400];
} parse_ctx;

static void parse_fail(parse_ctx *p, const char *msg)
{
    if (!p->err_line) {   /* the first error is the one reported */
        p->err_line = p->line;
        snprintf(p->err, sizeof p->err, "%s", msg);
    }
}

static char *reader(char *str, int num, void *stream)
{
    parse_ctx *p = stream;
    if (!fgets(str, num, p->f))
        return NULL;
    p->line++;
    size_t n = strlen(str);
    if (n && str[n - 1] != '\n' && !feof(p->f)) {
        int ch;
        while ((ch = fgetc(p->f)) != EOF && ch != '\n')
            ;
        char msg[64];
        snprintf(msg, sizeof msg, "line longer than %d bytes", num - 2);
        parse_fail(p, msg);
    }
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    char msg[400];
    if (*section && strcmp(section, "catalogd")) {
        snprintf(msg, sizeof msg, "unknown section [%.64s] (allowed: none, or [catalogd])", section);
        parse_fail(p, msg);
        return 0;
    }
    int id = config_find(name);
    if (id < 0) {
        size_t off = (size_t)snprintf(msg, sizeof msg, "unknown key '%.64s' (known:", name);
        for (int i = 0; i < CONFIG_COUNT && off < sizeof msg; i++)
            off += (size_t)snprintf(msg + off, sizeof msg - off, " %s", config_keys[i].key);
        if (off < sizeof msg)
            snprintf(msg + off, sizeof msg - off, ")");
        parse_fail(p, msg);
        return 0;
    }
    if (p->set_at[id]) {
        snprintf(msg, sizeof msg, "%s is already set on line %d", name, p->set_at[id]);
        parse_fail(p, msg);
        return 0;
    }
    if (config_set(p->c, id, value, CONFIG_FROM_FILE, msg, sizeof msg)) {
        parse_fail(p, msg);
        return 0;
    }
    p->set_at[id] = p->line;
    return 1;
}

int config_read(config *c, const char *path, int missing_ok, char *err, size_t errlen)
{
    parse_ctx p = { .c = c };
    if (!(p.f = fopen(path, "r"))) {
        if (errno == ENOENT && missing_ok)
            return 0;
        return proto_err(err, errlen, "%s: %s", path, strerror(errno));
    }
    int rc = ini_parse_stream(reader, &p, handler, &p);
    int read_err = ferror(p.f);
    fclose(p.f);
    if (read_err)
        return proto_err(err, errlen, "%s: read error", path);
    if (rc > 0 && !p.err_line)   /* inih's own refusal: no '=' or an unclosed section */
        return proto_err(err, errlen, "%s:%d: expected 'key = value', '[catalogd]' or a comment", path, rc);
    if (rc < 0)
        return proto_err(err, errlen, "%s: out of memory", path);
    if (p.err_line)
        return proto_err(err, errlen, "%s:%d: %s", path, p.err_line, p.err);
    return 0;
}

void config_merge_flags(config *dst, const config *over)
{
    for (int i = 0; i < CONFIG_COUNT; i++)
        if (over->from[i] == CONFIG_FROM_FLAG) {
            dst->num[i] = over->num[i];
            memcpy(dst->str[i], over->str[i], sizeof dst->str[i]);
            dst->from[i] = CONFIG_FROM_FLAG;
        }
}

int config_same(const config *a, const config *b, int id)
{
    return a->num[id] == b->num[id] && !strcmp(a->str[id], b->str[id]);
}

static void format_value(int id, long num, const char *str, char *buf, size_t n)
{
    const config_key *k = &config_keys[id];
    switch (k->type) {
    case CONFIG_INT: snprintf(buf, n, "%ld", num); break;
    case CONFIG_BOOL: snprintf(buf, n, "%s", num ? "yes" : "no"); break;
    case CONFIG_ADDR:
    case CONFIG_PATH:
    case CONFIG_IP:
    case CONFIG_GROUP: snprintf(buf, n, "%s", str); break;
    case CONFIG_ENUM: snprintf(buf, n, "%s", k->values[num]); break;
    }
}

void config_format(const config *c, int id, char *buf, size_t n)
{
    format_value(id, c->num[id], c->str[id], buf, n);
}

void config_print(FILE *f, const config *c, const char *source)
{
    static const char *const from[] = { "default", "file", "command line" };
    fprintf(f, "# catalogd.conf: the effective settings (catalogd --print-config%s%s)\n",
               source ? ", file " : "", source ? source : "");
    fprintf(f, "# Every key may be left out (its default applies); keys may also stand\n"
               "# under a [catalogd] section.  Command-line flags override the file.\n");
    for (int i = 0; i < CONFIG_COUNT; i++) {
        const config_key *k = &config_keys[i];
        char allowed[200], def[CONFIG_STR_MAX], val[CONFIG_STR_MAX];
        config_describe(i, allowed, sizeof allowed);
        format_value(i, k->def, k->def_str ? k->def_str : "", def, sizeof def);
        config_format(c, i, val, sizeof val);
        fprintf(f, "\n# %s\n# %s; default: %s; SIGHUP: %s", k->help, allowed, *def ? def : "(empty)",
                k->reload ? "applied live" : "needs a restart");
        if (k->flag)
            fprintf(f, "; flag: --%s", k->flag);
        fprintf(f, "; from: %s\n%s = %s\n", from[c->from[i]], k->key, val);
    }
}
