/*
 * store/backup.h — a node's backup: what `catalogctl backup` writes (through
 * the daemon) and `catalogctl restore` brings back.
 *
 * A backup is a directory, not one archive file, so that restoring needs no
 * parser of our own (an archive format read back from disk would be one
 * more parser of outside input), every file keeps its own mode, and the
 * LMDB copy can be checked with LMDB's own tools (mdb_stat, mdb_dump):
 *
 *   PATH/            mode 0700
 *     db/data.mdb    the compacted LMDB environment (mdb_env_copyfd2, MDB_CP_COMPACT)
 *     node.key       the node's private key (PEM)
 *     node.crt       its certificate
 *     catalogd.conf  the settings, if the data directory had them (a link's target)
 *
 * every file mode 0600: the backup holds the private key.
 */
#ifndef STORE_BACKUP_H
#define STORE_BACKUP_H

#include <stddef.h>
#include <stdint.h>
#include "store/store.h"

/* Write a backup of the node in data_dir (its store s open) to path, which
 * must not exist yet.  Runs on any thread (store_backup_fd); blocks for the
 * copy.  *bytes gets the size of the copied store.  On failure what was
 * written is removed.  0, or -1 with err. */
int backup_write(store *s, const char *data_dir, const char *path, uint64_t *bytes,
                 char *err, size_t errlen);

/* Restore the backup at path into data_dir, with no daemon running on it.
 * data_dir is created (0700) if absent; one that holds anything is refused
 * unless force (then the node's files are replaced; an existing
 * catalogd.conf is kept).  The backup's key must be the one its store is
 * bound to, checked before data_dir is touched.  *self gets the member id.
 * 0, or -1 with err. */
int backup_restore(const char *path, const char *data_dir, int force, proto_id *self,
                   char *err, size_t errlen);

#endif
