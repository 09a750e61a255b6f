/*
 * cli/ctl.h — what every catalogctl verb shares: options, the control
 * socket client, output for people (aligned tables) and scripts (JSON).
 */
#ifndef CLI_CTL_H
#define CLI_CTL_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "proto/record.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2, CTL_REFUSED = 3 };

typedef struct {
    const char *data;      /* --data DIR */
    const char *socket;    /* --socket PATH */
    int json;              /* --json */
    int era;               /* --era */
} ctl_opts;

extern ctl_opts ctl_g;     /* options given before the verb */

/* Consume a common option at argv[*i] (--data, --socket, --json, --era); 1 if consumed. */
int ctl_common_opt(ctl_opts *o, int argc, char **argv, int *i);
const char *ctl_data_dir(const ctl_opts *o);    /* --data, $CATALOGD_DATA, or ./var/node */
void ctl_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One request/reply over the control socket.  The request map is built by
 * the caller with pk (started for it, including "cmd").  On success *reply is
 * a malloc'd msgpack map with ok=true.  Returns CTL_OK, CTL_FAIL (no daemon)
 * or CTL_REFUSED (the daemon said no; the message is printed). */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} ctl_req;
void ctl_req_begin(ctl_req *r, const char *cmd, uint32_t nargs);
int  ctl_call(const ctl_opts *o, ctl_req *r, uint8_t **reply, size_t *len);
/* 1 if a daemon answers on the node's control socket. */
int  ctl_daemon_running(const ctl_opts *o);

/* JSON output helpers (UTF-8 passes through; control characters escaped). */
void ctl_json_str(FILE *f, const char *s, size_t n);
void ctl_json_kv_str(FILE *f, const char *k, const char *v, int comma);
void ctl_json_kv_u64(FILE *f, const char *k, uint64_t v, int comma);

/* Display width of UTF-8 text in terminal columns (East Asian wide = 2). */
size_t ctl_width(const char *s);
/* Print s padded (or truncated with "…") to exactly w columns. */
void ctl_pad(FILE *f, const char *s, size_t w);

/* A simple table: add rows of cells, then print with aligned columns,
 * fitting the terminal width by truncating the widest column. */
typedef struct ctl_table ctl_table;
ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
void ctl_table_row(ctl_table *t, const char *const *cells);
void ctl_table_print(ctl_table *t, FILE *f);
void ctl_table_free(ctl_table *t);

/* Render records for people or as JSON. */
void ctl_print_record(const proto_record *r, int json, FILE *f);
/* Print an array of records (bin) found under `key` in a reply. */
int  ctl_print_records(const uint8_t *reply, size_t len, const char *key, int json, int history);

#endif
