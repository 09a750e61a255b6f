/* cli/webuser.c — catalogctl web-user add|remove|list: the web view's users
 * file (web_users_file; docs/OPERATIONS.md "Web view").
 *
 * The file is `name:hash` lines, the hash from crypt(3) (yescrypt, else
 * SHA-512 crypt).  It is rewritten whole into a temporary file beside it
 * and renamed over it (mode 0640, the old file's owner and group kept), so
 * catalogd, which reads it again when it changes, never sees half of it.
 * The daemon need not run: this verb only edits the file.
 *
 * The file is --file PATH, else web_users_file from DIR/catalogd.conf,
 * else DIR/web-users. */
#include "cli/client.h"
#include "cli/verbs.h"
#include "proto/limits.h"
#include "proto/text.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define V "web-user"
/* The shortest password taken: a guess per second per address (the
 * daemon's limit) still leaves 8 bytes far out of reach. */
#define PASSWORD_MIN 8

static int usage(void);

/* ---- the file's path ---- */

typedef struct {
    char path[1024];
} conf_path;

static int conf_handler(void *user, const char *section, const char *name, const char *value)
{
    conf_path *c = user;
    if ((!section[0] || !strcmp(section, "catalogd")) && !strcmp(name, "web_users_file"))
        snprintf(c->path, sizeof c->path, "%s", value);
    return 1;
}

static void users_path(const client_opts *o, const char *file, char *out, size_t n)
{
    if (file) {
        snprintf(out, n, "%s", file);
        return;
    }
    char conf[1100];
    conf_path c = { "" };
    snprintf(conf, sizeof conf, "%s/catalogd.conf", client_data_dir(o));
    ini_parse(conf, conf_handler, &c);   /* a missing or bad file: the default */
    if (c.path[0])
        snprintf(out, n, "%s", c.path);
    else
        snprintf(out, n, "%s/web-users", client_data_dir(o));
}

/* NAME [--file PATH] (NAME optional for list). */
static int args(client_opts *o, int argc, char **argv, const char **name, const char **file)
{
    *name = *file = NULL;
    for (int i = 2; i < argc; i++) {
        if (client_common_opt(o, argc, argv, &i))
            continue;
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            *file = argv[++i];
        else if (!strncmp(argv[i], "--file=", 7))
            *file = argv[i] + 7;
        else if (!*name && argv[i][0] != '-')
            *name = argv[i];
        else
            return -1;
    }
    return 0;
}

/* The daemon's rule (daemon/web_auth.c): 1..64 bytes of UTF-8 text, no
 * control characters, no ':'. */
static int name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= NODE_WEB_USER_MAX && !strchr(s, ':') && proto_text_check(s, n, 0, NULL) == 0;
}

/* ---- the file ---- */

typedef struct {
    char **lines;     /* as read, without the newline */
    size_t n;
    int exists;
    struct stat st;
} users_file;

static void file_free(users_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->lines[i]);
    free(f->lines);
}

static int file_read(const char *path, users_file *f)
{
    memset(f, 0, sizeof *f);
    FILE *in = fopen(path, "r");
    if (!in) {
        if (errno == ENOENT)
            return 0;
        client_errorf("%s を開けません: %s", path, strerror(errno));
        return -1;
    }
    f->exists = 1;
    fstat(fileno(in), &f->st);
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) >= 0) {
        total += (size_t)len;
        if (total > NODE_WEB_USERS_FILE_MAX) {
            client_errorf("%s が大きすぎます（上限 %u バイト）", path, NODE_WEB_USERS_FILE_MAX);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char **g = realloc(f->lines, (f->n + 1) * sizeof *g);
        if (!g || !(g[f->n] = strdup(line))) {
            f->lines = g ? g : f->lines;
            client_errorf("out of memory");
            break;
        }
        f->lines = g;
        f->n++;
    }
    int bad = ferror(in) || total > NODE_WEB_USERS_FILE_MAX || len >= 0;
    free(line);
    fclose(in);
    if (bad) {
        file_free(f);
        return -1;
    }
    return 0;
}

/* The line of name, or -1. */
static ssize_t file_find(const users_file *f, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < f->n; i++)
        if (f->lines[i][0] != '#' && !strncmp(f->lines[i], name, nl) && f->lines[i][nl] == ':')
            return (ssize_t)i;
    return -1;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Temp file beside it, synced, renamed over it, the directory synced. */
static int file_write(const char *path, const users_file *f)
{
    char tmp[1100], dir[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        client_errorf("%s を書けません: %s", tmp, strerror(errno));
        return -1;
    }
    int rc = fchmod(fd, 0640);
    /* the daemon's user reads it: keep the owner and group an administrator gave it */
    if (f->exists && fchown(fd, f->st.st_uid, f->st.st_gid))
        (void)0;   /* not root: the file stays ours */
    for (size_t i = 0; i < f->n && rc == 0; i++)
        if (write_all(fd, f->lines[i], strlen(f->lines[i])) || write_all(fd, "\n", 1))
            rc = -1;
    if (rc == 0)
        rc = fsync(fd);
    if (close(fd))
        rc = -1;
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc) {
        client_errorf("%s を書けません: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ---- the password ---- */

/* One line from fd 0 without its newline; -1 at end of input or when too
 * long. */
static int read_line(char *buf, size_t n)
{
    size_t len = 0;
    for (;;) {
        char ch;
        ssize_t r = read(STDIN_FILENO, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return len ? 0 : -1;
        if (ch == '\n')
            break;
        if (len + 1 >= n) {
            while (read(STDIN_FILENO, &ch, 1) == 1 && ch != '\n')
                ;
            explicit_bzero(buf, n);
            return -2;
        }
        buf[len++] = ch;
    }
    if (len && buf[len - 1] == '\r')
        len--;
    buf[len] = 0;
    return 0;
}

static int prompt(const char *what, char *buf, size_t n)
{
    struct termios old, quiet;
    fprintf(stderr, "%s", what);
    fflush(stderr);
    int echo_off = tcgetattr(STDIN_FILENO, &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        quiet.c_lflag |= ECHONL;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int rc = read_line(buf, n);
    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return rc;
}

/* From the terminal, twice, without echo; or one line of stdin. */
static int get_password(char *pw, size_t n)
{
    int rc;
    if (isatty(STDIN_FILENO)) {
        char again[NODE_WEB_PASSWORD_MAX + 2];
        rc = prompt("パスワード: ", pw, n);
        if (rc == 0) {
            rc = prompt("もう一度: ", again, sizeof again);
            if (rc == 0 && strcmp(pw, again)) {
                client_errorf("web-user: 2 回のパスワードが一致しません");
                rc = -3;
            }
        }
        explicit_bzero(again, sizeof again);
    } else {
        rc = read_line(pw, n);
    }
    if (rc == -1)
        client_errorf("web-user: パスワードがありません（端末で入力するか、標準入力に 1 行で渡してください）");
    else if (rc == -2)
        client_errorf("web-user: パスワードが長すぎます（上限 %u バイト）", NODE_WEB_PASSWORD_MAX);
    if (rc)
        return -1;
    size_t len = strlen(pw);
    if (len < PASSWORD_MIN) {
        client_errorf("web-user: パスワードは %d バイト以上にしてください", PASSWORD_MIN);
        return -1;
    }
    if (proto_text_check(pw, len, 0, NULL)) {
        client_errorf("web-user: パスワードに制御文字や UTF-8 でない文字は使えません");
        return -1;
    }
    return 0;
}

/* yescrypt at its default cost, SHA-512 crypt where yescrypt is missing. */
static int hash_password(const char *pw, char *out, size_t n)
{
    static struct crypt_data cd;   /* 32 KiB: off the stack */
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    const char *h = NULL;
    if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt) ||
        crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof salt))
        h = crypt_rn(pw, salt, &cd, (int)sizeof cd);
    int rc = -1;
    if (h && h[0] == '$' && strlen(h) <= NODE_WEB_HASH_MAX && strlen(h) < n) {
        snprintf(out, n, "%s", h);
        rc = 0;
    }
    explicit_bzero(&cd, sizeof cd);
    if (rc)
        client_errorf("web-user: パスワードのハッシュを作れません（crypt(3)）");
    return rc;
}

/* ---- the sub-verbs ---- */

static int add(client_opts *o, int argc, char **argv)
{
    const char *name, *file;
    if (args(o, argc, argv, &name, &file) || !name)
        return usage();
    if (!name_ok(name)) {
        client_usage_error(V, "利用者名は 1〜%u バイトで、「:」や制御文字を含まないものにしてください",
                           NODE_WEB_USER_MAX);
        return CLIENT_USAGE;
    }
    char path[1024];
    users_path(o, file, path, sizeof path);
    users_file f;
    if (file_read(path, &f))
        return CLIENT_FAIL;
    char pw[NODE_WEB_PASSWORD_MAX + 2], hash[NODE_WEB_HASH_MAX + 1];
    int rc = get_password(pw, sizeof pw) || hash_password(pw, hash, sizeof hash) ? -1 : 0;
    explicit_bzero(pw, sizeof pw);
    if (rc) {
        file_free(&f);
        return CLIENT_FAIL;
    }
    size_t ll = strlen(name) + 1 + strlen(hash) + 1;
    char *line = malloc(ll);
    ssize_t at = file_find(&f, name);
    char **g = at < 0 ? realloc(f.lines, (f.n + 1) * sizeof *g) : f.lines;
    if (!line || !g) {
        free(line);
        file_free(&f);
        client_errorf("out of memory");
        return CLIENT_FAIL;
    }
    snprintf(line, ll, "%s:%s", name, hash);
    f.lines = g;
    if (at < 0) {
        f.lines[f.n++] = line;
    } else {
        free(f.lines[at]);
        f.lines[at] = line;
    }
    rc = file_write(path, &f);
    file_free(&f);
    if (rc)
        return CLIENT_FAIL;
    printf(at < 0 ? "利用者 %s を登録しました（%s）\n" : "利用者 %s のパスワードを変えました（%s）\n", name, path);
    return CLIENT_OK;
}

static int remove_user(client_opts *o, int argc, char **argv)
{
    const char *name, *file;
    if (args(o, argc, argv, &name, &file) || !name)
        return usage();
    char path[1024];
    users_path(o, file, path, sizeof path);
    users_file f;
    if (file_read(path, &f))
        return CLIENT_FAIL;
    ssize_t at = file_find(&f, name);
    if (at < 0) {
        file_free(&f);
        client_errorf("web-user: 利用者 %s は %s に登録されていません", name, path);
        return CLIENT_FAIL;
    }
    free(f.lines[at]);
    memmove(&f.lines[at], &f.lines[at + 1], (f.n - (size_t)at - 1) * sizeof *f.lines);
    f.n--;
    int rc = file_write(path, &f);
    file_free(&f);
    if (rc)
        return CLIENT_FAIL;
    printf("利用者 %s を削除しました（%s）\n", name, path);
    return CLIENT_OK;
}

static const char *scheme(const char *hash)
{
    if (!strncmp(hash, "$y$", 3))
        return "yescrypt";
    if (!strncmp(hash, "$6$", 3))
        return "SHA-512";
    if (!strncmp(hash, "$2b$", 4) || !strncmp(hash, "$2y$", 4))
        return "bcrypt";
    return "その他";
}

static int list(client_opts *o, int argc, char **argv)
{
    const char *name, *file;
    if (args(o, argc, argv, &name, &file) || name)
        return usage();
    char path[1024];
    users_path(o, file, path, sizeof path);
    users_file f;
    if (file_read(path, &f))
        return CLIENT_FAIL;
    static const char *hdr[] = { "利用者名", "方式" };
    client_table *t = o->json ? NULL : client_table_new(2, hdr);
    size_t shown = 0;
    if (o->json)
        printf("[");
    for (size_t i = 0; i < f.n; i++) {
        char *c = strchr(f.lines[i], ':');
        if (f.lines[i][0] == '#' || !c)
            continue;
        *c = 0;
        if (o->json) {
            printf("%s{", shown ? "," : "");
            client_json_kv_str(stdout, "name", f.lines[i], 1);
            client_json_kv_str(stdout, "scheme", scheme(c + 1), 0);
            printf("}");
        } else {
            const char *row[] = { f.lines[i], scheme(c + 1) };
            client_table_row(t, row);
        }
        shown++;
    }
    if (o->json) {
        printf("]\n");
    } else {
        if (shown)
            client_table_print(t, stdout);
        else
            printf("登録された利用者はいません（%s）\n", path);
        client_table_free(t);
    }
    file_free(&f);
    return CLIENT_OK;
}

static const client_subverb subs[] = {
    { "add", add, "利用者名 [--file PATH]",
      "利用者を登録します（登録済みならパスワードを変えます）。パスワードは端末から 2 回、"
      "端末でなければ標準入力から 1 行で読みます" },
    { "remove", remove_user, "利用者名 [--file PATH]", "利用者を削除します" },
    { "list", list, "[--file PATH] [--json]", "登録された利用者の一覧" },
};

const client_subverbs webuser_verb = {
    V, subs, sizeof subs / sizeof subs[0],
    "PATH の既定: DIR/catalogd.conf の web_users_file、なければ DIR/web-users。"
    "catalogd は変更を 1 秒ほどで読み直します（再起動は不要）",
    1
};

static int usage(void)
{
    return client_subverbs_usage_error(&webuser_verb);
}
