/*
 * proto/record.h — signed records: encoding, decoding, signing, verification.
 *
 * A record on the wire and on disk is exactly these bytes (never re-encoded):
 *
 *   record = msgpack [ tbs : bin, sig : bin ]
 *   tbs    = msgpack [ 1, alliance : bin(32), author : bin(32), kind : str,
 *                      key : str, seq : uint, time_ms : uint, flags : uint, body : map ]
 *
 * The signature is made by the author's node key over the bytes of `tbs`.
 * The record hash is SHA-256 of the whole record.  A genesis record carries
 * an all-zero alliance (it defines the alliance: alliance id = genesis hash).
 *
 * proto does no I/O.  Every decoder here enforces the limits below and
 * rejects trailing bytes, wrong types, over-long fields and deep nesting.
 * All functions are safe to call from several threads at once.
 */
#ifndef PROTO_RECORD_H
#define PROTO_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define PROTO_RECORD_MAX   65536u  /* whole record, bytes */
#define PROTO_KIND_MAX     32u     /* [a-z_] */
#define PROTO_KEY_MAX      256u    /* UTF-8, no NUL */
#define PROTO_BODY_DEPTH   4u      /* nesting of maps/arrays inside body */
#define PROTO_BODY_ITEMS   256u    /* entries in any one map/array */
#define PROTO_FIELD_MAX    16384u  /* any one string or bin inside body */
#define PROTO_SIG_MAX      512u    /* RSA-4096 signature */
#define PROTO_ID_LEN       32u

#define PROTO_FLAG_TOMBSTONE 1u

typedef struct { uint8_t b[PROTO_ID_LEN]; } proto_id;  /* member id, alliance id, hash */

/* A decoded view of a record.  Pointers point into the caller's buffer (or
 * into proto_record's own zone); they live as long as that buffer. */
typedef struct {
    const uint8_t *raw;  size_t raw_len;   /* whole record */
    const uint8_t *tbs;  size_t tbs_len;   /* signed part */
    const uint8_t *sig;  size_t sig_len;
    proto_id alliance, author;
    char kind[PROTO_KIND_MAX + 1];
    char key[PROTO_KEY_MAX + 1];
    uint64_t seq, time_ms;
    uint32_t flags;
    const uint8_t *body; size_t body_len;  /* msgpack map, within tbs */
    /* 1 once the body passed the text rule here (proto_record_decode, or
     * proto_record_check_text): every string in it is text that
     * proto_text_check accepts with PROTO_TEXT_NL.  A kind's validator may
     * then check a text field for no more than what its own rule adds
     * (no line break or tab); 0 (a record decoded otherwise, or built by
     * hand) leaves it the whole walk. */
    int text_checked;
} proto_record;

/* A body under construction: an ordered list of string fields and values
 * (strings, integers, booleans, nested string arrays via proto_body_strs). */
typedef struct proto_body proto_body;
proto_body *proto_body_new(void);
void proto_body_free(proto_body *b);
int  proto_body_str(proto_body *b, const char *field, const char *val);
/* proto_body_str for a value that has passed proto_text_check already,
 * with PROTO_TEXT_NL or stricter (a schema text field's converter): the
 * same result without walking the value a second time. */
int  proto_body_str_checked(proto_body *b, const char *field, const char *val);
/* A body that packs nothing: every proto_body_* call succeeds or fails
 * exactly as on a real body (the same checks, in the same order), but the
 * bytes are dropped; it cannot be encoded or signed.  For a check that
 * must refuse what building the body would refuse. */
proto_body *proto_body_new_dry(void);
int  proto_body_bin(proto_body *b, const char *field, const void *val, size_t len);
int  proto_body_int(proto_body *b, const char *field, int64_t val);
int  proto_body_strs(proto_body *b, const char *field, const char *const *vals, size_t n);

/* The body's msgpack map — the bytes a record signed with it holds as its
 * body — into *out (malloc'd, *len bytes).  0, or -1 (a failed body, or no
 * memory).  A proto_record with only body and body_len set to these bytes
 * may be read with the proto_body_get_* functions below. */
int proto_body_encode(const proto_body *b, uint8_t **out, size_t *len);

/* Encode and sign.  On success *out is a malloc'd record of *out_len bytes. */
int proto_record_sign(const proto_id *alliance, const proto_id *author,
                      const char *kind, const char *key, uint64_t seq,
                      uint64_t time_ms, uint32_t flags, const proto_body *body,
                      EVP_PKEY *key_priv, uint8_t **out, size_t *out_len,
                      char *err, size_t errlen);

/* Strictly decode `buf` into `r` (no signature check).  0 or -1 with err.
 * Besides the structure, the text rule of proto/text.h: the key holds no
 * control or bidi character, body strings none but \n and \t, field names
 * none.  Every record that arrives (from a peer, or written here) is
 * decoded so. */
int proto_record_decode(const uint8_t *buf, size_t len, proto_record *r,
                        char *err, size_t errlen);
/* The same without the text rule (only what keys and strings had to be
 * before it: UTF-8, no C0 in keys), for reading back what this node holds:
 * a record stored before the rule stays readable, and whoever shows it
 * escapes it (proto_text_escape).  Never for records that arrive. */
int proto_record_decode_stored(const uint8_t *buf, size_t len, proto_record *r,
                               char *err, size_t errlen);

/* decode_stored without looking into the body: r->body spans the rest of
 * the signed part, which may be anything (it is a map, no more is known).
 * What triage needs (author, seq, kind, key, alliance) costs a fraction of
 * a full decode; proto_record_check_text then checks the body completely.
 * Never read the body of a record decoded so before that check. */
int proto_record_decode_header(const uint8_t *buf, size_t len, proto_record *r,
                               char *err, size_t errlen);

/* The text rule, and the body's structure, on a record proto_record_decode_stored
 * or proto_record_decode_header decoded: 0, or -1 with err.  Either of them
 * + check_text accepts exactly what proto_record_decode accepts; ingest
 * splits them so that the body's checks run on the thread pool with the
 * signature check, not on the loop. */
int proto_record_check_text(proto_record *r, char *err, size_t errlen);   /* sets r->text_checked */

/* Verify r's signature under `pub`.  0 good, -1 bad (err says why). */
int proto_record_verify(const proto_record *r, EVP_PKEY *pub, char *err, size_t errlen);

/* SHA-256 of the record bytes. */
void proto_record_hash(const uint8_t *buf, size_t len, proto_id *out);

/* Body access: look up a top-level field of the body map.  Returns 0 and
 * sets the out-params when the field exists with the right type, -1 if absent
 * or of another type.  Strings are not NUL-terminated: use *len. */
int proto_body_get_str(const proto_record *r, const char *field,
                       const char **val, size_t *len);
int proto_body_get_bin(const proto_record *r, const char *field,
                       const uint8_t **val, size_t *len);
int proto_body_get_int(const proto_record *r, const char *field, int64_t *val);
/* Copy a string field into a NUL-terminated buffer; -1 if absent, wrong type or too long. */
int proto_body_copy_str(const proto_record *r, const char *field, char *out, size_t outlen);

/* Iterate the body's top-level fields in order.  `cb` gets each field name
 * and its value rendered as text (strings as is, ints in decimal, arrays of
 * strings joined with ", ", bin as hex); return non-zero from cb to stop. */
typedef int (*proto_body_cb)(void *ctx, const char *field, size_t flen,
                             const char *text, size_t tlen);
int proto_body_foreach(const proto_record *r, proto_body_cb cb, void *ctx);

/* Kind names: lowercase ASCII letters and '_', 1..PROTO_KIND_MAX. */
int proto_kind_valid(const char *kind);

#endif
