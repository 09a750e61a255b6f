/* certs/certs.c — see certs.h. */
#include "certs/certs.h"
#include "catalog/jp.h"
#include "proto/text.h"
#include "proto/util.h"

#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ec.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int ssl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return proto_err(err, errlen, "%s%s%s", what, e ? ": " : "", buf);
}

int certs_key_id(EVP_PKEY *key, proto_id *out)
{
    uint8_t *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    if (n <= 0)
        return -1;
    SHA256(der, (size_t)n, out->b);
    OPENSSL_free(der);
    return 0;
}

static EVP_PKEY *keygen(const char *type, char *err, size_t errlen)
{
    EVP_PKEY *k = NULL;
    if (!strcmp(type, "ed25519"))
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else if (!strcmp(type, "p256"))
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (!strcmp(type, "rsa"))
        k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else {
        proto_err(err, errlen, "unknown key type '%s' (ed25519, p256 or rsa)", type);
        return NULL;
    }
    if (!k)
        ssl_err(err, errlen, "key generation failed");
    return k;
}

/* Self-signed: the certificate only carries the key and who claims it; trust
 * comes from membership records, never from the issuer. */
static X509 *make_cert(EVP_PKEY *k, const char *code, const char *name, char *err, size_t errlen)
{
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    uint8_t serial[16];
    BIGNUM *bn = NULL;
    if (!x || !n || RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_set_version(x, 2) ||
        !X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8, (const uint8_t *)"JP", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(n, "serialNumber", MBSTRING_UTF8, (const uint8_t *)code, -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const uint8_t *)name, -1, -1, 0) ||
        !X509_set_subject_name(x, n) || !X509_set_issuer_name(x, n) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 86400) ||
        !X509_set_pubkey(x, k))
        goto fail;
    /* Ed25519 signs without a separate digest. */
    if (!X509_sign(x, k, EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()))
        goto fail;
    BN_free(bn);
    X509_NAME_free(n);
    return x;
fail:
    ssl_err(err, errlen, "certificate creation failed");
    BN_free(bn);
    X509_NAME_free(n);
    X509_free(x);
    return NULL;
}

static char *path_in(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

static int mkdirs(const char *dir)
{
    char buf[4096];
    size_t n = strlen(dir);
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0700) && errno != EEXIST)
                return -1;
            buf[i] = c;
        }
    }
    return 0;
}

/* A municipality name is shown in every member list, log line and
 * export: no control or bidi characters (proto/text.h says why).  The
 * message quotes the name escaped, so it is safe wherever it goes. */
static int name_check(const char *what, const char *name, char *err, size_t errlen)
{
    int32_t bad;
    char esc[PROTO_TEXT_ESC_MAX(64)];
    if (proto_text_check(name, strlen(name), 0, &bad) == 0)
        return 0;
    proto_text_esc(name, esc, sizeof esc);
    if (bad < 0)
        return proto_err(err, errlen, "%s is not valid UTF-8: \"%s\"", what, esc);
    return proto_err(err, errlen, "%s has a %s character U+%04X (refused: terminals and logs would obey it): \"%s\"",
                     what, bad >= 0x2000 ? "bidi control" : "control", (unsigned)bad, esc);
}

int certs_init(const char *dir, const char *code, const char *name, const char *key_type,
               char *err, size_t errlen)
{
    char why[128];
    if (jp_municipality_code_valid(code, why, sizeof why))
        return proto_err(err, errlen, "invalid municipality code: %s", why);
    size_t nl = strlen(name);
    if (nl == 0 || nl > 120 || !proto_utf8_valid(name, nl))
        return proto_err(err, errlen, "municipality name must be 1..120 bytes of UTF-8");
    if (name_check("municipality name", name, err, errlen))
        return -1;
    if (mkdirs(dir))
        return proto_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    char *kp = path_in(dir, "node.key"), *cp = path_in(dir, "node.crt");
    EVP_PKEY *k = NULL;
    X509 *x = NULL;
    FILE *f = NULL;
    int fd = -1, rc = -1;
    if (!kp || !cp) {
        proto_err(err, errlen, "out of memory");
        goto out;
    }
    if (access(kp, F_OK) == 0) {
        proto_err(err, errlen, "%s already exists: this directory holds an identity; "
                  "refusing to overwrite it", kp);
        goto out;
    }
    if (!(k = keygen(key_type, err, errlen)) || !(x = make_cert(k, code, name, err, errlen)))
        goto out;
    /* O_EXCL: two concurrent inits cannot both write a key. */
    fd = open(kp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        proto_err(err, errlen, "cannot create %s: %s", kp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (!PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) || fflush(f) || fsync(fileno(f))) {
        ssl_err(err, errlen, "writing node key");
        goto out;
    }
    fclose(f);
    f = fopen(cp, "w");
    if (!f || !PEM_write_X509(f, x) || fflush(f)) {
        proto_err(err, errlen, "cannot write %s", cp);
        goto out;
    }
    rc = 0;
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (rc && kp && k && access(cp, F_OK) != 0)
        unlink(kp);   /* no half-made identity left behind */
    EVP_PKEY_free(k);
    X509_free(x);
    free(kp);
    free(cp);
    return rc;
}

static int subject_field(X509 *x, int nid, char *out, size_t outlen)
{
    X509_NAME *n = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(n, nid, -1);
    if (i < 0)
        return -1;
    ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i));
    unsigned char *u = NULL;
    int l = ASN1_STRING_to_UTF8(&u, s);
    if (l < 0 || (size_t)l >= outlen || !proto_utf8_valid((char *)u, (size_t)l)) {
        OPENSSL_free(u);
        return -1;
    }
    memcpy(out, u, (size_t)l);
    out[l] = 0;
    OPENSSL_free(u);
    return 0;
}

static int fill_from_cert(X509 *x, certs_identity *out, char *err, size_t errlen)
{
    EVP_PKEY *pub = X509_get0_pubkey(x);
    if (!pub || certs_key_id(pub, &out->id))
        return proto_err(err, errlen, "certificate has no usable public key");
    out->key_id = out->id;   /* a rotated identity keeps the member id in id (daemon/rotate.c) */
    int t = EVP_PKEY_get_base_id(pub);
    if (t == EVP_PKEY_RSA && EVP_PKEY_get_bits(pub) < 2048)
        return proto_err(err, errlen, "RSA keys must have at least 2048 bits");
    if (t != EVP_PKEY_ED25519 && t != EVP_PKEY_RSA && t != EVP_PKEY_EC)
        return proto_err(err, errlen, "certificate key type not accepted (Ed25519, ECDSA P-256, RSA)");
    if (t == EVP_PKEY_EC) {
        char grp[32];
        if (!EVP_PKEY_get_utf8_string_param(pub, "group", grp, sizeof grp, NULL) ||
            strcmp(grp, "prime256v1"))
            return proto_err(err, errlen, "only the P-256 curve is accepted for ECDSA keys");
    }
    if (subject_field(x, NID_serialNumber, out->code, sizeof out->code) ||
        jp_municipality_code_valid(out->code, NULL, 0))
        return proto_err(err, errlen, "certificate subject lacks a valid municipality code (serialNumber)");
    if (subject_field(x, NID_commonName, out->name, sizeof out->name))
        return proto_err(err, errlen, "certificate subject lacks the municipality name (CN)");
    if (name_check("certificate's municipality name (CN)", out->name, err, errlen))
        return -1;
    int n = i2d_X509(x, &out->der);
    if (n <= 0)
        return proto_err(err, errlen, "cannot encode certificate");
    out->der_len = (size_t)n;
    return 0;
}

int certs_parse(const uint8_t *buf, size_t len, certs_identity *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    X509 *x = NULL;
    if (len > 16 && memmem(buf, len, "-----BEGIN", 10)) {
        BIO *b = BIO_new_mem_buf(buf, (int)len);
        x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
    } else {
        const uint8_t *p = buf;
        x = d2i_X509(NULL, &p, (long)len);
        if (x && p != buf + len) {
            X509_free(x);
            x = NULL;
        }
    }
    if (!x)
        return ssl_err(err, errlen, "not a certificate (PEM or DER expected)");
    out->cert = x;
    if (fill_from_cert(x, out, err, errlen)) {
        certs_free(out);
        return -1;
    }
    return 0;
}

int certs_read_file(const char *path, certs_identity *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return proto_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    int big = !feof(f);
    fclose(f);
    if (big)
        return proto_err(err, errlen, "%s: too large for a certificate", path);
    char why[256];
    if (certs_parse(buf, n, out, why, sizeof why))
        return proto_err(err, errlen, "%s: %s", path, why);
    return 0;
}

int certs_load(const char *dir, certs_identity *out, char *err, size_t errlen)
{
    char *kp = path_in(dir, "node.key"), *cp = path_in(dir, "node.crt");
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!kp || !cp) {
        proto_err(err, errlen, "out of memory");
        goto done;
    }
    struct stat st;
    if (stat(kp, &st)) {
        proto_err(err, errlen, "no node identity in %s (run 'catalogctl init --data %s ...')", dir, dir);
        goto done;
    }
    rc = certs_load_files(kp, cp, out, err, errlen);
done:
    free(kp);
    free(cp);
    return rc;
}

int certs_load_files(const char *kp, const char *cp, certs_identity *out, char *err, size_t errlen)
{
    int rc = -1;
    memset(out, 0, sizeof *out);
    struct stat st;
    if (stat(kp, &st)) {
        proto_err(err, errlen, "cannot read %s: %s", kp, strerror(errno));
        goto done;
    }
    if (st.st_mode & 077) {
        proto_err(err, errlen, "%s is readable by others (mode %o); chmod 600 it", kp,
                  (unsigned)(st.st_mode & 0777));
        goto done;
    }
    if (certs_read_file(cp, out, err, errlen))
        goto done;
    FILE *f = fopen(kp, "r");
    if (!f || !(out->key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
        if (f)
            fclose(f);
        ssl_err(err, errlen, "cannot read node key");
        certs_free(out);
        goto done;
    }
    fclose(f);
    if (EVP_PKEY_eq(out->key, X509_get0_pubkey(out->cert)) != 1) {
        proto_err(err, errlen, "%s does not match %s", kp, cp);
        certs_free(out);
        goto done;
    }
    rc = 0;
done:
    return rc;
}

const char *certs_key_type(EVP_PKEY *k)
{
    switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_ED25519: return "ed25519";
    case EVP_PKEY_EC: return "p256";
    case EVP_PKEY_RSA: return "rsa";
    default: return NULL;
    }
}

int certs_make(const char *code, const char *name, const char *key_type, certs_identity *out,
               char *err, size_t errlen)
{
    char why[128];
    memset(out, 0, sizeof *out);
    if (jp_municipality_code_valid(code, why, sizeof why))
        return proto_err(err, errlen, "invalid municipality code: %s", why);
    EVP_PKEY *k = keygen(key_type, err, errlen);
    X509 *x = k ? make_cert(k, code, name, err, errlen) : NULL;
    if (!x) {
        EVP_PKEY_free(k);
        return -1;
    }
    out->cert = x;
    out->key = k;
    if (fill_from_cert(x, out, err, errlen)) {
        certs_free(out);
        return -1;
    }
    return 0;
}

int certs_write(const certs_identity *id, const char *kp, const char *cp, char *err, size_t errlen)
{
    FILE *f = NULL;
    int fd;
    unlink(kp);   /* a leftover of an attempt that never took effect */
    fd = open(kp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        if (fd >= 0)
            close(fd);
        return proto_err(err, errlen, "cannot create %s: %s", kp, strerror(errno));
    }
    if (!PEM_write_PrivateKey(f, id->key, NULL, NULL, 0, NULL, NULL) || fflush(f) || fsync(fileno(f))) {
        fclose(f);
        unlink(kp);
        return ssl_err(err, errlen, "writing node key");
    }
    fclose(f);
    f = fopen(cp, "w");
    if (!f || !PEM_write_X509(f, id->cert) || fflush(f) || fsync(fileno(f))) {
        if (f)
            fclose(f);
        unlink(kp);
        unlink(cp);
        return proto_err(err, errlen, "cannot write %s", cp);
    }
    fclose(f);
    return 0;
}

void certs_free(certs_identity *id)
{
    EVP_PKEY_free(id->key);
    X509_free(id->cert);
    OPENSSL_free(id->der);
    memset(id, 0, sizeof *id);
}

char *certs_pem(const certs_identity *id)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    if (b && PEM_write_bio_X509(b, id->cert)) {
        long n = BIO_get_mem_data(b, &data);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, data, (size_t)n);
            out[n] = 0;
        }
    }
    BIO_free(b);
    return out;
}
