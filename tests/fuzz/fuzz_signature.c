/*
 * fuzz_signature.c -- libFuzzer harness for X-Inngest-Signature
 * (app/inngest/signing.c, include/inngest_signing.h).
 *
 * ing_signature_verify() runs with a fixed signing key, a fixed fallback
 * key and a fixed clock.  Raw header values rarely carry a valid MAC, so
 * the harness also mints headers for the fuzzed body with its own HMAC
 * (OpenSSL, the key's text after "signkey-<env>-", body then decimal
 * timestamp), valid or deliberately wrong, at a fuzzed clock skew.
 *
 * Input layout:
 *   byte 0   bit 0    0: raw -- the rest is "<header>\n<body>"
 *                     1: mint -- byte 1 is the skew (int8 * 3 s, so
 *                        -384..381 s across the 300 s window), the rest
 *                        the body
 *            bit 1    mint: change one hex digit of the MAC
 *            bit 2    mint: sign with the fallback key
 *            bit 3    mint: sign the body's RFC 8785 form, not its bytes
 *            bit 4    mint: "s=..&t=..&x=1" instead of "t=..&s=.."
 *            bits 5-6 keys configured: 0 key and fallback, 1 key only,
 *                     2 fallback only, 3 none
 *            bit 7    key-hash mode instead: the rest is a signing key for
 *                     ing_signing_key_prefix_len, ing_signing_key_hash,
 *                     ing_event_key_hash and ing_sign_hex
 *   rest     as above (the body is its own allocation, not terminated)
 *
 * Beyond the sanitizers, the harness aborts when:
 *   - ING_SIG_OK comes back for a header whose first t= is not within
 *     300 s of the clock, or whose first s= is not the HMAC (recomputed
 *     here) of the body, or of its canonical form, under the key that
 *     '*which' names, or that key is not configured;
 *   - a minted header with a wrong MAC verifies, or a right one inside
 *     the window does not, or with no key anything but ING_SIG_ENOKEY
 *     comes back;
 *   - the result is out of range or has no text;
 *   - key-hash mode: a prefix longer than the key, a hash that is not the
 *     prefix and 64 lower-case hex digits, a hash of a secret that is not
 *     an even number of hex digits, or a sign_hex that is not our HMAC.
 *
 * With FUZZ_SIGNATURE_VERBOSE set, each result goes to stderr.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "inngest_jcs.h"
#include "inngest_signing.h"
#include "fuzz_util.h"

#define FUZZ_NOW_S 1700000000LL
#define FUZZ_KEY \
	"signkey-test-8ee2262a15e8d3c42d6a840db7af3de2aab08ef632b32a37a687f24b34dba3ff"
#define FUZZ_FALLBACK \
	"signkey-prod-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MAX_IN 8192


/* The secret of a key: the text after "signkey-<word>-", if any. */
static const char *
secret_of(const char *key)
{
	const char *p = key;

	if (strncmp(p, "signkey-", 8) != 0)
		return key;
	p += 8;
	if (!(isalnum((unsigned char)*p) || *p == '_'))
		return key;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	return *p == '-' ? p + 1 : key;
}

/* Our own HMAC-SHA256(secret, body || ts) as lower-case hex. */
static void
our_mac(const char *key, const void *body, size_t len, const char *ts,
    char out[65])
{
	static const char hex[] = "0123456789abcdef";
	const char *secret = secret_of(key);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t tl = strlen(ts);
	unsigned char *msg = malloc(len + tl + 1);
	int ok;

	check(msg != NULL, "out of memory");
	if (len > 0)
		memcpy(msg, body, len);
	memcpy(msg + len, ts, tl);
	ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, len + tl,
	    mac, &maclen) != NULL && maclen == 32;
	free(msg);
	check(ok, "HMAC failed");
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[64] = '\0';
}

/*
 * The first t= and s= of 'h' (pairs split at '&', empty values skipped),
 * as the header's documented grammar says.  0 if either is missing.
 */
static int
first_pairs(const char *h, char *ts, size_t tslen, char *sig, size_t siglen)
{
	int have_t = 0, have_s = 0;

	for (const char *p = h;;) {
		const char *end = strchr(p, '&');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > 2 && p[1] == '=' && (p[0] == 't' || p[0] == 's')) {
			int is_t = p[0] == 't';

			if (!(is_t ? have_t : have_s)) {
				char *dst = is_t ? ts : sig;
				size_t cap = is_t ? tslen : siglen;

				if (n - 2 >= cap)
					return 0;
				memcpy(dst, p + 2, n - 2);
				dst[n - 2] = '\0';
				*(is_t ? &have_t : &have_s) = 1;
			}
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	return have_t && have_s;
}

static void
check_ok(const char *header, const void *body, size_t len, const char *key,
    const char *fallback, int which)
{
	const char *used;
	char ts[64], sig[128], mac[65];
	char *canon = NULL;
	size_t clen = 0;
	long long t;
	int match;

	check(which == 0 || which == 1, "which out of range");
	used = which == 0 ? key : fallback;
	check(used != NULL && *used != '\0', "verified with a missing key");
	check(first_pairs(header, ts, sizeof(ts), sig, sizeof(sig)),
	    "verified without t= and s=");
	check(strlen(ts) > 0 && strlen(ts) <= 18 &&
	    strspn(ts, "0123456789") == strlen(ts),
	    "verified a t= that is not a number");
	t = strtoll(ts, NULL, 10);
	check(t >= FUZZ_NOW_S - ING_SIG_MAX_SKEW_S &&
	    t <= FUZZ_NOW_S + ING_SIG_MAX_SKEW_S,
	    "verified a timestamp outside the window");
	our_mac(used, body, len, ts, mac);
	match = strcmp(mac, sig) == 0;
	if (!match && len > 0 &&
	    ing_jcs_canonicalize(body, len, &canon, &clen) == ING_JCS_OK) {
		our_mac(used, canon, clen, ts, mac);
		match = strcmp(mac, sig) == 0;
	}
	free(canon);
	check(match, "verified a wrong MAC");
}

static void
key_hash_mode(const uint8_t *data, size_t size)
{
	char *key = malloc(size + 1), out[ING_KEY_HASH_LEN], hex[65];
	size_t plen, slen;
	int rc, even_hex;

	if (key == NULL)
		return;
	memcpy(key, data, size);
	key[size] = '\0';
	plen = ing_signing_key_prefix_len(key);
	check(plen <= strlen(key), "prefix longer than the key");
	check(plen == 0 || (strncmp(key, "signkey-", 8) == 0 &&
	    key[plen - 1] == '-'), "prefix is not signkey-<word>-");
	slen = strlen(key + plen);
	even_hex = slen > 0 && slen % 2 == 0 &&
	    strspn(key + plen, "0123456789abcdefABCDEF") == slen;
	memset(out, 'Z', sizeof(out));
	rc = ing_signing_key_hash(key, out, sizeof(out));
	if (rc == 0) {
		check(even_hex, "hashed a secret that is not hex pairs");
		check(memcmp(out, key, plen) == 0, "hash lost the prefix");
		check(strlen(out + plen) == 64 && strspn(out + plen,
		    "0123456789abcdef") == 64, "hash is not 64 hex digits");
	} else {
		check(!even_hex || plen + 65 > sizeof(out),
		    "refused a valid key");
	}
	if (ing_event_key_hash(key, hex) == 0)
		check(strlen(hex) == 64 && strspn(hex, "0123456789abcdef") ==
		    64, "event key hash is not 64 hex digits");
	if (*secret_of(key) != '\0' &&
	    ing_sign_hex(key, data, size, FUZZ_NOW_S, hex) == 0) {
		char ts[24], mine[65];

		snprintf(ts, sizeof(ts), "%lld", FUZZ_NOW_S);
		our_mac(key, data, size, ts, mine);
		check(strcmp(hex, mine) == 0, "ing_sign_hex differs from HMAC");
	}
	free(key);
}

static int verbose;     /* FUZZ_SIGNATURE_VERBOSE set: print each result */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_SIGNATURE_VERBOSE") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[4][2] = {
		{ FUZZ_KEY, FUZZ_FALLBACK },
		{ FUZZ_KEY, NULL },
		{ NULL, FUZZ_FALLBACK },
		{ "", NULL },
	};
	const char *key, *fallback;
	char header[ING_SIG_HEADER_LEN + 64], *hdr = NULL, *body;
	size_t blen;
	enum ing_sig_err err;
	uint8_t flags;
	int which = -1, minted = 0, must_pass = 0, must_fail = 0;

	if (size < 1 || size > MAX_IN)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & 0x80) {
		key_hash_mode(data, size);
		return 0;
	}
	key = keys[(flags >> 5) & 3][0];
	fallback = keys[(flags >> 5) & 3][1];

	if (flags & 1) {
		const char *signer = (flags & 4) ? FUZZ_FALLBACK : FUZZ_KEY;
		long long ts;
		char tsbuf[24], mac[65], *canon = NULL;
		size_t clen = 0;

		if (size < 1)
			return 0;
		ts = FUZZ_NOW_S + (long long)(int8_t)data[0] * 3;
		data++;
		size--;
		blen = size;
		body = malloc(blen > 0 ? blen : 1);
		if (body == NULL)
			return 0;
		if (blen > 0)
			memcpy(body, data, blen);
		snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
		if ((flags & 8) && blen > 0 &&
		    ing_jcs_canonicalize(body, blen, &canon, &clen) ==
		    ING_JCS_OK)
			our_mac(signer, canon, clen, tsbuf, mac);
		else
			our_mac(signer, body, blen, tsbuf, mac);
		free(canon);
		if (flags & 2) /* a different digit, still hex */
			mac[size % 64] = mac[size % 64] == '0' ? '1' : '0';
		if (flags & 16)
			snprintf(header, sizeof(header), "s=%s&t=%s&x=1", mac,
			    tsbuf);
		else
			snprintf(header, sizeof(header), "t=%s&s=%s", tsbuf,
			    mac);
		hdr = header;
		minted = 1;
		must_fail = (flags & 2) != 0;
		/* The signer's key is configured and the time is in the
		 * window: it must pass. */
		must_pass = !must_fail &&
		    ts >= FUZZ_NOW_S - ING_SIG_MAX_SKEW_S &&
		    ts <= FUZZ_NOW_S + ING_SIG_MAX_SKEW_S &&
		    (!(flags & 4) ? key != NULL && *key != '\0' :
		    fallback != NULL && *fallback != '\0');
	} else {
		if (fuzz_split_line(data, size, &hdr, &body, &blen) != 0)
			return 0;
	}

	err = ing_signature_verify(hdr, blen > 0 ? body : NULL, blen, key,
	    fallback, FUZZ_NOW_S, &which);
	check((unsigned)err < ING_SIG__MAX, "result out of range");
	if (verbose)
		fprintf(stderr, "%s (which %d)\n", ing_sig_strerror(err),
		    which);
	check(ing_sig_strerror(err) != NULL, "no text for the result");
	if ((key == NULL || *key == '\0') &&
	    (fallback == NULL || *fallback == '\0'))
		check(err == ING_SIG_ENOKEY, "no key but not ENOKEY");
	if (err == ING_SIG_OK)
		check_ok(hdr, body, blen, key, fallback, which);
	if (must_fail)
		check(err != ING_SIG_OK, "a changed MAC verified");
	if (must_pass) {
		if (err != ING_SIG_OK)
			fprintf(stderr, "header %s: %s\n", hdr,
			    ing_sig_strerror(err));
		check(err == ING_SIG_OK, "a valid signature was refused");
	}
	if (!minted)
		free(hdr);
	free(body);
	return 0;
}
