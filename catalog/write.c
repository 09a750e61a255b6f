/* catalog/write.c — the catalog's write path; see write.h. */
#include "catalog/write.h"
#include "catalog/jp.h"
#include "catalog/ref.h"
#include "proto/util.h"
#include "store/kind.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int catalog_put_mode_parse(const char *s)
{
    if (!s || !strcmp(s, "add"))
        return CATALOG_PUT_ADD;
    if (!strcmp(s, "update"))
        return CATALOG_PUT_UPDATE;
    if (!strcmp(s, "upsert"))
        return CATALOG_PUT_UPSERT;
    if (!strcmp(s, "withdraw"))
        return CATALOG_PUT_WITHDRAW;
    return -1;
}

/* The kind as staff call it, for messages. */
static const char *kind_ja(const char *kind)
{
    if (kind_is(kind, KIND_CERTIFICATION))
        return "認定";
    if (kind_is(kind, KIND_ADOPTION))
        return "導入実績";
    return kind;
}

typedef struct { uint8_t *raw; size_t len; } rec_copy;

static int copy_rec(void *ctx, const uint8_t *rec, size_t len)
{
    rec_copy *c = ctx;
    c->raw = malloc(len);
    if (c->raw) {
        memcpy(c->raw, rec, len);
        c->len = len;
    }
    return 1;
}

/* Who holds (kind, key)?  For the "only its author may change it" message. */
typedef struct { store *st; const char *kind, *key; char who[512]; } owner_find;

static int owner_cb(void *ctx, const store_member *m)
{
    owner_find *o = ctx;
    rec_copy c = { NULL, 0 };
    if (store_get_current(o->st, &m->id, o->kind, o->key, copy_rec, &c) == 0 && c.raw) {
        char ids[PROTO_ID_STR];
        proto_id_str(&m->id, ids);
        snprintf(o->who, sizeof o->who, "%s %s (%s)", m->code, m->name, ids);
        free(c.raw);
        return 1;
    }
    return 0;
}

/* Name/value pairs owning their strings. */
typedef struct { catalog_kv *kv; size_t n, cap; char **owned; size_t nowned; } kv_list;

static int kv_add(kv_list *l, const char *name, size_t nl, const char *val, size_t vl)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        catalog_kv *k = realloc(l->kv, cap * sizeof *k);
        char **o = realloc(l->owned, cap * 2 * sizeof *o);
        if (k) l->kv = k;
        if (o) l->owned = o;
        if (!k || !o)
            return -1;
        l->cap = cap;
    }
    char *nm = strndup(name, nl), *v = strndup(val, vl);
    if (!nm || !v) {
        free(nm);
        free(v);
        return -1;
    }
    l->owned[l->nowned++] = nm;
    l->owned[l->nowned++] = v;
    l->kv[l->n].name = nm;
    l->kv[l->n].value = v;
    l->n++;
    return 0;
}

static void kv_free(kv_list *l)
{
    for (size_t i = 0; i < l->nowned; i++)
        free(l->owned[i]);
    free(l->owned);
    free(l->kv);
}

static int kv_from_body(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    return kv_add(ctx, f, fl, t, tl) ? 1 : 0;
}

/* ---- references (認定=, 依拠した認定=) ---- */

#define REF_BUF (PROTO_ID_STR + PROTO_KEY_MAX + 2)

/* "131059 文京区" for a member, or its short id when it is none. */
static void member_label(store *st, const proto_id *id, char *buf, size_t n)
{
    store_member m;
    if (store_member_get(st, id, &m) == 0)
        snprintf(buf, n, "%s %s", m.code, m.name);
    else
        proto_id_short(id, buf);
}

/* A cited certification, as the store holds it now. */
typedef struct {
    proto_id author;
    char key[PROTO_KEY_MAX + 1];
    char who[256];              /* member_label of the author */
    rec_copy c;
    proto_record r;             /* valid when found */
    int found;                  /* a current record is held (maybe a tombstone) */
    int withdrawn;              /* ... and it is a tombstone */
} cited;

/* Look up the certification a stored reference "MEMBER_ID/KEY" names.
 * 0, or -1 if ref is not of that form. */
static int cited_get(store *st, const char *ref, cited *out)
{
    const char *slash = strchr(ref, '/');
    char idb[PROTO_ID_STR + 8];
    memset(out, 0, sizeof *out);
    if (!slash || (size_t)(slash - ref) >= sizeof idb || strlen(slash + 1) > PROTO_KEY_MAX)
        return -1;
    memcpy(idb, ref, (size_t)(slash - ref));
    idb[slash - ref] = 0;
    if (proto_id_parse(idb, &out->author))
        return -1;
    strcpy(out->key, slash + 1);
    member_label(st, &out->author, out->who, sizeof out->who);
    if (store_get_current(st, &out->author, "certification", out->key, copy_rec, &out->c) == 0 && out->c.raw &&
        proto_record_decode_stored(out->c.raw, out->c.len, &out->r, NULL, 0) == 0) {
        out->found = 1;
        out->withdrawn = (out->r.flags & PROTO_FLAG_TOMBSTONE) != 0;
    }
    return 0;
}

static void cited_free(cited *c)
{
    free(c->c.raw);
    c->c.raw = NULL;
}

static int subject_cb(void *ctx, const char *f, size_t fl, const char *t, size_t tl)
{
    for (size_t i = 0; catalog_subject_fields[i]; i++)
        if (strlen(catalog_subject_fields[i]) == fl && !memcmp(catalog_subject_fields[i], f, fl))
            return kv_add(ctx, f, fl, t, tl) ? 1 : 0;
    return 0;
}

/* The refusal of a reference to a certification not held (or withdrawn). */
static int not_held(const cited *c, const char *label, char *err, size_t errlen)
{
    return proto_err(err, errlen,
                     "%s %s/%s %s。番号と団体を確かめてください（まだ届いていない認定なら "
                     "--allow-unknown で登録できます）",
                     label, c->who, c->key, c->withdrawn ? "は取り下げられています" : "はこのノードにまだありません");
}

/* Move ins's pairs into l at position at (ins is left empty). */
static int kv_splice(kv_list *l, size_t at, kv_list *ins)
{
    size_t n = l->n + ins->n, no = l->nowned + ins->nowned;
    catalog_kv *k = realloc(l->kv, (n ? n : 1) * sizeof *k);
    if (k)
        l->kv = k;
    char **o = k ? realloc(l->owned, (no ? no : 1) * sizeof *o) : NULL;
    if (!o)
        return -1;
    l->owned = o;
    memmove(l->kv + at + ins->n, l->kv + at, (l->n - at) * sizeof *k);
    memcpy(l->kv + at, ins->kv, ins->n * sizeof *k);
    memcpy(l->owned + l->nowned, ins->owned, ins->nowned * sizeof *o);
    l->n = l->cap = n;
    l->nowned = no;
    free(ins->kv);
    free(ins->owned);
    memset(ins, 0, sizeof *ins);
    return 0;
}

/* A derived certification: the subject fields of the certification its
 * given 依拠した認定 (typed, CODE/KEY resolved) cites go into kv at `at`,
 * before the given fields, so that each given field overrides its copy —
 * unless an update names the one the current record already cites (what
 * was changed since the copy stays; an upsert is the whole record, so it
 * is copied again).
 * A new reference to one not held is refused here, before the missing
 * subject fields would be (unless CATALOG_PUT_ALLOW_UNKNOWN).  cur: this
 * member's current record, or NULL.  0, or -1 with err. */
static int copy_subject(store *st, const catalog_put *it, const proto_record *cur, const char *typed,
                        kv_list *kv, size_t at, char *err, size_t errlen)
{
    char ref[REF_BUF], why[256];
    if (catalog_field_canon(it->kind, "derived_from", typed, ref, sizeof ref, why, sizeof why) || !ref[0])
        return 0;                                  /* empty, or not a reference: catalog_build says so */
    cited c;
    char old[REF_BUF] = "";
    int rc = 0;
    if (cur)
        proto_body_copy_str(cur, "derived_from", old, sizeof old);
    if (it->mode == CATALOG_PUT_UPDATE && !strcmp(ref, old))
        return 0;                                  /* copied when it was given: what was changed since stays */
    if (cited_get(st, ref, &c) == 0) {
        if (c.found && !c.withdrawn) {
            kv_list copies = { 0 };
            if (proto_body_foreach(&c.r, subject_cb, &copies) != 0 || kv_splice(kv, at, &copies))
                rc = proto_err(err, errlen, "out of memory");
            kv_free(&copies);
        } else if (strcmp(ref, old) && !(it->checks & CATALOG_PUT_ALLOW_UNKNOWN)) {
            rc = not_held(&c, "依拠した認定", err, errlen);
        }
    }
    cited_free(&c);
    return rc;
}

/* Drop an incomplete UTF-8 sequence at the end of s (left by a message
 * cut to its buffer). */
static void utf8_cut(char *s)
{
    size_t n = strlen(s), k = n;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xc0) == 0x80 && n - k < 3)
        k--;
    if (k > 0) {
        unsigned char lead = (unsigned char)s[k - 1];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (lead >= 0xc0 && n - (k - 1) < want)
            s[k - 1] = 0;
    }
}

/* Warnings of one item: lines in it->warnings; `strict` counts those that
 * --strict turns into a refusal. */
typedef struct { catalog_put *it; size_t strict; int oom; } warn_ctx;

static void warn(warn_ctx *w, int strict, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(warn_ctx *w, int strict, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    utf8_cut(line);
    size_t old = w->it->warnings ? strlen(w->it->warnings) : 0, add = strlen(line);
    char *p = realloc(w->it->warnings, old + add + 2);
    if (!p) {
        w->oom = 1;
        return;
    }
    memcpy(p + old, line, add);
    p[old + add] = '\n';
    p[old + add + 1] = 0;
    w->it->warnings = p;
    if (strict)
        w->strict++;
}

static int date_field(const proto_record *r, const char *field, jp_date *d, char iso[11])
{
    char v[32];
    if (proto_body_copy_str(r, field, v, sizeof v) || jp_date_parse(v, d, NULL, 0))
        return -1;
    jp_date_format(*d, iso);
    return 0;
}

#define DETAIL_REASON_MAX 300   /* bytes of a cited record's status reason quoted in a warning */

/* "（2026-06-01 から。理由: …）" from the cited record, or "". */
static void status_detail(const proto_record *r, char *out, size_t n)
{
    char date[32] = "", reason[DETAIL_REASON_MAX + 4] = "";
    const char *rs;
    size_t rl;
    proto_body_copy_str(r, "status_date", date, sizeof date);
    if (proto_body_get_str(r, "status_reason", &rs, &rl) == 0) {
        size_t k = rl;
        if (k > DETAIL_REASON_MAX) {
            k = DETAIL_REASON_MAX;
            while (k > 0 && ((unsigned char)rs[k] & 0xc0) == 0x80)
                k--;
        }
        memcpy(reason, rs, k);
        reason[k] = 0;
        if (k < rl)
            strcat(reason, "…");
    }
    if (date[0] && reason[0])
        snprintf(out, n, "（%s から。理由: %s）", date, reason);
    else if (date[0])
        snprintf(out, n, "（%s から）", date);
    else if (reason[0])
        snprintf(out, n, "（理由: %s）", reason);
    else
        out[0] = 0;
}

/* Whether the cited certification was in force when the item needs it:
 * an adoption's 年度 and contract start, a derived certification's 認定日. */
static void check_dates(warn_ctx *w, const proto_record *nb, const cited *c, const char *label)
{
    jp_date con, until, d;
    char con_s[11], until_s[11], d_s[11];
    int has_on = date_field(&c->r, "certified_on", &con, con_s) == 0;
    int has_until = date_field(&c->r, "valid_until", &until, until_s) == 0;
    if (kind_is(w->it->kind, KIND_CERTIFICATION)) {
        if (date_field(nb, "certified_on", &d, d_s))
            return;
        if (has_on && jp_date_cmp(d, con) < 0)
            warn(w, 1, "認定日 %s は%s %s/%s の認定日 %s より前です", d_s, label, c->who, c->key, con_s);
        if (has_until && jp_date_cmp(d, until) > 0)
            warn(w, 1, "認定日 %s には%s %s/%s は有効期限 %s を過ぎています（期間満了）", d_s, label, c->who,
                 c->key, until_s);
        return;
    }
    int64_t fy;
    if (proto_body_get_int(nb, "fiscal_year", &fy) == 0 && fy >= JP_YEAR_MIN && fy < JP_YEAR_MAX) {
        jp_date start = { (int)fy, 4, 1 }, end = jp_fiscal_year_end((int)fy);
        char era[JP_ERA_FY_MAX] = "";
        jp_era_fiscal_year((int)fy, era, sizeof era);
        if (has_until && jp_date_cmp(start, until) > 0)
            warn(w, 1, "年度 %s（%lld年度）は%s %s/%s の有効期限 %s より後です（期間満了）", era, (long long)fy,
                 label, c->who, c->key, until_s);
        if (has_on && jp_date_valid(end) && jp_date_cmp(end, con) < 0)
            warn(w, 1, "年度 %s（%lld年度）は%s %s/%s の認定日 %s より前です", era, (long long)fy, label,
                 c->who, c->key, con_s);
    }
    if (date_field(nb, "period_from", &d, d_s) == 0) {
        if (has_on && jp_date_cmp(d, con) < 0)
            warn(w, 1, "期間開始 %s は%s %s/%s の認定日 %s より前です", d_s, label, c->who, c->key, con_s);
        if (has_until && jp_date_cmp(d, until) > 0)
            warn(w, 1, "期間開始 %s は%s %s/%s の有効期限 %s より後です（期間満了）", d_s, label, c->who,
                 c->key, until_s);
    }
}

/* The reference checks of an item about to be written (see write.h).
 * cur: this member's current record of the item, or NULL.  0, or -1 with err. */
static int check_refs(store *st, const proto_id *self, catalog_put *it, const proto_record *cur,
                      char *err, size_t errlen)
{
    int cert = kind_is(it->kind, KIND_CERTIFICATION);
    const char *field = cert ? "derived_from" : "certification";
    const char *label = cert ? "依拠した認定" : "認定";
    uint8_t *map;
    size_t ml;
    char ref[REF_BUF], old[REF_BUF] = "";
    if (proto_body_encode(it->body, &map, &ml))
        return proto_err(err, errlen, "out of memory");
    proto_record nb;
    memset(&nb, 0, sizeof nb);
    nb.body = map;
    nb.body_len = ml;
    if (proto_body_copy_str(&nb, field, ref, sizeof ref)) {
        free(map);
        return 0;                                  /* cites nothing */
    }
    if (cur)
        proto_body_copy_str(cur, field, old, sizeof old);
    int changed = !cur || strcmp(ref, old) != 0;
    cited c;
    warn_ctx w = { it, 0, 0 };
    int rc = 0;
    if (cited_get(st, ref, &c)) {
        free(map);
        return 0;                                  /* the schema accepted it: cannot happen */
    }
    if (cert && !memcmp(&c.author, self, sizeof c.author) && !strcmp(c.key, it->key)) {
        rc = proto_err(err, errlen, "%s に自分自身（%s）は指定できません", label, it->key);
        goto done;
    }
    if (!c.found || c.withdrawn) {
        if (changed && !(it->checks & CATALOG_PUT_ALLOW_UNKNOWN)) {
            rc = not_held(&c, label, err, errlen);
            goto done;
        }
        warn(&w, 0, "%s %s/%s %s", label, c.who, c.key,
             c.withdrawn ? "は取り下げられています" : "はこのノードにまだありません");
        goto done;
    }
    char detail[DETAIL_REASON_MAX + 128];
    int recorded = catalog_status_recorded(&c.r);   /* as catalog_status_on takes it */
    status_detail(&c.r, detail, sizeof detail);
    if (recorded == CATALOG_STATUS_REVOKED)
        warn(&w, 1, "%s %s/%s は取消されています%s", label, c.who, c.key, detail);
    else if (recorded == CATALOG_STATUS_SUSPENDED)
        warn(&w, 1, "%s %s/%s は停止されています%s", label, c.who, c.key, detail);
    check_dates(&w, &nb, &c, label);
    if (cert) {
        /* a derived certification is of the same company */
        char mine[32] = "", theirs[32] = "", was[32] = "";
        proto_body_copy_str(&nb, "corporate_number", mine, sizeof mine);
        proto_body_copy_str(&c.r, "corporate_number", theirs, sizeof theirs);
        if (cur)
            proto_body_copy_str(cur, "corporate_number", was, sizeof was);
        if (mine[0] && theirs[0] && strcmp(mine, theirs) && (changed || strcmp(mine, was))) {
            rc = proto_err(err, errlen, "法人番号 %s は%s %s/%s の法人番号 %s と異なります（別の事業者の認定には依拠できません）",
                           mine, label, c.who, c.key, theirs);
            goto done;
        }
    }
done:
    if (rc == 0 && w.oom)
        rc = proto_err(err, errlen, "out of memory");
    if (rc == 0 && w.strict && (it->checks & CATALOG_PUT_STRICT)) {
        /* the warnings, one line each, become the refusal */
        char lines[2048];
        snprintf(lines, sizeof lines, "%s", it->warnings ? it->warnings : "");
        utf8_cut(lines);
        size_t l = strlen(lines);
        while (l && lines[l - 1] == '\n')
            lines[--l] = 0;
        for (char *p = lines; *p; p++)
            if (*p == '\n')
                *p = ';';
        rc = proto_err(err, errlen, "--strict のため登録しません: %s", lines);
    }
    cited_free(&c);
    free(map);
    return rc;
}

/* ---- withdrawal ---- */

/* The body of a withdrawal: {reason}.  0 or -1 with err. */
static int withdraw_body(catalog_put *it, char *err, size_t errlen)
{
    const char *reason = NULL;
    for (size_t i = 0; i < it->nfields; i++) {
        const char *f = it->fields[i].name ? it->fields[i].name : "";
        if (!strcmp(f, "reason") || !strcmp(f, "理由"))
            reason = it->fields[i].value;
        else
            return proto_err(err, errlen, "取り下げに指定できるのは理由（reason）だけです: '%s'", f);
    }
    size_t n = reason ? strlen(reason) : 0;
    while (n && (reason[n - 1] == ' ' || reason[n - 1] == '\n' || reason[n - 1] == '\t'))
        n--;
    while (n && (*reason == ' ' || *reason == '\n' || *reason == '\t')) {
        reason++;
        n--;
    }
    if (n == 0)
        return proto_err(err, errlen, "取り下げには理由（--reason）が必要です");
    /* the rule every node applies to a catalog tombstone (catalog_record_validate) */
    if (catalog_reason_check(reason, n, err, errlen))
        return -1;
    char *r = strndup(reason, n);
    it->body = proto_body_new();
    if (!r || !it->body || proto_body_str(it->body, "reason", r)) {
        free(r);
        return proto_err(err, errlen, "out of memory");
    }
    free(r);
    it->tombstone = 1;
    return 0;
}

/* Validate one item into it->body.  0 or -1 with err. */
static int prepare(store *st, const proto_id *self, EVP_PKEY *pkey, const catalog_vocab *vocab,
                   catalog_put *it, char *err, size_t errlen)
{
    char why[3072];
    const char *kind = it->kind ? it->kind : "";
    size_t ns;
    if (!catalog_fields(kind, &ns))
        return proto_err(err, errlen, "'%s' is not a catalog kind (certification, adoption)", kind);
    /* the schema's own spelling: a kind with a schema is a catalog kind */
    const kind_def *kd = kind_of(kind);
    if (!(kd->flags & KIND_F_CATALOG))
        return proto_err(err, errlen, "'%s' is not a catalog kind (certification, adoption)", kind);
    it->kind = kd->name;
    /* stored as catalog_key_norm makes it: 文京－２０２６－１０６ is 文京-2026-106 */
    char nkey[sizeof it->key];
    if (catalog_key_norm(it->key, nkey, sizeof nkey, why, sizeof why))
        return proto_err(err, errlen, "key: %s", why);
    memcpy(it->key, nkey, sizeof nkey);

    rec_copy cur = { NULL, 0 };
    proto_record cr;
    int own = store_get_current(st, self, it->kind, it->key, copy_rec, &cur) == 0 && cur.raw &&
              proto_record_decode_stored(cur.raw, cur.len, &cr, NULL, 0) == 0 &&
              !(cr.flags & PROTO_FLAG_TOMBSTONE);
    it->existed = own;
    if (it->mode == CATALOG_PUT_ADD && own) {
        free(cur.raw);
        return proto_err(err, errlen, "%s %s は既に登録されています。変更するには update を使ってください",
                         kind_ja(it->kind), it->key);
    }
    if ((it->mode == CATALOG_PUT_UPDATE || it->mode == CATALOG_PUT_WITHDRAW) && !own) {
        int withdrawn = cur.raw != NULL;   /* this member's current record is a tombstone */
        free(cur.raw);
        owner_find o = { st, it->kind, it->key, "" };
        if (!withdrawn)
            store_members(st, owner_cb, &o);
        if (o.who[0])
            return proto_err(err, errlen, "%s %s は %s の登録です。変更や取り下げができるのはその団体だけです",
                             kind_ja(it->kind), it->key, o.who);
        if (withdrawn)
            return proto_err(err, errlen, "%s %s は取り下げられています（もう一度登録するには add）",
                             kind_ja(it->kind), it->key);
        return proto_err(err, errlen, "この団体には%s %s がありません", kind_ja(it->kind), it->key);
    }
    if (it->mode == CATALOG_PUT_WITHDRAW) {
        free(cur.raw);
        return withdraw_body(it, err, errlen);
    }
    if (it->mode != CATALOG_PUT_ADD && it->mode != CATALOG_PUT_UPDATE && it->mode != CATALOG_PUT_UPSERT) {
        free(cur.raw);
        return proto_err(err, errlen, "mode must be add, update, upsert or withdraw");
    }

    kv_list kv = { 0 };
    int rc = 0;
    /* update and upsert start from the current fields (an upsert replaces
     * them: a re-imported row is the whole record) */
    if (own && it->mode == CATALOG_PUT_UPDATE)
        proto_body_foreach(&cr, kv_from_body, &kv);
    size_t given = kv.n, derived = SIZE_MAX;   /* the given fields start here; the last 依拠した認定 */
    for (size_t i = 0; i < it->nfields && rc == 0; i++) {
        const char *f = it->fields[i].name ? it->fields[i].name : "";
        const char *val = it->fields[i].value ? it->fields[i].value : "";
        char buf[512];
        const catalog_field *cf = catalog_field_find(it->kind, f);
        if (cf && (!strcmp(cf->name, "certification") || !strcmp(cf->name, "derived_from")))
            val = catalog_ref_resolve(st, val, buf, sizeof buf);
        if (cf && !strcmp(cf->name, "derived_from") && kind_is(it->kind, KIND_CERTIFICATION))
            derived = kv.n;
        if (kv_add(&kv, f, strlen(f), val, strlen(val)))
            rc = proto_err(err, errlen, "out of memory");
    }
    if (rc == 0 && derived != SIZE_MAX)
        rc = copy_subject(st, it, own ? &cr : NULL, kv.kv[derived].value, &kv, given, err, errlen);
    if (rc == 0 && catalog_build_v(it->kind, vocab, kv.kv, kv.n, &it->body, why, sizeof why))
        rc = proto_err(err, errlen, "%s", why);
    kv_free(&kv);
    if (rc == 0 && own) {
        /* compare with what is stored: same body bytes means no new version
         * (the body as a record would hold it; signing a probe record to get
         * them cost a signature per unchanged row of a re-imported sheet) */
        uint8_t *enc;
        size_t el;
        if (proto_body_encode(it->body, &enc, &el) == 0) {
            if (el == cr.body_len && !memcmp(enc, cr.body, el))
                it->unchanged = 1;
            free(enc);
        }
    }
    if (rc == 0 && !it->unchanged)
        rc = check_refs(st, self, it, own ? &cr : NULL, err, errlen);
    free(cur.raw);
    return rc;
}

static int cmp_item_key(const void *a, const void *b)
{
    const catalog_put *x = *(catalog_put *const *)a, *y = *(catalog_put *const *)b;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->key, y->key);
}

int catalog_prepare(store *st, const proto_id *self, EVP_PKEY *key, catalog_put *items, size_t n,
                    catalog_put_read_fn reader, void *ctx, store_write_item *w, size_t *nw,
                    char *err, size_t errlen)
{
    char why[4096];
    int rc = 0;
    *nw = 0;
    /* 分野 and 契約方法 from the policy in force (the defaults when the
     * store has none, e.g. no alliance yet) */
    store_policy *pol = malloc(sizeof *pol);
    const char *areas[STORE_POLICY_LIST_MAX + 1], *routes[STORE_POLICY_LIST_MAX + 1];
    catalog_vocab vocab = { NULL, NULL, 0 };
    if (pol && store_policy_in_force(st, pol) == 0) {
        store_policy_vocab(pol, areas, routes);
        vocab.areas = areas;
        vocab.routes = routes;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((reader && reader(ctx, i, &items[i], why, sizeof why)) ||
            prepare(st, self, key, &vocab, &items[i], why, sizeof why))
            rc = n > 1 ? proto_err(err, errlen, "item %zu (%s): %s", i + 1, items[i].key, why)
                       : proto_err(err, errlen, "%s", why);
    }
    /* the same key twice in one batch would make the second silently win */
    if (rc == 0 && n > 1) {
        catalog_put **sorted = malloc(n * sizeof *sorted);
        for (size_t i = 0; sorted && i < n; i++)
            sorted[i] = &items[i];
        if (sorted) {
            qsort(sorted, n, sizeof *sorted, cmp_item_key);
            for (size_t i = 1; i < n && rc == 0; i++)
                if (!cmp_item_key(&sorted[i - 1], &sorted[i]))
                    rc = proto_err(err, errlen, "%s %s が1つの要求に2回あります", kind_ja(sorted[i]->kind),
                                   sorted[i]->key);
        }
        free(sorted);
    }
    free(pol);
    if (rc) {
        if (err && errlen)
            utf8_cut(err);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (items[i].unchanged)
            continue;
        w[*nw].kind = items[i].kind;
        w[*nw].key = items[i].key;
        w[*nw].flags = items[i].tombstone ? PROTO_FLAG_TOMBSTONE : 0;
        w[*nw].body = items[i].body;
        w[*nw].out = NULL;
        w[*nw].out_len = 0;
        (*nw)++;
    }
    return 0;
}

void catalog_put_free(catalog_put *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        proto_body_free(items[i].body);
        items[i].body = NULL;
        free(items[i].warnings);
        items[i].warnings = NULL;
    }
}
