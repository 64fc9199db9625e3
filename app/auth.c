/*
 * auth.c -- HS256 JWT bearer verification (see include/auth.h).
 *
 * The token is checked from the outside in, cheapest first: header text,
 * token shape and length, JOSE header, HMAC-SHA256 signature, and only
 * then the payload, with the same strict parser as request bodies.
 * Nothing is allocated on the heap except json-c's parse trees, which are
 * released before returning.
 */
#include "auth.h"
#include "json_util.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SIG_B64_LEN 43 /* base64url of 32 bytes, unpadded */
#define SIG_LEN 32
/* Largest decoded part: a part is at most AUTH_TOKEN_MAX characters. */
#define PART_MAX (AUTH_TOKEN_MAX / 4 * 3 + 3)

static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decode unpadded base64url 'in' ('n' characters) into 'out' (room for
 * n / 4 * 3 + 2 bytes).  Refuses characters outside the alphabet, a length
 * that no encoding produces, and non-zero trailing bits, so that each
 * byte string has exactly one accepted spelling.  Returns 0 or -1.
 */
static int b64url_decode(const char *in, size_t n, unsigned char *out,
    size_t *outlen)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0;

	if (n % 4 == 1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* leftover bits must be zero */
		return -1;
	*outlen = o;
	return 0;
}

/*
 * Decode a part and parse it as one JSON object, strictly (json_util.h:
 * no NaN or Infinity, UTF-8 only, integers within int64, nothing after
 * the value); NULL if it is not one.
 */
static struct json_object *decode_object(const char *part, size_t n)
{
	unsigned char buf[PART_MAX];
	size_t len;
	struct json_object *obj;

	if (n == 0 || n > AUTH_TOKEN_MAX || b64url_decode(part, n, buf, &len) != 0)
		return NULL;
	if (json_parse_object((const char *)buf, len, &obj, NULL, 0) != JSON_OK)
		return NULL;
	return obj;
}

/*
 * Read the NumericDate claim 'name' of 'claims': RFC 7519 allows a
 * fraction, but no issuer of ours sends one, and a double compares
 * loosely (1e300, -0.0), so only a JSON integer is taken.  Returns 0 when
 * absent, 1 when present (value in '*out'), -1 when present with any
 * other type.
 */
static int numeric_claim(struct json_object *claims, const char *name,
    int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(claims, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int64(v);
	return 1;
}

/* A subject is an id: printable, no NUL (which would cut it short in C)
 * and no control character (which would forge log lines). */
static int subject_ok(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static enum auth_err check_header(const char *part, size_t n)
{
	struct json_object *hdr = decode_object(part, n);
	struct json_object *alg, *crit;
	enum auth_err err = AUTH_OK;

	if (hdr == NULL)
		return AUTH_MALFORMED;
	/* Only HS256: never let the token choose the algorithm. */
	if (!json_object_object_get_ex(hdr, "alg", &alg) ||
	    !json_object_is_type(alg, json_type_string) ||
	    strcmp(json_object_get_string(alg), "HS256") != 0)
		err = AUTH_BAD_ALG;
	/* RFC 7515 4.1.11: extensions we do not understand must fail. */
	else if (json_object_object_get_ex(hdr, "crit", &crit))
		err = AUTH_MALFORMED;
	json_object_put(hdr);
	return err;
}

static enum auth_err check_signature(const unsigned char *key,
    size_t key_len, const char *token, size_t signed_len,
    const char *sig_part, size_t sig_n)
{
	unsigned char sig[SIG_LEN + 3], mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t sig_len;

	if (key == NULL || key_len == 0 || key_len > INT32_MAX)
		return AUTH_BAD_SIGNATURE;
	if (sig_n != SIG_B64_LEN)
		return AUTH_BAD_SIGNATURE;
	if (b64url_decode(sig_part, sig_n, sig, &sig_len) != 0)
		return AUTH_MALFORMED;
	if (HMAC(EVP_sha256(), key, (int)key_len,
	    (const unsigned char *)token, signed_len, mac, &mac_len) == NULL ||
	    mac_len != SIG_LEN || sig_len != SIG_LEN)
		return AUTH_BAD_SIGNATURE;
	if (CRYPTO_memcmp(sig, mac, SIG_LEN) != 0)
		return AUTH_BAD_SIGNATURE;
	return AUTH_OK;
}

static enum auth_err check_claims(const char *part, size_t n, time_t now,
    char *sub_out, size_t sub_len)
{
	struct json_object *claims = decode_object(part, n);
	struct json_object *sub;
	int64_t exp, nbf, iat;
	int has;
	enum auth_err err = AUTH_OK;

	if (claims == NULL)
		return AUTH_MALFORMED;
	/* exp is required: a token that never expires cannot be revoked. */
	if ((has = numeric_claim(claims, "exp", &exp)) < 0)
		err = AUTH_MALFORMED;
	else if (!has)
		err = AUTH_NO_EXPIRY;
	else if (exp <= (int64_t)now - AUTH_LEEWAY)
		err = AUTH_EXPIRED;
	else if ((has = numeric_claim(claims, "nbf", &nbf)) < 0)
		err = AUTH_MALFORMED;
	else if (has && nbf > (int64_t)now + AUTH_LEEWAY)
		err = AUTH_NOT_YET;
	else if (numeric_claim(claims, "iat", &iat) < 0)
		err = AUTH_MALFORMED;
	else if (json_object_object_get_ex(claims, "sub", &sub)) {
		size_t len = json_object_is_type(sub, json_type_string) ?
		    (size_t)json_object_get_string_len(sub) : 0;

		if (!json_object_is_type(sub, json_type_string) ||
		    !subject_ok(json_object_get_string(sub), len))
			err = AUTH_MALFORMED;
		else if (sub_out != NULL) {
			if (len >= sub_len)
				err = AUTH_MALFORMED;
			else
				memcpy(sub_out, json_object_get_string(sub),
				    len + 1);
		}
	}
	json_object_put(claims);
	return err;
}

enum auth_err auth_verify_bearer_key(const unsigned char *key, size_t key_len,
    const char *authorization_header, time_t now, char *sub_out,
    size_t sub_len)
{
	const char *p = authorization_header, *token, *dot1, *dot2;
	size_t len;
	enum auth_err err;

	if (sub_out != NULL && sub_len > 0)
		sub_out[0] = '\0';
	if (p == NULL)
		return AUTH_MISSING;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return AUTH_MISSING;
	/* The scheme name is case-insensitive (RFC 7235 2.1). */
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return AUTH_MALFORMED;
	for (token = p + 6; *token == ' ' || *token == '\t'; token++)
		;
	/* The front server bounds header size; strlen is safe here. */
	len = strlen(token);
	while (len > 0 && (token[len - 1] == ' ' || token[len - 1] == '\t'))
		len--;
	if (len == 0 || len > AUTH_TOKEN_MAX)
		return AUTH_MALFORMED;

	/* Only the base64url alphabet and dots: no padding, no spaces. */
	for (size_t i = 0; i < len; i++)
		if (token[i] != '.' && b64url_value((unsigned char)token[i]) < 0)
			return AUTH_MALFORMED;

	/* Exactly three parts; the signature may be empty (alg "none"). */
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return AUTH_MALFORMED;
	dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
	if (dot2 == NULL ||
	    memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
		return AUTH_MALFORMED;

	err = check_header(token, (size_t)(dot1 - token));
	if (err == AUTH_OK)
		err = check_signature(key, key_len, token,
		    (size_t)(dot2 - token), dot2 + 1,
		    len - (size_t)(dot2 + 1 - token));
	if (err == AUTH_OK)
		err = check_claims(dot1 + 1, (size_t)(dot2 - dot1 - 1), now,
		    sub_out, sub_len);
	if (err != AUTH_OK && sub_out != NULL && sub_len > 0)
		sub_out[0] = '\0';
	return err;
}

enum auth_err auth_verify_bearer(const char *secret,
    const char *authorization_header, time_t now, char *sub_out,
    size_t sub_len)
{
	return auth_verify_bearer_key((const unsigned char *)secret,
	    secret != NULL ? strlen(secret) : 0, authorization_header, now,
	    sub_out, sub_len);
}

const char *auth_strerror(enum auth_err err)
{
	switch (err) {
	case AUTH_OK:
		return "authenticated";
	case AUTH_MISSING:
		return "missing bearer token";
	case AUTH_MALFORMED:
		return "malformed bearer token";
	case AUTH_BAD_ALG:
		return "unsupported token algorithm";
	case AUTH_BAD_SIGNATURE:
		return "invalid token signature";
	case AUTH_EXPIRED:
		return "token expired";
	case AUTH_NOT_YET:
		return "token not yet valid";
	case AUTH_NO_EXPIRY:
		return "token has no expiry";
	case AUTH__MAX:
		break;
	}
	return "authentication failed";
}
