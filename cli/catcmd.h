/* cli/catcmd.h — shared subcommands of `certification` and `adoption`. */
#ifndef CLI_CATCMD_H
#define CLI_CATCMD_H
#include "cli/client.h"

/* argv[0] = verb, argv[1] = subcommand, argv[2..] = KEY FIELD=VALUE...;
 * extra is one more FIELD=VALUE (e.g. status=停止) or NULL. */
int client_cat_write(client_opts *o, const char *verb, const char *kind, const char *mode,
                     int argc, char **argv, const char *extra);
int client_cat_show(client_opts *o, const char *verb, const char *kind, int argc, char **argv);
int client_cat_history(client_opts *o, const char *verb, const char *kind, int argc, char **argv);
int client_cat_list(client_opts *o, const char *verb, const char *kind, int argc, char **argv);

#endif
