/* hashcheck: owns the reading of imported hash descriptions and their
 * verification. Password bytes are the UTF-8 the client sent (the
 * password.encoding utf8 and ascii cases; other encodings are not
 * checked). Salts default to UTF-8 and the prefix position, as the
 * bulk-import schema says. Nothing here logs. */
#include "hashcheck.h"

#include "digest.h"
#include "util.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DECODED 1024

typedef struct {
    unsigned char b[MAX_DECODED];
    long n;
} bytes_t;

static int same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

static int bcrypt_ok(const char *password, const char *hash)
{
    struct crypt_data *cd = xcalloc(1, sizeof *cd);
    const char *out = crypt_r(password, hash, cd);
    int ok = out && out[0] != '*' && strcmp(out, hash) == 0;
    free(cd);
    return ok;
}

/* Decodes {"value", "encoding"} with def as the default encoding. */
static int decode(const json_t *obj, const char *def, bytes_t *out)
{
    const char *v = json_string_value(json_object_get(obj, "value"));
    const char *enc = json_string_value(json_object_get(obj, "encoding"));
    if (!enc)
        enc = def;
    out->n = -1;
    if (!v)
        return -1;
    if (strcmp(enc, "hex") == 0)
        out->n = digest_from_hex(v, out->b, sizeof out->b);
    else if (strcmp(enc, "base64") == 0)
        out->n = digest_from_base64(v, out->b, sizeof out->b);
    else if (strcmp(enc, "utf8") == 0 && strlen(v) <= sizeof out->b) {
        out->n = (long)strlen(v);
        memcpy(out->b, v, (size_t)out->n);
    }
    return out->n < 0 ? -1 : 0;
}

/* H(salt + password) or H(password + salt). */
static int salted_ok(digest_alg_t alg, const json_t *c, const char *pw)
{
    bytes_t want, salt = { .n = 0 };
    const json_t *s = json_object_get(c, "salt");
    if (decode(json_object_get(c, "hash"), "hex", &want) < 0 ||
        (s && decode(s, "utf8", &salt) < 0) ||
        (size_t)want.n != digest_size(alg))
        return 0;
    const char *pos = json_string_value(json_object_get(s, "position"));
    int suffix = pos && strcmp(pos, "suffix") == 0;
    size_t pn = strlen(pw);
    unsigned char *msg = xmalloc(pn + (size_t)salt.n + 1);
    memcpy(msg + (suffix ? 0 : (size_t)salt.n), pw, pn);
    memcpy(msg + (suffix ? pn : 0), salt.b, (size_t)salt.n);
    unsigned char got[DIGEST_MAX_BYTES];
    digest_compute(alg, msg, pn + (size_t)salt.n, got);
    free(msg);
    return same_bytes(got, want.b, (size_t)want.n);
}

static int hmac_ok(const json_t *c, const char *pw)
{
    const json_t *hash = json_object_get(c, "hash");
    const char *dname = json_string_value(json_object_get(hash, "digest"));
    int alg = dname ? digest_by_name(dname) : -1;
    bytes_t want, key;
    if (alg < 0 || decode(hash, "hex", &want) < 0 ||
        decode(json_object_get(hash, "key"), "utf8", &key) < 0 ||
        (size_t)want.n != digest_size((digest_alg_t)alg))
        return 0;
    unsigned char got[DIGEST_MAX_BYTES];
    digest_hmac((digest_alg_t)alg, key.b, (size_t)key.n, pw, strlen(pw), got);
    return same_bytes(got, want.b, (size_t)want.n);
}

/* $pbkdf2-<digest>$i=<iterations>,l=<length>$<salt>$<hash>, salt and
 * hash in base64 without padding. */
static int pbkdf2_ok(const char *phc, const char *pw)
{
    char dname[16], params[64], salt64[256], hash64[256];
    if (sscanf(phc, "$pbkdf2-%15[a-z0-9]$%63[^$]$%255[^$]$%255s", dname, params,
               salt64, hash64) != 4)
        return 0;
    long iter = 100000, len = 64;
    for (char *save = NULL, *kv = strtok_r(params, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        if (strncmp(kv, "i=", 2) == 0)
            iter = strtol(kv + 2, NULL, 10);
        else if (strncmp(kv, "l=", 2) == 0)
            len = strtol(kv + 2, NULL, 10);
    }
    int alg = digest_by_name(dname);
    bytes_t salt, want;
    salt.n = digest_from_base64(salt64, salt.b, sizeof salt.b);
    want.n = digest_from_base64(hash64, want.b, sizeof want.b);
    if (alg < 0 || iter < 1 || iter > 10000000 || salt.n < 0 || want.n != len ||
        len < 1 || len > (long)sizeof want.b)
        return 0;
    unsigned char *got = xmalloc((size_t)len);
    digest_pbkdf2((digest_alg_t)alg, pw, strlen(pw), salt.b, (size_t)salt.n,
                  (uint32_t)iter, got, (size_t)len);
    int ok = same_bytes(got, want.b, (size_t)len);
    free(got);
    return ok;
}

static int custom_ok(const json_t *c, const char *pw)
{
    const char *alg = json_string_value(json_object_get(c, "algorithm"));
    const json_t *hash = json_object_get(c, "hash");
    const char *value = json_string_value(json_object_get(hash, "value"));
    const char *penc = json_string_value(
        json_object_get(json_object_get(c, "password"), "encoding"));
    if (!alg || !value ||
        (penc && strcmp(penc, "utf8") != 0 && strcmp(penc, "ascii") != 0))
        return 0;
    if (strcmp(alg, "bcrypt") == 0)
        return bcrypt_ok(pw, value);
    if (strcmp(alg, "pbkdf2") == 0)
        return pbkdf2_ok(value, pw);
    if (strcmp(alg, "hmac") == 0)
        return hmac_ok(c, pw);
    int d = digest_by_name(alg);
    return d >= 0 && salted_ok((digest_alg_t)d, c, pw);
}

int hashcheck_verify(const json_t *secrets, const char *password)
{
    const char *bcrypt =
        json_string_value(json_object_get(secrets, "password_hash"));
    if (bcrypt)
        return bcrypt_ok(password, bcrypt);
    const json_t *c = json_object_get(secrets, "custom_password_hash");
    return json_is_object(c) && custom_ok(c, password);
}
