/*
 * jcs.c -- RFC 8785 JSON Canonicalization Scheme on top of json-c.
 *
 * The Inngest server signs the JCS form of a call request's body, and the
 * body we receive may differ from it in whitespace, member order or string
 * escapes.  Parsing with json-c and re-serialising here with ECMAScript
 * rules gives back the bytes the signer hashed.  See inngest_jcs.h for the
 * rules and the two limits inherited from json-c.
 */
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inngest_internal.h"
#include "inngest_jcs.h"

const char *ing_jcs_strerror(enum ing_jcs_err err)
{
	switch (err) {
	case ING_JCS_OK:
		return "ok";
	case ING_JCS_EPARSE:
		return "not a valid JSON text";
	case ING_JCS_ENUMBER:
		return "number outside the exactly representable range";
	case ING_JCS_ENOMEM:
		return "out of memory";
	case ING_JCS__MAX:
		break;
	}
	return "unknown error";
}

/*
 * json-c maps a lone surrogate escape to U+FFFD without telling us, which
 * would canonicalise to different bytes than the signer's.  Scan the raw
 * text for \uD800-\uDFFF escapes that are not a well-formed high+low pair.
 */
static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static int has_lone_surrogate(const char *s, size_t len)
{
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned u, lo;

		if (!in_str) {
			if (s[i] == '"')
				in_str = 1;
			continue;
		}
		if (s[i] == '"') {
			in_str = 0;
			continue;
		}
		if (s[i] != '\\')
			continue;
		if (i + 1 >= len)
			return 0;
		if (s[i + 1] != 'u') {
			i++;
			continue;
		}
		if (i + 6 > len || hex4(s + i + 2, &u) != 0)
			return 0; /* the parser reports the syntax error */
		i += 5;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return 1;
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (i + 7 > len || s[i + 1] != '\\' || s[i + 2] != 'u' ||
			    hex4(s + i + 3, &lo) != 0 || lo < 0xDC00 ||
			    lo > 0xDFFF)
				return 1;
			i += 6;
		}
	}
	return 0;
}

/*
 * Each thread keeps one tokener for documents up to KEPT_TOKENER_MAX
 * bytes (every call request): making one costs a few allocations, one of
 * them large enough to make malloc consolidate its free lists.  Its string
 * buffer grows to the longest string it has read, so larger documents get
 * a tokener of their own, freed at once.  Freed when the thread ends.
 */
#define KEPT_TOKENER_MAX ((size_t)64 << 10)

static pthread_key_t tokener_key;
static int tokener_key_ready;
static pthread_once_t tokener_once = PTHREAD_ONCE_INIT;

static void tokener_free(void *tok)
{
	json_tokener_free(tok);
}

static void tokener_init(void)
{
	tokener_key_ready = pthread_key_create(&tokener_key,
	    tokener_free) == 0;
}

/* A reset tokener for 'len' bytes; '*kept' says whether the thread keeps
 * it (else the caller frees it).  NULL out of memory.  A kept one is
 * already reset: tokener_put() leaves it so. */
static struct json_tokener *tokener_get(size_t len, int *kept)
{
	struct json_tokener *tok;

	*kept = 0;
	pthread_once(&tokener_once, tokener_init);
	if (len > KEPT_TOKENER_MAX || !tokener_key_ready)
		return json_tokener_new_ex(ING_JSON_MAX_DEPTH);
	tok = pthread_getspecific(tokener_key);
	if (tok != NULL) {
		*kept = 1;
		return tok;
	}
	tok = json_tokener_new_ex(ING_JSON_MAX_DEPTH);
	if (tok != NULL && pthread_setspecific(tokener_key, tok) == 0)
		*kept = 1;
	return tok;
}

/* Done with 'tok': a kept one lets go of what a failed parse left. */
static void tokener_put(struct json_tokener *tok, int kept)
{
	if (kept)
		json_tokener_reset(tok);
	else
		json_tokener_free(tok);
}

enum ing_jcs_err ing_json_parse(const char *json, size_t len,
    struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t used;
	int kept;

	*out = NULL;
	if (json == NULL || len == 0 || len > INT32_MAX)
		return ING_JCS_EPARSE;
	tok = tokener_get(len, &kept);
	if (tok == NULL)
		return ING_JCS_ENOMEM;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, json, (int)len);
	used = json_tokener_get_parse_end(tok);
	/* A top-level scalar ("null", "12") is only complete once the
	 * parser sees the end; feed it the terminating NUL. */
	if (obj == NULL &&
	    json_tokener_get_error(tok) == json_tokener_continue) {
		obj = json_tokener_parse_ex(tok, "", 1);
		used = len;
	}
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		tokener_put(tok, kept);
		return ING_JCS_EPARSE;
	}
	tokener_put(tok, kept);
	for (; used < len; used++) {
		char c = json[used];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			json_object_put(obj);
			return ING_JCS_EPARSE;
		}
	}
	*out = obj;
	return ING_JCS_OK;
}

/*
 * ECMAScript Number::toString for a finite double.  Find the fewest
 * significant digits that read back as the same double (printf rounds
 * correctly, so the first precision that round-trips gives the digits the
 * standard asks for), then lay them out by the standard's exponent rules.
 */
int ing_jcs_format_double(double v, char *buf, size_t buflen)
{
	char tmp[40], digits[20];
	int k = 0, n, exp10, pos = 0;

	if (!isfinite(v) || buflen < 32)
		return -1;
	if (v == 0) {
		buf[0] = '0';
		buf[1] = '\0';
		return 1;
	}
	if (v < 0) {
		buf[pos++] = '-';
		v = -v;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	/* tmp is "d.ddde[+-]xx"; split digits and exponent. */
	{
		const char *p = tmp;

		for (; *p != '\0' && *p != 'e'; p++)
			if (*p >= '0' && *p <= '9' && k < (int)sizeof(digits) - 1)
				digits[k++] = *p;
		if (*p != 'e')
			return -1;
		exp10 = atoi(p + 1);
	}
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	n = exp10 + 1; /* value = 0.d1d2...dk * 10^n */

	/* Longest outputs: "-0.000000ddddddddddddddddd" and
	 * "-d.ddddddddddddddddde-324", both under 32 bytes. */
	if (k <= n && n <= 21) {
		memcpy(buf + pos, digits, (size_t)k);
		pos += k;
		for (int i = 0; i < n - k; i++)
			buf[pos++] = '0';
	} else if (0 < n && n <= 21) {
		memcpy(buf + pos, digits, (size_t)n);
		pos += n;
		buf[pos++] = '.';
		memcpy(buf + pos, digits + n, (size_t)(k - n));
		pos += k - n;
	} else if (-6 < n && n <= 0) {
		buf[pos++] = '0';
		buf[pos++] = '.';
		for (int i = 0; i < -n; i++)
			buf[pos++] = '0';
		memcpy(buf + pos, digits, (size_t)k);
		pos += k;
	} else {
		int e = n - 1;

		buf[pos++] = digits[0];
		if (k > 1) {
			buf[pos++] = '.';
			memcpy(buf + pos, digits + 1, (size_t)(k - 1));
			pos += k - 1;
		}
		pos += snprintf(buf + pos, buflen - (size_t)pos, "e%c%d",
		    e < 0 ? '-' : '+', e < 0 ? -e : e);
	}
	buf[pos] = '\0';
	return pos;
}

/*
 * Decode the next code point of the NUL-terminated UTF-8 string at '*s'.
 * Input has been validated by the parser; a stray byte is returned as is so
 * the comparison stays total.
 */
static uint32_t next_cp(const unsigned char **s)
{
	const unsigned char *p = *s;
	uint32_t c = p[0];
	int extra = 0;

	if (c >= 0xF0 && c <= 0xF4) {
		c &= 0x07;
		extra = 3;
	} else if (c >= 0xE0) {
		c &= 0x0F;
		extra = 2;
	} else if (c >= 0xC2 && c <= 0xDF) {
		c &= 0x1F;
		extra = 1;
	}
	p++;
	for (int i = 0; i < extra; i++) {
		if ((*p & 0xC0) != 0x80)
			break;
		c = (c << 6) | (*p & 0x3F);
		p++;
	}
	*s = p;
	return c;
}

/* Yield UTF-16 code units one at a time, keeping the pending low half. */
struct u16iter {
	const unsigned char *p;
	uint32_t pending;
};

static uint32_t next_unit(struct u16iter *it)
{
	uint32_t cp;

	if (it->pending != 0) {
		cp = it->pending;
		it->pending = 0;
		return cp;
	}
	if (*it->p == '\0')
		return 0; /* end: below every unit (keys hold no NUL) */
	cp = next_cp(&it->p);
	if (cp >= 0x10000) {
		cp -= 0x10000;
		it->pending = 0xDC00 | (cp & 0x3FF);
		return 0xD800 | (cp >> 10);
	}
	return cp;
}

int ing_jcs_key_cmp(const char *a, const char *b)
{
	struct u16iter ia = { (const unsigned char *)a, 0 };
	struct u16iter ib = { (const unsigned char *)b, 0 };

	for (;;) {
		uint32_t ua = next_unit(&ia), ub = next_unit(&ib);

		if (ua != ub)
			return ua < ub ? -1 : 1;
		if (ua == 0)
			return 0;
	}
}

static int key_qsort_cmp(const void *a, const void *b)
{
	return ing_jcs_key_cmp(*(const char *const *)a,
	    *(const char *const *)b);
}

static enum ing_jcs_err put_string(struct ing_buf *b, const char *s, size_t len)
{
	if (ing_buf_putc(b, '"') != 0)
		return ING_JCS_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		const char *rep = NULL;

		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		default:
			if (c < 0x20) {
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				ing_hex_encode(&c, 1, esc + 4, 0);
				rep = esc;
			}
			break;
		}
		if (rep != NULL) {
			if (ing_buf_puts(b, rep) != 0)
				return ING_JCS_ENOMEM;
		} else if (ing_buf_putc(b, (char)c) != 0) {
			return ING_JCS_ENOMEM;
		}
	}
	return ing_buf_putc(b, '"') == 0 ? ING_JCS_OK : ING_JCS_ENOMEM;
}

/*
 * ECMAScript prints integral values below 1e21 in plain digits, and json-c
 * clamps plain integer literals outside [-2^63, 2^64-1] (which the parser
 * side refuses, see put_int).  A value at or beyond those bounds but below
 * 1e21 in magnitude would thus canonicalise to text that cannot be
 * canonicalised again (2^64 prints as 18446744073709552000): refuse it, so
 * that whatever this module produces is a fixed point.
 */
static int plain_form_rereads(double d)
{
	return !(d >= 18446744073709551616.0 && d < 1e21) &&
	    !(d <= -9223372036854775808.0 && d > -1e21);
}

static enum ing_jcs_err put_int(struct ing_buf *b, struct json_object *obj)
{
	char num[40];
	int64_t i = json_object_get_int64(obj);
	double d;

	/* json-c clamps out-of-range literals to these two values. */
	if (i == INT64_MIN)
		return ING_JCS_ENUMBER;
	if (i < 0) {
		if (i >= -(INT64_C(1) << 53)) {
			snprintf(num, sizeof(num), "%lld", (long long)i);
			return ing_buf_puts(b, num) == 0 ? ING_JCS_OK :
			    ING_JCS_ENOMEM;
		}
		d = (double)i;
	} else {
		uint64_t u = json_object_get_uint64(obj);

		if (u == UINT64_MAX)
			return ING_JCS_ENUMBER;
		if (u <= (UINT64_C(1) << 53)) {
			snprintf(num, sizeof(num), "%llu",
			    (unsigned long long)u);
			return ing_buf_puts(b, num) == 0 ? ING_JCS_OK :
			    ING_JCS_ENOMEM;
		}
		d = (double)u;
	}
	if (!plain_form_rereads(d) ||
	    ing_jcs_format_double(d, num, sizeof(num)) < 0)
		return ING_JCS_ENUMBER;
	return ing_buf_puts(b, num) == 0 ? ING_JCS_OK : ING_JCS_ENOMEM;
}

static enum ing_jcs_err put_value(struct ing_buf *b,
    struct json_object *obj);

static enum ing_jcs_err put_array(struct ing_buf *b, struct json_object *obj)
{
	size_t n = json_object_array_length(obj);
	enum ing_jcs_err err;

	if (ing_buf_putc(b, '[') != 0)
		return ING_JCS_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && ing_buf_putc(b, ',') != 0)
			return ING_JCS_ENOMEM;
		err = put_value(b, json_object_array_get_idx(obj, i));
		if (err != ING_JCS_OK)
			return err;
	}
	return ing_buf_putc(b, ']') == 0 ? ING_JCS_OK : ING_JCS_ENOMEM;
}

/* Members sorted by their keys' UTF-16 code units (RFC 8785, 3.2.3). */
static enum ing_jcs_err put_object(struct ing_buf *b, struct json_object *obj)
{
	size_t n = (size_t)json_object_object_length(obj), i = 0;
	enum ing_jcs_err err = ING_JCS_OK;
	const char **keys;

	keys = n > 0 ? malloc(n * sizeof(*keys)) : NULL;
	if (n > 0 && keys == NULL)
		return ING_JCS_ENOMEM;
	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (i < n)
			keys[i++] = key;
	}
	if (i > 1)
		qsort(keys, i, sizeof(*keys), key_qsort_cmp);
	if (ing_buf_putc(b, '{') != 0)
		err = ING_JCS_ENOMEM;
	for (size_t j = 0; err == ING_JCS_OK && j < i; j++) {
		if (j > 0 && ing_buf_putc(b, ',') != 0)
			err = ING_JCS_ENOMEM;
		if (err == ING_JCS_OK)
			err = put_string(b, keys[j], strlen(keys[j]));
		if (err == ING_JCS_OK && ing_buf_putc(b, ':') != 0)
			err = ING_JCS_ENOMEM;
		if (err == ING_JCS_OK)
			err = put_value(b, json_object_object_get(obj, keys[j]));
	}
	free(keys);
	if (err == ING_JCS_OK && ing_buf_putc(b, '}') != 0)
		err = ING_JCS_ENOMEM;
	return err;
}

static enum ing_jcs_err put_value(struct ing_buf *b, struct json_object *obj)
{
	char num[40];

	switch (json_object_get_type(obj)) {
	case json_type_null:
		return ing_buf_puts(b, "null") == 0 ? ING_JCS_OK :
		    ING_JCS_ENOMEM;
	case json_type_boolean:
		return ing_buf_puts(b, json_object_get_boolean(obj) ?
		    "true" : "false") == 0 ? ING_JCS_OK : ING_JCS_ENOMEM;
	case json_type_int:
		return put_int(b, obj);
	case json_type_double:
		if (!plain_form_rereads(json_object_get_double(obj)) ||
		    ing_jcs_format_double(json_object_get_double(obj), num,
		    sizeof(num)) < 0)
			return ING_JCS_ENUMBER;
		return ing_buf_puts(b, num) == 0 ? ING_JCS_OK :
		    ING_JCS_ENOMEM;
	case json_type_string:
		return put_string(b, json_object_get_string(obj),
		    (size_t)json_object_get_string_len(obj));
	case json_type_array:
		return put_array(b, obj);
	case json_type_object:
		return put_object(b, obj);
	}
	return ING_JCS_EPARSE;
}

enum ing_jcs_err ing_jcs_from_object(struct json_object *obj, char **out,
    size_t *outlen)
{
	struct ing_buf b;
	enum ing_jcs_err err;

	*out = NULL;
	*outlen = 0;
	ing_buf_init(&b);
	err = put_value(&b, obj);
	if (err != ING_JCS_OK) {
		ing_buf_free(&b);
		return err;
	}
	*out = ing_buf_take(&b, outlen);
	return *out != NULL ? ING_JCS_OK : ING_JCS_ENOMEM;
}

enum ing_jcs_err ing_jcs_canonicalize(const char *json, size_t len, char **out,
    size_t *outlen)
{
	struct json_object *obj;
	enum ing_jcs_err err;

	*out = NULL;
	*outlen = 0;
	if (json != NULL && has_lone_surrogate(json, len))
		return ING_JCS_EPARSE;
	err = ing_json_parse(json, len, &obj);
	if (err != ING_JCS_OK)
		return err;
	err = ing_jcs_from_object(obj, out, outlen);
	json_object_put(obj);
	return err;
}
