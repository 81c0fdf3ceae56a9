/* SPDX-License-Identifier: MIT */
/* HS256 JSON Web Tokens (RFC 7519, RFC 7515): signing and verification with libsodium's
 * HMAC-SHA-256 and constant-time comparison, claims read with jansson. Only the algorithm we
 * issue is accepted (RFC 8725 section 3.1: "alg": "none", RS256 with our secret as a "public
 * key", and any other are refused before the signature is even looked at). */
#include "internal.h"

#include "gh/alloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_PART_MAX  1024 /* decoded header or payload */
#define JWT_TOKEN_MAX (GH_AUTH_TOKEN_CAP - 1)

void gh_auth_b64_encode(const uint8_t *bin, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int gh_auth_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    const char *end = NULL;

    if (sodium_base642bin(out, cap, s, len, NULL, out_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return end == s + len ? 0 : -1; /* every character consumed */
}

static int hmac(struct gh_auth *a, const char *msg, size_t len,
                uint8_t out[crypto_auth_hmacsha256_BYTES])
{
    crypto_auth_hmacsha256_state st = a->hmac_keyed;

    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
    return crypto_auth_hmacsha256_final(&st, out);
}

int gh_auth_jwt_sign(struct gh_auth *a, const struct gh_auth_claims *c, char *out, size_t cap,
                     struct gh_err *err)
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    char uid[24], *payload = NULL;
    size_t used, plen;
    int rc = GH_OK;
    json_t *doc;

    snprintf(uid, sizeof uid, "%lld", (long long)c->user_id);
    doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", a->cfg.issuer, "aud",
                  a->cfg.audience, "sub", uid, "role", gh_role_name(c->role), "sid", c->sid, "iat",
                  (json_int_t)c->iat, "nbf", (json_int_t)c->nbf, "exp", (json_int_t)c->exp);
    payload = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (!payload)
        return gh_err_set(err, GH_ENOMEM, "out of memory signing a token");
    plen = strlen(payload);
    used = strlen(a->header_b64);
    if (used + 1 + sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING) + 1 +
            sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_URLSAFE_NO_PADDING) >
        cap) {
        rc = gh_err_set(err, GH_ETOOBIG, "a token does not fit %zu bytes", cap);
        goto out;
    }
    memcpy(out, a->header_b64, used);
    out[used++] = '.';
    gh_auth_b64_encode((const uint8_t *)payload, plen, out + used, cap - used);
    used += strlen(out + used);
    hmac(a, out, used, mac);
    out[used++] = '.';
    gh_auth_b64_encode(mac, sizeof mac, out + used, cap - used);
out:
    gh_free(payload); /* jansson allocates with malloc; gh_free releases it */
    return rc;
}

/* The header must say HS256; typ, when present, JWT; nothing critical we do not know. */
static int check_header(struct gh_auth *a, const char *h, size_t len, struct gh_err *err)
{
    uint8_t buf[JWT_PART_MAX];
    json_t *doc, *alg, *typ;
    size_t n = 0;
    int rc = GH_OK;

    if (len == strlen(a->header_b64) && memcmp(h, a->header_b64, len) == 0)
        return GH_OK; /* the header we issue, byte for byte */
    if (gh_auth_b64_decode(h, len, buf, sizeof buf, &n) != 0)
        return gh_err_set(err, GH_EINVAL, "the token's header is not base64url");
    doc = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    alg = json_object_get(doc, "alg");
    typ = json_object_get(doc, "typ");
    if (!json_is_object(doc))
        rc = gh_err_set(err, GH_EINVAL, "the token's header is not a JSON object");
    else if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0)
        rc = gh_err_set(err, GH_EINVAL,
                        "the token's algorithm is not HS256, the only one "
                        "accepted");
    else if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        rc = gh_err_set(err, GH_EINVAL, "the token's type is not JWT");
    else if (json_object_get(doc, "crit"))
        rc = gh_err_set(err, GH_EINVAL, "the token has critical header extensions");
    json_decref(doc);
    return rc;
}

static int check_signature(struct gh_auth *a, const char *token, size_t signed_len, const char *sig,
                           size_t sig_len, struct gh_err *err)
{
    uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES + 4];
    size_t n = 0;

    if (gh_auth_b64_decode(sig, sig_len, got, sizeof got, &n) != 0 || n != sizeof want)
        return gh_err_set(err, GH_EINVAL, "the token's signature is malformed");
    hmac(a, token, signed_len, want);
    if (sodium_memcmp(want, got, sizeof want) != 0)
        return gh_err_set(err, GH_EINVAL, "the token's signature does not match");
    return GH_OK;
}

static int int_claim(json_t *doc, const char *name, int64_t *out)
{
    json_t *v = json_object_get(doc, name);

    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

static int aud_matches(json_t *aud, const char *ours)
{
    size_t i;
    json_t *v;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), ours) == 0;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), ours) == 0)
            return 1;
    }
    return 0;
}

/* exp, iat and nbf against now, with the configured skew. */
static int check_times(const struct gh_auth *a, const struct gh_auth_claims *c, int64_t now,
                       struct gh_err *err)
{
    int64_t skew = a->cfg.skew_s;

    if (now >= c->exp + skew)
        return gh_err_set(err, GH_EINVAL, "the token has expired; refresh it or sign in again");
    if (c->iat > now + skew)
        return gh_err_set(err, GH_EINVAL, "the token was issued in the future");
    if (c->nbf > now + skew)
        return gh_err_set(err, GH_EINVAL, "the token is not valid yet");
    return GH_OK;
}

/* Every claim but the times (check_times). */
static int read_claims(struct gh_auth *a, json_t *doc, struct gh_auth_claims *out,
                       struct gh_err *err)
{
    json_t *iss = json_object_get(doc, "iss"), *sub = json_object_get(doc, "sub"),
           *role = json_object_get(doc, "role"), *sid = json_object_get(doc, "sid");
    char *end = NULL;

    if (!json_is_string(iss) || strcmp(json_string_value(iss), a->cfg.issuer) != 0)
        return gh_err_set(err, GH_EINVAL, "the token was issued by someone else");
    if (!aud_matches(json_object_get(doc, "aud"), a->cfg.audience))
        return gh_err_set(err, GH_EINVAL, "the token is meant for another audience");
    if (int_claim(doc, "exp", &out->exp) || int_claim(doc, "iat", &out->iat))
        return gh_err_set(err, GH_EINVAL, "the token lacks exp or iat");
    if (json_object_get(doc, "nbf") && int_claim(doc, "nbf", &out->nbf))
        return gh_err_set(err, GH_EINVAL, "the token's nbf is not a number");
    if (!json_is_string(sub) || !json_string_value(sub)[0])
        return gh_err_set(err, GH_EINVAL, "the token names no user");
    out->user_id = strtoll(json_string_value(sub), &end, 10);
    if (*end || out->user_id <= 0)
        return gh_err_set(err, GH_EINVAL, "the token's subject is not a user id");
    out->role = gh_role_parse(json_string_value(role));
    if (out->role == GH_ROLE_NONE)
        return gh_err_set(err, GH_EINVAL, "the token's role is unknown");
    if (!json_is_string(sid) || strlen(json_string_value(sid)) >= sizeof out->sid ||
        !json_string_value(sid)[0])
        return gh_err_set(err, GH_EINVAL, "the token names no session");
    snprintf(out->sid, sizeof out->sid, "%s", json_string_value(sid));
    return GH_OK;
}

/* The slot a token is remembered in: FNV-1a over its last 16 bytes (the signature's). Whoever
 * chooses a token may choose its slot; the comparison with what the slot holds is constant
 * time, so that teaches nothing about the remembered token. */
static struct auth_verified *verified_slot(struct gh_auth *a, const char *token, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = len > 16 ? len - 16 : 0; i < len; i++)
        h = (h ^ (uint8_t)token[i]) * 16777619u;
    return &a->verified[h % AUTH_VERIFIED_SLOTS];
}

/* 1 when x and y (len bytes each) are equal, in time that depends on len alone: eight bytes
 * at a time, no early exit (sodium_memcmp goes byte by byte, a third of a warm verification). */
static int same_bytes(const char *x, const char *y, size_t len)
{
    uint64_t d = 0, u, v;
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        d |= u ^ v;
    }
    for (; i < len; i++)
        d |= (uint8_t)(x[i] ^ y[i]);
    return d == 0;
}

/* 1 with *out when exactly these bytes verified before. */
static int verified_get(struct gh_auth *a, const char *token, size_t len,
                        struct gh_auth_claims *out)
{
    struct auth_verified *v = verified_slot(a, token, len);
    int hit;

    if (len > AUTH_VERIFIED_TOKEN_MAX)
        return 0;
    pthread_mutex_lock(&a->verified_mu);
    hit = v->len == len && same_bytes(v->token, token, len);
    if (hit)
        *out = v->claims;
    pthread_mutex_unlock(&a->verified_mu);
    return hit;
}

static void verified_put(struct gh_auth *a, const char *token, size_t len,
                         const struct gh_auth_claims *c)
{
    struct auth_verified *v = verified_slot(a, token, len);

    if (len > AUTH_VERIFIED_TOKEN_MAX)
        return;
    pthread_mutex_lock(&a->verified_mu);
    memcpy(v->token, token, len);
    v->len = len;
    v->claims = *c;
    pthread_mutex_unlock(&a->verified_mu);
}

int gh_auth_jwt_verify(struct gh_auth *a, const char *token, int64_t now,
                       struct gh_auth_claims *out, struct gh_err *err)
{
    const char *dot1, *dot2, *payload;
    uint8_t buf[JWT_PART_MAX];
    size_t len, n = 0;
    json_t *doc;
    int rc;

    memset(out, 0, sizeof *out);
    len = token ? strnlen(token, JWT_TOKEN_MAX + 1) : 0;
    if (len == 0 || len > JWT_TOKEN_MAX)
        return gh_err_set(err, GH_EINVAL, "the token is empty or too long");
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) || dot1 == token ||
        dot2 == dot1 + 1 || dot2 + 1 == token + len)
        return gh_err_set(err, GH_EINVAL, "a token has three non-empty parts separated by dots");
    if (verified_get(a, token, len, out)) /* the signature and claims checked before */
        return check_times(a, out, now, err);
    rc = check_header(a, token, (size_t)(dot1 - token), err);
    if (rc == GH_OK)
        rc = check_signature(a, token, (size_t)(dot2 - token), dot2 + 1,
                             len - (size_t)(dot2 + 1 - token), err);
    if (rc)
        return rc;
    payload = dot1 + 1;
    if (gh_auth_b64_decode(payload, (size_t)(dot2 - payload), buf, sizeof buf, &n) != 0)
        return gh_err_set(err, GH_EINVAL, "the token's payload is not base64url");
    doc = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc))
        rc = gh_err_set(err, GH_EINVAL, "the token's payload is not a JSON object");
    else
        rc = read_claims(a, doc, out, err);
    json_decref(doc);
    if (rc == GH_OK)
        verified_put(a, token, len, out);
    return rc ? rc : check_times(a, out, now, err);
}
