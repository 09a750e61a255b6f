/* cli/history.c — catalogctl history KIND KEY: every version, oldest first. */
#include "cli/ctl.h"
#include "cli/verbs.h"

int ctl_record_query(int argc, char **argv, const char *verb, const char *cmd);

int history_main(int argc, char **argv)
{
    return ctl_record_query(argc, argv, "history", "history");
}
