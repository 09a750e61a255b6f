/* cli/catview.h — showing catalog records (certifications, adoptions) to people. */
#ifndef CLI_CATVIEW_H
#define CLI_CATVIEW_H

#include <stdio.h>
#include <jansson.h>
#include "catalog/jp.h"
#include "proto/record.h"
#include "cli/client.h"

/* Members as the daemon listed them in a reply ("members": [[id, code, name,
 * status]...]; status "member", "pending", "left" or "expelled", absent from
 * an older daemon). */
typedef struct { char id[72]; char code[8]; char name[192]; char status[16]; } client_member;
typedef struct { client_member *v; size_t n; } client_members;
int  client_members_parse(const uint8_t *reply, size_t len, client_members *out);
void client_members_free(client_members *m);
/* "131059 文京区" for an author id, or its short id when unknown; a former
 * member marked: "131016 千代田区（脱退）", "…（除名）". */
const char *client_member_label(const client_members *m, const proto_id *id, char *buf, size_t n);
const client_member *client_member_by_id(const client_members *m, const proto_id *id);
/* What follows a member's name for people: "（脱退）", "（除名）" or "". */
const char *client_member_mark(const client_member *mm);

/* A record reference "MEMBER_ID/KEY" for people: "131059 文京区 KEY" (the
 * short id when the member is unknown, a former member marked); anything
 * else as it is. */
const char *client_ref_label(const client_members *m, const char *ref, char *buf, size_t n);
/* The same as people type it (and import reads it): "131059/KEY". */
const char *client_ref_cell(const client_members *m, const char *ref, char *buf, size_t n);

/* Today's local date, for catalog_status. */
jp_date client_today(void);

/* A catalog record as a JSON object for scripts (jansson; the caller
 * json_decref's it):
 *   author, author_code, author_name (null when the member is unknown),
 *   author_status (member, pending, left, expelled; null when unknown),
 *   kind, key, seq, time, tombstone, hash,
 *   effective_status, effective_status_on  (certifications: catalog_status
 *     on that date, today — the stored status stays in body.status),
 *   body: the fields, typed by the schema: LIST -> array of strings, INT and
 *     FY -> number, REF -> {"member_id", "code", "name", "status", "key"} (code,
 *     name, status null for an unknown member), everything else a string. */
json_t *client_catalog_json(const proto_record *r, const client_members *m, jp_date today);
/* Print it (UTF-8, compact, fields in order). */
void client_catalog_json_print(const proto_record *r, const client_members *m, jp_date today, FILE *f);

/* A body field as text (lists joined with "、"); "" when absent.  Dates
 * become era dates (令和8年4月1日) when era is set. */
const char *client_field(const proto_record *r, const char *field, int era, char *buf, size_t n);

/* Full view of one catalog record with Japanese labels; version is its
 * number among its record's versions (第N版), 0 when not known.  A
 * withdrawal shows as 取り下げ with its reason. */
void client_show_catalog_record(const proto_record *r, uint64_t version, const client_members *m, int era,
                                FILE *f);

/* Every version of one record, oldest first: 第1版 in full, each later
 * version with the status it recorded and what changed from the version
 * before (field: old → new); a withdrawal with its reason, a version after
 * one in full again (再登録). */
void client_show_history(const proto_record *recs, size_t n, const client_members *m, int era, FILE *f);

/* Decode the array of records under `key` in a reply: returns count, fills a
 * malloc'd array of views (pointers into reply). */
size_t client_records(const uint8_t *reply, size_t len, const char *key, proto_record **out);

/* A whole csearch, page by page (the daemon's reply is one page of
 * NODE_CONTROL_PAGE_BYTES): fill adds the request's filters to each page's
 * request (called once per page).  *reply is one map as a single page
 * would be, holding every page: certifications, adoptions and groups in
 * order, products, total_certifications, total_adoptions, members (the
 * last page's), generation.  When the catalog changes between two pages
 * (another generation) the search starts again, at most
 * NODE_CONTROL_SEARCH_RESTARTS_MAX times; past that, or past
 * NODE_CONTROL_SEARCH_PAGES_MAX pages, it fails with a message (never a
 * shorter list).  CLIENT_OK, CLIENT_FAIL or CLIENT_REFUSED (printed). */
typedef void (*client_csearch_fill)(client_req *r, void *ctx);
int client_csearch(const client_opts *o, client_csearch_fill fill, void *ctx, uint8_t **reply, size_t *len);

/* Send one item to "cput" (mode add, update or withdraw) and print what
 * happened; fields are FIELD=VALUE strings; checks CLIENT_PUT_* (--strict,
 * --allow-unknown).  The daemon's warnings go to stderr ("警告: …"). */
enum { CLIENT_PUT_ALLOW_UNKNOWN = 1u, CLIENT_PUT_STRICT = 2u };
int client_catalog_put(const void *opts, const char *kind, const char *key, const char *mode,
                       char **fields, int nfields, unsigned checks);

#endif
