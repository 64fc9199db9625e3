/*
 * auth.h -- bearer token verification for OMNI_AUTH=jwt.
 *
 * A request authenticates with "Authorization: Bearer <JWT>", where the JWT
 * is a compact JWS signed with HMAC-SHA256 (alg "HS256", RFC 7519/7515)
 * under the shared secret JWT_SECRET.  Verification checks, in order: the
 * header's shape, the token's shape (three base64url parts, no padding,
 * at most AUTH_TOKEN_MAX bytes), the JOSE header (alg must be "HS256";
 * "none" and every other algorithm are refused; a "crit" header is
 * refused), the signature (constant-time compare), then the claims.  The
 * payload is parsed only after the signature is verified, and strictly
 * (json_util.h: no NaN/Infinity, UTF-8 only, integers within int64):
 *
 *   exp  required, a JSON integer; expired when exp <= now - AUTH_LEEWAY
 *   nbf  optional integer; not yet valid when nbf > now + AUTH_LEEWAY
 *   iat  optional integer (type-checked only)
 *   sub  optional string, 1.. bytes, no NUL or control character
 *
 * A fraction, a string or an out-of-range number in a time claim, or a
 * "sub" of another type, is AUTH_MALFORMED.  AUTH_LEEWAY (30 s) is the
 * clock skew allowed between the issuer and this machine.
 *
 * The module keeps no state and allocates nothing that outlives a call: it
 * is safe from any thread.  It never logs; callers log the auth_err (never
 * the token).
 */
#ifndef OMNI_AUTH_H
#define OMNI_AUTH_H

#include <stddef.h>
#include <time.h>

#define AUTH_TOKEN_MAX 8192 /* bytes of token accepted after "Bearer " */
#define AUTH_LEEWAY 30      /* seconds of clock skew allowed on exp, nbf */

enum auth_err {
	AUTH_OK = 0,        /* signature and time claims valid */
	AUTH_MISSING,       /* no Authorization header, or an empty one */
	AUTH_MALFORMED,     /* not "Bearer x.y.z", bad base64url or JSON,
	                       a claim of the wrong type, token too long,
	                       a "sub" that is empty, holds a control
	                       character or is longer than the caller's
	                       buffer */
	AUTH_BAD_ALG,       /* alg is not HS256 (including "none") */
	AUTH_BAD_SIGNATURE, /* signature does not match (or no secret) */
	AUTH_EXPIRED,       /* exp <= now - AUTH_LEEWAY */
	AUTH_NOT_YET,       /* nbf > now + AUTH_LEEWAY */
	AUTH_NO_EXPIRY,     /* no "exp" claim: tokens must expire */
	AUTH__MAX
};

/*
 * Verify the value of an Authorization header, 'authorization_header'
 * (may be NULL), against 'secret' (a NUL-terminated JWT_SECRET; NULL or
 * empty refuses every token), at time 'now'.
 *
 * On AUTH_OK, when 'sub_out' is not NULL, the "sub" claim is copied into
 * 'sub_out' (NUL-terminated, at most 'sub_len' - 1 bytes); a token with no
 * "sub" gives "".  A "sub" that does not fit is AUTH_MALFORMED.  On any
 * other result 'sub_out' holds "" (when 'sub_len' > 0).
 */
enum auth_err auth_verify_bearer(const char *secret,
    const char *authorization_header, time_t now, char *sub_out,
    size_t sub_len);

/*
 * As auth_verify_bearer() with a binary key of 'key_len' bytes, for keys
 * that may contain NUL bytes (for example RFC 7515's test key).
 */
enum auth_err auth_verify_bearer_key(const unsigned char *key,
    size_t key_len, const char *authorization_header, time_t now,
    char *sub_out, size_t sub_len);

/* Text for an error value, never NULL; safe to show to the client. */
const char *auth_strerror(enum auth_err err);

#endif
