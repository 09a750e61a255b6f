/*
 * store/store_int.h — private to store/: the store's state and the helpers
 * its files share.  Nothing outside store/ includes this; the API is
 * store/store.h.
 *
 * The files of the store (OpenBSD bgpd style, one concern each):
 *   store.c         open/close, the LMDB layout, node identity, meta, info
 *   store_member.c  membership: member records, endorsements, member keys
 *   store_replay.c  membership derived from the log afresh: the replay
 *   store_apply.c   the record rules: precheck, apply, signing our records
 *   store_read.c    reads, and releasing the pages reads have mapped
 *   store_sum.c     the per-author hash chains (db sum) and the digest
 *   store_keys.c    members' keys over time (dbs keys, keyown)
 *   store_rekey.c   rekey votes, epochs and decisions in the replay
 *   store_apart.c   every version held of a seq, records set apart (db apart),
 *                   re-judging a log under a key schedule, a rekey's arrival rules
 *
 * Functions named *_txn work inside a transaction the caller owns and never
 * commit or abort it.
 */
#ifndef STORE_STORE_INT_H
#define STORE_STORE_INT_H

#include "store/store.h"

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <openssl/evp.h>

#define KEYCACHE 4096   /* slots, power of two; more members than this just miss */
/* Authors changed, remembered for store_changed: a replay rewrites every
 * member (1,788 in the largest alliance) and a batch is at most 4,096
 * records, so a waiter that looks after every batch mostly sees ids, not
 * "everyone". */
#define CHG_RING 4096

/* The store's pages mapped in this process are released when they have
 * grown past SCAN_RELEASE, checked every SCAN_CHECK bytes a scan reads and
 * after every write transaction. */
#define SCAN_RELEASE (8u << 20)
#define SCAN_CHECK (512u << 10)

struct store {
    MDB_env *env;
    size_t scanned;         /* bytes read by scans since the last release */
    void *map;              /* LMDB's map of the data file, if found */
    int statm;              /* /proc/self/statm, to see how much is mapped */
    long mapped_base;       /* mapped pages after the last release */
    size_t map_len;
    MDB_dbi meta, log, ver, cur, vv, members, endorse, forks, sum;   /* see store.c */
    MDB_dbi keys, keyown;                                            /* see store_keys.c */
    MDB_dbi apart, rekey;                                            /* see store_apart.c */
    uint64_t log_rewrites;  /* store_log_rewrites */
    /* the digest as of committed transaction digest_id (store_sum.c) */
    int digest_ok;
    size_t digest_id;
    proto_id digest;
    /* member keys by id, each with the seqs it signs: from..until-1 (until 0: no end) */
    struct { proto_id id; uint64_t from, until; EVP_PKEY *key; } cache[KEYCACHE];
    int cache_any;          /* some slot may hold a key: emptying an empty cache is free
                             * (a replay empties it at every member it writes) */
    /* this write transaction applied membership records the incremental
     * path may have derived differently from the log: replay before commit
     * (store_member.c) */
    int member_dirty;
    uint64_t member_rederives, member_fixups;   /* replays, and those that changed anything */
    struct admit_memo *admits;   /* decoded admission certificates (store_member.c) */
    /* members active now, while nactive_ok: counted once per write
     * transaction by member_quorum_txn and kept by member_put_txn, instead
     * of a scan of the members at every recount of a pending member (which
     * made a replay O(R x M)); cache_clear drops it (every failure path
     * calls it) */
    uint32_t nactive;
    int nactive_ok;
    /* the admission closure of store_replay.c: who is active in the
     * derivation, kept without a replay while the log allows it */
    struct mclosure *closure;
    size_t closure_txn;     /* the committed batch transaction it describes */
    int in_batch;           /* a batch's transaction (apply_batch) is open */
    /* a member entry of a former member, or a cut, was written in this
     * write transaction: former_settle_txn places the former members'
     * records beyond their cuts before it commits (store_gov.c) */
    int former_dirty;
    int check_hashes;       /* store_apply_hashed computes each hash again */
    /* the policy as the replay running now derives it, turn by turn
     * (store_policy.c); NULL outside a replay */
    struct policy_replay *preplay;
    /* the rekeys as the replay running now derives them (store_rekey.c);
     * NULL outside a replay */
    struct rekey_replay *rreplay;
    /* while member_rederive_txn derives again without the records of
     * former members beyond their cuts: those cuts (the lowest each
     * author had in the rounds so far), so that a rekey subject's log,
     * which the replay reads from the versions held (rekey_subject_log),
     * leaves out what the round's list left out; NULL outside a round */
    const struct former_clip *fclip;
    size_t nfclip;
    /* signatures of rekeyed authors' versions checked by the replays
     * (store_rekey.c), and what the decision procedure ran */
    struct rekey_vmemo *rk_memo;
    uint64_t rk_rederives, rk_nested, rk_replays;
    uint64_t rk_versions_read;   /* versions rekey_subject_log read (its cost) */
    /* authors whose logs a derivation of this batch's transaction judged
     * again under changed keys (store_rekey.c): their later records in
     * the batch were verified under the keys before it */
    proto_id rk_moved[STORE_REKEY_DECISIONS_MAX];
    size_t rk_moved_n;
    int rk_moved_all;   /* more than fit */
    /* Changes of authors, for records that wait on them (store_changed):
     * how many there were, the ids of the last CHG_RING, and the count at
     * the last change that may have touched anyone (chg_all), and the
     * count when it was last read (chg_read: only the ids after it are
     * unread by every waiter, so only there does a run count once). */
    uint64_t chg, chg_all, chg_read;
    proto_id chg_ring[CHG_RING];
};

/* A read snapshot (store.h): the store it reads, and its transaction. */
struct store_snap {
    store *s;
    MDB_txn *txn;
    size_t scanned;   /* bytes its walks read through the map since the last release */
};

/* ---- key encodings (store.c describes the layout) ---- */

/* seq and other counters: 8-byte big-endian, so keys sort by value. */
static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* kind* — the prefix of every ver (and cur) key of kind: returns its
 * length; buf must hold 1 + PROTO_KIND_MAX. */
static inline size_t kind_prefix(uint8_t *buf, const char *kind)
{
    size_t kl = strlen(kind);
    buf[0] = (uint8_t)kl;
    memcpy(buf + 1, kind, kl);
    return 1 + kl;
}

/* The longest cur key plus a seq: the size of a buffer for ck_key. */
#define CK_MAX (1 + PROTO_KIND_MAX + 32 + PROTO_KEY_MAX + 1 + 8)

/* kind* | author | key 0  — returns length; buf must hold CK_MAX
 * (1+32+32+256+1+8).  The key of cur, and the prefix of ver. */
static inline size_t ck_key(uint8_t *buf, const char *kind, const proto_id *author, const char *key)
{
    size_t kl = strlen(kind), yl = strlen(key), o = 0;
    buf[o++] = (uint8_t)kl;
    memcpy(buf + o, kind, kl);
    o += kl;
    memcpy(buf + o, author->b, 32);
    o += 32;
    memcpy(buf + o, key, yl);
    o += yl;
    buf[o++] = 0;
    return o;
}

/* ---- store.c ---- */

/* Format an LMDB failure into err; returns -1. */
int lmdb_err(char *err, size_t errlen, const char *what, int rc);
/* meta entry `name` into buf (*len: its size in, the value's length out):
 * 0, or -1 if absent or longer than *len. */
int meta_get_txn(store *s, MDB_txn *txn, const char *name, void *buf, size_t *len);
/* Write meta entry `name`: 0 or an LMDB error code. */
int meta_put_txn(store *s, MDB_txn *txn, const char *name, const void *val, size_t len);
/* A 32-byte meta entry (self, genesis): 0, or -1 if absent. */
int meta_id(store *s, MDB_txn *txn, const char *name, proto_id *out);

/* ---- store_member.c ---- */

/* A member as a genesis or admit record describes it (key from the cert,
 * code, name, address); status and the rest zero.  0, or -1 with a message
 * naming r->kind. */
int decode_cert_member(const proto_record *r, store_member *m, char *err, size_t errlen);
/* decode_cert_member, remembered by the record's hash: a replay applies
 * every admission again, and parsing its certificate was most of a
 * replay's cost.  0, or -1 (nothing remembered then). */
int decode_cert_member_memo(store *s, const proto_record *r, store_member *m);
/* Free what decode_cert_member_memo remembered (store_close). */
void admit_memo_free(store *s);
/* Write a member entry; empties the key cache.  0 or -1. */
int member_put_txn(store *s, MDB_txn *txn, const store_member *m);
/* id's member status into *status: 0, 1 if it has no entry, -1. */
int member_status_txn(store *s, MDB_txn *txn, const proto_id *id, int *status);
/* The member entry of id: 0, 1 absent, -1 error. */
int member_get_txn(store *s, MDB_txn *txn, const proto_id *id, store_member *m);
/* The ops of member records (member_op); admit and expel are also the
 * endorse database's values. */
enum { MEMBER_OP_ADMIT = 1, MEMBER_OP_EXPEL = 2, MEMBER_OP_LEAVE = 3, MEMBER_OP_ADDRESS = 4, MEMBER_OP_ROTATE = 5,
       MEMBER_OP_REKEY = 6 };
/* Whether id is an active member now. */
int is_member_txn(store *s, MDB_txn *txn, const proto_id *id);
/* The public key of an active member (up-ref'd; caller frees), or NULL.
 * Cached in s->cache. */
EVP_PKEY *member_key_txn(store *s, MDB_txn *txn, const proto_id *id);
/* An EVP_PKEY from a DER SubjectPublicKeyInfo, or NULL. */
EVP_PKEY *key_from_spki(const uint8_t *der, size_t len);
/* Drop every cached member key: after membership changes, and after an
 * aborted write (the cache may hold keys the abort took back). */
void cache_clear(store *s);
/* id's member entry, keys or log were written (NULL: anyone's may have
 * been), for store_changed: member_put_txn, key_set_txn, key_del_txn and
 * the append of a record call it, and a genesis and store_alliance_forget
 * with NULL.  Counted when written, not when committed: an abort only
 * makes a waiter look again.  What a write takes away (a replay empties
 * the members and keys before it writes them again) is not counted: a
 * record that could not apply before cannot apply for it.  A run of one
 * author's records counts once. */
void author_changed(store *s, const proto_id *id);
/* Derive membership from a checked and verified member record, inside the
 * write transaction that stores it.  0; 1 when the record derives nothing
 * (its certificate no longer parses); -1 on a store failure only. */
int apply_member(store *s, MDB_txn *txn, const proto_record *r);

/* The member entry a genesis founds (its author, active from its time). */
int genesis_member(const proto_record *r, store_member *m, char *err, size_t errlen);

/* ---- store_replay.c ---- */

/* Derive the members and endorse tables afresh from the membership records
 * the log holds, in the order every node computes the same way (see
 * store_member.c); *changed (may be NULL) tells whether that changed them.
 * Clears member_dirty.  0 or -1. */
int member_rederive_txn(store *s, MDB_txn *txn, int *changed);
/* A former member's cut a derivation round leaves its records out beyond
 * (s->fclip); former_clip_of: the cut for id, UINT64_MAX none. */
struct former_clip { proto_id id; uint64_t cut; };
uint64_t former_clip_of(const store *s, const proto_id *id);
/* After a membership record was applied by the incremental path: keep the
 * fast path's bookkeeping, or mark the transaction for a replay when this
 * record's place in the replay order is not last. */
void member_note_txn(store *s, MDB_txn *txn, const proto_record *r);
/* A membership record whose author is no active member now (a former
 * member's, within its cut): what the replay derives from it, nothing if
 * it sorts after everything applied, else mark for a replay. */
void member_note_blocked_txn(store *s, MDB_txn *txn, const proto_record *r);
/* Before a write transaction commits: replay if marked.  0 or -1. */
int member_settle_txn(store *s, MDB_txn *txn);
/* Before the next record r of a batch is checked: replay if marked and
 * the check of r could depend on it (store_replay.c, "Checks within a
 * batch").  0 or -1. */
int member_settle_for_txn(store *s, MDB_txn *txn, const proto_record *r);
/* A membership record (or a policy record, or a fork of either) is about
 * to be applied in this transaction: keep the admission closure of
 * store_replay.c up to date, or give it up. */
void member_closure_note(store *s, MDB_txn *txn, const proto_record *r);
/* The closure is given up (a write outside a batch, an abort), or only
 * until the next replay (off: a fork of a membership record). */
void member_closure_drop(store *s);
void member_closure_off(store *s);
/* Whether the record just noted (member_closure_note) was placed: applied
 * out of order, the incremental path derived what the replay derives; and
 * giving placement up until the next replay. */
int member_closure_placed(store *s);
void member_closure_unplace(store *s);
/* The record placed founds its subject's entry in the replay's order:
 * write the entry so.  0 or -1. */
int member_closure_rebase(store *s, MDB_txn *txn, const proto_record *r);
/* A batch's write transaction begins (txn) or committed (committed 1) or
 * was aborted (0): the closure lives from one batch to the next only when
 * nothing else was written in between. */
void member_closure_begin(store *s, MDB_txn *txn);
void member_closure_end(store *s, int committed);
/* Whether membership record r, applied now, takes its turn after every
 * turn the replay of the log so far takes (it sorts after member_last and
 * nothing blocked could still take one): 1 yes, 0 no or not known. */
int member_in_order_txn(store *s, MDB_txn *txn, const proto_record *r);
/* Whether the log holds a record of kind (1 also when it cannot tell). */
int log_has_kind_txn(store *s, MDB_txn *txn, const char *kind);
/* The op of a member record: MEMBER_OP_*, 0 if none. */
int member_op(const proto_record *r);
/* ---- store_gov.c ---- */

/* The endorsements a newcomer needs: min(admission, active members), at
 * least 1 (docs/DECISIONS.md, "Admission quorum"). */
uint32_t member_quorum_txn(store *s, MDB_txn *txn, uint32_t admission);
/* The members active in txn, counted (what member_quorum_txn keeps in
 * s->nactive for a write; a reader counts with this).  0 or -1. */
int members_active_txn(store *s, MDB_txn *txn, uint32_t *n);
/* Note the last seq of id's log accepted once it is a former member: set
 * it (leave), or raise it to seq (raise_only: an expel vote).  0 or -1. */
int member_cut_note_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t seq, int raise_only);
/* Forget every cut (a replay notes them again as it applies the records). */
int member_cuts_clear_txn(store *s, MDB_txn *txn);
/* For a member that left or was expelled (*status: its status, else 0;
 * *cut: its cut): its key if seq is within the cut, else NULL.  Not
 * cached (former members write rarely, and only up to their cut). */
EVP_PKEY *former_key_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t seq, int *status,
                         uint64_t *cut);

/* Before a write transaction commits (member_settle_txn, and every
 * derivation): every former member's log ends at its cut, the records
 * beyond it kept apart, and the records of an author that is a member
 * again (or whose cut rose) come back from apart — judged again
 * (log_rejudge_author_txn) for each author whose standing differs from
 * what meta "fclip:ID" says was placed.  force: place every former
 * member, whatever fclip says (a store derived by the old rule, at open).
 * Nothing to do unless former_dirty (or force).  *moved (may be NULL): 1
 * if a log changed.  0 or -1. */
int former_settle_txn(store *s, MDB_txn *txn, int force, int *moved);
/* Whether the store has placed any former member (an fclip entry). */
int former_any_txn(store *s, MDB_txn *txn);
/* A former member's record r (hash h) beyond its cut: 1 if the store
 * keeps it apart (*key: its key at r's seq, or NULL when it needs none:
 * held already, *dup), 0 when it is refused (past the bounds).  -1. */
int former_arrival_txn(store *s, MDB_txn *txn, const proto_record *r, uint64_t cut, EVP_PKEY **key, int *dup);
/* Versions of a former member's records taken apart so far (meta farr:ID),
 * and one more taken: STORE_FORMER_ARRIVALS_MAX.  0 or -1. */
/* An author's count of versions taken apart under an arrival budget
 * (meta "PFX:ID"; pfx "farr": a former member's, "rarr": a retired key's). */
uint64_t arrivals_count_txn(store *s, MDB_txn *txn, const char *pfx, const proto_id *id);
int arrivals_bump_txn(store *s, MDB_txn *txn, const char *pfx, const proto_id *id);
uint64_t former_arrivals_txn(store *s, MDB_txn *txn, const proto_id *id);
int former_arrival_count_txn(store *s, MDB_txn *txn, const proto_id *id);

/* Validators of the kinds table (store/kind.c): the rules that depend on
 * the record alone.  0, or -1 with a message. */
int store_member_validate(const proto_record *r, char *err, size_t errlen);

/* ---- store_keys.c ---- */

/* The key that verifies id's record at seq (up-ref'd), or NULL if id is no
 * active member.  Cached in s->cache with the seqs it is good for. */
EVP_PKEY *key_at_txn(store *s, MDB_txn *txn, const proto_id *id, uint64_t seq);
/* The key that signed m's record at seq, whatever m's status (a former
 * member's log up to its cut), not cached; up-ref'd or NULL. */
EVP_PKEY *key_of_member_at_txn(store *s, MDB_txn *txn, const store_member *m, uint64_t seq);
/* member signs with the key spki from from_seq (>= 2) on: the one entry
 * point for a new key, whatever decided it (a rotate record; a rekey by
 * quorum later).  Empties the key cache.  0 or -1. */
int key_set_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t from_seq,
                const uint8_t *spki, size_t len);
/* A rotate record's rules that depend on the record alone (its author is
 * its subject, its certificate a new usable key): 0, or -1 with err. */
int keys_rotate_validate(const proto_record *r, char *err, size_t errlen);
/* A rotate record checked and verified: its key from its seq + 1.  0 or -1. */
int keys_apply_rotate_txn(store *s, MDB_txn *txn, const proto_record *r);
/* The record held at an (author, seq) changed from loser to winner (a
 * fork's new winner): the keys follow the winner.  0 or -1. */
int keys_fork_txn(store *s, MDB_txn *txn, const proto_record *loser, const proto_record *winner);
/* Rotate record r leaves the log (set apart by a re-judge): its entry
 * (author, seq + 1) goes if it still names r's key (an entry another rule
 * put there, a rekey's, stays).  Not a rotate record: nothing.  0 or -1. */
int keys_unrotate_txn(store *s, MDB_txn *txn, const proto_record *r);
/* The owner of key_id (STORE_KEY_*), as store_key_owner. */
int key_owner_txn(store *s, MDB_txn *txn, const proto_id *key_id, proto_id *member);
/* Refuse to sign self's record at seq with priv when self has another key
 * there (a key retired by a rotation): 0, or -1 with err. */
int keys_check_signer_txn(store *s, MDB_txn *txn, const proto_id *self, uint64_t seq, EVP_PKEY *priv,
                          char *err, size_t errlen);

/* ---- store_policy.c ---- */

/* The policy in force (meta "policy"; P0 from the genesis for a store that
 * has none yet): 0, or -1 if there is no genesis. */
int policy_in_force_txn(store *s, MDB_txn *txn, store_policy *out);
/* The quorums in force, for member counting (admission 1, expulsion 2
 * without an alliance). */
void policy_quorums_txn(store *s, MDB_txn *txn, uint32_t *admission, uint32_t *expulsion);
/* The quorums of the policy that was in force at time_ms (the chain's
 * history, meta "policy_hist"): what member counting applies to a record
 * of that time, so a quorum raised later does not undo what was complete
 * before it. */
void policy_quorums_at_txn(store *s, MDB_txn *txn, uint64_t time_ms, uint32_t *admission,
                           uint32_t *expulsion);
/* The change quorum of policy p with `active` active members:
 * min(p->expulsion, active), at least 1. */
uint32_t policy_change_quorum(const store_policy *p, size_t active);
/* The policy derived in the replay's order (store_replay.c), turn by
 * turn: begin (P0 from the pinned genesis; *out NULL without one), take
 * each policy record at its turn (its author active there; h its hash;
 * active the members active now), tell it of a member expelled and of
 * fewer active members, read the quorums in force at this turn, and end:
 * the policy in force, its history and every proposal's state go to meta
 * ("policy", "policy_hist", "policy_props", "policy_pending").  0 or -1;
 * free in every case. */
typedef struct policy_replay policy_replay;
int policy_replay_begin(store *s, MDB_txn *txn, policy_replay **out);
int policy_replay_take(store *s, MDB_txn *txn, policy_replay *p, const proto_record *r, const proto_id *h,
                       size_t active);
void policy_replay_expelled(policy_replay *p, const proto_id *who);
int policy_replay_fewer(store *s, MDB_txn *txn, policy_replay *p, size_t active, uint64_t now_ms);
void policy_replay_quorums(const policy_replay *p, uint32_t *admission, uint32_t *expulsion);
/* Whether a proposal or a vote for one has had its turn (before that, an
 * expulsion or fewer active members change nothing of the policy). */
int policy_replay_has_slots(const policy_replay *p);
int policy_replay_end(store *s, MDB_txn *txn, policy_replay *p);
void policy_replay_free(policy_replay *p);
/* Policy record r (hash h) takes its turn after every turn of the last
 * replay (it sorts after them, its author active): continue from the state
 * that replay ended with instead of replaying.  0, 1 if there is no state
 * to continue from (then replay), -1. */
int policy_take_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h);
/* What the last replay left that a member gone changes (then the
 * incremental path replays): POLICY_PENDING_ON_CUR, a proposal pending on
 * the policy in force (fewer members may complete it); POLICY_PENDING_VOTES,
 * a proposal not in force with votes (an expelled member's go); both bits
 * when not known. */
#define POLICY_PENDING_ON_CUR 1
#define POLICY_PENDING_VOTES 2
int policy_pending_txn(store *s, MDB_txn *txn);
/* Whether a replay of this program's rule derived the policy of this
 * store (a store written before derives it again when it opens). */
int policy_derived_txn(store *s, MDB_txn *txn);
/* The policy record's validator (store/kind.c). */
int store_policy_validate(const proto_record *r, char *err, size_t errlen);


/* ---- store_rekey.c ---- */

/* The rekey vote's rules that depend on the record alone. */
int rekey_validate(const proto_record *r, char *err, size_t errlen);
/* Free what the store keeps for the replays (store_close). */
void rekey_memo_free(store *s);
/* The decisions a rederive made so far (its rounds), applied by each
 * replay after them. */
typedef struct rekey_sched rekey_sched;
rekey_sched *rekey_sched_new(void);
void rekey_sched_free(rekey_sched *d);
size_t rekey_sched_len(const rekey_sched *d);
/* The rekeys derived turn by turn in one replay (store_replay.c): begun
 * with the decisions to apply and, for a what-if derivation D(X, v), the
 * author whose log is read up to v only (cut_x NULL: none). */
typedef struct rekey_replay rekey_replay;
rekey_replay *rekey_replay_new(const rekey_sched *d, const proto_id *cut_x, uint64_t cut_v);
void rekey_replay_free(rekey_replay *rr);
/* A subject of a rekey vote held (before the replay's loop); cut lowers
 * the seq beyond which its log is read as the version valid under this
 * replay's key schedule (UINT64_MAX: registers x, reads its log as it
 * stands).  Only a decided cut or a candidate's lowers it (rekey_inputs). */
int rekey_replay_subject_cut(rekey_replay *rr, const proto_id *x, uint64_t cut);
/* How many subjects were registered and cuts lowered so far: unchanged
 * by a pass of rekey_inputs when the versions it read name no new one. */
size_t rekey_replay_moves(const rekey_replay *rr);
/* The i-th subject (NULL past the last). */
const proto_id *rekey_replay_subject(const rekey_replay *rr, size_t i);
/* Every cut of the decisions this replay applies, as subject cuts.  0 or -1. */
int rekey_replay_decided_cuts(rekey_replay *rr);
/* The lowest cut named for x (UINT64_MAX: x is no subject): below it
 * x's log is the log as it stands; whether x's admission key is wanted. */
uint64_t rekey_replay_lo(const rekey_replay *rr, const proto_id *x);
int rekey_replay_needs_admission(const rekey_replay *rr, const proto_id *x);
void rekey_replay_subjects_done(rekey_replay *rr);
int rekey_replay_is_subject(const rekey_replay *rr, const proto_id *x);
/* x's admission key (its id is its hash), for walking its key chain. */
int rekey_replay_admission(rekey_replay *rr, const proto_id *x, const uint8_t *spki, size_t len);
/* The versions of subject x's log valid under this replay's schedule:
 * cb for each seq in order, until the log stops (no valid version) or the
 * what-if cut (versions_at_txn: where is VERSION_*; r valid during the
 * call). */
typedef int (*rekey_version_cb)(void *ctx, uint64_t seq, int where, const proto_id *hash,
                                const proto_record *r);
int rekey_subject_log(store *s, MDB_txn *txn, rekey_replay *rr, const proto_id *x, rekey_version_cb cb,
                      void *ctx);
/* The seq above which x's records wait: the cut of a decision whose turn
 * has not come in this replay (UINT64_MAX: none). */
uint64_t rekey_replay_hold(const rekey_replay *rr, const proto_id *x);
/* Apply the decisions whose turn is before key (inclusive: at or before):
 * their keys from cut+1, g(X) + 1.  *woken gets 1 when one was applied
 * (the replay looks again at the authors it holds).  0 or -1. */
int rekey_replay_due(store *s, MDB_txn *txn, rekey_replay *rr, const uint8_t key[48], int inclusive,
                     int *woken);
/* A rekey vote at its turn (its author active there; key its order key;
 * active the members active now).  0 or -1. */
int rekey_replay_take(store *s, MDB_txn *txn, rekey_replay *rr, const proto_record *r,
                      const uint8_t key[48], uint32_t active);
/* A membership record of author taken at turn key (for D = R). */
void rekey_replay_took(rekey_replay *rr, const proto_id *author, uint64_t seq, const uint8_t key[48]);
/* Fewer active members at turn key: the open epochs' proposals are
 * checked again.  0 or -1. */
int rekey_replay_fewer(store *s, MDB_txn *txn, rekey_replay *rr, const uint8_t key[48], uint32_t active);
/* A vote about x held (from the replay's input, taken or not). */
int rekey_replay_held(rekey_replay *rr, const proto_id *x, const proto_id *voter, uint32_t gen, uint64_t cut,
                      uint64_t seq);
/* Whether the replay's bookkeeping failed (out of memory). */
int rekey_replay_failed(const rekey_replay *rr);
/* The candidates this replay ended with: i-th one's subject X and cut c
 * (votes of X's epoch g(X) naming c from two distinct members held,
 * whatever their standing; the other candidates a what-if cuts leave out
 * the votes rekey_replay_standing marks), and whether the what-if derivation D(X, c)
 * must be run (else R is D: R took no record of X beyond c, nor of another
 * candidate beyond its lowest cut, before its earliest completion).  0, 1
 * past the end. */
int rekey_replay_epoch(const rekey_replay *rr, size_t i, proto_id *x, uint64_t *cut, int *need_d);
/* Which votes R holds name their subject as another subject's other
 * candidate (the what-ifs' cuts, DECISIONS 22): not one whose author R
 * leaves pending or never admits.  Such an author's records are refused
 * on arrival by a store that does not hold them and stay in the log of
 * one that took them while the author was a member (a puppet's), and
 * counting them made two stores cut different candidates (random world
 * 5896).  A subject's own epochs are still named by every vote held: R
 * reads the thief's records beyond the cut, which may leave an honest
 * voter pending there, and D, where it is active, counts it.  0, or -1
 * (a read failed). */
int rekey_replay_standing(store *s, MDB_txn *txn, rekey_replay *rr);
/* Make d, begun as D(x, ...), read every other candidate Y of R's round
 * (its lowest cut named by two distinct voters among r's votes) up to that
 * cut, and Y's rekey votes beyond it unless two of Y's voters vote from
 * below every cut of theirs (DECISIONS 22, "the other candidates").  0 or
 * -1. */
int rekey_replay_whatif(rekey_replay *d, const rekey_replay *r, const proto_id *x);
/* The earliest completion of x's open epoch of cut `cut` in this replay:
 * its turn key.  0, 1 none. */
int rekey_replay_completion(const rekey_replay *rr, const proto_id *x, uint64_t cut, uint8_t key[48]);
/* Add x's completion in replay rr to the decisions.  0 or -1. */
int rekey_sched_add(rekey_sched *d, const rekey_replay *rr, const proto_id *x);
/* The final replay's rekeys to meta (what store_member_rekeys and the
 * incremental path read); the authors whose schedule differs from the
 * last derivation's are re-judged (their log and the logs of authors no
 * longer admitted).  0 or -1. */
int rekey_replay_end(store *s, MDB_txn *txn, rekey_replay *rr);
/* Whether author's keys were changed by a derivation of this write
 * transaction (its records verified before may not verify now). */
int rekey_moved(store *s, const proto_id *author);
/* Whether the last derivation left an open epoch of x (*cut its cut), or
 * any at all (x NULL).  1 yes, 0 no. */
int rekey_open_txn(store *s, MDB_txn *txn, const proto_id *x, uint64_t *cut);


/* ---- store_read.c ---- */

/* Find where LMDB mapped the data file (at open); see store_release_pages. */
void find_map(store *s);
/* Account for n bytes read through the map (SCAN_CHECK: check now, as after
 * every write transaction) and release the mapped pages past a bound. */
void scanned(store *s, size_t n);
/* The author's highest seq held, 0 if none. */
uint64_t vv_get_txn(store *s, MDB_txn *txn, const proto_id *author);


/* ---- store_apart.c ---- */

/* Where a version of (author, seq) is held. */
enum { VERSION_LOG = 0, VERSION_FORK = 1, VERSION_APART = 2 };
/* One version: the record (decoded from a copy owned by the walk, valid
 * during the call), its hash, where it is held.  Non-zero stops the walk
 * and is returned. */
typedef int (*version_cb)(void *arg, const proto_record *r, const proto_id *hash, int where);
/* Every version the store holds of (author, seq), each once: the log's
 * first, then fork evidence, then apart (each in hash order).  The
 * versions are copied before the first call: cb may write to txn.  0 (or
 * what cb returned), -1 on a store failure.  A version that no longer
 * decodes is skipped. */
int versions_at_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, version_cb cb, void *arg);
/* The highest seq of author any version is held at (log, forks, apart);
 * 0 if none. */
uint64_t versions_top_txn(store *s, MDB_txn *txn, const proto_id *author);
/* The highest seq at which author's log, forks or apart hold a version
 * signed under the key author's own schedule gives there (what author's
 * node must never sign at again); UINT64_MAX on a store failure. */
uint64_t versions_own_top_txn(store *s, MDB_txn *txn, const proto_id *author);
/* Every version held outside the log (forks, then apart; each in (author,
 * seq, hash) order), e.g. for a replay that reads every version of the
 * membership records: cb as versions_at_txn's, but the record points into
 * the map (cb must not write to txn).  0, cb's value, or -1. */
int versions_outside_txn(store *s, MDB_txn *txn, version_cb cb, void *arg);
/* Whether author has records apart (1), none (0); -1 on failure.  One
 * B-tree lookup; the whole db's emptiness is free (apart_any_txn). */
int apart_has_txn(store *s, MDB_txn *txn, const proto_id *author);
int apart_any_txn(store *s, MDB_txn *txn);
/* cb once for every author with records apart, in id order. */
int apart_authors_txn(store *s, MDB_txn *txn, int (*cb)(void *arg, const proto_id *author), void *arg);

/* The key schedule a re-judge follows: the key that verifies author's
 * record at seq (up-ref'd), or NULL when none does there (the log stops).
 * NULL as the function: the store's own (key_at_txn, and a former member's
 * key up to its cut: former_key_txn), which follows the keys table as the
 * re-judge rewrites it (a rotate record taken or set apart). */
typedef EVP_PKEY *(*log_key_fn)(void *arg, store *s, MDB_txn *txn, const proto_id *author, uint64_t seq);
/* Re-judge author's log from from_seq (>= 1) on: at each seq, among every
 * version held, the one verifying under the schedule's key stays in the
 * log (the lowest hash among several; the pinned genesis always stays),
 * the other valid ones are fork evidence, the rest go apart; at the first
 * seq with no valid version the log stops and every later version goes
 * apart.  ver, cur, vv, sum and the keys entries of rotate records follow;
 * author_changed and store_log_rewrites count a change.  Then the author's
 * records apart are bounded (STORE_APART_MAX).  Does not replay the
 * membership (the caller, the derivation, reads every version itself).
 * *changed (may be NULL): 1 if the log changed.  0 or -1. */
int log_rejudge_author_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t from_seq,
                           log_key_fn key, void *arg, int *changed);
/* Whether apart holds a version of (author, seq) other than hash h that
 * verifies under the store's own schedule there: the log, just given h
 * at seq, is not what a re-judge leaves (the lowest valid hash in the
 * log, the other valid versions fork evidence).  1, 0, or -1. */
int apart_other_valid_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *h);
/* A record about to be appended to the log at seq, or found a duplicate:
 * drop its copy apart, if any (apply_txn).  0 or -1. */
int apart_taken_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash);
/* A former member's record beyond its cut, verified, kept apart: put, then
 * at most STORE_APART_SEQ_VERSIONS versions of its seq (the lowest hashes)
 * stay.  1 if r is among them, 0 if not, -1. */
int former_apart_put_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h);
/* How many versions of (author, seq) apart have a hash below h; *held:
 * whether h is one of them. */
size_t apart_rank_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *h,
                      int *held);
/* The bounds on a former member's records apart beyond its cut: none after
 * cut + STORE_FORMER_APART_SEQS, STORE_APART_SEQ_VERSIONS per seq.  0/-1. */
int former_apart_bound_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t cut);
/* The dense run of author's records apart from seq `from` on (at most
 * max seqs, stopping at the first seq with none), the lowest hash at each:
 * cb(arg, r, hash) with the record pointing into the map (cb must not
 * write to txn).  0, cb's value, or -1. */
int apart_run_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t from, uint64_t max,
                  int (*cb)(void *arg, const proto_record *r, const proto_id *hash), void *arg);
/* Whether a record with this hash is held apart at (author, seq). */
int apart_holds_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash);

/* The arrival rules of a rekey, written by the derivation (db rekey;
 * emptied by rekey_arrival_clear_txn, which a replay calls before it
 * writes them again):
 *   a decided rekey of member at cut: its records after cut signed by the
 *   key in force at cut (the retired one) are kept apart within bounds,
 *   else refused (STORE_FORMER);
 *   an open epoch of member at cut with a proposal of key spki: its records
 *   after cut verifying under spki wait (STORE_GAP).
 * 0 or -1. */
int rekey_cut_put_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t cut);
int rekey_alt_put_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t cut, const uint8_t *spki,
                      size_t len);
int rekey_arrival_clear_txn(store *s, MDB_txn *txn);
/* The highest decided cut of member: 0, 1 none, -1. */
int rekey_cut_get_txn(store *s, MDB_txn *txn, const proto_id *member, uint64_t *cut);
/* Records signed by a key a decided rekey retired, beyond its cut, kept
 * apart on arrival (store_apply_retired): versions of author taken so far
 * (meta rarr:ID, never dropped), and one more.  0 or -1. */
uint64_t retired_arrivals_txn(store *s, MDB_txn *txn, const proto_id *id);
int retired_arrival_count_txn(store *s, MDB_txn *txn, const proto_id *id);
/* Whether r (hash h) verifies under a key a decided rekey of its author
 * retired at a cut below r's seq, within the bounds of keeping it apart:
 * STORE_NEW yes; STORE_FORMER beyond the bounds (no signature check under
 * that key); STORE_GAP no decided cut below r's seq, or it verifies under
 * none of the keys within the bounds; -1. */
int retired_check_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h);
/* The precheck's hook: r's alternative keys (store_alt_keys).  0 or -1. */
int rekey_alt_keys_txn(store *s, MDB_txn *txn, const proto_record *r, store_alt_keys *out);

/* ---- store_apply.c, shared with store_apart.c ---- */

/* The ver entry of r (hash h): put, or delete (del). */
int ver_entry_txn(store *s, MDB_txn *txn, const proto_record *r, const proto_id *h, int del);
/* Make the cur entry of (kind, author, key) name its highest version. */
int current_recompute_txn(store *s, MDB_txn *txn, const char *kind, const proto_id *author, const char *key);

/* ---- store_sum.c ---- */

/* chain_0 of an author's log. */
void chain_zero(const proto_id *author, uint8_t out[32]);
/* The chain (and record hash) at seq; seq 0 gives chain_0 and a zero hash.
 * 0, 1 if not held, -1 on error.  chain or hash may be NULL. */
int chain_get_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq,
                  uint8_t chain[32], uint8_t hash[32]);
/* The sum entry of a record just appended to the log at seq: 0 or -1.
 * prev: chain_{seq-1} if the caller knows it (a batch appending a run of
 * one author's log), NULL to read it; out (may be NULL): chain_seq. */
int chain_append_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash,
                     const uint8_t *prev, uint8_t *out);
/* The same, written through cur (a cursor on s->sum in txn, or NULL). */
int chain_append_cur(store *s, MDB_txn *txn, MDB_cursor *cur, const proto_id *author, uint64_t seq,
                     const proto_id *hash, const uint8_t *prev, uint8_t *out);
/* chain_append_cur taking a caller's step (store_pre, NULL: none) when it
 * was computed from the chain value actually before seq. */
int chain_append_pre(store *s, MDB_txn *txn, MDB_cursor *cur, const proto_id *author, uint64_t seq,
                     const proto_id *hash, const uint8_t *prev, const store_pre *pre, uint8_t *out);
/* The record held at seq is now the one with `hash` (a fork's new winner):
 * rewrite the sum entries seq..vv.  0 or -1. */
int chain_rebuild_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t seq, const proto_id *hash);
/* The log of author now ends at seq top (records after it removed): drop
 * the sum entries after top.  0 or -1. */
int chain_truncate_txn(store *s, MDB_txn *txn, const proto_id *author, uint64_t top);
/* The catalog digest (in a read transaction; cached per committed txn). */
int digest_txn(store *s, MDB_txn *txn, proto_id *out);
/* Schema 1 -> 2: build sum from log and drop the XOR digest.  0 or -1. */
int sum_migrate_txn(store *s, MDB_txn *txn);

#endif
