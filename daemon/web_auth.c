/*
 * daemon/web_auth.c — the web view's access control: HTTPS with the
 * administrator's certificate, HTTP Basic against a users file of crypt(3)
 * hashes, or a trusted reverse proxy that signs users in itself.  See
 * daemon/web_auth.h for the modes and docs/OPERATIONS.md "Web view".
 *
 * Everything runs on the event loop, so everything is bounded: the users
 * file is read whole only when it changes (stat at most once per
 * NODE_WEB_USERS_STAT_MS), a password is hashed only when its (user,
 * keyed SHA-256) pair is not in the small cache of recent successes, an
 * address over its failures gets 429 without a hash, and at most
 * NODE_WEB_AUTH_CRYPTS_PER_S hashes are computed per second in all.
 * No password is ever logged or kept: the cache holds an HMAC under a key
 * drawn at start, and crypt's work area is wiped after each use.
 */
#include "daemon/web_auth.h"
#include "daemon/log.h"
#include "proto/limits.h"
#include "proto/text.h"
#include "proto/util.h"

#include <h2o.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/bn.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MODE_OPEN, MODE_USERS, MODE_PROXY };

/* The header a trusted proxy names the user in (docs/OPERATIONS.md). */
#define PROXY_USER_HEADER "x-remote-user"

typedef struct {
    char name[NODE_WEB_USER_MAX + 1];
    char hash[NODE_WEB_HASH_MAX + 1];
} web_user;

/* Credentials that verified lately. */
typedef struct {
    char name[NODE_WEB_USER_MAX + 1];
    uint8_t mac[32];           /* HMAC-SHA256(key, name NUL password) */
    uint64_t until_ms;         /* 0: free */
} cred_slot;

/* One client address: its failed sign-ins and its refusals' log lines. */
typedef struct {
    uint8_t addr[16];          /* IPv6 /64 (the rest zero), or IPv4 as ::ffff:a.b.c.d */
    int used;
    uint64_t window_ms;        /* when its first failure of the window was */
    unsigned failures;         /* in that window */
    uint64_t logged_ms;        /* a refusal last logged */
    unsigned unlogged;         /* refusals since, not logged */
} addr_slot;

/* The users file as last read. */
typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} file_id;

struct web_auth {
    catalogd *d;
    int mode;
    SSL_CTX *ssl;
    char users_path[CONFIG_STR_MAX];
    web_user *users;
    size_t nusers;
    file_id users_id;          /* of the file read (or last refused) */
    uint64_t users_checked_ms;
    uint8_t proxy[16];
    char proxy_text[INET6_ADDRSTRLEN];
    uint8_t key[32];
    cred_slot creds[NODE_WEB_AUTH_CACHE_SLOTS];
    addr_slot addrs[NODE_WEB_AUTH_FAIL_SLOTS];
    uint64_t crypt_second;
    unsigned crypts;           /* in crypt_second */
    char dummy[CRYPT_OUTPUT_SIZE];   /* hashed against for an unknown user */
    char www_auth[96];
    struct crypt_data cd;      /* crypt_rn's work area (32 KiB): off the stack */
};

/* ---- the refusal pages (self-contained: no stylesheet, no catalog data) ---- */

#define PAGE(title, text)                                                                        \
    "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>" title            \
    "</title></head>\n<body><main><h1>" title "</h1>\n<p class=\"error\">" text "</p></main>" \
    "</body></html>\n"

static const char page_401[] =
    PAGE("サインインが必要です",
         "この認定カタログを見るには、利用者名とパスワードを入れてください。"
         "利用者の登録はこのノードの管理者に依頼してください。");
static const char page_403_addr[] =
    PAGE("このアドレスからは利用できません",
         "このノードの認定カタログは、決められた中継サーバー（リバースプロキシ）を通してのみ見られます。");
static const char page_403_user[] =
    PAGE("利用者名が届いていません",
         "中継サーバー（リバースプロキシ）から利用者名が届きませんでした。"
         "このノードの管理者に中継サーバーの設定を確認するよう依頼してください。");
static const char page_429[] =
    PAGE("しばらくお待ちください",
         "サインインの失敗が続いたため、この端末からのサインインを1分ほど受け付けません。"
         "時間をおいてからもう一度お試しください。");
static const char page_503[] =
    PAGE("混み合っています", "サインインの確認が混み合っています。少し待ってからもう一度お試しください。");

/* ---- names and addresses ---- */

/* A user name: 1..NODE_WEB_USER_MAX bytes of UTF-8 text without control
 * characters or ':' (the users file's separator, and Basic's). */
static int name_ok(const char *s, size_t n)
{
    return n >= 1 && n <= NODE_WEB_USER_MAX && !memchr(s, ':', n) && !memchr(s, 0, n) &&
           proto_text_check(s, n, 0, NULL) == 0;
}

/* An IPv4 (4 bytes) or IPv6 (16 bytes) address as 16 bytes, IPv4 mapped. */
static void norm_addr(int family, const void *bytes, uint8_t out[16])
{
    memset(out, 0, 16);
    if (family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, bytes, 4);
    } else {
        memcpy(out, bytes, 16);
    }
}

static void addr_text(const uint8_t a[16], char *buf, size_t n)
{
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (!memcmp(a, v4mapped, 12))
        inet_ntop(AF_INET, a + 12, buf, (socklen_t)n);
    else
        inet_ntop(AF_INET6, a, buf, (socklen_t)n);
}

/* The request's client address; -1 if the connection cannot say. */
static int peer_addr(h2o_req_t *req, uint8_t out[16])
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (!req->conn->callbacks->get_peername || !req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss))
        return -1;
    if (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)
        return -1;
    if (ss.ss_family == AF_INET)
        norm_addr(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out);
    else
        norm_addr(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out);
    return 0;
}

static addr_slot *addr_find(web_auth *a, const uint8_t peer[16])
{
    /* An IPv4 address, or an IPv6 /64, as the web view's connection caps
     * count (daemon/web.c source_of): one host is usually handed a whole
     * /64, and counted per address a guesser would take
     * NODE_WEB_AUTH_FAIL_MAX guesses from each of its 2^64 addresses. */
    static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    uint8_t addr[16];
    memcpy(addr, peer, 16);
    if (memcmp(addr, v4mapped, 12))
        memset(addr + 8, 0, 8);
    /* else a free slot, else the one whose window and last line are oldest */
    addr_slot *reuse = NULL;
    uint64_t reuse_age = 0;
    for (size_t i = 0; i < NODE_WEB_AUTH_FAIL_SLOTS; i++) {
        addr_slot *s = &a->addrs[i];
        if (s->used && !memcmp(s->addr, addr, 16))
            return s;
        uint64_t age = !s->used ? 0 : s->window_ms > s->logged_ms ? s->window_ms : s->logged_ms;
        if (!reuse || age < reuse_age) {
            reuse = s;
            reuse_age = age;
        }
    }
    memset(reuse, 0, sizeof *reuse);
    reuse->used = 1;
    memcpy(reuse->addr, addr, 16);
    return reuse;
}

/* A refusal to log, at most once per NODE_WEB_AUTH_LOG_MS per address:
 * 1 when this one is to be logged (s->unlogged then counts the others). */
static int refusal_logged(addr_slot *s, uint64_t now, unsigned *others)
{
    if (s->logged_ms && now - s->logged_ms < NODE_WEB_AUTH_LOG_MS) {
        s->unlogged++;
        return 0;
    }
    *others = s->unlogged;
    s->unlogged = 0;
    s->logged_ms = now;
    return 1;
}

/* ---- the users file ---- */

static void file_id_of(const struct stat *st, file_id *f)
{
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtime = st->st_mtim;
}

static int file_id_same(const file_id *x, const file_id *y)
{
    return x->dev == y->dev && x->ino == y->ino && x->size == y->size && x->mtime.tv_sec == y->mtime.tv_sec &&
           x->mtime.tv_nsec == y->mtime.tv_nsec;
}

/* "name:hash" lines; empty lines and '#' comments are skipped.  The whole
 * file is refused (PATH:LINE) for any line that is not one, a name given
 * twice, or a hash crypt(3) does not take. */
static int users_parse(const char *path, char *text, size_t len, web_user **out, size_t *nout, char *err,
                       size_t errlen)
{
    web_user *u = NULL;
    size_t n = 0, cap = 0;
    int line = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        line++;
        if (e > p && e[-1] == '\r')
            e[-1] = 0, e--;
        *e = 0;
        size_t ll = (size_t)(e - p);
        if (ll && p[0] != '#') {
            char *colon = strchr(p, ':');
            if (!colon || !name_ok(p, (size_t)(colon - p))) {
                free(u);
                return proto_err(err, errlen, "%s:%d: expected name:hash (a name of 1 to %u bytes, no ':')",
                                 path, line, NODE_WEB_USER_MAX);
            }
            const char *hash = colon + 1;
            size_t hl = strlen(hash);
            if (hl == 0 || hl > NODE_WEB_HASH_MAX || crypt_checksalt(hash) != CRYPT_SALT_OK) {
                free(u);
                return proto_err(err, errlen, "%s:%d: not a password hash crypt(3) accepts "
                                 "(make one with catalogctl web-user add)", path, line);
            }
            *colon = 0;
            for (size_t i = 0; i < n; i++)
                if (!strcmp(u[i].name, p)) {
                    free(u);
                    return proto_err(err, errlen, "%s:%d: user %s is already on an earlier line", path, line, p);
                }
            if (n == NODE_WEB_USERS_MAX) {
                free(u);
                return proto_err(err, errlen, "%s:%d: more than %u users", path, line, NODE_WEB_USERS_MAX);
            }
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 16;
                web_user *g = realloc(u, nc * sizeof *g);
                if (!g) {
                    free(u);
                    return proto_err(err, errlen, "out of memory");
                }
                u = g;
                cap = nc;
            }
            snprintf(u[n].name, sizeof u[n].name, "%s", p);
            snprintf(u[n].hash, sizeof u[n].hash, "%s", hash);
            n++;
        }
        p = nl ? nl + 1 : end;
    }
    *out = u;
    *nout = n;
    return 0;
}

/* Reads the file whole (bounded) and parses it; on success *id is the
 * file read.  Blocking, but only at start and when the file changed. */
static int users_load(web_auth *a, web_user **out, size_t *n, file_id *id, char *err, size_t errlen)
{
    const char *path = a->users_path;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return proto_err(err, errlen, "web_users_file %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return proto_err(err, errlen, "web_users_file %s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > NODE_WEB_USERS_FILE_MAX) {
        close(fd);
        return proto_err(err, errlen, "web_users_file %s: larger than %u bytes", path, NODE_WEB_USERS_FILE_MAX);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return proto_err(err, errlen, "out of memory");
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = 0;
    int rc = users_parse(path, buf, got, out, n, err, errlen);
    free(buf);
    if (rc == 0) {
        file_id_of(&st, id);
        if (st.st_mode & S_IROTH)
            log_warn(a->d, "web_users_file %s is readable by every local user (chmod 0640 it)", path);
    }
    return rc;
}

/* The file changed since it was read (stat at most once per
 * NODE_WEB_USERS_STAT_MS): read it again; a bad file keeps the users read
 * before, and is logged once. */
static void users_refresh(web_auth *a, uint64_t now)
{
    if (a->users_checked_ms && now - a->users_checked_ms < NODE_WEB_USERS_STAT_MS)
        return;
    a->users_checked_ms = now;
    struct stat st;
    file_id id;
    if (stat(a->users_path, &st)) {
        memset(&id, 0, sizeof id);
        if (!file_id_same(&id, &a->users_id))
            log_error(a->d, "web_users_file %s: %s (keeping the %zu user(s) read before)", a->users_path,
                      strerror(errno), a->nusers);
        a->users_id = id;
        return;
    }
    file_id_of(&st, &id);
    if (file_id_same(&id, &a->users_id))
        return;
    web_user *u;
    size_t n;
    char err[400];
    if (users_load(a, &u, &n, &id, err, sizeof err)) {
        log_error(a->d, "%s (keeping the %zu user(s) read before)", err, a->nusers);
        file_id_of(&st, &a->users_id);   /* not again until it changes */
        return;
    }
    OPENSSL_cleanse(a->users, a->nusers * sizeof *a->users);
    free(a->users);
    a->users = u;
    a->nusers = n;
    a->users_id = id;
    /* a removed user or a changed password must not live on in the cache */
    OPENSSL_cleanse(a->creds, sizeof a->creds);
    log_info(a->d, "web_users_file %s read again: %zu user(s)", a->users_path, n);
}

/* ---- Basic credentials ---- */

/* "Basic base64(user:password)" into user and pass; -1 if it is not that. */
static int basic_parse(const char *v, size_t vl, char *user, char *pass)
{
    if (vl < 6 || strncasecmp(v, "basic ", 6))
        return -1;
    v += 6, vl -= 6;
    while (vl && *v == ' ')
        v++, vl--;
    while (vl && v[vl - 1] == ' ')
        vl--;
    enum { B64_MAX = (NODE_WEB_USER_MAX + 1 + NODE_WEB_PASSWORD_MAX + 2) / 3 * 4 };
    if (vl == 0 || vl > B64_MAX || vl % 4)
        return -1;
    unsigned char dec[B64_MAX / 4 * 3 + 1];
    int dl = EVP_DecodeBlock(dec, (const unsigned char *)v, (int)vl);
    if (dl < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding's zero bytes */
    if (v[vl - 1] == '=')
        dl--;
    if (v[vl - 2] == '=')
        dl--;
    int rc = -1;
    unsigned char *colon = memchr(dec, ':', (size_t)dl);
    size_t ul = colon ? (size_t)(colon - dec) : 0, pl = colon ? (size_t)dl - ul - 1 : 0;
    if (colon && ul >= 1 && ul <= NODE_WEB_USER_MAX && pl <= NODE_WEB_PASSWORD_MAX && !memchr(dec, 0, (size_t)dl)) {
        memcpy(user, dec, ul);
        user[ul] = 0;
        memcpy(pass, colon + 1, pl);
        pass[pl] = 0;
        rc = 0;
    } else if (colon && ul >= 1 && ul <= NODE_WEB_USER_MAX) {
        /* a name, but the password will not do: the name is still logged */
        memcpy(user, dec, ul);
        user[ul] = 0;
        pass[0] = 0;
        rc = -2;
    }
    OPENSSL_cleanse(dec, sizeof dec);
    return rc;
}

static void cred_mac(const web_auth *a, const char *user, const char *pass, uint8_t mac[32])
{
    unsigned char msg[NODE_WEB_USER_MAX + 1 + NODE_WEB_PASSWORD_MAX];
    size_t ul = strlen(user), pl = strlen(pass);
    memcpy(msg, user, ul + 1);
    memcpy(msg + ul + 1, pass, pl);
    unsigned ml = 32;
    if (!HMAC(EVP_sha256(), a->key, sizeof a->key, msg, ul + 1 + pl, mac, &ml))
        memset(mac, 0, 32);   /* never matches: the entry stores a real MAC */
    OPENSSL_cleanse(msg, sizeof msg);
}

static int cred_cached(const web_auth *a, const char *user, const uint8_t mac[32], uint64_t now)
{
    int hit = 0;
    for (size_t i = 0; i < NODE_WEB_AUTH_CACHE_SLOTS; i++) {
        const cred_slot *c = &a->creds[i];
        if (c->until_ms > now && !strcmp(c->name, user) && CRYPTO_memcmp(c->mac, mac, 32) == 0)
            hit = 1;
    }
    return hit;
}

static void cred_remember(web_auth *a, const char *user, const uint8_t mac[32], uint64_t now)
{
    cred_slot *slot = &a->creds[0];
    for (size_t i = 0; i < NODE_WEB_AUTH_CACHE_SLOTS; i++) {
        cred_slot *c = &a->creds[i];
        if (c->until_ms && !strcmp(c->name, user)) {   /* one per user: the right password */
            slot = c;
            break;
        }
        if (c->until_ms < slot->until_ms)
            slot = c;
    }
    snprintf(slot->name, sizeof slot->name, "%s", user);
    memcpy(slot->mac, mac, 32);
    slot->until_ms = now + NODE_WEB_AUTH_CACHE_MS;
}

/* 1 if pass is user's password.  An unknown user is hashed against a
 * dummy so that the answer takes as long as for a known one. */
static int verify(web_auth *a, const char *user, const char *pass)
{
    const char *hash = a->dummy;
    int known = 0;
    for (size_t i = 0; i < a->nusers; i++)
        if (!strcmp(a->users[i].name, user)) {
            hash = a->users[i].hash;
            known = 1;
        }
    int ok = 0;
    const char *out = crypt_rn(pass, hash, &a->cd, (int)sizeof a->cd);
    size_t hl = strlen(hash);
    if (out && out[0] != '*' && strlen(out) == hl)
        ok = CRYPTO_memcmp(out, hash, hl) == 0;
    OPENSSL_cleanse(&a->cd, sizeof a->cd);   /* holds the password */
    return ok && known;
}

/* ---- the check ---- */

static int refuse(web_auth_refusal *r, int status, const char *body)
{
    r->status = status;
    r->body = body;
    r->header = NULL;
    r->value[0] = 0;
    return -1;
}

static int refuse_401(web_auth *a, web_auth_refusal *r)
{
    refuse(r, 401, page_401);
    r->header = "www-authenticate";
    snprintf(r->value, sizeof r->value, "%s", a->www_auth);
    return -1;
}

static int refuse_429(addr_slot *s, uint64_t now, web_auth_refusal *r)
{
    refuse(r, 429, page_429);
    r->header = "retry-after";
    uint64_t left = s->window_ms + NODE_WEB_AUTH_FAIL_WINDOW_MS - now;
    snprintf(r->value, sizeof r->value, "%llu", (unsigned long long)(left + 999) / 1000);
    return -1;
}

static int check_users(web_auth *a, h2o_req_t *req, const uint8_t addr[16], const char *host, uint64_t now,
                       char *user_out, size_t n, web_auth_refusal *r)
{
    users_refresh(a, now);
    addr_slot *s = addr_find(a, addr);
    if (s->failures && now - s->window_ms >= NODE_WEB_AUTH_FAIL_WINDOW_MS)
        s->failures = 0;
    int limited = s->failures >= NODE_WEB_AUTH_FAIL_MAX;
    unsigned others;

    ssize_t hi = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (hi < 0)   /* a browser's first request: not a failure */
        return limited ? refuse_429(s, now, r) : refuse_401(a, r);

    char user[NODE_WEB_USER_MAX + 1] = "", pass[NODE_WEB_PASSWORD_MAX + 1] = "";
    const h2o_iovec_t *v = &req->headers.entries[hi].value;
    int parsed = basic_parse(v->base, v->len, user, pass);
    int ok = 0;
    if (parsed == 0) {
        uint8_t mac[32];
        cred_mac(a, user, pass, mac);
        /* recent success: no hash, and not held up by others' failures at
         * a shared (NAT) address */
        if (cred_cached(a, user, mac, now)) {
            ok = 1;
        } else if (limited) {
            OPENSSL_cleanse(pass, sizeof pass);
            if (refusal_logged(s, now, &others))
                log_warn(a->d, "web view: sign-in from %s refused (429): %u failures within %u s "
                         "(%u more refused since the last line)", host, s->failures,
                         NODE_WEB_AUTH_FAIL_WINDOW_MS / 1000, others);
            return refuse_429(s, now, r);
        } else {
            uint64_t sec = now / 1000;
            if (sec != a->crypt_second) {
                a->crypt_second = sec;
                a->crypts = 0;
            }
            if (a->crypts >= NODE_WEB_AUTH_CRYPTS_PER_S) {
                OPENSSL_cleanse(pass, sizeof pass);
                refuse(r, 503, page_503);
                r->header = "retry-after";
                snprintf(r->value, sizeof r->value, "1");
                return -1;
            }
            a->crypts++;
            if ((ok = verify(a, user, pass)))
                cred_remember(a, user, mac, now);
        }
        OPENSSL_cleanse(mac, sizeof mac);
    } else if (limited) {
        return refuse_429(s, now, r);
    }
    OPENSSL_cleanse(pass, sizeof pass);
    if (ok) {
        /* failures are not forgiven by a success: at a shared (NAT)
         * address, staff signing in must not buy a guesser more guesses */
        snprintf(user_out, n, "%s", user);
        return 0;
    }
    if (s->failures == 0)
        s->window_ms = now;
    s->failures++;
    /* the name as sent (log.c escapes the line); never the password */
    log_warn(a->d, "web view: sign-in failed for user \"%s\" from %s (%u of %u within %u s%s)",
             parsed == -1 ? "(unreadable credentials)" : user, host, s->failures, NODE_WEB_AUTH_FAIL_MAX,
             NODE_WEB_AUTH_FAIL_WINDOW_MS / 1000,
             s->failures == NODE_WEB_AUTH_FAIL_MAX ? "; its sign-ins are refused for the rest of the window" : "");
    return refuse_401(a, r);
}

int web_auth_is_proxy(const web_auth *a, const uint8_t addr[16])
{
    return a->mode == MODE_PROXY && !memcmp(addr, a->proxy, 16);
}

static int check_proxy(web_auth *a, h2o_req_t *req, const uint8_t addr[16], const char *host, uint64_t now,
                       char *user_out, size_t n, web_auth_refusal *r)
{
    unsigned others;
    if (memcmp(addr, a->proxy, 16)) {
        if (refusal_logged(addr_find(a, addr), now, &others))
            log_warn(a->d, "web view: refused %s (403): only the trusted proxy %s is served "
                     "(%u more refused since the last line)", host, a->proxy_text, others);
        return refuse(r, 403, page_403_addr);
    }
    ssize_t hi = h2o_find_header_by_str(&req->headers, H2O_STRLIT(PROXY_USER_HEADER), -1);
    const h2o_iovec_t *v = hi >= 0 ? &req->headers.entries[hi].value : NULL;
    /* two of them: a proxy that adds its own after the one a browser sent
     * (instead of replacing it) must not let the browser's, the first,
     * name the user */
    if (v && h2o_find_header_by_str(&req->headers, H2O_STRLIT(PROXY_USER_HEADER), hi) >= 0)
        v = NULL;
    if (!v || !name_ok(v->base, v->len)) {
        if (refusal_logged(addr_find(a, addr), now, &others))
            log_warn(a->d, "web view: the trusted proxy %s sent a request without a valid X-Remote-User "
                     "(403; %u more since the last line)", host, others);
        return refuse(r, 403, page_403_user);
    }
    snprintf(user_out, n, "%.*s", (int)v->len, v->base);
    return 0;
}

int web_auth_check(web_auth *a, h2o_req_t *req, char *user, size_t n, web_auth_refusal *r)
{
    user[0] = 0;
    if (a->mode == MODE_OPEN)
        return 0;
    uint8_t addr[16];
    char host[INET6_ADDRSTRLEN] = "(unknown)";
    if (peer_addr(req, addr))
        return refuse(r, 403, page_403_addr);
    addr_text(addr, host, sizeof host);
    uint64_t now = uv_now(a->d->loop);
    if (a->mode == MODE_PROXY)
        return check_proxy(a, req, addr, host, now, user, n, r);
    return check_users(a, req, addr, host, now, user, n, r);
}

/* ---- set-up ---- */

static int ssl_fail(char *err, size_t errlen, const char *what, const char *path)
{
    char e[256] = "unknown error";
    unsigned long code = ERR_peek_last_error();
    if (code)
        ERR_error_string_n(code, e, sizeof e);
    ERR_clear_error();
    return proto_err(err, errlen, "%s %s: %s", what, path, e);
}

/* The listener's TLS: the administrator's certificate (a browser does not
 * take the node's Ed25519 identity), TLS 1.2 and later. */
static int ssl_open(web_auth *a, const char *cert, const char *key, char *err, size_t errlen)
{
    if (access(cert, R_OK))
        return proto_err(err, errlen, "web_tls_cert %s: %s", cert, strerror(errno));
    if (access(key, R_OK))
        return proto_err(err, errlen, "web_tls_key %s: %s", key, strerror(errno));
    if (!(a->ssl = SSL_CTX_new(TLS_server_method())))
        return ssl_fail(err, errlen, "web view TLS", "context");
    SSL_CTX_set_min_proto_version(a->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(a->ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* No TLS 1.3 session tickets: OpenSSL writes them during the first
     * SSL_read after the handshake, which libh2o 2.2 does not expect — the
     * bytes are never flushed, and a client that closes without a request
     * leaves its connection open for ever (test_web_auth
     * handshake_only_connections_are_not_kept).  Browsers keep their
     * connections alive; a new one costs a full handshake. */
    SSL_CTX_set_num_tickets(a->ssl, 0);
    if (SSL_CTX_use_certificate_chain_file(a->ssl, cert) != 1)
        return ssl_fail(err, errlen, "web_tls_cert", cert);
    if (SSL_CTX_use_PrivateKey_file(a->ssl, key, SSL_FILETYPE_PEM) != 1)
        return ssl_fail(err, errlen, "web_tls_key", key);
    if (SSL_CTX_check_private_key(a->ssl) != 1)
        return ssl_fail(err, errlen, "web_tls_key does not match web_tls_cert", key);
    return 0;
}

/* A renewed certificate is put at the same paths and the daemon is sent
 * SIGHUP (systemctl reload): a new context is built from the files, and
 * only if the whole of it loads does it replace the old one, so a key that
 * does not match or a half-copied file leaves the running certificate in
 * place.  Connections already open keep the context they were accepted
 * with (SSL_new holds a reference to it); new ones get the new one. */
int web_auth_reload_tls(web_auth *a, char *err, size_t errlen)
{
    if (!a || !a->ssl)
        return 0;
    web_auth next = { .d = a->d };
    const config *c = &a->d->conf;
    if (ssl_open(&next, c->str[CONFIG_WEB_TLS_CERT], c->str[CONFIG_WEB_TLS_KEY], err, errlen)) {
        if (next.ssl)
            SSL_CTX_free(next.ssl);
        return -1;
    }
    SSL_CTX_free(a->ssl);
    a->ssl = next.ssl;
    return 0;
}

int web_auth_tls_describe(const web_auth *a, char *buf, size_t n)
{
    X509 *x = a && a->ssl ? SSL_CTX_get0_certificate(a->ssl) : NULL;
    if (!x || n == 0)
        return -1;
    char subject[256] = "";
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
    struct tm until;
    const ASN1_TIME *na = X509_get0_notAfter(x);
    if (!na || ASN1_TIME_to_tm(na, &until) != 1)
        return -1;
    char serial[80] = "?";
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(serial, sizeof serial, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    /* the subject is the administrator's file's; the log escapes it */
    snprintf(buf, n, "%s, serial %s, valid until %04d-%02d-%02d %02d:%02d UTC", subject, serial,
             until.tm_year + 1900, until.tm_mon + 1, until.tm_mday, until.tm_hour, until.tm_min);
    return 0;
}

web_auth *web_auth_open(catalogd *d, const char *listen, int loopback, char *err, size_t errlen)
{
    const config *c = &d->conf;
    const char *users = c->str[CONFIG_WEB_USERS_FILE], *cert = c->str[CONFIG_WEB_TLS_CERT],
               *key = c->str[CONFIG_WEB_TLS_KEY], *proxy = c->str[CONFIG_WEB_TRUSTED_PROXY];
    if (!cert[0] != !key[0]) {
        proto_err(err, errlen, "web_tls_cert and web_tls_key go together: set both (or neither)");
        return NULL;
    }
    if (users[0] && proxy[0]) {
        proto_err(err, errlen, "web_users_file and web_trusted_proxy are two ways of signing in: set one");
        return NULL;
    }
    if (users[0] && !cert[0]) {
        proto_err(err, errlen, "web_users_file needs web_tls_cert and web_tls_key: passwords are not sent "
                  "over plain HTTP (see docs/OPERATIONS.md \"Web view\")");
        return NULL;
    }
    if (!loopback && !users[0] && !proxy[0]) {
        proto_err(err, errlen,
                  "web_listen %s is not a loopback address, and no access control is set up: set "
                  "web_users_file, web_tls_cert and web_tls_key (HTTPS with sign-in), or web_trusted_proxy "
                  "(a reverse proxy that signs users in); see docs/OPERATIONS.md \"Web view\"", listen);
        return NULL;
    }
    web_auth *a = calloc(1, sizeof *a);
    if (!a) {
        proto_err(err, errlen, "out of memory");
        return NULL;
    }
    a->d = d;
    a->mode = users[0] ? MODE_USERS : proxy[0] ? MODE_PROXY : MODE_OPEN;
    if (cert[0] && ssl_open(a, cert, key, err, errlen))
        goto fail;
    if (proxy[0]) {
        uint8_t bin[16];
        if (inet_pton(AF_INET, proxy, bin) == 1)
            norm_addr(AF_INET, bin, a->proxy);
        else if (inet_pton(AF_INET6, proxy, bin) == 1)
            norm_addr(AF_INET6, bin, a->proxy);
        else {
            proto_err(err, errlen, "web_trusted_proxy %s: not an IP address", proxy);
            goto fail;
        }
        addr_text(a->proxy, a->proxy_text, sizeof a->proxy_text);
    }
    if (users[0]) {
        snprintf(a->users_path, sizeof a->users_path, "%s", users);
        if (users_load(a, &a->users, &a->nusers, &a->users_id, err, errlen))
            goto fail;
        if (a->nusers == 0)
            log_warn(d, "web_users_file %s names no user yet: add one with catalogctl web-user add", users);
        if (RAND_bytes(a->key, sizeof a->key) != 1) {
            proto_err(err, errlen, "web view: no random bytes for the sign-in cache");
            goto fail;
        }
        /* the dummy an unknown user is hashed against: the same cost as a
         * real yescrypt hash (SHA-512 crypt where yescrypt is missing) */
        char salt[CRYPT_GENSALT_OUTPUT_SIZE];
        const char *h = NULL;
        if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt) ||
            crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof salt))
            h = crypt_rn("no such user", salt, &a->cd, (int)sizeof a->cd);
        if (!h || h[0] == '*') {
            proto_err(err, errlen, "web view: crypt(3) makes no yescrypt or SHA-512 hash here");
            goto fail;
        }
        snprintf(a->dummy, sizeof a->dummy, "%s", h);
        OPENSSL_cleanse(&a->cd, sizeof a->cd);
        /* the realm: ASCII only (the member code), as browsers show it */
        char realm[32];
        size_t rn = 0;
        for (const char *p = d->id.code; *p && rn < sizeof realm - 1; p++)
            if ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
                realm[rn++] = *p;
        realm[rn] = 0;
        snprintf(a->www_auth, sizeof a->www_auth, "Basic realm=\"catalogd %s\", charset=\"UTF-8\"", realm);
    }
    return a;
fail:
    web_auth_free(a);
    return NULL;
}

void web_auth_free(web_auth *a)
{
    if (!a)
        return;
    if (a->ssl)
        SSL_CTX_free(a->ssl);
    if (a->users)
        OPENSSL_cleanse(a->users, a->nusers * sizeof *a->users);
    free(a->users);
    OPENSSL_cleanse(a, sizeof *a);
    free(a);
}

SSL_CTX *web_auth_ssl_ctx(const web_auth *a)
{
    return a ? a->ssl : NULL;
}
