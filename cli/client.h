/*
 * cli/client.h — what every catalogctl verb shares: options, the control
 * socket client, output for people (aligned tables) and scripts (JSON).
 */
#ifndef CLI_CLIENT_H
#define CLI_CLIENT_H

#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "proto/frame.h"
#include "proto/record.h"

enum { CLIENT_OK = 0, CLIENT_FAIL = 1, CLIENT_USAGE = 2, CLIENT_REFUSED = 3 };

typedef struct {
    const char *data;      /* --data DIR */
    const char *socket;    /* --socket PATH */
    int json;              /* --json */
    int era;               /* --era */
} client_opts;

extern client_opts client_g;     /* options given before the verb */

/* Consume a common option at argv[*i] (--data, --socket, --json, --era); 1 if consumed. */
int client_common_opt(client_opts *o, int argc, char **argv, int *i);
const char *client_data_dir(const client_opts *o);    /* --data, $CATALOGD_DATA, or ./var/node */
void client_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void client_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A verb with sub-verbs is a table of them, which both dispatches and
 * prints the verb's usage, so no sub-verb can be missing from the help.
 * A sub-verb's handler gets the verb's argv (argv[1] is the sub-verb) and
 * options given before the verb.  Its usage is what follows "catalogctl
 * VERB SUB"; NULL shares the line of the row before ("suspend|revoke KEY").
 * help, if any, is printed indented under the usage line of its row (the
 * first of a shared line). */
typedef struct {
    const char *sub;
    int (*fn)(client_opts *o, int argc, char **argv);
    const char *usage;
    const char *help;
} client_subverb;

typedef struct {
    const char *verb;
    const client_subverb *subs;
    size_t n;
    const char *note;   /* a line after the usage lines, or NULL */
    int ja;             /* a verb staff use: its usage and refusals are in Japanese */
} client_subverbs;

int  client_subverbs_main(const client_subverbs *v, int argc, char **argv);
void client_subverbs_usage(const client_subverbs *v, FILE *f);        /* "usage: catalogctl VERB ..." lines */
void client_subverbs_names(const client_subverbs *v, FILE *f);        /* "add|update|..." */
int  client_subverbs_usage_error(const client_subverbs *v);           /* the usage on stderr; CLIENT_USAGE */

/* One request/reply over the control socket.  The request map m is begun
 * for the caller with "cmd"; the caller adds its arguments to m
 * (proto_map_put_*, or proto_map_key and a value packed with pk), which
 * counts them.  On success *reply is a malloc'd msgpack map with ok=true.
 * Returns CLIENT_OK, CLIENT_FAIL (no daemon) or CLIENT_REFUSED (the daemon
 * said no; the message is printed). */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    proto_map m;
} client_req;
void client_req_begin(client_req *r, const char *cmd);
int  client_call(const client_opts *o, client_req *r, uint8_t **reply, size_t *len);
/* A stream of replies to one request (watch): open connects and sends the
 * request (ending r like client_call), next waits for the next reply frame
 * (valid until the following call).  open: CLIENT_OK, or CLIENT_FAIL with
 * errno set (nothing printed: a watcher retries).  next: 1 and the frame,
 * 0 when the connection ended or was lost, -1 on an invalid frame.
 * client_call is one request and one reply on a stream. */
typedef struct {
    int fd;
    int connected;           /* open got as far as connecting (a failure was the write) */
    proto_buf in;
    char path[1100];
} client_stream;
int  client_stream_open(const client_opts *o, client_req *r, client_stream *s);
int  client_stream_next(client_stream *s, const uint8_t **frame, size_t *len);
/* One more request on the same connection (pipelined: the replies come in
 * request order).  CLIENT_OK or CLIENT_FAIL (errno set). */
int  client_stream_send(client_stream *s, client_req *r);
void client_stream_close(client_stream *s);
/* 1 if a daemon answers on the node's control socket. */
int  client_daemon_running(const client_opts *o);

/* JSON output helpers (UTF-8 passes through; control characters escaped). */
void client_json_str(FILE *f, const char *s, size_t n);
/* json_dumpf, with DEL, C1 and bidi controls as \u escapes (jansson writes C0 so). */
typedef struct json_t json_t;
void client_json_dumpf(json_t *j, size_t flags, FILE *f);
/* Replace stdout and stderr by streams that escape control and bidi
 * characters (proto/text.h), keeping newlines and tabs; called first. */
void client_guard_output(void);
/* A stream on the real standard output, for exports that must be exact
 * (fclose it); NULL on failure. */
FILE *client_raw_stdout(void);
void client_json_kv_str(FILE *f, const char *k, const char *v, int comma);
void client_json_kv_u64(FILE *f, const char *k, uint64_t v, int comma);

/* Display width of UTF-8 text in terminal columns (East Asian wide = 2). */
size_t client_width(const char *s);
/* Print s padded (or truncated with "…") to exactly w columns. */
void client_pad(FILE *f, const char *s, size_t w);

/* A simple table: add rows of cells, then print with aligned columns,
 * fitting the terminal width by truncating the widest column. */
typedef struct client_table client_table;
client_table *client_table_new(size_t ncols, const char *const *headers);
void client_table_row(client_table *t, const char *const *cells);
void client_table_print(client_table *t, FILE *f);
void client_table_free(client_table *t);

/* Render records for people or as JSON. */
void client_print_record(const proto_record *r, int json, FILE *f);
/* Print an array of records (bin) found under `key` in a reply. */
int  client_print_records(const uint8_t *reply, size_t len, const char *key, int json, int history);

#endif
