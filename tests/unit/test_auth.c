/*
 * test_auth.c -- unit tests for app/auth.c.
 *
 * Two published vectors (the jwt.io HS256 example and RFC 7515 appendix
 * A.1), plus tokens built here with OpenSSL's HMAC so that each claim and
 * each malformation can be varied on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define NOW ((time_t)1800000000)
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
/* An exp ten minutes after NOW: every accepted token needs one. */
#define EXP_OK "\"exp\":1800000600"

/* jwt.io's HS256 example, secret "your-256-bit-secret". */
static const char jwtio_token[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5"
    "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

/* RFC 7515 A.1: HS256 JWS with a 64-byte key; exp is 1300819380. */
static const char rfc7515_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const unsigned char rfc7515_key[64] = {
	0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06,
	0x65, 0x77, 0x7b, 0xa6, 0x8f, 0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54,
	0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf, 0xd3,
	0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3,
	0x77, 0x62, 0x3d, 0x22, 0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f,
	0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3,
};
#define RFC7515_EXP ((time_t)1300819380)

static char sub[64];

/* base64url without padding of 'n' bytes, appended to 'out'. */
static void
b64url_append(char *out, const void *data, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = data;
	size_t o = strlen(out);

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = tab[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
}

/*
 * "Bearer <header>.<payload>.<HMAC-SHA256 under 'secret'>" into a
 * malloc'd string the caller frees.
 */
static char *
make_bearer(const char *header, const char *payload, const char *secret)
{
	size_t cap = 64 + 2 * (strlen(header) + strlen(payload));
	char *out = calloc(1, cap);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	assert_non_null(out);
	strcpy(out, "Bearer ");
	b64url_append(out, header, strlen(header));
	strcat(out, ".");
	b64url_append(out, payload, strlen(payload));
	const char *signing_input = out + 7;
	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)signing_input, strlen(signing_input), mac,
	    &mac_len));
	strcat(out, ".");
	b64url_append(out, mac, mac_len);
	return out;
}

static enum auth_err
verify_claims(const char *payload)
{
	char *h = make_bearer(HS256, payload, SECRET);
	enum auth_err err = auth_verify_bearer(SECRET, h, NOW, sub, sizeof(sub));
	free(h);
	return err;
}

static enum auth_err
verify_header(const char *header)
{
	char *h = make_bearer(header, "{\"sub\":\"u1\"}", SECRET);
	enum auth_err err = auth_verify_bearer(SECRET, h, NOW, sub, sizeof(sub));
	free(h);
	return err;
}

static enum auth_err
verify_text(const char *value)
{
	return auth_verify_bearer(SECRET, value, NOW, sub, sizeof(sub));
}

static int
setup(void **state)
{
	(void)state;
	memset(sub, 'x', sizeof(sub));
	return 0;
}

/* ---- published vectors -------------------------------------------- */

/* Its signature verifies, but it has no exp: such a token would be
 * valid forever, so it is refused. */
static void
test_jwtio_example_refused_without_exp(void **state)
{
	(void)state;
	char h[512];
	snprintf(h, sizeof(h), "Bearer %s", jwtio_token);
	assert_int_equal(auth_verify_bearer("your-256-bit-secret", h, NOW, sub,
	    sizeof(sub)), AUTH_NO_EXPIRY);
	assert_string_equal(sub, "");
}

static void
test_jwtio_example_wrong_secret(void **state)
{
	(void)state;
	char h[512];
	snprintf(h, sizeof(h), "Bearer %s", jwtio_token);
	assert_int_equal(auth_verify_bearer("your-256-bit-secreT", h, NOW, sub,
	    sizeof(sub)), AUTH_BAD_SIGNATURE);
	assert_string_equal(sub, "");
}

static void
test_rfc7515_example_verifies_before_exp(void **state)
{
	(void)state;
	char h[512];
	snprintf(h, sizeof(h), "Bearer %s", rfc7515_token);
	assert_int_equal(auth_verify_bearer_key(rfc7515_key, sizeof(rfc7515_key),
	    h, RFC7515_EXP - 100, sub, sizeof(sub)), AUTH_OK);
	assert_string_equal(sub, ""); /* no "sub" claim */
}

static void
test_rfc7515_example_expiry_leeway(void **state)
{
	(void)state;
	char h[512];
	snprintf(h, sizeof(h), "Bearer %s", rfc7515_token);
	assert_int_equal(auth_verify_bearer_key(rfc7515_key, sizeof(rfc7515_key),
	    h, RFC7515_EXP + AUTH_LEEWAY - 1, NULL, 0), AUTH_OK);
	assert_int_equal(auth_verify_bearer_key(rfc7515_key, sizeof(rfc7515_key),
	    h, RFC7515_EXP + AUTH_LEEWAY, NULL, 0), AUTH_EXPIRED);
}

/* ---- header and shape --------------------------------------------- */

static void
test_missing_header(void **state)
{
	(void)state;
	assert_int_equal(verify_text(NULL), AUTH_MISSING);
	assert_int_equal(verify_text(""), AUTH_MISSING);
	assert_int_equal(verify_text("  \t"), AUTH_MISSING);
	assert_string_equal(sub, "");
}

static void
test_not_bearer_scheme(void **state)
{
	(void)state;
	assert_int_equal(verify_text("Basic dXNlcjpwYXNz"), AUTH_MALFORMED);
	assert_int_equal(verify_text("Bearer"), AUTH_MALFORMED);
	assert_int_equal(verify_text("Bearer   "), AUTH_MALFORMED);
	assert_int_equal(verify_text("Bearerx.y.z"), AUTH_MALFORMED);
}

static void
test_scheme_case_and_spacing_tolerated(void **state)
{
	(void)state;
	char *h = make_bearer(HS256, "{\"sub\":\"alice\"," EXP_OK "}", SECRET);
	char buf[512];
	snprintf(buf, sizeof(buf), "  bEaReR \t %s  ", h + 7);
	assert_int_equal(verify_text(buf), AUTH_OK);
	assert_string_equal(sub, "alice");
	free(h);
}

static void
test_wrong_number_of_parts(void **state)
{
	(void)state;
	char *h = make_bearer(HS256, "{}", SECRET);
	char buf[512];

	*strrchr(h, '.') = '\0'; /* two parts */
	assert_int_equal(verify_text(h), AUTH_MALFORMED);
	snprintf(buf, sizeof(buf), "%s.abc.def", h); /* four parts */
	assert_int_equal(verify_text(buf), AUTH_MALFORMED);
	assert_int_equal(verify_text("Bearer abc"), AUTH_MALFORMED);
	assert_int_equal(verify_text("Bearer .."), AUTH_MALFORMED);
	free(h);
}

static void
test_bad_base64url(void **state)
{
	(void)state;
	/* '+' and '/' are base64, not base64url; '=' padding is not allowed. */
	assert_int_equal(verify_text("Bearer eyJhbGciOiJIUzI1NiJ9+.e30.x"),
	    AUTH_MALFORMED);
	assert_int_equal(verify_text("Bearer eyJhbGciOiJIUzI1NiJ9.e30=.x"),
	    AUTH_MALFORMED);
	/* A length no encoding produces (4n + 1). */
	assert_int_equal(verify_text("Bearer eyJhbGciOiJIUzI1NiJ9a.e30.x"),
	    AUTH_MALFORMED);
}

/* "Bearer <h64>.<p64>.<signature>" over already-encoded parts. */
static char *
sign_encoded(const char *h64, const char *p64, const char *secret)
{
	char *out = calloc(1, 64 + strlen(h64) + strlen(p64));
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	/* An explicit return, so the compiler also knows 'out' is set. */
	if (out == NULL) {
		fail();
		return NULL;
	}
	sprintf(out, "Bearer %s.%s", h64, p64);
	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)out + 7, strlen(out + 7), mac, &mac_len));
	strcat(out, ".");
	b64url_append(out, mac, mac_len);
	return out;
}

static void
test_non_canonical_base64url_rejected(void **state)
{
	(void)state;
	char h64[64] = "";
	b64url_append(h64, HS256, strlen(HS256));
	/* "{}" is e30; e31 decodes to the same bytes with stray low bits.
	 * "{}" decodes and parses, and then lacks an exp. */
	char *h = sign_encoded(h64, "e30", SECRET);
	assert_int_equal(verify_text(h), AUTH_NO_EXPIRY);
	free(h);
	h = sign_encoded(h64, "e31", SECRET);
	assert_int_equal(verify_text(h), AUTH_MALFORMED);
	free(h);
}

static void
test_header_not_json_object(void **state)
{
	(void)state;
	assert_int_equal(verify_header("not json"), AUTH_MALFORMED);
	assert_int_equal(verify_header("[\"HS256\"]"), AUTH_MALFORMED);
	assert_int_equal(verify_header(HS256 " trailing"), AUTH_MALFORMED);
}

static void
test_token_too_long(void **state)
{
	(void)state;
	char payload[AUTH_TOKEN_MAX];
	int n = snprintf(payload, sizeof(payload),
	    "{\"sub\":\"u\"," EXP_OK ",\"pad\":\"");
	memset(payload + n, 'a', 6200 - (size_t)n);
	strcpy(payload + 6200, "\"}");
	char *h = make_bearer(HS256, payload, SECRET);
	assert_true(strlen(h) - 7 > AUTH_TOKEN_MAX);
	assert_int_equal(verify_text(h), AUTH_MALFORMED);
	free(h);
	/* Over the cap in total although each part is under it. */
	char header[3200];
	n = snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"");
	memset(header + n, 'k', 3100 - (size_t)n);
	strcpy(header + 3100, "\"}");
	strcpy(payload + 3100, "\"}");
	h = make_bearer(header, payload, SECRET);
	assert_true(strlen(h) - 7 > AUTH_TOKEN_MAX);
	assert_true(strlen(h) - 7 < AUTH_TOKEN_MAX + 200);
	assert_int_equal(verify_text(h), AUTH_MALFORMED);
	free(h);
	/* Just under the cap is fine. */
	strcpy(payload + 5900, "\"}");
	h = make_bearer(HS256, payload, SECRET);
	assert_true(strlen(h) - 7 <= AUTH_TOKEN_MAX);
	assert_int_equal(verify_text(h), AUTH_OK);
	free(h);
}

/* ---- algorithm ----------------------------------------------------- */

static void
test_alg_none_rejected(void **state)
{
	(void)state;
	char buf[256] = "Bearer ";
	const char *hdr = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
	const char *payload = "{\"sub\":\"admin\"}";
	b64url_append(buf, hdr, strlen(hdr));
	strcat(buf, ".");
	b64url_append(buf, payload, strlen(payload));
	strcat(buf, ".");
	assert_int_equal(verify_text(buf), AUTH_BAD_ALG);
	assert_string_equal(sub, "");
}

static void
test_other_algs_rejected(void **state)
{
	(void)state;
	assert_int_equal(verify_header("{\"alg\":\"HS512\"}"), AUTH_BAD_ALG);
	assert_int_equal(verify_header("{\"alg\":\"RS256\"}"), AUTH_BAD_ALG);
	assert_int_equal(verify_header("{\"alg\":\"hs256\"}"), AUTH_BAD_ALG);
	assert_int_equal(verify_header("{\"typ\":\"JWT\"}"), AUTH_BAD_ALG);
	assert_int_equal(verify_header("{\"alg\":256}"), AUTH_BAD_ALG);
}

static void
test_crit_header_rejected(void **state)
{
	(void)state;
	assert_int_equal(verify_header("{\"alg\":\"HS256\",\"crit\":[\"x\"]}"),
	    AUTH_MALFORMED);
}

/* ---- signature ----------------------------------------------------- */

static void
test_built_token_verifies(void **state)
{
	(void)state;
	assert_int_equal(verify_claims("{\"sub\":\"user-42\",\"exp\":1800000600}"),
	    AUTH_OK);
	assert_string_equal(sub, "user-42");
}

static void
test_wrong_secret(void **state)
{
	(void)state;
	char *h = make_bearer(HS256, "{\"sub\":\"u\"}", "another-secret-of-32-bytes-000000");
	assert_int_equal(verify_text(h), AUTH_BAD_SIGNATURE);
	free(h);
}

static void
test_tampered_payload(void **state)
{
	(void)state;
	char *good = make_bearer(HS256, "{\"sub\":\"alice\"}", SECRET);
	char *evil = make_bearer(HS256, "{\"sub\":\"admin\"}", SECRET);
	char buf[512];
	/* evil's header and payload with good's signature */
	snprintf(buf, sizeof(buf), "%.*s%s", (int)(strrchr(evil, '.') - evil),
	    evil, strrchr(good, '.'));
	assert_int_equal(verify_text(buf), AUTH_BAD_SIGNATURE);
	free(good);
	free(evil);
}

static void
test_tampered_or_truncated_signature(void **state)
{
	(void)state;
	char *h = make_bearer(HS256, "{\"sub\":\"u\"}", SECRET);
	size_t n = strlen(h);
	h[n - 2] = h[n - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(verify_text(h), AUTH_BAD_SIGNATURE);
	h[n - 1] = '\0';
	assert_int_equal(verify_text(h), AUTH_BAD_SIGNATURE);
	free(h);
}

static void
test_no_secret_refuses_everything(void **state)
{
	(void)state;
	char *h = make_bearer(HS256, "{\"sub\":\"u\"}", SECRET);
	assert_int_equal(auth_verify_bearer(NULL, h, NOW, sub, sizeof(sub)),
	    AUTH_BAD_SIGNATURE);
	assert_int_equal(auth_verify_bearer("", h, NOW, sub, sizeof(sub)),
	    AUTH_BAD_SIGNATURE);
	free(h);
}

static void
test_signature_checked_before_claims(void **state)
{
	(void)state;
	char *h = make_bearer(HS256, "{\"exp\":1}", "not-the-secret");
	assert_int_equal(verify_text(h), AUTH_BAD_SIGNATURE);
	free(h);
	/* A payload that is not JSON, correctly signed, is malformed. */
	h = make_bearer(HS256, "not json", SECRET);
	assert_int_equal(verify_text(h), AUTH_MALFORMED);
	free(h);
}

/* ---- claims -------------------------------------------------------- */

static void
test_expired(void **state)
{
	(void)state;
	char p[64];
	snprintf(p, sizeof(p), "{\"exp\":%lld}", (long long)NOW - AUTH_LEEWAY);
	assert_int_equal(verify_claims(p), AUTH_EXPIRED);
	snprintf(p, sizeof(p), "{\"exp\":%lld}", (long long)NOW - AUTH_LEEWAY + 1);
	assert_int_equal(verify_claims(p), AUTH_OK);
	snprintf(p, sizeof(p), "{\"exp\":%lld}", (long long)NOW - 3600);
	assert_int_equal(verify_claims(p), AUTH_EXPIRED);
}

static void
test_not_yet_valid(void **state)
{
	(void)state;
	char p[64];
	snprintf(p, sizeof(p), "{" EXP_OK ",\"nbf\":%lld}",
	    (long long)NOW + AUTH_LEEWAY + 1);
	assert_int_equal(verify_claims(p), AUTH_NOT_YET);
	snprintf(p, sizeof(p), "{" EXP_OK ",\"nbf\":%lld}",
	    (long long)NOW + AUTH_LEEWAY);
	assert_int_equal(verify_claims(p), AUTH_OK);
}

static void
test_claims_of_wrong_type(void **state)
{
	(void)state;
	assert_int_equal(verify_claims("{\"exp\":\"1900000000\"}"), AUTH_MALFORMED);
	assert_int_equal(verify_claims("{" EXP_OK ",\"nbf\":null}"),
	    AUTH_MALFORMED);
	assert_int_equal(verify_claims("{" EXP_OK ",\"sub\":42}"),
	    AUTH_MALFORMED);
	assert_int_equal(verify_claims("[1,2]"), AUTH_MALFORMED);
}

static void
test_sub_too_long_for_buffer(void **state)
{
	(void)state;
	char small[4];
	char *h = make_bearer(HS256, "{\"sub\":\"abcd\"," EXP_OK "}", SECRET);
	assert_int_equal(auth_verify_bearer(SECRET, h, NOW, small, sizeof(small)),
	    AUTH_MALFORMED);
	assert_string_equal(small, "");
	assert_int_equal(auth_verify_bearer(SECRET, h, NOW, NULL, 0), AUTH_OK);
	free(h);
}


/* A token without exp would be valid forever. */
static void
test_exp_required(void **state)
{
	(void)state;
	assert_int_equal(verify_claims("{\"sub\":\"u\"}"), AUTH_NO_EXPIRY);
	assert_string_equal(sub, "");
	assert_int_equal(verify_claims("{\"sub\":\"u\",\"nbf\":1}"),
	    AUTH_NO_EXPIRY);
	assert_int_equal(verify_claims("{\"sub\":\"u\",\"exp\":null}"),
	    AUTH_MALFORMED);
}

/* Each payload, signed, is AUTH_MALFORMED and leaves no subject. */
static void
expect_all_malformed(const char *const *bad, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		enum auth_err e = verify_claims(bad[i]);
		if (e != AUTH_MALFORMED)
			print_error("payload %s: got %d\n", bad[i], e);
		assert_int_equal(e, AUTH_MALFORMED);
		assert_string_equal(sub, "");
	}
}

/* exp, nbf and iat are JSON integers: no NaN (which never compares as
 * expired), no fraction, no string, nothing json-c would saturate. */
static void
test_time_claims_must_be_integers(void **state)
{
	static const char *bad[] = {
		"{\"exp\":NaN}",
		"{\"exp\":Infinity}",
		"{\"exp\":-Infinity}",
		"{\"exp\":1800000600.0}",
		"{\"exp\":1.8000006e9}",
		"{\"exp\":1e400}",
		"{\"exp\":9223372036854775808}",
		"{\"exp\":18446744073709551616}",
		"{\"exp\":\"1800000600\"}",
		"{\"exp\":true}",
		"{" EXP_OK ",\"nbf\":1.5}",
		"{" EXP_OK ",\"nbf\":\"0\"}",
		"{" EXP_OK ",\"iat\":1.5}",
		"{" EXP_OK ",\"iat\":\"now\"}",
		"{" EXP_OK ",\"iat\":NaN}",
	};

	(void)state;
	expect_all_malformed(bad, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(verify_claims("{\"sub\":\"u\"," EXP_OK
	    ",\"nbf\":1,\"iat\":1799999999}"), AUTH_OK);
	assert_int_equal(verify_claims("{\"sub\":\"u\","
	    "\"exp\":9223372036854775807}"), AUTH_OK);
	assert_int_equal(verify_claims("{\"exp\":-9223372036854775808}"),
	    AUTH_EXPIRED);
}

/* The subject names the user whose sandbox the request reaches: a NUL
 * would cut it short ("alice\u0000bob" read as "alice"), a control
 * character would forge a log line, an empty one names nobody. */
static void
test_sub_with_nul_or_control_refused(void **state)
{
	static const char *bad[] = {
		"{" EXP_OK ",\"sub\":\"alice\\u0000bob\"}",
		"{" EXP_OK ",\"sub\":\"alice\\nbob\"}",
		"{" EXP_OK ",\"sub\":\"alice\\u001b[1m\"}",
		"{" EXP_OK ",\"sub\":\"alice\\u007f\"}",
		"{" EXP_OK ",\"sub\":\"\"}",
		"{" EXP_OK ",\"sub\":\"\\ud800\"}",
		"{" EXP_OK ",\"sub\":\"\xc0\xaf\"}",
	};

	(void)state;
	expect_all_malformed(bad, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(verify_claims("{" EXP_OK ",\"sub\":\"j\\u00f6rg\"}"),
	    AUTH_OK);
	assert_string_equal(sub, "j\xc3\xb6rg");
}

static void
test_strerror(void **state)
{
	(void)state;
	for (int i = 0; i <= AUTH__MAX; i++)
		assert_non_null(auth_strerror((enum auth_err)i));
	assert_string_equal(auth_strerror(AUTH_EXPIRED), "token expired");
	assert_string_not_equal(auth_strerror(AUTH_MISSING),
	    auth_strerror(AUTH_MALFORMED));
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_jwtio_example_refused_without_exp),
		T(test_jwtio_example_wrong_secret),
		T(test_rfc7515_example_verifies_before_exp),
		T(test_rfc7515_example_expiry_leeway),
		T(test_missing_header),
		T(test_not_bearer_scheme),
		T(test_scheme_case_and_spacing_tolerated),
		T(test_wrong_number_of_parts),
		T(test_bad_base64url),
		T(test_non_canonical_base64url_rejected),
		T(test_header_not_json_object),
		T(test_token_too_long),
		T(test_alg_none_rejected),
		T(test_other_algs_rejected),
		T(test_crit_header_rejected),
		T(test_built_token_verifies),
		T(test_wrong_secret),
		T(test_tampered_payload),
		T(test_tampered_or_truncated_signature),
		T(test_no_secret_refuses_everything),
		T(test_signature_checked_before_claims),
		T(test_expired),
		T(test_not_yet_valid),
		T(test_claims_of_wrong_type),
		T(test_sub_too_long_for_buffer),
		T(test_exp_required),
		T(test_time_claims_must_be_integers),
		T(test_sub_with_nul_or_control_refused),
		T(test_strerror),
	};
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
