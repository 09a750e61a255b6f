/*
 * cli/export.c — catalogctl export: the catalog for paperwork.
 *   --format csv   one table (--kind certification, the default, or adoption),
 *                  UTF-8 with BOM and CRLF as Excel expects; re-imports unchanged
 *   --format json  {"certifications": [...], "adoptions": [...]}
 *   --format xlsx  two sheets, 認定 and 導入実績 (--output required)
 * Search filters (words, --area, --member, ...) and --public-only narrow it.
 */
#include "cli/catview.h"
#include "cli/client.h"
#include "cli/verbs.h"
#include "catalog/export.h"
#include "catalog/xlsx.h"
#include "catalog/schema.h"
#include "catalog/csv.h"
#include "proto/util.h"
#include "store/kind.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE \
    "使い方: catalogctl export --format csv|json|xlsx [--output ファイル] [--kind certification|adoption]\n" \
    "           [--public-only] [--raw] [--all] [search の条件...]\n" \
    "  目録を書き出します。条件を付けなければ全件、付ければ search と同じ条件で絞ります。\n" \
    "  --format csv|json|xlsx   CSV（UTF-8、BOM付き。Excel で開けます）、JSON、Excel のブック\n" \
    "  --output ファイル        書き出すファイル（xlsx では必須。省けば標準出力）\n" \
    "  --kind                   CSV の表: certification（認定、既定）または adoption（導入実績）。\n" \
    "                           JSON と xlsx は両方を含みます\n" \
    "  --public-only            公開してよいもの（visibility=public）だけ\n" \
    "  --all                    語と認定の条件を使わず、すべての認定と導入実績（条件がなければ既定）\n" \
    "  --raw                    CSV で、=、+、-、@、タブ、CR で始まるセルにも ' を付けず、そのまま書く\n" \
    "                           （既定では Excel が数式として読まないよう先頭に ' を付けます。import は外します）"
const char export_usage[] = USAGE;

int client_search_call(client_opts *o, int argc, char **argv, int first, uint8_t **rep, size_t *len);

/* The columns are catalog/export.h's (the web view's downloads write the
 * same); members are named from the daemon's reply. */
static int member_of(void *ctx, const proto_id *id, char *code, size_t codelen, char *name, size_t namelen)
{
    const client_member *mm = client_member_by_id(ctx, id);
    if (!mm)
        return -1;
    snprintf(code, codelen, "%s", mm->code);
    snprintf(name, namelen, "%s%s", mm->name, client_member_mark(mm));   /* a former member marked */
    return 0;
}

int export_main(int argc, char **argv)
{
    client_opts o = client_g;
    const char *format = "csv", *output = NULL, *kind = "certification";
    int raw = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--format") && i + 1 < argc)
            format = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc)
            output = argv[++i];
        else if (!strcmp(argv[i], "--kind") && i + 1 < argc)
            kind = argv[++i];
        else if (!strcmp(argv[i], "--raw"))
            raw = 1;
    }
    if ((strcmp(format, "csv") && strcmp(format, "json") && strcmp(format, "xlsx")) ||
        !kind_has(kind, KIND_F_CATALOG)) {
        client_usage_error("export", USAGE);
        return CLIENT_USAGE;
    }
    if (!strcmp(format, "xlsx") && !output) {
        client_usage_error("export", "--format xlsx needs --output FILE.xlsx\n" USAGE);
        return CLIENT_USAGE;
    }
    uint8_t *rep;
    size_t len;
    int rc = client_search_call(&o, argc, argv, 1, &rep, &len);
    if (rc)
        return rc;
    proto_record *recs[2];
    size_t nrec[2];
    nrec[0] = client_records(rep, len, "certifications", &recs[0]);
    nrec[1] = client_records(rep, len, "adoptions", &recs[1]);
    client_members m;
    client_members_parse(rep, len, &m);
    static catalog_export_cells_buf buf;
    jp_date today = client_today();
    const char *hdr[CATALOG_EXPORT_COLS], *row[CATALOG_EXPORT_COLS];
    char err[512];
    /* Not through the output guard (client_guard_output): a CSV holds the
     * data exactly (CRLF included); JSON is escaped by client_json_dumpf. */
    FILE *f = NULL;
    if (strcmp(format, "xlsx") && !(f = output ? fopen(output, "wb") : client_raw_stdout())) {
        client_errorf("export: cannot write %s: %s", output ? output : "standard output", strerror(errno));
        rc = CLIENT_FAIL;
        goto out;
    }
    if (!strcmp(format, "csv")) {
        int t = kind_is(kind, KIND_ADOPTION);
        proto_csv_buf b = { 0 };
        size_t nh = catalog_export_headers(kind, hdr);
        /* Another member's 事業者名 "=HYPERLINK(…)" must not become a
         * formula in this member's Excel: neutralised unless --raw. */
        unsigned cf = raw ? 0 : PROTO_CSV_NEUTRALISE;
        proto_csv_append_row_opts(&b, hdr, nh, cf);
        for (size_t i = 0; i < nrec[t]; i++)
            proto_csv_append_row_opts(&b, row, catalog_export_cells(&recs[t][i], member_of, &m, today, &buf, row), cf);
        fputs("\xef\xbb\xbf", f);   /* BOM: Excel then reads UTF-8 */
        fwrite(b.data, 1, b.len, f);
        proto_csv_buf_free(&b);
    } else if (!strcmp(format, "json")) {
        /* the records as catalogctl --json prints them (client_catalog_json) */
        fputs("{\"certifications\":[", f);
        for (size_t t = 0; t < 2; t++) {
            if (t)
                fputs("],\"adoptions\":[", f);
            for (size_t i = 0; i < nrec[t]; i++) {
                if (i)
                    fputc(',', f);
                client_catalog_json_print(&recs[t][i], &m, today, f);
            }
        }
        fputs("]}\n", f);
    } else {
        catalog_xlsx *x = catalog_xlsx_open(output, err, sizeof err);
        if (!x) {
            client_errorf("export: %s", err);
            rc = CLIENT_FAIL;
            goto out;
        }
        static const char *kinds[2] = { "certification", "adoption" };
        static const char *sheets[2] = { "認定", "導入実績" };
        for (size_t t = 0; t < 2; t++) {
            size_t nh = catalog_export_headers(kinds[t], hdr);
            uint64_t numeric = catalog_export_numeric(kinds[t]);
            catalog_xlsx_sheet(x, sheets[t], hdr, nh);
            for (size_t i = 0; i < nrec[t]; i++)
                catalog_xlsx_row(x, row, catalog_export_cells(&recs[t][i], member_of, &m, today, &buf, row), numeric);
        }
        if (catalog_xlsx_close(x, err, sizeof err)) {
            client_errorf("export: %s", err);
            rc = CLIENT_FAIL;
        }
    }
    if (f && fclose(f)) {
        client_errorf("export: writing %s failed", output ? output : "standard output");
        rc = CLIENT_FAIL;
    }
    if (output && rc == CLIENT_OK)
        fprintf(stderr, "認定 %zu 件、導入実績 %zu 件を %s に書き出しました\n", nrec[0], nrec[1], output);
out:
    free(recs[0]);
    free(recs[1]);
    client_members_free(&m);
    free(rep);
    return rc;
}
