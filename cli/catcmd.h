/* cli/catcmd.h — shared subcommands of `certification` and `adoption`. */
#ifndef CLI_CATCMD_H
#define CLI_CATCMD_H
#include "cli/client.h"

/* argv[0] = verb, argv[1] = subcommand, argv[2..] = KEY FIELD=VALUE...
 * [--strict] [--allow-unknown]; extra is one more FIELD=VALUE or NULL. */
int client_cat_write(client_opts *o, const char *verb, const char *kind, const char *mode,
                     int argc, char **argv, const char *extra);
/* suspend, revoke, reinstate: KEY [--reason TEXT] [--date DATE] [FIELD=VALUE...]
 * as an update setting status, status_reason (cleared when not given) and
 * status_date (today when not given). */
int client_cat_status(client_opts *o, const char *verb, const char *kind, int argc, char **argv,
                      const char *status);
/* withdraw: KEY --reason TEXT, a tombstone carrying the reason. */
int client_cat_withdraw(client_opts *o, const char *verb, const char *kind, int argc, char **argv);
int client_cat_show(client_opts *o, const char *verb, const char *kind, int argc, char **argv);
int client_cat_history(client_opts *o, const char *verb, const char *kind, int argc, char **argv);
int client_cat_list(client_opts *o, const char *verb, const char *kind, int argc, char **argv);

#endif
