/*
 * signing.c -- X-Inngest-Signature checks and key hashes (see
 * inngest_signing.h for the rules).
 *
 * Everything secret stays in stack buffers that are cleansed before
 * returning; nothing is logged.
 */
#include <ctype.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_internal.h"
#include "inngest_jcs.h"
#include "inngest_signing.h"

const char *ing_sig_strerror(enum ing_sig_err err)
{
	switch (err) {
	case ING_SIG_OK:
		return "valid signature";
	case ING_SIG_ENOKEY:
		return "no signing key configured";
	case ING_SIG_EMISSING:
		return "missing X-Inngest-Signature";
	case ING_SIG_EMALFORMED:
		return "malformed X-Inngest-Signature";
	case ING_SIG_EEXPIRED:
		return "signature timestamp outside the allowed window";
	case ING_SIG_EMISMATCH:
		return "invalid signature";
	case ING_SIG_ENOMEM:
		return "out of memory";
	case ING_SIG__MAX:
		break;
	}
	return "unknown error";
}

static int is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

size_t ing_signing_key_prefix_len(const char *key)
{
	static const char pfx[] = "signkey-";
	size_t i = sizeof(pfx) - 1;

	if (key == NULL || strncmp(key, pfx, i) != 0 || !is_word(key[i]))
		return 0;
	while (is_word(key[i]))
		i++;
	return key[i] == '-' ? i + 1 : 0;
}

/*
 * The HMAC implementation, fetched once per process: a fetch searches
 * OpenSSL's provider tables and cost more than the MAC of a call body.
 * The object is shared read-only by every thread (OpenSSL allows that) and
 * kept for the life of the process.
 */
static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
	hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static EVP_MAC *hmac_algorithm(void)
{
	pthread_once(&hmac_once, fetch_hmac);
	return hmac_impl;
}

/* HMAC over the two parts body || ts. */
static int hmac2(const char *key, const void *body, size_t len, const char *ts,
    char out[65])
{
	const char *secret = key + ing_signing_key_prefix_len(key);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	EVP_MAC *m;
	EVP_MAC_CTX *c = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int ok = 0;

	if ((m = hmac_algorithm()) == NULL)
		return -1;
	c = EVP_MAC_CTX_new(m);
	params[0] = OSSL_PARAM_construct_utf8_string("digest",
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (c != NULL &&
	    EVP_MAC_init(c, (const unsigned char *)secret, strlen(secret),
	    params) == 1 &&
	    (len == 0 || EVP_MAC_update(c, body, len) == 1) &&
	    EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_final(c, mac, &outl, sizeof(mac)) == 1 && outl == 32)
		ok = 1;
	maclen = (unsigned int)outl;
	EVP_MAC_CTX_free(c);
	if (!ok)
		return -1;
	ing_hex_encode(mac, maclen, out, 0);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int ing_sign_hex(const char *key, const void *body, size_t len, int64_t ts,
    char out[65])
{
	char tsbuf[24];

	if (key == NULL)
		return -1;
	snprintf(tsbuf, sizeof(tsbuf), "%" PRId64, ts);
	return hmac2(key, body, len, tsbuf, out);
}

int ing_signature_make(const char *key, const void *body, size_t len,
    int64_t ts, char *buf, size_t buflen)
{
	char hex[65];
	int n;

	if (ing_sign_hex(key, body, len, ts, hex) != 0)
		return -1;
	n = snprintf(buf, buflen, "t=%" PRId64 "&s=%s", ts, hex);
	return n > 0 && (size_t)n < buflen ? 0 : -1;
}

/*
 * Parse "t=<digits>&s=<hex>" (any order, first occurrence wins, other
 * pairs ignored) into the timestamp text and the signature.
 */
static enum ing_sig_err parse_header(const char *h, char *ts, size_t tslen,
    char *sig, size_t siglen)
{
	int have_t = 0, have_s = 0;
	const char *p = h;

	while (*p != '\0') {
		const char *end = strchr(p, '&');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

		if (n > 2 && p[1] == '=' && (p[0] == 't' || p[0] == 's')) {
			int is_t = p[0] == 't';
			char *dst = is_t ? ts : sig;
			size_t cap = is_t ? tslen : siglen;

			if (!(is_t ? have_t : have_s)) {
				if (n - 2 >= cap)
					return ING_SIG_EMALFORMED;
				memcpy(dst, p + 2, n - 2);
				dst[n - 2] = '\0';
				if (is_t)
					have_t = 1;
				else
					have_s = 1;
			}
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	if (!have_t || !have_s)
		return ING_SIG_EMALFORMED;
	for (const char *q = ts; *q != '\0'; q++)
		if (!isdigit((unsigned char)*q))
			return ING_SIG_EMALFORMED;
	if (strlen(ts) > 18)
		return ING_SIG_EMALFORMED;
	return ING_SIG_OK;
}

/*
 * 1 if 'sig' is the hex HMAC of 'msg' || 'ts' under 'key', 0 if not, -1 on
 * a crypto library failure.  Constant time in the compared bytes; the
 * lengths are public (64 hex digits).
 */
static int mac_matches(const char *key, const void *msg, size_t len,
    const char *ts, const char *sig)
{
	char mac[65];
	int rc;

	if (hmac2(key, msg, len, ts, mac) != 0)
		return -1;
	rc = strlen(sig) == 64 && CRYPTO_memcmp(mac, sig, 64) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* The body's RFC 8785 form when it differs from the raw bytes, else NULL
 * (not JSON, or already canonical: nothing more to try). */
static char *canonical_form(const void *body, size_t len, size_t *clen)
{
	char *canon = NULL;

	if (len == 0 || ing_jcs_canonicalize(body, len, &canon, clen) !=
	    ING_JCS_OK)
		return NULL;
	if (*clen == len && memcmp(canon, body, len) == 0) {
		free(canon);
		return NULL;
	}
	return canon;
}

enum ing_sig_err ing_signature_verify(const char *header, const void *body,
    size_t len, const char *key, const char *fallback, int64_t now_s,
    int *which)
{
	const char *keys[2] = { key, fallback };
	char ts[24], sig[80], *canon = NULL;
	size_t canon_len = 0;
	int canon_tried = 0, rc = 0;
	enum ing_sig_err err;
	int64_t skew;

	if ((key == NULL || *key == '\0') &&
	    (fallback == NULL || *fallback == '\0'))
		return ING_SIG_ENOKEY;
	if (header == NULL || *header == '\0')
		return ING_SIG_EMISSING;
	err = parse_header(header, ts, sizeof(ts), sig, sizeof(sig));
	if (err != ING_SIG_OK)
		return err;
	skew = now_s - strtoll(ts, NULL, 10);
	if (skew > ING_SIG_MAX_SKEW_S || skew < -ING_SIG_MAX_SKEW_S)
		return ING_SIG_EEXPIRED;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if (keys[i] == NULL || *keys[i] == '\0')
			continue;
		rc = mac_matches(keys[i], body, len, ts, sig);
		/* Canonicalise once, and only when the raw bytes fail. */
		if (rc == 0 && !canon_tried) {
			canon_tried = 1;
			canon = canonical_form(body, len, &canon_len);
		}
		if (rc == 0 && canon != NULL)
			rc = mac_matches(keys[i], canon, canon_len, ts, sig);
		if (rc == 1 && which != NULL)
			*which = i;
	}
	free(canon);
	return rc == 1 ? ING_SIG_OK : rc < 0 ? ING_SIG_ENOMEM :
	    ING_SIG_EMISMATCH;
}

int ing_signing_key_hash(const char *key, char *out, size_t outlen)
{
	size_t plen, slen, n;
	const char *secret;
	unsigned char *bytes, digest[32];
	unsigned int dlen = 0;
	int rc = -1;

	if (key == NULL)
		return -1;
	plen = ing_signing_key_prefix_len(key);
	secret = key + plen;
	slen = strlen(secret);
	if (slen == 0 || slen % 2 != 0 || plen + 65 > outlen)
		return -1;
	n = slen / 2;
	bytes = malloc(n);
	if (bytes == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = isxdigit((unsigned char)secret[2 * i]) ?
		    secret[2 * i] : -1;
		int lo = isxdigit((unsigned char)secret[2 * i + 1]) ?
		    secret[2 * i + 1] : -1;
		char pair[3];

		if (hi < 0 || lo < 0)
			goto out;
		pair[0] = (char)hi;
		pair[1] = (char)lo;
		pair[2] = '\0';
		bytes[i] = (unsigned char)strtoul(pair, NULL, 16);
	}
	if (EVP_Digest(bytes, n, digest, &dlen, EVP_sha256(), NULL) != 1 ||
	    dlen != 32)
		goto out;
	memcpy(out, key, plen);
	ing_hex_encode(digest, 32, out + plen, 0);
	rc = 0;
out:
	OPENSSL_cleanse(bytes, n);
	free(bytes);
	return rc;
}

int ing_event_key_hash(const char *key, char out[65])
{
	unsigned char digest[32];
	unsigned int dlen = 0;

	if (key == NULL ||
	    EVP_Digest(key, strlen(key), digest, &dlen, EVP_sha256(),
	    NULL) != 1 || dlen != 32)
		return -1;
	ing_hex_encode(digest, 32, out, 0);
	return 0;
}
