/*
 * bench/verify_rate.c — the ceiling for taking in records: Ed25519
 * signature verifications per second on this machine, one thread per core,
 * measured on real ~600-byte records through proto_record_verify; and the
 * same for signing (proto_record_sign), the other half of an import's
 * ceiling.
 * Prints: verify_rate_1core N / verify_rate_all N / verify_rate_all_worst N /
 * cores N / record_bytes N / sign_rate_all N
 */
#include "proto/record.h"
#include "proto/util.h"
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static proto_record rec;
static EVP_PKEY *key;
static double seconds = 1.0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static proto_body *body;

static void *sign_worker(void *arg)
{
    long n = 0;
    double end = now() + seconds;
    proto_id a = { { 1 } }, au = { { 2 } };
    while (now() < end) {
        for (int i = 0; i < 64; i++) {
            uint8_t *raw;
            size_t len;
            if (proto_record_sign(&a, &au, "certification", "B-000001", (uint64_t)n + 1, 1, 0, body, key, &raw,
                                  &len, NULL, 0) == 0) {
                free(raw);
                n++;
            }
        }
    }
    *(long *)arg = n;
    return NULL;
}

static void *worker(void *arg)
{
    long n = 0;
    double end = now() + seconds;
    while (now() < end) {
        for (int i = 0; i < 64; i++)
            n += proto_record_verify(&rec, key, NULL, 0) == 0;
    }
    *(long *)arg = n;
    return NULL;
}

int main(void)
{
    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    proto_body *b = body = proto_body_new();
    char text[520];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = 0;
    proto_body_str(b, "summary", text);
    proto_id a = { { 1 } }, au = { { 2 } };
    uint8_t *raw;
    size_t len;
    if (proto_record_sign(&a, &au, "certification", "B-000001", 1, 1, 0, b, key, &raw, &len, NULL, 0) ||
        proto_record_decode(raw, len, &rec, NULL, 0))
        return 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long one = 0;
    worker(&one);
    pthread_t th[64];
    if (cores > 64)
        cores = 64;
    /* On a shared machine the other cores are not always all ours: the
     * ceiling is the best of three runs (a higher ceiling makes every ratio
     * quoted against it smaller, never flattering). */
    long best = 0, worst = -1;
    for (int run = 0; run < 3; run++) {
        long counts[64] = { 0 }, all = 0;
        for (long i = 0; i < cores; i++)
            pthread_create(&th[i], NULL, worker, &counts[i]);
        for (long i = 0; i < cores; i++) {
            pthread_join(th[i], NULL);
            all += counts[i];
        }
        if (all > best)
            best = all;
        if (worst < 0 || all < worst)
            worst = all;
    }
    long sign_best = 0;
    for (int run = 0; run < 3; run++) {
        long counts[64] = { 0 }, all = 0;
        for (long i = 0; i < cores; i++)
            pthread_create(&th[i], NULL, sign_worker, &counts[i]);
        for (long i = 0; i < cores; i++) {
            pthread_join(th[i], NULL);
            all += counts[i];
        }
        if (all > sign_best)
            sign_best = all;
    }
    printf("verify_rate_1core %.0f\nverify_rate_all %.0f\nverify_rate_all_worst %.0f\ncores %ld\n"
           "record_bytes %zu\nsign_rate_all %.0f\n", one / seconds, best / seconds, worst / seconds, cores, len,
           sign_best / seconds);
    return 0;
}
