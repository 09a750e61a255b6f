/*
 * bench/pace.c — offer a steady stream of puts to one daemon.
 *
 *     pace SOCKET RATE SECONDS OUT
 *
 * Sends RATE "put" requests per second (a batch every 10 ms, pipelined on
 * one control connection) for SECONDS, takes the replies on a second
 * thread, and writes one line per reply to OUT: "seq unix_time".  Prints
 * "offered N" when done.  A small C client, so that on a machine busy with
 * many daemons the client itself is not what limits the offered rate.
 */
#include "proto/frame.h"

#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NREQ 5000

static int fd;
static double rate, seconds, t_start;
static long sent, received;
static int sending = 1;
static struct { uint64_t seq; double t; } *acks;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *taker(void *arg)
{
    proto_buf in = { 0 };
    char buf[65536];
    for (;;) {
        const uint8_t *f;
        size_t fl;
        while (proto_frame_take(&in, PROTO_CTL_FRAME_MAX, &f, &fl) == 1) {
            uint64_t seq = 0;
            proto_map_u64(f, fl, "seq", &seq);
            acks[received].seq = seq;
            acks[received].t = now();
            received++;
        }
        if (!__atomic_load_n(&sending, __ATOMIC_ACQUIRE) && received >= __atomic_load_n(&sent, __ATOMIC_ACQUIRE))
            break;
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, 200) == 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        proto_buf_append(&in, buf, (size_t)n);
    }
    proto_buf_free(&in);
    return arg;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: pace SOCKET RATE SECONDS OUT\n");
        return 2;
    }
    rate = atof(argv[2]);
    seconds = atof(argv[3]);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        perror(argv[1]);
        return 1;
    }
    /* requests packed beforehand */
    static msgpack_sbuffer req[NREQ];
    char text[700];
    snprintf(text, sizeof text, "持続書込");
    memset(text + strlen(text), 'y', 500);
    text[strlen("持続書込") + 500] = 0;
    for (int i = 0; i < NREQ; i++) {
        msgpack_packer pk;
        char key[16];
        snprintf(key, sizeof key, "s%d", i);
        proto_frame_begin(&req[i], &pk);
        msgpack_pack_map(&pk, 5);
        proto_pack_kv_str(&pk, "cmd", "put");
        proto_pack_kv_str(&pk, "kind", "note");
        proto_pack_kv_str(&pk, "key", key);
        proto_pack_kv_u64(&pk, "tombstone", 0);
        proto_pack_cstr(&pk, "fields");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 2);
        proto_pack_cstr(&pk, "text");
        proto_pack_cstr(&pk, text);
        proto_frame_end(&req[i]);
    }
    acks = calloc((size_t)(rate * seconds) + NREQ, sizeof *acks);
    if (!acks)
        return 1;
    pthread_t th;
    t_start = now();
    pthread_create(&th, NULL, taker, NULL);
    long cap = (long)(rate * seconds) + NREQ - 1;
    while (now() - t_start < seconds) {
        long target = (long)((now() - t_start) * rate);
        if (target > cap)
            target = cap;
        while (sent < target) {
            const msgpack_sbuffer *r = &req[sent % NREQ];
            if (write(fd, r->data, r->size) != (ssize_t)r->size) {
                perror("write");
                return 1;
            }
            __atomic_store_n(&sent, sent + 1, __ATOMIC_RELEASE);
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&sending, 0, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    FILE *out = fopen(argv[4], "w");
    if (!out) {
        perror(argv[4]);
        return 1;
    }
    for (long i = 0; i < received; i++)
        fprintf(out, "%llu %.6f\n", (unsigned long long)acks[i].seq, acks[i].t);
    fclose(out);
    printf("offered %ld\nstart %.6f\n", sent, t_start);
    for (int i = 0; i < NREQ; i++)
        msgpack_sbuffer_destroy(&req[i]);
    free(acks);
    close(fd);
    return received == sent ? 0 : 1;
}
