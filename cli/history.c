/* cli/history.c — catalogctl history KIND KEY: every version, oldest first. */
#include "cli/client.h"
#include "cli/verbs.h"

int client_record_query(int argc, char **argv, const char *verb, const char *cmd);

int history_main(int argc, char **argv)
{
    return client_record_query(argc, argv, "history", "history");
}
