/*
 * daemon/rotate.h — a key rotation of this node (catalogctl key rotate) and
 * what it leaves on disk, and the side of rotations that the network sees:
 * connections authenticated with a key that a rotation retired.
 *
 * A rotation keeps the member id (DESIGN §2): the node makes a new key and
 * certificate with the same code and name, writes a member record with op
 * rotate naming it (signed by the key current until then), and signs
 * everything after with the new one.  Files, in the data directory:
 *
 *   node.key, node.crt                 the key in force (replaced atomically)
 *   node.key.new, node.crt.new         while a rotation is under way
 *   node.key.retired-SEQ, node.crt...  the key a rotation retired: it signed
 *                                      up to seq SEQ (the rotate record)
 *
 * A caller may rely on: rotate_startup leaving d->id with the member id in
 * d->id.id and the key the store names current for it (finishing a rotation
 * a crash interrupted, removing one that was never recorded).
 */
#ifndef DAEMON_ROTATE_H
#define DAEMON_ROTATE_H

#include <msgpack.h>
#include "daemon/catalogd.h"

/* Control command key_rotate [type]: rotate now, live, in three steps so
 * that making the key (an RSA key takes a good part of a second) runs on
 * the thread pool.  rotate_begin checks the request on the loop and copies
 * into *j what rotate_keygen needs (it refuses while a rotation or a
 * backup is under way: d->rotating is set from a successful begin to the
 * matching finish); rotate_keygen reads only *j and may run on any
 * thread; rotate_finish, back on the loop, writes the rotate record, moves
 * the files and the TLS context over, and packs the reply: member_id,
 * old_key, key (key ids, written as member ids are), from_seq (pk is
 * touched only then: NULL will do when keygen failed).  Every
 * successful begin must be followed by one finish (it clears d->rotating
 * and frees what keygen made, whether or not the rotation went through). */
typedef struct {
    char type[16], code[8], name[192];
    char key_new[1100], crt_new[1100];
    proto_id old_key;
    certs_identity nid;   /* made by rotate_keygen */
    int rc;               /* rotate_keygen's result, with err */
    char err[512];
} rotate_job;

int  rotate_begin(catalogd *d, const uint8_t *req, size_t len, rotate_job *j, char *err, size_t errlen);
void rotate_keygen(rotate_job *j);
int  rotate_finish(catalogd *d, rotate_job *j, msgpack_packer *pk, char *err, size_t errlen);

/* Before the node's files are loaded (the data directory locked): a
 * rotation interrupted between its two renames is finished. */
void rotate_recover_files(catalogd *d, const char *dir);
/* After the store is open: bind it to the node (first start) or check the
 * node key is this member's current one, finishing or dropping an
 * interrupted rotation.  0, or -1 with err. */
int rotate_startup(catalogd *d, char *err, size_t errlen);

/* Members' keys changed (a rotate record applied): close the connections
 * whose peer authenticated with a key that is retired now, so that it
 * reconnects with its new one (new handshakes with a retired key are
 * refused at the TLS verify). */
void rotate_drop_retired(catalogd *d);

#endif
