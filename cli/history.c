/* cli/history.c — catalogctl history KIND KEY: every version, oldest first. */
#include "cli/client.h"
#include "cli/verbs.h"

int client_record_query(int argc, char **argv, const char *verb, const char *cmd, const char *usage);

const char history_usage[] = "usage: catalogctl history KIND KEY [--author MEMBER_ID] [--json]";

int history_main(int argc, char **argv)
{
    return client_record_query(argc, argv, "history", "history", history_usage);
}
