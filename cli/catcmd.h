/* cli/catcmd.h — shared subcommands of `certification` and `adoption`. */
#ifndef CLI_CATCMD_H
#define CLI_CATCMD_H
#include "cli/ctl.h"

/* argv[0] = verb, argv[1] = subcommand, argv[2..] = KEY FIELD=VALUE...;
 * extra is one more FIELD=VALUE (e.g. status=停止) or NULL. */
int ctl_cat_write(ctl_opts *o, const char *verb, const char *kind, const char *mode,
                  int argc, char **argv, const char *extra);
int ctl_cat_show(ctl_opts *o, const char *verb, const char *kind, int argc, char **argv);
int ctl_cat_history(ctl_opts *o, const char *verb, const char *kind, int argc, char **argv);
int ctl_cat_list(ctl_opts *o, const char *verb, const char *kind, int argc, char **argv);

#endif
