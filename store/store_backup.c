/*
 * store/store_backup.c — writing and restoring a node's backup (the format
 * is in store/backup.h).
 *
 * Every file is written under a temporary name, synced, then renamed, so a
 * backup or restore cut short never leaves a half-written file under a name
 * catalogd reads.  Files are created 0600 whatever the umask: the backup
 * holds the node's private key.
 */
#include "store/backup.h"
#include "certs/certs.h"
#include "proto/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The files of a node besides its store, in the order they are copied;
 * optional ones may be absent from the data directory. */
static const struct {
    const char *name;
    int optional;
} node_files[] = {
    { "node.crt", 0 },
    { "node.key", 0 },
    { "catalogd.conf", 1 },
};
#define NFILES (sizeof node_files / sizeof node_files[0])

static int join_path(char *buf, size_t n, const char *dir, const char *name, char *err, size_t errlen)
{
    if ((size_t)snprintf(buf, n, "%s/%s", dir, name) >= n)
        return proto_err(err, errlen, "path too long: %s/%s", dir, name);
    return 0;
}

/* Make the directory entries written so far durable. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* A directory of mode 0700: mkdir's mode is narrowed by the umask, never
 * widened, and an odd umask could leave the owner unable to write. */
static int make_dir(const char *dir, int exist_ok, char *err, size_t errlen)
{
    if (mkdir(dir, 0700)) {
        if (errno == EEXIST && exist_ok)
            return 0;
        return proto_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    }
    if (chmod(dir, 0700))
        return proto_err(err, errlen, "%s: %s", dir, strerror(errno));
    return 0;
}

/* Open dst's temporary file, mode 0600. */
static int open_tmp(const char *dst, char *tmp, size_t n, char *err, size_t errlen)
{
    if ((size_t)snprintf(tmp, n, "%s.tmp", dst) >= n)
        return proto_err(err, errlen, "path too long: %s", dst);
    unlink(tmp);   /* left by an earlier attempt cut short */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600)) {
        proto_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return -1;
    }
    return fd;
}

/* Sync and close fd, then give tmp its name dst. */
static int finish_tmp(int fd, const char *tmp, const char *dst, char *err, size_t errlen)
{
    if (fsync(fd)) {
        proto_err(err, errlen, "writing %s: %s", dst, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) || rename(tmp, dst)) {
        proto_err(err, errlen, "writing %s: %s", dst, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Copy src to dst (mode 0600).  1 if src does not exist and optional. */
static int copy_file(const char *src, const char *dst, int optional, char *err, size_t errlen)
{
    char tmp[4200], buf[65536];
    int in = open(src, O_RDONLY | O_CLOEXEC);   /* follows a link: catalogd.conf may be one */
    if (in < 0) {
        if (errno == ENOENT && optional)
            return 1;
        return proto_err(err, errlen, "cannot read %s: %s", src, strerror(errno));
    }
    int out = open_tmp(dst, tmp, sizeof tmp, err, errlen);
    if (out < 0) {
        close(in);
        return -1;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            proto_err(err, errlen, "reading %s: %s", src, strerror(errno));
            goto fail;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                proto_err(err, errlen, "writing %s: %s", dst, strerror(errno));
                goto fail;
            }
            off += w;
        }
    }
    close(in);
    return finish_tmp(out, tmp, dst, err, errlen);
fail:
    close(in);
    close(out);
    unlink(tmp);
    return -1;
}

/* ---- backup ---- */

/* Remove what backup_write made of path: only the files it writes, so a
 * path that turned out to be something else is never emptied. */
static void backup_remove(const char *path)
{
    char p[4200];
    for (size_t i = 0; i < NFILES; i++) {
        snprintf(p, sizeof p, "%s/%s", path, node_files[i].name);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s.tmp", path, node_files[i].name);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/db/data.mdb", path);
    unlink(p);
    snprintf(p, sizeof p, "%s/db/data.mdb.tmp", path);
    unlink(p);
    snprintf(p, sizeof p, "%s/db", path);
    rmdir(p);
    rmdir(path);
}

int backup_write(store *s, const char *data_dir, const char *path, uint64_t *bytes,
                 char *err, size_t errlen)
{
    char db[4200], dst[4200], tmp[4200], src[4200];
    struct stat st;
    if (path[0] != '/')
        return proto_err(err, errlen, "backup path must be absolute: %s", path);
    if (lstat(path, &st) == 0)
        return proto_err(err, errlen, "%s exists already; a backup goes to a new path", path);
    if (make_dir(path, 0, err, errlen))
        return -1;
    if (join_path(db, sizeof db, path, "db", err, errlen) || make_dir(db, 0, err, errlen) ||
        join_path(dst, sizeof dst, db, "data.mdb", err, errlen))
        goto fail;
    int fd = open_tmp(dst, tmp, sizeof tmp, err, errlen);
    if (fd < 0)
        goto fail;
    if (store_backup_fd(s, fd, err, errlen) ||
        (fstat(fd, &st) && proto_err(err, errlen, "%s: %s", dst, strerror(errno)))) {
        close(fd);
        unlink(tmp);
        goto fail;
    }
    *bytes = (uint64_t)st.st_size;
    if (finish_tmp(fd, tmp, dst, err, errlen))
        goto fail;
    sync_dir(db);
    for (size_t i = 0; i < NFILES; i++) {
        if (join_path(src, sizeof src, data_dir, node_files[i].name, err, errlen) ||
            join_path(dst, sizeof dst, path, node_files[i].name, err, errlen) ||
            copy_file(src, dst, node_files[i].optional, err, errlen) < 0)
            goto fail;
    }
    sync_dir(path);
    return 0;
fail:
    backup_remove(path);
    return -1;
}

/* ---- restore ---- */

/* 1 if dir holds any entry, 0 if empty, -1 with err. */
static int dir_used(const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int used = 0;
    if (!d)
        return proto_err(err, errlen, "%s: %s", dir, strerror(errno));
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            used = 1;
            break;
        }
    closedir(d);
    return used;
}

/* The backup at path is whole and its key is the one its store is bound to. */
static int backup_check(const char *path, proto_id *self, char *err, size_t errlen)
{
    char p[4200];
    struct stat st;
    proto_id bound;
    certs_identity id;
    if (join_path(p, sizeof p, path, "db/data.mdb", err, errlen))
        return -1;
    if (stat(p, &st) || !S_ISREG(st.st_mode))
        return proto_err(err, errlen, "%s is not a catalogd backup (no db/data.mdb)", path);
    if (certs_load(path, &id, err, errlen))
        return -1;
    *self = id.id;
    certs_free(&id);
    if (join_path(p, sizeof p, path, "db", err, errlen))
        return -1;
    int rc = store_peek_self(p, &bound, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 1)
        return proto_err(err, errlen, "%s: the store in the backup is bound to no node key", path);
    proto_id owner;
    /* after a key rotation node.key is a key the store names for its member */
    if (memcmp(&bound, self, sizeof bound) && store_peek_key_owner(p, self, &owner, err, errlen) == 0 &&
        !memcmp(&owner, &bound, sizeof bound))
        *self = bound;
    if (memcmp(&bound, self, sizeof bound)) {
        char a[PROTO_ID_STR], b[PROTO_ID_STR];
        proto_id_str(self, a);
        proto_id_str(&bound, b);
        return proto_err(err, errlen, "%s: node.key is member %s but the store belongs to %s", path, a, b);
    }
    return 0;
}

int backup_restore(const char *path, const char *data_dir, int force, proto_id *self,
                   char *err, size_t errlen)
{
    char p[4200], src[4200], dst[4200];
    int lockfd = -1, rc = -1;
    struct stat st;
    store *s = NULL;
    if (backup_check(path, self, err, errlen))
        return -1;
    if (mkdir(data_dir, 0700) == 0) {
        if (chmod(data_dir, 0700))
            return proto_err(err, errlen, "%s: %s", data_dir, strerror(errno));
    } else if (errno != EEXIST) {
        return proto_err(err, errlen, "cannot create %s: %s", data_dir, strerror(errno));
    } else if (stat(data_dir, &st) || !S_ISDIR(st.st_mode)) {
        return proto_err(err, errlen, "%s is not a directory", data_dir);
    } else {
        int used = dir_used(data_dir, err, errlen);
        if (used < 0)
            return -1;
        if (used && !force)
            return proto_err(err, errlen, "%s is not empty (a node may live there); restore into an empty "
                             "or new directory, or give --force to replace its node", data_dir);
    }
    /* The daemon's own lock (daemon/main.c), held while the files are
     * replaced: a catalogd running on data_dir is refused, even with
     * --force, and none can start half-way through. */
    if (join_path(p, sizeof p, data_dir, "catalogd.lock", err, errlen))
        return -1;
    lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0)
        return proto_err(err, errlen, "%s: %s", p, strerror(errno));
    if (flock(lockfd, LOCK_EX | LOCK_NB)) {
        proto_err(err, errlen, "a catalogd is running on %s; stop it first", data_dir);
        goto out;
    }
    if (join_path(p, sizeof p, data_dir, "db", err, errlen) || make_dir(p, 1, err, errlen) ||
        join_path(src, sizeof src, path, "db/data.mdb", err, errlen) ||
        join_path(dst, sizeof dst, p, "data.mdb", err, errlen) ||
        copy_file(src, dst, 0, err, errlen))
        goto out;
    /* The old environment's reader table means nothing to the new file;
     * LMDB makes a fresh one. */
    if (join_path(dst, sizeof dst, p, "lock.mdb", err, errlen))
        goto out;
    unlink(dst);
    sync_dir(p);
    for (size_t i = 0; i < NFILES; i++) {
        if (join_path(src, sizeof src, path, node_files[i].name, err, errlen) ||
            join_path(dst, sizeof dst, data_dir, node_files[i].name, err, errlen))
            goto out;
        /* settings already there (under the service, a link to /etc) are
         * the machine's, not the backup's */
        if (node_files[i].optional && lstat(dst, &st) == 0)
            continue;
        if (copy_file(src, dst, node_files[i].optional, err, errlen) < 0)
            goto out;
    }
    sync_dir(data_dir);
    /* What catalogd does at start: the store opens with this program's
     * schema and is bound to the restored key. */
    if (store_open(p, 0, &s, err, errlen) || store_bind_self(s, self, err, errlen))
        goto out;
    rc = 0;
out:
    store_close(s);
    close(lockfd);
    return rc;
}
