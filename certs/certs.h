/*
 * certs/certs.h — node identity: key pair, self-signed X.509 certificate,
 * member id, and the files that hold them in a data directory.
 *
 *   DIR/node.key   private key, PEM, mode 0600
 *   DIR/node.crt   certificate, PEM; subject serialNumber = municipality
 *                  code, CN = municipality name (UTF-8)
 *
 * The member id is SHA-256 of the DER SubjectPublicKeyInfo of the key a
 * member was admitted with, so it can be computed from that certificate
 * alone by anyone (see `catalogctl id`).  After a key rotation (catalogd's
 * daemon/rotate.c) the files hold the new key, whose hash is no longer the
 * member id: certs_identity.id is always the hash of the key loaded, and
 * the store says whose key it is (store_key_owner).
 */
#ifndef CERTS_CERTS_H
#define CERTS_CERTS_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "proto/record.h"

typedef struct {
    EVP_PKEY *key;          /* private key (NULL when loaded from a cert only) */
    X509 *cert;
    proto_id id;            /* member id */
    /* the id of the certificate's key (= key's: certs_load checks they
     * match), computed once: `status` names it on every call, and
     * encoding the key for certs_key_id is ~0.1 ms of the loop thread */
    proto_id key_id;
    char code[8];           /* 全国地方公共団体コード */
    char name[192];         /* municipality name */
    uint8_t *der;           /* certificate DER (owned) */
    size_t der_len;
} certs_identity;

/* Create DIR (if needed), a key of `key_type` ("ed25519", "p256", "rsa") and a
 * certificate for CODE/NAME.  Refuses when DIR already holds a key. */
int certs_init(const char *dir, const char *code, const char *name, const char *key_type,
               char *err, size_t errlen);

/* Load DIR/node.key and DIR/node.crt and check they belong together. */
int certs_load(const char *dir, certs_identity *out, char *err, size_t errlen);

/* The same from two named files (a key rotation's new pair, say). */
int certs_load_files(const char *key_path, const char *cert_path, certs_identity *out,
                     char *err, size_t errlen);
/* A new key of key_type and its self-signed certificate for CODE/NAME, in
 * memory (nothing written): for a key rotation. */
int certs_make(const char *code, const char *name, const char *key_type, certs_identity *out,
               char *err, size_t errlen);
/* Write id's key (mode 0600, replacing a leftover at key_path) and
 * certificate, both synced to disk.  0, or -1 with err (nothing left). */
int certs_write(const certs_identity *id, const char *key_path, const char *cert_path,
                char *err, size_t errlen);
/* "ed25519", "p256" or "rsa": the type of k as certs_init names it, or NULL. */
const char *certs_key_type(EVP_PKEY *k);

/* Parse a certificate (PEM text or DER); fills id, code, name, der. */
int certs_parse(const uint8_t *buf, size_t len, certs_identity *out, char *err, size_t errlen);
int certs_read_file(const char *path, certs_identity *out, char *err, size_t errlen);

void certs_free(certs_identity *id);

/* Member id of a public key: SHA-256 of its DER SubjectPublicKeyInfo. */
int certs_key_id(EVP_PKEY *key, proto_id *out);

/* PEM text of a certificate (malloc'd, NUL-terminated). */
char *certs_pem(const certs_identity *id);

#endif
