/*
 * store/kind.h — the table of record kinds.
 *
 * Every kind the node treats specially is one entry here: its name, what it
 * takes part in (membership, the catalog's search index), whether only its
 * own command may write it, and a validator for the rules that depend on the
 * record alone (not on what the store holds).  Code that needs to know what a
 * kind *is* asks this table; it never compares kind names itself.
 *
 * A kind not in the table is generic: stored, replicated and listed like any
 * other record, with no rules beyond those every record obeys.  It is never
 * mistaken for one of the kinds below.
 *
 * Adding a kind: one entry in store/kind.c, plus its validator (and, if it
 * takes part in membership, its apply rule in store/store_member.c).
 */
#ifndef STORE_KIND_H
#define STORE_KIND_H

#include <stddef.h>
#include "proto/record.h"

typedef enum {
    KIND_GENERIC = 0,        /* any kind not in the table */
    KIND_GENESIS,            /* founds the alliance (DESIGN §2) */
    KIND_MEMBER,             /* admit / expel / leave / address / rotate / rekey */
    KIND_CERTIFICATION,      /* 認定 (DESIGN §5) */
    KIND_ADOPTION,           /* 導入実績 */
    KIND_POLICY,             /* quorums, 分野, 契約方法: propose / endorse (store/store_policy.c) */
} kind_id;

enum {
    KIND_F_MEMBERSHIP = 1u,  /* changes who is a member (and so whom to dial) */
    KIND_F_CATALOG    = 2u,  /* held in the catalog's search index */
    KIND_F_OWN_VERB   = 4u,  /* written only by its own command, never by a generic put */
    KIND_F_NO_CHAIN   = 8u,  /* starts a log: never follows a predecessor in a batch */
};

typedef struct kind_def {
    const char *name;        /* NULL for the generic entry */
    kind_id id;
    unsigned flags;
    const char *verb;        /* the catalogctl command that writes it, or NULL */
    /* Rules that depend on the record alone: 0, or -1 with a message.
     * NULL: any well-formed body. */
    int (*validate)(const proto_record *r, char *err, size_t errlen);
} kind_def;

/* The entry for a kind name; never NULL (unknown names: the generic entry). */
const kind_def *kind_of(const char *name);
/* The entry for an id. */
const kind_def *kind_get(kind_id id);
/* Shorthands. */
static inline int kind_is(const char *name, kind_id id) { return kind_of(name)->id == id; }
static inline int kind_has(const char *name, unsigned flag) { return (kind_of(name)->flags & flag) != 0; }

#endif
