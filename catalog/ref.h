/*
 * catalog/ref.h — members and records as people name them.
 *
 * People name a member by its municipality code (131059) or by its printed
 * member id, and cite a certification as CODE/KEY (131059/文京-2026-001);
 * records store MEMBER_ID/KEY, which does not change when a code is later
 * given to another member.  These read the alliance's member list from the
 * store (store_members).
 */
#ifndef CATALOG_REF_H
#define CATALOG_REF_H

#include <stddef.h>
#include "proto/record.h"
#include "store/store.h"

/* A member named by its printed id (any form proto_id_parse accepts; such
 * an id is taken as it is, member or not) or by the municipality code of a
 * current (active) member.  0, or -1 if the code names no current member. */
int catalog_member_ref(store *st, const char *s, proto_id *out);

/* "CODE/KEY" -> "MEMBER_ID/KEY" (written into buf, which is returned) when
 * CODE is 6 characters naming a member as catalog_member_ref does; anything
 * else is returned as it is (v), for the schema to accept or refuse. */
const char *catalog_ref_resolve(store *st, const char *v, char *buf, size_t n);

/* The key a lookup asks the store for: for a catalog kind (certification,
 * adoption) the form catalog_key_norm gives it, the form records are
 * written under (into buf, which is returned); any other kind's key, or a
 * key that is not valid, as given (it then finds what it finds). */
const char *catalog_lookup_key(const char *kind, const char *key, char *buf, size_t n);

#endif
