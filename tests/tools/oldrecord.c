/*
 * tests/tools/oldrecord.c — store a record the way a node did before the
 * text rule (proto/text.h): control characters in its key or fields.
 *
 *   oldrecord --data DIR --kind KIND --key KEY --set FIELD=VALUE [--time MS]
 *
 * With the node in DIR stopped, signs the next record of DIR's member with
 * DIR's key: the current record of (KIND, KEY) with FIELD set to VALUE (or a
 * body of that one field when there is none), and applies it to the store
 * through store_apply_batch, as ingest did for such a record from a peer.
 * KEY and VALUE take \e (ESC), \a (BEL), \xHH and \\ escapes.  The encoder
 * here is hand-made on purpose: proto_record_sign refuses such text now, and
 * the point is a record that only an older node could have written.
 * --time signs the record with that time (ms since the epoch) instead of
 * now: a record written long ago, as the web view's 新着 tests need.
 */
#include "certs/certs.h"
#include "store/store.h"
#include "proto/record.h"
#include "proto/util.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void unescape(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        if (*p != '\\' || !p[1]) {
            out[o++] = *p;
            continue;
        }
        p++;
        if (*p == 'e')
            out[o++] = 0x1b;
        else if (*p == 'a')
            out[o++] = 0x07;
        else if (*p == 'x' && p[1] && p[2]) {
            char h[3] = { p[1], p[2], 0 };
            out[o++] = (char)strtol(h, NULL, 16);
            p += 2;
        } else
            out[o++] = *p;
    }
    out[o] = 0;
}

typedef struct { uint8_t *buf; size_t len; } copy;

static int take(void *ctx, const uint8_t *rec, size_t len)
{
    copy *c = ctx;
    c->buf = malloc(len);
    memcpy(c->buf, rec, len);
    c->len = len;
    return 1;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

int main(int argc, char **argv)
{
    const char *data = NULL, *kind = NULL, *key_in = NULL, *set = NULL, *when = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--kind")) kind = argv[i + 1];
        else if (!strcmp(argv[i], "--key")) key_in = argv[i + 1];
        else if (!strcmp(argv[i], "--set")) set = argv[i + 1];
        else if (!strcmp(argv[i], "--time")) when = argv[i + 1];
    }
    const char *eq = set ? strchr(set, '=') : NULL;
    if (!data || !kind || !key_in || !eq) {
        fprintf(stderr, "usage: oldrecord --data DIR --kind KIND --key KEY --set FIELD=VALUE\n");
        return 2;
    }
    char key[1024], field[256], value[4096], err[512], path[1100];
    unescape(key_in, key, sizeof key);
    snprintf(field, sizeof field, "%.*s", (int)(eq - set), set);
    unescape(eq + 1, value, sizeof value);

    certs_identity id;
    store *st;
    if (certs_load(data, &id, err, sizeof err)) {
        fprintf(stderr, "oldrecord: %s\n", err);
        return 2;
    }
    snprintf(path, sizeof path, "%s/db", data);
    if (store_open(path, 0, &st, err, sizeof err)) {
        fprintf(stderr, "oldrecord: %s\n", err);
        return 2;
    }
    store_info si;
    store_info_get(st, &si);

    /* the body: the current record's fields, FIELD replaced or added */
    copy cur = { 0 };
    proto_record old;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object_map *om = NULL;
    if (store_get_current(st, &id.id, kind, key, take, &cur) == 0 &&
        proto_record_decode_stored(cur.buf, cur.len, &old, err, sizeof err) == 0 &&
        msgpack_unpack_next(&up, (const char *)old.body, old.body_len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP)
        om = &up.data.via.map;

    msgpack_sbuffer tbs, rec;
    msgpack_packer pk;
    msgpack_sbuffer_init(&tbs);
    msgpack_packer_init(&pk, &tbs, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, si.genesis.b, 32);
    msgpack_pack_bin(&pk, 32);
    msgpack_pack_bin_body(&pk, id.id.b, 32);
    pack_str(&pk, kind);
    pack_str(&pk, key);
    msgpack_pack_uint64(&pk, store_vv_get(st, &id.id) + 1);
    msgpack_pack_uint64(&pk, when ? strtoull(when, NULL, 10) : proto_now_ms());
    msgpack_pack_uint32(&pk, 0);
    uint32_t n = 1;
    for (uint32_t i = 0; om && i < om->size; i++) {
        const msgpack_object *k = &om->ptr[i].key;
        if (!(k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(field) &&
              !memcmp(k->via.str.ptr, field, k->via.str.size)))
            n++;
    }
    msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; om && i < om->size; i++) {
        const msgpack_object *k = &om->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(field) &&
            !memcmp(k->via.str.ptr, field, k->via.str.size))
            continue;
        msgpack_pack_object(&pk, *k);
        msgpack_pack_object(&pk, om->ptr[i].val);
    }
    pack_str(&pk, field);
    pack_str(&pk, value);

    uint8_t sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    const EVP_MD *md = EVP_PKEY_get_id(id.key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    if (EVP_DigestSignInit(mc, NULL, md, NULL, id.key) != 1 ||
        EVP_DigestSign(mc, sig, &siglen, (const uint8_t *)tbs.data, tbs.size) != 1) {
        fprintf(stderr, "oldrecord: signing failed\n");
        return 2;
    }
    EVP_MD_CTX_free(mc);
    msgpack_sbuffer_init(&rec);
    msgpack_packer_init(&pk, &rec, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_bin(&pk, tbs.size);
    msgpack_pack_bin_body(&pk, tbs.data, tbs.size);
    msgpack_pack_bin(&pk, siglen);
    msgpack_pack_bin_body(&pk, sig, siglen);

    proto_record r;
    int res = -1;
    if (proto_record_decode_stored((const uint8_t *)rec.data, rec.size, &r, err, sizeof err) ||
        store_apply_batch(st, &r, 1, &res, err, sizeof err) || res != STORE_NEW) {
        fprintf(stderr, "oldrecord: not stored (%d): %s\n", res, err);
        res = 1;
    } else {
        printf("stored %s seq %llu\n", kind, (unsigned long long)r.seq);
        res = 0;
    }
    msgpack_unpacked_destroy(&up);
    free(cur.buf);
    msgpack_sbuffer_destroy(&tbs);
    msgpack_sbuffer_destroy(&rec);
    store_close(st);
    certs_free(&id);
    return res;
}
