/* Fuzz target: control-socket requests (daemon/control.c and
 * daemon/control_catalog.c, compiled into this file as test_control does).
 *
 * Whoever may open the control socket is in the threat model: a local user
 * with socket access sends arbitrary bytes.  The input is that byte stream:
 * frames are taken out of it with proto_frame_take and the control frame
 * limit, as on_read does (the bytes arriving in two pieces), and each frame
 * goes to control_request.  The commands run against a real store (LMDB in
 * a temporary directory, made on the first input: a genesis, a member, a
 * certification, an adoption, a generic record), so get, list, history,
 * cfind, csearch and cput read real records.  Writes are refused by the
 * node_publish stub, so every input sees the same store.
 *
 * Promises checked (a broken one aborts): every request gets exactly one
 * reply, each a frame holding a map with a boolean "ok" (and a text "error"
 * when not ok); the same stream on a read-only connection never reaches
 * node_publish.  backup is left out on writable connections (see run). */
#include "daemon/control.c"
#include "daemon/control_watch.c"
#include "daemon/control_policy.c"
#include "daemon/control_catalog.c"

#include <ftw.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* ---- the rest of the daemon, stubbed ---- */

static size_t n_publish;

int node_publish(catalogd *d, store_write_item *items, size_t n, char *err, size_t errlen)
{
    n_publish++;
    return proto_err(err, errlen, "not written (fuzzing)");
}

int node_publish_one(catalogd *d, const char *kind, const char *key, uint32_t flags,
                     const proto_body *body, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    n_publish++;
    return proto_err(err, errlen, "not written (fuzzing)");
}

int indexer_ready(catalogd *d)
{
    return 1;   /* csearch builds the index on the loop here, as it did before the pool */
}

void gossip_flush_local(catalogd *d)
{
    /* nothing is written, so nothing waits to be pushed */
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

void catalogd_reload_sponsor(catalogd *d)
{
}

/* key rotation makes keys and files: not here */
int rotate_begin(catalogd *d, const uint8_t *req, size_t len, rotate_job *j, char *err, size_t errlen)
{
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

void catalogd_churn(catalogd *d, size_t bytes)
{
}

void log_msg(const log_cfg *l, int level, const char *fmt, ...)
{
}

/* ---- the node ---- */

static catalogd node;
static char tmpdir[64];

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static void node_free(void)
{
    if (node.index)
        catalog_index_free(node.index);
    store_close(node.st);
    certs_free(&node.id);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void must(int rc, const char *what, const char *err)
{
    if (rc) {
        fprintf(stderr, "fuzz_control: %s: %s\n", what, err);
        abort();
    }
}

static void put_catalog(const char *kind, const char *key, const char *const *pairs, size_t n)
{
    catalog_kv kv[16];
    proto_body *b = NULL;
    char err[512];
    for (size_t i = 0; i < n / 2; i++)
        kv[i] = (catalog_kv){ pairs[2 * i], pairs[2 * i + 1] };
    must(catalog_build(kind, kv, n / 2, &b, err, sizeof err), kind, err);
    must(store_write(node.st, node.id.key, kind, key, 0, b, NULL, NULL, err, sizeof err), key, err);
    proto_body_free(b);
}

static void node_init(void)
{
    char err[512], dir[128];
    certs_identity other;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/fuzz_control.XXXXXX");
    CHECK(mkdtemp(tmpdir));
    snprintf(dir, sizeof dir, "%s/node", tmpdir);
    must(certs_init(dir, "131059", "文京区", "ed25519", err, sizeof err), "identity", err);
    must(certs_load(dir, &node.id, err, sizeof err), "identity", err);
    snprintf(dir, sizeof dir, "%s/other", tmpdir);
    must(certs_init(dir, "131016", "千代田区", "p256", err, sizeof err), "identity", err);
    must(certs_load(dir, &other, err, sizeof err), "identity", err);
    snprintf(dir, sizeof dir, "%s/store", tmpdir);
    must(store_open(dir, 64, &node.st, err, sizeof err), "store", err);
    must(store_bind_self(node.st, &node.id.id, err, sizeof err), "store", err);
    must(store_create_genesis(node.st, node.id.key, node.id.der, node.id.der_len, node.id.code, node.id.name,
                              "テスト連合", 1, "192.0.2.1:7400", err, sizeof err), "genesis", err);

    char hx[65], ref[256], ids_[PROTO_ID_STR], corp[14];
    proto_hex(other.id.b, 32, hx);
    proto_body *b = proto_body_new();
    proto_body_str(b, "op", "admit");
    proto_body_str(b, "code", other.code);
    proto_body_str(b, "name", other.name);
    proto_body_bin(b, "cert", other.der, other.der_len);
    must(store_write(node.st, node.id.key, "member", hx, 0, b, NULL, NULL, err, sizeof err), "admit", err);
    proto_body_free(b);
    certs_free(&other);

    snprintf(corp, sizeof corp, "%d999900000011", jp_corporate_number_check_digit("999900000011"));
    put_catalog("certification", "文京-2026-001", (const char *const[]){
        "事業者名", "株式会社みらい防災テック", "法人番号", corp, "製品・サービス名", "避難所混雑マップ",
        "分野", "防災", "認定日", "2026-04-01", "有効期限", "fy-end+2", "公開区分", "public" }, 14);
    put_catalog("certification", "文京-2026-002", (const char *const[]){
        "事業者名", "ことのはラボ", "製品・サービス名", "ＡＩ議事録アシスタント", "分野", "行政DX",
        "認定日", "2025-07-01", "有効期限", "2026-06-30", "状態", "停止", "状態変更日", "2026-01-05" }, 14);
    proto_id_str(&node.id.id, ids_);
    snprintf(ref, sizeof ref, "%s/文京-2026-001", ids_);
    put_catalog("adoption", "R8-001", (const char *const[]){
        "認定", ref, "年度", "2026", "原課", "総務課", "契約方法", "4号随契", "金額", "1200000" }, 10);
    b = proto_body_new();
    proto_body_str(b, "title", "議事録");
    must(store_write(node.st, node.id.key, "note", "memo-1", 0, b, NULL, NULL, err, sizeof err), "note", err);
    proto_body_free(b);
    node.catalog_gen = 1;   /* as the daemon starts: the index is built on the first search */
    CHECK((node.index = catalog_index_new()));
    atexit(node_free);
}

/* ---- one connection ---- */

static size_t run(const uint8_t *data, size_t size, int read_only)
{
    control_client *c = calloc(1, sizeof *c);
    size_t requests = 0, replies = 0;
    CHECK(c);
    c->d = &node;
    c->read_only = read_only;
    msgpack_sbuffer_init(&c->out);
    /* as on_read: what arrived is split into frames, the batch is written
     * and the replies go out at the end of each read */
    size_t half = size / 2;
    for (int round = 0; round < 2; round++) {
        const uint8_t *f;
        size_t fl;
        int rc;
        CHECK(proto_buf_append(&c->in, round ? data + half : data, round ? size - half : half) == 0);
        while ((rc = proto_frame_take(&c->in, PROTO_CTL_FRAME_MAX, &f, &fl)) == 1) {
            char cmd[32];
            /* backup writes files wherever the input says and answers from
             * the thread pool (no loop here): not fuzzed.  A read-only
             * connection still gets it, to be refused. */
            if (!read_only && proto_map_str(f, fl, "cmd", cmd, sizeof cmd) == 0 && !strcmp(cmd, "backup"))
                continue;
            requests++;
            control_request(c, f, fl);
        }
        batch_flush(c);
        if (rc < 0)
            break;   /* the connection would be closed */
    }
    /* every request answered once, in frames holding {"ok": bool, ...} */
    proto_buf out = { 0 };
    const uint8_t *f;
    size_t fl;
    CHECK(proto_buf_append(&out, c->out.data, c->out.size) == 0);
    while (proto_frame_take(&out, (size_t)-1 >> 1, &f, &fl) == 1) {
        proto_rd r;
        int ok = -1;
        const char *e;
        uint32_t el;
        CHECK(proto_map_find(f, fl, "ok", &r) == 0 && proto_rd_bool(&r, &ok) == 0);
        if (!ok)
            CHECK(proto_map_find(f, fl, "error", &r) == 0 && proto_rd_str(&r, &e, &el) == 0 && el > 0);
        replies++;
    }
    CHECK(out.len == 0 || out.len == out.off);
    CHECK(replies == requests);
    proto_buf_free(&out);
    proto_buf_free(&c->in);
    msgpack_sbuffer_destroy(&c->out);
    batch_free(c);
    free(c);
    return requests;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!node.st)
        node_init();
    run(data, size, 0);
    n_publish = 0;
    run(data, size, 1);
    CHECK(n_publish == 0);   /* a read-only connection writes nothing */
    return 0;
}
