/*
 * json_util.c -- strict parsing and typed field access over json-c.
 */
#include <stdio.h>
#include <string.h>

#include "json_util.h"

/*
 * json-c accepts more than RFC 8259 even in strict mode: NaN, Infinity,
 * single-quoted strings, raw control characters inside strings.  Scan the
 * bytes first: outside strings only JSON's own characters may appear, and
 * inside strings no control character.  Returns the offset of the first
 * offending byte, or -1.
 */
static long grammar_violation(const char *buf, size_t len)
{
	static const char allowed[] = "{}[],: \t\r\n0123456789+-.eEtrufalsn";
	int in_string = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (in_string) {
			if (c == '\\')
				i++; /* json-c checks the escape itself */
			else if (c == '"')
				in_string = 0;
			else if (c < 0x20)
				return (long)i;
		} else if (c == '"') {
			in_string = 1;
		} else if (c == '\0' || strchr(allowed, c) == NULL) {
			return (long)i;
		}
	}
	return -1;
}

enum json_err json_parse_object(const char *buf, size_t len,
    struct json_object **out, char *why, size_t why_len)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	enum json_err err = JSON_OK;
	size_t end;
	long bad;

	*out = NULL;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (buf == NULL || len == 0 || memchr(buf, '\0', len) != NULL) {
		if (why != NULL)
			snprintf(why, why_len, "%s", buf == NULL || len == 0 ?
			    "the body is empty" : "the body contains a NUL byte");
		return JSON_ESYNTAX;
	}
	if ((bad = grammar_violation(buf, len)) >= 0) {
		if (why != NULL)
			snprintf(why, why_len, "unexpected character at byte %ld",
			    bad);
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
		err = JSON_ENOT_OBJECT;
		if (why != NULL)
			snprintf(why, why_len, "the body must be a JSON object");
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
		} else if (!json_object_is_type(obj, json_type_object)) {
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
