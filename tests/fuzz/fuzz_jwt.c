/*
 * fuzz_jwt.c -- libFuzzer harness for the HS256 bearer verifier
 * (app/auth.c, include/auth.h).
 *
 * The verifier runs with a fixed secret at a fixed clock.  Random bytes
 * rarely get past the MAC, so besides raw Authorization values the
 * harness mints validly signed tokens from fuzzed JOSE header and claims
 * bytes: then the claims parser is what gets fuzzed.  The signer here is
 * OpenSSL's HMAC and an encoder of its own, independent of auth.c.
 *
 * Input layout:
 *   byte 0   bit 0    0: raw -- the rest is the whole Authorization value
 *                     1: mint -- the rest is "<header JSON>\n<claims JSON>"
 *                        (no '\n': the header is {"alg":"HS256","typ":"JWT"}
 *                        and the rest is the claims), encoded and signed
 *            bit 1    mint: flip one bit of the MAC (must never verify)
 *            bits 2-3 subject buffer: 0 128 bytes (the router's), 1 16,
 *                     2 1, 3 none (NULL)
 *            bits 4-5 key: 0 the secret, 1 a binary key with NUL bytes
 *                     (auth_verify_bearer_key), 2 "" and 3 NULL (both
 *                     must refuse every token)
 *            bits 6-7 which MAC bit is flipped (with bit 1)
 *   rest     as bit 0 says
 *
 * Beyond the sanitizers (LeakSanitizer: json-c trees released), the harness
 * aborts when a result breaks an invariant:
 *   - a token is accepted whose MAC, recomputed here, is not its third
 *     part, or that does not split as "Bearer h.p.s", or whose JOSE header
 *     does not say alg "HS256", or that was accepted with no key;
 *   - an accepted token's subject is not exactly its "sub" claim (cut at
 *     a NUL), or has a control character; with FUZZ_JWT_REQUIRE_SUB set,
 *     an accepted token has an empty subject;
 *   - an accepted token is expired (exp <= now - AUTH_LEEWAY) or not yet
 *     valid (nbf > now + AUTH_LEEWAY);
 *   - the subject buffer is not NUL-terminated, or not "" after a refusal;
 *   - the result is out of range.
 *
 * With FUZZ_JWT_VERBOSE set, each result goes to stderr (to check what a
 * seed reaches).  corpus/fuzz_jwt/crash-sub-* are the subjects the first
 * runs found accepted (NUL, control characters), kept as regressions.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "fuzz_util.h"

#define FUZZ_NOW ((time_t)1700000000)
#define FUZZ_SECRET "fuzz-jwt-secret-0123456789abcdef"
#define DEFAULT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define MAX_IN 8192

static const unsigned char binary_key[] = {
	0x00, 0x01, 'k', 0x00, 0xff, 0x7f, 'e', 'y', 0x00, 0x10,
	0x20, 0x30, 0x40, 0x00, 0x50, 0x60,
};

static int require_sub;
static int verbose;     /* FUZZ_JWT_VERBOSE set: print each result */


/* ---- an encoder and decoder of our own ---- */


static int
b64url_val(unsigned char c)
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

/* Lenient decode into a new buffer (NUL-terminated); NULL if not base64url. */
static unsigned char *
b64url_decode(const char *in, size_t n, size_t *outlen)
{
	unsigned char *out = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int v = b64url_val((unsigned char)in[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = ((acc << 6) | (uint32_t)v) & 0xffffu;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* A part decoded and parsed (json-c, lenient), or NULL. */
static struct json_object *
part_json(const char *part, size_t n)
{
	struct json_object *o;
	unsigned char *buf;
	size_t len;

	if ((buf = b64url_decode(part, n, &len)) == NULL)
		return NULL;
	o = json_tokener_parse((const char *)buf);
	free(buf);
	return o;
}

static int
number_claim(struct json_object *claims, const char *name, double *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(claims, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = (double)json_object_get_int64(v);
		return 1;
	}
	if (json_object_is_type(v, json_type_double)) {
		*out = json_object_get_double(v);
		return 1;
	}
	return 0;
}

/* ---- what an accepted token must be ---- */

static void
check_accepted(const char *hdr, const unsigned char *key, size_t key_len,
    const char *sub, size_t sub_len)
{
	const char *p = hdr, *tok, *d1, *d2;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char want[64];
	struct json_object *jose, *claims, *v;
	size_t len;
	double t;

	check(key != NULL && key_len > 0, "accepted with no key");
	while (*p == ' ' || *p == '\t')
		p++;
	check(strncasecmp(p, "Bearer", 6) == 0 && (p[6] == ' ' ||
	    p[6] == '\t'), "accepted without the Bearer scheme");
	for (tok = p + 6; *tok == ' ' || *tok == '\t'; tok++)
		;
	len = strlen(tok);
	while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
		len--;
	d1 = memchr(tok, '.', len);
	check(d1 != NULL, "accepted a token without a dot");
	d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	check(d2 != NULL && memchr(d2 + 1, '.',
	    len - (size_t)(d2 + 1 - tok)) == NULL,
	    "accepted a token that is not three parts");

	/* The MAC, recomputed, must be the third part exactly: the decoder
	 * is canonical, so there is one spelling of each MAC. */
	check(HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)tok,
	    (size_t)(d2 - tok), mac, &mac_len) != NULL && mac_len == 32,
	    "HMAC failed");
	b64url_encode(mac, mac_len, want);
	check(len - (size_t)(d2 + 1 - tok) == strlen(want) &&
	    memcmp(d2 + 1, want, strlen(want)) == 0,
	    "accepted a token whose MAC is wrong");

	jose = part_json(tok, (size_t)(d1 - tok));
	check(jose != NULL && json_object_is_type(jose, json_type_object) &&
	    json_object_object_get_ex(jose, "alg", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), "HS256") == 0,
	    "accepted a token whose alg is not HS256");
	json_object_put(jose);

	claims = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
	check(claims != NULL && json_object_is_type(claims, json_type_object),
	    "accepted claims that are not an object");
	if (number_claim(claims, "exp", &t))
		check(t > (double)FUZZ_NOW - AUTH_LEEWAY,
		    "accepted an expired token");
	if (number_claim(claims, "nbf", &t))
		check(t <= (double)FUZZ_NOW + AUTH_LEEWAY,
		    "accepted a token that is not yet valid");
	if (sub != NULL && sub_len > 0) {
		size_t n = strlen(sub);

		if (json_object_object_get_ex(claims, "sub", &v) &&
		    json_object_is_type(v, json_type_string)) {
			check((size_t)json_object_get_string_len(v) == n &&
			    memcmp(json_object_get_string(v), sub, n) == 0,
			    "subject is not the sub claim (NUL inside it?)");
		} else {
			check(n == 0, "subject without a sub claim");
		}
		for (size_t i = 0; i < n; i++)
			check((unsigned char)sub[i] >= 0x20 &&
			    (unsigned char)sub[i] != 0x7f,
			    "control character in an accepted subject");
		if (require_sub)
			check(n > 0, "accepted a token with an empty subject");
	}
	json_object_put(claims);
}

/* "Bearer <b64 h>.<b64 p>.<b64 MAC>" for 'h' and 'p', signed with 'key';
 * new string.  'flip' >= 0 flips that bit of the MAC. */
static char *
mint(const char *h, size_t hn, const char *p, size_t pn,
    const unsigned char *key, size_t key_len, int flip)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t cap = 7 + (hn + pn) / 3 * 4 + 16 + 64, n;
	char *out = malloc(cap);

	if (out == NULL)
		return NULL;
	memcpy(out, "Bearer ", 7);
	n = 7 + b64url_encode((const unsigned char *)h, hn, out + 7);
	out[n++] = '.';
	n += b64url_encode((const unsigned char *)p, pn, out + n);
	if (key == NULL || key_len == 0) {
		key = (const unsigned char *)FUZZ_SECRET;
		key_len = strlen(FUZZ_SECRET);
	}
	check(HMAC(EVP_sha256(), key, (int)key_len,
	    (const unsigned char *)out + 7, n - 7, mac, &mac_len) != NULL &&
	    mac_len == 32, "HMAC failed");
	if (flip >= 0)
		mac[(flip / 8) % 32] ^= (unsigned char)(1u << (flip % 8));
	out[n++] = '.';
	b64url_encode(mac, mac_len, out + n);
	return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	require_sub = getenv("FUZZ_JWT_REQUIRE_SUB") != NULL;
	verbose = getenv("FUZZ_JWT_VERBOSE") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sub_lens[4] = { 128, 16, 1, 0 };
	const unsigned char *key = NULL;
	size_t key_len = 0, sub_len;
	char subbuf[128], *sub, *hdr;
	enum auth_err err;
	uint8_t flags;
	int keymode, flip = -1;

	if (size < 1 || size > MAX_IN)
		return 0;
	flags = data[0];
	data++;
	size--;
	sub_len = sub_lens[(flags >> 2) & 3];
	sub = sub_len > 0 ? subbuf : NULL;
	keymode = (flags >> 4) & 3;
	if (keymode == 0) {
		key = (const unsigned char *)FUZZ_SECRET;
		key_len = strlen(FUZZ_SECRET);
	} else if (keymode == 1) {
		key = binary_key;
		key_len = sizeof(binary_key);
	}

	if (flags & 1) {
		const uint8_t *nl = memchr(data, '\n', size);

		if (flags & 2)
			flip = (int)((flags >> 6) * 61 + size % 7);
		if (nl != NULL)
			hdr = mint((const char *)data, (size_t)(nl - data),
			    (const char *)nl + 1, size - (size_t)(nl - data) - 1,
			    key, key_len, flip);
		else
			hdr = mint(DEFAULT_HEADER, strlen(DEFAULT_HEADER),
			    (const char *)data, size, key, key_len, flip);
	} else {
		/* A C string, as the header comes from libfcgi. */
		hdr = malloc(size + 1);
		if (hdr != NULL) {
			memcpy(hdr, data, size);
			hdr[size] = '\0';
		}
	}
	if (hdr == NULL)
		return 0;

	memset(subbuf, 'Z', sizeof(subbuf));
	if (keymode == 1)
		err = auth_verify_bearer_key(key, key_len, hdr, FUZZ_NOW, sub,
		    sub_len);
	else
		err = auth_verify_bearer((const char *)key, hdr, FUZZ_NOW,
		    sub, sub_len);

	check((unsigned)err < AUTH__MAX, "result out of range");
	if (verbose)
		fprintf(stderr, "%s sub=\"%s\"\n", auth_strerror(err),
		    sub != NULL && memchr(sub, '\0', sub_len) ? sub : "");
	check(auth_strerror(err) != NULL, "no text for the result");
	if (sub != NULL) {
		check(memchr(sub, '\0', sub_len) != NULL,
		    "subject not NUL-terminated");
		if (err != AUTH_OK)
			check(sub[0] == '\0', "subject left after a refusal");
	}
	if (flip >= 0)
		check(err != AUTH_OK, "accepted a flipped MAC");
	if (keymode >= 2)
		check(err != AUTH_OK, "accepted with an empty or no secret");
	if (err == AUTH_OK)
		check_accepted(hdr, key, key_len, sub, sub_len);
	free(hdr);
	return 0;
}
