/*
 * daemon/main.c — catalogd: one member's node.
 *
 *   catalogd --data DIR [--config FILE] [options]
 *   catalogd --config FILE [options]          (FILE sets data_dir)
 *   catalogd --print-config [--data DIR | --config FILE] [options]
 *
 * The options are those of the settings table (catalogd --help).
 *
 * Settings come from DIR/catalogd.conf (INI, parsed by inih; every key, its
 * range, default and flag are in daemon/config.c's table) and then from the
 * command line.  SIGHUP re-reads the file: the keys marked reloadable apply
 * live, the others are logged as needing a restart.  SIGTERM/SIGINT drain
 * and exit.
 */
#include "daemon/catalogd.h"
#include "daemon/control.h"
#include "daemon/gossip.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/web.h"
#include "daemon/peer.h"
#include "daemon/rotate.h"
#include "catalog/index.h"
#include "daemon/indexer.h"
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
        "       catalogd --config FILE [options]   (FILE sets data_dir)\n"
        "       catalogd --print-config [--data DIR | --config FILE] [options]\n"
        "  --data DIR            node data directory (made by 'catalogctl init'); wins over the key data_dir\n"
        "  --config FILE         settings file (default DIR/catalogd.conf, which may be absent)\n"
        "  --syslog              log to syslog instead of stderr (= --log-destination syslog)\n"
        "  --print-config        print the effective settings as a catalogd.conf and exit\n"
        "  --help                print this usage and exit\n");
    /* the rest from the settings table, so that flags and keys agree
     * (--data, data_dir's flag, is main's own: see above) */
    for (int i = 0; i < CONFIG_COUNT; i++) {
        const config_key *k = &config_keys[i];
        if (!k->flag || i == CONFIG_DATA_DIR)
            continue;
        char opt[64], allowed[200];
        snprintf(opt, sizeof opt, "--%s%s", k->flag, k->type == CONFIG_BOOL ? "" : " V");
        config_describe(i, allowed, sizeof allowed);
        fprintf(f, "  %-21s %s (key %s; %s)\n", opt, k->help, k->key, allowed);
    }
}

static void conf_path(const char *dir, char *buf, size_t n)
{
    snprintf(buf, n, "%s/catalogd.conf", dir);
}

/* SIGHUP: the file is read again whole, into a copy, so that a bad file
 * changes nothing.  Flags still win.  What changed is logged key by key;
 * keys the running daemon cannot change (the store is open, the listener
 * bound, budgets sized) keep their running value and say so. */
static void reload(catalogd *d)
{
    config next;
    char err[600], path[1100];
    snprintf(path, sizeof path, "%s", d->conf_file);
    config_defaults(&next);
    if (config_read(&next, path, !d->conf_explicit, err, sizeof err)) {
        log_error(d, "reload refused: %s (keeping the running settings)", err);
        return;
    }
    config_merge_flags(&next, &d->conf_flags);
    unsigned applied = 0, pending = 0;
    for (int i = 0; i < CONFIG_COUNT; i++) {
        if (config_same(&d->conf, &next, i))
            continue;
        char was[CONFIG_STR_MAX], now[CONFIG_STR_MAX];
        config_format(&d->conf, i, was, sizeof was);
        config_format(&next, i, now, sizeof now);
        if (config_keys[i].reload) {
            log_info(d, "reload: %s %s \u2192 %s (applied)", config_keys[i].key, *was ? was : "(empty)",
                     *now ? now : "(empty)");
            d->conf.num[i] = next.num[i];
            memcpy(d->conf.str[i], next.str[i], sizeof d->conf.str[i]);
            d->conf.from[i] = next.from[i];
            applied++;
        } else {
            log_warn(d, "reload: %s %s \u2192 %s needs a restart (still %s)", config_keys[i].key,
                     *was ? was : "(empty)", *now ? now : "(empty)", *was ? was : "(empty)");
            pending++;
        }
    }
    log_init(&d->log, (int)d->conf.num[CONFIG_LOG_LEVEL], d->log.use_syslog);
    d->fanout = (unsigned)d->conf.num[CONFIG_FANOUT];
    d->max_inbound_peers = (unsigned)d->conf.num[CONFIG_MAX_INBOUND_PEERS];
    d->sync_interval_ms = (unsigned)d->conf.num[CONFIG_SYNC_INTERVAL_MS];
    catalogd_reload_sponsor(d);   /* a join written since the start; fanout's new targets */
    web_reload_tls(d);            /* a renewed certificate at the same paths */
    log_info(d, "reloaded %s: %u change(s) applied, %u waiting for a restart", path, applied, pending);
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
    web_force_close(d);
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
    indexer_stop(d);   /* a search index build stops at its next record */
    control_close(d);
    web_close(d);
    peer_shutdown(d);
    /* Kept, unref'd (main's walk closes them): with the last watcher of a
     * signal closed libuv restores its default action, and a SIGHUP during
     * the stop (a certificate renewal's hook) would kill the daemon before
     * the store is closed. */
    uv_unref((uv_handle_t *)&d->sigterm);
    uv_unref((uv_handle_t *)&d->sigint);
    uv_unref((uv_handle_t *)&d->sighup);
}

static void on_signal(uv_signal_t *s, int sig)
{
    catalogd *d = s->data;
    if (d->stopping) {
        log_info(d, "%s while stopping: ignored", sig == SIGHUP ? "SIGHUP" : sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
    if (sig == SIGHUP) {
        reload(d);
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
    proto_id was = d->sponsor_id;
    load_sponsor(d);
    proto_id dg, gh;
    int has_genesis = 1;
    store_digest_get(d->st, &dg, &gh, &has_genesis);
    /* join named another sponsor, or dropped a genesis held unchecked:
     * what was heard under the old one is not trusted */
    if ((had && (!d->have_sponsor || memcmp(&was, &d->sponsor_id, 32))) || !has_genesis)
        node_sponsor_changed(d);
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
    d->sponsor_refused = 0;
    if (store_meta_get(d->st, "sponsor_id", d->sponsor_id.b, &n) || n != 32)
        return 0;
    /* a sponsor whose genesis was refused stays refused until join is run
     * again (it clears the mark) */
    proto_id refused;
    n = 32;
    if (store_meta_get(d->st, "sponsor_refused", refused.b, &n) == 0 && n == 32 &&
        !memcmp(&refused, &d->sponsor_id, 32))
        d->sponsor_refused = 1;
    n = sizeof d->sponsor_addr - 1;
    if (store_meta_get(d->st, "sponsor_addr", d->sponsor_addr, &n) == 0)
        d->sponsor_addr[n] = 0;
    d->have_sponsor = 1;
    return 0;
}

enum { OPT_DATA = 1, OPT_CONFIG, OPT_SYSLOG, OPT_PRINT, OPT_HELP, OPT_KEY = 0x100 };

int main(int argc, char **argv)
{
    /* the fixed options, then one per key of the table that has a flag */
    struct option opts[8 + CONFIG_COUNT] = {
        { "data", required_argument, NULL, OPT_DATA },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "syslog", no_argument, NULL, OPT_SYSLOG },
        { "print-config", no_argument, NULL, OPT_PRINT },
        { "help", no_argument, NULL, OPT_HELP },
    };
    int nopts = 5;
    for (int i = 0; i < CONFIG_COUNT; i++)
        if (config_keys[i].flag && i != CONFIG_DATA_DIR)
            opts[nopts++] = (struct option){ config_keys[i].flag,
                                             config_keys[i].type == CONFIG_BOOL ? no_argument : required_argument,
                                             NULL, OPT_KEY + i };
    opts[nopts] = (struct option){ NULL, 0, NULL, 0 };

    static catalogd d;   /* one per process; static keeps it off the stack */
    const char *data = NULL, *conf_file = NULL;
    int print = 0, c;
    char err[600], path[1100];
    config_defaults(&d.conf_flags);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA:
            /* unlike the key, a relative DIR is taken as given (the socket
             * path DIR/control.sock stays short); it still overrides the file */
            if (!*optarg || strlen(optarg) >= CONFIG_STR_MAX) {
                fprintf(stderr, "catalogd: --data: a directory name of 1 to %d bytes\n", CONFIG_STR_MAX - 1);
                return 2;
            }
            data = optarg;
            snprintf(d.conf_flags.str[CONFIG_DATA_DIR], sizeof d.conf_flags.str[CONFIG_DATA_DIR], "%s", data);
            d.conf_flags.from[CONFIG_DATA_DIR] = CONFIG_FROM_FLAG;
            break;
        case OPT_CONFIG: conf_file = optarg; break;
        case OPT_SYSLOG:
            config_set(&d.conf_flags, CONFIG_LOG_DESTINATION, "syslog", CONFIG_FROM_FLAG, err, sizeof err);
            break;
        case OPT_PRINT: print = 1; break;
        case OPT_HELP: usage(stdout); return 0;
        default:
            if (c >= OPT_KEY && c < OPT_KEY + CONFIG_COUNT) {
                int id = c - OPT_KEY;
                if (config_set(&d.conf_flags, id, optarg ? optarg : "yes", CONFIG_FROM_FLAG, err, sizeof err)) {
                    fprintf(stderr, "catalogd: --%s: %s\n", config_keys[id].flag, err);
                    return 2;
                }
                break;
            }
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (!data && !conf_file && !print)) {
        usage(stderr);
        return 2;
    }
    config_defaults(&d.conf);
    /* --config names a file that must exist; DIR/catalogd.conf may be absent */
    if (conf_file || data) {
        if (conf_file)
            snprintf(path, sizeof path, "%s", conf_file);
        else
            conf_path(data, path, sizeof path);
        snprintf(d.conf_file, sizeof d.conf_file, "%s", path);
        d.conf_explicit = conf_file != NULL;
        if (config_read(&d.conf, path, !conf_file, err, sizeof err)) {
            fprintf(stderr, "catalogd: %s\n", err);
            return 1;
        }
    }
    config_merge_flags(&d.conf, &d.conf_flags);
    if (print) {
        config_print(stdout, &d.conf, conf_file || data ? path : NULL);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    /* --data, else the file's data_dir */
    data = d.conf.str[CONFIG_DATA_DIR];
    if (!*data) {
        fprintf(stderr, "catalogd: no data directory: give --data DIR, or data_dir in %s\n", path);
        return 2;
    }
    const config *st = &d.conf;
    log_init(&d.log, (int)st->num[CONFIG_LOG_LEVEL], st->num[CONFIG_LOG_DESTINATION] == 1);
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());

    snprintf(d.data_dir, sizeof d.data_dir, "%s", data);
    snprintf(d.listen_addr, sizeof d.listen_addr, "%s", st->str[CONFIG_LISTEN]);
    if (st->str[CONFIG_CONTROL_SOCKET][0])
        snprintf(d.ctl_path, sizeof d.ctl_path, "%s", st->str[CONFIG_CONTROL_SOCKET]);
    else
        snprintf(d.ctl_path, sizeof d.ctl_path, "%s/control.sock", data);
    /* the table's ranges keep every value within unsigned */
    d.fanout = (unsigned)st->num[CONFIG_FANOUT];
    d.sync_interval_ms = (unsigned)st->num[CONFIG_SYNC_INTERVAL_MS];
    d.max_inbound = (unsigned)st->num[CONFIG_MAX_CONNECTIONS];
    d.max_per_addr = (unsigned)st->num[CONFIG_MAX_PER_ADDRESS];
    d.max_inbound_peers = (unsigned)st->num[CONFIG_MAX_INBOUND_PEERS];
    d.handshake_ms = (unsigned)st->num[CONFIG_HANDSHAKE_TIMEOUT_MS];
    d.idle_ms = (unsigned)st->num[CONFIG_IDLE_TIMEOUT_MS];
    fit_fd_limit(&d);

    /* One daemon per data directory: LMDB would allow two, the network would not. */
    snprintf(path, sizeof path, "%s/catalogd.lock", data);
    int lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
        log_error(&d, "another catalogd is running on %s", data);
        return 1;
    }
    rotate_recover_files(&d, data);
    if (certs_load(data, &d.id, err, sizeof err)) {
        log_error(&d, "%s", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/db", data);
    if (store_open(path, (size_t)st->num[CONFIG_MAP_SIZE_MB], &d.st, err, sizeof err) ||
        rotate_startup(&d, err, sizeof err)) {
        log_error(&d, "store: %s", err);
        certs_free(&d.id);
        return 1;
    }
    /* the test runner sets this: every record hash ingest hands to the
     * store is computed again there, so a record paired with another's
     * hash fails its batch instead of passing unseen (store.h) */
    if (getenv("CATALOGD_CHECK_HASHES"))
        store_check_hashes(d.st, 1);
    if (st->num[CONFIG_DURABLE] && store_set_durable(d.st, 1, err, sizeof err)) {
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
    if (control_listen(&d, err, sizeof err) || peer_init(&d, err, sizeof err) || peer_listen(&d, err, sizeof err) ||
        web_listen(&d, err, sizeof err)) {
        log_error(&d, "%s", err);
        control_close(&d);
        web_close(&d);
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
    log_info(&d, "catalogd %s %s (%s) ready: %llu records, alliance %s, control %s%s%s", d.id.code, d.id.name,
             ids, (unsigned long long)si.records, si.has_genesis ? si.alliance : "(none yet)", d.ctl_path,
             d.web ? ", web view " : "", web_url(&d));
    notify_ready(&d);
    uv_run(d.loop, UV_RUN_DEFAULT);
    rc = 0;
out:
    if (uv_loop_close(d.loop) == UV_EBUSY) {
        uv_walk(d.loop, on_walk_close, NULL);
        /* closing the signals' watchers gave them back their default
         * actions, and the run below may wait for the thread pool (a
         * backup, a key being made): a SIGHUP or SIGTERM now must not kill
         * the daemon before the store is closed */
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        uv_run(d.loop, UV_RUN_DEFAULT);
        uv_loop_close(d.loop);
    }
    peer_free_all(&d);
    metrics_free(&d);
    catalog_index_free(d.index);
    free(d.sponsor_pos);
    gossip_free(&d);
    store_close(d.st);
    certs_free(&d.id);
    close(lockfd);
    log_info(&d, "stopped");
    return rc;
}
