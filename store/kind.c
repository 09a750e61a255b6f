/* store/kind.c — the table of record kinds; see kind.h. */
#include "store/kind.h"
#include "store/store_int.h"   /* the membership validator */
/* The catalog kinds' validator lives with their schema.  catalog/schema.c
 * depends on proto/ alone (never on store/), so the store calling down into
 * it makes no include or link loop; pointing the constant table at it,
 * rather than having the catalog register it at start-up, keeps the table
 * immutable and the rule in force in every program that links the store
 * (daemon, catalogctl's offline verbs, tools) with nothing to forget. */
#include "catalog/schema.h"

#include <string.h>

static const kind_def kinds[] = {
    { NULL, KIND_GENERIC, 0, NULL, NULL },
    { "genesis", KIND_GENESIS, KIND_F_MEMBERSHIP | KIND_F_OWN_VERB | KIND_F_NO_CHAIN, "alliance create", NULL },
    { "member", KIND_MEMBER, KIND_F_MEMBERSHIP | KIND_F_OWN_VERB, "member", store_member_validate },
    { "certification", KIND_CERTIFICATION, KIND_F_CATALOG | KIND_F_OWN_VERB, "certification", catalog_record_validate },
    /* membership: a new policy's quorums may admit or expel (store_policy.c) */
    { "policy", KIND_POLICY, KIND_F_MEMBERSHIP | KIND_F_OWN_VERB, "policy", store_policy_validate },
    { "adoption", KIND_ADOPTION, KIND_F_CATALOG | KIND_F_OWN_VERB, "adoption", catalog_record_validate },
};

const kind_def *kind_of(const char *name)
{
    if (name)
        for (size_t i = 1; i < sizeof kinds / sizeof kinds[0]; i++)
            if (!strcmp(kinds[i].name, name))
                return &kinds[i];
    return &kinds[0];
}

const kind_def *kind_get(kind_id id)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].id == id)
            return &kinds[i];
    return &kinds[0];
}
