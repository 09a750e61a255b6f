/*
 * daemon/main.c — catalogd: one member's node.
 *
 *   catalogd --data DIR [--control PATH] [--listen HOST:PORT] [--fanout N]
 *            [--sync-interval MS] [--log-level LEVEL] [--syslog] [--durable]
 *            [--max-connections N] [--max-per-address N]
 *            [--handshake-timeout MS] [--idle-timeout MS]
 *
 * Settings come from DIR/catalogd.conf ("key = value" lines; every key has a
 * default) and then from the command line.  SIGHUP re-reads the file's
 * log_level, fanout and sync_interval_ms.  SIGTERM/SIGINT drain and exit.
 */
#include "daemon/catalogd.h"
#include "daemon/control.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/notify.h"
#include "daemon/peer.h"
#include "catalog/index.h"
#include "proto/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char listen[256];
    long fanout, sync_ms, map_mb;
    int log_level;
    long max_conn, max_per_addr, handshake_ms, idle_ms;
    int durable;   /* -1 unset */
} settings;

/* "N >= min" into *out; 0 or -1 */
static int parse_num(const char *v, long min, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min)
        return -1;
    *out = n;
    return 0;
}

static int parse_bool(const char *v)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
        return 1;
    if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
        return 0;
    return -1;
}

#define CHURN_TRIM (8u << 20)

void catalogd_churn(catalogd *d, size_t bytes)
{
    d->churned += bytes;
    if (d->churned >= CHURN_TRIM) {
        d->churned = 0;
        malloc_trim(0);
        if (d->st)
            store_release_pages(d->st);
    }
}

/* The search index trims before and after a (re)build. */
static void index_trim(void *d)
{
    catalogd_churn(d, CATALOGD_CHURN_NOW);
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: catalogd --data DIR [options]\n"
        "  --data DIR            node data directory (made by 'catalogctl init')\n"
        "  --control PATH        control socket (default DIR/control.sock)\n"
        "  --listen HOST:PORT    accept peers here (default: from catalogd.conf, else none)\n"
        "  --fanout N            connect to at most N members (default 0 = all)\n"
        "  --sync-interval MS    anti-entropy period (default 2000)\n"
        "  --log-level LEVEL     error, warn, info (default) or debug\n"
        "  --syslog              log to syslog instead of stderr\n"
        "  --durable             sync every commit fully (survives power loss; slower)\n"
        "  --max-connections N   inbound peer connections at once (default 2048)\n"
        "  --max-per-address N   inbound connections from one IP address (default 16)\n"
        "  --handshake-timeout MS  accept to TLS session (default 10000)\n"
        "  --idle-timeout MS     close a peer silent this long (default 60000)\n");
}

/* Read DIR/catalogd.conf into s; a missing file is fine, a bad line is not. */
static int read_conf(const char *dir, settings *s, char *err, size_t errlen)
{
    char path[1100], line[512];
    snprintf(path, sizeof path, "%s/catalogd.conf", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? 0 : proto_err(err, errlen, "%s: %s", path, strerror(errno));
    int ln = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        char *p = line, *k, *v, *e;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        k = p;
        v = strchr(p, '=');
        if (!v) {
            rc = proto_err(err, errlen, "%s:%d: expected 'key = value'", path, ln);
            break;
        }
        *v++ = 0;
        for (e = v + strlen(v); e > v && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
            *--e = 0;
        while (*v == ' ' || *v == '\t')
            v++;
        for (e = k + strlen(k); e > k && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = 0;
        char *end;
        if (!strcmp(k, "listen"))
            snprintf(s->listen, sizeof s->listen, "%s", v);
        else if (!strcmp(k, "fanout") && (s->fanout = strtol(v, &end, 10), !*end && s->fanout >= 0))
            ;
        else if (!strcmp(k, "sync_interval_ms") && (s->sync_ms = strtol(v, &end, 10), !*end && s->sync_ms >= 50))
            ;
        else if (!strcmp(k, "map_size_mb") && (s->map_mb = strtol(v, &end, 10), !*end && s->map_mb >= 16))
            ;
        else if (!strcmp(k, "log_level") && (s->log_level = log_level_parse(v)) >= 0)
            ;
        else if (!strcmp(k, "max_connections") && parse_num(v, 1, &s->max_conn) == 0)
            ;
        else if (!strcmp(k, "max_connections_per_address") && parse_num(v, 1, &s->max_per_addr) == 0)
            ;
        else if (!strcmp(k, "handshake_timeout_ms") && parse_num(v, 100, &s->handshake_ms) == 0)
            ;
        else if (!strcmp(k, "idle_timeout_ms") && parse_num(v, 100, &s->idle_ms) == 0)
            ;
        else if (!strcmp(k, "durable") && (s->durable = parse_bool(v)) >= 0)
            ;
        else {
            rc = proto_err(err, errlen, "%s:%d: unknown key or bad value for '%s'", path, ln, k);
            break;
        }
    }
    fclose(f);
    return rc;
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* The grace is over: whatever has not closed cleanly is closed now.
 * Verify jobs still on the thread pool finish (they cannot be interrupted)
 * and apply their batch; the store is closed once the loop is empty. */
static void on_stop_timer(uv_timer_t *t)
{
    catalogd *d = t->data;
    log_info(d, "closing what is still open after %u ms", NODE_STOP_GRACE_MS);
    control_close(d);
    peer_force_close(d);
}

static void stop(catalogd *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    log_info(d, "%s: shutting down", why);
    notify_stopping(d);
    /* unref'd: it bounds the stop, it does not keep the loop running */
    uv_timer_start(&d->stop_timer, on_stop_timer, NODE_STOP_GRACE_MS, 0);
    uv_unref((uv_handle_t *)&d->stop_timer);
    control_close(d);
    peer_shutdown(d);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void on_signal(uv_signal_t *s, int sig)
{
    catalogd *d = s->data;
    if (sig == SIGHUP) {
        settings st = { .fanout = d->fanout, .sync_ms = d->sync_interval_ms, .log_level = -1 };
        char err[512];
        if (read_conf(d->data_dir, &st, err, sizeof err)) {
            log_error(d, "reload: %s (keeping the old settings)", err);
            return;
        }
        if (st.log_level >= 0)
            log_init(&d->log, st.log_level, d->log.use_syslog);
        d->fanout = (unsigned)st.fanout;
        d->sync_interval_ms = (unsigned)st.sync_ms;
        catalogd_reload_sponsor(d);   /* a join written since the start */
        log_info(d, "reloaded catalogd.conf");
        return;
    }
    stop(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Keep the connection cap under RLIMIT_NOFILE: past it accept fails with
 * EMFILE and nothing, not even LMDB or the control socket, can open a file.
 * The soft limit is raised to the hard one first; NODE_FD_RESERVE stays
 * for everything else, and the rest is shared evenly by inbound
 * connections and our own dials. */
static void fit_fd_limit(catalogd *d)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    if (rl.rlim_cur == RLIM_INFINITY)
        return;
    rlim_t room = rl.rlim_cur > NODE_FD_RESERVE + 2 ? (rl.rlim_cur - NODE_FD_RESERVE) / 2 : 1;
    if (d->max_inbound > room) {
        log_warn(d, "max_connections %u lowered to %llu to fit the descriptor limit (RLIMIT_NOFILE %llu)",
                 d->max_inbound, (unsigned long long)room, (unsigned long long)rl.rlim_cur);
        d->max_inbound = (unsigned)room;
    }
}

static int load_sponsor(catalogd *d);

void catalogd_reload_sponsor(catalogd *d)
{
    int had = d->have_sponsor;
    load_sponsor(d);
    if (d->have_sponsor && !had) {
        char ids[PROTO_ID_STR];
        proto_id_str(&d->sponsor_id, ids);
        log_info(d, "sponsor %s at %s: dialing it", ids, d->sponsor_addr);
    }
    peer_targets_changed(d);
}

static int load_sponsor(catalogd *d)
{
    size_t n = 32;
    if (store_meta_get(d->st, "sponsor_id", d->sponsor_id.b, &n) || n != 32)
        return 0;
    n = sizeof d->sponsor_addr - 1;
    if (store_meta_get(d->st, "sponsor_addr", d->sponsor_addr, &n) == 0)
        d->sponsor_addr[n] = 0;
    d->have_sponsor = 1;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "data", required_argument, NULL, 'd' },
        { "control", required_argument, NULL, 'c' },
        { "listen", required_argument, NULL, 'l' },
        { "fanout", required_argument, NULL, 'f' },
        { "sync-interval", required_argument, NULL, 's' },
        { "log-level", required_argument, NULL, 'v' },
        { "syslog", no_argument, NULL, 'S' },
        { "durable", no_argument, NULL, 'D' },
        { "max-connections", required_argument, NULL, 'M' },
        { "max-per-address", required_argument, NULL, 'A' },
        { "handshake-timeout", required_argument, NULL, 'H' },
        { "idle-timeout", required_argument, NULL, 'I' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static catalogd d;   /* one per process; static keeps it off the stack */
    settings cli = { .fanout = -1, .sync_ms = -1, .map_mb = -1, .log_level = -1, .max_conn = -1,
                     .max_per_addr = -1, .handshake_ms = -1, .idle_ms = -1, .durable = -1 };
    const char *data = NULL, *control = NULL;
    int use_syslog = 0, c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'c': control = optarg; break;
        case 'l': snprintf(cli.listen, sizeof cli.listen, "%s", optarg); break;
        case 'f':
            cli.fanout = strtol(optarg, &end, 10);
            if (*end || cli.fanout < 0) { fprintf(stderr, "catalogd: --fanout wants a number >= 0\n"); return 2; }
            break;
        case 's':
            cli.sync_ms = strtol(optarg, &end, 10);
            if (*end || cli.sync_ms < 50) { fprintf(stderr, "catalogd: --sync-interval wants milliseconds >= 50\n"); return 2; }
            break;
        case 'v':
            if ((cli.log_level = log_level_parse(optarg)) < 0) {
                fprintf(stderr, "catalogd: --log-level: error, warn, info or debug\n");
                return 2;
            }
            break;
        case 'S': use_syslog = 1; break;
        case 'D': cli.durable = 1; break;
        case 'M':
            if (parse_num(optarg, 1, &cli.max_conn)) { fprintf(stderr, "catalogd: --max-connections wants a number >= 1\n"); return 2; }
            break;
        case 'A':
            if (parse_num(optarg, 1, &cli.max_per_addr)) { fprintf(stderr, "catalogd: --max-per-address wants a number >= 1\n"); return 2; }
            break;
        case 'H':
            if (parse_num(optarg, 100, &cli.handshake_ms)) { fprintf(stderr, "catalogd: --handshake-timeout wants milliseconds >= 100\n"); return 2; }
            break;
        case 'I':
            if (parse_num(optarg, 100, &cli.idle_ms)) { fprintf(stderr, "catalogd: --idle-timeout wants milliseconds >= 100\n"); return 2; }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!data || optind != argc) {
        usage(stderr);
        return 2;
    }
    settings st = { .fanout = 0, .sync_ms = 2000, .map_mb = 4096, .log_level = LOG_LVL_INFO,
                    .max_conn = NODE_PEER_INBOUND_MAX, .max_per_addr = NODE_PEER_PER_ADDR_MAX,
                    .handshake_ms = NODE_PEER_HANDSHAKE_MS, .idle_ms = NODE_PEER_IDLE_MS, .durable = 0 };
    char err[512], path[1100];
    if (read_conf(data, &st, err, sizeof err)) {
        fprintf(stderr, "catalogd: %s\n", err);
        return 1;
    }
    if (cli.listen[0]) memcpy(st.listen, cli.listen, sizeof st.listen);
    if (cli.fanout >= 0) st.fanout = cli.fanout;
    if (cli.sync_ms >= 0) st.sync_ms = cli.sync_ms;
    if (cli.log_level >= 0) st.log_level = cli.log_level;
    if (cli.max_conn >= 0) st.max_conn = cli.max_conn;
    if (cli.max_per_addr >= 0) st.max_per_addr = cli.max_per_addr;
    if (cli.handshake_ms >= 0) st.handshake_ms = cli.handshake_ms;
    if (cli.idle_ms >= 0) st.idle_ms = cli.idle_ms;
    if (cli.durable >= 0) st.durable = cli.durable;
    log_init(&d.log, st.log_level, use_syslog);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    snprintf(d.data_dir, sizeof d.data_dir, "%s", data);
    snprintf(d.listen_addr, sizeof d.listen_addr, "%s", st.listen);
    if (control)
        snprintf(d.ctl_path, sizeof d.ctl_path, "%s", control);
    else
        snprintf(d.ctl_path, sizeof d.ctl_path, "%s/control.sock", data);
    d.fanout = (unsigned)st.fanout;
    d.sync_interval_ms = (unsigned)st.sync_ms;
    d.max_inbound = st.max_conn > 1000000 ? 1000000u : (unsigned)st.max_conn;
    d.max_per_addr = st.max_per_addr > 1000000 ? 1000000u : (unsigned)st.max_per_addr;
    d.handshake_ms = st.handshake_ms > 3600000 ? 3600000u : (unsigned)st.handshake_ms;
    d.idle_ms = st.idle_ms > 86400000 ? 86400000u : (unsigned)st.idle_ms;
    fit_fd_limit(&d);

    if (certs_load(data, &d.id, err, sizeof err)) {
        log_error(&d, "%s", err);
        return 1;
    }
    /* One daemon per data directory: LMDB would allow two, the network would not. */
    snprintf(path, sizeof path, "%s/catalogd.lock", data);
    int lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
        log_error(&d, "another catalogd is running on %s", data);
        certs_free(&d.id);
        return 1;
    }
    snprintf(path, sizeof path, "%s/db", data);
    if (store_open(path, (size_t)st.map_mb, &d.st, err, sizeof err) ||
        store_bind_self(d.st, &d.id.id, err, sizeof err)) {
        log_error(&d, "store: %s", err);
        certs_free(&d.id);
        return 1;
    }
    if (st.durable && store_set_durable(d.st, 1, err, sizeof err)) {
        log_error(&d, "store: %s", err);
        store_close(d.st);
        certs_free(&d.id);
        return 1;
    }
    load_sponsor(&d);
    if (!(d.index = catalog_index_new())) {
        log_error(&d, "out of memory");
        store_close(d.st);
        certs_free(&d.id);
        return 1;
    }
    catalog_index_set_trim(d.index, index_trim, &d);

    d.loop = uv_default_loop();
    int rc = 1;
    if (control_listen(&d, err, sizeof err) || peer_init(&d, err, sizeof err) || peer_listen(&d, err, sizeof err)) {
        log_error(&d, "%s", err);
        control_close(&d);
        uv_walk(d.loop, on_walk_close, NULL);
        uv_run(d.loop, UV_RUN_DEFAULT);
        goto out;
    }
    uv_timer_init(d.loop, &d.stop_timer);
    d.stop_timer.data = &d;
    uv_signal_init(d.loop, &d.sigterm);
    uv_signal_init(d.loop, &d.sigint);
    uv_signal_init(d.loop, &d.sighup);
    d.sigterm.data = d.sigint.data = d.sighup.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_signal, SIGHUP);
    peer_start(&d);

    store_info si;
    char ids[PROTO_ID_STR];
    store_info_get(d.st, &si);
    proto_id_str(&d.id.id, ids);
    log_info(&d, "catalogd %s %s (%s) ready: %llu records, alliance %s, control %s", d.id.code, d.id.name,
             ids, (unsigned long long)si.records, si.has_genesis ? si.alliance : "(none yet)", d.ctl_path);
    notify_ready(&d);
    uv_run(d.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    if (uv_loop_close(d.loop) == UV_EBUSY) {
        uv_walk(d.loop, on_walk_close, NULL);
        uv_run(d.loop, UV_RUN_DEFAULT);
        uv_loop_close(d.loop);
    }
    peer_free_all(&d);
    catalog_index_free(d.index);
    gossip_free(&d);
    store_close(d.st);
    certs_free(&d.id);
    close(lockfd);
    log_info(&d, "stopped");
    return rc;
}
