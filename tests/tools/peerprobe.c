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
 *   bad-body     a record of its own, properly signed, whose header is sound
 *                and whose body holds a float (no valid body does): what
 *                the receiver only finds when it checks the body (on its
 *                thread pool, after a triage of the header)
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
 *   genesis-only a sponsor that goes away: a hello with DIR's whole vector,
 *                then the genesis alone; waits 2 s, exits 3
 *   member-fork-a / member-fork-b
 *                the same with two member records: a is DIR's vote to expel
 *                --target-id, b a new address of DIR's own (192.0.2.99:7400);
 *                prints "hash HEX" of the record sent, waits 2 s, exits 3
 *   forge-former --count N (default 300) records claiming --target-id (a
 *                former member) as author at seqs after the one DIR holds,
 *                32 seqs and many versions each, signed by DIR's key: none
 *                verifies; the node must close us past its bound
 *                (NODE_FORMER_UNVERIFIED_MAX), else the probe exits 3 after
 *                listening 5 s
 * Floods (issue 15; the probe stops reading after 3 s without records, or 10 s):
 *   want-once    one want [--target-id, 1, 2^64-1]: the honest cost of a log
 *   want-repeat  20 x (a hello saying it holds seq 1 of --target-id, then
 *                want-once), 0.1 s apart
 *   want-flood   one want frame of 100,000 ranges [--target-id, k, k]
 *   want-dup     one want frame of 80,000 copies of [--target-id, 1, 2^64-1]
 *   announce-flood
 *                --count (default 3) announce frames of 55,000 random authors
 *   defer-unknown
 *                1,500 records of 60 KB by an author who is no member
 *   defer-gap    1,500 records of 60 KB of its own, after a gap (seq vv+2 on)
 *   far-seq      one record of its own at seq 10^12
 *   sums-noread  8 s of sums requests about --target-id, never reading
 * Floods print "sent" once the attack is written, then count what comes
 * back instead of printing it: "bytes N records N" at the end (the bytes
 * and the number of the records frames received).
 *   split-a / split-b [--count N] [--time-ms T]
 *                N new records (default 300, at least 257), each signed in
 *                two versions a and b (deterministically: fixed time, and
 *                Ed25519 signatures are deterministic, so both runs sign the
 *                same bytes).  split-a sends version a of all; split-b sends
 *                version b of a subset S and version a of the rest, where S
 *                is a nonempty set whose hashes XOR (a_i ^ b_i) to zero,
 *                found by elimination over GF(2) (256-bit vectors: any 257
 *                are dependent).  So the two nodes hold equal version
 *                vectors and equal XORs of their records' hashes (the
 *                digest before schema 2), but different logs.  Prints
 *                "split N differ K base B" (the records take seqs B+1..B+N) and the
 *                differing seqs; waits 2 s, exits 3
 *   admit-late / admit-same
 *                three notes by a newcomer (a fresh identity, 132021 立川市)
 *                who is no member yet, then its admission signed by DIR:
 *                admit-late sends the admission 1 s after the notes (the
 *                receiver has set them aside and finished that batch),
 *                admit-same in the same frame after them; prints "newcomer
 *                HEX", waits 2 s, exits 3
 *   relay-from   [--source DIR2] a note signed by DIR2's identity at the seq
 *                DIR2's own node would write next, sent over DIR's connection:
 *                a relay forwarding another member's record; waits 2 s, exits
 *                3 if the peer kept the connection
 * Prints every frame type it receives ("recv error <code> <text>") and exits
 * 0 when the peer sent an error frame and closed, 3 otherwise.
 */
#include "certs/certs.h"
#include "store/store.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

static int always_ok(int ok, X509_STORE_CTX *x) { return 1; }

static int quiet;   /* a flood: count records frames instead of printing them */
#define SPLIT_MAX 2048
#define MASK_WORDS (SPLIT_MAX / 64)

/* The subset of d[0..n) (32-byte vectors) whose XOR is zero: in[i] set.
 * Gaussian elimination keeping, per basis vector, which inputs it combines.
 * 0 if found, -1 if the vectors are independent. */
static int dependent_subset(uint8_t (*d)[32], size_t n, int *in)
{
    uint8_t basis[256][32];   /* 72 KiB on the stack with comb: fine for a tool */
    uint64_t comb[256][MASK_WORDS];
    int have[256] = { 0 };
    for (size_t i = 0; i < n; i++) {
        uint8_t v[32];
        uint64_t c[MASK_WORDS] = { 0 };
        memcpy(v, d[i], 32);
        c[i / 64] |= 1ull << (i % 64);
        for (;;) {
            int top = -1;
            for (int b = 0; b < 256 && top < 0; b++)
                if (v[b / 8] & (0x80 >> (b % 8)))
                    top = b;
            if (top < 0) {
                for (size_t j = 0; j < n; j++)
                    in[j] = (c[j / 64] >> (j % 64)) & 1;
                return 0;
            }
            if (!have[top]) {
                have[top] = 1;
                memcpy(basis[top], v, 32);
                memcpy(comb[top], c, sizeof c);
                break;
            }
            for (int k = 0; k < 32; k++)
                v[k] ^= basis[top][k];
            for (int k = 0; k < MASK_WORDS; k++)
                c[k] ^= comb[top][k];
        }
    }
    return -1;
}

static int add_vv_cb(void *ctx, const proto_id *author, uint64_t seq, const uint8_t *chain)
{
    proto_id c;
    memcpy(c.b, chain, 32);
    return msg_list_add_vv(ctx, author, seq, &c) ? 1 : 0;
}

static int add_rec_cb(void *ctx, const uint8_t *rec, size_t len)
{
    return msg_list_add_record(ctx, rec, len) ? 1 : 0;
}

static void send_frame(SSL *ssl, msgpack_sbuffer *sb)
{
    proto_frame_end(sb);
    SSL_write(ssl, sb->data, (int)sb->size);
    msgpack_sbuffer_destroy(sb);
}


/* ---- floods (issue 15) ---- */

static void pack_bin32(msgpack_packer *pk, const void *b)
{
    msgpack_pack_bin(pk, 32);
    msgpack_pack_bin_body(pk, b, 32);
}

/* One want frame of n ranges of `author`: [k, k] for k cycling through
 * 1..127 (the smallest encoding, so 100,000 fit a frame), or, with dup,
 * n copies of [1, 2^64-1]. */
static void flood_want(SSL *ssl, const proto_id *author, unsigned n, int dup)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_frame_begin(&sb, &pk);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "t", "want");
    proto_pack_cstr(&pk, "r");
    msgpack_pack_array(&pk, n);
    for (unsigned i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 3);
        pack_bin32(&pk, author->b);
        msgpack_pack_uint64(&pk, dup ? 1 : 1 + i % 127);
        msgpack_pack_uint64(&pk, dup ? UINT64_MAX : 1 + i % 127);
    }
    send_frame(ssl, &sb);
}

/* `frames` announce frames of 55,000 entries, each a random author. */
static void flood_announce(SSL *ssl, unsigned frames)
{
    for (unsigned f = 0; f < frames; f++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        proto_frame_begin(&sb, &pk);
        msgpack_pack_map(&pk, 2);
        proto_pack_kv_str(&pk, "t", "announce");
        proto_pack_cstr(&pk, "a");
        msgpack_pack_array(&pk, 55000);
        for (unsigned i = 0; i < 55000; i++) {
            uint8_t a[32], h[32];
            RAND_bytes(a, sizeof a);
            RAND_bytes(h, sizeof h);
            msgpack_pack_array(&pk, 3);
            pack_bin32(&pk, a);
            msgpack_pack_uint64(&pk, 1 + i % 100);
            pack_bin32(&pk, h);
        }
        send_frame(ssl, &sb);
    }
}

/* n records of about 60 KB by `author` from seq `first` on (signed with
 * DIR's key, which is no use to anyone but the author's own), 8 to a frame. */
static int flood_records(SSL *ssl, const proto_id *alliance, const proto_id *author, EVP_PKEY *sk,
                         uint64_t first, unsigned n)
{
    char *v = malloc(15001), err[512];
    memset(v, 'x', 15000);
    v[15000] = 0;
    proto_body *b = proto_body_new();
    proto_body_str(b, "a", v);
    proto_body_str(b, "b", v);
    proto_body_str(b, "c", v);
    proto_body_str(b, "d", v);
    free(v);
    for (unsigned i = 0; i < n; i += 8) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        unsigned k = n - i < 8 ? n - i : 8;
        proto_frame_begin(&sb, &pk);
        msgpack_pack_map(&pk, 2);
        proto_pack_kv_str(&pk, "t", "records");
        proto_pack_cstr(&pk, "recs");
        msgpack_pack_array(&pk, k);
        for (unsigned j = 0; j < k; j++) {
            uint8_t *rec;
            size_t rl;
            char key[32];
            snprintf(key, sizeof key, "big-%u", i + j);
            if (proto_record_sign(alliance, author, "note", key, first + i + j, proto_now_ms(), 0, b, sk,
                                  &rec, &rl, err, sizeof err)) {
                fprintf(stderr, "peerprobe: %s\n", err);
                return -1;
            }
            msgpack_pack_bin(&pk, rl);
            msgpack_pack_bin_body(&pk, rec, rl);
            free(rec);
        }
        send_frame(ssl, &sb);
    }
    proto_body_free(b);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *conn = NULL, *mode = NULL, *target = NULL, *source = NULL;
    size_t count = 0;   /* 0: the mode's default */
    uint64_t fixed_ms = 1700000000000ull;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--count")) count = (size_t)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--time-ms")) fixed_ms = strtoull(argv[i + 1], NULL, 10);
        if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--connect")) conn = argv[i + 1];
        else if (!strcmp(argv[i], "--mode")) mode = argv[i + 1];
        else if (!strcmp(argv[i], "--target-id")) target = argv[i + 1];
        else if (!strcmp(argv[i], "--source")) source = argv[i + 1];
    }
    signal(SIGPIPE, SIG_IGN);   /* a flood may outlast the connection: keep going to report */
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
    if (!strcmp(mode, "genesis-only")) {
        /* the vector of all DIR holds, then its genesis alone */
        msg_list hl;
        size_t hlen;
        msg_list_init_hello(&hl, &si.genesis, &si.digest);
        store_vv_chains(st, add_vv_cb, &hl);
        const uint8_t *hf = msg_list_frame(&hl, &hlen);
        if (hf)
            SSL_write(ssl, hf, (int)hlen);
        msg_list_destroy(&hl);
        msg_list rl0;
        msg_list_init(&rl0, MSG_RECORDS);
        store_range(st, &si.self, 1, 1, add_rec_cb, &rl0);
        hf = msg_list_frame(&rl0, &hlen);
        if (hf)
            SSL_write(ssl, hf, (int)hlen);
        msg_list_destroy(&rl0);
    } else {
        /* an empty vector: the probe asks for nothing */
        msg_list hl;
        size_t hlen;
        msg_list_init_hello(&hl, &si.genesis, &si.digest);
        const uint8_t *hf = msg_list_frame(&hl, &hlen);
        if (hf)
            SSL_write(ssl, hf, (int)hlen);
        msg_list_destroy(&hl);
    }

    uint8_t *rec = NULL;
    size_t rl = 0;
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
    } else if (!strncmp(mode, "member-fork-", 12)) {
        int va = !strcmp(mode, "member-fork-a");
        proto_id subj = id.id;
        char key[65], hx[65];
        if (va && (!target || proto_id_parse(target, &subj))) {
            fprintf(stderr, "peerprobe: member-fork-a needs --target-id\n");
            return 2;
        }
        proto_hex(subj.b, 32, key);
        proto_body *mb = proto_body_new();
        proto_body_str(mb, "op", va ? "expel" : "address");
        if (!va)
            proto_body_str(mb, "address", "192.0.2.99:7400");
        if (proto_record_sign(&si.genesis, &id.id, "member", key, store_vv_get(st, &id.id) + 1,
                              proto_now_ms(), 0, mb, id.key, &rec, &rl, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        proto_body_free(mb);
        proto_id h;
        proto_record_hash(rec, rl, &h);
        proto_hex(h.b, 32, hx);
        printf("hash %s\n", hx);
        fflush(stdout);
    } else if (!strncmp(mode, "admit-", 6)) {
        certs_identity x;
        char hx[65];
        if (certs_make("132021", "立川市", "ed25519", &x, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        proto_hex(x.id.b, 32, hx);
        printf("newcomer %s\n", hx);
        fflush(stdout);
        msg_list l;
        msg_list_init(&l, MSG_RECORDS);
        for (int i = 0; i < 3; i++) {
            char key[16];
            snprintf(key, sizeof key, "late-%d", i);
            if (proto_record_sign(&si.genesis, &x.id, "note", key, (uint64_t)i + 1, proto_now_ms(), 0, b,
                                  x.key, &rec, &rl, err, sizeof err)) {
                fprintf(stderr, "peerprobe: %s\n", err);
                return 2;
            }
            msg_list_add_record(&l, rec, rl);
            free(rec);
        }
        proto_body *ab = proto_body_new();
        proto_body_str(ab, "op", "admit");
        proto_body_bin(ab, "cert", x.der, x.der_len);
        proto_body_str(ab, "code", x.code);
        proto_body_str(ab, "name", x.name);
        if (proto_record_sign(&si.genesis, &id.id, "member", hx, store_vv_get(st, &id.id) + 1,
                              proto_now_ms(), 0, ab, id.key, &rec, &rl, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        proto_body_free(ab);
        size_t fl;
        const uint8_t *f;
        if (!strcmp(mode, "admit-late")) {
            f = msg_list_frame(&l, &fl);
            SSL_write(ssl, f, (int)fl);
            msg_list_reset(&l);
            sleep(1);
        }
        msg_list_add_record(&l, rec, rl);
        free(rec);
        rec = NULL;
        f = msg_list_frame(&l, &fl);
        SSL_write(ssl, f, (int)fl);
        msg_list_destroy(&l);
        certs_free(&x);
        struct timeval tv = { 2, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    } else if (!strcmp(mode, "relay-from")) {
        certs_identity sid;
        store *sst;
        char sp[1100];
        snprintf(sp, sizeof sp, "%s/db", source ? source : "");
        if (!source || certs_load(source, &sid, err, sizeof err) || store_open(sp, 0, &sst, err, sizeof err)) {
            fprintf(stderr, "peerprobe: relay-from needs --source DIR: %s\n", err);
            return 2;
        }
        proto_body_str(b, "variant", "relayed");
        if (proto_record_sign(&si.genesis, &sid.id, "note", "relayed", store_vv_get(sst, &sid.id) + 1,
                              proto_now_ms(), 0, b, sid.key, &rec, &rl, err, sizeof err)) {
            fprintf(stderr, "peerprobe: %s\n", err);
            return 2;
        }
        store_close(sst);
        certs_free(&sid);
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
    } else if (!strcmp(mode, "sums-noread")) {
        /* sums requests (each answered with ~3 KB of points) for 8 s, never
         * reading: the node must stop reading us rather than queue answers */
        proto_id author;
        if (!target || proto_id_parse(target, &author)) {
            fprintf(stderr, "peerprobe: %s needs --target-id\n", mode);
            return 2;
        }
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        uint64_t t0 = proto_now_ms(), sent = 0;
        msgpack_sbuffer req;
        msg_pack_sums(&req, &author, 1, 1000);
        /* a flight of frames per write: the TLS record overhead stays small */
        size_t per = 256;
        uint8_t *flight = malloc(req.size * per);
        for (size_t k = 0; k < per; k++)
            memcpy(flight + k * req.size, req.data, req.size);
        while (proto_now_ms() - t0 < 8000) {
            int w = SSL_write(ssl, flight, (int)(req.size * per));
            if (w > 0)
                sent += (uint64_t)w;
            else
                usleep(10000);   /* the node stopped reading us: TCP is full */
        }
        printf("sent %llu bytes of sums requests\n", (unsigned long long)sent);
        fflush(stdout);
        free(flight);
        msgpack_sbuffer_destroy(&req);
        fcntl(fd, F_SETFL, fl);
        quiet = 1;
    } else if (!strncmp(mode, "want-", 5) || !strcmp(mode, "announce-flood")) {
        proto_id author;
        if (strcmp(mode, "announce-flood") && (!target || proto_id_parse(target, &author))) {
            fprintf(stderr, "peerprobe: %s needs --target-id\n", mode);
            return 2;
        }
        if (!strcmp(mode, "want-once"))
            flood_want(ssl, &author, 1, 1);
        else if (!strcmp(mode, "want-repeat")) {
            /* 20 times: "I hold only seq 1 of A" then "send me A": each
             * hello claims the log it was just sent was lost */
            for (int k = 0; k < 20; k++) {
                msg_list l;
                proto_id chain = { { 0 } };
                msg_list_init_hello(&l, &si.genesis, &si.digest);
                msg_list_add_vv(&l, &author, 1, &chain);
                size_t hl;
                const uint8_t *hf = msg_list_frame(&l, &hl);
                SSL_write(ssl, hf, (int)hl);
                msg_list_destroy(&l);
                flood_want(ssl, &author, 1, 1);
                usleep(100000);
            }
        }
        else if (!strcmp(mode, "want-flood"))
            flood_want(ssl, &author, 100000, 0);
        else if (!strcmp(mode, "want-dup"))
            flood_want(ssl, &author, 80000, 1);
        else
            flood_announce(ssl, count ? (unsigned)count : 3);
        quiet = 1;
    } else if (!strcmp(mode, "forge-former")) {
        proto_id author;
        if (!target || proto_id_parse(target, &author)) {
            fprintf(stderr, "peerprobe: forge-former needs --target-id\n");
            return 2;
        }
        uint64_t first = store_vv_get(st, &author) + 1;
        size_t n = count ? count : 300;
        for (size_t i = 0; i < n; i += 32) {
            msgpack_sbuffer fsb;
            msgpack_packer fpk;
            size_t k = n - i < 32 ? n - i : 32;
            proto_frame_begin(&fsb, &fpk);
            msgpack_pack_map(&fpk, 2);
            proto_pack_kv_str(&fpk, "t", "records");
            proto_pack_cstr(&fpk, "recs");
            msgpack_pack_array(&fpk, k);
            for (size_t j = 0; j < k; j++) {
                uint8_t *frec;
                size_t frl;
                char key[32];
                snprintf(key, sizeof key, "forged-%zu", i + j);
                proto_body *fb = proto_body_new();
                proto_body_str(fb, "v", key);
                if (proto_record_sign(&si.genesis, &author, "note", key, first + (i + j) % 32, proto_now_ms(), 0, fb,
                                      id.key, &frec, &frl, err, sizeof err)) {
                    fprintf(stderr, "peerprobe: %s\n", err);
                    return 2;
                }
                proto_body_free(fb);
                msgpack_pack_bin(&fpk, frl);
                msgpack_pack_bin_body(&fpk, frec, frl);
                free(frec);
            }
            send_frame(ssl, &fsb);
        }
        struct timeval tv = { 5, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    } else if (!strncmp(mode, "defer-", 6) || !strcmp(mode, "far-seq")) {
        proto_id author = id.id;
        uint64_t first = store_vv_get(st, &id.id) + 2;
        unsigned n = 1500;
        if (!strcmp(mode, "defer-unknown"))
            RAND_bytes(author.b, 32);
        if (!strcmp(mode, "far-seq")) {
            first = 1000000000000ull;
            n = 1;
        }
        if (flood_records(ssl, &si.genesis, &author, id.key, first, n))
            return 2;
        quiet = 1;
    } else if (!strncmp(mode, "split-", 6)) {
        if (!count)
            count = 300;
        if (count < 257 || count > SPLIT_MAX) {
            fprintf(stderr, "peerprobe: --count must be 257..%d\n", SPLIT_MAX);
            return 2;
        }
        int variant_b = !strcmp(mode, "split-b");
        uint64_t base = store_vv_get(st, &id.id);
        uint8_t *recs[2][SPLIT_MAX];
        size_t lens[2][SPLIT_MAX];
        uint8_t (*d)[32] = calloc(count, 32);
        int *in = calloc(count, sizeof *in);
        for (size_t i = 0; i < count; i++) {
            char key[32];
            snprintf(key, sizeof key, "split-%zu", i);
            for (int v = 0; v < 2; v++) {
                proto_body *bv = proto_body_new();
                proto_body_str(bv, "title", "二枚舌");
                proto_body_str(bv, "variant", v ? "b" : "a");
                if (proto_record_sign(&si.genesis, &id.id, "note", key, base + 1 + i, fixed_ms, 0, bv,
                                      id.key, &recs[v][i], &lens[v][i], err, sizeof err)) {
                    fprintf(stderr, "peerprobe: %s\n", err);
                    return 2;
                }
                proto_body_free(bv);
            }
            proto_id ha, hb;
            proto_record_hash(recs[0][i], lens[0][i], &ha);
            proto_record_hash(recs[1][i], lens[1][i], &hb);
            for (int k = 0; k < 32; k++)
                d[i][k] = ha.b[k] ^ hb.b[k];
        }
        if (dependent_subset(d, count, in)) {
            fprintf(stderr, "peerprobe: no dependent subset (cannot happen with >= 257 vectors)\n");
            return 2;
        }
        size_t k = 0;
        for (size_t i = 0; i < count; i++)
            k += in[i];
        printf("split %zu differ %zu base %llu\n", count, k, (unsigned long long)base);
        for (size_t i = 0; i < count; i++)
            if (in[i])
                printf("seq %llu\n", (unsigned long long)(base + 1 + i));
        fflush(stdout);
        msg_list l;
        msg_list_init(&l, MSG_RECORDS);
        for (size_t i = 0; i < count; i++) {
            int v = variant_b && in[i];
            if (msg_list_add_record(&l, recs[v][i], lens[v][i]) == MSG_LIST_FULL) {
                size_t fl;
                const uint8_t *f = msg_list_frame(&l, &fl);
                SSL_write(ssl, f, (int)fl);
                msg_list_reset(&l);
                msg_list_add_record(&l, recs[v][i], lens[v][i]);
            }
        }
        size_t fl;
        const uint8_t *f = msg_list_frame(&l, &fl);
        SSL_write(ssl, f, (int)fl);
        msg_list_destroy(&l);
        for (size_t i = 0; i < count; i++) {
            free(recs[0][i]);
            free(recs[1][i]);
        }
        free(d);
        free(in);
        struct timeval tv = { 2, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
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
             * reading after 2 s in all (below), not after 2 s of silence */
            struct timeval tv = { 2, 0 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        }
    } else if (!strcmp(mode, "malformed")) {
        rec = malloc(8);
        memcpy(rec, "\x92\xc4\x02zz\xc1\xc1\xc1", 8);
        rl = 8;
    } else if (!strcmp(mode, "bad-body")) {
        /* the header proto_record_sign writes, by hand: the signer refuses
         * such a body */
        msgpack_sbuffer tbs, out;
        msgpack_packer tp, op;
        msgpack_sbuffer_init(&tbs);
        msgpack_packer_init(&tp, &tbs, msgpack_sbuffer_write);
        msgpack_pack_array(&tp, 9);
        msgpack_pack_uint32(&tp, 1);
        msgpack_pack_bin(&tp, 32);
        msgpack_pack_bin_body(&tp, si.genesis.b, 32);
        msgpack_pack_bin(&tp, 32);
        msgpack_pack_bin_body(&tp, id.id.b, 32);
        msgpack_pack_str(&tp, 4);
        msgpack_pack_str_body(&tp, "note", 4);
        msgpack_pack_str(&tp, 8);
        msgpack_pack_str_body(&tp, "bad-body", 8);
        msgpack_pack_uint64(&tp, store_vv_get(st, &id.id) + 1);
        msgpack_pack_uint64(&tp, proto_now_ms());
        msgpack_pack_uint32(&tp, 0);
        msgpack_pack_map(&tp, 1);
        msgpack_pack_str(&tp, 1);
        msgpack_pack_str_body(&tp, "v", 1);
        msgpack_pack_double(&tp, 1.5);
        uint8_t sig[128];
        size_t sl = sizeof sig;
        EVP_MD_CTX *mc = EVP_MD_CTX_new();
        if (!mc || EVP_DigestSignInit(mc, NULL, NULL, NULL, id.key) != 1 ||
            EVP_DigestSign(mc, sig, &sl, (const uint8_t *)tbs.data, tbs.size) != 1) {
            fprintf(stderr, "peerprobe: signing failed (an Ed25519 identity is needed)\n");
            return 2;
        }
        EVP_MD_CTX_free(mc);
        msgpack_sbuffer_init(&out);
        msgpack_packer_init(&op, &out, msgpack_sbuffer_write);
        msgpack_pack_array(&op, 2);
        msgpack_pack_bin(&op, tbs.size);
        msgpack_pack_bin_body(&op, tbs.data, tbs.size);
        msgpack_pack_bin(&op, sl);
        msgpack_pack_bin_body(&op, sig, sl);
        msgpack_sbuffer_destroy(&tbs);
        rl = out.size;
        rec = (uint8_t *)msgpack_sbuffer_release(&out);
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

    /* Read frames until the peer closes (a flood: until it is silent). */
    proto_buf in = { 0 };
    int got_error = 0;
    char buf[16384];
    uint64_t bytes = 0, nrecs = 0, start = proto_now_ms(), last = start;
    /* the modes that expect no error listen 2 s in all, even if the peer
     * keeps sending (its anti-entropy probes) */
    int timed = !strncmp(mode, "equivocate-", 11) || !strncmp(mode, "split-", 6) ||
                !strncmp(mode, "member-fork-", 12) || !strcmp(mode, "genesis-only") ||
                !strcmp(mode, "cert-ok") || !strcmp(mode, "relay-from") || !strncmp(mode, "admit-", 6) ||
                !strcmp(mode, "forge-former");
    /* forge-former: the node checks every signature first (5 s, for slow builds) */
    uint64_t until = proto_now_ms() + (strcmp(mode, "forge-former") ? 2000 : 5000);
    if (quiet) {
        printf("sent\n");
        fflush(stdout);
    }
    for (;;) {
        if (timed && proto_now_ms() > until)
            break;
        if (quiet) {
            /* a flood: done after 3 s without records (pings and digests
             * keep coming), or after 10 s in all */
            uint64_t now = proto_now_ms();
            if (now - start > 10000 || now - last > 3000)
                break;
            struct pollfd pf = { .fd = fd, .events = POLLIN };
            if (!SSL_pending(ssl) && poll(&pf, 1, 200) == 0)
                continue;
        }
        int n = SSL_read(ssl, buf, sizeof buf);
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
            if (quiet && !strcmp(t, "records")) {
                bytes += fl + 4;
                nrecs++;
                last = proto_now_ms();
            } else if (!strcmp(t, "error")) {
                printf("recv error %llu %s\n", (unsigned long long)code, text);
                got_error = 1;
            } else {
                printf("recv %s\n", t);
            }
        }
    }
    if (quiet)
        printf("bytes %llu records %llu\n", (unsigned long long)bytes, (unsigned long long)nrecs);
    fflush(stdout);
    proto_buf_free(&in);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    store_close(st);
    certs_free(&id);
    return got_error ? 0 : 3;
}
