/*
 * catalog/contract.h — 「4号随契の確認」: may a member contract a product
 * without a tender on a given day (地方自治法施行令第167条の2第1項第4号)?
 *
 * The order allows it for a product of someone certified by the head of the
 * contracting municipality itself; the alliance's certifications by other
 * members are what a member's own certification is usually derived from
 * (依拠した認定), not a substitute for it.  So the check asks two things of
 * the certifications of one product on one day: is any certification in
 * force, and is one of the checking member's own in force.  Every
 * certification that is not in force that day is reported with why.
 *
 * A pure function over values already read from the records (the web
 * view's product page and evidence sheet read them): no store, no I/O.
 * The status rule is catalog_status_on / catalog_in_force_on (schema.h).
 */
#ifndef CATALOG_CONTRACT_H
#define CATALOG_CONTRACT_H

#include <stddef.h>

/* One certification of the product, as its record says. */
typedef struct {
    int recorded;       /* catalog_status_recorded */
    int status_from;    /* status_date, yyyymmdd, 0 if none */
    int certified_on;   /* yyyymmdd, 0 if absent */
    int valid_until;    /* yyyymmdd, 0 if absent (never expires) */
    int own;            /* written by the member doing the check */
} catalog_contract_cert;

/* A certification's standing on the day of the check. */
enum {
    CATALOG_CONTRACT_IN_FORCE = 0,
    CATALOG_CONTRACT_NOT_YET,     /* 認定日 after the day (or no 認定日) */
    CATALOG_CONTRACT_SUSPENDED,   /* 停止 in effect that day */
    CATALOG_CONTRACT_REVOKED,     /* 取消 in effect that day */
    CATALOG_CONTRACT_EXPIRED,     /* 期間満了: the day is after 有効期限 */
};

typedef struct {
    size_t in_force;        /* certifications in force on the day */
    size_t own;             /* the member's own certifications, in force or not */
    size_t own_in_force;    /* of those, in force on the day */
} catalog_contract_result;

/* The standing of each of n certifications on `on` (yyyymmdd) into
 * standing[i] (CATALOG_CONTRACT_*), and the counts into *out.  The day is
 * allowed to the contract when out->own_in_force > 0. */
void catalog_contract_check(const catalog_contract_cert *c, size_t n, int on, int *standing,
                            catalog_contract_result *out);

/* The standing of one certification on `on`. */
int catalog_contract_standing(const catalog_contract_cert *c, int on);

#endif
