/*
 * signing.c -- X-Inngest-Signature checks and key hashes (see
 * inngest_signing.h for the rules).
 *
 * Secrets in stack buffers are cleansed before returning; the one copy
 * kept is the per-thread keyed HMAC below, freed with its thread.  Nothing
 * is logged.
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

/*
 * Each thread keeps the HMAC contexts of the last two secrets it used
 * (the signing key and its fallback), keyed and ready: a call then pays
 * neither a context's allocation and digest set-up nor the key's two pad
 * blocks, only the reset (EVP_MAC_init without a key keeps the key).  The
 * contexts hold key material, as the configuration does; they are freed
 * (and cleansed by OpenSSL) when the thread ends.  Without thread-local
 * storage every MAC is made from scratch.
 */
#define MAC_CACHE_SLOTS 2

struct keyed_mac {
	char *secret;         /* a copy, to tell the keys apart */
	size_t len;
	EVP_MAC_CTX *ctx;
};

struct mac_cache {
	struct keyed_mac slot[MAC_CACHE_SLOTS];
	unsigned next;        /* the slot a new key replaces */
};

static pthread_key_t mac_cache_key;
static int mac_cache_ready;
static pthread_once_t mac_cache_once = PTHREAD_ONCE_INIT;

static void keyed_mac_clear(struct keyed_mac *k)
{
	EVP_MAC_CTX_free(k->ctx);
	if (k->secret != NULL) {
		OPENSSL_cleanse(k->secret, k->len);
		free(k->secret);
	}
	memset(k, 0, sizeof(*k));
}

static void mac_cache_free(void *p)
{
	struct mac_cache *c = p;

	for (int i = 0; i < MAC_CACHE_SLOTS; i++)
		keyed_mac_clear(&c->slot[i]);
	free(c);
}

static void mac_cache_init(void)
{
	mac_cache_ready = pthread_key_create(&mac_cache_key,
	    mac_cache_free) == 0;
}

/* A new context keyed with 'secret', or NULL. */
static EVP_MAC_CTX *keyed_new(const char *secret, size_t len)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *c;
	EVP_MAC *m;

	if ((m = hmac_algorithm()) == NULL || (c = EVP_MAC_CTX_new(m)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string("digest",
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(c, (const unsigned char *)secret, len, params) != 1) {
		EVP_MAC_CTX_free(c);
		return NULL;
	}
	return c;
}

/*
 * The calling thread's context for 'secret', reset and ready for data
 * (borrowed: the cache owns it), or NULL when there is no cache, with
 * '*own' then set to a context the caller frees.
 */
static EVP_MAC_CTX *keyed_get(const char *secret, EVP_MAC_CTX **own)
{
	size_t len = strlen(secret);
	struct mac_cache *c = NULL;
	struct keyed_mac *k;

	*own = NULL;
	pthread_once(&mac_cache_once, mac_cache_init);
	if (mac_cache_ready &&
	    (c = pthread_getspecific(mac_cache_key)) == NULL &&
	    (c = calloc(1, sizeof(*c))) != NULL &&
	    pthread_setspecific(mac_cache_key, c) != 0) {
		free(c);
		c = NULL;
	}
	if (c == NULL)
		return *own = keyed_new(secret, len);
	for (int i = 0; i < MAC_CACHE_SLOTS; i++) {
		k = &c->slot[i];
		if (k->ctx != NULL && k->len == len &&
		    memcmp(k->secret, secret, len) == 0)
			return EVP_MAC_init(k->ctx, NULL, 0, NULL) == 1 ?
			    k->ctx : NULL;
	}
	k = &c->slot[c->next];
	c->next = (c->next + 1) % MAC_CACHE_SLOTS;
	keyed_mac_clear(k);
	if ((k->secret = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(k->secret, secret, len + 1);
	k->len = len;
	if ((k->ctx = keyed_new(secret, len)) == NULL)
		keyed_mac_clear(k);
	return k->ctx;
}

/* HMAC over the two parts body || ts. */
static int hmac2(const char *key, const void *body, size_t len, const char *ts,
    char out[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	EVP_MAC_CTX *c, *own;
	size_t outl = 0;
	int ok = 0;

	c = keyed_get(key + ing_signing_key_prefix_len(key), &own);
	if (c != NULL &&
	    (len == 0 || EVP_MAC_update(c, body, len) == 1) &&
	    EVP_MAC_update(c, (const unsigned char *)ts, strlen(ts)) == 1 &&
	    EVP_MAC_final(c, mac, &outl, sizeof(mac)) == 1 && outl == 32)
		ok = 1;
	EVP_MAC_CTX_free(own);
	if (!ok)
		return -1;
	ing_hex_encode(mac, (unsigned int)outl, out, 0);
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
