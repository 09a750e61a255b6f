/* cli/verbs.h — one handler per catalogctl verb (one file each). */
#ifndef CLI_VERBS_H
#define CLI_VERBS_H

int init_main(int argc, char **argv);
int id_main(int argc, char **argv);
int cert_main(int argc, char **argv);
int status_main(int argc, char **argv);
int put_main(int argc, char **argv);
int get_main(int argc, char **argv);
int list_main(int argc, char **argv);
int history_main(int argc, char **argv);
int alliance_main(int argc, char **argv);
int member_main(int argc, char **argv);
int join_main(int argc, char **argv);
int peers_main(int argc, char **argv);
int certification_main(int argc, char **argv);
int adoption_main(int argc, char **argv);
int search_main(int argc, char **argv);
int import_main(int argc, char **argv);
int export_main(int argc, char **argv);
int fields_main(int argc, char **argv);

#endif
