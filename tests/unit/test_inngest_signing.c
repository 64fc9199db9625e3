/*
 * test_inngest_signing.c -- signatures and key hashes (inngest_signing.h)
 * and step id hashing, against the SDK spec's vectors (4.1.4 signing-key
 * hash, 5.1.2 step ids) and HMACs computed independently (Python's hmac
 * module) for fixed keys, bodies and timestamps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>

#include "inngest_signing.h"
#include "inngest_step.h"

/* The body inngestgo's signature tests use, with two spaces after "!". */
static const char body[] = "{\"msg\": \"hey!  if you're reading this come "
    "work with us: careers@inngest.com\"}";
/* Its JCS form: the space after the colon is gone. */
static const char body_jcs[] = "{\"msg\":\"hey!  if you're reading this "
    "come work with us: careers@inngest.com\"}";
#define KEY      "signkey-test-12345678"
#define FALLBACK "signkey-test-00000000"
#define TS       INT64_C(1705586504)
/* hex(HMAC-SHA256("12345678", body || "1705586504")) */
#define RAW_MAC \
    "56d85effc7a66ea8d1d3aa452354f1e0d80b2f36e5b91884b7061bf224aa2236"
/* hex(HMAC-SHA256("12345678", body_jcs || "1705586504")) */
#define JCS_MAC \
    "96b8833e13208af009d6e60aa7ea416044f94c1e2018dfdb3fbd4756d78698e5"

static enum ing_sig_err verify(const char *hdr, const char *b, const char *key,
    const char *fb, int64_t now, int *which)
{
	return ing_signature_verify(hdr, b, strlen(b), key, fb, now, which);
}

static void test_step_id_hash_spec_vector(void **state)
{
	char h[ING_STEP_HASH_LEN];

	(void)state;
	assert_int_equal(ing_step_hash("my-step-id", 0, h), 0);
	assert_string_equal(h, "e7d8a2f140845095749d60246ff1110c9d01d76a");
}

static void test_step_id_repeats_hash_with_suffix(void **state)
{
	char h[ING_STEP_HASH_LEN];

	(void)state;
	/* sha1("my-step-id:1"), sha1("my-step-id:2") */
	assert_int_equal(ing_step_hash("my-step-id", 1, h), 0);
	assert_string_equal(h, "f47c6228c581af870aa285200cf95ec3ac59bb6a");
	assert_int_equal(ing_step_hash("my-step-id", 2, h), 0);
	assert_string_equal(h, "5fdb32cd3e6e3d62fa480ac2ad526b79c2682845");
}

static void test_signing_key_hash_spec_vector(void **state)
{
	char out[ING_KEY_HASH_LEN];

	(void)state;
	assert_int_equal(ing_signing_key_hash("signkey-prod-12345678", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "signkey-prod-b2ed992186a5cb19f6668aade821f5"
	    "02c1d00970dfd0e35128d51bac4649916c");
	/* Without a prefix the bare hash comes back. */
	assert_int_equal(ing_signing_key_hash("12345678", out, sizeof(out)),
	    0);
	assert_string_equal(out, "b2ed992186a5cb19f6668aade821f502c1d00970df"
	    "d0e35128d51bac4649916c");
}

static void test_signing_key_hash_rejects_non_hex(void **state)
{
	char out[ING_KEY_HASH_LEN];

	(void)state;
	assert_int_equal(ing_signing_key_hash("signkey-test-lolwtf", out,
	    sizeof(out)), -1);
	assert_int_equal(ing_signing_key_hash("signkey-test-123", out,
	    sizeof(out)), -1);
	assert_int_equal(ing_signing_key_hash("signkey-test-", out,
	    sizeof(out)), -1);
	assert_int_equal(ing_signing_key_hash("signkey-prod-12345678", out,
	    20), -1);
}

static void test_prefix_length(void **state)
{
	(void)state;
	assert_int_equal(ing_signing_key_prefix_len("signkey-prod-abc"), 13);
	assert_int_equal(ing_signing_key_prefix_len("signkey-branch_1-ab"), 17);
	assert_int_equal(ing_signing_key_prefix_len("signkey--abc"), 0);
	assert_int_equal(ing_signing_key_prefix_len("signkey-prod"), 0);
	assert_int_equal(ing_signing_key_prefix_len("12345678"), 0);
}

static void test_sign_matches_independent_hmac(void **state)
{
	char hex[65], hdr[ING_SIG_HEADER_LEN];

	(void)state;
	assert_int_equal(ing_sign_hex(KEY, body, strlen(body), TS, hex), 0);
	assert_string_equal(hex, RAW_MAC);
	/* The prefix is not part of the key. */
	assert_int_equal(ing_sign_hex("12345678", body, strlen(body), TS,
	    hex), 0);
	assert_string_equal(hex, RAW_MAC);
	assert_int_equal(ing_signature_make(KEY, body, strlen(body), TS, hdr,
	    sizeof(hdr)), 0);
	assert_string_equal(hdr, "t=1705586504&s=" RAW_MAC);
}

/* hex HMAC-SHA256 by OpenSSL's one-shot call: the reference. */
static void one_shot(const char *secret, const char *msg, char out[65])
{
	unsigned char mac[32];
	unsigned int len = 0;

	assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)msg, strlen(msg), mac, &len));
	assert_int_equal(len, 32);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* Three keys over two kept contexts a thread: every MAC, whether its key's
 * context was kept, replaced or new, equals the one-shot reference. */
static void *mac_rounds(void *arg)
{
	static const char *keys[] = { KEY, FALLBACK,
	    "signkey-prod-abcdef0123456789" };
	static const char *bodies[] = { body, body_jcs, "{}", "" };
	char got[65], want[65], msg[256];

	(void)arg;
	for (int round = 0; round < 3; round++)
		for (size_t k = 0; k < 3; k++)
			for (size_t b = 0; b < 4; b++) {
				assert_int_equal(ing_sign_hex(keys[k],
				    bodies[b], strlen(bodies[b]), TS + round,
				    got), 0);
				snprintf(msg, sizeof(msg), "%s%lld", bodies[b],
				    (long long)(TS + round));
				one_shot(keys[k] + 13, msg, want);
				assert_string_equal(got, want);
			}
	return NULL;
}

static void test_kept_contexts_match_fresh_macs(void **state)
{
	pthread_t t;
	char hex[65];

	(void)state;
	mac_rounds(NULL);
	assert_int_equal(pthread_create(&t, NULL, mac_rounds, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* And the spec vector still holds after all that. */
	assert_int_equal(ing_sign_hex(KEY, body, strlen(body), TS, hex), 0);
	assert_string_equal(hex, RAW_MAC);
}

static void test_verify_raw_body_within_window(void **state)
{
	int which = -1;

	(void)state;
	assert_int_equal(verify("t=1705586504&s=" RAW_MAC, body, KEY, NULL,
	    TS + 5, &which), ING_SIG_OK);
	assert_int_equal(which, 0);
}

static void test_verify_accepts_signature_over_jcs_form(void **state)
{
	(void)state;
	/* The official SDKs sign the canonical form; the bytes we got
	 * differ from it by one space. */
	assert_int_equal(verify("t=1705586504&s=" JCS_MAC, body, KEY, NULL,
	    TS, NULL), ING_SIG_OK);
	assert_int_equal(verify("t=1705586504&s=" JCS_MAC, body_jcs, KEY,
	    NULL, TS, NULL), ING_SIG_OK);
}

static void test_verify_rejects_expired_and_future(void **state)
{
	(void)state;
	assert_int_equal(verify("t=1705586504&s=" RAW_MAC, body, KEY, NULL,
	    TS + ING_SIG_MAX_SKEW_S + 1, NULL), ING_SIG_EEXPIRED);
	assert_int_equal(verify("t=1705586504&s=" RAW_MAC, body, KEY, NULL,
	    TS - ING_SIG_MAX_SKEW_S - 1, NULL), ING_SIG_EEXPIRED);
	assert_int_equal(verify("t=1705586504&s=" RAW_MAC, body, KEY, NULL,
	    TS + ING_SIG_MAX_SKEW_S, NULL), ING_SIG_OK);
}

static void test_verify_uses_fallback_key(void **state)
{
	char hdr[ING_SIG_HEADER_LEN];
	int which = -1;

	(void)state;
	assert_int_equal(ing_signature_make(FALLBACK, body, strlen(body), TS,
	    hdr, sizeof(hdr)), 0);
	assert_int_equal(verify(hdr, body, KEY, FALLBACK, TS, &which),
	    ING_SIG_OK);
	assert_int_equal(which, 1);
	assert_int_equal(verify(hdr, body, KEY, NULL, TS, NULL),
	    ING_SIG_EMISMATCH);
	/* Only the fallback configured still works. */
	assert_int_equal(verify(hdr, body, NULL, FALLBACK, TS, &which),
	    ING_SIG_OK);
}

static void test_verify_rejects_wrong_key_and_tampered_body(void **state)
{
	(void)state;
	assert_int_equal(verify("t=1705586504&s=" RAW_MAC, body,
	    "signkey-test-lolwtf", NULL, TS, NULL), ING_SIG_EMISMATCH);
	assert_int_equal(verify("t=1705586504&s=" RAW_MAC, "{\"msg\":1}", KEY,
	    NULL, TS, NULL), ING_SIG_EMISMATCH);
	/* A changed timestamp changes the MAC. */
	assert_int_equal(verify("t=1705586505&s=" RAW_MAC, body, KEY, NULL,
	    TS, NULL), ING_SIG_EMISMATCH);
	/* Upper-case hex is not the signature we computed. */
	assert_int_equal(verify("t=1705586504&s=56D85EFFC7A66EA8D1D3AA452354F1"
	    "E0D80B2F36E5B91884B7061BF224AA2236", body, KEY, NULL, TS, NULL),
	    ING_SIG_EMISMATCH);
}

static void test_verify_malformed_headers(void **state)
{
	(void)state;
	assert_int_equal(verify("lol", body, KEY, NULL, TS, NULL),
	    ING_SIG_EMALFORMED);
	assert_int_equal(verify("t=what&s=yea", body, KEY, NULL, TS, NULL),
	    ING_SIG_EMALFORMED);
	assert_int_equal(verify("s=" RAW_MAC, body, KEY, NULL, TS, NULL),
	    ING_SIG_EMALFORMED);
	assert_int_equal(verify("t=-1705586504&s=ab", body, KEY, NULL, TS,
	    NULL), ING_SIG_EMALFORMED);
	assert_int_equal(verify("", body, KEY, NULL, TS, NULL),
	    ING_SIG_EMISSING);
	assert_int_equal(verify(NULL, body, KEY, NULL, TS, NULL),
	    ING_SIG_EMISSING);
}

static void test_verify_without_keys_fails_closed(void **state)
{
	char hdr[ING_SIG_HEADER_LEN];

	(void)state;
	/* Signed with an empty key: still refused when none is set. */
	assert_int_equal(ing_signature_make("", body, strlen(body), TS, hdr,
	    sizeof(hdr)), 0);
	assert_int_equal(verify(hdr, body, NULL, NULL, TS, NULL),
	    ING_SIG_ENOKEY);
	assert_int_equal(verify(hdr, body, "", "", TS, NULL), ING_SIG_ENOKEY);
}

static void test_verify_empty_body_for_get(void **state)
{
	char hdr[ING_SIG_HEADER_LEN];

	(void)state;
	assert_int_equal(ing_signature_make(KEY, "", 0, TS, hdr, sizeof(hdr)),
	    0);
	assert_int_equal(ing_signature_verify(hdr, "", 0, KEY, NULL, TS, NULL),
	    ING_SIG_OK);
	assert_int_equal(ing_signature_verify(hdr, NULL, 0, KEY, NULL, TS,
	    NULL), ING_SIG_OK);
}

static void test_event_key_hash(void **state)
{
	char out[65];

	(void)state;
	assert_int_equal(ing_event_key_hash("evtkey", out), 0);
	/* sha256("evtkey") */
	assert_string_equal(out, "4f2565cbe6f0084af01660dbf3d74242d15fe6b596df"
	    "76704554ceeaad6f75a8");
}

static void test_strerror_total(void **state)
{
	(void)state;
	for (int i = 0; i <= ING_SIG__MAX; i++)
		assert_non_null(ing_sig_strerror((enum ing_sig_err)i));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_step_id_hash_spec_vector),
		cmocka_unit_test(test_step_id_repeats_hash_with_suffix),
		cmocka_unit_test(test_signing_key_hash_spec_vector),
		cmocka_unit_test(test_signing_key_hash_rejects_non_hex),
		cmocka_unit_test(test_prefix_length),
		cmocka_unit_test(test_sign_matches_independent_hmac),
		cmocka_unit_test(test_kept_contexts_match_fresh_macs),
		cmocka_unit_test(test_verify_raw_body_within_window),
		cmocka_unit_test(test_verify_accepts_signature_over_jcs_form),
		cmocka_unit_test(test_verify_rejects_expired_and_future),
		cmocka_unit_test(test_verify_uses_fallback_key),
		cmocka_unit_test(test_verify_rejects_wrong_key_and_tampered_body),
		cmocka_unit_test(test_verify_malformed_headers),
		cmocka_unit_test(test_verify_without_keys_fails_closed),
		cmocka_unit_test(test_verify_empty_body_for_get),
		cmocka_unit_test(test_event_key_hash),
		cmocka_unit_test(test_strerror_total),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
