/*
 * catalog/write.h — the catalog's write path: certifications and adoptions
 * of this member, validated against the schema and against what the store
 * holds, ready to be signed and stored.
 *
 * catalog_prepare does everything but the writing: it checks each item
 * (kind, key, mode against this member's current record), merges an update
 * with the current fields, resolves CODE/KEY references to MEMBER_ID/KEY,
 * fills a derived certification's subject from the one it cites, builds the
 * body (catalog_build), recognises an item whose body equals the current
 * record ("unchanged": nothing to write), checks what the item cites, and
 * refuses the same key twice in one request.
 *
 * References (an adoption's 認定 = certification, a certification's
 * 依拠した認定 = derived_from) of an item about to be written:
 *   - the cited certification must be held here, current and not withdrawn;
 *     else the item is refused ("… はこのノードにまだありません" /
 *     "… は取り下げられています"), unless CATALOG_PUT_ALLOW_UNKNOWN (then a
 *     warning) or the reference is the one the current record already has
 *     (an update of other fields: a warning);
 *   - warnings when the cited one is revoked (取消) or suspended (停止), and
 *     when it was not in force when the item needs it: an adoption's 年度
 *     starting after its 有効期限 or ending before its 認定日, a contract
 *     period (期間開始) before its 認定日 or after its 有効期限, a derived
 *     certification's 認定日 outside them; with CATALOG_PUT_STRICT these
 *     refuse the item ("--strict のため登録しません: …");
 *   - a derived certification copies catalog_subject_fields from the one
 *     it cites (the given fields override the copies; an update copies only
 *     when given another 依拠した認定 than the current one) and is refused if its
 *     法人番号 differs from the cited one's, or if it cites itself.
 * Messages name the cited one as "CODE NAME/KEY".
 *
 * A withdrawal (CATALOG_PUT_WITHDRAW) of this member's current record is
 * a tombstone whose body is {reason}; its only field is reason (or 理由),
 * required, at most 1000 bytes of text.  A withdrawn key may be added again.  The caller then signs and stores the items it
 * is handed (catalogd: node_publish, the one way a record written on a
 * node is signed, stored and sent) — nothing is written here.
 */
#ifndef CATALOG_WRITE_H
#define CATALOG_WRITE_H

#include <stddef.h>
#include <openssl/evp.h>
#include "catalog/schema.h"
#include "proto/record.h"
#include "store/store.h"

#define CATALOG_PUT_MAX 200000u   /* items in one request */

typedef enum {
    CATALOG_PUT_ADD = 0,      /* a new key: refused if this member has a current record under it */
    CATALOG_PUT_UPDATE = 1,   /* an existing key of this member: the given fields change the current ones */
    CATALOG_PUT_UPSERT = 2,   /* either: the given fields are the whole record (a re-imported row) */
    CATALOG_PUT_WITHDRAW = 3, /* this member's current record: a tombstone with the given reason */
} catalog_put_mode;

/* Reference checks an item asks for (catalog_put.checks). */
enum {
    CATALOG_PUT_ALLOW_UNKNOWN = 1u,   /* a cited certification not held here is a warning, not a refusal */
    CATALOG_PUT_STRICT = 2u,          /* a warning about the cited certification refuses the item */
};

/* "add", "update", "upsert" or "withdraw"; NULL (not given) is add; anything else -1. */
int catalog_put_mode_parse(const char *s);

typedef struct {
    /* set by the caller */
    const char *kind;             /* "certification" or "adoption"; on success it points to the
                                   * kind table's own spelling (static) */
    char key[PROTO_KEY_MAX + 1];  /* 認定番号 / adoption key, as given; catalog_prepare
                                   * replaces it with catalog_key_norm's form */
    int mode;                     /* catalog_put_mode; any other value is refused */
    const catalog_kv *fields;     /* name (body name or either header) = value, as typed;
                                   * need live only while the item is prepared */
    size_t nfields;
    unsigned checks;              /* CATALOG_PUT_ALLOW_UNKNOWN | CATALOG_PUT_STRICT */
    /* set by catalog_prepare */
    proto_body *body;             /* the validated body (catalog_put_free) */
    int existed;                  /* this member had a current record under (kind, key) */
    int unchanged;                /* ... with the same body: nothing to write */
    int tombstone;                /* a withdrawal: written with PROTO_FLAG_TOMBSTONE */
    char *warnings;               /* NULL, or one Japanese message per line, each ending in '\n'
                                   * (catalog_put_free) */
} catalog_put;

/* A reader fills item i's input (kind, key, mode, fields) just before the
 * item is prepared: called for i = 0, 1, ... in order, and only until an
 * item fails.  What `fields` points to may be reused from the next call on.
 * 0, or -1 with err (the item cannot be read). */
typedef int (*catalog_put_read_fn)(void *ctx, size_t i, catalog_put *it, char *err, size_t errlen);

/* Prepare items[0..n) as writes of member `self`.  Items start zeroed; with
 * reader NULL the caller has filled their input, else reader(ctx, i, ...)
 * fills each in turn (so a large request need not be unpacked all at
 * once).  `key` is the member's signing key, used only to sign a throwaway
 * probe for the "unchanged" comparison; nothing is stored here.
 *
 * Items are checked in order; the first failure stops.  On success w
 * (room for n) gets the items to write, in request order, leaving out the
 * unchanged ones: w[0..*nw) with kind, key and body pointing into items,
 * flags PROTO_FLAG_TOMBSTONE for a withdrawal (else 0) and out NULL — what
 * node_publish / store_write_many take.  Items' warnings are kept whether
 * or not the request succeeds.
 *
 * 0, or -1 with err.  With more than one item the message names the item,
 * "item I (KEY): " (I from 1), then one of (KIND as staff say it: 認定,
 * 導入実績):
 *   "'KIND' is not a catalog kind (certification, adoption)"
 *   "key: ..."                                          (catalog_key_norm)
 *   "KIND KEY は既に登録されています。…update…"          (add)
 *   "KIND KEY は CODE NAME (ID) の登録です。…"           (update, withdraw: another member's)
 *   "KIND KEY は取り下げられています…"                   (update, withdraw: withdrawn)
 *   "この団体にはKIND KEY がありません"                  (update, withdraw)
 *   "mode must be add, update, upsert or withdraw"
 *   a withdrawal's reason refused, a reference refused (above),
 *   catalog_build's message, "out of memory", or the reader's message;
 * and, once every item is valid, "KIND KEY が1つの要求に2回あります"
 * (no item prefix).  Items may hold bodies either way: catalog_put_free. */
int catalog_prepare(store *st, const proto_id *self, EVP_PKEY *key, catalog_put *items, size_t n,
                    catalog_put_read_fn reader, void *ctx, store_write_item *w, size_t *nw,
                    char *err, size_t errlen);

/* Frees the bodies and warnings of items[0..n). */
void catalog_put_free(catalog_put *items, size_t n);

#endif
