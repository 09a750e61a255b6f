/*
 * store/store.h — the catalog on disk: one LMDB environment per node.
 *
 * The store keeps every signed record ever accepted (history), the current
 * record of each (author, kind, key) — the one with the highest seq — the
 * version vector (per author, the highest seq held; every author's log is a
 * dense prefix 1..n), the alliance's members as derived from genesis and
 * member records, equivocation evidence, a hash chain over every author's
 * log (per seq: the hash of the record held there and a chain value that
 * commits to the log up to it), and a digest over the version vector and
 * those chains, so two stores have the same digest exactly when they hold
 * the same logs (same (author, seq) -> same record), whatever records a
 * member crafted: see store/store_sum.c.
 *
 * Trust rules applied here (DESIGN §2/§3): a genesis is accepted once and
 * pinned; every other record must carry the pinned alliance id, be authored by
 * a current member, follow that author's previous seq and pass its kind's
 * validator in the kinds table (store/kind.h: the rules that depend on the
 * record alone, such as what a member record may say).  Signatures are
 * checked by the caller (store_precheck hands out the key to check with) so the
 * expensive part can run on other threads; store_apply_batch re-checks the
 * cheap rules inside its write transaction.
 *
 * A store is used from one thread at a time, except store_member_key's
 * returned EVP_PKEY, which may be used from any thread, and a snapshot
 * (store_snap_begin), which is used on a thread of its own.
 *
 * The implementation is split by concern: store.c (open, the LMDB layout,
 * meta, info), store_member.c (membership), store_apply.c (precheck, apply,
 * writes), store_read.c (reads, page release), store_sum.c (the log chains
 * and the digest), store_apart.c (records set apart, re-judging a log, a
 * rekey's arrival rules); store_int.h is private to them.
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include "proto/record.h"

/* 2: the sum db (log chains); a schema-1 store is migrated at open. */
#define STORE_SCHEMA 2

typedef struct store store;

typedef struct {
    int has_self;
    proto_id self;          /* the node's member id */
    int has_genesis;
    proto_id genesis;       /* alliance id = hash of the genesis record */
    char alliance[256];     /* alliance name from genesis */
    uint32_t admission;     /* endorsements needed to admit a member (the policy in force) */
    proto_id digest;        /* SHA-256 over the version vector and each log's chain */
    uint64_t records;       /* every version held */
    uint64_t current;       /* current (author, kind, key) entries */
    uint64_t members;       /* current members */
    uint64_t authors;       /* authors in the version vector */
    uint64_t forks;         /* equivocation evidence records */
    uint64_t map_used;      /* bytes of the LMDB map in use (pages up to the last one written) */
    uint64_t map_size;      /* bytes the map may grow to (map_size_mb) */
} store_info;

enum store_member_status { STORE_MEMBER_PENDING = 0, STORE_MEMBER_ACTIVE = 1,
                           STORE_MEMBER_LEFT = 2, STORE_MEMBER_EXPELLED = 3 };

typedef struct {
    proto_id id;
    int status;
    char code[8];
    char name[192];
    char address[256];
    proto_id admitted_by;   /* zero for the founder */
    uint64_t since_ms;
    uint32_t endorsements;
    uint8_t spki[2048];
    size_t spki_len;
} store_member;

/* Outcome of checking or applying one record. */
enum store_result {
    STORE_NEW = 0,          /* accepted (or would be) */
    STORE_DUP,              /* held already, same bytes: dropped before any signature check */
    STORE_GAP,              /* seq beyond the author's next: fetch the missing ones first */
    STORE_UNKNOWN_AUTHOR,   /* author not (yet) a member: may become one later in the batch */
    STORE_FORK,             /* another record with the same (author, seq): evidence kept */
    STORE_REJECT,           /* violates the rules: never acceptable */
    STORE_FORMER,           /* author left or was expelled, seq beyond its cut, or signed
                             * by a key a rekey retired, beyond the rekey's cut: refused
                             * from the log (kept apart within bounds), but an honest
                             * relay may hold it (not a protocol error).  A precheck
                             * hands a former member's record beyond its cut (within
                             * STORE_FORMER_APART_SEQS) out as STORE_NEW with its key:
                             * applied, it is kept apart (verified) and the apply says
                             * STORE_FORMER; a retired key's goes to
                             * store_apply_retired */
};
const char *store_result_str(int r);

int  store_open(const char *dir, size_t map_mb, store **out, char *err, size_t errlen);
/* Durable mode (on) syncs LMDB's meta page at every commit too: a write
 * acknowledged is on disk even after a power loss.  Off (the default, and
 * what store_open gives) the data pages are synced but the meta page is
 * left to the next commit (MDB_NOMETASYNC): faster, and the store stays
 * consistent, but the last commits before a power loss (not a crash of
 * the process) may be lost.  0, or -1 with err. */
int  store_set_durable(store *s, int on, char *err, size_t errlen);
void store_close(store *s);

/* Bind the store to the node's identity (first open) or check it is ours. */
int store_bind_self(store *s, const proto_id *self, char *err, size_t errlen);

/* The store of a node restored with a key that a rekey by quorum voted in
 * (bound to that key's id at its first open) is bound to member instead,
 * if key_id is member's key in force now.  0, or -1 with err. */
int store_rebind_self_rekeyed(store *s, const proto_id *member, const proto_id *key_id, char *err, size_t errlen);

/* Backup: a compacted copy of the environment (mdb_env_copyfd2 with
 * MDB_CP_COMPACT) written to fd, which the caller opened (so it chooses the
 * file's mode).  The copy is one read transaction: consistent as of its
 * start, while writes go on.  Unlike every other call here it may run on
 * another thread than the one using the store (the thread pool): it touches
 * only the LMDB environment, which LMDB lets any thread read from
 * (MDB_NOTLS).  It blocks for as long as the copy takes.  0, or -1 with err. */
int store_backup_fd(store *s, int fd, char *err, size_t errlen);
/* The member id a store on disk is bound to (meta "self"), without opening
 * it for writing or creating its lock file: for checking a backup before it
 * is restored.  0, 1 if the store has no self, -1 with err. */
int store_peek_self(const char *dir, proto_id *self, char *err, size_t errlen);

int store_info_get(store *s, store_info *out);
/* The cheap part of store_info (no counting): digest, genesis, whether one is pinned. */
int store_digest_get(store *s, proto_id *digest, proto_id *genesis, int *has_genesis);

/* Free-form node settings kept with the data (e.g. the sponsor to trust). */
int store_meta_put(store *s, const char *name, const void *val, size_t len);
int store_meta_get(store *s, const char *name, void *buf, size_t *len);  /* -1 if absent */

/* How far ahead of this node's clock a membership record (member, and
 * any kind flagged KIND_F_MEMBERSHIP but the genesis) may be dated and
 * still be accepted: beyond it the precheck says STORE_GAP (it waits and
 * is fetched again later; docs/DECISIONS.md 6).  Wide enough for clocks
 * that NTP keeps, narrow enough that a record dated far ahead cannot make
 * every later membership record replay the membership for long. */
#define STORE_MEMBER_SKEW_MS (15ull * 60 * 1000)

/* Cheap checks, no signature: returns a store_result.  For STORE_NEW and
 * STORE_FORK *key receives the author's key (caller frees with EVP_PKEY_free)
 * to verify the signature with. */
int store_precheck(store *s, const proto_record *r, EVP_PKEY **key, char *err, size_t errlen);

/* store_precheck for many records in one read transaction; res[i] and
 * keys[i] as above; err describes the first STORE_REJECT. */
int store_precheck_batch(store *s, const proto_record *recs, size_t n, int *res, EVP_PKEY **keys,
                         unsigned flags, char *err, size_t errlen);
/* flags of store_precheck_batch: the caller runs store_record_rules on
 * every record it goes on with (ingest does, on the thread pool). */
#define STORE_RULES_LATER 1u
/* The rules that depend on the record alone (its kind's validator): 0, or
 * -1 with err.  Reads nothing of the store, so any thread may call it. */
int store_record_rules(const proto_record *r, char *err, size_t errlen);

/* ---- records set apart, and the keys a rekey brings (store/store_apart.c) ----
 *
 * A rekey (docs/DECISIONS.md, "Rekey of a lost or stolen key") changes an
 * author's key schedule from a cut on; the store then re-judges that
 * author's log: at each seq the version valid under the schedule stays in
 * the log (the lowest hash among several, as a fork's winner), the others
 * are set apart (db apart), and the log stops at the first seq with no
 * valid version.  Records apart are kept as evidence, and to come back if
 * the schedule changes back: at most STORE_APART_MAX per author (the
 * lowest seqs beyond it are dropped). */
#define STORE_APART_MAX 4096u
/* A former member (left or expelled: docs/DECISIONS.md 16) keeps its log up
 * to its cut; its records beyond the cut are kept apart, not in the log, so
 * that every store holding them derives the same whatever the order they
 * came in, and they come back if a later derivation makes the author a
 * member at that seq again.  A former member can sign any number of them:
 * at most STORE_FORMER_APART_SEQS seqs after its cut are kept (cut + 1 ..
 * cut + 64; a later one is refused, STORE_FORMER), and at most
 * STORE_APART_SEQ_VERSIONS versions of one seq (the lowest hashes).  The
 * derivation reads them (a dense run from the log's end, the lowest hash
 * at each seq) and then leaves out what lies beyond the cuts it derived,
 * at most STORE_FORMER_ROUNDS times (store_replay.c). */
#define STORE_FORMER_APART_SEQS 64u
#define STORE_APART_SEQ_VERSIONS 2u
/* Versions of one former member's records a store ever takes apart (meta
 * farr:ID counts them).  A lower hash displaces a kept version, and each
 * membership record taken makes the next write derive again: without a
 * budget a former member signing versions of ever lower hash, dated before
 * its departure, made every one of them a full derivation.  An honest
 * former member writes a few records beyond its cut in the seconds before
 * it learns of its departure, each reaching a store once; past the budget
 * its records are refused as before this rule (STORE_FORMER, no signature
 * check), so which versions two stores keep may then differ — only for an
 * author that flooded, which is itself the evidence. */
#define STORE_FORMER_ARRIVALS_MAX (2u * STORE_FORMER_APART_SEQS * STORE_APART_SEQ_VERSIONS)
#define STORE_FORMER_ROUNDS 8u
/* Versions signed by a key a decided rekey retired, beyond its cut, that a
 * store ever keeps apart of one author (meta rarr:ID; docs/DECISIONS.md
 * 22): kept, not refused, so that a store that took them after the
 * decision holds what one that took them before holds, within the same
 * bounds as a former member's (STORE_FORMER_APART_SEQS seqs after the cut,
 * STORE_APART_SEQ_VERSIONS versions of a seq) and this budget.  Past them
 * the precheck does not hand the retired key out: no signature check
 * under it, and the record is refused (STORE_FORMER) as before. */
#define STORE_RETIRED_ARRIVALS_MAX STORE_FORMER_ARRIVALS_MAX
/* How many records of author the store holds apart (db apart: a former
 * member's beyond its cut, a rekeyed author's beyond a decided cut). */
uint64_t store_former_apart_count(store *s, const proto_id *author);
/* Keys other than the one in force that the precheck hands out for one
 * record: the new keys of an undecided rekey of its author, and the key a
 * decided rekey retired at its seq. */
#define STORE_REKEY_ALT_KEYS 4u

/* The alternative keys of one record (up-ref'd; store_alt_keys_free) and
 * what a record verifying under one of them is: res[i] STORE_GAP (signed
 * by a key of a rekey not decided here yet: not stored, the sender not
 * closed, fetched again later) or STORE_FORMER (signed by a key a decided
 * rekey retired at the record's seq, beyond the rekey's cut: for
 * store_apply_retired, which keeps it apart; the sender not closed).  A
 * retired key is handed out only within the bounds of
 * STORE_RETIRED_ARRIVALS_MAX; beyond them fail_res is STORE_FORMER (for a
 * record the precheck says STORE_NEW or STORE_FORK of). */
typedef struct {
    unsigned n;
    EVP_PKEY *key[STORE_REKEY_ALT_KEYS];
    int res[STORE_REKEY_ALT_KEYS];
    /* what a record verifying under no key is: 0 a forgery; STORE_FORMER
     * for a former member's record beyond its cut (kept apart if it
     * verifies under the key its log had: one after a rotation the store
     * does not hold is refused, and the honest relay that sent it is not
     * closed, docs/DECISIONS.md 16) */
    int fail_res;
    /* the record is STORE_GAP, two seqs or more past its author's log end,
     * and the key a decided rekey retired at its seq is among key[] (and,
     * when a slot was free, the key in force at its seq, res STORE_GAP): a
     * caller with no predecessor's key for it may verify it under key[]
     * alone, with fail_res set to STORE_GAP — under the retired key it is
     * for store_apply_retired, kept apart as the store that took it before
     * the decision holds it; under any other it waits as the gap it is */
    int past_end;
} store_alt_keys;
/* store_precheck_batch, and for every record whose result is STORE_NEW,
 * STORE_FORK or STORE_GAP (which the caller may take as NEW when its
 * predecessor is in the batch) its alternative keys in alts[i] (alts may
 * be NULL: none are looked up; alts[i].n is 0 for the other results).
 * A record two seqs or more past its author's log end for which the key
 * a decided rekey retired is handed out is STORE_GAP with past_end set
 * (see store_alt_keys).
 */
int store_precheck_batch_alt(store *s, const proto_record *recs, size_t n, int *res, EVP_PKEY **keys,
                             store_alt_keys *alts, unsigned flags, char *err, size_t errlen);
void store_alt_keys_free(store_alt_keys *a);
/* Whether any record may have alternative keys or a failure outcome now
 * (a rekey derived or open anywhere, a former member): when not, a caller
 * need not ask for them.  1 or 0. */
int store_rekey_rules_any(store *s);
/* The outcome of r's signature: STORE_NEW if it verifies under key, else
 * alts->res[i] of the first alternative it verifies under, else
 * alts->fail_res if set, else -1 (a bad signature).  alts may be NULL.  Reads nothing of the store: any thread. */
int store_verify_alt(const proto_record *r, EVP_PKEY *key, const store_alt_keys *alts);
/* The same, and *verified: 0 when r verified under no key at all (the
 * result is then alts->fail_res or -1), else 1. */
int store_verify_alt_ex(const proto_record *r, EVP_PKEY *key, const store_alt_keys *alts, int *verified);
/* How many times this process's store rewrote an author's log (a re-judge
 * moved records between the log and apart): counted when written, so an
 * abort only makes a reader look again.  A reader that saw it change
 * reloads what it keeps from the log (the search index). */
uint64_t store_log_rewrites(store *s);
/* The highest cut of a decided rekey of id (its old keys' records after
 * seq *cut are refused): 0, 1 if none, -1. */
int store_rekey_cut(store *s, const proto_id *id, uint64_t *cut);
/* Records set apart, all authors. */
uint64_t store_apart_count(store *s);

/* Apply records whose signatures the caller has verified, in one write
 * transaction.  results[i] gets a store_result per record.  Records should be
 * in (author, seq) order.  Returns 0, or -1 if the transaction failed (then
 * nothing was written). */
int store_apply_batch(store *s, const proto_record *recs, size_t n, int *results,
                      char *err, size_t errlen);
/* Records the caller verified under a key a decided rekey of their author
 * retired, beyond its cut (store_verify_alt gave STORE_FORMER and the
 * record verified; not a former member's beyond its own cut): kept apart,
 * out of the log, within the bounds of STORE_RETIRED_ARRIVALS_MAX, in one
 * write transaction; a membership record kept makes it derive again (it
 * may unmake the decision: docs/DECISIONS.md 22).  results[i]: STORE_FORMER
 * (kept apart, or refused past the bounds), STORE_DUP (held already), or
 * STORE_GAP (no longer signed by a retired key here, a derivation since
 * changed its author's keys: offer it again).  0, or -1 (nothing written). */
int store_apply_retired(store *s, const proto_record *recs, size_t n, int *results, char *err, size_t errlen);
/* store_apply_batch for records whose rules that depend on the record alone
 * the caller has checked (store_record_rules, or store_precheck_batch
 * without STORE_RULES_LATER): they are not run a second time; everything
 * that depends on what the store holds is checked again. */
int store_apply_prechecked(store *s, const proto_record *recs, size_t n, int *results,
                           char *err, size_t errlen);
/* What a caller computed for a record on another thread, for
 * store_apply_hashed: its hash, and the step of its author's log chain
 * (store_sum.c) from the chain value it took to be the one before. */
typedef struct {
    proto_id hash;            /* proto_record_hash of exactly the record's bytes */
    int chained;              /* chain_prev and chain are set */
    uint8_t chain_prev[32];   /* the author's chain at seq - 1, as the caller took it */
    uint8_t chain[32];        /* store_chain_step(chain_prev, seq, hash) */
} store_pre;
/* One step of an author's log chain: SHA-256(prev || be64(seq) || hash).
 * Pure: any thread may call it. */
void store_chain_step(const uint8_t prev[32], uint64_t seq, const uint8_t hash[32], uint8_t out[32]);

/* store_apply_prechecked with each record's hash, and maybe its chain
 * step, computed by the caller (ingest does it on the thread pool, beside
 * the signature check).  pre[i].hash must be proto_record_hash of exactly
 * recs[i].raw[0..raw_len), the bytes stored: it becomes the record's
 * identity (its version entry, current pointer and log chain), so a wrong
 * one corrupts the log.  The apply then hashes nothing itself.  A chain
 * step is used only when the chain the store holds at seq - 1 (as this
 * transaction has it) is chain_prev; else it is computed here, as it is
 * when not chained.  pre NULL: as store_apply_prechecked.  With the check
 * on (store_check_hashes), every hash and chain step handed over is
 * computed again and a mismatch fails the whole transaction (-1, nothing
 * written). */
int store_apply_hashed(store *s, const proto_record *recs, const store_pre *pre, size_t n, int *results,
                       char *err, size_t errlen);
/* Turn the check of store_apply_hashed on or off.  It is on from
 * store_open in a build with STORE_CHECK_HASHES defined (make asan-check),
 * off otherwise: it costs the SHA-256 the handed hash saves. */
void store_check_hashes(store *s, int on);

/* Sign a new record as this node (next seq) and apply it, atomically.  The
 * record bytes are returned in *out (malloc'd) when out is non-NULL. */
int store_write(store *s, EVP_PKEY *priv, const char *kind, const char *key,
                uint32_t flags, const proto_body *body, uint8_t **out, size_t *out_len,
                char *err, size_t errlen);

/* Several records of this node in one write transaction: all or none. */
typedef struct {
    const char *kind, *key;
    uint32_t flags;
    const proto_body *body;
    uint8_t *out;          /* set on success: the record bytes (caller frees) */
    size_t out_len;
    proto_record rec;      /* set on success: out as the store decoded it (with the
                            * text rule), pointing into out: callers need not decode
                            * it again */
} store_write_item;
int store_write_many(store *s, EVP_PKEY *priv, store_write_item *items, size_t n,
                     char *err, size_t errlen);

/* Found an alliance: genesis record naming this node (cert_der) as founder;
 * address (HOST:PORT, may be NULL) is where other members reach it. */
int store_create_genesis(store *s, EVP_PKEY *priv, const uint8_t *cert_der, size_t cert_len,
                         const char *code, const char *member_name, const char *alliance_name,
                         uint32_t admission, const char *address, char *err, size_t errlen);

/* Iteration: callbacks see bytes valid only during the call; return non-zero to stop. */
typedef int (*store_rec_cb)(void *ctx, const uint8_t *rec, size_t len);
int store_get_current(store *s, const proto_id *author, const char *kind, const char *key,
                      store_rec_cb cb, void *ctx);            /* 0 found, 1 absent, -1 error */
int store_foreach_current(store *s, const char *kind, store_rec_cb cb, void *ctx);
/* The same walk in pages: from the entry after the cursor `after` (alen
 * bytes; 0 = from the start).  When cb stops the walk and more entries
 * follow, next (STORE_CURSOR_MAX bytes) gets the cursor to pass for the next
 * page and *nextlen its length; *nextlen is 0 when the walk is complete.
 * Cursors are opaque bytes, valid across writes (a page starts after the
 * key where the last one stopped). */
#define STORE_CURSOR_MAX (1 + PROTO_KIND_MAX + 32 + PROTO_KEY_MAX + 1)
int store_foreach_current_page(store *s, const char *kind, const uint8_t *after, size_t alen,
                               store_rec_cb cb, void *ctx, uint8_t *next, size_t *nextlen);
/* The same walk without reading any record: author, seq and flags of the
 * current version of every key of `kind`. */
typedef int (*store_ref_cb)(void *ctx, const proto_id *author, uint64_t seq, uint32_t flags);
int store_foreach_current_ref(store *s, const char *kind, store_ref_cb cb, void *ctx);
int store_history(store *s, const proto_id *author, const char *kind, const char *key,
                  store_rec_cb cb, void *ctx);
int store_range(store *s, const proto_id *author, uint64_t from, uint64_t to,
                store_rec_cb cb, void *ctx);                   /* seq from..to inclusive */
int store_forks(store *s, store_rec_cb cb, void *ctx);
/* The fork evidence of one (author, seq): the versions the log does not hold. */
int store_forks_at(store *s, const proto_id *author, uint64_t seq, store_rec_cb cb, void *ctx);
/* Records by (author, seq), in the order given, in one read transaction;
 * absent ones are skipped. */
typedef struct { proto_id author; uint64_t seq; } store_ref;
int store_get_refs(store *s, const store_ref *refs, size_t n, store_rec_cb cb, void *ctx);

/* A read snapshot for work on another thread (the thread pool) while the
 * store's own thread goes on reading and writing: one LMDB read
 * transaction (the store is opened MDB_NOTLS), used and ended on that
 * thread; it may be begun on the store's thread and handed over (the
 * search index's build does, so that the snapshot is exactly the state
 * of a generation the loop knows), never used by two threads at once.  It touches nothing of the store but LMDB's handles, which
 * do not change once the store is open: no page accounting (the store's
 * thread calls store_check_pages when the work is done), no key cache.
 * The store must stay open until store_snap_end.  NULL on failure. */
typedef struct store_snap store_snap;
store_snap *store_snap_begin(store *s);
/* As store_get_refs, in the snapshot. */
int store_snap_get_refs(store_snap *n, const store_ref *refs, size_t nrefs, store_rec_cb cb, void *ctx);
/* As store_foreach_current and store_foreach_current_ref (one kind), in
 * the snapshot. */
int store_snap_foreach_current(store_snap *n, const char *kind, store_rec_cb cb, void *ctx);
int store_snap_foreach_current_ref(store_snap *n, const char *kind, store_ref_cb cb, void *ctx);
/* As store_member_get, in the snapshot: 0, 1 absent, -1. */
int store_snap_member_get(store_snap *n, const proto_id *id, store_member *out);
void store_snap_end(store_snap *n);
/* On the store's thread: the pages that reads elsewhere (a snapshot) have
 * mapped are released if they have grown past the bound scans keep. */
void store_check_pages(store *s);

/* Reading records maps the store's file pages into this process.  Scans
 * (store_foreach_current, store_range, store_get_refs) release them every
 * few MB so that reading the whole catalog does not make all of it
 * resident here; this releases them now.  Pointers into the store stay
 * valid: the pages are mapped again on access. */
void store_release_pages(store *s);

typedef int (*store_vv_cb)(void *ctx, const proto_id *author, uint64_t seq);
int store_vv(store *s, store_vv_cb cb, void *ctx);
uint64_t store_vv_get(store *s, const proto_id *author);

/* The log summary (store/store_sum.c).  The chain of author's log at seq
 * and the hash of the record held there (seq 0: chain_0, zero hash; either
 * pointer may be NULL): 0, 1 if seq is not held, -1 on error. */
int store_chain_get(store *s, const proto_id *author, uint64_t seq, uint8_t chain[32], uint8_t hash[32]);
/* The sum entries of author's seqs from..to held, in seq order. */
typedef int (*store_sum_cb)(void *ctx, uint64_t seq, const uint8_t *hash, const uint8_t *chain);
int store_sums(store *s, const proto_id *author, uint64_t from, uint64_t to, store_sum_cb cb, void *ctx);
/* The version vector with each author's chain at its highest seq. */
typedef int (*store_vv_chain_cb)(void *ctx, const proto_id *author, uint64_t seq, const uint8_t *chain);
int store_vv_chains(store *s, store_vv_chain_cb cb, void *ctx);

/* ---- the policy (store/store_policy.c) ----
 *
 * The admission and expulsion quorums, the policy areas (分野) and contract
 * routes (契約方法) in force, derived from the genesis and the `policy`
 * records the log holds: the same records give the same policy on every
 * node, whatever order they came in (docs/DECISIONS.md has the rule). */
#define STORE_POLICY_LIST_MAX 32u    /* areas, routes of one policy (the index keeps areas in 32 bits) */
#define STORE_POLICY_ITEM_MAX 64u    /* bytes of one area or route (CATALOG_VOCAB_ITEM_MAX) */
#define STORE_QUORUM_MAX 1000u       /* admission, expulsion */

typedef struct {
    proto_id id;            /* hash of the proposal record; of the genesis for the genesis policy */
    proto_id parent;        /* the policy it amended; zero for the genesis policy */
    proto_id proposer;      /* its author (the founder for the genesis policy) */
    uint64_t since_ms;      /* in force since: the vote that completed its quorum (the genesis's time) */
    uint32_t admission;     /* endorsements to admit a member */
    uint32_t expulsion;     /* votes to expel a member, and to change the policy */
    uint32_t nareas, nroutes;
    char areas[STORE_POLICY_LIST_MAX][STORE_POLICY_ITEM_MAX + 1];
    char routes[STORE_POLICY_LIST_MAX][STORE_POLICY_ITEM_MAX + 1];
} store_policy;

/* The policy in force: 0, or -1 (no alliance yet, or the store failed). */
int store_policy_in_force(store *s, store_policy *out);
/* The lists of p as NULL-terminated arrays (catalog_vocab): areas and
 * routes need room for STORE_POLICY_LIST_MAX + 1; they point into p. */
void store_policy_vocab(const store_policy *p, const char **areas, const char **routes);
/* The key of a proposal record stating p (p->parent, quorums and lists set). */
int store_policy_proposal_key(const store_policy *p, char *key, size_t keylen);

enum store_proposal_state {
    STORE_PROPOSAL_IN_FORCE = 0,    /* the policy in force */
    STORE_PROPOSAL_SUPERSEDED = 1,  /* was in force; a later one amended it */
    STORE_PROPOSAL_PENDING = 2,     /* amends the policy in force; short of its quorum */
    STORE_PROPOSAL_STALE = 3,       /* amends a policy no longer (or never) in force: can never come into force */
};
typedef struct {
    proto_id id, parent, proposer;
    uint64_t time_ms;               /* the proposal's time */
    int state;                      /* store_proposal_state */
    uint32_t quorum;                /* pending or stale: the change quorum now, min(expulsion in
                                     * force, active members); in force or superseded: the one it met */
    store_policy policy;            /* what it proposes (since_ms set when in force) */
    size_t nendorsers;              /* distinct members whose votes were taken, proposer included
                                     * (an expelled member's go while the proposal is not in force) */
    const proto_id *endorsers;      /* valid during the callback */
} store_proposal;
typedef int (*store_proposal_cb)(void *ctx, const store_proposal *p);
/* Every proposal that had its turn in the replay (docs/DECISIONS.md 14),
 * with its state and counted endorsers, in one read transaction.  0 or -1. */
int store_policy_proposals(store *s, store_proposal_cb cb, void *ctx);

typedef int (*store_member_cb)(void *ctx, const store_member *m);
int store_members(store *s, store_member_cb cb, void *ctx);
int store_member_get(store *s, const proto_id *id, store_member *out);   /* 0, 1 absent, -1 */
/* Membership is a function of the log alone (docs/DECISIONS.md 6): every
 * write transaction that applies a membership record out of the replay
 * order, or changes the winner of a fork involving one, derives the members
 * afresh from the log (store/store_replay.c) before its next record is
 * checked and before it commits.  This does so now; *changed (may be
 * NULL) tells whether what was derived before differed.  0, or -1 with err. */
int store_member_rederive(store *s, int *changed, char *err, size_t errlen);
/* How many times this process's store derived membership afresh, and how
 * many of those changed it. */
void store_member_stats(store *s, uint64_t *rederives, uint64_t *fixups);
/* For records that wait on their author (daemon/defer.c: its membership,
 * a key, its log's next record): a count that grows with every write of a
 * member entry, a member key or an author's vector entry in this process
 * (a genesis, an admission, a replay, a rotation, a record appended, an
 * abort that took writes back), and which authors changed since an
 * earlier count.  store_changed calls cb with the id of each author
 * written after `since` (repeats possible) and returns 0, or returns 1
 * without calling it when those are not all known (too many since, or a
 * change that may have touched anyone): then every waiter must look. */
uint64_t store_changes(store *s);
int store_changed(store *s, uint64_t since, void (*cb)(void *ctx, const proto_id *id), void *ctx);
/* The genesis chain check (docs/DECISIONS.md 1).  A genesis that arrives
 * from a peer on a node told to trust a sponsor (meta sponsor_id, written by
 * `catalogctl join`) is held but unchecked until the members derived from
 * the log under it include the sponsor as an active member; meanwhile
 * store_write_many refuses this node's own records.
 * store_genesis_check pins it then (STORE_GENESIS_PINNED, also when there
 * was nothing to check); STORE_GENESIS_WAIT while the sponsor is not (yet)
 * one, *sponsor naming it; -1 with err on a store failure.  When the node
 * holds everything the sponsor has and the answer is still WAIT, the caller
 * refuses the genesis with store_alliance_forget. */
enum { STORE_GENESIS_PINNED = 0, STORE_GENESIS_WAIT = 1 };
int store_genesis_check(store *s, proto_id *sponsor, char *err, size_t errlen);
/* 1 while the genesis held awaits the chain check. */
int store_genesis_unchecked(store *s);
/* Drop the alliance and everything held under it (every record, fork,
 * member and log chain, the genesis and what it set), in one transaction;
 * the node's identity and its settings (sponsor, web users) stay.  For a
 * genesis refused by the chain check: nothing of it is kept.  0, or -1. */
int store_alliance_forget(store *s, char *err, size_t errlen);
/* The admission policy of the genesis and the endorsements a newcomer
 * needs now: min(admission, active members).  0 or -1. */
int store_member_quorum(store *s, uint32_t *admission, uint32_t *needed);
/* cb for every member active now that endorsed (admitted) id. */
int store_member_endorsers(store *s, const proto_id *id, store_member_cb cb, void *ctx);
/* Whether id is a former member (*status STORE_MEMBER_LEFT or _EXPELLED,
 * else 0) and the last seq of its log every node accepts (*cut).  0 or -1. */
int store_member_cut(store *s, const proto_id *id, int *status, uint64_t *cut);
/* What follows a former member's name wherever staff read it: "（脱退）"
 * (left), "（除名）" (expelled), "" otherwise. */
const char *store_member_mark(int status);
/* The public key of a current member (up-ref'd), or NULL. */
/* The public key of a current member (up-ref'd), or NULL: its current key. */
EVP_PKEY *store_member_key(store *s, const proto_id *id);

/* Keys over time (store/store_keys.c).  The key that verifies member id's
 * record at seq (up-ref'd), or NULL if id is no current member. */
EVP_PKEY *store_member_key_at(store *s, const proto_id *id, uint64_t seq);
/* Whose key is the key with id key_id (SHA-256 of its SubjectPublicKeyInfo,
 * as certs_key_id gives): *member gets the member (key_id itself when
 * unknown).  Whatever the member's status. */
enum { STORE_KEY_CURRENT = 0, STORE_KEY_UNKNOWN = 1, STORE_KEY_RETIRED = 2 };
int store_key_owner(store *s, const proto_id *key_id, proto_id *member);   /* STORE_KEY_*, -1 */
/* The id of member's current key (the member id until it rotates) and the
 * first seq it signs (1 for the admission key).  0, or -1. */
int store_key_current(store *s, const proto_id *member, proto_id *key_id, uint64_t *from_seq);
/* ---- rekey of a lost or stolen key (store/store_rekey.c, docs/DECISIONS.md 22) ----
 *
 * A member record with op "rekey" about X, by another member V, is V's
 * vote that X signs with the key of its certificate from seq cut+1 on;
 * gen is how many rekeys of X V's node had derived.  At the quorum
 * max(STORE_REKEY_VOTERS_MIN, min(expulsion quorum in force, members active
 * other than X)) the new key takes over at the cut the epoch's first vote
 * fixed; the decision is made on what-if derivations of the membership that
 * hold X's log at the cut (store_rekey.c), so nothing X's old key signed
 * beyond the cut can help or hinder it. */
#define STORE_REKEY_VOTERS_MIN 2u      /* votes of distinct members, whatever the quorums */
#define STORE_REKEY_DECISIONS_MAX 16u  /* decisions one derivation makes at most (rounds) */
#define STORE_REKEY_REASON_MAX 1000u   /* bytes of a vote's reason */
/* Bytes of an expulsion vote's reason (member record op "expel", field
 * "reason"): the rekey's bound, for the same kind of text.  Optional in the
 * record, since expulsions recorded before it have none; catalogd writes
 * one with every expulsion. */
#define STORE_EXPEL_REASON_MAX STORE_REKEY_REASON_MAX
#define STORE_REKEY_SHOW_MAX 64u       /* proposals, voters and stale votes kept per member for show */

enum { STORE_REKEY_DECIDED = 0,   /* a rekey decided: from seq cut+1 X signs with key_id */
       STORE_REKEY_PROPOSAL = 1,  /* a proposal of X's open epoch, short of its quorum */
       STORE_REKEY_STALE = 2 };   /* a vote that derives nothing (another cut, another gen, a
                                   * key that is not usable for X, X not active) */
typedef struct {
    int what;                /* STORE_REKEY_* */
    uint32_t gen;            /* the epoch (X's rekeys before it) */
    uint64_t cut;            /* X's records at seq <= cut stay under its old keys */
    proto_id key_id;         /* SHA-256 of the new key's SubjectPublicKeyInfo */
    /* decided: the turn that completed the quorum (a vote's time, author
     * and seq); proposal: the epoch's first vote; stale: the vote */
    uint64_t time_ms;
    proto_id by;
    uint64_t by_seq;
    uint32_t quorum;         /* decided: the quorum met; proposal: the quorum now */
    size_t nvoters;          /* decided: voters counted at the turn; proposal: current votes
                              * naming key_id; stale: 0 -- those listed in voters, at most
                              * STORE_REKEY_SHOW_MAX */
    size_t nvoters_all;      /* the same count uncut (more than nvoters: the list was cut) */
    const proto_id *voters;  /* valid during the callback */
    int more;                /* the last listed of its what: more of that what (proposals,
                              * stale votes) were not kept, past STORE_REKEY_SHOW_MAX */
} store_rekey;
typedef int (*store_rekey_cb)(void *ctx, const store_rekey *k);
/* X's rekeys as the last derivation left them: decisions oldest first,
 * then the open epoch's proposals, then stale votes.  *gen (may be NULL):
 * g(X), the rekeys decided; *open_cut (may be NULL): the open epoch's cut,
 * 0 when none is open.  0 or -1. */
int store_member_rekeys(store *s, const proto_id *x, uint32_t *gen, uint64_t *open_cut,
                        store_rekey_cb cb, void *ctx);
/* What the derivations of this process did: rederives that had a rekey
 * vote to consider, the what-if replays (nested transactions) they ran,
 * the replays in all (rounds + what-if). */
void store_rekey_stats(store *s, uint64_t *rederives, uint64_t *nested, uint64_t *replays);
/* The versions of rekey subjects' logs the replays of this process read
 * beyond a candidate's or a decision's cut (the walk's cost; a vote that
 * can never be a candidate adds nothing). */
uint64_t store_rekey_versions_read(store *s);

/* The keys member took after admission, oldest first: from_seq and key id. */
typedef int (*store_key_cb)(void *ctx, uint64_t from_seq, const proto_id *key_id);
int store_keys_of(store *s, const proto_id *member, store_key_cb cb, void *ctx);
/* The member a store on disk (a backup) says key_id is a key of, taken
 * by a rotation (its admission key is its member id): 0, 1 if none, -1 with
 * err.  As store_peek_self, for a store nobody has open. */
int store_peek_key_owner(const char *dir, const proto_id *key_id, proto_id *member, char *err, size_t errlen);
/* The new key a rotate record names (up-ref'd), or NULL when r is no
 * rotate record.  Depends on the record alone: for a caller verifying a
 * batch in which a rotation precedes the member's next records. */
EVP_PKEY *store_rotate_key(const proto_record *r);

#endif
