/*
 * tests/tools/rekeyrule.c — with the node in DIR stopped, write into its
 * store what the derivation of a rekey writes (store/store_apart.c), for
 * the integration tests of a rekey's arrival rules before the derivation
 * exists:
 *
 *   rekeyrule --data DIR --member ID --key-dir KDIR --open CUT
 *       an open epoch of MEMBER at CUT proposing KDIR's key: MEMBER's
 *       records after CUT signed by it wait (STORE_GAP)
 *   rekeyrule --data DIR --member ID --key-dir KDIR --decide CUT
 *       a decided rekey: KDIR's key is MEMBER's from CUT + 1, and the key
 *       MEMBER had at CUT signs nothing after it (STORE_FORMER)
 *   rekeyrule --data DIR --member ID --key-dir KDIR --sign KIND KEY FIELD=VALUE
 *       KDIR's key is MEMBER's from its next seq, and a record of MEMBER
 *       signed by it at that seq is stored (a node that derived a rekey
 *       and holds the new key's first record)
 *
 * CUT "vv" is MEMBER's highest seq held in DIR, "vv+N" N seqs beyond it
 * (a cut at a record DIR does not hold yet).  --open and --decide
 * replace whatever rules were there.  KDIR gets a new
 * identity (certs_init) if it holds none.  Exit 0, or 1 with a message.
 */
#include "certs/certs.h"
#include "store/store_int.h"
#include "proto/record.h"
#include "proto/util.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int die(const char *what, const char *err)
{
    fprintf(stderr, "rekeyrule: %s: %s\n", what, err);
    return 1;
}

/* CUT given as "vv" or "vv+N": the member's highest seq held in DIR (plus N) */
#define VV (1ll << 62)

static long long cut_arg(const char *a)
{
    if (strncmp(a, "vv", 2))
        return atoll(a);
    return VV + (a[2] == '+' ? atoll(a + 3) : 0);
}

int main(int argc, char **argv)
{
    const char *data = NULL, *member = NULL, *kdir = NULL, *kind = NULL, *key = NULL, *set = NULL;
    long long open_cut = -1, decide_cut = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--member") && i + 1 < argc)
            member = argv[++i];
        else if (!strcmp(argv[i], "--key-dir") && i + 1 < argc)
            kdir = argv[++i];
        else if (!strcmp(argv[i], "--open") && i + 1 < argc)
            open_cut = cut_arg(argv[++i]);
        else if (!strcmp(argv[i], "--decide") && i + 1 < argc)
            decide_cut = cut_arg(argv[++i]);
        else if (!strcmp(argv[i], "--sign") && i + 3 < argc) {
            kind = argv[++i];
            key = argv[++i];
            set = argv[++i];
        } else
            return die("usage", "see tests/tools/rekeyrule.c");
    }
    char err[256];
    proto_id mid;
    if (!data || !member || !kdir || proto_id_parse(member, &mid) ||
        (open_cut < 0) + (decide_cut < 0) + (kind == NULL) != 2)
        return die("usage", "--data, --member, --key-dir and one of --open, --decide, --sign");
    char crt[600];
    struct stat sb;
    snprintf(crt, sizeof crt, "%s/node.crt", kdir);
    if (stat(crt, &sb) && certs_init(kdir, "131016", "新しい鍵", "ed25519", err, sizeof err))
        return die(kdir, err);
    certs_identity kid;
    if (certs_load(kdir, &kid, err, sizeof err))
        return die(kdir, err);
    uint8_t *spki = NULL;
    int sl = i2d_PUBKEY(kid.key, &spki);
    if (sl <= 0)
        return die(kdir, "no public key");
    store *s;
    char path[600];
    snprintf(path, sizeof path, "%s/db", data);
    if (store_open(path, 0, &s, err, sizeof err))
        return die(path, err);
    MDB_txn *t;
    int rc = 1;
    if (mdb_txn_begin(s->env, NULL, 0, &t))
        return die(data, "store busy");
    uint64_t next = vv_get_txn(s, t, &mid) + 1;
    if (open_cut >= VV)
        open_cut = (long long)next - 1 + (open_cut - VV);
    if (decide_cut >= VV)
        decide_cut = (long long)next - 1 + (decide_cut - VV);
    if (open_cut >= 0)
        rc = rekey_arrival_clear_txn(s, t) || rekey_alt_put_txn(s, t, &mid, (uint64_t)open_cut, spki, (size_t)sl);
    else if (decide_cut >= 0)
        rc = rekey_arrival_clear_txn(s, t) || rekey_cut_put_txn(s, t, &mid, (uint64_t)decide_cut) ||
             key_set_txn(s, t, &mid, (uint64_t)decide_cut + 1, spki, (size_t)sl);
    else
        rc = key_set_txn(s, t, &mid, next, spki, (size_t)sl);
    if (rc || mdb_txn_commit(t)) {
        if (rc)
            mdb_txn_abort(t);
        fprintf(stderr, "rekeyrule: member's next seq %llu\n", (unsigned long long)next);
        return die(data, "writing the rules failed");
    }
    cache_clear(s);
    if (kind) {
        store_info in;
        char field[64];
        const char *eq = strchr(set, '=');
        if (!eq || eq - set >= (long)sizeof field || store_info_get(s, &in) || !in.has_genesis)
            return die("--sign", "FIELD=VALUE, and a store with an alliance");
        memcpy(field, set, (size_t)(eq - set));
        field[eq - set] = 0;
        proto_body *b = proto_body_new();
        proto_body_str(b, field, eq + 1);
        uint8_t *out;
        size_t len;
        proto_record r;
        int res = -1;
        if (proto_record_sign(&in.genesis, &mid, kind, key, next, proto_now_ms(), 0, b, kid.key, &out, &len, err,
                              sizeof err) ||
            proto_record_decode(out, len, &r, err, sizeof err) || store_apply_batch(s, &r, 1, &res, err, sizeof err))
            return die("--sign", err);
        proto_body_free(b);
        if (res != STORE_NEW) {
            fprintf(stderr, "rekeyrule: --sign: not stored (%d)\n", res);
            return 1;
        }
        printf("%llu\n", (unsigned long long)next);
        free(out);
    }
    OPENSSL_free(spki);
    certs_free(&kid);
    store_close(s);
    return 0;
}
