/* cli/verbs.h — the catalogctl verbs (one file each).
 *
 * A verb is a handler and its usage text (X_main, X_usage), or a table of
 * sub-verbs (X_verb) that dispatches and prints its usage itself. */
#ifndef CLI_VERBS_H
#define CLI_VERBS_H

#include "cli/client.h"
#include "catalog/schema.h"

int init_main(int argc, char **argv);
int id_main(int argc, char **argv);
int cert_main(int argc, char **argv);
int status_main(int argc, char **argv);
int put_main(int argc, char **argv);
int get_main(int argc, char **argv);
int list_main(int argc, char **argv);
int history_main(int argc, char **argv);
int join_main(int argc, char **argv);
int peers_main(int argc, char **argv);
int search_main(int argc, char **argv);
int import_main(int argc, char **argv);
int export_main(int argc, char **argv);
int fields_main(int argc, char **argv);
int backup_main(int argc, char **argv);
int restore_main(int argc, char **argv);
int metrics_main(int argc, char **argv);
int watch_main(int argc, char **argv);

extern const char init_usage[], id_usage[], cert_usage[], status_usage[], put_usage[], get_usage[],
    list_usage[], history_usage[], join_usage[], peers_usage[], search_usage[], import_usage[],
    export_usage[], fields_usage[], backup_usage[], restore_usage[], metrics_usage[], watch_usage[];

/* The 分野 and 契約方法 of the policy in force on the node (cli/policy.c),
 * for checks made here before a request (import): v's lists point into
 * *buf (policy_vocab_free it, also on failure).  CLIENT_OK, or another
 * CLIENT_* (an error was printed). */
struct policy_vocab_buf;
int policy_vocab_fetch(client_opts *o, catalog_vocab *v, struct policy_vocab_buf **buf);
void policy_vocab_free(struct policy_vocab_buf *b);

extern const client_subverbs alliance_verb, member_verb, key_verb, policy_verb, certification_verb, adoption_verb, webuser_verb;

#endif
