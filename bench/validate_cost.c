/*
 * bench/validate_cost.c — what the certification schema costs a record
 * that arrives (catalog_record_validate, on the thread pool next to the
 * signature check), against the full conversion it shortcuts
 * (catalog_record_validate_full), on a row shaped like bench/gen_catalog.py's.
 *
 *     validate_cost [N]        N validations of each (default 20000)
 *
 * Prints: validate_us N / validate_full_us N (microseconds per record).
 * Wall-clock figures move with the machine's load; for instruction counts
 * run it under valgrind --tool=callgrind and compare the two functions.
 */
#include "catalog/schema.h"
#include "proto/record.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    /* gen_catalog.py's row 123, 分野 with two items (a third of its rows) */
    const catalog_kv kv[] = {
        { "事業者名", "株式会社みらいさくら123" }, { "法人番号", "7000012050002" },
        { "所在地", "東京都文京区本郷4丁目4番" }, { "設立日", "2013-04-01" },
        { "製品・サービス名", "みらい窓口予約10" },
        { "概要", "窓口予約をみらいの技術で効率化する。職員の作業時間を削減し、住民サービスの質を高める。試行123。" },
        { "分野", "子育て、行政DX" }, { "参考価格", "月額240,000円〜" }, { "認定日", "2026-05-17" },
        { "有効期限", "fy-end+2" }, { "状態", "認定中" }, { "URL", "https://example.jp/products/123" },
        { "問合せ先", "産業振興課 03-0000-0000" }, { "公開区分", "公開" },
    };
    proto_body *b = NULL;
    char err[512];
    if (catalog_build("certification", kv, sizeof kv / sizeof kv[0], &b, err, sizeof err)) {
        fprintf(stderr, "build: %s\n", err);
        return 1;
    }
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    proto_id al, au;
    uint8_t *buf;
    size_t len;
    proto_record r;
    memset(&al, 0x11, sizeof al);
    memset(&au, 0x22, sizeof au);
    if (!k || proto_record_sign(&al, &au, "certification", "B-000123", 1, 1700000000000ull, 0, b, k,
                                &buf, &len, err, sizeof err) ||
        proto_record_decode(buf, len, &r, err, sizeof err)) {
        fprintf(stderr, "record: %s\n", err);
        return 1;
    }
    double t0 = now();
    for (int i = 0; i < n; i++)
        if (catalog_record_validate(&r, err, sizeof err)) {
            fprintf(stderr, "refused: %s\n", err);
            return 1;
        }
    double t1 = now();
    for (int i = 0; i < n; i++)
        if (catalog_record_validate_full(&r, err, sizeof err)) {
            fprintf(stderr, "refused: %s\n", err);
            return 1;
        }
    double t2 = now();
    printf("validate_us %.2f\nvalidate_full_us %.2f\nrecord_bytes %zu\n", (t1 - t0) * 1e6 / n,
           (t2 - t1) * 1e6 / n, len);
    free(buf);
    proto_body_free(b);
    EVP_PKEY_free(k);
    return 0;
}
