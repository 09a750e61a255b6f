/* tests/unit/test_control.c — daemon/control: the command table and dispatch.
 *
 * daemon/control.c is compiled into this test; what it calls in the rest of
 * the daemon (node, peer, catalog, main, log) is stubbed here and counts its
 * calls.  Requests go to control_request as the transport hands them over;
 * the replies are read back from the client's output, frame by frame.  No
 * socket and no store: the commands run here are those that need neither. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control.c"
#include "daemon/control_watch.c"
#include "daemon/control_policy.c"

/* ---- stubs ---- */

static size_t n_publish, batch_sizes[8], n_publish_one, n_catalog, n_sponsor, n_rotate;

int node_publish(catalogd *d, store_write_item *items, size_t n, char *err, size_t errlen)
{
    if (n_publish < sizeof batch_sizes / sizeof batch_sizes[0])
        batch_sizes[n_publish] = n;
    n_publish++;
    /* refused, so that the replies say which batch each put was in */
    return proto_err(err, errlen, "batch %zu of %zu", n_publish, n);
}

int node_publish_one(catalogd *d, const char *kind, const char *key, uint32_t flags,
                     const proto_body *body, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    n_publish_one++;
    return proto_err(err, errlen, "not written");
}

unsigned peer_count_established(catalogd *d)
{
    return 0;
}

void peer_pack_list(catalogd *d, msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}

void health_pack(catalogd *d, const store_info *si, proto_map *m)
{
}

int catalog_cmd_put(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    n_catalog++;
    return proto_err(err, errlen, "not written");
}

int catalog_cmd_find(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_end(&m);
    return 0;
}

int catalog_cmd_search(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err,
                       size_t errlen)
{
    return catalog_cmd_find(d, req, len, pk, err, errlen);
}

int indexer_ready(catalogd *d)
{
    (void)d;
    return 1;   /* the index is always built here: csearch is stubbed */
}

void catalog_cmd_members_put(catalogd *d, proto_map *m)
{
    proto_map_key(m, "members");
    msgpack_pack_array(m->pk, 0);
}

void catalogd_reload_sponsor(catalogd *d)
{
    n_sponsor++;
}

/* key rotation makes keys and files: not here */
int rotate_begin(catalogd *d, const uint8_t *req, size_t len, rotate_job *j, char *err, size_t errlen)
{
    n_rotate++;
    return proto_err(err, errlen, "key rotation is not part of this test");
}

void rotate_keygen(rotate_job *j)
{
}

int rotate_finish(catalogd *d, rotate_job *j, msgpack_packer *pk, char *err, size_t errlen)
{
    return proto_err(err, errlen, "key rotation is not part of this test");
}

/* rekeys read the store's derivation (daemon/rekey.c): not here */
int rekey_cmd(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    return proto_err(err, errlen, "rekeys are not part of this test");
}

int rekey_member_ref(store *st, const char *s, proto_id *out, char *err, size_t errlen)
{
    return proto_err(err, errlen, "no member %s here", s);
}

int rekey_member_ref_ex(store *st, const char *s, int former, proto_id *out, char *err, size_t errlen)
{
    return proto_err(err, errlen, "no member %s here", s);
}

int rekey_installed_by_quorum(store *st, const proto_id *member, const proto_id *key_id)
{
    return 0;
}

int rekey_pack_show(catalogd *d, const proto_id *x, proto_map *m, msgpack_packer *pk)
{
    return 0;
}

int metrics_cmd(catalogd *d, const uint8_t *req, size_t len, msgpack_packer *pk, char *err, size_t errlen)
{
    proto_map m;
    proto_map_begin(&m, pk);
    proto_map_put_bool(&m, "ok", 1);
    proto_map_put_str(&m, "text", "");
    proto_map_end(&m);
    return 0;
}

void log_msg(const log_cfg *l, int level, const char *fmt, ...)
{
}

/* ---- helpers ---- */

typedef struct {
    catalogd d;
    control_client c;
    proto_buf in;   /* the replies, as the client would read them */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->c.d = &f->d;
    msgpack_sbuffer_init(&f->c.out);
    n_publish = n_publish_one = n_catalog = n_sponsor = n_rotate = 0;
    memset(batch_sizes, 0, sizeof batch_sizes);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    batch_free(&f->c);
    msgpack_sbuffer_destroy(&f->c.out);
    proto_buf_free(&f->in);
    free(f);
    return 0;
}

/* Send a request {"cmd": cmd [, "kind": kind, "key": key]}. */
static void request(fixture *f, const char *cmd, const char *kind, const char *key)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, kind ? 3 : 1);
    proto_pack_kv_str(&pk, "cmd", cmd);
    if (kind) {
        proto_pack_kv_str(&pk, "kind", kind);
        proto_pack_kv_str(&pk, "key", key);
    }
    uint8_t *req = malloc(sb.size);   /* exactly its size, for ASan */
    assert_non_null(req);
    memcpy(req, sb.data, sb.size);
    control_request(&f->c, req, sb.size);
    free(req);
    msgpack_sbuffer_destroy(&sb);
}

/* The end of a read: the batch is written, the replies are out. */
static void end_of_read(fixture *f)
{
    batch_flush(&f->c);
    assert_int_equal(proto_buf_append(&f->in, f->c.out.data, f->c.out.size), 0);
    msgpack_sbuffer_clear(&f->c.out);
}

/* The next reply: 1 if ok; its "error" copied to err ("" when ok). */
static int next_reply(fixture *f, char *err, size_t errlen)
{
    const uint8_t *fr;
    size_t fl;
    proto_rd r;
    int ok = -1;
    assert_int_equal(proto_frame_take(&f->in, PROTO_CTL_FRAME_MAX, &fr, &fl), 1);
    assert_int_equal(proto_map_find(fr, fl, "ok", &r), 0);
    assert_int_equal(proto_rd_bool(&r, &ok), 0);
    err[0] = 0;
    if (!ok)
        assert_int_equal(proto_map_str(fr, fl, "error", err, errlen), 0);
    return ok;
}

static void no_more_replies(fixture *f)
{
    const uint8_t *fr;
    size_t fl;
    assert_int_equal(proto_frame_take(&f->in, PROTO_CTL_FRAME_MAX, &fr, &fl), 0);
}

/* ---- the table ---- */

/* Which commands write is part of the control protocol: a read-only
 * connection (a restricted socket, the web view) relies on it. */
static void table_access(void **state)
{
    static const char *writes[] = { "put", "cput", "member_add", "member_set", "member_rekey", "key_rotate", "policy_propose",
                                    "policy_endorse", "backup", "sponsor" };
    static const char *reads[] = { "status", "get", "list", "history", "forks", "members", "member_show", "policy",
                                   "peers", "vv", "cfind", "csearch", "metrics", "watch", "help" };
    size_t nw = sizeof writes / sizeof writes[0], nr = sizeof reads / sizeof reads[0];
    assert_int_equal(sizeof commands / sizeof commands[0], nw + nr);
    for (size_t i = 0; i < nw; i++) {
        const control_cmd *c = command_find(writes[i]);
        assert_non_null(c);
        assert_int_equal(c->access, CONTROL_WRITE);
    }
    for (size_t i = 0; i < nr; i++) {
        const control_cmd *c = command_find(reads[i]);
        assert_non_null(c);
        assert_int_equal(c->access, CONTROL_READ);
    }
    for (size_t i = 0; i < nw + nr; i++) {
        /* one way to run each, and help for each */
        assert_int_equal(!!commands[i].fn + !!commands[i].batch + !!commands[i].start, 1);
        assert_true(commands[i].help && commands[i].help[0]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(commands[i].name, commands[j].name);
    }
    assert_null(command_find("nope"));
}

/* "help" lists the table itself: every command, its access and help. */
static void help_lists_the_table(void **state)
{
    fixture *f = *state;
    request(f, "help", NULL, NULL);
    end_of_read(f);
    const uint8_t *fr;
    size_t fl;
    proto_rd r;
    uint32_t n;
    assert_int_equal(proto_frame_take(&f->in, PROTO_CTL_FRAME_MAX, &fr, &fl), 1);
    assert_int_equal(proto_map_find(fr, fl, "commands", &r), 0);
    assert_int_equal(proto_rd_array(&r, &n), 0);
    assert_int_equal(n, sizeof commands / sizeof commands[0]);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = r.p;
        assert_int_equal(proto_rd_skip(&r, 4), 0);
        char name[32], access[8], help[256];
        assert_int_equal(proto_map_str(e, (size_t)(r.p - e), "name", name, sizeof name), 0);
        assert_int_equal(proto_map_str(e, (size_t)(r.p - e), "access", access, sizeof access), 0);
        assert_int_equal(proto_map_str(e, (size_t)(r.p - e), "help", help, sizeof help), 0);
        const control_cmd *c = command_find(name);
        assert_non_null(c);
        assert_string_equal(access, c->access == CONTROL_WRITE ? "write" : "read");
        assert_string_equal(help, c->help);
    }
}

/* ---- read-only connections ---- */

static void read_only_refuses_writes(void **state)
{
    fixture *f = *state;
    char err[512], want[128];
    f->c.read_only = 1;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].access == CONTROL_WRITE)
            request(f, commands[i].name, "note", "k");
    request(f, "peers", NULL, NULL);
    request(f, "cfind", "certification", "k");
    end_of_read(f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].access == CONTROL_WRITE) {
            assert_int_equal(next_reply(f, err, sizeof err), 0);
            snprintf(want, sizeof want, "read-only control connection: %s writes", commands[i].name);
            assert_string_equal(err, want);
        }
    assert_int_equal(next_reply(f, err, sizeof err), 1);   /* reads are served */
    assert_int_equal(next_reply(f, err, sizeof err), 1);
    no_more_replies(f);
    /* no handler of a write ran */
    assert_int_equal(n_publish, 0);
    assert_int_equal(n_publish_one, 0);
    assert_int_equal(n_catalog, 0);
    assert_int_equal(n_sponsor, 0);
    assert_int_equal(n_rotate, 0);
    assert_int_equal(f->c.batch.n, 0);
}

/* The same writes on an ordinary connection reach their handlers. */
static void writable_connection_runs_writes(void **state)
{
    fixture *f = *state;
    char err[512];
    request(f, "backup", NULL, NULL);       /* refused before any work starts: no path */
    request(f, "member_set", NULL, NULL);   /* refused by the command: no op */
    request(f, "cput", NULL, NULL);
    request(f, "sponsor", NULL, NULL);
    request(f, "put", "note", "k");
    end_of_read(f);
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_non_null(strstr(err, "path must be an absolute path"));
    assert_null(f->c.job);
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_string_equal(err, "member command needs an op");
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_string_equal(err, "not written");
    assert_int_equal(next_reply(f, err, sizeof err), 1);
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_string_equal(err, "batch 1 of 1");
    no_more_replies(f);
    assert_int_equal(n_catalog, 1);
    assert_int_equal(n_sponsor, 1);
}

/* ---- put's group commit, driven from the table ---- */

/* Consecutive puts share one transaction; any other command, a put that
 * is refused, and the end of a read each close the batch; every request
 * has its reply, in request order. */
static void puts_are_grouped_in_order(void **state)
{
    fixture *f = *state;
    char err[512];
    request(f, "put", "note", "a");
    request(f, "put", "note", "b");
    request(f, "put", "note", "c");
    request(f, "peers", NULL, NULL);
    request(f, "put", "note", "d");
    request(f, "put", "Bad-Kind", "e");
    request(f, "put", "note", "f");
    request(f, "put", "note", "g");
    request(f, "nope", NULL, NULL);
    request(f, "put", "note", "h");
    end_of_read(f);
    assert_int_equal(n_publish, 4);
    assert_int_equal(batch_sizes[0], 3);
    assert_int_equal(batch_sizes[1], 1);
    assert_int_equal(batch_sizes[2], 2);
    assert_int_equal(batch_sizes[3], 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(next_reply(f, err, sizeof err), 0);
        assert_string_equal(err, "batch 1 of 3");
    }
    assert_int_equal(next_reply(f, err, sizeof err), 1);
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_string_equal(err, "batch 2 of 1");
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_non_null(strstr(err, "kind must be"));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(next_reply(f, err, sizeof err), 0);
        assert_string_equal(err, "batch 3 of 2");
    }
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_string_equal(err, "unknown control command");
    assert_int_equal(next_reply(f, err, sizeof err), 0);
    assert_string_equal(err, "batch 4 of 1");
    no_more_replies(f);
}

/* At most NODE_CONTROL_PUT_BATCH puts go in one transaction. */
static void batch_is_bounded(void **state)
{
    fixture *f = *state;
    char err[512], key[16];
    for (unsigned i = 0; i < NODE_CONTROL_PUT_BATCH + 6; i++) {
        snprintf(key, sizeof key, "k%u", i);
        request(f, "put", "note", key);
    }
    end_of_read(f);
    assert_int_equal(n_publish, 2);
    assert_int_equal(batch_sizes[0], NODE_CONTROL_PUT_BATCH);
    assert_int_equal(batch_sizes[1], 6);
    for (unsigned i = 0; i < NODE_CONTROL_PUT_BATCH + 6; i++)
        assert_int_equal(next_reply(f, err, sizeof err), 0);
    no_more_replies(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_access),
        cmocka_unit_test_setup_teardown(help_lists_the_table, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only_refuses_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(writable_connection_runs_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(puts_are_grouped_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(batch_is_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
