/* catalog/contract.c — 「4号随契の確認」; see contract.h. */
#include "catalog/contract.h"
#include "catalog/schema.h"

#include <string.h>

int catalog_contract_standing(const catalog_contract_cert *c, int on)
{
    /* not yet certified comes first: a 取消 dated later than the day says
     * nothing about that day, and one dated earlier cannot precede 認定日 */
    if (!c->certified_on || c->certified_on > on)
        return CATALOG_CONTRACT_NOT_YET;
    switch (catalog_status_on(c->recorded, c->status_from, c->valid_until, on)) {
    case CATALOG_STATUS_SUSPENDED: return CATALOG_CONTRACT_SUSPENDED;
    case CATALOG_STATUS_REVOKED: return CATALOG_CONTRACT_REVOKED;
    case CATALOG_STATUS_EXPIRED: return CATALOG_CONTRACT_EXPIRED;
    default: return CATALOG_CONTRACT_IN_FORCE;
    }
}

void catalog_contract_check(const catalog_contract_cert *c, size_t n, int on, int *standing,
                            catalog_contract_result *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        int s = catalog_contract_standing(&c[i], on);
        if (standing)
            standing[i] = s;
        out->in_force += s == CATALOG_CONTRACT_IN_FORCE;
        out->own += c[i].own != 0;
        out->own_in_force += c[i].own && s == CATALOG_CONTRACT_IN_FORCE;
    }
}
