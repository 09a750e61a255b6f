/*
 * tests/unit/identities.h — the member identities a unit test signs with:
 * keys and certificates made in a fresh temporary directory (one per
 * identity, DIR/idN), removed again when the group ends.  Included by the
 * unit tests that build real stores (test_store, test_index, test_refs).
 */
#ifndef TESTS_UNIT_IDENTITIES_H
#define TESTS_UNIT_IDENTITIES_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "certs/certs.h"

static int identities_rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Make tmpdir (from a "/tmp/NAME.XXXXXX" template, at most 63 bytes) and n
 * identities in it; types[i] NULL or types NULL means ed25519.  0 or -1. */
static int identities_make(char tmpdir[64], const char *template, certs_identity *ids, int n,
                           const char *const *codes, const char *const *names, const char *const *types)
{
    char err[256];
    snprintf(tmpdir, 64, "%s", template);
    if (!mkdtemp(tmpdir))
        return -1;
    for (int i = 0; i < n; i++) {
        char dir[128];
        snprintf(dir, sizeof dir, "%s/id%d", tmpdir, i);
        if (certs_init(dir, codes[i], names[i], types && types[i] ? types[i] : "ed25519", err, sizeof err) ||
            certs_load(dir, &ids[i], err, sizeof err)) {
            fprintf(stderr, "identity %d: %s\n", i, err);
            return -1;
        }
    }
    return 0;
}

/* Free the identities and remove tmpdir with everything the tests put in it. */
static void identities_free(char tmpdir[64], certs_identity *ids, int n)
{
    for (int i = 0; i < n; i++)
        certs_free(&ids[i]);
    if (tmpdir[0])
        nftw(tmpdir, identities_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#define assert_err_has(err, needle) do {                                  \
        if (!strstr((err), (needle)))                                     \
            fail_msg("error \"%s\" lacks \"%s\"", (err), (needle));       \
    } while (0)

#endif
