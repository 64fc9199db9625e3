/*
 * jwt_token.h -- building HS256 bearer tokens in unit tests, with OpenSSL
 * directly rather than app/auth.c, so the tests check Omni's verifier
 * against an independent signer.  Header-only: each test file that
 * includes it gets its own static copy.  Needs cmocka.h included first.
 */
#ifndef OMNI_TEST_JWT_TOKEN_H
#define OMNI_TEST_JWT_TOKEN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Unpadded base64url of 'n' bytes of 'in' into 'out' (NUL-terminated). */
static void jwt_b64url(const unsigned char *in, size_t n, char *out,
    size_t outlen)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			assert_true(o + 1 < outlen);
			out[o++] = a[(acc >> bits) & 63];
		}
	}
	if (bits > 0) {
		assert_true(o + 1 < outlen);
		out[o++] = a[(acc << (6 - bits)) & 63];
	}
	out[o] = '\0';
}

/* The FastCGI param "HTTP_AUTHORIZATION=Bearer <token>" for an HS256
 * token over the JSON 'payload', signed with 'key'. */
static void jwt_bearer_param(char *out, size_t outlen, const char *payload,
    const char *key)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char h[128], p[512], sig64[64], input[700];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	jwt_b64url((const unsigned char *)header, strlen(header), h,
	    sizeof(h));
	jwt_b64url((const unsigned char *)payload, strlen(payload), p,
	    sizeof(p));
	snprintf(input, sizeof(input), "%s.%s", h, p);
	assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key),
	    (const unsigned char *)input, strlen(input), mac, &maclen));
	assert_int_equal(maclen, 32);
	jwt_b64url(mac, maclen, sig64, sizeof(sig64));
	snprintf(out, outlen, "HTTP_AUTHORIZATION=Bearer %s.%s", input,
	    sig64);
}

#endif
