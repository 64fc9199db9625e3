/*
 * inngest_signing.h -- request signatures and key hashes (spec 4.1.1,
 * 4.1.3, 4.1.4, 4.5).
 *
 * Inngest signs each request with X-Inngest-Signature: "t=<unix seconds>&
 * s=<hex HMAC-SHA256>".  The HMAC key is the signing key's text with its
 * "signkey-<env>-" prefix removed (the hex characters themselves, not the
 * bytes they encode); the message is the body followed by the decimal
 * timestamp.  Verification here:
 *   - accepts a timestamp no more than 5 minutes away from our clock, in
 *     either direction (a future t would otherwise allow unbounded replay);
 *   - tries the signing key, then the fallback key (key rotation);
 *   - for each key, compares against the HMAC of the raw body and, if that
 *     differs, of the body's RFC 8785 canonical form (what the official
 *     SDKs sign), so escapes the signer did not see do not break it;
 *   - compares with CRYPTO_memcmp, never strcmp.
 *
 * Outgoing API requests authenticate with "Authorization: Bearer
 * <hashed key>", where the hashed key keeps the prefix and replaces the
 * secret with hex(SHA-256(bytes the hex secret encodes)).
 *
 * No function here logs or keeps a key.  Thread safe.
 */
#ifndef OMNI_INNGEST_SIGNING_H
#define OMNI_INNGEST_SIGNING_H

#include <stddef.h>
#include <stdint.h>

/* Largest accepted |now - t|, in seconds. */
#define ING_SIG_MAX_SKEW_S 300
/* Room for "t=<20 digits>&s=<64 hex>" and a NUL. */
#define ING_SIG_HEADER_LEN 96
/* Room for a hashed signing key: prefix (capped) + 64 hex + NUL. */
#define ING_KEY_HASH_LEN 160

enum ing_sig_err {
	ING_SIG_OK = 0,      /* 0: valid */
	ING_SIG_ENOKEY,      /* 1: no signing key configured */
	ING_SIG_EMISSING,    /* 2: no signature header */
	ING_SIG_EMALFORMED,  /* 3: header is not t=<int>&s=<hex> */
	ING_SIG_EEXPIRED,    /* 4: t is more than 5 minutes from now */
	ING_SIG_EMISMATCH,   /* 5: no key produced this signature */
	ING_SIG_ENOMEM,      /* 6: out of memory */
	ING_SIG__MAX
};

/* Text for an error value, never NULL. */
const char *ing_sig_strerror(enum ing_sig_err err);

/*
 * Length of the "signkey-<word>-" prefix of 'key' (0 if none), so that
 * key + ing_signing_key_prefix_len(key) is the secret.
 */
size_t ing_signing_key_prefix_len(const char *key);

/*
 * HMAC-SHA256 of 'body' ('len' bytes) followed by the decimal 'ts', keyed
 * with 'key' minus its prefix, as 64 lower-case hex digits and a NUL in
 * 'out'.  Returns 0, or -1 on a crypto library failure.
 */
int ing_sign_hex(const char *key, const void *body, size_t len, int64_t ts,
    char out[65]);

/*
 * Write the header value "t=<ts>&s=<hex>" for 'body' into 'buf'
 * (ING_SIG_HEADER_LEN bytes suffice).  Returns 0, or -1 if 'buf' is too
 * small or hashing failed.
 */
int ing_signature_make(const char *key, const void *body, size_t len,
    int64_t ts, char *buf, size_t buflen);

/*
 * Verify the header value 'header' for 'body' at time 'now_s' against
 * 'key' and then 'fallback' (either may be NULL or empty).  On ING_SIG_OK,
 * '*which' (if not NULL) is 0 for the key, 1 for the fallback.
 */
enum ing_sig_err ing_signature_verify(const char *header, const void *body,
    size_t len, const char *key, const char *fallback, int64_t now_s,
    int *which);

/*
 * Hash a signing key for use as a bearer token (spec 4.1.4):
 * "signkey-prod-12345678" -> "signkey-prod-b2ed9921...916c".
 * Returns 0, or -1 if the secret is not an even number of hex digits or
 * 'outlen' is too small (ING_KEY_HASH_LEN suffices for prefixes up to 90
 * bytes).
 */
int ing_signing_key_hash(const char *key, char *out, size_t outlen);

/* hex(SHA-256(key)) of an event key, for introspection.  Returns 0/-1. */
int ing_event_key_hash(const char *key, char out[65]);

#endif
