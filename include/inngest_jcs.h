/*
 * inngest_jcs.h -- JSON Canonicalization Scheme (RFC 8785) for the Inngest SDK.
 *
 * The official Inngest SDKs sign and verify request bodies over their JCS
 * form, so a body that reaches us with different whitespace, key order or
 * escapes than the signer saw still verifies.  This module turns JSON text
 * into that canonical form:
 *
 *   - no whitespace between tokens;
 *   - object members sorted by their keys compared as UTF-16 code units
 *     (so U+10000 and above, encoded as surrogate pairs, sort before
 *     U+E000..U+FFFF);
 *   - strings escaped as ECMAScript JSON.stringify does: \" \\ \b \f \n \r
 *     \t, other controls below U+0020 as \u00xx (lower-case hex), every
 *     other character as raw UTF-8 (no "\/", no \uXXXX for non-ASCII);
 *   - numbers as ECMAScript Number.prototype.toString prints the IEEE 754
 *     double they denote: shortest round-trip digits, plain notation from
 *     1e-7 up to 1e21, exponent notation ("1e+21", "1.5e-7") outside, "-0"
 *     printed as "0".
 *
 * The tree comes from json-c (the only JSON parser Omni links), which has
 * two limits the caller should know: integers beyond the range
 * [-2^63, 2^64-1] are clamped by the parser, so such literals are refused
 * here (ING_JCS_ENUMBER) instead of being canonicalised wrongly, and so are
 * numbers whose canonical form would be a plain integer beyond that range
 * (magnitudes from 2^64, or 2^63 negative, up to 1e21), whose output could
 * not be canonicalised again; and lone
 * UTF-16 surrogate escapes are refused (ING_JCS_EPARSE), as RFC 8785
 * requires.  A body the canonicaliser refuses can still be verified over its
 * raw bytes.
 *
 * Thread safety: no shared state; relies on the "C" numeric locale (Omni
 * never calls setlocale).
 */
#ifndef OMNI_INNGEST_JCS_H
#define OMNI_INNGEST_JCS_H

#include <stddef.h>

struct json_object;

/* Deepest nesting accepted when parsing JSON anywhere in the SDK. */
#define ING_JSON_MAX_DEPTH 64

enum ing_jcs_err {
	ING_JCS_OK = 0,      /* canonical text produced */
	ING_JCS_EPARSE,      /* not one complete JSON text, or invalid UTF-8 */
	ING_JCS_ENUMBER,     /* a number with no exact double/integer form */
	ING_JCS_ENOMEM,      /* out of memory */
	ING_JCS__MAX
};

/*
 * Canonicalise the JSON text 'json' of 'len' bytes (need not be
 * NUL-terminated).  On ING_JCS_OK '*out' is a malloc'd NUL-terminated string
 * of '*outlen' bytes that the caller frees with free(); on error '*out' is
 * NULL and nothing is left to free.
 */
enum ing_jcs_err ing_jcs_canonicalize(const char *json, size_t len,
    char **out, size_t *outlen);

/*
 * Canonicalise an already parsed tree 'obj' (borrowed; NULL is JSON null).
 * Same ownership rules as ing_jcs_canonicalize().
 */
enum ing_jcs_err ing_jcs_from_object(struct json_object *obj, char **out,
    size_t *outlen);

/*
 * Format the finite double 'v' as ECMAScript Number.prototype.toString
 * does into 'buf' (at least 32 bytes).  Returns the length written, or -1
 * if 'v' is not finite or 'buflen' is too small.
 */
int ing_jcs_format_double(double v, char *buf, size_t buflen);

/*
 * Compare the UTF-8 strings 'a' and 'b' by their UTF-16 code units, the
 * order RFC 8785 uses for object keys.  Returns <0, 0 or >0.
 */
int ing_jcs_key_cmp(const char *a, const char *b);

/*
 * Parse exactly one JSON text of 'len' bytes the way the whole SDK does:
 * strict RFC 8259 syntax, valid UTF-8, nesting at most ING_JSON_MAX_DEPTH,
 * nothing but whitespace after the value.  On ING_JCS_OK '*out' is a new
 * json-c reference the caller releases with json_object_put() (NULL for the
 * literal null); on error '*out' is NULL.
 */
enum ing_jcs_err ing_json_parse(const char *json, size_t len,
    struct json_object **out);

/* Text for an error value, never NULL. */
const char *ing_jcs_strerror(enum ing_jcs_err err);

#endif
