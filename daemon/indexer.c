/*
 * daemon/indexer.c — the search index's builds on the thread pool
 * (indexer.h).
 */
#include "daemon/indexer.h"
#include "daemon/log.h"
#include "catalog/index.h"
#include "store/store.h"

#include <stdlib.h>

typedef struct indexer_job {
    uv_work_t w;
    catalogd *d;
    catalog_index_build *b;
    store_snap *snap;        /* begun on the loop at gen, used and ended on the pool thread */
    uint64_t gen;
    uint64_t queued_ns;
} indexer_job;

static void build_work(uv_work_t *w)
{
    indexer_job *j = w->data;
    catalog_index_build_run(j->b, j->snap);
    store_snap_end(j->snap);
    j->snap = NULL;
}

static void build_done(uv_work_t *w, int status)
{
    (void)status;
    indexer_job *j = w->data;
    catalogd *d = j->d;
    d->index_job = NULL;
    int ok = catalog_index_build_end(d->index, j->b) == 0;
    /* the pages the snapshot mapped here, and the build's heap */
    store_check_pages(d->st);
    catalogd_churn(d, CATALOGD_CHURN_NOW);
    double ms = (double)(uv_hrtime() - j->queued_ns) / 1e6;
    if (ok) {
        /* the changes applied during the build, in place (a few ms); a
         * rebuild here only if they were too many to note (the resumed
         * searches would do it otherwise, once each) */
        if (catalog_index_update(d->index, d->st, d->catalog_gen) < 0)
            ok = 0;
        catalog_index_stats s;
        catalog_index_stats_get(d->index, &s);
        log_debug(d, "catalog index built on the thread pool in %.0f ms: %zu certifications, %zu adoptions "
                  "(generation %llu, now %llu)", ms, s.certifications, s.adoptions,
                  (unsigned long long)j->gen, (unsigned long long)d->catalog_gen);
    } else {
        log_warn(d, "catalog index: the build on the thread pool %s after %.0f ms",
                 d->stopping ? "was stopped" : "failed", ms);
    }
    free(j);
    web_index_built(d, ok);
    control_index_built(d, ok);
}

int indexer_ready(catalogd *d)
{
    if (d->index_job)
        return 0;
    if (d->stopping || !catalog_index_update_is_build(d->index, d->st, d->catalog_gen))
        return 1;
    indexer_job *j = calloc(1, sizeof *j);
    if (!j)
        return 1;   /* the search builds on the loop, as before */
    j->d = d;
    j->gen = d->catalog_gen;
    /* the snapshot and the generation at the same moment: what is applied
     * after it is noted by the index and folded in at the end */
    if (!(j->snap = store_snap_begin(d->st))) {
        free(j);
        return 1;
    }
    if (!(j->b = catalog_index_build_begin(d->index, d->st, j->gen))) {
        store_snap_end(j->snap);
        free(j);
        return 1;
    }
    j->w.data = j;
    j->queued_ns = uv_hrtime();
    if (uv_queue_work(d->loop, &j->w, build_work, build_done)) {
        catalog_index_build_end(d->index, j->b);   /* x is empty: built on the loop by the search */
        store_snap_end(j->snap);
        free(j);
        return 1;
    }
    d->index_job = j;
    log_debug(d, "catalog index: building on the thread pool (generation %llu)", (unsigned long long)j->gen);
    return 0;
}

void indexer_stop(catalogd *d)
{
    if (d->index_job)
        catalog_index_build_cancel(d->index_job->b);
}

int indexer_building(const catalogd *d)
{
    return d->index_job != NULL;
}
