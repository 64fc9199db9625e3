/*
 * json_util.c -- strict parsing and typed field access over json-c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

/*
 * json-c accepts more than RFC 8259 even in strict mode: NaN, Infinity,
 * single-quoted strings, raw control characters inside strings; and what
 * it takes it may change: an integer past int64 saturates, an unpaired
 * surrogate escape becomes U+FFFD, and its UTF-8 check lets overlong forms
 * and encoded surrogates through.  So the bytes are scanned first, and
 * json-c only builds the tree of a text that passed.  Each check below
 * returns the number of bytes it consumed, or 0 for a violation.
 */

size_t json_utf8_sequence(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;          /* overlong below U+0800 */
		else if (p[0] == 0xed)
			hi = 0x9f;          /* U+D800..U+DFFF */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		if (p[0] == 0xf0)
			lo = 0x90;          /* overlong below U+10000 */
		else if (p[0] == 0xf4)
			hi = 0x8f;          /* past U+10FFFF */
	} else
		return 0;                   /* 80..C1, F5..FF */
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* Four hex digits after "\u" at 'p' (n bytes left): the code unit, or
 * -1. */
static long hex4(const char *p, size_t n)
{
	long v = 0;

	if (n < 4)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* The escape at 'p' (a backslash): a \u escape must not leave a
 * surrogate unpaired; json-c checks the other escapes itself. */
static size_t string_escape(const char *p, size_t n)
{
	long hi, lo;

	if (n < 2)
		return 0;
	if (p[1] != 'u')
		return 2;
	if ((hi = hex4(p + 2, n - 2)) < 0)
		return 0;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return 0;                   /* a low surrogate first */
	if (hi < 0xd800 || hi > 0xdbff)
		return 6;
	if (n < 12 || p[6] != '\\' || p[7] != 'u' ||
	    (lo = hex4(p + 8, n - 8)) < 0xdc00 || lo > 0xdfff)
		return 0;                   /* a high surrogate alone */
	return 12;
}

/* The number at 'p': an integer (no fraction, no exponent) must fit in
 * int64, as json-c would otherwise saturate it.  The grammar itself is
 * json-c's to check. */
static size_t number_token(const char *p, size_t n)
{
	static const char max[] = "9223372036854775807";
	static const char min[] = "9223372036854775808"; /* after '-' */
	size_t len = 0, i = 0, digits;
	int neg = p[0] == '-', cmp;

	while (len < n && strchr("0123456789+-.eE", p[len]) != NULL &&
	    p[len] != '\0')
		len++;
	if (memchr(p, '.', len) != NULL || memchr(p, 'e', len) != NULL ||
	    memchr(p, 'E', len) != NULL)
		return len;
	i = (size_t)neg;
	while (i + 1 < len && p[i] == '0')
		i++;
	digits = len - i;
	if (digits < sizeof(max) - 1)
		return len;
	if (digits > sizeof(max) - 1)
		return 0;
	cmp = memcmp(p + i, neg ? min : max, digits);
	return cmp <= 0 ? len : 0;
}

/*
 * The first byte of 'buf' that breaks the rules above or JSON's character
 * set (outside strings only JSON's own characters, inside strings no
 * control character), or -1.
 */
static long grammar_violation(const char *buf, size_t len,
    const char **what)
{
	static const char allowed[] = "{}[],: \t\r\n0123456789+-.eEtrufalsn";
	int in_string = 0;
	size_t i = 0, step;

	while (i < len) {
		unsigned char c = (unsigned char)buf[i];

		if (in_string) {
			if (c == '\\')
				step = string_escape(buf + i, len - i);
			else if (c == '"') {
				in_string = 0;
				step = 1;
			} else if (c < 0x20)
				step = 0;
			else
				step = json_utf8_sequence((const unsigned char *)buf +
				    i, len - i);
		} else if (c == '"') {
			in_string = 1;
			step = 1;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			step = number_token(buf + i, len - i);
		} else if (c == '\0' || strchr(allowed, c) == NULL) {
			step = 0;
		} else
			step = 1;
		if (step == 0) {
			*what = in_string ? (c == '\\' ?
			    "invalid \\u escape" : c < 0x20 ?
			    "control character in a string" :
			    "invalid UTF-8") : c == '-' || (c >= '0' && c <= '9') ?
			    "integer out of range" : "unexpected character";
			return (long)i;
		}
		i += step;
	}
	return -1;
}

/* The strict parse both entry points share; 'object' demands an object
 * (and refuses the literal null), otherwise any value is taken and null
 * gives JSON_OK with '*out' NULL. */
static enum json_err parse_strict(const char *buf, size_t len, int object,
    struct json_object **out, char *why, size_t why_len)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	enum json_err err = JSON_OK;
	size_t end;
	long bad;
	const char *what = NULL;

	*out = NULL;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (buf == NULL || len == 0 || memchr(buf, '\0', len) != NULL) {
		if (why != NULL)
			snprintf(why, why_len, "%s", buf == NULL || len == 0 ?
			    "the body is empty" : "the body contains a NUL byte");
		return JSON_ESYNTAX;
	}
	if ((bad = grammar_violation(buf, len, &what)) >= 0) {
		if (why != NULL)
			snprintf(why, why_len, "%s at byte %ld", what, bad);
		return JSON_ESYNTAX;
	}
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH)) == NULL)
		return JSON_ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL && jerr == json_tokener_continue) {
		/* A bare scalar ("1", "true") waits for more input: the
		 * terminating NUL tells json-c the input has ended. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (obj == NULL && jerr == json_tokener_success) {
		/* The literal null parses to no object. */
		if (object) {
			err = JSON_ENOT_OBJECT;
			if (why != NULL)
				snprintf(why, why_len,
				    "the body must be a JSON object");
		}
	} else if (obj == NULL || jerr != json_tokener_success) {
		if (jerr == json_tokener_continue)
			jerr = json_tokener_error_parse_eof;
		err = jerr == json_tokener_error_depth ? JSON_EDEPTH :
		    JSON_ESYNTAX;
		if (why != NULL)
			snprintf(why, why_len, "%s at byte %zu",
			    json_tokener_error_desc(jerr), end);
	} else {
		/* Only whitespace may follow the value. */
		while (end < len && strchr(" \t\r\n", buf[end]) != NULL)
			end++;
		if (end < len) {
			err = JSON_ESYNTAX;
			if (why != NULL)
				snprintf(why, why_len,
				    "unexpected data after the JSON value at "
				    "byte %zu", end);
		} else if (object &&
		    !json_object_is_type(obj, json_type_object)) {
			err = JSON_ENOT_OBJECT;
			if (why != NULL)
				snprintf(why, why_len,
				    "the body must be a JSON object");
		}
	}
	json_tokener_free(tok);
	if (err != JSON_OK) {
		json_object_put(obj);
		return err;
	}
	*out = obj;
	return JSON_OK;
}

enum json_err json_parse_object(const char *buf, size_t len,
    struct json_object **out, char *why, size_t why_len)
{
	return parse_strict(buf, len, 1, out, why, why_len);
}

enum json_err json_parse_value(const char *buf, size_t len,
    struct json_object **out, char *why, size_t why_len)
{
	return parse_strict(buf, len, 0, out, why, why_len);
}

enum json_err json_get_opt_string(struct json_object *obj, const char *key,
    size_t max_len, const char **out)
{
	struct json_object *v;
	size_t n;

	*out = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		return JSON_OK;
	if (!json_object_is_type(v, json_type_string))
		return JSON_ETYPE;
	n = (size_t)json_object_get_string_len(v);
	if (n == 0)
		return JSON_EEMPTY;
	if (n > max_len)
		return JSON_ETOOLONG;
	if (memchr(json_object_get_string(v), '\0', n) != NULL)
		return JSON_ETYPE;
	*out = json_object_get_string(v);
	return JSON_OK;
}

enum json_err json_get_string(struct json_object *obj, const char *key,
    size_t max_len, const char **out)
{
	enum json_err err = json_get_opt_string(obj, key, max_len, out);

	if (err == JSON_OK && *out == NULL)
		return JSON_EMISSING;
	return err;
}

const char *json_strerror(enum json_err err)
{
	switch (err) {
	case JSON_OK: return "ok";
	case JSON_ESYNTAX: return "is not valid JSON";
	case JSON_ENOT_OBJECT: return "must be a JSON object";
	case JSON_EDEPTH: return "is nested too deeply";
	case JSON_EMISSING: return "is required";
	case JSON_ETYPE: return "must be a string";
	case JSON_EEMPTY: return "must not be empty";
	case JSON_ETOOLONG: return "is too long";
	case JSON_ENOMEM: return "out of memory";
	default: return "unknown error";
	}
}

const char *json_compact(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

char *json_utf8_clean(const char *s, size_t n, size_t max, size_t *out_len)
{
	static const char repl[] = "\xef\xbf\xbd";
	size_t i = 0, o = 0;
	char *out = malloc(max + 1);

	if (out == NULL)
		return NULL;
	while (i < n) {
		size_t k = json_utf8_sequence((const unsigned char *)s + i,
		    n - i);
		size_t w = k > 0 ? k : sizeof(repl) - 1;

		if (o + w > max)
			break;
		memcpy(out + o, k > 0 ? s + i : repl, w);
		o += w;
		i += k > 0 ? k : 1;
	}
	out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return out;
}

const char *json_str_member(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}
