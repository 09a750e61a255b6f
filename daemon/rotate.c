/* daemon/rotate.c — key rotation of this node, live; see rotate.h. */
#include "daemon/rotate.h"
#include "daemon/control.h"
#include "daemon/log.h"
#include "daemon/node.h"
#include "daemon/peer.h"
#include "daemon/rekey.h"
#include "proto/mp.h"
#include "proto/msg.h"
#include "proto/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files of the node's identity in the data directory (rotate.h). */
typedef struct {
    char key[1100], crt[1100];          /* in force */
    char key_new[1100], crt_new[1100];  /* during a rotation */
} node_files;

static void files_of(const char *dir, node_files *f)
{
    snprintf(f->key, sizeof f->key, "%s/node.key", dir);
    snprintf(f->crt, sizeof f->crt, "%s/node.crt", dir);
    snprintf(f->key_new, sizeof f->key_new, "%s/node.key.new", dir);
    snprintf(f->crt_new, sizeof f->crt_new, "%s/node.crt.new", dir);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* The rotation is recorded: keep the retired pair under its last seq
 * (hard links, so node.key is never absent) and move the new pair in, the
 * certificate first (rotate_recover_files finishes a crash in between). */
static int install(const char *dir, const node_files *f, uint64_t last_seq, char *err, size_t errlen)
{
    char kr[1200], cr[1200];
    snprintf(kr, sizeof kr, "%s.retired-%llu", f->key, (unsigned long long)last_seq);
    snprintf(cr, sizeof cr, "%s.retired-%llu", f->crt, (unsigned long long)last_seq);
    if ((link(f->key, kr) && errno != EEXIST) || (link(f->crt, cr) && errno != EEXIST))
        return proto_err(err, errlen, "keeping the retired key as %s: %s", kr, strerror(errno));
    if (rename(f->crt_new, f->crt) || rename(f->key_new, f->key))
        return proto_err(err, errlen, "moving the new key into %s: %s", f->key, strerror(errno));
    if (fsync_dir(dir))
        return proto_err(err, errlen, "syncing %s: %s", dir, strerror(errno));
    return 0;
}

/* A node restored from a backup that holds the key a rekey replaced. */
#define REKEYED_AWAY "node.key is a key of this member that the alliance replaced by a rekey by quorum " \
                     "(it was lost or stolen): peers refuse it and this node refuses to sign with it. Run the " \
                     "member's node on the new key instead: an empty data directory, catalogctl init, then " \
                     "catalogctl join --rekeyed (docs/OPERATIONS.md, rekey of a lost or stolen key)"

/* Take id (the new pair) as the node's identity, for signing and for new
 * TLS connections; the member id stays. */
static void take_identity(catalogd *d, certs_identity *id)
{
    proto_id self = d->id.id;
    certs_free(&d->id);
    d->id = *id;
    d->id.id = self;
    memset(id, 0, sizeof *id);
}

/* Whether there are other members and none is connected.  The rotate
 * record would then reach nobody, and once this node presents the new key
 * every member refuses it at the handshake (none has seen the record that
 * names it), so it could never tell them: it would cut itself off. */
static int nobody_to_tell(catalogd *d)
{
    store_info si;
    return store_info_get(d->st, &si) == 0 && si.members > 1 && peer_count_established(d) == 0;
}

#define NOBODY_TO_TELL "no other member is connected: the rotation would reach nobody, and every member " \
                       "would then refuse the new key (rotate while connected: catalogctl peers)"

int rotate_begin(catalogd *d, const uint8_t *req, size_t len, rotate_job *j, char *err, size_t errlen)
{
    char type[16] = "";
    memset(j, 0, sizeof *j);
    if (d->rotating)
        return proto_err(err, errlen, "key rotate: a key rotation is already under way");
    proto_map_str(req, len, "type", type, sizeof type);
    const char *kt = type[0] ? type : certs_key_type(d->id.key);
    if (!kt)
        return proto_err(err, errlen, "key rotate: give the new key's type (ed25519, p256 or rsa)");
    if (certs_key_id(d->id.key, &j->old_key))
        return proto_err(err, errlen, "key rotate: the node key is unusable");
    /* a backup copies node.key and the store apart: it must not hold one
     * key and a store that names the other */
    if (control_backup_running(d))
        return proto_err(err, errlen, "key rotate: a backup is being written; rotate once it is done");
    if (d->stopping)
        return proto_err(err, errlen, "key rotate: the daemon is stopping");
    if (nobody_to_tell(d))
        return proto_err(err, errlen, "key rotate: " NOBODY_TO_TELL);
    snprintf(j->type, sizeof j->type, "%s", kt);
    snprintf(j->code, sizeof j->code, "%s", d->id.code);
    snprintf(j->name, sizeof j->name, "%s", d->id.name);
    node_files f;
    files_of(d->data_dir, &f);
    snprintf(j->key_new, sizeof j->key_new, "%s", f.key_new);
    snprintf(j->crt_new, sizeof j->crt_new, "%s", f.crt_new);
    d->rotating = 1;
    return 0;
}

void rotate_keygen(rotate_job *j)
{
    /* An RSA key takes 0.1-0.3 s to make here: on the loop that would stop
     * every peer and client for as long.  This reads nothing of the
     * daemon's state (rotate_begin copied what it needs).  The new pair is
     * on disk before the record that names it: a crash after the commit
     * finds it (rotate_startup), never a node whose store retired the
     * only key it has. */
    j->rc = certs_make(j->code, j->name, j->type, &j->nid, j->err, sizeof j->err);
    if (j->rc == 0 && (j->rc = certs_write(&j->nid, j->key_new, j->crt_new, j->err, sizeof j->err)))
        certs_free(&j->nid);
}

int rotate_finish(catalogd *d, rotate_job *j, msgpack_packer *pk, char *err, size_t errlen)
{
    char why[512];
    node_files f;
    d->rotating = 0;
    if (j->rc)
        return proto_err(err, errlen, "%s", j->err);
    files_of(d->data_dir, &f);
    /* While the key was made the daemon began to stop (its peer links are
     * closing: the record would stay here, and after a restart every
     * member would refuse the key it names) or lost its last peer: the
     * rotation is dropped and the key in force stays. */
    const char *why_not = d->stopping ? "the daemon is stopping" : nobody_to_tell(d) ? NOBODY_TO_TELL : NULL;
    if (why_not) {
        unlink(f.key_new);
        unlink(f.crt_new);
        certs_free(&j->nid);
        log_warn(d, "key rotation dropped before it was recorded: %s; the key in force stays", why_not);
        return proto_err(err, errlen, "key rotate: %s; the key in force stays", why_not);
    }
    char key[65];
    proto_hex(d->id.id.b, 32, key);
    proto_body *b = proto_body_new();
    if (!b) {
        unlink(f.key_new);
        unlink(f.crt_new);
        certs_free(&j->nid);
        return proto_err(err, errlen, "out of memory");
    }
    proto_body_str(b, "op", "rotate");
    proto_body_str(b, "code", d->id.code);
    proto_body_str(b, "name", d->id.name);
    proto_body_bin(b, "cert", j->nid.der, j->nid.der_len);
    uint8_t *out = NULL;
    size_t out_len = 0;
    /* signed by the key in force until now; pushed over the connections
     * open now, which peers authenticated with it */
    int rc = node_publish_one(d, "member", key, 0, b, &out, &out_len, err, errlen);
    proto_body_free(b);
    if (rc) {
        unlink(f.key_new);
        unlink(f.crt_new);
        certs_free(&j->nid);
        return -1;
    }
    proto_record r;
    uint64_t seq = 0;
    if (proto_record_decode_stored(out, out_len, &r, NULL, 0) == 0)
        seq = r.seq;
    free(out);
    if (install(d->data_dir, &f, seq, why, sizeof why))
        log_error(d, "key rotation recorded, but the files were not replaced (%s): "
                  "the next start finishes it from node.key.new", why);
    proto_id new_key = j->nid.id;
    take_identity(d, &j->nid);
    SSL_CTX *old = d->ssl_ctx;
    if (peer_init(d, why, sizeof why) == 0)
        SSL_CTX_free(old);   /* connections open keep their own reference */
    else {
        d->ssl_ctx = old;
        log_error(d, "key rotation: new TLS connections still present the retired key: %s", why);
    }
    char ids[PROTO_ID_STR], oldk[PROTO_ID_STR], newk[PROTO_ID_STR];
    proto_id_str(&d->id.id, ids);
    proto_id_str(&j->old_key, oldk);
    proto_id_str(&new_key, newk);
    log_info(d, "key rotated at seq %llu: member id %s unchanged, key %s retired, key %s from seq %llu",
             (unsigned long long)seq, ids, oldk, newk, (unsigned long long)seq + 1);
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_str(&m, "member_id", ids);
    proto_map_put_str(&m, "old_key", oldk);
    proto_map_put_str(&m, "key", newk);
    proto_map_put_u64(&m, "from_seq", seq + 1);
    proto_map_end(&m);
    return 0;
}

void rotate_recover_files(catalogd *d, const char *dir)
{
    node_files f;
    certs_identity id;
    char err[512];
    files_of(dir, &f);
    if (!exists(f.key_new) || exists(f.crt_new))
        return;
    /* node.crt is the new certificate already: the rotation was recorded
     * (files move only after the commit) and stopped between the renames */
    if (certs_load_files(f.key_new, f.crt, &id, err, sizeof err) == 0) {
        certs_free(&id);
        if (rename(f.key_new, f.key) == 0 && fsync_dir(dir) == 0)
            log_warn(d, "finished an interrupted key rotation: node.key.new is node.key now");
        else
            log_error(d, "cannot move %s into place: %s", f.key_new, strerror(errno));
    } else {
        unlink(f.key_new);   /* a key written without its certificate: never named anywhere */
    }
}

int rotate_startup(catalogd *d, char *err, size_t errlen)
{
    node_files f;
    store_info si;
    proto_id owner;
    char why[512];
    files_of(d->data_dir, &f);
    if (store_info_get(d->st, &si))
        return proto_err(err, errlen, "store unavailable");
    if (!si.has_self)
        return store_bind_self(d->st, &d->id.id, err, errlen);
    if (exists(f.key_new) && exists(f.crt_new)) {
        certs_identity nid;
        uint64_t from = 0;
        proto_id cur;
        if (certs_load_files(f.key_new, f.crt_new, &nid, why, sizeof why) == 0 &&
            store_key_owner(d->st, &nid.id, &owner) == STORE_KEY_CURRENT && !memcmp(&owner, &si.self, 32) &&
            store_key_current(d->st, &si.self, &cur, &from) == 0) {
            if (install(d->data_dir, &f, from - 1, err, errlen)) {
                certs_free(&nid);
                return -1;
            }
            d->id.id = si.self;
            take_identity(d, &nid);
            log_warn(d, "finished an interrupted key rotation: the key of seq %llu on is node.key now",
                     (unsigned long long)from);
        } else {
            /* never recorded (the write failed or the node stopped before
             * it): the key in force stays */
            if (nid.key)
                certs_free(&nid);
            unlink(f.key_new);
            unlink(f.crt_new);
            log_warn(d, "removed node.key.new: a key rotation that was never recorded");
        }
    }
    if (!memcmp(&d->id.id, &si.self, 32)) {
        proto_id cur;
        if (store_key_current(d->st, &si.self, &cur, NULL) == 0 && memcmp(&cur, &si.self, 32))
            log_error(d, "%s", rekey_retired_by_quorum(d->st, &si.self, &d->id.key_id) ? REKEYED_AWAY :
                      "node.key is the key this member was admitted with, which a rotation retired: "
                      "peers refuse it and records it signs are refused (docs/OPERATIONS.md, key rotation)");
        else
            rekey_adopt_identity(d);   /* restored with a new key: the rekey may be held already */
        return 0;
    }
    int st = store_key_owner(d->st, &d->id.id, &owner);
    if (st == STORE_KEY_CURRENT && !memcmp(&owner, &si.self, 32)) {
        d->id.id = si.self;   /* a rotated key: the member id stays */
        return 0;
    }
    if (st == STORE_KEY_RETIRED && !memcmp(&owner, &si.self, 32)) {
        d->id.id = si.self;
        log_error(d, "%s", rekey_retired_by_quorum(d->st, &si.self, &d->id.key_id) ? REKEYED_AWAY :
                  "node.key is a key of this member that a rotation retired: peers refuse it "
                  "and records it signs are refused (docs/OPERATIONS.md, key rotation)");
        return 0;
    }
    return proto_err(err, errlen, "this store belongs to another node key");
}

void rotate_drop_retired(catalogd *d)
{
    for (peer *p = d->peers; p; p = p->next) {
        proto_id m;
        if (p->state == PEER_CLOSING || !p->id_known)
            continue;
        int st = store_key_owner(d->st, &p->key_id, &m);
        /* retired (by its rotation or a rekey), or a key that a rekey had
         * made a member's and a later derivation no longer does (the
         * connection was taken as that member's: p->id is not the key's
         * own hash, which an unknown key maps to) */
        int unmade = st == STORE_KEY_UNKNOWN && memcmp(&p->id, &p->key_id, 32);
        if (st != STORE_KEY_RETIRED && !unmade)
            continue;
        char s[10];
        const char *why = unmade ? "the rekey that made its key a member's key is no longer derived"
                          : rekey_retired_by_quorum(d->st, &m, &p->key_id)
                              ? "it authenticated with a key that a rekey by quorum replaced (lost or stolen key)"
                              : "it authenticated with a key it has retired";
        proto_id_short(unmade ? &p->id : &m, s);
        log_info(d, "closing the connection with %s %s (%s) at %s: %s", p->code, p->name, s, p->addr, why);
        if (unmade || st == STORE_KEY_RETIRED) {
            /* an error frame first: its administrator reads why */
            msgpack_sbuffer sb;
            if (p->state == PEER_ESTABLISHED && msg_pack_error(&sb, MSG_ERR_ALLIANCE, why) == 0) {
                peer_send_frame(p, sb.data, sb.size);
                msgpack_sbuffer_destroy(&sb);
            }
        }
        peer_close(p);
    }
}
