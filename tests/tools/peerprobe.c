/*
 * tests/tools/peerprobe.c — a misbehaving member, for integration tests.
 *
 *   peerprobe --data DIR --connect HOST:PORT --mode MODE [--target-id ID]
 *
 * Uses the node identity in DIR (a real member whose daemon is stopped) to
 * open a mutual-TLS connection like catalogd does, sends hello, then one of:
 *   bad-sig      a record of its own with a corrupted signature
 *   forge-author a record claiming --target-id as author, signed by DIR's key
 *   malformed    a records message whose record is not msgpack
 *   oversized    a frame header announcing more than the frame limit
 *   garbage      a frame that is not a msgpack map
 *   cert-newline a certification of its own whose 事業者名 holds a line break
 *   cert-corpnum a certification of its own whose 法人番号 has a wrong check
 *                digit (both pass the record-level text rule and are signed
 *                properly; only the catalog schema refuses them)
 *   cert-ok      the same certification with valid fields: accepted, so the
 *                probe waits 2 s and exits 3
 *   equivocate-a / equivocate-b
 *                two different valid records with the same next seq (send
 *                one to each of two nodes); the probe waits 2 s and exits 3
 * Prints every frame type it receives ("recv error <code> <text>") and exits
 * 0 when the peer sent an error frame and closed, 3 otherwise.
 */
#include "certs/certs.h"
#include "store/store.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sys/time.h>

static int always_ok(int ok, X509_STORE_CTX *x) { return 1; }

static void send_frame(SSL *ssl, msgpack_sbuffer *sb)
{
    proto_frame_end(sb);
    SSL_write(ssl, sb->data, (int)sb->size);
    msgpack_sbuffer_destroy(sb);
}

int main(int argc, char **argv)
{
    const char *data = NULL, *conn = NULL, *mode = NULL, *target = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--connect")) conn = argv[i + 1];
        else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
        else if (!strcmp(argv[i], "--target-id")) target = argv[i + 1];
    }
    if (!data || !conn || !mode) {
        fprintf(stderr, "usage: peerprobe --data DIR --connect HOST:PORT --mode MODE [--target-id ID]\n");
        return 2;
    }
    certs_identity id;
    store *st;
    char err[512], path[1100];
    if (certs_load(data, &id, err, sizeof err)) {
        fprintf(stderr, "peerprobe: %s\n", err);
        return 2;
    }
    snprintf(path, sizeof path, "%s/db", data);
    if (store_open(path, 0, &st, err, sizeof err)) {
        fprintf(stderr, "peerprobe: %s\n", err);
        return 2;
    }
    store_info si;
    store_info_get(st, &si);

    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_use_certificate(ctx, id.cert);
    SSL_CTX_use_PrivateKey(ctx, id.key);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, always_ok);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    char host[64];
    const char *colon = strrchr(conn, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - conn), conn);
    inet_pton(AF_INET, host, &sa.sin_addr);
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        perror("peerprobe: connect");
        return 2;
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
        printf("handshake failed\n");
        return 4;
    }
    /* TLS 1.3: the server may still reject our certificate after connect
     * returns; the first read tells. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_frame_begin(&sb, &pk);
    msgpack_pack_map(&pk, 5);
    proto_pack_kv_str(&pk, "t", "hello");
    proto_pack_kv_u64(&pk, "v", 1);
    proto_pack_kv_bin(&pk, "genesis", si.genesis.b, 32);
    proto_pack_kv_bin(&pk, "digest", si.digest.b, 32);
    proto_pack_cstr(&pk, "vv");
    msgpack_pack_array(&pk, 0);
    send_frame(ssl, &sb);

    uint8_t *rec = NULL;
    size_t rl = 0;
    struct timeval deadline = { 0, 0 };   /* cert-ok: when to stop reading */
    proto_body *b = proto_body_new();
    proto_body_str(b, "title", "偽造");
    if (!strncmp(mode, "equivocate-", 11)) {
        proto_body_str(b, "variant", mode + 11);
        if (proto_record_sign(&si.genesis, &id.id, "note", "fork", store_vv_get(st, &id.id) + 1,
                              proto_now_ms(), 0, b, id.key, &rec, &rl, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        struct timeval tv = { 2, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    } else if (!strcmp(mode, "bad-sig") || !strcmp(mode, "forge-author")) {
        proto_id author = id.id;
        uint64_t seq = store_vv_get(st, &id.id) + 1;
        if (!strcmp(mode, "forge-author")) {
            if (!target || proto_id_parse(target, &author)) {
                fprintf(stderr, "peerprobe: forge-author needs --target-id\n");
                return 2;
            }
            seq = store_vv_get(st, &author) + 1;
        }
        if (proto_record_sign(&si.genesis, &author, "note", "forged", seq, proto_now_ms(), 0, b,
                              id.key, &rec, &rl, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        if (!strcmp(mode, "bad-sig"))
            rec[rl - 5] ^= 0x40;   /* inside the signature */
    } else if (!strncmp(mode, "cert-", 5)) {
        /* built field by field, not by catalog_build, as another node's
         * code could: the schema's rules are the receiver's to apply */
        proto_body_free(b);
        b = proto_body_new();
        proto_body_str(b, "company", !strcmp(mode, "cert-newline") ? "株式会社\nプローブ" : "株式会社プローブ");
        proto_body_str(b, "corporate_number", !strcmp(mode, "cert-corpnum") ? "3000012050002" : "7000012050002");
        proto_body_str(b, "product", "プローブ製品");
        const char *areas[] = { "防災" };
        proto_body_strs(b, "areas", areas, 1);
        proto_body_str(b, "certified_on", "2026-04-01");
        proto_body_str(b, "valid_until", "2028-03-31");
        if (proto_record_sign(&si.genesis, &id.id, "certification", "PROBE-1", store_vv_get(st, &id.id) + 1,
                              proto_now_ms(), 0, b, id.key, &rec, &rl, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        if (!strcmp(mode, "cert-ok")) {
            /* the peer keeps the connection (and keeps talking): stop
             * reading after 2 s, not after 2 s of silence */
            struct timeval tv = { 0, 200000 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            gettimeofday(&deadline, NULL);
            deadline.tv_sec += 2;
        }
    } else if (!strcmp(mode, "malformed")) {
        rec = malloc(8);
        memcpy(rec, "\x92\xc4\x02zz\xc1\xc1\xc1", 8);
        rl = 8;
    }
    proto_body_free(b);
    if (rec) {
        proto_frame_begin(&sb, &pk);
        msgpack_pack_map(&pk, 2);
        proto_pack_kv_str(&pk, "t", "records");
        proto_pack_cstr(&pk, "recs");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_bin(&pk, rl);
        msgpack_pack_bin_body(&pk, rec, rl);
        send_frame(ssl, &sb);
        free(rec);
    } else if (!strcmp(mode, "oversized")) {
        uint8_t hdr[4] = { 0x7f, 0xff, 0xff, 0xff };
        SSL_write(ssl, hdr, 4);
    } else if (!strcmp(mode, "garbage")) {
        uint8_t g[7] = { 0, 0, 0, 3, 0x93, 0x01, 0x02 };
        SSL_write(ssl, g, 7);
    }

    /* Read frames until the peer closes. */
    proto_buf in = { 0 };
    int got_error = 0;
    char buf[16384];
    for (;;) {
        if (deadline.tv_sec) {
            struct timeval now;
            gettimeofday(&now, NULL);
            if (timercmp(&now, &deadline, >))
                break;
        }
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0 && deadline.tv_sec &&
            (SSL_get_error(ssl, n) == SSL_ERROR_SYSCALL || SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ))
            continue;   /* the read timed out: look at the deadline again */
        if (n <= 0)
            break;
        proto_buf_append(&in, buf, (size_t)n);
        const uint8_t *f;
        size_t fl;
        while (proto_frame_take(&in, PROTO_PEER_FRAME_MAX, &f, &fl) == 1) {
            char t[32] = "?", text[512] = "";
            uint64_t code = 0;
            proto_map_str(f, fl, "t", t, sizeof t);
            proto_map_str(f, fl, "text", text, sizeof text);
            proto_map_u64(f, fl, "code", &code);
            if (!strcmp(t, "error")) {
                printf("recv error %llu %s\n", (unsigned long long)code, text);
                got_error = 1;
            } else {
                printf("recv %s\n", t);
            }
        }
    }
    fflush(stdout);
    proto_buf_free(&in);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    store_close(st);
    certs_free(&id);
    return got_error ? 0 : 3;
}
