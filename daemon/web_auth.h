/*
 * daemon/web_auth.h — who may use the web view (web_auth.c).
 *
 * Three modes, from d->conf (docs/OPERATIONS.md "Web view"):
 *   - open: a loopback web_listen without web_users_file or
 *     web_trusted_proxy; every request is served (HTTPS if a certificate
 *     is set);
 *   - users: web_users_file and web_tls_cert/web_tls_key: HTTPS only, and
 *     every request signs in with HTTP Basic against the users file;
 *   - proxy: web_trusted_proxy: only connections from that address are
 *     served, and its X-Remote-User header names the user.
 * A non-loopback web_listen in the open mode is refused at start-up.
 */
#ifndef DAEMON_WEB_AUTH_H
#define DAEMON_WEB_AUTH_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "daemon/catalogd.h"

typedef struct web_auth web_auth;
struct st_h2o_req_t;

/* The mode for a listener (loopback: 1 when web_listen is a loopback
 * address); loads the users file and the TLS certificate.  NULL with err
 * when the settings do not allow serving that address. */
web_auth *web_auth_open(catalogd *d, const char *listen, int loopback, char *err, size_t errlen);
void web_auth_free(web_auth *a);
/* The TLS context for the listener (owned by a), or NULL: plain HTTP. */
SSL_CTX *web_auth_ssl_ctx(const web_auth *a);
/* Reads web_tls_cert and web_tls_key again (the paths in force); the new
 * context replaces the old one only if all of it loads: -1 with err, and
 * the old one still serves, otherwise.  0 and nothing done without TLS. */
int web_auth_reload_tls(web_auth *a, char *err, size_t errlen);
/* "subject, serial, valid until" of the certificate served; -1 without one. */
int web_auth_tls_describe(const web_auth *a, char *buf, size_t n);
/* 1 when addr (16 bytes: IPv6, or IPv4 as ::ffff:a.b.c.d) is the trusted
 * proxy web_trusted_proxy names, the whole address: every browser's request
 * comes from it, so web.c does not hold it to one address's share of the
 * connections. */
int web_auth_is_proxy(const web_auth *a, const uint8_t addr[16]);

/* A refused request: what web.c sends instead of the page. */
typedef struct {
    int status;              /* 401, 403, 429, 503 */
    const char *body;        /* a whole Japanese HTML page */
    const char *header;      /* one more response header, or NULL */
    char value[160];         /* its value */
} web_auth_refusal;

/* 0: serve the request, as user (the signed-in user, "" in the open
 * mode); otherwise *r says what to answer.  Runs on the loop: a password
 * hash is computed at most once per NODE_WEB_AUTH_CACHE_MS per user and
 * password, and never for an address over its failures. */
int web_auth_check(web_auth *a, struct st_h2o_req_t *req, char *user, size_t n, web_auth_refusal *r);

#endif
