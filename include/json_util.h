/*
 * json_util.h -- JSON at the boundary: strict parsing of request bodies and
 * typed field access that says what is wrong, on top of json-c.
 *
 * Ownership: json_parse_object() returns a new reference the caller puts.
 * The getters return pointers borrowed from the object they read: valid as
 * long as that object lives, never to be freed or put.
 */
#ifndef OMNI_JSON_UTIL_H
#define OMNI_JSON_UTIL_H

#include <stddef.h>

#include <json-c/json.h>

enum json_err {
	JSON_OK = 0,         /* parsed / field present with the right type */
	JSON_ESYNTAX,        /* not JSON, or trailing bytes after the value */
	JSON_ENOT_OBJECT,    /* valid JSON but not an object */
	JSON_EDEPTH,         /* nested deeper than JSON_MAX_DEPTH */
	JSON_EMISSING,       /* required field absent or null */
	JSON_ETYPE,          /* field has another type */
	JSON_EEMPTY,         /* string field is empty */
	JSON_ETOOLONG,       /* string field longer than allowed */
	JSON_ENOMEM,
	JSON__MAX
};

#define JSON_MAX_DEPTH 32

/*
 * Parse 'len' bytes as one JSON object (strict: no trailing data, no NUL).
 * On JSON_OK '*out' is a new reference.  Otherwise '*out' is NULL and
 * 'why' (may be NULL) gets a short description with the byte offset.
 */
enum json_err json_parse_object(const char *buf, size_t len,
    struct json_object **out, char *why, size_t why_len);

/*
 * The same rules for any JSON value (an array of events, an SDK's answer).
 * On JSON_OK '*out' is a new reference, or NULL for the literal null.
 */
enum json_err json_parse_value(const char *buf, size_t len,
    struct json_object **out, char *why, size_t why_len);

/*
 * Required string field 'key' of 'obj', 1..'max_len' bytes.  On JSON_OK
 * '*out' is borrowed from 'obj'.
 */
enum json_err json_get_string(struct json_object *obj, const char *key,
    size_t max_len, const char **out);

/* Optional string: JSON_OK with '*out' NULL when absent or null. */
enum json_err json_get_opt_string(struct json_object *obj, const char *key,
    size_t max_len, const char **out);

/*
 * Length of the well-formed UTF-8 sequence at 'p' ('n' > 0 bytes left),
 * or 0 (RFC 3629: the shortest form only, no surrogates, nothing past
 * U+10FFFF).  The rule json_parse_object() holds strings to.
 */
size_t json_utf8_sequence(const unsigned char *p, size_t n);

/* The string member 'key' of 'obj' (borrowed), or NULL when 'obj' is
 * NULL, has no such member or it is not a string: for reading JSON that
 * was already checked, or whose damage only means "absent". */
const char *json_str_member(struct json_object *obj, const char *key);

/*
 * At most 'max' bytes of s[0..n) as a new NUL-terminated string (malloc'd,
 * the caller frees) that is always valid UTF-8: cut on a sequence
 * boundary, and each byte that starts no well-formed sequence replaced by
 * U+FFFD.  For text read from a sandbox that goes back out as JSON.  The
 * length, without the NUL, into '*out_len' (may be NULL).  NULL out of
 * memory.
 */
char *json_utf8_clean(const char *s, size_t n, size_t max, size_t *out_len);

/* Text for an error, for the details of a VALIDATION_ERROR. */
const char *json_strerror(enum json_err err);

/* Serialize compactly without escaping '/'.  Borrowed from 'obj'. */
const char *json_compact(struct json_object *obj);

#endif
