/*
 * cli/import.c — catalogctl import FILE.csv: certifications from a
 * spreadsheet.  Files as Excel saves them work: UTF-8 with or without BOM,
 * Shift_JIS (CP932), CRLF, quoted cells with commas and line breaks.
 * Japanese or English headers; 認定番号 is the record key, so importing the
 * same file twice changes nothing.  Every row is checked before anything is
 * written; by default one bad row means nothing is written.
 */
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/schema.h"
#include "catalog/csv.h"
#include "proto/frame.h"
#include "proto/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "usage: catalogctl import FILE.csv [--dry-run] [--skip-bad] [--json]"
const char import_usage[] = USAGE;
#define CHUNK 2000

/* A cited certification may be written CODE/KEY (as people type it and
 * export writes it); catalogd resolves the code when the row is written.
 * Checked here with a stand-in member id in its place. */
static const char *ref_for_check(const char *cell, char *buf, size_t n)
{
    const char *slash = strchr(cell, '/');
    const char *p = cell;
    while (*p == ' ')
        p++;
    if (!slash || slash - p != 6 || strspn(p, "0123456789") != 6)
        return cell;
    proto_id zero;
    char ids[PROTO_ID_STR];
    memset(&zero, 0, sizeof zero);
    proto_id_str(&zero, ids);
    snprintf(buf, n, "%s%s", ids, slash);
    return buf;
}

static const char *const key_headers[] = { "認定番号", "key", "cert_no", "certification_no", NULL };
static const char *const owner_headers[] = { "認定団体", "certifying_member", NULL };

static int in_list(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (!strcmp(s, *l))
            return 1;
    return 0;
}

/* Trim spaces and tabs in place (the cell itself changes, so later
 * comparisons see the trimmed key). */
static char *trim(char *s)
{
    size_t lead = strspn(s, " \t"), n = strlen(s + lead);
    memmove(s, s + lead, n + 1);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = 0;
    return s;
}

static const proto_csv *sort_rows;
static int sort_keycol;

/* by key (cells are trimmed in place before sorting), then by line */
static int cmp_key(const void *a, const void *b)
{
    const proto_csv_row *x = &sort_rows->rows[*(const size_t *)a + 1];
    const proto_csv_row *y = &sort_rows->rows[*(const size_t *)b + 1];
    int c = strcmp(x->cells[sort_keycol], y->cells[sort_keycol]);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

int import_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *file = NULL;
    int dry = 0, skip_bad = 0;
    for (int i = 1; i < argc; i++) {
        if (client_common_opt(&o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--dry-run"))
            dry = 1;
        else if (!strcmp(argv[i], "--skip-bad"))
            skip_bad = 1;
        else if (!file && argv[i][0] != '-')
            file = argv[i];
        else {
            client_usage_error("import", USAGE);
            return CLIENT_USAGE;
        }
    }
    if (!file) {
        client_usage_error("import", USAGE);
        return CLIENT_USAGE;
    }
    FILE *f = fopen(file, "rb");
    if (!f) {
        client_errorf("import: cannot open %s: %s", file, strerror(errno));
        return CLIENT_FAIL;
    }
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= (64u << 20)) {
                fclose(f);
                free(data);
                client_errorf("import: %s is larger than 64 MiB", file);
                return CLIENT_FAIL;
            }
            cap *= 2;
            data = realloc(data, cap);
        }
        size_t n = fread(data + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    proto_csv csv;
    char err[1024];
    if (proto_csv_parse(data, len, &csv, err, sizeof err)) {
        free(data);
        client_errorf("import: %s: %s", file, err);
        return CLIENT_FAIL;
    }
    free(data);
    if (csv.nrows < 1) {
        proto_csv_free(&csv);
        client_errorf("import: %s: no header row", file);
        return CLIENT_FAIL;
    }

    /* header: map every column */
    proto_csv_row *h = &csv.rows[0];
    size_t ncol = h->ncells;
    const catalog_field **col = calloc(ncol ? ncol : 1, sizeof *col);
    int keycol = -1, ownercol = -1, bad = 0;
    for (size_t c = 0; c < ncol; c++) {
        char *name = trim(h->cells[c]);
        if (in_list(name, key_headers))
            keycol = (int)c;
        else if (in_list(name, owner_headers))
            ownercol = (int)c;
        else if (!(col[c] = catalog_field_find("certification", name))) {
            fprintf(stderr, "%s:%d: unknown column '%s'\n", file, h->line, name);
            bad++;
        }
    }
    if (keycol < 0) {
        fprintf(stderr, "%s:%d: missing column 認定番号 (the record key)\n", file, h->line);
        bad++;
    }
    size_t nschema;
    const catalog_field *fs = catalog_fields("certification", &nschema);
    for (size_t k = 0; k < nschema; k++) {
        if (!fs[k].required)
            continue;
        int have = 0;
        for (size_t c = 0; c < ncol; c++)
            have |= col[c] == &fs[k];
        if (!have) {
            fprintf(stderr, "%s:%d: missing required column %s (%s)\n", file, h->line, fs[k].ja, fs[k].name);
            bad++;
        }
    }
    if (bad) {
        fprintf(stderr, "import: header of %s is not usable; nothing written\n", file);
        free(col);
        proto_csv_free(&csv);
        return CLIENT_FAIL;
    }

    /* who am I: rows certified by another member are not ours to import */
    char mycode[16] = "";
    if (ownercol >= 0) {
        client_req s;
        uint8_t *sr;
        size_t sl;
        client_req_begin(&s, "status");
        if (client_call(&o, &s, &sr, &sl)) {
            free(col);
            proto_csv_free(&csv);
            return CLIENT_FAIL;
        }
        proto_map_str(sr, sl, "code", mycode, sizeof mycode);
        free(sr);
    }

    /* rows: validate everything before writing anything */
    size_t nrows = csv.nrows - 1, good = 0, others = 0;
    char *ok = calloc(nrows ? nrows : 1, 1);
    catalog_kv *kv = calloc(ncol ? ncol : 1, sizeof *kv);
    for (size_t r = 0; r < nrows; r++) {
        proto_csv_row *row = &csv.rows[r + 1];
        if (row->ncells > ncol) {
            fprintf(stderr, "%s:%d: %zu cells, but the header has %zu\n", file, row->line, row->ncells, ncol);
            bad++;
            continue;
        }
        const char *key = keycol < (int)row->ncells ? trim(row->cells[keycol]) : "";
        if (ownercol >= 0 && ownercol < (int)row->ncells) {
            const char *own = trim(row->cells[ownercol]);
            if (own[0] && strncmp(own, mycode, strlen(mycode))) {
                others++;
                continue;   /* another member's certification: skip */
            }
        }
        if (catalog_key_valid(key, err, sizeof err)) {
            fprintf(stderr, "%s:%d: 認定番号: %s\n", file, row->line, err);
            bad++;
            continue;
        }
        size_t n = 0, nref = 0;
        char refbuf[4][PROTO_ID_STR + PROTO_KEY_MAX + 8];
        for (size_t c = 0; c < row->ncells; c++)
            if (col[c]) {
                kv[n].name = col[c]->name;
                kv[n].value = row->cells[c];
                if (col[c]->type == CAT_REF && nref < 4)
                    kv[n].value = ref_for_check(row->cells[c], refbuf[nref++], sizeof refbuf[0]);
                n++;
            }
        proto_body *b;
        if (catalog_build("certification", kv, n, &b, err, sizeof err)) {
            fprintf(stderr, "%s:%d: 認定番号 %s: %s\n", file, row->line, key, err);
            bad++;
            continue;
        }
        proto_body_free(b);
        ok[r] = 1;
        good++;
    }
    free(kv);
    /* the same 認定番号 twice: sort row indexes by key, compare neighbours */
    {
        size_t *idx = malloc((good ? good : 1) * sizeof *idx), k = 0;
        for (size_t r = 0; r < nrows; r++)
            if (ok[r])
                idx[k++] = r;
        sort_rows = &csv;
        sort_keycol = keycol;
        qsort(idx, k, sizeof *idx, cmp_key);
        for (size_t i = 1; i < k; i++) {
            proto_csv_row *x = &csv.rows[idx[i - 1] + 1], *y = &csv.rows[idx[i] + 1];
            if (!strcmp(x->cells[keycol], y->cells[keycol])) {
                fprintf(stderr, "%s:%d: 認定番号 %s appears again (first on line %d)\n", file, y->line,
                        y->cells[keycol], x->line);
                ok[idx[i]] = 0;
                good--;
                bad++;
            }
        }
        free(idx);
    }
    int rc = CLIENT_OK;
    if (bad && !skip_bad) {
        fprintf(stderr, "import: %d problem%s in %s (%s); nothing written\n", bad, bad == 1 ? "" : "s", file,
                csv.encoding);
        rc = CLIENT_FAIL;
    } else if (dry) {
        printf("%s (%s): %zu rows valid, %d bad, %zu of other members; dry run, nothing written\n", file,
               csv.encoding, good, bad, others);
        rc = bad ? CLIENT_FAIL : CLIENT_OK;
    } else {
        size_t created = 0, updated = 0, unchanged = 0;
        for (size_t start = 0; start < nrows && rc == CLIENT_OK;) {
            size_t cnt = 0, end = start;
            while (end < nrows && cnt < CHUNK) {
                cnt += ok[end];
                end++;
            }
            if (cnt == 0)
                break;
            client_req req;
            client_req_begin(&req, "cput");
            proto_map_key(&req.m, "items");
            msgpack_pack_array(&req.pk, cnt);
            for (size_t r = start; r < end; r++) {
                if (!ok[r])
                    continue;
                proto_csv_row *row = &csv.rows[r + 1];
                proto_map item;
                proto_map_begin(&item, &req.pk);
                proto_map_put_str(&item, "kind", "certification");
                proto_map_put_str(&item, "key", trim(row->cells[keycol]));
                proto_map_put_str(&item, "mode", "upsert");
                proto_map_key(&item, "fields");
                size_t n = 0;
                for (size_t c = 0; c < row->ncells; c++)
                    n += col[c] != NULL;
                msgpack_pack_array(&req.pk, n);
                for (size_t c = 0; c < row->ncells; c++)
                    if (col[c]) {
                        msgpack_pack_array(&req.pk, 2);
                        proto_pack_cstr(&req.pk, col[c]->name);
                        proto_pack_cstr(&req.pk, row->cells[c]);
                    }
                proto_map_end(&item);
            }
            uint8_t *rep;
            size_t rl;
            rc = client_call(&o, &req, &rep, &rl);
            if (rc)
                break;
            proto_rd rd;
            uint32_t nr, three;
            if (proto_map_find(rep, rl, "results", &rd) == 0 && proto_rd_array(&rd, &nr) == 0)
                for (uint32_t i = 0; i < nr; i++) {
                    char k[PROTO_KEY_MAX + 1], what[16];
                    uint64_t seq;
                    if (proto_rd_array(&rd, &three) || proto_rd_strcpy(&rd, k, sizeof k) ||
                        proto_rd_strcpy(&rd, what, sizeof what) || proto_rd_uint(&rd, &seq))
                        break;
                    created += !strcmp(what, "created");
                    updated += !strcmp(what, "updated");
                    unchanged += !strcmp(what, "unchanged");
                }
            free(rep);
            start = end;
        }
        if (rc == CLIENT_OK) {
            if (o.json)
                printf("{\"created\":%zu,\"updated\":%zu,\"unchanged\":%zu,\"skipped_other_members\":%zu,"
                       "\"bad\":%d,\"encoding\":\"%s\"}\n", created, updated, unchanged, others, bad, csv.encoding);
            else
                printf("%s (%s): %zu created, %zu updated, %zu unchanged%s", file, csv.encoding, created,
                       updated, unchanged, others ? "" : "\n");
            if (!o.json && others)
                printf(", %zu of other members skipped\n", others);
        }
    }
    free(ok);
    free(col);
    proto_csv_free(&csv);
    return rc;
}
