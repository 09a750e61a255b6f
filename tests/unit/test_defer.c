/* tests/unit/test_defer.c — daemon/defer.c, the records an ingest set aside,
 * against a real store (LMDB in a temporary directory): an author's records
 * are woken when the store wrote its member entry, key or log, not when
 * another author's changed; a pending admission wakes nobody; a record
 * that waits for the clock is woken every time; a second record appended
 * after a waiter looked is seen again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs/certs.h"
#include "proto/record.h"
#include "proto/util.h"
#include "store/store.h"

/* the daemon's own code, loop-thread only and on the store's API alone
 * (the Makefile lists it as a prerequisite) */
#include "daemon/defer.c"

static char tmpdir[64];
static certs_identity founder, newcomer, second;

static int setup(void **state)
{
    char err[256];
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_defer.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    if (certs_make("131016", "千代田区", "ed25519", &founder, err, sizeof err) ||
        certs_make("132021", "立川市", "ed25519", &newcomer, err, sizeof err) ||
        certs_make("131024", "中央区", "ed25519", &second, err, sizeof err))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd))
        return -1;
    certs_free(&founder);
    certs_free(&newcomer);
    certs_free(&second);
    return 0;
}

static store *found(const char *name, uint32_t admission)
{
    char path[128], err[256];
    store *s;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (store_open(path, 64, &s, err, sizeof err) || store_bind_self(s, &founder.id, err, sizeof err) ||
        store_create_genesis(s, founder.key, founder.der, founder.der_len, founder.code, founder.name,
                             "テスト連合", admission, "192.0.2.1:7400", err, sizeof err))
        fail_msg("store: %s", err);
    return s;
}

static void note(store *s, const char *key)
{
    char err[256];
    proto_body *b = proto_body_new();
    proto_body_str(b, "title", "メモ");
    if (store_write(s, founder.key, "note", key, 0, b, NULL, NULL, err, sizeof err))
        fail_msg("write: %s", err);
    proto_body_free(b);
}

static void admit(store *s, const certs_identity *who)
{
    char err[256], hx[65];
    proto_body *b = proto_body_new();
    proto_hex(who->id.b, 32, hx);
    proto_body_str(b, "op", "admit");
    proto_body_bin(b, "cert", who->der, who->der_len);
    proto_body_str(b, "code", who->code);
    proto_body_str(b, "name", who->name);
    if (store_write(s, founder.key, "member", hx, 0, b, NULL, NULL, err, sizeof err))
        fail_msg("admit: %s", err);
    proto_body_free(b);
}

typedef struct { size_t n; uint64_t seqs[16]; } got;

static void put(void *ctx, uint8_t *raw, size_t len)
{
    got *g = ctx;
    assert_int_equal(len, 8);
    memcpy(&g->seqs[g->n++], raw, 8);
    free(raw);
}

/* The bytes of a record set aside are the defer set's to keep: a seq is
 * enough to tell them apart here. */
static void add(defer_set *ds, const proto_id *author, uint64_t seq, uint64_t vv, int pc)
{
    assert_int_equal(defer_add(ds, (const uint8_t *)&seq, 8, author, seq, vv, pc, pc == STORE_UNKNOWN_AUTHOR), 0);
}

static size_t wake_take(defer_set *ds, store *s, got *g)
{
    size_t bytes, n = defer_wake(ds, s, &bytes);
    assert_int_equal(bytes, n * 8);
    g->n = 0;
    defer_take(ds, put, g);
    assert_int_equal(g->n, n);
    return n;
}

static void woken_by_their_authors_change(void **state)
{
    store *s = found("a", 1);
    defer_set ds;
    got g;
    defer_init(&ds, s);
    /* three records of a newcomer who is no member: the first waits for
     * its author, the others behind it */
    add(&ds, &newcomer.id, 1, 0, STORE_UNKNOWN_AUTHOR);
    add(&ds, &newcomer.id, 2, 0, STORE_GAP);
    add(&ds, &newcomer.id, 3, 0, STORE_GAP);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.nunknown, 1);
    assert_int_equal(wake_take(&ds, s, &g), 0);
    /* another author's record: still nothing */
    note(s, "a");
    assert_int_equal(wake_take(&ds, s, &g), 0);
    assert_int_equal(ds.n, 3);
    /* the admission: the newcomer's three, together */
    admit(s, &newcomer);
    assert_int_equal(wake_take(&ds, s, &g), 3);
    assert_int_equal(ds.n, 0);
    assert_int_equal(ds.bytes, 0);
    assert_int_equal(ds.nunknown, 0);
    assert_int_equal(ds.unknown_bytes, 0);
    assert_int_equal(ds.retriaged, 3);
    /* woken but not taken (the ingest had no room for them): a record
     * added to the author meanwhile counts with them, as take hands it
     * over too */
    add(&ds, &newcomer.id, 4, 0, STORE_GAP);
    note(s, "b");
    admit(s, &newcomer);   /* a second endorsement: its entry written again */
    assert_int_equal(defer_wake(&ds, s, NULL), 1);
    add(&ds, &newcomer.id, 5, 0, STORE_GAP);
    size_t bytes;
    assert_int_equal(defer_wake(&ds, s, &bytes), 2);
    assert_int_equal(bytes, 16);
    assert_int_equal(wake_take(&ds, s, &g), 2);
    defer_free(&ds);
    store_close(s);
}

static void pending_admission_wakes_nobody(void **state)
{
    /* admission 2 with two members (the second admitted by the founder
     * alone while it was the only one): the founder's endorsement alone
     * leaves the newcomer pending, whose records apply no more than a
     * stranger's */
    store *s = found("b", 2);
    admit(s, &second);
    defer_set ds;
    got g;
    defer_init(&ds, s);
    add(&ds, &newcomer.id, 1, 0, STORE_UNKNOWN_AUTHOR);
    admit(s, &newcomer);
    store_member m;
    assert_int_equal(store_member_get(s, &newcomer.id, &m), 0);
    assert_int_equal(m.status, STORE_MEMBER_PENDING);
    assert_int_equal(wake_take(&ds, s, &g), 0);
    assert_int_equal(ds.n, 1);
    defer_free(&ds);
    store_close(s);
}

static void gap_woken_by_each_record_of_its_author(void **state)
{
    store *s = found("c", 1);
    defer_set ds;
    got g;
    defer_init(&ds, s);
    uint64_t vv = store_vv_get(s, &founder.id);
    /* the founder's record three ahead: woken when its log moves, again
     * when it moves once more after the set looked (a run of one
     * author's records counts once only while nobody looked) */
    add(&ds, &founder.id, vv + 3, vv, STORE_GAP);
    assert_int_equal(wake_take(&ds, s, &g), 0);
    note(s, "x");
    assert_int_equal(wake_take(&ds, s, &g), 1);
    add(&ds, &founder.id, vv + 3, vv + 1, STORE_GAP);
    note(s, "y");
    assert_int_equal(wake_take(&ds, s, &g), 1);
    assert_int_equal(g.seqs[0], vv + 3);
    defer_free(&ds);
    store_close(s);
}

static void clock_waits_are_woken_every_time(void **state)
{
    store *s = found("d", 1);
    defer_set ds;
    got g;
    defer_init(&ds, s);
    uint64_t vv = store_vv_get(s, &founder.id);
    /* a gap at vv + 1 is a membership record dated ahead: nothing in the
     * store tells when its time comes */
    add(&ds, &founder.id, vv + 1, vv, STORE_GAP);
    add(&ds, &newcomer.id, 1, 0, STORE_UNKNOWN_AUTHOR);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(wake_take(&ds, s, &g), 1);
        assert_int_equal(g.seqs[0], vv + 1);
        add(&ds, &founder.id, vv + 1, vv, STORE_GAP);
    }
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.nclock, 1);
    defer_free(&ds);
    store_close(s);
}

static void count_put(void *ctx, uint8_t *raw, size_t len)
{
    (*(size_t *)ctx)++;
    free(raw);
}

static void many_authors_and_a_genesis(void **state)
{
    char path[128], err[256];
    store *s;
    snprintf(path, sizeof path, "%s/e", tmpdir);
    if (store_open(path, 64, &s, err, sizeof err) || store_bind_self(s, &founder.id, err, sizeof err))
        fail_msg("store: %s", err);
    defer_set ds;
    got g;
    defer_init(&ds, s);
    /* before a genesis every author is unknown: 2,000 of them (the table
     * grows, and takes leave groups to reuse and compact) */
    for (int i = 0; i < 2000; i++) {
        proto_id a;
        memset(&a, 0, sizeof a);
        memcpy(a.b, &i, sizeof i);
        a.b[31] = 7;
        add(&ds, &a, 1, 0, STORE_UNKNOWN_AUTHOR);
        add(&ds, &a, 2, 0, STORE_GAP);
    }
    assert_int_equal(ds.n, 4000);
    assert_int_equal(wake_take(&ds, s, &g), 0);
    /* a genesis: everyone may apply now */
    if (store_create_genesis(s, founder.key, founder.der, founder.der_len, founder.code, founder.name,
                             "テスト連合", 1, NULL, err, sizeof err))
        fail_msg("genesis: %s", err);
    size_t bytes, n = defer_wake(&ds, s, &bytes);
    assert_int_equal(n, 4000);
    size_t taken = 0;
    defer_take(&ds, count_put, &taken);
    assert_int_equal(taken, 4000);
    assert_int_equal(ds.n, 0);
    assert_true(ds.ng < 64 || ds.nempty * 2 < ds.ng);
    defer_free(&ds);
    store_close(s);
}

/* The longest run of taken slots in the set's table: what a lookup that
 * lands in it walks (linear probing). */
static size_t longest_run(const defer_set *ds)
{
    size_t best = 0, run = 0;
    for (size_t i = 0; i < 2 * ds->nslot; i++) {   /* twice round: a run may wrap */
        run = ds->slot[i & (ds->nslot - 1)] ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best < ds->nslot ? best : ds->nslot;
}

/* A record is set aside on its header alone, before any signature: its
 * author id is any 32 bytes a peer writes there, not the hash of a key.
 * 20,000 ids alike in their first 8 bytes (a record of each at seq 2 is a
 * gap, set aside within the budgets) must not pile up in one run of the
 * table, where each lookup and each insertion would walk all of them (an
 * insertion per record: 2 x 10^8 comparisons on the loop thread). */
static void authors_alike_in_their_first_bytes_spread(void **state)
{
    store *s = found("h", 1);
    defer_set ds;
    defer_init(&ds, s);
    for (uint32_t i = 0; i < 20000; i++) {
        proto_id a;
        memset(&a, 0, sizeof a);
        memcpy(a.b + 8, &i, sizeof i);
        add(&ds, &a, 2, 0, STORE_GAP);
    }
    assert_int_equal(ds.ng, 20000);
    size_t run = longest_run(&ds);
    print_message("longest run of taken slots: %zu of %zu\n", run, ds.nslot);
    assert_true(run < 1000);
    defer_free(&ds);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(woken_by_their_authors_change),
        cmocka_unit_test(pending_admission_wakes_nobody),
        cmocka_unit_test(gap_woken_by_each_record_of_its_author),
        cmocka_unit_test(clock_waits_are_woken_every_time),
        cmocka_unit_test(many_authors_and_a_genesis),
        cmocka_unit_test(authors_alike_in_their_first_bytes_spread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
