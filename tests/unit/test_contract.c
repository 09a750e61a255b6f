/* tests/unit/test_contract.c — catalog/contract: 「4号随契の確認」 over the
 * certifications of one product on one day.  Expected values are worked
 * out by hand from the status rule (schema.h), not by calling it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "catalog/contract.h"
#include "catalog/schema.h"

/* certified 2026-04-01, valid until 2027-03-31 */
static catalog_contract_cert C(int recorded, int from, int own)
{
    return (catalog_contract_cert){ recorded, from, 20260401, 20270331, own };
}

static void standing_by_day(void **state)
{
    catalog_contract_cert c = C(CATALOG_STATUS_ACTIVE, 0, 1);
    assert_int_equal(catalog_contract_standing(&c, 20260331), CATALOG_CONTRACT_NOT_YET);
    assert_int_equal(catalog_contract_standing(&c, 20260401), CATALOG_CONTRACT_IN_FORCE);   /* 認定日 itself */
    assert_int_equal(catalog_contract_standing(&c, 20270331), CATALOG_CONTRACT_IN_FORCE);   /* last day */
    assert_int_equal(catalog_contract_standing(&c, 20270401), CATALOG_CONTRACT_EXPIRED);
    /* no 認定日: never in force */
    c.certified_on = 0;
    assert_int_equal(catalog_contract_standing(&c, 20260601), CATALOG_CONTRACT_NOT_YET);
    /* no 有効期限: never lapses */
    c = C(CATALOG_STATUS_ACTIVE, 0, 0);
    c.valid_until = 0;
    assert_int_equal(catalog_contract_standing(&c, 20991231), CATALOG_CONTRACT_IN_FORCE);
}

static void suspension_and_revocation_from_their_date(void **state)
{
    catalog_contract_cert c = C(CATALOG_STATUS_REVOKED, 20260701, 1);
    assert_int_equal(catalog_contract_standing(&c, 20260630), CATALOG_CONTRACT_IN_FORCE);
    assert_int_equal(catalog_contract_standing(&c, 20260701), CATALOG_CONTRACT_REVOKED);
    /* revoked beats lapsed */
    assert_int_equal(catalog_contract_standing(&c, 20280101), CATALOG_CONTRACT_REVOKED);
    /* before 認定日, not yet certified, whatever was recorded later */
    assert_int_equal(catalog_contract_standing(&c, 20260101), CATALOG_CONTRACT_NOT_YET);
    c = C(CATALOG_STATUS_SUSPENDED, 0, 0);   /* no date: every day */
    assert_int_equal(catalog_contract_standing(&c, 20260401), CATALOG_CONTRACT_SUSPENDED);
}

static void own_and_others(void **state)
{
    /* A's (not ours) in force; ours derived from it, certified later */
    catalog_contract_cert c[2] = { C(CATALOG_STATUS_ACTIVE, 0, 0), C(CATALOG_STATUS_ACTIVE, 0, 1) };
    c[1].certified_on = 20260501;
    int st[2];
    catalog_contract_result r;
    catalog_contract_check(c, 2, 20260415, st, &r);
    assert_int_equal(st[0], CATALOG_CONTRACT_IN_FORCE);
    assert_int_equal(st[1], CATALOG_CONTRACT_NOT_YET);
    assert_int_equal(r.in_force, 1);
    assert_int_equal(r.own, 1);
    assert_int_equal(r.own_in_force, 0);   /* ours is not yet in force: no contract */
    catalog_contract_check(c, 2, 20260601, st, &r);
    assert_int_equal(r.in_force, 2);
    assert_int_equal(r.own_in_force, 1);
    /* after both lapse */
    catalog_contract_check(c, 2, 20270401, st, &r);
    assert_int_equal(st[0], CATALOG_CONTRACT_EXPIRED);
    assert_int_equal(st[1], CATALOG_CONTRACT_EXPIRED);
    assert_int_equal(r.in_force, 0);
    assert_int_equal(r.own_in_force, 0);
    /* none of our own */
    c[1].own = 0;
    catalog_contract_check(c, 2, 20260601, NULL, &r);
    assert_int_equal(r.in_force, 2);
    assert_int_equal(r.own, 0);
    assert_int_equal(r.own_in_force, 0);
    /* nothing at all */
    catalog_contract_check(NULL, 0, 20260601, NULL, &r);
    assert_int_equal(r.in_force + r.own + r.own_in_force, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standing_by_day),
        cmocka_unit_test(suspension_and_revocation_from_their_date),
        cmocka_unit_test(own_and_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
